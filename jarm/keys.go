package jarm

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/cryptosigner"

	"github.com/parjarm/parjarm/client"
)

// signingAlgs are the asymmetric algorithms a KeySet signs with, in the
// order Algorithms reports them. FAPI 1 accepts PS256 and ES256 for JARM,
// FAPI 2 adds EdDSA; RS256 is the JARM default (JARM, section 3).
var signingAlgs = []jose.SignatureAlgorithm{jose.RS256, jose.PS256, jose.ES256, jose.ES384, jose.EdDSA}

// minRSABits is the smallest RSA modulus accepted, for signing and for a
// client's encryption key (FAPI 1 Baseline, section 5.2.2: "a key of size
// 2048 bits or larger for RSA algorithms"; FAPI 2 Security Profile,
// "Cryptography and secrets").
const minRSABits = 2048

// maxKeysFileSize bounds what LoadKeys reads: a keys file is small, and a
// misconfigured path (a device, a log file) must fail instead of filling
// memory.
const maxKeysFileSize = 1 << 20

// KeySet holds the gateway's private signing keys. Several keys may be held
// at once, for rotation: all are published by Public, and for each algorithm
// one of them, the active one, signs.
//
// It also holds the gateway's decryption keys ("use": "enc" in a JWK set),
// to which clients encrypt request objects (RFC 9101, section 6.1). They are
// published by Public with "use": "enc" and only ever decrypt (Decrypt);
// signing keys never decrypt.
//
// The zero KeySet is empty and ready to use. A KeySet is safe for concurrent
// use.
type KeySet struct {
	mu     sync.RWMutex
	keys   []*signingKey // in load order
	byKID  map[string]*signingKey
	active map[jose.SignatureAlgorithm]*signingKey
	dec    []*decryptionKey // in load order
}

// decryptionKey is one private key for a JWE key management algorithm.
type decryptionKey struct {
	kid     string
	alg     jose.KeyAlgorithm
	public  jose.JSONWebKey
	private any
}

// signingKey is one private key and the algorithms it may sign with.
type signingKey struct {
	kid     string
	algs    []jose.SignatureAlgorithm
	public  jose.JSONWebKey
	signers map[jose.SignatureAlgorithm]jose.Signer
	// status is the key's place in a rotation (StatusActive when the file
	// names none); retireAfter, for a retired key, ends its publication.
	status      string
	retireAfter time.Time
}

// The rotation states a signing key's "status" member names in a keys file
// (a member of the gateway's own, next to the JWK's; RFC 7517, section 4
// lets a JWK carry members it does not define). Rotation is: add a key as
// next (published, not used) → wait until clients' JWKS caches hold it →
// make it active and the old one retired (published until its
// retire_after, not used) → remove it.
const (
	StatusActive  = "active"
	StatusNext    = "next"
	StatusRetired = "retired"
)

// published reports whether sk belongs in the key set published at now: a
// retired key until its retire_after, every other key always.
func (sk *signingKey) published(now time.Time) bool {
	return sk.status != StatusRetired || now.Before(sk.retireAfter)
}

// newSigningKey prepares a signer per algorithm for key, which is a private
// jose.JSONWebKey or a jose.OpaqueSigner carrying kid, so that every
// signature's header names kid.
func newSigningKey(kid string, algs []jose.SignatureAlgorithm, pub crypto.PublicKey, key any) (*signingKey, error) {
	sk := &signingKey{
		kid:     kid,
		algs:    algs,
		public:  jose.JSONWebKey{Key: pub, KeyID: kid, Use: "sig"},
		signers: make(map[jose.SignatureAlgorithm]jose.Signer, len(algs)),
	}
	// A JWK's alg names the one algorithm the key is used with (RFC 7517,
	// section 4.4). A key that signs several (an RSA key from PEM: RS256 and
	// PS256) is published without alg, so that strict verifiers accept it
	// for each of them.
	if len(algs) == 1 {
		sk.public.Algorithm = string(algs[0])
	}
	for _, alg := range algs {
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, nil)
		if err != nil {
			return nil, fmt.Errorf("%s signer: %w", alg, err)
		}
		sk.signers[alg] = s
	}
	return sk, nil
}

