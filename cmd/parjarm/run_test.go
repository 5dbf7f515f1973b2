package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/parjarm/parjarm/internal/redistest"
)

// handedOut are the addresses freeAddr returned: the kernel may give a port
// that was just closed again, and two listeners of one gateway must differ.
var handedOut sync.Map

// freeAddr returns a loopback address with a port that was free a moment
// ago and that no earlier call returned.
func freeAddr(t *testing.T) string {
	t.Helper()
	for {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		if _, dup := handedOut.LoadOrStore(addr, true); !dup {
			return addr
		}
	}
}

// gatewayEnv is where most tests of run start: free public and admin
// addresses, the issuer on the public one over plain HTTP, a stand-in
// upstream with an empty key set, and clientsJSON as the registry. A test
// adds or replaces variables in env before it starts the gateway.
func gatewayEnv(t *testing.T) (issuer, admin string, env map[string]string) {
	t.Helper()
	listen, admin := freeAddr(t), freeAddr(t)
	issuer = "http://" + listen
	up := upstream(t, issuer, jose.JSONWebKeySet{})
	return issuer, admin, map[string]string{
		"PARJARM_UPSTREAM_URL": up.URL, "PARJARM_ISSUER": issuer, "PARJARM_ALLOW_INSECURE_HTTP": "true",
		"PARJARM_LISTEN_ADDR": listen, "PARJARM_ADMIN_ADDR": admin,
		"PARJARM_CLIENTS_FILE": writeFile(t, "clients.json", clientsJSON),
	}
}

// upstream is a minimal legacy server: discovery and a key set.
func upstream(t *testing.T, issuer string, keys jose.JSONWebKeySet) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": issuer, "authorization_endpoint": issuer + "/auth", "token_endpoint": issuer + "/token",
			"jwks_uri": issuer + "/jwks", "response_types_supported": []string{"code"},
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) { _ = json.NewEncoder(w).Encode(keys) })
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "hello") })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const clientsJSON = `{"clients":[{"client_id":"app","client_secret":"app-secret-0123456789","redirect_uris":["https://app.example/cb"]}]}`

// syncBuffer is a log sink safe for the gateway's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestRunRefusesInvalidConfiguration(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr []string
	}{
		{"a missing upstream", map[string]string{}, []string{"PARJARM_UPSTREAM_URL"}},
		{"a lifetime above the maximum", map[string]string{"PARJARM_UPSTREAM_URL": "http://127.0.0.1:1", "PARJARM_PAR_LIFETIME": "900s"}, []string{"PARJARM_PAR_LIFETIME", "600s"}},
		{"a misspelt variable", map[string]string{"PARJARM_UPSTREAM_URL": "http://127.0.0.1:1", "PARJARM_REQUIRE_PARR": "true"}, []string{"PARJARM_REQUIRE_PARR", "PARJARM_REQUIRE_PAR"}},
		{"a client without redirect_uris", map[string]string{"PARJARM_UPSTREAM_URL": "http://127.0.0.1:1",
			"PARJARM_CLIENTS_FILE": "CLIENTS:" + `{"clients":[{"client_id":"bank-app","client_secret":"x"}]}`}, []string{"PARJARM_CLIENTS_FILE", `client "bank-app"`, "redirect_uris"}},
		{"an unreadable key file", map[string]string{"PARJARM_UPSTREAM_URL": "http://127.0.0.1:1", "PARJARM_SIGNING_KEYS_FILE": "/nonexistent/keys.json"}, []string{"PARJARM_SIGNING_KEYS_FILE"}},
		{"an unknown signing key id", map[string]string{"PARJARM_UPSTREAM_URL": "http://127.0.0.1:1", "PARJARM_SIGNING_KEY_ID": "nope"}, []string{"PARJARM_SIGNING_KEY_ID"}},
		{"a client that requires PAR while PAR is off", map[string]string{"PARJARM_UPSTREAM_URL": "http://127.0.0.1:1", "PARJARM_PAR_ENABLED": "false",
			"PARJARM_CLIENTS_FILE": "CLIENTS:" + `{"clients":[{"client_id":"bank-app","client_secret":"0123456789abcdef0123456789abcdef","redirect_uris":["https://app.example/cb"],"require_pushed_authorization_requests":true}]}`},
			[]string{"PARJARM_CLIENTS_FILE", "PARJARM_PAR_ENABLED is false"}},
		{"an IPv6 rate-limit prefix out of range", map[string]string{"PARJARM_UPSTREAM_URL": "http://127.0.0.1:1", "PARJARM_RATE_LIMIT_IPV6_PREFIX": "16"}, []string{"PARJARM_RATE_LIMIT_IPV6_PREFIX", "32 minimum"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				if rest, ok := strings.CutPrefix(v, "CLIENTS:"); ok {
					tt.env[k] = writeFile(t, "clients.json", rest)
				}
			}
			var out syncBuffer
			err := run(context.Background(), nil, tt.env, &out)
			if err == nil {
				t.Fatal("run accepted the configuration")
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
		})
	}
}

