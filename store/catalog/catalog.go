// Package catalog keeps the entities the call path reads on every request
// (tenants by SIP domain, extensions with their HA1 digests) in memory, and
// keeps them current by following the store's change log. Digest checks on
// thousands of REGISTERs a second must not each cost a database round trip,
// and an admin's change must still take effect within a second, without a
// restart, whichever process or node made it.
package catalog

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/store"
)

// Catalog is a read model of tenants and extensions.
type Catalog struct {
	st  store.Store
	log *zap.Logger

	mu       sync.RWMutex
	seq      int64
	tenants  map[int64]store.Tenant
	byDomain map[string]int64
	byName   map[string]int64
	exts     map[int64]store.Extension  // by extension ID
	byNumber map[int64]map[string]int64 // tenant ID -> number -> extension ID

	// gone is told when a number stops being a usable extension (deleted,
	// renumbered, disabled, or its tenant deleted), so state keyed by the
	// number elsewhere, such as registrations, ends at once instead of when
	// it would have expired.
	gone func(tenantID int64, number string)
}

// OnExtensionGone sets the callback for numbers that stop being usable
// extensions. Set it before Run; it is called from Run's goroutine, outside
// the catalog's lock.
func (c *Catalog) OnExtensionGone(f func(tenantID int64, number string)) { c.gone = f }

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

// Load reads every tenant and extension. The change sequence is read first,
// so any change racing with the load is replayed by Run; replaying is
// harmless because applying a change re-reads the entity.
func Load(ctx context.Context, st store.Store, log *zap.Logger) (*Catalog, error) {
	seq, err := st.LastChange(ctx)
	if err != nil {
		return nil, fmt.Errorf("catalog: read change sequence: %w", err)
	}
	tenants, err := st.Tenants().List(ctx, store.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("catalog: list tenants: %w", err)
	}
	exts, err := st.Extensions().List(ctx, store.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("catalog: list extensions: %w", err)
	}
	c := &Catalog{
		st: st, log: log, seq: seq,
		tenants: make(map[int64]store.Tenant), byDomain: make(map[string]int64), byName: make(map[string]int64),
		exts: make(map[int64]store.Extension), byNumber: make(map[int64]map[string]int64),
	}
	for _, t := range tenants {
		c.putTenant(t)
	}
	for _, e := range exts {
		c.putExtension(e)
	}
	log.Info("catalog loaded", zap.Int("tenants", len(tenants)), zap.Int("extensions", len(exts)), zap.Int64("change_seq", seq))
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

// Apply brings the catalog up to date with one change.
func (c *Catalog) Apply(ctx context.Context, ch store.Change) error {
	defer c.advance(ch.Seq)
	switch ch.Entity {
	case store.EntityTenant:
		t, err := c.st.Tenants().Get(ctx, ch.EntityID)
		if errors.Is(err, store.ErrNotFound) {
			c.notifyGone(c.dropTenant(ch.EntityID))
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

func (c *Catalog) putTenant(t store.Tenant) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.putTenantLocked(t)
}

func (c *Catalog) putTenantLocked(t store.Tenant) {
	if old, ok := c.tenants[t.ID]; ok {
		delete(c.byDomain, old.Domain)
		delete(c.byName, old.Name)
	}
	c.tenants[t.ID] = t
	c.byDomain[t.Domain] = t.ID
	c.byName[t.Name] = t.ID
}

// dropTenant forgets a tenant and returns the extensions it held.
func (c *Catalog) dropTenant(id int64) []store.Extension {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.tenants[id]; ok {
		delete(c.byDomain, old.Domain)
		delete(c.byName, old.Name)
		delete(c.tenants, id)
	}
	var lost []store.Extension
	for _, extID := range c.byNumber[id] {
		lost = append(lost, c.exts[extID])
		delete(c.exts, extID)
	}
	delete(c.byNumber, id)
	return lost
}

// putExtension stores e and returns what it replaced, if anything.
func (c *Catalog) putExtension(e store.Extension) (store.Extension, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old, had := c.dropExtensionLocked(e.ID) // the number may have changed
	c.exts[e.ID] = e
	m := c.byNumber[e.TenantID]
	if m == nil {
		m = make(map[string]int64)
		c.byNumber[e.TenantID] = m
	}
	m[e.Number] = e.ID
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
	return old, true
}

// Seq is the last change sequence the catalog reflects.
func (c *Catalog) Seq() int64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.seq
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

// Extension finds a tenant's extension by number.
func (c *Catalog) Extension(tenantID int64, number string) (store.Extension, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	id, ok := c.byNumber[tenantID][number]
	return c.exts[id], ok
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
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].Number, out[j].Number
		if len(a) != len(b) {
			return len(a) < len(b)
		}
		return a < b
	})
	return out
}

// Counts reports how many tenants and extensions are held.
func (c *Catalog) Counts() (tenants, extensions int) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.tenants), len(c.exts)
}
