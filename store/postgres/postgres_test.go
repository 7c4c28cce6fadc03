package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

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
	admin := os.Getenv("SENTRAL_TEST_PG")
	if admin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but SENTRAL_TEST_PG is not set: the PostgreSQL store tests cannot be skipped in CI " +
				"(start a server with scripts/pg-test.sh, or run .ci/run)")
		}
		t.Skip(skipMsg)
	}
	base, err := url.Parse(admin)
	if err != nil || (base.Scheme != "postgres" && base.Scheme != "postgresql") {
		t.Fatalf("SENTRAL_TEST_PG=%q: want a postgres:// URL (%v)", admin, err)
	}

	storetest.Run(t, storetest.Harness{Open: func(t *testing.T) (store.Store, func(*testing.T) store.Store) {
		dsn := createDB(t, admin, base)
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

// createDB makes a database with a random name for one test, drops it when
// the test ends, and returns its DSN.
func createDB(t *testing.T, admin string, base *url.URL) string {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	name := "sentral_test_" + hex.EncodeToString(b[:])
	exec := func(sql string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, sql)
		return err
	}
	if err := exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("CREATE DATABASE %s on SENTRAL_TEST_PG: %v", name, err)
	}
	t.Cleanup(func() {
		// FORCE ends connections a leaking store left open, so one bad
		// test cannot make every later drop fail.
		if err := exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			t.Errorf("DROP DATABASE %s: %v", name, err)
		}
	})
	u := *base
	u.Path = "/" + name
	return u.String()
}
