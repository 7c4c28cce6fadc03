package rtp

import (
	"net/netip"
	"slices"
	"time"

	"github.com/pion/rtp"
	"go.uber.org/zap"
)

// handleRTP validates one datagram from the RTP socket, applies the latch,
// updates the reception statistics and returns the packet to deliver, or
// nil to drop it. b is the reader's buffer and is not kept.
func (e *Endpoint) handleRTP(b []byte, from netip.AddrPort) *rtp.Packet {
	from = unmap(from)
	if !plausibleRTP(b) {
		e.countReject()
		return nil
	}
	if s := e.srtp.Load(); s != nil {
		// Authenticated before anything else looks at it: a forged or
		// replayed packet must not latch, count or play.
		plain, err := s.unprotectRTP(b)
		if err != nil {
			e.countSRTPReject(err, from)
			return nil
		}
		b = plain // a fresh buffer: no clone needed below
	} else {
		// The packet outlives the read buffer; one copy, which the
		// payload then points into.
		b = slices.Clone(b)
	}
	p := &rtp.Packet{}
	if err := p.Unmarshal(b); err != nil {
		e.countReject()
		return nil
	}
	if !e.accept[p.PayloadType] {
		e.countReject()
		return nil
	}
	now := e.cfg.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.latchLocked(from, p.SSRC) {
		e.rejected++
		return nil
	}
	e.rx.update(p.SequenceNumber)
	if p.PayloadType == e.cfg.PayloadType {
		e.rx.updateJitter(e.arrival(now), p.Timestamp)
	}
	e.pktsRecv++
	e.octetsRecv += uint64(len(p.Payload))
	e.lastRx = now
	return p
}

// plausibleRTP checks what pion's parser does not: RTP version 2, and a
// payload type outside 64-95, where an RTCP packet (types 192-223) would
// land if a peer sent RTCP to the RTP port (RFC 5761 §4).
func plausibleRTP(b []byte) bool {
	if len(b) < 12 || b[0]>>6 != 2 {
		return false
	}
	pt := b[1] & 0x7f
	return pt < 64 || pt > 95
}

func (e *Endpoint) countReject() {
	e.mu.Lock()
	e.rejected++
	e.mu.Unlock()
}

// latchLocked decides whether a packet from `from` with ssrc belongs to
// the peer, and follows the peer when it moves. Symmetric RTP: a phone
// behind NAT announces its private address in SDP, but its packets come
// from the NAT's public one, and only replies to that address get back in.
// So we send to wherever the peer's RTP comes from. The first valid packet
// latches; after that, another source is followed only if it carries the
// latched SSRC (a NAT rebinding, a phone changing port), so a stranger
// spraying packets at the port can neither inject audio nor divert ours.
func (e *Endpoint) latchLocked(from netip.AddrPort, ssrc uint32) bool {
	switch {
	case !e.latched.IsValid():
		e.latched, e.remoteSSRC, e.rx = from, ssrc, rxStats{}
		if from != e.sdpRemote {
			e.log.Info("rtp latched to a source other than the SDP's",
				zap.Stringer("src", from), zap.Stringer("sdp", e.sdpRemote), zap.Uint32("ssrc", ssrc))
		} else {
			e.log.Debug("rtp latched", zap.Stringer("src", from), zap.Uint32("ssrc", ssrc))
		}
		return true
	case from == e.latched:
		if ssrc != e.remoteSSRC {
			// Same source, new stream (a phone restarting its sender after
			// hold, a B2BUA behind it switching legs): adopt it.
			e.log.Debug("rtp source changed ssrc", zap.Stringer("src", from),
				zap.Uint32("old", e.remoteSSRC), zap.Uint32("ssrc", ssrc))
			e.remoteSSRC, e.rx = ssrc, rxStats{}
		}
		return true
	case ssrc == e.remoteSSRC:
		e.log.Info("rtp source moved", zap.Stringer("src", from), zap.Stringer("old", e.latched),
			zap.Uint32("ssrc", ssrc))
		// The NAT mapping changed, so the RTCP one will have too.
		e.latched, e.latchedRTCP = from, netip.AddrPort{}
		return true
	default:
		if !e.rejectLogged {
			e.rejectLogged = true
			e.log.Debug("rtp from a foreign source dropped", zap.Stringer("src", from),
				zap.Uint32("ssrc", ssrc), zap.Stringer("latched", e.latched))
		}
		return false
	}
}

// arrival is now in RTP clock units since the endpoint started (RFC 3550
// A.8: only differences matter).
func (e *Endpoint) arrival(now time.Time) uint32 {
	return uint32(now.Sub(e.epoch).Microseconds() * int64(e.cfg.ClockRate) / 1e6)
}

// rxStats is the per-source reception state of RFC 3550 A.1 and A.8.
type rxStats struct {
	started       bool
	maxSeq        uint16
	cycles        uint32 // shifted count of sequence number wraps
	baseSeq       uint32
	badSeq        uint32
	received      uint32
	expectedPrior uint32
	receivedPrior uint32
	transit       uint32
	haveTransit   bool
	jitter        uint32 // scaled by 16 as in A.8
	lsr           uint32 // middle 32 bits of the NTP time of the peer's last SR
	lsrAt         time.Time
}

// Limits of A.1: a jump forward beyond maxDropout or backward beyond
// maxMisorder is a restart, confirmed by the next packet in sequence.
const (
	maxDropout  = 3000
	maxMisorder = 100
)

func (s *rxStats) init(seq uint16) {
	lsr, lsrAt := s.lsr, s.lsrAt
	*s = rxStats{started: true, maxSeq: seq, baseSeq: uint32(seq), badSeq: 1<<16 + 1, lsr: lsr, lsrAt: lsrAt}
}

// update is A.1's update_seq without probation: the latch has already
// decided the source is the peer.
func (s *rxStats) update(seq uint16) {
	if !s.started {
		s.init(seq)
		s.received++
		return
	}
	udelta := seq - s.maxSeq
	switch {
	case udelta < maxDropout:
		if seq < s.maxSeq {
			s.cycles += 1 << 16
		}
		s.maxSeq = seq
	case udelta <= 1<<16-maxMisorder:
		if uint32(seq) != s.badSeq {
			// A big jump: wait for the next packet to confirm a restart.
			s.badSeq = uint32(seq+1) & 0xffff
			return
		}
		s.init(seq)
	default:
		// duplicate or reordered: counted, not moving maxSeq
	}
	s.received++
}

// updateJitter is A.8's interarrival jitter estimate.
func (s *rxStats) updateJitter(arrival, ts uint32) {
	transit := arrival - ts
	if s.haveTransit {
		d := transit - s.transit
		if int32(d) < 0 {
			d = -d
		}
		s.jitter = s.jitter - (s.jitter+8)>>4 + d
	}
	s.transit, s.haveTransit = transit, true
}

// cumulative returns the packets lost so far (A.3) and the extended
// highest sequence number.
func (s *rxStats) cumulative() (lost int64, highest uint32) {
	if !s.started {
		return 0, 0
	}
	highest = s.cycles + uint32(s.maxSeq)
	expected := int64(highest) - int64(s.baseSeq) + 1
	return expected - int64(s.received), highest
}
