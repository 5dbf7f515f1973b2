package profile

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parjarm/parjarm/oauth"
)

const challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"

// compliant returns a request every profile accepts (for FAPI 1.0
// Advanced: code id_token with a nonce).
func compliant(n Name) Request {
	r := Request{ResponseType: "code", RedirectURI: "https://rp.example/cb", CodeChallenge: challenge, CodeChallengeMethod: "S256", Scope: "openid"}
	switch n {
	case FAPI2MessageSigning:
		r.ResponseMode = "jwt"
	case FAPI1Advanced:
		r.ResponseType, r.Nonce = "code id_token", "n-0S6"
	}
	return r
}

// wantError asserts err is the OAuth error code (and status) with a
// description naming the profile and containing rule.
func wantError(t *testing.T, err error, n Name, code string, status int, rule string) {
	t.Helper()
	var oe *oauth.Error
	if !errors.As(err, &oe) {
		t.Fatalf("err = %v, want %s", err, code)
	}
	if oe.Code != code || oe.Status != status {
		t.Fatalf("error = %s/%d (%s), want %s/%d", oe.Code, oe.Status, oe.Description, code, status)
	}
	if !strings.HasPrefix(oe.Description, n.Title()+" ") || !strings.Contains(oe.Description, rule) {
		t.Fatalf("description = %q, want the profile %q and %q", oe.Description, n.Title(), rule)
	}
}

func TestCheckRequest(t *testing.T) {
	for _, n := range Names {
		if err := CheckRequest(n, compliant(n)); err != nil {
			t.Errorf("%s: the compliant request is refused: %v", n, err)
		}
	}
	if err := CheckRequest(None, Request{ResponseType: "token"}); err != nil {
		t.Errorf("no profile refuses: %v", err)
	}
	tests := []struct {
		name    string
		profile Name
		change  func(*Request)
		code    string
		rule    string
	}{
		{"FAPI 2.0 refuses response_type code id_token", FAPI2Security, func(r *Request) { r.ResponseType = "code id_token" }, "unsupported_response_type", "5.3.2.2: response_type must be code"},
		{"FAPI 2.0 refuses response_type token", FAPI2MessageSigning, func(r *Request) { r.ResponseType = "token" }, "unsupported_response_type", "5.3.2.2: response_type must be code"},
		{"FAPI 1.0 refuses response_type code without JARM", FAPI1Advanced, func(r *Request) { r.ResponseType = "code"; r.Nonce = "" }, "invalid_request", "5.2.2-2: response_type code requires a JWT response_mode"},
		{"FAPI 1.0 refuses response_type token", FAPI1Advanced, func(r *Request) { r.ResponseType = "code id_token token" }, "unsupported_response_type", "5.2.2-2"},
		{"FAPI 2.0 refuses response_mode fragment", FAPI2Security, func(r *Request) { r.ResponseMode = "fragment" }, "invalid_request", `5.3.2.2: response_mode "fragment" is not allowed`},
		{"FAPI 2.0 refuses response_mode form_post", FAPI2Security, func(r *Request) { r.ResponseMode = "form_post" }, "invalid_request", "5.3.2.2"},
		{"FAPI 2.0 Message Signing requires JARM", FAPI2MessageSigning, func(r *Request) { r.ResponseMode = "" }, "invalid_request", "5.4.2: a JWT response_mode (JARM) is required"},
		{"FAPI 2.0 Message Signing refuses query", FAPI2MessageSigning, func(r *Request) { r.ResponseMode = "query" }, "invalid_request", "5.4.2"},
		{"FAPI 1.0 refuses response_mode query", FAPI1Advanced, func(r *Request) { r.ResponseMode = "query" }, "invalid_request", "response_mode"},
		{"FAPI 2.0 requires redirect_uri", FAPI2Security, func(r *Request) { r.RedirectURI = "" }, "invalid_request", "5.3.2.2: redirect_uri is required"},
		{"FAPI 2.0 requires an https redirect_uri", FAPI2Security, func(r *Request) { r.RedirectURI = "http://rp.example/cb" }, "invalid_request", "5.3.2.2: redirect_uri must use https"},
		{"FAPI 1.0 requires an https redirect_uri", FAPI1Advanced, func(r *Request) { r.RedirectURI = "com.example.app:/cb" }, "invalid_request", "redirect_uri must use https"},
		{"FAPI 2.0 requires PKCE", FAPI2Security, func(r *Request) { r.CodeChallenge, r.CodeChallengeMethod = "", "" }, "invalid_request", "5.3.2.2: PKCE with code_challenge_method S256 is required"},
		{"FAPI 2.0 refuses PKCE plain", FAPI2MessageSigning, func(r *Request) { r.CodeChallengeMethod = "plain" }, "invalid_request", "5.3.2.2: PKCE"},
		{"FAPI 1.0 requires PKCE with PAR", FAPI1Advanced, func(r *Request) { r.CodeChallengeMethod = "" }, "invalid_request", "5.2.2-18: PKCE"},
		{"FAPI 1.0 requires nonce for code id_token with openid", FAPI1Advanced, func(r *Request) { r.Nonce = "" }, "invalid_request", "5.2.2.2: nonce is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := compliant(tt.profile)
			tt.change(&r)
			wantError(t, CheckRequest(tt.profile, r), tt.profile, tt.code, http.StatusBadRequest, tt.rule)
		})
	}
}

