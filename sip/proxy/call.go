package proxy

import (
	"cmp"
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/sip/callrecord"
	"github.com/sentralpbx/sentral/sip/routing"
	"github.com/sentralpbx/sentral/store"
)

// call is one forked INVITE: the server transaction towards the caller and
// one client transaction per target. Its state belongs to run's goroutine;
// the only other goroutines are one pump per branch, which own nothing but
// their channel sends and end with the call's context.
type call struct {
	p    *Proxy
	req  *sip.Request
	tx   sip.ServerTransaction
	d    routing.Decision
	pop  int
	log  *zap.Logger
	ctx  context.Context
	stop context.CancelFunc

	events    chan event
	cancelled chan struct{} // the caller sent CANCEL
	pumps     sync.WaitGroup

	branches   []*branch
	answered   bool          // a 2xx went upstream
	callerGone bool          // CANCEL from the caller; the 487 is sipgo's
	timedOut   bool          // ring timeout: answer 408 once all are final
	finals     []int         // status of every final non-2xx, for best()
	bestRes    *sip.Response // the response chosen so far
	ringing    bool
	next       int              // the next target of the stage to try
	record     *callrecord.Call // nil without call records

	// Stages (routing.Stage): stage is the one ringing now (0 the
	// decision's Targets, k its Next[k-1]); targets and serial are its.
	stage      int
	targets    []routing.Target
	serial     bool
	stageTimer *time.Timer // the stage's RingFor; nil when it has none
	noAnswer   bool        // the last stage rang out: answer 480
	ring       *time.Timer // the proxy's ring timeout, restarted per stage
	// inject brings a picking-up extension's targets into the call from
	// another INVITE's goroutine (group call pickup).
	inject   chan []routing.Target
	pickedUp bool
	// anchor is the call's WebRTC media anchoring (anchor.go); keepLeg the
	// leg of the answered branch, which outlives the call into its dialog.
	anchor  anchored
	keepLeg AnchorLeg
}

type branch struct {
	target      routing.Target
	stage       int  // the stage that started it
	autoAnswer  bool // a pickup: ask the phone to answer at once
	leg         AnchorLeg
	answer      atomic.Pointer[rewritten] // the anchored 2xx answer, for retransmissions
	req         *sip.Request
	tx          sip.ClientTransaction
	provisional bool // a 1xx arrived: CANCEL may be sent (§16.10)
	final       bool
	wantCancel  bool
	cancelSent  bool
}

type event struct {
	b   *branch
	res *sip.Response
	err error // the transaction ended without a final response
}

func newCall(p *Proxy, req *sip.Request, tx sip.ServerTransaction, d routing.Decision, pop int, log *zap.Logger) *call {
	c := &call{p: p, req: req, tx: tx, d: d, pop: pop, log: log,
		events: make(chan event), cancelled: make(chan struct{}, 1), inject: make(chan []routing.Target, 1),
		targets: d.Targets, serial: d.Serial}
	if a := p.opt.Anchor; a != nil && len(req.Body()) > 0 {
		c.anchor.callerBrowser = a.IsWebRTC(req.Body())
	}
	return c
}

