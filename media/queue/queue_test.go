package queue

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestQueueOrderAndPositions(t *testing.T) {
	e := newEnv(t, Config{})
	e.sb.SetAvailable(tid, kari, true)
	a, _ := e.queued("91234567")
	b, bDone := e.queued("22222222")
	c, _ := e.queued("33333333")

	st := e.sb.Snapshot(tid)
	if got, want := queueIDs(st), []string{a.id, b.id, c.id}; !slices.Equal(got, want) {
		t.Fatalf("queue %v, want %v", got, want)
	}
	for i, q := range st.Queue {
		if q.Position != i+1 || q.Dialled != "100" || q.Since.IsZero() {
			t.Errorf("queue[%d] = %+v", i, q)
		}
	}
	if st.Queue[0].CallerName != "Per Persen" || st.Queue[1].CallerName != "" {
		t.Errorf("caller names %q, %q", st.Queue[0].CallerName, st.Queue[1].CallerName)
	}

	// Greeting, then the position, then music.
	e.until("b's announcement", func() bool {
		p := b.prompts()
		i := slices.Index(p, "queue-in-queue")
		return i >= 0 && len(p) > i+1
	})
	want := []string{"queue-welcome", "queue-you-are-number", "num-2", "queue-in-queue", "music"}
	if got := b.prompts(); len(got) < len(want) || !slices.Equal(got[:len(want)], want) {
		t.Errorf("b heard %v, want %v first", got, want)
	}

	// The second caller hangs up: gone from the queue, the third moves up
	// and hears its new position at the next announcement.
	b.end()
	e.waitDone(bDone)
	st = e.eventually("b gone", func(st State) bool { return len(st.Queue) == 2 })
	if got, want := queueIDs(st), []string{a.id, c.id}; !slices.Equal(got, want) {
		t.Fatalf("queue %v, want %v", got, want)
	}
	if r := lastRecent(st); r.ID != b.id || r.Outcome != OutcomeAbandoned || r.Operator != "" {
		t.Errorf("recent %+v, want b abandoned", r)
	}
	e.until("c told it is number 2", func() bool {
		p := c.prompts()
		// "num-3" first, later "num-2"
		i := slices.Index(p, "num-3")
		return i >= 0 && slices.Contains(p[i+1:], "num-2")
	})
}

func TestAnswerByOneOperator(t *testing.T) {
	e := newEnv(t, Config{})
	e.sb.SetAvailable(tid, kari, true)
	e.sb.SetAvailable(tid, ola, true)
	caller, done := e.queued("91234567")

	if err := e.sb.Answer(e.ctx, tid, kari, caller.id); err != nil {
		t.Fatal(err)
	}
	// Gone from the queue for everybody at once, ringing at kari.
	st := e.sb.Snapshot(tid)
	if len(st.Queue) != 0 {
		t.Errorf("queue after answer: %+v", st.Queue)
	}
	if got := st.CallsOf("kari"); len(got) != 1 || got[0].State != "ringing" || got[0].CallerName != "Per Persen" {
		t.Errorf("kari's calls %+v", got)
	}
	if got := st.CallsOf("ola"); len(got) != 0 {
		t.Errorf("ola's calls %+v", got)
	}
	err := e.sb.Answer(e.ctx, tid, ola, caller.id)
	if !errors.Is(err, ErrConflict) {
		t.Errorf("second Answer: %v, want ErrConflict", err)
	}

	d := e.expectDial("201")
	if d.from != "91234567" || d.fromName != "Per Persen" {
		t.Errorf("operator rung from %q %q", d.from, d.fromName)
	}
	opLeg := e.answer(d)
	e.until("bridged", func() bool { return e.media.bridged(caller, opLeg) })
	st = e.eventually("talking", func(st State) bool { return callState(st, caller.id) == "talking" })
	for _, o := range st.Operators {
		if want := o.Username == "kari"; o.Busy != want || !o.Available {
			t.Errorf("operator %+v", o)
		}
	}

	// The operator puts the phone down: the call is over.
	opLeg.end()
	e.waitDone(done)
	if !caller.wasHungUp() {
		t.Error("caller not hung up")
	}
	st = e.eventually("recent", func(st State) bool { return len(st.Recent) == 1 })
	if r := st.Recent[0]; r.Outcome != OutcomeAnswered || r.Operator != "kari" || r.Caller != "91234567" {
		t.Errorf("recent %+v", r)
	}
	if len(st.Calls) != 0 || e.media.nBridges() != 0 {
		t.Errorf("left over: calls %+v, %d bridges", st.Calls, e.media.nBridges())
	}
}

