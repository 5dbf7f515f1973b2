package proxy

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/parjarm/parjarm/errpage"
	"github.com/parjarm/parjarm/flow"
	"github.com/parjarm/parjarm/internal/redistest"
	"github.com/parjarm/parjarm/oauth"
	"github.com/parjarm/parjarm/store"
)

// pageCase is one failure a person can meet in the browser.
type pageCase struct {
	name string
	opts func(t *testing.T) harnessOptions
	// run sends the failing request and returns its response and the
	// values that must appear nowhere in the answer or the log.
	run     func(t *testing.T, h *harness) (*http.Response, []string)
	status  int
	code    string
	kind    errpage.Kind
	message string
}

const fakeRequestURISecret = "Zq3vX9kLmN2pQ8rS7tU6wY5aB4cD1eF0gH2iJ3kL4mN"

func errorPageCases() []pageCase {
	plain := func(*testing.T) harnessOptions { return harnessOptions{} }
	return []pageCase{
		{
			name: "an unknown request_uri", opts: plain,
			run: func(t *testing.T, h *harness) (*http.Response, []string) {
				uri := "urn:ietf:params:oauth:request_uri:" + fakeRequestURISecret
				return h.get("/authorize?" + url.Values{"client_id": {"conf"}, "request_uri": {uri}}.Encode()), []string{fakeRequestURISecret}
			},
			status: 400, code: "invalid_request_uri", kind: errpage.KindRequestURIInvalid,
			message: "This sign-in link has expired or was already used. Go back to the app and start again.",
		},
		{
			name: "a request_uri used once already", opts: plain,
			run: func(t *testing.T, h *harness) (*http.Response, []string) {
				uri := h.mustPush("conf", codeFlow("s"))
				q := url.Values{"client_id": {"conf"}, "request_uri": {uri}}
				first := h.authorize(q)
				first.Body.Close()
				if first.StatusCode != http.StatusFound {
					t.Fatalf("first use: %d", first.StatusCode)
				}
				return h.get("/authorize?" + q.Encode()), []string{strings.TrimPrefix(uri, "urn:ietf:params:oauth:request_uri:"), "code-123"}
			},
			status: 400, code: "invalid_request_uri", kind: errpage.KindRequestURIInvalid,
			message: "This sign-in link has expired or was already used.",
		},
		{
			name: "an upstream redirect for a flow that expired", opts: plain,
			run: func(t *testing.T, h *harness) (*http.Response, []string) {
				id := flow.NewID()
				h.up.setRespond(func(url.Values) string { return redirectURI + "?code=the-secret-code&state=" + id })
				q := codeFlow("s")
				q.Set("client_id", "conf")
				return h.authorize(q), []string{id, "the-secret-code"}
			},
			status: 400, code: "invalid_request", kind: errpage.KindFlowExpired,
			message: "This sign-in took too long or was already completed. Go back to the app and start again.",
		},
		{
			name: "an invalid request that quotes a request_uri-like parameter", opts: plain,
			run: func(t *testing.T, h *harness) (*http.Response, []string) {
				name := url.QueryEscape("urn:ietf:params:oauth:request_uri:" + fakeRequestURISecret)
				return h.get("/authorize?client_id=conf&" + name + "=1&" + name + "=2"), []string{"urn:ietf:params:oauth:request_uri:", fakeRequestURISecret[:10]}
			},
			status: 400, code: "invalid_request", kind: errpage.KindBadRequest,
			message: "The app that sent you here made a request that the sign-in service cannot accept.",
		},
		{
			// The limiter's own path (Retry-After, per address) is tested
			// in ratelimit_test.go and, in a browser, by the e2e suite.
			name: "too many requests", opts: plain,
			run: func(t *testing.T, h *harness) (*http.Response, []string) {
				w := httptest.NewRecorder()
				h.gateway.writePage(w, httptest.NewRequest(http.MethodGet, "/authorize?client_id=conf", nil), oauth.ErrTooManyRequests)
				return w.Result(), nil
			},
			status: 429, code: "invalid_request", kind: errpage.KindTooManyRequests,
			message: "There have been too many sign-in attempts from your network. Wait a minute, then try again.",
		},
		{
			name: "the store is unavailable",
			opts: func(t *testing.T) harnessOptions {
				srv := redistest.Start(t)
				st, err := store.NewRedis(store.RedisOptions{URL: srv.URL()})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { st.Close() })
				return harnessOptions{store: &stoppable{Store: st, stop: srv.Stop}}
			},
			run: func(t *testing.T, h *harness) (*http.Response, []string) {
				uri := h.mustPush("conf", codeFlow("s"))
				h.store.(*stoppable).stop()
				return h.get("/authorize?" + url.Values{"client_id": {"conf"}, "request_uri": {uri}}.Encode()), []string{strings.TrimPrefix(uri, "urn:ietf:params:oauth:request_uri:")}
			},
			status: 503, code: "temporarily_unavailable", kind: errpage.KindUnavailable,
			message: "The sign-in service is temporarily unavailable. Try again in a minute.",
		},
		{
			name: "an upstream that redirects somewhere unexpected", opts: plain,
			run: func(t *testing.T, h *harness) (*http.Response, []string) {
				h.up.setRespond(func(q url.Values) string {
					return "https://evil.example/cb?code=stolen-code-0001&state=" + url.QueryEscape(q.Get("state"))
				})
				uri := h.mustPush("conf", codeFlow("s"))
				return h.authorize(url.Values{"client_id": {"conf"}, "request_uri": {uri}}), []string{strings.TrimPrefix(uri, "urn:ietf:params:oauth:request_uri:"), "stolen-code-0001", "pjt_"}
			},
			status: 502, code: "server_error", kind: errpage.KindUpstreamUnexpected,
			message: "The sign-in service answered in an unexpected way, so the sign-in was stopped to protect your account.",
		},
	}
}

