package webrtc

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtcp"
	prtp "github.com/pion/rtp"
	"github.com/pion/srtp/v3"

	"github.com/sentralpbx/sentral/media/rtp"
	"github.com/sentralpbx/sentral/media/sdp"
)

// sdesPhone is a desk phone with SDES-SRTP on raw sockets: it protects
// and checks packets with pion/srtp itself, so that the test sees the
// wire, not media/rtp's SRTP layer.
type sdesPhone struct {
	t    *testing.T
	pair *rtp.Pair
	sess *sdp.Session
	ssrc uint32
	wg   sync.WaitGroup

	mu                 sync.Mutex
	seq                uint16
	ts                 uint32
	tx, rx             *srtp.Context // nil: plain RTP
	txKey, rxKey       []byte
	remote, remoteRTCP netip.AddrPort
	in                 []wirePacket // RTP from the gateway
	rtcpIn             []wirePacket
}

// wirePacket is one datagram as it arrived and what it read as.
type wirePacket struct {
	raw   []byte
	clear *prtp.Packet // RTP after unprotecting (or as is when plain); nil if it failed
	rtcp  []byte       // RTCP after unprotecting; nil if it failed
}

func newSDESPhone(t *testing.T, ports *rtp.Ports) *sdesPhone {
	t.Helper()
	pair, err := ports.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ph := &sdesPhone{t: t, pair: pair, sess: sdp.NewSession(), ssrc: 0x5d35, seq: 40000}
	ph.wg.Add(2)
	go ph.read(false)
	go ph.read(true)
	t.Cleanup(func() {
		_ = pair.Close()
		ph.wg.Wait()
	})
	return ph
}

func (ph *sdesPhone) read(isRTCP bool) {
	defer ph.wg.Done()
	conn := ph.pair.RTP
	if isRTCP {
		conn = ph.pair.RTCP
	}
	buf := make([]byte, 1500)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return
		}
		raw := bytes.Clone(buf[:n])
		w := wirePacket{raw: raw}
		ph.mu.Lock()
		switch {
		case isRTCP && ph.rx == nil:
			w.rtcp = raw
		case isRTCP:
			w.rtcp, _ = ph.rx.DecryptRTCP(nil, raw, nil)
		case ph.rx == nil:
			w.clear = &prtp.Packet{}
			if w.clear.Unmarshal(raw) != nil {
				w.clear = nil
			}
		default:
			if b, err := ph.rx.DecryptRTP(nil, raw, nil); err == nil {
				w.clear = &prtp.Packet{}
				if w.clear.Unmarshal(b) != nil {
					w.clear = nil
				}
			}
		}
		if isRTCP {
			ph.rtcpIn = append(ph.rtcpIn, w)
		} else {
			ph.in = append(ph.in, w)
		}
		ph.mu.Unlock()
	}
}

