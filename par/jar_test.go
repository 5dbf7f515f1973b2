package par

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// numbers decodes claims JSON as the verifier does (numbers kept as written).
func claimsJSON(t *testing.T, s string) map[string]any {
	t.Helper()
	c, err := decodeClaims([]byte(s))
	if err != nil {
		t.Fatalf("decodeClaims(%s): %v", s, err)
	}
	return c
}

func TestCheckClaims(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	rules := claimRules{issuer: testIssuer, clientID: "conf", now: now, maxAge: time.Hour, skew: 10 * time.Second, maxParams: 10}
	tests := []struct {
		name   string
		claims string
		ok     bool
	}{
		{name: "minimal claims are accepted", ok: true,
			claims: `{"iss":"conf","aud":"https://as.example","exp":1700000300,"client_id":"conf"}`},
		{name: "a fractional exp is accepted", ok: true,
			claims: `{"iss":"conf","aud":"https://as.example","exp":1700000300.5,"client_id":"conf"}`},
		{name: "exp exactly 60 minutes after nbf is accepted", ok: true,
			claims: `{"iss":"conf","aud":"https://as.example","nbf":1700000000,"exp":1700003600,"client_id":"conf"}`},
		{name: "nbf 59 minutes old with exp 60 minutes after it is accepted", ok: true,
			claims: `{"iss":"conf","aud":"https://as.example","nbf":1699996460,"exp":1700000060,"client_id":"conf"}`},
		{name: "exp 61 minutes after nbf is refused",
			claims: `{"iss":"conf","aud":"https://as.example","nbf":1700000000,"exp":1700003660,"client_id":"conf"}`},
		{name: "nbf one second older than 60 minutes is refused",
			claims: `{"iss":"conf","aud":"https://as.example","nbf":1699996399,"exp":1700000060,"client_id":"conf"}`},
		{name: "nbf 11 seconds ahead is refused",
			claims: `{"iss":"conf","aud":"https://as.example","nbf":1700000011,"exp":1700000300,"client_id":"conf"}`},
		{name: "exp 11 seconds ago is refused",
			claims: `{"iss":"conf","aud":"https://as.example","exp":1699999989,"client_id":"conf"}`},
		{name: "an aud array without the issuer is refused",
			claims: `{"iss":"conf","aud":["https://as.example/par","https://as.example/token"],"exp":1700000300,"client_id":"conf"}`},
		{name: "an aud that is a number is refused",
			claims: `{"iss":"conf","aud":7,"exp":1700000300,"client_id":"conf"}`},
		{name: "an aud differing by a trailing slash is refused",
			claims: `{"iss":"conf","aud":"https://as.example/","exp":1700000300,"client_id":"conf"}`},
		{name: "an iss that is not a string is refused",
			claims: `{"iss":["conf"],"aud":"https://as.example","exp":1700000300,"client_id":"conf"}`},
		{name: "a null exp is refused",
			claims: `{"iss":"conf","aud":"https://as.example","exp":null,"client_id":"conf"}`},
		{name: "a malformed nbf is refused",
			claims: `{"iss":"conf","aud":"https://as.example","nbf":"now","exp":1700000300,"client_id":"conf"}`},
		{name: "a malformed iat is refused",
			claims: `{"iss":"conf","aud":"https://as.example","iat":true,"exp":1700000300,"client_id":"conf"}`},
		{name: "an empty jti is refused",
			claims: `{"iss":"conf","aud":"https://as.example","jti":"","exp":1700000300,"client_id":"conf"}`},
		{name: "a null request_uri is still refused",
			claims: `{"iss":"conf","aud":"https://as.example","exp":1700000300,"client_id":"conf","request_uri":null}`},
		{name: "a claim without name is refused",
			claims: `{"iss":"conf","aud":"https://as.example","exp":1700000300,"client_id":"conf","":"x"}`},
		{name: "a number beyond float64 is refused",
			claims: `{"iss":"conf","aud":"https://as.example","exp":1700000300,"client_id":"conf","max_age":1e400}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ro, err := checkClaims(claimsJSON(t, tt.claims), rules)
			if tt.ok {
				if err != nil {
					t.Fatalf("checkClaims = %v, want nil", err)
				}
				if ro.params.Get("client_id") != "conf" {
					t.Errorf("params = %v, want client_id kept", ro.params)
				}
				return
			}
			wantOAuthError(t, err, http.StatusBadRequest, "invalid_request_object")
		})
	}
}

func TestCheckClaimsRefusesAnEmptyIssuer(t *testing.T) {
	rules := claimRules{issuer: "", clientID: "conf", now: time.Unix(1_700_000_000, 0), maxAge: time.Hour, maxParams: 10}
	_, err := checkClaims(claimsJSON(t, `{"iss":"conf","aud":"","exp":1700000300,"client_id":"conf"}`), rules)
	wantOAuthError(t, err, http.StatusBadRequest, "invalid_request_object")
}

func TestClaimsToParams(t *testing.T) {
	tests := []struct {
		name   string
		claims string
		want   map[string]string
	}{
		{name: "JWT claims are dropped and client_id is kept",
			claims: `{"iss":"c","aud":"a","exp":1,"nbf":1,"iat":1,"jti":"j","client_id":"c","sub":"s"}`,
			want:   map[string]string{"client_id": "c", "sub": "s"}},
		{name: "integers are written as they are",
			claims: `{"max_age":300,"big":123456789012345678901234567890,"neg":-7}`,
			want:   map[string]string{"max_age": "300", "big": "123456789012345678901234567890", "neg": "-7"}},
		{name: "other numbers are written without exponent",
			claims: `{"a":1e3,"b":1.50,"c":2.5E-3,"d":1E21}`,
			want:   map[string]string{"a": "1000", "b": "1.5", "c": "0.0025", "d": "1000000000000000000000"}},
		{name: "booleans are written as true and false",
			claims: `{"t":true,"f":false}`,
			want:   map[string]string{"t": "true", "f": "false"}},
		{name: "objects and arrays are written as compact JSON without HTML escaping",
			claims: `{"claims":{"userinfo": {"email": null}, "id_token":{"acr":{"values":["a<b>&"]}}},"list":[1, "x"]}`,
			want:   map[string]string{"claims": `{"id_token":{"acr":{"values":["a<b>&"]}},"userinfo":{"email":null}}`, "list": `[1,"x"]`}},
		{name: "null and empty strings are omitted",
			claims: `{"a":null,"b":"","c":"x"}`,
			want:   map[string]string{"c": "x"}},
		{name: "strings keep their spaces and unicode",
			claims: `{"scope":"openid  é\u2028"}`,
			want:   map[string]string{"scope": "openid  é\u2028"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			params, err := claimsToParams(claimsJSON(t, tt.claims), 20)
			if err != nil {
				t.Fatal(err)
			}
			if len(params) != len(tt.want) {
				t.Errorf("params = %v, want %v", params, tt.want)
			}
			for k, v := range tt.want {
				if got := params[k]; len(got) != 1 || got[0] != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestDecodeClaims(t *testing.T) {
	for _, bad := range []string{``, `null`, `[]`, `"x"`, `{"a":1}x`, `{"a":1}{}`, `{`} {
		_, err := decodeClaims([]byte(bad))
		wantOAuthError(t, err, http.StatusBadRequest, "invalid_request_object")
	}
	c, err := decodeClaims([]byte(` {"exp":1.0} `))
	if err != nil {
		t.Fatal(err)
	}
	if n, ok := c["exp"].(json.Number); !ok || n.String() != "1.0" {
		t.Errorf("exp = %#v, want json.Number 1.0", c["exp"])
	}
}

func TestRequestObjectType(t *testing.T) {
	tests := []struct {
		typ  any
		want bool
	}{
		{"oauth-authz-req+jwt", true},
		{"application/oauth-authz-req+jwt", true},
		{"OAUTH-AUTHZ-REQ+JWT", true},
		{"JWT", true},
		{"jwt", true},
		{"at+jwt", false},
		{"application/jwt+foo", false},
		{"", false},
		{7, false},
		{nil, false},
	}
	for _, tt := range tests {
		if got := requestObjectType(tt.typ); got != tt.want {
			t.Errorf("requestObjectType(%#v) = %v, want %v", tt.typ, got, tt.want)
		}
	}
}

func TestAlgorithms(t *testing.T) {
	tests := []struct {
		name      string
		allowed   []jose.SignatureAlgorithm
		clientAlg string
		want      []jose.SignatureAlgorithm
	}{
		{name: "the defaults without a client algorithm", want: DefaultAlgorithms},
		{name: "none and HMAC are dropped from the allow-list", allowed: []jose.SignatureAlgorithm{"none", jose.HS256, jose.PS256, jose.HS512}, want: []jose.SignatureAlgorithm{jose.PS256}},
		{name: "the client's algorithm narrows the list", allowed: []jose.SignatureAlgorithm{jose.PS256, jose.ES256}, clientAlg: "ES256", want: []jose.SignatureAlgorithm{jose.ES256}},
		{name: "a client algorithm outside the list leaves nothing", allowed: []jose.SignatureAlgorithm{jose.PS256}, clientAlg: "ES256", want: nil},
		{name: "a client asking for none gets nothing", clientAlg: "none", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := requestObjectAlgorithms(allowedAlgorithms(tt.allowed), tt.clientAlg)
			if !slices.Equal(got, tt.want) {
				t.Errorf("algorithms = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseRequestObjectRefusesWithoutAlgorithms(t *testing.T) {
	_, err := parseRequestObject("a.b.c", nil)
	wantOAuthError(t, err, http.StatusBadRequest, "invalid_request_object")
	if !strings.Contains(err.Error(), "no request object signing algorithm") {
		t.Errorf("err = %v", err)
	}
}
