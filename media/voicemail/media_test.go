package voicemail

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/media/codec"
	"github.com/sentralpbx/sentral/media/dtmf"
	mrtp "github.com/sentralpbx/sentral/media/rtp"
	"github.com/sentralpbx/sentral/media/wav"
)

const eventPT = 101

var loopback = netip.MustParseAddr("127.0.0.1")

// memFile is an in-memory io.WriteSeeker for the WAV writer.
type memFile struct {
	b   []byte
	off int64
}

func (m *memFile) Write(p []byte) (int, error) {
	if need := int(m.off) + len(p); need > len(m.b) {
		m.b = append(m.b, make([]byte, need-len(m.b))...)
	}
	copy(m.b[m.off:], p)
	m.off += int64(len(p))
	return len(p), nil
}

func (m *memFile) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += m.off
	case io.SeekEnd:
		off += int64(len(m.b))
	}
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	m.off = off
	return off, nil
}

// endpoint opens a media/rtp endpoint on its own loopback port range, so
// parallel tests never share ports.
func endpoint(t testing.TB, ctx context.Context, minPort int, cfg mrtp.Config) *mrtp.Endpoint {
	t.Helper()
	ports, err := mrtp.NewPorts(loopback, minPort, minPort+9)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Log = zap.NewNop()
	cfg.AcceptPT = []uint8{cfg.PayloadType, eventPT}
	e, err := mrtp.Open(ctx, ports, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

// call opens the server (recorder) side and a phone sending to it, or to
// via if that is valid (a lossy relay).
func call(t testing.TB, ctx context.Context, minPort int, c codec.Codec, via netip.AddrPort) (phone, server *mrtp.Endpoint) {
	server = endpoint(t, ctx, minPort, mrtp.Config{PayloadType: c.PayloadType()})
	to := server.LocalAddr()
	if via.IsValid() {
		to = via
	}
	phone = endpoint(t, ctx, minPort+10, mrtp.Config{PayloadType: c.PayloadType(), Remote: to})
	server.SetRemote(phone.LocalAddr(), netip.AddrPort{})
	return phone, server
}

func sine(n int, hz, amp float64) []int16 {
	s := make([]int16, n)
	for i := range s {
		s[i] = int16(amp * math.Sin(2*math.Pi*hz*float64(i)/codec.ClockRate))
	}
	return s
}

func noise(n, amp int) []int16 {
	r := rand.New(rand.NewPCG(1, 2))
	s := make([]int16, n)
	for i := range s {
		s[i] = int16(r.IntN(2*amp+1) - amp)
	}
	return s
}

// sendKey sends one RFC 4733 press the way phones do: a marked start
// packet one frame after the last audio, refreshes every 20 ms, three end
// packets, all with the start timestamp.
func sendKey(t testing.TB, e *mrtp.Endpoint, key rune) {
	t.Helper()
	code, _ := dtmf.CodeOf(key)
	send := func(delta uint32, marker bool, ev dtmf.Event) {
		b, err := ev.Marshal()
		if err != nil {
			t.Error(err)
			return
		}
		if err := e.SendPT(eventPT, b, delta, marker); err != nil {
			t.Error(err)
		}
	}
	send(frameSamples, true, dtmf.Event{Code: code, Volume: 10, Duration: 160})
	for d := uint16(320); d <= 640; d += 160 {
		time.Sleep(20 * time.Millisecond)
		send(0, false, dtmf.Event{Code: code, Volume: 10, Duration: d})
	}
	for range 3 {
		send(0, false, dtmf.Event{Code: code, End: true, Volume: 10, Duration: 800})
	}
}

type recorded struct {
	res  Result
	err  error
	info wav.Info
	pcm  []int16
	took time.Duration
}

// record runs Record on server in the background.
func record(t testing.TB, ctx context.Context, server *mrtp.Endpoint, opts RecordOptions) <-chan recorded {
	t.Helper()
	out := make(chan recorded, 1)
	go func() {
		f := &memFile{}
		start := time.Now()
		res, err := Record(ctx, server, f, opts)
		r := recorded{res: res, err: err, took: time.Since(start)}
		if err == nil {
			r.info, r.pcm, r.err = wav.Read(bytes.NewReader(f.b))
		}
		out <- r
	}()
	return out
}

func wait(t testing.TB, ch <-chan recorded) recorded {
	t.Helper()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatal(r.err)
		}
		if r.info.Unfinished {
			t.Fatal("WAV left unfinished")
		}
		if r.info.Samples != r.res.Samples || len(r.pcm) != r.res.Samples {
			t.Fatalf("file holds %d samples (%d decoded), Result says %d", r.info.Samples, len(r.pcm), r.res.Samples)
		}
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("Record did not end")
	}
	return recorded{}
}

