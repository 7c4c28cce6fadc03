package e2e

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// The call-feature tests run sipp phones (127.0.0.1) against `sentral
// serve`: ring groups that hunt, forwarding on busy, do-not-disturb.

const featDomain = "funksjon.test"

// featurePBX starts a server with tenant "funksjon" and extensions 100 to
// 104, created by the CLI without voicemail (so outcomes are SIP answers,
// not the media server's).
func featurePBX(t *testing.T) *pbx {
	t.Helper()
	p := startPBX(t)
	p.mustCLI("tenant", "add", "funksjon", "--domain", featDomain, "--ext-range", "100-199")
	for _, n := range []string{"100", "101", "102", "103", "104"} {
		p.mustCLI("ext", "add", n, "--tenant", "funksjon", "--name", "Ext "+n, "--password", e2ePassword, "--voicemail=false")
	}
	// Phones register next: the server must know the tenant first (it
	// follows the store within a poll interval, which a fast CLI beats).
	p.synced()
	return p
}

// featUAS registers ext from a fresh port on 127.0.0.1 and starts the
// scenario answering there.
func featUAS(t *testing.T, p *pbx, ext, scenario string) *sippRun {
	t.Helper()
	port := port4(t)
	register(t, p.server, p.v4, featDomain, ext, "127.0.0.1", port)
	return startUAS(t, p.server, sippSpec{scenario: "../sipp/" + scenario, ip: "127.0.0.1", port: port, target: p.v4,
		extra: []string{"-recv_timeout", "20000"}})
}

// featCall calls dialled from extension 100 with a sipp UAC scenario.
func featCall(t *testing.T, p *pbx, scenario, dialled string) *sippRun {
	t.Helper()
	return featCallFrom(t, p, port4(t), scenario, dialled)
}

// featCallFrom is featCall from a given port on 127.0.0.1 (one 100 has
// registered from, so requests towards it find its binding).
func featCallFrom(t *testing.T, p *pbx, port int, scenario, dialled string) *sippRun {
	t.Helper()
	return runSipp(t, p.server, sippSpec{scenario: "../sipp/" + scenario, ip: "127.0.0.1", port: port, target: p.v4,
		extra: []string{"-s", dialled, "-key", "caller", "100", "-key", "domain", featDomain, "-au", "100", "-ap", e2ePassword,
			"-recv_timeout", "20000"}})
}

var sippStamp = regexp.MustCompile(`(\d{4}-\d{2}-\d{2})\s+(\d{2}:\d{2}:\d{2}\.\d+)`)

// at is when sipp logged a message (its -trace_msg time stamp).
func (m sippMsg) at(t *testing.T) time.Time {
	t.Helper()
	mm := sippStamp.FindStringSubmatch(m.Raw)
	if mm == nil {
		t.Fatalf("no time stamp in sipp message %q", lastBytes(m.Raw, 300))
	}
	at, err := time.ParseInLocation("2006-01-02 15:04:05.000000", mm[1]+" "+mm[2], time.Local)
	if err != nil {
		t.Fatalf("sipp time stamp %q: %v", mm[0], err)
	}
	return at
}

// TestHuntGroupOrder: a hunt group rings its members one after another in
// the group's order, each for its ring time, moving on at once on busy:
// 101 rings out (CANCEL after 5 s), 102 is busy, 103 answers.
func TestHuntGroupOrder(t *testing.T) {
	p := featurePBX(t)
	p.mustCLI("group", "add", "190", "--tenant", "funksjon", "--name", "Servicetorget", "--strategy", "hunt",
		"--ring-seconds", "5", "--member", "101", "--member", "102", "--member", "103")
	u101 := featUAS(t, p, "101", "uas_noanswer.xml")
	u102 := featUAS(t, p, "102", "uas_busy.xml")
	u103 := featUAS(t, p, "103", "uas_answer.xml")
	p.synced()

	featCall(t, p, "uac_call.xml", "190").wait(t, p.server)
	for _, u := range []*sippRun{u101, u102, u103} {
		u.wait(t, p.server)
	}
	in101, in102, in103 := u101.invite(t), u102.invite(t), u103.invite(t)
	if n := len(u101.received(t, "CANCEL")); n != 1 {
		t.Errorf("101 got %d CANCELs, want 1 (it rang out)", n)
	}
	t1, t2, t3 := in101.at(t), in102.at(t), in103.at(t)
	if !t1.Before(t2) || !t2.Before(t3) {
		t.Errorf("INVITEs at 101 %v, 102 %v, 103 %v: not in hunt order", t1, t2, t3)
	}
	// 102 may only ring once 101 has had its 5 s; a simultaneous group
	// would have rung all three at once.
	if d := t2.Sub(t1); d < 4900*time.Millisecond {
		t.Errorf("102 rang %v after 101, want the ring time of 5 s", d)
	}
	if d := t3.Sub(t2); d > 1500*time.Millisecond {
		t.Errorf("103 rang %v after busy 102, want at once", d)
	}
}

