package wav

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sentralpbx/sentral/media/codec"
)

// Fixture builders write every byte out so the tests check the layout
// against the RIFF/WAVE spec, not against appendHeader.
func u16(v uint16) string { return string(binary.LittleEndian.AppendUint16(nil, v)) }
func u32(v uint32) string { return string(binary.LittleEndian.AppendUint32(nil, v)) }

func chunk(id, body string) string {
	s := id + u32(uint32(len(body))) + body
	if len(body)%2 == 1 {
		s += "\x00"
	}
	return s
}

func riff(chunks ...string) []byte {
	body := "WAVE" + strings.Join(chunks, "")
	return []byte("RIFF" + u32(uint32(len(body))) + body)
}

func fmtChunk(tag, channels uint16, rate uint32, bits uint16, extra string) string {
	align := channels * bits / 8
	return chunk("fmt ", u16(tag)+u16(channels)+u32(rate)+u32(rate*uint32(align))+u16(align)+u16(bits)+extra)
}

var (
	fmtPCM  = fmtChunk(1, 1, 8000, 16, "")
	fmtULaw = fmtChunk(7, 1, 8000, 8, u16(0))
	fmtALaw = fmtChunk(6, 1, 8000, 8, "")
	list    = chunk("LIST", "INFOISFT"+u32(6)+"sox\x00\x00\x00")
)

func TestReadFixtures(t *testing.T) {
	for _, c := range []struct {
		name string
		file []byte
		info Info
		pcm  []int16
		data string
	}{
		{
			name: "PCM, canonical 44-byte header",
			file: riff(fmtPCM, chunk("data", u16(0)+u16(1000)+u16(0xFC18)+u16(0x7FFF))),
			info: Info{Format: PCM, Samples: 4},
			pcm:  []int16{0, 1000, -1000, 32767},
		},
		{
			name: "µ-law with fact, LIST, odd data and pad byte",
			file: riff(fmtULaw, chunk("fact", u32(3)), list, chunk("data", "\xff\x7f\x80")),
			info: Info{Format: ULaw, Samples: 3},
			pcm:  []int16{0, 0, 32124},
			data: "\xff\x7f\x80",
		},
		{
			name: "A-law, 16-byte fmt, no fact",
			file: riff(fmtALaw, chunk("data", "\xd5\x55\xaa\x2a")),
			info: Info{Format: ALaw, Samples: 4},
			pcm:  []int16{8, -8, 32256, -32256},
			data: "\xd5\x55\xaa\x2a",
		},
		{
			name: "LIST first, trailing chunks after data never read",
			file: append(riff(list, fmtPCM, chunk("data", u16(5)), list), "trailing garbage"...),
			info: Info{Format: PCM, Samples: 1},
			pcm:  []int16{5},
		},
		{
			name: "fmt with extension bytes, odd unknown chunk",
			file: riff(fmtChunk(7, 1, 8000, 8, u16(2)+"xy"), chunk("junk", "abc"), chunk("data", "\xff")),
			info: Info{Format: ULaw, Samples: 1},
			pcm:  []int16{0},
		},
		{
			name: "empty recording",
			file: riff(fmtULaw, chunk("fact", u32(0)), chunk("data", "")),
			info: Info{Format: ULaw},
			pcm:  []int16{},
		},
		{
			name: "pad byte missing at the very end",
			file: func() []byte { f := riff(fmtULaw, chunk("data", "\xff")); return f[:len(f)-1] }(),
			info: Info{Format: ULaw, Samples: 1},
			pcm:  []int16{0},
		},
		{
			name: "unfinished recording: placeholder sizes, partial sample dropped",
			file: []byte("RIFF" + u32(unknownSize) + "WAVE" + fmtPCM + "data" + u32(unknownSize) + u16(7) + u16(9) + "\x01"),
			info: Info{Format: PCM, Samples: 2, Unfinished: true},
			pcm:  []int16{7, 9},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			info, pcm, err := Read(bytes.NewReader(c.file))
			if err != nil {
				t.Fatal(err)
			}
			if info != c.info || !slices.Equal(pcm, c.pcm) {
				t.Errorf("Read = %+v %v, want %+v %v", info, pcm, c.info, c.pcm)
			}
			if c.data != "" {
				_, data, err := ReadData(bytes.NewReader(c.file))
				if err != nil || string(data) != c.data {
					t.Errorf("ReadData = %x, %v; want %x", data, err, c.data)
				}
			}
		})
	}
}

