package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sentralpbx/sentral/directory/billing"
	"github.com/sentralpbx/sentral/provisioning"
	"github.com/sentralpbx/sentral/store"
)

// tariffCmd groups the tariff commands (tariff set, show, list).
func (a *app) tariffCmd() *cobra.Command {
	c := &cobra.Command{Use: "tariff", Short: "Tenants' call tariffs (prices by destination class; see docs/billing.md)"}
	c.AddCommand(a.tariffSetCmd(), a.tariffShowCmd(), a.tariffListCmd())
	return c
}

// billingCmd groups rating, re-rating, reports and the finance export.
func (a *app) billingCmd() *cobra.Command {
	c := &cobra.Command{Use: "billing", Short: "Price call records, re-rate periods, reports and the finance export"}
	c.AddCommand(a.billingRateCmd(), a.billingRerateCmd(), a.billingReportCmd(), a.billingExportCmd(), a.billingPurgeCmd())
	return c
}

// noArgs refuses positional arguments, naming the command.
func noArgs(what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != 0 {
			return usageError{fmt.Errorf("%s takes no arguments, got %q; fix: give values with flags (see --help)", what, strings.Join(args, " "))}
		}
		return nil
	}
}

// tenantOf finds the tenant of --tenant, with the store behind it.
func (a *app) tenantOf(ctx context.Context, name string) (*provisioning.Service, store.Tenant, error) {
	if strings.TrimSpace(name) == "" {
		return nil, store.Tenant{}, &provisioning.Error{Field: "--tenant", Problem: "is required", Err: store.ErrInvalid,
			Fix: "name the tenant, e.g. --tenant fjordvik (see: sentral tenant list)"}
	}
	p, err := a.provisioner(ctx)
	if err != nil {
		return nil, store.Tenant{}, err
	}
	t, err := p.Tenant(ctx, name)
	if err != nil {
		return nil, store.Tenant{}, err
	}
	return p, t, nil
}

