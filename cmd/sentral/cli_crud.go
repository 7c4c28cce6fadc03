package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/sentralpbx/sentral/provisioning"
)

// noun describes the add/list/show/update/remove commands of one admin
// noun. V is what the commands print, I the input the flags build. Every
// noun has the same shape; only the flags, the columns and the use cases
// differ, so the wiring lives here once.
type noun[V, I any] struct {
	name   string // command name: "site"
	what   string // for help and messages: "site", "DECT gateway"
	key    string // positional argument of show/update/remove: "NAME"
	addKey bool   // add takes the key argument too (people do not: they are found by --email)
	tenant bool   // scoped to a tenant: takes --tenant
	cols   []column[V]
	// detail, when set, is what show, add, update and remove print of the
	// one entity they handle: cols and the fields too long for a list.
	detail []column[V]
	keyOf  func(V) string

	// flags registers the add (update false) or update flags on fs and
	// returns a function that builds the input after parsing, with nil for
	// every flag not given.
	flags func(a *app, fs *pflag.FlagSet, update bool) func() (I, error)
	// listFlags and removeFlags register extra flags; the list and remove
	// closures read the variables they bind.
	listFlags   func(fs *pflag.FlagSet)
	removeFlags func(fs *pflag.FlagSet)

	add    func(p *provisioning.Service, ctx context.Context, tenant, key string, in I) (V, error)
	update func(p *provisioning.Service, ctx context.Context, tenant, key string, in I) (V, error)
	remove func(p *provisioning.Service, ctx context.Context, tenant, key string) (V, error)
	show   func(p *provisioning.Service, ctx context.Context, tenant, key string) (V, error)
	list   func(p *provisioning.Service, ctx context.Context, tenant string) ([]V, error)
	// after runs after add and update printed their result (notes, secrets shown once).
	after func(a *app, v V) error
}

// command builds `sentral NOUN` with its subcommands.
func (n noun[V, I]) command(a *app, short string) *cobra.Command {
	parent := &cobra.Command{Use: n.name, Short: short}
	parent.AddCommand(n.addCmd(a), n.listCmd(a), n.showCmd(a), n.updateCmd(a), n.removeCmd(a))
	return parent
}

func (n noun[V, I]) use(verb string, withKey bool) string {
	u := verb
	if withKey {
		u += " " + n.key
	}
	if n.tenant {
		u += " --tenant TENANT"
	}
	return u + " [flags]"
}

// leaf builds one subcommand: it binds --tenant and --output, checks the
// argument count and runs fn with the provisioner.
func (n noun[V, I]) leaf(a *app, verb, short string, withKey bool, fn func(ctx context.Context, p *provisioning.Service, tenant, key string) error) (*cobra.Command, *pflag.FlagSet) {
	var tenant string
	nargs := 0
	if withKey {
		nargs = 1
	}
	cmd := &cobra.Command{
		Use:   n.use(verb, withKey),
		Short: short,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != nargs {
				if nargs == 0 {
					return usageError{fmt.Errorf("%s %s takes no arguments, got %q; fix: give values with flags (see --help)", n.name, verb, strings.Join(args, " "))}
				}
				return usageError{fmt.Errorf("%s %s: give exactly one %s argument, got %d; fix: quote values with spaces, e.g. \"Kari Nordmann\"", n.name, verb, n.key, len(args))}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := a.provisioner(cmd.Context())
			if err != nil {
				return err
			}
			key := ""
			if withKey {
				key = args[0]
			}
			return fn(cmd.Context(), p, tenant, key)
		},
	}
	if n.tenant {
		cmd.Flags().StringVar(&tenant, "tenant", "", "tenant the "+n.what+" belongs to (see: sentral tenant list)")
	}
	a.addOutputFlag(cmd)
	return cmd, cmd.Flags()
}

// printDone reports what a write did: a sentence and the entity in table
// mode, only the entity as JSON or CSV so scripts can parse it.
func printDone[V any](a *app, verb, what, key string, v V, cols []column[V]) error {
	if err := a.checkOutput(); err != nil {
		return err
	}
	if a.output == "table" {
		fmt.Fprintf(a.stdout, "%s %s %s\n", verb, what, key)
	}
	return printOne(a, v, cols)
}

func (n noun[V, I]) addCmd(a *app) *cobra.Command {
	var collect func() (I, error)
	cmd, fs := n.leaf(a, "add", "Add "+article(n.what), n.addKey, func(ctx context.Context, p *provisioning.Service, tenant, key string) error {
		in, err := collect()
		if err != nil {
			return err
		}
		v, err := n.add(p, ctx, tenant, key, in)
		if err != nil {
			return err
		}
		if err := printDone(a, "added", n.what, n.keyOf(v), v, n.one()); err != nil {
			return err
		}
		return n.runAfter(a, v)
	})
	collect = n.flags(a, fs, false)
	return cmd
}

