package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/icholy/digest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/sentralpbx/sentral/sip/auth"
	"github.com/sentralpbx/sentral/sip/location"
	"github.com/sentralpbx/sentral/sip/registrar"
	"github.com/sentralpbx/sentral/sip/server"
	"github.com/sentralpbx/sentral/store"
	"github.com/sentralpbx/sentral/test/testrun"
)

// flowWait bounds every wait in the flow tests.
const flowWait = 5 * time.Second

// TestCalleeReachedOverItsFlow: a phone behind NAT (or a browser) opens a
// connection to us from an ephemeral port, listens nowhere, and registers a
// Contact whose host cannot be reached (.invalid). A call to it must come
// down the connection it registered on, and so must the ACK and BYE
// (RFC 5626 style flows; DESIGN.md on browser clients).
func TestCalleeReachedOverItsFlow(t *testing.T) {
	for _, network := range []string{"tcp", "ws"} {
		t.Run(network, func(t *testing.T) {
			s, srv := startFlowStack(t, network)
			callee := dialStreamPhone(t, network, srv.Addr(network), "abcd1234")
			contact := callee.register("101")
			bs := s.loc.Bindings(s.tenant.ID, "101")
			if want := network + ":" + callee.conn.LocalAddr().String(); len(bs) != 1 || bs[0].Flow != want {
				t.Fatalf("bindings %+v, want one with flow %s", bs, want)
			}

			caller := newPhone(t, "caller")
			inv := caller.call(s.addr, "100", "101")

			in := callee.request(sip.INVITE)
			mustContain(t, "request-uri", in.Recipient.String(), "abcd1234.invalid")
			if v := in.Via(); v == nil || !strings.EqualFold(v.Transport, network) {
				t.Fatalf("INVITE's top Via %v, want transport %s", v, network)
			}
			callee.answer(in, 180, "Ringing", "")
			if res := caller.response(sip.INVITE, 180); res.StatusCode != 180 {
				t.Fatalf("caller got %d, want 180", res.StatusCode)
			}
			callee.answer(in, 200, "OK", contact)
			ok := caller.response(sip.INVITE, 200)
			if ok.StatusCode != 200 || !hasTag(ok.To()) {
				t.Fatalf("caller got %s", ok.StartLine())
			}

			caller.sendTo(caller.inDialog(sip.ACK, inv, ok, inv.CSeq().SeqNo), s.addr)
			ack := callee.request(sip.ACK)
			if ack.CSeq().SeqNo != inv.CSeq().SeqNo {
				t.Fatalf("ACK with CSeq %d, want %d", ack.CSeq().SeqNo, inv.CSeq().SeqNo)
			}

			caller.sendTo(caller.inDialog(sip.BYE, inv, ok, inv.CSeq().SeqNo+1), s.addr)
			bye := callee.request(sip.BYE)
			callee.answer(bye, 200, "OK", "")
			if res := caller.response(sip.BYE, 200); res.StatusCode != 200 {
				t.Fatalf("BYE answered %d", res.StatusCode)
			}
			callee.noError()
		})
	}
}

// startFlowStack is startStack with a registrar and a listener for network
// besides UDP; callers still use the UDP address in stack.addr.
func startFlowStack(t *testing.T, network string) (*stack, *server.Server) {
	t.Helper()
	log := zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel))
	ten := store.Tenant{Meta: store.Meta{ID: 1}, Name: "fjordvik", Domain: testDomain,
		Ranges: []store.NumberRange{{Kind: store.RangeExtension, First: "100", Last: "199"}}}
	cat := &fakeCatalog{tenants: []store.Tenant{ten}}
	for _, n := range []string{"100", "101"} {
		md5, _ := auth.HA1(auth.MD5, n, testDomain, testPassword)
		sha, _ := auth.HA1(auth.SHA256, n, testDomain, testPassword)
		cat.exts = append(cat.exts, store.Extension{TenantID: 1, Number: n, HA1MD5: md5, HA1SHA256: sha, Enabled: true})
	}
	loc := location.New(nopBindingStore{}, log.Named("location"), location.Options{})
	guard := auth.NewGuard(auth.GuardOptions{MaxFailures: 100})
	srv, err := server.New(server.Options{Listen: []server.Listener{
		{Network: "udp", Addr: "127.0.0.1:0"}, {Network: network, Addr: "127.0.0.1:0"},
	}, Guard: guard, Log: log.Named("sip")})
	if err != nil {
		t.Fatal(err)
	}
	client, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	var ls []Listener
	for _, l := range srv.Listeners() {
		ls = append(ls, Listener{Network: l.Network, Addr: l.Addr})
	}
	authn := auth.NewAuthenticator(auth.Options{})
	px, err := New(cat, loc, authn, guard, client, log.Named("proxy"), Options{
		Listeners: ls, Algorithms: []string{auth.SHA256, auth.MD5}, RingTimeout: 10 * time.Second, CancelWait: 3 * time.Second,
		FlowAlive: srv.FlowAlive,
	})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := registrar.New(cat, authn, guard, loc, log.Named("registrar"), registrar.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv.Handle(sip.REGISTER, reg.ServeSIP)
	for _, m := range []sip.RequestMethod{sip.INVITE, sip.ACK, sip.CANCEL, sip.BYE} {
		srv.Handle(m, px.ServeSIP)
	}
	testrun.Start(t, srv.Serve, px.Run)
	return &stack{addr: srv.Addr("udp"), loc: loc, tenant: ten}, srv
}

