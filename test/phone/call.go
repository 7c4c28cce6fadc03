package phone

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/media/codec"
	"github.com/sentralpbx/sentral/media/dtmf"
	"github.com/sentralpbx/sentral/media/rtp"
	"github.com/sentralpbx/sentral/media/sdp"
)

// Call is one call of a Phone, placed by Call or received on Incoming.
// Its methods are safe for concurrent use; in-dialog requests are sent one
// at a time.
type Call struct {
	p        *Phone
	log      *zap.Logger
	outgoing bool
	invite   *sip.Request

	// Set before the call is handed to the test, then read only.
	uac    *sipgo.DialogClientSession
	uas    *sipgo.DialogServerSession
	id     string  // sipgo dialog ID
	target sip.Uri // remote target: where in-dialog requests go
	offer  *sdp.Offer

	reqMu sync.Mutex // one in-dialog request at a time keeps CSeqs and ACKs in order

	decided    chan struct{} // incoming: the final response to the INVITE is out (or abandoned)
	decideOnce sync.Once
	done       chan struct{}
	endOnce    sync.Once

	media
}

type callState int

const (
	ringing callState = iota // incoming, no final response yet
	answering
	established
	ended
)

// cancelGrace bounds how long a cancelled outgoing call waits for a
// provisional response before CANCEL may go out, and then for the final
// response (487) after it: the RFC's 64*T1 is too long for a test.
const cancelGrace = 4 * time.Second

func newCall(p *Phone, outgoing bool, callID string) *Call {
	c := &Call{
		p:        p,
		log:      p.log.With(zap.String("call_id", callID)),
		outgoing: outgoing,
		decided:  make(chan struct{}),
		done:     make(chan struct{}),
	}
	c.media.init()
	return c
}

// Call places a call to sip:target@Domain through the proxy with an SDP
// offer (the phone's codecs and telephone-event 101), answering 407 or
// 401 challenges with its credentials. It returns when a 2xx arrived and was acknowledged, or with an
// error holding a StatusError for any other final response. Cancelling ctx
// before the answer sends CANCEL; the error then also wraps ctx.Err().
func (p *Phone) Call(ctx context.Context, target string, hdrs ...sip.Header) (*Call, error) {
	if p.proxy == "" {
		return nil, errors.New("call: no Proxy")
	}
	callID := sip.CallIDHeader(sip.GenerateTagN(24) + "@" + p.addr.Addr().String())
	c := newCall(p, true, string(callID))
	first, _ := codec.ByName(p.codecs[0])
	ep, err := p.openEndpoint(rtp.Config{CallID: string(callID), Log: p.log, PayloadType: first.PayloadType(),
		DeadMediaTimeout: -1})
	if err != nil {
		return nil, fmt.Errorf("call %s: %w", target, err)
	}
	c.startMedia(ep)
	p.track(c)
	c.mu.Lock()
	body, err := c.sess.Offer(c.local(sdp.SendRecv), p.codecs)
	c.mu.Unlock()
	if err != nil {
		c.end()
		return nil, fmt.Errorf("call %s: %w", target, err)
	}

	to := sip.Uri{Scheme: "sip", User: target, Host: p.aor.Host, Port: p.aor.Port}
	req := sip.NewRequest(sip.INVITE, to)
	from := sip.FromHeader{Address: p.aor, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(&from)
	req.AppendHeader(&sip.ToHeader{Address: to})
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: uint32(1 + rand.IntN(10000)), MethodName: sip.INVITE})
	req.AppendHeader(sip.HeaderClone(&p.contact))
	ct := sip.ContentTypeHeader("application/sdp")
	req.AppendHeader(&ct)
	req.AppendHeader(sip.NewHeader("User-Agent", userAgent))
	for _, h := range hdrs {
		req.AppendHeader(h)
	}
	req.SetBody(body)
	req.SetDestination(p.proxy)
	c.invite = req

	dlg, err := p.dua.WriteInvite(ctx, req)
	if err != nil {
		c.end()
		return nil, fmt.Errorf("call %s: %w", target, err)
	}
	err = c.waitAnswer(ctx, dlg)
	if err != nil {
		c.end()
		return nil, fmt.Errorf("call %s: %w", target, err)
	}
	return c, nil
}

