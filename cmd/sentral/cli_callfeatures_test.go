package main

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sentralpbx/sentral/media/voicemail"
	"github.com/sentralpbx/sentral/provisioning"
	"github.com/sentralpbx/sentral/store"
	"github.com/sentralpbx/sentral/store/pgtest"
)

// onBothStores runs fn with a CLI on SQLite and one on PostgreSQL (skipped
// without SENTRAL_TEST_PG), each with tenant fjordvik.
func onBothStores(t *testing.T, fn func(t *testing.T, c *cli)) {
	t.Run("SQLite", func(t *testing.T) { fn(t, withTenant(t)) })
	t.Run("PostgreSQL", func(t *testing.T) {
		c := &cli{t: t, db: pgtest.DSN(t, "cli_test")}
		c.ok("tenant", "add", "fjordvik", "--domain", "sip.fjordvik.no", "--ext-range", "2000-2999", "--did-range", "55550000-55550999")
		fn(t, c)
	})
}

func TestExtCallFeatureFlags(t *testing.T) {
	onBothStores(t, func(t *testing.T, c *cli) {
		// ext add turns voicemail on unless told otherwise.
		e := parseJSON[provisioning.ExtensionView](t, c.ok("ext", "add", "2001", "--tenant", "fjordvik", "--name", "Kari Nordmann", "-o", "json"))
		if !e.Voicemail || e.DND || e.ForwardBusy != "" || e.NoAnswerSeconds != 0 || e.Language != "" {
			t.Errorf("ext add without call-feature flags: %+v", e.Extension)
		}
		e = parseJSON[provisioning.ExtensionView](t, c.ok("ext", "add", "2002", "--tenant", "fjordvik", "--name", "Ola", "--voicemail=false", "-o", "json"))
		if e.Voicemail {
			t.Errorf("ext add --voicemail=false: voicemail on")
		}

		e = parseJSON[provisioning.ExtensionView](t, c.ok("ext", "update", "2001", "--tenant", "fjordvik",
			"--forward-always", "+47 912 34 567", "--forward-busy", "voicemail:2002", "--forward-no-answer", "Voicemail",
			"--no-answer-seconds", "30", "--dnd", "--voicemail-ask-pin", "--language", "en", "-o", "json"))
		want := store.Extension{ForwardAlways: "+4791234567", ForwardBusy: "voicemail:2002", ForwardNoAnswer: "voicemail",
			NoAnswerSeconds: 30, DND: true, Voicemail: true, VoicemailAskPIN: true, Language: "en"}
		same := func(what string, got store.Extension) {
			t.Helper()
			if got.ForwardAlways != want.ForwardAlways || got.ForwardBusy != want.ForwardBusy || got.ForwardNoAnswer != want.ForwardNoAnswer ||
				got.NoAnswerSeconds != want.NoAnswerSeconds || got.DND != want.DND || got.Voicemail != want.Voicemail ||
				got.VoicemailAskPIN != want.VoicemailAskPIN || got.Language != want.Language {
				t.Errorf("%s: %+v, want call features %+v", what, got, want)
			}
		}
		same("ext update with every call-feature flag", e.Extension)
		// Flags not given keep their values (--voicemail's add default
		// does not apply to update).
		e = parseJSON[provisioning.ExtensionView](t, c.ok("ext", "update", "2001", "--tenant", "fjordvik", "--name", "Kari", "-o", "json"))
		same("ext update --name", e.Extension)

		// show prints the call features; list does not need to.
		show := c.ok("ext", "show", "2001", "--tenant", "fjordvik")
		for _, line := range []string{"forward_always:     +4791234567", "forward_busy:       voicemail:2002", "forward_no_answer:  voicemail",
			"no_answer_seconds:  30", "dnd:                true", "voicemail:          true", "voicemail_ask_pin:  true", "language:           en"} {
			if !strings.Contains(show, line) {
				t.Errorf("ext show lacks %q:\n%s", line, show)
			}
		}
		rows := parseCSV(t, c.ok("ext", "show", "2002", "--tenant", "fjordvik", "-o", "csv"))
		if len(rows) != 1 || rows[0]["no_answer_seconds"] != "20" || rows[0]["language"] != "nb" || rows[0]["voicemail"] != "false" {
			t.Errorf("ext show -o csv shows the defaults as %v; want 20 seconds, nb, voicemail false", rows)
		}

		// Refusals name the flag and the fix.
		c.refused("--forward-busy", "ext", "update", "2001", "--tenant", "fjordvik", "--forward-busy", "resepsjonen")
		c.refused("--forward-always", "ext", "update", "2001", "--tenant", "fjordvik", "--forward-always", "2001")
		c.refused("--forward-no-answer", "ext", "update", "2001", "--tenant", "fjordvik", "--forward-no-answer", "voicemail:2999")
		c.refused("--no-answer-seconds", "ext", "update", "2001", "--tenant", "fjordvik", "--no-answer-seconds", "4")
		c.refused("--language", "ext", "update", "2001", "--tenant", "fjordvik", "--language", "de")
		c.refused("--forward-busy", "ext", "add", "2003", "--tenant", "fjordvik", "--name", "Per", "--forward-busy", "+")
		c.fail(exitUser, "ext", "update", "2001", "--tenant", "fjordvik", "--no-answer-seconds", "tjue")

		// Clearing: "" removes a forward, 0 restores the default time.
		e = parseJSON[provisioning.ExtensionView](t, c.ok("ext", "update", "2001", "--tenant", "fjordvik",
			"--forward-always", "", "--no-answer-seconds", "0", "--dnd=false", "--voicemail=false", "-o", "json"))
		if e.ForwardAlways != "" || e.NoAnswerSeconds != 0 || e.DND || e.Voicemail || e.ForwardBusy != "voicemail:2002" {
			t.Errorf("after clearing: %+v", e.Extension)
		}
	})
}

