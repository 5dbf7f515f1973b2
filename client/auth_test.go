package client_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/parjarm/parjarm/client"
)

func TestAuthenticateSecretsAndPublicClients(t *testing.T) {
	reg := testRegistry(t)
	clk := newClock()
	a, _ := newAuthenticator(t, reg, staticKeys{}, clk)
	rawBasic := func(s string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(s)) }

	tests := []struct {
		name          string
		authorization string
		form          url.Values
		wantClient    string
		wantMethod    client.Method
	}{
		{"client_secret_basic with the right secret succeeds", basic("basic-app", "s3cret-basic"), nil, "basic-app", client.AuthSecretBasic},
		{"client_secret_basic with a matching client_id parameter succeeds", basic("basic-app", "s3cret-basic"), url.Values{"client_id": {"basic-app"}}, "basic-app", client.AuthSecretBasic},
		{"the Basic scheme name is case-insensitive", "bAsIc " + strings.TrimPrefix(basic("basic-app", "s3cret-basic"), "Basic "), nil, "basic-app", client.AuthSecretBasic},
		{"client_secret_post with the right secret succeeds", "", url.Values{"client_id": {"post-app"}, "client_secret": {"s3cret-post"}}, "post-app", client.AuthSecretPost},
		{"a hashed secret is checked against its digest", basic("hashed-app", "s3cret-hashed"), nil, "hashed-app", client.AuthSecretBasic},
		{"Basic credentials are form-urlencoded before base64", basic("app:with space", "p@ss:w+rd%/ ü"), nil, "app:with space", client.AuthSecretBasic},
		{"a plus in Basic credentials is a space", rawBasic("app%3Awith+space:p%40ss%3Aw%2Brd%25%2F+%C3%BC"), nil, "app:with space", client.AuthSecretBasic},
		{"a public client authenticates with client_id alone", "", url.Values{"client_id": {"public-app"}}, "public-app", client.AuthNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, m, err := a.Authenticate(context.Background(), tt.authorization, tt.form)
			if err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
			if c.ID != tt.wantClient || m != tt.wantMethod {
				t.Errorf("Authenticate = %q, %q; want %q, %q", c.ID, m, tt.wantClient, tt.wantMethod)
			}
		})
	}
}