// waitAnswer runs sipgo's WaitAnswer (which does the digest retry) and
// does CANCEL itself: sipgo builds its CANCEL from the Request-URI alone,
// so it would go to the Domain rather than to the proxy the INVITE went
// to, and once ctx ends it stops reading the INVITE transaction.
func (c *Call) waitAnswer(ctx context.Context, dlg *sipgo.DialogClientSession) error {
	p := c.p
	var (
		mu        sync.Mutex
		cancelReq *sip.Request
	)
	provisional := make(chan struct{}, 1)
	opts := sipgo.AnswerOptions{
		Username: p.opt.User,
		Password: p.opt.Password,
		// Runs on WaitAnswer's goroutine, the only one touching the INVITE.
		OnResponse: func(r *sip.Response) error {
			if !r.IsProvisional() {
				// A challenge ends this INVITE; its CANCEL would be stale.
				mu.Lock()
				cancelReq = nil
				mu.Unlock()
				return nil
			}
			cr := cancelFor(dlg.InviteRequest, p.laddr())
			mu.Lock()
			cancelReq = cr
			mu.Unlock()
			select {
			case provisional <- struct{}{}:
			default:
			}
			if r.StatusCode > 100 && len(r.Body()) > 0 {
				// Early media: take the SDP now, as the 2xx repeats it.
				if ans, err := sdp.Parse(r.Body()); err == nil {
					if ch, err := sdp.Accept(ans, p.codecs); err == nil {
						c.applyChoice(ch)
					}
				}
			}
			return nil
		},
	}

	// Not derived from p.ctx: WaitAnswer must only ever see the forcing
	// cause, or it tries its own CANCEL.
	waitCtx, stopWait := context.WithCancelCause(context.Background())
	defer stopWait(nil)
	finished := make(chan struct{})
	canceller := make(chan struct{})
	go func() {
		defer close(canceller)
		select {
		case <-ctx.Done():
		case <-p.ctx.Done():
			stopWait(sipgo.WaitAnswerForceCancelErr)
			return
		case <-finished:
			return
		}
		grace := time.NewTimer(cancelGrace)
		defer grace.Stop()
		// RFC 3261 §9.1: no CANCEL before a provisional response.
		for {
			mu.Lock()
			ready := cancelReq != nil
			mu.Unlock()
			if ready {
				break
			}
			select {
			case <-provisional:
			case <-grace.C:
				stopWait(sipgo.WaitAnswerForceCancelErr)
				return
			case <-finished:
				return
			}
		}
		mu.Lock()
		cr := cancelReq
		mu.Unlock()
		cctx, cancel := context.WithTimeout(p.ctx, cancelGrace)
		res, err := p.client.Do(cctx, cr, func(*sipgo.Client, *sip.Request) error { return nil })
		cancel()
		if err != nil || !res.IsSuccess() {
			c.log.Info("CANCEL not accepted", zap.Error(err))
		}
		// Now the 487 should come. The cause keeps sipgo from sending a
		// CANCEL of its own when it gives up.
		grace.Reset(cancelGrace)
		select {
		case <-grace.C:
			stopWait(sipgo.WaitAnswerForceCancelErr)
		case <-finished:
		}
	}()
	err := dlg.WaitAnswer(waitCtx, opts)
	close(finished)
	<-canceller

	if err != nil {
		if res := responseOf(err); res != nil {
			err = StatusError{res.StatusCode, res.Reason}
		}
		if ctx.Err() != nil {
			return errors.Join(ctx.Err(), err)
		}
		return err
	}

	c.uac = dlg
	c.id = dlg.ID
	c.target = dlg.InviteRequest.Recipient
	if ct := dlg.InviteResponse.Contact(); ct != nil {
		c.target = *ct.Address.Clone()
	}
	p.setDialog(c.id, c)
	if err := dlg.Ack(ctx); err != nil {
		return fmt.Errorf("ACK: %w", err)
	}
	c.setState(established)
	c.watch(dlg.Context())

	ch, err := acceptAnswer(dlg.InviteResponse.Body(), p.codecs)
	if err == nil && ctx.Err() != nil {
		// The 2xx crossed our CANCEL: the call exists, but nobody wants it.
		err = ctx.Err()
	}
	if err != nil {
		hctx, cancel := context.WithTimeout(p.ctx, cancelGrace)
		defer cancel()
		_ = c.Hangup(hctx)
		return err
	}
	c.applyChoice(ch)
	return nil
}

