package codec

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"testing"
)

// The ITU-T G.191 Software Tool Library ships G.711 test vectors
// (openitu/STL, src/g711/test_data, listed with their CRC-32s in
// src/g711/README.md). The source file sweep.src is every 16-bit value from
// -32768 to 32767 in order, big endian (its CRC-32 67B11DDE confirms that);
// the reference outputs hold one 16-bit big-endian word per sample.
// Matching those CRCs means matching the ITU reference bit for bit.
const (
	crcSweepSrc = 0x67B11DDE // sweep.src
	crcSweepA   = 0xE714C343 // sweep-r.a:   A-law codes
	crcSweepU   = 0xE7513B35 // sweep-r.u:   µ-law codes
	crcSweepReA = 0x1595D5BA // sweep-r.rea: A-law encode then decode
	crcSweepReU = 0xD6812645 // sweep-r.reu: µ-law encode then decode
)

// crcWords is the CRC-32 of vals as 16-bit big-endian words, the STL file
// layout.
func crcWords(vals []uint16) uint32 {
	b := make([]byte, 2*len(vals))
	for i, v := range vals {
		binary.BigEndian.PutUint16(b[2*i:], v)
	}
	return crc32.ChecksumIEEE(b)
}

func sweep() []int16 {
	s := make([]int16, 0, 65536)
	for x := -32768; x <= 32767; x++ {
		s = append(s, int16(x))
	}
	return s
}

func TestSTLTestVectors(t *testing.T) {
	src := sweep()
	words := func(n int, f func(i int) uint16) []uint16 {
		w := make([]uint16, n)
		for i := range w {
			w[i] = f(i)
		}
		return w
	}
	if got := crcWords(words(len(src), func(i int) uint16 { return uint16(src[i]) })); got != crcSweepSrc {
		t.Fatalf("sweep.src CRC %08X, want %08X: the reconstruction of the STL input is wrong", got, crcSweepSrc)
	}
	u := EncodeUlaw(src, nil)
	a := EncodeAlaw(src, nil)
	du := DecodeUlaw(u, nil)
	da := DecodeAlaw(a, nil)
	for _, c := range []struct {
		name string
		got  uint32
		want uint32
	}{
		{"sweep-r.u", crcWords(words(len(u), func(i int) uint16 { return uint16(u[i]) })), crcSweepU},
		{"sweep-r.a", crcWords(words(len(a), func(i int) uint16 { return uint16(a[i]) })), crcSweepA},
		{"sweep-r.reu", crcWords(words(len(du), func(i int) uint16 { return uint16(du[i]) })), crcSweepReU},
		{"sweep-r.rea", crcWords(words(len(da), func(i int) uint16 { return uint16(da[i]) })), crcSweepReA},
	} {
		if c.got != c.want {
			t.Errorf("%s: CRC-32 %08X, want %08X", c.name, c.got, c.want)
		}
	}
}

// Reference points. Encoder inputs and decoder outputs are G.711 Table 1
// (A-law, uniform units x8) and Table 2 (µ-law, uniform units x4) moved to
// 16-bit left-justified samples; negative inputs follow the G.191 STL
// one's-complement rule. Note -1 -> 0x7F: the classic Sun g711.c
// linear2ulaw gives 0x7E there because it takes -(x>>2) instead of the one's
// complement, and disagrees with the STL vectors.
func TestReferencePoints(t *testing.T) {
	ulawEnc := []struct {
		x    int16
		code byte
	}{
		{0, 0xFF}, {-1, 0x7F}, {3, 0xFF}, {-4, 0x7F}, {4, 0xFE}, {-5, 0x7E},
		{120, 0xF0}, {123, 0xF0}, {124, 0xEF}, // Table 2: decision value 31 ends segment 1
		{32123, 0x80}, {32635, 0x80}, {32767, 0x80}, {-32768, 0x00},
	}
	for _, c := range ulawEnc {
		if got := EncodeUlawSample(c.x); got != c.code {
			t.Errorf("EncodeUlawSample(%d) = %#02x, want %#02x", c.x, got, c.code)
		}
	}
	ulawDec := []struct {
		code byte
		x    int16
	}{
		{0xFF, 0}, {0x7F, 0}, {0xFE, 8}, {0x7E, -8}, {0xF0, 120}, {0xEF, 132},
		{0x80, 32124}, {0x00, -32124}, // Table 2: largest decoder output 8031
	}
	for _, c := range ulawDec {
		if got := DecodeUlawSample(c.code); got != c.x {
			t.Errorf("DecodeUlawSample(%#02x) = %d, want %d", c.code, got, c.x)
		}
	}
	alawEnc := []struct {
		x    int16
		code byte
	}{
		{0, 0xD5}, {-1, 0x55}, {15, 0xD5}, {16, 0xD4}, {-17, 0x54},
		{255, 0xDA}, {256, 0xC5}, // Table 1: 32 starts segment 2
		{32767, 0xAA}, {-32768, 0x2A},
	}
	for _, c := range alawEnc {
		if got := EncodeAlawSample(c.x); got != c.code {
			t.Errorf("EncodeAlawSample(%d) = %#02x, want %#02x", c.x, got, c.code)
		}
	}
	alawDec := []struct {
		code byte
		x    int16
	}{
		{0xD5, 8}, {0x55, -8}, {0xD4, 24}, {0xDA, 248}, {0xC5, 264},
		{0xAA, 32256}, {0x2A, -32256}, // Table 1: largest decoder output 4032
	}
	for _, c := range alawDec {
		if got := DecodeAlawSample(c.code); got != c.x {
			t.Errorf("DecodeAlawSample(%#02x) = %d, want %d", c.code, got, c.x)
		}
	}
}

