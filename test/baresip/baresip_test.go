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
	"context"
	"strings"
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

func TestBaresipCallsSipp(t *testing.T) {
	siptest.Tool(t, "baresip", "baresip")
	siptest.Tool(t, "sipp", "sip-tester")
	s := siptest.Start(t, siptest.Options{Domain: domain, Password: password, Range: [2]string{"2000", "2099"},
		Numbers: []string{caller, callee}, Networks: []string{"udp"}, Algorithms: algorithms})
	u := s.StartUAS(t, "../sipp/uas_answer.xml", siptest.FreePort(t, "udp"))
	s.Bind(t, callee, u.Port, 1)
	p := siptest.StartBaresip(t, siptest.BaresipOptions{Ext: caller, Password: password, Domain: domain, Proxy: s.Server.Addr("udp")})

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
	p.Command(t, "dial", "sip:"+callee+"@"+domain)
	p.WaitEvent(t, "CALL_ESTABLISHED", 10*time.Second, "CALL_CLOSED")
	time.Sleep(2 * time.Second)
	p.Command(t, "hangup", "")
	p.WaitEvent(t, "CALL_CLOSED", 10*time.Second)

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
	p.Stop(t)
	if bs := s.Loc.Bindings(s.Tenant.ID, caller); len(bs) != 0 {
		t.Errorf("bindings of %s after baresip stopped: %+v", caller, bs)
	}

	// The proxy challenged baresip's INVITE and accepted its credentials:
	// baresip's trace shows the 407 and the retried INVITE, and the proxy
	// reported a confirmed dialog with the authenticated caller.
	var challenged, authorized bool
	for _, m := range traceMessages(p.Output()) {
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
