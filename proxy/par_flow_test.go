package proxy

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parjarm/parjarm/flow"
	"github.com/parjarm/parjarm/internal/redistest"
	"github.com/parjarm/parjarm/store"
)

func TestPARFlowDeliversTheUpstreamResponseWithTheClientsState(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	state := "client state/é&x=1"
	uri := h.mustPush("conf", codeFlow(state))

	resp := h.authorize(url.Values{"client_id": {"conf"}, "request_uri": {uri}})
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("status %d, want 302", resp.StatusCode)
	}
	// The upstream received the full original parameters, with our state and
	// without a request_uri (RFC 9126, section 4).
	got := h.up.last()
	for k, want := range map[string]string{"client_id": "conf", "response_type": "code", "redirect_uri": redirectURI, "scope": "openid profile", "nonce": "n-1"} {
		if got.Get(k) != want {
			t.Errorf("upstream %s = %q, want %q", k, got.Get(k), want)
		}
	}
	if !flow.IsID(got.Get("state")) {
		t.Errorf("upstream state = %q, want a transaction id", got.Get("state"))
	}
	if got.Has("request_uri") || got.Has("response_mode") {
		t.Errorf("upstream received %v", got)
	}
	loc, _ := resp.Location()
	if base := loc.Scheme + "://" + loc.Host + loc.Path; base != redirectURI {
		t.Fatalf("Location goes to %q", base)
	}
	q := loc.Query()
	want := url.Values{"code": {"code-123"}, "state": {state}, "session_state": {"ss-1"}, "iss": {h.issuer()}}
	if q.Encode() != want.Encode() {
		t.Fatalf("client received %v, want %v", q, want)
	}
	if !strings.Contains(resp.Header.Get("Set-Cookie"), "upstream_session=s1") {
		t.Errorf("the upstream's Set-Cookie was lost: %q", resp.Header.Values("Set-Cookie"))
	}
	if v := counter(t, h.registry, "parjarm_par_expansions_total", map[string]string{"outcome": "expanded"}); v != 1 {
		t.Errorf("expansions = %v", v)
	}
}

func TestPARFlowWithoutStateDeliversNoState(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	uri := h.mustPush("conf", codeFlow(""))
	resp := h.authorize(url.Values{"client_id": {"conf"}, "request_uri": {uri}})
	defer resp.Body.Close()
	loc, _ := resp.Location()
	if loc.Query().Has("state") {
		t.Fatalf("state added: %v", loc.Query())
	}
	if loc.Query().Get("code") != "code-123" {
		t.Fatalf("no code: %v", loc)
	}
}

func TestPARFlowKeepsTheRedirectURIsQuery(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	params := codeFlow("s")
	params.Set("redirect_uri", "https://client.example/cb?tenant=7")
	uri := h.mustPush("conf", params)
	resp := h.authorize(url.Values{"client_id": {"conf"}, "request_uri": {uri}})
	defer resp.Body.Close()
	loc := resp.Header.Get("Location")
	if !strings.HasPrefix(loc, "https://client.example/cb?tenant=7&") {
		t.Fatalf("Location = %q", loc)
	}
}

func TestRequestURIIsUsableUntilItsFlowCompletes(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.up.setInteractive(true)
	uri := h.mustPush("conf", codeFlow("s1"))
	authz := h.gw.URL + "/authorize?" + url.Values{"client_id": {"conf"}, "request_uri": {uri}}.Encode()

	// The first visit lands on the upstream's login page.
	first := h.get(authz)
	first.Body.Close()
	if first.StatusCode != http.StatusFound || !strings.HasPrefix(first.Header.Get("Location"), "/login") {
		t.Fatalf("first visit: %d %q", first.StatusCode, first.Header.Get("Location"))
	}
	// A reload before the user finishes still works (RFC 9126, section 4).
	h.up.setInteractive(true)
	reload := h.get(authz)
	reload.Body.Close()
	if reload.StatusCode != http.StatusFound || !strings.HasPrefix(reload.Header.Get("Location"), "/login") {
		t.Fatalf("reload: %d %q", reload.StatusCode, reload.Header.Get("Location"))
	}
	// The user finishes the reloaded flow: login replays the saved URL.
	done := h.follow(h.gw.URL + reload.Header.Get("Location"))
	done.Body.Close()
	loc, _ := done.Location()
	if done.StatusCode != http.StatusFound || loc.Query().Get("code") != "code-123" || loc.Query().Get("state") != "s1" {
		t.Fatalf("completion: %d %v", done.StatusCode, loc)
	}
	// The first (abandoned) tab now finishes too: its request_uri is used.
	h.up.setInteractive(false)
	late := h.follow(h.gw.URL + first.Header.Get("Location"))
	wantErrorPage(t, late, http.StatusBadRequest, "invalid_request_uri")
	// And any new use fails, without reaching the upstream.
	before := h.up.count()
	again := h.get(authz)
	wantErrorPage(t, again, http.StatusBadRequest, "invalid_request_uri")
	if h.up.count() != before {
		t.Fatal("a used request_uri reached the upstream")
	}
}

