package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// cli runs the sentral command line in-process against one database.
type cli struct {
	t   *testing.T
	db  string
	env []string
}

// newCLI gives a test its own empty SQLite store.
func newCLI(t *testing.T) *cli {
	t.Helper()
	return &cli{t: t, db: filepath.Join(t.TempDir(), "sentral.db")}
}

// run executes `sentral --db DB args...` with stdin, returning the output and exit code.
func (c *cli) runIn(stdin string, args ...string) (stdout, stderr string, code int) {
	c.t.Helper()
	var out, errb bytes.Buffer
	full := append([]string{"--db", c.db, "--log-level", "error"}, args...)
	code = run(context.Background(), full, strings.NewReader(stdin), &out, &errb, c.env)
	return out.String(), errb.String(), code
}

func (c *cli) run(args ...string) (stdout, stderr string, code int) {
	c.t.Helper()
	return c.runIn("", args...)
}

// ok runs a command that must succeed and returns its stdout.
func (c *cli) ok(args ...string) string {
	c.t.Helper()
	out, errs, code := c.run(args...)
	if code != exitOK {
		c.t.Fatalf("sentral %s: exit %d\nstderr: %s", strings.Join(args, " "), code, errs)
	}
	return out
}

// fail runs a command that must fail with the given exit code and returns its stderr.
func (c *cli) fail(want int, args ...string) string {
	c.t.Helper()
	out, errs, code := c.run(args...)
	if code != want {
		c.t.Fatalf("sentral %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, want, out, errs)
	}
	return errs
}
