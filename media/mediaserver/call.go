package mediaserver

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	prtp "github.com/pion/rtp"
	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/media/codec"
	"github.com/sentralpbx/sentral/media/dtmf"
	"github.com/sentralpbx/sentral/media/rtp"
	"github.com/sentralpbx/sentral/media/sdp"
)

// Causes of a call's end, for logs and context.Cause.
var (
	// ErrCallEnded is returned by Session methods once the call is over.
	ErrCallEnded      = errors.New("mediaserver: call ended")
	errCallerBye      = errors.New("caller hung up")
	errCalleeBye      = errors.New("called party hung up")
	errDeadMedia      = errors.New("dead media")
	errAppDone        = errors.New("application finished")
	errAppHangup      = errors.New("application hung up")
	errNotEstablished = errors.New("call not established")
	errNoAck          = errors.New("no ACK for a re-INVITE answer")
	errStopKey        = errors.New("stop key by SIP INFO")
)

// digitBuffer is how many key presses wait for the application: enough
// for a mailbox number and a PIN typed ahead of the prompts.
const digitBuffer = 32

// recordQueue is the recorder's packet queue: 5 s of 20 ms frames, so a
// recorder slowed by a disk hiccup loses nothing.
const recordQueue = 256

// call is one dialog: answered (dialog is set) or dialled (out is set).
// Its fields up to mu are set before it is shared and never change; the
// rest are guarded by mu, except those under txMu.
type call struct {
	srv      *Server
	log      *zap.Logger
	id       string
	key      string // the dialog ID incoming in-dialog requests carry
	appName  string
	app      App
	dialog   *sipgo.DialogServerSession // answered calls
	out      *sipgo.DialogClientSession // dialled calls
	params   map[string]string
	number   string
	display  string
	ctx      context.Context
	cancel   context.CancelCauseFunc
	ep       *rtp.Endpoint
	codec    codec.Codec
	pt       uint8
	digits   chan rune
	muxDone  chan struct{}
	session  *Session
	stopDlg  func() bool
	cleaning sync.Once

	mu         sync.Mutex
	sdp        *sdp.Session // not safe for concurrent use: under mu
	local      sdp.Local
	srtp       *sdp.SRTP // the stream's SDES keying; nil: plain RTP
	eventPT    uint8     // 0: no telephone-event negotiated
	sending    bool      // our direction lets us send
	rec        *recording
	mediaEnded bool
	ackWait    map[uint32]chan *sip.Request // re-INVITE CSeq -> its ACK
	remoteSeq  uint32                       // dialled: the far end's last CSeq, 0 before any
	relay      *relay                       // the bridge forwarding our packets, if any
	playing    int                          // Play calls running

	// txMu orders what goes out of the endpoint: Play and a bridge
	// forwarding into this call, so the stream stays one timeline.
	txMu sync.Mutex
	// lastSent is when the last packet went out, to keep RTP timestamps
	// in step with the wall clock across the pauses between prompts and
	// bridges.
	lastSent time.Time
}

type callInit struct {
	log    *zap.Logger
	dialog *sipgo.DialogServerSession
	out    *sipgo.DialogClientSession
	key    string
	// number and display name the caller (dialled: the called party)
	number, display string
	app             App
	req             *sip.Request
	ctx             context.Context
	cancel          context.CancelCauseFunc
	ep              *rtp.Endpoint
	codec           codec.Codec
	sdp             *sdp.Session
	local           sdp.Local
	choice          sdp.Choice
}

func newCall(s *Server, in callInit) *call {
	c := &call{
		srv: s, log: in.log, id: callID(in.req), key: in.key, app: in.app,
		dialog: in.dialog, out: in.out, number: in.number, display: in.display,
		ctx: in.ctx, cancel: in.cancel, ep: in.ep, codec: in.codec, pt: in.choice.Codec.PT,
		digits: make(chan rune, digitBuffer), muxDone: make(chan struct{}),
		sdp: in.sdp, local: in.local, ackWait: map[uint32]chan *sip.Request{},
	}
	if in.dialog != nil {
		c.appName, c.params = unescape(in.req.Recipient.User), uriParams(in.req.Recipient)
		c.number, c.display = callerOf(in.req)
		c.key = in.dialog.ID
	}
	c.applyLocked(in.choice)
	c.session = &Session{c: c}
	// The dialog's context ends with the dialog: a BYE from the far end,
	// a CANCEL before the answer, our own BYE.
	if in.dialog != nil {
		c.stopDlg = context.AfterFunc(in.dialog.Context(), func() { c.end(errCallerBye) })
	} else {
		c.stopDlg = context.AfterFunc(in.out.Context(), func() { c.end(errCalleeBye) })
	}
	return c
}

