package proxy

import (
	"testing"

	"github.com/emiago/sipgo/sip"
)

// TestForkAnswerAckBye: 101 has two phones; one answers, the other gets a
// CANCEL; ACK and BYE then travel along the Record-Route to the phone that
// answered, reached at its source address, not its Contact host.
func TestForkAnswerAckBye(t *testing.T) {
	s := startStack(t)
	caller, deskA, deskB := newPhone(t, "caller"), newPhone(t, "deska"), newPhone(t, "deskb")
	s.bind(t, "101", deskA, 1)
	s.bind(t, "101", deskB, 0.5)

	inv := caller.call(s.addr, "100", "101")

	invA, fromA := deskA.request(sip.INVITE)
	invB, fromB := deskB.request(sip.INVITE)
	rr := invA.GetHeader("Record-Route")
	if rr == nil {
		t.Fatalf("forked INVITE without Record-Route:\n%s", invA)
	}
	mustContain(t, "record-route", rr.Value(), ";lr")
	mustContain(t, "request-uri", invA.Recipient.String(), "deska.invalid")
	if invA.GetHeader("Proxy-Authorization") != nil {
		t.Fatal("credentials for our realm were forwarded")
	}
	if mf := invA.MaxForwards(); mf == nil || mf.Val() != 69 {
		t.Fatalf("max-forwards %v, want 69", mf)
	}
	deskA.answer(invA, fromA, 180, "Ringing")
	deskB.answer(invB, fromB, 180, "Ringing")
	if res := caller.response(sip.INVITE, 180); res.StatusCode != 180 {
		t.Fatalf("caller got %d, want 180", res.StatusCode)
	}
	deskA.answer(invA, fromA, 200, "OK")

	cancel, fromC := deskB.request(sip.CANCEL)
	deskB.answer(cancel, fromC, 200, "OK")
	deskB.answer(invB, fromB, 487, "Request Terminated")
	if ack, _ := deskB.request(sip.ACK); ack.CSeq().SeqNo != invB.CSeq().SeqNo {
		t.Fatalf("ACK for 487 with CSeq %d", ack.CSeq().SeqNo)
	}

	ok := caller.response(sip.INVITE, 200)
	if ok.StatusCode != 200 || !hasTag(ok.To()) {
		t.Fatalf("caller got %s", ok.StartLine())
	}
	if len(ok.GetHeaders("Record-Route")) == 0 {
		t.Fatal("200 without Record-Route")
	}
	if len(ok.GetHeaders("Via")) != 1 {
		t.Fatalf("200 carries %d Vias, want only the caller's", len(ok.GetHeaders("Via")))
	}
	// Like baresip, repeat the INVITE's credentials on ACK and BYE: they
	// are for our realm and must never reach the callee.
	withCreds := func(r *sip.Request) *sip.Request {
		if h := inv.GetHeader("Proxy-Authorization"); h != nil {
			r.AppendHeader(sip.NewHeader("Proxy-Authorization", h.Value()))
			r.AppendHeader(sip.NewHeader("Proxy-Authorization", h.Value()))
		}
		return r
	}
	caller.sendTo(withCreds(caller.inDialog(sip.ACK, inv, ok, inv.CSeq().SeqNo)), s.addr)
	ack, _ := deskA.request(sip.ACK)
	if ack.Route() != nil {
		t.Fatalf("ACK still carries our Route: %s", ack)
	}
	if ack.GetHeader("Proxy-Authorization") != nil {
		t.Fatalf("ACK forwarded the caller's credentials:\n%s", ack)
	}

	bye := withCreds(caller.inDialog(sip.BYE, inv, ok, inv.CSeq().SeqNo+1))
	caller.sendTo(bye, s.addr)
	byeA, fromBye := deskA.request(sip.BYE)
	if byeA.GetHeader("Proxy-Authorization") != nil {
		t.Fatalf("BYE forwarded the caller's credentials:\n%s", byeA)
	}
	deskA.answer(byeA, fromBye, 200, "OK")
	if res := caller.response(sip.BYE, 200); res.StatusCode != 200 {
		t.Fatalf("BYE answered %d", res.StatusCode)
	}

	var states []DialogState
	for _, ev := range s.dialogEvents() {
		if ev.Ext == "100" {
			states = append(states, ev.State)
		}
	}
	want := []DialogState{StateTrying, StateRinging, StateConfirmed, StateTerminated}
	if len(states) != len(want) {
		t.Fatalf("caller dialog states %v, want %v", states, want)
	}
	for i := range want {
		if states[i] != want[i] {
			t.Fatalf("caller dialog states %v, want %v", states, want)
		}
	}
}

