package registrar_test

import (
	"context"
	"fmt"
	"time"

	"github.com/sentralpbx/sentral/sip/auth"
	"github.com/sentralpbx/sentral/store"
)

type fakeCatalog struct {
	tenants []store.Tenant
	exts    []store.Extension
	index   map[string]int // "tenant/number" -> exts index, as the real catalog's map
	devices map[string]fakeDevice
}

func (c *fakeCatalog) TenantByDomain(d string) (store.Tenant, bool) {
	for _, t := range c.tenants {
		if t.Domain == d {
			return t, true
		}
	}
	return store.Tenant{}, false
}

func (c *fakeCatalog) Extension(tid int64, n string) (store.Extension, bool) {
	if c.index != nil {
		if i, ok := c.index[fmt.Sprint(tid, "/", n)]; ok {
			return c.exts[i], true
		}
		return store.Extension{}, false
	}
	for _, e := range c.exts {
		if e.TenantID == tid && e.Number == n {
			return e, true
		}
	}
	return store.Extension{}, false
}

// indexed makes Extension a map lookup, for benchmarks over many users.
func (c *fakeCatalog) indexed() *fakeCatalog {
	c.index = map[string]int{}
	for i, e := range c.exts {
		c.index[fmt.Sprint(e.TenantID, "/", e.Number)] = i
	}
	return c
}

func newCatalog(realm string, users map[string]string) *fakeCatalog {
	c := &fakeCatalog{tenants: []store.Tenant{{Meta: store.Meta{ID: 1}, Name: "fjordvik", Domain: realm}}}
	for u, p := range users {
		md5, _ := auth.HA1(auth.MD5, u, realm, p)
		sha, _ := auth.HA1(auth.SHA256, u, realm, p)
		c.exts = append(c.exts, store.Extension{Meta: store.Meta{ID: int64(len(c.exts) + 1)}, TenantID: 1, Number: u,
			HA1MD5: md5, HA1SHA256: sha, Enabled: true})
	}
	return c
}

// nopBindings stands in for the store under the real location service:
// these tests look at memory, which is authoritative.
type nopBindings struct{}

func (nopBindings) Save(context.Context, []store.Binding) error           { return nil }
func (nopBindings) Delete(context.Context, int64, string, []string) error { return nil }
func (nopBindings) DeleteAOR(context.Context, int64, string) error        { return nil }
func (nopBindings) List(context.Context, int64) ([]store.Binding, error)  { return nil, nil }
func (nopBindings) ListAOR(context.Context, int64, string) ([]store.Binding, error) {
	return nil, nil
}
func (nopBindings) Purge(context.Context, time.Time) (int, error) { return 0, nil }

// fakeDevice is a desk phone with its own credentials and line keys.
type fakeDevice struct {
	tenant int64
	secret string
	lines  []string
}

// DeviceCredentials implements registrar.DeviceAuth over c.devices.
func (c *fakeCatalog) DeviceCredentials(tenantID int64, authUser, number, realm string) (auth.Credentials, bool) {
	d, ok := c.devices[authUser]
	if !ok || d.tenant != tenantID {
		return auth.Credentials{}, false
	}
	for _, l := range d.lines {
		if l == number {
			md5, _ := auth.HA1(auth.MD5, authUser, realm, d.secret)
			sha, _ := auth.HA1(auth.SHA256, authUser, realm, d.secret)
			return auth.Credentials{HA1MD5: md5, HA1SHA256: sha}, true
		}
	}
	return auth.Credentials{}, false
}
