package main

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sentralpbx/sentral/provisioning/adminapi"
	"github.com/sentralpbx/sentral/store/backend"
	"github.com/sentralpbx/sentral/store/catalog"
	"github.com/sentralpbx/sentral/test/testpki"
)

// startAdminTLS serves the admin mux as serve does (adminapi with a SIP
// ban, /readyz) on a loopback listener wrapped by adminListener, and
// returns host:port.
func startAdminTLS(t *testing.T, c *cli, ac AdminConfig) string {
	t.Helper()
	ctx := context.Background()
	st, err := backend.Open(ctx, c.db, backend.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cat, err := catalog.Load(ctx, st, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	mux := http.NewServeMux()
	mux.Handle("/", adminapi.New(st, cat, zap.NewNop()).WithSIPBans(bansFake{
		{Addr: netip.MustParseAddr("203.0.113.9"), Since: now, Until: now.Add(time.Minute), Failures: 7},
	}).Handler())
	mountMetrics(mux, st, cat, nil, zap.NewNop()).Store(true)
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := adminListener(raw, ac, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return raw.Addr().String()
}

func getStatus(c *http.Client, url string) (int, error) {
	res, err := c.Get(url)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	return res.StatusCode, nil
}

func TestAdminTLSConfigValidation(t *testing.T) {
	p := testpki.New(t, t.TempDir())
	for _, tc := range []struct {
		env  []string
		want string
	}{
		{[]string{"SENTRAL_ADMIN_TLS_CERT=" + p.ServerCert}, "admin.tls_cert and admin.tls_key: give both"},
		{[]string{"SENTRAL_ADMIN_TLS_KEY=" + p.ServerKey}, "admin.tls_cert and admin.tls_key: give both"},
		{[]string{"SENTRAL_ADMIN_CLIENT_CA=" + p.CA}, "admin.client_ca needs admin.tls_cert and admin.tls_key"},
	} {
		if _, err := LoadConfig("", tc.env); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want %q", tc.env, err, tc.want)
		}
	}
	cfg, err := LoadConfig("", []string{"SENTRAL_ADMIN_TLS_CERT=" + p.ServerCert, "SENTRAL_ADMIN_TLS_KEY=" + p.ServerKey, "SENTRAL_ADMIN_CLIENT_CA=" + p.CA})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Admin.ClientCA != p.CA {
		t.Fatalf("admin.client_ca = %q", cfg.Admin.ClientCA)
	}

	// The files are read when serve starts; errors name the setting, and
	// are usage errors (exit code 1).
	missing := filepath.Join(t.TempDir(), "missing.pem")
	for _, tc := range []struct {
		ac   AdminConfig
		want string
	}{
		{AdminConfig{TLSCert: missing, TLSKey: p.ServerKey}, "admin.tls_cert " + missing},
		{AdminConfig{TLSCert: p.ServerCert, TLSKey: p.ClientKey}, "admin.tls_key"},
		{AdminConfig{TLSCert: p.ServerCert, TLSKey: p.ServerKey, ClientCA: missing}, "admin.client_ca " + missing},
		{AdminConfig{TLSCert: p.ServerCert, TLSKey: p.ServerKey, ClientCA: p.ServerKey}, "admin.client_ca " + p.ServerKey + ": no PEM certificate"},
	} {
		raw, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		_, err = adminListener(raw, tc.ac, zap.NewNop())
		var ue usageError
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.As(err, &ue) {
			t.Errorf("%+v: error %v, want a usage error with %q", tc.ac, err, tc.want)
		}
		_ = raw.(*net.TCPListener).SetDeadline(time.Now().Add(100 * time.Millisecond))
		if _, lerr := raw.Accept(); !errors.Is(lerr, net.ErrClosed) {
			t.Errorf("%+v: listener left open after the error", tc.ac)
		}
	}
}

func TestAdminTLSServesReadyz(t *testing.T) {
	p := testpki.New(t, t.TempDir())
	addr := startAdminTLS(t, newCLI(t), AdminConfig{TLSCert: p.ServerCert, TLSKey: p.ServerKey})
	client := p.Client(t, "", "")
	if code, err := getStatus(client, "https://"+addr+"/readyz"); err != nil || code != http.StatusOK {
		t.Fatalf("https /readyz: %d %v", code, err)
	}
	// HTTP/2 is offered too.
	h2 := p.Client(t, "", "")
	h2.Transport.(*http.Transport).ForceAttemptHTTP2 = true
	res, err := h2.Get("https://" + addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.ProtoMajor != 2 || res.StatusCode != http.StatusOK {
		t.Fatalf("h2 /readyz: %s %d", res.Proto, res.StatusCode)
	}
	// TLS 1.1 and older are refused.
	old := p.Client(t, "", "")
	old.Transport.(*http.Transport).TLSClientConfig.MaxVersion = tls.VersionTLS11
	old.Transport.(*http.Transport).TLSClientConfig.MinVersion = tls.VersionTLS10
	if _, err := getStatus(old, "https://"+addr+"/readyz"); err == nil {
		t.Fatal("TLS 1.1 accepted")
	}
	// Plain HTTP gets no answer from the API.
	if code, err := getStatus(&http.Client{Timeout: 5 * time.Second}, "http://"+addr+"/readyz"); err == nil && code == http.StatusOK {
		t.Fatal("plain http /readyz answered 200 on the TLS listener")
	}
	if got := adminURL(fakeAddrListener(addr), AdminConfig{TLSCert: p.ServerCert}); got != "https://"+addr {
		t.Fatalf("adminURL %q", got)
	}
	if got := adminURL(fakeAddrListener(addr), AdminConfig{}); got != "http://"+addr {
		t.Fatalf("adminURL %q", got)
	}
}

type fakeAddrListener string

func (fakeAddrListener) Accept() (net.Conn, error) { return nil, errors.New("fake") }
func (fakeAddrListener) Close() error              { return nil }
func (f fakeAddrListener) Addr() net.Addr {
	return net.TCPAddrFromAddrPort(netip.MustParseAddrPort(string(f)))
}

func TestAdminMutualTLS(t *testing.T) {
	p := testpki.New(t, t.TempDir())
	addr := startAdminTLS(t, newCLI(t), AdminConfig{TLSCert: p.ServerCert, TLSKey: p.ServerKey, ClientCA: p.CA})
	url := "https://" + addr + "/readyz"
	if code, err := getStatus(p.Client(t, "", ""), url); err == nil {
		t.Fatalf("client without a certificate: %d, want refused", code)
	}
	strangerCert, strangerKey := p.ForeignClient(t, "stranger")
	if code, err := getStatus(p.Client(t, strangerCert, strangerKey), url); err == nil {
		t.Fatalf("client with another CA's certificate: %d, want refused", code)
	}
	if code, err := getStatus(p.Client(t, p.ClientCert, p.ClientKey), url); err != nil || code != http.StatusOK {
		t.Fatalf("client with a certificate of admin.client_ca: %d %v", code, err)
	}
	// TLS 1.2 with a client certificate works as well.
	c12 := p.Client(t, p.ClientCert, p.ClientKey)
	c12.Transport.(*http.Transport).TLSClientConfig.MaxVersion = tls.VersionTLS12
	if code, err := getStatus(c12, url); err != nil || code != http.StatusOK {
		t.Fatalf("TLS 1.2 client with a certificate: %d %v", code, err)
	}
}

func TestAdminTLSCLI(t *testing.T) {
	p := testpki.New(t, t.TempDir())
	c := newCLI(t)
	addr := startAdminTLS(t, c, AdminConfig{TLSCert: p.ServerCert, TLSKey: p.ServerKey})
	base := "https://" + addr

	if out := c.ok("sip", "bans", "--server", base, "--ca-file", p.CA); !strings.Contains(out, "203.0.113.9") {
		t.Fatalf("bans over https:\n%s", out)
	}
	errs := c.fail(exitUser, "sip", "bans", "--server", base)
	if !strings.Contains(errs, "x509: certificate signed by unknown authority: pass --ca-file") {
		t.Fatalf("without --ca-file: %s", errs)
	}
	if errs := c.fail(exitUser, "sip", "bans", "--server", "http://"+addr); !strings.Contains(errs, "speaks HTTPS: give --server an https:// URL") {
		t.Fatalf("http:// to the TLS listener: %s", errs)
	}
	if errs := c.fail(exitUser, "sip", "bans", "--server", "https://"+addr, "--ca-file", p.ServerKey); !strings.Contains(errs, "--ca-file "+p.ServerKey+": no PEM certificate") {
		t.Fatalf("--ca-file with a key: %s", errs)
	}
	if errs := c.fail(exitUser, "sip", "bans", "--server", base, "--ca-file", p.CA, "--client-cert", p.ClientCert); !strings.Contains(errs, "--client-cert and --client-key") {
		t.Fatalf("--client-cert alone: %s", errs)
	}

	// Without --server: admin.listen, over https because admin.tls_cert
	// is set; the CA from the environment.
	env := &cli{t: t, db: c.db, env: []string{
		"SENTRAL_ADMIN_LISTEN=" + addr, "SENTRAL_ADMIN_TLS_CERT=" + p.ServerCert, "SENTRAL_ADMIN_TLS_KEY=" + p.ServerKey,
		"SENTRAL_CA_FILE=" + p.CA,
	}}
	// trunk status reaches the server too (which has no trunks: no SIP).
	if errs := env.fail(exitInternal, "trunk", "status"); !strings.Contains(errs, "SIP is not running") {
		t.Fatalf("trunk status over https: %s", errs)
	}
	if out := env.ok("sip", "bans"); !strings.Contains(out, "203.0.113.9") {
		t.Fatalf("bans with admin.listen and SENTRAL_CA_FILE:\n%s", out)
	}
}

func TestAdminTLSCLIMutual(t *testing.T) {
	p := testpki.New(t, t.TempDir())
	c := newCLI(t)
	base := "https://" + startAdminTLS(t, c, AdminConfig{TLSCert: p.ServerCert, TLSKey: p.ServerKey, ClientCA: p.CA})
	errs := c.fail(exitUser, "sip", "bans", "--server", base, "--ca-file", p.CA)
	if !strings.Contains(errs, "pass --client-cert and --client-key") {
		t.Fatalf("without a client certificate: %s", errs)
	}
	if out := c.ok("sip", "bans", "--server", base, "--ca-file", p.CA, "--client-cert", p.ClientCert, "--client-key", p.ClientKey); !strings.Contains(out, "203.0.113.9") {
		t.Fatalf("bans over mTLS:\n%s", out)
	}
	c.env = []string{"SENTRAL_CA_FILE=" + p.CA, "SENTRAL_CLIENT_CERT=" + p.ClientCert, "SENTRAL_CLIENT_KEY=" + p.ClientKey}
	if out := c.ok("sip", "bans", "--server", base); !strings.Contains(out, "203.0.113.9") {
		t.Fatalf("bans over mTLS, certificates from the environment:\n%s", out)
	}
}

func TestAdminListenerWarnsOffLoopback(t *testing.T) {
	p := testpki.New(t, t.TempDir())
	for _, tc := range []struct {
		listen string
		ac     AdminConfig
		want   string // "" no warning
	}{
		{"127.0.0.1:0", AdminConfig{}, ""},
		{"0.0.0.0:0", AdminConfig{}, "plain HTTP on a non-loopback address"},
		{"0.0.0.0:0", AdminConfig{TLSCert: p.ServerCert, TLSKey: p.ServerKey}, "without client certificates"},
		{"0.0.0.0:0", AdminConfig{TLSCert: p.ServerCert, TLSKey: p.ServerKey, ClientCA: p.CA}, ""},
	} {
		raw, err := net.Listen("tcp", tc.listen)
		if err != nil {
			t.Fatal(err)
		}
		core, logs := observer.New(zapcore.WarnLevel)
		ln, err := adminListener(raw, tc.ac, zap.New(core))
		if err != nil {
			t.Fatal(err)
		}
		ln.Close()
		var got string
		for _, e := range logs.All() {
			got += e.Message
		}
		if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
			t.Errorf("%s %+v: warnings %q, want %q", tc.listen, tc.ac, got, tc.want)
		}
	}
}
