package proxy

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parjarm/parjarm/client"
	"github.com/parjarm/parjarm/codebind"
	"github.com/parjarm/parjarm/internal/redistest"
	"github.com/parjarm/parjarm/store"
)

// rfc7636Verifier is the verifier of pkce()'s challenge (RFC 7636,
// Appendix B).
const rfc7636Verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"

// token is the legacy upstream's token endpoint: it checks nothing (no
// PKCE, no binding) and answers every request with tokens, as a server
// without PKCE would for a code it issued.
func (l *legacy) token(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	l.mu.Lock()
	l.tokens = append(l.tokens, rawRequest{method: r.Method, query: r.URL.RawQuery, body: string(body)})
	l.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = io.WriteString(w, `{"access_token":"at-1","token_type":"Bearer","expires_in":60}`)
}

func (l *legacy) tokenCount() int { l.mu.Lock(); defer l.mu.Unlock(); return len(l.tokens) }

func (l *legacy) lastToken() rawRequest {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.tokens) == 0 {
		l.t.Fatal("the upstream received no token request")
	}
	return l.tokens[len(l.tokens)-1]
}

// codeHarness is a gateway that binds codes at the token endpoint, in front
// of an upstream that issues a fresh code per flow.
func codeHarness(t *testing.T, st store.Store, clients []*client.Client) *harness {
	t.Helper()
	return codeHarnessWith(t, st, clients, false)
}

func codeHarnessWith(t *testing.T, st store.Store, clients []*client.Client, jarm bool) *harness {
	t.Helper()
	if st == nil {
		mem := store.NewMemory(store.MemoryOptions{})
		t.Cleanup(func() { mem.Close() })
		st = mem
	}
	if clients == nil {
		clients = defaultClients()
	}
	requirePKCE := map[string]bool{}
	for _, c := range clients {
		requirePKCE[c.ID] = c.RequirePKCE
	}
	h := newHarness(t, harnessOptions{store: st, clients: clients, jarm: jarm, mutate: func(o *Options) {
		o.TokenPath = "/token"
		o.Codes = codebind.New(st, 10*time.Minute, func(id string) bool { return requirePKCE[id] })
	}})
	var n atomic.Int64
	h.up.setRespond(func(q url.Values) string {
		return q.Get("redirect_uri") + "?" + url.Values{"code": {fmt.Sprintf("code-%d", n.Add(1))}, "state": {q.Get("state")}}.Encode()
	})
	return h
}

// pushedCode runs a PAR flow with PKCE for the client and returns the code
// it delivers.
func (h *harness) pushedCode(clientID string) string {
	h.t.Helper()
	uri := h.mustPush(clientID, pkce(codeFlow("s")))
	resp := h.authorize(url.Values{"client_id": {clientID}, "request_uri": {uri}})
	defer resp.Body.Close()
	loc, err := resp.Location()
	if err != nil || loc.Query().Get("code") == "" {
		h.t.Fatalf("flow delivered no code: %d %v", resp.StatusCode, loc)
	}
	return loc.Query().Get("code")
}

// redeem POSTs body to the token endpoint with the client's Basic
// credentials ("" for none).
func (h *harness) redeem(path, basicID string, body url.Values) *http.Response {
	h.t.Helper()
	return h.tokenRequest(http.MethodPost, path, basicID, "application/x-www-form-urlencoded", body.Encode())
}

func (h *harness) tokenRequest(method, path, basicID, contentType, body string) *http.Response {
	h.t.Helper()
	req, _ := http.NewRequest(method, h.gw.URL+path, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c := h.clients[basicID]; c != nil {
		req.SetBasicAuth(url.QueryEscape(c.ID), url.QueryEscape(c.Secret))
	}
	resp, err := h.http.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp
}

func redemption(code string) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI}, "code_verifier": {rfc7636Verifier}}
}

func with(v url.Values, kv ...string) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = vs
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "\x00" {
			out.Del(kv[i])
			continue
		}
		out.Set(kv[i], kv[i+1])
	}
	return out
}

