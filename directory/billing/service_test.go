package billing

import (
	"context"
	"strconv"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/sentralpbx/sentral/store"
	"github.com/sentralpbx/sentral/store/pgtest"
)

// onBothStores runs fn on a fresh SQLite file and a fresh PostgreSQL
// database (skipped loudly without SENTRAL_TEST_PG, failed under CI), with
// tenant fjordvik and two departments.
func onBothStores(t *testing.T, fn func(t *testing.T, ctx context.Context, st store.Store, tn store.Tenant, deps [2]store.Department)) {
	pgtest.EachStore(t, "billing_test", 2*time.Minute, func(t *testing.T, ctx context.Context, st store.Store) {
		tn := store.Tenant{Name: "fjordvik", Domain: "fjordvik.test",
			Ranges: []store.NumberRange{{Kind: store.RangeExtension, First: "2000", Last: "2999"}}}
		if err := st.Tenants().Create(ctx, &tn); err != nil {
			t.Fatal(err)
		}
		var deps [2]store.Department
		for i, d := range []store.Department{{TenantID: tn.ID, Code: "1200", Name: "Økonomi"}, {TenantID: tn.ID, Code: "3100", Name: "Barnevern"}} {
			if err := st.Departments().Create(ctx, &d); err != nil {
				t.Fatal(err)
			}
			deps[i] = d
		}
		fn(t, ctx, st, tn, deps)
	})
}

// setTariff stores the tariff file as the tenant's current revision.
func setTariff(t *testing.T, ctx context.Context, st store.Store, tenantID int64, tr *Tariff) int64 {
	t.Helper()
	spec, err := tr.JSON()
	if err != nil {
		t.Fatal(err)
	}
	id, err := st.Tariffs().Add(ctx, store.Tariff{TenantID: tenantID, Name: tr.Name, Spec: string(spec)})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// goldenCall is one row of testdata/rating_golden.csv as stored.
type goldenCall struct {
	id    int64
	want  int64
	class string
	band  string
	dep   int // index into deps, or -1
}

// storeGolden writes the 100 golden calls to the store through the call
// path's own operations (open, answer, close), each in one of the two
// departments or none.
func storeGolden(t *testing.T, ctx context.Context, st store.Store, tenantID int64, deps [2]store.Department) []goldenCall {
	t.Helper()
	var out []goldenCall
	var err error
	for i, get := range goldenRows(t) {
		secs, _ := strconv.ParseInt(get("billable_seconds"), 10, 64)
		want, _ := strconv.ParseInt(get("price_ore"), 10, 64)
		c := store.CDR{TenantID: tenantID, CallID: "golden-" + strconv.Itoa(i), Direction: store.CallDirection(get("direction")),
			Caller: "2001", StartTime: time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)}
		if get("field") == "callee" {
			c.Callee = get("number")
		} else {
			c.Normalised, c.Callee = get("number"), get("number")
		}
		g := goldenCall{want: want, class: get("class"), band: get("band"), dep: i%3 - 1}
		if g.dep >= 0 {
			c.DepartmentID = &deps[g.dep].ID
		}
		var answer time.Time
		if s := get("answer_utc"); s != "" {
			if answer, err = time.Parse(time.RFC3339, s); err != nil {
				t.Fatal(err)
			}
			c.StartTime = answer.Add(-7 * time.Second)
		}
		if g.id, err = st.CDRs().Open(ctx, c); err != nil {
			t.Fatalf("row %d: open: %v", i+2, err)
		}
		if answer.IsZero() {
			if err := st.CDRs().Close(ctx, g.id, c.StartTime.Add(20*time.Second), store.DispositionNoAnswer, 487, "no answer"); err != nil {
				t.Fatal(err)
			}
		} else {
			if err := st.CDRs().Answer(ctx, g.id, answer); err != nil {
				t.Fatal(err)
			}
			if err := st.CDRs().Close(ctx, g.id, answer.Add(time.Duration(secs)*time.Second), store.DispositionAnswered, 200, "BYE"); err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, g)
	}
	if len(out) != 100 {
		t.Fatalf("%d golden calls, want 100", len(out))
	}
	return out
}

