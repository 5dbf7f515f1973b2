package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestWireSpeaksHTTP1 drives the load generator's client against a
// net/http server: a form POST with its body and headers, a fixed-length
// body, a chunked one, a redirect, and a response that closes the
// connection, after which the next request dials again.
func TestWireSpeaksHTTP1(t *testing.T) {
	var conns atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("POST /par", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.PostForm.Get("state") != "s1" || r.Header.Get("Authorization") != basicAuth[len("Authorization: "):] {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"request_uri":"urn:x","expires_in":60}`)
	})
	mux.HandleFunc("GET /chunked", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hel")
		w.(http.Flusher).Flush()
		io.WriteString(w, "lo")
	})
	mux.HandleFunc("GET /redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://client.example/cb?response=a.b.c", http.StatusFound)
	})
	mux.HandleFunc("GET /close", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		io.WriteString(w, "bye")
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	w, err := newWire(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	s := system{base: srv.URL}
	uri, err := push(s, w, "/par", "s1")
	if err != nil || uri != "urn:x" {
		t.Fatalf("push = %q, %v; want urn:x", uri, err)
	}
	rep, err := w.do(request{method: "GET", target: "/chunked"})
	if err != nil || rep.status != 200 || string(rep.body) != "hello" {
		t.Fatalf("chunked = %d %q, %v; want 200 hello", rep.status, rep.body, err)
	}
	rep, err = w.do(request{method: "GET", target: "/redirect"})
	if err != nil || rep.status != http.StatusFound || rep.location != "https://client.example/cb?response=a.b.c" {
		t.Fatalf("redirect = %d %q, %v", rep.status, rep.location, err)
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d connections for three requests, want 1 (keep-alive)", n)
	}
	rep, err = w.do(request{method: "GET", target: "/close"})
	if err != nil || string(rep.body) != "bye" || w.conn != nil {
		t.Fatalf("close = %q, %v, connection kept %v; want bye and the connection closed", rep.body, err, w.conn != nil)
	}
	if rep, err := w.do(request{method: "GET", target: "/missing"}); err != nil || rep.status != http.StatusNotFound {
		t.Fatalf("after close = %d, %v; want 404 on a new connection", rep.status, err)
	}
	if n := conns.Load(); n != 2 {
		t.Fatalf("%d connections, want 2", n)
	}
}

// TestWireRejectsMalformedResponses answers garbage: the request fails and
// the connection is dropped.
func TestWireRejectsMalformedResponses(t *testing.T) {
	for _, answer := range []string{
		"garbage\r\n\r\n",
		"HTTP/1.1 2x0 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
	} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			_, _ = bufio.NewReader(c).ReadString('\n')
			io.WriteString(c, answer)
		}()
		w, _ := newWire("http://" + ln.Addr().String())
		_, err = w.do(request{method: "GET", target: "/"})
		if err == nil || w.conn != nil {
			t.Errorf("answer %q: err %v, connection kept %v; want an error and the connection dropped", answer, err, w.conn != nil)
		}
		if err != nil && !errors.Is(err, errMalformed) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) && !strings.Contains(err.Error(), "reset") {
			t.Errorf("answer %q: err %v", answer, err)
		}
		ln.Close()
	}
}
