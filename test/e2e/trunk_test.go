package e2e

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Addressing in the trunk tests: trunks are recognised by source address,
// so the operator and the phones need different ones. The operator (sipp)
// sends from 127.0.0.1 to Sentral's 127.0.0.1 listener, the phones (sipp)
// from ::1 to its [::1] listener. The operator on ::1 would be the other
// way round, but `trunk add --host` refuses IPv6 literals:
// TestTrunkIPv6Operator covers that layout once it is accepted.

const (
	operatorIP = "127.0.0.1"
	phoneIP    = "::1"
	acmeDomain = "acme.test"
	kariDID    = "+4755550101" // DID of extension 2001
	remoteCLI  = "+4791234567" // the outside caller on inbound calls
)

// provisionAcme creates tenant acme: extensions 2000-2999, public numbers
// +4755550000-+4755550999, outside prefix 0, switchboard 2000, and
// extension 2001 (Kari Nordmann, DID +4755550101, class national).
func provisionAcme(p *pbx, tenantFlags ...string) {
	p.mustCLI(append([]string{"tenant", "add", "acme", "--domain", acmeDomain, "--ext-range", "2000-2999",
		"--did-range", "55550000-55550999", "--outside-prefix", "0", "--switchboard", "2000"}, tenantFlags...)...)
	p.mustCLI("ext", "add", "2001", "--tenant", "acme", "--name", "Kari Nordmann", "--did", kariDID,
		"--cos", "national", "--password", e2ePassword)
}

// peerTrunk adds a peer trunk to an operator on 127.0.0.1:port.
func peerTrunk(p *pbx, name string, port int, flags ...string) {
	p.mustCLI(append([]string{"trunk", "add", name, "--tenant", "acme", "--mode", "peer", "--host", operatorIP,
		"--port", strconv.Itoa(port), "--transport", "udp", "--peer", operatorIP}, flags...)...)
}

// operatorUAS answers calls at the operator's side (127.0.0.1:port).
func operatorUAS(t *testing.T, p *pbx, scenario string, port, calls int) *sippRun {
	return startUAS(t, p.server, sippSpec{scenario: scenario, ip: operatorIP, port: port, target: p.v4, calls: calls})
}

// phoneUAS answers calls on a phone's port (::1), registered before.
func phoneUAS(t *testing.T, p *pbx, port, calls int) *sippRun {
	return startUAS(t, p.server, sippSpec{scenario: "../sipp/uas_answer.xml", ip: phoneIP, port: port, target: p.v6, calls: calls})
}

// dial runs an extension's authenticated call from ::1 with scenario
// (../sipp/uac_call.xml: answered and hung up by the caller;
// testdata/uac_call_refused.xml: refused) and waits for sipp to end.
func dial(t *testing.T, p *pbx, scenario, ext, dialled string) *sippRun {
	t.Helper()
	r := runSipp(t, p.server, sippSpec{scenario: scenario, ip: phoneIP, port: port6(t), target: p.v6,
		extra: []string{"-s", dialled, "-key", "caller", ext, "-key", "domain", acmeDomain, "-au", ext, "-ap", e2ePassword,
			"-recv_timeout", "10000"}})
	r.wait(t, p.server)
	return r
}

// operatorCall sends a call from ip (the operator's 127.0.0.1, or a
// phone's ::1 to forge one) with request-URI user ruser and To user to.
func operatorCall(t *testing.T, p *pbx, scenario, ip, ruser, to string) *sippRun {
	t.Helper()
	target, port := p.v4, port4(t)
	if ip == phoneIP {
		target, port = p.v6, port6(t)
	}
	r := runSipp(t, p.server, sippSpec{scenario: scenario, ip: ip, port: port, target: target,
		extra: []string{"-s", ruser, "-key", "to", to, "-key", "caller", remoteCLI, "-recv_timeout", "10000"}})
	r.wait(t, p.server)
	return r
}

