// Package catalog keeps the entities the call path reads on every request
// in memory: tenants (by SIP domain, name, id and DID range), extensions
// with their HA1 digests and call features (forwards, DND, voicemail), the
// index of public numbers (DIDs), ring groups (by number and by member),
// sites, trunks, DECT handsets with their gateways, and desk phones by
// their own SIP username. It keeps them current by following the store's
// change log. Digest checks on thousands of REGISTERs a second must not
// each cost a database round trip, and an admin's change must still take
// effect within a second, without a restart, whichever process or node
// made it.
//
// Every lookup is a map access (or a bounded number of them) under a read
// lock; lists are built on demand. Values returned are copies the caller
// may keep, except that slices inside them are shared: do not modify them.
package catalog

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"sync"

	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/store"
)

// DIDKind says what a public number reaches.
type DIDKind string

// What a DID can reach.
const (
	DIDExtension   DIDKind = "extension"
	DIDGroup       DIDKind = "group"
	DIDSwitchboard DIDKind = "switchboard"
)

// DIDTarget is what an inbound call to a public number reaches: the
// extension or group with that DID, or the tenant's switchboard (Number is
// then the switchboard number itself, as stored).
type DIDTarget struct {
	TenantID int64   `json:"tenant_id"`
	Kind     DIDKind `json:"kind"`
	Number   string  `json:"number"`
	id       int64   // the extension's or group's id; the tenant's for the switchboard
}

// GroupEntry is a ring group with its members' extension numbers, in hunt
// order. Members the catalog does not hold (yet) are left out.
type GroupEntry struct {
	store.Group
	MemberNumbers []string `json:"member_numbers"`
}

// HandsetEntry is a DECT handset with what is needed to reach it through
// its gateway.
type HandsetEntry struct {
	store.DECTHandset
	Gateway        string         `json:"gateway"`         // gateway name
	GatewayMode    store.DECTMode `json:"gateway_mode"`    // register or static
	GatewayAddress string         `json:"gateway_address"` // host[:port], may be empty
}

// DeviceLineNumber is one line key of a desk phone and the extension
// number it carries.
type DeviceLineNumber struct {
	Line        int    `json:"line"`
	ExtensionID int64  `json:"extension_id"`
	Number      string `json:"number"`
}

// DeviceEntry is a desk phone with its line keys by extension number. Its
// Secret is set: the SIP layer authenticates the phone with it.
type DeviceEntry struct {
	store.Device
	LineNumbers []DeviceLineNumber `json:"line_numbers"`
}

// didRange is one tenant DID block, for TenantByDID.
type didRange struct {
	first, last string // E.164, equal length
	tenant      int64
}

// peerLen is one prefix length in use by the peer index.
type peerLen struct {
	v6   bool
	bits int
}

// Catalog is the in-memory read model.
type Catalog struct {
	st  store.Store
	log *zap.Logger

	mu        sync.RWMutex
	seq       int64
	tenants   map[int64]store.Tenant
	byDomain  map[string]int64
	byName    map[string]int64
	didRanges []didRange                 // every tenant's DID blocks, by (length, first)
	exts      map[int64]store.Extension  // by extension ID
	byNumber  map[int64]map[string]int64 // tenant ID -> number -> extension ID
	dids      map[string]DIDTarget       // E.164 -> what it reaches
	groups    map[int64]store.Group
	groupNums map[int64]map[string]int64   // tenant ID -> number -> group ID
	byMember  map[int64]map[int64]struct{} // extension ID -> IDs of the groups it is a member of
	sites     map[int64]store.Site
	trunks    map[int64]store.Trunk
	byTenantT map[int64]map[int64]struct{} // tenant ID -> trunk IDs
	peers     map[netip.Prefix][]int64     // allowed source network -> trunk IDs
	peerLens  []peerLen                    // prefix lengths in peers, longest first
	gateways  map[int64]store.DECTGateway
	handsets  map[int64]store.DECTHandset
	byExtH    map[int64]map[int64]struct{} // extension ID -> handset IDs
	devices   map[int64]store.Device
	byUser    map[string]int64 // device AuthUser -> device ID

	// gone is told when a number stops being a usable extension (deleted,
	// renumbered, disabled, or its tenant deleted), so state keyed by the
	// number elsewhere, such as registrations, ends at once instead of when
	// it would have expired.
	gone func(tenantID int64, number string)
	// trunksChanged is told the full trunk list after any trunk changed.
	trunksChanged func(trunks []store.Trunk)
}