func TestRequestURIErrors(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	uri := h.mustPush("conf", codeFlow("s"))
	tests := []struct {
		name  string
		query url.Values
	}{
		{"another client's request_uri", url.Values{"client_id": {"other"}, "request_uri": {uri}}},
		{"an unknown request_uri", url.Values{"client_id": {"conf"}, "request_uri": {"urn:ietf:params:oauth:request_uri:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}}},
		{"a request_uri without client_id", url.Values{"request_uri": {uri}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := h.up.count()
			resp := h.get("/authorize?" + tt.query.Encode())
			code := "invalid_request_uri"
			if !tt.query.Has("client_id") {
				code = "invalid_request"
			}
			wantErrorPage(t, resp, http.StatusBadRequest, code)
			if h.up.count() != before {
				t.Fatal("the request reached the upstream")
			}
		})
	}
	t.Run("the owner can still use it", func(t *testing.T) {
		resp := h.authorize(url.Values{"client_id": {"conf"}, "request_uri": {uri}})
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
}

func TestRequestURIExpires(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	uri := h.mustPush("conf", codeFlow("s"))
	h.clock.Advance(61 * time.Second) // default lifetime 60 s
	resp := h.get("/authorize?" + url.Values{"client_id": {"conf"}, "request_uri": {uri}}.Encode())
	wantErrorPage(t, resp, http.StatusBadRequest, "invalid_request_uri")
}

func TestOtherParametersNextToRequestURIAreIgnored(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	uri := h.mustPush("conf", codeFlow("s"))
	resp := h.authorize(url.Values{"client_id": {"conf"}, "request_uri": {uri}, "scope": {"openid admin"}, "redirect_uri": {"https://evil.example/cb"}})
	defer resp.Body.Close()
	if got := h.up.last(); got.Get("scope") != "openid profile" || got.Get("redirect_uri") != redirectURI {
		t.Fatalf("upstream received %v", got)
	}
	if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, redirectURI+"?") {
		t.Fatalf("Location = %q", loc)
	}
}

func TestRacingFlowsOnOneRequestURIOnlyOneCompletes(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	uri := h.mustPush("conf", codeFlow("s"))
	authz := h.gw.URL + "/authorize?" + url.Values{"client_id": {"conf"}, "request_uri": {uri}}.Encode()
	// Open several flows, each stopped at the login page.
	var logins []string
	for range 6 {
		h.up.setInteractive(true)
		resp := h.get(authz)
		resp.Body.Close()
		logins = append(logins, h.gw.URL+resp.Header.Get("Location"))
	}
	var mu sync.Mutex
	codes, refused := 0, 0
	var wg sync.WaitGroup
	for _, l := range logins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := h.tryFollow(l)
			if err != nil {
				t.Error(err)
				return
			}
			status, code := oauthErrorPage(t, resp)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case status == http.StatusFound && strings.Contains(resp.Header.Get("Location"), "code=code-123"):
				codes++
			case status == http.StatusBadRequest && code == "invalid_request_uri":
				refused++
			default:
				t.Errorf("unexpected answer %d %q", status, code)
			}
		}()
	}
	wg.Wait()
	if codes != 1 || refused != len(logins)-1 {
		t.Fatalf("%d flows completed, %d refused", codes, refused)
	}
}

func TestRequirePAR(t *testing.T) {
	for _, tc := range []struct {
		name     string
		global   bool
		clientID string
	}{
		{"for a client that registers it", false, "strict"},
		{"for every client when the gateway requires it", true, "conf"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, harnessOptions{requirePAR: tc.global})
			plain := codeFlow("s")
			plain.Set("client_id", tc.clientID)
			t.Run("a plain authorization request is refused", func(t *testing.T) {
				before := h.up.count()
				wantErrorPage(t, h.get("/authorize?"+plain.Encode()), http.StatusBadRequest, "invalid_request")
				if h.up.count() != before {
					t.Fatal("the request reached the upstream")
				}
			})
			t.Run("the upstream's re-entry with the exact expanded query passes", func(t *testing.T) {
				h.up.setInteractive(true)
				uri := h.mustPush(tc.clientID, codeFlow("s"))
				resp := h.get("/authorize?" + url.Values{"client_id": {tc.clientID}, "request_uri": {uri}}.Encode())
				resp.Body.Close()
				done := h.follow(h.gw.URL + resp.Header.Get("Location"))
				defer done.Body.Close()
				loc, _ := done.Location()
				if done.StatusCode != http.StatusFound || loc == nil || loc.Query().Get("code") != "code-123" {
					t.Fatalf("completion: %d %v", done.StatusCode, loc)
				}
			})
			t.Run("a modified expanded query is refused", func(t *testing.T) {
				h.up.setInteractive(true)
				uri := h.mustPush(tc.clientID, codeFlow("s"))
				resp := h.get("/authorize?" + url.Values{"client_id": {tc.clientID}, "request_uri": {uri}}.Encode())
				resp.Body.Close()
				expanded := h.up.last()
				expanded.Set("scope", "openid admin")
				before := h.up.count()
				wantErrorPage(t, h.get("/authorize?"+expanded.Encode()), http.StatusBadRequest, "invalid_request")
				if h.up.count() != before {
					t.Fatal("the modified request reached the upstream")
				}
			})
		})
	}
	t.Run("other clients are not affected", func(t *testing.T) {
		h := newHarness(t, harnessOptions{})
		plain := codeFlow("s")
		plain.Set("client_id", "conf")
		resp := h.authorize(plain)
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || h.up.last().Get("state") != "s" {
			t.Fatalf("plain flow: %d, upstream state %q", resp.StatusCode, h.up.last().Get("state"))
		}
	})
}

