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

// Tariffs returns the tariff revision store. On a store bound to a
// transaction (inside InTx) its operations join that transaction.
func (s *Store) Tariffs() store.TariffStore { return tariffStore{s} }

// tariffStore implements store.TariffStore. Revisions are only ever
// added, so concurrent writers need no lock: the newest id wins.
type tariffStore struct{ s *Store }

const tariffCols = "id, tenant_id, name, spec, created_at"

func tariffErr(field, value string, kind error, format string, args ...any) *store.FieldError {
	return fieldErr(store.EntityTariff, field, value, kind, format, args...)
}

// Add stores a new revision.
func (t tariffStore) Add(ctx context.Context, v store.Tariff) (int64, error) {
	switch {
	case v.TenantID <= 0:
		return 0, tariffErr("tenant_id", strconv.FormatInt(v.TenantID, 10), store.ErrInvalid, "a tariff needs its tenant")
	case strings.TrimSpace(v.Name) == "":
		return 0, tariffErr("name", "", store.ErrInvalid, "a tariff needs a name")
	case strings.TrimSpace(v.Spec) == "":
		return 0, tariffErr("spec", "", store.ErrInvalid, "a tariff needs its rates")
	}
	var one int
	err := t.s.q().QueryRowContext(ctx, "SELECT 1 FROM tenants WHERE id = $1", v.TenantID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, tariffErr("tenant_id", strconv.FormatInt(v.TenantID, 10), store.ErrNotFound, "no tenant has this id")
	} else if err != nil {
		return 0, fmt.Errorf("add tariff: %w", err)
	}
	var id int64
	err = t.s.q().QueryRowContext(ctx, "INSERT INTO tariffs (tenant_id, name, spec, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
		v.TenantID, v.Name, v.Spec, dbTime(time.Now())).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("add tariff %s: %w", v.Name, t.s.classify(err))
	}
	return id, nil
}

// Current returns the tenant's newest revision.
func (t tariffStore) Current(ctx context.Context, tenantID int64) (store.Tariff, error) {
	vs, err := t.query(ctx, "SELECT "+tariffCols+" FROM tariffs WHERE tenant_id = $1 ORDER BY id DESC LIMIT 1", tenantID)
	if err != nil {
		return store.Tariff{}, fmt.Errorf("read current tariff of tenant %d: %w", tenantID, err)
	}
	if len(vs) == 0 {
		return store.Tariff{}, tariffErr("tenant_id", strconv.FormatInt(tenantID, 10), store.ErrNotFound,
			"the tenant has no tariff (set one with sentral tariff set)")
	}
	return vs[0], nil
}

// Get returns one revision.
func (t tariffStore) Get(ctx context.Context, id int64) (store.Tariff, error) {
	vs, err := t.query(ctx, "SELECT "+tariffCols+" FROM tariffs WHERE id = $1", id)
	if err != nil {
		return store.Tariff{}, fmt.Errorf("read tariff %d: %w", id, err)
	}
	if len(vs) == 0 {
		return store.Tariff{}, tariffErr("id", strconv.FormatInt(id, 10), store.ErrNotFound, "no tariff has this id")
	}
	return vs[0], nil
}

// List returns a tenant's revisions, newest first.
func (t tariffStore) List(ctx context.Context, tenantID int64) ([]store.Tariff, error) {
	vs, err := t.query(ctx, "SELECT "+tariffCols+" FROM tariffs WHERE tenant_id = $1 ORDER BY id DESC", tenantID)
	if err != nil {
		return nil, fmt.Errorf("list tariffs of tenant %d: %w", tenantID, err)
	}
	return vs, nil
}

func (t tariffStore) query(ctx context.Context, q string, args ...any) ([]store.Tariff, error) {
	rows, err := t.s.q().QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Tariff
	for rows.Next() {
		var v store.Tariff
		if err := rows.Scan(&v.ID, &v.TenantID, &v.Name, &v.Spec, &v.CreatedAt); err != nil {
			return nil, err
		}
		v.CreatedAt = v.CreatedAt.UTC()
		out = append(out, v)
	}
	return out, rows.Err()
}
