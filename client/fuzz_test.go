package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/parjarm/parjarm/client"
	"github.com/parjarm/parjarm/oauth"
)

func FuzzAuthenticate(f *testing.F) {
	reg := testRegistry(f)
	clk := newClock()
	a, _ := newAuthenticator(f, reg, staticKeys{}, clk)
	jwtBody := assertionForm(sign(f, ecKey, claims("jwt-app", t0), false)).Encode()
	for _, seed := range []struct{ authorization, body string }{
		{basic("basic-app", "s3cret-basic"), ""},
		{basic("basic-app", "wrong"), "client_id=basic-app"},
		{basic("app:with space", "p@ss:w+rd%/ ü"), ""},
		{"", "client_id=post-app&client_secret=s3cret-post"},
		{"", "client_id=public-app"},
		{"", jwtBody},
		{"", jwtBody + "&client_id=other"},
		{basic("basic-app", "s3cret-basic"), jwtBody},
		{"", "client_assertion_type=x&client_assertion=a.b.c"},
		{"Bearer x", ""},
		{"Basic !!", "client_id=a&client_id=b"},
		{"", ""},
	} {
		f.Add(seed.authorization, seed.body)
	}
	f.Fuzz(func(t *testing.T, authorization, body string) {
		form, _ := url.ParseQuery(body) // a partial parse is still a form
		c, m, err := a.Authenticate(context.Background(), authorization, form)
		if err == nil {
			if c == nil {
				t.Fatal("no client and no error")
			}
			if string(m) != c.TokenEndpointAuthMethod {
				t.Fatalf("method %q used by a client registered for %q", m, c.TokenEndpointAuthMethod)
			}
			return
		}
		if c != nil {
			t.Fatalf("client %q returned with error %v", c.ID, err)
		}
		var oe *oauth.Error
		if !errors.As(err, &oe) {
			t.Fatalf("error %v is %T, want *oauth.Error", err, err)
		}
		switch oe.Status {
		case 400, 401, 503:
		default:
			t.Fatalf("status %d for %v", oe.Status, err)
		}
	})
}

func FuzzParseRegistry(f *testing.F) {
	for _, seed := range []string{
		`{"clients": []}`,
		`{"clients": [{"client_id": "a", "client_secret": "s", "redirect_uris": ["https://a/cb"]}]}`,
		`{"clients": [{"client_id": "a", "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [{"kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}, "redirect_uris": ["https://a/cb"]}]}`,
		`{"clients": [{"client_id": "a", "token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "https://a/jwks", "redirect_uris": ["https://a/cb"], "authorization_encrypted_response_alg": "RSA-OAEP-256"}]}`,
		`{"clients": [{"client_id": "a", "client_secret_hash": "sha256:00", "redirect_uris": ["x#y"], "par_lifetime": 1}]}`,
		`{"clients": [{"client_id": "a", "nope": 1}], "extra": true}`,
		`{"clients": null}`,
		`{"clients": [{"client_id": "h", "client_secret": "0123456789abcdef0123456789abcdef", "request_object_signing_alg": "HS256", "redirect_uris": ["https://a/cb"]}]}`,
		`{"clients": [{"client_id": "h", "client_secret_hash": "sha256:` + strings.Repeat("ab", 32) + `", "request_object_signing_alg": "HS512", "redirect_uris": ["https://a/cb"]}]}`,
		`{"clients": [{"client_id": "e", "client_secret": "s", "request_object_encryption_alg": "ECDH-ES", "request_object_encryption_enc": "A256GCM", "redirect_uris": ["https://a/cb"]}]}`,
		`[]`,
		``,
		`[{"client_id": "a", "client_secret": "s", "redirect_uris": ["https://a/cb"], "client_name": "A", "client_name#ja-Jpan-JP": "エー", "contacts": ["ops@a"], "default_max_age": 60, "require_auth_time": true}]`,
		`[{"client_id": "a", "client_secret": "s", "redirect_uris": ["https://a/cb"], "grant_types": ["client_credentials"]}]`,
		`[{"client_id": "a", "client_secret": "s", "redirect_uris": ["http://a/cb"], "application_type": "web", "response_types": ["code id_token"], "grant_types": ["authorization_code", "implicit"]}]`,
		`[{"client_id": "n", "token_endpoint_auth_method": "none", "redirect_uris": ["https://n/cb"], "application_type": "native"}]`,
		`[{"client_id": "a", "grant_type": [], "redirect_uri": "x", "client_nmae": 1, "Client_ID": "b", "logo_uri#": "", "scope#fr": ""}]`,
		`[{"client_id": "a", "client_secret": "s", "redirect_uris": ["https://a/cb"], "registration_access_token": "t", "client_secret_expires_at": "soon"}]`,
		`[5, null, "x", {}]`,
	} {
		f.Add([]byte(seed))
	}
	if data, err := os.ReadFile("testdata/all-metadata.json"); err == nil {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := client.Parse(data)
		if err != nil {
			if r != nil {
				t.Fatal("registry returned with an error")
			}
			return
		}
		if r.Len() < 0 {
			t.Fatal("negative length")
		}
		// An HMAC request object client always has a plain secret at least
		// as long as the hash (RFC 7518, section 3.2).
		type entry struct {
			ID string `json:"client_id"`
		}
		var doc struct {
			Clients []entry `json:"clients"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			_ = json.Unmarshal(data, &doc.Clients) // a bare array
		}
		acted := client.ActedMetadata()
		for _, in := range doc.Clients {
			c, ok := r.Lookup(in.ID)
			if !ok {
				continue
			}
			if c.HMACRequestObjects() && len(c.Secret) < 32 {
				t.Fatalf("client %q: %s request objects with a %d-byte secret", c.ID, c.RequestObjectSigningAlg, len(c.Secret))
			}
			// Kept metadata never shadows what the gateway acts on.
			for _, name := range c.MetadataNames() {
				if slices.Contains(acted, name) {
					t.Fatalf("client %q: acted-on %q kept as ignored metadata", c.ID, name)
				}
			}
		}
	})
}
