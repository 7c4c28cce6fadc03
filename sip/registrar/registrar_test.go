package registrar_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
	"go.uber.org/zap/zaptest"

	"github.com/sentralpbx/sentral/sip/auth"
	"github.com/sentralpbx/sentral/sip/location"
	"github.com/sentralpbx/sentral/sip/registrar"
	"github.com/sentralpbx/sentral/sip/server"
	"github.com/sentralpbx/sentral/test/testrun"
)

const realm = "fjordvik.test"

type harness struct {
	cat   *fakeCatalog
	reg   *registrar.Registrar
	srv   *server.Server
	guard *auth.Guard
	loc   *location.Service
}

// start runs a SIP server with the registrar on loopback ports chosen by
// the kernel; it stops when the test ends.
func start(t *testing.T, banAfter int, networks ...string) *harness {
	t.Helper()
	log := zaptest.NewLogger(t)
	var ls []server.Listener
	for _, n := range networks {
		ls = append(ls, server.Listener{Network: n, Addr: "127.0.0.1:0"})
	}
	guard := auth.NewGuard(auth.GuardOptions{MaxFailures: banAfter})
	srv, err := server.New(server.Options{Listen: ls, Guard: guard, Log: log.Named("sip")})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{srv: srv, guard: guard, loc: location.New(nopBindings{}, log.Named("location"), location.Options{})}
	cat := newCatalog(realm, map[string]string{"100": "s3cret-100", "101": "s3cret-101"})
	reg, err := registrar.New(cat, auth.NewAuthenticator(auth.Options{}), h.guard, h.loc, log.Named("registrar"), registrar.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// As serve wires it: UDP statelessly, the rest through transactions.
	h.reg, h.cat = reg, cat
	srv.Handle(sip.REGISTER, reg.ServeSIP)
	srv.HandleStateless(sip.REGISTER, reg.Respond)
	testrun.Start(t, srv.Serve)
	return h
}

type phone struct {
	t         *testing.T
	client    *sipgo.Client
	dst       string
	transport string
	callID    string
	cseq      uint32
}

func newPhone(t *testing.T, h *harness, network string) *phone {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("test-phone"),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(quiet)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(quiet)),
		sipgo.WithUserAgenTLSConfig(&tls.Config{InsecureSkipVerify: true}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ua.Close() })
	c, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	return &phone{t: t, client: c, dst: h.srv.Addr(network), transport: strings.ToUpper(network),
		callID: fmt.Sprintf("%d@test", time.Now().UnixNano())}
}

func (p *phone) request(user string, contacts []string, expires int, extra ...sip.Header) *sip.Request {
	ruri := sip.Uri{Scheme: "sip", Host: realm}
	req := sip.NewRequest(sip.REGISTER, ruri)
	aor := sip.Uri{Scheme: "sip", User: user, Host: realm}
	fromParams := sip.NewParams()
	fromParams.Add("tag", "t"+p.callID[:6])
	req.AppendHeader(&sip.FromHeader{Address: aor, Params: fromParams})
	req.AppendHeader(&sip.ToHeader{Address: aor, Params: sip.NewParams()})
	cid := sip.CallIDHeader(p.callID)
	req.AppendHeader(&cid)
	p.cseq++
	req.AppendHeader(&sip.CSeqHeader{SeqNo: p.cseq, MethodName: sip.REGISTER})
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	for _, c := range contacts {
		req.AppendHeader(sip.NewHeader("Contact", c))
	}
	if expires >= 0 {
		req.AppendHeader(sip.NewHeader("Expires", fmt.Sprint(expires)))
	}
	for _, h := range extra {
		req.AppendHeader(h)
	}
	cl := sip.ContentLengthHeader(0)
	req.AppendHeader(&cl)
	req.SetDestination(p.dst)
	req.SetTransport(p.transport)
	return req
}

