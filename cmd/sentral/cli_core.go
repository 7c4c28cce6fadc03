package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/sentralpbx/sentral/provisioning"
	"github.com/sentralpbx/sentral/store"
)

// coreAdminCommands: tenant, ext (with passwd, pin, forward, dnd), import, voicemail.
func (a *app) coreAdminCommands() []*cobra.Command {
	ext := a.extNoun().command(a, "Manage extensions (numbers that ring)")
	ext.AddCommand(a.extPasswdCmd(), a.extPINCmd(), a.extForwardCmd(), a.extDNDCmd())
	return []*cobra.Command{
		a.tenantNoun().command(a, "Manage tenants (municipalities)"),
		ext,
		a.importCmd(),
		a.voicemailCmd(), // voicemail list (cli_voicemail.go)
	}
}

var tenantCols = []column[store.Tenant]{
	{"name", func(t store.Tenant) string { return t.Name }},
	{"display_name", func(t store.Tenant) string { return t.DisplayName }},
	{"domain", func(t store.Tenant) string { return t.Domain }},
	{"ext_ranges", func(t store.Tenant) string { return store.FormatRanges(t.Ranges, store.RangeExtension) }},
	{"did_ranges", func(t store.Tenant) string { return store.FormatRanges(t.Ranges, store.RangeDID) }},
	{"switchboard", func(t store.Tenant) string { return t.SwitchboardNumber }},
	{"outside_prefix", func(t store.Tenant) string { return t.OutsidePrefix }},
	{"unknown_did", func(t store.Tenant) string { return string(t.UnknownDID) }},
	{"cdr_retention_days", func(t store.Tenant) string { return strconv.Itoa(t.CDRRetentionDays) }},
	{"report_mask_digits", func(t store.Tenant) string { return strconv.Itoa(t.ReportMaskDigits) }},
	{"phonebook_password", func(t store.Tenant) string { return strconv.FormatBool(t.PhonebookSecret != "") }},
	{"id", func(t store.Tenant) string { return strconv.FormatInt(t.ID, 10) }},
}

func (a *app) tenantNoun() noun[store.Tenant, provisioning.TenantInput] {
	var force bool
	return noun[store.Tenant, provisioning.TenantInput]{
		name: "tenant", what: "tenant", key: "NAME", addKey: true,
		cols:  tenantCols,
		keyOf: func(t store.Tenant) string { return t.Name },
		flags: func(a *app, fs *pflag.FlagSet, update bool) func() (provisioning.TenantInput, error) {
			var display, domain, switchboard, prefix, unknownDID string
			var ext, did []string
			var force bool
			fs.StringVar(&display, "display-name", "", `name shown to people, e.g. "Fjordvik kommune" (default NAME)`)
			fs.StringVar(&domain, "domain", "", "SIP domain phones register to; also the digest realm")
			fs.StringSliceVar(&ext, "ext-range", nil, "block of internal numbers, e.g. 2000-2999 (repeatable; on update replaces all)")
			fs.StringSliceVar(&did, "did-range", nil, "block of public numbers, e.g. 55550000-55550999 (repeatable; on update replaces all)")
			fs.StringVar(&switchboard, "switchboard", "", "switchboard number, internal or public")
			fs.StringVar(&prefix, "outside-prefix", "", `digits dialled before external numbers, e.g. 0 as on the MD110 (default none; "" removes it)`)
			fs.StringVar(&unknownDID, "unknown-did", "", "calls to unassigned numbers of the DID ranges: switchboard (default) or reject")
			var retention, mask int
			var phonebook bool
			fs.IntVar(&retention, "cdr-retention-days", 0, "delete call records older than this many days (0 keeps them forever)")
			fs.IntVar(&mask, "report-mask-digits", 0, "hide this many trailing digits of external numbers in billing reports (0 none)")
			fs.BoolVar(&phonebook, "phonebook-password", false, "set the password desk phones bind to the LDAP phone book with (asked twice on a terminal, else the first line of stdin; an empty line removes it)")
			if update {
				fs.BoolVar(&force, "force", false, "change --domain even though that clears the extensions' SIP credentials")
			}
			return func() (provisioning.TenantInput, error) {
				in := provisioning.TenantInput{
					DisplayName: optStr(fs, "display-name", &display), Domain: optStr(fs, "domain", &domain),
					ExtRanges: optStrs(fs, "ext-range", &ext), DIDRanges: optStrs(fs, "did-range", &did),
					Switchboard: optStr(fs, "switchboard", &switchboard), Force: force,
					OutsidePrefix: optStr(fs, "outside-prefix", &prefix), UnknownDID: optStr(fs, "unknown-did", &unknownDID),
				}
				if fs.Changed("cdr-retention-days") {
					in.CDRRetentionDays = &retention
				}
				if fs.Changed("report-mask-digits") {
					in.ReportMaskDigits = &mask
				}
				if phonebook {
					// A terminal is asked twice; a pipe gives its first line.
					var pw string
					var err error
					if _, tty := a.terminal(); tty {
						pw, err = a.promptSecret("phone-book password", "")
					} else {
						pw, err = bufio.NewReader(a.stdin).ReadString('\n')
						if errors.Is(err, io.EOF) {
							err = nil
						}
						pw = strings.TrimRight(pw, "\r\n")
					}
					if err != nil {
						return in, err
					}
					in.PhonebookPassword = &pw
				}
				return in, nil
			}
		},
		removeFlags: func(fs *pflag.FlagSet) {
			fs.BoolVar(&force, "force", false, "remove the tenant even though it still has extensions, with everything it owns")
		},
		add: func(p *provisioning.Service, ctx context.Context, _, name string, in provisioning.TenantInput) (store.Tenant, error) {
			return p.AddTenant(ctx, name, in)
		},
		update: func(p *provisioning.Service, ctx context.Context, _, name string, in provisioning.TenantInput) (store.Tenant, error) {
			return p.UpdateTenant(ctx, name, in)
		},
		remove: func(p *provisioning.Service, ctx context.Context, _, name string) (store.Tenant, error) {
			return p.RemoveTenant(ctx, name, force)
		},
		show: func(p *provisioning.Service, ctx context.Context, _, name string) (store.Tenant, error) {
			return p.ShowTenant(ctx, name)
		},
		list: func(p *provisioning.Service, ctx context.Context, _ string) ([]store.Tenant, error) {
			return p.Tenants(ctx)
		},
	}
}

