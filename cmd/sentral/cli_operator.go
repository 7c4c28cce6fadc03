package main

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/sentralpbx/sentral/provisioning"
)

// consoleCommands: operator (console accounts) and switchboard (opening
// hours and night target); see docs/console.md.
func (a *app) consoleCommands() []*cobra.Command {
	op := &cobra.Command{Use: "operator", Short: "Manage switchboard console operators (who may log in to the console)"}
	op.AddCommand(a.operatorAddCmd(), a.operatorListCmd(), a.operatorShowCmd(), a.operatorUpdateCmd(),
		a.operatorPasswdCmd(), a.operatorUnlockCmd(), a.operatorRemoveCmd())
	sb := &cobra.Command{Use: "switchboard", Short: "A tenant's switchboard: opening hours and night service"}
	sb.AddCommand(a.switchboardSetCmd(), a.switchboardShowCmd())
	return []*cobra.Command{op, sb}
}

func optTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

var operatorCols = []column[provisioning.OperatorView]{
	{"username", func(o provisioning.OperatorView) string { return o.Username }},
	{"name", func(o provisioning.OperatorView) string { return o.Name }},
	{"tenant", func(o provisioning.OperatorView) string { return o.Tenant }},
	{"role", func(o provisioning.OperatorView) string { return o.Role }},
	{"extension", func(o provisioning.OperatorView) string { return o.Extension }},
	{"locale", func(o provisioning.OperatorView) string { return o.Locale }},
	{"locked_until", func(o provisioning.OperatorView) string {
		if !o.Locked {
			return ""
		}
		return optTime(o.LockedUntil)
	}},
	{"failed_logins", func(o provisioning.OperatorView) string { return strconv.Itoa(o.FailedLogins) }},
	{"last_login", func(o provisioning.OperatorView) string { return optTime(o.LastLogin) }},
}

// usernameArg accepts exactly one USERNAME argument.
func usernameArg(what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != 1 {
			return usageError{fmt.Errorf("%s: give exactly one USERNAME argument, got %d; fix: e.g. sentral %s kari", what, len(args), what)}
		}
		return nil
	}
}

// operatorFlags binds --name, --extension, --role and --locale and
// returns the input with nil for every flag not given.
func operatorFlags(fs *pflag.FlagSet) func() provisioning.OperatorInput {
	var name, ext, role, locale string
	fs.StringVar(&name, "name", "", `name the console shows, e.g. "Kari Nordmann"`)
	fs.StringVar(&ext, "extension", "", "the operator's own extension (desk phone or the console's softphone), rung when they answer a call")
	fs.StringVar(&role, "role", "", "operator (answers calls; the default) or admin (also changes the switchboard's settings)")
	fs.StringVar(&locale, "locale", "", "console language: nb (the default) or en")
	return func() provisioning.OperatorInput {
		return provisioning.OperatorInput{Name: optStr(fs, "name", &name), Extension: optStr(fs, "extension", &ext),
			Role: optStr(fs, "role", &role), Locale: optStr(fs, "locale", &locale)}
	}
}

// consolePassword reads a new console password: the first line of stdin
// with --password-stdin, else typed twice at a terminal without echo.
func (a *app) consolePassword(fromStdin bool) (string, error) {
	if fromStdin {
		return readLine(a.stdin)
	}
	return a.promptSecret("console password", "pipe it in with --password-stdin")
}

