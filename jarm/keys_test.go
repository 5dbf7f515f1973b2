package jarm

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/parjarm/parjarm/client"
)

// fixtureKeys are private keys of every kind the tests load from files.
type fixtureKeys struct {
	rsa, rsa2, rsaSmall *rsa.PrivateKey
	p256, p384, p521    *ecdsa.PrivateKey
	ed                  ed25519.PrivateKey
}

var fixtures = sync.OnceValues(func() (*fixtureKeys, error) {
	var f fixtureKeys
	var err error
	if f.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		return nil, err
	}
	if f.rsa2, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		return nil, err
	}
	if f.rsaSmall, err = rsa.GenerateKey(rand.Reader, 1024); err != nil {
		return nil, err
	}
	if f.p256, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return nil, err
	}
	if f.p384, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader); err != nil {
		return nil, err
	}
	if f.p521, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader); err != nil {
		return nil, err
	}
	if _, f.ed, err = ed25519.GenerateKey(rand.Reader); err != nil {
		return nil, err
	}
	return &f, nil
})

func testFixtures(t testing.TB) *fixtureKeys {
	t.Helper()
	f, err := fixtures()
	if err != nil {
		t.Fatalf("fixture keys: %v", err)
	}
	return f
}

// jwkJSON marshals key (private) as a JWK object.
func jwkJSON(t testing.TB, key any, kid, alg, use string) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKey{Key: key, KeyID: kid, Algorithm: alg, Use: use})
	if err != nil {
		t.Fatalf("marshal JWK: %v", err)
	}
	return b
}

