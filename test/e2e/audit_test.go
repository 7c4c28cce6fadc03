package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestAuditLog: the real binary records a CLI provisioning command (actor
// cli:<user>, source local), a failed and a successful console login and
// an operator action (actor operator:kari, source the client's
// 127.0.0.1:port), and `sentral audit list --output json` shows them.
// SQLite only.
func TestAuditLog(t *testing.T) {
	p := startSwitchboard(t, "")
	p.addOperator(t, "kari", "Kari Nordmann", "2001")
	p.synced()

	// A wrong password, then the right one, then an action.
	b, _ := json.Marshal(map[string]string{"username": "kari", "password": "feil-passord-123"})
	res, err := http.Post(p.console+"/console/api/login", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", res.StatusCode)
	}
	c := p.login(t, "kari")
	c.mustPost("available", map[string]bool{"available": true})

	type entry struct {
		Actor, Role, Action, Target, Source, Detail, Outcome string
		TenantID                                             int64 `json:"tenant_id"`
	}
	var es []entry
	find := func(actor, action, outcome string) *entry {
		for i := range es {
			if es[i].Actor == actor && es[i].Action == action && es[i].Outcome == outcome {
				return &es[i]
			}
		}
		return nil
	}
	// The server writes console entries in the background: give it a moment.
	p.waitFor("the console's entries in the audit log", func() bool {
		out := p.mustCLI("audit", "list", "--output", "json")
		es = nil
		if err := json.Unmarshal([]byte(out), &es); err != nil {
			t.Fatalf("audit list json: %v\n%s", err, out)
		}
		return find("operator:kari", "operator.available", "ok") != nil
	})

	var cliActor string
	for _, e := range es {
		if strings.HasPrefix(e.Actor, "cli:") {
			cliActor = e.Actor
		}
		if strings.Contains(e.Detail, "feil-passord") || strings.Contains(e.Detail, sbPassword) || strings.Contains(e.Detail, e2ePassword) {
			t.Errorf("a password is in the audit log: %+v", e)
		}
	}
	for _, w := range []struct{ actor, action, outcome, source string }{
		{cliActor, "tenant.create", "ok", "local"},
		{cliActor, "extension.create", "ok", "local"},
		{cliActor, "operator.create", "ok", "local"},
		{"operator:kari", "operator.login_failed", "denied", "127.0.0.1:"},
		{"operator:kari", "operator.login", "ok", "127.0.0.1:"},
		{"operator:kari", "operator.available", "ok", "127.0.0.1:"},
	} {
		e := find(w.actor, w.action, w.outcome)
		switch {
		case e == nil:
			t.Errorf("no %s %s by %q in the audit log: %+v", w.action, w.outcome, w.actor, es)
		case !strings.HasPrefix(e.Source, w.source) || e.Source == "127.0.0.1:":
			t.Errorf("%s: source %q, want %s…", w.action, e.Source, w.source)
		case e.TenantID == 0:
			t.Errorf("%s: no tenant", w.action)
		}
	}
	if cliActor == "" || cliActor == "cli:" {
		t.Errorf("no CLI entries with a user: %+v", es)
	}

	// The filters of the CLI.
	out := p.mustCLI("audit", "list", "--tenant", sbTenant, "--action", "operator.login", "--since", "1h")
	if !strings.Contains(out, "operator.login_failed") || strings.Contains(out, "extension.create") {
		t.Errorf("filtered table:\n%s", out)
	}
}
