// Package wav reads and writes the WAV files voicemail keeps: 8 kHz mono,
// either 16-bit linear PCM or G.711 (µ-law, A-law). Storing G.711 as it
// arrives in RTP avoids a transcode on record and on playback; PCM is there
// for prompts made with ordinary audio tools.
//
// Only what voicemail needs is accepted; anything else is refused with an
// error that says what the file is and what was expected, so a wrong prompt
// file fails at upload rather than playing noise to a caller.
package wav

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/sentralpbx/sentral/media/codec"
)

// SampleRate is the only sample rate read or written, in Hz.
const SampleRate = 8000

// Format is a WAVE format tag (the wFormatTag of the fmt chunk).
type Format uint16

const (
	// PCM is 16-bit little-endian linear PCM (WAVE_FORMAT_PCM).
	PCM Format = 1
	// ALaw is G.711 A-law, one byte a sample (WAVE_FORMAT_ALAW).
	ALaw Format = 6
	// ULaw is G.711 µ-law, one byte a sample (WAVE_FORMAT_MULAW).
	ULaw Format = 7
)

// Valid reports whether f is one of the supported formats.
func (f Format) Valid() bool { return f == PCM || f == ALaw || f == ULaw }

// String names the format.
func (f Format) String() string {
	switch f {
	case PCM:
		return "PCM"
	case ALaw:
		return "A-law"
	case ULaw:
		return "µ-law"
	case 0xFFFE:
		return "WAVE_FORMAT_EXTENSIBLE"
	}
	return fmt.Sprintf("format 0x%04x", uint16(f))
}

// BytesPerSample is 2 for PCM and 1 for G.711.
func (f Format) BytesPerSample() int {
	if f == PCM {
		return 2
	}
	return 1
}

// Codec returns the RTP codec whose payload is this format's data, so a
// stored G.711 file can be sent without transcoding.
func (f Format) Codec() (codec.Codec, bool) {
	switch f {
	case ULaw:
		return codec.PCMU, true
	case ALaw:
		return codec.PCMA, true
	}
	return 0, false
}

// Info describes a WAV file's audio.
type Info struct {
	Format  Format
	Samples int // number of samples (8000 a second)
	// Unfinished is set when the data size is the placeholder a Writer
	// leaves until Close: the recording was cut off (crash, power loss) and
	// Samples counts what is in the file.
	Unfinished bool
}

// Duration is the playing time.
func (i Info) Duration() time.Duration {
	return time.Duration(i.Samples) * time.Second / SampleRate
}

// Errors for callers that tell a bad file from a failing disk. Read wraps
// them with detail.
var (
	ErrNotWAVE     = errors.New("wav: not a RIFF/WAVE file")
	ErrUnsupported = errors.New("wav: unsupported audio")
	ErrMalformed   = errors.New("wav: malformed file")
	ErrTruncated   = errors.New("wav: truncated file")
	ErrTooLong     = errors.New("wav: recording exceeds the 4 GiB WAV limit")
)

// unknownSize is written in the RIFF and data size fields while a Writer is
// open. It is the value streaming writers (sox, ffmpeg on pipes) use for
// "until end of file", so a recording cut off before Close stays readable.
const unknownSize = 0xFFFFFFFF

// Header layout. G.711 files carry the 18-byte fmt chunk (with cbSize) and
// the fact chunk that the WAVE spec requires for non-PCM formats.
const (
	pcmHeaderLen  = 12 + 8 + 16 + 8
	g711HeaderLen = 12 + 8 + 18 + 8 + 4 + 8
)

func headerLen(f Format) int {
	if f == PCM {
		return pcmHeaderLen
	}
	return g711HeaderLen
}

// appendHeader appends a complete header for dataLen bytes of data;
// dataLen == unknownSize writes the streaming placeholders.
func appendHeader(b []byte, f Format, dataLen uint32) []byte {
	le := binary.LittleEndian
	riff := uint32(unknownSize)
	if dataLen != unknownSize {
		riff = uint32(headerLen(f)-8) + dataLen + dataLen&1
	}
	b = append(b, "RIFF"...)
	b = le.AppendUint32(b, riff)
	b = append(b, "WAVE"...)
	b = append(b, "fmt "...)
	bps := uint16(f.BytesPerSample())
	if f == PCM {
		b = le.AppendUint32(b, 16)
	} else {
		b = le.AppendUint32(b, 18)
	}
	b = le.AppendUint16(b, uint16(f))
	b = le.AppendUint16(b, 1) // channels
	b = le.AppendUint32(b, SampleRate)
	b = le.AppendUint32(b, SampleRate*uint32(bps)) // byte rate
	b = le.AppendUint16(b, bps)                    // block align
	b = le.AppendUint16(b, 8*bps)                  // bits per sample
	if f != PCM {
		b = le.AppendUint16(b, 0) // cbSize: no extra format bytes
		b = append(b, "fact"...)
		b = le.AppendUint32(b, 4)
		b = le.AppendUint32(b, dataLen) // one sample a byte
	}
	b = append(b, "data"...)
	return le.AppendUint32(b, dataLen)
}
