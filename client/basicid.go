package client

// BasicClientID returns the client_id of a Basic authorization header value
// (RFC 6749, section 2.3.1), without checking the secret: ok is false when
// the header does not use the Basic scheme, err is set when it does but is
// malformed. It is for binding a request to a client whose authentication
// someone else (the upstream's token endpoint) performs.
func BasicClientID(authorization string) (id string, ok bool, err error) {
	if !UsedBasic(authorization) {
		return "", false, nil
	}
	id, _, err = parseBasic(authorization)
	return id, true, err
}
