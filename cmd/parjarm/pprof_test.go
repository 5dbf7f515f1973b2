package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
)

// PARJARM_PPROF mounts the Go profiles on the admin listener only; off by
// default.
func TestPprofIsOptInAndOnlyOnTheAdminListener(t *testing.T) {
	for _, tc := range []struct {
		name      string
		pprof     string // "" = unset
		wantAdmin int
	}{
		{"unset: no profiles on the admin listener", "", http.StatusNotFound},
		{"false: no profiles on the admin listener", "false", http.StatusNotFound},
		{"true: profiles on the admin listener", "true", http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			issuer, admin, env := gatewayEnv(t)
			if tc.pprof != "" {
				env["PARJARM_PPROF"] = tc.pprof
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- run(ctx, nil, env, io.Discard) }()
			t.Cleanup(func() { cancel(); <-done })
			waitReady(t, "http://"+admin+"/readyz", done)

			for _, p := range []string{"/debug/pprof/", "/debug/pprof/goroutine?debug=1", "/debug/pprof/cmdline"} {
				status, body := httpGet(t, "http://"+admin+p)
				if status != tc.wantAdmin {
					t.Fatalf("admin %s: status %d, want %d", p, status, tc.wantAdmin)
				}
				if tc.wantAdmin == http.StatusOK && p == "/debug/pprof/goroutine?debug=1" && !strings.Contains(body, "goroutine profile:") {
					t.Fatalf("admin %s did not serve a goroutine profile: %.200q", p, body)
				}
			}
			// The public listener never serves them: the path is the
			// upstream's, proxied (the test upstream has no such page).
			status, body := httpGet(t, issuer+"/debug/pprof/")
			if status != http.StatusNotFound || strings.Contains(body, "profile") {
				t.Fatalf("public /debug/pprof/: status %d, body %.200q; want the upstream's 404", status, body)
			}
			if status, _ := httpGet(t, "http://"+admin+"/metrics"); status != http.StatusOK {
				t.Fatalf("admin /metrics: status %d, want 200", status)
			}
		})
	}
}
