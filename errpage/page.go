package errpage

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/parjarm/parjarm/oauth"
)

// Data is what a page template is executed with. Every string is escaped by
// html/template where the template puts it; none holds a secret, a code, a
// token or a request_uri.
type Data struct {
	// Kind is the kind of failure (request_uri_invalid, flow_expired,
	// bad_request, too_many_requests, unavailable, upstream_unexpected,
	// server_error).
	Kind Kind
	// Status is the HTTP status of the answer (400, 429, 502, 503, …), and
	// StatusText its reason phrase ("Bad Request").
	Status     int
	StatusText string
	// Lang is the language the texts are in (a tag of a locale, e.g.
	// "pt-BR"), negotiated from the request's Accept-Language, and Dir its
	// writing direction ("ltr" or "rtl").
	Lang, Dir string
	// Title and Message are the human texts for Kind in Lang.
	Title, Message string
	// Labels are the page's fixed texts in Lang.
	Labels Labels
	// Error and Description are the OAuth `error` and `error_description`
	// (RFC 6749, section 4.1.2.1); Description is scrubbed (see Scrub).
	Error, Description string
	// Reference is the request's reference: also the X-Request-Id response
	// header and the `reference` field of the gateway's log line.
	Reference string
	// AcceptLanguage is the request's Accept-Language header, as sent.
	AcceptLanguage string
	// Languages are the tags the gateway has texts for.
	Languages []string
	// DefaultStyle is the built-in page's stylesheet: a template may use it
	// as the whole content of a <style> element.
	DefaultStyle template.CSS
}

// defaultStyle is the built-in page's stylesheet. It has no comments:
// html/template removes CSS comments, and the Content-Security-Policy
// allows this exact text by its hash.
const defaultStyle = `:root{color-scheme:light dark;--bg:#f3f4f6;--card:#ffffff;--text:#111827;--muted:#374151;--line:#d1d5db;--accent:#b42318}` +
	`@media (prefers-color-scheme:dark){:root{--bg:#111318;--card:#1c1f26;--text:#f3f4f6;--muted:#d1d5db;--line:#3f4652;--accent:#fda29b}}` +
	`*{box-sizing:border-box}` +
	`html{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Helvetica Neue",Arial,sans-serif;font-size:100%;line-height:1.55;background:var(--bg);color:var(--text);-webkit-text-size-adjust:100%}` +
	`body{margin:0;min-height:100vh;display:flex;justify-content:center;align-items:flex-start;padding:10vh 1rem 2rem}` +
	`main{width:100%;max-width:36rem;background:var(--card);border:1px solid var(--line);border-radius:14px;padding:2rem 2rem 1.5rem;box-shadow:0 1px 3px rgba(0,0,0,.08)}` +
	`.mark{display:block;width:2.75rem;height:2.75rem;margin:0 0 1rem;color:var(--accent)}` +
	`h1{font-size:1.5rem;line-height:1.3;margin:0 0 .75rem;font-weight:650}` +
	`.message{font-size:1.0625rem;margin:0 0 1.5rem}` +
	`.reference{margin:0;padding:.75rem 1rem;border:1px solid var(--line);border-radius:10px;background:var(--bg)}` +
	`.reference span{display:block;font-size:.875rem;font-weight:600;color:var(--muted)}` +
	`code,dd{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace}` +
	`.reference code{font-size:1.0625rem;word-break:break-all}` +
	`.hint{margin:.5rem 0 1.5rem;font-size:.9375rem;color:var(--muted)}` +
	`details{border-top:1px solid var(--line);padding-top:1rem;font-size:.875rem;color:var(--muted)}` +
	`summary{cursor:pointer;font-weight:600}` +
	`dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;margin:.75rem 0 0}` +
	`dt{font-weight:600}dd{margin:0;word-break:break-word}` +
	`@media (max-width:32rem){body{padding:1rem .75rem}main{padding:1.25rem 1.25rem 1rem;border-radius:12px}h1{font-size:1.3rem}}`

