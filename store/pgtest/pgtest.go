// Package pgtest gives tests throwaway PostgreSQL databases on the server
// that SENTRAL_TEST_PG names (an admin DSN, as scripts/pg-test.sh
// prints). Every store test runs against SQLite and PostgreSQL; where no
// server is configured the PostgreSQL half is skipped loudly, except in CI
// (CI=true), where skipping it would hide a failure.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sentralpbx/sentral/store"
	"github.com/sentralpbx/sentral/store/backend"
)

// SkipMessage is what a skipped PostgreSQL half says.
const SkipMessage = "*** PostgreSQL half SKIPPED: SENTRAL_TEST_PG is not set (start one with scripts/pg-test.sh) ***"

// Admin returns the admin DSN from SENTRAL_TEST_PG, skipping the test
// without one (failing it under CI=true).
func Admin(tb testing.TB) string {
	tb.Helper()
	admin := os.Getenv("SENTRAL_TEST_PG")
	if admin == "" {
		if os.Getenv("CI") == "true" {
			tb.Fatal("CI=true but SENTRAL_TEST_PG is not set: the PostgreSQL half may not be skipped in CI")
		}
		tb.Skip(SkipMessage)
	}
	return admin
}

// DSN creates a database for this test on SENTRAL_TEST_PG's server (see
// Database).
func DSN(tb testing.TB, prefix string) string {
	tb.Helper()
	return Database(tb, Admin(tb), prefix)
}

// Database creates a database named prefix_<random> on the admin DSN's
// server, drops it when the test ends (WITH FORCE, so a store that leaked
// connections cannot make later drops fail), and returns its DSN.
func Database(tb testing.TB, admin, prefix string) string {
	tb.Helper()
	base, err := url.Parse(admin)
	if err != nil || (base.Scheme != "postgres" && base.Scheme != "postgresql") {
		tb.Fatalf("SENTRAL_TEST_PG=%q: want a postgres:// URL (%v)", admin, err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := prefix + "_" + hex.EncodeToString(b[:])
	exec := func(q string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, q)
		return err
	}
	if err := exec("CREATE DATABASE " + name); err != nil {
		tb.Fatalf("CREATE DATABASE %s on SENTRAL_TEST_PG: %v", name, err)
	}
	tb.Cleanup(func() {
		if err := exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			tb.Errorf("DROP DATABASE %s: %v", name, err)
		}
	})
	u := *base
	u.Path = "/" + name
	return u.String()
}

// EachStore runs fn as two subtests, "SQLite" on a fresh database file and
// "PostgreSQL" on a fresh database (skipped loudly without SENTRAL_TEST_PG,
// failed under CI), each with a store opened on it and closed when the
// subtest ends, and a context bounded by timeout. prefix names the
// PostgreSQL database.
func EachStore(t *testing.T, prefix string, timeout time.Duration, fn func(t *testing.T, ctx context.Context, st store.Store)) {
	t.Helper()
	for _, b := range []struct {
		name string
		dsn  func(t *testing.T) string
	}{
		{"SQLite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "sentral.db") }},
		{"PostgreSQL", func(t *testing.T) string { return DSN(t, prefix) }},
	} {
		t.Run(b.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			st, err := backend.Open(ctx, b.dsn(t), backend.Options{})
			if err != nil {
				t.Fatalf("open store: %v", err)
			}
			t.Cleanup(func() { st.Close() })
			fn(t, ctx, st)
		})
	}
}
