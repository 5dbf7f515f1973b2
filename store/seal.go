package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// ErrUnsealed is returned by Open when a value cannot be opened with the
// secret it was read for: another secret, another key, a tampered value, or
// a value written unsealed by a version before sealing. Callers treat it as
// an unknown entry: the user starts the flow again.
var ErrUnsealed = errors.New("store: value cannot be opened")

// sealV1 is the format byte of a sealed value:
// sealV1 || nonce (12 bytes) || AES-256-GCM ciphertext and tag.
const sealV1 = 0x01

const (
	sealNonceSize = 12
	sealTagSize   = 16
	// sealInfo prefixes the HKDF info of the AEAD key. It differs from the
	// key name's derivation (SHA-256 of the secret, see Key), so knowing a
	// key name tells nothing about the AEAD key.
	sealInfo = "parjarm seal v1 "
)

// SealOverhead is how many bytes Seal adds to a plaintext.
const SealOverhead = 1 + sealNonceSize + sealTagSize

// Seal encrypts plaintext for the entry Key(ns, secret). The AEAD key is
// derived from secret with HKDF-SHA256 (RFC 5869) and the namespace, so it
// is never stored; the nonce is random per write; the format byte and the
// key name are authenticated as associated data, so a value moved to
// another key or namespace does not open.
func Seal(ns, secret string, plaintext []byte) []byte {
	aead := sealAEAD(ns, secret)
	out := make([]byte, 1+sealNonceSize, SealOverhead+len(plaintext))
	out[0] = sealV1
	// crypto/rand.Read never fails (Go 1.24+).
	_, _ = rand.Read(out[1:])
	return aead.Seal(out, out[1:], plaintext, sealAD(ns, secret))
}

// Open decrypts a value Seal wrote for Key(ns, secret), or returns
// ErrUnsealed. It never panics, whatever sealed holds.
func Open(ns, secret string, sealed []byte) ([]byte, error) {
	if len(sealed) < SealOverhead {
		return nil, fmt.Errorf("%w: %d bytes is too short", ErrUnsealed, len(sealed))
	}
	if sealed[0] != sealV1 {
		return nil, fmt.Errorf("%w: unknown format %#x", ErrUnsealed, sealed[0])
	}
	nonce, ct := sealed[1:1+sealNonceSize], sealed[1+sealNonceSize:]
	pt, err := sealAEAD(ns, secret).Open(nil, nonce, ct, sealAD(ns, secret))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnsealed, err)
	}
	return pt, nil
}

// sealAD is the associated data of a sealed value: its format byte and
// Key(ns, secret), the name of the key it is stored under without the hash
// tag KeyIn may add (the tag is derived from a secret too, or carried by
// it).
func sealAD(ns, secret string) []byte {
	return append([]byte{sealV1}, Key(ns, secret)...)
}

// sealAEAD returns AES-256-GCM under HKDF-SHA256(secret, info = sealInfo +
// ns).
func sealAEAD(ns, secret string) cipher.AEAD {
	key, err := hkdf.Key(sha256.New, []byte(secret), nil, sealInfo+ns, 32)
	if err != nil {
		// Only a length above 255*32 bytes fails.
		panic("store: hkdf: " + err.Error())
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		panic("store: aes: " + err.Error()) // a 32-byte key never fails
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic("store: gcm: " + err.Error()) // AES always has 16-byte blocks
	}
	return aead
}