func TestCheckRequestAccepts(t *testing.T) {
	tests := []struct {
		name    string
		profile Name
		change  func(*Request)
	}{
		{"FAPI 2.0 accepts JARM", FAPI2Security, func(r *Request) { r.ResponseMode = "query.jwt" }},
		{"FAPI 2.0 accepts response_mode query", FAPI2Security, func(r *Request) { r.ResponseMode = "query" }},
		{"FAPI 1.0 accepts code with JARM", FAPI1Advanced, func(r *Request) { r.ResponseType, r.ResponseMode, r.Nonce = "code", "jwt", "" }},
		{"FAPI 1.0 accepts id_token code in any order", FAPI1Advanced, func(r *Request) { r.ResponseType = "id_token code" }},
		{"FAPI 1.0 does not require nonce without openid", FAPI1Advanced, func(r *Request) { r.Scope, r.Nonce = "accounts", "" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := compliant(tt.profile)
			tt.change(&r)
			if err := CheckRequest(tt.profile, r); err != nil {
				t.Fatalf("refused: %v", err)
			}
		})
	}
}

func TestCheckPush(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	good := Push{Signed: true, Alg: "PS256", NBF: now.Add(-time.Minute), Exp: now.Add(5 * time.Minute), Now: now}
	for _, n := range Names {
		if err := CheckPush(n, good); err != nil {
			t.Errorf("%s: the compliant push is refused: %v", n, err)
		}
	}
	if err := CheckPush(FAPI2Security, Push{Now: now}); err != nil {
		t.Errorf("FAPI 2.0 Security Profile requires no request object: %v", err)
	}
	if err := CheckPush(None, Push{Signed: true, Alg: "RS256", Now: now}); err != nil {
		t.Errorf("no profile refuses: %v", err)
	}
	tests := []struct {
		name    string
		profile Name
		change  func(*Push)
		code    string
		rule    string
	}{
		{"FAPI 2.0 Message Signing requires a request object", FAPI2MessageSigning, func(p *Push) { *p = Push{Now: now} }, "invalid_request", "5.3.2: a signed request object is required"},
		{"FAPI 1.0 requires a request object", FAPI1Advanced, func(p *Push) { *p = Push{Now: now} }, "invalid_request", "5.2.2-1: a signed request object is required"},
		{"FAPI 2.0 refuses RS256 request objects", FAPI2MessageSigning, func(p *Push) { p.Alg = "RS256" }, "invalid_request_object", "5.4.1: request object alg RS256 is not allowed"},
		{"FAPI 2.0 refuses HS256 request objects", FAPI2Security, func(p *Push) { p.Alg = "HS256" }, "invalid_request_object", "5.4.1"},
		{"FAPI 1.0 refuses EdDSA request objects", FAPI1Advanced, func(p *Push) { p.Alg = "EdDSA" }, "invalid_request_object", "8.6: request object alg EdDSA"},
		{"FAPI 2.0 Message Signing requires nbf", FAPI2MessageSigning, func(p *Push) { p.NBF = time.Time{} }, "invalid_request_object", "5.3.2: request object nbf is required"},
		{"FAPI 1.0 refuses nbf over 60 minutes old", FAPI1Advanced, func(p *Push) { p.NBF = now.Add(-61 * time.Minute); p.Exp = now.Add(-2 * time.Minute) }, "invalid_request_object", "5.2.2-17: request object nbf is more than 60 minutes in the past"},
		{"FAPI 2.0 Message Signing refuses exp over 60 minutes after nbf", FAPI2MessageSigning, func(p *Push) { p.Exp = p.NBF.Add(61 * time.Minute) }, "invalid_request_object", "5.3.2: request object exp is more than 60 minutes after nbf"},
		{"FAPI 1.0 refuses exp over 60 minutes after nbf", FAPI1Advanced, func(p *Push) { p.Exp = p.NBF.Add(61 * time.Minute) }, "invalid_request_object", "5.2.2-13"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := good
			tt.change(&p)
			wantError(t, CheckPush(tt.profile, p), tt.profile, tt.code, http.StatusBadRequest, tt.rule)
		})
	}
}

