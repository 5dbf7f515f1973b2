package par

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/parjarm/parjarm/authreq"
	"github.com/parjarm/parjarm/client"
	"github.com/parjarm/parjarm/oauth"
)

// requestObject is a verified request object (RFC 9101): its claims as
// authorization parameters, and what the replay check needs.
type requestObject struct {
	params url.Values
	jti    string
	exp    time.Time
	// alg is the verified signature's algorithm: asymmetric, or HS256,
	// HS384, HS512 for a client that registered it (policies such as FAPI
	// refuse HMAC).
	alg jose.SignatureAlgorithm
	// encrypted reports whether the request object came encrypted to the
	// gateway (a nested JWT, RFC 9101 section 6.1).
	encrypted bool
	// nbf is zero when the request object has none. The FAPI profiles
	// check it and alg (profile.CheckPush).
	nbf time.Time
}

// claimRules are the checks a request object's claims must pass.
type claimRules struct {
	issuer    string // the aud that must be present
	clientID  string // the authenticated client
	now       time.Time
	maxAge    time.Duration
	skew      time.Duration
	maxParams int
}

// jwtClaims are the JWT claims of a request object that are not
// authorization parameters (RFC 9101, section 4; RFC 7519, section 4.1).
var jwtClaims = []string{"iss", "aud", "exp", "nbf", "iat", "jti"}

// verifyRequestObject verifies the `request` parameter of a push (RFC 9126,
// section 3; RFC 9101) and returns its claims as authorization parameters.
// An encrypted request object is decrypted first and must hold a signed
// one: signing stays required (RFC 9101, section 6.1). Every failure is
// invalid_request_object.
func (s *Service) verifyRequestObject(ctx context.Context, raw string, c *client.Client) (*requestObject, error) {
	signed, encrypted := raw, isJWE(raw)
	if encrypted {
		plain, err := s.decryptRequestObject(raw, c)
		if err != nil {
			return nil, err
		}
		signed = plain
	}
	algs := requestObjectAlgorithms(s.algs, c.RequestObjectSigningAlg)
	tok, err := parseRequestObject(signed, algs)
	if err != nil {
		return nil, err
	}
	alg := jose.SignatureAlgorithm(tok.Signatures[0].Header.Algorithm)
	var payload []byte
	if client.IsHMAC(string(alg)) {
		payload, err = verifyHMAC(tok, c)
	} else {
		payload, err = s.verifyWithClientKeys(ctx, tok, c)
	}
	if err != nil {
		return nil, err
	}
	claims, err := decodeClaims(payload)
	if err != nil {
		return nil, err
	}
	ro, err := checkClaims(claims, claimRules{
		issuer:    s.opts.Issuer,
		clientID:  c.ID,
		now:       s.Now(),
		maxAge:    s.opts.RequestObjectMaxAge,
		skew:      s.opts.ClockSkew,
		maxParams: s.opts.MaxParams,
	})
	if err != nil {
		return nil, err
	}
	ro.alg, ro.encrypted = alg, encrypted
	return ro, nil
}

// isJWE reports whether raw has the five parts of a JWE in compact
// serialisation (RFC 7516, section 3.1) rather than the three of a JWS.
func isJWE(raw string) bool { return strings.Count(raw, ".") == 4 }

// verifyHMAC verifies an HMAC request object (RFC 9101, section 4; RFC 7518,
// section 3.2). The key is the client's client_secret and nothing else:
// never a key of its key set, so that a public key known to anyone cannot
// serve as the MAC key, and only for a client whose registered
// request_object_signing_alg is this algorithm (the registry requires a
// plain secret at least as long as the hash for it). go-jose compares the
// MAC in constant time (symmetricMac.verifyPayload in go-jose v4's
// symmetric.go: subtle.ConstantTimeCompare, as hmac.Equal does) and refuses
// a key shorter than the hash output.
func verifyHMAC(tok *jose.JSONWebSignature, c *client.Client) ([]byte, error) {
	alg := tok.Signatures[0].Header.Algorithm
	if !c.HMACRequestObjects() || alg != c.RequestObjectSigningAlg || c.Secret == "" {
		return nil, oauth.ErrInvalidRequestObject.WithDescription("the client does not sign request objects with %s", alg)
	}
	payload, err := tok.Verify([]byte(c.Secret))
	if err != nil {
		return nil, oauth.ErrInvalidRequestObject.WithDescription("request object signature is invalid").WithCause(err)
	}
	return payload, nil
}

