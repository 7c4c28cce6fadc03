package ldap

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"math/big"
	"net"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
)

func selfSigned(t *testing.T) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

func TestStartTLS(t *testing.T) {
	_, addr := startServer(t, Options{TLS: selfSigned(t)})
	c := dial(t, addr)
	if err := c.StartTLS(&tls.Config{InsecureSkipVerify: true}); err != nil {
		t.Fatalf("StartTLS: %v", err)
	}
	if err := c.Bind("cn=phonebook,o=fjordvik", "secret"); err != nil {
		t.Fatalf("bind over TLS: %v", err)
	}
	res, err := c.Search(goldap.NewSearchRequest("ou=phonebook,o=fjordvik", goldap.ScopeSingleLevel,
		goldap.NeverDerefAliases, 0, 0, false, "(cn=Kar*)", []string{"cn"}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("search over TLS: %v %v", res, err)
	}
	// A second StartTLS on a TLS connection is refused.
	if err := c.StartTLS(&tls.Config{InsecureSkipVerify: true}); err == nil {
		t.Error("second StartTLS accepted")
	}
}

func TestStartTLSUnavailable(t *testing.T) {
	_, addr := startServer(t, Options{})
	c := dial(t, addr)
	if err := c.StartTLS(&tls.Config{InsecureSkipVerify: true}); resultCode(err) != goldap.LDAPResultUnwillingToPerform {
		t.Errorf("StartTLS without a certificate: %v", err)
	}
}
