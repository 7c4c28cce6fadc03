package bench

// Bridged calls through the WebRTC gateway (media/webrtc): pion peers
// stand in for browsers and media/rtp endpoints for desk phones; every
// call sends 20 ms PCMU frames both ways. Half the calls go from browser
// to phone, half from phone to browser. The gateway runs in this process
// behind a small HTTP signalling stand-in for the SIP proxy; the browsers
// and phones run in a second process (this test binary again), so the
// gateway's CPU time is measured apart from theirs. Skipped unless asked
// for, so `go test ./...` stays fast:
//
//	SENTRAL_BENCH=1 go test -count=1 -run '^TestWebRTCGateway$' -v -timeout 5m ./bench/
//
// SENTRAL_BENCH_CALLS (100) and SENTRAL_BENCH_SECONDS (16, audio per
// call) change the load; SENTRAL_BENCH_CPUPROFILE=FILE writes the
// gateway's CPU profile over the measured window.

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	prtp "github.com/pion/rtp"
	pion "github.com/pion/webrtc/v4"
	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/media/rtp"
	"github.com/sentralpbx/sentral/media/sdp"
	"github.com/sentralpbx/sentral/media/webrtc"
)

const (
	// wrPeersEnv carries the peers' configuration to the helper process.
	wrPeersEnv = "SENTRAL_BENCH_WEBRTC_PEERS"
	// wrRamp spreads the calls' set-up.
	wrRamp = 2 * time.Second
	// wrSettle passes between every call flowing and the window.
	wrSettle = time.Second
	// wrMaxWindow is the measured window when the audio is long enough.
	wrMaxWindow = 10 * time.Second
	// wrWarmup is how many frames at the start of each stream are counted
	// apart: they may beat the far side's DTLS handshake by a hair.
	wrWarmup = 10
)

// wrPeersConfig tells the helper process where to signal.
type wrPeersConfig struct {
	URL     string // the signalling stand-in
	Calls   int
	Seconds int    // audio per call
	Report  string // JSON file the helper writes its wrCallResults to
}

// wrCallResult is one call as its browser and phone saw it.
type wrCallResult struct {
	Call          int
	FromBrowser   bool // the browser called
	BrowserSent   int  // frames the browser sent
	PhoneSent     int
	PhoneGot      int // of the browser's frames, after the warm-up
	BrowserGot    int
	WarmupLost    int // warm-up frames lost, both ways
	Corrupt       int // frames altered or misnumbered
	Err           string
	ConnectMillis int64 // browser offer or answer to connected
}

// wrFrame is frame k of call c in direction dir: 160 bytes that no other
// frame has.
func wrFrame(c int, dir byte, k int) []byte {
	b := make([]byte, 160)
	b[0] = dir
	binary.BigEndian.PutUint16(b[1:], uint16(c))
	binary.BigEndian.PutUint32(b[3:], uint32(k))
	for i := 7; i < len(b); i++ {
		b[i] = byte(c + 3*k + i)
	}
	return b
}

// wrSignal is the gateway side of signalling: what the SIP proxy does
// with the gateway, over HTTP between the two processes.
type wrSignal struct {
	gw   *webrtc.Gateway
	ctx  context.Context
	mu   sync.Mutex
	legs map[string]*webrtc.Leg
}

func (s *wrSignal) leg(id string) *webrtc.Leg {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.legs[id]
}

func (s *wrSignal) all() []*webrtc.Leg {
	s.mu.Lock()
	defer s.mu.Unlock()
	legs := make([]*webrtc.Leg, 0, len(s.legs))
	for _, l := range s.legs {
		legs = append(legs, l)
	}
	return legs
}

func (s *wrSignal) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, sdp.MaxSize))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	id := r.URL.Query().Get("call")
	var out []byte
	switch r.URL.Path {
	case "/from-browser", "/to-browser":
		var l *webrtc.Leg
		if r.URL.Path == "/from-browser" {
			l, out, err = s.gw.FromBrowser(s.ctx, id, body)
		} else {
			l, out, err = s.gw.ToBrowser(s.ctx, id, body)
		}
		if err == nil {
			s.mu.Lock()
			s.legs[id] = l
			s.mu.Unlock()
		}
	case "/phone-answer", "/browser-answer":
		l := s.leg(id)
		switch {
		case l == nil:
			err = fmt.Errorf("no call %q", id)
		case r.URL.Path == "/phone-answer":
			out, err = l.PhoneAnswer(body)
		default:
			out, err = l.BrowserAnswer(body)
		}
	default:
		err = fmt.Errorf("no %s", r.URL.Path)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotAcceptable)
		return
	}
	_, _ = w.Write(out)
}

