package main

import (
	"bufio"
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
	"sync/atomic"
	"syscall"
	"time"

	"github.com/parjarm/parjarm/bench/internal/procs"
)

// serverHandle is an in-process HTTP server on a free loopback port.
type serverHandle struct {
	URL string
	srv *http.Server
}

func serve(h http.Handler) (*serverHandle, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &serverHandle{URL: "http://" + ln.Addr().String(), srv: &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

func (s *serverHandle) Close() { _ = s.srv.Close() }

// startUpstream is the fast stand-in legacy server: discovery, an empty key
// set, an authorization endpoint that redirects at once to redirect_uri
// with a code and the state, and /hello for pass-through.
func startUpstream(issuer string) (*serverHandle, error) {
	var n atomic.Int64
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
		q := redirect.Query()
		q.Set("code", "bench-code-"+strconv.FormatInt(n.Add(1), 10))
		if s := r.FormValue("state"); s != "" {
			q.Set("state", s)
		}
		redirect.RawQuery = q.Encode()
		http.Redirect(w, r, redirect.String(), http.StatusSeeOther)
	})
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "hello") })
	return serve(mux)
}

// redisServer is a private redis-server without persistence.
type redisServer struct {
	address string
	cmd     *exec.Cmd
	exit    chan struct{}
}

func startRedis(ctx context.Context, binary, dir string) (*redisServer, error) {
	addr, err := procs.FreeAddr()
	if err != nil {
		return nil, err
	}
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(binary, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", dir, "--protected-mode", "yes", "--loglevel", "warning")
	cmd.SysProcAttr = procs.DieWithUs
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w (install it with apt-get install -y redis-server)", binary, err)
	}
	r := &redisServer{address: addr, cmd: cmd, exit: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(r.exit) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			_ = c.SetDeadline(time.Now().Add(time.Second))
			_, _ = io.WriteString(c, "PING\r\n")
			line, _ := bufio.NewReader(c).ReadString('\n')
			_ = c.Close()
			if strings.HasPrefix(line, "+PONG") {
				return r, nil
			}
		}
		select {
		case <-r.exit:
			return nil, errors.New("redis-server exited before answering PING")
		default:
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			r.stop()
			return nil, errors.New("redis-server did not answer PING within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *redisServer) stop() {
	_ = r.cmd.Process.Kill()
	<-r.exit
}

// gateway is the parjarm process.
type gateway struct {
	public, admin, log string
	cmd                *exec.Cmd
	exit               chan struct{}
	exitErr            error
	stopped            bool
}

// startGateway writes the client registry and an ES256 signing key
// (parjarm keys generate), starts the stand-in upstream and the gateway in
// front of it with the Redis store, and waits for /readyz.
func startGateway(ctx context.Context, binary, dir, redisAddr string) (*gateway, *serverHandle, error) {
	listen, err := procs.FreeAddr()
	if err != nil {
		return nil, nil, err
	}
	admin, err := procs.FreeAddr()
	if err != nil {
		return nil, nil, err
	}
	keys := filepath.Join(dir, "signing-keys.json")
	if out, err := exec.Command(binary, "keys", "generate", "--alg", "ES256", "--out", keys, "--kid", "bench-es256").CombinedOutput(); err != nil {
		return nil, nil, fmt.Errorf("parjarm keys generate: %v\n%s", err, out)
	}
	clients := filepath.Join(dir, "clients.json")
	reg := `{"clients":[{"client_id":"` + clientID + `","client_secret":"` + clientSecret +
		`","token_endpoint_auth_method":"client_secret_basic","redirect_uris":["` + redirectURI +
		`"],"authorization_signed_response_alg":"ES256"}]}`
	if err := os.WriteFile(clients, []byte(reg), 0o600); err != nil {
		return nil, nil, err
	}
	g := &gateway{public: "http://" + listen, admin: "http://" + admin, log: filepath.Join(dir, "gateway.log")}
	up, err := startUpstream(g.public)
	if err != nil {
		return nil, nil, err
	}
	logf, err := os.Create(g.log)
	if err != nil {
		up.Close()
		return nil, nil, err
	}
	cmd := exec.Command(binary)
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"PARJARM_UPSTREAM_URL=" + up.URL,
		"PARJARM_ISSUER=" + g.public,
		"PARJARM_ALLOW_INSECURE_HTTP=true",
		"PARJARM_LISTEN_ADDR=" + listen,
		"PARJARM_ADMIN_ADDR=" + admin,
		"PARJARM_REDIS_URL=redis://" + redisAddr + "/0",
		"PARJARM_CLIENTS_FILE=" + clients,
		"PARJARM_SIGNING_KEYS_FILE=" + keys,
		"PARJARM_DEFAULT_SIGNING_ALG=ES256",
		"PARJARM_LOG_LEVEL=warn",
		"PARJARM_PPROF=true",
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = procs.DieWithUs
	if err := cmd.Start(); err != nil {
		logf.Close()
		up.Close()
		return nil, nil, fmt.Errorf("start %s: %w (build it with go build -o bin/parjarm ./cmd/parjarm)", binary, err)
	}
	g.cmd, g.exit = cmd, make(chan struct{})
	go func() { g.exitErr = cmd.Wait(); logf.Close(); close(g.exit) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-g.exit:
			up.Close()
			return nil, nil, fmt.Errorf("the gateway exited during start-up: %v\n%s", g.exitErr, g.tail())
		default:
		}
		if status, _, err := procs.Get(ctx, g.admin+"/readyz"); err == nil && status == http.StatusOK {
			return g, up, nil
		}
		if time.Now().After(deadline) {
			_ = g.stop()
			up.Close()
			return nil, nil, fmt.Errorf("the gateway was not ready within 60s\n%s", g.tail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// rssKiB reads VmRSS from /proc/<pid>/status.
func (g *gateway) rssKiB() (int, error) {
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", g.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(st), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) == 2 && f[1] == "kB" {
				return strconv.Atoi(f[0])
			}
		}
	}
	return 0, errors.New("no VmRSS in /proc/<pid>/status")
}

// stop sends SIGTERM, waits up to 30 s, then kills; it reports a non-zero
// exit. Stopping twice does nothing.
func (g *gateway) stop() error {
	if g.stopped {
		return nil
	}
	g.stopped = true
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-g.exit:
	case <-time.After(30 * time.Second):
		_ = g.cmd.Process.Kill()
		<-g.exit
		return errors.New("the gateway did not shut down within 30s of SIGTERM")
	}
	if g.exitErr != nil {
		return fmt.Errorf("the gateway exited with %v\n%s", g.exitErr, g.tail())
	}
	return nil
}

func (g *gateway) tail() string { return procs.Tail(g.log) }

// cpuProfile fetches a CPU profile of secs seconds into path.
func (g *gateway) cpuProfile(ctx context.Context, secs int, path string) error {
	return procs.CPUProfile(ctx, g.admin, secs, path)
}
