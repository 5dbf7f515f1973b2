package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// TestRunAcceptsEncryptedHMACRequestObjectsWithTheKeysFile: the keys file
// holds a signing key and a "use": "enc" key; the gateway publishes the
// encryption key in its key set and its algorithms in discovery, and a
// client that encrypts to the key it found there a request object signed
// with its client_secret (HS256) gets a request_uri; tampered, it gets
// invalid_request_object.
func TestRunAcceptsEncryptedHMACRequestObjectsWithTheKeysFile(t *testing.T) {
	sigKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	encKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	keysFile, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: sigKey, KeyID: "gw-sig", Algorithm: "ES256", Use: "sig"},
		{Key: encKey, KeyID: "gw-enc", Algorithm: "ECDH-ES+A256KW", Use: "enc"},
	}})
	const secret = "a-client-secret-of-at-least-32-bytes!!"
	clients := `{"clients":[{"client_id":"hmac-app","client_secret":"` + secret + `","request_object_signing_alg":"HS256",` +
		`"request_object_encryption_alg":"ECDH-ES+A256KW","request_object_encryption_enc":"A256GCM","redirect_uris":["https://app.example/cb"]}]}`

	up := hostBuildingUpstream(t)
	listen, admin := freeAddr(t), freeAddr(t)
	public := "http://" + listen
	env := map[string]string{
		"PARJARM_UPSTREAM_URL": up.URL, "PARJARM_ISSUER": public, "PARJARM_ALLOW_INSECURE_HTTP": "true",
		"PARJARM_UPSTREAM_PRESERVE_HOST": "false",
		"PARJARM_LISTEN_ADDR":            listen, "PARJARM_ADMIN_ADDR": admin,
		"PARJARM_CLIENTS_FILE":      writeFile(t, "clients.json", clients),
		"PARJARM_SIGNING_KEYS_FILE": writeFile(t, "keys.json", string(keysFile)), "PARJARM_DEFAULT_SIGNING_ALG": "ES256",
	}
	startGateway(t, env)

	var disc struct {
		JWKSURI     string   `json:"jwks_uri"`
		PAREndpoint string   `json:"pushed_authorization_request_endpoint"`
		EncAlgs     []string `json:"request_object_encryption_alg_values_supported"`
		EncEncs     []string `json:"request_object_encryption_enc_values_supported"`
	}
	getAs(t, public+"/.well-known/openid-configuration", &disc)
	if !slices.Equal(disc.EncAlgs, []string{"ECDH-ES+A256KW"}) || !slices.Equal(disc.EncEncs, []string{"A128GCM", "A256GCM", "A128CBC-HS256"}) {
		t.Fatalf("discovery lists request object encryption %v / %v", disc.EncAlgs, disc.EncEncs)
	}
	var published jose.JSONWebKeySet
	getAs(t, disc.JWKSURI, &published)
	var encJWK *jose.JSONWebKey
	for i, k := range published.Keys {
		if k.Use == "enc" {
			encJWK = &published.Keys[i]
		}
	}
	if encJWK == nil || encJWK.KeyID != "gw-enc" || encJWK.Algorithm != "ECDH-ES+A256KW" || !encJWK.IsPublic() {
		t.Fatalf("published keys %+v hold no public gw-enc key", published.Keys)
	}

	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte(secret)}, (&jose.SignerOptions{}).WithType("oauth-authz-req+jwt"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	signed, err := jwt.Signed(signer).Claims(map[string]any{
		"iss": "hmac-app", "aud": public, "client_id": "hmac-app", "exp": now.Add(time.Minute).Unix(), "nbf": now.Unix(),
		"response_type": "code", "redirect_uri": "https://app.example/cb", "scope": "openid",
		"code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "code_challenge_method": "S256",
	}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	enc, err := jose.NewEncrypter(jose.A256GCM, jose.Recipient{Algorithm: jose.ECDH_ES_A256KW, Key: encJWK},
		(&jose.EncrypterOptions{}).WithContentType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	obj, err := enc.Encrypt([]byte(signed))
	if err != nil {
		t.Fatal(err)
	}
	requestObject, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	push := func(request string) (int, string) {
		form := url.Values{"client_id": {"hmac-app"}, "request": {request}}
		req, err := http.NewRequest(http.MethodPost, disc.PAREndpoint, strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("hmac-app", secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct {
			Error string `json:"error"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body.Error
	}
	parts := strings.Split(requestObject, ".")
	parts[3] = "A" + parts[3][1:]
	if parts[3] == strings.Split(requestObject, ".")[3] {
		parts[3] = "B" + parts[3][1:]
	}
	if status, code := push(strings.Join(parts, ".")); status != http.StatusBadRequest || code != "invalid_request_object" {
		t.Errorf("tampered ciphertext: %d %q, want 400 invalid_request_object", status, code)
	}
	if status, code := push(requestObject); status != http.StatusCreated {
		t.Errorf("encrypted HS256 request object: %d %q, want 201", status, code)
	}
}

// getAs fetches the JSON document at u (getJSON) into v.
func getAs(t *testing.T, u string, v any) {
	t.Helper()
	status, doc := getJSON(t, u)
	if status != http.StatusOK {
		t.Fatalf("GET %s: %d", u, status)
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
}
