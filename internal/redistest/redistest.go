// Package redistest starts a real redis-server for tests: on a free loopback
// port, in its own temporary directory, without persistence, stopped when
// the test ends. Stop and Restart simulate an outage and a recovery on the
// same address, so a client built once can be checked to reconnect.
package redistest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// InstallHint is the remedy printed when redis-server is missing.
const InstallHint = "redis-server is not on PATH: install it with `apt-get install -y redis-server`"

const (
	// readyTimeout bounds how long a started server may take to answer PING.
	readyTimeout = 10 * time.Second
	// restartTimeout bounds how long Restart retries binding the old port.
	restartTimeout = 10 * time.Second
	// stopTimeout bounds how long Stop waits for the port to close.
	stopTimeout = 5 * time.Second
	// startAttempts is how often Start picks another port when the one it
	// chose was taken before redis-server could bind it.
	startAttempts = 5
)

// dataArgs are the arguments of every data server (not Sentinels): no
// persistence, and a replica's first sync starts at once rather than after
// the default 5-second wait for more replicas.
var dataArgs = []string{"--save", "", "--appendonly", "no", "--repl-diskless-sync-delay", "0"}

// Binary returns the path of the redis-server executable, or an error that
// says how to install it.
func Binary() (string, error) {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		return "", fmt.Errorf("redistest: %s: %w", InstallHint, err)
	}
	return path, nil
}

// Server is a redis-server process owned by one test. Its methods are safe
// for concurrent use; Stop and Restart must be called from the test's own
// goroutine because they may end the test with Fatal.
type Server struct {
	t      testing.TB
	binary string
	dir    string
	port   int
	// args are the arguments of redis-server, made once the port is known:
	// standalone by default, a cluster node, a replica or a Sentinel.
	args func(port int) ([]string, error)
	// argv is what args returned for port, reused by Restart.
	argv []string

	mu   sync.Mutex
	cmd  *exec.Cmd
	exit chan struct{} // closed when cmd has been waited for
}

// Start starts a redis-server on a free loopback port and waits until it
// answers PING. The server is stopped and its directory removed when the
// test ends. Start never skips: without redis-server the test fails (in CI,
// where CI=true, too), with a message that says how to install it.
func Start(t testing.TB) *Server {
	t.Helper()
	return startWith(t, nil)
}

// startWith starts a redis-server whose mode-specific arguments args makes
// for the port chosen (nil: a standalone server).
func startWith(t testing.TB, args func(dir string, port int) ([]string, error)) *Server {
	t.Helper()
	binary, err := Binary()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redistest: CI must install redis-server: %v", err)
		}
		t.Fatalf("%v", err)
	}
	s := &Server{t: t, binary: binary, dir: t.TempDir()}
	s.args = func(port int) ([]string, error) {
		base := []string{
			"--port", strconv.Itoa(port),
			"--bind", "127.0.0.1",
			"--daemonize", "no",
			"--dir", s.dir,
			"--logfile", filepath.Join(s.dir, "redis.log"),
		}
		if args == nil {
			return append(base, dataArgs...), nil
		}
		extra, err := args(s.dir, port)
		if err != nil {
			return nil, err
		}
		// A Sentinel takes its config file first; the rest may follow.
		if len(extra) > 0 && !strings.HasPrefix(extra[0], "--") {
			return append(extra[:1:1], append(base, extra[1:]...)...), nil
		}
		return append(base, extra...), nil
	}
	// Registered after TempDir, so it runs before the directory is removed.
	t.Cleanup(s.Stop)

	var lastErr error
	for range startAttempts {
		port, err := freePort()
		if err != nil {
			t.Fatalf("redistest: find a free port: %v", err)
		}
		s.port = port
		if s.argv, lastErr = s.args(port); lastErr != nil {
			t.Fatalf("redistest: configure redis-server: %v", lastErr)
		}
		if lastErr = s.start(); lastErr == nil {
			return s
		}
	}
	t.Fatalf("redistest: start redis-server: %v", lastErr)
	return nil
}

