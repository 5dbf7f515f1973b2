package tlsauth_test

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parjarm/parjarm/internal/certtest"
	"github.com/parjarm/parjarm/tlsauth"
)

// secretDir lays out files as a Kubernetes secret volume does: tls.crt and
// tls.key are symlinks through ..data to a timestamped directory, and an
// update swaps ..data.
type secretDir struct {
	t   *testing.T
	dir string
	n   int
}

func newSecretDir(t *testing.T, c *certtest.Cert) *secretDir {
	s := &secretDir{t: t, dir: t.TempDir()}
	s.write(c.CertPEM, c.KeyPEM)
	for _, f := range []string{"tls.crt", "tls.key"} {
		if err := os.Symlink(filepath.Join("..data", f), filepath.Join(s.dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func (s *secretDir) write(certPEM, keyPEM []byte) {
	s.t.Helper()
	s.n++
	ts := filepath.Join(s.dir, "..v"+string(rune('0'+s.n)))
	if err := os.Mkdir(ts, 0o700); err != nil {
		s.t.Fatal(err)
	}
	for f, b := range map[string][]byte{"tls.crt": certPEM, "tls.key": keyPEM} {
		if err := os.WriteFile(filepath.Join(ts, f), b, 0o600); err != nil {
			s.t.Fatal(err)
		}
	}
	tmp := filepath.Join(s.dir, "..data_tmp")
	if err := os.Symlink(filepath.Base(ts), tmp); err != nil {
		s.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(s.dir, "..data")); err != nil {
		s.t.Fatal(err)
	}
}

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestCertReloaderRotatesWithoutDroppingConnections(t *testing.T) {
	ca := certtest.NewCA(t, "server CA")
	server := func() *certtest.Cert {
		return ca.Issue(t, certtest.Options{Server: true, Subject: pkix.Name{CommonName: "gw"}, IPs: []string{"127.0.0.1"}})
	}
	a, b, c := server(), server(), server()
	dir := newSecretDir(t, a)
	r, err := tlsauth.NewCertReloader(filepath.Join(dir.dir, "tls.crt"), filepath.Join(dir.dir, "tls.key"))
	if err != nil {
		t.Fatal(err)
	}
	clk := &fakeClock{now: time.Now()}
	r.Now = clk.Now
	var reloadErrs []error
	var mu sync.Mutex
	r.OnError = func(err error) { mu.Lock(); reloadErrs = append(reloadErrs, err); mu.Unlock() }

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(tls.NewListener(ln, tlsauth.ServerConfig(r))) }()
	t.Cleanup(func() { _ = srv.Close() })
	url := "https://" + ln.Addr().String() + "/"

	newClient := func() *http.Client {
		return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: certtest.Pool(ca)}}, Timeout: 5 * time.Second}
	}
	served := func(hc *http.Client) *x509.Certificate {
		t.Helper()
		resp, err := hc.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.TLS.PeerCertificates[0]
	}

	old := newClient()
	if got := served(old); !got.Equal(a.Cert) {
		t.Fatal("the first certificate is not served")
	}
	dir.write(b.CertPEM, b.KeyPEM)
	if got := served(newClient()); !got.Equal(a.Cert) {
		t.Fatal("the files were read again before the interval")
	}
	clk.Advance(tlsauth.DefaultReloadInterval)
	if got := served(newClient()); !got.Equal(b.Cert) {
		t.Fatal("the rotated certificate is not served after the interval")
	}
	if got := served(old); !got.Equal(a.Cert) {
		t.Fatal("the open connection did not carry on with its own certificate")
	}

	// A half-done rotation (c's certificate with b's key) keeps b.
	dir.write(c.CertPEM, b.KeyPEM)
	clk.Advance(tlsauth.DefaultReloadInterval)
	if got := served(newClient()); !got.Equal(b.Cert) {
		t.Fatal("a mismatched pair replaced the certificate")
	}
	mu.Lock()
	n := len(reloadErrs)
	mu.Unlock()
	if n != 1 {
		t.Fatalf("reload errors = %d, want 1", n)
	}
	// The key follows: the pair loads at the next look.
	dir.write(c.CertPEM, c.KeyPEM)
	clk.Advance(tlsauth.DefaultReloadInterval)
	if got := served(newClient()); !got.Equal(c.Cert) {
		t.Fatal("the completed rotation is not served")
	}
}