// send returns the final response, or nil when none came within 3s
// (generous: the machine may be busy running other tests).
func (p *phone) send(req *sip.Request) *sip.Response {
	return p.sendWithin(req, 3*time.Second)
}

func (p *phone) sendWithin(req *sip.Request, wait time.Duration) *sip.Response {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	tx, err := p.client.TransactionRequest(ctx, req, sipgo.ClientRequestAddVia)
	if err != nil {
		p.t.Fatalf("send: %v", err)
	}
	defer tx.Terminate()
	for {
		select {
		case res := <-tx.Responses():
			if res.IsProvisional() {
				continue
			}
			return res
		case <-tx.Done():
			return nil
		case <-ctx.Done():
			return nil
		}
	}
}

// register does the challenge round trip with the given algorithm.
func (p *phone) register(user, password, alg string, contacts []string, expires int, extra ...sip.Header) (*sip.Response, *sip.Response) {
	p.t.Helper()
	first := p.send(p.request(user, contacts, expires, extra...))
	if first == nil || first.StatusCode != sip.StatusUnauthorized {
		return first, nil
	}
	req := p.request(user, contacts, expires, extra...)
	if err := authorize(req, first, user, password, alg); err != nil {
		p.t.Fatal(err)
	}
	return first, p.send(req)
}

func authorize(req *sip.Request, chal *sip.Response, user, password, alg string) error {
	for _, h := range chal.GetHeaders("WWW-Authenticate") {
		c, err := digest.ParseChallenge(h.Value())
		if err != nil {
			return fmt.Errorf("parse challenge %q: %w", h.Value(), err)
		}
		if !strings.EqualFold(c.Algorithm, alg) {
			continue
		}
		cred, err := digest.Digest(c, digest.Options{Method: "REGISTER", URI: req.Recipient.String(), Username: user, Password: password})
		if err != nil {
			return err
		}
		req.AppendHeader(sip.NewHeader("Authorization", cred.String()))
		return nil
	}
	return fmt.Errorf("no %s challenge in %v", alg, chal.GetHeaders("WWW-Authenticate"))
}

func status(r *sip.Response) string {
	if r == nil {
		return "no response"
	}
	return fmt.Sprintf("%d %s", r.StatusCode, r.Reason)
}

func contacts(r *sip.Response) []string {
	var out []string
	for _, h := range r.GetHeaders("Contact") {
		out = append(out, h.Value())
	}
	return out
}

func TestRegisterDigest(t *testing.T) {
	for _, tc := range []struct{ network, alg string }{
		{"udp", auth.SHA256}, {"udp", auth.MD5}, {"tcp", auth.SHA256}, {"tcp", auth.MD5}, {"tls", auth.SHA256}, {"ws", auth.MD5},
	} {
		t.Run(tc.network+"/"+tc.alg, func(t *testing.T) {
			h := start(t, 5, tc.network)
			p := newPhone(t, h, tc.network)
			first, res := p.register("100", "s3cret-100", tc.alg, []string{"<sip:100@127.0.0.1:5999;transport=" + tc.network + ">"}, 120)
			if first == nil || first.StatusCode != 401 {
				t.Fatalf("first REGISTER: %s, want 401", status(first))
			}
			if res == nil || res.StatusCode != 200 {
				t.Fatalf("authenticated REGISTER: %s, want 200", status(res))
			}
			cs := contacts(res)
			if len(cs) != 1 || !strings.Contains(cs[0], "sip:100@127.0.0.1:5999") || !strings.Contains(cs[0], "expires=120") {
				t.Fatalf("200 contacts %q", cs)
			}
			bs := h.loc.Bindings(1, "100")
			if len(bs) != 1 || bs[0].Transport != tc.network || bs[0].Source == "" {
				t.Fatalf("bindings %+v", bs)
			}
			if (tc.network == "udp") != (bs[0].Flow == "") {
				t.Fatalf("flow %q for %s", bs[0].Flow, tc.network)
			}
		})
	}
}