func TestOperatorDoesNotAnswer(t *testing.T) {
	e := newEnv(t, Config{})
	e.sb.SetAvailable(tid, kari, true)
	a, _ := e.queued("11111111")
	b, _ := e.queued("22222222")
	if err := e.sb.Answer(e.ctx, tid, kari, b.id); err != nil {
		t.Fatal(err)
	}
	if got := queueIDs(e.sb.Snapshot(tid)); !slices.Equal(got, []string{a.id}) {
		t.Fatalf("queue %v", got)
	}
	e.expectDial("201").reject()
	st := e.eventually("back in the queue", func(st State) bool { return len(st.Queue) == 2 })
	if got, want := queueIDs(st), []string{b.id, a.id}; !slices.Equal(got, want) {
		t.Errorf("queue %v, want %v (b back at the front)", got, want)
	}
	if len(st.Calls) != 0 {
		t.Errorf("calls %+v", st.Calls)
	}
	// It can be answered again.
	if err := e.sb.Answer(e.ctx, tid, kari, b.id); err != nil {
		t.Fatal(err)
	}
	e.answer(e.expectDial("201"))
	e.eventually("talking", func(st State) bool { return callState(st, b.id) == "talking" })
}

// talking sets up a caller talking to kari.
func (e *env) talking(number string) (caller, opLeg *fakeLeg, done chan struct{}) {
	e.t.Helper()
	e.sb.SetAvailable(tid, kari, true)
	caller, done = e.queued(number)
	if err := e.sb.Answer(e.ctx, tid, kari, caller.id); err != nil {
		e.t.Fatal(err)
	}
	opLeg = e.answer(e.expectDial(kari.Extension))
	e.until("caller and operator bridged", func() bool { return e.media.bridged(caller, opLeg) })
	e.eventually("talking", func(st State) bool { return callState(st, caller.id) == "talking" })
	return caller, opLeg, done
}

func TestHoldResume(t *testing.T) {
	e := newEnv(t, Config{})
	caller, opLeg, _ := e.talking("91234567")

	if err := e.sb.Hold(e.ctx, tid, kari, caller.id); err != nil {
		t.Fatal(err)
	}
	if s := callState(e.sb.Snapshot(tid), caller.id); s != "held" {
		t.Errorf("state %q, want held", s)
	}
	e.until("bridge down", func() bool { return !e.media.bridged(caller, opLeg) })
	n := caller.musicPlays()
	e.until("music to the caller", func() bool { return caller.musicPlays() > n })
	if opLeg.ended() {
		t.Error("operator's leg hung up on hold")
	}
	if err := e.sb.Resume(e.ctx, tid, kari, caller.id); err != nil {
		t.Fatal(err)
	}
	e.until("bridged again", func() bool { return e.media.bridged(caller, opLeg) })
	if s := callState(e.sb.Snapshot(tid), caller.id); s != "talking" {
		t.Errorf("state %q, want talking", s)
	}

	// Another operator may not touch it.
	if err := e.sb.Hold(e.ctx, tid, ola, caller.id); !errors.Is(err, ErrConflict) {
		t.Errorf("Hold by ola: %v, want ErrConflict", err)
	}
	// Put on hold, then the operator's phone goes down: back to the queue.
	if err := e.sb.Hold(e.ctx, tid, kari, caller.id); err != nil {
		t.Fatal(err)
	}
	opLeg.end()
	st := e.eventually("back in the queue", func(st State) bool { return len(st.Queue) == 1 })
	if q := st.Queue[0]; q.ID != caller.id || !q.Returned {
		t.Errorf("queue %+v, want the caller, returned", q)
	}
}

