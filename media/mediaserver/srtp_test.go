package mediaserver_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	prtp "github.com/pion/rtp"
	"github.com/pion/srtp/v3"

	"github.com/sentralpbx/sentral/media/codec"
	"github.com/sentralpbx/sentral/media/dtmf"
	"github.com/sentralpbx/sentral/media/mediaserver"
	mst "github.com/sentralpbx/sentral/media/mediaserver/mediaservertest"
	"github.com/sentralpbx/sentral/media/sdp"
)

// srtpResult is what the SRTP test application saw in one round of keys.
type srtpResult struct {
	digits string
	srtp   string
	err    error
}

// srtpApp plays a 200 ms tone, then reports two rounds of keys ended by
// '#', each with the SRTP suite then in force, and waits for the hang-up.
type srtpApp struct{ results chan srtpResult }

func (a *srtpApp) Serve(ctx context.Context, s *mediaserver.Session) {
	if _, err := s.Play(ctx, tone(200*time.Millisecond, 800), false); err != nil {
		a.results <- srtpResult{err: err}
		return
	}
	for range 2 {
		d, err := s.ReadDigits(ctx, 8, 10*time.Second, '#')
		a.results <- srtpResult{digits: d, srtp: s.SRTP(), err: err}
	}
	<-ctx.Done()
}

func (a *srtpApp) next(t *testing.T) srtpResult {
	t.Helper()
	select {
	case r := <-a.results:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("application reported nothing")
	}
	return srtpResult{}
}

// srtpPhone is a desk phone with SRTP made of raw sockets, so that the
// test sees the packets exactly as they travel: SIP through the fixture
// phone's client, RTP and RTCP on sockets of its own, protected with
// pion/srtp by hand.
type srtpPhone struct {
	t          *testing.T
	rtpc, rtcp *net.UDPConn
	dlg        *sipgo.DialogClientSession
	answer     *sdp.Offer
	remote     netip.AddrPort // the server's RTP address
	ssrc       uint32
	seq        uint16
	ts         uint32

	mu      sync.Mutex
	rtpIn   [][]byte
	rtcpIn  [][]byte
	readers sync.WaitGroup
}

func newSRTPPhone(t *testing.T) *srtpPhone {
	t.Helper()
	p := &srtpPhone{t: t, ssrc: 0x5e77a1, seq: 1000, ts: 8000}
	for _, c := range []**net.UDPConn{&p.rtpc, &p.rtcp} {
		conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		*c = conn
	}
	for _, r := range []struct {
		c   *net.UDPConn
		dst *[][]byte
	}{{p.rtpc, &p.rtpIn}, {p.rtcp, &p.rtcpIn}} {
		p.readers.Add(1)
		go func() {
			defer p.readers.Done()
			buf := make([]byte, 2048)
			for {
				n, _, err := r.c.ReadFromUDP(buf)
				if err != nil {
					return
				}
				p.mu.Lock()
				*r.dst = append(*r.dst, bytes.Clone(buf[:n]))
				p.mu.Unlock()
			}
		}()
	}
	t.Cleanup(func() {
		p.rtpc.Close()
		p.rtcp.Close()
		p.readers.Wait()
	})
	return p
}

func (p *srtpPhone) port() int     { return p.rtpc.LocalAddr().(*net.UDPAddr).Port }
func (p *srtpPhone) rtcpPort() int { return p.rtcp.LocalAddr().(*net.UDPAddr).Port }

// offer is the phone's SDP with the given profile and a=crypto lines.
func (p *srtpPhone) offer(version int, proto string, cryptos ...string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "v=0\r\no=phone 99 %d IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n", version)
	fmt.Fprintf(&b, "m=audio %d %s 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n", p.port(), proto)
	fmt.Fprintf(&b, "a=fmtp:101 0-15\r\na=ptime:20\r\na=rtcp:%d\r\na=sendrecv\r\n", p.rtcpPort())
	for _, c := range cryptos {
		b.WriteString("a=crypto:" + c + "\r\n")
	}
	return []byte(b.String())
}