// TestWebRTCGateway runs SENTRAL_BENCH_CALLS bridged calls (100) at once
// for SENTRAL_BENCH_SECONDS of audio (16) and prints the gateway's CPU per
// call and heap per call over a window where every call is flowing both
// ways, with the peers' CPU apart; then it checks every frame arrived
// unaltered and the gateway released every port.
func TestWebRTCGateway(t *testing.T) {
	n, seconds, window := benchLoad(t, "about 25 s", 100, 16, wrMaxWindow, wrRamp+wrSettle+3*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	loopback := netip.MustParseAddr("127.0.0.1")
	ports, err := rtp.NewPorts(loopback, 44000, 44999)
	if err != nil {
		t.Fatal(err)
	}
	gw, err := webrtc.New(webrtc.Config{Ports4: ports, ICEAddrs: []netip.Addr{loopback},
		LoopbackCandidates: true, Log: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	legCtx, endLegs := context.WithCancel(ctx)
	defer endLegs()
	sig := &wrSignal{gw: gw, ctx: legCtx, legs: map[string]*webrtc.Leg{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: sig, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	heap0, rss0, gor0 := heapInuse(), rssBytes(), runtime.NumGoroutine()
	udp0 := udpRcvbufErrors()

	dir := t.TempDir()
	report := filepath.Join(dir, "peers.json")
	h, err := newHelper(ctx, "TestWebRTCPeers", wrPeersEnv,
		wrPeersConfig{URL: "http://" + ln.Addr().String(), Calls: n, Seconds: seconds, Report: report})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.start(); err != nil {
		t.Fatal(err)
	}
	exited, out := h.exited, h.out

	// The window: every call relaying both ways, after a settling second.
	flowing := func() int {
		k := 0
		for _, l := range sig.all() {
			if b, p := l.Stats(); b > 0 && p > 0 {
				k++
			}
		}
		return k
	}
	deadline := time.After(wrRamp + 30*time.Second)
wait:
	for flowing() < n {
		select {
		case err := <-exited:
			t.Fatalf("peers exited before all %d calls flowed (%v); %d flowing:\n%s", n, err, flowing(), out.String())
		case <-deadline:
			t.Fatalf("only %d of %d calls flowing:\n%s", flowing(), n, out.String())
		case <-time.After(50 * time.Millisecond):
			continue wait
		}
	}
	time.Sleep(wrSettle)
	stopProfile := cpuProfile(t)
	type counts struct{ toBrowser, toPhone uint64 }
	snap := func() (c counts) {
		for _, l := range sig.all() {
			b, p := l.Stats()
			c.toBrowser += b
			c.toPhone += p
		}
		return c
	}
	c0 := snap()
	cpu := measure(window, h.cmd.Process.Pid)
	wall := cpu.wall
	c1 := snap()
	steady := flowing()
	heap1, rss1, gor1 := heapInuse(), rssBytes(), runtime.NumGoroutine()
	legsLive := gw.Legs()
	stopProfile()
	if legsLive != n {
		t.Errorf("%d of %d legs live at the end of the window", legsLive, n)
	}

	if err := <-exited; err != nil {
		t.Fatalf("peers: %v\n%s", err, out.String())
	}
	var calls []wrCallResult
	if b, err := os.ReadFile(report); err != nil {
		t.Fatalf("peers' report: %v\n%s", err, out.String())
	} else if err := json.Unmarshal(b, &calls); err != nil {
		t.Fatal(err)
	}
	var sentB, sentP, gotP, gotB, warmLost, corrupt, errs int
	var connectMax int64
	for _, c := range calls {
		if c.Err != "" {
			errs++
			t.Errorf("call %d: %s", c.Call, c.Err)
		}
		sentB += c.BrowserSent - wrWarmup
		sentP += c.PhoneSent - wrWarmup
		gotP += c.PhoneGot
		gotB += c.BrowserGot
		warmLost += c.WarmupLost
		corrupt += c.Corrupt
		connectMax = max(connectMax, c.ConnectMillis)
	}
	var relayedB, relayedP uint64
	for _, l := range sig.all() {
		b, p := l.Stats()
		relayedB += b
		relayedP += p
	}
	endLegs()
	for _, l := range sig.all() {
		_ = l.Close()
	}
	if gw.Legs() != 0 || ports.InUse() != 0 {
		t.Errorf("after closing: %d legs, %d port pairs in use", gw.Legs(), ports.InUse())
	}
	lostToPhone, lostToBrowser := sentB-gotP, sentP-gotB
	if len(calls) != n || errs != 0 || corrupt != 0 || lostToPhone != 0 || lostToBrowser != 0 {
		t.Errorf("%d calls reported, %d errors, %d frames corrupt, lost %d to the phones and %d to the browsers",
			len(calls), errs, corrupt, lostToPhone, lostToBrowser)
	}

	const kb = 1024
	perCall := func(d time.Duration) float64 { return 100 * d.Seconds() / wall.Seconds() / float64(n) }
	pps := float64(c1.toBrowser-c0.toBrowser+c1.toPhone-c0.toPhone) / wall.Seconds()
	line := fmt.Sprintf("webrtc-gateway calls=%d audio=%ds window=%.1fs gateway-cpu=%.3f%%core/call "+
		"peers-cpu=%.3f%%core/call relayed=%.0fpps heap=%.1fKB/call rss=%.1fKB/call goroutines=%.1f/call "+
		"steady=%d frames-to-phone=%d/%d frames-to-browser=%d/%d relayed-to-phone=%d relayed-to-browser=%d "+
		"lost=%d warmup-lost=%d corrupt=%d call-errors=%d connect-max=%dms udp-rcvbuf-errors=%d",
		n, seconds, wall.Seconds(), perCall(cpu.self), perCall(cpu.peer), pps,
		float64(int64(heap1)-int64(heap0))/kb/float64(n), float64(rss1-rss0)/kb/float64(n),
		float64(gor1-gor0)/float64(n), steady, gotP, sentB, gotB, sentP, relayedP, relayedB,
		lostToPhone+lostToBrowser, warmLost, corrupt, errs, connectMax, udpRcvbufErrors()-udp0)
	fmt.Println(line)
}

// TestWebRTCPeers is TestWebRTCGateway's browsers and phones, in their
// own process; it runs only when that test starts it.
func TestWebRTCPeers(t *testing.T) {
	raw := os.Getenv(wrPeersEnv)
	if raw == "" {
		t.Skip("helper process of TestWebRTCGateway")
	}
	var cfg wrPeersConfig
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	ports, err := rtp.NewPorts(netip.MustParseAddr("127.0.0.1"), 45000, 45999)
	if err != nil {
		t.Fatal(err)
	}
	results := make([]wrCallResult, cfg.Calls)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range cfg.Calls {
		wg.Go(func() {
			time.Sleep(time.Until(start.Add(wrRamp * time.Duration(i) / time.Duration(cfg.Calls))))
			results[i] = wrCall(ctx, cfg, ports, i)
		})
	}
	wg.Wait()
	b, err := json.Marshal(results)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg.Report, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// wrPost sends one SDP to the signalling stand-in.
func wrPost(ctx context.Context, base, path string, call int, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+path+"?call=c"+strconv.Itoa(call), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s: %s", path, resp.Status, bytes.TrimSpace(out))
	}
	return out, nil
}

// wrTally checks and counts one direction's frames.
type wrTally struct {
	call    int
	dir     byte
	mu      sync.Mutex
	got     int // after the warm-up
	warm    int
	corrupt int
}

func (w *wrTally) add(payload []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(payload) != 160 {
		w.corrupt++
		return
	}
	k := int(binary.BigEndian.Uint32(payload[3:]))
	if !bytes.Equal(payload, wrFrame(w.call, w.dir, k)) {
		w.corrupt++
		return
	}
	if k < wrWarmup {
		w.warm++
	} else {
		w.got++
	}
}

func (w *wrTally) counts() (got, warm, corrupt int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.got, w.warm, w.corrupt
}

// wrTrack is the browser's microphone: it writes packets as given.
type wrTrack struct {
	mu   sync.Mutex
	w    pion.TrackLocalWriter
	ssrc uint32
	seq  uint16
	ts   uint32
}

func (r *wrTrack) Bind(ctx pion.TrackLocalContext) (pion.RTPCodecParameters, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.w, r.ssrc = ctx.WriteStream(), uint32(ctx.SSRC())
	for _, c := range ctx.CodecParameters() {
		if c.MimeType == pion.MimeTypePCMU {
			return c, nil
		}
	}
	return pion.RTPCodecParameters{}, pion.ErrUnsupportedCodec
}
func (r *wrTrack) Unbind(pion.TrackLocalContext) error { return nil }
func (r *wrTrack) ID() string                          { return "mic" }
func (r *wrTrack) RID() string                         { return "" }
func (r *wrTrack) StreamID() string                    { return "browser" }
func (r *wrTrack) Kind() pion.RTPCodecType             { return pion.RTPCodecTypeAudio }

func (r *wrTrack) send(payload []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.w == nil {
		return errors.New("not bound")
	}
	r.ts += 160
	h := prtp.Header{Version: 2, PayloadType: 0, SequenceNumber: r.seq, Timestamp: r.ts, SSRC: r.ssrc}
	r.seq++
	_, err := r.w.WriteRTP(&h, payload)
	return err
}

// wrBrowser is a pion peer set up as a browser on loopback: Opus, PCMU,
// PCMA and telephone-event, as Chrome offers.
func wrBrowser() (*pion.PeerConnection, *wrTrack, error) {
	me := &pion.MediaEngine{}
	for _, c := range []pion.RTPCodecParameters{
		{RTPCodecCapability: pion.RTPCodecCapability{MimeType: pion.MimeTypeOpus, ClockRate: 48000, Channels: 2}, PayloadType: 111},
		{RTPCodecCapability: pion.RTPCodecCapability{MimeType: pion.MimeTypePCMU, ClockRate: 8000}, PayloadType: 0},
		{RTPCodecCapability: pion.RTPCodecCapability{MimeType: pion.MimeTypePCMA, ClockRate: 8000}, PayloadType: 8},
		{RTPCodecCapability: pion.RTPCodecCapability{MimeType: "audio/telephone-event", ClockRate: 8000}, PayloadType: 126},
	} {
		if err := me.RegisterCodec(c, pion.RTPCodecTypeAudio); err != nil {
			return nil, nil, err
		}
	}
	var se pion.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]pion.NetworkType{pion.NetworkTypeUDP4})
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	pc, err := pion.NewAPI(pion.WithMediaEngine(me), pion.WithSettingEngine(se)).NewPeerConnection(pion.Configuration{})
	if err != nil {
		return nil, nil, err
	}
	tr := &wrTrack{}
	if _, err := pc.AddTransceiverFromTrack(tr, pion.RTPTransceiverInit{Direction: pion.RTPTransceiverDirectionSendrecv}); err != nil {
		_ = pc.Close()
		return nil, nil, err
	}
	return pc, tr, nil
}

// wrLocal applies a local description and returns it complete.
func wrLocal(ctx context.Context, pc *pion.PeerConnection, d pion.SessionDescription) ([]byte, error) {
	gathered := pion.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(d); err != nil {
		return nil, err
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return []byte(pc.LocalDescription().SDP), nil
}

// wrCall sets up call i (even: the browser calls, odd: the phone calls),
// sends cfg.Seconds of frames both ways and counts what arrived.
func wrCall(ctx context.Context, cfg wrPeersConfig, ports *rtp.Ports, i int) (r wrCallResult) {
	r.Call, r.FromBrowser = i, i%2 == 0
	fail := func(format string, args ...any) wrCallResult {
		r.Err = fmt.Sprintf(format, args...)
		return r
	}
	toPhone, toBrowser := &wrTally{call: i, dir: 'b'}, &wrTally{call: i, dir: 'p'}
	ep, err := rtp.Open(ctx, ports, rtp.Config{CallID: "c" + strconv.Itoa(i), DeadMediaTimeout: -1,
		OnPacket: func(p *prtp.Packet) { toPhone.add(p.Payload) }})
	if err != nil {
		return fail("phone: %v", err)
	}
	defer ep.Close()
	pc, track, err := wrBrowser()
	if err != nil {
		return fail("browser: %v", err)
	}
	defer pc.Close()
	var connected atomic.Bool
	up := make(chan struct{})
	pc.OnConnectionStateChange(func(s pion.PeerConnectionState) {
		if s == pion.PeerConnectionStateConnected && !connected.Swap(true) {
			close(up)
		}
	})
	pc.OnTrack(func(tr *pion.TrackRemote, _ *pion.RTPReceiver) {
		buf := make([]byte, 1500)
		var p prtp.Packet
		for {
			n, _, err := tr.Read(buf)
			if err != nil {
				return
			}
			if p.Unmarshal(buf[:n]) == nil {
				toBrowser.add(p.Payload)
			}
		}
	})
	sess := sdp.NewSession()
	local := sdp.Local{Addr: ep.LocalAddr().Addr(), Port: int(ep.LocalAddr().Port())}
	codecs := []string{"PCMU", "PCMA"}
	t0 := time.Now()
	if r.FromBrowser {
		o, err := pc.CreateOffer(nil)
		if err != nil {
			return fail("browser offer: %v", err)
		}
		offer, err := wrLocal(ctx, pc, o)
		if err != nil {
			return fail("browser offer: %v", err)
		}
		t0 = time.Now()
		phoneOffer, err := wrPost(ctx, cfg.URL, "/from-browser", i, offer)
		if err != nil {
			return fail("%v", err)
		}
		po, err := sdp.Parse(phoneOffer)
		if err != nil {
			return fail("phone offer: %v", err)
		}
		pa, ch, err := sess.Answer(po, local, codecs)
		if err != nil {
			return fail("phone answer: %v", err)
		}
		ep.SetRemote(ch.Remote, ch.RemoteRTCP)
		ba, err := wrPost(ctx, cfg.URL, "/phone-answer", i, pa)
		if err != nil {
			return fail("%v", err)
		}
		if err := pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: string(ba)}); err != nil {
			return fail("browser: gateway's answer: %v", err)
		}
	} else {
		po, err := sess.Offer(local, codecs)
		if err != nil {
			return fail("phone offer: %v", err)
		}
		bo, err := wrPost(ctx, cfg.URL, "/to-browser", i, po)
		if err != nil {
			return fail("%v", err)
		}
		if err := pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeOffer, SDP: string(bo)}); err != nil {
			return fail("browser: gateway's offer: %v", err)
		}
		a, err := pc.CreateAnswer(nil)
		if err != nil {
			return fail("browser answer: %v", err)
		}
		answer, err := wrLocal(ctx, pc, a)
		if err != nil {
			return fail("browser answer: %v", err)
		}
		pa, err := wrPost(ctx, cfg.URL, "/browser-answer", i, answer)
		if err != nil {
			return fail("%v", err)
		}
		o, err := sdp.Parse(pa)
		if err != nil {
			return fail("phone: gateway's answer: %v", err)
		}
		ch, err := sdp.Accept(o, codecs)
		if err != nil {
			return fail("phone: gateway's answer: %v", err)
		}
		ep.SetRemote(ch.Remote, ch.RemoteRTCP)
	}
	select {
	case <-up:
		r.ConnectMillis = time.Since(t0).Milliseconds()
	case <-time.After(20 * time.Second):
		return fail("browser did not connect")
	}

	frames := cfg.Seconds * 50
	tick := time.NewTicker(20 * time.Millisecond)
	for k := range frames {
		<-tick.C
		if err := track.send(wrFrame(i, 'b', k)); err != nil {
			tick.Stop()
			return fail("browser send: %v", err)
		}
		if err := ep.Send(wrFrame(i, 'p', k), 160, k == 0); err != nil {
			tick.Stop()
			return fail("phone send: %v", err)
		}
	}
	tick.Stop()
	r.BrowserSent, r.PhoneSent = frames, frames
	time.Sleep(500 * time.Millisecond) // the last frames in flight
	var wp, wb, cp, cb int
	r.PhoneGot, wp, cp = toPhone.counts()
	r.BrowserGot, wb, cb = toBrowser.counts()
	r.WarmupLost = 2*wrWarmup - wp - wb
	r.Corrupt = cp + cb
	return r
}
