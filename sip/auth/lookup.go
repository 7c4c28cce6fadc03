package auth

import "github.com/sentralpbx/sentral/store"

// DeviceAuth finds a desk phone's own credentials (store.Device AuthUser
// and Secret), which it uses for every extension on its line keys.
// *catalog.Catalog implements it.
type DeviceAuth interface {
	// DeviceCredentials returns the HA1s of the device whose AuthUser is
	// authUser, in realm, if that device belongs to tenantID and carries
	// number on one of its lines.
	DeviceCredentials(tenantID int64, authUser, number, realm string) (Credentials, bool)
}

// LookupExtension is the lookup Verify needs for a request made as
// extension number of tenant (realm tenant.Domain), where ext and found
// are what the catalog returned for number. The username may be number
// itself, answered with the extension's own HA1s, or the AuthUser of a
// desk phone carrying number on a line key, answered by devices (which
// may be nil). A missing or disabled extension, one without credentials,
// and an unknown device all look the same: no credentials, so the request
// fails like a wrong password and a scanner cannot tell which exist.
func LookupExtension(tenant store.Tenant, number string, ext store.Extension, found bool, devices DeviceAuth) func(user string) (Credentials, bool) {
	usable := found && ext.Enabled && ext.HasCredentials()
	return func(user string) (Credentials, bool) {
		switch {
		case !found || !ext.Enabled:
			return Credentials{}, false
		case user == number && usable:
			return Credentials{HA1MD5: ext.HA1MD5, HA1SHA256: ext.HA1SHA256}, true
		case user != number && devices != nil:
			return devices.DeviceCredentials(tenant.ID, user, number, tenant.Domain)
		}
		return Credentials{}, false
	}
}
