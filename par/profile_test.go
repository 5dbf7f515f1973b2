package par

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/parjarm/parjarm/client"
	"github.com/parjarm/parjarm/profile"
)

// fapiEnv is an env with three private_key_jwt clients, one per profile:
// f2 (FAPI 2.0 Security Profile), fms (FAPI 2.0 Message Signing), f1 (FAPI
// 1.0 Advanced). Their key set holds the shared ES256 key and rsaKey.
type fapiEnv struct {
	*env
	rsa *jose.JSONWebKey
}

func newFAPIEnv(t *testing.T, changes ...func(*envConfig)) *fapiEnv {
	t.Helper()
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey := &jose.JSONWebKey{Key: rk, KeyID: "rsa", Use: "sig"}
	changes = append(changes, func(c *envConfig) {
		c.clients = func(key *jose.JSONWebKey) []*client.Client {
			jwks := &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{key.Public(), rsaKey.Public()}}
			var out []*client.Client
			for id, p := range map[string]profile.Name{"f2": profile.FAPI2Security, "fms": profile.FAPI2MessageSigning, "f1": profile.FAPI1Advanced} {
				out = append(out, &client.Client{ID: id, TokenEndpointAuthMethod: client.AuthPrivateKeyJWT, JWKS: jwks, RedirectURIs: []string{testRedirectURI}, Profile: p})
			}
			return out
		}
	})
	return &fapiEnv{env: newEnv(t, changes...), rsa: rsaKey}
}

// assertion returns the client authentication pairs of a private_key_jwt
// assertion by id, signed with key and alg, for aud.
func (e *fapiEnv) assertion(t *testing.T, id string, key *jose.JSONWebKey, alg jose.SignatureAlgorithm, aud string) []string {
	t.Helper()
	now := e.clock.Now()
	a := signRequestObject(t, key, alg, nil, map[string]any{
		"iss": id, "sub": id, "aud": aud, "jti": rand.Text(),
		"exp": now.Add(time.Minute).Unix(), "iat": now.Unix(),
	})
	return []string{"client_assertion_type", client.AssertionType, "client_assertion", a}
}

// requestObject returns the request and client_id pairs of a push of a
// request object by id, signed with key and alg, with claims changed.
func (e *fapiEnv) requestObject(t *testing.T, id string, key *jose.JSONWebKey, alg jose.SignatureAlgorithm, change func(map[string]any)) []string {
	t.Helper()
	claims := roClaims(id, e.clock.Now())
	if change != nil {
		change(claims)
	}
	return []string{"client_id", id, "request", signRequestObject(t, key, alg, "oauth-authz-req+jwt", claims)}
}

func wantRule(t *testing.T, desc, rule string) {
	t.Helper()
	if !strings.Contains(desc, rule) {
		t.Errorf("error_description = %q, want it to name %q", desc, rule)
	}
}

