package client_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/parjarm/parjarm/client"
	"github.com/parjarm/parjarm/oauth"
	"github.com/parjarm/parjarm/store"
)

// Audience values used throughout the tests.
const (
	issuer        = "https://as.example.com"
	tokenEndpoint = "https://as.example.com/oauth/token"
	parEndpoint   = "https://gateway.example.com/par"
)

// t0 is the tests' fixed "now".
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// clock is an injectable clock the tests move by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: t0} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// signingKey is a private key with its kid and algorithm, and the public
// key set a client registers for it.
type signingKey struct {
	private jose.JSONWebKey
	alg     jose.SignatureAlgorithm
}

func (k signingKey) public() jose.JSONWebKey { return k.private.Public() }

func (k signingKey) set() *jose.JSONWebKeySet {
	return &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{k.public()}}
}

// Keys are generated once per test binary: RSA generation is slow.
var (
	keysOnce sync.Once
	ecKey    signingKey
	ecKey2   signingKey
	rsaKey   signingKey
	edKey    signingKey
)

func testKeys(t testing.TB) {
	t.Helper()
	keysOnce.Do(func() {
		ec1, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must(err)
		ec2, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must(err)
		rk, err := rsa.GenerateKey(rand.Reader, 2048)
		must(err)
		_, ed, err := ed25519.GenerateKey(rand.Reader)
		must(err)
		ecKey = signingKey{jose.JSONWebKey{Key: ec1, KeyID: "ec-1", Use: "sig"}, jose.ES256}
		ecKey2 = signingKey{jose.JSONWebKey{Key: ec2, KeyID: "ec-2", Use: "sig"}, jose.ES256}
		rsaKey = signingKey{jose.JSONWebKey{Key: rk, KeyID: "rsa-1", Use: "sig"}, jose.PS256}
		edKey = signingKey{jose.JSONWebKey{Key: ed, KeyID: "ed-1"}, jose.EdDSA}
	})
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// sign serializes claims as a JWT signed with k. With noKID the header
// carries no kid.
func sign(t testing.TB, k signingKey, claims any, noKID bool) string {
	t.Helper()
	var key any = k.private
	if noKID {
		key = k.private.Key
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: key}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// unsigned builds an alg=none JWT.
func unsigned(claims any) string {
	enc := base64.RawURLEncoding
	payload, err := json.Marshal(claims)
	must(err)
	return enc.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc.EncodeToString(payload) + "."
}

// claims returns valid assertion claims for clientID at now.
func claims(clientID string, now time.Time) map[string]any {
	return map[string]any{
		"iss": clientID,
		"sub": clientID,
		"aud": issuer,
		"exp": now.Add(time.Minute).Unix(),
		"iat": now.Unix(),
		"jti": rand.Text(),
	}
}

// assertionForm is the body of a private_key_jwt request.
func assertionForm(assertion string) url.Values {
	return url.Values{
		"client_assertion_type": {client.AssertionType},
		"client_assertion":      {assertion},
	}
}

// basic builds a client_secret_basic header value, form-urlencoding both
// parts (RFC 6749, section 2.3.1).
func basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

// hashOf is the client_secret_hash of secret.
func hashOf(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// staticKeys is a KeySource over the clients' inline jwks.
type staticKeys struct{}

func (staticKeys) KeySet(_ context.Context, c *client.Client) (*jose.JSONWebKeySet, error) {
	if c.JWKS == nil {
		return nil, errors.New("no inline jwks")
	}
	return c.JWKS, nil
}

// testRegistry registers one client per method.
func testRegistry(t testing.TB, extra ...*client.Client) *client.Registry {
	t.Helper()
	testKeys(t)
	cb := []string{"https://app.example.com/cb"}
	clients := append([]*client.Client{
		{ID: "basic-app", Secret: "s3cret-basic", RedirectURIs: cb},
		{ID: "post-app", Secret: "s3cret-post", TokenEndpointAuthMethod: client.AuthSecretPost, RedirectURIs: cb},
		{ID: "hashed-app", SecretHash: hashOf("s3cret-hashed"), RedirectURIs: cb},
		{ID: "app:with space", Secret: "p@ss:w+rd%/ ü", RedirectURIs: cb},
		{ID: "jwt-app", TokenEndpointAuthMethod: client.AuthPrivateKeyJWT, JWKS: &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{ecKey.public(), rsaKey.public(), edKey.public()}}, RedirectURIs: cb},
		{ID: "ps256-only", TokenEndpointAuthMethod: client.AuthPrivateKeyJWT, TokenEndpointAuthSigningAlg: "PS256", JWKS: &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{ecKey.public(), rsaKey.public()}}, RedirectURIs: cb},
		{ID: "public-app", TokenEndpointAuthMethod: client.AuthNone, RedirectURIs: cb},
	}, extra...)
	r, err := client.NewRegistry(clients...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// newAuthenticator returns an Authenticator over reg with a real memory
// replay store on clk.
func newAuthenticator(t testing.TB, reg *client.Registry, keys client.KeySource, clk *clock) (*client.Authenticator, *store.Memory) {
	t.Helper()
	st := store.NewMemory(store.MemoryOptions{Now: clk.Now})
	t.Cleanup(func() { _ = st.Close() })
	return &client.Authenticator{
		Registry: reg,
		Keys:     keys,
		Replay:   st,
		Audience: client.Audience{Issuer: issuer, TokenEndpoint: tokenEndpoint, PAREndpoint: parEndpoint},
		Now:      clk.Now,
	}, st
}

// wantOAuthError fails unless err is an *oauth.Error with code and status.
func wantOAuthError(t testing.TB, err error, code string, status int) *oauth.Error {
	t.Helper()
	var oe *oauth.Error
	if !errors.As(err, &oe) {
		t.Fatalf("error = %v (%T), want *oauth.Error %s/%d", err, err, code, status)
	}
	if oe.Code != code || oe.Status != status {
		t.Fatalf("error = %s/%d %q, want %s/%d", oe.Code, oe.Status, oe.Description, code, status)
	}
	return oe
}

// jwksServer serves a JWK set that the test can replace, and counts fetches.
type jwksServer struct {
	mu      sync.Mutex
	set     *jose.JSONWebKeySet
	status  int
	body    []byte // served instead of set when not nil
	fetches int
}

func (s *jwksServer) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fetches++
	if s.status != 0 && s.status != http.StatusOK {
		w.WriteHeader(s.status)
		_, _ = w.Write(s.body)
		return
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	if s.body != nil {
		_, _ = w.Write(s.body)
		return
	}
	_ = json.NewEncoder(w).Encode(s.set)
}

func (s *jwksServer) serve(set *jose.JSONWebKeySet) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.set, s.status, s.body = set, 0, nil
}

func (s *jwksServer) fail(status int, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status, s.body = status, body
}

func (s *jwksServer) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fetches
}
