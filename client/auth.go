package client

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/parjarm/parjarm/oauth"
	"github.com/parjarm/parjarm/profile"
	"github.com/parjarm/parjarm/store"
)

// Method is a token endpoint authentication method: one of AuthSecretBasic,
// AuthSecretPost, AuthPrivateKeyJWT, AuthTLSClient, AuthSelfSignedTLSClient,
// AuthNone.
type Method string

// AssertionType is the only client_assertion_type accepted (RFC 7523,
// section 2.2).
const AssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// Defaults of Authenticator.
const (
	// DefaultClockSkew is the leeway on exp, nbf and iat.
	DefaultClockSkew = time.Minute
	// DefaultMaxAssertionLifetime bounds how far ahead an assertion's exp
	// may be, and so how long its jti replay mark is kept.
	DefaultMaxAssertionLifetime = time.Hour
)

// maxAssertionBytes bounds a client_assertion before it is parsed.
const maxAssertionBytes = 32 << 10

// DefaultAssertionAlgorithms are the client assertion algorithms accepted when
// Authenticator.Algorithms is empty: asymmetric only.
var DefaultAssertionAlgorithms = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512,
	jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512,
	jose.EdDSA,
}

// KeySource returns a client's public keys. *KeyFetcher implements it. A
// KeySource that also has an Invalidate(uri string) method is asked to
// refetch once when an assertion's kid matches none of the keys.
type KeySource interface {
	KeySet(ctx context.Context, c *Client) (*jose.JSONWebKeySet, error)
}

// inlineKeys is the KeySource of an Authenticator without one: inline jwks
// only.
type inlineKeys struct{}

func (inlineKeys) KeySet(_ context.Context, c *Client) (*jose.JSONWebKeySet, error) {
	if c.JWKS == nil {
		return nil, errors.New("no key source for a jwks_uri")
	}
	return c.JWKS, nil
}

// invalidator is implemented by a KeySource that caches jwks_uri documents.
type invalidator interface {
	Invalidate(uri string)
}

// Audience lists the values a client assertion's aud may name.
type Audience struct {
	// Issuer is the authorization server's issuer identifier.
	Issuer string
	// TokenEndpoint is the token endpoint URL discovery advertises.
	TokenEndpoint string
	// PAREndpoint is the gateway's PAR endpoint URL.
	PAREndpoint string
	// IssuerOnly accepts the issuer alone, as FAPI 2.0 Security Profile
	// section 5.3.2.1 requires; otherwise any of the three is accepted
	// (RFC 9126, section 2).
	IssuerOnly bool
}

// accepts reports whether aud names one of the accepted audiences. With
// IssuerOnly, aud must be the issuer alone (FAPI 2.0 Security Profile,
// section 5.3.2.1: the issuer as the single audience value).
func (a Audience) accepts(aud jwt.Audience) bool {
	if a.IssuerOnly {
		return len(aud) == 1 && aud[0] != "" && aud[0] == a.Issuer
	}
	for _, v := range aud {
		if v == "" {
			continue
		}
		if v == a.Issuer || (!a.IssuerOnly && (v == a.TokenEndpoint || v == a.PAREndpoint)) {
			return true
		}
	}
	return false
}