func TestPushUnderFAPIProfiles(t *testing.T) {
	e := newFAPIEnv(t)
	jarm := func(c map[string]any) { c["response_mode"] = "jwt" }
	tests := []struct {
		name   string
		body   func(t *testing.T) string
		status int
		code   string
		rule   string // "" for 201
	}{
		{"FAPI 2.0: a private_key_jwt push with PKCE and code is accepted", func(t *testing.T) string {
			return form(append(authParams("f2"), e.assertion(t, "f2", e.key, jose.ES256, testIssuer)...)...)
		}, http.StatusCreated, "", ""},
		{"FAPI 2.0: response_type code id_token is refused", func(t *testing.T) string {
			return form(append(e.requestObject(t, "f2", e.key, jose.ES256, func(c map[string]any) { c["response_type"] = "code id_token" }), e.assertion(t, "f2", e.key, jose.ES256, testIssuer)...)...)
		}, http.StatusBadRequest, "unsupported_response_type", "FAPI 2.0 Security Profile 5.3.2.2: response_type must be code"},
		{"FAPI 2.0: a push without PKCE is refused", func(t *testing.T) string {
			return form(append([]string{"client_id", "f2", "response_type", "code", "redirect_uri", testRedirectURI}, e.assertion(t, "f2", e.key, jose.ES256, testIssuer)...)...)
		}, http.StatusBadRequest, "invalid_request", "FAPI 2.0 Security Profile 5.3.2.2: PKCE with code_challenge_method S256 is required"},
		{"FAPI 2.0: response_mode fragment is refused", func(t *testing.T) string {
			return form(append(authParams("f2", "response_mode", "fragment"), e.assertion(t, "f2", e.key, jose.ES256, testIssuer)...)...)
		}, http.StatusBadRequest, "invalid_request", `FAPI 2.0 Security Profile 5.3.2.2: response_mode "fragment" is not allowed`},
		{"FAPI 2.0: an assertion with aud the PAR endpoint is refused", func(t *testing.T) string {
			return form(append(authParams("f2"), e.assertion(t, "f2", e.key, jose.ES256, testPARURL)...)...)
		}, http.StatusUnauthorized, "invalid_client", "FAPI 2.0 Security Profile 5.3.2.1: client_assertion aud must be the issuer as its sole value"},
		{"FAPI 2.0: an RS256 assertion is refused", func(t *testing.T) string {
			return form(append(authParams("f2"), e.assertion(t, "f2", e.rsa, jose.RS256, testIssuer)...)...)
		}, http.StatusUnauthorized, "invalid_client", "FAPI 2.0 Security Profile 5.4.1: client_assertion alg RS256 is not allowed"},
		{"FAPI 2.0: a PS256 assertion is accepted", func(t *testing.T) string {
			return form(append(authParams("f2"), e.assertion(t, "f2", e.rsa, jose.PS256, testIssuer)...)...)
		}, http.StatusCreated, "", ""},
		{"FAPI 2.0 Message Signing: a push without request object is refused", func(t *testing.T) string {
			return form(append(authParams("fms", "response_mode", "jwt"), e.assertion(t, "fms", e.key, jose.ES256, testIssuer)...)...)
		}, http.StatusBadRequest, "invalid_request", "FAPI 2.0 Message Signing 5.3.2: a signed request object is required"},
		{"FAPI 2.0 Message Signing: a request object with JARM is accepted", func(t *testing.T) string {
			return form(append(e.requestObject(t, "fms", e.key, jose.ES256, jarm), e.assertion(t, "fms", e.key, jose.ES256, testIssuer)...)...)
		}, http.StatusCreated, "", ""},
		{"FAPI 2.0 Message Signing: a request object without JARM is refused", func(t *testing.T) string {
			return form(append(e.requestObject(t, "fms", e.key, jose.ES256, nil), e.assertion(t, "fms", e.key, jose.ES256, testIssuer)...)...)
		}, http.StatusBadRequest, "invalid_request", "FAPI 2.0 Message Signing 5.4.2: a JWT response_mode (JARM) is required"},
		{"FAPI 2.0 Message Signing: an RS256 request object is refused", func(t *testing.T) string {
			return form(append(e.requestObject(t, "fms", e.rsa, jose.RS256, jarm), e.assertion(t, "fms", e.key, jose.ES256, testIssuer)...)...)
		}, http.StatusBadRequest, "invalid_request_object", "FAPI 2.0 Message Signing 5.4.1: request object alg RS256 is not allowed"},
		{"FAPI 2.0 Message Signing: a request object without nbf is refused", func(t *testing.T) string {
			return form(append(e.requestObject(t, "fms", e.key, jose.ES256, func(c map[string]any) { jarm(c); delete(c, "nbf") }), e.assertion(t, "fms", e.key, jose.ES256, testIssuer)...)...)
		}, http.StatusBadRequest, "invalid_request_object", "FAPI 2.0 Message Signing 5.3.2: request object nbf is required"},
		{"FAPI 1.0: a request object for code id_token with a nonce is accepted", func(t *testing.T) string {
			return form(append(e.requestObject(t, "f1", e.key, jose.ES256, func(c map[string]any) { c["response_type"] = "code id_token" }), e.assertion(t, "f1", e.key, jose.ES256, testIssuer)...)...)
		}, http.StatusCreated, "", ""},
		{"FAPI 1.0: code id_token without nonce is refused", func(t *testing.T) string {
			return form(append(e.requestObject(t, "f1", e.key, jose.ES256, func(c map[string]any) { c["response_type"] = "code id_token"; delete(c, "nonce") }), e.assertion(t, "f1", e.key, jose.ES256, testIssuer)...)...)
		}, http.StatusBadRequest, "invalid_request", "FAPI 1.0 Advanced 5.2.2.2: nonce is required"},
		{"FAPI 1.0: code without JARM is refused", func(t *testing.T) string {
			return form(append(e.requestObject(t, "f1", e.key, jose.ES256, nil), e.assertion(t, "f1", e.key, jose.ES256, testIssuer)...)...)
		}, http.StatusBadRequest, "invalid_request", "FAPI 1.0 Advanced 5.2.2-2: response_type code requires a JWT response_mode"},
		{"FAPI 1.0: code with JARM is accepted, aud the PAR endpoint too", func(t *testing.T) string {
			return form(append(e.requestObject(t, "f1", e.key, jose.ES256, jarm), e.assertion(t, "f1", e.key, jose.ES256, testPARURL)...)...)
		}, http.StatusCreated, "", ""},
		{"FAPI 1.0: a push without request object is refused", func(t *testing.T) string {
			return form(append(authParams("f1", "response_mode", "jwt"), e.assertion(t, "f1", e.key, jose.ES256, testIssuer)...)...)
		}, http.StatusBadRequest, "invalid_request", "FAPI 1.0 Advanced 5.2.2-1: a signed request object is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := e.post(tt.body(t), "")
			if tt.rule == "" {
				if resp := pushed(t, w); resp.ExpiresIn != 60 {
					t.Errorf("expires_in = %d", resp.ExpiresIn)
				}
				return
			}
			wantRule(t, wantError(t, w, tt.status, tt.code), tt.rule)
		})
	}
}

