package proxy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/parjarm/parjarm/metrics"
)

func jsonError(t *testing.T, resp *http.Response) (int, string) {
	t.Helper()
	defer resp.Body.Close()
	var e struct {
		Error string `json:"error"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&e)
	return resp.StatusCode, e.Error
}

func TestDiscoveryAdvertisesPAR(t *testing.T) {
	for _, required := range []bool{false, true} {
		h := newHarness(t, harnessOptions{requirePAR: required})
		for _, path := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"} {
			resp := h.get(path)
			var doc map[string]any
			if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if doc["pushed_authorization_request_endpoint"] != h.issuer()+"/par" {
				t.Errorf("%s: pushed_authorization_request_endpoint = %v", path, doc["pushed_authorization_request_endpoint"])
			}
			if doc["require_pushed_authorization_requests"] != required {
				t.Errorf("%s: require_pushed_authorization_requests = %v, want %v", path, doc["require_pushed_authorization_requests"], required)
			}
			if doc["jwks_uri"] != h.issuer()+"/.well-known/parjarm/jwks.json" {
				t.Errorf("%s: jwks_uri = %v", path, doc["jwks_uri"])
			}
			if doc["token_endpoint"] != h.issuer()+"/token" || doc["issuer"] != h.issuer() {
				t.Errorf("%s: upstream members changed: %v", path, doc)
			}
		}
	}
}

func TestDiscoveryWithJARM(t *testing.T) {
	h := newHarness(t, harnessOptions{jarm: true})
	resp := h.get("/.well-known/openid-configuration")
	defer resp.Body.Close()
	var doc struct {
		Modes   []string `json:"response_modes_supported"`
		SigAlgs []string `json:"authorization_signing_alg_values_supported"`
		EncAlgs []string `json:"authorization_encryption_alg_values_supported"`
		Encs    []string `json:"authorization_encryption_enc_values_supported"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	want := []string{"query", "fragment", "form_post", "query.jwt", "fragment.jwt", "form_post.jwt", "jwt"}
	if strings.Join(doc.Modes, " ") != strings.Join(want, " ") {
		t.Errorf("response_modes_supported = %v, want %v", doc.Modes, want)
	}
	for _, alg := range []string{"RS256", "PS256", "ES256", "EdDSA"} {
		if !contains(doc.SigAlgs, alg) {
			t.Errorf("authorization_signing_alg_values_supported %v lacks %s", doc.SigAlgs, alg)
		}
	}
	if !contains(doc.EncAlgs, "RSA-OAEP-256") || !contains(doc.Encs, "A128CBC-HS256") {
		t.Errorf("encryption lists: %v %v", doc.EncAlgs, doc.Encs)
	}
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func TestJWKSHoldsTheUpstreamsKeysAndOurs(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	resp := h.get("/.well-known/parjarm/jwks.json")
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	if len(set.Key("upstream-1")) != 1 {
		t.Error("the upstream's key is missing")
	}
	for _, kid := range h.keys.KIDs() {
		if len(set.Key(kid)) != 1 {
			t.Errorf("the gateway's key %q is missing", kid)
		}
	}
	for _, k := range set.Keys {
		if !k.IsPublic() {
			t.Fatalf("private key %q published", k.KeyID)
		}
	}
}

func TestMergeKeys(t *testing.T) {
	key, err := jarmTestKey()
	if err != nil {
		t.Fatal(err)
	}
	ours := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{key}}
	t.Run("a kid in both sets is refused", func(t *testing.T) {
		up := &RawKeySet{Keys: []json.RawMessage{json.RawMessage(`{"kty":"EC","kid":"` + key.KeyID + `"}`)}}
		if _, err := MergeKeys(up, ours); err == nil || !strings.Contains(err.Error(), key.KeyID) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("upstream keys go-jose cannot read are passed on unchanged", func(t *testing.T) {
		x25519 := `{"kty":"OKP","crv":"X25519","use":"enc","kid":"up-enc","x":"hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo","key_ops":["deriveKey"]}`
		up := &RawKeySet{Keys: []json.RawMessage{json.RawMessage(x25519)}}
		merged, err := MergeKeys(up, ours)
		if err != nil {
			t.Fatal(err)
		}
		if len(merged.Keys) != 2 || string(merged.Keys[0]) != x25519 {
			t.Fatalf("merged %s", merged.Keys)
		}
	})
}

func jarmTestKey() (jose.JSONWebKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return jose.JSONWebKey{}, err
	}
	return jose.JSONWebKey{Key: k.Public(), KeyID: "gw-1", Algorithm: "ES256", Use: "sig"}, nil
}

func TestPassThroughKeepsHostAndSetsForwardedHeaders(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	req, _ := http.NewRequest(http.MethodGet, h.gw.URL+"/echo?a=1", nil)
	req.Header.Set("X-Forwarded-For", "6.6.6.6")
	req.Header.Set("X-Forwarded-Host", "evil.example")
	resp, err := h.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "echo a=1" {
		t.Fatalf("body %q", body)
	}
	h.up.mu.Lock()
	defer h.up.mu.Unlock()
	if h.up.host != strings.TrimPrefix(h.gw.URL, "http://") {
		t.Errorf("upstream Host = %q, want the public host", h.up.host)
	}
	if got := h.up.headers.Get("X-Forwarded-For"); got != "127.0.0.1" {
		t.Errorf("X-Forwarded-For = %q: an untrusted peer's header was kept", got)
	}
	if got := h.up.headers.Get("X-Forwarded-Host"); got != strings.TrimPrefix(h.gw.URL, "http://") {
		t.Errorf("X-Forwarded-Host = %q", got)
	}
	if got := h.up.headers.Get("X-Forwarded-Proto"); got != "http" {
		t.Errorf("X-Forwarded-Proto = %q", got)
	}
}

func TestTrustedProxyHeadersAreKept(t *testing.T) {
	h := newHarness(t, harnessOptions{mutate: func(o *Options) {
		o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	}})
	req, _ := http.NewRequest(http.MethodGet, h.gw.URL+"/echo", nil)
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	req.Header.Set("X-Forwarded-Proto", "https")
	req.Header.Set("X-Forwarded-Host", "idp.example")
	resp, err := h.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	h.up.mu.Lock()
	defer h.up.mu.Unlock()
	for k, want := range map[string]string{"X-Forwarded-For": "203.0.113.9, 127.0.0.1", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "idp.example"} {
		if got := h.up.headers.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}

// newBareGateway returns a gateway in front of upstream, for failure tests
// that need no PAR service.
func newBareGateway(t *testing.T, upstream string, responseHeader time.Duration) *httptest.Server {
	t.Helper()
	u, _ := url.Parse(upstream)
	m := metrics.New(prometheus.NewRegistry())
	tr := Transport(time.Second, responseHeader)
	eps, err := NewEndpoints(EndpointsConfig{Issuer: upstream, PublicURL: u, JWKSPath: "/jwks"})
	if err != nil {
		t.Fatal(err)
	}
	g := New(Options{Upstream: u, AuthorizationPath: "/authorize", Endpoints: eps},
		NewDiscovery(u, "/.well-known/openid-configuration", &http.Client{Transport: tr}, time.Minute), nil, nil, nil, nil, tr, m, zap.NewNop())
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return srv
}

func TestUnreachableUpstreamIs502(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	srv := newBareGateway(t, dead, time.Second)
	start := time.Now()
	resp, err := http.Get(srv.URL + "/token")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), "cannot be reached") {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	if time.Since(start) > 3*time.Second {
		t.Fatalf("took %v", time.Since(start))
	}
	t.Run("discovery is 503 with Retry-After", func(t *testing.T) {
		resp, err := http.Get(srv.URL + "/.well-known/openid-configuration")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("got %d", resp.StatusCode)
		}
	})
}

func TestSlowUpstreamIs504(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); slow.Close() })
	srv := newBareGateway(t, slow.URL, 200*time.Millisecond)
	resp, err := http.Get(srv.URL + "/token")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Fatalf("got %d, want 504", resp.StatusCode)
	}
}

