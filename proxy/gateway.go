// Package proxy owns the gateway's public listener: the reverse proxy in
// front of the upstream, routing (PAR endpoint, discovery, key set,
// authorization endpoint), discovery rewriting and the interception of the
// upstream's authorization responses.
package proxy

import (
	"context"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/parjarm/parjarm/client"
	"github.com/parjarm/parjarm/codebind"
	"github.com/parjarm/parjarm/errpage"
	"github.com/parjarm/parjarm/flow"
	"github.com/parjarm/parjarm/metrics"
	"github.com/parjarm/parjarm/oauth"
	"github.com/parjarm/parjarm/par"
	"github.com/parjarm/parjarm/profile"
	"github.com/parjarm/parjarm/tlsauth"
	"github.com/parjarm/parjarm/tracing"
)

// PAR is what the gateway needs of the par package.
type PAR interface {
	http.Handler
	Expand(ctx context.Context, clientID, requestURI string) (*par.Expansion, error)
	Consume(ctx context.Context, key string) error
	Validate(params url.Values, c *client.Client) error
}

// Encoder encodes JARM responses (the jarm package).
type Encoder interface {
	Encode(ctx context.Context, c *client.Client, params url.Values) (string, error)
}

// Registry looks up registered clients.
type Registry interface {
	Lookup(id string) (*client.Client, bool)
	// RequiresPAR reports whether any client requires PAR.
	RequiresPAR() bool
}

// Options configures the gateway; all plain values.
type Options struct {
	// Upstream is the legacy server's base URL.
	Upstream *url.URL
	// Issuer is the issuer clients see (JARM iss, RFC 9207 iss).
	Issuer string
	// UpstreamIssuer is the upstream's own issuer, from its discovery.
	UpstreamIssuer string
	// PublicURL is the gateway's public base URL.
	PublicURL string
	// PAREnabled and JARMEnabled switch the two features.
	PAREnabled, JARMEnabled bool
	// Endpoints is the table of what the gateway publishes (PAR endpoint,
	// key set, discovery locations): routed and advertised from it alone.
	Endpoints *Endpoints
	// RequirePAR refuses authorization requests without a pushed request_uri.
	RequirePAR bool
	// AuthorizationPath is the upstream authorization endpoint's path.
	AuthorizationPath string
	// PreserveHost sends the public Host header upstream.
	PreserveHost bool
	// ReentryParams are the parameters the upstream adds when it re-enters
	// its own authorization endpoint after a login or consent step.
	ReentryParams []string
	// TrustedProxies are the peers whose X-Forwarded-* headers are kept.
	TrustedProxies []netip.Prefix
	// DialTimeout and ResponseHeaderTimeout bound upstream round trips.
	DialTimeout, ResponseHeaderTimeout time.Duration
	// MaxFormBytes bounds a POSTed authorization request.
	MaxFormBytes int64
	// MaxParams bounds the parameters of an authorization request (0: no
	// limit).
	MaxParams int
	// Metadata adds JARM members to discovery
	// (authorization_signing_alg_values_supported, …).
	Metadata map[string]any
	// PARMetadata adds the PAR endpoint's request object members to
	// discovery when PAR is enabled
	// (request_object_encryption_alg_values_supported, …).
	PARMetadata map[string]any
	// Keys are the gateway's public keys, published next to the upstream's.
	Keys jose.JSONWebKeySet
	// PublicKeys, when set, returns the gateway's public keys at each key
	// set request instead of Keys: the keys a reload swapped in, and a
	// retired key only until its date.
	PublicKeys func() jose.JSONWebKeySet
	// EnforceRedirectURIs refuses a plain authorization request of a
	// registered client whose redirect_uri is not exactly registered.
	EnforceRedirectURIs bool
	// TokenPath is the path of the upstream token endpoint through the
	// gateway, intercepted when Codes is set.
	TokenPath string
	// Codes binds delivered codes to their flows at the token endpoint
	// (PKCE and code binding for an upstream without them); nil leaves the
	// token endpoint to the upstream.
	Codes *codebind.Binder
	// Limiter limits PAR pushes and authorization requests per client
	// address; nil means no limit.
	Limiter *Limiter
	// Pages renders the error pages (the operator's template and
	// languages); nil means the built-in pages.
	Pages *errpage.Pages
	// ClientCertHeaders are the headers a trusted TLS terminator passes
	// client certificates in (PARJARM_CLIENT_CERT_HEADER): removed from
	// every other peer's request before it goes upstream.
	ClientCertHeaders []string
	// UpstreamCertHeader names the header that carries the client
	// certificate the gateway saw (tlsauth.Chain of the request) to the
	// upstream, in UpstreamCertFormat; "" passes none. An incoming copy is
	// always removed.
	UpstreamCertHeader string
	UpstreamCertFormat tlsauth.Format
	// VouchCert reports whether the gateway checked a client certificate
	// chain (client.VerifiedChain): only such a chain is passed upstream.
	// Nil passes none.
	VouchCert func(chain []*x509.Certificate) bool
	// Profile is the gateway's FAPI profile (PARJARM_PROFILE): discovery
	// advertises what it allows (profile.Advertise). It implies RequirePAR,
	// which the caller sets.
	Profile profile.Name
	// TracerProvider traces requests, upstream calls and interceptions
	// (package tracing); nil means tracing is off.
	TracerProvider trace.TracerProvider
}

