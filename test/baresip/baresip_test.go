// Package baresip calls through Sentral with a real SIP phone: baresip (the
// Debian package) registers as extension 2001 and calls extension 2002, a
// sipp UAS, through a SIP stack started in-process over a throwaway SQLite
// store, wired the way `sentral serve` wires it.
//
// baresip runs without a terminal or sound card: no UI module, the ausine
// module as audio source and no player, and the ctrl_tcp module (netstring
// JSON on a loopback port) to dial, hang up and watch its events. Every SIP
// request goes to the outbound proxy on 127.0.0.1 (no DNS); no STUN, TURN
// or ICE module is loaded.
package baresip

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
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
)

const (
	domain   = "fjordvik.test"
	password = "Korrekt-Hest-42"
	caller   = "2001" // baresip
	callee   = "2002" // sipp UAS
)

// algorithms are the digest challenges offered (sip.registrar.digest_algorithms).
// Only MD5: baresip 1.0.0 on libre 1.1.0 (Debian 12) fails a REGISTER or
// INVITE with "Function not implemented" as soon as any challenge in the
// 401/407 names another algorithm, whatever the order, so neither the
// shipped SHA-256,MD5 nor MD5,SHA-256 lets it register.
var algorithms = []string{auth.MD5}

// lookPath finds a tool, skipping the test when it is missing unless
// CI=true, where a missing tool must fail the build rather than pass
// silently.
func lookPath(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed (Debian package %s) and CI=true", name, pkg)
		}
		t.Skipf("*** baresip test SKIPPED: %s not installed (apt-get install %s) ***", name, pkg)
	}
	return p
}

type stack struct {
	st  store.Store
	loc *location.Service
	srv *server.Server
	ten store.Tenant

	mu      sync.Mutex
	dialogs []proxy.DialogEvent
}

func (s *stack) dialogEvents() []proxy.DialogEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]proxy.DialogEvent(nil), s.dialogs...)
}

// startStack provisions tenant fjordvik with extensions 2001 and 2002 and
// runs registrar and proxy on a free loopback UDP port until the test ends.
func startStack(t *testing.T) *stack {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log := zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel))
	st, err := backend.Open(ctx, filepath.Join(t.TempDir(), "sentral.db"), backend.Options{PollInterval: 20 * time.Millisecond})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	ten := store.Tenant{Name: "fjordvik", Domain: domain, Ranges: []store.NumberRange{{Kind: store.RangeExtension, First: "2000", Last: "2099"}}}
	if err := st.Tenants().Create(ctx, &ten); err != nil {
		cancel()
		t.Fatal(err)
	}
	for _, n := range []string{caller, callee} {
		md5, _ := auth.HA1(auth.MD5, n, domain, password)
		sha, _ := auth.HA1(auth.SHA256, n, domain, password)
		e := store.Extension{TenantID: ten.ID, Number: n, DisplayName: "Test " + n, COS: store.COSInternal,
			HA1MD5: md5, HA1SHA256: sha, Enabled: true}
		if err := st.Extensions().Create(ctx, &e); err != nil {
			cancel()
			t.Fatal(err)
		}
	}
	cat, err := catalog.Load(ctx, st, log.Named("catalog"))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	loc := location.New(st.Bindings(), log.Named("location"), location.Options{FlushInterval: 20 * time.Millisecond})
	if err := loc.Load(ctx); err != nil {
		cancel()
		t.Fatal(err)
	}
	guard := auth.NewGuard(auth.GuardOptions{})
	authn := auth.NewAuthenticator(auth.Options{})
	reg, err := registrar.New(cat, authn, guard, loc, log.Named("registrar"), registrar.Options{Algorithms: algorithms})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	srv, err := server.New(server.Options{
		Listen: []server.Listener{{Network: "udp", Addr: "127.0.0.1:0"}},
		Guard:  guard,
		Log:    log.Named("sip"),
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	srv.Handle(sip.REGISTER, reg.ServeSIP)
	client, err := srv.Client()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	var ls []proxy.Listener
	for _, l := range srv.Listeners() {
		ls = append(ls, proxy.Listener{Network: l.Network, Addr: l.Addr})
	}
	s := &stack{st: st, loc: loc, srv: srv, ten: ten}
	px, err := proxy.New(cat, loc, authn, guard, client, log.Named("proxy"), proxy.Options{Listeners: ls,
		Algorithms: algorithms, RingTimeout: 15 * time.Second, CancelWait: 5 * time.Second,
		OnDialogState: func(e proxy.DialogEvent) {
			s.mu.Lock()
			s.dialogs = append(s.dialogs, e)
			s.mu.Unlock()
		}})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	for _, m := range []sip.RequestMethod{sip.INVITE, sip.ACK, sip.CANCEL, sip.BYE} {
		srv.Handle(m, px.ServeSIP)
	}

	var wg sync.WaitGroup
	for _, run := range []func(context.Context) error{cat.Run, loc.Run, srv.Serve, px.Run} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(ctx); err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("component: %v", err)
			}
		}()
	}
	t.Cleanup(func() {
		cancel()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("stack did not stop within 10s")
		}
		_ = st.Close()
	})
	return s
}

