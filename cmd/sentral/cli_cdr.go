package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // --tz must work on hosts without /usr/share/zoneinfo (containers)

	"github.com/spf13/cobra"

	"github.com/sentralpbx/sentral/provisioning"
	"github.com/sentralpbx/sentral/store"
)

// defaultTZ is the zone of dates given without a time, and of the times
// printed in table and CSV output. Not the machine's zone: servers often
// run in UTC, and a municipality's month of calls is counted in Norwegian
// days (UTC would move an hour of every month into the one before).
const defaultTZ = "Europe/Oslo"

// dateLayout is the day form --from and --to accept besides RFC 3339.
const dateLayout = "2006-01-02"

// cdrCmd groups the call detail record commands.
func (a *app) cdrCmd() *cobra.Command {
	c := &cobra.Command{Use: "cdr", Short: "Call detail records: one per call attempt"}
	c.AddCommand(a.cdrListCmd())
	return c
}

// cdrListFlags are the flags of `cdr list`, as typed.
type cdrListFlags struct {
	tenant, from, to, ext, tz string
	limit                     int
}

func (a *app) cdrListCmd() *cobra.Command {
	var fl cdrListFlags
	cmd := &cobra.Command{
		Use:   "list --tenant TENANT --from DATE [--to DATE] [--ext NUMBER] [flags]",
		Short: "List a tenant's call records by start time (--to is exclusive)",
		Long: `List a tenant's call detail records whose call started at or after --from
and before --to, oldest first, open calls included.

DATE is YYYY-MM-DD, meaning midnight in the --tz zone (default Europe/Oslo,
whatever the machine's zone), or an RFC 3339 time such as
2026-11-01T08:00:00+01:00. --from 2026-11-01 --to 2026-12-01 is November.
Table and CSV output show times in the --tz zone; JSON shows them in UTC.`,
		Args: noArgs("cdr list"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			loc, f, err := fl.filter()
			if err != nil {
				return err
			}
			cdrs, err := a.listCDRs(cmd.Context(), fl.tenant, f)
			if err != nil {
				return err
			}
			return printList(a, cdrs, cdrColumns(loc, a.output == "csv"))
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&fl.tenant, "tenant", "", "tenant whose calls to list (see: sentral tenant list)")
	fs.StringVar(&fl.from, "from", "", "first day (YYYY-MM-DD) or time (RFC 3339) of the calls' start; required")
	fs.StringVar(&fl.to, "to", "", "day or time the listing stops before (exclusive); default: no end")
	fs.StringVar(&fl.ext, "ext", "", "only calls this number made or received (caller or callee)")
	fs.IntVar(&fl.limit, "limit", 0, "at most this many records (0: all)")
	fs.StringVar(&fl.tz, "tz", defaultTZ, "IANA time zone of plain dates and of the times shown")
	a.addOutputFlag(cmd)
	return cmd
}

// filter checks the flags and builds the store filter (all but the
// tenant, which needs the store) and the zone to show times in.
func (fl cdrListFlags) filter() (*time.Location, store.CDRFilter, error) {
	var f store.CDRFilter
	loc, err := time.LoadLocation(fl.tz)
	if err != nil || fl.tz == "" {
		return nil, f, provisioning.Invalid("--tz", fl.tz, "is not a known time zone",
			"use an IANA zone name such as Europe/Oslo or UTC")
	}
	if fl.from == "" {
		return nil, f, &provisioning.Error{Field: "--from", Problem: "is required", Err: store.ErrInvalid,
			Fix: "give the first day, e.g. --from 2026-11-01 --to 2026-12-01 for November"}
	}
	if f.From, err = parseWhen("--from", fl.from, loc); err != nil {
		return nil, f, err
	}
	if fl.to != "" {
		if f.To, err = parseWhen("--to", fl.to, loc); err != nil {
			return nil, f, err
		}
		if !f.To.After(f.From) {
			return nil, f, provisioning.Invalid("--to", fl.to, "is not after --from "+fl.from,
				"--to is exclusive: give the day after the last one, e.g. --from 2026-11-01 --to 2026-12-01")
		}
	}
	if fl.limit < 0 {
		return nil, f, provisioning.Invalid("--limit", strconv.Itoa(fl.limit), "is negative", "give a count, or 0 for all records")
	}
	f.Ext, f.Limit = strings.TrimSpace(fl.ext), fl.limit
	return loc, f, nil
}

// parseWhen reads a --from/--to value: a day (midnight in loc) or an RFC
// 3339 time (which carries its own offset).
func parseWhen(flag, v string, loc *time.Location) (time.Time, error) {
	v = strings.TrimSpace(v)
	if t, err := time.ParseInLocation(dateLayout, v, loc); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	return time.Time{}, provisioning.Invalid(flag, v, "is neither a date (YYYY-MM-DD) nor an RFC 3339 time",
		"write it as 2026-11-01 (midnight, --tz time) or 2026-11-01T08:00:00+01:00")
}

func (a *app) listCDRs(ctx context.Context, tenant string, f store.CDRFilter) ([]store.CDR, error) {
	p, err := a.provisioner(ctx)
	if err != nil {
		return nil, err
	}
	t, err := p.Tenant(ctx, tenant)
	if err != nil {
		return nil, err
	}
	f.TenantID = t.ID
	cdrs, err := p.Store().CDRs().List(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("list call records of tenant %s: %w", t.Name, err)
	}
	return cdrs, nil
}

// cdrColumns are the table columns (the ones a person reads) or the CSV
// columns (every field, named as in JSON; see docs/admin.md). Times are
// shown in loc: in the table without offset, in CSV as RFC 3339.
func cdrColumns(loc *time.Location, csv bool) []column[store.CDR] {
	layout := "2006-01-02 15:04:05"
	if csv {
		layout = time.RFC3339
	}
	at := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.In(loc).Format(layout)
	}
	num := func(n int64) string { return strconv.FormatInt(n, 10) }
	optNum := func(p *int64) string {
		if p == nil {
			return ""
		}
		return num(*p)
	}
	code := func(c store.CDR) string {
		if c.State == store.CDROpen {
			return ""
		}
		return strconv.Itoa(c.SIPCode)
	}
	if !csv {
		return []column[store.CDR]{
			{"start", func(c store.CDR) string { return at(&c.StartTime) }},
			{"direction", func(c store.CDR) string { return string(c.Direction) }},
			{"caller", func(c store.CDR) string { return c.Caller }},
			{"callee", func(c store.CDR) string { return c.Callee }},
			{"number", func(c store.CDR) string { return c.Normalised }},
			{"trunk", func(c store.CDR) string { return c.Trunk }},
			{"dept", func(c store.CDR) string { return c.DepartmentCode }},
			{"duration", func(c store.CDR) string { return num(c.DurationSeconds) }},
			{"billable", func(c store.CDR) string { return num(c.BillableSeconds) }},
			{"disposition", func(c store.CDR) string { return string(c.Disposition) }},
			{"code", code},
			{"state", func(c store.CDR) string { return string(c.State) }},
		}
	}
	return []column[store.CDR]{
		{"id", func(c store.CDR) string { return num(c.ID) }},
		{"call_id", func(c store.CDR) string { return c.CallID }},
		{"node", func(c store.CDR) string { return c.Node }},
		{"state", func(c store.CDR) string { return string(c.State) }},
		{"direction", func(c store.CDR) string { return string(c.Direction) }},
		{"caller", func(c store.CDR) string { return c.Caller }},
		{"callee", func(c store.CDR) string { return c.Callee }},
		{"dialled", func(c store.CDR) string { return c.Dialled }},
		{"normalised", func(c store.CDR) string { return c.Normalised }},
		{"trunk_id", func(c store.CDR) string { return optNum(c.TrunkID) }},
		{"trunk", func(c store.CDR) string { return c.Trunk }},
		{"department_id", func(c store.CDR) string { return optNum(c.DepartmentID) }},
		{"department_code", func(c store.CDR) string { return c.DepartmentCode }},
		{"start_time", func(c store.CDR) string { return at(&c.StartTime) }},
		{"answer_time", func(c store.CDR) string { return at(c.AnswerTime) }},
		{"end_time", func(c store.CDR) string { return at(c.EndTime) }},
		{"duration_seconds", func(c store.CDR) string { return num(c.DurationSeconds) }},
		{"billable_seconds", func(c store.CDR) string { return num(c.BillableSeconds) }},
		{"disposition", func(c store.CDR) string { return string(c.Disposition) }},
		{"sip_code", code},
		{"reason", func(c store.CDR) string { return c.Reason }},
		{"price_ore", func(c store.CDR) string { return optNum(c.PriceOre) }},
		{"tariff_id", func(c store.CDR) string { return optNum(c.TariffID) }},
	}
}
