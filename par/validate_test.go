package par

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/parjarm/parjarm/client"
)

func TestValidate(t *testing.T) {
	conf := &client.Client{ID: "conf", TokenEndpointAuthMethod: client.AuthSecretBasic, RedirectURIs: []string{testRedirectURI, "https://rp.example/other"}}
	pub := &client.Client{ID: "pub", TokenEndpointAuthMethod: client.AuthNone, RedirectURIs: []string{testRedirectURI}}
	pkce := &client.Client{ID: "pkce", TokenEndpointAuthMethod: client.AuthSecretBasic, RedirectURIs: []string{testRedirectURI}, RequirePKCE: true}
	limited := &client.Client{ID: "limited", TokenEndpointAuthMethod: client.AuthSecretBasic, RedirectURIs: []string{testRedirectURI}, ResponseTypes: []string{"id_token code"}}
	encrypted := &client.Client{ID: "enc", TokenEndpointAuthMethod: client.AuthSecretBasic, RedirectURIs: []string{testRedirectURI}, AuthorizationEncryptedResponseAlg: "RSA-OAEP-256"}

	base := func(c *client.Client, extra ...string) url.Values {
		v := url.Values{}
		pairs := authParams(c.ID, extra...)
		for i := 0; i+1 < len(pairs); i += 2 {
			v.Set(pairs[i], pairs[i+1])
		}
		return v
	}
	set := func(v url.Values, kv ...string) url.Values {
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "" {
				v.Del(kv[i])
			} else {
				v.Set(kv[i], kv[i+1])
			}
		}
		return v
	}
	tests := []struct {
		name   string
		opts   func(*Options)
		client *client.Client
		params url.Values
		code   string // "" means valid
	}{
		{name: "a complete code request is valid", client: conf, params: base(conf)},
		{name: "the second registered redirect_uri is valid", client: conf, params: set(base(conf), "redirect_uri", "https://rp.example/other")},
		{name: "a code request without PKCE from a confidential client is valid", client: conf, params: set(base(conf), "code_challenge", "", "code_challenge_method", "")},
		{name: "response type values in any order are valid", client: conf, params: set(base(conf), "response_type", "id_token code", "nonce", "n")},
		{name: "the client's response type in another order is valid", client: limited, params: set(base(limited), "response_type", "code id_token", "nonce", "n")},
		{name: "implicit without openid needs no nonce", client: conf, params: set(base(conf), "response_type", "token", "scope", "accounts")},
		{name: "query.jwt with an ID token is valid when encrypted", client: encrypted, params: set(base(encrypted), "response_type", "code id_token", "nonce", "n", "response_mode", "query.jwt")},
		{name: "every JWT mode is valid when JARM is on", client: conf, params: set(base(conf), "response_mode", "form_post.jwt")},
		{name: "a missing scope is valid", client: conf, params: set(base(conf), "scope", "")},
		{name: "response_type none is valid when the upstream lists it", opts: func(o *Options) { o.ResponseTypes = []string{"none", "code"} }, client: conf, params: set(base(conf), "response_type", "none")},
		{name: "PKCE is not asked of a public client's implicit request", client: pub, params: set(base(pub), "response_type", "id_token", "nonce", "n", "code_challenge", "", "code_challenge_method", "")},

		{name: "no client is refused", client: nil, params: base(conf), code: "invalid_request"},
		{name: "a parameter given twice is refused", client: conf, params: func() url.Values { v := base(conf); v.Add("state", "2"); return v }(), code: "invalid_request"},
		{name: "a request_uri inside is refused", client: conf, params: set(base(conf), "request_uri", RequestURIPrefix+"x"), code: "invalid_request"},
		{name: "a request inside is refused", client: conf, params: set(base(conf), "request", "eyJ"), code: "invalid_request"},
		{name: "another client's client_id is refused", client: conf, params: set(base(conf), "client_id", "pub"), code: "invalid_request"},
		{name: "a missing client_id is refused", client: conf, params: set(base(conf), "client_id", ""), code: "invalid_request"},
		{name: "a missing redirect_uri is refused", client: conf, params: set(base(conf), "redirect_uri", ""), code: "invalid_request"},
		{name: "a redirect_uri differing in case is refused", client: conf, params: set(base(conf), "redirect_uri", "https://RP.example/cb"), code: "invalid_request"},
		{name: "a redirect_uri with an extra query is refused", client: conf, params: set(base(conf), "redirect_uri", testRedirectURI+"?x=1"), code: "invalid_request"},
		{name: "a response_type given twice inside is refused", client: conf, params: set(base(conf), "response_type", "code code"), code: "invalid_request"},
		{name: "a response_type with two spaces is refused", client: conf, params: set(base(conf), "response_type", "code  id_token", "nonce", "n"), code: "invalid_request"},
		{name: "response_type none is refused when the upstream does not list it", client: conf, params: set(base(conf), "response_type", "none"), code: "unsupported_response_type"},
		{name: "a response type outside the client's is refused", client: limited, params: base(limited), code: "unauthorized_client"},
		{name: "query with a token is refused", client: conf, params: set(base(conf), "response_type", "code token", "nonce", "n", "response_mode", "query"), code: "invalid_request"},
		{name: "a JWT mode is refused when JARM is off", opts: func(o *Options) { o.JARM = false }, client: conf, params: set(base(conf), "response_mode", "fragment.jwt"), code: "invalid_request"},
		{name: "a scope with a backslash is refused", client: conf, params: set(base(conf), "scope", `openid a\b`), code: "invalid_scope"},
		{name: "a scope with a quote is refused", client: conf, params: set(base(conf), "scope", `openid "a"`), code: "invalid_scope"},
		{name: "a scope with a leading space is refused", client: conf, params: set(base(conf), "scope", " openid"), code: "invalid_scope"},
		{name: "a scope with a non-ASCII character is refused", client: conf, params: set(base(conf), "scope", "openid é"), code: "invalid_scope"},
		{name: "a public client's code request without PKCE is refused", client: pub, params: set(base(pub), "code_challenge", "", "code_challenge_method", ""), code: "invalid_request"},
		{name: "a client requiring PKCE is refused plain", client: pkce, params: set(base(pkce), "code_challenge_method", "plain"), code: "invalid_request"},
		{name: "a client requiring PKCE is refused a missing challenge", client: pkce, params: set(base(pkce), "code_challenge", "", "code_challenge_method", ""), code: "invalid_request"},
		{name: "a global PKCE requirement refuses plain", opts: func(o *Options) { o.RequirePKCE = true }, client: conf, params: set(base(conf), "code_challenge_method", "plain"), code: "invalid_request"},
		{name: "a code_challenge_method without challenge is refused", client: conf, params: set(base(conf), "code_challenge", ""), code: "invalid_request"},
		{name: "a hybrid OpenID request without nonce is refused", client: conf, params: set(base(conf), "response_type", "code token"), code: "invalid_request"},
		{name: "an implicit OpenID request without nonce is refused", client: conf, params: set(base(conf), "response_type", "id_token", "code_challenge", "", "code_challenge_method", ""), code: "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := testOptions()
			if tt.opts != nil {
				tt.opts(&opts)
			}
			s := New(opts, nil, nil, nil, nil, nil, nil)
			err := s.Validate(tt.params, tt.client)
			if tt.code == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			wantOAuthError(t, err, http.StatusBadRequest, tt.code)
		})
	}
}

