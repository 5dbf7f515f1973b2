package proxy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/parjarm/parjarm/client"
)

// jarmClients adds JARM clients to the default ones: one per signing alg,
// and one with encrypted responses whose private key the test keeps.
func jarmClients(t testing.TB) ([]*client.Client, *rsa.PrivateKey, *ecdsa.PrivateKey) {
	t.Helper()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cs := defaultClients()
	for _, alg := range []string{"RS256", "PS256", "ES256", "ES384", "EdDSA"} {
		cs = append(cs, &client.Client{ID: "jarm-" + alg, Secret: "s-" + alg, TokenEndpointAuthMethod: client.AuthSecretBasic,
			RedirectURIs: []string{redirectURI, "https://client.example/cb?tenant=7"}, AuthorizationSignedResponseAlg: alg})
	}
	cs = append(cs,
		&client.Client{ID: "jarm-HS256", Secret: strings.Repeat("k", 40), TokenEndpointAuthMethod: client.AuthSecretBasic,
			RedirectURIs: []string{redirectURI}, AuthorizationSignedResponseAlg: "HS256"},
		&client.Client{ID: "jarm-enc-rsa", Secret: "enc-secret", TokenEndpointAuthMethod: client.AuthSecretBasic,
			RedirectURIs: []string{redirectURI}, AuthorizationSignedResponseAlg: "PS256",
			AuthorizationEncryptedResponseAlg: "RSA-OAEP-256", AuthorizationEncryptedResponseEnc: "A256GCM",
			JWKS: &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: rsaKey.Public(), KeyID: "client-enc-1", Use: "enc", Algorithm: "RSA-OAEP-256"}}}},
		&client.Client{ID: "jarm-enc-ec", Secret: "enc-secret", TokenEndpointAuthMethod: client.AuthSecretBasic,
			RedirectURIs: []string{redirectURI}, AuthorizationSignedResponseAlg: "ES256",
			AuthorizationEncryptedResponseAlg: "ECDH-ES",
			JWKS:                              &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: ecKey.Public(), KeyID: "client-enc-2", Use: "enc"}}}},
	)
	return cs, rsaKey, ecKey
}