func TestBlindTransfer(t *testing.T) {
	for _, answered := range []bool{true, false} {
		t.Run(map[bool]string{true: "answered", false: "no answer"}[answered], func(t *testing.T) {
			e := newEnv(t, Config{})
			caller, opLeg, done := e.talking("91234567")
			if err := e.sb.Transfer(e.ctx, tid, kari, caller.id, "2001"); err != nil {
				t.Fatal(err)
			}
			// The operator is free at once.
			if !opLeg.wasHungUp() {
				t.Error("operator's leg not hung up")
			}
			st := e.sb.Snapshot(tid)
			if len(st.Calls) != 0 || st.Operators[0].Busy {
				t.Errorf("operator not free: %+v %+v", st.Calls, st.Operators)
			}
			d := e.expectDial("2001")
			if d.from != "91234567" {
				t.Errorf("target sees %q", d.from)
			}
			if !answered {
				d.reject()
				st := e.eventually("back in the queue", func(st State) bool { return len(st.Queue) == 1 })
				if q := st.Queue[0]; q.ID != caller.id || !q.Returned {
					t.Errorf("queue %+v", q)
				}
				e.until("told", func() bool { return slices.Contains(caller.prompts(), "queue-returned") })
				return
			}
			target := e.answer(d)
			e.until("bridged to target", func() bool { return e.media.bridged(caller, target) })
			st = e.eventually("recent", func(st State) bool { return len(st.Recent) == 1 })
			if r := st.Recent[0]; r.Outcome != OutcomeTransferred || r.To != "2001" || r.Operator != "kari" {
				t.Errorf("recent %+v", r)
			}
			target.end()
			e.waitDone(done)
			if st := e.sb.Snapshot(tid); len(st.Recent) != 1 {
				t.Errorf("recorded twice: %+v", st.Recent)
			}
		})
	}
}