func (a *app) operatorAddCmd() *cobra.Command {
	var tenant string
	var fromStdin bool
	var in func() provisioning.OperatorInput
	cmd := &cobra.Command{
		Use:   "add USERNAME --tenant TENANT --name NAME --extension NUMBER [--role operator|admin] [--locale nb|en] [--password-stdin]",
		Short: "Create a console operator (the password is asked twice, or read with --password-stdin)",
		Long: `Create an account for the switchboard console. USERNAME is what the operator
types to log in (lower-case; unique across tenants). The password is asked
twice on a terminal, or read from the first line of standard input with
--password-stdin; it needs at least 12 characters mixing kinds of
characters, or 20 characters as a passphrase.`,
		Args: usernameArg("operator add"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			return a.withPassword(fromStdin, func(pw string) error {
				p, err := a.provisioner(cmd.Context())
				if err != nil {
					return err
				}
				v, err := p.AddOperator(cmd.Context(), tenant, args[0], pw, in())
				if err != nil {
					return err
				}
				return printDone(a, "added", "operator", v.Username, v, operatorCols)
			})
		},
	}
	cmd.Flags().StringVar(&tenant, "tenant", "", "tenant the operator answers for (see: sentral tenant list)")
	in = operatorFlags(cmd.Flags())
	cmd.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from the first line of standard input")
	a.addOutputFlag(cmd)
	return cmd
}

// withPassword reads the password first (before the store is opened, so
// a typing mistake costs nothing) and runs fn with it.
func (a *app) withPassword(fromStdin bool, fn func(pw string) error) error {
	pw, err := a.consolePassword(fromStdin)
	if err != nil {
		return err
	}
	return fn(pw)
}

func (a *app) operatorListCmd() *cobra.Command {
	var tenant string
	cmd := &cobra.Command{
		Use:   "list [--tenant TENANT]",
		Short: "List console operators (of one tenant, or of all)",
		Args:  noArgs("operator list"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			p, err := a.provisioner(cmd.Context())
			if err != nil {
				return err
			}
			ops, err := p.Operators(cmd.Context(), tenant)
			if err != nil {
				return err
			}
			return printList(a, ops, operatorCols)
		},
	}
	cmd.Flags().StringVar(&tenant, "tenant", "", "only this tenant's operators")
	a.addOutputFlag(cmd)
	return cmd
}

// operatorLeaf builds a USERNAME command that runs one use case.
func (a *app) operatorLeaf(verb, short string, run func(cmd *cobra.Command, p *provisioning.Service, username string) (provisioning.OperatorView, error), done string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   verb + " USERNAME",
		Short: short,
		Args:  usernameArg("operator " + verb),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			p, err := a.provisioner(cmd.Context())
			if err != nil {
				return err
			}
			v, err := run(cmd, p, args[0])
			if err != nil {
				return err
			}
			if done == "" {
				return printOne(a, v, operatorCols)
			}
			return printDone(a, done, "operator", v.Username, v, operatorCols)
		},
	}
	a.addOutputFlag(cmd)
	return cmd
}

func (a *app) operatorShowCmd() *cobra.Command {
	return a.operatorLeaf("show", "Show a console operator", func(cmd *cobra.Command, p *provisioning.Service, u string) (provisioning.OperatorView, error) {
		return p.Operator(cmd.Context(), u)
	}, "")
}

func (a *app) operatorUpdateCmd() *cobra.Command {
	var in func() provisioning.OperatorInput
	cmd := a.operatorLeaf("update", "Change a console operator's name, extension, role or language (passwords: operator passwd)",
		func(cmd *cobra.Command, p *provisioning.Service, u string) (provisioning.OperatorView, error) {
			return p.UpdateOperator(cmd.Context(), u, in())
		}, "updated")
	cmd.Use = "update USERNAME [--name NAME] [--extension NUMBER] [--role operator|admin] [--locale nb|en]"
	in = operatorFlags(cmd.Flags())
	return cmd
}

func (a *app) operatorRemoveCmd() *cobra.Command {
	return a.operatorLeaf("remove", "Delete a console operator (their sessions end)",
		func(cmd *cobra.Command, p *provisioning.Service, u string) (provisioning.OperatorView, error) {
			return p.RemoveOperator(cmd.Context(), u)
		}, "removed")
}

func (a *app) operatorUnlockCmd() *cobra.Command {
	return a.operatorLeaf("unlock", "Lift a lock-out after failed logins (5 in 15 minutes lock an account for 15 minutes)",
		func(cmd *cobra.Command, p *provisioning.Service, u string) (provisioning.OperatorView, error) {
			return p.UnlockOperator(cmd.Context(), u)
		}, "unlocked")
}

