package proxy

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/parjarm/parjarm/client"
	"github.com/parjarm/parjarm/flow"
	"github.com/parjarm/parjarm/oauth"
	"github.com/parjarm/parjarm/par"
	"github.com/parjarm/parjarm/store"
)

// authorize handles the upstream's authorization endpoint (DESIGN flow 2).
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
	if g.opts.PAREnabled && (g.opts.RequirePAR || (registered && c.RequirePAR)) {
		// PAR is required (RFC 9126, sections 4 and 6). Only the upstream
		// re-entering its own authorization endpoint with the exact query the
		// gateway expanded earlier passes (DESIGN flow 2).
		known, err := g.tracker.Remembered(ctx, params)
		if err != nil {
			g.writePage(w, r, storeError(err))
			return
		}
		if !known {
			g.writePage(w, r, oauth.ErrInvalidRequest.WithDescription("pushed authorization request required: use the pushed_authorization_request_endpoint"))
			return
		}
		g.forward(w, r, params)
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
	g.rp.ServeHTTP(w, r)
}

// authorizationParams reads the request's authorization parameters: the
// query of a GET, the form body of a POST (OpenID Connect Core, 3.1.2.1).
// Malformed encoding and repeated parameters are refused (RFC 6749, 3.1).
func (g *Gateway) authorizationParams(r *http.Request) (url.Values, error) {
	raw := r.URL.RawQuery
	if r.Method == http.MethodPost {
		mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mt != "application/x-www-form-urlencoded" {
			return nil, oauth.ErrInvalidRequest.WithDescription("authorization requests are POSTed as application/x-www-form-urlencoded")
		}
		body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, g.opts.MaxFormBytes))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, oauth.ErrRequestTooLarge
			}
			return nil, oauth.ErrInvalidRequest.WithDescription("cannot read the request body").WithCause(err)
		}
		// Restore the body for a pass-through.
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		r.Header.Set("Content-Length", strconv.Itoa(len(body)))
		raw = string(body)
	}
	params, err := url.ParseQuery(raw)
	if err != nil {
		return nil, oauth.ErrInvalidRequest.WithDescription("malformed authorization request parameters")
	}
	for k, vs := range params {
		if len(vs) > 1 {
			return nil, oauth.ErrInvalidRequest.WithDescription("parameter %q is repeated", truncate(k))
		}
		// A value that is not UTF-8 could not be carried unchanged (a state
		// altered in a JWT fails the client's check after the login).
		if !utf8.ValidString(k) || !utf8.ValidString(vs[0]) {
			return nil, oauth.ErrInvalidRequest.WithDescription("parameters must be UTF-8")
		}
	}
	return params, nil
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
	}
	id, err := g.tracker.Open(ctx, tx)
	if err != nil {
		g.writePage(w, r, storeError(err))
		return
	}
	up := make(url.Values, len(params))
	for k, vs := range params {
		up[k] = append([]string(nil), vs...)
	}
	// The upstream answers in its default mode for the response type (a
	// redirect the gateway can read); the gateway delivers the client's mode.
	up.Del("response_mode")
	up.Set("state", id)
	if err := g.tracker.Remember(ctx, up); err != nil {
		g.writePage(w, r, storeError(err))
		return
	}
	if ce := g.log.Check(zap.DebugLevel, "authorization flow opened"); ce != nil {
		ce.Write(zap.String("client_id", c.ID), zap.String("response_mode", mode.String()), zap.Bool("par", requestURIKey != ""))
	}
	g.forward(w, r, up)
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

// forward sends the authorization request upstream as a GET with params as
// its query.
func (g *Gateway) forward(w http.ResponseWriter, r *http.Request, params url.Values) {
	out := r.Clone(r.Context())
	out.Method = http.MethodGet
	u := *r.URL
	u.RawQuery = params.Encode()
	out.URL = &u
	out.RequestURI = ""
	out.Body = http.NoBody
	out.ContentLength = 0
	out.Header.Del("Content-Type")
	out.Header.Del("Content-Length")
	g.rp.ServeHTTP(w, out)
}

// truncate shortens attacker-chosen text before it goes into a description.
func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// storeError maps a store failure to the OAuth error answered for it.
func storeError(err error) error {
	if errors.Is(err, store.ErrUnavailable) {
		return oauth.ErrTemporarilyUnavailable.WithDescription("the gateway's store is unavailable; try again").WithCause(err)
	}
	return oauth.From(err)
}
