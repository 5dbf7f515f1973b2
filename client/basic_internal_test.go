package client

import (
	"encoding/base64"
	"net/url"
	"testing"
)

func FuzzParseBasic(f *testing.F) {
	enc := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, seed := range []string{
		"Basic " + enc("client:secret"),
		"basic " + enc("a%3Ab:c%25d+e"),
		"Basic " + enc(":secret"),
		"Basic " + enc("client"),
		"Basic " + enc("client:%zz"),
		"Basic  " + enc("client:secret") + " ",
		"Basic",
		"Basic !!!",
		"Bearer token",
		"",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, authorization string) {
		id, secret, err := parseBasic(authorization)
		if err != nil {
			if id != "" || secret != "" {
				t.Fatalf("parseBasic(%q) returned credentials with error %v", authorization, err)
			}
			return
		}
		if id == "" {
			t.Fatalf("parseBasic(%q) accepted an empty client_id", authorization)
		}
		if !UsedBasic(authorization) {
			t.Fatalf("parseBasic(%q) accepted a header UsedBasic does not recognise", authorization)
		}
		// Encoding what was decoded gives the same credentials back.
		again := "Basic " + enc(url.QueryEscape(id)+":"+url.QueryEscape(secret))
		id2, secret2, err := parseBasic(again)
		if err != nil || id2 != id || secret2 != secret {
			t.Fatalf("round trip of %q, %q gave %q, %q, %v", id, secret, id2, secret2, err)
		}
	})
}
