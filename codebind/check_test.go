package codebind

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/parjarm/parjarm/oauth"
)

// rfc7636Verifier and rfc7636Challenge are the example of RFC 7636,
// Appendix B.
const (
	rfc7636Verifier  = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	rfc7636Challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
)

func TestVerifyPKCE(t *testing.T) {
	for _, tc := range []struct {
		name                        string
		method, challenge, verifier string
		want                        bool
	}{
		{"the RFC 7636 example matches with S256", "S256", rfc7636Challenge, rfc7636Verifier, true},
		{"another verifier does not match", "S256", rfc7636Challenge, strings.Repeat("a", 43), false},
		{"the challenge itself is not its verifier", "S256", rfc7636Challenge, rfc7636Challenge, false},
		{"plain compares the verifier", "plain", rfc7636Verifier, rfc7636Verifier, true},
		{"an absent method is plain (section 4.3)", "", rfc7636Verifier, rfc7636Verifier, true},
		{"plain with another verifier fails", "plain", rfc7636Verifier, strings.Repeat("b", 43), false},
		{"an unknown method never matches", "S512", rfc7636Challenge, rfc7636Verifier, false},
		{"a method in another case is not S256", "s256", rfc7636Challenge, rfc7636Verifier, false},
		{"a 42-character verifier is refused even with plain", "plain", strings.Repeat("a", 42), strings.Repeat("a", 42), false},
		{"a 129-character verifier is refused", "plain", strings.Repeat("a", 129), strings.Repeat("a", 129), false},
		{"a verifier with a forbidden character is refused", "plain", strings.Repeat("a", 42) + "+", strings.Repeat("a", 42) + "+", false},
		{"an empty verifier is refused", "S256", rfc7636Challenge, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := VerifyPKCE(tc.method, tc.challenge, tc.verifier); got != tc.want {
				t.Fatalf("VerifyPKCE = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestValidVerifier(t *testing.T) {
	for _, tc := range []struct {
		v    string
		want bool
	}{
		{strings.Repeat("A", 43), true},
		{strings.Repeat("z", 128), true},
		{"0123456789-._~" + strings.Repeat("x", 29), true},
		{strings.Repeat("a", 42), false},
		{strings.Repeat("a", 129), false},
		{strings.Repeat("a", 42) + " ", false},
		{strings.Repeat("a", 42) + "é", false},
		{strings.Repeat("a", 42) + "/", false},
	} {
		if got := ValidVerifier(tc.v); got != tc.want {
			t.Errorf("ValidVerifier(%q) = %v, want %v", tc.v, got, tc.want)
		}
	}
}

func TestCheck(t *testing.T) {
	s256 := Record{ClientID: "app", RedirectURI: "https://app/cb", CodeChallenge: rfc7636Challenge, CodeChallengeMethod: "S256"}
	noPKCE := Record{ClientID: "app", RedirectURI: "https://app/cb"}
	good := TokenRequest{ClientID: "app", RedirectURI: "https://app/cb", HasRedirectURI: true, CodeVerifier: rfc7636Verifier, HasCodeVerifier: true}
	with := func(f func(*TokenRequest)) TokenRequest { tr := good; f(&tr); return tr }
	for _, tc := range []struct {
		name string
		rec  Record
		tr   TokenRequest
		ok   bool
	}{
		{"the right client, redirect_uri and verifier pass", s256, good, true},
		{"a wrong verifier is refused", s256, with(func(tr *TokenRequest) { tr.CodeVerifier = strings.Repeat("a", 43) }), false},
		{"a missing verifier is refused", s256, with(func(tr *TokenRequest) { tr.CodeVerifier, tr.HasCodeVerifier = "", false }), false},
		{"an empty verifier is refused", s256, with(func(tr *TokenRequest) { tr.CodeVerifier = "" }), false},
		{"another client is refused", s256, with(func(tr *TokenRequest) { tr.ClientID = "other" }), false},
		{"a request that names no client is refused", s256, with(func(tr *TokenRequest) { tr.ClientID = "" }), false},
		{"another redirect_uri is refused", s256, with(func(tr *TokenRequest) { tr.RedirectURI = "https://app/cb2" }), false},
		{"a redirect_uri in another case is refused", s256, with(func(tr *TokenRequest) { tr.RedirectURI = "https://APP/cb" }), false},
		{"a missing redirect_uri is refused", s256, with(func(tr *TokenRequest) { tr.RedirectURI, tr.HasRedirectURI = "", false }), false},
		{"a code without PKCE passes without a verifier", noPKCE, with(func(tr *TokenRequest) { tr.CodeVerifier, tr.HasCodeVerifier = "", false }), true},
		{"a verifier for a code without PKCE is refused (RFC 9700, 2.1.1)", noPKCE, good, false},
		{"a record without redirect_uri needs none", Record{ClientID: "app"}, TokenRequest{ClientID: "app"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(&tc.rec, &tc.tr)
			if tc.ok {
				if err != nil {
					t.Fatalf("Check = %v, want nil", err)
				}
				return
			}
			wantInvalidGrant(t, err)
		})
	}
}

func wantInvalidGrant(t *testing.T, err error) {
	t.Helper()
	var oe *oauth.Error
	if !errors.As(err, &oe) || oe.Code != "invalid_grant" || oe.Status != http.StatusBadRequest {
		t.Fatalf("err = %v, want 400 invalid_grant", err)
	}
}
