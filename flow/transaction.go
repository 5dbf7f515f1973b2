package flow

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/parjarm/parjarm/internal/record"
	"github.com/parjarm/parjarm/store"
)

// idPrefix marks the `state` values the gateway sends upstream, so that an
// intercepted redirect that carries an expired or unknown transaction id is
// recognised as ours and never leaks a plain response.
const idPrefix = "pjt_"

// idTagLen is the length of the hash tag an id carries (8 bytes,
// base64url-encoded) and idLen the length of a transaction id: the prefix,
// the tag, and 32 random bytes, base64url-encoded.
const (
	idTagLen = 11
	idLen    = len(idPrefix) + idTagLen + 43
)

// ErrUnknown is returned by Take for a transaction id that does not exist:
// never opened, already completed, or expired.
var ErrUnknown = errors.New("flow: unknown or expired transaction")

// Transaction is one authorization flow whose end the gateway must see: a
// flow expanded from a pushed request, or one that asked for a JARM response.
// The store holds it in its binary form (marshal); the JSON tags read what
// the version before stored.
type Transaction struct {
	// ClientID is the client the flow belongs to.
	ClientID string `json:"client_id"`
	// RedirectURI is the registered redirect_uri the response goes to.
	RedirectURI string `json:"redirect_uri"`
	// ResponseType is the flow's response_type.
	ResponseType string `json:"response_type"`
	// Mode is the resolved response mode the client asked for.
	Mode Mode `json:"mode"`
	// State is the client's own state, restored in the response.
	State string `json:"state,omitempty"`
	// HasState tells an empty state from no state at all.
	HasState bool `json:"has_state,omitempty"`
	// CodeChallenge and CodeChallengeMethod are the flow's PKCE parameters
	// (RFC 7636, section 4.3), recorded with the code it delivers.
	CodeChallenge       string `json:"code_challenge,omitempty"`
	CodeChallengeMethod string `json:"code_challenge_method,omitempty"`
	// RequestURIKey is the store key of the flow's pushed request, consumed
	// when the flow completes (RFC 9126, section 4); empty without PAR.
	RequestURIKey string `json:"request_uri_key,omitempty"`
	// RememberedKey is the store key of the remembered authorization query
	// the flow sent upstream, forgotten when the flow completes.
	RememberedKey string `json:"remembered_key,omitempty"`
	// RequestURITaken, set by Take, reports that the pushed request under
	// RequestURIKey was still there and was taken with the transaction.
	RequestURITaken bool `json:"-"`
	// ExpiresAt is when the transaction is forgotten.
	ExpiresAt time.Time `json:"expires_at"`
}

// transactionFormat is the first byte of a Transaction's binary form, its
// fields in the order marshal appends them. A JSON value, from the version
// before, starts with '{'.
const transactionFormat = 0x02

// marshal returns tx's binary form, without RequestURITaken, which Take
// sets.
func (tx *Transaction) marshal() []byte {
	// The format byte, the strings, two bools and the time.
	b := make([]byte, 0, 1+record.StringsLen(tx.ClientID, tx.RedirectURI, tx.ResponseType, tx.Mode.Base, tx.State,
		tx.CodeChallenge, tx.CodeChallengeMethod, tx.RequestURIKey, tx.RememberedKey)+2+binary.MaxVarintLen64)
	b = append(b, transactionFormat)
	b = record.AppendString(b, tx.ClientID)
	b = record.AppendString(b, tx.RedirectURI)
	b = record.AppendString(b, tx.ResponseType)
	b = record.AppendString(b, tx.Mode.Base)
	b = record.AppendBool(b, tx.Mode.JWT)
	b = record.AppendString(b, tx.State)
	b = record.AppendBool(b, tx.HasState)
	b = record.AppendString(b, tx.CodeChallenge)
	b = record.AppendString(b, tx.CodeChallengeMethod)
	b = record.AppendString(b, tx.RequestURIKey)
	b = record.AppendString(b, tx.RememberedKey)
	return record.AppendTime(b, tx.ExpiresAt)
}