// snr compares got with want sample by sample, in dB.
func snr(want, got []int16) float64 {
	var sig, errp float64
	for i := range min(len(want), len(got)) {
		d := float64(want[i]) - float64(got[i])
		sig += float64(want[i]) * float64(want[i])
		errp += d * d
	}
	if errp == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(sig/errp)
}

// quantised is what a G.711 leg delivers of pcm.
func quantised(c codec.Codec, pcm []int16) []int16 {
	return c.Decode(c.Encode(pcm, nil), nil)
}

func TestRecordStopKey(t *testing.T) {
	for i, tc := range []struct {
		name   string
		codec  codec.Codec
		format wav.Format
		want   wav.Format
	}{
		{"PCMU", codec.PCMU, 0, wav.ULaw},
		{"PCMA", codec.PCMA, 0, wav.ALaw},
		{"PCMU-as-PCM16", codec.PCMU, wav.PCM, wav.PCM},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			phone, server := call(t, ctx, 41000+100*i, tc.codec, netip.AddrPort{})
			done := record(t, ctx, server, RecordOptions{
				Codec: tc.codec, PayloadType: tc.codec.PayloadType(), EventPT: eventPT, Format: tc.format,
				SilenceTimeout: 2 * time.Second,
			})
			sig := sine(3*codec.ClockRate, 440, 8000)
			if err := PlayCodes(ctx, phone, tc.codec.Encode(sig, nil), tc.codec); err != nil {
				t.Fatal(err)
			}
			sendKey(t, phone, '#')
			r := wait(t, done)
			if r.res.Reason != ReasonKey || r.res.Empty || r.info.Format != tc.want {
				t.Fatalf("result %+v, format %v", r.res, r.info.Format)
			}
			// The key starts exactly where the audio ends, so nothing of the
			// key time is kept and not a sample of the message is lost.
			if r.res.Samples != len(sig) || r.res.Missing != 0 || r.res.Packets != 150 {
				t.Errorf("kept %d samples of %d, %d packets, %d missing", r.res.Samples, len(sig), r.res.Packets, r.res.Missing)
			}
			if got := snr(quantised(tc.codec, sig), r.pcm); got < 60 {
				t.Errorf("SNR against the G.711 signal %.1f dB", got)
			}
			if got := snr(sig, r.pcm); got < 30 {
				t.Errorf("SNR against the sine %.1f dB", got)
			}
		})
	}
}

func TestRecordSilence(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c := codec.PCMU
	phone, server := call(t, ctx, 41400, c, netip.AddrPort{})
	done := record(t, ctx, server, RecordOptions{PayloadType: 0, EventPT: eventPT, SilenceTimeout: time.Second})
	speech := sine(12000, 440, 8000)
	// Line noise under the threshold (mean |x| about 30), for 3 s.
	sig := append(append([]int16{}, speech...), noise(3*codec.ClockRate, 60)...)
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { _ = PlayCodes(sctx, phone, c.Encode(sig, nil), c) }()
	r := wait(t, done)
	stop()
	if r.res.Reason != ReasonSilence {
		t.Fatalf("reason %v", r.res.Reason)
	}
	// 1.5 s of speech, then 1 s of noise trimmed off again.
	if d := r.res.Samples - len(speech); d < -frameSamples || d > frameSamples {
		t.Errorf("kept %d samples, want %d", r.res.Samples, len(speech))
	}
	if r.res.Trimmed < 7*codec.ClockRate/8 {
		t.Errorf("trimmed %d samples", r.res.Trimmed)
	}
	if r.took > 3*time.Second {
		t.Errorf("took %v: silence did not end the message", r.took)
	}
	if got := snr(quantised(c, speech), r.pcm); got < 60 {
		t.Errorf("SNR %.1f dB", got)
	}
}