// Authenticator authenticates clients exactly as a token endpoint does
// (RFC 6749 section 2.3, RFC 7523, OpenID Connect Core section 9), which is
// what the PAR endpoint must do (RFC 9126, section 2). It is safe for
// concurrent use once its fields are set.
type Authenticator struct {
	// Registry holds the clients: a *Registry, or a *Swappable that a
	// reload replaces.
	Registry Clients
	// Keys returns the clients' public keys for private_key_jwt. Nil means
	// the inline jwks only: a client with a jwks_uri then cannot
	// authenticate.
	Keys KeySource
	// Replay records assertion jti values. Without it every private_key_jwt
	// request is answered temporarily_unavailable: an assertion is never
	// accepted without its replay check.
	Replay store.Store
	// Audience lists the aud values an assertion may carry.
	Audience Audience
	// Algorithms are the assertion algorithms accepted; none and HS* are
	// always removed. Default DefaultAssertionAlgorithms.
	Algorithms []jose.SignatureAlgorithm
	// ClockSkew is the leeway on exp, nbf and iat. Default DefaultClockSkew.
	ClockSkew time.Duration
	// MaxAssertionLifetime bounds exp - now. Default
	// DefaultMaxAssertionLifetime.
	MaxAssertionLifetime time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// ClientCAs are the trust anchors of tls_client_auth certificates (RFC
	// 8705, section 2.1). Nil: no tls_client_auth client can authenticate.
	ClientCAs *x509.CertPool
	// Profile is the gateway's FAPI profile (PARJARM_PROFILE), for clients
	// that register no fapi_profile of their own.
	Profile profile.Name
}

// Error descriptions shown to clients. An unknown client, a wrong secret, a
// method the client is not registered for and an assertion that does not
// verify all read the same, so that clients cannot be enumerated.
const (
	descFailed   = "client authentication failed"
	descRequired = "client authentication required"
)

// failed is the answer to every authentication failure that must not tell
// its reason; cause is for the logs only.
func failed(cause string) *oauth.Error {
	return oauth.ErrInvalidClient.WithDescription(descFailed).WithCause(errors.New(cause))
}

// UsedBasic reports whether authorization (an Authorization header value)
// uses the Basic scheme. A handler answering invalid_client to such a request
// adds WWW-Authenticate: Basic realm="parjarm" (RFC 6749, section 5.2).
func UsedBasic(authorization string) bool {
	scheme, _, _ := strings.Cut(strings.TrimSpace(authorization), " ")
	return strings.EqualFold(scheme, "Basic")
}

// Authenticate authenticates the client of a request from its Authorization
// header value and its parsed form body. It returns the client and the method
// it used.
//
// On failure the error is an *oauth.Error: invalid_client (401) for every
// authentication failure, invalid_request (400) for a malformed request (two
// methods at once, a repeated parameter, a client_id parameter that
// disagrees with the authenticated client), temporarily_unavailable (503)
// when the jti replay store cannot be reached. The Method is returned on
// failure too when the request clearly attempted one (it is "" otherwise),
// so a handler can add WWW-Authenticate when it is AuthSecretBasic; UsedBasic
// gives the same answer from the header alone. Neither the secret nor the
// assertion ever appears in an error.
func (a *Authenticator) Authenticate(ctx context.Context, authorization string, form url.Values) (*Client, Method, error) {
	for _, name := range []string{"client_id", "client_secret", "client_assertion", "client_assertion_type"} {
		if len(form[name]) > 1 {
			// RFC 6749, section 3.2: parameters must not be repeated.
			return nil, "", oauth.ErrInvalidRequest.WithDescription("%s is repeated", name)
		}
	}
	_, hasPostSecret := form["client_secret"]
	_, hasAssertion := form["client_assertion"]
	_, hasAssertionType := form["client_assertion_type"]
	hasHeader := strings.TrimSpace(authorization) != ""

	used := 0
	for _, b := range []bool{hasHeader, hasPostSecret, hasAssertion || hasAssertionType} {
		if b {
			used++
		}
	}
	if used > 1 {
		// RFC 6749, section 2.3: a client must not use more than one
		// authentication method in each request.
		return nil, "", oauth.ErrInvalidRequest.WithDescription("multiple client authentication methods")
	}

	var (
		c      *Client
		method Method
		err    *oauth.Error
	)
	switch {
	case hasHeader && !UsedBasic(authorization):
		return nil, "", oauth.ErrInvalidClient.WithDescription("unsupported authorization scheme")
	case hasHeader:
		method = AuthSecretBasic
		c, err = a.secretBasic(authorization)
	case hasPostSecret:
		method = AuthSecretPost
		c, err = a.secretPost(form)
	case hasAssertion || hasAssertionType:
		method = AuthPrivateKeyJWT
		c, err = a.privateKeyJWT(ctx, form)
	default:
		// RFC 8705, section 2: a mutual-TLS client sends its client_id in
		// the body; its certificate is in ctx.
		if mc, ok := a.Registry.Lookup(form.Get("client_id")); ok && mc.usesMTLS() {
			method = Method(mc.TokenEndpointAuthMethod)
			c, err = a.mtls(ctx, mc)
		} else {
			method = AuthNone
			c, err = a.none(form)
		}
	}
	if err != nil {
		return nil, method, err
	}
	// FAPI profiles allow private_key_jwt and mTLS only.
	if err := profile.CheckAuthMethod(c.Profile.Or(a.Profile), string(method)); err != nil {
		return nil, method, err
	}
	// RFC 7521 section 4.2, RFC 9126 section 2: a client_id parameter next
	// to other credentials must name the same client.
	if id, ok := form["client_id"]; ok && len(id) > 0 && id[0] != c.ID {
		return nil, method, oauth.ErrInvalidRequest.WithDescription("client_id does not match the authenticated client")
	}
	return c, method, nil
}

