package errpage

import (
	"slices"
	"strings"
)

// maxPreferences bounds how many items of an Accept or Accept-Language
// header are read: the headers are untrusted and a page needs few.
const maxPreferences = 32

// Preference is one item of a weighted list (RFC 9110, section 12.4.2): a
// value (a media range or a language range, lower-cased, without
// parameters) and its weight in thousandths (q=0.5 is 500).
type Preference struct {
	Value string
	Q     int
}

// ParsePreferences reads a weighted list such as an Accept or
// Accept-Language header (RFC 9110, sections 12.4.2, 12.5.1 and 12.5.4).
// Items are returned by descending weight, in header order among equals;
// an item with a malformed weight or an empty value is skipped, and at most
// maxPreferences items are read. It never fails.
func ParsePreferences(header string) []Preference {
	var out []Preference
	for item := range strings.SplitSeq(header, ",") {
		if len(out) == maxPreferences {
			break
		}
		value, params, _ := strings.Cut(item, ";")
		value = strings.ToLower(strings.TrimSpace(value))
		if value == "" {
			continue
		}
		q, ok := 1000, true
		for p := range strings.SplitSeq(params, ";") {
			name, v, _ := strings.Cut(p, "=")
			if strings.EqualFold(strings.TrimSpace(name), "q") {
				q, ok = parseQ(strings.TrimSpace(v))
				break
			}
		}
		if ok {
			out = append(out, Preference{Value: value, Q: q})
		}
	}
	slices.SortStableFunc(out, func(a, b Preference) int { return b.Q - a.Q })
	return out
}

// parseQ parses a qvalue (RFC 9110, section 12.4.2):
// ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), in thousandths.
func parseQ(s string) (int, bool) {
	if s == "" || len(s) > 5 || (s[0] != '0' && s[0] != '1') {
		return 0, false
	}
	q := int(s[0]-'0') * 1000
	if len(s) == 1 {
		return q, true
	}
	if s[1] != '.' {
		return 0, false
	}
	scale := 100
	for _, c := range s[2:] {
		if c < '0' || c > '9' || (q == 1000 && c != '0') {
			return 0, false
		}
		q += int(c-'0') * scale
		scale /= 10
	}
	return q, true
}

// validLanguageRange reports whether s is a language range of RFC 4647,
// section 2.1 (as RFC 9110, section 12.5.4 uses it): "*", or 1*8ALPHA
// followed by any number of "-" 1*8alphanum.
func validLanguageRange(s string) bool {
	if s == "*" {
		return true
	}
	for i, sub := range strings.Split(s, "-") {
		if len(sub) < 1 || len(sub) > 8 {
			return false
		}
		for _, c := range sub {
			alpha := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
			if !alpha && (i == 0 || c < '0' || c > '9') {
				return false
			}
		}
	}
	return true
}

// Negotiate returns the language of available (tags such as "en", "pt-BR")
// that best serves an Accept-Language header, or fallback. For each range
// the person accepts, by weight: the same tag, then the range with subtags
// removed from the end (de-CH finds de; RFC 4647, section 3.4, lookup), then
// a tag of the same primary language (pt finds pt-BR). "*" and a header
// without any match give fallback.
func Negotiate(acceptLanguage string, available []string, fallback string) string {
	for _, p := range ParsePreferences(acceptLanguage) {
		if p.Q == 0 || !validLanguageRange(p.Value) {
			continue
		}
		if p.Value == "*" {
			return fallback
		}
		for r := p.Value; r != ""; {
			if i := slices.IndexFunc(available, func(t string) bool { return strings.EqualFold(t, r) }); i >= 0 {
				return available[i]
			}
			cut := strings.LastIndexByte(r, '-')
			if cut < 0 {
				break
			}
			r = r[:cut]
		}
		primary, _, _ := strings.Cut(p.Value, "-")
		for _, t := range available {
			if tp, _, _ := strings.Cut(t, "-"); strings.EqualFold(tp, primary) {
				return t
			}
		}
	}
	return fallback
}

// WantsJSON reports whether an Accept header prefers application/json to
// text/html (RFC 9110, section 12.5.1: the most specific matching range
// gives a type its weight). A tie, no header, or "*/*" gives HTML: a browser
// is the usual reader of these pages.
func WantsJSON(accept string) bool {
	prefs := ParsePreferences(accept)
	return weight(prefs, "application", "json") > weight(prefs, "text", "html")
}

// weight returns the weight prefs give to type/subtype: that of the most
// specific matching media range, or 0.
func weight(prefs []Preference, typ, sub string) int {
	best, q := -1, 0
	for _, p := range prefs {
		t, s, _ := strings.Cut(p.Value, "/")
		t, s = strings.TrimSpace(t), strings.TrimSpace(s)
		var spec int
		switch {
		case t == typ && s == sub:
			spec = 2
		case t == typ && s == "*":
			spec = 1
		case t == "*" && s == "*":
			spec = 0
		default:
			continue
		}
		if spec > best {
			best, q = spec, p.Q
		}
	}
	return q
}