var extCols = []column[provisioning.ExtensionView]{
	{"number", func(e provisioning.ExtensionView) string { return e.Number }},
	{"name", func(e provisioning.ExtensionView) string { return e.DisplayName }},
	{"did", func(e provisioning.ExtensionView) string { return e.DID }},
	{"department", func(e provisioning.ExtensionView) string { return e.Department }},
	{"site", func(e provisioning.ExtensionView) string { return e.Site }},
	{"person", func(e provisioning.ExtensionView) string { return e.Person }},
	{"cos", func(e provisioning.ExtensionView) string { return string(e.COS) }},
	{"enabled", func(e provisioning.ExtensionView) string { return strconv.FormatBool(e.Enabled) }},
	{"credentials", func(e provisioning.ExtensionView) string { return strconv.FormatBool(e.Credentials) }},
	{"voicemail_pin", func(e provisioning.ExtensionView) string { return strconv.FormatBool(e.VoicemailPIN) }},
	{"hide_caller_id", func(e provisioning.ExtensionView) string { return strconv.FormatBool(e.HideCallerID) }},
}

func (a *app) extNoun() noun[provisioning.ExtensionView, provisioning.ExtensionInput] {
	var filter provisioning.ExtensionFilter
	return noun[provisioning.ExtensionView, provisioning.ExtensionInput]{
		name: "ext", what: "extension", key: "NUMBER", addKey: true, tenant: true,
		cols:   extCols,
		detail: extDetailCols,
		keyOf:  func(e provisioning.ExtensionView) string { return e.Number },
		flags: func(a *app, fs *pflag.FlagSet, update bool) func() (provisioning.ExtensionInput, error) {
			var name, pin, dept, site, person, cos, did string
			var generate, disabled, hide bool
			features := callFeatureFlags(fs, update)
			fs.StringVar(&name, "name", "", `name shown on phones, e.g. "Kari Nordmann"`)
			secret := secretFlags(a, fs)
			fs.BoolVar(&generate, "generate-password", false, "generate a strong SIP password and print it once")
			fs.StringVar(&pin, "pin", "", "voicemail PIN (digits); empty clears it")
			fs.StringVar(&dept, "dept", "", "department CODE (cost centre); empty clears it")
			fs.StringVar(&site, "site", "", "site NAME; empty clears it")
			fs.StringVar(&person, "person", "", "directory person by EMAIL; empty clears it")
			fs.StringVar(&cos, "cos", "", "class of service: internal, national, mobile or international (default mobile)")
			fs.BoolVar(&disabled, "disabled", false, "disable the extension (--disabled=false enables it again)")
			fs.StringVar(&did, "did", "", `direct public number, e.g. +4755550123 or 55550123, inside the tenant's DID ranges; "" removes it`)
			fs.BoolVar(&hide, "hide-caller-id", false, "withhold the caller ID on outbound calls (--hide-caller-id=false shows it again)")
			return func() (provisioning.ExtensionInput, error) {
				pw, err := secret()
				if err != nil {
					return provisioning.ExtensionInput{}, err
				}
				in := provisioning.ExtensionInput{
					Name: optStr(fs, "name", &name), Password: pw, GeneratePassword: generate,
					PIN: optStr(fs, "pin", &pin), Dept: optStr(fs, "dept", &dept), Site: optStr(fs, "site", &site),
					Person: optStr(fs, "person", &person), COS: optStr(fs, "cos", &cos), Enabled: optNot(fs, "disabled", &disabled),
					DID: optStr(fs, "did", &did), HideCallerID: optBool(fs, "hide-caller-id", &hide),
				}
				features(&in)
				return in, nil
			}
		},
		listFlags: func(fs *pflag.FlagSet) {
			fs.StringVar(&filter.Dept, "dept", "", "only extensions of this department CODE")
			fs.StringVar(&filter.Site, "site", "", "only extensions at this site NAME")
		},
		add:    (*provisioning.Service).AddExtension,
		update: (*provisioning.Service).UpdateExtension,
		remove: (*provisioning.Service).RemoveExtension,
		show:   (*provisioning.Service).Extension,
		list: func(p *provisioning.Service, ctx context.Context, tenant string) ([]provisioning.ExtensionView, error) {
			return p.Extensions(ctx, tenant, filter)
		},
		after: func(a *app, e provisioning.ExtensionView) error { return a.credentialNotes(e) },
	}
}

