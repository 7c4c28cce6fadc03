package catalog_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/store"
	"github.com/sentralpbx/sentral/store/catalog"
)

// groupNumbers renders GroupsOf's answer for comparison.
func groupNumbers(gs []store.Group) string {
	var out []string
	for _, g := range gs {
		out = append(out, g.Number)
	}
	return strings.Join(out, ",")
}

func TestCatalogCallFeaturesAndGroupsOf(t *testing.T) {
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

	ten := store.Tenant{Name: "fjordvik", Domain: "fjordvik.test", Ranges: []store.NumberRange{
		{Kind: store.RangeExtension, First: "2000", Last: "2999"}, {Kind: store.RangeExtension, First: "50", Last: "59"}}}
	must(admin.Tenants().Create(ctx, &ten))
	// Another tenant with the same member numbers must never show up.
	other := store.Tenant{Name: "bergvik", Domain: "bergvik.test", Ranges: []store.NumberRange{{Kind: store.RangeExtension, First: "300", Last: "399"}}}
	must(admin.Tenants().Create(ctx, &other))
	ext := func(tid int64, n string) store.Extension {
		e := store.Extension{TenantID: tid, Number: n, DisplayName: n, Enabled: true}
		must(admin.Extensions().Create(ctx, &e))
		return e
	}
	kari, ola, per := ext(ten.ID, "2001"), ext(ten.ID, "2002"), ext(ten.ID, "2003")
	x := ext(other.ID, "301")
	kari.ForwardBusy, kari.ForwardNoAnswer, kari.NoAnswerSeconds, kari.DND, kari.Voicemail, kari.Language = "2002", "voicemail", 15, true, true, "en"
	must(admin.Extensions().Update(ctx, &kari))
	group := func(tid int64, n string, overflow string, members ...int64) store.Group {
		g := store.Group{TenantID: tid, Number: n, Name: "G" + n, Strategy: store.GroupHunt, RingSeconds: 20, Members: members, Overflow: overflow}
		must(admin.Groups().Create(ctx, &g))
		return g
	}
	// Created out of number order: GroupsOf sorts by number.
	g2900 := group(ten.ID, "2900", "voicemail:2001", ola.ID, kari.ID)
	group(ten.ID, "55", "", kari.ID)
	group(other.ID, "390", "", x.ID)

	cat, err := catalog.Load(ctx, server, zap.NewNop())
	must(err)

	// The call features come with the extension and the group.
	if e, ok := cat.Extension(ten.ID, "2001"); !ok || e.ForwardBusy != "2002" || e.ForwardNoAnswer != store.ForwardVoicemail ||
		e.NoAnswerAfter() != 15*time.Second || !e.DND || !e.Voicemail || e.Language != "en" {
		t.Errorf("Extension(2001) = %+v, %v; want its call features", e, ok)
	}
	if g, ok := cat.Group(ten.ID, "2900"); !ok || g.Overflow != "voicemail:2001" {
		t.Errorf("Group(2900) = %+v, %v; want overflow voicemail:2001", g, ok)
	}

	for _, c := range []struct {
		tenant int64
		number string
		want   string
	}{
		{ten.ID, "2001", "55,2900"},
		{ten.ID, "2002", "2900"},
		{ten.ID, "2003", ""},
		{ten.ID, "2999", ""}, // no such extension
		{other.ID, "301", "390"},
		{other.ID, "2001", ""}, // the number belongs to the other tenant
	} {
		if got := groupNumbers(cat.GroupsOf(c.tenant, c.number)); got != c.want {
			t.Errorf("GroupsOf(%d, %s) = [%s], want [%s]", c.tenant, c.number, got, c.want)
		}
	}

	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- cat.Run(runCtx) }()
	defer func() { stop(); <-done }()

	// Changes follow: a member leaves, another joins, an extension is
	// renumbered (membership is by id), a group goes.
	g2900.Members = []int64{kari.ID, per.ID}
	must(admin.Groups().Update(ctx, &g2900))
	eventually(t, "2002 leaves 2900, 2003 joins", func() bool {
		return groupNumbers(cat.GroupsOf(ten.ID, "2002")) == "" && groupNumbers(cat.GroupsOf(ten.ID, "2003")) == "2900"
	})
	per.Number = "2004"
	must(admin.Extensions().Update(ctx, &per))
	eventually(t, "renumbered 2003 -> 2004 keeps its group", func() bool {
		return groupNumbers(cat.GroupsOf(ten.ID, "2004")) == "2900" && groupNumbers(cat.GroupsOf(ten.ID, "2003")) == ""
	})
	must(admin.Groups().Delete(ctx, g2900.ID))
	eventually(t, "group 2900 deleted", func() bool {
		return groupNumbers(cat.GroupsOf(ten.ID, "2001")) == "55" && groupNumbers(cat.GroupsOf(ten.ID, "2004")) == ""
	})
	kari.DND, kari.ForwardAlways = false, "+4791234567"
	must(admin.Extensions().Update(ctx, &kari))
	eventually(t, "DND off and forward always", func() bool {
		e, _ := cat.Extension(ten.ID, "2001")
		return !e.DND && e.ForwardAlways == "+4791234567"
	})

	// Deleting the tenant forgets its groups.
	must(admin.Tenants().Delete(ctx, ten.ID))
	eventually(t, "tenant deleted", func() bool { return len(cat.GroupsOf(ten.ID, "2001")) == 0 })
	if got := groupNumbers(cat.GroupsOf(other.ID, "301")); got != "390" {
		t.Errorf("after deleting fjordvik: GroupsOf(bergvik, 301) = [%s], want [390]", got)
	}
}
