package rtp

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"
)

var loopback = netip.MustParseAddr("127.0.0.1")

// testPorts gives each test its own range so that a port just released by
// one test is not the next one's.
func testPorts(t testing.TB, min, max int) *Ports {
	t.Helper()
	p, err := NewPorts(loopback, min, max)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func open(t testing.TB, ports *Ports, cfg Config) *Endpoint {
	t.Helper()
	if cfg.Log == nil {
		if tt, ok := t.(*testing.T); ok {
			cfg.Log = zaptest.NewLogger(tt, zaptest.Level(zapcore.InfoLevel))
		}
	}
	e, err := Open(context.Background(), ports, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

// eventually polls cond for up to 2 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func receive(t *testing.T, e *Endpoint, n int) []*rtp.Packet {
	t.Helper()
	var got []*rtp.Packet
	timeout := time.After(3 * time.Second)
	for len(got) < n {
		select {
		case p, ok := <-e.Packets():
			if !ok {
				t.Fatalf("Packets closed after %d", len(got))
			}
			got = append(got, p)
		case <-timeout:
			t.Fatalf("received %d of %d packets", len(got), n)
		}
	}
	return got
}

func frame(i int) []byte { return bytes.Repeat([]byte{byte(i)}, 160) }

// Two endpoints on loopback exchange 50 PCMU-sized 20 ms packets each
// way; both sides see every packet, sequence and timestamp continuous.
func TestEndpointsExchange(t *testing.T) {
	ports := testPorts(t, 41000, 41099)
	a := open(t, ports, Config{CallID: "a", AcceptPT: []uint8{0, 101}})
	b := open(t, ports, Config{CallID: "b", AcceptPT: []uint8{0, 101}})
	a.SetRemote(b.LocalAddr(), netip.AddrPort{})
	b.SetRemote(a.LocalAddr(), netip.AddrPort{})
	if a.LocalAddr().Port()%2 != 0 || a.LocalAddr() == b.LocalAddr() {
		t.Fatalf("ports %s %s", a.LocalAddr(), b.LocalAddr())
	}

	const n = 50
	for i := range n {
		if err := a.Send(frame(i), 160, i == 0); err != nil {
			t.Fatal(err)
		}
		if err := b.Send(frame(i), 160, i == 0); err != nil {
			t.Fatal(err)
		}
	}
	for _, dir := range []struct {
		name     string
		from, to *Endpoint
	}{{"a->b", a, b}, {"b->a", b, a}} {
		got := receive(t, dir.to, n)
		for i, p := range got {
			if p.SSRC != dir.from.Stats().LocalSSRC || p.PayloadType != 0 || p.Marker != (i == 0) ||
				!bytes.Equal(p.Payload, frame(i)) {
				t.Fatalf("%s packet %d: %v", dir.name, i, p.Header)
			}
			if i > 0 {
				if p.SequenceNumber != got[i-1].SequenceNumber+1 || p.Timestamp != got[i-1].Timestamp+160 {
					t.Fatalf("%s packet %d: seq %d ts %d after %d %d", dir.name, i,
						p.SequenceNumber, p.Timestamp, got[i-1].SequenceNumber, got[i-1].Timestamp)
				}
			}
		}
		st := dir.to.Stats()
		if st.PacketsReceived != n || st.OctetsReceived != n*160 || st.Lost != 0 || !st.Latched ||
			st.RemoteSSRC != dir.from.Stats().LocalSSRC || st.Rejected != 0 {
			t.Errorf("%s receiver stats %+v", dir.name, st)
		}
		if st := dir.from.Stats(); st.PacketsSent != n || st.OctetsSent != n*160 {
			t.Errorf("%s sender stats %+v", dir.name, st)
		}
	}
	// A telephone-event with its own PT and a repeated timestamp.
	if err := a.SendPT(101, []byte{1, 0x0a, 0, 160}, 160, true); err != nil {
		t.Fatal(err)
	}
	if err := a.SendPT(101, []byte{1, 0x8a, 1, 64}, 0, false); err != nil {
		t.Fatal(err)
	}
	ev := receive(t, b, 2)
	if ev[0].PayloadType != 101 || ev[0].Timestamp != ev[1].Timestamp {
		t.Errorf("events %v %v", ev[0].Header, ev[1].Header)
	}
	// A PT outside AcceptPT is dropped.
	if err := a.SendPT(8, frame(1), 160, false); err != nil {
		t.Fatal(err)
	}
	eventually(t, "PT 8 rejected", func() bool { return b.Stats().Rejected == 1 })

	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Send(frame(0), 160, false); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after Close: %v", err)
	}
	if _, ok := <-a.Packets(); ok {
		t.Error("Packets not closed")
	}
	_ = b.Close()
	if ports.InUse() != 0 {
		t.Errorf("%d pairs still in use", ports.InUse())
	}
}

// rawPeer is a phone as seen from the network: a bare UDP socket.
type rawPeer struct {
	t    *testing.T
	conn *net.UDPConn
	seq  uint16
}

func newRawPeer(t *testing.T) *rawPeer {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &rawPeer{t: t, conn: c}
}

func (r *rawPeer) addr() netip.AddrPort { return r.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

func (r *rawPeer) send(to netip.AddrPort, ssrc uint32) {
	r.seq++
	b, err := (&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: r.seq, Timestamp: uint32(r.seq) * 160, SSRC: ssrc},
		Payload: frame(int(r.seq))}).Marshal()
	if err != nil {
		r.t.Fatal(err)
	}
	if _, err := r.conn.WriteToUDPAddrPort(b, to); err != nil {
		r.t.Fatal(err)
	}
}

