// Package certtest makes real X.509 certificates for tests: a CA, server
// and client certificates with any subject and SANs, self-signed client
// certificates. Keys are ECDSA P-256, server keys RSA (the TLS 1.2 cipher
// suites FAPI permits are ECDHE_RSA).
package certtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/url"
	"testing"
	"time"
)

// Cert is a certificate with its private key.
type Cert struct {
	Cert    *x509.Certificate
	Key     crypto.Signer
	CertPEM []byte // the certificate, then its issuers below the root
	KeyPEM  []byte
	// Issuers are the certificates between Cert and the root, leaf side
	// first.
	Issuers []*x509.Certificate
}

// Chain is the certificate and its issuers below the root, leaf first.
func (c *Cert) Chain() []*x509.Certificate {
	return append([]*x509.Certificate{c.Cert}, c.Issuers...)
}

// TLS is the certificate as a tls.Certificate, with its chain.
func (c *Cert) TLS() tls.Certificate {
	tc := tls.Certificate{PrivateKey: c.Key, Leaf: c.Cert}
	for _, x := range c.Chain() {
		tc.Certificate = append(tc.Certificate, x.Raw)
	}
	return tc
}

// Options describe a certificate.
type Options struct {
	Subject       pkix.Name
	DNSNames      []string
	URIs          []string
	IPs           []string
	Emails        []string
	NotBefore     time.Time // default: an hour ago
	NotAfter      time.Time // default: in a day
	Server        bool      // server auth EKU and an RSA key; else client auth
	CA            bool
	RawSubjectDER []byte // overrides Subject when set
}

// NewCA returns a self-signed CA.
func NewCA(t testing.TB, cn string) *Cert {
	t.Helper()
	return make1(t, Options{Subject: pkix.Name{CommonName: cn, Organization: []string{"parjarm tests"}}, CA: true}, nil)
}

// Issue returns a certificate issued by ca.
func (ca *Cert) Issue(t testing.TB, o Options) *Cert {
	t.Helper()
	return make1(t, o, ca)
}

// SelfSigned returns a self-signed client certificate.
func SelfSigned(t testing.TB, o Options) *Cert {
	t.Helper()
	return make1(t, o, nil)
}

var serial int64 = time.Now().UnixNano()

func make1(t testing.TB, o Options, issuer *Cert) *Cert {
	t.Helper()
	var key crypto.Signer
	var err error
	if o.Server {
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	} else {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	serial++
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:   big.NewInt(serial),
		Subject:        o.Subject,
		RawSubject:     o.RawSubjectDER,
		NotBefore:      o.NotBefore,
		NotAfter:       o.NotAfter,
		DNSNames:       o.DNSNames,
		EmailAddresses: o.Emails,
		KeyUsage:       x509.KeyUsageDigitalSignature,
	}
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = now.Add(-time.Hour)
	}
	if tmpl.NotAfter.IsZero() {
		tmpl.NotAfter = now.Add(24 * time.Hour)
	}
	for _, s := range o.URIs {
		u, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.URIs = append(tmpl.URIs, u)
	}
	for _, s := range o.IPs {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(s))
	}
	switch {
	case o.CA:
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	case o.Server:
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
	default:
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	parent, signer := tmpl, key
	var issuers []*x509.Certificate
	if issuer != nil {
		parent, signer = issuer.Cert, issuer.Key
		if !selfSigned(issuer.Cert) {
			// An intermediate: the chain below the root goes with the leaf.
			issuers = issuer.Chain()
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	c := &Cert{Cert: cert, Key: key, Issuers: issuers,
		KeyPEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})}
	for _, x := range c.Chain() {
		c.CertPEM = append(c.CertPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: x.Raw})...)
	}
	return c
}

// selfSigned reports whether the CA certificate c signed itself (a root).
func selfSigned(c *x509.Certificate) bool {
	return c.CheckSignatureFrom(c) == nil
}

// Pool returns a pool of certs.
func Pool(certs ...*Cert) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c.Cert)
	}
	return p
}
