package flow

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"iter"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// ErrRedirectMismatch is returned when an intercepted Location does not go
// to the transaction's redirect_uri.
var ErrRedirectMismatch = errors.New("flow: Location does not match the transaction's redirect_uri")

// ErrMalformedResponse is returned when an intercepted Location cannot be
// parsed, or repeats a response parameter.
var ErrMalformedResponse = errors.New("flow: malformed authorization response")

// StateOf returns the `state` carried by an upstream redirect's Location, in
// its query or its fragment, and whether there is one. It never fails: a
// Location it cannot read has no state.
func StateOf(location string) (string, bool) {
	base, frag, _ := strings.Cut(location, "#")
	if _, q, ok := strings.Cut(base, "?"); ok {
		if v, err := url.ParseQuery(q); err == nil && v.Has("state") {
			return v.Get("state"), true
		}
	}
	if frag != "" {
		if v, err := url.ParseQuery(frag); err == nil && v.Has("state") {
			return v.Get("state"), true
		}
	}
	return "", false
}

// IDsIn returns the transaction ids that location carries as whole
// parameter values, in the order found. The interception uses it to notice a
// Location that carries one of our ids where StateOf cannot read it (a
// malformed query, a `;` separator, a repeated state, a state in both the
// query and the fragment), so that such a response never passes.
//
// Only the places where the gateway's state can end up are read: the values
// of location's query and fragment, split leniently by LooseParams, as
// written or percent-decoded (`+` as a space), and the same in a value that
// is itself a URL or a query (a login page's return URL), nested up to
// maxNesting deep. An id-shaped run inside a longer value (a code, token or
// ID Token that happens to contain one) is not an id. location is read both
// as it is and as a browser reads it (BrowserForm).
func IDsIn(location string) []string {
	if !strings.Contains(location, idPrefix) && !strings.ContainsAny(location, "%\t\n\r") {
		// No id can be in it, raw, escaped or split by what a browser drops:
		// the common case of every proxied redirect and page costs nothing
		// more.
		return nil
	}
	var f idFinder
	f.scan(location, 0)
	if b := BrowserForm(location); b != location {
		f.scan(b, 0)
	}
	return f.ids
}

// maxNesting is how deep IDsIn looks into values that are URLs or queries.
const maxNesting = 4

type idFinder struct{ ids []string }

// scan reads the parameter values of s, a URL (depth 0) or a value that is
// a URL or a query (depth > 0).
func (f *idFinder) scan(s string, depth int) {
	if depth > 0 && !strings.ContainsAny(s, "?#") {
		s = "?" + s // a query on its own
	}
	for _, v := range LooseParams(s) {
		dec := Unescape(v)
		for _, c := range []string{v, dec} {
			if IsID(c) && !slices.Contains(f.ids, c) {
				f.ids = append(f.ids, c)
			}
		}
		if depth < maxNesting && strings.Contains(dec, "=") {
			f.scan(dec, depth+1)
		}
	}
}

// LooseParams returns the parameters of location's query and fragment, read
// as leniently as a client's script or router might: everything after the
// first `?` or `#`, split on `&`, `;`, `?` and `#` (so that a hash route
// such as `#/cb?code=…` is read too), each part a name and, after its first
// `=`, a value. Names and values are returned as written, not decoded.
func LooseParams(location string) iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		i := strings.IndexAny(location, "?#")
		if i < 0 {
			return
		}
		for part := range strings.FieldsFuncSeq(location[i+1:], isParamSep) {
			name, value, _ := strings.Cut(part, "=")
			if !yield(name, value) {
				return
			}
		}
	}
}

func isParamSep(r rune) bool { return r == '&' || r == ';' || r == '?' || r == '#' }

// Unescape decodes s as a form value: `+` is a space and `%XX` a byte. It
// never fails: an invalid escape is kept as it is, as browsers'
// URLSearchParams do (WHATWG URL Standard, "percent-decode").
func Unescape(s string) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '+':
			b = append(b, ' ')
		case c == '%' && i+2 < len(s) && ishex(s[i+1]) && ishex(s[i+2]):
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

