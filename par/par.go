// Package par implements Pushed Authorization Requests (RFC 9126): the push
// endpoint, verification of signed request objects (JAR, RFC 9101), the
// validation of authorization parameters as the authorization endpoint would
// do it, and the expansion of a pushed request_uri at the authorization
// endpoint.
//
// The push endpoint is Service.ServeHTTP. The proxy expands a request_uri
// with Service.Expand before forwarding the authorization request upstream,
// and calls Service.Consume when the flow completes, so that the request_uri
// is single use while a reload of the authorization page still works
// (RFC 9126, section 4).
package par

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/parjarm/parjarm/client"
	"github.com/parjarm/parjarm/metrics"
	"github.com/parjarm/parjarm/profile"
	"github.com/parjarm/parjarm/store"
)

// RequestURIPrefix starts every request_uri the push endpoint issues
// (RFC 9126, section 2.2).
const RequestURIPrefix = "urn:ietf:params:oauth:request_uri:"

// MaxLifetime is the longest lifetime a request_uri may have, whatever the
// configuration or the client asks for.
const MaxLifetime = 600 * time.Second

// Defaults applied by New to zero-valued Options fields.
const (
	DefaultLifetime            = 60 * time.Second
	DefaultMaxBodyBytes        = 64 << 10
	DefaultMaxParams           = 100
	DefaultRequestObjectMaxAge = 60 * time.Minute
	DefaultCompletionWindow    = 10 * time.Minute
)

// DefaultAlgorithms are the request object signature algorithms accepted
// when Options.Algorithms is empty: every asymmetric algorithm go-jose
// verifies. Symmetric algorithms and "none" are never accepted.
var DefaultAlgorithms = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512,
	jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512,
	jose.EdDSA,
}

// Options configures the service. All fields are plain values from the
// configuration; zero values get the defaults documented per field.
type Options struct {
	// Issuer is the gateway's exact issuer identifier. A request object's
	// aud must be (or contain) it.
	Issuer string
	// PAREndpoint is the absolute URL of the push endpoint. It is not
	// accepted as a request object's aud (conformance suite).
	PAREndpoint string
	// DefaultLifetime is the request_uri lifetime for clients that set no
	// par_lifetime. Default 60s; never above MaxLifetime.
	DefaultLifetime time.Duration
	// CompletionWindow is how long a request_uri stays in the store after
	// its expires_in has passed, so that a flow expanded in time can still
	// Consume it when the user finishes (a login may take longer than the
	// request_uri lifetime). Expansion always honours expires_in. Set it to
	// the transaction lifetime. Default 10m.
	CompletionWindow time.Duration
	// MaxBodyBytes is the largest accepted push body; larger bodies are
	// answered 413. Default 64 KiB.
	MaxBodyBytes int64
	// MaxParams is the largest number of distinct parameters in a push or a
	// request object. Default 100.
	MaxParams int
	// RequirePAR is the gateway-wide require_pushed_authorization_requests
	// (RFC 9126, section 5). The proxy enforces it; the service only reports
	// it through RequiresPAR.
	RequirePAR bool
	// RequirePKCE requires PKCE with S256 from every client.
	RequirePKCE bool
	// RequireSignedRequestObject refuses pushes without a signed request
	// object (RFC 9101, section 10.5; RFC 9126, section 2.3).
	RequireSignedRequestObject bool
	// Algorithms is the allow-list of request object signature algorithms.
	// Default DefaultAlgorithms. "none" and HMAC algorithms are dropped.
	Algorithms []jose.SignatureAlgorithm
	// RequestObjectMaxAge bounds a request object's age: nbf not older, and
	// exp not further after nbf (or after now, without nbf), than this.
	// Default 60m (FAPI 1 Advanced, 5.2.2-13 and 5.2.2-17).
	RequestObjectMaxAge time.Duration
	// ClockSkew is the tolerance for exp, nbf and iat.
	ClockSkew time.Duration
	// JARM allows the JWT response modes; when false, query.jwt,
	// fragment.jwt, form_post.jwt and jwt are refused.
	JARM bool
	// Decrypter holds the gateway's decryption keys for encrypted request
	// objects (RFC 9101, section 6.1); *jarm.KeySet implements it. Nil, or
	// without keys, encrypted request objects are refused.
	Decrypter Decrypter
	// ResponseTypes are the supported response types (upstream discovery
	// response_types_supported). Empty means code, token, id_token and
	// their combinations. Order of the values inside one response type does
	// not matter.
	ResponseTypes []string
	// Profile is the gateway's FAPI profile (PARJARM_PROFILE), for clients
	// that register no fapi_profile of their own: its rules are applied at
	// the push, at expansion and by Validate.
	Profile profile.Name
	// TracerProvider traces pushes (a "par.push.process" span); nil means
	// tracing is off.
	TracerProvider trace.TracerProvider
}

// Registry finds registered clients. *client.Registry implements it.
type Registry interface {
	Lookup(id string) (*client.Client, bool)
}

