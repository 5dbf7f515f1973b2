package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

func TestParseOTel(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		enabled  bool
		protocol string
		endpoint string
		service  string
	}{
		{"nothing set: off", map[string]string{}, false, protocolHTTP, "", "parjarm"},
		{"the general endpoint: on, with the traces path", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318/"}, true, protocolHTTP, "http://otel:4318/v1/traces", "parjarm"},
		{"the traces endpoint is used as is and wins", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://b/custom"}, true, protocolHTTP, "https://b/custom", "parjarm"},
		{"the exporter alone: on, default endpoint", map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, true, protocolHTTP, "", "parjarm"},
		{"exporter none wins over an endpoint", map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318"}, false, protocolHTTP, "http://otel:4318/v1/traces", "parjarm"},
		{"the SDK disabled wins over everything", map[string]string{"OTEL_SDK_DISABLED": "TRUE", "OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318"}, false, protocolHTTP, "", "parjarm"},
		{"OTEL_SDK_DISABLED=false changes nothing", map[string]string{"OTEL_SDK_DISABLED": "false", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318"}, true, protocolHTTP, "http://otel:4318/v1/traces", "parjarm"},
		{"grpc: the general endpoint as is", map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4317"}, true, protocolGRPC, "http://otel:4317", "parjarm"},
		{"the traces protocol wins", map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318"}, true, protocolHTTP, "http://otel:4318/v1/traces", "parjarm"},
		{"the service name", map[string]string{"OTEL_SERVICE_NAME": "gw-eu-1"}, false, protocolHTTP, "", "gw-eu-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := parseOTel(tt.env)
			if err != nil {
				t.Fatal(err)
			}
			if s.Enabled != tt.enabled || s.Protocol != tt.protocol || s.EndpointURL != tt.endpoint || s.ServiceName != tt.service {
				t.Fatalf("got %+v", s)
			}
		})
	}
}

func TestParseOTelRefusesWhatItCannotHonour(t *testing.T) {
	tests := []struct {
		env     map[string]string
		wantVar string
	}{
		{map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, "OTEL_TRACES_EXPORTER"},
		{map[string]string{"OTEL_TRACES_EXPORTER": "console"}, "OTEL_TRACES_EXPORTER"},
		{map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, "OTEL_EXPORTER_OTLP_PROTOCOL"},
		{map[string]string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "thrift"}, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "otel:4318"}, "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "ftp://otel/v1/traces"}, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://"}, "OTEL_EXPORTER_OTLP_ENDPOINT"},
	}
	for _, tt := range tests {
		_, err := parseOTel(tt.env)
		if err == nil || !strings.HasPrefix(err.Error(), tt.wantVar+":") {
			t.Errorf("%v: err = %v, want one naming %s", tt.env, err, tt.wantVar)
		}
	}
	// run refuses it before doing anything else.
	err := run(context.Background(), nil, map[string]string{"PARJARM_UPSTREAM_URL": "http://127.0.0.1:1", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "OTEL_EXPORTER_OTLP_PROTOCOL") {
		t.Fatalf("run: %v", err)
	}
}

func TestSetupTracingOffInstallsNothing(t *testing.T) {
	tp, stop, err := setupTracing(context.Background(), otelSettings{}, "test", zap.NewNop())
	if err != nil || tp != nil {
		t.Fatalf("tp = %v, err = %v", tp, err)
	}
	if err := stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// collector is a stand-in OTLP receiver: it keeps every span it is sent,
// with its resource's service.name.
type collector struct {
	mu    sync.Mutex
	spans []*tracepb.Span
	names []string // service.name of each resource
}

func (c *collector) add(req *coltracepb.ExportTraceServiceRequest) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				c.names = append(c.names, kv.GetValue().GetStringValue())
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			c.spans = append(c.spans, ss.GetSpans()...)
		}
	}
}

func (c *collector) spanNames() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var n []string
	for _, s := range c.spans {
		n = append(n, s.GetName())
	}
	return n
}

// httpCollector receives OTLP/HTTP (protobuf) on /v1/traces.
func httpCollector(t *testing.T) (*collector, *httptest.Server) {
	c := &collector{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req coltracepb.ExportTraceServiceRequest
		if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" || proto.Unmarshal(body, &req) != nil {
			t.Errorf("collector: %s %s %s", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
			http.Error(w, "bad export", http.StatusBadRequest)
			return
		}
		c.add(&req)
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(nil)
	}))
	t.Cleanup(srv.Close)
	return c, srv
}