// run executes the fork and returns when every branch has a final answer
// (or was given up on) and the caller has its final response.
func (c *call) run() {
	// The whole call is bounded: ringing (every stage), then waiting for
	// cancelled branches, then a margin for the transactions to settle.
	c.ctx, c.stop = c.p.callContext(time.Duration(1+len(c.d.Next))*c.p.opt.RingTimeout + 2*c.p.opt.CancelWait)
	defer func() {
		c.stop()
		c.pumps.Wait()
		for _, b := range c.branches {
			if !b.final && b.tx != nil {
				b.tx.Terminate()
			}
		}
		c.closeLegs(c.keepLeg)
	}()
	c.tx.OnCancel(func(*sip.Request) {
		// Called inside sipgo's transaction lock: only signal.
		select {
		case c.cancelled <- struct{}{}:
		default:
		}
	})
	c.p.respond(c.req, c.tx, sip.StatusTrying, "Trying", nil, c.log)
	c.emitBoth(StateTrying)
	c.openRecord()
	c.p.ringingAdd(c)
	defer c.p.ringingRemove(c)

	c.ring = time.NewTimer(c.p.opt.RingTimeout)
	defer c.ring.Stop()
	defer func() {
		if c.stageTimer != nil {
			c.stageTimer.Stop()
		}
	}()
	c.startStage(0, c.d.Targets, c.d.Serial, c.d.RingFor)
	c.log.Debug("proxy fork", zap.String("callee", c.d.CalleeExt), zap.Int("branches", len(c.branches)))

	var giveUp <-chan time.Time // set while cancelled branches are awaited
	for c.pending() > 0 {
		var stageEnd <-chan time.Time
		if c.stageTimer != nil {
			stageEnd = c.stageTimer.C
		}
		select {
		case ev := <-c.events:
			c.handle(ev)
		case <-c.cancelled:
			c.log.Info("proxy: caller cancelled")
			c.callerGone = true
			c.cancelAll()
		case <-c.ring.C:
			c.log.Info("proxy: ring timeout")
			c.timedOut = true
			c.cancelAll()
		case <-stageEnd:
			c.stageTimer = nil
			c.stageRangOut()
		case ts := <-c.inject:
			c.pickup(ts)
		case <-giveUp:
			// Branches that ignore CANCEL are abandoned (§16.8, Timer C).
			giveUp = nil
			for _, b := range c.branches {
				if !b.final && b.wantCancel {
					b.final = true
					c.stageFinal(b, sip.StatusRequestTimeout)
				}
			}
		case <-c.ctx.Done():
			c.cancelAll()
			for _, b := range c.branches {
				b.final = true
			}
			c.finals = append(c.finals, sip.StatusServiceUnavailable)
		}
		c.advance()
		if giveUp == nil && c.cancelling() {
			t := time.NewTimer(c.p.opt.CancelWait)
			defer t.Stop()
			giveUp = t.C
		}
	}
	c.finish()
}

// startStage starts ringing a stage's targets: one after another when
// serial (trunk failover), else all at once.
func (c *call) startStage(k int, targets []routing.Target, serial bool, ringFor time.Duration) {
	c.stage, c.targets, c.serial, c.next = k, targets, serial, 0
	c.finals, c.bestRes = nil, nil
	if c.stageTimer != nil {
		c.stageTimer.Stop()
		c.stageTimer = nil
	}
	if ringFor > 0 {
		c.stageTimer = time.NewTimer(ringFor)
	}
	if k > 0 {
		c.ring.Reset(c.p.opt.RingTimeout)
	}
	if c.serial {
		c.tryNext()
	} else {
		for range c.targets {
			c.startNext()
		}
	}
	if len(targets) > 0 && targets[0].Outbound != nil && c.record != nil && k > 0 {
		// A forward out through a trunk: the record names the trunk that
		// carries (and bills) the call.
		c.p.opt.Records.Routed(c.record, targets[0].Outbound.TrunkID, targets[0].Outbound.Trunk)
	}
}

// stagePending counts the current stage's branches still ringing.
func (c *call) stagePending() int {
	n := 0
	for _, b := range c.branches {
		if b.stage == c.stage && !b.final && !b.wantCancel {
			n++
		}
	}
	return n
}

// advance moves on to the next stage once the current one has ended
// without an answer: every branch failed, or (stageRangOut) it rang out.
func (c *call) advance() {
	// A serial stage starts its next target within handle, so a stage
	// with nothing pending has nothing left to try.
	for !c.answered && !c.callerGone && !c.timedOut && !c.noAnswer && !c.pickedUp && c.stagePending() == 0 {
		outcome := routing.OnFailed
		for _, code := range c.finals {
			if code == sip.StatusBusyHere || code == sip.StatusGlobalBusyEverywhere || code == sip.StatusGlobalDecline {
				outcome = routing.OnBusy
			}
		}
		if !c.nextStage(outcome) {
			return
		}
	}
}

// stageRangOut ends the current stage unanswered after its RingFor.
func (c *call) stageRangOut() {
	if c.answered || c.callerGone || c.timedOut || c.pickedUp {
		return
	}
	c.log.Info("proxy: no answer", zap.Int("stage", c.stage))
	for _, b := range c.branches {
		if b.stage == c.stage {
			c.cancelBranch(b)
		}
	}
	if !c.nextStage(routing.OnNoAnswer) {
		c.noAnswer = true
		c.cancelAll()
	}
}

