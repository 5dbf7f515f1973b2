package client_test

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/parjarm/parjarm/client"
	"github.com/parjarm/parjarm/internal/certtest"
	"github.com/parjarm/parjarm/oauth"
	"github.com/parjarm/parjarm/tlsauth"
)

func TestNewRegistryChecksMutualTLSMetadata(t *testing.T) {
	self := certtest.SelfSigned(t, certtest.Options{Subject: pkix.Name{CommonName: "self"}})
	pki := func() *client.Client {
		return &client.Client{ID: "bank-app", TokenEndpointAuthMethod: client.AuthTLSClient,
			TLSClientAuthSANDNS: "app.bank.example", RedirectURIs: []string{"https://bank.example/cb"}}
	}
	selfSigned := func() *client.Client {
		return &client.Client{ID: "bank-app", TokenEndpointAuthMethod: client.AuthSelfSignedTLSClient, RedirectURIs: []string{"https://bank.example/cb"},
			JWKS: &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: self.Key.Public(), Certificates: []*x509.Certificate{self.Cert}}}}}
	}
	tests := []struct {
		name, field, detail string
		client              *client.Client
	}{
		{"tls_client_auth without a tls_client_auth_* value is refused", "tls_client_auth_subject_dn", "exactly one", with(pki(), func(c *client.Client) { c.TLSClientAuthSANDNS = "" })},
		{"tls_client_auth with two values is refused", "tls_client_auth_subject_dn", "2 are set", with(pki(), func(c *client.Client) { c.TLSClientAuthSANURI = "https://x.example" })},
		{"a subject DN that does not parse is refused", "tls_client_auth_subject_dn", "not an RFC 4514", with(pki(), func(c *client.Client) { c.TLSClientAuthSANDNS, c.TLSClientAuthSubjectDN = "", "CN=a,bogus" })},
		{"a SAN IP that is no address is refused", "tls_client_auth_san_ip", "not an IPv4 or IPv6", with(pki(), func(c *client.Client) { c.TLSClientAuthSANDNS, c.TLSClientAuthSANIP = "", "10.0.0.300" })},
		{"a relative SAN URI is refused", "tls_client_auth_san_uri", "absolute", with(pki(), func(c *client.Client) { c.TLSClientAuthSANDNS, c.TLSClientAuthSANURI = "", "/client" })},
		{"a SAN email without @ is refused", "tls_client_auth_san_email", "not an email", with(pki(), func(c *client.Client) { c.TLSClientAuthSANDNS, c.TLSClientAuthSANEmail = "", "client" })},
		{"a tls_client_auth_* value on another method is refused", "tls_client_auth_san_dns", "tls_client_auth only", with(pki(), func(c *client.Client) { c.TokenEndpointAuthMethod, c.Secret = client.AuthSecretBasic, "s" })},
		{"self_signed_tls_client_auth without keys is refused", "jwks", "needs jwks or jwks_uri", with(selfSigned(), func(c *client.Client) { c.JWKS = nil })},
		{"self_signed_tls_client_auth with keys without x5c is refused", "jwks", "x5c", with(selfSigned(), func(c *client.Client) {
			c.JWKS = &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: self.Key.Public()}}}
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := client.NewRegistry(tt.client)
			if err == nil {
				t.Fatal("NewRegistry succeeded, want an error")
			}
			if want := `client "bank-app": ` + tt.field + ": "; !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), tt.detail) {
				t.Errorf("error %q does not contain %q and %q", err, want, tt.detail)
			}
		})
	}
	for _, c := range []*client.Client{pki(), selfSigned(), with(selfSigned(), func(c *client.Client) { c.JWKS, c.JWKSURI = nil, "https://bank.example/jwks" })} {
		if _, err := client.NewRegistry(c); err != nil {
			t.Errorf("a valid %s client was refused: %v", c.TokenEndpointAuthMethod, err)
		}
	}
}

