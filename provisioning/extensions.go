package provisioning

import (
	"context"
	"fmt"
	"strings"

	"github.com/sentralpbx/sentral/media/voicemail"
	"github.com/sentralpbx/sentral/sip/auth"
	"github.com/sentralpbx/sentral/store"
)

// ExtensionInput is what an admin types to create or change an extension.
// A nil field is not given: it takes its default when adding and stays as
// it is when updating. An empty Dept/Site/Person/PIN clears it, as does an
// empty forward target. Voicemail defaults to false here; the CLI's `ext
// add` and imports pass true.
type ExtensionInput struct {
	Name             *string
	Password         *string
	GeneratePassword bool
	PIN              *string
	Dept             *string
	Site             *string
	Person           *string
	COS              *string
	Enabled          *bool
	DID              *string // direct public number; "" removes it
	HideCallerID     *bool

	// Call features; see store.Extension. Forward targets are checked
	// with store.ValidateForwardTarget, and a "voicemail:NUMBER" target
	// must name an extension of the tenant.
	ForwardAlways   *string
	ForwardBusy     *string
	ForwardNoAnswer *string
	NoAnswerSeconds *int // 0: the default (store.DefaultNoAnswerSeconds)
	DND             *bool
	Voicemail       *bool
	VoicemailAskPIN *bool
	Language        *string // "" (the default, nb), nb or en
}

// ExtensionFilter narrows a listing of extensions; empty fields match all.
type ExtensionFilter struct {
	Dept string // department code
	Site string // site name
}

// ExtensionView is an extension with its references written as the
// natural keys the user knows. Secrets stay out: only whether they are set.
type ExtensionView struct {
	store.Extension
	Tenant       string `json:"tenant"`
	Department   string `json:"department,omitempty"`
	Site         string `json:"site,omitempty"`
	Person       string `json:"person,omitempty"`
	Credentials  bool   `json:"credentials"`
	VoicemailPIN bool   `json:"voicemail_pin"`
	// GeneratedPassword is set only on the one answer that created it.
	GeneratedPassword string `json:"generated_password,omitempty"`
	// GeneratedPIN is set only on the one answer that created it.
	GeneratedPIN string `json:"generated_pin,omitempty"`
}

// extFields maps store fields to the CLI's flags.
var extFields = map[string]string{
	"number": "NUMBER", "display_name": "--name", "department_id": "--dept", "site_id": "--site",
	"person_id": "--person", "cos": "--cos", "tenant_id": "--tenant", "ranges": "--ext-range",
	"did": "--did", "hide_caller_id": "--hide-caller-id",
	"forward_always": "--forward-always", "forward_busy": "--forward-busy", "forward_no_answer": "--forward-no-answer",
	"no_answer_seconds": "--no-answer-seconds", "dnd": "--dnd", "voicemail": "--voicemail", "voicemail_ask_pin": "--voicemail-ask-pin",
	"language": "--language",
	// what a refused removal blames: the extension is still on a phone, a handset or in a group
	"id": "NUMBER", "extension_id": "NUMBER", "lines": "NUMBER", "members": "NUMBER",
}

// credentials computes both HA1 digests for an extension. The realm is the
// tenant's domain and the username the extension number, which is what
// phones put in their Authorization header.
func credentials(t store.Tenant, number, password string) (md5, sha256 string, err error) {
	if md5, err = auth.HA1(auth.MD5, number, t.Domain, password); err != nil {
		return "", "", fmt.Errorf("HA1 for %s: %w", number, err)
	}
	if sha256, err = auth.HA1(auth.SHA256, number, t.Domain, password); err != nil {
		return "", "", fmt.Errorf("HA1 for %s: %w", number, err)
	}
	return md5, sha256, nil
}

// checkPassword applies the password policy, naming the policy in the refusal.
func (s *Service) checkPassword(field, number, password string) error {
	if err := s.pol.Password.Check(password, number); err != nil {
		return &Error{Field: field, Problem: fmt.Sprintf("refused by the password policy (at least %d characters of %d kinds, not the number, no common words): %v",
			s.pol.Password.MinLength, s.pol.Password.MinClasses, err),
			Fix: "choose a stronger password, or let Sentral make one with --generate-password", Err: store.ErrInvalid}
	}
	return nil
}

