package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/sentralpbx/sentral/store"
)

// entry constrains P to be the pointer type of an entity T.
type entry[T any] interface {
	*T
	store.Entry
}

// table describes how one entity maps onto its SQL table; the generic
// repo below drives every CRUD operation from it.
type table[T any, P entry[T]] struct {
	entity store.Entity
	name   string   // SQL table
	cols   []string // data columns, stored after id, version, created_at, updated_at
	keyCol string   // natural key column for Find
	global bool     // the key is unique across tenants: Find ignores tenantID
	order  string   // ORDER BY of List (ends with id as a tie-break)
	// ownerCol filters List by tenant: "tenant_id", or "id" for tenants.
	ownerCol string

	dest     func(v P) []any // pointers to the fields behind cols, to scan into
	args     func(v P) []any // values of cols, to write
	key      func(v P) string
	tenantID func(v P) int64

	// Optional hooks. check validates v (old is nil on create) inside the
	// write transaction; saveChildren replaces child rows after the parent
	// row is written; load fills child rows of read entities; checkDelete
	// refuses deleting an entity still in use; written runs after a
	// successful write (e.g. to refresh the tenant cache).
	normalize    func(v P)
	check        func(ctx context.Context, tx *Store, v P, old P) error
	saveChildren func(ctx context.Context, tx *Store, v P, create bool) error
	load         func(ctx context.Context, s *Store, vs []P) error
	checkDelete  func(ctx context.Context, tx *Store, v P) error
	written      func(tx *Store, v P, op store.Op)
}

func (t *table[T, P]) selectSQL() string {
	return "SELECT id, version, created_at, updated_at, " + strings.Join(t.cols, ", ") + " FROM " + t.name
}

func (t *table[T, P]) scan(sc interface{ Scan(...any) error }) (T, error) {
	var v T
	m := P(&v).M()
	if err := sc.Scan(append([]any{&m.ID, &m.Version, &m.CreatedAt, &m.UpdatedAt}, t.dest(&v)...)...); err != nil {
		return v, err
	}
	m.CreatedAt, m.UpdatedAt = m.CreatedAt.UTC(), m.UpdatedAt.UTC()
	return v, nil
}

