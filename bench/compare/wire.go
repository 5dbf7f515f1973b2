package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// The load generator's HTTP client.
//
// On a 2-core machine every microsecond the driver spends making requests
// is taken from the systems it measures, and more from the faster one: a
// side that completes twice the operations makes the driver work twice as
// hard. Go's http.Client costs two goroutines per connection and several
// hand-offs between them per request, a good part of a core at these
// rates. So each load worker owns one keep-alive HTTP/1.1 connection and
// writes its requests and reads the responses itself, as wrk does: the
// same bytes on the wire, a smaller share of the machine. Both sides are
// driven by the same code.

// wire is one load worker's connection to one system.
type wire struct {
	addr, host string
	conn       net.Conn
	br         *bufio.Reader
	req        []byte // the request being written
	body       []byte // the last response's body (reused)
}

// reply is what a request got: its status, its Location header as sent
// and its body (valid until the next request on the wire).
type reply struct {
	status   int
	location string
	body     []byte
}

// newWire returns a wire to base (http://host:port), connected on first
// use.
func newWire(base string) (*wire, error) {
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("wire: %q is not an http://host:port URL", base)
	}
	return &wire{addr: u.Host, host: u.Host}, nil
}

// Close closes the connection, if any.
func (w *wire) Close() {
	if w.conn != nil {
		w.conn.Close()
		w.conn = nil
	}
}

// request is one HTTP request: target is the origin form (path and query).
type request struct {
	method, target string
	// header lines, each "Name: value" without CRLF.
	header []string
	body   string
}

// do sends r and reads the response. Any failure closes the connection; the
// next request opens a new one.
func (w *wire) do(r request) (reply, error) {
	if w.conn == nil {
		c, err := net.DialTimeout("tcp", w.addr, 5*time.Second)
		if err != nil {
			return reply{}, err
		}
		w.conn, w.br = c, bufio.NewReaderSize(c, 16<<10)
	}
	if err := w.conn.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		w.Close()
		return reply{}, err
	}
	b := append(w.req[:0], r.method...)
	b = append(b, ' ')
	b = append(b, r.target...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, w.host...)
	b = append(b, "\r\n"...)
	for _, h := range r.header {
		b = append(b, h...)
		b = append(b, "\r\n"...)
	}
	if r.body != "" || r.method == "POST" {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(len(r.body)), 10)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	b = append(b, r.body...)
	w.req = b
	if _, err := w.conn.Write(b); err != nil {
		w.Close()
		return reply{}, err
	}
	rep, keep, err := w.read()
	if err != nil || !keep {
		w.Close()
	}
	return rep, err
}

var errMalformed = errors.New("wire: malformed response")

// read parses one response: the status line, the headers it needs
// (Content-Length, Transfer-Encoding: chunked, Location, Connection) and
// the body. keep is false when the server closes the connection after it.
func (w *wire) read() (rep reply, keep bool, err error) {
	line, err := w.line()
	if err != nil {
		return reply{}, false, err
	}
	// HTTP/1.1 201 Created
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return reply{}, false, errMalformed
	}
	rep.status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return reply{}, false, errMalformed
	}
	keep = line[7] == '1'
	length, chunked := -1, false
	for {
		line, err := w.line()
		if err != nil {
			return reply{}, false, err
		}
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return reply{}, false, errMalformed
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(value)); err != nil || length < 0 {
				return reply{}, false, errMalformed
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Location")):
			rep.location = string(value)
		case bytes.EqualFold(name, []byte("Connection")):
			if bytes.EqualFold(value, []byte("close")) {
				keep = false
			}
		}
	}
	w.body = w.body[:0]
	switch {
	case chunked:
		for {
			line, err := w.line()
			if err != nil {
				return reply{}, false, err
			}
			if i := bytes.IndexByte(line, ';'); i >= 0 {
				line = line[:i]
			}
			n, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 32)
			if err != nil || n < 0 {
				return reply{}, false, errMalformed
			}
			if n == 0 {
				// Trailers, then the empty line.
				for {
					line, err := w.line()
					if err != nil {
						return reply{}, false, err
					}
					if len(line) == 0 {
						break
					}
				}
				break
			}
			if w.body, err = w.readN(w.body, int(n)); err != nil {
				return reply{}, false, err
			}
			if line, err := w.line(); err != nil || len(line) != 0 {
				return reply{}, false, errMalformed
			}
		}
	case length >= 0:
		if w.body, err = w.readN(w.body, length); err != nil {
			return reply{}, false, err
		}
	case rep.status == 204 || rep.status == 304 || rep.status/100 == 1:
	default:
		// Delimited by the end of the connection.
		all, err := io.ReadAll(io.LimitReader(w.br, 1<<20))
		if err != nil {
			return reply{}, false, err
		}
		w.body, keep = append(w.body, all...), false
	}
	rep.body = w.body
	return rep, keep, nil
}

// line reads one CRLF-terminated line without its CRLF.
func (w *wire) line() ([]byte, error) {
	line, err := w.br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, errMalformed
		}
		return nil, err
	}
	return bytes.TrimRight(line, "\r\n"), nil
}

// readN appends n bytes of the response to dst.
func (w *wire) readN(dst []byte, n int) ([]byte, error) {
	if n > 1<<20 {
		return nil, errMalformed
	}
	start := len(dst)
	dst = slices.Grow(dst, n)[:start+n]
	_, err := io.ReadFull(w.br, dst[start:])
	return dst, err
}
