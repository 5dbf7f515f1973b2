package errpage

import (
	"slices"
	"testing"
)

func TestParsePreferences(t *testing.T) {
	tests := []struct {
		name, header string
		want         []Preference
	}{
		{"empty", "", nil},
		{"one language", "de", []Preference{{"de", 1000}}},
		{"weights order the list, header order breaks ties", "fr;q=0.5, de-CH, en;q=0.8, nl", []Preference{{"de-ch", 1000}, {"nl", 1000}, {"en", 800}, {"fr", 500}}},
		{"spaces and case", "  EN-us ;  Q=0.7 ,*;q=0.1", []Preference{{"en-us", 700}, {"*", 100}}},
		{"q=0 is kept (it refuses)", "en;q=0", []Preference{{"en", 0}}},
		{"three decimals", "a;q=0.123", []Preference{{"a", 123}}},
		{"q=1.000", "a;q=1.000", []Preference{{"a", 1000}}},
		{"q above 1 is skipped", "a;q=1.5, b", []Preference{{"b", 1000}}},
		{"four decimals are skipped", "a;q=0.1234, b", []Preference{{"b", 1000}}},
		{"a negative q is skipped", "a;q=-1, b", []Preference{{"b", 1000}}},
		{"an empty q is skipped", "a;q=, b", []Preference{{"b", 1000}}},
		{"empty items are skipped", ",,a,,", []Preference{{"a", 1000}}},
		{"media types with parameters", "application/json; charset=utf-8; q=0.9, text/html", []Preference{{"text/html", 1000}, {"application/json", 900}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ParsePreferences(tt.header); !slices.Equal(got, tt.want) {
				t.Fatalf("ParsePreferences(%q) = %v, want %v", tt.header, got, tt.want)
			}
		})
	}
	t.Run("at most maxPreferences items are read", func(t *testing.T) {
		h := ""
		for range 100 {
			h += "en,"
		}
		if got := len(ParsePreferences(h)); got != maxPreferences {
			t.Fatalf("%d items", got)
		}
	})
}

func TestNegotiate(t *testing.T) {
	available := []string{"en", "de", "es", "fr", "nl", "pt-BR"}
	tests := []struct{ name, header, want string }{
		{"no header", "", "en"},
		{"exact", "de", "de"},
		{"case-insensitive", "PT-br", "pt-BR"},
		{"a region falls back to its language", "de-CH", "de"},
		{"a language finds its region", "pt", "pt-BR"},
		{"pt-PT finds pt-BR", "pt-PT", "pt-BR"},
		{"the best weight wins", "fr;q=0.4, es;q=0.9", "es"},
		{"an unknown language is passed over", "ja, fr;q=0.5", "fr"},
		{"nothing known", "ja, zh-Hant", "en"},
		{"a refused language is passed over", "de;q=0, nl;q=0.1", "nl"},
		{"a wildcard gives the default", "*", "en"},
		{"a malformed range is ignored", "d_e, nl;q=0.2", "nl"},
		{"a subtag too long is ignored", "deutschland1-x, fr;q=0.1", "fr"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Negotiate(tt.header, available, "en"); got != tt.want {
				t.Fatalf("Negotiate(%q) = %q, want %q", tt.header, got, tt.want)
			}
		})
	}
}

func TestWantsJSON(t *testing.T) {
	tests := []struct {
		name, accept string
		want         bool
	}{
		{"no header", "", false},
		{"anything", "*/*", false},
		{"JSON", "application/json", true},
		{"JSON with a charset", "application/json; charset=utf-8", true},
		{"a browser", "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8", false},
		{"the e2e agent", "text/html,application/json;q=0.9,*/*;q=0.8", false},
		{"JSON preferred", "application/json, text/html;q=0.5", true},
		{"a tie gives HTML", "application/json, text/html", false},
		{"JSON refused", "application/json;q=0, */*", false},
		{"application/* over */*", "application/*, */*;q=0.1", true},
		{"text/* for html", "text/*, application/json;q=0.5", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := WantsJSON(tt.accept); got != tt.want {
				t.Fatalf("WantsJSON(%q) = %v, want %v", tt.accept, got, tt.want)
			}
		})
	}
}