// wantHeader fails unless m's header name contains want.
func wantHeader(t *testing.T, m sippMsg, name, want string) {
	t.Helper()
	if v := strings.Join(m.Header(name), " | "); !strings.Contains(v, want) {
		t.Errorf("%s: %s is %q, want it to contain %q\n%s", m.Start, name, v, want, m.Raw)
	}
}

func wantNoHeader(t *testing.T, m sippMsg, name string) {
	t.Helper()
	if v := m.Header(name); len(v) > 0 {
		t.Errorf("%s: unexpected %s: %q", m.Start, name, v)
	}
}

// TestTrunkOutbound: extension 2001 (a sipp UAC on ::1, digest-authenticated)
// dials 022334455; Sentral sends the call through the peer trunk to the
// operator (a sipp UAS on 127.0.0.1), which answers; the caller hangs up.
// The operator must see +4722334455 in the request-URI, the extension's DID
// in From and P-Asserted-Identity, and no credentials. With
// --hide-caller-id the From is anonymous and Privacy: id is added.
func TestTrunkOutbound(t *testing.T) { eachStore(t, testTrunkOutbound) }

func testTrunkOutbound(t *testing.T, dsn string) {
	p := startPBXOn(t, dsn)
	provisionAcme(p)
	opPort := port4(t)
	peerTrunk(p, "telco", opPort, "--route", "+47", "--route", "+", "--priority", "1")
	p.synced()

	call := func() sippMsg {
		t.Helper()
		op := operatorUAS(t, p, "../sipp/uas_answer.xml", opPort, 1)
		uac := dial(t, p, "../sipp/uac_call.xml", "2001", "022334455")
		op.wait(t, p.server)
		if code, _ := uac.finalStatus(t); code != 200 {
			t.Errorf("caller's final answer %d, want 200", code)
		}
		if n := len(op.received(t, "BYE")); n != 1 {
			t.Errorf("operator received %d BYEs, want 1", n)
		}
		noLeaks(t, op)
		return op.invite(t)
	}

	inv := call()
	if u := inv.RURIUser(); u != "+4722334455" {
		t.Errorf("request-URI user %q, want +4722334455: %s", u, inv.Start)
	}
	if want := "@127.0.0.1:" + strconv.Itoa(opPort); !strings.Contains(inv.Start, want) {
		t.Errorf("request-URI %q does not name the trunk's host:port %s", inv.Start, want)
	}
	wantHeader(t, inv, "From", "<sip:"+kariDID+"@")
	wantHeader(t, inv, "P-Asserted-Identity", "sip:"+kariDID+"@")
	wantNoHeader(t, inv, "Privacy")

	p.mustCLI("ext", "update", "2001", "--tenant", "acme", "--hide-caller-id")
	var e struct {
		Hide bool `json:"hide_caller_id"`
	}
	p.waitFor("hide_caller_id", func() bool {
		p.get("/api/v1/tenants/acme/extensions/2001", &e)
		return e.Hide
	})
	p.synced()
	inv = call()
	if u := inv.RURIUser(); u != "+4722334455" {
		t.Errorf("withheld: request-URI user %q, want +4722334455", u)
	}
	wantHeader(t, inv, "From", "sip:anonymous@")
	if from := inv.First("From"); strings.Contains(from, kariDID) || strings.Contains(from, "Kari") {
		t.Errorf("withheld: From still shows the caller: %q", from)
	}
	wantHeader(t, inv, "Privacy", "id")
	// The operator still learns who calls (RFC 3325: P-Asserted-Identity
	// with Privacy: id), as tracing and emergency services need.
	wantHeader(t, inv, "P-Asserted-Identity", "sip:"+kariDID+"@")

	recs := p.waitTenantCDRs(t, "acme", "two outbound call records", 2, func(c cdrView) bool { return c.State == "closed" })
	for _, c := range recs {
		if c.Direction != "outbound" || c.Caller != "2001" || c.Dialled != "022334455" || c.Normalised != "+4722334455" ||
			c.Callee != "+4722334455" || c.Trunk != "telco" || c.Disposition != "answered" || c.SIPCode != 200 || c.AnswerTime == nil {
			t.Errorf("outbound call record: %+v", c)
		}
	}
}

