package proxy

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzAuthorize sends arbitrary authorization requests (query or form body)
// to the gateway: it never panics and never answers 500.
func FuzzAuthorize(f *testing.F) {
	cs, _, _ := jarmClients(f)
	h := newHarness(f, harnessOptions{jarm: true, clients: cs})
	uri := h.mustPush("conf", codeFlow("s"))
	f.Add("GET", "client_id=conf&request_uri="+url.QueryEscape(uri), "")
	f.Add("GET", "client_id=jarm-ES256&response_type=code&redirect_uri="+url.QueryEscape(redirectURI)+"&response_mode=jwt&state=x", "")
	f.Add("POST", "", "client_id=conf&request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3Ax")
	f.Add("GET", "client_id=strict&state=%FF&state=1", "")
	f.Add("GET", "response_mode=query.jwt&client_id=jarm-enc-rsa&response_type=code+id_token&redirect_uri="+url.QueryEscape(redirectURI), "")
	f.Fuzz(func(t *testing.T, method, query, body string) {
		if method != http.MethodPost {
			method = http.MethodGet
		}
		req := httptest.NewRequest(method, "/authorize", strings.NewReader(body))
		req.URL.RawQuery = query
		req.Host = strings.TrimPrefix(h.gw.URL, "http://")
		if method == http.MethodPost {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		rec := httptest.NewRecorder()
		h.gateway.ServeHTTP(rec, req)
		if rec.Code >= 500 && rec.Code != http.StatusBadGateway && rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("status %d for %s ?%q body %q:\n%s", rec.Code, method, query, body, rec.Body.String())
		}
	})
}

// FuzzEndpointRouting sends arbitrary paths to a gateway whose issuer has a
// path: it never panics or answers 500, and a published endpoint's path is
// always answered by the gateway, never proxied.
func FuzzEndpointRouting(f *testing.F) {
	h := newHarness(f, harnessOptions{issuer: "https://login.example/realms/bank/"})
	for _, ep := range h.endpoints.All() {
		f.Add("GET", ep.Path)
		f.Add("POST", ep.Path)
	}
	f.Add("GET", "/realms/bank/par/")
	f.Add("GET", "/.well-known/oauth-authorization-server")
	f.Add("GET", "/realms/bank//authorize")
	f.Fuzz(func(t *testing.T, method, p string) {
		if method != http.MethodPost {
			method = http.MethodGet
		}
		req := httptest.NewRequest(method, "/", strings.NewReader(""))
		req.URL.Path, req.URL.RawPath = p, ""
		req.Host = "login.example"
		rec := httptest.NewRecorder()
		h.gateway.ServeHTTP(rec, req)
		if rec.Code >= 500 && rec.Code != http.StatusBadGateway && rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("status %d for %s %q", rec.Code, method, p)
		}
		// The stand-in upstream answers 404 for everything but its own few
		// paths; the gateway's endpoints never do.
		if _, published := h.endpoints.Lookup(p); published && rec.Code == http.StatusNotFound {
			t.Fatalf("%s %q is published but reached the upstream", method, p)
		}
	})
}
