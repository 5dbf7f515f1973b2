package par

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/parjarm/parjarm/client"
	"github.com/parjarm/parjarm/store"
)

// with returns pairs with name set to value (replaced where present).
func with(pairs []string, name, value string) []string {
	out := append([]string(nil), pairs...)
	for i := 0; i+1 < len(out); i += 2 {
		if out[i] == name {
			out[i+1] = value
			return out
		}
	}
	return append(out, name, value)
}

// without returns pairs without name.
func without(pairs []string, name string) []string {
	var out []string
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i] != name {
			out = append(out, pairs[i], pairs[i+1])
		}
	}
	return out
}

func TestPushRefuses(t *testing.T) {
	confAuth := basic("conf", testSecret)
	manyParams := authParams("conf")
	for i := range 30 {
		manyParams = append(manyParams, "x"+string(rune('a'+i)), "1")
	}
	tests := []struct {
		name        string
		reason      string // a part of the error_description that tells why
		env         []func(*envConfig)
		method      string // default POST
		contentType string // default form
		body        string
		auth        string
		status      int
		code        string
		header      [2]string // a header the answer must carry
	}{
		{name: "a GET is answered 405 with Allow: POST", reason: "method not allowed", method: http.MethodGet,
			status: 405, code: "invalid_request", header: [2]string{"Allow", "POST"}},
		{name: "a PUT is answered 405", reason: "method not allowed", method: http.MethodPut, body: form(authParams("conf")...), auth: confAuth,
			status: 405, code: "invalid_request", header: [2]string{"Allow", "POST"}},
		{name: "a JSON body is refused", reason: "content type", contentType: "application/json", body: `{"client_id":"conf"}`, auth: confAuth,
			status: 400, code: "invalid_request"},
		{name: "a body without content type is refused", reason: "content type", contentType: "-", body: form(authParams("conf")...), auth: confAuth,
			status: 400, code: "invalid_request"},
		{name: "a multipart body is refused", reason: "content type", contentType: "multipart/form-data; boundary=x", body: form(authParams("conf")...), auth: confAuth,
			status: 400, code: "invalid_request"},
		{name: "a parameter given twice is refused", reason: "\"state\" is repeated", body: form(authParams("conf", "state", "again")...), auth: confAuth,
			status: 400, code: "invalid_request"},
		{name: "an empty and a filled occurrence of a parameter are a duplicate", reason: "\"scope\" is repeated", body: form(authParams("conf")...) + "&scope=", auth: confAuth,
			status: 400, code: "invalid_request"},
		{name: "a request_uri in the body is refused", reason: "request_uri is not allowed", body: form(authParams("conf", "request_uri", RequestURIPrefix+"abc")...), auth: confAuth,
			status: 400, code: "invalid_request"},
		{name: "a body over the limit is answered 413", reason: "too large", body: form(authParams("conf", "pad", strings.Repeat("a", 5000))...), auth: confAuth,
			status: 413, code: "invalid_request"},
		{name: "a malformed percent-encoding is refused", reason: "malformed", body: form(authParams("conf")...) + "&x=%zz", auth: confAuth,
			status: 400, code: "invalid_request"},
		{name: "Response_Mode (a case-insensitive upstream reads it as response_mode at expansion) is refused", reason: `must be spelt "response_mode"`, body: form(authParams("conf")...) + "&Response_Mode=form_post", auth: confAuth,
			status: 400, code: "invalid_request"},
		{name: "Request_Uri is refused like request_uri", reason: `must be spelt "request_uri"`, body: form(authParams("conf")...) + "&Request_Uri=https%3A%2F%2Fx.example%2Fr", auth: confAuth,
			status: 400, code: "invalid_request"},
		{name: "redirect_uri[] next to redirect_uri is refused", reason: `may be read as one`, body: form(authParams("conf")...) + "&redirect_uri%5B%5D=https%3A%2F%2Fevil.example", auth: confAuth,
			status: 400, code: "invalid_request"},
		{name: "a semicolon separator is refused", reason: "separator", body: form(authParams("conf")...) + ";x=1", auth: confAuth,
			status: 400, code: "invalid_request"},
		{name: "too many parameters are refused", reason: "too many parameters", body: form(manyParams...), auth: confAuth,
			status: 400, code: "invalid_request"},
		{name: "a wrong secret is answered 401 with a Basic challenge", reason: "authentication failed", body: form(authParams("conf")...), auth: basic("conf", "wrong"),
			status: 401, code: "invalid_client", header: [2]string{"WWW-Authenticate", `Basic realm="parjarm"`}},
		{name: "an unknown client_secret_post client is answered 401 without a challenge", reason: "authentication failed", body: form(authParams("nobody", "client_secret", "x")...),
			status: 401, code: "invalid_client", header: [2]string{"WWW-Authenticate", ""}},
		{name: "a confidential client without credentials is answered 401", reason: "authentication failed", body: form(authParams("conf")...),
			status: 401, code: "invalid_client"},
		{name: "a client_id that disagrees with the Basic client is refused", reason: "client_id does not match", body: form(authParams("post")...), auth: confAuth,
			status: 400, code: "invalid_request"},
		{name: "a push without client_id is refused", reason: "client_id is required", body: form(without(authParams("conf"), "client_id")...), auth: confAuth,
			status: 400, code: "invalid_request"},
		{name: "an unregistered redirect_uri is refused", reason: "redirect_uri is not registered", body: form(with(authParams("conf"), "redirect_uri", "https://evil.example/cb")...), auth: confAuth,
			status: 400, code: "invalid_request"},
		{name: "a redirect_uri that only starts like a registered one is refused", reason: "redirect_uri is not registered", body: form(with(authParams("conf"), "redirect_uri", testRedirectURI+"/x")...), auth: confAuth,
			status: 400, code: "invalid_request"},
		{name: "a missing redirect_uri is refused", reason: "redirect_uri is required", body: form(without(authParams("conf"), "redirect_uri")...), auth: confAuth,
			status: 400, code: "invalid_request"},
		{name: "a public client without PKCE is refused", reason: "code_challenge is required", body: form(without(without(authParams("pub"), "code_challenge"), "code_challenge_method")...),
			status: 400, code: "invalid_request"},
		{name: "plain PKCE from a public client is refused", reason: "must be S256", body: form(with(with(authParams("pub"), "code_challenge_method", "plain"), "code_challenge", strings.Repeat("a", 43))...),
			status: 400, code: "invalid_request"},
		{name: "a code_challenge without method from a public client is refused (it means plain)", reason: "must be S256", body: form(without(authParams("pub"), "code_challenge_method")...),
			status: 400, code: "invalid_request"},
		{name: "plain PKCE is refused when the gateway requires PKCE", reason: "must be S256", env: []func(*envConfig){withOptions(func(o *Options) { o.RequirePKCE = true })},
			body: form(with(authParams("conf"), "code_challenge_method", "plain")...), auth: confAuth,
			status: 400, code: "invalid_request"},
		{name: "a confidential client without PKCE is refused when the gateway requires PKCE", reason: "code_challenge is required", env: []func(*envConfig){withOptions(func(o *Options) { o.RequirePKCE = true })},
			body: form(without(without(authParams("conf"), "code_challenge"), "code_challenge_method")...), auth: confAuth,
			status: 400, code: "invalid_request"},
		{name: "an unsupported response_type is refused", reason: "not supported", body: form(with(authParams("conf"), "response_type", "code device")...), auth: confAuth,
			status: 400, code: "unsupported_response_type"},
		{name: "a response_type outside the upstream's list is refused", reason: "not supported", env: []func(*envConfig){withOptions(func(o *Options) { o.ResponseTypes = []string{"code"} })},
			body: form(with(authParams("conf", "nonce", "n"), "response_type", "code id_token")...), auth: confAuth,
			status: 400, code: "unsupported_response_type"},
		{name: "a response_type the client may not use is refused", reason: "not allowed for the client", body: form(with(authParams("codeonly", "nonce", "n"), "response_type", "code id_token")...), auth: basic("codeonly", "codeonly-secret"),
			status: 400, code: "unauthorized_client"},
		{name: "a missing response_type is refused", reason: "response_type is required", body: form(without(authParams("conf"), "response_type")...), auth: confAuth,
			status: 400, code: "invalid_request"},
		{name: "a JWT response mode is refused when JARM is off", reason: "\"query.jwt\" is not supported", env: []func(*envConfig){withOptions(func(o *Options) { o.JARM = false })},
			body: form(authParams("conf", "response_mode", "query.jwt")...), auth: confAuth,
			status: 400, code: "invalid_request"},
		{name: "response_mode jwt is refused when JARM is off", reason: "\"jwt\" is not supported", env: []func(*envConfig){withOptions(func(o *Options) { o.JARM = false })},
			body: form(authParams("conf", "response_mode", "jwt")...), auth: confAuth,
			status: 400, code: "invalid_request"},
		{name: "query.jwt with an unencrypted ID token is refused", reason: "requires an encrypted response", body: form(with(authParams("conf", "response_mode", "query.jwt", "nonce", "n"), "response_type", "code id_token")...), auth: confAuth,
			status: 400, code: "invalid_request"},
		{name: "an unknown response_mode is refused", reason: "unsupported response_mode", body: form(authParams("conf", "response_mode", "web_message")...), auth: confAuth,
			status: 400, code: "invalid_request"},
		{name: "a push without request object from a client that requires one is refused", reason: "signed request object is required", body: form(authParams("signed")...), auth: basic("signed", "signed-secret"),
			status: 400, code: "invalid_request"},
		{name: "a push without request object is refused when the gateway requires one", reason: "signed request object is required", env: []func(*envConfig){withOptions(func(o *Options) { o.RequireSignedRequestObject = true })},
			body: form(authParams("conf")...), auth: confAuth,
			status: 400, code: "invalid_request"},
		{name: "an OpenID hybrid request without nonce is refused", reason: "nonce is required", body: form(with(authParams("conf"), "response_type", "code id_token")...), auth: confAuth,
			status: 400, code: "invalid_request"},
		{name: "a malformed scope is refused", reason: "malformed scope", body: form(with(authParams("conf"), "scope", "openid  accounts")...), auth: confAuth,
			status: 400, code: "invalid_scope"},
		{name: "a malformed S256 code_challenge is refused", reason: "malformed code_challenge", body: form(with(authParams("conf"), "code_challenge", "too-short")...), auth: confAuth,
			status: 400, code: "invalid_request"},
		{name: "an unknown code_challenge_method is refused", reason: "unsupported code_challenge_method", body: form(with(authParams("conf"), "code_challenge_method", "S512")...), auth: confAuth,
			status: 400, code: "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.env...)
			method := tt.method
			if method == "" {
				method = http.MethodPost
			}
			r := httptest.NewRequest(method, testPARURL, strings.NewReader(tt.body))
			switch tt.contentType {
			case "":
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			case "-":
			default:
				r.Header.Set("Content-Type", tt.contentType)
			}
			if tt.auth != "" {
				r.Header.Set("Authorization", tt.auth)
			}
			w := httptest.NewRecorder()
			e.svc.ServeHTTP(w, r)
			if desc := wantError(t, w, tt.status, tt.code); !strings.Contains(desc, tt.reason) {
				t.Errorf("error_description %q does not say %q", desc, tt.reason)
			}
			if name := tt.header[0]; name != "" {
				if got := w.Header().Get(name); got != tt.header[1] {
					t.Errorf("%s = %q, want %q", name, got, tt.header[1])
				}
			}
			if got := counter(t, e.metrics.Pushes.WithLabelValues(tt.code)); got != 1 {
				t.Errorf("pushes{outcome=%q} = %v, want 1", tt.code, got)
			}
		})
	}
}