func TestCheckPKCE(t *testing.T) {
	b43 := testChallenge
	tests := []struct {
		name      string
		challenge string
		method    string
		required  bool
		ok        bool
	}{
		{name: "no PKCE where not required", ok: true},
		{name: "no PKCE where required", required: true},
		{name: "S256 where required", challenge: b43, method: "S256", required: true, ok: true},
		{name: "S256 with 42 characters", challenge: b43[:42], method: "S256"},
		{name: "S256 with 44 characters", challenge: b43 + "A", method: "S256"},
		{name: "S256 with a '.'", challenge: b43[:42] + ".", method: "S256"},
		{name: "S256 with padding", challenge: b43[:42] + "=", method: "S256"},
		{name: "plain where not required", challenge: b43, method: "plain", ok: true},
		{name: "plain by default where not required", challenge: b43, ok: true},
		{name: "plain where required", challenge: b43, method: "plain", required: true},
		{name: "plain by default where required", challenge: b43, required: true},
		{name: "plain with 128 unreserved characters", challenge: string(make128("-._~")), method: "plain", ok: true},
		{name: "plain with 129 characters", challenge: string(make128("a")) + "a", method: "plain"},
		{name: "plain with 42 characters", challenge: b43[:42], method: "plain"},
		{name: "plain with a space", challenge: b43[:42] + " ", method: "plain"},
		{name: "a lower-case method", challenge: b43, method: "s256"},
		{name: "a method without challenge", method: "S256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkPKCE(tt.challenge, tt.method, tt.required)
			if tt.ok {
				if err != nil {
					t.Fatalf("checkPKCE = %v, want nil", err)
				}
				return
			}
			wantOAuthError(t, err, http.StatusBadRequest, "invalid_request")
		})
	}
}

// make128 repeats chars to 128 bytes.
func make128(chars string) []byte {
	b := make([]byte, 128)
	for i := range b {
		b[i] = chars[i%len(chars)]
	}
	return b
}

func TestNormalizeResponseType(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"code", "code", true},
		{"id_token code", "code id_token", true},
		{"token id_token code", "code id_token token", true},
		{"", "", false},
		{" code", "", false},
		{"code ", "", false},
		{"code code", "", false},
		{"code\tid_token", "code\tid_token", true}, // one unknown value; refused as unsupported
	}
	for _, tt := range tests {
		got, ok := normalizeResponseType(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("normalizeResponseType(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestDefaultResponseTypes(t *testing.T) {
	set := responseTypeSet(nil)
	for _, rt := range []string{"code", "token", "id_token", "code token", "code id_token", "id_token token", "code id_token token"} {
		if !set[rt] {
			t.Errorf("%q is not supported by default", rt)
		}
	}
	for _, rt := range []string{"none", "code device"} {
		if set[rt] {
			t.Errorf("%q is supported by default", rt)
		}
	}
}
