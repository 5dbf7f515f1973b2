package proxy

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/parjarm/parjarm/authreq"
	"github.com/parjarm/parjarm/client"
	"github.com/parjarm/parjarm/flow"
	"github.com/parjarm/parjarm/oauth"
	"github.com/parjarm/parjarm/par"
	"github.com/parjarm/parjarm/store"
	"github.com/parjarm/parjarm/tracing"
)

// authorize handles the upstream's authorization endpoint (DESIGN flow 2).
// Every decision is made on the parameters authreq.Parse reads (the query
// and a POST's body together, as the most lenient upstream reads them), and
// what goes upstream is rebuilt from exactly those parameters.
func (g *Gateway) authorize(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		g.writePage(w, r, oauth.ErrMethodNotAllowed)
		return
	}
	params, err := g.authorizationParams(r)
	if err != nil {
		g.writePage(w, r, err)
		return
	}
	ctx := r.Context()
	requestURI := params.Get("request_uri")
	if g.opts.PAREnabled && par.IsRequestURI(requestURI) {
		g.expand(w, r, params)
		return
	}

	c, registered := g.reg.Lookup(params.Get("client_id"))
	if g.opts.PAREnabled {
		required, err := g.parRequired(params)
		if err != nil {
			g.writePage(w, r, err)
			return
		}
		if required {
			// PAR is required (RFC 9126, sections 4 and 6). Only the upstream
			// re-entering its own authorization endpoint with the exact query
			// the gateway expanded earlier passes (DESIGN flow 2).
			known, err := g.tracker.Remembered(ctx, g.withoutReentryParams(params))
			if err != nil {
				g.writePage(w, r, storeError(err))
				return
			}
			if !known {
				g.writePage(w, r, oauth.ErrInvalidRequest.WithDescription("%spushed authorization request required: use the pushed_authorization_request_endpoint", g.profileRule(c, registered)))
				return
			}
			g.forward(w, r, http.MethodGet, params)
			return
		}
	}
	if registered && g.opts.EnforceRedirectURIs && params.Has("redirect_uri") && !c.HasRedirectURI(params.Get("redirect_uri")) {
		// RFC 6749, section 3.1.2.3 and 4.1.2.1: a redirect_uri that is not
		// exactly registered is never redirected to, and never reaches an
		// upstream that may match it loosely (ORY Hydra: port, userinfo).
		g.writePage(w, r, oauth.ErrInvalidRequest.WithDescription("redirect_uri is not registered for this client (exact match)"))
		return
	}
	if g.opts.JARMEnabled && flow.IsJWTMode(params.Get("response_mode")) {
		if requestURI != "" || params.Has("request") {
			// The gateway must read the parameters it signs a response for.
			g.writePage(w, r, oauth.ErrInvalidRequest.WithDescription("a JWT response_mode is supported with pushed requests or plain parameters, not with request or request_uri"))
			return
		}
		if !registered {
			// The gateway must know the redirect_uris it signs for.
			g.writePage(w, r, oauth.ErrInvalidRequest.WithDescription("client is not registered with the gateway for JWT response modes"))
			return
		}
		g.track(w, r, c, params, "")
		return
	}
	g.forward(w, r, r.Method, params)
}

