package store

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// This file holds the data model of the switchboard console: the
// operators who log in to it and the tenant's switchboard settings.

// EntityOperator names console operator accounts in FieldErrors. Like
// tariffs they are kept outside the change log: the console reads an
// account on every request, so nothing caches them.
const EntityOperator Entity = "operator"

// MaxSwitchboardHours bounds Tenant.SwitchboardHours: a week of opening
// hours with exceptions fits many times over; longer is a paste accident.
const MaxSwitchboardHours = 500

// ValidateNightTarget checks a tenant's NightTarget: empty (none),
// "voicemail:NUMBER" or a number, as ValidateForwardTarget checks a
// group's overflow (a tenant has no mailbox of its own). A refusal is a
// *FieldError of kind ErrInvalid on EntityTenant's "night_target".
func ValidateNightTarget(target string) error {
	if target == ForwardVoicemail {
		return &FieldError{Entity: EntityTenant, Field: "night_target", Value: target, Kind: ErrInvalid,
			Reason: "the switchboard has no mailbox of its own: use voicemail:NUMBER for an extension's mailbox, or a number"}
	}
	if err := ValidateForwardTarget(target, true); err != nil {
		fe := err.(*FieldError)
		fe.Entity, fe.Field = EntityTenant, "night_target"
		return fe
	}
	return nil
}

// OperatorRole is what an operator may do in the console.
type OperatorRole string

// Operator roles: operators answer and put through calls; admins also see
// and change the switchboard's settings.
const (
	RoleOperator OperatorRole = "operator"
	RoleAdmin    OperatorRole = "admin"
)

// Console locales.
const (
	LocaleNorwegian = "nb"
	LocaleEnglish   = "en"
)

// Bounds of operator fields.
const (
	MaxUsername    = 64
	MaxDisplayName = 100
)

var usernameRE = regexp.MustCompile(`^[a-z][a-z0-9._-]*$`)

// ValidUsername reports whether u may be an operator's username: 2 to
// MaxUsername characters, a lower-case ASCII letter, then lower-case
// letters, digits, '.', '_' or '-'. Usernames are compared as stored, so
// logins lower-case what is typed.
func ValidUsername(u string) bool {
	return len(u) >= 2 && len(u) <= MaxUsername && usernameRE.MatchString(u)
}

// Operator is a console account: a person of the tenant who answers the
// switchboard (or administers it). Username is unique across tenants.
// PasswordHash is an argon2id PHC string (store/passhash); the store keeps
// it verbatim and never shows it (json "-"). Extension is the operator's
// own extension number, rung when the operator answers a call; the store
// checks its syntax, provisioning that it exists.
//
// FailedCount, FailedSince, LockedUntil and LastLoginAt are the lock-out
// state, written only by OperatorStore.LoginFailed, LoginSucceeded and
// Unlock (Create and Update ignore them). Times are UTC with microsecond
// precision.
type Operator struct {
	ID           int64        `json:"id"`
	TenantID     int64        `json:"tenant_id"`
	Username     string       `json:"username"`
	DisplayName  string       `json:"name"`
	PasswordHash string       `json:"-"`
	Role         OperatorRole `json:"role"`
	Extension    string       `json:"extension"`
	Locale       string       `json:"locale"`

	FailedCount int        `json:"failed_count"`
	FailedSince *time.Time `json:"failed_since,omitempty"`
	LockedUntil *time.Time `json:"locked_until,omitempty"`
	LastLoginAt *time.Time `json:"last_login_at,omitempty"`

	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Locked reports whether the account is locked at now.
func (o Operator) Locked(now time.Time) bool {
	return o.LockedUntil != nil && now.Before(*o.LockedUntil)
}

// LockoutPolicy says when failed logins lock an account: MaxFailures
// failures within Window lock it for LockFor.
type LockoutPolicy struct {
	MaxFailures int
	Window      time.Duration
	LockFor     time.Duration
}

// DefaultLockout is 5 failures in 15 minutes, locked for 15 minutes.
var DefaultLockout = LockoutPolicy{MaxFailures: 5, Window: 15 * time.Minute, LockFor: 15 * time.Minute}

// Validate checks the policy is usable.
func (p LockoutPolicy) Validate() error {
	if p.MaxFailures < 1 || p.Window <= 0 || p.LockFor <= 0 {
		return fmt.Errorf("lock-out policy %d failures in %s for %s: all must be positive", p.MaxFailures, p.Window, p.LockFor)
	}
	return nil
}

// NormalizeUsername is how a typed username is compared: trimmed and
// lower-cased.
func NormalizeUsername(u string) string { return strings.ToLower(strings.TrimSpace(u)) }

// CheckOperator checks the fields of an account every back end enforces
// (not the tenant's existence or the username's uniqueness, which need
// the database). A refusal is a *FieldError of kind ErrInvalid.
func CheckOperator(o Operator) error {
	refuse := func(field, value, format string, args ...any) error {
		return &FieldError{Entity: EntityOperator, Field: field, Value: value, Kind: ErrInvalid, Reason: fmt.Sprintf(format, args...)}
	}
	switch {
	case o.TenantID <= 0:
		return refuse("tenant_id", "", "an operator needs its tenant")
	case !ValidUsername(o.Username):
		return refuse("username", o.Username,
			"must be 2 to %d characters: a lower-case letter, then lower-case letters, digits, '.', '_' or '-'", MaxUsername)
	case strings.TrimSpace(o.DisplayName) == "" || len(o.DisplayName) > MaxDisplayName:
		return refuse("display_name", o.DisplayName, "must be 1 to %d characters", MaxDisplayName)
	case o.PasswordHash == "":
		return refuse("password_hash", "", "an operator needs a password")
	case o.Role != RoleOperator && o.Role != RoleAdmin:
		return refuse("role", string(o.Role), "must be operator or admin")
	case len(o.Extension) < MinExtensionDigits || len(o.Extension) > MaxExtensionDigits || !isDigits(o.Extension):
		return refuse("extension", o.Extension, "must be an extension number of %d to %d digits", MinExtensionDigits, MaxExtensionDigits)
	case o.Locale != LocaleNorwegian && o.Locale != LocaleEnglish:
		return refuse("locale", o.Locale, "must be nb or en")
	}
	return nil
}