func newCatalog(st store.Store, log *zap.Logger, seq int64) *Catalog {
	return &Catalog{
		st: st, log: log, seq: seq,
		tenants: make(map[int64]store.Tenant), byDomain: make(map[string]int64), byName: make(map[string]int64),
		exts: make(map[int64]store.Extension), byNumber: make(map[int64]map[string]int64),
		dids:   make(map[string]DIDTarget),
		groups: make(map[int64]store.Group), groupNums: make(map[int64]map[string]int64), byMember: make(map[int64]map[int64]struct{}),
		sites:  make(map[int64]store.Site),
		trunks: make(map[int64]store.Trunk), byTenantT: make(map[int64]map[int64]struct{}), peers: make(map[netip.Prefix][]int64),
		gateways: make(map[int64]store.DECTGateway), handsets: make(map[int64]store.DECTHandset), byExtH: make(map[int64]map[int64]struct{}),
		devices: make(map[int64]store.Device), byUser: make(map[string]int64),
	}
}

// OnExtensionGone sets the callback for numbers that stop being usable
// extensions. Set it before Run; it is called from Run's goroutine, outside
// the catalog's lock.
func (c *Catalog) OnExtensionGone(f func(tenantID int64, number string)) { c.gone = f }

// OnTrunksChanged sets the callback told every trunk (as Trunks returns
// them) after a trunk was added, changed or removed, or a tenant with
// trunks was deleted; sip/trunk's registrations follow it. Set it before
// Run; it is called from Run's goroutine, outside the catalog's lock.
func (c *Catalog) OnTrunksChanged(f func(trunks []store.Trunk)) { c.trunksChanged = f }

func (c *Catalog) notifyGone(lost []store.Extension) {
	if c.gone == nil {
		return
	}
	for _, e := range lost {
		if e.Enabled { // a disabled one was reported when it was disabled
			c.gone(e.TenantID, e.Number)
		}
	}
}

func (c *Catalog) notifyTrunks() {
	if c.trunksChanged != nil {
		c.trunksChanged(c.Trunks())
	}
}

