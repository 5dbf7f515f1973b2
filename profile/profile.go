// Package profile holds the FAPI security profiles the gateway enforces:
// FAPI 2.0 Security Profile (final), FAPI 2.0 Message Signing (final) and
// FAPI 1.0 Advanced (final, Part 2). A profile is a set of rules, each a
// plain function over the parsed authorization request, the push that
// carried it, or the client's metadata; each refusal is an *oauth.Error
// whose description names the profile and the section of the rule.
//
// The package imports no parjarm package but oauth and authreq: the client
// registry, the PAR service, the JARM encoder and the proxy all ask it.
package profile

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Name is a profile's configuration name (PARJARM_PROFILE, a client's
// fapi_profile). None, the empty name, is the gateway's behaviour without a
// profile.
type Name string

// The profiles.
const (
	None                Name = ""
	FAPI2Security       Name = "fapi2-security"
	FAPI2MessageSigning Name = "fapi2-message-signing"
	FAPI1Advanced       Name = "fapi1-advanced"
)

// Names lists the profiles, None excepted.
var Names = []Name{FAPI2Security, FAPI2MessageSigning, FAPI1Advanced}

// Parse returns the profile named s ("" is None).
func Parse(s string) (Name, error) {
	n := Name(s)
	if n == None || slices.Contains(Names, n) {
		return n, nil
	}
	return None, fmt.Errorf("%q is not a profile: use %s, %s or %s (or leave empty)", s, FAPI2Security, FAPI2MessageSigning, FAPI1Advanced)
}

// Or returns n, or fallback when n is None: a client's own profile wins
// over the gateway's.
func (n Name) Or(fallback Name) Name {
	if n == None {
		return fallback
	}
	return n
}

// Title is the profile's specification title, used in error descriptions.
func (n Name) Title() string {
	switch n {
	case FAPI2Security:
		return "FAPI 2.0 Security Profile"
	case FAPI2MessageSigning:
		return "FAPI 2.0 Message Signing"
	case FAPI1Advanced:
		return "FAPI 1.0 Advanced"
	}
	return "no profile"
}

// fapi2 reports whether n includes the FAPI 2.0 Security Profile (Message
// Signing builds on it, FAPI 2.0 Message Signing section 5.1).
func (n Name) fapi2() bool { return n == FAPI2Security || n == FAPI2MessageSigning }

// RequiresPAR reports whether authorization requests must be pushed. FAPI
// 2.0 Security Profile section 5.3.2.2 requires PAR. FAPI 1.0 Advanced
// allows requests by value; the gateway requires PAR under it too, because
// it can only verify the request objects it is given at its PAR endpoint
// (a request object by value at the authorization endpoint goes upstream
// unread): documented in the README.
func (n Name) RequiresPAR() bool { return n != None }

// PARRule names the rule that makes the profile require PAR, for the
// description of a refused authorization request that was not pushed; ""
// for None.
func (n Name) PARRule() string {
	switch {
	case n.fapi2():
		return n.Title() + " 5.3.2.2"
	case n == FAPI1Advanced:
		return n.Title() + " 5.2.2-1 (the gateway verifies request objects at its PAR endpoint only)"
	}
	return ""
}

// RequiresSignedRequestObject reports whether a push must carry a signed
// request object: FAPI 2.0 Message Signing section 5.3.2; FAPI 1.0
// Advanced section 5.2.2-1.
func (n Name) RequiresSignedRequestObject() bool {
	return n == FAPI2MessageSigning || n == FAPI1Advanced
}

// RequiresJARM reports whether the authorization response must be a JARM
// response: FAPI 2.0 Message Signing section 5.4.2.
func (n Name) RequiresJARM() bool { return n == FAPI2MessageSigning }

// IssuerOnlyAudience reports whether a client assertion's aud must be the
// issuer alone: FAPI 2.0 Security Profile section 5.3.2.1.
func (n Name) IssuerOnlyAudience() bool { return n.fapi2() }