// TestTrunkFailover: two peer trunks route +47; the first (priority 1)
// answers 503, the second (priority 2) answers 200. The call completes
// through the second, and the caller never sees the 503.
func TestTrunkFailover(t *testing.T) { eachStore(t, testTrunkFailover) }

func testTrunkFailover(t *testing.T, dsn string) {
	p := startPBXOn(t, dsn)
	provisionAcme(p)
	portA, portB := port4(t), port4(t)
	peerTrunk(p, "telco-a", portA, "--route", "+47", "--priority", "1")
	peerTrunk(p, "telco-b", portB, "--route", "+47", "--priority", "2")
	p.synced()

	opA := operatorUAS(t, p, "testdata/operator_503.xml", portA, 1)
	opB := operatorUAS(t, p, "../sipp/uas_answer.xml", portB, 1)
	start := time.Now()
	uac := dial(t, p, "../sipp/uac_call.xml", "2001", "022334455")
	opA.wait(t, p.server)
	opB.wait(t, p.server)
	t.Logf("failover call set up and torn down in %s", time.Since(start))
	for _, r := range []*sippRun{opA, opB} {
		if u := r.invite(t).RURIUser(); u != "+4722334455" {
			t.Errorf("%s: request-URI user %q", r.name, u)
		}
		noLeaks(t, r)
	}
	if n := len(opB.received(t, "BYE")); n != 1 {
		t.Errorf("operator B received %d BYEs, want 1", n)
	}
	for _, m := range uac.received(t, "") {
		if c, _ := m.Status(); c == 503 {
			t.Errorf("the caller saw the first trunk's 503: %s", m.Start)
		}
	}
	if code, _ := uac.finalStatus(t); code != 200 {
		t.Errorf("caller's final answer %d, want 200", code)
	}
	// The record names the trunk that carried the call, not the one tried first.
	recs := p.waitTenantCDRs(t, "acme", "the failover call's record", 1, func(c cdrView) bool { return c.State == "closed" })
	if c := recs[0]; c.Trunk != "telco-b" || c.Disposition != "answered" || c.Direction != "outbound" {
		t.Errorf("failover call record: %+v", c)
	}
}

// TestTrunkInbound: the operator (127.0.0.1) calls the DID of 2001 in E.164
// and national form; 2001, registered from ::1, answers and the operator
// hangs up. The same INVITE from the phones' address (not a trunk) is
// refused and rings nothing. A number outside the tenant's DID ranges
// gets 404, and so does an unassigned one of its range with --unknown-did
// reject (the default, ringing the switchboard, is
// TestTrunkInboundSwitchboard).
func TestTrunkInbound(t *testing.T) { eachStore(t, testTrunkInbound) }