// freePort asks the kernel for a free loopback port.
func freePort(t *testing.T, network string) int {
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

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// syncBuffer is a bytes.Buffer safe for a process writing while the test
// reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// uas is sipp answering one call on its own UDP port.
type uas struct {
	port int
	done chan struct{} // closed when sipp has exited
	code int           // exit code, set before done is closed
	out  *syncBuffer
	dir  string
}

func startUAS(t *testing.T, s *stack) *uas {
	t.Helper()
	bin := lookPath(t, "sipp", "sip-tester")
	scen, err := filepath.Abs("uas_answer.xml")
	if err != nil {
		t.Fatal(err)
	}
	u := &uas{port: freePort(t, "udp"), done: make(chan struct{}), out: new(syncBuffer), dir: t.TempDir()}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	cmd := exec.CommandContext(ctx, bin, s.srv.Addr("udp"), "-sf", scen, "-t", "u1",
		"-i", "127.0.0.1", "-p", strconv.Itoa(u.port), "-m", "1", "-timeout", "30s", "-timeout_error",
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
		close(u.done)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-u.done:
		case <-time.After(5 * time.Second):
		}
	})
	// Point 2002 at sipp, as a REGISTER from its port would.
	addr := fmt.Sprintf("127.0.0.1:%d", u.port)
	b := store.Binding{Contact: "sip:" + callee + "@" + addr, Q: 1, Expires: time.Now().Add(time.Hour),
		CallID: fmt.Sprintf("sipp-%d", u.port), CSeq: 1, Source: addr, Transport: "udp"}
	if _, err := s.loc.Update(s.ten.ID, callee, []store.Binding{b}, nil); err != nil {
		t.Fatal(err)
	}
	return u
}

// messages is sipp's -trace_msg log: what it received and sent.
func (u *uas) messages() string {
	logs, _ := filepath.Glob(filepath.Join(u.dir, "*messages.log"))
	var sb strings.Builder
	for _, l := range logs {
		b, _ := os.ReadFile(l)
		sb.Write(b)
	}
	return sb.String()
}

func (u *uas) logFailure(t *testing.T) {
	t.Helper()
	logs, _ := filepath.Glob(filepath.Join(u.dir, "*errors.log"))
	for _, l := range logs {
		b, _ := os.ReadFile(l)
		t.Logf("%s:\n%s", filepath.Base(l), tail(string(b), 4000))
	}
	t.Logf("sipp output:\n%s", tail(u.out.String(), 3000))
	t.Logf("sipp messages:\n%s", tail(u.messages(), 6000))
}

// phone is a running baresip driven over ctrl_tcp.
type phone struct {
	cmd    *exec.Cmd
	out    *syncBuffer // stdout and stderr, with the SIP trace (-s)
	conn   net.Conn
	events chan map[string]any
	resp   chan map[string]any
	exited chan struct{}
}

