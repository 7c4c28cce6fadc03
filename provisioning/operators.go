package provisioning

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sentralpbx/sentral/media/queue"
	"github.com/sentralpbx/sentral/store"
	"github.com/sentralpbx/sentral/store/passhash"
)

// OperatorInput is what an admin types to create or change a console
// operator. A nil field is not given: it takes its default when adding
// (role operator, locale nb) and stays as it is when updating. Passwords
// are set by AddOperator's argument and SetOperatorPassword only.
type OperatorInput struct {
	Name      *string
	Extension *string
	Role      *string
	Locale    *string
}

// OperatorView is an operator account as the CLI and the admin API show
// it: never the password hash.
type OperatorView struct {
	Username     string     `json:"username"`
	Name         string     `json:"name"`
	Role         string     `json:"role"`
	Tenant       string     `json:"tenant"`
	Extension    string     `json:"extension"`
	Locale       string     `json:"locale"`
	Locked       bool       `json:"locked"`
	LockedUntil  *time.Time `json:"locked_until,omitempty"`
	FailedLogins int        `json:"failed_logins"`
	LastLogin    *time.Time `json:"last_login,omitempty"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
}

// MinOperatorPassword is the shortest console password. People type it
// every shift, so it is a passphrase rather than line noise: at least 12
// characters (or the SIP policy's minimum, if longer), from the SIP
// policy's number of character kinds unless it is 20 characters or more.
const MinOperatorPassword = 12

// operatorPassphrase is the length from which a console password needs
// no mix of character kinds.
const operatorPassphrase = 20

// OperatorHash is the argon2id cost of new console passwords (see
// store/passhash). console/auth verifies whatever cost a hash carries;
// give it the same cost (auth.Options.Hash) so the dummy hash it checks
// for unknown usernames takes as long as a real one.
var OperatorHash = passhash.DefaultArgon2id

// operatorFields maps store fields to the CLI's arguments and flags.
var operatorFields = map[string]string{
	"username": "USERNAME", "display_name": "--name", "role": "--role", "extension": "--extension",
	"locale": "--locale", "tenant_id": "--tenant", "password_hash": "password",
}

// checkOperatorPassword applies the password policy to a console
// password of the account username with extension ext.
func (s *Service) checkOperatorPassword(password, username, ext string) error {
	p := s.pol.Password
	if p.MinLength < MinOperatorPassword {
		p.MinLength = MinOperatorPassword
	}
	if p.MinClasses < 1 || len([]rune(password)) >= operatorPassphrase {
		p.MinClasses = 1
	}
	fix := fmt.Sprintf("choose a password of at least %d characters that mixes %d of lower case, upper case, digits and symbols, or a passphrase of %d characters or more",
		p.MinLength, max(1, s.pol.Password.MinClasses), operatorPassphrase)
	if err := p.Check(password, ext); err != nil {
		return Invalid("password", "", err.Error(), fix)
	}
	if username != "" && strings.Contains(strings.ToLower(password), username) {
		return Invalid("password", "", "password contains the username", fix)
	}
	return nil
}

// hashOperatorPassword checks and hashes a new console password.
func (s *Service) hashOperatorPassword(password, username, ext string) (string, error) {
	if err := s.checkOperatorPassword(password, username, ext); err != nil {
		return "", err
	}
	h, err := passhash.HashArgon2id(password, OperatorHash)
	if err != nil {
		return "", fmt.Errorf("console password: %w", err)
	}
	return h, nil
}

// Operators lists a tenant's console operators ("" lists every tenant's).
func (s *Service) Operators(ctx context.Context, tenant string) ([]OperatorView, error) {
	var tid int64
	if tenant != "" {
		t, err := s.Tenant(ctx, tenant)
		if err != nil {
			return nil, err
		}
		tid = t.ID
	}
	ops, err := s.st.Operators().List(ctx, tid)
	if err != nil {
		return nil, fmt.Errorf("list operators: %w", err)
	}
	names := map[int64]string{}
	out := make([]OperatorView, 0, len(ops))
	for _, o := range ops {
		name, ok := names[o.TenantID]
		if !ok {
			t, err := s.st.Tenants().Get(ctx, o.TenantID)
			if err != nil {
				return nil, fmt.Errorf("read tenant of operator %s: %w", o.Username, err)
			}
			name, names[o.TenantID] = t.Name, t.Name
		}
		out = append(out, operatorView(o, name))
	}
	return out, nil
}

// Operator shows one console operator.
func (s *Service) Operator(ctx context.Context, username string) (OperatorView, error) {
	o, err := s.findOperator(ctx, s.st, username)
	if err != nil {
		return OperatorView{}, err
	}
	return s.viewOf(ctx, s.st, o)
}

func operatorView(o store.Operator, tenant string) OperatorView {
	v := OperatorView{Username: o.Username, Name: o.DisplayName, Role: string(o.Role), Tenant: tenant, Extension: o.Extension,
		Locale: o.Locale, Locked: o.Locked(time.Now()), FailedLogins: o.FailedCount,
		LastLogin: o.LastLoginAt, CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt}
	if v.Locked {
		v.LockedUntil = o.LockedUntil // a lock that has run out is no news
	}
	return v
}

func (s *Service) viewOf(ctx context.Context, st store.Store, o store.Operator) (OperatorView, error) {
	t, err := st.Tenants().Get(ctx, o.TenantID)
	if err != nil {
		return OperatorView{}, fmt.Errorf("read tenant of operator %s: %w", o.Username, err)
	}
	return operatorView(o, t.Name), nil
}

// findOperator finds an account by the USERNAME argument.
func (s *Service) findOperator(ctx context.Context, st store.Store, username string) (store.Operator, error) {
	name := store.NormalizeUsername(username)
	if name == "" {
		return store.Operator{}, Invalid("USERNAME", "", "is required", "name the operator, e.g. kari (see `sentral operator list --tenant TENANT`)")
	}
	o, err := st.Operators().Find(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return o, &Error{Field: "USERNAME", Value: username, Problem: "no such operator",
			Fix: "check the spelling; `sentral operator list --tenant TENANT` shows the operators", Err: err}
	}
	if err != nil {
		return o, fmt.Errorf("find operator %s: %w", name, err)
	}
	return o, nil
}

// applyOperator validates the given fields of in onto o, of tenant t.
func (s *Service) applyOperator(ctx context.Context, st store.Store, t store.Tenant, o *store.Operator, in OperatorInput) error {
	if in.Name != nil {
		n := strings.TrimSpace(*in.Name)
		if n == "" || len(n) > store.MaxDisplayName {
			return Invalid("--name", *in.Name, fmt.Sprintf("must be 1 to %d characters", store.MaxDisplayName),
				`give the name the console shows, e.g. --name "Kari Nordmann"`)
		}
		o.DisplayName = n
	}
	if in.Role != nil {
		r := store.OperatorRole(strings.ToLower(strings.TrimSpace(*in.Role)))
		if r != store.RoleOperator && r != store.RoleAdmin {
			return Invalid("--role", *in.Role, "is not a console role", "use operator (answers calls) or admin (also changes the switchboard's settings)")
		}
		o.Role = r
	}
	if in.Locale != nil {
		l := strings.ToLower(strings.TrimSpace(*in.Locale))
		if l != store.LocaleNorwegian && l != store.LocaleEnglish {
			return Invalid("--locale", *in.Locale, "is not a language the console has", "use nb (Norwegian bokmål) or en (English)")
		}
		o.Locale = l
	}
	if in.Extension != nil {
		ext := strings.TrimSpace(*in.Extension)
		fix := fmt.Sprintf("give the operator's own extension, the one their desk phone or the console's softphone registers as (see `sentral ext list --tenant %s`)", t.Name)
		if ext == "" {
			return Invalid("--extension", "", "is required: the console rings it when the operator answers a call", fix)
		}
		_, err := st.Extensions().Find(ctx, t.ID, ext)
		if errors.Is(err, store.ErrNotFound) {
			return &Error{Field: "--extension", Value: ext, Problem: fmt.Sprintf("tenant %s has no extension %s", t.Name, ext), Fix: fix, Err: err}
		}
		if err != nil {
			return fmt.Errorf("find extension %s: %w", ext, err)
		}
		o.Extension = ext
	}
	return nil
}

// AddOperator creates a console operator of tenant with a password.
func (s *Service) AddOperator(ctx context.Context, tenant, username, password string, in OperatorInput) (OperatorView, error) {
	t, err := s.Tenant(ctx, tenant)
	if err != nil {
		return OperatorView{}, err
	}
	name := store.NormalizeUsername(username)
	if !store.ValidUsername(name) {
		return OperatorView{}, Invalid("USERNAME", username,
			fmt.Sprintf("must be 2 to %d characters: a letter, then letters, digits, '.', '_' or '-'", store.MaxUsername),
			"choose a login name such as kari or kari.nordmann")
	}
	o := store.Operator{TenantID: t.ID, Username: name, Role: store.RoleOperator, Locale: store.LocaleNorwegian}
	if in.Name == nil {
		return OperatorView{}, Invalid("--name", "", "is required", `give the name the console shows, e.g. --name "Kari Nordmann"`)
	}
	if in.Extension == nil {
		return OperatorView{}, Invalid("--extension", "", "is required: the console rings it when the operator answers a call",
			"give the operator's own extension, e.g. --extension 2001")
	}
	if err := s.applyOperator(ctx, s.st, t, &o, in); err != nil {
		return OperatorView{}, err
	}
	if o.PasswordHash, err = s.hashOperatorPassword(password, o.Username, o.Extension); err != nil {
		return OperatorView{}, err
	}
	if err := s.st.Operators().Create(ctx, &o); err != nil {
		e := Explain(err, "operator", operatorFields)
		if pe, ok := e.(*Error); ok && errors.Is(err, store.ErrExists) {
			pe.Fix = "choose another username (usernames are unique across tenants; `sentral operator list` shows them)"
		}
		return OperatorView{}, fmt.Errorf("add operator %s: %w", name, e)
	}
	return operatorView(o, t.Name), nil
}

// UpdateOperator changes the given fields of a console operator.
func (s *Service) UpdateOperator(ctx context.Context, username string, in OperatorInput) (OperatorView, error) {
	o, err := s.findOperator(ctx, s.st, username)
	if err != nil {
		return OperatorView{}, err
	}
	t, err := s.st.Tenants().Get(ctx, o.TenantID)
	if err != nil {
		return OperatorView{}, fmt.Errorf("read tenant of operator %s: %w", o.Username, err)
	}
	if err := s.applyOperator(ctx, s.st, t, &o, in); err != nil {
		return OperatorView{}, err
	}
	if err := s.st.Operators().Update(ctx, &o); err != nil {
		return OperatorView{}, fmt.Errorf("update operator %s: %w", o.Username, Explain(err, "operator", operatorFields))
	}
	return operatorView(o, t.Name), nil
}

// SetOperatorPassword gives a console operator a new password. Every
// session of the account ends (the console notices the new hash).
func (s *Service) SetOperatorPassword(ctx context.Context, username, password string) (OperatorView, error) {
	o, err := s.findOperator(ctx, s.st, username)
	if err != nil {
		return OperatorView{}, err
	}
	if o.PasswordHash, err = s.hashOperatorPassword(password, o.Username, o.Extension); err != nil {
		return OperatorView{}, err
	}
	if err := s.st.Operators().Update(ctx, &o); err != nil {
		return OperatorView{}, fmt.Errorf("set password of operator %s: %w", o.Username, Explain(err, "operator", operatorFields))
	}
	return s.viewOf(ctx, s.st, o)
}

// UnlockOperator lifts a lock-out after failed logins.
func (s *Service) UnlockOperator(ctx context.Context, username string) (OperatorView, error) {
	o, err := s.findOperator(ctx, s.st, username)
	if err != nil {
		return OperatorView{}, err
	}
	if err := s.st.Operators().Unlock(ctx, o.ID); err != nil {
		return OperatorView{}, fmt.Errorf("unlock operator %s: %w", o.Username, err)
	}
	if o, err = s.st.Operators().Get(ctx, o.ID); err != nil {
		return OperatorView{}, fmt.Errorf("unlock operator %s: %w", username, err)
	}
	return s.viewOf(ctx, s.st, o)
}

// RemoveOperator deletes a console operator; their sessions end.
func (s *Service) RemoveOperator(ctx context.Context, username string) (OperatorView, error) {
	o, err := s.findOperator(ctx, s.st, username)
	if err != nil {
		return OperatorView{}, err
	}
	v, err := s.viewOf(ctx, s.st, o)
	if err != nil {
		return v, err
	}
	if err := s.st.Operators().Delete(ctx, o.ID); err != nil {
		return v, fmt.Errorf("remove operator %s: %w", o.Username, Explain(err, "operator", operatorFields))
	}
	return v, nil
}

// SwitchboardView is a tenant's switchboard settings.
type SwitchboardView struct {
	Tenant      string `json:"tenant"`
	Number      string `json:"switchboard_number"`
	Hours       string `json:"hours"` // "" always open
	NightTarget string `json:"night_target"`
}

// Switchboard shows a tenant's switchboard settings.
func (s *Service) Switchboard(ctx context.Context, tenant string) (SwitchboardView, error) {
	t, err := s.Tenant(ctx, tenant)
	if err != nil {
		return SwitchboardView{}, err
	}
	return switchboardView(t), nil
}

func switchboardView(t store.Tenant) SwitchboardView {
	return SwitchboardView{Tenant: t.Name, Number: t.SwitchboardNumber, Hours: t.SwitchboardHours, NightTarget: t.NightTarget}
}

// SetSwitchboard changes a tenant's opening hours and night target (nil:
// unchanged; "": always open, no night target). Hours must parse with
// media/queue.ParseHours and are stored as typed (trimmed), so `show`
// gives back what the admin wrote. A "voicemail:NUMBER" night target must
// name an extension of the tenant, and may not be the switchboard number.
func (s *Service) SetSwitchboard(ctx context.Context, tenant string, hours, nightTarget *string) (SwitchboardView, error) {
	if hours == nil && nightTarget == nil {
		return SwitchboardView{}, Invalid("--hours/--night-target", "", "nothing to change",
			`give --hours "mon-fri 08:00-15:30" and/or --night-target voicemail:2000 (or "" to clear either)`)
	}
	var out store.Tenant
	err := s.st.InTx(ctx, func(tx store.Store) error {
		t, err := New(tx, s.pol).Tenant(ctx, tenant)
		if err != nil {
			return err
		}
		if hours != nil {
			text := strings.TrimSpace(*hours)
			if _, err := queue.ParseHours(text); err != nil {
				return Invalid("--hours", *hours, err.Error(),
					`write days and times in Europe/Oslo time, e.g. "mon-fri 08:00-15:30; sat 10:00-14:00", or "" for always open`)
			}
			if len(text) > store.MaxSwitchboardHours {
				return Invalid("--hours", *hours, fmt.Sprintf("is longer than %d characters", store.MaxSwitchboardHours), "combine days with ranges such as mon-fri")
			}
			t.SwitchboardHours = text
		}
		if nightTarget != nil {
			target := strings.TrimSpace(*nightTarget)
			if strings.EqualFold(target, store.ForwardVoicemail) {
				return Invalid("--night-target", target, "the switchboard has no mailbox of its own",
					`name an extension's mailbox, e.g. voicemail:2000, a number such as 2001 or +4791234567, or "" for a closed message`)
			}
			if t.NightTarget, err = checkTarget(ctx, tx, t, "--night-target", target, t.SwitchboardNumber, true); err != nil {
				return err
			}
		}
		if err := tx.Tenants().Update(ctx, &t); err != nil {
			return fmt.Errorf("set switchboard of %s: %w", t.Name, Explain(err, "switchboard", map[string]string{
				"switchboard_hours": "--hours", "night_target": "--night-target"}))
		}
		out = t
		return nil
	})
	if err != nil {
		return SwitchboardView{}, err
	}
	return switchboardView(out), nil
}
