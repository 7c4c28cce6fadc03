package directory

import (
	"context"
	"fmt"
	"strings"

	"github.com/sentralpbx/sentral/directory/search"
	"github.com/sentralpbx/sentral/store"
)

// Entry kinds.
const (
	KindPerson  = "person"
	KindService = "service"
)

// Entry ids are unique within a tenant's book across kinds: people keep
// their id, services are offset so LDAP DNs and API ids never collide.
const (
	extensionIDBase = 1 << 40
	groupIDBase     = 2 << 40
)

// build reads everything the phone books show and builds one book per
// tenant.
func build(ctx context.Context, st store.Store) (*snapshot, error) {
	all := store.ListOptions{}
	tenants, err := st.Tenants().List(ctx, all)
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	sites, err := st.Sites().List(ctx, all)
	if err != nil {
		return nil, fmt.Errorf("list sites: %w", err)
	}
	deps, err := st.Departments().List(ctx, all)
	if err != nil {
		return nil, fmt.Errorf("list departments: %w", err)
	}
	people, err := st.People().List(ctx, all)
	if err != nil {
		return nil, fmt.Errorf("list people: %w", err)
	}
	exts, err := st.Extensions().List(ctx, all)
	if err != nil {
		return nil, fmt.Errorf("list extensions: %w", err)
	}
	groups, err := st.Groups().List(ctx, all)
	if err != nil {
		return nil, fmt.Errorf("list groups: %w", err)
	}
	siteName := map[int64]string{}
	for _, s := range sites {
		siteName[s.ID] = s.Name
	}
	depName := map[int64]string{}
	for _, d := range deps {
		depName[d.ID] = d.Name
	}
	name := func(m map[int64]string, id *int64) string {
		if id == nil {
			return ""
		}
		return m[*id]
	}

	snap := &snapshot{books: map[int64]*book{}, byName: map[string]int64{}}
	entries := map[int64][]search.Entry{}
	for _, t := range tenants {
		snap.books[t.ID] = &book{tenant: t, names: map[string]string{}}
		snap.byName[t.Name] = t.ID
	}

	// A person's numbers are their extensions' numbers and public numbers,
	// then the mobile.
	extsOf := map[int64][]store.Extension{}
	for _, e := range exts {
		if e.PersonID != nil {
			extsOf[*e.PersonID] = append(extsOf[*e.PersonID], e)
		}
	}
	for _, p := range people {
		b, ok := snap.books[p.TenantID]
		if !ok {
			continue
		}
		full := strings.TrimSpace(p.GivenName + " " + p.FamilyName)
		e := search.Entry{
			ID: p.ID, Kind: KindPerson, Name: full, GivenName: p.GivenName, FamilyName: p.FamilyName,
			Title: p.Title, Department: name(depName, p.DepartmentID), Site: name(siteName, p.SiteID),
			Mobile: p.Mobile, Email: p.Email, Notes: p.Notes, Visibility: string(p.Visibility),
		}
		for _, x := range extsOf[p.ID] {
			if !x.Enabled {
				continue
			}
			e.Numbers = append(e.Numbers, x.Number)
			if e.Department == "" {
				e.Department = name(depName, x.DepartmentID)
			}
			if e.Site == "" {
				e.Site = name(siteName, x.SiteID)
			}
		}
		for _, x := range extsOf[p.ID] {
			if x.Enabled && x.DID != "" {
				e.Numbers = append(e.Numbers, x.DID)
			}
		}
		if p.Mobile != "" {
			e.Numbers = append(e.Numbers, p.Mobile)
		}
		b.addNames(full, e.Numbers)
		entries[p.TenantID] = append(entries[p.TenantID], e)
	}
	// Extensions that belong to nobody are services ("Resepsjon",
	// "Vaktrom"): internal, since nobody decided to publish them.
	for _, x := range exts {
		b, ok := snap.books[x.TenantID]
		if !ok || x.PersonID != nil || !x.Enabled || strings.TrimSpace(x.DisplayName) == "" {
			continue
		}
		e := search.Entry{
			ID: extensionIDBase + x.ID, Kind: KindService, Name: x.DisplayName,
			Department: name(depName, x.DepartmentID), Site: name(siteName, x.SiteID),
			Numbers: []string{x.Number}, Visibility: string(store.VisibilityInternal),
		}
		if x.DID != "" {
			e.Numbers = append(e.Numbers, x.DID)
			// A service with a public number is meant to be called.
			e.Visibility = string(store.VisibilityListed)
		}
		b.addNames(x.DisplayName, e.Numbers)
		entries[x.TenantID] = append(entries[x.TenantID], e)
	}
	// Groups (switchboard, service desks) are listed: they exist to be
	// called.
	for _, g := range groups {
		b, ok := snap.books[g.TenantID]
		if !ok || strings.TrimSpace(g.Name) == "" {
			continue
		}
		e := search.Entry{ID: groupIDBase + g.ID, Kind: KindService, Name: g.Name, Numbers: []string{g.Number}, Visibility: string(store.VisibilityListed)}
		if g.DID != "" {
			e.Numbers = append(e.Numbers, g.DID)
		}
		b.addNames(g.Name, e.Numbers)
		entries[g.TenantID] = append(entries[g.TenantID], e)
	}
	for id, b := range snap.books {
		b.index = search.NewIndex(entries[id])
	}
	return snap, nil
}

// addNames records the name of numbers; the first name a number gets
// wins (people before services), so a shared line shows its person.
func (b *book) addNames(name string, numbers []string) {
	for _, n := range numbers {
		for _, k := range search.NumberKeys(n) {
			if _, taken := b.names[k]; !taken {
				b.names[k] = name
			}
		}
	}
}
