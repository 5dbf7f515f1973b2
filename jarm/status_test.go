package jarm

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/parjarm/parjarm/client"
)

// withMembers returns the JWK raw with members set.
func withMembers(t testing.TB, raw json.RawMessage, members map[string]any) json.RawMessage {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range members {
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// secondP256 is a P-256 key other than the fixtures'.
func secondP256(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func kidsOf(set jose.JSONWebKeySet) []string {
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.KeyID)
	}
	return kids
}

// TestKeyStatusRotation walks one rotation through three keys files: the
// old key active and the new one next; the new one active and the old one
// retired; and the published set after the retire date.
func TestKeyStatusRotation(t *testing.T) {
	f := testFixtures(t)
	oldKey := jwkJSON(t, f.p256, "old", "ES256", "sig")
	newKey := jwkJSON(t, secondP256(t), "new", "ES256", "sig")
	retireAt := testNow.Add(24 * time.Hour)

	steps := []struct {
		name      string
		keys      []json.RawMessage
		at        time.Time
		signs     string
		published []string
		status    map[string]string
	}{
		{"next is published, not used", []json.RawMessage{oldKey, withMembers(t, newKey, map[string]any{"status": "next"})},
			testNow, "old", []string{"old", "new"}, map[string]string{"old": StatusActive, "new": StatusNext}},
		{"the next key comes first and still does not sign", []json.RawMessage{withMembers(t, newKey, map[string]any{"status": "next"}), oldKey},
			testNow, "old", []string{"new", "old"}, map[string]string{"old": StatusActive, "new": StatusNext}},
		{"promoted: the retired key is published until its date", []json.RawMessage{newKey, withMembers(t, oldKey, map[string]any{"status": "retired", "retire_after": retireAt.Format(time.RFC3339)})},
			testNow, "new", []string{"new", "old"}, map[string]string{"old": StatusRetired, "new": StatusActive}},
		{"after the retire date the retired key is not published", []json.RawMessage{newKey, withMembers(t, oldKey, map[string]any{"status": "retired", "retire_after": retireAt.Format(time.RFC3339)})},
			retireAt, "new", []string{"new"}, map[string]string{"old": StatusRetired, "new": StatusActive}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			ks, err := ParseKeys(jwkSet(t, s.keys...))
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(kidsOf(ks.PublicAt(s.at)), ","); got != strings.Join(s.published, ",") {
				t.Errorf("published %s, want %s", got, strings.Join(s.published, ","))
			}
			if kid := signWith(t, ks, jose.ES256); kid != s.signs {
				t.Errorf("signed with %q, want %q", kid, s.signs)
			}
			for kid, want := range s.status {
				if got, ok := ks.Status(kid); !ok || got != want {
					t.Errorf("Status(%q) = %q, %v; want %q", kid, got, ok, want)
				}
			}
		})
	}
	if _, ok := (&KeySet{}).Status("old"); ok {
		t.Error("Status of an unknown kid reported a key")
	}
}

