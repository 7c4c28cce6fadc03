package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/sentralpbx/sentral/store"
)

// CDRs returns the call detail record store. On a store bound to a
// transaction (inside InTx) its operations join that transaction.
func (s *Store) CDRs() store.CDRStore { return cdrStore{s} }

// cdrStore implements store.CDRStore. Like bindingStore it skips
// Store.write: no admin write lock (a call must not wait for an import)
// and no change row. Each write is one statement, or a statement guarded
// by the row's state, so concurrent writers on any number of handles need
// no lock of their own.
type cdrStore struct{ s *Store }

const cdrCols = "id, tenant_id, call_id, node, state, direction, caller, callee, dialled, normalised, " +
	"trunk_id, trunk, department_id, department_code, start_time, answer_time, end_time, " +
	"duration_seconds, billable_seconds, disposition, sip_code, reason, price_ore, tariff_id"

func cdrErr(field, value string, kind error, format string, args ...any) *store.FieldError {
	return fieldErr(store.EntityCDR, field, value, kind, format, args...)
}

func validDirection(d store.CallDirection) bool {
	switch d {
	case store.DirectionInternal, store.DirectionInbound, store.DirectionOutbound, store.DirectionEmergency:
		return true
	}
	return false
}

func validDisposition(d store.Disposition) bool {
	switch d {
	case store.DispositionAnswered, store.DispositionBusy, store.DispositionNoAnswer, store.DispositionFailed, store.DispositionCancelled:
		return true
	}
	return false
}

// nullInt is p as a query argument: NULL or its value.
func nullInt(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

// Open inserts the record of a starting call.
func (c cdrStore) Open(ctx context.Context, v store.CDR) (int64, error) {
	switch {
	case v.TenantID <= 0:
		return 0, cdrErr("tenant_id", strconv.FormatInt(v.TenantID, 10), store.ErrInvalid, "a call record needs its tenant")
	case !validDirection(v.Direction):
		return 0, cdrErr("direction", string(v.Direction), store.ErrInvalid, "must be internal, inbound, outbound or emergency")
	case v.StartTime.IsZero():
		return 0, cdrErr("start_time", "", store.ErrInvalid, "a call record needs its start time")
	}
	if v.DepartmentID != nil && v.DepartmentCode == "" {
		// The snapshot: the code the department has now, at the call. A
		// department deleted meanwhile leaves the code empty rather than
		// losing the call.
		err := c.s.q().QueryRowContext(ctx, "SELECT code FROM departments WHERE id = $1 AND tenant_id = $2",
			*v.DepartmentID, v.TenantID).Scan(&v.DepartmentCode)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return 0, fmt.Errorf("open call record %s: read department %d: %w", v.CallID, *v.DepartmentID, err)
		}
	}
	var id int64
	ins, err := c.s.prepared(ctx, cdrInsert)
	if err != nil {
		return 0, fmt.Errorf("open call record %s: %w", v.CallID, err)
	}
	err = ins.QueryRowContext(ctx,
		v.TenantID, v.CallID, v.Node, string(store.CDROpen), string(v.Direction), v.Caller, v.Callee, v.Dialled, v.Normalised,
		nullInt(v.TrunkID), v.Trunk, nullInt(v.DepartmentID), v.DepartmentCode, dbTime(v.StartTime),
		nullInt(v.PriceOre), nullInt(v.TariffID)).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("open call record %s: %w", v.CallID, c.s.classify(err))
	}
	return id, nil
}

const cdrInsert = "INSERT INTO cdrs (tenant_id, call_id, node, state, direction, caller, callee, dialled, normalised, " +
	"trunk_id, trunk, department_id, department_code, start_time, price_ore, tariff_id) " +
	"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING id"

// Batch runs fn in one transaction without the admin lock (see
// store.CDRStore); SQLite still serialises writers with BEGIN IMMEDIATE
// and its busy timeout.
func (c cdrStore) Batch(ctx context.Context, fn func(store.CDRStore) error) error {
	if c.s.tx != nil {
		return fn(c)
	}
	tx, err := c.s.sh.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("call records: begin transaction: %w", err)
	}
	bound := cdrStore{&Store{sh: c.s.sh, tx: &txState{tx: tx, tenants: map[int64]store.Tenant{}}}}
	if err := fn(bound); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("call records: commit: %w", c.s.classify(err))
	}
	return nil
}

