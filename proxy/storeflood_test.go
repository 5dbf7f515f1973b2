package proxy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/parjarm/parjarm/client"
	"github.com/parjarm/parjarm/store"
)

// A flood of pushes that are never redeemed fills the memory store; it must
// not refuse every other client until the entries expire. The full store
// evicts the flood's oldest pushes, never a jti replay mark (RFC 7523,
// section 3, item 7) nor a flow in progress.
func TestMemoryStoreFloodOfUnredeemedPushesDoesNotLockOutOtherClients(t *testing.T) {
	const bound = 40
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwk := jose.JSONWebKey{Key: key, KeyID: "k1", Algorithm: string(jose.ES256), Use: "sig"}
	clients := append(defaultClients(), &client.Client{
		ID: "jwt", TokenEndpointAuthMethod: client.AuthPrivateKeyJWT, RedirectURIs: []string{redirectURI},
		JWKS: &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{jwk.Public()}},
	})
	mem := store.NewMemory(store.MemoryOptions{MaxEntries: bound, SweepInterval: time.Hour})
	t.Cleanup(func() { mem.Close() })
	h := newHarness(t, harnessOptions{store: mem, clients: clients})

	// A private_key_jwt push leaves a jti mark before the flood.
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jwk}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	assertion, err := jwt.Signed(signer).Claims(jwt.Claims{
		Issuer: "jwt", Subject: "jwt", Audience: jwt.Audience{h.endpoints.URL(EndpointPAR)}, ID: "flood-jti-1",
		IssuedAt: jwt.NewNumericDate(time.Now()), Expiry: jwt.NewNumericDate(time.Now().Add(time.Minute)),
	}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	withAssertion := codeFlow("s-jwt")
	withAssertion.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
	withAssertion.Set("client_assertion", assertion)
	h.mustPush("jwt", withAssertion)

	// The flood: far more pushes than the store holds, none ever redeemed.
	for i := range 3 * bound {
		resp := h.push("conf", codeFlow("flood"))
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("flood push %d: status %d, want 201 (room made by evicting the oldest unredeemed push)", i, resp.StatusCode)
		}
	}
	if n := mem.Len(); n != bound {
		t.Fatalf("store holds %d entries, want the bound %d", n, bound)
	}
	if mem.Evicted() == 0 {
		t.Fatal("no push was evicted: the flood did not reach the bound")
	}

	// Another client still pushes, and its flow completes.
	uri := h.mustPush("other", url.Values{"response_type": {"code"}, "redirect_uri": {"https://other.example/cb"}, "state": {"st-other"}})
	resp := h.authorize(url.Values{"client_id": {"other"}, "request_uri": {uri}})
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("other client's flow: status %d, want 302", resp.StatusCode)
	}
	loc, _ := resp.Location()
	if loc.Host != "other.example" || loc.Query().Get("code") != "code-123" || loc.Query().Get("state") != "st-other" {
		t.Fatalf("other client's flow delivered %v, want its code and state", loc)
	}

	// The jti mark survived the flood: the replayed assertion is refused.
	replay := h.push("jwt", withAssertion)
	defer replay.Body.Close()
	var out struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	_ = json.NewDecoder(replay.Body).Decode(&out)
	if replay.StatusCode != http.StatusUnauthorized || out.Error != "invalid_client" || out.Description != "client_assertion jti has already been used" {
		t.Fatalf("replayed assertion after the flood: %d %q %q, want 401 invalid_client (jti already used)", replay.StatusCode, out.Error, out.Description)
	}

	// The oldest flood pushes were evicted: redeeming one is
	// invalid_request_uri, as for an expired one, never a 5xx.
	first := h.mustPush("conf", codeFlow("late"))
	for range bound {
		r := h.push("conf", codeFlow("flood"))
		r.Body.Close()
	}
	wantErrorPage(t, h.authorize(url.Values{"client_id": {"conf"}, "request_uri": {first}}), http.StatusBadRequest, "invalid_request_uri")
}
