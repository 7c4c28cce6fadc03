package queue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"
)

// Call states. The console sees ringing, talking, held and consulting as
// an operator's calls, queued as the queue and parked as parked; the
// others are on their way out of the switchboard.
const (
	stQueued       = "queued"
	stRinging      = "ringing"    // an operator's extension rings (answer, retrieve)
	stTalking      = "talking"    // caller and operator bridged
	stHeld         = "held"       // caller on music, operator's leg up and silent
	stConsulting   = "consulting" // caller on music, operator talks to (or rings) a target
	stParked       = "parked"
	stTransferring = "transferring" // caller on music, target rings; operator gone
	stConnected    = "connected"    // caller bridged to a transfer target
	stVoicemail    = "voicemail"
	stDialOut      = "dialout" // call-back: the operator, then the target, rings
	stEnded        = "ended"
)

// call is one call at the switchboard. The fields below mu are the view,
// guarded by Switchboard.mu, written only by the call's owner goroutine
// (and by enqueue before it starts).
type call struct {
	s        *Switchboard
	tenantID int64
	id       string
	caller   string
	dialled  string
	lang     string
	slots    int
	log      *zap.Logger
	reqs     chan request
	done     chan struct{} // closed when the owner has finished

	// guarded by s.mu
	callerName string
	state      string
	op         Operator // the operator whose call it is (ringing..consulting)
	since      time.Time
	opSince    time.Time
	returned   bool
	consult    *Consult
	slot       int // parking slot, kept while a retrieve rings
	parkedBy   string
	parkedAt   time.Time
}

// visibleState is the state an operator sees, "" when not an operator's
// call; s.mu must be held.
func (c *call) visibleState() string {
	switch c.state {
	case stRinging, stTalking, stHeld, stConsulting:
		return c.state
	case stDialOut:
		return stRinging
	}
	return ""
}

// position is the call's place in the queue, 1-based; 0 when not queued.
func (c *call) position() int {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if t := c.s.tenants[c.tenantID]; t != nil {
		for i, q := range t.queue {
			if q == c {
				return i + 1
			}
		}
	}
	return 0
}

type reqKind int

const (
	reqAnswer reqKind = iota
	reqRetrieve
	reqHold
	reqResume
	reqHangup
	reqTransfer
	reqConsult
	reqConnect
	reqReturn
	reqVoicemail
	reqPark
)

var reqNames = [...]string{"answer", "retrieve", "hold", "resume", "hangup", "transfer", "consult", "connect", "return", "voicemail", "park"}

func (k reqKind) String() string { return reqNames[k] }

// request is an operator's action on a call, answered by its owner.
type request struct {
	kind   reqKind
	op     Operator
	target string // transfer/consult target, mailbox
	name   string // the target's name, looked up by the sender
	reply  chan reply
}

type reply struct {
	slot int
	err  error
}

// send delivers a request to the call's owner and waits for the answer.
func (s *Switchboard) send(ctx context.Context, tenantID int64, callID string, r request) (reply, error) {
	if r.op.Username == "" {
		return reply{}, fmt.Errorf("%w: no operator", ErrInvalid)
	}
	s.mu.Lock()
	var c *call
	if t := s.tenants[tenantID]; t != nil {
		c = t.calls[callID]
	}
	s.mu.Unlock()
	if c == nil {
		return reply{}, fmt.Errorf("call %s: %w", callID, ErrNotFound)
	}
	return c.send(ctx, r)
}

func (c *call) send(ctx context.Context, r request) (reply, error) {
	gone := fmt.Errorf("call %s: %w (it has ended)", c.id, ErrNotFound)
	r.reply = make(chan reply, 1)
	select {
	case c.reqs <- r:
	case <-c.done:
		return reply{}, gone
	case <-ctx.Done():
		return reply{}, ctx.Err()
	}
	select {
	case rep := <-r.reply:
		return rep, rep.err
	case <-ctx.Done():
		return reply{}, ctx.Err()
	}
}

