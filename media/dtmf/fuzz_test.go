package dtmf

import (
	"encoding/binary"
	"fmt"
	"slices"
	"testing"
	"time"
)

// FuzzEvent checks the payload codec and the detector on arbitrary input.
// The first 4 bytes are a payload that must survive Unmarshal/Marshal; the
// rest is read as a packet stream, 7 bytes a packet (timestamp step as a
// signed 16-bit value, flags with the marker in bit 0, a 4-byte payload),
// whose presses must not change when every packet is delivered twice.
func FuzzEvent(f *testing.F) {
	f.Add([]byte{0x05, 0x0A, 0x00, 0xA0})
	f.Add([]byte{0x0B, 0xFF, 0xFF, 0xFF})
	f.Add([]byte{0x01})
	stream := []byte{0x05, 0x8A, 0x03, 0x20}
	for _, p := range []struct {
		step   int16
		marker byte
		ev     [4]byte
	}{
		{0, 1, [4]byte{1, 10, 0, 0}}, {0, 1, [4]byte{1, 10, 0, 0}},
		{0, 0, [4]byte{1, 10, 1, 0x90}}, {0, 0, [4]byte{1, 0x8A, 3, 0x20}},
		{0, 0, [4]byte{1, 0x8A, 3, 0x20}}, {3000, 1, [4]byte{2, 10, 0, 0}},
		{-3000, 0, [4]byte{1, 0x8A, 3, 0x20}}, {-1, 0, [4]byte{2, 0x8A, 3, 0x20}},
	} {
		stream = binary.BigEndian.AppendUint16(stream, uint16(p.step))
		stream = append(stream, p.marker)
		stream = append(stream, p.ev[:]...)
	}
	f.Add(stream)
	f.Fuzz(func(t *testing.T, data []byte) {
		var e Event
		if err := e.Unmarshal(data); err != nil {
			if len(data) >= EventSize {
				t.Fatalf("Unmarshal(%x): %v", data, err)
			}
			return
		}
		b, err := e.Marshal()
		if err != nil {
			t.Fatalf("Marshal(%+v) after Unmarshal(%x): %v", e, data, err)
		}
		want := slices.Clone(data[:EventSize])
		want[1] &^= 0x40 // the reserved bit is dropped
		if !slices.Equal(b, want) {
			t.Fatalf("Unmarshal(%x) then Marshal = %x", data[:EventSize], b)
		}
		if r := Digit(e.Code); (r != 0) != (e.Code < 16) {
			t.Fatalf("Digit(%d) = %q", e.Code, r)
		} else if r != 0 {
			if c, ok := CodeOf(r); !ok || c != e.Code {
				t.Fatalf("CodeOf(Digit(%d)) = %d, %v", e.Code, c, ok)
			}
		}

		var pkts []pkt
		ts := uint32(1 << 31)
		for rest := data[EventSize:]; len(rest) >= 7; rest = rest[7:] {
			ts += uint32(int32(int16(binary.BigEndian.Uint16(rest))))
			var ev Event
			_ = ev.Unmarshal(rest[3:7])
			pkts = append(pkts, pkt{ts, rest[2]&1 != 0, ev})
		}
		var d, d2 Detector
		got := d.Flush(run(&d, pkts))
		var doubled []pkt
		for _, p := range pkts {
			doubled = append(doubled, p, p)
		}
		got2 := d2.Flush(run(&d2, doubled))
		if !slices.Equal(got, got2) {
			t.Fatalf("duplicated packets changed the presses:\n%+v\n%+v", got, got2)
		}
		if len(got) > len(pkts) {
			t.Fatalf("%d presses from %d packets", len(got), len(pkts))
		}
		for _, p := range got {
			if p.Digit != Digit(p.Code) {
				t.Fatalf("press %+v: digit does not match code", p)
			}
		}
		if again := d.Flush(nil); len(again) != 0 {
			t.Fatalf("second Flush: %+v", again)
		}
	})
}

// FuzzINFO checks that ParseINFO never panics, that what it accepts is a
// real key, and that the key and duration survive being re-sent in the
// canonical dtmf-relay form.
func FuzzINFO(f *testing.F) {
	f.Add("application/dtmf-relay", []byte("Signal=5\r\nDuration=160\r\n"))
	f.Add("application/dtmf-relay; x=y", []byte("signal = # \nduration=0"))
	f.Add("application/dtmf-relay", []byte("Signal=10\r\nSignal=11\r\n"))
	f.Add("application/dtmf", []byte("5"))
	f.Add("application/dtmf", []byte("Signal=A\r\nDuration=60000"))
	f.Add("application/DTMF", []byte(" 15\r\n"))
	f.Add("text/plain", []byte(""))
	f.Fuzz(func(t *testing.T, ctype string, body []byte) {
		s, err := ParseINFO(ctype, body)
		if err != nil {
			return
		}
		if s.Code > 15 || s.Digit == 0 || s.Digit != Digit(s.Code) {
			t.Fatalf("ParseINFO(%q, %q) = %+v: not a DTMF key", ctype, body, s)
		}
		if s.Duration < 0 || s.Duration > time.Minute || s.Duration%time.Millisecond != 0 {
			t.Fatalf("ParseINFO(%q, %q): duration %v", ctype, body, s.Duration)
		}
		canon := fmt.Sprintf("Signal=%c\r\nDuration=%d\r\n", s.Digit, s.Duration.Milliseconds())
		again, err := ParseINFO(ContentTypeRelay, []byte(canon))
		if err != nil || again != s {
			t.Fatalf("%+v re-sent as %q parses to %+v, %v", s, canon, again, err)
		}
	})
}
