package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/parjarm/parjarm/client"
)

// hostBuildingUpstream is a legacy server that builds its discovery URLs from
// the Host it is sent (as node oidc-provider does): behind a gateway with
// PARJARM_UPSTREAM_PRESERVE_HOST=false it names its own, internal, address.
func hostBuildingUpstream(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		base := "http://" + r.Host
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": base, "authorization_endpoint": base + "/auth", "token_endpoint": base + "/token",
			"jwks_uri": base + "/jwks", "response_types_supported": []string{"code"},
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, `{"keys":[]}`) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// TestPrivateKeyJWTAudienceIsWhatDiscoveryAdvertises is the attack-free half
// of issue 13 defect 4: with PARJARM_UPSTREAM_PRESERVE_HOST=false the
// upstream's metadata names its internal token URL, discovery through the
// gateway advertises the public one, and a client that signs its assertion
// for the advertised token_endpoint (RFC 7523 section 3, RFC 9126 section 2)
// must be accepted; the internal URL, which no client is told, is refused.
func TestPrivateKeyJWTAudienceIsWhatDiscoveryAdvertises(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	priv := jose.JSONWebKey{Key: key, KeyID: "jwt-app-1", Algorithm: "ES256", Use: "sig"}
	pubJWKS, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{priv.Public()}})
	clients := `{"clients":[{"client_id":"jwt-app","token_endpoint_auth_method":"private_key_jwt","jwks":` + string(pubJWKS) +
		`,"redirect_uris":["https://app.example/cb"]}]}`

	up := hostBuildingUpstream(t)
	listen, admin := freeAddr(t), freeAddr(t)
	public := "http://" + listen
	env := map[string]string{
		"PARJARM_UPSTREAM_URL": up.URL, "PARJARM_ISSUER": public, "PARJARM_ALLOW_INSECURE_HTTP": "true",
		"PARJARM_UPSTREAM_PRESERVE_HOST": "false",
		"PARJARM_LISTEN_ADDR":            listen, "PARJARM_ADMIN_ADDR": admin,
		"PARJARM_CLIENTS_FILE": writeFile(t, "clients.json", clients),
	}
	startGateway(t, env)

	resp, err := http.Get(public + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var disc struct {
		Issuer        string `json:"issuer"`
		TokenEndpoint string `json:"token_endpoint"`
		PAREndpoint   string `json:"pushed_authorization_request_endpoint"`
	}
	err = json.NewDecoder(resp.Body).Decode(&disc)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if disc.TokenEndpoint != public+"/token" || disc.Issuer != public || disc.PAREndpoint != public+"/par" {
		t.Fatalf("discovery advertises issuer %q, token_endpoint %q, PAR %q", disc.Issuer, disc.TokenEndpoint, disc.PAREndpoint)
	}

	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: priv}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	push := func(t *testing.T, aud string) (int, string) {
		t.Helper()
		now := time.Now()
		assertion, err := jwt.Signed(signer).Claims(map[string]any{
			"iss": "jwt-app", "sub": "jwt-app", "aud": aud, "jti": rand.Text(),
			"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(),
		}).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		form := url.Values{
			"client_id": {"jwt-app"}, "client_assertion_type": {client.AssertionType}, "client_assertion": {assertion},
			"response_type": {"code"}, "redirect_uri": {"https://app.example/cb"}, "scope": {"openid"},
			"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"},
		}
		resp, err := http.Post(disc.PAREndpoint, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct {
			Error string `json:"error"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body.Error
	}

	for _, tc := range []struct {
		name   string
		aud    string
		status int
		code   string
	}{
		{"the advertised token_endpoint is accepted", disc.TokenEndpoint, http.StatusCreated, ""},
		{"the issuer is accepted", disc.Issuer, http.StatusCreated, ""},
		{"the PAR endpoint is accepted", disc.PAREndpoint, http.StatusCreated, ""},
		{"the upstream's internal token URL, which no client is told, is refused", up.URL + "/token", http.StatusUnauthorized, "invalid_client"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if status, code := push(t, tc.aud); status != tc.status || code != tc.code {
				t.Fatalf("aud %q: got %d %q, want %d %q", tc.aud, status, code, tc.status, tc.code)
			}
		})
	}
}