func testTrunkInbound(t *testing.T, dsn string) {
	p := startPBXOn(t, dsn)
	provisionAcme(p, "--unknown-did", "reject")
	peerTrunk(p, "telco", port4(t), "--route", "+47")
	p.synced()

	portKari := port6(t)
	register(t, p.server, p.v6, acmeDomain, "2001", phoneIP, portKari)
	kari := phoneUAS(t, p, portKari, 2)

	// A stranger on the phones' address sending the operator's INVITE.
	forged := operatorCall(t, p, "testdata/operator_call_refused.xml", phoneIP, kariDID, kariDID)
	if code, reason := forged.finalStatus(t); code != 403 && code != 407 {
		t.Errorf("INVITE from a non-trunk address: %d %s, want 403 or 407", code, reason)
	}

	start := time.Now()
	operatorCall(t, p, "testdata/operator_call.xml", operatorIP, kariDID, kariDID)
	operatorCall(t, p, "testdata/operator_call.xml", operatorIP, "55550101", "55550101")
	kari.wait(t, p.server)
	t.Logf("two inbound calls in %s", time.Since(start))
	ins := kari.received(t, "INVITE")
	if len(ins) != 2 {
		t.Fatalf("2001 received %d INVITEs, want 2 (the forged one must not ring)", len(ins))
	}
	for _, in := range ins {
		wantHeader(t, in, "From", remoteCLI)
		if !strings.Contains(in.Start, "[::1]:"+strconv.Itoa(portKari)) {
			t.Errorf("INVITE to 2001 not sent to its contact: %s", in.Start)
		}
	}
	if n := len(kari.received(t, "BYE")); n != 2 {
		t.Errorf("2001 received %d BYEs from the operator, want 2", n)
	}

	for _, n := range []string{"+4722334455", "+4755550999"} {
		r := operatorCall(t, p, "testdata/operator_call_refused.xml", operatorIP, n, n)
		if code, reason := r.finalStatus(t); code != 404 {
			t.Errorf("inbound call to %s: %d %s, want 404", n, code, reason)
		}
	}
	// One record per attempt from the trunk: two answered, two refused
	// (the forged INVITE came from no trunk and is no call of the tenant).
	recs := p.waitTenantCDRs(t, "acme", "four inbound call records", 4, func(c cdrView) bool { return c.State == "closed" })
	for i, c := range recs {
		if c.Direction != "inbound" || c.Trunk != "telco" || !strings.Contains(c.Caller, strings.TrimPrefix(remoteCLI, "+")) {
			t.Errorf("inbound call record %d: %+v", i+1, c)
		}
		switch {
		case i < 2 && (c.Callee != "2001" || c.Normalised != kariDID || c.Disposition != "answered"):
			t.Errorf("answered inbound call record %d: %+v", i+1, c)
		case i >= 2 && (c.Disposition != "failed" || c.SIPCode != 404 || c.AnswerTime != nil):
			t.Errorf("refused inbound call record %d: %+v", i+1, c)
		}
	}
}

// TestTrunkInboundSwitchboard: with the default --unknown-did switchboard,
// a call to an unassigned number of the DID range rings the operators:
// the group that carries the switchboard number (an extension may not).
func TestTrunkInboundSwitchboard(t *testing.T) {
	p := startPBX(t)
	provisionAcme(p)
	peerTrunk(p, "telco", port4(t), "--route", "+47")
	if _, errs, code := p.cli("ext", "add", "2000", "--tenant", "acme", "--name", "Sentralbord", "--password", e2ePassword); code == 0 ||
		!strings.Contains(errs, "switchboard number") {
		t.Fatalf("extension on the switchboard number: exit %d %s, want refused", code, errs)
	}
	p.mustCLI("ext", "add", "2010", "--tenant", "acme", "--name", "Operatør", "--cos", "national", "--password", e2ePassword)
	p.mustCLI("group", "add", "2000", "--tenant", "acme", "--name", "Sentralbord", "--member", "2010")
	p.synced()
	port := port6(t)
	register(t, p.server, p.v6, acmeDomain, "2010", phoneIP, port)
	board := phoneUAS(t, p, port, 1)
	operatorCall(t, p, "testdata/operator_call.xml", operatorIP, "+4755550999", "+4755550999")
	board.wait(t, p.server)
	wantHeader(t, board.invite(t), "From", remoteCLI)
}

