// Package prompts holds the voice prompts that voicemail and feature codes
// play, in Norwegian Bokmål and English. They are generated with espeak-ng
// by scripts/prompts.sh and committed as 8 kHz G.711 µ-law WAV files, then
// embedded, so a server never synthesises or downloads speech and every
// installation sounds the same.
//
// Prompts are short on purpose and chained by the caller: "Extension",
// the digits, "is not available" is vm-extension, Digits("101"),
// vm-is-unavailable.
package prompts

import (
	"bytes"
	"embed"
	"math"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/sentralpbx/sentral/media/wav"
)

// Languages with a full set of prompts.
const (
	NB      = "nb" // Norwegian Bokmål
	EN      = "en" // English (British voice)
	Default = NB   // used for languages without prompts
)

// beepName is the record tone: a pure tone rather than speech, so it is
// made here and is the same in every language.
const beepName = "beep"

//go:embed nb/*.wav en/*.wav
var files embed.FS

// index maps language, then prompt name, to a decoder that runs on first
// use. Decoding everything at start-up would cost a few MB of memory for
// prompts a small office never hears. Built once at init and only read
// after that, so no lock is needed.
var index, names = buildIndex()

func buildIndex() (map[string]map[string]func() []int16, []string) {
	idx := make(map[string]map[string]func() []int16)
	seen := map[string]bool{beepName: true}
	for _, lang := range []string{NB, EN} {
		entries, err := files.ReadDir(lang)
		if err != nil {
			// The embed pattern guarantees the directory; a failure here
			// is a broken build, not a run-time condition.
			panic("prompts: " + err.Error())
		}
		m := make(map[string]func() []int16, len(entries))
		for _, e := range entries {
			name := strings.TrimSuffix(e.Name(), ".wav")
			m[name] = sync.OnceValue(decoder(path.Join(lang, e.Name())))
			seen[name] = true
		}
		idx[lang] = m
	}
	all := make([]string, 0, len(seen))
	for n := range seen {
		all = append(all, n)
	}
	sort.Strings(all)
	return idx, all
}

// decoder returns a function that decodes one embedded file. A file that
// does not decode yields nil, which Samples reports as a missing prompt:
// a voicemail call should go on without the prompt rather than take the
// server down, and the tests decode every file.
func decoder(file string) func() []int16 {
	return func() []int16 {
		b, err := files.ReadFile(file)
		if err != nil {
			return nil
		}
		_, pcm, err := wav.Read(bytes.NewReader(b))
		if err != nil || len(pcm) == 0 {
			return nil
		}
		return pcm
	}
}

// beep is 1000 Hz for 400 ms with 10 ms ramps, which keep the tone from
// clicking on and off. At 8 kHz a cycle is exactly 8 samples, so the tone
// has no rounding drift. The level is the speech target, -16 dBFS RMS.
var beep = sync.OnceValue(func() []int16 {
	const (
		n    = wav.SampleRate * 400 / 1000
		ramp = wav.SampleRate * 10 / 1000
		hz   = 1000
	)
	amp := 32767 * math.Pow(10, -16.0/20) * math.Sqrt2
	pcm := make([]int16, n)
	for i := range pcm {
		g := min(1, float64(i)/ramp, float64(n-1-i)/ramp)
		pcm[i] = int16(math.Round(g * amp * math.Sin(2*math.Pi*hz*float64(i)/wav.SampleRate)))
	}
	return pcm
})

// pick chooses the prompt language for a language tag: its primary subtag
// ("en-GB" and "en_US" are English), or Default.
func pick(tag string) string {
	tag = strings.ToLower(tag)
	if i := strings.IndexAny(tag, "-_"); i >= 0 {
		tag = tag[:i]
	}
	if _, ok := index[tag]; ok {
		return tag
	}
	return Default
}

// Samples returns a prompt as 8 kHz linear PCM, or false if there is no
// such prompt. The slice is shared by every caller and must not be modified.
func Samples(langTag, name string) ([]int16, bool) {
	if name == beepName {
		return beep(), true
	}
	dec, ok := index[pick(langTag)][name]
	if !ok {
		return nil, false
	}
	pcm := dec()
	return pcm, pcm != nil
}

// Names returns every prompt name, sorted.
func Names() []string { return append([]string(nil), names...) }

// Langs returns the languages that have prompts, sorted.
func Langs() []string {
	l := make([]string, 0, len(index))
	for k := range index {
		l = append(l, k)
	}
	sort.Strings(l)
	return l
}

// Number returns the prompt names that say n: as a number from 0 to 99,
// otherwise digit by digit (a minus sign is not spoken). Both languages
// put the tens before the units ("tjue" "en", "twenty" "one"); langTag is
// there for a language that does not.
func Number(langTag string, n int) []string {
	switch {
	case n < 0 || n > 99:
		return Digits(strconv.Itoa(n))
	case n <= 20 || n%10 == 0:
		return []string{numName(n)}
	}
	return []string{numName(n - n%10), numName(n % 10)}
}

// Digits returns the prompt names that say each digit of s, skipping
// anything that is not an ASCII digit.
func Digits(s string) []string {
	var out []string
	for _, c := range s {
		if c >= '0' && c <= '9' {
			out = append(out, numName(int(c-'0')))
		}
	}
	return out
}

func numName(n int) string { return "num-" + strconv.Itoa(n) }
