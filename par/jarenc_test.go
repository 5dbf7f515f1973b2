package par

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/parjarm/parjarm/client"
	"github.com/parjarm/parjarm/jarm"
)

// The gateway's keys file as an operator writes it: jarm.KeySet is what
// main passes as Options.Decrypter.
var _ Decrypter = (*jarm.KeySet)(nil)

// hmacSecret is the client_secret of the HMAC clients: 40 bytes, enough for
// HS256 (RFC 7518, section 3.2).
const hmacSecret = "hmac-client-secret-of-forty-bytes-000000"

// gatewayKeys are the gateway's keys file: one signing key and two
// decryption keys (use enc), RSA-OAEP-256 with kid enc-rsa and
// ECDH-ES+A128KW with kid enc-ec, generated once.
type gatewayKeys struct {
	set     *jarm.KeySet
	rsa     *rsa.PrivateKey
	ec      *ecdsa.PrivateKey
	ecPlain *ecdsa.PrivateKey // ECDH-ES (direct), kid enc-direct
}

var loadGatewayKeys = sync.OnceValues(func() (*gatewayKeys, error) {
	sig, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	g := &gatewayKeys{}
	if g.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		return nil, err
	}
	if g.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return nil, err
	}
	if g.ecPlain, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader); err != nil {
		return nil, err
	}
	file, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: sig, KeyID: "sig", Algorithm: "ES256", Use: "sig"},
		{Key: g.rsa, KeyID: "enc-rsa", Algorithm: "RSA-OAEP-256", Use: "enc"},
		{Key: g.ec, KeyID: "enc-ec", Algorithm: "ECDH-ES+A128KW", Use: "enc"},
		{Key: g.ecPlain, KeyID: "enc-direct", Algorithm: "ECDH-ES", Use: "enc"},
	}})
	if err != nil {
		return nil, err
	}
	g.set, err = jarm.ParseKeys(file)
	return g, err
})

func testGatewayKeys(t testing.TB) *gatewayKeys {
	t.Helper()
	g, err := loadGatewayKeys()
	if err != nil {
		t.Fatalf("gateway keys: %v", err)
	}
	return g
}

// newJAREnv is newEnv with the gateway's decryption keys and, next to the
// usual clients, those of these tests:
//   - hmac: request_object_signing_alg HS256 with a plain client_secret,
//     and conf's public key in its jwks (the key an attacker would try as
//     the HMAC secret);
//   - encgcm: request_object_encryption_alg ECDH-ES, _enc A256GCM;
//   - encdefault: request_object_encryption_alg ECDH-ES only (enc
//     A128CBC-HS256 by default).
func newJAREnv(t testing.TB, changes ...func(*envConfig)) (*env, *gatewayKeys) {
	t.Helper()
	g := testGatewayKeys(t)
	e := newEnv(t, append([]func(*envConfig){withOptions(func(o *Options) { o.Decrypter = g.set })}, changes...)...)
	jwks := &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{e.key.Public()}}
	clients := append(testClients(e.key),
		&client.Client{ID: "hmac", Secret: hmacSecret, RedirectURIs: []string{testRedirectURI}, JWKS: jwks, RequestObjectSigningAlg: "HS256"},
		&client.Client{ID: "encgcm", Secret: "encgcm-secret", RedirectURIs: []string{testRedirectURI}, JWKS: jwks,
			RequestObjectEncryptionAlg: "ECDH-ES", RequestObjectEncryptionEnc: "A256GCM"},
		&client.Client{ID: "encdefault", Secret: "encdefault-secret", RedirectURIs: []string{testRedirectURI}, JWKS: jwks,
			RequestObjectEncryptionAlg: "ECDH-ES"},
	)
	reg := mustRegistry(t, clients...)
	e.reg.p.Store(reg)
	e.svc.auth = &client.Authenticator{Registry: reg, Keys: e.svc.keys, Replay: e.store, Now: e.clock.Now}
	return e, g
}