// responseOf digs the final response out of a sipgo dialog error, which
// comes as a value or a pointer depending on the method.
func responseOf(err error) *sip.Response {
	var p *sipgo.ErrDialogResponse
	if errors.As(err, &p) {
		return p.Res
	}
	var v sipgo.ErrDialogResponse
	if errors.As(err, &v) {
		return v.Res
	}
	return nil
}

func acceptAnswer(body []byte, codecs []string) (sdp.Choice, error) {
	if len(body) == 0 {
		return sdp.Choice{}, errors.New("2xx without SDP answer")
	}
	ans, err := sdp.Parse(body)
	if err != nil {
		return sdp.Choice{}, err
	}
	return sdp.Accept(ans, codecs)
}

// cancelFor builds the CANCEL for the INVITE as last sent: same
// Request-URI, top Via, Route, Call-ID, From, To and CSeq number (RFC 3261
// §9.1), and the same destination.
func cancelFor(inv *sip.Request, laddr sip.Addr) *sip.Request {
	r := sip.NewRequest(sip.CANCEL, *inv.Recipient.Clone())
	r.AppendHeader(sip.HeaderClone(inv.Via()))
	for _, h := range inv.GetHeaders("Route") {
		r.AppendHeader(sip.HeaderClone(h))
	}
	mf := sip.MaxForwardsHeader(70)
	r.AppendHeader(&mf)
	r.AppendHeader(sip.HeaderClone(inv.From()))
	r.AppendHeader(sip.HeaderClone(inv.To()))
	r.AppendHeader(sip.HeaderClone(inv.CallID()))
	r.AppendHeader(&sip.CSeqHeader{SeqNo: inv.CSeq().SeqNo, MethodName: sip.CANCEL})
	r.SetBody(nil)
	r.SetTransport(inv.Transport())
	r.SetDestination(inv.Destination())
	r.Laddr = laddr
	return r
}

// onInvite takes a new call or a re-INVITE. sipgo ends the INVITE
// transaction when this returns, so for a new call it waits until the
// test answered or rejected it, or the caller cancelled.
func (p *Phone) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if to := req.To(); to != nil && to.Params.Has("tag") {
		c := p.lookup(req)
		if c == nil {
			p.respond(req, tx, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
			return
		}
		c.readReinvite(req, tx)
		return
	}
	if len(req.Body()) == 0 {
		// The phone does not do offerless INVITEs; no test needs them.
		p.respond(req, tx, sip.StatusNotAcceptableHere, "SDP Offer Required")
		return
	}
	offer, err := sdp.Parse(req.Body())
	if err != nil {
		p.respond(req, tx, sip.StatusBadRequest, "Bad SDP")
		return
	}
	// A dry run on a throwaway session: an offer without G.711 is refused
	// here rather than handed to the test.
	if _, _, err := sdp.NewSession().Answer(offer, sdp.Local{Addr: p.addr.Addr(), Port: 2}, p.codecs); err != nil {
		p.respond(req, tx, sip.StatusNotAcceptableHere, "Not Acceptable Here")
		return
	}
	dlg, err := p.dua.ReadInvite(req, tx)
	if err != nil {
		p.log.Info("incoming INVITE", zap.String("call_id", callID(req)), zap.Error(err))
		return
	}
	c := newCall(p, false, callID(req))
	c.invite = dlg.InviteRequest
	c.uas = dlg
	c.id = dlg.ID
	c.offer = offer
	if ct := req.Contact(); ct != nil {
		c.target = *ct.Address.Clone()
	}
	p.track(c)
	p.setDialog(c.id, c)
	c.watch(dlg.Context())
	if err := dlg.Respond(sip.StatusRinging, "Ringing", nil); err != nil {
		c.log.Info("180", zap.Error(err))
		c.decide()
		c.end()
		return
	}
	select {
	case p.incoming <- c:
	default:
		c.log.Warn("incoming call refused: Incoming not read")
		_ = c.Reject(sip.StatusBusyHere, "Busy Here")
		return
	}
	select {
	case <-c.decided:
	case <-c.done:
	case <-p.ctx.Done():
	}
}

