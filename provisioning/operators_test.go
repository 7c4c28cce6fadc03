package provisioning

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sentralpbx/sentral/store"
	"github.com/sentralpbx/sentral/store/passhash"
)

func TestMain(m *testing.M) {
	// The cost of a hash does not change what the use cases do.
	OperatorHash = passhash.Argon2id{Memory: 64, Time: 1, Threads: 1}
	m.Run()
}

const goodPassword = "Fjordbord-2026!"

func TestOperators(t *testing.T) {
	onBothStores(t, func(t *testing.T, ctx context.Context, svc *Service, st store.Store) {
		v, err := svc.AddOperator(ctx, "fjordvik", " Kari ", goodPassword, OperatorInput{Name: ptr("Kari Nordmann"), Extension: ptr("2001")})
		if err != nil {
			t.Fatalf("AddOperator: %v", err)
		}
		if v.Username != "kari" || v.Role != "operator" || v.Locale != "nb" || v.Tenant != "fjordvik" || v.Extension != "2001" || v.Locked {
			t.Errorf("added %+v; want kari, operator, nb, fjordvik, 2001", v)
		}
		o, err := st.Operators().Find(ctx, "kari")
		if err != nil || !passhash.VerifyArgon2id(o.PasswordHash, goodPassword) {
			t.Fatalf("stored account %+v, %v: the password does not verify", o, err)
		}
		js, _ := json.Marshal(v)
		if strings.Contains(string(js), "argon2") {
			t.Errorf("the view shows the hash: %s", js)
		}
		if _, err := svc.AddOperator(ctx, "fjordvik", "anne", "Fjell-og-fjord-2026", OperatorInput{Name: ptr("Anne"), Extension: ptr("2002"),
			Role: ptr("Admin"), Locale: ptr("EN")}); err != nil {
			t.Fatalf("add admin: %v", err)
		}
		list, err := svc.Operators(ctx, "fjordvik")
		if err != nil || len(list) != 2 || list[0].Username != "anne" || list[0].Role != "admin" || list[0].Locale != "en" {
			t.Errorf("Operators: %+v, %v", list, err)
		}

		for _, c := range []struct {
			what, field string
			run         func() error
		}{
			{"taken username", "USERNAME", func() error {
				_, err := svc.AddOperator(ctx, "fjordvik", "KARI", goodPassword, OperatorInput{Name: ptr("K"), Extension: ptr("2001")})
				return err
			}},
			{"bad username", "USERNAME", func() error {
				_, err := svc.AddOperator(ctx, "fjordvik", "kari nordmann", goodPassword, OperatorInput{Name: ptr("K"), Extension: ptr("2001")})
				return err
			}},
			{"no tenant", "--tenant", func() error {
				_, err := svc.AddOperator(ctx, "", "ola", goodPassword, OperatorInput{Name: ptr("Ola"), Extension: ptr("2001")})
				return err
			}},
			{"unknown tenant", "--tenant", func() error {
				_, err := svc.AddOperator(ctx, "nowhere", "ola", goodPassword, OperatorInput{Name: ptr("Ola"), Extension: ptr("2001")})
				return err
			}},
			{"no name", "--name", func() error {
				_, err := svc.AddOperator(ctx, "fjordvik", "ola", goodPassword, OperatorInput{Extension: ptr("2001")})
				return err
			}},
			{"no extension", "--extension", func() error {
				_, err := svc.AddOperator(ctx, "fjordvik", "ola", goodPassword, OperatorInput{Name: ptr("Ola")})
				return err
			}},
			{"unknown extension", "--extension", func() error {
				_, err := svc.AddOperator(ctx, "fjordvik", "ola", goodPassword, OperatorInput{Name: ptr("Ola"), Extension: ptr("2999")})
				return err
			}},
			{"bad role", "--role", func() error {
				_, err := svc.AddOperator(ctx, "fjordvik", "ola", goodPassword, OperatorInput{Name: ptr("Ola"), Extension: ptr("2001"), Role: ptr("root")})
				return err
			}},
			{"bad locale", "--locale", func() error {
				_, err := svc.UpdateOperator(ctx, "kari", OperatorInput{Locale: ptr("sv")})
				return err
			}},
			{"short password", "password", func() error {
				_, err := svc.AddOperator(ctx, "fjordvik", "ola", "Kort-1", OperatorInput{Name: ptr("Ola"), Extension: ptr("2001")})
				return err
			}},
			{"eleven characters", "password", func() error {
				_, err := svc.SetOperatorPassword(ctx, "kari", "Abcdefgh-12")
				return err
			}},
			{"one kind of character", "password", func() error {
				_, err := svc.SetOperatorPassword(ctx, "kari", "abcdefghijklmn")
				return err
			}},
			{"password with the username", "password", func() error {
				_, err := svc.SetOperatorPassword(ctx, "kari", "Kari-Sitt-Ord-99x")
				return err
			}},
			{"password with a common word", "password", func() error {
				_, err := svc.SetOperatorPassword(ctx, "kari", "Sommer-2026-fjord")
				return err
			}},
			{"unknown operator", "USERNAME", func() error {
				_, err := svc.SetOperatorPassword(ctx, "ola", goodPassword)
				return err
			}},
			{"remove unknown", "USERNAME", func() error {
				_, err := svc.RemoveOperator(ctx, "ola")
				return err
			}},
		} {
			wantRefusal(t, c.what, c.run(), c.field)
		}

		// A long passphrase needs no mix of kinds.
		if _, err := svc.SetOperatorPassword(ctx, "kari", "blåbær og multer på fjellet"); err != nil {
			t.Errorf("passphrase: %v", err)
		}
		o2, _ := st.Operators().Find(ctx, "kari")
		if o2.PasswordHash == o.PasswordHash || !passhash.VerifyArgon2id(o2.PasswordHash, "blåbær og multer på fjellet") {
			t.Error("SetOperatorPassword did not store the new password")
		}

		u, err := svc.UpdateOperator(ctx, "Kari", OperatorInput{Name: ptr("Kari N."), Extension: ptr("2002"), Role: ptr("admin"), Locale: ptr("en")})
		if err != nil || u.Name != "Kari N." || u.Extension != "2002" || u.Role != "admin" || u.Locale != "en" {
			t.Errorf("UpdateOperator: %+v, %v", u, err)
		}

		// Lock-out shows in the view; unlock lifts it.
		now := time.Now()
		for i := range store.DefaultLockout.MaxFailures {
			if _, err := st.Operators().LoginFailed(ctx, o.ID, now.Add(time.Duration(i)*time.Second), store.DefaultLockout); err != nil {
				t.Fatal(err)
			}
		}
		if v, err := svc.Operator(ctx, "kari"); err != nil || !v.Locked || v.LockedUntil == nil {
			t.Errorf("after 5 failures: %+v, %v; want locked", v, err)
		}
		if v, err := svc.UnlockOperator(ctx, "kari"); err != nil || v.Locked || v.LockedUntil != nil || v.FailedLogins != 0 {
			t.Errorf("UnlockOperator: %+v, %v", v, err)
		}

		if _, err := svc.RemoveOperator(ctx, "kari"); err != nil {
			t.Fatalf("RemoveOperator: %v", err)
		}
		if _, err := svc.Operator(ctx, "kari"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("after removal: %v", err)
		}
	})
}

