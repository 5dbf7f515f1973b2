package proxy

import (
	"net/http"
	"strings"
)

// headerSource says who may set a forwarding or routing header that reaches
// the upstream.
type headerSource int

const (
	// fromGateway headers are written by the gateway itself
	// (X-Forwarded-For, -Host, -Proto): every incoming spelling is removed,
	// then rewrite sets the gateway's own or a trusted proxy's.
	fromGateway headerSource = iota
	// fromTrustedProxy headers describe the connection at the edge (port,
	// prefix, scheme, client address, client certificate): kept from a peer
	// in PARJARM_TRUSTED_PROXIES, removed from any other.
	fromTrustedProxy
	// fromNobody headers make the upstream route by a URL or method other
	// than the request's own, past the gateway's path checks (an
	// X-Original-URL: /authorize on a pass-through path would skip "PAR
	// required"). The gateway routes on the URL it sees, so no peer, trusted
	// or not, may send them: a trusted proxy passes a client's copy on
	// unless it is configured to remove it.
	fromNobody
)

// forwardingHeaders lists the forwarding and routing headers upstreams read
// and who may send them. A name ending in "*" is a family (a prefix). Names
// are compared the way upstreams read them: without case, and with `_` the
// same as `-` (CGI, PHP and nginx with underscores_in_headers map X_Real_IP
// and X-Real-IP to one variable). An underscore spelling is never kept from
// anyone: proxies write the dashed one, so the other is a client's copy that
// a CGI-style upstream might read instead.
var forwardingHeaders = []struct {
	name string
	from headerSource
}{
	// Set by the gateway (SetXForwarded in rewrite).
	{"X-Forwarded-For", fromGateway},
	{"X-Forwarded-Host", fromGateway},
	{"X-Forwarded-Proto", fromGateway},

	// Where the edge listened: upstreams build public URLs from these.
	{"X-Forwarded-Port", fromTrustedProxy},
	{"X-Forwarded-Prefix", fromTrustedProxy},
	{"X-Forwarded-Server", fromTrustedProxy},
	{"X-Forwarded-Ssl", fromTrustedProxy},
	{"X-Forwarded-Scheme", fromTrustedProxy},
	{"X-Forwarded-Protocol", fromTrustedProxy},
	{"X-Url-Scheme", fromTrustedProxy},
	{"Front-End-Https", fromTrustedProxy},
	{"Forwarded", fromTrustedProxy}, // RFC 7239; passed on as the proxy wrote it
	{"X-Original-Host", fromTrustedProxy},
	{"X-Host", fromTrustedProxy},
	// Any other X-Forwarded-* (a proxy's extension) is the edge's too.
	{"X-Forwarded-*", fromTrustedProxy},

	// The client's address: upstreams log it, rate-limit and allow by it.
	{"X-Real-IP", fromTrustedProxy},
	{"X-Client-IP", fromTrustedProxy},
	{"True-Client-IP", fromTrustedProxy},
	{"X-Cluster-Client-IP", fromTrustedProxy},
	{"CF-Connecting-IP", fromTrustedProxy},
	{"Fastly-Client-IP", fromTrustedProxy},

	// The client's TLS certificate and its verification by the edge
	// (RFC 8705 certificate-bound tokens; RFC 9440 Client-Cert).
	{"Client-Cert", fromTrustedProxy},
	{"Client-Cert-Chain", fromTrustedProxy},
	{"X-Forwarded-Client-Cert", fromTrustedProxy}, // Envoy
	{"X-Forwarded-Tls-Client-Cert", fromTrustedProxy},
	{"X-Forwarded-Tls-Client-Cert-Info", fromTrustedProxy}, // Traefik
	{"X-Client-Cert", fromTrustedProxy},
	{"X-Client-Cert-Chain", fromTrustedProxy},
	{"X-Client-Verify", fromTrustedProxy},
	{"X-Client-DN", fromTrustedProxy},
	{"Ssl-Client-Cert", fromTrustedProxy},
	{"Ssl-Client-Verify", fromTrustedProxy},
	{"X-SSL-*", fromTrustedProxy},                 // X-SSL-Client-Cert, -Verify, -DN, -S-DN, -I-DN, X-SSL-Cert, …
	{"X-ARR-ClientCert", fromTrustedProxy},        // Azure
	{"X-Amzn-Mtls-Clientcert*", fromTrustedProxy}, // AWS ALB

	// Routing inside the upstream: never kept.
	{"X-Original-URL", fromNobody}, // IIS, Symfony, Zend
	{"X-Original-URI", fromNobody}, // nginx auth_request convention
	{"X-Rewrite-URL", fromNobody},
	{"X-Forwarded-Uri", fromNobody},
	{"X-Forwarded-Path", fromNobody},
	{"X-HTTP-Method-Override", fromNobody},
	{"X-HTTP-Method", fromNobody},
	{"X-Method-Override", fromNobody},
}

