package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	dectDomain   = "dect.test"
	dectHandsets = 50
	firstHandset = 3000 // handset extensions 3000-3049
)

// handsetPassword is each handset extension's own password: the number's
// digits as letters (0->a ... 9->j), so it never contains the number
// (the password policy forbids that), as bench/register.sh does.
func handsetPassword(n int) string {
	var b strings.Builder
	for _, d := range strconv.Itoa(n) {
		b.WriteByte(byte('a' + d - '0'))
	}
	return "Dect-" + b.String() + "-7Q"
}

// TestDECTGateway plays an IP-DECT gateway with ONE sipp on one address
// and port (all on 127.0.0.1; no trunk is involved):
//   - it registers 50 handsets, each its own extension with its own
//     password (bench/sipp/register.xml with an injection file), and
//     `sentral sip registrations` shows 50 bindings from that address:port;
//   - a desk phone (3100) calls handset 3017: the INVITE reaches the
//     gateway's port with the handset's Contact;
//   - handset 3023 calls 3100 from the gateway's port, authenticating as
//     3023.
func TestDECTGateway(t *testing.T) { eachStore(t, testDECTGateway) }

func testDECTGateway(t *testing.T, dsn string) {
	p := startPBXOn(t, dsn)
	p.mustCLI("tenant", "add", "sykehjem", "--domain", dectDomain, "--ext-range", "3000-3999")
	dir := t.TempDir()
	csv := "number,name,cos,password\n"
	inf := "SEQUENTIAL\n"
	for n := firstHandset; n < firstHandset+dectHandsets; n++ {
		pw := handsetPassword(n)
		csv += fmt.Sprintf("%d,Handset %d,internal,%s\n", n, n, pw)
		inf += fmt.Sprintf("%d;%s;[authentication username=%d password=%s]\n", n, pw, n, pw)
	}
	csv += "3100,Pleievakt,internal," + e2ePassword + "\n"
	csvFile, infFile := filepath.Join(dir, "extensions.csv"), filepath.Join(dir, "handsets.csv")
	for f, body := range map[string]string{csvFile: csv, infFile: inf} {
		if err := os.WriteFile(f, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p.mustCLI("import", "extensions", csvFile, "--tenant", "sykehjem")

	gwPort := port4(t)
	gwAddr := fmt.Sprintf("127.0.0.1:%d", gwPort)
	p.mustCLI("dect", "gateway", "add", "gw-fløy-a", "--tenant", "sykehjem", "--mode", "register", "--address", gwAddr, "--model", "ascom-ip-dect")
	p.mustCLI("dect", "handset", "add", "0077A1B2C3", "--tenant", "sykehjem", "--gateway", "gw-fløy-a", "--ext", "3017")
	p.synced()

	// 50 handsets register through the gateway's one port: 100 REGISTERs
	// at 25 registrations/s, under the guard's default 50 requests/s.
	start := time.Now()
	runSipp(t, p.server, sippSpec{scenario: "../../bench/sipp/register.xml", ip: "127.0.0.1", port: gwPort, target: p.v4,
		calls: dectHandsets, extra: []string{"-inf", infFile, "-key", "domain", dectDomain, "-r", "25", "-recv_timeout", "5000"}}).wait(t, p.server)
	t.Logf("%d handsets registered through one gateway port in %s", dectHandsets, time.Since(start))

	var regs []struct {
		AOR, Contact, Source, Transport string
	}
	p.waitFor("50 handset bindings", func() bool {
		_ = json.Unmarshal([]byte(p.mustCLI("sip", "registrations", "--tenant", "sykehjem", "--output", "json")), &regs)
		return len(regs) >= dectHandsets
	})
	var aors []string
	for _, r := range regs {
		if r.Source != gwAddr || r.Transport != "udp" {
			t.Errorf("binding %+v: want source %s over udp", r, gwAddr)
		}
		aors = append(aors, r.AOR)
	}
	sort.Strings(aors)
	if len(aors) != dectHandsets || aors[0] != "3000@"+dectDomain || aors[len(aors)-1] != "3049@"+dectDomain {
		t.Fatalf("bindings of %d AORs (%v ... ), want 3000-3049", len(aors), aors[:min(3, len(aors))])
	}

	// The desk phone 3100 registers from its own port.
	deskPort := port4(t)
	register(t, p.server, p.v4, dectDomain, "3100", "127.0.0.1", deskPort)

	// 3100 calls handset 3017: the gateway's port answers.
	gw := startUAS(t, p.server, sippSpec{scenario: "../sipp/uas_answer.xml", ip: "127.0.0.1", port: gwPort, target: p.v4})
	deskCall(t, p, "3017").wait(t, p.server)
	gw.wait(t, p.server)
	in := gw.invite(t)
	if u := in.RURIUser(); u != "3017" || !strings.Contains(in.Start, "@"+gwAddr) {
		t.Errorf("INVITE at the gateway: %s, want handset 3017's contact at %s", in.Start, gwAddr)
	}
	wantHeader(t, in, "From", "sip:3100@"+dectDomain)

	// Handset 3023 calls 3100 from the gateway's port, as 3023.
	desk := startUAS(t, p.server, sippSpec{scenario: "../sipp/uas_answer.xml", ip: "127.0.0.1", port: deskPort, target: p.v4})
	runSipp(t, p.server, sippSpec{scenario: "../sipp/uac_call.xml", ip: "127.0.0.1", port: gwPort, target: p.v4,
		extra: []string{"-s", "3100", "-key", "caller", "3023", "-key", "domain", dectDomain, "-au", "3023", "-ap", handsetPassword(3023),
			"-recv_timeout", "10000"}}).wait(t, p.server)
	desk.wait(t, p.server)
	wantHeader(t, desk.invite(t), "From", "sip:3023@"+dectDomain)
}

// deskCall starts a call from desk phone 3100 (a sipp UAC on 127.0.0.1,
// authenticating as 3100) to dialled, answered and hung up by 3100.
func deskCall(t *testing.T, p *pbx, dialled string) *sippRun {
	t.Helper()
	return runSipp(t, p.server, sippSpec{scenario: "../sipp/uac_call.xml", ip: "127.0.0.1", port: port4(t), target: p.v4,
		extra: []string{"-s", dialled, "-key", "caller", "3100", "-key", "domain", dectDomain, "-au", "3100", "-ap", e2ePassword,
			"-recv_timeout", "10000"}})
}

// TestDECTStaticGateway: a static-mode gateway (dect gateway add --mode
// static --address) gets the calls for the extension of a handset bound to
// it, without any registration; the call is answered and hung up.
func TestDECTStaticGateway(t *testing.T) {
	p := startPBX(t)
	p.mustCLI("tenant", "add", "sykehjem", "--domain", dectDomain, "--ext-range", "3000-3999")
	p.mustCLI("ext", "add", "3100", "--tenant", "sykehjem", "--name", "Pleievakt", "--cos", "internal", "--password", e2ePassword)
	p.mustCLI("ext", "add", "3200", "--tenant", "sykehjem", "--name", "Nattevakt", "--cos", "internal", "--password", e2ePassword)
	staticPort := port4(t)
	p.mustCLI("dect", "gateway", "add", "gw-fløy-b", "--tenant", "sykehjem", "--mode", "static",
		"--address", fmt.Sprintf("127.0.0.1:%d", staticPort))
	p.mustCLI("dect", "handset", "add", "0077A1B2D4", "--tenant", "sykehjem", "--gateway", "gw-fløy-b", "--ext", "3200")
	p.synced()
	if out := p.mustCLI("sip", "registrations", "--tenant", "sykehjem", "--output", "json"); strings.Contains(out, "3200@") {
		t.Fatalf("3200 is registered: the static case must work without:\n%s", out)
	}

	static := startUAS(t, p.server, sippSpec{scenario: "../sipp/uas_answer.xml", ip: "127.0.0.1", port: staticPort, target: p.v4})
	uac := deskCall(t, p, "3200")
	select {
	case <-uac.done:
	case <-time.After(30 * time.Second):
	}
	in := static.invite(t)
	if u := in.RURIUser(); u != "3200" || !strings.Contains(in.Start, fmt.Sprintf("@127.0.0.1:%d", staticPort)) {
		t.Errorf("INVITE at the static gateway: %s, want sip:3200@127.0.0.1:%d", in.Start, staticPort)
	}
	wantHeader(t, in, "From", "sip:3100@"+dectDomain)
	if code, _ := uac.finalStatus(t); code == 200 && uac.code != 0 &&
		strings.Contains(p.logText(), `"method":"BYE"`) && strings.Contains(p.logText(), "is no registered contact") {
		var bye string
		for _, m := range uac.received(t, "") {
			if strings.HasSuffix(m.First("CSeq"), "BYE") {
				bye = m.Start
			}
		}
		t.Fatalf("a call to a static DECT gateway is answered, but Sentral routes no ACK or BYE to it (in-dialog target is no registered contact): the caller's BYE got %q", bye)
	}
	uac.wait(t, p.server)
	static.wait(t, p.server)
}
