package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sentralpbx/sentral/store"
)

// testBindings checks the registration store: exact round trips, identity
// by store.BindingKey, deletes, expiry, tenant isolation, cascades from the
// admin side, and concurrent batches from two handles.
func testBindings(t *testing.T, h Harness) {
	// base is a fixed instant with microseconds, so exact comparison tests
	// the store's precision rather than the clock.
	base := time.Date(2031, 3, 14, 9, 26, 53, 589793000, time.UTC)
	oslo := time.FixedZone("CET", 3600)
	bind := func(tn int64, number, contact string) store.Binding {
		return store.Binding{TenantID: tn, Number: number, Contact: contact, Q: 1,
			Expires: base.Add(time.Hour), CallID: "cid-" + contact, CSeq: 1, Source: "192.0.2.1:5060",
			Transport: "udp", UpdatedAt: base}
	}

	t.Run("round trip keeps every field", func(t *testing.T) {
		ctx, st, _ := open(t, h)
		f := newFixture(t, ctx, st)
		seq := lastChange(t, ctx, st)
		full := store.Binding{
			TenantID: f.t1.ID, Number: f.ext1[0].Number,
			Contact:  "<sip:2001@198.51.100.7:49152;transport=tls;ob>;expires=3600",
			Instance: `"<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>"`, RegID: 2,
			Q:       0.75,
			Expires: base.In(oslo), // stored and returned in UTC
			CallID:  "a84b4c76e66710@pc33.fjordvik.example.net", CSeq: 4294967295,
			UserAgent: "Yealink SIP-T54W 96.86.0.100 «Ærlig»", Source: "[2001:db8::7]:49152",
			Transport: "tls", Flow: "tls:10.0.0.1:5061->198.51.100.7:49152",
			Path: []string{"<sip:edge2.example.net;lr>", "<sip:edge1.example.net;lr;ob>", "<sip:a@b>"},
			Node: "node-a", UpdatedAt: base.Add(-time.Second + time.Microsecond).In(oslo),
		}
		bare := store.Binding{TenantID: f.t1.ID, Number: f.ext1[0].Number, Contact: "sip:2001@192.0.2.9",
			Q: 0, Expires: base.Add(time.Minute), UpdatedAt: base}
		if err := st.Bindings().Save(ctx, []store.Binding{full, bare}); err != nil {
			t.Fatalf("Save: %v", err)
		}
		got := mustListBindings(t, st, f.t1.ID)
		if len(got) != 2 {
			t.Fatalf("List after saving 2 bindings: %d rows: %+v", len(got), got)
		}
		byKey := map[string]store.Binding{}
		for _, b := range got {
			byKey[store.BindingKey(b)] = b
		}
		full.Expires, full.UpdatedAt = full.Expires.UTC(), full.UpdatedAt.UTC()
		for _, want := range []store.Binding{full, bare} {
			b, ok := byKey[store.BindingKey(want)]
			if !ok {
				t.Errorf("binding %s missing from List", store.BindingKey(want))
				continue
			}
			sameBinding(t, "read back", b, want)
		}
		if after := lastChange(t, ctx, st); after != seq {
			t.Errorf("saving bindings wrote to the change log: LastChange %d -> %d", seq, after)
		}
		// ListAOR reads one AOR exactly, and nothing of another.
		other := bind(f.t1.ID, f.ext1[1].Number, "sip:2002@192.0.2.2")
		if err := st.Bindings().Save(ctx, []store.Binding{other}); err != nil {
			t.Fatalf("Save: %v", err)
		}
		aor, err := st.Bindings().ListAOR(ctx, f.t1.ID, f.ext1[0].Number)
		if err != nil {
			t.Fatalf("ListAOR: %v", err)
		}
		if len(aor) != 2 {
			t.Fatalf("ListAOR of %s: %d bindings, want 2: %+v", f.ext1[0].Number, len(aor), aor)
		}
		for _, b := range aor {
			if want, ok := byKey[store.BindingKey(b)]; !ok {
				t.Errorf("ListAOR returned %s of %s", store.BindingKey(b), b.Number)
			} else {
				sameBinding(t, "ListAOR", b, want)
			}
		}
		if none, err := st.Bindings().ListAOR(ctx, f.t2.ID, f.ext1[0].Number); err != nil || len(none) != 0 {
			t.Errorf("ListAOR of the number in another tenant: %d bindings, %v", len(none), err)
		}
	})

	t.Run("upsert replaces by key", func(t *testing.T) {
		ctx, st, _ := open(t, h)
		f := newFixture(t, ctx, st)
		b := bind(f.t1.ID, f.ext1[0].Number, "sip:2001@192.0.2.1")
		if err := st.Bindings().Save(ctx, []store.Binding{b}); err != nil {
			t.Fatalf("Save: %v", err)
		}
		b.CSeq, b.Expires, b.Q, b.Path, b.Source = 2, base.Add(2*time.Hour), 0.5, []string{"<sip:p1;lr>"}, "192.0.2.1:5062"
		// The same key twice in one batch: the last one wins.
		older := b
		older.CSeq = 1
		if err := st.Bindings().Save(ctx, []store.Binding{older, b}); err != nil {
			t.Fatalf("Save again: %v", err)
		}
		got := mustListBindings(t, st, f.t1.ID)
		if len(got) != 1 {
			t.Fatalf("List after upsert: %d rows, want 1: %+v", len(got), got)
		}
		sameBinding(t, "after upsert", got[0], b)
	})

	t.Run("instance and reg-id identify a binding", func(t *testing.T) {
		ctx, st, _ := open(t, h)
		f := newFixture(t, ctx, st)
		n := f.ext1[0].Number
		a := bind(f.t1.ID, n, "sip:2001@10.0.0.5:5060")
		a.Instance, a.RegID = "<urn:uuid:1>", 1
		moved := a // same UA and flow, new address (NAT rebinding)
		moved.Contact = "sip:2001@10.0.0.99:6000"
		other := a // same UA, second flow (RFC 5626 outbound)
		other.RegID = 2
		plain := bind(f.t1.ID, n, "sip:2001@10.0.0.5:5060") // same URI, no instance
		if store.BindingKey(a) != store.BindingKey(moved) || store.BindingKey(a) == store.BindingKey(other) || store.BindingKey(a) == store.BindingKey(plain) {
			t.Fatalf("BindingKey: a %q moved %q other %q plain %q", store.BindingKey(a), store.BindingKey(moved), store.BindingKey(other), store.BindingKey(plain))
		}
		for _, b := range []store.Binding{a, moved, other, plain} {
			if err := st.Bindings().Save(ctx, []store.Binding{b}); err != nil {
				t.Fatalf("Save %s: %v", b.Contact, err)
			}
		}
		got := mustListBindings(t, st, f.t1.ID)
		if len(got) != 3 {
			t.Fatalf("List: %d rows, want 3 (moved replaced a): %+v", len(got), got)
		}
		for _, b := range got {
			if store.BindingKey(b) == store.BindingKey(a) && b.Contact != moved.Contact {
				t.Errorf("instance binding has Contact %q, want the re-registered %q", b.Contact, moved.Contact)
			}
		}
		// The same instance may register several AORs (a multi-line phone).
		second := a
		second.Number = f.ext1[1].Number
		if err := st.Bindings().Save(ctx, []store.Binding{second}); err != nil {
			t.Fatalf("Save second line: %v", err)
		}
		if got := mustListBindings(t, st, f.t1.ID); len(got) != 4 {
			t.Errorf("List after a second AOR with the same instance: %d rows, want 4", len(got))
		}
	})

	t.Run("delete by keys and by AOR", func(t *testing.T) {
		ctx, st, _ := open(t, h)
		f := newFixture(t, ctx, st)
		n1, n2 := f.ext1[0].Number, f.ext1[1].Number
		var bs []store.Binding
		for i := range 4 {
			bs = append(bs, bind(f.t1.ID, n1, fmt.Sprintf("sip:%s@192.0.2.%d", n1, i)))
		}
		bs = append(bs, bind(f.t1.ID, n2, "sip:"+n2+"@192.0.2.1"))
		if err := st.Bindings().Save(ctx, bs); err != nil {
			t.Fatalf("Save: %v", err)
		}
		// Unknown keys, and keys of this AOR given with another number, are ignored.
		if err := st.Bindings().Delete(ctx, f.t1.ID, n1, []string{store.BindingKey(bs[1]), store.BindingKey(bs[3]), "c:sip:nobody@nowhere"}); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if err := st.Bindings().Delete(ctx, f.t1.ID, n2, []string{store.BindingKey(bs[0])}); err != nil {
			t.Fatalf("Delete with another AOR: %v", err)
		}
		if err := st.Bindings().Delete(ctx, f.t1.ID, n1, nil); err != nil {
			t.Fatalf("Delete no keys: %v", err)
		}
		wantKeys(t, "after Delete", mustListBindings(t, st, f.t1.ID), bs[0], bs[2], bs[4])
		if err := st.Bindings().DeleteAOR(ctx, f.t1.ID, n1); err != nil {
			t.Fatalf("DeleteAOR: %v", err)
		}
		wantKeys(t, "after DeleteAOR", mustListBindings(t, st, f.t1.ID), bs[4])
		if err := st.Bindings().DeleteAOR(ctx, f.t1.ID, n1); err != nil {
			t.Errorf("DeleteAOR of an AOR without bindings: %v", err)
		}
	})

	t.Run("purge removes only expired bindings", func(t *testing.T) {
		ctx, st, _ := open(t, h)
		f := newFixture(t, ctx, st)
		n := f.ext1[0].Number
		var bs []store.Binding
		// Expiries straddle the cutoff by a microsecond and by a second.
		for i, d := range []time.Duration{-time.Hour, -time.Second, -time.Microsecond, 0, time.Microsecond, time.Hour} {
			b := bind(f.t1.ID, n, fmt.Sprintf("sip:%s@192.0.2.%d", n, i))
			b.Expires = base.Add(d)
			bs = append(bs, b)
		}
		if err := st.Bindings().Save(ctx, bs); err != nil {
			t.Fatalf("Save: %v", err)
		}
		got, err := st.Bindings().Purge(ctx, base.In(oslo))
		if err != nil || got != 3 {
			t.Errorf("Purge(before %s) = %d, %v; want 3, nil", base, got, err)
		}
		wantKeys(t, "after Purge", mustListBindings(t, st, 0), bs[3], bs[4], bs[5])
		if got, err := st.Bindings().Purge(ctx, base); err != nil || got != 0 {
			t.Errorf("second Purge = %d, %v; want 0, nil", got, err)
		}
	})

	t.Run("tenant isolation", func(t *testing.T) {
		ctx, st, _ := open(t, h)
		f := newFixture(t, ctx, st)
		a := bind(f.t1.ID, f.ext1[0].Number, "sip:shared@192.0.2.1")
		b := bind(f.t2.ID, f.ext2[0].Number, "sip:shared@192.0.2.1")
		if err := st.Bindings().Save(ctx, []store.Binding{a, b}); err != nil {
			t.Fatalf("Save: %v", err)
		}
		wantKeys(t, "List(t1)", mustListBindings(t, st, f.t1.ID), a)
		wantKeys(t, "List(t2)", mustListBindings(t, st, f.t2.ID), b)
		wantKeys(t, "List(0)", mustListBindings(t, st, 0), a, b)
		// Another tenant's id with this tenant's number and key touches nothing.
		if err := st.Bindings().Delete(ctx, f.t2.ID, a.Number, []string{store.BindingKey(a)}); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if err := st.Bindings().DeleteAOR(ctx, f.t2.ID, a.Number); err != nil {
			t.Fatalf("DeleteAOR: %v", err)
		}
		wantKeys(t, "List(0) after deletes under the wrong tenant", mustListBindings(t, st, 0), a, b)
		// A binding naming the number under the wrong tenant is no binding.
		stray := bind(f.t2.ID, f.ext1[1].Number, "sip:stray@192.0.2.2")
		if err := st.Bindings().Save(ctx, []store.Binding{stray}); err != nil {
			t.Fatalf("Save for a number the tenant lacks: %v, want it skipped", err)
		}
		wantKeys(t, "List(t2) after saving for a number it lacks", mustListBindings(t, st, f.t2.ID), b)
	})

	t.Run("deleting or renumbering an extension or a tenant removes its bindings", func(t *testing.T) {
		ctx, st, _ := open(t, h)
		f := newFixture(t, ctx, st)
		var bs []store.Binding
		for _, e := range append(slices.Clone(f.ext1), f.ext2...) {
			bs = append(bs, bind(e.TenantID, e.Number, "sip:"+e.Number+"@192.0.2.1"))
		}
		if err := st.Bindings().Save(ctx, bs); err != nil {
			t.Fatalf("Save: %v", err)
		}
		if err := st.Extensions().Delete(ctx, f.ext1[0].ID); err != nil {
			t.Fatalf("delete extension %s: %v", f.ext1[0].Number, err)
		}
		wantKeys(t, "after deleting extension "+f.ext1[0].Number, mustListBindings(t, st, 0), bs[1:]...)

		e := f.ext1[1]
		e.Number = "2999"
		mustUpdate(t, ctx, st.Extensions(), &e)
		wantKeys(t, "after renumbering extension "+f.ext1[1].Number, mustListBindings(t, st, 0), bs[2:]...)
		e2 := f.ext1[2]
		e2.DisplayName = "Not renumbered"
		mustUpdate(t, ctx, st.Extensions(), &e2)
		wantKeys(t, "after renaming extension "+f.ext1[2].Number, mustListBindings(t, st, 0), bs[2:]...)

		if err := st.Tenants().Delete(ctx, f.t2.ID); err != nil {
			t.Fatalf("delete tenant %s: %v", f.t2.Name, err)
		}
		wantKeys(t, "after deleting tenant "+f.t2.Name, mustListBindings(t, st, 0), bs[2])

		// Bindings written behind a deletion are skipped, not an error
		// that would fail the location service's batch forever.
		if err := st.Bindings().Save(ctx, []store.Binding{bs[0], bs[2], bs[3]}); err != nil {
			t.Fatalf("Save including deleted extensions: %v", err)
		}
		wantKeys(t, "after saving for deleted extensions", mustListBindings(t, st, 0), bs[2])
	})

	t.Run("Bindings inside InTx join the transaction", func(t *testing.T) {
		ctx, st, _ := open(t, h)
		f := newFixture(t, ctx, st)
		b := bind(f.t1.ID, f.ext1[0].Number, "sip:tx@192.0.2.1")
		boom := errors.New("roll back")
		err := st.InTx(ctx, func(tx store.Store) error {
			if err := tx.Bindings().Save(ctx, []store.Binding{b}); err != nil {
				return err
			}
			if got, err := tx.Bindings().List(ctx, f.t1.ID); err != nil || len(got) != 1 {
				t.Errorf("List inside the transaction: %d, %v; want 1", len(got), err)
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx: %v, want the function's error", err)
		}
		wantKeys(t, "after the rolled-back transaction", mustListBindings(t, st, 0))
	})

	t.Run("concurrent saves from two handles lose nothing", func(t *testing.T) {
		ctx, st, reopen := open(t, h)
		f := newFixture(t, ctx, st)
		handles := []store.Store{st, reopen(t)}
		exts := append(slices.Clone(f.ext1), f.ext2...)
		const rounds, perBatch = 15, 40
		want := map[string]store.Binding{}
		batches := make([][][]store.Binding, len(handles))
		for hi := range handles {
			for r := range rounds {
				var batch []store.Binding
				for i := range perBatch {
					e := exts[(r+i)%len(exts)]
					// Half of each batch is this handle's own; the other
					// half upserts keys both handles write, in opposite
					// orders, which is where deadlocks would show.
					contact := fmt.Sprintf("sip:h%d-r%d-%d@192.0.2.1", hi, r, i)
					if i%2 == 1 {
						contact = fmt.Sprintf("sip:both-%d@192.0.2.1", i)
					}
					b := bind(e.TenantID, e.Number, contact)
					b.CSeq = uint32(r)
					batch = append(batch, b)
					want[fmt.Sprint(b.TenantID, b.Number, store.BindingKey(b))] = b
				}
				if hi == 1 {
					slices.Reverse(batch)
				}
				batches[hi] = append(batches[hi], batch)
			}
		}
		var wg sync.WaitGroup
		errs := make(chan error, len(handles)*rounds)
		start := make(chan struct{})
		for hi, s := range handles {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for _, batch := range batches[hi] {
					if err := s.Bindings().Save(ctx, batch); err != nil {
						errs <- fmt.Errorf("handle %d: %w", hi+1, err)
					}
				}
			}()
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("concurrent Save: %v", err)
		}
		got := mustListBindings(t, st, 0)
		if len(got) != len(want) {
			t.Errorf("after concurrent saves: %d bindings, want %d", len(got), len(want))
		}
		for _, b := range got {
			if _, ok := want[fmt.Sprint(b.TenantID, b.Number, store.BindingKey(b))]; !ok {
				t.Errorf("unexpected binding %s of %s", store.BindingKey(b), b.Number)
			}
		}
	})
}

func mustListBindings(t *testing.T, st store.Store, tenantID int64) []store.Binding {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	bs, err := st.Bindings().List(ctx, tenantID)
	if err != nil {
		t.Fatalf("List bindings of tenant %d: %v", tenantID, err)
	}
	return bs
}

// wantKeys checks that got holds exactly the bindings of want, by tenant,
// number and key, in List's order (tenant, number, key).
func wantKeys(t *testing.T, what string, got []store.Binding, want ...store.Binding) {
	t.Helper()
	id := func(b store.Binding) string {
		return fmt.Sprintf("%d/%s/%s", b.TenantID, b.Number, store.BindingKey(b))
	}
	var g, w []string
	for _, b := range got {
		g = append(g, id(b))
	}
	for _, b := range want {
		w = append(w, id(b))
	}
	slices.Sort(w) // tenant ids are small and equal in length in the fixture
	if !slices.Equal(g, w) {
		t.Errorf("%s: bindings %q, want %q", what, g, w)
	}
}

// sameBinding compares exactly: times must survive to the microsecond and
// come back in UTC.
func sameBinding(t *testing.T, what string, got, want store.Binding) {
	t.Helper()
	for _, tm := range []struct {
		name      string
		got, want time.Time
	}{{"Expires", got.Expires, want.Expires}, {"UpdatedAt", got.UpdatedAt, want.UpdatedAt}} {
		if !tm.got.Equal(tm.want) || tm.got.Location() != time.UTC {
			t.Errorf("%s %s: %s: %s, want %s in UTC", what, store.BindingKey(want), tm.name, tm.got, tm.want.UTC())
		}
	}
	got.Expires, got.UpdatedAt, want.Expires, want.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if len(got.Path) == 0 && len(want.Path) == 0 {
		got.Path, want.Path = nil, nil
	}
	if fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", want) {
		t.Errorf("%s:\n got %#v\nwant %#v", what, got, want)
	}
}
