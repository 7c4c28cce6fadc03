package wav

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/sentralpbx/sentral/media/codec"
)

// preallocLimit caps how much Read reserves on the word of a header. Beyond
// it the buffer grows with the bytes actually read, so a 20-byte file
// claiming 4 GiB of audio costs nothing.
const preallocLimit = 1 << 20

// Read reads a whole WAV file and returns its audio as linear PCM, decoding
// G.711. Chunks other than fmt and data (LIST, fact, cue, ...) are skipped;
// reading stops after the data chunk, so trailing chunks are never read.
func Read(r io.Reader) (Info, []int16, error) {
	info, data, err := ReadData(r)
	if err != nil {
		return info, nil, err
	}
	var pcm []int16
	switch info.Format {
	case PCM:
		pcm = make([]int16, len(data)/2)
		for i := range pcm {
			pcm[i] = int16(binary.LittleEndian.Uint16(data[2*i:]))
		}
	case ULaw:
		pcm = codec.DecodeUlaw(data, make([]int16, 0, len(data)))
	case ALaw:
		pcm = codec.DecodeAlaw(data, make([]int16, 0, len(data)))
	}
	return info, pcm, nil
}

// ReadData reads a whole WAV file and returns its data chunk undecoded:
// G.711 codes, or little-endian 16-bit PCM.
func ReadData(r io.Reader) (Info, []byte, error) {
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return Info{}, nil, readErr("RIFF header", err)
	}
	if string(hdr[0:4]) != "RIFF" || string(hdr[8:12]) != "WAVE" {
		return Info{}, nil, fmt.Errorf("%w: starts with %q", ErrNotWAVE, hdr[:])
	}
	riffSize := binary.LittleEndian.Uint32(hdr[4:8])
	if riffSize < 4 {
		return Info{}, nil, fmt.Errorf("%w: RIFF size %d", ErrMalformed, riffSize)
	}
	// left is what the RIFF size allows after "WAVE"; a streaming
	// placeholder allows anything.
	left := int64(riffSize) - 4
	if riffSize == unknownSize {
		left = -1
	}

	var (
		info   Info
		gotFmt bool
	)
	for {
		var ch [8]byte
		if left >= 0 && left < 8 {
			if gotFmt {
				return Info{}, nil, fmt.Errorf("%w: no data chunk", ErrMalformed)
			}
			return Info{}, nil, fmt.Errorf("%w: no fmt chunk", ErrMalformed)
		}
		if _, err := io.ReadFull(r, ch[:]); err != nil {
			if errors.Is(err, io.EOF) && left < 0 {
				return Info{}, nil, fmt.Errorf("%w: no data chunk", ErrTruncated)
			}
			return Info{}, nil, readErr("chunk header", err)
		}
		id, size := string(ch[0:4]), binary.LittleEndian.Uint32(ch[4:8])
		if left >= 0 {
			left -= 8
		}
		unknownData := id == "data" && size == unknownSize
		if left >= 0 && int64(size) > left && !unknownData {
			return Info{}, nil, fmt.Errorf("%w: %q chunk of %d bytes overruns the RIFF size", ErrMalformed, id, size)
		}
		switch id {
		case "fmt ":
			if gotFmt {
				return Info{}, nil, fmt.Errorf("%w: second fmt chunk", ErrMalformed)
			}
			f, err := readFmt(r, size)
			if err != nil {
				return Info{}, nil, err
			}
			info.Format, gotFmt = f, true
		case "data":
			if !gotFmt {
				return Info{}, nil, fmt.Errorf("%w: data chunk before fmt chunk", ErrMalformed)
			}
			data, err := readData(r, info.Format, size, unknownData)
			if err != nil {
				return Info{}, nil, err
			}
			info.Samples = len(data) / info.Format.BytesPerSample()
			info.Unfinished = unknownData
			return info, data, nil
		default:
			if err := skip(r, int64(size)); err != nil {
				return Info{}, nil, readErr(fmt.Sprintf("%q chunk", id), err)
			}
		}
		if left >= 0 {
			left -= int64(size)
		}
		// Chunks are padded to even length; a missing pad byte at the very
		// end of the RIFF is tolerated because several writers omit it.
		if size&1 == 1 && left != 0 {
			if err := skip(r, 1); err != nil {
				return Info{}, nil, readErr("chunk padding", err)
			}
			if left > 0 {
				left--
			}
		}
	}
}

