package jarm

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/parjarm/parjarm/client"
	"github.com/parjarm/parjarm/profile"
)

func TestEncodeUnderAProfile(t *testing.T) {
	keys := testKeys(t)
	params := url.Values{"code": {"c"}, "state": {"s"}}
	tests := []struct {
		name    string
		global  profile.Name
		client  client.Client
		wantAlg jose.SignatureAlgorithm // "" for a refusal
	}{
		{"without a profile the RS256 default signs", "", client.Client{ID: "a"}, jose.RS256},
		{"a FAPI 2.0 client without an alg gets PS256, not the RS256 default", "", client.Client{ID: "a", Profile: profile.FAPI2Security}, jose.PS256},
		{"a FAPI 2.0 client with EdDSA gets EdDSA", "", client.Client{ID: "a", Profile: profile.FAPI2Security, AuthorizationSignedResponseAlg: "EdDSA"}, jose.EdDSA},
		{"the gateway's FAPI 1.0 profile keeps ES256", profile.FAPI1Advanced, client.Client{ID: "a", AuthorizationSignedResponseAlg: "ES256"}, jose.ES256},
		{"an RS256 client under the gateway's FAPI 2.0 profile is refused", profile.FAPI2MessageSigning, client.Client{ID: "a", AuthorizationSignedResponseAlg: "RS256"}, ""},
		{"an EdDSA FAPI 1.0 client is refused", "", client.Client{ID: "a", Profile: profile.FAPI1Advanced, AuthorizationSignedResponseAlg: "EdDSA"}, ""},
		{"an HS256 FAPI 2.0 client is refused", "", client.Client{ID: "a", Profile: profile.FAPI2Security, AuthorizationSignedResponseAlg: "HS256", Secret: hs256Secret}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEncoder(t, keys, nil, Options{Profile: tt.global})
			raw, err := e.Encode(context.Background(), &tt.client, params)
			if tt.wantAlg == "" {
				if !errors.Is(err, ErrNoKey) || !strings.Contains(err.Error(), "allows") {
					t.Fatalf("Encode = %q, %v; want ErrNoKey naming the profile", raw, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			v := verifyJWS(t, raw, tt.wantAlg, keys.Public(), "")
			if v.alg != string(tt.wantAlg) {
				t.Fatalf("alg = %s, want %s", v.alg, tt.wantAlg)
			}
		})
	}
}

func TestNewEncoderRefusesKeysNoProfileAlgorithmFits(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var ks KeySet
	if err := ks.AddSigner("p384", "ES384", k); err != nil {
		t.Fatal(err)
	}
	_, err = NewEncoder(&ks, nil, Options{Issuer: testIssuer, DefaultAlg: "ES384", Profile: profile.FAPI2Security})
	if err == nil || !strings.Contains(err.Error(), "FAPI 2.0 Security Profile allows PS256, ES256, EdDSA for JARM responses; the keys sign ES384") {
		t.Fatalf("NewEncoder = %v", err)
	}
	if _, err := NewEncoder(&ks, nil, Options{Issuer: testIssuer, DefaultAlg: "ES384"}); err != nil {
		t.Fatalf("without a profile: %v", err)
	}
}