// wantTokenError asserts a JSON token endpoint error (RFC 6749, section
// 5.2) that the upstream never saw.
func wantTokenError(t *testing.T, h *harness, resp *http.Response, before, status int, code string) {
	t.Helper()
	defer resp.Body.Close()
	var out struct {
		Error string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("not a JSON error (status %d): %v", resp.StatusCode, err)
	}
	if resp.StatusCode != status || out.Error != code {
		t.Fatalf("got %d %q, want %d %q", resp.StatusCode, out.Error, status, code)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("Cache-Control = %q, want no-store", cc)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q", ct)
	}
	if n := h.up.tokenCount(); n != before {
		t.Fatalf("the upstream received %d token requests, want %d: the gateway must refuse without contacting it", n, before)
	}
}

func wantRedeemed(t *testing.T, h *harness, resp *http.Response, sent string) {
	t.Helper()
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	if got := h.up.lastToken(); got.body != sent || got.method != http.MethodPost {
		t.Fatalf("the upstream received %s %q, want the request unchanged: %q", got.method, got.body, sent)
	}
}

func TestTokenEndpointBindsCodes(t *testing.T) {
	clients := append(defaultClients(), &client.Client{ID: "pkce-only", Secret: "pkce-secret", TokenEndpointAuthMethod: client.AuthSecretBasic, RedirectURIs: []string{redirectURI}, RequirePKCE: true})
	h := codeHarness(t, nil, clients)

	t.Run("the right client, redirect_uri and verifier redeem the code, forwarded unchanged", func(t *testing.T) {
		body := redemption(h.pushedCode("conf"))
		wantRedeemed(t, h, h.redeem("/token", "conf", body), body.Encode())
	})
	refusals := []struct {
		name   string
		client string
		body   func(code string) url.Values
	}{
		{"a wrong code_verifier", "conf", func(c string) url.Values {
			return with(redemption(c), "code_verifier", strings.Repeat("x", 43))
		}},
		{"a missing code_verifier", "conf", func(c string) url.Values { return with(redemption(c), "code_verifier", "\x00") }},
		{"a code_verifier that is too short", "conf", func(c string) url.Values { return with(redemption(c), "code_verifier", "abc") }},
		{"another client (client_secret_post)", "", func(c string) url.Values {
			return with(redemption(c), "client_id", "other", "client_secret", "other-secret")
		}},
		{"another client (Basic)", "pub", func(c string) url.Values { return redemption(c) }},
		{"no client at all", "", func(c string) url.Values { return redemption(c) }},
		{"another redirect_uri", "conf", func(c string) url.Values {
			return with(redemption(c), "redirect_uri", "https://client.example/cb?tenant=7")
		}},
		{"no redirect_uri", "conf", func(c string) url.Values { return with(redemption(c), "redirect_uri", "\x00") }},
		{"a grant_type in another case", "conf", func(c string) url.Values {
			return with(redemption(c), "grant_type", "Authorization_Code", "code_verifier", strings.Repeat("x", 43))
		}},
	}
	for _, tc := range refusals {
		t.Run(tc.name+" is refused with 400 invalid_grant at the gateway", func(t *testing.T) {
			code := h.pushedCode("conf")
			before := h.up.tokenCount()
			wantTokenError(t, h, h.redeem("/token", tc.client, tc.body(code)), before, http.StatusBadRequest, "invalid_grant")
			// The record is spent: the right request afterwards fails too
			// (as a replay, which the upstream sees, its answer discarded).
			wantTokenError(t, h, h.redeem("/token", "conf", redemption(code)), before+1, http.StatusBadRequest, "invalid_grant")
		})
	}
	t.Run("a second redemption is refused with 400 invalid_grant; the upstream sees it, its tokens discarded", func(t *testing.T) {
		body := redemption(h.pushedCode("conf"))
		wantRedeemed(t, h, h.redeem("/token", "conf", body), body.Encode())
		before := h.up.tokenCount()
		// The test upstream answers every request with tokens, as a server
		// that does not refuse replays would: they never reach the client.
		wantTokenError(t, h, h.redeem("/token", "conf", body), before+1, http.StatusBadRequest, "invalid_grant")
		if got := h.up.lastToken().body; got != body.Encode() {
			t.Fatalf("the upstream saw %q, want the replay unchanged (RFC 6749, section 4.1.2: it may revoke)", got)
		}
	})
	t.Run("a code from a flow the gateway did not track passes", func(t *testing.T) {
		body := redemption("upstream-only-code")
		wantRedeemed(t, h, h.redeem("/token", "conf", body), body.Encode())
	})
	t.Run("an untracked code is refused for a client that requires PKCE", func(t *testing.T) {
		before := h.up.tokenCount()
		wantTokenError(t, h, h.redeem("/token", "pkce-only", redemption("upstream-only-code-2")), before, http.StatusBadRequest, "invalid_grant")
	})
	t.Run("other grant types pass untouched", func(t *testing.T) {
		body := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"rt"}, "code_verifier": {"anything"}}
		wantRedeemed(t, h, h.redeem("/token", "conf", body), body.Encode())
		cc := "grant_type=client_credentials&scope=a+b"
		wantRedeemed(t, h, h.tokenRequest(http.MethodPost, "/token", "conf", "application/x-www-form-urlencoded; charset=utf-8", cc), cc)
	})
	t.Run("a code without grant_type is checked", func(t *testing.T) {
		code := h.pushedCode("conf")
		before := h.up.tokenCount()
		wantTokenError(t, h, h.redeem("/token", "conf", with(redemption(code), "grant_type", "\x00", "code_verifier", strings.Repeat("x", 43))), before, http.StatusBadRequest, "invalid_grant")
	})
	malformed := []struct {
		name, method, path, contentType, body string
		status                                int
	}{
		{"a repeated code", "POST", "/token", "application/x-www-form-urlencoded", redemption("c").Encode() + "&code=d", 400},
		{"a code in the query and the body", "POST", "/token?code=d", "application/x-www-form-urlencoded", redemption("c").Encode(), 400},
		{"a parameter spelt CODE", "POST", "/token", "application/x-www-form-urlencoded", "grant_type=authorization_code&CODE=c", 400},
		{"a JSON body", "POST", "/token", "application/json", `{"grant_type":"authorization_code","code":"c"}`, 400},
		{"a GET", "GET", "/token?" + redemption("c").Encode(), "", "", 405},
		{"a variant of the token path", "POST", "/token/", "application/x-www-form-urlencoded", redemption("c").Encode(), 400},
		{"a variant of the token path in another case", "POST", "/Token", "application/x-www-form-urlencoded", redemption("c").Encode(), 400},
		{"a body over the limit", "POST", "/token", "application/x-www-form-urlencoded", "code=" + strings.Repeat("a", 65<<10), 413},
		{"a backslash variant of the token path", "POST", "/token%5C", "application/x-www-form-urlencoded", redemption("c").Encode(), 400},
		{"code[] (PHP, Rack and qs read it as code)", "POST", "/token", "application/x-www-form-urlencoded", "grant_type=authorization_code&code%5B%5D=c", 400},
	}
	for _, tc := range malformed {
		t.Run(tc.name+" is refused with invalid_request", func(t *testing.T) {
			before := h.up.tokenCount()
			wantTokenError(t, h, h.tokenRequest(tc.method, tc.path, "conf", tc.contentType, tc.body), before, tc.status, "invalid_request")
		})
	}
	for _, tc := range []struct {
		name   string
		header http.Header
	}{
		{"a second Content-Type (an upstream may read the last)", http.Header{"Content-Type": {"application/x-www-form-urlencoded", "application/json"}}},
		{"a content-coded body", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Content-Encoding": {"gzip"}}},
		{"two Authorization headers", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Authorization": {"Basic Y29uZjp4", "Basic b3RoZXI6eQ=="}}},
	} {
		t.Run(tc.name+" is refused with invalid_request", func(t *testing.T) {
			before := h.up.tokenCount()
			req, _ := http.NewRequest(http.MethodPost, h.gw.URL+"/token", strings.NewReader(redemption("c").Encode()))
			req.Header = tc.header
			resp, err := h.http.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			wantTokenError(t, h, resp, before, http.StatusBadRequest, "invalid_request")
		})
	}
	t.Run("a code with a grant_type an upstream trims to authorization_code is checked", func(t *testing.T) {
		code := h.pushedCode("conf")
		before := h.up.tokenCount()
		wantTokenError(t, h, h.redeem("/token", "conf", with(redemption(code), "grant_type", "authorization_code\x00", "code_verifier", strings.Repeat("x", 43))), before, http.StatusBadRequest, "invalid_grant")
	})
	t.Run("discovery advertises S256", func(t *testing.T) {
		resp := h.get("/.well-known/openid-configuration")
		defer resp.Body.Close()
		var doc map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&doc)
		if got := fmt.Sprint(doc["code_challenge_methods_supported"]); got != "[S256]" {
			t.Fatalf("code_challenge_methods_supported = %s", got)
		}
	})
}

