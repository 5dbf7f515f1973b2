package proxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/parjarm/parjarm/client"
	"github.com/parjarm/parjarm/flow"
	"github.com/parjarm/parjarm/oauth"
	"github.com/parjarm/parjarm/tracing"
)

// maxDrainedBody is the largest upstream redirect body the gateway reads to
// reuse the connection; a larger or chunked one closes it.
const maxDrainedBody = 4 << 10

// modifyResponse intercepts the upstream's authorization responses (DESIGN
// flow 3): a redirect whose state is one of our transaction ids is delivered
// to the client in the mode it asked for. Everything else passes untouched.
// An error returned here is answered by errorHandler as an error page: the
// plain response never leaks.
func (g *Gateway) modifyResponse(resp *http.Response) error {
	switch resp.StatusCode {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
	default:
		return nil
	}
	location := resp.Header.Get("Location")
	state, ok := flow.StateOf(location)
	if !ok || !flow.IsID(state) {
		if ids := flow.IDsIn(location); len(ids) > 0 {
			// One of our ids where a state cannot be read: never pass it.
			_, err := g.intercept(resp, func(upReq *http.Request) (*flow.Response, error) {
				return nil, g.stray(upReq, ids, location)
			})
			return err
		}
		// A flow the gateway does not track: RFC 9207 mix-up defence still
		// needs the gateway's issuer in an upstream iss that differs.
		if up := g.opts.UpstreamIssuer; up != "" && up != g.opts.Issuer {
			if loc, ok := replaceIss(location, up, g.opts.Issuer); ok {
				resp.Header.Set("Location", loc)
			}
		}
		return nil
	}
	out, err := g.intercept(resp, func(upReq *http.Request) (*flow.Response, error) {
		return g.complete(upReq, state, location)
	})
	if err != nil {
		return err
	}
	if out == nil {
		return nil // one of the upstream's own steps: not the flow's end
	}
	// The upstream's own redirect body is replaced. A small one of known
	// length is read first, so that its connection goes back to the pool
	// instead of being closed unread (a new upstream dial per completed
	// flow, found by profiling the soak).
	if resp.ContentLength >= 0 && resp.ContentLength <= maxDrainedBody {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrainedBody))
	}
	_ = resp.Body.Close()
	resp.StatusCode = out.Status
	resp.Status = strconv.Itoa(out.Status) + " " + http.StatusText(out.Status)
	for _, h := range []string{"Location", "Content-Type", "Content-Length", "Content-Encoding", "Etag", "Last-Modified"} {
		resp.Header.Del(h)
	}
	// Upstream headers such as Set-Cookie are kept; ours win.
	for k, vs := range out.Header {
		resp.Header[k] = vs
	}
	resp.Body = io.NopCloser(bytes.NewReader(out.Body))
	resp.ContentLength = int64(len(out.Body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(out.Body)))
	return nil
}

// intercept runs the interception of resp (complete or stray) in an
// "intercept" span, when tracing is on, that records the outcome:
// "delivered", "passed" (a step inside the authorization server) or the
// OAuth error code.
func (g *Gateway) intercept(resp *http.Response, run func(upReq *http.Request) (*flow.Response, error)) (*flow.Response, error) {
	if g.tracer == nil {
		return run(resp.Request)
	}
	ctx, span := g.tracer.Start(resp.Request.Context(), "intercept")
	defer span.End()
	out, err := run(resp.Request.WithContext(ctx))
	switch {
	case err != nil:
		oe := oauth.From(err)
		span.SetAttributes(tracing.AttrOutcome.String(oe.Code))
		if oe.Status >= http.StatusInternalServerError {
			span.SetStatus(codes.Error, oe.Code)
		}
	case out == nil:
		span.SetAttributes(tracing.AttrOutcome.String("passed"))
	default:
		span.SetAttributes(tracing.AttrOutcome.String("delivered"))
	}
	return out, err
}

