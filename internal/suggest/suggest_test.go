package suggest

import "testing"

func TestDistance(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"", "abc", 3}, {"abc", "", 3}, {"grant_type", "grant_types", 1},
		{"client_nmae", "client_name", 2}, {"kitten", "sitting", 3}, {"same", "same", 0},
	} {
		if got := Distance(tt.a, tt.b); got != tt.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestClosest(t *testing.T) {
	names := []string{"redirect_uris", "response_types", "grant_types", "client_name"}
	for _, tt := range []struct {
		name string
		max  int
		want string
	}{
		{"redirect_uri", 3, "redirect_uris"},
		{"grant_type", 3, "grant_types"},
		{"client_nmae", 3, "client_name"},
		{"something_else_entirely", 3, ""},
		{"client_nmae", 1, ""},
	} {
		if got := Closest(tt.name, names, tt.max); got != tt.want {
			t.Errorf("Closest(%q, max %d) = %q, want %q", tt.name, tt.max, got, tt.want)
		}
	}
}