// forwardingIndex is forwardingHeaders folded for lookup.
var forwardingIndex = indexForwardingHeaders()

type headerIndex struct {
	exact    map[string]headerSource
	prefixes []headerPrefix
}

type headerPrefix struct {
	prefix string
	from   headerSource
}

func indexForwardingHeaders() headerIndex {
	idx := headerIndex{exact: make(map[string]headerSource, len(forwardingHeaders))}
	for _, h := range forwardingHeaders {
		if p, ok := strings.CutSuffix(h.name, "*"); ok {
			idx.prefixes = append(idx.prefixes, headerPrefix{foldHeaderName(p), h.from})
			continue
		}
		idx.exact[foldHeaderName(h.name)] = h.from
	}
	return idx
}

// source returns who may send the header named k, and whether it is a
// forwarding header at all. An exact entry wins over a family
// (X-Forwarded-Uri is never kept, other X-Forwarded-* are). It folds k on
// the stack: it runs for every header of every proxied request.
func (idx headerIndex) source(k string) (headerSource, bool) {
	var buf [64]byte
	if len(k) > len(buf) {
		return idx.sourceFolded([]byte(foldHeaderName(k)))
	}
	b := buf[:len(k)]
	for i := range len(k) {
		b[i] = foldHeaderByte(k[i])
	}
	return idx.sourceFolded(b)
}

func (idx headerIndex) sourceFolded(n []byte) (headerSource, bool) {
	if from, ok := idx.exact[string(n)]; ok {
		return from, true
	}
	for _, p := range idx.prefixes {
		if len(n) >= len(p.prefix) && string(n[:len(p.prefix)]) == p.prefix {
			return p.from, true
		}
	}
	return 0, false
}

// foldHeaderName is a header name as upstreams compare it: ASCII lower case,
// `_` read as `-`.
func foldHeaderName(k string) string {
	b := []byte(k)
	for i, c := range b {
		b[i] = foldHeaderByte(c)
	}
	return string(b)
}

func foldHeaderByte(c byte) byte {
	switch {
	case c == '_':
		return '-'
	case 'A' <= c && c <= 'Z':
		return c + ('a' - 'A')
	}
	return c
}

// stripForwardingHeaders removes from h, the outgoing request's headers,
// every forwarding and routing header the peer may not send (see
// forwardingHeaders): from an untrusted peer all of them, from a trusted
// proxy the routing ones and every underscore spelling. X-Forwarded-For,
// -Host and -Proto go too: rewrite sets the gateway's own (or a trusted
// proxy's) after this.
func stripForwardingHeaders(h http.Header, trustedPeer bool) {
	for k := range h {
		from, listed := forwardingIndex.source(k)
		if !listed {
			continue
		}
		if from == fromTrustedProxy && trustedPeer && !strings.Contains(k, "_") {
			continue
		}
		delete(h, k) // not Header.Del: k may not be canonical
	}
}
