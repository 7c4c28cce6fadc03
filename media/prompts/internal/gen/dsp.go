package main

import "math"

// Filter and level parameters. The cut-off sits below 4 kHz by more than the
// transition band, so nothing above the 8 kHz Nyquist frequency folds back
// into the telephone band as a metallic whistle.
const (
	cutoffHz   = 3600.0 // middle of the anti-alias transition band
	halfTaps   = 96     // filter half-length in input samples; wider is steeper
	kaiserBeta = 8.0    // about 80 dB stop-band attenuation
)

// Level parameters. Speech is set to a loudness rather than a peak so that
// prompts played back to back ("Extension" "one" "is not available") match;
// the peak ceiling keeps a margin below µ-law's largest code.
const (
	targetDBFS  = -16.0 // RMS of the voiced 20 ms frames
	ceilingDBFS = -1.0  // highest peak allowed after gain
	activeDB    = -35.0 // frames this far below the loudest are pauses
	frameLen    = 160   // 20 ms at 8 kHz
)

// Trimming parameters. A little lead-in and tail is kept because the player
// chains prompts without gaps, and words cut to the first sample sound
// clipped; longer pauses are the caller's to add.
const (
	trimDB   = -40.0 // below this (relative to the peak) counts as silence
	leadMS   = 10
	tailMS   = 30
	fadeMS   = 5
	maxGapMS = 200 // espeak-ng's sentence pauses are longer than a phone menu needs
)

const outRate = 8000

// resample converts x from inRate to outRate with a Kaiser-windowed sinc,
// which low-pass filters and interpolates in one pass. Each output sample's
// taps are normalised to unit DC gain, so the level does not ripple with the
// fractional position.
func resample(x []float64, inRate int) []float64 {
	if inRate == outRate {
		return append([]float64(nil), x...)
	}
	step := float64(inRate) / outRate
	fc := cutoffHz / float64(inRate) // cycles per input sample
	if lim := 0.5 / step; fc > lim {
		// Upsampling or a small ratio: the input's own band is the limit.
		fc = lim
	}
	n := int(float64(len(x)) / step)
	y := make([]float64, n)
	i0 := bessel0(kaiserBeta)
	for j := range y {
		t := float64(j) * step
		lo := max(int(math.Ceil(t-halfTaps)), 0)
		hi := min(int(math.Floor(t+halfTaps)), len(x)-1)
		var acc, gain float64
		for k := lo; k <= hi; k++ {
			d := t - float64(k)
			r := d / halfTaps
			w := bessel0(kaiserBeta*math.Sqrt(max(0, 1-r*r))) / i0
			h := w * sinc(2*fc*d)
			acc += h * x[k]
			gain += h
		}
		if gain != 0 {
			y[j] = acc / gain
		}
	}
	return y
}

func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	return math.Sin(math.Pi*x) / (math.Pi * x)
}

// bessel0 is the modified Bessel function of the first kind, order zero,
// by its power series; it converges fast for the arguments a Kaiser window
// uses.
func bessel0(x float64) float64 {
	sum, term := 1.0, 1.0
	for k := 1; k < 50; k++ {
		term *= (x / 2) / float64(k)
		sum += term * term
		if term*term < sum*1e-17 {
			break
		}
	}
	return sum
}

func peak(x []float64) float64 {
	var p float64
	for _, v := range x {
		p = max(p, math.Abs(v))
	}
	return p
}

func dbToRatio(db float64) float64 { return math.Pow(10, db/20) }

// trim cuts leading and trailing silence, keeping a short margin, and
// shortens inner pauses longer than maxGapMS to that length.
func trim(x []float64) []float64 {
	p := peak(x)
	if p == 0 {
		return nil
	}
	th := p * dbToRatio(trimDB)
	first, last := -1, -1
	for i, v := range x {
		if math.Abs(v) > th {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	lead := leadMS * outRate / 1000
	tail := tailMS * outRate / 1000
	start := max(first-lead, 0)
	end := min(last+tail+1, len(x))
	x = x[start:end]

	// Pauses are found as runs of quiet samples; a run is cut in its
	// middle, where it is quietest, so the ends of words stay whole.
	maxGap := maxGapMS * outRate / 1000
	out := make([]float64, 0, len(x))
	quiet := 0
	for i, v := range x {
		if math.Abs(v) <= th {
			quiet++
			continue
		}
		if quiet > 0 {
			run := x[i-quiet : i]
			if quiet > maxGap {
				out = append(out, run[:maxGap/2]...)
				out = append(out, run[quiet-maxGap/2:]...)
			} else {
				out = append(out, run...)
			}
			quiet = 0
		}
		out = append(out, v)
	}
	out = append(out, x[len(x)-quiet:]...)
	fade(out, fadeMS*outRate/1000)
	return out
}

// fade ramps the first and last n samples, so a margin that starts on a
// non-zero sample does not click.
func fade(x []float64, n int) {
	n = min(n, len(x)/2)
	for i := range n {
		g := float64(i) / float64(n)
		x[i] *= g
		x[len(x)-1-i] *= g
	}
}

// activeRMS is the RMS of the 20 ms frames that hold speech: measuring over
// pauses too would make short words louder than sentences.
func activeRMS(x []float64) float64 {
	var frames []float64
	var loudest float64
	for i := 0; i+frameLen <= len(x); i += frameLen {
		var e float64
		for _, v := range x[i : i+frameLen] {
			e += v * v
		}
		e /= frameLen
		frames = append(frames, e)
		loudest = max(loudest, e)
	}
	if loudest == 0 {
		return 0
	}
	floor := loudest * dbToRatio(2*activeDB) // energies: 20 dB is a factor 100
	var sum float64
	var n int
	for _, e := range frames {
		if e >= floor {
			sum += e
			n++
		}
	}
	return math.Sqrt(sum / float64(n))
}

// normalise scales x (full scale 1.0) to the target loudness, or less if
// the peak would exceed the ceiling.
func normalise(x []float64) {
	r := activeRMS(x)
	p := peak(x)
	if r == 0 || p == 0 {
		return
	}
	g := min(dbToRatio(targetDBFS)/r, dbToRatio(ceilingDBFS)/p)
	for i := range x {
		x[i] *= g
	}
}

// process turns espeak-ng's output (full scale 1.0, any rate) into prompt
// samples at 8 kHz, full scale 32767.
func process(x []float64, inRate int) []int16 {
	y := trim(resample(x, inRate))
	normalise(y)
	out := make([]int16, len(y))
	for i, v := range y {
		out[i] = int16(math.Round(max(-1, min(1, v)) * 32767))
	}
	return out
}
