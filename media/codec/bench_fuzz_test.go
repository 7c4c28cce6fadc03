package codec

import (
	"encoding/binary"
	"math"
	"testing"
)

// frame is one 20 ms frame at 8 kHz: a 440 Hz tone at about -6 dBFS, so the
// encoder sees every segment rather than a constant.
func frame() []int16 {
	pcm := make([]int16, 160)
	for i := range pcm {
		pcm[i] = int16(16000 * math.Sin(2*math.Pi*440*float64(i)/8000))
	}
	return pcm
}

func BenchmarkEncodeUlaw(b *testing.B) {
	pcm := frame()
	dst := make([]byte, 0, len(pcm))
	b.SetBytes(int64(len(pcm) * 2))
	b.ReportAllocs()
	for b.Loop() {
		dst = EncodeUlaw(pcm, dst[:0])
	}
}

func BenchmarkDecodeUlaw(b *testing.B) {
	enc := EncodeUlaw(frame(), nil)
	dst := make([]int16, 0, len(enc))
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		dst = DecodeUlaw(enc, dst[:0])
	}
}

func BenchmarkEncodeAlaw(b *testing.B) {
	pcm := frame()
	dst := make([]byte, 0, len(pcm))
	b.SetBytes(int64(len(pcm) * 2))
	b.ReportAllocs()
	for b.Loop() {
		dst = EncodeAlaw(pcm, dst[:0])
	}
}

func BenchmarkDecodeAlaw(b *testing.B) {
	enc := EncodeAlaw(frame(), nil)
	dst := make([]int16, 0, len(enc))
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		dst = DecodeAlaw(enc, dst[:0])
	}
}

func BenchmarkUlawToAlaw(b *testing.B) {
	enc := EncodeUlaw(frame(), nil)
	dst := make([]byte, 0, len(enc))
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		dst = UlawToAlaw(enc, dst[:0])
	}
}

// FuzzRoundTrip feeds arbitrary little-endian PCM through both laws and
// checks what must hold for any input: lengths, the error bound, code
// idempotence, agreement of slice and per-sample functions, and that the
// transcoders agree with going through linear PCM.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0x00, 0x00, 0xff, 0xff})             // 0, -1
	f.Add([]byte{0xff, 0x7f, 0x00, 0x80})             // 32767, -32768
	f.Add([]byte{0x7c, 0x00, 0x7b, 0x00, 0x00, 0x01}) // 124, 123, 256: segment edges
	f.Add([]byte{0x80, 0x1f, 0x81})                   // odd length: last byte ignored
	f.Fuzz(func(t *testing.T, raw []byte) {
		pcm := make([]int16, len(raw)/2)
		for i := range pcm {
			pcm[i] = int16(binary.LittleEndian.Uint16(raw[2*i:]))
		}
		u := EncodeUlaw(pcm, nil)
		a := EncodeAlaw(pcm, nil)
		du := DecodeUlaw(u, nil)
		da := DecodeAlaw(a, nil)
		if len(u) != len(pcm) || len(a) != len(pcm) || len(du) != len(pcm) || len(da) != len(pcm) {
			t.Fatalf("lengths: pcm %d µ %d A %d", len(pcm), len(u), len(a))
		}
		for i, x := range pcm {
			mag, _ := magnitude(x)
			if u[i] != EncodeUlawSample(x) || a[i] != EncodeAlawSample(x) {
				t.Fatalf("slice and per-sample encoders disagree on %d", x)
			}
			if e := abs(int(du[i]) - int(x)); mag < ulawMaxDecision && e > halfStep(ulawSegs, mag) {
				t.Fatalf("µ-law: %d -> %#02x -> %d", x, u[i], du[i])
			}
			if e := abs(int(da[i]) - int(x)); e > halfStep(alawSegs, mag) {
				t.Fatalf("A-law: %d -> %#02x -> %d", x, a[i], da[i])
			}
			if c := EncodeUlawSample(du[i]); c != u[i] && !(u[i] == 0x7F && c == 0xFF) {
				t.Fatalf("µ-law not idempotent: %d -> %#02x -> %d -> %#02x", x, u[i], du[i], c)
			}
			if c := EncodeAlawSample(da[i]); c != a[i] {
				t.Fatalf("A-law not idempotent: %d -> %#02x -> %d -> %#02x", x, a[i], da[i], c)
			}
		}
		ua := UlawToAlaw(u, nil)
		au := AlawToUlaw(a, nil)
		for i := range pcm {
			if ua[i] != EncodeAlawSample(du[i]) || au[i] != EncodeUlawSample(da[i]) {
				t.Fatalf("transcoders disagree with linear PCM at %d", pcm[i])
			}
		}
	})
}
