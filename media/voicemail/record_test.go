package voicemail

import (
	"bytes"
	"context"
	"testing"

	"github.com/pion/rtp"

	"github.com/sentralpbx/sentral/media/codec"
	"github.com/sentralpbx/sentral/media/dtmf"
	"github.com/sentralpbx/sentral/media/wav"
)

type chanSource chan *rtp.Packet

func (c chanSource) Packets() <-chan *rtp.Packet { return c }

// Without a network, a stream with reordering, a DTX gap, a new SSRC and
// audio sent while the stop key is held, checked to the sample.
func TestRecordStream(t *testing.T) {
	c := codec.PCMU
	sig := c.Encode(sine(100*frameSamples, 440, 8000), nil)
	var pkts []*rtp.Packet
	seq, ts, ssrc := uint16(65530), uint32(1000), uint32(1)
	add := func(pt uint8, marker bool, payload []byte, tsDelta uint32) {
		ts += tsDelta
		pkts = append(pkts, &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, Marker: marker,
			SequenceNumber: seq, Timestamp: ts, SSRC: ssrc}, Payload: payload})
		seq++
	}
	frame := func(i int) []byte { return sig[i*frameSamples : (i+1)*frameSamples] }
	add(0, true, frame(0), 0)
	for i := 1; i < 50; i++ {
		add(0, false, frame(i), frameSamples)
	}
	pkts[5], pkts[6] = pkts[6], pkts[5] // reordered: no loss
	// DTX: the phone sent nothing for 8 frames.
	add(0, true, frame(50), 9*frameSamples)
	for i := 51; i < 75; i++ {
		add(0, false, frame(i), frameSamples)
	}
	// A new sender after a re-INVITE: unrelated clock, no gap.
	ssrc, ts, seq = 2, 777777, 4000
	add(0, true, frame(75), 0)
	for i := 76; i < 85; i++ {
		add(0, false, frame(i), frameSamples)
	}
	// '#' starts one frame later; the phone goes on sending audio, which
	// must not be kept (two sources of timestamps: build them by hand).
	keyTS := ts + frameSamples
	ev := func(d uint16, end bool) []byte {
		b, _ := dtmf.Event{Code: 11, End: end, Duration: d}.Marshal()
		return b
	}
	add(eventPT, true, ev(160, false), frameSamples)
	for i := 85; i < 100; i++ { // 300 ms: longer than holdback
		add(0, false, frame(i), frameSamples)
		audioTS := ts
		ts = keyTS
		add(eventPT, false, ev(uint16(160*(i-83)), false), 0)
		ts = audioTS
	}
	ts = keyTS
	add(eventPT, false, ev(2560, true), 0)

	src := make(chanSource, len(pkts))
	for _, p := range pkts {
		src <- p
	}
	f := &memFile{}
	res, err := Record(context.Background(), src, f, RecordOptions{PayloadType: 0, EventPT: eventPT})
	if err != nil {
		t.Fatal(err)
	}
	want := 85*frameSamples + 8*frameSamples
	if res.Reason != ReasonKey || res.Samples != want || res.Missing != 0 || res.Packets != 100 {
		t.Fatalf("result %+v, want %d samples", res, want)
	}
	info, data, err := wav.ReadData(bytes.NewReader(f.b))
	if err != nil || info.Format != wav.ULaw {
		t.Fatal(info, err)
	}
	exp := append(append(append([]byte{}, sig[:50*frameSamples]...),
		bytes.Repeat([]byte{c.Silence()}, 8*frameSamples)...), sig[50*frameSamples:85*frameSamples]...)
	if !bytes.Equal(data, exp) {
		t.Fatal("stored codes differ from those sent")
	}
}
