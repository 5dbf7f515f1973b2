package client

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"testing"
)

// subjectDER encodes an RDN sequence with the given string types, so that
// tests control PrintableString vs UTF8String and multi-valued RDNs.
func subjectDER(t *testing.T, rdns [][]struct {
	oid asn1.ObjectIdentifier
	tag int
	v   string
}) []byte {
	t.Helper()
	var seq []rawRDNSET
	for _, rdn := range rdns {
		var set rawRDNSET
		for _, a := range rdn {
			b := []byte(a.v)
			if a.tag == asn1.TagBMPString {
				b = nil
				for _, r := range a.v {
					b = append(b, byte(r>>8), byte(r))
				}
			}
			set = append(set, rawATV{Type: a.oid, Value: asn1.RawValue{Class: asn1.ClassUniversal, Tag: a.tag, Bytes: b}})
		}
		seq = append(seq, set)
	}
	der, err := asn1.Marshal(seq)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

type atv = struct {
	oid asn1.ObjectIdentifier
	tag int
	v   string
}

var (
	oidCN  = asn1.ObjectIdentifier{2, 5, 4, 3}
	oidO   = asn1.ObjectIdentifier{2, 5, 4, 10}
	oidOU  = asn1.ObjectIdentifier{2, 5, 4, 11}
	oidC   = asn1.ObjectIdentifier{2, 5, 4, 6}
	oidOrg = asn1.ObjectIdentifier{2, 5, 4, 97}
	oidX   = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1}
)

func TestMatchDNComparesAsRFC4514Says(t *testing.T) {
	// C=GB, O=Bank, Inc., OU=Payments+OU=Cards, CN=app in DER order.
	bank := subjectDER(t, [][]atv{
		{{oidC, asn1.TagPrintableString, "GB"}},
		{{oidO, asn1.TagUTF8String, "Bank, Inc."}},
		{{oidOU, asn1.TagUTF8String, "Payments"}, {oidOU, asn1.TagUTF8String, "Cards"}},
		{{oidCN, asn1.TagUTF8String, "app  one"}},
	})
	openBanking := subjectDER(t, [][]atv{
		{{oidC, asn1.TagPrintableString, "GB"}},
		{{oidOrg, asn1.TagUTF8String, "PSDGB-FCA-123456"}},
		{{oidCN, asn1.TagBMPString, "Zürich"}},
		{{oidX, asn1.TagUTF8String, "Exact"}},
	})
	hexValue := subjectDER(t, [][]atv{{{oidX, asn1.TagUTF8String, "v"}}})
	xDER, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagUTF8String, Bytes: []byte("v")})

	tests := []struct {
		name    string
		dn      string
		subject []byte
		want    bool
	}{
		{"the same DN matches", `CN=app one,OU=Payments+OU=Cards,O=Bank\, Inc.,C=GB`, bank, true},
		{"case is ignored for caseIgnoreMatch attributes", `cn=APP ONE,ou=cards+ou=PAYMENTS,o=bank\, inc.,c=gb`, bank, true},
		{"insignificant spaces are ignored", `CN= app   one ,OU=Payments + OU=Cards, O=Bank\, Inc. , C=GB`, bank, true},
		{"a multi-valued RDN matches in any order", `CN=app one,OU=Cards+OU=Payments,O=Bank\, Inc.,C=GB`, bank, true},
		{"a hex-escaped byte is the byte", `CN=app one,OU=Payments+OU=Cards,O=Bank\2C Inc.,C=GB`, bank, true},
		{"the RDNs in DER order do not match", `C=GB,O=Bank\, Inc.,OU=Payments+OU=Cards,CN=app one`, bank, false},
		{"a missing RDN does not match", `CN=app one,O=Bank\, Inc.,C=GB`, bank, false},
		{"a multi-valued RDN with one value missing does not match", `CN=app one,OU=Payments,O=Bank\, Inc.,C=GB`, bank, false},
		{"an extra RDN does not match", `CN=app one,OU=Payments+OU=Cards,O=Bank\, Inc.,C=GB,DC=example`, bank, false},
		{"another value does not match", `CN=app two,OU=Payments+OU=Cards,O=Bank\, Inc.,C=GB`, bank, false},
		{"another attribute type does not match", `CN=app one,OU=Payments+OU=Cards,L=Bank\, Inc.,C=GB`, bank, false},
		{"a comma that is not escaped splits the RDN", `CN=app one,OU=Payments+OU=Cards,O=Bank, Inc.,C=GB`, bank, false},
		{"organizationIdentifier, BMPString and an OID type match", `1.3.6.1.4.1.99999.1=Exact,CN=zürich,organizationIdentifier=psdgb-fca-123456,C=GB`, openBanking, true},
		{"an attribute of unknown matching rule is compared exactly", `1.3.6.1.4.1.99999.1=exact,CN=Zürich,organizationIdentifier=PSDGB-FCA-123456,C=GB`, openBanking, false},
		{"a #hex value is compared as DER", "1.3.6.1.4.1.99999.1=#" + hex.EncodeToString(xDER), hexValue, true},
		{"a #hex value of another encoding does not match", "1.3.6.1.4.1.99999.1=#0c0177", hexValue, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := parseDN(tt.dn)
			if err != nil {
				if tt.want {
					t.Fatalf("parseDN(%q): %v", tt.dn, err)
				}
				return
			}
			if got := matchDN(d, tt.subject); got != tt.want {
				t.Fatalf("matchDN(%q) = %v, want %v", tt.dn, got, tt.want)
			}
		})
	}
}

func TestMatchDNAgreesWithGoCertificateSubjects(t *testing.T) {
	name := pkix.Name{CommonName: "app", Organization: []string{"Bank"}, OrganizationalUnit: []string{"Payments"}, Country: []string{"DE"}, Locality: []string{"Köln"}}
	der, err := asn1.Marshal(name.ToRDNSequence())
	if err != nil {
		t.Fatal(err)
	}
	// pkix.Name.String writes RFC 4514.
	d, err := parseDN(name.String())
	if err != nil {
		t.Fatal(err)
	}
	if !matchDN(d, der) {
		t.Fatalf("the DN %q does not match its own subject", name.String())
	}
}

func TestParseDNRefusesMalformedNames(t *testing.T) {
	for _, s := range []string{"", " ", "CN", "CN=a,", "=a", "XX=a", "1=a", "1.2.x=a", "CN=a;O=b", `CN=a\`, `CN=a\q`, `CN=a"b`, "CN=#zz", "CN=#", "CN=#0c01", `CN=\ff`, "01.2=a"} {
		if _, err := parseDN(s); err == nil {
			t.Errorf("parseDN(%q) succeeded", s)
		}
	}
}

func FuzzParseDN(f *testing.F) {
	for _, s := range []string{`CN=app,O=Bank\, Inc.,C=GB`, `OU=a+OU=b,CN=c`, "1.2.3=#0c0161", `CN=\c3\bc`, "CN= a ", ""} {
		f.Add(s)
	}
	subject, _ := asn1.Marshal(pkix.Name{CommonName: "app", Country: []string{"GB"}}.ToRDNSequence())
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseDN(s)
		if err != nil {
			return
		}
		if len(d) == 0 {
			t.Fatalf("parseDN(%q) returned an empty DN without error", s)
		}
		_ = matchDN(d, subject)
	})
}
