package config

import (
	"errors"
	"fmt"
	"github.com/parjarm/parjarm/authreq"
	"github.com/parjarm/parjarm/profile"
	"net"
	"net/url"
	"path"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/redis/go-redis/v9"

	"github.com/parjarm/parjarm/tlsauth"
)

// jarmSigningAlgs are the algorithms PARJARM_DEFAULT_SIGNING_ALG may name:
// JARM's default RS256 and what the FAPI profiles accept (PS256, ES256,
// EdDSA), plus ES384.
var jarmSigningAlgs = []jose.SignatureAlgorithm{jose.RS256, jose.PS256, jose.ES256, jose.ES384, jose.EdDSA}

// verificationAlgs are the asymmetric algorithms PARJARM_SIGNING_ALGS_ALLOWED
// may list. "none" and the HMAC algorithms are never accepted: the gateway
// verifies client assertions and request objects with the client's public
// keys (RFC 9101, section 6.1; RFC 7523).
var verificationAlgs = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512,
	jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512,
	jose.EdDSA,
}

// bounds is the allowed range of a duration or number; 0 means no bound
// beyond "greater than zero". note explains a bound in the error message.
type bounds struct {
	lo, hi  int64
	note    string
	seconds bool // print durations in seconds (e.g. 600s, not 10m)
	zero    bool // 0 is allowed: it switches the feature off
}

// durationBounds are the ranges of the duration variables beyond "> 0",
// which every duration must satisfy.
var durationBounds = map[string]bounds{
	Prefix + "PAR_LIFETIME": {
		lo: int64(5 * time.Second), hi: int64(600 * time.Second), seconds: true,
		note: "RFC 9126 section 2.2 suggests short lifetimes",
	},
	Prefix + "CLOCK_SKEW": {
		hi: int64(59 * time.Second), seconds: true,
		note: "an nbf more than a minute ahead must be refused",
	},
	Prefix + "JARM_LIFETIME": {
		lo: int64(10 * time.Second), hi: int64(10 * time.Minute),
		note: "JARM section 2.1 recommends at most 10 minutes",
	},
	Prefix + "TRANSACTION_TTL":     {lo: int64(time.Minute), hi: int64(24 * time.Hour)},
	Prefix + "DISCOVERY_CACHE_TTL": {lo: int64(time.Second)},
	Prefix + "RELOAD_INTERVAL": {
		lo: int64(time.Second), hi: int64(time.Hour), zero: true,
		note: "0 reloads on SIGHUP only",
	},
	Prefix + "CODE_LIFETIME": {
		lo: int64(10 * time.Second), hi: int64(time.Hour),
		note: "it must cover the upstream's code lifetime; RFC 6749 section 4.1.2 recommends at most 10 minutes",
	},
}

// intBounds are the ranges of the integer variables; every integer must be
// greater than zero.
var intBounds = map[string]bounds{
	Prefix + "PAR_MAX_BODY_BYTES": {lo: 1024, hi: 10 << 20},
	Prefix + "MAX_PARAMS":         {lo: 1, hi: 10000},
	Prefix + "JWKS_MAX_BYTES":     {lo: 1024, hi: 10 << 20},
	// An IPv6 /32 is what a registry allocates to an ISP; /128 is one address.
	Prefix + "RATE_LIMIT_IPV6_PREFIX": {lo: 32, hi: 128},
	// Redis answers WAIT with how many replicas acknowledged; 0 waits for none.
	Prefix + "REDIS_MIN_REPLICAS": {hi: 100, zero: true},
}

