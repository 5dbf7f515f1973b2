package client_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/parjarm/parjarm/client"
)

// recorder is a real key server that records the path of every request it
// receives and answers them with handler.
type recorder struct {
	*httptest.Server
	mu    sync.Mutex
	paths []string
}

// newRecorder starts a recorder, over TLS (httptest's certificate for
// 127.0.0.1) when tls is set.
func newRecorder(t *testing.T, tls bool, handler http.HandlerFunc) *recorder {
	t.Helper()
	r := &recorder{}
	h := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.paths = append(r.paths, req.URL.RequestURI())
		r.mu.Unlock()
		handler(w, req)
	})
	if tls {
		r.Server = httptest.NewTLSServer(h)
	} else {
		r.Server = httptest.NewServer(h)
	}
	t.Cleanup(r.Close)
	return r
}

// requests returns the paths received so far.
func (r *recorder) requests() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.paths)
}

// serveSet answers every request with set.
func serveSet(set *jose.JSONWebKeySet) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_ = json.NewEncoder(w).Encode(set)
	}
}

// internalHosts are addresses that, from the gateway's network position,
// reach hosts a jwks_uri could not name: the test's dialer connects them to
// a local recorder.
var internalHosts = []string{"169.254.169.254:80", "jwks.example:80", "intranet.example:80"}

// gatewayClient is an HTTP client as the gateway's wiring builds one
// (cmd/parjarm: an http.Client with only a Transport, so Go's default
// redirect policy, 10 redirects to any scheme and host) that trusts the
// httptest certificate and dials internalHosts to internal.
func gatewayClient(tlsServer *httptest.Server, internal string) *http.Client {
	tr := tlsServer.Client().Transport.(*http.Transport).Clone()
	var d net.Dialer
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if slices.Contains(internalHosts, addr) {
			addr = internal
		}
		return d.DialContext(ctx, network, addr)
	}
	return &http.Client{Transport: tr}
}

