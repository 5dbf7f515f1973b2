package profile

import (
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/parjarm/parjarm/authreq"
	"github.com/parjarm/parjarm/oauth"
)

// Request is what the request rules read of an authorization request: its
// parameters after JAR, as pushed or expanded.
type Request struct {
	ResponseType, ResponseMode, RedirectURI string
	CodeChallenge, CodeChallengeMethod      string
	Scope, Nonce                            string
}

// FromParams reads a Request from authorization parameters.
func FromParams(p url.Values) Request {
	return Request{
		ResponseType:        p.Get("response_type"),
		ResponseMode:        p.Get("response_mode"),
		RedirectURI:         p.Get("redirect_uri"),
		CodeChallenge:       p.Get("code_challenge"),
		CodeChallengeMethod: p.Get("code_challenge_method"),
		Scope:               p.Get("scope"),
		Nonce:               p.Get("nonce"),
	}
}

// requestRule is one rule over a Request; it returns nil when the request
// complies or the rule does not apply to the profile.
type requestRule func(n Name, r Request) error

// requestRules are checked in order by CheckRequest.
var requestRules = []requestRule{
	ruleResponseType,
	ruleResponseMode,
	ruleRedirectURI,
	rulePKCE,
	ruleNonce,
}

// CheckRequest applies the profile's request rules (at the push, at the
// expansion of a request_uri, and at the authorization endpoint). The error
// is an *oauth.Error whose description names the rule.
func CheckRequest(n Name, r Request) error {
	if n == None {
		return nil
	}
	for _, rule := range requestRules {
		if err := rule(n, r); err != nil {
			return err
		}
	}
	return nil
}

// ruleResponseType: FAPI 2.0 Security Profile section 5.3.2.2 (code only);
// FAPI 1.0 Advanced section 5.2.2-2 (code id_token, or code with a JWT
// response mode).
func ruleResponseType(n Name, r Request) error {
	rt := normalize(r.ResponseType)
	if !slices.Contains(n.ResponseTypes(), rt) {
		section := "5.3.2.2"
		if n == FAPI1Advanced {
			section = "5.2.2-2"
		}
		return oauth.ErrUnsupportedResponseType.WithDescription("%s", n.rule(section, "response_type must be %s", strings.Join(n.ResponseTypes(), " or ")))
	}
	if n == FAPI1Advanced && rt == "code" && !isJWTMode(r.ResponseMode) {
		return oauth.ErrInvalidRequest.WithDescription("%s", n.rule("5.2.2-2", "response_type code requires a JWT response_mode (JARM)"))
	}
	return nil
}

// ruleResponseMode limits response_mode to the profile's ResponseModes:
// JARM is required by FAPI 2.0 Message Signing section 5.4.2.
func ruleResponseMode(n Name, r Request) error {
	if slices.Contains(n.ResponseModes(), r.ResponseMode) {
		return nil
	}
	if n.RequiresJARM() {
		return oauth.ErrInvalidRequest.WithDescription("%s", n.rule("5.4.2", "a JWT response_mode (JARM) is required"))
	}
	return oauth.ErrInvalidRequest.WithDescription("%s", n.rule("5.3.2.2", "response_mode %q is not allowed", authreq.Truncate(r.ResponseMode)))
}

// ruleRedirectURI: redirect_uri is required and uses https (FAPI 2.0
// Security Profile section 5.3.2.2; FAPI 1.0 Baseline sections 5.2.2-8 and
// -20, which Advanced includes).
func ruleRedirectURI(n Name, r Request) error {
	section := "5.3.2.2"
	if n == FAPI1Advanced {
		section = "5.2.2 (Baseline 5.2.2-8, -20)"
	}
	if r.RedirectURI == "" {
		return oauth.ErrInvalidRequest.WithDescription("%s", n.rule(section, "redirect_uri is required"))
	}
	if u, err := url.Parse(r.RedirectURI); err != nil || u.Scheme != "https" {
		return oauth.ErrInvalidRequest.WithDescription("%s", n.rule(section, "redirect_uri must use https"))
	}
	return nil
}

// rulePKCE: PKCE with S256 (FAPI 2.0 Security Profile section 5.3.2.2;
// FAPI 1.0 Advanced section 5.2.2-18 for pushed requests, which are the
// only ones the gateway takes under a profile).
func rulePKCE(n Name, r Request) error {
	if r.CodeChallenge != "" && r.CodeChallengeMethod == "S256" {
		return nil
	}
	section := "5.3.2.2"
	if n == FAPI1Advanced {
		section = "5.2.2-18"
	}
	return oauth.ErrInvalidRequest.WithDescription("%s", n.rule(section, "PKCE with code_challenge_method S256 is required"))
}

