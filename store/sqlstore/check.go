package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"

	"github.com/sentralpbx/sentral/store"
)

// fieldErr builds the error every invariant check returns.
func fieldErr(e store.Entity, field, value string, kind error, format string, args ...any) *store.FieldError {
	return &store.FieldError{Entity: e, Field: field, Value: value, Kind: kind, Reason: fmt.Sprintf(format, args...)}
}

// tenant reads a tenant, cached for the rest of the transaction so bulk
// imports do not reload it for every row.
func (s *Store) tenant(ctx context.Context, ent store.Entity, id int64) (store.Tenant, error) {
	if s.tx != nil {
		if t, ok := s.tx.tenants[id]; ok {
			return t, nil
		}
	}
	t, err := s.sh.t.tenants.get(ctx, s, id)
	if err != nil {
		if isNotFound(err) {
			return t, fieldErr(ent, "tenant_id", strconv.FormatInt(id, 10), store.ErrNotFound, "no tenant has this id")
		}
		return t, err
	}
	if s.tx != nil {
		s.tx.tenants[id] = t
	}
	return t, nil
}

// lookup runs a query expected to return at most one row; found is false
// when it returns none.
func (s *Store) lookup(ctx context.Context, query string, args []any, dest ...any) (found bool, err error) {
	err = s.q().QueryRowContext(ctx, query, args...).Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("check: %w", err)
	}
	return true, nil
}

// checkRef checks that a reference names an existing row of table owned by
// the same tenant. A nil or zero id is "not set" and passes.
func (s *Store) checkRef(ctx context.Context, ent store.Entity, field string, refTable string, ref store.Entity, tenantID int64, id int64) error {
	if id == 0 {
		return nil
	}
	var owner int64
	found, err := s.lookup(ctx, "SELECT tenant_id FROM "+refTable+" WHERE id = $1", []any{id}, &owner)
	if err != nil {
		return err
	}
	v := strconv.FormatInt(id, 10)
	if !found {
		return fieldErr(ent, field, v, store.ErrNotFound, "no %s has this id", ref)
	}
	if owner != tenantID {
		return fieldErr(ent, field, v, store.ErrInvalid, "%s %d belongs to another tenant", ref, id)
	}
	return nil
}

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// nullID writes an optional reference: NULL when unset.
func nullID(p *int64) any {
	if p == nil || *p == 0 {
		return nil
	}
	return *p
}

// checkNumber applies the numbering-plan rules shared by extensions and
// groups: inside the tenant's extension ranges, and not already taken by an
// extension, a group or (for an extension) the switchboard number of the
// tenant. selfEntity
// and selfID exempt the row being updated.
func (s *Store) checkNumber(ctx context.Context, ent store.Entity, tenantID, selfID int64, number string) error {
	t, err := s.tenant(ctx, ent, tenantID)
	if err != nil {
		return err
	}
	if number == "" {
		return fieldErr(ent, "number", number, store.ErrInvalid, "a number is required")
	}
	if !store.InRanges(t.Ranges, store.RangeExtension, number) {
		if rs := store.FormatRanges(t.Ranges, store.RangeExtension); rs != "" {
			return fieldErr(ent, "number", number, store.ErrInvalid, "outside tenant %s's extension ranges %s", t.Name, rs)
		}
		return fieldErr(ent, "number", number, store.ErrInvalid, "tenant %s has no extension ranges", t.Name)
	}
	if number == t.SwitchboardNumber && ent != store.EntityGroup {
		// Only a group may carry it: the operators the main number rings.
		return fieldErr(ent, "number", number, store.ErrExists, "number %s is tenant %s's switchboard number", number, t.Name)
	}
	var id int64
	var name string
	found, err := s.lookup(ctx, "SELECT id, display_name FROM extensions WHERE tenant_id = $1 AND number = $2",
		[]any{tenantID, number}, &id, &name)
	if err != nil {
		return err
	}
	if found && !(ent == store.EntityExtension && id == selfID) {
		return fieldErr(ent, "number", number, store.ErrExists, "number %s is already used by extension %s %q", number, number, name)
	}
	found, err = s.lookup(ctx, "SELECT id, name FROM ring_groups WHERE tenant_id = $1 AND number = $2",
		[]any{tenantID, number}, &id, &name)
	if err != nil {
		return err
	}
	if found && !(ent == store.EntityGroup && id == selfID) {
		return fieldErr(ent, "number", number, store.ErrExists, "number %s is already used by group %q", number, name)
	}
	return nil
}