// nextStage starts the first later stage that follows the current one on
// outcome; false when there is none.
func (c *call) nextStage(outcome routing.Outcome) bool {
	for i, s := range c.d.Next {
		if s.After != c.stage || s.When&outcome == 0 {
			continue
		}
		c.log.Info("proxy: next stage", zap.Int("stage", i+1), zap.String("why", s.Why))
		c.startStage(i+1, s.Targets, s.Serial, s.RingFor)
		return true
	}
	return false
}

// stageFinal notes a branch's final failure for the stage it belongs to.
func (c *call) stageFinal(b *branch, code int) {
	if b.stage == c.stage {
		c.finals = append(c.finals, code)
	}
}

// pickup brings a picking-up extension's phones into the ringing call:
// they are asked to answer at once, and everything else stops ringing.
func (c *call) pickup(ts []routing.Target) {
	if c.answered || c.callerGone || c.timedOut {
		return
	}
	c.log.Info("proxy: call picked up", zap.Int("targets", len(ts)))
	c.pickedUp = true
	if c.stageTimer != nil {
		c.stageTimer.Stop()
		c.stageTimer = nil
	}
	c.cancelAll()
	c.stage++
	c.targets, c.serial, c.next, c.finals, c.bestRes = ts, false, 0, nil, nil
	for range ts {
		c.startNext()
	}
}

// startNext starts a branch to the next target; a target that cannot even
// be sent to ends its branch at once with the status it stands for.
func (c *call) startNext() (started bool) {
	t := c.targets[c.next]
	c.next++
	b := &branch{target: t, stage: c.stage, autoAnswer: c.pickedUp}
	c.branches = append(c.branches, b)
	if err := c.start(b); err != nil {
		code := sip.StatusServiceUnavailable
		if errors.Is(err, ErrNotAcceptable) {
			code = sip.StatusNotAcceptableHere
		}
		if errors.Is(err, errFlowGone) {
			// The phone is not reachable, which is what 480 says; the
			// caller's best response (and later voicemail) follows it.
			code = sip.StatusTemporarilyUnavailable
		}
		c.log.Info("proxy: branch", zap.String("target", t.URI), zap.String("dst", t.Destination), zap.Error(err))
		b.final = true
		c.stageFinal(b, code)
		return false
	}
	return true
}

// tryNext starts the next target of a serial decision that can be sent
// to, if any is left.
func (c *call) tryNext() {
	for c.next < len(c.targets) {
		if c.startNext() {
			return
		}
	}
}

// failover reports whether a serial call moves on to its next target after
// a branch ended with code: the trunk failed (timeout, 5xx), not the
// callee (busy, not found and the like end the search, as 6xx do).
func failover(code int) bool {
	return code == sip.StatusRequestTimeout || code >= 500 && code < 600
}

// start sends the INVITE to one target and starts its pump.
func (c *call) start(b *branch) error {
	if c.p.flowGone(b.target) {
		return errFlowGone
	}
	out, err := c.p.prepare(c.req, b.target, c.pop, true)
	if err != nil {
		return err
	}
	if b.autoAnswer {
		// The picking-up phone just dialled the pickup code; these ask
		// it to answer without ringing (Snom and Polycom read Call-Info,
		// Yealink and Grandstream Alert-Info).
		out.AppendHeader(sip.NewHeader("Call-Info", "<sip:"+c.p.self[0].Host+">;answer-after=0"))
		out.AppendHeader(sip.NewHeader("Alert-Info", "<http://127.0.0.1/auto>;info=alert-autoanswer;delay=0"))
	}
	if err := c.anchorOffer(b, out); err != nil {
		return err
	}
	b.req = out
	tx, err := c.p.send.TransactionRequest(c.ctx, out, noBuild)
	if err != nil {
		return err
	}
	b.tx = tx
	// RFC 6026: retransmitted 2xx are passed on statelessly, so the caller
	// keeps retransmitting its ACK until one gets through.
	tx.OnRetransmission(func(res *sip.Response) {
		if res.IsSuccess() {
			_ = relay(c.req, c.tx, c.anchorAnswer(b, res, true))
		}
	})
	c.pumps.Add(1)
	go c.pump(b)
	return nil
}