// expect reads one datagram, failing after a timeout.
func (r *rawPeer) expect() *rtp.Packet {
	r.t.Helper()
	_ = r.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 2048)
	n, err := r.conn.Read(buf)
	if err != nil {
		r.t.Fatalf("peer %s: %v", r.addr(), err)
	}
	p := &rtp.Packet{}
	if err := p.Unmarshal(buf[:n]); err != nil {
		r.t.Fatal(err)
	}
	return p
}

// silent checks nothing arrives for a while.
func (r *rawPeer) silent() {
	r.t.Helper()
	_ = r.conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	buf := make([]byte, 2048)
	if n, err := r.conn.Read(buf); err == nil {
		r.t.Fatalf("peer %s got %d bytes", r.addr(), n)
	}
}

// A phone behind NAT announces one address and sends from another; the
// endpoint answers where the packets come from, follows the stream when
// its source port changes with the same SSRC, and ignores a stranger.
func TestSymmetricLatch(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	ports := testPorts(t, 41100, 41199)
	sdpAddr := netip.MustParseAddrPort("127.0.0.1:9") // the private address in the SDP: nobody there
	e := open(t, ports, Config{CallID: "latch-1", Log: zap.New(core), RemoteRTCP: netip.AddrPort{}, Remote: sdpAddr})
	if st := e.Stats(); st.Remote != sdpAddr || st.Latched {
		t.Fatalf("before latch: %+v", st)
	}

	nat1, nat2, stranger := newRawPeer(t), newRawPeer(t), newRawPeer(t)
	const ssrc = 0x1234
	nat1.send(e.LocalAddr(), ssrc)
	nat1.send(e.LocalAddr(), ssrc)
	receive(t, e, 2)
	if st := e.Stats(); st.Remote != nat1.addr() || !st.Latched || st.RemoteSSRC != ssrc {
		t.Fatalf("after latch: %+v", st)
	}
	if err := e.Send(frame(1), 160, true); err != nil {
		t.Fatal(err)
	}
	if p := nat1.expect(); p.SSRC != e.Stats().LocalSSRC {
		t.Fatalf("nat1 got %v", p.Header)
	}

	// The NAT rebinds: same stream, new source port.
	nat2.send(e.LocalAddr(), ssrc)
	receive(t, e, 1)
	if err := e.Send(frame(2), 160, false); err != nil {
		t.Fatal(err)
	}
	nat2.expect()
	nat1.silent()

	// A stranger with another SSRC is dropped, and does not divert us.
	stranger.send(e.LocalAddr(), 0x9999)
	eventually(t, "stranger rejected", func() bool { return e.Stats().Rejected == 1 })
	if err := e.Send(frame(3), 160, false); err != nil {
		t.Fatal(err)
	}
	nat2.expect()
	stranger.silent()
	if st := e.Stats(); st.Remote != nat2.addr() || st.PacketsReceived != 3 {
		t.Errorf("after stranger: %+v", st)
	}
	select {
	case p := <-e.Packets():
		t.Errorf("stranger's packet delivered: %v", p.Header)
	default:
	}

	// The address changes were logged at info with the call id.
	for _, msg := range []string{"rtp latched to a source other than the SDP's", "rtp source moved"} {
		found := logs.FilterMessage(msg).All()
		if len(found) != 1 || found[0].ContextMap()["call_id"] != "latch-1" {
			t.Errorf("log %q: %v", msg, found)
		}
	}

	// A new SDP address (the call moved to another phone) latches afresh.
	e.SetRemote(stranger.addr(), netip.AddrPort{})
	stranger.send(e.LocalAddr(), 0x9999)
	receive(t, e, 1)
	if st := e.Stats(); st.Remote != stranger.addr() || st.RemoteSSRC != 0x9999 {
		t.Errorf("after re-INVITE: %+v", st)
	}
}

