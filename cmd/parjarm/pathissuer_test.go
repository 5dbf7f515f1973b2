package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
)

// pathUpstream is a stand-in for a server whose issuer has a path
// (Keycloak's /realms/<realm>, Dex's /dex): everything it serves is below
// that path, and it names the issuer's (public) URLs in its discovery.
func pathUpstream(t *testing.T, issuer, prefix string) *httptest.Server {
	t.Helper()
	base := strings.TrimSuffix(issuer, "/")
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+prefix+"/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": issuer, "authorization_endpoint": base + "/protocol/openid-connect/auth", "token_endpoint": base + "/protocol/openid-connect/token",
			"jwks_uri": base + "/protocol/openid-connect/certs", "response_types_supported": []string{"code"},
		})
	})
	mux.HandleFunc("GET "+prefix+"/protocol/openid-connect/certs", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, `{"keys":[]}`) })
	mux.HandleFunc(prefix+"/hello", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "hello") })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func getJSON(t *testing.T, u string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&doc)
	return resp.StatusCode, doc
}

// TestRunServesAPathIssuerWhereDiscoveryAdvertises starts the gateway in
// front of path-issuer upstreams, configured the ways an operator would,
// and follows discovery as a client does.
func TestRunServesAPathIssuerWhereDiscoveryAdvertises(t *testing.T) {
	tests := []struct {
		name   string
		path   string // the issuer's path, as configured (maybe with "/")
		prefix string // where the upstream serves
		env    func(upstream, issuer string) map[string]string
	}{
		{"Keycloak: the upstream's host and PARJARM_ISSUER", "/realms/bank", "/realms/bank", func(up, iss string) map[string]string {
			return map[string]string{"PARJARM_UPSTREAM_URL": up, "PARJARM_ISSUER": iss}
		}},
		{"Keycloak: only the upstream URL, ending with the realm", "/realms/bank", "/realms/bank", func(up, iss string) map[string]string {
			return map[string]string{"PARJARM_UPSTREAM_URL": up + "/realms/bank"}
		}},
		{"Keycloak: the upstream URL with the realm and PARJARM_ISSUER", "/realms/bank", "/realms/bank", func(up, iss string) map[string]string {
			return map[string]string{"PARJARM_UPSTREAM_URL": up + "/realms/bank/", "PARJARM_ISSUER": iss}
		}},
		{"Dex: an issuer with a trailing slash", "/dex/", "/dex", func(up, iss string) map[string]string {
			return map[string]string{"PARJARM_UPSTREAM_URL": up, "PARJARM_ISSUER": iss}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			listen, admin := freeAddr(t), freeAddr(t)
			issuer := "http://" + listen + tt.path
			base := strings.TrimSuffix(issuer, "/")
			up := pathUpstream(t, issuer, tt.prefix)
			env := tt.env(up.URL, issuer)
			for k, v := range map[string]string{"PARJARM_ALLOW_INSECURE_HTTP": "true", "PARJARM_LISTEN_ADDR": listen, "PARJARM_ADMIN_ADDR": admin,
				"PARJARM_CLIENTS_FILE": writeFile(t, "clients.json", clientsJSON)} {
				env[k] = v
			}
			startGateway(t, env)

			// Both discovery locations (OpenID Connect Discovery 4.1,
			// RFC 8414 3.1) answer the gateway's document.
			prefix := strings.TrimSuffix(tt.path, "/")
			var doc map[string]any
			for _, loc := range []string{base + "/.well-known/openid-configuration", "http://" + listen + "/.well-known/oauth-authorization-server" + prefix} {
				status, d := getJSON(t, loc)
				if status != http.StatusOK || d["issuer"] != issuer || d["pushed_authorization_request_endpoint"] == nil {
					t.Fatalf("%s: %d %v", loc, status, d)
				}
				doc = d
			}
			if doc["pushed_authorization_request_endpoint"] != base+"/par" || doc["jwks_uri"] != base+"/.well-known/parjarm/jwks.json" ||
				doc["authorization_endpoint"] != base+"/protocol/openid-connect/auth" {
				t.Fatalf("discovery: %v", doc)
			}

			// The advertised PAR endpoint takes a push.
			form := url.Values{"client_id": {"app"}, "response_type": {"code"}, "redirect_uri": {"https://app.example/cb"}, "scope": {"openid"}}
			req, _ := http.NewRequest(http.MethodPost, doc["pushed_authorization_request_endpoint"].(string), strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth("app", "app-secret-0123456789")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("push: %d", resp.StatusCode)
			}
			// The advertised key set holds the gateway's key (the upstream
			// has none).
			status, set := getJSON(t, doc["jwks_uri"].(string))
			if keys, _ := set["keys"].([]any); status != http.StatusOK || len(keys) == 0 {
				t.Fatalf("jwks_uri: %d %v", status, set)
			}
			// Everything else reaches the upstream at the same path.
			resp, err = http.Get(base + "/hello")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || string(b) != "hello" {
				t.Fatalf("pass-through: %d %q", resp.StatusCode, b)
			}
		})
	}
}

