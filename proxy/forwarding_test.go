package proxy

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// Forwarding and routing headers an upstream may read (issue 13, defect 7),
// written here independently of the gateway's table so that a header left
// out of it fails these tests. keptFromTrusted are a trusted proxy's to set;
// alwaysStripped route inside the upstream past the gateway's path checks.
var (
	keptFromTrusted = []string{
		"X-Forwarded-Port", "X-Forwarded-Prefix", "X-Forwarded-Server", "X-Forwarded-Ssl", "X-Forwarded-Scheme",
		"Forwarded",
		"X-Real-IP", "X-Client-IP", "True-Client-IP", "X-Cluster-Client-IP",
		"X-Original-Host", "X-Host",
		"X-Forwarded-Client-Cert", "X-Client-Cert", "X-SSL-Client-Cert", "X-SSL-Cert", "Ssl-Client-Cert",
		"Client-Cert", "Client-Cert-Chain", "X-Client-Verify", "X-SSL-Client-Verify", "X-SSL-Client-DN",
	}
	alwaysStripped = []string{
		"X-Original-URL", "X-Original-URI", "X-Rewrite-URL", "X-Forwarded-Uri", "X-Forwarded-Path",
		"X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override",
	}
)

// foldName is how upstreams compare header names: without case, `_` = `-`.
func foldName(k string) string { return strings.ToLower(strings.ReplaceAll(k, "_", "-")) }

// variants are the spellings an attacker sends for name: as listed, with
// `_` for `-`, and in mixed case.
func variants(name string) []string {
	mixed := []byte(strings.ToLower(name))
	for i := 0; i < len(mixed); i += 2 {
		if 'a' <= mixed[i] && mixed[i] <= 'z' {
			mixed[i] -= 'a' - 'A'
		}
	}
	vs := []string{name, string(mixed)}
	if strings.Contains(name, "-") {
		vs = append(vs, strings.ReplaceAll(name, "-", "_"))
	}
	return vs
}

// recorder is a stand-in upstream in front of the legacy server: it records
// the headers of every request it receives, by path, and passes it on.
type recorder struct {
	srv *httptest.Server
	mu  sync.Mutex
	got map[string][]http.Header
}

func newRecorder(t *testing.T, target *url.URL) *recorder {
	t.Helper()
	rec := &recorder{got: map[string][]http.Header{}}
	pass := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		pr.Out.Host = pr.In.Host
	}}
	rec.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.mu.Lock()
		rec.got[r.URL.Path] = append(rec.got[r.URL.Path], r.Header.Clone())
		rec.mu.Unlock()
		pass.ServeHTTP(w, r)
	}))
	t.Cleanup(rec.srv.Close)
	return rec
}

// seen returns the headers of every request the upstream received at p.
func (rec *recorder) seen(t *testing.T, p string) []http.Header {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.got[p]) == 0 {
		t.Fatalf("the upstream received no request at %s", p)
	}
	return rec.got[p]
}

// recordedHarness is a harness whose upstream is a recorder in front of the
// legacy server; trusted makes the loopback peer a trusted proxy.
func recordedHarness(t *testing.T, o harnessOptions, trusted bool) (*harness, *recorder) {
	t.Helper()
	var rec *recorder
	mutate := o.mutate
	o.mutate = func(opts *Options) {
		if mutate != nil {
			mutate(opts)
		}
		if trusted {
			opts.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
		}
		rec = newRecorder(t, opts.Upstream)
		opts.Upstream, _ = url.Parse(rec.srv.URL)
	}
	return newHarness(t, o), rec
}

// allListed is every header the gateway must strip from an untrusted peer.
var allListed = append(append([]string(nil), keptFromTrusted...), alwaysStripped...)

// attackHeaders sets each of names in every spelling, each with a value that
// names it.
func attackHeaders(req *http.Request, names []string) {
	for _, name := range names {
		for _, v := range variants(name) {
			// Set on the map directly: the client writes the name as given.
			req.Header[v] = []string{"spoofed-" + v}
		}
	}
	req.Header["X-Original-URL"] = []string{"/authorize?client_id=strict&response_type=code"}
}

// wantNoneOf fails if h carries a header whose folded name is in names.
func wantNoneOf(t *testing.T, h http.Header, names []string) {
	t.Helper()
	banned := map[string]bool{}
	for _, n := range names {
		banned[foldName(n)] = true
	}
	for k, v := range h {
		if banned[foldName(k)] {
			t.Errorf("the upstream received %s: %q", k, v)
		}
	}
}

func TestUntrustedPeersForwardingHeadersNeverReachTheUpstream(t *testing.T) {
	h, rec := recordedHarness(t, harnessOptions{}, false)
	req, _ := http.NewRequest(http.MethodGet, h.gw.URL+"/echo?a=1", nil)
	attackHeaders(req, allListed)
	resp, err := h.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	got := rec.seen(t, "/echo")[0]
	wantNoneOf(t, got, allListed)
	// The gateway's own X-Forwarded-* still arrive.
	if got.Get("X-Forwarded-For") != "127.0.0.1" || got.Get("X-Forwarded-Proto") != "http" {
		t.Errorf("X-Forwarded-For %q, X-Forwarded-Proto %q", got.Get("X-Forwarded-For"), got.Get("X-Forwarded-Proto"))
	}
}

