package postgres_test

import (
	"fmt"
	"github.com/sentralpbx/sentral/store/pgtest"
	"os"
	"testing"

	"github.com/sentralpbx/sentral/store"
	"github.com/sentralpbx/sentral/store/backend"
	"github.com/sentralpbx/sentral/store/storetest"
)

// The PostgreSQL half of the suite needs a server it may CREATE DATABASE
// on. Without one it is skipped, but loudly, so nobody mistakes a green
// SQLite-only run for a full one; under CI it fails instead, because CI
// must never silently lose half the suite.
const skipMsg = "*** PostgreSQL store tests SKIPPED: SENTRAL_TEST_PG is not set " +
	"(run 'make test' via .ci/run or scripts/pg-test.sh to include them) ***"

func TestMain(m *testing.M) {
	if os.Getenv("SENTRAL_TEST_PG") == "" {
		fmt.Fprintln(os.Stderr, skipMsg)
		// `go test ./...` hides the output of passing packages, stderr
		// included, so also tell the person at the terminal, if any.
		if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
			fmt.Fprintln(tty, skipMsg)
			tty.Close()
		}
	}
	os.Exit(m.Run())
}

func TestConformance(t *testing.T) {
	admin := pgtest.Admin(t)

	storetest.Run(t, storetest.Harness{Open: func(t *testing.T) (store.Store, func(*testing.T) store.Store) {
		dsn := pgtest.Database(t, admin, "sentral_test")
		open := func(t *testing.T) store.Store {
			t.Helper()
			st, err := backend.Open(t.Context(), dsn, backend.Options{})
			if err != nil {
				t.Fatalf("open PostgreSQL store: %v", err)
			}
			// Registered after createDB's drop, so it runs before it.
			t.Cleanup(func() {
				if err := st.Close(); err != nil {
					t.Errorf("close PostgreSQL store: %v", err)
				}
			})
			if b := st.Backend(); b != "postgres" {
				t.Fatalf("backend.Open gave a %q store, want postgres", b)
			}
			return st
		}
		return open(t), open
	}})
}
