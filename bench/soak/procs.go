package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/parjarm/parjarm/bench/internal/procs"
)

// redisServer is a private redis-server without persistence: a restart
// brings it back empty, as a crashed cache would.
type redisServer struct {
	binary, dir, address string

	mu   sync.Mutex
	cmd  *exec.Cmd
	exit chan struct{}
}

func startRedis(ctx context.Context, binary, dir string) (*redisServer, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	addr, err := procs.FreeAddr()
	if err != nil {
		return nil, err
	}
	r := &redisServer{binary: binary, dir: dir, address: addr}
	return r, r.start(ctx, 10*time.Second)
}

func (r *redisServer) addr() string { return r.address }

// start runs redis-server on its port, retrying until that very process
// answers PING or timeout passes.
func (r *redisServer) start(ctx context.Context, timeout time.Duration) error {
	_, port, _ := net.SplitHostPort(r.address)
	deadline := time.Now().Add(timeout)
	for {
		cmd := exec.Command(r.binary, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
			"--dir", r.dir, "--protected-mode", "yes", "--loglevel", "warning")
		cmd.SysProcAttr = procs.DieWithUs
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("start %s: %w (install it with apt-get install -y redis-server)", r.binary, err)
		}
		exit := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exit) }()
		if err := waitPing(ctx, r.address, exit, 5*time.Second); err == nil {
			r.mu.Lock()
			r.cmd, r.exit = cmd, exit
			r.mu.Unlock()
			return nil
		} else if time.Now().After(deadline) || ctx.Err() != nil {
			_ = cmd.Process.Kill()
			<-exit
			return fmt.Errorf("redis-server on %s: %w", r.address, err)
		}
		_ = cmd.Process.Kill()
		<-exit
		time.Sleep(100 * time.Millisecond)
	}
}

