package proxy

import (
	"testing"

	"github.com/emiago/sipgo/sip"

	"github.com/sentralpbx/sentral/store"
)

// TestOutcomes: every call attempt is counted once by its outcome:
// answered at the 2xx, busy and failed at the caller's final response,
// no-answer for a refused call to a number nobody registered; the
// challenge before each is not an attempt. Drain shows in Draining.
func TestOutcomes(t *testing.T) {
	s := startStack(t)
	caller, desk := newPhone(t, "caller"), newPhone(t, "desk")
	s.bind(t, "102", desk, 1)

	// Busy.
	inv := caller.call(s.addr, "100", "102")
	in, from := desk.request(sip.INVITE)
	desk.answer(in, from, 486, "Busy Here")
	desk.request(sip.ACK)
	if res := caller.response(sip.INVITE, 200); res.StatusCode != 486 {
		t.Fatalf("busy call: caller got %d", res.StatusCode)
	} else {
		caller.sendTo(ackFor(inv, res), s.addr)
	}

	// Answered.
	inv = caller.call(s.addr, "100", "102")
	in, from = desk.request(sip.INVITE)
	desk.answer(in, from, 200, "OK")
	ok := caller.response(sip.INVITE, 200)
	if ok.StatusCode != 200 {
		t.Fatalf("answered call: caller got %d", ok.StatusCode)
	}
	caller.sendTo(caller.inDialog(sip.ACK, inv, ok, inv.CSeq().SeqNo), s.addr)
	desk.request(sip.ACK)
	if routing, dialogs := s.px.Active(); dialogs != 1 {
		t.Errorf("Active() = %d, %d; want one dialog", routing, dialogs)
	}

	// Refused by routing: nobody registered (480), unknown number (404).
	for _, tc := range []struct {
		to   string
		want int
	}{{"103", 480}, {"199", 404}} {
		inv := caller.invite("100", tc.to, testDomain)
		caller.sendTo(inv, s.addr)
		res := caller.response(sip.INVITE, 200)
		inv = caller.authorize(s.addr, inv, res, "100")
		caller.sendTo(inv, s.addr)
		if res = caller.response(sip.INVITE, 200); res.StatusCode != tc.want {
			t.Fatalf("call to %s: %d, want %d", tc.to, res.StatusCode, tc.want)
		}
		caller.sendTo(ackFor(inv, res), s.addr)
	}

	want := map[string]uint64{string(store.DispositionAnswered): 1, string(store.DispositionBusy): 1,
		string(store.DispositionNoAnswer): 1, string(store.DispositionFailed): 1, string(store.DispositionCancelled): 0}
	got := s.px.Outcomes()
	if len(got) != len(want) {
		t.Errorf("Outcomes() = %v, want %v", got, want)
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("Outcomes()[%s] = %d, want %d (all: %v)", k, got[k], n, got)
		}
	}

	if s.px.Draining() {
		t.Error("Draining before Drain")
	}
	s.px.Drain()
	if !s.px.Draining() {
		t.Error("not Draining after Drain")
	}
}

func TestOutcomeCountsUnknown(t *testing.T) {
	var c outcomeCounts
	c.add(store.DispositionCancelled)
	c.add("something new")
	if got := c.snapshot(); got["cancelled"] != 1 || got["failed"] != 1 {
		t.Errorf("snapshot %v", got)
	}
}