// secretBasic implements client_secret_basic (RFC 6749, section 2.3.1).
func (a *Authenticator) secretBasic(authorization string) (*Client, *oauth.Error) {
	id, secret, err := parseBasic(authorization)
	if err != nil {
		return nil, oauth.ErrInvalidClient.WithDescription("malformed Basic authorization header").WithCause(err)
	}
	return a.checkSecret(id, secret, AuthSecretBasic)
}

// secretPost implements client_secret_post (RFC 6749, section 2.3.1).
func (a *Authenticator) secretPost(form url.Values) (*Client, *oauth.Error) {
	id := form.Get("client_id")
	if id == "" {
		return nil, oauth.ErrInvalidClient.WithDescription("client_id is required with client_secret")
	}
	return a.checkSecret(id, form.Get("client_secret"), AuthSecretPost)
}

// dummyDigest is compared against when the client is unknown, so that an
// unknown client costs the same as a wrong secret.
var dummyDigest = sha256.Sum256([]byte("parjarm: no such client"))

// checkSecret finds client id and compares secret with its registered secret
// in constant time. Both sides are SHA-256 digests, so a plain and a hashed
// registration take the same path and the secret's length does not leak.
func (a *Authenticator) checkSecret(id, secret string, method Method) (*Client, *oauth.Error) {
	c, ok := a.Registry.Lookup(id)
	want := dummyDigest
	if ok && c.hasSecret {
		want = c.secretDigest
	}
	got := sha256.Sum256([]byte(secret))
	match := subtle.ConstantTimeCompare(got[:], want[:]) == 1
	switch {
	case !ok:
		return nil, failed("unknown client")
	case Method(c.TokenEndpointAuthMethod) != method:
		return nil, failed(fmt.Sprintf("client %q is registered for %s, not %s", c.ID, c.TokenEndpointAuthMethod, method))
	case !c.hasSecret || !match:
		return nil, failed(fmt.Sprintf("client %q: wrong secret", c.ID))
	}
	return c, nil
}

// parseBasic decodes a Basic authorization header value into the client_id
// and secret, each application/x-www-form-urlencoded (RFC 6749, section
// 2.3.1; RFC 7617, section 2).
func parseBasic(authorization string) (id, secret string, err error) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(authorization), " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return "", "", errors.New("not the Basic scheme")
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(token))
	if err != nil {
		return "", "", errors.New("credentials are not base64")
	}
	rawID, rawSecret, ok := strings.Cut(string(raw), ":")
	if !ok {
		return "", "", errors.New("credentials have no colon")
	}
	if id, err = url.QueryUnescape(rawID); err != nil {
		return "", "", errors.New("client_id is not form-urlencoded")
	}
	if secret, err = url.QueryUnescape(rawSecret); err != nil {
		return "", "", errors.New("client_secret is not form-urlencoded")
	}
	if id == "" {
		return "", "", errors.New("empty client_id")
	}
	return id, secret, nil
}

