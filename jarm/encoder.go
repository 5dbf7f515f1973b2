package jarm

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-jose/go-jose/v4"

	"github.com/parjarm/parjarm/client"
	"github.com/parjarm/parjarm/profile"
)

// Errors returned (wrapped, with the client and the algorithm) by Encode and
// NewEncoder. None of them carries key material.
var (
	// ErrNoKey means no key can sign with the requested algorithm: the
	// gateway holds none for it, the algorithm is not supported, or (HS256)
	// the client's secret is unusable.
	ErrNoKey = errors.New("jarm: no signing key")
	// ErrNoEncryptionKey means the client's key set holds no key that fits
	// its authorization_encrypted_response_alg.
	ErrNoEncryptionKey = errors.New("jarm: no suitable encryption key")
	// ErrUnsupportedEncryption means the client registered an
	// authorization_encrypted_response_alg or _enc the gateway does not
	// implement.
	ErrUnsupportedEncryption = errors.New("jarm: unsupported encryption")
)

// hs256MinSecret is the shortest client_secret usable as an HS256 key: "a key
// of the same size as the hash output (256 bits) or larger MUST be used"
// (RFC 7518, section 3.2). go-jose refuses shorter keys too.
const hs256MinSecret = 32

// defaultEnc is the content encryption used when a client registers an
// authorization_encrypted_response_alg without an _enc (JARM, section 3).
const defaultEnc = jose.A128CBC_HS256

// encryptionAlgs and encryptionEncs are what Encode can encrypt with.
// RSA1_5 is left out on purpose (FAPI 1 Advanced, section 8.6.1).
var (
	encryptionAlgs = []jose.KeyAlgorithm{jose.RSA_OAEP_256, jose.RSA_OAEP, jose.ECDH_ES, jose.ECDH_ES_A128KW, jose.ECDH_ES_A256KW}
	encryptionEncs = []jose.ContentEncryption{jose.A128CBC_HS256, jose.A256CBC_HS512, jose.A128GCM, jose.A256GCM}
)

// EncryptionAlgs returns the key management algorithms Encode supports, for
// discovery's authorization_encryption_alg_values_supported.
func EncryptionAlgs() []string {
	out := make([]string, len(encryptionAlgs))
	for i, a := range encryptionAlgs {
		out[i] = string(a)
	}
	return out
}

// EncryptionEncs returns the content encryption algorithms Encode supports,
// for discovery's authorization_encryption_enc_values_supported.
func EncryptionEncs() []string {
	out := make([]string, len(encryptionEncs))
	for i, e := range encryptionEncs {
		out[i] = string(e)
	}
	return out
}

// KeySource returns a client's public keys (its inline jwks or its fetched
// jwks_uri document).
type KeySource interface {
	KeySet(ctx context.Context, c *client.Client) (*jose.JSONWebKeySet, error)
}

// KeySourceFunc adapts a function to KeySource.
type KeySourceFunc func(ctx context.Context, c *client.Client) (*jose.JSONWebKeySet, error)

// KeySet calls f.
func (f KeySourceFunc) KeySet(ctx context.Context, c *client.Client) (*jose.JSONWebKeySet, error) {
	return f(ctx, c)
}

// Options configure an Encoder.
type Options struct {
	// Issuer is the `iss` claim: exactly the issuer of the discovery
	// document (JARM, section 2.1). Required.
	Issuer string
	// Lifetime sets `exp` = now + Lifetime. Default 5 minutes; JARM
	// recommends at most 10 (JARM, section 2.1).
	Lifetime time.Duration
	// DefaultAlg signs for clients that register no
	// authorization_signed_response_alg. Default RS256 (JARM, section 3). It
	// must be an asymmetric algorithm the KeySet can sign.
	DefaultAlg string
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Profile is the gateway's FAPI profile (PARJARM_PROFILE), for clients
	// that register no fapi_profile: the JARM signing algorithm must be one
	// it allows (profile.SigningAlg). NewEncoder refuses keys that can sign
	// none of its algorithms.
	Profile profile.Name
}

// Encoder turns authorization responses into JARM JWTs. It is safe for
// concurrent use.
type Encoder struct {
	keys       *Keys
	clientKeys KeySource
	issuer     string
	lifetime   time.Duration
	defaultAlg jose.SignatureAlgorithm
	now        func() time.Time
	profile    profile.Name
}

