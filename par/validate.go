package par

import (
	"net/url"
	"slices"
	"strings"

	"github.com/parjarm/parjarm/authreq"
	"github.com/parjarm/parjarm/client"
	"github.com/parjarm/parjarm/flow"
	"github.com/parjarm/parjarm/oauth"
	"github.com/parjarm/parjarm/profile"
)

// Authorization request parameters the service reads.
const (
	paramClientID            = "client_id"
	paramResponseType        = "response_type"
	paramRedirectURI         = "redirect_uri"
	paramResponseMode        = "response_mode"
	paramScope               = "scope"
	paramNonce               = "nonce"
	paramCodeChallenge       = "code_challenge"
	paramCodeChallengeMethod = "code_challenge_method"
	paramRequest             = "request"
	paramRequestURI          = "request_uri"
)

// PKCE code challenge methods (RFC 7636, section 4.2).
const (
	pkceS256  = "S256"
	pkcePlain = "plain"
)

// defaultResponseTypes are supported when Options.ResponseTypes is empty:
// code, token, id_token and their combinations (OAuth 2.0 Multiple Response
// Type Encoding Practices, section 3).
var defaultResponseTypes = []string{
	"code", "token", "id_token",
	"code token", "code id_token", "id_token token", "code id_token token",
}

// Validate checks authorization parameters as the authorization endpoint
// would (RFC 9126, section 2.1). It is used at the push, again at expansion
// (RFC 9126, section 7.4), and by the proxy for JARM requests without PAR.
// The error is an *oauth.Error with the code to answer.
func (s *Service) Validate(params url.Values, c *client.Client) error {
	if c == nil {
		return oauth.ErrInvalidRequest.WithDescription("unknown client")
	}
	// RFC 6749, section 3.1: parameters must not be included more than once.
	for name, vs := range params {
		if len(vs) > 1 {
			return oauth.ErrInvalidRequest.WithDescription("parameter %q appears more than once", authreq.Truncate(name))
		}
	}
	// RFC 9126, section 2.1; RFC 9101, section 6.3: a pushed or expanded
	// request never refers to another request.
	if params.Has(paramRequestURI) || params.Has(paramRequest) {
		return oauth.ErrInvalidRequest.WithDescription("request and request_uri are not allowed here")
	}
	// The client's FAPI profile, first: its refusals name the rule.
	if err := profile.CheckRequest(s.profile(c), profile.FromParams(params)); err != nil {
		return err
	}
	if err := checkClientID(params.Get(paramClientID), c); err != nil {
		return err
	}
	if err := checkRedirectURI(params.Get(paramRedirectURI), c); err != nil {
		return err
	}
	rt, err := checkResponseType(params.Get(paramResponseType), s.types, c)
	if err != nil {
		return err
	}
	if err := checkResponseMode(params.Get(paramResponseMode), rt, c, s.opts.JARM); err != nil {
		return err
	}
	scope := params.Get(paramScope)
	if err := checkScope(scope); err != nil {
		return err
	}
	pkceRequired := c.Public() || c.RequirePKCE || s.opts.RequirePKCE
	if err := checkPKCE(params.Get(paramCodeChallenge), params.Get(paramCodeChallengeMethod), pkceRequired && hasValue(rt, "code")); err != nil {
		return err
	}
	return checkNonce(params.Get(paramNonce), scope, rt)
}

// checkClientID requires client_id, equal to the client's (RFC 6749,
// section 4.1.1; RFC 9126, section 2.1).
func checkClientID(id string, c *client.Client) error {
	if id == "" {
		return oauth.ErrInvalidRequest.WithDescription("client_id is required")
	}
	if id != c.ID {
		return oauth.ErrInvalidRequest.WithDescription("client_id does not match the authenticated client")
	}
	return nil
}

// checkRedirectURI requires a redirect_uri registered for the client, by
// exact comparison. Per-request redirect URIs (RFC 9126, section 2.4) are
// not offered: an unregistered redirect_uri is an error, never a redirect
// (RFC 9126, section 2.1; RFC 6749, section 3.1.2.4).
func checkRedirectURI(uri string, c *client.Client) error {
	if uri == "" {
		return oauth.ErrInvalidRequest.WithDescription("redirect_uri is required")
	}
	if !c.HasRedirectURI(uri) {
		return oauth.ErrInvalidRequest.WithDescription("redirect_uri is not registered for the client")
	}
	return nil
}

// checkResponseType requires a supported response_type that the client may
// use, and returns it normalised (values sorted: their order does not
// matter, Multiple Response Type Encoding Practices, section 2).
func checkResponseType(rt string, supported map[string]bool, c *client.Client) (string, error) {
	if rt == "" {
		return "", oauth.ErrInvalidRequest.WithDescription("response_type is required")
	}
	norm, ok := normalizeResponseType(rt)
	if !ok {
		return "", oauth.ErrInvalidRequest.WithDescription("malformed response_type")
	}
	if !supported[norm] {
		return "", oauth.ErrUnsupportedResponseType.WithDescription("response_type %q is not supported", authreq.Truncate(rt))
	}
	if len(c.ResponseTypes) > 0 && !slices.ContainsFunc(c.ResponseTypes, func(t string) bool {
		n, ok := normalizeResponseType(t)
		return ok && n == norm
	}) {
		// RFC 6749, section 4.1.2.1: unauthorized_client.
		return "", oauth.ErrUnauthorizedClient.WithDescription("response_type %q is not allowed for the client", authreq.Truncate(rt))
	}
	return norm, nil
}

