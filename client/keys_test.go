package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parjarm/parjarm/client"
)

// uriClient is a client whose keys live at uri.
func uriClient(uri string) *client.Client {
	return &client.Client{ID: "uri-app", TokenEndpointAuthMethod: client.AuthPrivateKeyJWT, JWKSURI: uri}
}

func TestKeySetReturnsInlineKeysWithoutFetching(t *testing.T) {
	testKeys(t)
	f := client.NewKeyFetcher(client.FetchOptions{})
	c := &client.Client{ID: "a", JWKS: ecKey.set()}
	set, err := f.KeySet(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if set != c.JWKS {
		t.Error("KeySet did not return the inline jwks")
	}
	if _, err := f.KeySet(context.Background(), &client.Client{ID: "b"}); err == nil {
		t.Error("KeySet of a client without keys succeeded")
	}
}

func TestKeySetCachesTheJWKSURIDocument(t *testing.T) {
	testKeys(t)
	srv := &jwksServer{}
	srv.serve(ecKey.set())
	ts := httptest.NewServer(srv)
	defer ts.Close()
	clk := newClock()
	f := client.NewKeyFetcher(client.FetchOptions{HTTPClient: ts.Client(), CacheTTL: time.Minute, Now: clk.Now})
	c := uriClient(ts.URL)

	keySet := func() string {
		t.Helper()
		set, err := f.KeySet(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		if len(set.Keys) != 1 {
			t.Fatalf("set has %d keys, want 1", len(set.Keys))
		}
		return set.Keys[0].KeyID
	}

	t.Run("the second call is a cache hit", func(t *testing.T) {
		keySet()
		keySet()
		if n := srv.count(); n != 1 {
			t.Errorf("fetches = %d, want 1", n)
		}
	})
	t.Run("an expired entry is fetched again", func(t *testing.T) {
		srv.serve(ecKey2.set())
		clk.Advance(time.Minute)
		if kid := keySet(); kid != "ec-2" {
			t.Errorf("kid = %q, want the new ec-2", kid)
		}
		if n := srv.count(); n != 2 {
			t.Errorf("fetches = %d, want 2", n)
		}
	})
	t.Run("Invalidate right after a fetch is ignored", func(t *testing.T) {
		f.Invalidate(ts.URL)
		keySet()
		if n := srv.count(); n != 2 {
			t.Errorf("fetches = %d, want 2", n)
		}
	})
	t.Run("Invalidate later forces a fetch", func(t *testing.T) {
		clk.Advance(client.DefaultMinRefreshInterval)
		f.Invalidate(ts.URL)
		keySet()
		if n := srv.count(); n != 3 {
			t.Errorf("fetches = %d, want 3", n)
		}
	})
	t.Run("Invalidate of an unknown URI does nothing", func(t *testing.T) {
		f.Invalidate("https://unknown.example/jwks")
		keySet()
		if n := srv.count(); n != 3 {
			t.Errorf("fetches = %d, want 3", n)
		}
	})
}

func TestKeySetServesAStaleSetWhileRefreshFails(t *testing.T) {
	testKeys(t)
	srv := &jwksServer{}
	srv.serve(ecKey.set())
	ts := httptest.NewServer(srv)
	defer ts.Close()
	clk := newClock()
	f := client.NewKeyFetcher(client.FetchOptions{HTTPClient: ts.Client(), CacheTTL: time.Minute, Now: clk.Now})
	c := uriClient(ts.URL)
	if _, err := f.KeySet(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	srv.fail(http.StatusServiceUnavailable, nil)

	clk.Advance(time.Minute + time.Second)
	set, err := f.KeySet(context.Background(), c)
	if err != nil {
		t.Fatalf("within 2×TTL: %v", err)
	}
	if set.Keys[0].KeyID != "ec-1" {
		t.Errorf("kid = %q, want the cached ec-1", set.Keys[0].KeyID)
	}
	if n := srv.count(); n != 2 {
		t.Errorf("fetches = %d, want 2 (one failed refresh)", n)
	}

	// A failure is remembered for MinRefreshInterval: no fetch per request.
	if _, err := f.KeySet(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if n := srv.count(); n != 2 {
		t.Errorf("fetches = %d, want 2 (failure remembered)", n)
	}

	clk.Advance(time.Minute)
	_, err = f.KeySet(context.Background(), c)
	if err == nil || !strings.Contains(err.Error(), "status 503") {
		t.Fatalf("beyond 2×TTL: error = %v, want the fetch failure", err)
	}

	srv.serve(ecKey2.set())
	clk.Advance(client.DefaultMinRefreshInterval)
	set, err = f.KeySet(context.Background(), c)
	if err != nil {
		t.Fatalf("after recovery: %v", err)
	}
	if set.Keys[0].KeyID != "ec-2" {
		t.Errorf("kid = %q, want ec-2", set.Keys[0].KeyID)
	}
}

func TestKeySetRefusesBadDocuments(t *testing.T) {
	testKeys(t)
	const marker = "BODY-MARKER-must-not-leak"
	privateSet, err := json.Marshal(map[string]any{"keys": []any{ecKey.private}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    string
	}{
		{"a non-200 answer is an error", func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, marker, http.StatusNotFound)
		}, "status 404"},
		{"an oversized document is an error", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(`{"keys": [], "pad": "` + strings.Repeat(marker, 100) + `"}`))
		}, "larger than 1024 bytes"},
		{"a document that is not JSON is an error", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte("<html>" + marker))
		}, "not a JWK set"},
		{"a key the parser refuses is an error", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(`{"keys": [{"kty": "` + marker + `"}]}`))
		}, "not a JWK set"},
		{"a private key in the document is an error", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write(privateSet)
		}, "private or symmetric"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := httptest.NewServer(tt.handler)
			defer ts.Close()
			f := client.NewKeyFetcher(client.FetchOptions{MaxBytes: 1024, HTTPClient: ts.Client()})
			_, err := f.KeySet(context.Background(), uriClient(ts.URL))
			if err == nil {
				t.Fatal("KeySet succeeded, want an error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if !strings.Contains(err.Error(), ts.URL) {
				t.Errorf("error %q does not name the jwks_uri", err)
			}
			if strings.Contains(err.Error(), "MARKER") || strings.Contains(err.Error(), `"d"`) {
				t.Errorf("error %q leaks the response body", err)
			}
		})
	}
}