// NewEncoder returns an Encoder that signs with keys and encrypts to the
// client keys clientKeys returns. A nil clientKeys means only a client's
// inline jwks is used.
func NewEncoder(keys *KeySet, clientKeys KeySource, opts Options) (*Encoder, error) {
	if keys == nil {
		return nil, errors.New("jarm: NewEncoder: nil KeySet")
	}
	return NewSwappableEncoder(NewKeys(keys), clientKeys, opts)
}

// NewSwappableEncoder is NewEncoder signing with the KeySet keys holds at
// each Encode, so that a reload's new keys sign from the next response on.
// Swap a new set in with SetKeys, which checks it first.
func NewSwappableEncoder(keys *Keys, clientKeys KeySource, opts Options) (*Encoder, error) {
	if keys == nil || keys.Load() == nil {
		return nil, errors.New("jarm: NewEncoder: nil KeySet")
	}
	if opts.Issuer == "" {
		return nil, errors.New("jarm: NewEncoder: an issuer is required")
	}
	if opts.Lifetime == 0 {
		opts.Lifetime = 5 * time.Minute
	}
	if opts.Lifetime < 0 {
		return nil, fmt.Errorf("jarm: NewEncoder: lifetime %s is negative", opts.Lifetime)
	}
	if opts.DefaultAlg == "" {
		opts.DefaultAlg = string(jose.RS256)
	}
	alg := jose.SignatureAlgorithm(opts.DefaultAlg)
	if !slices.Contains(signingAlgs, alg) {
		return nil, fmt.Errorf("jarm: NewEncoder: default alg %q is not supported (want one of RS256, PS256, ES256, ES384, EdDSA)", opts.DefaultAlg)
	}
	if err := checkSigns(keys.Load(), alg, opts.Profile); err != nil {
		return nil, err
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Encoder{
		keys:       keys,
		clientKeys: clientKeys,
		issuer:     opts.Issuer,
		lifetime:   opts.Lifetime,
		defaultAlg: alg,
		now:        opts.Now,
		profile:    opts.Profile,
	}, nil
}

// checkSigns refuses keys that cannot sign alg, the default, or any
// algorithm profile p allows.
func checkSigns(keys *KeySet, alg jose.SignatureAlgorithm, p profile.Name) error {
	if _, err := keys.signer(alg); err != nil {
		can := strings.Join(keys.Algorithms(), ", ")
		if can == "" {
			can = "nothing"
		}
		return fmt.Errorf("%w (the default alg); the keys sign %s", err, can)
	}
	if _, ok := profile.SigningAlg(p, "", string(alg), keys.canSign); !ok {
		return fmt.Errorf("jarm: NewEncoder: %s allows %s for JARM responses; the keys sign %s", p.Title(),
			strings.Join(p.Algorithms(), ", "), strings.Join(keys.Algorithms(), ", "))
	}
	return nil
}

// CheckKeys reports whether keys may replace the encoder's: they sign the
// default alg and one the profile allows, and the same algorithms as the
// current keys, which discovery advertises
// (authorization_signing_alg_values_supported) and clients registered
// against. Changing the algorithms takes a restart.
func (e *Encoder) CheckKeys(keys *KeySet) error {
	if err := checkSigns(keys, e.defaultAlg, e.profile); err != nil {
		return err
	}
	if now, next := e.keys.Load().Algorithms(), keys.Algorithms(); !slices.Equal(now, next) {
		return fmt.Errorf("jarm: the active keys sign %s, the running ones %s: a reload keeps the algorithms discovery advertises; give every algorithm an active key, or restart to change them",
			strings.Join(next, ", "), strings.Join(now, ", "))
	}
	return nil
}

// SigningAlgs returns the algorithms the encoder signs with, for discovery's
// authorization_signing_alg_values_supported: the KeySet's, then HS256 (with
// the client's secret).
func (e *Encoder) SigningAlgs() []string {
	return append(e.keys.Load().Algorithms(), string(jose.HS256))
}

// Metadata returns the JARM members of the authorization server metadata
// (JARM, section 4), for the proxy to merge into the discovery document.
func Metadata(e *Encoder) map[string]any {
	return map[string]any{
		"authorization_signing_alg_values_supported":    e.SigningAlgs(),
		"authorization_encryption_alg_values_supported": EncryptionAlgs(),
		"authorization_encryption_enc_values_supported": EncryptionEncs(),
	}
}

// Encode returns the JARM response JWT for client c carrying params, the
// authorization response parameters as received (code, state, error,
// error_description, session_state, ...).
//
// The JWT is signed with c's authorization_signed_response_alg, or the
// default alg; HS256 uses c's plain client_secret, which must be at least 32
// bytes. When c has an authorization_encrypted_response_alg, the signed JWT
// is then encrypted to c's key (a nested JWT with cty "JWT", JARM section
// 2.2) with c's authorization_encrypted_response_enc, default A128CBC-HS256.
func (e *Encoder) Encode(ctx context.Context, c *client.Client, params url.Values) (string, error) {
	if c == nil || c.ID == "" {
		return "", errors.New("jarm: Encode: no client")
	}
	claims, err := responseClaims(e.issuer, c.ID, e.now(), e.lifetime, params)
	if err != nil {
		return "", fmt.Errorf("jarm: client %q: %w", c.ID, err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("jarm: client %q: claims: %w", c.ID, err)
	}
	signer, err := e.signer(c)
	if err != nil {
		return "", fmt.Errorf("%w (client %q)", err, c.ID)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("jarm: client %q: sign: %w", c.ID, err)
	}
	signed, err := jws.CompactSerialize()
	if err != nil {
		return "", fmt.Errorf("jarm: client %q: sign: %w", c.ID, err)
	}
	if c.AuthorizationEncryptedResponseAlg == "" {
		return signed, nil
	}
	return e.encrypt(ctx, c, signed)
}

// signer returns the signer for c's authorization_signed_response_alg
// (JARM, section 3), or for the default alg. Under a FAPI profile the
// algorithm must be one the profile allows (FAPI 2.0 Security Profile
// section 5.4.1; FAPI 1.0 Advanced section 8.6): a client without a
// registered alg gets the default when the profile allows it, or else the
// first profile algorithm the keys sign.
func (e *Encoder) signer(c *client.Client) (jose.Signer, error) {
	p := c.Profile.Or(e.profile)
	// One KeySet for the whole choice: a reload may swap another in.
	keys := e.keys.Load()
	a, ok := profile.SigningAlg(p, c.AuthorizationSignedResponseAlg, string(e.defaultAlg), keys.canSign)
	if !ok {
		return nil, fmt.Errorf("%w: %s allows %s for JARM responses, not %q", ErrNoKey, p.Title(), strings.Join(p.Algorithms(), ", "), a)
	}
	alg := jose.SignatureAlgorithm(a)
	switch alg {
	case "none":
		// JARM, section 3: "The algorithm none is not allowed."
		return nil, fmt.Errorf(`%w: alg "none" is not allowed (JARM, section 3)`, ErrNoKey)
	case jose.HS256:
		if c.Secret == "" {
			return nil, fmt.Errorf("%w for HS256: the registry holds no plain client_secret for the client", ErrNoKey)
		}
		if len(c.Secret) < hs256MinSecret {
			return nil, fmt.Errorf("%w for HS256: the client_secret is shorter than %d bytes (RFC 7518, section 3.2)", ErrNoKey, hs256MinSecret)
		}
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte(c.Secret)}, nil)
		if err != nil {
			return nil, fmt.Errorf("%w for HS256: %w", ErrNoKey, err)
		}
		return s, nil
	}
	return keys.signer(alg)
}

