package oauth

import (
	"encoding/json"
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
