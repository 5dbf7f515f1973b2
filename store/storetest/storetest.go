// Package storetest is the conformance suite that every store.Store
// implementation passes: the same behaviour checked against the in-memory
// store and a real Redis.
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/parjarm/parjarm/store"
)

// FastForward moves the store's notion of time forward by d: an injected
// clock is advanced, a server with its own clock is waited for.
type FastForward func(d time.Duration)

// ShortTTL is the lifetime the suite gives entries it lets expire; it is
// short so that a store whose FastForward sleeps stays fast.
const ShortTTL = 50 * time.Millisecond

// LongTTL is the lifetime of entries that must outlive every FastForward
// of the suite.
const LongTTL = time.Hour

// expire is how far the suite moves time to let a ShortTTL entry expire.
const expire = 3 * ShortTTL

// contenders is how many goroutines race in the concurrency checks, and
// rounds how many keys they race on.
const (
	contenders = 16
	rounds     = 20
)

// Run checks that the stores made by newStore behave as store.Store says.
// newStore is called once per subtest, from parallel subtests; Run closes
// every store it gets and checks that Close succeeds.
func Run(t *testing.T, newStore func(t *testing.T) (store.Store, FastForward)) {
	t.Helper()
	open := func(t *testing.T) (store.Store, FastForward) {
		t.Helper()
		s, ff := newStore(t)
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close() = %v, want nil", err)
			}
		})
		return s, ff
	}

	for _, tc := range []struct {
		name string
		run  func(t *testing.T, s store.Store, ff FastForward)
	}{
		{"a value put can be got back", testPutGet},
		{"getting a missing key is not found", testGetMissing},
		{"a put replaces the earlier value and its ttl", testOverwrite},
		{"an empty value is stored, not absent", testEmptyValue},
		{"keys are independent", testIndependentKeys},
		{"an entry outlives a shorter wait and not its ttl", testExpiry},
		{"an expired entry cannot be taken", testTakeAfterExpiry},
		{"put-if-absent stores over an expired entry", testPutIfAbsentAfterExpiry},
		{"take returns the value and deletes it", testTake},
		{"taking a missing key is not found", testTakeMissing},
		{"of concurrent takes of one key exactly one wins", testTakeConcurrent},
		{"put-if-absent stores only when the key is absent", testPutIfAbsent},
		{"of concurrent put-if-absents exactly one wins", testPutIfAbsentConcurrent},
		{"a value is copied in and out", testCopies},
		{"a ttl below one millisecond is refused", testInvalidTTL},
		{"ping succeeds", testPing},
		{"put-all stores every entry with its ttl", testPutAll},
		{"put-all refuses a ttl below one millisecond", testPutAllInvalidTTL},
		{"take-linked takes the value and its linked keys", testTakeLinked},
		{"take-linked of a missing key deletes nothing", testTakeLinkedMissing},
		{"take-linked skips a linked key already gone", testTakeLinkedPartial},
		{"of concurrent take-linkeds of one key exactly one wins", testTakeLinkedConcurrent},
		{"put-if-absent-then stores the entries only with a fresh mark", testPutIfAbsentThen},
		{"of concurrent put-if-absent-thens on one mark exactly one stores", testPutIfAbsentThenConcurrent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, ff := open(t)
			tc.run(t, s, ff)
		})
	}
}

func testPutGet(t *testing.T, s store.Store, _ FastForward) {
	k := key(t)
	mustPut(t, s, k, "v1", LongTTL)
	wantValue(t, s, k, "v1")
}

func testGetMissing(t *testing.T, s store.Store, _ FastForward) {
	wantNotFound(t, s, key(t))
}

func testOverwrite(t *testing.T, s store.Store, ff FastForward) {
	k := key(t)
	mustPut(t, s, k, "old", ShortTTL)
	mustPut(t, s, k, "new", LongTTL)
	wantValue(t, s, k, "new")
	ff(expire)
	wantValue(t, s, k, "new")
}

