package flow

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parjarm/parjarm/internal/redistest"
	"github.com/parjarm/parjarm/store"
)

// clock is a settable clock shared by a memory store and a tracker.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

func trackers(t *testing.T) map[string]func(t *testing.T) (*Tracker, func(time.Duration)) {
	return map[string]func(t *testing.T) (*Tracker, func(time.Duration)){
		"memory": func(t *testing.T) (*Tracker, func(time.Duration)) {
			c := &clock{now: time.Unix(1_700_000_000, 0)}
			st := store.NewMemory(store.MemoryOptions{Now: c.Now})
			t.Cleanup(func() { st.Close() })
			return NewTracker(st, time.Minute, c.Now), c.Advance
		},
		"redis": func(t *testing.T) (*Tracker, func(time.Duration)) {
			srv := redistest.Start(t)
			st, err := store.NewRedis(store.RedisOptions{URL: srv.URL()})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return NewTracker(st, 300*time.Millisecond, nil), time.Sleep
		},
	}
}

func TestTracker(t *testing.T) {
	for name, newTracker := range trackers(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			t.Run("an opened transaction is taken once", func(t *testing.T) {
				tr, _ := newTracker(t)
				in := &Transaction{ClientID: "c", RedirectURI: "https://c.example/cb", ResponseType: "code",
					Mode: Mode{Base: ModeQuery, JWT: true}, State: "a b&c", HasState: true, RequestURIKey: "k"}
				id, err := tr.Open(ctx, in, nil)
				if err != nil {
					t.Fatal(err)
				}
				if !IsID(id) {
					t.Fatalf("IsID(%q) = false", id)
				}
				got, err := tr.Take(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if got.ClientID != "c" || got.RedirectURI != in.RedirectURI || got.Mode != in.Mode || got.State != "a b&c" || !got.HasState || got.RequestURIKey != "k" {
					t.Fatalf("got %+v", got)
				}
				if _, err := tr.Take(ctx, id); !errors.Is(err, ErrUnknown) {
					t.Fatalf("second Take: %v, want ErrUnknown", err)
				}
			})
			t.Run("an unknown id is unknown", func(t *testing.T) {
				tr, _ := newTracker(t)
				if _, err := tr.Take(ctx, NewID()); !errors.Is(err, ErrUnknown) {
					t.Fatalf("err = %v", err)
				}
			})
			t.Run("an expired transaction is unknown", func(t *testing.T) {
				tr, advance := newTracker(t)
				id, err := tr.Open(ctx, &Transaction{ClientID: "c"}, nil)
				if err != nil {
					t.Fatal(err)
				}
				advance(tr.TTL() + 50*time.Millisecond)
				if _, err := tr.Take(ctx, id); !errors.Is(err, ErrUnknown) {
					t.Fatalf("err = %v", err)
				}
			})
			t.Run("of concurrent takes exactly one wins", func(t *testing.T) {
				tr, _ := newTracker(t)
				id, err := tr.Open(ctx, &Transaction{ClientID: "c"}, nil)
				if err != nil {
					t.Fatal(err)
				}
				var wins atomic.Int32
				var wg sync.WaitGroup
				for range 16 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						if _, err := tr.Take(ctx, id); err == nil {
							wins.Add(1)
						}
					}()
				}
				wg.Wait()
				if wins.Load() != 1 {
					t.Fatalf("%d takes won", wins.Load())
				}
			})
			t.Run("a remembered query is recognised however it is encoded", func(t *testing.T) {
				tr, _ := newTracker(t)
				q := url.Values{"client_id": {"c"}, "scope": {"openid profile"}}
				id, err := tr.Open(ctx, &Transaction{ClientID: "c"}, q)
				if err != nil {
					t.Fatal(err)
				}
				if q.Get("state") != id {
					t.Fatalf("the upstream query's state is %q, want the id", q.Get("state"))
				}
				replay, _ := url.ParseQuery("scope=openid%20profile&state=" + id + "&client_id=c")
				if ok, err := tr.Remembered(ctx, replay); err != nil || !ok {
					t.Fatalf("Remembered = %v, %v", ok, err)
				}
				changed := url.Values{"client_id": {"c"}, "state": {id}, "scope": {"openid profile email"}}
				if ok, err := tr.Remembered(ctx, changed); err != nil || ok {
					t.Fatalf("a modified query was recognised: %v, %v", ok, err)
				}
			})
			t.Run("a remembered query is forgotten when its flow completes", func(t *testing.T) {
				tr, _ := newTracker(t)
				q := url.Values{"client_id": {"c"}, "scope": {"openid"}}
				id, err := tr.Open(ctx, &Transaction{ClientID: "c"}, q)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := tr.Take(ctx, id); err != nil {
					t.Fatal(err)
				}
				if ok, err := tr.Remembered(ctx, q); err != nil || ok {
					t.Fatalf("Remembered after completion = %v, %v, want false", ok, err)
				}
			})
			t.Run("a remembered query expires with its flow", func(t *testing.T) {
				tr, advance := newTracker(t)
				q := url.Values{"client_id": {"c"}}
				if _, err := tr.Open(ctx, &Transaction{ClientID: "c"}, q); err != nil {
					t.Fatal(err)
				}
				advance(tr.TTL() + 50*time.Millisecond)
				if ok, err := tr.Remembered(ctx, q); err != nil || ok {
					t.Fatalf("Remembered after expiry = %v, %v, want false", ok, err)
				}
			})
		})
	}
}

