package location_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/sentralpbx/sentral/sip/location"
	"github.com/sentralpbx/sentral/store"
	"github.com/sentralpbx/sentral/store/sqlite"
	"github.com/sentralpbx/sentral/store/sqlstore"
)

// openDB opens a SQLite store at path with a tenant owning 2000-2099 and
// extensions 2001..2005 (created on the first open).
func openDB(t *testing.T, path string) (*sqlstore.Store, int64) {
	t.Helper()
	st, err := sqlite.Open(t.Context(), path, sqlite.Options{Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { st.Close() })
	if tn, err := st.Tenants().Find(t.Context(), 0, "fjordvik"); err == nil {
		return st, tn.ID
	}
	tn := store.Tenant{Name: "fjordvik", Domain: "fjordvik.example.net",
		Ranges: []store.NumberRange{{Kind: store.RangeExtension, First: "2000", Last: "2099"}}}
	if err := st.Tenants().Create(t.Context(), &tn); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 5; i++ {
		e := store.Extension{TenantID: tn.ID, Number: fmt.Sprint(2000 + i), Enabled: true}
		if err := st.Extensions().Create(t.Context(), &e); err != nil {
			t.Fatal(err)
		}
	}
	return st, tn.ID
}

// waitFor polls cond for up to 100 flush intervals: generous, so a slow
// machine does not fail the test, yet bounded.
func waitFor(t *testing.T, interval time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(100 * interval)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, 100*interval)
		}
		time.Sleep(interval / 4)
	}
}

func stored(t *testing.T, st store.Store, tenant int64) []string {
	t.Helper()
	bs, err := st.Bindings().List(context.Background(), tenant)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	var out []string
	for _, b := range bs {
		out = append(out, b.Number+" "+b.Contact)
	}
	return out
}

func binding(contact, callID string, cseq uint32, expires time.Time) store.Binding {
	return store.Binding{Contact: contact, CallID: callID, CSeq: cseq, Q: 1, Expires: expires,
		Source: "192.0.2.10:5060", Transport: "tcp", Flow: "tcp:10.0.0.1:5060-192.0.2.10:5060", Path: []string{"<sip:edge;lr>"}}
}

func TestWriteBehindOnSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sentral.db")
	st, tn := openDB(t, path)
	const interval = 20 * time.Millisecond
	var offset atomic.Int64 // the test moves the clock forward for expiry
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }

	svc := location.New(st.Bindings(), zaptest.NewLogger(t), location.Options{FlushInterval: interval, PurgeInterval: interval, Node: "a", Now: now})
	if err := svc.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()

	// Updates reach the store within a few intervals.
	t0 := now()
	mustUpdate := func(num string, add []store.Binding, remove []string) {
		t.Helper()
		if _, err := svc.Update(tn, num, add, remove); err != nil {
			t.Fatalf("Update %s: %v", num, err)
		}
	}
	mustUpdate("2001", []store.Binding{binding("sip:2001@192.0.2.10", "c1", 1, t0.Add(time.Hour)), binding("sip:2001@192.0.2.11", "c1", 1, t0.Add(2*time.Second))}, nil)
	mustUpdate("2002", []store.Binding{binding("sip:2002@192.0.2.12", "c2", 1, t0.Add(time.Hour))}, nil)
	mustUpdate("2003", []store.Binding{binding("sip:2003@192.0.2.13", "c3", 1, t0.Add(time.Hour))}, nil)
	want := []string{"2001 sip:2001@192.0.2.10", "2001 sip:2001@192.0.2.11", "2002 sip:2002@192.0.2.12", "2003 sip:2003@192.0.2.13"}
	waitFor(t, interval, "bindings written", func() bool { return slices.Equal(stored(t, st, tn), want) })

	// Removals too, both kinds.
	mustUpdate("2002", []store.Binding{binding("sip:2002@192.0.2.12", "c2", 2, time.Time{})}, nil)
	svc.RemoveAll(tn, "2003")
	want = want[:2]
	waitFor(t, interval, "removals written", func() bool { return slices.Equal(stored(t, st, tn), want) })

	// Expired bindings leave memory and the store.
	offset.Store(int64(3 * time.Second))
	want = want[:1]
	waitFor(t, interval, "expired binding purged", func() bool { return slices.Equal(stored(t, st, tn), want) && svc.Count() == 1 })

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}

	// A clean shutdown writes what the last tick did not: with an hour
	// between ticks only the final flush can have written these.
	svc2 := location.New(st.Bindings(), zap.NewNop(), location.Options{FlushInterval: time.Hour, Now: now})
	if err := svc2.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithCancel(t.Context())
	done2 := make(chan error, 1)
	go func() { done2 <- svc2.Run(ctx2) }()
	t1 := now()
	for i := 4; i <= 5; i++ {
		num := fmt.Sprint(2000 + i)
		if _, err := svc2.Update(tn, num, []store.Binding{binding("sip:"+num+"@192.0.2.20", "c9", 1, t1.Add(time.Hour))}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if got := stored(t, st, tn); !slices.Equal(got, want) {
		t.Fatalf("before shutdown the store already has %q", got)
	}
	cancel2()
	if err := <-done2; err != nil {
		t.Fatalf("Run: %v", err)
	}
	want = append(want, "2004 sip:2004@192.0.2.20", "2005 sip:2005@192.0.2.20")
	if got := stored(t, st, tn); !slices.Equal(got, want) {
		t.Errorf("after shutdown: stored %q, want %q", got, want)
	}

	// A restart on a fresh handle sees every binding exactly as it was.
	st2, _ := openDB(t, path)
	svc3 := location.New(st2.Bindings(), zap.NewNop(), location.Options{Now: now})
	if err := svc3.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got, want := svc3.All(tn), svc2.All(tn); fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
		t.Errorf("after restart:\n got %+v\nwant %+v", got, want)
	}
	if got := svc3.Bindings(tn, "2001"); len(got) != 1 || got[0].Node != "a" || !slices.Equal(got[0].Path, []string{"<sip:edge;lr>"}) || got[0].CallID != "c1" {
		t.Errorf("2001 after restart: %+v", got)
	}
}

// BenchmarkSaveBatchSQLite measures what bounds write-behind throughput: one
// Save of a full default batch (1000 bindings, upserts of existing rows)
// on a SQLite file. ns/op is per batch.
func BenchmarkSaveBatchSQLite(b *testing.B) {
	st, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "sentral.db"), sqlite.Options{Logger: zap.NewNop()})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	benchSave(b, st)
}

func benchSave(b *testing.B, st store.Store) {
	ctx := b.Context()
	tn := store.Tenant{Name: "bench", Domain: "bench.example.net",
		Ranges: []store.NumberRange{{Kind: store.RangeExtension, First: "20000", Last: "29999"}}}
	if err := st.Tenants().Create(ctx, &tn); err != nil {
		b.Fatal(err)
	}
	batch := make([]store.Binding, location.DefaultMaxBatch)
	for i := range batch {
		num := fmt.Sprint(20000 + i)
		if err := st.Extensions().Create(ctx, &store.Extension{TenantID: tn.ID, Number: num, Enabled: true}); err != nil {
			b.Fatal(err)
		}
		batch[i] = binding("sip:"+num+"@192.0.2.1:5060", "c", 1, time.Now().Add(time.Hour))
		batch[i].TenantID, batch[i].Number = tn.ID, num
	}
	b.ResetTimer()
	for b.Loop() {
		if err := st.Bindings().Save(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/binding")
}