// credentialNotes shows a generated password once and warns about an
// extension that cannot register. Notes go to stderr so --output json and
// csv stay parseable; the generated password is in the JSON already.
func (a *app) credentialNotes(e provisioning.ExtensionView) error {
	if e.GeneratedPassword != "" && a.output == "table" {
		fmt.Fprintf(a.stdout, "generated password: %s\n(shown only this once: Sentral keeps only its digest)\n", e.GeneratedPassword)
	}
	if !e.Credentials {
		fmt.Fprintf(a.stderr, "note: extension %s has no SIP password and cannot register until you run `sentral ext passwd %s --tenant %s`\n", e.Number, e.Number, e.Tenant)
	}
	return nil
}

// extPasswdCmd sets a new SIP password: from stdin, generated, or typed
// twice at a terminal without echo.
func (a *app) extPasswdCmd() *cobra.Command {
	var tenant string
	var fromStdin, generate bool
	cmd := &cobra.Command{
		Use:   "passwd NUMBER --tenant TENANT [--password-stdin | --generate]",
		Short: "Set an extension's SIP password",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{fmt.Errorf("ext passwd: give exactly one NUMBER argument, got %d", len(args))}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			if fromStdin && generate {
				return usageError{fmt.Errorf("--password-stdin and --generate: give only one")}
			}
			password := ""
			switch {
			case generate:
			case fromStdin:
				pw, err := readLine(a.stdin)
				if err != nil {
					return err
				}
				password = pw
			default:
				pw, err := a.promptPassword()
				if err != nil {
					return err
				}
				password = pw
			}
			p, err := a.provisioner(cmd.Context())
			if err != nil {
				return err
			}
			e, err := p.SetPassword(cmd.Context(), tenant, args[0], password, generate)
			if err != nil {
				return err
			}
			if a.output == "table" {
				fmt.Fprintf(a.stdout, "new SIP password set for extension %s\n", e.Number)
				return a.credentialNotes(e)
			}
			return printOne(a, e, extCols)
		},
	}
	cmd.Flags().StringVar(&tenant, "tenant", "", "tenant the extension belongs to")
	cmd.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the new password from the first line of standard input")
	cmd.Flags().BoolVar(&generate, "generate", false, "generate a strong password and print it once")
	a.addOutputFlag(cmd)
	return cmd
}

// promptPassword asks twice on the terminal, without echo.
func (a *app) promptPassword() (string, error) {
	return a.promptSecret("SIP password", "use --password-stdin or --generate")
}

// promptSecret asks for a new secret (what) twice on the terminal,
// without echo; noTTY is the fix when stdin is not a terminal.
func (a *app) promptSecret(what, noTTY string) (string, error) {
	fd, ok := a.terminal()
	if !ok {
		return "", usageError{fmt.Errorf("no %s given and standard input is not a terminal; fix: %s", what, noTTY)}
	}
	ask := func(prompt string) (string, error) {
		fmt.Fprint(a.stderr, prompt)
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(a.stderr)
		if err != nil {
			return "", fmt.Errorf("read %s: %w", what, err)
		}
		return string(b), nil
	}
	first, err := ask("New " + what + ": ")
	if err != nil {
		return "", err
	}
	second, err := ask("Again: ")
	if err != nil {
		return "", err
	}
	if first != second {
		return "", usageError{fmt.Errorf("the two entries differ; fix: run the command again and type the same %s twice", what)}
	}
	return first, nil
}

