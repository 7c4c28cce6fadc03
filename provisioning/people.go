package provisioning

import (
	"context"
	"strings"

	"github.com/sentralpbx/sentral/store"
)

// PersonInput is what an admin types for a directory entry; nil fields are
// not given, empty Dept/Site clear the reference.
type PersonInput struct {
	Given, Family, Title *string
	Dept, Site           *string
	Email, Mobile, Notes *string
	Visibility           *string
}

// PersonView is a person with department and site by their natural keys.
type PersonView struct {
	store.Person
	Department string `json:"department,omitempty"`
	Site       string `json:"site,omitempty"`
}

// People are found by e-mail, or by ID when they have none (a shared
// service entry need not have a mailbox).
var people = entity[store.Person, PersonView]{
	kind: kindPerson,
	repo: store.Store.People,
	fields: map[string]string{"person_id": "EMAIL|ID", "given_name": "--given", "family_name": "--family", "email": "--email",
		"department_id": "--dept", "site_id": "--site", "mobile": "--mobile", "visibility": "--visibility"},
	view: func(n *names, p *store.Person) PersonView {
		return PersonView{Person: *p, Department: n.dept(p.DepartmentID), Site: n.site(p.SiteID)}
	},
	key:  func(k string) (string, error) { return strings.ToLower(strings.TrimSpace(k)), nil },
	byID: true,
}

func (s *Service) applyPerson(ctx context.Context, t store.Tenant, p *store.Person, in PersonInput) error {
	str(&p.GivenName, in.Given)
	str(&p.FamilyName, in.Family)
	str(&p.Title, in.Title)
	str(&p.Notes, in.Notes)
	if p.GivenName == "" && p.FamilyName == "" {
		return Invalid("--given", "", "a person needs a given or a family name", `give --given Kari --family Nordmann (or just --family "Sentralbordet" for a service)`)
	}
	var err error
	if in.Email != nil {
		if p.Email, err = CheckEmail("--email", *in.Email); err != nil {
			return err
		}
	}
	if in.Mobile != nil {
		if p.Mobile, err = CheckDID("--mobile", *in.Mobile); err != nil {
			return err
		}
	}
	if in.Visibility != nil {
		if p.Visibility, err = ParseVisibility("--visibility", *in.Visibility); err != nil {
			return err
		}
	}
	if in.Dept != nil {
		if p.DepartmentID, err = optRef(ctx, s.st.Departments(), t, kindDept, "--dept", *in.Dept); err != nil {
			return err
		}
	}
	if in.Site != nil {
		if p.SiteID, err = optRef(ctx, s.st.Sites(), t, kindSite, "--site", *in.Site); err != nil {
			return err
		}
	}
	return nil
}

// AddPerson creates a directory entry; it is listed internally unless told otherwise.
func (s *Service) AddPerson(ctx context.Context, tenant string, in PersonInput) (PersonView, error) {
	return people.add(ctx, s, tenant, "", func(t store.Tenant, _ string, p *store.Person) error {
		*p = store.Person{TenantID: t.ID, Visibility: store.VisibilityInternal}
		return s.applyPerson(ctx, t, p, in)
	})
}

// UpdatePerson changes the given fields of the person with e-mail (or ID) key.
func (s *Service) UpdatePerson(ctx context.Context, tenant, key string, in PersonInput) (PersonView, error) {
	return people.update(ctx, s, tenant, key, func(t store.Tenant, p *store.Person) error { return s.applyPerson(ctx, t, p, in) })
}

// RemovePerson deletes a directory entry.
func (s *Service) RemovePerson(ctx context.Context, tenant, key string) (PersonView, error) {
	return people.remove(ctx, s, tenant, key)
}

// Person shows one directory entry.
func (s *Service) Person(ctx context.Context, tenant, key string) (PersonView, error) {
	return people.get(ctx, s, tenant, key)
}

// People lists a tenant's directory entries.
func (s *Service) People(ctx context.Context, tenant string) ([]PersonView, error) {
	return people.list(ctx, s, tenant)
}