func TestAuthenticateRefusesBadCredentials(t *testing.T) {
	reg := testRegistry(t)
	clk := newClock()
	a, _ := newAuthenticator(t, reg, staticKeys{}, clk)
	assertion := sign(t, ecKey, claims("jwt-app", t0), false)
	rawBasic := func(s string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(s)) }

	tests := []struct {
		name          string
		authorization string
		form          url.Values
		code          string
		status        int
		wantMethod    client.Method
		generic       bool // the description must be the one shared by unknown clients and wrong secrets
	}{
		{"a wrong Basic secret is refused", basic("basic-app", "wrong"), nil, "invalid_client", 401, client.AuthSecretBasic, true},
		{"an unknown Basic client is refused alike", basic("nobody", "s3cret-basic"), nil, "invalid_client", 401, client.AuthSecretBasic, true},
		{"an empty Basic secret is refused", basic("basic-app", ""), nil, "invalid_client", 401, client.AuthSecretBasic, true},
		{"a secret that is a prefix of the right one is refused", basic("basic-app", "s3cret"), nil, "invalid_client", 401, client.AuthSecretBasic, true},
		{"a wrong post secret is refused", "", url.Values{"client_id": {"post-app"}, "client_secret": {"wrong"}}, "invalid_client", 401, client.AuthSecretPost, true},
		{"an unknown post client is refused alike", "", url.Values{"client_id": {"nobody"}, "client_secret": {"x"}}, "invalid_client", 401, client.AuthSecretPost, true},
		{"a wrong secret of a hashed client is refused", basic("hashed-app", "s3cret-hashe"), nil, "invalid_client", 401, client.AuthSecretBasic, true},
		{"the hash itself is not the secret", basic("hashed-app", hashOf("s3cret-hashed")), nil, "invalid_client", 401, client.AuthSecretBasic, true},
		{"an unencoded percent sign in Basic credentials is malformed", rawBasic("app:with space:p@ss:w+rd%/ ü"), nil, "invalid_client", 401, client.AuthSecretBasic, false},
		{"Basic credentials that are not base64 are refused", "Basic !!!", nil, "invalid_client", 401, client.AuthSecretBasic, false},
		{"Basic credentials without a colon are refused", rawBasic("basic-app"), nil, "invalid_client", 401, client.AuthSecretBasic, false},
		{"Basic credentials with an empty client_id are refused", rawBasic(":s3cret-basic"), nil, "invalid_client", 401, client.AuthSecretBasic, false},
		{"a Bearer header is not client authentication", "Bearer abc", nil, "invalid_client", 401, "", false},
		{"no authentication at all is refused", "", url.Values{"scope": {"openid"}}, "invalid_client", 401, client.AuthNone, false},
		{"a post secret without client_id is refused", "", url.Values{"client_secret": {"s3cret-post"}}, "invalid_client", 401, client.AuthSecretPost, false},
		{"an unknown public client is refused", "", url.Values{"client_id": {"nobody"}}, "invalid_client", 401, client.AuthNone, true},

		{"a Basic header and a post secret together are refused", basic("basic-app", "s3cret-basic"), url.Values{"client_secret": {"s3cret-basic"}}, "invalid_request", 400, "", false},
		{"a Basic header and an assertion together are refused", basic("basic-app", "s3cret-basic"), assertionForm(assertion), "invalid_request", 400, "", false},
		{"a post secret and an assertion together are refused", "", withValues(assertionForm(assertion), "client_id", "post-app", "client_secret", "s3cret-post"), "invalid_request", 400, "", false},
		{"a repeated client_secret is refused", "", url.Values{"client_id": {"post-app"}, "client_secret": {"s3cret-post", "s3cret-post"}}, "invalid_request", 400, "", false},
		{"a repeated client_id is refused", "", url.Values{"client_id": {"public-app", "public-app"}}, "invalid_request", 400, "", false},
		{"a client_id parameter naming another client is refused", basic("basic-app", "s3cret-basic"), url.Values{"client_id": {"post-app"}}, "invalid_request", 400, client.AuthSecretBasic, false},

		{"a Basic client using client_secret_post is refused", "", url.Values{"client_id": {"basic-app"}, "client_secret": {"s3cret-basic"}}, "invalid_client", 401, client.AuthSecretPost, true},
		{"a post client using client_secret_basic is refused", basic("post-app", "s3cret-post"), nil, "invalid_client", 401, client.AuthSecretBasic, true},
		{"a confidential client sending only its client_id is refused", "", url.Values{"client_id": {"basic-app"}}, "invalid_client", 401, client.AuthNone, true},
		{"a private_key_jwt client sending only its client_id is refused", "", url.Values{"client_id": {"jwt-app"}}, "invalid_client", 401, client.AuthNone, true},
		{"a public client sending a secret is refused", basic("public-app", ""), nil, "invalid_client", 401, client.AuthSecretBasic, true},
		{"a secret client sending an assertion is refused", "", assertionForm(sign(t, ecKey, claims("basic-app", t0), false)), "invalid_client", 401, client.AuthPrivateKeyJWT, true},
	}
	var genericDesc string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, m, err := a.Authenticate(context.Background(), tt.authorization, tt.form)
			if c != nil {
				t.Errorf("Authenticate returned client %q with an error", c.ID)
			}
			oe := wantOAuthError(t, err, tt.code, tt.status)
			if m != tt.wantMethod {
				t.Errorf("method = %q, want %q", m, tt.wantMethod)
			}
			if tt.generic {
				if genericDesc == "" {
					genericDesc = oe.Description
				}
				if oe.Description != genericDesc {
					t.Errorf("description %q differs from %q: clients could be enumerated", oe.Description, genericDesc)
				}
			}
			for _, secret := range []string{"s3cret-basic", "s3cret-post", "s3cret-hashed", assertion} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q contains a credential", err)
				}
			}
		})
	}
}

func withValues(v url.Values, kv ...string) url.Values {
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

func TestUsedBasic(t *testing.T) {
	tests := []struct {
		name          string
		authorization string
		want          bool
	}{
		{"a Basic header is Basic", basic("a", "b"), true},
		{"a lower-case scheme is Basic", "basic abc", true},
		{"a malformed Basic header is still Basic", "Basic", true},
		{"a Bearer header is not Basic", "Bearer abc", false},
		{"no header is not Basic", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := client.UsedBasic(tt.authorization); got != tt.want {
				t.Errorf("UsedBasic(%q) = %v, want %v", tt.authorization, got, tt.want)
			}
		})
	}
}

