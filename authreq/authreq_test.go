package authreq

import (
	"encoding/base64"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/parjarm/parjarm/oauth"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, query, body string
		want              url.Values // nil: refused with invalid_request
	}{
		{"query only", "client_id=c&state=s", "", url.Values{"client_id": {"c"}, "state": {"s"}}},
		{"body only", "", "client_id=c&state=s", url.Values{"client_id": {"c"}, "state": {"s"}}},
		{"query and body together", "client_id=c", "state=s", url.Values{"client_id": {"c"}, "state": {"s"}}},
		{"an empty value is kept", "state=", "", url.Values{"state": {""}}},
		{"a name without = is an empty value", "state", "", url.Values{"state": {""}}},
		{"empty pairs are skipped", "&&client_id=c&", "", url.Values{"client_id": {"c"}}},
		{"escapes are decoded", "scope=openid+profile&x=%C3%A9", "", url.Values{"scope": {"openid profile"}, "x": {"é"}}},
		{"unknown names in any case", "Foo=1&bar=2", "", url.Values{"Foo": {"1"}, "bar": {"2"}}},
		{"in the query twice", "client_id=a&client_id=b", "", nil},
		{"resource may repeat (RFC 8707)", "resource=https%3A%2F%2Fa.example&resource=https%3A%2F%2Fb.example", "", url.Values{"resource": {"https://a.example", "https://b.example"}}},
		{"Resource next to resource", "resource=a&Resource=b", "", nil},
		{"in the body twice", "", "state=a&state=a", nil},
		{"in the query and the body", "client_id=a", "client_id=a", nil},
		{"twice, once empty", "state=&state=x", "", nil},
		{"an OAuth name in another case", "CLIENT_ID=a", "", nil},
		{"an OAuth name with a capital", "Redirect_Uri=x", "", nil},
		{"an OAuth name with a dot", "client.id=a", "", nil},
		{"an OAuth name with a space", "client%20id=a", "", nil},
		{"an OAuth name with a leading space", "%20client_id=a", "", nil},
		{"an OAuth name with a bracket", "client[id=a", "", nil},
		{"two unknown names read as one", "foo=1&FOO=2", "", nil},
		{"two unknown names read as one across query and body", "x.y=1", "x_y=2", nil},
		{"a NUL in a name", "client_id%00=a", "", nil},
		{"an OAuth name as a PHP/Rack array", "client_id%5B%5D=a", "", nil},
		{"an OAuth name with an index", "client_id%5B0%5D=a", "", nil},
		{"two array entries", "x%5B%5D=1&x%5B%5D=2", "", nil},
		{"an unclosed bracket elsewhere is a name", "a%5Bb=1", "", url.Values{"a[b": {"1"}}},
		{"a name outside ASCII", "cl%C4%B1ent_id=a", "", nil},
		{"a long s in a name", "re%C5%BFponse_mode=a", "", nil},
		{"a newline in a name", "client_id%0A=a", "", nil},
		{"a ; separator", "client_id=a;state=b", "", nil},
		{"a malformed escape", "state=%zz", "", nil},
		{"a malformed name escape", "%zz=1", "", nil},
		{"a nameless parameter", "=a", "", nil},
		{"a name that is not UTF-8", "%ff=a", "", nil},
		{"a value that is not UTF-8", "state=%ff", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.query, tc.body, 0)
			if tc.want == nil {
				var oe *oauth.Error
				if !errors.As(err, &oe) || oe.Code != "invalid_request" || oe.Status != 400 {
					t.Fatalf("Parse = %v, %v; want invalid_request", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Encode() != tc.want.Encode() || len(got) != len(tc.want) {
				t.Fatalf("Parse = %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("more than maxParams parameters", func(t *testing.T) {
		if _, err := Parse("a=1&b=2", "c=3", 3); err != nil {
			t.Fatalf("3 of 3: %v", err)
		}
		var oe *oauth.Error
		if _, err := Parse("a=1&b=2", "c=3&d=4", 3); !errors.As(err, &oe) || oe.Code != "invalid_request" {
			t.Fatalf("4 of 3: %v", err)
		}
	})
	t.Run("descriptions never echo values", func(t *testing.T) {
		_, err := Parse("state=secret-value&state=secret-value", "", 0)
		if err == nil || strings.Contains(err.Error(), "secret-value") {
			t.Fatalf("err = %v", err)
		}
	})
}

func jws(payload string) string {
	return "eyJhbGciOiJQUzI1NiJ9." + base64.RawURLEncoding.EncodeToString([]byte(payload)) + ".c2ln"
}

func TestRequestObjectClients(t *testing.T) {
	for _, tc := range []struct {
		name     string
		request  string
		ids      []string
		readable bool
	}{
		{"client_id and iss", jws(`{"client_id":"a","iss":"a","scope":"openid"}`), []string{"a", "a"}, true},
		{"client_id alone", jws(`{"client_id":"a"}`), []string{"a"}, true},
		{"neither", jws(`{"scope":"openid"}`), nil, true},
		{"claims in any case", jws(`{"Client_ID":"a","ISS":"b"}`), []string{"a", "b"}, true},
		{"a padded payload", strings.Replace(jws(`{"client_id":"a"}`), ".c2ln", "==.c2ln", 1), []string{"a"}, true},
		{"client_id twice", jws(`{"client_id":"a","client_id":"b"}`), nil, false},
		{"client_id in two cases", jws(`{"client_id":"a","CLIENT_ID":"b"}`), nil, false},
		{"any claim twice", jws(`{"scope":"a","scope":"b"}`), nil, false},
		{"client_id not a string", jws(`{"client_id":["a"]}`), nil, false},
		{"a claim name outside ASCII (encoding/json folds ſ to s)", jws(`{"client_id":"a","iſs":"b"}`), nil, false},
		{"iss not a string", jws(`{"iss":1}`), nil, false},
		{"a payload that is not an object", jws(`["a"]`), nil, false},
		{"a payload that is not JSON", jws(`client_id=a`), nil, false},
		{"an unterminated object", jws(`{"client_id":"a"`), nil, false},
		{"a payload that is not base64url", "eyJhbGciOiJub25lIn0.e30+/.", nil, false},
		{"an encrypted request object", "eyJhbGciOiJSU0EtT0FFUC0yNTYifQ.a.b.c.d", nil, false},
		{"not a JWT", "abc", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ids, readable := RequestObjectClients(tc.request)
			if readable != tc.readable || !slices.Equal(ids, tc.ids) {
				t.Fatalf("RequestObjectClients = %q, %v; want %q, %v", ids, readable, tc.ids, tc.readable)
			}
		})
	}
}

// FuzzParse: any query and body either parse into a set in which no two
// names are read as one and every OAuth name is spelt exactly, or are
// refused with invalid_request; never a panic.
func FuzzParse(f *testing.F) {
	f.Add("client_id=c&state=s", "scope=openid")
	f.Add("CLIENT_ID=c", "")
	f.Add("client.id=c&client_id=d", "x=%zz")
	f.Add("", "state=&state=")
	f.Fuzz(func(t *testing.T, query, body string) {
		params, err := Parse(query, body, 50)
		if err != nil {
			var oe *oauth.Error
			if !errors.As(err, &oe) || oe.Code != "invalid_request" || oe.Status != 400 {
				t.Fatalf("error %v is not invalid_request", err)
			}
			return
		}
		seen := map[string]bool{}
		for name, vs := range params {
			if len(vs) != 1 && !multiValued[name] {
				t.Fatalf("%q has %d values", name, len(vs))
			}
			f := fold(name)
			if seen[f] {
				t.Fatalf("two names fold to %q", f)
			}
			seen[f] = true
			if k, ok := knownFolded[f]; ok && k != name {
				t.Fatalf("%q passed as a spelling of %q", name, k)
			}
		}
		if len(params) > 50 {
			t.Fatalf("%d parameters", len(params))
		}
	})
}

// FuzzRequestObjectClients: any request value is read or declared
// unreadable, never a panic; a readable one has at most two ids.
func FuzzRequestObjectClients(f *testing.F) {
	f.Add(jws(`{"client_id":"a","iss":"a"}`))
	f.Add("a.b.c")
	f.Add("a.b.c.d.e")
	f.Fuzz(func(t *testing.T, request string) {
		ids, readable := RequestObjectClients(request)
		if !readable && ids != nil {
			t.Fatalf("unreadable with ids %q", ids)
		}
		if len(ids) > 2 {
			t.Fatalf("%d ids", len(ids))
		}
	})
}

func TestTruncate(t *testing.T) {
	long := strings.Repeat("é", 40) // 80 bytes
	if got, want := Truncate(long), strings.Repeat("é", 20)+"…"; got != want {
		t.Errorf("Truncate = %q, want %q", got, want)
	}
	if got := Truncate("short"); got != "short" {
		t.Errorf("Truncate(short) = %q", got)
	}
}