// Validate reports every problem of c at once, as an errors.Join of
// *VarError values, each naming the variable and the fix. It is pure: it
// reads no files and opens no connections.
func (c *Config) Validate() error {
	var p problems

	// Upstream, issuer, public URL.
	if c.UpstreamURL == nil {
		p.add("UPSTREAM_URL", "is required; set it to the base URL of the legacy authorization server, such as https://idp.internal:8443")
	} else {
		p.checkURL("UPSTREAM_URL", c.UpstreamURL, false)
	}
	if c.Issuer != nil {
		p.checkURL("ISSUER", c.Issuer, !c.AllowInsecureHTTP) // RFC 8414, section 2.
	}
	if c.PublicURL != nil {
		p.checkURL("PUBLIC_URL", c.PublicURL, !c.AllowInsecureHTTP)
	}

	// Listeners.
	p.checkHostPort("LISTEN_ADDR", c.ListenAddr, true)
	p.checkHostPort("ADMIN_ADDR", c.AdminAddr, true)
	if sameListener(c.ListenAddr, c.AdminAddr) {
		p.add("ADMIN_ADDR", "%q collides with PARJARM_LISTEN_ADDR %q; give the admin listener its own port, such as :9090", c.AdminAddr, c.ListenAddr)
	}

	c.validateRedis(&p)

	// Signing and features.
	if !slices.Contains(jarmSigningAlgs, c.DefaultSigningAlg) {
		p.add("DEFAULT_SIGNING_ALG", "%q is not supported; use one of %s", c.DefaultSigningAlg, algList(jarmSigningAlgs))
	}
	if !c.PAREnabled && !c.JARMEnabled {
		p.add("PAR_ENABLED", "PARJARM_PAR_ENABLED and PARJARM_JARM_ENABLED are both false, so the gateway would add nothing; enable at least one")
	}
	if c.RequirePAR && !c.PAREnabled {
		p.add("REQUIRE_PAR", "is true but PARJARM_PAR_ENABLED is false, so no client could ever authorize; enable PAR or set PARJARM_REQUIRE_PAR=false")
	}
	if c.RequireSignedRequestObject && !c.PAREnabled {
		p.add("REQUIRE_SIGNED_REQUEST_OBJECT", "is true but PARJARM_PAR_ENABLED is false, and request objects are checked at the PAR endpoint only; enable PAR or set PARJARM_REQUIRE_SIGNED_REQUEST_OBJECT=false")
	}

	c.validateProfile(&p)

	// Paths.
	p.checkPath("PAR_PATH", c.PARPath)
	if c.PARPath == "/.well-known" || strings.HasPrefix(c.PARPath, "/.well-known/") {
		p.add("PAR_PATH", "%q is under /.well-known/, which discovery owns (RFC 8615); use a path such as /par", c.PARPath)
	}
	p.checkPath("JWKS_PATH", c.JWKSPath)
	if c.JWKSPath == c.PARPath || c.JWKSPath == "/" {
		p.add("JWKS_PATH", "%q would hide another endpoint; use a path of its own such as /.well-known/parjarm/jwks.json", c.JWKSPath)
	}
	if c.PARPath == "/" {
		p.add("PAR_PATH", `"/" would capture every request; use a path such as /par`)
	}
	if c.AuthorizationPath != "" {
		p.checkPath("AUTHORIZATION_PATH", c.AuthorizationPath)
		if c.AuthorizationPath == c.PARPath {
			p.add("AUTHORIZATION_PATH", "%q equals PARJARM_PAR_PATH; the PAR endpoint needs its own path", c.AuthorizationPath)
		}
	}

	for _, name := range c.UpstreamReentryParams {
		if name == "" || authreq.IsOAuthParam(name) {
			// A re-entry may add the upstream's own parameters, never change
			// the authorization request.
			p.add("UPSTREAM_REENTRY_PARAMS", "%q is not an upstream's own parameter name; list only names such as login_verifier that are not OAuth parameters", name)
		}
	}

	// Policy.
	if c.ClientAssertionAudience != AudienceAny && c.ClientAssertionAudience != AudienceIssuer {
		p.add("CLIENT_ASSERTION_AUDIENCE", "%q is not a policy; use any (issuer, token endpoint or PAR URL; RFC 9126 section 2) or issuer (FAPI 2.0)", c.ClientAssertionAudience)
	}
	if len(c.SigningAlgsAllowed) == 0 {
		p.add("SIGNING_ALGS_ALLOWED", "is empty, so no client assertion or request object could be verified; use for example %s", algList(verificationAlgs))
	}
	for _, alg := range c.SigningAlgsAllowed {
		switch {
		case strings.EqualFold(string(alg), "none"):
			// RFC 9101, section 6.1; FAPI: unsigned JWTs are never accepted.
			p.add("SIGNING_ALGS_ALLOWED", `"none" would accept unsigned JWTs; remove it`)
		case strings.HasPrefix(strings.ToUpper(string(alg)), "HS"):
			p.add("SIGNING_ALGS_ALLOWED", "%q is a shared-secret (HMAC) algorithm, but the gateway verifies with the client's public keys; remove it", alg)
		case !slices.Contains(verificationAlgs, alg):
			p.add("SIGNING_ALGS_ALLOWED", "%q is not a supported algorithm; use any of %s", alg, algList(verificationAlgs))
		}
	}

	for _, prefix := range c.TrustedProxies {
		if !prefix.IsValid() {
			p.add("TRUSTED_PROXIES", "contains an invalid CIDR; use CIDRs such as 10.0.0.0/8")
		}
	}

	c.validateTLS(&p)

	if c.RateLimit < 0 || c.RateLimit > 1e6 || c.RateLimit != c.RateLimit {
		p.add("RATE_LIMIT", "%v is out of range; use 0 (off) or a rate per second such as 10", c.RateLimit)
	}
	if c.RateLimitBurst > 1e6 {
		p.add("RATE_LIMIT_BURST", "%d is out of range; use 1 to 1000000", c.RateLimitBurst)
	}

	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.LogLevel) {
		p.add("LOG_LEVEL", "%q is not a level; use debug, info, warn or error", c.LogLevel)
	}
	switch c.TokenEndpointPKCE {
	case PKCEAuto, PKCEEnforce, PKCEOff:
	default:
		p.add("TOKEN_ENDPOINT_PKCE", "%q is not a policy; use auto (enforce when the upstream does not advertise S256), enforce or off", c.TokenEndpointPKCE)
	}
	if c.LogFormat != "json" && c.LogFormat != "console" {
		p.add("LOG_FORMAT", "%q is not a format; use json or console", c.LogFormat)
	}

	c.validateNumbers(&p)
	return errors.Join(sortByVar(p)...)
}