func TestWrongPasswordLooksLikeUnknownUserAndBans(t *testing.T) {
	h := start(t, 4, "udp")
	p := newPhone(t, h, "udp")
	c := []string{"<sip:100@127.0.0.1:5999>"}
	_, wrong := p.register("100", "not-it", auth.SHA256, c, 120)
	_, unknown := p.register("999", "whatever", auth.SHA256, c, 120)
	_, disabledish := p.register("101", "not-it", auth.MD5, c, 120)
	for _, r := range []*sip.Response{wrong, unknown, disabledish} {
		if r == nil || r.StatusCode != 401 || r.Reason != "Unauthorized" {
			t.Fatalf("failed REGISTER: %s, want 401 Unauthorized", status(r))
		}
		if n := len(r.GetHeaders("WWW-Authenticate")); n != 2 {
			t.Fatalf("%d challenges, want 2 (SHA-256, MD5)", n)
		}
		if strings.Contains(strings.ToLower(r.GetHeader("WWW-Authenticate").Value()), "stale=true") {
			t.Fatal("failure answered as stale")
		}
	}
	if wh, uh := headerNames(wrong), headerNames(unknown); wh != uh {
		t.Fatalf("wrong password and unknown user differ:\n%s\n%s", wh, uh)
	}
	// The fourth failure trips the ban; after it the source gets no answer.
	_, r := p.register("100", "still-not-it", auth.SHA256, c, 120)
	if r == nil || r.StatusCode != 401 {
		t.Fatalf("4th failure: %s, want 401", status(r))
	}
	if r := p.sendWithin(p.request("100", c, 120), time.Second); r != nil {
		t.Fatalf("banned source got %s, want no response", status(r))
	}
	if bans := h.guard.Bans(); len(bans) != 1 || bans[0].Addr.String() != "127.0.0.1" {
		t.Fatalf("bans %+v", bans)
	}
	// Once unbanned, the right password works again.
	h.guard.Unban(h.guard.Bans()[0].Addr)
	if _, r := p.register("100", "s3cret-100", auth.SHA256, c, 120); r == nil || r.StatusCode != 200 {
		t.Fatalf("after unban: %s", status(r))
	}
}

func headerNames(r *sip.Response) string {
	var names []string
	for _, h := range r.Headers() {
		names = append(names, h.Name())
	}
	return strings.Join(names, ",")
}

func TestExpiryRules(t *testing.T) {
	h := start(t, 10, "udp")
	p := newPhone(t, h, "udp")
	_, r := p.register("100", "s3cret-100", auth.SHA256, []string{"<sip:100@127.0.0.1:5999>"}, 10)
	if r == nil || r.StatusCode != 423 {
		t.Fatalf("expires 10: %s, want 423", status(r))
	}
	if me := r.GetHeader("Min-Expires"); me == nil || me.Value() != "60" {
		t.Fatalf("Min-Expires %v, want 60", me)
	}
	// Above max is shortened; a contact parameter beats the header.
	_, r = p.register("100", "s3cret-100", auth.SHA256, []string{"<sip:100@127.0.0.1:5999>", "<sip:100@127.0.0.1:6000>;expires=300"}, 99999)
	if r == nil || r.StatusCode != 200 {
		t.Fatalf("register: %s", status(r))
	}
	got := strings.Join(contacts(r), " | ")
	if !strings.Contains(got, "5999>;expires=3600") || !strings.Contains(got, "6000>;expires=300") {
		t.Fatalf("contacts %s", got)
	}
}

