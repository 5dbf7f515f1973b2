package client

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/parjarm/parjarm/oauth"
	"github.com/parjarm/parjarm/tlsauth"
)

// Mutual-TLS client authentication methods (RFC 8705, section 2).
const (
	// AuthTLSClient is PKI mutual-TLS: a certificate that chains to the
	// client CA and names the client (RFC 8705, section 2.1).
	AuthTLSClient = "tls_client_auth"
	// AuthSelfSignedTLSClient is a certificate the client registered in its
	// jwks or jwks_uri (RFC 8705, section 2.2).
	AuthSelfSignedTLSClient = "self_signed_tls_client_auth"
)

// usesMTLS reports whether c authenticates with a client certificate.
func (c *Client) usesMTLS() bool {
	return c.TokenEndpointAuthMethod == AuthTLSClient || c.TokenEndpointAuthMethod == AuthSelfSignedTLSClient
}

// tlsClientAuthFields are the RFC 8705, section 2.1.2 metadata of c, by
// name: exactly one is set for tls_client_auth.
func (c *Client) tlsClientAuthFields() []struct{ name, value string } {
	return []struct{ name, value string }{
		{"tls_client_auth_subject_dn", c.TLSClientAuthSubjectDN},
		{"tls_client_auth_san_dns", c.TLSClientAuthSANDNS},
		{"tls_client_auth_san_uri", c.TLSClientAuthSANURI},
		{"tls_client_auth_san_ip", c.TLSClientAuthSANIP},
		{"tls_client_auth_san_email", c.TLSClientAuthSANEmail},
	}
}

// validateMTLS checks the mutual-TLS metadata (RFC 8705, section 2.1.2):
// tls_client_auth needs exactly one tls_client_auth_* value, in a form that
// parses; self_signed_tls_client_auth needs jwks or jwks_uri, and inline
// jwks need a key with x5c; other methods take none of them.
func validateMTLS(c *Client, p *problems) {
	var set []string
	for _, f := range c.tlsClientAuthFields() {
		if f.value != "" {
			set = append(set, f.name)
		}
	}
	switch c.TokenEndpointAuthMethod {
	case AuthTLSClient:
		if len(set) != 1 {
			p.add("tls_client_auth_subject_dn", "tls_client_auth needs exactly one of tls_client_auth_subject_dn, _san_dns, _san_uri, _san_ip, _san_email (RFC 8705, section 2.1.2); %d are set", len(set))
		}
	default:
		for _, name := range set {
			p.add(name, "is for token_endpoint_auth_method %s only", AuthTLSClient)
		}
	}
	if c.TLSClientAuthSubjectDN != "" {
		if _, err := parseDN(c.TLSClientAuthSubjectDN); err != nil {
			p.add("tls_client_auth_subject_dn", "%q is not an RFC 4514 distinguished name: %v", c.TLSClientAuthSubjectDN, err)
		}
	}
	if v := c.TLSClientAuthSANIP; v != "" {
		if _, err := netip.ParseAddr(v); err != nil {
			p.add("tls_client_auth_san_ip", "%q is not an IPv4 or IPv6 address", v)
		}
	}
	if v := c.TLSClientAuthSANURI; v != "" {
		if u, err := url.Parse(v); err != nil || !u.IsAbs() {
			p.add("tls_client_auth_san_uri", "%q is not an absolute URI", v)
		}
	}
	if v := c.TLSClientAuthSANEmail; v != "" {
		if local, domain, ok := strings.Cut(v, "@"); !ok || local == "" || domain == "" {
			p.add("tls_client_auth_san_email", "%q is not an email address", v)
		}
	}
	if c.TokenEndpointAuthMethod == AuthSelfSignedTLSClient {
		switch {
		case c.JWKS == nil && c.JWKSURI == "":
			p.add("jwks", "self_signed_tls_client_auth needs jwks or jwks_uri holding the certificate in x5c (RFC 8705, section 2.2.2)")
		case c.JWKS != nil && !hasX5C(c.JWKS.Keys):
			p.add("jwks", "self_signed_tls_client_auth needs a key with the certificate in x5c (RFC 8705, section 2.2.2)")
		}
	}
}

// mtls authenticates c by the client certificate of ctx (RFC 8705, section
// 2). Every failure reads the same to the client.
func (a *Authenticator) mtls(ctx context.Context, c *Client) (*Client, *oauth.Error) {
	chain := tlsauth.Chain(ctx)
	if len(chain) == 0 {
		return nil, failed(fmt.Sprintf("client %q is registered for %s and presented no certificate", c.ID, c.TokenEndpointAuthMethod))
	}
	leaf, now := chain[0], a.now()
	// The certificate's validity period is checked for both methods: an
	// expired certificate is refused even when it is registered.
	if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		return nil, failed(fmt.Sprintf("client %q: the certificate is outside its validity period", c.ID))
	}
	if c.TokenEndpointAuthMethod == AuthSelfSignedTLSClient {
		return a.selfSigned(ctx, c, leaf)
	}
	if a.ClientCAs == nil {
		return nil, failed(fmt.Sprintf("client %q: tls_client_auth needs a client CA (PARJARM_TLS_CLIENT_CA_FILE)", c.ID))
	}
	if err := verifyChain(chain, a.ClientCAs, now); err != nil {
		return nil, failed(fmt.Sprintf("client %q: the certificate chain does not verify: %v", c.ID, err))
	}
	if !matchesClient(c, leaf) {
		return nil, failed(fmt.Sprintf("client %q: the certificate does not carry the registered subject or SAN", c.ID))
	}
	return c, nil
}

