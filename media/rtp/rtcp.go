package rtp

import (
	"net/netip"
	"slices"
	"time"

	"github.com/pion/rtcp"
	"go.uber.org/zap"
)

// ntpEpochOffset is the seconds from 1900 (NTP) to 1970 (Unix).
const ntpEpochOffset = 2208988800

// toNTP converts a time to the 64-bit NTP format of RTCP.
func toNTP(t time.Time) uint64 {
	secs := uint64(t.Unix() + ntpEpochOffset)
	frac := uint64(t.Nanosecond()) << 32 / 1e9
	return secs<<32 | frac
}

// ntpMid is the middle 32 bits of an NTP time, the form LSR and RTT
// arithmetic use (RFC 3550 §6.4.1).
func ntpMid(t time.Time) uint32 { return uint32(toNTP(t) >> 16) }

// report is A.3's reception report block for the current source; it
// starts a new interval for the fraction lost.
func (s *rxStats) report(ssrc uint32, now time.Time) rtcp.ReceptionReport {
	lost, highest := s.cumulative()
	expected := highest - s.baseSeq + 1
	expInterval := expected - s.expectedPrior
	recInterval := s.received - s.receivedPrior
	s.expectedPrior, s.receivedPrior = expected, s.received
	var fraction uint8
	if lostInterval := int64(expInterval) - int64(recInterval); expInterval != 0 && lostInterval > 0 {
		fraction = uint8(min(lostInterval<<8/int64(expInterval), 255))
	}
	// The field is 24-bit signed; clamp rather than wrap.
	lost = max(min(lost, 0x7fffff), -0x800000)
	rr := rtcp.ReceptionReport{
		SSRC: ssrc, FractionLost: fraction, TotalLost: uint32(lost) & 0xffffff,
		LastSequenceNumber: highest, Jitter: s.jitter >> 4, LastSenderReport: s.lsr,
	}
	if s.lsr != 0 {
		rr.Delay = uint32(now.Sub(s.lsrAt) * 65536 / time.Second)
	}
	return rr
}

// sendRTCP sends one compound report: SR if we sent RTP since the last
// report (RFC 3550 §6.4), else RR, with a block about the peer's stream
// once it has sent, and the SDES CNAME every compound packet must carry;
// BYE when leaving.
func (e *Endpoint) sendRTCP(bye bool) {
	e.mu.Lock()
	dst := e.rtcpDestLocked()
	if !usable(dst) {
		e.mu.Unlock()
		return
	}
	now := e.cfg.Now()
	var blocks []rtcp.ReceptionReport
	if e.latched.IsValid() && e.rx.started {
		blocks = []rtcp.ReceptionReport{e.rx.report(e.remoteSSRC, now)}
	}
	var first rtcp.Packet
	if e.sentSince {
		ntp := toNTP(now)
		// The RTP time of the same instant: extrapolated from the last
		// packet sent, as the peer uses the pair for lip sync and RTT.
		elapsed := now.Sub(e.lastSentAt).Microseconds() * int64(e.cfg.ClockRate) / 1e6
		first = &rtcp.SenderReport{
			SSRC: e.ssrc, NTPTime: ntp, RTPTime: e.lastSentTS + uint32(elapsed),
			PacketCount: uint32(e.pktsSent), OctetCount: uint32(e.octetsSent), Reports: blocks,
		}
		e.lastSRMid, e.lastSRSentAt = uint32(ntp>>16), now
		e.sentSince = false
		e.srsSent++
	} else {
		first = &rtcp.ReceiverReport{SSRC: e.ssrc, Reports: blocks}
		e.rrsSent++
	}
	pkts := []rtcp.Packet{first, &rtcp.SourceDescription{Chunks: []rtcp.SourceDescriptionChunk{{
		Source: e.ssrc, Items: []rtcp.SourceDescriptionItem{{Type: rtcp.SDESCNAME, Text: e.cfg.CNAME}},
	}}}}
	if bye {
		pkts = append(pkts, &rtcp.Goodbye{Sources: []uint32{e.ssrc}})
	}
	e.mu.Unlock()
	buf, err := rtcp.Marshal(pkts)
	if err != nil {
		e.log.Warn("rtcp marshal", zap.Error(err))
		return
	}
	if s := e.srtp.Load(); s != nil {
		if buf, err = s.protectRTCP(buf); err != nil {
			e.log.Warn("rtcp send", zap.Error(err))
			return
		}
	}
	if _, err := e.pair.RTCP.WriteToUDPAddrPort(buf, dst); err != nil {
		e.log.Debug("rtcp send", zap.Stringer("dst", dst), zap.Error(err))
	}
}

