package proxy

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/sentralpbx/sentral/sip/auth"
	"github.com/sentralpbx/sentral/sip/location"
	"github.com/sentralpbx/sentral/sip/server"
	"github.com/sentralpbx/sentral/store"
	"github.com/sentralpbx/sentral/test/testrun"
)

const (
	testDomain   = "fjordvik.test"
	testPassword = "Korrekt-Hest-42"
)

type fakeCatalog struct {
	tenants []store.Tenant
	exts    []store.Extension
}

func (f *fakeCatalog) TenantByDomain(d string) (store.Tenant, bool) {
	for _, t := range f.tenants {
		if t.Domain == d {
			return t, true
		}
	}
	return store.Tenant{}, false
}

func (f *fakeCatalog) Extension(tid int64, n string) (store.Extension, bool) {
	for _, e := range f.exts {
		if e.TenantID == tid && e.Number == n {
			return e, true
		}
	}
	return store.Extension{}, false
}

type nopBindingStore struct{}

func (nopBindingStore) Save(context.Context, []store.Binding) error           { return nil }
func (nopBindingStore) Delete(context.Context, int64, string, []string) error { return nil }
func (nopBindingStore) DeleteAOR(context.Context, int64, string) error        { return nil }
func (nopBindingStore) List(context.Context, int64) ([]store.Binding, error)  { return nil, nil }
func (nopBindingStore) ListAOR(context.Context, int64, string) ([]store.Binding, error) {
	return nil, nil
}
func (nopBindingStore) Purge(context.Context, time.Time) (int, error) { return 0, nil }

// stack is a SIP server with the proxy on a loopback UDP port, over a fake
// catalog (tenant fjordvik, extensions 100-103) and a real location service.
type stack struct {
	addr   string
	loc    *location.Service
	tenant store.Tenant
	px     *Proxy

	mu     sync.Mutex
	events []DialogEvent
}

func startStack(t *testing.T) *stack { return startStackWith(t, nil) }

// startStackWith is startStack with the proxy's options adjusted by opt.
func startStackWith(t *testing.T, opt func(*Options)) *stack {
	t.Helper()
	log := zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel))
	ten := store.Tenant{Meta: store.Meta{ID: 1}, Name: "fjordvik", Domain: testDomain,
		Ranges: []store.NumberRange{{Kind: store.RangeExtension, First: "100", Last: "199"}}}
	cat := &fakeCatalog{tenants: []store.Tenant{ten}}
	for _, n := range []string{"100", "101", "102", "103"} {
		md5, _ := auth.HA1(auth.MD5, n, testDomain, testPassword)
		sha, _ := auth.HA1(auth.SHA256, n, testDomain, testPassword)
		cat.exts = append(cat.exts, store.Extension{TenantID: 1, Number: n, HA1MD5: md5, HA1SHA256: sha, Enabled: true})
	}
	loc := location.New(nopBindingStore{}, log.Named("location"), location.Options{})
	guard := auth.NewGuard(auth.GuardOptions{MaxFailures: 100})
	srv, err := server.New(server.Options{Listen: []server.Listener{{Network: "udp", Addr: "127.0.0.1:0"}},
		Guard: guard, Log: log.Named("sip")})
	if err != nil {
		t.Fatal(err)
	}
	client, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	s := &stack{addr: srv.Addr("udp"), loc: loc, tenant: ten}
	var ls []Listener
	for _, l := range srv.Listeners() {
		ls = append(ls, Listener{Network: l.Network, Addr: l.Addr})
	}
	o := Options{
		Listeners: ls, Algorithms: []string{auth.SHA256, auth.MD5}, RingTimeout: 10 * time.Second, CancelWait: 3 * time.Second,
		OnDialogState: func(ev DialogEvent) {
			s.mu.Lock()
			s.events = append(s.events, ev)
			s.mu.Unlock()
		},
	}
	if opt != nil {
		opt(&o)
	}
	px, err := New(cat, loc, auth.NewAuthenticator(auth.Options{}), guard, client, log.Named("proxy"), o)
	if err != nil {
		t.Fatal(err)
	}
	s.px = px
	for _, m := range []sip.RequestMethod{sip.INVITE, sip.ACK, sip.CANCEL, sip.BYE, sip.INFO, sip.UPDATE, sip.REFER, sip.MESSAGE} {
		srv.Handle(m, px.ServeSIP)
	}
	testrun.Start(t, srv.Serve, px.Run)
	return s
}

