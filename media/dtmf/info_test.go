package dtmf

import (
	"errors"
	"testing"
	"time"
)

func TestParseINFO(t *testing.T) {
	ms := time.Millisecond
	for _, c := range []struct {
		ctype string
		body  string
		want  Signal
	}{
		// Cisco's format, as sent by Cisco, Polycom, Yealink and Snom phones.
		{"application/dtmf-relay", "Signal=5\r\nDuration=160\r\n", Signal{5, '5', 160 * ms}},
		{"application/dtmf-relay", "Signal=5\r\nDuration=160", Signal{5, '5', 160 * ms}},
		{"application/dtmf-relay", "Signal=*\nDuration=250\n", Signal{10, '*', 250 * ms}},
		{"application/dtmf-relay", "Signal=#\r\n", Signal{11, '#', 0}},
		{"application/dtmf-relay", "signal = a\r\nduration = 100\r\n", Signal{12, 'A', 100 * ms}},
		{"application/dtmf-relay", "Duration=100\r\nSignal=D\r\n", Signal{15, 'D', 100 * ms}},
		{"application/dtmf-relay", "Signal=10\r\nDuration=100\r\n", Signal{10, '*', 100 * ms}},
		{"application/dtmf-relay", "Signal=11", Signal{11, '#', 0}},
		{"application/dtmf-relay", "Signal=1\rDuration=90\r", Signal{1, '1', 90 * ms}},
		{"application/dtmf-relay", "\r\nSignal=0\r\n\r\nVolume=10\r\n", Signal{0, '0', 0}},
		{"Application/DTMF-Relay; charset=us-ascii", "Signal=9", Signal{9, '9', 0}},
		// The bare form.
		{"application/dtmf", "5", Signal{5, '5', 0}},
		{"application/dtmf", "#\r\n", Signal{11, '#', 0}},
		{"application/dtmf", " 11 ", Signal{11, '#', 0}},
		{"application/dtmf", "Signal=7\r\nDuration=120\r\n", Signal{7, '7', 120 * ms}},
	} {
		got, err := ParseINFO(c.ctype, []byte(c.body))
		if err != nil || got != c.want {
			t.Errorf("ParseINFO(%q, %q) = %+v, %v; want %+v", c.ctype, c.body, got, err, c.want)
		}
	}
}

func TestParseINFOErrors(t *testing.T) {
	for _, c := range []struct {
		ctype string
		body  string
		want  error
	}{
		{"application/sdp", "v=0", ErrUnsupportedType},
		{"text/plain", "5", ErrUnsupportedType},
		{"", "5", ErrUnsupportedType},
		{"application/dtmf-relay;;", "Signal=5", ErrUnsupportedType},
		{"application/dtmf-relay", "", ErrBadBody},
		{"application/dtmf-relay", "Duration=160", ErrBadBody},
		{"application/dtmf-relay", "Signal=", ErrBadBody},
		{"application/dtmf-relay", "Signal=E", ErrBadBody},
		{"application/dtmf-relay", "Signal=16", ErrBadBody}, // flash is not DTMF
		{"application/dtmf-relay", "Signal=55", ErrBadBody},
		{"application/dtmf-relay", "Signal=5\r\nSignal=6", ErrBadBody},
		{"application/dtmf-relay", "Signal=5\r\nDuration=1\r\nDuration=2", ErrBadBody},
		{"application/dtmf-relay", "Signal=5\r\nDuration=-1", ErrBadBody},
		{"application/dtmf-relay", "Signal=5\r\nDuration=1.5", ErrBadBody},
		{"application/dtmf-relay", "Signal=5\r\nDuration=60001", ErrBadBody},
		{"application/dtmf-relay", "Signal=5\r\nDuration=99999999999999999999", ErrBadBody},
		{"application/dtmf-relay", "5", ErrBadBody},
		{"application/dtmf", "", ErrBadBody},
		{"application/dtmf", "55", ErrBadBody},
		{"application/dtmf", "x", ErrBadBody},
	} {
		_, err := ParseINFO(c.ctype, []byte(c.body))
		if !errors.Is(err, c.want) {
			t.Errorf("ParseINFO(%q, %q) error = %v, want %v", c.ctype, c.body, err, c.want)
		}
	}
}