func TestTwoContactsThenStarRemoval(t *testing.T) {
	h := start(t, 10, "tcp")
	p := newPhone(t, h, "tcp")
	path := sip.NewHeader("Path", "<sip:edge.fjordvik.test;lr>")
	_, r := p.register("100", "s3cret-100", auth.MD5, []string{"<sip:100@127.0.0.1:5999>;q=0.5"}, 600, path)
	if r == nil || r.StatusCode != 200 {
		t.Fatalf("first contact: %s", status(r))
	}
	if ph := r.GetHeader("Path"); ph == nil || ph.Value() != "<sip:edge.fjordvik.test;lr>" {
		t.Fatalf("Path not echoed: %v", ph)
	}
	if sh := r.GetHeader("Supported"); sh == nil || !strings.Contains(sh.Value(), "path") {
		t.Fatalf("Supported: path missing: %v", sh)
	}
	_, r = p.register("100", "s3cret-100", auth.MD5, []string{"<sip:100@127.0.0.1:6000>"}, 600)
	if r == nil || r.StatusCode != 200 {
		t.Fatalf("second contact: %s", status(r))
	}
	if cs := contacts(r); len(cs) != 2 || !strings.Contains(strings.Join(cs, " "), "q=0.5") {
		t.Fatalf("want both contacts listed, got %q", cs)
	}
	if b := h.loc.Bindings(1, "100"); len(b) != 2 || len(b[1].Path)+len(b[0].Path) != 1 {
		t.Fatalf("bindings %+v", b)
	}
	_, r = p.register("100", "s3cret-100", auth.MD5, []string{"*"}, 60)
	if r == nil || r.StatusCode != 400 {
		t.Fatalf("contact * with expires 60: %s, want 400", status(r))
	}
	_, r = p.register("100", "s3cret-100", auth.MD5, []string{"*"}, 0)
	if r == nil || r.StatusCode != 200 {
		t.Fatalf("contact * removal: %s", status(r))
	}
	if cs := contacts(r); len(cs) != 0 {
		t.Fatalf("contacts left: %q", cs)
	}
	if b := h.loc.Bindings(1, "100"); len(b) != 0 {
		t.Fatalf("bindings left %+v", b)
	}
}

func TestUnknownDomainForbidden(t *testing.T) {
	h := start(t, 10, "udp")
	p := newPhone(t, h, "udp")
	req := p.request("100", []string{"<sip:100@127.0.0.1:5999>"}, 60)
	req.Recipient.Host = "elsewhere.test"
	req.To().Address.Host = "elsewhere.test"
	if r := p.send(req); r == nil || r.StatusCode != 403 {
		t.Fatalf("unknown domain: %s, want 403", status(r))
	}
}

