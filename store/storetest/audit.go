package storetest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sentralpbx/sentral/store"
)

// testAudit checks the audit log: entries round-trip, filter, order
// newest first, are refused when incomplete, outlive their tenant, join
// transactions and are purged by age.
func testAudit(t *testing.T, h Harness) {
	base := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	entry := func(min int, tenantID int64, actor, action string) store.AuditEntry {
		return store.AuditEntry{At: base.Add(time.Duration(min) * time.Minute), TenantID: tenantID, Actor: actor,
			Role: store.AuditRoleOperator, Action: action, Target: "kari", Source: "192.0.2.10:51234",
			Detail: `{"reason":"wrong password"}`, Outcome: store.AuditDenied}
	}

	t.Run("entries round-trip, newest first, through another handle", func(t *testing.T) {
		ctx, st, reopen := open(t, h)
		f := newFixture(t, ctx, st)
		in := []store.AuditEntry{
			entry(0, f.t1.ID, "operator:kari", "operator.login_failed"),
			{At: base.Add(time.Minute + 123456*time.Microsecond), Actor: "cli:root", Role: store.AuditRoleAdmin,
				Action: "tenant.create", Target: "tenant bergvik", Source: "local", Outcome: store.AuditOK},
		}
		for _, e := range in {
			if err := st.Audit().Append(ctx, e); err != nil {
				t.Fatalf("Append %s: %v", e.Action, err)
			}
		}
		got, err := reopen(t).Audit().List(ctx, store.AuditFilter{})
		if err != nil || len(got) != 2 {
			t.Fatalf("List = %d entries, %v; want 2", len(got), err)
		}
		// Newest first.
		want := []store.AuditEntry{in[1], in[0]}
		for i := range want {
			if got[i].ID == 0 {
				t.Errorf("entry %d has no id", i)
			}
			if got[i].At.Location() != time.UTC {
				t.Errorf("entry %d: At %v is not UTC", i, got[i].At)
			}
			want[i].ID = got[i].ID
			if fmt.Sprintf("%+v", got[i]) != fmt.Sprintf("%+v", want[i]) {
				t.Errorf("entry %d = %+v\nwant      %+v", i, got[i], want[i])
			}
		}
		if got[0].ID <= got[1].ID {
			t.Errorf("ids %d, %d: the later entry should have the higher id", got[0].ID, got[1].ID)
		}
	})

	t.Run("a zero time is the time of Append", func(t *testing.T) {
		ctx, st, _ := open(t, h)
		before := time.Now().UTC().Add(-time.Second)
		e := entry(0, 0, "admin-api", "extension.create")
		e.At = time.Time{}
		if err := st.Audit().Append(ctx, e); err != nil {
			t.Fatal(err)
		}
		got, err := st.Audit().List(ctx, store.AuditFilter{})
		if err != nil || len(got) != 1 {
			t.Fatalf("List = %+v, %v", got, err)
		}
		if got[0].At.Before(before) || got[0].At.After(time.Now().Add(time.Second)) || got[0].TenantID != 0 {
			t.Errorf("At %v (appended after %v), tenant %d", got[0].At, before, got[0].TenantID)
		}
	})

	t.Run("filters by tenant, actor, action prefix, period and limit", func(t *testing.T) {
		ctx, st, _ := open(t, h)
		f := newFixture(t, ctx, st)
		for _, e := range []store.AuditEntry{
			entry(0, f.t1.ID, "operator:kari", "operator.login_failed"),
			entry(1, f.t1.ID, "operator:kari", "operator.login"),
			entry(2, f.t1.ID, "operator:kari", "call.transfer"),
			entry(3, f.t2.ID, "operator:per", "call.park"),
			entry(4, 0, "admin-api", "extension.create"),
			entry(5, 0, "admin-api", "ext%ension_x.create"),
		} {
			if err := st.Audit().Append(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		actions := func(f store.AuditFilter) string {
			t.Helper()
			got, err := st.Audit().List(ctx, f)
			if err != nil {
				t.Fatalf("List %+v: %v", f, err)
			}
			var s []string
			for _, e := range got {
				s = append(s, e.Action)
			}
			return strings.Join(s, " ")
		}
		for _, tt := range []struct {
			name string
			f    store.AuditFilter
			want string
		}{
			{"all, newest first", store.AuditFilter{}, "ext%ension_x.create extension.create call.park call.transfer operator.login operator.login_failed"},
			{"tenant", store.AuditFilter{TenantID: f.t1.ID}, "call.transfer operator.login operator.login_failed"},
			{"actor", store.AuditFilter{Actor: "operator:per"}, "call.park"},
			{"actor is exact", store.AuditFilter{Actor: "operator:"}, ""},
			{"action prefix", store.AuditFilter{Action: "operator."}, "operator.login operator.login_failed"},
			{"action prefix, whole", store.AuditFilter{Action: "operator.login_failed"}, "operator.login_failed"},
			{"action prefix has no wildcards", store.AuditFilter{Action: "ext%"}, "ext%ension_x.create"},
			{"action prefix _ is literal", store.AuditFilter{Action: "ca_l"}, ""},
			{"since is inclusive, until exclusive", store.AuditFilter{Since: base.Add(time.Minute), Until: base.Add(3 * time.Minute)}, "call.transfer operator.login"},
			{"limit keeps the newest", store.AuditFilter{Limit: 2}, "ext%ension_x.create extension.create"},
			{"combined", store.AuditFilter{TenantID: f.t1.ID, Action: "operator.", Limit: 1}, "operator.login"},
		} {
			if got := actions(tt.f); got != tt.want {
				t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
			}
		}
	})

	t.Run("incomplete entries are refused, long ones cut", func(t *testing.T) {
		ctx, st, _ := open(t, h)
		for _, tt := range []struct {
			field string
			edit  func(*store.AuditEntry)
		}{
			{"actor", func(e *store.AuditEntry) { e.Actor = " " }},
			{"action", func(e *store.AuditEntry) { e.Action = "" }},
			{"role", func(e *store.AuditEntry) { e.Role = "root" }},
			{"outcome", func(e *store.AuditEntry) { e.Outcome = "" }},
			{"source", func(e *store.AuditEntry) { e.Source = strings.Repeat("x", store.MaxAuditField+1) }},
		} {
			e := entry(0, 0, "admin-api", "extension.create")
			tt.edit(&e)
			err := st.Audit().Append(ctx, e)
			var fe *store.FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field || fe.Entity != store.EntityAudit || !errors.Is(err, store.ErrInvalid) {
				t.Errorf("bad %s: %v, want an invalid audit entry %s", tt.field, err, tt.field)
			}
		}
		if got, _ := st.Audit().List(ctx, store.AuditFilter{}); len(got) != 0 {
			t.Errorf("refused entries were stored: %+v", got)
		}
		e := entry(0, 0, "admin-api", "extension.create")
		e.Detail = strings.Repeat("æ", store.MaxAuditDetail)
		if err := st.Audit().Append(ctx, e); err != nil {
			t.Fatalf("long detail: %v", err)
		}
		got, err := st.Audit().List(ctx, store.AuditFilter{})
		if err != nil || len(got) != 1 {
			t.Fatalf("List = %d, %v", len(got), err)
		}
		if d := got[0].Detail; len(d) > store.MaxAuditDetail || !strings.HasSuffix(d, "…") || !strings.HasPrefix(d, "ææ") {
			t.Errorf("long detail stored as %d bytes ending %q", len(d), d[len(d)-8:])
		}
	})

	t.Run("entries outlive their tenant and join transactions", func(t *testing.T) {
		ctx, st, _ := open(t, h)
		f := newFixture(t, ctx, st)
		if err := st.Audit().Append(ctx, entry(0, f.t2.ID, "operator:per", "call.park")); err != nil {
			t.Fatal(err)
		}
		if err := st.Tenants().Delete(ctx, f.t2.ID); err != nil {
			t.Fatalf("delete tenant: %v", err)
		}
		if got, err := st.Audit().List(ctx, store.AuditFilter{TenantID: f.t2.ID}); err != nil || len(got) != 1 {
			t.Errorf("after deleting the tenant: %d entries, %v; want 1", len(got), err)
		}
		boom := errors.New("boom")
		err := st.InTx(ctx, func(tx store.Store) error {
			if err := tx.Audit().Append(ctx, entry(1, f.t1.ID, "cli:root", "tenant.update")); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx = %v", err)
		}
		if got, _ := st.Audit().List(ctx, store.AuditFilter{Action: "tenant."}); len(got) != 0 {
			t.Errorf("an entry of a rolled-back transaction was kept: %+v", got)
		}
	})

	t.Run("purge deletes what is older than the cut-off", func(t *testing.T) {
		ctx, st, _ := open(t, h)
		for i := 0; i < 5; i++ {
			if err := st.Audit().Append(ctx, entry(i, 0, "admin-api", "extension.update")); err != nil {
				t.Fatal(err)
			}
		}
		n, err := st.Audit().Purge(ctx, base.Add(2*time.Minute))
		if err != nil || n != 2 {
			t.Errorf("Purge = %d, %v; want 2", n, err)
		}
		if got, _ := st.Audit().List(ctx, store.AuditFilter{}); len(got) != 3 || !got[2].At.Equal(base.Add(2*time.Minute)) {
			t.Errorf("after purge: %+v", got)
		}
		if n, err := st.Audit().Purge(ctx, base); err != nil || n != 0 {
			t.Errorf("second Purge = %d, %v; want 0", n, err)
		}
	})

	t.Run("concurrent appends on two handles are all kept", func(t *testing.T) {
		ctx, st, reopen := open(t, h)
		st2 := reopen(t)
		var wg sync.WaitGroup
		errs := make(chan error, 40)
		for i := 0; i < 40; i++ {
			s := st
			if i%2 == 1 {
				s = st2
			}
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				errs <- s.Audit().Append(ctx, entry(i, 0, fmt.Sprintf("operator:op%d", i), "call.answer"))
			}(i)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("Append: %v", err)
			}
		}
		if got, err := st.Audit().List(ctx, store.AuditFilter{Action: "call."}); err != nil || len(got) != 40 {
			t.Errorf("List = %d, %v; want 40", len(got), err)
		}
	})
}
