package profile

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// Client is what the registry rules read of a client's metadata.
type Client struct {
	AuthMethod                     string
	RedirectURIs                   []string
	AuthorizationSignedResponseAlg string
	RequestObjectSigningAlg        string
	TokenEndpointAuthSigningAlg    string
	// PARLifetime is par_lifetime in seconds (0: the gateway default).
	PARLifetime int
}

// CheckClient returns the problems of a client registered under the
// profile, each naming the field and the rule, for the registry's start-up
// validation: an authentication method, an algorithm or a redirect URI the
// profile would refuse at every request.
func CheckClient(n Name, c Client) []Problem {
	if n == None {
		return nil
	}
	var ps []Problem
	add := func(field, section, format string, args ...any) {
		ps = append(ps, Problem{Field: field, Message: n.rule(section, format, args...)})
	}
	if !n.AllowsAuthMethod(c.AuthMethod) {
		add("token_endpoint_auth_method", sectionAuth(n), "%q is not allowed: use %s", c.AuthMethod, strings.Join(n.AuthMethods(), ", "))
	}
	for _, f := range []struct{ field, alg string }{
		{"authorization_signed_response_alg", c.AuthorizationSignedResponseAlg},
		{"request_object_signing_alg", c.RequestObjectSigningAlg},
		{"token_endpoint_auth_signing_alg", c.TokenEndpointAuthSigningAlg},
	} {
		if f.alg != "" && !n.AllowsAlg(f.alg) {
			add(f.field, sectionAlg(n), "%q is not allowed: use %s", f.alg, strings.Join(n.Algorithms(), ", "))
		}
	}
	for _, uri := range c.RedirectURIs {
		if u, err := url.Parse(uri); err != nil || u.Scheme != "https" {
			add("redirect_uris", sectionRedirect(n), "%q must use https", uri)
		}
	}
	if c.PARLifetime > int(MaxLifetime.Seconds()) {
		add("par_lifetime", sectionRedirect(n), "%d is too long: a request_uri lives less than 600 seconds", c.PARLifetime)
	}
	return ps
}

// Problem is one registry problem: the field and what is wrong.
type Problem struct {
	Field, Message string
}

// String returns "field: message".
func (p Problem) String() string { return fmt.Sprintf("%s: %s", p.Field, p.Message) }

func sectionAuth(n Name) string {
	if n == FAPI1Advanced {
		return "5.2.2-14"
	}
	return "5.3.2.1"
}

func sectionAlg(n Name) string {
	if n == FAPI1Advanced {
		return "8.6"
	}
	return "5.4.1"
}

func sectionRedirect(n Name) string {
	if n == FAPI1Advanced {
		return "5.2.2"
	}
	return "5.3.2.2"
}

// SigningAlg returns the JARM signing algorithm for a client under the
// profile: registered, the algorithm the client registered; otherwise def
// when the profile allows it, else the first of the profile's algorithms
// that canSign reports the gateway's keys can sign. ok is false when no
// algorithm fits.
func SigningAlg(n Name, registered, def string, canSign func(string) bool) (alg string, ok bool) {
	if registered != "" {
		return registered, n.AllowsAlg(registered)
	}
	if n.AllowsAlg(def) {
		return def, true
	}
	for _, a := range n.Algorithms() {
		if canSign(a) {
			return a, true
		}
	}
	return "", false
}

// Advertise narrows a discovery document to what the profile allows
// (FAPI 2.0 Security Profile section 5.3.2.1: the server distributes its
// metadata; RFC 8414 section 2; RFC 9126 section 5): PAR required, PKCE
// S256, the allowed authentication methods, algorithms, response types and
// modes. Lists the upstream or the gateway published are intersected with
// the profile's; a list that would become empty is set to the profile's.
func Advertise(n Name, doc map[string]any) {
	if n == None {
		return
	}
	doc["require_pushed_authorization_requests"] = true
	doc["authorization_response_iss_parameter_supported"] = true
	doc["code_challenge_methods_supported"] = []string{"S256"}
	narrow(doc, "token_endpoint_auth_methods_supported", n.AuthMethods())
	for _, k := range []string{
		"token_endpoint_auth_signing_alg_values_supported",
		"request_object_signing_alg_values_supported",
		"authorization_signing_alg_values_supported",
	} {
		narrow(doc, k, n.Algorithms())
	}
	narrow(doc, "response_types_supported", n.ResponseTypes())
	var modes []string
	for _, m := range n.ResponseModes() {
		if m != "" {
			modes = append(modes, m)
		}
	}
	narrow(doc, "response_modes_supported", modes)
	if n.RequiresSignedRequestObject() {
		doc["require_signed_request_object"] = true
	}
}

// narrow sets doc[key] to the values of allowed that doc[key] lists, or to
// allowed when it lists none of them.
func narrow(doc map[string]any, key string, allowed []string) {
	var have []string
	switch v := doc[key].(type) {
	case []any:
		for _, x := range v {
			if s, ok := x.(string); ok {
				have = append(have, s)
			}
		}
	case []string:
		have = v
	}
	out := make([]string, 0, len(allowed))
	for _, a := range allowed {
		if slices.Contains(have, a) {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		out = slices.Clone(allowed)
	}
	doc[key] = out
}
