package storetest

import (
	"errors"
	"fmt"
	"testing"

	"github.com/sentralpbx/sentral/store"
)

// crudCase describes one entity to the generic CRUD test.
type crudCase[T any] struct {
	entity store.Entity
	repo   func(store.Store) store.Repo[T]
	// make builds value i (0, 1 or 2) with a distinct natural key. Values 0
	// and 1 belong to the fixture's first tenant and 2 to the second, so
	// that the tenant filter and tenant-scoped Find have something to tell
	// apart. Value 0 sets every optional field, value 1 leaves them unset,
	// so nil-versus-set survives the round trip both ways.
	make func(f *fixture, i int) T
	// key is the natural key Find takes and change records carry.
	key func(T) string
	// tenant is the tenant id the entity's change records carry.
	tenant func(T) int64
	// global: Find ignores its tenantID (tenants, devices, handsets).
	global bool
	// scoped: List honours ListOptions.TenantID for this entity.
	scoped bool
	// mutate changes every mutable field of value 0, including clearing
	// set pointers and reordering child slices.
	mutate func(f *fixture, v *T)
}

func testCRUD(t *testing.T, h Harness) {
	t.Run("Tenant", func(t *testing.T) {
		runCRUD(t, h, crudCase[store.Tenant]{
			entity: store.EntityTenant,
			repo:   store.Store.Tenants,
			make: func(f *fixture, i int) store.Tenant {
				tn := store.Tenant{
					Name: fmt.Sprintf("kommune%d", i), DisplayName: fmt.Sprintf("Kommune %d", i),
					Domain: fmt.Sprintf("kommune%d.example.net", i),
					Ranges: []store.NumberRange{extRange(fmt.Sprintf("4%d00-4%d99", i, i))},
				}
				if i == 0 {
					tn.SwitchboardNumber = "4000"
					tn.Ranges = append(tn.Ranges, didRange("+4755570000-+4755570099"), extRange("600-649"))
					tn.OutsidePrefix, tn.UnknownDID = "0", store.UnknownDIDReject
				}
				return tn
			},
			key:    func(v store.Tenant) string { return v.Name },
			tenant: func(v store.Tenant) int64 { return v.ID },
			global: true,
			mutate: func(f *fixture, v *store.Tenant) {
				v.DisplayName = "Kommune Null"
				// No extension has credentials yet, so the realm may change.
				v.Domain = "null.example.net"
				v.SwitchboardNumber = "4099"
				// Drop one range, add another, widen the DID block.
				v.Ranges = []store.NumberRange{extRange("4000-4099"), extRange("700-749"), didRange("+4755570000-+4755570199")}
				v.OutsidePrefix, v.UnknownDID = "90", store.UnknownDIDSwitchboard
			},
		})
	})
	t.Run("TenantByDomain", func(t *testing.T) {
		ctx, st, _ := open(t, h)
		f := newFixture(t, ctx, st)
		for _, tn := range []store.Tenant{f.t1, f.t2} {
			got, err := st.TenantByDomain(ctx, tn.Domain)
			if err != nil {
				t.Errorf("TenantByDomain(%q): %v", tn.Domain, err)
				continue
			}
			sameEntity(t, "TenantByDomain("+tn.Domain+")", got, tn)
		}
		_, err := st.TenantByDomain(ctx, "nowhere.example.net")
		wantNotFound(t, "TenantByDomain of an unknown domain", err)
	})
	t.Run("Site", func(t *testing.T) {
		runCRUD(t, h, crudCase[store.Site]{
			entity: store.EntitySite,
			repo:   store.Store.Sites,
			make: func(f *fixture, i int) store.Site {
				s := store.Site{TenantID: f.t1.ID, Name: fmt.Sprintf("Skole %d", i)}
				switch i {
				case 0:
					s.Address, s.DID = "Skoleveien 2", "+4755550100"
				case 2:
					s.TenantID = f.t2.ID
				}
				return s
			},
			key:    func(v store.Site) string { return v.Name },
			tenant: func(v store.Site) int64 { return v.TenantID },
			scoped: true,
			mutate: func(f *fixture, v *store.Site) {
				v.Name, v.Address, v.DID = "Ungdomsskolen", "", "+4755550101"
			},
		})
	})
	t.Run("Department", func(t *testing.T) {
		runCRUD(t, h, crudCase[store.Department]{
			entity: store.EntityDepartment,
			repo:   store.Store.Departments,
			make: func(f *fixture, i int) store.Department {
				d := store.Department{TenantID: f.t1.ID, Code: fmt.Sprintf("20%d0", i), Name: fmt.Sprintf("Avdeling %d", i)}
				if i == 2 {
					d.TenantID = f.t2.ID
				}
				return d
			},
			key:    func(v store.Department) string { return v.Code },
			tenant: func(v store.Department) int64 { return v.TenantID },
			scoped: true,
			mutate: func(f *fixture, v *store.Department) { v.Code, v.Name = "2099", "Helse og omsorg" },
		})
	})
	t.Run("Person", func(t *testing.T) {
		runCRUD(t, h, crudCase[store.Person]{
			entity: store.EntityPerson,
			repo:   store.Store.People,
			make: func(f *fixture, i int) store.Person {
				p := store.Person{TenantID: f.t1.ID, GivenName: fmt.Sprintf("Per%d", i), FamilyName: "Hansen",
					Email: fmt.Sprintf("per%d@fjordvik.example.net", i), Visibility: store.VisibilityInternal}
				switch i {
				case 0:
					p.Title, p.Mobile, p.Notes = "Rådmann", "+4791234567", "Treffes best før 10"
					p.DepartmentID, p.SiteID = ptr(f.dep1.ID), ptr(f.site1.ID)
					p.Visibility = store.VisibilityListed
				case 2:
					p.TenantID, p.Email = f.t2.ID, "per2@bergvik.example.net"
				}
				return p
			},
			key:    func(v store.Person) string { return v.Email },
			tenant: func(v store.Person) int64 { return v.TenantID },
			scoped: true,
			mutate: func(f *fixture, v *store.Person) {
				v.GivenName, v.Title, v.Email, v.Mobile = "Pål", "Kommunalsjef", "pal@fjordvik.example.net", ""
				v.DepartmentID, v.SiteID = nil, ptr(f.site1.ID) // clear one pointer, keep the other
				v.Visibility = store.VisibilitySecret
			},
		})
	})
	t.Run("Extension", func(t *testing.T) {
		runCRUD(t, h, crudCase[store.Extension]{
			entity: store.EntityExtension,
			repo:   store.Store.Extensions,
			make: func(f *fixture, i int) store.Extension {
				e := store.Extension{TenantID: f.t1.ID, Number: fmt.Sprintf("210%d", i), DisplayName: fmt.Sprintf("Ext %d", i), COS: store.COSInternal}
				switch i {
				case 0:
					e.PersonID, e.DepartmentID, e.SiteID = ptr(f.per1.ID), ptr(f.dep1.ID), ptr(f.site1.ID)
					e.COS, e.Enabled = store.COSInternational, true
					e.HA1MD5 = "0123456789abcdef0123456789abcdef"
					e.HA1SHA256 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
					e.VoicemailPIN = "$pbkdf2-sha256$i=10000$c2FsdA$aGFzaA"
					e.DID, e.HideCallerID = "+4755550123", true
					e.ForwardAlways, e.ForwardBusy, e.ForwardNoAnswer = "+4791234567", store.ForwardVoicemail, "voicemail:2002"
					e.NoAnswerSeconds, e.DND, e.Voicemail, e.VoicemailAskPIN, e.Language = 35, true, true, true, store.LanguageEnglish
				case 2:
					e.TenantID, e.Number = f.t2.ID, "3102"
				}
				return e
			},
			key:    func(v store.Extension) string { return v.Number },
			tenant: func(v store.Extension) int64 { return v.TenantID },
			scoped: true,
			mutate: func(f *fixture, v *store.Extension) {
				v.Number, v.DisplayName, v.COS, v.Enabled = "2199", "Sentralbord", store.COSMobile, false
				v.PersonID, v.SiteID = nil, nil // clear two pointers, keep DepartmentID
				v.HA1MD5, v.HA1SHA256, v.VoicemailPIN = "fedcba9876543210fedcba9876543210", "", ""
				v.DID, v.HideCallerID = "+4755550124", false
				// Clear one forward, change the others; flip every flag.
				v.ForwardAlways, v.ForwardBusy, v.ForwardNoAnswer = "", "2002", store.ForwardVoicemail
				v.NoAnswerSeconds, v.DND, v.Voicemail, v.VoicemailAskPIN, v.Language = 0, false, false, false, store.LanguageNorwegian
			},
		})
	})
	t.Run("Device", func(t *testing.T) {
		runCRUD(t, h, crudCase[store.Device]{
			entity: store.EntityDevice,
			repo:   store.Store.Devices,
			make: func(f *fixture, i int) store.Device {
				d := store.Device{TenantID: f.t1.ID, MAC: fmt.Sprintf("0004f2a1b2c%d", i), Model: "yealink-t54w"}
				switch i {
				case 0:
					d.SiteID, d.Description = ptr(f.site1.ID), "Resepsjonen"
					d.Lines = []store.DeviceLine{{Line: 1, ExtensionID: f.ext1[0].ID}, {Line: 2, ExtensionID: f.ext1[1].ID}}
					d.AuthUser, d.Secret = "resepsjon-1", "Abcdefghijkmnpqrst234"
				case 2:
					d.TenantID = f.t2.ID
					d.Lines = []store.DeviceLine{{Line: 1, ExtensionID: f.ext2[0].ID}}
				}
				return d
			},
			key:    func(v store.Device) string { return v.MAC },
			tenant: func(v store.Device) int64 { return v.TenantID },
			global: true,
			scoped: true,
			mutate: func(f *fixture, v *store.Device) {
				v.Model, v.Description, v.SiteID = "snom-d785", "", nil
				v.AuthUser, v.Secret = "resepsjon.2", "x-New_Secret.0123456789+"
				// Replace, reorder and leave a gap in the line keys.
				v.Lines = []store.DeviceLine{{Line: 1, ExtensionID: f.ext1[2].ID}, {Line: 3, ExtensionID: f.ext1[0].ID}}
			},
		})
	})
	t.Run("DECTGateway", func(t *testing.T) {
		runCRUD(t, h, crudCase[store.DECTGateway]{
			entity: store.EntityDECTGateway,
			repo:   store.Store.DECTGateways,
			make: func(f *fixture, i int) store.DECTGateway {
				g := store.DECTGateway{TenantID: f.t1.ID, Name: fmt.Sprintf("dect-%d", i), Mode: store.DECTRegister}
				switch i {
				case 0:
					g.Model, g.Address, g.SiteID, g.Mode = "ip-dect-400", "10.0.0.10:5060", ptr(f.site1.ID), store.DECTStatic
				case 2:
					g.TenantID = f.t2.ID
				}
				return g
			},
			key:    func(v store.DECTGateway) string { return v.Name },
			tenant: func(v store.DECTGateway) int64 { return v.TenantID },
			scoped: true,
			mutate: func(f *fixture, v *store.DECTGateway) {
				v.Name, v.Model, v.Address, v.SiteID, v.Mode = "dect-sjukeheim", "ip-dect-200", "10.0.0.11", nil, store.DECTRegister
			},
		})
	})
	t.Run("DECTHandset", func(t *testing.T) {
		runCRUD(t, h, crudCase[store.DECTHandset]{
			entity: store.EntityDECTHandset,
			repo:   store.Store.DECTHandsets,
			make: func(f *fixture, i int) store.DECTHandset {
				hs := store.DECTHandset{TenantID: f.t1.ID, GatewayID: f.gw1.ID, IPUI: fmt.Sprintf("00A1B2C3D%d", i), ExtensionID: f.ext1[i].ID}
				if i == 2 {
					hs.TenantID, hs.GatewayID, hs.ExtensionID = f.t2.ID, f.gw2.ID, f.ext2[0].ID
				}
				return hs
			},
			key:    func(v store.DECTHandset) string { return v.IPUI },
			tenant: func(v store.DECTHandset) int64 { return v.TenantID },
			global: true,
			scoped: true,
			mutate: func(f *fixture, v *store.DECTHandset) { v.IPUI, v.ExtensionID = "00A1B2C3DF", f.ext1[2].ID },
		})
	})
	t.Run("Trunk", func(t *testing.T) {
		runCRUD(t, h, crudCase[store.Trunk]{
			entity: store.EntityTrunk,
			repo:   store.Store.Trunks,
			make: func(f *fixture, i int) store.Trunk {
				tr := store.Trunk{TenantID: f.t1.ID, Name: fmt.Sprintf("centrex-%d", i), Mode: store.TrunkPeer,
					Host: fmt.Sprintf("sbc%d.operator.example", i), Port: 5060, Transport: "udp", Priority: 10 * i,
					PeerAddresses: []string{fmt.Sprintf("192.0.2.%d", 10+i)}}
				switch i {
				case 0:
					tr.Mode, tr.Transport, tr.Port = store.TrunkRegister, "tls", 5061
					tr.Username, tr.Password, tr.Realm, tr.Enabled = "4755550000", "s3cr3t", "operator.example", true
					// Not in sorted order: the order given is kept.
					tr.Routes, tr.Emergency = []string{"+47", "+4781", "+"}, true
					tr.PeerAddresses = []string{"198.51.100.0/24", "192.0.2.10", "2001:db8::/32"}
				case 2:
					tr.TenantID = f.t2.ID
				}
				return tr
			},
			key:    func(v store.Trunk) string { return v.Name },
			tenant: func(v store.Trunk) int64 { return v.TenantID },
			scoped: true,
			mutate: func(f *fixture, v *store.Trunk) {
				v.Name, v.Host, v.Port, v.Transport = "centrex-backup", "sbc9.operator.example", 5080, "tcp"
				v.Password, v.Priority, v.Enabled = "n3w", 99, false
				// Replace and reorder routes; drop every peer (a register trunk needs none).
				v.Routes, v.Emergency, v.PeerAddresses = []string{"+", "+46"}, false, nil
			},
		})
	})
	t.Run("Group", func(t *testing.T) {
		runCRUD(t, h, crudCase[store.Group]{
			entity: store.EntityGroup,
			repo:   store.Store.Groups,
			make: func(f *fixture, i int) store.Group {
				g := store.Group{TenantID: f.t1.ID, Number: fmt.Sprintf("250%d", i), Name: fmt.Sprintf("Gruppe %d", i),
					Strategy: store.GroupSimultaneous, RingSeconds: 20}
				switch i {
				case 0:
					// Not in ID order: the hunt order must be kept as given.
					g.Members = []int64{f.ext1[2].ID, f.ext1[0].ID, f.ext1[1].ID}
					g.Strategy = store.GroupHunt
					g.DID = "+4755550200"
					g.Overflow = "voicemail:2001"
				case 2:
					g.TenantID, g.Number, g.Members = f.t2.ID, "3502", []int64{f.ext2[1].ID}
				}
				return g
			},
			key:    func(v store.Group) string { return v.Number },
			tenant: func(v store.Group) int64 { return v.TenantID },
			scoped: true,
			mutate: func(f *fixture, v *store.Group) {
				v.Number, v.Name, v.Strategy, v.RingSeconds = "2599", "Servicetorget", store.GroupSimultaneous, 45
				v.Members = []int64{f.ext1[1].ID, f.ext1[2].ID}
				v.DID = "+4755550201"
				v.Overflow = "+4755550000"
			},
		})
	})
}