type tariffRevision struct {
	ID        int64     `json:"id"`
	Tenant    string    `json:"tenant"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	Current   bool      `json:"current"`
}

var tariffCols = []column[tariffRevision]{
	{"id", func(r tariffRevision) string { return strconv.FormatInt(r.ID, 10) }},
	{"name", func(r tariffRevision) string { return r.Name }},
	{"created_at", func(r tariffRevision) string { return r.CreatedAt.Format(time.RFC3339) }},
	{"current", func(r tariffRevision) string { return strconv.FormatBool(r.Current) }},
}

func (a *app) tariffSetCmd() *cobra.Command {
	var tenant, file string
	cmd := &cobra.Command{
		Use:   "set --tenant TENANT --file TARIFF.yaml",
		Short: "Give a tenant a new tariff (a new revision; earlier calls keep their prices until re-rated)",
		Long: `Read a tariff file (YAML or JSON, format in docs/billing.md), check it, and
make it the tenant's current tariff. Calls not yet priced are priced with it;
calls already priced keep their price until you re-rate their period with
sentral billing rerate. --file - reads standard input.`,
		Args: noArgs("tariff set"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			if file == "" {
				return &provisioning.Error{Field: "--file", Problem: "is required", Err: store.ErrInvalid,
					Fix: "give the tariff file, e.g. --file configs/tariff.example.yaml (format in docs/billing.md)"}
			}
			var data []byte
			var err error
			if file == "-" {
				data, err = io.ReadAll(a.stdin)
			} else {
				data, err = os.ReadFile(file)
			}
			if err != nil {
				return usageError{fmt.Errorf("--file %s: %w; fix: give a readable tariff file", file, err)}
			}
			tr, err := billing.ParseTariff(data)
			if err != nil {
				return usageError{fmt.Errorf("--file %s: %w", file, err)}
			}
			spec, err := tr.JSON()
			if err != nil {
				return err
			}
			p, tn, err := a.tenantOf(cmd.Context(), tenant)
			if err != nil {
				return err
			}
			id, err := p.Store().Tariffs().Add(cmd.Context(), store.Tariff{TenantID: tn.ID, Name: tr.Name, Spec: string(spec)})
			if err != nil {
				return fmt.Errorf("set tariff of %s: %w", tn.Name, err)
			}
			rev := tariffRevision{ID: id, Tenant: tn.Name, Name: tr.Name, CreatedAt: time.Now().UTC(), Current: true}
			if a.output == "table" {
				fmt.Fprintf(a.stdout, "tariff %q is now revision %d, current for %s\n", tr.Name, id, tn.Name)
				fmt.Fprintf(a.stdout, "calls already priced keep their prices; re-price a period with: sentral billing rerate --tenant %s --from YYYY-MM-DD --to YYYY-MM-DD\n", tn.Name)
				return nil
			}
			return printOne(a, rev, tariffCols)
		},
	}
	cmd.Flags().StringVar(&tenant, "tenant", "", "tenant the tariff is for")
	cmd.Flags().StringVar(&file, "file", "", "tariff file (YAML or JSON; - for stdin)")
	a.addOutputFlag(cmd)
	return cmd
}

func (a *app) tariffShowCmd() *cobra.Command {
	var tenant string
	var revision int64
	cmd := &cobra.Command{
		Use:   "show --tenant TENANT [--revision ID]",
		Short: "Print a tenant's current tariff (or a revision) in its canonical JSON form",
		Args:  noArgs("tariff show"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, tn, err := a.tenantOf(cmd.Context(), tenant)
			if err != nil {
				return err
			}
			var rev store.Tariff
			if revision > 0 {
				rev, err = p.Store().Tariffs().Get(cmd.Context(), revision)
				if err == nil && rev.TenantID != tn.ID {
					err = provisioning.Invalid("--revision", strconv.FormatInt(revision, 10), "belongs to another tenant",
						"list this tenant's revisions with: sentral tariff list --tenant "+tn.Name)
				}
			} else {
				rev, err = p.Store().Tariffs().Current(cmd.Context(), tn.ID)
			}
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(a.stdout, strings.TrimRight(rev.Spec, "\n"))
			return err
		},
	}
	cmd.Flags().StringVar(&tenant, "tenant", "", "tenant whose tariff to show")
	cmd.Flags().Int64Var(&revision, "revision", 0, "revision id (see tariff list); default the current one")
	return cmd
}

func (a *app) tariffListCmd() *cobra.Command {
	var tenant string
	cmd := &cobra.Command{
		Use:   "list --tenant TENANT",
		Short: "List a tenant's tariff revisions, newest (current) first",
		Args:  noArgs("tariff list"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			p, tn, err := a.tenantOf(cmd.Context(), tenant)
			if err != nil {
				return err
			}
			revs, err := p.Store().Tariffs().List(cmd.Context(), tn.ID)
			if err != nil {
				return err
			}
			out := make([]tariffRevision, len(revs))
			for i, r := range revs {
				out[i] = tariffRevision{ID: r.ID, Tenant: tn.Name, Name: r.Name, CreatedAt: r.CreatedAt, Current: i == 0}
			}
			return printList(a, out, tariffCols)
		},
	}
	cmd.Flags().StringVar(&tenant, "tenant", "", "tenant whose tariffs to list")
	a.addOutputFlag(cmd)
	return cmd
}

var resultCols = []column[billing.Result]{
	{"tenants", func(r billing.Result) string { return strconv.Itoa(r.Tenants) }},
	{"scanned", func(r billing.Result) string { return strconv.FormatInt(r.Scanned, 10) }},
	{"rated", func(r billing.Result) string { return strconv.FormatInt(r.Rated, 10) }},
	{"failed", func(r billing.Result) string { return strconv.FormatInt(r.Failed, 10) }},
	{"amount_nok", func(r billing.Result) string { return billing.FormatOre(r.Ore) }},
	{"skipped_tenants", func(r billing.Result) string { return strconv.Itoa(r.Skipped) }},
}

func (a *app) billingRateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rate",
		Short: "Price every finished call that has no price yet (the server does this every minute)",
		Args:  noArgs("billing rate"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			st, err := a.store(cmd.Context())
			if err != nil {
				return err
			}
			res, err := billing.NewService(st, a.log.Named("billing")).RatePending(cmd.Context())
			if err != nil {
				return err
			}
			return printOne(a, res, resultCols)
		},
	}
	a.addOutputFlag(cmd)
	return cmd
}

func (a *app) billingRerateCmd() *cobra.Command {
	var tenant, from, to, tz string
	cmd := &cobra.Command{
		Use:   "rerate --tenant TENANT --from DATE --to DATE",
		Short: "Price a period's calls again with the tenant's current tariff (--to is exclusive)",
		Long: `Price again every finished call of the tenant that started at or after --from
and before --to, with the tenant's current tariff: after a tariff change, or
after correcting one. DATE is YYYY-MM-DD (midnight in --tz, default
Europe/Oslo) or an RFC 3339 time; --from 2026-11-01 --to 2026-12-01 is November.`,
		Args: noArgs("billing rerate"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			loc, err := zoneFlag(tz)
			if err != nil {
				return err
			}
			if from == "" || to == "" {
				return &provisioning.Error{Field: "--from/--to", Problem: "both are required", Err: store.ErrInvalid,
					Fix: "give the period, e.g. --from 2026-11-01 --to 2026-12-01 for November"}
			}
			f, err := parseWhen("--from", from, loc)
			if err != nil {
				return err
			}
			t, err := parseWhen("--to", to, loc)
			if err != nil {
				return err
			}
			if !t.After(f) {
				return provisioning.Invalid("--to", to, "is not after --from "+from, "--to is exclusive: give the day after the last one")
			}
			p, tn, err := a.tenantOf(cmd.Context(), tenant)
			if err != nil {
				return err
			}
			res, err := billing.NewService(p.Store(), a.log.Named("billing")).Rerate(cmd.Context(), tn.ID, f, t)
			if err != nil {
				return err
			}
			return printOne(a, res, resultCols)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&tenant, "tenant", "", "tenant whose calls to re-rate")
	fs.StringVar(&from, "from", "", "first day (YYYY-MM-DD) or time (RFC 3339); required")
	fs.StringVar(&to, "to", "", "day or time to stop before (exclusive); required")
	fs.StringVar(&tz, "tz", defaultTZ, "IANA time zone of plain dates")
	a.addOutputFlag(cmd)
	return cmd
}

func zoneFlag(tz string) (*time.Location, error) {
	loc, err := time.LoadLocation(tz)
	if err != nil || tz == "" {
		return nil, provisioning.Invalid("--tz", tz, "is not a known time zone", "use an IANA zone name such as Europe/Oslo or UTC")
	}
	return loc, nil
}

// monthFlag reads --month YYYY-MM as a month in Oslo.
func monthFlag(month string) (from, to time.Time, err error) {
	m, perr := time.Parse("2006-01", strings.TrimSpace(month))
	if perr != nil {
		return from, to, provisioning.Invalid("--month", month, "is not a month", "write it as YYYY-MM, e.g. --month 2026-11")
	}
	return billing.Month(m.Year(), m.Month())
}

// report builds the --tenant's report of --month.
func (a *app) report(ctx context.Context, tenant, month string, top int, calls bool) (billing.Report, error) {
	from, to, err := monthFlag(month)
	if err != nil {
		return billing.Report{}, err
	}
	p, tn, err := a.tenantOf(ctx, tenant)
	if err != nil {
		return billing.Report{}, err
	}
	return billing.NewService(p.Store(), a.log.Named("billing")).Report(ctx, tn, from, to, from.Format("2006-01"), top, calls)
}

// writeTo opens --out (stdout when empty) and runs write on it.
func (a *app) writeTo(out string, write func(io.Writer) error) error {
	if out == "" || out == "-" {
		return write(a.stdout)
	}
	f, err := os.Create(out)
	if err != nil {
		return usageError{fmt.Errorf("--out %s: %w; fix: give a writable path", out, err)}
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func (a *app) billingReportCmd() *cobra.Command {
	var tenant, month, format, section, out string
	var top int
	cmd := &cobra.Command{
		Use:   "report --tenant TENANT --month YYYY-MM [--format csv|html] [--section ...]",
		Short: "A tenant's monthly call costs per department, extension and top callers",
		Long: `Build the monthly report of a tenant's priced calls (months in Europe/Oslo).
--format html writes one printable page with every section; --format csv
writes one section: departments (default), extensions, top or calls.
External numbers are masked as the tenant's --report-mask-digits says.`,
		Args: noArgs("billing report"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch format {
			case "csv", "html":
			default:
				return provisioning.Invalid("--format", format, "is not a report format", "use csv or html")
			}
			valid := false
			for _, s := range billing.Sections() {
				valid = valid || s == section
			}
			if !valid {
				return provisioning.Invalid("--section", section, "is not a report section", "use one of "+strings.Join(billing.Sections(), ", "))
			}
			rep, err := a.report(cmd.Context(), tenant, month, top, format == "html" || section == billing.SectionCalls)
			if err != nil {
				return err
			}
			return a.writeTo(out, func(w io.Writer) error {
				if format == "html" {
					return billing.WriteHTML(w, rep)
				}
				return billing.WriteCSV(w, rep, section)
			})
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&tenant, "tenant", "", "tenant to report on")
	fs.StringVar(&month, "month", "", "month, YYYY-MM; required")
	fs.StringVar(&format, "format", "csv", "csv or html")
	fs.StringVar(&section, "section", billing.SectionDepartments, "CSV section: "+strings.Join(billing.Sections(), ", "))
	fs.IntVar(&top, "top", 10, "length of the top-callers list")
	fs.StringVar(&out, "out", "", "write to this file instead of standard output")
	return cmd
}

