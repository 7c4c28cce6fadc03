package httpapi

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/sentralpbx/sentral/directory/search"
)

// memDirectory is a Directory over real search indexes, one per tenant.
type memDirectory struct {
	ids   map[string]int64
	books map[int64]*search.Index
}

func (d *memDirectory) TenantByName(name string) (int64, bool) {
	id, ok := d.ids[name]
	return id, ok
}

func (d *memDirectory) Search(tenantID int64, q search.Query) ([]search.Hit, int) {
	ix, ok := d.books[tenantID]
	if !ok {
		return nil, 0
	}
	return ix.Search(q)
}

const (
	fjordvikID = 1
	dalbyID    = 2
	storbyID   = 3
)

// fjordvik is a small municipality with the names search is hard on.
var fjordvik = []search.Entry{
	{ID: 1, Kind: "person", Name: "Kari Ødegård-Hansen", GivenName: "Kari", FamilyName: "Ødegård-Hansen", Title: "Rådgiver", Department: "Økonomi",
		Numbers: []string{"4711", "+47 22 33 44 55", "+4791234567"}, Mobile: "+4791234567", Email: "kari@fjordvik.kommune.no", Visibility: "listed"},
	{ID: 2, Kind: "person", Name: "Per Aasen", GivenName: "Per", FamilyName: "Aasen", Title: "Vaktmester", Numbers: []string{"4712"}, Visibility: "listed"},
	{ID: 3, Kind: "person", Name: "Ola Åsen", GivenName: "Ola", FamilyName: "Åsen", Title: "Lærer", Numbers: []string{"4713"}, Visibility: "listed"},
	{ID: 4, Kind: "person", Name: "Bjørn Nordmann", GivenName: "Bjørn", FamilyName: "Nordmann", Title: "Rådmann", Numbers: []string{"4714", "+4791234599"}, Mobile: "+4791234599", Visibility: "listed"},
	{ID: 5, Kind: "person", Name: "Bjørnar Zakariassen", GivenName: "Bjørnar", FamilyName: "Zakariassen", Numbers: []string{"4715"}, Visibility: "listed"},
	{ID: 6, Kind: "person", Name: "Eva Ærø", GivenName: "Eva", FamilyName: "Ærø", Numbers: []string{"4716"}, Visibility: "internal"},
	{ID: 7, Kind: "person", Name: "Lise Østby", GivenName: "Lise", FamilyName: "Østby", Department: "Barnevern", Numbers: []string{"4717", "+47 93 00 00 01"},
		Notes: "Hemmelig nummer: sett over via sentralbordet", Visibility: "secret"},
	{ID: 8, Kind: "person", Name: "Anne-Marie Berg Olsen", GivenName: "Anne-Marie", FamilyName: "Berg Olsen", Numbers: []string{"4718"}, Notes: "Permisjon til 3. desember", Visibility: "listed"},
	{ID: 9, Kind: "service", Name: "Sentralbord", Department: "Servicetorget", Numbers: []string{"+47 22 33 00 00", "4700"}, Visibility: "listed"},
	{ID: 10, Kind: "service", Name: `Berg & Sønn <Vakt> "døgn"`, Numbers: []string{"4790"}, Visibility: "listed"},
	{ID: 11, Kind: "person", Name: "Jan Uten Nummer", GivenName: "Jan", FamilyName: "Uten Nummer", Visibility: "listed"},
	{ID: 12, Kind: "person", Name: "Ukjent Synlighet", GivenName: "Ukjent", FamilyName: "Synlighet", Numbers: []string{"4799"}, Visibility: "bogus"},
}

// dalby is a second tenant: its people must never show up in fjordvik.
var dalby = []search.Entry{
	{ID: 101, Kind: "person", Name: "Kari Dalby", GivenName: "Kari", FamilyName: "Dalby", Numbers: []string{"5001"}, Visibility: "listed"},
}

// fjordvikMany adds n generated people, enough for several pages.
func fjordvikMany(n int) []search.Entry {
	out := append([]search.Entry(nil), fjordvik...)
	for i := range n {
		out = append(out, search.Entry{
			ID: int64(1000 + i), Kind: "person", Name: fmt.Sprintf("Ansatt Nummer%03d", i),
			GivenName: "Ansatt", FamilyName: fmt.Sprintf("Nummer%03d", i),
			Numbers: []string{strconv.Itoa(6000 + i)}, Visibility: []string{"listed", "internal", "secret"}[i%3],
		})
	}
	return out
}

func storby(n int) []search.Entry {
	out := make([]search.Entry, n)
	for i := range out {
		out[i] = search.Entry{ID: int64(i + 1), Kind: "person", Name: fmt.Sprintf("Person %05d", i),
			GivenName: "Person", FamilyName: fmt.Sprintf("%05d", i), Numbers: []string{strconv.Itoa(10000 + i)}, Visibility: "listed"}
	}
	return out
}

func newDirectory() *memDirectory {
	return &memDirectory{
		ids: map[string]int64{"fjordvik": fjordvikID, "dalby": dalbyID, "storby": storbyID},
		books: map[int64]*search.Index{
			fjordvikID: search.NewIndex(fjordvikMany(40)),
			dalbyID:    search.NewIndex(dalby),
			storbyID:   search.NewIndex(storby(2500)),
		},
	}
}

// countingDirectory records the queries made.
type countingDirectory struct {
	Directory
	limits []int // of each Search call
}

func (c *countingDirectory) Search(id int64, q search.Query) ([]search.Hit, int) {
	c.limits = append(c.limits, q.Limit)
	return c.Directory.Search(id, q)
}

// leakyDirectory is a broken Directory that returns every entry, secret or
// not: the handlers must not pass secret ones on.
type leakyDirectory struct{ memDirectory }

func (d *leakyDirectory) Search(id int64, q search.Query) ([]search.Hit, int) {
	q.Switchboard = true
	return d.memDirectory.Search(id, q)
}

// testTenantHeader stands in for the phones' digest wrapper in tests: it
// names the authenticated tenant's id.
const testTenantHeader = "X-Test-Tenant-Id"

func fakeAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v := r.Header.Get(testTenantHeader); v != "" {
			id, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				http.Error(w, "bad test header", http.StatusBadRequest)
				return
			}
			r = r.WithContext(WithTenant(r.Context(), id))
		}
		next.ServeHTTP(w, r)
	})
}

// servers starts the API and the wrapped phone book on loopback, mounted
// as the server would mount them.
func servers(t *testing.T, dir Directory) (api, phonebook *httptest.Server) {
	t.Helper()
	log := zaptest.NewLogger(t)
	api = httptest.NewServer(NewAPI(dir, log))
	t.Cleanup(api.Close)
	mux := http.NewServeMux()
	mux.Handle(PhonebookPrefix, fakeAuth(NewPhonebook(dir, log)))
	phonebook = httptest.NewServer(mux)
	t.Cleanup(phonebook.Close)
	return api, phonebook
}