// parRequired reports whether PAR is required for the request (RFC 9126,
// section 6: the server MUST refuse a non-pushed request of a client that
// requires PAR): by the gateway, or by any client the upstream may take the
// request for, the client_id parameter's or a request object's (RFC 9101,
// section 5). A request whose client the gateway cannot read while some
// client requires PAR is refused: it may be that client's.
func (g *Gateway) parRequired(params url.Values) (bool, error) {
	if g.opts.RequirePAR {
		return true, nil
	}
	id := params.Get("client_id")
	ids := []string{id}
	requestURI := params.Get("request_uri")
	if params.Has("request") || requestURI != "" {
		if !params.Has("client_id") {
			// RFC 9101, section 5: client_id is required next to request
			// and request_uri, so the client is known without reading them.
			return false, oauth.ErrInvalidRequest.WithDescription("client_id is required with request and request_uri (RFC 9101, section 5)")
		}
	}
	if params.Has("request") {
		inner, readable := authreq.RequestObjectClients(params.Get("request"))
		if !readable && g.reg.RequiresPAR() {
			return false, oauth.ErrInvalidRequestObject.WithDescription("the gateway cannot read the request object's client: push it to the pushed_authorization_request_endpoint")
		}
		for _, v := range inner {
			if v != id {
				// RFC 9101, section 5: the client_id parameter must match
				// the request object's.
				return false, oauth.ErrInvalidRequestObject.WithDescription("the request object's client_id and iss must equal the client_id parameter")
			}
		}
		ids = append(ids, inner...)
	}
	if requestURI != "" && g.reg.RequiresPAR() {
		// A request_uri by reference (RFC 9101, section 5.2) names a request
		// object the upstream fetches and the gateway cannot read.
		return false, oauth.ErrInvalidRequest.WithDescription("request_uri values other than the gateway's pushed ones are not accepted: push the request to the pushed_authorization_request_endpoint")
	}
	for _, v := range ids {
		if c, ok := g.reg.Lookup(v); ok && c.RequirePAR {
			return true, nil
		}
	}
	return false, nil
}

// withoutReentryParams returns params without the parameters the upstream
// adds when it re-enters its authorization endpoint (ORY Hydra's
// login_verifier, consent_verifier): what is left must be, parameter for
// parameter, a query the gateway sent upstream. None of them is an OAuth
// parameter (config refuses those), so none changes the request.
func (g *Gateway) withoutReentryParams(params url.Values) url.Values {
	var out url.Values
	for _, name := range g.opts.ReentryParams {
		if !params.Has(name) {
			continue
		}
		if out == nil {
			out = make(url.Values, len(params))
			for k, vs := range params {
				out[k] = vs
			}
		}
		delete(out, name)
	}
	if out == nil {
		return params
	}
	return out
}

// authorizationParams reads the request's authorization parameters: the
// query, and for a POST the form body too (authreq.Parse).
func (g *Gateway) authorizationParams(r *http.Request) (url.Values, error) {
	var body string
	if r.Method == http.MethodPost {
		mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mt != "application/x-www-form-urlencoded" {
			return nil, oauth.ErrInvalidRequest.WithDescription("authorization requests are POSTed as application/x-www-form-urlencoded")
		}
		b, err := readBody(r, g.opts.MaxFormBytes)
		if err != nil {
			return nil, err
		}
		body = b
	}
	return authreq.Parse(r.URL.RawQuery, body, g.opts.MaxParams)
}

// expand serves an authorization request that carries one of our
// request_uris (RFC 9126, section 4): client_id and request_uri alone are
// enough, any other parameter is ignored.
func (g *Gateway) expand(w http.ResponseWriter, r *http.Request, params url.Values) {
	exp, err := g.par.Expand(r.Context(), params.Get("client_id"), params.Get("request_uri"))
	if err != nil {
		if exp != nil {
			// The pushed request no longer meets the client's policy (RFC
			// 9126, section 7.4): a known flow, answered in its mode.
			g.refuse(w, r, exp.Client, exp.Params, err)
			return
		}
		g.writePage(w, r, err)
		return
	}
	g.track(w, r, exp.Client, exp.Params, exp.Key)
}

// track opens a transaction for the flow and sends it upstream with the
// transaction id as state and without a JWT response mode (DESIGN flow 2).
// requestURIKey is the pushed request's store key, or "" without PAR.
func (g *Gateway) track(w http.ResponseWriter, r *http.Request, c *client.Client, params url.Values, requestURIKey string) {
	ctx := r.Context()
	if requestURIKey == "" {
		// A pushed request was validated at the push and again at its
		// expansion (RFC 9126, section 7.4); a plain one is validated here.
		if err := g.par.Validate(params, c); err != nil {
			g.refuse(w, r, c, params, err)
			return
		}
	}
	responseType := params.Get("response_type")
	mode, err := flow.ResolveMode(params.Get("response_mode"), responseType, c.AuthorizationEncryptedResponseAlg != "")
	if err != nil {
		g.writePage(w, r, err)
		return
	}
	tx := &flow.Transaction{
		ClientID:      c.ID,
		RedirectURI:   params.Get("redirect_uri"),
		ResponseType:  responseType,
		Mode:          mode,
		State:         params.Get("state"),
		HasState:      params.Has("state"),
		RequestURIKey: requestURIKey,

		CodeChallenge:       params.Get("code_challenge"),
		CodeChallengeMethod: params.Get("code_challenge_method"),
	}
	up := make(url.Values, len(params))
	for k, vs := range params {
		up[k] = append([]string(nil), vs...)
	}
	// The upstream answers in its default mode for the response type (a
	// redirect the gateway can read); the gateway delivers the client's mode.
	up.Del("response_mode")
	if _, err := g.tracker.Open(ctx, tx, up); err != nil {
		g.writePage(w, r, storeError(err))
		return
	}
	if g.tracer != nil {
		trace.SpanFromContext(ctx).SetAttributes(tracing.AttrClientID.String(c.ID), tracing.AttrResponseMode.String(mode.String()))
	}
	if ce := g.log.Check(zap.DebugLevel, "authorization flow opened"); ce != nil {
		ce.Write(zap.String("client_id", c.ID), zap.String("response_mode", mode.String()), zap.Bool("par", requestURIKey != ""))
	}
	g.forward(w, r, http.MethodGet, up)
}

