package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/parjarm/parjarm/bench/internal/procs"
)

// upstreamIdleTimeout is how long the upstream keeps an idle connection.
const upstreamIdleTimeout = 2 * time.Second

// The registered clients: one pushes, one asks for JARM responses.
const (
	parClient    = "soak-par"
	jarmClient   = "soak-jarm"
	clientSecret = "soak-secret-0123456789-0123456789-abcdef"
	redirectURI  = "https://client.example/cb"
)

var clientsJSON = `{"clients":[
 {"client_id":"` + parClient + `","client_secret":"` + clientSecret + `","token_endpoint_auth_method":"client_secret_basic","redirect_uris":["` + redirectURI + `"]},
 {"client_id":"` + jarmClient + `","client_secret":"` + clientSecret + `","token_endpoint_auth_method":"client_secret_basic","redirect_uris":["` + redirectURI + `"],"authorization_signed_response_alg":"ES256"}
]}`

// startGateway starts the binary on free loopback ports in front of the
// stand-in upstream, with Redis at redisAddr, and waits until /readyz
// answers 200.
func startGateway(ctx context.Context, binary, dir string, redisAddr string) (*procs.Gateway, *procs.Upstream, error) {
	listen, err := procs.FreeAddr()
	if err != nil {
		return nil, nil, err
	}
	admin, err := procs.FreeAddr()
	if err != nil {
		return nil, nil, err
	}
	// A short idle timeout closes the gateway's pooled connections soon
	// after the load stops, so that its goroutine count can settle.
	up, err := procs.StartUpstream("http://"+listen, "soak-code-", upstreamIdleTimeout)
	if err != nil {
		return nil, nil, err
	}
	clients := filepath.Join(dir, "clients.json")
	if err := os.WriteFile(clients, []byte(clientsJSON), 0o600); err != nil {
		up.Close()
		return nil, nil, err
	}
	// The goroutine profile (PARJARM_PPROF) explains growth, if any.
	g, err := procs.StartGateway(ctx, binary, filepath.Join(dir, "gateway.log"), listen, admin,
		"PARJARM_UPSTREAM_URL="+up.URL,
		"PARJARM_REDIS_URL=redis://"+redisAddr+"/0",
		"PARJARM_CLIENTS_FILE="+clients,
	)
	if err != nil {
		up.Close()
		return nil, nil, err
	}
	return g, up, nil
}

// sample is the gateway's resource use at one moment.
type sample struct {
	at         time.Time
	rssKiB     int
	goroutines int
}

// sample reads the gateway's RSS and goroutines. With atMost > 0 it polls
// for up to wait until the goroutines are at most atMost, and returns the
// last sample either way.
func sampleOf(ctx context.Context, g *procs.Gateway, atMost int, wait time.Duration) (sample, error) {
	deadline := time.Now().Add(wait)
	for {
		s := sample{at: time.Now()}
		status, body, err := procs.Get(ctx, g.Admin+"/metrics")
		if err != nil || status != http.StatusOK {
			return s, fmt.Errorf("admin /metrics: status %d, %v", status, err)
		}
		if s.goroutines, err = parseGoroutines(body); err != nil {
			return s, err
		}
		if s.rssKiB, err = g.RSSKiB(); err != nil {
			return s, err
		}
		if atMost <= 0 || s.goroutines <= atMost || time.Now().After(deadline) {
			return s, nil
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// panics returns the first lines of the gateway's log from a panic on, or "".
func panics(g *procs.Gateway) string {
	b, _ := os.ReadFile(g.Log)
	if i := bytes.Index(b, []byte("panic")); i >= 0 {
		return string(b[i:min(len(b), i+2000)])
	}
	return ""
}

// parseGoroutines reads go_goroutines from a Prometheus text exposition.
func parseGoroutines(metrics []byte) (int, error) {
	for line := range strings.SplitSeq(string(metrics), "\n") {
		if v, ok := strings.CutPrefix(line, "go_goroutines "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return 0, fmt.Errorf("go_goroutines %q: %w", v, err)
			}
			return int(f), nil
		}
	}
	return 0, errors.New("no go_goroutines in /metrics")
}

// topStacks returns the first n stacks of a goroutine profile in its
// debug=1 text form (the largest counts come first).
func topStacks(profile []byte, n int) string {
	blocks := strings.Split(string(profile), "\n\n")
	if len(blocks) > n+1 {
		blocks = blocks[:n+1]
	}
	return strings.Join(blocks, "\n\n")
}
