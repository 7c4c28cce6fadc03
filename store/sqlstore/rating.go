package sqlstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sentralpbx/sentral/store"
)

// Scan pages through closed records by id (see store.CDRStore).
func (c cdrStore) Scan(ctx context.Context, f store.CDRFilter, afterID int64, limit int, unrated bool) ([]store.CDR, error) {
	if limit <= 0 {
		return nil, cdrErr("limit", strconv.Itoa(limit), store.ErrInvalid, "a scan needs a page size above 0")
	}
	args := []any{afterID}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	// The literals match the partial index cdrs_unrated, so the rater's
	// query stays as cheap as its backlog is small.
	where := []string{"state = 'closed'", "id > $1"}
	if unrated {
		where = append(where, "price_ore IS NULL")
	}
	where = append(where, periodWhere(f, arg)...)
	q := "SELECT " + cdrCols + " FROM cdrs WHERE " + strings.Join(where, " AND ") + " ORDER BY id LIMIT " + arg(int64(limit))
	rows, err := c.s.q().QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("scan call records after %d: %w", afterID, err)
	}
	vs, err := scanCDRs(rows)
	if err != nil {
		return nil, fmt.Errorf("scan call records after %d: %w", afterID, err)
	}
	return vs, nil
}

// pricesPerStatement bounds one UPDATE's parameters (3 per record) well
// under both databases' limits.
const pricesPerStatement = 1000

// SetPrices writes ratings with one UPDATE ... FROM a VALUES list per
// thousand records: row-at-a-time updates would make rating ten million
// records a matter of hours on PostgreSQL.
func (c cdrStore) SetPrices(ctx context.Context, ps []store.CDRPrice) error {
	for _, p := range ps {
		if p.PriceOre < 0 {
			return cdrErr("price_ore", strconv.FormatInt(p.PriceOre, 10), store.ErrInvalid, "a price cannot be negative")
		}
	}
	return c.inTx(ctx, "rate call records", func(q querier) error {
		for len(ps) > 0 {
			n := min(len(ps), pricesPerStatement)
			var b strings.Builder
			b.WriteString("WITH v(id, p, t) AS (VALUES ")
			args := make([]any, 0, 3*n)
			for i, p := range ps[:n] {
				if i > 0 {
					b.WriteString(", ")
				}
				k := 3 * i
				// CAST gives PostgreSQL the types of the VALUES columns;
				// SQLite takes it as integer affinity.
				fmt.Fprintf(&b, "(CAST($%d AS bigint), CAST($%d AS bigint), CAST($%d AS bigint))", k+1, k+2, k+3)
				args = append(args, p.ID, p.PriceOre, p.TariffID)
			}
			// A CTE rather than FROM (VALUES ...) AS v(id, p, t): SQLite
			// has no column list on a table alias.
			b.WriteString(") UPDATE cdrs SET price_ore = v.p, tariff_id = v.t FROM v WHERE cdrs.id = v.id AND cdrs.state = 'closed'")
			if _, err := q.ExecContext(ctx, b.String(), args...); err != nil {
				return fmt.Errorf("rate call records: %w", err)
			}
			ps = ps[n:]
		}
		return nil
	})
}

// Purge deletes a tenant's closed records that started before `before`.
func (c cdrStore) Purge(ctx context.Context, tenantID int64, before time.Time) (int, error) {
	if tenantID <= 0 {
		return 0, cdrErr("tenant_id", strconv.FormatInt(tenantID, 10), store.ErrInvalid, "purging call records needs a tenant")
	}
	if before.IsZero() {
		return 0, cdrErr("start_time", "", store.ErrInvalid, "purging call records needs the time to purge before")
	}
	res, err := c.s.q().ExecContext(ctx,
		"DELETE FROM cdrs WHERE tenant_id = $1 AND state = 'closed' AND start_time < $2", tenantID, dbTime(before))
	if err != nil {
		return 0, fmt.Errorf("purge call records of tenant %d: %w", tenantID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("purge call records of tenant %d: %w", tenantID, err)
	}
	return int(n), nil
}
