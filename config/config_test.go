package config

import (
	"errors"
	"net/netip"
	"net/url"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/parjarm/parjarm/profile"
	"github.com/parjarm/parjarm/tlsauth"
)

// minimal is the smallest valid environment.
func minimal() map[string]string {
	return map[string]string{"PARJARM_UPSTREAM_URL": "http://upstream.internal:8080"}
}

// with returns minimal() plus overrides.
func with(overrides map[string]string) map[string]string {
	m := minimal()
	for k, v := range overrides {
		m[k] = v
	}
	return m
}

// mustLoad loads environ and fails the test on any error.
func mustLoad(t *testing.T, environ map[string]string) *Config {
	t.Helper()
	c, err := Load(environ)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

// reported returns the sorted variable names of every *VarError in err.
func reported(err error) []string {
	var names []string
	var walk func(error)
	walk = func(e error) {
		var ve *VarError
		if errors.As(e, &ve) && ve == e {
			names = append(names, ve.Var)
			return
		}
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		if e != nil {
			names = append(names, "not a *VarError: "+e.Error())
		}
	}
	walk(err)
	sort.Strings(names)
	return names
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// check is one expected field value, named by its variable.
type check struct {
	name string
	got  func(c *Config) any
	want any
}

// assertChecks compares every check and that the checks cover every variable.
func assertChecks(t *testing.T, c *Config, checks []check) {
	t.Helper()
	var covered []string
	for _, ck := range checks {
		covered = append(covered, ck.name)
		t.Run(ck.name, func(t *testing.T) {
			if got := ck.got(c); !reflect.DeepEqual(got, ck.want) {
				t.Errorf("%s = %#v, want %#v", ck.name, got, ck.want)
			}
		})
	}
	sort.Strings(covered)
	all := Vars()
	sort.Strings(all)
	if !slices.Equal(covered, all) {
		t.Errorf("checks cover %v\nvariables are %v", covered, all)
	}
}

func TestLoadAppliesEveryDefault(t *testing.T) {
	c := mustLoad(t, minimal())
	var noURL *url.URL
	assertChecks(t, c, []check{
		{"PARJARM_UPSTREAM_URL", func(c *Config) any { return c.UpstreamURL.String() }, "http://upstream.internal:8080"},
		{"PARJARM_ISSUER", func(c *Config) any { return c.Issuer }, noURL},
		{"PARJARM_PUBLIC_URL", func(c *Config) any { return c.PublicURL }, noURL},
		{"PARJARM_ALLOW_INSECURE_HTTP", func(c *Config) any { return c.AllowInsecureHTTP }, false},
		{"PARJARM_LISTEN_ADDR", func(c *Config) any { return c.ListenAddr }, ":8080"},
		{"PARJARM_ADMIN_ADDR", func(c *Config) any { return c.AdminAddr }, ":9090"},
		{"PARJARM_PPROF", func(c *Config) any { return c.Pprof }, false},
		{"PARJARM_REDIS_URL", func(c *Config) any { return c.RedisURL }, noURL},
		{"PARJARM_REDIS_SENTINEL_MASTER", func(c *Config) any { return c.RedisSentinelMaster }, ""},
		{"PARJARM_REDIS_SENTINEL_ADDRS", func(c *Config) any { return c.RedisSentinelAddrs }, []string(nil)},
		{"PARJARM_REDIS_SENTINEL_PASSWORD", func(c *Config) any { return c.RedisSentinelPassword }, ""},
		{"PARJARM_REDIS_CLUSTER_ADDRS", func(c *Config) any { return c.RedisClusterAddrs }, []string(nil)},
		{"PARJARM_REDIS_USERNAME", func(c *Config) any { return c.RedisUsername }, ""},
		{"PARJARM_REDIS_PASSWORD", func(c *Config) any { return c.RedisPassword }, ""},
		{"PARJARM_REDIS_TLS", func(c *Config) any { return c.RedisTLS }, false},
		{"PARJARM_REDIS_DIAL_TIMEOUT", func(c *Config) any { return c.RedisDialTimeout }, 2 * time.Second},
		{"PARJARM_REDIS_TIMEOUT", func(c *Config) any { return c.RedisTimeout }, time.Second},
		{"PARJARM_REDIS_MIN_REPLICAS", func(c *Config) any { return c.RedisMinReplicas }, 0},
		{"PARJARM_MEMORY_STORE_MAX_ENTRIES", func(c *Config) any { return c.MemoryStoreMaxEntries }, 100000},
		{"PARJARM_CLIENTS_FILE", func(c *Config) any { return c.ClientsFile }, ""},
		{"PARJARM_SIGNING_KEYS_FILE", func(c *Config) any { return c.SigningKeysFile }, ""},
		{"PARJARM_SIGNING_KEY_ID", func(c *Config) any { return c.SigningKeyID }, ""},
		{"PARJARM_DEFAULT_SIGNING_ALG", func(c *Config) any { return c.DefaultSigningAlg }, jose.RS256},
		{"PARJARM_PAR_ENABLED", func(c *Config) any { return c.PAREnabled }, true},
		{"PARJARM_JARM_ENABLED", func(c *Config) any { return c.JARMEnabled }, true},
		{"PARJARM_PAR_PATH", func(c *Config) any { return c.PARPath }, "/par"},
		{"PARJARM_JWKS_PATH", func(c *Config) any { return c.JWKSPath }, "/.well-known/parjarm/jwks.json"},
		{"PARJARM_PAR_LIFETIME", func(c *Config) any { return c.PARLifetime }, 60 * time.Second},
		{"PARJARM_REQUIRE_PAR", func(c *Config) any { return c.RequirePAR }, false},
		{"PARJARM_REQUIRE_PKCE", func(c *Config) any { return c.RequirePKCE }, false},
		{"PARJARM_REQUIRE_SIGNED_REQUEST_OBJECT", func(c *Config) any { return c.RequireSignedRequestObject }, false},
		{"PARJARM_PROFILE", func(c *Config) any { return c.Profile }, profile.None},
		{"PARJARM_PAR_MAX_BODY_BYTES", func(c *Config) any { return c.PARMaxBodyBytes }, int64(65536)},
		{"PARJARM_MAX_PARAMS", func(c *Config) any { return c.MaxParams }, 100},
		{"PARJARM_CLIENT_ASSERTION_AUDIENCE", func(c *Config) any { return c.ClientAssertionAudience }, AudienceAny},
		{"PARJARM_SIGNING_ALGS_ALLOWED", func(c *Config) any { return c.SigningAlgsAllowed },
			[]jose.SignatureAlgorithm{jose.PS256, jose.ES256, jose.EdDSA, jose.RS256, jose.ES384}},
		{"PARJARM_REQUEST_OBJECT_MAX_AGE", func(c *Config) any { return c.RequestObjectMaxAge }, 60 * time.Minute},
		{"PARJARM_CLOCK_SKEW", func(c *Config) any { return c.ClockSkew }, 10 * time.Second},
		{"PARJARM_JARM_LIFETIME", func(c *Config) any { return c.JARMLifetime }, 5 * time.Minute},
		{"PARJARM_TRANSACTION_TTL", func(c *Config) any { return c.TransactionTTL }, 30 * time.Minute},
		{"PARJARM_TOKEN_ENDPOINT_PKCE", func(c *Config) any { return c.TokenEndpointPKCE }, PKCEAuto},
		{"PARJARM_CODE_LIFETIME", func(c *Config) any { return c.CodeLifetime }, 10 * time.Minute},
		{"PARJARM_ENFORCE_REDIRECT_URIS", func(c *Config) any { return c.EnforceRedirectURIs }, true},
		{"PARJARM_AUTHORIZATION_PATH", func(c *Config) any { return c.AuthorizationPath }, ""},
		{"PARJARM_DISCOVERY_CACHE_TTL", func(c *Config) any { return c.DiscoveryCacheTTL }, 5 * time.Minute},
		{"PARJARM_STARTUP_TIMEOUT", func(c *Config) any { return c.StartupTimeout }, 60 * time.Second},
		{"PARJARM_UPSTREAM_DIAL_TIMEOUT", func(c *Config) any { return c.UpstreamDialTimeout }, 5 * time.Second},
		{"PARJARM_UPSTREAM_TIMEOUT", func(c *Config) any { return c.UpstreamTimeout }, 30 * time.Second},
		{"PARJARM_UPSTREAM_PRESERVE_HOST", func(c *Config) any { return c.UpstreamPreserveHost }, true},
		{"PARJARM_UPSTREAM_REENTRY_PARAMS", func(c *Config) any { return c.UpstreamReentryParams }, []string{"login_verifier", "consent_verifier"}},
		{"PARJARM_TRUSTED_PROXIES", func(c *Config) any { return c.TrustedProxies }, []netip.Prefix(nil)},
		{"PARJARM_TLS_CERT_FILE", func(c *Config) any { return c.TLSCertFile }, ""},
		{"PARJARM_TLS_KEY_FILE", func(c *Config) any { return c.TLSKeyFile }, ""},
		{"PARJARM_TLS_CLIENT_CA_FILE", func(c *Config) any { return c.TLSClientCAFile }, ""},
		{"PARJARM_CLIENT_CERT_HEADER", func(c *Config) any { return c.ClientCertHeader }, ""},
		{"PARJARM_CLIENT_CERT_HEADER_FORMAT", func(c *Config) any { return c.ClientCertHeaderFormat }, tlsauth.FormatRFC9440},
		{"PARJARM_UPSTREAM_CLIENT_CERT_HEADER", func(c *Config) any { return c.UpstreamClientCertHeader }, ""},
		{"PARJARM_UPSTREAM_CLIENT_CERT_HEADER_FORMAT", func(c *Config) any { return c.UpstreamClientCertHeaderFormat }, tlsauth.FormatRFC9440},
		{"PARJARM_MTLS_PUBLIC_URL", func(c *Config) any { return c.MTLSPublicURL }, noURL},
		{"PARJARM_RATE_LIMIT", func(c *Config) any { return c.RateLimit }, float64(0)},
		{"PARJARM_RATE_LIMIT_BURST", func(c *Config) any { return c.RateLimitBurst }, 20},
		{"PARJARM_RATE_LIMIT_IPV6_PREFIX", func(c *Config) any { return c.RateLimitIPv6Prefix }, 64},
		{"PARJARM_JWKS_FETCH_TIMEOUT", func(c *Config) any { return c.JWKSFetchTimeout }, 5 * time.Second},
		{"PARJARM_JWKS_MAX_BYTES", func(c *Config) any { return c.JWKSMaxBytes }, int64(65536)},
		{"PARJARM_JWKS_CACHE_TTL", func(c *Config) any { return c.JWKSCacheTTL }, 5 * time.Minute},
		{"PARJARM_RELOAD_INTERVAL", func(c *Config) any { return c.ReloadInterval }, 5 * time.Second},
		{"PARJARM_READ_HEADER_TIMEOUT", func(c *Config) any { return c.ReadHeaderTimeout }, 10 * time.Second},
		{"PARJARM_READ_TIMEOUT", func(c *Config) any { return c.ReadTimeout }, 30 * time.Second},
		{"PARJARM_WRITE_TIMEOUT", func(c *Config) any { return c.WriteTimeout }, 60 * time.Second},
		{"PARJARM_IDLE_TIMEOUT", func(c *Config) any { return c.IdleTimeout }, 120 * time.Second},
		{"PARJARM_SHUTDOWN_TIMEOUT", func(c *Config) any { return c.ShutdownTimeout }, 15 * time.Second},
		{"PARJARM_ERROR_TEMPLATE", func(c *Config) any { return c.ErrorTemplate }, ""},
		{"PARJARM_ERROR_LOCALES", func(c *Config) any { return c.ErrorLocales }, ""},
		{"PARJARM_LOG_LEVEL", func(c *Config) any { return c.LogLevel }, "info"},
		{"PARJARM_LOG_FORMAT", func(c *Config) any { return c.LogFormat }, "json"},
	})
	if got := c.StoreKind(); got != StoreMemory {
		t.Errorf("StoreKind() = %q, want %q", got, StoreMemory)
	}
}

// full sets every variable to a valid value that is not its default.
func full() map[string]string {
	m := map[string]string{
		"PARJARM_UPSTREAM_URL":                  "https://idp.internal:8443/auth",
		"PARJARM_ISSUER":                        "https://login.example.com/realms/bank",
		"PARJARM_PUBLIC_URL":                    "https://gw.example.com/",
		"PARJARM_ALLOW_INSECURE_HTTP":           "true",
		"PARJARM_LISTEN_ADDR":                   "127.0.0.1:8443",
		"PARJARM_ADMIN_ADDR":                    "127.0.0.1:9443",
		"PARJARM_PPROF":                         "true",
		"PARJARM_REDIS_URL":                     "",
		"PARJARM_REDIS_SENTINEL_MASTER":         "mymaster",
		"PARJARM_REDIS_SENTINEL_ADDRS":          "sentinel-1:26379, sentinel-2:26379,sentinel-3:26379",
		"PARJARM_REDIS_SENTINEL_PASSWORD":       "sentinel-secret",
		"PARJARM_REDIS_CLUSTER_ADDRS":           "",
		"PARJARM_REDIS_USERNAME":                "parjarm",
		"PARJARM_REDIS_PASSWORD":                "redis-secret",
		"PARJARM_REDIS_TLS":                     "true",
		"PARJARM_REDIS_DIAL_TIMEOUT":            "3s",
		"PARJARM_REDIS_TIMEOUT":                 "750ms",
		"PARJARM_REDIS_MIN_REPLICAS":            "1",
		"PARJARM_MEMORY_STORE_MAX_ENTRIES":      "5000",
		"PARJARM_CLIENTS_FILE":                  "/etc/parjarm/clients.json",
		"PARJARM_SIGNING_KEYS_FILE":             "/etc/parjarm/keys.jwks",
		"PARJARM_SIGNING_KEY_ID":                "2025-01",
		"PARJARM_DEFAULT_SIGNING_ALG":           "PS256",
		"PARJARM_PAR_ENABLED":                   "true",
		"PARJARM_JARM_ENABLED":                  "false",
		"PARJARM_PAR_PATH":                      "/oauth2/par",
		"PARJARM_JWKS_PATH":                     "/keys/all.json",
		"PARJARM_PAR_LIFETIME":                  "90s",
		"PARJARM_REQUIRE_PAR":                   "true",
		"PARJARM_REQUIRE_PKCE":                  "true",
		"PARJARM_REQUIRE_SIGNED_REQUEST_OBJECT": "true",
		"PARJARM_PROFILE":                       "fapi1-advanced",
		"PARJARM_PAR_MAX_BODY_BYTES":            "131072",
		"PARJARM_MAX_PARAMS":                    "50",
		"PARJARM_CLIENT_ASSERTION_AUDIENCE":     "issuer",
		"PARJARM_SIGNING_ALGS_ALLOWED":          "PS256, ES256 ,EdDSA,",
		"PARJARM_REQUEST_OBJECT_MAX_AGE":        "30m",
		"PARJARM_CLOCK_SKEW":                    "5s",
		"PARJARM_JARM_LIFETIME":                 "2m",
		"PARJARM_TRANSACTION_TTL":               "1h",
		"PARJARM_TOKEN_ENDPOINT_PKCE":           "enforce",
		"PARJARM_CODE_LIFETIME":                 "5m",
		"PARJARM_ENFORCE_REDIRECT_URIS":         "false",
		"PARJARM_AUTHORIZATION_PATH":            "/oauth2/authorize",
		"PARJARM_DISCOVERY_CACHE_TTL":           "1m",
		"PARJARM_STARTUP_TIMEOUT":               "2m",
		"PARJARM_UPSTREAM_DIAL_TIMEOUT":         "1s",
		"PARJARM_UPSTREAM_TIMEOUT":              "10s",
		"PARJARM_UPSTREAM_PRESERVE_HOST":        "false",
		"PARJARM_UPSTREAM_REENTRY_PARAMS":       "session_ticket",
		"PARJARM_TRUSTED_PROXIES":               "10.0.0.0/8, fd00::/8",
		"PARJARM_RATE_LIMIT":                    "12.5",
		"PARJARM_RATE_LIMIT_BURST":              "40",
		"PARJARM_RATE_LIMIT_IPV6_PREFIX":        "56",
		"PARJARM_JWKS_FETCH_TIMEOUT":            "2s",
		"PARJARM_JWKS_MAX_BYTES":                "32768",
		"PARJARM_JWKS_CACHE_TTL":                "10m",
		"PARJARM_RELOAD_INTERVAL":               "30s",
		"PARJARM_READ_HEADER_TIMEOUT":           "5s",
		"PARJARM_READ_TIMEOUT":                  "20s",
		"PARJARM_WRITE_TIMEOUT":                 "40s",
		"PARJARM_IDLE_TIMEOUT":                  "90s",
		"PARJARM_SHUTDOWN_TIMEOUT":              "25s",
		"PARJARM_ERROR_TEMPLATE":                "/etc/parjarm/error.html",
		"PARJARM_ERROR_LOCALES":                 "/etc/parjarm/locales",
		"PARJARM_LOG_LEVEL":                     "debug",
		"PARJARM_LOG_FORMAT":                    "console",
	}
	for k, v := range fullTLS {
		m[k] = v
	}
	return m
}

// fullTLS sets the TLS and client certificate variables of full.
var fullTLS = map[string]string{
	"PARJARM_TLS_CERT_FILE":                      "/etc/parjarm/tls/tls.crt",
	"PARJARM_TLS_KEY_FILE":                       "/etc/parjarm/tls/tls.key",
	"PARJARM_TLS_CLIENT_CA_FILE":                 "/etc/parjarm/tls/clients-ca.pem",
	"PARJARM_CLIENT_CERT_HEADER":                 "X-SSL-Client-Cert",
	"PARJARM_CLIENT_CERT_HEADER_FORMAT":          "nginx",
	"PARJARM_UPSTREAM_CLIENT_CERT_HEADER":        "X-Client-Cert",
	"PARJARM_UPSTREAM_CLIENT_CERT_HEADER_FORMAT": "envoy",
	"PARJARM_MTLS_PUBLIC_URL":                    "https://matls-gw.example.com",
}

func TestLoadReadsAFullEnvironment(t *testing.T) {
	c := mustLoad(t, full())
	var noURL *url.URL
	assertChecks(t, c, []check{
		{"PARJARM_UPSTREAM_URL", func(c *Config) any { return c.UpstreamURL }, mustURL(t, "https://idp.internal:8443/auth")},
		{"PARJARM_ISSUER", func(c *Config) any { return c.Issuer }, mustURL(t, "https://login.example.com/realms/bank")},
		{"PARJARM_PUBLIC_URL", func(c *Config) any { return c.PublicURL }, mustURL(t, "https://gw.example.com/")},
		{"PARJARM_ALLOW_INSECURE_HTTP", func(c *Config) any { return c.AllowInsecureHTTP }, true},
		{"PARJARM_LISTEN_ADDR", func(c *Config) any { return c.ListenAddr }, "127.0.0.1:8443"},
		{"PARJARM_ADMIN_ADDR", func(c *Config) any { return c.AdminAddr }, "127.0.0.1:9443"},
		{"PARJARM_PPROF", func(c *Config) any { return c.Pprof }, true},
		{"PARJARM_REDIS_URL", func(c *Config) any { return c.RedisURL }, noURL},
		{"PARJARM_REDIS_SENTINEL_MASTER", func(c *Config) any { return c.RedisSentinelMaster }, "mymaster"},
		{"PARJARM_REDIS_SENTINEL_ADDRS", func(c *Config) any { return c.RedisSentinelAddrs },
			[]string{"sentinel-1:26379", "sentinel-2:26379", "sentinel-3:26379"}},
		{"PARJARM_REDIS_SENTINEL_PASSWORD", func(c *Config) any { return c.RedisSentinelPassword }, "sentinel-secret"},
		{"PARJARM_REDIS_CLUSTER_ADDRS", func(c *Config) any { return c.RedisClusterAddrs }, []string(nil)},
		{"PARJARM_REDIS_USERNAME", func(c *Config) any { return c.RedisUsername }, "parjarm"},
		{"PARJARM_REDIS_PASSWORD", func(c *Config) any { return c.RedisPassword }, "redis-secret"},
		{"PARJARM_REDIS_TLS", func(c *Config) any { return c.RedisTLS }, true},
		{"PARJARM_REDIS_DIAL_TIMEOUT", func(c *Config) any { return c.RedisDialTimeout }, 3 * time.Second},
		{"PARJARM_REDIS_TIMEOUT", func(c *Config) any { return c.RedisTimeout }, 750 * time.Millisecond},
		{"PARJARM_REDIS_MIN_REPLICAS", func(c *Config) any { return c.RedisMinReplicas }, 1},
		{"PARJARM_MEMORY_STORE_MAX_ENTRIES", func(c *Config) any { return c.MemoryStoreMaxEntries }, 5000},
		{"PARJARM_CLIENTS_FILE", func(c *Config) any { return c.ClientsFile }, "/etc/parjarm/clients.json"},
		{"PARJARM_SIGNING_KEYS_FILE", func(c *Config) any { return c.SigningKeysFile }, "/etc/parjarm/keys.jwks"},
		{"PARJARM_SIGNING_KEY_ID", func(c *Config) any { return c.SigningKeyID }, "2025-01"},
		{"PARJARM_DEFAULT_SIGNING_ALG", func(c *Config) any { return c.DefaultSigningAlg }, jose.PS256},
		{"PARJARM_PAR_ENABLED", func(c *Config) any { return c.PAREnabled }, true},
		{"PARJARM_JARM_ENABLED", func(c *Config) any { return c.JARMEnabled }, false},
		{"PARJARM_PAR_PATH", func(c *Config) any { return c.PARPath }, "/oauth2/par"},
		{"PARJARM_JWKS_PATH", func(c *Config) any { return c.JWKSPath }, "/keys/all.json"},
		{"PARJARM_PAR_LIFETIME", func(c *Config) any { return c.PARLifetime }, 90 * time.Second},
		{"PARJARM_REQUIRE_PAR", func(c *Config) any { return c.RequirePAR }, true},
		{"PARJARM_REQUIRE_PKCE", func(c *Config) any { return c.RequirePKCE }, true},
		{"PARJARM_REQUIRE_SIGNED_REQUEST_OBJECT", func(c *Config) any { return c.RequireSignedRequestObject }, true},
		{"PARJARM_PROFILE", func(c *Config) any { return c.Profile }, profile.FAPI1Advanced},
		{"PARJARM_PAR_MAX_BODY_BYTES", func(c *Config) any { return c.PARMaxBodyBytes }, int64(131072)},
		{"PARJARM_MAX_PARAMS", func(c *Config) any { return c.MaxParams }, 50},
		{"PARJARM_CLIENT_ASSERTION_AUDIENCE", func(c *Config) any { return c.ClientAssertionAudience }, AudienceIssuer},
		{"PARJARM_SIGNING_ALGS_ALLOWED", func(c *Config) any { return c.SigningAlgsAllowed },
			[]jose.SignatureAlgorithm{jose.PS256, jose.ES256, jose.EdDSA}},
		{"PARJARM_REQUEST_OBJECT_MAX_AGE", func(c *Config) any { return c.RequestObjectMaxAge }, 30 * time.Minute},
		{"PARJARM_CLOCK_SKEW", func(c *Config) any { return c.ClockSkew }, 5 * time.Second},
		{"PARJARM_JARM_LIFETIME", func(c *Config) any { return c.JARMLifetime }, 2 * time.Minute},
		{"PARJARM_TRANSACTION_TTL", func(c *Config) any { return c.TransactionTTL }, time.Hour},
		{"PARJARM_TOKEN_ENDPOINT_PKCE", func(c *Config) any { return c.TokenEndpointPKCE }, PKCEEnforce},
		{"PARJARM_CODE_LIFETIME", func(c *Config) any { return c.CodeLifetime }, 5 * time.Minute},
		{"PARJARM_ENFORCE_REDIRECT_URIS", func(c *Config) any { return c.EnforceRedirectURIs }, false},
		{"PARJARM_AUTHORIZATION_PATH", func(c *Config) any { return c.AuthorizationPath }, "/oauth2/authorize"},
		{"PARJARM_DISCOVERY_CACHE_TTL", func(c *Config) any { return c.DiscoveryCacheTTL }, time.Minute},
		{"PARJARM_STARTUP_TIMEOUT", func(c *Config) any { return c.StartupTimeout }, 2 * time.Minute},
		{"PARJARM_UPSTREAM_DIAL_TIMEOUT", func(c *Config) any { return c.UpstreamDialTimeout }, time.Second},
		{"PARJARM_UPSTREAM_TIMEOUT", func(c *Config) any { return c.UpstreamTimeout }, 10 * time.Second},
		{"PARJARM_UPSTREAM_PRESERVE_HOST", func(c *Config) any { return c.UpstreamPreserveHost }, false},
		{"PARJARM_UPSTREAM_REENTRY_PARAMS", func(c *Config) any { return c.UpstreamReentryParams }, []string{"session_ticket"}},
		{"PARJARM_TRUSTED_PROXIES", func(c *Config) any { return c.TrustedProxies },
			[]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}},
		{"PARJARM_TLS_CERT_FILE", func(c *Config) any { return c.TLSCertFile }, "/etc/parjarm/tls/tls.crt"},
		{"PARJARM_TLS_KEY_FILE", func(c *Config) any { return c.TLSKeyFile }, "/etc/parjarm/tls/tls.key"},
		{"PARJARM_TLS_CLIENT_CA_FILE", func(c *Config) any { return c.TLSClientCAFile }, "/etc/parjarm/tls/clients-ca.pem"},
		{"PARJARM_CLIENT_CERT_HEADER", func(c *Config) any { return c.ClientCertHeader }, "X-SSL-Client-Cert"},
		{"PARJARM_CLIENT_CERT_HEADER_FORMAT", func(c *Config) any { return c.ClientCertHeaderFormat }, tlsauth.FormatNginx},
		{"PARJARM_UPSTREAM_CLIENT_CERT_HEADER", func(c *Config) any { return c.UpstreamClientCertHeader }, "X-Client-Cert"},
		{"PARJARM_UPSTREAM_CLIENT_CERT_HEADER_FORMAT", func(c *Config) any { return c.UpstreamClientCertHeaderFormat }, tlsauth.FormatEnvoy},
		{"PARJARM_MTLS_PUBLIC_URL", func(c *Config) any { return c.MTLSPublicURL }, mustURL(t, "https://matls-gw.example.com")},
		{"PARJARM_RATE_LIMIT", func(c *Config) any { return c.RateLimit }, 12.5},
		{"PARJARM_RATE_LIMIT_BURST", func(c *Config) any { return c.RateLimitBurst }, 40},
		{"PARJARM_RATE_LIMIT_IPV6_PREFIX", func(c *Config) any { return c.RateLimitIPv6Prefix }, 56},
		{"PARJARM_JWKS_FETCH_TIMEOUT", func(c *Config) any { return c.JWKSFetchTimeout }, 2 * time.Second},
		{"PARJARM_JWKS_MAX_BYTES", func(c *Config) any { return c.JWKSMaxBytes }, int64(32768)},
		{"PARJARM_JWKS_CACHE_TTL", func(c *Config) any { return c.JWKSCacheTTL }, 10 * time.Minute},
		{"PARJARM_RELOAD_INTERVAL", func(c *Config) any { return c.ReloadInterval }, 30 * time.Second},
		{"PARJARM_READ_HEADER_TIMEOUT", func(c *Config) any { return c.ReadHeaderTimeout }, 5 * time.Second},
		{"PARJARM_READ_TIMEOUT", func(c *Config) any { return c.ReadTimeout }, 20 * time.Second},
		{"PARJARM_WRITE_TIMEOUT", func(c *Config) any { return c.WriteTimeout }, 40 * time.Second},
		{"PARJARM_IDLE_TIMEOUT", func(c *Config) any { return c.IdleTimeout }, 90 * time.Second},
		{"PARJARM_SHUTDOWN_TIMEOUT", func(c *Config) any { return c.ShutdownTimeout }, 25 * time.Second},
		{"PARJARM_ERROR_TEMPLATE", func(c *Config) any { return c.ErrorTemplate }, "/etc/parjarm/error.html"},
		{"PARJARM_ERROR_LOCALES", func(c *Config) any { return c.ErrorLocales }, "/etc/parjarm/locales"},
		{"PARJARM_LOG_LEVEL", func(c *Config) any { return c.LogLevel }, "debug"},
		{"PARJARM_LOG_FORMAT", func(c *Config) any { return c.LogFormat }, "console"},
	})
	if got := c.StoreKind(); got != StoreSentinel {
		t.Errorf("StoreKind() = %q, want %q", got, StoreSentinel)
	}
}

func TestLoadRoundTripsThroughItsOwnVariables(t *testing.T) {
	tests := []struct {
		name    string
		environ map[string]string
	}{
		{"the defaults come back unchanged", minimal()},
		{"a full environment comes back unchanged", full()},
		{"a Redis URL with credentials comes back unchanged", with(map[string]string{
			"PARJARM_REDIS_URL": "rediss://user:p%40ss@redis.internal:6380/2?dial_timeout=3s",
		})},
		{"a cluster comes back unchanged", with(map[string]string{
			"PARJARM_REDIS_CLUSTER_ADDRS": "node-1:7000,node-2:7000", "PARJARM_REDIS_PASSWORD": "pw", "PARJARM_REDIS_TLS": "true",
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first := mustLoad(t, tt.environ)
			second := mustLoad(t, first.vars(false))
			if !reflect.DeepEqual(first, second) {
				t.Errorf("round trip changed the config:\nfirst  %+v\nsecond %+v", first, second)
			}
		})
	}
}

func TestStoreKindFollowsTheRedisVariables(t *testing.T) {
	tests := []struct {
		name    string
		environ map[string]string
		want    string
	}{
		{"no Redis variable selects the memory store", minimal(), StoreMemory},
		{"a Redis URL selects standalone Redis", with(map[string]string{"PARJARM_REDIS_URL": "redis://redis:6379/0"}), StoreRedis},
		{"a Sentinel master and addresses select Sentinel", with(map[string]string{
			"PARJARM_REDIS_SENTINEL_MASTER": "mymaster", "PARJARM_REDIS_SENTINEL_ADDRS": "s1:26379",
		}), StoreSentinel},
		{"cluster addresses select Cluster", with(map[string]string{"PARJARM_REDIS_CLUSTER_ADDRS": "n1:7000,n2:7000"}), StoreCluster},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mustLoad(t, tt.environ).StoreKind(); got != tt.want {
				t.Errorf("StoreKind() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestEnvironConvertsKeyValuePairs(t *testing.T) {
	got := Environ([]string{
		"PARJARM_UPSTREAM_URL=http://u:1/",
		"PARJARM_REDIS_URL=redis://h:6379/0?dial_timeout=1s",
		"PARJARM_SIGNING_KEY_ID=a=b",
		"NOEQUALS",
		"EMPTY=",
	})
	want := map[string]string{
		"PARJARM_UPSTREAM_URL":   "http://u:1/",
		"PARJARM_REDIS_URL":      "redis://h:6379/0?dial_timeout=1s",
		"PARJARM_SIGNING_KEY_ID": "a=b",
		"EMPTY":                  "",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Environ = %v, want %v", got, want)
	}
}

func TestLoadNeverReadsTheProcessEnvironment(t *testing.T) {
	t.Setenv("PARJARM_UPSTREAM_URL", "http://from-process-env:8080")
	t.Setenv("PARJARM_PAR_LIFETIME", "900s")
	_, err := Load(nil)
	if got, want := reported(err), []string{"PARJARM_UPSTREAM_URL"}; !slices.Equal(got, want) {
		t.Fatalf("Load(nil) reported %v, want %v (it must not read the process environment)", got, want)
	}
	c := mustLoad(t, minimal())
	if c.UpstreamURL.Host != "upstream.internal:8080" || c.PARLifetime != time.Minute {
		t.Errorf("Load read the process environment: upstream %v, PAR lifetime %v", c.UpstreamURL, c.PARLifetime)
	}
}

func TestLoadIgnoresOtherVariables(t *testing.T) {
	c := mustLoad(t, with(map[string]string{"HOME": "/root", "PATH": "/bin", "PARJARMX": "1"}))
	if c.UpstreamURL == nil {
		t.Fatal("UpstreamURL not loaded")
	}
}

func TestEveryFieldHasEnvAndEnvDefaultTags(t *testing.T) {
	typ := reflect.TypeFor[Config]()
	for i := range typ.NumField() {
		sf := typ.Field(i)
		t.Run(sf.Name, func(t *testing.T) {
			if name := sf.Tag.Get("env"); name == "" || strings.Contains(name, ",") {
				t.Errorf("field %s has env tag %q, want a plain variable name", sf.Name, name)
			}
			if _, ok := sf.Tag.Lookup("envDefault"); !ok {
				t.Errorf("field %s has no envDefault tag", sf.Name)
			}
		})
	}
}
