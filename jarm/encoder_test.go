package jarm

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/parjarm/parjarm/client"
	"github.com/parjarm/parjarm/oauth"
)

// successParams is a code response as an upstream sends it, with a state
// that needs escaping, a number and an extension parameter.
func successParams() url.Values {
	return url.Values{
		"code":          {"SplxlOBeZQQYbYS6WxSbIA"},
		"state":         {"a b&c=d/é"},
		"expires_in":    {"3600"},
		"session_state": {"c2Vzc2lvbg.abc"},
		"iss":           {"https://upstream.internal"},
	}
}

var successClaims = map[string]any{
	"code":          "SplxlOBeZQQYbYS6WxSbIA",
	"state":         "a b&c=d/é",
	"expires_in":    json.Number("3600"),
	"session_state": "c2Vzc2lvbg.abc",
}

func TestEncodeSignsWithEachAlgorithm(t *testing.T) {
	keys := testKeys(t)
	enc := newTestEncoder(t, keys, nil, Options{})
	for _, alg := range []jose.SignatureAlgorithm{jose.RS256, jose.PS256, jose.ES256, jose.ES384, jose.EdDSA, jose.HS256} {
		t.Run(string(alg)+" response verifies against the published keys with exact claims", func(t *testing.T) {
			c := &client.Client{ID: "client-" + string(alg), Secret: hs256Secret, AuthorizationSignedResponseAlg: string(alg)}
			raw, err := enc.Encode(context.Background(), c, successParams())
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if n := strings.Count(raw, "."); n != 2 {
				t.Fatalf("a signed JARM response is a compact JWS with 3 parts, got %d dots", n)
			}
			v := verifyJWS(t, raw, alg, keys.Public(), hs256Secret)
			if v.alg != string(alg) {
				t.Errorf("header alg = %s, want %s", v.alg, alg)
			}
			assertClaims(t, v.claims, wantClaims(c.ID, 5*time.Minute, successClaims))
		})
	}
}

func TestEncodeCarriesErrorResponses(t *testing.T) {
	keys := testKeys(t)
	enc := newTestEncoder(t, keys, nil, Options{Lifetime: 90 * time.Second})
	c := &client.Client{ID: "client-1"}
	params := url.Values{
		"error":             {"access_denied"},
		"error_description": {"The user said no & left <quickly>"},
		"error_uri":         {"https://as.example.com/errors/denied"},
		"state":             {"xyz"},
	}
	raw, err := enc.Encode(context.Background(), c, params)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	v := verifyJWS(t, raw, jose.RS256, keys.Public(), "")
	assertClaims(t, v.claims, wantClaims("client-1", 90*time.Second, map[string]any{
		"error":             "access_denied",
		"error_description": "The user said no & left <quickly>",
		"error_uri":         "https://as.example.com/errors/denied",
		"state":             "xyz",
	}))
}

func TestEncodeDefaultAlgorithm(t *testing.T) {
	keys := testKeys(t)
	tests := []struct {
		name       string
		defaultAlg string
		want       jose.SignatureAlgorithm
	}{
		{"a client without authorization_signed_response_alg gets RS256 by default", "", jose.RS256},
		{"a client without authorization_signed_response_alg gets the configured default", "PS256", jose.PS256},
		{"an EdDSA default is honoured", "EdDSA", jose.EdDSA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc := newTestEncoder(t, keys, nil, Options{DefaultAlg: tt.defaultAlg})
			raw, err := enc.Encode(context.Background(), &client.Client{ID: "c"}, url.Values{"code": {"x"}})
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			v := verifyJWS(t, raw, tt.want, keys.Public(), "")
			if v.alg != string(tt.want) {
				t.Errorf("alg = %s, want %s", v.alg, tt.want)
			}
		})
	}
}