// add appends sk; the first key that can sign an algorithm is its active
// key until SetActive picks another.
func (k *KeySet) add(sk *signingKey) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.checkNew(sk.kid, sk.public, false); err != nil {
		return err
	}
	if k.byKID == nil {
		k.byKID = make(map[string]*signingKey)
		k.active = make(map[jose.SignatureAlgorithm]*signingKey)
	}
	k.keys = append(k.keys, sk)
	k.byKID[sk.kid] = sk
	if sk.status != "" && sk.status != StatusActive {
		// Next and retired keys are published, never used to sign.
		return nil
	}
	for _, alg := range sk.algs {
		if k.active[alg] == nil {
			k.active[alg] = sk
		}
	}
	return nil
}

// addDecryptionKey appends dk.
func (k *KeySet) addDecryptionKey(dk *decryptionKey) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.checkNew(dk.kid, dk.public, true); err != nil {
		return err
	}
	k.dec = append(k.dec, dk)
	return nil
}

// checkNew refuses a key whose kid another key has, and a key whose key
// material the other use already holds: one key serves one use, signing or
// encryption (RFC 7517, section 4.2). k.mu is held.
func (k *KeySet) checkNew(kid string, pub jose.JSONWebKey, enc bool) error {
	t, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return fmt.Errorf("key thumbprint: %w", err)
	}
	check := func(otherKID string, other jose.JSONWebKey, otherEnc bool) error {
		if otherKID == kid {
			return fmt.Errorf("kid %q is used by two keys", kid)
		}
		if otherEnc != enc {
			if o, err := other.Thumbprint(crypto.SHA256); err == nil && bytes.Equal(o, t) {
				return fmt.Errorf("kid %q is the same key as kid %q: a key either signs or decrypts, give each use its own key", kid, otherKID)
			}
		}
		return nil
	}
	for _, sk := range k.keys {
		if err := check(sk.kid, sk.public, false); err != nil {
			return err
		}
	}
	for _, dk := range k.dec {
		if err := check(dk.kid, dk.public, true); err != nil {
			return err
		}
	}
	return nil
}

// AddSigner adds a key held by a crypto.Signer (an HSM or a cloud KMS, for
// instance) that signs with alg. An empty kid is replaced by the key's
// RFC 7638 thumbprint.
func (k *KeySet) AddSigner(kid, alg string, signer crypto.Signer) error {
	if signer == nil {
		return errors.New("jarm: AddSigner: nil signer")
	}
	pub := signer.Public()
	a, err := fitAlg(pub, alg)
	if err != nil {
		return fmt.Errorf("jarm: AddSigner: %w", err)
	}
	if kid == "" {
		if kid, err = thumbprint(pub); err != nil {
			return fmt.Errorf("jarm: AddSigner: %w", err)
		}
	}
	opaque := kidSigner{
		OpaqueSigner: cryptosigner.Opaque(signer),
		public:       &jose.JSONWebKey{Key: pub, KeyID: kid},
	}
	sk, err := newSigningKey(kid, []jose.SignatureAlgorithm{a}, pub, opaque)
	if err != nil {
		return fmt.Errorf("jarm: AddSigner: %w", err)
	}
	if err := k.add(sk); err != nil {
		return fmt.Errorf("jarm: AddSigner: %w", err)
	}
	return nil
}

// kidSigner is a jose.OpaqueSigner whose public key carries a kid, so that
// go-jose writes it into the JWS header.
type kidSigner struct {
	jose.OpaqueSigner
	public *jose.JSONWebKey
}

// Public returns the public key with its kid.
func (s kidSigner) Public() *jose.JSONWebKey { return s.public }

