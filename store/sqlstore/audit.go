package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sentralpbx/sentral/store"
)

// Audit returns the audit log store. On a store bound to a transaction
// (inside InTx) its operations join that transaction.
func (s *Store) Audit() store.AuditStore { return auditStore{s} }

// auditStore implements store.AuditStore. Entries are only appended
// (single INSERTs) and purged, so writers need no lock.
type auditStore struct{ s *Store }

const auditCols = "id, at, tenant_id, actor, role, action, target, source, detail, outcome"

// Append stores one entry.
func (a auditStore) Append(ctx context.Context, e store.AuditEntry) error {
	if err := store.CheckAuditEntry(&e); err != nil {
		return err
	}
	at := now()
	if !e.At.IsZero() {
		at = dbTime(e.At)
	}
	var tenant sql.NullInt64
	if e.TenantID != 0 {
		tenant = sql.NullInt64{Int64: e.TenantID, Valid: true}
	}
	_, err := a.s.q().ExecContext(ctx,
		`INSERT INTO audit_log (at, tenant_id, actor, role, action, target, source, detail, outcome)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		at, tenant, e.Actor, e.Role, e.Action, e.Target, e.Source, e.Detail, e.Outcome)
	if err != nil {
		return fmt.Errorf("append audit entry %s by %s: %w", e.Action, e.Actor, a.s.classify(err))
	}
	return nil
}

// List returns the matching entries, newest first.
func (a auditStore) List(ctx context.Context, f store.AuditFilter) ([]store.AuditEntry, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.TenantID != 0 {
		where = append(where, "tenant_id = "+arg(f.TenantID))
	}
	if f.Actor != "" {
		where = append(where, "actor = "+arg(f.Actor))
	}
	if f.Action != "" {
		// substr counts characters in both back ends; LIKE would need
		// its wildcards escaped.
		where = append(where, "substr(action, 1, "+arg(utf8.RuneCountInString(f.Action))+") = "+arg(f.Action))
	}
	if !f.Since.IsZero() {
		where = append(where, "at >= "+arg(dbTime(f.Since)))
	}
	if !f.Until.IsZero() {
		where = append(where, "at < "+arg(dbTime(f.Until)))
	}
	q := "SELECT " + auditCols + " FROM audit_log"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY at DESC, id DESC"
	if f.Limit > 0 {
		q += " LIMIT " + arg(f.Limit)
	}
	rows, err := a.s.q().QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list audit log: %w", err)
	}
	defer rows.Close()
	var out []store.AuditEntry
	for rows.Next() {
		var e store.AuditEntry
		var tenant sql.NullInt64
		if err := rows.Scan(&e.ID, &e.At, &tenant, &e.Actor, &e.Role, &e.Action, &e.Target, &e.Source, &e.Detail, &e.Outcome); err != nil {
			return nil, fmt.Errorf("list audit log: %w", err)
		}
		e.At, e.TenantID = e.At.UTC(), tenant.Int64
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list audit log: %w", err)
	}
	return out, nil
}

// Purge deletes the entries older than before.
func (a auditStore) Purge(ctx context.Context, before time.Time) (int, error) {
	res, err := a.s.q().ExecContext(ctx, "DELETE FROM audit_log WHERE at < $1", dbTime(before))
	if err != nil {
		return 0, fmt.Errorf("purge audit log: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}