// ruleNonce: nonce is required for code id_token when openid is in scope
// (FAPI 1.0 Advanced section 5.2.2.2; OpenID Connect Core section 3.3.2.11).
func ruleNonce(n Name, r Request) error {
	if n != FAPI1Advanced || r.Nonce != "" || normalize(r.ResponseType) != "code id_token" || !slices.Contains(strings.Fields(r.Scope), "openid") {
		return nil
	}
	return oauth.ErrInvalidRequest.WithDescription("%s", n.rule("5.2.2.2", "nonce is required for response_type code id_token"))
}

// Push is what the push rules read of a pushed authorization request: its
// request object, if any, as verified.
type Push struct {
	// Signed reports whether the parameters came from a verified request
	// object; Alg, NBF and Exp are its signature algorithm and claims
	// (NBF zero when absent).
	Signed   bool
	Alg      string
	NBF, Exp time.Time
	// Now is the time of the push.
	Now time.Time
}

// CheckPush applies the profile's rules on the request object of a push:
// required (FAPI 2.0 Message Signing section 5.3.2; FAPI 1.0 Advanced
// section 5.2.2-1), an allowed algorithm, nbf present and not more than 60
// minutes old, exp at most 60 minutes after nbf (FAPI 2.0 Message Signing
// section 5.3.2; FAPI 1.0 Advanced sections 5.2.2-13 and -17). A request
// object under FAPI 2.0 Security Profile, which does not require one, is
// held to the same rules.
func CheckPush(n Name, p Push) error {
	if n == None {
		return nil
	}
	section := "5.3.2"
	if n == FAPI1Advanced {
		section = "5.2.2-1"
	}
	if !p.Signed {
		if n.RequiresSignedRequestObject() {
			return oauth.ErrInvalidRequest.WithDescription("%s", n.rule(section, "a signed request object is required"))
		}
		return nil
	}
	algSection := "5.4.1"
	if n == FAPI1Advanced {
		algSection = "8.6"
	}
	if !n.AllowsAlg(p.Alg) {
		return oauth.ErrInvalidRequestObject.WithDescription("%s", n.rule(algSection, "request object alg %s is not allowed: use %s", authreq.Truncate(p.Alg), strings.Join(n.Algorithms(), ", ")))
	}
	nbfSection, expSection := section, section
	if n == FAPI1Advanced {
		nbfSection, expSection = "5.2.2-17", "5.2.2-13"
	}
	if p.NBF.IsZero() {
		return oauth.ErrInvalidRequestObject.WithDescription("%s", n.rule(nbfSection, "request object nbf is required"))
	}
	if p.NBF.Before(p.Now.Add(-MaxRequestObjectAge)) {
		return oauth.ErrInvalidRequestObject.WithDescription("%s", n.rule(nbfSection, "request object nbf is more than 60 minutes in the past"))
	}
	if p.Exp.Sub(p.NBF) > MaxRequestObjectAge {
		return oauth.ErrInvalidRequestObject.WithDescription("%s", n.rule(expSection, "request object exp is more than 60 minutes after nbf"))
	}
	return nil
}

// CheckAuthMethod refuses a client authentication method the profile does
// not allow (FAPI 2.0 Security Profile section 5.3.2.1; FAPI 1.0 Advanced
// section 5.2.2-14): invalid_client.
func CheckAuthMethod(n Name, method string) error {
	if n.AllowsAuthMethod(method) {
		return nil
	}
	section := "5.3.2.1"
	if n == FAPI1Advanced {
		section = "5.2.2-14"
	}
	return oauth.ErrInvalidClient.WithDescription("%s", n.rule(section, "client authentication must be private_key_jwt or mTLS, not %s", authreq.Truncate(method)))
}

// CheckAssertion applies the profile to a verified client assertion: its
// algorithm (FAPI 2.0 Security Profile section 5.4.1; FAPI 1.0 Advanced
// section 8.6) and its aud, the issuer as the sole value under FAPI 2.0
// (Security Profile section 5.3.2.1): invalid_client.
func CheckAssertion(n Name, alg string, aud []string, issuer string) error {
	if n == None {
		return nil
	}
	if !n.AllowsAlg(alg) {
		section := "5.4.1"
		if n == FAPI1Advanced {
			section = "8.6"
		}
		return oauth.ErrInvalidClient.WithDescription("%s", n.rule(section, "client_assertion alg %s is not allowed: use %s", authreq.Truncate(alg), strings.Join(n.Algorithms(), ", ")))
	}
	if n.IssuerOnlyAudience() && (len(aud) != 1 || issuer == "" || aud[0] != issuer) {
		return oauth.ErrInvalidClient.WithDescription("%s", n.rule("5.3.2.1", "client_assertion aud must be the issuer as its sole value"))
	}
	return nil
}