// pump delivers one branch's responses to run until its final response.
func (c *call) pump(b *branch) {
	defer c.pumps.Done()
	for {
		select {
		case res := <-b.tx.Responses():
			if !c.deliver(event{b: b, res: res}) || res.StatusCode >= 200 {
				return
			}
		case <-b.tx.Done():
			c.deliver(event{b: b, err: b.tx.Err()})
			return
		case <-c.ctx.Done():
			return
		}
	}
}

func (c *call) deliver(ev event) bool {
	select {
	case c.events <- ev:
		return true
	case <-c.ctx.Done():
		return false
	}
}

func (c *call) pending() int {
	n := 0
	for _, b := range c.branches {
		if !b.final {
			n++
		}
	}
	return n
}

func (c *call) cancelling() bool {
	for _, b := range c.branches {
		if !b.final && b.wantCancel {
			return true
		}
	}
	return false
}

func (c *call) handle(ev event) {
	b := ev.b
	if b.final {
		return
	}
	if ev.err != nil {
		code, _ := branchFailure(ev.err)
		b.final = true
		c.stageFinal(b, code)
		c.log.Info("proxy: branch failed", zap.String("target", b.target.URI), zap.Int("status", code), zap.Error(ev.err))
		c.serialNext(code)
		return
	}
	res := ev.res
	switch {
	case res.StatusCode < 200:
		b.provisional = true
		if b.wantCancel {
			c.sendCancel(b)
		}
		if res.StatusCode == sip.StatusTrying || c.answered || c.callerGone {
			return
		}
		if !c.ringing && (res.StatusCode == sip.StatusRinging || res.StatusCode == sip.StatusSessionInProgress) {
			c.ringing = true
			c.emitBoth(StateRinging)
		}
		if err := relay(c.req, c.tx, c.anchorAnswer(b, res, false)); err != nil {
			c.log.Debug("proxy: relay", zap.Error(err))
		}
	case res.StatusCode < 300:
		b.final = true
		if c.callerGone {
			// The caller is gone; the callee will see no ACK and end
			// the call itself (RFC 3261 §13.3.1.4).
			return
		}
		first := !c.answered
		res = c.anchorAnswer(b, res, false)
		if first {
			c.answered = true
			c.keepLeg = c.legOf(b)
			c.p.ringingRemove(c)
			c.log.Debug("proxy: answered", zap.String("target", b.target.URI), zap.String("dst", b.target.Destination))
			c.emitBoth(StateConfirmed)
			c.p.countOutcome(c.req, c.d, store.DispositionAnswered)
			if c.record != nil {
				c.p.opt.Records.Answered(c.record, time.Now())
			}
			c.p.dialogStarted(callID(c.req), c.d, b.target.Number, callerTarget(c.req), c.record, c.mediaOf())
		}
		if err := relay(c.req, c.tx, res); err != nil {
			c.log.Debug("proxy: relay", zap.Error(err))
		}
		if first {
			c.cancelAll()
		}
	default:
		b.final = true
		c.stageFinal(b, res.StatusCode)
		if b.stage == c.stage && (c.bestRes == nil || better(res.StatusCode, c.bestRes.StatusCode)) {
			c.bestRes = res
		}
		if res.StatusCode >= 600 {
			// §16.7 step 5: a 6xx ends the search everywhere.
			c.cancelAll()
		}
		c.serialNext(res.StatusCode)
	}
}

// serialNext moves a serial call on to its next target after a branch
// ended with code, unless the call is over or the failure was the
// callee's.
func (c *call) serialNext(code int) {
	if !c.serial || c.answered || c.callerGone || c.timedOut || !failover(code) {
		return
	}
	if c.next >= len(c.targets) {
		return
	}
	c.log.Info("proxy: failover", zap.Int("status", code), zap.String("next", c.targets[c.next].URI))
	c.tryNext()
	if o := c.branches[len(c.branches)-1].target.Outbound; o != nil && c.record != nil {
		c.p.opt.Records.Routed(c.record, o.TrunkID, o.Trunk)
	}
}