// checkUnique refuses a value of col already held by another row; scope
// limits the search to one tenant unless it is zero.
func (s *Store) checkUnique(ctx context.Context, ent store.Entity, table, col, field, value string, tenantID, selfID int64) error {
	q := "SELECT id FROM " + table + " WHERE " + col + " = $1 AND id <> $2"
	args := []any{value, selfID}
	if tenantID != 0 {
		q += " AND tenant_id = $3"
		args = append(args, tenantID)
	}
	var id int64
	found, err := s.lookup(ctx, q+" LIMIT 1", args, &id)
	if err != nil {
		return err
	}
	if found {
		where := "across all tenants"
		if tenantID != 0 {
			where = "in this tenant"
		}
		return fieldErr(ent, field, value, store.ErrExists, "%s %s is already used by %s #%d %s", field, value, ent, id, where)
	}
	return nil
}

// inUse returns a FieldError naming the first user query finds, if any;
// query returns one text column describing the user.
func (s *Store) inUse(ctx context.Context, ent store.Entity, field, value, query string, args ...any) error {
	var who string
	found, err := s.lookup(ctx, query+" LIMIT 1", args, &who)
	if err != nil {
		return err
	}
	if found {
		return fieldErr(ent, field, value, store.ErrInUse, "%s %s is still used by %s", ent, value, who)
	}
	return nil
}

// didHolder names what already answers a public number: an extension or a
// group with it as DID, or a tenant with it as switchboard number, in any
// tenant. selfEntity and selfID exempt the row being written (selfEntity
// is EntityExtension, EntityGroup or EntityTenant; "" exempts nothing).
func (s *Store) didHolder(ctx context.Context, did string, selfEntity store.Entity, selfID int64) (who string, found bool, err error) {
	for _, c := range []struct {
		ent   store.Entity
		query string
	}{
		{store.EntityExtension, "SELECT 'extension ' || x.number || ' of tenant ' || t.name FROM extensions x JOIN tenants t ON t.id = x.tenant_id WHERE x.did = $1 AND x.id <> $2"},
		{store.EntityGroup, "SELECT 'group ' || g.number || ' of tenant ' || t.name FROM ring_groups g JOIN tenants t ON t.id = g.tenant_id WHERE g.did = $1 AND g.id <> $2"},
		{store.EntityTenant, "SELECT 'the switchboard of tenant ' || name FROM tenants WHERE switchboard_number = $1 AND id <> $2"},
	} {
		self := int64(0)
		if c.ent == selfEntity {
			self = selfID
		}
		found, err := s.lookup(ctx, c.query+" LIMIT 1", []any{did, self}, &who)
		if err != nil || found {
			return who, found, err
		}
	}
	return "", false, nil
}

// checkDID applies the rules of an extension's or group's direct public
// number: E.164, inside the tenant's DID ranges, and answering nothing
// else anywhere (no other extension or group, no switchboard).
func (s *Store) checkDID(ctx context.Context, ent store.Entity, t store.Tenant, selfID int64, did string) error {
	if did == "" {
		return nil
	}
	if err := (store.NumberRange{Kind: store.RangeDID, First: did, Last: did}).Validate(); err != nil {
		return fieldErr(ent, "did", did, store.ErrInvalid, "must be a public number in E.164 (+4755550123)")
	}
	if !store.InRanges(t.Ranges, store.RangeDID, did) {
		if rs := store.FormatRanges(t.Ranges, store.RangeDID); rs != "" {
			return fieldErr(ent, "did", did, store.ErrInvalid, "outside tenant %s's DID ranges %s", t.Name, rs)
		}
		return fieldErr(ent, "did", did, store.ErrInvalid, "tenant %s has no DID ranges", t.Name)
	}
	who, found, err := s.didHolder(ctx, did, ent, selfID)
	if err != nil {
		return err
	}
	if found {
		return fieldErr(ent, "did", did, store.ErrExists, "DID %s is already the direct number of %s", did, who)
	}
	return nil
}
