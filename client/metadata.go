package client

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/parjarm/parjarm/internal/suggest"
)

// metaKind is the JSON type a client metadata value must have.
type metaKind int

const (
	kindString metaKind = iota
	kindStrings
	kindBool
	kindNumber
)

func (k metaKind) String() string {
	switch k {
	case kindStrings:
		return "an array of strings"
	case kindBool:
		return "true or false"
	case kindNumber:
		return "a number"
	default:
		return "a string"
	}
}

// keptMetadata are the registered client metadata names (IANA "OAuth
// Dynamic Client Registration Metadata" registry) that the gateway does not
// act on: they are accepted, type-checked, kept (Client.Metadata) and
// otherwise ignored, so that a registration exported from an identity
// server loads as it is. The names the gateway acts on are the Client
// struct's JSON names (actedMetadata).
var keptMetadata = map[string]metaKind{
	// RFC 7591, section 2 (and 2.2 for the human-readable ones), section 3.1.1,
	// section 3.2.1; RFC 7592, section 3.
	"client_name": kindString, "client_uri": kindString, "logo_uri": kindString,
	"scope": kindString, "contacts": kindStrings, "tos_uri": kindString,
	"policy_uri": kindString, "software_id": kindString, "software_version": kindString,
	"software_statement": kindString, "client_id_issued_at": kindNumber,
	"client_secret_expires_at": kindNumber, "registration_access_token": kindString,
	"registration_client_uri": kindString,
	// OpenID Connect Dynamic Client Registration 1.0, section 2.
	"sector_identifier_uri": kindString, "subject_type": kindString,
	"id_token_signed_response_alg": kindString, "id_token_encrypted_response_alg": kindString,
	"id_token_encrypted_response_enc": kindString, "userinfo_signed_response_alg": kindString,
	"userinfo_encrypted_response_alg": kindString, "userinfo_encrypted_response_enc": kindString,
	"default_max_age": kindNumber, "require_auth_time": kindBool,
	"default_acr_values": kindStrings, "initiate_login_uri": kindString,
	"request_uris": kindStrings,
	// UMA 2.0 Grant, section 2.
	"claims_redirect_uris": kindStrings,
	// ETSI GS NFV-SEC 022.
	"nfv_token_signed_response_alg": kindString, "nfv_token_encrypted_response_alg": kindString,
	"nfv_token_encrypted_response_enc": kindString,
	// RFC 8705, section 3.4.
	"tls_client_certificate_bound_access_tokens": kindBool,
	// RFC 9449, section 5.2.
	"dpop_bound_access_tokens": kindBool,
	// RFC 9701, section 6 (JWT introspection responses).
	"introspection_signed_response_alg": kindString, "introspection_encrypted_response_alg": kindString,
	"introspection_encrypted_response_enc": kindString,
	// RFC 9396, section 10 (rich authorization requests).
	"authorization_details_types": kindStrings,
	// OpenID Connect RP-Initiated Logout 1.0, section 3.1; Front-Channel
	// Logout 1.0, section 2; Back-Channel Logout 1.0, section 2.2.
	"post_logout_redirect_uris": kindStrings, "frontchannel_logout_uri": kindString,
	"frontchannel_logout_session_required": kindBool, "backchannel_logout_uri": kindString,
	"backchannel_logout_session_required": kindBool,
	// OpenID Connect CIBA Core 1.0, section 4.
	"backchannel_token_delivery_mode": kindString, "backchannel_client_notification_endpoint": kindString,
	"backchannel_authentication_request_signing_alg": kindString, "backchannel_user_code_parameter": kindBool,
	// OpenID Federation 1.0, section 5.2.
	"client_registration_types": kindStrings, "organization_name": kindString,
	"signed_jwks_uri": kindString,
	// OAuth SPIFFE Client Authentication.
	"spiffe_id": kindString,
}

// localizable are the human-readable metadata that may carry a BCP 47
// language tag after "#" (RFC 7591, section 2.2; OpenID Connect Dynamic
// Client Registration 1.0, section 2.1; OpenID Federation 1.0).
var localizable = []string{"client_name", "client_uri", "logo_uri", "tos_uri", "policy_uri", "organization_name"}

