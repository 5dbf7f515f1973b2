package oauth

import (
	"encoding/json"
	"html/template"
	"net/http"
)

type jsonError struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
	URI         string `json:"error_uri,omitempty"`
}

// WriteJSON answers err in token-endpoint format (RFC 6749, section 5.2):
// a JSON object with `error` and `error_description`, not cacheable.
// A non-OAuth error is answered as server_error without its details.
func WriteJSON(w http.ResponseWriter, err error) {
	e := From(err)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(jsonError{Error: e.Code, Description: e.Description, URI: e.URI})
}

var pageTemplate = template.Must(template.New("error").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="robots" content="noindex">
<title>Authorization error</title>
</head>
<body>
<h1>Authorization error</h1>
<p>The authorization request cannot be completed.</p>
<dl>
<dt>error</dt><dd id="error">{{.Code}}</dd>
{{if .Description}}<dt>error_description</dt><dd id="error_description">{{.Description}}</dd>{{end}}
</dl>
</body>
</html>
`))

// WritePage answers err as an HTML error page. It is used where the gateway
// cannot trust a redirect_uri (RFC 9126, section 4; RFC 6749, section
// 4.1.2.1), so the error is shown to the user instead of being redirected.
func WritePage(w http.ResponseWriter, err error) {
	e := From(err)
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(e.Status)
	_ = pageTemplate.Execute(w, e)
}
