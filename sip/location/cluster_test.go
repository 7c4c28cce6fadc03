package location

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/sentralpbx/sentral/store"
)

// TestRefreshAcrossNodes: two nodes on one store. A binding node a writes
// reaches node b by Refresh (as the cluster's notice makes it), with a's
// node name; a phone that moves to b replaces it there, a forgets its own
// copy on Refresh without deleting b's row, and b's unregister empties a.
func TestRefreshAcrossNodes(t *testing.T) {
	const tn, num = int64(7), "2001"
	ctx := context.Background()
	clk := newClock()
	ms := newMemStore()
	var mu sync.Mutex
	var flushed []AOR
	var changes [][]string
	a := New(ms, zaptest.NewLogger(t), Options{Now: clk.Now, Node: "a", OnFlushed: func(aors []AOR) {
		mu.Lock()
		flushed = append(flushed, aors...)
		mu.Unlock()
	}})
	b := New(ms, zaptest.NewLogger(t), Options{Now: clk.Now, Node: "b", OnChange: func(_ int64, _ string, bs []store.Binding) {
		mu.Lock()
		changes = append(changes, contactsOf(bs))
		mu.Unlock()
	}})
	phone := reg("sip:2001@192.0.2.7:5060", "c1", 1, 3600, 1)
	phone.Expires = clk.Now().Add(time.Hour)
	if _, err := a.Update(tn, num, []store.Binding{phone}, nil); err != nil {
		t.Fatal(err)
	}
	if err := a.flush(ctx, false); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(flushed, []AOR{{tn, num}}) {
		t.Fatalf("OnFlushed got %v, want the one AOR", flushed)
	}
	if err := b.Refresh(ctx, tn, num); err != nil {
		t.Fatal(err)
	}
	got := b.Bindings(tn, num)
	if len(got) != 1 || got[0].Node != "a" || b.Local(got[0]) || !a.Local(got[0]) {
		t.Fatalf("b after Refresh: %+v, want a's binding", got)
	}
	if len(changes) != 1 || !slices.Equal(changes[0], []string{phone.Contact}) {
		t.Errorf("b's OnChange calls %q, want one with the contact", changes)
	}
	// A second Refresh with nothing new tells nobody.
	if err := b.Refresh(ctx, tn, num); err != nil || len(changes) != 1 {
		t.Errorf("idle Refresh: err %v, %d OnChange calls, want 1", err, len(changes))
	}

	// The phone fails over to b: same contact, new Call-ID.
	clk.Add(time.Second)
	moved := reg(phone.Contact, "c2", 1, 3600, 1)
	moved.Expires = clk.Now().Add(time.Hour)
	if _, err := b.Update(tn, num, []store.Binding{moved}, nil); err != nil {
		t.Fatal(err)
	}
	if err := b.flush(ctx, false); err != nil {
		t.Fatal(err)
	}
	// a still has the phone pending a refresh write: Refresh must drop it
	// and a's next flush must not delete b's row.
	clk.Add(time.Second)
	if _, err := a.Update(tn, num, []store.Binding{func() store.Binding {
		r := reg(phone.Contact, "c1", 2, 3600, 1)
		r.Expires = clk.Now().Add(-time.Second).Add(time.Hour)
		r.UpdatedAt = time.Time{}
		return r
	}()}, nil); err != nil {
		t.Fatal(err)
	}
	// b's row is newer than a's refresh only if b wrote later: write
	// again from b after a's update, as a live phone on b would.
	clk.Add(time.Second)
	again := reg(phone.Contact, "c2", 2, 3600, 1)
	again.Expires = clk.Now().Add(time.Hour)
	if _, err := b.Update(tn, num, []store.Binding{again}, nil); err != nil {
		t.Fatal(err)
	}
	if err := b.flush(ctx, true); err != nil {
		t.Fatal(err)
	}
	if err := a.Refresh(ctx, tn, num); err != nil {
		t.Fatal(err)
	}
	if got := a.Bindings(tn, num); len(got) != 1 || got[0].Node != "b" || got[0].CallID != "c2" {
		t.Fatalf("a after the phone moved: %+v, want b's binding", got)
	}
	if err := a.flush(ctx, true); err != nil {
		t.Fatal(err)
	}
	rows, _ := ms.ListAOR(ctx, tn, num)
	if len(rows) != 1 || rows[0].Node != "b" {
		t.Fatalf("store after a's flush: %+v, want b's row", rows)
	}

	// b unregisters the phone; a follows.
	if err := b.Unregister(tn, num, "c2", 3); err != nil {
		t.Fatal(err)
	}
	if err := b.flush(ctx, false); err != nil {
		t.Fatal(err)
	}
	if err := a.Refresh(ctx, tn, num); err != nil {
		t.Fatal(err)
	}
	if got := a.Bindings(tn, num); len(got) != 0 {
		t.Fatalf("a after b's unregister: %+v, want none", got)
	}
}