// Answer takes a waiting call: the operator's extension rings (RingTime)
// and is bridged to the caller when answered. The call leaves the queue
// at once and shows as ringing at the operator; if the operator does not
// answer it goes back to the queue's front. ErrConflict when another
// operator has it.
func (s *Switchboard) Answer(ctx context.Context, tenantID int64, op Operator, callID string) error {
	_, err := s.send(ctx, tenantID, callID, request{kind: reqAnswer, op: op})
	return err
}

// Hold puts the caller on music; the operator's leg stays up, silent.
func (s *Switchboard) Hold(ctx context.Context, tenantID int64, op Operator, callID string) error {
	_, err := s.send(ctx, tenantID, callID, request{kind: reqHold, op: op})
	return err
}

// Resume bridges a held caller to the operator again.
func (s *Switchboard) Resume(ctx context.Context, tenantID int64, op Operator, callID string) error {
	_, err := s.send(ctx, tenantID, callID, request{kind: reqResume, op: op})
	return err
}

// Hangup ends the operator's call: the caller, the operator's leg and a
// consulted target are hung up.
func (s *Switchboard) Hangup(ctx context.Context, tenantID int64, op Operator, callID string) error {
	_, err := s.send(ctx, tenantID, callID, request{kind: reqHangup, op: op})
	return err
}

// Transfer is a blind transfer: the operator's leg is hung up at once and
// the caller hears music while target rings (RingTime); on answer they
// are bridged, otherwise the call returns to the queue's front, flagged
// returned.
func (s *Switchboard) Transfer(ctx context.Context, tenantID int64, op Operator, callID, target string) error {
	if err := checkTarget(target); err != nil {
		return err
	}
	_, err := s.send(ctx, tenantID, callID, request{kind: reqTransfer, op: op, target: target})
	return err
}

// Consult starts an announced transfer: the caller hears music and the
// operator's leg is bridged to a new call to target. If target does not
// answer, or hangs up, the operator is back with the caller. If the
// operator hangs up while consulting, the caller is connected to the
// target (or, while it still rings, transferred blind).
func (s *Switchboard) Consult(ctx context.Context, tenantID int64, op Operator, callID, target string) error {
	if err := checkTarget(target); err != nil {
		return err
	}
	_, err := s.send(ctx, tenantID, callID, request{kind: reqConsult, op: op, target: target, name: s.name(tenantID, target)})
	return err
}

// Connect ends a consultation by bridging the caller to the target and
// hanging up the operator's leg. While the target still rings, this is a
// blind transfer to it.
func (s *Switchboard) Connect(ctx context.Context, tenantID int64, op Operator, callID string) error {
	_, err := s.send(ctx, tenantID, callID, request{kind: reqConnect, op: op})
	return err
}

// Return ends a consultation: the target is hung up (or no longer rung)
// and the operator talks to the caller again.
func (s *Switchboard) Return(ctx context.Context, tenantID int64, op Operator, callID string) error {
	_, err := s.send(ctx, tenantID, callID, request{kind: reqReturn, op: op})
	return err
}

// ToVoicemail hangs up the operator's leg and puts the caller into
// mailbox's greeting and recording.
func (s *Switchboard) ToVoicemail(ctx context.Context, tenantID int64, op Operator, callID, mailbox string) error {
	if err := checkTarget(mailbox); err != nil {
		return err
	}
	_, err := s.send(ctx, tenantID, callID, request{kind: reqVoicemail, op: op, target: mailbox})
	return err
}

// Park parks the caller on music in the lowest free slot (1..ParkSlots)
// and hangs up the operator's leg. ErrConflict when every slot is taken.
func (s *Switchboard) Park(ctx context.Context, tenantID int64, op Operator, callID string) (slot int, err error) {
	rep, err := s.send(ctx, tenantID, callID, request{kind: reqPark, op: op})
	return rep.slot, err
}

