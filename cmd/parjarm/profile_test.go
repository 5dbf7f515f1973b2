package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

func TestRunRefusesClientsThatContradictTheirProfile(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		clients string
		wantErr []string
	}{
		{"a secret client under PARJARM_PROFILE", map[string]string{"PARJARM_PROFILE": "fapi2-security"}, clientsJSON,
			[]string{"PARJARM_CLIENTS_FILE", `client "app"`, "token_endpoint_auth_method", "FAPI 2.0 Security Profile 5.3.2.1", "(PARJARM_PROFILE=fapi2-security)"}},
		{"a client whose JARM alg contradicts its fapi_profile", nil,
			`{"clients":[{"client_id":"bank","token_endpoint_auth_method":"private_key_jwt","jwks_uri":"https://bank.example/jwks","redirect_uris":["https://bank.example/cb"],"fapi_profile":"fapi1-advanced","authorization_signed_response_alg":"RS256"}]}`,
			[]string{"PARJARM_CLIENTS_FILE", `client "bank"`, "authorization_signed_response_alg", "FAPI 1.0 Advanced 8.6"}},
		{"an unknown fapi_profile", nil,
			`{"clients":[{"client_id":"bank","token_endpoint_auth_method":"private_key_jwt","jwks_uri":"https://bank.example/jwks","redirect_uris":["https://bank.example/cb"],"fapi_profile":"fapi3"}]}`,
			[]string{"PARJARM_CLIENTS_FILE", `client "bank"`, "fapi_profile"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"PARJARM_UPSTREAM_URL": "http://127.0.0.1:1", "PARJARM_CLIENTS_FILE": writeFile(t, "clients.json", tt.clients)}
			for k, v := range tt.env {
				env[k] = v
			}
			var out syncBuffer
			err := run(context.Background(), []string{"check"}, env, &out)
			if err == nil {
				t.Fatal("run accepted the registry")
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
		})
	}
}

// TestRunWiresTheProfile runs the gateway under PARJARM_PROFILE: discovery
// reflects it and a plain authorization request is refused.
func TestRunWiresTheProfile(t *testing.T) {
	listen, admin := freeAddr(t), freeAddr(t)
	issuer := "http://" + listen
	up := upstream(t, issuer, jose.JSONWebKeySet{})
	env := map[string]string{
		"PARJARM_UPSTREAM_URL": up.URL, "PARJARM_ISSUER": issuer, "PARJARM_ALLOW_INSECURE_HTTP": "true",
		"PARJARM_LISTEN_ADDR": listen, "PARJARM_ADMIN_ADDR": admin, "PARJARM_PROFILE": "fapi2-message-signing",
	}
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, env, &out) }()
	t.Cleanup(func() { cancel(); <-done })
	waitReady(t, "http://"+admin+"/readyz", done)

	resp, err := http.Get(issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		RequirePAR    bool     `json:"require_pushed_authorization_requests"`
		PKCE          []string `json:"code_challenge_methods_supported"`
		JARMAlgs      []string `json:"authorization_signing_alg_values_supported"`
		Modes         []string `json:"response_modes_supported"`
		RequireSigned bool     `json:"require_signed_request_object"`
	}
	err = json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !doc.RequirePAR || strings.Join(doc.PKCE, ",") != "S256" || strings.Join(doc.JARMAlgs, ",") != "PS256,ES256,EdDSA" ||
		strings.Join(doc.Modes, ",") != "jwt,query.jwt,fragment.jwt,form_post.jwt" || !doc.RequireSigned {
		t.Fatalf("discovery %+v", doc)
	}
	resp, err = http.Get(issuer + "/auth?client_id=app&response_type=code")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("plain request: %d, want 400", resp.StatusCode)
	}
	if !strings.Contains(out.String(), `"profile":"fapi2-message-signing"`) {
		t.Errorf("the start-up log does not name the profile")
	}
}
