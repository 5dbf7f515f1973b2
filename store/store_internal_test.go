package store

import (
	"bytes"
	"strings"
	"testing"
)

func TestTagKeyInTagOf(t *testing.T) {
	a, b := Tag("secret-a"), Tag("secret-b")
	if len(a) != TagLen || a[0] != '{' || a[TagLen-1] != '}' || a == b || Tag("secret-a") != a {
		t.Fatalf("Tag = %q, %q: want distinct stable {…} tags of %d bytes", a, b, TagLen)
	}
	if strings.Contains(a, "secret") || strings.ContainsAny(a[1:TagLen-1], "{} \n") {
		t.Fatalf("Tag = %q", a)
	}
	k := KeyIn(a, NSTransaction, "id")
	if !strings.HasPrefix(k, "parjarm:tx:"+a) || TagOf(k) != a || hashslot(k) != a[1:TagLen-1] {
		t.Fatalf("KeyIn = %q, TagOf = %q", k, TagOf(k))
	}
	if KeyIn("", NSTransaction, "id") != Key(NSTransaction, "id") {
		t.Fatal("KeyIn without a tag differs from Key")
	}
	for _, s := range []string{Key(NSTransaction, "id"), "parjarm:tx:{short}x", "{", ""} {
		if got := TagOf(s); got != "" {
			t.Errorf("TagOf(%q) = %q, want none", s, got)
		}
	}
}

func TestLinkUnlink(t *testing.T) {
	for _, tc := range []struct {
		links []string
		value []byte
	}{
		{[]string{"a", "b"}, []byte("v\nwith newline")},
		{[]string{"a"}, nil},
		{nil, []byte{0x01, 'L'}},
	} {
		links, v := Unlink(Link(tc.links, tc.value))
		if strings.Join(links, ",") != strings.Join(tc.links, ",") || !bytes.Equal(v, tc.value) {
			t.Errorf("Unlink(Link(%q, %q)) = %q, %q", tc.links, tc.value, links, v)
		}
	}
	// Values not written with links come back whole.
	for _, raw := range [][]byte{nil, {0x01, 2, 3}, []byte("Lno newline")} {
		if links, v := Unlink(raw); links != nil || !bytes.Equal(v, raw) {
			t.Errorf("Unlink(%q) = %q, %q; want no links and the value", raw, links, v)
		}
	}
}

func FuzzUnlink(f *testing.F) {
	f.Add([]byte("La b\nvalue"))
	f.Add([]byte{0x01})
	f.Fuzz(func(t *testing.T, raw []byte) {
		links, v := Unlink(raw)
		if len(v) > len(raw) {
			t.Fatalf("Unlink(%q) value longer than the input", raw)
		}
		for _, k := range links {
			if k == "" || strings.ContainsAny(k, " \n") {
				t.Fatalf("Unlink(%q) link %q", raw, k)
			}
		}
	})
}
