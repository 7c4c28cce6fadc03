package codec

import (
	"fmt"
	"strings"
)

// Codec is a G.711 variant as negotiated in SDP. Its value is the static RTP
// payload type (RFC 3551), so Codec values are constants, comparable, and
// need no registry.
type Codec uint8

const (
	// PCMU is G.711 µ-law, static payload type 0.
	PCMU Codec = 0
	// PCMA is G.711 A-law, static payload type 8.
	PCMA Codec = 8
)

// ClockRate is the RTP clock rate of both G.711 variants, in Hz; it equals
// the sample rate, so one byte of payload advances the timestamp by one.
const ClockRate = 8000

// ByName returns the codec for an SDP encoding name. Encoding names are
// case-insensitive (RFC 4855), and phones do send "pcmu".
func ByName(name string) (Codec, bool) {
	switch {
	case strings.EqualFold(name, "PCMU"):
		return PCMU, true
	case strings.EqualFold(name, "PCMA"):
		return PCMA, true
	}
	return 0, false
}

// ByPayloadType returns the codec for a static RTP payload type.
func ByPayloadType(pt uint8) (Codec, bool) {
	switch Codec(pt) {
	case PCMU, PCMA:
		return Codec(pt), true
	}
	return 0, false
}

// Valid reports whether c is PCMU or PCMA.
func (c Codec) Valid() bool { return c == PCMU || c == PCMA }

// Name returns the SDP encoding name, "PCMU" or "PCMA".
func (c Codec) Name() string {
	switch c {
	case PCMU:
		return "PCMU"
	case PCMA:
		return "PCMA"
	}
	return fmt.Sprintf("Codec(%d)", uint8(c))
}

// String returns the SDP encoding name.
func (c Codec) String() string { return c.Name() }

// PayloadType returns the static RTP payload type.
func (c Codec) PayloadType() uint8 { return uint8(c) }

// ClockRate returns the RTP clock rate in Hz (8000).
func (c Codec) ClockRate() uint32 { return ClockRate }

// RTPMap returns the a=rtpmap encoding string, e.g. "PCMU/8000".
func (c Codec) RTPMap() string { return c.Name() + "/8000" }

// Silence returns the code for a zero sample, for filling gaps and comfort
// frames without encoding a buffer of zeros.
func (c Codec) Silence() byte {
	if c == PCMA {
		return 0xD5
	}
	return 0xFF
}

// Encode appends the encoding of pcm to dst and returns it. It panics if c is
// not valid, because that can only come from a conversion bug, not from the
// network (use ByName/ByPayloadType on input).
func (c Codec) Encode(pcm []int16, dst []byte) []byte {
	switch c {
	case PCMU:
		return EncodeUlaw(pcm, dst)
	case PCMA:
		return EncodeAlaw(pcm, dst)
	}
	panic("codec: Encode on invalid " + c.Name())
}

// Decode appends the linear decoding of payload to dst and returns it. It
// panics if c is not valid, like Encode.
func (c Codec) Decode(payload []byte, dst []int16) []int16 {
	switch c {
	case PCMU:
		return DecodeUlaw(payload, dst)
	case PCMA:
		return DecodeAlaw(payload, dst)
	}
	panic("codec: Decode on invalid " + c.Name())
}

// Transcode appends payload, encoded with c, re-encoded with to, to dst.
// Equal codecs copy, so a bridge can call it unconditionally.
func (c Codec) Transcode(to Codec, payload []byte, dst []byte) []byte {
	switch {
	case c == to && c.Valid():
		return append(dst, payload...)
	case c == PCMU && to == PCMA:
		return UlawToAlaw(payload, dst)
	case c == PCMA && to == PCMU:
		return AlawToUlaw(payload, dst)
	}
	panic("codec: Transcode " + c.Name() + " to " + to.Name())
}
