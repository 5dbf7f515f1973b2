package client_test

import (
	"sync"
	"testing"

	"github.com/parjarm/parjarm/client"
)

// TestSwappable: a lookup sees the registry stored last, and lookups
// during swaps find whole clients (run with -race: no data race).
func TestSwappable(t *testing.T) {
	a, err := client.Parse([]byte(`{"clients":[{"client_id":"a","client_secret":"a-secret-0123456789","redirect_uris":["https://a.example/cb"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	b, err := client.Parse([]byte(`{"clients":[{"client_id":"b","client_secret":"b-secret-0123456789","redirect_uris":["https://b.example/cb"],"require_pushed_authorization_requests":true}]}`))
	if err != nil {
		t.Fatal(err)
	}
	s := client.NewSwappable(a)
	var _ client.Clients = s
	if _, ok := s.Lookup("a"); !ok || s.RequiresPAR() || s.Len() != 1 {
		t.Fatal("the first registry is not served")
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				for _, id := range []string{"a", "b"} {
					if c, ok := s.Lookup(id); ok && (c.ID != id || len(c.RedirectURIs) != 1) {
						t.Errorf("Lookup(%q) found %q", id, c.ID)
						return
					}
				}
			}
		}()
	}
	for range 100 {
		s.Store(b)
		s.Store(a)
	}
	wg.Wait()
	s.Store(b)
	if _, ok := s.Lookup("a"); ok {
		t.Fatal("the removed client is still found")
	}
	if c, ok := s.Lookup("b"); !ok || c.ID != "b" || !s.RequiresPAR() || s.Load() != b {
		t.Fatal("the stored registry is not served")
	}
}