// TestServiceRatesGoldenCalls: the 100 hand-checked calls, stored as the
// call path stores them, are priced to the øre by the background rater on
// both stores; re-rating after a tariff change moves exactly the calls of
// the changed class; department totals add up to the tenant total.
func TestServiceRatesGoldenCalls(t *testing.T) {
	onBothStores(t, func(t *testing.T, ctx context.Context, st store.Store, tn store.Tenant, deps [2]store.Department) {
		calls := storeGolden(t, ctx, st, tn.ID, deps)
		svc := NewService(st, zaptest.NewLogger(t))
		svc.Page = 7 // many pages, so paging is tested too

		if res, err := svc.RatePending(ctx); err != nil || res.Rated != 0 || res.Skipped != 1 {
			t.Fatalf("rating without a tariff: %+v, %v; want nothing rated, the tenant skipped", res, err)
		}
		tr := loadTariff(t)
		rev1 := setTariff(t, ctx, st, tn.ID, tr)
		res, err := svc.RatePending(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if res.Rated != 100 || res.Failed != 0 || res.Scanned != 100 {
			t.Fatalf("RatePending = %+v, want 100 rated", res)
		}
		var total int64
		for _, g := range calls {
			c, err := st.CDRs().Get(ctx, g.id)
			if err != nil {
				t.Fatal(err)
			}
			if c.PriceOre == nil || *c.PriceOre != g.want || c.TariffID == nil || *c.TariffID != rev1 {
				t.Errorf("call %d (%s): price %v tariff %v, want %d øre by revision %d", g.id, g.class, c.PriceOre, c.TariffID, g.want, rev1)
			}
			total += g.want
		}
		if res.Ore != total {
			t.Errorf("RatePending summed %d øre, the golden prices %d", res.Ore, total)
		}
		if again, err := svc.RatePending(ctx); err != nil || again.Scanned != 0 {
			t.Errorf("second RatePending: %+v, %v; want nothing left to rate", again, err)
		}

		// Department totals add up to the tenant total. The golden calls
		// spread over several months (band and DST cases): take them all.
		from, to := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC)
		rep, err := svc.Report(ctx, tn, from, to, "2026-2027", 5, false)
		if err != nil {
			t.Fatal(err)
		}
		var sum Totals
		for _, d := range rep.Departments {
			sum.Calls += d.Calls
			sum.BillableSeconds += d.BillableSeconds
			sum.Ore += d.Ore
		}
		if sum != rep.Total || rep.Total.Ore == 0 {
			t.Errorf("departments add up to %+v, tenant total %+v", sum, rep.Total)
		}
		var outboundOre int64
		for _, g := range calls {
			outboundOre += g.want // only outbound calls cost anything
		}
		if rep.Total.Ore != outboundOre {
			t.Errorf("tenant total %d øre, the calls cost %d", rep.Total.Ore, outboundOre)
		}
		byCode := map[string]int64{}
		for _, d := range rep.Departments {
			byCode[d.Code] = d.Ore
		}
		var want [3]int64
		for _, g := range calls {
			want[g.dep+1] += g.want
		}
		if byCode[""] != want[0] || byCode["1200"] != want[1] || byCode["3100"] != want[2] {
			t.Errorf("department totals %v, want none %d, 1200 %d, 3100 %d", byCode, want[0], want[1], want[2])
		}

		// A tariff change: mobile calls cost more. Re-rating the period
		// moves the mobile calls, and only them, to the new revision.
		tr2 := loadTariff(t)
		mobile := tr2.Rates[ClassMobile]
		mobile.Connect += 10 * 100 // +10 øre per call
		tr2.Rates[ClassMobile] = mobile
		tr2.Name = "2027"
		rev2 := setTariff(t, ctx, st, tn.ID, tr2)
		rr, err := svc.Rerate(ctx, tn.ID, from, to)
		if err != nil || rr.Rated != 100 {
			t.Fatalf("Rerate = %+v, %v; want 100 re-rated", rr, err)
		}
		var delta int64
		for _, g := range calls {
			c, _ := st.CDRs().Get(ctx, g.id)
			if *c.TariffID != rev2 {
				t.Errorf("call %d still priced by revision %d", g.id, *c.TariffID)
			}
			d := *c.PriceOre - g.want
			// Band overrides with their own connection fee keep it.
			if g.class == ClassMobile && g.band == "" && g.want > 0 && d != 10 {
				t.Errorf("mobile call %d: %d øre → %d, want +10", g.id, g.want, *c.PriceOre)
			}
			if (g.class != ClassMobile || g.want == 0) && d != 0 || d != 0 && d != 10 {
				t.Errorf("%s call %d changed by %d øre", g.class, g.id, d)
			}
			delta += d
		}
		if rr.Ore-total != delta || delta == 0 {
			t.Errorf("re-rated total moved by %d, records by %d", rr.Ore-total, delta)
		}
		// A period without calls re-rates nothing.
		dec, jan, err := Month(2028, time.December)
		if err != nil {
			t.Fatal(err)
		}
		if rr, err := svc.Rerate(ctx, tn.ID, dec, jan); err != nil || rr.Rated != 0 {
			t.Errorf("Rerate of December 2028: %+v, %v", rr, err)
		}
	})
}

// TestServiceRetention: records older than a tenant's retention are
// deleted; tenants without one keep everything.
func TestServiceRetention(t *testing.T) {
	onBothStores(t, func(t *testing.T, ctx context.Context, st store.Store, tn store.Tenant, deps [2]store.Department) {
		now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
		for _, age := range []int{1, 10, 89, 91, 400} {
			start := now.AddDate(0, 0, -age)
			id, err := st.CDRs().Open(ctx, store.CDR{TenantID: tn.ID, Direction: store.DirectionInternal, Caller: "2001", Callee: "2002", StartTime: start})
			if err != nil {
				t.Fatal(err)
			}
			if err := st.CDRs().Close(ctx, id, start.Add(time.Minute), store.DispositionNoAnswer, 487, ""); err != nil {
				t.Fatal(err)
			}
		}
		svc := NewService(st, zaptest.NewLogger(t))
		if n, err := svc.Purge(ctx, now); err != nil || n["fjordvik"] != 0 {
			t.Fatalf("Purge without retention: %v, %v", n, err)
		}
		tn.CDRRetentionDays = 90
		if err := st.Tenants().Update(ctx, &tn); err != nil {
			t.Fatal(err)
		}
		if n, err := svc.Purge(ctx, now); err != nil || n["fjordvik"] != 2 {
			t.Fatalf("Purge with 90 days: %v, %v; want 2 deleted", n, err)
		}
		left, _ := st.CDRs().List(ctx, store.CDRFilter{TenantID: tn.ID})
		if len(left) != 3 {
			t.Errorf("%d records left, want the 3 younger than 90 days", len(left))
		}
	})
}