// Authenticator authenticates a client as a token endpoint does (RFC 9126,
// section 2). *client.Authenticator implements it. It returns an
// *oauth.Error invalid_client on failure.
type Authenticator interface {
	// AuthenticateDeferringReplay authenticates the client and returns the
	// replay mark of its private_key_jwt assertion unwritten (nil for other
	// methods); the push writes it with the request (client.Authenticator).
	AuthenticateDeferringReplay(ctx context.Context, authorization string, form url.Values) (*client.Client, client.Method, *store.Entry, error)
}

// KeySource returns a client's public keys (inline jwks or its jwks_uri).
type KeySource interface {
	KeySet(ctx context.Context, c *client.Client) (*jose.JSONWebKeySet, error)
}

// Decrypter decrypts request objects encrypted to the gateway.
type Decrypter interface {
	// EncryptionAlgorithms are the JWE alg values it holds keys for.
	EncryptionAlgorithms() []jose.KeyAlgorithm
	// Decrypt decrypts a JWE parsed with allow-lists of alg and enc values,
	// with decryption keys only.
	Decrypt(jwe *jose.JSONWebEncryption) ([]byte, error)
}

// Service is the PAR service: the push endpoint (ServeHTTP), Validate,
// Expand and Consume. It is safe for concurrent use once configured.
type Service struct {
	// Now is the clock. It defaults to time.Now; tests replace it before
	// the service is used.
	Now func() time.Time

	opts  Options
	algs  []jose.SignatureAlgorithm
	types map[string]bool
	reg   Registry
	auth  Authenticator
	keys  KeySource
	store store.Store
	m     *metrics.Metrics
	log   *zap.Logger
}

// New returns a Service. m and log may be nil (no metrics, no logs).
func New(opts Options, reg Registry, auth Authenticator, keys KeySource, st store.Store, m *metrics.Metrics, log *zap.Logger) *Service {
	if opts.DefaultLifetime <= 0 {
		opts.DefaultLifetime = DefaultLifetime
	}
	opts.DefaultLifetime = min(opts.DefaultLifetime, MaxLifetime)
	if opts.CompletionWindow <= 0 {
		opts.CompletionWindow = DefaultCompletionWindow
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.MaxParams <= 0 {
		opts.MaxParams = DefaultMaxParams
	}
	if opts.RequestObjectMaxAge <= 0 {
		opts.RequestObjectMaxAge = DefaultRequestObjectMaxAge
	}
	if opts.ClockSkew < 0 {
		opts.ClockSkew = 0
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &Service{
		Now:   time.Now,
		opts:  opts,
		algs:  allowedAlgorithms(opts.Algorithms),
		types: responseTypeSet(opts.ResponseTypes),
		reg:   reg,
		auth:  auth,
		keys:  keys,
		store: st,
		m:     m,
		log:   log,
	}
}

// RequiresPAR reports whether c may only use pushed authorization requests,
// by its own metadata or by the gateway's policy (RFC 9126, section 5 and
// 6).
func (s *Service) RequiresPAR(c *client.Client) bool {
	return s.opts.RequirePAR || (c != nil && (c.RequirePAR || s.profile(c).RequiresPAR()))
}

// profile returns the FAPI profile c is held to: its own, or the gateway's.
func (s *Service) profile(c *client.Client) profile.Name {
	return c.Profile.Or(s.opts.Profile)
}

// IsRequestURI reports whether v is a request_uri of ours: it starts with
// RequestURIPrefix.
func IsRequestURI(v string) bool {
	return strings.HasPrefix(v, RequestURIPrefix)
}

// lifetime returns c's request_uri lifetime: its par_lifetime or the
// default, never above MaxLifetime, and below 600 s under a FAPI profile
// (profile.MaxLifetime).
func (s *Service) lifetime(c *client.Client) time.Duration {
	return s.profile(c).Lifetime(min(c.Lifetime(s.opts.DefaultLifetime), MaxLifetime))
}

// allowedAlgorithms returns algs (or DefaultAlgorithms) without "none" and
// without HMAC algorithms: the gateway-wide list is verified with the
// client's public keys only. HMAC (RFC 9101, section 4, with the
// client_secret) is for the clients that register it as their
// request_object_signing_alg.
func allowedAlgorithms(algs []jose.SignatureAlgorithm) []jose.SignatureAlgorithm {
	if len(algs) == 0 {
		algs = DefaultAlgorithms
	}
	out := make([]jose.SignatureAlgorithm, 0, len(algs))
	for _, a := range algs {
		switch a {
		case "none", jose.HS256, jose.HS384, jose.HS512:
			continue
		}
		out = append(out, a)
	}
	return out
}

// Interface guards: the client package's concrete types are what main wires.
var (
	_ Registry      = (*client.Registry)(nil)
	_ Authenticator = (*client.Authenticator)(nil)
	_ KeySource     = (*client.KeyFetcher)(nil)
	_ invalidator   = (*client.KeyFetcher)(nil)
	_ http.Handler  = (*Service)(nil)
)