func TestTokenEndpointWithoutBinding(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	t.Run("without it a wrong verifier reaches the upstream", func(t *testing.T) {
		uri := h.mustPush("conf", pkce(codeFlow("s")))
		resp := h.authorize(url.Values{"client_id": {"conf"}, "request_uri": {uri}})
		loc, _ := resp.Location()
		resp.Body.Close()
		body := with(redemption(loc.Query().Get("code")), "code_verifier", strings.Repeat("x", 43))
		wantRedeemed(t, h, h.redeem("/token", "conf", body), body.Encode())
	})
	t.Run("and discovery does not claim PKCE", func(t *testing.T) {
		resp := h.get("/.well-known/openid-configuration")
		defer resp.Body.Close()
		var doc map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&doc)
		if _, ok := doc["code_challenge_methods_supported"]; ok {
			t.Fatalf("code_challenge_methods_supported advertised: %v", doc["code_challenge_methods_supported"])
		}
	})
}

func TestTokenEndpointStoreOutage(t *testing.T) {
	srv := redistest.Start(t)
	st, err := store.NewRedis(store.RedisOptions{URL: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := codeHarness(t, st, nil)
	code := h.pushedCode("conf")
	srv.Stop()
	for name, body := range map[string]url.Values{
		"a tracked code":   redemption(code),
		"an untracked one": redemption("upstream-only-code"),
	} {
		t.Run(name+" is answered 503 temporarily_unavailable, never passed unchecked", func(t *testing.T) {
			before := h.up.tokenCount()
			wantTokenError(t, h, h.redeem("/token", "conf", body), before, http.StatusServiceUnavailable, "temporarily_unavailable")
		})
	}
	t.Run("other grant types keep flowing", func(t *testing.T) {
		body := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"rt"}}
		wantRedeemed(t, h, h.redeem("/token", "conf", body), body.Encode())
	})
}

