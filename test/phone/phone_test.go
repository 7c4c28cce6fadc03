package phone_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/sentralpbx/sentral/media/codec"
	"github.com/sentralpbx/sentral/test/phone"
)

const testTimeout = 30 * time.Second

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

func newPhone(t *testing.T, ctx context.Context, opt phone.Options) *phone.Phone {
	t.Helper()
	opt.Log = zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel)).Named(opt.User)
	p, err := phone.New(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// pair returns a caller whose "proxy" is the callee's own socket, so calls
// go phone to phone without a server.
func pair(t *testing.T, ctx context.Context, calleeCodecs ...string) (caller, callee *phone.Phone) {
	t.Helper()
	callee = newPhone(t, ctx, phone.Options{User: "bob", Domain: "phones.test", Codecs: calleeCodecs})
	caller = newPhone(t, ctx, phone.Options{User: "alice", Password: "secret", Domain: "phones.test",
		Proxy: callee.Addr().String()})
	return caller, callee
}

// connect places a call from a to b and has b answer it.
func connect(t *testing.T, ctx context.Context, a, b *phone.Phone) (out, in *phone.Call) {
	t.Helper()
	answered := make(chan error, 1)
	var inCall *phone.Call
	go func() {
		select {
		case c := <-b.Incoming():
			inCall = c
			answered <- c.Answer(ctx)
		case <-ctx.Done():
			answered <- ctx.Err()
		}
	}()
	out, err := a.Call(ctx, "bob")
	if err != nil {
		t.Fatalf("call: %v", err)
	}
	if err := <-answered; err != nil {
		t.Fatalf("answer: %v", err)
	}
	return out, inCall
}

func sine(n int, freq, amp float64) []int16 {
	s := make([]int16, n)
	for i := range s {
		s[i] = int16(amp * math.Sin(2*math.Pi*freq*float64(i)/codec.ClockRate))
	}
	return s
}

func eventually(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func waitDone(t *testing.T, ctx context.Context, what string, c *phone.Call) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: call did not end", what)
	case <-ctx.Done():
		t.Fatalf("%s: %v", what, ctx.Err())
	}
}

// sendAndCheck sends signal from one call and checks the other received
// exactly what the sender's codec made of it. The receiver may have lost
// up to three leading packets before its endpoint latched.
func sendAndCheck(t *testing.T, ctx context.Context, from, to *phone.Call, signal []int16, cdc codec.Codec) {
	t.Helper()
	sent0, recv0 := len(from.Sent()), len(to.Received())
	if err := from.SendAudio(ctx, signal); err != nil {
		t.Fatalf("send audio: %v", err)
	}
	sent := from.Sent()[sent0:]
	if want := cdc.Decode(cdc.Encode(signal, nil), nil); !slices.Equal(sent, want) {
		t.Fatalf("Sent() is not the %s round trip of the signal", cdc)
	}
	deadline := time.Now().Add(2 * time.Second)
	for len(to.Received())-recv0 < len(sent) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	got := to.Received()[recv0:]
	const frame = 160
	for skip := 0; skip <= 3*frame; skip += frame {
		if slices.Equal(got, sent[skip:]) {
			if skip > 0 {
				t.Logf("%d leading packets lost before latching", skip/frame)
			}
			return
		}
	}
	t.Fatalf("received %d samples, sent %d: not the same audio (first received %v, first sent %v)",
		len(got), len(sent), head(got), head(sent))
}

func head(s []int16) []int16 { return s[:min(len(s), 8)] }

