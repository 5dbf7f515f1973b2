package tlsauth

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// DefaultReloadInterval is how often, at most, CertReloader looks at its
// files again: at the first handshake after the interval.
const DefaultReloadInterval = 5 * time.Second

// CipherSuites are the TLS 1.2 cipher suites of the public listener: those
// of the four FAPI 1.0 Advanced, section 8.5 permits that Go implements
// (it has no DHE). TLS 1.3 suites are not configurable in Go, and FAPI
// restricts none of them.
var CipherSuites = []uint16{
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
}

// ServerConfig returns the public listener's TLS configuration: TLS 1.2 at
// least with CipherSuites, TLS 1.3, the certificate from certs, and client
// certificates requested but not verified in the handshake
// (tls.RequestClientCert). Client authentication verifies them instead
// (RFC 8705, section 2: against the client CA for tls_client_auth, against
// the client's registered keys for self_signed_tls_client_auth), so that one
// listener serves both kinds of client and a certificate that fails is
// answered 401 invalid_client, not with a handshake alert. No CA names are
// sent in the CertificateRequest: a client whose self-signed certificate is
// not under a listed CA would otherwise send none.
//
// With mtlsHosts, certificates are requested only from clients whose SNI
// names one of them (the RFC 8705, section 5 alias host, such as
// matls-auth.bank.example): a browser at the authorization endpoint on the
// other host is never shown a certificate picker.
func ServerConfig(certs *CertReloader, mtlsHosts ...string) *tls.Config {
	c := &tls.Config{
		MinVersion:     tls.VersionTLS12,
		CipherSuites:   CipherSuites,
		GetCertificate: certs.GetCertificate,
		ClientAuth:     tls.RequestClientCert,
	}
	if len(mtlsHosts) == 0 {
		return c
	}
	withCerts := c.Clone()
	c.ClientAuth = tls.NoClientCert
	c.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		for _, h := range mtlsHosts {
			if strings.EqualFold(strings.TrimSuffix(hello.ServerName, "."), h) {
				return withCerts, nil
			}
		}
		return nil, nil
	}
	return c
}

// LoadCAs reads a PEM file of CA certificates, the roots client
// certificates of tls_client_auth clients must chain to.
func LoadCAs(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s holds no PEM CERTIFICATE", path)
	}
	return pool, nil
}

// CertReloader serves the certificate and key of two PEM files (the
// certificate file may hold the chain) and reloads them when they change:
// at a handshake at least Interval after the last look, it stats both files
// (following symlinks, so a Kubernetes secret's symlink swap is seen) and,
// when either changed, reads both again. A pair that does not load (a
// half-written rotation) keeps the previous certificate until the next
// look. Connections are never dropped: a handshake gets the certificate of
// its moment. It is safe for concurrent use.
type CertReloader struct {
	certFile, keyFile string
	// Interval is the least time between two looks at the files. Default
	// DefaultReloadInterval.
	Interval time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// OnError, if set, is told about a reload that failed.
	OnError func(error)

	mu        sync.Mutex
	cert      *tls.Certificate
	certInfo  os.FileInfo
	keyInfo   os.FileInfo
	digest    [sha256.Size]byte
	lastCheck time.Time
}

// NewCertReloader loads certFile and keyFile; an error names the file.
func NewCertReloader(certFile, keyFile string) (*CertReloader, error) {
	r := &CertReloader{certFile: certFile, keyFile: keyFile}
	if err := r.load(); err != nil {
		return nil, err
	}
	return r, nil
}

// Certificate returns the certificate currently served.
func (r *CertReloader) Certificate() *tls.Certificate {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cert
}

// GetCertificate is tls.Config.GetCertificate.
func (r *CertReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if now.Sub(r.lastCheck) >= r.interval() {
		r.lastCheck = now
		if r.changedLocked() {
			if err := r.loadLocked(); err != nil && r.OnError != nil {
				r.OnError(err)
			}
		}
	}
	return r.cert, nil
}

func (r *CertReloader) load() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lastCheck = r.now()
	return r.loadLocked()
}

// changedLocked reports whether a file is not the one last loaded: another
// file (inode), size or modification time.
func (r *CertReloader) changedLocked() bool {
	ci, err1 := os.Stat(r.certFile)
	ki, err2 := os.Stat(r.keyFile)
	if err1 != nil || err2 != nil {
		return false // mid-swap; look again next time
	}
	same := func(a, b os.FileInfo) bool {
		return a != nil && os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
	}
	return !same(r.certInfo, ci) || !same(r.keyInfo, ki)
}

func (r *CertReloader) loadLocked() error {
	ci, err := os.Stat(r.certFile)
	if err != nil {
		return fmt.Errorf("TLS certificate %s: %w", r.certFile, err)
	}
	ki, err := os.Stat(r.keyFile)
	if err != nil {
		return fmt.Errorf("TLS key %s: %w", r.keyFile, err)
	}
	certPEM, err := os.ReadFile(r.certFile)
	if err != nil {
		return fmt.Errorf("TLS certificate %s: %w", r.certFile, err)
	}
	keyPEM, err := os.ReadFile(r.keyFile)
	if err != nil {
		return fmt.Errorf("TLS key %s: %w", r.keyFile, err)
	}
	// The key's bytes never leave this function, not even in an error.
	digest := sha256.Sum256(append(append([]byte(nil), certPEM...), keyPEM...))
	r.certInfo, r.keyInfo = ci, ki
	if r.cert != nil && digest == r.digest {
		return nil // touched, not changed
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		// Look again at the next interval: the other file may be on its way.
		r.certInfo, r.keyInfo = nil, nil
		return fmt.Errorf("TLS certificate %s and key %s do not load as a pair", r.certFile, r.keyFile)
	}
	if cert.Leaf == nil {
		return errors.New("TLS certificate has no leaf")
	}
	r.cert, r.digest = &cert, digest
	return nil
}

func (r *CertReloader) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *CertReloader) interval() time.Duration {
	if r.Interval > 0 {
		return r.Interval
	}
	return DefaultReloadInterval
}
