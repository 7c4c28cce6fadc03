package storetest

import (
	"context"
	"testing"

	"github.com/sentralpbx/sentral/store"
)

// ruleCase is one invariant: do performs the write that must be refused
// (or, with no kinds, a control write that must be allowed, showing the
// rule is not broader than it should be).
type ruleCase struct {
	name string
	// setup prepares what the rule needs; changes it logs are not blamed
	// on the refused write.
	setup  func(t *testing.T, ctx context.Context, st store.Store, f *fixture)
	do     func(t *testing.T, ctx context.Context, st store.Store, f *fixture) error
	kinds  []error
	fields []string
	// check runs after a refused write, to prove nothing was changed.
	check func(t *testing.T, ctx context.Context, st store.Store, f *fixture)
}

// Field names used when the contract leaves the blamed field open: a
// refused delete is about the row being deleted or the reference to it, so
// any of these names says it honestly.
var (
	depRefFields = []string{"department_id", "id", "code"}
	extRefFields = []string{"extension_id", "id", "number", "lines", "members"}
	// A clash of numbering plans may be judged invalid (the plan is wrong)
	// or existing (the numbers are taken); both name the ranges.
	rangeKinds = kinds(store.ErrInvalid, store.ErrExists)
)

func testRules(t *testing.T, h Harness) {
	ext := func(tn int64, number string) store.Extension {
		return store.Extension{TenantID: tn, Number: number, DisplayName: number, COS: store.COSInternal, Enabled: true}
	}
	newTenant := func(name, domain string, ranges ...store.NumberRange) func(*testing.T, context.Context, store.Store, *fixture) error {
		return func(t *testing.T, ctx context.Context, st store.Store, f *fixture) error {
			tn := store.Tenant{Name: name, DisplayName: name, Domain: domain, Ranges: ranges}
			return st.Tenants().Create(ctx, &tn)
		}
	}
	setPrefix := func(p string) func(*testing.T, context.Context, store.Store, *fixture) error {
		return func(t *testing.T, ctx context.Context, st store.Store, f *fixture) error {
			tn := f.t1
			tn.OutsidePrefix = p
			return st.Tenants().Update(ctx, &tn)
		}
	}
	setExtDID := func(did string) func(*testing.T, context.Context, store.Store, *fixture) error {
		return func(t *testing.T, ctx context.Context, st store.Store, f *fixture) error {
			e := f.ext1[0]
			e.DID = did
			return st.Extensions().Update(ctx, &e)
		}
	}
	newTrunk := func(mut func(*store.Trunk)) func(*testing.T, context.Context, store.Store, *fixture) error {
		return func(t *testing.T, ctx context.Context, st store.Store, f *fixture) error {
			tr := store.Trunk{TenantID: f.t1.ID, Name: "centrex", Mode: store.TrunkPeer, Host: "sbc.example", Port: 5060, Transport: "udp",
				Routes: []string{"+47"}, PeerAddresses: []string{"192.0.2.1"}}
			mut(&tr)
			return st.Trunks().Create(ctx, &tr)
		}
	}
	stillThere := func(t *testing.T, ctx context.Context, st store.Store, f *fixture) {
		t.Helper()
		if _, err := st.Extensions().Get(ctx, f.ext1[0].ID); err != nil {
			t.Errorf("extension %s after the refused write: %v", f.ext1[0].Number, err)
		}
	}

	cases := []ruleCase{
		// Tenants and numbering plans.
		{name: "duplicate tenant name", kinds: kinds(store.ErrExists), fields: []string{"name"},
			do: newTenant("fjordvik", "annen.example.net", extRange("5000-5999"))},
		{name: "duplicate tenant domain", kinds: kinds(store.ErrExists), fields: []string{"domain"},
			do: newTenant("annen", "fjordvik.example.net", extRange("5000-5999"))},
		{name: "extension range overlaps another tenant's", kinds: rangeKinds, fields: []string{"ranges"},
			do: newTenant("annen", "annen.example.net", extRange("2500-2599"))},
		{name: "extension range has another tenant's range as prefix (2000-2999 vs 20000-20999)", kinds: rangeKinds, fields: []string{"ranges"},
			do: newTenant("annen", "annen.example.net", extRange("20000-20999"))},
		{name: "extension range is a prefix of another tenant's (30-39 vs 3000-3999)", kinds: rangeKinds, fields: []string{"ranges"},
			do: newTenant("annen", "annen.example.net", extRange("30-39"))},
		{name: "control: non-conflicting tenant", kinds: nil,
			do: newTenant("annen", "annen.example.net", extRange("5000-5999"), extRange("40-49"), didRange("+4755570000-+4755570999"))},
		{name: "ranges of one tenant conflict with each other", kinds: rangeKinds, fields: []string{"ranges"},
			do: newTenant("annen", "annen.example.net", extRange("5000-5999"), extRange("50000-50999"))},
		{name: "malformed range", kinds: kinds(store.ErrInvalid), fields: []string{"ranges"},
			do: newTenant("annen", "annen.example.net", extRange("5999-5000"))},
		{name: "DID range overlaps another tenant's", kinds: rangeKinds, fields: []string{"ranges"},
			do: newTenant("annen", "annen.example.net", extRange("5000-5999"), didRange("+4755550500-+4755551499"))},
		{name: "update widens a range onto another tenant's", kinds: rangeKinds, fields: []string{"ranges"},
			do: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) error {
				tn := f.t2
				tn.Ranges = append(tn.Ranges, extRange("2900-2999"))
				return st.Tenants().Update(ctx, &tn)
			}},

		// Extension numbers.
		{name: "extension number outside the tenant's ranges (in another tenant's)", kinds: kinds(store.ErrInvalid), fields: []string{"number"},
			do: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) error {
				e := ext(f.t1.ID, "3500")
				return st.Extensions().Create(ctx, &e)
			}},
		{name: "extension number outside every range", kinds: kinds(store.ErrInvalid), fields: []string{"number"},
			do: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) error {
				e := ext(f.t1.ID, "20001")
				return st.Extensions().Create(ctx, &e)
			}},
		{name: "extension renumbered outside the tenant's ranges", kinds: kinds(store.ErrInvalid), fields: []string{"number"},
			do: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) error {
				e := f.ext1[0]
				e.Number = "9999"
				return st.Extensions().Update(ctx, &e)
			},
			check: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) {
				if got, err := st.Extensions().Get(ctx, f.ext1[0].ID); err != nil || got.Number != f.ext1[0].Number {
					t.Errorf("after the refused renumbering: number %q, %v; want %q", got.Number, err, f.ext1[0].Number)
				}
			}},
		{name: "duplicate extension number", kinds: kinds(store.ErrExists), fields: []string{"number"},
			do: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) error {
				e := ext(f.t1.ID, f.ext1[1].Number)
				return st.Extensions().Create(ctx, &e)
			}},
		{name: "extension renumbered onto another extension", kinds: kinds(store.ErrExists), fields: []string{"number"},
			do: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) error {
				e := f.ext1[0]
				e.Number = f.ext1[1].Number
				return st.Extensions().Update(ctx, &e)
			}},
		{name: "group number equal to an extension number", kinds: kinds(store.ErrExists), fields: []string{"number"},
			do: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) error {
				g := store.Group{TenantID: f.t1.ID, Number: f.ext1[0].Number, Name: "Dup", Strategy: store.GroupHunt, RingSeconds: 20}
				return st.Groups().Create(ctx, &g)
			}},
		{name: "extension number equal to a group number", kinds: kinds(store.ErrExists), fields: []string{"number"},
			setup: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) {
				g := store.Group{TenantID: f.t1.ID, Number: "2600", Name: "Servicetorget", Strategy: store.GroupHunt, RingSeconds: 20}
				mustCreate(t, ctx, st.Groups(), &g)
			},
			do: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) error {
				e := ext(f.t1.ID, "2600")
				return st.Extensions().Create(ctx, &e)
			}},
		{name: "group number outside the tenant's ranges", kinds: kinds(store.ErrInvalid), fields: []string{"number"},
			do: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) error {
				g := store.Group{TenantID: f.t1.ID, Number: "3600", Name: "Feil", Strategy: store.GroupHunt, RingSeconds: 20}
				return st.Groups().Create(ctx, &g)
			}},
		{name: "switchboard number set to an extension's", kinds: kinds(store.ErrExists), fields: []string{"switchboard_number"},
			do: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) error {
				tn := f.t1
				tn.SwitchboardNumber = f.ext1[0].Number
				return st.Tenants().Update(ctx, &tn)
			}},
		{name: "extension created on the switchboard number", kinds: kinds(store.ErrExists), fields: []string{"number"},
			setup: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) {
				tn := f.t1
				tn.SwitchboardNumber = "2999"
				mustUpdate(t, ctx, st.Tenants(), &tn)
			},
			do: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) error {
				e := ext(f.t1.ID, "2999")
				return st.Extensions().Create(ctx, &e)
			}},

		// Tenant ownership of references.
		{name: "extension with another tenant's department", kinds: kinds(store.ErrInvalid), fields: []string{"department_id"},
			do: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) error {
				e := ext(f.t1.ID, "2100")
				e.DepartmentID = &f.dep2.ID
				return st.Extensions().Create(ctx, &e)
			}},
		{name: "extension with another tenant's site", kinds: kinds(store.ErrInvalid), fields: []string{"site_id"},
			do: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) error {
				e := f.ext1[0]
				e.SiteID = &f.site2.ID
				return st.Extensions().Update(ctx, &e)
			}},
		{name: "extension with another tenant's person", kinds: kinds(store.ErrInvalid), fields: []string{"person_id"},
			do: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) error {
				e := ext(f.t1.ID, "2100")
				e.PersonID = &f.per2.ID
				return st.Extensions().Create(ctx, &e)
			}},
		{name: "device line on another tenant's extension", kinds: kinds(store.ErrInvalid), fields: []string{"lines", "extension_id"},
			do: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) error {
				d := store.Device{TenantID: f.t1.ID, MAC: "0004f2000001", Model: "yealink-t54w",
					Lines: []store.DeviceLine{{Line: 1, ExtensionID: f.ext2[0].ID}}}
				return st.Devices().Create(ctx, &d)
			}},
		{name: "group member of another tenant", kinds: kinds(store.ErrInvalid), fields: []string{"members", "extension_id"},
			do: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) error {
				g := store.Group{TenantID: f.t1.ID, Number: "2600", Name: "G", Strategy: store.GroupHunt, RingSeconds: 20,
					Members: []int64{f.ext1[0].ID, f.ext2[0].ID}}
				return st.Groups().Create(ctx, &g)
			}},

		// Changes that would strand existing data.
		{name: "shrinking ranges below an existing extension", kinds: kinds(store.ErrInUse), fields: []string{"ranges"},
			do: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) error {
				tn := f.t1
				tn.Ranges = []store.NumberRange{extRange("2500-2999"), didRange("+4755550000-+4755550999")}
				return st.Tenants().Update(ctx, &tn)
			},
			check: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) {
				got, err := st.Tenants().Get(ctx, f.t1.ID)
				if err != nil {
					t.Fatalf("Get tenant: %v", err)
				}
				sameEntity(t, "tenant after the refused shrink", got, f.t1)
			}},
		{name: "control: shrinking ranges that keeps every extension", kinds: nil,
			do: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) error {
				tn := f.t1
				tn.Ranges = []store.NumberRange{extRange("2000-2099"), didRange("+4755550000-+4755550999")}
				return st.Tenants().Update(ctx, &tn)
			}},
		{name: "domain change with credentialed extensions", kinds: kinds(store.ErrInUse), fields: []string{"domain"},
			setup: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) {
				// HA1 hashes include the realm: a new domain would lock every
				// credentialed phone out.
				e := f.ext1[0]
				e.HA1MD5 = "0123456789abcdef0123456789abcdef"
				mustUpdate(t, ctx, st.Extensions(), &e)
			},
			do: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) error {
				tn := f.t1
				tn.Domain = "ny.example.net"
				return st.Tenants().Update(ctx, &tn)
			},
			check: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) {
				if _, err := st.TenantByDomain(ctx, f.t1.Domain); err != nil {
					t.Errorf("TenantByDomain(%q) after the refused change: %v", f.t1.Domain, err)
				}
			}},
		{name: "control: domain change without credentialed extensions", kinds: nil,
			do: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) error {
				tn := f.t2
				tn.Domain = "ny.example.net"
				return st.Tenants().Update(ctx, &tn)
			}},

		// Deletes of referenced rows.
		{name: "delete a department used by an extension", kinds: kinds(store.ErrInUse), fields: depRefFields,
			setup: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) {
				e := f.ext1[0]
				e.DepartmentID = &f.dep1.ID
				mustUpdate(t, ctx, st.Extensions(), &e)
			},
			do: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) error {
				return st.Departments().Delete(ctx, f.dep1.ID)
			},
			check: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) {
				if _, err := st.Departments().Get(ctx, f.dep1.ID); err != nil {
					t.Errorf("department after the refused delete: %v", err)
				}
			}},
		{name: "control: delete an unused department", kinds: nil,
			do: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) error {
				return st.Departments().Delete(ctx, f.dep2.ID)
			}},
		{name: "delete a site used by an extension", kinds: kinds(store.ErrInUse), fields: []string{"site_id", "id", "name"},
			setup: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) {
				e := f.ext1[0]
				e.SiteID = &f.site1.ID
				mustUpdate(t, ctx, st.Extensions(), &e)
			},
			do: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) error {
				return st.Sites().Delete(ctx, f.site1.ID)
			}},
		{name: "delete an extension on a device line", kinds: kinds(store.ErrInUse), fields: extRefFields, check: stillThere,
			setup: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) {
				d := store.Device{TenantID: f.t1.ID, MAC: "0004f2000001", Model: "yealink-t54w",
					Lines: []store.DeviceLine{{Line: 1, ExtensionID: f.ext1[0].ID}}}
				mustCreate(t, ctx, st.Devices(), &d)
			},
			do: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) error {
				return st.Extensions().Delete(ctx, f.ext1[0].ID)
			}},
		{name: "delete an extension in a group", kinds: kinds(store.ErrInUse), fields: extRefFields, check: stillThere,
			setup: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) {
				g := store.Group{TenantID: f.t1.ID, Number: "2600", Name: "G", Strategy: store.GroupHunt, RingSeconds: 20,
					Members: []int64{f.ext1[1].ID, f.ext1[0].ID}}
				mustCreate(t, ctx, st.Groups(), &g)
			},
			do: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) error {
				return st.Extensions().Delete(ctx, f.ext1[0].ID)
			}},
		{name: "delete an extension with a DECT handset", kinds: kinds(store.ErrInUse), fields: extRefFields, check: stillThere,
			setup: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) {
				hs := store.DECTHandset{TenantID: f.t1.ID, GatewayID: f.gw1.ID, IPUI: "00A1B2C3D4", ExtensionID: f.ext1[0].ID}
				mustCreate(t, ctx, st.DECTHandsets(), &hs)
			},
			do: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) error {
				return st.Extensions().Delete(ctx, f.ext1[0].ID)
			}},
		{name: "control: delete an unreferenced extension", kinds: nil,
			do: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) error {
				return st.Extensions().Delete(ctx, f.ext1[2].ID)
			}},

		// Devices and handsets: formats and global uniqueness.
		{name: "duplicate MAC across tenants", kinds: kinds(store.ErrExists), fields: []string{"mac"},
			setup: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) {
				d1 := store.Device{TenantID: f.t1.ID, MAC: "0004f2000001", Model: "yealink-t54w"}
				mustCreate(t, ctx, st.Devices(), &d1)
			},
			do: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) error {
				d2 := store.Device{TenantID: f.t2.ID, MAC: "0004f2000001", Model: "yealink-t54w"}
				return st.Devices().Create(ctx, &d2)
			}},
		{name: "MAC too short", kinds: kinds(store.ErrInvalid), fields: []string{"mac"},
			do: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) error {
				d := store.Device{TenantID: f.t1.ID, MAC: "0004f20000", Model: "yealink-t54w"}
				return st.Devices().Create(ctx, &d)
			}},
		{name: "MAC not hex", kinds: kinds(store.ErrInvalid), fields: []string{"mac"},
			do: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) error {
				d := store.Device{TenantID: f.t1.ID, MAC: "0004f2zz0001", Model: "yealink-t54w"}
				return st.Devices().Create(ctx, &d)
			}},
		{name: "duplicate IPUI across tenants", kinds: kinds(store.ErrExists), fields: []string{"ipui"},
			setup: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) {
				h1 := store.DECTHandset{TenantID: f.t1.ID, GatewayID: f.gw1.ID, IPUI: "00A1B2C3D4", ExtensionID: f.ext1[0].ID}
				mustCreate(t, ctx, st.DECTHandsets(), &h1)
			},
			do: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) error {
				h2 := store.DECTHandset{TenantID: f.t2.ID, GatewayID: f.gw2.ID, IPUI: "00A1B2C3D4", ExtensionID: f.ext2[0].ID}
				return st.DECTHandsets().Create(ctx, &h2)
			}},
		{name: "IPUI too short", kinds: kinds(store.ErrInvalid), fields: []string{"ipui"},
			do: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) error {
				hs := store.DECTHandset{TenantID: f.t1.ID, GatewayID: f.gw1.ID, IPUI: "00A1B2", ExtensionID: f.ext1[0].ID}
				return st.DECTHandsets().Create(ctx, &hs)
			}},
		{name: "IPUI not hex", kinds: kinds(store.ErrInvalid), fields: []string{"ipui"},
			do: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) error {
				hs := store.DECTHandset{TenantID: f.t1.ID, GatewayID: f.gw1.ID, IPUI: "00A1B2C3DG", ExtensionID: f.ext1[0].ID}
				return st.DECTHandsets().Create(ctx, &hs)
			}},

		// Natural keys within a tenant.
		{name: "duplicate site name", kinds: kinds(store.ErrExists), fields: []string{"name"},
			do: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) error {
				s := store.Site{TenantID: f.t1.ID, Name: f.site1.Name}
				return st.Sites().Create(ctx, &s)
			}},
		{name: "duplicate department code", kinds: kinds(store.ErrExists), fields: []string{"code"},
			do: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) error {
				d := store.Department{TenantID: f.t1.ID, Code: f.dep1.Code, Name: "Annen"}
				return st.Departments().Create(ctx, &d)
			}},
		{name: "duplicate DECT gateway name", kinds: kinds(store.ErrExists), fields: []string{"name"},
			do: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) error {
				g := store.DECTGateway{TenantID: f.t1.ID, Name: f.gw1.Name, Mode: store.DECTRegister}
				return st.DECTGateways().Create(ctx, &g)
			}},
		{name: "duplicate trunk name", kinds: kinds(store.ErrExists), fields: []string{"name"},
			setup: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) {
				tr := store.Trunk{TenantID: f.t1.ID, Name: "centrex", Mode: store.TrunkPeer, Host: "sbc.example", Port: 5060, Transport: "udp", PeerAddresses: []string{"192.0.2.1"}}
				mustCreate(t, ctx, st.Trunks(), &tr)
			},
			do: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) error {
				tr := store.Trunk{TenantID: f.t1.ID, Name: "centrex", Mode: store.TrunkPeer, Host: "sbc2.example", Port: 5060, Transport: "udp", PeerAddresses: []string{"192.0.2.1"}}
				return st.Trunks().Create(ctx, &tr)
			}},
		{name: "control: same trunk name in another tenant", kinds: nil,
			setup: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) {
				tr := store.Trunk{TenantID: f.t1.ID, Name: "centrex", Mode: store.TrunkPeer, Host: "sbc.example", Port: 5060, Transport: "udp", PeerAddresses: []string{"192.0.2.1"}}
				mustCreate(t, ctx, st.Trunks(), &tr)
			},
			do: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) error {
				tr := store.Trunk{TenantID: f.t2.ID, Name: "centrex", Mode: store.TrunkPeer, Host: "sbc.example", Port: 5060, Transport: "udp", PeerAddresses: []string{"192.0.2.1"}}
				return st.Trunks().Create(ctx, &tr)
			}},

		// The outside-line prefix and the numbering plan.
		{name: "outside prefix with a letter", kinds: kinds(store.ErrInvalid), fields: []string{"outside_prefix"},
			do: setPrefix("0a")},
		{name: "outside prefix of 5 digits", kinds: kinds(store.ErrInvalid), fields: []string{"outside_prefix"},
			do: setPrefix("00000")},
		{name: "outside prefix starts the tenant's own range (2 against 2000-2999)", kinds: kinds(store.ErrInvalid), fields: []string{"outside_prefix"},
			do: setPrefix("2")},
		{name: "outside prefix equal to a number of the tenant's range (2000 against 2000-2999)", kinds: kinds(store.ErrInvalid), fields: []string{"outside_prefix"},
			do: setPrefix("2000")},
		{name: "outside prefix begins with a number of the new tenant's range (401 against 40-49)", kinds: kinds(store.ErrInvalid), fields: []string{"outside_prefix"},
			do: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) error {
				tn := store.Tenant{Name: "annen", DisplayName: "annen", Domain: "annen.example.net", Ranges: []store.NumberRange{extRange("40-49")}, OutsidePrefix: "401"}
				return st.Tenants().Create(ctx, &tn)
			}},
		{name: "outside prefix starts another tenant's range (3 against 3000-3999)", kinds: kinds(store.ErrInvalid), fields: []string{"outside_prefix"},
			do: setPrefix("3")},
		{name: "control: outside prefix 0", kinds: nil, do: setPrefix("0")},
		{name: "range added onto the tenant's own outside prefix", kinds: rangeKinds, fields: []string{"ranges"},
			setup: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) {
				tn := f.t1
				tn.OutsidePrefix = "0"
				mustUpdate(t, ctx, st.Tenants(), &tn)
				f.t1 = tn
			},
			do: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) error {
				tn := f.t1
				tn.Ranges = append(tn.Ranges, extRange("0100-0199"))
				return st.Tenants().Update(ctx, &tn)
			}},
		{name: "new tenant's range starts with another tenant's outside prefix", kinds: rangeKinds, fields: []string{"ranges"},
			setup: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) {
				tn := f.t1
				tn.OutsidePrefix = "0"
				mustUpdate(t, ctx, st.Tenants(), &tn)
			},
			do: newTenant("annen", "annen.example.net", extRange("0100-0199"))},
		{name: "unknown-DID policy not known", kinds: kinds(store.ErrInvalid), fields: []string{"unknown_did"},
			do: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) error {
				tn := f.t1
				tn.UnknownDID = "voicemail"
				return st.Tenants().Update(ctx, &tn)
			}},

		// Direct numbers (DIDs) of extensions and groups.
		{name: "extension DID not E.164", kinds: kinds(store.ErrInvalid), fields: []string{"did"},
			do: setExtDID("+47abc")},
		{name: "extension DID outside the tenant's DID ranges", kinds: kinds(store.ErrInvalid), fields: []string{"did"},
			do: setExtDID("+4799999999")},
		{name: "extension DID in another tenant's DID range", kinds: kinds(store.ErrInvalid), fields: []string{"did"},
			do: setExtDID("+4755560001")},
		{name: "control: extension DID as 8-digit national number", kinds: nil, do: setExtDID("55550001"),
			check: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) {
				if got, _ := st.Extensions().Get(ctx, f.ext1[0].ID); got.DID != "+4755550001" {
					t.Errorf("DID stored as %q, want +4755550001", got.DID)
				}
			}},
		{name: "extension DID taken by another extension", kinds: kinds(store.ErrExists), fields: []string{"did"},
			setup: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) {
				e := f.ext1[1]
				e.DID = "+4755550001"
				mustUpdate(t, ctx, st.Extensions(), &e)
			},
			do: setExtDID("+4755550001")},
		{name: "extension DID taken by a group", kinds: kinds(store.ErrExists), fields: []string{"did"},
			setup: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) {
				g := store.Group{TenantID: f.t1.ID, Number: "2600", Name: "G", Strategy: store.GroupHunt, RingSeconds: 20, DID: "+4755550001"}
				mustCreate(t, ctx, st.Groups(), &g)
			},
			do: setExtDID("+4755550001")},
		{name: "group DID taken by an extension", kinds: kinds(store.ErrExists), fields: []string{"did"},
			setup: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) {
				e := f.ext1[1]
				e.DID = "+4755550001"
				mustUpdate(t, ctx, st.Extensions(), &e)
			},
			do: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) error {
				g := store.Group{TenantID: f.t1.ID, Number: "2600", Name: "G", Strategy: store.GroupHunt, RingSeconds: 20, DID: "+4755550001"}
				return st.Groups().Create(ctx, &g)
			}},
		{name: "group DID outside the tenant's DID ranges", kinds: kinds(store.ErrInvalid), fields: []string{"did"},
			do: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) error {
				g := store.Group{TenantID: f.t1.ID, Number: "2600", Name: "G", Strategy: store.GroupHunt, RingSeconds: 20, DID: "+4755560001"}
				return st.Groups().Create(ctx, &g)
			}},
		{name: "extension DID equal to the switchboard number", kinds: kinds(store.ErrExists), fields: []string{"did"},
			setup: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) {
				tn := f.t1
				tn.SwitchboardNumber = "+4755550000"
				mustUpdate(t, ctx, st.Tenants(), &tn)
			},
			do: setExtDID("+4755550000")},
		{name: "switchboard number set to an extension's DID", kinds: kinds(store.ErrExists), fields: []string{"switchboard_number"},
			setup: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) {
				e := f.ext1[1]
				e.DID = "+4755550001"
				mustUpdate(t, ctx, st.Extensions(), &e)
			},
			do: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) error {
				tn := f.t1
				tn.SwitchboardNumber = "+4755550001"
				return st.Tenants().Update(ctx, &tn)
			}},
		{name: "shrinking DID ranges below an extension's DID", kinds: kinds(store.ErrInUse), fields: []string{"ranges"},
			setup: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) {
				e := f.ext1[1]
				e.DID = "+4755550900"
				mustUpdate(t, ctx, st.Extensions(), &e)
			},
			do: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) error {
				tn := f.t1
				tn.Ranges = []store.NumberRange{extRange("2000-2999"), didRange("+4755550000-+4755550099")}
				return st.Tenants().Update(ctx, &tn)
			}},
		{name: "shrinking DID ranges below a group's DID", kinds: kinds(store.ErrInUse), fields: []string{"ranges"},
			setup: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) {
				g := store.Group{TenantID: f.t1.ID, Number: "2600", Name: "G", Strategy: store.GroupHunt, RingSeconds: 20, DID: "+4755550900"}
				mustCreate(t, ctx, st.Groups(), &g)
			},
			do: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) error {
				tn := f.t1
				tn.Ranges = []store.NumberRange{extRange("2000-2999"), didRange("+4755550000-+4755550099")}
				return st.Tenants().Update(ctx, &tn)
			}},

		// Trunk routes and peers.
		{name: "trunk route without +", kinds: kinds(store.ErrInvalid), fields: []string{"routes"},
			do: newTrunk(func(tr *store.Trunk) { tr.Routes = []string{"47"} })},
		{name: "trunk route of 16 digits", kinds: kinds(store.ErrInvalid), fields: []string{"routes"},
			do: newTrunk(func(tr *store.Trunk) { tr.Routes = []string{"+4712345678901234"} })},
		{name: "trunk route given twice", kinds: kinds(store.ErrInvalid), fields: []string{"routes"},
			do: newTrunk(func(tr *store.Trunk) { tr.Routes = []string{"+47", "+", "+47"} })},
		{name: "trunk peer not an address", kinds: kinds(store.ErrInvalid), fields: []string{"peer_addresses"},
			do: newTrunk(func(tr *store.Trunk) { tr.PeerAddresses = []string{"sbc.example"} })},
		{name: "trunk peer network with host bits", kinds: kinds(store.ErrInvalid), fields: []string{"peer_addresses"},
			do: newTrunk(func(tr *store.Trunk) { tr.PeerAddresses = []string{"198.51.100.7/24"} })},
		{name: "trunk peer not in canonical form", kinds: kinds(store.ErrInvalid), fields: []string{"peer_addresses"},
			do: newTrunk(func(tr *store.Trunk) { tr.PeerAddresses = []string{"2001:DB8::1"} })},
		{name: "peer trunk without peer addresses", kinds: kinds(store.ErrInvalid), fields: []string{"peer_addresses"},
			do: newTrunk(func(tr *store.Trunk) { tr.PeerAddresses = nil })},
		{name: "control: register trunk without routes or peers", kinds: nil,
			do: newTrunk(func(tr *store.Trunk) { tr.Mode, tr.Username, tr.PeerAddresses = store.TrunkRegister, "4755550000", nil })},
		{name: "control: every route and both address families", kinds: nil,
			do: newTrunk(func(tr *store.Trunk) {
				tr.Routes = []string{"+", "+47", "+123456789012345"}
				tr.PeerAddresses = []string{"192.0.2.10", "198.51.100.0/24", "2001:db8::1", "2001:db8:1::/48", "0.0.0.0/0"}
				tr.Emergency = true
			})},

		// Device credentials.
		{name: "device username taken in another tenant", kinds: kinds(store.ErrExists), fields: []string{"auth_user"},
			setup: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) {
				d := store.Device{TenantID: f.t1.ID, MAC: "0004f2000001", Model: "yealink-t54w", AuthUser: "resepsjon"}
				mustCreate(t, ctx, st.Devices(), &d)
			},
			do: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) error {
				d := store.Device{TenantID: f.t2.ID, MAC: "0004f2000002", Model: "yealink-t54w", AuthUser: "resepsjon"}
				return st.Devices().Create(ctx, &d)
			}},
		{name: "device default username taken by another device", kinds: kinds(store.ErrExists), fields: []string{"auth_user"},
			setup: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) {
				d := store.Device{TenantID: f.t1.ID, MAC: "0004f2000001", Model: "yealink-t54w", AuthUser: "ph0004f2000002"}
				mustCreate(t, ctx, st.Devices(), &d)
			},
			do: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) error {
				d := store.Device{TenantID: f.t1.ID, MAC: "0004f2000002", Model: "yealink-t54w"}
				return st.Devices().Create(ctx, &d)
			}},
		{name: "device username all digits", kinds: kinds(store.ErrInvalid), fields: []string{"auth_user"},
			do: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) error {
				d := store.Device{TenantID: f.t1.ID, MAC: "0004f2000001", Model: "yealink-t54w", AuthUser: "2001"}
				return st.Devices().Create(ctx, &d)
			}},
		{name: "device secret too short", kinds: kinds(store.ErrInvalid), fields: []string{"secret"},
			do: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) error {
				d := store.Device{TenantID: f.t1.ID, MAC: "0004f2000001", Model: "yealink-t54w", Secret: "kort"}
				return st.Devices().Create(ctx, &d)
			}},
		{name: "device secret with a quote", kinds: kinds(store.ErrInvalid), fields: []string{"secret"},
			do: func(t *testing.T, ctx context.Context, st store.Store, f *fixture) error {
				d := store.Device{TenantID: f.t1.ID, MAC: "0004f2000001", Model: "yealink-t54w", Secret: `abcdefghijklmnop"q`}
				return st.Devices().Create(ctx, &d)
			}},
	}

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// Each case has a database of its own, so they can overlap;
			// on PostgreSQL this hides most of the CREATE DATABASE time.
			t.Parallel()
			ctx, st, _ := open(t, h)
			f := newFixture(t, ctx, st)
			if c.setup != nil {
				c.setup(t, ctx, st, f)
			}
			seq := lastChange(t, ctx, st)
			err := c.do(t, ctx, st, f)
			if c.kinds == nil {
				if err != nil {
					t.Errorf("allowed write refused: %v", err)
				}
				return
			}
			wantErr(t, c.name, err, c.kinds, c.fields...)
			if err != nil {
				if cs := changesSince(t, ctx, st, seq); len(cs) != 0 {
					t.Errorf("the refused write logged changes %+v", cs)
				}
			}
			if c.check != nil {
				c.check(t, ctx, st, f)
			}
		})
	}

	t.Run("delete tenant cascades", func(t *testing.T) { testCascade(t, h) })
}

