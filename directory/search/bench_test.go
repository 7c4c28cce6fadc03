package search

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

var (
	givenNames  = []string{"Kari", "Ola", "Per", "Bjørn", "Bjørnar", "Anne-Marie", "Åse", "Ingrid", "Knut", "Sigrid", "Håkon", "Øystein", "Solveig", "Jan Erik", "Nora", "Aksel", "Maja", "Ærling", "Tove", "Geir"}
	familyNames = []string{"Hansen", "Johansen", "Olsen", "Larsen", "Andersen", "Pedersen", "Nilsen", "Kristiansen", "Jensen", "Karlsen", "Ødegård", "Aasen", "Åsen", "Bjørnstad", "Ærø", "Østby", "Nordmann", "Haugen", "Berg", "Dahl", "Lie", "Strand", "Moen", "Bakken", "Solberg"}
	titles      = []string{"Rådgiver", "Konsulent", "Lærer", "Barnehagelærer", "Sykepleier", "Saksbehandler", "Ingeniør", "Vaktmester", "Leder", "Fagarbeider"}
	departments = []string{"Økonomi", "Solsiden barnehage", "Rådhuset", "Helsestasjon", "Teknisk drift", "Barnevern", "Skole", "Hjemmetjenesten", "Plan og bygg", "NAV"}
	queries     = []string{"hansen", "odegaard", "aasen", "bjørn", "bjorn", "kari hansen", "nordman", "kristensen", "barnehage", "anne-marie berg", "22 3", "+47 9", "4711", "øst", "sol", "håkon lie"}
)

// benchIndex builds a 100,000-entry phone book once per test binary.
var benchIndex = sync.OnceValue(func() *Index {
	r := rand.New(rand.NewPCG(1, 2))
	pick := func(s []string) string { return s[r.IntN(len(s))] }
	entries := make([]Entry, 100_000)
	vis := []string{"listed", "listed", "listed", "internal", "secret"}
	for i := range entries {
		g, f := pick(givenNames), pick(familyNames)
		if r.IntN(5) == 0 {
			f += "-" + pick(familyNames)
		}
		entries[i] = Entry{
			ID: int64(i + 1), Kind: "person",
			Name: g + " " + f, GivenName: g, FamilyName: f,
			Title: pick(titles), Department: pick(departments),
			Numbers: []string{
				fmt.Sprint(10000 + i),
				fmt.Sprintf("+47 %d", 22000000+r.IntN(1000000)),
				fmt.Sprintf("+47 %d", 90000000+r.IntN(10000000)),
			},
			Visibility: pick(vis),
		}
	}
	return NewIndex(entries)
})

// BenchmarkSearch is the time for one query over 100,000 entries, cycling
// through typical queries (names, ASCII spellings, typos, numbers).
func BenchmarkSearch(b *testing.B) {
	ix := benchIndex()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		ix.Search(Query{Text: queries[i%len(queries)], Internal: i%2 == 0})
		i++
	}
}

// BenchmarkSearchLatency reports the p50 and p99 of 1,000 queries over
// 100,000 entries, which is what an operator typing in the console feels.
func BenchmarkSearchLatency(b *testing.B) {
	ix := benchIndex()
	for b.Loop() {
		d := make([]time.Duration, 1000)
		for i := range d {
			start := time.Now()
			ix.Search(Query{Text: queries[i%len(queries)], Internal: i%2 == 0})
			d[i] = time.Since(start)
		}
		slices.Sort(d)
		b.ReportMetric(float64(d[len(d)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(d[len(d)*99/100].Microseconds()), "p99-µs")
	}
}

// BenchmarkNewIndex is the build time for 100,000 entries.
func BenchmarkNewIndex(b *testing.B) {
	ix := benchIndex()
	for b.Loop() {
		NewIndex(ix.entries)
	}
}