func TestMalformedUDPThenStillServing(t *testing.T) {
	h := start(t, 10, "udp")
	conn, err := net.Dial("udp", h.srv.Addr("udp"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, junk := range []string{
		"\x00\xff garbage \r\n\r\n",
		"REGISTER\r\n\r\n",
		"REGISTER sip:x SIP/2.0\r\nContent-Length: 99999999\r\n\r\n",
		"REGISTER sip:fjordvik.test SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:1\r\nTo: <<<\r\nFrom: >\r\n\r\n",
		"\r\n\r\n",
		strings.Repeat("A", 9000),
	} {
		if _, err := conn.Write([]byte(junk)); err != nil {
			t.Fatal(err)
		}
	}
	local := conn.LocalAddr().String()
	opt := "OPTIONS sip:" + realm + " SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP " + local + ";branch=z9hG4bK-opt1;rport\r\n" +
		"From: <sip:probe@" + realm + ">;tag=p1\r\nTo: <sip:" + realm + ">\r\nCall-ID: opt-1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
	if _, err := conn.Write([]byte(opt)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	for {
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("no answer to OPTIONS after junk: %v", err)
		}
		if strings.Contains(string(buf[:n]), "CSeq: 1 OPTIONS") {
			if !strings.HasPrefix(string(buf[:n]), "SIP/2.0 200") {
				t.Fatalf("OPTIONS answer: %q", buf[:n])
			}
			return
		}
	}
}

// TestRetransmissionsDecidedAgain gives Respond one authenticated
// REGISTER several times, as the stateless UDP path does for a
// retransmission that arrives after the server stopped keeping its answer
// (sip/server keeps it for a few seconds). Every copy gets the 200, the
// binding is not changed again, and no copy counts as a failure. Once a
// newer REGISTER has used a higher nonce count, a late copy is
// indistinguishable from a replay and is refused as one (a phone sends the
// newer request only after its earlier one was answered, so only a
// duplicated, delayed datagram gets here).
func TestRetransmissionsDecidedAgain(t *testing.T) {
	h := start(t, 2, "udp")
	p := newPhone(t, h, "udp")
	// As off the wire: parsed, with the source the transport saw.
	prep := func(req *sip.Request, branch string) *sip.Request {
		t.Helper()
		req.PrependHeader(sip.NewHeader("Via", "SIP/2.0/UDP 127.0.0.1:5555;branch=z9hG4bK-"+branch+";rport"))
		m, err := sip.NewParser().ParseSIP([]byte(req.String()))
		if err != nil {
			t.Fatal(err)
		}
		parsed := m.(*sip.Request)
		parsed.SetTransport("UDP")
		parsed.SetSource("127.0.0.1:5555")
		return parsed
	}
	c := []string{"<sip:100@192.0.2.7:5060>"}
	chal := h.reg.Respond(prep(p.request("100", c, 300), "a1"))
	if chal == nil || chal.StatusCode != 401 {
		t.Fatalf("first REGISTER: %s", status(chal))
	}
	authReq := p.request("100", c, 300)
	if err := authorize(authReq, chal, "100", "s3cret-100", auth.MD5); err != nil {
		t.Fatal(err)
	}
	authed := prep(authReq, "a2")
	for i := range 4 { // more than the ban threshold of 2
		res := h.reg.Respond(authed)
		if res == nil || res.StatusCode != 200 {
			t.Fatalf("copy %d: %s, want 200", i+1, status(res))
		}
		if cs := contacts(res); len(cs) != 1 || !strings.Contains(cs[0], "192.0.2.7") {
			t.Fatalf("copy %d: contacts %q", i+1, cs)
		}
	}
	first := h.loc.Bindings(1, "100")
	if len(first) != 1 || first[0].CSeq != authed.CSeq().SeqNo {
		t.Fatalf("bindings %+v", first)
	}
	if bans := h.guard.Bans(); len(bans) != 0 {
		t.Fatalf("retransmissions counted as failures: bans %+v", bans)
	}

	// A newer REGISTER (next CSeq, same nonce, next nc) adds a contact.
	newReq := p.request("100", []string{"<sip:100@192.0.2.8:5060>"}, 300)
	cred, err := digestFor(chal, newReq, "100", "s3cret-100", 2)
	if err != nil {
		t.Fatal(err)
	}
	newReq.AppendHeader(sip.NewHeader("Authorization", cred))
	newer := prep(newReq, "a3")
	if res := h.reg.Respond(newer); res == nil || res.StatusCode != 200 {
		t.Fatalf("newer REGISTER: %s", status(res))
	}
	late := h.reg.Respond(authed)
	if late == nil || late.StatusCode != 401 || strings.Contains(strings.ToLower(late.GetHeader("WWW-Authenticate").Value()), "stale=true") {
		t.Fatalf("late copy after a newer REGISTER: %s, want 401 (replay)", status(late))
	}
	if bs := h.loc.Bindings(1, "100"); len(bs) != 2 {
		t.Fatalf("bindings after the late copy: %+v, want both contacts", bs)
	}

	// A repeat of the newest request whose binding is gone (the phone
	// unregistered it meanwhile) is not answered 200: it gets a new nonce.
	h.loc.RemoveAll(1, "100")
	if res := h.reg.Respond(newer); res == nil || res.StatusCode != 401 ||
		!strings.Contains(strings.ToLower(res.GetHeader("WWW-Authenticate").Value()), "stale=true") {
		t.Fatalf("repeat of a removed registration: %s, want 401 stale", status(res))
	}
	if bs := h.loc.Bindings(1, "100"); len(bs) != 0 {
		t.Fatalf("repeat re-created bindings: %+v", bs)
	}
}

// digestFor answers chal's MD5 challenge for req with nonce count nc.
func digestFor(chal *sip.Response, req *sip.Request, user, password string, nc int) (string, error) {
	for _, h := range chal.GetHeaders("WWW-Authenticate") {
		c, err := digest.ParseChallenge(h.Value())
		if err != nil {
			return "", err
		}
		if !strings.EqualFold(c.Algorithm, auth.MD5) {
			continue
		}
		cred, err := digest.Digest(c, digest.Options{Method: "REGISTER", URI: req.Recipient.String(), Username: user,
			Password: password, Count: nc, Cnonce: "0a4f113b"})
		if err != nil {
			return "", err
		}
		return cred.String(), nil
	}
	return "", fmt.Errorf("no MD5 challenge")
}

// TestDeviceCredentials: a desk phone registers the extensions on its line
// keys with its own AuthUser and secret; not other extensions, and a
// wrong secret or unknown device looks like any wrong password.
func TestDeviceCredentials(t *testing.T) {
	h := start(t, 10, "udp")
	h.cat.devices = map[string]fakeDevice{"ph001565aabbcc": {tenant: 1, secret: "Qx7pLm2ZcV9nTr4sWd8k", lines: []string{"100", "101"}}}
	p := newPhone(t, h, "udp")
	c := []string{"<sip:100@127.0.0.1:5999>"}
	for _, tc := range []struct {
		aor, user, password string
		want                int
	}{
		{"100", "ph001565aabbcc", "Qx7pLm2ZcV9nTr4sWd8k", 200},
		{"101", "ph001565aabbcc", "Qx7pLm2ZcV9nTr4sWd8k", 200},
		{"100", "ph001565aabbcc", "wrong-secret-000000", 401},
		{"102", "ph001565aabbcc", "Qx7pLm2ZcV9nTr4sWd8k", 401}, // no such extension
		{"100", "ph999999999999", "Qx7pLm2ZcV9nTr4sWd8k", 401}, // no such device
		{"100", "101", "s3cret-101", 401},                      // another extension's own password
	} {
		req := p.request(tc.aor, c, 120)
		first := p.send(req)
		if first == nil || first.StatusCode != 401 {
			t.Fatalf("%s as %s: first %s", tc.aor, tc.user, status(first))
		}
		req = p.request(tc.aor, c, 120)
		if err := authorize(req, first, tc.user, tc.password, auth.SHA256); err != nil {
			t.Fatal(err)
		}
		if res := p.send(req); res == nil || res.StatusCode != tc.want {
			t.Errorf("%s as %s: %s, want %d", tc.aor, tc.user, status(res), tc.want)
		}
	}
}

// TestDrainRefusesRegistrations: a draining node answers 503 with a
// Retry-After, over UDP (stateless) and TCP, and keeps the bindings it has.
func TestDrainRefusesRegistrations(t *testing.T) {
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			h := start(t, 5, network)
			p := newPhone(t, h, network)
			if _, res := p.register("100", "s3cret-100", auth.MD5, []string{"<sip:100@127.0.0.1:5999>"}, 120); res == nil || res.StatusCode != 200 {
				t.Fatalf("REGISTER before drain: %s, want 200", status(res))
			}
			h.reg.Drain()
			res := p.send(p.request("101", []string{"<sip:101@127.0.0.1:5998>"}, 120))
			if res == nil || res.StatusCode != 503 {
				t.Fatalf("REGISTER while draining: %s, want 503", status(res))
			}
			if ra := res.GetHeader("Retry-After"); ra == nil || ra.Value() != fmt.Sprint(registrar.RetryAfterDrain) {
				t.Errorf("Retry-After %v, want %d", ra, registrar.RetryAfterDrain)
			}
			if bs := h.loc.Bindings(1, "100"); len(bs) != 1 {
				t.Errorf("bindings after drain %+v, want the one registered before", bs)
			}
		})
	}
}
