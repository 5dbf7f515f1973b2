package errpage

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/parjarm/parjarm/oauth"
)

// errorFor returns an error of kind k, as the gateway answers it.
func errorFor(k Kind) *oauth.Error {
	switch k {
	case KindRequestURIInvalid:
		return oauth.ErrInvalidRequestURI.WithDescription("request_uri is unknown, expired or already used")
	case KindFlowExpired:
		return oauth.ErrInvalidRequest.WithDescription("this authorization flow has expired or was already completed; start again")
	case KindBadRequest:
		return oauth.ErrInvalidRequest.WithDescription("redirect_uri is required")
	case KindTooManyRequests:
		return oauth.ErrTooManyRequests
	case KindUnavailable:
		return oauth.ErrTemporarilyUnavailable.WithDescription("the gateway's store is unavailable; try again")
	case KindUpstreamUnexpected:
		return oauth.ErrServerError.WithStatus(http.StatusBadGateway).WithDescription("the authorization server answered with an unexpected redirect")
	default:
		return oauth.ErrServerError
	}
}

func render(t *testing.T, p *Pages, e *oauth.Error, header http.Header) (*httptest.ResponseRecorder, error) {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/authorize", nil)
	for k, v := range header {
		r.Header[k] = v
	}
	w := httptest.NewRecorder()
	err := p.Write(w, r, e, "ref-0123456789abcdefghij")
	return w, err
}

var styleInPage = regexp.MustCompile(`(?s)<style>(.*?)</style>`)

func TestBundledLocalesAreComplete(t *testing.T) {
	locales, err := bundled()
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range []string{"en", "de", "fr", "es", "pt-BR", "nl"} {
		if _, ok := locales[tag]; !ok {
			t.Errorf("no bundled %s locale", tag)
		}
	}
	for tag, l := range locales {
		if l.Labels.Reference == "" || l.Labels.ReferenceHint == "" || l.Labels.Details == "" {
			t.Errorf("%s: a label is empty: %+v", tag, l.Labels)
		}
		for _, k := range Kinds {
			if m := l.Kinds[k]; m.Title == "" || m.Text == "" {
				t.Errorf("%s: kind %s has no title or message", tag, k)
			}
		}
	}
}

func TestDefaultPage(t *testing.T) {
	p := Default()
	for _, lang := range p.Languages() {
		for _, k := range Kinds {
			t.Run(lang+"/"+string(k), func(t *testing.T) {
				e := errorFor(k)
				w, err := render(t, p, e, http.Header{"Accept-Language": {lang + ";q=0.9, ja;q=0.1"}})
				if err != nil {
					t.Fatal(err)
				}
				if w.Code != e.Status {
					t.Fatalf("status %d, want %d", w.Code, e.Status)
				}
				h := w.Header()
				for name, want := range map[string]string{
					"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store", "Pragma": "no-cache",
					"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
					"X-Request-Id": "ref-0123456789abcdefghij", "Content-Language": lang,
				} {
					if got := h.Get(name); got != want {
						t.Errorf("%s = %q, want %q", name, got, want)
					}
				}
				body := w.Body.String()
				msg := p.locales[lang].Kinds[k]
				for _, want := range []string{
					`<html lang="` + lang + `" dir="ltr">`,
					`<h1 id="title">` + htmlEscape(msg.Title) + `</h1>`,
					`<p class="message" id="message">` + htmlEscape(msg.Text) + `</p>`,
					`<code id="reference">ref-0123456789abcdefghij</code>`,
					`<dd id="error">` + e.Code + `</dd>`,
					`name="viewport"`,
				} {
					if !strings.Contains(body, want) {
						t.Errorf("page lacks %s", want)
					}
				}
				// The CSP allows exactly the style the page carries.
				m := styleInPage.FindStringSubmatch(body)
				if m == nil {
					t.Fatal("no <style>")
				}
				csp := h.Get("Content-Security-Policy")
				if !strings.Contains(csp, "style-src "+styleHash(m[1])+";") {
					t.Errorf("CSP %q does not allow the page's style", csp)
				}
				for _, d := range []string{"default-src 'none'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'none'"} {
					if !strings.Contains(csp, d) {
						t.Errorf("CSP %q lacks %s", csp, d)
					}
				}
				if strings.Contains(csp, "unsafe") || strings.Contains(body, "http://") || strings.Contains(body, "https://") || strings.Contains(body, "<script") {
					t.Errorf("the page loads or allows something from elsewhere:\n%s\n%s", csp, body)
				}
			})
		}
	}
}

