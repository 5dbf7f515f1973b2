package par

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/parjarm/parjarm/client"
	"github.com/parjarm/parjarm/store"
)

// pushFor pushes valid parameters for a client_secret_basic client and
// returns the request_uri.
func (e *env) pushFor(t testing.TB, clientID, secret string) string {
	t.Helper()
	return pushed(t, e.post(form(authParams(clientID)...), basic(clientID, secret))).RequestURI
}

func TestExpandReturnsThePushedRequest(t *testing.T) {
	e := newEnv(t)
	uri := e.pushFor(t, "conf", testSecret)
	x, err := e.svc.Expand(context.Background(), "conf", uri)
	if err != nil {
		t.Fatal(err)
	}
	if x.Client.ID != "conf" {
		t.Errorf("client = %q, want conf", x.Client.ID)
	}
	if got, want := x.Params.Encode(), e.stored(t, uri).Params.Encode(); got != want {
		t.Errorf("params = %s, want %s", got, want)
	}
	if x.Params.Has("request_uri") || x.Params.Has("request") {
		t.Error("expanded params hold request_uri or request")
	}
	if want := RequestURIKey(uri); x.Key != want {
		t.Errorf("key = %q, want %q", x.Key, want)
	}
	if want := e.clock.Now().Add(DefaultLifetime); !x.ExpiresAt.Equal(want) {
		t.Errorf("expires at %v, want %v", x.ExpiresAt, want)
	}
	if got := counter(t, e.metrics.Expansions.WithLabelValues("expanded")); got != 1 {
		t.Errorf("expansions{outcome=expanded} = %v, want 1", got)
	}
}

func TestExpandWorksForEveryReloadUntilConsumed(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	uri := e.pushFor(t, "conf", testSecret)
	var key string
	for i := range 3 {
		x, err := e.svc.Expand(ctx, "conf", uri)
		if err != nil {
			t.Fatalf("expansion %d: %v", i+1, err)
		}
		key = x.Key
		e.clock.Advance(10 * time.Second)
	}
	if err := e.svc.Consume(ctx, key); err != nil {
		t.Fatalf("consume: %v", err)
	}
	_, err := e.svc.Expand(ctx, "conf", uri)
	wantOAuthError(t, err, http.StatusBadRequest, "invalid_request_uri")
	wantOAuthError(t, e.svc.Consume(ctx, key), http.StatusBadRequest, "invalid_request_uri")
}

func TestConsumeOnceOfManyRacingFlows(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	x, err := e.svc.Expand(ctx, "conf", e.pushFor(t, "conf", testSecret))
	if err != nil {
		t.Fatal(err)
	}
	const flows = 16
	var wg sync.WaitGroup
	errs := make(chan error, flows)
	for range flows {
		wg.Go(func() { errs <- e.svc.Consume(ctx, x.Key) })
	}
	wg.Wait()
	close(errs)
	won := 0
	for err := range errs {
		if err == nil {
			won++
			continue
		}
		wantOAuthError(t, err, http.StatusBadRequest, "invalid_request_uri")
	}
	if won != 1 {
		t.Errorf("%d flows consumed the request_uri, want 1", won)
	}
}

