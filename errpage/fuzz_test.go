package errpage

import (
	"slices"
	"strings"
	"testing"

	"github.com/parjarm/parjarm/flow"
)

// FuzzParsePreferences: untrusted Accept and Accept-Language headers never
// panic, give at most maxPreferences items with weights in [0, 1000] in
// descending order, and negotiate one of the available languages.
func FuzzParsePreferences(f *testing.F) {
	for _, s := range []string{"", "de", "fr;q=0.5, de-CH, en;q=0.8", "*;q=0", "a;q=1.000;q=0", "application/json;q=0.9", ";;;,,,", "pt-BR;q=0.001", "x;q=0.", "é;q=1"} {
		f.Add(s)
	}
	available := []string{"en", "de", "pt-BR"}
	f.Fuzz(func(t *testing.T, header string) {
		prefs := ParsePreferences(header)
		if len(prefs) > maxPreferences {
			t.Fatalf("%d items", len(prefs))
		}
		for i, p := range prefs {
			if p.Q < 0 || p.Q > 1000 || p.Value == "" {
				t.Fatalf("item %d: %+v", i, p)
			}
			if i > 0 && prefs[i-1].Q < p.Q {
				t.Fatalf("not in descending order: %v", prefs)
			}
		}
		if got := Negotiate(header, available, "en"); !slices.Contains(available, got) {
			t.Fatalf("Negotiate = %q", got)
		}
		_ = WantsJSON(header)
	})
}

// FuzzScrub: whatever a description quotes, what Scrub returns holds no
// request_uri and no transaction id.
func FuzzScrub(f *testing.F) {
	for _, s := range []string{"", "parameter \"urn:ietf:params:oauth:request_uri:abc\" is repeated", "state " + flow.NewID(), "pjt_x", "URN:ietf:params:oauth:request_uri:", "a b c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Scrub(s)
		if strings.Contains(strings.ToLower(out), "urn:ietf:params:oauth:request_uri:") {
			t.Fatalf("Scrub(%q) = %q keeps a request_uri", s, out)
		}
		if ids := flow.IDsIn(out); len(ids) > 0 {
			t.Fatalf("Scrub(%q) = %q keeps a transaction id", s, out)
		}
	})
}
