// Package siptest builds what the real-peer SIP tests (sipp, baresip) share:
// a tenant with extensions in a temporary SQLite store, the SIP stack
// (server, registrar, proxy, location) on free loopback ports, and sipp UAS
// processes, all stopped when the test ends. Only tests import it.
package siptest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/sentralpbx/sentral/sip/auth"
	"github.com/sentralpbx/sentral/sip/location"
	"github.com/sentralpbx/sentral/sip/proxy"
	"github.com/sentralpbx/sentral/sip/registrar"
	"github.com/sentralpbx/sentral/sip/server"
	"github.com/sentralpbx/sentral/store"
	"github.com/sentralpbx/sentral/store/backend"
	"github.com/sentralpbx/sentral/store/catalog"
	"github.com/sentralpbx/sentral/test/testrun"
)

// Tool finds a peer program, skipping the test when it is missing unless
// CI=true, where a missing tool must fail the build rather than pass
// silently.
func Tool(t testing.TB, name, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed (Debian package %s) and CI=true", name, debianPackage)
		}
		t.Skipf("*** %s test SKIPPED: not installed (apt-get install %s) ***", name, debianPackage)
	}
	return p
}

// FreePort asks the kernel for a free loopback port ("udp" or "tcp").
func FreePort(t testing.TB, network string) int {
	t.Helper()
	var addr string
	if network == "udp" {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr = pc.LocalAddr().String()
		pc.Close()
	} else {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr = ln.Addr().String()
		ln.Close()
	}
	_, p, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(p)
	return n
}

// Tail keeps the last n bytes of s for a failure message.
func Tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// Options describe the tenant and stack a test needs.
type Options struct {
	Domain   string    // the tenant's SIP domain
	Password string    // every extension's SIP password
	Range    [2]string // extension range, first and last
	Numbers  []string  // extensions to create
	Networks []string  // listeners on 127.0.0.1:0, e.g. udp, tcp
	// Algorithms are the digest challenges offered by registrar and proxy;
	// sipp 3.6 and baresip 1.0 need MD5 (see configs/sentral.yaml).
	Algorithms []string
	// MaxFailures before a source is banned; high so a wrong-password
	// scenario does not ban the next one.
	MaxFailures int
}

// Stack is a running SIP stack over a fresh store.
type Stack struct {
	Store  store.Store
	Loc    *location.Service
	Server *server.Server
	Tenant store.Tenant

	mu      sync.Mutex
	dialogs []proxy.DialogEvent
}

// DialogEvents returns the proxy's dialog observations so far.
func (s *Stack) DialogEvents() []proxy.DialogEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]proxy.DialogEvent(nil), s.dialogs...)
}