func TestAuthenticatePrivateKeyJWT(t *testing.T) {
	reg := testRegistry(t)
	hmacKey := make([]byte, 32)
	_, _ = rand.Read(hmacKey)
	hs := signingKey{jose.JSONWebKey{Key: hmacKey, KeyID: "ec-1"}, jose.HS256}

	type change func(claims map[string]any)
	set := func(k string, v any) change { return func(c map[string]any) { c[k] = v } }
	del := func(k string) change { return func(c map[string]any) { delete(c, k) } }
	tests := []struct {
		name     string
		clientID string
		key      signingKey
		noKID    bool
		change   change
		audience client.Audience
		form     url.Values // merged into the assertion form
		code     string     // "" for success
		status   int
		desc     string // part of the error_description
	}{
		{"an ES256 assertion with aud = issuer succeeds", "jwt-app", ecKey, false, nil, client.Audience{}, nil, "", 0, ""},
		{"a PS256 assertion succeeds", "jwt-app", rsaKey, false, nil, client.Audience{}, nil, "", 0, ""},
		{"an EdDSA assertion succeeds", "jwt-app", edKey, false, nil, client.Audience{}, nil, "", 0, ""},
		{"an assertion without kid is tried against every key", "jwt-app", edKey, true, nil, client.Audience{}, nil, "", 0, ""},
		{"aud = token endpoint is accepted (RFC 9126 section 2)", "jwt-app", ecKey, false, set("aud", tokenEndpoint), client.Audience{}, nil, "", 0, ""},
		{"aud = PAR endpoint is accepted (RFC 9126 section 2)", "jwt-app", ecKey, false, set("aud", parEndpoint), client.Audience{}, nil, "", 0, ""},
		{"aud as an array containing the PAR endpoint is accepted", "jwt-app", ecKey, false, set("aud", []string{"https://other", parEndpoint}), client.Audience{}, nil, "", 0, ""},
		{"with IssuerOnly aud = issuer is accepted", "jwt-app", ecKey, false, nil, client.Audience{IssuerOnly: true}, nil, "", 0, ""},
		{"with IssuerOnly aud = token endpoint is refused", "jwt-app", ecKey, false, set("aud", tokenEndpoint), client.Audience{IssuerOnly: true}, nil, "invalid_client", 401, "aud"},
		{"with IssuerOnly aud = PAR endpoint is refused", "jwt-app", ecKey, false, set("aud", parEndpoint), client.Audience{IssuerOnly: true}, nil, "invalid_client", 401, "aud"},
		{"with IssuerOnly an array holding the issuer and more is refused (FAPI 2.0)", "jwt-app", ecKey, false, set("aud", []string{parEndpoint, issuer}), client.Audience{IssuerOnly: true}, nil, "invalid_client", 401, "aud"},
		{"with IssuerOnly the issuer alone in an array is accepted", "jwt-app", ecKey, false, set("aud", []string{issuer}), client.Audience{IssuerOnly: true}, nil, "", 0, ""},
		{"a wrong aud is refused", "jwt-app", ecKey, false, set("aud", "https://elsewhere.example"), client.Audience{}, nil, "invalid_client", 401, "aud"},
		{"an aud array without us is refused", "jwt-app", ecKey, false, set("aud", []string{"https://a", "https://b"}), client.Audience{}, nil, "invalid_client", 401, "aud"},
		{"a missing aud is refused", "jwt-app", ecKey, false, del("aud"), client.Audience{}, nil, "invalid_client", 401, "aud"},
		{"a wrong iss is refused", "jwt-app", ecKey, false, set("iss", "other-app"), client.Audience{}, nil, "invalid_client", 401, "iss and sub"},
		{"a wrong sub is refused", "jwt-app", ecKey, false, set("sub", "other-app"), client.Audience{}, nil, "invalid_client", 401, "iss and sub"},
		{"an unknown client is refused", "nobody", ecKey, false, nil, client.Audience{}, nil, "invalid_client", 401, "client authentication failed"},
		{"an expired assertion is refused", "jwt-app", ecKey, false, set("exp", t0.Add(-2*time.Minute).Unix()), client.Audience{}, nil, "invalid_client", 401, "expired"},
		{"an assertion expired within the clock skew is accepted", "jwt-app", ecKey, false, set("exp", t0.Add(-30*time.Second).Unix()), client.Audience{}, nil, "", 0, ""},
		{"an assertion without exp is refused", "jwt-app", ecKey, false, del("exp"), client.Audience{}, nil, "invalid_client", 401, "no exp"},
		{"an assertion valid for two hours is refused", "jwt-app", ecKey, false, set("exp", t0.Add(2*time.Hour).Unix()), client.Audience{}, nil, "invalid_client", 401, "too far"},
		{"nbf 5 s ahead is accepted (clock skew)", "jwt-app", ecKey, false, set("nbf", t0.Add(5*time.Second).Unix()), client.Audience{}, nil, "", 0, ""},
		{"nbf 2 min ahead is refused", "jwt-app", ecKey, false, set("nbf", t0.Add(2*time.Minute).Unix()), client.Audience{}, nil, "invalid_client", 401, "nbf"},
		{"iat 2 min ahead is refused", "jwt-app", ecKey, false, set("iat", t0.Add(2*time.Minute).Unix()), client.Audience{}, nil, "invalid_client", 401, "iat"},
		{"an assertion without jti is refused", "jwt-app", ecKey, false, del("jti"), client.Audience{}, nil, "invalid_client", 401, "no jti"},
		{"a malformed exp is refused", "jwt-app", ecKey, false, set("exp", "tomorrow"), client.Audience{}, nil, "invalid_client", 401, "malformed"},
		{"an HS256 assertion is refused", "jwt-app", hs, false, nil, client.Audience{}, nil, "invalid_client", 401, "accepted algorithm"},
		{"a signature by another key with the right kid is refused", "jwt-app", signingKey{jose.JSONWebKey{Key: ecKey2.private.Key, KeyID: "ec-1"}, jose.ES256}, false, nil, client.Audience{}, nil, "invalid_client", 401, "client authentication failed"},
		{"a signature by an unregistered key is refused", "jwt-app", ecKey2, false, nil, client.Audience{}, nil, "invalid_client", 401, "client authentication failed"},
		{"the registered assertion alg is accepted", "ps256-only", rsaKey, false, nil, client.Audience{}, nil, "", 0, ""},
		{"another alg than the registered one is refused", "ps256-only", ecKey, false, nil, client.Audience{}, nil, "invalid_client", 401, "token_endpoint_auth_signing_alg"},
		{"a matching client_id parameter is accepted", "jwt-app", ecKey, false, nil, client.Audience{}, url.Values{"client_id": {"jwt-app"}}, "", 0, ""},
		{"a client_id parameter naming another client is refused", "jwt-app", ecKey, false, nil, client.Audience{}, url.Values{"client_id": {"basic-app"}}, "invalid_request", 400, "client_id"},
		{"a wrong client_assertion_type is refused", "jwt-app", ecKey, false, nil, client.Audience{}, url.Values{"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:saml2-bearer"}}, "invalid_client", 401, "client_assertion_type"},
		{"a missing client_assertion_type is refused", "jwt-app", ecKey, false, nil, client.Audience{}, url.Values{"client_assertion_type": {""}}, "invalid_client", 401, "client_assertion_type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			a, _ := newAuthenticator(t, reg, staticKeys{}, clk)
			if tt.audience.IssuerOnly {
				a.Audience.IssuerOnly = true
			}
			cl := claims(tt.clientID, t0)
			if tt.change != nil {
				tt.change(cl)
			}
			form := assertionForm(sign(t, tt.key, cl, tt.noKID))
			for k, v := range tt.form {
				form[k] = v
			}
			c, m, err := a.Authenticate(context.Background(), "", form)
			if m != client.AuthPrivateKeyJWT {
				t.Errorf("method = %q, want %q", m, client.AuthPrivateKeyJWT)
			}
			if tt.code == "" {
				if err != nil {
					t.Fatalf("Authenticate: %v", err)
				}
				if c.ID != tt.clientID {
					t.Errorf("client = %q, want %q", c.ID, tt.clientID)
				}
				return
			}
			oe := wantOAuthError(t, err, tt.code, tt.status)
			if !strings.Contains(oe.Description, tt.desc) {
				t.Errorf("description %q does not contain %q", oe.Description, tt.desc)
			}
			if strings.Contains(err.Error(), form.Get("client_assertion")) {
				t.Errorf("error %q contains the assertion", err)
			}
		})
	}
}