// A phone that stops sending (voice activity detection) is silence too.
func TestRecordNoPackets(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c := codec.PCMA
	phone, server := call(t, ctx, 41500, c, netip.AddrPort{})
	done := record(t, ctx, server, RecordOptions{Codec: c, PayloadType: 8, EventPT: eventPT, SilenceTimeout: 500 * time.Millisecond})
	if err := PlayCodes(ctx, phone, c.Encode(sine(4000, 300, 5000), nil), c); err != nil {
		t.Fatal(err)
	}
	r := wait(t, done)
	if r.res.Reason != ReasonSilence || r.res.Samples != 4000 || !r.res.Empty {
		t.Fatalf("result %+v", r.res)
	}
}

func TestRecordMaxLength(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c := codec.PCMU
	phone, server := call(t, ctx, 41600, c, netip.AddrPort{})
	done := record(t, ctx, server, RecordOptions{PayloadType: 0, EventPT: eventPT, MaxLength: time.Second})
	sig := sine(3*codec.ClockRate, 440, 8000)
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { _ = PlayCodes(sctx, phone, c.Encode(sig, nil), c) }()
	r := wait(t, done)
	stop()
	if r.res.Reason != ReasonMaxLength || r.res.Samples != codec.ClockRate || r.res.Empty {
		t.Fatalf("result %+v", r.res)
	}
	if r.took > 2*time.Second {
		t.Errorf("took %v", r.took)
	}
	if got := snr(quantised(c, sig), r.pcm); got < 60 {
		t.Errorf("SNR %.1f dB", got)
	}
}

// relay forwards UDP datagrams to dst, dropping the audio packets (of pt)
// whose index is in drop: loss in the network, with sequence gaps.
func relay(t testing.TB, ctx context.Context, dst netip.AddrPort, pt uint8, drop map[int]bool) netip.AddrPort {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	t.Cleanup(func() { stop(); _ = conn.Close() })
	go func() {
		buf := make([]byte, 1500)
		audio := 0
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			if n > 12 && buf[1]&0x7f == pt {
				audio++
				if drop[audio-1] {
					continue
				}
			}
			_, _ = conn.WriteToUDPAddrPort(buf[:n], dst)
		}
	}()
	return conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

func TestRecordPacketLoss(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c := codec.PCMU
	server := endpoint(t, ctx, 41700, mrtp.Config{PayloadType: 0})
	drop := map[int]bool{10: true, 11: true, 40: true, 73: true}
	via := relay(t, ctx, server.LocalAddr(), 0, drop)
	phone := endpoint(t, ctx, 41710, mrtp.Config{PayloadType: 0, Remote: via})
	done := record(t, ctx, server, RecordOptions{PayloadType: 0, EventPT: eventPT, SilenceTimeout: 2 * time.Second})
	sig := sine(2*codec.ClockRate, 440, 8000)
	if err := PlayCodes(ctx, phone, c.Encode(sig, nil), c); err != nil {
		t.Fatal(err)
	}
	sendKey(t, phone, '#')
	r := wait(t, done)
	if r.res.Reason != ReasonKey || r.res.Missing != len(drop) || r.res.Packets != 100-len(drop) {
		t.Fatalf("result %+v", r.res)
	}
	if r.res.Samples != len(sig) {
		t.Fatalf("kept %d samples, want %d: gaps not filled in time", r.res.Samples, len(sig))
	}
	want := quantised(c, sig)
	silence := c.Decode([]byte{c.Silence()}, nil)[0]
	for i := range 100 {
		got := r.pcm[i*frameSamples : (i+1)*frameSamples]
		for j, x := range got {
			exp := want[i*frameSamples+j]
			if drop[i] {
				exp = silence
			}
			if x != exp {
				t.Fatalf("frame %d (dropped %v) sample %d: %d, want %d", i, drop[i], j, x, exp)
			}
		}
	}
}

