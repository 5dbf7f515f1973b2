package proxy

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"

	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/parjarm/parjarm/client"
	"github.com/parjarm/parjarm/flow"
	"github.com/parjarm/parjarm/jarm"
	"github.com/parjarm/parjarm/metrics"
	"github.com/parjarm/parjarm/par"
	"github.com/parjarm/parjarm/profile"
	"github.com/parjarm/parjarm/store"
	"github.com/parjarm/parjarm/tracing"
)

// legacy is a test upstream: an authorization server without PAR and JARM.
// Its authorization endpoint sends the user to a login page first when
// interactive, and the login page replays the saved authorization URL (as
// many legacy servers do); then it redirects to the redirect_uri.
type legacy struct {
	t      testing.TB
	srv    *httptest.Server
	issuer string
	keys   jose.JSONWebKeySet

	mu          sync.Mutex
	received    []url.Values // parameters its authorization endpoint read
	raw         []rawRequest // and the requests they came in
	interactive bool
	// respond builds the final redirect for an authorization request.
	respond func(q url.Values) string
	// refresh answers with 200 and a Refresh header instead of a redirect.
	refresh bool
	// reentryExtra is added to the replayed authorization URL by the login
	// page (ORY Hydra adds login_verifier=…).
	reentryExtra string
	// headers records the last request to /echo.
	headers http.Header
	host    string
	// tokens are the requests its token endpoint received (token_test.go).
	tokens []rawRequest
	// traceparents are the traceparent headers its authorization endpoint
	// received (tracing_test.go).
	traceparents []string
}

func newLegacy(t testing.TB, issuer string) *legacy {
	t.Helper()
	l := &legacy{t: t, issuer: issuer}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	l.keys = jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "upstream-1", Algorithm: "RS256", Use: "sig"}}}
	l.respond = defaultResponse
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{
			"issuer":                   l.issuer,
			"authorization_endpoint":   strings.TrimSuffix(l.issuer, "/") + "/authorize",
			"token_endpoint":           strings.TrimSuffix(l.issuer, "/") + "/token",
			"jwks_uri":                 strings.TrimSuffix(l.issuer, "/") + "/jwks",
			"response_types_supported": []string{"code", "token", "id_token", "code id_token", "code token", "code id_token token"},
			"response_modes_supported": []string{"query", "fragment", "form_post"},
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, l.keys) })
	mux.HandleFunc("/authorize", func(w http.ResponseWriter, r *http.Request) {
		// Like fosite (ORY Hydra), Java's getParameter or PHP's $_REQUEST,
		// it reads the query and a POST's form body as one set.
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		if err := r.ParseForm(); err != nil {
			http.Error(w, "malformed form", http.StatusBadRequest)
			return
		}
		q := r.Form
		l.mu.Lock()
		l.received = append(l.received, q)
		l.raw = append(l.raw, rawRequest{method: r.Method, query: r.URL.RawQuery, body: string(body)})
		l.traceparents = append(l.traceparents, r.Header.Get("Traceparent"))
		interactive := l.interactive
		respond := l.respond
		l.mu.Unlock()
		if interactive && r.URL.Query().Get("logged_in") == "" {
			http.Redirect(w, r, "/login?return="+url.QueryEscape(r.URL.RequestURI()), http.StatusFound)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "upstream_session", Value: "s1", Path: "/"})
		l.mu.Lock()
		refresh := l.refresh
		l.mu.Unlock()
		if refresh {
			// A page that sends the browser on with a Refresh header.
			w.Header().Set("Refresh", "0; url="+respond(q))
			w.WriteHeader(http.StatusOK)
			return
		}
		w.Header().Set("Location", respond(q))
		w.WriteHeader(http.StatusSeeOther)
	})
	// The login page replays the saved authorization URL, parameter for
	// parameter, after "login" (it sets a cookie instead of a parameter).
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		ret := r.URL.Query().Get("return")
		l.mu.Lock()
		l.interactive = false
		if l.reentryExtra != "" {
			ret += "&" + l.reentryExtra
		}
		l.mu.Unlock()
		http.Redirect(w, r, ret, http.StatusFound)
	})
	mux.HandleFunc("/token", l.token)
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		l.headers = r.Header.Clone()
		l.host = r.Host
		l.mu.Unlock()
		_, _ = io.WriteString(w, "echo "+r.URL.RawQuery)
	})
	// An issuer with a path (https://idp/realms/bank) is served below it,
	// as Keycloak and Dex serve theirs.
	var handler http.Handler = mux
	if u, err := url.Parse(issuer); err == nil && strings.TrimSuffix(u.Path, "/") != "" {
		handler = http.StripPrefix(strings.TrimSuffix(u.Path, "/"), mux)
	}
	l.srv = httptest.NewServer(handler)
	t.Cleanup(l.srv.Close)
	return l
}

