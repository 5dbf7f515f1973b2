package client

import (
	"errors"
	"fmt"
	"slices"

	"github.com/parjarm/parjarm/profile"
)

// validateProfile checks a client's fapi_profile and, under a profile of
// its own, that its metadata does not contradict it (profile.CheckClient). A
// profile that requires PAR makes the client require it (RFC 9126, section
// 6), so that every check of require_pushed_authorization_requests sees it.
func validateProfile(c *Client, p *problems) {
	if _, err := profile.Parse(string(c.Profile)); err != nil {
		p.add("fapi_profile", "%v", err)
		return
	}
	for _, pr := range profile.CheckClient(c.Profile, profileMetadata(c)) {
		p.add(pr.Field, "%s", pr.Message)
	}
	if c.Profile.RequiresPAR() {
		c.RequirePAR = true
	}
}

// profileMetadata is what the profile rules read of c.
func profileMetadata(c *Client) profile.Client {
	return profile.Client{
		AuthMethod:                     c.TokenEndpointAuthMethod,
		RedirectURIs:                   c.RedirectURIs,
		AuthorizationSignedResponseAlg: c.AuthorizationSignedResponseAlg,
		RequestObjectSigningAlg:        c.RequestObjectSigningAlg,
		TokenEndpointAuthSigningAlg:    c.TokenEndpointAuthSigningAlg,
		PARLifetime:                    c.PARLifetime,
	}
}

// CheckProfile checks the clients that register no fapi_profile against
// the gateway's profile (PARJARM_PROFILE), as validateProfile checks the
// others at parsing: every problem at once, each naming the client and the
// field. It is for start-up; with profile.None it returns nil.
func (r *Registry) CheckProfile(global profile.Name) error {
	if global == profile.None {
		return nil
	}
	ids := make([]string, 0, len(r.clients))
	for id, c := range r.clients {
		if c.Profile == profile.None {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	var errs []error
	for _, id := range ids {
		for _, pr := range profile.CheckClient(global, profileMetadata(r.clients[id])) {
			errs = append(errs, fmt.Errorf("client %q: %s (PARJARM_PROFILE=%s)", id, pr, global))
		}
	}
	return errors.Join(errs...)
}
