// Package store keeps everything that must outlive one request: pushed
// authorization requests, flow transactions, expanded-query hashes and
// private_key_jwt jti replay marks. Keys are namespaced and hold hashes of the
// secrets they index, never the raw request_uri or transaction id; values
// that carry parameters are sealed with a key derived from the same secret
// (Seal, Open), so the store alone can read none of them.
package store

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
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
	// PutAll stores every entry, each replacing any earlier value, in one
	// round trip where the backend allows it (a pipeline; on Redis Cluster
	// one per node, in parallel). It is not atomic: after an error some
	// entries may be stored.
	PutAll(ctx context.Context, entries []Entry) error
	// TakeLinked atomically returns and deletes the value under key, which
	// PutAll stored with Links, and every key it links to, in one round
	// trip. It returns the value, the values found under the linked keys
	// (a missing key is absent from the map), or ErrNotFound when key
	// itself does not exist; then nothing is deleted. Of two concurrent
	// TakeLinked of one key exactly one succeeds. Linked keys must share
	// key's hash tag (see KeyIn), so that Redis Cluster keeps them in one
	// slot.
	TakeLinked(ctx context.Context, key string) ([]byte, map[string][]byte, error)
	// PutIfAbsentThen stores mark only if its key does not exist and, only
	// then, every entry of then, atomically and in one round trip where the
	// backend allows it (on Redis Cluster: when every key shares one hash
	// tag; else the mark is written first, then the entries). It reports
	// whether it stored them: false means the mark existed and nothing was
	// written. It backs a replay check whose winner stores its request.
	PutIfAbsentThen(ctx context.Context, mark Entry, then []Entry) (bool, error)
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

// Entry is one write of PutAll.
type Entry struct {
	Key   string
	Value []byte
	TTL   time.Duration
	// Links are the keys that TakeLinked of Key takes with it. An entry
	// with links reads back through Get as Link(Links, Value): Unlink
	// splits it.
	Links []string
}

// linkMark starts a value stored with links: 'L', the linked keys
// separated by spaces, a newline, then the value. Keys never hold a space
// or a newline (Key, KeyIn).
const linkMark = 'L'

// Link encodes value with the keys linked to it, as PutAll stores it.
func Link(links []string, value []byte) []byte {
	n := 2 + len(value)
	for _, k := range links {
		n += len(k) + 1
	}
	out := make([]byte, 0, n)
	out = append(out, linkMark)
	out = append(out, strings.Join(links, " ")...)
	out = append(out, '\n')
	return append(out, value...)
}

// Unlink splits a value Link encoded into its links and the value. A value
// without links comes back whole.
func Unlink(raw []byte) (links []string, value []byte) {
	if len(raw) == 0 || raw[0] != linkMark {
		return nil, raw
	}
	i := 1
	for i < len(raw) && raw[i] != '\n' {
		i++
	}
	if i == len(raw) {
		return nil, raw
	}
	// Split as takeLinkedScript does: on spaces, skipping empty fields.
	for k := range strings.SplitSeq(string(raw[1:i]), " ") {
		if k != "" {
			links = append(links, k)
		}
	}
	return links, raw[i+1:]
}

// checkEntries validates PutAll's entries.
func checkEntries(entries []Entry) error {
	for _, e := range entries {
		if err := checkTTL(e.TTL); err != nil {
			return err
		}
		for _, k := range e.Links {
			if k == "" || strings.ContainsAny(k, " \n") {
				return fmt.Errorf("store: linked key %q must be non-empty without spaces or newlines", k)
			}
		}
	}
	return nil
}

// entryValue is what PutAll stores for e.
func entryValue(e Entry) []byte {
	if len(e.Links) == 0 {
		return e.Value
	}
	return Link(e.Links, e.Value)
}

// Key returns the store key for secret in namespace ns:
// "parjarm:" + ns + ":" + base64url(SHA-256(secret)). The secret itself never
// reaches the store.
func Key(ns, secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return "parjarm:" + ns + ":" + base64.RawURLEncoding.EncodeToString(sum[:])
}

// Tag returns the hash tag of the keys of one flow, derived from secret:
// "{" + base64url(HMAC-SHA256(secret, "parjarm slot")[:8]) + "}". Redis
// Cluster puts every key that carries the same tag in one slot, so that one
// script can take them together (TakeLinked). Computed with the secret as
// the HMAC key, the tag tells nothing about the secret, nor about the key
// name (SHA-256 of the secret) or the sealing key (HKDF of it); shown next
// to other tags, it only tells which keys belong to one flow.
func Tag(secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("parjarm slot"))
	return "{" + base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:8]) + "}"
}

// TagLen is the length of a tag made by Tag.
const TagLen = 13

// KeyIn is Key with hash tag tag: "parjarm:" + ns + ":" + tag +
// base64url(SHA-256(secret)). An empty tag gives Key.
func KeyIn(tag, ns, secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return "parjarm:" + ns + ":" + tag + base64.RawURLEncoding.EncodeToString(sum[:])
}

// TagOf returns the hash tag of a key made by KeyIn, or "".
func TagOf(key string) string {
	i := strings.IndexByte(key, '{')
	if i < 0 || len(key) < i+TagLen || key[i+TagLen-1] != '}' {
		return ""
	}
	return key[i : i+TagLen]
}
