package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sentralpbx/sentral/store"
)

// Bindings returns the registration store. On a store bound to a
// transaction (inside InTx) its operations join that transaction.
func (s *Store) Bindings() store.BindingStore { return bindingStore{s} }

// bindingStore implements store.BindingStore. Its writes deliberately skip
// Store.write: no dialect write lock (the admin lock would serialize every
// batch of registrations behind admin imports, and no invariant spans
// rows) and no change row. SQLite still serializes writers through
// BEGIN IMMEDIATE and busy_timeout; PostgreSQL needs nothing more than the
// upsert's row locks.
type bindingStore struct{ s *Store }

const bindingCols = "tenant_id, number, key, contact, instance, reg_id, q, expires, call_id, cseq, " +
	"user_agent, source, transport, flow, path, node, updated_at"

// bindingUpsert is the conflict clause of Save's multi-row INSERT.
var bindingUpsert = func() string {
	var sets []string
	for _, c := range strings.Split(bindingCols, ", ")[3:] { // all but the primary key
		sets = append(sets, c+" = excluded."+c)
	}
	return " ON CONFLICT (tenant_id, number, key) DO UPDATE SET " + strings.Join(sets, ", ")
}()

// saveChunk is the rows per INSERT of Save. A round trip per row would
// cap PostgreSQL at a few thousand bindings a second; very long
// statements are no better, because SQLite (modernc) resolves each $n
// parameter by a linear search, which is quadratic in the statement's
// parameters. Sixteen rows (272 parameters), prepared once per Save and
// reused, is fast on both.
const saveChunk = 16

// existsChunk is the numbers per existence query of Save.
const existsChunk = 200

// bindingColCount is the number of columns Save writes.
var bindingColCount = len(strings.Split(bindingCols, ", "))

// insertBindingsSQL is the upsert of n bindings.
func insertBindingsSQL(n int) string {
	var q strings.Builder
	q.WriteString("INSERT INTO bindings (" + bindingCols + ") VALUES ")
	p := 0
	for i := range n {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteByte('(')
		for j := range bindingColCount {
			if j > 0 {
				q.WriteString(", ")
			}
			p++
			q.WriteString("$" + strconv.Itoa(p))
		}
		q.WriteByte(')')
	}
	q.WriteString(bindingUpsert)
	return q.String()
}

// inTx runs fn in the store's current transaction, or in a new one that is
// committed when fn succeeds.
func (b bindingStore) inTx(ctx context.Context, what string, fn func(tx *sql.Tx) error) error {
	if b.s.tx != nil {
		return fn(b.s.tx.tx)
	}
	tx, err := b.s.sh.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: begin transaction: %w", what, err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: commit: %w", what, err)
	}
	return nil
}

// Save upserts bs in one transaction, skipping bindings whose extension
// does not exist.
func (b bindingStore) Save(ctx context.Context, bs []store.Binding) error {
	if len(bs) == 0 {
		return nil
	}
	rows := dedupBindings(bs)
	ts := now()
	return b.inTx(ctx, "save bindings", func(tx *sql.Tx) error {
		// The foreign key would fail the whole batch for one binding
		// written behind its extension's deletion, and again on every
		// retry; filtering first drops just that binding. (A deletion
		// racing this very transaction still fails it once; the next
		// attempt filters.)
		exists, err := existingAORs(ctx, tx, rows)
		if err != nil {
			return err
		}
		rows = slices.DeleteFunc(rows, func(v store.Binding) bool { return !exists[aor{v.TenantID, v.Number}] })
		var full *sql.Stmt // the saveChunk-row statement, prepared on first use
		defer func() {
			if full != nil {
				full.Close()
			}
		}()
		args := make([]any, 0, saveChunk*bindingColCount)
		for len(rows) > 0 {
			n := min(len(rows), saveChunk)
			args = args[:0]
			for _, v := range rows[:n] {
				path, err := json.Marshal(nonNil(v.Path))
				if err != nil {
					return fmt.Errorf("save binding %s@%d: encode path: %w", v.Number, v.TenantID, err)
				}
				upd := v.UpdatedAt
				if upd.IsZero() {
					upd = ts
				}
				args = append(args, v.TenantID, v.Number, store.BindingKey(v), v.Contact, v.Instance, v.RegID,
					v.Q, dbTime(v.Expires), v.CallID, int64(v.CSeq), v.UserAgent, v.Source, v.Transport, v.Flow,
					string(path), v.Node, dbTime(upd))
			}
			var err error
			switch {
			case n < saveChunk:
				_, err = tx.ExecContext(ctx, insertBindingsSQL(n), args...)
			case full == nil:
				if full, err = tx.PrepareContext(ctx, insertBindingsSQL(saveChunk)); err != nil {
					return fmt.Errorf("save bindings: prepare: %w", err)
				}
				fallthrough
			default:
				_, err = full.ExecContext(ctx, args...)
			}
			if err != nil {
				return fmt.Errorf("save %d bindings: %w", n, b.s.classify(err))
			}
			rows = rows[n:]
		}
		return nil
	})
}

type aor struct {
	tenant int64
	number string
}