func TestPushBodyOverLimitWithoutContentLength(t *testing.T) {
	e := newEnv(t)
	body := form(authParams("conf", "pad", strings.Repeat("a", 5000))...)
	r := httptest.NewRequest(http.MethodPost, testPARURL, strings.NewReader(body))
	r.ContentLength = -1 // chunked: only the reader can tell
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Authorization", basic("conf", testSecret))
	w := httptest.NewRecorder()
	e.svc.ServeHTTP(w, r)
	wantError(t, w, http.StatusRequestEntityTooLarge, "invalid_request")
}

func TestPushCreates(t *testing.T) {
	tests := []struct {
		name          string
		body          string
		auth          string
		contentType   string
		wantExpiresIn int64
		wantClient    string
	}{
		{name: "a confidential client with client_secret_basic", body: form(authParams("conf")...), auth: basic("conf", testSecret),
			wantExpiresIn: 60, wantClient: "conf"},
		{name: "a confidential client with client_secret_post", body: form(authParams("post", "client_secret", "post-secret")...),
			wantExpiresIn: 60, wantClient: "post"},
		{name: "a public client with S256 PKCE", body: form(authParams("pub")...),
			wantExpiresIn: 60, wantClient: "pub"},
		{name: "a client with its own par_lifetime", body: form(authParams("short")...), auth: basic("short", "short-secret"),
			wantExpiresIn: 30, wantClient: "short"},
		{name: "a form with a charset parameter", body: form(authParams("conf")...), auth: basic("conf", testSecret),
			contentType: "application/x-www-form-urlencoded; charset=UTF-8", wantExpiresIn: 60, wantClient: "conf"},
		{name: "a confidential client with plain PKCE, which is allowed where PKCE is not required",
			body: form(with(with(authParams("conf"), "code_challenge_method", "plain"), "code_challenge", strings.Repeat("~", 128))...), auth: basic("conf", testSecret),
			wantExpiresIn: 60, wantClient: "conf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			r := httptest.NewRequest(http.MethodPost, testPARURL, strings.NewReader(tt.body))
			ct := tt.contentType
			if ct == "" {
				ct = "application/x-www-form-urlencoded"
			}
			r.Header.Set("Content-Type", ct)
			if tt.auth != "" {
				r.Header.Set("Authorization", tt.auth)
			}
			w := httptest.NewRecorder()
			e.svc.ServeHTTP(w, r)
			resp := pushed(t, w)
			if got := w.Header().Get("Cache-Control"); got != "no-cache, no-store" {
				t.Errorf("Cache-Control = %q, want no-cache, no-store", got)
			}
			if got := w.Header().Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", got)
			}
			if resp.ExpiresIn != tt.wantExpiresIn {
				t.Errorf("expires_in = %d, want %d", resp.ExpiresIn, tt.wantExpiresIn)
			}
			if !IsRequestURI(resp.RequestURI) {
				t.Errorf("request_uri = %q, want the %s prefix", resp.RequestURI, RequestURIPrefix)
			}
			rec := e.stored(t, resp.RequestURI)
			if rec.ClientID != tt.wantClient {
				t.Errorf("stored client_id = %q, want %q", rec.ClientID, tt.wantClient)
			}
			if rec.Params.Has("client_secret") {
				t.Error("stored params hold client_secret")
			}
			if got := rec.Params.Get("client_id"); got != tt.wantClient {
				t.Errorf("stored params client_id = %q, want %q", got, tt.wantClient)
			}
			if want := e.clock.Now().Add(time.Duration(tt.wantExpiresIn) * time.Second); !rec.ExpiresAt.Equal(want) {
				t.Errorf("stored expires_at = %v, want %v", rec.ExpiresAt, want)
			}
			if got := counter(t, e.metrics.Pushes.WithLabelValues("created")); got != 1 {
				t.Errorf("pushes{outcome=created} = %v, want 1", got)
			}
		})
	}
}

