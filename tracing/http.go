package tracing

import (
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// StartServer starts the server span name for r, as a child of the W3C
// trace context r carries (a client's traceparent names a trace, it grants
// nothing), and returns the writer and request to serve with and the
// function that ends the span with the response status. attrs must hold no
// secret: callers pass the route, never the raw path or query.
func StartServer(tr trace.Tracer, w http.ResponseWriter, r *http.Request, name string, attrs ...attribute.KeyValue) (http.ResponseWriter, *http.Request, func()) {
	ctx := Propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	ctx, span := tr.Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(append(attrs, Method(r.Method))...))
	sw := &statusWriter{ResponseWriter: w}
	return sw, r.WithContext(ctx), func() {
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		span.SetAttributes(AttrStatusCode.Int(status))
		// Semantic conventions: a server span is an error for 5xx only.
		if status >= http.StatusInternalServerError {
			span.SetStatus(codes.Error, http.StatusText(status))
		}
		span.End()
	}
}

// statusWriter records the status a handler wrote. Unwrap lets
// http.ResponseController reach the connection's Flush and Hijack (the
// reverse proxy flushes and upgrades through it).
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Transport returns next with a client span ("upstream") around every
// round trip and the span's traceparent in the outgoing request (W3C Trace
// Context, section 3). The span records the method, the upstream host and
// the status, never the URL: its path and query carry codes and states.
// With tr nil it returns next.
func Transport(next http.RoundTripper, tr trace.Tracer) http.RoundTripper {
	if tr == nil {
		return next
	}
	return &transport{next: next, tr: tr}
}

type transport struct {
	next http.RoundTripper
	tr   trace.Tracer
}

func (t *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	ctx, span := t.tr.Start(r.Context(), "upstream", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(Method(r.Method), AttrServerAddr.String(r.URL.Hostname())))
	defer span.End()
	// A RoundTripper must not change the request it was given.
	out := r.Clone(ctx)
	Propagator.Inject(ctx, propagation.HeaderCarrier(out.Header))
	resp, err := t.next.RoundTrip(out)
	if err != nil {
		// The error names the upstream's address, which is configuration,
		// but may quote the URL: only its kind is recorded.
		span.SetStatus(codes.Error, "upstream request failed")
		return nil, err
	}
	span.SetAttributes(AttrStatusCode.Int(resp.StatusCode))
	if resp.StatusCode >= http.StatusInternalServerError {
		span.SetStatus(codes.Error, http.StatusText(resp.StatusCode))
	}
	// The response belongs to the caller's request, so that what handles
	// it (the interception) continues the caller's span, not this one.
	resp.Request = r
	return resp, nil
}
