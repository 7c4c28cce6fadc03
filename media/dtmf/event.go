// Package dtmf carries keypad digits between phones and the media layer: RFC
// 4733 telephone-event RTP payloads, a detector that turns their redundant
// packet stream into one report per key press, and the SIP INFO bodies some
// phones send instead.
package dtmf

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// EventSize is the length of one telephone-event payload block.
const EventSize = 4

// MaxVolume is the largest volume value (-63 dBm0); the field is 6 bits.
const MaxVolume = 63

// ErrShortPayload is returned for a telephone-event payload under 4 bytes.
var ErrShortPayload = errors.New("dtmf: telephone-event payload shorter than 4 bytes")

// Event is one RFC 4733 telephone-event payload (section 2.3):
//
//	event (8) | E (1) | R (1) | volume (6) | duration (16)
//
// Code 0-15 are the DTMF keys (see Digit); other codes are other telephone
// events and are carried through unchanged.
type Event struct {
	Code     byte   // event code: 0-9, 10 '*', 11 '#', 12-15 'A'-'D'
	End      bool   // E bit: this packet reports the end of the event
	Volume   byte   // power level as -dBm0, 0-63
	Duration uint16 // in RTP timestamp units since the event (segment) began
}

// AppendBinary appends the 4-byte wire form of e to b. It fails only for a
// Volume over 63, which would spill into the E and R bits.
func (e Event) AppendBinary(b []byte) ([]byte, error) {
	if e.Volume > MaxVolume {
		return b, fmt.Errorf("dtmf: volume %d out of range 0-%d", e.Volume, MaxVolume)
	}
	flags := e.Volume
	if e.End {
		flags |= 0x80
	}
	return binary.BigEndian.AppendUint16(append(b, e.Code, flags), e.Duration), nil
}

// Marshal returns the 4-byte wire form of e.
func (e Event) Marshal() ([]byte, error) {
	return e.AppendBinary(make([]byte, 0, EventSize))
}

// Unmarshal decodes the first 4 bytes of p. The reserved bit is ignored as
// RFC 4733 requires of receivers. Bytes after the first block are ignored
// too: a single-event payload is exactly 4 bytes, and senders that pad or
// stack blocks (RFC 2198 redundancy arrives under its own payload type) still
// describe the current event first.
func (e *Event) Unmarshal(p []byte) error {
	if len(p) < EventSize {
		return fmt.Errorf("%w (%d bytes)", ErrShortPayload, len(p))
	}
	*e = Event{
		Code:     p[0],
		End:      p[1]&0x80 != 0,
		Volume:   p[1] & 0x3F,
		Duration: binary.BigEndian.Uint16(p[2:4]),
	}
	return nil
}

// digits maps event codes 0-15 to keys, in RFC 4733 Table 7 order.
const digits = "0123456789*#ABCD"

// Digit returns the key for a DTMF event code, or 0 for any other code.
func Digit(code byte) rune {
	if int(code) < len(digits) {
		return rune(digits[code])
	}
	return 0
}

// CodeOf returns the event code for a key. Lower-case a-d are accepted
// because SIP INFO senders use both cases.
func CodeOf(r rune) (byte, bool) {
	switch {
	case r >= '0' && r <= '9':
		return byte(r - '0'), true
	case r == '*':
		return 10, true
	case r == '#':
		return 11, true
	case r >= 'A' && r <= 'D':
		return byte(r-'A') + 12, true
	case r >= 'a' && r <= 'd':
		return byte(r-'a') + 12, true
	}
	return 0, false
}
