package par

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"

	"github.com/parjarm/parjarm/client"
	"github.com/parjarm/parjarm/metrics"
	"github.com/parjarm/parjarm/oauth"
	"github.com/parjarm/parjarm/store"
)

const (
	testIssuer      = "https://as.example"
	testPARURL      = "https://as.example/par"
	testRedirectURI = "https://rp.example/cb"
	testSecret      = "s3cret-of-conf"
	testChallenge   = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM" // RFC 7636, appendix B.
)

// clock is an adjustable clock shared by the service, the store and the
// authenticator.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Unix(1_700_000_000, 0)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// swapRegistry is a real client.Registry that a test can replace, as an
// operator reloading the registry file would.
type swapRegistry struct {
	p atomic.Pointer[client.Registry]
}

func (r *swapRegistry) Lookup(id string) (*client.Client, bool) { return r.p.Load().Lookup(id) }

// env is a Service wired with real parts: the client registry, the real
// authenticator and key fetcher, a memory store on an injected clock.
type env struct {
	svc     *Service
	store   store.Store
	clock   *clock
	reg     *swapRegistry
	key     *jose.JSONWebKey // the private key of the clients' inline jwks
	metrics *metrics.Metrics
}

// testKey returns a new ES256 private key with kid.
func testKey(t testing.TB, kid string) *jose.JSONWebKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &jose.JSONWebKey{Key: k, KeyID: kid, Algorithm: string(jose.ES256), Use: "sig"}
}

// testClients returns the registry used by most tests:
//   - conf: confidential, client_secret_basic, with a jwks for JAR;
//   - post: confidential, client_secret_post;
//   - pub: public (none), so PKCE is required;
//   - signed: requires signed request objects;
//   - codeonly: may use response_type code only;
//   - short: par_lifetime 30 s;
//   - pkj: private_key_jwt;
//   - psonly: request objects signed with PS256 only (its key is ES256).
func testClients(key *jose.JSONWebKey) []*client.Client {
	pub := key.Public()
	jwks := &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{pub}}
	return []*client.Client{
		{ID: "conf", Secret: testSecret, TokenEndpointAuthMethod: client.AuthSecretBasic, RedirectURIs: []string{testRedirectURI}, JWKS: jwks},
		{ID: "post", Secret: "post-secret", TokenEndpointAuthMethod: client.AuthSecretPost, RedirectURIs: []string{testRedirectURI}},
		{ID: "pub", TokenEndpointAuthMethod: client.AuthNone, RedirectURIs: []string{testRedirectURI}},
		{ID: "signed", Secret: "signed-secret", RedirectURIs: []string{testRedirectURI}, JWKS: jwks, RequireSignedRequestObject: true},
		{ID: "codeonly", Secret: "codeonly-secret", RedirectURIs: []string{testRedirectURI}, ResponseTypes: []string{"code"}},
		{ID: "short", Secret: "short-secret", RedirectURIs: []string{testRedirectURI}, PARLifetime: 30},
		{ID: "pkj", TokenEndpointAuthMethod: client.AuthPrivateKeyJWT, RedirectURIs: []string{testRedirectURI}, JWKS: jwks},
		{ID: "psonly", Secret: "ps-secret", RedirectURIs: []string{testRedirectURI}, JWKS: jwks, RequestObjectSigningAlg: "PS256"},
	}
}

func mustRegistry(t testing.TB, clients ...*client.Client) *client.Registry {
	t.Helper()
	r, err := client.NewRegistry(clients...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// testOptions are the options most tests run with.
func testOptions() Options {
	return Options{
		Issuer:              testIssuer,
		PAREndpoint:         testPARURL,
		MaxBodyBytes:        4096,
		MaxParams:           30,
		RequestObjectMaxAge: time.Hour,
		ClockSkew:           10 * time.Second,
		JARM:                true,
	}
}

type envConfig struct {
	opts  Options
	store store.Store
	log   *zap.Logger
	// clients adds clients to testClients; key is the shared test key.
	clients func(key *jose.JSONWebKey) []*client.Client
}

// newEnv builds an env. Options are changed by the given functions.
func newEnv(t testing.TB, changes ...func(*envConfig)) *env {
	t.Helper()
	cfg := envConfig{opts: testOptions(), log: zap.NewNop()}
	for _, change := range changes {
		change(&cfg)
	}
	clk := newClock()
	if cfg.store == nil {
		mem := store.NewMemory(store.MemoryOptions{Now: clk.Now, MaxEntries: 1 << 22})
		t.Cleanup(func() { _ = mem.Close() })
		cfg.store = mem
	}
	key := testKey(t, "k1")
	reg := &swapRegistry{}
	clients := testClients(key)
	if cfg.clients != nil {
		clients = append(clients, cfg.clients(key)...)
	}
	reg.p.Store(mustRegistry(t, clients...))
	keys := client.NewKeyFetcher(client.FetchOptions{Now: clk.Now})
	auth := &client.Authenticator{
		Registry: reg.p.Load(),
		Keys:     keys,
		Replay:   cfg.store,
		Audience: client.Audience{Issuer: testIssuer, PAREndpoint: testPARURL},
		Now:      clk.Now,
		Profile:  cfg.opts.Profile,
	}
	m := metrics.New(prometheus.NewRegistry())
	svc := New(cfg.opts, reg, auth, keys, cfg.store, m, cfg.log)
	svc.Now = clk.Now
	return &env{svc: svc, store: cfg.store, clock: clk, reg: reg, key: key, metrics: m}
}

func withOptions(f func(*Options)) func(*envConfig) {
	return func(c *envConfig) { f(&c.opts) }
}

// form encodes name/value pairs in order, keeping repeated names.
func form(pairs ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(pairs); i += 2 {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(pairs[i]))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(pairs[i+1]))
	}
	return b.String()
}