// state returns the dialog's state.
func (c *call) state() sip.DialogState {
	if c.out != nil {
		return c.out.LoadState()
	}
	return c.dialog.LoadState()
}

// readRequest checks an in-dialog request's CSeq (RFC 3261 §12.2.2).
// sipgo's client dialog would compare the far end's CSeq with our own
// numbering, so dialled calls keep their own count.
func (c *call) readRequest(req *sip.Request, tx sip.ServerTransaction) error {
	if c.out == nil {
		return c.dialog.ReadRequest(req, tx)
	}
	seq := req.CSeq().SeqNo
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.remoteSeq != 0 && seq <= c.remoteSeq {
		return sipgo.ErrDialogInvalidCseq
	}
	c.remoteSeq = seq
	return nil
}

// readBye takes the far end's BYE: it answers 200 and ends the dialog,
// whose context then ends the call.
func (c *call) readBye(req *sip.Request, tx sip.ServerTransaction) error {
	if c.out != nil {
		return c.out.ReadBye(req, tx)
	}
	return c.dialog.ReadBye(req, tx)
}

// Caller returns the caller's number and display name.
func (c *call) Caller() (string, string) { return c.number, c.display }

// end ends the call's context; the first cause sticks.
func (c *call) end(cause error) { c.cancel(cause) }

// cleanup releases what the call holds; safe to call more than once.
func (c *call) cleanup() {
	c.cleaning.Do(func() {
		c.end(ErrCallEnded)
		c.srv.unregister(c)
		_ = c.ep.Close()
		<-c.muxDone
		c.stopDlg()
	})
}

// bye ends the dialog from our side, through its route set.
func (c *call) bye() {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.ctx), byeTimeout)
	defer cancel()
	if c.out != nil {
		c.byeOut(ctx)
		return
	}
	inv := c.dialog.InviteRequest
	cont := inv.Contact()
	if cont == nil {
		return
	}
	bye := sip.NewRequest(sip.BYE, *cont.Address.Clone())
	bye.SetTransport(inv.Transport())
	// Leave from our listening socket, where the proxy expects us.
	bye.Laddr = c.srv.laddr
	if err := c.dialog.WriteBye(ctx, bye); err != nil {
		c.log.Info("BYE failed", zap.Error(err))
	}
}

// applyLocked points the endpoint at a negotiated stream.
func (c *call) applyLocked(ch sdp.Choice) {
	if err := c.keyLocked(ch); err != nil {
		// Not reachable with keys the SDP parser checked; never fall
		// back to plain RTP on a stream negotiated as SRTP.
		c.log.Error("srtp keying failed; ending the call", zap.Error(err))
		c.end(err)
	}
	c.ep.SetRemote(ch.Remote, ch.RemoteRTCP)
	c.ep.SetHold(ch.Hold)
	c.eventPT = 0
	if ch.Event != nil {
		c.eventPT = ch.Event.PT
	}
	c.sending = ch.Direction.Sends()
}

// recording routes the call's packets to one Record call.
type recording struct {
	ch      chan *prtp.Packet
	closed  bool
	stopKey rune
	stop    context.CancelCauseFunc
}

func (r *recording) Packets() <-chan *prtp.Packet { return r.ch }