// Retrieve takes a parked call: like Answer, the operator's extension
// rings; if it is not answered the call stays parked in its slot.
func (s *Switchboard) Retrieve(ctx context.Context, tenantID int64, op Operator, slot int) error {
	var c *call
	s.mu.Lock()
	if t := s.tenants[tenantID]; t != nil {
		for _, x := range t.calls {
			if x.slot == slot && x.state == stParked {
				c = x
				break
			}
		}
	}
	s.mu.Unlock()
	if c == nil {
		return fmt.Errorf("parking slot %d: %w", slot, ErrNotFound)
	}
	if op.Username == "" {
		return fmt.Errorf("%w: no operator", ErrInvalid)
	}
	_, err := c.send(ctx, request{kind: reqRetrieve, op: op})
	return err
}

// checkTarget rejects a target no phone could dial.
func checkTarget(target string) error {
	if target == "" {
		return fmt.Errorf("%w: no target", ErrInvalid)
	}
	if len(target) > 64 {
		return fmt.Errorf("%w: target %.20q... is too long", ErrInvalid, target)
	}
	for _, r := range target {
		if !(r >= '0' && r <= '9' || r == '+' || r == '*' || r == '#') {
			return fmt.Errorf("%w: target %q: use digits, and + * # only", ErrInvalid, target)
		}
	}
	return nil
}

// activity is a child goroutine of a call's owner: music, a bridge, a
// dial, voicemail. stop cancels it and waits for it.
type activity struct {
	cancel context.CancelFunc
	done   chan struct{}
	what   string
}

func (a *activity) stop() {
	if a == nil {
		return
	}
	a.cancel()
	<-a.done
}

// event is what an activity reports to the owner.
type event struct {
	act *activity
	leg Leg // dialled leg, or the leg that ended a bridge
	err error
}

// Dial purposes.
const (
	dialOperator   = "operator" // answer, retrieve
	dialTarget     = "target"   // blind transfer, consult
	dialBackOp     = "callback-operator"
	dialBackTarget = "callback-target"
)

// owner is the call's owner goroutine state: the legs and activities.
// Only run (and what it calls) touches it.
type owner struct {
	c      *call
	ctx    context.Context
	leg    Leg // the caller; nil while a call-back rings
	opLeg  Leg
	target Leg // consult or transfer target

	callerAct *activity // music, bridge or voicemail on the caller's leg
	callerUse string    // "queue", "hold", "bridge", "voicemail", ""
	opAct     *activity // consult bridge or ring-back on the operator's leg
	dial      *activity
	dialWhat  string
	events    chan event

	answered bool   // an operator talked to the caller
	lastOp   string // the operator who last had the call
	to       string // where it was sent
	recorded bool   // Recent has it
	noRecord bool   // call-backs are not listed
	finished bool

	// call-backs: what to present to the target
	cfgNumber string
	opExt     string
}

func (s *Switchboard) newCall(tenantID int64, id, caller, callerName, dialled string, cfg Config) *call {
	slots := cfg.ParkSlots
	if slots <= 0 {
		slots = DefaultParkSlots
	}
	return &call{
		s: s, tenantID: tenantID, id: id, caller: caller, callerName: callerName, dialled: dialled,
		lang: cfg.Lang, slots: slots,
		log:  s.log.With(zap.String("call_id", id), zap.Int64("tenant", tenantID)),
		reqs: make(chan request), done: make(chan struct{}),
	}
}

// run is the call's owner loop; it returns when the call has left the
// switchboard (and every child goroutine has stopped).
func (o *owner) run() {
	defer close(o.c.done)
	defer o.finish()
	for !o.finished {
		select {
		case <-o.ctx.Done():
			return
		case <-doneOf(o.leg):
			o.leg = nil
			o.callerEnded()
		case <-doneOf(o.opLeg):
			o.opLeg = nil
			o.opEnded()
		case <-doneOf(o.target):
			o.target = nil
			o.targetEnded()
		case ev := <-o.events:
			o.event(ev)
		case r := <-o.c.reqs:
			rep := o.request(r)
			if rep.err != nil {
				o.c.log.Debug("switchboard action refused", zap.Stringer("action", r.kind),
					zap.String("operator", r.op.Username), zap.Error(rep.err))
			}
			r.reply <- rep
		}
	}
}