func TestCallAudioDTMFHoldHangup(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	a, b := pair(t, ctx)
	out, in := connect(t, ctx, a, b)
	if out.Codec() != codec.PCMU || in.Codec() != codec.PCMU {
		t.Fatalf("codecs %s/%s, want PCMU both ways", out.Codec(), in.Codec())
	}

	// Audio both ways: caller to callee, then back.
	sendAndCheck(t, ctx, out, in, sine(8000, 440, 8000), codec.PCMU)
	sendAndCheck(t, ctx, in, out, sine(4000, 1000, 12000), codec.PCMU)

	// DTMF by RFC 4733 and by INFO, from either side of the dialog.
	if err := out.SendDTMF(ctx, "19*#"); err != nil {
		t.Fatal(err)
	}
	if err := out.SendINFO(ctx, '5'); err != nil {
		t.Fatal(err)
	}
	eventually(t, ctx, "callee digits 19*#5", func() bool { return in.Digits() == "19*#5" })
	if err := in.SendINFO(ctx, 'A'); err != nil {
		t.Fatal(err)
	}
	if err := in.SendDTMF(ctx, "0"); err != nil {
		t.Fatal(err)
	}
	eventually(t, ctx, "caller digits A0", func() bool { return out.Digits() == "A0" })

	// Hold makes the callee recvonly: it may not send until resumed.
	if err := out.Hold(ctx, true); err != nil {
		t.Fatalf("hold: %v", err)
	}
	if err := in.SendAudio(ctx, sine(160, 440, 8000)); !errors.Is(err, phone.ErrNotSending) {
		t.Fatalf("callee sending while held: %v, want ErrNotSending", err)
	}
	if err := out.Hold(ctx, false); err != nil {
		t.Fatalf("resume: %v", err)
	}
	sendAndCheck(t, ctx, in, out, sine(1600, 700, 8000), codec.PCMU)

	// The callee phone does not transfer, but the REFER must reach its dialog.
	var se phone.StatusError
	if err := out.Refer(ctx, "carol"); !errors.As(err, &se) || se.Code != sip.StatusNotImplemented {
		t.Fatalf("refer: %v, want 501 from the phone", err)
	}

	if s, r := out.Packets(); s < 50+1 || r < 25+10+8 { // audio and telephone-event packets
		t.Fatalf("caller packets sent %d received %d", s, r)
	}
	if err := out.Hangup(ctx); err != nil {
		t.Fatalf("hangup: %v", err)
	}
	waitDone(t, ctx, "caller", out)
	waitDone(t, ctx, "callee", in)
}

func TestCalleeHangsUp(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	a, b := pair(t, ctx)
	out, in := connect(t, ctx, a, b)
	if err := in.Hangup(ctx); err != nil {
		t.Fatalf("hangup: %v", err)
	}
	waitDone(t, ctx, "callee", in)
	waitDone(t, ctx, "caller", out)
	if err := out.SendINFO(ctx, '1'); err == nil {
		t.Fatal("INFO on an ended call succeeded")
	}
}

func TestPCMA(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	a, b := pair(t, ctx, "PCMA")
	out, in := connect(t, ctx, a, b)
	if out.Codec() != codec.PCMA || in.Codec() != codec.PCMA {
		t.Fatalf("codecs %s/%s, want PCMA both ways", out.Codec(), in.Codec())
	}
	sendAndCheck(t, ctx, out, in, sine(4000, 440, 20000), codec.PCMA)
	if err := out.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	waitDone(t, ctx, "callee", in)
}

