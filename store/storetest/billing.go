package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sentralpbx/sentral/store"
)

// testBilling checks what directory/billing needs of the store: the
// tenants' privacy settings and phone-book secret, tariff revisions, and
// paging, pricing and purging call records.
func testBilling(t *testing.T, h Harness) {
	base := time.Date(2026, 11, 2, 9, 0, 0, 123456000, time.UTC)
	closed := func(t *testing.T, ctx context.Context, st store.Store, tenant int64, caller string, start time.Time, talk time.Duration) int64 {
		t.Helper()
		id, err := st.CDRs().Open(ctx, store.CDR{TenantID: tenant, CallID: fmt.Sprintf("%s-%d@billing", caller, start.UnixMicro()),
			Direction: store.DirectionOutbound, Caller: caller, Callee: "+4791234567", Dialled: "91234567",
			Normalised: "+4791234567", StartTime: start})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if err := st.CDRs().Answer(ctx, id, start.Add(time.Second)); err != nil {
			t.Fatalf("Answer: %v", err)
		}
		if err := st.CDRs().Close(ctx, id, start.Add(time.Second+talk), store.DispositionAnswered, 200, "BYE"); err != nil {
			t.Fatalf("Close: %v", err)
		}
		return id
	}

	t.Run("tenant privacy settings and phone-book secret round-trip and are checked", func(t *testing.T) {
		ctx, st, reopen := open(t, h)
		f := newFixture(t, ctx, st)
		tn := f.t1
		tn.CDRRetentionDays, tn.ReportMaskDigits, tn.PhonebookSecret = 365, 3, "$pbkdf2-sha256$i=1$YQ$YQ"
		if err := st.Tenants().Update(ctx, &tn); err != nil {
			t.Fatalf("Update: %v", err)
		}
		got, err := reopen(t).Tenants().Get(ctx, tn.ID)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if got.CDRRetentionDays != 365 || got.ReportMaskDigits != 3 || got.PhonebookSecret != tn.PhonebookSecret {
			t.Errorf("read back retention %d, mask %d, secret %q", got.CDRRetentionDays, got.ReportMaskDigits, got.PhonebookSecret)
		}
		for _, c := range []struct {
			field string
			set   func(*store.Tenant)
		}{
			{"cdr_retention_days", func(v *store.Tenant) { v.CDRRetentionDays = -1 }},
			{"cdr_retention_days", func(v *store.Tenant) { v.CDRRetentionDays = store.MaxCDRRetentionDays + 1 }},
			{"report_mask_digits", func(v *store.Tenant) { v.ReportMaskDigits = -1 }},
			{"report_mask_digits", func(v *store.Tenant) { v.ReportMaskDigits = store.MaxReportMaskDigits + 1 }},
		} {
			bad := got
			c.set(&bad)
			var fe *store.FieldError
			if err := st.Tenants().Update(ctx, &bad); !errors.As(err, &fe) || fe.Field != c.field || !errors.Is(err, store.ErrInvalid) {
				t.Errorf("Update with bad %s: %v, want an invalid %s", c.field, err, c.field)
			}
		}
	})

	t.Run("tariff revisions: the newest is current, all are kept", func(t *testing.T) {
		ctx, st, _ := open(t, h)
		f := newFixture(t, ctx, st)
		if _, err := st.Tariffs().Current(ctx, f.t1.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Current without tariff: %v, want ErrNotFound", err)
		}
		id1, err := st.Tariffs().Add(ctx, store.Tariff{TenantID: f.t1.ID, Name: "2026", Spec: `{"v":1}`})
		if err != nil {
			t.Fatalf("Add: %v", err)
		}
		id2, err := st.Tariffs().Add(ctx, store.Tariff{TenantID: f.t1.ID, Name: "2026b", Spec: `{"v":2}`})
		if err != nil {
			t.Fatalf("Add: %v", err)
		}
		if _, err := st.Tariffs().Add(ctx, store.Tariff{TenantID: f.t2.ID, Name: "other", Spec: `{"v":3}`}); err != nil {
			t.Fatalf("Add other tenant: %v", err)
		}
		cur, err := st.Tariffs().Current(ctx, f.t1.ID)
		if err != nil || cur.ID != id2 || cur.Spec != `{"v":2}` || cur.Name != "2026b" || cur.CreatedAt.IsZero() {
			t.Errorf("Current = %+v, %v; want revision %d", cur, err, id2)
		}
		old, err := st.Tariffs().Get(ctx, id1)
		if err != nil || old.Spec != `{"v":1}` || old.TenantID != f.t1.ID {
			t.Errorf("Get(%d) = %+v, %v", id1, old, err)
		}
		list, err := st.Tariffs().List(ctx, f.t1.ID)
		if err != nil || len(list) != 2 || list[0].ID != id2 || list[1].ID != id1 {
			t.Errorf("List = %+v, %v; want [%d %d]", list, err, id2, id1)
		}
		for _, bad := range []store.Tariff{
			{TenantID: 0, Name: "x", Spec: "{}"},
			{TenantID: f.t1.ID, Name: " ", Spec: "{}"},
			{TenantID: f.t1.ID, Name: "x", Spec: ""},
			{TenantID: 999999, Name: "x", Spec: "{}"},
		} {
			var fe *store.FieldError
			if _, err := st.Tariffs().Add(ctx, bad); !errors.As(err, &fe) || fe.Entity != store.EntityTariff {
				t.Errorf("Add(%+v) = %v, want a tariff field error", bad, err)
			}
		}
		if _, err := st.Tariffs().Get(ctx, 999999); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get unknown: %v, want ErrNotFound", err)
		}
	})

	t.Run("scan pages by id, prices stick, open records are left alone", func(t *testing.T) {
		ctx, st, _ := open(t, h)
		f := newFixture(t, ctx, st)
		var ids []int64
		for i := range 25 {
			tenant := f.t1.ID
			if i%5 == 4 {
				tenant = f.t2.ID
			}
			ids = append(ids, closed(t, ctx, st, tenant, "2001", base.Add(time.Duration(i)*time.Hour), time.Duration(i)*time.Second))
		}
		openID, err := st.CDRs().Open(ctx, store.CDR{TenantID: f.t1.ID, Direction: store.DirectionOutbound, Caller: "2001", StartTime: base})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		// Page through tenant 1's unrated records, 7 at a time.
		var seen []int64
		after := int64(0)
		for {
			page, err := st.CDRs().Scan(ctx, store.CDRFilter{TenantID: f.t1.ID}, after, 7, true)
			if err != nil {
				t.Fatalf("Scan: %v", err)
			}
			if len(page) == 0 {
				break
			}
			for _, c := range page {
				if c.TenantID != f.t1.ID || c.State != store.CDRClosed || c.PriceOre != nil {
					t.Fatalf("Scan returned %+v", c)
				}
				seen = append(seen, c.ID)
			}
			after = page[len(page)-1].ID
		}
		if len(seen) != 20 {
			t.Fatalf("scanned %d records of tenant 1, want 20", len(seen))
		}
		for i := 1; i < len(seen); i++ {
			if seen[i] <= seen[i-1] {
				t.Fatalf("Scan order %v is not by id", seen)
			}
		}
		tariff, err := st.Tariffs().Add(ctx, store.Tariff{TenantID: f.t1.ID, Name: "t", Spec: "{}"})
		if err != nil {
			t.Fatalf("Add tariff: %v", err)
		}
		var prices []store.CDRPrice
		for i, id := range seen[:12] {
			prices = append(prices, store.CDRPrice{ID: id, PriceOre: int64(100 + i), TariffID: tariff})
		}
		prices = append(prices, store.CDRPrice{ID: openID, PriceOre: 5, TariffID: tariff}, store.CDRPrice{ID: 99999999, PriceOre: 5, TariffID: tariff})
		if err := st.CDRs().SetPrices(ctx, prices); err != nil {
			t.Fatalf("SetPrices: %v", err)
		}
		for i, id := range seen[:12] {
			c, err := st.CDRs().Get(ctx, id)
			if err != nil || c.PriceOre == nil || *c.PriceOre != int64(100+i) || c.TariffID == nil || *c.TariffID != tariff {
				t.Fatalf("record %d after SetPrices: %+v, %v", id, c, err)
			}
		}
		if c, _ := st.CDRs().Get(ctx, openID); c.PriceOre != nil {
			t.Errorf("open record got a price: %d", *c.PriceOre)
		}
		rest, err := st.CDRs().Scan(ctx, store.CDRFilter{TenantID: f.t1.ID}, 0, 100, true)
		if err != nil || len(rest) != 8 {
			t.Errorf("unrated after pricing 12: %d, %v; want 8", len(rest), err)
		}
		all, err := st.CDRs().Scan(ctx, store.CDRFilter{TenantID: f.t1.ID, From: base.Add(2 * time.Hour), To: base.Add(10 * time.Hour)}, 0, 100, false)
		if err != nil {
			t.Fatalf("Scan period: %v", err)
		}
		for _, c := range all {
			if c.StartTime.Before(base.Add(2*time.Hour)) || !c.StartTime.Before(base.Add(10*time.Hour)) {
				t.Errorf("Scan period returned a record that started %s", c.StartTime)
			}
		}
		if len(all) != 6 { // hours 2 to 9 but tenant 2's 4 and 9
			t.Errorf("Scan period found %d records, want 6", len(all))
		}
		if err := st.CDRs().SetPrices(ctx, []store.CDRPrice{{ID: seen[0], PriceOre: -1, TariffID: tariff}}); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("negative price: %v, want ErrInvalid", err)
		}
		if _, err := st.CDRs().Scan(ctx, store.CDRFilter{}, 0, 0, false); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Scan with limit 0: %v, want ErrInvalid", err)
		}
	})

	t.Run("purge deletes a tenant's old closed records only", func(t *testing.T) {
		ctx, st, _ := open(t, h)
		f := newFixture(t, ctx, st)
		for i := range 10 {
			closed(t, ctx, st, f.t1.ID, "2001", base.AddDate(0, 0, -i*10), time.Second)
			closed(t, ctx, st, f.t2.ID, "3001", base.AddDate(0, 0, -i*10), time.Second)
		}
		openOld, err := st.CDRs().Open(ctx, store.CDR{TenantID: f.t1.ID, Direction: store.DirectionOutbound, Caller: "2001", StartTime: base.AddDate(-1, 0, 0)})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		n, err := st.CDRs().Purge(ctx, f.t1.ID, base.AddDate(0, 0, -45))
		if err != nil || n != 5 { // started 50, 60, 70, 80 and 90 days before base
			t.Fatalf("Purge = %d, %v; want 5", n, err)
		}
		left, _ := st.CDRs().List(ctx, store.CDRFilter{TenantID: f.t1.ID})
		if len(left) != 6 {
			t.Errorf("tenant 1 has %d records left, want 5 and the open one", len(left))
		}
		if _, err := st.CDRs().Get(ctx, openOld); err != nil {
			t.Errorf("the open record was purged: %v", err)
		}
		other, _ := st.CDRs().List(ctx, store.CDRFilter{TenantID: f.t2.ID})
		if len(other) != 10 {
			t.Errorf("tenant 2 has %d records left, want all 10", len(other))
		}
		if _, err := st.CDRs().Purge(ctx, 0, base); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Purge without tenant: %v, want ErrInvalid", err)
		}
	})
}