// complete finishes the flow of transaction id, whose upstream response
// went to location, and returns the response for the client. It returns nil
// and no error for a redirect that carries our state but stays inside the
// authorization server (a login step that replays the authorization URL):
// that is not the end of the flow.
func (g *Gateway) complete(upReq *http.Request, id, location string) (*flow.Response, error) {
	ctx := upReq.Context()
	internal := g.internal(upReq, location)
	// A redirect that stays inside the authorization server may be a step
	// of its sign-in, not the end of the flow: the transaction is only read.
	// Any other redirect ends the flow, whatever it carries, so the
	// transaction is taken at once: of two racing completions only one gets
	// it, and a flow costs one store round trip less than a read and a take.
	take := !internal
	var tx *flow.Transaction
	var err error
	if take {
		tx, err = g.tracker.Take(ctx, id)
	} else {
		tx, err = g.tracker.Peek(ctx, id)
	}
	if errors.Is(err, flow.ErrUnknown) {
		if internal {
			return nil, nil
		}
		g.m.InterceptFailures.WithLabelValues("unknown_transaction").Inc()
		return nil, oauth.ErrInvalidRequest.WithDescription("this authorization flow has expired or was already completed; start again")
	}
	if err != nil {
		g.m.InterceptFailures.WithLabelValues("store").Inc()
		return nil, storeError(err)
	}
	params, perr := flow.ResponseParams(location, tx.RedirectURI)
	if perr != nil && internal {
		return nil, nil
	}
	if !take {
		// The redirect stays on the server's hosts yet is the client's
		// authorization response: take the transaction now.
		if tx, err = g.tracker.Take(ctx, id); errors.Is(err, flow.ErrUnknown) {
			g.m.InterceptFailures.WithLabelValues("unknown_transaction").Inc()
			return nil, oauth.ErrInvalidRequest.WithDescription("this authorization flow was already completed; start again")
		} else if err != nil {
			g.m.InterceptFailures.WithLabelValues("store").Inc()
			return nil, storeError(err)
		}
	}
	if perr != nil {
		reason := "malformed_response"
		if errors.Is(perr, flow.ErrRedirectMismatch) {
			reason = "redirect_mismatch"
		}
		g.m.InterceptFailures.WithLabelValues(reason).Inc()
		g.log.Warn("upstream authorization response refused", zap.String("client_id", tx.ClientID), zap.String("reason", reason))
		return nil, oauth.ErrServerError.WithStatus(http.StatusBadGateway).WithDescription("the authorization server answered with an unexpected redirect").WithCause(perr)
	}
	if tx.RequestURIKey != "" {
		// RFC 9126, section 4 and 7.3: the request_uri is used once, when its
		// flow completes; of two racing flows, one consumes it.
		if err := g.par.Consume(ctx, tx.RequestURIKey); err != nil {
			g.m.InterceptFailures.WithLabelValues("request_uri_used").Inc()
			g.m.Expansions.WithLabelValues("reused").Inc()
			return nil, err
		}
	}
	params.Del("state")
	if tx.HasState {
		params.Set("state", tx.State)
	}
	c, ok := g.reg.Lookup(tx.ClientID)
	if !ok {
		// The client was removed while the flow ran: its keys and
		// algorithms are unknown, so nothing is delivered.
		g.m.InterceptFailures.WithLabelValues("client_removed").Inc()
		return nil, oauth.ErrInvalidRequest.WithDescription("the client is no longer registered")
	}
	if err := g.recordCode(ctx, tx, params); err != nil {
		return nil, err
	}
	if g.tracer != nil {
		trace.SpanFromContext(ctx).SetAttributes(tracing.AttrClientID.String(tx.ClientID), tracing.AttrResponseMode.String(tx.Mode.String()))
	}
	out, err := g.deliver(ctx, tx, c, params)
	if err != nil {
		return nil, err
	}
	g.m.Completions.WithLabelValues(tx.Mode.String(), "delivered").Inc()
	if ce := g.log.Check(zap.InfoLevel, "authorization response delivered"); ce != nil {
		ce.Write(zap.String("client_id", tx.ClientID), zap.String("response_mode", tx.Mode.String()),
			zap.Bool("error", params.Has("error")), zap.Bool("par", tx.RequestURIKey != ""))
	}
	return out, nil
}

