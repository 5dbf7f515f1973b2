package proxy

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

func TestStripForwardingHeaders(t *testing.T) {
	type row struct {
		name          string
		keptByTrusted bool
	}
	var rows []row
	for _, n := range keptFromTrusted {
		for _, v := range variants(n) {
			rows = append(rows, row{v, !strings.Contains(v, "_")})
		}
	}
	for _, n := range append(append([]string(nil), alwaysStripped...), "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto") {
		for _, v := range variants(n) {
			// The gateway's own X-Forwarded-For/-Host/-Proto are set after
			// stripping, from the trusted proxy's or its own view.
			rows = append(rows, row{v, false})
		}
	}
	rows = append(rows,
		row{"X-Forwarded-Anything", true}, // a proxy's extension: the edge's
		row{"X_Forwarded_Anything", false},
		row{"X-SSL-Client-S-DN", true},
		row{"X-SSL-Client-I-DN", true},
		row{"x-amzn-mtls-clientcert-leaf", true},
		row{"X-Forwarded-" + strings.Repeat("Long-", 20), true}, // longer than the stack buffer
		row{"X_Forwarded_" + strings.Repeat("Long_", 20), false},
	)
	for _, r := range rows {
		for _, trusted := range []bool{false, true} {
			h := http.Header{r.name: {"v"}}
			stripForwardingHeaders(h, trusted)
			_, kept := h[r.name]
			if want := trusted && r.keptByTrusted; kept != want {
				t.Errorf("%s from a peer trusted=%v: kept %v, want %v", r.name, trusted, kept, want)
			}
		}
	}
}

func TestStripForwardingHeadersKeepsEverythingElse(t *testing.T) {
	names := []string{"Authorization", "Cookie", "Accept", "Content-Type", "User-Agent", "X-Request-Id",
		"X-Forwarded", "Xforwarded-For", "X-Originals-URL", "X-SSL", "Client-Certificate-Hint", "Original-URL", "Host-Name"}
	for _, trusted := range []bool{false, true} {
		h := http.Header{}
		for _, n := range names {
			h[n] = []string{"v"}
		}
		stripForwardingHeaders(h, trusted)
		for _, n := range names {
			if _, ok := h[n]; !ok {
				t.Errorf("%s was removed (trusted=%v)", n, trusted)
			}
		}
	}
}

// TestForwardingHeadersTableIsCoherent keeps the table readable: no name
// twice, every name in the spelling a proxy writes (dashes, no underscore).
func TestForwardingHeadersTableIsCoherent(t *testing.T) {
	var seen []string
	for _, h := range forwardingHeaders {
		n := foldHeaderName(h.name)
		if slices.Contains(seen, n) {
			t.Errorf("%s is listed twice", h.name)
		}
		seen = append(seen, n)
		if strings.Contains(h.name, "_") || strings.Contains(strings.TrimSuffix(h.name, "*"), "*") {
			t.Errorf("%s: write the dashed name, with at most a trailing *", h.name)
		}
	}
}

// FuzzStripForwardingHeaders: a listed header (in any spelling) never
// survives from an untrusted peer, an unlisted one always does, and the
// stack fold agrees with the plain one.
func FuzzStripForwardingHeaders(f *testing.F) {
	for _, n := range slices.Concat(allListed, []string{"X_Original_URL", "x-forwarded-foo", "Accept", "", "X-Forwarded-" + strings.Repeat("a", 70), "X-ÄÖ_ü"}) {
		f.Add(n, false)
	}
	f.Fuzz(func(t *testing.T, name string, trusted bool) {
		_, listed := forwardingIndex.source(name)
		if _, plain := forwardingIndex.sourceFolded([]byte(foldHeaderName(name))); plain != listed {
			t.Fatalf("%q: the stack fold says listed=%v, the plain fold %v", name, listed, plain)
		}
		h := http.Header{name: {"v"}}
		stripForwardingHeaders(h, trusted)
		_, kept := h[name]
		if !listed && !kept {
			t.Fatalf("%q is not a forwarding header but was removed", name)
		}
		if listed && !trusted && kept {
			t.Fatalf("%q from an untrusted peer was kept", name)
		}
		if kept && strings.Contains(name, "_") && listed {
			t.Fatalf("the underscore spelling %q was kept", name)
		}
	})
}
