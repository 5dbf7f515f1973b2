package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/parjarm/parjarm/profile"
)

// codeUpstream is a legacy server without PAR and JARM: its authorization
// endpoint redirects at once with a code, its token endpoint records the
// headers it receives.
type codeUpstream struct {
	srv   *httptest.Server
	mu    sync.Mutex
	auth  url.Values  // the last authorization request
	token http.Header // the last token request's headers
}

func newCodeUpstream(t *testing.T, issuer string) *codeUpstream {
	t.Helper()
	u := &codeUpstream{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": issuer, "authorization_endpoint": issuer + "/auth", "token_endpoint": issuer + "/token",
			"jwks_uri": issuer + "/jwks", "response_types_supported": []string{"code"},
			"code_challenge_methods_supported":           []string{"S256"},
			"token_endpoint_auth_methods_supported":      []string{"tls_client_auth"},
			"tls_client_certificate_bound_access_tokens": true,
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, `{"keys":[]}`) })
	mux.HandleFunc("GET /auth", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		u.mu.Lock()
		u.auth = q
		u.mu.Unlock()
		http.Redirect(w, r, q.Get("redirect_uri")+"?"+url.Values{"code": {"code-fapi"}, "state": {q.Get("state")}}.Encode(), http.StatusSeeOther)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.token = r.Header.Clone()
		u.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"access_token":"at-fapi","token_type":"Bearer","expires_in":60}`)
	})
	u.srv = httptest.NewServer(mux)
	t.Cleanup(u.srv.Close)
	return u
}

func (u *codeUpstream) last() (url.Values, http.Header) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.auth, u.token
}

// TestFAPI2FlowWithMutualTLS runs the gateway as a FAPI 2.0 deployment
// (PARJARM_PROFILE=fapi2-security) with its own TLS listener: a
// tls_client_auth client (RFC 8705 section 2.1.2, the SAN dNSName) pushes
// with PKCE S256 over mutual TLS, the authorization response comes back as
// JARM signed with an algorithm the profile allows (FAPI 2.0 Security
// Profile 5.4: PS256, ES256 or EdDSA) and carrying iss, and the token
// request reaches the upstream with the certificate. Without the
// certificate, or without PKCE, the push is refused.
func TestFAPI2FlowWithMutualTLS(t *testing.T) {
	p := newPKI(t)
	listen := freeAddr(t)
	issuer := "https://" + listen
	up := newCodeUpstream(t, issuer)
	sigKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keysFile, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: sigKey, KeyID: "gw-es256", Algorithm: "ES256", Use: "sig"}}})
	const redirect = "https://app.example/cb"
	clients := `{"clients":[{"client_id":"fapi-mtls","token_endpoint_auth_method":"tls_client_auth",` +
		`"tls_client_auth_san_dns":"client.dns.example","redirect_uris":["` + redirect + `"]}]}`
	startGateway(t, map[string]string{
		"PARJARM_UPSTREAM_URL": up.srv.URL, "PARJARM_ISSUER": issuer, "PARJARM_LISTEN_ADDR": listen,
		"PARJARM_PROFILE":                     "fapi2-security",
		"PARJARM_CLIENTS_FILE":                writeFile(t, "clients.json", clients),
		"PARJARM_SIGNING_KEYS_FILE":           writeFile(t, "keys.json", string(keysFile)),
		"PARJARM_DEFAULT_SIGNING_ALG":         "ES256",
		"PARJARM_TLS_CERT_FILE":               writeFile(t, "tls.crt", string(p.server.CertPEM)),
		"PARJARM_TLS_KEY_FILE":                writeFile(t, "tls.key", string(p.server.KeyPEM)),
		"PARJARM_TLS_CLIENT_CA_FILE":          writeFile(t, "ca.pem", string(p.clientCA.CertPEM)),
		"PARJARM_UPSTREAM_CLIENT_CERT_HEADER": "X-Client-Cert",
	})
	withCert, noCert := p.mtlsClient(p.dns), p.mtlsClient(nil)

	getTLS := func(u string, v any) {
		t.Helper()
		resp, err := noCert.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", u, resp.StatusCode)
		}
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
	}
	var disc struct {
		JWKSURI string            `json:"jwks_uri"`
		Auth    string            `json:"authorization_endpoint"`
		Token   string            `json:"token_endpoint"`
		Aliases map[string]string `json:"mtls_endpoint_aliases"`
	}
	getTLS(issuer+"/.well-known/openid-configuration", &disc)
	parURL := disc.Aliases["pushed_authorization_request_endpoint"]
	if parURL != issuer+"/par" || disc.Auth != issuer+"/auth" || disc.Token != issuer+"/token" {
		t.Fatalf("discovery: PAR alias %q, authorization %q, token %q", parURL, disc.Auth, disc.Token)
	}

	const verifier = "dBjftJeZ4CK-pkce-verifier-of-43-characters-at-least"
	sum := sha256.Sum256([]byte(verifier))
	form := func() url.Values {
		return url.Values{
			"client_id": {"fapi-mtls"}, "response_type": {"code"}, "redirect_uri": {redirect}, "scope": {"openid"},
			"state": {"st-fapi"}, "response_mode": {"jwt"},
			"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
		}
	}

	t.Run("tls_client_auth, PKCE, PAR and JARM pass end to end", func(t *testing.T) {
		status, code, requestURI := pushForm(t, withCert, parURL, form(), nil)
		if status != http.StatusCreated {
			t.Fatalf("push over mTLS = %d %q, want 201", status, code)
		}
		browser := &http.Client{Transport: noCert.Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := browser.Get(disc.Auth + "?" + url.Values{"client_id": {"fapi-mtls"}, "request_uri": {requestURI}}.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, err := resp.Location()
		if err != nil || !strings.HasPrefix(loc.String(), redirect+"?") {
			t.Fatalf("authorize: %d Location %v (%v)", resp.StatusCode, loc, err)
		}
		sent, _ := up.last()
		if sent.Get("code_challenge_method") != "S256" || sent.Has("response_mode") || sent.Has("request_uri") {
			t.Fatalf("upstream received %v", sent)
		}
		if keys := slices.Sorted(maps.Keys(loc.Query())); !slices.Equal(keys, []string{"response"}) {
			t.Fatalf("redirect parameters %v, want only response (JARM 2.3.1)", keys)
		}

		raw := loc.Query().Get("response")
		tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.PS256, jose.ES256, jose.EdDSA})
		if err != nil {
			t.Fatal(err)
		}
		if alg := tok.Headers[0].Algorithm; !slices.Contains(profile.FAPI2Security.Algorithms(), alg) {
			t.Fatalf("JARM alg %s, not one FAPI 2.0 allows", alg)
		}
		var published jose.JSONWebKeySet
		getTLS(disc.JWKSURI, &published)
		keys := published.Key(tok.Headers[0].KeyID)
		if len(keys) != 1 {
			t.Fatalf("kid %q: %d published keys", tok.Headers[0].KeyID, len(keys))
		}
		var claims struct {
			jwt.Claims
			Code  string `json:"code"`
			State string `json:"state"`
		}
		if err := tok.Claims(keys[0].Key, &claims); err != nil {
			t.Fatalf("JARM signature: %v", err)
		}
		if claims.Issuer != issuer || !slices.Equal([]string(claims.Audience), []string{"fapi-mtls"}) || claims.Code != "code-fapi" || claims.State != "st-fapi" || claims.Expiry == nil {
			t.Fatalf("JARM claims %+v", claims)
		}

		tokenForm := url.Values{"grant_type": {"authorization_code"}, "code": {claims.Code}, "redirect_uri": {redirect},
			"client_id": {"fapi-mtls"}, "code_verifier": {verifier}}
		req, _ := http.NewRequest(http.MethodPost, disc.Token, strings.NewReader(tokenForm.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		tr, err := withCert.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		tr.Body.Close()
		if tr.StatusCode != http.StatusOK {
			t.Fatalf("token request: %d", tr.StatusCode)
		}
		_, got := up.last()
		want := ":" + base64.StdEncoding.EncodeToString(p.dns.Cert.Raw) + ":"
		if got == nil || got.Get("X-Client-Cert") != want {
			t.Fatalf("upstream X-Client-Cert = %q, want the client's certificate (RFC 9440)", got.Get("X-Client-Cert"))
		}
	})

	t.Run("the same client without a certificate is refused", func(t *testing.T) {
		if status, code, _ := pushForm(t, noCert, parURL, form(), nil); status != http.StatusUnauthorized || code != "invalid_client" {
			t.Fatalf("push without a certificate = %d %q, want 401 invalid_client", status, code)
		}
	})

	t.Run("the same client with another client's certificate is refused", func(t *testing.T) {
		if status, code, _ := pushForm(t, p.mtlsClient(p.wrongDNS), parURL, form(), nil); status != http.StatusUnauthorized || code != "invalid_client" {
			t.Fatalf("push with a certificate for another dNSName = %d %q, want 401 invalid_client", status, code)
		}
	})

	t.Run("without PKCE the profile refuses the push", func(t *testing.T) {
		f := form()
		f.Del("code_challenge")
		f.Del("code_challenge_method")
		if status, code, _ := pushForm(t, withCert, parURL, f, nil); status != http.StatusBadRequest || code != "invalid_request" {
			t.Fatalf("push without PKCE = %d %q, want 400 invalid_request (FAPI 2.0 Security Profile 5.3.2.2)", status, code)
		}
	})
}
