package mediaservertest

import (
	"context"
	"errors"
	"fmt"
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

// Plan says how the phone treats the INVITEs it receives (SetPlan). The
// zero Plan answers at once with PCMU or PCMA, whichever the offer lists
// first.
type Plan struct {
	// Code is the final answer: 0 or 200 answers, others refuse.
	Code int
	// Ring is how long the phone rings (180) before the final answer;
	// negative rings until CANCEL.
	Ring time.Duration
	// Codecs are those the phone accepts (PCMU, PCMA); the offer's order
	// decides among them.
	Codecs []string
	// Headers are added to the final answer (P-Asserted-Identity).
	Headers []sip.Header
}

// SetPlan sets how later INVITEs are treated.
func (p *Phone) SetPlan(pl Plan) {
	p.mu.Lock()
	p.plan = pl
	p.mu.Unlock()
}

// Incoming is one INVITE the phone received, and the call if it answered.
type Incoming struct {
	Phone *Phone
	// Invite is the INVITE as received.
	Invite *sip.Request
	Dialog *sipgo.DialogServerSession
	// Offer is the INVITE's SDP.
	Offer *sdp.Offer
	Stream

	canceled chan struct{} // CANCEL came before the answer
	answered chan struct{}
	ended    chan struct{} // BYE came after the answer
	byeOnce  sync.Once
	bye      *sip.Request
	closed   sync.Once
	sess     *sdp.Session // for re-INVITEs; under Stream.mu
}

// NextIncoming waits for the next INVITE the phone receives.
func (p *Phone) NextIncoming(ctx context.Context) (*Incoming, error) {
	select {
	case in := <-p.incoming:
		return in, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Canceled is closed when a CANCEL ended the INVITE before the answer.
func (in *Incoming) Canceled() <-chan struct{} { return in.canceled }

// Answered is closed when the phone has answered and the ACK came.
func (in *Incoming) Answered() <-chan struct{} { return in.answered }

// Ended is closed when a BYE came for the answered call.
func (in *Incoming) Ended() <-chan struct{} { return in.ended }

// Bye returns the BYE received, once Ended is closed.
func (in *Incoming) Bye() *sip.Request {
	<-in.ended
	return in.bye
}

// Hangup sends BYE and closes the media.
func (in *Incoming) Hangup(ctx context.Context) error {
	defer in.Close()
	bye := sip.NewRequest(sip.BYE, *in.Dialog.InviteRequest.Contact().Address.Clone())
	if err := in.Dialog.WriteBye(ctx, bye); err != nil {
		return fmt.Errorf("phone: BYE: %w", err)
	}
	return nil
}

// Close closes the call's media (it sends no BYE).
func (in *Incoming) Close() {
	in.closed.Do(func() {
		if in.EP != nil {
			_ = in.EP.Close()
			select {
			case <-in.rxDone:
			case <-time.After(time.Second):
			}
		}
		in.Phone.mu.Lock()
		delete(in.Phone.answered, in.Invite.CallID().Value())
		in.Phone.mu.Unlock()
	})
}

func (p *Phone) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	p.mu.Lock()
	plan := p.plan
	p.mu.Unlock()
	in := &Incoming{Phone: p, Invite: req.Clone(), canceled: make(chan struct{}),
		answered: make(chan struct{}), ended: make(chan struct{})}
	if to := req.To(); to != nil && to.Params.Has("tag") {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusNotAcceptableHere, "No re-INVITE here", nil))
		return
	}
	d, err := p.dua.ReadInvite(req, tx)
	if err != nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusBadRequest, err.Error(), nil))
		return
	}
	in.Dialog = d
	select {
	case p.incoming <- in:
	default:
		p.log.Warn("phone: incoming queue full")
	}
	if err := d.Respond(sip.StatusRinging, "Ringing", nil); err != nil {
		return
	}
	if plan.Ring != 0 {
		var timeout <-chan time.Time
		if plan.Ring > 0 {
			t := time.NewTimer(plan.Ring)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-timeout:
		case <-d.Context().Done():
			close(in.canceled)
			return
		case <-p.ctx.Done():
			return
		}
	}
	if plan.Code != 0 && plan.Code != sip.StatusOK {
		_ = d.Respond(plan.Code, "Refused", nil, plan.Headers...)
		return
	}
	codecs := plan.Codecs
	if len(codecs) == 0 {
		codecs = []string{"PCMU", "PCMA"}
	}
	offer, err := sdp.Parse(req.Body())
	if err != nil {
		_ = d.Respond(sip.StatusBadRequest, "Bad SDP", nil)
		return
	}
	in.Offer = offer
	ep, err := rtp.Open(p.ctx, p.ports, rtp.Config{Log: p.log, DeadMediaTimeout: -1})
	if err != nil {
		_ = d.Respond(sip.StatusServiceUnavailable, "No Ports", nil)
		return
	}
	answer, ch, err := sdp.NewSession().Answer(offer, sdp.Local{Addr: ep.LocalAddr().Addr(), Port: int(ep.LocalAddr().Port())}, codecs)
	if err != nil {
		_ = ep.Close()
		_ = d.Respond(sip.StatusNotAcceptableHere, "Not Acceptable Here", nil)
		return
	}
	in.EP, in.Choice, in.rxDone = ep, ch, make(chan struct{})
	in.Codec, _ = codec.ByName(ch.Codec.Name)
	ep.SetRemote(ch.Remote, ch.RemoteRTCP)
	go in.receive()
	p.mu.Lock()
	p.answered[req.CallID().Value()] = in
	p.mu.Unlock()
	res := sip.NewSDPResponseFromRequest(d.InviteRequest, answer)
	for _, h := range plan.Headers {
		res.AppendHeader(h)
	}
	if err := d.WriteResponse(res); err != nil {
		p.log.Debug("phone: answer", zap.Error(err))
		in.Close()
		return
	}
	close(in.answered)
}

