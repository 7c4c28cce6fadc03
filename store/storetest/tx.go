package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sentralpbx/sentral/store"
)

var errRollback = errors.New("storetest: roll this back")

func testTx(t *testing.T, h Harness) {
	t.Run("error rolls back every write", func(t *testing.T) {
		ctx, st, reopen := open(t, h)
		f := newFixture(t, ctx, st)
		seq := lastChange(t, ctx, st)
		var newTenant store.Tenant
		err := st.InTx(ctx, func(tx store.Store) error {
			newTenant = store.Tenant{Name: "tx", DisplayName: "Tx", Domain: "tx.example.net",
				Ranges: []store.NumberRange{extRange("5000-5999")}}
			if err := tx.Tenants().Create(ctx, &newTenant); err != nil {
				return err
			}
			e := store.Extension{TenantID: newTenant.ID, Number: "5000", DisplayName: "Tx", COS: store.COSInternal}
			if err := tx.Extensions().Create(ctx, &e); err != nil {
				return err
			}
			// Reads inside the transaction see its own writes.
			if _, err := tx.Extensions().Find(ctx, newTenant.ID, "5000"); err != nil {
				t.Errorf("Find inside the transaction of what it created: %v", err)
			}
			e1 := f.ext1[0]
			e1.DisplayName = "should not stick"
			if err := tx.Extensions().Update(ctx, &e1); err != nil {
				return err
			}
			if err := tx.Departments().Delete(ctx, f.dep2.ID); err != nil {
				return err
			}
			return errRollback
		})
		if !errors.Is(err, errRollback) {
			t.Fatalf("InTx returned %v, want fn's error %v", err, errRollback)
		}
		for name, s := range map[string]store.Store{"same handle": st, "second handle": reopen(t)} {
			_, err := s.Tenants().Find(ctx, 0, "tx")
			wantNotFound(t, name+": tenant created in the rolled-back tx", err)
			if newTenant.ID != 0 {
				_, err = s.Tenants().Get(ctx, newTenant.ID)
				wantNotFound(t, name+": Get of the rolled-back tenant", err)
			}
			if got, err := s.Extensions().Get(ctx, f.ext1[0].ID); err != nil {
				t.Errorf("%s: Get extension: %v", name, err)
			} else {
				sameEntity(t, name+": extension updated in the rolled-back tx", got, f.ext1[0])
			}
			if _, err := s.Departments().Get(ctx, f.dep2.ID); err != nil {
				t.Errorf("%s: department deleted in the rolled-back tx: %v", name, err)
			}
			if got := lastChange(t, ctx, s); got != seq {
				t.Errorf("%s: LastChange %d after the rollback, want %d", name, got, seq)
			}
			if cs := changesSince(t, ctx, s, seq); len(cs) != 0 {
				t.Errorf("%s: rolled-back tx left changes %+v", name, cs)
			}
		}
	})

	t.Run("nested InTx joins the outer transaction", func(t *testing.T) {
		ctx, st, reopen := open(t, h)
		f := newFixture(t, ctx, st)
		st2 := reopen(t)
		seq := lastChange(t, ctx, st)
		err := st.InTx(ctx, func(tx store.Store) error {
			a := store.Department{TenantID: f.t1.ID, Code: "A", Name: "outer"}
			if err := tx.Departments().Create(ctx, &a); err != nil {
				return err
			}
			if err := tx.InTx(ctx, func(inner store.Store) error {
				// The inner call sees the outer one's uncommitted write.
				if _, err := inner.Departments().Find(ctx, f.t1.ID, "A"); err != nil {
					t.Errorf("inner tx cannot see the outer tx's write: %v", err)
				}
				b := store.Department{TenantID: f.t1.ID, Code: "B", Name: "inner"}
				return inner.Departments().Create(ctx, &b)
			}); err != nil {
				return err
			}
			// The inner InTx returned, but the outer has not: nothing may be
			// visible to another process yet. A bounded wait keeps a
			// blocking reader from hanging the test.
			rctx, cancel := context.WithTimeout(ctx, watchTimeout)
			defer cancel()
			if _, err := st2.Departments().Find(rctx, f.t1.ID, "B"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("second handle, before the outer tx ends: Find inner write = %v, want store.ErrNotFound (nested InTx must not commit on its own)", err)
			}
			return errRollback
		})
		if !errors.Is(err, errRollback) {
			t.Fatalf("InTx returned %v, want %v", err, errRollback)
		}
		for _, code := range []string{"A", "B"} {
			_, err := st2.Departments().Find(ctx, f.t1.ID, code)
			wantNotFound(t, "department "+code+" after the outer tx rolled back", err)
		}
		if cs := changesSince(t, ctx, st, seq); len(cs) != 0 {
			t.Errorf("rolled-back nested tx left changes %+v", cs)
		}
	})

	t.Run("inner error returned by outer rolls back", func(t *testing.T) {
		ctx, st, _ := open(t, h)
		f := newFixture(t, ctx, st)
		err := st.InTx(ctx, func(tx store.Store) error {
			a := store.Department{TenantID: f.t1.ID, Code: "A", Name: "outer"}
			if err := tx.Departments().Create(ctx, &a); err != nil {
				return err
			}
			return tx.InTx(ctx, func(inner store.Store) error {
				b := store.Department{TenantID: f.t1.ID, Code: "B", Name: "inner"}
				if err := inner.Departments().Create(ctx, &b); err != nil {
					return err
				}
				return errRollback
			})
		})
		if !errors.Is(err, errRollback) {
			t.Fatalf("InTx returned %v, want %v", err, errRollback)
		}
		for _, code := range []string{"A", "B"} {
			_, err := st.Departments().Find(ctx, f.t1.ID, code)
			wantNotFound(t, "department "+code, err)
		}
	})

	t.Run("success commits every write in order", func(t *testing.T) {
		ctx, st, reopen := open(t, h)
		f := newFixture(t, ctx, st)
		seq := lastChange(t, ctx, st)
		var tn store.Tenant
		var e store.Extension
		var g store.Group
		err := st.InTx(ctx, func(tx store.Store) error {
			tn = store.Tenant{Name: "tx", DisplayName: "Tx", Domain: "tx.example.net", Ranges: []store.NumberRange{extRange("5000-5999")}}
			if err := tx.Tenants().Create(ctx, &tn); err != nil {
				return err
			}
			e = store.Extension{TenantID: tn.ID, Number: "5000", DisplayName: "Tx", COS: store.COSInternal}
			if err := tx.Extensions().Create(ctx, &e); err != nil {
				return err
			}
			g = store.Group{TenantID: tn.ID, Number: "5100", Name: "G", Strategy: store.GroupHunt, RingSeconds: 20, Members: []int64{e.ID}}
			if err := tx.Groups().Create(ctx, &g); err != nil {
				return err
			}
			e.DisplayName = "Tx updated"
			if err := tx.Extensions().Update(ctx, &e); err != nil {
				return err
			}
			return tx.Departments().Delete(ctx, f.dep2.ID)
		})
		if err != nil {
			t.Fatalf("InTx: %v", err)
		}
		st2 := reopen(t)
		if got, err := st2.Tenants().Get(ctx, tn.ID); err != nil {
			t.Errorf("second handle: tenant: %v", err)
		} else {
			sameEntity(t, "committed tenant", got, tn)
		}
		if got, err := st2.Extensions().Get(ctx, e.ID); err != nil {
			t.Errorf("second handle: extension: %v", err)
		} else {
			sameEntity(t, "committed extension", got, e)
		}
		if got, err := st2.Groups().Get(ctx, g.ID); err != nil {
			t.Errorf("second handle: group: %v", err)
		} else {
			sameEntity(t, "committed group", got, g)
		}
		_, err = st2.Departments().Get(ctx, f.dep2.ID)
		wantNotFound(t, "department deleted in the committed tx", err)

		want := []store.Change{
			{Entity: store.EntityTenant, Op: store.OpCreate, EntityID: tn.ID, Key: "tx", TenantID: tn.ID},
			{Entity: store.EntityExtension, Op: store.OpCreate, EntityID: e.ID, Key: "5000", TenantID: tn.ID},
			{Entity: store.EntityGroup, Op: store.OpCreate, EntityID: g.ID, Key: "5100", TenantID: tn.ID},
			{Entity: store.EntityExtension, Op: store.OpUpdate, EntityID: e.ID, Key: "5000", TenantID: tn.ID},
			{Entity: store.EntityDepartment, Op: store.OpDelete, EntityID: f.dep2.ID, Key: f.dep2.Code, TenantID: f.t2.ID},
		}
		wantChanges(t, "changes of the committed tx", changesSince(t, ctx, st2, seq), want)
	})

	t.Run("conflict inside a tx rolls it back", func(t *testing.T) {
		ctx, st, _ := open(t, h)
		f := newFixture(t, ctx, st)
		e := f.ext1[0]
		e.DisplayName = "first"
		mustUpdate(t, ctx, st.Extensions(), &e)
		err := st.InTx(ctx, func(tx store.Store) error {
			d := store.Department{TenantID: f.t1.ID, Code: "A", Name: "A"}
			if err := tx.Departments().Create(ctx, &d); err != nil {
				return err
			}
			stale := f.ext1[0] // Version 1; the row is at 2
			stale.DisplayName = "stale"
			return tx.Extensions().Update(ctx, &stale)
		})
		if !errors.Is(err, store.ErrConflict) {
			t.Fatalf("InTx with a stale update returned %v, want store.ErrConflict", err)
		}
		_, err = st.Departments().Find(ctx, f.t1.ID, "A")
		wantNotFound(t, "department created before the conflict", err)
	})
}

