package jarm

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/parjarm/parjarm/client"
)

const testIssuer = "https://as.example.com"

// testNow is the injected clock's time.
var testNow = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func fixedClock() time.Time { return testNow }

// hs256Secret is a client_secret long enough for HS256.
const hs256Secret = "0123456789abcdef0123456789abcdef-secret"

// devKeys generates the development keys once per test binary: RSA key
// generation is slow. Tests that change a KeySet build their own.
var devKeys = sync.OnceValues(GenerateDevelopmentKeys)

func testKeys(t testing.TB) *KeySet {
	t.Helper()
	ks, err := devKeys()
	if err != nil {
		t.Fatalf("GenerateDevelopmentKeys: %v", err)
	}
	return ks
}

// clientKeys holds the test client's encryption keys: an RSA key restricted
// to RSA-OAEP-256 and an EC P-256 key without use or alg, behind a signing
// key that must never be chosen for encryption.
type clientKeys struct {
	sig    *ecdsa.PrivateKey
	rsa    *rsa.PrivateKey
	ec     *ecdsa.PrivateKey
	public jose.JSONWebKeySet
}

var encKeys = sync.OnceValues(func() (*clientKeys, error) {
	sig, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return &clientKeys{
		sig: sig, rsa: rk, ec: ec,
		public: jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
			{Key: &sig.PublicKey, KeyID: "client-sig", Use: "sig", Algorithm: "ES256"},
			{Key: &rk.PublicKey, KeyID: "client-rsa-enc", Use: "enc", Algorithm: string(jose.RSA_OAEP_256)},
			{Key: &ec.PublicKey, KeyID: "client-ec-enc"},
		}},
	}, nil
})

func testClientKeys(t testing.TB) *clientKeys {
	t.Helper()
	ck, err := encKeys()
	if err != nil {
		t.Fatalf("client keys: %v", err)
	}
	return ck
}

// staticKeys is a KeySource that returns set for every client.
func staticKeys(set *jose.JSONWebKeySet) KeySource {
	return KeySourceFunc(func(context.Context, *client.Client) (*jose.JSONWebKeySet, error) {
		return set, nil
	})
}

func newTestEncoder(t testing.TB, keys *KeySet, src KeySource, opts Options) *Encoder {
	t.Helper()
	if opts.Issuer == "" {
		opts.Issuer = testIssuer
	}
	if opts.Now == nil {
		opts.Now = fixedClock
	}
	e, err := NewEncoder(keys, src, opts)
	if err != nil {
		t.Fatalf("NewEncoder: %v", err)
	}
	return e
}

// verified is a JWS checked the way a client checks it.
type verified struct {
	alg    string
	kid    string
	claims map[string]any // numbers as json.Number
}

// verifyJWS verifies raw as a client would: an explicit algorithm
// allow-list, the key looked up by kid in the published set (or the shared
// secret for HS256), then iss, aud, exp and iat against the injected clock.
func verifyJWS(t testing.TB, raw string, alg jose.SignatureAlgorithm, published jose.JSONWebKeySet, secret string) verified {
	t.Helper()
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{alg})
	if err != nil {
		t.Fatalf("ParseSigned(%s): %v", alg, err)
	}
	h := jws.Signatures[0].Header
	var key any
	if alg == jose.HS256 {
		if h.KeyID != "" {
			t.Errorf("HS256 header kid = %q, want none", h.KeyID)
		}
		key = []byte(secret)
	} else {
		matches := published.Key(h.KeyID)
		if h.KeyID == "" || len(matches) != 1 {
			t.Fatalf("header kid %q matches %d published keys, want 1", h.KeyID, len(matches))
		}
		key = matches[0]
	}
	payload, err := jws.Verify(key)
	if err != nil {
		t.Fatalf("signature does not verify: %v", err)
	}

	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{alg})
	if err != nil {
		t.Fatalf("jwt.ParseSigned: %v", err)
	}
	var std jwt.Claims
	if err := tok.Claims(key, &std); err != nil {
		t.Fatalf("jwt claims: %v", err)
	}
	if err := std.ValidateWithLeeway(jwt.Expected{Issuer: testIssuer, Time: testNow}, 0); err != nil {
		t.Errorf("claims do not validate: %v", err)
	}

	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var claims map[string]any
	if err := dec.Decode(&claims); err != nil {
		t.Fatalf("payload: %v", err)
	}
	return verified{alg: string(h.Algorithm), kid: h.KeyID, claims: claims}
}

// wantClaims returns the registered claims for client id at testNow with
// lifetime, plus extra.
func wantClaims(id string, lifetime time.Duration, extra map[string]any) map[string]any {
	m := map[string]any{
		"iss": testIssuer,
		"aud": id,
		"iat": json.Number(itoa(testNow.Unix())),
		"exp": json.Number(itoa(testNow.Add(lifetime).Unix())),
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func assertClaims(t testing.TB, got, want map[string]any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		t.Errorf("claims\n got  %s\n want %s", g, w)
	}
}

func writeFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