func TestBusy(t *testing.T) {
	s := startStack(t)
	caller, desk := newPhone(t, "caller"), newPhone(t, "desk")
	s.bind(t, "102", desk, 1)
	inv := caller.call(s.addr, "100", "102")
	in, from := desk.request(sip.INVITE)
	desk.answer(in, from, 486, "Busy Here")
	desk.request(sip.ACK) // the proxy's hop-by-hop ACK
	res := caller.response(sip.INVITE, 200)
	if res.StatusCode != 486 {
		t.Fatalf("caller got %d, want 486", res.StatusCode)
	}
	caller.sendTo(ackFor(inv, res), s.addr)
}

func TestCallerCancel(t *testing.T) {
	s := startStack(t)
	caller, desk := newPhone(t, "caller"), newPhone(t, "desk")
	s.bind(t, "102", desk, 1)
	inv := caller.call(s.addr, "100", "102")
	in, from := desk.request(sip.INVITE)
	desk.answer(in, from, 180, "Ringing")
	caller.response(sip.INVITE, 180)

	cancel := sip.NewRequest(sip.CANCEL, *inv.Recipient.Clone())
	cancel.AppendHeader(inv.Via().Clone())
	mf := sip.MaxForwardsHeader(70)
	cancel.AppendHeader(&mf)
	cancel.AppendHeader(sip.HeaderClone(inv.From()))
	cancel.AppendHeader(sip.HeaderClone(inv.To()))
	cancel.AppendHeader(sip.HeaderClone(inv.CallID()))
	cancel.AppendHeader(&sip.CSeqHeader{SeqNo: inv.CSeq().SeqNo, MethodName: sip.CANCEL})
	cancel.SetBody(nil)
	caller.sendTo(cancel, s.addr)
	if res := caller.response(sip.CANCEL, 200); res.StatusCode != 200 {
		t.Fatalf("CANCEL answered %d", res.StatusCode)
	}
	dc, fromC := desk.request(sip.CANCEL)
	desk.answer(dc, fromC, 200, "OK")
	desk.answer(in, from, 487, "Request Terminated")
	if res := caller.response(sip.INVITE, 300); res.StatusCode != 487 {
		t.Fatalf("INVITE answered %d, want 487", res.StatusCode)
	}
}

func TestRejections(t *testing.T) {
	s := startStack(t)
	caller := newPhone(t, "caller")
	tests := []struct {
		name       string
		from, to   string
		domain     string
		maxFwd     int
		authorized bool
		want       int
	}{
		{"unknown number", "100", "199", testDomain, 70, true, 404},
		{"no binding", "100", "103", testDomain, 70, true, 480},
		{"foreign domain from unauthenticated source", "100", "200", "example.com", 70, false, 403},
		{"max-forwards 0", "100", "101", testDomain, 0, false, 483},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			caller.t = t
			inv := caller.invite(tc.from, tc.to, tc.domain)
			inv.MaxForwards().Dec()
			mf := sip.MaxForwardsHeader(uint32(tc.maxFwd))
			inv.ReplaceHeader(&mf)
			caller.sendTo(inv, s.addr)
			res := caller.response(sip.INVITE, 200)
			if tc.authorized {
				if res.StatusCode != 407 {
					t.Fatalf("got %d, want 407 first", res.StatusCode)
				}
				inv = caller.authorize(s.addr, inv, res, tc.from)
				caller.sendTo(inv, s.addr)
				res = caller.response(sip.INVITE, 200)
			}
			if res.StatusCode != tc.want {
				t.Fatalf("got %d %s, want %d", res.StatusCode, res.Reason, tc.want)
			}
			caller.sendTo(ackFor(inv, res), s.addr)
		})
	}
}

func TestWrongPasswordChallengedAgain(t *testing.T) {
	s := startStack(t)
	caller := newPhone(t, "caller")
	inv := caller.invite("100", "101", testDomain)
	caller.sendTo(inv, s.addr)
	res := caller.response(sip.INVITE, 200)
	next := caller.authorize(s.addr, inv, res, "101") // 101's name, 100's From
	caller.sendTo(next, s.addr)
	if res := caller.response(sip.INVITE, 200); res.StatusCode != 407 {
		t.Fatalf("credentials of another extension: %d, want 407", res.StatusCode)
	}
}

func TestBestResponse(t *testing.T) {
	tests := []struct {
		codes []int
		want  int
	}{
		{[]int{486, 603, 404}, 603},
		{[]int{500, 486}, 486},
		{[]int{503, 408}, 408},
		{[]int{302, 486}, 302},
		{[]int{480, 407, 404}, 407},
		{[]int{404, 480}, 404},
		{nil, 0},
	}
	for _, tc := range tests {
		if got := best(tc.codes); got != tc.want {
			t.Errorf("best(%v) = %d, want %d", tc.codes, got, tc.want)
		}
	}
}
