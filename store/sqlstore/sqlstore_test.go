package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sentralpbx/sentral/store"
	"github.com/sentralpbx/sentral/store/sqlite"
	"github.com/sentralpbx/sentral/store/sqlstore"

	_ "modernc.org/sqlite"
)

func open(t *testing.T) (*sqlstore.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sub", "sentral.db")
	s, err := sqlite.Open(context.Background(), path, sqlite.Options{PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func rng(kind store.RangeKind, s string) store.NumberRange {
	r, err := store.ParseRange(kind, s)
	if err != nil {
		panic(err)
	}
	return r
}

func fjordvik(t *testing.T, s store.Store) store.Tenant {
	t.Helper()
	tn := store.Tenant{Name: "fjordvik", DisplayName: "Fjordvik kommune", Domain: "fjordvik.example.no",
		Ranges: []store.NumberRange{rng(store.RangeExtension, "2000-2999"), rng(store.RangeDID, "+4755550000-+4755550999")}}
	if err := s.Tenants().Create(context.Background(), &tn); err != nil {
		t.Fatalf("create tenant: %v", err)
	}
	return tn
}

// wantErr checks the kind and field of a store error.
func wantErr(t *testing.T, err error, kind error, field string) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("error %v: want kind %v", err, kind)
	}
	var fe *store.FieldError
	if field != "" && (!errors.As(err, &fe) || fe.Field != field) {
		t.Fatalf("error %v: want field %q", err, field)
	}
}

func TestTenantCRUD(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	tn := fjordvik(t, s)
	if tn.ID == 0 || tn.Version != 1 || tn.CreatedAt.IsZero() || !tn.CreatedAt.Equal(tn.UpdatedAt) {
		t.Fatalf("create did not set meta: %+v", tn.Meta)
	}
	got, err := s.Tenants().Get(ctx, tn.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.CreatedAt != tn.CreatedAt || got.Name != "fjordvik" || len(got.Ranges) != 2 || got.Ranges[1] != tn.Ranges[1] {
		t.Fatalf("round trip: got %+v want %+v", got, tn)
	}
	if _, err := s.Tenants().Find(ctx, 0, "fjordvik"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TenantByDomain(ctx, "fjordvik.example.no"); err != nil {
		t.Fatal(err)
	}
	_, err = s.Tenants().Get(ctx, 999)
	wantErr(t, err, store.ErrNotFound, "")

	got.DisplayName = "Fjordvik"
	if err := s.Tenants().Update(ctx, &got); err != nil {
		t.Fatal(err)
	}
	if got.Version != 2 {
		t.Fatalf("version %d after update", got.Version)
	}
	stale := tn
	stale.DisplayName = "stale"
	wantErr(t, s.Tenants().Update(ctx, &stale), store.ErrConflict, "version")
	if stale.Version != 1 {
		t.Fatalf("failed update changed the version to %d", stale.Version)
	}

	dup := store.Tenant{Name: "fjordvik", Domain: "other.example.no"}
	wantErr(t, s.Tenants().Create(ctx, &dup), store.ErrExists, "name")
	dup = store.Tenant{Name: "Bad", Domain: "other.example.no"}
	wantErr(t, s.Tenants().Create(ctx, &dup), store.ErrInvalid, "name")
	dup = store.Tenant{Name: "other", Domain: "fjordvik.example.no"}
	wantErr(t, s.Tenants().Create(ctx, &dup), store.ErrExists, "domain")
	dup = store.Tenant{Name: "other", Domain: "other.example.no", Ranges: []store.NumberRange{rng(store.RangeExtension, "20000-20999")}}
	err = s.Tenants().Create(ctx, &dup)
	wantErr(t, err, store.ErrExists, "ranges")
	if !strings.Contains(err.Error(), "fjordvik") {
		t.Fatalf("reason does not name the other tenant: %v", err)
	}
	dup.Ranges = []store.NumberRange{rng(store.RangeExtension, "3000-3999"), rng(store.RangeExtension, "3500-3599")}
	wantErr(t, s.Tenants().Create(ctx, &dup), store.ErrInvalid, "ranges")
	if dup.ID != 0 {
		t.Fatalf("failed create left ID %d", dup.ID)
	}
}

func TestExtensionRules(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	tn := fjordvik(t, s)
	e := store.Extension{TenantID: tn.ID, Number: "2001", DisplayName: "Kari"}
	if err := s.Extensions().Create(ctx, &e); err != nil {
		t.Fatal(err)
	}
	if e.COS != store.DefaultCOS {
		t.Fatalf("cos default %q", e.COS)
	}
	out := store.Extension{TenantID: tn.ID, Number: "3001"}
	err := s.Extensions().Create(ctx, &out)
	wantErr(t, err, store.ErrInvalid, "number")
	if !strings.Contains(err.Error(), "outside tenant fjordvik's extension ranges 2000-2999") {
		t.Fatalf("reason: %v", err)
	}
	g := store.Group{TenantID: tn.ID, Number: "2005", Name: "Sentralbord", Members: []int64{e.ID}}
	if err := s.Groups().Create(ctx, &g); err != nil {
		t.Fatal(err)
	}
	if g.RingSeconds != 20 || g.Strategy != store.GroupSimultaneous {
		t.Fatalf("group defaults: %+v", g)
	}
	clash := store.Extension{TenantID: tn.ID, Number: "2005"}
	err = s.Extensions().Create(ctx, &clash)
	wantErr(t, err, store.ErrExists, "number")
	if !strings.Contains(err.Error(), `number 2005 is already used by group "Sentralbord"`) {
		t.Fatalf("reason: %v", err)
	}
	wantErr(t, s.Extensions().Delete(ctx, e.ID), store.ErrInUse, "number")

	// Ranges may not shrink under a number in use.
	tn, _ = s.Tenants().Get(ctx, tn.ID)
	tn.Ranges = []store.NumberRange{rng(store.RangeExtension, "2100-2999")}
	wantErr(t, s.Tenants().Update(ctx, &tn), store.ErrInUse, "ranges")

	// The domain is the digest realm: refuse changing it under credentials.
	e.HA1MD5 = strings.Repeat("a", 32)
	if err := s.Extensions().Update(ctx, &e); err != nil {
		t.Fatal(err)
	}
	tn, _ = s.Tenants().Get(ctx, tn.ID)
	tn.Domain = "new.example.no"
	wantErr(t, s.Tenants().Update(ctx, &tn), store.ErrInUse, "domain")

	exts, err := s.Extensions().List(ctx, store.ListOptions{TenantID: tn.ID})
	if err != nil || len(exts) != 1 {
		t.Fatalf("list: %v %v", exts, err)
	}
	// Deleting the tenant takes everything with it.
	if err := s.Tenants().Delete(ctx, tn.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Extensions().Get(ctx, e.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("extension survived its tenant: %v", err)
	}
}

func TestAllEntities(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	tn := fjordvik(t, s)
	site := store.Site{TenantID: tn.ID, Name: "Rådhuset", DID: "55550100"}
	dept := store.Department{TenantID: tn.ID, Code: "1200", Name: "Oppvekst"}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.Sites().Create(ctx, &site))
	if site.DID != "+4755550100" {
		t.Fatalf("did not normalised: %q", site.DID)
	}
	must(s.Departments().Create(ctx, &dept))
	p := store.Person{TenantID: tn.ID, GivenName: "Kari", FamilyName: "Nordmann", Email: "kari@example.no", DepartmentID: &dept.ID, SiteID: &site.ID}
	must(s.People().Create(ctx, &p))
	e := store.Extension{TenantID: tn.ID, Number: "2001", PersonID: &p.ID, SiteID: &site.ID}
	must(s.Extensions().Create(ctx, &e))
	d := store.Device{TenantID: tn.ID, MAC: "001122aabbcc", Model: "yealink-t54w", Lines: []store.DeviceLine{{Line: 1, ExtensionID: e.ID}}}
	must(s.Devices().Create(ctx, &d))
	gw := store.DECTGateway{TenantID: tn.ID, Name: "sykehjem"}
	must(s.DECTGateways().Create(ctx, &gw))
	h := store.DECTHandset{TenantID: tn.ID, GatewayID: gw.ID, IPUI: "01234567ab", ExtensionID: e.ID}
	wantErr(t, s.DECTHandsets().Create(ctx, &h), store.ErrInvalid, "ipui")
	h.IPUI = "01234567AB"
	must(s.DECTHandsets().Create(ctx, &h))
	tr := store.Trunk{TenantID: tn.ID, Name: "centrex", Mode: store.TrunkRegister, Host: "sip.example.net", Transport: "tls", Username: "u"}
	must(s.Trunks().Create(ctx, &tr))
	if tr.Port != 5061 {
		t.Fatalf("tls port default %d", tr.Port)
	}

	got, err := s.Devices().Find(ctx, 0, "001122aabbcc")
	must(err)
	if len(got.Lines) != 1 || got.Lines[0].ExtensionID != e.ID {
		t.Fatalf("device lines %+v", got.Lines)
	}
	pp, err := s.People().Find(ctx, tn.ID, "kari@example.no")
	must(err)
	if *pp.SiteID != site.ID || *pp.DepartmentID != dept.ID {
		t.Fatalf("person refs %+v", pp)
	}
	wantErr(t, s.Sites().Delete(ctx, site.ID), store.ErrInUse, "name")
	wantErr(t, s.Departments().Delete(ctx, dept.ID), store.ErrInUse, "code")
	wantErr(t, s.People().Delete(ctx, p.ID), store.ErrInUse, "")
	wantErr(t, s.DECTGateways().Delete(ctx, gw.ID), store.ErrInUse, "name")
	err = s.Extensions().Delete(ctx, e.ID)
	wantErr(t, err, store.ErrInUse, "number")
	if !strings.Contains(err.Error(), "device 001122aabbcc") {
		t.Fatalf("reason: %v", err)
	}

	other := store.Tenant{Name: "other", Domain: "other.example.no", Ranges: []store.NumberRange{rng(store.RangeExtension, "3000-3999")}}
	must(s.Tenants().Create(ctx, &other))
	foreign := store.Extension{TenantID: other.ID, Number: "3001", SiteID: &site.ID}
	wantErr(t, s.Extensions().Create(ctx, &foreign), store.ErrInvalid, "site_id")
	d2 := store.Device{TenantID: other.ID, MAC: "001122aabbcc"}
	wantErr(t, s.Devices().Create(ctx, &d2), store.ErrExists, "mac")

	must(s.Tenants().Delete(ctx, tn.ID))
	for _, n := range []func() error{
		func() error { _, err := s.Devices().Get(ctx, d.ID); return err },
		func() error { _, err := s.DECTHandsets().Get(ctx, h.ID); return err },
		func() error { _, err := s.Trunks().Get(ctx, tr.ID); return err },
		func() error { _, err := s.People().Get(ctx, p.ID); return err },
	} {
		if err := n(); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("survived tenant delete: %v", err)
		}
	}
}

func TestInTxRollsBack(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	tn := fjordvik(t, s)
	before, _ := s.LastChange(ctx)
	boom := errors.New("boom")
	err := s.InTx(ctx, func(tx store.Store) error {
		e := store.Extension{TenantID: tn.ID, Number: "2001"}
		if err := tx.Extensions().Create(ctx, &e); err != nil {
			return err
		}
		// A failing operation inside the transaction undoes only itself.
		bad := store.Extension{TenantID: tn.ID, Number: "2001"}
		if err := tx.Extensions().Create(ctx, &bad); !errors.Is(err, store.ErrExists) {
			return fmt.Errorf("duplicate accepted: %v", err)
		}
		return tx.InTx(ctx, func(inner store.Store) error {
			if _, err := inner.Extensions().Find(ctx, tn.ID, "2001"); err != nil {
				return err
			}
			return boom
		})
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx: %v", err)
	}
	if _, err := s.Extensions().Find(ctx, tn.ID, "2001"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("rolled back extension is visible: %v", err)
	}
	after, _ := s.LastChange(ctx)
	if after != before {
		t.Fatalf("change log moved from %d to %d", before, after)
	}
}

func TestBulkImportIsFast(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	tn := fjordvik(t, s)
	start := time.Now()
	err := s.InTx(ctx, func(tx store.Store) error {
		for i := 0; i < 900; i++ {
			e := store.Extension{TenantID: tn.ID, Number: fmt.Sprint(2000 + i), DisplayName: "x"}
			if err := tx.Extensions().Create(ctx, &e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	t.Logf("900 extensions in %v", took)
	if took > time.Second && !raceEnabled {
		t.Fatalf("import took %v", took)
	}
	page, err := s.Extensions().List(ctx, store.ListOptions{TenantID: tn.ID, Limit: 10, Offset: 5})
	if err != nil || len(page) != 10 || page[0].Number != "2005" {
		t.Fatalf("page: %d %v", len(page), err)
	}
}

func TestWatchAcrossStores(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, path := open(t)
	other, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	ch := s.Watch(ctx, 0)
	tn := fjordvik(t, other)
	e := store.Extension{TenantID: tn.ID, Number: "2001"}
	if err := other.Extensions().Create(ctx, &e); err != nil {
		t.Fatal(err)
	}
	var got []store.Change
	timeout := time.After(2 * time.Second)
	for len(got) < 2 {
		select {
		case c := <-ch:
			got = append(got, c)
		case <-timeout:
			t.Fatalf("got %d changes", len(got))
		}
	}
	if got[0].Entity != store.EntityTenant || got[1].Key != "2001" || got[1].Op != store.OpCreate || got[0].Seq >= got[1].Seq {
		t.Fatalf("changes %+v", got)
	}
	cancel()
	for range ch {
	}
	last, _ := s.LastChange(context.Background())
	if last != got[1].Seq {
		t.Fatalf("last %d", last)
	}
}

func TestConcurrentOpenMigratesOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fresh.db")
	const n = 6
	errs := make(chan error, n)
	stores := make(chan *sqlstore.Store, n)
	for i := 0; i < n; i++ {
		go func() {
			s, err := sqlite.Open(context.Background(), path, sqlite.Options{})
			if err == nil {
				stores <- s
			}
			errs <- err
		}()
	}
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			t.Errorf("open %d: %v", i, err)
		}
	}
	close(stores)
	for s := range stores {
		s.Close()
	}
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Versions are 1..N: each applied exactly once means N rows.
	var count, last int
	if err := db.QueryRow("SELECT COUNT(*), MAX(version) FROM schema_migrations").Scan(&count, &last); err != nil || count != last || count < 2 {
		t.Fatalf("schema_migrations rows %d, newest version %d (%v)", count, last, err)
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	s, path := open(t)
	s.Close()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("INSERT INTO schema_migrations (version, applied_at) VALUES (9999, '2030-01-01 00:00:00+00:00')"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = sqlite.Open(context.Background(), path, sqlite.Options{})
	if err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("opened a database from the future: %v", err)
	}
}

func TestCloseEndsWatchers(t *testing.T) {
	s, _ := open(t)
	ch := s.Watch(context.Background(), 0)
	done := make(chan struct{})
	go func() {
		for range ch {
		}
		close(done)
	}()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("watch channel still open after Close")
	}
	if _, ok := <-s.Watch(context.Background(), 0); ok {
		t.Fatal("Watch on a closed store delivered")
	}
}

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	s, path := open(t)
	tn := fjordvik(t, s)
	s.Close()
	s2, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	got, err := s2.Tenants().Get(ctx, tn.ID)
	if err != nil || got.CreatedAt != tn.CreatedAt || got.UpdatedAt != tn.UpdatedAt {
		t.Fatalf("reopened: %+v %v (want %v)", got.Meta, err, tn.Meta)
	}
	if last, _ := s2.LastChange(ctx); last != 1 {
		t.Fatalf("last change %d", last)
	}
}