func testEmptyValue(t *testing.T, s store.Store, _ FastForward) {
	k := key(t)
	if err := s.Put(t.Context(), k, nil, LongTTL); err != nil {
		t.Fatalf("Put(nil) = %v, want nil", err)
	}
	got, err := s.Get(t.Context(), k)
	if err != nil || len(got) != 0 {
		t.Fatalf("Get = %q, %v; want an empty value", got, err)
	}
	ok, err := s.PutIfAbsent(t.Context(), k, []byte("x"), LongTTL)
	if err != nil || ok {
		t.Fatalf("PutIfAbsent over an empty value = %v, %v; want false, nil", ok, err)
	}
}

func testIndependentKeys(t *testing.T, s store.Store, _ FastForward) {
	a, b := key(t), key(t)
	mustPut(t, s, a, "a", LongTTL)
	mustPut(t, s, b, "b", LongTTL)
	if _, err := s.Take(t.Context(), a); err != nil {
		t.Fatalf("Take(a) = %v, want nil", err)
	}
	wantNotFound(t, s, a)
	wantValue(t, s, b, "b")
}

func testExpiry(t *testing.T, s store.Store, ff FastForward) {
	short, long := key(t), key(t)
	mustPut(t, s, short, "short", ShortTTL)
	mustPut(t, s, long, "long", LongTTL)
	ff(expire)
	wantNotFound(t, s, short)
	wantValue(t, s, long, "long")
}

func testTakeAfterExpiry(t *testing.T, s store.Store, ff FastForward) {
	k := key(t)
	mustPut(t, s, k, "v", ShortTTL)
	ff(expire)
	if got, err := s.Take(t.Context(), k); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Take after expiry = %q, %v; want ErrNotFound", got, err)
	}
}

func testPutIfAbsentAfterExpiry(t *testing.T, s store.Store, ff FastForward) {
	k := key(t)
	mustPut(t, s, k, "old", ShortTTL)
	ff(expire)
	ok, err := s.PutIfAbsent(t.Context(), k, []byte("new"), LongTTL)
	if err != nil || !ok {
		t.Fatalf("PutIfAbsent after expiry = %v, %v; want true, nil", ok, err)
	}
	wantValue(t, s, k, "new")
}

func testTake(t *testing.T, s store.Store, _ FastForward) {
	k := key(t)
	mustPut(t, s, k, "v", LongTTL)
	got, err := s.Take(t.Context(), k)
	if err != nil || string(got) != "v" {
		t.Fatalf("Take = %q, %v; want %q, nil", got, err, "v")
	}
	wantNotFound(t, s, k)
	if got, err := s.Take(t.Context(), k); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second Take = %q, %v; want ErrNotFound", got, err)
	}
}

func testTakeMissing(t *testing.T, s store.Store, _ FastForward) {
	if got, err := s.Take(t.Context(), key(t)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Take = %q, %v; want ErrNotFound", got, err)
	}
}

func testTakeConcurrent(t *testing.T, s store.Store, _ FastForward) {
	for range rounds {
		k := key(t)
		mustPut(t, s, k, "prize", LongTTL)
		wins := race(t, func(ctx context.Context) (bool, error) {
			v, err := s.Take(ctx, k)
			switch {
			case errors.Is(err, store.ErrNotFound):
				return false, nil
			case err != nil:
				return false, err
			case string(v) != "prize":
				return false, errors.New("Take returned " + string(v))
			}
			return true, nil
		})
		if len(wins) != 1 {
			t.Fatalf("%d of %d concurrent Takes won, want exactly 1", len(wins), contenders)
		}
	}
}

func testPutIfAbsent(t *testing.T, s store.Store, _ FastForward) {
	k := key(t)
	ok, err := s.PutIfAbsent(t.Context(), k, []byte("first"), LongTTL)
	if err != nil || !ok {
		t.Fatalf("first PutIfAbsent = %v, %v; want true, nil", ok, err)
	}
	ok, err = s.PutIfAbsent(t.Context(), k, []byte("second"), LongTTL)
	if err != nil || ok {
		t.Fatalf("second PutIfAbsent = %v, %v; want false, nil", ok, err)
	}
	wantValue(t, s, k, "first")
}

