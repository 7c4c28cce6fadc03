package e2e

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sentralpbx/sentral/test/testpki"
)

// TestAdminAPIOverMutualTLS runs `sentral serve` with the admin API on
// HTTPS requiring client certificates (admin.tls_cert, admin.tls_key,
// admin.client_ca in sentral.yaml), provisions a tenant with the CLI and
// reads it back through the API, and drives the CLI's admin API commands
// with --ca-file and --client-cert/--client-key.
func TestAdminAPIOverMutualTLS(t *testing.T) {
	dir := t.TempDir()
	pki := testpki.New(t, dir)
	addr := freeAddr(t)
	conf := filepath.Join(dir, "sentral.yaml")
	yaml := fmt.Sprintf(`db: %s
admin:
  listen: %s
  tls_cert: %s
  tls_key: %s
  client_ca: %s
sip:
  listen: %s
phones:
  listen: 127.0.0.1:0
console:
  listen: 127.0.0.1:0
`, filepath.Join(dir, "pbx.db"), addr, pki.ServerCert, pki.ServerKey, pki.CA, loopbackSIP)
	if err := os.WriteFile(conf, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}

	s := &server{base: "https://" + addr, done: make(chan error, 1), dir: dir, t: t}
	s.cmd = exec.Command(binary, "--config", conf, "--log-format", "json", "serve")
	s.cmd.Dir = dir
	s.cmd.Env = cleanEnv()
	s.cmd.Stderr = syncWriter{&s.mu, &s.logs}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	t.Cleanup(func() { s.stop(t) })

	withCert := pki.Client(t, pki.ClientCert, pki.ClientKey)
	status := func(c *http.Client, url string) (int, error) {
		res, err := c.Get(url)
		if err != nil {
			return 0, err
		}
		res.Body.Close()
		return res.StatusCode, nil
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case err := <-s.done:
			t.Fatalf("server exited early: %v\n%s", err, s.logText())
		default:
		}
		if code, _ := status(withCert, s.base+"/readyz"); code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("admin API not ready over https within 20s\n%s", s.logText())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(s.logText(), `"admin":"https://`+addr+`"`) {
		t.Errorf("ready line does not give the https admin URL:\n%s", s.logText())
	}

	// Without a client certificate, or over plain HTTP, nothing is served.
	if code, err := status(pki.Client(t, "", ""), s.base+"/readyz"); err == nil {
		t.Errorf("client without a certificate got %d", code)
	}
	if code, err := status(&http.Client{Timeout: 5 * time.Second}, "http://"+addr+"/api/v1/tenants"); err == nil && code == http.StatusOK {
		t.Error("plain http answered 200")
	}

	// The CLI provisions a tenant (in the store), and the running server
	// shows it over its HTTPS API.
	cli := func(args ...string) (string, string, int) {
		return s.cli(append([]string{"--config", conf}, args...)...)
	}
	if out, errs, code := cli("tenant", "add", "fjordvik", "--domain", "fjordvik.sentral.test", "--ext-range", "2000-2999"); code != 0 {
		t.Fatalf("tenant add: exit %d\n%s%s", code, out, errs)
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		if code, _ := status(withCert, s.base+"/api/v1/tenants/fjordvik"); code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("tenant not visible over https within 10s\n%s", s.logText())
		}
		time.Sleep(20 * time.Millisecond)
	}

	// The CLI reads the running server's API: https from admin.tls_cert
	// in the shared configuration, trust from --ca-file, identity from
	// --client-cert/--client-key.
	tlsArgs := []string{"--ca-file", pki.CA, "--client-cert", pki.ClientCert, "--client-key", pki.ClientKey}
	if out, errs, code := cli(append([]string{"sip", "bans", "-o", "json"}, tlsArgs...)...); code != 0 || strings.TrimSpace(out) != "[]" {
		t.Fatalf("sip bans over mTLS: exit %d\n%s%s", code, out, errs)
	}
	if out, errs, code := cli(append([]string{"trunk", "status", "--server", "https://localhost:" + portOf(addr)}, tlsArgs...)...); code != 0 {
		t.Fatalf("trunk status over mTLS: exit %d\n%s%s", code, out, errs)
	}
	if _, errs, code := cli("sip", "bans", "--client-cert", pki.ClientCert, "--client-key", pki.ClientKey); code != 1 || !strings.Contains(errs, "certificate signed by unknown authority: pass --ca-file") {
		t.Errorf("without --ca-file: exit %d\n%s", code, errs)
	}
	if _, errs, code := cli("sip", "bans", "--ca-file", pki.CA); code != 1 || !strings.Contains(errs, "pass --client-cert and --client-key") {
		t.Errorf("without --client-cert: exit %d\n%s", code, errs)
	}
}

func portOf(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return port
}