func TestCheckAuthentication(t *testing.T) {
	const iss = "https://as.example"
	for _, n := range Names {
		for _, m := range []string{"private_key_jwt", "tls_client_auth", "self_signed_tls_client_auth"} {
			if err := CheckAuthMethod(n, m); err != nil {
				t.Errorf("%s refuses %s: %v", n, m, err)
			}
		}
		if err := CheckAssertion(n, "PS256", []string{iss}, iss); err != nil {
			t.Errorf("%s refuses a compliant assertion: %v", n, err)
		}
	}
	if err := CheckAssertion(FAPI1Advanced, "ES256", []string{iss, "https://as.example/token"}, iss); err != nil {
		t.Errorf("FAPI 1.0 does not restrict aud: %v", err)
	}
	if err := CheckAuthMethod(None, "client_secret_basic"); err != nil {
		t.Errorf("no profile refuses: %v", err)
	}
	tests := []struct {
		name    string
		profile Name
		err     error
		rule    string
	}{
		{"FAPI 2.0 refuses client_secret_basic", FAPI2Security, CheckAuthMethod(FAPI2Security, "client_secret_basic"), "5.3.2.1: client authentication must be private_key_jwt or mTLS"},
		{"FAPI 1.0 refuses none", FAPI1Advanced, CheckAuthMethod(FAPI1Advanced, "none"), "5.2.2-14"},
		{"FAPI 2.0 refuses an RS256 assertion", FAPI2Security, CheckAssertion(FAPI2Security, "RS256", []string{iss}, iss), "5.4.1: client_assertion alg RS256 is not allowed"},
		{"FAPI 1.0 refuses an EdDSA assertion", FAPI1Advanced, CheckAssertion(FAPI1Advanced, "EdDSA", []string{iss}, iss), "8.6"},
		{"FAPI 2.0 refuses aud the PAR endpoint", FAPI2Security, CheckAssertion(FAPI2Security, "ES256", []string{iss + "/par"}, iss), "5.3.2.1: client_assertion aud must be the issuer as its sole value"},
		{"FAPI 2.0 refuses aud with a second value", FAPI2MessageSigning, CheckAssertion(FAPI2MessageSigning, "ES256", []string{iss, iss + "/par"}, iss), "5.3.2.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, tt.err, tt.profile, "invalid_client", http.StatusUnauthorized, tt.rule)
		})
	}
}

func TestParse(t *testing.T) {
	for _, s := range []string{"", "fapi2-security", "fapi2-message-signing", "fapi1-advanced"} {
		if n, err := Parse(s); err != nil || string(n) != s {
			t.Errorf("Parse(%q) = %q, %v", s, n, err)
		}
	}
	for _, s := range []string{"fapi2", "FAPI2-security", " fapi1-advanced"} {
		if _, err := Parse(s); err == nil {
			t.Errorf("Parse(%q) accepted", s)
		}
	}
}

func TestLifetime(t *testing.T) {
	if got := FAPI2Security.Lifetime(600 * time.Second); got != 599*time.Second {
		t.Errorf("FAPI 2.0 lifetime of 600 s = %v, want 599s", got)
	}
	if got := FAPI1Advanced.Lifetime(60 * time.Second); got != 60*time.Second {
		t.Errorf("lifetime of 60 s = %v", got)
	}
	if got := None.Lifetime(600 * time.Second); got != 600*time.Second {
		t.Errorf("no profile: %v", got)
	}
}

func TestPARRule(t *testing.T) {
	for n, want := range map[Name]string{
		None:                "",
		FAPI2Security:       "FAPI 2.0 Security Profile 5.3.2.2",
		FAPI2MessageSigning: "FAPI 2.0 Message Signing 5.3.2.2",
		FAPI1Advanced:       "FAPI 1.0 Advanced 5.2.2-1 (the gateway verifies request objects at its PAR endpoint only)",
	} {
		if got := n.PARRule(); got != want {
			t.Errorf("%q.PARRule() = %q, want %q", n, got, want)
		}
		if n.RequiresPAR() != (want != "") {
			t.Errorf("%q.RequiresPAR() = %v", n, n.RequiresPAR())
		}
	}
}