func doneOf(l Leg) <-chan struct{} {
	if l == nil {
		return nil
	}
	return l.Done()
}

// update changes the call's view under the lock and publishes kinds.
func (o *owner) update(f func(c *call, t *tenant), kinds ...string) {
	s := o.c.s
	s.mu.Lock()
	f(o.c, s.tenantLocked(o.c.tenantID))
	s.mu.Unlock()
	s.publish(o.c.tenantID, kinds...)
}

func (o *owner) state() string {
	o.c.s.mu.Lock()
	defer o.c.s.mu.Unlock()
	return o.c.state
}

func (o *owner) now() time.Time { return o.c.s.Now().UTC() }

// start runs f as a child activity.
func (o *owner) start(what string, f func(ctx context.Context, a *activity)) *activity {
	ctx, cancel := context.WithCancel(o.ctx)
	a := &activity{cancel: cancel, done: make(chan struct{}), what: what}
	go func() {
		defer close(a.done)
		f(ctx, a)
	}()
	return a
}

// report sends an event from activity a unless it has been stopped.
func (o *owner) report(ctx context.Context, ev event) bool {
	select {
	case o.events <- ev:
		return true
	case <-ctx.Done():
		return false
	}
}

// setCaller replaces what the caller's leg is doing.
func (o *owner) setCaller(use string, a func(ctx context.Context) *activity) {
	o.callerAct.stop()
	o.callerAct, o.callerUse = nil, ""
	if a != nil && o.leg != nil {
		o.callerUse = use
		o.callerAct = a(o.ctx)
	}
}

// music plays hold music to the caller; in the queue with position
// announcements, after intro (a prompt name, "" none). It keeps playing
// music already running in the same way.
func (o *owner) music(queue bool, intro string) {
	use := "hold"
	if queue {
		use = "queue"
	}
	if o.callerUse == use && intro == "" {
		return
	}
	leg, c := o.leg, o.c
	o.setCaller(use, func(context.Context) *activity {
		return o.start("music", func(ctx context.Context, _ *activity) {
			c.s.playMusic(ctx, leg, c, queue, intro)
		})
	})
}

// bridgeCaller bridges the caller to other.
func (o *owner) bridgeCaller(other Leg) {
	leg := o.leg
	o.setCaller("bridge", func(context.Context) *activity {
		return o.start("bridge", func(ctx context.Context, a *activity) {
			ended, err := o.c.s.media.Bridge(ctx, leg, other)
			if ctx.Err() == nil {
				o.report(ctx, event{act: a, leg: ended, err: err})
			}
		})
	})
}

// bridgeOp bridges the operator's leg to the target (consulting).
func (o *owner) bridgeOp() {
	o.opAct.stop()
	opLeg, target := o.opLeg, o.target
	o.opAct = o.start("consult-bridge", func(ctx context.Context, a *activity) {
		ended, err := o.c.s.media.Bridge(ctx, opLeg, target)
		if ctx.Err() == nil {
			o.report(ctx, event{act: a, leg: ended, err: err})
		}
	})
}

// dialNumber starts dialling; the result comes back as an event.
func (o *owner) dialNumber(what, number, from, fromName string) {
	o.dial.stop()
	s, tenantID := o.c.s, o.c.tenantID
	var headers map[string]string
	if what == dialOperator || what == dialBackOp {
		// The operator's browser answers the calls its console asked for
		// by itself (the operator pressed Answer already).
		headers = map[string]string{ConsoleHeader: o.c.id}
	}
	a := o.start("dial", func(ctx context.Context, a *activity) {
		leg, err := s.media.Dial(ctx, tenantID, number, from, fromName, s.RingTime, headers)
		if err == nil && leg == nil {
			err = errors.New("no leg")
		}
		if err == nil && ctx.Err() != nil {
			leg.Hangup() // answered just as we gave up
			return
		}
		if !o.report(ctx, event{act: a, leg: leg, err: err}) && leg != nil {
			leg.Hangup()
		}
	})
	o.dial, o.dialWhat = a, what
}

