package jarm

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/go-jose/go-jose/v4"
)

// Keys holds the gateway's current KeySet. A reload builds a whole new
// KeySet and swaps it in with Store; every reader sees the old set or the
// new one, never a mixture. Keys is safe for concurrent use and serves as
// the request-object Decrypter and the source of the published key set.
type Keys struct{ p atomic.Pointer[KeySet] }

// NewKeys returns a holder of ks, which must not be nil.
func NewKeys(ks *KeySet) *Keys {
	h := &Keys{}
	h.p.Store(ks)
	return h
}

// Load returns the current KeySet.
func (h *Keys) Load() *KeySet { return h.p.Load() }

// Store makes ks the current KeySet.
func (h *Keys) Store(ks *KeySet) { h.p.Store(ks) }

// Public returns the current set's published keys (KeySet.Public).
func (h *Keys) Public() jose.JSONWebKeySet { return h.Load().Public() }

// Decrypt decrypts with the current set's decryption keys (KeySet.Decrypt).
func (h *Keys) Decrypt(jwe *jose.JSONWebEncryption) ([]byte, error) { return h.Load().Decrypt(jwe) }

// EncryptionAlgorithms returns the current set's JWE key management
// algorithms (KeySet.EncryptionAlgorithms).
func (h *Keys) EncryptionAlgorithms() []jose.KeyAlgorithm { return h.Load().EncryptionAlgorithms() }

// GeneratedAlgs are the algorithms GenerateKeyFile makes keys for.
var GeneratedAlgs = []string{string(jose.ES256), string(jose.PS256), string(jose.EdDSA), string(jose.RS256), string(jose.ES384)}

// GenerateKeyFile returns a keys file (the JWK Set ParseKeys reads) holding
// one new private signing key for alg: RSA 3072 for RS256 and PS256, P-256
// for ES256, P-384 for ES384, Ed25519 for EdDSA. An empty kid is replaced by
// the key's RFC 7638 thumbprint. status is "" or StatusActive (no member
// written) or StatusNext, for a key added ahead of its promotion.
func GenerateKeyFile(alg, kid, status string) ([]byte, error) {
	if !slices.Contains(GeneratedAlgs, alg) {
		return nil, fmt.Errorf("jarm: generate: alg %q is not one of %v", alg, GeneratedAlgs)
	}
	if status != "" && status != StatusActive && status != StatusNext {
		return nil, fmt.Errorf(`jarm: generate: status %q: want "active" or "next" (a key is retired by editing the file)`, status)
	}
	// RSA 3072: above FAPI's 2048-bit minimum, for a key meant to last.
	priv, err := generateKey(jose.SignatureAlgorithm(alg), 3072)
	if err != nil {
		return nil, fmt.Errorf("jarm: generate %s key: %w", alg, err)
	}
	if kid == "" {
		if kid, err = thumbprint(priv.Public()); err != nil {
			return nil, fmt.Errorf("jarm: generate %s key: %w", alg, err)
		}
	}
	raw, err := jose.JSONWebKey{Key: priv, KeyID: kid, Algorithm: alg, Use: "sig"}.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("jarm: generate %s key: %w", alg, err)
	}
	if status == StatusNext {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("jarm: generate %s key: %w", alg, err)
		}
		m["status"] = StatusNext
		if raw, err = json.Marshal(m); err != nil {
			return nil, fmt.Errorf("jarm: generate %s key: %w", alg, err)
		}
	}
	out, err := json.MarshalIndent(map[string][]json.RawMessage{"keys": {raw}}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("jarm: generate %s key: %w", alg, err)
	}
	// The key must load as it is written (a lone next key is merged into
	// a file that has an active one).
	if err := (&KeySet{}).addJWK(raw); err != nil {
		return nil, fmt.Errorf("jarm: generate %s key: %w", alg, err)
	}
	return append(out, '\n'), nil
}