func TestReadErrors(t *testing.T) {
	good := riff(fmtPCM, chunk("data", u16(1)))
	for _, c := range []struct {
		name string
		file []byte
		want error
		msg  string // part of the message a person would see
	}{
		{"empty", nil, ErrTruncated, "RIFF header"},
		{"short header", good[:10], ErrTruncated, "RIFF header"},
		{"RIFX big endian", append([]byte("RIFX"), good[4:]...), ErrNotWAVE, "RIFX"},
		{"RF64", append([]byte("RF64"), good[4:]...), ErrNotWAVE, "RF64"},
		{"AVI", append(append([]byte{}, good[:8]...), append([]byte("AVI "), good[12:]...)...), ErrNotWAVE, "AVI"},
		{"MP3 file", []byte("ID3\x04\x00\x00\x00\x00\x00\x00\x00\x00"), ErrNotWAVE, "ID3"},
		{"RIFF size below 4", []byte("RIFF\x02\x00\x00\x00WAVE"), ErrMalformed, "RIFF size 2"},
		{"no chunks", riff(), ErrMalformed, "no fmt chunk"},
		{"no data chunk", riff(fmtPCM, list), ErrMalformed, "no data chunk"},
		{"data before fmt", riff(chunk("data", "ab"), fmtPCM), ErrMalformed, "before fmt"},
		{"two fmt chunks", riff(fmtPCM, fmtPCM, chunk("data", "ab")), ErrMalformed, "second fmt"},
		{"fmt too short", riff(chunk("fmt ", "\x01\x00\x01\x00"), chunk("data", "ab")), ErrMalformed, "fmt chunk of 4 bytes"},
		{"stereo", riff(fmtChunk(1, 2, 8000, 16, ""), chunk("data", "abcd")), ErrUnsupported, "2 channels"},
		{"16 kHz", riff(fmtChunk(1, 1, 16000, 16, ""), chunk("data", "ab")), ErrUnsupported, "16000 Hz"},
		{"44.1 kHz µ-law", riff(fmtChunk(7, 1, 44100, 8, u16(0)), chunk("data", "a")), ErrUnsupported, "44100 Hz"},
		{"8-bit PCM", riff(fmtChunk(1, 1, 8000, 8, ""), chunk("data", "ab")), ErrUnsupported, "8 bits"},
		{"16-bit µ-law", riff(fmtChunk(7, 1, 8000, 16, ""), chunk("data", "ab")), ErrUnsupported, "16 bits"},
		{"IEEE float", riff(fmtChunk(3, 1, 8000, 32, ""), chunk("data", "abcd")), ErrUnsupported, "format 0x0003"},
		{"MP3 in WAV", riff(fmtChunk(0x55, 1, 8000, 0, ""), chunk("data", "ab")), ErrUnsupported, "format 0x0055"},
		{"extensible", riff(fmtChunk(0xFFFE, 1, 8000, 16, u16(22)+strings.Repeat("\x00", 22)), chunk("data", "ab")), ErrUnsupported, "WAVE_FORMAT_EXTENSIBLE"},
		{"bad block align", riff(chunk("fmt ", u16(1)+u16(1)+u32(8000)+u32(16000)+u16(4)+u16(16)), chunk("data", "ab")), ErrMalformed, "block align 4"},
		{"bad byte rate", riff(chunk("fmt ", u16(7)+u16(1)+u32(8000)+u32(16000)+u16(1)+u16(8)), chunk("data", "a")), ErrMalformed, "byte rate 16000"},
		{"odd PCM data", riff(fmtPCM, chunk("data", "abc")), ErrMalformed, "odd size 3"},
		{"truncated data", good[:len(good)-1], ErrTruncated, "declares 2 bytes, file holds 1"},
		{"truncated chunk header", good[:40], ErrTruncated, "chunk header"},
		{"truncated fmt", good[:30], ErrTruncated, "fmt chunk"},
		{"truncated LIST", riff(fmtPCM, list)[:50], ErrTruncated, "LIST"},
		{"chunk overruns RIFF", func() []byte {
			f := riff(fmtPCM, chunk("data", u16(1)))
			binary.LittleEndian.PutUint32(f[4:], 4+24+8)
			return f
		}(), ErrMalformed, "overruns the RIFF size"},
		{"huge data claim", []byte("RIFF" + u32(0xFFFFFFF0) + "WAVE" + fmtULaw + "data" + u32(0xFFFFFF00) + "ab"), ErrTruncated, "declares 4294967040 bytes, file holds 2"},
		{"unfinished without data", []byte("RIFF" + u32(unknownSize) + "WAVE" + fmtULaw), ErrTruncated, "no data chunk"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := Read(bytes.NewReader(c.file))
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q does not mention %q", err, c.msg)
			}
		})
	}
}

