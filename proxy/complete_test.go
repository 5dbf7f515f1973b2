package proxy

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/parjarm/parjarm/store"
)

// countingStore counts the reads (Get) and takes (Take, TakeLinked) of
// transaction keys.
type countingStore struct {
	store.Store
	mu          sync.Mutex
	gets, takes int
}

// count adds one to *n when key is a transaction's.
func (s *countingStore) count(key string, n *int) {
	if strings.HasPrefix(key, "parjarm:"+store.NSTransaction+":") {
		s.mu.Lock()
		*n++
		s.mu.Unlock()
	}
}

func (s *countingStore) Get(ctx context.Context, key string) ([]byte, error) {
	s.count(key, &s.gets)
	return s.Store.Get(ctx, key)
}

func (s *countingStore) Take(ctx context.Context, key string) ([]byte, error) {
	s.count(key, &s.takes)
	return s.Store.Take(ctx, key)
}

func (s *countingStore) TakeLinked(ctx context.Context, key string) ([]byte, map[string][]byte, error) {
	s.count(key, &s.takes)
	return s.Store.TakeLinked(ctx, key)
}

func (s *countingStore) counts() (gets, takes int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gets, s.takes
}

// A redirect that leaves the authorization server ends the flow: the
// transaction is taken at once, without reading it first (one store round
// trip per completed flow; found by profiling bench/compare).
func TestCompletingRedirectTakesTheTransactionWithoutReadingIt(t *testing.T) {
	st := &countingStore{Store: store.NewMemory(store.MemoryOptions{})}
	h := newHarness(t, harnessOptions{store: st})
	parFlowDelivers(t, h)
	if gets, takes := st.counts(); gets != 0 || takes != 1 {
		t.Fatalf("transaction reads %d, takes %d; want 0 and 1", gets, takes)
	}
}

// A redirect that stays inside the authorization server (a sign-in step
// that carries the flow's state but no response) only reads the
// transaction, which the later redirect to the client then completes.
func TestInternalRedirectKeepsTheTransaction(t *testing.T) {
	st := &countingStore{Store: store.NewMemory(store.MemoryOptions{})}
	h := newHarness(t, harnessOptions{store: st})
	next := h.up.srv.Config.Handler
	h.up.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/authorize":
			// The sign-in page, on the server's own host, with the state.
			http.Redirect(w, r, "/login?"+r.URL.RawQuery, http.StatusFound)
		case "/login":
			r2 := r.Clone(r.Context())
			r2.URL.Path = "/authorize"
			next.ServeHTTP(w, r2)
		default:
			next.ServeHTTP(w, r)
		}
	})
	parFlowDelivers(t, h)
	if gets, takes := st.counts(); gets != 1 || takes != 1 {
		t.Fatalf("transaction reads %d, takes %d; want 1 (the sign-in step) and 1 (the end)", gets, takes)
	}
}

// parFlowDelivers runs a PAR flow of client conf and checks that it ends in
// a 302 to the client's redirect_uri with the code and the client's state.
func parFlowDelivers(t *testing.T, h *harness) {
	t.Helper()
	uri := h.mustPush("conf", codeFlow("client-state"))
	resp := h.authorize(url.Values{"client_id": {"conf"}, "request_uri": {uri}})
	resp.Body.Close()
	loc, err := resp.Location()
	if resp.StatusCode != http.StatusFound || err != nil {
		t.Fatalf("flow: status %d (%v), want 302 to the client", resp.StatusCode, err)
	}
	if q := loc.Query(); !strings.HasPrefix(loc.String(), redirectURI+"?") || q.Get("code") == "" || q.Get("state") != "client-state" {
		t.Fatalf("flow: redirect %q is not the client's with the code and its state", loc.Redacted())
	}
}
