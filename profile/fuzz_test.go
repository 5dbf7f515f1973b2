package profile

import (
	"errors"
	"net/http"
	"net/url"
	"testing"

	"github.com/parjarm/parjarm/oauth"
)

// FuzzCheckRequest feeds arbitrary authorization parameters (as a query
// string) to every profile's request rules: they never panic, and refuse
// only with a 400 OAuth error whose description names the profile.
func FuzzCheckRequest(f *testing.F) {
	f.Add("response_type=code&redirect_uri=https%3A%2F%2Frp%2Fcb&code_challenge=x&code_challenge_method=S256")
	f.Add("response_type=code+id_token&scope=openid&response_mode=jwt")
	f.Add("response_type=%20code&redirect_uri=https:%2F%2F%5B::1&response_mode=query.jwt")
	f.Add("response_mode=" + string(make([]byte, 200)))
	f.Fuzz(func(t *testing.T, query string) {
		params, _ := url.ParseQuery(query)
		r := FromParams(params)
		for _, n := range Names {
			err := CheckRequest(n, r)
			if err == nil {
				continue
			}
			var oe *oauth.Error
			if !errors.As(err, &oe) || oe.Status != http.StatusBadRequest || len(oe.Description) < len(n.Title()) || oe.Description[:len(n.Title())] != n.Title() {
				t.Fatalf("%s: CheckRequest(%q) = %v", n, query, err)
			}
		}
	})
}