var importCols = []column[provisioning.ImportedRow]{
	{"row", func(r provisioning.ImportedRow) string { return strconv.Itoa(r.Row) }},
	{"number", func(r provisioning.ImportedRow) string { return r.Number }},
	{"name", func(r provisioning.ImportedRow) string { return r.Name }},
	{"department", func(r provisioning.ImportedRow) string { return r.Department }},
	{"site", func(r provisioning.ImportedRow) string { return r.Site }},
	{"email", func(r provisioning.ImportedRow) string { return r.Email }},
	{"cos", func(r provisioning.ImportedRow) string { return r.COS }},
	{"enabled", func(r provisioning.ImportedRow) string { return strconv.FormatBool(r.Enabled) }},
	{"credentials", func(r provisioning.ImportedRow) string { return strconv.FormatBool(r.Credentials) }},
	{"voicemail_pin", func(r provisioning.ImportedRow) string { return strconv.FormatBool(r.PIN) }},
	{"did", func(r provisioning.ImportedRow) string { return r.DID }},
}

// oneFileArg accepts exactly one FILE argument ("-" for standard input).
func oneFileArg(what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != 1 {
			return usageError{fmt.Errorf("%s: give exactly one FILE argument (- for standard input), got %d", what, len(args))}
		}
		return nil
	}
}

// inputFile opens the FILE argument, standard input for "-"; done closes it.
func (a *app) inputFile(name string) (r io.Reader, done func(), err error) {
	if name == "-" {
		return a.stdin, func() {}, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, nil, usageError{fmt.Errorf("FILE %q: %w; fix: check the path", name, err)}
	}
	return f, func() { f.Close() }, nil
}

func (a *app) importCmd() *cobra.Command {
	parent := &cobra.Command{Use: "import", Short: "Bulk-import from CSV files"}
	var tenant string
	var opt provisioning.ImportOptions
	cmd := &cobra.Command{
		Use:   "extensions FILE.csv --tenant TENANT [--dry-run] [--create-missing]",
		Short: "Import extensions from a CSV file, all or nothing (see docs/import-format.md)",
		Args:  oneFileArg("import extensions"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			r, done, err := a.inputFile(args[0])
			if err != nil {
				return err
			}
			defer done()
			p, err := a.provisioner(cmd.Context())
			if err != nil {
				return err
			}
			res, err := p.ImportExtensions(cmd.Context(), tenant, r, opt)
			if err != nil {
				return err
			}
			return a.printImport(res)
		},
	}
	cmd.Flags().StringVar(&tenant, "tenant", "", "tenant to import into")
	cmd.Flags().BoolVar(&opt.DryRun, "dry-run", false, "check every row and show what would be imported, changing nothing")
	cmd.Flags().BoolVar(&opt.CreateMissing, "create-missing", false, "create departments, sites and people the file names but the tenant lacks")
	a.addOutputFlag(cmd)
	parent.AddCommand(cmd)
	parent.AddCommand(a.importCatalogueCmd())
	return parent
}

func (a *app) printImport(res provisioning.ImportResult) error {
	switch a.output {
	case "json":
		return writeJSON(a.stdout, res)
	case "csv":
		return printList(a, res.Extensions, importCols)
	}
	verb := "created"
	if res.DryRun {
		verb = "would create"
		fmt.Fprintln(a.stdout, "dry run: nothing was changed")
	}
	for _, d := range res.CreatedDepartments {
		fmt.Fprintf(a.stdout, "%s department %s\n", verb, d)
	}
	for _, s := range res.CreatedSites {
		fmt.Fprintf(a.stdout, "%s site %s\n", verb, s)
	}
	for _, p := range res.CreatedPeople {
		fmt.Fprintf(a.stdout, "%s person %s\n", verb, p)
	}
	if err := printList(a, res.Extensions, importCols); err != nil {
		return err
	}
	without := 0
	for _, e := range res.Extensions {
		if !e.Credentials {
			without++
		}
	}
	if without > 0 {
		fmt.Fprintf(a.stderr, "note: %d of these extensions have no SIP password and cannot register until `sentral ext passwd`\n", without)
	}
	if res.DryRun {
		fmt.Fprintf(a.stdout, "would import %d extensions (checked in %s)\n", len(res.Extensions), roundDuration(res.Elapsed))
		return nil
	}
	fmt.Fprintf(a.stdout, "imported %d extensions in %s\n", len(res.Extensions), roundDuration(res.Elapsed))
	return nil
}

// roundDuration keeps timings readable: 12ms, 1.2s.
func roundDuration(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(100 * time.Millisecond)
}