// startBaresip writes a config directory for account 2001 with the
// outbound proxy at sentral, starts baresip and connects to ctrl_tcp.
func startBaresip(t *testing.T, sentral string) *phone {
	t.Helper()
	bin := lookPath(t, "baresip", "baresip")
	dir := t.TempDir()
	ctrl := fmt.Sprintf("127.0.0.1:%d", freePort(t, "tcp"))
	config := strings.Join([]string{
		"poll_method epoll",
		"sip_listen 127.0.0.1:0",
		"call_local_timeout 20",
		"call_max_calls 1",
		"audio_source ausine,440",
		"ausrc_srate 48000",
		"ausrc_channels 2",
		"net_interface 127.0.0.1",
		"module_path /usr/lib/baresip/modules",
		"module g711.so",
		"module ausine.so",
		"module_tmp account.so",
		"module_app menu.so",
		"module_app ctrl_tcp.so",
		"ctrl_tcp_listen " + ctrl,
		"",
	}, "\n")
	// No DNS: the outbound proxy is an address, and every request
	// (REGISTER, INVITE, in-dialog requests via Record-Route) goes there.
	account := fmt.Sprintf("<sip:%s@%s;transport=udp>;auth_user=%s;auth_pass=%s;outbound=\"sip:%s;transport=udp\";regint=60;audio_codecs=pcmu\n",
		caller, domain, caller, password, sentral)
	for name, text := range map[string]string{"config": config, "accounts": account} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	// -s traces SIP to stdout; -t quits on its own should the test lose
	// track of it.
	cmd := exec.CommandContext(ctx, bin, "-f", dir, "-s", "-t", "45")
	p := &phone{cmd: cmd, out: new(syncBuffer), events: make(chan map[string]any, 64), resp: make(chan map[string]any, 8),
		exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start baresip: %v", err)
	}
	go func() {
		_ = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		if p.conn != nil {
			p.conn.Close()
		}
		cancel()
		<-p.exited
		if t.Failed() {
			t.Logf("baresip output:\n%s", tail(p.out.String(), 12000))
		}
	})
	// ctrl_tcp listens once the modules are loaded.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", ctrl, time.Second)
		if err == nil {
			p.conn = c
			break
		}
		select {
		case <-p.exited:
			t.Fatalf("baresip exited at start:\n%s", tail(p.out.String(), 4000))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("baresip ctrl_tcp not listening on %s after 10s: %v", ctrl, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	go p.read()
	return p
}

// stop ends baresip with SIGTERM, on which it unregisters and exits.
func (p *phone) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("stop baresip: %v", err)
	}
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("baresip still running 10s after SIGTERM")
	}
}

// read splits ctrl_tcp's netstrings into events and command responses.
func (p *phone) read() {
	r := bufio.NewReader(p.conn)
	for {
		n, err := r.ReadString(':')
		if err != nil {
			return
		}
		size, err := strconv.Atoi(n[:len(n)-1])
		if err != nil || size < 0 || size > 1<<20 {
			return
		}
		buf := make([]byte, size+1) // payload and the trailing comma
		if _, err := io.ReadFull(r, buf); err != nil {
			return
		}
		var m map[string]any
		if json.Unmarshal(buf[:size], &m) != nil {
			continue
		}
		if m["event"] == true {
			select {
			case p.events <- m:
			default:
			}
		} else {
			select {
			case p.resp <- m:
			default:
			}
		}
	}
}

// command sends one ctrl_tcp command and waits for its response.
func (p *phone) command(t *testing.T, cmd, params string) {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"command": cmd, "params": params, "token": cmd})
	msg := fmt.Sprintf("%d:%s,", len(b), b)
	_ = p.conn.SetWriteDeadline(time.Now().Add(2 * time.Second))
	if _, err := p.conn.Write([]byte(msg)); err != nil {
		t.Fatalf("ctrl_tcp %s: %v", cmd, err)
	}
	select {
	case r := <-p.resp:
		if r["ok"] != true {
			t.Fatalf("ctrl_tcp %s %s: %v", cmd, params, r)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("ctrl_tcp %s: no response in 5s", cmd)
	}
}

// waitEvent waits for an event of the given type, failing on any of
// failTypes.
func (p *phone) waitEvent(t *testing.T, want string, within time.Duration, failTypes ...string) map[string]any {
	t.Helper()
	timeout := time.After(within)
	for {
		select {
		case e := <-p.events:
			typ, _ := e["type"].(string)
			if typ == want {
				return e
			}
			for _, f := range failTypes {
				if typ == f {
					t.Fatalf("baresip event %s while waiting for %s: %v", typ, want, e)
				}
			}
		case <-p.exited:
			t.Fatalf("baresip exited while waiting for %s", want)
		case <-timeout:
			t.Fatalf("no baresip %s event within %s", want, within)
		}
	}
}

