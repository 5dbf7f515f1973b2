package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestRunInterceptsTheTokenEndpointOfAnUpstreamWithoutPKCE: the upstream
// names its token endpoint on its internal address and advertises no
// code_challenge_methods_supported. In auto mode the gateway intercepts the
// token endpoint where clients reach it (a malformed redemption is refused
// by the gateway, in JSON) and advertises S256; with off it does neither.
func TestRunInterceptsTheTokenEndpointOfAnUpstreamWithoutPKCE(t *testing.T) {
	for _, tc := range []struct {
		policy    string
		intercept bool
	}{{"auto", true}, {"enforce", true}, {"off", false}} {
		t.Run(tc.policy, func(t *testing.T) {
			up := hostBuildingUpstream(t)
			listen := freeAddr(t)
			public := "http://" + listen
			startGateway(t, map[string]string{
				"PARJARM_UPSTREAM_URL": up.URL, "PARJARM_ISSUER": public, "PARJARM_ALLOW_INSECURE_HTTP": "true",
				"PARJARM_UPSTREAM_PRESERVE_HOST": "false", "PARJARM_TOKEN_ENDPOINT_PKCE": tc.policy,
				"PARJARM_LISTEN_ADDR": listen, "PARJARM_ADMIN_ADDR": freeAddr(t),
			})
			status, doc := getJSON(t, public+"/.well-known/openid-configuration")
			if status != http.StatusOK {
				t.Fatalf("discovery: %d", status)
			}
			_, advertised := doc["code_challenge_methods_supported"]
			if got := fmt.Sprint(doc["code_challenge_methods_supported"]); advertised != tc.intercept || (advertised && got != "[S256]") {
				t.Fatalf("code_challenge_methods_supported = %s", got)
			}
			resp, err := http.Post(public+"/token", "application/x-www-form-urlencoded", strings.NewReader("grant_type=authorization_code&code=a&code=b"))
			if err != nil {
				t.Fatal(err)
			}
			var body struct {
				Error string `json:"error"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if tc.intercept && (resp.StatusCode != http.StatusBadRequest || body.Error != "invalid_request") {
				t.Fatalf("the gateway did not check the token request: %d %q", resp.StatusCode, body.Error)
			}
			if !tc.intercept && resp.StatusCode != http.StatusNotFound {
				t.Fatalf("with off the request must reach the upstream (which has no /token): %d", resp.StatusCode)
			}
		})
	}
}

func TestTokenEndpointPath(t *testing.T) {
	up, _ := url.Parse("http://idp.internal:8080")
	for _, tc := range []struct {
		name, public, token, want string
	}{
		{"the upstream's own address maps to the public one", "https://login.example", "http://idp.internal:8080/oauth/token", "/oauth/token"},
		{"a public URL is taken as it is", "https://login.example", "https://login.example/token", "/token"},
		{"an empty token_endpoint is refused", "https://login.example", "", ""},
		{"a token endpoint on another host is refused", "https://login.example", "https://tokens.example/token", ""},
		{"a token endpoint on another scheme is refused", "https://login.example", "http://login.example/token", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tokenEndpointPath(up, tc.public, tc.token)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("path %q, want an error", got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
