package config

import (
	"errors"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// invalidCases each break one variable; Load must report exactly that one.
var invalidCases = []struct {
	name     string
	environ  map[string]string
	wantVar  string
	wantText string
}{
	// Upstream, issuer, public URL.
	{"a missing upstream URL is required", map[string]string{"PARJARM_UPSTREAM_URL": ""}, "PARJARM_UPSTREAM_URL", "is required"},
	{"a relative upstream URL is refused", map[string]string{"PARJARM_UPSTREAM_URL": "upstream.internal:8080"}, "PARJARM_UPSTREAM_URL", "absolute http or https"},
	{"an ftp upstream URL is refused", map[string]string{"PARJARM_UPSTREAM_URL": "ftp://upstream.internal"}, "PARJARM_UPSTREAM_URL", "absolute http or https"},
	{"an upstream URL without a host is refused", map[string]string{"PARJARM_UPSTREAM_URL": "http:///path"}, "PARJARM_UPSTREAM_URL", "no host"},
	{"an upstream URL with a query is refused", map[string]string{"PARJARM_UPSTREAM_URL": "http://u.internal/?a=b"}, "PARJARM_UPSTREAM_URL", "has a query"},
	{"an upstream URL with an empty query is refused", map[string]string{"PARJARM_UPSTREAM_URL": "http://u.internal/?"}, "PARJARM_UPSTREAM_URL", "has a query"},
	{"an upstream URL with a fragment is refused", map[string]string{"PARJARM_UPSTREAM_URL": "http://u.internal/#x"}, "PARJARM_UPSTREAM_URL", "has a fragment"},
	{"an upstream URL with credentials is refused", map[string]string{"PARJARM_UPSTREAM_URL": "http://admin:pw@u.internal/"}, "PARJARM_UPSTREAM_URL", "credentials"},
	{"an unparsable upstream URL names the variable", map[string]string{"PARJARM_UPSTREAM_URL": "http://[::1"}, "PARJARM_UPSTREAM_URL", "not a valid URL"},
	{"an http issuer is refused without the insecure switch", map[string]string{"PARJARM_ISSUER": "http://login.example.com"}, "PARJARM_ISSUER", "PARJARM_ALLOW_INSECURE_HTTP=true"},
	{"an issuer with a query is refused", map[string]string{"PARJARM_ISSUER": "https://login.example.com/?tenant=1"}, "PARJARM_ISSUER", "has a query"},
	{"an issuer with a fragment is refused", map[string]string{"PARJARM_ISSUER": "https://login.example.com/#x"}, "PARJARM_ISSUER", "has a fragment"},
	{"a relative issuer is refused", map[string]string{"PARJARM_ISSUER": "/realms/bank"}, "PARJARM_ISSUER", "absolute http or https"},
	{"an http public URL is refused without the insecure switch", map[string]string{"PARJARM_PUBLIC_URL": "http://gw.example.com"}, "PARJARM_PUBLIC_URL", "uses http"},
	{"a public URL with a query is refused", map[string]string{"PARJARM_PUBLIC_URL": "https://gw.example.com/?x"}, "PARJARM_PUBLIC_URL", "has a query"},
	{"a non-boolean insecure switch is refused", map[string]string{"PARJARM_ALLOW_INSECURE_HTTP": "maybe"}, "PARJARM_ALLOW_INSECURE_HTTP", `"maybe" is not a boolean`},

	// Listeners.
	{"a listen address without a port is refused", map[string]string{"PARJARM_LISTEN_ADDR": "8080"}, "PARJARM_LISTEN_ADDR", "not host:port"},
	{"a listen port above 65535 is refused", map[string]string{"PARJARM_LISTEN_ADDR": ":70000"}, "PARJARM_LISTEN_ADDR", "not a number from 0 to 65535"},
	{"a named listen port is refused", map[string]string{"PARJARM_ADMIN_ADDR": ":http"}, "PARJARM_ADMIN_ADDR", "not a number"},
	{"an admin address equal to the listen address is refused", map[string]string{"PARJARM_ADMIN_ADDR": ":8080"}, "PARJARM_ADMIN_ADDR", "collides with PARJARM_LISTEN_ADDR"},
	{"an admin address on the same port of one interface is refused", map[string]string{"PARJARM_ADMIN_ADDR": "127.0.0.1:8080"}, "PARJARM_ADMIN_ADDR", "collides"},
	{"a non-boolean pprof switch is refused", map[string]string{"PARJARM_PPROF": "on"}, "PARJARM_PPROF", "use true or false"},

	// Redis.
	{"a Redis URL with another scheme is refused", map[string]string{"PARJARM_REDIS_URL": "http://redis:6379"}, "PARJARM_REDIS_URL", "not redis or rediss"},
	{"a Redis URL without a host is refused", map[string]string{"PARJARM_REDIS_URL": "redis:///0"}, "PARJARM_REDIS_URL", "no host"},
	{"a Redis URL with a bad database is refused", map[string]string{"PARJARM_REDIS_URL": "redis://redis:6379/abc"}, "PARJARM_REDIS_URL", "invalid database number"},
	{"a Redis URL with an unknown option is refused", map[string]string{"PARJARM_REDIS_URL": "redis://redis:6379/0?colour=red"}, "PARJARM_REDIS_URL", "unexpected option"},
	{"a Redis URL and cluster addresses together are refused", map[string]string{"PARJARM_REDIS_URL": "redis://redis:6379", "PARJARM_REDIS_CLUSTER_ADDRS": "n1:7000"}, "PARJARM_REDIS_URL", "exactly one Redis mode"},
	{"Sentinel and cluster together are refused", map[string]string{
		"PARJARM_REDIS_SENTINEL_MASTER": "m", "PARJARM_REDIS_SENTINEL_ADDRS": "s1:26379", "PARJARM_REDIS_CLUSTER_ADDRS": "n1:7000",
	}, "PARJARM_REDIS_SENTINEL_ADDRS", "exactly one Redis mode"},
	{"a Sentinel master without addresses is refused", map[string]string{"PARJARM_REDIS_SENTINEL_MASTER": "mymaster"}, "PARJARM_REDIS_SENTINEL_ADDRS", "is required with PARJARM_REDIS_SENTINEL_MASTER"},
	{"Sentinel addresses without a master are refused", map[string]string{"PARJARM_REDIS_SENTINEL_ADDRS": "s1:26379"}, "PARJARM_REDIS_SENTINEL_MASTER", "is required with PARJARM_REDIS_SENTINEL_ADDRS"},
	{"a Sentinel address without a port is refused", map[string]string{"PARJARM_REDIS_SENTINEL_MASTER": "m", "PARJARM_REDIS_SENTINEL_ADDRS": "s1:26379,s2"}, "PARJARM_REDIS_SENTINEL_ADDRS", `"s2" is not host:port`},
	{"a cluster address without a host is refused", map[string]string{"PARJARM_REDIS_CLUSTER_ADDRS": ":7000"}, "PARJARM_REDIS_CLUSTER_ADDRS", "no host"},
	{"a cluster address with port 0 is refused", map[string]string{"PARJARM_REDIS_CLUSTER_ADDRS": "n1:0"}, "PARJARM_REDIS_CLUSTER_ADDRS", "not a number from 1 to 65535"},
	{"a Sentinel password without Sentinel is refused", map[string]string{"PARJARM_REDIS_SENTINEL_PASSWORD": "x"}, "PARJARM_REDIS_SENTINEL_PASSWORD", "Sentinel is not configured"},
	{"a Redis password next to a Redis URL is refused", map[string]string{"PARJARM_REDIS_URL": "redis://redis:6379", "PARJARM_REDIS_PASSWORD": "x"}, "PARJARM_REDIS_PASSWORD", "put the credentials in the URL"},
	{"a Redis username next to a Redis URL is refused", map[string]string{"PARJARM_REDIS_URL": "redis://redis:6379", "PARJARM_REDIS_USERNAME": "u"}, "PARJARM_REDIS_USERNAME", "put the credentials in the URL"},
	{"the Redis TLS switch next to a Redis URL is refused", map[string]string{"PARJARM_REDIS_URL": "redis://redis:6379", "PARJARM_REDIS_TLS": "true"}, "PARJARM_REDIS_TLS", "rediss://"},
	{"a Redis username without Redis is refused", map[string]string{"PARJARM_REDIS_USERNAME": "u"}, "PARJARM_REDIS_USERNAME", "no Redis is configured"},
	{"a Redis password without Redis is refused", map[string]string{"PARJARM_REDIS_PASSWORD": "x"}, "PARJARM_REDIS_PASSWORD", "no Redis is configured"},
	{"the Redis TLS switch without Redis is refused", map[string]string{"PARJARM_REDIS_TLS": "true"}, "PARJARM_REDIS_TLS", "no Redis is configured"},
	{"a zero Redis dial timeout is refused", map[string]string{"PARJARM_REDIS_DIAL_TIMEOUT": "0s"}, "PARJARM_REDIS_DIAL_TIMEOUT", "not positive"},
	{"a negative Redis timeout is refused", map[string]string{"PARJARM_REDIS_TIMEOUT": "-1s"}, "PARJARM_REDIS_TIMEOUT", "not positive"},
	{"a Redis timeout that is not a duration is refused", map[string]string{"PARJARM_REDIS_TIMEOUT": "soon"}, "PARJARM_REDIS_TIMEOUT", `"soon" is not a duration`},
	{"a negative Redis minimum of replicas is refused", map[string]string{"PARJARM_REDIS_URL": "redis://redis:6379", "PARJARM_REDIS_MIN_REPLICAS": "-1"}, "PARJARM_REDIS_MIN_REPLICAS", "-1 is negative; use 0"},
	{"a Redis minimum of replicas above 100 is refused", map[string]string{"PARJARM_REDIS_URL": "redis://redis:6379", "PARJARM_REDIS_MIN_REPLICAS": "101"}, "PARJARM_REDIS_MIN_REPLICAS", "above the 100 maximum"},
	{"a Redis minimum of replicas that is not a number is refused", map[string]string{"PARJARM_REDIS_URL": "redis://redis:6379", "PARJARM_REDIS_MIN_REPLICAS": "all"}, "PARJARM_REDIS_MIN_REPLICAS", `"all" is not a whole number`},
	{"a Redis minimum of replicas without Redis is refused", map[string]string{"PARJARM_REDIS_MIN_REPLICAS": "1"}, "PARJARM_REDIS_MIN_REPLICAS", "no Redis is configured"},
	{"a zero memory store size is refused", map[string]string{"PARJARM_MEMORY_STORE_MAX_ENTRIES": "0"}, "PARJARM_MEMORY_STORE_MAX_ENTRIES", "not positive"},
	{"a memory store size that is not a number is refused", map[string]string{"PARJARM_MEMORY_STORE_MAX_ENTRIES": "many"}, "PARJARM_MEMORY_STORE_MAX_ENTRIES", `"many" is not a whole number`},

	// Signing and features.
	{"an HMAC default signing algorithm is refused", map[string]string{"PARJARM_DEFAULT_SIGNING_ALG": "HS256"}, "PARJARM_DEFAULT_SIGNING_ALG", "is not supported"},
	{"the none default signing algorithm is refused", map[string]string{"PARJARM_DEFAULT_SIGNING_ALG": "none"}, "PARJARM_DEFAULT_SIGNING_ALG", "RS256, PS256, ES256, ES384, EdDSA"},
	{"both features disabled is refused", map[string]string{"PARJARM_PAR_ENABLED": "false", "PARJARM_JARM_ENABLED": "false"}, "PARJARM_PAR_ENABLED", "enable at least one"},
	{"a non-boolean PAR switch is refused", map[string]string{"PARJARM_PAR_ENABLED": "yes"}, "PARJARM_PAR_ENABLED", "use true or false"},
	{"a non-boolean JARM switch is refused", map[string]string{"PARJARM_JARM_ENABLED": "on"}, "PARJARM_JARM_ENABLED", "use true or false"},
	{"requiring PAR with PAR disabled is refused", map[string]string{"PARJARM_REQUIRE_PAR": "true", "PARJARM_PAR_ENABLED": "false"}, "PARJARM_REQUIRE_PAR", "enable PAR"},
	{"requiring request objects with PAR disabled is refused", map[string]string{"PARJARM_REQUIRE_SIGNED_REQUEST_OBJECT": "true", "PARJARM_PAR_ENABLED": "false"}, "PARJARM_REQUIRE_SIGNED_REQUEST_OBJECT", "enable PAR"},
	{"a non-boolean PKCE switch is refused", map[string]string{"PARJARM_REQUIRE_PKCE": "maybe"}, "PARJARM_REQUIRE_PKCE", "use true or false"},

	// Paths.
	{"a PAR path without a leading slash is refused", map[string]string{"PARJARM_PAR_PATH": "par"}, "PARJARM_PAR_PATH", "does not start with /; use a path such as /par"},
	{"a PAR path with a query is refused", map[string]string{"PARJARM_PAR_PATH": "/par?x=1"}, "PARJARM_PAR_PATH", "query or fragment"},
	{"a PAR path under well-known is refused", map[string]string{"PARJARM_PAR_PATH": "/.well-known/par"}, "PARJARM_PAR_PATH", "/.well-known/"},
	{"a JWKS path without a leading slash is refused", map[string]string{"PARJARM_JWKS_PATH": "jwks"}, "PARJARM_JWKS_PATH", "does not start with /"},
	{"a JWKS path equal to the PAR path is refused", map[string]string{"PARJARM_JWKS_PATH": "/par"}, "PARJARM_JWKS_PATH", "would hide another endpoint"},
	{"the root as PAR path is refused", map[string]string{"PARJARM_PAR_PATH": "/"}, "PARJARM_PAR_PATH", "every request"},
	{"a PAR path with a trailing slash is refused", map[string]string{"PARJARM_PAR_PATH": "/par/"}, "PARJARM_PAR_PATH", "not a clean path; use /par"},
	{"a PAR path with a space is refused", map[string]string{"PARJARM_PAR_PATH": "/p ar"}, "PARJARM_PAR_PATH", "spaces"},
	{"an authorization path without a leading slash is refused", map[string]string{"PARJARM_AUTHORIZATION_PATH": "authorize"}, "PARJARM_AUTHORIZATION_PATH", "does not start with /"},
	{"an authorization path equal to the PAR path is refused", map[string]string{"PARJARM_AUTHORIZATION_PATH": "/par"}, "PARJARM_AUTHORIZATION_PATH", "equals PARJARM_PAR_PATH"},

	// Lifetimes and limits.
	{"a PAR lifetime above 600s is refused", map[string]string{"PARJARM_PAR_LIFETIME": "900s"}, "PARJARM_PAR_LIFETIME",
		"900s is above the 600s maximum (RFC 9126 section 2.2 suggests short lifetimes); use at most 600s"},
	{"a PAR lifetime below 5s is refused", map[string]string{"PARJARM_PAR_LIFETIME": "4s"}, "PARJARM_PAR_LIFETIME", "4s is below the 5s minimum"},
	{"a PAR lifetime without a unit is refused", map[string]string{"PARJARM_PAR_LIFETIME": "60"}, "PARJARM_PAR_LIFETIME", `"60" is not a duration; use a Go duration with a unit`},
	{"a PAR body limit below 1024 is refused", map[string]string{"PARJARM_PAR_MAX_BODY_BYTES": "512"}, "PARJARM_PAR_MAX_BODY_BYTES", "below the 1024 minimum"},
	{"a PAR body limit above 10 MiB is refused", map[string]string{"PARJARM_PAR_MAX_BODY_BYTES": "20000000"}, "PARJARM_PAR_MAX_BODY_BYTES", "above the 10485760 maximum"},
	{"a PAR body limit with a unit is refused", map[string]string{"PARJARM_PAR_MAX_BODY_BYTES": "64k"}, "PARJARM_PAR_MAX_BODY_BYTES", "use digits only, such as 65536"},
	{"zero parameters are refused", map[string]string{"PARJARM_MAX_PARAMS": "0"}, "PARJARM_MAX_PARAMS", "not positive"},
	{"more than 10000 parameters are refused", map[string]string{"PARJARM_MAX_PARAMS": "10001"}, "PARJARM_MAX_PARAMS", "above the 10000 maximum"},
	{"an unknown profile is refused", map[string]string{"PARJARM_PROFILE": "fapi2"}, "PARJARM_PROFILE", `"fapi2" is not a profile: use fapi2-security, fapi2-message-signing or fapi1-advanced`},
	{"a profile without PAR is refused", map[string]string{"PARJARM_PROFILE": "fapi1-advanced", "PARJARM_PAR_ENABLED": "false"}, "PARJARM_PROFILE", "fapi1-advanced requires pushed authorization requests, but PARJARM_PAR_ENABLED is false"},
	{"Message Signing without JARM is refused", map[string]string{"PARJARM_PROFILE": "fapi2-message-signing", "PARJARM_JARM_ENABLED": "false"}, "PARJARM_PROFILE", "fapi2-message-signing requires JARM responses"},
	{"a 600s PAR lifetime under a profile is refused", map[string]string{"PARJARM_PROFILE": "fapi2-security", "PARJARM_PAR_LIFETIME": "600s"}, "PARJARM_PAR_LIFETIME", "600s is not below 600s, which PARJARM_PROFILE=fapi2-security requires"},
	{"an unknown audience policy is refused", map[string]string{"PARJARM_CLIENT_ASSERTION_AUDIENCE": "token_endpoint"}, "PARJARM_CLIENT_ASSERTION_AUDIENCE", "use any"},
	{"none in the algorithm allow-list is refused", map[string]string{"PARJARM_SIGNING_ALGS_ALLOWED": "PS256,none"}, "PARJARM_SIGNING_ALGS_ALLOWED", "unsigned JWTs"},
	{"an HMAC algorithm in the allow-list is refused", map[string]string{"PARJARM_SIGNING_ALGS_ALLOWED": "PS256,HS256"}, "PARJARM_SIGNING_ALGS_ALLOWED", "shared-secret"},
	{"an unknown algorithm in the allow-list is refused", map[string]string{"PARJARM_SIGNING_ALGS_ALLOWED": "PS256,XS256"}, "PARJARM_SIGNING_ALGS_ALLOWED", `"XS256" is not a supported algorithm`},
	{"a zero request object age is refused", map[string]string{"PARJARM_REQUEST_OBJECT_MAX_AGE": "0s"}, "PARJARM_REQUEST_OBJECT_MAX_AGE", "not positive"},
	{"a clock skew of a minute is refused", map[string]string{"PARJARM_CLOCK_SKEW": "1m"}, "PARJARM_CLOCK_SKEW", "60s is above the 59s maximum"},
	{"a JARM lifetime below 10s is refused", map[string]string{"PARJARM_JARM_LIFETIME": "5s"}, "PARJARM_JARM_LIFETIME", "5s is below the 10s minimum"},
	{"a JARM lifetime above 10m is refused", map[string]string{"PARJARM_JARM_LIFETIME": "11m"}, "PARJARM_JARM_LIFETIME", "11m is above the 10m maximum (JARM section 2.1"},
	{"an unknown token endpoint policy is refused", map[string]string{"PARJARM_TOKEN_ENDPOINT_PKCE": "on"}, "PARJARM_TOKEN_ENDPOINT_PKCE", "use auto"},
	{"a code lifetime below 10s is refused", map[string]string{"PARJARM_CODE_LIFETIME": "5s"}, "PARJARM_CODE_LIFETIME", "below the 10s minimum"},
	{"a code lifetime above an hour is refused", map[string]string{"PARJARM_CODE_LIFETIME": "2h"}, "PARJARM_CODE_LIFETIME", "above the 1h maximum"},
	{"a non-boolean redirect URI switch is refused", map[string]string{"PARJARM_ENFORCE_REDIRECT_URIS": "yes"}, "PARJARM_ENFORCE_REDIRECT_URIS", "use true or false"},
	{"a transaction TTL below a minute is refused", map[string]string{"PARJARM_TRANSACTION_TTL": "30s"}, "PARJARM_TRANSACTION_TTL", "below the 1m minimum"},
	{"a transaction TTL above a day is refused", map[string]string{"PARJARM_TRANSACTION_TTL": "25h"}, "PARJARM_TRANSACTION_TTL", "25h is above the 24h maximum"},
	{"a discovery cache TTL below a second is refused", map[string]string{"PARJARM_DISCOVERY_CACHE_TTL": "500ms"}, "PARJARM_DISCOVERY_CACHE_TTL", "below the 1s minimum"},
	{"a negative start-up timeout is refused", map[string]string{"PARJARM_STARTUP_TIMEOUT": "-1s"}, "PARJARM_STARTUP_TIMEOUT", "not positive"},
	{"a zero upstream dial timeout is refused", map[string]string{"PARJARM_UPSTREAM_DIAL_TIMEOUT": "0"}, "PARJARM_UPSTREAM_DIAL_TIMEOUT", "not positive"},
	{"a zero upstream timeout is refused", map[string]string{"PARJARM_UPSTREAM_TIMEOUT": "0s"}, "PARJARM_UPSTREAM_TIMEOUT", "not positive"},
	{"an OAuth parameter as a re-entry parameter is refused", map[string]string{"PARJARM_UPSTREAM_REENTRY_PARAMS": "login_verifier,Client_ID"}, "PARJARM_UPSTREAM_REENTRY_PARAMS", `"Client_ID" is not an upstream's own parameter name`},
	{"a non-boolean preserve-host switch is refused", map[string]string{"PARJARM_UPSTREAM_PRESERVE_HOST": "nope"}, "PARJARM_UPSTREAM_PRESERVE_HOST", "use true or false"},
	{"a negative rate limit is refused", map[string]string{"PARJARM_RATE_LIMIT": "-1"}, "PARJARM_RATE_LIMIT", "0 (off)"},
	{"a zero burst is refused", map[string]string{"PARJARM_RATE_LIMIT_BURST": "0"}, "PARJARM_RATE_LIMIT_BURST", "not positive"},
	{"a huge burst is refused", map[string]string{"PARJARM_RATE_LIMIT_BURST": "2000000"}, "PARJARM_RATE_LIMIT_BURST", "1 to 1000000"},
	{"an IPv6 rate-limit prefix of 0 is refused", map[string]string{"PARJARM_RATE_LIMIT_IPV6_PREFIX": "0"}, "PARJARM_RATE_LIMIT_IPV6_PREFIX", "0 is below the 32 minimum; use at least 32"},
	{"an IPv6 rate-limit prefix shorter than /32 is refused", map[string]string{"PARJARM_RATE_LIMIT_IPV6_PREFIX": "31"}, "PARJARM_RATE_LIMIT_IPV6_PREFIX", "31 is below the 32 minimum"},
	{"an IPv6 rate-limit prefix longer than /128 is refused", map[string]string{"PARJARM_RATE_LIMIT_IPV6_PREFIX": "129"}, "PARJARM_RATE_LIMIT_IPV6_PREFIX", "129 is above the 128 maximum; use at most 128"},
	{"an IPv6 rate-limit prefix written as a CIDR suffix is refused", map[string]string{"PARJARM_RATE_LIMIT_IPV6_PREFIX": "/64"}, "PARJARM_RATE_LIMIT_IPV6_PREFIX", "use digits only, such as 64"},
	{"a trusted proxy without a prefix length is refused", map[string]string{"PARJARM_TRUSTED_PROXIES": "10.0.0.0/8,10.0.0.1"}, "PARJARM_TRUSTED_PROXIES", "10.0.0.1/32"},
	{"a trusted proxy with a bad prefix length is refused", map[string]string{"PARJARM_TRUSTED_PROXIES": "10.0.0.0/33"}, "PARJARM_TRUSTED_PROXIES", "use comma-separated CIDRs"},
	{"a TLS key without a certificate is refused", map[string]string{"PARJARM_TLS_KEY_FILE": "/tls/key.pem"}, "PARJARM_TLS_CERT_FILE", "is required with PARJARM_TLS_KEY_FILE"},
	{"a TLS certificate without a key is refused", map[string]string{"PARJARM_TLS_CERT_FILE": "/tls/cert.pem"}, "PARJARM_TLS_KEY_FILE", "is required with PARJARM_TLS_CERT_FILE"},
	{"a client CA without any source of certificates is refused", map[string]string{"PARJARM_TLS_CLIENT_CA_FILE": "/tls/ca.pem"}, "PARJARM_TLS_CLIENT_CA_FILE", "sees no client certificates"},
	{"a certificate header without trusted proxies is refused", map[string]string{"PARJARM_CLIENT_CERT_HEADER": "X-SSL-Client-Cert"}, "PARJARM_CLIENT_CERT_HEADER", "PARJARM_TRUSTED_PROXIES is empty"},
	{"a certificate header that is no header name is refused", map[string]string{"PARJARM_CLIENT_CERT_HEADER": "X SSL", "PARJARM_TRUSTED_PROXIES": "10.0.0.0/8"}, "PARJARM_CLIENT_CERT_HEADER", "is not a header name"},
	{"an unknown certificate header format is refused", map[string]string{"PARJARM_CLIENT_CERT_HEADER_FORMAT": "apache"}, "PARJARM_CLIENT_CERT_HEADER_FORMAT", "use rfc9440, nginx or envoy"},
	{"an upstream certificate header without any certificate is refused", map[string]string{"PARJARM_UPSTREAM_CLIENT_CERT_HEADER": "X-Client-Cert"}, "PARJARM_UPSTREAM_CLIENT_CERT_HEADER", "sees no client certificates"},
	{"an unknown upstream certificate header format is refused", map[string]string{"PARJARM_UPSTREAM_CLIENT_CERT_HEADER_FORMAT": "pem"}, "PARJARM_UPSTREAM_CLIENT_CERT_HEADER_FORMAT", "use rfc9440, nginx or envoy"},
	{"an mTLS URL without any certificate is refused", map[string]string{"PARJARM_MTLS_PUBLIC_URL": "https://matls.example.com"}, "PARJARM_MTLS_PUBLIC_URL", "sees no client certificates"},
	{"a zero JWKS fetch timeout is refused", map[string]string{"PARJARM_JWKS_FETCH_TIMEOUT": "0s"}, "PARJARM_JWKS_FETCH_TIMEOUT", "not positive"},
	{"a tiny JWKS size limit is refused", map[string]string{"PARJARM_JWKS_MAX_BYTES": "100"}, "PARJARM_JWKS_MAX_BYTES", "below the 1024 minimum"},
	{"a reload interval below a second is refused", map[string]string{"PARJARM_RELOAD_INTERVAL": "500ms"}, "PARJARM_RELOAD_INTERVAL", "below the 1s minimum (0 reloads on SIGHUP only)"},
	{"a reload interval above an hour is refused", map[string]string{"PARJARM_RELOAD_INTERVAL": "2h"}, "PARJARM_RELOAD_INTERVAL", "above the 1h maximum"},
	{"a negative reload interval is refused", map[string]string{"PARJARM_RELOAD_INTERVAL": "-1s"}, "PARJARM_RELOAD_INTERVAL", "not positive"},
	{"a zero JWKS cache TTL is refused", map[string]string{"PARJARM_JWKS_CACHE_TTL": "0s"}, "PARJARM_JWKS_CACHE_TTL", "not positive"},
	{"a zero read-header timeout is refused", map[string]string{"PARJARM_READ_HEADER_TIMEOUT": "0s"}, "PARJARM_READ_HEADER_TIMEOUT", "such as 10s"},
	{"a zero read timeout is refused", map[string]string{"PARJARM_READ_TIMEOUT": "0s"}, "PARJARM_READ_TIMEOUT", "not positive"},
	{"a zero write timeout is refused", map[string]string{"PARJARM_WRITE_TIMEOUT": "0s"}, "PARJARM_WRITE_TIMEOUT", "not positive"},
	{"a zero idle timeout is refused", map[string]string{"PARJARM_IDLE_TIMEOUT": "0s"}, "PARJARM_IDLE_TIMEOUT", "not positive"},
	{"a zero shutdown timeout is refused", map[string]string{"PARJARM_SHUTDOWN_TIMEOUT": "0s"}, "PARJARM_SHUTDOWN_TIMEOUT", "not positive"},
	{"an unknown log level is refused", map[string]string{"PARJARM_LOG_LEVEL": "verbose"}, "PARJARM_LOG_LEVEL", "use debug, info, warn or error"},
	{"an unknown log format is refused", map[string]string{"PARJARM_LOG_FORMAT": "text"}, "PARJARM_LOG_FORMAT", "use json or console"},

	// Unknown variables.
	{"a misspelt variable is refused with a suggestion", map[string]string{"PARJARM_REQUIRE_PARR": "true"}, "PARJARM_REQUIRE_PARR", "did you mean PARJARM_REQUIRE_PAR?"},
	{"an unknown variable is refused", map[string]string{"PARJARM_ENABLE_MAGIC": "true"}, "PARJARM_ENABLE_MAGIC", "unknown variable"},
}

func TestLoadReportsEachInvalidValueByVariable(t *testing.T) {
	for _, tt := range invalidCases {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(with(tt.environ))
			if err == nil {
				t.Fatalf("Load succeeded (%+v), want an error naming %s", c, tt.wantVar)
			}
			if c != nil {
				t.Errorf("Load returned a config next to an error")
			}
			if got := reported(err); !slices.Equal(got, []string{tt.wantVar}) {
				t.Errorf("reported %v, want exactly [%s]; error: %v", got, tt.wantVar, err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, tt.wantVar+": ") {
				t.Errorf("error %q does not start with %q", msg, tt.wantVar+": ")
			}
			if !strings.Contains(msg, tt.wantText) {
				t.Errorf("error %q does not contain %q", msg, tt.wantText)
			}
		})
	}
}