// TestKeySetRedirectPolicyHoldsWithAGivenClient reproduces the SSRF and
// key-substitution attack through a jwks_uri that redirects: the fetcher was
// given an HTTP client (as the gateway's wiring gives one) and followed
// redirects to http, to internal hosts and to other schemes. Every refused
// target must receive nothing.
func TestKeySetRedirectPolicyHoldsWithAGivenClient(t *testing.T) {
	testKeys(t)
	// internal is where the refused redirects lead: a plain http server
	// serving the attacker's keys, as a host on the path or an internal
	// service would.
	internal := newRecorder(t, false, serveSet(ecKey2.set()))
	// other is a second https key server, on another port.
	other := newRecorder(t, true, serveSet(ecKey.set()))
	var origin *recorder
	origin = newRecorder(t, true, func(w http.ResponseWriter, r *http.Request) {
		switch to := r.URL.Query().Get("to"); {
		case r.URL.Path == "/jwks":
			serveSet(ecKey.set())(w, r)
		case strings.HasPrefix(r.URL.Path, "/hop/"):
			// /hop/n redirects n more times, then to /jwks.
			n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/hop/"))
			next := "/jwks"
			if n > 1 {
				next = "/hop/" + strconv.Itoa(n-1)
			}
			http.Redirect(w, r, next, http.StatusFound)
		case to != "":
			w.Header().Set("Location", to)
			w.WriteHeader(http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	})
	internalPort := internal.Listener.Addr().(*net.TCPAddr).Port
	redirectTo := func(target string) string { return origin.URL + "/redirect?to=" + target }

	tests := []struct {
		name      string
		uri       string
		wantErr   string   // "" for success
		wantPaths []string // requests the origin must have received
	}{
		{"https to http on the gateway's loopback is refused", redirectTo(internal.URL + "/jwks"),
			`redirect to "http://127.0.0.1:` + strconv.Itoa(internalPort) + `" refused: a redirect must use https`, nil},
		{"https to http on another host (a downgrade) is refused", redirectTo("http://jwks.example/jwks"),
			`redirect to "http://jwks.example" refused: a redirect must use https`, nil},
		{"a redirect to the cloud metadata service is refused", redirectTo("http://169.254.169.254/latest/meta-data/iam/security-credentials/"),
			`redirect to "http://169.254.169.254" refused`, nil},
		{"a redirect to an internal host is refused", redirectTo("http://intranet.example/admin?delete=all"),
			`redirect to "http://intranet.example" refused`, nil},
		{"a redirect to file: is refused", redirectTo("file:///etc/passwd"), `redirect to "file://" refused`, nil},
		{"a redirect to gopher: is refused", redirectTo("gopher://127.0.0.1:" + strconv.Itoa(internalPort) + "/_GET%20/"),
			`redirect to "gopher://127.0.0.1:` + strconv.Itoa(internalPort) + `" refused`, nil},
		{"a redirect to ftp: is refused", redirectTo("ftp://127.0.0.1:" + strconv.Itoa(internalPort) + "/keys"), `refused: a redirect must use https`, nil},
		{"a redirect to an https URL without a host is refused", redirectTo("https:///jwks"),
			`redirect to "https://" refused: the URL is not an absolute URL`, nil},
		{"more than MaxRedirects redirects are refused", origin.URL + "/hop/" + strconv.Itoa(client.MaxRedirects+1),
			"more than 3 redirects", []string{"/hop/4", "/hop/3", "/hop/2", "/hop/1"}},
		{"MaxRedirects redirects on the same server are followed", origin.URL + "/hop/" + strconv.Itoa(client.MaxRedirects),
			"", []string{"/hop/3", "/hop/2", "/hop/1", "/jwks"}},
		{"an https redirect to another host is followed", redirectTo(other.URL + "/keys"), "", nil},
	}
	// The caller's own redirect policy, lenient or absent, is never used.
	clients := map[string]func() *http.Client{
		"a client with only a Transport": func() *http.Client { return gatewayClient(origin.Server, internal.Listener.Addr().String()) },
		"a client that follows any redirect": func() *http.Client {
			c := gatewayClient(origin.Server, internal.Listener.Addr().String())
			c.CheckRedirect = func(*http.Request, []*http.Request) error { return nil }
			return c
		},
	}
	for clientName, newClient := range clients {
		for _, tt := range tests {
			t.Run(clientName+"/"+tt.name, func(t *testing.T) {
				before, beforeInternal := len(origin.requests()), len(internal.requests())
				f := client.NewKeyFetcher(client.FetchOptions{HTTPClient: newClient()})
				set, err := f.KeySet(context.Background(), uriClient(tt.uri))
				switch {
				case tt.wantErr == "" && err != nil:
					t.Errorf("KeySet: %v", err)
				case tt.wantErr == "" && (len(set.Keys) != 1 || set.Keys[0].KeyID != ecKey.private.KeyID):
					t.Errorf("keys %v, want the origin's %s", set.Keys, ecKey.private.KeyID)
				case tt.wantErr != "" && err == nil:
					t.Errorf("KeySet succeeded (%d keys), want the redirect refused", len(set.Keys))
				case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
					t.Errorf("error %q does not contain %q", err, tt.wantErr)
				}
				if got := internal.requests()[beforeInternal:]; len(got) != 0 {
					t.Errorf("the refused target received %q, want nothing", got)
				}
				if tt.wantPaths != nil {
					if got := origin.requests()[before:]; !slices.Equal(got, tt.wantPaths) {
						t.Errorf("origin received %q, want %q", got, tt.wantPaths)
					}
				}
			})
		}
	}
	if got := other.requests(); len(got) != len(clients) {
		t.Errorf("the other https server received %q, want one fetch per client", got)
	}
}

func TestNewKeyFetcherLeavesTheCallersClientAsItWas(t *testing.T) {
	hc := &http.Client{}
	client.NewKeyFetcher(client.FetchOptions{HTTPClient: hc})
	if hc.CheckRedirect != nil {
		t.Error("NewKeyFetcher set the CheckRedirect of the caller's client")
	}
}
