package sqlstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sentralpbx/sentral/store"
	"github.com/sentralpbx/sentral/store/postgres"
	"github.com/sentralpbx/sentral/store/sqlstore"
)

// pgDSN creates a throwaway database on the server SENTRAL_TEST_PG names
// (skipping the test without one) and returns its DSN.
func pgDSN(t *testing.T) string {
	t.Helper()
	admin := os.Getenv("SENTRAL_TEST_PG")
	if admin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("SENTRAL_TEST_PG must be set in CI: the PostgreSQL half may not be skipped there")
		}
		t.Skip("*** PostgreSQL half SKIPPED: SENTRAL_TEST_PG is not set ***")
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "sqlstore_test_" + hex.EncodeToString(b[:])
	exec := func(q string) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	exec("CREATE DATABASE " + name)
	t.Cleanup(func() { exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)") })
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

func TestPostgresSpecifics(t *testing.T) {
	dsn := pgDSN(t)
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