// registeredTrunk adds register-mode trunk centrex to the operator's
// registrar (sipp on 127.0.0.1, challenging and verifying the digest
// itself) and waits until `sentral trunk status` shows it registered.
func registeredTrunk(t *testing.T, p *pbx) *sippRun {
	t.Helper()
	regPort := port4(t)
	registrar := operatorUAS(t, p, "testdata/operator_registrar.xml", regPort, 1)
	p.mustCLI("trunk", "add", "centrex", "--tenant", "acme", "--mode", "register", "--host", operatorIP,
		"--port", strconv.Itoa(regPort), "--transport", "udp", "--username", "sentral-trunk",
		"--password", "Trunk-Hemmelig-42", "--realm", "operator.test", "--route", "+47")
	var sts []struct {
		Name, AOR, State, Reason, Error, Registrar string
		Code                                       int
		Until                                      time.Time `json:"registered_until"`
	}
	start := time.Now()
	p.waitFor("trunk centrex registered", func() bool {
		_ = json.Unmarshal([]byte(p.mustCLI("trunk", "status", "--server", p.base, "--output", "json")), &sts)
		return len(sts) == 1 && sts[0].State == "registered"
	})
	t.Logf("trunk registered %s after trunk add: %+v", time.Since(start), sts[0])
	st := sts[0]
	if st.Name != "centrex" || st.AOR != "sip:sentral-trunk@127.0.0.1" || st.Code != 200 ||
		st.Registrar != "127.0.0.1:"+strconv.Itoa(regPort)+";transport=udp" || time.Until(st.Until) < 50*time.Minute {
		t.Errorf("trunk status %+v", st)
	}
	return registrar
}

// TestTrunkRegister: a register-mode trunk registers with the operator's
// registrar, answering its digest challenge; `sentral trunk status` shows
// it registered; when Sentral stops it unregisters, verified by sipp too.
func TestTrunkRegister(t *testing.T) {
	p := startPBX(t)
	provisionAcme(p)
	registrar := registeredTrunk(t, p)
	p.stop(t) // unregisters: the scenario's last step
	registrar.wait(t, p.server)
	regs := registrar.received(t, "REGISTER")
	if len(regs) != 3 {
		t.Fatalf("registrar received %d REGISTERs, want 3", len(regs))
	}
	wantHeader(t, regs[0], "From", "<sip:sentral-trunk@127.0.0.1>")
	wantHeader(t, regs[0], "Contact", "<sip:sentral-trunk@"+p.v4)
	wantHeader(t, regs[1], "Authorization", `username="sentral-trunk"`)
	wantHeader(t, regs[2], "Expires", "0")
	for _, r := range regs {
		if strings.Contains(r.Raw, "Trunk-Hemmelig-42") {
			t.Errorf("the trunk password went on the wire: %s", r.Raw)
		}
	}
}

// TestTrunkRegisterInbound: the operator sends a call for a registered
// trunk to the Contact Sentral registered, with the dialled DID in To
// (docs/trunks.md); it rings the extension with that DID.
func TestTrunkRegisterInbound(t *testing.T) {
	p := startPBX(t)
	provisionAcme(p)
	p.synced()
	portKari := port6(t)
	register(t, p.server, p.v6, acmeDomain, "2001", phoneIP, portKari)
	registeredTrunk(t, p)
	kari := phoneUAS(t, p, portKari, 1)

	in := runSipp(t, p.server, sippSpec{scenario: "testdata/operator_call.xml", ip: operatorIP, port: port4(t),
		target: p.v4, extra: []string{"-s", "sentral-trunk", "-key", "to", kariDID, "-key", "caller", remoteCLI, "-recv_timeout", "10000"}})
	select {
	case <-in.done:
	case <-time.After(25 * time.Second):
	}
	if code, reason := in.finalStatus(t); code == 404 && strings.Contains(p.logText(), `request-uri user \"sentral-trunk\" is no public number`) {
		t.Fatalf("a call from a register-mode trunk to our Contact (sip:sentral-trunk@%s) with To %s gets %d %s: routing.inbound reads the request-URI user, never To",
			p.v4, kariDID, code, reason)
	}
	in.wait(t, p.server)
	kari.wait(t, p.server)
	wantHeader(t, kari.invite(t), "From", remoteCLI)
}

