package proxy

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/parjarm/parjarm/flow"
)

// sentLocation makes the upstream answer with build(q) and keeps the last
// Location it sent.
func sentLocation(h *harness, build func(q url.Values) string) func() string {
	var mu sync.Mutex
	var last string
	h.up.setRespond(func(q url.Values) string {
		loc := build(q)
		mu.Lock()
		last = loc
		mu.Unlock()
		return loc
	})
	return func() string { mu.Lock(); defer mu.Unlock(); return last }
}

// pushedFlow pushes a code flow for conf and returns the gateway's
// authorization URL for it.
func pushedFlow(h *harness) string {
	h.t.Helper()
	uri := h.mustPush("conf", codeFlow("s"))
	return "/authorize?" + url.Values{"client_id": {"conf"}, "request_uri": {uri}}.Encode()
}

// wantTaken replays the last authorization query the upstream saw, now
// answered normally: the transaction it names was completed by the refusal,
// so the replay cannot deliver it.
func wantTaken(t *testing.T, h *harness) {
	t.Helper()
	h.up.setRespond(defaultResponse)
	replay := h.get("/authorize?" + h.up.last().Encode())
	if loc := replay.Header.Get("Location"); strings.Contains(loc, "code-123") {
		t.Fatalf("the refused transaction delivered later: %q", loc)
	}
	wantErrorPage(t, replay, http.StatusBadRequest, "invalid_request")
}

// An id-shaped run inside a code, token or ID Token is not our state: the
// untracked response passes untouched (issue 13, defect 3).
func TestAnIDInsideAResponseValuePassesUntouched(t *testing.T) {
	for _, tc := range []struct {
		name  string
		build func(q url.Values, id string) string
	}{
		{"inside a code", func(q url.Values, id string) string {
			return q.Get("redirect_uri") + "?code=xxx" + id + "yyy&state=" + q.Get("state")
		}},
		{"at the start of a code", func(q url.Values, id string) string {
			return q.Get("redirect_uri") + "?code=" + id + "yyy&state=" + q.Get("state")
		}},
		{"at the end of an access token in the fragment", func(q url.Values, id string) string {
			return q.Get("redirect_uri") + "#access_token=xxx" + id + "&token_type=Bearer&state=" + q.Get("state")
		}},
		{"inside an ID Token", func(q url.Values, id string) string {
			return q.Get("redirect_uri") + "#code=c&id_token=eyJhbGciOiJSUzI1NiJ9.eyJ" + id + ".c2ln&state=" + q.Get("state")
		}},
		{"inside a percent-encoded value", func(q url.Values, id string) string {
			return q.Get("redirect_uri") + "?code=a%2F" + id + "%2B&state=" + q.Get("state")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, harnessOptions{})
			id := flow.NewID()
			sent := sentLocation(h, func(q url.Values) string { return tc.build(q, id) })
			q := codeFlow("s")
			q.Set("client_id", "conf")
			resp := h.authorize(q)
			resp.Body.Close()
			if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != sent() {
				t.Fatalf("got %d %q, want the upstream's 303 %q", resp.StatusCode, resp.Header.Get("Location"), sent())
			}
		})
	}
}

// A `?` inside the fragment does not hide the response parameters before
// it: a redirect to the gateway's own host that carries a code is the end of
// a flow, not an upstream step (issue 13, defect 6a).
func TestAQuestionMarkInTheFragmentDoesNotHideAResponse(t *testing.T) {
	t.Run("an unknown id", func(t *testing.T) {
		for _, shape := range []string{
			"/cb#code=leak&state=%s&next=/a?b",
			"/cb#code=leak&state=%s?",
			"/#/cb?code=leak&state=%s",
			"/cb#x?code=leak&state=%s",
		} {
			t.Run(shape, func(t *testing.T) {
				h := newHarness(t, harnessOptions{})
				h.up.setRespond(func(url.Values) string {
					return h.issuer() + strings.Replace(shape, "%s", flow.NewID(), 1)
				})
				q := codeFlow("s")
				q.Set("client_id", "conf")
				resp := h.get("/authorize?" + q.Encode())
				if strings.Contains(resp.Header.Get("Location"), "leak") {
					t.Fatalf("the code passed: %q", resp.Header.Get("Location"))
				}
				wantErrorPage(t, resp, http.StatusBadRequest, "invalid_request")
			})
		}
	})
	t.Run("a live id", func(t *testing.T) {
		h := newHarness(t, harnessOptions{})
		h.up.setRespond(func(q url.Values) string {
			return h.issuer() + "/cb#code=leak&state=" + q.Get("state") + "&next=/a?b"
		})
		resp := h.get(pushedFlow(h))
		if strings.Contains(resp.Header.Get("Location"), "leak") {
			t.Fatalf("the code passed: %q", resp.Header.Get("Location"))
		}
		wantErrorPage(t, resp, http.StatusBadGateway, "server_error")
		wantTaken(t, h)
	})
}

