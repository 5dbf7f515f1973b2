package proxy

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"strings"
	"testing"

	"github.com/parjarm/parjarm/internal/certtest"
	"github.com/parjarm/parjarm/tlsauth"
)

func TestEndpointsPublishTheMTLSAliasOfThePAREndpoint(t *testing.T) {
	tests := []struct {
		name              string
		public, mtls      string
		wantAlias         string
		wantOwnRow        bool // served at a path of its own
		wantAliasRoutedTo string
	}{
		{"without an mTLS URL the alias is the PAR endpoint", "https://gw.example", "", "https://gw.example/par", false, "/par"},
		{"an mTLS host with the same path is the same endpoint", "https://gw.example", "https://matls-gw.example", "https://matls-gw.example/par", false, "/par"},
		{"an mTLS URL with a path gets a row of its own", "https://gw.example/bank", "https://matls-gw.example/mtls", "https://matls-gw.example/mtls/par", true, "/mtls/par"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := EndpointsConfig{Issuer: "https://gw.example", PublicURL: mustURL(t, tt.public), PARPath: "/par", JWKSPath: "/jwks", MTLS: true}
			if tt.mtls != "" {
				cfg.MTLSPublicURL = mustURL(t, tt.mtls)
			}
			e, err := NewEndpoints(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got := e.AliasURL(EndpointPAR); got != tt.wantAlias {
				t.Fatalf("AliasURL = %q, want %q", got, tt.wantAlias)
			}
			if got := e.URL(EndpointPAR); got == tt.wantAlias && tt.mtls != "" {
				t.Fatalf("URL(PAR) is the alias %q", got)
			}
			ep, ok := e.Lookup(tt.wantAliasRoutedTo)
			if !ok || ep.Kind != EndpointPAR || ep.Alias != tt.wantOwnRow {
				t.Fatalf("Lookup(%q) = %+v, %v; want the PAR endpoint (alias row %v)", tt.wantAliasRoutedTo, ep, ok, tt.wantOwnRow)
			}
		})
	}

	t.Run("no alias without mTLS", func(t *testing.T) {
		e, err := NewEndpoints(EndpointsConfig{Issuer: "https://gw.example", PublicURL: mustURL(t, "https://gw.example"), PARPath: "/par", JWKSPath: "/jwks"})
		if err != nil {
			t.Fatal(err)
		}
		if got := e.AliasURL(EndpointPAR); got != "" {
			t.Fatalf("AliasURL = %q without mTLS", got)
		}
	})
	t.Run("an alias on another endpoint's path is refused naming the variable", func(t *testing.T) {
		_, err := NewEndpoints(EndpointsConfig{Issuer: "https://gw.example", PublicURL: mustURL(t, "https://gw.example"), PARPath: "/par", JWKSPath: "/m/par",
			MTLS: true, MTLSPublicURL: mustURL(t, "https://matls.example/m")})
		if err == nil || !strings.HasPrefix(err.Error(), "PARJARM_MTLS_PUBLIC_URL: ") {
			t.Fatalf("err = %v, want one naming PARJARM_MTLS_PUBLIC_URL", err)
		}
	})
	t.Run("an alias on an upstream endpoint is refused", func(t *testing.T) {
		_, err := NewEndpoints(EndpointsConfig{Issuer: "https://gw.example", PublicURL: mustURL(t, "https://gw.example"), PARPath: "/par", JWKSPath: "/jwks",
			MTLS: true, MTLSPublicURL: mustURL(t, "https://matls.example/oauth"), Upstream: []UpstreamEndpoint{{Name: "token_endpoint", Path: "/oauth/par"}}})
		if err == nil || !strings.HasPrefix(err.Error(), "PARJARM_MTLS_PUBLIC_URL: ") {
			t.Fatalf("err = %v, want one naming PARJARM_MTLS_PUBLIC_URL", err)
		}
	})
}

