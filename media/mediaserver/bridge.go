package mediaserver

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	prtp "github.com/pion/rtp"
	"go.uber.org/zap"
)

// ErrBusy is returned by Bridge, Play and Record when a session is already
// in a Bridge (or, for Bridge, in a Play or Record): a session's outgoing
// stream has one source at a time.
var ErrBusy = errors.New("mediaserver: session busy")

// maxStep is the largest timestamp step taken as the same stream (2 s):
// a bigger one, or a new SSRC, is a new stream, which the outgoing leg
// joins on its own timeline as after a pause.
const maxStep = 2 * 8000

// Bridge relays audio between a and b, both ways, until ctx ends or one of
// the calls ends. It returns:
//
//   - (nil, ctx's error) when ctx ended: both calls are still up and may
//     Play, Record or be bridged again;
//   - (the ended session, an error wrapping ErrCallEnded) when a leg ended
//     (hung up, dead media, server stopping): the other leg is still up,
//     and hanging it up is the caller's choice;
//   - (nil, ErrBusy) at once when either session is already bridged,
//     playing or recording, or a and b are the same.
//
// Packets are forwarded as they arrive, without a jitter buffer (the
// phones have their own). Each outgoing stream keeps its session's SSRC,
// sequence numbers and timeline: timestamps advance with the source's
// steps, and at the start, after a change of source (SSRC) or a jump, by
// the wall-clock time since the session last sent, so a stream stays
// continuous across Play calls and successive bridges. When the legs
// negotiated different codecs, audio is transcoded (PCMU↔PCMA); comfort
// noise and other payload types are dropped. RFC 4733 telephone-events are
// passed through with the outgoing leg's event payload type, or dropped
// when that leg negotiated none; key presses are not collected for
// ReadDigits while bridged, and those that come by SIP INFO are dropped.
// A leg that holds us (sendonly/inactive) gets nothing until it resumes.
func Bridge(ctx context.Context, a, b *Session) (ended *Session, err error) {
	if a == nil || b == nil || a.c == b.c {
		return nil, ErrBusy
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ab, ba := &relay{from: a.c, to: b.c}, &relay{from: b.c, to: a.c}
	if !attach(a.c, ab, b.c, ba) {
		return nil, ErrBusy
	}
	defer func() {
		detach(a.c, ab, b.c, ba)
		// What crossed, for operations and the end-to-end tests: a bridge
		// that relayed nothing one way is a one-way-audio complaint.
		a.c.log.Info("bridge ended", zap.String("peer_call_id", b.c.id),
			zap.Int64("packets_to_peer", ab.packets.Load()), zap.Int64("packets_from_peer", ba.packets.Load()))
	}()
	a.c.log.Info("bridged", zap.String("peer_call_id", b.c.id))
	select {
	case <-ctx.Done():
	case <-a.c.ctx.Done():
	case <-b.c.ctx.Done():
	}
	// A leg's end wins over ctx: an App's ctx is its call's, and ends
	// with it.
	for _, s := range []*Session{a, b} {
		if err := s.Ended(); err != nil {
			return s, fmt.Errorf("mediaserver: bridge: call %s: %w", s.c.id, err)
		}
	}
	return nil, ctx.Err()
}

// attach installs both relays, or neither when a leg is busy. The two
// locks are taken in a fixed order so crossing Bridge calls cannot
// deadlock.
func attach(a *call, ar *relay, b *call, br *relay) bool {
	first, second := a, b
	if b.id < a.id || (b.id == a.id && b.key < a.key) {
		first, second = b, a
	}
	first.mu.Lock()
	defer first.mu.Unlock()
	second.mu.Lock()
	defer second.mu.Unlock()
	for _, c := range []*call{a, b} {
		if c.relay != nil || c.playing > 0 || c.rec != nil || c.ctx.Err() != nil {
			return false
		}
	}
	a.relay, b.relay = ar, br
	return true
}

func detach(a *call, ar *relay, b *call, br *relay) {
	for _, x := range []struct {
		c *call
		r *relay
	}{{a, ar}, {b, br}} {
		x.c.mu.Lock()
		if x.c.relay == x.r {
			x.c.relay = nil
		}
		x.c.mu.Unlock()
		// Wait for a forward in progress on the source's reader, so the
		// stream is the caller's alone once Bridge returns.
		x.r.to.txMu.Lock()
		x.r.stopped = true
		x.r.to.txMu.Unlock()
	}
}

// relay forwards the packets of one leg into the other. forward runs on
// the source's packet reader only, so the fields need no lock except
// stopped, which is under to.txMu.
type relay struct {
	from, to *call
	seen     bool   // a packet has been forwarded
	ssrc     uint32 // its source's SSRC
	lastTS   uint32 // its timestamp
	buf      []byte
	stopped  bool
	packets  atomic.Int64 // forwarded, for the log when the bridge ends
}

// forward sends one packet from the source leg into the other.
func (r *relay) forward(p *prtp.Packet) {
	in, out := r.from, r.to
	in.mu.Lock()
	inEv := in.eventPT
	in.mu.Unlock()
	out.mu.Lock()
	outEv := out.eventPT
	out.mu.Unlock()

	var (
		pt      uint8
		payload []byte
		step    = uint32(frameSamples)
	)
	switch {
	case p.PayloadType == in.pt:
		pt = out.pt
		r.buf = in.codec.Transcode(out.codec, p.Payload, r.buf[:0])
		payload = r.buf
		if n := len(p.Payload); n > 0 {
			step = uint32(n) // G.711: one byte per sample
		}
	case inEv != 0 && p.PayloadType == inEv && outEv != 0:
		pt, payload, step = outEv, p.Payload, 0
	default:
		return
	}

	resync := !r.seen || p.SSRC != r.ssrc
	delta := step
	if !resync {
		d := int32(p.Timestamp - r.lastTS)
		switch {
		case d < 0 && d > -maxStep:
			return // late: the far end has played past it
		case d < 0 || d > maxStep:
			resync = true
		default:
			delta = uint32(d)
		}
	}
	marker := p.Marker || resync
	out.txMu.Lock()
	if r.stopped {
		out.txMu.Unlock()
		return
	}
	sent, err := out.transmitLocked(pt, payload, delta, marker, resync)
	out.txMu.Unlock()
	if err != nil || !sent {
		// Held, or gone: the next packet starts afresh on the wall clock.
		r.seen = false
		return
	}
	r.seen, r.ssrc, r.lastTS = true, p.SSRC, p.Timestamp
	r.packets.Add(1)
}