// waitPing waits until addr answers PING with PONG, the process exits or
// timeout passes.
func waitPing(ctx context.Context, addr string, exit <-chan struct{}, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-exit:
			return errors.New("exited before answering (port taken?)")
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			_ = c.SetDeadline(time.Now().Add(time.Second))
			_, _ = io.WriteString(c, "PING\r\n")
			line, _ := bufio.NewReader(c).ReadString('\n')
			_ = c.Close()
			if strings.HasPrefix(line, "+PONG") {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return errors.New("did not answer PING")
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop kills the server (SIGKILL, as in a crash) and waits for it.
func (r *redisServer) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	<-r.exit
	r.cmd = nil
}

// restart kills the server, keeps it down for outage and starts it again,
// empty, on the same port. The window runs from the kill to the moment the
// new server answers.
func (r *redisServer) restart(ctx context.Context, outage time.Duration) (window, error) {
	w := window{start: time.Now()}
	r.stop()
	select {
	case <-ctx.Done():
		return w, ctx.Err()
	case <-time.After(outage):
	}
	if err := r.start(ctx, 15*time.Second); err != nil {
		return w, err
	}
	w.back = time.Now()
	w.end = w.back
	return w, nil
}

// upstream is a stand-in legacy authorization server: discovery, an empty
// key set, an authorization endpoint that redirects at once with a code,
// and a plain page for pass-through traffic.
type upstream struct {
	srv *http.Server
	url string
}

func startUpstream(issuer string) (*upstream, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	var codes sync.Mutex
	n := 0
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": issuer, "authorization_endpoint": issuer + "/authorize", "token_endpoint": issuer + "/token",
			"jwks_uri": issuer + "/jwks", "response_types_supported": []string{"code"},
			"response_modes_supported": []string{"query", "fragment", "form_post"},
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"keys":[]}`)
	})
	mux.HandleFunc("/authorize", func(w http.ResponseWriter, r *http.Request) {
		redirect, err := url.Parse(r.FormValue("redirect_uri"))
		if err != nil || redirect.Scheme == "" {
			http.Error(w, "bad redirect_uri", http.StatusBadRequest)
			return
		}
		codes.Lock()
		n++
		code := "soak-code-" + strconv.Itoa(n)
		codes.Unlock()
		q := redirect.Query()
		q.Set("code", code)
		if s := r.FormValue("state"); s != "" {
			q.Set("state", s)
		}
		redirect.RawQuery = q.Encode()
		http.Redirect(w, r, redirect.String(), http.StatusSeeOther)
	})
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "hello") })
	// A short idle timeout closes the gateway's pooled connections soon
	// after the load stops, so that its goroutine count can settle.
	u := &upstream{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: upstreamIdleTimeout}, url: "http://" + ln.Addr().String()}
	go func() { _ = u.srv.Serve(ln) }()
	return u, nil
}

// upstreamIdleTimeout is how long the upstream keeps an idle connection.
const upstreamIdleTimeout = 2 * time.Second

func (u *upstream) close() { _ = u.srv.Close() }

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

// gateway is the parjarm process under test.
type gateway struct {
	public, admin string // base URLs
	log           string // path of its combined output

	mu      sync.Mutex
	cmd     *exec.Cmd
	exit    chan struct{}
	exitErr error
	stopped bool
}

// startGateway starts the binary on free loopback ports in front of the
// stand-in upstream, with Redis at redisAddr, and waits until /readyz
// answers 200.
func startGateway(ctx context.Context, binary, dir string, redisAddr string) (*gateway, *upstream, error) {
	listen, err := procs.FreeAddr()
	if err != nil {
		return nil, nil, err
	}
	admin, err := procs.FreeAddr()
	if err != nil {
		return nil, nil, err
	}
	g := &gateway{public: "http://" + listen, admin: "http://" + admin, log: filepath.Join(dir, "gateway.log")}
	up, err := startUpstream(g.public)
	if err != nil {
		return nil, nil, err
	}
	clients := filepath.Join(dir, "clients.json")
	if err := os.WriteFile(clients, []byte(clientsJSON), 0o600); err != nil {
		up.close()
		return nil, nil, err
	}
	logf, err := os.Create(g.log)
	if err != nil {
		up.close()
		return nil, nil, err
	}
	cmd := exec.Command(binary)
	// A clean environment: no PARJARM_ variable of the caller leaks in.
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"PARJARM_UPSTREAM_URL=" + up.url,
		"PARJARM_ISSUER=" + g.public,
		"PARJARM_ALLOW_INSECURE_HTTP=true",
		"PARJARM_LISTEN_ADDR=" + listen,
		"PARJARM_ADMIN_ADDR=" + admin,
		"PARJARM_REDIS_URL=redis://" + redisAddr + "/0",
		"PARJARM_CLIENTS_FILE=" + clients,
		"PARJARM_LOG_LEVEL=warn",
		// The goroutine profile explains growth, if any.
		"PARJARM_PPROF=true",
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = procs.DieWithUs
	if err := cmd.Start(); err != nil {
		logf.Close()
		up.close()
		return nil, nil, fmt.Errorf("start %s: %w (build it with go build -o bin/parjarm ./cmd/parjarm)", binary, err)
	}
	g.cmd, g.exit = cmd, make(chan struct{})
	go func() {
		err := cmd.Wait()
		logf.Close()
		g.mu.Lock()
		g.exitErr = err
		g.mu.Unlock()
		close(g.exit)
	}()
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-g.exit:
			up.close()
			return nil, nil, fmt.Errorf("the gateway exited during start-up: %v\n%s", g.exitErr, g.tail())
		default:
		}
		if status, _, err := procs.Get(ctx, g.admin+"/readyz"); err == nil && status == http.StatusOK {
			return g, up, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			_ = g.stop()
			up.close()
			return nil, nil, fmt.Errorf("the gateway was not ready within 60s\n%s", g.tail())
		}
		time.Sleep(50 * time.Millisecond)
	}
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
func (g *gateway) sample(ctx context.Context, atMost int, wait time.Duration) (sample, error) {
	deadline := time.Now().Add(wait)
	for {
		s := sample{at: time.Now()}
		status, body, err := procs.Get(ctx, g.admin+"/metrics")
		if err != nil || status != http.StatusOK {
			return s, fmt.Errorf("admin /metrics: status %d, %v", status, err)
		}
		if s.goroutines, err = parseGoroutines(body); err != nil {
			return s, err
		}
		st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", g.cmd.Process.Pid))
		if err != nil {
			return s, err
		}
		if s.rssKiB, err = parseVmRSS(st); err != nil {
			return s, err
		}
		if atMost <= 0 || s.goroutines <= atMost || time.Now().After(deadline) {
			return s, nil
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// stop sends SIGTERM (a graceful shutdown), waits up to 30s, then kills.
// It reports a non-zero exit. Stopping twice does nothing.
func (g *gateway) stop() error {
	g.mu.Lock()
	if g.stopped {
		g.mu.Unlock()
		return nil
	}
	g.stopped = true
	g.mu.Unlock()
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-g.exit:
	case <-time.After(30 * time.Second):
		_ = g.cmd.Process.Kill()
		<-g.exit
		return errors.New("the gateway did not shut down within 30s of SIGTERM")
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.exitErr != nil {
		return fmt.Errorf("the gateway exited with %v\n%s", g.exitErr, g.tail())
	}
	return nil
}

// panics returns the first lines of the gateway's log from a panic on, or "".
func (g *gateway) panics() string {
	b, _ := os.ReadFile(g.log)
	if i := bytes.Index(b, []byte("panic")); i >= 0 {
		return string(b[i:min(len(b), i+2000)])
	}
	return ""
}

// tail returns the end of the gateway's log.
func (g *gateway) tail() string { return procs.Tail(g.log) }

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

// parseVmRSS reads VmRSS (KiB) from /proc/<pid>/status.
func parseVmRSS(status []byte) (int, error) {
	for line := range strings.SplitSeq(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) == 2 && f[1] == "kB" {
				return strconv.Atoi(f[0])
			}
			return 0, fmt.Errorf("VmRSS %q: want <n> kB", strings.TrimSpace(v))
		}
	}
	return 0, errors.New("no VmRSS in /proc/<pid>/status")
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

// cpuProfile fetches a CPU profile of secs seconds into path.
func (g *gateway) cpuProfile(ctx context.Context, secs int, path string) error {
	return procs.CPUProfile(ctx, g.admin, secs, path)
}