func testPutIfAbsentConcurrent(t *testing.T, s store.Store, _ FastForward) {
	for range rounds {
		k := key(t)
		var mu sync.Mutex
		var stored []byte
		wins := race(t, func(ctx context.Context) (bool, error) {
			v := []byte(rand.Text())
			ok, err := s.PutIfAbsent(ctx, k, v, LongTTL)
			if ok {
				mu.Lock()
				stored = v
				mu.Unlock()
			}
			return ok, err
		})
		if len(wins) != 1 {
			t.Fatalf("%d of %d concurrent PutIfAbsents won, want exactly 1", len(wins), contenders)
		}
		wantValue(t, s, k, string(stored))
	}
}

func testCopies(t *testing.T, s store.Store, _ FastForward) {
	k, k2 := key(t), key(t)
	v := []byte("original")
	if err := s.Put(t.Context(), k, v, LongTTL); err != nil {
		t.Fatalf("Put = %v", err)
	}
	copy(v, "CHANGED!")
	wantValue(t, s, k, "original")

	v2 := []byte("original")
	if ok, err := s.PutIfAbsent(t.Context(), k2, v2, LongTTL); err != nil || !ok {
		t.Fatalf("PutIfAbsent = %v, %v; want true, nil", ok, err)
	}
	copy(v2, "CHANGED!")
	wantValue(t, s, k2, "original")

	got, err := s.Get(t.Context(), k)
	if err != nil {
		t.Fatalf("Get = %v", err)
	}
	copy(got, "CHANGED!")
	wantValue(t, s, k, "original")
}

func testInvalidTTL(t *testing.T, s store.Store, _ FastForward) {
	for _, ttl := range []time.Duration{0, -time.Second, time.Millisecond - 1} {
		k := key(t)
		if err := s.Put(t.Context(), k, []byte("v"), ttl); !errors.Is(err, store.ErrInvalidTTL) || errors.Is(err, store.ErrUnavailable) {
			t.Errorf("Put with ttl %s = %v; want ErrInvalidTTL alone", ttl, err)
		}
		if ok, err := s.PutIfAbsent(t.Context(), k, []byte("v"), ttl); ok || !errors.Is(err, store.ErrInvalidTTL) || errors.Is(err, store.ErrUnavailable) {
			t.Errorf("PutIfAbsent with ttl %s = %v, %v; want false, ErrInvalidTTL alone", ttl, ok, err)
		}
		wantNotFound(t, s, k)
	}
	k := key(t)
	mustPut(t, s, k, "v", store.MinTTL)
}

func testPing(t *testing.T, s store.Store, _ FastForward) {
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping() = %v, want nil", err)
	}
}

// race runs f in contenders goroutines released at once and returns the
// indexes of those that reported a win. Any error fails the test.
func race(t *testing.T, f func(ctx context.Context) (bool, error)) []int {
	t.Helper()
	var (
		start = make(chan struct{})
		wg    sync.WaitGroup
		mu    sync.Mutex
		wins  []int
		errs  []error
	)
	for i := range contenders {
		wg.Go(func() {
			<-start
			won, err := f(t.Context())
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			}
			if won {
				wins = append(wins, i)
			}
		})
	}
	close(start)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("concurrent calls failed: %v", err)
	}
	return wins
}

func testPutAll(t *testing.T, s store.Store, ff FastForward) {
	tag := store.Tag(rand.Text())
	a, b, c := tagged(t, tag), tagged(t, tag), key(t)
	mustPut(t, s, a, "old", LongTTL)
	err := s.PutAll(t.Context(), []store.Entry{
		{Key: a, Value: []byte("va"), TTL: LongTTL},
		{Key: b, Value: []byte("vb"), TTL: ShortTTL},
		{Key: c, Value: []byte("vc"), TTL: LongTTL},
	})
	if err != nil {
		t.Fatalf("PutAll = %v, want nil", err)
	}
	wantValue(t, s, a, "va")
	wantValue(t, s, b, "vb")
	wantValue(t, s, c, "vc")
	ff(expire)
	wantValue(t, s, a, "va")
	wantNotFound(t, s, b)
	if err := s.PutAll(t.Context(), nil); err != nil {
		t.Fatalf("PutAll(nil) = %v, want nil", err)
	}
}

