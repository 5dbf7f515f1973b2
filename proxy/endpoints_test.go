package proxy

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestEndpointsPlaceEverythingBelowTheIssuerAndPublicPaths(t *testing.T) {
	tests := []struct {
		issuer, public string
		want           map[string][2]string // kind → URL, path; the second RFC 8414 form under "oauth2"
	}{
		{"https://h", "", map[string][2]string{
			EndpointOpenIDConfiguration: {"https://h/.well-known/openid-configuration", "/.well-known/openid-configuration"},
			EndpointOAuthMetadata:       {"https://h/.well-known/oauth-authorization-server", "/.well-known/oauth-authorization-server"},
			EndpointPAR:                 {"https://h/par", "/par"},
			EndpointJWKS:                {"https://h/.well-known/parjarm/jwks.json", "/.well-known/parjarm/jwks.json"},
		}},
		{"https://h/", "https://h/", map[string][2]string{
			EndpointOpenIDConfiguration: {"https://h/.well-known/openid-configuration", "/.well-known/openid-configuration"},
			EndpointOAuthMetadata:       {"https://h/.well-known/oauth-authorization-server", "/.well-known/oauth-authorization-server"},
			EndpointPAR:                 {"https://h/par", "/par"},
			EndpointJWKS:                {"https://h/.well-known/parjarm/jwks.json", "/.well-known/parjarm/jwks.json"},
		}},
		{"https://h/realms/bank", "", map[string][2]string{
			EndpointOpenIDConfiguration: {"https://h/realms/bank/.well-known/openid-configuration", "/realms/bank/.well-known/openid-configuration"},
			EndpointOAuthMetadata:       {"https://h/.well-known/oauth-authorization-server/realms/bank", "/.well-known/oauth-authorization-server/realms/bank"},
			"oauth2":                    {"https://h/realms/bank/.well-known/oauth-authorization-server", "/realms/bank/.well-known/oauth-authorization-server"},
			EndpointPAR:                 {"https://h/realms/bank/par", "/realms/bank/par"},
			EndpointJWKS:                {"https://h/realms/bank/.well-known/parjarm/jwks.json", "/realms/bank/.well-known/parjarm/jwks.json"},
		}},
		{"https://h/dex/", "https://gw.example/dex/", map[string][2]string{
			EndpointOpenIDConfiguration: {"https://h/dex/.well-known/openid-configuration", "/dex/.well-known/openid-configuration"},
			EndpointOAuthMetadata:       {"https://h/.well-known/oauth-authorization-server/dex", "/.well-known/oauth-authorization-server/dex"},
			"oauth2":                    {"https://h/dex/.well-known/oauth-authorization-server", "/dex/.well-known/oauth-authorization-server"},
			EndpointPAR:                 {"https://gw.example/dex/par", "/dex/par"},
			EndpointJWKS:                {"https://gw.example/dex/.well-known/parjarm/jwks.json", "/dex/.well-known/parjarm/jwks.json"},
		}},
		{"https://h/realms/bank", "https://gw.example/gateway", map[string][2]string{
			EndpointOpenIDConfiguration: {"https://h/realms/bank/.well-known/openid-configuration", "/realms/bank/.well-known/openid-configuration"},
			EndpointOAuthMetadata:       {"https://h/.well-known/oauth-authorization-server/realms/bank", "/.well-known/oauth-authorization-server/realms/bank"},
			"oauth2":                    {"https://h/realms/bank/.well-known/oauth-authorization-server", "/realms/bank/.well-known/oauth-authorization-server"},
			EndpointPAR:                 {"https://gw.example/gateway/par", "/gateway/par"},
			EndpointJWKS:                {"https://gw.example/gateway/.well-known/parjarm/jwks.json", "/gateway/.well-known/parjarm/jwks.json"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.issuer+" public "+tt.public, func(t *testing.T) {
			public := tt.public
			if public == "" {
				public = tt.issuer
			}
			e, err := NewEndpoints(EndpointsConfig{Issuer: tt.issuer, PublicURL: mustURL(t, public), PARPath: "/par",
				JWKSPath: "/.well-known/parjarm/jwks.json", Upstream: []UpstreamEndpoint{{Name: "authorization_endpoint", Path: "/realms/bank/protocol/openid-connect/auth"}}})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string][2]string{}
			for _, ep := range e.All() {
				key := ep.Kind
				if _, dup := got[key]; dup {
					key = "oauth2"
				}
				got[key] = [2]string{ep.URL, ep.Path}
				if u := mustURL(t, ep.URL); u.Path != ep.Path {
					t.Errorf("%s is published at %s but served at %s", ep.Kind, ep.URL, ep.Path)
				}
				if found, ok := e.Lookup(ep.Path); !ok || found != ep {
					t.Errorf("Lookup(%q) = %+v, %v", ep.Path, found, ok)
				}
			}
			if len(got) != len(tt.want) {
				t.Errorf("got %d endpoints, want %d: %v", len(got), len(tt.want), got)
			}
			for k, want := range tt.want {
				if got[k] != want {
					t.Errorf("%s = %v, want %v", k, got[k], want)
				}
			}
		})
	}
}

func TestEndpointsTakeAPathAlreadyUnderThePublicPathAsItIs(t *testing.T) {
	e, err := NewEndpoints(EndpointsConfig{Issuer: "https://h/realms/bank", PublicURL: mustURL(t, "https://h/realms/bank"),
		PARPath: "/realms/bank/par", JWKSPath: "/keys"})
	if err != nil {
		t.Fatal(err)
	}
	if got := e.URL(EndpointPAR); got != "https://h/realms/bank/par" {
		t.Errorf("PAR URL %q, want https://h/realms/bank/par (not doubled)", got)
	}
	if got := e.URL(EndpointJWKS); got != "https://h/realms/bank/keys" {
		t.Errorf("jwks_uri %q, want https://h/realms/bank/keys", got)
	}
	// A path that merely shares a prefix with the public path is relative.
	e, err = NewEndpoints(EndpointsConfig{Issuer: "https://h/dex", PublicURL: mustURL(t, "https://h/dex"), PARPath: "/dexpar", JWKSPath: "/keys"})
	if err != nil {
		t.Fatal(err)
	}
	if got := e.URL(EndpointPAR); got != "https://h/dex/dexpar" {
		t.Errorf("PAR URL %q, want https://h/dex/dexpar", got)
	}
}

func authz(p string) []UpstreamEndpoint {
	return []UpstreamEndpoint{{Name: "authorization_endpoint", Path: p}}
}

func TestEndpointsRefuseWhatCouldNotBeServed(t *testing.T) {
	tests := []struct {
		name string
		c    EndpointsConfig
		want string
	}{
		{"a key set on the OpenID discovery location",
			EndpointsConfig{Issuer: "https://h/realms/bank", PublicURL: mustURL(t, "https://h/realms/bank"), PARPath: "/par", JWKSPath: "/.well-known/openid-configuration"},
			"PARJARM_JWKS_PATH: the key set (jwks_uri) would be served at /realms/bank/.well-known/openid-configuration, where the OpenID discovery document is (placed by PARJARM_ISSUER); give it a path of its own"},
		{"a key set on the RFC 8414 location of a path issuer",
			EndpointsConfig{Issuer: "https://h/realms/bank", PublicURL: mustURL(t, "https://h"), PARPath: "/par", JWKSPath: "/.well-known/oauth-authorization-server/realms/bank"},
			"PARJARM_JWKS_PATH: the key set (jwks_uri) would be served at /.well-known/oauth-authorization-server/realms/bank, where the RFC 8414 metadata document is (placed by PARJARM_ISSUER); give it a path of its own"},
		{"a key set on the PAR endpoint once both are below the public path",
			EndpointsConfig{Issuer: "https://h/realms/bank", PublicURL: mustURL(t, "https://h/realms/bank/"), PARPath: "/realms/bank/keys", JWKSPath: "/keys"},
			"PARJARM_JWKS_PATH: the key set (jwks_uri) would be served at /realms/bank/keys, where the PAR endpoint is (placed by PARJARM_PAR_PATH); give it a path of its own"},
		{"a PAR endpoint on the authorization endpoint",
			EndpointsConfig{Issuer: "https://h/realms/bank", PublicURL: mustURL(t, "https://h/realms/bank"), PARPath: "/protocol/openid-connect/auth", JWKSPath: "/keys", Upstream: authz("/realms/bank/protocol/openid-connect/auth")},
			"PARJARM_PAR_PATH: the PAR endpoint would be served at /realms/bank/protocol/openid-connect/auth, where the upstream's authorization_endpoint is (/realms/bank/protocol/openid-connect/auth), which clients could then no longer reach: give it a path of its own"},
		{"a PAR endpoint on a variant of the authorization endpoint's path",
			EndpointsConfig{Issuer: "https://h", PublicURL: mustURL(t, "https://h"), PARPath: "/Authorize", JWKSPath: "/keys", Upstream: authz("/authorize")},
			"PARJARM_PAR_PATH: the PAR endpoint would be served at /Authorize, where the upstream's authorization_endpoint is (/authorize), which clients could then no longer reach: give it a path of its own"},
		{"a key set on the token endpoint",
			EndpointsConfig{Issuer: "https://h", PublicURL: mustURL(t, "https://h"), PARPath: "/par", JWKSPath: "/token", Upstream: []UpstreamEndpoint{{Name: "authorization_endpoint", Path: "/authorize"}, {Name: "token_endpoint", Path: "/token"}}},
			"PARJARM_JWKS_PATH: the key set (jwks_uri) would be served at /token, where the upstream's token_endpoint is (/token), which clients could then no longer reach: give it a path of its own"},
		{"discovery on the authorization endpoint",
			EndpointsConfig{Issuer: "https://h", PublicURL: mustURL(t, "https://h"), PARPath: "/par", JWKSPath: "/keys", Upstream: authz("/.well-known/openid-configuration")},
			"PARJARM_ISSUER: the OpenID discovery document would be served at /.well-known/openid-configuration, where the upstream's authorization_endpoint is (/.well-known/openid-configuration), which clients could then no longer reach: give it a path of its own"},
		{"an issuer that is not a URL",
			EndpointsConfig{Issuer: "h/realms/bank", PublicURL: mustURL(t, "https://h"), JWKSPath: "/keys"},
			`PARJARM_ISSUER: "h/realms/bank" is not an absolute http or https URL`},
		{"no public URL",
			EndpointsConfig{Issuer: "https://h", JWKSPath: "/keys"},
			"PARJARM_PUBLIC_URL: the gateway has no absolute public URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewEndpoints(tt.c)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("err = %v\nwant %s", err, tt.want)
			}
		})
	}
}