func TestConsult(t *testing.T) {
	e := newEnv(t, Config{})
	caller, opLeg, done := e.talking("91234567")

	// 1. The target does not answer: the operator is back with the caller.
	if err := e.sb.Consult(e.ctx, tid, kari, caller.id, "2001"); err != nil {
		t.Fatal(err)
	}
	st := e.sb.Snapshot(tid)
	if c := st.CallsOf("kari"); len(c) != 1 || c[0].State != "consulting" || c[0].Consult == nil ||
		*c[0].Consult != (Consult{Target: "2001", Name: "Bygg og eiendom", State: "ringing"}) {
		t.Fatalf("calls %+v", c)
	}
	d := e.expectDial("2001")
	if d.from != kari.Extension || d.fromName != kari.Name {
		t.Errorf("target sees %q %q, want the operator", d.from, d.fromName)
	}
	d.reject()
	e.until("back to the caller", func() bool { return e.media.bridged(caller, opLeg) })
	e.eventually("talking", func(st State) bool { return callState(st, caller.id) == "talking" })

	// 2. Consult, talk, return.
	if err := e.sb.Consult(e.ctx, tid, kari, caller.id, "2001"); err != nil {
		t.Fatal(err)
	}
	target := e.answer(e.expectDial("2001"))
	e.until("operator talks to target", func() bool { return e.media.bridged(opLeg, target) })
	e.eventually("consult talking", func(st State) bool {
		c := st.CallsOf("kari")
		return len(c) == 1 && c[0].Consult != nil && c[0].Consult.State == "talking"
	})
	if e.media.bridged(caller, opLeg) {
		t.Error("caller still bridged while consulting")
	}
	if err := e.sb.Return(e.ctx, tid, kari, caller.id); err != nil {
		t.Fatal(err)
	}
	if !target.wasHungUp() {
		t.Error("target not hung up on return")
	}
	e.until("back to the caller", func() bool { return e.media.bridged(caller, opLeg) })

	// 3. Consult, talk, connect.
	if err := e.sb.Consult(e.ctx, tid, kari, caller.id, "2001"); err != nil {
		t.Fatal(err)
	}
	if err := e.sb.Connect(e.ctx, tid, ola, caller.id); !errors.Is(err, ErrConflict) {
		t.Errorf("Connect by ola: %v", err)
	}
	target = e.answer(e.expectDial("2001"))
	e.until("operator talks to target", func() bool { return e.media.bridged(opLeg, target) })
	if err := e.sb.Connect(e.ctx, tid, kari, caller.id); err != nil {
		t.Fatal(err)
	}
	if !opLeg.wasHungUp() {
		t.Error("operator's leg not hung up on connect")
	}
	e.until("caller talks to target", func() bool { return e.media.bridged(caller, target) })
	st = e.eventually("recent", func(st State) bool { return len(st.Recent) == 1 })
	if r := st.Recent[0]; r.Outcome != OutcomeTransferred || r.To != "2001" || r.Operator != "kari" {
		t.Errorf("recent %+v", r)
	}
	if len(st.Calls) != 0 {
		t.Errorf("calls %+v", st.Calls)
	}
	if err := e.sb.Return(e.ctx, tid, kari, caller.id); !errors.Is(err, ErrConflict) {
		t.Errorf("Return after connect: %v, want ErrConflict", err)
	}
	caller.end()
	e.waitDone(done)
	if !target.wasHungUp() {
		t.Error("target not hung up when the caller left")
	}
	if err := e.sb.Hangup(e.ctx, tid, kari, caller.id); !errors.Is(err, ErrNotFound) {
		t.Errorf("Hangup of an ended call: %v, want ErrNotFound", err)
	}
}

// Hanging up the operator's phone while consulting transfers the call.
func TestConsultOperatorHangsUp(t *testing.T) {
	e := newEnv(t, Config{})
	caller, opLeg, _ := e.talking("91234567")
	if err := e.sb.Consult(e.ctx, tid, kari, caller.id, "2001"); err != nil {
		t.Fatal(err)
	}
	d := e.expectDial("2001")
	opLeg.end() // while the target rings: a blind transfer
	e.eventually("free", func(st State) bool { return len(st.Calls) == 0 })
	target := e.answer(d)
	e.until("caller talks to target", func() bool { return e.media.bridged(caller, target) })
}

