package store_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/parjarm/parjarm/store"
)

const sealSecret = "urn:ietf:params:oauth:request_uri:Q2xhcmEgT3N3YWxkIGlzIG15IGNhdCBhbmQgc2hl"

func TestSealRoundTrip(t *testing.T) {
	for _, pt := range [][]byte{nil, {}, []byte("x"), bytes.Repeat([]byte("login_hint=alice"), 200)} {
		sealed := store.Seal(store.NSRequestURI, sealSecret, pt)
		if len(sealed) != len(pt)+store.SealOverhead {
			t.Errorf("sealed %d bytes into %d, want %d", len(pt), len(sealed), len(pt)+store.SealOverhead)
		}
		// A short plaintext turns up in random bytes by chance (one byte in
		// 30 random ones: one time in nine); a long one never does.
		if len(pt) >= 16 && bytes.Contains(sealed, pt) {
			t.Errorf("the sealed value contains the plaintext")
		}
		got, err := store.Open(store.NSRequestURI, sealSecret, sealed)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if !bytes.Equal(got, pt) {
			t.Errorf("Open = %q, want %q", got, pt)
		}
	}
}

func TestSealFreshNonce(t *testing.T) {
	a := store.Seal(store.NSTransaction, sealSecret, []byte("same"))
	b := store.Seal(store.NSTransaction, sealSecret, []byte("same"))
	if bytes.Equal(a, b) {
		t.Fatal("two seals of one plaintext are equal: the nonce is not fresh")
	}
}

func TestOpenRefuses(t *testing.T) {
	pt := []byte(`{"client_id":"c1","params":{"login_hint":["alice@bank.example"]}}`)
	sealed := store.Seal(store.NSRequestURI, sealSecret, pt)
	tamper := func(i int) []byte {
		b := bytes.Clone(sealed)
		b[i] ^= 0x01
		return b
	}
	tests := []struct {
		name   string
		ns     string
		secret string
		value  []byte
	}{
		{"wrong secret", store.NSRequestURI, sealSecret + "x", sealed},
		{"another namespace", store.NSTransaction, sealSecret, sealed},
		{"another key", store.NSRequestURI, "urn:ietf:params:oauth:request_uri:other", sealed},
		{"tampered format byte", store.NSRequestURI, sealSecret, tamper(0)},
		{"tampered nonce", store.NSRequestURI, sealSecret, tamper(1)},
		{"tampered ciphertext", store.NSRequestURI, sealSecret, tamper(1 + 12 + 3)},
		{"tampered tag", store.NSRequestURI, sealSecret, tamper(len(sealed) - 1)},
		{"truncated", store.NSRequestURI, sealSecret, sealed[:len(sealed)-1]},
		{"too short", store.NSRequestURI, sealSecret, sealed[:store.SealOverhead-1]},
		{"empty", store.NSRequestURI, sealSecret, nil},
		// A value an unsealing version wrote during a rolling upgrade.
		{"unsealed JSON", store.NSRequestURI, sealSecret, pt},
		{"unsealed mark", store.NSRequestURI, sealSecret, []byte{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := store.Open(tt.ns, tt.secret, tt.value)
			if !errors.Is(err, store.ErrUnsealed) {
				t.Fatalf("Open = %q, %v; want ErrUnsealed", got, err)
			}
			if got != nil {
				t.Errorf("Open returned %q with its error", got)
			}
		})
	}
}

// TestSealKeyIndependent checks that the key name, which the store sees,
// is not the AEAD key: a seal made with the key name as the secret does not
// open with the real secret and vice versa.
func TestSealKeyIndependent(t *testing.T) {
	name := store.Key(store.NSRequestURI, sealSecret)
	sealed := store.Seal(store.NSRequestURI, sealSecret, []byte("v"))
	if _, err := store.Open(store.NSRequestURI, name, sealed); !errors.Is(err, store.ErrUnsealed) {
		t.Fatalf("the key name opens the value: %v", err)
	}
}

func FuzzOpen(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{1})
	f.Add(store.Seal(store.NSTransaction, sealSecret, []byte("tx")))
	f.Add(append([]byte{1}, make([]byte, 40)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		pt, err := store.Open(store.NSTransaction, sealSecret, b)
		if err == nil {
			// Only a genuine seal opens: the one seed, or a forgery, which
			// AES-GCM makes infeasible.
			if string(pt) != "tx" {
				t.Fatalf("Open of arbitrary bytes = %q", pt)
			}
			return
		}
		if !errors.Is(err, store.ErrUnsealed) {
			t.Fatalf("Open error %v is not ErrUnsealed", err)
		}
	})
}

// benchRequest is about the size of a large pushed authorization request.
var benchRequest = bytes.Repeat([]byte("a"), 2048)

func BenchmarkSeal(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchRequest)))
	for b.Loop() {
		store.Seal(store.NSRequestURI, sealSecret, benchRequest)
	}
}

func BenchmarkOpen(b *testing.B) {
	sealed := store.Seal(store.NSRequestURI, sealSecret, benchRequest)
	b.ReportAllocs()
	b.SetBytes(int64(len(benchRequest)))
	for b.Loop() {
		if _, err := store.Open(store.NSRequestURI, sealSecret, sealed); err != nil {
			b.Fatal(err)
		}
	}
}