// watch ends the call when sipgo ends its dialog (BYE either way, CANCEL,
// a failed answer).
func (c *Call) watch(dctx context.Context) {
	c.p.wg.Add(1)
	go func() {
		defer c.p.wg.Done()
		select {
		case <-dctx.Done():
			c.end()
		case <-c.done:
		}
	}()
}

// Invite returns the initial INVITE: as sent for an outgoing call, as
// received for an incoming one. Read only.
func (c *Call) Invite() *sip.Request { return c.invite }

// Done is closed when the call ends, by either side or by Close.
func (c *Call) Done() <-chan struct{} { return c.done }

// Answer answers an incoming call with 200 and an SDP answer, and returns
// once the ACK arrived.
func (c *Call) Answer(ctx context.Context) error {
	if c.outgoing {
		return errors.New("answer: outgoing call")
	}
	if !c.swapState(ringing, answering) {
		return errors.New("answer: call is not ringing")
	}
	p := c.p
	// The codec is the offerer's choice among ours; the endpoint needs its
	// PT at Open, before the local port for the real answer is known.
	_, dry, err := sdp.NewSession().Answer(c.offer, sdp.Local{Addr: p.addr.Addr(), Port: 2}, p.codecs)
	if err != nil {
		_ = c.reject(sip.StatusNotAcceptableHere, "Not Acceptable Here")
		return fmt.Errorf("answer: %w", err)
	}
	ep, err := p.openEndpoint(rtp.Config{CallID: callID(c.invite), Log: p.log, PayloadType: dry.Codec.PT,
		DeadMediaTimeout: -1})
	if err != nil {
		_ = c.reject(sip.StatusServiceUnavailable, "No RTP Ports")
		return fmt.Errorf("answer: %w", err)
	}
	c.startMedia(ep)
	c.mu.Lock()
	body, ch, err := c.sess.Answer(c.offer, c.local(sdp.SendRecv), p.codecs)
	c.mu.Unlock()
	if err != nil {
		_ = c.reject(sip.StatusNotAcceptableHere, "Not Acceptable Here")
		return fmt.Errorf("answer: %w", err)
	}
	c.applyChoice(ch)
	// The dialog exists from our 2xx on: the caller may use it as soon as
	// it has sent its ACK, which can be before RespondSDP sees that ACK.
	c.setState(established)

	// RespondSDP returns when the ACK came, or after 64*T1 without one;
	// so it is not counted in p.wg, or Close could wait that long.
	errc := make(chan error, 1)
	go func() { errc <- c.uas.RespondSDP(body) }()
	select {
	case err = <-errc:
	case <-ctx.Done():
		err = ctx.Err()
	}
	c.decide()
	if err != nil {
		c.end()
		return fmt.Errorf("answer: %w", err)
	}
	return nil
}

// Reject answers an incoming call that is still ringing with a final
// error response, e.g. 486 Busy Here.
func (c *Call) Reject(code int, reason string) error {
	if c.outgoing {
		return errors.New("reject: outgoing call")
	}
	if code < 300 || code > 699 {
		return fmt.Errorf("reject: %d is not an error response", code)
	}
	if !c.swapState(ringing, ended) {
		return errors.New("reject: call is not ringing")
	}
	return c.reject(code, reason)
}

