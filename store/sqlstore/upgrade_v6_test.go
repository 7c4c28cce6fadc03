package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/sentralpbx/sentral/store"
)

// v6 fills a database at schema version 6 (before billing) with a tenant
// and a closed, unrated call record, as an installed switch has.
func v6(l *legacy) {
	insert, now := l.insert, l.now
	tid := insert("INSERT INTO tenants (version, created_at, updated_at, name, display_name, domain) VALUES (1, $1, $1, 'fjordvik', 'Fjordvik', 'fjordvik.example.no')", now)
	l.exec("INSERT INTO tenant_ranges (tenant_id, position, kind, first_number, last_number) VALUES ($1, 0, 'ext', '2000', '2999')", tid)
	insert("INSERT INTO cdrs (tenant_id, call_id, state, direction, caller, callee, normalised, start_time, answer_time, end_time, duration_seconds, billable_seconds, disposition, sip_code) "+
		"VALUES ($1, 'c1@old', 'closed', 'outbound', '2001', '+4791234567', '+4791234567', $2, $2, $3, 61, 61, 'answered', 200)", tid, now.Add(-time.Hour), now.Add(-time.Hour+61*time.Second))
}

// checkUpgradedV6 checks what migration 7 gave the rows of v6: tenants
// keep every call record and show numbers whole, nobody can bind to the
// phone book until a password is set, and old records await rating.
func checkUpgradedV6(t *testing.T, st store.Store) {
	t.Helper()
	ctx := context.Background()
	tn, err := st.Tenants().Find(ctx, 0, "fjordvik")
	if err != nil {
		t.Fatalf("tenant after upgrade: %v", err)
	}
	if tn.CDRRetentionDays != 0 || tn.ReportMaskDigits != 0 || tn.PhonebookSecret != "" {
		t.Errorf("tenant after upgrade: retention %d, mask %d, secret %q; want 0, 0, none", tn.CDRRetentionDays, tn.ReportMaskDigits, tn.PhonebookSecret)
	}
	unrated, err := st.CDRs().Scan(ctx, store.CDRFilter{TenantID: tn.ID}, 0, 10, true)
	if err != nil || len(unrated) != 1 || unrated[0].BillableSeconds != 61 {
		t.Fatalf("unrated records after upgrade: %+v, %v; want the old call", unrated, err)
	}
	id, err := st.Tariffs().Add(ctx, store.Tariff{TenantID: tn.ID, Name: "2027", Spec: "{}"})
	if err != nil {
		t.Fatalf("add a tariff after upgrade: %v", err)
	}
	if err := st.CDRs().SetPrices(ctx, []store.CDRPrice{{ID: unrated[0].ID, PriceOre: 69, TariffID: id}}); err != nil {
		t.Fatalf("rate the old call: %v", err)
	}
	tn.CDRRetentionDays = 730
	if err := st.Tenants().Update(ctx, &tn); err != nil {
		t.Errorf("set retention on the upgraded tenant: %v", err)
	}
}

func TestUpgradeFromV6(t *testing.T) {
	for _, be := range backends {
		t.Run(be, func(t *testing.T) { upgradeFrom(t, be, 6, v6, checkUpgradedV6) })
	}
}
