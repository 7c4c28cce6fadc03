// Package codec implements ITU-T G.711 (µ-law and A-law) for the media
// layer. It is written here because no G.711 module is reachable from this
// build; everything is table driven and allocation free so a busy server can
// transcode every 20 ms frame of every anchored call without GC pressure.
//
// Linear samples are 16-bit two's complement, left justified, as in the
// ITU-T G.191 reference implementation (STL g711.c): µ-law uses the top 14
// bits and A-law the top 13. Negative samples are quantised by their one's
// complement (-1 behaves like 0, -32768 like 32767), which is what makes the
// decision thresholds symmetric and the output bit-exact with the STL test
// vectors (see g711_test.go).
package codec

import "math/bits"

// Segment arithmetic constants from G.711 Tables 1 and 2.
const (
	ulawBias = 0x84 // 33 in 14-bit units, shifted to 16-bit: moves µ-law segments onto powers of two
	ulawClip = 0x1FFF
)

// Encode tables are indexed by the sample with its low bits dropped: the
// µ-law quantiser ignores the bottom 2 bits and the A-law quantiser the
// bottom 4, for both signs (since ^x>>k == ^(x>>k)). That keeps the tables at
// 16 KiB and 4 KiB, small enough to stay in L1/L2 cache.
var (
	ulawEncTable = func() (t [1 << 14]byte) {
		for i := range t {
			t[i] = ulawEncode(int16(uint16(i) << 2))
		}
		return t
	}()
	alawEncTable = func() (t [1 << 12]byte) {
		for i := range t {
			t[i] = alawEncode(int16(uint16(i) << 4))
		}
		return t
	}()
	ulawDecTable = func() (t [256]int16) {
		for i := range t {
			t[i] = ulawDecode(byte(i))
		}
		return t
	}()
	alawDecTable = func() (t [256]int16) {
		for i := range t {
			t[i] = alawDecode(byte(i))
		}
		return t
	}()
	ulawToAlawTable = func() (t [256]byte) {
		for i := range t {
			t[i] = alawEncode(ulawDecode(byte(i)))
		}
		return t
	}()
	alawToUlawTable = func() (t [256]byte) {
		for i := range t {
			t[i] = ulawEncode(alawDecode(byte(i)))
		}
		return t
	}()
)

// ulawEncode is the arithmetic µ-law quantiser used to fill the table.
func ulawEncode(x int16) byte {
	mask := byte(0xFF) // positive: all bits inverted on the line, sign bit 1
	m := int32(x)
	if m < 0 {
		m = ^m
		mask = 0x7F
	}
	biased := m>>2 + ulawBias>>2
	if biased > ulawClip {
		biased = ulawClip
	}
	// biased is in [33, 8191]: its bit length 6..13 gives segment 0..7.
	exp := bits.Len32(uint32(biased)) - 6
	mant := (biased >> (exp + 1)) & 0xF
	return byte(exp<<4|int(mant)) ^ mask
}

// ulawDecode returns the midpoint of the code's quantisation interval.
func ulawDecode(c byte) int16 {
	c = ^c
	exp := (c >> 4) & 7
	mant := int32(c & 0xF)
	mag := ((mant<<3)+ulawBias)<<exp - ulawBias
	if c&0x80 != 0 {
		return int16(-mag)
	}
	return int16(mag)
}

// alawEncode is the arithmetic A-law quantiser used to fill the table.
func alawEncode(x int16) byte {
	sign := byte(0x80)
	m := int32(x)
	if m < 0 {
		m = ^m
		sign = 0
	}
	ix := m >> 4 // 0..2047: 12-bit magnitude
	var code byte
	if ix < 16 {
		code = byte(ix) // segment 0 is linear
	} else {
		exp := bits.Len32(uint32(ix)) - 4 // 1..7
		code = byte(exp<<4) | byte(ix>>(exp-1))&0xF
	}
	return (code | sign) ^ 0x55 // G.711 inverts the even bits on the line
}

// alawDecode returns the midpoint of the code's quantisation interval.
func alawDecode(c byte) int16 {
	c ^= 0x55
	exp := (c >> 4) & 7
	mant := int32(c & 0xF)
	if exp > 0 {
		mant += 16
	}
	mag := mant<<4 + 8
	if exp > 1 {
		mag <<= exp - 1
	}
	if c&0x80 == 0 {
		return int16(-mag)
	}
	return int16(mag)
}

// EncodeUlawSample returns the µ-law code for one linear sample.
func EncodeUlawSample(x int16) byte { return ulawEncTable[uint16(x)>>2] }

// DecodeUlawSample returns the linear value of one µ-law code.
func DecodeUlawSample(c byte) int16 { return ulawDecTable[c] }

// EncodeAlawSample returns the A-law code for one linear sample.
func EncodeAlawSample(x int16) byte { return alawEncTable[uint16(x)>>4] }

// DecodeAlawSample returns the linear value of one A-law code.
func DecodeAlawSample(c byte) int16 { return alawDecTable[c] }

// UlawToAlawSample transcodes one µ-law code to A-law via linear PCM.
func UlawToAlawSample(c byte) byte { return ulawToAlawTable[c] }

// AlawToUlawSample transcodes one A-law code to µ-law via linear PCM.
func AlawToUlawSample(c byte) byte { return alawToUlawTable[c] }

// grow extends dst by n elements, reallocating only when capacity is short,
// and returns the extended slice and the new tail to fill.
func grow[T any](dst []T, n int) ([]T, []T) {
	l := len(dst)
	if cap(dst)-l < n {
		nd := make([]T, l, l+n)
		copy(nd, dst)
		dst = nd
	}
	dst = dst[:l+n]
	return dst, dst[l:]
}

// EncodeUlaw appends the µ-law encoding of pcm to dst and returns it.
func EncodeUlaw(pcm []int16, dst []byte) []byte {
	dst, out := grow(dst, len(pcm))
	for i, x := range pcm {
		out[i] = ulawEncTable[uint16(x)>>2]
	}
	return dst
}

// DecodeUlaw appends the linear decoding of µ-law codes to dst and returns it.
func DecodeUlaw(codes []byte, dst []int16) []int16 {
	dst, out := grow(dst, len(codes))
	for i, c := range codes {
		out[i] = ulawDecTable[c]
	}
	return dst
}

// EncodeAlaw appends the A-law encoding of pcm to dst and returns it.
func EncodeAlaw(pcm []int16, dst []byte) []byte {
	dst, out := grow(dst, len(pcm))
	for i, x := range pcm {
		out[i] = alawEncTable[uint16(x)>>4]
	}
	return dst
}

// DecodeAlaw appends the linear decoding of A-law codes to dst and returns it.
func DecodeAlaw(codes []byte, dst []int16) []int16 {
	dst, out := grow(dst, len(codes))
	for i, c := range codes {
		out[i] = alawDecTable[c]
	}
	return dst
}

// UlawToAlaw appends the A-law transcoding of µ-law codes to dst, for
// bridging a PCMU leg to a PCMA leg without a linear buffer in between.
func UlawToAlaw(codes []byte, dst []byte) []byte {
	dst, out := grow(dst, len(codes))
	for i, c := range codes {
		out[i] = ulawToAlawTable[c]
	}
	return dst
}

// AlawToUlaw appends the µ-law transcoding of A-law codes to dst.
func AlawToUlaw(codes []byte, dst []byte) []byte {
	dst, out := grow(dst, len(codes))
	for i, c := range codes {
		out[i] = alawToUlawTable[c]
	}
	return dst
}
