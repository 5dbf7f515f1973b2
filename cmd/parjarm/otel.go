package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
)

// defaultServiceName is service.name without OTEL_SERVICE_NAME.
const defaultServiceName = "parjarm"

// OTLP transport protocols (OTLP exporter specification, "Specify
// Protocol"). http/json is not offered by the Go exporters.
const (
	protocolHTTP = "http/protobuf"
	protocolGRPC = "grpc"
)

// otelSettings are what the OTEL_* variables ask of the gateway.
type otelSettings struct {
	// Enabled is false when no exporter is configured or the SDK is
	// disabled.
	Enabled bool
	// Protocol is protocolHTTP (the default) or protocolGRPC.
	Protocol string
	// EndpointURL is the traces endpoint, "" for the exporter's default
	// (localhost:4318 for HTTP, localhost:4317 for gRPC).
	EndpointURL string
	// EndpointVar names the variable EndpointURL came from.
	EndpointVar string
	// ServiceName is service.name.
	ServiceName string
}

// parseOTel reads the OpenTelemetry SDK environment variables
// (OpenTelemetry specification, "Environment Variable Specification" and
// "OpenTelemetry Protocol Exporter") that decide whether and where to
// export:
//
//   - OTEL_SDK_DISABLED=true turns everything off;
//   - OTEL_TRACES_EXPORTER: "otlp" (on), "none" (off); others are refused;
//   - OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (used as is) or
//     OTEL_EXPORTER_OTLP_ENDPOINT (with /v1/traces appended for HTTP) turn
//     it on;
//   - OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL:
//     http/protobuf (default) or grpc;
//   - OTEL_SERVICE_NAME, default "parjarm".
//
// The exporters themselves read the rest (headers, timeout, compression,
// certificates), the SDK the sampler (OTEL_TRACES_SAMPLER) and batching
// (OTEL_BSP_*), from the process environment.
func parseOTel(environ map[string]string) (otelSettings, error) {
	s := otelSettings{ServiceName: defaultServiceName, Protocol: protocolHTTP}
	if v := strings.TrimSpace(environ["OTEL_SERVICE_NAME"]); v != "" {
		s.ServiceName = v
	}
	if strings.EqualFold(strings.TrimSpace(environ["OTEL_SDK_DISABLED"]), "true") {
		return s, nil
	}
	exporter := strings.ToLower(strings.TrimSpace(environ["OTEL_TRACES_EXPORTER"]))
	switch exporter {
	case "", "otlp", "none":
	default:
		return s, fmt.Errorf("OTEL_TRACES_EXPORTER: %q is not supported (otlp or none)", environ["OTEL_TRACES_EXPORTER"])
	}
	for _, name := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		v := strings.TrimSpace(environ[name])
		if v == "" {
			continue
		}
		if v != protocolHTTP && v != protocolGRPC {
			return s, fmt.Errorf("%s: %q is not supported (http/protobuf or grpc)", name, v)
		}
		s.Protocol = v
		break // the traces variable wins over the general one
	}
	for _, name := range []string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"} {
		v := strings.TrimSpace(environ[name])
		if v == "" {
			continue
		}
		if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return s, fmt.Errorf("%s: must be an http:// or https:// URL", name)
		}
		s.EndpointURL, s.EndpointVar = v, name
		if name == "OTEL_EXPORTER_OTLP_ENDPOINT" && s.Protocol == protocolHTTP {
			// The signal's path is appended to the general endpoint
			// ("Endpoint URLs for OTLP/HTTP"); the traces one is used as is.
			s.EndpointURL = strings.TrimSuffix(v, "/") + "/v1/traces"
		}
		break
	}
	s.Enabled = exporter != "none" && (exporter == "otlp" || s.EndpointURL != "")
	return s, nil
}

// setupTracing returns a tracer provider exporting over OTLP as s says,
// and the function that flushes and stops it; SDK errors (a collector that
// does not answer) go to log. With tracing off it returns a nil provider
// and a shutdown that does nothing.
func setupTracing(ctx context.Context, s otelSettings, version string, log *zap.Logger) (trace.TracerProvider, func(context.Context) error, error) {
	if !s.Enabled {
		return nil, func(context.Context) error { return nil }, nil
	}
	// New does not wait for the collector: one that is down costs dropped
	// spans (logged), never a refused start.
	var exp *otlptrace.Exporter
	var err error
	if s.Protocol == protocolGRPC {
		var opts []otlptracegrpc.Option
		if s.EndpointURL != "" {
			opts = append(opts, otlptracegrpc.WithEndpointURL(s.EndpointURL))
		}
		exp, err = otlptracegrpc.New(ctx, opts...)
	} else {
		var opts []otlptracehttp.Option
		if s.EndpointURL != "" {
			opts = append(opts, otlptracehttp.WithEndpointURL(s.EndpointURL))
		}
		exp, err = otlptracehttp.New(ctx, opts...)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("OTEL_EXPORTER_OTLP_*: %w", err)
	}
	// Later options win: OTEL_RESOURCE_ATTRIBUTES over the defaults, and
	// OTEL_SERVICE_NAME over both.
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", defaultServiceName), attribute.String("service.version", version)),
		resource.WithFromEnv(),
		resource.WithAttributes(attribute.String("service.name", s.ServiceName)),
	)
	if err != nil {
		_ = exp.Shutdown(ctx)
		return nil, nil, fmt.Errorf("OTEL_RESOURCE_ATTRIBUTES: %w", err)
	}
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		log.Warn("tracing: cannot export spans", zap.Error(err))
	}))
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return tp, tp.Shutdown, nil
}

// redactedURL is u without its password for the log, "(default)" for the
// exporter's default endpoint ("").
func redactedURL(u string) string {
	if u == "" {
		return "(default)"
	}
	if p, err := url.Parse(u); err == nil {
		return p.Redacted()
	}
	return "(unparsable)"
}
