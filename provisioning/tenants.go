package provisioning

import (
	"context"
	"errors"
	"fmt"
	"github.com/sentralpbx/sentral/store/passhash"
	"strconv"
	"strings"

	"github.com/sentralpbx/sentral/store"
)

// TenantInput is what an admin types to create or change a tenant. A nil
// field is not given: it takes its default when adding and stays as it is
// when updating. Range lists replace the tenant's ranges of their kind.
type TenantInput struct {
	DisplayName *string
	Domain      *string
	ExtRanges   *[]string
	DIDRanges   *[]string
	Switchboard *string
	// OutsidePrefix is dialled before external numbers; "" removes it.
	OutsidePrefix *string
	// UnknownDID is "switchboard" or "reject".
	UnknownDID *string
	// Force lets a domain change clear the SIP credentials it invalidates.
	Force bool
	// CDRRetentionDays: call records older than this are deleted (0 keeps them).
	CDRRetentionDays *int
	// ReportMaskDigits: trailing digits of external numbers hidden in reports.
	ReportMaskDigits *int
	// PhonebookPassword is what desk phones bind to the LDAP phone book
	// with; stored hashed. "" removes it (no phone may bind).
	PhonebookPassword *string
}

// MinPhonebookPassword is the shortest phone-book password: it is typed
// into every phone's configuration, so it is not a passphrase, but it
// guards the whole staff list from anyone on the network.
const MinPhonebookPassword = 10

// phonebookIterations is the PBKDF2 work factor of phone-book passwords;
// the directory caches a verified password, so binds pay it once.
const phonebookIterations = 100_000

// tenantFields maps store fields to the CLI's flags.
var tenantFields = map[string]string{
	"name": "NAME", "display_name": "--display-name", "domain": "--domain",
	"ranges": "--ext-range", "switchboard_number": "--switchboard",
	"outside_prefix": "--outside-prefix", "unknown_did": "--unknown-did",
	"cdr_retention_days": "--cdr-retention-days", "report_mask_digits": "--report-mask-digits",
}

// prefixFix is the way out of a clash between the outside-line prefix and
// an extension range.
const prefixFix = "choose an outside-line prefix that no extension range starts with and that starts no extension number (0 or 9 are usual, see `sentral tenant list`), or move the range"

// explainTenant names --did-range rather than --ext-range when the store
// refused a DID range (both live in the one "ranges" field).
func explainTenant(err error) error {
	e := Explain(err, "tenant", tenantFields)
	pe, ok := e.(*Error)
	if ok && pe.Field == "--outside-prefix" && errors.Is(err, store.ErrInvalid) && strings.Contains(pe.Problem, "clashes") {
		pe.Fix = prefixFix
	}
	if !ok || pe.Field != "--ext-range" {
		return e
	}
	if strings.HasPrefix(pe.Value, "+") {
		pe.Field = "--did-range"
	}
	switch {
	case strings.Contains(pe.Problem, "outside-line prefix"):
		pe.Fix = fmt.Sprintf("choose a block of numbers for %s that does not start with an outside-line prefix (see `sentral tenant list`), or change that prefix with `sentral tenant update TENANT --outside-prefix ...`", pe.Field)
	case errors.Is(err, store.ErrExists):
		pe.Fix = fmt.Sprintf("choose a block of numbers no other tenant uses (see `sentral tenant list`) for %s", pe.Field)
	case errors.Is(err, store.ErrInUse):
		pe.Fix = fmt.Sprintf("keep %s covering the numbers in use, or move or remove those first", pe.Field)
	}
	return e
}