// dial sends the INVITE with body through the fixture phone's client.
func (p *srtpPhone) dial(ctx context.Context, f *fixture, body []byte) (*sip.Response, error) {
	var uri sip.Uri
	if err := sip.ParseUri(mst.URI(f.srv.Addr(), "srtp"), &uri); err != nil {
		return nil, err
	}
	dua := &sipgo.DialogUA{Client: f.phone.Client(), ContactHDR: sip.ContactHeader{
		Address: sip.Uri{Scheme: "sip", User: "srtp-phone", Host: "127.0.0.1", Port: int(f.phone.Addr().Port())},
	}}
	req := sip.NewRequest(sip.INVITE, uri)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(body)
	d, err := dua.WriteInvite(ctx, req)
	if err != nil {
		return nil, err
	}
	if err := d.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		var dr *sipgo.ErrDialogResponse
		if errors.As(err, &dr) {
			return dr.Res, nil
		}
		var dv sipgo.ErrDialogResponse
		if errors.As(err, &dv) {
			return dv.Res, nil
		}
		return nil, err
	}
	if err := d.Ack(ctx); err != nil {
		return nil, err
	}
	p.dlg = d
	return d.InviteResponse, nil
}

// reinvite sends an in-dialog INVITE with body and ACKs its 200.
func (p *srtpPhone) reinvite(ctx context.Context, body []byte) *sip.Response {
	p.t.Helper()
	target := *p.dlg.InviteResponse.Contact().Address.Clone()
	req := sip.NewRequest(sip.INVITE, target)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(body)
	res, err := p.dlg.Do(ctx, req)
	if err != nil {
		p.t.Fatal(err)
	}
	if res.StatusCode == 200 {
		if err := p.dlg.WriteRequest(sip.NewRequest(sip.ACK, target)); err != nil {
			p.t.Fatal(err)
		}
	}
	return res
}

// send sends one RTP packet, protected by ctx (nil: plain).
func (p *srtpPhone) send(ctx *srtp.Context, pt uint8, payload []byte, delta uint32, marker bool) {
	p.t.Helper()
	p.ts += delta
	pkt, err := (&prtp.Packet{Header: prtp.Header{Version: 2, PayloadType: pt, SequenceNumber: p.seq,
		Timestamp: p.ts, SSRC: p.ssrc, Marker: marker}, Payload: payload}).Marshal()
	if err != nil {
		p.t.Fatal(err)
	}
	p.seq++
	if ctx != nil {
		if pkt, err = ctx.EncryptRTP(nil, pkt, nil); err != nil {
			p.t.Fatal(err)
		}
	}
	if _, err := p.rtpc.WriteToUDPAddrPort(pkt, p.remote); err != nil {
		p.t.Fatal(err)
	}
}

// key presses key by RFC 4733 as phones do (see mediaservertest.SendKey).
func (p *srtpPhone) key(ctx *srtp.Context, key rune) {
	p.t.Helper()
	code, _ := dtmf.CodeOf(key)
	for i, dur := range []uint16{160, 320, 480, 640, 640, 640} {
		b, _ := dtmf.Event{Code: code, Volume: 10, Duration: dur, End: i >= 3}.Marshal()
		delta := uint32(0)
		if i == 0 {
			delta = 160
		}
		p.send(ctx, 101, b, delta, i == 0)
		if i < 3 {
			time.Sleep(20 * time.Millisecond)
		}
	}
	p.send(ctx, 0, bytes.Repeat([]byte{0xff}, 160), 640, false)
	time.Sleep(60 * time.Millisecond)
}

func (p *srtpPhone) received() (rtp, rtcp [][]byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([][]byte(nil), p.rtpIn...), append([][]byte(nil), p.rtcpIn...)
}

func cryptoLine(tag int, suite string, key []byte) string {
	return fmt.Sprintf("%d %s inline:%s", tag, suite, base64.StdEncoding.EncodeToString(key))
}

