package sqlstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sentralpbx/sentral/store"
	"github.com/sentralpbx/sentral/store/pgtest"
	"github.com/sentralpbx/sentral/store/postgres"
	"github.com/sentralpbx/sentral/store/sqlstore"
)

func TestPostgresSpecifics(t *testing.T) {
	dsn := pgtest.DSN(t, "sqlstore_test")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// Concurrent first opens: the advisory lock lets one migrate.
	const n = 5
	errs := make(chan error, n)
	opened := make(chan *sqlstore.Store, n)
	for i := 0; i < n; i++ {
		go func() {
			// A long poll proves that NOTIFY, not polling, wakes watchers.
			s, err := postgres.Open(ctx, dsn, postgres.Options{PollInterval: time.Hour})
			if err == nil {
				opened <- s
			}
			errs <- err
		}()
	}
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			t.Fatalf("concurrent open: %v", err)
		}
	}
	a, b := <-opened, <-opened
	for len(opened) > 0 {
		(<-opened).Close()
	}
	defer a.Close()
	defer b.Close()

	ch := a.Watch(ctx, 0)
	tn := fjordvik(t, b)
	select {
	case c := <-ch:
		if c.Entity != store.EntityTenant || c.EntityID != tn.ID {
			t.Fatalf("change %+v", c)
		}
	case <-time.After(time.Second):
		t.Fatal("no NOTIFY-driven change within a second")
	}

	// A failed statement inside InTx must not poison the transaction.
	err := b.InTx(ctx, func(tx store.Store) error {
		e := store.Extension{TenantID: tn.ID, Number: "2001"}
		if err := tx.Extensions().Create(ctx, &e); err != nil {
			return err
		}
		dup := store.Extension{TenantID: tn.ID, Number: "2001"}
		if err := tx.Extensions().Create(ctx, &dup); !errors.Is(err, store.ErrExists) {
			t.Errorf("duplicate: %v", err)
		}
		e2 := store.Extension{TenantID: tn.ID, Number: "2002"}
		return tx.Extensions().Create(ctx, &e2)
	})
	if err != nil {
		t.Fatal(err)
	}
	exts, err := a.Extensions().List(ctx, store.ListOptions{TenantID: tn.ID})
	if err != nil || len(exts) != 2 {
		t.Fatalf("extensions %v %v", exts, err)
	}
	if err := b.Tenants().Delete(ctx, tn.ID); err != nil {
		t.Fatal(err)
	}
}
