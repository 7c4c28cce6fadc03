package proxy

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// fakeAnchor stands in for media/webrtc: it marks what it rewrote, so the
// test sees which body went where.
type fakeAnchor struct {
	legs, closed atomic.Int32
}

func (a *fakeAnchor) IsWebRTC(sdp []byte) bool { return strings.Contains(string(sdp), "SAVPF") }

func (a *fakeAnchor) FromBrowser(_ context.Context, _ string, offer []byte) (AnchorLeg, []byte, error) {
	if strings.Contains(string(offer), "opus-only") {
		return nil, nil, ErrNotAcceptable
	}
	a.legs.Add(1)
	return &fakeLeg{a: a}, []byte("plain-offer"), nil
}

func (a *fakeAnchor) ToBrowser(_ context.Context, _ string, offer []byte) (AnchorLeg, []byte, error) {
	a.legs.Add(1)
	return &fakeLeg{a: a}, []byte("webrtc-offer"), nil
}

type fakeLeg struct{ a *fakeAnchor }

func (l *fakeLeg) Answer(ans []byte) ([]byte, error) { return []byte("bridged:" + string(ans)), nil }
func (l *fakeLeg) Reoffer(fromBrowser bool, offer []byte) ([]byte, error) {
	if fromBrowser {
		return []byte("reoffer-for-phone"), nil
	}
	return []byte("reoffer-for-browser"), nil
}
func (l *fakeLeg) Reanswer(ans []byte) ([]byte, error) {
	return []byte("rebridged:" + string(ans)), nil
}
func (l *fakeLeg) Close() error { l.a.closed.Add(1); return nil }

// TestAnchoredCall: a browser's offer reaches the phone rewritten by the
// anchor and the phone's answer comes back rewritten; a hold re-INVITE and
// its answer are rewritten the same way; the BYE releases the media leg.
// An Opus-only browser gets 488.
func TestAnchoredCall(t *testing.T) {
	a := &fakeAnchor{}
	s := startStackWith(t, func(o *Options) { o.Anchor = a })
	caller, desk := newPhone(t, "browser"), newPhone(t, "desk")
	s.bind(t, "101", desk, 1)

	send := func(body string) *sip.Request {
		inv := caller.invite("100", "101", testDomain)
		inv.SetBody([]byte(body))
		caller.sendTo(inv, s.addr)
		res := caller.response(sip.INVITE, 200)
		inv = caller.authorize(s.addr, inv, res, "100")
		caller.sendTo(inv, s.addr)
		return inv
	}
	inv := send("v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\n")
	got, from := desk.request(sip.INVITE)
	if string(got.Body()) != "plain-offer" {
		t.Fatalf("the phone got %q, want the anchor's plain offer", got.Body())
	}
	ok := sip.NewResponseFromRequest(got, 200, "OK", []byte("plain-answer"))
	ok.To().Params.Add("tag", "desk-totag")
	ok.AppendHeader(sip.NewHeader("Contact", "<sip:callee@"+desk.addr()+">"))
	desk.sendTo(ok, from.String())
	res := caller.response(sip.INVITE, 200)
	if res.StatusCode != 200 || string(res.Body()) != "bridged:plain-answer" {
		t.Fatalf("the browser got %d %q, want the anchor's answer", res.StatusCode, res.Body())
	}
	caller.sendTo(caller.inDialog(sip.ACK, inv, res, inv.CSeq().SeqNo), s.addr)
	desk.request(sip.ACK)

	hold := caller.inDialog(sip.INVITE, inv, res, inv.CSeq().SeqNo+1)
	hold.SetBody([]byte("v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=sendonly\r\n"))
	caller.sendTo(hold, s.addr)
	rein, fromRe := desk.request(sip.INVITE)
	if string(rein.Body()) != "reoffer-for-phone" {
		t.Fatalf("the phone got the hold re-INVITE with %q, want the anchor's re-offer", rein.Body())
	}
	reok := sip.NewResponseFromRequest(rein, 200, "OK", []byte("phone-reanswer"))
	reok.AppendHeader(sip.NewHeader("Contact", "<sip:callee@"+desk.addr()+">"))
	desk.sendTo(reok, fromRe.String())
	held := caller.response(sip.INVITE, 200)
	if string(held.Body()) != "rebridged:phone-reanswer" {
		t.Fatalf("hold re-INVITE answered %d %q, want the anchor's re-answer", held.StatusCode, held.Body())
	}
	caller.sendTo(caller.inDialog(sip.ACK, inv, res, hold.CSeq().SeqNo), s.addr)
	desk.request(sip.ACK)

	caller.sendTo(caller.inDialog(sip.BYE, inv, res, hold.CSeq().SeqNo+1), s.addr)
	bye, fromBye := desk.request(sip.BYE)
	desk.answer(bye, fromBye, 200, "OK")
	caller.response(sip.BYE, 200)
	deadline := time.Now().Add(2 * time.Second)
	for a.closed.Load() != a.legs.Load() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if a.legs.Load() != 1 || a.closed.Load() != 1 {
		t.Errorf("legs opened %d, closed %d; want 1 and 1", a.legs.Load(), a.closed.Load())
	}

	send("v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=opus-only\r\n")
	if res := caller.response(sip.INVITE, 400); res.StatusCode != 488 {
		t.Errorf("Opus-only browser offer: %d, want 488", res.StatusCode)
	}
}