// published returns the gateway's key set as discovery publishes it.
func (h *harness) published() *jose.JSONWebKeySet {
	h.t.Helper()
	resp := h.get("/.well-known/openid-configuration")
	var doc struct {
		JWKSURI string `json:"jwks_uri"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	resp = h.get(doc.JWKSURI)
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		h.t.Fatal(err)
	}
	return &set
}

var allAlgs = []jose.SignatureAlgorithm{jose.RS256, jose.PS256, jose.ES256, jose.ES384, jose.EdDSA, jose.HS256}

// verify checks a JARM response as a client does: signature against the
// published key set (or the client's secret for HS256), iss, aud, exp, and
// returns the claims.
func (h *harness) verify(raw, clientID string) map[string]any {
	h.t.Helper()
	tok, err := jwt.ParseSigned(raw, allAlgs)
	if err != nil {
		h.t.Fatalf("parse JARM response: %v", err)
	}
	var key any
	hdr := tok.Headers[0]
	if hdr.Algorithm == "HS256" {
		key = []byte(h.clients[clientID].Secret)
	} else {
		keys := h.published().Key(hdr.KeyID)
		if len(keys) != 1 {
			h.t.Fatalf("kid %q is not in the published key set", hdr.KeyID)
		}
		key = keys[0].Key
	}
	if want := h.clients[clientID].AuthorizationSignedResponseAlg; want != "" && hdr.Algorithm != want {
		h.t.Fatalf("alg %s, want %s", hdr.Algorithm, want)
	}
	var std jwt.Claims
	claims := map[string]any{}
	if err := tok.Claims(key, &std, &claims); err != nil {
		h.t.Fatalf("signature: %v", err)
	}
	if err := std.ValidateWithLeeway(jwt.Expected{Issuer: h.issuer(), AnyAudience: jwt.Audience{clientID}, Time: h.clock.Now()}, 0); err != nil {
		h.t.Fatalf("claims: %v", err)
	}
	if std.Expiry == nil || std.IssuedAt == nil {
		h.t.Fatal("exp or iat missing")
	}
	if life := std.Expiry.Time().Sub(std.IssuedAt.Time()); life != 5*time.Minute {
		h.t.Fatalf("lifetime %v, want 5m", life)
	}
	return claims
}

// response extracts the `response` parameter from whatever the gateway
// answered in mode, and checks nothing else is there.
func response(t *testing.T, resp *http.Response, base string) string {
	t.Helper()
	defer resp.Body.Close()
	switch base {
	case "query", "fragment":
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("status %d, want 302", resp.StatusCode)
		}
		loc, err := url.Parse(resp.Header.Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		if loc.Scheme+"://"+loc.Host+loc.Path != redirectURI {
			t.Fatalf("Location %q", loc)
		}
		var params url.Values
		if base == "query" {
			if loc.Fragment != "" {
				t.Fatalf("fragment in a query response: %q", loc)
			}
			params = loc.Query()
			params.Del("tenant")
		} else {
			if loc.RawQuery != "" {
				t.Fatalf("query in a fragment response: %q", loc)
			}
			params, _ = url.ParseQuery(loc.Fragment)
		}
		if len(params) != 1 || len(params["response"]) != 1 {
			t.Fatalf("the redirect carries %v, want only response", params)
		}
		return params.Get("response")
	case "form_post":
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d, want 200", resp.StatusCode)
		}
		body, _ := io.ReadAll(resp.Body)
		inputs := regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`).FindAllStringSubmatch(string(body), -1)
		if len(inputs) != 1 || inputs[0][1] != "response" {
			t.Fatalf("form fields %q", inputs)
		}
		if resp.Header.Get("Cache-Control") != "no-store" || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'sha256-") {
			t.Fatalf("headers %v", resp.Header)
		}
		return html.UnescapeString(inputs[0][2])
	}
	t.Fatalf("mode %q", base)
	return ""
}

func TestJARMModesAndResponseTypes(t *testing.T) {
	cs, _, _ := jarmClients(t)
	h := newHarness(t, harnessOptions{jarm: true, clients: cs})
	state := "st/é &x=1<y>"
	tests := []struct {
		responseType, mode, base string
		want                     map[string]any
	}{
		{"code", "query.jwt", "query", map[string]any{"code": "code-123"}},
		{"code", "fragment.jwt", "fragment", map[string]any{"code": "code-123"}},
		{"code", "form_post.jwt", "form_post", map[string]any{"code": "code-123"}},
		{"code", "jwt", "query", map[string]any{"code": "code-123"}},
		{"token", "jwt", "fragment", map[string]any{"access_token": "at-456", "token_type": "Bearer", "expires_in": float64(3600)}},
		{"token", "fragment.jwt", "fragment", map[string]any{"access_token": "at-456", "expires_in": float64(3600)}},
		{"token", "form_post.jwt", "form_post", map[string]any{"access_token": "at-456"}},
		{"id_token", "jwt", "fragment", map[string]any{"id_token": "eyJ.idtoken.sig"}},
		{"code id_token", "jwt", "fragment", map[string]any{"code": "code-123", "id_token": "eyJ.idtoken.sig"}},
		{"code id_token", "form_post.jwt", "form_post", map[string]any{"code": "code-123", "id_token": "eyJ.idtoken.sig"}},
		{"code token", "fragment.jwt", "fragment", map[string]any{"code": "code-123", "access_token": "at-456"}},
		{"code id_token token", "jwt", "fragment", map[string]any{"code": "code-123", "id_token": "eyJ.idtoken.sig", "access_token": "at-456"}},
	}
	for _, tt := range tests {
		for _, viaPAR := range []bool{false, true} {
			name := tt.responseType + " in " + tt.mode
			if viaPAR {
				name += " pushed"
			}
			t.Run(name, func(t *testing.T) {
				params := url.Values{"response_type": {tt.responseType}, "redirect_uri": {redirectURI}, "scope": {"openid"},
					"nonce": {"n"}, "state": {state}, "response_mode": {tt.mode}}
				var resp *http.Response
				if viaPAR {
					uri := h.mustPush("jarm-ES256", params)
					resp = h.authorize(url.Values{"client_id": {"jarm-ES256"}, "request_uri": {uri}})
				} else {
					params.Set("client_id", "jarm-ES256")
					resp = h.authorize(params)
				}
				up := h.up.last()
				if up.Has("response_mode") || up.Get("state") == state {
					t.Fatalf("upstream saw %v", up)
				}
				raw := response(t, resp, tt.base)
				claims := h.verify(raw, "jarm-ES256")
				if claims["state"] != state {
					t.Errorf("state %q, want %q", claims["state"], state)
				}
				if claims["session_state"] != "ss-1" {
					t.Errorf("session_state %v", claims["session_state"])
				}
				for k, v := range tt.want {
					if claims[k] != v {
						t.Errorf("%s = %#v, want %#v", k, claims[k], v)
					}
				}
				// Nothing of ours leaks: the transaction id appears nowhere.
				if txID := up.Get("state"); strings.Contains(raw+resp.Header.Get("Location"), txID) {
					t.Fatal("the transaction id leaked to the client")
				}
			})
		}
	}
}