// Load reads every entity the catalog holds. The change sequence is read
// first, so any change racing with the load is replayed by Run; replaying
// is harmless because applying a change re-reads the entity.
func Load(ctx context.Context, st store.Store, log *zap.Logger) (*Catalog, error) {
	seq, err := st.LastChange(ctx)
	if err != nil {
		return nil, fmt.Errorf("catalog: read change sequence: %w", err)
	}
	c := newCatalog(st, log, seq)
	all := store.ListOptions{}
	tenants, err := st.Tenants().List(ctx, all)
	if err != nil {
		return nil, fmt.Errorf("catalog: list tenants: %w", err)
	}
	sites, err := st.Sites().List(ctx, all)
	if err != nil {
		return nil, fmt.Errorf("catalog: list sites: %w", err)
	}
	exts, err := st.Extensions().List(ctx, all)
	if err != nil {
		return nil, fmt.Errorf("catalog: list extensions: %w", err)
	}
	groups, err := st.Groups().List(ctx, all)
	if err != nil {
		return nil, fmt.Errorf("catalog: list groups: %w", err)
	}
	trunks, err := st.Trunks().List(ctx, all)
	if err != nil {
		return nil, fmt.Errorf("catalog: list trunks: %w", err)
	}
	gateways, err := st.DECTGateways().List(ctx, all)
	if err != nil {
		return nil, fmt.Errorf("catalog: list DECT gateways: %w", err)
	}
	handsets, err := st.DECTHandsets().List(ctx, all)
	if err != nil {
		return nil, fmt.Errorf("catalog: list DECT handsets: %w", err)
	}
	devices, err := st.Devices().List(ctx, all)
	if err != nil {
		return nil, fmt.Errorf("catalog: list devices: %w", err)
	}
	c.mu.Lock()
	for _, t := range tenants {
		c.putTenantLocked(t)
	}
	for _, s := range sites {
		c.sites[s.ID] = s
	}
	for _, e := range exts {
		c.putExtensionLocked(e)
	}
	for _, g := range groups {
		c.putGroupLocked(g)
	}
	for _, t := range trunks {
		c.putTrunkLocked(t)
	}
	c.reindexPeersLocked()
	for _, g := range gateways {
		c.gateways[g.ID] = g
	}
	for _, h := range handsets {
		c.putHandsetLocked(h)
	}
	for _, d := range devices {
		c.putDeviceLocked(d)
	}
	c.mu.Unlock()
	log.Info("catalog loaded", zap.Int("tenants", len(tenants)), zap.Int("extensions", len(exts)), zap.Int("groups", len(groups)),
		zap.Int("trunks", len(trunks)), zap.Int("devices", len(devices)), zap.Int("dect_handsets", len(handsets)), zap.Int64("change_seq", seq))
	return c, nil
}

// Run applies changes until ctx ends. It is meant to run in its own
// goroutine, owned by whoever owns ctx.
func (c *Catalog) Run(ctx context.Context) error {
	ch := c.st.Watch(ctx, c.Seq())
	for ch2 := range ch {
		if err := c.Apply(ctx, ch2); err != nil {
			if ctx.Err() != nil {
				break
			}
			// A failed refresh leaves one entity stale; log it loudly and go on
			// rather than stop following every later change.
			c.log.Error("catalog: apply change", zap.Int64("seq", ch2.Seq), zap.String("entity", string(ch2.Entity)), zap.Error(err))
		}
	}
	return ctx.Err()
}

// refresh re-reads one entity: put stores what the store has now, drop
// forgets it when it is gone.
func refresh[T any](ctx context.Context, repo store.Repo[T], ch store.Change, put func(T), drop func(id int64)) error {
	v, err := repo.Get(ctx, ch.EntityID)
	if errors.Is(err, store.ErrNotFound) {
		drop(ch.EntityID)
		return nil
	}
	if err != nil {
		return fmt.Errorf("refresh %s %d: %w", ch.Entity, ch.EntityID, err)
	}
	put(v)
	return nil
}

// locked runs f under the write lock.
func locked[T any](c *Catalog, f func(T)) func(T) {
	return func(v T) {
		c.mu.Lock()
		defer c.mu.Unlock()
		f(v)
	}
}

