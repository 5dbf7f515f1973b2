package errpage

import (
	"encoding/base64"
	"net/http"
	"testing"

	"github.com/parjarm/parjarm/flow"
	"github.com/parjarm/parjarm/oauth"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		err  *oauth.Error
		want Kind
	}{
		{"an unknown request_uri", oauth.ErrInvalidRequestURI.WithDescription("request_uri is unknown, expired or already used"), KindRequestURIInvalid},
		{"a request_uri of a removed client", oauth.ErrInvalidRequestURI.WithDescription("the client is no longer registered"), KindRequestURIInvalid},
		{"an expired transaction", oauth.ErrInvalidRequest.WithDescription("this authorization flow has expired or was already completed; start again"), KindFlowExpired},
		{"a completed transaction", oauth.ErrInvalidRequest.WithDescription("this authorization flow was already completed; start again"), KindFlowExpired},
		{"an invalid request", oauth.ErrInvalidRequest.WithDescription("parameter \"scope\" is repeated"), KindBadRequest},
		{"a method not allowed", oauth.ErrMethodNotAllowed, KindBadRequest},
		{"a request too large", oauth.ErrRequestTooLarge, KindBadRequest},
		{"an invalid request object", oauth.ErrInvalidRequestObject, KindBadRequest},
		{"rate limited", oauth.ErrTooManyRequests, KindTooManyRequests},
		{"the store is unavailable", oauth.ErrTemporarilyUnavailable.WithDescription("the gateway's store is unavailable; try again"), KindUnavailable},
		{"temporarily_unavailable with another status", oauth.ErrTemporarilyUnavailable.WithStatus(http.StatusInternalServerError), KindUnavailable},
		{"an unexpected upstream redirect", oauth.ErrServerError.WithStatus(http.StatusBadGateway), KindUpstreamUnexpected},
		{"an upstream timeout", oauth.ErrServerError.WithStatus(http.StatusGatewayTimeout), KindUpstreamUnexpected},
		{"an internal failure", oauth.ErrServerError, KindServerError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Classify(tt.err); got != tt.want {
				t.Fatalf("Classify = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestScrub(t *testing.T) {
	id := flow.NewID()
	tests := []struct{ name, in, want string }{
		{"a plain description is kept", "request_uri is unknown, expired or already used", "request_uri is unknown, expired or already used"},
		{"endpoint names are kept", "pushed authorization request required: use the pushed_authorization_request_endpoint", "pushed authorization request required: use the pushed_authorization_request_endpoint"},
		{"spec references are kept", "client_id is required with request and request_uri (RFC 9101, section 5)", "client_id is required with request and request_uri (RFC 9101, section 5)"},
		{"a typ name is kept", "request object typ must be oauth-authz-req+jwt or JWT", "request object typ must be oauth-authz-req+jwt or JWT"},
		{"a request_uri is removed", `parameter "urn:ietf:params:oauth:request_uri:abcdefghijklmnopqrstuvwxyz…" is repeated`, `parameter "[redacted]" is repeated`},
		{"a request_uri in another case is removed", "URN:IETF:PARAMS:OAUTH:REQUEST_URI:xyz", "[redacted]"},
		{"a percent-encoded request_uri is removed", "urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3Aabc", "[redacted]"},
		{"a transaction id is removed", "state " + id + " unknown", "state [redacted] unknown"},
		{"a code-like value is removed", `response_type "SplxlOBeZQQYbYS6WxSbIA" is not supported`, `response_type "[redacted]" is not supported`},
		{"a short value is kept", `response_mode "query.jwt" is not supported`, `response_mode "query.jwt" is not supported`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Scrub(tt.in); got != tt.want {
				t.Fatalf("Scrub(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestNewReference(t *testing.T) {
	a, b := NewReference(), NewReference()
	if a == b {
		t.Fatal("two references are equal")
	}
	raw, err := base64.RawURLEncoding.DecodeString(a)
	if err != nil || len(raw) != 16 {
		t.Fatalf("reference %q is not 16 bytes base64url: %v", a, err)
	}
}
