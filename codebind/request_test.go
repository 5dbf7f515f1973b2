package codebind

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"testing"

	"github.com/parjarm/parjarm/oauth"
)

func basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

func assertion(claims string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256"}`)) + "." + enc([]byte(claims)) + ".c2ln"
}

func TestParseTokenRequest(t *testing.T) {
	code := url.Values{"grant_type": {"authorization_code"}, "code": {"c"}, "redirect_uri": {"https://app/cb"}, "code_verifier": {rfc7636Verifier}}
	form := func(extra ...string) string {
		v := url.Values{}
		for k, vs := range code {
			v[k] = vs
		}
		for i := 0; i+1 < len(extra); i += 2 {
			v.Set(extra[i], extra[i+1])
		}
		return v.Encode()
	}
	for _, tc := range []struct {
		name, query, body, auth string
		wantClient              string
		wantErr                 bool
	}{
		{name: "client_id from the form", body: form("client_id", "app"), wantClient: "app"},
		{name: "client_id from Basic, form-urlencoded", body: form(), auth: basic("a:p p", "s"), wantClient: "a:p p"},
		{name: "Basic and an agreeing client_id", body: form("client_id", "app"), auth: basic("app", "s"), wantClient: "app"},
		{name: "Basic and another client_id are refused", body: form("client_id", "other"), auth: basic("app", "s"), wantErr: true},
		{name: "a malformed Basic header is refused", body: form(), auth: "Basic !!!", wantErr: true},
		{name: "a Bearer header names no client", body: form(), auth: "Bearer x", wantClient: ""},
		{name: "client_id from an assertion's sub and iss", body: form("client_assertion", assertion(`{"iss":"app","sub":"app"}`)), wantClient: "app"},
		{name: "an assertion whose sub and iss differ is refused", body: form("client_assertion", assertion(`{"iss":"app","sub":"other"}`)), wantErr: true},
		{name: "an assertion that disagrees with client_id is refused", body: form("client_id", "other", "client_assertion", assertion(`{"iss":"app","sub":"app"}`)), wantErr: true},
		{name: "an assertion with a non-string sub is refused next to client_id", body: form("client_id", "app", "client_assertion", assertion(`{"iss":"app","sub":1}`)), wantErr: true},
		{name: "an unreadable assertion names no client", body: form("client_assertion", "garbage"), wantClient: ""},
		{name: "a repeated code is refused", body: form() + "&code=d", wantErr: true},
		{name: "a code in the query and the body is refused", query: "code=d", body: form(), wantErr: true},
		{name: "CODE is refused (an upstream may read it as code)", body: "grant_type=authorization_code&CODE=c", wantErr: true},
		{name: "Code_Verifier is refused", body: form("Code_Verifier", "x"), wantErr: true},
		{name: "grant.type is refused", body: "grant.type=authorization_code&code=c", wantErr: true},
		{name: "a malformed escape is refused", body: "code=%zz", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := ParseTokenRequest(tc.query, tc.body, tc.auth, 100)
			if tc.wantErr {
				var oe *oauth.Error
				if !errors.As(err, &oe) || oe.Code != "invalid_request" || oe.Status != http.StatusBadRequest {
					t.Fatalf("err = %v, want 400 invalid_request", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tr.ClientID != tc.wantClient {
				t.Fatalf("ClientID = %q, want %q", tr.ClientID, tc.wantClient)
			}
			if tr.Code != "c" || tr.CodeVerifier != rfc7636Verifier || !tr.HasCodeVerifier || tr.RedirectURI != "https://app/cb" || !tr.HasRedirectURI {
				t.Fatalf("parameters misread: %+v", tr)
			}
		})
	}
}

func TestRedeemsCode(t *testing.T) {
	for _, tc := range []struct {
		grant, code string
		want        bool
	}{
		{"authorization_code", "c", true},
		{" Authorization_Code ", "c", true},
		{"authorization_code", "", true},
		{"", "c", true},
		{"refresh_token", "c", false},
		{"authorization_code\x00", "c", true},
		{"\tauthorization_code\x01", "", true},
		{"authorization_codex", "c", true},
		{"urn:ietf:params:oauth:grant-type:token-exchange", "c", false},
		{"client_credentials", "", false},
		{"", "", false},
	} {
		tr := TokenRequest{GrantType: tc.grant, Code: tc.code}
		if got := tr.RedeemsCode(); got != tc.want {
			t.Errorf("RedeemsCode(grant_type=%q, code=%q) = %v, want %v", tc.grant, tc.code, got, tc.want)
		}
	}
}

func FuzzParseTokenRequest(f *testing.F) {
	f.Add("", "grant_type=authorization_code&code=c&code_verifier="+rfc7636Verifier+"&client_id=app", "")
	f.Add("code=x", "code=y", basic("app", "s"))
	f.Add("", "client_assertion="+assertion(`{"iss":"a","sub":"a"}`), "Basic YTpi")
	f.Add("", "CODE=1&grant.type=2", "basic %%%")
	f.Fuzz(func(t *testing.T, query, body, auth string) {
		tr, err := ParseTokenRequest(query, body, auth, 50)
		if err != nil {
			var oe *oauth.Error
			if !errors.As(err, &oe) || oe.Status != http.StatusBadRequest {
				t.Fatalf("error %v is not a 400 OAuth error", err)
			}
			return
		}
		// Whatever the gateway read as the code is what an upstream reads:
		// the same parse of the same input.
		again, err := ParseTokenRequest(query, body, auth, 50)
		if err != nil || *again != *tr {
			t.Fatalf("parse is not deterministic: %+v vs %+v (%v)", tr, again, err)
		}
		if tr.Code != "" {
			q, _ := url.ParseQuery(query)
			b, _ := url.ParseQuery(body)
			if len(q["code"])+len(b["code"]) != 1 {
				t.Fatalf("code %q read from a request that does not carry exactly one", tr.Code)
			}
		}
	})
}