func TestEncodeEncrypts(t *testing.T) {
	keys := testKeys(t)
	ck := testClientKeys(t)
	enc := newTestEncoder(t, keys, staticKeys(&ck.public), Options{})
	tests := []struct {
		name    string
		alg     jose.KeyAlgorithm
		enc     jose.ContentEncryption // registered; empty = default
		wantEnc jose.ContentEncryption
		wantKID string
		private any
	}{
		{"RSA-OAEP-256 with A256GCM goes to the client's RSA encryption key", jose.RSA_OAEP_256, jose.A256GCM, jose.A256GCM, "client-rsa-enc", ck.rsa},
		{"ECDH-ES with A128CBC-HS256 goes to the EC key without use", jose.ECDH_ES, jose.A128CBC_HS256, jose.A128CBC_HS256, "client-ec-enc", ck.ec},
		{"ECDH-ES+A256KW with A256GCM goes to the EC key", jose.ECDH_ES_A256KW, jose.A256GCM, jose.A256GCM, "client-ec-enc", ck.ec},
		{"ECDH-ES+A128KW without an enc uses A128CBC-HS256", jose.ECDH_ES_A128KW, "", jose.A128CBC_HS256, "client-ec-enc", ck.ec},
		{"RSA-OAEP-256 with A256CBC-HS512 works", jose.RSA_OAEP_256, jose.A256CBC_HS512, jose.A256CBC_HS512, "client-rsa-enc", ck.rsa},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &client.Client{
				ID:                                "client-enc",
				AuthorizationSignedResponseAlg:    "PS256",
				AuthorizationEncryptedResponseAlg: string(tt.alg),
				AuthorizationEncryptedResponseEnc: string(tt.enc),
			}
			raw, err := enc.Encode(context.Background(), c, successParams())
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if n := strings.Count(raw, "."); n != 4 {
				t.Fatalf("an encrypted JARM response is a compact JWE with 5 parts, got %d dots", n)
			}
			jwe, err := jose.ParseEncrypted(raw, []jose.KeyAlgorithm{tt.alg}, []jose.ContentEncryption{tt.wantEnc})
			if err != nil {
				t.Fatalf("ParseEncrypted: %v", err)
			}
			h := jwe.Header
			if h.Algorithm != string(tt.alg) {
				t.Errorf("JWE alg = %s, want %s", h.Algorithm, tt.alg)
			}
			if got := h.ExtraHeaders[jose.HeaderKey("enc")]; got != string(tt.wantEnc) {
				t.Errorf("JWE enc = %v, want %s", got, tt.wantEnc)
			}
			if h.KeyID != tt.wantKID {
				t.Errorf("JWE kid = %q, want %q", h.KeyID, tt.wantKID)
			}
			if got := h.ExtraHeaders[jose.HeaderContentType]; got != "JWT" {
				t.Errorf("JWE cty = %v, want JWT (nested JWT, JARM section 2.2)", got)
			}
			// go-jose's jwt package refuses asymmetric JWE
			// (ParseSignedAndEncrypted), so decrypt with jose and verify
			// the inner JWT as a client library does.
			inner, err := jwe.Decrypt(tt.private)
			if err != nil {
				t.Fatalf("Decrypt with the client's private key: %v", err)
			}
			v := verifyJWS(t, string(inner), jose.PS256, keys.Public(), "")
			assertClaims(t, v.claims, wantClaims(c.ID, 5*time.Minute, successClaims))
		})
	}
}

func TestEncodeEncryptsToInlineJWKSWithoutKeySource(t *testing.T) {
	keys := testKeys(t)
	ck := testClientKeys(t)
	enc := newTestEncoder(t, keys, nil, Options{})
	c := &client.Client{ID: "inline", JWKS: &ck.public, AuthorizationEncryptedResponseAlg: "ECDH-ES"}
	raw, err := enc.Encode(context.Background(), c, url.Values{"code": {"x"}})
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	jwe, err := jose.ParseEncrypted(raw, []jose.KeyAlgorithm{jose.ECDH_ES}, []jose.ContentEncryption{jose.A128CBC_HS256})
	if err != nil {
		t.Fatalf("ParseEncrypted: %v", err)
	}
	if _, err := jwe.Decrypt(ck.ec); err != nil {
		t.Errorf("Decrypt: %v", err)
	}
}