// Apply brings the catalog up to date with one change.
func (c *Catalog) Apply(ctx context.Context, ch store.Change) error {
	defer c.advance(ch.Seq)
	switch ch.Entity {
	case store.EntityTenant:
		t, err := c.st.Tenants().Get(ctx, ch.EntityID)
		if errors.Is(err, store.ErrNotFound) {
			lost, hadTrunks := c.dropTenant(ch.EntityID)
			c.notifyGone(lost)
			if hadTrunks {
				c.notifyTrunks()
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("refresh tenant %d: %w", ch.EntityID, err)
		}
		c.mu.Lock()
		c.putTenantLocked(t)
		c.mu.Unlock()
	case store.EntityExtension:
		e, err := c.st.Extensions().Get(ctx, ch.EntityID)
		if errors.Is(err, store.ErrNotFound) {
			c.mu.Lock()
			old, had := c.dropExtensionLocked(ch.EntityID)
			c.mu.Unlock()
			if had {
				c.notifyGone([]store.Extension{old})
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("refresh extension %d: %w", ch.EntityID, err)
		}
		old, had := c.putExtension(e)
		if had && (old.Number != e.Number || !e.Enabled) {
			c.notifyGone([]store.Extension{old})
		}
	case store.EntityGroup:
		return refresh(ctx, c.st.Groups(), ch, locked(c, c.putGroupLocked), locked(c, c.dropGroupLocked))
	case store.EntitySite:
		return refresh(ctx, c.st.Sites(), ch,
			locked(c, func(s store.Site) { c.sites[s.ID] = s }),
			locked(c, func(id int64) { delete(c.sites, id) }))
	case store.EntityTrunk:
		err := refresh(ctx, c.st.Trunks(), ch,
			locked(c, func(t store.Trunk) { c.putTrunkLocked(t); c.reindexPeersLocked() }),
			locked(c, func(id int64) { c.dropTrunkLocked(id); c.reindexPeersLocked() }))
		if err == nil {
			c.notifyTrunks()
		}
		return err
	case store.EntityDECTGateway:
		return refresh(ctx, c.st.DECTGateways(), ch,
			locked(c, func(g store.DECTGateway) { c.gateways[g.ID] = g }),
			locked(c, func(id int64) { delete(c.gateways, id) }))
	case store.EntityDECTHandset:
		return refresh(ctx, c.st.DECTHandsets(), ch, locked(c, c.putHandsetLocked), locked(c, c.dropHandsetLocked))
	case store.EntityDevice:
		return refresh(ctx, c.st.Devices(), ch, locked(c, c.putDeviceLocked), locked(c, c.dropDeviceLocked))
	}
	return nil
}

func (c *Catalog) advance(seq int64) {
	c.mu.Lock()
	if seq > c.seq {
		c.seq = seq
	}
	c.mu.Unlock()
}

// putDIDLocked indexes a public number; dropDIDLocked removes it only if
// it still belongs to the same owner, so applying changes out of step
// never removes another owner's entry.
func (c *Catalog) putDIDLocked(did string, t DIDTarget) {
	if did != "" {
		c.dids[did] = t
	}
}

func (c *Catalog) dropDIDLocked(did string, kind DIDKind, id int64) {
	if cur, ok := c.dids[did]; ok && cur.Kind == kind && cur.id == id {
		delete(c.dids, did)
	}
}

// switchboardDID is the tenant's switchboard number when it is public.
func switchboardDID(t store.Tenant) string {
	if strings.HasPrefix(t.SwitchboardNumber, "+") {
		return t.SwitchboardNumber
	}
	return ""
}

func (c *Catalog) putTenantLocked(t store.Tenant) {
	if old, ok := c.tenants[t.ID]; ok {
		delete(c.byDomain, old.Domain)
		delete(c.byName, old.Name)
		c.dropDIDLocked(switchboardDID(old), DIDSwitchboard, old.ID)
	}
	c.tenants[t.ID] = t
	c.byDomain[t.Domain] = t.ID
	c.byName[t.Name] = t.ID
	if sb := switchboardDID(t); sb != "" {
		c.putDIDLocked(sb, DIDTarget{TenantID: t.ID, Kind: DIDSwitchboard, Number: sb, id: t.ID})
	}
	c.reindexDIDRangesLocked()
}

// reindexDIDRangesLocked rebuilds the sorted list of DID blocks. Blocks of
// equal length never overlap (the store refuses it), so one binary search
// finds the only candidate.
func (c *Catalog) reindexDIDRangesLocked() {
	c.didRanges = c.didRanges[:0]
	for _, t := range c.tenants {
		for _, r := range t.Ranges {
			if r.Kind == store.RangeDID {
				c.didRanges = append(c.didRanges, didRange{first: r.First, last: r.Last, tenant: t.ID})
			}
		}
	}
	sort.Slice(c.didRanges, func(i, j int) bool { return lessNum(c.didRanges[i].first, c.didRanges[j].first) })
}

// lessNum orders numbers by length, then value.
func lessNum(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

// dropTenant forgets a tenant and everything it owned (the store deletes
// them with the tenant and logs only the tenant's deletion). It returns the
// extensions it held, and whether it held trunks.
func (c *Catalog) dropTenant(id int64) (lost []store.Extension, hadTrunks bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.tenants[id]; ok {
		delete(c.byDomain, old.Domain)
		delete(c.byName, old.Name)
		c.dropDIDLocked(switchboardDID(old), DIDSwitchboard, old.ID)
		delete(c.tenants, id)
		c.reindexDIDRangesLocked()
	}
	for _, extID := range c.byNumber[id] {
		e, _ := c.dropExtensionLocked(extID)
		lost = append(lost, e)
	}
	delete(c.byNumber, id)
	for _, gid := range c.groupNums[id] {
		c.dropGroupLocked(gid)
	}
	delete(c.groupNums, id)
	for tid := range c.byTenantT[id] {
		c.dropTrunkLocked(tid)
		hadTrunks = true
	}
	if hadTrunks {
		c.reindexPeersLocked()
	}
	for sid, s := range c.sites {
		if s.TenantID == id {
			delete(c.sites, sid)
		}
	}
	for hid, h := range c.handsets {
		if h.TenantID == id {
			c.dropHandsetLocked(hid)
		}
	}
	for gid, g := range c.gateways {
		if g.TenantID == id {
			delete(c.gateways, gid)
		}
	}
	for did, d := range c.devices {
		if d.TenantID == id {
			c.dropDeviceLocked(did)
		}
	}
	return lost, hadTrunks
}

// putExtension stores e and returns what it replaced, if anything.
func (c *Catalog) putExtension(e store.Extension) (store.Extension, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.putExtensionLocked(e)
}

func (c *Catalog) putExtensionLocked(e store.Extension) (store.Extension, bool) {
	old, had := c.dropExtensionLocked(e.ID) // the number may have changed
	c.exts[e.ID] = e
	m := c.byNumber[e.TenantID]
	if m == nil {
		m = make(map[string]int64)
		c.byNumber[e.TenantID] = m
	}
	m[e.Number] = e.ID
	c.putDIDLocked(e.DID, DIDTarget{TenantID: e.TenantID, Kind: DIDExtension, Number: e.Number, id: e.ID})
	return old, had
}

func (c *Catalog) dropExtensionLocked(id int64) (store.Extension, bool) {
	old, ok := c.exts[id]
	if !ok {
		return old, false
	}
	delete(c.exts, id)
	if m := c.byNumber[old.TenantID]; m != nil && m[old.Number] == id {
		delete(m, old.Number)
	}
	c.dropDIDLocked(old.DID, DIDExtension, id)
	return old, true
}

func (c *Catalog) putGroupLocked(g store.Group) {
	c.dropGroupLocked(g.ID)
	c.groups[g.ID] = g
	m := c.groupNums[g.TenantID]
	if m == nil {
		m = make(map[string]int64)
		c.groupNums[g.TenantID] = m
	}
	m[g.Number] = g.ID
	c.putDIDLocked(g.DID, DIDTarget{TenantID: g.TenantID, Kind: DIDGroup, Number: g.Number, id: g.ID})
	for _, ext := range g.Members {
		gs := c.byMember[ext]
		if gs == nil {
			gs = make(map[int64]struct{})
			c.byMember[ext] = gs
		}
		gs[g.ID] = struct{}{}
	}
}

func (c *Catalog) dropGroupLocked(id int64) {
	old, ok := c.groups[id]
	if !ok {
		return
	}
	delete(c.groups, id)
	if m := c.groupNums[old.TenantID]; m != nil && m[old.Number] == id {
		delete(m, old.Number)
	}
	c.dropDIDLocked(old.DID, DIDGroup, id)
	for _, ext := range old.Members {
		if gs := c.byMember[ext]; gs != nil {
			delete(gs, id)
			if len(gs) == 0 {
				delete(c.byMember, ext)
			}
		}
	}
}

// putTrunkLocked stores a trunk; the caller reindexes the peers.
func (c *Catalog) putTrunkLocked(t store.Trunk) {
	c.dropTrunkLocked(t.ID)
	c.trunks[t.ID] = t
	m := c.byTenantT[t.TenantID]
	if m == nil {
		m = make(map[int64]struct{})
		c.byTenantT[t.TenantID] = m
	}
	m[t.ID] = struct{}{}
}

// dropTrunkLocked forgets a trunk; the caller reindexes the peers.
func (c *Catalog) dropTrunkLocked(id int64) {
	old, ok := c.trunks[id]
	if !ok {
		return
	}
	delete(c.trunks, id)
	if m := c.byTenantT[old.TenantID]; m != nil {
		delete(m, id)
		if len(m) == 0 {
			delete(c.byTenantT, old.TenantID)
		}
	}
}

// trunkSources is where a trunk accepts inbound calls from: its peer
// addresses, or, without any, its host when that is an IP address (a
// host name is resolved at run time by the SIP layer, not here).
func trunkSources(t store.Trunk) []netip.Prefix {
	var out []netip.Prefix
	for _, a := range t.PeerAddresses {
		if p, ok := store.PeerPrefix(a); ok {
			out = append(out, p.Masked())
		}
	}
	if len(out) == 0 {
		if a, err := netip.ParseAddr(t.Host); err == nil {
			a = a.Unmap()
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	return out
}

// reindexPeersLocked rebuilds the source-address index. Trunks change
// rarely and are few; rebuilding keeps the index trivially right.
func (c *Catalog) reindexPeersLocked() {
	clear(c.peers)
	lens := map[peerLen]bool{}
	for id, t := range c.trunks {
		for _, p := range trunkSources(t) {
			c.peers[p] = append(c.peers[p], id)
			lens[peerLen{v6: !p.Addr().Is4(), bits: p.Bits()}] = true
		}
	}
	c.peerLens = c.peerLens[:0]
	for l := range lens {
		c.peerLens = append(c.peerLens, l)
	}
	sort.Slice(c.peerLens, func(i, j int) bool { return c.peerLens[i].bits > c.peerLens[j].bits })
}

func (c *Catalog) putHandsetLocked(h store.DECTHandset) {
	c.dropHandsetLocked(h.ID)
	c.handsets[h.ID] = h
	m := c.byExtH[h.ExtensionID]
	if m == nil {
		m = make(map[int64]struct{})
		c.byExtH[h.ExtensionID] = m
	}
	m[h.ID] = struct{}{}
}

func (c *Catalog) dropHandsetLocked(id int64) {
	old, ok := c.handsets[id]
	if !ok {
		return
	}
	delete(c.handsets, id)
	if m := c.byExtH[old.ExtensionID]; m != nil {
		delete(m, id)
		if len(m) == 0 {
			delete(c.byExtH, old.ExtensionID)
		}
	}
}

func (c *Catalog) putDeviceLocked(d store.Device) {
	c.dropDeviceLocked(d.ID)
	c.devices[d.ID] = d
	c.byUser[d.AuthUser] = d.ID
}

func (c *Catalog) dropDeviceLocked(id int64) {
	old, ok := c.devices[id]
	if !ok {
		return
	}
	delete(c.devices, id)
	if c.byUser[old.AuthUser] == id {
		delete(c.byUser, old.AuthUser)
	}
}

// Seq is the last change sequence the catalog reflects.
func (c *Catalog) Seq() int64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.seq
}

// Tenant finds a tenant by id.
func (c *Catalog) Tenant(id int64) (store.Tenant, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	t, ok := c.tenants[id]
	return t, ok
}

// TenantByDomain finds the tenant that owns a SIP domain.
func (c *Catalog) TenantByDomain(domain string) (store.Tenant, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	id, ok := c.byDomain[domain]
	return c.tenants[id], ok
}

// TenantByName finds a tenant by its short name.
func (c *Catalog) TenantByName(name string) (store.Tenant, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	id, ok := c.byName[name]
	return c.tenants[id], ok
}

// TenantByDID finds the tenant whose DID ranges hold an E.164 number,
// assigned or not: an inbound call to an unassigned number goes where the
// tenant's UnknownDID says. It takes one binary search over all blocks.
func (c *Catalog) TenantByDID(e164 string) (store.Tenant, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	rs := c.didRanges
	i := sort.Search(len(rs), func(i int) bool { return lessNum(e164, rs[i].first) })
	if i == 0 {
		return store.Tenant{}, false
	}
	r := rs[i-1]
	if len(r.first) != len(e164) || e164 > r.last {
		return store.Tenant{}, false
	}
	t, ok := c.tenants[r.tenant]
	return t, ok
}

// DID finds what a public number (E.164, as the store keeps it: "+47...")
// reaches: an extension, a group or a switchboard.
func (c *Catalog) DID(e164 string) (DIDTarget, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	t, ok := c.dids[e164]
	return t, ok
}

// Extension finds a tenant's extension by number.
func (c *Catalog) Extension(tenantID int64, number string) (store.Extension, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	id, ok := c.byNumber[tenantID][number]
	return c.exts[id], ok
}

// Group finds a tenant's ring group by number, with its members' numbers.
func (c *Catalog) Group(tenantID int64, number string) (GroupEntry, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	id, ok := c.groupNums[tenantID][number]
	if !ok {
		return GroupEntry{}, false
	}
	g := c.groups[id]
	out := GroupEntry{Group: g, MemberNumbers: make([]string, 0, len(g.Members))}
	for _, m := range g.Members {
		if e, ok := c.exts[m]; ok {
			out.MemberNumbers = append(out.MemberNumbers, e.Number)
		}
	}
	return out, true
}

// GroupsOf lists the groups of a tenant that the extension with number
// is a member of, by group number (shorter numbers first); none when no
// such extension is held. Call pickup uses it to find whose ringing calls
// a member may take. It costs a map access per group found.
func (c *Catalog) GroupsOf(tenantID int64, number string) []store.Group {
	c.mu.RLock()
	id, ok := c.byNumber[tenantID][number]
	var out []store.Group
	if ok {
		out = make([]store.Group, 0, len(c.byMember[id]))
		for gid := range c.byMember[id] {
			// Members are checked to be of the group's tenant; the check
			// here keeps a stale entry from leaking across tenants.
			if g, ok := c.groups[gid]; ok && g.TenantID == tenantID {
				out = append(out, g)
			}
		}
	}
	c.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return lessNum(out[i].Number, out[j].Number) })
	return out
}

// Site finds a site by id (an extension's SiteID: its DID is presented on
// emergency calls).
func (c *Catalog) Site(id int64) (store.Site, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	s, ok := c.sites[id]
	return s, ok
}

// Trunk finds a trunk by id.
func (c *Catalog) Trunk(id int64) (store.Trunk, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	t, ok := c.trunks[id]
	return t, ok
}

// sortTrunks orders trunks by tenant, then priority (lower first), then name.
func sortTrunks(ts []store.Trunk) {
	sort.Slice(ts, func(i, j int) bool {
		a, b := ts[i], ts[j]
		if a.TenantID != b.TenantID {
			return a.TenantID < b.TenantID
		}
		if a.Priority != b.Priority {
			return a.Priority < b.Priority
		}
		return a.Name < b.Name
	})
}

// Trunks lists every trunk of every tenant (disabled ones too; TenantID
// says whose), by tenant, priority and name.
func (c *Catalog) Trunks() []store.Trunk {
	c.mu.RLock()
	out := make([]store.Trunk, 0, len(c.trunks))
	for _, t := range c.trunks {
		out = append(out, t)
	}
	c.mu.RUnlock()
	sortTrunks(out)
	return out
}

// TenantTrunks lists one tenant's trunks (disabled ones too) by priority
// (lower first), then name. Routing picks from them by route, Emergency
// and Enabled.
func (c *Catalog) TenantTrunks(tenantID int64) []store.Trunk {
	c.mu.RLock()
	out := make([]store.Trunk, 0, len(c.byTenantT[tenantID]))
	for id := range c.byTenantT[tenantID] {
		out = append(out, c.trunks[id])
	}
	c.mu.RUnlock()
	sortTrunks(out)
	return out
}

// TrunksFrom lists the trunks that accept inbound calls from a source
// address: those whose PeerAddresses hold it, or, for a trunk without
// any, whose Host is that IP address. The most specific match comes first
// (an address before the network around it), ties by tenant, priority and
// name; disabled trunks are included, for the caller to refuse. A register
// trunk known only by host name is not found here: its addresses are
// resolved at run time. It costs one map access per prefix length in use.
func (c *Catalog) TrunksFrom(addr netip.Addr) []store.Trunk {
	addr = addr.Unmap()
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []store.Trunk
	for _, l := range c.peerLens {
		if l.v6 == addr.Is4() {
			continue
		}
		p, err := addr.Prefix(l.bits)
		if err != nil {
			continue
		}
		ids := c.peers[p]
		if len(ids) == 0 {
			continue
		}
		at := len(out)
		for _, id := range ids {
			out = append(out, c.trunks[id])
		}
		sortTrunks(out[at:])
	}
	return out
}

// DECTHandsets lists the DECT handsets ringing for an extension (by
// extension id), by IPUI, each with its gateway's name, mode and address.
// A handset whose gateway the catalog does not hold has an empty gateway.
func (c *Catalog) DECTHandsets(extensionID int64) []HandsetEntry {
	c.mu.RLock()
	out := make([]HandsetEntry, 0, len(c.byExtH[extensionID]))
	for id := range c.byExtH[extensionID] {
		h := c.handsets[id]
		e := HandsetEntry{DECTHandset: h}
		if g, ok := c.gateways[h.GatewayID]; ok {
			e.Gateway, e.GatewayMode, e.GatewayAddress = g.Name, g.Mode, g.Address
		}
		out = append(out, e)
	}
	c.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].IPUI < out[j].IPUI })
	return out
}