func TestPushIgnoresTheQueryString(t *testing.T) {
	e := newEnv(t)
	target := testPARURL + "?" + form("redirect_uri", "https://evil.example/cb", "request_uri", RequestURIPrefix+"x", "prompt", "none")
	r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(form(authParams("conf")...)))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Authorization", basic("conf", testSecret))
	w := httptest.NewRecorder()
	e.svc.ServeHTTP(w, r)
	rec := e.stored(t, pushed(t, w).RequestURI)
	if got := rec.Params.Get("redirect_uri"); got != testRedirectURI {
		t.Errorf("redirect_uri = %q, want %q", got, testRedirectURI)
	}
	if rec.Params.Has("prompt") {
		t.Error("a query parameter was merged into the pushed request")
	}
}

func TestPushStoresTheFormWithoutClientAuthentication(t *testing.T) {
	e := newEnv(t)
	w := e.post(form(authParams("post", "client_secret", "post-secret", "prompt", "login", "empty", "")...), "")
	rec := e.stored(t, pushed(t, w).RequestURI)
	want := url.Values{}
	for _, p := range [][2]string{
		{"client_id", "post"}, {"response_type", "code"}, {"redirect_uri", testRedirectURI},
		{"scope", "openid accounts"}, {"state", "af0ifjsldkj"}, {"code_challenge", testChallenge},
		{"code_challenge_method", "S256"}, {"prompt", "login"},
	} {
		want.Set(p[0], p[1])
	}
	if got, want := rec.Params.Encode(), want.Encode(); got != want {
		t.Errorf("stored params\n got %s\nwant %s", got, want)
	}
	if rec.Signed {
		t.Error("a push without request object is stored as signed")
	}
}