// bind registers a phone's socket for a number directly in the location
// service. The Contact host is unreachable on purpose (like a browser's
// .invalid host or a phone's private address): the proxy must use the
// source the binding came from.
func (s *stack) bind(t *testing.T, number string, ph *phone, q float64) {
	t.Helper()
	b := store.Binding{Contact: fmt.Sprintf("sip:%s@%s.invalid;transport=udp", number, ph.name), Q: q,
		Expires: time.Now().Add(time.Hour), CallID: "reg-" + ph.name, CSeq: 1, Source: ph.addr(), Transport: "udp"}
	if _, err := s.loc.Update(s.tenant.ID, number, []store.Binding{b}, nil); err != nil {
		t.Fatal(err)
	}
}

func (s *stack) dialogEvents() []DialogEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]DialogEvent(nil), s.events...)
}

// phone is a minimal SIP user agent over one UDP socket: enough to place
// and answer calls through the proxy and to see exactly what it receives.
type phone struct {
	t    *testing.T
	name string
	conn *net.UDPConn
	msgs chan received
	seq  int
}

type received struct {
	msg  sip.Message
	from *net.UDPAddr
}

func newPhone(t *testing.T, name string) *phone {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	p := &phone{t: t, name: name, conn: c, msgs: make(chan received, 64)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65535)
		for {
			n, from, err := c.ReadFromUDP(buf)
			if err != nil {
				return
			}
			m, err := sip.ParseMessage(append([]byte(nil), buf[:n]...))
			if err != nil {
				continue // keep-alives and garbage
			}
			select {
			case p.msgs <- received{m, from}:
			default:
			}
		}
	}()
	t.Cleanup(func() { c.Close(); <-done })
	return p
}

func (p *phone) addr() string { return p.conn.LocalAddr().String() }

func (p *phone) sendTo(m sip.Message, addr string) {
	p.t.Helper()
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		p.t.Fatal(err)
	}
	if _, err := p.conn.WriteToUDP([]byte(m.String()), ua); err != nil {
		p.t.Fatal(err)
	}
}

// next waits for a message that match accepts, dropping others
// (retransmissions, 100 Trying).
func (p *phone) next(what string, match func(sip.Message) bool) received {
	p.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case r := <-p.msgs:
			if match(r.msg) {
				return r
			}
		case <-deadline:
			p.t.Fatalf("%s: no %s within 5s", p.name, what)
		}
	}
}

func (p *phone) request(method sip.RequestMethod) (*sip.Request, *net.UDPAddr) {
	p.t.Helper()
	r := p.next(string(method), func(m sip.Message) bool {
		req, ok := m.(*sip.Request)
		return ok && req.Method == method
	})
	return r.msg.(*sip.Request), r.from
}

// final waits for a response to method at or above min.
func (p *phone) response(method sip.RequestMethod, min int) *sip.Response {
	p.t.Helper()
	r := p.next(fmt.Sprintf("%s response >= %d", method, min), func(m sip.Message) bool {
		res, ok := m.(*sip.Response)
		return ok && res.CSeq() != nil && res.CSeq().MethodName == method && res.StatusCode >= min
	})
	return r.msg.(*sip.Response)
}

// invite builds an out-of-dialog INVITE from this phone as from@domain.
func (p *phone) invite(from, to, domain string) *sip.Request {
	p.seq++
	raw := fmt.Sprintf("INVITE sip:%[2]s@%[3]s SIP/2.0\r\n"+
		"Via: SIP/2.0/UDP %[4]s;branch=z9hG4bK-%[5]s-%[6]d;rport\r\n"+
		"Max-Forwards: 70\r\nFrom: <sip:%[1]s@%[3]s>;tag=%[5]s-tag\r\nTo: <sip:%[2]s@%[3]s>\r\n"+
		"Call-ID: call-%[5]s-%[1]s-%[2]s@test\r\nCSeq: %[6]d INVITE\r\nContact: <sip:%[1]s@%[4]s>\r\n"+
		"Content-Type: application/sdp\r\nContent-Length: 0\r\n\r\n",
		from, to, domain, p.addr(), p.name, p.seq)
	m, err := sip.ParseMessage([]byte(raw))
	if err != nil {
		p.t.Fatal(err)
	}
	return m.(*sip.Request)
}