func TestJARMSigningAlgorithms(t *testing.T) {
	cs, _, _ := jarmClients(t)
	h := newHarness(t, harnessOptions{jarm: true, clients: cs})
	for _, alg := range []string{"RS256", "PS256", "ES256", "ES384", "EdDSA", "HS256"} {
		t.Run(alg, func(t *testing.T) {
			id := "jarm-" + alg
			q := url.Values{"client_id": {id}, "response_type": {"code"}, "redirect_uri": {redirectURI}, "state": {"s"}, "response_mode": {"jwt"}}
			claims := h.verify(response(t, h.authorize(q), "query"), id)
			if claims["code"] != "code-123" || claims["state"] != "s" {
				t.Fatalf("claims %v", claims)
			}
		})
	}
	t.Run("a client that registers none gets the default RS256", func(t *testing.T) {
		q := url.Values{"client_id": {"conf"}, "response_type": {"code"}, "redirect_uri": {redirectURI}, "response_mode": {"query.jwt"}}
		raw := response(t, h.authorize(q), "query")
		tok, err := jwt.ParseSigned(raw, allAlgs)
		if err != nil || tok.Headers[0].Algorithm != "RS256" {
			t.Fatalf("alg %v %v", tok, err)
		}
		claims := h.verify(raw, "conf")
		if _, ok := claims["state"]; ok {
			t.Fatal("state added where the client sent none")
		}
	})
}

func TestJARMEncryptedResponses(t *testing.T) {
	cs, rsaKey, ecKey := jarmClients(t)
	h := newHarness(t, harnessOptions{jarm: true, clients: cs})
	for _, tc := range []struct {
		id       string
		key      any
		alg, enc string
	}{
		{"jarm-enc-rsa", rsaKey, "RSA-OAEP-256", "A256GCM"},
		{"jarm-enc-ec", ecKey, "ECDH-ES", "A128CBC-HS256"},
	} {
		t.Run(tc.alg+" "+tc.enc, func(t *testing.T) {
			// query.jwt with an ID token is allowed when encrypted (JARM 2.3.1).
			q := url.Values{"client_id": {tc.id}, "response_type": {"code id_token"}, "redirect_uri": {redirectURI},
				"state": {"s"}, "nonce": {"n"}, "response_mode": {"query.jwt"}}
			raw := response(t, h.authorize(q), "query")
			jwe, err := jose.ParseEncrypted(raw, []jose.KeyAlgorithm{jose.KeyAlgorithm(tc.alg)}, []jose.ContentEncryption{jose.ContentEncryption(tc.enc)})
			if err != nil {
				t.Fatal(err)
			}
			if jwe.Header.ExtraHeaders["cty"] != "JWT" {
				t.Fatalf("cty = %v", jwe.Header.ExtraHeaders["cty"])
			}
			inner, err := jwe.Decrypt(tc.key)
			if err != nil {
				t.Fatal(err)
			}
			claims := h.verify(string(inner), tc.id)
			if claims["code"] != "code-123" || claims["id_token"] != "eyJ.idtoken.sig" || claims["state"] != "s" {
				t.Fatalf("claims %v", claims)
			}
		})
	}
}

