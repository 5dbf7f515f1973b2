package proxy

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// Kinds of the endpoints the gateway publishes.
const (
	// EndpointPAR is the push endpoint: pushed_authorization_request_endpoint
	// (RFC 9126, section 5).
	EndpointPAR = "pushed_authorization_request_endpoint"
	// EndpointJWKS is the merged key set: jwks_uri (RFC 8414, section 2).
	EndpointJWKS = "jwks_uri"
	// EndpointOpenIDConfiguration is the OpenID discovery document (OpenID
	// Connect Discovery 1.0, section 4).
	EndpointOpenIDConfiguration = "openid_configuration"
	// EndpointOAuthMetadata is the RFC 8414 metadata document (section 3).
	EndpointOAuthMetadata = "oauth_authorization_server"
)

// Endpoint is one thing the gateway publishes: the absolute URL clients are
// told (or, for the discovery documents, derive from the issuer) and the
// request path the gateway answers it at.
type Endpoint struct {
	// Kind is one of the Endpoint* constants.
	Kind string
	// URL is the absolute URL as discovery writes it or a client builds it.
	URL string
	// Path is the request path (decoded, as in url.URL.Path) it is served at.
	Path string
	// Var is the setting that places it, for start-up errors.
	Var string
	// Alias marks the RFC 8705, section 5 mTLS alias of the endpoint of
	// the same Kind: published in mtls_endpoint_aliases.
	Alias bool
}

// EndpointsConfig is what places the gateway's endpoints.
type EndpointsConfig struct {
	// Issuer is the issuer exactly as clients see it; the discovery
	// locations are derived from it.
	Issuer string
	// PublicURL is the gateway's public base URL; PARPath and JWKSPath are
	// relative to its path.
	PublicURL *url.URL
	// PARPath is the PAR endpoint's path below the public URL's path; empty
	// when PAR is off. A path that already starts with the public URL's path
	// is taken as it is (not doubled).
	PARPath string
	// JWKSPath is the key set's path below the public URL's path (same rule).
	JWKSPath string
	// MTLS publishes mTLS endpoint aliases (RFC 8705, section 5): the
	// gateway sees client certificates.
	MTLS bool
	// MTLSPublicURL is the base URL of the aliases (PARJARM_MTLS_PUBLIC_URL);
	// nil means PublicURL. The same listener serves both, so an alias with
	// the same path as its endpoint is that endpoint.
	MTLSPublicURL *url.URL
	// Upstream are the upstream's endpoints that clients reach through the
	// gateway (the authorization endpoint, which the gateway intercepts,
	// the token endpoint, …): no published endpoint may hide one.
	Upstream []UpstreamEndpoint
}

// UpstreamEndpoint is one of the upstream's endpoints, by its metadata name
// and the request path clients reach it at through the gateway.
type UpstreamEndpoint struct {
	Name, Path string
}

// Endpoints is the table of everything the gateway publishes. ServeHTTP
// routes from it and discovery is written from it, so an advertised URL and
// a served URL cannot differ. A nil *Endpoints is an empty table.
type Endpoints struct {
	list   []Endpoint
	byPath map[string]int
	public *url.URL
}

