package tracing_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/parjarm/parjarm/tracing"
)

func newTracer(t *testing.T) (trace.Tracer, *tracetest.InMemoryExporter) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(t.Context()) })
	return tp.Tracer("test"), exp
}

func TestMethodOutsideTheKnownSetIsOther(t *testing.T) {
	for m, want := range map[string]string{"GET": "GET", "POST": "POST", "PROPFIND": "_OTHER", "get": "_OTHER", "urn:secret": "_OTHER"} {
		if got := tracing.Method(m).Value.AsString(); got != want {
			t.Errorf("Method(%q) = %q, want %q", m, got, want)
		}
	}
}

// TestStartServer: the span continues the caller's W3C trace context,
// records the status the handler wrote (200 when it wrote none, 5xx as an
// error), and the writer still flushes through http.ResponseController.
func TestStartServer(t *testing.T) {
	tr, exp := newTracer(t)
	for _, tt := range []struct {
		name   string
		handle func(w http.ResponseWriter)
		status string
		error  bool
	}{
		{"nothing written", func(http.ResponseWriter) {}, "200", false},
		{"a body", func(w http.ResponseWriter) { _, _ = io.WriteString(w, "x") }, "200", false},
		{"a flush", func(w http.ResponseWriter) {
			if err := http.NewResponseController(w).Flush(); err != nil {
				t.Errorf("flush: %v", err)
			}
		}, "200", false},
		{"an informational, then 404", func(w http.ResponseWriter) { w.WriteHeader(http.StatusEarlyHints); w.WriteHeader(http.StatusNotFound) }, "404", false},
		{"a 502", func(w http.ResponseWriter) { w.WriteHeader(http.StatusBadGateway) }, "502", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			exp.Reset()
			r := httptest.NewRequest(http.MethodGet, "/x?code=secret", nil)
			r.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
			rec := httptest.NewRecorder()
			w, r2, end := tracing.StartServer(tr, rec, r, "test", tracing.AttrRoute.String("test"))
			if !trace.SpanFromContext(r2.Context()).SpanContext().IsValid() {
				t.Fatal("the request carries no span")
			}
			tt.handle(w)
			end()
			spans := exp.GetSpans()
			if len(spans) != 1 {
				t.Fatalf("%d spans", len(spans))
			}
			s := spans[0]
			if s.SpanKind != trace.SpanKindServer || s.SpanContext.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || s.Parent.SpanID().String() != "00f067aa0ba902b7" {
				t.Errorf("span %v kind %v parent %v", s.SpanContext, s.SpanKind, s.Parent)
			}
			got := map[string]string{}
			for _, kv := range s.Attributes {
				got[string(kv.Key)] = kv.Value.Emit()
			}
			if got["http.response.status_code"] != tt.status || got["http.request.method"] != "GET" || got["http.route"] != "test" || len(got) != 3 {
				t.Errorf("attributes %v", got)
			}
			if isErr := s.Status.Code.String() == "Error"; isErr != tt.error {
				t.Errorf("status %v", s.Status)
			}
		})
	}
}

// TestTransport: the client span's traceparent goes upstream, the
// caller's request is left as it was, and the response belongs to it.
func TestTransport(t *testing.T) {
	tr, exp := newTracer(t)
	var got string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Get("Traceparent")
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer up.Close()
	rt := tracing.Transport(http.DefaultTransport, tr)
	req, _ := http.NewRequest(http.MethodGet, up.URL+"/cb?code=abc", nil)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Request != req {
		t.Error("the response does not belong to the caller's request")
	}
	if req.Header.Get("Traceparent") != "" {
		t.Error("the caller's request was changed")
	}
	spans := exp.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("%d spans", len(spans))
	}
	s := spans[0]
	if want := "00-" + s.SpanContext.TraceID().String() + "-" + s.SpanContext.SpanID().String() + "-01"; got != want {
		t.Errorf("upstream traceparent %q, want %q", got, want)
	}
	if s.Name != "upstream" || s.SpanKind != trace.SpanKindClient || s.Status.Code.String() != "Error" {
		t.Errorf("span %q kind %v status %v", s.Name, s.SpanKind, s.Status)
	}
	for _, kv := range s.Attributes {
		if strings.Contains(kv.Value.Emit(), "code") || strings.Contains(kv.Value.Emit(), "/cb") {
			t.Errorf("attribute %s = %q", kv.Key, kv.Value.Emit())
		}
	}

	// An unreachable upstream: the error comes back, the span says only
	// that it failed.
	exp.Reset()
	up.Close()
	if _, err := rt.RoundTrip(req); err == nil {
		t.Fatal("no error from a closed upstream")
	}
	if s := exp.GetSpans(); len(s) != 1 || s[0].Status.Description != "upstream request failed" {
		t.Fatalf("spans %v", s)
	}
	if tracing.Transport(http.DefaultTransport, nil) != http.DefaultTransport {
		t.Error("without a tracer the transport is not the one given")
	}
}