func TestJARMErrors(t *testing.T) {
	cs, _, _ := jarmClients(t)
	h := newHarness(t, harnessOptions{jarm: true, clients: cs})
	t.Run("an upstream error redirect arrives as a JARM JWT with the original state", func(t *testing.T) {
		for _, code := range []string{"access_denied", "invalid_scope", "login_required"} {
			h.up.setRespond(func(q url.Values) string {
				return q.Get("redirect_uri") + "?" + url.Values{"error": {code}, "error_description": {"the user said no"}, "state": {q.Get("state")}}.Encode()
			})
			q := url.Values{"client_id": {"jarm-PS256"}, "response_type": {"code"}, "redirect_uri": {redirectURI}, "state": {"orig"}, "response_mode": {"query.jwt"}}
			claims := h.verify(response(t, h.authorize(q), "query"), "jarm-PS256")
			if claims["error"] != code || claims["error_description"] != "the user said no" || claims["state"] != "orig" {
				t.Fatalf("claims %v", claims)
			}
		}
		h.up.setRespond(defaultResponse)
	})
	t.Run("a redirect_uri with its own query keeps it", func(t *testing.T) {
		q := url.Values{"client_id": {"jarm-ES256"}, "response_type": {"code"}, "redirect_uri": {"https://client.example/cb?tenant=7"}, "response_mode": {"query.jwt"}}
		resp := h.authorize(q)
		if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, "https://client.example/cb?tenant=7&response=") {
			t.Fatalf("Location %q", loc)
		}
		h.verify(response(t, resp, "query"), "jarm-ES256")
	})
	refusals := []struct {
		name   string
		query  url.Values
		status int
		code   string
	}{
		{"an unregistered client", url.Values{"client_id": {"stranger"}, "response_type": {"code"}, "redirect_uri": {redirectURI}, "response_mode": {"jwt"}}, 400, "invalid_request"},
		{"an unregistered redirect_uri", url.Values{"client_id": {"jarm-ES256"}, "response_type": {"code"}, "redirect_uri": {"https://evil.example/cb"}, "response_mode": {"jwt"}}, 400, "invalid_request"},
		{"query.jwt with a token, unencrypted", url.Values{"client_id": {"jarm-ES256"}, "response_type": {"code token"}, "nonce": {"n"}, "redirect_uri": {redirectURI}, "response_mode": {"query.jwt"}}, 400, "invalid_request"},
		{"a request_uri of another server", url.Values{"client_id": {"jarm-ES256"}, "request_uri": {"https://client.example/req.jwt"}, "response_mode": {"jwt"}}, 400, "invalid_request"},
	}
	for _, tt := range refusals {
		t.Run(tt.name+" is refused before the upstream", func(t *testing.T) {
			before := h.up.count()
			wantErrorPage(t, h.get("/authorize?"+tt.query.Encode()), tt.status, tt.code)
			if h.up.count() != before {
				t.Fatal("the request reached the upstream")
			}
		})
	}
	t.Run("an invalid request with a known redirect_uri gets a JARM error", func(t *testing.T) {
		before := h.up.count()
		q := url.Values{"client_id": {"jarm-ES256"}, "response_type": {"device_code"}, "redirect_uri": {redirectURI}, "state": {"s"}, "response_mode": {"jwt"}}
		claims := h.verify(response(t, h.get("/authorize?"+q.Encode()), "query"), "jarm-ES256")
		if claims["error"] != "unsupported_response_type" || claims["state"] != "s" {
			t.Fatalf("claims %v", claims)
		}
		if h.up.count() != before {
			t.Fatal("the request reached the upstream")
		}
	})
	t.Run("an expired transaction gives an error page, never the plain response", func(t *testing.T) {
		h.up.setInteractive(true)
		q := url.Values{"client_id": {"jarm-ES256"}, "response_type": {"code"}, "redirect_uri": {redirectURI}, "state": {"s"}, "response_mode": {"jwt"}}
		resp := h.get("/authorize?" + q.Encode())
		resp.Body.Close()
		h.clock.Advance(31 * time.Minute)
		done := h.follow(h.gw.URL + resp.Header.Get("Location"))
		wantErrorPage(t, done, http.StatusBadRequest, "invalid_request")
	})
}