// cancelAll asks every unfinished branch to stop: CANCEL now if it sent a
// provisional response, otherwise as soon as it does (§16.10).
func (c *call) cancelAll() {
	for _, b := range c.branches {
		c.cancelBranch(b)
	}
}

func (c *call) cancelBranch(b *branch) {
	if b.final || b.wantCancel {
		return
	}
	b.wantCancel = true
	if b.provisional {
		c.sendCancel(b)
	}
}

func (c *call) sendCancel(b *branch) {
	if b.cancelSent {
		return
	}
	b.cancelSent = true
	req := cancelFor(b.req)
	tx, err := c.p.send.TransactionRequest(c.ctx, req, noBuild)
	if err != nil {
		c.log.Warn("proxy: cancel", zap.String("target", b.target.URI), zap.Error(err))
		return
	}
	// The CANCEL's own answer (200) matters to nobody; its transaction
	// ends on its own timers, or with the call.
	c.pumps.Add(1)
	go func() {
		defer c.pumps.Done()
		defer tx.Terminate()
		for {
			select {
			case res := <-tx.Responses():
				if res.StatusCode >= 200 {
					return
				}
			case <-tx.Done():
				return
			case <-c.ctx.Done():
				return
			}
		}
	}()
}

// cancelFor builds the CANCEL for a branch's INVITE (RFC 3261 §9.1): same
// request-URI, top Via, Route, From, To, Call-ID and CSeq number.
func cancelFor(inv *sip.Request) *sip.Request {
	r := sip.NewRequest(sip.CANCEL, *inv.Recipient.Clone())
	r.SipVersion = inv.SipVersion
	if v := inv.Via(); v != nil {
		r.AppendHeader(v.Clone())
	}
	sip.CopyHeaders("Route", inv, r)
	mf := sip.MaxForwardsHeader(70)
	r.AppendHeader(&mf)
	for _, name := range []string{"From", "To", "Call-ID"} {
		if h := inv.GetHeader(name); h != nil {
			r.AppendHeader(sip.HeaderClone(h))
		}
	}
	if cs := inv.CSeq(); cs != nil {
		r.AppendHeader(&sip.CSeqHeader{SeqNo: cs.SeqNo, MethodName: sip.CANCEL})
	}
	r.SetBody(nil)
	r.SetTransport(inv.Transport())
	r.SetDestination(inv.Destination())
	r.Laddr = inv.Laddr
	return r
}

// finish gives the caller its final response when no 2xx did.
func (c *call) finish() {
	if c.answered {
		return
	}
	defer c.emitBoth(StateTerminated)
	code := best(c.finals)
	switch {
	case c.callerGone:
		code = sip.StatusRequestTerminated
	case c.timedOut:
		code = sip.StatusRequestTimeout
	case c.noAnswer:
		code = sip.StatusTemporarilyUnavailable
	case code == 0:
		code = sip.StatusRequestTimeout // no branch could even be tried
	}
	c.p.countOutcome(c.req, c.d, callrecord.DispositionFor(code, c.callerGone))
	if c.record != nil {
		reason := reasonFor(code)
		if c.bestRes != nil && c.bestRes.StatusCode == code {
			reason = c.bestRes.Reason
		}
		c.p.opt.Records.Ended(c.record, time.Now(), callrecord.DispositionFor(code, c.callerGone), code, reason)
	}
	if c.callerGone {
		return // sipgo answered the INVITE with 487 when the CANCEL came
	}
	// The one info line per call: its outcome (the Call-ID is in c.log).
	c.log.Info("proxy: final", zap.Int("status", code))
	if code == sip.StatusServiceUnavailable {
		// §16.7 step 6: a 503 is not passed on, or the caller would
		// think we are overloaded.
		code = sip.StatusInternalServerError
	}
	if c.bestRes != nil && c.bestRes.StatusCode == code {
		if err := relay(c.req, c.tx, c.bestRes); err != nil {
			c.log.Debug("proxy: relay", zap.Error(err))
		}
		return
	}
	c.p.respond(c.req, c.tx, code, reasonFor(code), nil, c.log)
}