func TestExpandRefuses(t *testing.T) {
	tests := []struct {
		name     string
		clientID string
		uri      func(t *testing.T, e *env) string
		before   func(t *testing.T, e *env)
		status   int
		code     string
	}{
		{name: "a request_uri pushed by another client", clientID: "post",
			status: 400, code: "invalid_request_uri"},
		{name: "an unknown request_uri", uri: func(*testing.T, *env) string { return RequestURIPrefix + "bm90LWEtcmVhbC1vbmU" },
			status: 400, code: "invalid_request_uri"},
		{name: "a request_uri without our prefix", uri: func(*testing.T, *env) string { return "https://rp.example/request.jwt" },
			status: 400, code: "invalid_request_uri"},
		{name: "a request without client_id", clientID: "-",
			status: 400, code: "invalid_request"},
		{name: "an expired request_uri", before: func(_ *testing.T, e *env) { e.clock.Advance(DefaultLifetime) },
			status: 400, code: "invalid_request_uri"},
		{name: "a request_uri whose redirect_uri is no longer registered", before: func(t *testing.T, e *env) {
			cs := testClients(e.key)
			cs[0].RedirectURIs = []string{"https://rp.example/new-cb"}
			e.reg.p.Store(mustRegistry(t, cs...))
		}, status: 400, code: "invalid_request"},
		{name: "a request_uri of a client that now requires signed request objects", before: func(t *testing.T, e *env) {
			cs := testClients(e.key)
			cs[0].RequireSignedRequestObject = true
			e.reg.p.Store(mustRegistry(t, cs...))
		}, status: 400, code: "invalid_request"},
		{name: "a request_uri of a client that is no longer registered", before: func(t *testing.T, e *env) {
			e.reg.p.Store(mustRegistry(t, testClients(e.key)[1:]...))
		}, status: 400, code: "invalid_request_uri"},
		{name: "a request_uri of a client now limited to other response types", before: func(t *testing.T, e *env) {
			cs := testClients(e.key)
			cs[0].ResponseTypes = []string{"code id_token"}
			e.reg.p.Store(mustRegistry(t, cs...))
		}, status: 400, code: "unauthorized_client"},
		{name: "a request_uri whose stored value is corrupt", uri: func(t *testing.T, e *env) string {
			uri := RequestURIPrefix + "corrupt"
			if err := e.store.Put(context.Background(), RequestURIKey(uri), store.Seal(store.NSRequestURI, uri, []byte("{")), time.Minute); err != nil {
				t.Fatal(err)
			}
			return uri
		}, status: 400, code: "invalid_request_uri"},
		{name: "a request_uri whose stored value is truncated", uri: func(t *testing.T, e *env) string {
			uri := RequestURIPrefix + "truncated"
			v := (&PushedRequest{ClientID: "conf", ExpiresAt: e.clock.Now().Add(time.Minute)}).marshal()
			if err := e.store.Put(context.Background(), RequestURIKey(uri), store.Seal(store.NSRequestURI, uri, v[:len(v)-1]), time.Minute); err != nil {
				t.Fatal(err)
			}
			return uri
		}, status: 400, code: "invalid_request_uri"},
		{name: "a request_uri whose stored value has an unknown format byte", uri: func(t *testing.T, e *env) string {
			uri := RequestURIPrefix + "format"
			v := (&PushedRequest{ClientID: "conf", Params: e.stored(t, e.pushFor(t, "conf", testSecret)).Params, ExpiresAt: e.clock.Now().Add(time.Minute)}).marshal()
			v[0] = pushedRequestFormat + 1
			if err := e.store.Put(context.Background(), RequestURIKey(uri), store.Seal(store.NSRequestURI, uri, v), time.Minute); err != nil {
				t.Fatal(err)
			}
			return uri
		}, status: 400, code: "invalid_request_uri"},
		{name: "a request_uri whose request an older version stored unsealed", uri: func(t *testing.T, e *env) string {
			uri := RequestURIPrefix + "unsealed"
			old, err := json.Marshal(PushedRequest{ClientID: "conf", Params: e.stored(t, e.pushFor(t, "conf", testSecret)).Params, ExpiresAt: e.clock.Now().Add(time.Minute)})
			if err != nil {
				t.Fatal(err)
			}
			if err := e.store.Put(context.Background(), RequestURIKey(uri), old, time.Minute); err != nil {
				t.Fatal(err)
			}
			return uri
		}, status: 400, code: "invalid_request_uri"},
		{name: "a request_uri whose value was moved from another request_uri's key", uri: func(t *testing.T, e *env) string {
			ctx := context.Background()
			other := e.pushFor(t, "conf", testSecret)
			v, err := e.store.Get(ctx, RequestURIKey(other))
			if err != nil {
				t.Fatal(err)
			}
			uri := RequestURIPrefix + "moved"
			if err := e.store.Put(ctx, RequestURIKey(uri), v, time.Minute); err != nil {
				t.Fatal(err)
			}
			return uri
		}, status: 400, code: "invalid_request_uri"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			uri := e.pushFor(t, "conf", testSecret)
			if tt.uri != nil {
				uri = tt.uri(t, e)
			}
			if tt.before != nil {
				tt.before(t, e)
			}
			clientID := tt.clientID
			switch clientID {
			case "":
				clientID = "conf"
			case "-":
				clientID = ""
			}
			x, err := e.svc.Expand(context.Background(), clientID, uri)
			// A policy failure of a found request comes back with its
			// Expansion, so the caller can answer in the client's mode;
			// anything else comes back alone.
			policy := tt.code == "invalid_request" || tt.code == "unauthorized_client"
			if policy && tt.clientID == "" {
				if x == nil || x.Client.ID != "conf" || x.Params.Get("state") == "" {
					t.Errorf("expansion = %+v, want the stored request", x)
				}
			} else if x != nil {
				t.Errorf("expansion = %+v, want none", x)
			}
			wantOAuthError(t, err, tt.status, tt.code)
			if got := counter(t, e.metrics.Expansions.WithLabelValues(tt.code)); got != 1 {
				t.Errorf("expansions{outcome=%q} = %v, want 1", tt.code, got)
			}
		})
	}
}

