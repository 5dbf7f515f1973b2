// Package codebind gives an upstream without PKCE (RFC 7636) and without a
// reliable code binding what its token endpoint lacks. When the gateway
// delivers an authorization response that carries a code, the code is
// recorded with its client, redirect_uri and code_challenge; the token
// request that presents it is checked against the record before it reaches
// the upstream, and the record is used once. Client authentication stays
// the upstream's: the gateway only binds.
package codebind

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/parjarm/parjarm/internal/record"
	"github.com/parjarm/parjarm/oauth"
	"github.com/parjarm/parjarm/store"
)

// Record is what the gateway knows of a code it delivered. The store holds
// it in its binary form (marshal); the JSON tags read what the version
// before stored.
type Record struct {
	// ClientID is the client the code was issued to.
	ClientID string `json:"client_id"`
	// RedirectURI is the authorization request's redirect_uri.
	RedirectURI string `json:"redirect_uri"`
	// CodeChallenge and CodeChallengeMethod are the authorization
	// request's PKCE parameters (RFC 7636, section 4.3); empty without PKCE.
	CodeChallenge       string `json:"code_challenge,omitempty"`
	CodeChallengeMethod string `json:"code_challenge_method,omitempty"`
}

// recordFormat is the first byte of a Record's binary form, its fields in
// the order marshal appends them. A JSON value, from the version before,
// starts with '{'.
const recordFormat = 0x02

// marshal returns rec's binary form.
func (rec *Record) marshal() []byte {
	b := make([]byte, 0, 1+record.StringsLen(rec.ClientID, rec.RedirectURI, rec.CodeChallenge, rec.CodeChallengeMethod))
	b = append(b, recordFormat)
	b = record.AppendString(b, rec.ClientID)
	b = record.AppendString(b, rec.RedirectURI)
	b = record.AppendString(b, rec.CodeChallenge)
	return record.AppendString(b, rec.CodeChallengeMethod)
}

// unmarshalRecord decodes b, in the binary form or in the JSON of the
// version before, so that codes delivered before an upgrade still redeem.
func unmarshalRecord(b []byte) (Record, error) {
	if record.IsJSON(b) {
		// A variable of this path's own: json.Unmarshal makes it escape to
		// the heap, and the binary path need not.
		var old Record
		err := json.Unmarshal(b, &old)
		return old, err
	}
	d := record.NewDecoder(b, recordFormat)
	rec := Record{ClientID: d.ReadString(), RedirectURI: d.ReadString(), CodeChallenge: d.ReadString(), CodeChallengeMethod: d.ReadString()}
	if err := d.Finish(); err != nil {
		return Record{}, err
	}
	return rec, nil
}

// errReplay is Redeem's answer to a code presented again.
var errReplay = oauth.ErrInvalidGrant.WithDescription("the authorization code was already used")

// errUnreadable answers a code whose record does not open with the code
// (RFC 6749, section 5.2: the grant is invalid).
var errUnreadable = oauth.ErrInvalidGrant.WithDescription("the gateway cannot read the authorization code's record")

// Replayed reports whether err is Redeem's answer to a code that was
// already presented (RFC 6749, section 4.1.2: the authorization server
// SHOULD then revoke the tokens issued for it, which only the upstream
// can do).
func Replayed(err error) bool {
	var oe *oauth.Error
	return errors.As(err, &oe) && oe == errReplay
}

// Binder records delivered codes and checks the token requests that
// present them.
type Binder struct {
	store    store.Store
	lifetime time.Duration
	// requirePKCE reports whether a client's codes must come from flows the
	// gateway tracked (the client, or the gateway, requires PKCE).
	requirePKCE func(clientID string) bool
}

// New returns a Binder that keeps records in st for lifetime (at least the
// upstream's code lifetime). requirePKCE may be nil: then codes the gateway
// did not deliver pass through.
func New(st store.Store, lifetime time.Duration, requirePKCE func(clientID string) bool) *Binder {
	if requirePKCE == nil {
		requirePKCE = func(string) bool { return false }
	}
	return &Binder{store: st, lifetime: lifetime, requirePKCE: requirePKCE}
}

// Lifetime returns how long a record lives.
func (b *Binder) Lifetime() time.Duration { return b.lifetime }

// Record remembers that code was delivered for rec. Two entries are
// written, both for the code's lifetime and in one round trip: a mark that the code was issued,
// which outlives its redemption, and the record itself, which Redeem takes.
// A code whose record is gone but whose mark remains was already presented.
// An error means the code must not be delivered.
func (b *Binder) Record(ctx context.Context, code string, rec Record) error {
	v := rec.marshal()
	// Both in one round trip (store.PutAll). The record is sealed with a
	// key derived from the code, which the store never sees.
	return b.store.PutAll(ctx, []store.Entry{
		{Key: store.Key(store.NSCodeIssued, code), Value: []byte{1}, TTL: b.lifetime},
		{Key: store.Key(store.NSCode, code), Value: store.Seal(store.NSCode, code, v), TTL: b.lifetime},
	})
}

// Redeem checks an authorization code token request (RFC 6749, section
// 4.1.3) before it is forwarded: nil means forward it unchanged. The record
// is taken atomically, so of two requests that present one code at most one
// is forwarded, and whichever check fails, the code is spent at the gateway
// (RFC 6749, section 4.1.2: a code is used once). A code the gateway never
// delivered passes, unless its client requires PKCE. The error is an
// *oauth.Error (invalid_grant, 400) or a store error.
func (b *Binder) Redeem(ctx context.Context, tr *TokenRequest) error {
	if tr.Code == "" {
		return nil // the upstream answers invalid_request (RFC 6749, section 4.1.3)
	}
	v, err := b.store.Take(ctx, store.Key(store.NSCode, tr.Code))
	if err == nil {
		v, err := store.Open(store.NSCode, tr.Code, v)
		if err != nil {
			// Written unsealed by an older version, or moved from another
			// key: the record is spent and the client starts the flow again.
			return errUnreadable.WithCause(err)
		}
		rec, err := unmarshalRecord(v)
		if err != nil {
			return fmt.Errorf("codebind: decode record: %w", err)
		}
		return Check(&rec, tr)
	}
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	_, err = b.store.Get(ctx, store.Key(store.NSCodeIssued, tr.Code))
	switch {
	case err == nil:
		// RFC 6749, section 4.1.2: a code used more than once is refused.
		return errReplay
	case !errors.Is(err, store.ErrNotFound):
		return err
	case b.requirePKCE(tr.ClientID):
		return oauth.ErrInvalidGrant.WithDescription("the authorization code is unknown to the gateway, which requires PKCE for this client")
	}
	return nil
}
