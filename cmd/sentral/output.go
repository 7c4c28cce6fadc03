package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

// column says how one field of T appears in table and CSV output. JSON
// output marshals the values themselves, so it carries every field.
type column[T any] struct {
	name string
	get  func(T) string
}

// addOutputFlag gives a command the --output flag.
func (a *app) addOutputFlag(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&a.output, "output", "o", "table", "output format: table, json or csv")
}

func (a *app) checkOutput() error {
	switch a.output {
	case "table", "json", "csv":
		return nil
	}
	return usageError{fmt.Errorf("--output %q: use table, json or csv", a.output)}
}

// printList writes items in the chosen format.
func printList[T any](a *app, items []T, cols []column[T]) error {
	if err := a.checkOutput(); err != nil {
		return err
	}
	switch a.output {
	case "json":
		if items == nil {
			items = []T{}
		}
		return writeJSON(a.stdout, items)
	case "csv":
		w := csv.NewWriter(a.stdout)
		if err := w.Write(headers(cols)); err != nil {
			return fmt.Errorf("write csv: %w", err)
		}
		for _, it := range items {
			if err := w.Write(row(it, cols)); err != nil {
				return fmt.Errorf("write csv: %w", err)
			}
		}
		w.Flush()
		return w.Error()
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.ToUpper(strings.Join(headers(cols), "\t")))
	for _, it := range items {
		fmt.Fprintln(tw, strings.Join(row(it, cols), "\t"))
	}
	return tw.Flush()
}

// printOne writes one item: a vertical "key: value" table, a JSON object, or
// a one-row CSV.
func printOne[T any](a *app, item T, cols []column[T]) error {
	if err := a.checkOutput(); err != nil {
		return err
	}
	switch a.output {
	case "json":
		return writeJSON(a.stdout, item)
	case "csv":
		return printList(a, []T{item}, cols)
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	for _, c := range cols {
		fmt.Fprintf(tw, "%s:\t%s\n", c.name, c.get(item))
	}
	return tw.Flush()
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	return nil
}

func headers[T any](cols []column[T]) []string {
	h := make([]string, len(cols))
	for i, c := range cols {
		h[i] = c.name
	}
	return h
}

func row[T any](it T, cols []column[T]) []string {
	r := make([]string, len(cols))
	for i, c := range cols {
		r[i] = c.get(it)
	}
	return r
}
