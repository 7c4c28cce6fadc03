// Package testpki builds a throwaway public key infrastructure for tests
// of the TLS and mutual-TLS admin API: a CA, a server certificate and a
// client certificate it signed, written as PEM files, and HTTPS clients
// trusting that CA. It exists so the unit and end-to-end tests share one
// implementation instead of each keeping a copy.
//
// It is for tests only: keys are ECDSA P-256 (fast to generate, accepted
// by crypto/tls), certificates are valid from an hour ago for a day, and
// the server certificate names only loopback addresses unless told
// otherwise, so nothing it issues is of use off the test machine.
package testpki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// DefaultServerHosts are the names the server certificate carries when
// New is given none: the loopback names a test server listens on.
var DefaultServerHosts = []string{"localhost", "127.0.0.1", "::1"}

// PKI is a CA with a server and a client certificate, as PEM files in
// Dir. Each certificate file has its key next to it.
type PKI struct {
	Dir        string // where the PEM files are
	CA         string // the CA certificate
	ServerCert string // server certificate (ExtKeyUsageServerAuth)
	ServerKey  string
	ClientCert string // client certificate (ExtKeyUsageClientAuth)
	ClientKey  string

	caCert *x509.Certificate
	caKey  *ecdsa.PrivateKey
}

// New writes a fresh CA (ca.pem), a server certificate (server.pem,
// server-key.pem) for serverHosts (DefaultServerHosts if none; IP
// addresses and DNS names both allowed) and a client certificate
// (client.pem, client-key.pem) into dir. It fails the test on any error.
func New(t testing.TB, dir string, serverHosts ...string) *PKI {
	t.Helper()
	if len(serverHosts) == 0 {
		serverHosts = DefaultServerHosts
	}
	caCert, caKey := newCA(t, "Sentral test CA")
	p := &PKI{Dir: dir, caCert: caCert, caKey: caKey}
	p.CA = writePEM(t, dir, "ca.pem", "CERTIFICATE", caCert.Raw)
	p.ServerCert, p.ServerKey = leaf(t, dir, "server", caCert, caKey, x509.ExtKeyUsageServerAuth, serverHosts)
	p.ClientCert, p.ClientKey = leaf(t, dir, "client", caCert, caKey, x509.ExtKeyUsageClientAuth, nil)
	return p
}

// ForeignClient issues a client certificate named name (name.pem,
// name-key.pem in Dir) from a new CA that p does not know: a server
// requiring certificates of p.CA must refuse it.
func (p *PKI) ForeignClient(t testing.TB, name string) (certPath, keyPath string) {
	t.Helper()
	caCert, caKey := newCA(t, "Someone else's CA")
	return leaf(t, p.Dir, name, caCert, caKey, x509.ExtKeyUsageClientAuth, nil)
}

// Client is an HTTPS client trusting only p's CA and presenting the
// certificate at certPath/keyPath ("" for none). Its Transport is an
// *http.Transport, so tests may adjust TLSClientConfig (versions, HTTP/2).
func (p *PKI) Client(t testing.TB, certPath, keyPath string) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(p.caCert)
	cfg := &tls.Config{RootCAs: pool}
	if certPath != "" {
		c, err := tls.LoadX509KeyPair(certPath, keyPath)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{c}
	}
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
}

func serial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// template is a certificate for name, valid from an hour ago for a day.
func template(t testing.TB, name string) *x509.Certificate {
	t.Helper()
	return &x509.Certificate{
		SerialNumber: serial(t),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
}

// issue generates a key and signs tmpl for it with parent's key, or with
// the new key itself when parent is nil (a self-signed CA).
func issue(t testing.TB, tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func newCA(t testing.TB, name string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	tmpl := template(t, name)
	tmpl.IsCA = true
	tmpl.BasicConstraintsValid = true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
	return issue(t, tmpl, nil, nil)
}

// leaf issues a certificate signed by ca for usage, naming hosts (server
// certificates), and writes it and its key as name.pem and name-key.pem.
func leaf(t testing.TB, dir, name string, ca *x509.Certificate, caKey *ecdsa.PrivateKey, usage x509.ExtKeyUsage, hosts []string) (certPath, keyPath string) {
	t.Helper()
	tmpl := template(t, name)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{usage}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	cert, key := issue(t, tmpl, ca, caKey)
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return writePEM(t, dir, name+".pem", "CERTIFICATE", cert.Raw), writePEM(t, dir, name+"-key.pem", "EC PRIVATE KEY", keyDER)
}

func writePEM(t testing.TB, dir, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
