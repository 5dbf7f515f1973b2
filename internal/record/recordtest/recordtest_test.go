package recordtest

import (
	"net/url"
	"testing"
)

func TestValues(t *testing.T) {
	for s, want := range map[string]url.Values{
		"":                    nil,
		"a=1":                 {"a": {"1"}},
		"a=1&b&a=2&=x&c=%41=": {"a": {"1", "2"}, "b": {""}, "": {"x"}, "c": {"%41="}},
		"&":                   {"": {"", ""}},
	} {
		if got := Values(s); !EqualValues(got, want) || (want == nil) != (got == nil) {
			t.Errorf("Values(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestEqualValues(t *testing.T) {
	for _, tt := range []struct {
		a, b url.Values
		want bool
	}{
		{nil, url.Values{}, true},
		{url.Values{"a": nil}, url.Values{"a": {}}, true},
		{url.Values{"a": {"1", "2"}}, url.Values{"a": {"1", "2"}}, true},
		{url.Values{"a": {"1", "2"}}, url.Values{"a": {"2", "1"}}, false},
		{url.Values{"a": nil}, nil, false},
		{url.Values{"a": {"1"}}, url.Values{"b": {"1"}}, false},
		{url.Values{"a": {""}}, url.Values{"a": nil}, false},
	} {
		if EqualValues(tt.a, tt.b) != tt.want || EqualValues(tt.b, tt.a) != tt.want {
			t.Errorf("EqualValues(%v, %v) = %v, want %v", tt.a, tt.b, !tt.want, tt.want)
		}
	}
}
