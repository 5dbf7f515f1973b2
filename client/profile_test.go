package client_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/parjarm/parjarm/client"
	"github.com/parjarm/parjarm/profile"
)

// fapiClient is a FAPI 2.0 client with private_key_jwt.
func fapiClient(id string, p profile.Name) *client.Client {
	return &client.Client{ID: id, TokenEndpointAuthMethod: client.AuthPrivateKeyJWT, Profile: p,
		JWKS: &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{ecKey.public(), rsaKey.public(), edKey.public()}}, RedirectURIs: []string{"https://app.example.com/cb"}}
}

func TestAuthenticateUnderAProfile(t *testing.T) {
	testKeys(t)
	reg := testRegistry(t, fapiClient("fapi2-app", profile.FAPI2Security), fapiClient("fapi1-app", profile.FAPI1Advanced))
	rs256 := signingKey{rsaKey.private, jose.RS256}
	tests := []struct {
		name     string
		global   profile.Name
		clientID string
		key      signingKey
		aud      any
		code     string
		desc     string
	}{
		{"a FAPI 2.0 client with an ES256 assertion to the issuer passes", "", "fapi2-app", ecKey, issuer, "", ""},
		{"a FAPI 2.0 client with an EdDSA assertion passes", "", "fapi2-app", edKey, issuer, "", ""},
		{"a FAPI 2.0 client with an RS256 assertion is refused", "", "fapi2-app", rs256, issuer, "invalid_client", "FAPI 2.0 Security Profile 5.4.1: client_assertion alg RS256 is not allowed"},
		{"a FAPI 2.0 client with aud the PAR endpoint is refused", "", "fapi2-app", ecKey, parEndpoint, "invalid_client", "FAPI 2.0 Security Profile 5.3.2.1: client_assertion aud must be the issuer as its sole value"},
		{"a FAPI 2.0 client with aud the token endpoint is refused", "", "fapi2-app", ecKey, tokenEndpoint, "invalid_client", "5.3.2.1"},
		{"a FAPI 1.0 client with aud the PAR endpoint passes", "", "fapi1-app", ecKey, parEndpoint, "", ""},
		{"a FAPI 1.0 client with an EdDSA assertion is refused", "", "fapi1-app", edKey, issuer, "invalid_client", "FAPI 1.0 Advanced 8.6"},
		{"a client without profile under a global FAPI 2.0 profile is held to it", profile.FAPI2MessageSigning, "jwt-app", ecKey, parEndpoint, "invalid_client", "FAPI 2.0 Message Signing 5.3.2.1"},
		{"a client's own profile wins over the global one", profile.FAPI2Security, "fapi1-app", ecKey, parEndpoint, "", ""},
		{"without a profile RS256 and the PAR endpoint pass", "", "jwt-app", rs256, parEndpoint, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			a, _ := newAuthenticator(t, reg, staticKeys{}, clk)
			a.Profile = tt.global
			cl := claims(tt.clientID, clk.Now())
			cl["aud"] = tt.aud
			c, _, err := a.Authenticate(context.Background(), "", assertionForm(sign(t, tt.key, cl, false)))
			if tt.code == "" {
				if err != nil || c.ID != tt.clientID {
					t.Fatalf("Authenticate = %v, %v", c, err)
				}
				return
			}
			oe := wantOAuthError(t, err, tt.code, http.StatusUnauthorized)
			if !strings.Contains(oe.Description, tt.desc) {
				t.Fatalf("description %q, want %q", oe.Description, tt.desc)
			}
		})
	}
}

func TestAuthenticateRefusesASecretUnderAGlobalProfile(t *testing.T) {
	reg := testRegistry(t)
	a, _ := newAuthenticator(t, reg, staticKeys{}, newClock())
	a.Profile = profile.FAPI1Advanced
	_, _, err := a.Authenticate(context.Background(), basic("basic-app", "s3cret-basic"), nil)
	oe := wantOAuthError(t, err, "invalid_client", http.StatusUnauthorized)
	if !strings.Contains(oe.Description, "FAPI 1.0 Advanced 5.2.2-14: client authentication must be private_key_jwt or mTLS, not client_secret_basic") {
		t.Fatalf("description %q", oe.Description)
	}
	a.Profile = profile.None
	if _, _, err := a.Authenticate(context.Background(), basic("basic-app", "s3cret-basic"), nil); err != nil {
		t.Fatalf("without a profile: %v", err)
	}
}

func TestRegistryProfiles(t *testing.T) {
	testKeys(t)
	t.Run("a FAPI profile implies require_pushed_authorization_requests", func(t *testing.T) {
		reg := testRegistry(t, fapiClient("fapi-app", profile.FAPI1Advanced))
		c, _ := reg.Lookup("fapi-app")
		if !c.RequirePAR || !reg.RequiresPAR() {
			t.Fatal("the profile does not imply PAR")
		}
	})
	t.Run("an unknown fapi_profile is refused", func(t *testing.T) {
		_, err := client.NewRegistry(fapiClient("x", "fapi3"))
		if err == nil || !strings.Contains(err.Error(), `client "x": fapi_profile: "fapi3" is not a profile`) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("metadata contradicting the client's profile is refused at start-up", func(t *testing.T) {
		c := fapiClient("x", profile.FAPI2MessageSigning)
		c.AuthorizationSignedResponseAlg = "RS256"
		_, err := client.NewRegistry(c)
		if err == nil || !strings.Contains(err.Error(), `client "x": authorization_signed_response_alg: FAPI 2.0 Message Signing 5.4.1: "RS256" is not allowed`) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("CheckProfile holds clients without a profile to the global one", func(t *testing.T) {
		reg := testRegistry(t, fapiClient("fapi-app", profile.FAPI2Security))
		if err := reg.CheckProfile(profile.None); err != nil {
			t.Fatalf("no profile: %v", err)
		}
		err := reg.CheckProfile(profile.FAPI2Security)
		if err == nil {
			t.Fatal("secret clients accepted under FAPI 2.0")
		}
		msg := err.Error()
		for _, want := range []string{
			`client "basic-app": token_endpoint_auth_method: FAPI 2.0 Security Profile 5.3.2.1: "client_secret_basic" is not allowed`,
			`client "public-app": token_endpoint_auth_method:`,
			"(PARJARM_PROFILE=fapi2-security)",
		} {
			if !strings.Contains(msg, want) {
				t.Errorf("CheckProfile = %v\nwant %q", msg, want)
			}
		}
		if strings.Contains(msg, `"fapi-app"`) || strings.Contains(msg, `"jwt-app"`) {
			t.Errorf("compliant clients reported: %v", msg)
		}
		ok := testRegistryOf(t, fapiClient("a", ""), fapiClient("b", profile.FAPI1Advanced))
		if err := ok.CheckProfile(profile.FAPI2Security); err != nil {
			t.Fatalf("compliant registry: %v", err)
		}
	})
}

func testRegistryOf(t *testing.T, cs ...*client.Client) *client.Registry {
	t.Helper()
	r, err := client.NewRegistry(cs...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
