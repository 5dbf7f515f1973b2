// Package tracing sets up OpenTelemetry tracing from the standard OTEL_*
// variables and holds the two HTTP pieces the gateway needs: a server span
// per public request (continuing a W3C trace context the client sent) and a
// client span per upstream call (sending its traceparent upstream).
//
// The package uses the OpenTelemetry API only; the SDK and the exporter
// are wired in cmd/parjarm. A nil tracer or provider means tracing is off:
// callers then install nothing, so that an untraced gateway pays nothing.
//
// Nothing that names a secret goes into an attribute: no URL query, no
// pass-through path (REST paths may carry ids), no header, no store key.
package tracing

import (
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Scope is the instrumentation scope of the gateway's spans.
const Scope = "github.com/parjarm/parjarm"

// Propagator reads and writes W3C Trace Context (traceparent, tracestate).
// Baggage is not propagated: it is free text from the client.
var Propagator propagation.TextMapPropagator = propagation.TraceContext{}

// Tracer returns the gateway's tracer from tp, nil when tp is nil
// (tracing off).
func Tracer(tp trace.TracerProvider) trace.Tracer {
	if tp == nil {
		return nil
	}
	return tp.Tracer(Scope)
}

// Attribute keys of the gateway's own spans; the HTTP ones follow the
// OpenTelemetry semantic conventions.
const (
	AttrMethod       = attribute.Key("http.request.method")
	AttrStatusCode   = attribute.Key("http.response.status_code")
	AttrPath         = attribute.Key("url.path")
	AttrRoute        = attribute.Key("http.route")
	AttrServerAddr   = attribute.Key("server.address")
	AttrClientID     = attribute.Key("oauth.client_id")
	AttrError        = attribute.Key("oauth.error")
	AttrAuthMethod   = attribute.Key("oauth.client_auth_method")
	AttrResponseMode = attribute.Key("oauth.response_mode")
	AttrOutcome      = attribute.Key("parjarm.outcome")
)

// knownMethods are the methods recorded as they are; any other is
// "_OTHER" (semantic conventions, http.request.method): the method is the
// client's free text.
var knownMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodConnect: true,
	http.MethodOptions: true, http.MethodTrace: true,
}

// Method is the http.request.method attribute of method.
func Method(method string) attribute.KeyValue {
	if !knownMethods[method] {
		method = "_OTHER"
	}
	return AttrMethod.String(method)
}
