package search

import (
	"fmt"
	"slices"
	"sync"
	"testing"
)

// phoneBook is a small municipality: the search-quality cases below refer to
// entries by ID.
var phoneBook = []Entry{
	{ID: 1, Kind: "person", Name: "Kari Ødegård-Hansen", GivenName: "Kari", FamilyName: "Ødegård-Hansen", Title: "Rådgiver", Department: "Økonomi", Numbers: []string{"4711", "+47 22 33 44 55"}, Visibility: "listed"},
	{ID: 2, Kind: "person", Name: "Per Aasen", GivenName: "Per", FamilyName: "Aasen", Title: "Vaktmester", Department: "Eiendom", Numbers: []string{"4712"}, Visibility: "listed"},
	{ID: 3, Kind: "person", Name: "Ola Åsen", GivenName: "Ola", FamilyName: "Åsen", Title: "Lærer", Department: "Skole", Numbers: []string{"4713"}, Visibility: "listed"},
	{ID: 4, Kind: "person", Name: "Bjørn Nordmann", GivenName: "Bjørn", FamilyName: "Nordmann", Title: "Rådmann", Department: "Rådmannens kontor", Numbers: []string{"4714", "+4791234567"}, Visibility: "listed"},
	{ID: 5, Kind: "person", Name: "Bjørnar Zakariassen", GivenName: "Bjørnar", FamilyName: "Zakariassen", Title: "Styrer", Department: "Solsiden barnehage", Numbers: []string{"4715"}, Visibility: "listed"},
	{ID: 6, Kind: "person", Name: "Eva Ærø", GivenName: "Eva", FamilyName: "Ærø", Title: "Pedagogisk leder", Department: "Solsiden barnehage", Numbers: []string{"4716"}, Visibility: "internal"},
	{ID: 7, Kind: "person", Name: "Lise Østby", GivenName: "Lise", FamilyName: "Østby", Title: "Saksbehandler", Department: "Barnevern", Numbers: []string{"4717", "+47 93 00 00 01"}, Visibility: "secret"},
	{ID: 8, Kind: "person", Name: "Anne-Marie Berg Olsen", GivenName: "Anne-Marie", FamilyName: "Berg Olsen", Title: "Helsesykepleier", Department: "Helsestasjon", Numbers: []string{"4718"}, Visibility: "listed"},
	{ID: 9, Kind: "service", Name: "Sentralbord", Department: "Servicetorget", Numbers: []string{"+47 22 33 00 00", "4700"}, Visibility: "listed"},
	{ID: 10, Kind: "person", Name: "Jan Bjorvatn", GivenName: "Jan", FamilyName: "Bjorvatn", Title: "Ingeniør", Department: "Teknisk", Numbers: []string{"4719"}, Visibility: "listed"},
	{ID: 11, Kind: "person", Name: "Kari Nordmann", GivenName: "Kari", FamilyName: "Nordmann", Title: "Konsulent", Department: "Skole", Numbers: []string{"4720"}, Visibility: "internal"},
	{ID: 12, Kind: "person", Name: "Hanne Kristiansen", GivenName: "Hanne", FamilyName: "Kristiansen", Title: "Barnehagelærer", Department: "Solsiden barnehage", Numbers: []string{"4721"}, Visibility: "listed"},
}

func ids(hits []Hit) []int64 {
	out := make([]int64, len(hits))
	for i, h := range hits {
		out[i] = h.Entry.ID
	}
	return out
}

