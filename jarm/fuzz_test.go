package jarm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/parjarm/parjarm/client"
)

// FuzzLoadKeys feeds arbitrary file content to the keys parser. It must
// never panic; whatever it accepts must hold at least one key, unique kids,
// publish no private member, and sign every algorithm it claims with a
// signature that verifies against the published keys.
func FuzzLoadKeys(f *testing.F) {
	fx := testFixtures(f)
	f.Add([]byte(""))
	f.Add([]byte("{}"))
	f.Add([]byte(`{"keys": []}`))
	f.Add([]byte(`{"keys": [{"kty": "EC"}]}`))
	f.Add([]byte(`{"kty": "OKP", "crv": "Ed25519", "x": "", "d": "", "alg": "EdDSA"}`))
	f.Add([]byte(`{"keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB", "d": "AQAB", "p": "AQ", "q": "AQ", "alg": "RS256"}]}`))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"))
	f.Add([]byte("-----BEGIN EC PRIVATE KEY-----\n-----END EC PRIVATE KEY-----\n"))
	f.Add(jwkSet(f, jwkJSON(f, fx.p256, "ec", "ES256", "sig"), jwkJSON(f, fx.ed, "", "EdDSA", "")))
	f.Add(jwkSet(f, jwkJSON(f, fx.rsa, "r", "PS256", "")))
	f.Add([]byte(jwkJSON(f, fx.p384, "solo", "ES384", "")))
	f.Add(append(pkcs8(f, fx.ed), sec1(f, fx.p256)...))
	f.Add(pkcs8(f, fx.rsa))
	f.Add(sec1(f, fx.p521))
	f.Add(jwkSet(f, jwkJSON(f, fx.p256, "s", "ES256", ""), jwkJSON(f, fx.rsa, "e", "RSA-OAEP-256", "enc"), jwkJSON(f, fx.p384, "", "ECDH-ES+A256KW", "enc")))
	f.Add(jwkSet(f, jwkJSON(f, fx.p256, "s", "ES256", ""), jwkJSON(f, fx.p256, "e", "ECDH-ES", "enc")))

	// Rotation states (status, retire_after).
	f.Add(jwkSet(f, jwkJSON(f, fx.p256, "a", "ES256", ""), withMembers(f, jwkJSON(f, fx.ed, "n", "EdDSA", ""), map[string]any{"status": "next"})))
	f.Add(jwkSet(f, withMembers(f, jwkJSON(f, fx.p256, "r", "ES256", ""), map[string]any{"status": "retired", "retire_after": "2000-01-01T00:00:00Z"}), jwkJSON(f, fx.p384, "a", "ES384", "")))
	f.Add(jwkSet(f, withMembers(f, jwkJSON(f, fx.p256, "x", "ES256", ""), map[string]any{"status": "retired", "retire_after": "9999-12-31T23:59:59+01:00"})))

	f.Fuzz(func(t *testing.T, data []byte) {
		ks, err := ParseKeys(data)
		if err != nil {
			if ks != nil {
				t.Fatal("ParseKeys returned a key set with an error")
			}
			return
		}
		kids := ks.KIDs()
		if len(kids) == 0 {
			t.Fatal("ParseKeys accepted a file without keys")
		}
		sorted := slices.Clone(kids)
		slices.Sort(sorted)
		if len(slices.Compact(sorted)) != len(kids) {
			t.Fatalf("duplicate kids %v", kids)
		}
		pub := ks.Public()
		b, err := json.Marshal(pub)
		if err != nil {
			t.Fatalf("marshal Public: %v", err)
		}
		if bytes.Contains(b, []byte(`"d":`)) {
			t.Fatal("Public holds a private member")
		}
		published := make(map[string]bool, len(pub.Keys))
		for _, k := range pub.Keys {
			if published[k.KeyID] {
				t.Fatalf("kid %q published twice", k.KeyID)
			}
			published[k.KeyID] = true
			isSigning := slices.Contains(kids, k.KeyID)
			if isSigning != (k.Use == "sig") || (!isSigning && (k.Use != "enc" || !slices.Contains(ks.EncryptionAlgorithms(), jose.KeyAlgorithm(k.Algorithm)))) {
				t.Fatalf("published key %q has use %q alg %q (signing key: %v)", k.KeyID, k.Use, k.Algorithm, isSigning)
			}
		}
		for _, alg := range ks.Algorithms() {
			signer, err := ks.signer(jose.SignatureAlgorithm(alg))
			if err != nil {
				t.Fatalf("Algorithms lists %s but signer: %v", alg, err)
			}
			signed, err := signer.Sign([]byte(`{"a":1}`))
			if err != nil {
				t.Fatalf("%s: Sign: %v", alg, err)
			}
			compact, err := signed.CompactSerialize()
			if err != nil {
				t.Fatalf("%s: serialize: %v", alg, err)
			}
			jws, err := jose.ParseSigned(compact, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
			if err != nil {
				t.Fatalf("%s: parse: %v", alg, err)
			}
			if st, _ := ks.Status(jws.Signatures[0].Header.KeyID); st != StatusActive {
				t.Fatalf("%s: signed by a %q key", alg, st)
			}
			matches := pub.Key(jws.Signatures[0].Header.KeyID)
			if len(matches) != 1 {
				t.Fatalf("%s: kid %q not published once", alg, jws.Signatures[0].Header.KeyID)
			}
			if _, err := jws.Verify(matches[0]); err != nil {
				t.Fatalf("%s: signature does not verify: %v", alg, err)
			}
		}
	})
}

// FuzzEncode feeds arbitrary response parameters, as the proxy parses them
// from an upstream redirect, to Encode. It must never panic, and a response
// it encodes must carry every parameter exactly.
func FuzzEncode(f *testing.F) {
	keys := testKeys(f)
	enc := newTestEncoder(f, keys, nil, Options{DefaultAlg: "EdDSA"})
	f.Add("code=abc&state=a+b%26c%3Dd%2F%C3%A9&expires_in=3600&session_state=x.y")
	f.Add("error=access_denied&error_description=no&state=s")
	f.Add("iss=https%3A%2F%2Fevil&aud=x&exp=1&iat=2")
	f.Add("expires_in=-0&expires_in2=1")
	f.Add("state=%FF")
	f.Add("a=1&a=2")
	f.Add("=x&&;")

	f.Fuzz(func(t *testing.T, query string) {
		params, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		c := &client.Client{ID: "fuzz"}
		raw, err := enc.Encode(context.Background(), c, params)
		if err != nil {
			if errors.Is(err, ErrNoKey) || errors.Is(err, ErrNoEncryptionKey) {
				t.Fatalf("Encode failed for a key reason: %v", err)
			}
			return
		}
		v := verifyJWS(t, raw, jose.EdDSA, keys.Public(), "")
		for name, values := range params {
			switch name {
			case "", "iss", "aud", "exp", "iat":
				continue
			}
			got := v.claims[name]
			if n, ok := got.(json.Number); ok && name == "expires_in" {
				got = n.String()
			}
			if got != values[0] {
				t.Fatalf("parameter %q = %q, carried as %#v", name, values[0], v.claims[name])
			}
		}
		if v.claims["iss"] != testIssuer || v.claims["aud"] != "fuzz" {
			t.Fatalf("iss/aud = %v/%v", v.claims["iss"], v.claims["aud"])
		}
	})
}