// Tenants lists every tenant.
func (s *Service) Tenants(ctx context.Context) ([]store.Tenant, error) {
	ts, err := s.st.Tenants().List(ctx, store.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	return ts, nil
}

// AddTenant creates a tenant.
func (s *Service) AddTenant(ctx context.Context, name string, in TenantInput) (store.Tenant, error) {
	name, err := CheckSlug("NAME", name)
	if err != nil {
		return store.Tenant{}, err
	}
	t := store.Tenant{Name: name, DisplayName: name, UnknownDID: store.UnknownDIDSwitchboard}
	if in.ExtRanges == nil || len(*in.ExtRanges) == 0 {
		return t, Invalid("--ext-range", "", "is required: extensions can only be created inside the tenant's ranges", "give the block of internal numbers, e.g. --ext-range 2000-2999")
	}
	if in.Domain == nil {
		return t, Invalid("--domain", "", "is required: it is the SIP domain phones register to and the digest realm", "give a DNS name, e.g. --domain sip.fjordvik.kommune.no")
	}
	if err := s.applyTenant(&t, in); err != nil {
		return t, err
	}
	if err := s.st.Tenants().Create(ctx, &t); err != nil {
		return t, fmt.Errorf("add tenant %s: %w", name, explainTenant(err))
	}
	return t, nil
}

// applyTenant validates the given fields of in onto t.
func (s *Service) applyTenant(t *store.Tenant, in TenantInput) error {
	str(&t.DisplayName, in.DisplayName)
	if t.DisplayName == "" {
		t.DisplayName = t.Name
	}
	if in.Domain != nil {
		d, err := CheckDomain("--domain", *in.Domain)
		if err != nil {
			return err
		}
		t.Domain = d
	}
	ext, did := rangesOf(t.Ranges, store.RangeExtension), rangesOf(t.Ranges, store.RangeDID)
	var err error
	if in.ExtRanges != nil {
		if ext, err = ParseRanges("--ext-range", store.RangeExtension, *in.ExtRanges); err != nil {
			return err
		}
		if len(ext) == 0 {
			return Invalid("--ext-range", "", "would leave the tenant without extension ranges", "give at least one range, e.g. --ext-range 2000-2999")
		}
	}
	if in.DIDRanges != nil {
		if did, err = ParseRanges("--did-range", store.RangeDID, *in.DIDRanges); err != nil {
			return err
		}
	}
	t.Ranges = append(ext, did...)
	if in.Switchboard != nil {
		sb := strings.TrimSpace(*in.Switchboard)
		switch {
		case sb == "":
		case store.InRanges(t.Ranges, store.RangeExtension, sb):
		case store.InRanges(t.Ranges, store.RangeDID, store.NormalizeDID(sb)):
			sb = store.NormalizeDID(sb)
		default:
			return Invalid("--switchboard", sb, "is in neither the tenant's extension ranges nor its DID ranges",
				"give an internal number from --ext-range or a public number from --did-range")
		}
		t.SwitchboardNumber = sb
	}
	if in.UnknownDID != nil {
		switch u := store.UnknownDID(strings.ToLower(strings.TrimSpace(*in.UnknownDID))); u {
		case store.UnknownDIDSwitchboard, store.UnknownDIDReject:
			t.UnknownDID = u
		default:
			return Invalid("--unknown-did", *in.UnknownDID, "unknown policy for calls to unassigned DIDs",
				"use switchboard (ring the switchboard number) or reject (refuse the call)")
		}
	}
	if in.OutsidePrefix != nil {
		p := strings.TrimSpace(*in.OutsidePrefix)
		if !store.ValidOutsidePrefix(p) {
			return Invalid("--outside-prefix", p, fmt.Sprintf("must be 1 to %d digits", store.MaxOutsidePrefixDigits),
				`give the digits dialled before external numbers, e.g. --outside-prefix 0, or --outside-prefix "" for none`)
		}
		t.OutsidePrefix = p
	}
	if in.CDRRetentionDays != nil {
		if d := *in.CDRRetentionDays; d < 0 || d > store.MaxCDRRetentionDays {
			return Invalid("--cdr-retention-days", strconv.Itoa(d), fmt.Sprintf("must be 0 to %d", store.MaxCDRRetentionDays),
				"give the number of days call records are kept, e.g. 395 for 13 months, or 0 to keep them forever")
		}
		t.CDRRetentionDays = *in.CDRRetentionDays
	}
	if in.ReportMaskDigits != nil {
		if d := *in.ReportMaskDigits; d < 0 || d > store.MaxReportMaskDigits {
			return Invalid("--report-mask-digits", strconv.Itoa(d), fmt.Sprintf("must be 0 to %d", store.MaxReportMaskDigits),
				"give how many trailing digits of external numbers reports hide, e.g. 3, or 0 for none")
		}
		t.ReportMaskDigits = *in.ReportMaskDigits
	}
	if in.PhonebookPassword != nil {
		pw := *in.PhonebookPassword
		switch {
		case pw == "":
			t.PhonebookSecret = ""
		case len(pw) < MinPhonebookPassword || strings.TrimSpace(pw) != pw:
			return Invalid("--phonebook-password", "", fmt.Sprintf("must be at least %d characters without leading or trailing spaces", MinPhonebookPassword),
				"choose a longer password (phones store it; nobody types it daily)")
		default:
			h, err := passhash.Hash(pw, phonebookIterations)
			if err != nil {
				return fmt.Errorf("phone-book password: %w", err)
			}
			t.PhonebookSecret = h
		}
	}
	// The tenant's own ranges are checked here for the better message; the
	// store checks every tenant's.
	for _, r := range t.Ranges {
		if store.PrefixConflicts(t.OutsidePrefix, r) {
			if in.OutsidePrefix != nil {
				return Invalid("--outside-prefix", t.OutsidePrefix,
					fmt.Sprintf("clashes with extension range %s: a number dialled from it could mean an extension or an outside line", r), prefixFix)
			}
			return Invalid("--ext-range", r.String(),
				fmt.Sprintf("clashes with the tenant's outside-line prefix %s: a number dialled from it could mean an extension or an outside line", t.OutsidePrefix),
				"choose a range that does not start with the outside-line prefix, or change the prefix with --outside-prefix")
		}
	}
	return nil
}

func rangesOf(rs []store.NumberRange, k store.RangeKind) []store.NumberRange {
	var out []store.NumberRange
	for _, r := range rs {
		if r.Kind == k {
			out = append(out, r)
		}
	}
	return out
}

// ShowTenant finds a tenant by name, explaining a miss with the NAME argument.
func (s *Service) ShowTenant(ctx context.Context, name string) (store.Tenant, error) {
	t, err := s.Tenant(ctx, name)
	if pe, ok := err.(*Error); ok {
		pe.Field = "NAME"
	}
	return t, err
}

// UpdateTenant changes the given fields of a tenant. Changing the domain
// changes the digest realm, which invalidates every stored HA1; it is
// refused while extensions have credentials unless in.Force, which clears
// them in the same transaction so no extension claims credentials that can
// never match.
func (s *Service) UpdateTenant(ctx context.Context, name string, in TenantInput) (store.Tenant, error) {
	var out store.Tenant
	err := s.st.InTx(ctx, func(tx store.Store) error {
		t, err := New(tx, s.pol).ShowTenant(ctx, name)
		if err != nil {
			return err
		}
		oldDomain := t.Domain
		if err := s.applyTenant(&t, in); err != nil {
			return err
		}
		if t.Domain != oldDomain {
			if err := clearCredentials(ctx, tx, t, oldDomain, in.Force); err != nil {
				return err
			}
		}
		if err := tx.Tenants().Update(ctx, &t); err != nil {
			return fmt.Errorf("update tenant %s: %w", name, explainTenant(err))
		}
		out = t
		return nil
	})
	return out, err
}

func clearCredentials(ctx context.Context, tx store.Store, t store.Tenant, oldDomain string, force bool) error {
	exts, err := tx.Extensions().List(ctx, store.ListOptions{TenantID: t.ID})
	if err != nil {
		return fmt.Errorf("list extensions of %s: %w", t.Name, err)
	}
	var with []store.Extension
	for _, e := range exts {
		if e.HasCredentials() {
			with = append(with, e)
		}
	}
	if len(with) == 0 {
		return nil
	}
	if !force {
		return &Error{Field: "--domain", Value: t.Domain,
			Problem: fmt.Sprintf("%d extensions have SIP passwords hashed with realm %s; a new domain would lock all their phones out", len(with), oldDomain),
			Fix:     "add --force to change it anyway (their credentials are cleared), then set new passwords with `sentral ext passwd`",
			Err:     store.ErrInUse}
	}
	for i := range with {
		with[i].HA1MD5, with[i].HA1SHA256 = "", ""
		if err := tx.Extensions().Update(ctx, &with[i]); err != nil {
			return fmt.Errorf("clear credentials of %s: %w", with[i].Number, err)
		}
	}
	return nil
}

// RemoveTenant deletes a tenant. A tenant that still has extensions is
// refused unless force, because deleting it deletes everything it owns.
func (s *Service) RemoveTenant(ctx context.Context, name string, force bool) (store.Tenant, error) {
	t, err := s.ShowTenant(ctx, name)
	if err != nil {
		return t, err
	}
	if !force {
		exts, err := s.st.Extensions().List(ctx, store.ListOptions{TenantID: t.ID})
		if err != nil {
			return t, fmt.Errorf("list extensions of %s: %w", name, err)
		}
		if n := len(exts); n > 0 {
			return t, &Error{Field: "NAME", Value: name,
				Problem: fmt.Sprintf("tenant still has %d extensions", n),
				Fix:     "remove them first, or add --force to delete the tenant with everything it owns",
				Err:     store.ErrInUse}
		}
	}
	if err := s.st.Tenants().Delete(ctx, t.ID); err != nil {
		return t, fmt.Errorf("remove tenant %s: %w", name, explainTenant(err))
	}
	return t, nil
}