// freeForm are the variables no value of which is invalid on its own.
var freeForm = []string{
	"PARJARM_CLIENTS_FILE", "PARJARM_SIGNING_KEYS_FILE", "PARJARM_SIGNING_KEY_ID",
	// Read and checked by errpage.Load at start-up (config reads no files).
	"PARJARM_ERROR_TEMPLATE", "PARJARM_ERROR_LOCALES",
}

func TestEveryVariableHasAnInvalidCase(t *testing.T) {
	for _, name := range Vars() {
		if slices.Contains(freeForm, name) {
			continue
		}
		if !slices.ContainsFunc(invalidCases, func(c struct {
			name     string
			environ  map[string]string
			wantVar  string
			wantText string
		}) bool {
			return c.wantVar == name
		}) {
			t.Errorf("no invalid case reports %s", name)
		}
	}
}

func TestLoadAcceptsValidEdgeValues(t *testing.T) {
	tests := []struct {
		name    string
		environ map[string]string
	}{
		{"an http issuer and public URL pass with the insecure switch", map[string]string{
			"PARJARM_ISSUER": "http://localhost:8080/realms/dev", "PARJARM_PUBLIC_URL": "http://localhost:8081", "PARJARM_ALLOW_INSECURE_HTTP": "true",
		}},
		{"both listeners on port 0 pass", map[string]string{"PARJARM_LISTEN_ADDR": "127.0.0.1:0", "PARJARM_ADMIN_ADDR": "127.0.0.1:0"}},
		{"the same port on two interfaces passes", map[string]string{"PARJARM_LISTEN_ADDR": "10.0.0.1:8080", "PARJARM_ADMIN_ADDR": "127.0.0.1:8080"}},
		{"IPv6 listeners pass", map[string]string{"PARJARM_LISTEN_ADDR": "[::1]:8080", "PARJARM_ADMIN_ADDR": "[::1]:9090"}},
		{"the PAR lifetime bounds pass", map[string]string{"PARJARM_PAR_LIFETIME": "600s"}},
		{"the lowest PAR lifetime passes", map[string]string{"PARJARM_PAR_LIFETIME": "5s"}},
		{"each profile passes with PAR, JARM and a 599s lifetime", map[string]string{"PARJARM_PROFILE": "fapi2-message-signing", "PARJARM_PAR_LIFETIME": "599s"}},
		{"FAPI 1.0 Advanced passes without JARM", map[string]string{"PARJARM_PROFILE": "fapi1-advanced", "PARJARM_JARM_ENABLED": "false"}},
		{"a clock skew of 59s passes", map[string]string{"PARJARM_CLOCK_SKEW": "59s"}},
		{"the JARM lifetime bounds pass", map[string]string{"PARJARM_JARM_LIFETIME": "10m"}},
		{"only JARM enabled passes", map[string]string{"PARJARM_PAR_ENABLED": "false"}},
		{"only PAR enabled passes", map[string]string{"PARJARM_JARM_ENABLED": "false"}},
		{"an empty value takes the default", map[string]string{"PARJARM_PAR_LIFETIME": "", "PARJARM_PAR_ENABLED": ""}},
		{"a rediss URL with credentials passes", map[string]string{"PARJARM_REDIS_URL": "rediss://default:secret@redis:6380/1"}},
		{"a cluster with credentials and TLS passes", map[string]string{
			"PARJARM_REDIS_CLUSTER_ADDRS": "n1:7000", "PARJARM_REDIS_USERNAME": "u", "PARJARM_REDIS_PASSWORD": "p", "PARJARM_REDIS_TLS": "true",
		}},
		{"an upstream with a path and a trailing slash passes", map[string]string{"PARJARM_UPSTREAM_URL": "https://idp.internal/auth/"}},
		{"a bare list separator takes the default", map[string]string{"PARJARM_SIGNING_ALGS_ALLOWED": " , "}},
		{"every supported verification algorithm passes", map[string]string{"PARJARM_SIGNING_ALGS_ALLOWED": "RS256,RS384,RS512,PS256,PS384,PS512,ES256,ES384,ES512,EdDSA"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mustLoad(t, with(tt.environ))
		})
	}
}