// dedupBindings keeps the last binding given for each identity (one
// INSERT may not upsert a row twice on PostgreSQL) and sorts them:
// concurrent batches on PostgreSQL lock rows in the order they write them,
// and one global order means two nodes' batches cannot deadlock.
func dedupBindings(bs []store.Binding) []store.Binding {
	type id struct {
		aor
		key string
	}
	last := make(map[id]int, len(bs))
	for i, v := range bs {
		last[id{aor{v.TenantID, v.Number}, store.BindingKey(v)}] = i
	}
	out := make([]store.Binding, 0, len(last))
	for i, v := range bs {
		if last[id{aor{v.TenantID, v.Number}, store.BindingKey(v)}] == i {
			out = append(out, v)
		}
	}
	slices.SortFunc(out, func(x, y store.Binding) int {
		return cmp.Or(cmp.Compare(x.TenantID, y.TenantID), strings.Compare(x.Number, y.Number),
			strings.Compare(store.BindingKey(x), store.BindingKey(y)))
	})
	return out
}

// existingAORs reports which AORs of the (sorted) bindings have an
// extension, with one query per tenant and chunk of numbers.
func existingAORs(ctx context.Context, tx *sql.Tx, sorted []store.Binding) (map[aor]bool, error) {
	exists := map[aor]bool{}
	for i := 0; i < len(sorted); {
		tenant := sorted[i].TenantID
		args := []any{tenant}
		var ph []string
		for ; i < len(sorted) && sorted[i].TenantID == tenant && len(ph) < existsChunk; i++ {
			if len(args) > 1 && args[len(args)-1] == sorted[i].Number {
				continue
			}
			args = append(args, sorted[i].Number)
			ph = append(ph, "$"+strconv.Itoa(len(args)))
		}
		rows, err := tx.QueryContext(ctx, "SELECT number FROM extensions WHERE tenant_id = $1 AND number IN ("+strings.Join(ph, ", ")+")", args...)
		if err != nil {
			return nil, fmt.Errorf("save bindings: find their extensions: %w", err)
		}
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				rows.Close()
				return nil, fmt.Errorf("save bindings: find their extensions: %w", err)
			}
			exists[aor{tenant, n}] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("save bindings: find their extensions: %w", err)
		}
	}
	return exists, nil
}

// Delete removes the bindings of one AOR with the given keys.
func (b bindingStore) Delete(ctx context.Context, tenantID int64, number string, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	return b.inTx(ctx, "delete bindings", func(tx *sql.Tx) error {
		const chunk = 500
		for rest := keys; len(rest) > 0; {
			n := min(len(rest), chunk)
			args := []any{tenantID, number}
			ph := make([]string, n)
			for i, k := range rest[:n] {
				args = append(args, k)
				ph[i] = "$" + strconv.Itoa(i+3)
			}
			rest = rest[n:]
			if _, err := tx.ExecContext(ctx,
				"DELETE FROM bindings WHERE tenant_id = $1 AND number = $2 AND key IN ("+strings.Join(ph, ", ")+")", args...); err != nil {
				return fmt.Errorf("delete bindings of %s@%d: %w", number, tenantID, err)
			}
		}
		return nil
	})
}

// DeleteAOR removes every binding of one AOR.
func (b bindingStore) DeleteAOR(ctx context.Context, tenantID int64, number string) error {
	if _, err := b.s.q().ExecContext(ctx, "DELETE FROM bindings WHERE tenant_id = $1 AND number = $2", tenantID, number); err != nil {
		return fmt.Errorf("delete bindings of %s@%d: %w", number, tenantID, err)
	}
	return nil
}

// List returns the bindings of a tenant, or of all tenants for 0.
func (b bindingStore) List(ctx context.Context, tenantID int64) ([]store.Binding, error) {
	q := "SELECT " + bindingCols + " FROM bindings"
	var args []any
	if tenantID != 0 {
		q += " WHERE tenant_id = $1"
		args = append(args, tenantID)
	}
	return b.list(ctx, q+" ORDER BY tenant_id, number, key", args...)
}

// ListAOR returns the bindings of one address of record.
func (b bindingStore) ListAOR(ctx context.Context, tenantID int64, number string) ([]store.Binding, error) {
	return b.list(ctx, "SELECT "+bindingCols+" FROM bindings WHERE tenant_id = $1 AND number = $2 ORDER BY key", tenantID, number)
}

func (b bindingStore) list(ctx context.Context, q string, args ...any) ([]store.Binding, error) {
	rows, err := b.s.q().QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list bindings: %w", err)
	}
	defer rows.Close()
	var out []store.Binding
	for rows.Next() {
		var v store.Binding
		var key, path string
		var cseq int64
		if err := rows.Scan(&v.TenantID, &v.Number, &key, &v.Contact, &v.Instance, &v.RegID, &v.Q, &v.Expires,
			&v.CallID, &cseq, &v.UserAgent, &v.Source, &v.Transport, &v.Flow, &path, &v.Node, &v.UpdatedAt); err != nil {
			return nil, fmt.Errorf("list bindings: %w", err)
		}
		if err := json.Unmarshal([]byte(path), &v.Path); err != nil {
			return nil, fmt.Errorf("list bindings: path of %s@%d %s: %w", v.Number, v.TenantID, key, err)
		}
		if len(v.Path) == 0 {
			v.Path = nil
		}
		v.CSeq = uint32(cseq)
		v.Expires, v.UpdatedAt = v.Expires.UTC(), v.UpdatedAt.UTC()
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list bindings: %w", err)
	}
	return out, nil
}

// Purge deletes the bindings that expired before `before`.
func (b bindingStore) Purge(ctx context.Context, before time.Time) (int, error) {
	res, err := b.s.q().ExecContext(ctx, "DELETE FROM bindings WHERE expires < $1", dbTime(before))
	if err != nil {
		return 0, fmt.Errorf("purge expired bindings: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("purge expired bindings: %w", err)
	}
	return int(n), nil
}

// dbTime is t as both back ends store it exactly: UTC, microseconds. SQLite
// compares timestamps as text, which is only chronological in one zone.
func dbTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