// replaceIss replaces the `iss` parameter of location's query or fragment
// when it equals from (RFC 9207, section 2), and reports whether it did.
func replaceIss(location, from, to string) (string, bool) {
	base, frag, hasFrag := strings.Cut(location, "#")
	path, query, hasQuery := strings.Cut(base, "?")
	swap := func(raw string) (string, bool) {
		v, err := url.ParseQuery(raw)
		if err != nil || len(v["iss"]) != 1 || v.Get("iss") != from {
			return raw, false
		}
		v.Set("iss", to)
		return v.Encode(), true
	}
	if hasQuery {
		if q, ok := swap(query); ok {
			out := path + "?" + q
			if hasFrag {
				out += "#" + frag
			}
			return out, true
		}
	}
	if hasFrag {
		if f, ok := swap(frag); ok {
			return base + "#" + f, true
		}
	}
	return location, false
}

// stray handles an upstream redirect that carries transaction ids where
// StateOf cannot read a state. A step inside the authorization server
// passes; a redirect that leaves it is refused, and a live transaction it
// names is completed so that it cannot deliver later.
func (g *Gateway) stray(upReq *http.Request, ids []string, location string) error {
	if g.internal(upReq, location) {
		return nil // e.g. a login page whose return URL carries our state
	}
	ctx := upReq.Context()
	for _, id := range ids {
		if _, err := g.tracker.Peek(ctx, id); err == nil {
			_, _ = g.tracker.Take(ctx, id)
			g.m.InterceptFailures.WithLabelValues("malformed_response").Inc()
			g.log.Warn("upstream authorization response refused", zap.String("reason", "malformed_response"))
			return oauth.ErrServerError.WithStatus(http.StatusBadGateway).WithDescription("the authorization server answered with an unreadable redirect")
		} else if !errors.Is(err, flow.ErrUnknown) {
			return storeError(err)
		}
	}
	g.m.InterceptFailures.WithLabelValues("unknown_transaction").Inc()
	return oauth.ErrInvalidRequest.WithDescription("this authorization flow has expired or was already completed; start again")
}

// responseKeys are the parameters that make a redirect an authorization
// response.
var responseKeys = map[string]bool{"code": true, "access_token": true, "id_token": true, "error": true, "response": true}

// carriesResponse reports whether location's query or fragment holds an
// authorization response parameter, read as leniently as a client might
// (flow.LooseParams: a `?` inside the fragment, as in a hash route
// `#/cb?code=…`, hides nothing) and as a browser reads it (flow.BrowserForm).
func carriesResponse(location string) bool {
	for name := range flow.LooseParams(flow.BrowserForm(location)) {
		if responseKeys[flow.Unescape(name)] {
			return true
		}
	}
	return false
}

// internal reports whether location, from the upstream's answer to upReq,
// is a step inside the authorization server (a login page that replays the
// authorization URL): a browser that follows it stays on the public host or
// the upstream's host, and it carries no authorization response parameter.
func (g *Gateway) internal(upReq *http.Request, location string) bool {
	hosts := []string{upReq.Host, g.opts.Upstream.Host}
	if p, err := url.Parse(g.opts.PublicURL); err == nil && p.Host != "" {
		hosts = append(hosts, p.Host)
	}
	return staysOn(location, hosts)
}

