package webrtc

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	prtp "github.com/pion/rtp"
	pion "github.com/pion/webrtc/v4"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/sentralpbx/sentral/media/rtp"
	"github.com/sentralpbx/sentral/media/sdp"
)

var loopback = netip.MustParseAddr("127.0.0.1")

// Codecs the test browsers offer, as Chrome does: Opus first, then G.711,
// then telephone-event/8000 on a dynamic PT of its choosing.
var (
	opusCodec  = pion.RTPCodecParameters{RTPCodecCapability: pion.RTPCodecCapability{MimeType: pion.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"}, PayloadType: 111}
	browserTE  = pion.RTPCodecParameters{RTPCodecCapability: pion.RTPCodecCapability{MimeType: "audio/telephone-event", ClockRate: 8000}, PayloadType: 126}
	chromeLike = []pion.RTPCodecParameters{opusCodec, pcmu, pcma, browserTE}
	opusOnly   = []pion.RTPCodecParameters{opusCodec}
	// Firefox writes telephone-event/8000/1 with its event list.
	firefoxTE   = pion.RTPCodecParameters{RTPCodecCapability: pion.RTPCodecCapability{MimeType: "audio/telephone-event", ClockRate: 8000, Channels: 1, SDPFmtpLine: "0-15"}, PayloadType: 101}
	firefoxLike = []pion.RTPCodecParameters{opusCodec, pcmu, pcma, firefoxTE}
	testTimeout = 20 * time.Second
)

// testBrowser is a pion PeerConnection standing in for a browser: loopback
// host candidates only, non-trickle, a track that writes packets as given.
type testBrowser struct {
	t         *testing.T
	pc        *pion.PeerConnection
	track     *rawTrack
	rx        *received
	connected chan struct{}
}

func newTestBrowser(t *testing.T, codecs []pion.RTPCodecParameters) *testBrowser {
	t.Helper()
	me := &pion.MediaEngine{}
	for _, c := range codecs {
		if err := me.RegisterCodec(c, pion.RTPCodecTypeAudio); err != nil {
			t.Fatal(err)
		}
	}
	var se pion.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]pion.NetworkType{pion.NetworkTypeUDP4})
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	api := pion.NewAPI(pion.WithMediaEngine(me), pion.WithSettingEngine(se))
	pc, err := api.NewPeerConnection(pion.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	b := &testBrowser{t: t, pc: pc, track: &rawTrack{}, rx: &received{}, connected: make(chan struct{})}
	if _, err := pc.AddTransceiverFromTrack(b.track, pion.RTPTransceiverInit{Direction: pion.RTPTransceiverDirectionSendrecv}); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	pc.OnConnectionStateChange(func(s pion.PeerConnectionState) {
		if s == pion.PeerConnectionStateConnected {
			once.Do(func() { close(b.connected) })
		}
	})
	pc.OnTrack(func(tr *pion.TrackRemote, _ *pion.RTPReceiver) {
		for {
			p, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			b.rx.add(p)
		}
	})
	t.Cleanup(func() { _ = pc.Close() })
	return b
}

// offer returns the browser's complete offer.
func (b *testBrowser) offer() []byte {
	b.t.Helper()
	o, err := b.pc.CreateOffer(nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.setLocal(o)
}

// answer answers a gateway's offer.
func (b *testBrowser) answer(offer []byte) []byte {
	b.t.Helper()
	if err := b.pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeOffer, SDP: string(offer)}); err != nil {
		b.t.Fatalf("browser: set offer: %v\n%s", err, offer)
	}
	a, err := b.pc.CreateAnswer(nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.setLocal(a)
}

func (b *testBrowser) setLocal(d pion.SessionDescription) []byte {
	b.t.Helper()
	gathered := pion.GatheringCompletePromise(b.pc)
	if err := b.pc.SetLocalDescription(d); err != nil {
		b.t.Fatal(err)
	}
	select {
	case <-gathered:
	case <-time.After(testTimeout):
		b.t.Fatal("browser: ICE gathering did not complete")
	}
	return []byte(b.pc.LocalDescription().SDP)
}

// accept takes the gateway's answer.
func (b *testBrowser) accept(answer []byte) {
	b.t.Helper()
	if err := b.pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: string(answer)}); err != nil {
		b.t.Fatalf("browser: set answer: %v\n%s", err, answer)
	}
}