// checkResponseMode resolves response_mode for the response type. JWT modes
// (JARM, section 2.3) are refused when JARM is disabled.
func checkResponseMode(mode, rt string, c *client.Client, jarm bool) error {
	if !jarm && flow.IsJWTMode(mode) {
		return oauth.ErrInvalidRequest.WithDescription("response_mode %q is not supported", mode)
	}
	_, err := flow.ResolveMode(mode, rt, c.AuthorizationEncryptedResponseAlg != "")
	return err
}

// checkScope requires scope, when present, to be space-separated scope
// tokens of NQCHAR (RFC 6749, section 3.3).
func checkScope(scope string) error {
	if scope == "" {
		return nil
	}
	for tok := range strings.SplitSeq(scope, " ") {
		if tok == "" {
			return oauth.ErrInvalidScope.WithDescription("malformed scope")
		}
		for i := 0; i < len(tok); i++ {
			b := tok[i]
			if b < 0x21 || b == 0x22 || b == 0x5c || b > 0x7e {
				return oauth.ErrInvalidScope.WithDescription("malformed scope")
			}
		}
	}
	return nil
}

// checkPKCE checks code_challenge and code_challenge_method (RFC 7636).
// required means the code flow must use PKCE with S256: plain is then
// refused (RFC 7636, section 7.2; RFC 9700, section 2.1.1).
func checkPKCE(challenge, method string, required bool) error {
	if challenge == "" {
		if method != "" {
			return oauth.ErrInvalidRequest.WithDescription("code_challenge_method without code_challenge")
		}
		if required {
			// RFC 7636, section 4.4.1.
			return oauth.ErrInvalidRequest.WithDescription("code_challenge is required (PKCE with S256)")
		}
		return nil
	}
	if method == "" {
		method = pkcePlain // RFC 7636, section 4.3.
	}
	switch method {
	case pkceS256:
		// BASE64URL(SHA-256(verifier)) is 43 characters (RFC 7636, section 4.2).
		if len(challenge) != 43 || !isCodeChallenge(challenge, false) {
			return oauth.ErrInvalidRequest.WithDescription("malformed code_challenge")
		}
	case pkcePlain:
		if required {
			return oauth.ErrInvalidRequest.WithDescription("code_challenge_method must be S256")
		}
		// RFC 7636, section 4.1: 43 to 128 unreserved characters.
		if len(challenge) < 43 || len(challenge) > 128 || !isCodeChallenge(challenge, true) {
			return oauth.ErrInvalidRequest.WithDescription("malformed code_challenge")
		}
	default:
		return oauth.ErrInvalidRequest.WithDescription("unsupported code_challenge_method")
	}
	return nil
}

// isCodeChallenge reports whether s holds only [A-Za-z0-9-_], plus '.' and
// '~' when unreserved is set (RFC 3986 unreserved characters).
func isCodeChallenge(s string, unreserved bool) bool {
	for i := 0; i < len(s); i++ {
		b := s[i]
		switch {
		case 'A' <= b && b <= 'Z', 'a' <= b && b <= 'z', '0' <= b && b <= '9', b == '-', b == '_':
		case unreserved && (b == '.' || b == '~'):
		default:
			return false
		}
	}
	return true
}

// checkNonce requires a nonce for OpenID Connect requests that return a
// token or an ID token from the authorization endpoint (OpenID Connect
// Core 1.0, sections 3.2.2.1 and 3.3.2.11).
func checkNonce(nonce, scope, rt string) error {
	if nonce != "" || !hasValue(scope, "openid") {
		return nil
	}
	if hasValue(rt, "token") || hasValue(rt, "id_token") {
		return oauth.ErrInvalidRequest.WithDescription("nonce is required for this response_type")
	}
	return nil
}

// hasValue reports whether the space-separated list contains v.
func hasValue(list, v string) bool {
	for f := range strings.FieldsSeq(list) {
		if f == v {
			return true
		}
	}
	return false
}

// normalizeResponseType sorts the space-separated values of rt. It reports
// false for an empty type or a value given twice.
func normalizeResponseType(rt string) (string, bool) {
	vs := strings.Split(rt, " ")
	slices.Sort(vs)
	for i, v := range vs {
		if v == "" || (i > 0 && vs[i-1] == v) {
			return "", false
		}
	}
	return strings.Join(vs, " "), true
}

// responseTypeSet returns the normalised set of supported response types.
func responseTypeSet(types []string) map[string]bool {
	if len(types) == 0 {
		types = defaultResponseTypes
	}
	set := make(map[string]bool, len(types))
	for _, t := range types {
		if n, ok := normalizeResponseType(t); ok {
			set[n] = true
		}
	}
	return set
}
