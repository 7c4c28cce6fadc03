// Package provisioning holds the admin use cases (tenants, extensions,
// devices, DECT, trunks, groups, imports) shared by the CLI and the admin
// HTTP API. It turns raw input into store entities, applies the policies
// that are configuration rather than invariants (password strength, PIN
// rules), and explains every refusal with the field at fault and a fix.
package provisioning

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sentralpbx/sentral/store"
)

// Error is a refusal caused by the user's input. Field is named the way the
// user typed it (a flag such as "--dept", an argument such as "NUMBER", or a
// CSV column); Fix tells them what to do instead.
type Error struct {
	Field   string
	Value   string
	Problem string
	Fix     string
	Err     error // the underlying store error, if any
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Field)
	if e.Value != "" {
		fmt.Fprintf(&b, " %q", e.Value)
	}
	b.WriteString(": ")
	b.WriteString(e.Problem)
	if e.Fix != "" {
		b.WriteString("\n  fix: ")
		b.WriteString(e.Fix)
	}
	return b.String()
}

// Unwrap exposes the store error so errors.Is(err, store.ErrExists) works.
func (e *Error) Unwrap() error { return e.Err }

// Invalid builds an Error for a bad input value.
func Invalid(field, value, problem, fix string) *Error {
	return &Error{Field: field, Value: value, Problem: problem, Fix: fix, Err: store.ErrInvalid}
}

// IsUserError reports whether err was caused by the input (exit code 1)
// rather than by the system (exit code 2).
func IsUserError(err error) bool {
	var pe *Error
	if errors.As(err, &pe) {
		return true
	}
	for _, k := range []error{store.ErrNotFound, store.ErrExists, store.ErrConflict, store.ErrInvalid, store.ErrInUse} {
		if errors.Is(err, k) {
			return true
		}
	}
	return false
}