func TestPushWithPrivateKeyJWT(t *testing.T) {
	e := newEnv(t)
	body := pkjPush(t, e, "assertion-1")
	rec := e.stored(t, pushed(t, e.post(body, "")).RequestURI)
	if rec.Params.Has("client_assertion") || rec.Params.Has("client_assertion_type") {
		t.Error("stored params hold the client assertion")
	}
	// RFC 7523, section 3: the same assertion twice is a replay.
	wantError(t, e.post(body, ""), http.StatusUnauthorized, "invalid_client")
}

// The assertion's replay mark and the pushed request are written together:
// the request_uri carries the mark's hash tag (one slot on Redis Cluster),
// and a replayed assertion stores no request.
func TestPushWithPrivateKeyJWTStoresTheMarkWithTheRequest(t *testing.T) {
	e := newEnv(t)
	body := pkjPush(t, e, "assertion-2")
	uri := pushed(t, e.post(body, "")).RequestURI
	mark := client.JTIKey("pkj", "assertion-2")
	if _, err := e.store.Get(context.Background(), mark); err != nil {
		t.Fatalf("the replay mark: %v", err)
	}
	if got, want := store.TagOf(RequestURIKey(uri)), store.TagOf(mark); got == "" || got != want {
		t.Fatalf("request_uri key tag %q, mark tag %q: want one", got, want)
	}
	e.stored(t, uri)
	before := e.store.(*store.Memory).Len()
	wantError(t, e.post(body, ""), http.StatusUnauthorized, "invalid_client")
	if after := e.store.(*store.Memory).Len(); after != before {
		t.Fatalf("a replayed assertion changed the store: %d entries, then %d", before, after)
	}
}