func TestKeyStatusRejects(t *testing.T) {
	f := testFixtures(t)
	key := jwkJSON(t, f.p256, "k", "ES256", "sig")
	other := jwkJSON(t, secondP256(t), "k2", "ES256", "sig")
	enc := jwkJSON(t, f.rsa, "e", "RSA-OAEP-256", "enc")
	tests := []struct {
		name string
		keys []json.RawMessage
		want string
	}{
		{"an unknown status", []json.RawMessage{withMembers(t, key, map[string]any{"status": "standby"})}, `"status" is "standby"`},
		{"a status that is not a string", []json.RawMessage{withMembers(t, key, map[string]any{"status": 1})}, "key 0"},
		{"a retired key without retire_after", []json.RawMessage{other, withMembers(t, key, map[string]any{"status": "retired"})}, `needs "retire_after"`},
		{"a retire_after that is not RFC 3339", []json.RawMessage{other, withMembers(t, key, map[string]any{"status": "retired", "retire_after": "tomorrow"})}, `"retire_after" "tomorrow"`},
		{"retire_after on an active key", []json.RawMessage{withMembers(t, key, map[string]any{"retire_after": "2026-01-01T00:00:00Z"})}, `only a "retired" key`},
		{"no active key", []json.RawMessage{withMembers(t, key, map[string]any{"status": "next"})}, "no active signing key"},
		{"a status on a decryption key", []json.RawMessage{key, withMembers(t, enc, map[string]any{"status": "next"})}, `apply to signing keys`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseKeys(jwkSet(t, tt.keys...))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestSetActiveRefusesANextKey(t *testing.T) {
	f := testFixtures(t)
	ks, err := ParseKeys(jwkSet(t, jwkJSON(t, f.p256, "k", "ES256", "sig"),
		withMembers(t, jwkJSON(t, secondP256(t), "n", "ES256", "sig"), map[string]any{"status": "next"})))
	if err != nil {
		t.Fatal(err)
	}
	if err := ks.SetActive("n"); err == nil || !strings.Contains(err.Error(), `marked "next"`) {
		t.Fatalf("SetActive(next) = %v", err)
	}
	if kid := signWith(t, ks, jose.ES256); kid != "k" {
		t.Fatalf("signed with %q", kid)
	}
}

// TestSwappableEncoder: a KeySet stored in the holder signs the next
// response; CheckKeys refuses a set that cannot sign the default alg or
// that changes the advertised algorithms.
func TestSwappableEncoder(t *testing.T) {
	f := testFixtures(t)
	first, err := ParseKeys(jwkSet(t, jwkJSON(t, f.p256, "first", "ES256", "sig")))
	if err != nil {
		t.Fatal(err)
	}
	second, err := ParseKeys(jwkSet(t, jwkJSON(t, secondP256(t), "second", "ES256", "sig")))
	if err != nil {
		t.Fatal(err)
	}
	holder := NewKeys(first)
	enc, err := NewSwappableEncoder(holder, nil, Options{Issuer: testIssuer, DefaultAlg: "ES256", Now: fixedClock})
	if err != nil {
		t.Fatal(err)
	}
	sign := func() string {
		t.Helper()
		raw, err := enc.Encode(t.Context(), &client.Client{ID: "c"}, url.Values{"code": {"x"}})
		if err != nil {
			t.Fatal(err)
		}
		return verifyJWS(t, raw, jose.ES256, holder.Public(), "").kid
	}
	if kid := sign(); kid != "first" {
		t.Fatalf("signed with %q", kid)
	}
	if err := enc.CheckKeys(second); err != nil {
		t.Fatal(err)
	}
	holder.Store(second)
	if kid := sign(); kid != "second" {
		t.Fatalf("after the swap signed with %q", kid)
	}
	rsaOnly, err := ParseKeys(jwkSet(t, jwkJSON(t, f.rsa, "r", "RS256", "sig")))
	if err != nil {
		t.Fatal(err)
	}
	if err := enc.CheckKeys(rsaOnly); err == nil || !strings.Contains(err.Error(), "the default alg") {
		t.Fatalf("CheckKeys(RS256 only) = %v", err)
	}
	both, err := ParseKeys(jwkSet(t, jwkJSON(t, f.p256, "e", "ES256", "sig"), jwkJSON(t, f.rsa, "r", "RS256", "sig")))
	if err != nil {
		t.Fatal(err)
	}
	if err := enc.CheckKeys(both); err == nil || !strings.Contains(err.Error(), "restart to change them") {
		t.Fatalf("CheckKeys(another algorithm) = %v", err)
	}
	if _, err := NewSwappableEncoder(&Keys{}, nil, Options{Issuer: testIssuer}); err == nil {
		t.Fatal("an empty holder made an encoder")
	}
}

func TestGenerateKeyFile(t *testing.T) {
	for _, alg := range GeneratedAlgs {
		t.Run(alg, func(t *testing.T) {
			out, err := GenerateKeyFile(alg, "", "")
			if err != nil {
				t.Fatal(err)
			}
			ks, err := ParseKeys(out)
			if err != nil {
				t.Fatal(err)
			}
			kids := ks.KIDs()
			if len(kids) != 1 || len(kids[0]) != 43 {
				t.Fatalf("kids %v, want one RFC 7638 thumbprint", kids)
			}
			if got := ks.Algorithms(); len(got) != 1 || got[0] != alg {
				t.Fatalf("signs %v, want %s", got, alg)
			}
		})
	}
	out, err := GenerateKeyFile("ES256", "2026-12", StatusNext)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `"status": "next"`) {
		t.Fatalf("no next status in %s", out)
	}
	// Alone, a next key leaves the file without an active key.
	if _, err := ParseKeys(out); err == nil || !strings.Contains(err.Error(), "no active signing key") {
		t.Fatalf("a lone next key: %v", err)
	}
	for _, bad := range [][3]string{{"HS256", "", ""}, {"none", "", ""}, {"ES256", "", "retired"}} {
		if _, err := GenerateKeyFile(bad[0], bad[1], bad[2]); err == nil {
			t.Errorf("GenerateKeyFile%v succeeded", bad)
		}
	}
}

// TestParseKeysReportsEveryKey: every key's problem is in the error, not
// only the first (a failed reload logs them all).
func TestParseKeysReportsEveryKey(t *testing.T) {
	f := testFixtures(t)
	_, err := ParseKeys(jwkSet(t,
		withMembers(t, jwkJSON(t, f.p256, "a", "ES256", "sig"), map[string]any{"status": "standby"}),
		jwkJSON(t, f.rsa, "b", "ES256", "sig")))
	if err == nil || !strings.Contains(err.Error(), "key 0:") || !strings.Contains(err.Error(), "key 1:") {
		t.Fatalf("err = %v, want both keys' problems", err)
	}
}