func TestUpstreamBaseDropsAPathThatIsTheIssuers(t *testing.T) {
	tests := []struct{ upstream, issuer, want string }{
		{"http://kc:8080", "https://login.example/realms/bank", "http://kc:8080"},
		{"http://kc:8080/realms/bank", "https://login.example/realms/bank", "http://kc:8080"},
		{"http://dex:5556/dex/", "http://gw.example/dex", "http://dex:5556"},
		{"http://dex:5556/dex", "http://gw.example/dex/", "http://dex:5556"},
		// A mount prefix the public URLs do not carry is kept: requests are
		// appended to it.
		{"http://internal/idp", "https://login.example", "http://internal/idp"},
		{"http://internal/idp", "https://login.example/other", "http://internal/idp"},
	}
	for _, tt := range tests {
		if got := UpstreamBase(mustURL(t, tt.upstream), tt.issuer).String(); got != tt.want {
			t.Errorf("UpstreamBase(%s, %s) = %s, want %s", tt.upstream, tt.issuer, got, tt.want)
		}
	}
}

func TestDiscoveryRewritesTheUpstreamsAddressToThePublicOrigin(t *testing.T) {
	// The upstream built its URLs from its own address; a request's path is
	// appended to the upstream URL's path, so the public URL is the public
	// origin plus what follows it (not the public URL's path again).
	eps, err := NewEndpoints(EndpointsConfig{Issuer: "https://login.example/realms/bank", PublicURL: mustURL(t, "https://login.example/realms/bank"), PARPath: "/par", JWKSPath: "/keys"})
	if err != nil {
		t.Fatal(err)
	}
	doc := RewriteDiscovery(map[string]any{
		"issuer":                 "http://kc:8080/realms/bank",
		"authorization_endpoint": "http://kc:8080/realms/bank/protocol/openid-connect/auth",
		"jwks_uri":               "http://kc:8080/realms/bank/protocol/openid-connect/certs",
	}, Options{Upstream: mustURL(t, "http://kc:8080"), Issuer: "https://login.example/realms/bank", PublicURL: "https://login.example/realms/bank", PAREnabled: true, Endpoints: eps})
	for k, want := range map[string]string{
		"issuer":                                "https://login.example/realms/bank",
		"authorization_endpoint":                "https://login.example/realms/bank/protocol/openid-connect/auth",
		"pushed_authorization_request_endpoint": "https://login.example/realms/bank/par",
		"jwks_uri":                              "https://login.example/realms/bank/keys",
	} {
		if doc[k] != want {
			t.Errorf("%s = %v, want %s", k, doc[k], want)
		}
	}
}