func TestSearchQuality(t *testing.T) {
	ix := NewIndex(phoneBook)
	tests := []struct {
		name string
		q    Query
		want []int64 // IDs in order; nil means no hit
	}{
		{"ø and å", Query{Text: "Ødegård"}, []int64{1}},
		{"ascii odegard", Query{Text: "odegard"}, []int64{1}},
		{"ascii Odegaard", Query{Text: "Odegaard"}, []int64{1}},
		{"hyphen second part", Query{Text: "hansen"}, []int64{1}},
		{"hyphenated whole", Query{Text: "ødegård-hansen"}, []int64{1}},
		{"hyphenated ascii", Query{Text: "odegaard-hansen"}, []int64{1}},
		{"given and family", Query{Text: "kari ødeg"}, []int64{1}},
		{"Aasen finds Åsen too", Query{Text: "Aasen"}, []int64{3, 2}},
		{"Åsen finds both", Query{Text: "Åsen"}, []int64{3, 2}},
		{"asen on a plain keyboard", Query{Text: "asen"}, []int64{3, 2}},
		{"Bjørn exact before Bjørnar prefix", Query{Text: "Bjørn"}, []int64{4, 5}},
		{"Bjorn finds Bjørn, Bjørnar and Bjorvatn not", Query{Text: "Bjorn"}, []int64{4, 5}},
		{"Bjørnar", Query{Text: "bjørnar"}, []int64{5}},
		{"prefix bjo", Query{Text: "bjo"}, []int64{10, 4, 5}},
		{"double given name part", Query{Text: "marie"}, []int64{8}},
		{"double given name hyphen", Query{Text: "anne-marie"}, []int64{8}},
		{"double family name", Query{Text: "berg olsen"}, []int64{8}},
		{"typo missing letter", Query{Text: "Nordman"}, []int64{4}},
		{"typo transposition", Query{Text: "Kristainsen"}, []int64{12}},
		{"two typos in a long word", Query{Text: "Kristensen"}, []int64{12}},
		{"typo plus exact word", Query{Text: "hane kristiansen"}, []int64{12}},
		{"no typo tolerance under 4 letters", Query{Text: "pet"}, nil},
		{"department", Query{Text: "barnehage"}, []int64{12, 5}},
		{"department internal", Query{Text: "barnehage", Internal: true}, []int64{12, 5, 6}},
		{"title prefix", Query{Text: "rådm"}, []int64{4}},
		{"every word must match", Query{Text: "kari skole"}, nil},
		{"every word must match internal", Query{Text: "kari skole", Internal: true}, []int64{11}},
		{"extension prefix", Query{Text: "471"}, []int64{8, 10, 4, 5, 1, 3, 2}},
		{"extension exact", Query{Text: "4711"}, []int64{1}},
		{"national prefix", Query{Text: "2233"}, []int64{9, 1}},
		{"national with spaces", Query{Text: "22 33 44"}, []int64{1}},
		{"+47 prefix", Query{Text: "+47 2233"}, []int64{9, 1}},
		{"0047 prefix", Query{Text: "0047 22334455"}, []int64{1}},
		{"47 without plus", Query{Text: "4791"}, []int64{4}},
		{"full mobile exact", Query{Text: "+47 912 34 567"}, []int64{4}},
		{"internal hidden from outside", Query{Text: "Ærø"}, nil},
		{"internal seen inside", Query{Text: "Ærø", Internal: true}, []int64{6}},
		{"internal number hidden from outside", Query{Text: "4716"}, nil},
		{"internal number inside", Query{Text: "4716", Internal: true}, []int64{6}},
		{"secret hidden inside", Query{Text: "Østby", Internal: true}, nil},
		{"secret by name at the switchboard", Query{Text: "Østby", Switchboard: true}, []int64{7}},
		{"secret extension never", Query{Text: "4717", Switchboard: true}, nil},
		{"secret mobile never", Query{Text: "+4793000001", Switchboard: true, Internal: true}, nil},
		{"+47 alone is no number", Query{Text: "+47"}, nil},
		{"empty query lists by family name", Query{Text: " - "}, []int64{8, 10, 12, 4, 9, 5, 1, 3, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hits, total := ix.Search(tt.q)
			if got := ids(hits); !slices.Equal(got, tt.want) && !(len(got) == 0 && len(tt.want) == 0) {
				t.Errorf("Search(%+v) = %v, want %v (scores %v)", tt.q, got, tt.want, hits)
			}
			if total != len(hits) {
				t.Errorf("total = %d, want %d", total, len(hits))
			}
		})
	}
}

func TestSortOrderNorwegian(t *testing.T) {
	ix := NewIndex([]Entry{
		{ID: 1, Name: "Per Aasen", FamilyName: "Aasen", GivenName: "Per", Visibility: "listed"},
		{ID: 2, Name: "Eva Østby", FamilyName: "Østby", GivenName: "Eva", Visibility: "listed"},
		{ID: 3, Name: "Ola Ærø", FamilyName: "Ærø", GivenName: "Ola", Visibility: "listed"},
		{ID: 4, Name: "Are Zakariassen", FamilyName: "Zakariassen", GivenName: "Are", Visibility: "listed"},
		{ID: 5, Name: "Ida Andersen", FamilyName: "Andersen", GivenName: "Ida", Visibility: "listed"},
		{ID: 6, Name: "Vann og avløp", Visibility: "listed"}, // a service: sorted by Name
	})
	hits, total := ix.Search(Query{})
	// Aasen is Åsen, so it comes last, after Ø.
	if got, want := ids(hits), []int64{5, 6, 4, 3, 2, 1}; !slices.Equal(got, want) || total != 6 {
		t.Errorf("order = %v (total %d), want %v", got, total, want)
	}
}

