package codebind

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/parjarm/parjarm/authreq"
	"github.com/parjarm/parjarm/client"
	"github.com/parjarm/parjarm/oauth"
)

// GrantAuthorizationCode is the grant_type of a code redemption (RFC 6749,
// section 4.1.3).
const GrantAuthorizationCode = "authorization_code"

// TokenRequest is what the gateway reads of a token request.
type TokenRequest struct {
	// GrantType is the grant_type parameter.
	GrantType string
	// Code is the code parameter ("" when absent or empty).
	Code string
	// CodeVerifier is the code_verifier parameter; HasCodeVerifier tells
	// an empty one from none.
	CodeVerifier    string
	HasCodeVerifier bool
	// RedirectURI is the redirect_uri parameter; HasRedirectURI tells an
	// empty one from none.
	RedirectURI    string
	HasRedirectURI bool
	// ClientID is the client the request names, unverified: the Basic
	// user name, the client_id parameter, or the client assertion's sub
	// and iss, which must all agree. "" when none names one.
	ClientID string
}

// RedeemsCode reports whether the request redeems an authorization code:
// its grant_type is authorization_code as a lenient upstream reads it (case,
// and spaces or control characters around it: Java's trim() strips them
// all), or it carries a code and its grant_type is none of the grants that
// have no code (refresh_token, client_credentials, password, a URN such as
// token exchange or the device grant). Every other request passes untouched.
func (t *TokenRequest) RedeemsCode() bool {
	gt := strings.TrimFunc(t.GrantType, func(r rune) bool { return r <= ' ' || r == 0x7f })
	if strings.EqualFold(gt, GrantAuthorizationCode) {
		return true
	}
	switch {
	case t.Code == "":
		return false
	case gt == "refresh_token", gt == "client_credentials", gt == "password", strings.HasPrefix(gt, "urn:"):
		return false
	}
	return true
}

// tokenParams are the token request parameters the gateway acts on: a
// spelling an upstream could read as one of them (CODE, code.verifier) is
// refused, so the upstream cannot see a parameter the gateway did not.
var tokenParams = []string{"grant_type", "code", "code_verifier", "redirect_uri", "client_id", "client_assertion", "client_assertion_type", "client_secret"}

// ParseTokenRequest reads a token request from its query, its form body
// and its Authorization header value, as the most lenient upstream reads
// them (authreq.Parse: the query and the body as one set). It refuses with
// invalid_request (400): a malformed body, a parameter given twice (RFC
// 6749, section 3.2) or spelt so that an upstream may read it as another,
// more than maxParams parameters (0: no limit), a malformed Basic header,
// and clients named differently by the header, client_id and a client
// assertion. Nothing is verified: the upstream authenticates the client.
func ParseTokenRequest(query, body, authorization string, maxParams int) (*TokenRequest, error) {
	params, err := authreq.Parse(query, body, maxParams)
	if err != nil {
		return nil, err
	}
	folded := make(map[string]string, len(tokenParams))
	for _, k := range tokenParams {
		folded[authreq.Fold(k)] = k
	}
	for name := range params {
		if k, ok := folded[authreq.Fold(name)]; ok && k != name {
			return nil, oauth.ErrInvalidRequest.WithDescription("parameter %q must be spelt %q", authreq.Truncate(name), k)
		}
	}
	tr := &TokenRequest{
		GrantType:       params.Get("grant_type"),
		Code:            params.Get("code"),
		CodeVerifier:    params.Get("code_verifier"),
		HasCodeVerifier: params.Has("code_verifier"),
		RedirectURI:     params.Get("redirect_uri"),
		HasRedirectURI:  params.Has("redirect_uri"),
	}
	var ids []string
	basic, ok, err := client.BasicClientID(authorization)
	if err != nil {
		return nil, oauth.ErrInvalidRequest.WithDescription("malformed Basic authorization header")
	}
	if ok {
		ids = append(ids, basic)
	}
	ids = append(ids, params.Get("client_id"))
	if a := params.Get("client_assertion"); a != "" {
		ids = append(ids, assertionClients(a)...)
	}
	for _, id := range ids {
		if id == "" {
			continue
		}
		if tr.ClientID != "" && tr.ClientID != id {
			return nil, oauth.ErrInvalidRequest.WithDescription("the request names more than one client")
		}
		tr.ClientID = id
	}
	return tr, nil
}

// assertionClients returns the sub and iss of a client assertion (RFC
// 7523, section 3: both are the client_id), unverified; none when it cannot
// be read (the upstream refuses it).
func assertionClients(assertion string) []string {
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return nil
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil
	}
	var claims struct {
		Iss any `json:"iss"`
		Sub any `json:"sub"`
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	if err := dec.Decode(&claims); err != nil {
		return nil
	}
	var ids []string
	for _, v := range []any{claims.Iss, claims.Sub} {
		s, ok := v.(string)
		if !ok && v != nil {
			// Not a string: a client the gateway cannot read, which it
			// must not ignore while another id agrees.
			s = "\x00unreadable"
		}
		ids = append(ids, s)
	}
	return ids
}