func srtpCtx(t *testing.T, suite string, key []byte) *srtp.Context {
	t.Helper()
	profile := srtp.ProtectionProfileAes128CmHmacSha1_80
	if suite == sdp.SuiteAES32 {
		profile = srtp.ProtectionProfileAes128CmHmacSha1_32
	}
	c, err := srtp.CreateContext(key[:16], key[16:], profile)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// answerCrypto checks an SRTP answer and returns its one a=crypto.
func answerCrypto(t *testing.T, res *sip.Response, proto string) (*sdp.Offer, sdp.Crypto) {
	t.Helper()
	if res.StatusCode != 200 {
		t.Fatalf("INVITE answered %s", res.StartLine())
	}
	ans, err := sdp.Parse(res.Body())
	if err != nil {
		t.Fatal(err)
	}
	m, _ := ans.Audio()
	if m == nil || m.Proto != proto || len(m.Crypto) != 1 {
		t.Fatalf("answer not %s with one a=crypto:\n%s", proto, res.Body())
	}
	return ans, m.Crypto[0]
}

// toneEnergy is the 800 Hz power of 8 kHz samples, relative to their
// total power (1 for a pure tone, near 0 for noise).
func toneEnergy(s []int16) float64 {
	var re, im, total float64
	for i, v := range s {
		x := float64(v)
		re += x * math.Cos(2*math.Pi*800*float64(i)/8000)
		im += x * math.Sin(2*math.Pi*800*float64(i)/8000)
		total += x * x
	}
	if total == 0 {
		return 0
	}
	return 2 * (re*re + im*im) / (float64(len(s)) * total)
}

// TestSRTPCall: a phone offering RTP/SAVP (and one offering RTP/AVP with
// a=crypto) gets an answer in the same profile with the tag of the
// preferred suite and a fresh key; the prompt arrives as SRTP that opens
// with that key only; the phone's SRTP key presses are heard while plain
// ones are not; a re-INVITE with a new phone key keeps ours and is heard
// with the new one; RTCP is SRTCP.
func TestSRTPCall(t *testing.T) {
	for _, proto := range []string{"RTP/SAVP", "RTP/AVP"} {
		t.Run(strings.ReplaceAll(proto, "/", "_"), func(t *testing.T) {
			app := &srtpApp{results: make(chan srtpResult, 4)}
			f := start(t, func(c *mediaserver.Config) { c.Apps = map[string]mediaserver.App{"srtp": app} })
			ctx := testCtx(t)
			p := newSRTPPhone(t)
			k1 := bytes.Repeat([]byte{0x11}, sdp.KeyLen)
			k32 := bytes.Repeat([]byte{0x32}, sdp.KeyLen)
			res, err := p.dial(ctx, f, p.offer(1, proto, cryptoLine(1, sdp.SuiteAES32, k32), cryptoLine(2, sdp.SuiteAES80, k1)))
			if err != nil {
				t.Fatal(err)
			}
			ans, ours := answerCrypto(t, res, proto)
			if ours.Tag != 2 || ours.Suite != sdp.SuiteAES80 || bytes.Equal(ours.Key, k1) || bytes.Equal(ours.Key, k32) {
				t.Fatalf("answer's crypto: tag %d %s (want tag 2 %s and a key of its own)", ours.Tag, ours.Suite, sdp.SuiteAES80)
			}
			m, _ := ans.Audio()
			p.remote = netip.AddrPortFrom(m.Addr, uint16(m.Port))

			// The prompt: 200 ms of tone, so about ten packets.
			deadline := time.Now().Add(5 * time.Second)
			for {
				if got, _ := p.received(); len(got) >= 9 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("no prompt packets")
				}
				time.Sleep(20 * time.Millisecond)
			}
			time.Sleep(100 * time.Millisecond)
			rtpIn, _ := p.received()
			right, wrong := srtpCtx(t, ours.Suite, ours.Key), srtpCtx(t, ours.Suite, k1)
			var pcm []int16
			for i, w := range rtpIn {
				var h prtp.Header
				hl, err := h.Unmarshal(w)
				if err != nil || h.PayloadType != 0 {
					t.Fatalf("packet %d: %v %v", i, h, err)
				}
				if len(w) != hl+160+10 {
					t.Errorf("packet %d: %d bytes, want header, 160 bytes of PCMU and an 80-bit tag", i, len(w))
				}
				if _, err := wrong.DecryptRTP(nil, w, nil); err == nil {
					t.Errorf("packet %d authenticates with the phone's key", i)
				}
				plain, err := right.DecryptRTP(nil, w, nil)
				if err != nil {
					t.Fatalf("packet %d does not open with the answer's key: %v", i, err)
				}
				if bytes.Equal(plain[hl:], w[hl:hl+160]) {
					t.Errorf("packet %d: payload in clear", i)
				}
				pcm = codec.PCMU.Decode(plain[hl:], pcm)
			}
			var raw []int16
			for _, w := range rtpIn {
				raw = codec.PCMU.Decode(w[12:12+160], raw)
			}
			if e := toneEnergy(pcm); e < 0.8 {
				t.Errorf("decrypted prompt is not the 800 Hz tone (energy %.2f)", e)
			}
			if e := toneEnergy(raw); e > 0.2 {
				t.Errorf("the packets as sent carry the tone in clear (energy %.2f)", e)
			}

			// Keys: a plain one is dropped, SRTP ones are heard.
			p.key(nil, '9')
			tx := srtpCtx(t, sdp.SuiteAES80, k1)
			for _, k := range "12#" {
				p.key(tx, k)
			}
			r := app.next(t)
			if r.err != nil || r.digits != "12" || r.srtp != sdp.SuiteAES80 {
				t.Fatalf("first round: %+v, want 12 over %s", r, sdp.SuiteAES80)
			}

			// Rekey: a new phone key; our key stays.
			k2 := bytes.Repeat([]byte{0x22}, sdp.KeyLen)
			res = p.reinvite(ctx, p.offer(2, proto, cryptoLine(1, sdp.SuiteAES80, k2)))
			_, again := answerCrypto(t, res, proto)
			if again.Tag != 1 || !again.Same(ours) {
				t.Errorf("re-INVITE answer's crypto: tag %d, same key %v; want tag 1 and our key kept", again.Tag, again.Same(ours))
			}
			tx2 := srtpCtx(t, sdp.SuiteAES80, k2)
			p.key(tx, '7') // the old key no longer opens
			for _, k := range "3#" {
				p.key(tx2, k)
			}
			if r := app.next(t); r.err != nil || r.digits != "3" {
				t.Fatalf("after the rekey: %+v, want 3", r)
			}

			if err := p.dlg.Bye(ctx); err != nil {
				t.Fatal(err)
			}
			waitCalls(t, f.srv, 0)
			// The endpoint's last report (with BYE) went out as SRTCP.
			deadline = time.Now().Add(3 * time.Second)
			var rtcpIn [][]byte
			for len(rtcpIn) == 0 && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
				_, rtcpIn = p.received()
			}
			if len(rtcpIn) == 0 {
				t.Fatal("no RTCP from the server")
			}
			rtcpRight, rtcpWrong := srtpCtx(t, ours.Suite, ours.Key), srtpCtx(t, ours.Suite, k1)
			for i, w := range rtcpIn {
				if _, err := rtcpWrong.DecryptRTCP(nil, w, nil); err == nil {
					t.Errorf("RTCP %d authenticates with the phone's key", i)
				}
				if _, err := rtcpRight.DecryptRTCP(nil, w, nil); err != nil {
					t.Errorf("RTCP %d is not SRTCP under the answer's key: %v", i, err)
				}
			}
		})
	}
}