// staysOn reports whether a browser that follows location stays on one of
// hosts (a relative reference stays where it is), and location carries no
// authorization response parameter.
func staysOn(location string, hosts []string) bool {
	if carriesResponse(location) {
		return false
	}
	u, ok := browserURL(location)
	if !ok {
		return false
	}
	if u.Host == "" {
		return u.Scheme == "" // a relative reference
	}
	if u.Scheme != "" && u.Scheme != "http" && u.Scheme != "https" {
		return false
	}
	for _, h := range hosts {
		if h != "" && strings.EqualFold(u.Host, h) {
			return true
		}
	}
	return false
}

// browserURL parses location as a browser reads it on an http(s) page
// (WHATWG URL Standard, basic URL parser), where it differs from RFC 3986
// and url.Parse:
//   - leading and trailing C0 controls and spaces, and every ASCII tab and
//     newline, are removed (flow.BrowserForm);
//   - before the query and the fragment, `\` is a path separator like `/`
//     (http and https are special schemes);
//   - a reference that starts with two or more slashes names the host after
//     them ("special authority ignore slashes state"), and so does an http(s)
//     URL however many slashes follow its scheme, even none. (A browser on a
//     page of the same scheme reads `https:host` as a relative path; reading
//     it as a host can only refuse a Location, never let one pass.)
//
// ok is false for a Location a browser cannot follow (no host after the
// slashes) or url.Parse cannot read.
func browserURL(location string) (u *url.URL, ok bool) {
	s := flow.BrowserForm(location)
	end := strings.IndexAny(s, "?#")
	if end < 0 {
		end = len(s)
	}
	head, tail := strings.ReplaceAll(s[:end], `\`, "/"), s[end:]
	var prefix string
	if scheme, rest, ok := cutScheme(head); ok {
		if !strings.EqualFold(scheme, "http") && !strings.EqualFold(scheme, "https") {
			// Not a special scheme: `\` is no separator, nothing to redo.
			u, err := url.Parse(s)
			return u, err == nil
		}
		prefix, head = strings.ToLower(scheme)+"://", strings.TrimLeft(rest, "/")
	} else if strings.HasPrefix(head, "//") {
		prefix, head = "//", strings.TrimLeft(head, "/")
	}
	if prefix != "" && (head == "" || head[0] == '/') {
		return nil, false // no host: a browser refuses it
	}
	u, err := url.Parse(prefix + head + tail)
	if err != nil || (prefix != "" && u.Host == "") {
		return nil, false
	}
	return u, true
}

// cutScheme splits a URL's scheme from the rest (RFC 3986, section 3.1:
// ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":").
func cutScheme(s string) (scheme, rest string, ok bool) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		case i > 0 && c == ':':
			return s[:i], s[i+1:], true
		default:
			return "", s, false
		}
	}
	return "", s, false
}

// deliver builds the response that carries params to the transaction's
// redirect_uri in its mode, with iss (RFC 9207) set to the gateway's issuer;
// JARM modes wrap everything in one JWT.
func (g *Gateway) deliver(ctx context.Context, tx *flow.Transaction, c *client.Client, params url.Values) (*flow.Response, error) {
	// RFC 9207, section 2: the issuer identifies the response; an upstream
	// iss that differs is replaced.
	params.Set("iss", g.opts.Issuer)
	if tx.Mode.JWT {
		if g.jarm == nil {
			return nil, oauth.ErrServerError.WithDescription("JWT response modes are disabled")
		}
		jwt, err := g.jarm.Encode(ctx, c, params)
		if err != nil {
			g.m.JARMResponses.WithLabelValues(tx.Mode.String(), "encode_failed").Inc()
			g.m.InterceptFailures.WithLabelValues("encode_failed").Inc()
			return nil, oauth.ErrServerError.WithDescription("the authorization response cannot be encoded").WithCause(err)
		}
		g.m.JARMResponses.WithLabelValues(tx.Mode.String(), "encoded").Inc()
		params = url.Values{"response": {jwt}}
	}
	out, err := flow.Build(tx.RedirectURI, tx.Mode.Base, params)
	if err != nil {
		return nil, oauth.ErrServerError.WithCause(err)
	}
	return out, nil
}
