package mediaserver_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/media/mediaserver"
	mst "github.com/sentralpbx/sentral/media/mediaserver/mediaservertest"
	"github.com/sentralpbx/sentral/media/sdp"
)

// dialFixture is a media server whose proxy is a test phone (the callee)
// and a second phone to call the server's applications (the caller).
type dialFixture struct {
	*fixture
	callee *mst.Phone
}

func startDial(t *testing.T, apps map[string]mediaserver.App) *dialFixture {
	t.Helper()
	_, cp := ports(t)
	callee, err := mst.NewPhone(cp, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(callee.Close)
	f := start(t, func(c *mediaserver.Config) {
		c.Proxy = callee.Addr().String()
		for k, v := range apps {
			c.Apps[k] = v
		}
	})
	return &dialFixture{fixture: f, callee: callee}
}

const calleeURI = "sip:2001@fjordvik.test"

func TestDialAnsweredPlaysThenHangup(t *testing.T) {
	f := startDial(t, nil)
	ctx := testCtx(t)
	pai := sip.NewHeader("P-Asserted-Identity", `"Ola Nordmann" <sip:2001@fjordvik.test>`)
	f.callee.SetPlan(mst.Plan{Ring: 50 * time.Millisecond, Headers: []sip.Header{pai}})
	var rang atomic.Int32
	s, err := f.srv.Dial(ctx, mediaserver.DialSpec{
		To: calleeURI, From: "sip:+4791234567@fjordvik.test", FromName: "Kari Caller",
		Headers:   map[string]string{"X-Sentral-Console": "q-17"},
		OnRinging: func() { rang.Add(1) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if rang.Load() != 1 {
		t.Errorf("OnRinging called %d times", rang.Load())
	}
	in, err := f.callee.NextIncoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	<-in.Answered()
	inv := in.Invite
	if got := inv.Recipient.String(); got != calleeURI {
		t.Errorf("request-URI %s", got)
	}
	if r := inv.GetHeader("Route"); r == nil || !strings.Contains(r.Value(), f.callee.Addr().String()) || !strings.Contains(r.Value(), ";lr") {
		t.Errorf("Route %v, want the proxy with lr", r)
	}
	if fr := inv.From(); fr.Address.User != "+4791234567" || fr.DisplayName != "Kari Caller" {
		t.Errorf("From %s", fr.Value())
	}
	if h := inv.GetHeader("X-Sentral-Console"); h == nil || h.Value() != "q-17" {
		t.Errorf("X-Sentral-Console %v", h)
	}
	if inv.Source() != f.srv.Addr() {
		t.Errorf("INVITE from %s, want %s", inv.Source(), f.srv.Addr())
	}
	if m, _ := in.Offer.Audio(); m == nil || len(m.Codecs) < 3 || m.Codecs[0].Name != "PCMU" || m.Codecs[1].Name != "PCMA" {
		t.Errorf("offer %+v", m)
	} else if _, ok := m.TelephoneEvent(); !ok {
		t.Error("offer without telephone-event")
	}
	if s.CallID() != inv.CallID().Value() {
		t.Errorf("CallID %q, INVITE %q", s.CallID(), inv.CallID().Value())
	}
	if n, d := s.Caller(); n != "2001" || d != "Ola Nordmann" {
		t.Errorf("Caller() = %q %q", n, d)
	}
	if !s.Dialled() || s.Codec().Name() != "PCMU" {
		t.Errorf("dialled %v codec %s", s.Dialled(), s.Codec())
	}
	if f.srv.Calls() != 1 {
		t.Errorf("calls = %d", f.srv.Calls())
	}
	if _, err := s.Play(ctx, tone(200*time.Millisecond, 800), false); err != nil {
		t.Fatal(err)
	}
	if err := in.WaitQuiet(ctx, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if got := in.Received(); len(got) < 1600 || power(got, 800) < 100*power(got, 1500) {
		t.Errorf("callee got %d samples, 800 Hz power %.0f", len(got), power(got, 800))
	}
	s.Hangup()
	select {
	case <-s.Done():
	case <-time.After(time.Second):
		t.Fatal("Done not closed by Hangup")
	}
	if !errors.Is(s.Ended(), mediaserver.ErrCallEnded) {
		t.Errorf("Ended() = %v", s.Ended())
	}
	select {
	case <-in.Ended():
	case <-time.After(5 * time.Second):
		t.Fatal("no BYE after Hangup")
	}
	if bye := in.Bye(); bye.Source() != f.srv.Addr() {
		t.Errorf("BYE from %s", bye.Source())
	}
	if _, err := s.Play(ctx, tone(20*time.Millisecond, 800), false); !errors.Is(err, mediaserver.ErrCallEnded) {
		t.Errorf("Play after Hangup: %v", err)
	}
	waitCalls(t, f.srv, 0)
}

func TestDialRefused(t *testing.T) {
	f := startDial(t, nil)
	ctx := testCtx(t)
	f.callee.SetPlan(mst.Plan{Code: 486})
	_, err := f.srv.Dial(ctx, mediaserver.DialSpec{To: calleeURI})
	var de *mediaserver.DialError
	if !errors.As(err, &de) || de.Code != 486 {
		t.Fatalf("Dial: %v, want DialError 486", err)
	}
	waitCalls(t, f.srv, 0)
}

func TestDialRingTimeoutCancels(t *testing.T) {
	f := startDial(t, nil)
	ctx := testCtx(t)
	f.callee.SetPlan(mst.Plan{Ring: -1})
	start := time.Now()
	_, err := f.srv.Dial(ctx, mediaserver.DialSpec{To: calleeURI, Ring: 300 * time.Millisecond})
	var de *mediaserver.DialError
	if !errors.As(err, &de) || de.Code != 408 {
		t.Fatalf("Dial: %v, want DialError 408", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Dial took %v", d)
	}
	in, err := f.callee.NextIncoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-in.Canceled():
	case <-time.After(5 * time.Second):
		t.Fatal("no CANCEL")
	}
	waitCalls(t, f.srv, 0)
}

func TestDialContextCanceledWhileRinging(t *testing.T) {
	f := startDial(t, nil)
	ctx := testCtx(t)
	f.callee.SetPlan(mst.Plan{Ring: -1})
	dctx, cancel := context.WithCancel(ctx)
	_, err := f.srv.Dial(dctx, mediaserver.DialSpec{To: calleeURI, OnRinging: func() {
		time.AfterFunc(100*time.Millisecond, cancel)
	}})
	var de *mediaserver.DialError
	if !errors.As(err, &de) || de.Code != 487 {
		t.Fatalf("Dial: %v, want DialError 487", err)
	}
	in, err := f.callee.NextIncoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-in.Canceled():
	case <-time.After(5 * time.Second):
		t.Fatal("no CANCEL")
	}
	waitCalls(t, f.srv, 0)
}

func TestDialFarEndByeClosesDone(t *testing.T) {
	f := startDial(t, nil)
	ctx := testCtx(t)
	s, err := f.srv.Dial(ctx, mediaserver.DialSpec{To: calleeURI})
	if err != nil {
		t.Fatal(err)
	}
	in, err := f.callee.NextIncoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	<-in.Answered()
	if err := in.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed by the far end's BYE")
	}
	if err := s.Ended(); !errors.Is(err, mediaserver.ErrCallEnded) || !strings.Contains(err.Error(), "hung up") {
		t.Errorf("Ended() = %v", err)
	}
	waitCalls(t, f.srv, 0)
}

func TestDialWithoutProxy(t *testing.T) {
	f := start(t, nil)
	if _, err := f.srv.Dial(testCtx(t), mediaserver.DialSpec{To: calleeURI}); !errors.Is(err, mediaserver.ErrNoProxy) {
		t.Errorf("Dial: %v", err)
	}
}

// bridgeOutcome is what the bridging application saw.
type bridgeOutcome struct {
	dialErr     error
	endedCallee bool // Bridge ended because the dialled leg ended
	err         error
}

// bridgeApp dials the callee, plays it a short prompt, bridges it to the
// caller, and hangs up the leg that is left when one ends.
func bridgeApp(srv **mediaserver.Server, out chan<- bridgeOutcome) mediaserver.App {
	return mediaserver.AppFunc(func(ctx context.Context, s *mediaserver.Session) {
		d, err := (*srv).Dial(ctx, mediaserver.DialSpec{To: calleeURI, From: "sip:+4791234567@fjordvik.test", Ring: 5 * time.Second})
		if err != nil {
			out <- bridgeOutcome{dialErr: err}
			return
		}
		if _, err := d.Play(ctx, tone(100*time.Millisecond, 600), false); err != nil {
			out <- bridgeOutcome{err: err}
			d.Hangup()
			return
		}
		ended, err := mediaserver.Bridge(ctx, s, d)
		out <- bridgeOutcome{endedCallee: ended == d, err: err}
		if ended == d {
			s.Hangup()
		} else {
			d.Hangup()
		}
	})
}

// power is the Goertzel power of hz in samples, normalised by length.
func power(samples []int16, hz float64) float64 {
	w := 2 * math.Pi * hz / 8000
	coeff := 2 * math.Cos(w)
	var s1, s2 float64
	for _, x := range samples {
		s0 := float64(x) + coeff*s1 - s2
		s2, s1 = s1, s0
	}
	p := s1*s1 + s2*s2 - coeff*s1*s2
	return p / float64(max(1, len(samples)))
}

func TestBridgeRelaysAndTranscodes(t *testing.T) {
	for _, tc := range []struct {
		name          string
		calleeCodecs  []string
		calleeHangsUp bool
	}{
		{"PCMU to PCMA, callee hangs up", []string{"PCMA"}, true},
		{"PCMU both, caller hangs up", []string{"PCMU"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var srv *mediaserver.Server
			out := make(chan bridgeOutcome, 1)
			f := startDial(t, map[string]mediaserver.App{"bridge": bridgeApp(&srv, out)})
			srv = f.srv
			ctx := testCtx(t)
			f.callee.SetPlan(mst.Plan{Codecs: tc.calleeCodecs})
			caller, err := f.phone.Dial(ctx, mst.URI(f.srv.Addr(), "bridge"), mst.DialOptions{Codecs: []string{"PCMU"}})
			if err != nil {
				t.Fatal(err)
			}
			in, err := f.callee.NextIncoming(ctx)
			if err != nil {
				t.Fatal(err)
			}
			select {
			case <-in.Answered():
			case o := <-out:
				t.Fatalf("app: %+v", o)
			}
			if in.Codec.Name() != tc.calleeCodecs[0] {
				t.Fatalf("callee codec %s", in.Codec)
			}
			// The prompt before the bridge, then the caller's voice.
			if err := in.WaitQuiet(ctx, 60*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			before := len(in.Received())
			errs := make(chan error, 2)
			go func() { errs <- caller.SendAudio(ctx, tone(600*time.Millisecond, 440)) }()
			go func() { errs <- in.SendAudio(ctx, tone(600*time.Millisecond, 1000)) }()
			for range 2 {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
			if err := caller.SendKey('5'); err != nil {
				t.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond)

			atCallee := in.Received()[before:]
			atCaller := caller.Received()
			if len(atCallee) < 3200 || len(atCaller) < 3200 {
				t.Fatalf("relayed %d samples to the callee, %d to the caller", len(atCallee), len(atCaller))
			}
			if p440, p1k := power(atCallee, 440), power(atCallee, 1000); p440 < 100*p1k || p440 < 1e5 {
				t.Errorf("callee hears 440 Hz %.0f, 1000 Hz %.0f", p440, p1k)
			}
			if p1k, p440 := power(atCaller, 1000), power(atCaller, 440); p1k < 100*p440 || p1k < 1e5 {
				t.Errorf("caller hears 1000 Hz %.0f, 440 Hz %.0f", p1k, p440)
			}
			var five, marked bool
			for _, ev := range in.Events() {
				five = five || ev.Code == 5
				marked = marked || ev.Marker
			}
			if !five || !marked {
				t.Errorf("key 5 not passed through: %+v", in.Events())
			}
			ssrcs, gaps, back := in.Continuity()
			if len(ssrcs) != 1 || gaps != 0 || back != 0 {
				t.Errorf("callee's stream: SSRCs %v, sequence gaps %d, timestamps back %d", ssrcs, gaps, back)
			}

			if tc.calleeHangsUp {
				if err := in.Hangup(ctx); err != nil {
					t.Fatal(err)
				}
			} else if err := caller.Hangup(ctx); err != nil {
				t.Fatal(err)
			}
			var o bridgeOutcome
			select {
			case o = <-out:
			case <-time.After(5 * time.Second):
				t.Fatal("Bridge did not return when a leg hung up")
			}
			if o.endedCallee != tc.calleeHangsUp || !errors.Is(o.err, mediaserver.ErrCallEnded) {
				t.Errorf("Bridge returned callee-ended=%v err=%v", o.endedCallee, o.err)
			}
			if tc.calleeHangsUp {
				select {
				case <-caller.Ended():
				case <-time.After(5 * time.Second):
					t.Fatal("caller not hung up")
				}
				caller.Close()
			} else {
				select {
				case <-in.Ended():
				case <-time.After(5 * time.Second):
					t.Fatal("callee not hung up")
				}
			}
			waitCalls(t, f.srv, 0)
		})
	}
}

func TestBridgeBusyAndContext(t *testing.T) {
	var srv *mediaserver.Server
	type res struct {
		busy, self error
		ctxErr     error
		playAfter  error
	}
	out := make(chan res, 1)
	app := mediaserver.AppFunc(func(ctx context.Context, s *mediaserver.Session) {
		d, err := srv.Dial(ctx, mediaserver.DialSpec{To: calleeURI})
		if err != nil {
			out <- res{busy: err}
			return
		}
		defer d.Hangup()
		var r res
		_, r.self = mediaserver.Bridge(ctx, s, s)
		bctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { _, err := mediaserver.Bridge(bctx, s, d); done <- err }()
		time.Sleep(100 * time.Millisecond)
		_, r.busy = mediaserver.Bridge(ctx, d, s)
		cancel()
		r.ctxErr = <-done
		_, r.playAfter = d.Play(ctx, tone(100*time.Millisecond, 700), false)
		out <- r
	})
	f := startDial(t, map[string]mediaserver.App{"busy": app})
	srv = f.srv
	ctx := testCtx(t)
	caller, err := f.phone.Dial(ctx, mst.URI(f.srv.Addr(), "busy"), mst.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer caller.Close()
	in, err := f.callee.NextIncoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	<-in.Answered()
	var r res
	select {
	case r = <-out:
	case <-time.After(10 * time.Second):
		t.Fatal("app reported nothing")
	}
	if !errors.Is(r.self, mediaserver.ErrBusy) || !errors.Is(r.busy, mediaserver.ErrBusy) ||
		!errors.Is(r.ctxErr, context.Canceled) || r.playAfter != nil {
		t.Errorf("self %v, busy %v, ctx %v, play after %v", r.self, r.busy, r.ctxErr, r.playAfter)
	}
	select {
	case <-in.Ended():
	case <-time.After(5 * time.Second):
		t.Fatal("dialled leg not hung up")
	}
	if err := in.WaitQuiet(ctx, 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if got := in.Received(); power(got, 700) < 1e5 {
		t.Errorf("no prompt after the bridge: %d samples", len(got))
	}
}

func TestDialledSessionHoldAndDigits(t *testing.T) {
	f := startDial(t, nil)
	ctx := testCtx(t)
	s, err := f.srv.Dial(ctx, mediaserver.DialSpec{To: calleeURI})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Hangup()
	in, err := f.callee.NextIncoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	<-in.Answered()
	// Held by the far end: Play keeps time and sends nothing.
	ans, err := in.Reinvite(ctx, sdp.SendOnly)
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := ans.Audio(); m == nil || m.Direction != sdp.RecvOnly {
		t.Fatalf("hold answer %+v", m)
	}
	if _, err := s.Play(ctx, tone(100*time.Millisecond, 800), false); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if n := len(in.Received()); n != 0 {
		t.Errorf("held, yet %d samples arrived", n)
	}
	if _, err := in.Reinvite(ctx, sdp.SendRecv); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Play(ctx, tone(100*time.Millisecond, 800), false); err != nil {
		t.Fatal(err)
	}
	if err := in.WaitQuiet(ctx, 60*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if n := len(in.Received()); n < 800 {
		t.Errorf("resumed, %d samples arrived", n)
	}
	// Keys by RFC 4733 and SIP INFO.
	if err := in.SendKey('7'); err != nil {
		t.Fatal(err)
	}
	if err := in.SendINFO(ctx, '8'); err != nil {
		t.Fatal(err)
	}
	if d, err := s.ReadDigits(ctx, 2, 2*time.Second, 0); d != "78" || err != nil {
		t.Errorf("ReadDigits = %q, %v", d, err)
	}
}

func TestServerStopHangsUpDialledCalls(t *testing.T) {
	f := startDial(t, nil)
	ctx := testCtx(t)
	s, err := f.srv.Dial(ctx, mediaserver.DialSpec{To: calleeURI})
	if err != nil {
		t.Fatal(err)
	}
	in, err := f.callee.NextIncoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	<-in.Answered()
	f.stop(t)
	select {
	case <-in.Ended():
	case <-time.After(5 * time.Second):
		t.Fatal("no BYE on shutdown")
	}
	select {
	case <-s.Done():
	default:
		t.Error("Done open after shutdown")
	}
	if _, err := f.srv.Dial(ctx, mediaserver.DialSpec{To: calleeURI}); !errors.Is(err, mediaserver.ErrNotRunning) {
		t.Errorf("Dial after stop: %v", err)
	}
}

func TestDialledDeadMediaCountsFromAnswer(t *testing.T) {
	_, cp := ports(t)
	callee, err := mst.NewPhone(cp, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(callee.Close)
	f := start(t, func(c *mediaserver.Config) {
		c.Proxy = callee.Addr().String()
		c.DeadMediaTimeout = 400 * time.Millisecond
	})
	ctx := testCtx(t)
	callee.SetPlan(mst.Plan{Ring: 600 * time.Millisecond})
	s, err := f.srv.Dial(ctx, mediaserver.DialSpec{To: calleeURI})
	if err != nil {
		t.Fatal(err)
	}
	answered := time.Now()
	select {
	case <-s.Done():
		t.Fatalf("ended at once: %v", s.Ended())
	case <-time.After(200 * time.Millisecond):
	}
	select {
	case <-s.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("silent call not ended")
	}
	// Counted from the INVITE, the 400 ms would have run out during the
	// 600 ms of ringing and the call would have ended at once (the select
	// above); no finer bound on the time: Dial returns a moment after the
	// answer the timer starts at.
	if err := s.Ended(); !strings.Contains(err.Error(), "dead media") {
		t.Errorf("ended after %v: %v", time.Since(answered), err)
	}
	waitCalls(t, f.srv, 0)
}