func (c *Call) reject(code int, reason string) error {
	err := c.uas.Respond(code, reason, nil)
	c.decide()
	c.end()
	if err != nil {
		return fmt.Errorf("reject: %w", err)
	}
	return nil
}

// Hangup ends the call: BYE when established; an incoming call still
// ringing is declined (603). An outgoing call is established by the time
// Call returns it: to CANCEL one, cancel the context given to Call.
func (c *Call) Hangup(ctx context.Context) error {
	select {
	case <-c.done:
		return nil
	default:
	}
	if !c.outgoing && c.swapState(ringing, ended) {
		return c.reject(sip.StatusGlobalDecline, "Decline")
	}
	c.reqMu.Lock()
	defer c.reqMu.Unlock()
	defer c.end()
	bye := sip.NewRequest(sip.BYE, *c.target.Clone())
	bye.Laddr = c.p.laddr()
	var err error
	if c.uac != nil {
		err = c.uac.WriteBye(ctx, bye)
	} else {
		err = c.uas.WriteBye(ctx, bye)
	}
	if res := responseOf(err); res != nil {
		err = StatusError{res.StatusCode, res.Reason}
	}
	if err != nil {
		return fmt.Errorf("hangup: %w", err)
	}
	return nil
}

// closeForShutdown is Close's way out of a call.
func (c *Call) closeForShutdown(ctx context.Context) {
	if !c.outgoing && c.swapState(ringing, ended) {
		_ = c.reject(sip.StatusTemporarilyUnavailable, "Temporarily Unavailable")
		return
	}
	if c.getState() == established {
		_ = c.Hangup(ctx)
	}
	c.decide()
	c.end()
}

func (c *Call) decide() { c.decideOnce.Do(func() { close(c.decided) }) }

// end releases what the call holds; it does not signal the peer.
func (c *Call) end() {
	c.endOnce.Do(func() {
		c.setState(ended)
		close(c.done)
		c.stopMedia()
		c.p.forget(c)
	})
}

// Hold puts the peer on hold (re-INVITE with a=sendonly) or takes it off
// (a=sendrecv).
func (c *Call) Hold(ctx context.Context, hold bool) error {
	dir := sdp.SendRecv
	if hold {
		dir = sdp.SendOnly
	}
	res, req, err := c.inDialog(ctx, func() (*sip.Request, error) {
		c.mu.Lock()
		body, err := c.sess.Offer(c.local(dir), c.p.codecs)
		c.mu.Unlock()
		if err != nil {
			return nil, err
		}
		r := sip.NewRequest(sip.INVITE, *c.target.Clone())
		ct := sip.ContentTypeHeader("application/sdp")
		r.AppendHeader(&ct)
		r.SetBody(body)
		return r, nil
	})
	if err != nil {
		return fmt.Errorf("hold: %w", err)
	}
	if !res.IsSuccess() {
		return fmt.Errorf("hold: %w", StatusError{res.StatusCode, res.Reason})
	}
	if err := c.ackReinvite(req, res); err != nil {
		return fmt.Errorf("hold: ACK: %w", err)
	}
	ch, err := acceptAnswer(res.Body(), c.p.codecs)
	if err != nil {
		return fmt.Errorf("hold: %w", err)
	}
	c.mu.Lock()
	c.held = hold
	c.mu.Unlock()
	c.applyChoice(ch)
	return nil
}

// Refer asks the peer to call sip:target@Domain (blind transfer) and
// returns when it accepted (202); progress NOTIFYs arrive on Notifies.
func (c *Call) Refer(ctx context.Context, target string) error {
	p := c.p
	res, _, err := c.inDialog(ctx, func() (*sip.Request, error) {
		r := sip.NewRequest(sip.REFER, *c.target.Clone())
		r.AppendHeader(&sip.ReferToHeader{Address: sip.Uri{Scheme: "sip", User: target, Host: p.aor.Host, Port: p.aor.Port}})
		r.AppendHeader(&sip.ReferredByHeader{Address: p.aor})
		return r, nil
	})
	if err != nil {
		return fmt.Errorf("refer: %w", err)
	}
	if !res.IsSuccess() {
		return fmt.Errorf("refer: %w", StatusError{res.StatusCode, res.Reason})
	}
	return nil
}

