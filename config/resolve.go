package config

import (
	"errors"
	"net/url"
)

// Resolved holds the gateway's public identity once the upstream discovery
// `issuer` is known: the values the operator left empty are filled from it.
type Resolved struct {
	// Issuer is the exact issuer string: JARM `iss` (JARM section 2.1),
	// the RFC 9207 `iss` parameter and the discovery `issuer`.
	Issuer string
	// PublicURL is the public base URL of the gateway: PARJARM_PAR_PATH and
	// PARJARM_JWKS_PATH are placed below its path (proxy.NewEndpoints
	// builds the published URLs from it).
	PublicURL *url.URL
}

// Resolve fills the issuer and public URL from discoveredIssuer (the
// upstream discovery `issuer`) where PARJARM_ISSUER and PARJARM_PUBLIC_URL
// are empty: Issuer = ISSUER or discoveredIssuer; PublicURL = PUBLIC_URL,
// else ISSUER, else discoveredIssuer. A
// discovered issuer that is used must pass the rules ISSUER does (RFC 8414,
// section 2: https, no query or fragment); the error names PARJARM_ISSUER,
// which overrides it.
func (c *Config) Resolve(discoveredIssuer string) (Resolved, error) {
	var r Resolved
	var discovered *url.URL
	if c.Issuer == nil {
		u, err := url.Parse(discoveredIssuer)
		if err != nil {
			return r, &VarError{Var: Prefix + "ISSUER", Msg: "is empty, and the upstream discovery issuer is not a URL; set PARJARM_ISSUER"}
		}
		var p problems
		p.checkURL("ISSUER", u, !c.AllowInsecureHTTP)
		if len(p) > 0 {
			for i, e := range p {
				ve := e.(*VarError)
				p[i] = &VarError{Var: ve.Var, Msg: "is empty, and the upstream discovery issuer is unusable: " + ve.Msg + "; or set PARJARM_ISSUER"}
			}
			return r, errors.Join(p...)
		}
		discovered = u
	}

	r.Issuer = discoveredIssuer
	if c.Issuer != nil {
		r.Issuer = c.Issuer.String()
	}
	switch {
	case c.PublicURL != nil:
		r.PublicURL = c.PublicURL
	case c.Issuer != nil:
		r.PublicURL = c.Issuer
	default:
		r.PublicURL = discovered
	}
	return r, nil
}