// streamPhone is a client on a connection transport (TCP, or WebSocket as
// browsers use): it dials the server from an ephemeral port and binds no
// port of its own, so every message it receives came over that one
// connection.
type streamPhone struct {
	t       *testing.T
	name    string // the random host of its .invalid Contact
	network string
	conn    net.Conn
	write   func([]byte) error
	msgs    chan sip.Message
	failed  chan error // the reader's reason for stopping early
	seq     int
	callID  string
}

func dialStreamPhone(t *testing.T, network, addr, name string) *streamPhone {
	t.Helper()
	p := &streamPhone{t: t, name: name, network: network, msgs: make(chan sip.Message, 64),
		failed: make(chan error, 1), callID: "reg-" + name + "@test"}
	var read func() error
	switch network {
	case "tcp":
		c, err := net.DialTimeout("tcp", addr, flowWait)
		if err != nil {
			t.Fatal(err)
		}
		p.conn = c
		p.write = func(b []byte) error { _, err := c.Write(b); return err }
		read = func() error { return p.readStream(c) }
	case "ws":
		ctx, cancel := context.WithTimeout(context.Background(), flowWait)
		defer cancel()
		c, br, hs, err := ws.Dialer{Protocols: []string{"sip"}}.Dial(ctx, "ws://"+addr)
		if err != nil {
			t.Fatal(err)
		}
		if hs.Protocol != "sip" {
			c.Close()
			t.Fatalf("websocket subprotocol %q, want sip", hs.Protocol)
		}
		p.conn = c
		var r io.Reader = c
		if br != nil {
			r = io.MultiReader(br, c)
		}
		// The reader would answer a ping by writing (sipgo sends none);
		// one lock keeps those writes out of the middle of our frames.
		var mu sync.Mutex
		w := writerFunc(func(b []byte) (int, error) {
			mu.Lock()
			defer mu.Unlock()
			return c.Write(b)
		})
		p.write = func(b []byte) error {
			mu.Lock()
			defer mu.Unlock()
			return wsutil.WriteClientText(c, b)
		}
		read = func() error {
			return p.readFrames(struct {
				io.Reader
				io.Writer
			}{r, w})
		}
	default:
		t.Fatalf("no stream phone for %s", network)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := read(); err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, io.EOF) {
			p.failed <- err
		}
	}()
	t.Cleanup(func() { p.conn.Close(); <-done })
	return p
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// readStream frames TCP by Content-Length with sipgo's stream parser.
func (p *streamPhone) readStream(c net.Conn) error {
	par := sip.NewParser().NewSIPStream()
	defer par.Close()
	buf := make([]byte, 65535)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return err
		}
		if _, err := par.Write(buf[:n]); err != nil {
			return err
		}
		// Like sipgo's own ParseSIPStream: parse while bytes are buffered;
		// an incomplete message waits for the next read.
		for par.Buffer().Len() > 0 {
			m, _, err := par.ParseNext()
			if errors.Is(err, io.ErrUnexpectedEOF) {
				break
			}
			if err != nil {
				return fmt.Errorf("parse stream: %w", err)
			}
			p.deliver(m)
		}
	}
}

// readFrames takes one SIP message per WebSocket frame (RFC 7118 §5).
func (p *streamPhone) readFrames(rw io.ReadWriter) error {
	for {
		data, op, err := wsutil.ReadServerData(rw)
		if err != nil {
			return err
		}
		if op != ws.OpText && op != ws.OpBinary {
			continue
		}
		m, err := sip.ParseMessage(data)
		if err != nil {
			return fmt.Errorf("parse frame %q: %w", data, err)
		}
		p.deliver(m)
	}
}

func (p *streamPhone) deliver(m sip.Message) {
	select {
	case p.msgs <- m:
	default:
	}
}

func (p *streamPhone) send(m sip.Message) {
	p.t.Helper()
	if err := p.write([]byte(m.String())); err != nil {
		p.t.Fatalf("%s: send: %v", p.name, err)
	}
}

// next waits for a message match accepts, dropping others.
func (p *streamPhone) next(what string, match func(sip.Message) bool) sip.Message {
	p.t.Helper()
	deadline := time.After(flowWait)
	for {
		select {
		case m := <-p.msgs:
			if match(m) {
				return m
			}
		case err := <-p.failed:
			p.t.Fatalf("%s: connection failed waiting for %s: %v", p.name, what, err)
		case <-deadline:
			p.t.Fatalf("%s: no %s on its %s connection within %s", p.name, what, p.network, flowWait)
		}
	}
}

func (p *streamPhone) request(method sip.RequestMethod) *sip.Request {
	p.t.Helper()
	return p.next(string(method), func(m sip.Message) bool {
		req, ok := m.(*sip.Request)
		return ok && req.Method == method
	}).(*sip.Request)
}