func TestKeySetTimesOut(t *testing.T) {
	release := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer ts.Close()
	defer close(release)
	f := client.NewKeyFetcher(client.FetchOptions{HTTPClient: ts.Client(), Timeout: 50 * time.Millisecond})
	_, err := f.KeySet(context.Background(), uriClient(ts.URL))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error = %v, want a deadline exceeded", err)
	}
}

func TestKeySetHonoursTheCallersContext(t *testing.T) {
	release := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer ts.Close()
	defer close(release)
	f := client.NewKeyFetcher(client.FetchOptions{HTTPClient: ts.Client()})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := f.KeySet(ctx, uriClient(ts.URL))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
}

func TestKeySetCollapsesConcurrentFetches(t *testing.T) {
	testKeys(t)
	var (
		mu      sync.Mutex
		fetches int
	)
	started := make(chan struct{})
	release := make(chan struct{})
	body, err := json.Marshal(ecKey.set())
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		fetches++
		first := fetches == 1
		mu.Unlock()
		if first {
			close(started)
		}
		<-release
		_, _ = w.Write(body)
	}))
	defer ts.Close()
	f := client.NewKeyFetcher(client.FetchOptions{HTTPClient: ts.Client()})
	c := uriClient(ts.URL)

	const callers = 20
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for range callers {
		wg.Go(func() {
			set, err := f.KeySet(context.Background(), c)
			if err == nil && len(set.Keys) != 1 {
				err = errors.New("wrong set")
			}
			errs <- err
		})
	}
	<-started
	// Let every caller reach the shared fetch before it completes. This is
	// not a TTL: a caller that came late would only hit the cache.
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if fetches != 1 {
		t.Errorf("fetches = %d, want 1 for %d concurrent callers", fetches, callers)
	}
}

func TestDefaultHTTPClientRefusesRedirectsToHTTP(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://attacker.example/jwks", http.StatusFound)
	}))
	defer ts.Close()
	f := client.NewKeyFetcher(client.FetchOptions{})
	_, err := f.KeySet(context.Background(), uriClient(ts.URL))
	if err == nil || !strings.Contains(err.Error(), "must use https") {
		t.Fatalf("error = %v, want the redirect refused", err)
	}
}
