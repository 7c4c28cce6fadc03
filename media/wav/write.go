package wav

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/sentralpbx/sentral/media/codec"
)

// maxData is the most data a file can hold: the RIFF size field must fit
// the header, the data and a pad byte, and must not equal the placeholder.
func maxData(f Format) int64 {
	return unknownSize - 1 - int64(headerLen(f)-8) - 1
}

// Write writes a complete WAV file holding pcm, encoded as f. Use it when
// the audio is all in memory (prompts); use a Writer to record.
func Write(w io.Writer, f Format, pcm []int16) error {
	if !f.Valid() {
		return fmt.Errorf("%w: cannot write %v", ErrUnsupported, f)
	}
	return WriteData(w, f, encode(f, pcm, nil))
}

// WriteData writes a complete WAV file whose data chunk is data, already in
// f's encoding (G.711 codes, or little-endian 16-bit PCM).
func WriteData(w io.Writer, f Format, data []byte) error {
	if !f.Valid() {
		return fmt.Errorf("%w: cannot write %v", ErrUnsupported, f)
	}
	if f == PCM && len(data)%2 == 1 {
		return fmt.Errorf("wav: PCM data of odd length %d", len(data))
	}
	if int64(len(data)) > maxData(f) {
		return ErrTooLong
	}
	b := appendHeader(make([]byte, 0, headerLen(f)+len(data)+1), f, uint32(len(data)))
	b = append(b, data...)
	if len(data)%2 == 1 {
		b = append(b, 0) // RIFF pad byte
	}
	_, err := w.Write(b)
	return err
}

// encode appends pcm in f's encoding to dst.
func encode(f Format, pcm []int16, dst []byte) []byte {
	switch f {
	case ULaw:
		return codec.EncodeUlaw(pcm, dst)
	case ALaw:
		return codec.EncodeAlaw(pcm, dst)
	}
	for _, x := range pcm {
		dst = binary.LittleEndian.AppendUint16(dst, uint16(x))
	}
	return dst
}

var errClosed = errors.New("wav: write to closed Writer")

// Writer records a WAV file of unknown length. It starts with a header
// whose sizes are the streaming placeholder, so whatever reaches the file
// before Close is readable (as Unfinished) if the process dies mid-message,
// and patches the real sizes in Close. It buffers, so each 20 ms frame is
// not a system call.
//
// A Writer is not safe for concurrent use.
type Writer struct {
	ws    io.WriteSeeker
	bw    *bufio.Writer
	f     Format
	start int64  // offset of "RIFF" in ws
	n     int64  // data bytes written
	enc   []byte // scratch for WriteSamples
	err   error  // first write error; the file is unusable after it
	done  bool
}

// NewWriter starts a WAV file in format f at the current offset of ws.
func NewWriter(ws io.WriteSeeker, f Format) (*Writer, error) {
	if !f.Valid() {
		return nil, fmt.Errorf("%w: cannot write %v", ErrUnsupported, f)
	}
	start, err := ws.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, fmt.Errorf("wav: %w", err)
	}
	w := &Writer{ws: ws, bw: bufio.NewWriterSize(ws, 8<<10), f: f, start: start}
	if _, err := w.bw.Write(appendHeader(nil, f, unknownSize)); err != nil {
		return nil, fmt.Errorf("wav: writing header: %w", err)
	}
	return w, nil
}

// Format returns the format being written.
func (w *Writer) Format() Format { return w.f }

// Samples returns the number of complete samples written so far.
func (w *Writer) Samples() int { return int(w.n) / w.f.BytesPerSample() }

// Write appends data already in the file's encoding: the payload of PCMU
// or PCMA RTP packets for a G.711 file, or little-endian 16-bit PCM.
func (w *Writer) Write(p []byte) (int, error) {
	if w.done {
		return 0, errClosed
	}
	if w.err != nil {
		return 0, w.err
	}
	if w.n+int64(len(p)) > maxData(w.f) {
		return 0, ErrTooLong
	}
	n, err := w.bw.Write(p)
	w.n += int64(n)
	if err != nil {
		w.err = fmt.Errorf("wav: %w", err)
	}
	return n, w.err
}

// WriteSamples encodes linear samples in the file's format and appends them.
func (w *Writer) WriteSamples(pcm []int16) error {
	w.enc = encode(w.f, pcm, w.enc[:0])
	_, err := w.Write(w.enc)
	return err
}

// Close pads the data chunk, writes the real sizes into the header and
// leaves ws positioned after the file. It does not close ws. If an odd
// number of bytes went into a PCM file, the last half sample is left out of
// the data chunk (so the file stays readable) and Close reports an error.
func (w *Writer) Close() error {
	if w.done {
		return nil
	}
	w.done = true
	if w.err != nil {
		return w.err
	}
	dataLen := w.n
	if w.f == PCM {
		dataLen &^= 1
	}
	if dataLen%2 == 1 {
		if err := w.bw.WriteByte(0); err != nil { // RIFF pad byte
			return fmt.Errorf("wav: %w", err)
		}
	}
	if err := w.bw.Flush(); err != nil {
		return fmt.Errorf("wav: %w", err)
	}
	end := w.start + int64(headerLen(w.f)) + w.n + dataLen%2
	hdr := appendHeader(nil, w.f, uint32(dataLen))
	// The RIFF size, the data size and, for G.711, the fact sample count.
	offs := []int{4, len(hdr) - 4}
	if w.f != PCM {
		offs = append(offs, len(hdr)-12)
	}
	for _, off := range offs {
		if _, err := w.ws.Seek(w.start+int64(off), io.SeekStart); err != nil {
			return fmt.Errorf("wav: patching header: %w", err)
		}
		if _, err := w.ws.Write(hdr[off : off+4]); err != nil {
			return fmt.Errorf("wav: patching header: %w", err)
		}
	}
	if _, err := w.ws.Seek(end, io.SeekStart); err != nil {
		return fmt.Errorf("wav: %w", err)
	}
	if dataLen != w.n {
		return fmt.Errorf("wav: PCM data of odd length %d: last byte dropped", w.n)
	}
	return nil
}