// A header may claim 4 GiB; Read must not believe it before the bytes come.
func TestReadHugeClaimAllocatesLittle(t *testing.T) {
	file := []byte("RIFF" + u32(0xFFFFFFF0) + "WAVE" + fmtPCM + "data" + u32(0xFFFFFF00) + "abcd")
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 10 {
		if _, _, err := Read(bytes.NewReader(file)); !errors.Is(err, ErrTruncated) {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	if perRead := (after.TotalAlloc - before.TotalAlloc) / 10; perRead > 2*preallocLimit {
		t.Errorf("%d bytes allocated per Read of a %d-byte file", perRead, len(file))
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestReadIOError(t *testing.T) {
	_, _, err := Read(failingReader{})
	if err == nil || errors.Is(err, ErrTruncated) || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("err = %v, want the I/O error passed through", err)
	}
}

func tone(n int) []int16 {
	pcm := make([]int16, n)
	for i := range pcm {
		pcm[i] = int16((i*2654435761)>>16) / 3 // deterministic noise over the whole range
	}
	return pcm
}

func TestWriteRead(t *testing.T) {
	for _, f := range []Format{PCM, ULaw, ALaw} {
		for _, n := range []int{0, 1, 160, 8001} {
			pcm := tone(n)
			var buf bytes.Buffer
			if err := Write(&buf, f, pcm); err != nil {
				t.Fatal(err)
			}
			wantLen := headerLen(f) + n*f.BytesPerSample()
			wantLen += wantLen % 2
			if buf.Len() != wantLen {
				t.Errorf("%v/%d: file of %d bytes, want %d", f, n, buf.Len(), wantLen)
			}
			info, got, err := Read(&buf)
			if err != nil {
				t.Fatalf("%v/%d: %v", f, n, err)
			}
			if info != (Info{Format: f, Samples: n}) {
				t.Errorf("%v/%d: info %+v", f, n, info)
			}
			want := pcm
			switch f {
			case ULaw:
				want = codec.DecodeUlaw(codec.EncodeUlaw(pcm, nil), nil)
			case ALaw:
				want = codec.DecodeAlaw(codec.EncodeAlaw(pcm, nil), nil)
			}
			if !slices.Equal(got, want) {
				t.Errorf("%v/%d: samples differ", f, n)
			}
		}
	}
}

// The exact bytes of a small µ-law file, so a change of layout is seen.
func TestWriteULawBytes(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteData(&buf, ULaw, []byte{0xFF, 0x80, 0x00}); err != nil {
		t.Fatal(err)
	}
	want := riff(fmtULaw, chunk("fact", u32(3)), chunk("data", "\xff\x80\x00"))
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("got  %x\nwant %x", buf.Bytes(), want)
	}
	buf.Reset()
	if err := Write(&buf, PCM, []int16{1, -2}); err != nil {
		t.Fatal(err)
	}
	if want := riff(fmtPCM, chunk("data", u16(1)+u16(0xFFFE))); !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("got  %x\nwant %x", buf.Bytes(), want)
	}
	if err := WriteData(io.Discard, PCM, []byte{1}); err == nil {
		t.Error("odd PCM data written")
	}
	if err := Write(io.Discard, Format(3), nil); !errors.Is(err, ErrUnsupported) {
		t.Errorf("format 3: %v", err)
	}
}

// memFile is an in-memory io.WriteSeeker.
type memFile struct {
	b   []byte
	off int64
}

func (m *memFile) Write(p []byte) (int, error) {
	if need := int(m.off) + len(p); need > len(m.b) {
		m.b = append(m.b, make([]byte, need-len(m.b))...)
	}
	copy(m.b[m.off:], p)
	m.off += int64(len(p))
	return len(p), nil
}

func (m *memFile) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		off += m.off
	case io.SeekEnd:
		off += int64(len(m.b))
	}
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	m.off = off
	return off, nil
}