// NewEndpoints builds the table. Every endpoint is served at the path of
// the URL it is published at; an error names the PARJARM_ variable that
// would place an endpoint where it cannot be served (on top of another
// endpoint, or on the authorization endpoint's path).
func NewEndpoints(c EndpointsConfig) (*Endpoints, error) {
	iss, err := url.Parse(c.Issuer)
	if err != nil || iss.Host == "" || (iss.Scheme != "https" && iss.Scheme != "http") {
		return nil, fmt.Errorf("PARJARM_ISSUER: %q is not an absolute http or https URL", c.Issuer)
	}
	if c.PublicURL == nil || c.PublicURL.Host == "" {
		return nil, fmt.Errorf("PARJARM_PUBLIC_URL: the gateway has no absolute public URL")
	}
	e := &Endpoints{byPath: map[string]int{}, public: c.PublicURL}

	// Discovery locations, from the issuer: a terminating "/" of its path is
	// removed first (OpenID Connect Discovery, section 4.1; RFC 8414,
	// section 3.1). The issuer string itself is kept as configured.
	issPath := strings.TrimSuffix(iss.Path, "/")
	issBase := strings.TrimSuffix(c.Issuer, "/")
	issOrigin := iss.Scheme + "://" + iss.Host
	const oidc, oauth = "/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"
	if err := e.add(Endpoint{Kind: EndpointOpenIDConfiguration, URL: issBase + oidc, Path: issPath + oidc, Var: "PARJARM_ISSUER"}); err != nil {
		return nil, err
	}
	// RFC 8414, section 3.1: the well-known segment goes between the host
	// and the issuer's path.
	if err := e.add(Endpoint{Kind: EndpointOAuthMetadata, URL: issOrigin + oauth + strings.TrimSuffix(iss.EscapedPath(), "/"), Path: oauth + issPath, Var: "PARJARM_ISSUER"}); err != nil {
		return nil, err
	}
	if issPath != "" {
		// The form some servers (Keycloak) and clients use for a path
		// issuer: the well-known segment appended to the issuer. Served so
		// that such a client never reads the upstream's unrewritten document.
		if err := e.add(Endpoint{Kind: EndpointOAuthMetadata, URL: issBase + oauth, Path: issPath + oauth, Var: "PARJARM_ISSUER"}); err != nil {
			return nil, err
		}
	}

	// The gateway's own endpoints, below the public URL's path.
	if c.PARPath != "" {
		if err := e.add(e.published(EndpointPAR, c.PARPath, "PARJARM_PAR_PATH")); err != nil {
			return nil, err
		}
	}
	if err := e.add(e.published(EndpointJWKS, c.JWKSPath, "PARJARM_JWKS_PATH")); err != nil {
		return nil, err
	}
	if c.MTLS && c.PARPath != "" {
		if err := e.addAlias(c.MTLSPublicURL, EndpointPAR, c.PARPath); err != nil {
			return nil, err
		}
	}

	for _, up := range c.Upstream {
		for _, ep := range e.list {
			// A variant the upstream may read as the same path counts too.
			if up.Path != "" && canonicalPath(ep.Path) == canonicalPath(up.Path) {
				return nil, fmt.Errorf("%s: the %s would be served at %s, where the upstream's %s is (%s), which clients could then no longer reach: give it a path of its own",
					ep.Var, describe(ep.Kind), ep.Path, up.Name, up.Path)
			}
		}
	}
	return e, nil
}

