package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sentralpbx/sentral/store"
)

// Operators returns the console account store. On a store bound to a
// transaction (inside InTx) its operations join that transaction.
func (s *Store) Operators() store.OperatorStore { return operatorStore{s} }

// operatorStore implements store.OperatorStore. Writes are single
// statements (the lock-out counter is one atomic UPDATE), so they need no
// store-wide lock; the unique index backs the username check against a
// concurrent create.
type operatorStore struct{ s *Store }

const operatorCols = "id, tenant_id, username, display_name, password_hash, role, extension, locale, " +
	"failed_count, failed_since, locked_until, last_login_at, created_at, updated_at"

func operatorErr(field, value string, kind error, format string, args ...any) *store.FieldError {
	return fieldErr(store.EntityOperator, field, value, kind, format, args...)
}

func operatorNotFound(id int64) error {
	return operatorErr("id", strconv.FormatInt(id, 10), store.ErrNotFound, "no operator has this id")
}

// Create stores a new account.
func (o operatorStore) Create(ctx context.Context, v *store.Operator) error {
	if err := store.CheckOperator(*v); err != nil {
		return err
	}
	var one int
	err := o.s.q().QueryRowContext(ctx, "SELECT 1 FROM tenants WHERE id = $1", v.TenantID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return operatorErr("tenant_id", strconv.FormatInt(v.TenantID, 10), store.ErrNotFound, "no tenant has this id")
	} else if err != nil {
		return fmt.Errorf("add operator %s: %w", v.Username, err)
	}
	if err := o.unique(ctx, v.Username); err != nil {
		return err
	}
	at := now()
	var id int64
	err = o.s.q().QueryRowContext(ctx,
		`INSERT INTO operators (tenant_id, username, display_name, password_hash, role, extension, locale, created_at, updated_at)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id`,
		v.TenantID, v.Username, v.DisplayName, v.PasswordHash, string(v.Role), v.Extension, v.Locale, at).Scan(&id)
	if err != nil {
		err = o.s.classify(err)
		if errors.Is(err, store.ErrExists) {
			return o.taken(v.Username)
		}
		return fmt.Errorf("add operator %s: %w", v.Username, err)
	}
	v.ID, v.CreatedAt, v.UpdatedAt = id, at, at
	v.FailedCount, v.FailedSince, v.LockedUntil, v.LastLoginAt = 0, nil, nil, nil
	return nil
}

func (o operatorStore) unique(ctx context.Context, username string) error {
	var id int64
	found, err := o.s.lookup(ctx, "SELECT id FROM operators WHERE username = $1", []any{username}, &id)
	if err != nil {
		return err
	}
	if found {
		return o.taken(username)
	}
	return nil
}

func (o operatorStore) taken(username string) error {
	return operatorErr("username", username, store.ErrExists, "username %s is already taken (usernames are unique across tenants)", username)
}

// Get returns one account by id.
func (o operatorStore) Get(ctx context.Context, id int64) (store.Operator, error) {
	vs, err := o.query(ctx, "SELECT "+operatorCols+" FROM operators WHERE id = $1", id)
	if err != nil {
		return store.Operator{}, fmt.Errorf("read operator %d: %w", id, err)
	}
	if len(vs) == 0 {
		return store.Operator{}, operatorNotFound(id)
	}
	return vs[0], nil
}

// Find returns one account by username.
func (o operatorStore) Find(ctx context.Context, username string) (store.Operator, error) {
	vs, err := o.query(ctx, "SELECT "+operatorCols+" FROM operators WHERE username = $1", username)
	if err != nil {
		return store.Operator{}, fmt.Errorf("read operator %s: %w", username, err)
	}
	if len(vs) == 0 {
		return store.Operator{}, operatorErr("username", username, store.ErrNotFound, "no operator has this username")
	}
	return vs[0], nil
}

// List returns the accounts of a tenant (0: all), by username.
func (o operatorStore) List(ctx context.Context, tenantID int64) ([]store.Operator, error) {
	q, args := "SELECT "+operatorCols+" FROM operators ORDER BY username", []any{}
	if tenantID != 0 {
		q, args = "SELECT "+operatorCols+" FROM operators WHERE tenant_id = $1 ORDER BY username", []any{tenantID}
	}
	vs, err := o.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list operators: %w", err)
	}
	return vs, nil
}

