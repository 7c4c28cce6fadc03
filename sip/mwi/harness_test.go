package mwi

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/sentralpbx/sentral/sip/auth"
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
	devices map[string]fakeDevice // by AuthUser
}

type fakeDevice struct {
	tenantID int64
	secret   string
	lines    []string
}

func (c *fakeCatalog) TenantByDomain(d string) (store.Tenant, bool) {
	for _, t := range c.tenants {
		if t.Domain == d {
			return t, true
		}
	}
	return store.Tenant{}, false
}

func (c *fakeCatalog) Tenant(id int64) (store.Tenant, bool) {
	for _, t := range c.tenants {
		if t.ID == id {
			return t, true
		}
	}
	return store.Tenant{}, false
}

func (c *fakeCatalog) Extension(tid int64, n string) (store.Extension, bool) {
	for _, e := range c.exts {
		if e.TenantID == tid && e.Number == n {
			return e, true
		}
	}
	return store.Extension{}, false
}

func (c *fakeCatalog) DeviceCredentials(tenantID int64, authUser, number, realm string) (auth.Credentials, bool) {
	d, ok := c.devices[authUser]
	if !ok || d.tenantID != tenantID {
		return auth.Credentials{}, false
	}
	for _, l := range d.lines {
		if l == number {
			md5, _ := auth.HA1(auth.MD5, authUser, realm, d.secret)
			sha, _ := auth.HA1(auth.SHA256, authUser, realm, d.secret)
			return auth.Credentials{HA1MD5: md5, HA1SHA256: sha}, true
		}
	}
	return auth.Credentials{}, false
}

func newFakeCatalog() *fakeCatalog {
	c := &fakeCatalog{
		tenants: []store.Tenant{{Meta: store.Meta{ID: 1}, Name: "fjordvik", Domain: testDomain},
			{Meta: store.Meta{ID: 2}, Name: "other", Domain: "other.test"}},
		devices: map[string]fakeDevice{"yealink-0001": {tenantID: 1, secret: "device-secret", lines: []string{"2101", "2102"}}},
	}
	for _, n := range []string{"2101", "2102", "2103"} {
		md5, _ := auth.HA1(auth.MD5, n, testDomain, testPassword)
		sha, _ := auth.HA1(auth.SHA256, n, testDomain, testPassword)
		c.exts = append(c.exts, store.Extension{TenantID: 1, Number: n, HA1MD5: md5, HA1SHA256: sha, Enabled: true})
	}
	return c
}

type fakeLocations struct {
	mu sync.Mutex
	m  map[string][]store.Binding
}

func (f *fakeLocations) Bindings(tid int64, n string) []store.Binding {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]store.Binding(nil), f.m[fmt.Sprint(tid, "/", n)]...)
}

func (f *fakeLocations) set(tid int64, n string, bs ...store.Binding) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil {
		f.m = map[string][]store.Binding{}
	}
	f.m[fmt.Sprint(tid, "/", n)] = bs
}

type fakeCounts struct {
	mu       sync.Mutex
	m        map[string]store.VoicemailCounts
	reads    int
	allReads int
	fail     error
}

func (f *fakeCounts) Counts(_ context.Context, tid int64, mb string) (int, int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	if f.fail != nil {
		return 0, 0, f.fail
	}
	c := f.m[fmt.Sprint(tid, "/", mb)]
	return c.New, c.Saved, nil
}

func (f *fakeCounts) CountsAll(_ context.Context, tid int64) (map[string]store.VoicemailCounts, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.allReads++
	if f.fail != nil {
		return nil, f.fail
	}
	out := map[string]store.VoicemailCounts{}
	prefix := fmt.Sprint(tid, "/")
	for k, c := range f.m {
		if mb, ok := strings.CutPrefix(k, prefix); ok && (c.New > 0 || c.Saved > 0) {
			out[mb] = c
		}
	}
	return out, nil
}

func (f *fakeCounts) set(tid int64, mb string, nw, saved int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil {
		f.m = map[string]store.VoicemailCounts{}
	}
	f.m[fmt.Sprint(tid, "/", mb)] = store.VoicemailCounts{New: nw, Saved: saved}
}