// Addr returns the server's "127.0.0.1:port" address.
func (s *Server) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
}

// URL returns the server's address as a redis:// URL for database 0.
func (s *Server) URL() string {
	return "redis://" + s.Addr() + "/0"
}

// Signal sends sig to the running server: SIGSTOP freezes it (a replica
// then acknowledges nothing), SIGCONT thaws it.
func (s *Server) Signal(sig os.Signal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return errors.New("redistest: signal: the server is not running")
	}
	return s.cmd.Process.Signal(sig)
}

// LogTail returns the end of the server's log, for failure messages.
func (s *Server) LogTail() string {
	return logTail(filepath.Join(s.dir, "redis.log"))
}

// Port returns the server's port.
func (s *Server) Port() int { return s.port }

// Stop kills the server (SIGKILL, as in a crash) and waits until its port
// is closed. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked()
	deadline := time.Now().Add(stopTimeout)
	for {
		c, err := net.DialTimeout("tcp", s.Addr(), 100*time.Millisecond)
		if err != nil {
			return
		}
		_ = c.Close()
		if time.Now().After(deadline) {
			s.t.Errorf("redistest: port %d still open %s after redis-server was killed", s.port, stopTimeout)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Restart stops the server if it runs and starts a new, empty one on the
// same port, retrying while the port cannot be bound yet.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	deadline := time.Now().Add(restartTimeout)
	for {
		err := s.start()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("redistest: restart redis-server on port %d: %v", s.port, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// start runs redis-server on s.port and waits until that very process
// answers. It fails if the process exits first (port taken) or never
// answers.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return errors.New("already running")
	}
	logFile := filepath.Join(s.dir, "redis.log")
	cmd := exec.Command(s.binary, s.argv...)
	cmd.Dir = s.dir
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return err
	}
	exit := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exit)
	}()
	s.cmd, s.exit = cmd, exit

	deadline := time.Now().Add(readyTimeout)
	for {
		select {
		case <-exit:
			s.cmd, s.exit = nil, nil
			return fmt.Errorf("redis-server exited before answering on port %d: %s", s.port, logTail(logFile))
		default:
		}
		pid, err := probe(s.Addr())
		if err == nil && pid == cmd.Process.Pid {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("port %d is answered by another redis-server (pid %d)", s.port, pid)
		}
		if time.Now().After(deadline) {
			s.stopLocked()
			return fmt.Errorf("redis-server did not answer within %s: %v: %s", readyTimeout, err, logTail(logFile))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stopLocked kills the process and waits for it to exit.
func (s *Server) stopLocked() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exit
	s.cmd, s.exit = nil, nil
}

// probe sends PING and INFO server to addr and returns the process id of the
// redis-server that answered PONG.
func probe(addr string) (int, error) {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(time.Second)); err != nil {
		return 0, err
	}
	if _, err := io.WriteString(c, "PING\r\nINFO server\r\n"); err != nil {
		return 0, err
	}
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		return 0, err
	}
	if strings.TrimSpace(line) != "+PONG" {
		return 0, fmt.Errorf("PING answered %q", strings.TrimSpace(line))
	}
	line, err = r.ReadString('\n')
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(line), "$"))
	if err != nil || !strings.HasPrefix(line, "$") {
		return 0, fmt.Errorf("INFO answered %q", strings.TrimSpace(line))
	}
	info := make([]byte, n)
	if _, err := io.ReadFull(r, info); err != nil {
		return 0, err
	}
	for l := range strings.SplitSeq(string(info), "\r\n") {
		if v, ok := strings.CutPrefix(l, "process_id:"); ok {
			return strconv.Atoi(v)
		}
	}
	return 0, errors.New("INFO server has no process_id")
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// logTail returns the end of redis-server's log, for failure messages.
func logTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log)"
	}
	const max = 2000
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return "log: " + strings.TrimSpace(string(b))
}