// encryptionAlgorithms returns the JWE alg and enc values an encrypted
// request object of c may use: the algorithms of the gateway's decryption
// keys and the supported content encryptions, each narrowed to the client's
// request_object_encryption_alg and _enc (or its A128CBC-HS256 default)
// when it registered them (OpenID Connect Dynamic Client Registration 1.0,
// section 2).
func encryptionAlgorithms(have []jose.KeyAlgorithm, c *client.Client) ([]jose.KeyAlgorithm, []jose.ContentEncryption) {
	algs := have
	if a := jose.KeyAlgorithm(c.RequestObjectEncryptionAlg); a != "" {
		algs = nil
		if slices.Contains(have, a) {
			algs = []jose.KeyAlgorithm{a}
		}
	}
	encs := client.RequestObjectEncryptionEncs
	if e := jose.ContentEncryption(c.RequestObjectEnc()); e != "" {
		encs = nil
		if slices.Contains(client.RequestObjectEncryptionEncs, e) {
			encs = []jose.ContentEncryption{e}
		}
	}
	return algs, encs
}

// decryptRequestObject decrypts an encrypted request object: a JWE in
// compact serialisation whose payload is the signed request object, a
// nested JWT (RFC 9101, section 6.1; RFC 7519, section 5.2). Only the
// gateway's decryption keys decrypt, with an alg and an enc both the
// gateway and the client allow. It returns the payload, which must have
// the form of a JWS; the caller verifies it.
func (s *Service) decryptRequestObject(raw string, c *client.Client) (string, error) {
	invalid := oauth.ErrInvalidRequestObject.WithDescription
	var have []jose.KeyAlgorithm
	if s.opts.Decrypter != nil {
		have = s.opts.Decrypter.EncryptionAlgorithms()
	}
	if len(have) == 0 {
		return "", invalid("encrypted request objects are not accepted: the gateway has no decryption key")
	}
	algs, encs := encryptionAlgorithms(have, c)
	if len(algs) == 0 || len(encs) == 0 {
		return "", invalid("no request object encryption algorithm is acceptable for the client")
	}
	jwe, err := jose.ParseEncryptedCompact(raw, algs, encs)
	if err != nil {
		return "", invalid("request object is not a JWE with an accepted alg and enc").WithCause(err)
	}
	// RFC 7519, section 5.2: a nested JWT's cty is "JWT". The payload is
	// parsed as a signed JWT whatever it says, so an absent cty is allowed.
	if cty, ok := jwe.Header.ExtraHeaders[jose.HeaderContentType]; ok && !contentTypeJWT(cty) {
		return "", invalid("encrypted request object cty must be JWT (RFC 7519, section 5.2)")
	}
	plain, err := s.opts.Decrypter.Decrypt(jwe)
	if err != nil {
		return "", invalid("request object cannot be decrypted with the gateway's keys").WithCause(err)
	}
	if !compactJWS(plain) {
		return "", invalid("an encrypted request object must contain a signed JWT (RFC 9101, section 6.1)")
	}
	return string(plain), nil
}