func TestExtForwardAndDND(t *testing.T) {
	onBothStores(t, func(t *testing.T, c *cli) {
		c.ok("ext", "add", "2001", "--tenant", "fjordvik", "--name", "Kari")
		c.ok("ext", "add", "2002", "--tenant", "fjordvik", "--name", "Ola")

		out := c.ok("ext", "forward", "2001", "--tenant", "fjordvik", "--busy", "voicemail")
		if !strings.Contains(out, "extension 2001 forwards calls when busy to voicemail") || !strings.Contains(out, "forward_busy:       voicemail") {
			t.Errorf("ext forward --busy printed:\n%s", out)
		}
		e := parseJSON[store.Extension](t, c.ok("ext", "forward", "2001", "--tenant", "fjordvik", "--no-answer", "2002", "--after", "15", "-o", "json"))
		if e.ForwardNoAnswer != "2002" || e.NoAnswerSeconds != 15 || e.ForwardBusy != "voicemail" {
			t.Errorf("ext forward --no-answer --after: %+v", e)
		}
		e = parseJSON[store.Extension](t, c.ok("ext", "forward", "2001", "--tenant", "fjordvik", "--always", "+4791234567", "-o", "json"))
		if e.ForwardAlways != "+4791234567" || e.NoAnswerSeconds != 15 {
			t.Errorf("ext forward --always: %+v", e)
		}
		rows := parseCSV(t, c.ok("ext", "forward", "2001", "--tenant", "fjordvik", "--off", "always", "-o", "csv"))
		if len(rows) != 1 || rows[0]["forward_always"] != "" || rows[0]["forward_busy"] != "voicemail" || rows[0]["no_answer_seconds"] != "15" {
			t.Errorf("ext forward --off always -o csv: %v", rows)
		}
		if out := c.ok("ext", "forward", "2001", "--tenant", "fjordvik", "--off", "all"); !strings.Contains(out, "every forward of extension 2001 removed") {
			t.Errorf("ext forward --off all printed:\n%s", out)
		}
		st := c.openStore()
		tn, err := st.Tenants().Find(context.Background(), 0, "fjordvik")
		if err != nil {
			t.Fatal(err)
		}
		stored, err := st.Extensions().Find(context.Background(), tn.ID, "2001")
		if err != nil || stored.ForwardAlways != "" || stored.ForwardBusy != "" || stored.ForwardNoAnswer != "" || stored.NoAnswerSeconds != 15 {
			t.Errorf("stored after --off all: %+v, %v", stored, err)
		}

		c.refused("--always|--busy|--no-answer|--off", "ext", "forward", "2001", "--tenant", "fjordvik")
		c.refused("--always and --busy", "ext", "forward", "2001", "--tenant", "fjordvik", "--always", "2002", "--busy", "2002")
		c.refused("--after", "ext", "forward", "2001", "--tenant", "fjordvik", "--busy", "2002", "--after", "10")
		c.refused("--after", "ext", "forward", "2001", "--tenant", "fjordvik", "--no-answer", "2002", "--after", "500")
		c.refused("--off", "ext", "forward", "2001", "--tenant", "fjordvik", "--off", "sometimes")
		c.refused("--busy", "ext", "forward", "2001", "--tenant", "fjordvik", "--busy", "voicemail:kari")
		c.refused("--no-answer", "ext", "forward", "2001", "--tenant", "fjordvik", "--no-answer", "2001")
		c.refused("NUMBER", "ext", "forward", "2999", "--tenant", "fjordvik", "--busy", "2002")
		c.refused("--tenant", "ext", "forward", "2001", "--busy", "2002")
		c.fail(exitUser, "ext", "forward", "--tenant", "fjordvik", "--busy", "2002")

		out = c.ok("ext", "dnd", "2001", "--tenant", "fjordvik", "on")
		if !strings.Contains(out, "do-not-disturb on for extension 2001") || !strings.Contains(out, "dnd:                true") {
			t.Errorf("ext dnd on printed:\n%s", out)
		}
		if e := parseJSON[store.Extension](t, c.ok("ext", "dnd", "2001", "--tenant", "fjordvik", "OFF", "-o", "json")); e.DND {
			t.Errorf("ext dnd OFF: %+v", e)
		}
		c.refused("on|off", "ext", "dnd", "2001", "--tenant", "fjordvik", "kanskje")
		c.fail(exitUser, "ext", "dnd", "2001", "--tenant", "fjordvik")
		c.refused("NUMBER", "ext", "dnd", "2999", "--tenant", "fjordvik", "on")
	})
}