func TestRunFailsWhenTheUpstreamNeverAnswers(t *testing.T) {
	env := map[string]string{"PARJARM_UPSTREAM_URL": "http://" + freeAddr(t), "PARJARM_STARTUP_TIMEOUT": "1s",
		"PARJARM_LISTEN_ADDR": freeAddr(t), "PARJARM_ADMIN_ADDR": freeAddr(t)}
	var out syncBuffer
	start := time.Now()
	err := run(context.Background(), nil, env, &out)
	if err == nil || !strings.Contains(err.Error(), "PARJARM_UPSTREAM_URL") || !strings.Contains(err.Error(), "PARJARM_STARTUP_TIMEOUT") {
		t.Fatalf("err = %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("took %v", time.Since(start))
	}
}

func TestCheckCommand(t *testing.T) {
	env := map[string]string{"PARJARM_UPSTREAM_URL": "http://127.0.0.1:1", "PARJARM_CLIENTS_FILE": writeFile(t, "clients.json", clientsJSON)}
	var out syncBuffer
	if err := run(context.Background(), []string{"check"}, env, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "configuration OK: 1 clients") {
		t.Fatalf("output %q", out.String())
	}
}

func TestRunRefusesAKidClashWithTheUpstream(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ours := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key, KeyID: "shared-kid", Algorithm: "ES256", Use: "sig"}}}
	b, _ := json.Marshal(ours)
	listen := freeAddr(t)
	issuer := "http://" + listen
	up := upstream(t, issuer, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "shared-kid", Algorithm: "ES256", Use: "sig"}}})
	env := map[string]string{
		"PARJARM_UPSTREAM_URL": up.URL, "PARJARM_ISSUER": issuer, "PARJARM_ALLOW_INSECURE_HTTP": "true",
		"PARJARM_LISTEN_ADDR": listen, "PARJARM_ADMIN_ADDR": freeAddr(t),
		"PARJARM_SIGNING_KEYS_FILE": writeFile(t, "keys.json", string(b)), "PARJARM_DEFAULT_SIGNING_ALG": "ES256",
	}
	var out syncBuffer
	err := run(context.Background(), nil, env, &out)
	if err == nil || !strings.Contains(err.Error(), "shared-kid") || !strings.Contains(err.Error(), "PARJARM_SIGNING_KEYS_FILE") {
		t.Fatalf("err = %v", err)
	}
}

// TestRunGroupsIPv6ByTheConfiguredPrefix: with PARJARM_RATE_LIMIT_IPV6_PREFIX
// at 56, two /64s of one /56 share a budget, which the default /64 would
// not.
func TestRunGroupsIPv6ByTheConfiguredPrefix(t *testing.T) {
	issuer, admin, env := gatewayEnv(t)
	maps.Copy(env, map[string]string{
		"PARJARM_RATE_LIMIT": "0.001", "PARJARM_RATE_LIMIT_BURST": "1", "PARJARM_RATE_LIMIT_IPV6_PREFIX": "56",
		"PARJARM_TRUSTED_PROXIES": "127.0.0.1/32",
	})
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, env, &out) }()
	t.Cleanup(func() { cancel(); <-done })
	waitReady(t, "http://"+admin+"/readyz", done)

	status := func(xff string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, issuer+"/auth?client_id=app", nil)
		req.Header.Set("X-Forwarded-For", xff)
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := status("2001:db8:1:2::1"); s == http.StatusTooManyRequests {
		t.Fatal("the first request was limited")
	}
	if s := status("2001:db8:1:3::1"); s != http.StatusTooManyRequests {
		t.Fatalf("another /64 of the same /56: status %d, want 429", s)
	}
	if s := status("2001:db8:1:100::1"); s == http.StatusTooManyRequests {
		t.Fatal("another /56 shared the budget")
	}
}

func TestRunServesAndShutsDownGracefully(t *testing.T) {
	redis := redistest.Start(t)
	issuer, admin, env := gatewayEnv(t)
	maps.Copy(env, map[string]string{
		"PARJARM_REDIS_URL": redis.URL(), "PARJARM_LOG_LEVEL": "debug",
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, env, &out) }()

	waitReady(t, "http://"+admin+"/readyz", done)
	if status, body := httpGet(t, "http://"+admin+"/healthz"); status != 200 || body != "ok\n" {
		t.Fatalf("healthz: %d %q", status, body)
	}
	if status, body := httpGet(t, issuer+"/hello"); status != 200 || body != "hello" {
		t.Fatalf("pass-through: %d %q", status, body)
	}
	pushed := pushApp(t, issuer)
	if status, body := httpGet(t, "http://"+admin+"/metrics"); status != 200 || !strings.Contains(body, `parjarm_par_pushes_total{outcome="created"} 1`) {
		t.Fatalf("metrics: %d\n%s", status, body)
	}
	var disc map[string]any
	_, body := httpGet(t, issuer+"/.well-known/openid-configuration")
	_ = json.Unmarshal([]byte(body), &disc)
	if disc["pushed_authorization_request_endpoint"] != issuer+"/par" {
		t.Fatalf("discovery: %v", disc)
	}
	t.Run("readiness follows the store", func(t *testing.T) {
		redis.Stop()
		if status, body := httpGet(t, "http://"+admin+"/readyz"); status != http.StatusServiceUnavailable || !strings.Contains(body, "store") {
			t.Fatalf("readyz with Redis down: %d %q", status, body)
		}
		redis.Restart()
		waitReady(t, "http://"+admin+"/readyz", done)
	})

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no graceful shutdown")
	}
	logs := out.String()
	for _, want := range []string{"parjarm ready", "stopped"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q", want)
		}
	}
	// Logs never carry secrets or request_uris.
	for _, secret := range []string{"app-secret-0123456789", pushed, strings.TrimPrefix(pushed, "urn:ietf:params:oauth:request_uri:")} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain a secret: %q", secret)
		}
	}
}