// TestEmergency: extension 2005 (class internal, hidden caller ID, on site
// Rådhuset with its own DID) dials 112 and 0113. Both leave through the
// trunk marked --emergency, though the other trunk has the better
// priority: request-URI 112/113, the site's DID in P-Asserted-Identity,
// the caller ID not withheld, X-Sentral-Location naming the site. The
// same extension dialling 022334455 gets 403 for its class of service.
func TestEmergency(t *testing.T) { eachStore(t, testEmergency) }

func testEmergency(t *testing.T, dsn string) {
	p := startPBXOn(t, dsn)
	provisionAcme(p)
	const siteDID = "+4755550100"
	p.mustCLI("site", "add", "Rådhuset", "--tenant", "acme", "--did", siteDID, "--address", "Storgata 1, 9990 Fjordvik")
	p.mustCLI("ext", "add", "2005", "--tenant", "acme", "--name", "Vaktmester", "--did", "+4755550105", "--cos", "internal",
		"--site", "Rådhuset", "--hide-caller-id", "--password", e2ePassword)
	mainPort, sosPort := port4(t), port4(t)
	peerTrunk(p, "telco", mainPort, "--route", "+47", "--route", "+", "--priority", "1")
	peerTrunk(p, "naudnett", sosPort, "--route", "", "--priority", "50", "--emergency")
	p.synced()

	mainOp := operatorUAS(t, p, "../sipp/uas_answer.xml", mainPort, 1)
	sos := operatorUAS(t, p, "../sipp/uas_answer.xml", sosPort, 2)
	dial(t, p, "../sipp/uac_call.xml", "2005", "112")
	dial(t, p, "../sipp/uac_call.xml", "2005", "0113")
	sos.wait(t, p.server)
	noLeaks(t, sos)
	ins := sos.received(t, "INVITE")
	if len(ins) != 2 {
		t.Fatalf("emergency trunk received %d INVITEs, want 2", len(ins))
	}
	for i, want := range []string{"112", "113"} {
		in := ins[i]
		if u := in.RURIUser(); u != want {
			t.Errorf("emergency call %d: request-URI user %q, want %q", i+1, u, want)
		}
		wantHeader(t, in, "P-Asserted-Identity", "sip:"+siteDID+"@")
		wantHeader(t, in, "From", "sip:"+siteDID+"@")
		wantNoHeader(t, in, "Privacy")
		wantHeader(t, in, "X-Sentral-Location", `site="Rådhuset"`)
	}

	r := dial(t, p, "testdata/uac_call_refused.xml", "2005", "022334455")
	if code, reason := r.finalStatus(t); code != 403 || !strings.Contains(strings.ToLower(reason), "class of service") {
		t.Errorf("class internal dialling 022334455: %d %q, want 403 naming the class of service", code, reason)
	}
	if n := len(mainOp.received(t, "INVITE")); n != 0 {
		t.Errorf("the non-emergency trunk received %d INVITEs, want none", n)
	}
	recs := p.waitTenantCDRs(t, "acme", "the calls' records", 3, func(c cdrView) bool { return c.State == "closed" })
	for i, c := range recs[:2] {
		if c.Direction != "emergency" || c.Caller != "2005" || c.Callee != []string{"112", "113"}[i] || c.Disposition != "answered" {
			t.Errorf("emergency call record %d: %+v", i+1, c)
		}
	}
	if c := recs[2]; c.Direction != "outbound" || c.Disposition != "failed" || c.SIPCode != 403 || c.Trunk != "" {
		t.Errorf("refused call's record: %+v", c)
	}
}