func (p *Phone) onAck(req *sip.Request, tx sip.ServerTransaction) {
	p.mu.Lock()
	in := p.answered[req.CallID().Value()]
	p.mu.Unlock()
	if in != nil {
		_ = in.Dialog.ReadAck(req, tx)
	}
}

// byeIncoming takes a BYE for an answered call; false if there is none.
func (p *Phone) byeIncoming(id string, req *sip.Request, tx sip.ServerTransaction) bool {
	p.mu.Lock()
	in := p.answered[id]
	p.mu.Unlock()
	if in == nil {
		return false
	}
	if err := in.Dialog.ReadBye(req, tx); err != nil && !errors.Is(err, context.Canceled) {
		p.log.Debug("phone: BYE", zap.Error(err))
	}
	in.byeOnce.Do(func() {
		in.bye = req.Clone()
		close(in.ended)
	})
	return true
}

// Request sends an in-dialog request on an answered call and returns the
// final response.
func (in *Incoming) Request(ctx context.Context, method sip.RequestMethod, contentType string, body []byte) (*sip.Response, error) {
	req := sip.NewRequest(method, *in.Dialog.InviteRequest.Contact().Address.Clone())
	if contentType != "" {
		req.AppendHeader(sip.NewHeader("Content-Type", contentType))
	}
	req.SetBody(body)
	res, err := in.Dialog.Do(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("phone: %s: %w", method, err)
	}
	return res, nil
}

// Ack sends the ACK for a 2xx to a re-INVITE sent with Request.
func (in *Incoming) Ack(body []byte) error {
	req := sip.NewRequest(sip.ACK, *in.Dialog.InviteRequest.Contact().Address.Clone())
	if body != nil {
		req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	}
	req.SetBody(body)
	return in.Dialog.WriteRequest(req)
}

// Reinvite re-offers the call's stream with direction dir (sdp.SendOnly
// holds the other side, sdp.SendRecv resumes) and ACKs the answer, which
// it returns.
func (in *Incoming) Reinvite(ctx context.Context, dir sdp.Direction) (*sdp.Offer, error) {
	in.mu.Lock()
	if in.sess == nil {
		in.sess = sdp.NewSession()
	}
	sess := in.sess
	in.mu.Unlock()
	body, err := sess.Offer(sdp.Local{Addr: in.EP.LocalAddr().Addr(), Port: int(in.EP.LocalAddr().Port()), Direction: dir},
		[]string{in.Codec.Name()})
	if err != nil {
		return nil, err
	}
	res, err := in.Request(ctx, sip.INVITE, "application/sdp", body)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != sip.StatusOK {
		return nil, fmt.Errorf("phone: re-INVITE answered %s", res.StartLine())
	}
	if err := in.Ack(nil); err != nil {
		return nil, err
	}
	return sdp.Parse(res.Body())
}

// SendINFO sends a key press as application/dtmf-relay.
func (in *Incoming) SendINFO(ctx context.Context, key rune) error {
	body := "Signal=" + string(key) + "\r\nDuration=160\r\n"
	res, err := in.Request(ctx, sip.INFO, dtmf.ContentTypeRelay, []byte(body))
	if err != nil {
		return err
	}
	if res.StatusCode != sip.StatusOK {
		return fmt.Errorf("phone: INFO answered %d", res.StatusCode)
	}
	return nil
}
