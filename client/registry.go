package client

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"

	"github.com/go-jose/go-jose/v4"
)

// Registry is the set of registered clients, indexed by client_id. It is
// immutable once built, so it is safe for concurrent use; reloading means
// building a new Registry.
type Registry struct {
	clients    map[string]*Client
	requirePAR bool
	// selfSigned holds the SHA-256 of the certificates that
	// self_signed_tls_client_auth clients registered inline (the first x5c
	// of a jwks key).
	selfSigned map[[32]byte]bool
}

// Algorithm sets the registry accepts.
var (
	// signedResponseAlgs are the JARM signing algorithms a client may
	// register (JARM, section 3). "none" is never accepted.
	signedResponseAlgs = []string{"RS256", "PS256", "ES256", "ES384", "EdDSA", "HS256"}
	// encryptedResponseAlgs are the JARM key management algorithms.
	encryptedResponseAlgs = []string{"RSA-OAEP-256", "RSA-OAEP", "ECDH-ES", "ECDH-ES+A128KW", "ECDH-ES+A256KW"}
	// encryptedResponseEncs are the JARM content encryption algorithms.
	encryptedResponseEncs = []string{"A128CBC-HS256", "A256CBC-HS512", "A128GCM", "A256GCM"}
	// asymmetricSigningAlgs are the algorithms a client may register for its
	// request objects and client assertions: asymmetric only, never none.
	asymmetricSigningAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)

// PAR lifetime bounds in seconds: expires_in at least 5 s and at most 600 s
// (RFC 9126, section 2.2; parjarm's ceiling).
const (
	minPARLifetime = 5
	maxPARLifetime = 600
)

// secretHashPrefix starts every client_secret_hash.
const secretHashPrefix = "sha256:"

