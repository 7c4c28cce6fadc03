package wav

import (
	"bytes"
	"errors"
	"os"
	"slices"
	"testing"
)

// testdata/python-wave-pcm16.wav was written by CPython 3.11's wave module
// (an independent writer) with the samples below.
func TestReadPythonWave(t *testing.T) {
	b, err := os.ReadFile("testdata/python-wave-pcm16.wav")
	if err != nil {
		t.Fatal(err)
	}
	info, pcm, err := Read(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	want := []int16{0, 1, -1, 1000, -1000, 32767, -32768, 12345}
	if info != (Info{Format: PCM, Samples: 8}) || !slices.Equal(pcm, want) {
		t.Errorf("%+v %v", info, pcm)
	}
	// And our writer produces the same bytes for the same samples.
	var buf bytes.Buffer
	if err := Write(&buf, PCM, want); err != nil || !bytes.Equal(buf.Bytes(), b) {
		t.Errorf("Write differs from CPython's wave module:\n%x\n%x", buf.Bytes(), b)
	}
}

// FuzzRead: no input panics or makes Read allocate far beyond its size;
// every error is one of the package's; whatever is accepted survives being
// written back and read again unchanged.
func FuzzRead(f *testing.F) {
	f.Add(riff(fmtPCM, chunk("data", u16(0)+u16(1000))))
	f.Add(riff(fmtULaw, chunk("fact", u32(3)), list, chunk("data", "\xff\x7f\x80")))
	f.Add(riff(fmtALaw, chunk("data", "\xd5\x55")))
	f.Add(riff(list, fmtPCM, chunk("data", u16(5)), list))
	f.Add([]byte("RIFF" + u32(unknownSize) + "WAVE" + fmtPCM + "data" + u32(unknownSize) + "\x01\x02\x03"))
	f.Add([]byte("RIFF" + u32(0xFFFFFFF0) + "WAVE" + fmtULaw + "data" + u32(0xFFFFFF00) + "ab"))
	f.Add(riff(fmtChunk(0xFFFE, 1, 8000, 16, u16(22)+string(make([]byte, 22))), chunk("data", "ab")))
	f.Add(riff(fmtChunk(1, 2, 44100, 16, ""), chunk("data", "abcd")))
	f.Fuzz(func(t *testing.T, file []byte) {
		info, data, err := ReadData(bytes.NewReader(file))
		if err != nil {
			for _, e := range []error{ErrNotWAVE, ErrUnsupported, ErrMalformed, ErrTruncated} {
				if errors.Is(err, e) {
					return
				}
			}
			t.Fatalf("error outside the package's kinds: %v", err)
		}
		if len(data) > len(file) {
			t.Fatalf("%d data bytes from a %d-byte file", len(data), len(file))
		}
		if !info.Format.Valid() || info.Samples*info.Format.BytesPerSample() != len(data) {
			t.Fatalf("info %+v for %d data bytes", info, len(data))
		}
		_, pcm, err := Read(bytes.NewReader(file))
		if err != nil || len(pcm) != info.Samples {
			t.Fatalf("Read disagrees with ReadData: %d samples, %v", len(pcm), err)
		}
		var out bytes.Buffer
		if err := WriteData(&out, info.Format, data); err != nil {
			t.Fatalf("WriteData: %v", err)
		}
		info2, data2, err := ReadData(&out)
		info.Unfinished = false
		if err != nil || info2 != info || !bytes.Equal(data, data2) {
			t.Fatalf("rewrite: %+v %v, want %+v", info2, err, info)
		}
	})
}
