package codebind

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"

	"github.com/parjarm/parjarm/oauth"
)

// Check verifies a token request against the record of its code: the same
// client and redirect_uri (RFC 6749, section 4.1.3) and the PKCE verifier
// (RFC 7636, section 4.6). Every failure is invalid_grant (400).
func Check(rec *Record, tr *TokenRequest) error {
	if tr.ClientID == "" || tr.ClientID != rec.ClientID {
		return oauth.ErrInvalidGrant.WithDescription("the authorization code was issued to another client")
	}
	// RFC 6749, section 4.1.3: redirect_uri is required when the
	// authorization request carried one, and must be identical.
	if rec.RedirectURI != "" && (!tr.HasRedirectURI || tr.RedirectURI != rec.RedirectURI) {
		return oauth.ErrInvalidGrant.WithDescription("redirect_uri does not match the authorization request's")
	}
	if rec.CodeChallenge == "" {
		if tr.HasCodeVerifier {
			// RFC 9700, section 2.1.1: a code_verifier for a code issued
			// without a code_challenge is refused (PKCE downgrade).
			return oauth.ErrInvalidGrant.WithDescription("code_verifier sent for a code issued without code_challenge")
		}
		return nil
	}
	if !tr.HasCodeVerifier {
		return oauth.ErrInvalidGrant.WithDescription("code_verifier is required")
	}
	if !VerifyPKCE(rec.CodeChallengeMethod, rec.CodeChallenge, tr.CodeVerifier) {
		return oauth.ErrInvalidGrant.WithDescription("code_verifier does not match the code_challenge")
	}
	return nil
}

// VerifyPKCE reports whether verifier matches challenge under method (RFC
// 7636, section 4.6): S256 compares BASE64URL(SHA256(ASCII(verifier))) with
// the challenge, plain (also an absent method, section 4.3) the verifier
// itself; both in constant time. A verifier that is not 43 to 128
// unreserved characters (section 4.1) never matches, nor does another
// method.
func VerifyPKCE(method, challenge, verifier string) bool {
	if !ValidVerifier(verifier) {
		return false
	}
	var got string
	switch method {
	case "S256":
		sum := sha256.Sum256([]byte(verifier))
		got = base64.RawURLEncoding.EncodeToString(sum[:])
	case "plain", "":
		got = verifier
	default:
		return false
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(challenge)) == 1
}

// ValidVerifier reports whether v is a code_verifier (RFC 7636, section
// 4.1): 43 to 128 characters of [A-Z] / [a-z] / [0-9] / "-" / "." / "_" /
// "~".
func ValidVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9',
			c == '-', c == '.', c == '_', c == '~':
		default:
			return false
		}
	}
	return true
}