// SetActive makes the key kid the one that signs every algorithm it can sign.
// Other keys stay published. This is the rotation step: publish a new key
// first, let clients refresh their caches, then make it active.
func (k *KeySet) SetActive(kid string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	sk, ok := k.byKID[kid]
	if !ok {
		return fmt.Errorf("jarm: no signing key has kid %q", kid)
	}
	if sk.status != "" && sk.status != StatusActive {
		return fmt.Errorf(`jarm: the signing key kid %q is marked %q: only an active key signs; mark it "active" in the keys file`, kid, sk.status)
	}
	for _, alg := range sk.algs {
		k.active[alg] = sk
	}
	return nil
}

// Public returns the public halves of the keys published now, each with
// its kid: signing keys (active, next, and retired ones until their
// retire_after) with use "sig" and alg when the key signs with exactly one
// algorithm, then decryption keys with use "enc" and their alg.
func (k *KeySet) Public() jose.JSONWebKeySet { return k.PublicAt(time.Now()) }

// PublicAt is Public at the time now.
func (k *KeySet) PublicAt(now time.Time) jose.JSONWebKeySet {
	k.mu.RLock()
	defer k.mu.RUnlock()
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(k.keys)+len(k.dec))}
	for _, sk := range k.keys {
		if sk.published(now) {
			set.Keys = append(set.Keys, sk.public)
		}
	}
	for _, dk := range k.dec {
		set.Keys = append(set.Keys, dk.public)
	}
	return set
}

// EncryptionAlgorithms returns the JWE key management algorithms the set
// holds decryption keys for, in the order of
// client.RequestObjectEncryptionAlgs. It is empty without such keys.
func (k *KeySet) EncryptionAlgorithms() []jose.KeyAlgorithm {
	k.mu.RLock()
	defer k.mu.RUnlock()
	var algs []jose.KeyAlgorithm
	for _, alg := range client.RequestObjectEncryptionAlgs {
		if slices.ContainsFunc(k.dec, func(dk *decryptionKey) bool { return dk.alg == alg }) {
			algs = append(algs, alg)
		}
	}
	return algs
}

// ErrNoDecryptionKey means no decryption key fits a JWE's kid and alg.
var ErrNoDecryptionKey = errors.New("jarm: no decryption key")

// Decrypt decrypts jwe with the decryption key its kid names, or, without
// kid, with each decryption key for its alg in turn. The caller has parsed
// jwe with its own alg and enc allow-lists. Only decryption keys are used,
// never signing keys. Errors wrap ErrNoDecryptionKey when no key fits;
// otherwise they are go-jose's (a wrong key and a tampered ciphertext alike
// give jose.ErrCryptoFailure).
func (k *KeySet) Decrypt(jwe *jose.JSONWebEncryption) ([]byte, error) {
	if jwe == nil {
		return nil, ErrNoDecryptionKey
	}
	kid, alg := jwe.Header.KeyID, jose.KeyAlgorithm(jwe.Header.Algorithm)
	k.mu.RLock()
	var candidates []*decryptionKey
	for _, dk := range k.dec {
		if dk.alg == alg && (kid == "" || dk.kid == kid) {
			candidates = append(candidates, dk)
		}
	}
	k.mu.RUnlock()
	if len(candidates) == 0 {
		if kid != "" {
			return nil, fmt.Errorf("%w: kid %q with alg %s", ErrNoDecryptionKey, kid, alg)
		}
		return nil, fmt.Errorf("%w for alg %s", ErrNoDecryptionKey, alg)
	}
	var err error
	for _, dk := range candidates {
		var plain []byte
		if plain, err = jwe.Decrypt(dk.private); err == nil {
			return plain, nil
		}
	}
	return nil, err
}