func TestLoadReportsEveryProblemAtOnce(t *testing.T) {
	environ := map[string]string{
		// PARJARM_UPSTREAM_URL missing.
		"PARJARM_PAR_LIFETIME":         "900s",
		"PARJARM_PAR_PATH":             "par",
		"PARJARM_REDIS_TIMEOUT":        "fast",
		"PARJARM_LOG_LEVEL":            "loud",
		"PARJARM_REDIS_SENTINEL_ADDRS": "s1:26379",
		"PARJARM_MAX_PARAM":            "5",
		"PARJARM_SIGNING_ALGS_ALLOWED": "none,HS512",
	}
	_, err := Load(environ)
	want := []string{
		"PARJARM_LOG_LEVEL",
		"PARJARM_MAX_PARAM",
		"PARJARM_PAR_LIFETIME",
		"PARJARM_PAR_PATH",
		"PARJARM_REDIS_SENTINEL_MASTER",
		"PARJARM_REDIS_TIMEOUT",
		"PARJARM_SIGNING_ALGS_ALLOWED",
		"PARJARM_SIGNING_ALGS_ALLOWED",
		"PARJARM_UPSTREAM_URL",
	}
	if got := reported(err); !slices.Equal(got, want) {
		t.Errorf("reported %v\nwant     %v", got, want)
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(want) {
		t.Errorf("error has %d lines, want one per problem (%d):\n%v", len(lines), len(want), err)
	}
}

func TestLoadReportsNoFollowOnErrorForAValueThatDoesNotParse(t *testing.T) {
	tests := []struct {
		name    string
		environ map[string]string
		want    []string
	}{
		{"a broken PAR switch does not also fail the REQUIRE_PAR check", map[string]string{
			"PARJARM_PAR_ENABLED": "yes", "PARJARM_REQUIRE_PAR": "true",
		}, []string{"PARJARM_PAR_ENABLED"}},
		{"a broken upstream URL is not also reported as missing", map[string]string{
			"PARJARM_UPSTREAM_URL": "http://[::1",
		}, []string{"PARJARM_UPSTREAM_URL"}},
		{"a broken lifetime is reported once", map[string]string{
			"PARJARM_JARM_LIFETIME": "5 minutes",
		}, []string{"PARJARM_JARM_LIFETIME"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(with(tt.environ))
			if got := reported(err); !slices.Equal(got, tt.want) {
				t.Errorf("reported %v, want %v; error: %v", got, tt.want, err)
			}
		})
	}
}

func TestValidateChecksAConfigBuiltByHand(t *testing.T) {
	base := mustLoad(t, minimal())
	tests := []struct {
		name   string
		mutate func(c *Config)
		want   []string
	}{
		{"a loaded config is valid", func(*Config) {}, nil},
		{"an empty algorithm allow-list is refused", func(c *Config) { c.SigningAlgsAllowed = nil }, []string{"PARJARM_SIGNING_ALGS_ALLOWED"}},
		{"lowercase none in the allow-list is refused", func(c *Config) {
			c.SigningAlgsAllowed = []jose.SignatureAlgorithm{"None"}
		}, []string{"PARJARM_SIGNING_ALGS_ALLOWED"}},
		{"a zero trusted proxy prefix is refused", func(c *Config) { c.TrustedProxies = make([]netip.Prefix, 1) }, []string{"PARJARM_TRUSTED_PROXIES"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := *base
			tt.mutate(&c)
			err := c.Validate()
			if got := reported(err); !slices.Equal(got, tt.want) {
				t.Errorf("reported %v, want %v; error: %v", got, tt.want, err)
			}
		})
	}
}

func TestValidateReportsEveryZeroValueOfAnEmptyConfig(t *testing.T) {
	got := reported((&Config{}).Validate())
	for _, f := range fields() {
		if f.typ != reflect.TypeFor[time.Duration]() && f.kind != reflect.Int && f.kind != reflect.Int64 {
			continue
		}
		if intBounds[f.name].zero || durationBounds[f.name].zero {
			// 0 switches the feature off (TestZeroTurnsTheReloadPollOff).
			if slices.Contains(got, f.name) {
				t.Errorf("a zero %s is reported, but 0 switches it off", f.name)
			}
			continue
		}
		if !slices.Contains(got, f.name) {
			t.Errorf("a zero %s is not reported; reported %v", f.name, got)
		}
	}
	for _, name := range []string{"PARJARM_UPSTREAM_URL", "PARJARM_PAR_ENABLED", "PARJARM_LOG_LEVEL", "PARJARM_LOG_FORMAT", "PARJARM_DEFAULT_SIGNING_ALG"} {
		if !slices.Contains(got, name) {
			t.Errorf("%s is not reported for an empty config; reported %v", name, got)
		}
	}
}

func TestErrorsAreVarErrors(t *testing.T) {
	_, err := Load(with(map[string]string{"PARJARM_PAR_LIFETIME": "900s"}))
	var ve *VarError
	if !errors.As(err, &ve) {
		t.Fatalf("errors.As(%v, *VarError) = false", err)
	}
	if ve.Var != "PARJARM_PAR_LIFETIME" || ve.Msg == "" {
		t.Errorf("VarError = %+v", ve)
	}
}

const secret = "s3cr3t-Pa55"

func TestSecretsNeverAppearInErrors(t *testing.T) {
	tests := []struct {
		name    string
		environ map[string]string
	}{
		{"a Redis URL with a bad database", map[string]string{"PARJARM_REDIS_URL": "redis://user:" + secret + "@redis:6379/abc"}},
		{"a Redis URL that does not parse", map[string]string{"PARJARM_REDIS_URL": "redis://user:" + secret + "%zz@redis:6379/0"}},
		{"a Redis URL with a bad scheme", map[string]string{"PARJARM_REDIS_URL": "http://user:" + secret + "@redis:6379"}},
		{"a Redis URL with a bad port", map[string]string{"PARJARM_REDIS_URL": "redis://user:" + secret + "@redis:port"}},
		{"a Redis password next to a URL", map[string]string{"PARJARM_REDIS_URL": "redis://redis", "PARJARM_REDIS_PASSWORD": secret}},
		{"a Sentinel password without Sentinel", map[string]string{"PARJARM_REDIS_SENTINEL_PASSWORD": secret}},
		{"an upstream URL with credentials", map[string]string{"PARJARM_UPSTREAM_URL": "http://admin:" + secret + "@u.internal/?q"}},
		{"an http issuer with credentials", map[string]string{"PARJARM_ISSUER": "http://admin:" + secret + "@login.example.com"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(with(tt.environ))
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error leaks the secret: %v", err)
			}
		})
	}
}