// TestEncodeRefuses covers every way Encode fails. The proxy answers these
// with oauth.From(err): a gateway or registry fault is server_error (500),
// and a key source's own OAuth error keeps its code and status.
func TestEncodeRefuses(t *testing.T) {
	keys := testKeys(t)
	ck := testClientKeys(t)
	sigOnly := &jose.JSONWebKeySet{Keys: ck.public.Keys[:1]}
	unavailable := KeySourceFunc(func(context.Context, *client.Client) (*jose.JSONWebKeySet, error) {
		return nil, oauth.ErrTemporarilyUnavailable.WithDescription("jwks_uri unreachable")
	})
	tests := []struct {
		name       string
		src        KeySource
		client     *client.Client
		params     url.Values
		wantErr    error
		wantCode   string
		wantStatus int
	}{
		{
			name: "alg none is never used", client: &client.Client{ID: "c", AuthorizationSignedResponseAlg: "none"},
			wantErr: ErrNoKey, wantCode: "server_error", wantStatus: http.StatusInternalServerError,
		},
		{
			name: "an algorithm without a gateway key is refused", client: &client.Client{ID: "c", AuthorizationSignedResponseAlg: "RS512"},
			wantErr: ErrNoKey, wantCode: "server_error", wantStatus: http.StatusInternalServerError,
		},
		{
			name: "HS256 with a secret shorter than 32 bytes is refused", client: &client.Client{ID: "c", Secret: "short-secret-1234", AuthorizationSignedResponseAlg: "HS256"},
			wantErr: ErrNoKey, wantCode: "server_error", wantStatus: http.StatusInternalServerError,
		},
		{
			name: "HS256 with only a secret hash is refused", client: &client.Client{ID: "c", SecretHash: "sha256:00", AuthorizationSignedResponseAlg: "HS256"},
			wantErr: ErrNoKey, wantCode: "server_error", wantStatus: http.StatusInternalServerError,
		},
		{
			name: "a client with only signing keys has no encryption key", src: staticKeys(sigOnly),
			client:  &client.Client{ID: "c", AuthorizationEncryptedResponseAlg: "ECDH-ES"},
			wantErr: ErrNoEncryptionKey, wantCode: "server_error", wantStatus: http.StatusInternalServerError,
		},
		{
			name: "a client without any keys has no encryption key", client: &client.Client{ID: "c", AuthorizationEncryptedResponseAlg: "RSA-OAEP-256"},
			wantErr: ErrNoEncryptionKey, wantCode: "server_error", wantStatus: http.StatusInternalServerError,
		},
		{
			name: "RSA-OAEP is refused when the only RSA key is restricted to RSA-OAEP-256", src: staticKeys(&ck.public),
			client:  &client.Client{ID: "c", AuthorizationEncryptedResponseAlg: "RSA-OAEP"},
			wantErr: ErrNoEncryptionKey, wantCode: "server_error", wantStatus: http.StatusInternalServerError,
		},
		{
			name: "RSA1_5 is not supported", src: staticKeys(&ck.public),
			client:  &client.Client{ID: "c", AuthorizationEncryptedResponseAlg: "RSA1_5"},
			wantErr: ErrUnsupportedEncryption, wantCode: "server_error", wantStatus: http.StatusInternalServerError,
		},
		{
			name: "an unsupported enc is refused", src: staticKeys(&ck.public),
			client:  &client.Client{ID: "c", AuthorizationEncryptedResponseAlg: "ECDH-ES", AuthorizationEncryptedResponseEnc: "A192GCM"},
			wantErr: ErrUnsupportedEncryption, wantCode: "server_error", wantStatus: http.StatusInternalServerError,
		},
		{
			name: "a key source outage keeps its temporarily_unavailable", src: unavailable,
			client:  &client.Client{ID: "c", AuthorizationEncryptedResponseAlg: "ECDH-ES"},
			wantErr: oauth.ErrTemporarilyUnavailable, wantCode: "temporarily_unavailable", wantStatus: http.StatusServiceUnavailable,
		},
		{
			name: "a repeated response parameter is refused", client: &client.Client{ID: "c"},
			params:  url.Values{"state": {"a", "b"}},
			wantErr: nil, wantCode: "server_error", wantStatus: http.StatusInternalServerError,
		},
		{
			name: "a client without an id is refused", client: &client.Client{},
			wantErr: nil, wantCode: "server_error", wantStatus: http.StatusInternalServerError,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc := newTestEncoder(t, keys, tt.src, Options{})
			params := tt.params
			if params == nil {
				params = url.Values{"code": {"x"}}
			}
			raw, err := enc.Encode(context.Background(), tt.client, params)
			if err == nil {
				t.Fatalf("Encode succeeded with %q", raw)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %q is not %v", err, tt.wantErr)
			}
			oe := oauth.From(err)
			if oe.Code != tt.wantCode || oe.Status != tt.wantStatus {
				t.Errorf("oauth.From = %s/%d, want %s/%d", oe.Code, oe.Status, tt.wantCode, tt.wantStatus)
			}
			if s := tt.client.Secret; s != "" && strings.Contains(err.Error(), s) {
				t.Errorf("error %q contains the client secret", err)
			}
		})
	}
}