func TestTrackerStoreOutage(t *testing.T) {
	srv := redistest.Start(t)
	st, err := store.NewRedis(store.RedisOptions{URL: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tr := NewTracker(st, time.Minute, nil)
	srv.Stop()
	ctx := context.Background()
	if _, err := tr.Open(ctx, &Transaction{ClientID: "c"}, url.Values{"a": {"b"}}); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Open: %v, want ErrUnavailable", err)
	}
	if _, err := tr.Take(ctx, NewID()); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Take: %v, want ErrUnavailable", err)
	}
	if _, err := tr.Remembered(ctx, url.Values{"a": {"b"}}); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Remembered: %v, want ErrUnavailable", err)
	}
}

func TestIsID(t *testing.T) {
	id := NewID()
	if NewID() == id {
		t.Fatal("two ids are equal")
	}
	for s, want := range map[string]bool{
		id:                             true,
		id[:len(id)-1]:                 false,
		"pjt_" + id[4:len(id)-1] + "!": false,
		"xyz_" + id[4:]:                false,
		"":                             false,
		"client-state":                 false,
	} {
		if IsID(s) != want {
			t.Errorf("IsID(%q) = %v, want %v", s, !want, want)
		}
	}
}

func TestTrackerSeals(t *testing.T) {
	ctx := context.Background()
	st := store.NewMemory(store.MemoryOptions{})
	t.Cleanup(func() { st.Close() })
	tr := NewTracker(st, time.Minute, nil)
	in := &Transaction{ClientID: "client-marker", RedirectURI: "https://rp.example/cb?marker=redirect", ResponseType: "code",
		State: "state-marker", HasState: true, RequestURIKey: "k"}
	id, err := tr.Open(ctx, in, nil)
	if err != nil {
		t.Fatal(err)
	}
	v, err := st.Get(ctx, key(id))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"client-marker", "marker=redirect", "state-marker", id} {
		if strings.Contains(string(v), s) {
			t.Errorf("the stored transaction contains %q", s)
		}
	}

	t.Run("a value moved to another transaction's key is unknown", func(t *testing.T) {
		other := NewID()
		if err := st.Put(ctx, key(other), v, time.Minute); err != nil {
			t.Fatal(err)
		}
		if _, err := tr.Peek(ctx, other); !errors.Is(err, ErrUnknown) {
			t.Fatalf("Peek = %v, want ErrUnknown", err)
		}
		if _, err := tr.Take(ctx, other); !errors.Is(err, ErrUnknown) {
			t.Fatalf("Take = %v, want ErrUnknown", err)
		}
	})
	t.Run("a transaction an older version stored unsealed is unknown", func(t *testing.T) {
		old, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		id := NewID()
		if err := st.Put(ctx, key(id), old, time.Minute); err != nil {
			t.Fatal(err)
		}
		if _, err := tr.Take(ctx, id); !errors.Is(err, ErrUnknown) {
			t.Fatalf("Take = %v, want ErrUnknown", err)
		}
	})
	t.Run("the sealed transaction still opens", func(t *testing.T) {
		got, err := tr.Take(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != in.State || got.RedirectURI != in.RedirectURI {
			t.Fatalf("Take = %+v", got)
		}
	})
}