// unmarshalTransaction decodes b, in the binary form or in the JSON of
// the version before, so that flows opened before an upgrade still
// complete.
func unmarshalTransaction(b []byte) (*Transaction, error) {
	tx := new(Transaction)
	if record.IsJSON(b) {
		if err := json.Unmarshal(b, tx); err != nil {
			return nil, err
		}
		return tx, nil
	}
	d := record.NewDecoder(b, transactionFormat)
	tx.ClientID = d.ReadString()
	tx.RedirectURI = d.ReadString()
	tx.ResponseType = d.ReadString()
	tx.Mode.Base = d.ReadString()
	tx.Mode.JWT = d.ReadBool()
	tx.State = d.ReadString()
	tx.HasState = d.ReadBool()
	tx.CodeChallenge = d.ReadString()
	tx.CodeChallengeMethod = d.ReadString()
	tx.RequestURIKey = d.ReadString()
	tx.RememberedKey = d.ReadString()
	tx.ExpiresAt = d.ReadTime()
	if err := d.Finish(); err != nil {
		return nil, err
	}
	return tx, nil
}

// Tracker opens and completes transactions, and remembers the authorization
// queries the gateway sent upstream so that the upstream's own re-entry is
// recognised.
type Tracker struct {
	store store.Store
	ttl   time.Duration
	now   func() time.Time
}

// NewTracker returns a Tracker that keeps transactions in st for ttl.
func NewTracker(st store.Store, ttl time.Duration, now func() time.Time) *Tracker {
	if now == nil {
		now = time.Now
	}
	return &Tracker{store: st, ttl: ttl, now: now}
}

// TTL returns how long a transaction lives.
func (t *Tracker) TTL() time.Duration { return t.ttl }

// NewID returns a fresh transaction id: a marker, a random hash tag
// (64 bits) and 256 bits from the CSPRNG, base64url-encoded.
func NewID() string {
	var tag [8]byte
	_, _ = rand.Read(tag[:]) // crypto/rand.Read never fails (Go 1.24+).
	return newID(base64.RawURLEncoding.EncodeToString(tag[:]))
}

// newID returns a fresh transaction id with hash tag content tag (idTagLen
// base64url characters).
func newID(tag string) string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return idPrefix + tag + base64.RawURLEncoding.EncodeToString(b[:])
}

// IsID reports whether s has the shape of a transaction id.
func IsID(s string) bool {
	if len(s) != idLen || s[:len(idPrefix)] != idPrefix {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s[len(idPrefix) : len(idPrefix)+idTagLen])
	if err != nil {
		return false
	}
	_, err = base64.RawURLEncoding.DecodeString(s[len(idPrefix)+idTagLen:])
	return err == nil
}

// idTag is the hash tag of the store keys of transaction id, which carries
// it, or "" when id is not a transaction id.
//
// Every key of one flow shares this tag, so that Redis Cluster keeps them in
// one slot and Take removes them in one script (store.TakeLinked): the
// transaction, the remembered query (whose state is the id) and, for a flow
// expanded from a pushed request, the request_uri's entry, whose tag,
// derived from the request_uri (store.Tag), Open copies into the id. The
// tag is an HMAC keyed with the request_uri, or random: sent upstream in
// the state, it reveals nothing.
func idTag(id string) string {
	if !IsID(id) {
		return ""
	}
	return "{" + id[len(idPrefix):len(idPrefix)+idTagLen] + "}"
}

// key is the store key of transaction id.
func key(id string) string { return store.KeyIn(idTag(id), store.NSTransaction, id) }