func testPutAllInvalidTTL(t *testing.T, s store.Store, _ FastForward) {
	k := key(t)
	err := s.PutAll(t.Context(), []store.Entry{{Key: k, Value: []byte("v"), TTL: LongTTL}, {Key: key(t), Value: []byte("v"), TTL: 0}})
	if !errors.Is(err, store.ErrInvalidTTL) {
		t.Fatalf("PutAll(ttl 0) = %v, want ErrInvalidTTL", err)
	}
	wantNotFound(t, s, k)
}

// putLinked stores value under k with links, and each link's own value.
func putLinked(t *testing.T, s store.Store, k, value string, links map[string]string) {
	t.Helper()
	entries := []store.Entry{{Key: k, Value: []byte(value), TTL: LongTTL}}
	for lk, lv := range links {
		entries[0].Links = append(entries[0].Links, lk)
		entries = append(entries, store.Entry{Key: lk, Value: []byte(lv), TTL: LongTTL})
	}
	if err := s.PutAll(t.Context(), entries); err != nil {
		t.Fatalf("PutAll = %v, want nil", err)
	}
}

func testTakeLinked(t *testing.T, s store.Store, _ FastForward) {
	tag := store.Tag(rand.Text())
	k, l1, l2, other := tagged(t, tag), tagged(t, tag), tagged(t, tag), tagged(t, tag)
	putLinked(t, s, k, "value", map[string]string{l1: "one", l2: ""})
	mustPut(t, s, other, "untouched", LongTTL)
	raw, err := s.Get(t.Context(), k)
	if links, v := store.Unlink(raw); err != nil || string(v) != "value" || len(links) != 2 {
		t.Fatalf("Get = %q, %v; want the value with 2 links", raw, err)
	}
	v, linked, err := s.TakeLinked(t.Context(), k)
	if err != nil || string(v) != "value" {
		t.Fatalf("TakeLinked = %q, %v; want %q, nil", v, err, "value")
	}
	if len(linked) != 2 || string(linked[l1]) != "one" || linked[l2] == nil || len(linked[l2]) != 0 {
		t.Fatalf("TakeLinked linked = %q, want {%s: one, %s: empty}", linked, l1, l2)
	}
	wantNotFound(t, s, k)
	wantNotFound(t, s, l1)
	wantNotFound(t, s, l2)
	wantValue(t, s, other, "untouched")
	if _, _, err := s.TakeLinked(t.Context(), k); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second TakeLinked = %v, want ErrNotFound", err)
	}
	// A value stored without links is taken alone.
	mustPut(t, s, k, "plain", LongTTL)
	if v, linked, err := s.TakeLinked(t.Context(), k); err != nil || string(v) != "plain" || len(linked) != 0 {
		t.Fatalf("TakeLinked of a plain value = %q, %q, %v; want plain, none, nil", v, linked, err)
	}
}

func testTakeLinkedMissing(t *testing.T, s store.Store, _ FastForward) {
	if _, _, err := s.TakeLinked(t.Context(), key(t)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("TakeLinked(missing) = %v, want ErrNotFound", err)
	}
}

func testTakeLinkedPartial(t *testing.T, s store.Store, _ FastForward) {
	tag := store.Tag(rand.Text())
	k, l1, l2 := tagged(t, tag), tagged(t, tag), tagged(t, tag)
	putLinked(t, s, k, "value", map[string]string{l1: "one", l2: "two"})
	if _, err := s.Take(t.Context(), l2); err != nil {
		t.Fatal(err)
	}
	v, linked, err := s.TakeLinked(t.Context(), k)
	if err != nil || string(v) != "value" || len(linked) != 1 || string(linked[l1]) != "one" {
		t.Fatalf("TakeLinked = %q, %q, %v; want value, {%s: one}, nil", v, linked, err, l1)
	}
	wantNotFound(t, s, l1)
}

func testTakeLinkedConcurrent(t *testing.T, s store.Store, _ FastForward) {
	for range rounds {
		tag := store.Tag(rand.Text())
		k, l := tagged(t, tag), tagged(t, tag)
		putLinked(t, s, k, "value", map[string]string{l: "linked"})
		var mu sync.Mutex
		var got []string
		wins := race(t, func(ctx context.Context) (bool, error) {
			_, linked, err := s.TakeLinked(ctx, k)
			if errors.Is(err, store.ErrNotFound) {
				return false, nil
			}
			mu.Lock()
			got = append(got, string(linked[l]))
			mu.Unlock()
			return err == nil, err
		})
		if len(wins) != 1 || len(got) != 1 || got[0] != "linked" {
			t.Fatalf("%d of %d concurrent TakeLinked won (linked %q), want exactly 1 with the linked value", len(wins), contenders, got)
		}
	}
}

