package main

import (
	"bytes"
	"encoding/binary"
	"math"
	"testing"
)

func sine(hz float64, rate, n int, amp float64) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = amp * math.Sin(2*math.Pi*hz*float64(i)/float64(rate))
	}
	return x
}

// power returns the mean square of x at hz (Goertzel), scaled so a pure
// tone of amplitude a gives a²/2, the tone's own mean square.
func power(x []float64, hz float64, rate int) float64 {
	w := 2 * math.Pi * hz / float64(rate)
	c := 2 * math.Cos(w)
	var s1, s2 float64
	for _, v := range x {
		s1, s2 = v+c*s1-s2, s1
	}
	return 2 * (s1*s1 + s2*s2 - c*s1*s2) / float64(len(x)*len(x))
}

func meanSquare(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v * v
	}
	return s / float64(len(x))
}

// A tone in the telephone band passes at its level and frequency; a tone
// between the cut-off and espeak-ng's Nyquist frequency is removed rather
// than folded back to a different pitch.
func TestResample(t *testing.T) {
	const in = 22050
	y := resample(sine(1000, in, in, 0.5), in)
	if len(y) != outRate-1 && len(y) != outRate {
		t.Fatalf("1 s at %d Hz became %d samples, want %d", in, len(y), outRate)
	}
	mid := y[200 : len(y)-200] // away from the edges, where taps run out
	if p := power(mid, 1000, outRate); math.Abs(10*math.Log10(p/0.125)) > 0.1 {
		t.Errorf("1 kHz: %.2f dB from the input level, want within 0.1", 10*math.Log10(p/0.125))
	}
	if f := power(mid, 1000, outRate) / meanSquare(mid); f < 0.99 {
		t.Errorf("1 kHz: %.3f of the power at 1 kHz, want nearly all", f)
	}

	// 5 kHz would alias to 3 kHz if the filter let it through.
	y = resample(sine(5000, in, in, 0.5), in)
	mid = y[200 : len(y)-200]
	if db := 10 * math.Log10(meanSquare(mid)/0.125); db > -60 {
		t.Errorf("5 kHz: %.1f dB left after resampling, want below -60", db)
	}
}

func TestTrim(t *testing.T) {
	silence := make([]float64, 4000) // 0.5 s
	tone := sine(440, outRate, 800, 0.5)
	var x []float64
	x = append(x, silence...)
	x = append(x, tone...)
	x = append(x, silence...) // an inner pause longer than maxGapMS
	x = append(x, tone...)
	x = append(x, silence...)

	y := trim(x)
	gap := maxGapMS * outRate / 1000
	lead, tail := leadMS*outRate/1000, tailMS*outRate/1000
	// The tone starts and ends on zero crossings, which count as quiet, so
	// the length is off by a sample or two.
	want := 2*len(tone) + gap + lead + tail
	if n := len(y); n < want-4 || n > want+4 {
		t.Errorf("trimmed to %d samples, want %d", n, want)
	}
	if y[0] != 0 || y[len(y)-1] != 0 {
		t.Errorf("ends %v, %v: want faded to zero", y[0], y[len(y)-1])
	}
	if trim(make([]float64, 100)) != nil {
		t.Error("all-silent input should trim to nothing")
	}
}

func TestNormalise(t *testing.T) {
	// A steady tone has a crest factor of 3 dB, so the RMS target governs.
	x := sine(440, outRate, 1600, 0.01)
	normalise(x)
	if db := 10 * math.Log10(meanSquare(x)); math.Abs(db-targetDBFS) > 0.1 {
		t.Errorf("tone normalised to %.2f dBFS RMS, want %v", db, targetDBFS)
	}
	// A lone spike would go far past full scale at the RMS target: the
	// ceiling governs.
	x = sine(440, outRate, 1600, 0.01)
	x[800] = 0.2
	normalise(x)
	if db := 20 * math.Log10(peak(x)); math.Abs(db-ceilingDBFS) > 0.01 {
		t.Errorf("spike normalised to %.2f dBFS peak, want %v", db, ceilingDBFS)
	}
}

func TestReadPCM(t *testing.T) {
	le := binary.LittleEndian
	var b bytes.Buffer
	b.WriteString("RIFF")
	binary.Write(&b, le, uint32(0xFFFFFFFF)) // espeak-ng's size when writing to a pipe
	b.WriteString("WAVEfmt ")
	binary.Write(&b, le, []uint32{16})
	binary.Write(&b, le, []uint16{1, 1})
	binary.Write(&b, le, []uint32{22050, 44100})
	binary.Write(&b, le, []uint16{2, 16})
	b.WriteString("data")
	binary.Write(&b, le, uint32(0xFFFFFFFF))
	binary.Write(&b, le, []int16{0, 16384, -32768})

	x, rate, err := readPCM(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if rate != 22050 || len(x) != 3 || x[1] != 0.5 || x[2] != -1 {
		t.Errorf("got %v at %d Hz, want [0 0.5 -1] at 22050 Hz", x, rate)
	}

	stereo := bytes.Clone(b.Bytes())
	le.PutUint16(stereo[22:], 2)
	if _, _, err := readPCM(stereo); err == nil {
		t.Error("stereo input accepted")
	}
	if _, _, err := readPCM([]byte("RIFF\x00\x00\x00\x00WAVE")); err == nil {
		t.Error("file without chunks accepted")
	}
}