// readFmt reads and checks a fmt chunk of the given size.
func readFmt(r io.Reader, size uint32) (Format, error) {
	if size < 16 {
		return 0, fmt.Errorf("%w: fmt chunk of %d bytes, want at least 16", ErrMalformed, size)
	}
	var b [16]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return 0, readErr("fmt chunk", err)
	}
	// Extra bytes (cbSize and format-specific data) say nothing the
	// supported formats need.
	if err := skip(r, int64(size)-16); err != nil {
		return 0, readErr("fmt chunk", err)
	}
	le := binary.LittleEndian
	f := Format(le.Uint16(b[0:2]))
	channels := le.Uint16(b[2:4])
	rate := le.Uint32(b[4:8])
	byteRate := le.Uint32(b[8:12])
	align := le.Uint16(b[12:14])
	bits := le.Uint16(b[14:16])

	if !f.Valid() {
		return 0, fmt.Errorf("%w: %v, want PCM (1), A-law (6) or µ-law (7)", ErrUnsupported, f)
	}
	if channels != 1 {
		return 0, fmt.Errorf("%w: %d channels, want mono", ErrUnsupported, channels)
	}
	if rate != SampleRate {
		return 0, fmt.Errorf("%w: %d Hz, want %d Hz", ErrUnsupported, rate, SampleRate)
	}
	bps := f.BytesPerSample()
	if int(bits) != 8*bps {
		return 0, fmt.Errorf("%w: %v with %d bits a sample, want %d", ErrUnsupported, f, bits, 8*bps)
	}
	if int(align) != bps || byteRate != SampleRate*uint32(bps) {
		return 0, fmt.Errorf("%w: fmt block align %d and byte rate %d do not match %v at %d Hz", ErrMalformed, align, byteRate, f, SampleRate)
	}
	return f, nil
}

// readData reads a data chunk. With unknown set it reads to end of file and
// drops a trailing partial PCM sample, which is what an interrupted write
// leaves behind.
func readData(r io.Reader, f Format, size uint32, unknown bool) ([]byte, error) {
	if !unknown && f == PCM && size&1 == 1 {
		return nil, fmt.Errorf("%w: PCM data of odd size %d", ErrMalformed, size)
	}
	var buf bytes.Buffer
	if unknown {
		if _, err := buf.ReadFrom(io.LimitReader(r, unknownSize-1)); err != nil {
			return nil, readErr("data", err)
		}
		data := buf.Bytes()
		return data[:len(data)/f.BytesPerSample()*f.BytesPerSample()], nil
	}
	buf.Grow(int(min(size, preallocLimit)))
	n, err := buf.ReadFrom(io.LimitReader(r, int64(size)))
	if err != nil {
		return nil, readErr("data", err)
	}
	if n < int64(size) {
		return nil, fmt.Errorf("%w: data chunk declares %d bytes, file holds %d", ErrTruncated, size, n)
	}
	return buf.Bytes(), nil
}

// skip discards n bytes without buffering them. It copies rather than
// seeks even on an io.Seeker, because seeking past the end succeeds and
// would hide a truncated file.
func skip(r io.Reader, n int64) error {
	if n <= 0 {
		return nil
	}
	got, err := io.CopyN(io.Discard, r, n)
	if err == io.EOF && got < n {
		return io.ErrUnexpectedEOF
	}
	return err
}

// readErr turns an end of input into ErrTruncated and wraps anything else
// (a disk error) as is.
func readErr(what string, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: in %s", ErrTruncated, what)
	}
	return fmt.Errorf("wav: reading %s: %w", what, err)
}
