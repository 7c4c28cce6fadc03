package main

import (
	"context"
	"errors"
	"fmt"
	"os/user"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/audit"
	"github.com/sentralpbx/sentral/provisioning"
	"github.com/sentralpbx/sentral/store"
)

// auditCmd groups the audit log commands.
func (a *app) auditCmd() *cobra.Command {
	c := &cobra.Command{Use: "audit", Short: "Audit log: who did what, when and from where (admins and operators)"}
	c.AddCommand(a.auditListCmd())
	return c
}

// auditListFlags are the flags of `audit list`, as typed.
type auditListFlags struct {
	tenant, actor, action, since, until, tz string
	limit                                   int
}

func (a *app) auditListCmd() *cobra.Command {
	var fl auditListFlags
	cmd := &cobra.Command{
		Use:   "list [--tenant T] [--actor A] [--action PREFIX] [--since WHEN] [--until WHEN] [--limit N]",
		Short: "List audit log entries, newest first",
		Long: `List the audit log: every admin command that changed something (actor
cli:<unix user>, source local), every write through the admin API (actor
admin-api, source the client's ip:port) and every console login, logout,
lock-out and operator action (actor operator:<username>, source the
browser's ip:port). Newest first; --limit keeps the newest N.

WHEN is YYYY-MM-DD (midnight in the --tz zone, default Europe/Oslo), an
RFC 3339 time such as 2026-12-01T08:00:00+01:00, or a duration back from
now such as 24h, 90m or 7d. --until is exclusive. Table and CSV output
show times in the --tz zone; JSON shows them in UTC.`,
		Example: `  sentral audit list --since 24h
  sentral audit list --tenant fjordvik --action operator.login --since 2026-12-01
  sentral audit list --actor operator:kari --limit 50 --output json`,
		Args: noArgs("audit list"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			loc, f, err := fl.filter(time.Now())
			if err != nil {
				return err
			}
			st, err := a.store(cmd.Context())
			if err != nil {
				return err
			}
			if fl.tenant != "" {
				if f.TenantID, err = auditTenantID(cmd.Context(), st, fl.tenant); err != nil {
					return err
				}
			}
			es, err := st.Audit().List(cmd.Context(), f)
			if err != nil {
				return err
			}
			return printList(a, es, auditColumns(loc, a.output == "csv", a.tenantNames(cmd.Context(), st)))
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&fl.tenant, "tenant", "", "only entries of this tenant (its name, or its id for a removed tenant)")
	fs.StringVar(&fl.actor, "actor", "", "only entries of this actor, e.g. operator:kari, cli:root or admin-api")
	fs.StringVar(&fl.action, "action", "", "only actions starting with this, e.g. operator.login or call.")
	fs.StringVar(&fl.since, "since", "", "entries at or after this day, time or duration ago (24h, 7d)")
	fs.StringVar(&fl.until, "until", "", "entries before this day, time or duration ago (exclusive)")
	fs.IntVar(&fl.limit, "limit", 0, "at most this many entries, the newest (0: all)")
	fs.StringVar(&fl.tz, "tz", defaultTZ, "IANA time zone of plain dates and of the times shown")
	a.addOutputFlag(cmd)
	return cmd
}

// filter checks the flags and builds the store filter (all but the
// tenant, which needs the store) and the zone to show times in.
func (fl auditListFlags) filter(now time.Time) (*time.Location, store.AuditFilter, error) {
	var f store.AuditFilter
	loc, err := time.LoadLocation(fl.tz)
	if err != nil || fl.tz == "" {
		return nil, f, provisioning.Invalid("--tz", fl.tz, "is not a known time zone",
			"use an IANA zone name such as Europe/Oslo or UTC")
	}
	if fl.since != "" {
		if f.Since, err = parseSince("--since", fl.since, loc, now); err != nil {
			return nil, f, err
		}
	}
	if fl.until != "" {
		if f.Until, err = parseSince("--until", fl.until, loc, now); err != nil {
			return nil, f, err
		}
		if !f.Since.IsZero() && !f.Until.After(f.Since) {
			return nil, f, provisioning.Invalid("--until", fl.until, "is not after --since "+fl.since,
				"--until is exclusive: give a later time, e.g. --since 2026-12-01 --until 2026-12-02 for one day")
		}
	}
	if fl.limit < 0 {
		return nil, f, provisioning.Invalid("--limit", strconv.Itoa(fl.limit), "is negative", "give a count, or 0 for all entries")
	}
	f.Actor, f.Action, f.Limit = strings.TrimSpace(fl.actor), strings.TrimSpace(fl.action), fl.limit
	return loc, f, nil
}

// parseSince reads a --since/--until value: a duration back from now
// ("24h", "90m", "7d"), a day (midnight in loc) or an RFC 3339 time.
func parseSince(flag, v string, loc *time.Location, now time.Time) (time.Time, error) {
	v = strings.TrimSpace(v)
	if days, ok := strings.CutSuffix(v, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= 0 {
			return now.AddDate(0, 0, -n), nil
		}
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	if t, err := time.ParseInLocation(dateLayout, v, loc); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	return time.Time{}, provisioning.Invalid(flag, v, "is neither a duration, a date (YYYY-MM-DD) nor an RFC 3339 time",
		"write it as 24h or 7d (back from now), 2026-12-01 (midnight, --tz time) or 2026-12-01T08:00:00+01:00")
}

// auditTenantID resolves --tenant: a tenant's name, or the id of one
// (removed tenants' entries stay in the log under their id).
func auditTenantID(ctx context.Context, st store.Store, name string) (int64, error) {
	t, err := st.Tenants().Find(ctx, 0, strings.TrimSpace(name))
	if err == nil {
		return t.ID, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return 0, err
	}
	if id, perr := strconv.ParseInt(name, 10, 64); perr == nil && id > 0 {
		return id, nil
	}
	return 0, provisioning.Invalid("--tenant", name, "is no tenant's name",
		"give a name from sentral tenant list, or the numeric id of a removed tenant")
}

// tenantNames maps tenant ids to names for the table (ids of removed
// tenants stay numbers).
func (a *app) tenantNames(ctx context.Context, st store.Store) map[int64]string {
	ts, err := st.Tenants().List(ctx, store.ListOptions{})
	if err != nil {
		a.log.Warn("audit list: tenant names unavailable", zap.Error(err))
		return nil
	}
	m := make(map[int64]string, len(ts))
	for _, t := range ts {
		m[t.ID] = t.Name
	}
	return m
}

// auditColumns are the table columns or the CSV columns (every field,
// named as in JSON). Times are shown in loc.
func auditColumns(loc *time.Location, csv bool, names map[int64]string) []column[store.AuditEntry] {
	layout := "2006-01-02 15:04:05"
	if csv {
		layout = time.RFC3339Nano
	}
	at := func(e store.AuditEntry) string { return e.At.In(loc).Format(layout) }
	tenant := func(e store.AuditEntry) string {
		if e.TenantID == 0 {
			return ""
		}
		if n, ok := names[e.TenantID]; ok {
			return n
		}
		return strconv.FormatInt(e.TenantID, 10)
	}
	if !csv {
		return []column[store.AuditEntry]{
			{"at", at},
			{"tenant", tenant},
			{"actor", func(e store.AuditEntry) string { return e.Actor }},
			{"action", func(e store.AuditEntry) string { return e.Action }},
			{"target", func(e store.AuditEntry) string { return e.Target }},
			{"source", func(e store.AuditEntry) string { return e.Source }},
			{"outcome", func(e store.AuditEntry) string { return e.Outcome }},
			{"detail", func(e store.AuditEntry) string { return e.Detail }},
		}
	}
	return []column[store.AuditEntry]{
		{"id", func(e store.AuditEntry) string { return strconv.FormatInt(e.ID, 10) }},
		{"at", at},
		{"tenant_id", func(e store.AuditEntry) string {
			if e.TenantID == 0 {
				return ""
			}
			return strconv.FormatInt(e.TenantID, 10)
		}},
		{"actor", func(e store.AuditEntry) string { return e.Actor }},
		{"role", func(e store.AuditEntry) string { return e.Role }},
		{"action", func(e store.AuditEntry) string { return e.Action }},
		{"target", func(e store.AuditEntry) string { return e.Target }},
		{"source", func(e store.AuditEntry) string { return e.Source }},
		{"detail", func(e store.AuditEntry) string { return e.Detail }},
		{"outcome", func(e store.AuditEntry) string { return e.Outcome }},
	}
}

// readOnlyVerbs are the admin commands that change nothing; every other
// command that opened the store is recorded by auditCommand.
var readOnlyVerbs = map[string]bool{"list": true, "show": true, "status": true, "report": true, "export": true,
	"registrations": true, "bans": true, "backup": true, "serve": true, "help": true, "completion": true}

// cliNouns name the CLI's nouns as the audit log's entities.
var cliNouns = map[string]string{"ext": "extension", "dept": "department", "dect gateway": "dect-gateway",
	"dect handset": "dect-handset"}

// cliVerbs name the CLI's verbs as the audit log's actions.
var cliVerbs = map[string]string{"add": "create", "remove": "delete"}

// sensitiveFlag reports whether a flag's value must not be recorded.
func sensitiveFlag(name string) bool {
	n := strings.ToLower(name)
	for _, s := range []string{"pass", "secret", "pin", "key", "token", "ha1"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

// cliAction names the action of an admin command: "ext add" is
// extension.create, "operator unlock" operator.unlock, "import
// extensions" extension.import.
func cliAction(path []string) string {
	if len(path) == 0 {
		return "cli.unknown"
	}
	if path[0] == "import" && len(path) == 2 {
		noun := strings.TrimSuffix(path[1], "s")
		return noun + ".import"
	}
	if len(path) == 1 {
		return path[0]
	}
	noun := strings.Join(path[:len(path)-1], " ")
	if n, ok := cliNouns[noun]; ok {
		noun = n
	}
	verb := path[len(path)-1]
	if v, ok := cliVerbs[verb]; ok {
		verb = v
	}
	return strings.ReplaceAll(noun, " ", "-") + "." + verb
}

// auditCommand records an admin command that may have changed something
// (it opened the store and is not a read) in the store's audit log:
// actor cli:<unix user>, source local, target its arguments and --tenant,
// detail the flags it was given (values of secret ones left out). A
// failure to record is logged; it does not change the command's result.
func (a *app) auditCommand(ctx context.Context, cmd *cobra.Command, runErr error) {
	if cmd == nil || a.st == nil || readOnlyVerbs[cmd.Name()] {
		return
	}
	var path []string
	for c := cmd; c != nil && c.HasParent(); c = c.Parent() {
		path = append([]string{c.Name()}, path...)
	}
	if len(path) == 0 || path[0] == "audit" {
		return
	}
	e := store.AuditEntry{Actor: audit.CLI(a.unixUser()), Role: store.AuditRoleAdmin, Action: cliAction(path),
		Source: audit.Local, Outcome: store.AuditOK}
	target := cmd.Flags().Args()
	var kv []string
	var changed []string
	cmd.Flags().Visit(func(f *pflag.Flag) { changed = append(changed, f.Name) })
	sort.Strings(changed)
	for _, name := range changed {
		f := cmd.Flags().Lookup(name)
		switch {
		case name == "output":
			continue
		case sensitiveFlag(name):
			kv = append(kv, name, "(set)")
		default:
			kv = append(kv, name, f.Value.String())
		}
	}
	if sudo := envMap(a.environ)["SUDO_USER"]; sudo != "" {
		kv = append(kv, "sudo_user", sudo)
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	tenant := ""
	if f := cmd.Flags().Lookup("tenant"); f != nil {
		tenant = f.Value.String()
	} else if path[0] == "tenant" && len(target) > 0 {
		tenant = target[0]
	}
	if tenant != "" {
		if t, err := a.st.Tenants().Find(rctx, 0, tenant); err == nil {
			e.TenantID = t.ID
		}
		if path[0] != "tenant" {
			target = append([]string{"tenant " + tenant}, target...)
		}
	}
	e.Target = strings.Join(target, " ")
	if runErr != nil {
		e.Outcome = store.AuditError
		kv = append(kv, "error", runErr.Error())
	}
	e.Detail = audit.Detail(kv...)
	if err := a.st.Audit().Append(rctx, e); err != nil {
		a.log.Warn("audit entry not written", zap.Error(err), zap.String("action", e.Action))
		fmt.Fprintf(a.stderr, "warning: the audit log could not record %s: %v\n", e.Action, err)
	}
}

// unixUser is who runs the command: the login name, else $USER.
func (a *app) unixUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if u := envMap(a.environ)["USER"]; u != "" {
		return u
	}
	return "unknown"
}
