package proxy

import (
	"context"
	"errors"
	"strings"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"
)

// Anchor bridges a browser's WebRTC media (ICE, DTLS-SRTP) and a phone's
// plain RTP (media/webrtc): a call between the two gets its SDP rewritten
// both ways and its media relayed by Sentral. Calls between two phones,
// or two browsers, are not anchored: their media flows directly.
type Anchor interface {
	// IsWebRTC reports whether an SDP body comes from a browser.
	IsWebRTC(sdp []byte) bool
	// FromBrowser turns a browser's offer into one for phones. ctx bounds
	// the leg's life: the proxy's, since the leg outlives the INVITE into
	// the dialog, which closes it.
	FromBrowser(ctx context.Context, callID string, offer []byte) (AnchorLeg, []byte, error)
	// ToBrowser turns a phone's offer into one for a browser.
	ToBrowser(ctx context.Context, callID string, offer []byte) (AnchorLeg, []byte, error)
}

// AnchorLeg is one anchored call's media.
type AnchorLeg interface {
	// Answer turns the answer of the side that got the rewritten offer
	// into one for the side that made the offer.
	Answer(answer []byte) ([]byte, error)
	// Reoffer turns an in-dialog offer (hold, resume) from one side into
	// the offer for the other; Reanswer turns that side's answer into the
	// answer for the first (nil withdraws the re-offer: it was refused).
	Reoffer(fromBrowser bool, offer []byte) ([]byte, error)
	Reanswer(answer []byte) ([]byte, error)
	Close() error
}

// ErrNotAcceptable marks an anchor error the caller should hear as 488
// (no codec both sides have, such as an Opus-only browser).
var ErrNotAcceptable = errors.New("no media both sides accept")

// browserTransport reports whether a target is reached over WebSocket,
// which only browsers use.
func browserTransport(transport string) bool {
	t := strings.ToLower(transport)
	return t == "ws" || t == "wss"
}

// anchored is what a call knows of its media anchoring.
type anchored struct {
	callerBrowser bool
	callerLeg     AnchorLeg // FromBrowser, shared by every phone branch
	phoneOffer    []byte
}

// anchorOffer rewrites a branch's INVITE body when the call joins a
// browser and a phone.
func (c *call) anchorOffer(b *branch, out *sip.Request) error {
	a := c.p.opt.Anchor
	body := c.req.Body()
	if a == nil || len(body) == 0 || b.target.Media && !c.anchor.callerBrowser {
		return nil
	}
	toBrowser := browserTransport(b.target.Transport)
	switch {
	case c.anchor.callerBrowser && !toBrowser:
		if c.anchor.callerLeg == nil {
			leg, offer, err := a.FromBrowser(c.p.life, callID(c.req), body)
			if err != nil {
				return err
			}
			c.anchor.callerLeg, c.anchor.phoneOffer = leg, offer
		}
		out.SetBody(c.anchor.phoneOffer)
	case !c.anchor.callerBrowser && toBrowser:
		leg, offer, err := a.ToBrowser(c.p.life, callID(c.req), body)
		if err != nil {
			return err
		}
		b.leg = leg
		out.SetBody(offer)
	}
	return nil
}

// legOf is the anchor leg a branch's answers go through, nil when the
// branch is not anchored.
func (c *call) legOf(b *branch) AnchorLeg {
	if b.leg != nil {
		return b.leg
	}
	if c.anchor.callerBrowser && !browserTransport(b.target.Transport) {
		return c.anchor.callerLeg
	}
	return nil
}

// anchorAnswer rewrites a branch's response for the caller: a 2xx's
// answer through the leg (the same rewrite for retransmissions), early
// media SDP dropped (not anchored).
func (c *call) anchorAnswer(b *branch, res *sip.Response, retransmission bool) *sip.Response {
	leg := c.legOf(b)
	if leg == nil || len(res.Body()) == 0 {
		return res
	}
	out := res.Clone()
	if res.StatusCode < 200 {
		out.SetBody(nil)
		out.RemoveHeader("Content-Type")
		return out
	}
	if p := b.answer.Load(); p != nil && p.in == string(res.Body()) {
		out.SetBody(p.out)
		return out
	}
	if retransmission {
		// Only the call's goroutine asks the leg; a retransmission of an
		// answer it has not seen yet goes on as it is.
		return res
	}
	ans, err := leg.Answer(res.Body())
	if err != nil {
		c.log.Warn("proxy: media anchor answer", zap.Error(err))
		return res
	}
	b.answer.Store(&rewritten{in: string(res.Body()), out: ans})
	out.SetBody(ans)
	return out
}

// rewritten is a 2xx answer and what the anchor made of it.
type rewritten struct {
	in  string
	out []byte
}

// closeLegs releases every leg but keep.
func (c *call) closeLegs(keep AnchorLeg) {
	closeLeg := func(l AnchorLeg) {
		if l != nil && l != keep {
			if err := l.Close(); err != nil {
				c.log.Debug("proxy: close media leg", zap.Error(err))
			}
		}
	}
	for _, b := range c.branches {
		closeLeg(b.leg)
	}
	closeLeg(c.anchor.callerLeg)
}

// dialogMedia is an answered anchored call's media, kept with its dialog:
// in-dialog offers (hold, resume) are rewritten through the leg, and the
// leg is closed when the dialog ends.
type dialogMedia struct {
	leg AnchorLeg
}

func (m *dialogMedia) close() {
	if m != nil && m.leg != nil {
		_ = m.leg.Close()
	}
}

// mediaOf is what the dialog keeps of an answered call's anchoring.
func (c *call) mediaOf() *dialogMedia {
	if c.keepLeg == nil {
		return nil
	}
	return &dialogMedia{leg: c.keepLeg}
}

// dialogMedia returns the anchored media of a dialog, nil if none.
func (p *Proxy) dialogMedia(id string) *dialogMedia {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dialogs[id].media
}

// reoffer rewrites an in-dialog INVITE's offer of an anchored call for
// the other side; nil when the call is not anchored or out has no offer.
func (p *Proxy) reoffer(req, out *sip.Request) (*dialogMedia, error) {
	if p.opt.Anchor == nil || !req.IsInvite() || len(req.Body()) == 0 {
		return nil, nil
	}
	m := p.dialogMedia(callID(req))
	if m == nil {
		return nil, nil
	}
	off, err := m.leg.Reoffer(p.opt.Anchor.IsWebRTC(req.Body()), req.Body())
	if err != nil {
		return nil, err
	}
	out.SetBody(off)
	return m, nil
}

// reanswer rewrites the other side's answer to a re-offer; a failure
// withdraws the re-offer so the call keeps its media.
func reanswer(m *dialogMedia, res *sip.Response, log *zap.Logger) *sip.Response {
	if m == nil || res.StatusCode < 200 {
		return res
	}
	if res.StatusCode >= 300 || len(res.Body()) == 0 {
		if _, err := m.leg.Reanswer(nil); err != nil {
			log.Debug("proxy: withdraw anchored re-offer", zap.Error(err))
		}
		return res
	}
	ans, err := m.leg.Reanswer(res.Body())
	if err != nil {
		log.Warn("proxy: anchored re-answer", zap.Error(err))
		return res
	}
	out := res.Clone()
	out.SetBody(ans)
	return out
}