func TestPushJARClaimsReplaceTheForm(t *testing.T) {
	e := newEnv(t)
	claims := roClaims("conf", e.clock.Now())
	claims["max_age"] = 300
	claims["ratio"] = 1.5e3
	claims["claims"] = map[string]any{"id_token": map[string]any{"acr": map[string]any{"essential": true, "values": []string{"urn:a<b>"}}}}
	claims["ui_locales"] = nil
	claims["empty"] = ""
	raw := signRequestObject(t, e.key, jose.ES256, "oauth-authz-req+jwt", claims)
	body := form("client_id", "conf", "request", raw, "state", "from-the-form", "prompt", "none", "redirect_uri", "https://evil.example/cb")
	rec := e.stored(t, pushed(t, e.post(body, basic("conf", testSecret))).RequestURI)

	want := url.Values{}
	for _, p := range [][2]string{
		{"client_id", "conf"}, {"response_type", "code"}, {"redirect_uri", testRedirectURI},
		{"scope", "openid accounts"}, {"state", "from-the-jwt"}, {"nonce", "n-0S6_WzA2Mj"},
		{"code_challenge", testChallenge}, {"code_challenge_method", "S256"},
		{"max_age", "300"}, {"ratio", "1500"},
		{"claims", `{"id_token":{"acr":{"essential":true,"values":["urn:a<b>"]}}}`},
	} {
		want.Set(p[0], p[1])
	}
	if got, want := rec.Params.Encode(), want.Encode(); got != want {
		t.Errorf("stored params\n got %s\nwant %s", got, want)
	}
	if !rec.Signed {
		t.Error("a push with a request object is not stored as signed")
	}
}

func TestPushJARAccepts(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	psKey := &jose.JSONWebKey{Key: rsaKey, KeyID: "ps", Algorithm: string(jose.PS256)}
	tests := []struct {
		name   string
		client string
		auth   string
		key    func(e *env) *jose.JSONWebKey
		alg    jose.SignatureAlgorithm
		typ    any
		change func(claims map[string]any, now time.Time)
	}{
		{name: "typ JWT", typ: "JWT"},
		{name: "typ application/oauth-authz-req+jwt", typ: "application/oauth-authz-req+jwt"},
		{name: "no typ", typ: nil},
		{name: "aud as an array holding the issuer", change: func(c map[string]any, _ time.Time) { c["aud"] = []string{"https://other.example", testIssuer} }},
		{name: "no nbf, iat nor jti", change: func(c map[string]any, _ time.Time) { delete(c, "nbf"); delete(c, "iat"); delete(c, "jti") }},
		{name: "nbf within the clock skew", change: func(c map[string]any, now time.Time) { c["nbf"] = now.Add(5 * time.Second).Unix() }},
		{name: "exp just passed, within the clock skew", change: func(c map[string]any, now time.Time) { c["exp"] = now.Add(-5 * time.Second).Unix() }},
		{name: "no kid, found among the client's keys", key: func(e *env) *jose.JSONWebKey {
			k := *e.key
			k.KeyID = ""
			return &k
		}},
		{name: "the client's registered algorithm", client: "psonly", auth: basic("psonly", "ps-secret"), alg: jose.PS256,
			key: func(*env) *jose.JSONWebKey { return psKey }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			clientID, auth, alg := "conf", basic("conf", testSecret), jose.ES256
			if tt.client != "" {
				clientID, auth = tt.client, tt.auth
				// psonly's keys: replace its jwks with the RSA key.
				cs := testClients(e.key)
				for _, c := range cs {
					if c.ID == "psonly" {
						c.JWKS = &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{psKey.Public()}}
					}
				}
				e.reg.p.Store(mustRegistry(t, cs...))
				e.svc.keys = client.NewKeyFetcher(client.FetchOptions{})
				e.svc.auth = &client.Authenticator{Registry: e.reg.p.Load(), Replay: e.store}
			}
			if tt.alg != "" {
				alg = tt.alg
			}
			key := e.key
			if tt.key != nil {
				key = tt.key(e)
			}
			claims := roClaims(clientID, e.clock.Now())
			if tt.change != nil {
				tt.change(claims, e.clock.Now())
			}
			typ := tt.typ
			if typ == nil && tt.name != "no typ" {
				typ = "oauth-authz-req+jwt"
			}
			raw := signRequestObject(t, key, alg, typ, claims)
			pushed(t, e.post(form("client_id", clientID, "request", raw), auth))
		})
	}
}