func TestNewCertReloaderNamesTheFile(t *testing.T) {
	if _, err := tlsauth.NewCertReloader("/nonexistent/tls.crt", "/nonexistent/tls.key"); err == nil {
		t.Fatal("a missing file was accepted")
	}
	leaf := certtest.SelfSigned(t, certtest.Options{Subject: pkix.Name{CommonName: "x"}})
	other := certtest.SelfSigned(t, certtest.Options{Subject: pkix.Name{CommonName: "y"}})
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	_ = os.WriteFile(certFile, leaf.CertPEM, 0o600)
	_ = os.WriteFile(keyFile, other.KeyPEM, 0o600)
	_, err := tlsauth.NewCertReloader(certFile, keyFile)
	if err == nil {
		t.Fatal("a mismatched pair was accepted")
	}
	if s := err.Error(); !strings.Contains(s, certFile) || strings.Contains(s, "PRIVATE KEY") {
		t.Errorf("error %q does not name the file, or shows the key", s)
	}
}

func TestLoadCAs(t *testing.T) {
	ca := certtest.NewCA(t, "client CA")
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "bad.pem")
	_ = os.WriteFile(good, ca.CertPEM, 0o600)
	_ = os.WriteFile(bad, []byte("not PEM"), 0o600)
	if _, err := tlsauth.LoadCAs(good); err != nil {
		t.Fatal(err)
	}
	if _, err := tlsauth.LoadCAs(bad); err == nil {
		t.Fatal("a file without certificates was accepted")
	}
}

func TestServerConfigAsksForCertificatesOnlyOnTheMTLSHost(t *testing.T) {
	ca := certtest.NewCA(t, "server CA")
	srvCert := ca.Issue(t, certtest.Options{Server: true, Subject: pkix.Name{CommonName: "gw"}, DNSNames: []string{"auth.example", "matls-auth.example"}})
	dir := newSecretDir(t, srvCert)
	r, err := tlsauth.NewCertReloader(filepath.Join(dir.dir, "tls.crt"), filepath.Join(dir.dir, "tls.key"))
	if err != nil {
		t.Fatal(err)
	}
	client := certtest.SelfSigned(t, certtest.Options{Subject: pkix.Name{CommonName: "client"}})
	for _, tt := range []struct {
		name      string
		hosts     []string
		sni       string
		wantAsked bool
	}{
		{"without mTLS hosts every client is asked", nil, "auth.example", true},
		{"the mTLS host asks", []string{"matls-auth.example"}, "matls-auth.example", true},
		{"the mTLS host asks whatever the case", []string{"matls-auth.example"}, "MATLS-Auth.example", true},
		{"another host does not ask", []string{"matls-auth.example"}, "auth.example", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			tl := tls.NewListener(ln, tlsauth.ServerConfig(r, tt.hosts...))
			defer tl.Close()
			gotPeer := make(chan int, 1)
			go func() {
				c, err := tl.Accept()
				if err != nil {
					gotPeer <- -1
					return
				}
				defer c.Close()
				tc := c.(*tls.Conn)
				if err := tc.Handshake(); err != nil {
					gotPeer <- -1
					return
				}
				gotPeer <- len(tc.ConnectionState().PeerCertificates)
			}()
			asked := false
			conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: certtest.Pool(ca), ServerName: tt.sni,
				GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
					asked = true
					c := client.TLS()
					return &c, nil
				}})
			if err != nil {
				t.Fatal(err)
			}
			_ = conn.Handshake()
			conn.Close()
			n := <-gotPeer
			if asked != tt.wantAsked || (n == 1) != tt.wantAsked {
				t.Fatalf("asked %v, server saw %d certificates; want asked %v", asked, n, tt.wantAsked)
			}
		})
	}
}