func TestAuthorizationRequestErrors(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	t.Run("a repeated parameter", func(t *testing.T) {
		wantErrorPage(t, h.get("/authorize?client_id=conf&state=a&state=b"), http.StatusBadRequest, "invalid_request")
	})
	t.Run("a malformed query", func(t *testing.T) {
		wantErrorPage(t, h.get("/authorize?client_id=%zz"), http.StatusBadRequest, "invalid_request")
	})
	t.Run("a POST that is not a form", func(t *testing.T) {
		resp, err := h.http.Post(h.gw.URL+"/authorize", "application/json", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		wantErrorPage(t, resp, http.StatusBadRequest, "invalid_request")
	})
	t.Run("a POST over the size limit", func(t *testing.T) {
		resp, err := h.http.Post(h.gw.URL+"/authorize", "application/x-www-form-urlencoded", strings.NewReader("a="+strings.Repeat("x", 70<<10)))
		if err != nil {
			t.Fatal(err)
		}
		wantErrorPage(t, resp, http.StatusRequestEntityTooLarge, "invalid_request")
	})
	t.Run("a POSTed PAR authorization request works", func(t *testing.T) {
		uri := h.mustPush("conf", codeFlow("s"))
		form := url.Values{"client_id": {"conf"}, "request_uri": {uri}}
		resp, err := h.http.PostForm(h.gw.URL+"/authorize", form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound || !strings.Contains(resp.Header.Get("Location"), "code=code-123") {
			t.Fatalf("got %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
	})
	t.Run("a POSTed plain authorization request passes through with its body", func(t *testing.T) {
		form := codeFlow("s")
		form.Set("client_id", "conf")
		resp, err := h.http.PostForm(h.gw.URL+"/echo", form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
}

func TestReplaceIss(t *testing.T) {
	tests := []struct {
		name, in, want string
		ok             bool
	}{
		{"in the query", "https://c.example/cb?code=x&iss=https%3A%2F%2Fup.internal", "https://c.example/cb?code=x&iss=https%3A%2F%2Fidp.example", true},
		{"in the fragment", "https://c.example/cb#code=x&iss=https%3A%2F%2Fup.internal", "https://c.example/cb#code=x&iss=https%3A%2F%2Fidp.example", true},
		{"query with a fragment kept", "https://c.example/cb?iss=https%3A%2F%2Fup.internal#x", "https://c.example/cb?iss=https%3A%2F%2Fidp.example#x", true},
		{"another issuer is left alone", "https://c.example/cb?iss=https%3A%2F%2Fother.example", "https://c.example/cb?iss=https%3A%2F%2Fother.example", false},
		{"no iss", "https://c.example/cb?code=x", "https://c.example/cb?code=x", false},
		{"a repeated iss is left alone", "https://c.example/cb?iss=https%3A%2F%2Fup.internal&iss=x", "https://c.example/cb?iss=https%3A%2F%2Fup.internal&iss=x", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := replaceIss(tt.in, "https://up.internal", "https://idp.example")
			if got != tt.want || ok != tt.ok {
				t.Fatalf("got %q %v, want %q %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestPlainFlowsGetTheGatewaysIssuer(t *testing.T) {
	h := newHarness(t, harnessOptions{mutate: func(o *Options) { o.UpstreamIssuer = "https://up.internal" }})
	h.up.setRespond(func(q url.Values) string {
		return q.Get("redirect_uri") + "?code=c&state=" + url.QueryEscape(q.Get("state")) + "&iss=" + url.QueryEscape("https://up.internal")
	})
	q := codeFlow("s")
	q.Set("client_id", "conf")
	resp := h.authorize(q)
	resp.Body.Close()
	loc, _ := resp.Location()
	if loc.Query().Get("iss") != h.issuer() || loc.Query().Get("state") != "s" {
		t.Fatalf("Location %v", loc)
	}
}

func TestDiscoveryIssParameter(t *testing.T) {
	for _, tc := range []struct {
		upstream   any
		requirePAR bool
		want       any
	}{
		{nil, false, nil},
		{true, false, true},
		{false, true, true},
		{false, false, false},
	} {
		up := map[string]any{"issuer": "https://idp.example"}
		if tc.upstream != nil {
			up["authorization_response_iss_parameter_supported"] = tc.upstream
		}
		doc := RewriteDiscovery(up, Options{Issuer: "https://idp.example", PAREnabled: true, RequirePAR: tc.requirePAR})
		if doc["authorization_response_iss_parameter_supported"] != tc.want {
			t.Errorf("upstream %v, require PAR %v: got %v, want %v", tc.upstream, tc.requirePAR, doc["authorization_response_iss_parameter_supported"], tc.want)
		}
	}
}

func TestDiscoveryNeverNamesTheUpstreamsAddress(t *testing.T) {
	up, _ := url.Parse("http://10.1.2.3:4000")
	doc := RewriteDiscovery(map[string]any{
		"issuer":                 "https://idp.example",
		"authorization_endpoint": "http://10.1.2.3:4000/auth",
		"token_endpoint":         "http://10.1.2.3:4000/token",
		"userinfo_endpoint":      "https://idp.example/me",
		"service_documentation":  "http://10.1.2.3:40001/docs",
	}, Options{Upstream: up, Issuer: "https://idp.example", PublicURL: "https://idp.example"})
	for k, want := range map[string]string{
		"authorization_endpoint": "https://idp.example/auth",
		"token_endpoint":         "https://idp.example/token",
		"userinfo_endpoint":      "https://idp.example/me",
		"service_documentation":  "http://10.1.2.3:40001/docs",
	} {
		if doc[k] != want {
			t.Errorf("%s = %v, want %s", k, doc[k], want)
		}
	}
}

func TestDiscoveryFetchCarriesThePublicHost(t *testing.T) {
	var host, fwdHost, fwdProto string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, fwdHost, fwdProto = r.Host, r.Header.Get("X-Forwarded-Host"), r.Header.Get("X-Forwarded-Proto")
		_, _ = io.WriteString(w, `{"issuer":"https://idp.example","authorization_endpoint":"https://idp.example/auth"}`)
	}))
	defer up.Close()
	u, _ := url.Parse(up.URL)
	d := NewDiscovery(u, "/.well-known/openid-configuration", http.DefaultClient, time.Minute)
	pub, _ := url.Parse("https://idp.example")
	d.SetPublic(pub)
	if _, err := d.Metadata(t.Context()); err != nil {
		t.Fatal(err)
	}
	if host != "idp.example" || fwdHost != "idp.example" || fwdProto != "https" {
		t.Fatalf("Host %q, X-Forwarded-Host %q, X-Forwarded-Proto %q", host, fwdHost, fwdProto)
	}
}