// hashPIN applies the PIN policy and hashes the PIN; an empty PIN clears it.
func (s *Service) hashPIN(field, number, pin string) (string, error) {
	pin = strings.TrimSpace(pin)
	if pin == "" {
		return "", nil
	}
	if err := s.pol.PIN.Check(pin, number); err != nil {
		// The PIN is not echoed back: it is a secret, even a refused one.
		return "", &Error{Field: field, Problem: fmt.Sprintf("refused by the PIN policy: %v", err),
			Fix: fmt.Sprintf("choose %d to %d digits that are not a run, a repeated digit or the extension number", s.pol.PIN.MinLength, s.pol.PIN.MaxLength), Err: store.ErrInvalid}
	}
	h, err := voicemail.HashPIN(pin)
	if err != nil {
		return "", fmt.Errorf("PIN of %s: %w", number, err)
	}
	return h, nil
}

// applyExtension validates the given fields of in onto e, resolving
// references within st (which may be a transaction).
func (s *Service) applyExtension(ctx context.Context, st store.Store, t store.Tenant, e *store.Extension, in ExtensionInput) (generated string, err error) {
	str(&e.DisplayName, in.Name)
	if err := required("--name", e.DisplayName, `give the name shown on phones, e.g. --name "Kari Nordmann"`); err != nil {
		return "", err
	}
	if in.COS != nil {
		if e.COS, err = ParseCOS("--cos", *in.COS); err != nil {
			return "", err
		}
	}
	if in.Enabled != nil {
		e.Enabled = *in.Enabled
	}
	if in.HideCallerID != nil {
		e.HideCallerID = *in.HideCallerID
	}
	if in.DID != nil {
		if e.DID, err = checkOwnDID("--did", *in.DID, t); err != nil {
			return "", err
		}
	}
	if in.Dept != nil {
		if e.DepartmentID, err = optRef(ctx, st.Departments(), t, kindDept, "--dept", *in.Dept); err != nil {
			return "", err
		}
	}
	if in.Site != nil {
		if e.SiteID, err = optRef(ctx, st.Sites(), t, kindSite, "--site", *in.Site); err != nil {
			return "", err
		}
	}
	if in.Person != nil {
		if e.PersonID, err = optRef(ctx, st.People(), t, kindPerson, "--person", strings.ToLower(*in.Person)); err != nil {
			return "", err
		}
	}
	if in.PIN != nil {
		if e.VoicemailPIN, err = s.hashPIN("--pin", e.Number, *in.PIN); err != nil {
			return "", err
		}
	}
	if err := s.applyCallFeatures(ctx, st, t, e, in); err != nil {
		return "", err
	}
	password := ""
	switch {
	case in.GeneratePassword && in.Password != nil:
		return "", Invalid("--generate-password", "", "cannot be combined with a given password", "use one of --password, --password-stdin and --generate-password")
	case in.GeneratePassword:
		if password, err = GeneratePassword(); err != nil {
			return "", err
		}
		generated = password
	case in.Password != nil:
		password = *in.Password
		if err := s.checkPassword("--password", e.Number, password); err != nil {
			return "", err
		}
	}
	if password != "" {
		if e.HA1MD5, e.HA1SHA256, err = credentials(t, e.Number, password); err != nil {
			return "", err
		}
	}
	return generated, nil
}

// AddExtension creates an extension in the tenant.
func (s *Service) AddExtension(ctx context.Context, tenant, number string, in ExtensionInput) (ExtensionView, error) {
	t, err := s.Tenant(ctx, tenant)
	if err != nil {
		return ExtensionView{}, err
	}
	if number, err = CheckNumber("NUMBER", number); err != nil {
		return ExtensionView{}, err
	}
	if err := checkInRange("NUMBER", number, t); err != nil {
		return ExtensionView{}, err
	}
	e := store.Extension{TenantID: t.ID, Number: number, COS: DefaultCOS, Enabled: true}
	generated, err := s.applyExtension(ctx, s.st, t, &e, in)
	if err != nil {
		return ExtensionView{}, err
	}
	if err := s.st.Extensions().Create(ctx, &e); err != nil {
		return ExtensionView{}, fmt.Errorf("add extension %s: %w", number, explainDID(err, "ext", extFields))
	}
	v, err := s.extView(t, newNames(ctx, s.st, t.ID), e)
	v.GeneratedPassword = generated
	return v, err
}