func TestReject(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	a, b := pair(t, ctx)
	rejected := make(chan *phone.Call, 1)
	go func() {
		select {
		case c := <-b.Incoming():
			if err := c.Reject(sip.StatusBusyHere, "Busy Here"); err != nil {
				t.Errorf("reject: %v", err)
			}
			rejected <- c
		case <-ctx.Done():
		}
	}()
	_, err := a.Call(ctx, "bob")
	var se phone.StatusError
	if !errors.As(err, &se) || se.Code != sip.StatusBusyHere {
		t.Fatalf("call: %v, want StatusError 486", err)
	}
	select {
	case c := <-rejected:
		waitDone(t, ctx, "callee", c)
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
}

func TestCancel(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	a, b := pair(t, ctx)
	callCtx, cancel := context.WithCancel(ctx)
	ringing := make(chan *phone.Call, 1)
	go func() {
		select {
		case c := <-b.Incoming():
			ringing <- c
			cancel()
		case <-ctx.Done():
		}
	}()
	_, err := a.Call(callCtx, "bob")
	var se phone.StatusError
	if !errors.Is(err, context.Canceled) || !errors.As(err, &se) || se.Code != sip.StatusRequestTerminated {
		t.Fatalf("cancelled call: %v, want context.Canceled and 487", err)
	}
	waitDone(t, ctx, "callee", <-ringing)
}

// fakeServer is a registrar and presence server in a few lines: it
// challenges REGISTER with 401, SUBSCRIBE and INVITE with 407, checks the
// digest, and follows an accepted SUBSCRIBE with a NOTIFY.
type fakeServer struct {
	t      *testing.T
	addr   string
	client *sipgo.Client
	chal   *digest.Challenge

	mu       sync.Mutex
	contacts []string // Contact of each accepted REGISTER
	subTags  []bool   // whether each accepted SUBSCRIBE was in-dialog
}

const (
	fakeUser     = "alice"
	fakePassword = "secret"
)

func startFake(t *testing.T) *fakeServer {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(quiet)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(quiet)))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeServer{t: t, addr: conn.LocalAddr().String(),
		chal: &digest.Challenge{Realm: "phones.test", Nonce: "n0nce", Algorithm: "MD5", QOP: []string{"auth"}}}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	f.client, err = sipgo.NewClient(ua, sipgo.WithClientLogger(quiet), sipgo.WithClientConnectionAddr(f.addr))
	if err != nil {
		t.Fatal(err)
	}
	srv.OnRegister(f.onRegister)
	srv.OnSubscribe(f.onSubscribe)
	srv.OnInvite(f.onInvite)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.ServeUDP(conn)
	}()
	for i := 0; ; i++ {
		if c, err := ua.TransportLayer().GetConnection("udp", f.addr); err == nil {
			c.TryClose()
			break
		}
		if i == 200 {
			t.Fatal("fake server did not start")
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Cleanup(func() {
		conn.Close()
		ua.Close()
		<-done
	})
	return f
}

// check answers req with a challenge, 403 or nothing (authorized).
func (f *fakeServer) check(req *sip.Request, tx sip.ServerTransaction, code int) bool {
	ask, answer := "WWW-Authenticate", "Authorization"
	if code == sip.StatusProxyAuthRequired {
		ask, answer = "Proxy-Authenticate", "Proxy-Authorization"
	}
	h := req.GetHeader(answer)
	if h == nil {
		res := sip.NewResponseFromRequest(req, code, "Authenticate", nil)
		res.AppendHeader(sip.NewHeader(ask, f.chal.String()))
		_ = tx.Respond(res)
		return false
	}
	cred, err := digest.ParseCredentials(h.Value())
	ok := err == nil && cred.Username == fakeUser && cred.URI == req.Recipient.String()
	if ok {
		want, err := digest.Digest(f.chal, digest.Options{Method: string(req.Method), URI: cred.URI,
			Username: fakeUser, Password: fakePassword, Cnonce: cred.Cnonce, Count: cred.Nc})
		ok = err == nil && want.Response == cred.Response
	}
	if !ok {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusForbidden, "Forbidden", nil))
	}
	return ok
}

func (f *fakeServer) onRegister(req *sip.Request, tx sip.ServerTransaction) {
	if !f.check(req, tx, sip.StatusUnauthorized) {
		return
	}
	f.mu.Lock()
	f.contacts = append(f.contacts, req.Contact().Address.String())
	f.mu.Unlock()
	res := sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil)
	res.AppendHeader(sip.HeaderClone(req.Contact()))
	_ = tx.Respond(res)
}

func (f *fakeServer) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if !f.check(req, tx, sip.StatusProxyAuthRequired) {
		return
	}
	_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusBusyHere, "Busy Here", nil))
}

