package par

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/parjarm/parjarm/client"
)

// TestPushRefusesKeysFromAJWKSURIRedirectToHTTP reproduces the attack on a
// private_key_jwt client whose https jwks_uri redirects to http: whoever
// answers the http URL (anyone on the path) supplies the keys, and signs an
// assertion with its own key. The fetcher is given an HTTP client as the
// gateway's wiring gives one, with only a Transport. The push must fail with
// 401 invalid_client and the http URL must never be contacted.
func TestPushRefusesKeysFromAJWKSURIRedirectToHTTP(t *testing.T) {
	e := newEnv(t)
	attacker := testKey(t, "attacker")
	var hijacked atomic.Int32
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hijacked.Add(1)
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{attacker.Public()}})
	}))
	t.Cleanup(plain.Close)
	var fetched atomic.Int32
	origin := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetched.Add(1)
		http.Redirect(w, r, plain.URL+"/jwks", http.StatusFound)
	}))
	t.Cleanup(origin.Close)

	reg := mustRegistry(t, &client.Client{ID: "remote", TokenEndpointAuthMethod: client.AuthPrivateKeyJWT,
		RedirectURIs: []string{testRedirectURI}, JWKSURI: origin.URL + "/jwks"})
	e.reg.p.Store(reg)
	keys := client.NewKeyFetcher(client.FetchOptions{HTTPClient: &http.Client{Transport: origin.Client().Transport}, Now: e.clock.Now})
	e.svc.keys = keys
	e.svc.auth = &client.Authenticator{Registry: reg, Keys: keys, Replay: e.store,
		Audience: client.Audience{Issuer: testIssuer, PAREndpoint: testPARURL}, Now: e.clock.Now}

	now := e.clock.Now()
	assertion := signRequestObject(t, attacker, jose.ES256, nil, map[string]any{
		"iss": "remote", "sub": "remote", "aud": testPARURL, "jti": "attacker-1",
		"exp": now.Add(time.Minute).Unix(), "iat": now.Unix(),
	})
	body := form(authParams("remote", "client_assertion_type", client.AssertionType, "client_assertion", assertion)...)
	wantError(t, e.post(body, ""), http.StatusUnauthorized, "invalid_client")
	if n := fetched.Load(); n != 1 {
		t.Errorf("the jwks_uri was fetched %d times, want 1", n)
	}
	if n := hijacked.Load(); n != 0 {
		t.Errorf("the http redirect target received %d requests, want none", n)
	}
}