// findExt resolves an extension NUMBER argument.
func (s *Service) findExt(ctx context.Context, st store.Store, t store.Tenant, field, number string) (store.Extension, error) {
	return find(ctx, st.Extensions(), t, kindExt, field, strings.TrimSpace(number))
}

// Extension shows one extension.
func (s *Service) Extension(ctx context.Context, tenant, number string) (ExtensionView, error) {
	t, err := s.Tenant(ctx, tenant)
	if err != nil {
		return ExtensionView{}, err
	}
	e, err := s.findExt(ctx, s.st, t, "NUMBER", number)
	if err != nil {
		return ExtensionView{}, err
	}
	return s.extView(t, newNames(ctx, s.st, t.ID), e)
}

// Extensions lists a tenant's extensions, optionally by department or site.
func (s *Service) Extensions(ctx context.Context, tenant string, f ExtensionFilter) ([]ExtensionView, error) {
	t, err := s.Tenant(ctx, tenant)
	if err != nil {
		return nil, err
	}
	dept, err := optRef(ctx, s.st.Departments(), t, kindDept, "--dept", f.Dept)
	if err != nil {
		return nil, err
	}
	site, err := optRef(ctx, s.st.Sites(), t, kindSite, "--site", f.Site)
	if err != nil {
		return nil, err
	}
	exts, err := s.st.Extensions().List(ctx, store.ListOptions{TenantID: t.ID})
	if err != nil {
		return nil, fmt.Errorf("list extensions of %s: %w", t.Name, err)
	}
	n := newNames(ctx, s.st, t.ID)
	out := make([]ExtensionView, 0, len(exts))
	for _, e := range exts {
		if dept != nil && (e.DepartmentID == nil || *e.DepartmentID != *dept) ||
			site != nil && (e.SiteID == nil || *e.SiteID != *site) {
			continue
		}
		v, err := s.extView(t, n, e)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// UpdateExtension changes the given fields of an extension.
func (s *Service) UpdateExtension(ctx context.Context, tenant, number string, in ExtensionInput) (ExtensionView, error) {
	t, err := s.Tenant(ctx, tenant)
	if err != nil {
		return ExtensionView{}, err
	}
	e, err := s.findExt(ctx, s.st, t, "NUMBER", number)
	if err != nil {
		return ExtensionView{}, err
	}
	generated, err := s.applyExtension(ctx, s.st, t, &e, in)
	if err != nil {
		return ExtensionView{}, err
	}
	if err := s.st.Extensions().Update(ctx, &e); err != nil {
		return ExtensionView{}, fmt.Errorf("update extension %s: %w", e.Number, explainDID(err, "ext", extFields))
	}
	v, err := s.extView(t, newNames(ctx, s.st, t.ID), e)
	v.GeneratedPassword = generated
	return v, err
}

// SetPassword gives an extension a new SIP password (or a generated one,
// returned in the view once).
func (s *Service) SetPassword(ctx context.Context, tenant, number, password string, generate bool) (ExtensionView, error) {
	in := ExtensionInput{GeneratePassword: generate}
	if !generate {
		in.Password = &password
	}
	return s.UpdateExtension(ctx, tenant, number, in)
}

// RemoveExtension deletes an extension.
func (s *Service) RemoveExtension(ctx context.Context, tenant, number string) (ExtensionView, error) {
	t, err := s.Tenant(ctx, tenant)
	if err != nil {
		return ExtensionView{}, err
	}
	e, err := s.findExt(ctx, s.st, t, "NUMBER", number)
	if err != nil {
		return ExtensionView{}, err
	}
	v, err := s.extView(t, newNames(ctx, s.st, t.ID), e)
	if err != nil {
		return v, err
	}
	if err := s.st.Extensions().Delete(ctx, e.ID); err != nil {
		return v, fmt.Errorf("remove extension %s: %w", e.Number, Explain(err, "ext", extFields))
	}
	return v, nil
}

func (s *Service) extView(t store.Tenant, n *names, e store.Extension) (ExtensionView, error) {
	v := ExtensionView{Extension: e, Tenant: t.Name, Department: n.dept(e.DepartmentID), Site: n.site(e.SiteID), Person: n.person(e.PersonID),
		Credentials: e.HasCredentials(), VoicemailPIN: e.VoicemailPIN != ""}
	return v, n.err
}