func TestExtPIN(t *testing.T) {
	c := withTenant(t)
	c.ok("ext", "add", "2001", "--tenant", "fjordvik", "--name", "Kari")
	stored := func() store.Extension {
		t.Helper()
		st := c.openStore()
		tn, err := st.Tenants().Find(context.Background(), 0, "fjordvik")
		if err != nil {
			t.Fatal(err)
		}
		e, err := st.Extensions().Find(context.Background(), tn.ID, "2001")
		if err != nil {
			t.Fatal(err)
		}
		return e
	}

	if out := c.ok("ext", "pin", "2001", "--tenant", "fjordvik", "--pin", "2580"); !strings.Contains(out, "new voicemail PIN set for extension 2001") {
		t.Errorf("ext pin --pin printed:\n%s", out)
	}
	if e := stored(); !voicemail.VerifyPIN(e.VoicemailPIN, "2580") {
		t.Errorf("stored PIN hash %q does not verify 2580", e.VoicemailPIN)
	}
	out := c.ok("ext", "pin", "2001", "--tenant", "fjordvik", "--generate")
	m := regexp.MustCompile(`generated voicemail PIN for extension 2001: (\d+)\n`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("ext pin --generate printed:\n%s", out)
	}
	if e := stored(); !voicemail.VerifyPIN(e.VoicemailPIN, m[1]) || strings.Contains(e.VoicemailPIN, m[1]) {
		t.Errorf("stored PIN hash %q: want the hash of the generated %s", e.VoicemailPIN, m[1])
	}
	rows := parseCSV(t, c.ok("ext", "pin", "2001", "--tenant", "fjordvik", "--generate", "-o", "csv"))
	if len(rows) != 1 || len(rows[0]["generated_pin"]) != 6 || rows[0]["voicemail_pin"] != "true" {
		t.Errorf("ext pin --generate -o csv: %v", rows)
	}
	if out, errs, code := c.runIn("7913\n", "ext", "pin", "2001", "--tenant", "fjordvik", "--pin-stdin"); code != exitOK || !strings.Contains(out, "new voicemail PIN") {
		t.Errorf("ext pin --pin-stdin: exit %d\n%s%s", code, out, errs)
	}
	if e := stored(); !voicemail.VerifyPIN(e.VoicemailPIN, "7913") {
		t.Errorf("PIN from stdin not stored")
	}
	c.refused("--pin", "ext", "pin", "2001", "--tenant", "fjordvik", "--pin", "1234")
	c.refused("--pin", "ext", "pin", "2001", "--tenant", "fjordvik", "--pin", "")
	if errs := c.fail(exitUser, "ext", "pin", "2001", "--tenant", "fjordvik", "--pin", "2580", "--generate"); !strings.Contains(errs, "fix:") {
		t.Errorf("--pin with --generate: %s", errs)
	}
	if errs := c.fail(exitUser, "ext", "pin", "2001", "--tenant", "fjordvik"); !strings.Contains(errs, "--pin-stdin") {
		t.Errorf("ext pin without a terminal: %s", errs)
	}
	if _, errs, code := c.runIn("", "ext", "pin", "2001", "--tenant", "fjordvik", "--pin-stdin"); code != exitUser || !strings.Contains(errs, "--pin-stdin") || !strings.Contains(errs, "fix:") {
		t.Errorf("ext pin --pin-stdin with empty stdin: exit %d: %s", code, errs)
	}
	if e := stored(); !voicemail.VerifyPIN(e.VoicemailPIN, "7913") {
		t.Errorf("a refused PIN changed the stored one")
	}
	if out := c.ok("ext", "pin", "2001", "--tenant", "fjordvik", "--clear"); !strings.Contains(out, "voicemail PIN of extension 2001 removed") {
		t.Errorf("ext pin --clear printed:\n%s", out)
	}
	if e := stored(); e.VoicemailPIN != "" {
		t.Errorf("PIN after --clear: %q", e.VoicemailPIN)
	}
}