// TestTokenEndpointBindsCodesOfJARMFlows: a plain (not pushed) request with
// a JWT response mode is tracked too, so its code is recorded with the
// code_challenge of the request itself.
func TestTokenEndpointBindsCodesOfJARMFlows(t *testing.T) {
	h := codeHarnessWith(t, nil, nil, true)
	q := pkce(plainQuery("conf"))
	q.Set("response_mode", "query.jwt")
	resp := h.authorize(q)
	resp.Body.Close()
	loc, _ := resp.Location()
	if resp.StatusCode != http.StatusFound || loc.Query().Get("response") == "" {
		t.Fatalf("no JARM response: %d %v", resp.StatusCode, loc)
	}
	code := fmt.Sprintf("code-%d", h.up.count()) // the upstream's n-th code
	before := h.up.tokenCount()
	wantTokenError(t, h, h.redeem("/token", "conf", with(redemption(code), "code_verifier", strings.Repeat("x", 43))), before, http.StatusBadRequest, "invalid_grant")
	body := redemption(code)
	wantTokenError(t, h, h.redeem("/token", "conf", body), before+1, http.StatusBadRequest, "invalid_grant")

	resp = h.authorize(q)
	resp.Body.Close()
	body = redemption(fmt.Sprintf("code-%d", h.up.count()))
	wantRedeemed(t, h, h.redeem("/token", "conf", body), body.Encode())
}