// RTCP: a sending endpoint produces SRs, a receiving one RRs about the
// sender's stream, each parses the other's; Close sends BYE.
func TestRTCPReports(t *testing.T) {
	ports := testPorts(t, 41200, 41299)
	cfg := Config{RTCPInterval: 40 * time.Millisecond}
	a := open(t, ports, cfg)
	b := open(t, ports, cfg)
	a.SetRemote(b.LocalAddr(), netip.AddrPort{})
	b.SetRemote(a.LocalAddr(), netip.AddrPort{})
	aSSRC := a.Stats().LocalSSRC

	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // a talks, b listens
		defer close(done)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
				_ = a.Send(frame(i), 160, false)
			}
		}
	}()
	go func() {
		for range b.Packets() {
		}
	}()
	eventually(t, "SR at b and RR (with LSR) at a", func() bool {
		sa, sb := a.Stats(), b.Stats()
		return !sb.LastSR.At.IsZero() && sb.LastSR.Packets > 0 &&
			!sa.LastReport.At.IsZero() && sa.LastReport.Report.LastSenderReport != 0
	})
	close(stop)
	<-done
	sa, sb := a.Stats(), b.Stats()
	if sa.SRsSent == 0 || sb.RRsSent == 0 || sb.SRsSent != 0 {
		t.Errorf("a sent %d SR, b sent %d RR and %d SR", sa.SRsSent, sb.RRsSent, sb.SRsSent)
	}
	rr := sa.LastReport.Report
	if rr.SSRC != aSSRC || rr.LastSequenceNumber == 0 || rr.TotalLost != 0 || rr.FractionLost != 0 {
		t.Errorf("a's view of b's report: %+v", rr)
	}
	if sa.RTT < 0 || sa.RTT > time.Second {
		t.Errorf("RTT %v", sa.RTT)
	}
	if sb.LastSR.NTPTime == 0 || uint64(sb.LastSR.Packets) > sa.PacketsSent {
		t.Errorf("b's view of a's SR: %+v (a sent %d)", sb.LastSR, sa.PacketsSent)
	}

	_ = a.Close()
	eventually(t, "BYE at b", func() bool { return b.Stats().ByeReceived })
}

func TestDeadMedia(t *testing.T) {
	ports := testPorts(t, 41300, 41399)
	const timeout = 200 * time.Millisecond
	peer := newRawPeer(t)

	t.Run("fires without RTP", func(t *testing.T) {
		start := time.Now()
		e := open(t, ports, Config{DeadMediaTimeout: timeout, Remote: peer.addr()})
		select {
		case <-e.Dead():
			if d := time.Since(start); d < timeout {
				t.Errorf("dead after %v", d)
			}
		case <-time.After(2 * time.Second):
			t.Fatal("dead media not reported")
		}
		if !e.Stats().DeadMedia {
			t.Error("Stats.DeadMedia false")
		}
	})
	t.Run("not before a remote is known", func(t *testing.T) {
		e := open(t, ports, Config{DeadMediaTimeout: timeout})
		select {
		case <-e.Dead():
			t.Fatal("dead media while no SDP yet")
		case <-time.After(2 * timeout):
		}
	})
	t.Run("flowing media keeps it alive, silence ends it", func(t *testing.T) {
		e := open(t, ports, Config{DeadMediaTimeout: timeout, Remote: peer.addr()})
		for range 20 { // 400 ms of 20 ms packets
			peer.send(e.LocalAddr(), 77)
			select {
			case <-e.Dead():
				t.Fatal("dead media while RTP flows")
			case <-time.After(20 * time.Millisecond):
			}
		}
		select {
		case <-e.Dead():
		case <-time.After(2 * time.Second):
			t.Fatal("dead media not reported after RTP stopped")
		}
	})
	t.Run("hold suspends", func(t *testing.T) {
		e := open(t, ports, Config{DeadMediaTimeout: timeout, Remote: peer.addr()})
		e.SetHold(true)
		select {
		case <-e.Dead():
			t.Fatal("dead media on hold")
		case <-time.After(3 * timeout):
		}
		// Resuming restarts the clock: not dead at once, dead later.
		resumed := time.Now()
		e.SetHold(false)
		select {
		case <-e.Dead():
			if d := time.Since(resumed); d < timeout {
				t.Errorf("dead %v after resume", d)
			}
		case <-time.After(2 * time.Second):
			t.Fatal("dead media not reported after resume")
		}
	})
}

