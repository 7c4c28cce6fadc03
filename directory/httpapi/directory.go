package httpapi

import (
	"context"

	"github.com/sentralpbx/sentral/directory/search"
)

// Directory is the phone book this package serves, one per tenant.
type Directory interface {
	// TenantByName finds a tenant by its short name (e.g. "fjordvik").
	TenantByName(name string) (tenantID int64, ok bool)
	// Search runs a query in one tenant's phone book and returns one page
	// of hits and the total number of hits (see search.Index.Search).
	Search(tenantID int64, q search.Query) (hits []search.Hit, total int)
}

// tenantKey is the context key of the authenticated tenant; a private type
// so that only WithTenant can set it.
type tenantKey struct{}

// WithTenant returns ctx carrying the tenant an authenticating wrapper has
// established for the request (the tenant of the phone that proved its
// identity). The phone book serves only that tenant's book.
func WithTenant(ctx context.Context, tenantID int64) context.Context {
	return context.WithValue(ctx, tenantKey{}, tenantID)
}

// TenantFromContext returns the tenant set by WithTenant, if any.
func TenantFromContext(ctx context.Context) (tenantID int64, ok bool) {
	tenantID, ok = ctx.Value(tenantKey{}).(int64)
	return tenantID, ok
}