// SendINFO sends one key as an application/dtmf-relay INFO in the dialog.
func (c *Call) SendINFO(ctx context.Context, digit rune) error {
	code, ok := dtmf.CodeOf(digit)
	if !ok {
		return fmt.Errorf("info: %q is not a DTMF key", digit)
	}
	key := dtmf.Digit(code)
	res, _, err := c.inDialog(ctx, func() (*sip.Request, error) {
		r := sip.NewRequest(sip.INFO, *c.target.Clone())
		ct := sip.ContentTypeHeader(dtmf.ContentTypeRelay)
		r.AppendHeader(&ct)
		r.SetBody(fmt.Appendf(nil, "Signal=%c\r\nDuration=%d\r\n", key, dtmfDuration/time.Millisecond))
		return r, nil
	})
	if err != nil {
		return fmt.Errorf("info: %w", err)
	}
	if !res.IsSuccess() {
		return fmt.Errorf("info: %w", StatusError{res.StatusCode, res.Reason})
	}
	return nil
}

// inDialog sends a request built by build in the call's dialog and waits
// for the final response. A 401/407 (a proxy that authenticates in-dialog
// requests) is answered once with a freshly built request: sipgo appends
// the route set again on every send, so a request cannot be reused.
func (c *Call) inDialog(ctx context.Context, build func() (*sip.Request, error)) (*sip.Response, *sip.Request, error) {
	if c.getState() != established {
		return nil, nil, errors.New("call not established")
	}
	c.reqMu.Lock()
	defer c.reqMu.Unlock()
	req, err := build()
	if err != nil {
		return nil, nil, err
	}
	res, err := c.do(ctx, req)
	if err != nil {
		return nil, nil, err
	}
	if res.StatusCode == sip.StatusUnauthorized || res.StatusCode == sip.StatusProxyAuthRequired {
		if req, err = build(); err != nil {
			return nil, nil, err
		}
		if err := c.p.authorize(req, res); err != nil {
			return nil, nil, err
		}
		if res, err = c.do(ctx, req); err != nil {
			return nil, nil, err
		}
	}
	return res, req, nil
}

func (c *Call) do(ctx context.Context, req *sip.Request) (*sip.Response, error) {
	req.Laddr = c.p.laddr()
	if c.uac != nil {
		return c.uac.Do(ctx, req)
	}
	return c.uas.Do(ctx, req)
}

// ackReinvite acknowledges a 2xx to our re-INVITE. sipgo's WriteAck is
// for the initial INVITE only: it would hook the new ACK onto that
// INVITE's transaction.
func (c *Call) ackReinvite(req *sip.Request, res *sip.Response) error {
	ack := sip.NewRequest(sip.ACK, *req.Recipient.Clone())
	for _, h := range req.GetHeaders("Route") {
		ack.AppendHeader(sip.HeaderClone(h))
	}
	mf := sip.MaxForwardsHeader(70)
	ack.AppendHeader(&mf)
	ack.AppendHeader(sip.HeaderClone(req.From()))
	ack.AppendHeader(sip.HeaderClone(res.To()))
	ack.AppendHeader(sip.HeaderClone(req.CallID()))
	ack.AppendHeader(&sip.CSeqHeader{SeqNo: req.CSeq().SeqNo, MethodName: sip.ACK})
	ack.AppendHeader(sip.HeaderClone(&c.p.contact))
	ack.SetBody(nil)
	ack.SetTransport(req.Transport())
	ack.SetDestination(req.Destination())
	ack.Laddr = c.p.laddr()
	return c.p.client.WriteRequest(ack, sipgo.ClientRequestAddVia)
}

