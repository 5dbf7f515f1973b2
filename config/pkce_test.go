package config

import "testing"

func TestTokenEndpointPKCEEnforced(t *testing.T) {
	for _, tc := range []struct {
		policy  TokenEndpointPKCE
		methods []string
		want    bool
	}{
		{PKCEAuto, nil, true},
		{PKCEAuto, []string{"plain"}, true},
		{PKCEAuto, []string{"plain", "S256"}, false},
		{PKCEEnforce, []string{"S256"}, true},
		{PKCEOff, nil, false},
	} {
		if got := tc.policy.Enforced(tc.methods); got != tc.want {
			t.Errorf("%s.Enforced(%v) = %v, want %v", tc.policy, tc.methods, got, tc.want)
		}
	}
}
