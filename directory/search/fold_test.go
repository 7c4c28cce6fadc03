package search

import (
	"slices"
	"testing"
)

func TestFold(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Kari Ødegård-Hansen", "kari ødegård hansen"},
		{"ØDEGÅRD", "ødegård"},
		{"Aasen", "åsen"},
		{"Åsen", "åsen"},
		{"Haakon  Aamodt", "håkon åmodt"},
		{"aaa", "åa"},
		{"André Müller", "andre muller"},
		{"Jönsson Bäck", "jønsson bæck"},
		{"A\u030Asen", "åsen"}, // decomposed å
		{"O'Brien", "obrien"},
		{"Strauß", "strauss"},
		{"  -Barnehage, avd. 3-  ", "barnehage avd 3"},
		{"Æsop", "æsop"},
		{"Michael", "michael"}, // "ae" is not æ
		{"", ""},
		{"\xff\xfe", ""},
	}
	for _, tt := range tests {
		if got := Fold(tt.in); got != tt.want {
			t.Errorf("Fold(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestLoose(t *testing.T) {
	for in, want := range map[string]string{"ødegård": "odegard", "ærø": "aero", "åsen": "asen", "kari": "kari"} {
		if got := loose(in); got != want {
			t.Errorf("loose(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCompare(t *testing.T) {
	// The expected phone-book order: æ, ø, å after z, and "Aasen" as "Åsen".
	want := []string{"Andersen", "berg", "Bjørnstad", "Zakariassen", "Ærø", "Østby", "Åberg", "Aasen", "Åsheim"}
	got := slices.Clone(want)
	slices.Reverse(got)
	slices.SortStableFunc(got, Compare)
	if !slices.Equal(got, want) {
		t.Errorf("sorted = %q\nwant     %q", got, want)
	}
	for _, tt := range []struct {
		a, b string
		want int
	}{
		{"kari", "KARI", 0},
		{"André", "andre", 0},
		{"Aasen", "Åsen", 0},
		{"Berg", "Berge", -1},
		{"Berg A", "Berga", -1},
		{"Öberg", "Øberg", 0},
		{"Zeta", "Ærlig", -1},
		{"Østby", "Åsen", -1},
	} {
		if got := Compare(tt.a, tt.b); got != tt.want {
			t.Errorf("Compare(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestOSADistance(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		max  int
		want int
	}{
		{"nordman", "nordmann", 1, 1},
		{"hansen", "hasnen", 1, 1}, // transposition
		{"hansen", "hansen", 1, 0},
		{"olsen", "nilsen", 1, 2},
		{"kristiansen", "kristainsen", 2, 1},
		{"kristiansen", "kristensen", 2, 2},
		{"abc", "abcdef", 2, 3},
	} {
		if got := osaDistance([]rune(tt.a), []rune(tt.b), tt.max); got != tt.want {
			t.Errorf("osaDistance(%q, %q, %d) = %d, want %d", tt.a, tt.b, tt.max, got, tt.want)
		}
	}
}