// Every key of a flow expanded from a pushed request shares the
// request_uri's hash tag, so that Redis Cluster keeps them in one slot, and
// Take removes the transaction, the remembered query and the pushed
// request in one step.
func TestTrackerTakesTheFlowsKeysTogether(t *testing.T) {
	ctx := context.Background()
	st := store.NewMemory(store.MemoryOptions{})
	t.Cleanup(func() { st.Close() })
	tr := NewTracker(st, time.Minute, nil)
	parKey := store.KeyIn(store.Tag("urn:ietf:params:oauth:request_uri:x"), store.NSRequestURI, "urn:ietf:params:oauth:request_uri:x")
	if err := st.Put(ctx, parKey, []byte("pushed"), time.Minute); err != nil {
		t.Fatal(err)
	}
	up := url.Values{"client_id": {"c"}, "response_type": {"code"}}
	id, err := tr.Open(ctx, &Transaction{ClientID: "c", RedirectURI: "https://rp.example/cb", RequestURIKey: parKey}, up)
	if err != nil {
		t.Fatal(err)
	}
	if !IsID(id) || up.Get("state") != id {
		t.Fatalf("Open = %q, upstream state %q", id, up.Get("state"))
	}
	tag := store.TagOf(parKey)
	if idTag(id) != tag || store.TagOf(key(id)) != tag || store.TagOf(rememberedKey(up)) != tag {
		t.Fatalf("tags: request_uri %q, id %q, transaction key %q, remembered %q; want one", tag, idTag(id), key(id), rememberedKey(up))
	}
	if strings.Contains(id, "request_uri") {
		t.Fatalf("the id %q shows the request_uri", id)
	}
	if ok, err := tr.Remembered(ctx, up); !ok || err != nil {
		t.Fatalf("Remembered = %v, %v; want true", ok, err)
	}
	if _, err := tr.Peek(ctx, id); err != nil {
		t.Fatalf("Peek = %v", err)
	}
	got, err := tr.Take(ctx, id)
	if err != nil || !got.RequestURITaken || got.RequestURIKey != parKey {
		t.Fatalf("Take = %+v, %v; want the transaction with its request_uri taken", got, err)
	}
	for _, k := range []string{key(id), parKey, rememberedKey(up)} {
		if _, err := st.Get(ctx, k); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get(%s) after Take = %v, want ErrNotFound", k, err)
		}
	}

	// A second flow on the same request_uri, completing after the first,
	// finds the pushed request gone.
	id2, err := tr.Open(ctx, &Transaction{ClientID: "c", RequestURIKey: parKey}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := tr.Take(ctx, id2); err != nil || got.RequestURITaken {
		t.Fatalf("Take of the second flow = %+v, %v; want the request_uri not taken", got, err)
	}
	// A flow without a pushed request gets a random tag of its own.
	a, b := NewID(), NewID()
	if idTag(a) == "" || idTag(a) == idTag(b) {
		t.Fatalf("NewID tags %q, %q: want distinct", idTag(a), idTag(b))
	}
}
