package directory

import (
	"context"
	"slices"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/sentralpbx/sentral/directory/search"
	"github.com/sentralpbx/sentral/store"
	"github.com/sentralpbx/sentral/store/passhash"
	"github.com/sentralpbx/sentral/store/pgtest"
)

// onBothStores runs fn on a fresh SQLite file and a fresh PostgreSQL
// database.
func onBothStores(t *testing.T, fn func(t *testing.T, ctx context.Context, st store.Store)) {
	pgtest.EachStore(t, "directory_test", time.Minute, fn)
}

func must[T any](t *testing.T, ctx context.Context, repo store.Repo[T], v T) T {
	t.Helper()
	if err := repo.Create(ctx, &v); err != nil {
		t.Fatalf("create %T: %v", v, err)
	}
	return v
}

// municipality fills fjordvik with people, a service extension and the
// switchboard group, and bergvik with one person of the same name.
func municipality(t *testing.T, ctx context.Context, st store.Store) (fjordvik, bergvik store.Tenant) {
	t.Helper()
	secret, err := passhash.Hash("katalog-2026", 1000)
	if err != nil {
		t.Fatal(err)
	}
	fjordvik = store.Tenant{Name: "fjordvik", DisplayName: "Fjordvik kommune", Domain: "fjordvik.test", PhonebookSecret: secret,
		Ranges: []store.NumberRange{{Kind: store.RangeExtension, First: "2000", Last: "2999"}, {Kind: store.RangeDID, First: "+4755550000", Last: "+4755550999"}}}
	if err := st.Tenants().Create(ctx, &fjordvik); err != nil {
		t.Fatal(err)
	}
	bergvik = store.Tenant{Name: "bergvik", Domain: "bergvik.test", Ranges: []store.NumberRange{{Kind: store.RangeExtension, First: "3000", Last: "3999"}}}
	if err := st.Tenants().Create(ctx, &bergvik); err != nil {
		t.Fatal(err)
	}
	tid := fjordvik.ID
	oko := must(t, ctx, st.Departments(), store.Department{TenantID: tid, Code: "1200", Name: "Økonomi"})
	bv := must(t, ctx, st.Departments(), store.Department{TenantID: tid, Code: "3100", Name: "Barnevern"})
	rh := must(t, ctx, st.Sites(), store.Site{TenantID: tid, Name: "Rådhuset"})
	kari := must(t, ctx, st.People(), store.Person{TenantID: tid, GivenName: "Kari", FamilyName: "Ødegård-Hansen", Title: "Rådgiver",
		DepartmentID: &oko.ID, SiteID: &rh.ID, Email: "kari@fjordvik.test", Mobile: "+4791234567", Notes: "Permisjon til 3. desember", Visibility: store.VisibilityListed})
	per := must(t, ctx, st.People(), store.Person{TenantID: tid, GivenName: "Per", FamilyName: "Aasen", Visibility: store.VisibilityInternal})
	lise := must(t, ctx, st.People(), store.Person{TenantID: tid, GivenName: "Lise", FamilyName: "Østby", DepartmentID: &bv.ID,
		Mobile: "93000001", Visibility: store.VisibilitySecret})
	must(t, ctx, st.Extensions(), store.Extension{TenantID: tid, Number: "2001", DisplayName: "Kari", PersonID: &kari.ID, DID: "+4755550001", COS: store.COSNational, Enabled: true})
	must(t, ctx, st.Extensions(), store.Extension{TenantID: tid, Number: "2002", DisplayName: "Per", PersonID: &per.ID, COS: store.COSNational, Enabled: true})
	must(t, ctx, st.Extensions(), store.Extension{TenantID: tid, Number: "2003", DisplayName: "Lise", PersonID: &lise.ID, COS: store.COSNational, Enabled: true})
	must(t, ctx, st.Extensions(), store.Extension{TenantID: tid, Number: "2050", DisplayName: "Vaktrom", SiteID: &rh.ID, COS: store.COSInternal, Enabled: true})
	must(t, ctx, st.Groups(), store.Group{TenantID: tid, Number: "2900", Name: "Sentralbord", Strategy: store.GroupSimultaneous, RingSeconds: 20, DID: "+4755550000"})
	must(t, ctx, st.People(), store.Person{TenantID: bergvik.ID, GivenName: "Kari", FamilyName: "Bergvik", Visibility: store.VisibilityListed})
	return fjordvik, bergvik
}

func names(hits []search.Hit) []string {
	var out []string
	for _, h := range hits {
		out = append(out, h.Entry.Name)
	}
	return out
}