func TestParkRetrieve(t *testing.T) {
	e := newEnv(t, Config{ParkSlots: 2})
	e.sb.SetAvailable(tid, ola, true)
	caller, opLeg, _ := e.talking("91234567")

	slot, err := e.sb.Park(e.ctx, tid, kari, caller.id)
	if err != nil || slot != 1 {
		t.Fatalf("Park = %d, %v", slot, err)
	}
	if !opLeg.wasHungUp() {
		t.Error("operator's leg not hung up")
	}
	st := e.sb.Snapshot(tid)
	if len(st.Parked) != 1 || st.Parked[0] != (ParkedCall{Slot: 1, ID: caller.id, Caller: "91234567",
		CallerName: "Per Persen", Since: st.Parked[0].Since, By: "kari"}) || len(st.Calls) != 0 {
		t.Fatalf("parked %+v calls %+v", st.Parked, st.Calls)
	}
	if err := e.sb.Retrieve(e.ctx, tid, ola, 2); !errors.Is(err, ErrNotFound) {
		t.Errorf("Retrieve of an empty slot: %v", err)
	}

	// Ola retrieves; does not answer at first: still parked in slot 1.
	if err := e.sb.Retrieve(e.ctx, tid, ola, 1); err != nil {
		t.Fatal(err)
	}
	if st := e.sb.Snapshot(tid); len(st.Parked) != 0 || callState(st, caller.id) != "ringing" {
		t.Errorf("after retrieve: parked %+v calls %+v", st.Parked, st.Calls)
	}
	e.expectDial(ola.Extension).reject()
	e.eventually("parked again", func(st State) bool { return len(st.Parked) == 1 && st.Parked[0].Slot == 1 })

	if err := e.sb.Retrieve(e.ctx, tid, ola, 1); err != nil {
		t.Fatal(err)
	}
	olaLeg := e.answer(e.expectDial(ola.Extension))
	e.until("bridged to ola", func() bool { return e.media.bridged(caller, olaLeg) })
	st = e.eventually("ola talks", func(st State) bool {
		c := st.CallsOf("ola")
		return len(c) == 1 && c[0].State == "talking"
	})
	if len(st.Parked) != 0 {
		t.Errorf("parked %+v", st.Parked)
	}

	// Slots run out.
	if s, err := e.sb.Park(e.ctx, tid, ola, caller.id); err != nil || s != 1 {
		t.Fatalf("Park = %d, %v", s, err)
	}
	c2, _, _ := e.talking("22222222")
	if s, err := e.sb.Park(e.ctx, tid, kari, c2.id); err != nil || s != 2 {
		t.Fatalf("Park = %d, %v", s, err)
	}
	c3, _, _ := e.talking("33333333")
	if _, err := e.sb.Park(e.ctx, tid, kari, c3.id); !errors.Is(err, ErrConflict) {
		t.Errorf("Park with the slots full: %v, want ErrConflict", err)
	}
	if callState(e.sb.Snapshot(tid), c3.id) != "talking" {
		t.Error("refused park changed the call")
	}
}

func TestToVoicemail(t *testing.T) {
	e := newEnv(t, Config{})
	caller, opLeg, done := e.talking("91234567")
	if err := e.sb.ToVoicemail(e.ctx, tid, kari, caller.id, ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("no mailbox: %v", err)
	}
	if err := e.sb.ToVoicemail(e.ctx, tid, kari, caller.id, "2001"); err != nil {
		t.Fatal(err)
	}
	e.waitDone(done)
	if !opLeg.wasHungUp() || !caller.wasHungUp() {
		t.Error("legs not hung up")
	}
	if got := e.media.voicemailed(); !slices.Equal(got, []string{caller.id + ">2001"}) {
		t.Errorf("voicemail %v", got)
	}
	st := e.sb.Snapshot(tid)
	if len(st.Recent) != 1 || st.Recent[0].Outcome != OutcomeVoicemail || st.Recent[0].To != "2001" {
		t.Errorf("recent %+v", st.Recent)
	}
}

func TestHangup(t *testing.T) {
	t.Run("caller while talking", func(t *testing.T) {
		e := newEnv(t, Config{})
		caller, opLeg, done := e.talking("91234567")
		caller.end()
		e.waitDone(done)
		if !opLeg.wasHungUp() {
			t.Error("operator's leg not hung up")
		}
		st := e.sb.Snapshot(tid)
		if len(st.Calls) != 0 || len(st.Recent) != 1 || st.Recent[0].Outcome != OutcomeAnswered {
			t.Errorf("calls %+v recent %+v", st.Calls, st.Recent)
		}
	})
	t.Run("operator", func(t *testing.T) {
		e := newEnv(t, Config{})
		caller, opLeg, done := e.talking("91234567")
		if err := e.sb.Hangup(e.ctx, tid, ola, caller.id); !errors.Is(err, ErrConflict) {
			t.Errorf("Hangup by ola: %v", err)
		}
		if err := e.sb.Hangup(e.ctx, tid, kari, caller.id); err != nil {
			t.Fatal(err)
		}
		e.waitDone(done)
		if !opLeg.wasHungUp() || !caller.wasHungUp() {
			t.Error("legs not hung up")
		}
	})
	t.Run("caller while the operator rings", func(t *testing.T) {
		e := newEnv(t, Config{})
		e.sb.SetAvailable(tid, kari, true)
		caller, done := e.queued("91234567")
		if err := e.sb.Answer(e.ctx, tid, kari, caller.id); err != nil {
			t.Fatal(err)
		}
		d := e.expectDial(kari.Extension)
		caller.end()
		e.waitDone(done)
		st := e.sb.Snapshot(tid)
		if len(st.Calls) != 0 || st.Recent[0].Outcome != OutcomeAbandoned {
			t.Errorf("calls %+v recent %+v", st.Calls, st.Recent)
		}
		// The dial was given up; answering it now is too late.
		select {
		case d.result <- dialResult{leg: e.leg("201")}:
		default:
		}
	})
}