func TestPushJARRefuses(t *testing.T) {
	otherKey := testKey(t, "k1") // same kid, another key
	unknownKid := testKey(t, "k9")
	tests := []struct {
		name   string
		reason string // a part of the error_description that tells why
		env    []func(*envConfig)
		client string // default conf
		key    *jose.JSONWebKey
		typ    any // default oauth-authz-req+jwt
		change func(claims map[string]any, now time.Time)
		raw    func(e *env, signed string) string // replaces the request parameter
		status int
		code   string
	}{
		{name: "a request object signed by another key", reason: "signature is invalid", key: otherKey},
		{name: "a request object whose kid is unknown", reason: "kid matches none", key: unknownKid},
		{name: "an expired request object", reason: "has expired", change: func(c map[string]any, now time.Time) {
			c["exp"] = now.Add(-time.Minute).Unix()
			c["nbf"] = now.Add(-2 * time.Minute).Unix()
		}},
		{name: "an unsigned request object (alg none)", reason: "accepted algorithm", raw: func(e *env, _ string) string {
			return unsignedJWT(roClaims("conf", e.clock.Now()))
		}},
		{name: "a request object signed with HS256 and the client secret", reason: "accepted algorithm", raw: func(e *env, _ string) string {
			return signRequestObject(t, &jose.JSONWebKey{Key: []byte(strings.Repeat(testSecret, 3))}, jose.HS256, "oauth-authz-req+jwt", roClaims("conf", e.clock.Now()))
		}},
		{name: "a request object whose aud is another server", reason: "aud must be the issuer", change: func(c map[string]any, _ time.Time) { c["aud"] = "https://other.example" }},
		{name: "a request object whose aud is the PAR endpoint", reason: "aud must be the issuer", change: func(c map[string]any, _ time.Time) { c["aud"] = testPARURL }},
		{name: "a request object without aud", reason: "aud must be the issuer", change: func(c map[string]any, _ time.Time) { delete(c, "aud") }},
		{name: "a request object without exp", reason: "exp is missing", change: func(c map[string]any, _ time.Time) { delete(c, "exp") }},
		{name: "a request object whose exp is a string", reason: "exp is missing or malformed", change: func(c map[string]any, now time.Time) { c["exp"] = "tomorrow" }},
		{name: "a request object whose iss is another client", reason: "iss must be the client_id", change: func(c map[string]any, _ time.Time) { c["iss"] = "post" }},
		{name: "a request object without iss", reason: "iss must be the client_id", change: func(c map[string]any, _ time.Time) { delete(c, "iss") }},
		{name: "a request object whose nbf is too old", reason: "too old (nbf)", change: func(c map[string]any, now time.Time) {
			c["nbf"] = now.Add(-61 * time.Minute).Unix()
			c["exp"] = now.Add(-61*time.Minute + 30*time.Minute).Add(40 * time.Minute).Unix()
		}},
		{name: "a request object whose nbf is in the future", reason: "not valid yet (nbf)", change: func(c map[string]any, now time.Time) { c["nbf"] = now.Add(time.Minute).Unix() }},
		{name: "a request object living longer than 60 minutes after nbf", reason: "lifetime is too long", change: func(c map[string]any, now time.Time) { c["exp"] = now.Add(61 * time.Minute).Unix() }},
		{name: "a request object without nbf living longer than 60 minutes", reason: "lifetime is too long", change: func(c map[string]any, now time.Time) {
			delete(c, "nbf")
			c["exp"] = now.Add(2 * time.Hour).Unix()
		}},
		{name: "a request object whose iat is in the future", reason: "iat", change: func(c map[string]any, now time.Time) { c["iat"] = now.Add(time.Hour).Unix() }},
		{name: "a request object without client_id", reason: "client_id must be the authenticated client", change: func(c map[string]any, _ time.Time) { delete(c, "client_id") }},
		{name: "a request object for another client_id", reason: "client_id must be the authenticated client", change: func(c map[string]any, _ time.Time) { c["client_id"] = "post" }},
		{name: "a request object holding a request_uri", reason: "request_uri is not allowed", change: func(c map[string]any, _ time.Time) { c["request_uri"] = RequestURIPrefix + "x" }},
		{name: "a request object holding a request", reason: "request is not allowed", change: func(c map[string]any, _ time.Time) { c["request"] = "eyJ" }},
		{name: "a request object whose jti is a number", reason: "jti must be", change: func(c map[string]any, _ time.Time) { c["jti"] = 7 }},
		{name: "a request object with a typ for access tokens", reason: "typ must be", typ: "at+jwt"},
		{name: "a request object with a typ that is not a string", reason: "typ must be", typ: 3},
		{name: "a request object with too many claims", reason: "too many parameters", change: func(c map[string]any, _ time.Time) {
			for i := range 40 {
				c["x"+strings.Repeat("y", i)] = "v"
			}
		}},
		{name: "an algorithm outside the gateway's allow-list", reason: "accepted algorithm", env: []func(*envConfig){withOptions(func(o *Options) { o.Algorithms = []jose.SignatureAlgorithm{jose.PS256} })}},
		{name: "an algorithm other than the client's request_object_signing_alg", reason: "accepted algorithm", client: "psonly"},
		{name: "an encrypted request object without gateway decryption keys", reason: "the gateway has no decryption key", raw: func(*env, string) string { return "eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d" }},
		{name: "a request that is not a JWT", reason: "accepted algorithm", raw: func(*env, string) string { return "not-a-jwt" }},
		{name: "a request object whose payload is not an object", reason: "must be a JSON object", raw: func(e *env, _ string) string {
			return signRaw(t, e.key, []byte(`["iss"]`))
		}},
		{name: "a request object with trailing data after its claims", reason: "must be a JSON object", raw: func(e *env, _ string) string {
			return signRaw(t, e.key, []byte(`{"iss":"conf"} {}`))
		}},
		{name: "a request object whose signature is tampered with", reason: "signature is invalid", raw: func(_ *env, signed string) string {
			parts := strings.Split(signed, ".")
			claims, _ := base64.RawURLEncoding.DecodeString(parts[1])
			claims = []byte(strings.Replace(string(claims), "from-the-jwt", "tampered!!!!", 1))
			return parts[0] + "." + base64.RawURLEncoding.EncodeToString(claims) + "." + parts[2]
		}},
		{name: "a request object with an absurd exp", reason: "exp is missing or malformed", change: func(c map[string]any, _ time.Time) { c["exp"] = 1e300 }},
		{name: "a request object whose redirect_uri is not registered", reason: "redirect_uri is not registered", change: func(c map[string]any, _ time.Time) { c["redirect_uri"] = "https://evil.example/cb" },
			status: 400, code: "invalid_request"},
		{name: "a request object without response_type", reason: "response_type is required", change: func(c map[string]any, _ time.Time) { delete(c, "response_type") },
			status: 400, code: "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.env...)
			clientID, secret := "conf", testSecret
			if tt.client == "psonly" {
				clientID, secret = "psonly", "ps-secret"
			}
			key := e.key
			if tt.key != nil {
				key = tt.key
			}
			claims := roClaims(clientID, e.clock.Now())
			if tt.change != nil {
				tt.change(claims, e.clock.Now())
			}
			typ := tt.typ
			if typ == nil {
				typ = "oauth-authz-req+jwt"
			}
			raw := signRequestObject(t, key, jose.ES256, typ, claims)
			if tt.raw != nil {
				raw = tt.raw(e, raw)
			}
			status, code := tt.status, tt.code
			if status == 0 {
				status, code = http.StatusBadRequest, "invalid_request_object"
			}
			w := e.post(form("client_id", clientID, "request", raw), basic(clientID, secret))
			if desc := wantError(t, w, status, code); !strings.Contains(desc, tt.reason) {
				t.Errorf("error_description %q does not say %q", desc, tt.reason)
			}
		})
	}
}