func TestAuthenticateRefusesAnUnsignedAssertion(t *testing.T) {
	reg := testRegistry(t)
	clk := newClock()
	a, _ := newAuthenticator(t, reg, staticKeys{}, clk)
	// Even an allow-list that names none and HS256 never lets them in.
	a.Algorithms = []jose.SignatureAlgorithm{"none", jose.HS256, jose.ES256}
	for _, tt := range []struct {
		name      string
		assertion string
	}{
		{"alg none is refused", unsigned(claims("jwt-app", t0))},
		{"HS256 is refused though listed", sign(t, signingKey{jose.JSONWebKey{Key: make([]byte, 32)}, jose.HS256}, claims("jwt-app", t0), true)},
		{"an assertion that is not a JWT is refused", "not.a.jwt"},
		{"an empty assertion is refused", ""},
		{"an oversized assertion is refused", strings.Repeat("a", 40<<10)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := a.Authenticate(context.Background(), "", assertionForm(tt.assertion))
			wantOAuthError(t, err, "invalid_client", 401)
		})
	}
	t.Run("ES256 on the same allow-list still works", func(t *testing.T) {
		if _, _, err := a.Authenticate(context.Background(), "", assertionForm(sign(t, ecKey, claims("jwt-app", t0), false))); err != nil {
			t.Fatal(err)
		}
	})
}

