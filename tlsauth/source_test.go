package tlsauth_test

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/parjarm/parjarm/internal/certtest"
	"github.com/parjarm/parjarm/tlsauth"
)

func TestSourceBelievesTheHeaderOnlyFromTrustedProxies(t *testing.T) {
	client := certtest.SelfSigned(t, certtest.Options{Subject: pkix.Name{CommonName: "client"}})
	proxyCert := certtest.SelfSigned(t, certtest.Options{Subject: pkix.Name{CommonName: "proxy"}})
	v, _ := tlsauth.Encode(tlsauth.FormatNginx, client.Chain())
	src := &tlsauth.Source{Header: "X-SSL-Client-Cert", Format: tlsauth.FormatNginx,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}

	tests := []struct {
		name       string
		remote     string
		header     http.Header
		tlsPeer    *certtest.Cert
		want       *certtest.Cert
		wantHeader bool // the header is still on the request
	}{
		{"a trusted proxy's header is the client's certificate", "10.1.2.3:5000", http.Header{"X-Ssl-Client-Cert": {v}}, nil, client, true},
		{"a trusted proxy's own TLS certificate is not the client's", "10.1.2.3:5000", http.Header{"X-Ssl-Client-Cert": {v}}, proxyCert, client, true},
		{"a trusted proxy without the header means no certificate", "10.1.2.3:5000", nil, proxyCert, nil, false},
		{"another peer's header is removed and ignored", "192.0.2.1:5000", http.Header{"X-Ssl-Client-Cert": {v}, "X_ssl_client_cert": {v}}, nil, nil, false},
		{"another peer's TLS certificate is its own", "192.0.2.1:5000", http.Header{"X-Ssl-Client-Cert": {v}}, client, client, false},
		{"an IPv4-mapped trusted address is trusted", "[::ffff:10.0.0.1]:5000", http.Header{"X-Ssl-Client-Cert": {v}}, nil, client, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tt.remote
			r.Header = tt.header.Clone()
			if r.Header == nil {
				r.Header = http.Header{}
			}
			if tt.tlsPeer != nil {
				r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{tt.tlsPeer.Cert}}
			}
			var got []*x509.Certificate
			var seen http.Header
			src.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got, seen = tlsauth.Chain(r.Context()), r.Header
			})).ServeHTTP(httptest.NewRecorder(), r)
			switch {
			case tt.want == nil && got != nil:
				t.Fatalf("chain of %d certificates, want none", len(got))
			case tt.want != nil && (len(got) == 0 || !got[0].Equal(tt.want.Cert)):
				t.Fatalf("chain %v, want %s", got, tt.want.Cert.Subject)
			}
			has := false
			for k := range seen {
				if k == "X-Ssl-Client-Cert" || k == "X_ssl_client_cert" {
					has = true
				}
			}
			if has != tt.wantHeader {
				t.Fatalf("header on the request = %v, want %v", has, tt.wantHeader)
			}
		})
	}
}

func TestSourceReportsAMalformedHeader(t *testing.T) {
	var reported error
	src := &tlsauth.Source{Header: "Client-Cert", Format: tlsauth.FormatRFC9440,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		OnMalformed:    func(_ *http.Request, err error) { reported = err }}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "127.0.0.1:1"
	r.Header.Set("Client-Cert", ":AAAA:")
	var got []*x509.Certificate
	src.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = tlsauth.Chain(r.Context()) })).ServeHTTP(httptest.NewRecorder(), r)
	if got != nil || reported == nil {
		t.Fatalf("chain %v, reported %v; want none and a report", got, reported)
	}
}