func TestPorts(t *testing.T) {
	for _, r := range [][2]int{{0, 10}, {10, 5}, {20001, 20002}, {20000, 70000}} {
		if _, err := NewPorts(loopback, r[0], r[1]); err == nil {
			t.Errorf("range %v accepted", r)
		}
	}
	if _, err := NewPorts(netip.Addr{}, 20000, 20010); err == nil {
		t.Error("no IP accepted")
	}
	p := testPorts(t, 41401, 41406) // odd min and even max: pairs 41402 and 41404
	if p.Size() != 2 {
		t.Fatalf("size %d", p.Size())
	}
	a, err := p.Listen()
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.Listen()
	if err != nil {
		t.Fatal(err)
	}
	if a.Port() != 41402 || b.Port() != 41404 || a.RTCP.LocalAddr().(*net.UDPAddr).Port != 41403 {
		t.Errorf("ports %d %d", a.Port(), b.Port())
	}
	if _, err := p.Listen(); !errors.Is(err, ErrPortsExhausted) {
		t.Fatalf("third pair: %v", err)
	}
	_ = a.Close()
	_ = a.Close() // twice is harmless
	c, err := p.Listen()
	if err != nil || c.Port() != 41402 {
		t.Fatalf("reuse: %v", err)
	}
	if p.InUse() != 2 {
		t.Errorf("in use %d", p.InUse())
	}
	_ = b.Close()
	_ = c.Close()

	// An endpoint returns its pair on Close, and when its context ends.
	one := testPorts(t, 41410, 41411)
	e := open(t, one, Config{})
	if _, err := Open(context.Background(), one, Config{}); !errors.Is(err, ErrPortsExhausted) {
		t.Fatalf("second endpoint on one pair: %v", err)
	}
	_ = e.Close()
	ctx, cancel := context.WithCancel(context.Background())
	e2, err := Open(ctx, one, Config{})
	if err != nil {
		t.Fatalf("after Close: %v", err)
	}
	cancel()
	eventually(t, "ports released on ctx end", func() bool { return one.InUse() == 0 })
	if _, ok := <-e2.Packets(); ok {
		t.Error("Packets open after ctx end")
	}
	_ = e2.Close()

	// A port taken by another process is skipped.
	busy, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 41420})
	if err != nil {
		t.Skip("41420 busy:", err)
	}
	defer busy.Close()
	q := testPorts(t, 41420, 41423)
	d, err := q.Listen()
	if err != nil || d.Port() != 41422 {
		t.Fatalf("busy port not skipped: %v", err)
	}
	_ = d.Close()
	busy2, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 41423})
	if err == nil {
		defer busy2.Close()
		if _, err := q.Listen(); !errors.Is(err, ErrPortsExhausted) {
			t.Errorf("all busy: %v", err)
		}
	}
}

// Without a usable remote nothing is sent, but time moves on.
func TestSendWithoutRemote(t *testing.T) {
	ports := testPorts(t, 41500, 41599)
	peer := newRawPeer(t)
	e := open(t, ports, Config{Remote: netip.AddrPortFrom(netip.IPv4Unspecified(), peer.addr().Port())})
	if err := e.Send(frame(0), 160, false); err != nil {
		t.Fatal(err)
	}
	if e.Stats().PacketsSent != 0 {
		t.Fatal("sent to 0.0.0.0")
	}
	e.SetRemote(peer.addr(), netip.AddrPort{})
	_ = e.Send(frame(1), 160, false)
	_ = e.Send(frame(2), 160, false)
	p1, p2 := peer.expect(), peer.expect()
	if p2.SequenceNumber != p1.SequenceNumber+1 || p2.Timestamp != p1.Timestamp+160 {
		t.Errorf("%v then %v", p1.Header, p2.Header)
	}
	if e.Stats().PacketsSent != 2 {
		t.Errorf("sent %d", e.Stats().PacketsSent)
	}
}