// validateTLS checks the TLS listener and the client certificate sources.
func (c *Config) validateTLS(p *problems) {
	switch {
	case c.TLSCertFile != "" && c.TLSKeyFile == "":
		p.add("TLS_KEY_FILE", "is required with PARJARM_TLS_CERT_FILE; set it to the certificate's PEM private key")
	case c.TLSCertFile == "" && c.TLSKeyFile != "":
		p.add("TLS_CERT_FILE", "is required with PARJARM_TLS_KEY_FILE; set it to the PEM certificate (chain allowed)")
	}
	certsSeen := c.TLSCertFile != "" || c.ClientCertHeader != ""
	if c.TLSClientCAFile != "" && !certsSeen {
		p.add("TLS_CLIENT_CA_FILE", "is set but the gateway sees no client certificates; set PARJARM_TLS_CERT_FILE (the gateway terminates TLS) or PARJARM_CLIENT_CERT_HEADER (a TLS terminator forwards them)")
	}
	for _, h := range []struct{ name, value string }{
		{"CLIENT_CERT_HEADER", c.ClientCertHeader},
		{"UPSTREAM_CLIENT_CERT_HEADER", c.UpstreamClientCertHeader},
	} {
		if h.value != "" && !validHeaderName(h.value) {
			p.add(h.name, "%q is not a header name; use letters, digits and dashes, such as X-SSL-Client-Cert", h.value)
		}
	}
	if c.ClientCertHeader != "" && len(c.TrustedProxies) == 0 {
		p.add("CLIENT_CERT_HEADER", "is set but PARJARM_TRUSTED_PROXIES is empty, so the header is never believed; list the TLS terminator's addresses in PARJARM_TRUSTED_PROXIES")
	}
	if c.UpstreamClientCertHeader != "" && !certsSeen {
		p.add("UPSTREAM_CLIENT_CERT_HEADER", "is set but the gateway sees no client certificates; set PARJARM_TLS_CERT_FILE or PARJARM_CLIENT_CERT_HEADER")
	}
	for _, f := range []struct {
		name   string
		format tlsauth.Format
	}{
		{"CLIENT_CERT_HEADER_FORMAT", c.ClientCertHeaderFormat},
		{"UPSTREAM_CLIENT_CERT_HEADER_FORMAT", c.UpstreamClientCertHeaderFormat},
	} {
		if !f.format.Valid() {
			p.add(f.name, "%q is not a format; use rfc9440, nginx or envoy", f.format)
		}
	}
	if c.MTLSPublicURL != nil {
		p.checkURL("MTLS_PUBLIC_URL", c.MTLSPublicURL, !c.AllowInsecureHTTP)
		if !certsSeen {
			p.add("MTLS_PUBLIC_URL", "is set but the gateway sees no client certificates; set PARJARM_TLS_CERT_FILE or PARJARM_CLIENT_CERT_HEADER")
		}
	}
}

