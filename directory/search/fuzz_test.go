package search

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func FuzzFold(f *testing.F) {
	for _, s := range []string{"Kari Ødegård-Hansen", "Aasen", "aaa", "A\u030Asen", "O'Brien", "Strauß", "Jönsson"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k := Fold(s)
		if !utf8.ValidString(k) {
			t.Fatalf("Fold(%q) = %q: invalid UTF-8", s, k)
		}
		if Fold(k) != k {
			t.Fatalf("Fold not idempotent: %q -> %q -> %q", s, k, Fold(k))
		}
		if strings.HasPrefix(k, " ") || strings.HasSuffix(k, " ") || strings.Contains(k, "  ") || strings.Contains(k, "aa") {
			t.Fatalf("Fold(%q) = %q: bad spacing or aa", s, k)
		}
		for _, r := range k {
			if r != ' ' && unicode.ToLower(r) != r {
				t.Fatalf("Fold(%q) = %q: %q is not lower case", s, k, r)
			}
		}
		if c := Compare(s, k); c != 0 {
			t.Fatalf("Compare(%q, Fold) = %d, want 0", s, c)
		}
	})
}

func FuzzSearch(f *testing.F) {
	ix := NewIndex(phoneBook)
	byID := map[int64]Entry{}
	for _, e := range phoneBook {
		byID[e.ID] = e
	}
	for _, s := range []string{"odegaard", "4717", "+47 2233", "bjo", "kari skole", ""} {
		f.Add(s, true, false, 0, 0)
	}
	f.Fuzz(func(t *testing.T, text string, internal, switchboard bool, limit, offset int) {
		q := Query{Text: text, Internal: internal, Switchboard: switchboard, Limit: limit, Offset: offset}
		hits, total := ix.Search(q)
		if len(hits) > total || len(hits) > MaxLimit {
			t.Fatalf("%+v: %d hits, total %d", q, len(hits), total)
		}
		_, isNumber := numberQuery(text)
		for i, h := range hits {
			e := byID[h.Entry.ID]
			switch e.Visibility {
			case VisibilityInternal:
				if !internal && !switchboard {
					t.Fatalf("%+v: internal entry %d visible", q, e.ID)
				}
			case VisibilitySecret:
				if !switchboard || isNumber {
					t.Fatalf("%+v: secret entry %d found", q, e.ID)
				}
			}
			if i > 0 && h.Score > hits[i-1].Score {
				t.Fatalf("%+v: hits not sorted by score", q)
			}
		}
	})
}
