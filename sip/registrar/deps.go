package registrar

import (
	"net/netip"

	"github.com/sentralpbx/sentral/sip/auth"
	"github.com/sentralpbx/sentral/store"
)

// The registrar declares the small interfaces it consumes; the catalog,
// the digest authenticator, the guard and the location service satisfy
// them (*auth.Authenticator, *auth.Guard, *catalog.Catalog,
// *location.Service).

// Catalog answers who owns a domain and which extensions exist.
type Catalog interface {
	TenantByDomain(domain string) (store.Tenant, bool)
	Extension(tenantID int64, number string) (store.Extension, bool)
}

// DeviceAuth, when the Catalog also implements it, lets a desk phone
// register the extensions on its line keys with its own credentials
// (store.Device AuthUser and Secret) instead of each extension's.
type DeviceAuth = auth.DeviceAuth

// Authenticator builds digest challenges and verifies answers to them.
type Authenticator interface {
	// Challenge returns WWW-Authenticate values, strongest algorithm first.
	Challenge(realm string, stale bool, algorithms ...string) []string
	Verify(method, header, realm string, lookup func(user string) (auth.Credentials, bool)) auth.Result
}

// Guard counts failures per source address and bans abusers. Admission
// (is the source banned or over its rate?) is the SIP server's job, for
// every method; the registrar only reports the outcome of digest checks.
type Guard interface {
	Failed(ip netip.Addr) (banned bool)
	Succeeded(ip netip.Addr)
}

// Locations holds the bindings of every AOR.
type Locations interface {
	Bindings(tenantID int64, number string) []store.Binding
	Update(tenantID int64, number string, add []store.Binding, remove []string) ([]store.Binding, error)
	Unregister(tenantID int64, number, callID string, cseq uint32) error
}