// TestBusyForwardAndDND: a busy extension forwards to a colleague with a
// Diversion header; do-not-disturb answers 486 without ringing anything,
// and its feature code state is visible to the CLI.
func TestBusyForwardAndDND(t *testing.T) {
	p := featurePBX(t)
	p.mustCLI("ext", "forward", "101", "--tenant", "funksjon", "--busy", "102")
	u101 := featUAS(t, p, "101", "uas_busy.xml")
	u102 := featUAS(t, p, "102", "uas_answer.xml")
	p.synced()

	featCall(t, p, "uac_call.xml", "101").wait(t, p.server)
	u101.wait(t, p.server)
	u102.wait(t, p.server)
	u101.invite(t)
	div := u102.invite(t).First("Diversion")
	if !strings.Contains(div, "sip:101@"+featDomain) || !strings.Contains(div, "reason=user-busy") {
		t.Errorf("102's INVITE Diversion = %q, want 101 with reason=user-busy", div)
	}

	// Do-not-disturb: 103 is not even registered, which would be 480; DND
	// answers busy.
	p.mustCLI("ext", "dnd", "103", "--tenant", "funksjon", "on")
	p.synced()
	busy := featCall(t, p, "uac_busy.xml", "103")
	busy.wait(t, p.server)
	if code, _ := busy.finalStatus(t); code != 486 {
		t.Errorf("call to 103 on DND: %d, want 486", code)
	}
	if out := p.mustCLI("ext", "show", "103", "--tenant", "funksjon", "--output", "json"); !strings.Contains(out, `"dnd": true`) {
		t.Errorf("ext show 103 does not report DND:\n%s", out)
	}
}