// TestSRTPRefused: RTP/SAVP with no a=crypto, or none we support, gets
// 488 with a Warning that says why; no call is left behind.
func TestSRTPRefused(t *testing.T) {
	f := start(t, nil)
	ctx := testCtx(t)
	p := newSRTPPhone(t)
	key := bytes.Repeat([]byte{0x11}, sdp.KeyLen)
	for _, c := range []struct {
		name    string
		cryptos []string
		warning string
	}{
		{"no crypto", nil, "RTP/SAVP without a=crypto"},
		{"unsupported suite", []string{cryptoLine(1, "F8_128_HMAC_SHA1_80", key)}, "F8_128_HMAC_SHA1_80"},
		{"MKI", []string{cryptoLine(1, sdp.SuiteAES80, key) + "|2^31|1:4"}, "MKI"},
		{"short key", []string{cryptoLine(1, sdp.SuiteAES80, key[:20])}, "20 bytes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			body := p.offer(1, "RTP/SAVP", c.cryptos...)
			_, err := f.phone.Dial(ctx, mst.URI(f.srv.Addr(), "echo"), mst.DialOptions{SDP: body})
			var re *mst.ResponseError
			if !errors.As(err, &re) || re.Res.StatusCode != 488 {
				t.Fatalf("Dial = %v, want 488", err)
			}
			w := re.Res.GetHeader("Warning")
			if w == nil || !strings.Contains(w.Value(), c.warning) {
				t.Errorf("Warning %v, want one saying %q", w, c.warning)
			}
			if w != nil && strings.Contains(w.Value(), base64.StdEncoding.EncodeToString(key)[:20]) {
				t.Errorf("Warning shows the key: %s", w.Value())
			}
		})
	}
	waitCalls(t, f.srv, 0)
}