func TestRedactedHidesEveryPassword(t *testing.T) {
	c := mustLoad(t, full())
	got := c.Redacted()
	if len(got) != len(Vars()) {
		t.Errorf("Redacted has %d entries, want %d", len(got), len(Vars()))
	}
	for k, v := range got {
		if strings.Contains(v, "secret") {
			t.Errorf("Redacted()[%s] = %q leaks a password", k, v)
		}
	}
	want := map[string]string{
		"PARJARM_REDIS_PASSWORD":          "REDACTED",
		"PARJARM_REDIS_SENTINEL_PASSWORD": "REDACTED",
		"PARJARM_REDIS_USERNAME":          "parjarm",
		"PARJARM_PAR_LIFETIME":            "1m30s",
		"PARJARM_REDIS_SENTINEL_ADDRS":    "sentinel-1:26379,sentinel-2:26379,sentinel-3:26379",
		"PARJARM_SIGNING_ALGS_ALLOWED":    "PS256,ES256,EdDSA",
		"PARJARM_TRUSTED_PROXIES":         "10.0.0.0/8,fd00::/8",
		"PARJARM_ISSUER":                  "https://login.example.com/realms/bank",
		"PARJARM_REDIS_URL":               "",
		"PARJARM_JARM_ENABLED":            "false",
		"PARJARM_REDIS_TIMEOUT":           "750ms",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("Redacted()[%s] = %q, want %q", k, got[k], v)
		}
	}

	withURL := mustLoad(t, with(map[string]string{"PARJARM_REDIS_URL": "rediss://user:" + secret + "@redis:6380/0"})).Redacted()
	if got, want := withURL["PARJARM_REDIS_URL"], "rediss://user:xxxxx@redis:6380/0"; got != want {
		t.Errorf("Redacted()[PARJARM_REDIS_URL] = %q, want %q", got, want)
	}
	if got := mustLoad(t, minimal()).Redacted()["PARJARM_REDIS_PASSWORD"]; got != "" {
		t.Errorf("an unset password reads %q, want empty", got)
	}
}

