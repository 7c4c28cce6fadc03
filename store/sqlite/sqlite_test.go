package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/sentralpbx/sentral/store"
	"github.com/sentralpbx/sentral/store/backend"
	"github.com/sentralpbx/sentral/store/storetest"
)

// TestConformance runs the store conformance suite on a SQLite file in a
// temp dir. It opens through backend.Open, the path `sentral serve` takes,
// so DSN dispatch and the default options (busy timeout, poll interval) are
// what is tested, not a test-only configuration.
func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Harness{Open: func(t *testing.T) (store.Store, func(*testing.T) store.Store) {
		path := filepath.Join(t.TempDir(), "sentral.db")
		open := func(t *testing.T) store.Store {
			t.Helper()
			st, err := backend.Open(t.Context(), path, backend.Options{})
			if err != nil {
				t.Fatalf("open SQLite store %s: %v", path, err)
			}
			// Registered after TempDir's cleanup, so it runs before the
			// file is removed.
			t.Cleanup(func() {
				if err := st.Close(); err != nil {
					t.Errorf("close SQLite store: %v", err)
				}
			})
			if b := st.Backend(); b != "sqlite" {
				t.Fatalf("backend.Open(%q) gave a %q store, want sqlite", path, b)
			}
			return st
		}
		return open(t), open
	}})
}