// compactJWS reports whether b has the form of a JWS in compact
// serialisation: three base64url parts (RFC 7515, section 7.1).
func compactJWS(b []byte) bool {
	dots := 0
	for _, c := range b {
		switch {
		case c == '.':
			dots++
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return dots == 2
}

// contentTypeJWT reports whether a JWE cty names a JWT, with or without the
// "application/" prefix and in any case (RFC 7515, section 4.1.10).
func contentTypeJWT(cty any) bool {
	s, ok := cty.(string)
	return ok && strings.TrimPrefix(strings.ToLower(s), "application/") == "jwt"
}

// invalidator is implemented by a KeySource that caches jwks_uri
// documents (*client.KeyFetcher) and can be asked to refetch one.
type invalidator interface {
	Invalidate(uri string)
}

// verifyWithClientKeys verifies tok with c's keys. When its kid names none
// of the keys of a jwks_uri, the cached set is invalidated and the check
// retried once: the client may have rotated its keys.
func (s *Service) verifyWithClientKeys(ctx context.Context, tok *jose.JSONWebSignature, c *client.Client) ([]byte, error) {
	for attempt := 0; ; attempt++ {
		set, err := s.keys.KeySet(ctx, c)
		if err != nil || set == nil {
			return nil, oauth.ErrInvalidRequestObject.WithDescription("the client's keys are not available").WithCause(err)
		}
		payload, found, err := verifySignature(tok, set)
		if err == nil || found || attempt > 0 || c.JWKSURI == "" {
			return payload, err
		}
		inv, ok := s.keys.(invalidator)
		if !ok {
			return nil, err
		}
		inv.Invalidate(c.JWKSURI)
	}
}

// requestObjectAlgorithms is the gateway's allow-list, narrowed to the
// client's request_object_signing_alg when it registered one (RFC 9101,
// section 10.2; OpenID Connect Dynamic Client Registration, section 2).
func requestObjectAlgorithms(allowed []jose.SignatureAlgorithm, clientAlg string) []jose.SignatureAlgorithm {
	if clientAlg == "" {
		return allowed
	}
	// RFC 9101, section 4 (the client_secret as MAC key): only for a client
	// that registered this algorithm, never from the gateway-wide list.
	if client.IsHMAC(clientAlg) {
		return []jose.SignatureAlgorithm{jose.SignatureAlgorithm(clientAlg)}
	}
	if slices.Contains(allowed, jose.SignatureAlgorithm(clientAlg)) {
		return []jose.SignatureAlgorithm{jose.SignatureAlgorithm(clientAlg)}
	}
	return nil
}

// parseRequestObject parses a signed request object in compact
// serialisation with an algorithm from algs, and checks its typ. Unsigned
// (alg "none") request objects are refused, and so is a JWE here: an
// encrypted request object is decrypted before, once, and holds a signed
// one. It is what jwt.ParseSigned does, keeping the JWS so that
// verification returns the payload's bytes.
func parseRequestObject(raw string, algs []jose.SignatureAlgorithm) (*jose.JSONWebSignature, error) {
	if len(algs) == 0 {
		return nil, oauth.ErrInvalidRequestObject.WithDescription("no request object signing algorithm is acceptable for the client")
	}
	if isJWE(raw) {
		return nil, oauth.ErrInvalidRequestObject.WithDescription("request object must be a signed JWT, not an encrypted one")
	}
	tok, err := jose.ParseSignedCompact(raw, algs)
	if err != nil {
		return nil, oauth.ErrInvalidRequestObject.WithDescription("request object is not a JWT signed with an accepted algorithm").WithCause(err)
	}
	if len(tok.Signatures) != 1 {
		return nil, oauth.ErrInvalidRequestObject.WithDescription("request object must have one signature")
	}
	if typ, ok := tok.Signatures[0].Header.ExtraHeaders[jose.HeaderType]; ok && !requestObjectType(typ) {
		return nil, oauth.ErrInvalidRequestObject.WithDescription("request object typ must be oauth-authz-req+jwt or JWT")
	}
	return tok, nil
}

// requestObjectType accepts the typ values of RFC 9101, section 10.8
// (oauth-authz-req+jwt) and plain JWT, with or without the "application/"
// prefix and in any case (RFC 7515, section 4.1.9).
func requestObjectType(typ any) bool {
	s, ok := typ.(string)
	if !ok {
		return false
	}
	s = strings.ToLower(s)
	s = strings.TrimPrefix(s, "application/")
	return s == "oauth-authz-req+jwt" || s == "jwt"
}

// verifySignature verifies tok with the client's public signing keys: the
// key named by kid, or, without kid, any key that fits the algorithm.
// Symmetric keys and keys for encryption are never used; neither is a key
// carried in the JWS header. found reports whether a key fitting the header
// was there at all.
func verifySignature(tok *jose.JSONWebSignature, set *jose.JSONWebKeySet) (payload []byte, found bool, err error) {
	h := tok.Signatures[0].Header
	candidates := set.Keys
	if h.KeyID != "" {
		candidates = set.Key(h.KeyID)
	}
	for _, k := range candidates {
		if (k.Use != "" && k.Use != "sig") || (k.Algorithm != "" && k.Algorithm != h.Algorithm) {
			continue
		}
		pub := k.Public()
		if !pub.Valid() {
			continue
		}
		found = true
		if payload, err := tok.Verify(pub); err == nil {
			return payload, true, nil
		}
	}
	if !found {
		if h.KeyID != "" {
			return nil, false, oauth.ErrInvalidRequestObject.WithDescription("request object kid matches none of the client's signing keys")
		}
		return nil, false, oauth.ErrInvalidRequestObject.WithDescription("the client has no key for request object algorithm %s", h.Algorithm)
	}
	return nil, true, oauth.ErrInvalidRequestObject.WithDescription("request object signature is invalid")
}

// decodeClaims decodes a JSON object, keeping numbers as written.
func decodeClaims(payload []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var claims map[string]any
	if err := dec.Decode(&claims); err != nil || claims == nil {
		return nil, oauth.ErrInvalidRequestObject.WithDescription("request object claims must be a JSON object").WithCause(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, oauth.ErrInvalidRequestObject.WithDescription("request object claims must be a JSON object")
	}
	return claims, nil
}

// checkClaims applies RFC 9101 and RFC 9126, section 3 to a request
// object's claims and returns its authorization parameters.
func checkClaims(claims map[string]any, r claimRules) (*requestObject, error) {
	invalid := oauth.ErrInvalidRequestObject.WithDescription
	// RFC 9126, section 3; RFC 9101, section 6.3: no request within a request.
	if _, ok := claims[paramRequestURI]; ok {
		return nil, invalid("request_uri is not allowed in a request object")
	}
	if _, ok := claims[paramRequest]; ok {
		return nil, invalid("request is not allowed in a request object")
	}
	// RFC 9101, section 10.2 (FAPI 1 Advanced, 5.2.2-9): iss is the client.
	if iss, _ := claims["iss"].(string); iss != r.clientID {
		return nil, invalid("request object iss must be the client_id")
	}
	// RFC 9101, section 10.2: aud is the authorization server's issuer. The
	// PAR endpoint URL is not accepted (conformance suite).
	if r.issuer == "" || !audienceContains(claims["aud"], r.issuer) {
		return nil, invalid("request object aud must be the issuer")
	}
	// RFC 9126, section 3: client_id is required and names the
	// authenticated client.
	if id, _ := claims[paramClientID].(string); id != r.clientID {
		return nil, invalid("request object client_id must be the authenticated client")
	}
	exp, ok := numericDate(claims["exp"])
	if !ok {
		return nil, invalid("request object exp is missing or malformed")
	}
	if r.now.After(exp.Add(r.skew)) {
		return nil, invalid("request object has expired")
	}
	start := r.now
	var nbf time.Time
	if v, present := claims["nbf"]; present {
		var ok bool
		if nbf, ok = numericDate(v); !ok {
			return nil, invalid("request object nbf is malformed")
		}
		if nbf.After(r.now.Add(r.skew)) {
			return nil, invalid("request object is not valid yet (nbf)")
		}
		// FAPI 1 Advanced, 5.2.2-17: nbf no longer than 60 minutes in the past.
		if nbf.Before(r.now.Add(-r.maxAge)) {
			return nil, invalid("request object is too old (nbf)")
		}
		start = nbf
	}
	// FAPI 1 Advanced, 5.2.2-13: exp no more than 60 minutes after nbf.
	if exp.Sub(start) > r.maxAge {
		return nil, invalid("request object lifetime is too long (exp)")
	}
	if v, present := claims["iat"]; present {
		iat, ok := numericDate(v)
		if !ok || iat.After(r.now.Add(r.skew)) {
			return nil, invalid("request object iat is malformed or in the future")
		}
	}
	ro := &requestObject{exp: exp, nbf: nbf}
	if v, present := claims["jti"]; present {
		jti, ok := v.(string)
		if !ok || jti == "" {
			return nil, invalid("request object jti must be a non-empty string")
		}
		ro.jti = jti
	}
	params, err := claimsToParams(claims, r.maxParams)
	if err != nil {
		return nil, err
	}
	ro.params = params
	return ro, nil
}

// claimsToParams turns a request object's claims into authorization
// parameters (RFC 9101, section 4): JWT claims are dropped, strings kept as
// they are, numbers written without exponent, booleans as true/false, and
// objects and arrays (the OpenID Connect `claims` parameter) as compact
// JSON. Null and empty strings count as omitted (RFC 6749, section 3.1).
func claimsToParams(claims map[string]any, maxParams int) (url.Values, error) {
	params := make(url.Values, len(claims))
	var names authreq.Names
	for name, v := range claims {
		if slices.Contains(jwtClaims, name) {
			continue
		}
		if name == "" {
			return nil, oauth.ErrInvalidRequestObject.WithDescription("request object has a claim without a name")
		}
		// The claims go upstream as parameters at expansion: a spelling
		// the gateway does not read as the parameter (Response_Mode) must
		// not reach it.
		if err := names.Add(name); err != nil {
			return nil, oauth.ErrInvalidRequestObject.WithDescription("request object claim: %s", oauth.From(err).Description)
		}
		value, err := claimString(v)
		if err != nil {
			return nil, oauth.ErrInvalidRequestObject.WithDescription("request object claim %q cannot be used as a parameter", authreq.Truncate(name)).WithCause(err)
		}
		if value == "" {
			continue
		}
		if len(params) == maxParams {
			return nil, oauth.ErrInvalidRequestObject.WithDescription("too many parameters in the request object (at most %d)", maxParams)
		}
		params.Set(name, value)
	}
	return params, nil
}

// claimString renders one claim value as a parameter value.
func claimString(v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case bool:
		return strconv.FormatBool(v), nil
	case json.Number:
		return formatNumber(v)
	default:
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return "", err
		}
		return strings.TrimSuffix(buf.String(), "\n"), nil
	}
}

// formatNumber writes a JSON number without exponent: integers exactly as
// written, other numbers in the shortest decimal form.
func formatNumber(n json.Number) (string, error) {
	s := n.String()
	if !strings.ContainsAny(s, ".eE") {
		return s, nil
	}
	f, err := n.Float64()
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return "", fmt.Errorf("number %q out of range", authreq.Truncate(s))
	}
	return strconv.FormatFloat(f, 'f', -1, 64), nil
}