func (f *fakeServer) onSubscribe(req *sip.Request, tx sip.ServerTransaction) {
	if !f.check(req, tx, sip.StatusProxyAuthRequired) {
		return
	}
	f.mu.Lock()
	f.subTags = append(f.subTags, req.To().Params.Has("tag"))
	n := len(f.subTags)
	f.mu.Unlock()
	res := sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil)
	exp := sip.ExpiresHeader(60)
	res.AppendHeader(&exp)
	if err := tx.Respond(res); err != nil {
		f.t.Errorf("fake: 200 to SUBSCRIBE: %v", err)
		return
	}
	toTag, _ := res.To().Params.Get("tag")

	notify := sip.NewRequest(sip.NOTIFY, *req.Contact().Address.Clone())
	from := sip.FromHeader{Address: req.To().Address, Params: sip.NewParams()}
	from.Params.Add("tag", toTag)
	notify.AppendHeader(&from)
	to := req.From().AsTo()
	notify.AppendHeader(&to)
	notify.AppendHeader(sip.HeaderClone(req.CallID()))
	notify.AppendHeader(&sip.CSeqHeader{SeqNo: uint32(n), MethodName: sip.NOTIFY})
	notify.AppendHeader(sip.NewHeader("Event", "message-summary"))
	notify.AppendHeader(sip.NewHeader("Subscription-State", "active;expires=60"))
	ct := sip.ContentTypeHeader("application/simple-message-summary")
	notify.AppendHeader(&ct)
	notify.SetBody(fmt.Appendf(nil, "Messages-Waiting: yes\r\nVoice-Message: %d/0\r\n", n))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	nres, err := f.client.Do(ctx, notify)
	if err != nil || nres.StatusCode != sip.StatusOK {
		f.t.Errorf("fake: NOTIFY: %v %v", nres, err)
	}
}

func TestRegisterSubscribeAuth(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	f := startFake(t)
	p := newPhone(t, ctx, phone.Options{User: fakeUser, Password: fakePassword, Domain: "phones.test", Proxy: f.addr})

	if err := p.Register(ctx, time.Hour); err != nil {
		t.Fatalf("register: %v", err)
	}
	if err := p.Register(ctx, time.Hour); err != nil {
		t.Fatalf("re-register: %v", err)
	}
	f.mu.Lock()
	contacts := slices.Clone(f.contacts)
	f.mu.Unlock()
	want := fmt.Sprintf("sip:%s@%s", fakeUser, p.Addr())
	if len(contacts) != 2 || contacts[0] != want {
		t.Fatalf("registered contacts %v, want %s twice", contacts, want)
	}

	for i := 1; i <= 2; i++ {
		if err := p.Subscribe(ctx, "message-summary", time.Minute); err != nil {
			t.Fatalf("subscribe %d: %v", i, err)
		}
		select {
		case n := <-p.Notifies():
			if body := string(n.Body()); !strings.Contains(body, fmt.Sprintf("Voice-Message: %d/0", i)) {
				t.Fatalf("NOTIFY %d body %q", i, body)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no NOTIFY %d", i)
		}
	}
	f.mu.Lock()
	tags := slices.Clone(f.subTags)
	f.mu.Unlock()
	if !slices.Equal(tags, []bool{false, true}) {
		t.Fatalf("SUBSCRIBE To tags %v: the refresh must be in the dialog", tags)
	}

	// INVITE: 407, then the server's own answer.
	_, err := p.Call(ctx, "bob")
	var se phone.StatusError
	if !errors.As(err, &se) || se.Code != sip.StatusBusyHere {
		t.Fatalf("call: %v, want 486 after authenticating", err)
	}

	bad := newPhone(t, ctx, phone.Options{User: fakeUser, Password: "wrong", Domain: "phones.test", Proxy: f.addr})
	if err := bad.Register(ctx, time.Hour); !errors.As(err, &se) || se.Code != sip.StatusForbidden {
		t.Fatalf("register with a wrong password: %v, want 403", err)
	}
}