func runCRUD[T any](t *testing.T, h Harness, c crudCase[T]) {
	ctx, st, _ := open(t, h)
	f := newFixture(t, ctx, st)
	r := c.repo(st)

	baseline, err := r.List(ctx, store.ListOptions{})
	if err != nil {
		t.Fatalf("List before creating: %v", err)
	}

	// Create.
	vals := make([]T, 3)
	for i := range vals {
		v := c.make(f, i)
		seq := lastChange(t, ctx, st)
		if err := r.Create(ctx, &v); err != nil {
			t.Fatalf("Create value %d %+v: %v", i, v, err)
		}
		m := meta(&v)
		if m.ID <= 0 || m.Version != 1 || m.CreatedAt.IsZero() || m.UpdatedAt.IsZero() {
			t.Errorf("Create value %d set Meta %+v, want ID > 0, Version 1, both timestamps set", i, *m)
		}
		if m.UpdatedAt.Before(m.CreatedAt) {
			t.Errorf("Create value %d: UpdatedAt %s before CreatedAt %s", i, m.UpdatedAt, m.CreatedAt)
		}
		wantChange(t, ctx, st, seq, fmt.Sprintf("Create value %d", i),
			store.Change{Entity: c.entity, Op: store.OpCreate, EntityID: m.ID, Key: c.key(v), TenantID: c.tenant(v)})
		vals[i] = v
	}
	if meta(&vals[0]).ID == meta(&vals[1]).ID {
		t.Fatalf("two creates got the same ID %d", meta(&vals[0]).ID)
	}

	// Get and Find return what was stored.
	for i, v := range vals {
		id := meta(&v).ID
		got, err := r.Get(ctx, id)
		if err != nil {
			t.Errorf("Get value %d (id %d): %v", i, id, err)
		} else {
			sameEntity(t, fmt.Sprintf("Get value %d", i), got, v)
		}
		tid := c.tenant(v)
		if c.global {
			tid = 0 // the key is unique across tenants
		}
		got, err = r.Find(ctx, tid, c.key(v))
		if err != nil {
			t.Errorf("Find(%d, %q) value %d: %v", tid, c.key(v), i, err)
		} else {
			sameEntity(t, fmt.Sprintf("Find value %d", i), got, v)
		}
	}
	if !c.global {
		// Value 0 lives in tenant 1; tenant 2 has nothing under that key.
		_, err := r.Find(ctx, f.t2.ID, c.key(vals[0]))
		wantNotFound(t, fmt.Sprintf("Find(%q) in the wrong tenant", c.key(vals[0])), err)
	}
	_, err = r.Find(ctx, f.t1.ID, "no-such-key")
	wantNotFound(t, "Find of an unknown key", err)
	_, err = r.Get(ctx, 1<<40)
	wantNotFound(t, "Get of an unknown id", err)

	// List returns the baseline plus the new values, each as stored.
	all, err := r.List(ctx, store.ListOptions{})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(all) != len(baseline)+len(vals) {
		t.Errorf("List: %d values, want %d (baseline %d + created %d)", len(all), len(baseline)+len(vals), len(baseline), len(vals))
	}
	byID := map[int64]T{}
	for _, v := range all {
		id := meta(&v).ID
		if _, dup := byID[id]; dup {
			t.Errorf("List returns id %d twice", id)
		}
		byID[id] = v
	}
	for i, v := range vals {
		got, ok := byID[meta(&v).ID]
		if !ok {
			t.Errorf("List misses value %d (id %d)", i, meta(&v).ID)
			continue
		}
		sameEntity(t, fmt.Sprintf("List value %d", i), got, v)
	}

	// ListOptions.TenantID keeps one tenant's values only.
	if c.scoped {
		for _, tn := range []store.Tenant{f.t1, f.t2} {
			got, err := r.List(ctx, store.ListOptions{TenantID: tn.ID})
			if err != nil {
				t.Fatalf("List(TenantID %d): %v", tn.ID, err)
			}
			seen := map[int64]bool{}
			for _, v := range got {
				seen[meta(&v).ID] = true
				if c.tenant(v) != tn.ID {
					t.Errorf("List(TenantID %d) returns id %d of tenant %d", tn.ID, meta(&v).ID, c.tenant(v))
				}
			}
			want := 0
			for _, v := range all {
				if c.tenant(v) == tn.ID {
					want++
					if !seen[meta(&v).ID] {
						t.Errorf("List(TenantID %d) misses id %d", tn.ID, meta(&v).ID)
					}
				}
			}
			if len(got) != want {
				t.Errorf("List(TenantID %d): %d values, want %d", tn.ID, len(got), want)
			}
		}
	}

	// Limit and Offset page through the same order as the full listing.
	ids := func(vs []T) []int64 {
		out := make([]int64, len(vs))
		for i := range vs {
			out[i] = meta(&vs[i]).ID
		}
		return out
	}
	var paged []T
	for off := 0; off <= len(all); off += 2 {
		page, err := r.List(ctx, store.ListOptions{Limit: 2, Offset: off})
		if err != nil {
			t.Fatalf("List(Limit 2, Offset %d): %v", off, err)
		}
		if len(page) > 2 {
			t.Fatalf("List(Limit 2, Offset %d) returned %d values", off, len(page))
		}
		paged = append(paged, page...)
	}
	if fmt.Sprint(ids(paged)) != fmt.Sprint(ids(all)) {
		t.Errorf("pages of 2 give ids %v, the full listing %v", ids(paged), ids(all))
	}
	if page, err := r.List(ctx, store.ListOptions{Limit: 1, Offset: len(all) - 1}); err != nil || len(page) != 1 || meta(&page[0]).ID != meta(&all[len(all)-1]).ID {
		t.Errorf("List(Limit 1, Offset %d) = ids %v, %v; want [%d]", len(all)-1, ids(page), err, meta(&all[len(all)-1]).ID)
	}
	if page, err := r.List(ctx, store.ListOptions{Offset: len(all)}); err != nil || len(page) != 0 {
		t.Errorf("List(Offset %d) past the end = ids %v, %v; want none", len(all), ids(page), err)
	}

	// Update bumps Version and persists every field.
	v := vals[0]
	before := *meta(&v)
	c.mutate(f, &v)
	seq := lastChange(t, ctx, st)
	if err := r.Update(ctx, &v); err != nil {
		t.Fatalf("Update value 0 %+v: %v", v, err)
	}
	m := meta(&v)
	if m.ID != before.ID || m.Version != before.Version+1 {
		t.Errorf("Update: Meta ID %d Version %d, want ID %d Version %d", m.ID, m.Version, before.ID, before.Version+1)
	}
	if m.UpdatedAt.Before(before.UpdatedAt) {
		t.Errorf("Update: UpdatedAt went back from %s to %s", before.UpdatedAt, m.UpdatedAt)
	}
	if d := m.CreatedAt.Sub(before.CreatedAt); d > timeSlack || d < -timeSlack {
		t.Errorf("Update changed CreatedAt from %s to %s", before.CreatedAt, m.CreatedAt)
	}
	wantChange(t, ctx, st, seq, "Update value 0",
		store.Change{Entity: c.entity, Op: store.OpUpdate, EntityID: m.ID, Key: c.key(v), TenantID: c.tenant(v)})
	if got, err := r.Get(ctx, m.ID); err != nil {
		t.Errorf("Get after Update: %v", err)
	} else {
		sameEntity(t, "Get after Update", got, v)
	}
	tid := c.tenant(v)
	if c.global {
		tid = 0
	}
	if got, err := r.Find(ctx, tid, c.key(v)); err != nil {
		t.Errorf("Find(%q) by the updated key: %v", c.key(v), err)
	} else {
		sameEntity(t, "Find after Update", got, v)
	}
	if old := c.key(vals[0]); old != c.key(v) {
		_, err := r.Find(ctx, tid, old)
		wantNotFound(t, fmt.Sprintf("Find(%q) by the key before the update", old), err)
	}

	// An update presenting the version read before someone else's write is
	// refused, and neither the row nor the change log moves.
	stale := vals[0]
	seq = lastChange(t, ctx, st)
	if err := r.Update(ctx, &stale); !errors.Is(err, store.ErrConflict) {
		t.Errorf("Update with stale Version %d: got %v, want store.ErrConflict", before.Version, err)
	}
	if cs := changesSince(t, ctx, st, seq); len(cs) != 0 {
		t.Errorf("refused Update logged changes %+v", cs)
	}
	if got, err := r.Get(ctx, m.ID); err == nil {
		sameEntity(t, "Get after a refused stale Update", got, v)
	}

	// Delete removes; the change carries the key of what was deleted.
	gone := vals[1]
	gid := meta(&gone).ID
	seq = lastChange(t, ctx, st)
	if err := r.Delete(ctx, gid); err != nil {
		t.Fatalf("Delete value 1 (id %d): %v", gid, err)
	}
	wantChange(t, ctx, st, seq, "Delete value 1",
		store.Change{Entity: c.entity, Op: store.OpDelete, EntityID: gid, Key: c.key(gone), TenantID: c.tenant(gone)})
	_, err = r.Get(ctx, gid)
	wantNotFound(t, "Get after Delete", err)
	tid = c.tenant(gone)
	if c.global {
		tid = 0
	}
	_, err = r.Find(ctx, tid, c.key(gone))
	wantNotFound(t, "Find after Delete", err)
	after, err := r.List(ctx, store.ListOptions{})
	if err != nil {
		t.Fatalf("List after Delete: %v", err)
	}
	for _, v := range after {
		if meta(&v).ID == gid {
			t.Errorf("List after Delete still returns id %d", gid)
		}
	}
	if len(after) != len(all)-1 {
		t.Errorf("List after Delete: %d values, want %d", len(after), len(all)-1)
	}
}