func TestDiscoveryMergesMTLSAliases(t *testing.T) {
	mk := func(mtls bool) *Endpoints {
		e, err := NewEndpoints(EndpointsConfig{Issuer: "https://gw.example", PublicURL: mustURL(t, "https://gw.example"), PARPath: "/par", JWKSPath: "/jwks",
			MTLS: mtls, MTLSPublicURL: mustURL(t, "https://matls-gw.example")})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	up := mustURL(t, "http://idp.internal:8080")
	upstream := map[string]any{
		"issuer": "https://gw.example", "tls_client_certificate_bound_access_tokens": true,
		"mtls_endpoint_aliases": map[string]any{"token_endpoint": "http://idp.internal:8080/token", "pushed_authorization_request_endpoint": "http://idp.internal:8080/upstream-par"},
	}
	tests := []struct {
		name string
		opts Options
		want map[string]any
	}{
		{"the gateway's alias replaces the upstream's, whose other aliases are mapped to the public URL",
			Options{Upstream: up, PublicURL: "https://gw.example", PAREnabled: true, Endpoints: mk(true)},
			map[string]any{"token_endpoint": "https://gw.example/token", "pushed_authorization_request_endpoint": "https://matls-gw.example/par"}},
		{"without mTLS the upstream's PAR alias is removed",
			Options{Upstream: up, PublicURL: "https://gw.example", PAREnabled: true, Endpoints: mk(false)},
			map[string]any{"token_endpoint": "https://gw.example/token"}},
		{"without PAR no PAR alias is published",
			Options{Upstream: up, PublicURL: "https://gw.example", PAREnabled: false, Endpoints: mk(true)},
			map[string]any{"token_endpoint": "https://gw.example/token"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := RewriteDiscovery(upstream, tt.opts)
			got, _ := doc["mtls_endpoint_aliases"].(map[string]any)
			if len(got) != len(tt.want) {
				t.Fatalf("mtls_endpoint_aliases = %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("mtls_endpoint_aliases[%s] = %v, want %v", k, got[k], v)
				}
			}
			if doc["tls_client_certificate_bound_access_tokens"] != true {
				t.Errorf("tls_client_certificate_bound_access_tokens was not passed through")
			}
		})
	}
	if _, ok := upstream["mtls_endpoint_aliases"].(map[string]any)["pushed_authorization_request_endpoint"]; !ok {
		t.Error("RewriteDiscovery modified the upstream document")
	}
	doc := RewriteDiscovery(map[string]any{"issuer": "https://gw.example"}, Options{PublicURL: "https://gw.example", PAREnabled: true, Endpoints: mk(false)})
	if _, ok := doc["mtls_endpoint_aliases"]; ok {
		t.Error("an empty mtls_endpoint_aliases was published")
	}
}

func TestRewriteClientCertStripsAndWritesTheGatewaysOwn(t *testing.T) {
	leaf := certtest.SelfSigned(t, certtest.Options{Subject: pkix.Name{CommonName: "client"}})
	vouched := func(chain []*x509.Certificate) bool { return chain[0].Equal(leaf.Cert) }
	unchecked := certtest.SelfSigned(t, certtest.Options{Subject: pkix.Name{CommonName: "client"}})
	tests := []struct {
		name       string
		trusted    bool
		chain      *certtest.Cert
		wantEdge   bool
		wantClient string
	}{
		{"an untrusted peer's edge header and upstream header are removed", false, nil, false, ""},
		{"a trusted proxy's edge header is kept, its upstream header replaced", true, nil, true, ""},
		{"the gateway's checked certificate is written", false, leaf, false, ":" + base64.StdEncoding.EncodeToString(leaf.Cert.Raw) + ":"},
		{"a certificate nobody checked is not passed on", false, unchecked, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &Gateway{opts: Options{ClientCertHeaders: []string{"X-Edge-Cert"}, UpstreamCertHeader: "X-Client-Cert", UpstreamCertFormat: tlsauth.FormatRFC9440, VouchCert: vouched}}
			in := httptest.NewRequest(http.MethodGet, "/x", nil)
			if tt.chain != nil {
				in = in.WithContext(tlsauth.WithChain(in.Context(), tt.chain.Chain()))
			}
			out := in.Clone(in.Context())
			out.Header = http.Header{"X-Edge-Cert": {"a"}, "X_edge_cert": {"b"}, "X-Client-Cert": {"forged"}, "X_client_cert": {"forged"}, "Client-Cert-Chain": {"forged"}}
			g.rewriteClientCert(&httputil.ProxyRequest{In: in, Out: out}, tt.trusted)
			_, edge := out.Header["X-Edge-Cert"]
			if edge != tt.wantEdge {
				t.Errorf("X-Edge-Cert kept = %v, want %v", edge, tt.wantEdge)
			}
			if _, ok := out.Header["X_edge_cert"]; ok && !tt.trusted {
				t.Error("the underscore spelling of the edge header was kept")
			}
			if got := out.Header.Get("X-Client-Cert"); got != tt.wantClient {
				t.Errorf("X-Client-Cert = %q, want %q", got, tt.wantClient)
			}
			for _, k := range []string{"X_client_cert", "Client-Cert-Chain"} {
				if _, ok := out.Header[k]; ok {
					t.Errorf("%s was kept", k)
				}
			}
		})
	}
}