// Gateway is the public HTTP handler.
type Gateway struct {
	opts    Options
	disc    *Discovery
	par     PAR
	jarm    Encoder
	reg     Registry
	tracker *flow.Tracker
	rp      *httputil.ReverseProxy
	limiter *Limiter
	// authzCanon is canonicalPath(opts.AuthorizationPath).
	authzCanon string
	// tokenCanon is canonicalPath(opts.TokenPath), "" when the token
	// endpoint is not intercepted.
	tokenCanon string
	m          *metrics.Metrics
	log        *zap.Logger
	// tracer is nil when tracing is off.
	tracer trace.Tracer
}

// Transport returns the upstream transport: a clone of the default one with
// timeouts on dial, TLS handshake and response headers.
func Transport(dial, responseHeader time.Duration) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: dial, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = 10 * time.Second
	t.ResponseHeaderTimeout = responseHeader
	t.MaxIdleConnsPerHost = 64
	t.Proxy = nil
	return t
}

// New returns the gateway. jarm may be nil when JARM is disabled.
func New(opts Options, disc *Discovery, p PAR, jarm Encoder, reg Registry, tracker *flow.Tracker, transport http.RoundTripper, m *metrics.Metrics, log *zap.Logger) *Gateway {
	g := &Gateway{opts: opts, disc: disc, par: p, jarm: jarm, reg: reg, tracker: tracker, m: m, log: log, limiter: opts.Limiter,
		authzCanon: canonicalPath(opts.AuthorizationPath), tracer: tracing.Tracer(opts.TracerProvider)}
	if opts.Codes != nil && opts.TokenPath != "" {
		g.tokenCanon = canonicalPath(opts.TokenPath)
	}
	g.rp = &httputil.ReverseProxy{
		Rewrite:        g.rewrite,
		Transport:      &timedTransport{next: tracing.Transport(transport, g.tracer), m: m},
		ModifyResponse: g.modifyResponse,
		ErrorHandler:   g.errorHandler,
		ErrorLog:       zap.NewStdLog(log.Named("reverseproxy")),
		// No FlushInterval: ReverseProxy flushes streamed responses (no
		// Content-Length, or text/event-stream) after every write by itself.
		// A negative interval flushed every response, the headers at once
		// from a timer goroutine and then the body: two writes instead of
		// one, 18% of the gateway's CPU under pass-through load (found by
		// profiling bench/compare).
		BufferPool: bufferPool{},
	}
	return g
}

