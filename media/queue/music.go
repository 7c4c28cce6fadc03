package queue

import "math"

// sampleRate is the media's rate: 8 kHz linear PCM.
const sampleRate = 8000

// Music levels: hold music sits a little under the prompts (-16 dBFS) so
// an announcement stands out without startling.
const musicRMSdBFS = -18

// holdMusic synthesises the hold music: a 10 s loop of soft sine-tone
// arpeggios over a quiet pad, C - Am - F - G at 2.5 s a chord. Every note
// is written modulo the loop length, so a tail that rings past the end
// sounds at the start and the loop has no seam. It is made once per
// Switchboard (about 160 kB) and is our own, so no licence applies.
func holdMusic() []int16 {
	const (
		loopSec  = 10
		n        = loopSec * sampleRate
		chordLen = n / 4
		noteLen  = chordLen / 8
	)
	// MIDI note numbers; all between C4 (262 Hz) and C6 (1047 Hz), well
	// inside the telephone band.
	chords := [4][3]int{{60, 64, 67}, {57, 60, 64}, {53, 57, 60}, {55, 59, 62}}
	hz := func(midi int) float64 { return 440 * math.Pow(2, float64(midi-69)/12) }
	buf := make([]float64, n)

	// note adds a sine (with a little second harmonic, for warmth) with a
	// 15 ms attack and an exponential decay of the given time constant.
	note := func(start int, f float64, amp, decay float64, length int) {
		attack := 0.015 * sampleRate
		for i := range length {
			t := float64(i) / sampleRate
			env := math.Min(1, float64(i)/attack) * math.Exp(-t/decay)
			// fade the last 50 ms to zero so a note never clicks off
			if rest := length - i; rest < sampleRate/20 {
				env *= float64(rest) / (sampleRate / 20)
			}
			ph := 2 * math.Pi * f * t
			buf[(start+i)%n] += amp * env * (math.Sin(ph) + 0.15*math.Sin(2*ph))
		}
	}
	arp := [8]int{0, 1, 2, 3, 2, 1, 2, 1} // index into chord; 3 = root an octave up
	for c, ch := range chords {
		base := c * chordLen
		// pad: the chord an octave below the arpeggio's top, slow swell
		for _, m := range ch {
			f := hz(m)
			for i := range chordLen + sampleRate/2 { // overlap into the next chord
				t := float64(i) / sampleRate
				env := math.Sin(math.Pi * math.Min(1, float64(i)/float64(chordLen+sampleRate/2)))
				buf[(base+i)%n] += 0.12 * env * math.Sin(2*math.Pi*f*t)
			}
		}
		for k, idx := range arp {
			m := ch[idx%3]
			if idx == 3 {
				m = ch[0] + 12
			}
			note(base+k*noteLen, hz(m+12), 0.5, 0.35, noteLen*3)
		}
	}
	return normalise(buf, musicRMSdBFS)
}

// ringback is the Norwegian ring-back tone, 425 Hz, 1 s on and 4 s off,
// at -18 dBFS; one 5 s cycle.
func ringback() []int16 {
	const n = 5 * sampleRate
	buf := make([]float64, n)
	ramp := 0.01 * sampleRate
	for i := range sampleRate {
		g := math.Min(1, math.Min(float64(i)/ramp, float64(sampleRate-1-i)/ramp))
		buf[i] = g * math.Sin(2*math.Pi*425*float64(i)/sampleRate)
	}
	// level the tone itself (not the silence) to the target
	pcm := normalise(buf[:sampleRate], musicRMSdBFS)
	out := make([]int16, n)
	copy(out, pcm)
	return out
}

// normalise scales x to the RMS level (dBFS, full scale 32767) and
// converts it, with a soft limit at -1 dBFS peak.
func normalise(x []float64, dBFS float64) []int16 {
	var sum float64
	for _, v := range x {
		sum += v * v
	}
	rms := math.Sqrt(sum / float64(len(x)))
	gain := 0.0
	if rms > 0 {
		gain = 32767 * math.Pow(10, dBFS/20) / rms
	}
	limit := 32767 * math.Pow(10, -1.0/20)
	out := make([]int16, len(x))
	for i, v := range x {
		y := v * gain
		if a := math.Abs(y); a > limit*0.8 {
			// tanh knee above 80 % of the limit
			k := limit * 0.8
			y = math.Copysign(k+(limit-k)*math.Tanh((a-k)/(limit-k)), y)
		}
		out[i] = int16(math.Round(y))
	}
	return out
}