func (n noun[V, I]) updateCmd(a *app) *cobra.Command {
	var collect func() (I, error)
	cmd, fs := n.leaf(a, "update", "Change "+article(n.what)+" (only the flags given change)", true, func(ctx context.Context, p *provisioning.Service, tenant, key string) error {
		in, err := collect()
		if err != nil {
			return err
		}
		v, err := n.update(p, ctx, tenant, key, in)
		if err != nil {
			return err
		}
		if err := printDone(a, "updated", n.what, n.keyOf(v), v, n.one()); err != nil {
			return err
		}
		return n.runAfter(a, v)
	})
	collect = n.flags(a, fs, true)
	return cmd
}

func (n noun[V, I]) runAfter(a *app, v V) error {
	if n.after == nil {
		return nil
	}
	return n.after(a, v)
}

func (n noun[V, I]) removeCmd(a *app) *cobra.Command {
	cmd, fs := n.leaf(a, "remove", "Remove "+article(n.what), true, func(ctx context.Context, p *provisioning.Service, tenant, key string) error {
		v, err := n.remove(p, ctx, tenant, key)
		if err != nil {
			return err
		}
		return printDone(a, "removed", n.what, n.keyOf(v), v, n.one())
	})
	if n.removeFlags != nil {
		n.removeFlags(fs)
	}
	return cmd
}

func (n noun[V, I]) showCmd(a *app) *cobra.Command {
	cmd, _ := n.leaf(a, "show", "Show "+article(n.what), true, func(ctx context.Context, p *provisioning.Service, tenant, key string) error {
		v, err := n.show(p, ctx, tenant, key)
		if err != nil {
			return err
		}
		return printOne(a, v, n.one())
	})
	return cmd
}

// one is the columns printed for a single entity.
func (n noun[V, I]) one() []column[V] {
	if n.detail != nil {
		return n.detail
	}
	return n.cols
}

func (n noun[V, I]) listCmd(a *app) *cobra.Command {
	cmd, fs := n.leaf(a, "list", "List "+n.what+"s", false, func(ctx context.Context, p *provisioning.Service, tenant, _ string) error {
		vs, err := n.list(p, ctx, tenant)
		if err != nil {
			return err
		}
		return printList(a, vs, n.cols)
	})
	if n.listFlags != nil {
		n.listFlags(fs)
	}
	return cmd
}

// Helpers for flags functions: each returns a pointer only when the flag
// was given, so updates change exactly what the admin typed.

func optStr(fs *pflag.FlagSet, name string, v *string) *string {
	if fs.Changed(name) {
		return v
	}
	return nil
}

func optInt(fs *pflag.FlagSet, name string, v *int) *int {
	if fs.Changed(name) {
		return v
	}
	return nil
}

func optStrs(fs *pflag.FlagSet, name string, v *[]string) *[]string {
	if fs.Changed(name) {
		return v
	}
	return nil
}

// optNot gives the negation of a bool flag when given (--disabled -> enabled).
func optNot(fs *pflag.FlagSet, name string, v *bool) *bool {
	if fs.Changed(name) {
		b := !*v
		return &b
	}
	return nil
}

// secretFlags binds --password and --password-stdin and returns the secret
// given by either (nil if neither). Reading stdin keeps the secret out of
// shell history and `ps`.
func secretFlags(a *app, fs *pflag.FlagSet) func() (*string, error) {
	var value string
	var fromStdin bool
	fs.StringVar(&value, "password", "", "password (visible in shell history and ps: prefer --password-stdin)")
	fs.BoolVar(&fromStdin, "password-stdin", false, "read the password from the first line of standard input")
	return func() (*string, error) {
		switch {
		case fromStdin && fs.Changed("password"):
			return nil, usageError{fmt.Errorf("--password and --password-stdin: give only one; fix: drop --password")}
		case fromStdin:
			s, err := readLine(a.stdin)
			if err != nil {
				return nil, err
			}
			return &s, nil
		case fs.Changed("password"):
			return &value, nil
		}
		return nil, nil
	}
}

// readLine reads one line of a password from r, without its line ending.
func readLine(r io.Reader) (string, error) { return readSecret(r, "password") }

// readSecret reads one line of a secret (what: "password", "pin") from r,
// without its line ending, for the --WHAT-stdin flag.
func readSecret(r io.Reader, what string) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("read %s from stdin: %w", what, err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", usageError{fmt.Errorf("--%s-stdin: standard input is empty; fix: pipe the %s in, e.g. `printf %%s \"$%s\" | sentral ... --%s-stdin`",
			what, what, strings.ToUpper(what), what)}
	}
	return line, nil
}

// terminal returns the file descriptor of stdin when it is a terminal.
func (a *app) terminal() (int, bool) {
	f, ok := a.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return 0, false
	}
	return int(f.Fd()), true
}

// article puts "a" or "an" before a noun for help texts.
func article(what string) string {
	if strings.ContainsRune("aeiouAEIOU", rune(what[0])) {
		return "an " + what
	}
	return "a " + what
}
