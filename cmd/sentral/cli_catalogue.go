package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sentralpbx/sentral/provisioning"
)

var catalogueChangeCols = []column[provisioning.CatalogueChange]{
	{"row", func(c provisioning.CatalogueChange) string { return strconv.Itoa(c.Row) }},
	{"kind", func(c provisioning.CatalogueChange) string { return c.Kind }},
	{"key", func(c provisioning.CatalogueChange) string { return c.Key }},
	{"action", func(c provisioning.CatalogueChange) string { return c.Action }},
	{"fields", func(c provisioning.CatalogueChange) string { return strings.Join(c.Fields, " ") }},
}

// importCatalogueCmd is `sentral import catalogue`, registered under
// `sentral import` by importCmd.
func (a *app) importCatalogueCmd() *cobra.Command {
	var tenant string
	var opt provisioning.CatalogueOptions
	cmd := &cobra.Command{
		Use:   "catalogue FILE.csv --tenant TENANT [--dry-run]",
		Short: "Import the legacy phone catalogue (people, extensions, departments, sites); safe to repeat (see docs/import-format.md)",
		Long: `Make the tenant match a phone catalogue exported from the old switchboard:
departments are found by code, sites by name, people by email (else by the
extension they have, else by name) and extensions by number. What exists and
matches is left alone, so importing the same file twice changes nothing.
All or nothing: any bad row is reported with its row and column, and then
nothing is changed. New extensions have no SIP password: set one with
` + "`sentral ext passwd`" + `.`,
		Args: oneFileArg("import catalogue"),
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
			res, err := p.ImportCatalogue(cmd.Context(), tenant, r, opt)
			if err != nil {
				return err
			}
			return a.printCatalogue(res, tenant)
		},
	}
	cmd.Flags().StringVar(&tenant, "tenant", "", "tenant to import into")
	cmd.Flags().BoolVar(&opt.DryRun, "dry-run", false, "check every row against the database and show what would change, changing nothing")
	a.addOutputFlag(cmd)
	return cmd
}

// printCatalogue prints what an import did: each change, then a summary
// table (table output); the whole result (json); or the changes (csv).
func (a *app) printCatalogue(res provisioning.CatalogueResult, tenant string) error {
	switch a.output {
	case "json":
		return writeJSON(a.stdout, res)
	case "csv":
		return printList(a, res.Changes, catalogueChangeCols)
	}
	if res.DryRun {
		fmt.Fprintln(a.stdout, "dry run: nothing was changed")
	}
	for _, c := range res.Changes {
		verb := c.Action
		if res.DryRun {
			verb = "would be " + verb
		}
		line := fmt.Sprintf("row %d: %s %s %s", c.Row, c.Kind, c.Key, verb)
		if len(c.Fields) > 0 {
			line += " (" + strings.Join(c.Fields, ", ") + ")"
		}
		fmt.Fprintln(a.stdout, line)
	}
	fmt.Fprintf(a.stdout, "%-12s %8s %8s %10s\n", "", "created", "updated", "unchanged")
	var total provisioning.CatalogueCounts
	for _, k := range []struct {
		name string
		c    provisioning.CatalogueCounts
	}{{"departments", res.Departments}, {"sites", res.Sites}, {"people", res.People}, {"extensions", res.Extensions}} {
		fmt.Fprintf(a.stdout, "%-12s %8d %8d %10d\n", k.name, k.c.Created, k.c.Updated, k.c.Unchanged)
		total.Created += k.c.Created
		total.Updated += k.c.Updated
		total.Unchanged += k.c.Unchanged
	}
	if n := len(res.NoPassword); n > 0 {
		fmt.Fprintf(a.stderr, "note: %d new extension(s) have no SIP password and cannot register until `sentral ext passwd NUMBER --tenant %s`\n", n, tenant)
	}
	switch {
	case res.DryRun:
		fmt.Fprintf(a.stdout, "would create %d and update %d; %d unchanged (checked in %s)\n", total.Created, total.Updated, total.Unchanged, roundDuration(res.Elapsed))
	case !res.Changed():
		fmt.Fprintf(a.stdout, "nothing to change: the tenant already matches the catalogue (%d unchanged, %s)\n", total.Unchanged, roundDuration(res.Elapsed))
	default:
		fmt.Fprintf(a.stdout, "created %d and updated %d; %d unchanged (in %s)\n", total.Created, total.Updated, total.Unchanged, roundDuration(res.Elapsed))
	}
	return nil
}