// Open stores tx under a fresh id and returns the id. The write is confirmed
// before Open returns. When upstream is not nil it is the authorization
// query the flow sends upstream: Open sets its state to the id and
// remembers it (DESIGN flow 2: many legacy servers save the original URL and
// replay it after login) until the flow completes or expires.
//
// Every write is sent in one round trip (store.PutAll); the transaction
// links the request_uri's entry and the remembered query, which Take takes
// with it.
func (t *Tracker) Open(ctx context.Context, tx *Transaction, upstream url.Values) (string, error) {
	id := NewID()
	if tag := store.TagOf(tx.RequestURIKey); tag != "" {
		id = newID(tag[1 : len(tag)-1])
	}
	tx.ExpiresAt = t.now().Add(t.ttl)
	if upstream != nil {
		upstream.Set("state", id)
		tx.RememberedKey = rememberedKey(upstream)
	}
	b := tx.marshal()
	// Sealed with a key derived from the id, which the store never sees.
	// The links are key names, which the store sees anyway.
	entries := []store.Entry{{Key: key(id), Value: store.Seal(store.NSTransaction, id, b), TTL: t.ttl}}
	if tx.RequestURIKey != "" {
		entries[0].Links = append(entries[0].Links, tx.RequestURIKey)
	}
	if upstream != nil {
		entries[0].Links = append(entries[0].Links, tx.RememberedKey)
		entries = append(entries, store.Entry{Key: tx.RememberedKey, Value: []byte{1}, TTL: t.ttl})
	}
	if err := t.store.PutAll(ctx, entries); err != nil {
		return "", err
	}
	return id, nil
}

// Take atomically removes and returns the transaction id names: of two
// concurrent Takes only one gets it. ErrUnknown if there is none. In the
// same atomic step, one round trip (store.TakeLinked), the flow's
// remembered query is forgotten (once the flow is complete, a replay of
// that query is a request without PAR like any other) and its pushed
// request is taken (RFC 9126, section 4 and 7.3: the request_uri is used
// once, when its flow completes); RequestURITaken reports whether it was
// still there. A transaction that does not open is ErrUnknown, its links
// taken all the same.
func (t *Tracker) Take(ctx context.Context, id string) (*Transaction, error) {
	b, linked, err := t.store.TakeLinked(ctx, key(id))
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrUnknown
	}
	if err != nil {
		return nil, err
	}
	tx, err := t.decode(id, b)
	if tx != nil && tx.RequestURIKey != "" {
		_, tx.RequestURITaken = linked[tx.RequestURIKey]
	}
	return tx, err
}

// decode opens and decodes the transaction stored for id. A value that
// does not open (written unsealed by an older version, or moved from
// another key) is ErrUnknown: the user starts the flow again.
func (t *Tracker) decode(id string, b []byte) (*Transaction, error) {
	b, err := store.Open(store.NSTransaction, id, b)
	if err != nil {
		return nil, ErrUnknown
	}
	tx, err := unmarshalTransaction(b)
	if err != nil {
		return nil, fmt.Errorf("flow: decode transaction: %w", err)
	}
	if !tx.ExpiresAt.IsZero() && t.now().After(tx.ExpiresAt) {
		return nil, ErrUnknown
	}
	return tx, nil
}

// Peek returns the transaction id names without completing it, or
// ErrUnknown.
func (t *Tracker) Peek(ctx context.Context, id string) (*Transaction, error) {
	b, err := t.store.Get(ctx, key(id))
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrUnknown
	}
	if err != nil {
		return nil, err
	}
	_, b = store.Unlink(b)
	return t.decode(id, b)
}

// Canonical returns the canonical form of an authorization query: keys
// sorted, values in order, standard escaping. Two queries that carry the same
// parameters have the same canonical form, whatever their encoding.
func Canonical(q url.Values) string { return q.Encode() }

// rememberedKey is the store key under which the authorization query q is
// remembered, in the slot of the transaction its state names.
func rememberedKey(q url.Values) string {
	return store.KeyIn(idTag(q.Get("state")), store.NSExpanded, Canonical(q))
}

// Remembered reports whether q is, parameter for parameter, a query the
// gateway sent upstream and still remembers.
func (t *Tracker) Remembered(ctx context.Context, q url.Values) (bool, error) {
	_, err := t.store.Get(ctx, rememberedKey(q))
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, nil
}