// none authenticates a public client: client_id alone (RFC 6749, section
// 2.1; OpenID Connect Core, section 9).
func (a *Authenticator) none(form url.Values) (*Client, *oauth.Error) {
	id := form.Get("client_id")
	if id == "" {
		return nil, oauth.ErrInvalidClient.WithDescription(descRequired)
	}
	c, ok := a.Registry.Lookup(id)
	switch {
	case !ok:
		return nil, failed("unknown client")
	case c.TokenEndpointAuthMethod != AuthNone:
		return nil, failed(fmt.Sprintf("client %q is registered for %s and sent no credentials", c.ID, c.TokenEndpointAuthMethod))
	}
	return c, nil
}

// privateKeyJWT implements private_key_jwt (RFC 7523 sections 2.2 and 3;
// OpenID Connect Core, section 9; RFC 9126, section 2).
func (a *Authenticator) privateKeyJWT(ctx context.Context, form url.Values) (*Client, *oauth.Error) {
	if form.Get("client_assertion_type") != AssertionType {
		return nil, oauth.ErrInvalidClient.WithDescription("client_assertion_type must be %s", AssertionType)
	}
	raw := form.Get("client_assertion")
	if raw == "" {
		return nil, oauth.ErrInvalidClient.WithDescription("client_assertion is required")
	}
	if len(raw) > maxAssertionBytes {
		return nil, oauth.ErrInvalidClient.WithDescription("client_assertion is too large")
	}
	tok, err := jwt.ParseSigned(raw, a.algorithms())
	if err != nil {
		return nil, oauth.ErrInvalidClient.WithDescription("client_assertion is not a JWT signed with an accepted algorithm").WithCause(err)
	}
	// The claims are read before the signature is checked, to find the
	// client. They are trusted only once the signature verifies: the signed
	// payload is these very bytes.
	var claims jwt.Claims
	if err := tok.UnsafeClaimsWithoutVerification(&claims); err != nil {
		return nil, oauth.ErrInvalidClient.WithDescription("client_assertion claims are malformed").WithCause(err)
	}
	// RFC 7523, section 3: iss and sub are both the client_id.
	if claims.Issuer == "" || claims.Subject != claims.Issuer {
		return nil, oauth.ErrInvalidClient.WithDescription("client_assertion iss and sub must both be the client_id")
	}
	c, ok := a.Registry.Lookup(claims.Issuer)
	if !ok {
		return nil, failed("unknown client")
	}
	if c.TokenEndpointAuthMethod != AuthPrivateKeyJWT {
		return nil, failed(fmt.Sprintf("client %q is registered for %s, not %s", c.ID, c.TokenEndpointAuthMethod, AuthPrivateKeyJWT))
	}
	if oerr := a.verify(ctx, c, tok); oerr != nil {
		return nil, oerr
	}

	// Signed by the client: from here on descriptions may be specific.
	alg := tok.Headers[0].Algorithm
	if c.TokenEndpointAuthSigningAlg != "" && alg != c.TokenEndpointAuthSigningAlg {
		return nil, oauth.ErrInvalidClient.WithDescription("client_assertion alg %s is not the registered token_endpoint_auth_signing_alg", alg)
	}
	exp, oerr := a.checkClaims(&claims)
	if oerr != nil {
		return nil, oerr
	}
	// RFC 7521, section 4.2: a client_id parameter, if present, identifies
	// the same client.
	if id, ok := form["client_id"]; ok && len(id) > 0 && id[0] != c.ID {
		return nil, oauth.ErrInvalidRequest.WithDescription("client_id does not match the authenticated client")
	}
	// FAPI profiles narrow the algorithm and the aud (profile.CheckAssertion).
	if err := profile.CheckAssertion(c.Profile.Or(a.Profile), alg, claims.Audience, a.Audience.Issuer); err != nil {
		return nil, oauth.From(err)
	}
	if oerr := a.recordJTI(ctx, c.ID, claims.ID, exp); oerr != nil {
		return nil, oerr
	}
	return c, nil
}