// fetchAt sends a request for the absolute URL u to the gateway's listener,
// with u's host as the Host header: wherever discovery says an endpoint is,
// it is the gateway that must answer.
func (h *harness) fetchAt(method, u string, body string) *http.Response {
	h.t.Helper()
	target, err := url.Parse(u)
	if err != nil {
		h.t.Fatal(err)
	}
	gw := mustURL(h.t, h.gw.URL)
	host := target.Host
	target.Scheme, target.Host = gw.Scheme, gw.Host
	req, err := http.NewRequest(method, target.String(), strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Host = host
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := h.http.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp
}

func (h *harness) fetchJSON(u string) (int, map[string]any) {
	h.t.Helper()
	resp := h.fetchAt(http.MethodGet, u, "")
	defer resp.Body.Close()
	var doc map[string]any
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &doc)
	return resp.StatusCode, doc
}

// discoveryLocations derives, from the issuer string alone, where a client
// looks for metadata: OpenID Connect Discovery 1.0, section 4.1, and
// RFC 8414, section 3.1 (a terminating "/" removed first in both).
func discoveryLocations(t *testing.T, issuer string) []string {
	t.Helper()
	u := mustURL(t, issuer)
	p := strings.TrimSuffix(u.Path, "/")
	return []string{
		strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration",
		u.Scheme + "://" + u.Host + "/.well-known/oauth-authorization-server" + p,
	}
}