// readMedia is the call's packet reader: it detects RFC 4733 key presses
// for the digit buffer and hands packets to a recording in progress. It
// ends when the endpoint closes its packet channel.
func (c *call) readMedia() {
	defer close(c.muxDone)
	var (
		det     dtmf.Detector
		presses []dtmf.Press
		ssrc    uint32
		seen    bool
	)
	dead := c.ep.Dead()
	pkts := c.ep.Packets()
	for {
		select {
		case <-dead:
			dead = nil
			c.end(errDeadMedia)
		case p, ok := <-pkts:
			if !ok {
				c.mu.Lock()
				c.mediaEnded = true
				if c.rec != nil && !c.rec.closed {
					close(c.rec.ch)
					c.rec.closed = true
				}
				c.mu.Unlock()
				return
			}
			if seen && p.SSRC != ssrc {
				det.Reset() // a new sender clock
			}
			ssrc, seen = p.SSRC, true
			c.mu.Lock()
			evPT := c.eventPT
			c.mu.Unlock()
			presses = presses[:0]
			switch {
			case evPT != 0 && p.PayloadType == evPT:
				var ev dtmf.Event
				if ev.Unmarshal(p.Payload) == nil {
					presses = det.Push(presses, p.Timestamp, p.Marker, ev)
				}
			case p.PayloadType == c.pt:
				presses = det.Advance(presses, p.Timestamp)
			}
			c.mu.Lock()
			rec, rl := c.rec, c.relay
			if rec != nil && !rec.closed {
				select {
				case rec.ch <- p:
				default:
				}
			}
			c.mu.Unlock()
			if rl != nil {
				// Bridged: the packet, key presses included, is for the
				// other leg.
				rl.forward(p)
				continue
			}
			if rec != nil {
				// The recorder has its own detector and acts on its stop
				// key; a press during a recording is not a menu choice.
				continue
			}
			for _, pr := range presses {
				if pr.Digit != 0 {
					c.pushDigit(pr.Digit)
				}
			}
		}
	}
}

// infoDigit takes a key press that came by SIP INFO.
func (c *call) infoDigit(d rune) {
	c.mu.Lock()
	rec, rl := c.rec, c.relay
	c.mu.Unlock()
	if rl != nil {
		c.log.Debug("key press by SIP INFO dropped: bridged", zap.String("key", string(d)))
		return
	}
	if rec != nil {
		if d == rec.stopKey {
			rec.stop(errStopKey)
		}
		return
	}
	c.pushDigit(d)
}

func (c *call) pushDigit(d rune) {
	select {
	case c.digits <- d:
		c.log.Debug("key press", zap.String("key", string(d)))
	default:
		c.log.Debug("key press dropped: buffer full", zap.String("key", string(d)))
	}
}

// onAck takes an ACK: for a re-INVITE's answer, or the initial one.
func (c *call) onAck(req *sip.Request, tx sip.ServerTransaction) {
	cseq := req.CSeq()
	if cseq == nil {
		return
	}
	c.mu.Lock()
	ch := c.ackWait[cseq.SeqNo]
	c.mu.Unlock()
	if ch != nil {
		select {
		case ch <- req:
		default:
		}
		return
	}
	if c.out != nil {
		return // we sent the INVITE: no ACK of ours to take but re-INVITEs'
	}
	if err := c.dialog.ReadAck(req, tx); err != nil {
		c.log.Debug("ACK ignored", zap.Error(err), zap.Uint32("cseq", cseq.SeqNo))
	}
}