func TestPlay(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c := codec.PCMA
	phone, server := call(t, ctx, 41800, c, netip.AddrPort{})
	// 1 s and a half frame of PCM16: the last frame is padded.
	pcm := sine(codec.ClockRate+80, 523, 6000)
	for i, x := range noise(len(pcm), 300) {
		pcm[i] += x
	}
	var file bytes.Buffer
	if err := wav.Write(&file, wav.PCM, pcm); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := Play(ctx, server, &file, c); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 980*time.Millisecond || took > 1500*time.Millisecond {
		t.Errorf("51 frames took %v: not paced in real time", took)
	}
	var codes []byte
	type slot struct {
		seq uint16
		ts  uint32
	}
	var prev *slot
	for i := range 51 {
		select {
		case p := <-phone.Packets():
			if p.PayloadType != 8 || len(p.Payload) != frameSamples || p.Marker != (i == 0) {
				t.Fatalf("packet %d: pt %d, %d bytes, marker %v", i, p.PayloadType, len(p.Payload), p.Marker)
			}
			if prev != nil && (p.SequenceNumber != prev.seq+1 || p.Timestamp != prev.ts+frameSamples) {
				t.Fatalf("packet %d: seq %d ts %d after %d %d", i, p.SequenceNumber, p.Timestamp, prev.seq, prev.ts)
			}
			prev = &slot{p.SequenceNumber, p.Timestamp}
			codes = append(codes, p.Payload...)
		case <-time.After(2 * time.Second):
			t.Fatalf("received %d packets of 51", i)
		}
	}
	want := c.Encode(pcm, nil)
	if !bytes.Equal(codes[:len(want)], want) {
		t.Error("payloads differ from the WAV's samples encoded")
	}
	for _, b := range codes[len(want):] {
		if b != c.Silence() {
			t.Fatal("last frame not padded with silence")
		}
	}
	if got := snr(pcm, c.Decode(codes, nil)); got < 30 {
		t.Errorf("SNR %.1f dB", got)
	}
}

// A stored G.711 message goes out byte for byte, and ctx stops it early.
func TestPlayStops(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c := codec.PCMU
	phone, server := call(t, ctx, 41900, c, netip.AddrPort{})
	data := c.Encode(sine(5*codec.ClockRate, 700, 9000), nil)
	var file bytes.Buffer
	if err := wav.WriteData(&file, wav.ULaw, data); err != nil {
		t.Fatal(err)
	}
	pctx, stop := context.WithTimeout(ctx, 200*time.Millisecond)
	defer stop()
	start := time.Now()
	err := Play(pctx, server, &file, c)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Play returned %v", err)
	}
	if took := time.Since(start); took > 300*time.Millisecond {
		t.Errorf("stopped after %v", took)
	}
	var got []byte
	for len(got) < 9*frameSamples {
		select {
		case p := <-phone.Packets():
			got = append(got, p.Payload...)
		case <-time.After(time.Second):
			t.Fatalf("received %d bytes", len(got))
		}
	}
	if !bytes.Equal(got, data[:len(got)]) {
		t.Error("G.711 file not sent as stored")
	}
	time.Sleep(100 * time.Millisecond)
	if n := len(got)/frameSamples + len(phone.Packets()); n > 12 {
		t.Errorf("%d frames arrived for 200 ms of play", n)
	}
}

func TestRecordOptions(t *testing.T) {
	for _, o := range []RecordOptions{
		{Codec: codec.PCMA, PayloadType: 0},
		{Codec: codec.PCMU, PayloadType: 8},
		{Codec: 3},
		{PayloadType: 0, EventPT: 0x80},
		{PayloadType: 0, Format: 2},
	} {
		if _, err := Record(context.Background(), nil, &memFile{}, o); !errors.Is(err, ErrBadOptions) {
			t.Errorf("%+v: %v", o, err)
		}
	}
}
