// Package authreq reads an authorization request the way the upstream will
// read it, so that the gateway's policy (PAR required, JWT response modes)
// is decided on exactly the parameters the upstream acts on.
//
// Upstreams disagree on where parameters come from: fosite (and so ORY
// Hydra), Java's getParameter, Spring and PHP's $_REQUEST merge the query of
// a POST with its body; ASP.NET compares names without case; PHP turns `.`
// and spaces in names into `_`. The gateway therefore reads the query and
// the body together, refuses every spelling that one of those readers could
// take for another parameter, and forwards only what it checked, rebuilt.
package authreq

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/parjarm/parjarm/oauth"
)

// known are the authorization request parameters of RFC 6749 (4.1.1,
// 4.2.1), OpenID Connect Core (3.1.2.1, 5.5, 6), RFC 7636 (4.3), RFC 9101,
// RFC 9126, JARM, RFC 8707, RFC 9396, RFC 9449 (10) and OAuth 2.0 Multiple
// Response Types: a name that an upstream could read as one of them is
// refused unless it is spelt exactly so.
var known = []string{
	"client_id", "response_type", "redirect_uri", "scope", "state",
	"response_mode", "nonce", "display", "prompt", "max_age", "ui_locales",
	"claims_locales", "id_token_hint", "login_hint", "acr_values", "claims",
	"registration", "request", "request_uri", "code_challenge",
	"code_challenge_method", "resource", "authorization_details", "dpop_jkt",
	"client_secret", "client_assertion", "client_assertion_type",
}

// multiValued are the parameters that may be given more than once: RFC
// 8707, section 2 (resource).
var multiValued = map[string]bool{"resource": true}

var knownFolded = func() map[string]string {
	m := make(map[string]string, len(known))
	for _, k := range known {
		m[fold(k)] = k
	}
	return m
}()

// fold is the name as the most lenient upstream reads it: without case,
// leading spaces dropped, and `.`, ` ` and `[` read as `_` (PHP's variable
// name mangling).
func fold(name string) string {
	name = strings.TrimLeft(name, " ")
	// PHP, Rack and Express's qs read client_id[] and client_id[0] as
	// client_id (an array): the name ends at a bracket that closes. An
	// unclosed one is PHP's `_`.
	if i := strings.IndexByte(name, '['); i > 0 && strings.IndexByte(name[i:], ']') > 0 {
		name = name[:i]
	}
	return strings.Map(func(r rune) rune {
		switch r {
		case '.', ' ', '[':
			return '_'
		}
		return r
	}, strings.ToLower(name))
}

// Fold returns name as the most lenient upstream reads it (case, leading
// spaces, PHP's `.`/space/`[` mangling): two names with one Fold are one
// parameter to some upstream.
func Fold(name string) string { return fold(name) }

// IsOAuthParam reports whether an upstream could read name as one of the
// authorization request parameters.
func IsOAuthParam(name string) bool {
	_, ok := knownFolded[fold(name)]
	return ok
}

// Parse reads the authorization request parameters from the query and, for
// a POST, the form body, as one set (OpenID Connect Core, 3.1.2.1: GET and
// POST; the upstream may merge both). It refuses, with invalid_request:
//   - a malformed escape or a `;` separator;
//   - a parameter given twice, in one part or across both (RFC 6749,
//     section 3.1; only resource may repeat, RFC 8707), including two names
//     that the most lenient upstream
//     reads as one (case, PHP's `.`/space mangling);
//   - a name that differs from an OAuth parameter only in that way
//     (`CLIENT_ID`, `client.id`);
//   - names or values that are not UTF-8, names with control characters or
//     outside ASCII (Java's equalsIgnoreCase reads `clıent_id` as
//     client_id);
//   - more than maxParams parameters (0: no limit).
//
// Empty values are kept: an empty state is a state (the flow restores it).
// Descriptions never echo values.
func Parse(query, body string, maxParams int) (url.Values, error) {
	params := url.Values{}
	var names Names
	for _, part := range [2]string{query, body} {
		for part != "" {
			var pair string
			pair, part, _ = strings.Cut(part, "&")
			if pair == "" {
				continue
			}
			if strings.Contains(pair, ";") {
				return nil, oauth.ErrInvalidRequest.WithDescription("malformed authorization request parameters: ';' is not a separator")
			}
			rawName, rawValue, _ := strings.Cut(pair, "=")
			name, err1 := url.QueryUnescape(rawName)
			value, err2 := url.QueryUnescape(rawValue)
			if err1 != nil || err2 != nil || name == "" {
				return nil, oauth.ErrInvalidRequest.WithDescription("malformed authorization request parameters")
			}
			// A value that is not UTF-8 could not be carried unchanged (a
			// state altered in a JWT fails the client's check after the login).
			if !utf8.ValidString(name) || !utf8.ValidString(value) {
				return nil, oauth.ErrInvalidRequest.WithDescription("parameters must be UTF-8")
			}
			if err := names.Add(name); err != nil {
				return nil, err
			}
			if maxParams > 0 && len(params) == maxParams {
				return nil, oauth.ErrInvalidRequest.WithDescription("too many parameters (at most %d)", maxParams)
			}
			params[name] = append(params[name], value)
		}
	}
	return params, nil
}

