package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sentralpbx/sentral/provisioning"
	"github.com/sentralpbx/sentral/store"
	"github.com/sentralpbx/sentral/store/backend"
	"github.com/sentralpbx/sentral/store/passhash"
)

// TestOperatorCLI walks an admin through the console accounts: add an
// operator and an admin, list, update, change a password, unlock after a
// lock-out, remove; errors name the argument or flag and the fix.
func TestOperatorCLI(t *testing.T) {
	c := newCLI(t)
	c.ok("tenant", "add", "fjordvik", "--domain", "fjordvik.test", "--ext-range", "2000-2999")
	c.ok("ext", "add", "2001", "--tenant", "fjordvik", "--name", "Sentralbord 1")
	c.ok("ext", "add", "2002", "--tenant", "fjordvik", "--name", "Sentralbord 2")

	out, errs, code := c.runIn("Fjordbord-2026!\n", "operator", "add", "Kari", "--tenant", "fjordvik", "--name", "Kari Nordmann",
		"--extension", "2001", "--password-stdin")
	if code != exitOK || !strings.Contains(out, "added operator kari") || strings.Contains(out, "argon2") {
		t.Fatalf("operator add: exit %d\n%s%s", code, out, errs)
	}
	if _, errs, code := c.runIn("Fjell-og-fjord-2026\n", "operator", "add", "anne", "--tenant", "fjordvik", "--name", "Anne",
		"--extension", "2002", "--role", "admin", "--locale", "en", "--password-stdin", "-o", "json"); code != exitOK {
		t.Fatalf("operator add anne: exit %d %s", code, errs)
	}

	var list []provisioning.OperatorView
	if err := json.Unmarshal([]byte(c.ok("operator", "list", "--tenant", "fjordvik", "-o", "json")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Username != "anne" || list[0].Role != "admin" || list[0].Locale != "en" ||
		list[1].Username != "kari" || list[1].Extension != "2001" || list[1].Tenant != "fjordvik" {
		t.Errorf("operator list: %+v", list)
	}
	csv := c.ok("operator", "list", "-o", "csv")
	if !strings.HasPrefix(csv, "username,name,tenant,role,extension,locale,locked_until,failed_logins,last_login\n") || !strings.Contains(csv, "kari,Kari Nordmann,fjordvik,operator,2001,nb,,0,") {
		t.Errorf("operator list csv:\n%s", csv)
	}
	if table := c.ok("operator", "list", "--tenant", "fjordvik"); !strings.Contains(table, "USERNAME") || !strings.Contains(table, "Kari Nordmann") {
		t.Errorf("operator list table:\n%s", table)
	}

	c.ok("operator", "update", "kari", "--extension", "2002", "--locale", "en", "--name", "Kari N.")
	var v provisioning.OperatorView
	if err := json.Unmarshal([]byte(c.ok("operator", "show", "kari", "-o", "json")), &v); err != nil || v.Extension != "2002" || v.Locale != "en" || v.Name != "Kari N." || v.Role != "operator" {
		t.Errorf("after update: %+v, %v", v, err)
	}

	// A new password replaces the hash.
	hashOf := func() string {
		t.Helper()
		st, err := backend.Open(context.Background(), c.db, backend.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		o, err := st.Operators().Find(context.Background(), "kari")
		if err != nil {
			t.Fatal(err)
		}
		return o.PasswordHash
	}
	if h := hashOf(); !passhash.VerifyArgon2id(h, "Fjordbord-2026!") {
		t.Fatal("the added password does not verify")
	}
	if out, errs, code := c.runIn("Nytt-fjordbord-27\n", "operator", "passwd", "kari", "--password-stdin"); code != exitOK || !strings.Contains(out, "new password set for operator kari") {
		t.Fatalf("operator passwd: exit %d\n%s%s", code, out, errs)
	}
	if h := hashOf(); !passhash.VerifyArgon2id(h, "Nytt-fjordbord-27") {
		t.Error("the new password does not verify")
	}

	// Lock kari out as five failed logins would, then unlock.
	func() {
		st, err := backend.Open(context.Background(), c.db, backend.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		o, _ := st.Operators().Find(context.Background(), "kari")
		for i := range 5 {
			if _, err := st.Operators().LoginFailed(context.Background(), o.ID, time.Now().Add(time.Duration(i)*time.Millisecond), store.DefaultLockout); err != nil {
				t.Fatal(err)
			}
		}
	}()
	if show := c.ok("operator", "show", "kari"); !strings.Contains(show, time.Now().UTC().Format("2006-01-02T")) {
		t.Errorf("show does not say until when kari is locked:\n%s", show)
	}
	if out := c.ok("operator", "unlock", "kari", "-o", "json"); !strings.Contains(out, `"locked": false`) {
		t.Errorf("operator unlock:\n%s", out)
	}

	if out := c.ok("operator", "remove", "anne"); !strings.Contains(out, "removed operator anne") {
		t.Errorf("operator remove:\n%s", out)
	}
	if err := json.Unmarshal([]byte(c.ok("operator", "list", "-o", "json")), &list); err != nil || len(list) != 1 {
		t.Errorf("after remove: %+v, %v", list, err)
	}

	// Errors name the argument or flag and the fix, with exit code 1.
	for _, tc := range []struct {
		stdin string
		args  []string
		want  string
	}{
		{"Fjordbord-2026!\n", []string{"operator", "add", "kari", "--tenant", "fjordvik", "--name", "K", "--extension", "2001", "--password-stdin"}, "USERNAME"},
		{"Fjordbord-2026!\n", []string{"operator", "add", "ola", "--name", "Ola", "--extension", "2001", "--password-stdin"}, "--tenant"},
		{"Fjordbord-2026!\n", []string{"operator", "add", "ola", "--tenant", "fjordvik", "--name", "Ola", "--extension", "2999", "--password-stdin"}, "--extension"},
		{"Fjordbord-2026!\n", []string{"operator", "add", "ola", "--tenant", "fjordvik", "--name", "Ola", "--extension", "2001", "--role", "boss", "--password-stdin"}, "--role"},
		{"kort\n", []string{"operator", "add", "ola", "--tenant", "fjordvik", "--name", "Ola", "--extension", "2001", "--password-stdin"}, "password"},
		{"", []string{"operator", "add", "ola", "--tenant", "fjordvik", "--name", "Ola", "--extension", "2001"}, "--password-stdin"},
		{"", []string{"operator", "add", "ola", "--tenant", "fjordvik", "--name", "Ola", "--extension", "2001", "--password-stdin"}, "--password-stdin"},
		{"", []string{"operator", "add", "--tenant", "fjordvik"}, "USERNAME"},
		{"", []string{"operator", "update", "kari", "--locale", "se"}, "--locale"},
		{"", []string{"operator", "remove", "nobody"}, "USERNAME"},
		{"", []string{"operator", "unlock", "nobody"}, "USERNAME"},
		{"", []string{"operator", "list", "--tenant", "nowhere"}, "--tenant"},
	} {
		_, errs, code := c.runIn(tc.stdin, tc.args...)
		if code != exitUser || !strings.Contains(errs, tc.want) {
			t.Errorf("sentral %s: exit %d, stderr %q; want exit 1 naming %s", strings.Join(tc.args, " "), code, errs, tc.want)
		}
		if strings.Contains(errs, "Fjordbord") {
			t.Errorf("sentral %s: the error shows the password: %s", strings.Join(tc.args, " "), errs)
		}
	}
}

func TestSwitchboardCLI(t *testing.T) {
	c := newCLI(t)
	c.ok("tenant", "add", "fjordvik", "--domain", "fjordvik.test", "--ext-range", "2000-2999", "--switchboard", "2000")
	c.ok("ext", "add", "2001", "--tenant", "fjordvik", "--name", "Sentralbord")

	show := c.ok("switchboard", "show", "fjordvik")
	if !strings.Contains(show, "always open") || !strings.Contains(show, "closed message") {
		t.Errorf("switchboard show before set:\n%s", show)
	}
	out := c.ok("switchboard", "set", "fjordvik", "--hours", "mon-fri 08:00-15:30", "--night-target", "voicemail:2001")
	if !strings.Contains(out, "set switchboard of fjordvik") || !strings.Contains(out, "mon-fri 08:00-15:30") {
		t.Errorf("switchboard set:\n%s", out)
	}
	var v provisioning.SwitchboardView
	if err := json.Unmarshal([]byte(c.ok("switchboard", "show", "fjordvik", "-o", "json")), &v); err != nil ||
		v.NightTarget != "voicemail:2001" || v.Number != "2000" || v.Hours != "mon-fri 08:00-15:30" {
		t.Errorf("switchboard show: %+v, %v", v, err)
	}
	// Only the flags given change; "" clears.
	c.ok("switchboard", "set", "fjordvik", "--night-target", "")
	if err := json.Unmarshal([]byte(c.ok("switchboard", "show", "fjordvik", "-o", "json")), &v); err != nil || v.NightTarget != "" || v.Hours == "" {
		t.Errorf("after clearing the night target: %+v, %v", v, err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"switchboard", "set", "fjordvik", "--hours", "weekdays 8-16"}, "--hours"},
		{[]string{"switchboard", "set", "fjordvik", "--night-target", "voicemail:2999"}, "--night-target"},
		{[]string{"switchboard", "set", "fjordvik", "--night-target", "voicemail"}, "--night-target"},
		{[]string{"switchboard", "set", "fjordvik"}, "--hours"},
		{[]string{"switchboard", "set", "nowhere", "--hours", ""}, "TENANT"},
		{[]string{"switchboard", "show"}, "TENANT"},
	} {
		_, errs, code := c.run(tc.args...)
		if code != exitUser || !strings.Contains(errs, tc.want) {
			t.Errorf("sentral %s: exit %d, stderr %q; want exit 1 naming %s", strings.Join(tc.args, " "), code, errs, tc.want)
		}
	}
}