// defaultResponse answers a code flow in the query, and token flows in the
// fragment, as RFC 6749 and OIDC Core do by default.
func defaultResponse(q url.Values) string {
	rt := q.Get("response_type")
	resp := url.Values{}
	if strings.Contains(rt, "code") {
		resp.Set("code", "code-123")
	}
	if strings.Contains(rt, "token") && rt != "code id_token" {
		resp.Set("access_token", "at-456")
		resp.Set("token_type", "Bearer")
		resp.Set("expires_in", "3600")
	}
	if strings.Contains(rt, "id_token") {
		resp.Set("id_token", "eyJ.idtoken.sig")
	}
	resp.Set("session_state", "ss-1")
	if q.Has("state") {
		resp.Set("state", q.Get("state"))
	}
	sep := "?"
	if strings.Contains(q.Get("redirect_uri"), "?") {
		sep = "&"
	}
	if rt != "code" && rt != "none" {
		return q.Get("redirect_uri") + "#" + resp.Encode()
	}
	return q.Get("redirect_uri") + sep + resp.Encode()
}

// rawRequest is one request the upstream's authorization endpoint received.
type rawRequest struct{ method, query, body string }

func (l *legacy) lastRaw() rawRequest {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.raw) == 0 {
		l.t.Fatal("the upstream received no authorization request")
	}
	return l.raw[len(l.raw)-1]
}

func (l *legacy) setInteractive(v bool) { l.mu.Lock(); l.interactive = v; l.mu.Unlock() }

func (l *legacy) setRespond(f func(url.Values) string) { l.mu.Lock(); l.respond = f; l.mu.Unlock() }

func (l *legacy) last() url.Values {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.received) == 0 {
		l.t.Fatal("the upstream received no authorization request")
	}
	return l.received[len(l.received)-1]
}

func (l *legacy) count() int { l.mu.Lock(); defer l.mu.Unlock(); return len(l.received) }

// testClock is a settable clock for the memory store and the PAR service.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *testClock) Advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// harness is a gateway in front of a legacy upstream, both on httptest.
type harness struct {
	t         testing.TB
	gw        *httptest.Server
	up        *legacy
	gateway   *Gateway
	par       *par.Service
	store     store.Store
	clock     *testClock
	keys      *jarm.KeySet
	endpoints *Endpoints
	clients   map[string]*client.Client
	metrics   *metrics.Metrics
	registry  *prometheus.Registry
	http      *http.Client
}

type harnessOptions struct {
	log        *zap.Logger // nil: zaptest at warn level
	store      store.Store // nil: memory store on the test clock
	requirePAR bool
	jarm       bool
	clients    []*client.Client
	mutate     func(*Options)
	// issuer is the issuer of the upstream and the gateway ("" = the
	// gateway's own URL); with a path, the upstream serves below it.
	issuer string
	// publicURL is the gateway's public URL ("" = the issuer).
	publicURL string
	// profile is the gateway's FAPI profile (PARJARM_PROFILE).
	profile profile.Name
	// tracer traces the gateway, its PAR service and its store; nil:
	// tracing off.
	tracer trace.TracerProvider
}

const (
	confSecret  = "conf-secret-0123456789-0123456789-abcdef"
	redirectURI = "https://client.example/cb"
)

func defaultClients() []*client.Client {
	return []*client.Client{
		{ID: "conf", Secret: confSecret, TokenEndpointAuthMethod: client.AuthSecretBasic, RedirectURIs: []string{redirectURI, "https://client.example/cb?tenant=7"}},
		{ID: "other", Secret: "other-secret", TokenEndpointAuthMethod: client.AuthSecretPost, RedirectURIs: []string{"https://other.example/cb"}},
		{ID: "strict", Secret: "strict-secret", TokenEndpointAuthMethod: client.AuthSecretBasic, RedirectURIs: []string{redirectURI}, RequirePAR: true},
		{ID: "pub", TokenEndpointAuthMethod: client.AuthNone, RedirectURIs: []string{redirectURI}},
	}
}