func (a *app) billingExportCmd() *cobra.Command {
	var tenant, month, out string
	cmd := &cobra.Command{
		Use:   "export --tenant TENANT --month YYYY-MM [--out FILE]",
		Short: "The finance system's file: one line per department (columns in docs/billing.md)",
		Args:  noArgs("billing export"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			rep, err := a.report(cmd.Context(), tenant, month, -1, false)
			if err != nil {
				return err
			}
			if rep.Unrated > 0 {
				fmt.Fprintf(a.stderr, "warning: %d calls of %s in %s have no price yet (run sentral billing rate, or set a tariff)\n", rep.Unrated, rep.Tenant, rep.Period)
			}
			return a.writeTo(out, func(w io.Writer) error { return billing.WriteFinanceExport(w, rep) })
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&tenant, "tenant", "", "tenant to export")
	fs.StringVar(&month, "month", "", "month, YYYY-MM; required")
	fs.StringVar(&out, "out", "", "write to this file instead of standard output")
	return cmd
}

func (a *app) billingPurgeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "purge",
		Short: "Delete call records past each tenant's retention now (the server does this hourly)",
		Args:  noArgs("billing purge"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := a.store(cmd.Context())
			if err != nil {
				return err
			}
			n, err := billing.NewService(st, a.log.Named("billing")).Purge(cmd.Context(), time.Now())
			if err != nil {
				return err
			}
			for tenant, k := range n {
				fmt.Fprintf(a.stdout, "%s: %d call records deleted\n", tenant, k)
			}
			return nil
		},
	}
	return cmd
}