func (o *owner) stopDial() {
	o.dial.stop()
	o.dial, o.dialWhat = nil, ""
}

// hangupOp hangs up the operator's leg (and its activity).
func (o *owner) hangupOp() {
	o.opAct.stop()
	o.opAct = nil
	if o.callerUse == "bridge" {
		o.setCaller("", nil) // the bridge to the operator
	}
	if o.opLeg != nil {
		o.opLeg.Hangup()
		o.opLeg = nil
	}
}

func (o *owner) hangupTarget() {
	if o.target != nil {
		o.target.Hangup()
		o.target = nil
	}
}

// own checks that r's operator has the call in one of states.
func (o *owner) own(r request, states ...string) error {
	s := o.c.s
	s.mu.Lock()
	st, who, vis := o.c.state, o.c.op.Username, o.c.visibleState()
	s.mu.Unlock()
	if vis == "" {
		return fmt.Errorf("%w: the call is not at an operator (%s)", ErrConflict, st)
	}
	if who != r.op.Username {
		return fmt.Errorf("%w: the call is %s's", ErrConflict, who)
	}
	for _, x := range states {
		if st == x {
			return nil
		}
	}
	return fmt.Errorf("%w: the call is %s", ErrConflict, st)
}

// request carries out an operator's action; it must not block on media.
func (o *owner) request(r request) reply {
	c := o.c
	switch r.kind {
	case reqAnswer, reqRetrieve:
		want := stQueued
		if r.kind == reqRetrieve {
			want = stParked
		}
		c.s.mu.Lock()
		st, who, vis := c.state, c.op.Username, c.visibleState()
		c.s.mu.Unlock()
		if st != want {
			if vis != "" {
				return reply{err: fmt.Errorf("%w: %s has the call", ErrConflict, who)}
			}
			return reply{err: fmt.Errorf("%w: the call is %s", ErrConflict, st)}
		}
		if r.op.Extension == "" {
			return reply{err: fmt.Errorf("%w: operator %s has no extension to ring", ErrInvalid, r.op.Username)}
		}
		o.update(func(c *call, t *tenant) {
			t.queue = remove(t.queue, c)
			c.state, c.op, c.opSince = stRinging, r.op, o.now()
		}, KindQueue, KindParked, KindCalls, KindOperators)
		o.dialNumber(dialOperator, r.op.Extension, c.caller, c.callerName)
		c.log.Info("switchboard: ringing operator", zap.String("operator", r.op.Username), zap.String("ext", r.op.Extension))
		return reply{}

	case reqHold:
		if err := o.own(r, stTalking, stHeld); err != nil {
			return reply{err: err}
		}
		o.music(false, "")
		o.update(func(c *call, _ *tenant) { c.state = stHeld }, KindCalls)
		return reply{}

	case reqResume:
		if err := o.own(r, stHeld, stTalking); err != nil {
			return reply{err: err}
		}
		if o.callerUse != "bridge" {
			o.bridgeCaller(o.opLeg)
		}
		o.update(func(c *call, _ *tenant) { c.state = stTalking }, KindCalls)
		return reply{}

	case reqHangup:
		if err := o.own(r, stRinging, stTalking, stHeld, stConsulting, stDialOut); err != nil {
			return reply{err: err}
		}
		c.log.Info("switchboard: operator hung up the call", zap.String("operator", r.op.Username))
		o.lastOp = r.op.Username
		o.answered = true // dealt with by an operator
		o.finished = true
		return reply{}

	case reqTransfer:
		if err := o.own(r, stTalking, stHeld); err != nil {
			return reply{err: err}
		}
		o.lastOp, o.to = r.op.Username, r.target
		o.hangupOp()
		o.music(false, "")
		o.update(func(c *call, _ *tenant) {
			c.state, c.op = stTransferring, Operator{}
		}, KindCalls, KindOperators)
		o.dialNumber(dialTarget, r.target, c.caller, c.callerName)
		c.log.Info("switchboard: blind transfer", zap.String("operator", r.op.Username), zap.String("to", r.target))
		return reply{}

	case reqConsult:
		if err := o.own(r, stTalking, stHeld); err != nil {
			return reply{err: err}
		}
		o.to = r.target
		o.music(false, "")
		o.update(func(c *call, _ *tenant) {
			c.state = stConsulting
			c.consult = &Consult{Target: r.target, Name: r.name, State: stRinging}
		}, KindCalls)
		o.dialNumber(dialTarget, r.target, r.op.Extension, r.op.Name)
		c.log.Info("switchboard: consulting", zap.String("operator", r.op.Username), zap.String("to", r.target))
		return reply{}

	case reqConnect:
		if err := o.own(r, stConsulting); err != nil {
			return reply{err: err}
		}
		o.lastOp = r.op.Username
		o.connect()
		return reply{}

	case reqReturn:
		if err := o.own(r, stConsulting); err != nil {
			return reply{err: err}
		}
		o.backToCaller()
		return reply{}

	case reqVoicemail:
		if err := o.own(r, stTalking, stHeld); err != nil {
			return reply{err: err}
		}
		o.lastOp = r.op.Username
		o.hangupOp()
		o.toVoicemail(r.target, r.op.Username)
		return reply{}

	case reqPark:
		if err := o.own(r, stTalking, stHeld); err != nil {
			return reply{err: err}
		}
		slot := 0
		o.update(func(c *call, t *tenant) {
			used := map[int]bool{}
			for _, x := range t.calls {
				used[x.slot] = true
			}
			for i := 1; i <= c.slots; i++ {
				if !used[i] {
					slot = i
					break
				}
			}
			if slot != 0 {
				c.state, c.op, c.slot = stParked, Operator{}, slot
				c.parkedBy, c.parkedAt = r.op.Username, o.now()
			}
		}, KindCalls, KindParked, KindOperators)
		if slot == 0 {
			return reply{err: fmt.Errorf("%w: all %d parking slots are taken", ErrConflict, c.slots)}
		}
		o.lastOp = r.op.Username
		o.hangupOp()
		o.music(false, "")
		c.log.Info("switchboard: parked", zap.String("operator", r.op.Username), zap.Int("slot", slot))
		return reply{slot: slot}
	}
	return reply{err: fmt.Errorf("%w: unknown action", ErrInvalid)}
}

