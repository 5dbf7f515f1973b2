package proxy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/parjarm/parjarm/client"
	"github.com/parjarm/parjarm/profile"
)

// fapiKey is the FAPI clients' private key (ES256).
type fapiKey struct{ jwk jose.JSONWebKey }

func newFAPIKey(t *testing.T) fapiKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return fapiKey{jose.JSONWebKey{Key: k, KeyID: "fapi-es256", Algorithm: "ES256", Use: "sig"}}
}

// fapiClients adds a FAPI 2.0 Security Profile client (fapi2) and a FAPI
// 2.0 Message Signing client (fapims), both private_key_jwt, to the
// default clients.
func fapiClients(k fapiKey) []*client.Client {
	jwks := &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{k.jwk.Public()}}
	return append(defaultClients(),
		&client.Client{ID: "fapi2", TokenEndpointAuthMethod: client.AuthPrivateKeyJWT, JWKS: jwks, RedirectURIs: []string{redirectURI}, Profile: profile.FAPI2Security},
		&client.Client{ID: "fapims", TokenEndpointAuthMethod: client.AuthPrivateKeyJWT, JWKS: jwks, RedirectURIs: []string{redirectURI}, Profile: profile.FAPI2MessageSigning},
	)
}

// sign signs claims with the FAPI key.
func (k fapiKey) sign(t *testing.T, typ string, claims map[string]any) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k.jwk}, (&jose.SignerOptions{}).WithType(jose.ContentType(typ)))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jwt.Signed(s).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// privateKeyJWT adds a client assertion for id, aud the issuer, to params.
func (h *harness) privateKeyJWT(t *testing.T, k fapiKey, id string, params url.Values) url.Values {
	t.Helper()
	now := h.clock.Now()
	params.Set("client_assertion_type", client.AssertionType)
	params.Set("client_assertion", k.sign(t, "JWT", map[string]any{
		"iss": id, "sub": id, "aud": h.issuer(), "jti": rand.Text(),
		"exp": now.Add(time.Minute).Unix(), "iat": now.Unix(),
	}))
	return params
}