// validHeaderName reports whether s is an HTTP field name (RFC 9110,
// section 5.1: a token) made of letters, digits, "-" and "_".
func validHeaderName(s string) bool {
	for _, r := range s {
		if !(r == '-' || r == '_' || ('0' <= r && r <= '9') || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z')) {
			return false
		}
	}
	return s != ""
}

// validateRedis checks the store selection: at most one of REDIS_URL,
// Sentinel and Cluster, and only the variables that mode uses.
func (c *Config) validateRedis(p *problems) {
	sentinel := c.RedisSentinelMaster != "" || len(c.RedisSentinelAddrs) > 0
	cluster := len(c.RedisClusterAddrs) > 0
	standalone := c.RedisURL != nil
	if btoi(standalone)+btoi(sentinel)+btoi(cluster) > 1 {
		var set []string // the variable reported first, then the others
		if standalone {
			set = append(set, "REDIS_URL")
		}
		if sentinel {
			set = append(set, "REDIS_SENTINEL_ADDRS")
		}
		if cluster {
			set = append(set, "REDIS_CLUSTER_ADDRS")
		}
		others := make([]string, len(set)-1)
		for i, o := range set[1:] {
			others[i] = Prefix + o
		}
		p.add(set[0], "is set together with %s; configure exactly one Redis mode (PARJARM_REDIS_URL, the PARJARM_REDIS_SENTINEL_* variables, or PARJARM_REDIS_CLUSTER_ADDRS)", strings.Join(others, " and "))
	}

	if standalone {
		u := c.RedisURL
		switch {
		case u.Scheme != "redis" && u.Scheme != "rediss":
			p.add("REDIS_URL", "scheme %q is not redis or rediss; use redis://host:6379/0, or rediss:// for TLS", u.Scheme)
		case u.Host == "":
			p.add("REDIS_URL", "has no host; use redis://host:6379/0")
		case u.Fragment != "":
			p.add("REDIS_URL", "has a fragment; remove everything from #")
		default:
			// go-redis's own parser (pure: it opens no connection) catches a bad
			// database number or an unknown option. Its messages never carry
			// the password.
			if _, err := redis.ParseURL(u.String()); err != nil {
				p.add("REDIS_URL", "%v; use redis://[user:password@]host:6379/<db>", err)
			}
		}
		if c.RedisUsername != "" || c.RedisPassword != "" {
			name := "REDIS_PASSWORD"
			if c.RedisUsername != "" {
				name = "REDIS_USERNAME"
			}
			p.add(name, "is for Sentinel and Cluster; with PARJARM_REDIS_URL put the credentials in the URL (redis://user:password@host:6379/0)")
		}
		if c.RedisTLS {
			p.add("REDIS_TLS", "is for Sentinel and Cluster; with PARJARM_REDIS_URL use a rediss:// URL instead")
		}
	}

	if sentinel {
		if c.RedisSentinelMaster == "" {
			p.add("REDIS_SENTINEL_MASTER", "is required with PARJARM_REDIS_SENTINEL_ADDRS; set it to the monitored master's name, such as mymaster")
		}
		if len(c.RedisSentinelAddrs) == 0 {
			p.add("REDIS_SENTINEL_ADDRS", "is required with PARJARM_REDIS_SENTINEL_MASTER; list the Sentinels as host:port,host:port")
		}
		for _, a := range c.RedisSentinelAddrs {
			p.checkHostPort("REDIS_SENTINEL_ADDRS", a, false)
		}
	} else if c.RedisSentinelPassword != "" {
		p.add("REDIS_SENTINEL_PASSWORD", "is set but Sentinel is not configured; set PARJARM_REDIS_SENTINEL_MASTER and PARJARM_REDIS_SENTINEL_ADDRS, or remove it")
	}
	for _, a := range c.RedisClusterAddrs {
		p.checkHostPort("REDIS_CLUSTER_ADDRS", a, false)
	}

	if !standalone && !sentinel && !cluster {
		const fix = "is set but no Redis is configured (the in-memory store is used); configure PARJARM_REDIS_SENTINEL_* or PARJARM_REDIS_CLUSTER_ADDRS, or remove it"
		if c.RedisUsername != "" {
			p.add("REDIS_USERNAME", fix)
		}
		if c.RedisPassword != "" {
			p.add("REDIS_PASSWORD", fix)
		}
		if c.RedisTLS {
			p.add("REDIS_TLS", fix)
		}
		if c.RedisMinReplicas > 0 {
			p.add("REDIS_MIN_REPLICAS", "is set but no Redis is configured (the in-memory store has no replicas); configure Redis, or remove it")
		}
	}
}

