package baresip

import (
	"context"
	"errors"
	"math"
	"net/netip"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/sentralpbx/sentral/media/mediaserver"
	"github.com/sentralpbx/sentral/media/rtp"
	"github.com/sentralpbx/sentral/media/voicemail"
	"github.com/sentralpbx/sentral/media/wav"
	"github.com/sentralpbx/sentral/test/siptest"
)

// srtpReport is what the media server's application saw of the call.
type srtpReport struct {
	suite    string
	recorded []int16
	stats    rtp.Stats
	err      error
}

// memFile is an in-memory io.WriteSeeker for the recording.
type memFile struct {
	b   []byte
	off int
}

func (m *memFile) Write(p []byte) (int, error) {
	if end := m.off + len(p); end > len(m.b) {
		m.b = append(m.b, make([]byte, end-len(m.b))...)
	}
	copy(m.b[m.off:], p)
	m.off += len(p)
	return len(p), nil
}

func (m *memFile) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case 0:
		m.off = int(off)
	case 1:
		m.off += int(off)
	case 2:
		m.off = len(m.b) + int(off)
	}
	if m.off < 0 {
		return 0, errors.New("negative offset")
	}
	return int64(m.off), nil
}

// goertzel is the relative power of hz in 8 kHz samples (1: a pure tone).
func goertzel(s []int16, hz float64) float64 {
	var re, im, total float64
	for i, v := range s {
		x := float64(v)
		re += x * math.Cos(2*math.Pi*hz*float64(i)/8000)
		im += x * math.Sin(2*math.Pi*hz*float64(i)/8000)
		total += x * x
	}
	if total == 0 {
		return 0
	}
	return 2 * (re*re + im*im) / (float64(len(s)) * total)
}

// TestBaresipSRTPToMediaServer: baresip with mediaenc=srtp-mand (RTP/SAVP,
// SDES), then with mediaenc=srtp (RTP/AVP carrying a=crypto), calls an
// extension bound to the media server, through the proxy, which leaves the
// SDP alone. The media server answers with SRTP in the offered profile; it
// plays a tone, then records baresip's 440 Hz tone: hearing it means
// baresip's SRTP opened with the key from its offer. baresip's RTCP
// reports on our stream (SRTCP, which only opens with its key) mean it
// received and authenticated our SRTP.
func TestBaresipSRTPToMediaServer(t *testing.T) {
	siptest.Tool(t, "baresip", "baresip")
	for _, c := range []struct{ mediaenc, proto string }{{"srtp-mand", "RTP/SAVP"}, {"srtp", "RTP/AVP"}} {
		t.Run(c.mediaenc, func(t *testing.T) { baresipSRTP(t, c.mediaenc, c.proto) })
	}
}