// query reads entities and their children. Rows are drained before the
// children are loaded: a PostgreSQL connection runs one query at a time.
func (t *table[T, P]) query(ctx context.Context, s *Store, query string, args ...any) ([]T, error) {
	rows, err := s.q().QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", t.entity, err)
	}
	var out []T
	for rows.Next() {
		v, err := t.scan(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("read %s: %w", t.entity, err)
		}
		out = append(out, v)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", t.entity, err)
	}
	if t.load != nil && len(out) > 0 {
		ps := make([]P, len(out))
		for i := range out {
			ps[i] = &out[i]
		}
		if err := t.load(ctx, s, ps); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (t *table[T, P]) one(ctx context.Context, s *Store, what string, query string, args ...any) (T, error) {
	vs, err := t.query(ctx, s, query, args...)
	if err != nil {
		var zero T
		return zero, err
	}
	if len(vs) == 0 {
		var zero T
		return zero, fmt.Errorf("%s %s: %w", t.entity, what, store.ErrNotFound)
	}
	return vs[0], nil
}

func (t *table[T, P]) get(ctx context.Context, s *Store, id int64) (T, error) {
	return t.one(ctx, s, "#"+strconv.FormatInt(id, 10), t.selectSQL()+" WHERE id = $1", id)
}

// findBy looks an entity up by a column across tenants.
func (t *table[T, P]) findBy(ctx context.Context, s *Store, col, val string) (T, error) {
	return t.one(ctx, s, strconv.Quote(val), t.selectSQL()+" WHERE "+col+" = $1 ORDER BY id LIMIT 1", val)
}

func (t *table[T, P]) find(ctx context.Context, s *Store, tenantID int64, key string) (T, error) {
	if t.global || tenantID == 0 {
		return t.findBy(ctx, s, t.keyCol, key)
	}
	return t.one(ctx, s, strconv.Quote(key), t.selectSQL()+" WHERE "+t.keyCol+" = $1 AND tenant_id = $2", key, tenantID)
}

func (t *table[T, P]) list(ctx context.Context, s *Store, opt store.ListOptions) ([]T, error) {
	q := t.selectSQL()
	var args []any
	if opt.TenantID != 0 {
		args = append(args, opt.TenantID)
		q += " WHERE " + t.ownerCol + " = $1"
	}
	q += " ORDER BY " + t.order
	if opt.Limit > 0 || opt.Offset > 0 {
		limit := int64(math.MaxInt64)
		if opt.Limit > 0 {
			limit = int64(opt.Limit)
		}
		args = append(args, limit, max(opt.Offset, 0))
		q += fmt.Sprintf(" LIMIT $%d OFFSET $%d", len(args)-1, len(args))
	}
	return t.query(ctx, s, q, args...)
}

// dbError explains a constraint violation the explicit checks did not
// catch (they are the backstop, e.g. for a race with a foreign writer).
func (t *table[T, P]) dbError(tx *Store, v P, op string, err error) error {
	if kind := tx.sh.d.Classify(err); kind != nil {
		return &store.FieldError{Entity: t.entity, Field: t.keyCol, Value: t.key(v), Kind: kind,
			Reason: fmt.Sprintf("%s refused by a database constraint: %v", op, err)}
	}
	return fmt.Errorf("%s %s: %w", op, t.entity, err)
}

func (t *table[T, P]) create(ctx context.Context, s *Store, v P) error {
	saved := *v.M()
	err := s.write(ctx, func(tx *Store) error {
		if t.normalize != nil {
			t.normalize(v)
		}
		if t.check != nil {
			if err := t.check(ctx, tx, v, nil); err != nil {
				return err
			}
		}
		m := v.M()
		ts := now()
		m.Version, m.CreatedAt, m.UpdatedAt = 1, ts, ts
		ph := make([]string, 0, len(t.cols)+3)
		for i := 0; i < len(t.cols)+3; i++ {
			ph = append(ph, "$"+strconv.Itoa(i+1))
		}
		q := "INSERT INTO " + t.name + " (version, created_at, updated_at, " + strings.Join(t.cols, ", ") +
			") VALUES (" + strings.Join(ph, ", ") + ") RETURNING id"
		if err := tx.tx.tx.QueryRowContext(ctx, q, append([]any{m.Version, ts, ts}, t.args(v)...)...).Scan(&m.ID); err != nil {
			return t.dbError(tx, v, "create", err)
		}
		if t.saveChildren != nil {
			if err := t.saveChildren(ctx, tx, v, true); err != nil {
				return err
			}
		}
		if t.written != nil {
			t.written(tx, v, store.OpCreate)
		}
		return tx.appendChange(ctx, t.entity, t.tenantID(v), m.ID, t.key(v), store.OpCreate)
	})
	if err != nil {
		*v.M() = saved
	}
	return err
}

func (t *table[T, P]) update(ctx context.Context, s *Store, v P) error {
	saved := *v.M()
	err := s.write(ctx, func(tx *Store) error {
		m := v.M()
		old, err := t.get(ctx, tx, m.ID)
		if err != nil {
			return err
		}
		op := P(&old)
		if om := op.M(); om.Version != m.Version {
			return &store.FieldError{Entity: t.entity, Field: "version", Value: strconv.FormatInt(m.Version, 10), Kind: store.ErrConflict,
				Reason: fmt.Sprintf("%s %s is at version %d: reload it and apply the change again", t.entity, t.key(op), om.Version)}
		}
		if t.ownerCol == "tenant_id" && t.tenantID(v) != t.tenantID(op) {
			return &store.FieldError{Entity: t.entity, Field: "tenant_id", Value: strconv.FormatInt(t.tenantID(v), 10), Kind: store.ErrInvalid,
				Reason: "cannot move to another tenant: delete and recreate it"}
		}
		if t.normalize != nil {
			t.normalize(v)
		}
		if t.check != nil {
			if err := t.check(ctx, tx, v, op); err != nil {
				return err
			}
		}
		ts := now()
		sets := make([]string, 0, len(t.cols)+2)
		for i, c := range t.cols {
			sets = append(sets, c+" = $"+strconv.Itoa(i+1))
		}
		n := len(t.cols)
		sets = append(sets, "version = $"+strconv.Itoa(n+1), "updated_at = $"+strconv.Itoa(n+2))
		q := "UPDATE " + t.name + " SET " + strings.Join(sets, ", ") +
			" WHERE id = $" + strconv.Itoa(n+3) + " AND version = $" + strconv.Itoa(n+4)
		res, err := tx.tx.tx.ExecContext(ctx, q, append(t.args(v), m.Version+1, ts, m.ID, m.Version)...)
		if err != nil {
			return t.dbError(tx, v, "update", err)
		}
		if k, err := res.RowsAffected(); err == nil && k == 0 {
			return &store.FieldError{Entity: t.entity, Field: "version", Value: strconv.FormatInt(m.Version, 10), Kind: store.ErrConflict,
				Reason: "changed by someone else since it was read"}
		}
		m.Version, m.UpdatedAt, m.CreatedAt = m.Version+1, ts, op.M().CreatedAt
		if t.saveChildren != nil {
			if err := t.saveChildren(ctx, tx, v, false); err != nil {
				return err
			}
		}
		if t.written != nil {
			t.written(tx, v, store.OpUpdate)
		}
		return tx.appendChange(ctx, t.entity, t.tenantID(v), m.ID, t.key(v), store.OpUpdate)
	})
	if err != nil {
		*v.M() = saved
	}
	return err
}

func (t *table[T, P]) delete(ctx context.Context, s *Store, id int64) error {
	return s.write(ctx, func(tx *Store) error {
		old, err := t.get(ctx, tx, id)
		if err != nil {
			return err
		}
		op := P(&old)
		if t.checkDelete != nil {
			if err := t.checkDelete(ctx, tx, op); err != nil {
				return err
			}
		}
		if _, err := tx.tx.tx.ExecContext(ctx, "DELETE FROM "+t.name+" WHERE id = $1", id); err != nil {
			return t.dbError(tx, op, "delete", err)
		}
		if t.written != nil {
			t.written(tx, op, store.OpDelete)
		}
		return tx.appendChange(ctx, t.entity, t.tenantID(op), id, t.key(op), store.OpDelete)
	})
}

// repo adapts a table to store.Repo for one Store (root or tx-bound).
type repo[T any, P entry[T]] struct {
	s *Store
	t *table[T, P]
}

func (r repo[T, P]) Create(ctx context.Context, v *T) error { return r.t.create(ctx, r.s, v) }
func (r repo[T, P]) Get(ctx context.Context, id int64) (T, error) {
	return r.t.get(ctx, r.s, id)
}
func (r repo[T, P]) Find(ctx context.Context, tenantID int64, key string) (T, error) {
	return r.t.find(ctx, r.s, tenantID, key)
}
func (r repo[T, P]) List(ctx context.Context, opt store.ListOptions) ([]T, error) {
	return r.t.list(ctx, r.s, opt)
}
func (r repo[T, P]) Update(ctx context.Context, v *T) error { return r.t.update(ctx, r.s, v) }
func (r repo[T, P]) Delete(ctx context.Context, id int64) error {
	return r.t.delete(ctx, r.s, id)
}

// children reads child rows of many parents with one query per chunk of
// parent IDs; query has a single %s where the IN list goes.
func children(ctx context.Context, s *Store, query string, ids []int64, each func(rows *sql.Rows) error) error {
	const chunk = 500
	for len(ids) > 0 {
		n := min(len(ids), chunk)
		ph := make([]string, n)
		args := make([]any, n)
		for i := 0; i < n; i++ {
			ph[i] = "$" + strconv.Itoa(i+1)
			args[i] = ids[i]
		}
		ids = ids[n:]
		rows, err := s.q().QueryContext(ctx, fmt.Sprintf(query, strings.Join(ph, ", ")), args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			if err := each(rows); err != nil {
				rows.Close()
				return err
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}

// isNotFound reports whether err says a row is missing.
func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