// wantChanges compares a run of changes with what the writes should have
// logged, in order, with strictly increasing Seq.
func wantChanges(t *testing.T, what string, got, want []store.Change) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d changes, want %d\n\tgot:  %s\n\twant: %s", what, len(got), len(want), fmtChanges(got), fmtChanges(want))
		return
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Entity != w.Entity || g.Op != w.Op || g.EntityID != w.EntityID || g.Key != w.Key || g.TenantID != w.TenantID {
			t.Errorf("%s: change %d is %s, want %s", what, i, fmtChange(g), fmtChange(w))
		}
		if i > 0 && g.Seq <= got[i-1].Seq {
			t.Errorf("%s: Seq %d follows %d, want strictly increasing", what, g.Seq, got[i-1].Seq)
		}
		if g.At.IsZero() || time.Since(g.At) > time.Hour || time.Until(g.At) > time.Hour {
			t.Errorf("%s: change %d At = %s, want about now", what, i, g.At)
		}
	}
}

func fmtChange(c store.Change) string {
	return "{" + string(c.Op) + " " + string(c.Entity) + " id " + itoa(c.EntityID) + " key " + c.Key + " tenant " + itoa(c.TenantID) + "}"
}

func fmtChanges(cs []store.Change) string {
	s := "["
	for i, c := range cs {
		if i > 0 {
			s += " "
		}
		s += fmtChange(c)
	}
	return s + "]"
}
