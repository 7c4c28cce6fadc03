package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/sentralpbx/sentral/store"
)

var (
	tenantNameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{1,31}$`)
	domainRE     = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
)

func tenantTable() *table[store.Tenant, *store.Tenant] {
	return &table[store.Tenant, *store.Tenant]{
		entity: store.EntityTenant, name: "tenants", keyCol: "name", global: true, ownerCol: "id",
		cols: []string{"name", "display_name", "domain", "switchboard_number", "outside_prefix", "unknown_did",
			"cdr_retention_days", "report_mask_digits", "phonebook_secret", "switchboard_hours", "night_target"},
		order: "name, id",
		dest: func(v *store.Tenant) []any {
			return []any{&v.Name, &v.DisplayName, &v.Domain, &v.SwitchboardNumber, &v.OutsidePrefix, &v.UnknownDID,
				&v.CDRRetentionDays, &v.ReportMaskDigits, &v.PhonebookSecret, &v.SwitchboardHours, &v.NightTarget}
		},
		args: func(v *store.Tenant) []any {
			return []any{v.Name, v.DisplayName, v.Domain, v.SwitchboardNumber, v.OutsidePrefix, string(v.UnknownDID),
				v.CDRRetentionDays, v.ReportMaskDigits, v.PhonebookSecret, v.SwitchboardHours, v.NightTarget}
		},
		key:      func(v *store.Tenant) string { return v.Name },
		tenantID: func(v *store.Tenant) int64 { return v.ID },
		normalize: func(v *store.Tenant) {
			v.OutsidePrefix = strings.TrimSpace(v.OutsidePrefix)
			if v.UnknownDID == "" {
				v.UnknownDID = store.UnknownDIDSwitchboard
			}
		},
		check: checkTenant,
		saveChildren: func(ctx context.Context, tx *Store, v *store.Tenant, create bool) error {
			if !create {
				if _, err := tx.tx.tx.ExecContext(ctx, "DELETE FROM tenant_ranges WHERE tenant_id = $1", v.ID); err != nil {
					return fmt.Errorf("replace tenant ranges: %w", err)
				}
			}
			for i, r := range v.Ranges {
				if _, err := tx.tx.tx.ExecContext(ctx,
					"INSERT INTO tenant_ranges (tenant_id, position, kind, first_number, last_number) VALUES ($1, $2, $3, $4, $5)",
					v.ID, i, string(r.Kind), r.First, r.Last); err != nil {
					return fmt.Errorf("write tenant range %s: %w", r, tx.classify(err))
				}
			}
			return nil
		},
		load: func(ctx context.Context, s *Store, vs []*store.Tenant) error {
			idx := make(map[int64]*store.Tenant, len(vs))
			ids := make([]int64, len(vs))
			for i, v := range vs {
				idx[v.ID], ids[i] = v, v.ID
				v.Ranges = []store.NumberRange{}
			}
			err := children(ctx, s, "SELECT tenant_id, kind, first_number, last_number FROM tenant_ranges WHERE tenant_id IN (%s) ORDER BY tenant_id, position", ids,
				func(rows *sql.Rows) error {
					var id int64
					var r store.NumberRange
					var kind string
					if err := rows.Scan(&id, &kind, &r.First, &r.Last); err != nil {
						return err
					}
					r.Kind = store.RangeKind(kind)
					idx[id].Ranges = append(idx[id].Ranges, r)
					return nil
				})
			if err != nil {
				return fmt.Errorf("read tenant ranges: %w", err)
			}
			return nil
		},
		checkDelete: deleteTenantContents,
		written: func(tx *Store, v *store.Tenant, op store.Op) {
			if op == store.OpDelete {
				delete(tx.tx.tenants, v.ID)
				return
			}
			c := *v
			c.Ranges = append([]store.NumberRange{}, v.Ranges...)
			tx.tx.tenants[v.ID] = c
		},
	}
}

// checkTenant enforces the tenant invariants; old is nil on create.
func checkTenant(ctx context.Context, tx *Store, v, old *store.Tenant) error {
	const e = store.EntityTenant
	if !tenantNameRE.MatchString(v.Name) {
		return fieldErr(e, "name", v.Name, store.ErrInvalid,
			"must be 2 to 32 characters: a lower-case letter, then lower-case letters, digits or hyphens")
	}
	if err := tx.checkUnique(ctx, e, "tenants", "name", "name", v.Name, 0, v.ID); err != nil {
		return err
	}
	if v.CDRRetentionDays < 0 || v.CDRRetentionDays > store.MaxCDRRetentionDays {
		return fieldErr(e, "cdr_retention_days", strconv.Itoa(v.CDRRetentionDays), store.ErrInvalid,
			"must be 0 (keep call records forever) or a number of days up to %d", store.MaxCDRRetentionDays)
	}
	if v.ReportMaskDigits < 0 || v.ReportMaskDigits > store.MaxReportMaskDigits {
		return fieldErr(e, "report_mask_digits", strconv.Itoa(v.ReportMaskDigits), store.ErrInvalid,
			"must be 0 (show external numbers whole) to %d", store.MaxReportMaskDigits)
	}
	if len(v.SwitchboardHours) > store.MaxSwitchboardHours {
		return fieldErr(e, "switchboard_hours", "", store.ErrInvalid, "is %d characters long; at most %d", len(v.SwitchboardHours), store.MaxSwitchboardHours)
	}
	if err := store.ValidateNightTarget(v.NightTarget); err != nil {
		return err
	}
	if len(v.Domain) > 253 || !domainRE.MatchString(v.Domain) {
		return fieldErr(e, "domain", v.Domain, store.ErrInvalid, "must be a lower-case DNS name such as fjordvik.kommune.no")
	}
	var other string
	found, err := tx.lookup(ctx, "SELECT name FROM tenants WHERE domain = $1 AND id <> $2", []any{v.Domain, v.ID}, &other)
	if err != nil {
		return err
	}
	if found {
		return fieldErr(e, "domain", v.Domain, store.ErrExists, "domain %s is already used by tenant %s", v.Domain, other)
	}
	if old != nil && old.Domain != v.Domain {
		// HA1 = H(user:realm:password) with the domain as realm: the stored
		// hashes would stop matching and every phone would be locked out.
		if err := tx.inUse(ctx, e, "domain", old.Domain,
			"SELECT 'extension ' || number || ', whose SIP credentials are hashed with it as realm (reset their passwords after the change)' FROM extensions WHERE tenant_id = $1 AND (ha1_md5 <> '' OR ha1_sha256 <> '') ORDER BY length(number), number",
			v.ID); err != nil {
			return err
		}
	}
	switch v.UnknownDID {
	case store.UnknownDIDSwitchboard, store.UnknownDIDReject:
	default:
		return fieldErr(e, "unknown_did", string(v.UnknownDID), store.ErrInvalid, "must be switchboard or reject")
	}
	if !store.ValidOutsidePrefix(v.OutsidePrefix) {
		return fieldErr(e, "outside_prefix", v.OutsidePrefix, store.ErrInvalid, "must be 1 to %d digits, or empty for none", store.MaxOutsidePrefixDigits)
	}
	if err := checkTenantRanges(ctx, tx, v, old); err != nil {
		return err
	}
	if old != nil {
		if err := checkRangesKeepUsers(ctx, tx, v, old); err != nil {
			return err
		}
	}
	if sb := v.SwitchboardNumber; sb != "" {
		if !store.InRanges(v.Ranges, store.RangeExtension, sb) && !store.InRanges(v.Ranges, store.RangeDID, sb) {
			return fieldErr(e, "switchboard_number", sb, store.ErrInvalid,
				"outside tenant %s's extension and DID ranges", v.Name)
		}
		if old != nil {
			var name string
			found, err := tx.lookup(ctx, "SELECT display_name FROM extensions WHERE tenant_id = $1 AND number = $2", []any{v.ID, sb}, &name)
			if err != nil {
				return err
			}
			if found {
				return fieldErr(e, "switchboard_number", sb, store.ErrExists, "number %s is already used by extension %s %q", sb, sb, name)
			}
			// A group may carry the switchboard number: it is the group
			// of operators the main number rings.
		}
		if strings.HasPrefix(sb, "+") {
			if who, found, err := tx.didHolder(ctx, sb, e, v.ID); err != nil {
				return err
			} else if found {
				return fieldErr(e, "switchboard_number", sb, store.ErrExists, "DID %s is already the direct number of %s", sb, who)
			}
		}
	}
	return nil
}

// checkTenantRanges validates the ranges and refuses any that conflict
// with another range of this or any other tenant, or with the outside-line
// prefix of this or any other tenant (extension ranges of all tenants form
// one numbering plan, so every tenant's users dial every range). old is nil
// on create; it tells whether a clash with the prefix is the prefix's
// fault (it changed) or the ranges'.
func checkTenantRanges(ctx context.Context, tx *Store, v, old *store.Tenant) error {
	const e = store.EntityTenant
	prefixChanged := old == nil || old.OutsidePrefix != v.OutsidePrefix
	for i, r := range v.Ranges {
		if err := r.Validate(); err != nil {
			return fieldErr(e, "ranges", r.String(), store.ErrInvalid, "%v", err)
		}
		for _, o := range v.Ranges[:i] {
			if r.Conflicts(o) {
				return fieldErr(e, "ranges", r.String(), store.ErrInvalid, "%s range %s conflicts with range %s of the same tenant", r.Kind, r, o)
			}
		}
		if store.PrefixConflicts(v.OutsidePrefix, r) {
			if prefixChanged {
				return fieldErr(e, "outside_prefix", v.OutsidePrefix, store.ErrInvalid,
					"clashes with the tenant's extension range %s: %s", r, prefixClash(v.OutsidePrefix, r))
			}
			return fieldErr(e, "ranges", r.String(), store.ErrInvalid,
				"clashes with the tenant's outside-line prefix %s: %s", v.OutsidePrefix, prefixClash(v.OutsidePrefix, r))
		}
	}
	rows, err := tx.q().QueryContext(ctx,
		"SELECT t.name, r.kind, r.first_number, r.last_number FROM tenant_ranges r JOIN tenants t ON t.id = r.tenant_id WHERE r.tenant_id <> $1 ORDER BY t.name, r.position",
		v.ID)
	if err != nil {
		return fmt.Errorf("check ranges: %w", err)
	}
	type owned struct {
		tenant string
		r      store.NumberRange
	}
	var others []owned
	for rows.Next() {
		var o owned
		var kind string
		if err := rows.Scan(&o.tenant, &kind, &o.r.First, &o.r.Last); err != nil {
			rows.Close()
			return fmt.Errorf("check ranges: %w", err)
		}
		o.r.Kind = store.RangeKind(kind)
		others = append(others, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("check ranges: %w", err)
	}
	for _, r := range v.Ranges {
		for _, o := range others {
			if r.Conflicts(o.r) {
				return fieldErr(e, "ranges", r.String(), store.ErrExists, "%s range %s conflicts with tenant %s's range %s", r.Kind, r, o.tenant, o.r)
			}
		}
	}
	if prefixChanged {
		for _, o := range others {
			if store.PrefixConflicts(v.OutsidePrefix, o.r) {
				return fieldErr(e, "outside_prefix", v.OutsidePrefix, store.ErrInvalid,
					"clashes with tenant %s's extension range %s, which this tenant's phones dial directly (one numbering plan): %s",
					o.tenant, o.r, prefixClash(v.OutsidePrefix, o.r))
			}
		}
	}
	return checkOthersPrefixes(ctx, tx, v)
}

// prefixClash explains why an outside-line prefix and an extension range
// that conflict (store.PrefixConflicts) cannot coexist, with an example.
func prefixClash(prefix string, r store.NumberRange) string {
	if len(prefix) > len(r.First) {
		n := prefix[:len(r.First)]
		return fmt.Sprintf("dialling %s reaches extension %s before the prefix is complete", prefix, n)
	}
	// The smallest number of the range that starts with the prefix.
	n := prefix + strings.Repeat("0", len(r.First)-len(prefix))
	if n < r.First {
		n = r.First
	}
	return fmt.Sprintf("a phone dialling %s could mean extension %s or an outside line", n, n)
}

// checkOthersPrefixes refuses extension ranges that start with another
// tenant's outside-line prefix.
func checkOthersPrefixes(ctx context.Context, tx *Store, v *store.Tenant) error {
	rows, err := tx.q().QueryContext(ctx, "SELECT name, outside_prefix FROM tenants WHERE id <> $1 AND outside_prefix <> '' ORDER BY name", v.ID)
	if err != nil {
		return fmt.Errorf("check outside-line prefixes: %w", err)
	}
	type prefix struct{ tenant, prefix string }
	var ps []prefix
	for rows.Next() {
		var p prefix
		if err := rows.Scan(&p.tenant, &p.prefix); err != nil {
			rows.Close()
			return fmt.Errorf("check outside-line prefixes: %w", err)
		}
		ps = append(ps, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("check outside-line prefixes: %w", err)
	}
	for _, r := range v.Ranges {
		for _, p := range ps {
			if store.PrefixConflicts(p.prefix, r) {
				return fieldErr(store.EntityTenant, "ranges", r.String(), store.ErrExists,
					"clashes with tenant %s's outside-line prefix %s, and its phones dial this tenant's extensions directly (one numbering plan): %s",
					p.tenant, p.prefix, prefixClash(p.prefix, r))
			}
		}
	}
	return nil
}

// checkRangesKeepUsers refuses new ranges that would strand a number in use.
func checkRangesKeepUsers(ctx context.Context, tx *Store, v, old *store.Tenant) error {
	const e = store.EntityTenant
	exts := store.FormatRanges(v.Ranges, store.RangeExtension)
	dids := store.FormatRanges(v.Ranges, store.RangeDID)
	outside := func(what, number, kind, rs string) error {
		if rs == "" {
			rs = "(none)"
		}
		return fieldErr(e, "ranges", number, store.ErrInUse, "%s %s would fall outside the new %s ranges %s", what, number, kind, rs)
	}
	type src struct {
		what, query, kind string
		rk                store.RangeKind
	}
	for _, c := range []src{
		{"extension", "SELECT number FROM extensions WHERE tenant_id = $1 ORDER BY length(number), number", "extension", store.RangeExtension},
		{"group", "SELECT number FROM ring_groups WHERE tenant_id = $1 ORDER BY length(number), number", "extension", store.RangeExtension},
		{"site DID", "SELECT did FROM sites WHERE tenant_id = $1 AND did <> '' ORDER BY did", "DID", store.RangeDID},
		{"extension DID", "SELECT did FROM extensions WHERE tenant_id = $1 AND did <> '' ORDER BY did", "DID", store.RangeDID},
		{"group DID", "SELECT did FROM ring_groups WHERE tenant_id = $1 AND did <> '' ORDER BY did", "DID", store.RangeDID},
	} {
		rows, err := tx.q().QueryContext(ctx, c.query, v.ID)
		if err != nil {
			return fmt.Errorf("check ranges: %w", err)
		}
		var nums []string
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				rows.Close()
				return fmt.Errorf("check ranges: %w", err)
			}
			nums = append(nums, n)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("check ranges: %w", err)
		}
		for _, n := range nums {
			if !store.InRanges(v.Ranges, c.rk, n) {
				rs := exts
				if c.rk == store.RangeDID {
					rs = dids
				}
				return outside(c.what, n, c.kind, rs)
			}
		}
	}
	if sb := old.SwitchboardNumber; sb != "" && sb == v.SwitchboardNumber &&
		!store.InRanges(v.Ranges, store.RangeExtension, sb) && !store.InRanges(v.Ranges, store.RangeDID, sb) {
		return fieldErr(e, "ranges", sb, store.ErrInUse, "switchboard number %s would fall outside the new ranges", sb)
	}
	return nil
}

// deleteTenantContents removes everything a tenant owns, children before
// parents, so no foreign key ever points at a deleted row mid-way.
func deleteTenantContents(ctx context.Context, tx *Store, v *store.Tenant) error {
	for _, q := range []string{
		"DELETE FROM operators WHERE tenant_id = $1",
		"DELETE FROM group_members WHERE group_id IN (SELECT id FROM ring_groups WHERE tenant_id = $1)",
		"DELETE FROM ring_groups WHERE tenant_id = $1",
		"DELETE FROM dect_handsets WHERE tenant_id = $1",
		"DELETE FROM dect_gateways WHERE tenant_id = $1",
		"DELETE FROM device_lines WHERE device_id IN (SELECT id FROM devices WHERE tenant_id = $1)",
		"DELETE FROM devices WHERE tenant_id = $1",
		"DELETE FROM trunk_routes WHERE trunk_id IN (SELECT id FROM trunks WHERE tenant_id = $1)",
		"DELETE FROM trunk_peers WHERE trunk_id IN (SELECT id FROM trunks WHERE tenant_id = $1)",
		"DELETE FROM trunks WHERE tenant_id = $1",
		"DELETE FROM extensions WHERE tenant_id = $1",
		"DELETE FROM people WHERE tenant_id = $1",
		"DELETE FROM departments WHERE tenant_id = $1",
		"DELETE FROM sites WHERE tenant_id = $1",
		"DELETE FROM tenant_ranges WHERE tenant_id = $1",
	} {
		if _, err := tx.tx.tx.ExecContext(ctx, q, v.ID); err != nil {
			return fmt.Errorf("delete tenant %s: %w", v.Name, tx.classify(err))
		}
	}
	return nil
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
