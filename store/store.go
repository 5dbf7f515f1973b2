// Package store keeps everything that must outlive one request: pushed
// authorization requests, flow transactions, expanded-query hashes and
// private_key_jwt jti replay marks. Keys are namespaced and hold hashes of the
// secrets they index, never the raw request_uri or transaction id; values
// that carry parameters are sealed with a key derived from the same secret
// (Seal, Open), so the store alone can read none of them.
package store

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"
)

// ErrNotFound is returned when a key does not exist or has expired.
var ErrNotFound = errors.New("store: not found")

// ErrUnavailable is wrapped by every error that means the backing store
// cannot be reached or cannot accept the write (Redis down, memory store
// full). Callers answer it with 503 temporarily_unavailable.
var ErrUnavailable = errors.New("store: unavailable")

// ErrInvalidTTL is returned by a write whose ttl is below MinTTL. It is a
// programming error, not an outage.
var ErrInvalidTTL = errors.New("store: ttl must be at least 1ms")

// MinTTL is the shortest lifetime a write accepts: Redis counts expiry in
// milliseconds.
const MinTTL = time.Millisecond

// checkTTL rejects lifetimes every backend cannot honour.
func checkTTL(ttl time.Duration) error {
	if ttl < MinTTL {
		return fmt.Errorf("%w, got %s", ErrInvalidTTL, ttl)
	}
	return nil
}

// Store is the small interface every stateful part of the gateway uses.
// Every method is safe for concurrent use. A write returns only once it is
// confirmed.
type Store interface {
	// Put stores value under key for ttl, replacing any earlier value.
	Put(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// Get returns the value stored under key, or ErrNotFound.
	Get(ctx context.Context, key string) ([]byte, error)
	// Take atomically returns and deletes the value under key, or returns
	// ErrNotFound. Of two concurrent Takes of one key, exactly one succeeds.
	Take(ctx context.Context, key string) ([]byte, error)
	// PutIfAbsent stores value under key for ttl only if key does not exist;
	// it reports whether it stored it.
	PutIfAbsent(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error)
	// Ping reports whether the store is reachable.
	Ping(ctx context.Context) error
	// Close releases the store's resources.
	Close() error
}

// Namespaces of the keys the gateway stores.
const (
	NSRequestURI  = "par"  // pushed authorization requests, by request_uri
	NSTransaction = "tx"   // flow transactions, by transaction id
	NSExpanded    = "exp"  // hashes of expanded authorization queries
	NSJTI         = "jti"  // private_key_jwt assertion ids, by client
	NSRequestJTI  = "rjti" // request object ids (JAR), by client
	NSCode        = "code" // authorization codes the gateway delivered, by code
	NSCodeIssued  = "codi" // marks of delivered codes, kept after redemption
)

// Key returns the store key for secret in namespace ns:
// "parjarm:" + ns + ":" + base64url(SHA-256(secret)). The secret itself never
// reaches the store.
func Key(ns, secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return "parjarm:" + ns + ":" + base64.RawURLEncoding.EncodeToString(sum[:])
}
