package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/parjarm/parjarm/internal/certtest"
	"github.com/parjarm/parjarm/tlsauth"
)

// certUpstream is a legacy server that publishes mTLS metadata and records
// the headers its token endpoint and a pass-through path receive.
type certUpstream struct {
	srv *httptest.Server
	mu  sync.Mutex
	got map[string]http.Header // by path
}

func newCertUpstream(t *testing.T, issuer string) *certUpstream {
	t.Helper()
	u := &certUpstream{got: map[string]http.Header{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": issuer, "authorization_endpoint": issuer + "/auth", "token_endpoint": issuer + "/token",
			"jwks_uri": issuer + "/jwks", "response_types_supported": []string{"code"},
			"token_endpoint_auth_methods_supported":      []string{"private_key_jwt", "tls_client_auth"},
			"tls_client_certificate_bound_access_tokens": true,
			"mtls_endpoint_aliases":                      map[string]any{"token_endpoint": "https://matls.upstream.example/token"},
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, `{"keys":[]}`) })
	record := func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.got[r.URL.Path] = r.Header.Clone()
		u.mu.Unlock()
		_, _ = io.WriteString(w, `{}`)
	}
	mux.HandleFunc("/token", record)
	mux.HandleFunc("/hello", record)
	u.srv = httptest.NewServer(mux)
	t.Cleanup(u.srv.Close)
	return u
}

func (u *certUpstream) headers(path string) http.Header {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.got[path]
}

// pki is the tests' certificates: the listener's, and clients' under a
// client CA, under another CA, and self-signed.
type pki struct {
	serverCA, clientCA, otherCA *certtest.Cert
	server                      *certtest.Cert
	dn, dns, uri, ip, email     *certtest.Cert // one per tls_client_auth_* field
	self, otherSelf             *certtest.Cert
	wrongSubject, wrongDNS      *certtest.Cert
	untrusted, expired          *certtest.Cert
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	p := &pki{serverCA: certtest.NewCA(t, "server CA"), clientCA: certtest.NewCA(t, "client CA"), otherCA: certtest.NewCA(t, "other CA")}
	p.server = p.serverCA.Issue(t, certtest.Options{Server: true, Subject: pkix.Name{CommonName: "gateway"},
		IPs: []string{"127.0.0.1"}, DNSNames: []string{"localhost"}})
	bank := pkix.Name{CommonName: "dn-app", Organization: []string{"Bank, Inc."}, Country: []string{"GB"}}
	p.dn = p.clientCA.Issue(t, certtest.Options{Subject: bank})
	p.dns = p.clientCA.Issue(t, certtest.Options{Subject: pkix.Name{CommonName: "dns"}, DNSNames: []string{"client.dns.example"}})
	p.uri = p.clientCA.Issue(t, certtest.Options{Subject: pkix.Name{CommonName: "uri"}, URIs: []string{"https://uri.example/client"}})
	p.ip = p.clientCA.Issue(t, certtest.Options{Subject: pkix.Name{CommonName: "ip"}, IPs: []string{"192.0.2.7"}})
	p.email = p.clientCA.Issue(t, certtest.Options{Subject: pkix.Name{CommonName: "email"}, Emails: []string{"client@Email.example"}})
	p.self = certtest.SelfSigned(t, certtest.Options{Subject: pkix.Name{CommonName: "self-app"}})
	p.otherSelf = certtest.SelfSigned(t, certtest.Options{Subject: pkix.Name{CommonName: "self-app"}})
	p.wrongSubject = p.clientCA.Issue(t, certtest.Options{Subject: pkix.Name{CommonName: "dn-app", Organization: []string{"Other Bank"}, Country: []string{"GB"}}})
	p.wrongDNS = p.clientCA.Issue(t, certtest.Options{Subject: pkix.Name{CommonName: "dns"}, DNSNames: []string{"client.dns.example.evil"}})
	p.untrusted = p.otherCA.Issue(t, certtest.Options{Subject: bank})
	p.expired = p.clientCA.Issue(t, certtest.Options{Subject: pkix.Name{CommonName: "dns"}, DNSNames: []string{"client.dns.example"},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
	return p
}

// clientsFile registers one client per mTLS method and field.
func (p *pki) clientsFile(t *testing.T) string {
	t.Helper()
	jwks := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: p.self.Key.Public(), KeyID: "self", Certificates: []*x509.Certificate{p.self.Cert}}}}
	jb, err := json.Marshal(jwks)
	if err != nil {
		t.Fatal(err)
	}
	c := func(id, method, extra string) string {
		return fmt.Sprintf(`{"client_id":%q,"token_endpoint_auth_method":%q,"redirect_uris":["https://app.example/cb"]%s}`, id, method, extra)
	}
	clients := []string{
		// The certificate's subject is C=GB, O=Bank, Inc., CN=dn-app in DER
		// order, which RFC 4514 writes last RDN first. It is registered in
		// another case and spacing: compared as a DN, not as a string.
		c("dn-app", "tls_client_auth", `,"tls_client_auth_subject_dn":"cn=DN-App,  o=BANK\\, INC. , c=gb"`),
		c("dns-app", "tls_client_auth", `,"tls_client_auth_san_dns":"client.dns.example"`),
		c("uri-app", "tls_client_auth", `,"tls_client_auth_san_uri":"https://uri.example/client"`),
		c("ip-app", "tls_client_auth", `,"tls_client_auth_san_ip":"192.0.2.7"`),
		c("email-app", "tls_client_auth", `,"tls_client_auth_san_email":"client@email.example"`),
		c("self-app", "self_signed_tls_client_auth", `,"jwks":`+string(jb)),
	}
	return writeFile(t, "clients.json", `{"clients":[`+strings.Join(clients, ",")+`]}`)
}