// RTCP from a stranger is not taken as the peer's.
func TestRTCPFromStranger(t *testing.T) {
	e := newEndpoint(Config{Remote: netip.MustParseAddrPort("192.0.2.1:4000")})
	e.handleRTP(rtpBytes(t, 5, 1), netip.MustParseAddrPort("192.0.2.1:4000"))
	sr, _ := rtcp.Marshal([]rtcp.Packet{&rtcp.SenderReport{SSRC: 6, NTPTime: 1 << 40}})
	e.handleRTCP(sr, netip.MustParseAddrPort("198.51.100.9:4001"))
	if st := e.Stats(); !st.LastSR.At.IsZero() || st.Rejected != 1 {
		t.Errorf("stranger's SR taken: %+v", st)
	}
	// The peer's SSRC from a new address is the peer (NAT rebinding).
	sr, _ = rtcp.Marshal([]rtcp.Packet{&rtcp.SenderReport{SSRC: 5, NTPTime: 1 << 40}})
	e.handleRTCP(sr, netip.MustParseAddrPort("198.51.100.9:4001"))
	if st := e.Stats(); st.LastSR.At.IsZero() {
		t.Errorf("peer's SR from new address dropped: %+v", st)
	}
}

func rtpBytes(t testing.TB, ssrc uint32, seq uint16) []byte {
	b, err := (&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, SSRC: ssrc}, Payload: frame(1)}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Reception statistics per RFC 3550 A.1/A.3/A.8.
func TestReceptionStats(t *testing.T) {
	var s rxStats
	for _, q := range []uint16{65530, 65531, 65533, 65535, 0, 2, 2} { // 65532, 65534, 1 lost; 2 duplicated
		s.update(q)
	}
	lost, highest := s.cumulative()
	if highest != 1<<16+2 || lost != 2 { // expected 9, received 7
		t.Errorf("lost %d highest %d", lost, highest)
	}
	rr := s.report(1, time.Now())
	if rr.FractionLost != 2*256/9 || rr.TotalLost != 2 || rr.LastSequenceNumber != 1<<16+2 {
		t.Errorf("report %+v", rr)
	}
	if rr2 := s.report(1, time.Now()); rr2.FractionLost != 0 {
		t.Errorf("second interval fraction %d", rr2.FractionLost)
	}
	// A jump is believed only when the next packet confirms it.
	s.update(20000)
	if _, h := s.cumulative(); h != 1<<16+2 {
		t.Errorf("single jump moved highest to %d", h)
	}
	s.update(20001)
	if lost, h := s.cumulative(); h != 20001 || lost != 0 {
		t.Errorf("confirmed restart: lost %d highest %d", lost, h)
	}
	// Jitter: packets 20 ms apart arriving alternately 0 and 10 ms late
	// converge towards 80 units (10 ms at 8 kHz).
	var j rxStats
	for i := range 2000 {
		arrival := uint32(i*160 + (i%2)*80)
		j.updateJitter(arrival, uint32(i*160))
	}
	if got := j.jitter >> 4; got < 75 || got > 80 {
		t.Errorf("jitter %d, want about 80", got)
	}
	// Many duplicates: negative loss clamps into the 24-bit field.
	var d rxStats
	d.update(1)
	for range 10 {
		d.update(1)
	}
	if rr := d.report(1, time.Now()); rr.TotalLost != 0xfffff6 { // -10
		t.Errorf("negative loss %x", rr.TotalLost)
	}
	if _, err := (&rtcp.ReceiverReport{Reports: []rtcp.ReceptionReport{d.report(1, time.Now())}}).Marshal(); err != nil {
		t.Error(err)
	}
}

func TestNTP(t *testing.T) {
	tm := time.Date(2024, 1, 2, 3, 4, 5, 500_000_000, time.UTC)
	n := toNTP(tm)
	if n>>32 != uint64(tm.Unix()+ntpEpochOffset) || uint32(n) != 1<<31 {
		t.Errorf("ntp %x", n)
	}
}
