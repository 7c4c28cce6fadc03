package mediaserver_test

import (
	"context"
	"errors"
	"math"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/sentralpbx/sentral/media/mediaserver"
	mst "github.com/sentralpbx/sentral/media/mediaserver/mediaservertest"
	"github.com/sentralpbx/sentral/media/rtp"
	"github.com/sentralpbx/sentral/media/sdp"
)

var loopback = netip.MustParseAddr("127.0.0.1")

// nextRange hands each test its own RTP port ranges, so parallel tests
// and packages rarely meet (a busy port is skipped anyway).
var nextRange atomic.Int32

func ports(t *testing.T) (server, phone *rtp.Ports) {
	t.Helper()
	base := 45000 + 40*int(nextRange.Add(1))
	s, err := rtp.NewPorts(loopback, base, base+19)
	if err != nil {
		t.Fatal(err)
	}
	p, err := rtp.NewPorts(loopback, base+20, base+39)
	if err != nil {
		t.Fatal(err)
	}
	return s, p
}

func tone(d time.Duration, hz float64) []int16 {
	n := int(d.Seconds() * 8000)
	s := make([]int16, n)
	for i := range s {
		s[i] = int16(8000 * math.Sin(2*math.Pi*hz*float64(i)/8000))
	}
	return s
}

// result is what the test application saw.
type result struct {
	digits         string
	err            error
	tenant, box    string
	number, name   string
	codec          string
	endedByContext bool
}

// testApp plays a tone, reads keys up to '#', reports, then waits for the
// caller to hang up, or hangs up itself when the URI says hangup=1.
type testApp struct {
	results chan result
	ended   chan error
}

func newTestApp() *testApp {
	return &testApp{results: make(chan result, 4), ended: make(chan error, 4)}
}

func (a *testApp) Serve(ctx context.Context, s *mediaserver.Session) {
	r := result{tenant: s.Param("tenant"), box: s.Param("MAILBOX"), codec: s.Codec().Name()}
	r.number, r.name = s.Caller()
	if _, err := s.Play(ctx, tone(200*time.Millisecond, 800), false); err != nil {
		r.err = err
	} else {
		timeout := 5 * time.Second
		if s.Param("hangup") == "1" {
			timeout = 200 * time.Millisecond
		}
		r.digits, r.err = s.ReadDigits(ctx, 8, timeout, '#')
	}
	a.results <- r
	if s.Param("hangup") == "1" {
		a.ended <- nil
		return
	}
	<-ctx.Done()
	a.ended <- ctx.Err()
}

type fixture struct {
	srv    *mediaserver.Server
	phone  *mst.Phone
	app    *testApp
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, mod func(*mediaserver.Config)) *fixture {
	t.Helper()
	sp, pp := ports(t)
	app := newTestApp()
	cfg := mediaserver.Config{
		Listen: "127.0.0.1:0", Ports4: sp, Log: zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel)),
		Apps: map[string]mediaserver.App{"echo": app},
	}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := mediaserver.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &fixture{srv: srv, app: app, cancel: cancel, done: make(chan error, 1)}
	go func() { f.done <- srv.Run(ctx) }()
	phone, err := mst.NewPhone(pp, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	f.phone = phone
	t.Cleanup(func() {
		phone.Close()
		f.stop(t)
	})
	return f
}

