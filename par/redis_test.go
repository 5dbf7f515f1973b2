package par

import (
	"context"
	"net/http"
	"testing"

	"github.com/parjarm/parjarm/internal/redistest"
	"github.com/parjarm/parjarm/store"
)

// TestRedisOutage runs one Service against a real redis-server that goes
// away and comes back.
func TestRedisOutage(t *testing.T) {
	srv := redistest.Start(t)
	rs, err := store.NewRedis(store.RedisOptions{URL: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rs.Close() })
	e := newEnv(t, func(c *envConfig) { c.store = rs })
	ctx := context.Background()
	body, auth := form(authParams("conf")...), basic("conf", testSecret)

	uri := pushed(t, e.post(body, auth)).RequestURI
	x, err := e.svc.Expand(ctx, "conf", uri)
	if err != nil {
		t.Fatalf("expand with Redis up: %v", err)
	}

	srv.Stop()
	wantError(t, e.post(body, auth), http.StatusServiceUnavailable, "temporarily_unavailable")
	_, err = e.svc.Expand(ctx, "conf", uri)
	wantOAuthError(t, err, http.StatusServiceUnavailable, "temporarily_unavailable")
	wantOAuthError(t, e.svc.Consume(ctx, x.Key), http.StatusServiceUnavailable, "temporarily_unavailable")
	if got := counter(t, e.metrics.Pushes.WithLabelValues("temporarily_unavailable")); got != 1 {
		t.Errorf("pushes{outcome=temporarily_unavailable} = %v, want 1", got)
	}

	srv.Restart() // empty: what was pushed before is gone
	uri = pushed(t, e.post(body, auth)).RequestURI
	x, err = e.svc.Expand(ctx, "conf", uri)
	if err != nil {
		t.Fatalf("expand after Redis came back: %v", err)
	}
	if err := e.svc.Consume(ctx, x.Key); err != nil {
		t.Fatalf("consume after Redis came back: %v", err)
	}
	_, err = e.svc.Expand(ctx, "conf", uri)
	wantOAuthError(t, err, http.StatusBadRequest, "invalid_request_uri")
}

// TestRedisJTIOutage checks that a request object is never accepted without
// its replay check.
func TestRedisJTIOutage(t *testing.T) {
	srv := redistest.Start(t)
	rs, err := store.NewRedis(store.RedisOptions{URL: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rs.Close() })
	e := newEnv(t, func(c *envConfig) { c.store = rs })
	raw := signRequestObject(t, e.key, "ES256", "oauth-authz-req+jwt", roClaims("conf", e.clock.Now()))
	body := form("client_id", "conf", "request", raw)

	srv.Stop()
	wantError(t, e.post(body, basic("conf", testSecret)), http.StatusServiceUnavailable, "temporarily_unavailable")
	srv.Restart()
	pushed(t, e.post(body, basic("conf", testSecret)))
	wantError(t, e.post(body, basic("conf", testSecret)), http.StatusBadRequest, "invalid_request_object")
}
