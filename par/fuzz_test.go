package par

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/go-jose/go-jose/v4"
)

// FuzzParseBody: parsing any body never panics; it fails with
// invalid_request (400, or 413 over the limit), and what it accepts is a
// set of single, non-empty, UTF-8 parameters that survive re-encoding.
func FuzzParseBody(f *testing.F) {
	for _, seed := range []string{
		"", "a=1", "a=1&a=2", "a=&a=1", "%zz=1", "a=%", "a=1;b=2", "=x", "a=%FF",
		form(authParams("conf")...), "a=b=c&&d", strings.Repeat("x=1&", 40), "a+b=c+d&%2B=%2B",
	} {
		f.Add([]byte(seed))
	}
	const limit, maxParams = 256, 10
	f.Fuzz(func(t *testing.T, body []byte) {
		form, err := readForm(http.MaxBytesReader(nil, io.NopCloser(bytes.NewReader(body)), limit), maxParams)
		if err != nil {
			oe := asOAuth(err)
			if oe == nil {
				t.Fatalf("error %v (%T) is not an *oauth.Error", err, err)
			}
			if oe.Code != "invalid_request" || (oe.Status != http.StatusBadRequest && oe.Status != http.StatusRequestEntityTooLarge) {
				t.Fatalf("error %s with status %d, want invalid_request 400 or 413", oe.Code, oe.Status)
			}
			if oe.Status == http.StatusRequestEntityTooLarge && len(body) <= limit {
				t.Fatalf("413 for a body of %d bytes (limit %d)", len(body), limit)
			}
			return
		}
		if len(body) > limit {
			t.Fatalf("a body of %d bytes was accepted (limit %d)", len(body), limit)
		}
		if len(form) > maxParams {
			t.Fatalf("%d parameters accepted (limit %d)", len(form), maxParams)
		}
		for name, vs := range form {
			if name == "" || len(vs) != 1 || vs[0] == "" || !utf8.ValidString(name) || !utf8.ValidString(vs[0]) {
				t.Fatalf("parameter %q = %q", name, vs)
			}
		}
		again, err := parseForm(form.Encode(), maxParams)
		if err != nil || again.Encode() != form.Encode() {
			t.Fatalf("re-encoded %q parses to %q, %v", form.Encode(), again.Encode(), err)
		}
	})
}

// FuzzRequestObject: any `request` string, and any payload signed by the
// client, goes through verification without panic; failures are always
// invalid_request_object, and what passes holds no request or request_uri.
func FuzzRequestObject(f *testing.F) {
	e := newEnv(f)
	c, _ := e.reg.Lookup("conf")
	valid, err := json.Marshal(roClaims("conf", e.clock.Now()))
	if err != nil {
		f.Fatal(err)
	}
	signed := signRequestObject(f, e.key, jose.ES256, "oauth-authz-req+jwt", roClaims("conf", e.clock.Now()))
	f.Add(signed, valid)
	f.Add(unsignedJWT(roClaims("conf", e.clock.Now())), []byte(`{}`))
	f.Add("eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d", []byte(`{"iss":"conf","request_uri":"x"}`))
	f.Add("not a jwt", []byte(`[]`))
	f.Add("eyJhbGciOiJFUzI1NiJ9..", []byte(`{"exp":1e999}`))
	f.Add(signed[:len(signed)-3], []byte(`{"iss":"conf","aud":["https://as.example"],"exp":1700000100,"client_id":"conf","claims":{"a":[1,2.5e300]}}`))
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
		if ro.params.Has("request") || ro.params.Has("request_uri") || ro.params.Get("client_id") != "conf" {
			t.Fatalf("accepted params %v", ro.params)
		}
	}
	f.Fuzz(func(t *testing.T, raw string, payload []byte) {
		ro, err := e.svc.verifyRequestObject(ctx, raw, c)
		check(t, ro, err)
		ro, err = e.svc.verifyRequestObject(ctx, signRaw(t, e.key, payload), c)
		check(t, ro, err)
	})
}

// FuzzPush: any method, content type, Authorization header and body
// through the push endpoint never panics and never answers 500; every
// answer is 201 or a JSON OAuth error.
func FuzzPush(f *testing.F) {
	e := newEnv(f)
	confAuth := basic("conf", testSecret)
	ct := "application/x-www-form-urlencoded"
	f.Add("POST", ct, confAuth, form(authParams("conf")...))
	f.Add("POST", ct, "", form(authParams("pub")...))
	f.Add("POST", ct, "", form(authParams("post", "client_secret", "post-secret")...))
	f.Add("POST", ct, confAuth, form("client_id", "conf", "request", signRequestObject(f, e.key, jose.ES256, "JWT", roClaims("conf", e.clock.Now()))))
	f.Add("POST", ct, "", form(authParams("pkj", "client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", "client_assertion", "e30.e30.e30")...))
	f.Add("GET", "", "", "")
	f.Add("POST", "application/json", confAuth, `{"client_id":"conf"}`)
	f.Add("POST", ct+"; charset=utf-8", "Basic !!!", "client_id=%zz")
	f.Add("POST", ct, "Bearer x", form(authParams("conf", "request_uri", "urn:x")...))
	f.Add("POST", ct, "Basic "+strings.Repeat("A", 300), strings.Repeat("a=1&", 2000))
	f.Fuzz(func(t *testing.T, method, contentType, authorization, body string) {
		if !validMethod(method) {
			method = http.MethodPost
		}
		r := httptest.NewRequest(http.MethodPost, testPARURL, strings.NewReader(body))
		r.Method = method
		r.Header.Set("Content-Type", contentType)
		r.Header.Set("Authorization", authorization)
		w := httptest.NewRecorder()
		e.svc.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		if w.Code == http.StatusCreated {
			if !IsRequestURI(pushResponseOf(t, w).RequestURI) {
				t.Fatalf("201 without request_uri: %s", w.Body)
			}
			return
		}
		var answer struct {
			Error string `json:"error"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &answer); err != nil || answer.Error == "" {
			t.Fatalf("status %d with body %q, want a JSON OAuth error", w.Code, w.Body)
		}
	})
}

// validMethod reports whether m is a usable HTTP method token.
func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for i := 0; i < len(m); i++ {
		if b := m[i]; b <= ' ' || b >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", b) >= 0 {
			return false
		}
	}
	return true
}

func pushResponseOf(t *testing.T, w *httptest.ResponseRecorder) pushResponse {
	t.Helper()
	var resp pushResponse
	if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
		t.Fatalf("201 body %q: %v", w.Body, err)
	}
	return resp
}