func TestEncryptionKeySelection(t *testing.T) {
	ck := testClientKeys(t)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p521, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		set     *jose.JSONWebKeySet
		alg     jose.KeyAlgorithm
		wantKID string // empty: ErrNoEncryptionKey
	}{
		{"a nil set has no key", nil, jose.ECDH_ES, ""},
		{"an empty set has no key", &jose.JSONWebKeySet{}, jose.ECDH_ES, ""},
		{"a sig key is skipped for an enc key", &ck.public, jose.ECDH_ES, "client-ec-enc"},
		{"an RSA key with a matching alg is chosen", &ck.public, jose.RSA_OAEP_256, "client-rsa-enc"},
		{"an RSA key with another alg is skipped", &ck.public, jose.RSA_OAEP, ""},
		{"an EC key does not receive RSA-OAEP-256", &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &ck.ec.PublicKey, KeyID: "ec"}}}, jose.RSA_OAEP_256, ""},
		{"an RSA key does not receive ECDH-ES", &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &ck.rsa.PublicKey, KeyID: "rsa"}}}, jose.ECDH_ES, ""},
		{"an RSA key below 2048 bits is skipped", &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &small.PublicKey, KeyID: "small"}, {Key: &ck.rsa.PublicKey, KeyID: "big"}}}, jose.RSA_OAEP, "big"},
		{"a P-521 key receives ECDH-ES+A128KW", &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &p521.PublicKey, KeyID: "p521", Use: "enc"}}}, jose.ECDH_ES_A128KW, "p521"},
		{"a private key in the client's set is used by its public half", &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: ck.ec, KeyID: "priv"}}}, jose.ECDH_ES, "priv"},
		{"a symmetric key is skipped", &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: []byte("0123456789abcdef"), KeyID: "oct"}}}, jose.ECDH_ES, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := encryptionKey(tt.set, tt.alg)
			if tt.wantKID == "" {
				if !errors.Is(err, ErrNoEncryptionKey) {
					t.Fatalf("error = %v, want ErrNoEncryptionKey", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("encryptionKey: %v", err)
			}
			if k.KeyID != tt.wantKID {
				t.Errorf("kid = %q, want %q", k.KeyID, tt.wantKID)
			}
			if !k.IsPublic() {
				t.Errorf("chosen key %T is not public", k.Key)
			}
		})
	}
}

func TestResponseClaims(t *testing.T) {
	tests := []struct {
		name    string
		params  url.Values
		want    map[string]any
		wantErr string
	}{
		{
			name:   "expires_in written as an integer becomes a number",
			params: url.Values{"expires_in": {"3600"}},
			want:   map[string]any{"expires_in": int64(3600)},
		},
		{
			name:   "expires_in with leading zeros stays a string, exactly as received",
			params: url.Values{"expires_in": {"0036"}},
			want:   map[string]any{"expires_in": "0036"},
		},
		{
			name:   "expires_in that is not an integer stays a string",
			params: url.Values{"expires_in": {"3.5"}},
			want:   map[string]any{"expires_in": "3.5"},
		},
		{
			name:   "expires_in beyond int64 stays a string",
			params: url.Values{"expires_in": {"99999999999999999999"}},
			want:   map[string]any{"expires_in": "99999999999999999999"},
		},
		{
			name:   "other numeric parameters stay strings",
			params: url.Values{"code": {"12345"}, "state": {"7"}},
			want:   map[string]any{"code": "12345", "state": "7"},
		},
		{
			name:   "empty values are carried",
			params: url.Values{"state": {""}},
			want:   map[string]any{"state": ""},
		},
		{
			name:   "the upstream's iss is replaced by the gateway's issuer",
			params: url.Values{"iss": {"https://upstream.internal"}},
			want:   map[string]any{},
		},
		{
			name:   "parameters named like registered claims cannot override them",
			params: url.Values{"aud": {"someone-else"}, "exp": {"9999999999"}, "iat": {"1"}},
			want:   map[string]any{},
		},
		{
			name:   "an empty parameter name is dropped",
			params: url.Values{"": {"x"}, "code": {"c"}},
			want:   map[string]any{"code": "c"},
		},
		{
			name:    "a value that is not UTF-8 is refused rather than altered",
			params:  url.Values{"state": {"\xff\xfe"}},
			wantErr: `response parameter "state" is not valid UTF-8`,
		},
		{
			name:    "a repeated parameter is refused",
			params:  url.Values{"code": {"a", "b"}},
			wantErr: `response parameter "code" appears 2 times`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := responseClaims(testIssuer, "client-1", testNow, time.Minute, tt.params)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("responseClaims: %v", err)
			}
			want := map[string]any{"iss": testIssuer, "aud": "client-1", "iat": testNow.Unix(), "exp": testNow.Add(time.Minute).Unix()}
			for k, v := range tt.want {
				want[k] = v
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("claims = %#v, want %#v", got, want)
			}
		})
	}
}