// handleRTCP reads one compound RTCP datagram from the peer: it keeps the
// last SR and the last report about our stream, computes the round trip
// from it, notes BYE, and latches the RTCP destination to the source.
func (e *Endpoint) handleRTCP(b []byte, from netip.AddrPort) {
	from = unmap(from)
	if len(b) < 8 || b[0]>>6 != 2 {
		e.countReject()
		return
	}
	if s := e.srtp.Load(); s != nil {
		plain, err := s.unprotectRTCP(b)
		if err != nil {
			e.countSRTPReject(err, from)
			return
		}
		b = plain
	}
	pkts, err := rtcp.Unmarshal(b)
	if err != nil || len(pkts) == 0 {
		e.countReject()
		return
	}
	now := e.cfg.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.rtcpFromPeerLocked(from, pkts) {
		e.rejected++
		return
	}
	if e.latchedRTCP != from {
		e.log.Debug("rtcp latched", zap.Stringer("src", from))
		e.latchedRTCP = from
	}
	for _, p := range pkts {
		switch p := p.(type) {
		case *rtcp.SenderReport:
			e.lastSR = SenderInfo{At: now, NTPTime: p.NTPTime, RTPTime: p.RTPTime, Packets: p.PacketCount, Octets: p.OctetCount}
			if p.SSRC == e.remoteSSRC {
				e.rx.lsr, e.rx.lsrAt = uint32(p.NTPTime>>16), now
			}
			e.readBlocksLocked(p.Reports, now)
		case *rtcp.ReceiverReport:
			e.readBlocksLocked(p.Reports, now)
		case *rtcp.Goodbye:
			if e.latched.IsValid() && slices.Contains(p.Sources, e.remoteSSRC) && !e.bye {
				e.bye = true
				e.log.Debug("rtcp bye", zap.String("reason", p.Reason))
			}
		}
	}
}

// rtcpFromPeerLocked accepts RTCP that names the peer's RTP SSRC, or comes
// from the peer's IP (a receive-only peer reports with an SSRC it never
// used in RTP).
func (e *Endpoint) rtcpFromPeerLocked(from netip.AddrPort, pkts []rtcp.Packet) bool {
	if !e.latched.IsValid() && !e.sdpRemote.IsValid() {
		return false
	}
	if from == e.latchedRTCP || (e.latched.IsValid() && from.Addr() == e.latched.Addr()) ||
		(e.sdpRemote.IsValid() && from.Addr() == e.sdpRemote.Addr()) {
		return true
	}
	if !e.latched.IsValid() {
		return false
	}
	for _, p := range pkts {
		if slices.Contains(senderSSRCs(p), e.remoteSSRC) {
			return true
		}
	}
	return false
}

// senderSSRCs returns the sources a packet speaks for (not those it
// reports on).
func senderSSRCs(p rtcp.Packet) []uint32 {
	switch p := p.(type) {
	case *rtcp.SenderReport:
		return []uint32{p.SSRC}
	case *rtcp.ReceiverReport:
		return []uint32{p.SSRC}
	case *rtcp.SourceDescription, *rtcp.Goodbye:
		return p.DestinationSSRC()
	}
	return nil
}

// readBlocksLocked keeps the block about our SSRC and derives the round
// trip: arrival - LSR - DLSR, in 1/65536 s (RFC 3550 §6.4.1).
func (e *Endpoint) readBlocksLocked(blocks []rtcp.ReceptionReport, now time.Time) {
	for _, rr := range blocks {
		if rr.SSRC != e.ssrc {
			continue
		}
		e.lastReport = ReportInfo{At: now, Report: rr}
		if rr.LastSenderReport == 0 || e.lastSRSentAt.IsZero() {
			continue
		}
		units := ntpMid(now) - rr.LastSenderReport - rr.Delay
		if int32(units) >= 0 && units < 10*65536 {
			e.rtt = time.Duration(units) * time.Second / 65536
		}
	}
}