// refuse answers an invalid authorization request. When the client and its
// redirect_uri are known and the response mode can be resolved, the error
// goes back to the client in that mode (JWT-wrapped for JARM); otherwise it
// is shown as a page (RFC 6749, section 4.1.2.1).
func (g *Gateway) refuse(w http.ResponseWriter, r *http.Request, c *client.Client, params url.Values, err error) {
	oe := oauth.From(err)
	redirectURI := params.Get("redirect_uri")
	mode, merr := flow.ResolveMode(params.Get("response_mode"), params.Get("response_type"), c.AuthorizationEncryptedResponseAlg != "")
	if oe.Status >= 500 || !c.HasRedirectURI(redirectURI) || merr != nil {
		g.writePage(w, r, oe)
		return
	}
	resp := url.Values{"error": {oe.Code}}
	if oe.Description != "" {
		resp.Set("error_description", oe.Description)
	}
	if params.Has("state") {
		resp.Set("state", params.Get("state"))
	}
	tx := &flow.Transaction{ClientID: c.ID, RedirectURI: redirectURI, ResponseType: params.Get("response_type"), Mode: mode}
	out, derr := g.deliver(r.Context(), tx, c, resp)
	if derr != nil {
		g.writePage(w, r, derr)
		return
	}
	g.m.Errors.WithLabelValues(oe.Code).Inc()
	out.Write(w)
}

// forward sends the authorization request upstream with params and
// nothing else: a GET with params as its query, or a POST with params as its
// form body and no query. Whatever else the incoming request carried (a
// GET's body, a POST's query) never reaches the upstream.
func (g *Gateway) forward(w http.ResponseWriter, r *http.Request, method string, params url.Values) {
	out := r.Clone(r.Context())
	out.Method = method
	u := *r.URL
	u.RawQuery = ""
	out.URL = &u
	out.RequestURI = ""
	out.Header.Del("Content-Type")
	out.Header.Del("Content-Length")
	out.Header.Del("Content-Encoding")
	out.Header.Del("Transfer-Encoding")
	out.TransferEncoding = nil
	if method == http.MethodPost {
		body := params.Encode()
		out.Body = io.NopCloser(strings.NewReader(body))
		out.ContentLength = int64(len(body))
		out.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		u.RawQuery = params.Encode()
		out.Body = http.NoBody
		out.ContentLength = 0
	}
	g.rp.ServeHTTP(w, out)
}

// storeError maps a store failure to the OAuth error answered for it.
func storeError(err error) error {
	if errors.Is(err, store.ErrUnavailable) {
		return oauth.ErrTemporarilyUnavailable.WithDescription("the gateway's store is unavailable; try again").WithCause(err)
	}
	return oauth.From(err)
}

// profileRule names the FAPI rule that requires PAR for the client (or the
// gateway), as a prefix of the refusal's description; "" when no profile
// requires it (profile.Name.PARRule).
func (g *Gateway) profileRule(c *client.Client, registered bool) string {
	p := g.opts.Profile
	if registered {
		p = c.Profile.Or(p)
	}
	if !p.RequiresPAR() {
		return ""
	}
	return p.PARRule() + ": "
}