// algorithms returns the accepted assertion algorithms, never none or HS*
// (RFC 7523 private_key_jwt is asymmetric; OpenID Connect Core, section 9).
func (a *Authenticator) algorithms() []jose.SignatureAlgorithm {
	if len(a.Algorithms) == 0 {
		return DefaultAssertionAlgorithms
	}
	algs := make([]jose.SignatureAlgorithm, 0, len(a.Algorithms))
	for _, alg := range a.Algorithms {
		if alg == "none" || alg == "" || strings.HasPrefix(string(alg), "HS") {
			continue
		}
		algs = append(algs, alg)
	}
	if len(algs) == 0 {
		return DefaultAssertionAlgorithms
	}
	return algs
}

// verify checks tok's signature with c's keys. When no key verifies and the
// keys come from a jwks_uri, the cache is invalidated and the check retried
// once: the client may have rotated its keys.
func (a *Authenticator) verify(ctx context.Context, c *Client, tok *jwt.JSONWebToken) *oauth.Error {
	keys := a.Keys
	if keys == nil {
		keys = inlineKeys{}
	}
	hdr := tok.Headers[0]
	for attempt := 0; attempt < 2; attempt++ {
		set, err := keys.KeySet(ctx, c)
		if err != nil {
			return oauth.ErrInvalidClient.WithDescription(descFailed).WithCause(fmt.Errorf("client %q keys: %w", c.ID, err))
		}
		found, verified := verifyWith(set, hdr, tok)
		if verified {
			return nil
		}
		if found && hdr.KeyID != "" {
			// The named key exists and does not verify: not a rotation.
			break
		}
		inv, ok := keys.(invalidator)
		if attempt > 0 || !ok || c.JWKSURI == "" {
			break
		}
		inv.Invalidate(c.JWKSURI)
	}
	return failed(fmt.Sprintf("client %q: client_assertion signature does not verify with the client's keys (kid %q)", c.ID, hdr.KeyID))
}

// verifyWith tries the keys of set that fit hdr. found reports whether a key
// with hdr's kid was there; verified whether one verified the signature.
func verifyWith(set *jose.JSONWebKeySet, hdr jose.Header, tok *jwt.JSONWebToken) (found, verified bool) {
	if set == nil {
		return false, false
	}
	for i := range set.Keys {
		k := &set.Keys[i]
		if hdr.KeyID != "" && k.KeyID != hdr.KeyID {
			continue
		}
		if (k.Use != "" && k.Use != "sig") || (k.Algorithm != "" && k.Algorithm != hdr.Algorithm) || !k.IsPublic() {
			continue
		}
		found = true
		if tok.Claims(k.Key) == nil {
			return true, true
		}
	}
	return found, false
}

// checkClaims checks aud, exp, nbf, iat and the presence of jti (RFC 7523,
// section 3; RFC 9126, section 2). It returns the expiry.
func (a *Authenticator) checkClaims(claims *jwt.Claims) (time.Time, *oauth.Error) {
	now, skew := a.now(), a.skew()
	if !a.Audience.accepts(claims.Audience) {
		return time.Time{}, oauth.ErrInvalidClient.WithDescription("client_assertion aud does not name this authorization server")
	}
	if claims.Expiry == nil {
		return time.Time{}, oauth.ErrInvalidClient.WithDescription("client_assertion has no exp")
	}
	exp := claims.Expiry.Time()
	if now.After(exp.Add(skew)) {
		return time.Time{}, oauth.ErrInvalidClient.WithDescription("client_assertion has expired")
	}
	if exp.After(now.Add(a.maxLifetime() + skew)) {
		return time.Time{}, oauth.ErrInvalidClient.WithDescription("client_assertion exp is too far in the future")
	}
	if claims.NotBefore != nil && claims.NotBefore.Time().After(now.Add(skew)) {
		return time.Time{}, oauth.ErrInvalidClient.WithDescription("client_assertion is not valid yet (nbf)")
	}
	if claims.IssuedAt != nil && claims.IssuedAt.Time().After(now.Add(skew)) {
		return time.Time{}, oauth.ErrInvalidClient.WithDescription("client_assertion iat is in the future")
	}
	if claims.ID == "" {
		return time.Time{}, oauth.ErrInvalidClient.WithDescription("client_assertion has no jti")
	}
	return exp, nil
}