// BrowserForm returns location as a browser reads it before parsing it
// (WHATWG URL Standard, basic URL parser, first steps): without leading and
// trailing C0 controls and spaces, and without any ASCII tab or newline.
func BrowserForm(location string) string {
	s := strings.TrimFunc(location, func(r rune) bool { return r <= ' ' })
	if !strings.ContainsAny(s, "\t\n\r") {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, s)
}

// ResponseParams checks that location goes to redirectURI and returns the
// authorization response parameters it carries, from its query and its
// fragment. The redirect_uri's own query parameters are not response
// parameters and are left out. location must have redirectURI's scheme, host
// and port and path exactly, and carry every query parameter of redirectURI.
func ResponseParams(location, redirectURI string) (url.Values, error) {
	// Errors never quote the Location: it carries codes and tokens.
	loc, err := url.Parse(location)
	if err != nil {
		return nil, fmt.Errorf("%w: the Location is not a URL", ErrMalformedResponse)
	}
	reg, err := url.Parse(redirectURI)
	if err != nil {
		return nil, fmt.Errorf("%w: the registered redirect_uri is not a URL", ErrRedirectMismatch)
	}
	if !strings.EqualFold(loc.Scheme, reg.Scheme) || !strings.EqualFold(loc.Host, reg.Host) ||
		loc.User.String() != reg.User.String() || loc.EscapedPath() != reg.EscapedPath() || loc.Opaque != reg.Opaque {
		return nil, ErrRedirectMismatch
	}
	query, err := parseStrict(loc.RawQuery)
	if err != nil {
		return nil, err
	}
	own, err := url.ParseQuery(reg.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("%w: the registered redirect_uri's query does not parse", ErrRedirectMismatch)
	}
	// The redirect_uri's own query is kept by the upstream (RFC 6749,
	// section 3.1.2): take it out, value by value.
	for k, vs := range own {
		for _, v := range vs {
			got := query[k]
			i := indexOf(got, v)
			if i < 0 {
				return nil, ErrRedirectMismatch
			}
			got = append(got[:i:i], got[i+1:]...)
			if len(got) == 0 {
				delete(query, k)
			} else {
				query[k] = got
			}
		}
	}
	frag, err := parseStrict(loc.EscapedFragment())
	if err != nil {
		return nil, err
	}
	params := url.Values{}
	for _, src := range []url.Values{query, frag} {
		for k, vs := range src {
			if len(vs) != 1 || params.Has(k) {
				return nil, fmt.Errorf("%w: parameter %q repeated", ErrMalformedResponse, k)
			}
			params.Set(k, vs[0])
		}
	}
	return params, nil
}

func parseStrict(raw string) (url.Values, error) {
	if raw == "" {
		return url.Values{}, nil
	}
	v, err := url.ParseQuery(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: a query or fragment does not parse", ErrMalformedResponse)
	}
	return v, nil
}

func indexOf(vs []string, v string) int {
	for i, x := range vs {
		if x == v {
			return i
		}
	}
	return -1
}

// Response is an authorization response ready to be written: a redirect or an
// auto-submitting form.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Write writes the response to w.
func (r *Response) Write(w http.ResponseWriter) {
	for k, vs := range r.Header {
		w.Header()[k] = vs
	}
	w.WriteHeader(r.Status)
	_, _ = w.Write(r.Body)
}

// Build returns the response that delivers params to redirectURI in mode
// base (query, fragment or form_post). For query, parameters are added to
// the redirect_uri's own query, which is kept as it is (RFC 6749, section
// 3.1.2).
func Build(redirectURI, base string, params url.Values) (*Response, error) {
	h := http.Header{}
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("Referrer-Policy", "no-referrer")
	switch base {
	case ModeQuery:
		u, err := url.Parse(redirectURI)
		if err != nil {
			return nil, fmt.Errorf("flow: redirect_uri: %w", err)
		}
		if u.RawQuery != "" {
			u.RawQuery += "&" + params.Encode()
		} else {
			u.RawQuery = params.Encode()
		}
		h.Set("Location", u.String())
		return &Response{Status: http.StatusFound, Header: h}, nil
	case ModeFragment:
		target, _, _ := strings.Cut(redirectURI, "#")
		h.Set("Location", target+"#"+params.Encode())
		return &Response{Status: http.StatusFound, Header: h}, nil
	case ModeFormPost:
		body, err := FormPost(redirectURI, params)
		if err != nil {
			return nil, err
		}
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", formPostCSP(redirectURI))
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		return &Response{Status: http.StatusOK, Header: h, Body: body}, nil
	}
	return nil, fmt.Errorf("flow: unknown response mode %q", base)
}

