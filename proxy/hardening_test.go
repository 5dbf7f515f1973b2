package proxy

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/parjarm/parjarm/flow"
)

func TestAuthorizationPathVariantsAreRefused(t *testing.T) {
	h := newHarness(t, harnessOptions{requirePAR: true})
	q := codeFlow("s")
	q.Set("client_id", "conf")
	for _, p := range []string{"/Authorize", "/authorize/", "/authorize;x=1", "//authorize", "/./authorize", "/AUTHORIZE/"} {
		t.Run(p, func(t *testing.T) {
			before := h.up.count()
			wantErrorPage(t, h.get(p+"?"+q.Encode()), http.StatusBadRequest, "invalid_request")
			if h.up.count() != before {
				t.Fatal("the request reached the upstream")
			}
		})
	}
	t.Run("HEAD and other methods get 405", func(t *testing.T) {
		for _, m := range []string{http.MethodHead, http.MethodPut, http.MethodDelete} {
			req, _ := http.NewRequest(m, h.gw.URL+"/authorize?"+q.Encode(), nil)
			resp, err := h.http.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, POST" {
				t.Fatalf("%s: %d %q", m, resp.StatusCode, resp.Header.Get("Allow"))
			}
		}
	})
}

func TestUnreadableResponsesNeverLeak(t *testing.T) {
	for _, tc := range []struct {
		name    string
		respond func(q url.Values) string
		status  int
		code    string
	}{
		{"a ; separator hides the state", func(q url.Values) string {
			return q.Get("redirect_uri") + "?code=leak;state=" + q.Get("state")
		}, http.StatusBadGateway, "server_error"},
		{"a repeated state", func(q url.Values) string {
			return q.Get("redirect_uri") + "?code=leak&state=" + q.Get("state") + "&state=other"
		}, http.StatusBadGateway, "server_error"},
		{"an unknown id on the gateway's own host with a code", func(q url.Values) string {
			return "/app/cb?code=leak&state=" + flow.NewID()
		}, http.StatusBadRequest, "invalid_request"},
		{"an unparsable Location", func(q url.Values) string {
			return "https://client.example:abc/cb?code=leak&state=" + q.Get("state")
		}, http.StatusBadGateway, "server_error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, harnessOptions{})
			h.up.setRespond(tc.respond)
			uri := h.mustPush("conf", codeFlow("s"))
			resp := h.authorize(url.Values{"client_id": {"conf"}, "request_uri": {uri}})
			if strings.Contains(resp.Header.Get("Location"), "leak") {
				t.Fatalf("the plain response leaked: %q", resp.Header.Get("Location"))
			}
			wantErrorPage(t, resp, tc.status, tc.code)
		})
	}
}

func TestNonUTF8ParametersAreRefused(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	wantErrorPage(t, h.get("/authorize?client_id=conf&state=%FF"), http.StatusBadRequest, "invalid_request")
}
