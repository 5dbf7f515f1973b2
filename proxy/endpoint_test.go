package proxy

import (
	"net/url"
	"testing"
)

func TestPublicEndpoint(t *testing.T) {
	up := func(s string) *url.URL {
		u, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	for _, tc := range []struct {
		name     string
		upstream *url.URL
		public   string
		in, want string
	}{
		{"a URL on the upstream's address moves to the public URL", up("http://10.1.2.3:4000"), "https://idp.example", "http://10.1.2.3:4000/token", "https://idp.example/token"},
		{"the upstream's bare origin moves too", up("http://10.1.2.3:4000"), "https://idp.example", "http://10.1.2.3:4000", "https://idp.example"},
		{"a query is kept", up("http://10.1.2.3:4000"), "https://idp.example", "http://10.1.2.3:4000/auth?x=1", "https://idp.example/auth?x=1"},
		{"an upstream URL with a trailing slash matches", up("http://10.1.2.3:4000/"), "https://idp.example/", "http://10.1.2.3:4000/token", "https://idp.example/token"},
		{"an upstream with a path maps under the public path", up("http://kc:8080/realms/bank"), "https://idp.example/realms/bank", "http://kc:8080/realms/bank/protocol/openid-connect/token", "https://idp.example/realms/bank/protocol/openid-connect/token"},
		{"a URL outside the upstream's path is kept", up("http://kc:8080/realms/bank"), "https://idp.example/realms/bank", "http://kc:8080/realms/bankx/token", "http://kc:8080/realms/bankx/token"},
		{"a port that only starts like the upstream's is kept", up("http://10.1.2.3:4000"), "https://idp.example", "http://10.1.2.3:40001/docs", "http://10.1.2.3:40001/docs"},
		{"another host is kept", up("http://10.1.2.3:4000"), "https://idp.example", "https://idp.example/me", "https://idp.example/me"},
		{"another scheme is kept", up("http://10.1.2.3:4000"), "https://idp.example", "https://10.1.2.3:4000/token", "https://10.1.2.3:4000/token"},
		{"a string that is no URL is kept", up("http://10.1.2.3:4000"), "https://idp.example", "code", "code"},
		{"without an upstream nothing moves", nil, "https://idp.example", "http://10.1.2.3:4000/token", "http://10.1.2.3:4000/token"},
		{"without a public URL nothing moves", up("http://10.1.2.3:4000"), "", "http://10.1.2.3:4000/token", "http://10.1.2.3:4000/token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := PublicEndpoint(tc.upstream, tc.public, tc.in); got != tc.want {
				t.Fatalf("PublicEndpoint(%v, %q, %q) = %q, want %q", tc.upstream, tc.public, tc.in, got, tc.want)
			}
		})
	}
}
