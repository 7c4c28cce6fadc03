package provisioning

import (
	"context"
	"errors"
	"fmt"

	"github.com/sentralpbx/sentral/store"
)

// Policies are the configurable rules applied on input.
type Policies struct {
	Password PasswordPolicy
	PIN      PINPolicy
}

// Service runs the admin use cases against a store.
type Service struct {
	st  store.Store
	pol Policies
}

// New returns a Service over st.
func New(st store.Store, pol Policies) *Service { return &Service{st: st, pol: pol} }

// Store exposes the underlying store for read-only listings.
func (s *Service) Store() store.Store { return s.st }

// Tenant resolves the tenant a command names with --tenant.
func (s *Service) Tenant(ctx context.Context, name string) (store.Tenant, error) {
	if name == "" {
		return store.Tenant{}, &Error{Field: "--tenant", Problem: "is required", Fix: "name the tenant, e.g. --tenant fjordvik (see `sentral tenant list`)", Err: store.ErrInvalid}
	}
	t, err := s.st.Tenants().Find(ctx, 0, name)
	if errors.Is(err, store.ErrNotFound) {
		return t, &Error{Field: "--tenant", Value: name, Problem: "no such tenant", Fix: "see `sentral tenant list`, or create it with `sentral tenant add`", Err: err}
	}
	if err != nil {
		return t, fmt.Errorf("find tenant %s: %w", name, err)
	}
	return t, nil
}

// Explain turns a store refusal into an Error that names the field the way
// the user typed it. flags maps store field names ("number", "department_id")
// to what the user typed ("NUMBER", "--dept"); noun is the CLI noun ("ext")
// used in fix hints. Errors that are not refusals pass through unchanged.
func Explain(err error, noun string, flags map[string]string) error {
	var fe *store.FieldError
	if !errors.As(err, &fe) {
		return err
	}
	field := fe.Field
	if f, ok := flags[fe.Field]; ok {
		field = f
	}
	e := &Error{Field: field, Value: fe.Value, Problem: fe.Reason, Err: err}
	switch {
	case errors.Is(err, store.ErrExists):
		e.Fix = fmt.Sprintf("choose another value, or change the existing one with `sentral %s update`", noun)
	case errors.Is(err, store.ErrNotFound):
		e.Fix = "check the spelling; `sentral ... list` shows what exists"
	case errors.Is(err, store.ErrConflict):
		e.Fix = "someone changed it at the same time: run the command again"
	case errors.Is(err, store.ErrInUse):
		e.Fix = "move or remove what still refers to it first"
	default:
		e.Fix = fmt.Sprintf("correct %s and run the command again", field)
	}
	return e
}