// stop stops the server and checks Run returns in bounded time.
func (f *fixture) stop(t *testing.T) {
	t.Helper()
	f.cancel()
	select {
	case err := <-f.done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
		f.done <- nil // later calls return at once
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func waitResult(t *testing.T, app *testApp) result {
	t.Helper()
	select {
	case r := <-app.results:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("application reported nothing")
	}
	return result{}
}

func waitCalls(t *testing.T, srv *mediaserver.Server, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for srv.Calls() != n {
		if time.Now().After(deadline) {
			t.Fatalf("calls = %d, want %d", srv.Calls(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCallDigitsByRTPAndINFOThenCallerBye(t *testing.T) {
	f := start(t, nil)
	ctx := testCtx(t)
	pai := sip.NewHeader("P-Asserted-Identity", `"Kari Nordmann" <sip:+4722334455@pbx.example>, <tel:+4722334455>`)
	c, err := f.phone.Dial(ctx, mst.URI(f.srv.Addr(), "echo", "tenant", "7", "mailbox", "2001"),
		mst.DialOptions{FromUser: "2001", FromName: "Desk 2001", Headers: []sip.Header{pai}})
	if err != nil {
		t.Fatal(err)
	}
	a := c.Answer
	audio, _ := a.Audio()
	if audio == nil || audio.Addr != loopback || c.Choice.Codec.Name != "PCMU" || c.Choice.Event == nil {
		t.Fatalf("answer: %+v choice %+v", audio, c.Choice)
	}
	if err := c.WaitQuiet(ctx, 100*time.Millisecond); err != nil {
		t.Fatalf("no prompt audio: %v", err)
	}
	if got := len(c.Received()); got < 1600 {
		t.Errorf("received %d samples of the 200 ms prompt", got)
	}
	for _, k := range []rune{'1', '2', '3', '4', '#'} {
		var err error
		if k == '2' || k == '4' {
			err = c.SendINFO(ctx, k)
		} else {
			err = c.SendKey(k)
		}
		if err != nil {
			t.Fatalf("key %c: %v", k, err)
		}
	}
	r := waitResult(t, f.app)
	want := result{digits: "1234", tenant: "7", box: "2001", number: "+4722334455", name: "Kari Nordmann", codec: "PCMU"}
	if r != want {
		t.Errorf("app saw %+v, want %+v", r, want)
	}
	if f.srv.Calls() != 1 {
		t.Errorf("calls = %d during the call", f.srv.Calls())
	}
	if err := c.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-f.app.ended:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("app context ended with %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("application context did not end on BYE")
	}
	waitCalls(t, f.srv, 0)
}

func TestServerByeFollowsRecordRoute(t *testing.T) {
	f := start(t, nil)
	ctx := testCtx(t)
	rr := sip.NewHeader("Record-Route", "<sip:"+f.phone.Addr().String()+";lr>")
	c, err := f.phone.Dial(ctx, mst.URI(f.srv.Addr(), "echo", "hangup", "1"), mst.DialOptions{Headers: []sip.Header{rr}})
	if err != nil {
		t.Fatal(err)
	}
	if r := waitResult(t, f.app); r.err != nil || r.digits != "" {
		t.Errorf("app: %+v", r)
	}
	select {
	case <-c.Ended():
	case <-time.After(5 * time.Second):
		t.Fatal("no BYE from the server")
	}
	bye := c.Bye()
	route := bye.GetHeader("Route")
	if route == nil || !strings.Contains(route.Value(), f.phone.Addr().String()) {
		t.Errorf("BYE Route = %v, want the Record-Route", route)
	}
	if bye.Recipient.User != "phone" {
		t.Errorf("BYE request-URI %s, want the phone's Contact", bye.Recipient.String())
	}
	if bye.Source() != f.srv.Addr() {
		t.Errorf("BYE came from %s, want the server's socket %s", bye.Source(), f.srv.Addr())
	}
	waitCalls(t, f.srv, 0)
	c.Close()
}

func TestRefusals(t *testing.T) {
	f := start(t, nil)
	ctx := testCtx(t)
	g729 := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
		"m=audio 40000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n"
	for _, tc := range []struct {
		name, target string
		opts         mst.DialOptions
		code         int
	}{
		{"no G.711", mst.URI(f.srv.Addr(), "echo"), mst.DialOptions{SDP: []byte(g729)}, 488},
		{"unknown app", mst.URI(f.srv.Addr(), "nobody"), mst.DialOptions{}, 404},
		{"bad SDP", mst.URI(f.srv.Addr(), "echo"), mst.DialOptions{SDP: []byte("v=0\r\nthis is not sdp\r\n")}, 400},
		{"IPv6 offer, no IPv6 ports", mst.URI(f.srv.Addr(), "echo"), mst.DialOptions{SDP: []byte(
			"v=0\r\no=- 1 1 IN IP6 ::1\r\ns=-\r\nc=IN IP6 ::1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n")}, 488},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.phone.Dial(ctx, tc.target, tc.opts)
			var re *mst.ResponseError
			if !errors.As(err, &re) || re.Res.StatusCode != tc.code {
				t.Fatalf("Dial: %v, want %d", err, tc.code)
			}
		})
	}
	// PCMA alone is taken.
	c, err := f.phone.Dial(ctx, mst.URI(f.srv.Addr(), "echo"), mst.DialOptions{Codecs: []string{"PCMA"}})
	if err != nil {
		t.Fatal(err)
	}
	if c.Choice.Codec.Name != "PCMA" {
		t.Errorf("codec %s", c.Choice.Codec.Name)
	}
	if err := c.SendINFO(ctx, '#'); err != nil {
		t.Fatal(err)
	}
	if r := waitResult(t, f.app); r.codec != "PCMA" {
		t.Errorf("app codec %s", r.codec)
	}
	if err := c.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	waitCalls(t, f.srv, 0)
}

func TestUntrustedSourceGets403(t *testing.T) {
	f := start(t, func(c *mediaserver.Config) {
		c.Trusted = func(src netip.AddrPort) bool { return false }
	})
	ctx := testCtx(t)
	_, err := f.phone.Dial(ctx, mst.URI(f.srv.Addr(), "echo"), mst.DialOptions{})
	var re *mst.ResponseError
	if !errors.As(err, &re) || re.Res.StatusCode != 403 {
		t.Fatalf("Dial: %v, want 403", err)
	}
	if n := f.srv.Calls(); n != 0 {
		t.Errorf("calls = %d", n)
	}
}

func options(t *testing.T, ctx context.Context, f *fixture) int {
	t.Helper()
	u := sip.Uri{}
	if err := sip.ParseUri("sip:"+f.srv.Addr(), &u); err != nil {
		t.Fatal(err)
	}
	res, err := f.phone.Client().Do(ctx, sip.NewRequest(sip.OPTIONS, u))
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode
}

func TestGarbageAndMalformedRequests(t *testing.T) {
	f := start(t, nil)
	ctx := testCtx(t)
	conn, err := net.Dial("udp", f.srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	offer := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n"
	local := conn.LocalAddr().String()
	noContact := "INVITE sip:echo@" + f.srv.Addr() + " SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP " + local + ";branch=z9hG4bK-garbage1\r\n" +
		"From: <sip:x@127.0.0.1>;tag=a1\r\nTo: <sip:echo@127.0.0.1>\r\nCall-ID: garbage-1\r\n" +
		"CSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContent-Type: application/sdp\r\n" +
		"Content-Length: " + itoa(len(offer)) + "\r\n\r\n" + offer
	for _, d := range []string{
		"\x00\xff\xfe garbage \x01",
		"INVITE sip:echo@x SIP/2.0\r\n\r\n",
		"SIP/2.0 200 OK\r\nCall-ID: nothing\r\n\r\n",
		"BYE sip:echo@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP " + local + ";branch=z9hG4bK-g2\r\n" +
			"From: <sip:x@127.0.0.1>;tag=a\r\nTo: <sip:echo@127.0.0.1>;tag=b\r\nCall-ID: unknown\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n",
		"CANCEL sip:echo@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP " + local + ";branch=z9hG4bK-g3\r\n" +
			"From: <sip:x@127.0.0.1>;tag=a\r\nTo: <sip:echo@127.0.0.1>\r\nCall-ID: cancel-none\r\nCSeq: 1 CANCEL\r\nContent-Length: 0\r\n\r\n",
		noContact,
	} {
		if _, err := conn.Write([]byte(d)); err != nil {
			t.Fatal(err)
		}
	}
	// A BYE or CANCEL for nothing gets 481, the INVITE without Contact 400.
	got := map[string]bool{}
	buf := make([]byte, 4096)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for !(got["481 unknown"] && got["481 cancel-none"] && got["400 garbage-1"]) {
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("responses so far %v: %v", got, err)
		}
		msg := string(buf[:n])
		line, _, _ := strings.Cut(msg, "\r\n")
		_, id, _ := strings.Cut(msg, "Call-ID: ")
		id, _, _ = strings.Cut(id, "\r\n")
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "SIP/2.0" {
			got[f[1]+" "+id] = true
		}
	}
	waitCalls(t, f.srv, 0)
	if code := options(t, ctx, f); code != 200 {
		t.Errorf("OPTIONS after garbage: %d", code)
	}
	if n := f.srv.Calls(); n != 0 {
		t.Errorf("calls = %d", n)
	}
}

func itoa(n int) string { return mst.Itoa(int64(n)) }

func TestReinviteHoldResume(t *testing.T) {
	f := start(t, nil)
	ctx := testCtx(t)
	c, err := f.phone.Dial(ctx, mst.URI(f.srv.Addr(), "echo"), mst.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sess := sdp.NewSession()
	local := sdp.Local{Addr: loopback, Port: int(c.EP.LocalAddr().Port())}
	reinvite := func(dir sdp.Direction, codecs []string) (*sip.Response, *sdp.Offer) {
		t.Helper()
		l := local
		l.Direction = dir
		body, err := sess.Offer(l, codecs)
		if err != nil {
			t.Fatal(err)
		}
		res, err := c.Request(ctx, sip.INVITE, "application/sdp", body)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != 200 {
			t.Logf("re-INVITE answered %s", res.StartLine())
			return res, nil
		}
		if err := c.Ack(nil); err != nil {
			t.Fatal(err)
		}
		ans, err := sdp.Parse(res.Body())
		if err != nil {
			t.Fatal(err)
		}
		return res, ans
	}
	_, ans := reinvite(sdp.SendOnly, []string{"PCMU"})
	if m, _ := ans.Audio(); m == nil || m.Direction != sdp.RecvOnly {
		t.Fatalf("hold answer %+v", m)
	}
	_, ans = reinvite(sdp.SendRecv, []string{"PCMU"})
	if m, _ := ans.Audio(); m == nil || m.Direction != sdp.SendRecv {
		t.Fatalf("resume answer %+v", m)
	}
	if v := ans.Origin.Version; v == c.Answer.Origin.Version || ans.Origin.SessionID != c.Answer.Origin.SessionID {
		t.Errorf("answer o= %+v after %+v: same session, new version expected", ans.Origin, c.Answer.Origin)
	}
	// Changing codec mid-call is refused; the call goes on.
	if res, _ := reinvite(sdp.SendRecv, []string{"PCMA"}); res.StatusCode != 488 {
		t.Errorf("codec change: %d, want 488", res.StatusCode)
	}
	// An offerless re-INVITE gets our offer; the ACK answers it.
	res, err := c.Request(ctx, sip.INVITE, "", nil)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("offerless re-INVITE: %v %v", res, err)
	}
	if _, err := sdp.Parse(res.Body()); err != nil {
		t.Fatalf("offer in 200: %v", err)
	}
	l := local
	body, _ := sess.Offer(l, []string{"PCMU"})
	if err := c.Ack(body); err != nil {
		t.Fatal(err)
	}
	// Keys still work.
	if err := c.SendKey('9'); err != nil {
		t.Fatal(err)
	}
	if err := c.SendINFO(ctx, '#'); err != nil {
		t.Fatal(err)
	}
	if r := waitResult(t, f.app); r.digits != "9" {
		t.Errorf("digits after re-INVITEs %q", r.digits)
	}
	if err := c.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	waitCalls(t, f.srv, 0)
}

func TestMaxCallsAndShutdown(t *testing.T) {
	f := start(t, func(c *mediaserver.Config) { c.MaxCalls = 1 })
	ctx := testCtx(t)
	c, err := f.phone.Dial(ctx, mst.URI(f.srv.Addr(), "echo"), mst.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.phone.Dial(ctx, mst.URI(f.srv.Addr(), "echo"), mst.DialOptions{})
	var re *mst.ResponseError
	if !errors.As(err, &re) || re.Res.StatusCode != 503 {
		t.Fatalf("second call: %v, want 503", err)
	}
	// Stopping the server hangs up the call in progress.
	f.stop(t)
	select {
	case <-c.Ended():
	case <-time.After(5 * time.Second):
		t.Fatal("no BYE on shutdown")
	}
	select {
	case err := <-f.app.ended:
		if err == nil {
			t.Error("app context did not end")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("app did not end")
	}
}

func TestIPv6Listener(t *testing.T) {
	ip6 := netip.MustParseAddr("::1")
	p6, err := rtp.NewPorts(ip6, 47000, 47019)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := mediaserver.New(mediaserver.Config{Listen: "[::1]:0", Ports6: p6, Log: zaptest.NewLogger(t)})
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	conn, err := net.Dial("udp6", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	local := conn.LocalAddr().String()
	req := "OPTIONS sip:" + srv.Addr() + " SIP/2.0\r\nVia: SIP/2.0/UDP " + local + ";branch=z9hG4bK-v6\r\n" +
		"From: <sip:x@[::1]>;tag=a\r\nTo: <sip:m@[::1]>\r\nCall-ID: v6\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
	if _, err := conn.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(buf[:n]), "SIP/2.0 200") {
		t.Errorf("OPTIONS over IPv6: %q", buf[:n])
	}
}
