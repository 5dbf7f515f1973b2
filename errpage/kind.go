// Package errpage owns the pages the gateway shows a person in a browser
// when it cannot send an authorization response back to the client (RFC
// 9126, section 4; RFC 6749, section 4.1.2.1): what kind of failure it was,
// a short message in the person's language, the technical OAuth error kept
// but secondary, and a reference that support can find in the gateway's log.
//
// Operators brand and translate the page without rebuilding: an
// html/template file (Load's templateFile) and message files per language
// (Load's localesDir). Requests that ask for JSON get the OAuth error JSON
// (RFC 6749, section 5.2) instead.
package errpage

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"regexp"
	"strings"

	"github.com/parjarm/parjarm/oauth"
)

// Kind is the kind of failure a page explains. Its value is the key of the
// kind's messages in a locale file and the page's .Kind.
type Kind string

// The kinds of failure, from the person's point of view.
const (
	// KindRequestURIInvalid: the sign-in link (request_uri) is unknown,
	// expired or already used.
	KindRequestURIInvalid Kind = "request_uri_invalid"
	// KindFlowExpired: the sign-in took too long or was already completed.
	KindFlowExpired Kind = "flow_expired"
	// KindBadRequest: the app sent a request the gateway refuses.
	KindBadRequest Kind = "bad_request"
	// KindTooManyRequests: rate limited (429).
	KindTooManyRequests Kind = "too_many_requests"
	// KindUnavailable: the gateway's store is unavailable (503).
	KindUnavailable Kind = "unavailable"
	// KindUpstreamUnexpected: the authorization server answered with
	// something the gateway cannot pass on (502, 504).
	KindUpstreamUnexpected Kind = "upstream_unexpected"
	// KindServerError: anything else that went wrong inside the gateway.
	KindServerError Kind = "server_error"
)

// Kinds lists every kind, in the order the documentation lists them.
var Kinds = []Kind{KindRequestURIInvalid, KindFlowExpired, KindBadRequest, KindTooManyRequests,
	KindUnavailable, KindUpstreamUnexpected, KindServerError}

// flowExpiredPrefix begins the descriptions the interception answers with
// when an upstream redirect names a transaction that has expired or was
// completed (proxy/intercept.go); TestErrorPageKinds in package proxy keeps
// the two in step.
const flowExpiredPrefix = "this authorization flow "

// Classify maps an OAuth error to the kind of page that explains it.
func Classify(e *oauth.Error) Kind {
	switch {
	case e.Status == http.StatusTooManyRequests:
		return KindTooManyRequests
	case e.Status == http.StatusServiceUnavailable || e.Code == oauth.ErrTemporarilyUnavailable.Code:
		return KindUnavailable
	case e.Status == http.StatusBadGateway || e.Status == http.StatusGatewayTimeout:
		return KindUpstreamUnexpected
	case e.Status >= 500:
		return KindServerError
	case e.Code == oauth.ErrInvalidRequestURI.Code:
		return KindRequestURIInvalid
	case strings.HasPrefix(e.Description, flowExpiredPrefix):
		return KindFlowExpired
	default:
		return KindBadRequest
	}
}

// NewReference returns a fresh request reference: 16 random bytes,
// base64url. It names one refused request in the page, the X-Request-Id
// header and the log line, and carries nothing else.
func NewReference() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand, Go 1.24)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// secretish matches what must never be shown or logged: a request_uri (raw
// or percent-encoded), a transaction id, and any long run of token
// characters that holds both letters and digits (codes, tokens, random ids).
var secretish = regexp.MustCompile(`(?i:urn:ietf:params:oauth:request_uri:)[^\s"'<>]*|pjt_[A-Za-z0-9_-]*|[A-Za-z0-9_\-.~+/=%]{16,}`)

// Redacted replaces what Scrub removes.
const Redacted = "[redacted]"

// Scrub returns s with every request_uri, transaction id and token-like
// value replaced by Redacted. Descriptions quote parameter names and values
// of the request (truncated, but still chosen by whoever sent it); what
// reaches a page, a header or a log goes through Scrub.
func Scrub(s string) string {
	return secretish.ReplaceAllStringFunc(s, func(m string) string {
		if len(m) >= 4 && (strings.EqualFold(m[:4], "urn:") || m[:4] == "pjt_") {
			return Redacted
		}
		if strings.ContainsAny(m, "0123456789") && strings.ContainsFunc(m, isLetter) {
			return Redacted
		}
		return m
	})
}

func isLetter(r rune) bool { return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' }
