package dtmf

import (
	"slices"
	"testing"
)

// pkt is one telephone-event RTP packet as the detector sees it.
type pkt struct {
	ts     uint32
	marker bool
	ev     Event
}

// press builds the packets a conforming RFC 4733 sender emits for one key
// press: the start three times with the marker bit, a refresh every 50 ms
// (400 units at 8 kHz), and the end three times.
func press(code byte, ts uint32, dur uint16) []pkt {
	p := []pkt{}
	for range 3 {
		p = append(p, pkt{ts, true, Event{Code: code, Volume: 10}})
	}
	for d := 400; d < int(dur); d += 400 {
		p = append(p, pkt{ts, false, Event{Code: code, Volume: 10, Duration: uint16(d)}})
	}
	for range 3 {
		p = append(p, pkt{ts, false, Event{Code: code, End: true, Volume: 10, Duration: dur}})
	}
	return p
}

func cat(ps ...[]pkt) []pkt { return slices.Concat(ps...) }

func run(d *Detector, pkts []pkt) []Press {
	var out []Press
	for _, p := range pkts {
		out = d.Push(out, p.ts, p.marker, p.ev)
	}
	return out
}

func TestDetector(t *testing.T) {
	withoutEnd := func(p []pkt) []pkt { return p[:len(p)-3] }
	onlyEnd := func(p []pkt) []pkt { return p[len(p)-3:] }
	withoutStart := func(p []pkt) []pkt { return p[3:] }

	for _, c := range []struct {
		name  string
		pkts  []pkt
		want  []Press
		flush []Press // reported by Flush afterwards
	}{
		{
			name: "one press",
			pkts: press(5, 1000, 1200),
			want: []Press{{Code: 5, Digit: '5', Start: 1000, Duration: 1200, Ended: true}},
		},
		{
			name: "two digits",
			pkts: cat(press(1, 1000, 800), press(2, 4000, 960)),
			want: []Press{
				{Code: 1, Digit: '1', Start: 1000, Duration: 800, Ended: true},
				{Code: 2, Digit: '2', Start: 4000, Duration: 960, Ended: true},
			},
		},
		{
			name: "same digit twice",
			pkts: cat(press(5, 1000, 800), press(5, 4000, 800)),
			want: []Press{
				{Code: 5, Digit: '5', Start: 1000, Duration: 800, Ended: true},
				{Code: 5, Digit: '5', Start: 4000, Duration: 800, Ended: true},
			},
		},
		{
			name: "redundant ends repeated and reordered",
			pkts: cat(press(7, 1000, 800), onlyEnd(press(7, 1000, 800)), press(7, 1000, 800)),
			want: []Press{{Code: 7, Digit: '7', Start: 1000, Duration: 800, Ended: true}},
		},
		{
			name: "end lost, next press reports it",
			pkts: cat(withoutEnd(press(1, 1000, 1200)), press(2, 4000, 800)),
			want: []Press{
				{Code: 1, Digit: '1', Start: 1000, Duration: 800, Ended: false},
				{Code: 2, Digit: '2', Start: 4000, Duration: 800, Ended: true},
			},
		},
		{
			name:  "end lost, flush reports it",
			pkts:  withoutEnd(press(3, 1000, 1200)),
			flush: []Press{{Code: 3, Digit: '3', Start: 1000, Duration: 800}},
		},
		{
			name: "start lost",
			pkts: withoutStart(press(4, 1000, 800)),
			want: []Press{{Code: 4, Digit: '4', Start: 1000, Duration: 800, Ended: true}},
		},
		{
			name: "only end packets",
			pkts: onlyEnd(press(9, 1000, 640)),
			want: []Press{{Code: 9, Digit: '9', Start: 1000, Duration: 640, Ended: true}},
		},
		{
			name: "end lost then next press arrives already ended",
			pkts: cat(withoutEnd(press(1, 1000, 1200)), onlyEnd(press(2, 4000, 800))),
			want: []Press{
				{Code: 1, Digit: '1', Start: 1000, Duration: 800},
				{Code: 2, Digit: '2', Start: 4000, Duration: 800, Ended: true},
			},
		},
		{
			name: "late echo of the previous press",
			pkts: cat(press(1, 1000, 800), press(2, 4000, 400)[:4], onlyEnd(press(1, 1000, 800)), press(2, 4000, 400)[4:]),
			want: []Press{
				{Code: 1, Digit: '1', Start: 1000, Duration: 800, Ended: true},
				{Code: 2, Digit: '2', Start: 4000, Duration: 400, Ended: true},
			},
		},
		{
			name: "timestamps wrap",
			pkts: cat(press(6, 0xFFFFFE00, 800), press(8, 0x00000A00, 800)),
			want: []Press{
				{Code: 6, Digit: '6', Start: 0xFFFFFE00, Duration: 800, Ended: true},
				{Code: 8, Digit: '8', Start: 0x00000A00, Duration: 800, Ended: true},
			},
		},
		{
			name: "sender clock restarts far back",
			pkts: cat(press(1, 900000, 800), press(2, 1000, 800)),
			want: []Press{
				{Code: 1, Digit: '1', Start: 900000, Duration: 800, Ended: true},
				{Code: 2, Digit: '2', Start: 1000, Duration: 800, Ended: true},
			},
		},
		{
			name: "broken sender reuses a timestamp",
			pkts: cat(press(1, 1000, 800), press(2, 1000, 800), onlyEnd(press(1, 1000, 800)), onlyEnd(press(2, 1000, 800))),
			want: []Press{
				{Code: 1, Digit: '1', Start: 1000, Duration: 800, Ended: true},
				{Code: 2, Digit: '2', Start: 1000, Duration: 800, Ended: true},
			},
		},
		{
			name: "long event in two segments (RFC 4733 2.5.1.3)",
			pkts: cat(
				withoutEnd(press(0, 1000, 0xFFFF)),
				[]pkt{{1000, false, Event{Code: 0, Duration: 0xFFFF}}},
				[]pkt{{1000 + 0xFFFF, false, Event{Code: 0, Duration: 400}}},
				onlyEnd(press(0, 1000+0xFFFF, 800)),
			),
			want: []Press{{Code: 0, Digit: '0', Start: 1000, Duration: 0xFFFF + 800, Ended: true}},
		},
		{
			name: "long event, sender cuts segments at its own length",
			pkts: cat(
				withoutEnd(press(0, 1000, 8000)),
				[]pkt{{1000, false, Event{Code: 0, Duration: 8000}}},
				onlyEnd(press(0, 9000, 800)),
			),
			want: []Press{{Code: 0, Digit: '0', Start: 1000, Duration: 8800, Ended: true}},
		},
		{
			name: "marker on a new segment means a new press",
			pkts: cat(
				withoutEnd(press(0, 1000, 8000)),
				[]pkt{{1000, false, Event{Code: 0, Duration: 8000}}},
				press(0, 9000, 800),
			),
			want: []Press{
				{Code: 0, Digit: '0', Start: 1000, Duration: 8000},
				{Code: 0, Digit: '0', Start: 9000, Duration: 800, Ended: true},
			},
		},
		{
			name: "non-DTMF event is passed on",
			pkts: press(16, 1000, 800),
			want: []Press{{Code: 16, Digit: 0, Start: 1000, Duration: 800, Ended: true}},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			var d Detector
			got := run(&d, c.pkts)
			if !slices.Equal(got, c.want) {
				t.Errorf("presses:\n got %+v\nwant %+v", got, c.want)
			}
			if got := d.Flush(nil); !slices.Equal(got, c.flush) {
				t.Errorf("flush:\n got %+v\nwant %+v", got, c.flush)
			}
			if again := d.Flush(nil); len(again) != 0 {
				t.Errorf("second flush reported %+v", again)
			}
			// Pushing every packet twice must change nothing: that is the
			// redundancy the detector exists to absorb.
			var d2 Detector
			var doubled []pkt
			for _, p := range c.pkts {
				doubled = append(doubled, p, p)
			}
			if got2 := run(&d2, doubled); !slices.Equal(got2, c.want) {
				t.Errorf("doubled packets:\n got %+v\nwant %+v", got2, c.want)
			}
		})
	}
}