func TestBaresipCallsSipp(t *testing.T) {
	lookPath(t, "baresip", "baresip")
	lookPath(t, "sipp", "sip-tester")
	s := startStack(t)
	u := startUAS(t, s)
	p := startBaresip(t, s.srv.Addr("udp"))

	// Registration: the binding in the location service and, written
	// behind, in the store. (baresip registers at start, possibly before
	// ctrl_tcp is connected, so its REGISTER_OK event may come too early to
	// be seen.)
	deadline := time.Now().Add(10 * time.Second)
	for {
		bs := s.loc.Bindings(s.ten.ID, caller)
		if len(bs) == 1 {
			if !strings.Contains(bs[0].UserAgent, "baresip") || bs[0].Transport != "udp" {
				t.Fatalf("binding of %s: %+v", caller, bs[0])
			}
			break
		}
		if len(bs) > 1 || time.Now().After(deadline) {
			t.Fatalf("bindings of %s 10s after baresip started: %+v", caller, bs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	deadline = time.Now().Add(5 * time.Second)
	for {
		stored, err := s.st.Bindings().List(context.Background(), s.ten.ID)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, b := range stored {
			found = found || (b.Number == caller && strings.Contains(b.UserAgent, "baresip"))
		}
		if found {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("store has no binding for %s after 5s: %+v", caller, stored)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// The call: sipp answers, baresip hangs up after 2s.
	p.command(t, "dial", "sip:"+callee+"@"+domain)
	p.waitEvent(t, "CALL_ESTABLISHED", 10*time.Second, "CALL_CLOSED")
	time.Sleep(2 * time.Second)
	p.command(t, "hangup", "")
	p.waitEvent(t, "CALL_CLOSED", 10*time.Second)

	select {
	case <-u.done:
		if u.code != 0 {
			u.logFailure(t)
			t.Fatalf("sipp UAS exit %d, want 0", u.code)
		}
	case <-time.After(10 * time.Second):
		u.logFailure(t)
		t.Fatal("sipp UAS still running 10s after the hangup")
	}

	// sipp saw the INVITE come through us with our Record-Route, and
	// without the credentials the proxy consumed.
	msgs := u.messages()
	invite := ""
	if i := strings.Index(msgs, "INVITE sip:"); i >= 0 {
		invite, _, _ = strings.Cut(msgs[i:], "-----") // sipp's separator line
	}
	if !strings.Contains(invite, "Record-Route: <sip:"+s.srv.Addr("udp")+";") {
		t.Errorf("sipp did not get an INVITE record-routed by %s:\n%s", s.srv.Addr("udp"), tail(msgs, 4000))
	}
	if strings.Contains(invite, "Proxy-Authorization") {
		t.Errorf("the INVITE reached sipp with the caller's Proxy-Authorization:\n%s", invite)
	}

	// baresip unregisters when stopped (and flushes its trace, which
	// stdout buffers while it runs).
	p.stop(t)
	if bs := s.loc.Bindings(s.ten.ID, caller); len(bs) != 0 {
		t.Errorf("bindings of %s after baresip stopped: %+v", caller, bs)
	}

	// The proxy challenged baresip's INVITE and accepted its credentials:
	// baresip's trace shows the 407 and the retried INVITE, and the proxy
	// reported a confirmed dialog with the authenticated caller.
	var challenged, authorized bool
	for _, m := range traceMessages(p.out.String()) {
		switch {
		case strings.HasPrefix(m, "SIP/2.0 407 ") && strings.Contains(m, " INVITE\n") &&
			strings.Contains(m, "\nProxy-Authenticate: Digest "):
			challenged = true
		case challenged && strings.HasPrefix(m, "INVITE sip:"+callee+"@") &&
			strings.Contains(m, "\nProxy-Authorization: Digest username=\""+caller+"\""):
			authorized = true
		}
	}
	if !challenged || !authorized {
		t.Errorf("baresip's trace: 407 to its INVITE %v, INVITE retried with Proxy-Authorization %v; want both",
			challenged, authorized)
	}
	confirmed := false
	for _, e := range s.dialogEvents() {
		if e.Ext == caller && e.Direction == proxy.DirectionInitiator && e.Peer == callee && e.State == proxy.StateConfirmed {
			confirmed = true
		}
	}
	if !confirmed {
		t.Errorf("proxy reported no confirmed dialog %s -> %s: %+v", caller, callee, s.dialogEvents())
	}
}

// traceMessages splits baresip's SIP trace (-s) into messages, each from
// its start line. A message is printed as "UDP src -> dst", then the
// message, within colour escapes.
func traceMessages(trace string) []string {
	var msgs []string
	for _, block := range strings.Split(trace, "\nUDP ")[1:] {
		_, msg, ok := strings.Cut(block, "\n") // drop "src -> dst"
		if !ok {
			continue
		}
		msg, _, _ = strings.Cut(msg, "\x1b")
		msgs = append(msgs, strings.ReplaceAll(msg, "\r\n", "\n"))
	}
	return msgs
}
