package procs

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Gateway is a parjarm process on loopback.
type Gateway struct {
	Public, Admin string // base URLs
	Log           string // path of its combined output

	mu      sync.Mutex
	cmd     *exec.Cmd
	exit    chan struct{}
	exitErr error
	stopped bool
}

// StartGateway starts binary listening on listen (public) and admin, with
// a clean environment (no PARJARM_ variable of the caller leaks in): the
// public URL as issuer over plain HTTP, warnings only, the profiles on the
// admin listener, and env (the upstream, the store, the clients, ...). It
// writes its output to logPath and waits until /readyz answers 200.
func StartGateway(ctx context.Context, binary, logPath, listen, admin string, env ...string) (*Gateway, error) {
	g := &Gateway{Public: "http://" + listen, Admin: "http://" + admin, Log: logPath}
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(binary)
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"PARJARM_ISSUER=" + g.Public,
		"PARJARM_ALLOW_INSECURE_HTTP=true",
		"PARJARM_LISTEN_ADDR=" + listen,
		"PARJARM_ADMIN_ADDR=" + admin,
		"PARJARM_LOG_LEVEL=warn",
		"PARJARM_PPROF=true",
	}, env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = DieWithUs
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w (build it with go build -o bin/parjarm ./cmd/parjarm)", binary, err)
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
			return nil, fmt.Errorf("the gateway exited during start-up: %v\n%s", g.exitErr, g.Tail())
		default:
		}
		if status, _, err := Get(ctx, g.Admin+"/readyz"); err == nil && status == http.StatusOK {
			return g, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			_ = g.Stop()
			return nil, fmt.Errorf("the gateway was not ready within 60s\n%s", g.Tail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Pid is the gateway's process id.
func (g *Gateway) Pid() int { return g.cmd.Process.Pid }

// RSSKiB reads the gateway's VmRSS from /proc/<pid>/status.
func (g *Gateway) RSSKiB() (int, error) {
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", g.Pid()))
	if err != nil {
		return 0, err
	}
	return ParseVmRSS(st)
}

// ParseVmRSS reads VmRSS (KiB) from the text of /proc/<pid>/status.
func ParseVmRSS(status []byte) (int, error) {
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

// Stop sends SIGTERM (a graceful shutdown), waits up to 30 s, then kills.
// It reports a non-zero exit. Stopping twice does nothing.
func (g *Gateway) Stop() error {
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
		return fmt.Errorf("the gateway exited with %v\n%s", g.exitErr, g.Tail())
	}
	return nil
}

// Tail returns the end of the gateway's log.
func (g *Gateway) Tail() string { return Tail(g.Log) }

// CPUProfile fetches a CPU profile of secs seconds into path.
func (g *Gateway) CPUProfile(ctx context.Context, secs int, path string) error {
	return CPUProfile(ctx, g.Admin, secs, path)
}