func (b *testBrowser) waitConnected() {
	b.t.Helper()
	select {
	case <-b.connected:
	case <-time.After(testTimeout):
		b.t.Fatal("browser did not connect")
	}
}

// rawTrack writes packets with the payload type given, like a browser
// sending audio and RFC 4733 events on one SSRC.
type rawTrack struct {
	mu   sync.Mutex
	w    pion.TrackLocalWriter
	ssrc uint32
	seq  uint16
	ts   uint32
}

func (r *rawTrack) Bind(ctx pion.TrackLocalContext) (pion.RTPCodecParameters, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.w, r.ssrc = ctx.WriteStream(), uint32(ctx.SSRC())
	for _, c := range ctx.CodecParameters() {
		if c.MimeType != "audio/telephone-event" {
			return c, nil
		}
	}
	return pion.RTPCodecParameters{}, pion.ErrUnsupportedCodec
}
func (r *rawTrack) Unbind(pion.TrackLocalContext) error { return nil }
func (r *rawTrack) ID() string                          { return "mic" }
func (r *rawTrack) RID() string                         { return "" }
func (r *rawTrack) StreamID() string                    { return "browser" }
func (r *rawTrack) Kind() pion.RTPCodecType             { return pion.RTPCodecTypeAudio }

// send writes one packet, the timestamp advancing by step first.
func (r *rawTrack) send(pt uint8, payload []byte, step uint32, marker bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.w == nil {
		return errors.New("track not bound")
	}
	r.ts += step
	h := prtp.Header{Version: 2, PayloadType: pt, SequenceNumber: r.seq, Timestamp: r.ts, SSRC: r.ssrc, Marker: marker}
	r.seq++
	_, err := r.w.WriteRTP(&h, payload)
	return err
}

// received collects packets.
type received struct {
	mu   sync.Mutex
	pkts []*prtp.Packet
}

func (r *received) add(p *prtp.Packet) {
	r.mu.Lock()
	r.pkts = append(r.pkts, p)
	r.mu.Unlock()
}

func (r *received) snapshot() []*prtp.Packet {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*prtp.Packet(nil), r.pkts...)
}

// testPhone is a media/rtp endpoint standing in for a desk phone.
type testPhone struct {
	t    *testing.T
	ep   *rtp.Endpoint
	sess *sdp.Session
	rx   *received
}

func newTestPhone(t *testing.T, ports *rtp.Ports) *testPhone {
	t.Helper()
	ph := &testPhone{t: t, sess: sdp.NewSession(), rx: &received{}}
	ep, err := rtp.Open(context.Background(), ports, rtp.Config{CallID: "phone", OnPacket: ph.rx.add, DeadMediaTimeout: -1})
	if err != nil {
		t.Fatal(err)
	}
	ph.ep = ep
	t.Cleanup(func() { _ = ep.Close() })
	return ph
}

func (ph *testPhone) local(dir sdp.Direction) sdp.Local {
	return sdp.Local{Addr: loopback, Port: int(ph.ep.LocalAddr().Port()), Direction: dir}
}

// answer answers an offer from the gateway, supporting codecs.
func (ph *testPhone) answer(offer []byte, codecs []string, dir sdp.Direction) ([]byte, sdp.Choice) {
	ph.t.Helper()
	o, err := sdp.Parse(offer)
	if err != nil {
		ph.t.Fatalf("phone: gateway's offer: %v\n%s", err, offer)
	}
	a, ch, err := ph.sess.Answer(o, ph.local(dir), codecs)
	if err != nil {
		ph.t.Fatalf("phone: answer: %v\n%s", err, offer)
	}
	ph.ep.SetRemote(ch.Remote, ch.RemoteRTCP)
	return a, ch
}