// recordJTI marks the assertion's jti as used until it can no longer be
// accepted (RFC 7523, section 3, item 7). A store that cannot answer stops
// the request: an assertion is never accepted unchecked.
func (a *Authenticator) recordJTI(ctx context.Context, clientID, jti string, exp time.Time) *oauth.Error {
	if a.Replay == nil {
		return oauth.ErrTemporarilyUnavailable.WithDescription("client assertion replay check unavailable, try again later").
			WithCause(errors.New("no replay store configured"))
	}
	ttl := exp.Add(a.skew()).Sub(a.now())
	if ttl < time.Second {
		ttl = time.Second
	}
	mark := store.Entry{Key: JTIKey(clientID, jti), Value: []byte{1}, TTL: ttl}
	if d, ok := ctx.Value(deferredKey{}).(*deferredMark); ok {
		d.mark = &mark
		return nil
	}
	stored, err := a.Replay.PutIfAbsent(ctx, mark.Key, mark.Value, mark.TTL)
	if err != nil {
		return oauth.ErrTemporarilyUnavailable.WithDescription("client assertion replay check unavailable, try again later").WithCause(err)
	}
	if !stored {
		return ErrAssertionReplayed
	}
	return nil
}

// ErrAssertionReplayed answers a private_key_jwt assertion whose jti was
// already used (RFC 7523, section 3, item 7).
var ErrAssertionReplayed = oauth.ErrInvalidClient.WithDescription("client_assertion jti has already been used")

// JTIKey is the store key of the replay mark of clientID's assertion jti.
// Its hash tag is derived from the same secret (store.Tag): the PAR
// endpoint stores the pushed request under that tag, so that on Redis
// Cluster the mark and the request are written by one script.
func JTIKey(clientID, jti string) string {
	secret := clientID + "\x00" + jti
	return store.KeyIn(store.Tag(secret), store.NSJTI, secret)
}

// deferredKey carries a *deferredMark in the context of
// AuthenticateDeferringReplay.
type deferredKey struct{}

type deferredMark struct{ mark *store.Entry }

// AuthenticateDeferringReplay is Authenticate, except that the replay mark
// of a private_key_jwt assertion is not written: it is returned (nil for
// other methods), and the caller must write it with store.PutIfAbsentThen
// together with what the request stores, before it answers, and answer
// ErrAssertionReplayed when the mark exists. That saves the PAR endpoint a
// round trip to the store; the assertion is still never accepted
// unchecked.
func (a *Authenticator) AuthenticateDeferringReplay(ctx context.Context, authorization string, form url.Values) (*Client, Method, *store.Entry, error) {
	d := &deferredMark{}
	c, method, err := a.Authenticate(context.WithValue(ctx, deferredKey{}, d), authorization, form)
	if err != nil {
		return nil, method, nil, err
	}
	return c, method, d.mark, nil
}

func (a *Authenticator) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *Authenticator) skew() time.Duration {
	if a.ClockSkew > 0 {
		return a.ClockSkew
	}
	return DefaultClockSkew
}

func (a *Authenticator) maxLifetime() time.Duration {
	if a.MaxAssertionLifetime > 0 {
		return a.MaxAssertionLifetime
	}
	return DefaultMaxAssertionLifetime
}
