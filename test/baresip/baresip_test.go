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
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sentralpbx/sentral/sip/auth"
	"github.com/sentralpbx/sentral/sip/proxy"
	"github.com/sentralpbx/sentral/test/siptest"
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

// phone is a running baresip driven over ctrl_tcp.
type phone struct {
	cmd    *exec.Cmd
	out    *siptest.SyncBuffer // stdout and stderr, with the SIP trace (-s)
	conn   net.Conn
	events chan map[string]any
	resp   chan map[string]any
	exited chan struct{}
}

// startBaresip writes a config directory for account 2001 with the
// outbound proxy at sentral, starts baresip and connects to ctrl_tcp.
func startBaresip(t *testing.T, sentral string) *phone {
	t.Helper()
	bin := siptest.Tool(t, "baresip", "baresip")
	dir := t.TempDir()
	ctrl := fmt.Sprintf("127.0.0.1:%d", siptest.FreePort(t, "tcp"))
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
	p := &phone{cmd: cmd, out: new(siptest.SyncBuffer), events: make(chan map[string]any, 64), resp: make(chan map[string]any, 8),
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
			t.Logf("baresip output:\n%s", siptest.Tail(p.out.String(), 12000))
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
			t.Fatalf("baresip exited at start:\n%s", siptest.Tail(p.out.String(), 4000))
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
	siptest.Tool(t, "baresip", "baresip")
	siptest.Tool(t, "sipp", "sip-tester")
	s := siptest.Start(t, siptest.Options{Domain: domain, Password: password, Range: [2]string{"2000", "2099"},
		Numbers: []string{caller, callee}, Networks: []string{"udp"}, Algorithms: algorithms})
	u := s.StartUAS(t, "../sipp/uas_answer.xml", siptest.FreePort(t, "udp"))
	s.Bind(t, callee, u.Port, 1)
	p := startBaresip(t, s.Server.Addr("udp"))

	// Registration: the binding in the location service and, written
	// behind, in the store. (baresip registers at start, possibly before
	// ctrl_tcp is connected, so its REGISTER_OK event may come too early to
	// be seen.)
	deadline := time.Now().Add(10 * time.Second)
	for {
		bs := s.Loc.Bindings(s.Tenant.ID, caller)
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
		stored, err := s.Store.Bindings().List(context.Background(), s.Tenant.ID)
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

	u.Wait(t, "sipp UAS")

	// sipp saw the INVITE come through us with our Record-Route, and
	// without the credentials the proxy consumed.
	msgs := u.Messages()
	invite := ""
	if i := strings.Index(msgs, "INVITE sip:"); i >= 0 {
		invite, _, _ = strings.Cut(msgs[i:], "-----") // sipp's separator line
	}
	if !strings.Contains(invite, "Record-Route: <sip:"+s.Server.Addr("udp")+";") {
		t.Errorf("sipp did not get an INVITE record-routed by %s:\n%s", s.Server.Addr("udp"), siptest.Tail(msgs, 4000))
	}
	if strings.Contains(invite, "Proxy-Authorization") {
		t.Errorf("the INVITE reached sipp with the caller's Proxy-Authorization:\n%s", invite)
	}

	// baresip unregisters when stopped (and flushes its trace, which
	// stdout buffers while it runs).
	p.stop(t)
	if bs := s.Loc.Bindings(s.Tenant.ID, caller); len(bs) != 0 {
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
	for _, e := range s.DialogEvents() {
		if e.Ext == caller && e.Direction == proxy.DirectionInitiator && e.Peer == callee && e.State == proxy.StateConfirmed {
			confirmed = true
		}
	}
	if !confirmed {
		t.Errorf("proxy reported no confirmed dialog %s -> %s: %+v", caller, callee, s.DialogEvents())
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