// accept takes the gateway's answer to an offer with codecs.
func (ph *testPhone) accept(answer []byte, codecs []string) sdp.Choice {
	ph.t.Helper()
	a, err := sdp.Parse(answer)
	if err != nil {
		ph.t.Fatalf("phone: gateway's answer: %v\n%s", err, answer)
	}
	ch, err := sdp.Accept(a, codecs)
	if err != nil {
		ph.t.Fatalf("phone: accept: %v\n%s", err, answer)
	}
	ph.ep.SetRemote(ch.Remote, ch.RemoteRTCP)
	return ch
}

// harness is one gateway with its port ranges.
type harness struct {
	t          *testing.T
	gw         *Gateway
	gwPorts    *rtp.Ports
	phonePorts *rtp.Ports
}

func newHarness(t *testing.T, mod func(*Config)) *harness {
	t.Helper()
	h := &harness{t: t}
	var err error
	if h.gwPorts, err = rtp.NewPorts(loopback, 47000, 47199); err != nil {
		t.Fatal(err)
	}
	if h.phonePorts, err = rtp.NewPorts(loopback, 47200, 47399); err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Ports4: h.gwPorts, ICEAddrs: []netip.Addr{loopback}, LoopbackCandidates: true,
		Log: testLogger(t),
	}
	if mod != nil {
		mod(&cfg)
	}
	if h.gw, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	return h
}

// checkReleased checks that no leg or port is left.
func (h *harness) checkReleased() {
	h.t.Helper()
	if n := h.gw.Legs(); n != 0 {
		h.t.Errorf("%d legs live after close", n)
	}
	if n := h.gwPorts.InUse(); n != 0 {
		h.t.Errorf("%d gateway port pairs in use after close", n)
	}
}

// testLogger collects the gateway's lines and shows them if the test
// fails. It does not write through t: pion's goroutines may still log a
// line or two after a leg has ended, when t no longer takes any.
func testLogger(t *testing.T) *zap.Logger {
	var buf syncBuffer
	t.Cleanup(func() {
		if t.Failed() || testing.Verbose() {
			t.Logf("gateway log:\n%s", buf.String())
		}
	})
	enc := zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig())
	return zap.New(zapcore.NewCore(enc, zapcore.AddSync(&buf), zapcore.InfoLevel))
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// payload is frame i of a stream: 160 bytes no other frame has.
func payload(dir byte, i int) []byte {
	b := make([]byte, 160)
	b[0] = dir
	binary.BigEndian.PutUint32(b[1:], uint32(i))
	for k := 5; k < len(b); k++ {
		b[k] = byte(i*7 + k*int(dir))
	}
	return b
}

// talk sends 20 ms frames both ways for d and returns how many each side
// sent; frames are tagged so that the receivers can be checked.
func talk(t *testing.T, b *testBrowser, ph *testPhone, browserPT, phonePT uint8, d time.Duration) (fromBrowser, fromPhone int) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	end := time.After(d)
	for {
		select {
		case <-tick.C:
			if err := b.track.send(browserPT, payload('b', fromBrowser), 160, fromBrowser == 0); err != nil {
				t.Fatalf("browser send: %v", err)
			}
			fromBrowser++
			if err := ph.ep.SendPT(phonePT, payload('p', fromPhone), 160, fromPhone == 0); err != nil {
				t.Fatalf("phone send: %v", err)
			}
			fromPhone++
		case <-end:
			time.Sleep(time.Second) // the last packets in flight, on a busy machine too
			return fromBrowser, fromPhone
		}
	}
}

