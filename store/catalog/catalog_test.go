package catalog_test

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/store"
	"github.com/sentralpbx/sentral/store/backend"
	"github.com/sentralpbx/sentral/store/catalog"
)

func open(t *testing.T, path string) store.Store {
	t.Helper()
	st, err := backend.Open(context.Background(), path, backend.Options{PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// eventually waits (bounded) for the catalog to reflect a write made
// through another store handle, as the CLI would make it.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("catalog never reflected: %s", what)
}

func TestCatalogFollowsChangesFromAnotherHandle(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	path := filepath.Join(t.TempDir(), "c.db")
	server, admin := open(t, path), open(t, path)

	ten := store.Tenant{Name: "fjordvik", Domain: "fjordvik.test", Ranges: []store.NumberRange{{Kind: store.RangeExtension, First: "2000", Last: "2999"}}}
	if err := admin.Tenants().Create(ctx, &ten); err != nil {
		t.Fatal(err)
	}
	pre := store.Extension{TenantID: ten.ID, Number: "2001", DisplayName: "Før start", Enabled: true}
	if err := admin.Extensions().Create(ctx, &pre); err != nil {
		t.Fatal(err)
	}

	cat, err := catalog.Load(ctx, server, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := cat.TenantByDomain("fjordvik.test"); !ok || got.ID != ten.ID {
		t.Fatalf("loaded tenant by domain: %+v %v", got, ok)
	}
	if _, ok := cat.Extension(ten.ID, "2001"); !ok {
		t.Fatal("extension created before Load is missing")
	}

	var goneMu sync.Mutex
	var gone []string
	cat.OnExtensionGone(func(tenantID int64, number string) {
		goneMu.Lock()
		defer goneMu.Unlock()
		if tenantID != ten.ID {
			t.Errorf("gone for tenant %d, want %d", tenantID, ten.ID)
		}
		gone = append(gone, number)
	})
	goneIs := func(want ...string) func() bool {
		return func() bool {
			goneMu.Lock()
			defer goneMu.Unlock()
			return strings.Join(gone, ",") == strings.Join(want, ",")
		}
	}

	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- cat.Run(runCtx) }()

	e := store.Extension{TenantID: ten.ID, Number: "2002", DisplayName: "Kari Nordmann", Enabled: true}
	if err := admin.Extensions().Create(ctx, &e); err != nil {
		t.Fatal(err)
	}
	eventually(t, "create 2002", func() bool { _, ok := cat.Extension(ten.ID, "2002"); return ok })

	// Renumbering must drop the old number, not leave it answering.
	// A rename keeps the number usable: no registration may be dropped.
	e.DisplayName = "Kari Ødegård"
	if err := admin.Extensions().Update(ctx, &e); err != nil {
		t.Fatal(err)
	}
	eventually(t, "rename", func() bool { x, _ := cat.Extension(ten.ID, "2002"); return x.DisplayName == "Kari Ødegård" })
	if !goneIs()() {
		t.Fatalf("a rename reported numbers gone: %v", gone)
	}

	e.Number = "2003"
	if err := admin.Extensions().Update(ctx, &e); err != nil {
		t.Fatal(err)
	}
	eventually(t, "renumber reports the old number gone", goneIs("2002"))
	eventually(t, "renumber 2002 -> 2003", func() bool {
		_, oldOK := cat.Extension(ten.ID, "2002")
		_, newOK := cat.Extension(ten.ID, "2003")
		return !oldOK && newOK
	})

	e.Enabled = false
	if err := admin.Extensions().Update(ctx, &e); err != nil {
		t.Fatal(err)
	}
	eventually(t, "disabling reports the number gone", goneIs("2002", "2003"))

	if err := admin.Extensions().Delete(ctx, e.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, "delete 2003", func() bool { _, ok := cat.Extension(ten.ID, "2003"); return !ok })
	if !goneIs("2002", "2003")() {
		t.Fatalf("deleting an already disabled extension reported it again: %v", gone)
	}

	ten.Domain = "fjordvik.kommune.test"
	if err := admin.Tenants().Update(ctx, &ten); err != nil {
		t.Fatal(err)
	}
	eventually(t, "domain change", func() bool {
		_, oldOK := cat.TenantByDomain("fjordvik.test")
		_, newOK := cat.TenantByDomain("fjordvik.kommune.test")
		return !oldOK && newOK
	})

	if err := admin.Tenants().Delete(ctx, ten.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, "tenant delete cascades", func() bool {
		_, tOK := cat.TenantByName("fjordvik")
		_, eOK := cat.Extension(ten.ID, "2001")
		return !tOK && !eOK
	})
	eventually(t, "tenant delete reports its extensions gone", goneIs("2002", "2003", "2001"))

	last, err := admin.LastChange(ctx)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "seq catches up", func() bool { return cat.Seq() == last })
	if n, m := cat.Counts(); n != 0 || m != 0 {
		t.Errorf("counts after delete = %d tenants, %d extensions", n, m)
	}

	stop()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}