func TestPushUnderTheGatewayProfile(t *testing.T) {
	e := newFAPIEnv(t, withOptions(func(o *Options) {
		o.Profile = profile.FAPI2Security
		o.DefaultLifetime = MaxLifetime
	}))
	t.Run("a client_secret_basic client is refused naming the rule", func(t *testing.T) {
		desc := wantError(t, e.post(form(authParams("conf")...), basic("conf", testSecret)), http.StatusUnauthorized, "invalid_client")
		wantRule(t, desc, "FAPI 2.0 Security Profile 5.3.2.1: client authentication must be private_key_jwt or mTLS, not client_secret_basic")
	})
	t.Run("expires_in stays below 600 seconds", func(t *testing.T) {
		w := e.post(form(append(authParams("pkj"), e.assertion(t, "pkj", e.key, jose.ES256, testIssuer)...)...), "")
		if resp := pushed(t, w); resp.ExpiresIn != 599 {
			t.Fatalf("expires_in = %d, want 599", resp.ExpiresIn)
		}
	})
	t.Run("a client's own profile applies instead", func(t *testing.T) {
		w := e.post(form(append(authParams("f1", "response_mode", "jwt"), e.assertion(t, "f1", e.key, jose.ES256, testIssuer)...)...), "")
		wantRule(t, wantError(t, w, http.StatusBadRequest, "invalid_request"), "FAPI 1.0 Advanced 5.2.2-1")
	})
	if !e.svc.RequiresPAR(&client.Client{ID: "x"}) {
		t.Error("RequiresPAR is false under a gateway profile")
	}
}

func TestProfileImpliesPAR(t *testing.T) {
	e := newFAPIEnv(t)
	f2, _ := e.reg.Lookup("f2")
	conf, _ := e.reg.Lookup("conf")
	if !e.svc.RequiresPAR(f2) || e.svc.RequiresPAR(conf) {
		t.Fatalf("RequiresPAR(f2) = %v, RequiresPAR(conf) = %v", e.svc.RequiresPAR(f2), e.svc.RequiresPAR(conf))
	}
}

func TestExpandRechecksTheProfile(t *testing.T) {
	e := newFAPIEnv(t)
	w := e.post(form(append(authParams("f2"), e.assertion(t, "f2", e.key, jose.ES256, testIssuer)...)...), "")
	requestURI := pushed(t, w).RequestURI
	ctx := context.Background()
	if _, err := e.svc.Expand(ctx, "f2", requestURI); err != nil {
		t.Fatalf("Expand: %v", err)
	}
	// The operator moves f2 to Message Signing: its unsigned, non-JARM
	// pushed request no longer passes (RFC 9126, section 7.4).
	f2, _ := e.reg.Lookup("f2")
	moved := *f2
	moved.Profile = profile.FAPI2MessageSigning
	e.reg.p.Store(mustRegistry(t, &moved))
	exp, err := e.svc.Expand(ctx, "f2", requestURI)
	wantOAuthError(t, err, http.StatusBadRequest, "invalid_request")
	if exp == nil || !strings.Contains(asOAuth(err).Description, "FAPI 2.0 Message Signing 5.3.2: a signed request object is required") {
		t.Fatalf("Expand = %v, %v", exp, err)
	}
}

func TestProfileCapsTheRequestObjectAge(t *testing.T) {
	// The operator allows two hours; the profiles allow 60 minutes.
	e := newFAPIEnv(t, withOptions(func(o *Options) { o.RequestObjectMaxAge = 2 * time.Hour }))
	now := e.clock.Now()
	tests := []struct {
		name     string
		nbf, exp time.Time
		rule     string
	}{
		{"exp 61 minutes after nbf", now.Add(-time.Minute), now.Add(60 * time.Minute), "FAPI 1.0 Advanced 5.2.2-13: request object exp is more than 60 minutes after nbf"},
		{"nbf 61 minutes in the past", now.Add(-61 * time.Minute), now.Add(-2 * time.Minute).Add(5 * time.Minute), "FAPI 1.0 Advanced 5.2.2-17: request object nbf is more than 60 minutes in the past"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ro := e.requestObject(t, "f1", e.key, jose.ES256, func(c map[string]any) {
				c["response_mode"] = "jwt"
				c["nbf"], c["exp"] = tt.nbf.Unix(), tt.exp.Unix()
			})
			w := e.post(form(append(ro, e.assertion(t, "f1", e.key, jose.ES256, testIssuer)...)...), "")
			wantRule(t, wantError(t, w, http.StatusBadRequest, "invalid_request_object"), tt.rule)
		})
	}
	// Without a profile the operator's two hours apply.
	ro := signRequestObject(t, e.key, jose.ES256, nil, func() map[string]any {
		c := roClaims("conf", now)
		c["nbf"], c["exp"] = now.Add(-time.Minute).Unix(), now.Add(60*time.Minute).Unix()
		return c
	}())
	pushed(t, e.post(form("client_id", "conf", "request", ro), basic("conf", testSecret)))
}