// stoppable is a store whose Redis the test can stop.
type stoppable struct {
	store.Store
	stop func()
}

// refusals returns the "authorization request refused" log entries.
func refusals(logs *observer.ObservedLogs) []observer.LoggedEntry {
	return logs.FilterMessage("authorization request refused").All()
}

// TestErrorPageKinds: each failure a person can meet gets its status, the
// page's headers, the human message and a reference that is also in the
// X-Request-Id header and the log line; no request_uri, code, id or secret
// appears in the page, its headers or the log.
func TestErrorPageKinds(t *testing.T) {
	for _, tc := range errorPageCases() {
		t.Run(tc.name, func(t *testing.T) {
			core, logs := observer.New(zap.DebugLevel)
			o := tc.opts(t)
			o.log = zap.New(core)
			h := newHarness(t, o)
			resp, secrets := tc.run(t, h)
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			body := string(b)

			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d:\n%s", resp.StatusCode, tc.status, body)
			}
			if !strings.Contains(body, `<dd id="error">`+tc.code+`</dd>`) {
				t.Errorf("page lacks error %s", tc.code)
			}
			if !strings.Contains(body, tc.message) {
				t.Errorf("page lacks the message %q:\n%s", tc.message, body)
			}
			if !strings.Contains(body, `data-kind="`+string(tc.kind)+`"`) {
				t.Errorf("page is not of kind %s", tc.kind)
			}
			for name, want := range map[string]string{
				"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store",
				"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Location": "",
			} {
				if got := resp.Header.Get(name); got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
			if csp := resp.Header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "default-src 'none'; style-src 'sha256-") {
				t.Errorf("CSP %q", csp)
			}

			ref := resp.Header.Get("X-Request-Id")
			if len(ref) != 22 {
				t.Fatalf("X-Request-Id %q is not a reference", ref)
			}
			if !strings.Contains(body, `<code id="reference">`+ref+`</code>`) {
				t.Errorf("page does not show the reference %s", ref)
			}
			entries := refusals(logs)
			if len(entries) != 1 {
				t.Fatalf("%d log lines for the refusal, want 1", len(entries))
			}
			fields := entries[0].ContextMap()
			if fields["reference"] != ref || fields["kind"] != string(tc.kind) || fields["error"] != tc.code || fields["status"] != int64(tc.status) {
				t.Errorf("log line %v does not name reference %s, kind %s", fields, ref, tc.kind)
			}

			var everything strings.Builder
			everything.WriteString(body)
			for k, vs := range resp.Header {
				everything.WriteString(k + ": " + strings.Join(vs, ",") + "\n")
			}
			for _, e := range logs.All() {
				everything.WriteString(e.Message)
				for k, v := range e.ContextMap() {
					everything.WriteString(k + "=" + strings.TrimSpace(strings.ReplaceAll(fmtAny(v), "\n", " ")) + "\n")
				}
			}
			for _, s := range append(secrets, confSecret) {
				if strings.Contains(everything.String(), s) {
					t.Errorf("%q appears in the page, its headers or the log", s)
				}
			}
		})
	}
}