func newHarness(t testing.TB, o harnessOptions) *harness {
	t.Helper()
	h := &harness{t: t, clock: &testClock{now: time.Now()}, clients: map[string]*client.Client{}}
	h.gw = httptest.NewUnstartedServer(nil)
	issuer := "http://" + h.gw.Listener.Addr().String()
	if o.issuer != "" {
		issuer = o.issuer
	}
	h.up = newLegacy(t, issuer)
	publicURL, err := url.Parse(issuer)
	if o.publicURL != "" {
		publicURL, err = url.Parse(o.publicURL)
	}
	if err != nil {
		t.Fatal(err)
	}
	issuerURL, _ := url.Parse(issuer)
	issuerPath := strings.TrimSuffix(issuerURL.Path, "/")
	h.endpoints, err = NewEndpoints(EndpointsConfig{Issuer: issuer, PublicURL: publicURL, PARPath: "/par",
		JWKSPath: "/.well-known/parjarm/jwks.json", Upstream: []UpstreamEndpoint{{Name: "authorization_endpoint", Path: issuerPath + "/authorize"}}})
	if err != nil {
		t.Fatal(err)
	}

	if o.clients == nil {
		o.clients = defaultClients()
	}
	for _, c := range o.clients {
		h.clients[c.ID] = c
	}
	reg, err := client.NewRegistry(o.clients...)
	if err != nil {
		t.Fatal(err)
	}
	h.store = o.store
	if h.store == nil {
		mem := store.NewMemory(store.MemoryOptions{Now: h.clock.Now})
		t.Cleanup(func() { mem.Close() })
		h.store = mem
	}
	if o.tracer != nil {
		h.store = store.Traced(h.store, tracing.Tracer(o.tracer))
	}
	log := zap.NewNop() // a fuzz target must not log through testing.F
	if _, fuzzing := t.(*testing.F); !fuzzing {
		log = zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	}
	if o.log != nil {
		log = o.log
	}
	h.registry = prometheus.NewRegistry()
	h.metrics = metrics.New(h.registry)

	upURL, _ := url.Parse(h.up.srv.URL)
	transport := Transport(2*time.Second, 2*time.Second)
	disc := NewDiscovery(upURL, issuerPath+"/.well-known/openid-configuration", &http.Client{Transport: transport}, time.Minute)
	meta, err := disc.Metadata(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	fetcher := client.NewKeyFetcher(client.FetchOptions{})
	parEndpoint := h.endpoints.URL(EndpointPAR)
	auth := &client.Authenticator{
		Registry: reg, Keys: fetcher, Replay: h.store,
		Audience: client.Audience{Issuer: issuer, TokenEndpoint: meta.TokenEndpoint, PAREndpoint: parEndpoint},
		Now:      h.clock.Now, Profile: o.profile,
	}
	h.par = par.New(par.Options{
		Issuer: issuer, PAREndpoint: parEndpoint, JARM: o.jarm, ResponseTypes: meta.ResponseTypes,
		RequirePAR: o.requirePAR, CompletionWindow: 30 * time.Minute, Profile: o.profile, TracerProvider: o.tracer,
	}, reg, auth, fetcher, h.store, h.metrics, log)
	h.par.Now = h.clock.Now

	h.keys, err = jarm.GenerateDevelopmentKeys()
	if err != nil {
		t.Fatal(err)
	}
	var enc Encoder
	var jmeta map[string]any
	if o.jarm {
		e, err := jarm.NewEncoder(h.keys, fetcher, jarm.Options{Issuer: issuer, Now: h.clock.Now, Profile: o.profile})
		if err != nil {
			t.Fatal(err)
		}
		enc, jmeta = e, jarm.Metadata(e)
	}
	opts := Options{
		Upstream: upURL, Issuer: issuer, PublicURL: publicURL.String(),
		PAREnabled: true, JARMEnabled: o.jarm, Endpoints: h.endpoints, RequirePAR: o.requirePAR || o.profile.RequiresPAR(),
		AuthorizationPath: issuerPath + "/authorize", PreserveHost: true,
		DialTimeout: 2 * time.Second, ResponseHeaderTimeout: 2 * time.Second, MaxFormBytes: 64 << 10,
		Metadata: jmeta, Keys: h.keys.Public(), Profile: o.profile, TracerProvider: o.tracer,
	}
	if o.mutate != nil {
		o.mutate(&opts)
	}
	h.gateway = New(opts, disc, h.par, enc, reg, flow.NewTracker(h.store, 30*time.Minute, h.clock.Now), transport, h.metrics, log)
	h.gw.Config.Handler = h.gateway
	h.gw.Start()
	t.Cleanup(h.gw.Close)
	h.http = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return h
}

func (h *harness) issuer() string { return h.gw.URL }

// push pushes params for the client with client_secret_basic (or the body
// for public clients) and returns the response.
func (h *harness) push(clientID string, params url.Values) *http.Response {
	h.t.Helper()
	c := h.clients[clientID]
	body := url.Values{"client_id": {c.ID}}
	for k, v := range params {
		body[k] = v
	}
	parPath, _ := url.Parse(h.endpoints.URL(EndpointPAR))
	req, _ := http.NewRequest(http.MethodPost, h.gw.URL+parPath.Path, strings.NewReader(body.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	switch c.TokenEndpointAuthMethod {
	case client.AuthSecretBasic:
		req.SetBasicAuth(url.QueryEscape(c.ID), url.QueryEscape(c.Secret))
	case client.AuthSecretPost:
		body.Set("client_id", c.ID)
		body.Set("client_secret", c.Secret)
		req.Body = io.NopCloser(strings.NewReader(body.Encode()))
		req.ContentLength = int64(len(body.Encode()))
	default:
		body.Set("client_id", c.ID)
		req.Body = io.NopCloser(strings.NewReader(body.Encode()))
		req.ContentLength = int64(len(body.Encode()))
	}
	resp, err := h.http.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp
}

// mustPush pushes and returns the request_uri.
func (h *harness) mustPush(clientID string, params url.Values) string {
	h.t.Helper()
	resp := h.push(clientID, params)
	defer resp.Body.Close()
	var out struct {
		RequestURI string `json:"request_uri"`
		ExpiresIn  int    `json:"expires_in"`
		Error      string `json:"error"`
		Desc       string `json:"error_description"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != http.StatusCreated {
		h.t.Fatalf("push: status %d, error %q: %s", resp.StatusCode, out.Error, out.Desc)
	}
	return out.RequestURI
}

// get sends a GET to the gateway, without following redirects.
func (h *harness) get(pathAndQuery string) *http.Response {
	h.t.Helper()
	target := pathAndQuery
	if !strings.HasPrefix(target, "http") {
		target = h.gw.URL + pathAndQuery
	}
	resp, err := h.http.Get(target)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp
}

// authorize runs an authorization request through the gateway, following
// the gateway's and the upstream's redirects until one leaves the gateway,
// and returns the last response.
func (h *harness) authorize(query url.Values) *http.Response {
	h.t.Helper()
	return h.follow(h.gw.URL + "/authorize?" + query.Encode())
}

func (h *harness) follow(target string) *http.Response {
	h.t.Helper()
	resp, err := h.tryFollow(target)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp
}

// tryFollow is follow returning its error instead of failing the test, for
// goroutines: t.Fatal must be called from the test's own goroutine.
func (h *harness) tryFollow(target string) (*http.Response, error) {
	for range 10 {
		if !strings.HasPrefix(target, "http") {
			target = h.gw.URL + target
		}
		resp, err := h.http.Get(target)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode < 300 || resp.StatusCode > 399 {
			return resp, nil
		}
		loc, err := resp.Location()
		if err != nil {
			resp.Body.Close()
			return nil, err
		}
		if !strings.HasPrefix(loc.String(), h.gw.URL) {
			return resp, nil
		}
		resp.Body.Close()
		target = loc.String()
	}
	return nil, errors.New("too many redirects")
}

// oauthErrorPage reads an error page and returns its status and error code.
func oauthErrorPage(t *testing.T, resp *http.Response) (int, string) {
	t.Helper()
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	s := string(b)
	i := strings.Index(s, `<dd id="error">`)
	if i < 0 {
		return resp.StatusCode, ""
	}
	s = s[i+len(`<dd id="error">`):]
	return resp.StatusCode, s[:strings.Index(s, "<")]
}

func wantErrorPage(t *testing.T, resp *http.Response, status int, code string) {
	t.Helper()
	gotStatus, gotCode := oauthErrorPage(t, resp)
	if gotStatus != status || gotCode != code {
		t.Fatalf("got %d %q, want %d %q", gotStatus, gotCode, status, code)
	}
	if resp.Header.Get("Location") != "" {
		t.Fatalf("an error page must not redirect, Location = %q", resp.Header.Get("Location"))
	}
}

func codeFlow(state string) url.Values {
	v := url.Values{
		"response_type": {"code"},
		"redirect_uri":  {redirectURI},
		"scope":         {"openid profile"},
		"nonce":         {"n-1"},
	}
	if state != "" {
		v.Set("state", state)
	}
	return v
}

func pkce(v url.Values) url.Values {
	v.Set("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
	v.Set("code_challenge_method", "S256")
	return v
}

func counter(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if want, ok := labels[lp.GetName()]; ok && want != lp.GetValue() {
					continue next
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}