// Parse reads a registry from its JSON form, {"clients": [ … ]} or a bare
// array [ … ] of clients, with RFC 7591 client metadata names. Every
// registered name is accepted (those the gateway does not act on are kept
// and ignored); unknown names are refused. Every client is validated, and
// every problem found is returned at once (errors.Join), each naming the
// client and the field.
func Parse(data []byte) (*Registry, error) {
	trimmed := bytes.TrimSpace(data)
	var file struct {
		Clients []json.RawMessage `json:"clients"`
	}
	var target any
	switch {
	case len(trimmed) > 0 && trimmed[0] == '{':
		target = &file
	case len(trimmed) > 0 && trimmed[0] == '[':
		target = &file.Clients
	default:
		return nil, errors.New(`client registry: want a JSON object {"clients": [...]} or an array [...] of clients`)
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(target); err != nil {
		return nil, fmt.Errorf("client registry: %s", jsonProblem(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("client registry: unexpected data after the JSON value")
	}

	var errs []error
	clients := make([]*Client, 0, len(file.Clients))
	for i, raw := range file.Clients {
		c, cerrs := parseClient(raw, labelRaw(raw, i))
		if len(cerrs) > 0 {
			errs = append(errs, cerrs...)
			continue
		}
		clients = append(clients, c)
	}
	r, err := NewRegistry(clients...)
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return r, nil
}

// Load reads and parses the registry file at path. Its errors name the path.
func Load(path string) (*Registry, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("client registry %s: %w", path, err)
	}
	r, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("client registry %s: %w", path, err)
	}
	return r, nil
}

// NewRegistry validates clients and builds a registry of copies of them, with
// defaults filled in (token_endpoint_auth_method client_secret_basic, RFC 7591
// section 2). The caller's values are not modified. Every problem found is
// returned at once (errors.Join), each naming the client and the field.
func NewRegistry(clients ...*Client) (*Registry, error) {
	r := &Registry{clients: make(map[string]*Client, len(clients))}
	first := make(map[string]int, len(clients))
	var errs []error
	for i, in := range clients {
		if in == nil {
			errs = append(errs, fmt.Errorf("client #%d: is nil", i+1))
			continue
		}
		c := *in
		c.RedirectURIs = slices.Clone(in.RedirectURIs)
		c.ResponseTypes = slices.Clone(in.ResponseTypes)
		c.GrantTypes = slices.Clone(in.GrantTypes)
		c.extra = maps.Clone(in.extra)
		if c.TokenEndpointAuthMethod == "" {
			c.TokenEndpointAuthMethod = AuthSecretBasic
		}
		p := problems{label: label(c.ID, i)}
		validate(&c, &p)
		if c.ID != "" {
			if j, dup := first[c.ID]; dup {
				p.add("client_id", "duplicate: client #%d has the same client_id", j+1)
			} else {
				first[c.ID] = i
			}
		}
		if len(p.errs) > 0 {
			errs = append(errs, p.errs...)
			continue
		}
		c.secretDigest, c.hasSecret = secretDigest(&c)
		r.clients[c.ID] = &c
		r.requirePAR = r.requirePAR || c.RequirePAR
		r.addSelfSigned(&c)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return r, nil
}

// Lookup returns the client registered as id.
func (r *Registry) Lookup(id string) (*Client, bool) {
	c, ok := r.clients[id]
	return c, ok
}

// RequiresPAR reports whether any registered client requires pushed
// authorization requests: then a request whose client the gateway cannot
// read (an encrypted request object, a request_uri by reference) may be
// such a client's.
func (r *Registry) RequiresPAR() bool { return r.requirePAR }

// Len returns the number of registered clients.
func (r *Registry) Len() int { return len(r.clients) }

// parseClient decodes one client. Each member is sorted by name: a field
// of Client (the metadata the gateway acts on), a registered name it keeps
// and ignores (type-checked, in Client.extra), or an unknown name, refused
// with the closest accepted name. Names are case sensitive (RFC 7591,
// section 4.1.1). jwks is decoded apart, through go-jose, so that its
// errors name the field. Every error starts with lbl.
func parseClient(raw json.RawMessage, lbl string) (*Client, []error) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil {
		return nil, []error{fmt.Errorf("%s: %s", lbl, jsonProblem(err))}
	}
	acted := make(map[string]json.RawMessage, len(members))
	var extra map[string]json.RawMessage
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(members)) {
		v := members[name]
		if actedMetadata[name] {
			acted[name] = v
			continue
		}
		k, ok := keptKind(name)
		if !ok {
			errs = append(errs, fmt.Errorf("%s: %s", lbl, unknownField(name)))
			continue
		}
		if msg := checkKind(v, k); msg != "" {
			errs = append(errs, fmt.Errorf("%s: %s: %s", lbl, name, msg))
			continue
		}
		if extra == nil {
			extra = make(map[string]json.RawMessage)
		}
		extra[name] = slices.Clone(v)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	body, err := json.Marshal(acted)
	if err != nil {
		return nil, []error{fmt.Errorf("%s: %v", lbl, err)}
	}
	var in struct {
		Client
		// JWKS shadows Client.JWKS: the key set is parsed on its own.
		JWKS json.RawMessage `json:"jwks,omitempty"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return nil, []error{fmt.Errorf("%s: %s", lbl, jsonProblem(err))}
	}
	c := in.Client
	if len(in.JWKS) > 0 && string(in.JWKS) != "null" {
		var set jose.JSONWebKeySet
		if err := json.Unmarshal(in.JWKS, &set); err != nil {
			return nil, []error{fmt.Errorf("%s: jwks: not a JWK set (RFC 7517, section 5): %v", lbl, err)}
		}
		c.JWKS = &set
	}
	c.extra = extra
	return &c, nil
}

// jsonProblem describes a decoding error without Go type names.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		// The embedded Client shows in the path of a client's fields.
		if field := strings.TrimPrefix(te.Field, "Client."); field != "" {
			return fmt.Sprintf("%s: a JSON %s is not allowed here (want %s)", field, te.Value, jsonKind(te.Type.String()))
		}
		return fmt.Sprintf("a JSON %s is not allowed here (want %s)", te.Value, jsonKind(te.Type.String()))
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

// jsonKind names a Go type the way a registry author thinks of it.
func jsonKind(goType string) string {
	switch {
	case goType == "string":
		return "a string"
	case goType == "bool":
		return "true or false"
	case goType == "int":
		return "an integer"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	default:
		return "an object"
	}
}

// labelRaw names a client that failed to decode, by its client_id if that
// much can be read.
func labelRaw(raw json.RawMessage, i int) string {
	// A map, not a struct: member names match exactly (RFC 7591, section
	// 4.1.1), as parseClient reads them.
	var members map[string]json.RawMessage
	var id string
	if json.Unmarshal(raw, &members) == nil {
		_ = json.Unmarshal(members["client_id"], &id)
	}
	return label(id, i)
}

// label names a client in messages: by client_id, or by position when the
// client_id is missing.
func label(id string, i int) string {
	if id == "" {
		return fmt.Sprintf("client #%d", i+1)
	}
	return fmt.Sprintf("client %q", id)
}

// problems collects a client's validation errors.
type problems struct {
	label string
	errs  []error
}

func (p *problems) add(field, format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("%s: %s: %s", p.label, field, fmt.Sprintf(format, args...)))
}

// validate checks one client's metadata. c has its defaults filled in.
func validate(c *Client, p *problems) {
	if c.ID == "" {
		p.add("client_id", "is required")
	}
	validateAuth(c, p)
	validateMTLS(c, p)
	validateKeys(c, p)
	validateRedirectURIs(c, p)
	validateGrantTypes(c, p)
	validateApplicationType(c, p)
	if c.PARLifetime != 0 && (c.PARLifetime < minPARLifetime || c.PARLifetime > maxPARLifetime) {
		p.add("par_lifetime", "%d is out of range: 0 (the gateway default) or %d to %d seconds (RFC 9126, section 2.2)",
			c.PARLifetime, minPARLifetime, maxPARLifetime)
	}
	validateJARM(c, p)
	validateRequestObject(c, p)
	validateProfile(c, p)
	if alg := c.TokenEndpointAuthSigningAlg; alg != "" && !slices.Contains(asymmetricSigningAlgs, alg) {
		p.add("token_endpoint_auth_signing_alg", "%q is not allowed: use one of %s (asymmetric only; never none)", alg, strings.Join(asymmetricSigningAlgs, ", "))
	}
}

// hmacKeyBytes is the shortest client_secret each HMAC algorithm accepts:
// the hash output's size (RFC 7518, section 3.2).
var hmacKeyBytes = map[string]int{"HS256": 32, "HS384": 48, "HS512": 64}

// validateRequestObject checks the request object metadata (OpenID Connect
// Dynamic Client Registration 1.0, section 2; RFC 9101). Signing stays
// required: "none" is never accepted, encrypted or not.
func validateRequestObject(c *Client, p *problems) {
	switch alg := c.RequestObjectSigningAlg; {
	case alg == "" || slices.Contains(asymmetricSigningAlgs, alg):
	case IsHMAC(alg):
		// The HMAC key is the client_secret itself (RFC 9101, section 4):
		// a client_secret_hash cannot verify anything.
		switch {
		case c.Secret == "" && c.SecretHash != "":
			p.add("request_object_signing_alg", "%s needs a plain client_secret to verify with (a client_secret_hash cannot verify)", alg)
		case c.Secret == "":
			p.add("request_object_signing_alg", "%s needs the client's client_secret", alg)
		case len(c.Secret) < hmacKeyBytes[alg]:
			p.add("request_object_signing_alg", "%s needs a client_secret of at least %d bytes (RFC 7518, section 3.2)", alg, hmacKeyBytes[alg])
		}
	default:
		p.add("request_object_signing_alg", "%q is not allowed: use one of %s, or HS256, HS384, HS512 with the client_secret (never none)", alg, strings.Join(asymmetricSigningAlgs, ", "))
	}
	alg, enc := c.RequestObjectEncryptionAlg, c.RequestObjectEncryptionEnc
	if enc != "" && alg == "" {
		p.add("request_object_encryption_enc", "is set without request_object_encryption_alg (OpenID Connect Dynamic Client Registration 1.0, section 2)")
	}
	if alg != "" && !slices.Contains(RequestObjectEncryptionAlgs, jose.KeyAlgorithm(alg)) {
		p.add("request_object_encryption_alg", "%q is not supported: use one of %s", alg, joinNames(RequestObjectEncryptionAlgs))
	}
	if enc != "" && !slices.Contains(RequestObjectEncryptionEncs, jose.ContentEncryption(enc)) {
		p.add("request_object_encryption_enc", "%q is not supported: use one of %s", enc, joinNames(RequestObjectEncryptionEncs))
	}
}

// joinNames lists algorithm names, comma-separated.
func joinNames[T ~string](names []T) string {
	s := make([]string, len(names))
	for i, n := range names {
		s[i] = string(n)
	}
	return strings.Join(s, ", ")
}

// validateAuth checks the token endpoint authentication method and the
// secret (RFC 7591, section 2; RFC 6749, section 2.3.1).
func validateAuth(c *Client, p *problems) {
	hasSecret, hasHash := c.Secret != "", c.SecretHash != ""
	if hasHash && !validSecretHash(c.SecretHash) {
		p.add("client_secret_hash", `must be "sha256:" followed by 64 hex digits`)
	}
	switch c.TokenEndpointAuthMethod {
	case AuthSecretBasic, AuthSecretPost:
		switch {
		case !hasSecret && !hasHash:
			p.add("client_secret", "%s needs client_secret or client_secret_hash", c.TokenEndpointAuthMethod)
		case hasSecret && hasHash:
			p.add("client_secret_hash", "set client_secret or client_secret_hash, not both")
		}
	case AuthPrivateKeyJWT:
		if c.JWKS == nil && c.JWKSURI == "" {
			p.add("jwks", "private_key_jwt needs jwks or jwks_uri (RFC 7523, section 2.2)")
		}
		if hasSecret && hasHash {
			p.add("client_secret_hash", "set client_secret or client_secret_hash, not both")
		}
	case AuthTLSClient, AuthSelfSignedTLSClient:
		// RFC 8705: the certificate authenticates; a secret may be kept for
		// HS256-signed JARM responses.
		if hasSecret && hasHash {
			p.add("client_secret_hash", "set client_secret or client_secret_hash, not both")
		}
	case AuthNone:
		if hasSecret {
			p.add("client_secret", "a public client (token_endpoint_auth_method none) must have no secret")
		}
		if hasHash {
			p.add("client_secret_hash", "a public client (token_endpoint_auth_method none) must have no secret")
		}
	default:
		p.add("token_endpoint_auth_method", "%q is not supported: use %s, %s, %s, %s, %s or %s",
			c.TokenEndpointAuthMethod, AuthSecretBasic, AuthSecretPost, AuthPrivateKeyJWT, AuthTLSClient, AuthSelfSignedTLSClient, AuthNone)
	}
}

// validSecretHash reports whether h is "sha256:" + 64 hex digits.
func validSecretHash(h string) bool {
	hexPart, ok := strings.CutPrefix(h, secretHashPrefix)
	if !ok || len(hexPart) != 2*sha256.Size {
		return false
	}
	_, err := hex.DecodeString(hexPart)
	return err == nil
}

// secretDigest returns SHA-256 of the client's secret, from the secret or
// its registered hash.
func secretDigest(c *Client) ([sha256.Size]byte, bool) {
	var d [sha256.Size]byte
	switch {
	case c.Secret != "":
		return sha256.Sum256([]byte(c.Secret)), true
	case c.SecretHash != "":
		b, err := hex.DecodeString(strings.TrimPrefix(c.SecretHash, secretHashPrefix))
		if err != nil || len(b) != sha256.Size {
			return d, false
		}
		copy(d[:], b)
		return d, true
	}
	return d, false
}

// validateKeys checks jwks and jwks_uri (RFC 7591, section 2).
func validateKeys(c *Client, p *problems) {
	if c.JWKS != nil && c.JWKSURI != "" {
		p.add("jwks_uri", "set jwks or jwks_uri, not both (RFC 7591, section 2)")
	}
	if c.JWKS != nil {
		for i := range c.JWKS.Keys {
			k := &c.JWKS.Keys[i]
			name := fmt.Sprintf("key #%d", i+1)
			if k.KeyID != "" {
				name = fmt.Sprintf("key %q", k.KeyID)
			}
			_, symmetric := k.Key.([]byte)
			switch {
			case symmetric:
				p.add("jwks", "%s is a symmetric key, not a public key: a shared secret must never be in a key set", name)
			case !k.Valid():
				p.add("jwks", "%s is not a valid key", name)
			case !k.IsPublic():
				p.add("jwks", "%s is not a public key: a private or symmetric key must never be in the registry; publish only the public part", name)
			}
		}
	}
	if c.JWKSURI != "" {
		if msg := checkJWKSURI(c.JWKSURI); msg != "" {
			p.add("jwks_uri", "%q %s", c.JWKSURI, msg)
		}
	}
}

// checkJWKSURI returns why uri cannot be a jwks_uri, or "". It must be an
// absolute https URL; http is allowed for loopback hosts only, for tests.
func checkJWKSURI(uri string) string {
	u, err := url.Parse(uri)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return "is not an absolute URL"
	}
	switch {
	case u.Scheme == "https":
		return ""
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return ""
	}
	return "must use https (http only for 127.0.0.1, localhost or [::1])"
}

// isLoopback reports whether host is a loopback name or address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// validateRedirectURIs checks redirect_uris (RFC 6749, section 3.1.2).
func validateRedirectURIs(c *Client, p *problems) {
	if len(c.RedirectURIs) == 0 {
		p.add("redirect_uris", "at least one redirect URI is required (RFC 9126, section 2.1)")
	}
	for _, uri := range c.RedirectURIs {
		u, err := url.Parse(uri)
		switch {
		case err != nil || !u.IsAbs():
			p.add("redirect_uris", "%q is not an absolute URI (RFC 6749 section 3.1.2)", uri)
		case u.Fragment != "" || strings.Contains(uri, "#"):
			p.add("redirect_uris", "%q has a fragment (RFC 6749 section 3.1.2)", uri)
		case (u.Scheme == "http" || u.Scheme == "https") && u.Host == "":
			p.add("redirect_uris", "%q has no host (RFC 6749 section 3.1.2)", uri)
		default:
			validateRedirectQuery(uri, u.RawQuery, p)
		}
	}
}

// responseParamNames are authorization response parameters: a redirect
// URI's own query must not use them, or a response could not be told from
// the URI (RFC 6749, section 3.1.2; JARM section 2.3.1).
var responseParamNames = []string{"state", "code", "response", "iss", "error", "error_description", "error_uri",
	"access_token", "token_type", "expires_in", "id_token", "scope", "session_state"}

// validateRedirectQuery refuses a redirect URI query that does not parse
// strictly (a `;` separator, a bad escape) or that uses a response
// parameter's name.
func validateRedirectQuery(uri, raw string, p *problems) {
	if raw == "" {
		return
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		p.add("redirect_uris", "%q has a query that does not parse (use & between parameters and valid %%-escapes)", uri)
		return
	}
	for _, name := range responseParamNames {
		if q.Has(name) {
			p.add("redirect_uris", "%q uses the response parameter %q in its query", uri, name)
		}
	}
}

// validateJARM checks the JARM response algorithms (JARM, section 3).
func validateJARM(c *Client, p *problems) {
	switch alg := c.AuthorizationSignedResponseAlg; {
	case alg == "":
	case alg == "none":
		p.add("authorization_signed_response_alg", `"none" is refused: JARM responses are always signed (JARM, section 2.2)`)
	case !slices.Contains(signedResponseAlgs, alg):
		p.add("authorization_signed_response_alg", "%q is not supported: use one of %s", alg, strings.Join(signedResponseAlgs, ", "))
	case alg == "HS256" && c.Secret == "":
		p.add("authorization_signed_response_alg", "HS256 needs a plain client_secret to sign with (a client_secret_hash cannot sign)")
	}

	alg, enc := c.AuthorizationEncryptedResponseAlg, c.AuthorizationEncryptedResponseEnc
	if enc != "" && alg == "" {
		p.add("authorization_encrypted_response_enc", "is set without authorization_encrypted_response_alg (JARM, section 3)")
	}
	if alg != "" && !slices.Contains(encryptedResponseAlgs, alg) {
		p.add("authorization_encrypted_response_alg", "%q is not supported: use one of %s", alg, strings.Join(encryptedResponseAlgs, ", "))
	}
	if enc != "" && !slices.Contains(encryptedResponseEncs, enc) {
		p.add("authorization_encrypted_response_enc", "%q is not supported: use one of %s", enc, strings.Join(encryptedResponseEncs, ", "))
	}
	if alg != "" && c.JWKS == nil && c.JWKSURI == "" {
		p.add("authorization_encrypted_response_alg", "encryption needs the client's public key: set jwks or jwks_uri")
	}
}