func TestResolveFillsTheIssuerFromDiscovery(t *testing.T) {
	tests := []struct {
		name       string
		environ    map[string]string
		discovered string
		wantIssuer string
		wantPublic string
	}{
		{"with nothing set the discovered issuer is used throughout", nil, "https://idp.example.com/realms/bank",
			"https://idp.example.com/realms/bank", "https://idp.example.com/realms/bank"},
		{"a discovered issuer with a trailing slash is kept exactly", nil, "https://idp.example.com/",
			"https://idp.example.com/", "https://idp.example.com/"},
		{"a configured issuer overrides discovery and is the public URL", map[string]string{"PARJARM_ISSUER": "https://login.example.com"}, "http://ignored.internal",
			"https://login.example.com", "https://login.example.com"},
		{"a public URL is kept while the issuer is discovered", map[string]string{"PARJARM_PUBLIC_URL": "https://gw.example.com/base/"}, "https://idp.example.com",
			"https://idp.example.com", "https://gw.example.com/base/"},
		{"an http discovered issuer passes with the insecure switch", map[string]string{"PARJARM_ALLOW_INSECURE_HTTP": "true"}, "http://localhost:8080/realms/dev",
			"http://localhost:8080/realms/dev", "http://localhost:8080/realms/dev"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustLoad(t, with(tt.environ))
			got, err := c.Resolve(tt.discovered)
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if got.Issuer != tt.wantIssuer || got.PublicURL == nil || got.PublicURL.String() != tt.wantPublic {
				t.Errorf("Resolve = {Issuer: %q, PublicURL: %v}, want {Issuer: %q, PublicURL: %q}", got.Issuer, got.PublicURL, tt.wantIssuer, tt.wantPublic)
			}
		})
	}
}

