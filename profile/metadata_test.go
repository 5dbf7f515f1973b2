package profile

import (
	"reflect"
	"strings"
	"testing"
)

func TestCheckClient(t *testing.T) {
	good := Client{AuthMethod: "private_key_jwt", RedirectURIs: []string{"https://rp.example/cb"}, AuthorizationSignedResponseAlg: "PS256"}
	for _, n := range Names {
		if ps := CheckClient(n, good); len(ps) != 0 {
			t.Errorf("%s: compliant client has problems %v", n, ps)
		}
	}
	if ps := CheckClient(None, Client{AuthMethod: "client_secret_basic"}); len(ps) != 0 {
		t.Errorf("no profile: %v", ps)
	}
	tests := []struct {
		name    string
		profile Name
		change  func(*Client)
		field   string
		rule    string
	}{
		{"a secret client", FAPI2Security, func(c *Client) { c.AuthMethod = "client_secret_post" }, "token_endpoint_auth_method", "5.3.2.1"},
		{"an RS256 JARM client", FAPI2MessageSigning, func(c *Client) { c.AuthorizationSignedResponseAlg = "RS256" }, "authorization_signed_response_alg", "5.4.1"},
		{"an HS256 JARM client", FAPI2Security, func(c *Client) { c.AuthorizationSignedResponseAlg = "HS256" }, "authorization_signed_response_alg", "5.4.1"},
		{"an EdDSA FAPI 1.0 client", FAPI1Advanced, func(c *Client) { c.RequestObjectSigningAlg = "EdDSA" }, "request_object_signing_alg", "8.6"},
		{"an RS256 assertion client", FAPI1Advanced, func(c *Client) { c.TokenEndpointAuthSigningAlg = "RS256" }, "token_endpoint_auth_signing_alg", "8.6"},
		{"an http redirect URI", FAPI2Security, func(c *Client) { c.RedirectURIs = []string{"http://127.0.0.1/cb"} }, "redirect_uris", "must use https"},
		{"a 600 s par_lifetime", FAPI2Security, func(c *Client) { c.PARLifetime = 600 }, "par_lifetime", "less than 600 seconds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.change(&c)
			ps := CheckClient(tt.profile, c)
			if len(ps) != 1 || ps[0].Field != tt.field || !strings.Contains(ps[0].Message, tt.rule) || !strings.HasPrefix(ps[0].Message, tt.profile.Title()) {
				t.Fatalf("problems = %v, want one on %s naming %q", ps, tt.field, tt.rule)
			}
		})
	}
}

func TestSigningAlg(t *testing.T) {
	can := func(a string) bool { return a == "ES256" || a == "RS256" }
	tests := []struct {
		name            string
		profile         Name
		registered, def string
		want            string
		ok              bool
	}{
		{"the registered alg", FAPI2Security, "ES256", "RS256", "ES256", true},
		{"a registered alg the profile refuses", FAPI2Security, "RS256", "PS256", "RS256", false},
		{"the default when allowed", FAPI1Advanced, "", "PS256", "PS256", true},
		{"a profile alg the keys sign instead of an RS256 default", FAPI2Security, "", "RS256", "ES256", true},
		{"no profile keeps the default", None, "", "RS256", "RS256", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := SigningAlg(tt.profile, tt.registered, tt.def, can)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("SigningAlg = %q, %v; want %q, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
	if _, ok := SigningAlg(FAPI1Advanced, "", "RS256", func(string) bool { return false }); ok {
		t.Fatal("no signable profile alg accepted")
	}
}

func TestAdvertise(t *testing.T) {
	doc := map[string]any{
		"token_endpoint_auth_methods_supported":            []any{"client_secret_basic", "private_key_jwt"},
		"token_endpoint_auth_signing_alg_values_supported": []any{"RS256", "PS256", "ES256"},
		"authorization_signing_alg_values_supported":       []string{"RS256", "PS256", "ES256", "EdDSA", "HS256"},
		"response_types_supported":                         []any{"code", "code id_token", "token"},
		"response_modes_supported":                         []string{"query", "fragment", "jwt", "query.jwt"},
		"code_challenge_methods_supported":                 []any{"plain", "S256"},
	}
	Advertise(FAPI2MessageSigning, doc)
	want := map[string]any{
		"require_pushed_authorization_requests":            true,
		"authorization_response_iss_parameter_supported":   true,
		"require_signed_request_object":                    true,
		"code_challenge_methods_supported":                 []string{"S256"},
		"token_endpoint_auth_methods_supported":            []string{"private_key_jwt"},
		"token_endpoint_auth_signing_alg_values_supported": []string{"PS256", "ES256"},
		"request_object_signing_alg_values_supported":      []string{"PS256", "ES256", "EdDSA"},
		"authorization_signing_alg_values_supported":       []string{"PS256", "ES256", "EdDSA"},
		"response_types_supported":                         []string{"code"},
		"response_modes_supported":                         []string{"jwt", "query.jwt"},
	}
	if !reflect.DeepEqual(doc, want) {
		t.Fatalf("Advertise:\n got %v\nwant %v", doc, want)
	}
	plain := map[string]any{"response_types_supported": []any{"token"}}
	Advertise(None, plain)
	if len(plain) != 1 {
		t.Fatalf("no profile changed the document: %v", plain)
	}
}
