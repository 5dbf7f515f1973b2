package flow

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/parjarm/parjarm/internal/record"
	"github.com/parjarm/parjarm/internal/record/recordtest"
	"github.com/parjarm/parjarm/store"
)

// equalTransaction compares decoded transactions: times by instant.
func equalTransaction(a, b *Transaction) bool {
	x, y := *a, *b
	x.ExpiresAt, y.ExpiresAt = time.Time{}, time.Time{}
	return x == y && a.ExpiresAt.Equal(b.ExpiresAt) && a.ExpiresAt.IsZero() == b.ExpiresAt.IsZero()
}

func TestTransactionRoundTrip(t *testing.T) {
	long := strings.Repeat("r", 300)
	for _, in := range []Transaction{
		{},
		{ClientID: "c", RedirectURI: "https://rp.example/cb?x=1", ResponseType: "code id_token", Mode: Mode{Base: ModeFormPost, JWT: true},
			State: "a b&c", HasState: true, CodeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", CodeChallengeMethod: "S256",
			RequestURIKey: "parjarm:{tag}:request_uri:k", RememberedKey: "parjarm:{tag}:expanded:q", ExpiresAt: time.Unix(1_700_000_060, 7)},
		{HasState: true, RedirectURI: long, ExpiresAt: time.Unix(0, math.MinInt64+1)},
	} {
		b := in.marshal()
		if b[0] != transactionFormat {
			t.Fatalf("format byte %#x", b[0])
		}
		got, err := unmarshalTransaction(b)
		if err != nil {
			t.Fatalf("unmarshalTransaction(%q): %v", b, err)
		}
		if !equalTransaction(&in, got) {
			t.Errorf("unmarshalTransaction(marshal(%+v)) = %+v", in, got)
		}
	}
	// RequestURITaken is Take's, never stored.
	got, err := unmarshalTransaction((&Transaction{ClientID: "c", RequestURITaken: true}).marshal())
	if err != nil || got.RequestURITaken {
		t.Errorf("RequestURITaken was stored: %+v, %v", got, err)
	}
}

// A transaction that the version before stored as JSON is taken, so that a
// flow opened before an upgrade completes after it.
func TestTrackerTakesTheJSONOfTheVersionBefore(t *testing.T) {
	ctx := context.Background()
	st := store.NewMemory(store.MemoryOptions{})
	t.Cleanup(func() { st.Close() })
	tr := NewTracker(st, time.Minute, nil)
	in := Transaction{ClientID: "c", RedirectURI: "https://rp.example/cb", ResponseType: "code", Mode: Mode{Base: ModeQuery, JWT: true},
		State: "s", HasState: true, CodeChallenge: "ch", CodeChallengeMethod: "S256", RememberedKey: "r", ExpiresAt: time.Now().Add(time.Minute)}
	old, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if old[0] != '{' {
		t.Fatalf("the JSON form starts with %q", old[0])
	}
	id := NewID()
	if err := st.Put(ctx, key(id), store.Seal(store.NSTransaction, id, old), time.Minute); err != nil {
		t.Fatal(err)
	}
	if got, err := tr.Peek(ctx, id); err != nil || !equalTransaction(got, &in) {
		t.Fatalf("Peek = %+v, %v; want %+v", got, err, in)
	}
	got, err := tr.Take(ctx, id)
	if err != nil || !equalTransaction(got, &in) {
		t.Fatalf("Take = %+v, %v; want %+v", got, err, in)
	}
}