func TestEveryAdvertisedURLAnswersFromTheGateway(t *testing.T) {
	issuers := []string{"https://h", "https://h/", "https://h/realms/bank", "https://h/dex/"}
	for _, issuer := range issuers {
		issPath := strings.TrimSuffix(mustURL(t, issuer).Path, "/")
		publics := []struct{ name, url string }{
			{"unset", ""},
			{"the issuer", issuer},
			{"another host, same path", "https://gw.example" + issPath},
			{"another host, same path, trailing slash", "https://gw.example" + issPath + "/"},
			{"another path", "https://h/gateway"},
			{"another path, trailing slash", "https://gw.example/gateway/"},
		}
		for _, pub := range publics {
			t.Run(issuer+" public "+pub.name, func(t *testing.T) {
				h := newHarness(t, harnessOptions{issuer: issuer, publicURL: pub.url})
				base := pub.url
				if base == "" {
					base = issuer
				}
				base = strings.TrimSuffix(base, "/")
				locations := discoveryLocations(t, issuer)
				if issPath != "" {
					locations = append(locations, strings.TrimSuffix(issuer, "/")+"/.well-known/oauth-authorization-server")
				}
				var doc map[string]any
				for _, loc := range locations {
					status, d := h.fetchJSON(loc)
					if status != http.StatusOK || d["issuer"] != issuer {
						t.Fatalf("%s: status %d, issuer %v, want 200 and %q", loc, status, d["issuer"], issuer)
					}
					doc = d
				}
				parURL, _ := doc["pushed_authorization_request_endpoint"].(string)
				if parURL != base+"/par" {
					t.Errorf("pushed_authorization_request_endpoint %q, want %q", parURL, base+"/par")
				}
				jwksURI, _ := doc["jwks_uri"].(string)
				if jwksURI != base+"/.well-known/parjarm/jwks.json" {
					t.Errorf("jwks_uri %q, want %q", jwksURI, base+"/.well-known/parjarm/jwks.json")
				}

				// The PAR endpoint is the gateway's: an empty push is a JSON
				// invalid_client (the stand-in upstream has no such path).
				resp := h.fetchAt(http.MethodPost, parURL, "")
				var oe struct {
					Error string `json:"error"`
				}
				_ = json.NewDecoder(resp.Body).Decode(&oe)
				resp.Body.Close()
				if resp.StatusCode != http.StatusUnauthorized || oe.Error != "invalid_client" || resp.Header.Get("Content-Type") != "application/json" {
					t.Errorf("POST %s: %d %q (%s), want 401 invalid_client JSON", parURL, resp.StatusCode, oe.Error, resp.Header.Get("Content-Type"))
				}

				// The key set is the merged one: the gateway's kid and the
				// upstream's.
				status, set := h.fetchJSON(jwksURI)
				var kids []string
				keys, _ := set["keys"].([]any)
				for _, k := range keys {
					if m, ok := k.(map[string]any); ok {
						kid, _ := m["kid"].(string)
						kids = append(kids, kid)
					}
				}
				if status != http.StatusOK || !slices.Contains(kids, h.keys.KIDs()[0]) || !slices.Contains(kids, "upstream-1") {
					t.Errorf("GET %s: %d, kids %v; want the gateway's %s and upstream-1", jwksURI, status, kids, h.keys.KIDs()[0])
				}
			})
		}
	}
}

