package store

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// This file holds the audit log: who did what to which target, when, from
// where and how it went, for every admin and operator action.

// EntityAudit names audit log entries in FieldErrors. Like call records
// they are kept outside the change log and outlive the tenant they name.
const EntityAudit Entity = "audit entry"

// Audit roles: who acted, as the audit log classifies it.
const (
	AuditRoleAdmin    = "admin"    // an admin: the CLI, the admin API, a console admin
	AuditRoleOperator = "operator" // a switchboard operator in the console
	AuditRoleSystem   = "system"   // the server itself (a lock-out, a purge)
)

// Audit outcomes.
const (
	AuditOK     = "ok"     // the action was carried out
	AuditDenied = "denied" // refused: wrong credentials, no permission, locked, throttled
	AuditError  = "error"  // attempted and failed (bad input, a conflict, a server fault)
)

// Bounds of audit entry fields. Longer Target and Detail values are cut
// (with "…") rather than refused: an audit record must not be lost to a
// long argument.
const (
	MaxAuditField  = 200  // actor, action, source
	MaxAuditTarget = 500  // target
	MaxAuditDetail = 4000 // detail
)

// AuditEntry is one record of the audit log. TenantID 0 means the action
// concerns no single tenant (stored as NULL). At is UTC with microsecond
// precision; a zero At is set to the time of Append. Detail is a small
// JSON object or free text: it must never hold a password, PIN, token or
// other secret.
type AuditEntry struct {
	ID       int64     `json:"id"`
	At       time.Time `json:"at"`
	TenantID int64     `json:"tenant_id,omitempty"`
	Actor    string    `json:"actor"`  // "admin-api", "operator:kari", "cli:root"
	Role     string    `json:"role"`   // AuditRoleAdmin, AuditRoleOperator or AuditRoleSystem
	Action   string    `json:"action"` // "extension.create", "operator.login_failed", "call.transfer"
	Target   string    `json:"target"` // what it was done to: a resource path, a username, a call id
	Source   string    `json:"source"` // the client's ip:port, or "local"
	Detail   string    `json:"detail,omitempty"`
	Outcome  string    `json:"outcome"` // AuditOK, AuditDenied or AuditError
}

// AuditFilter narrows AuditStore.List. Zero values do not filter.
type AuditFilter struct {
	TenantID int64
	Actor    string    // exactly this actor
	Action   string    // actions starting with this ("operator." for all logins and lock-outs)
	Since    time.Time // at or after Since
	Until    time.Time // before Until
	Limit    int       // at most this many (the newest); 0: all
}

// AuditStore persists the audit log. Like CDRStore its writes take no
// store-wide write lock and append nothing to the change log; every
// method is safe for concurrent callers on any number of handles and
// joins the transaction of a Store given by InTx. Entries are never
// changed, and deleted only by Purge.
type AuditStore interface {
	// Append stores one entry (e.ID is ignored). Actor and Action are
	// required, Role and Outcome must be one of their constants; a
	// refusal is a *FieldError of kind ErrInvalid on EntityAudit.
	Append(ctx context.Context, e AuditEntry) error
	// List returns the entries matching f, newest first (then by id,
	// descending).
	List(ctx context.Context, f AuditFilter) ([]AuditEntry, error)
	// Purge deletes the entries older than before and returns how many
	// it deleted (retention: audit.retention_days).
	Purge(ctx context.Context, before time.Time) (int, error)
}

// CheckAuditEntry checks an entry's fields and cuts an over-long Target
// or Detail to its bound; both back ends call it in Append.
func CheckAuditEntry(e *AuditEntry) error {
	refuse := func(field, value, format string, args ...any) error {
		return &FieldError{Entity: EntityAudit, Field: field, Value: value, Kind: ErrInvalid, Reason: fmt.Sprintf(format, args...)}
	}
	for _, f := range []struct{ name, v string }{{"actor", e.Actor}, {"action", e.Action}} {
		if strings.TrimSpace(f.v) == "" {
			return refuse(f.name, "", "an audit entry needs its %s", f.name)
		}
	}
	for _, f := range []struct{ name, v string }{{"actor", e.Actor}, {"action", e.Action}, {"source", e.Source}} {
		if len(f.v) > MaxAuditField {
			return refuse(f.name, cut(f.v, 40), "must be at most %d bytes", MaxAuditField)
		}
	}
	switch e.Role {
	case AuditRoleAdmin, AuditRoleOperator, AuditRoleSystem:
	default:
		return refuse("role", e.Role, "must be admin, operator or system")
	}
	switch e.Outcome {
	case AuditOK, AuditDenied, AuditError:
	default:
		return refuse("outcome", e.Outcome, "must be ok, denied or error")
	}
	if e.TenantID < 0 {
		return refuse("tenant_id", fmt.Sprint(e.TenantID), "must be a tenant's id, or 0 for none")
	}
	e.Target = cut(e.Target, MaxAuditTarget)
	e.Detail = cut(e.Detail, MaxAuditDetail)
	return nil
}

// cut shortens s to at most n bytes on a rune boundary, marking the cut.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "…"
	s = s[:n-len(mark)]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + mark
}