func TestDetectorTimeout(t *testing.T) {
	d := Detector{Timeout: 1600} // 200 ms
	out := run(&d, press(5, 1000, 1200)[:4])
	if len(out) != 0 {
		t.Fatalf("reported before the end: %+v", out)
	}
	// The event is known up to 1000+400; the timeout runs from there.
	if out = d.Advance(out, 1000+400+1600); len(out) != 0 {
		t.Fatalf("reported at exactly the timeout: %+v", out)
	}
	out = d.Advance(out, 1000+400+1601)
	want := []Press{{Code: 5, Digit: '5', Start: 1000, Duration: 400}}
	if !slices.Equal(out, want) {
		t.Fatalf("after timeout: %+v, want %+v", out, want)
	}
	// The end arriving late is an echo now, and so is a later Advance.
	out = run(&d, press(5, 1000, 1200)[4:])
	out = d.Advance(out, 100000)
	out = d.Flush(out)
	if len(out) != 0 {
		t.Fatalf("reported twice: %+v", out)
	}
	// A reset forgets the event, so the same timestamp is a new press.
	d.Reset()
	if d.Timeout != 1600 {
		t.Errorf("Reset cleared Timeout")
	}
	if out = run(&d, press(5, 1000, 1200)); len(out) != 1 {
		t.Errorf("after Reset: %+v", out)
	}
}

func TestDetectorDefaultTimeout(t *testing.T) {
	var d Detector
	run(&d, press(2, 0, 800)[:3])
	if out := d.Advance(nil, DefaultTimeout); len(out) != 0 {
		t.Fatalf("reported within the default timeout: %+v", out)
	}
	if out := d.Advance(nil, DefaultTimeout+1); len(out) != 1 || out[0].Ended {
		t.Fatalf("default timeout: %+v", out)
	}
	// Advance with nothing in hand is harmless.
	var idle Detector
	if out := idle.Advance(nil, 12345); len(out) != 0 {
		t.Fatalf("idle Advance: %+v", out)
	}
}

func TestDetectorNoAlloc(t *testing.T) {
	var d Detector
	pkts := press(5, 1000, 1200)
	buf := make([]Press, 0, 4)
	ts := uint32(0)
	allocs := testing.AllocsPerRun(100, func() {
		ts += 8000
		for _, p := range pkts {
			buf = d.Push(buf[:0], ts, p.marker, p.ev)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per press", allocs)
	}
}