func TestPushJARReplayedJTI(t *testing.T) {
	e := newEnv(t)
	raw := signRequestObject(t, e.key, jose.ES256, "oauth-authz-req+jwt", roClaims("conf", e.clock.Now()))
	body := form("client_id", "conf", "request", raw)
	pushed(t, e.post(body, basic("conf", testSecret)))
	wantError(t, e.post(body, basic("conf", testSecret)), http.StatusBadRequest, "invalid_request_object")
}

func TestPushJARSatisfiesRequiredSignedRequestObject(t *testing.T) {
	e := newEnv(t)
	raw := signRequestObject(t, e.key, jose.ES256, "oauth-authz-req+jwt", roClaims("signed", e.clock.Now()))
	pushed(t, e.post(form("client_id", "signed", "request", raw), basic("signed", "signed-secret")))
}

func TestPushJARRefetchesRotatedKeys(t *testing.T) {
	e := newEnv(t)
	oldKey, newKey := testKey(t, "old"), testKey(t, "new")
	current := oldKey
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{current.Public()}})
	}))
	t.Cleanup(srv.Close)
	reg := mustRegistry(t, &client.Client{ID: "rot", Secret: "rot-secret", RedirectURIs: []string{testRedirectURI}, JWKSURI: srv.URL + "/jwks"})
	e.reg.p.Store(reg)
	e.svc.auth = &client.Authenticator{Registry: reg, Replay: e.store}
	e.svc.keys = client.NewKeyFetcher(client.FetchOptions{Now: e.clock.Now})

	push := func(key *jose.JSONWebKey) *httptest.ResponseRecorder {
		raw := signRequestObject(t, key, jose.ES256, "oauth-authz-req+jwt", roClaims("rot", e.clock.Now()))
		return e.post(form("client_id", "rot", "request", raw), basic("rot", "rot-secret"))
	}
	pushed(t, push(oldKey)) // caches the old set
	current = newKey
	e.clock.Advance(time.Minute)
	pushed(t, push(newKey))
}