// validateNumbers checks every duration (> 0, and its bounds) and every
// integer (its bounds), walking the fields so none is forgotten.
func (c *Config) validateNumbers(p *problems) {
	v := reflect.ValueOf(c).Elem()
	for _, f := range fields() {
		name := strings.TrimPrefix(f.name, Prefix)
		fv := v.FieldByName(f.goName)
		switch {
		case f.typ == reflect.TypeFor[time.Duration]():
			d := time.Duration(fv.Int())
			b := durationBounds[f.name]
			switch {
			case d == 0 && b.zero:
			case d <= 0:
				p.add(name, "%s is not positive; use a duration above 0, such as %s", fmtDur(d, b.seconds), f.def)
			case b.lo > 0 && d < time.Duration(b.lo):
				p.add(name, "%s is below the %s minimum%s; use at least %s", fmtDur(d, b.seconds), fmtDur(time.Duration(b.lo), b.seconds), note(b.note), fmtDur(time.Duration(b.lo), b.seconds))
			case b.hi > 0 && d > time.Duration(b.hi):
				p.add(name, "%s is above the %s maximum%s; use at most %s", fmtDur(d, b.seconds), fmtDur(time.Duration(b.hi), b.seconds), note(b.note), fmtDur(time.Duration(b.hi), b.seconds))
			}
		case f.kind == reflect.Int || f.kind == reflect.Int64:
			n := fv.Int()
			b := intBounds[f.name]
			switch {
			case b.zero && n < 0:
				p.add(name, "%d is negative; use 0 (off, the default) or a number above 0", n)
			case b.zero && n == 0:
			case n <= 0 && b.lo <= 1:
				p.add(name, "%d is not positive; use a number above 0, such as %s", n, f.def)
			case b.lo > 0 && n < b.lo:
				p.add(name, "%d is below the %d minimum; use at least %d", n, b.lo, b.lo)
			case b.hi > 0 && n > b.hi:
				p.add(name, "%d is above the %d maximum; use at most %d", n, b.hi, b.hi)
			}
		}
	}
}

// sortByVar orders errors by the declaration order of their variables;
// unknown variables come last, by name. The sort is stable.
func sortByVar(errs []error) []error {
	order := map[string]int{}
	for i, name := range Vars() {
		order[name] = i
	}
	rank := func(e error) (int, string) {
		var ve *VarError
		if !errors.As(e, &ve) {
			return len(order) + 1, ""
		}
		if i, ok := order[ve.Var]; ok {
			return i, ""
		}
		return len(order), ve.Var
	}
	slices.SortStableFunc(errs, func(a, b error) int {
		ra, na := rank(a)
		rb, nb := rank(b)
		if ra != rb {
			return ra - rb
		}
		return strings.Compare(na, nb)
	})
	return errs
}

// problems collects *VarError values.
type problems []error

// add records a problem with variable PARJARM_+name.
func (p *problems) add(name, format string, args ...any) {
	*p = append(*p, &VarError{Var: Prefix + name, Msg: fmt.Sprintf(format, args...)})
}