// secretOf returns the client_secret of the clients the JAR tests push as.
func secretOf(clientID string) string {
	switch clientID {
	case "hmac":
		return hmacSecret
	case "encgcm", "encdefault":
		return clientID + "-secret"
	}
	return testSecret
}

// hmacKey is a symmetric JWK for signing with secret.
func hmacKey(secret []byte) *jose.JSONWebKey { return &jose.JSONWebKey{Key: secret} }

// encryptRequestObject encrypts payload to the public key to with alg and
// enc; a non-nil cty is set as the JWE cty header.
func encryptRequestObject(t testing.TB, payload string, to jose.JSONWebKey, alg jose.KeyAlgorithm, enc jose.ContentEncryption, cty any) string {
	t.Helper()
	opts := &jose.EncrypterOptions{}
	if cty != nil {
		opts.WithHeader(jose.HeaderContentType, cty)
	}
	e, err := jose.NewEncrypter(enc, jose.Recipient{Algorithm: alg, Key: &to}, opts)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := e.Encrypt([]byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// toRSA, toEC and toDirect are the gateway's public decryption keys, with
// their kids, as a client reads them from the published key set.
func (g *gatewayKeys) toRSA() jose.JSONWebKey {
	return jose.JSONWebKey{Key: &g.rsa.PublicKey, KeyID: "enc-rsa"}
}
func (g *gatewayKeys) toEC() jose.JSONWebKey {
	return jose.JSONWebKey{Key: &g.ec.PublicKey, KeyID: "enc-ec"}
}
func (g *gatewayKeys) toDirect() jose.JSONWebKey {
	return jose.JSONWebKey{Key: &g.ecPlain.PublicKey, KeyID: "enc-direct"}
}

// replacePart replaces part i of a compact serialisation with change's
// result on its decoded bytes.
func replacePart(t testing.TB, compact string, i int, change func([]byte) []byte) string {
	t.Helper()
	parts := strings.Split(compact, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		t.Fatal(err)
	}
	parts[i] = base64.RawURLEncoding.EncodeToString(change(b))
	return strings.Join(parts, ".")
}

func flipFirstByte(b []byte) []byte {
	b = slices.Clone(b)
	b[0] ^= 1
	return b
}

func TestPushHMACAndEncryptedRequestObjectsAccepted(t *testing.T) {
	tests := []struct {
		name          string
		client        string
		raw           func(t *testing.T, e *env, g *gatewayKeys, claims map[string]any) string
		wantAlg       jose.SignatureAlgorithm
		wantEncrypted bool
	}{
		{name: "an HS256 request object signed with the client's secret", client: "hmac", wantAlg: jose.HS256,
			raw: func(t *testing.T, _ *env, _ *gatewayKeys, c map[string]any) string {
				return signRequestObject(t, hmacKey([]byte(hmacSecret)), jose.HS256, "oauth-authz-req+jwt", c)
			}},
		{name: "an ES256 request object encrypted with RSA-OAEP-256 and A128GCM", client: "conf", wantAlg: jose.ES256, wantEncrypted: true,
			raw: func(t *testing.T, e *env, g *gatewayKeys, c map[string]any) string {
				return encryptRequestObject(t, signRequestObject(t, e.key, jose.ES256, "oauth-authz-req+jwt", c), g.toRSA(), jose.RSA_OAEP_256, jose.A128GCM, "JWT")
			}},
		{name: "a request object encrypted with ECDH-ES+A128KW and A128CBC-HS256 without cty", client: "conf", wantAlg: jose.ES256, wantEncrypted: true,
			raw: func(t *testing.T, e *env, g *gatewayKeys, c map[string]any) string {
				return encryptRequestObject(t, signRequestObject(t, e.key, jose.ES256, "oauth-authz-req+jwt", c), g.toEC(), jose.ECDH_ES_A128KW, jose.A128CBC_HS256, nil)
			}},
		{name: "a request object encrypted without kid, found by its alg", client: "conf", wantAlg: jose.ES256, wantEncrypted: true,
			raw: func(t *testing.T, e *env, g *gatewayKeys, c map[string]any) string {
				to := g.toEC()
				to.KeyID = ""
				return encryptRequestObject(t, signRequestObject(t, e.key, jose.ES256, "oauth-authz-req+jwt", c), to, jose.ECDH_ES_A128KW, jose.A256GCM, "jwt")
			}},
		{name: "an HS256 request object encrypted to the gateway", client: "hmac", wantAlg: jose.HS256, wantEncrypted: true,
			raw: func(t *testing.T, _ *env, g *gatewayKeys, c map[string]any) string {
				signed := signRequestObject(t, hmacKey([]byte(hmacSecret)), jose.HS256, "oauth-authz-req+jwt", c)
				return encryptRequestObject(t, signed, g.toRSA(), jose.RSA_OAEP_256, jose.A256GCM, "application/JWT")
			}},
		{name: "the client's registered alg and enc", client: "encgcm", wantAlg: jose.ES256, wantEncrypted: true,
			raw: func(t *testing.T, e *env, g *gatewayKeys, c map[string]any) string {
				return encryptRequestObject(t, signRequestObject(t, e.key, jose.ES256, "oauth-authz-req+jwt", c), g.toDirect(), jose.ECDH_ES, jose.A256GCM, "JWT")
			}},
		{name: "the client's registered alg with the default enc A128CBC-HS256", client: "encdefault", wantAlg: jose.ES256, wantEncrypted: true,
			raw: func(t *testing.T, e *env, g *gatewayKeys, c map[string]any) string {
				return encryptRequestObject(t, signRequestObject(t, e.key, jose.ES256, "oauth-authz-req+jwt", c), g.toDirect(), jose.ECDH_ES, jose.A128CBC_HS256, "JWT")
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, g := newJAREnv(t)
			claims := roClaims(tt.client, e.clock.Now())
			claims["state"] = "state-" + tt.client
			raw := tt.raw(t, e, g, claims)

			c, _ := e.reg.Lookup(tt.client)
			ro, err := e.svc.verifyRequestObject(context.Background(), raw, c)
			if err != nil {
				t.Fatalf("verifyRequestObject: %v", err)
			}
			if ro.alg != tt.wantAlg || ro.encrypted != tt.wantEncrypted {
				t.Errorf("verified alg %s, encrypted %v; want %s, %v", ro.alg, ro.encrypted, tt.wantAlg, tt.wantEncrypted)
			}

			w := e.post(form("client_id", tt.client, "request", raw, "state", "from-the-form"), basic(tt.client, secretOf(tt.client)))
			rec := e.stored(t, pushed(t, w).RequestURI)
			if got := rec.Params.Get("state"); got != "state-"+tt.client {
				t.Errorf("stored state = %q, want the request object's", got)
			}
			if got := rec.Params.Get("nonce"); got != "n-0S6_WzA2Mj" {
				t.Errorf("stored nonce = %q, want the request object's", got)
			}
			if !rec.Signed {
				t.Error("the push is not stored as signed")
			}
		})
	}
}

func TestPushHMACAndEncryptedRequestObjectsRefused(t *testing.T) {
	otherRSA, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	es256 := func(t *testing.T, e *env, c map[string]any) string {
		return signRequestObject(t, e.key, jose.ES256, "oauth-authz-req+jwt", c)
	}
	tests := []struct {
		name   string
		client string
		reason string // a part of the error_description
		env    []func(*envConfig)
		raw    func(t *testing.T, e *env, g *gatewayKeys, claims map[string]any) string
	}{
		{name: "an HS256 request object signed with a wrong secret", client: "hmac", reason: "signature is invalid",
			raw: func(t *testing.T, _ *env, _ *gatewayKeys, c map[string]any) string {
				return signRequestObject(t, hmacKey([]byte(strings.Replace(hmacSecret, "h", "H", 1))), jose.HS256, "oauth-authz-req+jwt", c)
			}},
		{name: "an HS256 request object with the client's public JWK as HMAC key", client: "hmac", reason: "signature is invalid",
			raw: func(t *testing.T, e *env, _ *gatewayKeys, c map[string]any) string {
				pub := e.key.Public()
				b, err := json.Marshal(pub)
				if err != nil {
					t.Fatal(err)
				}
				return signRequestObject(t, hmacKey(b), jose.HS256, "oauth-authz-req+jwt", c)
			}},
		{name: "an HS256 request object with the client's public key (DER) as HMAC key", client: "hmac", reason: "signature is invalid",
			raw: func(t *testing.T, e *env, _ *gatewayKeys, c map[string]any) string {
				der, err := x509.MarshalPKIXPublicKey(e.key.Public().Key)
				if err != nil {
					t.Fatal(err)
				}
				return signRequestObject(t, hmacKey(der), jose.HS256, "oauth-authz-req+jwt", c)
			}},
		{name: "an HS256 request object with the public key as HMAC key for an asymmetric client", client: "conf", reason: "accepted algorithm",
			raw: func(t *testing.T, e *env, _ *gatewayKeys, c map[string]any) string {
				b, err := json.Marshal(e.key.Public())
				if err != nil {
					t.Fatal(err)
				}
				return signRequestObject(t, hmacKey(b), jose.HS256, "oauth-authz-req+jwt", c)
			}},
		{name: "an HS256 request object from a client that does not allow HMAC", client: "conf", reason: "accepted algorithm",
			raw: func(t *testing.T, _ *env, _ *gatewayKeys, c map[string]any) string {
				return signRequestObject(t, hmacKey([]byte(testSecret+testSecret+testSecret)), jose.HS256, "oauth-authz-req+jwt", c)
			}},
		{name: "an HS384 request object from a client registered for HS256", client: "hmac", reason: "accepted algorithm",
			raw: func(t *testing.T, _ *env, _ *gatewayKeys, c map[string]any) string {
				return signRequestObject(t, hmacKey([]byte(hmacSecret+hmacSecret)), jose.HS384, "oauth-authz-req+jwt", c)
			}},
		{name: "an ES256 request object from a client registered for HS256", client: "hmac", reason: "accepted algorithm",
			raw: func(t *testing.T, e *env, _ *gatewayKeys, c map[string]any) string { return es256(t, e, c) }},
		{name: "a request object encrypted to a key the gateway does not have", client: "conf", reason: "cannot be decrypted",
			raw: func(t *testing.T, e *env, _ *gatewayKeys, c map[string]any) string {
				return encryptRequestObject(t, es256(t, e, c), jose.JSONWebKey{Key: &otherRSA.PublicKey, KeyID: "unknown"}, jose.RSA_OAEP_256, jose.A128GCM, "JWT")
			}},
		{name: "a request object encrypted to another key under the gateway's kid", client: "conf", reason: "cannot be decrypted",
			raw: func(t *testing.T, e *env, _ *gatewayKeys, c map[string]any) string {
				return encryptRequestObject(t, es256(t, e, c), jose.JSONWebKey{Key: &otherRSA.PublicKey, KeyID: "enc-rsa"}, jose.RSA_OAEP_256, jose.A128GCM, "JWT")
			}},
		{name: "a request object encrypted to the gateway's signing key's kid", client: "conf", reason: "cannot be decrypted",
			raw: func(t *testing.T, e *env, g *gatewayKeys, c map[string]any) string {
				to := g.toDirect()
				to.KeyID = "sig"
				return encryptRequestObject(t, es256(t, e, c), to, jose.ECDH_ES, jose.A128GCM, "JWT")
			}},
		{name: "a request object encrypted with RSA-OAEP (SHA-1)", client: "conf", reason: "accepted alg and enc",
			raw: func(t *testing.T, e *env, g *gatewayKeys, c map[string]any) string {
				return encryptRequestObject(t, es256(t, e, c), g.toRSA(), jose.RSA_OAEP, jose.A128GCM, "JWT")
			}},
		{name: "a request object encrypted with RSA1_5", client: "conf", reason: "accepted alg and enc",
			raw: func(t *testing.T, e *env, g *gatewayKeys, c map[string]any) string {
				return encryptRequestObject(t, es256(t, e, c), g.toRSA(), jose.RSA1_5, jose.A128GCM, "JWT")
			}},
		{name: "a request object encrypted with enc A192GCM", client: "conf", reason: "accepted alg and enc",
			raw: func(t *testing.T, e *env, g *gatewayKeys, c map[string]any) string {
				return encryptRequestObject(t, es256(t, e, c), g.toRSA(), jose.RSA_OAEP_256, jose.A192GCM, "JWT")
			}},
		{name: "an alg other than the client's request_object_encryption_alg", client: "encgcm", reason: "accepted alg and enc",
			raw: func(t *testing.T, e *env, g *gatewayKeys, c map[string]any) string {
				return encryptRequestObject(t, es256(t, e, c), g.toRSA(), jose.RSA_OAEP_256, jose.A256GCM, "JWT")
			}},
		{name: "an enc other than the client's request_object_encryption_enc", client: "encgcm", reason: "accepted alg and enc",
			raw: func(t *testing.T, e *env, g *gatewayKeys, c map[string]any) string {
				return encryptRequestObject(t, es256(t, e, c), g.toDirect(), jose.ECDH_ES, jose.A128GCM, "JWT")
			}},
		{name: "an enc other than the A128CBC-HS256 default of a client registering only an alg", client: "encdefault", reason: "accepted alg and enc",
			raw: func(t *testing.T, e *env, g *gatewayKeys, c map[string]any) string {
				return encryptRequestObject(t, es256(t, e, c), g.toDirect(), jose.ECDH_ES, jose.A256GCM, "JWT")
			}},
		{name: "a JWE holding an unsigned request object (alg none)", client: "conf", reason: "accepted algorithm",
			raw: func(t *testing.T, _ *env, g *gatewayKeys, c map[string]any) string {
				return encryptRequestObject(t, unsignedJWT(c), g.toRSA(), jose.RSA_OAEP_256, jose.A128GCM, "JWT")
			}},
		{name: "a JWE holding the claims as plain JSON", client: "conf", reason: "must contain a signed JWT",
			raw: func(t *testing.T, _ *env, g *gatewayKeys, c map[string]any) string {
				b, err := json.Marshal(c)
				if err != nil {
					t.Fatal(err)
				}
				return encryptRequestObject(t, string(b), g.toRSA(), jose.RSA_OAEP_256, jose.A128GCM, nil)
			}},
		{name: "a JWE holding another JWE", client: "conf", reason: "must contain a signed JWT",
			raw: func(t *testing.T, e *env, g *gatewayKeys, c map[string]any) string {
				inner := encryptRequestObject(t, es256(t, e, c), g.toRSA(), jose.RSA_OAEP_256, jose.A128GCM, "JWT")
				return encryptRequestObject(t, inner, g.toRSA(), jose.RSA_OAEP_256, jose.A128GCM, "JWT")
			}},
		{name: "a JWE holding a request object signed by another key", client: "conf", reason: "signature is invalid",
			raw: func(t *testing.T, _ *env, g *gatewayKeys, c map[string]any) string {
				return encryptRequestObject(t, signRequestObject(t, testKey(t, "k1"), jose.ES256, "oauth-authz-req+jwt", c), g.toRSA(), jose.RSA_OAEP_256, jose.A128GCM, "JWT")
			}},
		{name: "a JWE whose ciphertext is tampered with", client: "conf", reason: "cannot be decrypted",
			raw: func(t *testing.T, e *env, g *gatewayKeys, c map[string]any) string {
				return replacePart(t, encryptRequestObject(t, es256(t, e, c), g.toRSA(), jose.RSA_OAEP_256, jose.A128GCM, "JWT"), 3, flipFirstByte)
			}},
		{name: "a JWE whose CBC ciphertext is tampered with", client: "conf", reason: "cannot be decrypted",
			raw: func(t *testing.T, e *env, g *gatewayKeys, c map[string]any) string {
				return replacePart(t, encryptRequestObject(t, es256(t, e, c), g.toEC(), jose.ECDH_ES_A128KW, jose.A128CBC_HS256, "JWT"), 3, flipFirstByte)
			}},
		{name: "a JWE whose authentication tag is tampered with", client: "conf", reason: "cannot be decrypted",
			raw: func(t *testing.T, e *env, g *gatewayKeys, c map[string]any) string {
				return replacePart(t, encryptRequestObject(t, es256(t, e, c), g.toRSA(), jose.RSA_OAEP_256, jose.A128GCM, "JWT"), 4, flipFirstByte)
			}},
		{name: "a JWE whose protected header is changed", client: "conf", reason: "cannot be decrypted",
			raw: func(t *testing.T, e *env, g *gatewayKeys, c map[string]any) string {
				raw := encryptRequestObject(t, es256(t, e, c), g.toRSA(), jose.RSA_OAEP_256, jose.A128GCM, "JWT")
				return replacePart(t, raw, 0, func(b []byte) []byte { return []byte(strings.Replace(string(b), `"JWT"`, `"jwt"`, 1)) })
			}},
		{name: "a JWE whose encrypted key is tampered with", client: "conf", reason: "cannot be decrypted",
			raw: func(t *testing.T, e *env, g *gatewayKeys, c map[string]any) string {
				return replacePart(t, encryptRequestObject(t, es256(t, e, c), g.toRSA(), jose.RSA_OAEP_256, jose.A128GCM, "JWT"), 1, flipFirstByte)
			}},
		{name: "a JWE whose cty is not JWT", client: "conf", reason: "cty must be JWT",
			raw: func(t *testing.T, e *env, g *gatewayKeys, c map[string]any) string {
				return encryptRequestObject(t, es256(t, e, c), g.toRSA(), jose.RSA_OAEP_256, jose.A128GCM, "at+jwt")
			}},
		{name: "a JWE whose cty is not a string", client: "conf", reason: "cty must be JWT",
			raw: func(t *testing.T, e *env, g *gatewayKeys, c map[string]any) string {
				return encryptRequestObject(t, es256(t, e, c), g.toRSA(), jose.RSA_OAEP_256, jose.A128GCM, 7)
			}},
		{name: "a JWE when the gateway's key set has no decryption key", client: "conf", reason: "the gateway has no decryption key",
			env: []func(*envConfig){withOptions(func(o *Options) {
				ks, err := jarm.GenerateDevelopmentKeys()
				if err != nil {
					t.Fatal(err)
				}
				o.Decrypter = ks
			})},
			raw: func(t *testing.T, e *env, g *gatewayKeys, c map[string]any) string {
				return encryptRequestObject(t, es256(t, e, c), g.toRSA(), jose.RSA_OAEP_256, jose.A128GCM, "JWT")
			}},
		{name: "a client whose request_object_encryption_alg the gateway has no key for", client: "encgcm", reason: "no request object encryption algorithm is acceptable",
			env: []func(*envConfig){withOptions(func(o *Options) { o.Decrypter = onlyAlgs{jose.RSA_OAEP_256} })},
			raw: func(t *testing.T, e *env, g *gatewayKeys, c map[string]any) string {
				return encryptRequestObject(t, es256(t, e, c), g.toDirect(), jose.ECDH_ES, jose.A256GCM, "JWT")
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, g := newJAREnv(t, tt.env...)
			raw := tt.raw(t, e, g, roClaims(tt.client, e.clock.Now()))
			w := e.post(form("client_id", tt.client, "request", raw), basic(tt.client, secretOf(tt.client)))
			if desc := wantError(t, w, http.StatusBadRequest, "invalid_request_object"); !strings.Contains(desc, tt.reason) {
				t.Errorf("error_description %q does not say %q", desc, tt.reason)
			}
		})
	}
}

// onlyAlgs is a Decrypter that claims keys for some algorithms and
// decrypts nothing.
type onlyAlgs []jose.KeyAlgorithm

func (o onlyAlgs) EncryptionAlgorithms() []jose.KeyAlgorithm { return o }
func (onlyAlgs) Decrypt(*jose.JSONWebEncryption) ([]byte, error) {
	return nil, jarm.ErrNoDecryptionKey
}

func TestEncryptionAlgorithms(t *testing.T) {
	have := []jose.KeyAlgorithm{jose.RSA_OAEP_256, jose.ECDH_ES}
	tests := []struct {
		name     string
		client   client.Client
		wantAlgs []jose.KeyAlgorithm
		wantEncs []jose.ContentEncryption
	}{
		{name: "without metadata, the gateway's algorithms and every enc", wantAlgs: have, wantEncs: client.RequestObjectEncryptionEncs},
		{name: "a registered alg narrows to it, with the A128CBC-HS256 default", client: client.Client{RequestObjectEncryptionAlg: "ECDH-ES"},
			wantAlgs: []jose.KeyAlgorithm{jose.ECDH_ES}, wantEncs: []jose.ContentEncryption{jose.A128CBC_HS256}},
		{name: "a registered alg and enc narrow to them", client: client.Client{RequestObjectEncryptionAlg: "RSA-OAEP-256", RequestObjectEncryptionEnc: "A256GCM"},
			wantAlgs: []jose.KeyAlgorithm{jose.RSA_OAEP_256}, wantEncs: []jose.ContentEncryption{jose.A256GCM}},
		{name: "a registered alg the gateway has no key for leaves none", client: client.Client{RequestObjectEncryptionAlg: "ECDH-ES+A256KW"},
			wantAlgs: nil, wantEncs: []jose.ContentEncryption{jose.A128CBC_HS256}},
		{name: "an unsupported enc leaves none", client: client.Client{RequestObjectEncryptionAlg: "ECDH-ES", RequestObjectEncryptionEnc: "A192GCM"},
			wantAlgs: []jose.KeyAlgorithm{jose.ECDH_ES}, wantEncs: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			algs, encs := encryptionAlgorithms(have, &tt.client)
			if !slices.Equal(algs, tt.wantAlgs) || !slices.Equal(encs, tt.wantEncs) {
				t.Errorf("encryptionAlgorithms = %v, %v; want %v, %v", algs, encs, tt.wantAlgs, tt.wantEncs)
			}
		})
	}
}

func TestContentTypeJWT(t *testing.T) {
	for _, tt := range []struct {
		cty  any
		want bool
	}{
		{"JWT", true}, {"jwt", true}, {"application/jwt", true}, {"Application/JWT", true},
		{"oauth-authz-req+jwt", false}, {"application/json", false}, {"", false}, {7, false}, {nil, false},
	} {
		if got := contentTypeJWT(tt.cty); got != tt.want {
			t.Errorf("contentTypeJWT(%#v) = %v, want %v", tt.cty, got, tt.want)
		}
	}
}

func TestMetadataListsRequestObjectEncryption(t *testing.T) {
	e, _ := newJAREnv(t)
	got, err := json.Marshal(e.svc.Metadata())
	if err != nil {
		t.Fatal(err)
	}
	want := `{"request_object_encryption_alg_values_supported":["RSA-OAEP-256","ECDH-ES","ECDH-ES+A128KW"],` +
		`"request_object_encryption_enc_values_supported":["A128GCM","A256GCM","A128CBC-HS256"]}`
	if string(got) != want {
		t.Errorf("Metadata() = %s\nwant %s", got, want)
	}
	if m := newEnv(t).svc.Metadata(); m != nil {
		t.Errorf("Metadata() without decryption keys = %v, want nil", m)
	}
}

func TestCompactJWS(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want bool
	}{
		{"eyJh.eyJp.c2ln", true}, {"eyJh.eyJp.", true}, {"a.b.c.d.e", false}, {"a.b", false},
		{`{"aud":"https://as.example","redirect_uri":"https://rp.example/cb"}`, false}, {"a.b.c=", false}, {"a.b c.d", false}, {"", false},
	} {
		if got := compactJWS([]byte(tt.in)); got != tt.want {
			t.Errorf("compactJWS(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// FuzzEncryptedRequestObject: any JWE protected header (spliced into a real
// JWE to the gateway), any JWE string, and any plaintext properly encrypted
// to the gateway go through verification without panic; failures are
// always invalid_request_object, and what passes came encrypted, holds a
// signature by the client and names the client.
func FuzzEncryptedRequestObject(f *testing.F) {
	e, g := newJAREnv(f)
	c, _ := e.reg.Lookup("conf")
	signed := signRequestObject(f, e.key, jose.ES256, "oauth-authz-req+jwt", roClaims("conf", e.clock.Now()))
	valid := encryptRequestObject(f, signed, g.toEC(), jose.ECDH_ES_A128KW, jose.A128GCM, "JWT")
	header, err := base64.RawURLEncoding.DecodeString(strings.Split(valid, ".")[0])
	if err != nil {
		f.Fatal(err)
	}
	f.Add(header, valid, []byte(signed))
	f.Add([]byte(`{"alg":"RSA-OAEP-256","enc":"A128GCM","kid":"enc-rsa","cty":"JWT"}`), "eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d", []byte(unsignedJWT(roClaims("conf", e.clock.Now()))))
	f.Add([]byte(`{"alg":"ECDH-ES","enc":"A256GCM","epk":{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}}`), "....", []byte(`{"iss":"conf"}`))
	f.Add([]byte(`{"alg":"dir","enc":"A128GCM","zip":"DEF","crit":["exp"],"exp":1}`), valid[:len(valid)-4], []byte("a.b.c"))
	f.Add([]byte(`{"alg":"PBES2-HS256+A128KW","enc":"A128GCM","p2c":100000000}`), "x.y.z.w.v", []byte(valid))
	ctx := context.Background()
	check := func(t *testing.T, ro *requestObject, err error) {
		t.Helper()
		if err != nil {
			oe := asOAuth(err)
			if oe == nil || oe.Code != "invalid_request_object" || oe.Status != http.StatusBadRequest {
				t.Fatalf("error %v, want invalid_request_object (400)", err)
			}
			return
		}
		if ro.params.Get("client_id") != "conf" || ro.alg != jose.ES256 {
			t.Fatalf("accepted params %v, alg %s", ro.params, ro.alg)
		}
	}
	parts := strings.Split(valid, ".")
	f.Fuzz(func(t *testing.T, header []byte, raw string, plaintext []byte) {
		spliced := base64.RawURLEncoding.EncodeToString(header) + "." + strings.Join(parts[1:], ".")
		ro, err := e.svc.verifyRequestObject(ctx, spliced, c)
		check(t, ro, err)
		if err == nil && !ro.encrypted {
			t.Fatal("a spliced JWE was accepted as not encrypted")
		}
		ro, err = e.svc.verifyRequestObject(ctx, raw, c)
		check(t, ro, err)
		ro, err = e.svc.verifyRequestObject(ctx, encryptRequestObject(t, string(plaintext), g.toEC(), jose.ECDH_ES_A128KW, jose.A128GCM, "JWT"), c)
		check(t, ro, err)
		if err == nil && !ro.encrypted {
			t.Fatal("an encrypted request object was accepted as not encrypted")
		}
	})
}