func TestSetSwitchboard(t *testing.T) {
	onBothStores(t, func(t *testing.T, ctx context.Context, svc *Service, st store.Store) {
		if _, err := svc.UpdateTenant(ctx, "fjordvik", TenantInput{Switchboard: ptr("2000")}); err != nil {
			t.Fatal(err)
		}
		v, err := svc.SetSwitchboard(ctx, "fjordvik", ptr("  man-fre 08:00-15:30 "), ptr("VOICEMAIL:2001"))
		if err != nil {
			t.Fatalf("SetSwitchboard: %v", err)
		}
		if v.Hours != "man-fre 08:00-15:30" || v.NightTarget != "voicemail:2001" || v.Number != "2000" {
			t.Errorf("SetSwitchboard = %+v", v)
		}
		tn, _ := st.Tenants().Find(ctx, 0, "fjordvik")
		if tn.SwitchboardHours != v.Hours || tn.NightTarget != "voicemail:2001" {
			t.Errorf("stored hours %q, night target %q", tn.SwitchboardHours, tn.NightTarget)
		}
		// Only what is given changes.
		if v, err = svc.SetSwitchboard(ctx, "fjordvik", nil, ptr("+4791234567")); err != nil || v.Hours == "" || v.NightTarget != "+4791234567" {
			t.Errorf("night target only: %+v, %v", v, err)
		}
		if v, err = svc.SetSwitchboard(ctx, "fjordvik", ptr(""), ptr("")); err != nil || v.Hours != "" || v.NightTarget != "" {
			t.Errorf("clear both: %+v, %v", v, err)
		}
		if got, err := svc.Switchboard(ctx, "fjordvik"); err != nil || got != v {
			t.Errorf("Switchboard = %+v, %v; want %+v", got, err, v)
		}
		for _, c := range []struct {
			what, field   string
			hours, target *string
		}{
			{"nothing", "--hours/--night-target", nil, nil},
			{"bad hours", "--hours", ptr("weekdays 8-16"), nil},
			{"hours past midnight", "--hours", ptr("mon 22:00-06:00"), nil},
			{"bare voicemail", "--night-target", nil, ptr("voicemail")},
			{"unknown mailbox", "--night-target", nil, ptr("voicemail:2999")},
			{"not a number", "--night-target", nil, ptr("kari")},
			{"the switchboard itself", "--night-target", nil, ptr("2000")},
		} {
			_, err := svc.SetSwitchboard(ctx, "fjordvik", c.hours, c.target)
			wantRefusal(t, c.what, err, c.field)
		}
		_, err = svc.SetSwitchboard(ctx, "nowhere", ptr(""), nil)
		wantRefusal(t, "unknown tenant", err, "--tenant")
	})
}