func htmlEscape(s string) string {
	return strings.ReplaceAll(s, "'", "&#39;")
}

func TestPageDescriptionIsScrubbed(t *testing.T) {
	e := oauth.ErrInvalidRequest.WithDescription(`parameter "urn:ietf:params:oauth:request_uri:AbCdEf0123456789…" is repeated`)
	for _, accept := range []string{"text/html", "application/json"} {
		w, err := render(t, Default(), e, http.Header{"Accept": {accept}})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(w.Body.String(), "urn:ietf") || !strings.Contains(w.Body.String(), Redacted) {
			t.Errorf("%s: the request_uri is shown: %s", accept, w.Body.String())
		}
	}
}

func TestJSONWhenAsked(t *testing.T) {
	e := errorFor(KindRequestURIInvalid)
	w, err := render(t, Default(), e, http.Header{"Accept": {"application/json"}})
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]string
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
		t.Fatalf("not JSON: %v: %s", err, w.Body.String())
	}
	if w.Code != http.StatusBadRequest || out["error"] != "invalid_request_uri" || out["error_description"] != e.Description {
		t.Fatalf("got %d %v", w.Code, out)
	}
	if w.Header().Get("Content-Type") != "application/json" || w.Header().Get("Cache-Control") != "no-store" || w.Header().Get("X-Request-Id") != "ref-0123456789abcdefghij" {
		t.Fatalf("headers %v", w.Header())
	}
}

func writeTemp(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const operatorTemplate = `<!DOCTYPE html>
<html lang="{{.Lang}}">
<head><title>Example Bank: {{.Title}}</title>
<style>/* brand */ body{color:#002b5c}</style>
<style>{{.DefaultStyle}}</style>
</head>
<body><h1>Example Bank</h1><p id="msg">{{.Message}}</p>
<p id="ref">{{.Labels.Reference}} {{.Reference}}</p><p id="kind">{{.Kind}} {{.Status}} {{.Error}}</p>
<p id="desc">{{.Description}}</p><p id="al">{{.AcceptLanguage}}</p>
{{if .AcceptLanguage}}{{if eq .AcceptLanguage "boom"}}{{index .Languages 99}}{{end}}{{end}}
</body></html>
`

func TestOperatorTemplate(t *testing.T) {
	dir := t.TempDir()
	tmpl := writeTemp(t, dir, "bank.html", operatorTemplate)
	locales := filepath.Join(dir, "locales")
	if err := os.Mkdir(locales, 0o700); err != nil {
		t.Fatal(err)
	}
	writeTemp(t, locales, "nl.json", `{"kinds": {"unavailable": {"message": "Even geduld: de bank is zo terug."}}}`)
	writeTemp(t, locales, "it.json", `{"labels": {"reference": "Riferimento"}, "kinds": {"unavailable": {"title": "Servizio non disponibile", "message": "Il servizio di accesso non è al momento disponibile. Riprova tra un minuto."}}}`)
	writeTemp(t, locales, "README.txt", "not a locale")
	p, err := Load(tmpl, locales)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"en", "de", "es", "fr", "it", "nl", "pt-BR"}; !slices.Equal(p.Languages(), want) {
		t.Fatalf("languages %v, want %v", p.Languages(), want)
	}

	t.Run("the operator's template and texts are used", func(t *testing.T) {
		w, err := render(t, p, errorFor(KindUnavailable), http.Header{"Accept-Language": {"it-IT"}})
		if err != nil {
			t.Fatal(err)
		}
		body := w.Body.String()
		for _, want := range []string{
			`<title>Example Bank: Servizio non disponibile</title>`,
			`<p id="msg">Il servizio di accesso non è al momento disponibile. Riprova tra un minuto.</p>`,
			`<p id="ref">Riferimento ref-0123456789abcdefghij</p>`,
			`<p id="kind">unavailable 503 temporarily_unavailable</p>`,
			`<p id="desc">the gateway&#39;s store is unavailable; try again</p>`,
			`<p id="al">it-IT</p>`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("page lacks %s:\n%s", want, body)
			}
		}
		if w.Code != http.StatusServiceUnavailable || w.Header().Get("Content-Language") != "it" {
			t.Errorf("status %d, Content-Language %q", w.Code, w.Header().Get("Content-Language"))
		}
		// Both styles as written (the comment removed by html/template)
		// are allowed by hash, and nothing else.
		csp := w.Header().Get("Content-Security-Policy")
		for _, m := range styleInPage.FindAllStringSubmatch(body, -1) {
			if !strings.Contains(csp, styleHash(m[1])) {
				t.Errorf("CSP %q does not allow the style %q", csp, m[1])
			}
		}
		if got := strings.Count(csp, "'sha256-"); got != 2 {
			t.Errorf("CSP has %d hashes, want 2: %s", got, csp)
		}
	})
	t.Run("an operator's partial locale keeps the bundled texts it leaves out", func(t *testing.T) {
		if got := p.locales["nl"].Kinds[KindUnavailable]; got.Text != "Even geduld: de bank is zo terug." || got.Title != "Inloggen is tijdelijk niet beschikbaar" {
			t.Fatalf("nl unavailable = %+v", got)
		}
		if got := p.locales["it"].Kinds[KindFlowExpired].Title; got != "Your sign-in has expired" {
			t.Fatalf("it falls back to %q, want the English text", got)
		}
	})
	t.Run("a template that fails at run time falls back to the built-in page", func(t *testing.T) {
		w, err := render(t, p, errorFor(KindFlowExpired), http.Header{"Accept-Language": {"boom"}})
		if err == nil {
			t.Fatal("no error reported")
		}
		body := w.Body.String()
		if w.Code != http.StatusBadRequest || !strings.Contains(body, `<h1 id="title">Your sign-in has expired</h1>`) ||
			!strings.Contains(body, `<code id="reference">ref-0123456789abcdefghij</code>`) || strings.Contains(body, "Example Bank") {
			t.Fatalf("status %d, body:\n%s", w.Code, body)
		}
		if !strings.Contains(w.Header().Get("Content-Security-Policy"), styleHash(defaultStyle)) {
			t.Fatal("the built-in page's style is not allowed")
		}
	})
}

