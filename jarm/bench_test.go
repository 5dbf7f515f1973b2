package jarm

import (
	"context"
	"net/url"
	"testing"

	"github.com/parjarm/parjarm/client"
)

// benchParams is a typical code response.
var benchParams = url.Values{
	"code":          {"SplxlOBeZQQYbYS6WxSbIA-0123456789abcdef"},
	"state":         {"af0ifjsldkj-0123456789"},
	"session_state": {"c2Vzc2lvbg.abc"},
	"iss":           {"https://upstream.internal"},
}

func BenchmarkEncode(b *testing.B) {
	enc := newTestEncoder(b, testKeys(b), nil, Options{})
	for _, alg := range enc.SigningAlgs() {
		c := &client.Client{ID: "bench", Secret: hs256Secret, AuthorizationSignedResponseAlg: alg}
		b.Run(alg, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := enc.Encode(context.Background(), c, benchParams); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEncodeEncrypted signs with PS256 (FAPI 1) and then encrypts.
func BenchmarkEncodeEncrypted(b *testing.B) {
	ck := testClientKeys(b)
	enc := newTestEncoder(b, testKeys(b), staticKeys(&ck.public), Options{})
	for _, pair := range []struct{ alg, enc string }{
		{"RSA-OAEP-256", "A256GCM"},
		{"RSA-OAEP-256", "A128CBC-HS256"},
		{"ECDH-ES", "A128CBC-HS256"},
		{"ECDH-ES", "A256GCM"},
		{"ECDH-ES+A128KW", "A128GCM"},
		{"ECDH-ES+A256KW", "A256GCM"},
	} {
		c := &client.Client{
			ID:                                "bench",
			AuthorizationSignedResponseAlg:    "PS256",
			AuthorizationEncryptedResponseAlg: pair.alg,
			AuthorizationEncryptedResponseEnc: pair.enc,
		}
		b.Run(pair.alg+"+"+pair.enc, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := enc.Encode(context.Background(), c, benchParams); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