func jwkSet(t testing.TB, keys ...json.RawMessage) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mixJWK returns priv with the named members taken from other.
func mixJWK(t testing.TB, priv, other json.RawMessage, members ...string) json.RawMessage {
	t.Helper()
	var p, o map[string]any
	if err := json.Unmarshal(priv, &p); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(other, &o); err != nil {
		t.Fatal(err)
	}
	for _, m := range members {
		p[m] = o[m]
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func pemBlock(t testing.TB, typ string, der []byte) []byte {
	t.Helper()
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func pkcs8(t testing.TB, key any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pemBlock(t, "PRIVATE KEY", der)
}

func sec1(t testing.TB, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pemBlock(t, "EC PRIVATE KEY", der)
}

func mustThumbprint(t testing.TB, pub crypto.PublicKey) string {
	t.Helper()
	kid, err := thumbprint(pub)
	if err != nil {
		t.Fatal(err)
	}
	return kid
}

// signWith encodes a response with alg and checks it verifies against the
// set's published keys; it returns the header kid.
func signWith(t *testing.T, ks *KeySet, alg jose.SignatureAlgorithm) string {
	t.Helper()
	enc := newTestEncoder(t, ks, nil, Options{DefaultAlg: string(alg)})
	raw, err := enc.Encode(context.Background(), &client.Client{ID: "c"}, url.Values{"code": {"x"}})
	if err != nil {
		t.Fatalf("Encode %s: %v", alg, err)
	}
	return verifyJWS(t, raw, alg, ks.Public(), "").kid
}

func TestLoadKeysFromJWKSet(t *testing.T) {
	f := testFixtures(t)
	path := writeFile(t, "keys.json", jwkSet(t,
		jwkJSON(t, f.rsa, "rsa-ps", "PS256", "sig"),
		jwkJSON(t, f.p256, "ec-256", "ES256", ""),
		jwkJSON(t, f.p384, "", "ES384", ""),
		jwkJSON(t, f.ed, "ed", "EdDSA", "sig"),
	))
	ks, err := LoadKeys(path)
	if err != nil {
		t.Fatalf("LoadKeys: %v", err)
	}
	p384KID := mustThumbprint(t, &f.p384.PublicKey)
	if got, want := ks.KIDs(), []string{"rsa-ps", "ec-256", p384KID, "ed"}; !slices.Equal(got, want) {
		t.Errorf("KIDs = %v, want %v (a missing kid is the RFC 7638 thumbprint)", got, want)
	}
	if got, want := ks.Algorithms(), []string{"PS256", "ES256", "ES384", "EdDSA"}; !slices.Equal(got, want) {
		t.Errorf("Algorithms = %v, want %v (a JWK's alg restricts it)", got, want)
	}
	for alg, kid := range map[jose.SignatureAlgorithm]string{jose.PS256: "rsa-ps", jose.ES256: "ec-256", jose.ES384: p384KID, jose.EdDSA: "ed"} {
		t.Run(string(alg)+" signs with its key and verifies", func(t *testing.T) {
			if got := signWith(t, ks, alg); got != kid {
				t.Errorf("kid = %q, want %q", got, kid)
			}
		})
	}
	t.Run("an RSA JWK restricted to PS256 does not sign RS256", func(t *testing.T) {
		if _, err := ks.signer(jose.RS256); !errors.Is(err, ErrNoKey) {
			t.Errorf("signer(RS256) error = %v, want ErrNoKey", err)
		}
	})
	t.Run("a single JWK object is a set of one", func(t *testing.T) {
		ks, err := ParseKeys(jwkJSON(t, f.ed, "solo", "EdDSA", ""))
		if err != nil {
			t.Fatalf("ParseKeys: %v", err)
		}
		if got := ks.KIDs(); !slices.Equal(got, []string{"solo"}) {
			t.Errorf("KIDs = %v", got)
		}
	})
}

func TestLoadKeysFromPEM(t *testing.T) {
	f := testFixtures(t)
	ecParams := pemBlock(t, "EC PARAMETERS", []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07})
	var data bytes.Buffer
	data.WriteString("Gateway signing keys\n")
	data.Write(pkcs8(t, f.rsa))
	data.Write(ecParams) // as `openssl ecparam -genkey` writes it
	data.Write(sec1(t, f.p256))
	data.Write(pkcs8(t, f.p384))
	data.Write(pkcs8(t, f.ed))
	data.Write(pemBlock(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(f.rsa2)))
	ks, err := LoadKeys(writeFile(t, "keys.pem", data.Bytes()))
	if err != nil {
		t.Fatalf("LoadKeys: %v", err)
	}
	wantKIDs := []string{
		mustThumbprint(t, &f.rsa.PublicKey),
		mustThumbprint(t, &f.p256.PublicKey),
		mustThumbprint(t, &f.p384.PublicKey),
		mustThumbprint(t, f.ed.Public()),
		mustThumbprint(t, &f.rsa2.PublicKey),
	}
	if got := ks.KIDs(); !slices.Equal(got, wantKIDs) {
		t.Errorf("KIDs = %v, want the RFC 7638 thumbprints %v", got, wantKIDs)
	}
	if got, want := ks.Algorithms(), []string{"RS256", "PS256", "ES256", "ES384", "EdDSA"}; !slices.Equal(got, want) {
		t.Errorf("Algorithms = %v, want %v", got, want)
	}
	for _, alg := range []jose.SignatureAlgorithm{jose.RS256, jose.PS256, jose.ES256, jose.ES384, jose.EdDSA} {
		t.Run(string(alg)+" signs with the first key that can and verifies", func(t *testing.T) {
			want := map[jose.SignatureAlgorithm]string{jose.RS256: wantKIDs[0], jose.PS256: wantKIDs[0], jose.ES256: wantKIDs[1], jose.ES384: wantKIDs[2], jose.EdDSA: wantKIDs[3]}[alg]
			if got := signWith(t, ks, alg); got != want {
				t.Errorf("kid = %q, want %q", got, want)
			}
		})
	}
	t.Run("an RSA key from PEM is published without alg, since it signs RS256 and PS256", func(t *testing.T) {
		published := ks.Public()
		pub := published.Key(wantKIDs[0])
		if len(pub) != 1 || pub[0].Algorithm != "" {
			t.Errorf("published RSA key = %+v, want one key without alg", pub)
		}
		ec := published.Key(wantKIDs[1])
		if len(ec) != 1 || ec[0].Algorithm != "ES256" {
			t.Errorf("published P-256 key = %+v, want alg ES256", ec)
		}
	})
}

func TestParseKeysRejects(t *testing.T) {
	f := testFixtures(t)
	secretParts := []string{}
	for _, k := range []any{f.rsa, f.p256, f.ed, f.rsaSmall, f.p521} {
		var m map[string]any
		if err := json.Unmarshal(jwkJSON(t, k, "", "", ""), &m); err != nil {
			t.Fatal(err)
		}
		secretParts = append(secretParts, m["d"].(string))
	}
	pubRSA, err := x509.MarshalPKIXPublicKey(&f.rsa.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	otherEC, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	otherEd, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
		want string // the error says this
	}{
		{"an empty file", []byte(" \n"), "the file is empty"},
		{"text that is neither JSON nor PEM", []byte("hello"), "neither a JWK Set (JSON) nor PEM"},
		{"malformed JSON", []byte(`{"keys": [`), "not a JWK Set"},
		{"a JSON object without keys", []byte(`{"foo": 1}`), `needs a "keys" array`},
		{"an empty keys array", []byte(`{"keys": []}`), `"keys" array is empty`},
		{"a key without alg, named by its index", jwkSet(t, jwkJSON(t, f.p256, "a", "ES256", ""), jwkJSON(t, f.rsa, "b", "", "")), `key 1: (kid "b") "alg" is required`},
		{"a key without alg or kid, named by its index", jwkSet(t, jwkJSON(t, f.ed, "", "", "")), `key 0: "alg" is required`},
		{"a public key", jwkSet(t, jwkJSON(t, &f.p256.PublicKey, "pub", "ES256", "")), `key 0: (kid "pub") is a public key`},
		{"a symmetric key", jwkSet(t, jwkJSON(t, []byte("0123456789abcdef0123456789abcdef"), "oct", "HS256", "")), "symmetric (oct) keys are not supported"},
		{"an encryption key with a signing alg", jwkSet(t, jwkJSON(t, f.p256, "s", "ES256", ""), jwkJSON(t, f.p384, "e", "ES256", "enc")), `key 1: (kid "e") "alg" "ES256" is not supported for "use": "enc"`},
		{"an encryption key without alg", jwkSet(t, jwkJSON(t, f.p256, "s", "ES256", ""), jwkJSON(t, f.p384, "e", "", "enc")), `is not supported for "use": "enc"`},
		{"a key with another use", jwkSet(t, jwkJSON(t, f.p256, "s", "ES256", "wrap")), `"use" is "wrap"`},
		{"only encryption keys", jwkSet(t, jwkJSON(t, f.p256, "e", "ECDH-ES", "enc")), "no signing key"},
		{"an RSA encryption key for ECDH-ES", jwkSet(t, jwkJSON(t, f.p256, "s", "ES256", ""), jwkJSON(t, f.rsa, "e", "ECDH-ES", "enc")), "an RSA key decrypts RSA-OAEP-256"},
		{"an EC encryption key for RSA-OAEP-256", jwkSet(t, jwkJSON(t, f.p256, "s", "ES256", ""), jwkJSON(t, f.p384, "e", "RSA-OAEP-256", "enc")), "an EC key decrypts ECDH-ES"},
		{"an RSA encryption key below 2048 bits", jwkSet(t, jwkJSON(t, f.p256, "s", "ES256", ""), jwkJSON(t, f.rsaSmall, "e", "RSA-OAEP-256", "enc")), "RSA key too small"},
		{"an Ed25519 encryption key", jwkSet(t, jwkJSON(t, f.p256, "s", "ES256", ""), jwkJSON(t, f.ed, "e", "ECDH-ES", "enc")), "unsupported key type for decryption"},
		{"a public encryption key", jwkSet(t, jwkJSON(t, f.p256, "s", "ES256", ""), jwkJSON(t, f.p384.Public(), "e", "ECDH-ES", "enc")), "decryption needs the private key"},
		{"the signing key again as an encryption key", jwkSet(t, jwkJSON(t, f.p256, "s", "ES256", ""), jwkJSON(t, f.p256, "e", "ECDH-ES", "enc")), `kid "e" is the same key as kid "s"`},
		{"an encryption key with a signing key's kid", jwkSet(t, jwkJSON(t, f.p256, "same", "ES256", ""), jwkJSON(t, f.p384, "same", "ECDH-ES", "enc")), `kid "same" is used by two keys`},
		{"an alg that does not fit the key", jwkSet(t, jwkJSON(t, f.rsa, "r", "ES256", "")), "alg ES256 does not fit this key (it can sign RS256, PS256)"},
		{"an unsupported alg", jwkSet(t, jwkJSON(t, f.rsa, "r", "RS512", "")), `alg "RS512" is not supported`},
		{"an RSA JWK below 2048 bits", jwkSet(t, jwkJSON(t, f.rsaSmall, "s", "RS256", "")), "at least 2048 bits"},
		{"a P-521 JWK", jwkSet(t, jwkJSON(t, f.p521, "p", "ES512", "")), "EC curve P-521 is not supported"},
		{"an EC key whose d is not its x and y", jwkSet(t, mixJWK(t, jwkJSON(t, f.p256, "m", "ES256", ""), jwkJSON(t, &otherEC.PublicKey, "", "", ""), "x", "y")), "does not match"},
		{"an Ed25519 key whose d is not its x", jwkSet(t, mixJWK(t, jwkJSON(t, f.ed, "m", "EdDSA", ""), jwkJSON(t, otherEd, "", "", ""), "x")), "does not match"},
		{"two keys with one kid", jwkSet(t, jwkJSON(t, f.p256, "same", "ES256", ""), jwkJSON(t, f.ed, "same", "EdDSA", "")), `key 1: kid "same" is used by two keys`},
		{"a malformed JWK", []byte(`{"keys": [{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA", "d": "AA"}]}`), "key 0:"},
		{"an RSA PEM key below 2048 bits", pkcs8(t, f.rsaSmall), "PEM block 1 (PRIVATE KEY): RSA key too small"},
		{"a P-521 PEM key", sec1(t, f.p521), "PEM block 1 (EC PRIVATE KEY): EC curve P-521 is not supported"},
		{"a PEM public key", pemBlock(t, "PUBLIC KEY", pubRSA), "PEM block 1 (PUBLIC KEY): not a private key block"},
		{"an encrypted PKCS #8 key", pemBlock(t, "ENCRYPTED PRIVATE KEY", []byte{1, 2, 3}), "encrypted PEM keys are not supported"},
		{"a legacy encrypted PEM key", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}, Bytes: []byte{1}}), "encrypted PEM keys are not supported"},
		{"a garbled PEM key", pemBlock(t, "PRIVATE KEY", []byte{1, 2, 3}), "PEM block 1 (PRIVATE KEY): malformed key"},
		{"a PEM file with only a certificate", pemBlock(t, "CERTIFICATE", []byte{1}), "no PEM private key block found"},
		{"the same PEM key twice", append(pkcs8(t, f.ed), pkcs8(t, f.ed)...), "PEM block 2 (PRIVATE KEY): kid"},
	}
	for _, tt := range tests {
		t.Run("refuses "+tt.name, func(t *testing.T) {
			ks, err := ParseKeys(tt.data)
			if err == nil {
				t.Fatalf("ParseKeys succeeded with kids %v", ks.KIDs())
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			for _, s := range secretParts {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q contains private key material", err)
				}
			}
		})
	}
}