// TestAClientThatFollowsDiscoveryPushesAndAuthorizes is a client that knows
// only the issuer (Keycloak-style, with a path): it reads discovery, pushes
// to the advertised PAR endpoint and completes the flow at the advertised
// authorization endpoint.
func TestAClientThatFollowsDiscoveryPushesAndAuthorizes(t *testing.T) {
	const issuer = "https://login.bank.example/realms/bank"
	h := newHarness(t, harnessOptions{issuer: issuer})
	status, doc := h.fetchJSON(issuer + "/.well-known/openid-configuration")
	if status != http.StatusOK {
		t.Fatalf("discovery: %d", status)
	}
	parURL, _ := doc["pushed_authorization_request_endpoint"].(string)
	authzURL, _ := doc["authorization_endpoint"].(string)

	form := codeFlow("st-1")
	form.Set("client_id", "conf")
	req, _ := http.NewRequest(http.MethodPost, parURL, strings.NewReader(form.Encode()))
	gw := mustURL(t, h.gw.URL)
	req.Host, req.URL.Scheme, req.URL.Host = req.URL.Host, gw.Scheme, gw.Host
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("conf", confSecret)
	resp, err := h.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var pushed struct {
		RequestURI string `json:"request_uri"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&pushed)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || pushed.RequestURI == "" {
		t.Fatalf("push to %s: %d", parURL, resp.StatusCode)
	}

	resp = h.fetchAt(http.MethodGet, authzURL+"?"+url.Values{"client_id": {"conf"}, "request_uri": {pushed.RequestURI}}.Encode(), "")
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize at %s: %d, Location %v", authzURL, resp.StatusCode, err)
	}
	if !strings.HasPrefix(loc.String(), redirectURI+"?") || loc.Query().Get("code") != "code-123" || loc.Query().Get("state") != "st-1" || loc.Query().Get("iss") != issuer {
		t.Fatalf("the flow ended at %s", loc)
	}
	if got := h.up.last().Get("redirect_uri"); got != redirectURI {
		t.Fatalf("the upstream saw redirect_uri %q", got)
	}
}

func TestPublicEndpointIsTheInverseOfForwarding(t *testing.T) {
	tests := []struct{ upstream, public, in, want string }{
		{"http://kc:8080", "https://login.example/realms/bank", "http://kc:8080/realms/bank/auth", "https://login.example/realms/bank/auth"},
		{"http://internal/idp", "https://login.example", "http://internal/idp/authorize", "https://login.example/authorize"},
		// An upstream URL ending with the public path names the issuer's
		// place: paths are forwarded unchanged (UpstreamBase).
		{"http://kc:8080/realms/bank", "https://login.example/realms/bank", "http://kc:8080/realms/bank/protocol/openid-connect/token", "https://login.example/realms/bank/protocol/openid-connect/token"},
		{"http://internal/idp/", "https://login.example/", "http://internal/idp", "https://login.example"},
		// Not the upstream's address: unchanged.
		{"http://internal/idp", "https://login.example", "http://internal/idpx/authorize", "http://internal/idpx/authorize"},
		{"http://10.1.2.3:4000", "https://login.example", "http://10.1.2.3:40001/docs", "http://10.1.2.3:40001/docs"},
		{"http://kc:8080", "https://login.example", "https://login.example/auth", "https://login.example/auth"},
	}
	for _, tt := range tests {
		if got := PublicEndpoint(mustURL(t, tt.upstream), tt.public, tt.in); got != tt.want {
			t.Errorf("PublicEndpoint(%s, %s, %s) = %s, want %s", tt.upstream, tt.public, tt.in, got, tt.want)
		}
	}
}

func TestUpstreamEndpointsAreThoseClientsReachThroughTheGateway(t *testing.T) {
	doc := map[string]any{
		"issuer":                                "https://login.example/realms/bank",
		"authorization_endpoint":                "https://login.example/realms/bank/protocol/openid-connect/auth",
		"token_endpoint":                        "http://kc:8080/realms/bank/protocol/openid-connect/token",
		"userinfo_endpoint":                     "https://login.example/realms/bank/protocol/openid-connect/userinfo",
		"end_session_endpoint":                  "https://logout.elsewhere.example/logout",
		"pushed_authorization_request_endpoint": "https://login.example/realms/bank/protocol/openid-connect/ext/par/request",
		"jwks_uri":                              "https://login.example/realms/bank/protocol/openid-connect/certs",
		"registration_endpoint":                 42,
	}
	got := UpstreamEndpoints(doc, mustURL(t, "http://kc:8080"), "https://login.example/realms/bank", "https://login.example/realms/bank")
	want := []UpstreamEndpoint{
		{Name: "authorization_endpoint", Path: "/realms/bank/protocol/openid-connect/auth"},
		{Name: "token_endpoint", Path: "/realms/bank/protocol/openid-connect/token"},
		{Name: "userinfo_endpoint", Path: "/realms/bank/protocol/openid-connect/userinfo"},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
}
