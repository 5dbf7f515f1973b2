package client_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/parjarm/parjarm/client"
)

func TestParseReadsARegistry(t *testing.T) {
	testKeys(t)
	jwks, err := json.Marshal(ecKey.set())
	if err != nil {
		t.Fatal(err)
	}
	doc := `{"clients": [
		{"client_id": "bank-app", "client_secret": "s", "redirect_uris": ["https://bank.example/cb"],
		 "require_pushed_authorization_requests": true, "par_lifetime": 90, "require_pkce": true},
		{"client_id": "jwt-app", "token_endpoint_auth_method": "private_key_jwt", "jwks": ` + string(jwks) + `,
		 "redirect_uris": ["https://jwt.example/cb"], "authorization_signed_response_alg": "PS256",
		 "authorization_encrypted_response_alg": "ECDH-ES"},
		{"client_id": "spa", "token_endpoint_auth_method": "none", "redirect_uris": ["http://127.0.0.1:3000/cb", "com.example.app:/cb"]}
	]}`
	r, err := client.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if r.Len() != 3 {
		t.Fatalf("Len() = %d, want 3", r.Len())
	}
	bank, ok := r.Lookup("bank-app")
	if !ok {
		t.Fatal("bank-app not found")
	}
	if bank.TokenEndpointAuthMethod != client.AuthSecretBasic {
		t.Errorf("default token_endpoint_auth_method = %q, want %q", bank.TokenEndpointAuthMethod, client.AuthSecretBasic)
	}
	if !bank.RequirePAR || !bank.RequirePKCE || bank.PARLifetime != 90 {
		t.Errorf("bank-app flags not read: %+v", bank)
	}
	j, _ := r.Lookup("jwt-app")
	if j.JWKS == nil || len(j.JWKS.Keys) != 1 || j.JWKS.Keys[0].KeyID != "ec-1" {
		t.Errorf("jwt-app jwks = %+v, want the ec-1 key", j.JWKS)
	}
	if got := j.EncryptedResponseEnc(); got != "A128CBC-HS256" {
		t.Errorf("EncryptedResponseEnc() = %q, want the A128CBC-HS256 default", got)
	}
	if _, ok := r.Lookup("nobody"); ok {
		t.Error("Lookup of an unregistered client succeeded")
	}
}

func TestRequestObjectMetadata(t *testing.T) {
	tests := []struct {
		name     string
		client   client.Client
		wantHMAC bool
		wantEnc  string
	}{
		{name: "no metadata: any enc, no HMAC", client: client.Client{}},
		{name: "an asymmetric signing alg is not HMAC", client: client.Client{RequestObjectSigningAlg: "PS256"}},
		{name: "HS384 is HMAC", client: client.Client{RequestObjectSigningAlg: "HS384"}, wantHMAC: true},
		{name: "alg without enc means A128CBC-HS256", client: client.Client{RequestObjectEncryptionAlg: "RSA-OAEP-256"}, wantEnc: "A128CBC-HS256"},
		{name: "a registered enc is used", client: client.Client{RequestObjectEncryptionAlg: "ECDH-ES", RequestObjectEncryptionEnc: "A256GCM"}, wantEnc: "A256GCM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.client.HMACRequestObjects(); got != tt.wantHMAC {
				t.Errorf("HMACRequestObjects() = %v, want %v", got, tt.wantHMAC)
			}
			if got := tt.client.RequestObjectEnc(); got != tt.wantEnc {
				t.Errorf("RequestObjectEnc() = %q, want %q", got, tt.wantEnc)
			}
		})
	}
}