func TestATrustedProxysForwardingHeadersArriveButRoutingHeadersDoNot(t *testing.T) {
	h, rec := recordedHarness(t, harnessOptions{}, true)
	req, _ := http.NewRequest(http.MethodGet, h.gw.URL+"/echo", nil)
	attackHeaders(req, alwaysStripped)
	for _, name := range keptFromTrusted {
		// The trusted proxy's own copy, in the spelling proxies write,
		// and a client's underscore spelling that it passed on.
		req.Header.Set(name, "proxy-"+name)
		if u := strings.ReplaceAll(name, "-", "_"); u != name {
			req.Header[u] = []string{"spoofed-" + u}
		}
	}
	resp, err := h.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got := rec.seen(t, "/echo")[0]
	for _, name := range keptFromTrusted {
		if v := got.Values(name); len(v) != 1 || v[0] != "proxy-"+name {
			t.Errorf("%s = %q, want the trusted proxy's %q", name, v, "proxy-"+name)
		}
	}
	wantNoneOf(t, got, alwaysStripped)
	// An underscore spelling is never the trusted proxy's: CGI-style
	// upstreams would read it as the same variable as the dashed one.
	for k := range got {
		if strings.Contains(k, "_") {
			t.Errorf("the upstream received %s from behind a trusted proxy", k)
		}
	}
}

func TestAnOriginalURLHeaderCannotRouteAPassThroughRequest(t *testing.T) {
	for _, trusted := range []bool{false, true} {
		name := "from an untrusted peer"
		if trusted {
			name = "from a trusted proxy"
		}
		t.Run(name, func(t *testing.T) {
			h, rec := recordedHarness(t, harnessOptions{requirePAR: true}, trusted)
			for _, hdr := range []string{"X-Original-URL", "X-Rewrite-URL", "X_Original_URL", "x-original-uri"} {
				req, _ := http.NewRequest(http.MethodGet, h.gw.URL+"/echo", nil)
				req.Header[hdr] = []string{"/authorize?client_id=strict&response_type=code&redirect_uri=" + url.QueryEscape(redirectURI)}
				req.Header["X-HTTP-Method-Override"] = []string{"POST"}
				resp, err := h.http.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
			}
			for _, got := range rec.seen(t, "/echo") {
				wantNoneOf(t, got, alwaysStripped)
			}
		})
	}
}

// TestTheAuthorizationEndpointStripsForwardingHeaders covers the requests
// the gateway builds itself from the incoming one (forward): an expanded
// pushed request, the upstream's replay of it after login, and a plain
// pass-through of the authorization endpoint.
func TestTheAuthorizationEndpointStripsForwardingHeaders(t *testing.T) {
	do := func(t *testing.T, h *harness, target string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, target, nil)
		attackHeaders(req, allListed)
		resp, err := h.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	t.Run("an expanded pushed request", func(t *testing.T) {
		h, rec := recordedHarness(t, harnessOptions{requirePAR: true}, false)
		uri := h.mustPush("conf", codeFlow("s"))
		resp := do(t, h, h.gw.URL+"/authorize?"+url.Values{"client_id": {"conf"}, "request_uri": {uri}}.Encode())
		if !strings.HasPrefix(resp.Header.Get("Location"), redirectURI+"?") {
			t.Fatalf("status %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		wantNoneOf(t, rec.seen(t, "/authorize")[0], allListed)
	})
	t.Run("the upstream's replay of an expanded request after login", func(t *testing.T) {
		h, rec := recordedHarness(t, harnessOptions{requirePAR: true}, false)
		h.up.setInteractive(true)
		uri := h.mustPush("conf", codeFlow("s"))
		target := h.gw.URL + "/authorize?" + url.Values{"client_id": {"conf"}, "request_uri": {uri}}.Encode()
		for range 5 {
			resp := do(t, h, target)
			loc, err := resp.Location()
			if err != nil || !strings.HasPrefix(loc.String(), h.gw.URL) {
				break
			}
			target = loc.String()
		}
		seen := rec.seen(t, "/authorize")
		if len(seen) != 2 {
			t.Fatalf("the upstream's authorization endpoint was called %d times, want the expansion and the replay", len(seen))
		}
		for _, got := range seen {
			wantNoneOf(t, got, allListed)
		}
	})
	t.Run("a plain authorization request", func(t *testing.T) {
		h, rec := recordedHarness(t, harnessOptions{}, false)
		q := codeFlow("s")
		q.Set("client_id", "conf")
		do(t, h, h.gw.URL+"/authorize?"+q.Encode())
		wantNoneOf(t, rec.seen(t, "/authorize")[0], allListed)
	})
}