func TestAuthenticateWithAClientCertificate(t *testing.T) {
	ca, otherCA := certtest.NewCA(t, "client CA"), certtest.NewCA(t, "other CA")
	inter := ca.Issue(t, certtest.Options{CA: true, Subject: pkix.Name{CommonName: "issuing CA"}})
	subject := pkix.Name{CommonName: "app", Organization: []string{"Bank"}, Country: []string{"DE"}}
	viaInter := inter.Issue(t, certtest.Options{Subject: subject})
	direct := ca.Issue(t, certtest.Options{Subject: subject})
	self := certtest.SelfSigned(t, certtest.Options{Subject: pkix.Name{CommonName: "self"}})
	serverOnly := ca.Issue(t, certtest.Options{Subject: subject, Server: true})
	notYet := ca.Issue(t, certtest.Options{Subject: subject, NotBefore: time.Now().Add(time.Hour), NotAfter: time.Now().Add(2 * time.Hour)})
	reg, err := client.NewRegistry(
		&client.Client{ID: "pki", TokenEndpointAuthMethod: client.AuthTLSClient, TLSClientAuthSubjectDN: "CN=app,O=Bank,C=DE", RedirectURIs: []string{"https://a.example/cb"}},
		&client.Client{ID: "self", TokenEndpointAuthMethod: client.AuthSelfSignedTLSClient, RedirectURIs: []string{"https://a.example/cb"},
			JWKS: &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: self.Key.Public(), Certificates: []*x509.Certificate{self.Cert}}}}},
	)
	if err != nil {
		t.Fatal(err)
	}
	a := &client.Authenticator{Registry: reg, ClientCAs: certtest.Pool(ca)}

	tests := []struct {
		name     string
		chain    []*x509.Certificate
		form     url.Values
		auth     string
		wantErr  *oauth.Error
		wantDesc string
	}{
		{"a certificate under an intermediate with its chain succeeds", viaInter.Chain(), url.Values{"client_id": {"pki"}}, "", nil, ""},
		{"a certificate issued by the root succeeds", direct.Chain(), url.Values{"client_id": {"pki"}}, "", nil, ""},
		{"a registered self-signed certificate succeeds", self.Chain(), url.Values{"client_id": {"self"}}, "", nil, ""},
		{"a certificate under an intermediate without the chain is refused", viaInter.Chain()[:1], url.Values{"client_id": {"pki"}}, "", oauth.ErrInvalidClient, "client authentication failed"},
		{"a certificate under another CA is refused", otherCA.Issue(t, certtest.Options{Subject: subject}).Chain(), url.Values{"client_id": {"pki"}}, "", oauth.ErrInvalidClient, "client authentication failed"},
		{"a certificate without the client auth EKU is refused", serverOnly.Chain(), url.Values{"client_id": {"pki"}}, "", oauth.ErrInvalidClient, "client authentication failed"},
		{"a certificate not valid yet is refused", notYet.Chain(), url.Values{"client_id": {"pki"}}, "", oauth.ErrInvalidClient, "client authentication failed"},
		{"no certificate is refused", nil, url.Values{"client_id": {"pki"}}, "", oauth.ErrInvalidClient, "client authentication failed"},
		{"no client_id is refused", direct.Chain(), url.Values{}, "", oauth.ErrInvalidClient, "client authentication required"},
		{"a secret for an mTLS client is refused", direct.Chain(), nil, basic("pki", "x"), oauth.ErrInvalidClient, "client authentication failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := tlsauth.WithChain(context.Background(), tt.chain)
			c, m, err := a.Authenticate(ctx, tt.auth, tt.form)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Authenticate: %v", err)
				}
				if c.ID != tt.form.Get("client_id") || string(m) != c.TokenEndpointAuthMethod {
					t.Fatalf("Authenticate = %q, %q", c.ID, m)
				}
				return
			}
			var oe *oauth.Error
			if !errors.As(err, &oe) || oe.Code != tt.wantErr.Code || oe.Status != http.StatusUnauthorized || oe.Description != tt.wantDesc {
				t.Fatalf("Authenticate error = %v, want %s (401) %q", err, tt.wantErr.Code, tt.wantDesc)
			}
		})
	}

	t.Run("tls_client_auth without a client CA is refused", func(t *testing.T) {
		noCA := &client.Authenticator{Registry: reg}
		_, _, err := noCA.Authenticate(tlsauth.WithChain(context.Background(), direct.Chain()), "", url.Values{"client_id": {"pki"}})
		var oe *oauth.Error
		if !errors.As(err, &oe) || oe.Code != "invalid_client" || oe.Status != 401 {
			t.Fatalf("err = %v, want invalid_client", err)
		}
	})
}
