package procs

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// Redis is a private redis-server without persistence on a free loopback
// port: a restart brings it back empty, as a crashed cache would.
type Redis struct {
	Addr        string
	binary, dir string

	mu   sync.Mutex
	cmd  *exec.Cmd
	exit chan struct{}
}

// StartRedis runs binary with its files in dir and waits until it answers
// PING.
func StartRedis(ctx context.Context, binary, dir string) (*Redis, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	addr, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	r := &Redis{Addr: addr, binary: binary, dir: dir}
	return r, r.start(ctx, 10*time.Second)
}

// Pid is the running server's process id.
func (r *Redis) Pid() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cmd.Process.Pid
}

// start runs redis-server on its port, retrying until that very process
// answers PING or timeout passes.
func (r *Redis) start(ctx context.Context, timeout time.Duration) error {
	_, port, _ := net.SplitHostPort(r.Addr)
	deadline := time.Now().Add(timeout)
	for {
		cmd := exec.Command(r.binary, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
			"--dir", r.dir, "--protected-mode", "yes", "--loglevel", "warning")
		cmd.SysProcAttr = DieWithUs
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("start %s: %w (install it with apt-get install -y redis-server)", r.binary, err)
		}
		exit := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exit) }()
		err := waitPing(ctx, r.Addr, exit, 5*time.Second)
		if err == nil {
			r.mu.Lock()
			r.cmd, r.exit = cmd, exit
			r.mu.Unlock()
			return nil
		}
		_ = cmd.Process.Kill()
		<-exit
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("redis-server on %s: %w", r.Addr, err)
		}
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

// Stop kills the server (SIGKILL, as in a crash) and waits for it.
// Stopping a stopped server does nothing.
func (r *Redis) Stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	<-r.exit
	r.cmd = nil
}

// Restart kills the server, keeps it down for outage and starts it again,
// empty, on the same port. It returns when it was killed and when the new
// server answered.
func (r *Redis) Restart(ctx context.Context, outage time.Duration) (killed, back time.Time, err error) {
	killed = time.Now()
	r.Stop()
	select {
	case <-ctx.Done():
		return killed, time.Time{}, ctx.Err()
	case <-time.After(outage):
	}
	if err := r.start(ctx, 15*time.Second); err != nil {
		return killed, time.Time{}, err
	}
	return killed, time.Now(), nil
}
