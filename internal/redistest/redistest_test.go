package redistest

import (
	"net"
	"strings"
	"testing"
)

func TestStartAnswersPingOnALoopbackPort(t *testing.T) {
	s := Start(t)
	if _, err := probe(s.Addr()); err != nil {
		t.Fatalf("probe(%s) = %v, want an answer", s.Addr(), err)
	}
	host, _, err := net.SplitHostPort(s.Addr())
	if err != nil || host != "127.0.0.1" {
		t.Fatalf("Addr() = %q, want 127.0.0.1:port", s.Addr())
	}
	if want := "redis://" + s.Addr() + "/0"; s.URL() != want {
		t.Fatalf("URL() = %q, want %q", s.URL(), want)
	}
}

func TestTwoServersGetDifferentPorts(t *testing.T) {
	a, b := Start(t), Start(t)
	if a.Addr() == b.Addr() {
		t.Fatalf("both servers on %s", a.Addr())
	}
}

func TestStopClosesThePortAndRestartReopensTheSameOne(t *testing.T) {
	s := Start(t)
	addr := s.Addr()

	s.Stop()
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Fatalf("dial %s after Stop succeeded, want refused", addr)
	}
	s.Stop() // stopping twice does nothing

	s.Restart()
	if s.Addr() != addr {
		t.Fatalf("Addr() after Restart = %q, want %q", s.Addr(), addr)
	}
	if _, err := probe(addr); err != nil {
		t.Fatalf("probe(%s) after Restart = %v, want an answer", addr, err)
	}

	s.Restart() // restarting a running server replaces it
	if _, err := probe(addr); err != nil {
		t.Fatalf("probe(%s) after second Restart = %v, want an answer", addr, err)
	}
}

func TestBinaryIsFoundOnPath(t *testing.T) {
	path, err := Binary()
	if err != nil || path == "" {
		t.Fatalf("Binary() = %q, %v; want a path", path, err)
	}
}

func TestBinaryMissingSaysHowToInstall(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := Binary()
	if err == nil {
		t.Fatal("Binary() with an empty PATH succeeded")
	}
	if !strings.Contains(err.Error(), "apt-get install -y redis-server") {
		t.Fatalf("Binary() error = %q, want the apt-get install hint", err)
	}
}