func TestLoadRefuses(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, template string
		locales        map[string]string
		want           []string
	}{
		{"a template that does not parse, with its file and line", "<html>\n<p>\n{{.Title}\n</html>", nil, []string{"broken.html", "broken.html:3:"}},
		{"a template that names a field pages do not have", "<p>{{.Customer}}</p>", nil, []string{"broken.html", "Customer"}},
		{"a style element with an action, with its line", "<html>\n<style>body{color:{{.Dir}}}</style>", nil, []string{"broken.html:2:", "<style>"}},
		{"a locale file name that is not a language tag", "", map[string]string{"german.lang.json": `{}`}, []string{"german.lang.json", "language tag"}},
		{"an unknown kind", "", map[string]string{"de.json": `{"kinds": {"expired": {}}}`}, []string{"de.json", `unknown kind "expired"`}},
		{"an unknown member", "", map[string]string{"de.json": `{"label": {}}`}, []string{"de.json", "label"}},
		{"a bad direction", "", map[string]string{"ar.json": `{"dir": "up"}`}, []string{"ar.json", "dir"}},
		{"not JSON", "", map[string]string{"de.json": `{`}, []string{"de.json"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, locales := "", ""
			if tt.template != "" {
				tmpl = writeTemp(t, dir, "broken.html", tt.template)
			}
			if tt.locales != nil {
				locales = filepath.Join(dir, "locales", string(rune('a'+i)))
				if err := os.MkdirAll(locales, 0o700); err != nil {
					t.Fatal(err)
				}
				for name, content := range tt.locales {
					writeTemp(t, locales, name, content)
				}
			}
			_, err := Load(tmpl, locales)
			if err == nil {
				t.Fatal("loaded")
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
		})
	}
	t.Run("a missing template file", func(t *testing.T) {
		if _, err := Load(filepath.Join(dir, "nope.html"), ""); err == nil || !strings.Contains(err.Error(), "nope.html") {
			t.Fatalf("err = %v", err)
		}
	})
}