func TestDecryptionKeys(t *testing.T) {
	f := testFixtures(t)
	ks, err := ParseKeys(jwkSet(t,
		jwkJSON(t, f.p256, "sig", "ES256", "sig"),
		jwkJSON(t, f.rsa, "enc-rsa", "RSA-OAEP-256", "enc"),
		jwkJSON(t, f.p384, "enc-ec", "ECDH-ES+A128KW", "enc"),
		jwkJSON(t, f.p521, "", "ECDH-ES", "enc"),
	))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("the encryption keys are published with use enc and their alg, without private parts", func(t *testing.T) {
		pub := ks.Public()
		if len(pub.Keys) != 4 {
			t.Fatalf("published %d keys, want 4", len(pub.Keys))
		}
		for _, k := range pub.Keys[1:] {
			if k.Use != "enc" || k.Algorithm == "" || !k.IsPublic() {
				t.Errorf("published %q use %q alg %q public %v, want use enc, an alg, public", k.KeyID, k.Use, k.Algorithm, k.IsPublic())
			}
		}
		if k := pub.Keys[3]; k.KeyID != mustThumbprint(t, &f.p521.PublicKey) {
			t.Errorf("kid = %q, want the RFC 7638 thumbprint", k.KeyID)
		}
	})
	t.Run("the algorithms are listed in a fixed order", func(t *testing.T) {
		want := []jose.KeyAlgorithm{jose.RSA_OAEP_256, jose.ECDH_ES, jose.ECDH_ES_A128KW}
		if got := ks.EncryptionAlgorithms(); !slices.Equal(got, want) {
			t.Errorf("EncryptionAlgorithms() = %v, want %v", got, want)
		}
	})
	t.Run("an encryption key never signs", func(t *testing.T) {
		if got := ks.Algorithms(); !slices.Equal(got, []string{"ES256"}) {
			t.Errorf("Algorithms() = %v, want [ES256]", got)
		}
		if err := ks.SetActive("enc-rsa"); err == nil {
			t.Error("SetActive accepted a decryption key")
		}
	})
	encrypt := func(t *testing.T, to *jose.JSONWebKey, alg jose.KeyAlgorithm) *jose.JSONWebEncryption {
		t.Helper()
		enc, err := jose.NewEncrypter(jose.A128GCM, jose.Recipient{Algorithm: alg, Key: to}, nil)
		if err != nil {
			t.Fatal(err)
		}
		obj, err := enc.Encrypt([]byte("secret payload"))
		if err != nil {
			t.Fatal(err)
		}
		raw, err := obj.CompactSerialize()
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := jose.ParseEncryptedCompact(raw, client.RequestObjectEncryptionAlgs, client.RequestObjectEncryptionEncs)
		if err != nil {
			t.Fatal(err)
		}
		return parsed
	}
	for _, tt := range []struct {
		name string
		to   *jose.JSONWebKey
		alg  jose.KeyAlgorithm
	}{
		{"RSA-OAEP-256 to the RSA key by kid", &jose.JSONWebKey{Key: &f.rsa.PublicKey, KeyID: "enc-rsa"}, jose.RSA_OAEP_256},
		{"ECDH-ES+A128KW to the P-384 key by kid", &jose.JSONWebKey{Key: &f.p384.PublicKey, KeyID: "enc-ec"}, jose.ECDH_ES_A128KW},
		{"ECDH-ES to the P-521 key without kid", &jose.JSONWebKey{Key: &f.p521.PublicKey}, jose.ECDH_ES},
	} {
		t.Run("decrypts "+tt.name, func(t *testing.T) {
			plain, err := ks.Decrypt(encrypt(t, tt.to, tt.alg))
			if err != nil || string(plain) != "secret payload" {
				t.Errorf("Decrypt = %q, %v", plain, err)
			}
		})
	}
	t.Run("refuses a kid naming the signing key", func(t *testing.T) {
		_, err := ks.Decrypt(encrypt(t, &jose.JSONWebKey{Key: &f.p256.PublicKey, KeyID: "sig"}, jose.ECDH_ES))
		if !errors.Is(err, ErrNoDecryptionKey) {
			t.Errorf("Decrypt = %v, want ErrNoDecryptionKey", err)
		}
	})
	t.Run("refuses an alg the kid's key is not for", func(t *testing.T) {
		_, err := ks.Decrypt(encrypt(t, &jose.JSONWebKey{Key: &f.p384.PublicKey, KeyID: "enc-ec"}, jose.ECDH_ES_A256KW))
		if !errors.Is(err, ErrNoDecryptionKey) {
			t.Errorf("Decrypt = %v, want ErrNoDecryptionKey", err)
		}
	})
	t.Run("fails for a JWE to another key under a known kid", func(t *testing.T) {
		other, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		_, err = ks.Decrypt(encrypt(t, &jose.JSONWebKey{Key: &other.PublicKey, KeyID: "enc-rsa"}, jose.RSA_OAEP_256))
		if err == nil || errors.Is(err, ErrNoDecryptionKey) {
			t.Errorf("Decrypt = %v, want a decryption failure", err)
		}
	})
	t.Run("a set without decryption keys decrypts nothing", func(t *testing.T) {
		plain := testKeys(t)
		if algs := plain.EncryptionAlgorithms(); len(algs) != 0 {
			t.Errorf("EncryptionAlgorithms() = %v, want none", algs)
		}
		if _, err := plain.Decrypt(encrypt(t, &jose.JSONWebKey{Key: &f.p384.PublicKey}, jose.ECDH_ES)); !errors.Is(err, ErrNoDecryptionKey) {
			t.Errorf("Decrypt = %v, want ErrNoDecryptionKey", err)
		}
		if _, err := plain.Decrypt(nil); !errors.Is(err, ErrNoDecryptionKey) {
			t.Errorf("Decrypt(nil) = %v, want ErrNoDecryptionKey", err)
		}
	})
}

