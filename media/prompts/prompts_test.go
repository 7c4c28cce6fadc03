package prompts

import (
	"bufio"
	"math"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// dBFS converts a linear level (full scale 32767) to decibels.
func dBFS(v float64) float64 { return 20 * math.Log10(v/32767) }

func rms(x []int16) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s / float64(len(x)))
}

func peakAbs(x []int16) int {
	p := 0
	for _, v := range x {
		p = max(p, int(v), -int(v))
	}
	return p
}

// readTexts parses a texts/LANG.tsv the way scripts/prompts.sh does.
func readTexts(t *testing.T, lang string) map[string]string {
	t.Helper()
	f, err := os.Open(path.Join("texts", lang+".tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	texts := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, text, ok := strings.Cut(line, "\t")
		if !ok || text == "" {
			t.Errorf("%s.tsv: line %q is not name<TAB>text", lang, line)
			continue
		}
		if _, dup := texts[name]; dup {
			t.Errorf("%s.tsv: %s listed twice", lang, name)
		}
		texts[name] = text
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return texts
}

func TestLangs(t *testing.T) {
	if got, want := Langs(), []string{EN, NB}; !slices.Equal(got, want) {
		t.Fatalf("Langs() = %v, want %v", got, want)
	}
}

// The committed files must be exactly what the text lists describe: a
// prompt added to a list without rerunning scripts/prompts.sh, or a stale
// file left behind, fails here.
func TestFilesMatchTexts(t *testing.T) {
	want := []string{beepName}
	for _, lang := range Langs() {
		texts := readTexts(t, lang)
		entries, err := files.ReadDir(lang)
		if err != nil {
			t.Fatal(err)
		}
		var embedded []string
		for _, e := range entries {
			embedded = append(embedded, strings.TrimSuffix(e.Name(), ".wav"))
		}
		slices.Sort(embedded) // ReadDir's order counts the ".wav"
		var listed []string
		for name := range texts {
			listed = append(listed, name)
		}
		slices.Sort(listed)
		if !slices.Equal(embedded, listed) {
			t.Errorf("%s: embedded files %v\ndo not match texts/%s.tsv %v", lang, embedded, lang, listed)
		}
		want = append(want, listed...)
	}
	slices.Sort(want)
	want = slices.Compact(want)
	if got := Names(); !slices.Equal(got, want) {
		t.Errorf("Names() = %v, want %v", got, want)
	}
}

// Names the voicemail code relies on, so that renaming a prompt in a text
// list does not go unnoticed until a caller hears silence.
var required = []string{
	"beep", "vm-person-unavailable", "vm-person-busy", "vm-extension",
	"vm-is-unavailable", "vm-is-busy", "vm-leave-message", "vm-message-saved",
	"vm-no-message", "vm-mailbox-full", "vm-enter-mailbox", "vm-enter-pin",
	"vm-login-incorrect", "vm-you-have", "vm-new-message", "vm-new-messages",
	"vm-saved-message", "vm-saved-messages", "vm-and", "vm-no-messages",
	"vm-main-menu", "vm-message", "vm-from", "vm-unknown-caller",
	"vm-message-menu", "vm-deleted", "vm-saved", "vm-no-more-messages",
	"vm-options-menu", "vm-temp-menu", "vm-record-greeting", "vm-greeting-saved",
	"vm-greeting-removed", "vm-new-pin", "vm-pin-changed", "vm-pin-invalid",
	"vm-invalid", "vm-goodbye", "feature-on", "feature-off", "feature-failed",
	"pickup-none",
}

func TestRequiredNames(t *testing.T) {
	all := Names()
	for _, n := range required {
		if !slices.Contains(all, n) {
			t.Errorf("prompt %q missing", n)
		}
	}
	for n := range 100 {
		for _, p := range Number(EN, n) {
			if !slices.Contains(all, p) {
				t.Errorf("Number(%d) uses missing prompt %q", n, p)
			}
		}
	}
}

// Every prompt decodes in every language and sounds like a prompt: not
// empty, not silent, not clipped, trimmed, of a length a caller will sit
// through.
func TestSamples(t *testing.T) {
	for _, lang := range Langs() {
		for _, name := range Names() {
			pcm, ok := Samples(lang, name)
			if !ok || len(pcm) == 0 {
				t.Errorf("%s/%s: missing or empty", lang, name)
				continue
			}
			d := time.Duration(len(pcm)) * time.Second / 8000
			maxDur := 8 * time.Second
			if strings.HasSuffix(name, "-menu") {
				// Menus list several choices; past 10 s callers stop
				// listening and press something.
				maxDur = 10 * time.Second
			}
			if d < 200*time.Millisecond || d > maxDur {
				t.Errorf("%s/%s: %v long, want 200ms..%v", lang, name, d, maxDur)
			}
			if r := dBFS(rms(pcm)); r < -30 {
				t.Errorf("%s/%s: RMS %.1f dBFS, want above -30 (too quiet or mostly silence)", lang, name, r)
			}
			if p := peakAbs(pcm); p > 31000 {
				t.Errorf("%s/%s: peak %d, want headroom below 31000 (clipped)", lang, name, p)
			}
			// The generator keeps 10 ms before the first sound and 30 ms
			// after the last; a long gap means trimming did not happen,
			// and chained prompts would stutter.
			const loud, edge = 328, 400 // -40 dBFS; 50 ms
			isLoud := func(v int16) bool { return v > loud || v < -loud }
			first := slices.IndexFunc(pcm, isLoud)
			last := len(pcm) - 1
			for last >= 0 && !isLoud(pcm[last]) {
				last--
			}
			if first > edge || len(pcm)-1-last > 2*edge {
				t.Errorf("%s/%s: sound from %d to %d of %d samples: leading or trailing silence not trimmed", lang, name, first, last, len(pcm))
			}
		}
	}
}

// Speech levels should match so that chained prompts do not jump in
// volume: the loudest 20 ms of each prompt within a few dB of the others.
// The generated set spans about -14 to -9 dBFS.
func TestLevelsMatch(t *testing.T) {
	for _, lang := range Langs() {
		for _, name := range Names() {
			if name == beepName {
				continue // a steady tone; TestBeep checks its level
			}
			pcm, _ := Samples(lang, name)
			var loudest float64
			for i := 0; i+160 <= len(pcm); i += 160 {
				loudest = max(loudest, rms(pcm[i:i+160]))
			}
			if l := dBFS(loudest); l < -16 || l > -6 {
				t.Errorf("%s/%s: loudest frame %.1f dBFS, want -16..-6", lang, name, l)
			}
		}
	}
}

func TestLanguagesDiffer(t *testing.T) {
	for _, name := range Names() {
		if name == beepName {
			continue
		}
		nb, _ := Samples(NB, name)
		en, _ := Samples(EN, name)
		if slices.Equal(nb, en) {
			t.Errorf("%s: nb and en are the same recording", name)
		}
	}
}

func TestFallback(t *testing.T) {
	same := func(a, b []int16) bool { return len(a) > 0 && len(a) == len(b) && &a[0] == &b[0] }
	nb, _ := Samples(NB, "vm-goodbye")
	en, _ := Samples(EN, "vm-goodbye")
	for _, tc := range []struct {
		tag  string
		want []int16
	}{
		{"nb", nb}, {"NB", nb}, {"nb-NO", nb}, {"", nb}, {"sv", nb}, {"xx-YY", nb},
		{"en", en}, {"en-GB", en}, {"en_US", en}, {"EN", en},
	} {
		got, ok := Samples(tc.tag, "vm-goodbye")
		if !ok || !same(got, tc.want) {
			t.Errorf("Samples(%q) did not give the expected language", tc.tag)
		}
	}
	if same(nb, en) {
		t.Fatal("nb and en share samples")
	}
	for _, name := range []string{"", "nope", "vm-goodbye.wav", "nb/vm-goodbye", "num-21", "num-100"} {
		if pcm, ok := Samples(NB, name); ok || pcm != nil {
			t.Errorf("Samples(nb, %q) = %d samples, %v; want nil, false", name, len(pcm), ok)
		}
	}
}

// Decoding happens once however many calls race for it; -race checks the
// lazy cache.
func TestSamplesShared(t *testing.T) {
	const workers = 8
	got := make([][]int16, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() { got[i], _ = Samples(EN, "vm-leave-message") })
	}
	wg.Wait()
	for i := 1; i < workers; i++ {
		if len(got[i]) == 0 || &got[i][0] != &got[0][0] {
			t.Fatal("concurrent callers got different copies")
		}
	}
}

// goertzel returns the power of x at frequency hz, normalised so a pure
// tone at hz gives about its total power.
func goertzel(x []int16, hz float64) float64 {
	w := 2 * math.Pi * hz / 8000
	c := 2 * math.Cos(w)
	var s1, s2 float64
	for _, v := range x {
		s1, s2 = float64(v)+c*s1-s2, s1
	}
	p := s1*s1 + s2*s2 - c*s1*s2
	return 2 * p / float64(len(x)*len(x))
}

func TestBeep(t *testing.T) {
	for _, lang := range []string{NB, EN, "xx"} {
		pcm, ok := Samples(lang, beepName)
		if !ok || len(pcm) != 3200 {
			t.Fatalf("%s: beep has %d samples, want 3200 (400 ms)", lang, len(pcm))
		}
	}
	pcm, _ := Samples(NB, beepName)
	total := rms(pcm) * rms(pcm)
	if f := goertzel(pcm, 1000) / total; f < 0.95 {
		t.Errorf("beep: %.2f of its power at 1000 Hz, want nearly all", f)
	}
	if f := goertzel(pcm, 1200) / total; f > 0.01 {
		t.Errorf("beep: %.3f of its power at 1200 Hz, want a pure tone", f)
	}
	if l := dBFS(rms(pcm)); l < -17 || l > -15 {
		t.Errorf("beep: %.1f dBFS RMS, want about -16", l)
	}
	if pcm[0] != 0 || pcm[len(pcm)-1] != 0 || peakAbs(pcm[:8]) > 2000 {
		t.Errorf("beep starts %v and ends %d: want ramps, not a click", pcm[:8], pcm[len(pcm)-1])
	}
}

func TestNumber(t *testing.T) {
	tests := []struct {
		n    int
		want []string
	}{
		{0, []string{"num-0"}},
		{7, []string{"num-7"}},
		{13, []string{"num-13"}},
		{20, []string{"num-20"}},
		{21, []string{"num-20", "num-1"}},
		{45, []string{"num-40", "num-5"}},
		{70, []string{"num-70"}},
		{99, []string{"num-90", "num-9"}},
		{100, []string{"num-1", "num-0", "num-0"}},
		{1234, []string{"num-1", "num-2", "num-3", "num-4"}},
		{-1, []string{"num-1"}},
		{-42, []string{"num-4", "num-2"}},
	}
	for _, lang := range []string{NB, EN} {
		for _, tc := range tests {
			if got := Number(lang, tc.n); !slices.Equal(got, tc.want) {
				t.Errorf("Number(%s, %d) = %v, want %v", lang, tc.n, got, tc.want)
			}
		}
	}
}

func TestDigits(t *testing.T) {
	tests := []struct {
		s    string
		want []string
	}{
		{"101", []string{"num-1", "num-0", "num-1"}},
		{"+47 22-33", []string{"num-4", "num-7", "num-2", "num-2", "num-3", "num-3"}},
		{"0", []string{"num-0"}},
		{"*#ab", nil},
		{"", nil},
		{"٣", nil}, // an Arabic-Indic digit is not a DTMF digit
	}
	for _, tc := range tests {
		if got := Digits(tc.s); !slices.Equal(got, tc.want) {
			t.Errorf("Digits(%q) = %v, want %v", tc.s, got, tc.want)
		}
	}
}

func TestNamesIsACopy(t *testing.T) {
	a := Names()
	a[0] = "changed"
	if Names()[0] == "changed" {
		t.Fatal("Names returns the package's own slice")
	}
}