// languageTag is the BCP 47 (RFC 5646, section 2.1) tag syntax, loosely:
// subtags of 1 to 8 letters or digits, the first of letters.
var languageTag = regexp.MustCompile(`^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$`)

// actedMetadata are the JSON names of the Client struct: the metadata the
// gateway acts on.
var actedMetadata = func() map[string]bool {
	names := map[string]bool{}
	t := reflect.TypeFor[Client]()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			names[name] = true
		}
	}
	return names
}()

// ActedMetadata lists, sorted, the client metadata names the gateway acts
// on; KeptMetadata those it accepts, keeps and ignores.
func ActedMetadata() []string { return slices.Sorted(maps.Keys(actedMetadata)) }

// KeptMetadata lists, sorted, the registered client metadata names the
// gateway accepts and ignores (besides their "#" language-tagged forms).
func KeptMetadata() []string { return slices.Sorted(maps.Keys(keptMetadata)) }

// keptKind returns the JSON type of a kept metadata name, resolving
// "name#tag" forms of the localizable names.
func keptKind(name string) (metaKind, bool) {
	base, tag, tagged := strings.Cut(name, "#")
	if tagged && (!slices.Contains(localizable, base) || !languageTag.MatchString(tag)) {
		return 0, false
	}
	if tagged && actedMetadata[base] {
		return 0, false
	}
	k, ok := keptMetadata[base]
	return k, ok
}

// checkKind returns why v is not a JSON value of kind k, or "". null stands
// for an absent value.
func checkKind(v json.RawMessage, k metaKind) string {
	v = bytes.TrimSpace(v)
	if string(v) == "null" {
		return ""
	}
	var ok bool
	switch k {
	case kindString:
		var s string
		ok = json.Unmarshal(v, &s) == nil
	case kindStrings:
		var s []string
		ok = json.Unmarshal(v, &s) == nil
	case kindBool:
		var b bool
		ok = json.Unmarshal(v, &b) == nil
	case kindNumber:
		var n json.Number
		ok = len(v) > 0 && v[0] != '"' && json.Unmarshal(v, &n) == nil
	}
	if ok {
		return ""
	}
	return fmt.Sprintf("%s is not allowed here (want %s)", jsonValueKind(v), k)
}

// jsonValueKind names the JSON type of v, as "a JSON string" and so on.
func jsonValueKind(v json.RawMessage) string {
	if len(v) == 0 {
		return "an empty value"
	}
	switch v[0] {
	case '"':
		return "a JSON string"
	case '[':
		return "a JSON array"
	case '{':
		return "a JSON object"
	case 't', 'f':
		return "a JSON boolean"
	default:
		return "a JSON number"
	}
}

// unknownField explains a client metadata name the gateway does not know,
// with the accepted name it was most likely meant to be.
func unknownField(name string) string {
	msg := fmt.Sprintf("unknown field %q", name)
	base, _, tagged := strings.Cut(name, "#")
	if tagged && (slices.Contains(localizable, base)) {
		return msg + " (the part after # must be a BCP 47 language tag, RFC 7591 section 2.2)"
	}
	candidates := append(ActedMetadata(), KeptMetadata()...)
	if best := suggest.Closest(base, candidates, 3); best != "" {
		return fmt.Sprintf("%s; did you mean %q?", msg, best)
	}
	return msg + " (not a registered client metadata name, RFC 7591 section 2)"
}

// Metadata returns the raw JSON value of a metadata name the gateway keeps
// but does not act on (client_name, contacts, registration_access_token, …).
// Values may be secrets: never log them.
func (c *Client) Metadata(name string) (json.RawMessage, bool) {
	v, ok := c.extra[name]
	return v, ok
}

// MetadataNames lists, sorted, the kept metadata names the client has.
func (c *Client) MetadataNames() []string { return slices.Sorted(maps.Keys(c.extra)) }
