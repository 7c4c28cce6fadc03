package rtp

import (
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// fuzzSources are the addresses a fuzzed datagram may come from: the
// SDP's, a NAT's, a stranger's, and an IPv4-mapped form of the first.
var fuzzSources = []netip.AddrPort{
	netip.MustParseAddrPort("192.0.2.1:4000"),
	netip.MustParseAddrPort("198.51.100.7:31000"),
	netip.MustParseAddrPort("203.0.113.5:4000"),
	netip.MustParseAddrPort("[::ffff:192.0.2.1]:4000"),
}

// FuzzReceive drives the incoming-packet path beyond pion's parsers:
// validation, latching, reception statistics, RTCP handling, the report
// we would build, and the jitter buffer fed with what was accepted. The
// input is a sequence of records: kind (even: RTP, odd: RTCP), source
// index, length, bytes.
func FuzzReceive(f *testing.F) {
	rec := func(kind, src byte, b []byte) []byte {
		return append([]byte{kind, src, byte(len(b))}, b...)
	}
	mk := func(h rtp.Header, payload []byte) []byte {
		h.Version = 2
		b, _ := (&rtp.Packet{Header: h, Payload: payload}).Marshal()
		return b
	}
	srB, _ := rtcp.Marshal([]rtcp.Packet{
		&rtcp.SenderReport{SSRC: 7, NTPTime: 1 << 40, Reports: []rtcp.ReceptionReport{{SSRC: 1, LastSenderReport: 5, Delay: 9}}},
		&rtcp.SourceDescription{Chunks: []rtcp.SourceDescriptionChunk{{Source: 7, Items: []rtcp.SourceDescriptionItem{{Type: rtcp.SDESCNAME, Text: "x"}}}}},
		&rtcp.Goodbye{Sources: []uint32{7}},
	})
	rrB, _ := rtcp.Marshal([]rtcp.Packet{&rtcp.ReceiverReport{SSRC: 9, Reports: []rtcp.ReceptionReport{{SSRC: 1}}}})
	p1 := mk(rtp.Header{SSRC: 7, SequenceNumber: 1, Timestamp: 160}, make([]byte, 160))
	p2 := mk(rtp.Header{SSRC: 7, SequenceNumber: 2, Timestamp: 320, Marker: true}, make([]byte, 160))
	p3 := mk(rtp.Header{SSRC: 7, SequenceNumber: 65535, PayloadType: 101, CSRC: []uint32{1, 2}}, []byte{1, 2, 3, 4})
	ext := rtp.Header{SSRC: 8, SequenceNumber: 9, Extension: true, ExtensionProfile: 0xbede}
	_ = ext.SetExtension(1, []byte{1})
	p4 := mk(ext, []byte{0})
	pad := mk(rtp.Header{SSRC: 7, SequenceNumber: 3, Padding: true, PaddingSize: 4}, []byte{1})
	var seed []byte
	for i, b := range [][]byte{p1, p2, p3, p4, pad, srB, rrB} {
		kind := byte(0)
		if i >= 5 {
			kind = 1
		}
		seed = append(seed, rec(kind, byte(i%2), b)...)
	}
	f.Add(seed)
	f.Add(rec(0, 0, p1))
	f.Add(append(rec(0, 1, p1), rec(0, 2, p2)...))
	f.Add(append(rec(0, 0, p1), rec(1, 2, srB)...))
	f.Add(rec(0, 0, []byte{0x80, 72, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}))
	f.Add(rec(0, 0, []byte{0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}))

	f.Fuzz(func(t *testing.T, data []byte) {
		now := time.Unix(1700000000, 0)
		e := newEndpoint(Config{
			Remote: fuzzSources[0], AcceptPT: []uint8{0, 8, 101}, ClockRate: 8000,
			Now: func() time.Time { now = now.Add(3 * time.Millisecond); return now },
		})
		e.ssrc = 1
		j := NewJitterBuffer(2)
		for len(data) >= 3 {
			kind, src, n := data[0], fuzzSources[int(data[1])%len(fuzzSources)], int(data[2])
			data = data[3:]
			n = min(n, len(data))
			b := data[:n]
			data = data[n:]
			if kind%2 == 1 {
				e.handleRTCP(b, src)
				continue
			}
			p := e.handleRTP(b, src)
			if p == nil {
				continue
			}
			if !e.accept[p.PayloadType] || unmap(src) != e.latched || p.SSRC != e.remoteSSRC {
				t.Fatalf("accepted %v from %s; latched %s ssrc %d", p.Header, src, e.latched, e.remoteSSRC)
			}
			j.Push(p)
			for _, ok := j.Pop(); ok; _, ok = j.Pop() {
			}
			s := j.Stats()
			if s.Pushed != s.Released+s.Duplicates+s.Late+uint64(j.Len()) {
				t.Fatalf("jitter counts %+v, %d buffered", s, j.Len())
			}
		}
		// The report we would send must marshal.
		e.mu.Lock()
		var blocks []rtcp.ReceptionReport
		if e.rx.started {
			blocks = append(blocks, e.rx.report(e.remoteSSRC, e.cfg.Now()))
		}
		e.mu.Unlock()
		if _, err := rtcp.Marshal([]rtcp.Packet{&rtcp.ReceiverReport{SSRC: 1, Reports: blocks}}); err != nil {
			t.Fatalf("report does not marshal: %v (%+v)", err, blocks)
		}
		_ = e.Stats()
		prev := uint16(0)
		for i, f := range j.Flush() {
			if i > 0 && f.Seq == prev && j.Stats().Resyncs == 0 {
				t.Fatalf("frame %d repeats seq %d", i, f.Seq)
			}
			prev = f.Seq
		}
	})
}
