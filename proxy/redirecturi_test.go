package proxy

import (
	"net/http"
	"testing"
)

// TestPlainRequestsNeedAnExactRedirectURI: an upstream that matches
// redirect URIs loosely (ORY Hydra ignores the port and the userinfo of a
// loopback redirect URI) would send a code to a URI the client never
// registered; the gateway refuses every such plain request of a registered
// client with an error page, before the upstream sees it.
func TestPlainRequestsNeedAnExactRedirectURI(t *testing.T) {
	h := newHarness(t, harnessOptions{mutate: func(o *Options) { o.EnforceRedirectURIs = true }})
	for _, tc := range []struct{ name, uri string }{
		{"userinfo", "https://evil@client.example/cb"},
		{"a port", "https://client.example:8443/cb"},
		{"the default port spelt out", "https://client.example:443/cb"},
		{"the host in another case", "https://CLIENT.example/cb"},
		{"the path in another case", "https://client.example/CB"},
		{"a longer path", "https://client.example/cb/evil"},
		{"a trailing slash", "https://client.example/cb/"},
		{"another query", "https://client.example/cb?tenant=8"},
		{"an added query", "https://client.example/cb?x=1"},
		{"a fragment", "https://client.example/cb#x"},
		{"an escaped character", "https://client.example/c%62"},
		{"an empty value", ""},
	} {
		t.Run("a redirect_uri that differs by "+tc.name+" gets an error page", func(t *testing.T) {
			before := h.up.count()
			q := plainQuery("conf")
			q.Set("redirect_uri", tc.uri)
			wantErrorPage(t, h.get("/authorize?"+q.Encode()), http.StatusBadRequest, "invalid_request")
			if h.up.count() != before {
				t.Fatal("the upstream saw the request")
			}
		})
	}
	t.Run("in a POST body too", func(t *testing.T) {
		before := h.up.count()
		q := plainQuery("conf")
		q.Set("redirect_uri", "https://evil@client.example/cb")
		wantErrorPage(t, h.postAuthorize("", q.Encode()), http.StatusBadRequest, "invalid_request")
		if h.up.count() != before {
			t.Fatal("the upstream saw the request")
		}
	})
	for _, uri := range []string{redirectURI, "https://client.example/cb?tenant=7"} {
		t.Run("a registered redirect_uri is forwarded: "+uri, func(t *testing.T) {
			q := plainQuery("conf")
			q.Set("redirect_uri", uri)
			resp := h.authorize(q)
			resp.Body.Close()
			if resp.StatusCode != http.StatusSeeOther || h.up.last().Get("redirect_uri") != uri {
				t.Fatalf("status %d, upstream saw %q", resp.StatusCode, h.up.last().Get("redirect_uri"))
			}
		})
	}
	t.Run("a request without redirect_uri is left to the upstream's registered default", func(t *testing.T) {
		q := plainQuery("conf")
		q.Del("redirect_uri")
		resp := h.get("/authorize?" + q.Encode())
		resp.Body.Close()
		if h.up.last().Has("redirect_uri") || h.up.last().Get("client_id") != "conf" {
			t.Fatalf("not forwarded: %v", h.up.last())
		}
	})
	t.Run("a client the gateway does not know is the upstream's business", func(t *testing.T) {
		q := plainQuery("unknown-client")
		q.Set("redirect_uri", "https://evil@client.example/cb")
		resp := h.get("/authorize?" + q.Encode())
		resp.Body.Close()
		if h.up.last().Get("client_id") != "unknown-client" {
			t.Fatal("not forwarded")
		}
	})
	t.Run("without the rule, the upstream's looseness is reachable", func(t *testing.T) {
		off := newHarness(t, harnessOptions{})
		q := plainQuery("conf")
		q.Set("redirect_uri", "https://evil@client.example/cb")
		resp := off.get("/authorize?" + q.Encode())
		resp.Body.Close()
		if off.up.count() != 1 || off.up.last().Get("redirect_uri") != "https://evil@client.example/cb" {
			t.Fatal("the upstream did not see the request")
		}
	})
}