func (p *streamPhone) response(method sip.RequestMethod, min int) *sip.Response {
	p.t.Helper()
	return p.next(fmt.Sprintf("%s response >= %d", method, min), func(m sip.Message) bool {
		res, ok := m.(*sip.Response)
		return ok && res.CSeq() != nil && res.CSeq().MethodName == method && res.StatusCode >= min
	}).(*sip.Response)
}

// noError fails the test if the connection broke.
func (p *streamPhone) noError() {
	p.t.Helper()
	select {
	case err := <-p.failed:
		p.t.Fatalf("%s: connection failed: %v", p.name, err)
	default:
	}
}

// register binds number to a Contact on an .invalid host, answering the
// digest challenge like JsSIP does, and returns the Contact.
func (p *streamPhone) register(number string) string {
	p.t.Helper()
	contact := fmt.Sprintf("<sip:%s@%s.invalid;transport=%s>", number, p.name, p.network)
	build := func(authz string) *sip.Request {
		p.seq++
		raw := fmt.Sprintf("REGISTER sip:%[2]s SIP/2.0\r\n"+
			"Via: SIP/2.0/%[3]s %[4]s.invalid;branch=z9hG4bK-%[4]s-%[5]d\r\n"+
			"Max-Forwards: 70\r\nFrom: <sip:%[1]s@%[2]s>;tag=%[4]s-reg\r\nTo: <sip:%[1]s@%[2]s>\r\n"+
			"Call-ID: %[6]s\r\nCSeq: %[5]d REGISTER\r\nContact: %[7]s\r\nExpires: 600\r\n",
			number, testDomain, strings.ToUpper(p.network), p.name, p.seq, p.callID, contact)
		if authz != "" {
			raw += "Authorization: " + authz + "\r\n"
		}
		m, err := sip.ParseMessage([]byte(raw + "Content-Length: 0\r\n\r\n"))
		if err != nil {
			p.t.Fatal(err)
		}
		return m.(*sip.Request)
	}
	req := build("")
	p.send(req)
	res := p.response(sip.REGISTER, 200)
	if res.StatusCode != sip.StatusUnauthorized {
		p.t.Fatalf("unauthenticated REGISTER got %d, want 401", res.StatusCode)
	}
	h := res.GetHeader("WWW-Authenticate")
	if h == nil {
		p.t.Fatalf("401 without WWW-Authenticate: %s", res)
	}
	chal, err := digest.ParseChallenge(h.Value())
	if err != nil {
		p.t.Fatal(err)
	}
	cred, err := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: req.Recipient.String(), Username: number,
		Password: testPassword, Count: 1})
	if err != nil {
		p.t.Fatal(err)
	}
	p.send(build(cred.String()))
	if res := p.response(sip.REGISTER, 200); res.StatusCode != 200 {
		p.t.Fatalf("REGISTER got %d %s, want 200", res.StatusCode, res.Reason)
	}
	return contact
}

// answer responds to a request that came down the connection, on the same
// connection; contact, if set, goes into the response.
func (p *streamPhone) answer(req *sip.Request, code int, reason, contact string) {
	p.t.Helper()
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	if code > 100 && req.To() != nil && !hasTag(req.To()) {
		res.To().Params.Add("tag", p.name+"-totag")
	}
	if contact != "" {
		res.AppendHeader(sip.NewHeader("Contact", contact))
	}
	p.send(res)
}

// A callee whose connection has closed is unreachable: the caller gets 480
// at once, and nothing dials the callee's old address (a phone behind NAT
// or a browser could never accept that connection, and the caller would
// wait for the dial to time out).
func TestGoneFlowIsNotRedialled(t *testing.T) {
	s, srv := startFlowStack(t, "tcp")
	callee := dialStreamPhone(t, "tcp", srv.Addr("tcp"), "abcd1234")
	callee.register("101")
	laddr := callee.conn.LocalAddr().String()
	// Reset rather than close, so the old port can be listened on at once.
	if err := callee.conn.(*net.TCPConn).SetLinger(0); err != nil {
		t.Fatal(err)
	}
	callee.conn.Close()
	deadline := time.Now().Add(5 * time.Second)
	for srv.FlowAlive("tcp", laddr) {
		if time.Now().After(deadline) {
			t.Fatal("the server still holds the closed connection after 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Stand in for the callee's address: a dial would land here.
	ln, err := net.Listen("tcp", laddr)
	if err != nil {
		t.Fatalf("listen on the old address %s: %v", laddr, err)
	}
	defer ln.Close()
	dialled := make(chan struct{}, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			dialled <- struct{}{}
			c.Close()
		}
	}()

	caller := newPhone(t, "caller")
	caller.call(s.addr, "100", "101")
	start := time.Now()
	res := caller.response(sip.INVITE, 480)
	if res.StatusCode != sip.StatusTemporarilyUnavailable {
		t.Fatalf("caller got %d, want 480", res.StatusCode)
	}
	t.Logf("480 after %s", time.Since(start))
	select {
	case <-dialled:
		t.Fatal("the proxy dialled the closed flow's address")
	case <-time.After(300 * time.Millisecond):
	}
}
