package dtmf

import (
	"bytes"
	"errors"
	"testing"
)

func TestEventWire(t *testing.T) {
	for _, c := range []struct {
		name string
		wire []byte
		ev   Event
	}{
		// RFC 4733 section 2.3 layout; the values are those of a typical
		// phone: '5' at -10 dBm0, 160 and then 800 timestamp units in.
		{"start", []byte{0x05, 0x0A, 0x00, 0xA0}, Event{Code: 5, Volume: 10, Duration: 160}},
		{"end", []byte{0x05, 0x8A, 0x03, 0x20}, Event{Code: 5, End: true, Volume: 10, Duration: 800}},
		{"star", []byte{0x0A, 0x00, 0x00, 0x00}, Event{Code: 10}},
		{"hash max", []byte{0x0B, 0xBF, 0xFF, 0xFF}, Event{Code: 11, End: true, Volume: 63, Duration: 0xFFFF}},
		{"flash", []byte{0x10, 0x80, 0x01, 0x00}, Event{Code: 16, End: true, Duration: 256}},
	} {
		var got Event
		if err := got.Unmarshal(c.wire); err != nil || got != c.ev {
			t.Errorf("%s: Unmarshal(%x) = %+v, %v; want %+v", c.name, c.wire, got, err, c.ev)
		}
		b, err := c.ev.Marshal()
		if err != nil || !bytes.Equal(b, c.wire) {
			t.Errorf("%s: Marshal(%+v) = %x, %v; want %x", c.name, c.ev, b, err, c.wire)
		}
	}
}

func TestEventUnmarshalLenient(t *testing.T) {
	var e Event
	// The reserved bit (0x40) is ignored on receipt.
	if err := e.Unmarshal([]byte{0x01, 0xC5, 0x00, 0x50}); err != nil || e != (Event{Code: 1, End: true, Volume: 5, Duration: 80}) {
		t.Errorf("reserved bit: %+v, %v", e, err)
	}
	// Trailing bytes are ignored.
	if err := e.Unmarshal([]byte{0x02, 0x00, 0x00, 0x10, 0xEE, 0xEE}); err != nil || e.Code != 2 || e.Duration != 16 {
		t.Errorf("trailing bytes: %+v, %v", e, err)
	}
	for n := 0; n < 4; n++ {
		if err := e.Unmarshal(make([]byte, n)); !errors.Is(err, ErrShortPayload) {
			t.Errorf("%d bytes: err = %v, want ErrShortPayload", n, err)
		}
	}
}

func TestEventMarshalVolume(t *testing.T) {
	if _, err := (Event{Volume: 64}).Marshal(); err == nil {
		t.Error("volume 64 marshalled")
	}
	b, err := (Event{Code: 9}).AppendBinary([]byte("rtp-header"))
	if err != nil || string(b[:10]) != "rtp-header" || len(b) != 14 || b[10] != 9 {
		t.Errorf("AppendBinary = %x, %v", b, err)
	}
}

func TestDigits(t *testing.T) {
	// RFC 4733 Table 7: event codes 0-15.
	want := []rune{'0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '#', 'A', 'B', 'C', 'D'}
	for code, r := range want {
		if got := Digit(byte(code)); got != r {
			t.Errorf("Digit(%d) = %q, want %q", code, got, r)
		}
		if got, ok := CodeOf(r); !ok || got != byte(code) {
			t.Errorf("CodeOf(%q) = %d, %v; want %d", r, got, ok, code)
		}
	}
	for _, r := range []rune{'a', 'b', 'c', 'd'} {
		if got, ok := CodeOf(r); !ok || got != byte(r-'a'+12) {
			t.Errorf("CodeOf(%q) = %d, %v", r, got, ok)
		}
	}
	for _, code := range []byte{16, 32, 255} {
		if r := Digit(code); r != 0 {
			t.Errorf("Digit(%d) = %q, want 0", code, r)
		}
	}
	for _, r := range []rune{'E', 'e', '+', ' ', 0, '٣'} {
		if c, ok := CodeOf(r); ok {
			t.Errorf("CodeOf(%q) = %d, want not a key", r, c)
		}
	}
}
