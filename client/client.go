// Package client holds the client registry (RFC 7591 client metadata, loaded
// from a JSON file), the clients' keys (inline jwks or a fetched jwks_uri),
// and client authentication as a token endpoint does it.
package client

import (
	"crypto/sha256"
	"encoding/json"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/parjarm/parjarm/profile"
)

// Token endpoint authentication methods (RFC 7591, section 2).
const (
	AuthSecretBasic   = "client_secret_basic"
	AuthSecretPost    = "client_secret_post"
	AuthPrivateKeyJWT = "private_key_jwt"
	AuthNone          = "none"
)

// Client is one registered client. JSON names follow RFC 7591 client
// metadata, plus parjarm's own par_lifetime, require_pkce and
// client_secret_hash.
type Client struct {
	// ID is the client_id.
	ID string `json:"client_id"`
	// Secret is the client_secret, for client_secret_basic/post and for
	// HS256-signed JARM responses.
	Secret string `json:"client_secret,omitempty"`
	// SecretHash is "sha256:" + hex(SHA-256(secret)): the registry may hold
	// it instead of the secret.
	SecretHash string `json:"client_secret_hash,omitempty"`
	// TokenEndpointAuthMethod is how the client authenticates at the PAR
	// endpoint. Default client_secret_basic (RFC 7591, section 2).
	TokenEndpointAuthMethod string `json:"token_endpoint_auth_method,omitempty"`
	// TokenEndpointAuthSigningAlg restricts the private_key_jwt assertion's
	// algorithm.
	TokenEndpointAuthSigningAlg string `json:"token_endpoint_auth_signing_alg,omitempty"`
	// TLSClientAuthSubjectDN, TLSClientAuthSANDNS, TLSClientAuthSANURI,
	// TLSClientAuthSANIP and TLSClientAuthSANEmail name the certificate of
	// a tls_client_auth client: exactly one is set (RFC 8705, section
	// 2.1.2). The DN is an RFC 4514 string.
	TLSClientAuthSubjectDN string `json:"tls_client_auth_subject_dn,omitempty"`
	TLSClientAuthSANDNS    string `json:"tls_client_auth_san_dns,omitempty"`
	TLSClientAuthSANURI    string `json:"tls_client_auth_san_uri,omitempty"`
	TLSClientAuthSANIP     string `json:"tls_client_auth_san_ip,omitempty"`
	TLSClientAuthSANEmail  string `json:"tls_client_auth_san_email,omitempty"`
	// RedirectURIs are the registered redirect URIs, matched exactly.
	RedirectURIs []string `json:"redirect_uris"`
	// ResponseTypes, if set, limits the response types the client may use
	// (RFC 7591, section 2): a push with another is refused with
	// unauthorized_client (RFC 6749, section 4.1.2.1).
	ResponseTypes []string `json:"response_types,omitempty"`
	// GrantTypes, if set, are the grant types the client may use (RFC 7591,
	// section 2). The gateway checks them against the response types at
	// start-up (OpenID Connect Dynamic Client Registration 1.0, section 2).
	GrantTypes []string `json:"grant_types,omitempty"`
	// ApplicationType, if set, is "web" or "native" (OpenID Connect Dynamic
	// Client Registration 1.0, section 2); it constrains redirect_uris.
	ApplicationType string `json:"application_type,omitempty"`
	// JWKS is the client's public key set, inline.
	JWKS *jose.JSONWebKeySet `json:"jwks,omitempty"`
	// JWKSURI is where the client's public key set is fetched from.
	JWKSURI string `json:"jwks_uri,omitempty"`
	// RequirePAR (require_pushed_authorization_requests, RFC 9126 section 6)
	// refuses authorization requests that do not use a pushed request_uri.
	RequirePAR bool `json:"require_pushed_authorization_requests,omitempty"`
	// RequireSignedRequestObject (RFC 9101, section 10.5) refuses pushes
	// without a signed `request` parameter.
	RequireSignedRequestObject bool `json:"require_signed_request_object,omitempty"`
	// RequestObjectSigningAlg, if set, is the only algorithm accepted for the
	// client's request objects. HS256, HS384 and HS512 (verified with the
	// plain client_secret) are accepted only when registered here.
	RequestObjectSigningAlg string `json:"request_object_signing_alg,omitempty"`
	// RequestObjectEncryptionAlg, if set, is the only JWE key management
	// algorithm accepted for the client's encrypted request objects (OpenID
	// Connect Dynamic Client Registration 1.0, section 2).
	RequestObjectEncryptionAlg string `json:"request_object_encryption_alg,omitempty"`
	// RequestObjectEncryptionEnc, if set, is the only JWE content encryption
	// algorithm accepted for them; with only RequestObjectEncryptionAlg set
	// it is A128CBC-HS256 (same section).
	RequestObjectEncryptionEnc string `json:"request_object_encryption_enc,omitempty"`
	// AuthorizationSignedResponseAlg is the JARM signing algorithm (JARM
	// section 3). Empty means the gateway's default.
	AuthorizationSignedResponseAlg string `json:"authorization_signed_response_alg,omitempty"`
	// AuthorizationEncryptedResponseAlg is the JARM key management algorithm;
	// empty means the response is only signed.
	AuthorizationEncryptedResponseAlg string `json:"authorization_encrypted_response_alg,omitempty"`
	// AuthorizationEncryptedResponseEnc is the JARM content encryption
	// algorithm; default A128CBC-HS256 when an alg is set.
	AuthorizationEncryptedResponseEnc string `json:"authorization_encrypted_response_enc,omitempty"`
	// PARLifetime is the client's request_uri lifetime in seconds (parjarm
	// extension). Zero means the gateway default; at most 600.
	PARLifetime int `json:"par_lifetime,omitempty"`
	// RequirePKCE forces PKCE with S256 (parjarm extension). PKCE is always
	// required for public clients (token_endpoint_auth_method "none").
	RequirePKCE bool `json:"require_pkce,omitempty"`
	// Profile (fapi_profile, parjarm extension) is the FAPI profile the
	// client is held to; empty means the gateway's PARJARM_PROFILE.
	Profile profile.Name `json:"fapi_profile,omitempty"`

	// secretDigest is SHA-256 of the client's secret, from Secret or
	// SecretHash. NewRegistry sets it; authentication compares digests so
	// that a plain and a hashed secret take the same constant-time path.
	secretDigest [sha256.Size]byte
	// hasSecret reports whether secretDigest is set.
	hasSecret bool
	// extra holds the registered metadata the gateway keeps but does not act
	// on (client_name, contacts, registration_access_token, …), by name,
	// as raw JSON. It may hold secrets: never log it.
	extra map[string]json.RawMessage
}

