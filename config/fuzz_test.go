package config

import (
	"slices"
	"strings"
	"testing"
)

// FuzzLoad sets one variable to an arbitrary value. Load must never panic,
// must name only real variables in its errors, must never echo a password,
// and what it accepts must validate and round-trip.
func FuzzLoad(f *testing.F) {
	seeds := []struct {
		index uint
		value string
	}{
		{0, "http://[::1"}, {0, "https://u:pw@idp/?q#f"}, {6, "redis://:pw@h:1/x?dial_timeout=zz"},
		{6, "%zz"}, {8, " a:1 ,, b "}, {20, "none"}, {24, "900s"}, {24, "-1ns"}, {31, "HS256, none ,"},
		{42, "10.0.0.1,::/0"}, {42, "/"}, {5, ":65536"}, {28, "9223372036854775808"}, {1, "http://x"},
	}
	for _, s := range seeds {
		f.Add(s.index, s.value)
	}
	names := Vars()
	f.Fuzz(func(t *testing.T, index uint, value string) {
		name := names[index%uint(len(names))]
		environ := with(map[string]string{name: value})
		c, err := Load(environ)
		if err != nil {
			if c != nil {
				t.Fatal("Load returned a config next to an error")
			}
			for _, v := range reported(err) {
				if !slices.Contains(names, v) {
					t.Fatalf("error names %q, not a variable: %v", v, err)
				}
			}
			if strings.Contains(name, "PASSWORD") && value != "" {
				// A password's value only matters as set or unset, so its
				// error must read the same for any other non-empty value.
				_, other := Load(with(map[string]string{name: "placeholder"}))
				if other == nil || err.Error() != other.Error() {
					t.Fatalf("error depends on the password value: %v", err)
				}
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Load accepted a config that Validate refuses: %v", err)
		}
		if _, err := Load(c.vars(false)); err != nil {
			t.Fatalf("the loaded config does not load again: %v", err)
		}
		_ = c.Redacted()
		_ = c.StoreKind()
	})
}
