package codebind

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/parjarm/parjarm/internal/record"
	"github.com/parjarm/parjarm/internal/record/recordtest"
	"github.com/parjarm/parjarm/store"
)

func TestRecordRoundTrip(t *testing.T) {
	for _, in := range []Record{
		{},
		rec,
		{ClientID: "é\x00", RedirectURI: strings.Repeat("u", 200), CodeChallengeMethod: "plain"},
	} {
		b := in.marshal()
		if b[0] != recordFormat {
			t.Fatalf("format byte %#x", b[0])
		}
		got, err := unmarshalRecord(b)
		if err != nil || got != in {
			t.Errorf("unmarshalRecord(marshal(%+v)) = %+v, %v", in, got, err)
		}
	}
}

// A record that the version before stored as JSON redeems its code, so
// that a code delivered before an upgrade is checked after it.
func TestRedeemReadsTheJSONOfTheVersionBefore(t *testing.T) {
	ctx := context.Background()
	st := store.NewMemory(store.MemoryOptions{})
	t.Cleanup(func() { st.Close() })
	b := New(st, time.Minute, nil)
	old, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	if old[0] != '{' {
		t.Fatalf("the JSON form starts with %q", old[0])
	}
	for _, code := range []string{"old-code", "old-code-2"} {
		if err := st.Put(ctx, store.Key(store.NSCode, code), store.Seal(store.NSCode, code, old), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Redeem(ctx, redemption("old-code")); err != nil {
		t.Fatalf("Redeem = %v, want the code to pass", err)
	}
	// The record is checked, not only read.
	bad := redemption("old-code-2")
	bad.CodeVerifier = "x"
	wantInvalidGrant(t, b.Redeem(ctx, bad))
}

// A record that opens but does not decode is the error it always was
// (codebind: decode record), and the code is spent.
func TestRedeemRefusesARecordThatDoesNotDecode(t *testing.T) {
	ctx := context.Background()
	st := store.NewMemory(store.MemoryOptions{})
	t.Cleanup(func() { st.Close() })
	b := New(st, time.Minute, nil)
	valid := rec.marshal()
	for _, tt := range []struct {
		name string
		v    []byte
		want string
	}{
		{"an unknown format byte", append([]byte{recordFormat + 1}, valid[1:]...), "codebind: decode record: record: malformed value: format 0x3, want 0x2"},
		{"a truncated value", valid[:len(valid)-1], "codebind: decode record: record: malformed value: length 4 exceeds the 3 bytes left"},
		{"trailing bytes", append(valid[:len(valid):len(valid)], 0), "codebind: decode record: record: malformed value: 1 trailing bytes"},
		{"cut JSON", []byte(`{"client_id":"app"`), "codebind: decode record: unexpected end of JSON input"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code := "code-" + strings.ReplaceAll(tt.name, " ", "-")
			if err := st.Put(ctx, store.Key(store.NSCode, code), store.Seal(store.NSCode, code, tt.v), time.Minute); err != nil {
				t.Fatal(err)
			}
			if err := b.Redeem(ctx, redemption(code)); err == nil || err.Error() != tt.want {
				t.Errorf("Redeem = %v, want %s", err, tt.want)
			}
			if _, err := st.Get(ctx, store.Key(store.NSCode, code)); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("the record was not spent: %v", err)
			}
		})
	}
}

// FuzzRecord: what the fuzzer builds decodes to itself, and decoding any
// bytes never panics; what decodes re-encodes to itself.
func FuzzRecord(f *testing.F) {
	f.Add([]byte{}, "app", "https://app/cb", rfc7636Challenge, "S256")
	f.Add(rec.marshal(), "", "", "", "")
	f.Add([]byte(`{"client_id":"app","redirect_uri":"https://app/cb"}`), "", "", "", "")
	f.Fuzz(func(t *testing.T, b []byte, clientID, redirectURI, challenge, method string) {
		in := Record{ClientID: clientID, RedirectURI: redirectURI, CodeChallenge: challenge, CodeChallengeMethod: method}
		if got, err := unmarshalRecord(in.marshal()); err != nil || got != in {
			t.Fatalf("unmarshalRecord(marshal(%+v)) = %+v, %v", in, got, err)
		}
		dec, err := unmarshalRecord(b)
		if err != nil {
			if !record.IsJSON(b) && !errors.Is(err, record.ErrMalformed) {
				t.Fatalf("error %v is not record.ErrMalformed", err)
			}
			return
		}
		if again, err := unmarshalRecord(dec.marshal()); err != nil || again != dec {
			t.Fatalf("re-encoded %+v decodes to %+v, %v", dec, again, err)
		}
	})
}

// Every field of a Record survives its binary form: a field added to
// Record and not to marshal and unmarshalRecord fails here.
func TestEveryRecordFieldIsStored(t *testing.T) {
	var in Record
	recordtest.Fill(&in)
	got, err := unmarshalRecord(in.marshal())
	if err != nil || !reflect.DeepEqual(got, in) {
		t.Fatalf("unmarshalRecord(marshal(%+v)) = %+v, %v", in, got, err)
	}
}