// checkStream checks the frames of direction dir among got: each one is
// a frame that was sent, unaltered, with payload type pt, in order, and
// at most slack of the sent ones are missing (the first packets can beat
// the DTLS handshake of the far side). It returns how many arrived.
func checkStream(t *testing.T, what string, got []*prtp.Packet, dir byte, pt uint8, sent, slack int) int {
	t.Helper()
	n, last := 0, -1
	for _, p := range got {
		if len(p.Payload) != 160 || p.Payload[0] != dir {
			continue
		}
		i := int(binary.BigEndian.Uint32(p.Payload[1:]))
		if !bytes.Equal(p.Payload, payload(dir, i)) {
			t.Errorf("%s: frame %d altered", what, i)
		}
		if p.PayloadType != pt {
			t.Errorf("%s: frame %d has PT %d, want %d", what, i, p.PayloadType, pt)
		}
		if i <= last {
			t.Errorf("%s: frame %d after %d", what, i, last)
		}
		last = i
		n++
	}
	if n < sent-slack || n > sent {
		t.Errorf("%s: %d of %d frames arrived", what, n, sent)
	}
	return n
}

// browserCallsPhone sets up a call from a browser with codecs to a phone
// supporting phoneCodecs, and waits for the browser to connect.
func browserCallsPhone(t *testing.T, h *harness, ctx context.Context, codecs []pion.RTPCodecParameters, phoneCodecs []string) (*Leg, *testBrowser, *testPhone, sdp.Choice) {
	t.Helper()
	b := newTestBrowser(t, codecs)
	ph := newTestPhone(t, h.phonePorts)
	leg, phoneOffer, err := h.gw.FromBrowser(ctx, t.Name(), b.offer())
	if err != nil {
		t.Fatalf("FromBrowser: %v", err)
	}
	t.Cleanup(func() { _ = leg.Close() })
	if !bytes.Contains(phoneOffer, []byte("RTP/AVP")) || IsWebRTC(phoneOffer) {
		t.Fatalf("phone offer is not plain RTP:\n%s", phoneOffer)
	}
	phoneAnswer, ch := ph.answer(phoneOffer, phoneCodecs, sdp.SendRecv)
	browserAnswer, err := leg.PhoneAnswer(phoneAnswer)
	if err != nil {
		t.Fatalf("PhoneAnswer: %v", err)
	}
	if !IsWebRTC(browserAnswer) {
		t.Fatalf("browser answer is not WebRTC:\n%s", browserAnswer)
	}
	b.accept(browserAnswer)
	b.waitConnected()
	return leg, b, ph, ch
}

