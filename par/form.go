package par

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"

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

// parseForm parses an application/x-www-form-urlencoded body as strictly
// as the authorization endpoint reads its parameters (authreq.Parse): a
// parameter given twice (RFC 6749, section 3.1), a spelling an upstream
// may read as an OAuth parameter (`Response_Mode`, `client_id[]`), a
// malformed escape, a ';' separator, a nameless parameter, a name or value
// that is not UTF-8, or more than maxParams names are refused. The pushed
// parameters go upstream at expansion, so a spelling the gateway did not
// read as the parameter must not reach it. Parameters without a value are
// treated as omitted (RFC 6749, section 3.1). Descriptions never echo
// values: a malformed body may hold a secret.
func parseForm(body string, maxParams int) (url.Values, error) {
	form, err := authreq.Parse("", body, maxParams)
	if err != nil {
		return nil, err
	}
	for k, vs := range form {
		if vs[0] == "" {
			delete(form, k)
		}
	}
	return form, nil
}