// Algorithms are the signature algorithms a profile allows for client
// assertions, request objects and JARM responses: PS256, ES256 and EdDSA
// under FAPI 2.0 (Security Profile section 5.4.1), PS256 and ES256 under
// FAPI 1.0 Advanced (section 8.6). None allows all (nil).
func (n Name) Algorithms() []string {
	switch {
	case n.fapi2():
		return []string{"PS256", "ES256", "EdDSA"}
	case n == FAPI1Advanced:
		return []string{"PS256", "ES256"}
	}
	return nil
}

// AllowsAlg reports whether the profile allows the signature algorithm.
func (n Name) AllowsAlg(alg string) bool {
	return n == None || slices.Contains(n.Algorithms(), alg)
}

// The mutual-TLS client authentication methods (RFC 8705, section 2).
const (
	authTLSClient           = "tls_client_auth"
	authSelfSignedTLSClient = "self_signed_tls_client_auth"
	authPrivateKeyJWT       = "private_key_jwt"
)

// AuthMethods are the client authentication methods a profile allows:
// private_key_jwt and mTLS (FAPI 2.0 Security Profile section 5.3.2.1;
// FAPI 1.0 Advanced section 5.2.2-14). None allows all (nil).
func (n Name) AuthMethods() []string {
	if n == None {
		return nil
	}
	return []string{authPrivateKeyJWT, authTLSClient, authSelfSignedTLSClient}
}

// AllowsAuthMethod reports whether the profile allows the method.
func (n Name) AllowsAuthMethod(method string) bool {
	return n == None || slices.Contains(n.AuthMethods(), method)
}

// MaxLifetime bounds a request_uri's expires_in under a profile: below 600
// seconds (FAPI 2.0 Security Profile section 5.3.2.2; FAPI 1.0 Advanced
// section 5.2.2).
const MaxLifetime = 599 * time.Second

// Lifetime returns the request_uri lifetime d, capped at MaxLifetime under
// a profile.
func (n Name) Lifetime(d time.Duration) time.Duration {
	if n == None {
		return d
	}
	return min(d, MaxLifetime)
}

// MaxRequestObjectAge bounds a request object under a profile: exp at most
// this long after nbf, nbf at most this long in the past (FAPI 2.0 Message
// Signing section 5.3.2; FAPI 1.0 Advanced sections 5.2.2-13 and -17).
const MaxRequestObjectAge = 60 * time.Minute

// ResponseTypes are the response types a profile allows: code (FAPI 2.0
// Security Profile section 5.3.2.2); code id_token, or code with a JWT
// response mode (FAPI 1.0 Advanced section 5.2.2-2). None allows all.
func (n Name) ResponseTypes() []string {
	switch {
	case n.fapi2():
		return []string{"code"}
	case n == FAPI1Advanced:
		return []string{"code", "code id_token"}
	}
	return nil
}

// JWT response modes (JARM, section 2.3).
var jwtModes = []string{"jwt", "query.jwt", "fragment.jwt", "form_post.jwt"}

// ResponseModes are the response modes a profile allows, "" standing for
// the response type's default. FAPI 2.0 Security Profile: the default
// (query) or JARM; Message Signing: JARM only; FAPI 1.0 Advanced: the
// hybrid default (fragment) or JARM.
func (n Name) ResponseModes() []string {
	switch n {
	case FAPI2Security:
		return append([]string{"", "query"}, jwtModes...)
	case FAPI2MessageSigning:
		return slices.Clone(jwtModes)
	case FAPI1Advanced:
		return append([]string{"", "fragment"}, jwtModes...)
	}
	return nil
}

// rule prefixes a refusal's description with the profile and the section.
func (n Name) rule(section, format string, args ...any) string {
	return n.Title() + " " + section + ": " + fmt.Sprintf(format, args...)
}

// isJWTMode reports whether mode is a JARM response mode.
func isJWTMode(mode string) bool { return slices.Contains(jwtModes, mode) }

// normalize sorts a space-separated response type.
func normalize(rt string) string {
	vs := strings.Fields(rt)
	slices.Sort(vs)
	return strings.Join(vs, " ")
}