// A request pushed before an upgrade, which the version before stored as
// JSON, still expands.
func TestExpandReadsTheJSONOfTheVersionBefore(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	pushed := e.stored(t, e.pushFor(t, "conf", testSecret))
	old, err := json.Marshal(PushedRequest{ClientID: "conf", Params: pushed.Params, ExpiresAt: e.clock.Now().Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if old[0] != '{' {
		t.Fatalf("the JSON form starts with %q", old[0])
	}
	uri := newRequestURI("")
	if err := e.store.Put(ctx, RequestURIKey(uri), store.Seal(store.NSRequestURI, uri, old), time.Minute); err != nil {
		t.Fatal(err)
	}
	x, err := e.svc.Expand(ctx, "conf", uri)
	if err != nil {
		t.Fatal(err)
	}
	if x.Client.ID != "conf" || x.Params.Encode() != pushed.Params.Encode() || !x.ExpiresAt.Equal(e.clock.Now().Add(time.Minute)) {
		t.Errorf("expansion = %+v, want the stored request", x)
	}
	if err := e.svc.Consume(ctx, x.Key); err != nil {
		t.Errorf("consume: %v", err)
	}
}

func TestExpandHonoursEachClientsLifetime(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	short := e.pushFor(t, "short", "short-secret") // par_lifetime 30
	long := e.pushFor(t, "conf", testSecret)       // default 60
	e.clock.Advance(30 * time.Second)
	_, err := e.svc.Expand(ctx, "short", short)
	wantOAuthError(t, err, http.StatusBadRequest, "invalid_request_uri")
	if _, err := e.svc.Expand(ctx, "conf", long); err != nil {
		t.Errorf("conf's request_uri expired after 30 s: %v", err)
	}
}

func TestConsumeAfterExpiryWithinTheCompletionWindow(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	x, err := e.svc.Expand(ctx, "conf", e.pushFor(t, "conf", testSecret))
	if err != nil {
		t.Fatal(err)
	}
	// The user takes five minutes to log in: longer than expires_in.
	e.clock.Advance(5 * time.Minute)
	if err := e.svc.Consume(ctx, x.Key); err != nil {
		t.Errorf("a flow expanded in time could not complete: %v", err)
	}
}

func TestConsumeAfterTheCompletionWindow(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	x, err := e.svc.Expand(ctx, "conf", e.pushFor(t, "conf", testSecret))
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(DefaultLifetime + DefaultCompletionWindow)
	wantOAuthError(t, e.svc.Consume(ctx, x.Key), http.StatusBadRequest, "invalid_request_uri")
}

func TestRequiresPAR(t *testing.T) {
	tests := []struct {
		name   string
		global bool
		client client.Client
		want   bool
	}{
		{name: "neither the gateway nor the client requires PAR", want: false},
		{name: "the gateway requires PAR", global: true, want: true},
		{name: "the client requires PAR", client: client.Client{RequirePAR: true}, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(Options{RequirePAR: tt.global}, nil, nil, nil, nil, nil, nil)
			if got := s.RequiresPAR(&tt.client); got != tt.want {
				t.Errorf("RequiresPAR = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestIsRequestURI(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{RequestURIPrefix + "abc", true},
		{RequestURIPrefix, true},
		{"urn:ietf:params:oauth:request_uri", false},
		{"https://rp.example/ro.jwt", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := IsRequestURI(tt.in); got != tt.want {
			t.Errorf("IsRequestURI(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