func TestRunRefusesEndpointsThatCouldNotBeServed(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"a key set on the discovery location", map[string]string{"PARJARM_JWKS_PATH": "/.well-known/openid-configuration"},
			"PARJARM_JWKS_PATH: the key set (jwks_uri) would be served at /realms/bank/.well-known/openid-configuration, where the OpenID discovery document is (placed by PARJARM_ISSUER); give it a path of its own"},
		{"a PAR endpoint on the authorization endpoint", map[string]string{"PARJARM_PAR_PATH": "/protocol/openid-connect/auth"},
			"PARJARM_PAR_PATH: the PAR endpoint would be served at /realms/bank/protocol/openid-connect/auth, where the upstream's authorization_endpoint is (/realms/bank/protocol/openid-connect/auth), which clients could then no longer reach: give it a path of its own"},
		{"a key set on the token endpoint", map[string]string{"PARJARM_JWKS_PATH": "/protocol/openid-connect/token"},
			"PARJARM_JWKS_PATH: the key set (jwks_uri) would be served at /realms/bank/protocol/openid-connect/token, where the upstream's token_endpoint is (/realms/bank/protocol/openid-connect/token), which clients could then no longer reach: give it a path of its own"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			listen := freeAddr(t)
			issuer := "http://" + listen + "/realms/bank"
			up := pathUpstream(t, issuer, "/realms/bank")
			env := map[string]string{"PARJARM_UPSTREAM_URL": up.URL, "PARJARM_ISSUER": issuer, "PARJARM_ALLOW_INSECURE_HTTP": "true",
				"PARJARM_LISTEN_ADDR": listen, "PARJARM_ADMIN_ADDR": freeAddr(t)}
			for k, v := range tt.env {
				env[k] = v
			}
			var out syncBuffer
			err := run(context.Background(), nil, env, &out)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("err = %v\nwant %s", err, tt.want)
			}
		})
	}
}

// TestRunInterceptsTheAuthorizationEndpointWhereClientsReachIt: an upstream
// mounted below a path the public URLs do not carry
// (PARJARM_UPSTREAM_URL=http://internal/idp), naming its own address in
// discovery. Clients are told https://public/authorize; that is the path the
// gateway must intercept, or a PAR-only gateway would let plain requests
// through to the upstream.
func TestRunInterceptsTheAuthorizationEndpointWhereClientsReachIt(t *testing.T) {
	listen, admin := freeAddr(t), freeAddr(t)
	var self string
	var reached atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc("GET /idp/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": "http://" + listen, "authorization_endpoint": self + "/idp/authorize", "token_endpoint": self + "/idp/token",
			"response_types_supported": []string{"code"},
		})
	})
	mux.HandleFunc("/idp/authorize", func(w http.ResponseWriter, r *http.Request) {
		reached.Store(true)
		_, _ = io.WriteString(w, "login page")
	})
	up := httptest.NewServer(mux)
	t.Cleanup(up.Close)
	self = up.URL
	env := map[string]string{"PARJARM_UPSTREAM_URL": up.URL + "/idp", "PARJARM_ISSUER": "http://" + listen, "PARJARM_ALLOW_INSECURE_HTTP": "true",
		"PARJARM_REQUIRE_PAR": "true", "PARJARM_LISTEN_ADDR": listen, "PARJARM_ADMIN_ADDR": admin,
		"PARJARM_CLIENTS_FILE": writeFile(t, "clients.json", clientsJSON)}
	startGateway(t, env)

	_, doc := getJSON(t, "http://"+listen+"/.well-known/openid-configuration")
	authz, _ := doc["authorization_endpoint"].(string)
	if authz != "http://"+listen+"/authorize" {
		t.Fatalf("authorization_endpoint %q", authz)
	}
	resp, err := http.Get(authz + "?client_id=app&response_type=code&redirect_uri=" + url.QueryEscape("https://app.example/cb"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "invalid_request") || reached.Load() {
		t.Fatalf("a plain request at the advertised authorization endpoint: %d %q (upstream reached: %v)", resp.StatusCode, b, reached.Load())
	}
}

func TestCheckCommandRefusesEndpointsThatCouldNotBeServed(t *testing.T) {
	env := map[string]string{"PARJARM_UPSTREAM_URL": "http://127.0.0.1:1", "PARJARM_ISSUER": "https://login.example/realms/bank",
		"PARJARM_JWKS_PATH": "/.well-known/openid-configuration"}
	var out syncBuffer
	err := run(context.Background(), []string{"check"}, env, &out)
	const want = "PARJARM_JWKS_PATH: the key set (jwks_uri) would be served at /realms/bank/.well-known/openid-configuration, where the OpenID discovery document is (placed by PARJARM_ISSUER); give it a path of its own"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
	env["PARJARM_JWKS_PATH"] = "/keys"
	env["PARJARM_PAR_PATH"] = "/auth"
	env["PARJARM_AUTHORIZATION_PATH"] = "/realms/bank/auth"
	err = run(context.Background(), []string{"check"}, env, &out)
	const want2 = "PARJARM_PAR_PATH: the PAR endpoint would be served at /realms/bank/auth, where the upstream's authorization_endpoint is (/realms/bank/auth), which clients could then no longer reach: give it a path of its own"
	if err == nil || err.Error() != want2 {
		t.Fatalf("err = %v\nwant %s", err, want2)
	}
	env["PARJARM_PAR_PATH"] = "/par"
	if err := run(context.Background(), []string{"check"}, env, &out); err != nil {
		t.Fatalf("a servable configuration: %v", err)
	}
}