// Start provisions the tenant and runs the stack until the test ends.
func Start(t testing.TB, o Options) *Stack {
	t.Helper()
	ctx := context.Background()
	log := zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel))
	st, err := backend.Open(ctx, filepath.Join(t.TempDir(), "sentral.db"), backend.Options{PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ten := store.Tenant{Name: "fjordvik", Domain: o.Domain, Ranges: []store.NumberRange{{Kind: store.RangeExtension, First: o.Range[0], Last: o.Range[1]}}}
	if err := st.Tenants().Create(ctx, &ten); err != nil {
		t.Fatal(err)
	}
	for _, n := range o.Numbers {
		md5, _ := auth.HA1(auth.MD5, n, o.Domain, o.Password)
		sha, _ := auth.HA1(auth.SHA256, n, o.Domain, o.Password)
		e := store.Extension{TenantID: ten.ID, Number: n, DisplayName: "Test " + n, COS: store.COSInternal,
			HA1MD5: md5, HA1SHA256: sha, Enabled: true}
		if err := st.Extensions().Create(ctx, &e); err != nil {
			t.Fatal(err)
		}
	}
	cat, err := catalog.Load(ctx, st, log.Named("catalog"))
	if err != nil {
		t.Fatal(err)
	}
	loc := location.New(st.Bindings(), log.Named("location"), location.Options{FlushInterval: 20 * time.Millisecond})
	if err := loc.Load(ctx); err != nil {
		t.Fatal(err)
	}
	guard := auth.NewGuard(auth.GuardOptions{MaxFailures: o.MaxFailures})
	authn := auth.NewAuthenticator(auth.Options{})
	reg, err := registrar.New(cat, authn, guard, loc, log.Named("registrar"), registrar.Options{Algorithms: o.Algorithms})
	if err != nil {
		t.Fatal(err)
	}
	var listen []server.Listener
	for _, n := range o.Networks {
		listen = append(listen, server.Listener{Network: n, Addr: "127.0.0.1:0"})
	}
	srv, err := server.New(server.Options{Listen: listen, Guard: guard, Log: log.Named("sip")})
	if err != nil {
		t.Fatal(err)
	}
	srv.Handle(sip.REGISTER, reg.ServeSIP)
	client, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	var ls []proxy.Listener
	for _, l := range srv.Listeners() {
		ls = append(ls, proxy.Listener{Network: l.Network, Addr: l.Addr})
	}
	s := &Stack{Store: st, Loc: loc, Server: srv, Tenant: ten}
	px, err := proxy.New(cat, loc, authn, guard, client, log.Named("proxy"), proxy.Options{Listeners: ls,
		Algorithms: o.Algorithms, RingTimeout: 15 * time.Second, CancelWait: 5 * time.Second, FlowAlive: srv.FlowAlive,
		OnDialogState: func(e proxy.DialogEvent) {
			s.mu.Lock()
			s.dialogs = append(s.dialogs, e)
			s.mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []sip.RequestMethod{sip.INVITE, sip.ACK, sip.CANCEL, sip.BYE} {
		srv.Handle(m, px.ServeSIP)
	}
	t.Cleanup(func() { _ = st.Close() }) // runs after the components stop
	testrun.Start(t, cat.Run, loc.Run, srv.Serve, px.Run)
	return s
}

// Bind points an extension at a UDP address, as a REGISTER from it would,
// until the test ends.
func (s *Stack) Bind(t testing.TB, number string, port int, q float64) {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	b := store.Binding{Contact: "sip:" + number + "@" + addr, Q: q, Expires: time.Now().Add(time.Hour),
		CallID: fmt.Sprintf("sipp-%d", port), CSeq: 1, Source: addr, Transport: "udp"}
	if _, err := s.Loc.Update(s.Tenant.ID, number, []store.Binding{b}, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Loc.RemoveAll(s.Tenant.ID, number) })
}

// SyncBuffer is a bytes.Buffer safe for a process writing while the test reads.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// UAS is a sipp process answering one call on its own UDP port.
type UAS struct {
	Port   int
	code   int           // exit code, valid once exited is closed
	exited chan struct{} // closed when sipp has ended
	out    *SyncBuffer
	dir    string
}

// StartUAS runs a sipp UAS scenario (a path relative to the test's
// directory) for one call on port, with sipp's message trace on. The
// test's cleanup kills it if it is still running.
func (s *Stack) StartUAS(t testing.TB, scenario string, port int) *UAS {
	t.Helper()
	bin := Tool(t, "sipp", "sip-tester")
	scen, err := filepath.Abs(scenario)
	if err != nil {
		t.Fatal(err)
	}
	u := &UAS{Port: port, exited: make(chan struct{}), out: new(SyncBuffer), dir: t.TempDir()}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	cmd := exec.CommandContext(ctx, bin, s.Server.Addr("udp"), "-sf", scen, "-t", "u1",
		"-i", "127.0.0.1", "-p", strconv.Itoa(port), "-m", "1", "-timeout", "30s", "-timeout_error",
		"-trace_err", "-trace_msg", "-nostdin")
	cmd.Dir, cmd.Stdout, cmd.Stderr = u.dir, u.out, u.out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start sipp: %v", err)
	}
	go func() {
		defer cancel()
		err := cmd.Wait()
		var ee *exec.ExitError
		switch {
		case errors.As(err, &ee):
			u.code = ee.ExitCode()
		case err != nil:
			u.code = -1
		}
		close(u.exited)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-u.exited:
		case <-time.After(5 * time.Second):
		}
	})
	// sipp needs a moment to bind its socket before the INVITE arrives.
	time.Sleep(300 * time.Millisecond)
	return u
}

// Wait fails the test unless the UAS ends with exit code 0 within 30 s.
func (u *UAS) Wait(t testing.TB, name string) {
	t.Helper()
	select {
	case <-u.exited:
		if u.code != 0 {
			u.LogFailure(t)
			t.Fatalf("%s: sipp exit %d", name, u.code)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("%s: sipp still running after 30s", name)
	}
}

// Messages is sipp's -trace_msg log: what it received and sent.
func (u *UAS) Messages() string {
	logs, _ := filepath.Glob(filepath.Join(u.dir, "*messages.log"))
	var sb strings.Builder
	for _, l := range logs {
		b, _ := os.ReadFile(l)
		sb.Write(b)
	}
	return sb.String()
}

// LogFailure logs sipp's error trace, output and messages.
func (u *UAS) LogFailure(t testing.TB) {
	t.Helper()
	logs, _ := filepath.Glob(filepath.Join(u.dir, "*errors.log"))
	for _, l := range logs {
		b, _ := os.ReadFile(l)
		t.Logf("%s:\n%s", filepath.Base(l), Tail(string(b), 4000))
	}
	t.Logf("sipp output:\n%s", Tail(u.out.String(), 3000))
	t.Logf("sipp messages:\n%s", Tail(u.Messages(), 6000))
}