// A Location that a browser resolves to another host (WHATWG URL: `\` is a
// path separator in http(s) URLs, tabs and newlines are removed) leaves the
// authorization server: it never passes with a live transaction id, and the
// transaction is completed (issue 13, defect 6b).
func TestLocationsABrowserSendsElsewhereLeaveTheServer(t *testing.T) {
	for _, shape := range []string{
		`/\evil.example/cb?state=%s`,
		`\\evil.example/cb?state=%s`,
		`\/evil.example/cb?state=%s`,
		"/\t/evil.example/cb?state=%s",
		"\\\t\\evil.example/cb?state=%s",
		`///evil.example/cb?state=%s`,
		`https:\\evil.example/cb?state=%s`,
		`https:evil.example/cb?state=%s`,
		`/\evil.example/cb?x=1;state=%s`,
		`/\evil.example/cb?state=%s&state=%s`,
	} {
		t.Run(shape, func(t *testing.T) {
			h := newHarness(t, harnessOptions{})
			h.up.setRespond(func(q url.Values) string {
				return strings.ReplaceAll(shape, "%s", q.Get("state"))
			})
			resp := h.get(pushedFlow(h))
			wantErrorPage(t, resp, http.StatusBadGateway, "server_error")
			wantTaken(t, h)
		})
	}
	t.Run("a Refresh header to the client with a live id is refused", func(t *testing.T) {
		h := newHarness(t, harnessOptions{})
		h.up.mu.Lock()
		h.up.refresh = true
		h.up.mu.Unlock()
		resp := h.get(pushedFlow(h))
		wantErrorPage(t, resp, http.StatusBadGateway, "server_error")
		wantTaken(t, h)
	})
	t.Run("a relative login step still works", func(t *testing.T) {
		h := newHarness(t, harnessOptions{})
		h.up.setInteractive(true)
		// follow goes through the upstream's /login?return=… redirect.
		resp := h.follow(h.gw.URL + pushedFlow(h))
		resp.Body.Close()
		loc, _ := resp.Location()
		if resp.StatusCode != http.StatusFound || loc.Query().Get("code") != "code-123" || loc.Query().Get("state") != "s" || h.up.count() != 2 {
			t.Fatalf("got %d %v after %d upstream requests", resp.StatusCode, loc, h.up.count())
		}
	})
}

var testHosts = []string{"gw.example", "up.internal:8080"}

