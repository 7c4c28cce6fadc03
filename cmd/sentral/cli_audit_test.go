package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sentralpbx/sentral/store"
	"github.com/sentralpbx/sentral/store/backend"
)

// TestAuditCLI: admin commands that change something are recorded (never
// their secrets), reads are not, and audit list filters and formats them.
func TestAuditCLI(t *testing.T) {
	c := newCLI(t)
	c.ok("tenant", "add", "fjordvik", "--domain", "fjordvik.test", "--ext-range", "2000-2999")
	c.ok("ext", "add", "--tenant", "fjordvik", "2001", "--name", "Kari Nordmann", "--password", "Fjell-Grus-8461x")
	c.ok("ext", "list", "--tenant", "fjordvik")
	c.fail(exitUser, "ext", "add", "--tenant", "fjordvik", "9999", "--name", "Utenfor")

	// Entries an operator's console wrote, straight into the store.
	ctx := context.Background()
	st, err := backend.Open(ctx, c.db, backend.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tn, err := st.Tenants().Find(ctx, 0, "fjordvik")
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().UTC().Add(-48 * time.Hour)
	for _, e := range []store.AuditEntry{
		{At: old, TenantID: tn.ID, Actor: "operator:kari", Role: "operator", Action: "operator.login_failed", Target: "kari",
			Source: "192.0.2.7:40000", Outcome: "denied", Detail: `{"reason":"wrong password"}`},
		{TenantID: tn.ID, Actor: "operator:kari", Role: "operator", Action: "call.transfer", Target: "c1",
			Source: "192.0.2.7:40000", Outcome: "ok", Detail: `{"to":"2002"}`},
	} {
		if err := st.Audit().Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()

	var all []store.AuditEntry
	out := c.ok("audit", "list", "--output", "json")
	if err := json.Unmarshal([]byte(out), &all); err != nil {
		t.Fatalf("json: %v\n%s", err, out)
	}
	var actions []string
	for _, e := range all {
		actions = append(actions, e.Action+"/"+e.Outcome)
		if strings.Contains(e.Detail, "Grus-8461") {
			t.Errorf("a password is in the audit log: %+v", e)
		}
		if strings.HasPrefix(e.Actor, "cli:") && (e.Source != "local" || e.Role != "admin") {
			t.Errorf("CLI entry %+v: want source local, role admin", e)
		}
	}
	// Newest first; the read (ext list) and audit list itself are not recorded.
	if got := strings.Join(actions, " "); got != "call.transfer/ok extension.create/error extension.create/ok tenant.create/ok operator.login_failed/denied" {
		t.Errorf("actions = %s", got)
	}
	if len(all) == 5 {
		add := all[2]
		if add.TenantID != tn.ID || add.Target != "tenant fjordvik 2001" || !strings.Contains(add.Detail, `"password":"(set)"`) ||
			!strings.Contains(add.Detail, `"name":"Kari Nordmann"`) {
			t.Errorf("ext add entry %+v", add)
		}
		if !strings.Contains(all[1].Detail, `"error"`) {
			t.Errorf("failed ext add entry has no error: %+v", all[1])
		}
	}

	table := c.ok("audit", "list", "--tenant", "fjordvik", "--action", "operator.", "--since", "7d")
	if !strings.Contains(table, "operator.login_failed") || !strings.Contains(table, "192.0.2.7:40000") || !strings.Contains(table, "fjordvik") ||
		strings.Contains(table, "call.transfer") {
		t.Errorf("filtered table:\n%s", table)
	}
	if out := c.ok("audit", "list", "--since", "24h", "--actor", "operator:kari", "-o", "csv"); !strings.HasPrefix(out, "id,at,tenant_id,actor,role,action,target,source,detail,outcome\n") ||
		strings.Count(out, "\n") != 2 || !strings.Contains(out, "call.transfer") {
		t.Errorf("csv since 24h:\n%s", out)
	}
	if out := c.ok("audit", "list", "--limit", "1", "-o", "json"); strings.Count(out, `"action"`) != 1 || !strings.Contains(out, "call.transfer") {
		t.Errorf("limit 1: %s", out)
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--since", "yesterday"}, "--since"},
		{[]string{"--since", "2026-12-02", "--until", "2026-12-01"}, "--until"},
		{[]string{"--limit", "-1"}, "--limit"},
		{[]string{"--tenant", "nowhere"}, "--tenant"},
		{[]string{"--tz", "Mars/Olympus"}, "--tz"},
		{[]string{"--output", "xml"}, "--output"},
	} {
		errs := c.fail(exitUser, append([]string{"audit", "list"}, tt.args...)...)
		if !strings.Contains(errs, tt.want) {
			t.Errorf("audit list %v: %s, want the error to name %s", tt.args, errs, tt.want)
		}
	}
}

func TestCLIAction(t *testing.T) {
	for _, tt := range []struct {
		path string
		want string
	}{
		{"ext add", "extension.create"},
		{"ext remove", "extension.delete"},
		{"ext passwd", "extension.passwd"},
		{"operator unlock", "operator.unlock"},
		{"dect handset update", "dect-handset.update"},
		{"import extensions", "extension.import"},
		{"switchboard set", "switchboard.set"},
		{"restore", "restore"},
	} {
		if got := cliAction(strings.Fields(tt.path)); got != tt.want {
			t.Errorf("cliAction(%s) = %s, want %s", tt.path, got, tt.want)
		}
	}
}

func TestAuditRetentionConfig(t *testing.T) {
	if cfg := DefaultConfig(); cfg.Audit.RetentionDays != 400 || cfg.Audit.Retention() != 400*24*time.Hour {
		t.Errorf("default retention %+v", cfg.Audit)
	}
	for _, v := range []string{"-1", "99999"} {
		_, err := LoadConfig("", []string{"SENTRAL_AUDIT_RETENTION_DAYS=" + v})
		if err == nil || !strings.Contains(err.Error(), "audit.retention_days") || !strings.Contains(err.Error(), "use 0") {
			t.Errorf("retention %s: %v, want a refusal naming audit.retention_days and the fix", v, err)
		}
	}
	if cfg, err := LoadConfig("", []string{"SENTRAL_AUDIT_RETENTION_DAYS=0"}); err != nil || cfg.Audit.Retention() != 0 {
		t.Errorf("retention 0 (forever): %+v, %v", cfg.Audit, err)
	}
}
