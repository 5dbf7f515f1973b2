package client

import (
	"crypto/x509"
	"sync/atomic"
)

// Clients finds registered clients by client_id. *Registry and *Swappable
// implement it.
type Clients interface {
	Lookup(id string) (*Client, bool)
}

// Swappable holds the current Registry. A reload builds a whole new
// Registry and swaps it in with Store: every lookup sees the old registry
// or the new one, never a mixture. It is safe for concurrent use and
// serves every consumer of a Registry (Lookup, RequiresPAR, Len).
type Swappable struct{ p atomic.Pointer[Registry] }

// NewSwappable returns a holder of r, which must not be nil.
func NewSwappable(r *Registry) *Swappable {
	s := &Swappable{}
	s.p.Store(r)
	return s
}

// Load returns the current registry.
func (s *Swappable) Load() *Registry { return s.p.Load() }

// Store makes r the current registry.
func (s *Swappable) Store(r *Registry) { s.p.Store(r) }

// Lookup finds a client in the current registry.
func (s *Swappable) Lookup(id string) (*Client, bool) { return s.Load().Lookup(id) }

// RequiresPAR reports whether a client of the current registry requires PAR.
func (s *Swappable) RequiresPAR() bool { return s.Load().RequiresPAR() }

// Len is the number of clients in the current registry.
func (s *Swappable) Len() int { return s.Load().Len() }

// RegisteredSelfSigned reports whether leaf is an inline certificate of a
// self_signed_tls_client_auth client of the current registry.
func (s *Swappable) RegisteredSelfSigned(leaf *x509.Certificate) bool {
	return s.Load().RegisteredSelfSigned(leaf)
}