type grpcCollector struct {
	coltracepb.UnimplementedTraceServiceServer
	c *collector
}

func (g *grpcCollector) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	g.c.add(req)
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

// TestSetupTracingExports exports one span over each protocol to a real
// receiver and checks that shutdown flushed it with the service name.
func TestSetupTracingExports(t *testing.T) {
	t.Run("http/protobuf", func(t *testing.T) {
		c, srv := httpCollector(t)
		s, err := parseOTel(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": srv.URL, "OTEL_SERVICE_NAME": "gw-test"})
		if err != nil {
			t.Fatal(err)
		}
		exportOne(t, s)
		if !slices.Equal(c.spanNames(), []string{"probe"}) || !slices.Equal(c.names, []string{"gw-test"}) {
			t.Fatalf("spans %v, service names %v", c.spanNames(), c.names)
		}
	})
	t.Run("grpc", func(t *testing.T) {
		c := &collector{}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		gs := grpc.NewServer()
		coltracepb.RegisterTraceServiceServer(gs, &grpcCollector{c: c})
		go func() { _ = gs.Serve(ln) }()
		t.Cleanup(gs.Stop)
		s, err := parseOTel(map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + ln.Addr().String()})
		if err != nil {
			t.Fatal(err)
		}
		exportOne(t, s)
		if !slices.Equal(c.spanNames(), []string{"probe"}) || !slices.Equal(c.names, []string{"parjarm"}) {
			t.Fatalf("spans %v, service names %v", c.spanNames(), c.names)
		}
	})
}

func exportOne(t *testing.T, s otelSettings) {
	t.Helper()
	tp, stop, err := setupTracing(context.Background(), s, "test", zap.NewNop())
	if err != nil || tp == nil {
		t.Fatalf("tp = %v, err = %v", tp, err)
	}
	_, span := tp.Tracer("test").Start(context.Background(), "probe")
	span.End()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := stop(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestRunExportsTraces runs the gateway with an OTLP endpoint: a push and
// a pass-through request are traced, and the spans reach the collector
// when the gateway stops, without the client secret or the request_uri.
func TestRunExportsTraces(t *testing.T) {
	c, col := httpCollector(t)
	var requestURI string
	// The subtest's clean-up stops the gateway, which flushes its spans.
	t.Run("serve", func(t *testing.T) {
		listen := freeAddr(t)
		issuer := "http://" + listen
		up := upstream(t, issuer, jose.JSONWebKeySet{})
		startGateway(t, map[string]string{
			"PARJARM_UPSTREAM_URL": up.URL, "PARJARM_ISSUER": issuer, "PARJARM_ALLOW_INSECURE_HTTP": "true",
			"PARJARM_LISTEN_ADDR": listen, "PARJARM_CLIENTS_FILE": writeFile(t, "clients.json", clientsJSON),
			"OTEL_EXPORTER_OTLP_ENDPOINT": col.URL,
		})
		requestURI = pushApp(t, issuer)
		resp, err := http.Get(issuer + "/hello")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	})
	names := c.spanNames()
	for _, want := range []string{"par.push", "par.push.process", "store.put", "proxy", "upstream"} {
		if !slices.Contains(names, want) {
			t.Errorf("no %q span among %v", want, names)
		}
	}
	if !slices.Contains(c.names, "parjarm") {
		t.Errorf("service names %v", c.names)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.spans {
		for _, kv := range s.GetAttributes() {
			v := kv.GetValue().String()
			for _, secret := range []string{"app-secret-0123456789", requestURI, strings.TrimPrefix(requestURI, "urn:ietf:params:oauth:request_uri:")} {
				if strings.Contains(v, secret) {
					t.Errorf("span %q attribute %s carries a secret", s.GetName(), kv.GetKey())
				}
			}
		}
	}
}