func TestPlainFlowsAreUntouched(t *testing.T) {
	cs, _, _ := jarmClients(t)
	h := newHarness(t, harnessOptions{jarm: true, clients: cs})
	q := url.Values{"client_id": {"unknown-to-the-gateway"}, "response_type": {"code"}, "redirect_uri": {"https://x.example/cb"}, "state": {"plain"}}
	resp := h.authorize(q)
	defer resp.Body.Close()
	if got := h.up.last(); got.Encode() != q.Encode() {
		t.Fatalf("upstream received %v, want %v", got, q)
	}
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "https://x.example/cb?code=code-123&session_state=ss-1&state=plain" {
		t.Fatalf("got %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestPARWithoutJARMDeliversPlainModes(t *testing.T) {
	h := newHarness(t, harnessOptions{jarm: true})
	for _, tc := range []struct{ rt, mode, base string }{
		{"code", "", "query"}, {"code", "fragment", "fragment"}, {"code", "form_post", "form_post"}, {"code id_token", "", "fragment"},
	} {
		t.Run(tc.rt+" "+tc.mode, func(t *testing.T) {
			p := codeFlow("s")
			p.Set("response_type", tc.rt)
			if tc.mode != "" {
				p.Set("response_mode", tc.mode)
			}
			resp := h.authorize(url.Values{"client_id": {"conf"}, "request_uri": {h.mustPush("conf", p)}})
			defer resp.Body.Close()
			var got url.Values
			switch tc.base {
			case "query":
				loc, _ := resp.Location()
				got = loc.Query()
			case "fragment":
				loc, _ := resp.Location()
				got, _ = url.ParseQuery(loc.Fragment)
			case "form_post":
				body, _ := io.ReadAll(resp.Body)
				got = url.Values{}
				for _, in := range regexp.MustCompile(`name="([^"]*)" value="([^"]*)"`).FindAllStringSubmatch(string(body), -1) {
					got.Add(html.UnescapeString(in[1]), html.UnescapeString(in[2]))
				}
			}
			if got.Get("code") != "code-123" || got.Get("state") != "s" || got.Get("iss") != h.issuer() || got.Has("response") {
				t.Fatalf("client received %v", got)
			}
		})
	}
}

func TestPolicyChangeAfterThePushIsAnsweredInTheClientsMode(t *testing.T) {
	cs, _, _ := jarmClients(t)
	h := newHarness(t, harnessOptions{jarm: true, clients: cs})
	uri := h.mustPush("jarm-ES256", url.Values{"response_type": {"code"}, "redirect_uri": {redirectURI}, "state": {"s1"}, "response_mode": {"query.jwt"}})
	// The operator now requires PKCE of the client (RFC 9126, section 7.4).
	c, _ := h.gateway.reg.Lookup("jarm-ES256")
	c.RequirePKCE = true
	t.Cleanup(func() { c.RequirePKCE = false })
	before := h.up.count()
	resp := h.get("/authorize?" + url.Values{"client_id": {"jarm-ES256"}, "request_uri": {uri}}.Encode())
	claims := h.verify(response(t, resp, "query"), "jarm-ES256")
	if claims["error"] != "invalid_request" || claims["state"] != "s1" {
		t.Fatalf("claims %v", claims)
	}
	if h.up.count() != before {
		t.Fatal("the request reached the upstream")
	}
}