// segment describes one G.711 segment in 16-bit units: the lower decision
// value of its first interval and the interval width.
type segment struct{ lo, step int }

// The segment tables, written from G.711 Tables 1 and 2 rather than from the
// implementation's shifts. µ-law segment 1 starts at -1 in uniform units so
// that its first interval is the half-width [0, 1) of Table 2.
var (
	ulawSegs = func() (s [8]segment) {
		lo := []int{-1, 31, 95, 223, 479, 991, 2015, 4063} // Table 2, uniform units
		for k := range s {
			s[k] = segment{4 * lo[k], 4 * (2 << k)}
		}
		return s
	}()
	alawSegs = func() (s [8]segment) {
		lo := []int{0, 32, 64, 128, 256, 512, 1024, 2048} // Table 1, uniform units
		step := []int{2, 2, 4, 8, 16, 32, 64, 128}
		for k := range s {
			s[k] = segment{8 * lo[k], 8 * step[k]}
		}
		return s
	}()
)

const ulawMaxDecision = 4 * 8159 // Table 2: inputs above this are clipped to the last code

// oracle finds, by searching the segment table, the magnitude index q
// (segment*16 + interval) and the decoder output for magnitude mag.
func oracle(segs [8]segment, mag int) (q int, out int) {
	for k := 7; k >= 0; k-- {
		s := segs[k]
		if mag >= s.lo || k == 0 {
			m := (mag - s.lo) / s.step
			if m > 15 {
				m = 15 // only reachable above µ-law's last decision value
			}
			lo := s.lo + m*s.step
			return k*16 + m, lo + s.step/2
		}
	}
	panic("unreachable")
}

func magnitude(x int16) (mag int, neg bool) {
	if x < 0 {
		return int(^x), true
	}
	return int(x), false
}

func TestEncodeMatchesTables(t *testing.T) {
	for _, x := range sweep() {
		mag, neg := magnitude(x)

		q, out := oracle(ulawSegs, mag)
		want := byte(0xFF) ^ byte(q)
		wantX := out
		if neg {
			want = 0x7F ^ byte(q)
			wantX = -out
		}
		if got := EncodeUlawSample(x); got != want {
			t.Fatalf("µ-law: EncodeUlawSample(%d) = %#02x, table says %#02x", x, got, want)
		}
		if got := DecodeUlawSample(want); int(got) != wantX {
			t.Fatalf("µ-law: DecodeUlawSample(%#02x) = %d, table says %d", want, got, wantX)
		}

		q, out = oracle(alawSegs, mag)
		want = (0x80 | byte(q)) ^ 0x55
		wantX = out
		if neg {
			want = byte(q) ^ 0x55
			wantX = -out
		}
		if got := EncodeAlawSample(x); got != want {
			t.Fatalf("A-law: EncodeAlawSample(%d) = %#02x, table says %#02x", x, got, want)
		}
		if got := DecodeAlawSample(want); int(got) != wantX {
			t.Fatalf("A-law: DecodeAlawSample(%#02x) = %d, table says %d", want, got, wantX)
		}
	}
}