// defaultTemplateText is the built-in page. Keep `<dd id="error">` as it is:
// tests and monitoring read the code there.
const defaultTemplateText = `<!DOCTYPE html>
<html lang="{{.Lang}}" dir="{{.Dir}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<meta name="referrer" content="no-referrer">
<title>{{.Title}}</title>
<style>{{.DefaultStyle}}</style>
</head>
<body>
<main aria-labelledby="title" data-kind="{{.Kind}}">
<svg class="mark" aria-hidden="true" focusable="false" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round"><circle cx="12" cy="12" r="10"/><path d="M12 7v6"/><path d="M12 16.5v.5"/></svg>
<h1 id="title">{{.Title}}</h1>
<p class="message" id="message">{{.Message}}</p>
<p class="reference"><span>{{.Labels.Reference}}</span> <code id="reference">{{.Reference}}</code></p>
<p class="hint">{{.Labels.ReferenceHint}}</p>
<details>
<summary>{{.Labels.Details}}</summary>
<dl>
<dt>error</dt><dd id="error">{{.Error}}</dd>
{{if .Description}}<dt>error_description</dt><dd id="error_description">{{.Description}}</dd>
{{end}}<dt>HTTP</dt><dd id="status">{{.Status}} {{.StatusText}}</dd>
</dl>
</details>
</main>
</body>
</html>
`

var defaultTemplate = template.Must(template.New("default").Parse(defaultTemplateText))

// styleHash is the CSP source expression for an inline style's text
// (CSP Level 3, section 8.4: hash-source).
func styleHash(css string) string {
	sum := sha256.Sum256([]byte(css))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// csp returns the pages' Content-Security-Policy: nothing is fetched, no
// script runs, no form posts; only the given inline styles (by hash) and
// data: images (an inline logo) are allowed.
func csp(styleHashes []string) string {
	return "default-src 'none'; style-src " + strings.Join(styleHashes, " ") +
		"; img-src data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
}

// Pages renders error pages: the operator's template (or the built-in one)
// with the texts of the person's language.
type Pages struct {
	tmpl    *template.Template // nil: the built-in template
	csp     string
	locales map[string]*Locale
	tags    []string // DefaultLanguage first, then sorted
}

var defaultPages = sync.OnceValue(func() *Pages {
	p, err := Load("", "")
	if err != nil {
		panic("errpage: the bundled pages do not load: " + err.Error())
	}
	return p
})

// Default returns the built-in pages with the bundled languages.
func Default() *Pages { return defaultPages() }

// maxTemplateBytes bounds the operator's template file.
const maxTemplateBytes = 1 << 20

// styleElement finds <style> elements and their content.
var styleElement = regexp.MustCompile(`(?is)<style\b[^>]*>(.*?)</style\s*>`)

// Load returns the pages for an operator's html/template file and a
// directory of locale files (<tag>.json); either may be "" for the
// built-in template and the bundled languages only. A template that does
// not parse is an error naming the file and the line. Every kind is
// rendered once with sample data, so a template that refers to a field Data
// does not have fails here rather than in front of a customer. A <style>
// element of the template must be static text, or exactly
// {{.DefaultStyle}}: the Content-Security-Policy allows styles by hash.
func Load(templateFile, localesDir string) (*Pages, error) {
	locales, err := loadLocales(localesDir)
	if err != nil {
		return nil, err
	}
	if _, ok := locales[DefaultLanguage]; !ok {
		return nil, errors.New("errpage: no " + DefaultLanguage + " locale")
	}
	p := &Pages{locales: locales, tags: []string{DefaultLanguage}}
	for t := range locales {
		if t != DefaultLanguage {
			p.tags = append(p.tags, t)
		}
	}
	slices.Sort(p.tags[1:])
	hashes := []string{styleHash(defaultStyle)}
	if templateFile != "" {
		src, err := readBounded(templateFile, maxTemplateBytes)
		if err != nil {
			return nil, err
		}
		t, err := template.New(filepath.Base(templateFile)).Parse(string(src))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", templateFile, err)
		}
		for _, m := range styleElement.FindAllStringSubmatchIndex(string(src), -1) {
			content := string(src[m[2]:m[3]])
			if strings.Contains(content, "{{") && content != "{{.DefaultStyle}}" {
				line := 1 + bytes.Count(src[:m[0]], []byte("\n"))
				return nil, fmt.Errorf("%s:%d: a <style> element must be static text or exactly {{.DefaultStyle}}: the Content-Security-Policy allows inline styles by their hash", templateFile, line)
			}
		}
		p.tmpl = t
		// The styles as html/template writes them (it removes comments).
		var buf bytes.Buffer
		for _, k := range Kinds {
			buf.Reset()
			if err := t.Execute(&buf, p.sample(k)); err != nil {
				return nil, fmt.Errorf("%s: rendering the %s page: %w", templateFile, k, err)
			}
			for _, m := range styleElement.FindAllStringSubmatch(buf.String(), -1) {
				if h := styleHash(m[1]); !slices.Contains(hashes, h) {
					hashes = append(hashes, h)
				}
			}
		}
	}
	p.csp = csp(hashes)
	return p, nil
}

