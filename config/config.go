// Package config loads and validates parjarm's configuration from
// environment variables (prefix PARJARM_). It produces plain, parsed values
// only: it reads no files, dials nothing and starts no servers.
//
// Load parses a given environment map, so tests never touch the process
// environment; Validate reports every problem at once, each naming the
// variable and the fix. README-vars.md lists every variable.
package config

import (
	"errors"
	"net/netip"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/go-jose/go-jose/v4"

	"github.com/parjarm/parjarm/profile"
	"github.com/parjarm/parjarm/tlsauth"
)

// Prefix is the prefix of every parjarm environment variable.
const Prefix = "PARJARM_"

// Store kinds returned by Config.StoreKind.
const (
	StoreMemory   = "memory"   // embedded, single instance
	StoreRedis    = "redis"    // standalone Redis from PARJARM_REDIS_URL
	StoreSentinel = "sentinel" // Redis Sentinel (failover client)
	StoreCluster  = "cluster"  // Redis Cluster
)

// AssertionAudience is the policy for the `aud` claim of private_key_jwt
// client assertions at the PAR endpoint.
type AssertionAudience string

// Audience policies.
const (
	// AudienceAny accepts the issuer, the token endpoint URL or the PAR
	// endpoint URL (RFC 9126, section 2: all three MUST be accepted).
	AudienceAny AssertionAudience = "any"
	// AudienceIssuer accepts the issuer only, as the FAPI 2.0 Security
	// Profile asks clients to send.
	AudienceIssuer AssertionAudience = "issuer"
)

// TokenEndpointPKCE is the policy for PKCE and code binding at the
// upstream's token endpoint.
type TokenEndpointPKCE string

// Token endpoint policies.
const (
	// PKCEAuto enforces when the upstream does not advertise S256.
	PKCEAuto TokenEndpointPKCE = "auto"
	// PKCEEnforce always enforces.
	PKCEEnforce TokenEndpointPKCE = "enforce"
	// PKCEOff leaves the token endpoint to the upstream.
	PKCEOff TokenEndpointPKCE = "off"
)

// Enforced reports whether the gateway checks the token endpoint for an
// upstream whose discovery lists methods in code_challenge_methods_supported.
func (p TokenEndpointPKCE) Enforced(methods []string) bool {
	switch p {
	case PKCEEnforce:
		return true
	case PKCEAuto:
		return !slices.Contains(methods, "S256")
	}
	return false
}