func TestNightService(t *testing.T) {
	hours, err := ParseHours("mon-fri 08:00-15:30")
	if err != nil {
		t.Fatal(err)
	}
	sunday := time.Date(2026, 3, 8, 12, 0, 0, 0, oslo)
	tests := []struct {
		name      string
		target    string
		closed    bool // by hours (else: nobody available)
		reason    string
		dial      bool // the night target is dialled and answers
		voicemail string
		prompt    string
	}{
		{name: "hours, voicemail", target: "voicemail:2000", closed: true, reason: NightClosed, voicemail: "2000"},
		{name: "no operator, number", target: "2000", reason: NightNoOperator, dial: true},
		{name: "no operator, no target", reason: NightNoOperator, prompt: "queue-closed"},
		{name: "hours, no target", closed: true, reason: NightClosed, prompt: "queue-closed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, Config{Hours: hours, NightTarget: tt.target, Lang: "en"})
			if tt.closed {
				e.setNow(sunday)
				e.sb.SetAvailable(tid, kari, true)
			}
			if n := e.sb.Snapshot(tid).Night; n != (Night{Active: true, Reason: tt.reason, Target: tt.target}) {
				t.Errorf("night %+v", n)
			}
			caller, done := e.call("91234567")
			if tt.dial {
				d := e.expectDial("2000")
				target := e.answer(d)
				e.until("bridged", func() bool { return e.media.bridged(caller, target) })
				target.end()
			}
			e.waitDone(done)
			if !caller.wasHungUp() {
				t.Error("caller not hung up")
			}
			if tt.voicemail != "" {
				if got := e.media.voicemailed(); !slices.Equal(got, []string{caller.id + ">" + tt.voicemail}) {
					t.Errorf("voicemail %v", got)
				}
			}
			if tt.prompt != "" && !slices.Equal(caller.prompts(), []string{tt.prompt}) {
				t.Errorf("heard %v, want %s", caller.prompts(), tt.prompt)
			}
			st := e.sb.Snapshot(tid)
			if len(st.Queue) != 0 || len(st.Recent) != 1 || st.Recent[0].Outcome != OutcomeOverflow || st.Recent[0].To != tt.target {
				t.Errorf("queue %+v recent %+v", st.Queue, st.Recent)
			}
		})
	}
}

// Calls already waiting stay when the last operator logs out.
func TestLastOperatorLeaves(t *testing.T) {
	e := newEnv(t, Config{})
	e.sb.SetAvailable(tid, kari, true)
	waiting, _ := e.queued("11111111")
	e.sb.SetAvailable(tid, kari, false)
	if n := e.sb.Snapshot(tid).Night; !n.Active || n.Reason != NightNoOperator {
		t.Errorf("night %+v", n)
	}
	_, done := e.call("22222222")
	e.waitDone(done) // overflowed: closed message
	st := e.sb.Snapshot(tid)
	if got := queueIDs(st); !slices.Equal(got, []string{waiting.id}) {
		t.Errorf("queue %v", got)
	}
	// and it can still be answered
	if err := e.sb.Answer(e.ctx, tid, kari, waiting.id); err != nil {
		t.Fatal(err)
	}
}