func TestDirectoryFromStore(t *testing.T) {
	onBothStores(t, func(t *testing.T, ctx context.Context, st store.Store) {
		fj, bv := municipality(t, ctx, st)
		d := New(st, zaptest.NewLogger(t))
		if err := d.Load(ctx); err != nil {
			t.Fatal(err)
		}
		if id, ok := d.TenantByName("fjordvik"); !ok || id != fj.ID {
			t.Fatalf("TenantByName(fjordvik) = %d, %v", id, ok)
		}
		if _, ok := d.TenantByName("nowhere"); ok {
			t.Error("TenantByName found an unknown tenant")
		}

		hits, _ := d.Search(fj.ID, search.Query{Text: "odegard", Internal: true})
		if len(hits) == 0 || hits[0].Entry.Name != "Kari Ødegård-Hansen" {
			t.Fatalf("search odegard: %v", names(hits))
		}
		k := hits[0].Entry
		if k.Department != "Økonomi" || k.Site != "Rådhuset" || k.Mobile != "+4791234567" || k.Email != "kari@fjordvik.test" ||
			!slices.Equal(k.Numbers, []string{"2001", "+4755550001", "+4791234567"}) {
			t.Errorf("Kari's entry: %+v", k)
		}
		if hits, _ := d.Search(fj.ID, search.Query{Text: "åsen", Internal: true}); len(hits) == 0 || hits[0].Entry.Name != "Per Aasen" {
			t.Errorf("search åsen: %v", names(hits))
		}
		if hits, _ := d.Search(fj.ID, search.Query{Text: "åsen"}); len(hits) != 0 {
			t.Errorf("outside search found the internal entry: %v", names(hits))
		}
		if hits, _ := d.Search(bv.ID, search.Query{Text: "kari", Internal: true}); len(hits) != 1 || hits[0].Entry.Name != "Kari Bergvik" {
			t.Errorf("bergvik search kari: %v (tenants must not mix)", names(hits))
		}

		var book []string
		for _, e := range d.Entries(fj.ID) {
			book = append(book, e.Name)
		}
		// Phone-book order: family names, Aasen among the Å at the end.
		want := []string{"Sentralbord", "Vaktrom", "Kari Ødegård-Hansen", "Per Aasen"}
		if !slices.Equal(book, want) {
			t.Errorf("Entries = %q, want %q (no secret Lise)", book, want)
		}

		for _, c := range []struct{ number, want string }{
			{"2001", "Kari Ødegård-Hansen"}, {"+4791234567", "Kari Ødegård-Hansen"}, {"91234567", "Kari Ødegård-Hansen"},
			{"004791234567", "Kari Ødegård-Hansen"}, {"+4755550001", "Kari Ødegård-Hansen"}, {"55550001", "Kari Ødegård-Hansen"},
			{"+4793000001", "Lise Østby"}, {"2050", "Vaktrom"}, {"2900", "Sentralbord"}, {"+4755550000", "Sentralbord"},
		} {
			if got, ok := d.NameFor(fj.ID, c.number); !ok || got != c.want {
				t.Errorf("NameFor(%s) = %q, %v; want %q", c.number, got, ok, c.want)
			}
		}
		for _, n := range []string{"2999", "+4799999999", "", "+"} {
			if got, ok := d.NameFor(fj.ID, n); ok {
				t.Errorf("NameFor(%q) = %q, want none", n, got)
			}
		}
		if _, ok := d.NameFor(bv.ID, "2001"); ok {
			t.Error("bergvik knows fjordvik's 2001")
		}

		if !d.CheckPhonebookPassword(fj.ID, "katalog-2026") || !d.CheckPhonebookPassword(fj.ID, "katalog-2026") {
			t.Error("the right phone-book password was refused")
		}
		for _, pw := range []string{"katalog-2027", "", "KATALOG-2026"} {
			if d.CheckPhonebookPassword(fj.ID, pw) {
				t.Errorf("password %q accepted", pw)
			}
		}
		if d.CheckPhonebookPassword(bv.ID, "katalog-2026") || d.CheckPhonebookPassword(bv.ID, "") {
			t.Error("a tenant without a phone-book password accepted a bind")
		}
	})
}

func TestDirectoryFollowsChanges(t *testing.T) {
	onBothStores(t, func(t *testing.T, ctx context.Context, st store.Store) {
		fj, _ := municipality(t, ctx, st)
		d := New(st, zaptest.NewLogger(t))
		if err := d.Load(ctx); err != nil {
			t.Fatal(err)
		}
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- d.Run(runCtx) }()
		defer func() {
			cancel()
			<-done
		}()
		bjorn := must(t, ctx, st.People(), store.Person{TenantID: fj.ID, GivenName: "Bjørn", FamilyName: "Nordmann", Visibility: store.VisibilityListed})
		must(t, ctx, st.Extensions(), store.Extension{TenantID: fj.ID, Number: "2004", DisplayName: "Bjørn", PersonID: &bjorn.ID, COS: store.COSNational, Enabled: true})
		deadline := time.Now().Add(15 * time.Second)
		for {
			if n, ok := d.NameFor(fj.ID, "2004"); ok && n == "Bjørn Nordmann" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the new person did not reach the directory within 15 s")
			}
			time.Sleep(20 * time.Millisecond)
		}
		if hits, _ := d.Search(fj.ID, search.Query{Text: "bjorn"}); len(hits) != 1 {
			t.Errorf("search bjorn after the change: %v", names(hits))
		}
	})
}