// encrypt wraps the signed response in a JWE for c (JARM, section 2.2;
// RFC 7519, section 5.2: cty "JWT" marks the nested JWT).
func (e *Encoder) encrypt(ctx context.Context, c *client.Client, signed string) (string, error) {
	alg := jose.KeyAlgorithm(c.AuthorizationEncryptedResponseAlg)
	if !slices.Contains(encryptionAlgs, alg) {
		return "", fmt.Errorf("%w: client %q: alg %q", ErrUnsupportedEncryption, c.ID, alg)
	}
	enc := jose.ContentEncryption(c.AuthorizationEncryptedResponseEnc)
	if enc == "" {
		enc = defaultEnc
	}
	if !slices.Contains(encryptionEncs, enc) {
		return "", fmt.Errorf("%w: client %q: enc %q", ErrUnsupportedEncryption, c.ID, enc)
	}
	set := c.JWKS
	if e.clientKeys != nil {
		var err error
		if set, err = e.clientKeys.KeySet(ctx, c); err != nil {
			return "", fmt.Errorf("jarm: client %q: keys: %w", c.ID, err)
		}
	}
	key, err := encryptionKey(set, alg)
	if err != nil {
		return "", fmt.Errorf("%w (client %q)", err, c.ID)
	}
	encrypter, err := jose.NewEncrypter(enc,
		jose.Recipient{Algorithm: alg, Key: key.Key, KeyID: key.KeyID},
		(&jose.EncrypterOptions{}).WithContentType("JWT"))
	if err != nil {
		return "", fmt.Errorf("jarm: client %q: encrypt with %s/%s: %w", c.ID, alg, enc, err)
	}
	jwe, err := encrypter.Encrypt([]byte(signed))
	if err != nil {
		return "", fmt.Errorf("jarm: client %q: encrypt with %s/%s: %w", c.ID, alg, enc, err)
	}
	out, err := jwe.CompactSerialize()
	if err != nil {
		return "", fmt.Errorf("jarm: client %q: encrypt: %w", c.ID, err)
	}
	return out, nil
}

