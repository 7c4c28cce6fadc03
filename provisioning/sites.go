package provisioning

import (
	"context"

	"github.com/sentralpbx/sentral/store"
)

// SiteInput is what an admin types for a site; nil fields are not given.
type SiteInput struct {
	Address *string
	DID     *string // presented to the emergency call centre
}

var sites = entity[store.Site, store.Site]{
	kind:   kindSite,
	repo:   store.Store.Sites,
	fields: map[string]string{"name": "NAME", "site_id": "NAME", "address": "--address", "did": "--did"},
}

func applySite(v *store.Site, in SiteInput) error {
	str(&v.Address, in.Address)
	if in.DID != nil {
		did, err := CheckDID("--did", *in.DID)
		if err != nil {
			return err
		}
		v.DID = did
	}
	return nil
}

// AddSite creates a site.
func (s *Service) AddSite(ctx context.Context, tenant, name string, in SiteInput) (store.Site, error) {
	return sites.add(ctx, s, tenant, name, func(t store.Tenant, key string, v *store.Site) error {
		*v = store.Site{TenantID: t.ID, Name: key}
		return applySite(v, in)
	})
}

// UpdateSite changes the given fields of a site.
func (s *Service) UpdateSite(ctx context.Context, tenant, name string, in SiteInput) (store.Site, error) {
	return sites.update(ctx, s, tenant, name, func(_ store.Tenant, v *store.Site) error { return applySite(v, in) })
}

// RemoveSite deletes a site nothing refers to any more.
func (s *Service) RemoveSite(ctx context.Context, tenant, name string) (store.Site, error) {
	return sites.remove(ctx, s, tenant, name)
}

// Site shows one site.
func (s *Service) Site(ctx context.Context, tenant, name string) (store.Site, error) {
	return sites.get(ctx, s, tenant, name)
}

// Sites lists a tenant's sites.
func (s *Service) Sites(ctx context.Context, tenant string) ([]store.Site, error) {
	return sites.list(ctx, s, tenant)
}