// testListOrder checks that numbered entities list by number length, then
// value (80 < 400 < 5000), not as text ("400" < "5000" < "80") nor by ID.
func testListOrder(t *testing.T, h Harness) {
	ctx, st, _ := open(t, h)
	tn := store.Tenant{Name: "ordning", DisplayName: "Ordning", Domain: "ordning.example.net",
		Ranges: []store.NumberRange{extRange("80-89"), extRange("400-499"), extRange("5000-5999")}}
	mustCreate(t, ctx, st.Tenants(), &tn)
	// A second tenant whose numbers interleave, for the cross-tenant listing.
	tn2 := mustTenant(t, ctx, st, "andre", "6000-6999")

	created := []string{"5001", "89", "400", "5000", "80", "499"}
	want := []string{"80", "89", "400", "499", "5000", "5001"}
	for _, n := range created {
		e := store.Extension{TenantID: tn.ID, Number: n, DisplayName: n, COS: store.COSInternal}
		mustCreate(t, ctx, st.Extensions(), &e)
	}
	e := store.Extension{TenantID: tn2.ID, Number: "6000", DisplayName: "6000", COS: store.COSInternal}
	mustCreate(t, ctx, st.Extensions(), &e)

	exts, err := st.Extensions().List(ctx, store.ListOptions{TenantID: tn.ID})
	if err != nil {
		t.Fatalf("List extensions: %v", err)
	}
	var got []string
	for _, e := range exts {
		got = append(got, e.Number)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("extensions listed as %v, want %v", got, want)
	}
	page, err := st.Extensions().List(ctx, store.ListOptions{TenantID: tn.ID, Limit: 2, Offset: 1})
	if err != nil || len(page) != 2 || page[0].Number != "89" || page[1].Number != "400" {
		t.Errorf("List(Limit 2, Offset 1) = %+v, %v; want numbers [89 400]", page, err)
	}

	// Groups share the numbering plan and the ordering.
	for _, n := range []string{"5900", "88", "450"} {
		g := store.Group{TenantID: tn.ID, Number: n, Name: "G" + n, Strategy: store.GroupHunt, RingSeconds: 15}
		mustCreate(t, ctx, st.Groups(), &g)
	}
	groups, err := st.Groups().List(ctx, store.ListOptions{TenantID: tn.ID})
	if err != nil {
		t.Fatalf("List groups: %v", err)
	}
	got = nil
	for _, g := range groups {
		got = append(got, g.Number)
	}
	if fmt.Sprint(got) != "[88 450 5900]" {
		t.Errorf("groups listed as %v, want [88 450 5900]", got)
	}
}
