package proxy

import (
	"net/http"
	"net/url"
	"sync"
	"testing"
)

// A completed flow's upstream redirect is replaced by the gateway's answer;
// the upstream's body must still be drained so that its connection goes
// back to the pool. A soak profile found every completed flow dialling the
// upstream anew.
func TestCompletedFlowsReuseTheUpstreamConnection(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	var mu sync.Mutex
	conns := map[string]bool{}
	next := h.up.srv.Config.Handler
	h.up.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/authorize" {
			mu.Lock()
			conns[r.RemoteAddr] = true
			mu.Unlock()
			// Like most servers (and http.Redirect), the upstream sends
			// its redirect with a small HTML body.
			w = &redirectBody{ResponseWriter: w}
		}
		next.ServeHTTP(w, r)
	})
	for range 5 {
		uri := h.mustPush("conf", codeFlow("s"))
		resp := h.authorize(url.Values{"client_id": {"conf"}, "request_uri": {uri}})
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("flow: status %d, want 302", resp.StatusCode)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(conns) != 1 {
		t.Fatalf("5 sequential flows reached the upstream over %d connections, want 1 (reused)", len(conns))
	}
}

// redirectBody adds a body to a redirect, as http.Redirect writes one.
type redirectBody struct{ http.ResponseWriter }

func (w *redirectBody) WriteHeader(code int) {
	w.ResponseWriter.WriteHeader(code)
	if code >= 300 && code < 400 {
		_, _ = w.ResponseWriter.Write([]byte("<a href=\"" + w.Header().Get("Location") + "\">See Other</a>.\n"))
	}
}
