// Package tlsauth is where the gateway meets client certificates (RFC 8705,
// RFC 9440): the public listener's TLS configuration with a certificate that
// is reloaded when its files change, the parsers of the certificate headers
// a TLS terminator sets, the verified peer chain carried in a request's
// context, and the header that passes that chain on to the upstream.
//
// It imports nothing of the gateway: client authentication reads the chain
// with Chain, the proxy writes the upstream header with Format.
package tlsauth