func srtpContext(t *testing.T, suite string, key []byte) *srtp.Context {
	t.Helper()
	profile, ok := rtp.SRTPProfile(suite)
	if !ok {
		t.Fatalf("suite %q", suite)
	}
	c, err := srtp.CreateContext(bytes.Clone(key[:sdp.MasterLen]), bytes.Clone(key[sdp.MasterLen:]), profile)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// key sets the phone's keying from a negotiated exchange (nil: plain),
// keeping a direction's context when its key is unchanged, as a phone
// does.
func (ph *sdesPhone) key(k *sdp.SRTP, ch sdp.Choice) {
	ph.mu.Lock()
	defer ph.mu.Unlock()
	ph.remote, ph.remoteRTCP = ch.Remote, ch.RemoteRTCP
	if k == nil {
		ph.tx, ph.rx, ph.txKey, ph.rxKey = nil, nil, nil, nil
		return
	}
	if !bytes.Equal(ph.txKey, k.Local.Key) {
		ph.tx, ph.txKey = srtpContext(ph.t, k.Suite(), k.Local.Key), bytes.Clone(k.Local.Key)
	}
	if !bytes.Equal(ph.rxKey, k.Remote.Key) {
		ph.rx, ph.rxKey = srtpContext(ph.t, k.Suite(), k.Remote.Key), bytes.Clone(k.Remote.Key)
	}
}

// local is the phone's SDP side: with key and suite it offers RTP/SAVP.
func (ph *sdesPhone) local(key []byte, suite string) sdp.Local {
	return sdp.Local{Addr: loopback, Port: ph.pair.Port(), SRTPKey: key, SRTPSuite: suite}
}

// send sends frame i of the phone's stream, protected when SRTP is on.
func (ph *sdesPhone) send(i int) {
	ph.t.Helper()
	ph.mu.Lock()
	defer ph.mu.Unlock()
	ph.seq++
	ph.ts += 160
	p := prtp.Packet{Header: prtp.Header{Version: 2, PayloadType: 0, SequenceNumber: ph.seq, Timestamp: ph.ts, SSRC: ph.ssrc, Marker: i == 0}, Payload: payload('p', i)}
	b, err := p.Marshal()
	if err != nil {
		ph.t.Fatal(err)
	}
	if ph.tx != nil {
		if b, err = ph.tx.EncryptRTP(nil, b, nil); err != nil {
			ph.t.Fatal(err)
		}
	}
	if _, err := ph.pair.RTP.WriteToUDPAddrPort(b, ph.remote); err != nil {
		ph.t.Fatal(err)
	}
}

// sendRR sends a receiver report on the gateway's stream.
func (ph *sdesPhone) sendRR(about uint32) {
	ph.t.Helper()
	ph.mu.Lock()
	defer ph.mu.Unlock()
	b, err := rtcp.Marshal([]rtcp.Packet{
		&rtcp.ReceiverReport{SSRC: ph.ssrc, Reports: []rtcp.ReceptionReport{{SSRC: about, LastSequenceNumber: 1}}},
		&rtcp.SourceDescription{Chunks: []rtcp.SourceDescriptionChunk{{Source: ph.ssrc, Items: []rtcp.SourceDescriptionItem{{Type: rtcp.SDESCNAME, Text: "phone"}}}}},
	})
	if err != nil {
		ph.t.Fatal(err)
	}
	if ph.tx != nil {
		if b, err = ph.tx.EncryptRTCP(nil, b, nil); err != nil {
			ph.t.Fatal(err)
		}
	}
	if _, err := ph.pair.RTCP.WriteToUDPAddrPort(b, ph.remoteRTCP); err != nil {
		ph.t.Fatal(err)
	}
}

func (ph *sdesPhone) received() (rtpIn, rtcpIn []wirePacket) {
	ph.mu.Lock()
	defer ph.mu.Unlock()
	return append([]wirePacket(nil), ph.in...), append([]wirePacket(nil), ph.rtcpIn...)
}

// talkSDES sends 20 ms frames both ways for d and checks that they
// arrived: the browser's unaltered after the phone unprotected them, and,
// when encrypted, that none of them was clear on the wire.
func talkSDES(t *testing.T, what string, b *testBrowser, ph *sdesPhone, encrypted bool, d time.Duration) {
	t.Helper()
	rtpMark, _ := ph.received()
	bMark := len(b.rx.snapshot())
	n := int(d / (20 * time.Millisecond))
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for i := range n {
		<-tick.C
		if err := b.track.send(0, payload('b', i), 160, i == 0); err != nil {
			t.Fatalf("%s: browser send: %v", what, err)
		}
		ph.send(i)
	}
	time.Sleep(500 * time.Millisecond)
	got, _ := ph.received()
	var clear []*prtp.Packet
	for _, w := range got[len(rtpMark):] {
		if w.clear == nil {
			t.Errorf("%s: a packet from the gateway did not unprotect (%d bytes)", what, len(w.raw))
			continue
		}
		clear = append(clear, w.clear)
		if !encrypted {
			continue
		}
		var wire prtp.Packet
		if err := wire.Unmarshal(w.raw); err != nil {
			continue // not even RTP: certainly not clear
		}
		if bytes.Equal(wire.Payload, w.clear.Payload) || bytes.HasPrefix(wire.Payload, w.clear.Payload) {
			t.Errorf("%s: frame sent in clear on the phone side", what)
		}
		if len(w.raw) <= 12+len(w.clear.Payload) {
			t.Errorf("%s: packet of %d bytes has no authentication tag", what, len(w.raw))
		}
	}
	checkStream(t, what+": browser to phone", clear, 'b', 0, n, 3)
	checkStream(t, what+": phone to browser", b.rx.snapshot()[bMark:], 'p', 0, n, 3)
}

// sdesOffer is a phone's offer: RTP/SAVP with the crypto lines given
// (each "tag suite key"), written after the ones media/sdp writes.
func sdesOffer(t *testing.T, ph *sdesPhone, proto string, cryptos ...sdp.Crypto) []byte {
	t.Helper()
	o, err := ph.sess.Offer(ph.local(nil, ""), []string{"PCMU", "PCMA"})
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(o), "RTP/AVP", proto, 1)
	for _, c := range cryptos {
		s += "a=crypto:" + c.String() + "\r\n"
	}
	return []byte(s)
}

