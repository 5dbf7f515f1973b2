package client

import (
	"bytes"
	"encoding/asn1"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// A distinguished name as RFC 4514 writes it and as RFC 8705, section
// 2.1.2 compares it: parsed, then compared attribute by attribute.

// dnAttr is one attribute of an RDN.
type dnAttr struct {
	oid asn1.ObjectIdentifier
	// value is the string value; raw the DER of a "#hex" value (RFC 4514,
	// section 2.4), which is compared byte for byte.
	value string
	raw   []byte
}

// dn is an RDN sequence in certificate (DER) order: the most significant
// RDN first, the reverse of the RFC 4514 string.
type dn [][]dnAttr

// dnAttrType is an attribute type RFC 4514 names by a short name, with
// whether its equality matching rule ignores case.
type dnAttrType struct {
	oid        asn1.ObjectIdentifier
	ignoreCase bool
}

// dnTypes are the short names of RFC 4514, section 3, and those found in
// client certificates of open-banking PKIs. Their equality rules (X.520,
// RFC 4519, PKCS #9) are caseIgnoreMatch or caseIgnoreIA5Match.
var dnTypes = map[string]dnAttrType{
	"cn":                     {asn1.ObjectIdentifier{2, 5, 4, 3}, true},
	"sn":                     {asn1.ObjectIdentifier{2, 5, 4, 4}, true},
	"serialnumber":           {asn1.ObjectIdentifier{2, 5, 4, 5}, true},
	"c":                      {asn1.ObjectIdentifier{2, 5, 4, 6}, true},
	"l":                      {asn1.ObjectIdentifier{2, 5, 4, 7}, true},
	"st":                     {asn1.ObjectIdentifier{2, 5, 4, 8}, true},
	"street":                 {asn1.ObjectIdentifier{2, 5, 4, 9}, true},
	"o":                      {asn1.ObjectIdentifier{2, 5, 4, 10}, true},
	"ou":                     {asn1.ObjectIdentifier{2, 5, 4, 11}, true},
	"title":                  {asn1.ObjectIdentifier{2, 5, 4, 12}, true},
	"postalcode":             {asn1.ObjectIdentifier{2, 5, 4, 17}, true},
	"gn":                     {asn1.ObjectIdentifier{2, 5, 4, 42}, true},
	"givenname":              {asn1.ObjectIdentifier{2, 5, 4, 42}, true},
	"organizationidentifier": {asn1.ObjectIdentifier{2, 5, 4, 97}, true},
	"dc":                     {asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}, true},
	"uid":                    {asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}, true},
	"emailaddress":           {asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}, true},
}

// ignoresCase reports whether oid's equality rule ignores case. A type the
// table does not know is compared exactly: its rule is not known, and the
// stricter comparison never accepts a certificate the rule would refuse.
func ignoresCase(oid asn1.ObjectIdentifier) bool {
	for _, t := range dnTypes {
		if t.oid.Equal(oid) {
			return t.ignoreCase
		}
	}
	return false
}

// parseDN parses an RFC 4514 distinguished name string. Spaces around `,`,
// `+` and `=` are tolerated (the common "CN=a, O=b" form).
func parseDN(s string) (dn, error) {
	var out dn
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("empty distinguished name")
	}
	for i := 0; ; {
		var rdn []dnAttr
		for {
			a, next, err := parseDNAttr(s, i)
			if err != nil {
				return nil, err
			}
			rdn = append(rdn, a)
			i = next
			if i < len(s) && s[i] == '+' {
				i++
				continue
			}
			break
		}
		out = append(out, rdn)
		if i >= len(s) {
			break
		}
		if s[i] != ',' {
			return nil, fmt.Errorf("unexpected %q at offset %d", s[i], i)
		}
		i++
	}
	// RFC 4514, section 2.1: the string starts with the last RDN.
	for l, r := 0, len(out)-1; l < r; l, r = l+1, r-1 {
		out[l], out[r] = out[r], out[l]
	}
	return out, nil
}