// connect finishes a consultation: the caller to the target, the
// operator's leg down. With the target still ringing it becomes a blind
// transfer.
func (o *owner) connect() {
	o.opAct.stop()
	o.opAct = nil
	if o.opLeg != nil {
		o.opLeg.Hangup()
		o.opLeg = nil
	}
	if o.target == nil {
		o.update(func(c *call, _ *tenant) {
			c.state, c.op, c.consult = stTransferring, Operator{}, nil
		}, KindCalls, KindOperators)
		o.c.log.Info("switchboard: transfer while the target rings", zap.String("to", o.to))
		return
	}
	o.connected()
}

// connected bridges the caller to the answered target; the call leaves
// the switchboard's views as transferred.
func (o *owner) connected() {
	o.bridgeCaller(o.target)
	o.update(func(c *call, _ *tenant) {
		c.state, c.op, c.consult = stConnected, Operator{}, nil
	}, KindCalls, KindOperators)
	o.c.log.Info("switchboard: transferred", zap.String("to", o.to))
	o.record(OutcomeTransferred)
}

// backToCaller ends a consultation and bridges operator and caller.
func (o *owner) backToCaller() {
	o.stopDial()
	o.opAct.stop()
	o.opAct = nil
	o.hangupTarget()
	o.to = ""
	o.bridgeCaller(o.opLeg)
	o.update(func(c *call, _ *tenant) {
		c.state, c.consult = stTalking, nil
	}, KindCalls)
}

