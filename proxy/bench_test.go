package proxy

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/parjarm/parjarm/client"
	"github.com/parjarm/parjarm/internal/redistest"
	"github.com/parjarm/parjarm/store"
)

// The benchmarks drive the gateway over real loopback HTTP with one client
// whose keep-alive connections are reused across iterations: every response
// body is read to the end before it is closed, or the transport would drop
// the connection and each iteration would pay for a new one.

// drain reads the body to its end and closes it, so the connection can be
// reused, and returns what it read.
func drain(b *testing.B, resp *http.Response) []byte {
	b.Helper()
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		b.Fatal(err)
	}
	return body
}

// benchGet sends a GET and returns the drained response and its body.
func benchGet(b *testing.B, h *harness, target string) (*http.Response, []byte) {
	b.Helper()
	resp, err := h.http.Get(target)
	if err != nil {
		b.Fatal(err)
	}
	return resp, drain(b, resp)
}

// benchAuthorize sends an authorization request to the gateway and follows
// redirects while they stay on the gateway, as a browser would; it returns
// the first answer that leaves it (the delivery to the client).
func benchAuthorize(b *testing.B, h *harness, query url.Values) (*http.Response, []byte) {
	b.Helper()
	target := h.gw.URL + "/authorize?" + query.Encode()
	for range 10 {
		resp, body := benchGet(b, h, target)
		loc := resp.Header.Get("Location")
		if resp.StatusCode < 300 || resp.StatusCode > 399 || !strings.HasPrefix(loc, h.gw.URL) {
			return resp, body
		}
		target = loc
	}
	b.Fatal("too many redirects")
	return nil, nil
}

// benchPush pushes params for a client_secret_basic client and returns the
// request_uri.
func benchPush(b *testing.B, h *harness, clientID string, params url.Values) string {
	b.Helper()
	resp := h.push(clientID, params)
	body := drain(b, resp)
	var out struct {
		RequestURI string `json:"request_uri"`
	}
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(body, &out) != nil || out.RequestURI == "" {
		b.Fatalf("push: status %d: %s", resp.StatusCode, body)
	}
	return out.RequestURI
}

// BenchmarkProxyOverhead measures a plain request passed through: direct is
// the legacy upstream alone, gateway the same request through the gateway.
// The difference between the two is what the gateway adds to traffic it
// only proxies (routing, the reverse proxy, a second loopback hop).
func BenchmarkProxyOverhead(b *testing.B) {
	h := newHarness(b, harnessOptions{})
	for _, tc := range []struct{ name, base string }{
		{"direct", h.up.srv.URL},
		{"gateway", h.gw.URL},
	} {
		b.Run(tc.name, func(b *testing.B) {
			target := tc.base + "/echo?x=1"
			b.ReportAllocs()
			for b.Loop() {
				resp, body := benchGet(b, h, target)
				if resp.StatusCode != http.StatusOK || string(body) != "echo x=1" {
					b.Fatalf("status %d: %q", resp.StatusCode, body)
				}
			}
		})
	}
}

// benchPARFlow runs complete PAR flows: the push (client_secret_basic), the
// authorization request with the request_uri (expansion, transaction,
// upstream), and the interception that delivers the upstream's code with
// the client's state (RFC 9126, sections 2 and 4).
func benchPARFlow(b *testing.B, h *harness) {
	params := codeFlow("bench-state")
	want := redirectURI + "?code=code-123&iss="
	b.ReportAllocs()
	for b.Loop() {
		uri := benchPush(b, h, "conf", params)
		resp, _ := benchAuthorize(b, h, url.Values{"client_id": {"conf"}, "request_uri": {uri}})
		if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, want) || !strings.Contains(loc, "state=bench-state") {
			b.Fatalf("delivery: %d %q", resp.StatusCode, loc)
		}
	}
}

// BenchmarkPARFlow is a complete PAR flow with the embedded memory store.
func BenchmarkPARFlow(b *testing.B) {
	benchPARFlow(b, newHarness(b, harnessOptions{}))
}

// BenchmarkPARFlowRedis is a complete PAR flow with a real redis-server
// (started on a free port by the benchmark) as the store.
func BenchmarkPARFlowRedis(b *testing.B) {
	srv := redistest.Start(b)
	st, err := store.NewRedis(store.RedisOptions{URL: srv.URL()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	benchPARFlow(b, newHarness(b, harnessOptions{store: st}))
}

// BenchmarkJARMFlow runs complete JARM flows without PAR (JARM, section
// 2.3): the authorization request with a JWT response_mode, the upstream,
// and the interception that signs the response and delivers it in the mode.
// The three modes use an ES256 client; query.jwt_RS256 uses a client that
// registers no algorithm and so gets the default, RS256.
func BenchmarkJARMFlow(b *testing.B) {
	cs := append(defaultClients(), &client.Client{
		ID: "jarm-ES256", Secret: "s-ES256", TokenEndpointAuthMethod: client.AuthSecretBasic,
		RedirectURIs: []string{redirectURI}, AuthorizationSignedResponseAlg: "ES256",
	})
	h := newHarness(b, harnessOptions{jarm: true, clients: cs})
	for _, tc := range []struct{ name, clientID, mode string }{
		{"query.jwt", "jarm-ES256", "query.jwt"},
		{"fragment.jwt", "jarm-ES256", "fragment.jwt"},
		{"form_post.jwt", "jarm-ES256", "form_post.jwt"},
		{"query.jwt_RS256", "conf", "query.jwt"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			q := url.Values{"client_id": {tc.clientID}, "response_type": {"code"}, "redirect_uri": {redirectURI},
				"scope": {"openid"}, "state": {"bench-state"}, "response_mode": {tc.mode}}
			b.ReportAllocs()
			for b.Loop() {
				resp, body := benchAuthorize(b, h, q)
				var ok bool
				switch tc.mode {
				case "query.jwt":
					ok = resp.StatusCode == http.StatusFound && strings.HasPrefix(resp.Header.Get("Location"), redirectURI+"?response=")
				case "fragment.jwt":
					ok = resp.StatusCode == http.StatusFound && strings.HasPrefix(resp.Header.Get("Location"), redirectURI+"#response=")
				case "form_post.jwt":
					ok = resp.StatusCode == http.StatusOK && strings.Contains(string(body), `name="response" value="`)
				}
				if !ok {
					b.Fatalf("%s delivery: %d %q %.200s", tc.mode, resp.StatusCode, resp.Header.Get("Location"), body)
				}
			}
		})
	}
}
