package par

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

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

// A push authenticated with private_key_jwt costs one round trip to Redis:
// one script writes the assertion's replay mark and the request (INFO
// commandstats: one EVAL, whose two SETs Redis counts too, and nothing
// else); the replay stores nothing (the script's SET NX fails).
func TestRedisPrivateKeyJWTPushIsOneRoundTrip(t *testing.T) {
	srv := redistest.Start(t)
	rs, err := store.NewRedis(store.RedisOptions{URL: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rs.Close() })
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { _ = admin.Close() })
	e := newEnv(t, func(c *envConfig) { c.store = rs })
	ctx := context.Background()
	if err := rs.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	body := pkjPush(t, e, "redis-assertion")

	for _, tc := range []struct {
		name string
		push func()
		want string
	}{
		{"push", func() { pushed(t, e.post(body, "")) }, "eval=1 set=2"},
		{"replay", func() { wantError(t, e.post(body, ""), http.StatusUnauthorized, "invalid_client") }, "eval=1 set=1"},
	} {
		if err := admin.ConfigResetStat(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		tc.push()
		info, err := admin.Info(ctx, "commandstats").Result()
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, line := range strings.Split(info, "\r\n") {
			name, rest, ok := strings.Cut(strings.TrimPrefix(line, "cmdstat_"), ":calls=")
			if !ok || name == "config|resetstat" || name == "info" || name == "hello" || strings.HasPrefix(name, "client|") {
				continue
			}
			got = append(got, name+"="+rest[:strings.IndexByte(rest, ',')])
		}
		slices.Sort(got)
		if strings.Join(got, " ") != tc.want {
			t.Errorf("%s: Redis executed %v, want %s", tc.name, got, tc.want)
		}
	}
}