func (a *app) operatorPasswdCmd() *cobra.Command {
	var fromStdin bool
	cmd := a.operatorLeaf("passwd", "Set a console operator's password (their sessions end)",
		func(cmd *cobra.Command, p *provisioning.Service, u string) (provisioning.OperatorView, error) {
			pw, err := a.consolePassword(fromStdin)
			if err != nil {
				return provisioning.OperatorView{}, err
			}
			return p.SetOperatorPassword(cmd.Context(), u, pw)
		}, "new password set for")
	cmd.Use = "passwd USERNAME [--password-stdin]"
	cmd.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the new password from the first line of standard input")
	return cmd
}

var switchboardCols = []column[provisioning.SwitchboardView]{
	{"tenant", func(s provisioning.SwitchboardView) string { return s.Tenant }},
	{"switchboard_number", func(s provisioning.SwitchboardView) string { return s.Number }},
	{"hours", func(s provisioning.SwitchboardView) string {
		if s.Hours == "" {
			return "always open"
		}
		return s.Hours
	}},
	{"night_target", func(s provisioning.SwitchboardView) string {
		if s.NightTarget == "" {
			return "none (closed message)"
		}
		return s.NightTarget
	}},
}

// tenantArg accepts exactly one TENANT argument.
func tenantArg(what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != 1 {
			return usageError{fmt.Errorf("%s: give exactly one TENANT argument, got %d; fix: e.g. sentral %s fjordvik", what, len(args), what)}
		}
		return nil
	}
}

func (a *app) switchboardSetCmd() *cobra.Command {
	var hours, night string
	cmd := &cobra.Command{
		Use:   `set TENANT [--hours "mon-fri 08:00-15:30"] [--night-target voicemail:NUMBER|NUMBER]`,
		Short: "Set a tenant's switchboard opening hours and night target",
		Long: `Set when the switchboard is open and where calls to the switchboard number go
when it is closed or no operator is available.

--hours takes rules separated by ";": days (mon-fri, sat, mon,wed; Norwegian
man-fre work too; daily for every day) and times HH:MM-HH:MM in Europe/Oslo
time, e.g. "mon-fri 08:00-11:30,12:00-15:30; sat 10:00-14:00". "" means
always open.

--night-target is voicemail:NUMBER (that extension's mailbox) or a number
(an extension, a group or an external number); "" plays a closed message.`,
		Args: tenantArg("switchboard set"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			p, err := a.provisioner(cmd.Context())
			if err != nil {
				return err
			}
			fs := cmd.Flags()
			v, err := p.SetSwitchboard(cmd.Context(), args[0], optStr(fs, "hours", &hours), optStr(fs, "night-target", &night))
			if err != nil {
				return tenantArgError(err)
			}
			return printDone(a, "set", "switchboard of", v.Tenant, v, switchboardCols)
		},
	}
	cmd.Flags().StringVar(&hours, "hours", "", `opening hours, e.g. "mon-fri 08:00-15:30" (Europe/Oslo); "" always open`)
	cmd.Flags().StringVar(&night, "night-target", "", `where calls go when closed: voicemail:NUMBER or a number; "" a closed message`)
	a.addOutputFlag(cmd)
	return cmd
}

func (a *app) switchboardShowCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "show TENANT",
		Short: "Show a tenant's switchboard number, opening hours and night target",
		Args:  tenantArg("switchboard show"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			p, err := a.provisioner(cmd.Context())
			if err != nil {
				return err
			}
			v, err := p.Switchboard(cmd.Context(), args[0])
			if err != nil {
				return tenantArgError(err)
			}
			return printOne(a, v, switchboardCols)
		},
	}
	a.addOutputFlag(cmd)
	return cmd
}

// tenantArgError names the TENANT argument where provisioning blamed --tenant.
func tenantArgError(err error) error {
	var pe *provisioning.Error
	if errors.As(err, &pe) && pe.Field == "--tenant" {
		pe.Field = "TENANT"
	}
	return err
}