// route is what a public request is, by its path alone.
type route int

const (
	routeProxy route = iota // passed through to the upstream
	routePAR
	routeJWKS
	routeDiscovery
	routeAuthorize
	routeAuthorizeVariant // refused: another spelling of the authorization path
	routeToken
	routeTokenVariant // refused: another spelling of the token path
)

// spanNames name each route's server span: never the path, which may
// carry ids on pass-through routes.
var spanNames = [...]string{
	routeProxy: "proxy", routePAR: "par.push", routeJWKS: "jwks", routeDiscovery: "discovery",
	routeAuthorize: "authorize", routeAuthorizeVariant: "authorize", routeToken: "token", routeTokenVariant: "token",
}

func (g *Gateway) route(p string) route {
	if e, ok := g.opts.Endpoints.Lookup(p); ok {
		switch e.Kind {
		case EndpointPAR:
			return routePAR
		case EndpointJWKS:
			return routeJWKS
		default:
			return routeDiscovery
		}
	}
	switch {
	case p == g.opts.AuthorizationPath:
		return routeAuthorize
	case canonicalPath(p) == g.authzCanon:
		return routeAuthorizeVariant
	case g.tokenCanon != "" && p == g.opts.TokenPath:
		return routeToken
	case g.tokenCanon != "" && canonicalPath(p) == g.tokenCanon:
		return routeTokenVariant
	}
	return routeProxy
}

// ServeHTTP routes a public request, in a server span when tracing is on.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt := g.route(r.URL.Path)
	if g.tracer != nil {
		attrs := []attribute.KeyValue{tracing.AttrRoute.String(spanNames[rt])}
		if rt != routeProxy {
			// The gateway's own paths are configuration; a pass-through
			// path may name a resource by an id (REST), so it is left out.
			attrs = append(attrs, tracing.AttrPath.String(r.URL.Path))
		}
		var end func()
		w, r, end = tracing.StartServer(g.tracer, w, r, spanNames[rt], attrs...)
		defer end()
	}
	switch rt {
	case routePAR:
		if !g.limited(w, r, true) {
			g.par.ServeHTTP(w, r)
		}
	case routeJWKS:
		g.serveJWKS(w, r)
	case routeDiscovery:
		g.serveDiscovery(w, r)
	case routeAuthorize:
		if !g.limited(w, r, false) {
			g.authorize(w, r)
		}
	case routeAuthorizeVariant:
		// A variant of the authorization endpoint's path that the upstream
		// may treat as the same (case, `;` parameters, `//`, a trailing
		// slash or dot, a format suffix) would bypass the gateway's checks:
		// refused.
		g.writePage(w, r, oauth.ErrInvalidRequest.WithDescription("use the authorization endpoint's exact path"))
	case routeToken:
		g.token(w, r)
	case routeTokenVariant:
		// As for the authorization endpoint: a variant the upstream may
		// route to its token endpoint would bypass the code binding.
		g.writeTokenError(w, r, oauth.ErrInvalidRequest.WithDescription("use the token endpoint's exact path"))
	default:
		g.rp.ServeHTTP(w, r)
	}
}

