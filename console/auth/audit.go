package auth

import (
	"context"
	"net/http"
	"time"

	"github.com/sentralpbx/sentral/audit"
	"github.com/sentralpbx/sentral/store"
)

// Recorder takes audit entries (*audit.Recorder).
type Recorder interface {
	Record(e store.AuditEntry)
}

// srcKey carries the client's ip:port from the login endpoint to Login,
// whose addr argument is only the host (the throttling key).
type srcKey struct{}

// auditSource is where a login came from: the ip:port the endpoint put
// in ctx, else the address given to Login.
func auditSource(ctx context.Context, addr string) string {
	if s, ok := ctx.Value(srcKey{}).(string); ok && s != "" {
		return s
	}
	return addr
}

// auditSourceOf is a request's source: ClientAddr's answer behind a
// proxy, else the connection's ip:port.
func (a *Auth) auditSourceOf(r *http.Request) string {
	if a.opt.ClientAddr != nil {
		return a.opt.ClientAddr(r)
	}
	return r.RemoteAddr
}

// recordLogin records a login attempt of name: "operator.login" when it
// succeeded, "operator.login_failed" otherwise, with the reason. o is the
// account when the name has one. Never the password.
func (a *Auth) recordLogin(src, name string, o store.Operator, outcome, reason string) {
	if a.opt.Audit == nil {
		return
	}
	e := store.AuditEntry{Actor: audit.Operator(name), Role: store.AuditRoleOperator, Action: "operator.login",
		Target: name, Source: src, Outcome: outcome, TenantID: o.TenantID}
	if o.Role != "" {
		e.Role = string(o.Role)
	}
	if outcome != store.AuditOK {
		e.Action, e.Detail = "operator.login_failed", audit.Detail("reason", reason)
	}
	a.opt.Audit.Record(e)
}

// recordLockout records that the server locked name (tenantID 0 for a
// name no account has) until until.
func (a *Auth) recordLockout(src, name string, tenantID int64, until time.Time) {
	if a.opt.Audit == nil {
		return
	}
	a.opt.Audit.Record(store.AuditEntry{Actor: "system", Role: store.AuditRoleSystem, Action: "operator.lockout",
		Target: name, Source: src, TenantID: tenantID, Outcome: store.AuditOK,
		Detail: audit.Detail("until", until.UTC().Format(time.RFC3339), "reason", "too many failed logins")})
}

// recordLogout records that u logged out.
func (a *Auth) recordLogout(src string, u User) {
	if a.opt.Audit == nil {
		return
	}
	a.opt.Audit.Record(store.AuditEntry{Actor: audit.Operator(u.Username), Role: string(u.Role), Action: "operator.logout",
		Target: u.Username, Source: src, TenantID: u.TenantID, Outcome: store.AuditOK})
}