// Update writes the account's changeable fields.
func (o operatorStore) Update(ctx context.Context, v *store.Operator) error {
	cur, err := o.Get(ctx, v.ID)
	if err != nil {
		return err
	}
	// The username and tenant are not changed; check the rest against them.
	chk := *v
	chk.Username, chk.TenantID = cur.Username, cur.TenantID
	if err := store.CheckOperator(chk); err != nil {
		return err
	}
	at := now()
	res, err := o.s.q().ExecContext(ctx,
		`UPDATE operators SET display_name = $2, password_hash = $3, role = $4, extension = $5, locale = $6, updated_at = $7 WHERE id = $1`,
		v.ID, v.DisplayName, v.PasswordHash, string(v.Role), v.Extension, v.Locale, at)
	if err != nil {
		return fmt.Errorf("update operator %s: %w", cur.Username, o.s.classify(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return operatorNotFound(v.ID)
	}
	cur.DisplayName, cur.PasswordHash, cur.Role, cur.Extension, cur.Locale, cur.UpdatedAt =
		v.DisplayName, v.PasswordHash, v.Role, v.Extension, v.Locale, at
	*v = cur
	return nil
}

// Delete removes an account.
func (o operatorStore) Delete(ctx context.Context, id int64) error {
	res, err := o.s.q().ExecContext(ctx, "DELETE FROM operators WHERE id = $1", id)
	if err != nil {
		return fmt.Errorf("delete operator %d: %w", id, o.s.classify(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return operatorNotFound(id)
	}
	return nil
}

// LoginFailed counts a failure in one statement, so concurrent failures
// (two browsers, or an attacker in parallel) are never lost:
//
//	in window: failed_since > at-window (a count is running)
//	n:         the count including this failure
//	lock:      n reaches MaxFailures: locked until at+LockFor, count reset
func (o operatorStore) LoginFailed(ctx context.Context, id int64, at time.Time, p store.LockoutPolicy) (store.Operator, error) {
	if err := p.Validate(); err != nil {
		return store.Operator{}, err
	}
	at = dbTime(at)
	inWindow := "(failed_since IS NOT NULL AND failed_since > $2)"
	n := "(CASE WHEN " + inWindow + " THEN failed_count + 1 ELSE 1 END)"
	lock := "(" + n + " >= $3)"
	q := strings.Join([]string{
		"UPDATE operators SET",
		"failed_count = CASE WHEN " + lock + " THEN 0 ELSE " + n + " END,",
		"failed_since = CASE WHEN " + lock + " THEN NULL WHEN " + inWindow + " THEN failed_since ELSE $4 END,",
		"locked_until = CASE WHEN " + lock + " THEN $5 ELSE locked_until END",
		"WHERE id = $1 RETURNING " + operatorCols,
	}, " ")
	vs, err := o.query(ctx, q, id, at.Add(-p.Window), p.MaxFailures, at, at.Add(p.LockFor))
	if err != nil {
		return store.Operator{}, fmt.Errorf("record failed login of operator %d: %w", id, err)
	}
	if len(vs) == 0 {
		return store.Operator{}, operatorNotFound(id)
	}
	return vs[0], nil
}

// LoginSucceeded resets the failure count and records the login.
func (o operatorStore) LoginSucceeded(ctx context.Context, id int64, at time.Time) error {
	res, err := o.s.q().ExecContext(ctx,
		"UPDATE operators SET failed_count = 0, failed_since = NULL, last_login_at = $2 WHERE id = $1", id, dbTime(at))
	if err != nil {
		return fmt.Errorf("record login of operator %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return operatorNotFound(id)
	}
	return nil
}

// Unlock lifts a lock and resets the failure count.
func (o operatorStore) Unlock(ctx context.Context, id int64) error {
	res, err := o.s.q().ExecContext(ctx,
		"UPDATE operators SET failed_count = 0, failed_since = NULL, locked_until = NULL WHERE id = $1", id)
	if err != nil {
		return fmt.Errorf("unlock operator %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return operatorNotFound(id)
	}
	return nil
}

func (o operatorStore) query(ctx context.Context, q string, args ...any) ([]store.Operator, error) {
	rows, err := o.s.q().QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Operator
	for rows.Next() {
		var v store.Operator
		var role string
		var since, locked, last sql.NullTime
		if err := rows.Scan(&v.ID, &v.TenantID, &v.Username, &v.DisplayName, &v.PasswordHash, &role, &v.Extension, &v.Locale,
			&v.FailedCount, &since, &locked, &last, &v.CreatedAt, &v.UpdatedAt); err != nil {
			return nil, err
		}
		v.Role = store.OperatorRole(role)
		v.FailedSince, v.LockedUntil, v.LastLoginAt = nullTime(since), nullTime(locked), nullTime(last)
		v.CreatedAt, v.UpdatedAt = v.CreatedAt.UTC(), v.UpdatedAt.UTC()
		out = append(out, v)
	}
	return out, rows.Err()
}