func TestInterceptionRefusals(t *testing.T) {
	t.Run("a Location that is not the transaction's redirect_uri is neither re-encoded nor passed", func(t *testing.T) {
		h := newHarness(t, harnessOptions{})
		h.up.setRespond(func(q url.Values) string {
			return "https://evil.example/cb?code=stolen&state=" + url.QueryEscape(q.Get("state"))
		})
		uri := h.mustPush("conf", codeFlow("s"))
		resp := h.authorize(url.Values{"client_id": {"conf"}, "request_uri": {uri}})
		wantErrorPage(t, resp, http.StatusBadGateway, "server_error")
		if v := counter(t, h.registry, "parjarm_intercept_failures_total", map[string]string{"reason": "redirect_mismatch"}); v != 1 {
			t.Fatalf("redirect_mismatch = %v", v)
		}
	})
	t.Run("an unknown or expired transaction never leaks the plain response", func(t *testing.T) {
		h := newHarness(t, harnessOptions{})
		h.up.setRespond(func(q url.Values) string {
			return redirectURI + "?code=secret&state=" + flow.NewID()
		})
		q := codeFlow("s")
		q.Set("client_id", "conf")
		resp := h.authorize(q)
		wantErrorPage(t, resp, http.StatusBadRequest, "invalid_request")
	})
	t.Run("a client's own state passes untouched", func(t *testing.T) {
		h := newHarness(t, harnessOptions{})
		q := codeFlow("my-state")
		q.Set("client_id", "conf")
		resp := h.authorize(q)
		defer resp.Body.Close()
		loc, _ := resp.Location()
		if resp.StatusCode != http.StatusSeeOther || loc.Query().Get("state") != "my-state" || loc.Query().Has("iss") {
			t.Fatalf("plain flow changed: %d %v", resp.StatusCode, loc)
		}
	})
}

func TestStoreOutage(t *testing.T) {
	srv := redistest.Start(t)
	st, err := store.NewRedis(store.RedisOptions{URL: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := newHarness(t, harnessOptions{store: st})
	uri := h.mustPush("conf", codeFlow("s"))

	srv.Stop()
	t.Run("a push is answered 503 temporarily_unavailable", func(t *testing.T) {
		resp := h.push("conf", codeFlow("s"))
		status, code := jsonError(t, resp)
		if status != http.StatusServiceUnavailable || code != "temporarily_unavailable" {
			t.Fatalf("got %d %q", status, code)
		}
	})
	t.Run("an expansion is answered 503 temporarily_unavailable", func(t *testing.T) {
		resp := h.get("/authorize?" + url.Values{"client_id": {"conf"}, "request_uri": {uri}}.Encode())
		wantErrorPage(t, resp, http.StatusServiceUnavailable, "temporarily_unavailable")
	})
	t.Run("plain proxied traffic keeps flowing", func(t *testing.T) {
		resp := h.get("/echo?x=1")
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
		plain := codeFlow("s")
		plain.Set("client_id", "conf")
		resp2 := h.authorize(plain)
		resp2.Body.Close()
		if resp2.StatusCode != http.StatusSeeOther {
			t.Fatalf("plain authorization: status %d", resp2.StatusCode)
		}
	})

	srv.Restart()
	t.Run("after Redis is back, pushes and flows succeed without a restart", func(t *testing.T) {
		var uri2 string
		deadline := time.Now().Add(5 * time.Second)
		for {
			resp := h.push("conf", codeFlow("s2"))
			if resp.StatusCode == http.StatusCreated || time.Now().After(deadline) {
				resp.Body.Close()
				uri2 = h.mustPush("conf", codeFlow("s2"))
				break
			}
			resp.Body.Close()
			time.Sleep(100 * time.Millisecond)
		}
		resp := h.authorize(url.Values{"client_id": {"conf"}, "request_uri": {uri2}})
		defer resp.Body.Close()
		loc, _ := resp.Location()
		if resp.StatusCode != http.StatusFound || loc.Query().Get("state") != "s2" {
			t.Fatalf("flow after recovery: %d %v", resp.StatusCode, loc)
		}
	})
}
