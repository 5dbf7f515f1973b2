package tlsauth_test

import (
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/parjarm/parjarm/internal/certtest"
	"github.com/parjarm/parjarm/tlsauth"
)

func TestParseReadsEveryFormat(t *testing.T) {
	ca := certtest.NewCA(t, "root")
	inter := ca.Issue(t, certtest.Options{CA: true, Subject: pkix.Name{CommonName: "intermediate"}})
	leaf := inter.Issue(t, certtest.Options{Subject: pkix.Name{CommonName: "client"}})
	b64 := func(der []byte) string { return ":" + base64.StdEncoding.EncodeToString(der) + ":" }
	pemOf := func(c *certtest.Cert) string { return string(c.CertPEM) }
	leafPEM := strings.SplitAfter(pemOf(leaf), "-----END CERTIFICATE-----\n")[0]

	tests := []struct {
		name       string
		format     tlsauth.Format
		value      string
		chainValue string
		wantLen    int
	}{
		{"an RFC 9440 byte sequence", tlsauth.FormatRFC9440, b64(leaf.Cert.Raw), "", 1},
		{"an RFC 9440 byte sequence without padding", tlsauth.FormatRFC9440, ":" + base64.RawStdEncoding.EncodeToString(leaf.Cert.Raw) + ":", "", 1},
		{"an RFC 9440 certificate with its chain", tlsauth.FormatRFC9440, b64(leaf.Cert.Raw), b64(inter.Cert.Raw) + " , " + b64(ca.Cert.Raw), 3},
		{"an empty RFC 9440 header is no certificate", tlsauth.FormatRFC9440, " ", "", 0},
		{"nginx's escaped PEM", tlsauth.FormatNginx, url.PathEscape(leafPEM), "", 1},
		{"nginx's escaped PEM with spaces as %20 and + kept", tlsauth.FormatNginx, strings.ReplaceAll(url.QueryEscape(leafPEM), "+", "%20"), "", 1},
		{"nginx without a certificate", tlsauth.FormatNginx, "", "", 0},
		{"nginx's dash without a certificate", tlsauth.FormatNginx, "-", "", 0},
		{"an Envoy element with Cert", tlsauth.FormatEnvoy, `By=spiffe://gw;Hash=abc;Cert="` + url.PathEscape(leafPEM) + `";Subject="CN=client,O=a\"b"`, "", 1},
		{"an Envoy element with Cert and Chain", tlsauth.FormatEnvoy, `Cert="` + url.PathEscape(leafPEM) + `";Chain="` + url.PathEscape(pemOf(leaf)) + `"`, "", 2},
		{"an Envoy Cert that is not PEM, next to a quoted comma", tlsauth.FormatEnvoy, `Hash=1;Subject="CN=x,O=y";Cert="garbage"`, "", -1},
		{"Envoy with the earlier hop's element first", tlsauth.FormatEnvoy, `Hash=1,Cert="` + url.PathEscape(leafPEM) + `"`, "", 1},
		{"an Envoy element without Cert is no certificate", tlsauth.FormatEnvoy, `By=spiffe://gw;Hash=abc`, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chain, err := tlsauth.Parse(tt.format, tt.value, tt.chainValue)
			if tt.wantLen < 0 {
				if !errors.Is(err, tlsauth.ErrMalformed) {
					t.Fatalf("Parse = %v, want ErrMalformed", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if len(chain) != tt.wantLen {
				t.Fatalf("Parse returned %d certificates, want %d", len(chain), tt.wantLen)
			}
			if tt.wantLen > 0 && !chain[0].Equal(leaf.Cert) {
				t.Errorf("the first certificate is not the leaf")
			}
		})
	}
}

func TestParseRefusesMalformedHeaders(t *testing.T) {
	leaf := certtest.SelfSigned(t, certtest.Options{Subject: pkix.Name{CommonName: "client"}})
	one := url.PathEscape(string(leaf.CertPEM))
	other := certtest.SelfSigned(t, certtest.Options{Subject: pkix.Name{CommonName: "other"}})
	keyPEM := url.PathEscape(string(leaf.KeyPEM))
	tests := []struct {
		name       string
		format     tlsauth.Format
		value      string
		chainValue string
	}{
		{"RFC 9440 without colons", tlsauth.FormatRFC9440, base64.StdEncoding.EncodeToString(leaf.Cert.Raw), ""},
		{"RFC 9440 with a parameter", tlsauth.FormatRFC9440, ":" + base64.StdEncoding.EncodeToString(leaf.Cert.Raw) + ":;a=1", ""},
		{"RFC 9440 that is not base64", tlsauth.FormatRFC9440, ":@@@:", ""},
		{"RFC 9440 empty byte sequence", tlsauth.FormatRFC9440, "::", ""},
		{"RFC 9440 bytes that are no certificate", tlsauth.FormatRFC9440, ":AAEC:", ""},
		{"an RFC 9440 chain member that is no byte sequence", tlsauth.FormatRFC9440, ":" + base64.StdEncoding.EncodeToString(leaf.Cert.Raw) + ":", "abc"},
		{"an RFC 9440 chain of more than ten", tlsauth.FormatRFC9440, ":" + base64.StdEncoding.EncodeToString(leaf.Cert.Raw) + ":", strings.Repeat(":"+base64.StdEncoding.EncodeToString(leaf.Cert.Raw)+":,", 10) + ":" + base64.StdEncoding.EncodeToString(leaf.Cert.Raw) + ":"},
		{"nginx with a bad escape", tlsauth.FormatNginx, "%zz", ""},
		{"nginx without PEM", tlsauth.FormatNginx, "hello", ""},
		{"nginx with a private key", tlsauth.FormatNginx, keyPEM, ""},
		{"nginx with text after the PEM", tlsauth.FormatNginx, one + "trailing", ""},
		{"Envoy with an unterminated quote", tlsauth.FormatEnvoy, `Cert="` + one, ""},
		{"Envoy with a pair without =", tlsauth.FormatEnvoy, `Cert`, ""},
		{"Envoy with Cert twice", tlsauth.FormatEnvoy, `Cert="` + one + `";Cert="` + one + `"`, ""},
		{"Envoy with a stray quote", tlsauth.FormatEnvoy, `Cert=a"b`, ""},
		{"Envoy with a Chain that does not start with Cert", tlsauth.FormatEnvoy, `Cert="` + one + `";Chain="` + url.PathEscape(string(other.CertPEM)) + `"`, ""},
		{"Envoy with two certificates in Cert", tlsauth.FormatEnvoy, `Cert="` + one + url.PathEscape(string(other.CertPEM)) + `"`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chain, err := tlsauth.Parse(tt.format, tt.value, tt.chainValue)
			if !errors.Is(err, tlsauth.ErrMalformed) || chain != nil {
				t.Fatalf("Parse = %d certificates, %v; want ErrMalformed", len(chain), err)
			}
			if strings.Contains(err.Error(), tt.value) && len(tt.value) > 8 {
				t.Errorf("the error quotes the header value")
			}
		})
	}
	if _, err := tlsauth.Parse("apache", "x", ""); err == nil || errors.Is(err, tlsauth.ErrMalformed) {
		t.Errorf("an unknown format: %v", err)
	}
}

func TestEncodeIsReadBackByParse(t *testing.T) {
	ca := certtest.NewCA(t, "root")
	inter := ca.Issue(t, certtest.Options{CA: true, Subject: pkix.Name{CommonName: "intermediate"}})
	leaf := inter.Issue(t, certtest.Options{Subject: pkix.Name{CommonName: "client"}})
	for _, f := range tlsauth.Formats {
		t.Run(string(f), func(t *testing.T) {
			v, cv := tlsauth.Encode(f, leaf.Chain())
			chain, err := tlsauth.Parse(f, v, cv)
			if err != nil {
				t.Fatal(err)
			}
			want := map[tlsauth.Format]int{tlsauth.FormatRFC9440: 2, tlsauth.FormatNginx: 1, tlsauth.FormatEnvoy: 2}[f]
			if len(chain) != want || !chain[0].Equal(leaf.Cert) {
				t.Fatalf("read back %d certificates, want %d starting with the leaf", len(chain), want)
			}
		})
	}
	if v, cv := tlsauth.Encode(tlsauth.FormatRFC9440, nil); v != "" || cv != "" {
		t.Errorf("Encode of no chain = %q, %q", v, cv)
	}
}

// fuzzSeeds are header values of every format, valid and not.
func fuzzSeeds(f *testing.F, format tlsauth.Format) {
	leaf := certtest.SelfSigned(f, certtest.Options{Subject: pkix.Name{CommonName: "client"}})
	v, cv := tlsauth.Encode(format, leaf.Chain())
	f.Add(v, cv)
	f.Add("", "")
	f.Add(":", ":")
	f.Add(`Cert="`, "")
	f.Add(`a=b;c="d\"e",f=g`, "")
	f.Add("%2", "::,::")
	f.Add(url.PathEscape("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), "")
}

func fuzzParse(f *testing.F, format tlsauth.Format) {
	fuzzSeeds(f, format)
	f.Fuzz(func(t *testing.T, value, chainValue string) {
		chain, err := tlsauth.Parse(format, value, chainValue)
		if err != nil && chain != nil {
			t.Fatal("certificates next to an error")
		}
		for _, c := range chain {
			if c == nil {
				t.Fatal("a nil certificate")
			}
		}
	})
}

func FuzzParseRFC9440(f *testing.F) { fuzzParse(f, tlsauth.FormatRFC9440) }
func FuzzParseNginx(f *testing.F)   { fuzzParse(f, tlsauth.FormatNginx) }
func FuzzParseEnvoy(f *testing.F)   { fuzzParse(f, tlsauth.FormatEnvoy) }
