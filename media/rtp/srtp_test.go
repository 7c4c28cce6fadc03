package rtp

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

func testKey(seed byte) []byte {
	k := make([]byte, 30)
	for i := range k {
		k[i] = seed + byte(i)
	}
	return k
}

func mustSRTP(t *testing.T, suite string, send, recv []byte) *SRTP {
	t.Helper()
	s, err := NewSRTP(suite, send, recv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Two SRTP endpoints exchange audio and reports; each side's packets on
// the wire are SRTP that only the other's key opens.
func TestSRTPEndpoints(t *testing.T) {
	for _, suite := range []string{SuiteAES80, SuiteAES32} {
		t.Run(suite, func(t *testing.T) {
			ports := testPorts(t, 41700, 41749)
			ka, kb := testKey(1), testKey(100)
			cfg := func(send, recv []byte) Config {
				return Config{AcceptPT: []uint8{0}, RTCPInterval: 40 * time.Millisecond, SRTP: mustSRTP(t, suite, send, recv)}
			}
			a := open(t, ports, cfg(ka, kb))
			b := open(t, ports, cfg(kb, ka))
			a.SetRemote(b.LocalAddr(), netip.AddrPort{})
			b.SetRemote(a.LocalAddr(), netip.AddrPort{})
			const n = 20
			for i := range n {
				if err := a.Send(frame(i), 160, i == 0); err != nil {
					t.Fatal(err)
				}
				if err := b.Send(frame(i), 160, false); err != nil {
					t.Fatal(err)
				}
			}
			for _, dir := range []struct{ from, to *Endpoint }{{a, b}, {b, a}} {
				for i, p := range receive(t, dir.to, n) {
					if p.SSRC != dir.from.Stats().LocalSSRC || !bytes.Equal(p.Payload, frame(i)) {
						t.Fatalf("packet %d: %v %x", i, p.Header, p.Payload[:4])
					}
				}
			}
			// RTCP is SRTCP both ways: each side reads the other's reports.
			eventually(t, "reports both ways", func() bool {
				return !a.Stats().LastReport.At.IsZero() && !b.Stats().LastReport.At.IsZero()
			})
			for _, e := range []*Endpoint{a, b} {
				if st := e.Stats(); st.SRTP != suite || st.SRTPRejected != 0 || st.Rejected != 0 {
					t.Errorf("stats: %+v", st)
				}
			}
		})
	}
}

// A raw socket sees what an SRTP endpoint sends: not plain RTP payload,
// authenticated by the right key only; what it sends back is taken only
// when protected with the key the endpoint expects.
func TestSRTPOnTheWire(t *testing.T) {
	ports := testPorts(t, 41750, 41799)
	ours, theirs := testKey(1), testKey(100)
	e := open(t, ports, Config{AcceptPT: []uint8{0}, SRTP: mustSRTP(t, SuiteAES80, ours, theirs)})
	raw, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	rawAddr := raw.LocalAddr().(*net.UDPAddr).AddrPort()
	e.SetRemote(rawAddr, netip.AddrPort{})

	payload := bytes.Repeat([]byte{0x55}, 160)
	if err := e.Send(payload, 160, true); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	_ = raw.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, _, err := raw.ReadFromUDP(buf)
	if err != nil {
		t.Fatal(err)
	}
	wire := buf[:n]
	if n != 12+160+10 {
		t.Errorf("SRTP packet of %d bytes, want header + payload + 80-bit tag", n)
	}
	var p rtp.Packet
	if err := p.Unmarshal(wire); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(wire, payload[:32]) {
		t.Error("the payload travels in clear")
	}
	wrong, _ := srtp.CreateContext(theirs[:16], theirs[16:], srtp.ProtectionProfileAes128CmHmacSha1_80)
	if _, err := wrong.DecryptRTP(nil, wire, nil); err == nil {
		t.Error("the packet authenticates with the wrong key")
	}
	right, _ := srtp.CreateContext(ours[:16], ours[16:], srtp.ProtectionProfileAes128CmHmacSha1_80)
	plain, err := right.DecryptRTP(nil, wire, nil)
	if err != nil {
		t.Fatalf("decrypt with our key: %v", err)
	}
	if !bytes.Equal(plain[12:], payload) {
		t.Errorf("decrypted payload %x", plain[12:20])
	}

	// Back to the endpoint: plain RTP and RTP protected with the wrong key
	// are dropped and latch nothing; the right key gets through.
	send := func(b []byte) {
		if _, err := raw.WriteToUDPAddrPort(b, e.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	hdr := rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: 7, Timestamp: 160, SSRC: 0xabcdef}
	pkt, _ := (&rtp.Packet{Header: hdr, Payload: payload}).Marshal()
	send(pkt)
	badCtx, _ := srtp.CreateContext(ours[:16], ours[16:], srtp.ProtectionProfileAes128CmHmacSha1_80)
	bad, _ := badCtx.EncryptRTP(nil, pkt, nil)
	send(bad)
	eventually(t, "two rejections", func() bool { return e.Stats().SRTPRejected == 2 })
	if st := e.Stats(); st.Latched || st.PacketsReceived != 0 {
		t.Fatalf("stats after forged packets: %+v", st)
	}
	goodCtx, _ := srtp.CreateContext(theirs[:16], theirs[16:], srtp.ProtectionProfileAes128CmHmacSha1_80)
	hdr.SequenceNumber = 8
	pkt, _ = (&rtp.Packet{Header: hdr, Payload: payload}).Marshal()
	good, _ := goodCtx.EncryptRTP(nil, pkt, nil)
	send(good)
	got := receive(t, e, 1)[0]
	if got.SSRC != 0xabcdef || !bytes.Equal(got.Payload, payload) {
		t.Errorf("received %v", got.Header)
	}
	// A replay of the same packet is dropped.
	send(good)
	eventually(t, "replay rejected", func() bool { return e.Stats().SRTPRejected == 3 })

	// SRTCP: a report protected with the peer's key is read, a plain one
	// is not.
	rr, _ := rtcp.Marshal([]rtcp.Packet{&rtcp.ReceiverReport{SSRC: 0xabcdef, Reports: []rtcp.ReceptionReport{{SSRC: e.Stats().LocalSSRC}}}})
	if _, err := raw.WriteToUDPAddrPort(rr, netip.AddrPortFrom(e.LocalAddr().Addr(), e.LocalAddr().Port()+1)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "plain RTCP rejected", func() bool { return e.Stats().SRTPRejected == 4 })
	srr, err := goodCtx.EncryptRTCP(nil, rr, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.WriteToUDPAddrPort(srr, netip.AddrPortFrom(e.LocalAddr().Addr(), e.LocalAddr().Port()+1)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "SRTCP report read", func() bool { return !e.Stats().LastReport.At.IsZero() })
}

func TestSRTPRekey(t *testing.T) {
	a := mustSRTP(t, SuiteAES80, testKey(1), testKey(2))
	b, err := a.Rekey(SuiteAES80, testKey(1), testKey(3))
	if err != nil {
		t.Fatal(err)
	}
	if b.tx != a.tx || b.rx == a.rx {
		t.Error("a new peer key must keep our sending context and replace the receiving one")
	}
	c, _ := b.Rekey(SuiteAES32, testKey(1), testKey(3))
	if c.tx == b.tx || c.rx == b.rx || c.Suite() != SuiteAES32 {
		t.Error("a new suite must replace both contexts")
	}
	if _, err := NewSRTP("NULL_HMAC_SHA1_80", testKey(1), testKey(2)); err == nil {
		t.Error("unsupported suite accepted")
	}
	if _, err := NewSRTP(SuiteAES80, testKey(1)[:16], testKey(2)); err == nil {
		t.Error("short key accepted")
	}
}