// clock is a settable time for expiry tests.
type clock struct{ off atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *clock) advance(d time.Duration) { c.off.Add(int64(d)) }
func newClock() *clock                   { return &clock{} }

// stack is a SIP server on a loopback UDP port with the notifier handling
// SUBSCRIBE, over fakes for the catalog, the location service and counts.
type stack struct {
	addr    string // UDP
	tcpAddr string
	n       *Notifier
	cat     *fakeCatalog
	loc     *fakeLocations
	counts  *fakeCounts
	clk     *clock
	// flowAlive is the server's: whether a phone's connection is open.
	flowAlive func(network, addr string) bool
}

func startStack(t *testing.T, tune func(*Options)) *stack {
	t.Helper()
	log := zaptest.NewLogger(t, zaptest.Level(zap.DebugLevel))
	guard := auth.NewGuard(auth.GuardOptions{MaxFailures: 100})
	srv, err := server.New(server.Options{Listen: []server.Listener{{Network: "udp", Addr: "127.0.0.1:0"}, {Network: "tcp", Addr: "127.0.0.1:0"}},
		Guard: guard, Log: log.Named("sip")})
	if err != nil {
		t.Fatal(err)
	}
	client, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	s := &stack{addr: srv.Addr("udp"), tcpAddr: srv.Addr("tcp"), cat: newFakeCatalog(), loc: &fakeLocations{}, counts: &fakeCounts{}, clk: newClock()}
	var ls []Listener
	for _, l := range srv.Listeners() {
		ls = append(ls, Listener{Network: l.Network, Addr: l.Addr})
	}
	opt := Options{Listeners: ls, Algorithms: []string{auth.SHA256, auth.MD5}, SweepInterval: 20 * time.Millisecond,
		NotifyTimeout: 3 * time.Second, Now: s.clk.now, FlowAlive: srv.FlowAlive}
	if tune != nil {
		tune(&opt)
	}
	n, err := New(Deps{Catalog: s.cat, Auth: auth.NewAuthenticator(auth.Options{}), Guard: guard, Locations: s.loc,
		Counts: s.counts, Sender: client, Log: log.Named("mwi")}, opt)
	if err != nil {
		t.Fatal(err)
	}
	s.n = n
	s.flowAlive = srv.FlowAlive
	srv.Handle(sip.SUBSCRIBE, n.ServeSIP)
	testrun.Start(t, srv.Serve, n.Run)
	s.waitServing(t)
	return s
}

