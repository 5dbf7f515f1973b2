package codebind

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parjarm/parjarm/internal/redistest"
	"github.com/parjarm/parjarm/store"
)

var rec = Record{ClientID: "app", RedirectURI: "https://app/cb", CodeChallenge: rfc7636Challenge, CodeChallengeMethod: "S256"}

func redemption(code string) *TokenRequest {
	return &TokenRequest{GrantType: GrantAuthorizationCode, Code: code, ClientID: "app", RedirectURI: "https://app/cb", HasRedirectURI: true, CodeVerifier: rfc7636Verifier, HasCodeVerifier: true}
}

func newBinder(t *testing.T, requirePKCE func(string) bool) *Binder {
	t.Helper()
	st := store.NewMemory(store.MemoryOptions{})
	t.Cleanup(func() { st.Close() })
	return New(st, time.Minute, requirePKCE)
}

func TestRedeem(t *testing.T) {
	ctx := context.Background()
	t.Run("a recorded code with the right verifier passes once, then is refused", func(t *testing.T) {
		b := newBinder(t, nil)
		if err := b.Record(ctx, "code-1", rec); err != nil {
			t.Fatal(err)
		}
		if err := b.Redeem(ctx, redemption("code-1")); err != nil {
			t.Fatalf("first redemption: %v", err)
		}
		err := b.Redeem(ctx, redemption("code-1"))
		wantInvalidGrant(t, err)
		if !Replayed(err) {
			t.Fatalf("Replayed(%v) = false", err)
		}
	})
	t.Run("a failed check spends the code: the right verifier afterwards is refused", func(t *testing.T) {
		b := newBinder(t, nil)
		if err := b.Record(ctx, "code-2", rec); err != nil {
			t.Fatal(err)
		}
		bad := redemption("code-2")
		bad.CodeVerifier = "x"
		err := b.Redeem(ctx, bad)
		wantInvalidGrant(t, err)
		if Replayed(err) {
			t.Fatal("a failed check is not a replay")
		}
		wantInvalidGrant(t, b.Redeem(ctx, redemption("code-2")))
	})
	t.Run("a code the gateway never delivered passes", func(t *testing.T) {
		b := newBinder(t, nil)
		if err := b.Redeem(ctx, redemption("unknown")); err != nil {
			t.Fatalf("untracked code: %v", err)
		}
	})
	t.Run("a code the gateway never delivered is refused for a client that requires PKCE", func(t *testing.T) {
		b := newBinder(t, func(id string) bool { return id == "app" })
		wantInvalidGrant(t, b.Redeem(ctx, redemption("unknown")))
		other := redemption("unknown")
		other.ClientID = "relaxed"
		if err := b.Redeem(ctx, other); err != nil {
			t.Fatalf("client without require_pkce: %v", err)
		}
	})
	t.Run("an empty code is left to the upstream", func(t *testing.T) {
		b := newBinder(t, func(string) bool { return true })
		if err := b.Redeem(ctx, redemption("")); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("of concurrent redemptions of one code exactly one passes", func(t *testing.T) {
		b := newBinder(t, nil)
		if err := b.Record(ctx, "code-3", rec); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		passed := 0
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if b.Redeem(ctx, redemption("code-3")) == nil {
					mu.Lock()
					passed++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if passed != 1 {
			t.Fatalf("%d redemptions passed, want 1", passed)
		}
	})
	t.Run("the store holds hashes, never the code", func(t *testing.T) {
		st := store.NewMemory(store.MemoryOptions{})
		defer st.Close()
		b := New(st, time.Minute, nil)
		if err := b.Record(ctx, "secret-code", rec); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Get(ctx, store.Key(store.NSCode, "secret-code")); err != nil {
			t.Fatalf("record not under store.Key: %v", err)
		}
		if _, err := st.Get(ctx, "secret-code"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("raw code used as a key: %v", err)
		}
	})
	t.Run("the record is sealed with the code: the stored value reveals none of it", func(t *testing.T) {
		st := store.NewMemory(store.MemoryOptions{})
		defer st.Close()
		b := New(st, time.Minute, nil)
		if err := b.Record(ctx, "secret-code", rec); err != nil {
			t.Fatal(err)
		}
		v, err := st.Get(ctx, store.Key(store.NSCode, "secret-code"))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{rec.ClientID, rec.RedirectURI, rec.CodeChallenge, "secret-code"} {
			if strings.Contains(string(v), s) {
				t.Errorf("the stored record contains %q", s)
			}
		}
		if _, err := store.Open(store.NSCode, "secret-code", v); err != nil {
			t.Fatalf("the record does not open with its code: %v", err)
		}
	})
	t.Run("an unsealed record (an older version's) is invalid_grant and spent", func(t *testing.T) {
		st := store.NewMemory(store.MemoryOptions{})
		defer st.Close()
		b := New(st, time.Minute, nil)
		old, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Put(ctx, store.Key(store.NSCode, "old-code"), old, time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := st.Put(ctx, store.Key(store.NSCodeIssued, "old-code"), []byte{1}, time.Minute); err != nil {
			t.Fatal(err)
		}
		err = b.Redeem(ctx, redemption("old-code"))
		wantInvalidGrant(t, err)
		if Replayed(err) {
			t.Fatal("an unreadable record is not a replay")
		}
		if _, err := st.Get(ctx, store.Key(store.NSCode, "old-code")); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the unreadable record was not spent: %v", err)
		}
	})
}

func TestRedeemStoreOutage(t *testing.T) {
	srv := redistest.Start(t)
	st, err := store.NewRedis(store.RedisOptions{URL: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	b := New(st, time.Minute, nil)
	ctx := context.Background()
	if err := b.Record(ctx, "code", rec); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	if err := b.Redeem(ctx, redemption("code")); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Redeem during an outage = %v, want store.ErrUnavailable", err)
	}
	if err := b.Redeem(ctx, redemption("never-delivered")); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("an untracked code during an outage = %v, want store.ErrUnavailable (never an unchecked pass)", err)
	}
	if err := b.Record(ctx, "code-2", rec); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Record during an outage = %v, want store.ErrUnavailable", err)
	}
}
