package ldap

import (
	"context"
	"errors"
	"net"
	"slices"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/sentralpbx/sentral/directory/search"
)

// fakeDir is an in-memory Directory: a fake of the data source only; the
// protocol under test is real.
type fakeDir struct {
	tenants   map[string]int64
	passwords map[int64]string
	entries   map[int64][]search.Entry
}

const (
	fjordvik = int64(1)
	havdal   = int64(2)
)

func newFakeDir() *fakeDir {
	d := &fakeDir{
		tenants:   map[string]int64{"fjordvik": fjordvik, "havdal": havdal},
		passwords: map[int64]string{fjordvik: "secret", havdal: "havpass"},
		entries: map[int64][]search.Entry{
			fjordvik: {
				{ID: 11, Kind: "person", Name: "Per Aasen", GivenName: "Per", FamilyName: "Aasen",
					Department: "Teknisk etat", Numbers: []string{"4712", "+4722334466"}, Visibility: "listed"},
				{ID: 12, Kind: "person", Name: "Ola Åsen", GivenName: "Ola", FamilyName: "Åsen",
					Numbers: []string{"4713"}, Visibility: "internal"},
				{ID: 13, Kind: "person", Name: "Bjørn Nordmann", GivenName: "Bjørn", FamilyName: "Nordmann",
					Title: "Rådgiver", Numbers: []string{"4714", "+4791234567"}, Mobile: "+4791234567",
					Visibility: "listed", Notes: "NOTE-NEVER-OVER-LDAP"},
				{ID: 10, Kind: "person", Name: "Kari Ødegård-Hansen", GivenName: "Kari", FamilyName: "Ødegård-Hansen",
					Title: "Rådmann", Department: "Rådmannens kontor", Site: "Rådhuset",
					Numbers: []string{"4711", "+4722334455", "+4790000001"}, Mobile: "+4790000001",
					Email: "kari.odegard-hansen@fjordvik.kommune.no", Visibility: "listed"},
				{ID: 14, Kind: "person", Name: "Hemmelig Hansen", GivenName: "Hemmelig", FamilyName: "Hansen",
					Numbers: []string{"4799"}, Visibility: "secret"},
				{ID: 1, Kind: "service", Name: "Sentralbord", Numbers: []string{"4700", "+4722334400"},
					Visibility: "listed"},
			},
			havdal: {
				{ID: 21, Kind: "person", Name: "Karin Havdal", GivenName: "Karin", FamilyName: "Havdal",
					Numbers: []string{"5711", "+4733445566"}, Visibility: "listed"},
			},
		},
	}
	// The Directory contract: Norwegian sort order.
	for _, es := range d.entries {
		slices.SortFunc(es, func(a, b search.Entry) int { return search.Compare(a.Name, b.Name) })
	}
	return d
}

func (d *fakeDir) TenantByName(name string) (int64, bool) {
	id, ok := d.tenants[name]
	return id, ok
}

func (d *fakeDir) CheckPhonebookPassword(id int64, password string) bool {
	p, ok := d.passwords[id]
	return ok && p == password
}

func (d *fakeDir) Entries(id int64) []search.Entry { return d.entries[id] }

// startServer serves on a fresh 127.0.0.1 port until the test ends and
// returns the address.
func startServer(t *testing.T, opts Options) (*Server, string) {
	t.Helper()
	if opts.FailureDelay == 0 {
		opts.FailureDelay = 20 * time.Millisecond
	}
	srv, err := New(newFakeDir(), zaptest.NewLogger(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, net.ErrClosed) {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return within 5s of cancel")
		}
	})
	return srv, ln.Addr().String()
}

func contextWithCancel() (context.Context, context.CancelFunc) {
	return context.WithCancel(context.Background())
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}