func TestStaysOn(t *testing.T) {
	for _, tc := range []struct {
		location string
		want     bool
	}{
		{"/login?return=%2Fauthorize%3Fstate%3Dpjt_x", true},
		{"/login?return=/authorize?response_type=code&state=s", true},
		{"login", true},
		{"?step=2", true},
		{"", true},
		{"https://gw.example/login", true},
		{"HTTPS://GW.EXAMPLE/login", true},
		{"//gw.example/login", true},
		{`/\gw.example/login`, true},
		{"http://up.internal:8080/login", true},
		{"https://someone@gw.example/login", true},
		{"/a\\b/c", true},
		{"/\tlogin", true},

		{"//evil.example/cb", false},
		{`/\evil.example/cb`, false},
		{`\\evil.example/cb`, false},
		{`\/evil.example/cb`, false},
		{"/\t/evil.example/cb", false},
		{"/\n/evil.example/cb", false},
		{"/\r\\evil.example/cb", false},
		{" //evil.example/cb", false},
		{"\x00//evil.example/cb", false},
		{"\x1f\\\\evil.example", false},
		{"\x1f\\evil.example", true}, // a path: /evil.example
		{"///evil.example/cb", false},
		{"////evil.example", false},
		{"https:evil.example/cb", false},
		{`https:\\evil.example/cb`, false},
		{`https:/\evil.example/cb`, false},
		{"https:///evil.example/cb", false},
		{`https://evil.example\@gw.example/`, false},
		{"https://gw.example@evil.example/", false},
		{"https://gw.example.evil.example/", false},
		{"https://gw.example:444/", false},
		{"h\ttps://evil.example/", false},
		{"///", false},
		{"https://", false},
		{"https:", false},
		{"javascript:alert(1)", false},
		{"foo://gw.example/", false},
		{"com.example.app:/cb", false},
		{"https://gw.example:abc/", false},

		{"/cb?code=x", false},
		{"/cb#x?code=x", false},
		{"/cb#state=s&code=x?", false},
		{"/#/cb?code=x", false},
		{"/cb?co%64e=x", false},
		{"/cb?co\tde=x", false},
		{"/cb;x#a#access_token=t", false},
		{"/cb?error=access_denied", false},
		{"/cb?x=1;id_token=t", false},
		{"/cb#response=jwt", false},
	} {
		if got := staysOn(tc.location, testHosts); got != tc.want {
			t.Errorf("staysOn(%q) = %v, want %v", tc.location, got, tc.want)
		}
	}
}

// FuzzStaysOn checks that the verdict is the one for the Location as a
// browser reads it: tabs and newlines anywhere and `\` for `/` before the
// query change nothing, and a Location that stays resolves, against a page
// of the gateway, to one of its hosts.
func FuzzStaysOn(f *testing.F) {
	for _, s := range []string{"/login?return=x", `/\evil.example/cb?state=s`, "https:evil.example", "//gw.example/a#b?code=1", "/\t/x", "foo:/\\gw.example"} {
		f.Add(s, uint16(1))
	}
	page, _ := url.Parse("https://gw.example/authorize")
	f.Fuzz(func(t *testing.T, location string, at uint16) {
		got := staysOn(location, testHosts)
		i := int(at) % (len(location) + 1)
		for _, c := range []string{"\t", "\n", "\r"} {
			if other := location[:i] + c + location[i:]; staysOn(other, testHosts) != got {
				t.Fatalf("staysOn(%q) = %v but staysOn(%q) = %v", location, got, other, !got)
			}
		}
		end := strings.IndexAny(location, "?#")
		if end < 0 {
			end = len(location)
		}
		if other := strings.ReplaceAll(location[:end], "/", `\`) + location[end:]; staysOn(other, testHosts) != got {
			t.Fatalf("staysOn(%q) = %v but staysOn(%q) = %v", location, got, other, !got)
		}
		if !got {
			return
		}
		if carriesResponse(location) {
			t.Fatalf("staysOn(%q) although it carries a response", location)
		}
		u, ok := browserURL(location)
		if !ok {
			t.Fatalf("staysOn(%q) although a browser cannot follow it", location)
		}
		if host := page.ResolveReference(u).Host; !slices.ContainsFunc(testHosts, func(h string) bool { return strings.EqualFold(h, host) }) {
			t.Fatalf("staysOn(%q) but it resolves to host %q", location, host)
		}
	})
}

func TestRefreshTarget(t *testing.T) {
	for in, want := range map[string]string{
		"0; url=https://c.example/cb?code=x": "https://c.example/cb?code=x",
		"5;URL='https://c.example/'":         "https://c.example/",
		"0; https://c.example/":              "https://c.example/",
		"10":                                 "",
		"":                                   "",
	} {
		if got := refreshTarget(in); got != want {
			t.Errorf("refreshTarget(%q) = %q, want %q", in, got, want)
		}
	}
}
