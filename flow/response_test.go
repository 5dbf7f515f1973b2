package flow

import (
	"errors"
	"html"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestStateOf(t *testing.T) {
	tests := []struct {
		name, location, want string
		ok                   bool
	}{
		{"state in the query", "https://c.example/cb?code=x&state=abc", "abc", true},
		{"state in the fragment", "https://c.example/cb#access_token=t&state=abc", "abc", true},
		{"escaped state", "https://c.example/cb?state=a%20b%26c", "a b&c", true},
		{"empty state", "https://c.example/cb?state=", "", true},
		{"no state", "https://c.example/cb?code=x", "", false},
		{"malformed query", "https://c.example/cb?state=%zz", "", false},
		{"query wins over fragment", "https://c.example/cb?state=q#state=f", "q", true},
		{"relative location", "/interaction/123", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := StateOf(tt.location)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("StateOf(%q) = %q, %v; want %q, %v", tt.location, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestResponseParams(t *testing.T) {
	tests := []struct {
		name, location, redirectURI string
		want                        url.Values
		wantErr                     error
	}{
		{"query response", "https://c.example/cb?code=c1&state=s", "https://c.example/cb",
			url.Values{"code": {"c1"}, "state": {"s"}}, nil},
		{"fragment response", "https://c.example/cb#id_token=t&code=c&state=s", "https://c.example/cb",
			url.Values{"id_token": {"t"}, "code": {"c"}, "state": {"s"}}, nil},
		{"redirect_uri's own query is left out", "https://c.example/cb?tenant=7&code=c1&state=s", "https://c.example/cb?tenant=7",
			url.Values{"code": {"c1"}, "state": {"s"}}, nil},
		{"host compared without case", "https://C.EXAMPLE/cb?code=c", "https://c.example/cb", url.Values{"code": {"c"}}, nil},
		{"error response", "https://c.example/cb?error=access_denied&error_description=no&state=s", "https://c.example/cb",
			url.Values{"error": {"access_denied"}, "error_description": {"no"}, "state": {"s"}}, nil},
		{"other host", "https://evil.example/cb?code=c", "https://c.example/cb", nil, ErrRedirectMismatch},
		{"other path", "https://c.example/cb2?code=c", "https://c.example/cb", nil, ErrRedirectMismatch},
		{"path prefix is not enough", "https://c.example/cb/x?code=c", "https://c.example/cb", nil, ErrRedirectMismatch},
		{"other scheme", "http://c.example/cb?code=c", "https://c.example/cb", nil, ErrRedirectMismatch},
		{"other port", "https://c.example:8443/cb?code=c", "https://c.example/cb", nil, ErrRedirectMismatch},
		{"userinfo added", "https://u@c.example/cb?code=c", "https://c.example/cb", nil, ErrRedirectMismatch},
		{"redirect_uri's query missing", "https://c.example/cb?code=c", "https://c.example/cb?tenant=7", nil, ErrRedirectMismatch},
		{"redirect_uri's query changed", "https://c.example/cb?tenant=8&code=c", "https://c.example/cb?tenant=7", nil, ErrRedirectMismatch},
		{"repeated parameter", "https://c.example/cb?code=a&code=b", "https://c.example/cb", nil, ErrMalformedResponse},
		{"parameter in query and fragment", "https://c.example/cb?state=a#state=b", "https://c.example/cb", nil, ErrMalformedResponse},
		{"malformed escape", "https://c.example/cb?code=%zz", "https://c.example/cb", nil, ErrMalformedResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ResponseParams(tt.location, tt.redirectURI)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Encode() != tt.want.Encode() {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestBuildQueryKeepsTheRedirectURIsQuery(t *testing.T) {
	r, err := Build("https://c.example/cb?tenant=7&x=a%20b", ModeQuery, url.Values{"response": {"jwt"}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != 302 {
		t.Fatalf("status %d", r.Status)
	}
	if got, want := r.Header.Get("Location"), "https://c.example/cb?tenant=7&x=a%20b&response=jwt"; got != want {
		t.Fatalf("Location = %q, want %q", got, want)
	}
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Fatal("redirect is cacheable")
	}
}

func TestBuildFragment(t *testing.T) {
	r, err := Build("https://c.example/cb?tenant=7", ModeFragment, url.Values{"state": {"a b&c"}, "code": {"x"}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := r.Header.Get("Location"), "https://c.example/cb?tenant=7#code=x&state=a+b%26c"; got != want {
		t.Fatalf("Location = %q, want %q", got, want)
	}
}

func TestBuildFormPost(t *testing.T) {
	r, err := Build("https://c.example/cb?tenant=7", ModeFormPost, url.Values{"response": {`"><script>alert(1)</script>`}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != 200 {
		t.Fatalf("status %d", r.Status)
	}
	for h, want := range map[string]string{
		"Cache-Control":   "no-store",
		"Pragma":          "no-cache",
		"Referrer-Policy": "no-referrer",
		"Content-Type":    "text/html; charset=utf-8",
	} {
		if got := r.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	csp := r.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src "+formPostScriptHash) || !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "form-action https://c.example") {
		t.Fatalf("CSP = %q", csp)
	}
	body := string(r.Body)
	// The no-script fallback is readable, and its style, as written, is
	// the one the CSP allows.
	if !strings.Contains(body, "<noscript><main><h1>One more step to finish signing in</h1>") || !strings.Contains(body, "Select Continue to go back to the app.") {
		t.Fatalf("no readable no-script fallback:\n%s", body)
	}
	style := body[strings.Index(body, "<style>")+len("<style>") : strings.Index(body, "</style>")]
	if h := hashSource(style); !strings.Contains(csp, "style-src "+h+";") {
		t.Fatalf("CSP %q does not allow the page's style (%s)", csp, h)
	}
	if strings.Contains(body, "<script>alert") {
		t.Fatal("value not escaped")
	}
	if !strings.Contains(body, `action="https://c.example/cb?tenant=7"`) {
		t.Fatalf("form action missing:\n%s", body)
	}
	checkFormPage(t, body, "https://c.example/cb?tenant=7", url.Values{"response": {`"><script>alert(1)</script>`}})
}

var (
	scriptRe = regexp.MustCompile(`(?s)<script>(.*?)</script>`)
	inputRe  = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)
	actionRe = regexp.MustCompile(`<form method="post" action="([^"]*)">`)
)

// checkFormPage asserts that the page is well-formed: exactly the one
// allowed script, one form posting to action, and exactly params as hidden
// fields, after HTML unescaping.
func checkFormPage(t *testing.T, body, action string, params url.Values) {
	t.Helper()
	scripts := scriptRe.FindAllStringSubmatch(body, -1)
	if len(scripts) != 1 || scripts[0][1] != formPostScript {
		t.Fatalf("page has scripts %q", scripts)
	}
	if n := strings.Count(body, "<form"); n != 1 {
		t.Fatalf("page has %d forms", n)
	}
	m := actionRe.FindStringSubmatch(body)
	if m == nil || html.UnescapeString(m[1]) != action {
		t.Fatalf("form action %q, want %q", m, action)
	}
	got := url.Values{}
	for _, in := range inputRe.FindAllStringSubmatch(body, -1) {
		got.Add(html.UnescapeString(in[1]), html.UnescapeString(in[2]))
	}
	if got.Encode() != params.Encode() {
		t.Fatalf("fields %v, want %v", got, params)
	}
	if n := strings.Count(body, "<input"); n != len(inputRe.FindAllString(body, -1)) {
		t.Fatalf("page has inputs the parser cannot read")
	}
}

func TestFormPostRefusesNonHTTPActions(t *testing.T) {
	for _, uri := range []string{"javascript:alert(1)", "data:text/html,x", "://bad"} {
		if _, err := FormPost(uri, url.Values{}); err == nil {
			t.Errorf("FormPost(%q) accepted", uri)
		}
	}
}

func FuzzResponseParams(f *testing.F) {
	f.Add("https://c.example/cb?code=x&state=s", "https://c.example/cb")
	f.Add("https://c.example/cb?t=1#id_token=x&state=s", "https://c.example/cb?t=1")
	f.Add("https://c.example/cb?code=%zz", "https://c.example/cb")
	f.Add("::", "")
	f.Fuzz(func(t *testing.T, location, redirectURI string) {
		StateOf(location)
		params, err := ResponseParams(location, redirectURI)
		if err != nil {
			if !errors.Is(err, ErrRedirectMismatch) && !errors.Is(err, ErrMalformedResponse) {
				t.Fatalf("unexpected error type: %v", err)
			}
			return
		}
		for k, vs := range params {
			if len(vs) != 1 {
				t.Fatalf("parameter %q has %d values", k, len(vs))
			}
		}
	})
}

func FuzzFormPost(f *testing.F) {
	f.Add("https://c.example/cb", "response", `"><script>alert(1)</script>`)
	f.Add("https://c.example/cb?a=b&c=<d>", "state", "&amp;'\"</form>")
	f.Add("http://127.0.0.1:1/x", "a\x00b", "\u2028")
	f.Fuzz(func(t *testing.T, action, name, value string) {
		params := url.Values{name: {value}, "iss": {"https://issuer.example"}}
		body, err := FormPost(action, params)
		if err != nil {
			return
		}
		u, _ := url.Parse(action)
		// html/template may normalise the action URL's escaping; what the
		// browser posts to is the parsed URL.
		s := string(body)
		if strings.Count(s, "<script") != 1 || strings.Count(s, "</script>") != 1 {
			t.Fatalf("injection: %s", s)
		}
		if strings.Count(s, "<form") != 1 || strings.Count(s, "</form>") != 1 {
			t.Fatalf("injection: %s", s)
		}
		m := actionRe.FindStringSubmatch(s)
		if m == nil {
			t.Fatalf("no form action: %s", s)
		}
		got0, err := url.Parse(html.UnescapeString(m[1]))
		if err != nil || got0.Scheme != u.Scheme || got0.Host != u.Host || got0.Path != u.Path || got0.Query().Encode() != u.Query().Encode() {
			t.Fatalf("action %q, want %q", html.UnescapeString(m[1]), u.String())
		}
		got := url.Values{}
		for _, in := range inputRe.FindAllStringSubmatch(s, -1) {
			got.Add(html.UnescapeString(in[1]), html.UnescapeString(in[2]))
		}
		// html/template replaces NUL and invalid UTF-8 with U+FFFD.
		clean := utf8.ValidString(name+value) && !strings.ContainsAny(name+value, "\x00\uFFFD")
		if clean && got.Encode() != params.Encode() {
			t.Fatalf("fields %v, want %v", got, params)
		}
	})
}

func TestResponseParamsErrorsNeverQuoteTheLocation(t *testing.T) {
	for _, loc := range []string{
		"https://c.example:abc/cb?code=SECRET-CODE&state=s",
		"https://c.example/cb?code=SECRET-CODE&x=%zz",
		"https://c.example/cb#access_token=SECRET-CODE&x=%zz",
	} {
		_, err := ResponseParams(loc, "https://c.example/cb")
		if err == nil || strings.Contains(err.Error(), "SECRET") {
			t.Fatalf("err = %v", err)
		}
	}
}

func TestIDsIn(t *testing.T) {
	id, other := NewID(), NewID()
	for _, tc := range []struct {
		name, location string
		want           []string
	}{
		{"a state after a ; separator", "https://c.example/cb?code=x;state=" + id, []string{id}},
		{"a repeated state", "https://c.example/cb?state=" + id + "&state=" + id, []string{id}},
		{"two ids", "https://c.example/cb?state=" + id + "&x=" + other, []string{id, other}},
		{"a state in the fragment next to one in the query", "https://c.example/cb?state=s#code=x&state=" + id, []string{id}},
		{"a hash route", "https://c.example/#/cb?code=x&state=" + id, []string{id}},
		{"a state before a ?", "https://c.example/cb#code=x&state=" + id + "?", []string{id}},
		{"a percent-encoded id", "https://c.example/cb?code=%zz&state=" + strings.Replace(id, "_", "%5F", 1), []string{id}},
		{"an encoded name", "https://c.example/cb?st%61te=" + id + "&state=s", []string{id}},
		{"a tab a browser removes", "https://c.example/cb?state=" + id[:9] + "\t" + id[9:], []string{id}},
		{"a newline inside the marker", "https://c.example/cb?state=pj\nt_" + id[4:], []string{id}},
		{"a login page's return URL", "/login?return=" + url.QueryEscape("/auth?state="+id), []string{id}},
		{"a return URL inside a return URL", "/login?next=" + url.QueryEscape("/consent?return="+url.QueryEscape("/auth?x=1&state="+id)), []string{id}},
		{"a saved query", "/login?q=" + url.QueryEscape("client_id=c&state="+id), []string{id}},
		{"a short id", "https://c.example/cb?state=pjt_short", nil},
		{"inside a code", "https://c.example/cb?code=xxx" + id + "yyy&state=s", nil},
		{"at the start of a code", "https://c.example/cb?code=" + id + "yyy", nil},
		{"at the end of an access token", "https://c.example/cb#access_token=xxx" + id + "&state=s", nil},
		{"inside an ID Token", "https://c.example/cb#id_token=eyJ." + id + ".sig", nil},
		{"inside an encoded value", "https://c.example/cb?code=a%2F" + id + "%2B", nil},
		{"followed by a space", "https://c.example/cb?code=" + id + "+", nil},
		{"a name, not a value", "https://c.example/cb?" + id + "&state=s", nil},
		{"in the path", "https://c.example/" + id + "/cb?state=s", nil},
		{"after = in the path", "https://c.example/a=" + id, nil},
		{"no query", "https://c.example/cb", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := IDsIn(tc.location); !slices.Equal(got, tc.want) {
				t.Fatalf("IDsIn(%q) = %q, want %q", tc.location, got, tc.want)
			}
		})
	}
}

// FuzzIDsIn embeds a transaction id in a parameter value: IDsIn finds it
// only when it is the whole value, never as a run inside a longer one (a
// code, token or ID Token that happens to contain it).
func FuzzIDsIn(f *testing.F) {
	f.Add("xxx", "yyy", uint8(0))
	f.Add("", "", uint8(1))
	f.Add("eyJhbGciOiJSUzI1NiJ9.eyJ", ".c2ln", uint8(2))
	f.Add("a&state=", "&b", uint8(3))
	f.Add("x%3D", "", uint8(4))
	f.Add("", "%26", uint8(5))
	f.Add("/auth?state=", "x", uint8(6))
	f.Fuzz(func(t *testing.T, prefix, suffix string, shape uint8) {
		// The characters next to the id are not ones that end a value,
		// before or after percent-decoding.
		if prefix != "" && strings.ContainsRune(valueEnds, rune(prefix[len(prefix)-1])) {
			prefix = prefix[:len(prefix)-1] + "x"
		}
		if suffix != "" && strings.ContainsRune(valueEnds, rune(suffix[0])) {
			suffix = "y" + suffix[1:]
		}
		id := NewID()
		value := prefix + id + suffix
		esc := url.QueryEscape(value)
		loc := [...]string{
			"https://c.example/cb?code=" + esc + "&state=s",
			"https://c.example/cb#access_token=" + esc + "&state=s",
			"https://c.example/cb?a=1;code=" + esc,
			"https://c.example/#/cb?code=" + esc,
			"https://c.example/cb?x=1#y=2?code=" + esc,
			"/login?return=" + url.QueryEscape("/auth?code="+esc),
			"https://c.example/cb?code=" + strings.ReplaceAll(esc, "%", "%25"),
		}[int(shape)%7]
		ids := IDsIn(loc)
		if value == id {
			if !slices.Contains(ids, id) {
				t.Fatalf("IDsIn(%q) = %q: the id as a whole value was missed", loc, ids)
			}
			return
		}
		// Percent-decoding an id-final value can end the text before it
		// with a separator ("%3D" + id): only a character after the id
		// keeps it inside the value whatever is decoded.
		if (suffix != "" || !strings.Contains(prefix, "%")) && slices.Contains(ids, id) {
			t.Fatalf("IDsIn(%q) = %q: found inside the value %q", loc, ids, value)
		}
		if !strings.Contains(prefix+suffix, "%") && !strings.Contains(prefix+suffix, idPrefix) && len(ids) > 0 {
			t.Fatalf("IDsIn(%q) = %q: found in a value with no whole id", loc, ids)
		}
	})
}

// valueEnds are the characters that end a parameter value for IDsIn, or
// start an escape that could decode to one, or that a browser removes.
const valueEnds = "&;?#=%\t\n\r"

func TestUnescape(t *testing.T) {
	for in, want := range map[string]string{
		"a+b":       "a b",
		"a%2Bb":     "a+b",
		"%5f%5F":    "__",
		"%zz%":      "%zz%",
		"100%":      "100%",
		"%4":        "%4",
		"%41%4":     "A%4",
		"plain":     "plain",
		"%e2%82%ac": "€",
	} {
		if got := Unescape(in); got != want {
			t.Errorf("Unescape(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzUnescape checks that Unescape decodes as url.QueryUnescape wherever
// that succeeds.
func FuzzUnescape(f *testing.F) {
	f.Add("a+b%20c")
	f.Add("%zz%4")
	f.Fuzz(func(t *testing.T, s string) {
		got := Unescape(s)
		if want, err := url.QueryUnescape(s); err == nil && got != want {
			t.Fatalf("Unescape(%q) = %q, url.QueryUnescape = %q", s, got, want)
		}
	})
}

func TestBrowserForm(t *testing.T) {
	for in, want := range map[string]string{
		" \x00/cb?x=1\x1f ": "/cb?x=1",
		"/\t/evil.example":  "//evil.example",
		"/a\nb\rc":          "/abc",
		"/a b":              "/a b",
		"https://c.example": "https://c.example",
	} {
		if got := BrowserForm(in); got != want {
			t.Errorf("BrowserForm(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLooseParams(t *testing.T) {
	for loc, want := range map[string]string{
		"https://c.example/cb":                   "",
		"https://c.example/a=b/cb":               "",
		"https://c.example/cb?a=1;b&c=%41=x":     "a=1 b= c=%41=x",
		"https://c.example/cb?a=1#b=2?c=3#d=4":   "a=1 b=2 c=3 d=4",
		"https://c.example/#/cb?code=x&&state=s": "/cb= code=x state=s",
		"https://c.example/cb#x?code=x&state=s":  "x= code=x state=s",
		"/login?return=%2Fauth%3Fstate%3Dpjt_x":  "return=%2Fauth%3Fstate%3Dpjt_x",
	} {
		var got []string
		for name, value := range LooseParams(loc) {
			got = append(got, name+"="+value)
		}
		if s := strings.Join(got, " "); s != want {
			t.Errorf("LooseParams(%q) = %q, want %q", loc, s, want)
		}
	}
}