func TestGroupStrategyAndOverflow(t *testing.T) {
	c := withTenant(t)
	for _, n := range []string{"2001", "2002"} {
		c.ok("ext", "add", n, "--tenant", "fjordvik", "--name", "Ext "+n)
	}
	g := parseJSON[provisioning.GroupView](t, c.ok("group", "add", "2900", "--tenant", "fjordvik", "--name", "Sentralbord",
		"--member", "2001", "--member", "2002", "--strategy", "hunt", "--ring-seconds", "15", "--overflow", "voicemail:2002", "-o", "json"))
	if g.Strategy != store.GroupHunt || g.RingSeconds != 15 || g.Overflow != "voicemail:2002" {
		t.Errorf("group add: %+v", g)
	}
	show := c.ok("group", "show", "2900", "--tenant", "fjordvik")
	if !strings.Contains(show, "overflow:      voicemail:2002") || !strings.Contains(show, "strategy:      hunt") {
		t.Errorf("group show:\n%s", show)
	}
	g = parseJSON[provisioning.GroupView](t, c.ok("group", "update", "2900", "--tenant", "fjordvik", "--strategy", "simultaneous", "-o", "json"))
	if g.Strategy != store.GroupSimultaneous || g.Overflow != "voicemail:2002" || g.RingSeconds != 15 {
		t.Errorf("group update --strategy kept the rest? %+v", g)
	}
	g = parseJSON[provisioning.GroupView](t, c.ok("group", "update", "2900", "--tenant", "fjordvik", "--overflow", "+4791234567", "-o", "json"))
	if g.Overflow != "+4791234567" {
		t.Errorf("group update --overflow: %+v", g)
	}
	c.refused("--overflow", "group", "update", "2900", "--tenant", "fjordvik", "--overflow", "voicemail")
	c.refused("--overflow", "group", "update", "2900", "--tenant", "fjordvik", "--overflow", "2900")
	c.refused("--overflow", "group", "update", "2900", "--tenant", "fjordvik", "--overflow", "voicemail:2999")
	c.refused("--strategy", "group", "update", "2900", "--tenant", "fjordvik", "--strategy", "random")
	c.refused("--ring-seconds", "group", "update", "2900", "--tenant", "fjordvik", "--ring-seconds", "2")
	if g := parseJSON[provisioning.GroupView](t, c.ok("group", "update", "2900", "--tenant", "fjordvik", "--overflow", "", "-o", "json")); g.Overflow != "" {
		t.Errorf("group update --overflow \"\": %+v", g)
	}
}