// matchesClient compares leaf with the one tls_client_auth_* value c
// registered (RFC 8705, section 2.1.2).
func matchesClient(c *Client, leaf *x509.Certificate) bool {
	switch {
	case c.TLSClientAuthSubjectDN != "":
		want, err := parseDN(c.TLSClientAuthSubjectDN)
		return err == nil && matchDN(want, leaf.RawSubject)
	case c.TLSClientAuthSANDNS != "":
		for _, n := range leaf.DNSNames {
			// DNS names compare without case (RFC 4343).
			if strings.EqualFold(n, c.TLSClientAuthSANDNS) {
				return true
			}
		}
	case c.TLSClientAuthSANURI != "":
		for _, u := range leaf.URIs {
			if u.String() == c.TLSClientAuthSANURI {
				return true
			}
		}
	case c.TLSClientAuthSANIP != "":
		want, err := netip.ParseAddr(c.TLSClientAuthSANIP)
		if err != nil {
			return false
		}
		for _, ip := range leaf.IPAddresses {
			if got, ok := netip.AddrFromSlice(ip); ok && got.Unmap() == want.Unmap() {
				return true
			}
		}
	case c.TLSClientAuthSANEmail != "":
		wl, wd, _ := strings.Cut(c.TLSClientAuthSANEmail, "@")
		for _, e := range leaf.EmailAddresses {
			// The local part is case-sensitive, the domain is not (RFC
			// 5321, section 2.4).
			if l, d, ok := strings.Cut(e, "@"); ok && l == wl && strings.EqualFold(d, wd) {
				return true
			}
		}
	}
	return false
}

// selfSigned implements self_signed_tls_client_auth: leaf must be a
// certificate the client registered, the first x5c of one of its keys
// (RFC 8705, section 2.2). A jwks_uri is fetched again once when nothing
// matches: the client may have rotated its certificate.
func (a *Authenticator) selfSigned(ctx context.Context, c *Client, leaf *x509.Certificate) (*Client, *oauth.Error) {
	keys := a.Keys
	if keys == nil {
		keys = inlineKeys{}
	}
	for attempt := 0; attempt < 2; attempt++ {
		set, err := keys.KeySet(ctx, c)
		if err != nil {
			return nil, oauth.ErrInvalidClient.WithDescription(descFailed).WithCause(fmt.Errorf("client %q keys: %w", c.ID, err))
		}
		for _, k := range set.Keys {
			if len(k.Certificates) > 0 && k.Certificates[0].Equal(leaf) {
				return c, nil
			}
		}
		inv, ok := keys.(invalidator)
		if attempt > 0 || !ok || c.JWKSURI == "" {
			break
		}
		inv.Invalidate(c.JWKSURI)
	}
	return nil, failed(fmt.Sprintf("client %q: the certificate is not one the client registered", c.ID))
}

// hasX5C reports whether a key of keys carries a certificate (x5c).
func hasX5C(keys []jose.JSONWebKey) bool {
	for _, k := range keys {
		if len(k.Certificates) > 0 {
			return true
		}
	}
	return false
}

// verifyChain validates chain, leaf first, against roots for client
// authentication at now (RFC 8705, section 2.1: the chain is validated
// against the trust anchors; the certificate must be for client
// authentication).
func verifyChain(chain []*x509.Certificate, roots *x509.CertPool, now time.Time) error {
	if len(chain) == 0 || roots == nil {
		return errors.New("no certificate or no trust anchors")
	}
	inter := x509.NewCertPool()
	for _, cert := range chain[1:] {
		inter.AddCert(cert)
	}
	_, err := chain[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	return err
}

// VerifiedChain reports whether chain, leaf first, is a client certificate
// the gateway can vouch for at now: it verifies against roots for client
// authentication (tls_client_auth), or its leaf, within its validity
// period, is a certificate a self_signed_tls_client_auth client of reg
// registered inline. Only such a chain is passed to the upstream as the
// client's certificate: an upstream that trusts its load balancer to have
// checked the chain must never receive one that nobody checked.
func VerifiedChain(chain []*x509.Certificate, roots *x509.CertPool, reg interface {
	RegisteredSelfSigned(*x509.Certificate) bool
}, now time.Time) bool {
	if len(chain) == 0 {
		return false
	}
	if roots != nil && verifyChain(chain, roots, now) == nil {
		return true
	}
	leaf := chain[0]
	return reg != nil && !now.Before(leaf.NotBefore) && !now.After(leaf.NotAfter) && reg.RegisteredSelfSigned(leaf)
}

// addSelfSigned records the inline certificates of a
// self_signed_tls_client_auth client.
func (r *Registry) addSelfSigned(c *Client) {
	if c.TokenEndpointAuthMethod != AuthSelfSignedTLSClient || c.JWKS == nil {
		return
	}
	for _, k := range c.JWKS.Keys {
		if len(k.Certificates) > 0 {
			if r.selfSigned == nil {
				r.selfSigned = map[[32]byte]bool{}
			}
			r.selfSigned[sha256.Sum256(k.Certificates[0].Raw)] = true
		}
	}
}

// RegisteredSelfSigned reports whether leaf is a certificate a
// self_signed_tls_client_auth client registered in its inline jwks.
func (r *Registry) RegisteredSelfSigned(leaf *x509.Certificate) bool {
	return leaf != nil && r.selfSigned[sha256.Sum256(leaf.Raw)]
}
