package main

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"
)

// startGateway runs the gateway with env until the test ends and waits
// until it is ready. An admin address is chosen when env names none. The
// gateway's output is logged when the test fails, and a run that ends with
// an error, or does not stop within 20 s, fails the test.
func startGateway(t *testing.T, env map[string]string) {
	t.Helper()
	if env["PARJARM_ADMIN_ADDR"] == "" {
		env["PARJARM_ADMIN_ADDR"] = freeAddr(t)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, env, &out) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("the gateway did not shut down within 20 s")
		}
		if t.Failed() {
			t.Log(out.String())
		}
	})
	waitReady(t, "http://"+env["PARJARM_ADMIN_ADDR"]+"/readyz", done)
}

// httpGet GETs u and returns the status and the body.
func httpGet(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