func fmtAny(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestErrorPageLanguageAndJSON(t *testing.T) {
	unknown := "/authorize?" + url.Values{"client_id": {"conf"}, "request_uri": {"urn:ietf:params:oauth:request_uri:" + fakeRequestURISecret}}.Encode()
	send := func(t *testing.T, h *harness, header http.Header) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, h.gw.URL+unknown, nil)
		req.Header = header
		resp, err := h.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	h := newHarness(t, harnessOptions{})

	t.Run("the page speaks the person's language", func(t *testing.T) {
		resp := send(t, h, http.Header{"Accept-Language": {"pt-BR,pt;q=0.9,en;q=0.5"}})
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 400 || resp.Header.Get("Content-Language") != "pt-BR" ||
			!strings.Contains(string(b), "Este link de acesso expirou ou já foi usado. Volte ao aplicativo e comece de novo.") {
			t.Fatalf("%d %q:\n%s", resp.StatusCode, resp.Header.Get("Content-Language"), b)
		}
	})
	t.Run("a request that asks for JSON gets the OAuth error JSON", func(t *testing.T) {
		resp := send(t, h, http.Header{"Accept": {"application/json"}})
		defer resp.Body.Close()
		var out map[string]string
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 400 || out["error"] != "invalid_request_uri" || resp.Header.Get("Content-Type") != "application/json" ||
			resp.Header.Get("Cache-Control") != "no-store" || len(resp.Header.Get("X-Request-Id")) != 22 {
			t.Fatalf("%d %v %v", resp.StatusCode, out, resp.Header)
		}
	})
}

func TestErrorPageOperatorTemplate(t *testing.T) {
	dir := t.TempDir()
	tmpl := filepath.Join(dir, "bank.html")
	src := `<!DOCTYPE html><html lang="{{.Lang}}"><head><title>{{.Title}}</title><style>{{.DefaultStyle}}</style></head>` +
		`<body><h1>Example Bank</h1><p id="message">{{.Message}}</p><p>Ref {{.Reference}}</p><dl><dd id="error">{{.Error}}</dd></dl></body></html>`
	if err := os.WriteFile(tmpl, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	pages, err := errpage.Load(tmpl, "")
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, harnessOptions{mutate: func(o *Options) { o.Pages = pages }})
	resp := h.get("/authorize?" + url.Values{"client_id": {"conf"}, "request_uri": {"urn:ietf:params:oauth:request_uri:x"}}.Encode())
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 400 || !strings.Contains(string(b), "<h1>Example Bank</h1>") ||
		!strings.Contains(string(b), "<p>Ref "+resp.Header.Get("X-Request-Id")+"</p>") {
		t.Fatalf("%d:\n%s", resp.StatusCode, b)
	}
}
