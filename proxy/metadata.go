package proxy

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/go-jose/go-jose/v4"
	"go.uber.org/zap"

	"github.com/parjarm/parjarm/flow"
	"github.com/parjarm/parjarm/profile"
)

// RewriteDiscovery returns the upstream's discovery document as the gateway
// publishes it: the PAR endpoint and policy (RFC 9126, section 5), the JWT
// response modes (JARM section 3), the JARM algorithm lists, and jwks_uri
// pointing at the merged key set. The gateway's URLs come from
// o.Endpoints, the table ServeHTTP routes from. The upstream document is
// not modified.
func RewriteDiscovery(upstream map[string]any, o Options) map[string]any {
	doc := make(map[string]any, len(upstream)+8)
	for k, v := range upstream {
		if s, ok := v.(string); ok {
			v = PublicEndpoint(o.Upstream, o.PublicURL, s)
		}
		doc[k] = v
	}
	doc["issuer"] = o.Issuer
	if par := o.Endpoints.URL(EndpointPAR); o.PAREnabled && par != "" {
		doc["pushed_authorization_request_endpoint"] = par
		doc["require_pushed_authorization_requests"] = o.RequirePAR
		for k, v := range o.PARMetadata {
			doc[k] = v
		}
	} else {
		delete(doc, "pushed_authorization_request_endpoint")
		delete(doc, "require_pushed_authorization_requests")
	}
	rewriteMTLSAliases(doc, upstream, o)
	if o.JARMEnabled {
		// RFC 8414 section 2: the default is ["query", "fragment"].
		modes := []string{flow.ModeQuery, flow.ModeFragment}
		if up, ok := upstream["response_modes_supported"].([]any); ok {
			modes = modes[:0]
			for _, m := range up {
				if s, ok := m.(string); ok && !flow.IsJWTMode(s) {
					modes = append(modes, s)
				}
			}
		}
		doc["response_modes_supported"] = append(modes, flow.JWTModes...)
		for k, v := range o.Metadata {
			doc[k] = v
		}
	}
	// RFC 9207: every response of a tracked flow carries iss. Plain flows
	// carry it only if the upstream sends it, so the claim is made when the
	// upstream makes it or when every flow is tracked (PAR required).
	if up, _ := upstream["authorization_response_iss_parameter_supported"].(bool); up || (o.PAREnabled && o.RequirePAR) {
		doc["authorization_response_iss_parameter_supported"] = true
	}
	if o.Codes != nil {
		// RFC 8414, section 2: the gateway checks S256 at the token
		// endpoint (RFC 7636, section 4.6) for the upstream.
		doc["code_challenge_methods_supported"] = []string{"S256"}
	}
	if jwks := o.Endpoints.URL(EndpointJWKS); jwks != "" {
		doc["jwks_uri"] = jwks
	}
	// A FAPI profile narrows what is advertised to what it allows.
	if o.PAREnabled {
		profile.Advertise(o.Profile, doc)
	}
	return doc
}

// rewriteMTLSAliases writes mtls_endpoint_aliases (RFC 8705, section 5):
// the upstream's aliases, mapped to the public URL as its other endpoints
// are, with the gateway's PAR alias from the endpoints table. An upstream
// alias of a PAR endpoint the gateway does not serve is removed.
// tls_client_certificate_bound_access_tokens and
// token_endpoint_auth_methods_supported describe the upstream's token
// endpoint and pass through unchanged.
func rewriteMTLSAliases(doc, upstream map[string]any, o Options) {
	aliases := map[string]any{}
	if up, ok := upstream["mtls_endpoint_aliases"].(map[string]any); ok {
		for k, v := range up {
			if s, ok := v.(string); ok {
				v = PublicEndpoint(o.Upstream, o.PublicURL, s)
			}
			aliases[k] = v
		}
	}
	delete(aliases, EndpointPAR)
	if alias := o.Endpoints.AliasURL(EndpointPAR); o.PAREnabled && alias != "" {
		aliases[EndpointPAR] = alias
	}
	if len(aliases) == 0 {
		delete(doc, "mtls_endpoint_aliases")
		return
	}
	doc["mtls_endpoint_aliases"] = aliases
}

func (g *Gateway) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	up, err := g.disc.Document(r.Context())
	if err != nil {
		g.log.Warn("upstream discovery unavailable", zap.Error(err))
		w.Header().Set("Retry-After", "5")
		http.Error(w, "503 the authorization server's metadata is unavailable", http.StatusServiceUnavailable)
		return
	}
	writeJSON(w, RewriteDiscovery(up, g.opts))
}

// MergeKeys returns one key set holding the upstream's keys, as the
// upstream wrote them, and the gateway's; a kid that appears in both is an
// error (a verifier could not tell which key signed).
func MergeKeys(upstream *RawKeySet, ours jose.JSONWebKeySet) (*RawKeySet, error) {
	seen := make(map[string]bool, len(ours.Keys))
	for _, k := range ours.Keys {
		seen[k.KeyID] = true
	}
	merged := &RawKeySet{Keys: make([]json.RawMessage, 0, len(upstream.Keys)+len(ours.Keys))}
	for i, kid := range upstream.KIDs() {
		if kid != "" && seen[kid] {
			return nil, fmt.Errorf("kid %q is used by both the upstream and the gateway", kid)
		}
		merged.Keys = append(merged.Keys, upstream.Keys[i])
	}
	for _, k := range ours.Keys {
		b, err := k.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("encode the gateway's key %q: %w", k.KeyID, err)
		}
		merged.Keys = append(merged.Keys, b)
	}
	return merged, nil
}

func (g *Gateway) serveJWKS(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	up, err := g.disc.UpstreamKeys(r.Context())
	if err != nil {
		// The gateway's own keys still verify JARM responses.
		g.log.Warn("upstream key set unavailable; serving the gateway's keys only", zap.Error(err))
		up = &RawKeySet{}
	}
	ours := g.opts.Keys
	if g.opts.PublicKeys != nil {
		ours = g.opts.PublicKeys()
	}
	merged, err := MergeKeys(up, ours)
	if err != nil {
		g.log.Error("key set clash; serving the gateway's keys only", zap.Error(err))
		merged, _ = MergeKeys(&RawKeySet{}, ours)
	}
	writeJSON(w, merged)
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "500 cannot encode document", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=60")
	_, _ = w.Write(b)
}
