// Package directory is the phone book of every tenant, built from the
// store and kept current as admins change it: people with their
// extensions, public numbers and mobiles, and services (groups, and
// extensions that belong to nobody). It answers searches (HTTP API,
// console), lists the book for desk phones (LDAP, XML) and names the
// numbers calls come from.
package directory

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/directory/search"
	"github.com/sentralpbx/sentral/store"
	"github.com/sentralpbx/sentral/store/passhash"
)

// Directory holds an immutable snapshot of every tenant's phone book,
// replaced whole when the store changes. It is safe for concurrent use.
type Directory struct {
	st   store.Store
	log  *zap.Logger
	snap atomic.Pointer[snapshot]
	seq  atomic.Int64 // newest change the snapshot reflects

	// binds remembers passwords that verified, keyed by a hash of the
	// stored secret and the password: a desk phone binds for every search
	// it makes, and PBKDF2 is deliberately slow.
	bindMu sync.Mutex
	binds  map[[32]byte]struct{}
}

type snapshot struct {
	books  map[int64]*book
	byName map[string]int64
}

// book is one tenant's phone book.
type book struct {
	tenant store.Tenant
	index  *search.Index
	names  map[string]string // every search.NumberKeys form of a number -> name
}

// maxBindCache bounds the remembered passwords; the cache is dropped
// whole when it fills, which only costs the next binds a hash each.
const maxBindCache = 1024

// New returns an empty directory over st; call Load before use.
func New(st store.Store, log *zap.Logger) *Directory {
	d := &Directory{st: st, log: log, binds: map[[32]byte]struct{}{}}
	d.snap.Store(&snapshot{books: map[int64]*book{}, byName: map[string]int64{}})
	return d
}

// Load reads every tenant's phone book from the store.
func (d *Directory) Load(ctx context.Context) error {
	seq, err := d.st.LastChange(ctx)
	if err != nil {
		return fmt.Errorf("directory: %w", err)
	}
	s, err := build(ctx, d.st)
	if err != nil {
		return fmt.Errorf("directory: %w", err)
	}
	d.snap.Store(s)
	d.seq.Store(seq)
	return nil
}

// reloadDelay gathers the changes of a bulk import into one rebuild.
const reloadDelay = 300 * time.Millisecond

// Run rebuilds the phone books whenever an entity they show changes, until
// ctx ends. It is meant to run in its own goroutine, owned by whoever owns
// ctx.
func (d *Directory) Run(ctx context.Context) error {
	ch := d.st.Watch(ctx, d.seq.Load())
	for c := range ch {
		if !shown(c.Entity) {
			continue
		}
		// Let the rest of a burst arrive, then rebuild once.
		timer := time.NewTimer(reloadDelay)
	drain:
		for {
			select {
			case _, ok := <-ch:
				if !ok {
					timer.Stop()
					return ctx.Err()
				}
			case <-timer.C:
				break drain
			}
		}
		if err := d.Load(ctx); err != nil {
			if ctx.Err() != nil {
				break
			}
			// A stale phone book is better than none: keep serving it.
			d.log.Error("directory: reload", zap.Error(err))
			continue
		}
		d.log.Debug("directory reloaded", zap.Int64("seq", d.seq.Load()))
	}
	return ctx.Err()
}

// shown reports whether an entity appears in phone books.
func shown(e store.Entity) bool {
	switch e {
	case store.EntityTenant, store.EntitySite, store.EntityDepartment, store.EntityPerson, store.EntityExtension, store.EntityGroup:
		return true
	}
	return false
}

// TenantByName finds a tenant by its short name.
func (d *Directory) TenantByName(name string) (int64, bool) {
	id, ok := d.snap.Load().byName[name]
	return id, ok
}

// Tenant returns a tenant as the directory last loaded it.
func (d *Directory) Tenant(id int64) (store.Tenant, bool) {
	b, ok := d.snap.Load().books[id]
	if !ok {
		return store.Tenant{}, false
	}
	return b.tenant, true
}

// Search runs a query in one tenant's phone book; an unknown tenant has
// no hits.
func (d *Directory) Search(tenantID int64, q search.Query) ([]search.Hit, int) {
	b, ok := d.snap.Load().books[tenantID]
	if !ok {
		return nil, 0
	}
	return b.index.Search(q)
}

// Entries returns a tenant's phone book as phones see it: listed and
// internal entries, never secret ones, in phone-book order.
func (d *Directory) Entries(tenantID int64) []search.Entry {
	b, ok := d.snap.Load().books[tenantID]
	if !ok {
		return nil
	}
	return b.index.All(search.Query{Internal: true})
}

// CheckPhonebookPassword reports whether password is the tenant's phone
// book password. A tenant without one refuses every password.
func (d *Directory) CheckPhonebookPassword(tenantID int64, password string) bool {
	b, ok := d.snap.Load().books[tenantID]
	if !ok || b.tenant.PhonebookSecret == "" || password == "" {
		return false
	}
	key := sha256.Sum256([]byte(b.tenant.PhonebookSecret + "\x00" + password))
	d.bindMu.Lock()
	_, known := d.binds[key]
	d.bindMu.Unlock()
	if known {
		return true
	}
	if !passhash.Verify(b.tenant.PhonebookSecret, password) {
		return false
	}
	d.bindMu.Lock()
	if len(d.binds) >= maxBindCache {
		clear(d.binds)
	}
	d.binds[key] = struct{}{}
	d.bindMu.Unlock()
	return true
}

// NameFor returns the directory name of a number in a tenant: an
// extension, a public number or a mobile phone of someone in the book
// (whatever its visibility: the name is shown to the tenant's own users).
// Numbers match in any common Norwegian form: "+4791234567",
// "004791234567" and "91234567" are one number.
func (d *Directory) NameFor(tenantID int64, number string) (string, bool) {
	b, ok := d.snap.Load().books[tenantID]
	if !ok {
		return "", false
	}
	for _, k := range search.NumberKeys(number) {
		if n, ok := b.names[k]; ok {
			return n, true
		}
	}
	return "", false
}
