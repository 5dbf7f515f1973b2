package tlsauth

import (
	"context"
	"crypto/x509"
)

type chainKey struct{}

// WithChain returns ctx carrying chain, the client's certificate chain as
// the gateway received it (leaf first): from the TLS connection, or from a
// trusted proxy's header. The chain is not verified here: client
// authentication decides what it must verify for the client's method.
func WithChain(ctx context.Context, chain []*x509.Certificate) context.Context {
	if len(chain) == 0 {
		return ctx
	}
	return context.WithValue(ctx, chainKey{}, chain)
}

// Chain returns the client certificate chain WithChain put into ctx (leaf
// first), or nil when the client presented none.
func Chain(ctx context.Context) []*x509.Certificate {
	chain, _ := ctx.Value(chainKey{}).([]*x509.Certificate)
	return chain
}
