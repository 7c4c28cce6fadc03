package catalog_test

import (
	"context"
	"net/netip"
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

// TestCatalogNumberPlan follows the entities routing reads besides tenants
// and extensions (DIDs, groups, sites, trunks, DECT handsets, devices)
// through creates, changes and deletes made by another handle, and checks
// that what was there before Load is there after it.
func TestCatalogNumberPlan(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	path := filepath.Join(t.TempDir(), "c.db")
	server, admin := open(t, path), open(t, path)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	ten := store.Tenant{Name: "fjordvik", Domain: "fjordvik.test", SwitchboardNumber: "+4755550000", OutsidePrefix: "0",
		Ranges: []store.NumberRange{{Kind: store.RangeExtension, First: "2000", Last: "2999"}, {Kind: store.RangeDID, First: "+4755550000", Last: "+4755550999"}}}
	must(admin.Tenants().Create(ctx, &ten))
	other := store.Tenant{Name: "bergvik", Domain: "bergvik.test",
		Ranges: []store.NumberRange{{Kind: store.RangeExtension, First: "3000", Last: "3999"}, {Kind: store.RangeDID, First: "+4755560000", Last: "+4755560999"},
			{Kind: store.RangeDID, First: "+475556100", Last: "+475556199"}}}
	must(admin.Tenants().Create(ctx, &other))
	site := store.Site{TenantID: ten.ID, Name: "Rådhuset", DID: "+4755550100"}
	must(admin.Sites().Create(ctx, &site))
	kari := store.Extension{TenantID: ten.ID, Number: "2001", DisplayName: "Kari", DID: "+4755550001", SiteID: &site.ID, Enabled: true}
	must(admin.Extensions().Create(ctx, &kari))
	ola := store.Extension{TenantID: ten.ID, Number: "2002", DisplayName: "Ola", Enabled: true}
	must(admin.Extensions().Create(ctx, &ola))
	grp := store.Group{TenantID: ten.ID, Number: "2900", Name: "Servicetorget", Strategy: store.GroupHunt, DID: "+4755550900", Members: []int64{ola.ID, kari.ID}}
	must(admin.Groups().Create(ctx, &grp))
	centrex := store.Trunk{TenantID: ten.ID, Name: "centrex", Mode: store.TrunkPeer, Host: "sbc.operator.test", Priority: 20, Enabled: true,
		Routes: []string{"+"}, PeerAddresses: []string{"198.51.100.0/24", "192.0.2.10"}}
	must(admin.Trunks().Create(ctx, &centrex))
	gw := store.DECTGateway{TenantID: ten.ID, Name: "dect-sjukeheim", Mode: store.DECTStatic, Address: "10.0.0.5:5060"}
	must(admin.DECTGateways().Create(ctx, &gw))
	hs := store.DECTHandset{TenantID: ten.ID, GatewayID: gw.ID, IPUI: "0077A1B2C3", ExtensionID: kari.ID}
	must(admin.DECTHandsets().Create(ctx, &hs))
	dev := store.Device{TenantID: ten.ID, MAC: "001565aabbcc", Model: "yealink-t54w", Lines: []store.DeviceLine{{Line: 1, ExtensionID: kari.ID}, {Line: 2, ExtensionID: ola.ID}}}
	must(admin.Devices().Create(ctx, &dev))

	cat, err := catalog.Load(ctx, server, zap.NewNop())
	must(err)

	// Everything created before Load.
	if got, ok := cat.Tenant(ten.ID); !ok || got.OutsidePrefix != "0" || got.UnknownDID != store.UnknownDIDSwitchboard {
		t.Errorf("Tenant(%d) = %+v, %v", ten.ID, got, ok)
	}
	wantDID := func(did string, want catalog.DIDTarget, wantOK bool) {
		t.Helper()
		got, ok := cat.DID(did)
		if ok != wantOK || got.TenantID != want.TenantID || got.Kind != want.Kind || got.Number != want.Number {
			t.Errorf("DID(%s) = %+v, %v; want %+v, %v", did, got, ok, want, wantOK)
		}
	}
	wantDID("+4755550001", catalog.DIDTarget{TenantID: ten.ID, Kind: catalog.DIDExtension, Number: "2001"}, true)
	wantDID("+4755550900", catalog.DIDTarget{TenantID: ten.ID, Kind: catalog.DIDGroup, Number: "2900"}, true)
	wantDID("+4755550000", catalog.DIDTarget{TenantID: ten.ID, Kind: catalog.DIDSwitchboard, Number: "+4755550000"}, true)
	wantDID("+4755550100", catalog.DIDTarget{}, false) // a site's DID routes nowhere by itself
	for did, want := range map[string]int64{"+4755550000": ten.ID, "+4755550999": ten.ID, "+4755550555": ten.ID, "+4755560500": other.ID,
		"+475556150": other.ID, "+4755551000": 0, "+475555000": 0, "+4755549999": 0, "+4": 0, "": 0} {
		got, ok := cat.TenantByDID(did)
		if ok != (want != 0) || got.ID != want {
			t.Errorf("TenantByDID(%q) = tenant %d, %v; want %d", did, got.ID, ok, want)
		}
	}
	if g, ok := cat.Group(ten.ID, "2900"); !ok || strings.Join(g.MemberNumbers, ",") != "2002,2001" || g.Name != "Servicetorget" {
		t.Errorf("Group(2900) = %+v, %v", g, ok)
	}
	if s, ok := cat.Site(site.ID); !ok || s.DID != "+4755550100" || s.Name != "Rådhuset" {
		t.Errorf("Site(%d) = %+v, %v", site.ID, s, ok)
	}
	if hs := cat.DECTHandsets(kari.ID); len(hs) != 1 || hs[0].IPUI != "0077A1B2C3" || hs[0].Gateway != "dect-sjukeheim" ||
		hs[0].GatewayMode != store.DECTStatic || hs[0].GatewayAddress != "10.0.0.5:5060" {
		t.Errorf("DECTHandsets(2001) = %+v", hs)
	}
	d, ok := cat.DeviceByAuthUser("ph001565aabbcc")
	if !ok || d.Secret == "" || d.Secret != dev.Secret || len(d.LineNumbers) != 2 || d.LineNumbers[0].Number != "2001" || d.LineNumbers[1].Number != "2002" {
		t.Errorf("DeviceByAuthUser = %+v, %v", d, ok)
	}
	from := func(ip string) string {
		var names []string
		for _, tr := range cat.TrunksFrom(netip.MustParseAddr(ip)) {
			names = append(names, tr.Name)
		}
		return strings.Join(names, ",")
	}
	if got := from("198.51.100.77"); got != "centrex" {
		t.Errorf("TrunksFrom(198.51.100.77) = %q", got)
	}
	if got := from("::ffff:192.0.2.10"); got != "centrex" {
		t.Errorf("TrunksFrom(::ffff:192.0.2.10) = %q", got)
	}
	if got := from("192.0.2.11"); got != "" {
		t.Errorf("TrunksFrom(192.0.2.11) = %q, want none", got)
	}

	var trunkMu sync.Mutex
	var trunkCalls [][]string
	cat.OnTrunksChanged(func(ts []store.Trunk) {
		var names []string
		for _, tr := range ts {
			names = append(names, tr.Name)
		}
		trunkMu.Lock()
		trunkCalls = append(trunkCalls, names)
		trunkMu.Unlock()
	})
	lastTrunks := func() string {
		trunkMu.Lock()
		defer trunkMu.Unlock()
		if len(trunkCalls) == 0 {
			return "(none)"
		}
		return strings.Join(trunkCalls[len(trunkCalls)-1], ",")
	}

	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- cat.Run(runCtx) }()

	// A DID moves from an extension to a group in one transaction; the
	// extension is renumbered.
	must(admin.InTx(ctx, func(tx store.Store) error {
		kari.DID = ""
		kari.Number = "2003"
		if err := tx.Extensions().Update(ctx, &kari); err != nil {
			return err
		}
		grp.DID = "+4755550001"
		return tx.Groups().Update(ctx, &grp)
	}))
	eventually(t, "DID moved to the group", func() bool {
		got, ok := cat.DID("+4755550001")
		_, old := cat.DID("+4755550900")
		return ok && got.Kind == catalog.DIDGroup && got.Number == "2900" && !old
	})
	eventually(t, "group members follow the renumbering", func() bool {
		g, _ := cat.Group(ten.ID, "2900")
		return strings.Join(g.MemberNumbers, ",") == "2002,2003"
	})
	eventually(t, "device lines follow the renumbering", func() bool {
		d, _ := cat.DeviceByAuthUser("ph001565aabbcc")
		return len(d.LineNumbers) == 2 && d.LineNumbers[0].Number == "2003"
	})
	ola.DID = "+4755550002"
	must(admin.Extensions().Update(ctx, &ola))
	eventually(t, "extension DID added", func() bool { got, ok := cat.DID("+4755550002"); return ok && got.Number == "2002" })

	// The switchboard moves to an internal number: its DID stops routing.
	ten.SwitchboardNumber = "2999"
	must(admin.Tenants().Update(ctx, &ten))
	eventually(t, "switchboard DID dropped", func() bool { _, ok := cat.DID("+4755550000"); return !ok })

	// Trunks: a second one, then a change of addresses, then a removal.
	backup := store.Trunk{TenantID: ten.ID, Name: "backup", Mode: store.TrunkRegister, Host: "192.0.2.10", Username: "u", Password: "p",
		Priority: 5, Enabled: true, Routes: []string{"+47"}}
	must(admin.Trunks().Create(ctx, &backup))
	eventually(t, "new trunk listed, by priority", func() bool {
		ts := cat.TenantTrunks(ten.ID)
		return len(ts) == 2 && ts[0].Name == "backup" && lastTrunks() == "backup,centrex"
	})
	// The backup's host and centrex's address entry are both /32: tie by priority.
	if got := from("192.0.2.10"); got != "backup,centrex" {
		t.Errorf("TrunksFrom(192.0.2.10) = %q, want backup,centrex", got)
	}
	centrex.PeerAddresses = []string{"203.0.113.0/24"}
	must(admin.Trunks().Update(ctx, &centrex))
	eventually(t, "trunk addresses changed", func() bool { return from("203.0.113.9") == "centrex" && from("198.51.100.77") == "" })
	must(admin.Trunks().Delete(ctx, backup.ID))
	eventually(t, "trunk removed", func() bool {
		_, ok := cat.Trunk(backup.ID)
		return !ok && len(cat.Trunks()) == 1 && lastTrunks() == "centrex" && from("192.0.2.10") == ""
	})

	// Handsets move with their extension; gateway changes show at once.
	gw.Mode, gw.Address = store.DECTRegister, "10.0.0.6"
	must(admin.DECTGateways().Update(ctx, &gw))
	eventually(t, "gateway change seen through the handset", func() bool {
		hs := cat.DECTHandsets(kari.ID)
		return len(hs) == 1 && hs[0].GatewayMode == store.DECTRegister && hs[0].GatewayAddress == "10.0.0.6"
	})
	hs.ExtensionID = ola.ID
	must(admin.DECTHandsets().Update(ctx, &hs))
	eventually(t, "handset moved", func() bool { return len(cat.DECTHandsets(kari.ID)) == 0 && len(cat.DECTHandsets(ola.ID)) == 1 })

	// A device's username and secret change.
	dev.AuthUser, dev.Secret = "resepsjon", "Nytt-Hemmelig-Passord-1"
	must(admin.Devices().Update(ctx, &dev))
	eventually(t, "device username changed", func() bool {
		_, oldOK := cat.DeviceByAuthUser("ph001565aabbcc")
		d, ok := cat.DeviceByAuthUser("resepsjon")
		return !oldOK && ok && d.Secret == "Nytt-Hemmelig-Passord-1"
	})
	site.DID = "+4755550101"
	must(admin.Sites().Update(ctx, &site))
	eventually(t, "site changed", func() bool { s, _ := cat.Site(site.ID); return s.DID == "+4755550101" })

	// Deleting the group frees its DID.
	must(admin.Groups().Delete(ctx, grp.ID))
	eventually(t, "group gone", func() bool {
		_, gOK := cat.Group(ten.ID, "2900")
		_, dOK := cat.DID("+4755550001")
		return !gOK && !dOK
	})

	// Deleting the tenant forgets everything it owned.
	must(admin.Tenants().Delete(ctx, ten.ID))
	eventually(t, "tenant delete cascades", func() bool {
		_, tOK := cat.Tenant(ten.ID)
		_, dOK := cat.DID("+4755550002")
		_, byDID := cat.TenantByDID("+4755550500")
		_, devOK := cat.DeviceByAuthUser("resepsjon")
		_, siteOK := cat.Site(site.ID)
		return !tOK && !dOK && !byDID && !devOK && !siteOK && len(cat.DECTHandsets(ola.ID)) == 0 &&
			len(cat.TenantTrunks(ten.ID)) == 0 && len(cat.Trunks()) == 0 && lastTrunks() == "" && from("203.0.113.9") == ""
	})
	if _, ok := cat.TenantByDID("+4755560500"); !ok {
		t.Error("the other tenant's DID range was lost with the deleted tenant")
	}

	stop()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}
