package webrtc

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	prtp "github.com/pion/rtp"
	pion "github.com/pion/webrtc/v4"

	"github.com/sentralpbx/sentral/media/sdp"
)

// route is what one offer/answer exchange settled for the relay: payload
// type maps each way (-1: drop) and whether each direction may carry
// media. It is immutable; a renegotiation stores a new one, so that the
// two relay goroutines read it without a lock.
type route struct {
	toPhone, toBrowser [128]int16
	phoneOn, browserOn bool   // media may flow towards the phone, the browser
	frame              uint32 // RTP clock ticks in one packet, for a new source's first step
}

// newRoute builds a route: bc and pc are the codec's payload types on the
// browser and phone side, bte and pte telephone-event's (nil when either
// side lacks it); bdir and pdir the directions each side wrote in its own
// SDP.
func newRoute(bc, pc uint8, bte, pte *sdp.Codec, bdir, pdir sdp.Direction, ptime int) *route {
	r := &route{
		phoneOn:   bdir.Sends() && pdir.Receives(),
		browserOn: pdir.Sends() && bdir.Receives(),
		frame:     uint32(max(ptime, 10)) * 8,
	}
	for i := range r.toPhone {
		r.toPhone[i], r.toBrowser[i] = -1, -1
	}
	r.toPhone[bc&0x7f], r.toBrowser[pc&0x7f] = int16(pc), int16(bc)
	if bte != nil && pte != nil {
		r.toPhone[bte.PT&0x7f], r.toBrowser[pte.PT&0x7f] = int16(pte.PT), int16(bte.PT)
	}
	return r
}

// binding is the browser-side stream pion bound the track to.
type binding struct {
	id    string
	ssrc  uint32
	write pion.TrackLocalWriter
}

// phoneTrack is the browser-bound track carrying the phone's packets.
// pion's TrackLocalStaticRTP would do but for one thing: it stamps every
// packet with the bound codec's payload type, which would turn the
// phone's telephone-events into noise. This track writes each packet with
// the payload type the route gives it.
type phoneTrack struct {
	mu    sync.Mutex
	codec string // the G.711 codec to bind, "" for the first one negotiated
	bound atomic.Pointer[binding]
}

func (t *phoneTrack) setCodec(name string) {
	t.mu.Lock()
	t.codec = name
	t.mu.Unlock()
}

// Bind implements pion.TrackLocal: it picks the negotiated G.711 codec.
func (t *phoneTrack) Bind(ctx pion.TrackLocalContext) (pion.RTPCodecParameters, error) {
	t.mu.Lock()
	want := t.codec
	t.mu.Unlock()
	for _, c := range ctx.CodecParameters() {
		name := strings.TrimPrefix(c.MimeType, "audio/")
		if (want == "" && (strings.EqualFold(name, "PCMU") || strings.EqualFold(name, "PCMA"))) ||
			(want != "" && strings.EqualFold(name, want)) {
			t.bound.Store(&binding{id: ctx.ID(), ssrc: uint32(ctx.SSRC()), write: ctx.WriteStream()})
			return c, nil
		}
	}
	return pion.RTPCodecParameters{}, pion.ErrUnsupportedCodec
}

// Unbind implements pion.TrackLocal.
func (t *phoneTrack) Unbind(ctx pion.TrackLocalContext) error {
	if b := t.bound.Load(); b != nil && b.id == ctx.ID() {
		t.bound.CompareAndSwap(b, nil)
	}
	return nil
}

// ID implements pion.TrackLocal.
func (t *phoneTrack) ID() string { return "audio" }

// RID implements pion.TrackLocal.
func (t *phoneTrack) RID() string { return "" }

// StreamID implements pion.TrackLocal.
func (t *phoneTrack) StreamID() string { return "sentral" }

// Kind implements pion.TrackLocal.
func (t *phoneTrack) Kind() pion.RTPCodecType { return pion.RTPCodecTypeAudio }