// Public reports whether the client is a public client (no authentication).
func (c *Client) Public() bool { return c.TokenEndpointAuthMethod == AuthNone }

// Lifetime returns the client's request_uri lifetime, or def when the client
// sets none.
func (c *Client) Lifetime(def time.Duration) time.Duration {
	if c.PARLifetime > 0 {
		return time.Duration(c.PARLifetime) * time.Second
	}
	return def
}

// HasRedirectURI reports whether uri is registered for the client, by exact
// string comparison (RFC 9126 section 2.1; RFC 6749 section 3.1.2.3).
func (c *Client) HasRedirectURI(uri string) bool {
	for _, u := range c.RedirectURIs {
		if u == uri {
			return true
		}
	}
	return false
}

// RequestObjectEncryptionAlgs are the JWE key management algorithms of
// encrypted request objects (RFC 9101, section 6.1; RFC 7518, sections 4.3
// and 4.6): what the gateway's decryption keys may be for and what a client
// may register as request_object_encryption_alg.
var RequestObjectEncryptionAlgs = []jose.KeyAlgorithm{jose.RSA_OAEP_256, jose.ECDH_ES, jose.ECDH_ES_A128KW, jose.ECDH_ES_A256KW}

// RequestObjectEncryptionEncs are the JWE content encryption algorithms of
// encrypted request objects (RFC 7518, sections 5.2 and 5.3).
var RequestObjectEncryptionEncs = []jose.ContentEncryption{jose.A128GCM, jose.A256GCM, jose.A128CBC_HS256}

// HMACRequestObjects reports whether the client's request objects are
// signed with its client_secret: it registered request_object_signing_alg
// HS256, HS384 or HS512 (RFC 9101, section 4; RFC 7518, section 3.2).
func (c *Client) HMACRequestObjects() bool {
	return IsHMAC(c.RequestObjectSigningAlg)
}

// IsHMAC reports whether alg is one of the JWS HMAC algorithms (RFC 7518,
// section 3.2).
func IsHMAC(alg string) bool {
	switch jose.SignatureAlgorithm(alg) {
	case jose.HS256, jose.HS384, jose.HS512:
		return true
	}
	return false
}

// RequestObjectEnc returns the content encryption algorithm the client's
// encrypted request objects must use: request_object_encryption_enc, or
// A128CBC-HS256 when only request_object_encryption_alg is set (OpenID
// Connect Dynamic Client Registration 1.0, section 2). "" means any of
// RequestObjectEncryptionEncs.
func (c *Client) RequestObjectEnc() string {
	if c.RequestObjectEncryptionEnc != "" {
		return c.RequestObjectEncryptionEnc
	}
	if c.RequestObjectEncryptionAlg != "" {
		return DefaultEncryptedResponseEnc
	}
	return ""
}

// DefaultEncryptedResponseEnc is the JARM content encryption algorithm used
// when a client registers authorization_encrypted_response_alg without
// authorization_encrypted_response_enc (JARM, section 3).
const DefaultEncryptedResponseEnc = "A128CBC-HS256"

// EncryptedResponseEnc returns the client's JARM content encryption
// algorithm: authorization_encrypted_response_enc, or A128CBC-HS256 when only
// authorization_encrypted_response_alg is set (JARM, section 3). It returns
// "" for a client whose responses are not encrypted.
func (c *Client) EncryptedResponseEnc() string {
	if c.AuthorizationEncryptedResponseEnc != "" {
		return c.AuthorizationEncryptedResponseEnc
	}
	if c.AuthorizationEncryptedResponseAlg != "" {
		return DefaultEncryptedResponseEnc
	}
	return ""
}