func TestAuthenticateRefusesAReplayedAssertion(t *testing.T) {
	reg := testRegistry(t)
	clk := newClock()
	a, _ := newAuthenticator(t, reg, staticKeys{}, clk)
	cl := claims("jwt-app", t0)
	form := assertionForm(sign(t, ecKey, cl, false))
	if _, _, err := a.Authenticate(context.Background(), "", form); err != nil {
		t.Fatalf("first use: %v", err)
	}
	_, _, err := a.Authenticate(context.Background(), "", form)
	oe := wantOAuthError(t, err, "invalid_client", 401)
	if !strings.Contains(oe.Description, "jti") {
		t.Errorf("description %q does not mention the jti", oe.Description)
	}

	t.Run("the same jti in a new assertion is refused too", func(t *testing.T) {
		again := claims("jwt-app", t0)
		again["jti"] = cl["jti"]
		_, _, err := a.Authenticate(context.Background(), "", assertionForm(sign(t, rsaKey, again, false)))
		wantOAuthError(t, err, "invalid_client", 401)
	})
	t.Run("the same jti of another client is not a replay", func(t *testing.T) {
		other := claims("ps256-only", t0)
		other["jti"] = cl["jti"]
		if _, _, err := a.Authenticate(context.Background(), "", assertionForm(sign(t, rsaKey, other, false))); err != nil {
			t.Fatal(err)
		}
	})
}

func TestAuthenticateNeverAcceptsAnAssertionUnchecked(t *testing.T) {
	reg := testRegistry(t)
	t.Run("an unreachable replay store answers 503", func(t *testing.T) {
		clk := newClock()
		a, st := newAuthenticator(t, reg, staticKeys{}, clk)
		_ = st.Close() // a closed store fails with store.ErrUnavailable
		_, _, err := a.Authenticate(context.Background(), "", assertionForm(sign(t, ecKey, claims("jwt-app", t0), false)))
		wantOAuthError(t, err, "temporarily_unavailable", 503)
	})
	t.Run("no replay store answers 503", func(t *testing.T) {
		clk := newClock()
		a, _ := newAuthenticator(t, reg, staticKeys{}, clk)
		a.Replay = nil
		_, _, err := a.Authenticate(context.Background(), "", assertionForm(sign(t, ecKey, claims("jwt-app", t0), false)))
		wantOAuthError(t, err, "temporarily_unavailable", 503)
	})
}