func baresipSRTP(t *testing.T, mediaenc, proto string) {
	const ms = "2002" // the extension bound to the media server's application
	s := siptest.Start(t, siptest.Options{Domain: domain, Password: password, Range: [2]string{"2000", "2099"},
		Numbers: []string{caller, ms}, Networks: []string{"udp"}, Algorithms: algorithms})

	reports := make(chan srtpReport, 1)
	app := mediaserver.AppFunc(func(ctx context.Context, sess *mediaserver.Session) {
		r := srtpReport{suite: sess.SRTP()}
		tone := make([]int16, 8000*3)
		for i := range tone {
			tone[i] = int16(6000 * math.Sin(2*math.Pi*800*float64(i)/8000))
		}
		if _, r.err = sess.Play(ctx, tone, false); r.err == nil {
			rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			f := &memFile{}
			_, r.err = sess.Record(rctx, f, voicemail.RecordOptions{Format: wav.PCM, SilenceTimeout: -1})
			cancel()
			if r.err == nil || errors.Is(r.err, context.DeadlineExceeded) {
				r.err = nil
				_, r.recorded, r.err = wav.Read(strings.NewReader(string(f.b)))
			}
		}
		r.stats = sess.MediaStats()
		reports <- r
	})
	base := 47600 + siptest.FreePort(t, "udp")%200*10
	ports, err := rtp.NewPorts(netip.MustParseAddr("127.0.0.1"), base, base+9)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := mediaserver.New(mediaserver.Config{
		Listen: "127.0.0.1:0", Ports4: ports, Log: zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel)).Named("media"),
		Apps: map[string]mediaserver.App{ms: app},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	msPort := netip.MustParseAddrPort(srv.Addr()).Port()
	s.Bind(t, ms, int(msPort), 1)

	p := siptest.StartBaresip(t, siptest.BaresipOptions{Ext: caller, Password: password, Domain: domain,
		Proxy: s.Server.Addr("udp"), MediaEnc: mediaenc})
	deadline := time.Now().Add(10 * time.Second)
	for len(s.Loc.Bindings(s.Tenant.ID, caller)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("baresip did not register")
		}
		time.Sleep(20 * time.Millisecond)
	}

	p.Command(t, "dial", "sip:"+ms+"@"+domain)
	p.WaitEvent(t, "CALL_ESTABLISHED", 10*time.Second, "CALL_CLOSED")
	var r srtpReport
	select {
	case r = <-reports:
	case <-time.After(20 * time.Second):
		t.Fatal("the media server's application reported nothing")
	}
	p.WaitEvent(t, "CALL_CLOSED", 10*time.Second)

	if r.err != nil {
		t.Fatalf("application: %v", r.err)
	}
	if r.suite != "AES_CM_128_HMAC_SHA1_80" && r.suite != "AES_CM_128_HMAC_SHA1_32" {
		t.Errorf("call negotiated SRTP %q", r.suite)
	}
	st := r.stats
	t.Logf("media server stats: sent %d, received %d, rejected %d (srtp %d), last report %v (%d lost, highest %d)",
		st.PacketsSent, st.PacketsReceived, st.Rejected, st.SRTPRejected, st.LastReport.At.Format(time.TimeOnly),
		st.LastReport.Report.TotalLost, st.LastReport.Report.LastSequenceNumber)
	// baresip sends one plain RTCP packet before it has our answer (and so
	// before its SRTP is on): that one is rightly dropped.
	if st.SRTP != r.suite || st.PacketsSent < 100 || st.PacketsReceived < 100 || st.SRTPRejected > 2 {
		t.Errorf("media server stats: %+v", st)
	}
	// We heard baresip: its 440 Hz tone, decrypted.
	if len(r.recorded) < 8000 {
		t.Fatalf("recorded %d samples", len(r.recorded))
	}
	if e := goertzel(r.recorded[len(r.recorded)/2:], 440); e < 0.5 {
		t.Errorf("recording is not baresip's 440 Hz tone (relative power %.2f)", e)
	}
	// baresip heard us: its reception report on our SSRC.
	if st.LastReport.At.IsZero() || st.LastReport.Report.SSRC != st.LocalSSRC {
		t.Errorf("no reception report from baresip on our SRTP stream: %+v", st.LastReport)
	}

	// The SDP baresip sent and got: the profile with a=crypto both ways.
	p.Stop(t)
	var offer, answer string
	for _, m := range traceMessages(p.Output()) {
		switch {
		case strings.HasPrefix(m, "INVITE sip:"+ms+"@") && offer == "":
			offer = m
		case strings.HasPrefix(m, "SIP/2.0 200 ") && strings.Contains(m, " INVITE\n") && answer == "":
			answer = m
		}
	}
	for name, msg := range map[string]string{"offer": offer, "answer": answer} {
		if !strings.Contains(msg, " "+proto+" ") || !strings.Contains(msg, "a=crypto:") {
			t.Errorf("baresip's %s is not %s with a=crypto:\n%s", name, proto, msg)
		}
	}
}
