package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// sipAddr reads the bound SIP address of a transport from the ready log line.
func (s *server) sipAddr(t *testing.T, network string) string {
	t.Helper()
	m := regexp.MustCompile(`"` + network + `:(127\.0\.0\.1:\d+)"`).FindStringSubmatch(s.logText())
	if m == nil {
		t.Fatalf("no %s listener in the ready line:\n%s", network, s.logText())
	}
	return m[1]
}

// udpPhone speaks just enough SIP over one UDP socket to register.
type udpPhone struct {
	t    *testing.T
	conn net.Conn
	cseq int
}

func (p *udpPhone) exchange(user, domain, password string, auth *sip.Response, expires int) *sip.Response {
	p.t.Helper()
	p.cseq++
	local := p.conn.LocalAddr().String()
	msg := fmt.Sprintf("REGISTER sip:%[2]s SIP/2.0\r\n"+
		"Via: SIP/2.0/UDP %[3]s;branch=z9hG4bK-e2e-%[4]d;rport\r\n"+
		"From: <sip:%[1]s@%[2]s>;tag=e2e\r\nTo: <sip:%[1]s@%[2]s>\r\n"+
		"Call-ID: e2e-%[1]s@%[3]s\r\nCSeq: %[4]d REGISTER\r\nMax-Forwards: 70\r\n"+
		"Contact: <sip:%[1]s@%[3]s>\r\nExpires: %[5]d\r\nUser-Agent: e2e-phone\r\n",
		user, domain, local, p.cseq, expires)
	if auth != nil {
		var chal *digest.Challenge
		for _, h := range auth.GetHeaders("WWW-Authenticate") {
			if c, err := digest.ParseChallenge(h.Value()); err == nil && chal == nil {
				chal = c // the first offered: what an RFC 8760 phone picks
			}
		}
		if chal == nil {
			p.t.Fatalf("no usable challenge in %s", auth.String())
		}
		cred, err := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: "sip:" + domain, Username: user, Password: password})
		if err != nil {
			p.t.Fatal(err)
		}
		msg += "Authorization: " + cred.String() + "\r\n"
	}
	msg += "Content-Length: 0\r\n\r\n"
	if _, err := p.conn.Write([]byte(msg)); err != nil {
		p.t.Fatal(err)
	}
	buf := make([]byte, 8192)
	_ = p.conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	for {
		n, err := p.conn.Read(buf)
		if err != nil {
			return nil // no answer (a banned source gets none)
		}
		m, err := sip.ParseMessage(buf[:n])
		if err != nil {
			p.t.Fatalf("unparseable answer %q: %v", buf[:n], err)
		}
		if res, ok := m.(*sip.Response); ok && res.CSeq() != nil && int(res.CSeq().SeqNo) == p.cseq && res.StatusCode >= 200 {
			return res
		}
	}
}

func (p *udpPhone) register(user, domain, password string, expires int) *sip.Response {
	p.t.Helper()
	first := p.exchange(user, domain, password, nil, expires)
	if first == nil || first.StatusCode != 401 {
		p.t.Fatalf("first REGISTER answered %v, want 401", first)
	}
	return p.exchange(user, domain, password, first, expires)
}

// TestSIPRegisterThroughServe drives the binary: provision with the CLI,
// register over UDP, see the binding with `sip registrations`, get banned
// and see it with `sip bans`.
func TestSIPRegisterThroughServe(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir, dir+"/pbx.db")
	s.mustCLI("tenant", "add", "fjordvik", "--domain", "fjordvik.test", "--ext-range", "100-199")
	s.mustCLI("ext", "add", "100", "--tenant", "fjordvik", "--name", "Resepsjon")
	out := s.mustCLI("ext", "passwd", "100", "--tenant", "fjordvik", "--generate")
	m := regexp.MustCompile(`generated password: (\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no generated password in %q", out)
	}
	password := m[1]
	var e extView
	s.waitFor("credentials", func() bool {
		s.get("/api/v1/tenants/fjordvik/extensions/100", &e)
		return e.HasCredentials
	})

	conn, err := net.Dial("udp", s.sipAddr(t, "udp"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	p := &udpPhone{t: t, conn: conn}
	if res := p.register("100", "fjordvik.test", password, 300); res == nil || res.StatusCode != 200 {
		t.Fatalf("REGISTER with the right password: %v", res)
	}

	var regs []struct {
		AOR, Source, Transport string
		UserAgent              string `json:"user_agent"`
	}
	s.waitFor("binding in the store", func() bool {
		_ = json.Unmarshal([]byte(s.mustCLI("sip", "registrations", "--tenant", "fjordvik", "-o", "json")), &regs)
		return len(regs) == 1
	})
	if regs[0].AOR != "100@fjordvik.test" || regs[0].Source != conn.LocalAddr().String() || regs[0].Transport != "udp" || regs[0].UserAgent != "e2e-phone" {
		t.Fatalf("registration %+v", regs[0])
	}

	// Five wrong passwords (the default sip.guard.max_failures) ban the source.
	for i := 0; i < 5; i++ {
		if res := p.register("100", "fjordvik.test", "wrong-"+password, 300); res == nil || res.StatusCode != 401 {
			t.Fatalf("wrong password %d: %v, want 401", i, res)
		}
	}
	if res := p.exchange("100", "fjordvik.test", password, nil, 300); res != nil {
		t.Fatalf("banned source answered: %d", res.StatusCode)
	}
	out = s.mustCLI("sip", "bans", "--server", s.base)
	if !strings.Contains(out, "127.0.0.1") {
		t.Fatalf("sip bans:\n%s", out)
	}

	// Disabling an extension must end its registrations at once. The store
	// keeps bindings of a disabled extension (only deletion cascades), so
	// only the running server, told through the change log, can remove them.
	s.mustCLI("ext", "update", "100", "--tenant", "fjordvik", "--disabled")
	s.waitFor("registration removed after disabling", func() bool {
		_ = json.Unmarshal([]byte(s.mustCLI("sip", "registrations", "--tenant", "fjordvik", "-o", "json")), &regs)
		return len(regs) == 0
	})
}
