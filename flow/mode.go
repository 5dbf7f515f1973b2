package flow

import (
	"strings"

	"github.com/parjarm/parjarm/oauth"
)

// Response modes (OAuth 2.0 Multiple Response Type Encoding Practices, OAuth
// 2.0 Form Post Response Mode, and JARM section 2.3).
const (
	ModeQuery       = "query"
	ModeFragment    = "fragment"
	ModeFormPost    = "form_post"
	ModeQueryJWT    = "query.jwt"
	ModeFragmentJWT = "fragment.jwt"
	ModeFormPostJWT = "form_post.jwt"
	ModeJWT         = "jwt"
)

// JWTModes are the JARM response modes, in the order discovery lists them.
var JWTModes = []string{ModeQueryJWT, ModeFragmentJWT, ModeFormPostJWT, ModeJWT}

// Mode is a resolved response mode: where the response goes (Base is one of
// query, fragment, form_post) and whether it is a JARM JWT.
type Mode struct {
	Base string
	JWT  bool
}

// String returns the mode's name as a client would write it.
func (m Mode) String() string {
	if m.JWT {
		return m.Base + ".jwt"
	}
	return m.Base
}

// IsJWTMode reports whether responseMode asks for a JARM response.
func IsJWTMode(responseMode string) bool {
	switch responseMode {
	case ModeQueryJWT, ModeFragmentJWT, ModeFormPostJWT, ModeJWT:
		return true
	}
	return false
}

// carriesToken reports whether responseType returns a token or an ID token in
// the authorization response.
func carriesToken(responseType string) bool {
	for _, t := range strings.Fields(responseType) {
		if t == "token" || t == "id_token" {
			return true
		}
	}
	return false
}

// ResolveMode resolves the client's response_mode for responseType.
// encrypted tells whether the client's JARM responses are encrypted.
//
//   - "" is the response type's default: query for code and none, fragment
//     when a token or ID token is returned (Multiple Response Types, 2.1 and 5).
//   - "jwt" is query.jwt for code (and none), fragment.jwt otherwise (JARM 2.3.4).
//   - query and query.jwt with a token or ID token in the response are
//     refused, the latter unless the response is encrypted (Multiple Response
//     Types, section 2.1; JARM section 2.3.1).
func ResolveMode(responseMode, responseType string, encrypted bool) (Mode, error) {
	token := carriesToken(responseType)
	switch responseMode {
	case "":
		if token {
			return Mode{Base: ModeFragment}, nil
		}
		return Mode{Base: ModeQuery}, nil
	case ModeQuery:
		if token {
			return Mode{}, oauth.ErrInvalidRequest.WithDescription("response_mode query cannot carry tokens for response_type %q", responseType)
		}
		return Mode{Base: ModeQuery}, nil
	case ModeFragment:
		return Mode{Base: ModeFragment}, nil
	case ModeFormPost:
		return Mode{Base: ModeFormPost}, nil
	case ModeJWT:
		if token {
			return Mode{Base: ModeFragment, JWT: true}, nil
		}
		return Mode{Base: ModeQuery, JWT: true}, nil
	case ModeQueryJWT:
		if token && !encrypted {
			// JARM section 2.3.1.
			return Mode{}, oauth.ErrInvalidRequest.WithDescription("response_mode query.jwt requires an encrypted response for response_type %q", responseType)
		}
		return Mode{Base: ModeQuery, JWT: true}, nil
	case ModeFragmentJWT:
		return Mode{Base: ModeFragment, JWT: true}, nil
	case ModeFormPostJWT:
		return Mode{Base: ModeFormPost, JWT: true}, nil
	}
	return Mode{}, oauth.ErrInvalidRequest.WithDescription("unsupported response_mode %q", responseMode)
}