// recordTimeout bounds how long a call waits for its record to be
// committed before its first branch goes out; past it the call proceeds
// (the record is still written) rather than fail for bookkeeping.
const recordTimeout = 2 * time.Second

// openRecord writes the call's record before anything is forwarded, so a
// crash from here on leaves an open record that the next start closes.
func (c *call) openRecord() {
	rec := c.p.opt.Records
	if rec == nil || c.d.Direction == "" {
		return
	}
	ctx, cancel := context.WithTimeout(c.ctx, recordTimeout)
	defer cancel()
	r, err := rec.Start(ctx, c.p.cdrFor(c.req, c.d))
	if err != nil {
		c.log.Warn("proxy: call record", zap.Error(err))
	}
	c.record = r
}

// cdrFor is the record of a call attempt routing decided on.
func (p *Proxy) cdrFor(req *sip.Request, d routing.Decision) store.CDR {
	cdr := store.CDR{CallID: callID(req), Direction: store.CallDirection(d.Direction), Dialled: d.Dialled,
		Normalised: d.Normalised, StartTime: time.Now()}
	switch d.Direction {
	case routing.DirInbound:
		cdr.TenantID, cdr.Caller, cdr.Callee = d.CalleeTenant.ID, d.Caller, d.CalleeExt
		if t := d.InboundTrunk; t != nil {
			cdr.TrunkID, cdr.Trunk = &t.TrunkID, t.Trunk
		}
	default:
		// A call the switchboard places has no calling extension: its
		// caller is the party it puts through (or the operator calling).
		cdr.TenantID, cdr.Caller, cdr.Callee = d.CallerTenant.ID, firstNonEmpty(d.CallerExt, d.Caller), firstNonEmpty(d.Callee, d.CalleeExt)
		if ext, ok := p.cat.Extension(d.CallerTenant.ID, cdr.Caller); ok {
			cdr.DepartmentID = ext.DepartmentID
		}
		// The first trunk tried; a failover updates it (Recorder.Routed).
		if len(d.Targets) > 0 && d.Targets[0].Outbound != nil {
			o := d.Targets[0].Outbound
			cdr.TrunkID, cdr.Trunk = &o.TrunkID, o.Trunk
		}
	}
	return cdr
}

// recordRefused records a call attempt routing refused after knowing who
// called and what (class of service, unknown number, nobody registered):
// one record per attempt, for the call history as much as for billing.
func (p *Proxy) recordRefused(req *sip.Request, d routing.Decision, log *zap.Logger) {
	p.countOutcome(req, d, callrecord.DispositionFor(d.Code, false))
	rec := p.opt.Records
	if rec == nil || d.Direction == "" || !req.IsInvite() {
		return
	}
	ctx, cancel := context.WithTimeout(p.life, recordTimeout)
	defer cancel()
	r, err := rec.Start(ctx, p.cdrFor(req, d))
	if err != nil {
		log.Warn("proxy: call record", zap.Error(err))
	}
	rec.Ended(r, time.Now(), callrecord.DispositionFor(d.Code, false), d.Code, d.Reason)
}

func (c *call) emitBoth(s DialogState) {
	c.p.emit(DialogEvent{TenantID: c.d.CallerTenant.ID, Ext: c.d.CallerExt, CallID: callID(c.req), State: s,
		Direction: DirectionInitiator, Peer: c.d.CalleeExt})
	c.p.emit(DialogEvent{TenantID: c.d.CalleeTenant.ID, Ext: c.d.CalleeExt, CallID: callID(c.req), State: s,
		Direction: DirectionRecipient, Peer: c.d.CallerExt})
}

func (p *Proxy) emit(ev DialogEvent) {
	// A trunk's side, or a call we only relay for another node of the
	// cluster (which reports it): no extension of ours to report on.
	if ev.Ext == "" {
		return
	}
	if p.opt.OnDialogState != nil {
		p.opt.OnDialogState(ev)
	}
}

// callerTarget is where in-dialog requests reach the caller of inv: its
// Contact, at the address the INVITE came from (through NAT, and over
// its connection). A caller need not have registered from there (a
// phone that authenticates each call, a second line), so in-dialog
// routing cannot rely on a binding to find it.
func callerTarget(inv *sip.Request) *routing.Target {
	c := inv.Contact()
	if c == nil {
		return nil
	}
	return &routing.Target{URI: canonicalURI(c.Address), Transport: strings.ToLower(inv.Transport()), Destination: inv.Source()}
}

