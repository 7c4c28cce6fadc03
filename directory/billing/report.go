package billing

import (
	"cmp"
	"slices"
	"time"

	"github.com/sentralpbx/sentral/sip/dialplan"
	"github.com/sentralpbx/sentral/store"
)

// NoDepartment is the label of the row for calls whose caller had no
// department when the call was made (DepartmentCode "").
const NoDepartment = "(uten avdeling)"

// defaultTopN is the length of the top list when ReportOptions.TopN is 0.
const defaultTopN = 10

// ReportOptions shape a report; they never change the totals.
type ReportOptions struct {
	Tenant string // tenant name, printed on the report and in every export line
	Period string // what the records cover, e.g. "2026-11"; only a label
	// MaskDigits hides that many trailing digits of every external number
	// in the report (see Mask); 0 shows numbers in full.
	MaskDigits int
	// TopN is the length of the top-callers list: 0 means 10, negative
	// means no list.
	TopN int
	// DepartmentNames maps a department code to its name; codes missing
	// here get an empty name.
	DepartmentNames map[string]string
	// Calls adds the per-call listing, which can be long.
	Calls bool
}

// Totals are the sums of one report row.
type Totals struct {
	Calls           int64
	BillableSeconds int64
	Ore             int64
}

func (t *Totals) add(c store.CDR) {
	t.Calls++
	t.BillableSeconds += c.BillableSeconds
	t.Ore += *c.PriceOre
}

// DepartmentRow is one department's calls. Code "" collects the calls of
// callers without a department; its Name is NoDepartment.
type DepartmentRow struct {
	Code string
	Name string
	Totals
}

// ExtensionRow is one caller's calls. Departments lists every department
// the extension made calls from in the period (usually one; more when it
// moved), so the row is not split and extension totals still add up.
type ExtensionRow struct {
	Extension   string // masked when external (e.g. a forwarded call)
	Departments []string
	Totals
}

// CallRow is one call in the per-call listing.
type CallRow struct {
	ID              int64
	Start           time.Time // Europe/Oslo
	Extension       string    // the caller, masked when external
	Department      string    // department code
	Number          string    // the called number, masked when external
	Class           string    // dialplan class of the called number
	BillableSeconds int64
	Ore             int64
}

// Report is one tenant's calls for a period, summed three ways. The
// department rows and the extension rows each add up exactly to Total.
type Report struct {
	Tenant     string
	Period     string
	MaskDigits int
	Total      Totals
	// Departments are sorted by code, with the no-department row last.
	Departments []DepartmentRow
	// Extensions are sorted by number (shorter numbers first).
	Extensions []ExtensionRow
	// Top is the TopN extensions by cost, then by billable seconds.
	Top []ExtensionRow
	// Calls is the per-call listing in start order, when asked for.
	Calls         []CallRow
	CallsIncluded bool
	// Unrated counts outbound and emergency records that have no price
	// (still open, or rating failed); they are in no sum, and the report
	// says so.
	Unrated int
}

// Counted reports whether a record belongs in a cost report: a closed,
// rated, answered outbound or emergency call. Internal and inbound calls
// cost the tenant nothing, and unanswered calls are free by rule.
func Counted(c store.CDR) bool {
	return outgoing(c) && c.State == store.CDRClosed && c.PriceOre != nil && c.AnswerTime != nil
}

func outgoing(c store.CDR) bool {
	return c.Direction == store.DirectionOutbound || c.Direction == store.DirectionEmergency
}

// Monthly sums the rated records of one tenant. It does not select by
// time: the caller passes the records of the period (by start time).
func Monthly(cdrs []store.CDR, opt ReportOptions) Report {
	r := Report{Tenant: opt.Tenant, Period: opt.Period, MaskDigits: opt.MaskDigits, CallsIncluded: opt.Calls}
	depts := map[string]*DepartmentRow{}
	exts := map[string]*ExtensionRow{}
	for _, c := range cdrs {
		if !Counted(c) {
			if outgoing(c) && c.PriceOre == nil {
				r.Unrated++
			}
			continue
		}
		r.Total.add(c)
		d := depts[c.DepartmentCode]
		if d == nil {
			d = &DepartmentRow{Code: c.DepartmentCode, Name: opt.DepartmentNames[c.DepartmentCode]}
			if c.DepartmentCode == "" {
				d.Name = NoDepartment
			}
			depts[c.DepartmentCode] = d
		}
		d.add(c)
		e := exts[c.Caller]
		if e == nil {
			e = &ExtensionRow{Extension: Mask(c.Caller, opt.MaskDigits)}
			exts[c.Caller] = e
		}
		e.add(c)
		if !slices.Contains(e.Departments, c.DepartmentCode) {
			e.Departments = append(e.Departments, c.DepartmentCode)
		}
		if opt.Calls {
			r.Calls = append(r.Calls, callRow(c, opt.MaskDigits))
		}
	}
	for _, d := range depts {
		r.Departments = append(r.Departments, *d)
	}
	slices.SortFunc(r.Departments, func(a, b DepartmentRow) int {
		// The no-department row goes last, where readers look for
		// leftovers.
		if (a.Code == "") != (b.Code == "") {
			if a.Code == "" {
				return 1
			}
			return -1
		}
		return cmp.Compare(a.Code, b.Code)
	})
	for _, e := range exts {
		slices.Sort(e.Departments)
		r.Extensions = append(r.Extensions, *e)
	}
	slices.SortFunc(r.Extensions, func(a, b ExtensionRow) int {
		return cmp.Or(cmp.Compare(len(a.Extension), len(b.Extension)), cmp.Compare(a.Extension, b.Extension))
	})
	n := opt.TopN
	if n == 0 {
		n = defaultTopN
	}
	if n > 0 {
		r.Top = slices.Clone(r.Extensions)
		slices.SortStableFunc(r.Top, func(a, b ExtensionRow) int {
			return cmp.Or(cmp.Compare(b.Ore, a.Ore), cmp.Compare(b.BillableSeconds, a.BillableSeconds))
		})
		r.Top = r.Top[:min(n, len(r.Top))]
	}
	slices.SortStableFunc(r.Calls, func(a, b CallRow) int {
		return cmp.Or(a.Start.Compare(b.Start), cmp.Compare(a.ID, b.ID))
	})
	return r
}

func callRow(c store.CDR, maskDigits int) CallRow {
	number := c.Normalised
	if number == "" {
		number = c.Callee
	}
	class := ""
	if n, err := dialplan.Classify(dialplan.Plan{}, number); err == nil {
		class = n.Kind.String()
	}
	start := c.StartTime
	if local, err := OsloTime(start); err == nil {
		start = local
	}
	return CallRow{
		ID:              c.ID,
		Start:           start,
		Extension:       Mask(c.Caller, maskDigits),
		Department:      c.DepartmentCode,
		Number:          Mask(number, maskDigits),
		Class:           class,
		BillableSeconds: c.BillableSeconds,
		Ore:             *c.PriceOre,
	}
}