// A transaction that opens but does not decode is the error it always was
// (flow: decode transaction), not an unknown one: the gateway cannot tell
// the flow it names.
func TestTrackerRefusesATransactionThatDoesNotDecode(t *testing.T) {
	ctx := context.Background()
	st := store.NewMemory(store.MemoryOptions{})
	t.Cleanup(func() { st.Close() })
	tr := NewTracker(st, time.Minute, nil)
	valid := (&Transaction{ClientID: "c", ExpiresAt: time.Now().Add(time.Minute)}).marshal()
	for _, tt := range []struct {
		name string
		v    []byte
		want string
	}{
		{"an unknown format byte", append([]byte{transactionFormat + 1}, valid[1:]...), "flow: decode transaction: record: malformed value: format 0x3, want 0x2"},
		{"a truncated value", valid[:len(valid)-1], "flow: decode transaction: record: malformed value: truncated varint"},
		{"trailing bytes", append(valid[:len(valid):len(valid)], 0), "flow: decode transaction: record: malformed value: 1 trailing bytes"},
		{"cut JSON", []byte(`{"client_id":"c"`), "flow: decode transaction: unexpected end of JSON input"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			id := NewID()
			if err := st.Put(ctx, key(id), store.Seal(store.NSTransaction, id, tt.v), time.Minute); err != nil {
				t.Fatal(err)
			}
			if _, err := tr.Peek(ctx, id); err == nil || err.Error() != tt.want {
				t.Errorf("Peek = %v, want %s", err, tt.want)
			}
			_, err := tr.Take(ctx, id)
			if err == nil || err.Error() != tt.want || errors.Is(err, ErrUnknown) {
				t.Errorf("Take = %v, want %s", err, tt.want)
			}
			if _, err := st.Get(ctx, key(id)); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("the transaction is still stored after Take: %v", err)
			}
		})
	}
}

// FuzzTransaction: what the fuzzer builds decodes to itself, and decoding
// any bytes never panics; what decodes re-encodes to itself.
func FuzzTransaction(f *testing.F) {
	f.Add([]byte{}, "c", "https://rp.example/cb", "code", "query", true, "st", true, "ch", "S256", "k", "r", int64(1_700_000_060_000_000_000))
	f.Add((&Transaction{ClientID: "c", HasState: true}).marshal(), "", "", "", "", false, "", false, "", "", "", "", int64(0))
	f.Add([]byte(`{"client_id":"c","mode":{"Base":"query","JWT":true},"expires_at":"2023-11-14T22:14:20Z"}`), "", "", "", "", false, "", false, "", "", "", "", int64(-1))
	f.Fuzz(func(t *testing.T, b []byte, clientID, redirectURI, responseType, base string, jwt bool, state string, hasState bool,
		challenge, method, requestURIKey, rememberedKey string, nanos int64) {
		in := Transaction{ClientID: clientID, RedirectURI: redirectURI, ResponseType: responseType, Mode: Mode{Base: base, JWT: jwt},
			State: state, HasState: hasState, CodeChallenge: challenge, CodeChallengeMethod: method,
			RequestURIKey: requestURIKey, RememberedKey: rememberedKey}
		if nanos != 0 {
			in.ExpiresAt = time.Unix(0, nanos)
		}
		got, err := unmarshalTransaction(in.marshal())
		if err != nil || !equalTransaction(&in, got) {
			t.Fatalf("unmarshalTransaction(marshal(%+v)) = %+v, %v", in, got, err)
		}
		dec, err := unmarshalTransaction(b)
		if err != nil && !record.IsJSON(b) && !errors.Is(err, record.ErrMalformed) {
			t.Fatalf("error %v is not record.ErrMalformed", err)
		}
		if err != nil || record.IsJSON(b) {
			// A JSON time may lie outside the years 1678 to 2262, which
			// have no Unix nanoseconds: JSON values are not re-encoded.
			return
		}
		again, err := unmarshalTransaction(dec.marshal())
		if err != nil || !equalTransaction(dec, again) {
			t.Fatalf("re-encoded %+v decodes to %+v, %v", dec, again, err)
		}
	})
}

// Every field of a Transaction but RequestURITaken (Take sets it) survives
// its binary form: a field added to Transaction and not to marshal and
// unmarshalTransaction fails here.
func TestEveryTransactionFieldIsStored(t *testing.T) {
	var in Transaction
	recordtest.Fill(&in)
	in.RequestURITaken = false
	got, err := unmarshalTransaction(in.marshal())
	if err != nil {
		t.Fatal(err)
	}
	got.ExpiresAt = got.ExpiresAt.UTC()
	if !reflect.DeepEqual(*got, in) {
		t.Fatalf("unmarshalTransaction(marshal(%+v)) = %+v", in, *got)
	}
}