func TestWriterStreams(t *testing.T) {
	for _, f := range []Format{PCM, ULaw, ALaw} {
		for _, frames := range []int{0, 1, 3, 100} {
			m := &memFile{b: []byte("prefix"), off: 6} // the WAV need not start at 0
			w, err := NewWriter(m, f)
			if err != nil {
				t.Fatal(err)
			}
			var all []int16
			for i := range frames {
				frame := tone(160 + i%2) // odd-length frames exercise the pad byte
				all = append(all, frame...)
				if err := w.WriteSamples(frame); err != nil {
					t.Fatal(err)
				}
			}
			if w.Samples() != len(all) || w.Format() != f {
				t.Errorf("%v: Samples() = %d, want %d", f, w.Samples(), len(all))
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
			if _, err := w.Write([]byte{1}); err == nil {
				t.Error("Write after Close succeeded")
			}
			if string(m.b[:6]) != "prefix" || m.off != int64(len(m.b)) {
				t.Errorf("%v/%d: prefix %q, offset %d of %d", f, frames, m.b[:6], m.off, len(m.b))
			}
			// The streamed file is byte for byte the one-shot file.
			var oneShot bytes.Buffer
			if err := Write(&oneShot, f, all); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(m.b[6:], oneShot.Bytes()) {
				t.Errorf("%v/%d frames: streamed file differs from Write", f, frames)
			}
		}
	}
}

// A recording interrupted before Close is still readable.
func TestWriterUnfinished(t *testing.T) {
	m := &memFile{}
	w, err := NewWriter(m, ULaw)
	if err != nil {
		t.Fatal(err)
	}
	payload := bytes.Repeat([]byte{0xFF, 0x80}, 5000) // larger than the buffer
	if _, err := w.Write(payload); err != nil {
		t.Fatal(err)
	}
	// No Close: what reached the file is what the buffer flushed.
	info, data, err := ReadData(bytes.NewReader(m.b))
	if err != nil {
		t.Fatal(err)
	}
	if !info.Unfinished || info.Format != ULaw || !bytes.Equal(data, payload[:len(data)]) || len(data) == 0 {
		t.Errorf("unfinished: %+v, %d bytes", info, len(data))
	}
}

func TestWriterOddPCM(t *testing.T) {
	m := &memFile{}
	w, _ := NewWriter(m, PCM)
	w.Write([]byte{1, 0, 2})
	if err := w.Close(); err == nil {
		t.Error("odd PCM Close succeeded")
	}
	info, pcm, err := Read(bytes.NewReader(m.b))
	if err != nil || info.Samples != 1 || pcm[0] != 1 {
		t.Errorf("odd PCM file: %+v %v %v", info, pcm, err)
	}
}

func TestWriterFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "msg.wav")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewWriter(f, ALaw)
	if err != nil {
		t.Fatal(err)
	}
	pcm := tone(8000 * 3)
	for i := 0; i < len(pcm); i += 160 {
		if err := w.WriteSamples(pcm[i : i+160]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	f, _ = os.Open(path)
	defer f.Close()
	info, _, err := Read(f)
	if err != nil || info.Duration() != 3*time.Second || info.Format != ALaw {
		t.Errorf("%+v %v %v", info, info.Duration(), err)
	}
	if c, ok := info.Format.Codec(); !ok || c != codec.PCMA {
		t.Errorf("ALaw.Codec() = %v, %v", c, ok)
	}
	if _, ok := PCM.Codec(); ok {
		t.Error("PCM has an RTP codec")
	}
}

type failingWS struct{ memFile }

func (f *failingWS) Write(p []byte) (int, error) { return 0, errors.New("disk full") }

func TestWriterErrors(t *testing.T) {
	if _, err := NewWriter(&memFile{}, Format(2)); !errors.Is(err, ErrUnsupported) {
		t.Errorf("NewWriter(format 2) = %v", err)
	}
	w, err := NewWriter(&failingWS{}, ULaw)
	if err != nil {
		t.Fatal(err) // buffered: the failure shows on the first flush
	}
	big := make([]byte, 64<<10)
	if _, err := w.Write(big); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Write: %v", err)
	}
	if err := w.WriteSamples([]int16{1}); err == nil {
		t.Error("write after a failure succeeded")
	}
	if err := w.Close(); err == nil {
		t.Error("Close after a failure succeeded")
	}
	w2, _ := NewWriter(&memFile{}, ULaw)
	w2.n = maxData(ULaw)
	if _, err := w2.Write([]byte{1}); !errors.Is(err, ErrTooLong) {
		t.Errorf("past 4 GiB: %v", err)
	}
}

func TestFormat(t *testing.T) {
	for f, s := range map[Format]string{PCM: "PCM", ULaw: "µ-law", ALaw: "A-law", 0x55: "format 0x0055"} {
		if f.String() != s {
			t.Errorf("%d: %q", f, f.String())
		}
	}
	if (Info{Samples: 4000}).Duration() != 500*time.Millisecond {
		t.Error("Duration")
	}
}