// waitServing pings the server until it answers: sipgo cannot send from
// a UDP socket it does not serve yet.
func (s *stack) waitServing(t *testing.T) {
	t.Helper()
	p := newPhone(t, "ping")
	for i := 0; ; i++ {
		raw := fmt.Sprintf("OPTIONS sip:%[1]s SIP/2.0\r\nVia: SIP/2.0/UDP %[2]s;branch=z9hG4bK-ping-%[3]d\r\n"+
			"Max-Forwards: 70\r\nFrom: <sip:ping@test>;tag=p\r\nTo: <sip:%[1]s>\r\nCall-ID: ping-%[3]d\r\n"+
			"CSeq: %[3]d OPTIONS\r\nContent-Length: 0\r\n\r\n", s.addr, p.addr(), i+1)
		m, err := sip.ParseMessage([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		p.sendTo(m, s.addr)
		if _, ok := p.next("OPTIONS response", 100*time.Millisecond, func(m sip.Message) bool {
			_, ok := m.(*sip.Response)
			return ok
		}); ok {
			return
		}
		if i == 50 {
			t.Fatal("SIP server does not answer")
		}
	}
}

// phone is a minimal SIP user agent over one UDP socket, or one TCP
// connection, that shows exactly what it receives.
type phone struct {
	t    *testing.T
	name string
	conn *net.UDPConn
	tcp  net.Conn // set: everything goes over this connection
	msgs chan received
	seq  int
	// lastFrom is where the last NOTIFY came from (UDP).
	lastFrom string
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
				continue
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

// newTCPPhone connects to addr over TCP, as a phone behind NAT does: it
// can be reached only over this connection.
func newTCPPhone(t *testing.T, name, addr string) *phone {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	p := &phone{t: t, name: name, tcp: c, msgs: make(chan received, 64)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		r := bufio.NewReader(c)
		for {
			m, err := readStreamMessage(r)
			if err != nil {
				return
			}
			select {
			case p.msgs <- received{msg: m}:
			default:
			}
		}
	}()
	t.Cleanup(func() { c.Close(); <-done })
	return p
}

// readStreamMessage reads one SIP message from a stream, framed by its
// Content-Length (RFC 3261 §18.3).
func readStreamMessage(r *bufio.Reader) (sip.Message, error) {
	var head strings.Builder
	length := 0
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		if strings.TrimSpace(line) == "" {
			if head.Len() == 0 {
				continue // keep-alive CRLFs
			}
			head.WriteString("\r\n")
			break
		}
		head.WriteString(line)
		if name, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(name), "Content-Length") {
			length, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	body := make([]byte, length)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, err
	}
	return sip.ParseMessage(append([]byte(head.String()), body...))
}

func (p *phone) transport() string {
	if p.tcp != nil {
		return "TCP"
	}
	return "UDP"
}

func (p *phone) addr() string {
	if p.tcp != nil {
		return p.tcp.LocalAddr().String()
	}
	return p.conn.LocalAddr().String()
}

func (p *phone) sendTo(m sip.Message, addr string) {
	p.t.Helper()
	if p.tcp != nil {
		if _, err := p.tcp.Write([]byte(m.String())); err != nil {
			p.t.Fatal(err)
		}
		return
	}
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		p.t.Fatal(err)
	}
	if _, err := p.conn.WriteToUDP([]byte(m.String()), ua); err != nil {
		p.t.Fatal(err)
	}
}

// next waits for a message that match accepts, dropping others
// (retransmissions).
func (p *phone) next(what string, within time.Duration, match func(sip.Message) bool) (received, bool) {
	p.t.Helper()
	deadline := time.After(within)
	for {
		select {
		case r := <-p.msgs:
			if match(r.msg) {
				return r, true
			}
		case <-deadline:
			return received{}, false
		}
	}
}

func (p *phone) response(method sip.RequestMethod) *sip.Response {
	p.t.Helper()
	r, ok := p.next(string(method)+" response", 5*time.Second, func(m sip.Message) bool {
		res, ok := m.(*sip.Response)
		return ok && res.CSeq() != nil && res.CSeq().MethodName == method && res.StatusCode >= 200
	})
	if !ok {
		p.t.Fatalf("%s: no final %s response within 5s", p.name, method)
	}
	return r.msg.(*sip.Response)
}

// notify waits for a NOTIFY and answers it with code.
func (p *phone) notify(code int) *sip.Request {
	p.t.Helper()
	r, ok := p.next("NOTIFY", 5*time.Second, func(m sip.Message) bool {
		req, ok := m.(*sip.Request)
		return ok && req.Method == sip.NOTIFY
	})
	if !ok {
		p.t.Fatalf("%s: no NOTIFY within 5s", p.name)
	}
	req := r.msg.(*sip.Request)
	to := ""
	if r.from != nil {
		to = r.from.String()
	}
	p.lastFrom = to
	p.sendTo(sip.NewResponseFromRequest(req, code, "Answer", nil), to)
	return req
}

// quiet fails if a NOTIFY arrives within d.
func (p *phone) quiet(d time.Duration) {
	p.t.Helper()
	if r, ok := p.next("NOTIFY", d, func(m sip.Message) bool {
		req, ok := m.(*sip.Request)
		return ok && req.Method == sip.NOTIFY
	}); ok {
		p.t.Fatalf("%s: unexpected NOTIFY:\n%s", p.name, r.msg)
	}
}

// dialog is a subscriber's side of one subscription.
type dialog struct {
	p       *phone
	user    string // digest username
	pass    string
	mailbox string
	domain  string
	event   string
	callID  string
	fromTag string
	toTag   string
	cseq    int
}

func (p *phone) dialog(user, mailbox string) *dialog {
	p.seq++
	return &dialog{p: p, user: user, pass: testPassword, mailbox: mailbox, domain: testDomain, event: "message-summary",
		callID: fmt.Sprintf("sub-%s-%d@test", p.name, p.seq), fromTag: fmt.Sprintf("%s-%d", p.name, p.seq)}
}

func (d *dialog) request(expires int, authz string) *sip.Request {
	d.p.t.Helper()
	d.cseq++
	d.p.seq++
	toTag := ""
	if d.toTag != "" {
		toTag = ";tag=" + d.toTag
	}
	extra := ""
	if authz != "" {
		extra = "Authorization: " + authz + "\r\n"
	}
	raw := fmt.Sprintf("SUBSCRIBE sip:%[1]s@%[2]s SIP/2.0\r\n"+
		"Via: SIP/2.0/%[14]s %[3]s;branch=z9hG4bK-%[4]s-%[5]d;rport\r\n"+
		"Max-Forwards: 70\r\nFrom: <sip:%[6]s@%[2]s>;tag=%[7]s\r\nTo: <sip:%[1]s@%[2]s>%[8]s\r\n"+
		"Call-ID: %[9]s\r\nCSeq: %[10]d SUBSCRIBE\r\nContact: <sip:%[6]s@%[3]s>\r\n"+
		"Event: %[11]s\r\nAccept: application/simple-message-summary\r\nExpires: %[12]d\r\n%[13]s"+
		"Content-Length: 0\r\n\r\n",
		d.mailbox, d.domain, d.p.addr(), d.p.name, d.p.seq, d.mailbox, d.fromTag, toTag,
		d.callID, d.cseq, d.event, expires, extra, d.p.transport())
	m, err := sip.ParseMessage([]byte(raw))
	if err != nil {
		d.p.t.Fatal(err)
	}
	return m.(*sip.Request)
}

// send sends a SUBSCRIBE and returns the final response.
func (d *dialog) send(to string, expires int, authz string) *sip.Response {
	d.p.t.Helper()
	d.p.sendTo(d.request(expires, authz), to)
	return d.p.response(sip.SUBSCRIBE)
}

// answer computes the Authorization for a 401's first challenge.
func (d *dialog) answer(res *sip.Response) string {
	d.p.t.Helper()
	h := res.GetHeader("WWW-Authenticate")
	if h == nil {
		d.p.t.Fatalf("401 without WWW-Authenticate:\n%s", res)
	}
	chal, err := digest.ParseChallenge(h.Value())
	if err != nil {
		d.p.t.Fatal(err)
	}
	cred, err := digest.Digest(chal, digest.Options{Method: "SUBSCRIBE", URI: "sip:" + d.mailbox + "@" + d.domain,
		Username: d.user, Password: d.pass, Count: 1})
	if err != nil {
		d.p.t.Fatal(err)
	}
	return cred.String()
}

// subscribe runs the challenge exchange and returns the final response to
// the authenticated SUBSCRIBE; on 2xx the dialog takes its To tag.
func (d *dialog) subscribe(to string, expires int) *sip.Response {
	d.p.t.Helper()
	res := d.send(to, expires, "")
	if res.StatusCode != sip.StatusUnauthorized {
		return res
	}
	res = d.send(to, expires, d.answer(res))
	if res.StatusCode/100 == 2 {
		d.toTag, _ = res.To().Params.Get("tag")
	}
	return res
}

func header(t *testing.T, m interface{ GetHeader(string) sip.Header }, name string) string {
	t.Helper()
	h := m.GetHeader(name)
	if h == nil {
		t.Fatalf("no %s header in\n%s", name, m)
	}
	return h.Value()
}

func mustContain(t *testing.T, what, s, sub string) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Fatalf("%s: %q does not contain %q", what, s, sub)
	}
}

// eventually polls cond for up to 5 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