func testPutIfAbsentThen(t *testing.T, s store.Store, _ FastForward) {
	for _, sameTag := range []bool{true, false} {
		tag := store.Tag(rand.Text())
		mark, a, b := tagged(t, tag), tagged(t, tag), tagged(t, tag)
		if !sameTag {
			b = key(t)
		}
		ok, err := s.PutIfAbsentThen(t.Context(), store.Entry{Key: mark, Value: []byte("m"), TTL: LongTTL},
			[]store.Entry{{Key: a, Value: []byte("va"), TTL: LongTTL}, {Key: b, Value: []byte("vb"), TTL: LongTTL}})
		if !ok || err != nil {
			t.Fatalf("PutIfAbsentThen = %v, %v; want true, nil", ok, err)
		}
		wantValue(t, s, mark, "m")
		wantValue(t, s, a, "va")
		wantValue(t, s, b, "vb")
		c := tagged(t, tag)
		ok, err = s.PutIfAbsentThen(t.Context(), store.Entry{Key: mark, Value: []byte("m2"), TTL: LongTTL},
			[]store.Entry{{Key: c, Value: []byte("vc"), TTL: LongTTL}})
		if ok || err != nil {
			t.Fatalf("PutIfAbsentThen of an existing mark = %v, %v; want false, nil", ok, err)
		}
		wantValue(t, s, mark, "m")
		wantNotFound(t, s, c)
	}
	_, err := s.PutIfAbsentThen(t.Context(), store.Entry{Key: key(t), Value: []byte("m"), TTL: LongTTL}, []store.Entry{{Key: key(t), TTL: 0}})
	if !errors.Is(err, store.ErrInvalidTTL) {
		t.Fatalf("PutIfAbsentThen(ttl 0) = %v, want ErrInvalidTTL", err)
	}
}

func testPutIfAbsentThenConcurrent(t *testing.T, s store.Store, _ FastForward) {
	for range rounds {
		tag := store.Tag(rand.Text())
		mark := tagged(t, tag)
		var mu sync.Mutex
		var stored []string
		wins := race(t, func(ctx context.Context) (bool, error) {
			k := tagged(t, tag)
			ok, err := s.PutIfAbsentThen(ctx, store.Entry{Key: mark, Value: []byte("m"), TTL: LongTTL}, []store.Entry{{Key: k, Value: []byte("v"), TTL: LongTTL}})
			if ok {
				mu.Lock()
				stored = append(stored, k)
				mu.Unlock()
			}
			return ok, err
		})
		if len(wins) != 1 {
			t.Fatalf("%d of %d concurrent PutIfAbsentThen stored, want exactly 1", len(wins), contenders)
		}
		wantValue(t, s, stored[0], "v")
	}
}

// tagged returns a key no other test uses, with hash tag tag.
func tagged(t *testing.T, tag string) string {
	return store.KeyIn(tag, "storetest", t.Name()+"/"+rand.Text())
}

// key returns a key no other test uses, so stores may share a server.
func key(t *testing.T) string {
	return store.Key("storetest", t.Name()+"/"+rand.Text())
}

func mustPut(t *testing.T, s store.Store, k, v string, ttl time.Duration) {
	t.Helper()
	if err := s.Put(t.Context(), k, []byte(v), ttl); err != nil {
		t.Fatalf("Put(%q, ttl %s) = %v, want nil", v, ttl, err)
	}
}

func wantValue(t *testing.T, s store.Store, k, want string) {
	t.Helper()
	got, err := s.Get(t.Context(), k)
	if err != nil || !bytes.Equal(got, []byte(want)) {
		t.Fatalf("Get = %q, %v; want %q, nil", got, err, want)
	}
}

func wantNotFound(t *testing.T, s store.Store, k string) {
	t.Helper()
	if got, err := s.Get(t.Context(), k); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get = %q, %v; want ErrNotFound", got, err)
	}
}