// maxNumericDate bounds NumericDate values (seconds since the epoch) to
// years representable without overflow; anything beyond is malformed.
const maxNumericDate = 1 << 40

// numericDate reads a NumericDate (RFC 7519, section 2).
func numericDate(v any) (time.Time, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return time.Time{}, false
	}
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || f > maxNumericDate || f < -maxNumericDate {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true
}

// audienceContains reports whether aud (a string or an array of strings,
// RFC 7519 section 4.1.3) contains want exactly.
func audienceContains(aud any, want string) bool {
	switch aud := aud.(type) {
	case string:
		return aud == want
	case []any:
		for _, a := range aud {
			if s, ok := a.(string); ok && s == want {
				return true
			}
		}
	}
	return false
}

// Metadata returns the request object members of the authorization server
// metadata (RFC 8414, section 2; OpenID Connect Discovery 1.0, section 3),
// for the proxy to merge into the discovery document:
// request_object_encryption_alg_values_supported and
// request_object_encryption_enc_values_supported when the gateway holds
// decryption keys, nothing otherwise.
func (s *Service) Metadata() map[string]any {
	if s.opts.Decrypter == nil {
		return nil
	}
	algs := s.opts.Decrypter.EncryptionAlgorithms()
	if len(algs) == 0 {
		return nil
	}
	names := make([]string, len(algs))
	for i, a := range algs {
		names[i] = string(a)
	}
	encs := make([]string, len(client.RequestObjectEncryptionEncs))
	for i, e := range client.RequestObjectEncryptionEncs {
		encs[i] = string(e)
	}
	return map[string]any{
		"request_object_encryption_alg_values_supported": names,
		"request_object_encryption_enc_values_supported": encs,
	}
}
