package tlsauth

import (
	"crypto/x509"
	"net/http"
	"net/netip"
	"strings"
)

// Source finds the client certificate of each request and puts it into the
// request's context (WithChain): from a trusted proxy's header when one is
// configured, else from the TLS connection. From a peer outside
// TrustedProxies the header is removed before any handler reads it, so it
// can neither authenticate a client nor reach the upstream.
type Source struct {
	// Header is the request header a TLS terminator writes the client
	// certificate into; "" reads certificates from TLS connections only.
	Header string
	// Format is Header's format.
	Format Format
	// TrustedProxies are the peers whose Header is believed.
	TrustedProxies []netip.Prefix
	// OnMalformed, if set, is told that a trusted proxy sent a header that
	// does not parse (the request then carries no certificate).
	OnMalformed func(r *http.Request, err error)
}

// Handler returns next with every request's client certificate chain in
// its context.
func (s *Source) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if chain := s.chain(r); len(chain) > 0 {
			r = r.WithContext(WithChain(r.Context(), chain))
		}
		next.ServeHTTP(w, r)
	})
}

// chain returns r's client certificate chain, leaf first, and removes an
// untrusted peer's certificate headers from r.
func (s *Source) chain(r *http.Request) []*x509.Certificate {
	if s.Header != "" {
		if !s.trusted(r.RemoteAddr) {
			s.strip(r.Header)
		} else {
			// A trusted proxy speaks for its client: its own TLS
			// certificate, if it shows one, is not the client's.
			chain, err := Parse(s.Format, strings.Join(r.Header.Values(s.Header), ","), s.chainHeader(r.Header))
			if err != nil {
				if s.OnMalformed != nil {
					s.OnMalformed(r, err)
				}
				return nil
			}
			return chain
		}
	}
	if r.TLS != nil {
		return r.TLS.PeerCertificates
	}
	return nil
}

func (s *Source) chainHeader(h http.Header) string {
	if s.Format != FormatRFC9440 {
		return ""
	}
	return strings.Join(h.Values(ChainHeaderRFC9440), ",")
}

// strip removes the certificate headers, in every spelling of the name
// (case, and `_` for `-`, which CGI-style upstreams read alike).
func (s *Source) strip(h http.Header) {
	names := []string{fold(s.Header)}
	if s.Format == FormatRFC9440 {
		names = append(names, fold(ChainHeaderRFC9440))
	}
	for k := range h {
		f := fold(k)
		for _, n := range names {
			if f == n {
				delete(h, k)
			}
		}
	}
}

func fold(k string) string {
	return strings.ReplaceAll(strings.ToLower(k), "_", "-")
}

func (s *Source) trusted(remoteAddr string) bool {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return false
	}
	addr := ap.Addr().Unmap()
	for _, p := range s.TrustedProxies {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}