// pushError pushes and returns the status, error and description.
func (h *harness) pushError(clientID string, params url.Values) (int, string, string) {
	h.t.Helper()
	resp := h.push(clientID, params)
	defer resp.Body.Close()
	var out struct {
		Error string `json:"error"`
		Desc  string `json:"error_description"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out.Error, out.Desc
}

func TestFAPI2FlowEndToEnd(t *testing.T) {
	k := newFAPIKey(t)
	h := newHarness(t, harnessOptions{jarm: true, clients: fapiClients(k)})

	t.Run("private_key_jwt, PKCE, PAR and JARM pass end to end", func(t *testing.T) {
		h.up.setInteractive(true)
		params := pkce(codeFlow("client-state"))
		params.Set("response_mode", "jwt")
		uri := h.mustPush("fapi2", h.privateKeyJWT(t, k, "fapi2", params))
		resp := h.authorize(url.Values{"client_id": {"fapi2"}, "request_uri": {uri}})
		claims := h.verify(response(t, resp, "query"), "fapi2")
		if claims["code"] != "code-123" || claims["state"] != "client-state" || claims["iss"] != h.issuer() {
			t.Fatalf("JARM claims %v", claims)
		}
		sent := h.up.last()
		if sent.Get("code_challenge_method") != "S256" || sent.Has("response_mode") || sent.Has("client_assertion") {
			t.Fatalf("upstream received %v", sent)
		}
	})
	t.Run("the JARM response is signed with an algorithm the profile allows, not the RS256 default", func(t *testing.T) {
		params := pkce(codeFlow("s"))
		params.Set("response_mode", "query.jwt")
		uri := h.mustPush("fapi2", h.privateKeyJWT(t, k, "fapi2", params))
		raw := response(t, h.authorize(url.Values{"client_id": {"fapi2"}, "request_uri": {uri}}), "query")
		tok, err := jwt.ParseSigned(raw, allAlgs)
		if err != nil {
			t.Fatal(err)
		}
		if alg := tok.Headers[0].Algorithm; !slices.Contains(profile.FAPI2Security.Algorithms(), alg) {
			t.Fatalf("JARM alg %s", alg)
		}
	})
	t.Run("a plain response carries iss (RFC 9207)", func(t *testing.T) {
		uri := h.mustPush("fapi2", h.privateKeyJWT(t, k, "fapi2", pkce(codeFlow("s"))))
		resp := h.authorize(url.Values{"client_id": {"fapi2"}, "request_uri": {uri}})
		resp.Body.Close()
		loc, err := resp.Location()
		if err != nil || loc.Query().Get("iss") != h.issuer() || loc.Query().Get("code") != "code-123" {
			t.Fatalf("response %d %v", resp.StatusCode, loc)
		}
	})
	t.Run("a plain authorization request is refused naming the rule", func(t *testing.T) {
		plain := pkce(codeFlow("s"))
		plain.Set("client_id", "fapi2")
		before := h.up.count()
		resp := h.get("/authorize?" + plain.Encode())
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "invalid_request") ||
			!strings.Contains(string(body), "FAPI 2.0 Security Profile 5.3.2.2: pushed authorization request required") {
			t.Fatalf("plain request: %d %s", resp.StatusCode, body)
		}
		if h.up.count() != before {
			t.Fatal("the request reached the upstream")
		}
	})
	t.Run("a push without PKCE is refused", func(t *testing.T) {
		status, code, desc := h.pushError("fapi2", h.privateKeyJWT(t, k, "fapi2", codeFlow("s")))
		if status != http.StatusBadRequest || code != "invalid_request" || !strings.Contains(desc, "FAPI 2.0 Security Profile 5.3.2.2: PKCE") {
			t.Fatalf("push: %d %s %q", status, code, desc)
		}
	})
	t.Run("Message Signing: a signed request object with JARM passes end to end", func(t *testing.T) {
		now := h.clock.Now()
		claims := map[string]any{
			"iss": "fapims", "aud": h.issuer(), "client_id": "fapims", "nbf": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
			"response_type": "code", "response_mode": "jwt", "redirect_uri": redirectURI, "scope": "openid", "state": "ms-state",
			"code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "code_challenge_method": "S256",
		}
		params := url.Values{"request": {k.sign(t, "oauth-authz-req+jwt", claims)}}
		uri := h.mustPush("fapims", h.privateKeyJWT(t, k, "fapims", params))
		resp := h.authorize(url.Values{"client_id": {"fapims"}, "request_uri": {uri}})
		got := h.verify(response(t, resp, "query"), "fapims")
		if got["code"] != "code-123" || got["state"] != "ms-state" {
			t.Fatalf("JARM claims %v", got)
		}
	})
	t.Run("Message Signing: a push without request object is refused", func(t *testing.T) {
		params := pkce(codeFlow("s"))
		params.Set("response_mode", "jwt")
		status, code, desc := h.pushError("fapims", h.privateKeyJWT(t, k, "fapims", params))
		if status != http.StatusBadRequest || code != "invalid_request" || !strings.Contains(desc, "FAPI 2.0 Message Signing 5.3.2: a signed request object is required") {
			t.Fatalf("push: %d %s %q", status, code, desc)
		}
	})
}

func TestDiscoveryUnderAProfile(t *testing.T) {
	k := newFAPIKey(t)
	h := newHarness(t, harnessOptions{jarm: true, clients: fapiClients(k)[4:], profile: profile.FAPI2Security})
	resp := h.get("/.well-known/openid-configuration")
	defer resp.Body.Close()
	var doc map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	list := func(k string) string {
		var out []string
		vs, _ := doc[k].([]any)
		for _, v := range vs {
			s, _ := v.(string)
			out = append(out, s)
		}
		return strings.Join(out, " ")
	}
	for k, want := range map[string]string{
		"code_challenge_methods_supported":                 "S256",
		"token_endpoint_auth_methods_supported":            "private_key_jwt tls_client_auth self_signed_tls_client_auth",
		"token_endpoint_auth_signing_alg_values_supported": "PS256 ES256 EdDSA",
		"request_object_signing_alg_values_supported":      "PS256 ES256 EdDSA",
		"authorization_signing_alg_values_supported":       "PS256 ES256 EdDSA",
		"response_types_supported":                         "code",
		"response_modes_supported":                         "query jwt query.jwt fragment.jwt form_post.jwt",
	} {
		if got := list(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if doc["require_pushed_authorization_requests"] != true || doc["authorization_response_iss_parameter_supported"] != true {
		t.Errorf("PAR and iss: %v %v", doc["require_pushed_authorization_requests"], doc["authorization_response_iss_parameter_supported"])
	}
	// Without a profile, discovery is today's.
	plain := newHarness(t, harnessOptions{jarm: true})
	resp2 := plain.get("/.well-known/openid-configuration")
	defer resp2.Body.Close()
	var doc2 map[string]any
	_ = json.NewDecoder(resp2.Body).Decode(&doc2)
	if _, ok := doc2["code_challenge_methods_supported"]; ok || doc2["require_pushed_authorization_requests"] != false {
		t.Errorf("discovery without a profile changed: %v", doc2)
	}
}