func mustKey(t *testing.T) []byte {
	t.Helper()
	k, err := sdp.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// answerMedia parses the gateway's answer and returns its audio stream.
func answerMedia(t *testing.T, answer []byte) *sdp.Media {
	t.Helper()
	a, err := sdp.Parse(answer)
	if err != nil {
		t.Fatalf("gateway's answer: %v\n%s", err, answer)
	}
	m, _ := a.Audio()
	if m == nil {
		t.Fatalf("gateway's answer has no audio:\n%s", answer)
	}
	return m
}

// phoneReoffer has the phone re-offer body and the browser answer it, and
// returns the gateway's answer for the phone.
func phoneReoffer(t *testing.T, leg *Leg, b *testBrowser, body []byte) []byte {
	t.Helper()
	browserOffer, err := leg.Reoffer(false, body)
	if err != nil {
		t.Fatalf("Reoffer(phone): %v\n%s", err, body)
	}
	answer, err := leg.Reanswer(b.answer(browserOffer))
	if err != nil {
		t.Fatalf("Reanswer: %v", err)
	}
	return answer
}

// acceptSDES reads the gateway's answer to a phone offer with crypto
// offered (nil: plain) and keys the phone by it.
func acceptSDES(t *testing.T, ph *sdesPhone, answer []byte, offered *sdp.Crypto) sdp.Choice {
	t.Helper()
	a, err := sdp.Parse(answer)
	if err != nil {
		t.Fatal(err)
	}
	var ch sdp.Choice
	if offered != nil {
		ch, err = sdp.AcceptSecure(a, []string{"PCMU", "PCMA"}, *offered)
	} else {
		ch, err = sdp.Accept(a, []string{"PCMU", "PCMA"})
	}
	if err != nil {
		t.Fatalf("phone: accept: %v\n%s", err, answer)
	}
	ph.key(ch.SRTP, ch) // Local is the phone's key, Remote the gateway's

	return ch
}

func TestPhoneCallsBrowserSDES(t *testing.T) {
	h := newHarness(t, nil)
	b := newTestBrowser(t, chromeLike)
	ph := newSDESPhone(t, h.phonePorts)

	// The phone offers _32 first and _80 second; _80 is preferred.
	k32, k80 := mustKey(t), mustKey(t)
	c32 := sdp.Crypto{Tag: 1, Suite: sdp.SuiteAES32, Key: k32}
	c80 := sdp.Crypto{Tag: 2, Suite: sdp.SuiteAES80, Key: k80}
	offer := sdesOffer(t, ph, "RTP/SAVP", c32, c80)
	if IsWebRTC(offer) {
		t.Fatal("an SDES offer taken for WebRTC")
	}
	leg, browserOffer, err := h.gw.ToBrowser(context.Background(), t.Name(), offer)
	if err != nil {
		t.Fatalf("ToBrowser: %v", err)
	}
	defer leg.Close()
	phoneAnswer, err := leg.BrowserAnswer(b.answer(browserOffer))
	if err != nil {
		t.Fatalf("BrowserAnswer: %v", err)
	}
	m := answerMedia(t, phoneAnswer)
	if m.Proto != "RTP/SAVP" || len(m.Crypto) != 1 {
		t.Fatalf("answer: %s with %d a=crypto, want RTP/SAVP with one:\n%s", m.Proto, len(m.Crypto), phoneAnswer)
	}
	ours := m.Crypto[0]
	if ours.Tag != 2 || ours.Suite != sdp.SuiteAES80 {
		t.Errorf("answer's a=crypto %d %s, want tag 2 %s", ours.Tag, ours.Suite, sdp.SuiteAES80)
	}
	if bytes.Equal(ours.Key, k80) || bytes.Equal(ours.Key, k32) {
		t.Error("the gateway answered with the phone's key")
	}
	acceptSDES(t, ph, phoneAnswer, &c80)
	if got := leg.SRTP(); got != sdp.SuiteAES80 {
		t.Errorf("leg.SRTP() = %q", got)
	}
	b.waitConnected()
	talkSDES(t, "call up", b, ph, true, 800*time.Millisecond)

	// SRTCP both ways: the phone's report reaches the gateway's endpoint.
	in, _ := ph.received()
	ph.sendRR(in[len(in)-1].clear.SSRC)
	time.Sleep(200 * time.Millisecond)
	st := leg.ep.Stats()
	if st.SRTP != sdp.SuiteAES80 || st.SRTPRejected != 0 || st.LastReport.At.IsZero() {
		t.Errorf("gateway endpoint: srtp %q, %d rejected, report at %v; want the phone's SRTCP report taken",
			st.SRTP, st.SRTPRejected, st.LastReport.At)
	}

	// A re-INVITE with a new phone key, same suite: ours stays.
	k80b := mustKey(t)
	c80b := sdp.Crypto{Tag: 1, Suite: sdp.SuiteAES80, Key: k80b}
	answer := phoneReoffer(t, leg, b, sdesOffer(t, ph, "RTP/SAVP", c80b))
	m = answerMedia(t, answer)
	if len(m.Crypto) != 1 || !bytes.Equal(m.Crypto[0].Key, ours.Key) || m.Crypto[0].Tag != 1 {
		t.Fatalf("rekey answer: want our key kept, tag 1:\n%s", answer)
	}
	acceptSDES(t, ph, answer, &c80b)
	talkSDES(t, "phone rekeyed", b, ph, true, 500*time.Millisecond)

	// A new suite: a fresh key of ours.
	c32b := sdp.Crypto{Tag: 7, Suite: sdp.SuiteAES32, Key: mustKey(t)}
	answer = phoneReoffer(t, leg, b, sdesOffer(t, ph, "RTP/SAVP", c32b))
	m = answerMedia(t, answer)
	if len(m.Crypto) != 1 || m.Crypto[0].Suite != sdp.SuiteAES32 || m.Crypto[0].Tag != 7 || bytes.Equal(m.Crypto[0].Key, ours.Key) {
		t.Fatalf("suite change answer: want _32, tag 7 and a fresh key:\n%s", answer)
	}
	ours32 := m.Crypto[0]
	acceptSDES(t, ph, answer, &c32b)
	talkSDES(t, "suite changed", b, ph, true, 500*time.Millisecond)

	// The browser re-offers (hold, resume): the phone gets RTP/SAVP with
	// our suite and key, tag 1.
	reofferSDES := func(dir sdp.Direction) {
		t.Helper()
		o, err := b.pc.CreateOffer(nil)
		if err != nil {
			t.Fatal(err)
		}
		po, err := leg.Reoffer(true, setDirection(b.setLocal(o), dir))
		if err != nil {
			t.Fatalf("Reoffer(browser): %v", err)
		}
		parsed, err := sdp.Parse(po)
		if err != nil {
			t.Fatal(err)
		}
		pm, _ := parsed.Audio()
		if pm.Proto != "RTP/SAVP" || len(pm.Crypto) != 1 || pm.Crypto[0].Tag != 1 ||
			pm.Crypto[0].Suite != sdp.SuiteAES32 || !bytes.Equal(pm.Crypto[0].Key, ours32.Key) {
			t.Fatalf("gateway's re-offer to the phone: want RTP/SAVP, our _32 key, tag 1:\n%s", po)
		}
		// The phone answers keeping its key.
		pa, ch, err := ph.sess.Answer(parsed, ph.local(c32b.Key, ""), []string{"PCMU", "PCMA"})
		if err != nil {
			t.Fatal(err)
		}
		ba, err := leg.Reanswer(pa)
		if err != nil {
			t.Fatalf("Reanswer: %v", err)
		}
		b.accept(ba)
		ph.key(ch.SRTP, ch)
	}
	reofferSDES(sdp.SendOnly)
	reofferSDES(sdp.SendRecv)
	talkSDES(t, "after browser re-offers", b, ph, true, 500*time.Millisecond)

	// The phone turns SRTP off, then on again: a fresh key then.
	answer = phoneReoffer(t, leg, b, sdesOffer(t, ph, "RTP/AVP"))
	if m = answerMedia(t, answer); m.Proto != "RTP/AVP" || len(m.Crypto) != 0 || leg.SRTP() != "" {
		t.Fatalf("plain re-offer answered with SRTP (leg %q):\n%s", leg.SRTP(), answer)
	}
	acceptSDES(t, ph, answer, nil)
	talkSDES(t, "srtp off", b, ph, false, 500*time.Millisecond)
	c80c := sdp.Crypto{Tag: 3, Suite: sdp.SuiteAES80, Key: mustKey(t)}
	answer = phoneReoffer(t, leg, b, sdesOffer(t, ph, "RTP/SAVP", c80c))
	m = answerMedia(t, answer)
	if len(m.Crypto) != 1 || bytes.Equal(m.Crypto[0].Key, ours.Key) || bytes.Equal(m.Crypto[0].Key, ours32.Key) {
		t.Fatalf("srtp on again: want a fresh key:\n%s", answer)
	}
	acceptSDES(t, ph, answer, &c80c)
	talkSDES(t, "srtp on again", b, ph, true, 500*time.Millisecond)

	// A re-offer of RTP/SAVP without a usable key is refused; the call
	// goes on.
	if _, err := leg.Reoffer(false, sdesOffer(t, ph, "RTP/SAVP")); !errors.Is(err, ErrNoUsableCrypto) || !errors.Is(err, sdp.ErrNotAcceptable) {
		t.Errorf("RTP/SAVP re-offer without a=crypto: %v, want ErrNoUsableCrypto", err)
	}
	talkSDES(t, "after refused re-offer", b, ph, true, 300*time.Millisecond)

	// Hanging up sends an SRTCP BYE that unprotects with our key.
	_, rtcpMark := ph.received()
	if err := leg.Close(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	_, rtcpIn := ph.received()
	bye := false
	for _, w := range rtcpIn[len(rtcpMark):] {
		if w.rtcp == nil {
			t.Errorf("an RTCP packet from the gateway did not unprotect (%d bytes)", len(w.raw))
			continue
		}
		if _, err := rtcp.Unmarshal(w.raw); err == nil && bytes.Equal(w.raw[:len(w.rtcp)], w.rtcp) {
			t.Error("RTCP sent in clear on the phone side")
		}
		pkts, err := rtcp.Unmarshal(w.rtcp)
		if err != nil {
			t.Errorf("unprotected RTCP does not parse: %v", err)
		}
		for _, p := range pkts {
			if _, ok := p.(*rtcp.Goodbye); ok {
				bye = true
			}
		}
	}
	if !bye {
		t.Error("no SRTCP BYE from the gateway on hang-up")
	}
	h.checkReleased()
}

func TestPhoneSAVPWithoutUsableCrypto(t *testing.T) {
	h := newHarness(t, nil)
	ph := newSDESPhone(t, h.phonePorts)
	key := mustKey(t)
	for _, tc := range []struct {
		name  string
		lines []string
	}{
		{"none", nil},
		{"AES-256", []string{"1 AES_256_CM_HMAC_SHA1_80 inline:" + b64(make([]byte, 46))}},
		{"MKI", []string{"1 AES_CM_128_HMAC_SHA1_80 inline:" + b64(key) + "|2^20|1:4"}},
		{"short lifetime", []string{"1 AES_CM_128_HMAC_SHA1_80 inline:" + b64(key) + "|2^10"}},
		{"UNENCRYPTED_SRTP", []string{"1 AES_CM_128_HMAC_SHA1_80 inline:" + b64(key) + " UNENCRYPTED_SRTP"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			offer := string(sdesOffer(t, ph, "RTP/SAVP"))
			for _, l := range tc.lines {
				offer += "a=crypto:" + l + "\r\n"
			}
			leg, _, err := h.gw.ToBrowser(context.Background(), t.Name(), []byte(offer))
			if err == nil {
				_ = leg.Close()
				t.Fatalf("RTP/SAVP offer accepted:\n%s", offer)
			}
			if !errors.Is(err, ErrNoUsableCrypto) || !errors.Is(err, sdp.ErrNotAcceptable) {
				t.Errorf("error %v, want ErrNoUsableCrypto (488)", err)
			}
			t.Log(err)
			h.checkReleased()
		})
	}
	// RTP/AVP with an unusable a=crypto is plain RTP: accepted.
	offer := string(sdesOffer(t, ph, "RTP/AVP")) + "a=crypto:1 AES_256_CM_HMAC_SHA1_80 inline:" + b64(make([]byte, 46)) + "\r\n"
	leg, _, err := h.gw.ToBrowser(context.Background(), "avp", []byte(offer))
	if err != nil {
		t.Fatalf("RTP/AVP with an unsupported a=crypto: %v", err)
	}
	_ = leg.Close()
	h.checkReleased()
}

func b64(k []byte) string {
	c := sdp.Crypto{Suite: sdp.SuiteAES80, Key: k}
	s := c.String()
	return s[strings.Index(s, "inline:")+len("inline:"):]
}

// browserCallsSDESPhone sets up a browser's call to a phone through a
// gateway with OfferSDES; the phone answers with SRTP when srtpOn.
func browserCallsSDESPhone(t *testing.T, h *harness, srtpOn bool) (*Leg, *testBrowser, *sdesPhone, []byte) {
	t.Helper()
	b := newTestBrowser(t, chromeLike)
	ph := newSDESPhone(t, h.phonePorts)
	leg, phoneOffer, err := h.gw.FromBrowser(context.Background(), t.Name(), b.offer())
	if err != nil {
		t.Fatalf("FromBrowser: %v", err)
	}
	t.Cleanup(func() { _ = leg.Close() })
	o, err := sdp.Parse(phoneOffer)
	if err != nil {
		t.Fatal(err)
	}
	var key []byte
	if srtpOn {
		key = mustKey(t)
	}
	answer, ch, err := ph.sess.Answer(o, ph.local(key, ""), []string{"PCMU"})
	if err != nil {
		t.Fatalf("phone: answer: %v\n%s", err, phoneOffer)
	}
	ph.key(ch.SRTP, ch)
	browserAnswer, err := leg.PhoneAnswer(answer)
	if err != nil {
		t.Fatalf("PhoneAnswer: %v\n%s", err, answer)
	}
	b.accept(browserAnswer)
	b.waitConnected()
	return leg, b, ph, phoneOffer
}

func TestOfferSDES(t *testing.T) {
	t.Run("default plain", func(t *testing.T) {
		h := newHarness(t, nil)
		leg, b, ph, offer := browserCallsSDESPhone(t, h, false)
		if bytes.Contains(offer, []byte("a=crypto")) || !bytes.Contains(offer, []byte("RTP/AVP")) {
			t.Fatalf("default offer to the phone:\n%s", offer)
		}
		talkSDES(t, "plain", b, ph, false, 400*time.Millisecond)
		_ = leg.Close()
		h.checkReleased()
	})
	t.Run("phone takes it", func(t *testing.T) {
		h := newHarness(t, func(c *Config) { c.OfferSDES = true })
		leg, b, ph, offer := browserCallsSDESPhone(t, h, true)
		o, err := sdp.Parse(offer)
		if err != nil {
			t.Fatal(err)
		}
		m, _ := o.Audio()
		if m.Proto != "RTP/AVP" || len(m.Crypto) != 1 || m.Crypto[0].Tag != 1 || m.Crypto[0].Suite != sdp.SuiteAES80 {
			t.Fatalf("best-effort offer: want RTP/AVP with a=crypto:1 %s:\n%s", sdp.SuiteAES80, offer)
		}
		if leg.SRTP() != sdp.SuiteAES80 {
			t.Errorf("leg.SRTP() = %q", leg.SRTP())
		}
		talkSDES(t, "best effort", b, ph, true, 600*time.Millisecond)
		// A browser re-offer repeats our key, in RTP/AVP.
		o2, err := b.pc.CreateOffer(nil)
		if err != nil {
			t.Fatal(err)
		}
		re, err := leg.Reoffer(true, b.setLocal(o2))
		if err != nil {
			t.Fatal(err)
		}
		ro, err := sdp.Parse(re)
		if err != nil {
			t.Fatal(err)
		}
		rm, _ := ro.Audio()
		if rm.Proto != "RTP/AVP" || len(rm.Crypto) != 1 || !bytes.Equal(rm.Crypto[0].Key, m.Crypto[0].Key) {
			t.Fatalf("re-offer: want RTP/AVP with our key:\n%s", re)
		}
		// The phone now declines: plain RTP.
		pa, ch, err := ph.sess.Answer(ro, ph.local(nil, ""), []string{"PCMU"})
		if err != nil {
			t.Fatal(err)
		}
		ba, err := leg.Reanswer(pa)
		if err != nil {
			t.Fatal(err)
		}
		b.accept(ba)
		ph.key(nil, ch)
		if leg.SRTP() != "" {
			t.Errorf("leg.SRTP() = %q after a plain answer", leg.SRTP())
		}
		talkSDES(t, "declined on re-offer", b, ph, false, 400*time.Millisecond)
		_ = leg.Close()
		h.checkReleased()
	})
	t.Run("phone declines", func(t *testing.T) {
		h := newHarness(t, func(c *Config) { c.OfferSDES = true })
		leg, b, ph, offer := browserCallsSDESPhone(t, h, false)
		if !bytes.Contains(offer, []byte("a=crypto:1 ")) {
			t.Fatalf("offer lacks a=crypto:\n%s", offer)
		}
		if leg.SRTP() != "" {
			t.Errorf("leg.SRTP() = %q", leg.SRTP())
		}
		talkSDES(t, "plain answer", b, ph, false, 400*time.Millisecond)
		_ = leg.Close()
		h.checkReleased()
	})
	t.Run("bad answers", func(t *testing.T) {
		h := newHarness(t, func(c *Config) { c.OfferSDES = true })
		ph := newSDESPhone(t, h.phonePorts)
		for _, tc := range []struct{ name, proto, crypto string }{
			{"SAVP to an AVP offer", "RTP/SAVP", "1 AES_CM_128_HMAC_SHA1_80"},
			{"another tag", "RTP/AVP", "2 AES_CM_128_HMAC_SHA1_80"},
			{"another suite", "RTP/AVP", "1 AES_CM_128_HMAC_SHA1_32"},
		} {
			b := newTestBrowser(t, chromeLike)
			leg, offer, err := h.gw.FromBrowser(context.Background(), tc.name, b.offer())
			if err != nil {
				t.Fatal(err)
			}
			o, _ := sdp.Parse(offer)
			a, _, err := ph.sess.Answer(o, ph.local(nil, ""), []string{"PCMU"})
			if err != nil {
				t.Fatal(err)
			}
			bad := strings.Replace(string(a), "RTP/AVP", tc.proto, 1) + "a=crypto:" + tc.crypto + " inline:" + b64(mustKey(t)) + "\r\n"
			if _, err := leg.PhoneAnswer([]byte(bad)); !errors.Is(err, sdp.ErrNotAcceptable) {
				t.Errorf("%s: %v, want ErrNotAcceptable", tc.name, err)
			}
			_ = leg.Close()
		}
		h.checkReleased()
	})
}
