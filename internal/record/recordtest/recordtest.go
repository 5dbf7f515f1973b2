// Package recordtest has the test helpers of the packages whose stored
// values use package record: url.Values from a fuzzer's string, and their
// comparison as the decoder returns them.
package recordtest

import (
	"net/url"
	"reflect"
	"slices"
	"strings"
	"time"
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

// Fill sets every exported field of the struct v points to, and of the
// structs it holds, to a value that is not its zero value and differs from
// field to field: a string its field's name, a bool true, an integer its
// position, a time.Time a fixed instant plus the position in nanoseconds,
// url.Values one name with two values. A test that fills a record,
// encodes and decodes it, and compares the result with reflect.DeepEqual
// fails when a field is added to the record and not to its encoding. It
// panics on a field of a kind it does not know, so that such a test is
// extended rather than passing by missing it.
func Fill(v any) {
	fill(reflect.ValueOf(v).Elem(), "")
}

var timeType = reflect.TypeFor[time.Time]()
var valuesType = reflect.TypeFor[url.Values]()

func fill(v reflect.Value, path string) {
	for i := range v.NumField() {
		f, sf := v.Field(i), v.Type().Field(i)
		if !sf.IsExported() {
			continue
		}
		name := path + sf.Name
		switch {
		case sf.Type == timeType:
			f.Set(reflect.ValueOf(time.Unix(1_700_000_000, int64(i+1)).UTC()))
		case sf.Type == valuesType:
			f.Set(reflect.ValueOf(url.Values{name: {"a", "b"}}))
		case f.Kind() == reflect.String:
			f.SetString(name)
		case f.Kind() == reflect.Bool:
			f.SetBool(true)
		case f.CanInt():
			f.SetInt(int64(i + 1))
		case f.Kind() == reflect.Struct:
			fill(f, name+".")
		default:
			panic("recordtest: Fill does not know the field " + name + " of type " + sf.Type.String())
		}
	}
}