func TestParseRefusesMalformedDocuments(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []string
	}{
		{"an unknown top-level field is named", `{"clients": [], "client": []}`, []string{`unknown field "client"`}},
		{"an unknown client field names the client and the field", `{"clients": [{"client_id": "bank-app", "client_secrett": "x", "redirect_uris": ["https://a/cb"]}]}`,
			[]string{`client "bank-app"`, `unknown field "client_secrett"`}},
		{"an unknown field of a client without id names its position", `{"clients": [{"redirect_urls": []}]}`,
			[]string{`client #1`, `unknown field "redirect_urls"`}},
		{"a wrongly typed field names the client and the field", `{"clients": [{"client_id": "bank-app", "secret": 1, "redirect_uris": "https://a/cb"}]}`,
			[]string{`client "bank-app"`}},
		{"a string where an array belongs names the field", `{"clients": [{"client_id": "bank-app", "client_secret": "s", "redirect_uris": "https://a/cb"}]}`,
			[]string{`client "bank-app"`, "redirect_uris", "array"}},
		{"a jwks that is not a key set names the field", `{"clients": [{"client_id": "jwt-app", "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [{"kty": "nope"}]}, "redirect_uris": ["https://a/cb"]}]}`,
			[]string{`client "jwt-app"`, "jwks"}},
		{"a private key in jwks is refused", `{"clients": [{"client_id": "jwt-app", "token_endpoint_auth_method": "private_key_jwt", "redirect_uris": ["https://a/cb"], "jwks": {"keys": [` + privateJWK(t) + `]}}]}`,
			[]string{`client "jwt-app"`, "jwks", "not a public key"}},
		{"a symmetric key in jwks is refused", `{"clients": [{"client_id": "jwt-app", "token_endpoint_auth_method": "private_key_jwt", "redirect_uris": ["https://a/cb"], "jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"}]}}]}`,
			[]string{`client "jwt-app"`, "jwks", "not a public key"}},
		{"data after the object is refused", `{"clients": []} {}`, []string{"after the JSON value"}},
		{"data after a bare array is refused", `[] []`, []string{"after the JSON value"}},
		{"a number is not a registry", `5`, []string{"JSON object", "array"}},
		{"a client that is not an object is named by position", `[5]`, []string{"client #1", "want an object"}},
		{"empty input is not a registry", ``, []string{"JSON object"}},
		{"broken JSON is refused", `{"clients": [`, []string{"client registry"}},
		{"every bad client is reported at once", `{"clients": [
			{"client_id": "one", "client_secret": "s", "redirect_uris": []},
			{"client_id": "two", "client_secret": "s", "redirect_uris": ["https://a/cb"], "par_lifetime": 1},
			{"client_id": "three", "nope": true}]}`,
			[]string{`client "one": redirect_uris`, `client "two": par_lifetime`, `client "three": unknown field "nope"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := client.Parse([]byte(tt.doc))
			if err == nil {
				t.Fatalf("Parse succeeded with %d clients, want an error", r.Len())
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// privateJWK is a private EC key in JWK form.
func privateJWK(t *testing.T) string {
	t.Helper()
	testKeys(t)
	b, err := json.Marshal(ecKey.private)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestNewRegistryNamesTheClientAndTheFieldOfEveryProblem(t *testing.T) {
	testKeys(t)
	valid := func() *client.Client {
		return &client.Client{ID: "bank-app", Secret: "s3cret", RedirectURIs: []string{"https://bank.example/cb"}}
	}
	jwtClient := func() *client.Client {
		c := valid()
		c.Secret = ""
		c.TokenEndpointAuthMethod = client.AuthPrivateKeyJWT
		c.JWKS = ecKey.set()
		return c
	}
	privateSet := &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{ecKey.private}}
	tests := []struct {
		name   string
		client *client.Client
		field  string
		detail string
	}{
		{"an unknown auth method is refused", with(valid(), func(c *client.Client) { c.TokenEndpointAuthMethod = "client_secret_jwt" }), "token_endpoint_auth_method", "not supported"},
		{"a secret method without a secret is refused", with(valid(), func(c *client.Client) { c.Secret = "" }), "client_secret", "needs"},
		{"a secret and its hash together are refused", with(valid(), func(c *client.Client) { c.SecretHash = hashOf("s3cret") }), "client_secret_hash", "not both"},
		{"a hash without the sha256 prefix is refused", with(valid(), func(c *client.Client) { c.Secret, c.SecretHash = "", strings.TrimPrefix(hashOf("x"), "sha256:") }), "client_secret_hash", "sha256:"},
		{"a hash with too few digits is refused", with(valid(), func(c *client.Client) { c.Secret, c.SecretHash = "", "sha256:abcd" }), "client_secret_hash", "64 hex"},
		{"a hash with non-hex digits is refused", with(valid(), func(c *client.Client) { c.Secret, c.SecretHash = "", "sha256:"+strings.Repeat("zz", 32) }), "client_secret_hash", "64 hex"},
		{"a public client with a secret is refused", with(valid(), func(c *client.Client) { c.TokenEndpointAuthMethod = client.AuthNone }), "client_secret", "no secret"},
		{"a public client with a secret hash is refused", with(valid(), func(c *client.Client) {
			c.TokenEndpointAuthMethod, c.Secret, c.SecretHash = client.AuthNone, "", hashOf("x")
		}), "client_secret_hash", "no secret"},
		{"private_key_jwt without keys is refused", with(jwtClient(), func(c *client.Client) { c.JWKS = nil }), "jwks", "private_key_jwt needs"},
		{"jwks and jwks_uri together are refused", with(jwtClient(), func(c *client.Client) { c.JWKSURI = "https://bank.example/jwks" }), "jwks_uri", "not both"},
		{"a private key in jwks is refused", with(jwtClient(), func(c *client.Client) { c.JWKS = privateSet }), "jwks", "not a public key"},
		{"an empty key in jwks is refused", with(jwtClient(), func(c *client.Client) { c.JWKS = &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{KeyID: "k"}}} }), "jwks", "not a valid key"},
		{"an http jwks_uri is refused", with(jwtClient(), func(c *client.Client) { c.JWKS, c.JWKSURI = nil, "http://bank.example/jwks" }), "jwks_uri", "https"},
		{"a relative jwks_uri is refused", with(jwtClient(), func(c *client.Client) { c.JWKS, c.JWKSURI = nil, "/jwks" }), "jwks_uri", "absolute"},
		{"no redirect URI is refused", with(valid(), func(c *client.Client) { c.RedirectURIs = nil }), "redirect_uris", "at least one"},
		{"a redirect URI with a fragment is refused", with(valid(), func(c *client.Client) { c.RedirectURIs = []string{"http://x/cb#frag"} }), "redirect_uris", `"http://x/cb#frag" has a fragment (RFC 6749 section 3.1.2)`},
		{"an empty fragment is a fragment too", with(valid(), func(c *client.Client) { c.RedirectURIs = []string{"https://x/cb#"} }), "redirect_uris", "fragment"},
		{"a relative redirect URI is refused", with(valid(), func(c *client.Client) { c.RedirectURIs = []string{"/cb"} }), "redirect_uris", "absolute"},
		{"an https redirect URI without host is refused", with(valid(), func(c *client.Client) { c.RedirectURIs = []string{"https:///cb"} }), "redirect_uris", "no host"},
		{"a par_lifetime below 5 s is refused", with(valid(), func(c *client.Client) { c.PARLifetime = 4 }), "par_lifetime", "out of range"},
		{"a par_lifetime above 600 s is refused", with(valid(), func(c *client.Client) { c.PARLifetime = 601 }), "par_lifetime", "out of range"},
		{"a negative par_lifetime is refused", with(valid(), func(c *client.Client) { c.PARLifetime = -1 }), "par_lifetime", "out of range"},
		{"a signed response alg none is refused", with(valid(), func(c *client.Client) { c.AuthorizationSignedResponseAlg = "none" }), "authorization_signed_response_alg", `"none" is refused`},
		{"an unknown signed response alg is refused", with(valid(), func(c *client.Client) { c.AuthorizationSignedResponseAlg = "RS1" }), "authorization_signed_response_alg", "not supported"},
		{"HS256 with only a secret hash is refused", with(valid(), func(c *client.Client) {
			c.Secret, c.SecretHash, c.AuthorizationSignedResponseAlg = "", hashOf("s"), "HS256"
		}), "authorization_signed_response_alg", "plain client_secret"},
		{"enc without alg is refused", with(jwtClient(), func(c *client.Client) { c.AuthorizationEncryptedResponseEnc = "A256GCM" }), "authorization_encrypted_response_enc", "without"},
		{"an unknown encryption alg is refused", with(jwtClient(), func(c *client.Client) { c.AuthorizationEncryptedResponseAlg = "RSA1_5" }), "authorization_encrypted_response_alg", "not supported"},
		{"an unknown encryption enc is refused", with(jwtClient(), func(c *client.Client) {
			c.AuthorizationEncryptedResponseAlg, c.AuthorizationEncryptedResponseEnc = "ECDH-ES", "A192GCM"
		}), "authorization_encrypted_response_enc", "not supported"},
		{"encryption without client keys is refused", with(valid(), func(c *client.Client) { c.AuthorizationEncryptedResponseAlg = "RSA-OAEP-256" }), "authorization_encrypted_response_alg", "jwks or jwks_uri"},
		{"a request object alg none is refused", with(valid(), func(c *client.Client) { c.RequestObjectSigningAlg = "none" }), "request_object_signing_alg", "never none"},
		{"an HMAC request object alg with only a secret hash is refused", with(valid(), func(c *client.Client) {
			c.Secret, c.SecretHash, c.RequestObjectSigningAlg = "", hashOf(strings.Repeat("s", 32)), "HS256"
		}), "request_object_signing_alg", "plain client_secret"},
		{"an HMAC request object alg without any secret is refused", with(jwtClient(), func(c *client.Client) { c.RequestObjectSigningAlg = "HS256" }), "request_object_signing_alg", "needs the client's client_secret"},
		{"HS256 request objects with a 31-byte secret are refused", with(valid(), func(c *client.Client) {
			c.Secret, c.RequestObjectSigningAlg = strings.Repeat("s", 31), "HS256"
		}), "request_object_signing_alg", "at least 32 bytes"},
		{"HS512 request objects with a 63-byte secret are refused", with(valid(), func(c *client.Client) {
			c.Secret, c.RequestObjectSigningAlg = strings.Repeat("s", 63), "HS512"
		}), "request_object_signing_alg", "at least 64 bytes"},
		{"an unknown request object alg is refused", with(valid(), func(c *client.Client) { c.RequestObjectSigningAlg = "HS1" }), "request_object_signing_alg", "not allowed"},
		{"a request object enc without alg is refused", with(valid(), func(c *client.Client) { c.RequestObjectEncryptionEnc = "A256GCM" }), "request_object_encryption_enc", "without request_object_encryption_alg"},
		{"an unsupported request object encryption alg is refused", with(valid(), func(c *client.Client) { c.RequestObjectEncryptionAlg = "RSA1_5" }), "request_object_encryption_alg", "not supported"},
		{"RSA-OAEP (SHA-1) for request objects is refused", with(valid(), func(c *client.Client) { c.RequestObjectEncryptionAlg = "RSA-OAEP" }), "request_object_encryption_alg", "not supported"},
		{"an unsupported request object encryption enc is refused", with(valid(), func(c *client.Client) {
			c.RequestObjectEncryptionAlg, c.RequestObjectEncryptionEnc = "ECDH-ES", "A192GCM"
		}), "request_object_encryption_enc", "not supported"},
		{"an assertion alg none is refused", with(jwtClient(), func(c *client.Client) { c.TokenEndpointAuthSigningAlg = "none" }), "token_endpoint_auth_signing_alg", "never none"},
		{"a symmetric assertion alg is refused", with(jwtClient(), func(c *client.Client) { c.TokenEndpointAuthSigningAlg = "HS512" }), "token_endpoint_auth_signing_alg", "asymmetric"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := client.NewRegistry(tt.client)
			if err == nil {
				t.Fatal("NewRegistry succeeded, want an error")
			}
			want := `client "bank-app": ` + tt.field + ": "
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not contain %q", err, want)
			}
			if !strings.Contains(err.Error(), tt.detail) {
				t.Errorf("error %q does not contain %q", err, tt.detail)
			}
		})
	}
}

func with(c *client.Client, change func(*client.Client)) *client.Client {
	change(c)
	return c
}

func TestNewRegistryAcceptsEdgeValues(t *testing.T) {
	testKeys(t)
	tests := []struct {
		name   string
		client *client.Client
	}{
		{"a par_lifetime of 5 s is accepted", &client.Client{ID: "a", Secret: "s", RedirectURIs: []string{"https://a/cb"}, PARLifetime: 5}},
		{"a par_lifetime of 600 s is accepted", &client.Client{ID: "a", Secret: "s", RedirectURIs: []string{"https://a/cb"}, PARLifetime: 600}},
		{"a loopback http jwks_uri is accepted", &client.Client{ID: "a", TokenEndpointAuthMethod: client.AuthPrivateKeyJWT, JWKSURI: "http://127.0.0.1:8080/jwks", RedirectURIs: []string{"https://a/cb"}}},
		{"a localhost http jwks_uri is accepted", &client.Client{ID: "a", TokenEndpointAuthMethod: client.AuthPrivateKeyJWT, JWKSURI: "http://localhost/jwks", RedirectURIs: []string{"https://a/cb"}}},
		{"an IPv6 loopback http jwks_uri is accepted", &client.Client{ID: "a", TokenEndpointAuthMethod: client.AuthPrivateKeyJWT, JWKSURI: "http://[::1]:8080/jwks", RedirectURIs: []string{"https://a/cb"}}},
		{"HS256 request objects with a 32-byte plain secret are accepted", &client.Client{ID: "a", Secret: strings.Repeat("s", 32), RedirectURIs: []string{"https://a/cb"}, RequestObjectSigningAlg: "HS256"}},
		{"HS384 request objects with a 48-byte plain secret are accepted", &client.Client{ID: "a", Secret: strings.Repeat("s", 48), RedirectURIs: []string{"https://a/cb"}, RequestObjectSigningAlg: "HS384"}},
		{"encrypted request object metadata is accepted", &client.Client{ID: "a", Secret: "s", RedirectURIs: []string{"https://a/cb"},
			RequestObjectEncryptionAlg: "ECDH-ES+A128KW", RequestObjectEncryptionEnc: "A128GCM"}},
		{"HS256 with a plain secret is accepted", &client.Client{ID: "a", Secret: "s", RedirectURIs: []string{"https://a/cb"}, AuthorizationSignedResponseAlg: "HS256"}},
		{"a hashed secret in upper-case hex is accepted", &client.Client{ID: "a", SecretHash: "sha256:" + strings.ToUpper(strings.TrimPrefix(hashOf("s"), "sha256:")), RedirectURIs: []string{"https://a/cb"}}},
		{"a native app's private-use scheme is accepted", &client.Client{ID: "a", TokenEndpointAuthMethod: client.AuthNone, RedirectURIs: []string{"com.example.app:/oauth2redirect"}}},
		{"every JARM algorithm combination is accepted", &client.Client{ID: "a", TokenEndpointAuthMethod: client.AuthNone, JWKS: ecKey.set(), RedirectURIs: []string{"https://a/cb"},
			AuthorizationSignedResponseAlg: "EdDSA", AuthorizationEncryptedResponseAlg: "ECDH-ES+A256KW", AuthorizationEncryptedResponseEnc: "A256GCM"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := client.NewRegistry(tt.client)
			if err != nil {
				t.Fatal(err)
			}
			if r.Len() != 1 {
				t.Fatalf("Len() = %d, want 1", r.Len())
			}
		})
	}
}

func TestNewRegistryRefusesDuplicateAndEmptyIDs(t *testing.T) {
	cb := []string{"https://a/cb"}
	_, err := client.NewRegistry(
		&client.Client{ID: "dup", Secret: "s", RedirectURIs: cb},
		&client.Client{ID: "dup", Secret: "t", RedirectURIs: cb},
		&client.Client{Secret: "u", RedirectURIs: cb},
		nil,
	)
	if err == nil {
		t.Fatal("NewRegistry succeeded, want an error")
	}
	for _, want := range []string{`client "dup": client_id: duplicate`, `client #3: client_id: is required`, `client #4: is nil`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestNewRegistryCopiesItsClients(t *testing.T) {
	in := &client.Client{ID: "a", Secret: "s", RedirectURIs: []string{"https://a/cb"}}
	r, err := client.NewRegistry(in)
	if err != nil {
		t.Fatal(err)
	}
	in.RedirectURIs[0] = "https://evil/cb"
	in.Secret = "changed"
	c, _ := r.Lookup("a")
	if c == in || c.RedirectURIs[0] != "https://a/cb" || c.Secret != "s" {
		t.Errorf("registry shares the caller's client: %+v", c)
	}
	if in.TokenEndpointAuthMethod != "" {
		t.Errorf("caller's client was given a default method %q", in.TokenEndpointAuthMethod)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "clients.json")
	if err := os.WriteFile(good, []byte(`{"clients": [{"client_id": "a", "client_secret": "s", "redirect_uris": ["https://a/cb"]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"clients": [{"client_id": "a"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}

	t.Run("a valid file loads", func(t *testing.T) {
		r, err := client.Load(good)
		if err != nil {
			t.Fatal(err)
		}
		if r.Len() != 1 {
			t.Errorf("Len() = %d, want 1", r.Len())
		}
	})
	t.Run("a missing file is an error naming the path", func(t *testing.T) {
		missing := filepath.Join(dir, "missing.json")
		_, err := client.Load(missing)
		if err == nil || !strings.Contains(err.Error(), missing) {
			t.Errorf("error = %v, want one naming %s", err, missing)
		}
	})
	t.Run("an invalid file is an error naming the path and the client", func(t *testing.T) {
		_, err := client.Load(bad)
		if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), `client "a"`) {
			t.Errorf("error = %v, want one naming %s and client \"a\"", err, bad)
		}
	})
}

func TestEncryptedResponseEnc(t *testing.T) {
	tests := []struct {
		name     string
		alg, enc string
		want     string
	}{
		{"an unencrypted client has no enc", "", "", ""},
		{"an alg alone defaults to A128CBC-HS256", "RSA-OAEP-256", "", "A128CBC-HS256"},
		{"a registered enc is returned", "ECDH-ES", "A256GCM", "A256GCM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &client.Client{AuthorizationEncryptedResponseAlg: tt.alg, AuthorizationEncryptedResponseEnc: tt.enc}
			if got := c.EncryptedResponseEnc(); got != tt.want {
				t.Errorf("EncryptedResponseEnc() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRedirectURIQueries(t *testing.T) {
	tests := []struct {
		uri  string
		want string // "" = accepted
	}{
		{"https://c.example/cb?tenant=7", ""},
		{"https://c.example/cb?a=1;b=2", "does not parse"},
		{"https://c.example/cb?x=%zz", "does not parse"},
		{"https://c.example/cb?state=fixed", `response parameter "state"`},
		{"https://c.example/cb?code=1", `response parameter "code"`},
		{"https://c.example/cb?response=1", `response parameter "response"`},
	}
	for _, tt := range tests {
		t.Run(tt.uri, func(t *testing.T) {
			_, err := client.NewRegistry(&client.Client{ID: "bank-app", Secret: "s", RedirectURIs: []string{tt.uri}})
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), `client "bank-app": redirect_uris`) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}