// encryptionKey picks the first key of set that can encrypt with alg: "use"
// is "enc" or absent (RFC 7517, section 4.2), "alg" is alg or absent
// (section 4.4), and the key type fits alg: RSA of at least 2048 bits for
// RSA-OAEP*, EC P-256/P-384/P-521 for ECDH-ES*. The key is returned public,
// with its kid.
func encryptionKey(set *jose.JSONWebKeySet, alg jose.KeyAlgorithm) (jose.JSONWebKey, error) {
	if set == nil || len(set.Keys) == 0 {
		return jose.JSONWebKey{}, fmt.Errorf("%w for %s: the client has no keys", ErrNoEncryptionKey, alg)
	}
	for i := range set.Keys {
		k := &set.Keys[i]
		if k.Use != "" && k.Use != "enc" {
			continue
		}
		if k.Algorithm != "" && k.Algorithm != string(alg) {
			continue
		}
		pub := k.Public()
		if !pub.Valid() || !fitsKeyAlg(pub.Key, alg) {
			continue
		}
		return jose.JSONWebKey{Key: pub.Key, KeyID: k.KeyID}, nil
	}
	return jose.JSONWebKey{}, fmt.Errorf(`%w for %s: the client's keys have none with "use" enc or none, a matching "alg" and a fitting key type`, ErrNoEncryptionKey, alg)
}

// fitsKeyAlg reports whether pub can receive a JWE with key management
// algorithm alg.
func fitsKeyAlg(pub any, alg jose.KeyAlgorithm) bool {
	switch alg {
	case jose.RSA_OAEP, jose.RSA_OAEP_256:
		k, ok := pub.(*rsa.PublicKey)
		return ok && k.N.BitLen() >= minRSABits
	case jose.ECDH_ES, jose.ECDH_ES_A128KW, jose.ECDH_ES_A256KW:
		k, ok := pub.(*ecdsa.PublicKey)
		return ok && (k.Curve == elliptic.P256() || k.Curve == elliptic.P384() || k.Curve == elliptic.P521())
	}
	return false
}

// responseClaims builds the claims of a JARM response (JARM, section 2.1):
// every response parameter, then iss, aud, exp and iat, which override
// parameters of the same name. The upstream's own `iss` is thereby replaced
// by the gateway's issuer (RFC 9207, section 2). expires_in is a JSON
// number when it is an integer written canonically; every other value is a
// string. Empty parameter names are dropped. A repeated parameter is an
// error (RFC 6749, section 3.1: parameters MUST NOT be included more than
// once), and so is one that is not valid UTF-8.
func responseClaims(issuer, audience string, now time.Time, lifetime time.Duration, params url.Values) (map[string]any, error) {
	claims := make(map[string]any, len(params)+4)
	for name, values := range params {
		if name == "" || len(values) == 0 {
			continue
		}
		if len(values) > 1 {
			return nil, fmt.Errorf("response parameter %q appears %d times", name, len(values))
		}
		v := values[0]
		// JSON text is UTF-8 (RFC 8259, section 8.1): a value that is not
		// would be altered, and an altered state fails the client's check.
		if !utf8.ValidString(name) || !utf8.ValidString(v) {
			return nil, fmt.Errorf("response parameter %q is not valid UTF-8", name)
		}
		if name == "expires_in" {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil && strconv.FormatInt(n, 10) == v {
				claims[name] = n
				continue
			}
		}
		claims[name] = v
	}
	claims["iss"] = issuer
	claims["aud"] = audience
	claims["iat"] = now.Unix()
	claims["exp"] = now.Add(lifetime).Unix()
	return claims, nil
}