func TestPagination(t *testing.T) {
	var entries []Entry
	for i := range 45 {
		entries = append(entries, Entry{ID: int64(i + 1), Name: fmt.Sprintf("Hansen %02d", i), Numbers: []string{fmt.Sprint(5000 + i)}, Visibility: "listed"})
	}
	ix := NewIndex(entries)
	var all []int64
	for off := 0; ; off += 20 {
		hits, total := ix.Search(Query{Text: "hansen", Offset: off})
		if total != 45 {
			t.Fatalf("offset %d: total = %d, want 45", off, total)
		}
		if len(hits) == 0 {
			break
		}
		if len(hits) > DefaultLimit {
			t.Fatalf("page of %d > default limit", len(hits))
		}
		all = append(all, ids(hits)...)
	}
	if len(all) != 45 || all[0] != 1 || all[44] != 45 {
		t.Errorf("pages gave %v", all)
	}
	hits, total := ix.Search(Query{Text: "500", Limit: 5, Offset: 8})
	if got := ids(hits); total != 10 || !slices.Equal(got, []int64{9, 10}) {
		t.Errorf("number page = %v total %d", got, total)
	}
	if hits, total := ix.Search(Query{Text: "hansen", Offset: 100}); hits != nil || total != 45 {
		t.Errorf("past the end: %v %d", hits, total)
	}
	if hits, _ := ix.Search(Query{Text: "hansen", Offset: -3, Limit: 2}); len(hits) != 2 || hits[0].Entry.ID != 1 {
		t.Errorf("negative offset: %v", ids(hits))
	}
}

func TestIndexIsImmutable(t *testing.T) {
	in := []Entry{{ID: 1, Name: "Kari", Numbers: []string{"4711"}, Visibility: "listed"}}
	ix := NewIndex(in)
	in[0].Numbers[0] = "9999"
	in[0].Name = "Changed"
	hits, _ := ix.Search(Query{Text: "4711"})
	if len(hits) != 1 || hits[0].Entry.Name != "Kari" {
		t.Fatalf("index changed with its input: %v", hits)
	}
	hits[0].Entry.Numbers[0] = "0000"
	if hits, _ := ix.Search(Query{Text: "kari"}); hits[0].Entry.Numbers[0] != "4711" {
		t.Fatalf("index changed through a hit: %v", hits)
	}
}

func TestUnknownVisibilityIsSecret(t *testing.T) {
	ix := NewIndex([]Entry{{ID: 1, Name: "Kari", Numbers: []string{"4711"}}})
	if hits, _ := ix.Search(Query{Text: "kari", Internal: true}); len(hits) != 0 {
		t.Errorf("entry without visibility visible inside: %v", hits)
	}
	if hits, _ := ix.Search(Query{Text: "4711", Switchboard: true}); len(hits) != 0 {
		t.Errorf("entry without visibility found by number: %v", hits)
	}
}

func TestConcurrentSearch(t *testing.T) {
	ix := NewIndex(phoneBook)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				q := []string{"bjorn", "aasen", "471", "barnehage", "nordman"}[(g+i)%5]
				if _, total := ix.Search(Query{Text: q, Internal: i%2 == 0}); total == 0 {
					t.Errorf("%q: no hits", q)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestAllFollowsVisibilityAndOrder(t *testing.T) {
	ix := NewIndex(phoneBook)
	var names []string
	for _, e := range ix.All(Query{Internal: true}) {
		if e.Visibility == VisibilitySecret {
			t.Errorf("All(internal) returned secret entry %q", e.Name)
		}
		names = append(names, e.Name)
	}
	listed := ix.All(Query{})
	if len(listed) >= len(names) || len(names) >= len(phoneBook) {
		t.Errorf("listed %d, internal %d, all %d entries; want listed < internal < all", len(listed), len(names), len(phoneBook))
	}
	for i := 1; i < len(names); i++ {
		a, b := ix.All(Query{Internal: true})[i-1], ix.All(Query{Internal: true})[i]
		if Compare(sortName(&a), sortName(&b)) > 0 {
			t.Errorf("All order: %q before %q", a.Name, b.Name)
		}
	}
	if n := len(ix.All(Query{Switchboard: true})); n != len(phoneBook) {
		t.Errorf("All(switchboard) = %d entries, want %d", n, len(phoneBook))
	}
}