// Route sets the trunk of an open record.
func (c cdrStore) Route(ctx context.Context, id int64, trunkID *int64, trunk string) error {
	upd, err := c.s.prepared(ctx, "UPDATE cdrs SET trunk_id = $2, trunk = $3 WHERE id = $1 AND state = 'open'")
	if err != nil {
		return fmt.Errorf("route call record %d: %w", id, err)
	}
	res, err := upd.ExecContext(ctx, id, nullInt(trunkID), trunk)
	if err != nil {
		return fmt.Errorf("route call record %d: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("route call record %d: %w", id, err)
	} else if n == 1 {
		return nil
	}
	cur, err := c.Get(ctx, id)
	if err != nil {
		return err
	}
	return cdrErr("state", string(cur.State), store.ErrConflict, "call record %d is already closed", id)
}

// Answer sets the answer time of an open, unanswered record.
func (c cdrStore) Answer(ctx context.Context, id int64, at time.Time) error {
	if at.IsZero() {
		return cdrErr("answer_time", "", store.ErrInvalid, "the answer time is missing")
	}
	upd, err := c.s.prepared(ctx, "UPDATE cdrs SET answer_time = $2 WHERE id = $1 AND state = 'open' AND answer_time IS NULL")
	if err != nil {
		return fmt.Errorf("answer call record %d: %w", id, err)
	}
	res, err := upd.ExecContext(ctx, id, dbTime(at))
	if err != nil {
		return fmt.Errorf("answer call record %d: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("answer call record %d: %w", id, err)
	} else if n == 1 {
		return nil
	}
	// Nothing changed: say why.
	cur, err := c.Get(ctx, id)
	if err != nil {
		return err
	}
	if cur.State != store.CDROpen {
		return cdrErr("state", string(cur.State), store.ErrConflict, "call record %d is already closed", id)
	}
	return nil // answered before: the first answer stands
}

// seconds is d in whole seconds, rounded down, never negative (the clock
// may have been stepped back during the call).
func seconds(d time.Duration) int64 { return max(int64(d/time.Second), 0) }

// Close finalises an open record.
func (c cdrStore) Close(ctx context.Context, id int64, end time.Time, d store.Disposition, sipCode int, reason string) error {
	switch {
	case end.IsZero():
		return cdrErr("end_time", "", store.ErrInvalid, "the end time is missing")
	case !validDisposition(d):
		return cdrErr("disposition", string(d), store.ErrInvalid, "must be answered, busy, no-answer, failed or cancelled")
	case sipCode != 0 && (sipCode < 100 || sipCode > 699):
		return cdrErr("sip_code", strconv.Itoa(sipCode), store.ErrInvalid, "must be a SIP status code (100-699), or 0 when no final response was seen")
	}
	end = dbTime(end)
	// The durations depend on the answer time, which may be set between
	// reading the record and writing it; the write only applies if the
	// answer time is still what was read (it only ever goes from unset to
	// set, so one retry settles it).
	for range 3 {
		cur, err := c.Get(ctx, id)
		if err != nil {
			return err
		}
		if cur.State != store.CDROpen {
			return cdrErr("state", string(cur.State), store.ErrConflict, "call record %d is already closed", id)
		}
		var billable int64
		guard := "answer_time IS NULL"
		if cur.AnswerTime != nil {
			billable = seconds(end.Sub(*cur.AnswerTime))
			guard = "answer_time IS NOT NULL"
		}
		upd, err := c.s.prepared(ctx, "UPDATE cdrs SET state = $2, end_time = $3, duration_seconds = $4, billable_seconds = $5, "+
			"disposition = $6, sip_code = $7, reason = $8 WHERE id = $1 AND state = 'open' AND "+guard)
		if err != nil {
			return fmt.Errorf("close call record %d: %w", id, err)
		}
		res, err := upd.ExecContext(ctx,
			id, string(store.CDRClosed), end, seconds(end.Sub(cur.StartTime)), billable, string(d), sipCode, reason)
		if err != nil {
			return fmt.Errorf("close call record %d: %w", id, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("close call record %d: %w", id, err)
		}
		if n == 1 {
			return nil
		}
	}
	return fmt.Errorf("close call record %d: it kept changing while being closed", id)
}

// CloseOrphans closes the records node left open before at. See
// store.CDRStore for why they end at their last recorded event.
func (c cdrStore) CloseOrphans(ctx context.Context, node string, at time.Time) (int, error) {
	if at.IsZero() {
		return 0, cdrErr("end_time", "", store.ErrInvalid, "the restart time is missing")
	}
	closed := 0
	err := c.inTx(ctx, "close orphaned call records", func(q querier) error {
		// The literal 'open' lets SQLite use the partial index cdrs_open.
		rows, err := q.QueryContext(ctx,
			"SELECT "+cdrCols+" FROM cdrs WHERE node = $1 AND state = 'open' AND start_time < $2 ORDER BY id",
			node, dbTime(at))
		if err != nil {
			return fmt.Errorf("find orphaned call records of node %q: %w", node, err)
		}
		orphans, err := scanCDRs(rows)
		if err != nil {
			return fmt.Errorf("find orphaned call records of node %q: %w", node, err)
		}
		for _, o := range orphans {
			end, d, code := o.StartTime, store.DispositionFailed, 0
			if o.AnswerTime != nil {
				end, d, code = *o.AnswerTime, store.DispositionAnswered, 200
			}
			// Guarded by state: a Close racing this one (PostgreSQL) wins.
			res, err := q.ExecContext(ctx,
				"UPDATE cdrs SET state = $2, end_time = $3, duration_seconds = $4, billable_seconds = 0, "+
					"disposition = $5, sip_code = $6, reason = $7 WHERE id = $1 AND state = 'open'",
				o.ID, string(store.CDRClosed), end, seconds(end.Sub(o.StartTime)), string(d), code, store.OrphanReason)
			if err != nil {
				return fmt.Errorf("close orphaned call record %d: %w", o.ID, err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return fmt.Errorf("close orphaned call record %d: %w", o.ID, err)
			}
			closed += int(n)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return closed, nil
}

// inTx runs fn in the store's current transaction, or in a new one that is
// committed when fn succeeds.
func (c cdrStore) inTx(ctx context.Context, what string, fn func(q querier) error) error {
	if c.s.tx != nil {
		return fn(c.s.tx.tx)
	}
	tx, err := c.s.sh.db.BeginTx(ctx, nil)
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

// Get returns one record.
func (c cdrStore) Get(ctx context.Context, id int64) (store.CDR, error) {
	sel, err := c.s.prepared(ctx, "SELECT "+cdrCols+" FROM cdrs WHERE id = $1")
	if err != nil {
		return store.CDR{}, fmt.Errorf("read call record %d: %w", id, err)
	}
	rows, err := sel.QueryContext(ctx, id)
	if err != nil {
		return store.CDR{}, fmt.Errorf("read call record %d: %w", id, err)
	}
	vs, err := scanCDRs(rows)
	if err != nil {
		return store.CDR{}, fmt.Errorf("read call record %d: %w", id, err)
	}
	if len(vs) == 0 {
		return store.CDR{}, cdrErr("id", strconv.FormatInt(id, 10), store.ErrNotFound, "no call record has this id")
	}
	return vs[0], nil
}

// List returns the records matching f in start-time order.
func (c cdrStore) List(ctx context.Context, f store.CDRFilter) ([]store.CDR, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	where = append(where, periodWhere(f, arg)...)
	if f.Ext != "" {
		p := arg(f.Ext)
		where = append(where, "(caller = "+p+" OR callee = "+p+")")
	}
	q := "SELECT " + cdrCols + " FROM cdrs"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY start_time, id"
	if f.Limit > 0 || f.Offset > 0 {
		limit := int64(math.MaxInt64)
		if f.Limit > 0 {
			limit = int64(f.Limit)
		}
		q += " LIMIT " + arg(limit) + " OFFSET " + arg(max(f.Offset, 0))
	}
	rows, err := c.s.q().QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list call records: %w", err)
	}
	vs, err := scanCDRs(rows)
	if err != nil {
		return nil, fmt.Errorf("list call records: %w", err)
	}
	return vs, nil
}

// periodWhere is the tenant and start-time part of a filter, as SQL
// conditions whose arguments arg appends.
func periodWhere(f store.CDRFilter, arg func(any) string) []string {
	var where []string
	if f.TenantID != 0 {
		where = append(where, "tenant_id = "+arg(f.TenantID))
	}
	if !f.From.IsZero() {
		where = append(where, "start_time >= "+arg(dbTime(f.From)))
	}
	if !f.To.IsZero() {
		where = append(where, "start_time < "+arg(dbTime(f.To)))
	}
	return where
}

// scanCDRs reads and closes rows of cdrCols.
func scanCDRs(rows *sql.Rows) ([]store.CDR, error) {
	defer rows.Close()
	var out []store.CDR
	for rows.Next() {
		var v store.CDR
		var state, dir, disp string
		var trunkID, deptID, price, tariff sql.NullInt64
		var answer, end sql.NullTime
		if err := rows.Scan(&v.ID, &v.TenantID, &v.CallID, &v.Node, &state, &dir, &v.Caller, &v.Callee, &v.Dialled,
			&v.Normalised, &trunkID, &v.Trunk, &deptID, &v.DepartmentCode, &v.StartTime, &answer, &end,
			&v.DurationSeconds, &v.BillableSeconds, &disp, &v.SIPCode, &v.Reason, &price, &tariff); err != nil {
			return nil, err
		}
		v.State, v.Direction, v.Disposition = store.CDRState(state), store.CallDirection(dir), store.Disposition(disp)
		v.StartTime = v.StartTime.UTC()
		v.AnswerTime, v.EndTime = nullTime(answer), nullTime(end)
		v.TrunkID, v.DepartmentID, v.PriceOre, v.TariffID = nullInt64(trunkID), nullInt64(deptID), nullInt64(price), nullInt64(tariff)
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

func nullTime(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}

func nullInt64(n sql.NullInt64) *int64 {
	if !n.Valid {
		return nil
	}
	return &n.Int64
}