// TestHoldAndTransfer: two sipp phones in a call through the proxy. The
// caller (100) puts the call on hold with a re-INVITE, the callee (101)
// transfers it to 102 with REFER (attended: Refer-To carries Replaces);
// REFER, its NOTIFY and the hold pass through unchanged, and the caller's
// INVITE to 102 carries Referred-By and Replaces as sent.
func TestHoldAndTransfer(t *testing.T) {
	const consult = "consult-1@127.0.0.1;to-tag=c102;from-tag=b101"
	const consultEscaped = "consult-1%40127.0.0.1%3Bto-tag%3Dc102%3Bfrom-tag%3Db101"
	p := featurePBX(t)
	port100, port101 := port4(t), port4(t)
	register(t, p.server, p.v4, featDomain, "100", "127.0.0.1", port100)
	register(t, p.server, p.v4, featDomain, "101", "127.0.0.1", port101)
	u102 := featUAS(t, p, "102", "uas_answer.xml")
	u101 := startUAS(t, p.server, sippSpec{scenario: "../sipp/uas_transferor.xml", ip: "127.0.0.1", port: port101, target: p.v4,
		extra: []string{"-s", "101", "-key", "caller", "100", "-key", "domain", featDomain, "-key", "target", "102",
			"-key", "replaces", consultEscaped, "-recv_timeout", "20000"}})
	p.synced()

	a := featCallFrom(t, p, port100, "uac_transferee.xml", "101")
	a.wait(t, p.server)
	u101.wait(t, p.server)
	refers := a.received(t, "REFER")
	if len(refers) != 1 {
		t.Fatalf("the transferee got %d REFERs, want 1", len(refers))
	}
	if rt := refers[0].First("Refer-To"); !strings.Contains(rt, "sip:102@"+featDomain+"?Replaces="+consultEscaped) {
		t.Errorf("Refer-To at the transferee: %q", rt)
	}
	if rb := refers[0].First("Referred-By"); !strings.Contains(rb, "sip:101@"+featDomain) {
		t.Errorf("Referred-By at the transferee: %q", rb)
	}
	holds := u101.received(t, "INVITE")
	if len(holds) != 2 || !strings.Contains(holds[1].Raw, "a=sendonly") {
		t.Errorf("the callee got %d INVITEs; the second should put it on hold (a=sendonly)", len(holds))
	}
	if n := len(u101.received(t, "NOTIFY")); n != 1 {
		t.Errorf("the transferor got %d NOTIFYs, want 1", n)
	}

	// What the transferee does with the REFER: call the target.
	runSipp(t, p.server, sippSpec{scenario: "../sipp/uac_referred.xml", ip: "127.0.0.1", port: port4(t), target: p.v4,
		extra: []string{"-s", "102", "-key", "caller", "100", "-key", "referrer", "101", "-key", "domain", featDomain,
			"-key", "replaces", consult, "-au", "100", "-ap", e2ePassword, "-recv_timeout", "20000"}}).wait(t, p.server)
	u102.wait(t, p.server)
	in := u102.invite(t)
	if rb := in.First("Referred-By"); !strings.Contains(rb, "sip:101@"+featDomain) {
		t.Errorf("Referred-By at the transfer target: %q", rb)
	}
	if rp := in.First("Replaces"); rp != consult {
		t.Errorf("Replaces at the transfer target: %q, want %q", rp, consult)
	}
}

// TestForwardOutThroughTrunk: extension 2001 forwards every call to a
// mobile number; an inbound call to its DID leaves again through the
// trunk with 2001's DID as caller ID and a Diversion header naming 2001,
// and the call record names the trunk that carried the forward. An
// extension whose class of service excludes mobiles cannot forward there.
func TestForwardOutThroughTrunk(t *testing.T) {
	p := startPBX(t)
	provisionAcme(p)
	opPort := port4(t)
	peerTrunk(p, "telco", opPort, "--route", "+47", "--priority", "1")
	p.mustCLI("ext", "update", "2001", "--tenant", "acme", "--cos", "mobile")
	p.mustCLI("ext", "forward", "2001", "--tenant", "acme", "--always", "91234567")
	p.mustCLI("ext", "add", "2005", "--tenant", "acme", "--name", "Vaktmester", "--cos", "internal", "--password", e2ePassword,
		"--voicemail=false", "--forward-always", "91234567")
	p.synced()

	// The operator delivers a call for 2001's DID and receives it back.
	op := operatorUAS(t, p, "../sipp/uas_answer.xml", opPort, 1)
	operatorCall(t, p, "testdata/operator_call.xml", operatorIP, kariDID, kariDID)
	op.wait(t, p.server)
	inv := op.invite(t)
	if u := inv.RURIUser(); u != "+4791234567" {
		t.Errorf("forwarded call's request-URI user %q, want +4791234567", u)
	}
	wantHeader(t, inv, "From", "sip:"+kariDID+"@")
	wantHeader(t, inv, "Diversion", "sip:2001@"+acmeDomain)
	wantHeader(t, inv, "Diversion", "reason=unconditional")

	recs := p.waitTenantCDRs(t, "acme", "the forwarded call's record", 1, func(c cdrView) bool { return c.State == "closed" })
	if c := recs[0]; c.Direction != "inbound" || c.Callee != "2001" || c.Trunk != "telco" || c.Disposition != "answered" {
		t.Errorf("forwarded call's record: %+v", c)
	}

	// 2005 may only call internally, so its forward to a mobile leads
	// nowhere: 404, nothing reaches the operator.
	refused := dial(t, p, "testdata/uac_call_refused.xml", "2001", "2005")
	if code, _ := refused.finalStatus(t); code != 404 {
		t.Errorf("call to 2005 forwarding out against its class of service: %d, want 404", code)
	}
}