// authParams are valid authorization parameters for clientID, followed by
// extra pairs.
func authParams(clientID string, extra ...string) []string {
	return append([]string{
		"client_id", clientID,
		"response_type", "code",
		"redirect_uri", testRedirectURI,
		"scope", "openid accounts",
		"state", "af0ifjsldkj",
		"code_challenge", testChallenge,
		"code_challenge_method", "S256",
	}, extra...)
}

func basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

// post sends a push and returns the recorded response.
func (e *env) post(body, authorization string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, testPARURL, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if authorization != "" {
		r.Header.Set("Authorization", authorization)
	}
	w := httptest.NewRecorder()
	e.svc.ServeHTTP(w, r)
	return w
}

// pushed decodes a 201 answer, failing the test on any other.
func pushed(t testing.TB, w *httptest.ResponseRecorder) pushResponse {
	t.Helper()
	if w.Code != http.StatusCreated {
		t.Fatalf("status = %d, want 201; body %s", w.Code, w.Body)
	}
	var resp pushResponse
	if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
		t.Fatalf("decode %s: %v", w.Body, err)
	}
	return resp
}

// wantError asserts an OAuth error answer in token-endpoint format and
// returns its error_description.
func wantError(t testing.TB, w *httptest.ResponseRecorder, status int, code string) string {
	t.Helper()
	if w.Code != status {
		t.Errorf("status = %d, want %d; body %s", w.Code, status, w.Body)
	}
	var body struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("body %q is not JSON: %v", w.Body, err)
	}
	if body.Error != code {
		t.Errorf("error = %q (%s), want %q", body.Error, body.Description, code)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	return body.Description
}

// wantOAuthError asserts that err is an *oauth.Error with status and code.
func wantOAuthError(t testing.TB, err error, status int, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want %s (%d)", code, status)
	}
	oe := asOAuth(err)
	if oe == nil {
		t.Fatalf("err = %v (%T), want an *oauth.Error", err, err)
	}
	if oe.Status != status || oe.Code != code {
		t.Errorf("err = %q, status %d; want %s, status %d", oe.Error(), oe.Status, code, status)
	}
}

// asOAuth returns the *oauth.Error in err's chain, or nil.
func asOAuth(err error) *oauth.Error {
	var oe *oauth.Error
	if errors.As(err, &oe) {
		return oe
	}
	return nil
}

// stored reads the pushed request behind requestURI from the store.
func (e *env) stored(t testing.TB, requestURI string) PushedRequest {
	t.Helper()
	raw, err := e.store.Get(context.Background(), RequestURIKey(requestURI))
	if err != nil {
		t.Fatalf("stored request: %v", err)
	}
	raw, err = store.Open(store.NSRequestURI, requestURI, raw)
	if err != nil {
		t.Fatalf("stored request does not open with its request_uri: %v", err)
	}
	var rec PushedRequest
	if err := rec.unmarshal(raw); err != nil {
		t.Fatal(err)
	}
	return rec
}

// counter returns the value of a counter.
func counter(t testing.TB, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// requestObject signs claims with key as a request object. A nil typ
// leaves typ out.
func signRequestObject(t testing.TB, key *jose.JSONWebKey, alg jose.SignatureAlgorithm, typ any, claims map[string]any) string {
	t.Helper()
	opts := &jose.SignerOptions{}
	if typ != nil {
		opts.WithHeader(jose.HeaderType, typ)
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
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

// roClaims are valid request object claims for clientID at now.
func roClaims(clientID string, now time.Time) map[string]any {
	return map[string]any{
		"iss":                   clientID,
		"aud":                   testIssuer,
		"exp":                   now.Add(5 * time.Minute).Unix(),
		"nbf":                   now.Unix(),
		"iat":                   now.Unix(),
		"jti":                   base64.RawURLEncoding.EncodeToString(randomBytes(12)),
		"client_id":             clientID,
		"response_type":         "code",
		"redirect_uri":          testRedirectURI,
		"scope":                 "openid accounts",
		"state":                 "from-the-jwt",
		"nonce":                 "n-0S6_WzA2Mj",
		"code_challenge":        testChallenge,
		"code_challenge_method": "S256",
	}
}
