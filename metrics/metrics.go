// Package metrics defines the Prometheus collectors the gateway exports on
// its admin listener.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics holds every collector. Create it with New; tests use a fresh
// registry each.
type Metrics struct {
	// Pushes counts PAR pushes by outcome ("created" or an OAuth error code).
	Pushes *prometheus.CounterVec
	// Expansions counts request_uri expansions by outcome ("expanded" or an
	// OAuth error code).
	Expansions *prometheus.CounterVec
	// Completions counts intercepted authorization responses by mode and
	// outcome ("delivered" or a reason).
	Completions *prometheus.CounterVec
	// JARMResponses counts JARM responses by mode and outcome.
	JARMResponses *prometheus.CounterVec
	// InterceptFailures counts intercepted redirects that could not be
	// delivered, by reason.
	InterceptFailures *prometheus.CounterVec
	// Errors counts OAuth errors answered by the gateway, by code.
	Errors *prometheus.CounterVec
	// UpstreamLatency observes upstream round trips by status class.
	UpstreamLatency *prometheus.HistogramVec
	// ConfigReloads counts reloads of the clients and signing keys files by
	// result ("success" or "failure").
	ConfigReloads *prometheus.CounterVec
	// ConfigReloadSuccess is the Unix time of the last successful load of
	// those files (start-up counts).
	ConfigReloadSuccess prometheus.Gauge
}

// New creates the collectors and registers them with reg.
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Pushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "parjarm", Name: "par_pushes_total",
			Help: "Pushed authorization requests by outcome (created, or the OAuth error code).",
		}, []string{"outcome"}),
		Expansions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "parjarm", Name: "par_expansions_total",
			Help: "request_uri expansions at the authorization endpoint by outcome.",
		}, []string{"outcome"}),
		Completions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "parjarm", Name: "flow_completions_total",
			Help: "Intercepted authorization responses by response mode and outcome.",
		}, []string{"mode", "outcome"}),
		JARMResponses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "parjarm", Name: "jarm_responses_total",
			Help: "JARM responses by response mode and outcome.",
		}, []string{"mode", "outcome"}),
		InterceptFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "parjarm", Name: "intercept_failures_total",
			Help: "Intercepted upstream redirects that were not delivered, by reason.",
		}, []string{"reason"}),
		Errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "parjarm", Name: "oauth_errors_total",
			Help: "OAuth errors answered by the gateway, by error code.",
		}, []string{"code"}),
		UpstreamLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "parjarm", Name: "upstream_request_duration_seconds",
			Help:    "Latency of proxied upstream requests, by status class.",
			Buckets: prometheus.DefBuckets,
		}, []string{"class"}),
		ConfigReloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "parjarm", Name: "config_reload_total",
			Help: "Reloads of the clients file and the signing keys file, by result (success, failure).",
		}, []string{"result"}),
		ConfigReloadSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "parjarm", Name: "config_last_reload_success_timestamp_seconds",
			Help: "Unix time at which the clients and signing keys in use were loaded.",
		}),
	}
	reg.MustRegister(m.Pushes, m.Expansions, m.Completions, m.JARMResponses, m.InterceptFailures, m.Errors, m.UpstreamLatency,
		m.ConfigReloads, m.ConfigReloadSuccess)
	return m
}
