package client

import (
	"net/url"
	"slices"
	"strings"
)

// Grant types the response types need (OpenID Connect Dynamic Client
// Registration 1.0, section 2, grant_types).
const (
	grantAuthorizationCode = "authorization_code"
	grantImplicit          = "implicit"
)

// responseTypeValues are the values a response type is made of (RFC 6749,
// section 3.1.1; OAuth 2.0 Multiple Response Type Encoding Practices,
// sections 4 and 5).
var responseTypeValues = []string{"code", "token", "id_token", "none"}

// validateGrantTypes checks response_types and grant_types (RFC 7591,
// section 2). A response type is space-separated values, each once, with
// "none" alone. When grant_types is registered, every response type needs
// its grant: code needs authorization_code, token and id_token need
// implicit (OpenID Connect Dynamic Client Registration 1.0, section 2);
// response_types defaults to code (RFC 7591, section 2). Without
// grant_types, nothing is inferred.
func validateGrantTypes(c *Client, p *problems) {
	for _, rt := range c.ResponseTypes {
		if msg := checkResponseTypeValue(rt); msg != "" {
			p.add("response_types", "%q %s", rt, msg)
		}
	}
	for _, g := range c.GrantTypes {
		if g == "" || strings.TrimSpace(g) != g {
			p.add("grant_types", "%q is not a grant type", g)
		}
	}
	if c.GrantTypes == nil {
		return
	}
	types := c.ResponseTypes
	if len(types) == 0 {
		types = []string{"code"}
	}
	for _, rt := range types {
		for _, v := range strings.Fields(rt) {
			need := ""
			switch v {
			case "code":
				need = grantAuthorizationCode
			case "token", "id_token":
				need = grantImplicit
			}
			if need != "" && !slices.Contains(c.GrantTypes, need) {
				p.add("grant_types", "response type %q needs grant type %s, which grant_types does not include (OpenID Connect Dynamic Client Registration 1.0, section 2)", rt, need)
				break
			}
		}
	}
}

// checkResponseTypeValue returns why rt is not a response type, or "".
func checkResponseTypeValue(rt string) string {
	vs := strings.Split(rt, " ")
	for i, v := range vs {
		switch {
		case !slices.Contains(responseTypeValues, v):
			return "is not a response type: use code, token, id_token, separated by single spaces, or none (RFC 6749, section 3.1.1)"
		case slices.Contains(vs[:i], v):
			return "repeats " + v
		case v == "none" && len(vs) > 1:
			return "combines none with other values (OAuth 2.0 Multiple Response Type Encoding Practices, section 4)"
		}
	}
	return ""
}

// Application types (OpenID Connect Dynamic Client Registration 1.0,
// section 2).
const (
	AppWeb    = "web"
	AppNative = "native"
)

// validateApplicationType checks redirect_uris against a registered
// application_type (OpenID Connect Dynamic Client Registration 1.0, section
// 2). A web client's redirect URIs use https, or http on a loopback host
// for development; with the implicit grant (a response type with token or
// id_token) https only and never localhost. A native client's use a custom
// scheme, or http on a loopback host. Without application_type no rule
// applies, as for registries written before the gateway read it.
func validateApplicationType(c *Client, p *problems) {
	switch c.ApplicationType {
	case "":
		return
	case AppWeb, AppNative:
	default:
		p.add("application_type", "%q is not an application type: use web or native (OpenID Connect Dynamic Client Registration 1.0, section 2)", c.ApplicationType)
		return
	}
	implicit := slices.ContainsFunc(c.ResponseTypes, func(rt string) bool {
		vs := strings.Fields(rt)
		return slices.Contains(vs, "token") || slices.Contains(vs, "id_token")
	})
	for _, uri := range c.RedirectURIs {
		u, err := url.Parse(uri)
		if err != nil || !u.IsAbs() {
			continue // validateRedirectURIs reports it
		}
		loopback := isLoopback(u.Hostname())
		switch c.ApplicationType {
		case AppWeb:
			switch {
			case u.Scheme == "https" && !(implicit && loopback):
			case u.Scheme == "https":
				p.add("redirect_uris", "%q: a web client using the implicit grant must not use localhost (application_type web, OpenID Connect Dynamic Client Registration 1.0, section 2)", uri)
			case u.Scheme == "http" && implicit:
				p.add("redirect_uris", "%q: a web client using the implicit grant must use https (application_type web, OpenID Connect Dynamic Client Registration 1.0, section 2)", uri)
			case u.Scheme == "http" && !loopback:
				p.add("redirect_uris", "%q: a web client must use https; http only on 127.0.0.1, localhost or [::1] (application_type web)", uri)
			case u.Scheme != "http":
				p.add("redirect_uris", "%q: a custom URI scheme is for native clients (application_type web, OpenID Connect Dynamic Client Registration 1.0, section 2)", uri)
			}
		case AppNative:
			switch {
			case u.Scheme == "http" && loopback:
			case u.Scheme == "http" || u.Scheme == "https":
				p.add("redirect_uris", "%q: a native client uses a custom URI scheme or http on 127.0.0.1, localhost or [::1] (application_type native, OpenID Connect Dynamic Client Registration 1.0, section 2)", uri)
			}
		}
	}
}
