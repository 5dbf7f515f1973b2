package par

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// BenchmarkPush measures one push by a client_secret_basic client into the
// memory store: parse, authenticate, validate, store, answer.
func BenchmarkPush(b *testing.B) {
	e := newEnv(b)
	body, auth := form(authParams("conf")...), basic("conf", testSecret)
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, testPARURL, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Authorization", auth)
		w := httptest.NewRecorder()
		e.svc.ServeHTTP(w, r)
		if w.Code != http.StatusCreated {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

// BenchmarkPushJAR measures a push with an ES256 request object (no jti, so
// the same object can be pushed again) by a client_secret_basic client.
func BenchmarkPushJAR(b *testing.B) {
	e := newEnv(b)
	claims := roClaims("conf", e.clock.Now())
	delete(claims, "jti")
	body := form("client_id", "conf", "request", signRequestObject(b, e.key, jose.ES256, "oauth-authz-req+jwt", claims))
	auth := basic("conf", testSecret)
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, testPARURL, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Authorization", auth)
		w := httptest.NewRecorder()
		e.svc.ServeHTTP(w, r)
		if w.Code != http.StatusCreated {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

// BenchmarkExpand measures the expansion of one request_uri (a reload of
// the authorization page) from the memory store, policy re-check included.
func BenchmarkExpand(b *testing.B) {
	e := newEnv(b)
	uri := e.pushFor(b, "conf", testSecret)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.svc.Expand(ctx, "conf", uri); err != nil {
			b.Fatal(err)
		}
	}
}