func (s *Server) onReinvite(req *sip.Request, tx sip.ServerTransaction) {
	c := s.lookup(req)
	if c == nil {
		respond(s.log, req, tx, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
		return
	}
	c.reinvite(req, tx)
}

// reinvite answers an INVITE within the dialog: hold, resume, a new
// address (transfer) or a session refresh. The codec stays: the recorder
// and the prompts were set up for it.
func (c *call) reinvite(req *sip.Request, tx sip.ServerTransaction) {
	if !c.waitConfirmed() {
		// Our 200 is still not ACKed; taking this CSeq now would make us
		// refuse that ACK.
		respond(c.log, req, tx, sip.StatusRequestPending, "Request Pending")
		return
	}
	if err := c.readRequest(req, tx); err != nil {
		// A CSeq not above the last one: a stale or crossed request
		// (RFC 3261 §12.2.2).
		respond(c.log, req, tx, sip.StatusInternalServerError, "Server Internal Error", sip.NewHeader("Retry-After", "1"))
		return
	}
	body := req.Body()
	offerless := len(body) == 0
	var (
		resBody []byte
		err     error
	)
	codecs := []string{c.codec.Name()}
	var offered *sdp.Crypto // our a=crypto in an offerless re-INVITE's offer
	if offerless {
		c.mu.Lock()
		resBody, err = c.sdp.Offer(c.local, codecs)
		offered = c.local.OfferCrypto()
		c.mu.Unlock()
		if err != nil {
			c.log.Error("re-INVITE: offer", zap.Error(err))
			respond(c.log, req, tx, sip.StatusInternalServerError, "Server Internal Error")
			return
		}
	} else {
		if ct := req.ContentType(); ct != nil && !isSDP(ct.Value()) {
			respond(c.log, req, tx, sip.StatusUnsupportedMediaType, "Unsupported Media Type", sip.NewHeader("Accept", "application/sdp"))
			return
		}
		offer, err := sdp.Parse(body)
		if err != nil {
			c.log.Info("re-INVITE: bad SDP", zap.Error(err))
			respond(c.log, req, tx, sip.StatusBadRequest, "Bad Request")
			return
		}
		c.mu.Lock()
		var ch sdp.Choice
		err = c.freshKeyLocked(offer, codecs)
		if err == nil {
			resBody, ch, err = c.sdp.Answer(offer, c.local, codecs)
		}
		if err == nil {
			c.applyLocked(ch)
		}
		c.mu.Unlock()
		if err != nil {
			// The session goes on as it was (RFC 3261 §14.2).
			c.log.Info("re-INVITE refused", zap.Error(err))
			respond(c.log, req, tx, sip.StatusNotAcceptableHere, "Not Acceptable Here")
			return
		}
		c.log.Info("re-INVITE answered", zap.Stringer("remote", ch.Remote), zap.Stringer("direction", ch.Direction))
	}
	ack := c.answerReinvite(req, tx, resBody)
	if ack == nil {
		return
	}
	if offerless && len(ack.Body()) > 0 {
		c.acceptAck(ack, codecs, offered)
	}
}

// waitConfirmed waits a little for the ACK of our 200 when a re-INVITE
// overtakes it: the caller sent that ACK before the re-INVITE (RFC 3261
// §14.1), but the two race through the network and sipgo's goroutines.
func (c *call) waitConfirmed() bool {
	deadline := time.Now().Add(2 * sip.T1)
	for {
		switch c.state() {
		case sip.DialogStateConfirmed:
			return true
		case sip.DialogStateEnded:
			return false
		}
		if time.Now().After(deadline) || c.ctx.Err() != nil {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// answerReinvite sends the 200 and retransmits it until the ACK comes
// (RFC 3261 §13.3.1.4), which it returns; nil when none came or a newer
// re-INVITE overtook it.
func (c *call) answerReinvite(req *sip.Request, tx sip.ServerTransaction, body []byte) *sip.Request {
	res := sip.NewSDPResponseFromRequest(req, body)
	res.AppendHeader(sip.HeaderClone(&c.srv.dua.ContactHDR))
	seq := req.CSeq().SeqNo
	acked := make(chan *sip.Request, 1)
	c.mu.Lock()
	// A newer re-INVITE means the caller sent the ACK for the older one
	// (it may not start an INVITE before): stop waiting for those.
	for old, ch := range c.ackWait {
		if old < seq {
			select {
			case ch <- nil:
			default:
			}
		}
	}
	c.ackWait[seq] = acked
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.ackWait, seq)
		c.mu.Unlock()
	}()
	if err := tx.Respond(res); err != nil {
		c.log.Info("re-INVITE: respond", zap.Error(err))
		return nil
	}
	interval := sip.T1
	retransmit := time.NewTimer(interval)
	defer retransmit.Stop()
	giveUp := time.NewTimer(64 * sip.T1)
	defer giveUp.Stop()
	for {
		select {
		case ack := <-acked:
			return ack
		case <-c.ctx.Done():
			return nil
		case <-giveUp.C:
			c.log.Info("re-INVITE: no ACK; ending the call")
			c.end(errNoAck)
			return nil
		case <-retransmit.C:
			if err := tx.Respond(res); err != nil {
				c.log.Debug("re-INVITE: retransmit", zap.Error(err))
			}
			interval = min(2*interval, sip.T2)
			retransmit.Reset(interval)
		}
	}
}

// acceptAck applies the answer an ACK carries to our offer, which offered
// SRTP when offered is set.
func (c *call) acceptAck(ack *sip.Request, codecs []string, offered *sdp.Crypto) {
	ans, err := sdp.Parse(ack.Body())
	if err != nil {
		c.log.Info("ACK: bad SDP answer", zap.Error(err))
		return
	}
	var ch sdp.Choice
	if offered != nil {
		ch, err = sdp.AcceptSecure(ans, codecs, *offered)
	} else {
		ch, err = sdp.Accept(ans, codecs)
	}
	if err != nil {
		c.log.Info("ACK: answer not usable", zap.Error(err))
		return
	}
	c.mu.Lock()
	c.applyLocked(ch)
	c.mu.Unlock()
}