// Algorithms returns the asymmetric algorithms the set can sign with, in a
// fixed order: RS256, PS256, ES256, ES384, EdDSA.
func (k *KeySet) Algorithms() []string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	var algs []string
	for _, alg := range signingAlgs {
		if k.active[alg] != nil {
			algs = append(algs, string(alg))
		}
	}
	return algs
}

// canSign reports whether the set has an active key for alg.
func (k *KeySet) canSign(alg string) bool {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.active[jose.SignatureAlgorithm(alg)] != nil
}

// Status returns the rotation status of the signing key kid ("active",
// "next" or "retired"), and false when the set has no signing key kid.
func (k *KeySet) Status(kid string) (string, bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	sk, ok := k.byKID[kid]
	if !ok {
		return "", false
	}
	if sk.status == "" {
		return StatusActive, true
	}
	return sk.status, true
}

// KIDs returns the key IDs, in load order.
func (k *KeySet) KIDs() []string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	kids := make([]string, 0, len(k.keys))
	for _, sk := range k.keys {
		kids = append(kids, sk.kid)
	}
	return kids
}

// signer returns the active key's signer for alg.
func (k *KeySet) signer(alg jose.SignatureAlgorithm) (jose.Signer, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	sk := k.active[alg]
	if sk == nil {
		return nil, fmt.Errorf("%w for %s", ErrNoKey, alg)
	}
	return sk.signers[alg], nil
}

// LoadKeys reads the gateway's signing keys from a file holding either a JWK
// Set of private keys or PEM private keys; see ParseKeys.
func LoadKeys(path string) (*KeySet, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("jarm: signing keys: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeysFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("jarm: signing keys: %w", err)
	}
	if len(data) > maxKeysFileSize {
		return nil, fmt.Errorf("jarm: signing keys: %s is larger than %d bytes", path, maxKeysFileSize)
	}
	ks, err := ParseKeys(data)
	if err != nil {
		return nil, fmt.Errorf("%w (file %s)", err, path)
	}
	return ks, nil
}

// ParseKeys parses the gateway's signing keys:
//
//   - a JWK Set ({"keys": [...]}, or a single JWK object) of private RSA
//     (at least 2048 bits), EC (P-256, P-384) or Ed25519 keys. Every key needs
//     "alg" (RS256, PS256, ES256, ES384 or EdDSA), which is the only algorithm
//     it signs with; "use", if present, must be "sig"; a missing "kid" is
//     replaced by the key's RFC 7638 thumbprint.
//   - PEM: one or more PKCS #8 ("PRIVATE KEY"), PKCS #1 ("RSA PRIVATE KEY")
//     or SEC 1 ("EC PRIVATE KEY") blocks. CERTIFICATE and EC PARAMETERS
//     blocks are skipped. The kid is the RFC 7638 thumbprint; an RSA key
//     signs RS256 and PS256, a P-256 key ES256, a P-384 key ES384, an Ed25519
//     key EdDSA.
//
// A private key whose public members do not match it is refused. Errors name
// the offending key by its index (JWK) or block number (PEM) and never
// contain key material.
func ParseKeys(data []byte) (*KeySet, error) {
	trimmed := bytes.TrimSpace(data)
	switch {
	case len(trimmed) == 0:
		return nil, errors.New("jarm: signing keys: the file is empty")
	case trimmed[0] == '{':
		return parseJWKS(trimmed)
	case bytes.Contains(trimmed, []byte("-----BEGIN ")):
		return parsePEM(trimmed)
	}
	return nil, errors.New("jarm: signing keys: neither a JWK Set (JSON) nor PEM")
}