// ackFor is the hop-by-hop ACK for a non-2xx final response.
func ackFor(inv *sip.Request, res *sip.Response) *sip.Request {
	ack := sip.NewRequest(sip.ACK, *inv.Recipient.Clone())
	ack.AppendHeader(inv.Via().Clone())
	mf := sip.MaxForwardsHeader(70)
	ack.AppendHeader(&mf)
	ack.AppendHeader(sip.HeaderClone(inv.From()))
	ack.AppendHeader(sip.HeaderClone(res.To()))
	ack.AppendHeader(sip.HeaderClone(inv.CallID()))
	ack.AppendHeader(&sip.CSeqHeader{SeqNo: inv.CSeq().SeqNo, MethodName: sip.ACK})
	ack.SetBody(nil)
	return ack
}

// authorize answers a 407 to inv: ACK it, then resend with credentials and
// a new CSeq and branch.
func (p *phone) authorize(proxyAddr string, inv *sip.Request, res *sip.Response, user string) *sip.Request {
	p.t.Helper()
	p.sendTo(ackFor(inv, res), proxyAddr)
	h := res.GetHeader("Proxy-Authenticate")
	if h == nil {
		p.t.Fatalf("407 without Proxy-Authenticate: %s", res)
	}
	chal, err := digest.ParseChallenge(h.Value())
	if err != nil {
		p.t.Fatal(err)
	}
	cred, err := digest.Digest(chal, digest.Options{Method: "INVITE", URI: inv.Recipient.String(), Username: user,
		Password: testPassword, Count: 1})
	if err != nil {
		p.t.Fatal(err)
	}
	next := inv.Clone()
	p.seq++
	next.CSeq().SeqNo++
	next.Via().Params.Add("branch", fmt.Sprintf("z9hG4bK-%s-%d", p.name, p.seq))
	next.AppendHeader(sip.NewHeader("Proxy-Authorization", cred.String()))
	return next
}

// call places an authenticated INVITE and returns it as finally sent.
func (p *phone) call(proxyAddr, from, to string) *sip.Request {
	p.t.Helper()
	inv := p.invite(from, to, testDomain)
	p.sendTo(inv, proxyAddr)
	res := p.response(sip.INVITE, 200)
	if res.StatusCode != sip.StatusProxyAuthRequired {
		p.t.Fatalf("unauthenticated INVITE got %d, want 407", res.StatusCode)
	}
	inv = p.authorize(proxyAddr, inv, res, from)
	p.sendTo(inv, proxyAddr)
	return inv
}

// answer sends a response to a request received from the proxy, with one
// To tag per phone so provisional and final responses agree.
func (p *phone) answer(req *sip.Request, from *net.UDPAddr, code int, reason string) *sip.Response {
	p.t.Helper()
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	if code > 100 && req.To() != nil {
		if tag, _ := req.To().Params.Get("tag"); tag == "" {
			res.To().Params.Add("tag", p.name+"-totag")
		}
	}
	if req.IsInvite() && code > 100 && code < 300 {
		res.AppendHeader(sip.NewHeader("Contact", "<sip:callee@"+p.addr()+">"))
	}
	p.sendTo(res, from.String())
	return res
}

// inDialog builds a request inside the dialog a 2xx established, routed
// along its Record-Route (reversed, as the caller sees it).
func (p *phone) inDialog(method sip.RequestMethod, inv *sip.Request, ok *sip.Response, cseq uint32) *sip.Request {
	p.t.Helper()
	contact := ok.Contact()
	if contact == nil {
		p.t.Fatalf("2xx without Contact: %s", ok)
	}
	r := sip.NewRequest(method, *contact.Address.Clone())
	p.seq++
	r.AppendHeader(sip.NewHeader("Via", fmt.Sprintf("SIP/2.0/UDP %s;branch=z9hG4bK-%s-%d;rport", p.addr(), p.name, p.seq)))
	rrs := ok.GetHeaders("Record-Route")
	for i := len(rrs) - 1; i >= 0; i-- {
		r.AppendHeader(sip.NewHeader("Route", rrs[i].Value()))
	}
	mf := sip.MaxForwardsHeader(70)
	r.AppendHeader(&mf)
	r.AppendHeader(sip.HeaderClone(inv.From()))
	r.AppendHeader(sip.HeaderClone(ok.To()))
	r.AppendHeader(sip.HeaderClone(inv.CallID()))
	r.AppendHeader(&sip.CSeqHeader{SeqNo: cseq, MethodName: method})
	r.SetBody(nil)
	return r
}

func hasTag(h *sip.ToHeader) bool {
	_, ok := h.Params.Get("tag")
	return ok
}

func mustContain(t *testing.T, what, s, sub string) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Fatalf("%s: %q does not contain %q", what, s, sub)
	}
}
