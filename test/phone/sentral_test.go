package phone_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/sentralpbx/sentral/media/codec"
	"github.com/sentralpbx/sentral/sip/auth"
	"github.com/sentralpbx/sentral/test/phone"
	"github.com/sentralpbx/sentral/test/siptest"
)

// TestThroughSentral runs the phone against Sentral's own registrar and
// proxy: REGISTER answered with 401, INVITE with 407, in-dialog requests
// along the proxy's Record-Route.
func TestThroughSentral(t *testing.T) {
	t.Parallel()
	const (
		domain   = "fjordvik.test"
		password = "Korrekt-Hest-42"
	)
	st := siptest.Start(t, siptest.Options{Domain: domain, Password: password, Range: [2]string{"100", "199"},
		Numbers: []string{"100", "101"}, Networks: []string{"udp"}, Algorithms: []string{auth.SHA256, auth.MD5},
		MaxFailures: 100})
	ctx := testContext(t)
	proxy := st.Server.Addr("udp")
	a := newPhone(t, ctx, phone.Options{User: "100", Password: password, Domain: domain, Proxy: proxy})
	b := newPhone(t, ctx, phone.Options{User: "101", Password: password, Domain: domain, Proxy: proxy})
	for _, p := range []*phone.Phone{a, b} {
		if err := p.Register(ctx, time.Hour); err != nil {
			t.Fatalf("register: %v", err)
		}
	}

	answered := make(chan error, 1)
	var in *phone.Call
	go func() {
		select {
		case c := <-b.Incoming():
			if len(c.Invite().GetHeaders("Record-Route")) == 0 {
				t.Errorf("INVITE from the proxy without Record-Route: the test would not cover routing")
			}
			in = c
			answered <- c.Answer(ctx)
		case <-ctx.Done():
			answered <- ctx.Err()
		}
	}()
	out, err := a.Call(ctx, "101")
	if err != nil {
		t.Fatalf("call: %v", err)
	}
	if err := <-answered; err != nil {
		t.Fatalf("answer: %v", err)
	}
	sendAndCheck(t, ctx, out, in, sine(4000, 440, 8000), codec.PCMU)
	sendAndCheck(t, ctx, in, out, sine(4000, 600, 8000), codec.PCMU)
	if err := out.SendDTMF(ctx, "42"); err != nil {
		t.Fatal(err)
	}
	eventually(t, ctx, "digits 42", func() bool { return in.Digits() == "42" })

	// A re-INVITE from each side travels the route set.
	if err := out.Hold(ctx, true); err != nil {
		t.Fatalf("hold: %v", err)
	}
	if err := out.Hold(ctx, false); err != nil {
		t.Fatalf("resume: %v", err)
	}
	if err := in.Hold(ctx, true); err != nil {
		t.Fatalf("callee hold: %v", err)
	}
	if err := in.Hangup(ctx); err != nil {
		t.Fatalf("hangup: %v", err)
	}
	waitDone(t, ctx, "caller", out)
	waitDone(t, ctx, "callee", in)

	// Cancelling while the callee rings goes through the proxy too.
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
	_, err = a.Call(callCtx, "101")
	var se phone.StatusError
	if !errors.Is(err, context.Canceled) || !errors.As(err, &se) || se.Code != sip.StatusRequestTerminated {
		t.Fatalf("cancelled call: %v, want context.Canceled and 487", err)
	}
	waitDone(t, ctx, "callee of the cancelled call", <-ringing)

	if err := b.Register(ctx, 0); err != nil {
		t.Fatalf("unregister: %v", err)
	}
	if _, err := a.Call(ctx, "101"); !errors.As(err, &se) || se.Code < 400 {
		t.Fatalf("call to an unregistered extension: %v, want an error status", err)
	}
}