// mtlsClient is an HTTPS client that trusts the listener and presents cert
// (none when nil).
func (p *pki) mtlsClient(cert *certtest.Cert) *http.Client {
	tc := &tls.Config{RootCAs: certtest.Pool(p.serverCA)}
	if cert != nil {
		tc.Certificates = []tls.Certificate{cert.TLS()}
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: tc}, Timeout: 10 * time.Second}
}

// push POSTs a pushed authorization request for clientID and returns the
// status and the error code.
func push(t *testing.T, hc *http.Client, parURL, clientID string, header http.Header) (int, string) {
	t.Helper()
	form := url.Values{"client_id": {clientID}, "response_type": {"code"}, "redirect_uri": {"https://app.example/cb"}, "scope": {"openid"}}
	status, code, _ := pushForm(t, hc, parURL, form, header)
	return status, code
}

// pushForm POSTs form as a pushed authorization request and returns the
// status, the error code and the request_uri.
func pushForm(t *testing.T, hc *http.Client, parURL string, form url.Values, header http.Header) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, parURL, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Error      string `json:"error"`
		RequestURI string `json:"request_uri"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode == http.StatusCreated && body.RequestURI == "" {
		t.Errorf("201 without a request_uri")
	}
	return resp.StatusCode, body.Error, body.RequestURI
}

func TestMutualTLSAtThePAREndpoint(t *testing.T) {
	p := newPKI(t)
	listen := freeAddr(t)
	issuer := "https://" + listen
	_, port, _ := net.SplitHostPort(listen)
	// The mTLS alias host (RFC 8705, section 5) is localhost: only there
	// are clients asked for certificates.
	mtlsOrigin := "https://localhost:" + port
	mtlsBase := mtlsOrigin + "/mtls"
	up := newCertUpstream(t, issuer)
	startGateway(t, map[string]string{
		"PARJARM_UPSTREAM_URL": up.srv.URL, "PARJARM_ISSUER": issuer, "PARJARM_LISTEN_ADDR": listen,
		"PARJARM_CLIENTS_FILE":                p.clientsFile(t),
		"PARJARM_TLS_CERT_FILE":               writeFile(t, "tls.crt", string(p.server.CertPEM)),
		"PARJARM_TLS_KEY_FILE":                writeFile(t, "tls.key", string(p.server.KeyPEM)),
		"PARJARM_TLS_CLIENT_CA_FILE":          writeFile(t, "ca.pem", string(p.clientCA.CertPEM)),
		"PARJARM_MTLS_PUBLIC_URL":             mtlsBase,
		"PARJARM_UPSTREAM_CLIENT_CERT_HEADER": "X-Client-Cert",
	})
	parURL := mtlsBase + "/par"

	tests := []struct {
		name       string
		cert       *certtest.Cert
		client     string
		wantStatus int
		wantError  string
	}{
		{"tls_client_auth by subject DN succeeds", p.dn, "dn-app", 201, ""},
		{"tls_client_auth by SAN dNSName succeeds", p.dns, "dns-app", 201, ""},
		{"tls_client_auth by SAN URI succeeds", p.uri, "uri-app", 201, ""},
		{"tls_client_auth by SAN IP address succeeds", p.ip, "ip-app", 201, ""},
		{"tls_client_auth by SAN email succeeds", p.email, "email-app", 201, ""},
		{"self_signed_tls_client_auth with the registered certificate succeeds", p.self, "self-app", 201, ""},
		{"a subject DN with another O is refused", p.wrongSubject, "dn-app", 401, "invalid_client"},
		{"a SAN dNSName that only starts like the registered one is refused", p.wrongDNS, "dns-app", 401, "invalid_client"},
		{"the right subject under an untrusted CA is refused", p.untrusted, "dn-app", 401, "invalid_client"},
		{"no certificate is refused", nil, "dn-app", 401, "invalid_client"},
		{"no certificate for a self-signed client is refused", nil, "self-app", 401, "invalid_client"},
		{"another client's certificate is refused", p.dns, "dn-app", 401, "invalid_client"},
		{"a PKI certificate for a self-signed client is refused", p.dn, "self-app", 401, "invalid_client"},
		{"another self-signed certificate with the same subject is refused", p.otherSelf, "self-app", 401, "invalid_client"},
		{"a self-signed certificate for a PKI client is refused", p.self, "dn-app", 401, "invalid_client"},
		{"an expired certificate is refused", p.expired, "dns-app", 401, "invalid_client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, code := push(t, p.mtlsClient(tt.cert), parURL, tt.client, nil)
			if status != tt.wantStatus || code != tt.wantError {
				t.Fatalf("push = %d %q, want %d %q", status, code, tt.wantStatus, tt.wantError)
			}
		})
	}

	t.Run("discovery publishes the PAR alias and a client that follows it authenticates there", func(t *testing.T) {
		resp, err := p.mtlsClient(nil).Get(issuer + "/.well-known/openid-configuration")
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Aliases map[string]string `json:"mtls_endpoint_aliases"`
			Bound   bool              `json:"tls_client_certificate_bound_access_tokens"`
			Methods []string          `json:"token_endpoint_auth_methods_supported"`
		}
		err = json.NewDecoder(resp.Body).Decode(&doc)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		alias := doc.Aliases["pushed_authorization_request_endpoint"]
		if alias != mtlsBase+"/par" {
			t.Fatalf("mtls_endpoint_aliases = %v, want the PAR alias %s", doc.Aliases, mtlsBase+"/par")
		}
		if doc.Aliases["token_endpoint"] != "https://matls.upstream.example/token" {
			t.Errorf("the upstream's token_endpoint alias was lost: %v", doc.Aliases)
		}
		if !doc.Bound || strings.Join(doc.Methods, ",") != "private_key_jwt,tls_client_auth" {
			t.Errorf("upstream metadata not passed through: bound %v, methods %v", doc.Bound, doc.Methods)
		}
		if alias != parURL {
			t.Fatalf("the alias %s is not the URL the cases above used", alias)
		}
		if status, code := push(t, p.mtlsClient(p.dn), alias, "dn-app", nil); status != 201 {
			t.Fatalf("push at the alias = %d %q, want 201", status, code)
		}
		if status, code := push(t, p.mtlsClient(p.untrusted), alias, "dn-app", nil); status != 401 || code != "invalid_client" {
			t.Fatalf("push at the alias with an untrusted certificate = %d %q, want 401 invalid_client", status, code)
		}
	})

	t.Run("the token request reaches the upstream with the client's certificate", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, mtlsOrigin+"/token", strings.NewReader("grant_type=authorization_code&client_id=dn-app"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Client-Cert", ":"+base64.StdEncoding.EncodeToString(p.untrusted.Cert.Raw)+":")
		resp, err := p.mtlsClient(p.dn).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got := up.headers("/token").Values("X-Client-Cert")
		want := ":" + base64.StdEncoding.EncodeToString(p.dn.Cert.Raw) + ":"
		if len(got) != 1 || got[0] != want {
			t.Fatalf("upstream X-Client-Cert = %q, want the TLS client certificate alone", got)
		}
	})

	// The listener requests certificates without verifying them: only one
	// the gateway checked goes upstream, so a legacy server that trusts its
	// load balancer's header is never handed a forged client identity.
	for _, tc := range []struct {
		name string
		cert *certtest.Cert
		want bool
	}{
		{"a registered self-signed certificate is passed on", p.self, true},
		{"a self-signed certificate nobody registered is not", p.otherSelf, false},
		{"a certificate of another CA is not", p.untrusted, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, mtlsOrigin+"/token", strings.NewReader("grant_type=refresh_token&refresh_token=r&client_id=dn-app"))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := p.mtlsClient(tc.cert).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			got := up.headers("/token").Values("X-Client-Cert")
			if want := ":" + base64.StdEncoding.EncodeToString(tc.cert.Cert.Raw) + ":"; tc.want && (len(got) != 1 || got[0] != want) {
				t.Fatalf("upstream X-Client-Cert = %q, want the certificate", got)
			} else if !tc.want && len(got) != 0 {
				t.Fatalf("upstream X-Client-Cert = %q, want none: nobody checked it", got)
			}
		})
	}

	t.Run("a client's own copy of the upstream header is removed when it shows no certificate", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, issuer+"/hello", nil)
		req.Header.Set("X-Client-Cert", ":"+base64.StdEncoding.EncodeToString(p.dn.Cert.Raw)+":")
		req.Header.Set("X_Client_Cert", "forged")
		resp, err := p.mtlsClient(nil).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		h := up.headers("/hello")
		if h == nil {
			t.Fatal("the upstream saw no request")
		}
		if v := h.Values("X-Client-Cert"); len(v) != 0 {
			t.Fatalf("upstream X-Client-Cert = %q, want none", v)
		}
		if v := h.Values("X_Client_Cert"); len(v) != 0 {
			t.Fatalf("upstream X_Client_Cert = %q, want none", v)
		}
	})

	t.Run("on the public host no certificate is asked for, so an mTLS client cannot authenticate there", func(t *testing.T) {
		asked := false
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: certtest.Pool(p.serverCA),
			GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
				asked = true
				c := p.dn.TLS()
				return &c, nil
			}}}}
		if status, code := push(t, hc, issuer+"/par", "dn-app", nil); status != 401 || code != "invalid_client" {
			t.Fatalf("push on the public host = %d %q, want 401 invalid_client", status, code)
		}
		if asked {
			t.Fatal("the public host asked for a client certificate (a browser would show a picker)")
		}
	})

	t.Run("TLS 1.1 is refused", func(t *testing.T) {
		conn, err := tls.Dial("tcp", listen, &tls.Config{RootCAs: certtest.Pool(p.serverCA), MaxVersion: tls.VersionTLS11})
		if err == nil {
			conn.Close()
			t.Fatal("a TLS 1.1 handshake succeeded")
		}
	})
	t.Run("a TLS 1.2 cipher suite FAPI does not permit is refused", func(t *testing.T) {
		conn, err := tls.Dial("tcp", listen, &tls.Config{RootCAs: certtest.Pool(p.serverCA), MaxVersion: tls.VersionTLS12,
			CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256}})
		if err == nil {
			conn.Close()
			t.Fatal("a handshake with a non-FAPI suite succeeded")
		}
		conn, err = tls.Dial("tcp", listen, &tls.Config{RootCAs: certtest.Pool(p.serverCA), MaxVersion: tls.VersionTLS12,
			CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384}})
		if err != nil {
			t.Fatalf("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: %v", err)
		}
		conn.Close()
	})
}

// TestClientCertificateHeaderFromATrustedProxy runs the gateway behind a TLS
// terminator at 127.0.0.2: its header authenticates; the same header from
// 127.0.0.1 is removed before anything reads it and never reaches the
// upstream.
func TestClientCertificateHeaderFromATrustedProxy(t *testing.T) {
	p := newPKI(t)
	for _, format := range tlsauth.Formats {
		t.Run(string(format), func(t *testing.T) {
			listen := freeAddr(t)
			issuer := "http://" + listen
			up := newCertUpstream(t, issuer)
			header := map[tlsauth.Format]string{tlsauth.FormatRFC9440: "Client-Cert", tlsauth.FormatNginx: "X-SSL-Client-Cert", tlsauth.FormatEnvoy: "X-Forwarded-Client-Cert"}[format]
			startGateway(t, map[string]string{
				"PARJARM_UPSTREAM_URL": up.srv.URL, "PARJARM_ISSUER": issuer, "PARJARM_LISTEN_ADDR": listen,
				"PARJARM_ALLOW_INSECURE_HTTP": "true",
				"PARJARM_CLIENTS_FILE":        p.clientsFile(t),
				"PARJARM_TLS_CLIENT_CA_FILE":  writeFile(t, "ca.pem", string(p.clientCA.CertPEM)),
				"PARJARM_CLIENT_CERT_HEADER":  header, "PARJARM_CLIENT_CERT_HEADER_FORMAT": string(format),
				"PARJARM_TRUSTED_PROXIES": "127.0.0.2/32",
			})
			encode := func(c *certtest.Cert) http.Header {
				v, _ := tlsauth.Encode(format, c.Chain())
				return http.Header{header: {v}}
			}
			fromProxy := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}).DialContext}}
			direct := &http.Client{}

			if status, code := push(t, fromProxy, issuer+"/par", "dn-app", encode(p.dn)); status != 201 {
				t.Fatalf("from the trusted proxy: %d %q, want 201", status, code)
			}
			if status, code := push(t, fromProxy, issuer+"/par", "self-app", encode(p.self)); status != 201 {
				t.Fatalf("self-signed from the trusted proxy: %d %q, want 201", status, code)
			}
			if status, code := push(t, fromProxy, issuer+"/par", "dn-app", encode(p.untrusted)); status != 401 || code != "invalid_client" {
				t.Fatalf("an untrusted chain from the trusted proxy: %d %q, want 401 invalid_client", status, code)
			}
			if status, code := push(t, fromProxy, issuer+"/par", "dn-app", http.Header{header: {"garbage"}}); status != 401 || code != "invalid_client" {
				t.Fatalf("a malformed header from the trusted proxy: %d %q, want 401 invalid_client", status, code)
			}
			if status, code := push(t, direct, issuer+"/par", "dn-app", encode(p.dn)); status != 401 || code != "invalid_client" {
				t.Fatalf("the header from another peer: %d %q, want 401 invalid_client", status, code)
			}
			req, _ := http.NewRequest(http.MethodGet, issuer+"/hello", nil)
			req.Header = encode(p.dn)
			req.Header.Set(strings.ReplaceAll(header, "-", "_"), "forged")
			resp, err := direct.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			for k := range up.headers("/hello") {
				if strings.EqualFold(strings.ReplaceAll(k, "_", "-"), header) {
					t.Fatalf("the upstream received %s from an untrusted peer", k)
				}
			}
		})
	}
}

func TestRunRefusesUnreadableTLSFiles(t *testing.T) {
	p := newPKI(t)
	cert := writeFile(t, "tls.crt", string(p.server.CertPEM))
	key := writeFile(t, "tls.key", string(p.server.KeyPEM))
	otherKey := writeFile(t, "other.key", string(p.dn.KeyPEM))
	tests := []struct {
		name    string
		env     map[string]string
		wantVar string
	}{
		{"a missing certificate file", map[string]string{"PARJARM_TLS_CERT_FILE": "/nonexistent/tls.crt", "PARJARM_TLS_KEY_FILE": key}, "PARJARM_TLS_CERT_FILE"},
		{"a key that is not the certificate's", map[string]string{"PARJARM_TLS_CERT_FILE": cert, "PARJARM_TLS_KEY_FILE": otherKey}, "PARJARM_TLS_CERT_FILE"},
		{"a client CA file without certificates", map[string]string{"PARJARM_TLS_CERT_FILE": cert, "PARJARM_TLS_KEY_FILE": key,
			"PARJARM_TLS_CLIENT_CA_FILE": writeFile(t, "ca.pem", "not PEM")}, "PARJARM_TLS_CLIENT_CA_FILE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.env["PARJARM_UPSTREAM_URL"] = "http://127.0.0.1:1"
			var out syncBuffer
			err := run(context.Background(), []string{"check"}, tt.env, &out)
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantVar+": ") {
				t.Fatalf("err = %v, want one starting with %s", err, tt.wantVar)
			}
			if strings.Contains(err.Error(), "PRIVATE KEY") {
				t.Fatalf("the error shows key material: %v", err)
			}
		})
	}
}