func (p *Proxy) dialogStarted(id string, d routing.Decision, answeredBy string, caller *routing.Target, rec *callrecord.Call, m *dialogMedia) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.dialogs) >= maxDialogs {
		var oldest string
		var at time.Time
		for k, v := range p.dialogs {
			if oldest == "" || v.at.Before(at) {
				oldest, at = k, v.at
			}
		}
		p.endRecord(p.dialogs[oldest].record, "dialog forgotten (table full)")
		p.dialogs[oldest].media.close()
		delete(p.dialogs, oldest)
	}
	p.dialogs[id] = dialogInfo{callerTenant: d.CallerTenant.ID, calleeTenant: d.CalleeTenant.ID,
		caller: d.CallerExt, callee: d.CalleeExt, answeredBy: answeredBy, callerAt: caller, at: time.Now(), record: rec, media: m}
}

// dialogOf gives the extension numbers of a confirmed dialog's parties
// (the one that answered a group call included) and the callee's tenant
// (else the caller's), for in-dialog routing.
func (p *Proxy) dialogOf(id string) ([]string, int64, *routing.Target) {
	p.mu.Lock()
	defer p.mu.Unlock()
	di, ok := p.dialogs[id]
	if !ok {
		return nil, 0, nil
	}
	return []string{di.caller, di.callee, di.answeredBy}, cmp.Or(di.calleeTenant, di.callerTenant), di.callerAt
}

// dialogEnded reports a dialog whose BYE was answered with 2xx.
func (p *Proxy) dialogEnded(id, why string) {
	p.mu.Lock()
	di, ok := p.dialogs[id]
	delete(p.dialogs, id)
	p.mu.Unlock()
	if !ok {
		return
	}
	p.endRecord(di.record, why)
	di.media.close()
	p.emit(DialogEvent{TenantID: di.callerTenant, Ext: di.caller, CallID: id, State: StateTerminated,
		Direction: DirectionInitiator, Peer: di.callee})
	p.emit(DialogEvent{TenantID: di.calleeTenant, Ext: di.callee, CallID: id, State: StateTerminated,
		Direction: DirectionRecipient, Peer: di.caller})
}

// endRecord closes the record of an answered call.
func (p *Proxy) endRecord(rec *callrecord.Call, why string) {
	if rec != nil && p.opt.Records != nil {
		p.opt.Records.Ended(rec, time.Now(), store.DispositionAnswered, sip.StatusOK, why)
	}
}

// better reports whether final status a beats b under RFC 3261 §16.7 step
// 6: any 6xx first; otherwise the lowest class wins (3xx, 4xx, then 5xx).
// Within 4xx the responses that let the caller retry usefully (401, 407,
// 415, 420, 484) are preferred; then the lower code, for determinism.
func better(a, b int) bool {
	ca, cb := class(a), class(b)
	if ca != cb {
		return ca < cb
	}
	pa, pb := preferred(a), preferred(b)
	if pa != pb {
		return pa
	}
	return a < b
}

func class(code int) int {
	if code >= 600 {
		return 0 // 6xx ranks first
	}
	return code / 100
}

func preferred(code int) bool {
	switch code {
	case 401, 407, 415, 420, 484:
		return true
	}
	return false
}

// best returns the winning status among codes (0 if none).
func best(codes []int) int {
	w := 0
	for _, c := range codes {
		if w == 0 || better(c, w) {
			w = c
		}
	}
	return w
}

// reasonFor gives the reason phrase of a response we synthesize.
func reasonFor(code int) string {
	switch code {
	case sip.StatusRequestTimeout:
		return "Request Timeout"
	case sip.StatusInternalServerError:
		return "Server Internal Error"
	case sip.StatusTemporarilyUnavailable:
		return "Temporarily Unavailable"
	case sip.StatusRequestTerminated:
		return "Request Terminated"
	case sip.StatusBusyHere:
		return "Busy Here"
	}
	return "Failed"
}