func TestBrowserCallsPhonePCMU(t *testing.T) {
	h := newHarness(t, nil)
	leg, b, ph, ch := browserCallsPhone(t, h, context.Background(), chromeLike, []string{"PCMU", "PCMA"})
	if ch.Codec.Name != "PCMU" || ch.Event == nil || ch.Event.PT != 126 {
		t.Fatalf("phone chose %+v event %+v; want PCMU and the browser's event PT 126", ch.Codec, ch.Event)
	}
	sentB, sentP := talk(t, b, ph, 0, 0, 1200*time.Millisecond)
	gotP := checkStream(t, "browser to phone", ph.rx.snapshot(), 'b', 0, sentB, 3)
	gotB := checkStream(t, "phone to browser", b.rx.snapshot(), 'p', 0, sentP, 3)
	toB, toP := leg.Stats()
	if toP < uint64(gotP) || toB < uint64(gotB) || toP > uint64(sentB) || toB > uint64(sentP) {
		t.Errorf("Stats() = %d to browser, %d to phone; browser got %d of %d, phone %d of %d", toB, toP, gotB, sentP, gotP, sentB)
	}
	t.Logf("browser->phone %d/%d, phone->browser %d/%d, stats %d/%d", gotP, sentB, gotB, sentP, toP, toB)

	// DTMF both ways: three packets of one event (same timestamp), PTs
	// as each side numbered telephone-event.
	ev := []byte{5, 0x0a, 0, 160}
	for i := range 3 {
		step := uint32(0)
		if i == 0 {
			step = 160
		}
		if err := b.track.send(126, ev, step, i == 0); err != nil {
			t.Fatal(err)
		}
		if err := ph.ep.SendPT(126, ev, step, i == 0); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	checkEvents(t, "browser to phone", ph.rx.snapshot(), 126, ev)
	checkEvents(t, "phone to browser", b.rx.snapshot(), 126, ev)

	if err := leg.Close(); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(leg.Err(), ErrClosed) {
		t.Errorf("Err() = %v, want ErrClosed", leg.Err())
	}
	h.checkReleased()
}

// checkEvents checks that three event packets with payload ev arrived
// with payload type pt and one timestamp.
func checkEvents(t *testing.T, what string, got []*prtp.Packet, pt uint8, ev []byte) {
	t.Helper()
	var evs []*prtp.Packet
	for _, p := range got {
		if p.PayloadType == pt {
			evs = append(evs, p)
		}
	}
	if len(evs) != 3 {
		t.Errorf("%s: %d event packets, want 3", what, len(evs))
		return
	}
	for _, p := range evs {
		if !bytes.Equal(p.Payload, ev) || p.Timestamp != evs[0].Timestamp {
			t.Errorf("%s: event packet %x ts %d, want %x ts %d", what, p.Payload, p.Timestamp, ev, evs[0].Timestamp)
		}
	}
}

func TestFirefoxLikeBrowser(t *testing.T) {
	h := newHarness(t, nil)
	leg, b, ph, ch := browserCallsPhone(t, h, context.Background(), firefoxLike, []string{"PCMU"})
	if ch.Event == nil || ch.Event.PT != 101 {
		t.Fatalf("phone's telephone-event %+v, want PT 101", ch.Event)
	}
	sentB, sentP := talk(t, b, ph, 0, 0, 600*time.Millisecond)
	checkStream(t, "browser to phone", ph.rx.snapshot(), 'b', 0, sentB, 3)
	checkStream(t, "phone to browser", b.rx.snapshot(), 'p', 0, sentP, 3)
	ev := []byte{11, 0x8a, 0, 160}
	for i := range 3 {
		if err := b.track.send(101, ev, map[bool]uint32{true: 160}[i == 0], i == 0); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(200 * time.Millisecond)
	checkEvents(t, "browser to phone", ph.rx.snapshot(), 101, ev)
	_ = leg.Close()
	h.checkReleased()
}

func TestBrowserCallsPhonePCMA(t *testing.T) {
	h := newHarness(t, nil)
	// The browser prefers PCMU; the phone takes A-law only.
	leg, b, ph, ch := browserCallsPhone(t, h, context.Background(), chromeLike, []string{"PCMA"})
	if ch.Codec.Name != "PCMA" || ch.Codec.PT != 8 {
		t.Fatalf("phone chose %+v", ch.Codec)
	}
	sentB, sentP := talk(t, b, ph, 8, 8, time.Second)
	checkStream(t, "browser to phone", ph.rx.snapshot(), 'b', 8, sentB, 3)
	checkStream(t, "phone to browser", b.rx.snapshot(), 'p', 8, sentP, 3)
	_ = leg.Close()
	h.checkReleased()
}

func TestPhoneCallsBrowser(t *testing.T) {
	for _, tc := range []struct {
		name    string
		codecs  []string // the phone's, in its order
		browser []pion.RTPCodecParameters
		want    string
		pt      uint8
	}{
		{"PCMU", []string{"PCMU", "PCMA"}, chromeLike, "PCMU", 0},
		// The phone's order wins over the browser's.
		{"PCMA", []string{"PCMA", "PCMU"}, chromeLike, "PCMA", 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil)
			b := newTestBrowser(t, tc.browser)
			ph := newTestPhone(t, h.phonePorts)
			phoneOffer, err := ph.sess.Offer(ph.local(sdp.SendRecv), tc.codecs)
			if err != nil {
				t.Fatal(err)
			}
			if IsWebRTC(phoneOffer) {
				t.Fatal("a phone's offer taken for WebRTC")
			}
			leg, browserOffer, err := h.gw.ToBrowser(context.Background(), t.Name(), phoneOffer)
			if err != nil {
				t.Fatalf("ToBrowser: %v", err)
			}
			defer leg.Close()
			if !IsWebRTC(browserOffer) || !bytes.Contains(browserOffer, []byte("a=candidate:")) {
				t.Fatalf("browser offer is not a complete WebRTC offer:\n%s", browserOffer)
			}
			bo, err := parseBrowser(browserOffer)
			if err != nil {
				t.Fatal(err)
			}
			if got := bo.g711(nil); strings.Join(got, " ") != strings.Join(tc.codecs, " ") {
				t.Errorf("browser offered %v, want the phone's order %v", got, tc.codecs)
			}
			phoneAnswer, err := leg.BrowserAnswer(b.answer(browserOffer))
			if err != nil {
				t.Fatalf("BrowserAnswer: %v", err)
			}
			ch := ph.accept(phoneAnswer, tc.codecs)
			if ch.Codec.Name != tc.want || ch.Event == nil {
				t.Fatalf("phone answer codec %+v event %+v, want %s and telephone-event", ch.Codec, ch.Event, tc.want)
			}
			b.waitConnected()
			sentB, sentP := talk(t, b, ph, tc.pt, tc.pt, 1200*time.Millisecond)
			gotP := checkStream(t, "browser to phone", ph.rx.snapshot(), 'b', tc.pt, sentB, 3)
			gotB := checkStream(t, "phone to browser", b.rx.snapshot(), 'p', tc.pt, sentP, 3)
			toB, toP := leg.Stats()
			t.Logf("browser->phone %d/%d, phone->browser %d/%d, stats %d/%d", gotP, sentB, gotB, sentP, toP, toB)
			if toP < uint64(gotP) || toB < uint64(gotB) {
				t.Errorf("Stats() = %d, %d; received %d, %d", toB, toP, gotB, gotP)
			}
			// The phone's telephone-event PT (101) is the browser's too.
			ev := []byte{1, 0x8a, 0, 160}
			for i := range 3 {
				if err := ph.ep.SendPT(sdp.DefaultEventPT, ev, map[bool]uint32{true: 160}[i == 0], i == 0); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(200 * time.Millisecond)
			checkEvents(t, "phone to browser", b.rx.snapshot(), sdp.DefaultEventPT, ev)
			_ = leg.Close()
			h.checkReleased()
		})
	}
}

func TestNoCommonCodec(t *testing.T) {
	h := newHarness(t, nil)
	b := newTestBrowser(t, opusOnly)
	_, _, err := h.gw.FromBrowser(context.Background(), "opus", b.offer())
	if !errors.Is(err, ErrNoCommonCodec) || !errors.Is(err, sdp.ErrNotAcceptable) {
		t.Errorf("Opus-only offer: %v, want ErrNoCommonCodec (488)", err)
	}
	g729 := []byte("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
		"m=audio 4000 RTP/AVP 18 101\r\na=rtpmap:18 G729/8000\r\na=rtpmap:101 telephone-event/8000\r\n")
	_, _, err = h.gw.ToBrowser(context.Background(), "g729", g729)
	if !errors.Is(err, ErrNoCommonCodec) {
		t.Errorf("G.729-only phone offer: %v, want ErrNoCommonCodec", err)
	}
	h.checkReleased()
}

func TestHold(t *testing.T) {
	h := newHarness(t, nil)
	leg, b, ph, _ := browserCallsPhone(t, h, context.Background(), chromeLike, []string{"PCMU", "PCMA"})
	phoneCodecs := []string{"PCMU", "PCMA"}

	// flows sends for a while and reports which directions carried media.
	flows := func(what string, wantToPhone, wantToBrowser bool) {
		t.Helper()
		p0, b0 := len(ph.rx.snapshot()), len(b.rx.snapshot())
		talk(t, b, ph, 0, 0, 400*time.Millisecond)
		toPhone, toBrowser := len(ph.rx.snapshot())-p0, len(b.rx.snapshot())-b0
		if (toPhone > 5) != wantToPhone || (toBrowser > 5) != wantToBrowser {
			t.Errorf("%s: %d packets to the phone, %d to the browser; want flowing %v, %v",
				what, toPhone, toBrowser, wantToPhone, wantToBrowser)
		}
	}
	flows("call up", true, true)

	// The browser holds (sendonly). The real browser would stop
	// listening; this one keeps sending, which the relay lets through,
	// and the phone's packets are held back by the relay.
	reofferFromBrowser := func(dir sdp.Direction, want string) {
		t.Helper()
		o, err := b.pc.CreateOffer(nil)
		if err != nil {
			t.Fatal(err)
		}
		body := setDirection(b.setLocal(o), dir)
		phoneOffer, err := leg.Reoffer(true, body)
		if err != nil {
			t.Fatalf("Reoffer(browser %s): %v", dir, err)
		}
		if !bytes.Contains(phoneOffer, []byte("a="+dir.String())) || bytes.Contains(phoneOffer, []byte("PCMA")) {
			t.Errorf("phone re-offer for %s:\n%s", dir, phoneOffer)
		}
		phoneAnswer, _ := ph.answer(phoneOffer, phoneCodecs, sdp.SendRecv)
		browserAnswer, err := leg.Reanswer(phoneAnswer)
		if err != nil {
			t.Fatalf("Reanswer: %v", err)
		}
		if !bytes.Contains(browserAnswer, []byte("a="+want+"\r\n")) {
			t.Errorf("browser answer for %s lacks a=%s:\n%s", dir, want, browserAnswer)
		}
		b.accept(browserAnswer)
	}
	reofferFromBrowser(sdp.SendOnly, "recvonly")
	flows("browser hold", true, false)
	reofferFromBrowser(sdp.SendRecv, "sendrecv")
	flows("browser resume", true, true)

	// The phone holds (sendonly, music on hold goes to the browser).
	reofferFromPhone := func(dir sdp.Direction) {
		t.Helper()
		offer, err := ph.sess.Offer(ph.local(dir), phoneCodecs)
		if err != nil {
			t.Fatal(err)
		}
		browserOffer, err := leg.Reoffer(false, offer)
		if err != nil {
			t.Fatalf("Reoffer(phone %s): %v", dir, err)
		}
		if !bytes.Contains(browserOffer, []byte("a="+dir.String()+"\r\n")) {
			t.Errorf("browser re-offer lacks a=%s:\n%s", dir, browserOffer)
		}
		phoneAnswer, err := leg.Reanswer(b.answer(browserOffer))
		if err != nil {
			t.Fatalf("Reanswer: %v", err)
		}
		ph.accept(phoneAnswer, phoneCodecs)
	}
	reofferFromPhone(sdp.SendOnly)
	flows("phone hold", false, true)
	reofferFromPhone(sdp.SendRecv)
	flows("phone resume", true, true)

	// A re-offer the other side refuses is withdrawn; the call goes on.
	offer, _ := ph.sess.Offer(ph.local(sdp.SendOnly), phoneCodecs)
	if _, err := leg.Reoffer(false, offer); err != nil {
		t.Fatal(err)
	}
	if _, err := leg.Reanswer(nil); err != nil {
		t.Fatalf("withdraw: %v", err)
	}
	o, err := b.pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leg.Reoffer(true, setDirection(b.setLocal(o), sdp.Inactive)); err != nil {
		t.Fatal(err)
	}
	if _, err := leg.Reanswer(nil); err != nil {
		t.Fatalf("withdraw: %v", err)
	}
	// The browser would roll back; pion cannot, it takes its last answer.
	b.accept([]byte(b.pc.CurrentRemoteDescription().SDP))
	flows("after withdrawn re-offers", true, true)
	// And the next re-offer goes through.
	reofferFromBrowser(sdp.Inactive, "inactive")
	flows("browser inactive", false, false)
	reofferFromBrowser(sdp.SendRecv, "sendrecv")
	flows("browser resume after inactive", true, true)
	// Out of turn.
	if _, err := leg.PhoneAnswer(offer); !errors.Is(err, ErrState) {
		t.Errorf("answer without offer: %v, want ErrState", err)
	}
	_ = leg.Close()
	h.checkReleased()
}

func TestCloseAndEnd(t *testing.T) {
	t.Run("Close", func(t *testing.T) {
		h := newHarness(t, nil)
		leg, _, _, _ := browserCallsPhone(t, h, context.Background(), chromeLike, []string{"PCMU"})
		if h.gwPorts.InUse() != 1 || h.gw.Legs() != 1 {
			t.Fatalf("in use %d, legs %d", h.gwPorts.InUse(), h.gw.Legs())
		}
		_ = leg.Close()
		_ = leg.Close() // twice is fine
		h.checkReleased()
		if _, err := leg.Reoffer(true, nil); !errors.Is(err, ErrClosed) {
			t.Errorf("Reoffer after Close: %v", err)
		}
	})
	t.Run("context", func(t *testing.T) {
		h := newHarness(t, nil)
		ctx, cancel := context.WithCancel(context.Background())
		leg, _, _, _ := browserCallsPhone(t, h, ctx, chromeLike, []string{"PCMU"})
		cancel()
		select {
		case <-leg.Done():
		case <-time.After(testTimeout):
			t.Fatal("leg did not end with its context")
		}
		if !errors.Is(leg.Err(), context.Canceled) {
			t.Errorf("Err() = %v", leg.Err())
		}
		h.checkReleased()
	})
	t.Run("connect timeout", func(t *testing.T) {
		h := newHarness(t, func(c *Config) { c.ConnectTimeout = 700 * time.Millisecond })
		b := newTestBrowser(t, chromeLike)
		ph := newTestPhone(t, h.phonePorts)
		leg, phoneOffer, err := h.gw.FromBrowser(context.Background(), "never", b.offer())
		if err != nil {
			t.Fatal(err)
		}
		phoneAnswer, _ := ph.answer(phoneOffer, []string{"PCMU"}, sdp.SendRecv)
		if _, err := leg.PhoneAnswer(phoneAnswer); err != nil {
			t.Fatal(err)
		}
		// The answer never reaches the browser, which never connects.
		select {
		case <-leg.Done():
		case <-time.After(testTimeout):
			t.Fatal("leg did not time out")
		}
		if !errors.Is(leg.Err(), ErrConnectTimeout) {
			t.Errorf("Err() = %v, want ErrConnectTimeout", leg.Err())
		}
		h.checkReleased()
	})
	t.Run("browser hangs up", func(t *testing.T) {
		h := newHarness(t, nil)
		leg, b, _, _ := browserCallsPhone(t, h, context.Background(), chromeLike, []string{"PCMU"})
		_ = b.pc.Close()
		select {
		case <-leg.Done():
		case <-time.After(testTimeout):
			t.Fatal("leg did not end when the browser closed")
		}
		if err := leg.Err(); !errors.Is(err, ErrBrowserGone) && !errors.Is(err, ErrICEFailed) {
			t.Errorf("Err() = %v, want ErrBrowserGone", err)
		}
		h.checkReleased()
	})
}