// canonicalPath folds the ways an upstream may read one path: case, `;`
// segment parameters, repeated or trailing slashes, dot segments, trailing
// dots and spaces (IIS), and a format suffix on the last segment
// (`/authorize.json`: Rails and Spring's suffix matching route it to the
// same action), and backslashes.
func canonicalPath(p string) string {
	// An upstream in C may end the path at a NUL (or another control
	// character); IIS (http.sys) and Tomcat with ALLOW_BACKSLASH read `\`
	// as `/`.
	if i := strings.IndexFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f }); i >= 0 {
		p = p[:i]
	}
	segs := strings.Split(strings.ReplaceAll(p, `\`, "/"), "/")
	for i, s := range segs {
		s, _, _ = strings.Cut(s, ";")
		segs[i] = strings.TrimRight(s, ". ")
	}
	c := strings.ToLower(path.Clean("/" + strings.Join(segs, "/")))
	if dir, last := path.Split(c); strings.Contains(last, ".") {
		last, _, _ = strings.Cut(last, ".")
		c = dir + last
	}
	return c
}

func (g *Gateway) trusted(remoteAddr string) bool {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return false
	}
	return g.trustedAddr(ap.Addr().Unmap())
}

func (g *Gateway) trustedAddr(addr netip.Addr) bool {
	for _, p := range g.opts.TrustedProxies {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// rewrite routes a request to the upstream: the public Host is kept (so the
// upstream builds public URLs), X-Forwarded-* are set, and a trusted proxy's
// own X-Forwarded-* are kept. httputil drops only the incoming
// X-Forwarded-For/-Host/-Proto and Forwarded; every other forwarding or
// routing header (forwardingHeaders) is removed here, from an untrusted peer
// all of them, from a trusted proxy those that route inside the upstream.
// Every request the gateway sends upstream for a client goes through here,
// including those it builds itself (the authorization endpoint's forward).
func (g *Gateway) rewrite(pr *httputil.ProxyRequest) {
	trusted := g.trusted(pr.In.RemoteAddr)
	stripForwardingHeaders(pr.Out.Header, trusted)
	if trusted {
		// httputil removed RFC 7239 Forwarded; the trusted proxy's is
		// passed on as it wrote it.
		if v := pr.In.Header["Forwarded"]; len(v) > 0 {
			pr.Out.Header["Forwarded"] = v
		}
		pr.Out.Header["X-Forwarded-For"] = pr.In.Header["X-Forwarded-For"]
	}
	g.rewriteClientCert(pr, trusted)
	pr.SetURL(g.opts.Upstream)
	pr.SetXForwarded()
	if trusted {
		if v := pr.In.Header.Get("X-Forwarded-Host"); v != "" {
			pr.Out.Header.Set("X-Forwarded-Host", v)
		}
		if v := pr.In.Header.Get("X-Forwarded-Proto"); v != "" {
			pr.Out.Header.Set("X-Forwarded-Proto", v)
		}
	}
	if g.opts.PreserveHost {
		pr.Out.Host = pr.In.Host
	}
}

// rewriteClientCert removes an untrusted peer's certificate headers and
// any incoming copy of the upstream certificate header, then writes the
// gateway's own: the chain the request arrived with, from the TLS
// connection or a trusted proxy (RFC 8705 certificate-bound tokens at a
// legacy token endpoint that reads its load balancer's header).
func (g *Gateway) rewriteClientCert(pr *httputil.ProxyRequest, trusted bool) {
	if !trusted {
		for _, h := range g.opts.ClientCertHeaders {
			deleteHeaderFolded(pr.Out.Header, h)
		}
	}
	h := g.opts.UpstreamCertHeader
	if h == "" {
		return
	}
	rfc9440 := g.opts.UpstreamCertFormat == tlsauth.FormatRFC9440
	deleteHeaderFolded(pr.Out.Header, h)
	if rfc9440 {
		deleteHeaderFolded(pr.Out.Header, tlsauth.ChainHeaderRFC9440)
	}
	// Only a certificate the gateway checked goes upstream: a legacy server
	// that trusts its load balancer to have verified the chain must not be
	// handed one that nobody verified (the listener requests certificates
	// without verifying them in the handshake).
	seen := tlsauth.Chain(pr.In.Context())
	if len(seen) == 0 || g.opts.VouchCert == nil || !g.opts.VouchCert(seen) {
		return
	}
	v, chain := tlsauth.Encode(g.opts.UpstreamCertFormat, seen)
	if v == "" {
		return
	}
	pr.Out.Header.Set(h, v)
	if rfc9440 && chain != "" {
		pr.Out.Header.Set(tlsauth.ChainHeaderRFC9440, chain)
	}
}

// deleteHeaderFolded removes every spelling of the header name (case, and
// `_` for `-`, as upstreams read them alike).
func deleteHeaderFolded(h http.Header, name string) {
	n := foldHeaderName(name)
	for k := range h {
		if foldHeaderName(k) == n {
			delete(h, k)
		}
	}
}

// errorHandler answers what went wrong between the gateway and the upstream,
// or in the interception of a response: an OAuth error as an error page, a
// timeout as 504, anything else as 502 (as Caddy does).
func (g *Gateway) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	var oe *oauth.Error
	if errors.As(err, &oe) {
		g.writePage(w, r, oe)
		return
	}
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		return // the client went away
	}
	status := http.StatusBadGateway
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		status = http.StatusGatewayTimeout
	}
	g.log.Warn("upstream request failed", zap.String("method", r.Method), zap.String("path", r.URL.Path),
		zap.Int("status", status), zap.Error(err))
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if status == http.StatusGatewayTimeout {
		_, _ = w.Write([]byte("504 gateway timeout: the authorization server did not answer in time\n"))
		return
	}
	_, _ = w.Write([]byte("502 bad gateway: the authorization server cannot be reached\n"))
}

// writePage answers err as an error page (or as JSON when the request asks
// for it), counts and logs it. A fresh reference names the request in the
// page, the X-Request-Id header and the log line, so that support can find
// one from the other; nothing in them is a secret, a code, a token or a
// request_uri (errpage.Scrub).
func (g *Gateway) writePage(w http.ResponseWriter, r *http.Request, err error) {
	oe, ref := g.refused(r, err, "authorization request refused")
	pages := g.opts.Pages
	if pages == nil {
		pages = errpage.Default()
	}
	if err := pages.Write(w, r, oe, ref); err != nil {
		g.log.Error("the error page template failed: the built-in page was shown (fix PARJARM_ERROR_TEMPLATE)",
			zap.String("reference", ref), zap.Error(err))
	}
}

// refused counts and logs a refusal of r with msg under a fresh reference,
// and returns err as the OAuth error to answer, with the reference.
func (g *Gateway) refused(r *http.Request, err error, msg string) (*oauth.Error, string) {
	oe := oauth.From(err)
	ref := errpage.NewReference()
	g.m.Errors.WithLabelValues(oe.Code).Inc()
	if g.tracer != nil {
		trace.SpanFromContext(r.Context()).SetAttributes(tracing.AttrError.String(oe.Code))
	}
	level := zap.InfoLevel
	if oe.Status >= 500 {
		level = zap.WarnLevel
	}
	if ce := g.log.Check(level, msg); ce != nil {
		ce.Write(zap.String("reference", ref), zap.String("path", r.URL.Path), zap.String("error", oe.Code),
			zap.String("kind", string(errpage.Classify(oe))), zap.Int("status", oe.Status), zap.String("reason", errpage.Scrub(oe.Error())))
	}
	return oe, ref
}

// bufferPool reuses the reverse proxy's copy buffers instead of allocating
// 32 KiB per proxied response.
type bufferPool struct{}

var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (bufferPool) Get() []byte  { return *(copyBuffers.Get().(*[]byte)) }
func (bufferPool) Put(b []byte) { copyBuffers.Put(&b) }

// timedTransport observes upstream latency.
type timedTransport struct {
	next http.RoundTripper
	m    *metrics.Metrics
}

func (t *timedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.next.RoundTrip(r)
	class := "error"
	if err == nil {
		class = string("12345"[min(max(resp.StatusCode/100, 1), 5)-1]) + "xx"
	}
	t.m.UpstreamLatency.WithLabelValues(class).Observe(time.Since(start).Seconds())
	return resp, err
}
