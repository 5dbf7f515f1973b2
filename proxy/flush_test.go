package proxy

import (
	"bufio"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A streamed upstream response (no Content-Length, or Server-Sent Events)
// reaches the client as it is written, not when the upstream finishes.
func TestStreamedResponsesAreFlushedAsTheyComeIn(t *testing.T) {
	for _, c := range []struct{ name, contentType string }{
		{"unknown length", "text/plain"},
		{"server-sent events", "text/event-stream"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, harnessOptions{})
			release := make(chan struct{})
			next := h.up.srv.Config.Handler
			h.up.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/stream" {
					next.ServeHTTP(w, r)
					return
				}
				w.Header().Set("Content-Type", c.contentType)
				_, _ = io.WriteString(w, "first\n")
				w.(http.Flusher).Flush()
				select {
				case <-release:
				case <-time.After(10 * time.Second):
				}
				_, _ = io.WriteString(w, "second\n")
			})
			resp := h.get("/stream")
			defer resp.Body.Close()
			defer close(release)
			if resp.StatusCode != http.StatusOK || resp.ContentLength != -1 {
				t.Fatalf("status %d, Content-Length %d; want 200, unknown", resp.StatusCode, resp.ContentLength)
			}
			got := make(chan string, 1)
			go func() {
				line, _ := bufio.NewReader(resp.Body).ReadString('\n')
				got <- line
			}()
			select {
			case line := <-got:
				if strings.TrimSpace(line) != "first" {
					t.Fatalf("first line %q, want first", line)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the first part did not arrive while the upstream was still writing")
			}
		})
	}
}