// readReinvite answers a re-INVITE from the peer (hold, resume, media
// moving elsewhere). The 2xx is sent once: the phone lives on loopback,
// where it is not lost, so it does not retransmit until the ACK.
func (c *Call) readReinvite(req *sip.Request, tx sip.ServerTransaction) {
	p := c.p
	if c.getState() != established {
		p.respond(req, tx, sip.StatusRequestPending, "Request Pending")
		return
	}
	if c.uas != nil {
		// Only on the UAS side: sipgo's UAC dialog starts the peer's CSeq
		// from our own INVITE's, and would refuse a lower one.
		if err := c.uas.ReadRequest(req, tx); err != nil {
			p.respond(req, tx, sip.StatusInternalServerError, "CSeq Out of Order")
			return
		}
	}
	c.mu.Lock()
	dir := sdp.SendRecv
	if c.held {
		dir = sdp.SendOnly
	}
	var (
		body []byte
		ch   sdp.Choice
		err  error
	)
	if len(req.Body()) == 0 {
		// An offerless re-INVITE: we offer, the ACK answers.
		body, err = c.sess.Offer(c.local(dir), p.codecs)
		c.awaitAckAnswer = true
	} else {
		var offer *sdp.Offer
		if offer, err = sdp.Parse(req.Body()); err == nil {
			body, ch, err = c.sess.Answer(offer, c.local(dir), p.codecs)
		}
	}
	c.mu.Unlock()
	if err != nil {
		p.respond(req, tx, sip.StatusNotAcceptableHere, "Not Acceptable Here")
		return
	}
	if len(req.Body()) > 0 {
		c.applyChoice(ch)
	}
	res := sip.NewSDPResponseFromRequest(req, body)
	res.AppendHeader(sip.HeaderClone(&p.contact))
	if err := tx.Respond(res); err != nil {
		c.log.Info("re-INVITE response", zap.Error(err))
	}
}

func (c *Call) readAck(req *sip.Request, tx sip.ServerTransaction) {
	if c.uas != nil {
		// Confirms the dialog, which releases Answer; an ACK to a
		// re-INVITE's 2xx fails its CSeq check there, harmlessly.
		_ = c.uas.ReadAck(req, tx)
	}
	c.mu.Lock()
	pending := c.awaitAckAnswer
	c.awaitAckAnswer = false
	c.mu.Unlock()
	if pending && len(req.Body()) > 0 {
		if ch, err := acceptAnswer(req.Body(), c.p.codecs); err == nil {
			c.applyChoice(ch)
		}
	}
}

func (c *Call) readBye(req *sip.Request, tx sip.ServerTransaction) {
	var err error
	if c.uac != nil {
		err = c.uac.ReadBye(req, tx)
	} else {
		err = c.uas.ReadBye(req, tx)
	}
	if err != nil {
		c.p.respond(req, tx, sip.StatusBadRequest, "Bad BYE")
		return
	}
	c.end()
}

func (c *Call) readInfo(req *sip.Request, tx sip.ServerTransaction) {
	ct := req.ContentType()
	if ct == nil {
		c.p.respond(req, tx, sip.StatusUnsupportedMediaType, "Unsupported Media Type")
		return
	}
	sig, err := dtmf.ParseINFO(ct.Value(), req.Body())
	switch {
	case errors.Is(err, dtmf.ErrUnsupportedType):
		c.p.respond(req, tx, sip.StatusUnsupportedMediaType, "Unsupported Media Type")
		return
	case err != nil:
		c.p.respond(req, tx, sip.StatusBadRequest, "Bad DTMF Body")
		return
	}
	c.addDigit(sig.Digit)
	c.p.respond(req, tx, sip.StatusOK, "OK")
}

func (c *Call) getState() callState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

func (c *Call) setState(s callState) {
	c.mu.Lock()
	c.state = s
	c.mu.Unlock()
}

func (c *Call) swapState(from, to callState) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != from {
		return false
	}
	c.state = to
	return true
}
