// Package storetest is the conformance suite every store.Store
// implementation must pass. Both back ends (SQLite and PostgreSQL) run the
// same tests, so the CLI, the admin API and the SIP core can rely on the
// contract in package store rather than on one back end's quirks.
//
// A back end wires itself in with a Harness:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, storetest.Harness{Open: func(t *testing.T) (store.Store, func(*testing.T) store.Store) {
//			... create an empty database, open and migrate it ...
//		}})
//	}
package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/sentralpbx/sentral/store"
)

// Harness connects the suite to one back end.
type Harness struct {
	// Open is called once per test. It returns a store on a fresh, empty,
	// migrated database of its own, and reopen, which opens one more
	// independent handle (its own connection pool, as a second process
	// would) on that same database, running migrations again. Open must
	// register the Close of every handle it or reopen hands out with
	// t.Cleanup: tests never close handles themselves.
	Open func(t *testing.T) (st store.Store, reopen func(t *testing.T) store.Store)
}

// Generous bounds for waits. They only stop a broken store from hanging
// the run; no test measures speed against them.
const (
	testTimeout  = 60 * time.Second
	watchTimeout = 5 * time.Second
)

// Run runs the whole conformance suite against h.
func Run(t *testing.T, h Harness) {
	if h.Open == nil {
		t.Fatal("storetest.Harness.Open is nil")
	}
	t.Run("Migrations", func(t *testing.T) { testMigrations(t, h) })
	t.Run("CRUD", func(t *testing.T) { testCRUD(t, h) })
	t.Run("ListOrder", func(t *testing.T) { testListOrder(t, h) })
	t.Run("Rules", func(t *testing.T) { testRules(t, h) })
	t.Run("NumberPlan", func(t *testing.T) { testNumberPlan(t, h) })
	t.Run("CallFeatures", func(t *testing.T) { testCallFeatures(t, h) })
	t.Run("Tx", func(t *testing.T) { testTx(t, h) })
	t.Run("Concurrency", func(t *testing.T) { testConcurrency(t, h) })
	t.Run("Changes", func(t *testing.T) { testChanges(t, h) })
	t.Run("Bindings", func(t *testing.T) { testBindings(t, h) })
	t.Run("CDRs", func(t *testing.T) { testCDRs(t, h) })
	t.Run("Voicemail", func(t *testing.T) { testVoicemail(t, h) })
	t.Run("Billing", func(t *testing.T) { testBilling(t, h) })
	t.Run("Operators", func(t *testing.T) { testOperators(t, h) })
	t.Run("Audit", func(t *testing.T) { testAudit(t, h) })
}

// open gives a test its store, its second handle and a context that ends
// the test's work if the store hangs.
func open(t *testing.T, h Harness) (context.Context, store.Store, func(t *testing.T) store.Store) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	st, reopen := h.Open(t)
	if st == nil || reopen == nil {
		t.Fatal("Harness.Open returned a nil store or reopen function")
	}
	return ctx, st, reopen
}

func testMigrations(t *testing.T, h Harness) {
	ctx, st, reopen := open(t, h)

	if b := st.Backend(); b != "sqlite" && b != "postgres" {
		t.Errorf("Backend() = %q, want \"sqlite\" or \"postgres\"", b)
	}
	if seq, err := st.LastChange(ctx); err != nil || seq != 0 {
		t.Errorf("fresh store: LastChange() = %d, %v; want 0, nil", seq, err)
	}
	if cs, err := st.Changes(ctx, 0, 100); err != nil || len(cs) != 0 {
		t.Errorf("fresh store: Changes(0, 100) = %d changes, %v; want none", len(cs), err)
	}
	// Every table must exist and be empty: a missing migration shows up here
	// rather than as a confusing failure further down.
	for name, n := range countAll(t, ctx, st) {
		if n != 0 {
			t.Errorf("fresh store: %s lists %d rows, want 0", name, n)
		}
	}

	f := newFixture(t, ctx, st)
	before, err := st.LastChange(ctx)
	if err != nil {
		t.Fatalf("LastChange: %v", err)
	}
	counts := countAll(t, ctx, st)

	// Opening the same database again runs migrations again; they must find
	// nothing to do, and must neither lose data nor write change rows.
	st2 := reopen(t)
	if b1, b2 := st.Backend(), st2.Backend(); b1 != b2 {
		t.Errorf("reopened Backend() = %q, first handle %q", b2, b1)
	}
	after, err := st2.LastChange(ctx)
	if err != nil {
		t.Fatalf("reopened LastChange: %v", err)
	}
	if after != before {
		t.Errorf("reopening changed LastChange: %d before, %d after", before, after)
	}
	for name, n := range countAll(t, ctx, st2) {
		if n != counts[name] {
			t.Errorf("reopened store: %s lists %d rows, before reopening %d", name, n, counts[name])
		}
	}
	got, err := st2.Tenants().Get(ctx, f.t1.ID)
	if err != nil {
		t.Fatalf("reopened Get tenant %d: %v", f.t1.ID, err)
	}
	sameEntity(t, "tenant read through the reopened handle", got, f.t1)

	// A third open (after two opens on a migrated database) must also work:
	// migrations are idempotent, not merely tolerant of a second run.
	st3 := reopen(t)
	if _, err := st3.Extensions().Find(ctx, f.t1.ID, f.ext1[0].Number); err != nil {
		t.Errorf("third handle: Find extension %s: %v", f.ext1[0].Number, err)
	}
	// And the reopened handle can write.
	d := store.Department{TenantID: f.t1.ID, Code: "9999", Name: "After reopen"}
	if err := st2.Departments().Create(ctx, &d); err != nil {
		t.Errorf("create through reopened handle: %v", err)
	}
}

// countAll lists every entity kind and returns how many rows each has.
func countAll(t *testing.T, ctx context.Context, st store.Store) map[string]int {
	t.Helper()
	counts := map[string]int{}
	count := func(name string, n int, err error) {
		if err != nil {
			t.Errorf("List %s: %v", name, err)
		}
		counts[name] = n
	}
	{
		v, err := st.Tenants().List(ctx, store.ListOptions{})
		count("tenants", len(v), err)
	}
	{
		v, err := st.Sites().List(ctx, store.ListOptions{})
		count("sites", len(v), err)
	}
	{
		v, err := st.Departments().List(ctx, store.ListOptions{})
		count("departments", len(v), err)
	}
	{
		v, err := st.People().List(ctx, store.ListOptions{})
		count("people", len(v), err)
	}
	{
		v, err := st.Extensions().List(ctx, store.ListOptions{})
		count("extensions", len(v), err)
	}
	{
		v, err := st.Devices().List(ctx, store.ListOptions{})
		count("devices", len(v), err)
	}
	{
		v, err := st.DECTGateways().List(ctx, store.ListOptions{})
		count("dect gateways", len(v), err)
	}
	{
		v, err := st.DECTHandsets().List(ctx, store.ListOptions{})
		count("dect handsets", len(v), err)
	}
	{
		v, err := st.Trunks().List(ctx, store.ListOptions{})
		count("trunks", len(v), err)
	}
	{
		v, err := st.Groups().List(ctx, store.ListOptions{})
		count("groups", len(v), err)
	}
	{
		v, err := st.CDRs().List(ctx, store.CDRFilter{})
		count("call records", len(v), err)
	}
	return counts
}