// parseJWKS parses a JWK Set (RFC 7517, section 5) or a single JWK.
func parseJWKS(data []byte) (*KeySet, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
		Kty  string            `json:"kty"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("jarm: signing keys: not a JWK Set: %w", err)
	}
	raws := doc.Keys
	if raws == nil {
		if doc.Kty == "" {
			return nil, errors.New(`jarm: signing keys: a JWK Set needs a "keys" array`)
		}
		raws = []json.RawMessage{data}
	}
	if len(raws) == 0 {
		return nil, errors.New(`jarm: signing keys: the JWK Set's "keys" array is empty`)
	}
	// Every key's problem is reported at once (a reload logs them all).
	ks := &KeySet{}
	var errs []error
	for i, raw := range raws {
		if err := ks.addJWK(raw); err != nil {
			errs = append(errs, fmt.Errorf("jarm: signing keys: key %d: %w", i, err))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(ks.keys) == 0 {
		return nil, errors.New(`jarm: signing keys: no signing key: the set holds only "use": "enc" keys`)
	}
	if len(ks.active) == 0 {
		return nil, errors.New(`jarm: signing keys: no active signing key: every key is "next" or "retired"; mark the key that signs "active"`)
	}
	return ks, nil
}

// addJWK parses one private JWK and adds it as a signing key or, with
// "use": "enc", as a decryption key.
func (k *KeySet) addJWK(raw []byte) error {
	var head struct {
		Use         string  `json:"use"`
		Status      *string `json:"status"`
		RetireAfter *string `json:"retire_after"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return err
	}
	if head.Use == "enc" {
		if head.Status != nil || head.RetireAfter != nil {
			return errors.New(`"status" and "retire_after" apply to signing keys, not to "use": "enc" keys`)
		}
		dk, err := parseDecryptionJWK(raw)
		if err != nil {
			return err
		}
		return k.addDecryptionKey(dk)
	}
	status, retireAfter, err := parseStatus(head.Status, head.RetireAfter)
	if err != nil {
		return err
	}
	sk, err := parseJWK(raw)
	if err != nil {
		return err
	}
	sk.status, sk.retireAfter = status, retireAfter
	return k.add(sk)
}

// parseStatus checks a signing key's rotation members: "status" is
// "active" (the default), "next" or "retired"; a retired key needs
// "retire_after", an RFC 3339 time until which it is still published, and
// only a retired key may have one.
func parseStatus(status, retireAfter *string) (string, time.Time, error) {
	st := StatusActive
	if status != nil {
		st = *status
	}
	switch st {
	case StatusActive, StatusNext, StatusRetired:
	default:
		return "", time.Time{}, fmt.Errorf(`"status" is %q: want "active", "next" or "retired"`, st)
	}
	if st != StatusRetired {
		if retireAfter != nil {
			return "", time.Time{}, fmt.Errorf(`"retire_after" is set on a key whose "status" is %q: only a "retired" key has one`, st)
		}
		return st, time.Time{}, nil
	}
	if retireAfter == nil {
		return "", time.Time{}, errors.New(`a "retired" key needs "retire_after", the RFC 3339 time until which it is published (e.g. "2026-01-31T00:00:00Z")`)
	}
	t, err := time.Parse(time.RFC3339, *retireAfter)
	if err != nil {
		return "", time.Time{}, fmt.Errorf(`"retire_after" %q is not an RFC 3339 time (e.g. "2026-01-31T00:00:00Z")`, *retireAfter)
	}
	return st, t, nil
}

// parseDecryptionJWK parses one private JWK with "use": "enc" and checks it
// against its alg, which is required: RSA-OAEP-256 needs an RSA key of at
// least 2048 bits, ECDH-ES (+A128KW, +A256KW) a P-256, P-384 or P-521 key.
func parseDecryptionJWK(raw []byte) (*decryptionKey, error) {
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(raw); err != nil {
		return nil, err
	}
	name := ""
	if jwk.KeyID != "" {
		name = fmt.Sprintf("(kid %q) ", jwk.KeyID)
	}
	algNames := make([]string, len(client.RequestObjectEncryptionAlgs))
	for i, a := range client.RequestObjectEncryptionAlgs {
		algNames[i] = string(a)
	}
	alg := jose.KeyAlgorithm(jwk.Algorithm)
	if !slices.Contains(client.RequestObjectEncryptionAlgs, alg) {
		return nil, fmt.Errorf(`%s"alg" %q is not supported for "use": "enc" (want one of %s)`, name, jwk.Algorithm, strings.Join(algNames, ", "))
	}
	var pub crypto.PublicKey
	switch p := jwk.Key.(type) {
	case *rsa.PrivateKey:
		if alg != jose.RSA_OAEP_256 {
			return nil, fmt.Errorf("%san RSA key decrypts RSA-OAEP-256, not %s", name, alg)
		}
		if p.Validate() != nil {
			return nil, fmt.Errorf("%sinconsistent RSA private key", name)
		}
		if p.N.BitLen() < minRSABits {
			return nil, fmt.Errorf("%sRSA key too small: at least %d bits are required", name, minRSABits)
		}
		pub = &p.PublicKey
	case *ecdsa.PrivateKey:
		if alg == jose.RSA_OAEP_256 {
			return nil, fmt.Errorf("%san EC key decrypts ECDH-ES, ECDH-ES+A128KW or ECDH-ES+A256KW, not %s", name, alg)
		}
		if p.Curve != elliptic.P256() && p.Curve != elliptic.P384() && p.Curve != elliptic.P521() {
			return nil, fmt.Errorf("%sEC curve is not supported for ECDH-ES (want P-256, P-384 or P-521)", name)
		}
		if _, err := publicOfPrivate(p); err != nil {
			return nil, fmt.Errorf("%s%w", name, err)
		}
		pub = &p.PublicKey
	default:
		if jwk.IsPublic() {
			return nil, fmt.Errorf("%sis a public key: decryption needs the private key", name)
		}
		return nil, fmt.Errorf("%sunsupported key type for decryption (want a private RSA or EC key)", name)
	}
	kid := jwk.KeyID
	if kid == "" {
		var err error
		if kid, err = thumbprint(pub); err != nil {
			return nil, err
		}
	}
	return &decryptionKey{
		kid:     kid,
		alg:     alg,
		public:  jose.JSONWebKey{Key: pub, KeyID: kid, Use: "enc", Algorithm: string(alg)},
		private: jwk.Key,
	}, nil
}

// parseJWK parses one private JWK and checks it against its alg.
func parseJWK(raw []byte) (*signingKey, error) {
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(raw); err != nil {
		return nil, err
	}
	name := ""
	if jwk.KeyID != "" {
		name = fmt.Sprintf("(kid %q) ", jwk.KeyID)
	}
	if jwk.Algorithm == "" {
		return nil, fmt.Errorf(`%s"alg" is required (one of %s)`, name, strings.Join(algNames(signingAlgs), ", "))
	}
	if jwk.Use != "" && jwk.Use != "sig" {
		return nil, fmt.Errorf(`%s"use" is %q: a signing key has "sig" or none, a decryption key "enc"`, name, jwk.Use)
	}
	pub, err := publicOfPrivate(jwk.Key)
	if err != nil {
		if jwk.IsPublic() {
			return nil, fmt.Errorf("%sis a public key: signing needs the private key", name)
		}
		return nil, fmt.Errorf("%s%w", name, err)
	}
	alg, err := fitAlg(pub, jwk.Algorithm)
	if err != nil {
		return nil, fmt.Errorf("%s%w", name, err)
	}
	kid := jwk.KeyID
	if kid == "" {
		if kid, err = thumbprint(pub); err != nil {
			return nil, err
		}
	}
	return newSigningKey(kid, []jose.SignatureAlgorithm{alg}, pub, jose.JSONWebKey{Key: jwk.Key, KeyID: kid})
}

// parsePEM parses PEM private keys.
func parsePEM(data []byte) (*KeySet, error) {
	ks := &KeySet{}
	rest := data
	for n := 1; ; n++ {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		sk, err := parsePEMBlock(block)
		if err != nil {
			return nil, fmt.Errorf("jarm: signing keys: PEM block %d (%s): %w", n, block.Type, err)
		}
		if sk == nil {
			continue
		}
		if err := ks.add(sk); err != nil {
			return nil, fmt.Errorf("jarm: signing keys: PEM block %d (%s): %w", n, block.Type, err)
		}
	}
	if len(ks.keys) == 0 {
		return nil, errors.New("jarm: signing keys: no PEM private key block found")
	}
	return ks, nil
}

// parsePEMBlock parses one PEM block; it returns nil for blocks that are
// skipped.
func parsePEMBlock(block *pem.Block) (*signingKey, error) {
	if _, ok := block.Headers["Proc-Type"]; ok {
		return nil, errors.New("encrypted PEM keys are not supported: store the key unencrypted with restrictive file permissions")
	}
	var (
		priv any
		err  error
	)
	switch block.Type {
	case "PRIVATE KEY":
		priv, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		priv, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		priv, err = x509.ParseECPrivateKey(block.Bytes)
	case "CERTIFICATE", "EC PARAMETERS":
		return nil, nil
	case "ENCRYPTED PRIVATE KEY":
		return nil, errors.New("encrypted PEM keys are not supported: store the key unencrypted with restrictive file permissions")
	default:
		return nil, errors.New("not a private key block (want PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)")
	}
	if err != nil {
		return nil, fmt.Errorf("malformed key: %w", err)
	}
	pub, err := publicOfPrivate(priv)
	if err != nil {
		return nil, err
	}
	algs, err := keyAlgs(pub)
	if err != nil {
		return nil, err
	}
	kid, err := thumbprint(pub)
	if err != nil {
		return nil, err
	}
	return newSigningKey(kid, algs, pub, jose.JSONWebKey{Key: priv, KeyID: kid})
}

// publicOfPrivate returns the public key of a supported private signing key,
// after checking that it is the private key's own: a JWK's public members
// ("x", "y", "n") are published while its private ones sign, so a mismatch
// would publish a key that verifies nothing.
func publicOfPrivate(priv any) (crypto.PublicKey, error) {
	switch p := priv.(type) {
	case *rsa.PrivateKey:
		if err := p.Validate(); err != nil {
			return nil, errors.New("inconsistent RSA private key")
		}
		return &p.PublicKey, nil
	case *ecdsa.PrivateKey:
		if p.Curve == nil || p.D == nil || p.X == nil || p.Y == nil {
			return nil, errors.New("malformed EC private key")
		}
		derived, err := p.ECDH() // computes the public point from d
		if err != nil {
			return nil, errors.New("malformed EC private key")
		}
		stated, err := p.PublicKey.ECDH()
		if err != nil || !derived.PublicKey().Equal(stated) {
			return nil, errors.New(`EC private key "d" does not match its public "x" and "y"`)
		}
		return &p.PublicKey, nil
	case ed25519.PrivateKey:
		if len(p) != ed25519.PrivateKeySize {
			return nil, errors.New("malformed Ed25519 private key")
		}
		if !ed25519.NewKeyFromSeed(p.Seed()).Equal(p) {
			return nil, errors.New(`Ed25519 private key "d" does not match its public "x"`)
		}
		return p.Public(), nil
	case []byte:
		return nil, errors.New("symmetric (oct) keys are not supported: clients verify with the published public keys")
	}
	return nil, fmt.Errorf("unsupported private key type %T (want RSA, EC or Ed25519)", priv)
}

// keyAlgs returns the algorithms pub's private key may sign with.
func keyAlgs(pub crypto.PublicKey) ([]jose.SignatureAlgorithm, error) {
	switch p := pub.(type) {
	case *rsa.PublicKey:
		if p.N == nil || p.N.BitLen() < minRSABits {
			return nil, fmt.Errorf("RSA key too small: at least %d bits are required", minRSABits)
		}
		return []jose.SignatureAlgorithm{jose.RS256, jose.PS256}, nil
	case *ecdsa.PublicKey:
		switch p.Curve {
		case elliptic.P256():
			return []jose.SignatureAlgorithm{jose.ES256}, nil
		case elliptic.P384():
			return []jose.SignatureAlgorithm{jose.ES384}, nil
		}
		name := "unknown"
		if p.Curve != nil {
			name = p.Curve.Params().Name
		}
		return nil, fmt.Errorf("EC curve %s is not supported (want P-256 or P-384)", name)
	case ed25519.PublicKey:
		if len(p) != ed25519.PublicKeySize {
			return nil, errors.New("malformed Ed25519 public key")
		}
		return []jose.SignatureAlgorithm{jose.EdDSA}, nil
	}
	return nil, fmt.Errorf("unsupported key type %T (want RSA, EC or Ed25519)", pub)
}

// fitAlg checks that pub's private key may sign with alg.
func fitAlg(pub crypto.PublicKey, alg string) (jose.SignatureAlgorithm, error) {
	algs, err := keyAlgs(pub)
	if err != nil {
		return "", err
	}
	a := jose.SignatureAlgorithm(alg)
	if !slices.Contains(algs, a) {
		if !slices.Contains(signingAlgs, a) {
			return "", fmt.Errorf("alg %q is not supported (want one of %s)", alg, strings.Join(algNames(signingAlgs), ", "))
		}
		return "", fmt.Errorf("alg %s does not fit this key (it can sign %s)", alg, strings.Join(algNames(algs), ", "))
	}
	return a, nil
}

// thumbprint returns the RFC 7638 SHA-256 thumbprint of pub, base64url.
func thumbprint(pub crypto.PublicKey) (string, error) {
	jwk := jose.JSONWebKey{Key: pub}
	t, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("key thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(t), nil
}

func algNames(algs []jose.SignatureAlgorithm) []string {
	names := make([]string, len(algs))
	for i, a := range algs {
		names[i] = string(a)
	}
	return names
}

// GenerateDevelopmentKeys returns ephemeral keys, one per supported
// algorithm: RSA 2048 for RS256, another RSA 2048 for PS256, P-256 for ES256,
// P-384 for ES384, Ed25519 for EdDSA. Each key signs one algorithm, so that
// its published JWK names it; kids are "dev-" + the RFC 7638 thumbprint.
// The keys vanish with the process: responses signed by one gateway replica
// do not verify against another's keys. For development only; the caller
// says so loudly.
func GenerateDevelopmentKeys() (*KeySet, error) {
	ks := &KeySet{}
	for _, alg := range signingAlgs {
		priv, err := generateKey(alg, minRSABits)
		if err != nil {
			return nil, fmt.Errorf("jarm: generate %s key: %w", alg, err)
		}
		t, err := thumbprint(priv.Public())
		if err != nil {
			return nil, fmt.Errorf("jarm: generate %s key: %w", alg, err)
		}
		kid := "dev-" + t
		sk, err := newSigningKey(kid, []jose.SignatureAlgorithm{alg}, priv.Public(), jose.JSONWebKey{Key: priv, KeyID: kid})
		if err != nil {
			return nil, fmt.Errorf("jarm: generate %s key: %w", alg, err)
		}
		if err := ks.add(sk); err != nil {
			return nil, fmt.Errorf("jarm: generate %s key: %w", alg, err)
		}
	}
	return ks, nil
}

// generateKey returns a new private key for alg: RSA of rsaBits for RS256
// and PS256, P-256 for ES256, P-384 for ES384, Ed25519 for EdDSA.
func generateKey(alg jose.SignatureAlgorithm, rsaBits int) (crypto.Signer, error) {
	switch alg {
	case jose.RS256, jose.PS256:
		return rsa.GenerateKey(rand.Reader, rsaBits)
	case jose.ES256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case jose.ES384:
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case jose.EdDSA:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	}
	return nil, fmt.Errorf("no key type for %s", alg)
}