// sample is the data Load renders each kind with.
func (p *Pages) sample(k Kind) Data {
	return p.data(&oauth.Error{Code: "invalid_request", Description: "sample description", Status: http.StatusBadRequest}, k, "sample-reference", "")
}

// Languages returns the tags the pages have texts for, DefaultLanguage
// first.
func (p *Pages) Languages() []string { return slices.Clone(p.tags) }

// CSP returns the pages' Content-Security-Policy.
func (p *Pages) CSP() string { return p.csp }

func (p *Pages) data(e *oauth.Error, kind Kind, reference, acceptLanguage string) Data {
	l := p.locales[Negotiate(acceptLanguage, p.tags, DefaultLanguage)]
	msg := l.Kinds[kind]
	dir := l.Dir
	if dir == "" {
		dir = "ltr"
	}
	return Data{
		Kind: kind, Status: e.Status, StatusText: http.StatusText(e.Status),
		Lang: l.Tag, Dir: dir, Title: msg.Title, Message: msg.Text, Labels: l.Labels,
		Error: e.Code, Description: Scrub(e.Description), Reference: reference,
		AcceptLanguage: acceptLanguage, Languages: p.Languages(), DefaultStyle: template.CSS(defaultStyle),
	}
}

// Write answers e for the request r: the OAuth error JSON (RFC 6749,
// section 5.2) when r's Accept prefers application/json, else the page of
// e's kind in r's language. Either way the answer is not cacheable and
// carries reference in X-Request-Id. If the operator's template fails, the
// built-in page is written and the template's error returned, for the log.
func (p *Pages) Write(w http.ResponseWriter, r *http.Request, e *oauth.Error, reference string) error {
	h := w.Header()
	h.Set("X-Request-Id", reference)
	h.Add("Vary", "Accept, Accept-Language")
	if WantsJSON(r.Header.Get("Accept")) {
		oauth.WriteJSON(w, e.WithDescription("%s", Scrub(e.Description)))
		return nil
	}
	d := p.data(e, Classify(e), reference, r.Header.Get("Accept-Language"))
	var buf bytes.Buffer
	var terr error
	if p.tmpl != nil {
		if terr = p.tmpl.Execute(&buf, d); terr != nil {
			buf.Reset()
		}
	}
	if p.tmpl == nil || terr != nil {
		if err := defaultTemplate.Execute(&buf, d); err != nil {
			// Cannot happen (TestDefaultPage renders every kind and
			// language); the error is still answered, as JSON.
			oauth.WriteJSON(w, e.WithDescription("%s", Scrub(e.Description)))
			return errors.Join(terr, err)
		}
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Language", d.Lang)
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("Content-Security-Policy", p.csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(e.Status)
	_, _ = w.Write(buf.Bytes())
	return terr
}
