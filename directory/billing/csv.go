package billing

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// CSV sections, the values WriteCSV takes.
const (
	SectionDepartments = "departments"
	SectionExtensions  = "extensions"
	SectionTop         = "top"
	SectionCalls       = "calls"
)

// Sections lists the CSV sections.
func Sections() []string {
	return []string{SectionDepartments, SectionExtensions, SectionTop, SectionCalls}
}

// ErrNoCalls: the calls section was asked for but the report was built
// without ReportOptions.Calls; an empty listing would look like no calls.
var ErrNoCalls = errors.New("the report has no per-call listing; build it with ReportOptions.Calls")

// WriteCSV writes one section of a report: UTF-8 without a byte-order mark,
// ';' between fields (Norwegian spreadsheets use ',' as the decimal mark),
// a header row, and every amount twice: amount_ore as an integer and
// amount_nok with a dot and two decimals. docs/billing.md lists the columns.
func WriteCSV(w io.Writer, r Report, section string) error {
	cw := newWriter(w)
	var rows [][]string
	switch section {
	case SectionDepartments:
		rows = departmentRows(r)
	case SectionExtensions:
		rows = append(rows, []string{"period", "tenant", "extension", "department_code", "calls", "billable_seconds", "amount_ore", "amount_nok"})
		for _, e := range r.Extensions {
			rows = append(rows, append([]string{text(r.Period), text(r.Tenant), text(e.Extension), text(strings.Join(e.Departments, ","))}, totals(e.Totals)...))
		}
	case SectionTop:
		rows = append(rows, []string{"rank", "extension", "department_code", "calls", "billable_seconds", "amount_ore", "amount_nok"})
		for i, e := range r.Top {
			rows = append(rows, append([]string{strconv.Itoa(i + 1), text(e.Extension), text(strings.Join(e.Departments, ","))}, totals(e.Totals)...))
		}
	case SectionCalls:
		if !r.CallsIncluded {
			return fmt.Errorf("write csv section %s: %w", section, ErrNoCalls)
		}
		rows = append(rows, []string{"id", "start_time", "extension", "department_code", "number", "class", "billable_seconds", "amount_ore", "amount_nok"})
		for _, c := range r.Calls {
			rows = append(rows, []string{
				strconv.FormatInt(c.ID, 10), c.Start.Format(time.RFC3339), text(c.Extension), text(c.Department),
				text(c.Number), c.Class, strconv.FormatInt(c.BillableSeconds, 10),
				strconv.FormatInt(c.Ore, 10), FormatOre(c.Ore),
			})
		}
	default:
		return fmt.Errorf("write csv: unknown section %q; use one of %s", section, strings.Join(Sections(), ", "))
	}
	if err := cw.WriteAll(rows); err != nil {
		return fmt.Errorf("write csv section %s: %w", section, err)
	}
	return nil
}

// WriteFinanceExport writes the file the finance department imports: one
// line per department, columns period;tenant;department_code;
// department_name;calls;billable_seconds;amount_ore;amount_nok, with a
// header row. The columns are a contract (docs/billing.md); add new ones
// at the end only.
func WriteFinanceExport(w io.Writer, r Report) error {
	if err := newWriter(w).WriteAll(departmentRows(r)); err != nil {
		return fmt.Errorf("write finance export: %w", err)
	}
	return nil
}

func departmentRows(r Report) [][]string {
	rows := [][]string{{"period", "tenant", "department_code", "department_name", "calls", "billable_seconds", "amount_ore", "amount_nok"}}
	for _, d := range r.Departments {
		rows = append(rows, append([]string{text(r.Period), text(r.Tenant), text(d.Code), text(d.Name)}, totals(d.Totals)...))
	}
	return rows
}

func newWriter(w io.Writer) *csv.Writer {
	cw := csv.NewWriter(w)
	cw.Comma = ';'
	return cw
}

func totals(t Totals) []string {
	return []string{
		strconv.FormatInt(t.Calls, 10), strconv.FormatInt(t.BillableSeconds, 10),
		strconv.FormatInt(t.Ore, 10), FormatOre(t.Ore),
	}
}

// text guards a free-text field against spreadsheet formula injection: a
// department named "=HYPERLINK(...)" must stay text when finance opens
// the file. E.164 numbers start with '+' too, but they are data a
// spreadsheet may read as a number, so only a '+' followed by something
// other than digits and 'x' (masking) is guarded.
func text(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '-', '@', '\t', '\r':
		return "'" + s
	case '+':
		if strings.Trim(s[1:], "0123456789x") != "" {
			return "'" + s
		}
	}
	return s
}