// formPostScript is the only script the form_post page runs; the page's
// Content-Security-Policy allows exactly this script by its hash.
const formPostScript = `document.forms[0].submit();`

// formPostStyle styles the page's no-script fallback, the only part a
// person may see; the Content-Security-Policy allows it by its hash. It has
// no comments (html/template would remove them and change the hash).
const formPostStyle = `html{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",Arial,sans-serif;line-height:1.55;background:#f3f4f6;color:#111827}` +
	`body{margin:0;padding:10vh 1rem 2rem;display:flex;justify-content:center}` +
	`main{max-width:36rem;width:100%;background:#fff;border:1px solid #d1d5db;border-radius:14px;padding:2rem}` +
	`h1{font-size:1.5rem;line-height:1.3;margin:0 0 .75rem}p{margin:0 0 1.5rem;font-size:1.0625rem}` +
	`button{font:inherit;font-weight:600;padding:.7rem 1.6rem;border-radius:10px;border:0;background:#1d4ed8;color:#fff;cursor:pointer}` +
	`button:focus-visible{outline:3px solid #111827;outline-offset:2px}`

func hashSource(text string) string {
	sum := sha256.Sum256([]byte(text))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

var (
	formPostScriptHash = hashSource(formPostScript)
	formPostStyleHash  = hashSource(formPostStyle)
)

func formPostCSP(redirectURI string) string {
	action := "'self'"
	if u, err := url.Parse(redirectURI); err == nil && u.Scheme != "" && u.Host != "" {
		action = u.Scheme + "://" + u.Host
	}
	return "default-src 'none'; script-src " + formPostScriptHash + "; style-src " + formPostStyleHash +
		"; form-action " + action + "; frame-ancestors 'none'; base-uri 'none'"
}

var formPostTemplate = template.Must(template.New("form_post").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="robots" content="noindex">
<title>Finishing sign-in</title>
<style>{{.Style}}</style>
</head>
<body>
<form method="post" action="{{.Action}}">
{{range .Fields}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">
{{end}}<noscript><main><h1>One more step to finish signing in</h1>
<p>JavaScript is turned off in this browser, so the sign-in cannot continue on its own. Select Continue to go back to the app.</p>
<button type="submit">Continue</button></main></noscript>
</form>
<script>{{.Script}}</script>
</body>
</html>
`))

// validHost reports whether host is a DNS name or IP literal with an
// optional port: nothing that the page would have to escape.
func validHost(host string) bool {
	if host == "" {
		return false
	}
	for _, r := range host {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case r == '.', r == '-', r == ':', r == '[', r == ']', r == '_':
		default:
			return false
		}
	}
	return true
}

type formField struct{ Name, Value string }

// FormPost returns the HTML page that posts params to redirectURI (OAuth 2.0
// Form Post Response Mode, section 2; JARM section 2.3.3). Every value is
// HTML-escaped by html/template.
func FormPost(redirectURI string, params url.Values) ([]byte, error) {
	u, err := url.Parse(redirectURI)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || !validHost(u.Host) {
		return nil, fmt.Errorf("flow: form_post needs an http(s) redirect_uri with a valid host")
	}
	// The registry refuses such redirect URIs; html/template would
	// re-escape a malformed query, and the browser post elsewhere.
	if _, err := url.ParseQuery(u.RawQuery); err != nil {
		return nil, fmt.Errorf("flow: form_post needs a redirect_uri whose query parses")
	}
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	data := struct {
		Action template.URL
		Fields []formField
		Script template.JS
		Style  template.CSS
	}{Action: template.URL(u.String()), Script: template.JS(formPostScript), Style: template.CSS(formPostStyle)}
	for _, k := range keys {
		for _, v := range params[k] {
			data.Fields = append(data.Fields, formField{k, v})
		}
	}
	var buf bytes.Buffer
	if err := formPostTemplate.Execute(&buf, data); err != nil {
		return nil, fmt.Errorf("flow: form_post page: %w", err)
	}
	return buf.Bytes(), nil
}