// requeue puts the call back at the queue's front, flagged returned.
func (o *owner) requeue(intro string) {
	o.stopDial()
	o.hangupOp()
	o.hangupTarget()
	o.to = ""
	o.update(func(c *call, t *tenant) {
		c.state, c.op, c.consult, c.returned = stQueued, Operator{}, nil, true
		t.queue = append([]*call{c}, remove(t.queue, c)...)
	}, KindQueue, KindCalls, KindOperators)
	o.music(true, intro)
}

func (o *owner) toVoicemail(mailbox, by string) {
	o.to = mailbox
	o.update(func(c *call, _ *tenant) {
		c.state, c.op, c.consult = stVoicemail, Operator{}, nil
	}, KindCalls, KindOperators)
	o.record(OutcomeVoicemail)
	o.c.log.Info("switchboard: to voicemail", zap.String("mailbox", mailbox), zap.String("operator", by))
	leg, s, tenantID := o.leg, o.c.s, o.c.tenantID
	o.setCaller("voicemail", func(context.Context) *activity {
		return o.start("voicemail", func(ctx context.Context, a *activity) {
			err := s.media.Voicemail(ctx, leg, tenantID, mailbox)
			if ctx.Err() == nil {
				o.report(ctx, event{act: a, err: err})
			}
		})
	})
}

// event handles an activity's report.
func (o *owner) event(ev event) {
	switch {
	case ev.act == o.dial:
		what := o.dialWhat
		o.dial, o.dialWhat = nil, ""
		<-ev.act.done
		o.dialled(what, ev.leg, ev.err)
	case ev.act == o.callerAct && o.callerUse == "voicemail":
		if ev.err != nil {
			o.c.log.Warn("switchboard: voicemail", zap.Error(ev.err))
		}
		o.finished = true
	case ev.act == o.callerAct || ev.act == o.opAct:
		// a bridge ended: a leg hung up (its Done may not be seen yet) or
		// the media failed
		switch {
		case ev.leg != nil && ev.leg == o.leg:
			o.leg = nil
			o.callerEnded()
		case ev.leg != nil && ev.leg == o.opLeg:
			o.opLeg = nil
			o.opEnded()
		case ev.leg != nil && ev.leg == o.target:
			o.target = nil
			o.targetEnded()
		default:
			o.c.log.Warn("switchboard: bridge failed", zap.Error(ev.err))
			o.finished = true
		}
	}
	// anything else comes from an activity already stopped
}