func TestAuthenticateWithoutAKeySourceUsesInlineKeys(t *testing.T) {
	reg := testRegistry(t, &client.Client{ID: "uri-app", TokenEndpointAuthMethod: client.AuthPrivateKeyJWT, JWKSURI: "https://keys.example/jwks", RedirectURIs: []string{"https://u/cb"}})
	clk := newClock()
	a, _ := newAuthenticator(t, reg, nil, clk)
	t.Run("a client with inline jwks authenticates", func(t *testing.T) {
		if _, _, err := a.Authenticate(context.Background(), "", assertionForm(sign(t, ecKey, claims("jwt-app", t0), false))); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a client with a jwks_uri is refused", func(t *testing.T) {
		_, _, err := a.Authenticate(context.Background(), "", assertionForm(sign(t, ecKey, claims("uri-app", t0), false)))
		wantOAuthError(t, err, "invalid_client", 401)
	})
}

func TestAuthenticateRefetchesRotatedKeysOnce(t *testing.T) {
	testKeys(t)
	srv := &jwksServer{}
	srv.serve(ecKey.set())
	ts := httptest.NewServer(srv)
	defer ts.Close()
	reg := testRegistry(t, &client.Client{ID: "rotating-app", TokenEndpointAuthMethod: client.AuthPrivateKeyJWT, JWKSURI: ts.URL + "/jwks", RedirectURIs: []string{"https://r/cb"}})
	clk := newClock()
	fetcher := client.NewKeyFetcher(client.FetchOptions{HTTPClient: ts.Client(), Now: clk.Now})
	a, _ := newAuthenticator(t, reg, fetcher, clk)
	auth := func(k signingKey) error {
		_, _, err := a.Authenticate(context.Background(), "", assertionForm(sign(t, k, claims("rotating-app", clk.Now()), false)))
		return err
	}

	if err := auth(ecKey); err != nil {
		t.Fatalf("before rotation: %v", err)
	}
	if n := srv.count(); n != 1 {
		t.Fatalf("fetches = %d, want 1", n)
	}
	srv.serve(ecKey2.set())

	// Right after a fetch an unknown kid does not cause another one: made-up
	// kids must not turn the gateway into an amplifier.
	err := auth(ecKey2)
	wantOAuthError(t, err, "invalid_client", 401)
	if n := srv.count(); n != 1 {
		t.Fatalf("fetches after an unknown kid within the refresh interval = %d, want 1", n)
	}

	clk.Advance(client.DefaultMinRefreshInterval + time.Second)
	if err := auth(ecKey2); err != nil {
		t.Fatalf("after rotation: %v", err)
	}
	if n := srv.count(); n != 2 {
		t.Fatalf("fetches = %d, want 2 (one refetch)", n)
	}
	// The cached set is fresh again: the new key needs no more fetches.
	if err := auth(ecKey2); err != nil {
		t.Fatal(err)
	}
	if n := srv.count(); n != 2 {
		t.Fatalf("fetches = %d, want 2", n)
	}
	// A key that is still unknown after the refetch is refused, with one retry at most.
	clk.Advance(client.DefaultMinRefreshInterval + time.Second)
	wantOAuthError(t, auth(ecKey), "invalid_client", 401)
	if n := srv.count(); n != 3 {
		t.Fatalf("fetches = %d, want 3", n)
	}
}

func TestAuthenticateWithAnUnreachableJWKSURI(t *testing.T) {
	testKeys(t)
	srv := &jwksServer{}
	srv.fail(http.StatusInternalServerError, nil)
	ts := httptest.NewServer(srv)
	defer ts.Close()
	reg := testRegistry(t, &client.Client{ID: "rotating-app", TokenEndpointAuthMethod: client.AuthPrivateKeyJWT, JWKSURI: ts.URL, RedirectURIs: []string{"https://r/cb"}})
	clk := newClock()
	a, _ := newAuthenticator(t, reg, client.NewKeyFetcher(client.FetchOptions{HTTPClient: ts.Client(), Now: clk.Now}), clk)
	_, _, err := a.Authenticate(context.Background(), "", assertionForm(sign(t, ecKey, claims("rotating-app", t0), false)))
	oe := wantOAuthError(t, err, "invalid_client", 401)
	if oe.Unwrap() == nil || !strings.Contains(oe.Unwrap().Error(), "status 500") {
		t.Errorf("cause = %v, want the fetch failure for the logs", oe.Unwrap())
	}
}