func halfStep(segs [8]segment, mag int) int {
	for k := 7; k >= 0; k-- {
		if mag >= segs[k].lo {
			return segs[k].step / 2
		}
	}
	return segs[0].step / 2
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// TestRoundTripError checks every input: the decoded value is within half a
// quantisation step of the input, except where µ-law clips.
func TestRoundTripError(t *testing.T) {
	var maxU, maxA int
	for _, x := range sweep() {
		mag, _ := magnitude(x)

		du := int(DecodeUlawSample(EncodeUlawSample(x)))
		errU := abs(du - int(x))
		if mag >= ulawMaxDecision {
			if abs(du) != 32124 {
				t.Fatalf("µ-law: %d beyond the last decision value decodes to %d, want ±32124", x, du)
			}
		} else if h := halfStep(ulawSegs, mag); errU > h {
			t.Fatalf("µ-law: %d -> %d, error %d > half step %d", x, du, errU, h)
		} else {
			maxU = max(maxU, errU)
		}

		da := int(DecodeAlawSample(EncodeAlawSample(x)))
		errA := abs(da - int(x))
		if h := halfStep(alawSegs, mag); errA > h {
			t.Fatalf("A-law: %d -> %d, error %d > half step %d", x, da, errA, h)
		}
		maxA = max(maxA, errA)
	}
	if maxU != 512 || maxA != 512 {
		t.Errorf("largest in-range error: µ-law %d, A-law %d; want 512 (half of the top segment's step)", maxU, maxA)
	}
}

// TestDecodeMonotonic walks the 256 codes in quantiser order: µ-law 0xFF
// down to 0x80 rises from 0 to the maximum and 0x7F down to 0x00 falls; for
// A-law the order is the code with the even bits re-inverted.
func TestDecodeMonotonic(t *testing.T) {
	for q := 0; q < 128; q++ {
		pu, nu := DecodeUlawSample(0xFF^byte(q)), DecodeUlawSample(0x7F^byte(q))
		pa, na := DecodeAlawSample((0x80|byte(q))^0x55), DecodeAlawSample(byte(q)^0x55)
		if pu != -nu || pa != -na {
			t.Fatalf("q=%d: decoding is not symmetric: µ %d/%d A %d/%d", q, pu, nu, pa, na)
		}
		if q > 0 {
			if prev := DecodeUlawSample(0xFF ^ byte(q-1)); pu <= prev {
				t.Fatalf("µ-law not increasing at q=%d: %d after %d", q, pu, prev)
			}
			if prev := DecodeAlawSample((0x80 | byte(q-1)) ^ 0x55); pa <= prev {
				t.Fatalf("A-law not increasing at q=%d: %d after %d", q, pa, prev)
			}
		}
	}
}

// TestCodeIdempotent: a decoded value re-encodes to the same code, so
// decoding and re-encoding (e.g. mixing silence into a stream) is lossless.
// The one exception is µ-law's negative zero, which comes back positive.
func TestCodeIdempotent(t *testing.T) {
	for c := 0; c < 256; c++ {
		want := byte(c)
		if c == 0x7F {
			want = 0xFF
		}
		if got := EncodeUlawSample(DecodeUlawSample(byte(c))); got != want {
			t.Errorf("µ-law %#02x -> %d -> %#02x", c, DecodeUlawSample(byte(c)), got)
		}
		if got := EncodeAlawSample(DecodeAlawSample(byte(c))); got != byte(c) {
			t.Errorf("A-law %#02x -> %d -> %#02x", c, DecodeAlawSample(byte(c)), got)
		}
	}
}

func TestTranscode(t *testing.T) {
	var aIdentity int
	for c := 0; c < 256; c++ {
		u := byte(c)
		a := UlawToAlawSample(u)
		if a != EncodeAlawSample(DecodeUlawSample(u)) {
			t.Fatalf("UlawToAlawSample(%#02x) is not via linear", u)
		}
		x := int(DecodeUlawSample(u))
		mag, _ := magnitude(int16(x))
		if e := abs(int(DecodeAlawSample(a)) - x); e > halfStep(alawSegs, mag) {
			t.Errorf("µ %#02x (%d) -> A %#02x (%d): error %d", u, x, a, DecodeAlawSample(a), e)
		}

		al := byte(c)
		u2 := AlawToUlawSample(al)
		if u2 != EncodeUlawSample(DecodeAlawSample(al)) {
			t.Fatalf("AlawToUlawSample(%#02x) is not via linear", al)
		}
		back := UlawToAlawSample(u2)
		if back == al {
			aIdentity++
			continue
		}
		// Where an A-law interval straddles a µ-law decision value the
		// tandem lands on the neighbouring A-law code, never further.
		q0, q1 := int((al^0x55)&0x7F), int((back^0x55)&0x7F)
		if (al^back)&0x80 != 0 || abs(q1-q0) != 1 {
			t.Errorf("A %#02x -> µ %#02x -> A %#02x: not the adjacent code", al, u2, back)
		}
	}
	// Transcoding via linear PCM is not G.711's Tables 3/4: A -> µ -> A
	// keeps 240 of 256 codes (8 per sign move to the adjacent code). Pin the
	// number so a change in either quantiser shows up here.
	if aIdentity != 240 {
		t.Errorf("A -> µ -> A preserved %d of 256 codes, want 240", aIdentity)
	}
	src := []byte{0xFF, 0x7F, 0x80, 0x00, 0xEF}
	got := UlawToAlaw(src, []byte{1})
	if len(got) != 6 || got[0] != 1 {
		t.Fatalf("UlawToAlaw did not append: %x", got)
	}
	back := AlawToUlaw(got[1:], nil)
	if len(back) != len(src) {
		t.Fatalf("AlawToUlaw length %d", len(back))
	}
}

func TestAppendNoAlloc(t *testing.T) {
	pcm := make([]int16, 160)
	enc := make([]byte, 0, 160)
	dec := make([]int16, 0, 160)
	tc := make([]byte, 0, 160)
	allocs := testing.AllocsPerRun(100, func() {
		enc = EncodeUlaw(pcm, enc[:0])
		dec = DecodeUlaw(enc, dec[:0])
		enc = EncodeAlaw(pcm, enc[:0])
		dec = DecodeAlaw(enc, dec[:0])
		tc = UlawToAlaw(enc, tc[:0])
		tc = AlawToUlaw(enc, tc[:0])
	})
	if allocs != 0 {
		t.Errorf("%v allocations per frame with capacity available, want 0", allocs)
	}
	// Appending keeps what is already there.
	out := EncodeAlaw([]int16{0, -1}, []byte("hdr"))
	if string(out[:3]) != "hdr" || out[3] != 0xD5 || out[4] != 0x55 {
		t.Errorf("EncodeAlaw append = %x", out)
	}
}

func TestCodec(t *testing.T) {
	for _, c := range []struct {
		name   string
		codec  Codec
		pt     uint8
		rtpmap string
		silent byte
	}{
		{"PCMU", PCMU, 0, "PCMU/8000", 0xFF},
		{"pcma", PCMA, 8, "PCMA/8000", 0xD5},
	} {
		got, ok := ByName(c.name)
		if !ok || got != c.codec {
			t.Fatalf("ByName(%q) = %v, %v", c.name, got, ok)
		}
		if byPT, ok := ByPayloadType(c.pt); !ok || byPT != c.codec {
			t.Errorf("ByPayloadType(%d) = %v, %v", c.pt, byPT, ok)
		}
		if got.PayloadType() != c.pt || got.ClockRate() != 8000 || got.RTPMap() != c.rtpmap || !got.Valid() {
			t.Errorf("%v: pt %d rate %d rtpmap %q", got, got.PayloadType(), got.ClockRate(), got.RTPMap())
		}
		if s := got.Encode([]int16{0}, nil); s[0] != c.silent || got.Silence() != c.silent {
			t.Errorf("%v: silence %#02x / %#02x, want %#02x", got, s[0], got.Silence(), c.silent)
		}
		pcm := []int16{0, 1000, -1000, 32767, -32768}
		dec := got.Decode(got.Encode(pcm, nil), nil)
		for i := range pcm {
			if abs(int(dec[i])-int(pcm[i])) > 644 {
				t.Errorf("%v: %d -> %d", got, pcm[i], dec[i])
			}
		}
	}
	for _, name := range []string{"", "G722", "PCMU/8000", "telephone-event"} {
		if c, ok := ByName(name); ok {
			t.Errorf("ByName(%q) = %v, want not found", name, c)
		}
	}
	for _, pt := range []uint8{3, 9, 18, 101} {
		if c, ok := ByPayloadType(pt); ok {
			t.Errorf("ByPayloadType(%d) = %v, want not found", pt, c)
		}
	}
	if Codec(9).Valid() || Codec(9).Name() != "Codec(9)" {
		t.Errorf("Codec(9): valid %v name %q", Codec(9).Valid(), Codec(9).Name())
	}
	u := PCMU.Encode([]int16{100, -100}, nil)
	if a := PCMU.Transcode(PCMA, u, nil); a[0] != UlawToAlawSample(u[0]) || a[1] != UlawToAlawSample(u[1]) {
		t.Errorf("PCMU->PCMA transcode = %x", a)
	}
	if same := PCMA.Transcode(PCMA, []byte{1, 2}, nil); string(same) != "\x01\x02" {
		t.Errorf("PCMA->PCMA = %x", same)
	}
	defer func() {
		if recover() == nil {
			t.Error("Encode on an invalid codec did not panic")
		}
	}()
	Codec(3).Encode(nil, nil)
}

func ExampleCodec() {
	c, _ := ByName("pcmu") // from a=rtpmap:0 PCMU/8000
	payload := c.Encode([]int16{0, 1000, -1000}, nil)
	fmt.Printf("%s pt=%d %x\n", c, c.PayloadType(), payload)
	// Output: PCMU pt=0 ffce4e
}