// testCascade deletes a fully populated tenant: everything it owns goes,
// the other tenant keeps everything, and its names and numbers are free.
func testCascade(t *testing.T, h Harness) {
	ctx, st, _ := open(t, h)
	f := newFixture(t, ctx, st)
	dev := store.Device{TenantID: f.t1.ID, MAC: "0004f2000001", Model: "yealink-t54w", SiteID: &f.site1.ID,
		Lines: []store.DeviceLine{{Line: 1, ExtensionID: f.ext1[0].ID}}}
	mustCreate(t, ctx, st.Devices(), &dev)
	hs := store.DECTHandset{TenantID: f.t1.ID, GatewayID: f.gw1.ID, IPUI: "00A1B2C3D4", ExtensionID: f.ext1[1].ID}
	mustCreate(t, ctx, st.DECTHandsets(), &hs)
	tr := store.Trunk{TenantID: f.t1.ID, Name: "centrex", Mode: store.TrunkPeer, Host: "sbc.example", Port: 5060, Transport: "udp",
		Routes: []string{"+47", "+"}, Emergency: true, PeerAddresses: []string{"192.0.2.1", "198.51.100.0/24"}}
	mustCreate(t, ctx, st.Trunks(), &tr)
	grp := store.Group{TenantID: f.t1.ID, Number: "2600", Name: "G", Strategy: store.GroupHunt, RingSeconds: 20,
		Members: []int64{f.ext1[2].ID, f.ext1[0].ID}}
	mustCreate(t, ctx, st.Groups(), &grp)
	e := f.ext1[0]
	e.PersonID, e.DepartmentID, e.SiteID, e.HA1MD5 = &f.per1.ID, &f.dep1.ID, &f.site1.ID, "0123456789abcdef0123456789abcdef"
	mustUpdate(t, ctx, st.Extensions(), &e)
	// The other tenant's world, which must survive untouched.
	dev2 := store.Device{TenantID: f.t2.ID, MAC: "0004f2000002", Model: "yealink-t54w",
		Lines: []store.DeviceLine{{Line: 1, ExtensionID: f.ext2[0].ID}}}
	mustCreate(t, ctx, st.Devices(), &dev2)
	before := countAll(t, ctx, st)

	seq := lastChange(t, ctx, st)
	if err := st.Tenants().Delete(ctx, f.t1.ID); err != nil {
		t.Fatalf("Delete tenant %s: %v", f.t1.Name, err)
	}

	gone := []struct {
		what string
		err  func() error
	}{
		{"tenant", func() error { _, err := st.Tenants().Get(ctx, f.t1.ID); return err }},
		{"site", func() error { _, err := st.Sites().Get(ctx, f.site1.ID); return err }},
		{"department", func() error { _, err := st.Departments().Get(ctx, f.dep1.ID); return err }},
		{"person", func() error { _, err := st.People().Get(ctx, f.per1.ID); return err }},
		{"extension", func() error { _, err := st.Extensions().Get(ctx, f.ext1[0].ID); return err }},
		{"extension by number", func() error { _, err := st.Extensions().Find(ctx, f.t1.ID, f.ext1[1].Number); return err }},
		{"device", func() error { _, err := st.Devices().Get(ctx, dev.ID); return err }},
		{"device by MAC", func() error { _, err := st.Devices().Find(ctx, 0, dev.MAC); return err }},
		{"DECT gateway", func() error { _, err := st.DECTGateways().Get(ctx, f.gw1.ID); return err }},
		{"DECT handset", func() error { _, err := st.DECTHandsets().Get(ctx, hs.ID); return err }},
		{"trunk", func() error { _, err := st.Trunks().Get(ctx, tr.ID); return err }},
		{"group", func() error { _, err := st.Groups().Get(ctx, grp.ID); return err }},
		{"tenant by domain", func() error { _, err := st.TenantByDomain(ctx, f.t1.Domain); return err }},
	}
	for _, g := range gone {
		wantNotFound(t, g.what+" of the deleted tenant", g.err())
	}

	// Tenant 2 keeps exactly what it had: the counts drop by tenant 1's rows only.
	after := countAll(t, ctx, st)
	removed := map[string]int{"tenants": 1, "sites": 1, "departments": 1, "people": 1, "extensions": 3,
		"devices": 1, "dect gateways": 1, "dect handsets": 1, "trunks": 1, "groups": 1}
	for name, n := range before {
		if after[name] != n-removed[name] {
			t.Errorf("after the cascade %s lists %d rows, want %d", name, after[name], n-removed[name])
		}
	}
	for _, want := range f.ext2 {
		got, err := st.Extensions().Get(ctx, want.ID)
		if err != nil {
			t.Errorf("tenant 2 extension %s: %v", want.Number, err)
			continue
		}
		sameEntity(t, "tenant 2 extension after the cascade", got, want)
	}
	if got, err := st.Devices().Get(ctx, dev2.ID); err != nil {
		t.Errorf("tenant 2 device: %v", err)
	} else {
		sameEntity(t, "tenant 2 device after the cascade", got, dev2)
	}
	if got, err := st.Tenants().Get(ctx, f.t2.ID); err != nil {
		t.Errorf("tenant 2: %v", err)
	} else {
		sameEntity(t, "tenant 2 after the cascade", got, f.t2)
	}

	// The change log records at least the tenant's deletion.
	var sawTenant bool
	for _, c := range changesSince(t, ctx, st, seq) {
		if c.Entity == store.EntityTenant && c.Op == store.OpDelete && c.EntityID == f.t1.ID {
			sawTenant = true
		}
	}
	if !sawTenant {
		t.Errorf("no tenant delete change logged for the cascade")
	}

	// Names, domain, numbers and the MAC are free again.
	again := mustTenant(t, ctx, st, "fjordvik", "2000-2999", "+4755550000-+4755550999")
	e2 := store.Extension{TenantID: again.ID, Number: f.ext1[0].Number, DisplayName: "igjen", COS: store.COSInternal}
	if err := st.Extensions().Create(ctx, &e2); err != nil {
		t.Errorf("re-create extension %s after the cascade: %v", e2.Number, err)
	}
	d := store.Device{TenantID: again.ID, MAC: dev.MAC, Model: "yealink-t54w"}
	if err := st.Devices().Create(ctx, &d); err != nil {
		t.Errorf("re-create device %s after the cascade: %v", d.MAC, err)
	}
}
