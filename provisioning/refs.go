package provisioning

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/sentralpbx/sentral/store"
)

// kind describes an entity to error messages: what it is called and how
// the user lists and creates one.
type kind struct {
	name string // "department"
	noun string // CLI noun: "dept"
	key  string // how the key is written in a hint: "CODE"
	add  string // the rest of an add command: "--name NAME"
	// noAddKey: add takes no key argument (people are added by flags alone)
	noAddKey bool
}

var (
	kindSite    = kind{"site", "site", "NAME", "", false}
	kindDept    = kind{"department", "dept", "CODE", " --name NAME", false}
	kindPerson  = kind{"person", "person", "EMAIL|ID", " --email EMAIL --given GIVEN --family FAMILY", true}
	kindExt     = kind{"extension", "ext", "NUMBER", " --name NAME", false}
	kindGateway = kind{"DECT gateway", "dect gateway", "NAME", " --model MODEL", false}
	kindHandset = kind{"DECT handset", "dect handset", "IPUI", " --gateway NAME --ext NUMBER", false}
	kindDevice  = kind{"device", "device", "MAC", " --model MODEL", false}
	kindTrunk   = kind{"trunk", "trunk", "NAME", " --host HOST", false}
	kindGroup   = kind{"group", "group", "NUMBER", " --name NAME", false}
)

// notFound explains a reference to something that does not exist.
func (k kind) notFound(field, value string, t store.Tenant, err error) *Error {
	key := " " + k.key
	if value != "" && !strings.ContainsAny(value, " \"'") {
		key = " " + value
	}
	if k.noAddKey {
		key = ""
	}
	return &Error{
		Field: field, Value: value,
		Problem: fmt.Sprintf("no such %s in tenant %s", k.name, t.Name),
		Fix:     fmt.Sprintf("see `sentral %s list --tenant %s`, or create it with `sentral %s add%s --tenant %s%s`", k.noun, t.Name, k.noun, key, t.Name, k.add),
		Err:     err,
	}
}

// idOf reads the ID of any stored entity.
func idOf[T any](v *T) int64 { return any(v).(store.Entry).M().ID }

// find looks an entity up by natural key within the tenant, explaining a
// miss with the field the key came from.
func find[T any](ctx context.Context, repo store.Repo[T], t store.Tenant, k kind, field, key string) (T, error) {
	v, err := repo.Find(ctx, t.ID, key)
	if errors.Is(err, store.ErrNotFound) {
		return v, k.notFound(field, key, t, err)
	}
	if err != nil {
		return v, fmt.Errorf("find %s %s: %w", k.name, key, err)
	}
	// Devices and handsets are found across tenants (their keys are
	// globally unique): another tenant's entry is none of this one's business.
	if tid := tenantOf(&v); tid != 0 && tid != t.ID {
		return v, k.notFound(field, key, t, store.ErrNotFound)
	}
	return v, nil
}

// tenantOf reads the owning tenant of a tenant-scoped entity (0 if none).
func tenantOf(v any) int64 {
	switch e := v.(type) {
	case *store.Site:
		return e.TenantID
	case *store.Department:
		return e.TenantID
	case *store.Person:
		return e.TenantID
	case *store.Extension:
		return e.TenantID
	case *store.Device:
		return e.TenantID
	case *store.DECTGateway:
		return e.TenantID
	case *store.DECTHandset:
		return e.TenantID
	case *store.Trunk:
		return e.TenantID
	case *store.Group:
		return e.TenantID
	}
	return 0
}

// optRef resolves an optional reference: an empty key means none (nil).
func optRef[T any](ctx context.Context, repo store.Repo[T], t store.Tenant, k kind, field, key string) (*int64, error) {
	key = strings.TrimSpace(key)
	if key == "" {
		return nil, nil
	}
	v, err := find(ctx, repo, t, k, field, key)
	if err != nil {
		return nil, err
	}
	id := idOf(&v)
	return &id, nil
}

// names maps the IDs an entity refers to back to the natural keys the user
// knows, for output. Each table is read once, on first use.
type names struct {
	ctx    context.Context
	st     store.Store
	tenant int64
	err    error
	tabs   map[string]map[int64]string
}

func newNames(ctx context.Context, st store.Store, tenantID int64) *names {
	return &names{ctx: ctx, st: st, tenant: tenantID, tabs: make(map[string]map[int64]string)}
}

func loadTable[T any](n *names, name string, repo store.Repo[T], key func(*T) string) map[int64]string {
	if m, ok := n.tabs[name]; ok {
		return m
	}
	m := make(map[int64]string)
	n.tabs[name] = m
	items, err := repo.List(n.ctx, store.ListOptions{TenantID: n.tenant})
	if err != nil {
		if n.err == nil {
			n.err = fmt.Errorf("list %ss: %w", name, err)
		}
		return m
	}
	for i := range items {
		m[idOf(&items[i])] = key(&items[i])
	}
	return m
}

func lookup(m map[int64]string, id *int64) string {
	if id == nil {
		return ""
	}
	if s, ok := m[*id]; ok {
		return s
	}
	return fmt.Sprintf("#%d", *id)
}

func (n *names) dept(id *int64) string {
	return lookup(loadTable(n, "department", n.st.Departments(), func(d *store.Department) string { return d.Code }), id)
}

func (n *names) site(id *int64) string {
	return lookup(loadTable(n, "site", n.st.Sites(), func(s *store.Site) string { return s.Name }), id)
}

func (n *names) person(id *int64) string {
	return lookup(loadTable(n, "person", n.st.People(), func(p *store.Person) string {
		if p.Email != "" {
			return p.Email
		}
		return strings.TrimSpace(p.GivenName + " " + p.FamilyName)
	}), id)
}

func (n *names) ext(id int64) string {
	return lookup(loadTable(n, "extension", n.st.Extensions(), func(e *store.Extension) string { return e.Number }), &id)
}

func (n *names) gateway(id int64) string {
	return lookup(loadTable(n, "DECT gateway", n.st.DECTGateways(), func(g *store.DECTGateway) string { return g.Name }), &id)
}

// str applies an optional change: nil leaves dst as it is.
func str(dst *string, src *string) {
	if src != nil {
		*dst = strings.TrimSpace(*src)
	}
}

// required refuses an empty value.
func required(field, value, fix string) error {
	if strings.TrimSpace(value) == "" {
		return Invalid(field, value, "is required", fix)
	}
	return nil
}