// checkURL checks an absolute http(s) URL without query, fragment or
// credentials; httpsOnly refuses http (PARJARM_ALLOW_INSECURE_HTTP lifts it).
func (p *problems) checkURL(name string, u *url.URL, httpsOnly bool) {
	shown := u.Redacted()
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		p.add(name, "%q is not an absolute http or https URL; use one such as https://host.example", shown)
		return
	case u.Host == "":
		p.add(name, "%q has no host; use an absolute URL such as https://host.example", shown)
		return
	}
	if u.User != nil {
		p.add(name, "carries credentials (user:password@); remove them")
	}
	if u.RawQuery != "" || u.ForceQuery {
		p.add(name, "%q has a query; remove everything from ?", shown)
	}
	if u.Fragment != "" {
		p.add(name, "%q has a fragment; remove everything from #", shown)
	}
	if httpsOnly && u.Scheme == "http" {
		p.add(name, "%q uses http; use https, or set PARJARM_ALLOW_INSECURE_HTTP=true for development only", shown)
	}
}

// checkHostPort checks a host:port address with a numeric port. A listener
// may omit the host (all interfaces) and use port 0 (any free port).
func (p *problems) checkHostPort(name, addr string, listener bool) {
	example := "redis-1:26379"
	if listener {
		example = ":8080 or 127.0.0.1:8080"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		p.add(name, "%q is not host:port; use for example %s", addr, example)
		return
	}
	n, err := strconv.Atoi(port)
	lo := 1
	if listener {
		lo = 0
	}
	if err != nil || n < lo || n > 65535 {
		p.add(name, "%q has port %q, not a number from %d to 65535; use for example %s", addr, port, lo, example)
	}
	if host == "" && !listener {
		p.add(name, "%q has no host; use for example %s", addr, example)
	}
}

// checkPath checks an absolute, clean URL path without query or fragment.
func (p *problems) checkPath(name, v string) {
	switch {
	case !strings.HasPrefix(v, "/"):
		p.add(name, "%q does not start with /; use a path such as /%s", v, strings.TrimLeft(v, "/"))
	case strings.ContainsAny(v, "?#"):
		p.add(name, "%q has a query or fragment; give the path only", v)
	case strings.ContainsFunc(v, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		p.add(name, "%q contains spaces or control characters; use a plain path", v)
	case path.Clean(v) != v:
		p.add(name, "%q is not a clean path; use %s", v, path.Clean(v))
	}
}

// sameListener reports whether two listener addresses would bind the same
// socket. Port 0 (any free port) never collides.
func sameListener(a, b string) bool {
	ha, pa, errA := net.SplitHostPort(a)
	hb, pb, errB := net.SplitHostPort(b)
	if errA != nil || errB != nil || pa != pb || pa == "0" {
		return false
	}
	wildcard := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	return ha == hb || wildcard(ha) || wildcard(hb)
}

// fmtDur prints d compactly: "15m", "1h30m", "900s" in seconds mode.
func fmtDur(d time.Duration, seconds bool) string {
	if seconds && d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// note formats an optional explanation for a bound.
func note(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

// algList prints algorithms as "A, B, C".
func algList(algs []jose.SignatureAlgorithm) string {
	s := make([]string, len(algs))
	for i, a := range algs {
		s[i] = string(a)
	}
	return strings.Join(s, ", ")
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// validateProfile checks PARJARM_PROFILE and what it needs of the other
// variables: PAR (every profile requires pushed requests), JARM (FAPI 2.0
// Message Signing section 5.4), a request_uri lifetime below 600 s.
func (c *Config) validateProfile(p *problems) {
	if _, err := profile.Parse(string(c.Profile)); err != nil {
		p.add("PROFILE", "%v", err)
		return
	}
	if c.Profile == profile.None {
		return
	}
	if !c.PAREnabled {
		p.add("PROFILE", "%s requires pushed authorization requests, but PARJARM_PAR_ENABLED is false; enable PAR", c.Profile)
	}
	if c.Profile.RequiresJARM() && !c.JARMEnabled {
		p.add("PROFILE", "%s requires JARM responses, but PARJARM_JARM_ENABLED is false; enable JARM", c.Profile)
	}
	// Above 600 s the lifetime bounds already report it.
	if c.PARLifetime == 600*time.Second {
		p.add("PAR_LIFETIME", "%s is not below 600s, which PARJARM_PROFILE=%s requires (request_uri expires_in under 600 seconds); use at most 599s", fmtDur(c.PARLifetime, true), c.Profile)
	}
}
