package par

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/parjarm/parjarm/authreq"
	"github.com/parjarm/parjarm/oauth"
)

// formContentType is the only media type the push endpoint accepts
// (RFC 9126, section 2.1).
const formContentType = "application/x-www-form-urlencoded"

// checkContentType accepts application/x-www-form-urlencoded with any
// parameters (a charset, typically); decoded values must be UTF-8 anyway.
func checkContentType(header string) error {
	mt, _, err := mime.ParseMediaType(header)
	if err != nil || mt != formContentType {
		return oauth.ErrInvalidRequest.WithDescription("content type must be %s", formContentType)
	}
	return nil
}

// readForm reads and parses a form body. r is expected to be limited by
// http.MaxBytesReader: exceeding the limit is answered 413 (RFC 9126,
// section 2.3).
func readForm(r io.Reader, maxParams int) (url.Values, error) {
	body, err := io.ReadAll(r)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, oauth.ErrRequestTooLarge
		}
		return nil, oauth.ErrInvalidRequest.WithDescription("cannot read the request body").WithCause(err)
	}
	return parseForm(string(body), maxParams)
}

// parseForm parses an application/x-www-form-urlencoded body as strictly as
// url.ParseQuery and more:
//   - a parameter that appears twice is refused (RFC 6749, section 3.1),
//     even when one occurrence is empty;
//   - parameters without a value are treated as omitted (RFC 6749, section
//     3.1);
//   - a malformed escape, a ';' separator, a nameless parameter, a name or
//     value that is not UTF-8, or more than maxParams distinct names are
//     refused.
//
// Descriptions never echo values: a malformed body may hold a secret.
func parseForm(body string, maxParams int) (url.Values, error) {
	form := make(url.Values)
	names := make(map[string]struct{})
	for body != "" {
		var pair string
		pair, body, _ = strings.Cut(body, "&")
		if pair == "" {
			continue
		}
		if strings.Contains(pair, ";") {
			return nil, oauth.ErrInvalidRequest.WithDescription("malformed request body: ';' is not a separator")
		}
		rawName, rawValue, _ := strings.Cut(pair, "=")
		name, err := url.QueryUnescape(rawName)
		if err != nil {
			return nil, oauth.ErrInvalidRequest.WithDescription("malformed request body: invalid parameter name encoding")
		}
		value, err := url.QueryUnescape(rawValue)
		if err != nil {
			return nil, oauth.ErrInvalidRequest.WithDescription("malformed request body: invalid encoding in parameter %q", authreq.Truncate(name))
		}
		if name == "" {
			return nil, oauth.ErrInvalidRequest.WithDescription("malformed request body: parameter without a name")
		}
		if !utf8.ValidString(name) || !utf8.ValidString(value) {
			return nil, oauth.ErrInvalidRequest.WithDescription("malformed request body: parameters must be UTF-8")
		}
		if _, dup := names[name]; dup {
			// RFC 6749, section 3.1.
			return nil, oauth.ErrInvalidRequest.WithDescription("parameter %q appears more than once", authreq.Truncate(name))
		}
		if len(names) == maxParams {
			return nil, oauth.ErrInvalidRequest.WithDescription("too many parameters (at most %d)", maxParams)
		}
		names[name] = struct{}{}
		if value != "" {
			form[name] = []string{value}
		}
	}
	return form, nil
}
