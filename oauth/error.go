// Package oauth holds the one representation of an OAuth 2.0 error used
// everywhere in parjarm, and its JSON writer (token-endpoint format, used at
// the PAR endpoint). The HTML error page, used where no redirect is safe,
// is package errpage's.
package oauth

import (
	"errors"
	"fmt"
	"net/http"
)

// Error is an OAuth 2.0 error (RFC 6749, section 5.2; RFC 9126, section 2.3).
// Values are never modified: the With… methods return copies, so the
// prototypes below can be shared.
type Error struct {
	// Code is the `error` value, e.g. "invalid_request".
	Code string
	// Description is the human-readable `error_description`. It is shown to
	// the client, so it never contains secrets.
	Description string
	// URI is the optional `error_uri`.
	URI string
	// Status is the HTTP status the error is answered with.
	Status int
	// cause is the internal reason, for logs only; never shown to clients.
	cause error
}

// Prototypes. Use them with errors.Is, and derive answers with the With…
// methods.
var (
	ErrInvalidRequest          = &Error{Code: "invalid_request", Status: http.StatusBadRequest}
	ErrInvalidClient           = &Error{Code: "invalid_client", Status: http.StatusUnauthorized}
	ErrUnauthorizedClient      = &Error{Code: "unauthorized_client", Status: http.StatusBadRequest}
	ErrUnsupportedResponseType = &Error{Code: "unsupported_response_type", Status: http.StatusBadRequest}
	ErrInvalidScope            = &Error{Code: "invalid_scope", Status: http.StatusBadRequest}
	ErrInvalidGrant            = &Error{Code: "invalid_grant", Status: http.StatusBadRequest}
	ErrAccessDenied            = &Error{Code: "access_denied", Status: http.StatusForbidden}
	ErrInvalidRequestURI       = &Error{Code: "invalid_request_uri", Status: http.StatusBadRequest}
	ErrInvalidRequestObject    = &Error{Code: "invalid_request_object", Status: http.StatusBadRequest}
	ErrServerError             = &Error{Code: "server_error", Status: http.StatusInternalServerError}
	ErrTemporarilyUnavailable  = &Error{Code: "temporarily_unavailable", Status: http.StatusServiceUnavailable}
	// ErrMethodNotAllowed is invalid_request answered with 405 (RFC 9126, section 2.3).
	ErrMethodNotAllowed = &Error{Code: "invalid_request", Status: http.StatusMethodNotAllowed, Description: "method not allowed"}
	// ErrRequestTooLarge is invalid_request answered with 413 (RFC 9126, section 2.3).
	ErrRequestTooLarge = &Error{Code: "invalid_request", Status: http.StatusRequestEntityTooLarge, Description: "request body too large"}
	// ErrTooManyRequests is invalid_request answered with 429 (RFC 9126, section 2.3).
	ErrTooManyRequests = &Error{Code: "invalid_request", Status: http.StatusTooManyRequests, Description: "too many requests"}
)

// Error implements error. It includes the internal cause, for logs.
func (e *Error) Error() string {
	msg := e.Code
	if e.Description != "" {
		msg += ": " + e.Description
	}
	if e.cause != nil {
		msg += " (" + e.cause.Error() + ")"
	}
	return msg
}

// Unwrap returns the internal cause.
func (e *Error) Unwrap() error { return e.cause }

// Is reports whether target is an *Error with the same code and status, so
// that errors.Is(err, oauth.ErrInvalidClient) works on derived copies.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && t.Status == e.Status
}

// WithDescription returns a copy with the given error_description.
func (e *Error) WithDescription(format string, args ...any) *Error {
	c := *e
	c.Description = fmt.Sprintf(format, args...)
	return &c
}

// WithStatus returns a copy answered with another HTTP status.
func (e *Error) WithStatus(status int) *Error {
	c := *e
	c.Status = status
	return &c
}

// WithCause returns a copy that records an internal cause for the logs. The
// cause is never shown to the client.
func (e *Error) WithCause(err error) *Error {
	c := *e
	c.cause = err
	return &c
}

// From turns any error into an *Error: an *Error anywhere in the chain is
// returned as it is; anything else becomes server_error with the original
// error as its cause.
func From(err error) *Error {
	if err == nil {
		return nil
	}
	var oe *Error
	if errors.As(err, &oe) {
		return oe
	}
	return ErrServerError.WithCause(err)
}
