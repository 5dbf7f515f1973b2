package client_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/parjarm/parjarm/client"
)

func BenchmarkAuthenticateSecretBasic(b *testing.B) {
	reg := testRegistry(b)
	clk := newClock()
	a, _ := newAuthenticator(b, reg, staticKeys{}, clk)
	header := basic("basic-app", "s3cret-basic")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := a.Authenticate(ctx, header, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAuthenticatePrivateKeyJWT(b *testing.B) {
	for _, k := range []struct {
		name string
		key  *signingKey
	}{{"ES256", &ecKey}, {"PS256", &rsaKey}, {"EdDSA", &edKey}} {
		b.Run(k.name, func(b *testing.B) {
			reg := testRegistry(b)
			clk := newClock()
			a, _ := newAuthenticator(b, reg, staticKeys{}, clk)
			a.MaxAssertionLifetime = 24 * time.Hour
			ctx := context.Background()
			// Every assertion needs its own jti: sign them before timing.
			forms := make([]url.Values, b.N)
			for i := range forms {
				cl := claims("jwt-app", t0)
				cl["exp"] = t0.Add(time.Hour).Unix()
				forms[i] = assertionForm(sign(b, *k.key, cl, false))
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, m, err := a.Authenticate(ctx, "", forms[i]); err != nil || m != client.AuthPrivateKeyJWT {
					b.Fatal(err)
				}
			}
		})
	}
}