// DeviceByAuthUser finds a desk phone by its SIP/HTTP username, with its
// secret and its line keys' extension numbers (line order). A line whose
// extension the catalog does not hold has an empty Number.
func (c *Catalog) DeviceByAuthUser(user string) (DeviceEntry, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	id, ok := c.byUser[user]
	if !ok {
		return DeviceEntry{}, false
	}
	d := c.devices[id]
	out := DeviceEntry{Device: d, LineNumbers: make([]DeviceLineNumber, 0, len(d.Lines))}
	for _, l := range d.Lines {
		out.LineNumbers = append(out.LineNumbers, DeviceLineNumber{Line: l.Line, ExtensionID: l.ExtensionID, Number: c.exts[l.ExtensionID].Number})
	}
	return out, true
}

// Tenants lists the tenants by name.
func (c *Catalog) Tenants() []store.Tenant {
	c.mu.RLock()
	out := make([]store.Tenant, 0, len(c.tenants))
	for _, t := range c.tenants {
		out = append(out, t)
	}
	c.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Extensions lists a tenant's extensions by number (shorter numbers first).
func (c *Catalog) Extensions(tenantID int64) []store.Extension {
	c.mu.RLock()
	out := make([]store.Extension, 0, len(c.byNumber[tenantID]))
	for _, id := range c.byNumber[tenantID] {
		out = append(out, c.exts[id])
	}
	c.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return lessNum(out[i].Number, out[j].Number) })
	return out
}

// Counts reports how many tenants and extensions are held.
func (c *Catalog) Counts() (tenants, extensions int) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.tenants), len(c.exts)
}