func TestDialOut(t *testing.T) {
	e := newEnv(t, Config{Number: "100"})
	if _, err := e.sb.DialOut(e.ctx, tid, kari, "abc"); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad target: %v", err)
	}
	id, err := e.sb.DialOut(e.ctx, tid, kari, "91234567")
	if err != nil {
		t.Fatal(err)
	}
	if c := e.sb.Snapshot(tid).CallsOf("kari"); len(c) != 1 || c[0].ID != id || c[0].State != "ringing" || c[0].CallerName != "Per Persen" {
		t.Errorf("calls %+v", c)
	}
	opLeg := e.answer(e.expectDial(kari.Extension))
	d := e.expectDial("91234567")
	if d.from != "100" {
		t.Errorf("target sees %q, want the switchboard's number", d.from)
	}
	e.until("ring-back to the operator", func() bool { return slices.Contains(opLeg.prompts(), "music") })
	target := e.answer(d)
	e.until("bridged", func() bool { return e.media.bridged(target, opLeg) })
	e.eventually("talking", func(st State) bool { return callState(st, id) == "talking" })

	// It is an ordinary call now: hold it.
	if err := e.sb.Hold(e.ctx, tid, kari, id); err != nil {
		t.Fatal(err)
	}
	e.until("unbridged", func() bool { return !e.media.bridged(target, opLeg) })
	target.end()
	e.eventually("gone", func(st State) bool { return len(st.Calls) == 0 })
	if st := e.sb.Snapshot(tid); len(st.Recent) != 0 {
		t.Errorf("call-back listed in recent: %+v", st.Recent)
	}

	// The operator does not answer: nothing happens.
	id2, err := e.sb.DialOut(e.ctx, tid, kari, "22222222")
	if err != nil {
		t.Fatal(err)
	}
	e.expectDial(kari.Extension).reject()
	e.eventually("gone", func(st State) bool { return callState(st, id2) == "" })
}

func TestActionErrors(t *testing.T) {
	e := newEnv(t, Config{})
	e.sb.SetAvailable(tid, kari, true)
	caller, _ := e.queued("91234567")
	tests := []struct {
		name string
		do   func() error
		want error
	}{
		{"answer unknown", func() error { return e.sb.Answer(e.ctx, tid, kari, "nope") }, ErrNotFound},
		{"answer other tenant", func() error { return e.sb.Answer(e.ctx, tid+1, kari, caller.id) }, ErrNotFound},
		{"answer without extension", func() error {
			return e.sb.Answer(e.ctx, tid, Operator{Username: "x"}, caller.id)
		}, ErrInvalid},
		{"answer without operator", func() error { return e.sb.Answer(e.ctx, tid, Operator{}, caller.id) }, ErrInvalid},
		{"hold a queued call", func() error { return e.sb.Hold(e.ctx, tid, kari, caller.id) }, ErrConflict},
		{"transfer bad target", func() error { return e.sb.Transfer(e.ctx, tid, kari, caller.id, "20 01") }, ErrInvalid},
		{"transfer a queued call", func() error { return e.sb.Transfer(e.ctx, tid, kari, caller.id, "2001") }, ErrConflict},
		{"consult no target", func() error { return e.sb.Consult(e.ctx, tid, kari, caller.id, "") }, ErrInvalid},
		{"connect a queued call", func() error { return e.sb.Connect(e.ctx, tid, kari, caller.id) }, ErrConflict},
		{"retrieve unknown slot", func() error { return e.sb.Retrieve(e.ctx, tid, kari, 3) }, ErrNotFound},
		{"park a queued call", func() error { _, err := e.sb.Park(e.ctx, tid, kari, caller.id); return err }, ErrConflict},
	}
	for _, tt := range tests {
		if err := tt.do(); !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
	if got := queueIDs(e.sb.Snapshot(tid)); !slices.Equal(got, []string{caller.id}) {
		t.Errorf("refused actions changed the queue: %v", got)
	}
}

func TestSubscribe(t *testing.T) {
	e := newEnv(t, Config{})
	ctx, cancel := context.WithCancel(e.ctx)
	ch := e.sb.Subscribe(ctx)
	e.sb.SetAvailable(tid, kari, true)
	// Nobody reads for a while: the engine does not wait, and the changes
	// coalesce.
	for range 100 {
		e.sb.SetAvailable(tid, kari, true)
	}
	e.queued("91234567")
	got := map[Change]int{}
	timeout := time.After(5 * time.Second)
	for got[Change{tid, KindQueue}] == 0 {
		select {
		case c := <-ch:
			got[c]++
		case <-timeout:
			t.Fatalf("changes %v, no queue change", got)
		}
	}
	// 101 operator changes were published while nobody read: at most
	// the first went out alone, the rest coalesced.
	if n := got[Change{tid, KindOperators}]; n < 1 || n > 2 {
		t.Errorf("changes %v: want operators once or twice", got)
	}
	cancel()
	for range ch { // closed when ctx ends
	}
}

func TestStateJSON(t *testing.T) {
	e := newEnv(t, Config{})
	b, err := json.Marshal(e.sb.Snapshot(tid))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"queue":[]`, `"calls":[]`, `"parked":[]`, `"operators":[]`, `"recent":[]`, `"night":{"active":true,"reason":"no-operator","target":""}`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("%s lacks %s", b, k)
		}
	}
	caller, _, _ := e.talking("91234567")
	b, _ = json.Marshal(e.sb.Snapshot(tid).Calls)
	for _, k := range []string{`"id":"` + caller.id, `"caller_name":"Per Persen"`, `"state":"talking"`, `"consult":null`, `"dialled":"100"`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("%s lacks %s", b, k)
		}
	}
}