// TestTrunkIPv6Operator: the operator on ::1 (a peer trunk with --host ::1
// and a register trunk to a registrar on ::1), the phones on 127.0.0.1:
// an outbound call presents the DID, an inbound call rings the phone, the
// register trunk registers. It stops at once while the CLI refuses IPv6
// hosts.
func TestTrunkIPv6Operator(t *testing.T) {
	p := startPBX(t)
	provisionAcme(p)
	opPort := port6(t)
	_, errs, code := p.cli("trunk", "add", "telco6", "--tenant", "acme", "--mode", "peer", "--host", "::1",
		"--port", strconv.Itoa(opPort), "--transport", "udp", "--route", "+47", "--peer", "::1")
	if code != 0 && strings.Contains(errs, "is not a host name or IP address") {
		t.Fatalf("trunk add --host ::1 is refused, so no operator can be reached over IPv6: %s", strings.SplitN(errs, "\n", 2)[0])
	}
	if code != 0 {
		t.Fatalf("trunk add --host ::1: exit %d: %s", code, errs)
	}
	p.synced()

	// Outbound: 2001 on 127.0.0.1 dials 022334455.
	op := startUAS(t, p.server, sippSpec{scenario: "../sipp/uas_answer.xml", ip: "::1", port: opPort, target: p.v6})
	runSipp(t, p.server, sippSpec{scenario: "../sipp/uac_call.xml", ip: "127.0.0.1", port: port4(t), target: p.v4,
		extra: []string{"-s", "022334455", "-key", "caller", "2001", "-key", "domain", acmeDomain, "-au", "2001", "-ap", e2ePassword,
			"-recv_timeout", "10000"}}).wait(t, p.server)
	op.wait(t, p.server)
	inv := op.invite(t)
	if u := inv.RURIUser(); u != "+4722334455" || !strings.Contains(inv.Start, "@[::1]:"+strconv.Itoa(opPort)) {
		t.Errorf("INVITE at the IPv6 operator: %s", inv.Start)
	}
	wantHeader(t, inv, "From", "<sip:"+kariDID+"@[::1]>")
	wantHeader(t, inv, "P-Asserted-Identity", "<sip:"+kariDID+"@[::1]>")
	noLeaks(t, op)

	// Inbound: the operator on ::1 calls 2001, registered from 127.0.0.1.
	portKari := port4(t)
	register(t, p.server, p.v4, acmeDomain, "2001", "127.0.0.1", portKari)
	kari := startUAS(t, p.server, sippSpec{scenario: "../sipp/uas_answer.xml", ip: "127.0.0.1", port: portKari, target: p.v4})
	runSipp(t, p.server, sippSpec{scenario: "testdata/operator_call.xml", ip: "::1", port: port6(t), target: p.v6,
		extra: []string{"-s", kariDID, "-key", "to", kariDID, "-key", "caller", remoteCLI, "-recv_timeout", "10000"}}).wait(t, p.server)
	kari.wait(t, p.server)
	wantHeader(t, kari.invite(t), "From", remoteCLI)

	// A register trunk to a registrar on ::1.
	regPort := port6(t)
	registrar := startUAS(t, p.server, sippSpec{scenario: "testdata/operator_registrar.xml", ip: "::1", port: regPort, target: p.v6})
	p.mustCLI("trunk", "add", "centrex6", "--tenant", "acme", "--mode", "register", "--host", "::1",
		"--port", strconv.Itoa(regPort), "--transport", "udp", "--username", "sentral-trunk",
		"--password", "Trunk-Hemmelig-42", "--realm", "operator.test", "--route", "+47")
	p.waitFor("trunk centrex6 registered", func() bool {
		var sts []struct{ Name, State string }
		_ = json.Unmarshal([]byte(p.mustCLI("trunk", "status", "--server", p.base, "--output", "json")), &sts)
		return len(sts) == 1 && sts[0].State == "registered"
	})
	p.stop(t)
	registrar.wait(t, p.server)
	wantHeader(t, registrar.received(t, "REGISTER")[0], "Contact", "<sip:sentral-trunk@"+p.v6)
}