// UpstreamEndpoints returns the upstream's endpoints (every *_endpoint
// member of its discovery document but the ones the gateway publishes
// itself) that clients reach through the gateway: those on the public URL's
// or the issuer's host once the upstream's own address is mapped to the
// public one.
func UpstreamEndpoints(doc map[string]any, upstream *url.URL, publicURL, issuer string) []UpstreamEndpoint {
	hosts := map[string]bool{}
	for _, s := range []string{publicURL, issuer} {
		if u, err := url.Parse(s); err == nil {
			hosts[strings.ToLower(u.Host)] = true
		}
	}
	var out []UpstreamEndpoint
	for name, v := range doc {
		s, ok := v.(string)
		if !ok || !strings.HasSuffix(name, "_endpoint") || name == EndpointPAR {
			continue
		}
		u, err := url.Parse(PublicEndpoint(upstream, publicURL, s))
		if err != nil || !hosts[strings.ToLower(u.Host)] || u.Path == "" {
			continue
		}
		out = append(out, UpstreamEndpoint{Name: name, Path: u.Path})
	}
	slices.SortFunc(out, func(a, b UpstreamEndpoint) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// published places a gateway endpoint at rel below the public URL's path.
func (e *Endpoints) published(kind, rel, variable string) Endpoint {
	return placed(e.public, kind, rel, variable)
}

// placed places an endpoint at rel below base's path.
func placed(base *url.URL, kind, rel, variable string) Endpoint {
	bp := strings.TrimSuffix(base.Path, "/")
	p := rel
	if bp != "" && !strings.HasPrefix(rel, bp+"/") {
		p = bp + rel
	}
	u := url.URL{Scheme: base.Scheme, Host: base.Host, Path: p}
	return Endpoint{Kind: kind, URL: u.String(), Path: p, Var: variable}
}

// addAlias adds the mTLS alias of the kind endpoint, at rel below base (nil:
// the public URL). An alias served at its endpoint's own path is routed as
// that endpoint; at another path it gets a row of its own.
func (e *Endpoints) addAlias(base *url.URL, kind, rel string) error {
	variable := "PARJARM_MTLS_PUBLIC_URL"
	if base == nil {
		base, variable = e.public, "PARJARM_PUBLIC_URL"
	}
	ep := placed(base, kind, rel, variable)
	ep.Alias = true
	if i, ok := e.byPath[ep.Path]; ok && e.list[i].Kind == kind {
		e.list = append(e.list, ep)
		return nil
	}
	return e.add(ep)
}

func (e *Endpoints) add(ep Endpoint) error {
	if i, ok := e.byPath[ep.Path]; ok {
		other := e.list[i]
		return fmt.Errorf("%s: the %s would be served at %s, where the %s is (placed by %s); give it a path of its own",
			ep.Var, describe(ep.Kind), ep.Path, describe(other.Kind), other.Var)
	}
	e.byPath[ep.Path] = len(e.list)
	e.list = append(e.list, ep)
	return nil
}

// Lookup returns the published endpoint served at the request path p.
func (e *Endpoints) Lookup(p string) (Endpoint, bool) {
	if e == nil {
		return Endpoint{}, false
	}
	i, ok := e.byPath[p]
	if !ok {
		return Endpoint{}, false
	}
	return e.list[i], true
}

// URL returns the published URL of the first endpoint of kind, or "".
func (e *Endpoints) URL(kind string) string {
	return e.find(kind, false)
}

// AliasURL returns the published mTLS alias (RFC 8705, section 5) of the
// endpoint of kind, or "".
func (e *Endpoints) AliasURL(kind string) string {
	return e.find(kind, true)
}

func (e *Endpoints) find(kind string, alias bool) string {
	if e == nil {
		return ""
	}
	for _, ep := range e.list {
		if ep.Kind == kind && ep.Alias == alias {
			return ep.URL
		}
	}
	return ""
}

// All returns every published endpoint, discovery locations first.
func (e *Endpoints) All() []Endpoint {
	if e == nil {
		return nil
	}
	return append([]Endpoint(nil), e.list...)
}

func describe(kind string) string {
	switch kind {
	case EndpointPAR:
		return "PAR endpoint"
	case EndpointJWKS:
		return "key set (jwks_uri)"
	case EndpointOpenIDConfiguration:
		return "OpenID discovery document"
	default:
		return "RFC 8414 metadata document"
	}
}

// UpstreamBase returns the URL requests are forwarded to: their path is
// appended to its path. When the upstream URL's path is the issuer's path
// (PARJARM_UPSTREAM_URL=http://keycloak:8080/realms/bank for the issuer
// https://login.example/realms/bank), the upstream URL names where the
// issuer lives on the upstream, and the public paths, which already carry
// the issuer's path, are forwarded unchanged: the path is dropped.
func UpstreamBase(upstream *url.URL, issuer string) *url.URL {
	up := strings.TrimSuffix(upstream.Path, "/")
	iss, err := url.Parse(issuer)
	if up == "" || err != nil || strings.TrimSuffix(iss.Path, "/") != up {
		return upstream
	}
	u := *upstream
	u.Path, u.RawPath = "", ""
	return &u
}