// Names checks the parameter names of one request as Parse does, so that
// other readers of parameters (a pushed body, a request object's claims)
// apply the same spelling rules. The zero value is ready to use.
type Names struct{ folded map[string]string }

// Add checks name against the names added before. It refuses with
// invalid_request: control characters or bytes outside ASCII in the name
// (Java's equalsIgnoreCase reads `clıent_id` as client_id), a name already
// added (RFC 6749, section 3.1), a name the most lenient upstream reads as
// one added before, and a spelling of an OAuth parameter other than its own.
func (n *Names) Add(name string) error {
	if strings.ContainsFunc(name, isControl) {
		return oauth.ErrInvalidRequest.WithDescription("parameter names must not contain control characters")
	}
	if strings.ContainsFunc(name, isNotASCII) {
		return oauth.ErrInvalidRequest.WithDescription("parameter names must be ASCII")
	}
	f := fold(name)
	if prev, dup := n.folded[f]; dup {
		if prev == name && multiValued[name] {
			return nil
		}
		if prev == name {
			// RFC 6749, section 3.1 (in the query and the body alike).
			return oauth.ErrInvalidRequest.WithDescription("parameter %q is repeated", Truncate(name))
		}
		return oauth.ErrInvalidRequest.WithDescription("parameters %q and %q may be read as one", Truncate(prev), Truncate(name))
	}
	if k, ok := knownFolded[f]; ok && k != name {
		return oauth.ErrInvalidRequest.WithDescription("parameter %q must be spelt %q", Truncate(name), k)
	}
	if n.folded == nil {
		n.folded = map[string]string{}
	}
	n.folded[f] = name
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

func isNotASCII(r rune) bool { return r > 0x7e }

// RequestObjectClients returns the client identifiers an upstream may take
// from a request object (RFC 9101, section 4: the `client_id` claim, and
// `iss`, which names the client of a signed one), without verifying it: the
// gateway forwards it to the upstream, which verifies it. readable is false
// when the value is not a JWS whose payload is a JSON object (an encrypted
// request object, or garbage): its client cannot be known.
func RequestObjectClients(request string) (ids []string, readable bool) {
	parts := strings.Split(request, ".")
	if len(parts) != 3 {
		return nil, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, false
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, false
		}
		name, _ := tok.(string)
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil, false
		}
		// A claim given twice, or in two spellings that a case-insensitive
		// decoder (Go's encoding/json into a struct) reads as one, has no
		// one meaning: the client cannot be known.
		if strings.ContainsFunc(name, isNotASCII) {
			return nil, false // Go's encoding/json folds ſ to s and K to k
		}
		f := strings.ToLower(name)
		if seen[f] {
			return nil, false
		}
		seen[f] = true
		if f != "client_id" && f != "iss" {
			continue
		}
		var id string
		if err := json.Unmarshal(value, &id); err != nil {
			return nil, false // not a string: a client the gateway cannot read
		}
		ids = append(ids, id)
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, false
	}
	return ids, true
}

// Truncate shortens attacker-chosen text before it goes into a description.
func Truncate(s string) string {
	const max = 40
	if len(s) <= max {
		return s
	}
	for i := max; i > 0; i-- {
		if utf8.RuneStart(s[i]) {
			return s[:i] + "…"
		}
	}
	return ""
}