// Config is the whole gateway configuration. Every field is read from the
// environment variable PARJARM_ + its `env` tag, with the `envDefault` tag
// applied when the variable is unset or empty. Build it with Load; a Config
// built by hand must pass Validate before use.
type Config struct {
	// UpstreamURL is the base URL of the legacy authorization server: an
	// absolute http or https URL without query or fragment. Required; no
	// default.
	UpstreamURL *url.URL `env:"UPSTREAM_URL" envDefault:""`

	// Issuer is the issuer clients see: the JARM `iss` claim (JARM section
	// 2.1), the RFC 9207 `iss` parameter and the discovery `issuer`. An
	// absolute URL without query or fragment; https unless
	// AllowInsecureHTTP. Default empty: the upstream discovery `issuer`.
	Issuer *url.URL `env:"ISSUER" envDefault:""`

	// PublicURL is the public base URL of the gateway, used to build the
	// PAR endpoint URL published in discovery. Same rules as Issuer.
	// Default empty: Issuer, else the upstream discovery `issuer`.
	PublicURL *url.URL `env:"PUBLIC_URL" envDefault:""`

	// AllowInsecureHTTP allows http:// issuer and public URLs, for
	// development and tests only. Default false.
	AllowInsecureHTTP bool `env:"ALLOW_INSECURE_HTTP" envDefault:"false"`

	// ListenAddr is the host:port of the public listener. Default ":8080".
	ListenAddr string `env:"LISTEN_ADDR" envDefault:":8080"`

	// AdminAddr is the host:port of the admin listener (/healthz, /readyz,
	// /metrics); it must differ from ListenAddr. Default ":9090".
	AdminAddr string `env:"ADMIN_ADDR" envDefault:":9090"`

	// Pprof serves the Go runtime profiles (net/http/pprof) at
	// /debug/pprof/ on the admin listener, never on the public one.
	// Default false.
	Pprof bool `env:"PPROF" envDefault:"false"`

	// RedisURL selects a standalone Redis: a redis:// or rediss:// URL as
	// accepted by go-redis ParseURL, which may carry credentials. Default
	// empty.
	RedisURL *url.URL `env:"REDIS_URL" envDefault:"" redact:"true"`

	// RedisSentinelMaster is the Sentinel master name; with
	// RedisSentinelAddrs it selects Redis Sentinel. Default empty.
	RedisSentinelMaster string `env:"REDIS_SENTINEL_MASTER" envDefault:""`

	// RedisSentinelAddrs are the Sentinel host:port addresses
	// (comma-separated). Default empty.
	RedisSentinelAddrs []string `env:"REDIS_SENTINEL_ADDRS" envDefault:""`

	// RedisSentinelPassword authenticates to the Sentinels themselves.
	// Default empty.
	RedisSentinelPassword string `env:"REDIS_SENTINEL_PASSWORD" envDefault:"" redact:"true"`

	// RedisClusterAddrs are Redis Cluster seed host:port addresses
	// (comma-separated); setting them selects Redis Cluster. Default empty.
	RedisClusterAddrs []string `env:"REDIS_CLUSTER_ADDRS" envDefault:""`

	// RedisUsername is the ACL user for Sentinel and Cluster modes (a
	// REDIS_URL carries its own). Default empty.
	RedisUsername string `env:"REDIS_USERNAME" envDefault:""`

	// RedisPassword is the password for Sentinel and Cluster modes (a
	// REDIS_URL carries its own). Default empty.
	RedisPassword string `env:"REDIS_PASSWORD" envDefault:"" redact:"true"`

	// RedisTLS enables TLS for Sentinel and Cluster modes (a REDIS_URL uses
	// rediss:// instead). Default false.
	RedisTLS bool `env:"REDIS_TLS" envDefault:"false"`

	// RedisDialTimeout bounds connecting to Redis. Default 2s.
	RedisDialTimeout time.Duration `env:"REDIS_DIAL_TIMEOUT" envDefault:"2s"`

	// RedisTimeout bounds each Redis read and write. Default 1s.
	RedisTimeout time.Duration `env:"REDIS_TIMEOUT" envDefault:"1s"`

	// RedisMinReplicas is how many replicas must have each Redis write
	// (WAIT) before it counts as done; fewer within half of RedisTimeout
	// fail the request with 503. Default 0: no wait.
	RedisMinReplicas int `env:"REDIS_MIN_REPLICAS" envDefault:"0"`

	// MemoryStoreMaxEntries bounds the in-memory store (used when no Redis
	// is configured); a full store evicts only unredeemed pushed requests
	// and otherwise answers 503. Default 100000.
	MemoryStoreMaxEntries int `env:"MEMORY_STORE_MAX_ENTRIES" envDefault:"100000"`

	// ClientsFile is the path of the client registry (JSON
	// {"clients": [...]} or [...]). Config does not read it. Default empty: no
	// registered clients.
	ClientsFile string `env:"CLIENTS_FILE" envDefault:""`

	// SigningKeysFile is the path of the private signing keys (JWK set or
	// PEM). Config does not read it. Default empty: an ephemeral key is
	// generated, for development only.
	SigningKeysFile string `env:"SIGNING_KEYS_FILE" envDefault:""`

	// SigningKeyID is the `kid` of the key that signs JARM responses.
	// Default empty: the first key of SigningKeysFile.
	SigningKeyID string `env:"SIGNING_KEY_ID" envDefault:""`

	// DefaultSigningAlg signs JARM responses for clients that register no
	// authorization_signed_response_alg (JARM section 3 defaults to RS256).
	// One of RS256, PS256, ES256, ES384, EdDSA. Default RS256.
	DefaultSigningAlg jose.SignatureAlgorithm `env:"DEFAULT_SIGNING_ALG" envDefault:"RS256"`

	// PAREnabled switches the PAR endpoint and request_uri expansion on.
	// Default true.
	PAREnabled bool `env:"PAR_ENABLED" envDefault:"true"`

	// JARMEnabled switches JWT response modes on. At least one of
	// PAREnabled and JARMEnabled must be true. Default true.
	JARMEnabled bool `env:"JARM_ENABLED" envDefault:"true"`

	// PARPath is the path of the PAR endpoint: starts with "/", no query,
	// not under /.well-known/. Default "/par".
	PARPath string `env:"PAR_PATH" envDefault:"/par"`

	// JWKSPath is where the gateway serves the key set that discovery's
	// jwks_uri names: the upstream's keys and the gateway's JARM keys. It
	// must not be a path the upstream uses. Default
	// "/.well-known/parjarm/jwks.json".
	JWKSPath string `env:"JWKS_PATH" envDefault:"/.well-known/parjarm/jwks.json"`

	// PARLifetime is the request_uri lifetime (`expires_in`, RFC 9126
	// section 2.2) for clients that register no par_lifetime. Between 5s
	// and 600s. Default 60s.
	PARLifetime time.Duration `env:"PAR_LIFETIME" envDefault:"60s"`

	// RequirePAR makes every client use PAR (RFC 9126 section 5,
	// require_pushed_authorization_requests). Default false.
	RequirePAR bool `env:"REQUIRE_PAR" envDefault:"false"`

	// RequirePKCE requires PKCE with S256 from every client; public
	// clients always need it. Default false.
	RequirePKCE bool `env:"REQUIRE_PKCE" envDefault:"false"`

	// RequireSignedRequestObject requires every push to carry a signed
	// `request` object (RFC 9126 section 3, RFC 9101). Default false.
	RequireSignedRequestObject bool `env:"REQUIRE_SIGNED_REQUEST_OBJECT" envDefault:"false"`

	// Profile is the FAPI profile every client is held to unless it
	// registers its own fapi_profile: fapi2-security, fapi2-message-signing
	// or fapi1-advanced. It implies PAR, PKCE S256, private_key_jwt or mTLS,
	// and the profile's algorithms (README "FAPI profiles"). Default empty
	// (no profile).
	Profile profile.Name `env:"PROFILE" envDefault:""`

	// PARMaxBodyBytes bounds a push body; larger bodies get 413 (RFC 9126
	// section 2.3). Between 1024 and 10485760. Default 65536.
	PARMaxBodyBytes int64 `env:"PAR_MAX_BODY_BYTES" envDefault:"65536"`

	// MaxParams bounds the number of distinct parameters in a push.
	// Between 1 and 10000. Default 100.
	MaxParams int `env:"MAX_PARAMS" envDefault:"100"`

	// ClientAssertionAudience is which `aud` a private_key_jwt assertion
	// may carry: "any" (issuer, token endpoint or PAR URL; RFC 9126
	// section 2) or "issuer" (issuer only; FAPI 2.0). Default "any".
	ClientAssertionAudience AssertionAudience `env:"CLIENT_ASSERTION_AUDIENCE" envDefault:"any"`

	// SigningAlgsAllowed is the algorithm allow-list for client assertions
	// and request objects (comma-separated); "none" and HS* are refused.
	// Default PS256,ES256,EdDSA,RS256,ES384.
	SigningAlgsAllowed []jose.SignatureAlgorithm `env:"SIGNING_ALGS_ALLOWED" envDefault:"PS256,ES256,EdDSA,RS256,ES384"`

	// RequestObjectMaxAge is how far in the past a request object's `nbf`
	// may be (FAPI 1.0 Advanced, section 5.2.2: at most 60 minutes).
	// Default 60m.
	RequestObjectMaxAge time.Duration `env:"REQUEST_OBJECT_MAX_AGE" envDefault:"60m"`

	// ClockSkew is the tolerance applied to exp, nbf and iat. At most 59s,
	// so that an `nbf` more than a minute ahead is always refused.
	// Default 10s.
	ClockSkew time.Duration `env:"CLOCK_SKEW" envDefault:"10s"`

	// JARMLifetime is the lifetime of a JARM response (`exp` - `iat`).
	// Between 10s and 10m (JARM section 2.1 recommends at most 10
	// minutes). Default 5m.
	JARMLifetime time.Duration `env:"JARM_LIFETIME" envDefault:"5m"`

	// TransactionTTL bounds how long a user may take between the
	// authorization request and the upstream's response. Between 1m and
	// 24h. Default 30m.
	TransactionTTL time.Duration `env:"TRANSACTION_TTL" envDefault:"30m"`

	// TokenEndpointPKCE is whether the gateway checks PKCE and the code's
	// binding at the upstream's token endpoint: "enforce", "off", or "auto"
	// (enforce when the upstream's discovery does not list S256 in
	// code_challenge_methods_supported). Default "auto".
	TokenEndpointPKCE TokenEndpointPKCE `env:"TOKEN_ENDPOINT_PKCE" envDefault:"auto"`

	// CodeLifetime is how long the gateway remembers a code it delivered:
	// at least the upstream's code lifetime. Between 10s and 1h (RFC 6749
	// section 4.1.2 recommends at most 10 minutes). Default 10m.
	CodeLifetime time.Duration `env:"CODE_LIFETIME" envDefault:"10m"`

	// EnforceRedirectURIs refuses a plain (not pushed) authorization
	// request of a registered client whose redirect_uri is not exactly
	// registered, with an error page. Default true.
	EnforceRedirectURIs bool `env:"ENFORCE_REDIRECT_URIS" envDefault:"true"`

	// AuthorizationPath is the path of the upstream authorization endpoint
	// the gateway intercepts; starts with "/". Default empty: the path of
	// the upstream discovery `authorization_endpoint`.
	AuthorizationPath string `env:"AUTHORIZATION_PATH" envDefault:""`

	// DiscoveryCacheTTL is how long the upstream discovery document is
	// cached. At least 1s. Default 5m.
	DiscoveryCacheTTL time.Duration `env:"DISCOVERY_CACHE_TTL" envDefault:"5m"`

	// StartupTimeout is how long start-up waits for the upstream discovery
	// document. Default 60s.
	StartupTimeout time.Duration `env:"STARTUP_TIMEOUT" envDefault:"60s"`

	// UpstreamDialTimeout bounds connecting to the upstream. Default 5s.
	UpstreamDialTimeout time.Duration `env:"UPSTREAM_DIAL_TIMEOUT" envDefault:"5s"`

	// UpstreamTimeout bounds waiting for the upstream's response headers.
	// Default 30s.
	UpstreamTimeout time.Duration `env:"UPSTREAM_TIMEOUT" envDefault:"30s"`

	// UpstreamPreserveHost sends the public Host header upstream instead
	// of the upstream's own host. Default true.
	UpstreamPreserveHost bool `env:"UPSTREAM_PRESERVE_HOST" envDefault:"true"`

	// UpstreamReentryParams are the parameters an upstream adds when it
	// sends the browser back to its own authorization endpoint after a
	// login or consent step (ORY Hydra: login_verifier, consent_verifier).
	// Where PAR is required, such a re-entry passes as the gateway's own
	// expanded query with these parameters added, and nothing else does.
	// OAuth parameters cannot be listed. Default
	// login_verifier,consent_verifier.
	UpstreamReentryParams []string `env:"UPSTREAM_REENTRY_PARAMS" envDefault:"login_verifier,consent_verifier"`

	// TrustedProxies are the CIDRs (comma-separated) whose X-Forwarded-*
	// headers are trusted. Default empty: none are.
	TrustedProxies []netip.Prefix `env:"TRUSTED_PROXIES" envDefault:""`

	// TLSCertFile is the PEM certificate (chain allowed) of the public
	// listener; with TLSKeyFile it makes the listener speak TLS 1.2 (FAPI
	// 1.0 Advanced section 8.5 cipher suites) and 1.3, request client
	// certificates, and reload both files when they change. Default empty:
	// plain HTTP behind a TLS terminator.
	TLSCertFile string `env:"TLS_CERT_FILE" envDefault:""`

	// TLSKeyFile is the PEM private key of TLSCertFile. Default empty.
	TLSKeyFile string `env:"TLS_KEY_FILE" envDefault:""`

	// TLSClientCAFile is the PEM file of the CAs that tls_client_auth
	// client certificates must chain to (RFC 8705, section 2.1), whether
	// they come from the TLS connection or a trusted proxy's header.
	// Default empty: no tls_client_auth client can authenticate;
	// self_signed_tls_client_auth needs no CA.
	TLSClientCAFile string `env:"TLS_CLIENT_CA_FILE" envDefault:""`

	// ClientCertHeader is the request header a TLS terminator in
	// TrustedProxies writes the client certificate into. From any other
	// peer it is removed. Default empty: certificates come from the
	// gateway's own TLS connections only.
	ClientCertHeader string `env:"CLIENT_CERT_HEADER" envDefault:""`

	// ClientCertHeaderFormat is ClientCertHeader's format: rfc9440
	// (Client-Cert byte sequence, RFC 9440), nginx (URL-escaped PEM) or
	// envoy (X-Forwarded-Client-Cert). Default rfc9440.
	ClientCertHeaderFormat tlsauth.Format `env:"CLIENT_CERT_HEADER_FORMAT" envDefault:"rfc9440"`

	// UpstreamClientCertHeader is the header that carries the client
	// certificate the gateway saw to the upstream, for a server that reads
	// certificates from its load balancer. An incoming copy is always
	// removed. Default empty: no certificate is passed on.
	UpstreamClientCertHeader string `env:"UPSTREAM_CLIENT_CERT_HEADER" envDefault:""`

	// UpstreamClientCertHeaderFormat is UpstreamClientCertHeader's format,
	// as ClientCertHeaderFormat. Default rfc9440.
	UpstreamClientCertHeaderFormat tlsauth.Format `env:"UPSTREAM_CLIENT_CERT_HEADER_FORMAT" envDefault:"rfc9440"`

	// MTLSPublicURL is the base URL published in mtls_endpoint_aliases (RFC
	// 8705, section 5), such as https://matls-auth.bank.example; the same
	// listener serves it. Default empty: the aliases name the public URL.
	MTLSPublicURL *url.URL `env:"MTLS_PUBLIC_URL" envDefault:""`

	// RateLimit is how many PAR pushes and authorization requests one
	// client address may send per second (RFC 9126, section 2.3: 429 when
	// exceeded); 0 switches rate limiting off. The address is the peer's, or
	// the last untrusted X-Forwarded-For hop behind PARJARM_TRUSTED_PROXIES;
	// IPv6 addresses count per network (PARJARM_RATE_LIMIT_IPV6_PREFIX).
	// Default 0.
	RateLimit float64 `env:"RATE_LIMIT" envDefault:"0"`

	// RateLimitBurst is how many requests above the rate one address may
	// send at once. Default 20.
	RateLimitBurst int `env:"RATE_LIMIT_BURST" envDefault:"20"`

	// RateLimitIPv6Prefix is the length of the IPv6 networks whose
	// addresses share one rate-limit budget. A site is usually given a
	// whole /64 and its hosts pick addresses in it freely, so counting
	// each address apart would give one site 2^64 budgets. IPv4 addresses
	// (also IPv4-mapped ones) are counted one by one. Between 32 and 128.
	// Default 64.
	RateLimitIPv6Prefix int `env:"RATE_LIMIT_IPV6_PREFIX" envDefault:"64"`

	// ReloadInterval is how often the clients file and the signing keys
	// file are read again to see whether they changed (by content, so that
	// a Kubernetes ConfigMap's symlink swap counts); SIGHUP reloads at once.
	// 0 reloads on SIGHUP only; else between 1s and 1h. Default 5s.
	ReloadInterval time.Duration `env:"RELOAD_INTERVAL" envDefault:"5s"`

	// JWKSFetchTimeout bounds fetching a client's jwks_uri. Default 5s.
	JWKSFetchTimeout time.Duration `env:"JWKS_FETCH_TIMEOUT" envDefault:"5s"`

	// JWKSMaxBytes bounds the size of a client's jwks_uri document.
	// Between 1024 and 10485760. Default 65536.
	JWKSMaxBytes int64 `env:"JWKS_MAX_BYTES" envDefault:"65536"`

	// JWKSCacheTTL is how long a client's jwks_uri document is cached.
	// Default 5m.
	JWKSCacheTTL time.Duration `env:"JWKS_CACHE_TTL" envDefault:"5m"`

	// ReadHeaderTimeout is http.Server.ReadHeaderTimeout of both
	// listeners. Default 10s.
	ReadHeaderTimeout time.Duration `env:"READ_HEADER_TIMEOUT" envDefault:"10s"`

	// ReadTimeout is http.Server.ReadTimeout of both listeners.
	// Default 30s.
	ReadTimeout time.Duration `env:"READ_TIMEOUT" envDefault:"30s"`

	// WriteTimeout is http.Server.WriteTimeout of both listeners.
	// Default 60s.
	WriteTimeout time.Duration `env:"WRITE_TIMEOUT" envDefault:"60s"`

	// IdleTimeout is http.Server.IdleTimeout of both listeners.
	// Default 120s.
	IdleTimeout time.Duration `env:"IDLE_TIMEOUT" envDefault:"120s"`

	// ShutdownTimeout bounds the graceful shutdown after SIGTERM.
	// Default 15s.
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"15s"`

	// ErrorTemplate is the path of an html/template file that replaces the
	// built-in error page (its data: package errpage's Data, listed in the
	// README). A template that does not parse stops start-up with its file
	// and line; one that fails while answering falls back to the built-in
	// page. Default empty: the built-in page.
	ErrorTemplate string `env:"ERROR_TEMPLATE" envDefault:""`

	// ErrorLocales is a directory of error page texts, one <tag>.json file
	// per language (de.json, pt-BR.json), that add languages or replace
	// texts of the bundled ones (en, de, es, fr, nl, pt-BR). Default empty:
	// the bundled texts.
	ErrorLocales string `env:"ERROR_LOCALES" envDefault:""`

	// LogLevel is the zap level: debug, info, warn or error.
	// Default "info".
	LogLevel string `env:"LOG_LEVEL" envDefault:"info"`

	// LogFormat is the log encoding: json or console. Default "json".
	LogFormat string `env:"LOG_FORMAT" envDefault:"json"`
}

// Load parses the PARJARM_ variables of environ into a Config and validates
// it. A nil environ is treated as empty (never as the process environment).
// Comma-separated lists are trimmed and empty items dropped. The error joins
// one *VarError per problem: values that do not parse, unknown PARJARM_
// variables (a misspelt name must not be silently ignored) and everything
// Validate reports.
func Load(environ map[string]string) (*Config, error) {
	m := normalize(environ)
	var errs []error

	var c Config
	failed := map[string]bool{}
	if err := parse(&c, m); err != nil {
		for _, e := range parseErrors(err, m) {
			failed[e.Var] = true
			errs = append(errs, e)
		}
		// Parse again with the failed variables at their defaults, so that
		// Validate reports the other problems without follow-on errors.
		for name := range failed {
			delete(m, name)
		}
		c = Config{}
		if err := parse(&c, m); err != nil {
			return nil, errors.Join(append(errs, err)...)
		}
	}
	for _, name := range UnknownVars(environ) {
		errs = append(errs, unknownVarError(name))
	}
	if err := c.Validate(); err != nil {
		for _, e := range unjoin(err) {
			var ve *VarError
			if errors.As(e, &ve) && failed[ve.Var] {
				continue
			}
			errs = append(errs, e)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(sortByVar(errs)...)
	}
	return &c, nil
}

// Environ converts os.Environ()-style "KEY=value" pairs to a map for Load.
// Entries without "=" are ignored; a later duplicate wins.
func Environ(kv []string) map[string]string {
	return env.ToMap(kv)
}

// StoreKind reports which store the configuration selects: StoreRedis,
// StoreSentinel, StoreCluster or, with no Redis configured, StoreMemory.
func (c *Config) StoreKind() string {
	switch {
	case c.RedisURL != nil:
		return StoreRedis
	case c.RedisSentinelMaster != "" || len(c.RedisSentinelAddrs) > 0:
		return StoreSentinel
	case len(c.RedisClusterAddrs) > 0:
		return StoreCluster
	default:
		return StoreMemory
	}
}

// parse runs the env parser over m with the PARJARM_ prefix.
func parse(c *Config, m map[string]string) error {
	return env.ParseWithOptions(c, env.Options{
		Environment: m,
		Prefix:      Prefix,
		FuncMap:     map[reflect.Type]env.ParserFunc{reflect.TypeFor[url.URL](): parseURL},
	})
}

// parseURL parses a URL variable. Its error never repeats the value, which
// may carry a password (PARJARM_REDIS_URL).
func parseURL(v string) (any, error) {
	u, err := url.Parse(v)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			return nil, ue.Err
		}
		return nil, errors.New("malformed URL")
	}
	return *u, nil
}

// normalize copies environ (never nil, so env cannot fall back to the
// process environment) and cleans the comma-separated lists: items are
// trimmed and empty items dropped.
func normalize(environ map[string]string) map[string]string {
	m := make(map[string]string, len(environ))
	for k, v := range environ {
		m[k] = v
	}
	for _, f := range fields() {
		if f.kind != reflect.Slice {
			continue
		}
		v, ok := m[f.name]
		if !ok {
			continue
		}
		var items []string
		for item := range strings.SplitSeq(v, ",") {
			if item = strings.TrimSpace(item); item != "" {
				items = append(items, item)
			}
		}
		m[f.name] = strings.Join(items, ",")
	}
	return m
}

// unjoin flattens an errors.Join result.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
