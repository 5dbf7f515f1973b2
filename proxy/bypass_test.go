package proxy

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// unsignedJWT is a request object with claims, as an upstream would read it
// before (or without) verifying it.
func unsignedJWT(claims map[string]any) string {
	b, _ := json.Marshal(claims)
	return "eyJhbGciOiJub25lIn0." + base64.RawURLEncoding.EncodeToString(b) + "."
}

// postAuthorize POSTs body to the authorization endpoint with query in its
// URL, without following redirects.
func (h *harness) postAuthorize(query, body string) *http.Response {
	h.t.Helper()
	target := h.gw.URL + "/authorize"
	if query != "" {
		target += "?" + query
	}
	req, _ := http.NewRequest(http.MethodPost, target, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := h.http.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp
}

// plainQuery is a complete plain authorization request of clientID.
func plainQuery(clientID string) url.Values {
	q := codeFlow("s")
	q.Set("client_id", clientID)
	return q
}

// TestRequirePARCannotBeBypassed: a client's own
// require_pushed_authorization_requests holds against every way an upstream
// may read a non-pushed request of that client (RFC 9126, section 6). The
// test upstream merges query and body as fosite does.
func TestRequirePARCannotBeBypassed(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	strict := plainQuery("strict").Encode()
	split := plainQuery("strict")
	split.Del("client_id")
	for _, tc := range []struct {
		name, method, query, body string
		path                      string
		code                      string
	}{
		{"POST with the request in the query and an empty body", "POST", strict, "", "", "invalid_request"},
		{"POST with the request in the body", "POST", "", strict, "", "invalid_request"},
		{"POST with client_id in the query and the rest in the body", "POST", "client_id=strict", split.Encode(), "", "invalid_request"},
		{"POST with client_id in the body and the rest in the query", "POST", split.Encode(), "client_id=strict", "", "invalid_request"},
		{"POST with another client_id in the body than in the query", "POST", strict, "client_id=conf", "", "invalid_request"},
		{"POST with the same client_id in the query and the body", "POST", strict, "client_id=strict", "", "invalid_request"},
		{"a client_id given twice", "GET", "client_id=conf&" + strict, "", "", "invalid_request"},
		{"CLIENT_ID in capitals (ASP.NET reads names without case)", "GET", strings.Replace(strict, "client_id=", "CLIENT_ID=", 1), "", "", "invalid_request"},
		{"Client_Id next to another client's client_id", "GET", plainQuery("conf").Encode() + "&Client_Id=strict", "", "", "invalid_request"},
		{"client.id (PHP reads it as client_id)", "GET", strings.Replace(strict, "client_id=", "client.id=", 1), "", "", "invalid_request"},
		{"client id with a space (PHP reads it as client_id)", "GET", strings.Replace(strict, "client_id=", "client+id=", 1), "", "", "invalid_request"},
		{"a client_id with a NUL byte in its name", "GET", strings.Replace(strict, "client_id=", "client_id%00=", 1), "", "", "invalid_request"},
		{"a request object of the client next to another client's client_id", "GET",
			"client_id=conf&request=" + unsignedJWT(map[string]any{"client_id": "strict", "iss": "strict", "response_type": "code", "redirect_uri": redirectURI}), "", "", "invalid_request_object"},
		{"a request object whose iss is the client", "GET",
			"client_id=conf&request=" + unsignedJWT(map[string]any{"iss": "strict"}), "", "", "invalid_request_object"},
		{"a request object with client_id twice", "GET",
			"client_id=conf&request=" + base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"client_id":"conf","client_id":"strict"}`)) + ".", "", "", "invalid_request_object"},
		{"a request object with CLIENT_ID (Go's encoding/json reads it as client_id)", "GET",
			"client_id=conf&request=" + unsignedJWT(map[string]any{"client_id": "conf", "CLIENT_ID": "strict"}), "", "", "invalid_request_object"},
		{"an encrypted request object, whose client cannot be read", "GET",
			"client_id=conf&request=eyJhbGciOiJSU0EtT0FFUC0yNTYiLCJlbmMiOiJBMTI4R0NNIn0.a.b.c.d", "", "", "invalid_request_object"},
		{"a request object without client_id", "GET",
			"request=" + unsignedJWT(map[string]any{"client_id": "strict"}), "", "", "invalid_request"},
		{"a request_uri by reference", "GET", "client_id=conf&request_uri=https%3A%2F%2Fattacker.example%2Freq.jwt", "", "", "invalid_request"},
		{"client_id[] (PHP, Rack and qs read it as client_id)", "GET", strings.Replace(strict, "client_id=", "client_id%5B%5D=", 1), "", "", "invalid_request"},
		{"client_id[0]", "GET", strings.Replace(strict, "client_id=", "client_id%5B0%5D=", 1), "", "", "invalid_request"},
		{"clıent_id with a dotless i (Java's equalsIgnoreCase)", "GET", strings.Replace(strict, "client_id=", "cl%C4%B1ent_id=", 1), "", "", "invalid_request"},
		{"a format suffix on the path", "GET", strict, "", "/authorize.json", "invalid_request"},
		{"a backslash after the path (IIS reads it as /)", "GET", strict, "", "/authorize%5C", "invalid_request"},
		{"a backslash inside the path", "GET", strict, "", "/%5Cauthorize", "invalid_request"},
		{"a NUL after the path (a C upstream ends the path there)", "GET", strict, "", "/authorize%00.css", "invalid_request"},
		{"a format suffix and a trailing dot", "GET", strict, "", "/authorize.json.", "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := h.up.count()
			var resp *http.Response
			switch {
			case tc.path != "":
				resp = h.get(tc.path + "?" + tc.query)
			case tc.method == "POST":
				resp = h.postAuthorize(tc.query, tc.body)
			default:
				resp = h.get("/authorize?" + tc.query)
			}
			wantErrorPage(t, resp, http.StatusBadRequest, tc.code)
			if h.up.count() != before {
				t.Fatal("the request reached the upstream")
			}
		})
	}
}

// TestAuthorizationRequestsAreRebuilt: what the upstream receives is rebuilt
// from the parameters the gateway checked, nothing else.
func TestAuthorizationRequestsAreRebuilt(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	t.Run("a POST split between query and body reaches the upstream as one body", func(t *testing.T) {
		q := plainQuery("conf")
		q.Del("scope")
		resp := h.postAuthorize(q.Encode(), "scope=openid+email")
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("status %d", resp.StatusCode)
		}
		raw := h.up.lastRaw()
		q.Set("scope", "openid email")
		if raw.method != http.MethodPost || raw.query != "" || raw.body != q.Encode() {
			t.Fatalf("upstream got %s ?%s body %q, want POST with body %q", raw.method, raw.query, raw.body, q.Encode())
		}
	})
	t.Run("a GET's body never reaches the upstream", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, h.gw.URL+"/authorize?"+plainQuery("conf").Encode(), strings.NewReader("client_id=strict"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := h.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if raw := h.up.lastRaw(); resp.StatusCode != http.StatusSeeOther || raw.method != http.MethodGet || raw.body != "" || raw.query != plainQuery("conf").Encode() {
			t.Fatalf("status %d, upstream got %+v", resp.StatusCode, raw)
		}
	})
	t.Run("a request object of the client named by client_id passes", func(t *testing.T) {
		ro := unsignedJWT(map[string]any{"client_id": "conf", "iss": "conf"})
		resp := h.get("/authorize?client_id=conf&request=" + ro)
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || h.up.last().Get("request") != ro {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
	t.Run("an empty state is kept", func(t *testing.T) {
		q := plainQuery("conf")
		q.Set("state", "")
		resp := h.get("/authorize?" + q.Encode())
		resp.Body.Close()
		if got := h.up.last(); resp.StatusCode != http.StatusSeeOther || !got.Has("state") || got.Get("state") != "" {
			t.Fatalf("status %d, upstream state %v", resp.StatusCode, got["state"])
		}
	})
}

// TestRequestObjectsPassWithoutPARPolicy: without any client that
// requires PAR, request objects and request_uris by reference pass to the
// upstream as before.
func TestRequestObjectsPassWithoutPARPolicy(t *testing.T) {
	clients := defaultClients()
	for _, c := range clients {
		c.RequirePAR = false
	}
	h := newHarness(t, harnessOptions{clients: clients})
	for _, q := range []string{
		"client_id=conf&request=eyJhbGciOiJSU0EtT0FFUC0yNTYiLCJlbmMiOiJBMTI4R0NNIn0.a.b.c.d",
		"client_id=conf&request_uri=https%3A%2F%2Fclient.example%2Freq.jwt",
	} {
		before := h.up.count()
		resp := h.get("/authorize?" + q)
		resp.Body.Close()
		if h.up.count() != before+1 {
			t.Fatalf("%s: status %d, the request did not reach the upstream", q, resp.StatusCode)
		}
	}
}

// TestRememberedQueryEndsWithItsFlow: the upstream's re-entry with the
// expanded query passes while the flow runs, and is a request without PAR
// once the flow completed (the README's promise), not until the
// transaction's TTL.
func TestRememberedQueryEndsWithItsFlow(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.up.setInteractive(true)
	uri := h.mustPush("strict", codeFlow("s"))
	resp := h.get("/authorize?" + url.Values{"client_id": {"strict"}, "request_uri": {uri}}.Encode())
	resp.Body.Close()
	done := h.follow(h.gw.URL + resp.Header.Get("Location"))
	done.Body.Close()
	if loc, _ := done.Location(); done.StatusCode != http.StatusFound || loc == nil || loc.Query().Get("code") != "code-123" {
		t.Fatalf("completion: %d", done.StatusCode)
	}
	expanded := h.up.last()
	before := h.up.count()
	wantErrorPage(t, h.get("/authorize?"+expanded.Encode()), http.StatusBadRequest, "invalid_request")
	if h.up.count() != before {
		t.Fatal("the completed flow's query reached the upstream again")
	}
}

// TestUpstreamReentryWithItsOwnParameters: an upstream that re-enters its
// authorization endpoint with its own parameters added (ORY Hydra's
// login_verifier) passes where PAR is required; nothing else added does.
func TestUpstreamReentryWithItsOwnParameters(t *testing.T) {
	h := newHarness(t, harnessOptions{mutate: func(o *Options) { o.ReentryParams = []string{"login_verifier", "consent_verifier"} }})
	start := func(extra string) url.Values {
		h.up.mu.Lock()
		h.up.reentryExtra = extra
		h.up.mu.Unlock()
		h.up.setInteractive(true)
		uri := h.mustPush("strict", codeFlow("s"))
		resp := h.get("/authorize?" + url.Values{"client_id": {"strict"}, "request_uri": {uri}}.Encode())
		resp.Body.Close()
		return h.up.last()
	}
	t.Run("the expanded query with the upstream's verifier completes", func(t *testing.T) {
		h.up.mu.Lock()
		h.up.reentryExtra = "login_verifier=v-1"
		h.up.mu.Unlock()
		h.up.setInteractive(true)
		uri := h.mustPush("strict", codeFlow("s"))
		done := h.authorize(url.Values{"client_id": {"strict"}, "request_uri": {uri}})
		defer done.Body.Close()
		if loc, _ := done.Location(); done.StatusCode != http.StatusFound || loc == nil || loc.Query().Get("code") != "code-123" {
			t.Fatalf("completion: %d %v", done.StatusCode, loc)
		}
		if got := h.up.last(); got.Get("login_verifier") != "v-1" {
			t.Fatalf("the upstream's re-entry lost its verifier: %v", got)
		}
	})
	for _, tc := range []struct{ name, extra string }{
		{"a parameter the upstream does not add", "foo=1"},
		{"an OAuth parameter", "prompt=none"},
		{"a changed OAuth parameter", "scope=openid+admin"},
	} {
		t.Run("the expanded query with "+tc.name+" is refused", func(t *testing.T) {
			expanded := start("")
			add, _ := url.ParseQuery(tc.extra)
			for k, v := range add {
				expanded[k] = v
			}
			before := h.up.count()
			wantErrorPage(t, h.get("/authorize?"+expanded.Encode()), http.StatusBadRequest, "invalid_request")
			if h.up.count() != before {
				t.Fatal("the request reached the upstream")
			}
		})
	}
	t.Run("a verifier on a plain request is refused", func(t *testing.T) {
		q := plainQuery("strict")
		q.Set("login_verifier", "v-1")
		wantErrorPage(t, h.get("/authorize?"+q.Encode()), http.StatusBadRequest, "invalid_request")
	})
}
