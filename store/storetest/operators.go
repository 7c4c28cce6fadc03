package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sentralpbx/sentral/store"
)

// testOperators checks what the switchboard console needs of the store:
// operator accounts, their lock-out state, and the tenants' switchboard
// settings.
func testOperators(t *testing.T, h Harness) {
	kari := func(tenantID int64) store.Operator {
		return store.Operator{TenantID: tenantID, Username: "kari", DisplayName: "Kari Nordmann",
			PasswordHash: "$argon2id$v=19$m=65536,t=3,p=2$c2FsdA$aGFzaA", Role: store.RoleOperator, Extension: "2001", Locale: "nb"}
	}
	refused := func(t *testing.T, what string, err error, field string, kind error) {
		t.Helper()
		var fe *store.FieldError
		if !errors.As(err, &fe) || fe.Field != field || !errors.Is(err, kind) || fe.Entity != store.EntityOperator {
			t.Errorf("%s: %v, want a %v refusal of operator %s", what, err, kind, field)
		}
	}

	t.Run("accounts round-trip, are listed by tenant and found by username", func(t *testing.T) {
		ctx, st, reopen := open(t, h)
		f := newFixture(t, ctx, st)
		k := kari(f.t1.ID)
		before := time.Now().UTC()
		if err := st.Operators().Create(ctx, &k); err != nil {
			t.Fatalf("Create: %v", err)
		}
		if k.ID == 0 || k.CreatedAt.Before(before.Add(-time.Second)) || !k.UpdatedAt.Equal(k.CreatedAt) {
			t.Errorf("Create set id %d, created %v, updated %v", k.ID, k.CreatedAt, k.UpdatedAt)
		}
		admin := store.Operator{TenantID: f.t1.ID, Username: "anne.admin", DisplayName: "Anne", PasswordHash: "x",
			Role: store.RoleAdmin, Extension: "2002", Locale: "en"}
		other := store.Operator{TenantID: f.t2.ID, Username: "per", DisplayName: "Per", PasswordHash: "y",
			Role: store.RoleOperator, Extension: "3001", Locale: "nb"}
		for _, o := range []*store.Operator{&admin, &other} {
			if err := st.Operators().Create(ctx, o); err != nil {
				t.Fatalf("Create %s: %v", o.Username, err)
			}
		}
		st2 := reopen(t)
		got, err := st2.Operators().Get(ctx, k.ID)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if got.CreatedAt.Sub(k.CreatedAt).Abs() > timeSlack || got.UpdatedAt.Sub(k.UpdatedAt).Abs() > timeSlack {
			t.Errorf("times read back %v/%v, written %v/%v", got.CreatedAt, got.UpdatedAt, k.CreatedAt, k.UpdatedAt)
		}
		got.CreatedAt, got.UpdatedAt = k.CreatedAt, k.UpdatedAt
		if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", k) {
			t.Errorf("Get = %+v\nwant  %+v", got, k)
		}
		if byName, err := st2.Operators().Find(ctx, "kari"); err != nil || byName.ID != k.ID {
			t.Errorf("Find kari: %+v, %v", byName, err)
		}
		if _, err := st2.Operators().Find(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Find nobody: %v, want ErrNotFound", err)
		}
		if _, err := st2.Operators().Get(ctx, k.ID+1000); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get unknown id: %v, want ErrNotFound", err)
		}
		list, err := st2.Operators().List(ctx, f.t1.ID)
		if err != nil || len(list) != 2 || list[0].Username != "anne.admin" || list[1].Username != "kari" {
			t.Errorf("List tenant 1: %+v, %v; want anne.admin, kari", list, err)
		}
		if all, err := st2.Operators().List(ctx, 0); err != nil || len(all) != 3 {
			t.Errorf("List all: %d, %v; want 3", len(all), err)
		}
		js, _ := json.Marshal(got)
		if strings.Contains(string(js), "argon2id") {
			t.Errorf("an operator's JSON shows the password hash: %s", js)
		}
	})

	t.Run("invalid accounts, unknown tenants and taken usernames are refused", func(t *testing.T) {
		ctx, st, _ := open(t, h)
		f := newFixture(t, ctx, st)
		for _, c := range []struct {
			field string
			kind  error
			set   func(*store.Operator)
		}{
			{"username", store.ErrInvalid, func(o *store.Operator) { o.Username = "Kari" }},
			{"username", store.ErrInvalid, func(o *store.Operator) { o.Username = "k" }},
			{"username", store.ErrInvalid, func(o *store.Operator) { o.Username = "kari nordmann" }},
			{"username", store.ErrInvalid, func(o *store.Operator) { o.Username = "1kari" }},
			{"username", store.ErrInvalid, func(o *store.Operator) { o.Username = strings.Repeat("k", store.MaxUsername+1) }},
			{"display_name", store.ErrInvalid, func(o *store.Operator) { o.DisplayName = " " }},
			{"password_hash", store.ErrInvalid, func(o *store.Operator) { o.PasswordHash = "" }},
			{"role", store.ErrInvalid, func(o *store.Operator) { o.Role = "root" }},
			{"extension", store.ErrInvalid, func(o *store.Operator) { o.Extension = "" }},
			{"extension", store.ErrInvalid, func(o *store.Operator) { o.Extension = "20a1" }},
			{"locale", store.ErrInvalid, func(o *store.Operator) { o.Locale = "se" }},
			{"tenant_id", store.ErrInvalid, func(o *store.Operator) { o.TenantID = 0 }},
			{"tenant_id", store.ErrNotFound, func(o *store.Operator) { o.TenantID = f.t2.ID + 1000 }},
		} {
			o := kari(f.t1.ID)
			c.set(&o)
			refused(t, "Create with bad "+c.field, st.Operators().Create(ctx, &o), c.field, c.kind)
		}
		k := kari(f.t1.ID)
		if err := st.Operators().Create(ctx, &k); err != nil {
			t.Fatalf("Create: %v", err)
		}
		dup := kari(f.t2.ID) // usernames are unique across tenants
		refused(t, "Create a taken username in another tenant", st.Operators().Create(ctx, &dup), "username", store.ErrExists)
		if all, _ := st.Operators().List(ctx, 0); len(all) != 1 {
			t.Errorf("refused creates left %d accounts, want 1", len(all))
		}
	})

	t.Run("update changes the profile and password, not the username or tenant; delete", func(t *testing.T) {
		ctx, st, _ := open(t, h)
		f := newFixture(t, ctx, st)
		k := kari(f.t1.ID)
		if err := st.Operators().Create(ctx, &k); err != nil {
			t.Fatalf("Create: %v", err)
		}
		u := k
		u.Username, u.TenantID = "ignored", f.t2.ID
		u.DisplayName, u.PasswordHash, u.Role, u.Extension, u.Locale = "Kari N.", "new-hash", store.RoleAdmin, "2003", "en"
		if err := st.Operators().Update(ctx, &u); err != nil {
			t.Fatalf("Update: %v", err)
		}
		got, err := st.Operators().Get(ctx, k.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Username != "kari" || got.TenantID != f.t1.ID || got.DisplayName != "Kari N." || got.PasswordHash != "new-hash" ||
			got.Role != store.RoleAdmin || got.Extension != "2003" || got.Locale != "en" || got.UpdatedAt.Before(got.CreatedAt) {
			t.Errorf("after Update: %+v", got)
		}
		if u.Username != "kari" || u.TenantID != f.t1.ID {
			t.Errorf("Update left the value with username %q, tenant %d", u.Username, u.TenantID)
		}
		bad := got
		bad.Locale = "de"
		refused(t, "Update with a bad locale", st.Operators().Update(ctx, &bad), "locale", store.ErrInvalid)
		missing := got
		missing.ID += 1000
		refused(t, "Update an unknown id", st.Operators().Update(ctx, &missing), "id", store.ErrNotFound)

		if err := st.Operators().Delete(ctx, k.ID); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if _, err := st.Operators().Get(ctx, k.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get after Delete: %v", err)
		}
		refused(t, "Delete twice", st.Operators().Delete(ctx, k.ID), "id", store.ErrNotFound)
		// The username is free again.
		again := kari(f.t2.ID)
		again.Extension = "3001"
		if err := st.Operators().Create(ctx, &again); err != nil {
			t.Errorf("Create after Delete: %v", err)
		}
	})

	t.Run("operators go with their tenant and with a rolled-back transaction", func(t *testing.T) {
		ctx, st, _ := open(t, h)
		f := newFixture(t, ctx, st)
		k := kari(f.t1.ID)
		if err := st.Operators().Create(ctx, &k); err != nil {
			t.Fatalf("Create: %v", err)
		}
		boom := errors.New("boom")
		err := st.InTx(ctx, func(tx store.Store) error {
			p := store.Operator{TenantID: f.t2.ID, Username: "per", DisplayName: "Per", PasswordHash: "y",
				Role: store.RoleOperator, Extension: "3001", Locale: "nb"}
			if err := tx.Operators().Create(ctx, &p); err != nil {
				return err
			}
			if _, err := tx.Operators().Find(ctx, "per"); err != nil {
				return fmt.Errorf("find inside the transaction: %w", err)
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx: %v", err)
		}
		if _, err := st.Operators().Find(ctx, "per"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("operator created in a rolled-back transaction: %v", err)
		}
		if err := st.Tenants().Delete(ctx, f.t1.ID); err != nil {
			t.Fatalf("Delete tenant: %v", err)
		}
		if _, err := st.Operators().Get(ctx, k.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("operator outlived its tenant: %v", err)
		}
	})

	t.Run("lock-out: five failures in the window lock, the window slides, success and unlock reset", func(t *testing.T) {
		ctx, st, reopen := open(t, h)
		f := newFixture(t, ctx, st)
		k := kari(f.t1.ID)
		if err := st.Operators().Create(ctx, &k); err != nil {
			t.Fatalf("Create: %v", err)
		}
		p := store.DefaultLockout
		t0 := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
		fail := func(at time.Time) store.Operator {
			t.Helper()
			o, err := st.Operators().LoginFailed(ctx, k.ID, at, p)
			if err != nil {
				t.Fatalf("LoginFailed: %v", err)
			}
			return o
		}
		for i := 1; i <= 4; i++ {
			o := fail(t0.Add(time.Duration(i) * time.Minute))
			if o.FailedCount != i || o.Locked(t0.Add(5*time.Minute)) || o.FailedSince == nil || !o.FailedSince.Equal(t0.Add(time.Minute)) {
				t.Fatalf("failure %d: count %d, since %v, locked until %v", i, o.FailedCount, o.FailedSince, o.LockedUntil)
			}
		}
		o := fail(t0.Add(10 * time.Minute))
		until := t0.Add(10*time.Minute + p.LockFor)
		if o.LockedUntil == nil || !o.LockedUntil.Equal(until) || o.FailedCount != 0 || o.FailedSince != nil {
			t.Fatalf("fifth failure: locked until %v, count %d, since %v; want locked until %v, count reset", o.LockedUntil, o.FailedCount, o.FailedSince, until)
		}
		// The lock survives a restart.
		got, err := reopen(t).Operators().Find(ctx, "kari")
		if err != nil || !got.Locked(until.Add(-time.Second)) || got.Locked(until) {
			t.Errorf("reopened: locked until %v, %v", got.LockedUntil, err)
		}
		if err := st.Operators().Unlock(ctx, k.ID); err != nil {
			t.Fatalf("Unlock: %v", err)
		}
		if got, _ := st.Operators().Get(ctx, k.ID); got.LockedUntil != nil || got.FailedCount != 0 {
			t.Errorf("after Unlock: %+v", got)
		}

		// Failures further apart than the window never add up.
		t1 := t0.Add(time.Hour)
		for i := range 6 {
			if o := fail(t1.Add(time.Duration(i) * (p.Window + time.Second))); o.FailedCount != 1 || o.LockedUntil != nil {
				t.Fatalf("spread failure %d: count %d, locked %v", i, o.FailedCount, o.LockedUntil)
			}
		}
		// A success resets the count and records the login.
		t2 := t1.Add(3 * time.Hour)
		fail(t2)
		fail(t2.Add(time.Second))
		if err := st.Operators().LoginSucceeded(ctx, k.ID, t2.Add(2*time.Second)); err != nil {
			t.Fatalf("LoginSucceeded: %v", err)
		}
		got, _ = st.Operators().Get(ctx, k.ID)
		if got.FailedCount != 0 || got.FailedSince != nil || got.LastLoginAt == nil || !got.LastLoginAt.Equal(t2.Add(2*time.Second)) {
			t.Errorf("after LoginSucceeded: count %d, since %v, last login %v", got.FailedCount, got.FailedSince, got.LastLoginAt)
		}
		// Update leaves the lock-out state alone.
		fail(t2.Add(time.Minute))
		got, _ = st.Operators().Get(ctx, k.ID)
		got.FailedCount, got.LockedUntil = 0, &t2
		if err := st.Operators().Update(ctx, &got); err != nil {
			t.Fatal(err)
		}
		if got, _ = st.Operators().Get(ctx, k.ID); got.FailedCount != 1 || got.LockedUntil != nil {
			t.Errorf("Update changed the lock-out state: count %d, locked %v", got.FailedCount, got.LockedUntil)
		}
		for _, fn := range []func() error{
			func() error { _, err := st.Operators().LoginFailed(ctx, k.ID+1000, t2, p); return err },
			func() error { return st.Operators().LoginSucceeded(ctx, k.ID+1000, t2) },
			func() error { return st.Operators().Unlock(ctx, k.ID+1000) },
		} {
			if err := fn(); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("lock-out write to an unknown id: %v, want ErrNotFound", err)
			}
		}
		if _, err := st.Operators().LoginFailed(ctx, k.ID, t2, store.LockoutPolicy{}); err == nil {
			t.Error("LoginFailed accepted a zero policy")
		}
	})

	t.Run("concurrent failures on two handles are all counted", func(t *testing.T) {
		ctx, st, reopen := open(t, h)
		f := newFixture(t, ctx, st)
		k := kari(f.t1.ID)
		if err := st.Operators().Create(ctx, &k); err != nil {
			t.Fatalf("Create: %v", err)
		}
		st2 := reopen(t)
		p := store.LockoutPolicy{MaxFailures: 9, Window: time.Hour, LockFor: time.Hour}
		at := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for i := range 8 {
			s := st
			if i%2 == 1 {
				s = st2
			}
			wg.Go(func() {
				if _, err := s.Operators().LoginFailed(ctx, k.ID, at.Add(time.Duration(i)*time.Millisecond), p); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("LoginFailed: %v", err)
		}
		got, err := st.Operators().Get(ctx, k.ID)
		if err != nil || got.FailedCount != 8 || got.LockedUntil != nil {
			t.Errorf("after 8 concurrent failures: count %d, locked %v, %v; want 8, unlocked", got.FailedCount, got.LockedUntil, err)
		}
		if o, err := st2.Operators().LoginFailed(ctx, k.ID, at.Add(time.Second), p); err != nil || o.LockedUntil == nil {
			t.Errorf("ninth failure: %+v, %v; want locked", o, err)
		}
	})

	t.Run("tenant switchboard settings round-trip and are checked", func(t *testing.T) {
		ctx, st, reopen := open(t, h)
		f := newFixture(t, ctx, st)
		tn := f.t1
		tn.SwitchboardHours, tn.NightTarget = "mon-fri 08:00-15:30", "voicemail:2000"
		if err := st.Tenants().Update(ctx, &tn); err != nil {
			t.Fatalf("Update: %v", err)
		}
		got, err := reopen(t).Tenants().Get(ctx, tn.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.SwitchboardHours != tn.SwitchboardHours || got.NightTarget != tn.NightTarget {
			t.Errorf("read back hours %q, night target %q", got.SwitchboardHours, got.NightTarget)
		}
		for _, target := range []string{"+4791234567", "2000", ""} {
			v := got
			v.NightTarget = target
			if err := st.Tenants().Update(ctx, &v); err != nil {
				t.Errorf("night target %q: %v", target, err)
			}
			got = v
		}
		for _, c := range []struct {
			field string
			set   func(*store.Tenant)
		}{
			{"night_target", func(v *store.Tenant) { v.NightTarget = "voicemail" }},
			{"night_target", func(v *store.Tenant) { v.NightTarget = "voicemail:x" }},
			{"night_target", func(v *store.Tenant) { v.NightTarget = "kari" }},
			{"switchboard_hours", func(v *store.Tenant) { v.SwitchboardHours = strings.Repeat("mon ", store.MaxSwitchboardHours) }},
		} {
			bad := got
			c.set(&bad)
			var fe *store.FieldError
			if err := st.Tenants().Update(ctx, &bad); !errors.As(err, &fe) || fe.Field != c.field || fe.Entity != store.EntityTenant || !errors.Is(err, store.ErrInvalid) {
				t.Errorf("Update with bad %s: %v, want an invalid %s", c.field, err, c.field)
			}
		}
	})
}
