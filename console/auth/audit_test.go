package auth

import (
	"net/http"
	"strings"
	"testing"

	"github.com/sentralpbx/sentral/audit"
	"github.com/sentralpbx/sentral/store"
)

type recorder = audit.Memory

// TestAuditLogins: logins ok and failed (with the name tried, never the
// password), lock-outs and logouts reach the audit log with the client's
// ip:port.
func TestAuditLogins(t *testing.T) {
	rec := &recorder{}
	e := newEnv(t, Options{Audit: rec})
	check := func(what string, got store.AuditEntry, action, actor, role, outcome, reason string, tenant int64) {
		t.Helper()
		if got.Action != action || got.Actor != actor || got.Role != role || got.Outcome != outcome || got.TenantID != tenant ||
			!strings.Contains(got.Detail, reason) || !strings.HasPrefix(got.Source, "127.0.0.1:") || got.Source == "127.0.0.1:" {
			t.Errorf("%s: %+v; want %s by %s (%s) %s %q tenant %d from 127.0.0.1:port", what, got, action, actor, role, outcome, reason, tenant)
		}
		if strings.Contains(got.Detail, "passord") || strings.Contains(got.Target, "passord") {
			t.Errorf("%s: the password is in the audit entry: %+v", what, got)
		}
	}

	if a := e.login("Kari", "feil-passord"); a.status != http.StatusUnauthorized {
		t.Fatalf("wrong password: %s", a)
	}
	if a := e.login("nobody", "feil-passord"); a.status != http.StatusUnauthorized {
		t.Fatalf("unknown user: %s", a)
	}
	es := rec.Take()
	if len(es) != 2 {
		t.Fatalf("recorded %+v, want 2 failed logins", es)
	}
	check("wrong password", es[0], "operator.login_failed", "operator:kari", "operator", "denied", "wrong password", e.kari.TenantID)
	check("unknown user", es[1], "operator.login_failed", "operator:nobody", "operator", "denied", "unknown username", 0)
	if es[0].Target != "kari" || es[1].Target != "nobody" {
		t.Errorf("targets %q, %q; want the names tried", es[0].Target, es[1].Target)
	}

	token, csrf := e.session()
	es = rec.Take()
	if len(es) != 1 {
		t.Fatalf("recorded %+v, want 1 login", es)
	}
	check("login", es[0], "operator.login", "operator:kari", "operator", "ok", "", e.kari.TenantID)

	if a := e.do("POST", LogoutPath, "", token, csrf); a.status != http.StatusNoContent {
		t.Fatalf("logout: %s", a)
	}
	es = rec.Take()
	if len(es) != 1 {
		t.Fatalf("recorded %+v, want 1 logout", es)
	}
	check("logout", es[0], "operator.logout", "operator:kari", "operator", "ok", "", e.kari.TenantID)

	// Five failures lock the account: the fifth is followed by the lock-out.
	for i := 0; i < 5; i++ {
		e.login("kari", "feil-passord")
	}
	es = rec.Take()
	if len(es) != 6 {
		t.Fatalf("recorded %d entries, want 5 failures and a lock-out: %+v", len(es), es)
	}
	check("lock-out", es[5], "operator.lockout", "system", "system", "ok", "too many failed logins", e.kari.TenantID)
	if es[5].Target != "kari" {
		t.Errorf("lock-out target %q", es[5].Target)
	}
	// A login while locked is denied and recorded as such.
	if a := e.login("kari", password); a.status != http.StatusLocked {
		t.Fatalf("locked login: %s", a)
	}
	es = rec.Take()
	if len(es) != 1 {
		t.Fatalf("recorded %+v, want 1 refused login", es)
	}
	check("locked", es[0], "operator.login_failed", "operator:kari", "operator", "denied", "account locked", e.kari.TenantID)
}