func TestHoldMusic(t *testing.T) {
	m := holdMusic()
	if len(m) != 10*sampleRate {
		t.Errorf("%d samples, want 10 s", len(m))
	}
	var sum float64
	peak := 0
	for _, v := range m {
		sum += float64(v) * float64(v)
		peak = max(peak, int(v), -int(v))
	}
	rms := 20 * math.Log10(math.Sqrt(sum/float64(len(m)))/32767)
	if rms < -18.5 || rms > -17.5 {
		t.Errorf("RMS %.1f dBFS, want -18", rms)
	}
	if peak > 29205 { // -1 dBFS
		t.Errorf("peak %d, above -1 dBFS", peak)
	}
	// The loop joins without a click: the step across the seam is no
	// bigger than steps inside.
	maxStep := 0
	for i := 1; i < len(m); i++ {
		maxStep = max(maxStep, abs(int(m[i])-int(m[i-1])))
	}
	if step := abs(int(m[0]) - int(m[len(m)-1])); step > maxStep {
		t.Errorf("seam step %d, largest step inside %d", step, maxStep)
	}
	r := ringback()
	if len(r) != 5*sampleRate || r[sampleRate+10] != 0 {
		t.Error("ring-back cadence")
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// TestNightChangeAfterFirstOperator: a console that read the state while
// nobody was available shows night service; the first operator becoming
// available must be announced as a night change.
func TestNightChangeAfterFirstOperator(t *testing.T) {
	e := newEnv(t, Config{})
	if n := e.sb.Snapshot(tid).Night; !n.Active || n.Reason != NightNoOperator {
		t.Fatalf("before anyone is available: %+v", n)
	}
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	ch := e.sb.Subscribe(ctx)
	e.sb.SetAvailable(tid, kari, true)
	timeout := time.After(5 * time.Second)
	for {
		select {
		case c := <-ch:
			if c.Kind == KindNight {
				if n := e.sb.Snapshot(tid).Night; n.Active {
					t.Fatalf("night still active after an operator became available: %+v", n)
				}
				return
			}
		case <-timeout:
			t.Fatal("no night change when the first operator became available")
		}
	}
}