// parseDNAttr parses type=value at s[i:], returning the offset after it.
func parseDNAttr(s string, i int) (dnAttr, int, error) {
	eq := strings.IndexByte(s[i:], '=')
	if eq < 0 {
		return dnAttr{}, 0, fmt.Errorf("attribute at offset %d has no '='", i)
	}
	typ := strings.TrimSpace(s[i : i+eq])
	oid, err := parseDNType(typ)
	if err != nil {
		return dnAttr{}, 0, err
	}
	i += eq + 1
	for i < len(s) && s[i] == ' ' {
		i++
	}
	if i < len(s) && s[i] == '#' {
		// RFC 4514, section 2.4: "#" and the hex of the BER value.
		j := i + 1
		for j < len(s) && isHex(s[j]) {
			j++
		}
		raw, err := hex.DecodeString(s[i+1 : j])
		if err != nil || len(raw) == 0 {
			return dnAttr{}, 0, fmt.Errorf("attribute %s has a bad #hex value", typ)
		}
		var rv asn1.RawValue
		if rest, err := asn1.Unmarshal(raw, &rv); err != nil || len(rest) > 0 {
			return dnAttr{}, 0, fmt.Errorf("attribute %s: #hex value is not one DER value", typ)
		}
		for j < len(s) && s[j] == ' ' {
			j++
		}
		return dnAttr{oid: oid, raw: raw}, j, nil
	}
	var b []byte
	lastSignificant := 0 // length of b up to its last escaped or non-space byte
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ',' || c == '+':
			v := b[:lastSignificant]
			if !utf8.Valid(v) {
				return dnAttr{}, 0, fmt.Errorf("attribute %s is not UTF-8", typ)
			}
			return dnAttr{oid: oid, value: string(v)}, i, nil
		case c == '\\':
			if i+1 >= len(s) {
				return dnAttr{}, 0, fmt.Errorf("attribute %s ends with a lone backslash", typ)
			}
			if i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
				h, _ := hex.DecodeString(s[i+1 : i+3])
				b = append(b, h[0])
				i += 2
			} else if strings.IndexByte(` "#+,;<=>\`, s[i+1]) >= 0 {
				b = append(b, s[i+1])
				i++
			} else {
				return dnAttr{}, 0, fmt.Errorf("attribute %s has a bad escape", typ)
			}
			lastSignificant = len(b)
		case c == '"' || c == ';' || c == '<' || c == '>' || c == 0:
			// RFC 4514, section 2.4: these must be escaped.
			return dnAttr{}, 0, fmt.Errorf("attribute %s has an unescaped %q", typ, c)
		default:
			b = append(b, c)
			if c != ' ' {
				lastSignificant = len(b)
			}
		}
	}
	v := b[:lastSignificant]
	if !utf8.Valid(v) {
		return dnAttr{}, 0, fmt.Errorf("attribute %s is not UTF-8", typ)
	}
	return dnAttr{oid: oid, value: string(v)}, i, nil
}

// parseDNType reads a short name or a dotted OID (RFC 4514, section 3).
func parseDNType(typ string) (asn1.ObjectIdentifier, error) {
	if t, ok := dnTypes[strings.ToLower(typ)]; ok {
		return t.oid, nil
	}
	if typ == "" || typ[0] < '0' || typ[0] > '9' {
		return nil, fmt.Errorf("attribute type %q is not known; use its dotted OID", typ)
	}
	var oid asn1.ObjectIdentifier
	for part := range strings.SplitSeq(typ, ".") {
		n := 0
		if part == "" || len(part) > 9 || (len(part) > 1 && part[0] == '0') {
			return nil, fmt.Errorf("attribute type %q is not a dotted OID", typ)
		}
		for _, c := range []byte(part) {
			if c < '0' || c > '9' {
				return nil, fmt.Errorf("attribute type %q is not a dotted OID", typ)
			}
			n = n*10 + int(c-'0')
		}
		oid = append(oid, n)
	}
	if len(oid) < 2 {
		return nil, fmt.Errorf("attribute type %q is not a dotted OID", typ)
	}
	return oid, nil
}

func isHex(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

// rawATV and rawRDNSET read a certificate's subject with every value's DER
// kept (the SET suffix makes encoding/asn1 read a SET).
type rawATV struct {
	Type  asn1.ObjectIdentifier
	Value asn1.RawValue
}
type rawRDNSET []rawATV

// matchDN reports whether the DER subject rawSubject equals want: the same
// RDNs in the same order, each the same set of attributes, values compared
// by their type's matching rule (RFC 8705, section 2.1.2; RFC 4517,
// section 4.2.15 distinguishedNameMatch).
func matchDN(want dn, rawSubject []byte) bool {
	var seq []rawRDNSET
	if rest, err := asn1.Unmarshal(rawSubject, &seq); err != nil || len(rest) > 0 {
		return false
	}
	if len(seq) != len(want) {
		return false
	}
	for i, rdn := range seq {
		if len(rdn) != len(want[i]) {
			return false
		}
		used := make([]bool, len(rdn))
		for _, w := range want[i] {
			found := false
			for j, got := range rdn {
				if !used[j] && matchAttr(w, got) {
					used[j], found = true, true
					break
				}
			}
			if !found {
				return false
			}
		}
	}
	return true
}

func matchAttr(w dnAttr, got rawATV) bool {
	if !w.oid.Equal(got.Type) {
		return false
	}
	if w.raw != nil {
		return bytes.Equal(w.raw, got.Value.FullBytes)
	}
	s, ok := decodeDirectoryString(got.Value)
	if !ok {
		return false
	}
	a, b := normalizeSpace(w.value), normalizeSpace(s)
	if ignoresCase(w.oid) {
		return strings.EqualFold(a, b)
	}
	return a == b
}

// decodeDirectoryString decodes the string types a name attribute uses.
func decodeDirectoryString(v asn1.RawValue) (string, bool) {
	if v.Class != asn1.ClassUniversal {
		return "", false
	}
	b := v.Bytes
	switch v.Tag {
	case asn1.TagUTF8String, asn1.TagPrintableString, asn1.TagIA5String, asn1.TagNumericString:
		return string(b), utf8.Valid(b)
	case asn1.TagT61String:
		// Read as ISO 8859-1, as most implementations do.
		r := make([]rune, len(b))
		for i, c := range b {
			r[i] = rune(c)
		}
		return string(r), true
	case asn1.TagBMPString:
		if len(b)%2 != 0 {
			return "", false
		}
		u := make([]uint16, len(b)/2)
		for i := range u {
			u[i] = binary.BigEndian.Uint16(b[2*i:])
		}
		return string(utf16.Decode(u)), true
	case 28: // UniversalString
		if len(b)%4 != 0 {
			return "", false
		}
		r := make([]rune, len(b)/4)
		for i := range r {
			r[i] = rune(binary.BigEndian.Uint32(b[4*i:]))
		}
		return string(r), true
	}
	return "", false
}

// normalizeSpace applies RFC 4518, section 2.6.1 insignificant space
// handling: no leading or trailing spaces, inner runs of spaces as one.
func normalizeSpace(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
