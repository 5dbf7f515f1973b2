package client_test

import (
	"strings"
	"testing"

	"github.com/parjarm/parjarm/client"
)

func consistent(change func(*client.Client)) *client.Client {
	c := &client.Client{ID: "a", Secret: "s", RedirectURIs: []string{"https://a.example/cb"}}
	change(c)
	return c
}

func TestNewRegistryRefusesContradictoryMetadata(t *testing.T) {
	tests := []struct {
		name   string
		client *client.Client
		field  string
		detail string
	}{
		{"grant_types without authorization_code for the default code", consistent(func(c *client.Client) { c.GrantTypes = []string{"client_credentials"} }),
			"grant_types", `response type "code" needs grant type authorization_code`},
		{"grant_types without authorization_code for a registered code", consistent(func(c *client.Client) {
			c.ResponseTypes = []string{"code"}
			c.GrantTypes = []string{"implicit", "refresh_token"}
		}), "grant_types", `response type "code" needs grant type authorization_code`},
		{"an empty grant_types", consistent(func(c *client.Client) { c.GrantTypes = []string{} }),
			"grant_types", "needs grant type authorization_code"},
		{"id_token without implicit", consistent(func(c *client.Client) {
			c.ResponseTypes = []string{"code id_token"}
			c.GrantTypes = []string{"authorization_code"}
		}), "grant_types", `response type "code id_token" needs grant type implicit`},
		{"token without implicit", consistent(func(c *client.Client) {
			c.ResponseTypes = []string{"token"}
			c.GrantTypes = []string{"authorization_code"}
		}), "grant_types", `response type "token" needs grant type implicit`},
		{"an empty grant type", consistent(func(c *client.Client) { c.GrantTypes = []string{"authorization_code", ""} }),
			"grant_types", `"" is not a grant type`},
		{"an unknown response type value", consistent(func(c *client.Client) { c.ResponseTypes = []string{"code foo"} }),
			"response_types", `"code foo" is not a response type`},
		{"a double space in a response type", consistent(func(c *client.Client) { c.ResponseTypes = []string{"code  id_token"} }),
			"response_types", "is not a response type"},
		{"a repeated response type value", consistent(func(c *client.Client) { c.ResponseTypes = []string{"code code"} }),
			"response_types", "repeats code"},
		{"none with other values", consistent(func(c *client.Client) { c.ResponseTypes = []string{"none code"} }),
			"response_types", "combines none"},
		{"an unknown application_type", consistent(func(c *client.Client) { c.ApplicationType = "desktop" }),
			"application_type", `"desktop" is not an application type`},
		{"web with an http redirect URI off loopback", consistent(func(c *client.Client) {
			c.ApplicationType = client.AppWeb
			c.RedirectURIs = []string{"http://a.example/cb"}
		}), "redirect_uris", "a web client must use https"},
		{"web with a custom scheme", consistent(func(c *client.Client) {
			c.ApplicationType = client.AppWeb
			c.RedirectURIs = []string{"com.example.app:/cb"}
		}), "redirect_uris", "a custom URI scheme is for native clients"},
		{"web with the implicit grant on http localhost", consistent(func(c *client.Client) {
			c.ApplicationType = client.AppWeb
			c.ResponseTypes = []string{"code id_token"}
			c.RedirectURIs = []string{"http://localhost/cb"}
		}), "redirect_uris", "implicit grant must use https"},
		{"web with the implicit grant on https localhost", consistent(func(c *client.Client) {
			c.ApplicationType = client.AppWeb
			c.ResponseTypes = []string{"id_token"}
			c.RedirectURIs = []string{"https://127.0.0.1/cb"}
		}), "redirect_uris", "must not use localhost"},
		{"native with https", consistent(func(c *client.Client) {
			c.ApplicationType = client.AppNative
			c.RedirectURIs = []string{"https://a.example/cb"}
		}), "redirect_uris", "a native client uses a custom URI scheme or http on"},
		{"native with http off loopback", consistent(func(c *client.Client) {
			c.ApplicationType = client.AppNative
			c.RedirectURIs = []string{"http://a.example/cb"}
		}), "redirect_uris", "a native client uses a custom URI scheme or http on"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := client.NewRegistry(tt.client)
			if err == nil {
				t.Fatal("NewRegistry succeeded, want an error")
			}
			if want := `client "a": ` + tt.field + ": "; !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not contain %q", err, want)
			}
			if !strings.Contains(err.Error(), tt.detail) {
				t.Errorf("error %q does not contain %q", err, tt.detail)
			}
		})
	}
}

func TestNewRegistryAcceptsConsistentMetadata(t *testing.T) {
	tests := []struct {
		name   string
		client *client.Client
	}{
		{"grant_types with authorization_code", consistent(func(c *client.Client) { c.GrantTypes = []string{"authorization_code", "refresh_token"} })},
		{"hybrid with both grants", consistent(func(c *client.Client) {
			c.ResponseTypes = []string{"code id_token token", "code"}
			c.GrantTypes = []string{"implicit", "authorization_code"}
		})},
		{"response type none needs no grant", consistent(func(c *client.Client) {
			c.ResponseTypes = []string{"none"}
			c.GrantTypes = []string{"client_credentials"}
		})},
		{"response types without grant_types infer nothing", consistent(func(c *client.Client) { c.ResponseTypes = []string{"id_token token"} })},
		{"web on https", consistent(func(c *client.Client) { c.ApplicationType = client.AppWeb })},
		{"web with code on http loopback", consistent(func(c *client.Client) {
			c.ApplicationType = client.AppWeb
			c.RedirectURIs = []string{"http://localhost:3000/cb", "http://127.0.0.1/cb"}
		})},
		{"native with custom schemes and loopback", consistent(func(c *client.Client) {
			c.ApplicationType = client.AppNative
			c.RedirectURIs = []string{"com.example.app:/cb", "http://[::1]:8080/cb", "http://localhost/cb"}
		})},
		{"no application_type keeps the old rules", consistent(func(c *client.Client) {
			c.RedirectURIs = []string{"http://intranet.example/cb", "com.example.app:/cb"}
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := client.NewRegistry(tt.client); err != nil {
				t.Fatal(err)
			}
		})
	}
}
