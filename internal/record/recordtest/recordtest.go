// Package recordtest has the test helpers of the packages whose stored
// values use package record: url.Values from a fuzzer's string, and their
// comparison as the decoder returns them.
package recordtest

import (
	"net/url"
	"slices"
	"strings"
)

// Values builds url.Values from s, a fuzzer's input: '&' separates
// parameters, the first '=' a name from its value, nothing is unescaped,
// and a name that comes again gets one more value, in order. "" is nil.
func Values(s string) url.Values {
	if s == "" {
		return nil
	}
	v := url.Values{}
	for p := range strings.SplitSeq(s, "&") {
		name, value, _ := strings.Cut(p, "=")
		v[name] = append(v[name], value)
	}
	return v
}

// EqualValues reports whether a and b hold the same names with the same
// values in the same order, an empty set or list of values being nil, as
// the decoder returns them.
func EqualValues(a, b url.Values) bool {
	if len(a) != len(b) {
		return false
	}
	for name, as := range a {
		bs, ok := b[name]
		if !ok || !slices.Equal(as, bs) {
			return false
		}
	}
	return true
}