// pushApp pushes a code flow for clientsJSON's client at the gateway of
// issuer and returns the request_uri.
func pushApp(t *testing.T, issuer string) string {
	t.Helper()
	form := url.Values{"client_id": {"app"}, "response_type": {"code"}, "redirect_uri": {"https://app.example/cb"}, "scope": {"openid"}}
	req, _ := http.NewRequest(http.MethodPost, issuer+"/par", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("app", "app-secret-0123456789")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var pushed struct {
		RequestURI string `json:"request_uri"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&pushed)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || pushed.RequestURI == "" {
		t.Fatalf("push: %d", resp.StatusCode)
	}
	return pushed.RequestURI
}

func waitReady(t *testing.T, u string, done <-chan error) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			t.Fatalf("run stopped: %v", err)
		default:
		}
		if resp, err := http.Get(u); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("gateway not ready")
}

func TestHealthCommand(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	if err := run(context.Background(), []string{"health"}, map[string]string{"PARJARM_ADMIN_ADDR": addr}, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background(), []string{"health"}, map[string]string{"PARJARM_ADMIN_ADDR": freeAddr(t)}, io.Discard); err == nil {
		t.Fatal("health succeeded without a server")
	}
}

func TestTheExampleClientsFileIsValid(t *testing.T) {
	env := map[string]string{"PARJARM_UPSTREAM_URL": "http://upstream:4000", "PARJARM_CLIENTS_FILE": "../../examples/clients.json"}
	var out syncBuffer
	if err := run(context.Background(), []string{"check"}, env, &out); err != nil {
		t.Fatal(err)
	}
}

// TestRunFetchesJWKSURIWithTheRedirectPolicy runs the gateway as it is wired
// and pushes, unauthenticated, with an assertion signed by a key of the
// attacker's: the client's jwks_uri redirects to another URL that serves
// that key. The wiring gives the key fetcher its own HTTP client, which
// once replaced the fetcher's redirect policy with Go's (10 redirects, any
// scheme and host). The push must fail with 401 invalid_client and the
// redirect target must never be contacted.
func TestRunFetchesJWKSURIWithTheRedirectPolicy(t *testing.T) {
	attacker, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var hijacked, fetched atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hijacked.Add(1)
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: attacker.Public(), KeyID: "attacker", Algorithm: "ES256", Use: "sig"}}})
	}))
	t.Cleanup(target.Close)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetched.Add(1)
		http.Redirect(w, r, target.URL+"/jwks", http.StatusFound)
	}))
	t.Cleanup(origin.Close)
	clients := `{"clients":[{"client_id":"remote","token_endpoint_auth_method":"private_key_jwt","jwks_uri":"` + origin.URL + `/jwks","redirect_uris":["https://app.example/cb"]}]}`

	issuer, _, env := gatewayEnv(t)
	env["PARJARM_CLIENTS_FILE"] = writeFile(t, "clients.json", clients)
	startGateway(t, env)

	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: attacker, KeyID: "attacker"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	claims, _ := json.Marshal(map[string]any{"iss": "remote", "sub": "remote", "aud": issuer, "jti": "attacker-1",
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix()})
	jws, err := signer.Sign(claims)
	if err != nil {
		t.Fatal(err)
	}
	assertion, _ := jws.CompactSerialize()
	form := url.Values{"client_id": {"remote"}, "response_type": {"code"}, "redirect_uri": {"https://app.example/cb"}, "scope": {"openid"},
		"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {assertion}}
	resp, err := http.PostForm(issuer+"/par", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var answer struct {
		Error string `json:"error"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&answer)
	if resp.StatusCode != http.StatusUnauthorized || answer.Error != "invalid_client" {
		t.Errorf("push: %d %q, want 401 invalid_client", resp.StatusCode, answer.Error)
	}
	if n := fetched.Load(); n != 1 {
		t.Errorf("the jwks_uri was fetched %d times, want 1", n)
	}
	if n := hijacked.Load(); n != 0 {
		t.Errorf("the redirect target received %d requests, want none", n)
	}
}