// dialled handles the end of a dial.
func (o *owner) dialled(what string, leg Leg, err error) {
	c := o.c
	st := o.state()
	if err != nil {
		c.log.Info("switchboard: not answered", zap.String("dial", what), zap.Error(err))
	}
	switch what {
	case dialOperator:
		if err != nil {
			c.s.mu.Lock()
			parked := c.slot != 0
			c.s.mu.Unlock()
			if parked {
				o.update(func(c *call, _ *tenant) { c.state, c.op = stParked, Operator{} },
					KindCalls, KindParked, KindOperators)
				return
			}
			o.update(func(c *call, t *tenant) {
				c.state, c.op = stQueued, Operator{}
				t.queue = append([]*call{c}, t.queue...)
			}, KindQueue, KindCalls, KindOperators)
			o.music(true, "")
			return
		}
		o.opLeg, o.answered = leg, true
		o.bridgeCaller(leg)
		o.update(func(c *call, _ *tenant) {
			o.lastOp = c.op.Username
			c.state, c.slot, c.opSince = stTalking, 0, o.now()
		}, KindCalls, KindParked)
		c.log.Info("switchboard: operator answered", zap.String("operator", o.lastOp))

	case dialTarget:
		switch {
		case st == stConsulting && err != nil:
			o.backToCaller()
		case st == stConsulting:
			o.target = leg
			o.bridgeOp()
			o.update(func(c *call, _ *tenant) {
				if c.consult != nil {
					c.consult.State = stTalking
				}
			}, KindCalls)
		case st == stTransferring && err != nil:
			o.requeue("queue-returned")
		case st == stTransferring:
			o.target = leg
			o.connected()
		default:
			if leg != nil {
				leg.Hangup()
			}
		}

	case dialBackOp:
		if err != nil {
			o.noRecord, o.finished = true, true
			return
		}
		o.opLeg = leg
		opLeg, tone := leg, c.s.ring
		o.opAct = o.start("ringback", func(ctx context.Context, _ *activity) {
			for {
				if _, err := opLeg.Play(ctx, tone, false); err != nil {
					return
				}
			}
		})
		from := o.cfgNumber
		if from == "" {
			from = o.opExt
		}
		o.dialNumber(dialBackTarget, c.caller, from, "")

	case dialBackTarget:
		o.opAct.stop()
		o.opAct = nil
		if err != nil {
			o.noRecord, o.finished = true, true
			return
		}
		o.leg, o.answered = leg, true
		o.bridgeCaller(o.opLeg)
		o.update(func(c *call, _ *tenant) {
			c.state, c.opSince = stTalking, o.now()
		}, KindCalls)
	}
}

// callerEnded: the caller hung up.
func (o *owner) callerEnded() {
	o.c.log.Info("switchboard: caller hung up", zap.String("state", o.state()))
	o.finished = true
}

// opEnded: the operator's leg hung up.
func (o *owner) opEnded() {
	switch o.state() {
	case stTalking:
		o.finished = true // the operator hung up: the call is over
	case stHeld:
		// Nobody would come back to a held caller: back to the queue.
		o.setCaller("", nil)
		o.requeue("")
	case stConsulting:
		// Hanging up while consulting transfers, as on a desk phone.
		o.connect()
	case stDialOut:
		o.noRecord, o.finished = true, true
	}
}

// targetEnded: the consulted or transferred-to party hung up.
func (o *owner) targetEnded() {
	switch o.state() {
	case stConsulting:
		o.backToCaller()
	case stConnected:
		o.finished = true
	}
}

// record adds the call to Recent once.
func (o *owner) record(outcome string) {
	if o.recorded || o.noRecord {
		return
	}
	o.recorded = true
	c := o.c
	c.s.mu.Lock()
	name := c.callerName
	c.s.mu.Unlock()
	c.s.record(c.tenantID, RecentCall{
		ID: c.id, At: o.now(), Caller: c.caller, CallerName: name, Dialled: c.dialled,
		Outcome: outcome, Operator: o.lastOp, To: o.to,
	})
}

// finish stops everything, hangs up every leg and removes the call.
func (o *owner) finish() {
	o.stopDial()
	o.opAct.stop()
	o.callerAct.stop()
	for _, l := range []Leg{o.leg, o.opLeg, o.target} {
		if l != nil {
			l.Hangup()
		}
	}
	o.leg, o.opLeg, o.target = nil, nil, nil
	if o.answered {
		o.record(OutcomeAnswered)
	} else {
		o.record(OutcomeAbandoned)
	}
	o.update(func(c *call, t *tenant) {
		c.state, c.op, c.consult, c.slot = stEnded, Operator{}, nil, 0
		t.queue = remove(t.queue, c)
		if t.calls[c.id] == c {
			delete(t.calls, c.id)
		}
	}, KindQueue, KindCalls, KindParked, KindOperators)
}

func remove(q []*call, c *call) []*call {
	out := q[:0:0]
	for _, x := range q {
		if x != c {
			out = append(out, x)
		}
	}
	return out
}