func TestNewEncoder(t *testing.T) {
	keys := testKeys(t)
	ecOnly := &KeySet{}
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if err := ecOnly.AddSigner("ec", "ES256", priv); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		keys    *KeySet
		opts    Options
		wantErr error
		wantMsg string
	}{
		{name: "a nil key set is refused", keys: nil, opts: Options{Issuer: testIssuer}, wantMsg: "nil KeySet"},
		{name: "an empty issuer is refused", keys: keys, opts: Options{}, wantMsg: "an issuer is required"},
		{name: "a negative lifetime is refused", keys: keys, opts: Options{Issuer: testIssuer, Lifetime: -time.Second}, wantMsg: "negative"},
		{name: "HS256 cannot be the default alg", keys: keys, opts: Options{Issuer: testIssuer, DefaultAlg: "HS256"}, wantMsg: `default alg "HS256" is not supported`},
		{name: "none cannot be the default alg", keys: keys, opts: Options{Issuer: testIssuer, DefaultAlg: "none"}, wantMsg: `default alg "none" is not supported`},
		{name: "the RS256 default needs an RSA key", keys: ecOnly, opts: Options{Issuer: testIssuer}, wantErr: ErrNoKey, wantMsg: "the keys sign ES256"},
		{name: "an empty key set signs nothing", keys: &KeySet{}, opts: Options{Issuer: testIssuer, DefaultAlg: "ES256"}, wantErr: ErrNoKey, wantMsg: "the keys sign nothing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewEncoder(tt.keys, nil, tt.opts)
			if err == nil {
				t.Fatal("NewEncoder succeeded")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %q is not %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not say %q", err, tt.wantMsg)
			}
		})
	}
	t.Run("an EC-only key set works with an ES256 default", func(t *testing.T) {
		enc := newTestEncoder(t, ecOnly, nil, Options{DefaultAlg: "ES256"})
		raw, err := enc.Encode(context.Background(), &client.Client{ID: "c"}, nil)
		if err != nil {
			t.Fatalf("Encode: %v", err)
		}
		v := verifyJWS(t, raw, jose.ES256, ecOnly.Public(), "")
		assertClaims(t, v.claims, wantClaims("c", 5*time.Minute, nil))
	})
}

func TestMetadata(t *testing.T) {
	enc := newTestEncoder(t, testKeys(t), nil, Options{})
	want := map[string]any{
		"authorization_signing_alg_values_supported":    []string{"RS256", "PS256", "ES256", "ES384", "EdDSA", "HS256"},
		"authorization_encryption_alg_values_supported": []string{"RSA-OAEP-256", "RSA-OAEP", "ECDH-ES", "ECDH-ES+A128KW", "ECDH-ES+A256KW"},
		"authorization_encryption_enc_values_supported": []string{"A128CBC-HS256", "A256CBC-HS512", "A128GCM", "A256GCM"},
	}
	if got := Metadata(enc); !reflect.DeepEqual(got, want) {
		t.Errorf("Metadata = %v, want %v", got, want)
	}
	t.Run("every advertised encryption pair really encrypts", func(t *testing.T) {
		ck := testClientKeys(t)
		ecKey := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &ck.ec.PublicKey, KeyID: "ec"}}}
		rsaKey := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &ck.rsa.PublicKey, KeyID: "rsa"}}}
		for _, alg := range EncryptionAlgs() {
			for _, e := range EncryptionEncs() {
				set, priv := &ecKey, any(ck.ec)
				if strings.HasPrefix(alg, "RSA") {
					set, priv = &rsaKey, ck.rsa
				}
				c := &client.Client{ID: "c", JWKS: set, AuthorizationEncryptedResponseAlg: alg, AuthorizationEncryptedResponseEnc: e}
				raw, err := enc.Encode(context.Background(), c, url.Values{"code": {"x"}})
				if err != nil {
					t.Fatalf("%s/%s: Encode: %v", alg, e, err)
				}
				jwe, err := jose.ParseEncrypted(raw, []jose.KeyAlgorithm{jose.KeyAlgorithm(alg)}, []jose.ContentEncryption{jose.ContentEncryption(e)})
				if err != nil {
					t.Fatalf("%s/%s: ParseEncrypted: %v", alg, e, err)
				}
				if _, err := jwe.Decrypt(priv); err != nil {
					t.Errorf("%s/%s: Decrypt: %v", alg, e, err)
				}
			}
		}
	})
}