func TestResolveRefusesAnUnusableDiscoveredIssuer(t *testing.T) {
	tests := []struct {
		name       string
		discovered string
		wantText   string
	}{
		{"an http issuer without the insecure switch", "http://idp.example.com", "uses http"},
		{"an issuer with a query", "https://idp.example.com/?x=1", "has a query"},
		{"an empty issuer", "", "absolute http or https"},
		{"an issuer that is not a URL", "https://[::1", "not a URL"},
	}
	c := mustLoad(t, minimal())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Resolve(tt.discovered)
			if got := reported(err); !slices.Equal(got, []string{"PARJARM_ISSUER"}) {
				t.Fatalf("reported %v, want [PARJARM_ISSUER]; error: %v", got, err)
			}
			if !strings.Contains(err.Error(), tt.wantText) || !strings.Contains(err.Error(), "set PARJARM_ISSUER") {
				t.Errorf("error %q lacks %q or the fix", err, tt.wantText)
			}
		})
	}
}

func TestFmtDurPrintsCompactDurations(t *testing.T) {
	tests := []struct {
		d       time.Duration
		seconds bool
		want    string
	}{
		{900 * time.Second, true, "900s"},
		{900 * time.Second, false, "15m"},
		{time.Hour, false, "1h"},
		{90 * time.Minute, false, "1h30m"},
		{1500 * time.Millisecond, true, "1.5s"},
		{0, false, "0s"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := fmtDur(tt.d, tt.seconds); got != tt.want {
				t.Errorf("fmtDur(%v, %v) = %q, want %q", tt.d, tt.seconds, got, tt.want)
			}
		})
	}
}

// TestZeroTurnsTheReloadPollOff: PARJARM_RELOAD_INTERVAL=0 is valid (SIGHUP
// only).
func TestZeroTurnsTheReloadPollOff(t *testing.T) {
	c, err := Load(map[string]string{"PARJARM_UPSTREAM_URL": "http://upstream:4000", "PARJARM_RELOAD_INTERVAL": "0"})
	if err != nil {
		t.Fatal(err)
	}
	if c.ReloadInterval != 0 {
		t.Fatalf("ReloadInterval = %s", c.ReloadInterval)
	}
}