// toBrowserState renumbers the phone's packets for the browser. The
// phone's sequence numbers and timestamps pass through as they are, so
// that the browser sees the phone's gaps and timing; only when the
// phone's SSRC changes (a re-INVITE to another phone, a phone restarting
// its stream) are they rebased to continue where the last source
// stopped, since the browser knows one SSRC and would otherwise see time
// jump. Owned by the phone endpoint's reading goroutine.
type toBrowserState struct {
	started bool
	ssrc    uint32
	seqOff  uint16
	tsOff   uint32
	lastSeq uint16
	lastTS  uint32
	lastAt  time.Time
}

// next returns the outgoing sequence number and timestamp for p, and
// whether it starts a new source (the marker bit then tells the browser's
// jitter buffer to resynchronise).
func (s *toBrowserState) next(p *prtp.Packet, now time.Time) (seq uint16, ts uint32, fresh bool) {
	switch {
	case !s.started:
		s.started, s.ssrc = true, p.SSRC
	case p.SSRC != s.ssrc:
		elapsed := uint32(max(now.Sub(s.lastAt), time.Millisecond) * 8000 / time.Second)
		s.ssrc = p.SSRC
		s.seqOff = s.lastSeq + 1 - p.SequenceNumber
		s.tsOff = s.lastTS + elapsed - p.Timestamp
		fresh = true
	}
	seq, ts = p.SequenceNumber+s.seqOff, p.Timestamp+s.tsOff
	s.lastSeq, s.lastTS, s.lastAt = seq, ts, now
	return seq, ts, fresh
}

// fromPhone relays one packet from the phone to the browser. It runs on
// the phone endpoint's reading goroutine (rtp.Config.OnPacket) and must
// not block: pion's SRTP write is a UDP send, and before DTLS is up it
// drops the packet and returns at once.
func (l *Leg) fromPhone(p *prtp.Packet) {
	r := l.route.Load()
	if r == nil || !r.browserOn {
		return
	}
	pt := r.toBrowser[p.PayloadType&0x7f]
	b := l.track.bound.Load()
	if pt < 0 || b == nil {
		return
	}
	seq, ts, fresh := l.toBrowserSeq.next(p, time.Now())
	h := prtp.Header{
		Version: 2, Marker: p.Marker || fresh, PayloadType: uint8(pt),
		SequenceNumber: seq, Timestamp: ts, SSRC: b.ssrc,
	}
	if n, err := b.write.WriteRTP(&h, p.Payload); err == nil && n > 0 {
		l.toBrowser.Add(1)
	}
}

// readBrowser relays the browser's packets to the phone until the track
// ends (the PeerConnection closed). It runs on the goroutine pion starts
// for OnTrack. The phone endpoint numbers its own stream (SSRC, sequence);
// the browser's timestamps carry over as steps, so RFC 4733 events, whose
// packets repeat one timestamp, keep their timing.
func (l *Leg) readBrowser(tr *pion.TrackRemote) {
	defer l.wg.Done()
	buf := make([]byte, 1500)
	var p prtp.Packet
	var started bool
	var ssrc, lastTS uint32
	for {
		n, _, err := tr.Read(buf)
		if err != nil {
			return
		}
		if p.Unmarshal(buf[:n]) != nil {
			continue
		}
		r := l.route.Load()
		if r == nil || !r.phoneOn {
			continue
		}
		pt := r.toPhone[p.PayloadType&0x7f]
		if pt < 0 {
			continue
		}
		step := r.frame
		if started && p.SSRC == ssrc {
			// Modular: a late packet steps back, and the next one forward.
			step = p.Timestamp - lastTS
		}
		started, ssrc, lastTS = true, p.SSRC, p.Timestamp
		if l.ep.SendPT(uint8(pt), p.Payload, step, p.Marker) == nil {
			l.toPhone.Add(1)
		}
	}
}