func TestPushStoreFull(t *testing.T) {
	clk := newClock()
	full := store.NewMemory(store.MemoryOptions{MaxEntries: 1, Now: clk.Now})
	t.Cleanup(func() { _ = full.Close() })
	// A full memory store evicts only unredeemed pushes; one full of an
	// entry it may not evict (a jti mark) refuses the push.
	if err := full.Put(t.Context(), store.Key(store.NSJTI, "x"), []byte{1}, time.Hour); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(c *envConfig) { c.store = full })
	wantError(t, e.post(form(authParams("conf")...), basic("conf", testSecret)), http.StatusServiceUnavailable, "temporarily_unavailable")
}

func TestRequestURIEntropy(t *testing.T) {
	e := newEnv(t)
	seen := make(map[string]bool)
	for range 2 {
		resp := pushed(t, e.post(form(authParams("conf")...), basic("conf", testSecret)))
		suffix, ok := strings.CutPrefix(resp.RequestURI, RequestURIPrefix)
		if !ok {
			t.Fatalf("request_uri %q lacks the prefix", resp.RequestURI)
		}
		// A hash tag (8 bytes) then 256 random bits.
		if len(suffix) != requestURITagLen+43 {
			t.Fatalf("request_uri suffix %q: want a tag and 32 bytes", suffix)
		}
		tag, err := base64.RawURLEncoding.DecodeString(suffix[:requestURITagLen])
		if err != nil || len(tag) != 8 {
			t.Fatalf("request_uri tag %q: %d bytes, %v; want 8 bytes of base64url", suffix[:requestURITagLen], len(tag), err)
		}
		b, err := base64.RawURLEncoding.DecodeString(suffix[requestURITagLen:])
		if err != nil {
			t.Fatalf("request_uri suffix %q is not base64url: %v", suffix, err)
		}
		if len(b) != 32 {
			t.Errorf("request_uri random part decodes to %d bytes, want 32", len(b))
		}
		if seen[resp.RequestURI] {
			t.Errorf("two pushes got the same request_uri")
		}
		seen[resp.RequestURI] = true
	}
}

func TestPushLogsNoSecrets(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	e := newEnv(t, func(c *envConfig) { c.log = zap.New(core) })
	raw := signRequestObject(t, e.key, jose.ES256, "oauth-authz-req+jwt", roClaims("conf", e.clock.Now()))
	resp := pushed(t, e.post(form("client_id", "conf", "request", raw), basic("conf", testSecret)))
	wantError(t, e.post(form(authParams("conf")...), basic("conf", "wrong-"+testSecret)), http.StatusUnauthorized, "invalid_client")
	wantError(t, e.post(form(authParams("post")...)+"&client_secret=QWERTY%zzASDF", ""), http.StatusBadRequest, "invalid_request")
	if _, err := e.svc.Expand(context.Background(), "conf", resp.RequestURI); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Expand(context.Background(), "post", resp.RequestURI); err == nil {
		t.Fatal("foreign expansion succeeded")
	}

	if logs.Len() < 5 {
		t.Fatalf("%d log lines, want one per push and expansion", logs.Len())
	}
	suffix := strings.TrimPrefix(resp.RequestURI, RequestURIPrefix)
	for _, entry := range logs.All() {
		line, err := json.Marshal(map[string]any{"msg": entry.Message, "fields": entry.ContextMap()})
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{suffix, testSecret, raw[:20], raw[len(raw)-20:], "%zz", "QWERTY", "ASDF"} {
			if strings.Contains(string(line), secret) {
				t.Errorf("log line %s contains %q", line, secret)
			}
		}
		if _, ok := entry.ContextMap()["outcome"]; !ok {
			t.Errorf("log line %s has no outcome", line)
		}
	}
}

// unsignedJWT returns an alg=none JWT with claims.
func unsignedJWT(claims map[string]any) string {
	payload, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"oauth-authz-req+jwt"}`)) + "." +
		base64.RawURLEncoding.EncodeToString(payload) + "."
}

// signRaw signs an arbitrary payload with ES256.
func signRaw(t testing.TB, key *jose.JSONWebKey, payload []byte) string {
	t.Helper()
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := sig.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// pkjPush returns the body of a push by client pkj, authenticated with a
// private_key_jwt assertion whose jti is jti.
func pkjPush(t *testing.T, e *env, jti string) string {
	t.Helper()
	now := e.clock.Now()
	assertion := signRequestObject(t, e.key, jose.ES256, nil, map[string]any{
		"iss": "pkj", "sub": "pkj", "aud": testPARURL, "jti": jti,
		"exp": now.Add(time.Minute).Unix(), "iat": now.Unix(),
	})
	return form(authParams("pkj", "client_assertion_type", client.AssertionType, "client_assertion", assertion)...)
}
