package procs

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"
)

// Upstream is the stand-in legacy authorization server, in the driver's
// process: discovery, an empty key set, an authorization endpoint that
// redirects at once to redirect_uri with a code and the state, and /hello
// for pass-through.
type Upstream struct {
	URL string
	srv *http.Server
}

// StartUpstream serves the stand-in on a free loopback port for issuer (the
// gateway's public URL); its codes are codePrefix and a counter. idle is
// the server's IdleTimeout (zero: none).
func StartUpstream(issuer, codePrefix string, idle time.Duration) (*Upstream, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
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
		q.Set("code", codePrefix+strconv.FormatInt(n.Add(1), 10))
		if s := r.FormValue("state"); s != "" {
			q.Set("state", s)
		}
		redirect.RawQuery = q.Encode()
		http.Redirect(w, r, redirect.String(), http.StatusSeeOther)
	})
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "hello") })
	u := &Upstream{URL: "http://" + ln.Addr().String(), srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: idle}}
	go func() { _ = u.srv.Serve(ln) }()
	return u, nil
}

// Close stops the server.
func (u *Upstream) Close() { _ = u.srv.Close() }