func TestImportTurnsVoicemailOn(t *testing.T) {
	c := withTenant(t)
	c.ok("import", "extensions", writeCSV(t, "number,name\n2001,Kari\n"), "--tenant", "fjordvik")
	if e := parseJSON[provisioning.ExtensionView](t, c.ok("ext", "show", "2001", "--tenant", "fjordvik", "-o", "json")); !e.Voicemail {
		t.Errorf("imported extension: voicemail off, want on")
	}
}

func TestVoicemailList(t *testing.T) {
	c := withTenant(t)
	c.ok("tenant", "add", "bergvik", "--domain", "sip.bergvik.no", "--ext-range", "3000-3999")
	ctx := context.Background()
	st := c.openStore()
	fj, err := st.Tenants().Find(ctx, 0, "fjordvik")
	if err != nil {
		t.Fatal(err)
	}
	bv, err := st.Tenants().Find(ctx, 0, "bergvik")
	if err != nil {
		t.Fatal(err)
	}
	// 09:00 UTC on 10 November is 10:00 in Oslo.
	at := time.Date(2026, 11, 10, 9, 0, 0, 0, time.UTC)
	for i, m := range []store.VoicemailMessage{
		{TenantID: fj.ID, Mailbox: "2002", CallerNumber: "+4791234567", CallerName: "Kari", ReceivedAt: at, DurationMillis: 12400, Urgent: true},
		{TenantID: fj.ID, Mailbox: "2001", CallerNumber: "2002", ReceivedAt: at.Add(time.Hour), DurationMillis: 3000, Folder: store.VoicemailSaved},
		{TenantID: fj.ID, Mailbox: "2001", ReceivedAt: at, DurationMillis: 5000},
		// A mailbox whose extension is gone keeps its messages.
		{TenantID: fj.ID, Mailbox: "20", ReceivedAt: at, DurationMillis: 1000},
		{TenantID: bv.ID, Mailbox: "3001", ReceivedAt: at, DurationMillis: 1000},
	} {
		m.Path = fmt.Sprintf("%d/%s/msg%d.wav", m.TenantID, m.Mailbox, i)
		if _, err := st.Voicemail().Add(ctx, m); err != nil {
			t.Fatal(err)
		}
	}

	all := parseJSON[[]store.VoicemailMessage](t, c.ok("voicemail", "list", "--tenant", "fjordvik", "-o", "json"))
	var got []string
	for _, m := range all {
		got = append(got, m.Mailbox+"/"+string(m.Folder))
	}
	if strings.Join(got, " ") != "20/new 2001/new 2001/saved 2002/new" {
		t.Errorf("voicemail list -o json: %v; want by mailbox, oldest first, other tenants left out", got)
	}
	table := c.ok("voicemail", "list", "--tenant", "fjordvik", "--mailbox", "2002")
	if !strings.Contains(table, "2026-11-10 10:00:00") || !strings.Contains(table, "+4791234567") || !strings.Contains(table, "Kari") ||
		!strings.Contains(table, "12") || strings.Contains(table, "2001") {
		t.Errorf("voicemail list --mailbox 2002:\n%s", table)
	}
	rows := parseCSV(t, c.ok("voicemail", "list", "--tenant", "fjordvik", "--mailbox", "2001", "--folder", "saved", "-o", "csv", "--tz", "UTC"))
	if len(rows) != 1 || rows[0]["received_at"] != "2026-11-10T10:00:00Z" || rows[0]["folder"] != "saved" || rows[0]["path"] == "" || rows[0]["duration_millis"] != "3000" {
		t.Errorf("voicemail list --folder saved -o csv: %v", rows)
	}
	if none := parseJSON[[]store.VoicemailMessage](t, c.ok("voicemail", "list", "--tenant", "fjordvik", "--mailbox", "2999", "-o", "json")); len(none) != 0 {
		t.Errorf("empty mailbox: %v", none)
	}
	c.refused("--folder", "voicemail", "list", "--tenant", "fjordvik", "--folder", "old")
	c.refused("--mailbox", "voicemail", "list", "--tenant", "fjordvik", "--mailbox", "kari")
	c.refused("--tenant", "voicemail", "list")
	c.refused("--tz", "voicemail", "list", "--tenant", "fjordvik", "--tz", "Mars/Olympus")
	c.fail(exitUser, "voicemail", "list", "2001", "--tenant", "fjordvik")
}