func TestLoadKeysFileErrors(t *testing.T) {
	t.Run("a missing file is an error naming it", func(t *testing.T) {
		_, err := LoadKeys("/nonexistent/keys.json")
		if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "/nonexistent/keys.json") {
			t.Errorf("error = %v", err)
		}
	})
	t.Run("a file over 1 MiB is refused", func(t *testing.T) {
		path := writeFile(t, "big.json", bytes.Repeat([]byte(" "), maxKeysFileSize+1))
		_, err := LoadKeys(path)
		if err == nil || !strings.Contains(err.Error(), "larger than") {
			t.Errorf("error = %v", err)
		}
	})
	t.Run("a parse error names the file", func(t *testing.T) {
		path := writeFile(t, "bad.json", []byte(`{"keys": []}`))
		_, err := LoadKeys(path)
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("error = %v", err)
		}
	})
}

func TestRotation(t *testing.T) {
	f := testFixtures(t)
	ks, err := ParseKeys(jwkSet(t,
		jwkJSON(t, f.rsa, "2026-01", "RS256", "sig"),
		jwkJSON(t, f.rsa2, "2026-07", "RS256", "sig"),
	))
	if err != nil {
		t.Fatalf("ParseKeys: %v", err)
	}
	if got := ks.Public().Keys; len(got) != 2 || got[0].KeyID != "2026-01" || got[1].KeyID != "2026-07" {
		t.Fatalf("published keys = %+v, want both", got)
	}
	t.Run("the first key signs until another is made active", func(t *testing.T) {
		if got := signWith(t, ks, jose.RS256); got != "2026-01" {
			t.Errorf("kid = %q, want 2026-01", got)
		}
	})
	t.Run("SetActive makes the new key sign while both stay published", func(t *testing.T) {
		if err := ks.SetActive("2026-07"); err != nil {
			t.Fatalf("SetActive: %v", err)
		}
		if got := signWith(t, ks, jose.RS256); got != "2026-07" {
			t.Errorf("kid = %q, want 2026-07", got)
		}
		if got := ks.KIDs(); !slices.Equal(got, []string{"2026-01", "2026-07"}) {
			t.Errorf("KIDs = %v", got)
		}
	})
	t.Run("responses encoded while the active key changes all verify", func(t *testing.T) {
		enc := newTestEncoder(t, ks, nil, Options{})
		published := ks.Public()
		var wg sync.WaitGroup
		responses := make(chan string, 8)
		for i := range 8 {
			wg.Go(func() {
				raw, err := enc.Encode(context.Background(), &client.Client{ID: "c"}, url.Values{"code": {"x"}})
				if err != nil {
					t.Errorf("Encode: %v", err)
					return
				}
				responses <- raw
			})
			wg.Go(func() {
				if err := ks.SetActive([]string{"2026-01", "2026-07"}[i%2]); err != nil {
					t.Errorf("SetActive: %v", err)
				}
			})
		}
		wg.Wait()
		close(responses)
		for raw := range responses {
			verifyJWS(t, raw, jose.RS256, published, "")
		}
		if err := ks.SetActive("2026-07"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("SetActive with an unknown kid is an error and changes nothing", func(t *testing.T) {
		err := ks.SetActive("2027-01")
		if err == nil || !strings.Contains(err.Error(), `no signing key has kid "2027-01"`) {
			t.Errorf("error = %v", err)
		}
		if got := signWith(t, ks, jose.RS256); got != "2026-07" {
			t.Errorf("kid = %q, want 2026-07", got)
		}
	})
}

func TestPublicHasNoPrivateParts(t *testing.T) {
	f := testFixtures(t)
	pemKeys, err := ParseKeys(append(pkcs8(t, f.rsa), sec1(t, f.p256)...))
	if err != nil {
		t.Fatal(err)
	}
	signerKeys := &KeySet{}
	if err := signerKeys.AddSigner("hsm", "EdDSA", opaque{f.ed}); err != nil {
		t.Fatal(err)
	}
	for name, ks := range map[string]*KeySet{"development keys": testKeys(t), "PEM keys": pemKeys, "crypto.Signer keys": signerKeys} {
		t.Run("the published "+name+" hold only public members", func(t *testing.T) {
			b, err := json.Marshal(ks.Public())
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			var set struct{ Keys []map[string]any }
			if err := json.Unmarshal(b, &set); err != nil {
				t.Fatal(err)
			}
			if len(set.Keys) != len(ks.KIDs()) {
				t.Fatalf("published %d keys, want %d", len(set.Keys), len(ks.KIDs()))
			}
			for i, k := range set.Keys {
				for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
					if _, ok := k[private]; ok {
						t.Errorf("key %d has private member %q", i, private)
					}
				}
				if k["kid"] != ks.KIDs()[i] || k["use"] != "sig" {
					t.Errorf("key %d: kid %v use %v, want %s and sig", i, k["kid"], k["use"], ks.KIDs()[i])
				}
			}
		})
	}
}

// opaque hides a private key's type, as a KMS or HSM signer does.
type opaque struct{ s crypto.Signer }

func (o opaque) Public() crypto.PublicKey { return o.s.Public() }
func (o opaque) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return o.s.Sign(r, digest, opts)
}

func TestAddSigner(t *testing.T) {
	f := testFixtures(t)
	ks := &KeySet{}
	for _, s := range []struct {
		kid, alg string
		signer   crypto.Signer
	}{{"kms-ps256", "PS256", opaque{f.rsa}}, {"kms-es384", "ES384", opaque{f.p384}}, {"", "EdDSA", opaque{f.ed}}} {
		if err := ks.AddSigner(s.kid, s.alg, s.signer); err != nil {
			t.Fatalf("AddSigner(%s): %v", s.alg, err)
		}
	}
	edKID := mustThumbprint(t, f.ed.Public())
	for alg, kid := range map[jose.SignatureAlgorithm]string{jose.PS256: "kms-ps256", jose.ES384: "kms-es384", jose.EdDSA: edKID} {
		t.Run("a crypto.Signer signs "+string(alg)+" with its kid in the header", func(t *testing.T) {
			if got := signWith(t, ks, alg); got != kid {
				t.Errorf("kid = %q, want %q", got, kid)
			}
		})
	}
	if got, want := ks.Algorithms(), []string{"PS256", "ES384", "EdDSA"}; !slices.Equal(got, want) {
		t.Errorf("Algorithms = %v, want %v", got, want)
	}
	tests := []struct {
		name   string
		kid    string
		alg    string
		signer crypto.Signer
		want   string
	}{
		{"refuses a nil signer", "x", "ES256", nil, "nil signer"},
		{"refuses an alg that does not fit the key", "x", "ES256", opaque{f.rsa}, "alg ES256 does not fit this key"},
		{"refuses an unsupported alg", "x", "RS384", opaque{f.rsa}, `alg "RS384" is not supported`},
		{"refuses a kid already in the set", "kms-ps256", "RS256", opaque{f.rsa2}, `kid "kms-ps256" is used by two keys`},
		{"refuses a small RSA key", "x", "RS256", opaque{f.rsaSmall}, "at least 2048 bits"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ks.AddSigner(tt.kid, tt.alg, tt.signer)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want it to say %q", err, tt.want)
			}
		})
	}
}

func TestGenerateDevelopmentKeys(t *testing.T) {
	ks := testKeys(t)
	if got, want := ks.Algorithms(), []string{"RS256", "PS256", "ES256", "ES384", "EdDSA"}; !slices.Equal(got, want) {
		t.Errorf("Algorithms = %v, want %v", got, want)
	}
	pub := ks.Public()
	var algs []string
	for _, k := range pub.Keys {
		if !strings.HasPrefix(k.KeyID, "dev-") || !k.IsPublic() || k.Use != "sig" {
			t.Errorf("key %q: want a public sig key with a dev- kid", k.KeyID)
		}
		algs = append(algs, k.Algorithm)
	}
	if want := []string{"RS256", "PS256", "ES256", "ES384", "EdDSA"}; !reflect.DeepEqual(algs, want) {
		t.Errorf("published algs = %v, want one key per alg %v", algs, want)
	}
}
