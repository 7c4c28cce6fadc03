// Package location is Sentral's location service (RFC 3261 §10): the
// bindings of every address of record, kept in memory for the registrar
// and the proxy, and written behind to the store so they survive a
// restart.
//
// Memory is authoritative. The registrar's calls (Update, Bindings, ...)
// touch only memory under one shard's mutex and never wait for the store;
// Run, the service's one background goroutine, writes the changed bindings
// in batches every FlushInterval. A crash can therefore lose at most the
// last FlushInterval of registrations, which the phones repeat on their
// next refresh; a clean shutdown loses nothing.
package location

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/store"
)

// Errors of Update and Unregister, matched with errors.Is.
var (
	// ErrTooManyContacts: the REGISTER would leave the AOR with more than
	// Options.MaxContacts bindings. Nothing was changed. RFC 3261 gives no
	// code; the registrar may answer 403 or 503 with a reason phrase.
	ErrTooManyContacts = errors.New("too many contacts for this address of record")
	// ErrOutOfOrder: a binding exists with the request's Call-ID and a CSeq
	// not lower than the request's, so the request is older than what we
	// hold (RFC 3261 §10.3 step 7, and step 6 for Contact: *). The update
	// is aborted, nothing was changed, and per step 8 the request fails
	// with 500 (Server Internal Error).
	ErrOutOfOrder = errors.New("request is older than the binding it would change (same Call-ID, CSeq not higher)")
	// ErrInvalidBinding: a binding given to Update is malformed (no
	// Contact, q outside 0..1, another AOR). Nothing was changed.
	ErrInvalidBinding = errors.New("invalid binding")
)

// BindingStore is what the service needs from the store; store.Store's
// Bindings() provides it.
type BindingStore interface {
	Save(ctx context.Context, bs []store.Binding) error
	Delete(ctx context.Context, tenantID int64, number string, keys []string) error
	DeleteAOR(ctx context.Context, tenantID int64, number string) error
	List(ctx context.Context, tenantID int64) ([]store.Binding, error)
	ListAOR(ctx context.Context, tenantID int64, number string) ([]store.Binding, error)
	Purge(ctx context.Context, before time.Time) (int, error)
}

// AOR names an address of record: an extension of a tenant.
type AOR struct {
	TenantID int64
	Number   string
}

// Options tune a Service. Zero values take the defaults.
type Options struct {
	// FlushInterval is how often Run writes changed bindings (100ms).
	FlushInterval time.Duration
	// MaxBatch is the most bindings one Save carries (1000).
	MaxBatch int
	// PurgeInterval is how often Run drops expired bindings from memory
	// and the store (30s). Lookups never return expired bindings anyway.
	PurgeInterval time.Duration
	// RefreshInterval is how long a plain refresh may wait to be written
	// (30s). A refresh changes only a binding's expiry and CSeq; writing
	// each one at once would cost a row write per re-REGISTER, most of
	// the registrar's CPU at high rates. Refreshes are collected and
	// written every RefreshInterval instead, unless the stored expiry
	// would fall within two intervals: the stored copy therefore never
	// expires while the phone keeps refreshing, and a crash loses only
	// the newer expiry, not the binding.
	RefreshInterval time.Duration
	// MaxContacts is the most bindings one AOR may have (10).
	MaxContacts int
	// Node names this Sentral node; it is put on bindings that name none.
	Node string
	// Now is the clock (time.Now); tests replace it.
	Now func() time.Time
	// OnChange, if set, is called after every change of an AOR's bindings
	// (update, removal, expiry) with the unexpired set, outside the
	// service's locks, on the goroutine that made the change. Calls for
	// one AOR made by concurrent callers may arrive out of order: a
	// consumer that needs the newest state re-reads Bindings. It must not
	// block and must not modify the slice.
	OnChange func(tenantID int64, number string, bindings []store.Binding)
	// OnFlushed, if set, is called by Run after a flush wrote the changed
	// bindings of these AORs to the store, on Run's goroutine: a cluster
	// tells the other nodes to Refresh them. It must not block.
	OnFlushed func(aors []AOR)
}

// Defaults for Options.
const (
	DefaultFlushInterval   = 100 * time.Millisecond
	DefaultMaxBatch        = 1000
	DefaultPurgeInterval   = 30 * time.Second
	DefaultRefreshInterval = 30 * time.Second
	DefaultMaxContacts     = 10
)

// finalFlushTimeout bounds the flush Run makes after its context ended: a
// dead database must not hang shutdown forever.
const finalFlushTimeout = 10 * time.Second

// nShards spreads AORs over independent mutexes so parallel REGISTERs of
// different phones rarely contend.
const nShards = 64

// aorKey identifies an address of record.
type aorKey struct {
	tenant int64
	number string
}

// entry is a binding with its key computed once.
type entry struct {
	key    string
	b      store.Binding
	stored time.Time // the expiry the store has, or is about to be given
}

// pending is what changed in one AOR since the last flush.
type pending struct {
	wipe bool                // delete every stored binding of the AOR first
	keys map[string]struct{} // keys to write as memory has them now (present: save; absent: delete)
}

type shard struct {
	mu    sync.Mutex
	aors  map[aorKey][]entry // sorted: q desc, most recently updated first
	dirty map[aorKey]*pending
	lazy  map[aorKey]map[string]struct{} // refreshed keys, written every RefreshInterval
}

// Service is the location service. Its methods are safe for concurrent
// use; Run must be running for changes to reach the store.
type Service struct {
	st      BindingStore
	log     *zap.Logger
	opt     Options
	seed    maphash.Seed
	shards  [nShards]shard
	running atomic.Bool

	// Only Run's goroutine touches these.
	failingSince time.Time
	lastWarn     time.Time
}

// New returns a service over st with no bindings; call Load, then Run.
func New(st BindingStore, log *zap.Logger, opt Options) *Service {
	if log == nil {
		log = zap.NewNop()
	}
	if opt.FlushInterval <= 0 {
		opt.FlushInterval = DefaultFlushInterval
	}
	if opt.MaxBatch <= 0 {
		opt.MaxBatch = DefaultMaxBatch
	}
	if opt.PurgeInterval <= 0 {
		opt.PurgeInterval = DefaultPurgeInterval
	}
	if opt.MaxContacts <= 0 {
		opt.MaxContacts = DefaultMaxContacts
	}
	if opt.RefreshInterval <= 0 {
		opt.RefreshInterval = DefaultRefreshInterval
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	s := &Service{st: st, log: log.With(zap.String("svc", "location")), opt: opt, seed: maphash.MakeSeed()}
	for i := range s.shards {
		s.shards[i].aors = map[aorKey][]entry{}
		s.shards[i].dirty = map[aorKey]*pending{}
		s.shards[i].lazy = map[aorKey]map[string]struct{}{}
	}
	return s
}

// now is the service clock as the store keeps time: UTC, microseconds, so
// memory and the store agree exactly after a restart.
func (s *Service) now() time.Time { return s.opt.Now().UTC().Truncate(time.Microsecond) }

func (s *Service) shard(k aorKey) *shard {
	return &s.shards[maphash.Comparable(s.seed, k)%nShards]
}

// Load reads the unexpired bindings from the store. Call it once at start,
// before Run and before the registrar takes requests; bindings already in
// memory win over stored ones with the same key.
func (s *Service) Load(ctx context.Context) error {
	bs, err := s.st.List(ctx, 0)
	if err != nil {
		return fmt.Errorf("load bindings: %w", err)
	}
	now := s.now()
	n := 0
	for _, b := range bs {
		if !b.Expires.After(now) {
			continue
		}
		k := aorKey{b.TenantID, b.Number}
		key := store.BindingKey(b)
		sh := s.shard(k)
		sh.mu.Lock()
		es := sh.aors[k]
		if !slices.ContainsFunc(es, func(e entry) bool { return e.key == key }) {
			es = append(es, entry{key, b, b.Expires})
			sortEntries(es)
			sh.aors[k] = es
			n++
		}
		sh.mu.Unlock()
	}
	s.log.Info("loaded bindings", zap.Int("bindings", n), zap.Int("expired", len(bs)-n))
	return nil
}

// Bindings returns the unexpired bindings of an AOR, highest q first and,
// among equal q, the most recently registered first. The Path slices are
// shared with the service: do not modify them.
func (s *Service) Bindings(tenantID int64, number string) []store.Binding {
	k := aorKey{tenantID, number}
	now := s.now()
	sh := s.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return live(sh.aors[k], now)
}

// Update applies one REGISTER's Contact list to an AOR atomically and
// returns the resulting unexpired bindings (in Bindings' order).
//
// Each binding in add is matched to the AOR's bindings by
// store.BindingKey. One whose Expires is after now adds or replaces its
// binding; one whose Expires is zero or past (Contact expires=0) removes
// it. Both obey RFC 3261 §10.3 step 7: if the stored binding has the
// same Call-ID and a CSeq not lower than the new one, the whole request is
// refused with ErrOutOfOrder. The keys in remove are removed without that
// check (administrative removals). TenantID and Number of add may be left
// zero; UpdatedAt is set to now and an empty Node to Options.Node.
//
// Nothing is changed when Update returns an error. A request that would
// leave the AOR with more than MaxContacts bindings, and more than it had,
// fails with ErrTooManyContacts; refreshes and removals never do.
func (s *Service) Update(tenantID int64, number string, add []store.Binding, remove []string) ([]store.Binding, error) {
	now := s.now()
	in := make([]entry, len(add))
	for i, b := range add {
		if err := s.prepare(&b, tenantID, number, now); err != nil {
			return nil, fmt.Errorf("update %s@%d: %w", number, tenantID, err)
		}
		in[i] = entry{key: store.BindingKey(b), b: b, stored: b.Expires}
	}

	k := aorKey{tenantID, number}
	sh := s.shard(k)
	sh.mu.Lock()
	cur := sh.aors[k]
	next := make([]entry, 0, len(cur)+len(in))
	for _, e := range cur {
		// Expired bindings are gone for the registrar; Run's purge deletes
		// their rows, so they need no write here.
		if e.b.Expires.After(now) {
			next = append(next, e)
		}
	}
	had := len(next)
	var touched, refreshed []string
	for _, key := range remove {
		if i := index(next, key); i >= 0 {
			next = slices.Delete(next, i, i+1)
			touched = append(touched, key)
		}
	}
	lazyUntil := now.Add(2 * s.opt.RefreshInterval)
	for _, e := range in {
		i := index(next, e.key)
		if i >= 0 && next[i].b.CallID == e.b.CallID && e.b.CSeq <= next[i].b.CSeq {
			sh.mu.Unlock()
			return nil, fmt.Errorf("update %s@%d: contact %s: CSeq %d, binding has %d: %w",
				number, tenantID, e.b.Contact, e.b.CSeq, next[i].b.CSeq, ErrOutOfOrder)
		}
		switch {
		case !e.b.Expires.After(now) && i >= 0:
			next = slices.Delete(next, i, i+1)
		case !e.b.Expires.After(now):
			continue // removing what is not there
		case i >= 0 && refreshOnly(next[i].b, e.b) && next[i].stored.After(lazyUntil):
			e.stored = next[i].stored
			next[i] = e
			refreshed = append(refreshed, e.key)
			continue
		case i >= 0:
			next[i] = e
		default:
			next = append(next, e)
		}
		touched = append(touched, e.key)
	}
	if len(next) > s.opt.MaxContacts && len(next) > had {
		sh.mu.Unlock()
		return nil, fmt.Errorf("update %s@%d: %d bindings, at most %d allowed: %w",
			number, tenantID, len(next), s.opt.MaxContacts, ErrTooManyContacts)
	}
	sortEntries(next)
	if len(next) == 0 {
		delete(sh.aors, k)
	} else {
		sh.aors[k] = next
	}
	sh.markLocked(k, false, touched)
	sh.markLazyLocked(k, refreshed)
	out := live(next, now)
	sh.mu.Unlock()
	if len(touched)+len(refreshed) > 0 {
		s.changed(tenantID, number, out)
	}
	return out, nil
}

// prepare validates and completes one binding of a REGISTER.
func (s *Service) prepare(b *store.Binding, tenantID int64, number string, now time.Time) error {
	if b.TenantID == 0 {
		b.TenantID = tenantID
	}
	if b.Number == "" {
		b.Number = number
	}
	switch {
	case b.TenantID != tenantID || b.Number != number:
		return fmt.Errorf("binding of %s@%d given for another AOR: %w", b.Number, b.TenantID, ErrInvalidBinding)
	case strings.TrimSpace(b.Contact) == "":
		return fmt.Errorf("binding without a Contact: %w", ErrInvalidBinding)
	case math.IsNaN(b.Q) || b.Q < 0 || b.Q > 1:
		return fmt.Errorf("contact %s: q %v outside 0..1: %w", b.Contact, b.Q, ErrInvalidBinding)
	}
	if !b.Expires.IsZero() {
		b.Expires = b.Expires.UTC().Truncate(time.Microsecond)
	}
	b.UpdatedAt = now
	if b.Node == "" {
		b.Node = s.opt.Node
	}
	b.Path = slices.Clone(b.Path) // the caller may reuse its slice
	return nil
}

// Unregister handles "Contact: *" with Expires 0 (RFC 3261 §10.3 step 6):
// every binding of the AOR is removed, unless one has the request's
// Call-ID with a CSeq not lower than cseq, in which case nothing is
// removed and the error is ErrOutOfOrder.
func (s *Service) Unregister(tenantID int64, number, callID string, cseq uint32) error {
	k := aorKey{tenantID, number}
	now := s.now()
	sh := s.shard(k)
	sh.mu.Lock()
	for _, e := range sh.aors[k] {
		if e.b.Expires.After(now) && e.b.CallID == callID && cseq <= e.b.CSeq {
			sh.mu.Unlock()
			return fmt.Errorf("unregister %s@%d: CSeq %d, binding %s has %d: %w", number, tenantID, cseq, e.b.Contact, e.b.CSeq, ErrOutOfOrder)
		}
	}
	had := len(live(sh.aors[k], now)) > 0
	s.wipeLocked(sh, k)
	sh.mu.Unlock()
	if had {
		s.changed(tenantID, number, nil)
	}
	return nil
}

// RemoveAll removes every binding of an AOR, unconditionally: for an
// administrative removal (the extension was deleted or disabled). Stored
// bindings this node does not hold in memory are deleted too.
func (s *Service) RemoveAll(tenantID int64, number string) {
	k := aorKey{tenantID, number}
	now := s.now()
	sh := s.shard(k)
	sh.mu.Lock()
	had := len(live(sh.aors[k], now)) > 0
	s.wipeLocked(sh, k)
	sh.mu.Unlock()
	if had {
		s.changed(tenantID, number, nil)
	}
}

func (s *Service) wipeLocked(sh *shard, k aorKey) {
	delete(sh.aors, k)
	delete(sh.lazy, k)
	p := sh.pendingLocked(k)
	p.wipe = true
	clear(p.keys) // the wipe deletes them; nothing is left to save
}

// All returns the unexpired bindings of a tenant (0: of every tenant),
// ordered by tenant, then number, then as Bindings orders them.
func (s *Service) All(tenantID int64) []store.Binding {
	now := s.now()
	var out []store.Binding
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for k, es := range sh.aors {
			if tenantID == 0 || k.tenant == tenantID {
				out = append(out, live(es, now)...)
			}
		}
		sh.mu.Unlock()
	}
	// Within an AOR the entries are already in order; the stable sort
	// keeps it while grouping AORs, numbers short before long as the
	// extension list orders them.
	slices.SortStableFunc(out, func(a, b store.Binding) int {
		return cmp.Or(cmp.Compare(a.TenantID, b.TenantID), cmp.Compare(len(a.Number), len(b.Number)), strings.Compare(a.Number, b.Number))
	})
	return out
}

// Count returns how many unexpired bindings the service holds.
func (s *Service) Count() int {
	now := s.now()
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for _, es := range sh.aors {
			for _, e := range es {
				if e.b.Expires.After(now) {
					n++
				}
			}
		}
		sh.mu.Unlock()
	}
	return n
}

func (s *Service) changed(tenantID int64, number string, bs []store.Binding) {
	if s.opt.OnChange != nil {
		s.opt.OnChange(tenantID, number, bs)
	}
}

func (sh *shard) pendingLocked(k aorKey) *pending {
	p := sh.dirty[k]
	if p == nil {
		p = &pending{keys: map[string]struct{}{}}
		sh.dirty[k] = p
	}
	return p
}

// markLocked records that the keys (or, with wipe, the whole AOR) of k
// must be written on the next flush.
func (sh *shard) markLocked(k aorKey, wipe bool, keys []string) {
	if !wipe && len(keys) == 0 {
		return
	}
	p := sh.pendingLocked(k)
	p.wipe = p.wipe || wipe
	for _, key := range keys {
		p.keys[key] = struct{}{}
	}
}

// markLazyLocked records refreshed keys of k for the next refresh write.
func (sh *shard) markLazyLocked(k aorKey, keys []string) {
	if len(keys) == 0 {
		return
	}
	m := sh.lazy[k]
	if m == nil {
		m = make(map[string]struct{}, len(keys))
		sh.lazy[k] = m
	}
	for _, key := range keys {
		m[key] = struct{}{}
	}
}

// refreshOnly reports whether next differs from cur only in what a
// re-REGISTER of the same phone over the same flow changes: expiry, CSeq,
// the update time, and the Call-ID (phones should keep it, RFC 3261
// §10.2.4, but some start a new one for each refresh). Nothing reads a
// stored Call-ID or CSeq but the ordering check after a restart, which
// then errs towards accepting the phone's next REGISTER.
func refreshOnly(cur, next store.Binding) bool {
	return cur.Contact == next.Contact && cur.Instance == next.Instance && cur.RegID == next.RegID &&
		cur.Q == next.Q && cur.UserAgent == next.UserAgent &&
		cur.Source == next.Source && cur.Transport == next.Transport && cur.Flow == next.Flow &&
		cur.Node == next.Node && slices.Equal(cur.Path, next.Path)
}

// live copies the unexpired bindings of es.
func live(es []entry, now time.Time) []store.Binding {
	out := make([]store.Binding, 0, len(es))
	for _, e := range es {
		if e.b.Expires.After(now) {
			out = append(out, e.b)
		}
	}
	return out
}

func index(es []entry, key string) int {
	for i := range es {
		if es[i].key == key {
			return i
		}
	}
	return -1
}

// sortEntries orders an AOR's bindings as the proxy tries them: q
// descending (RFC 3261 §16.6 forks by q), then the most recently
// registered first, which is the device the user most likely holds; the
// key breaks ties so the order is stable across restarts.
func sortEntries(es []entry) {
	slices.SortFunc(es, func(a, b entry) int {
		return cmp.Or(cmp.Compare(b.b.Q, a.b.Q), b.b.UpdatedAt.Compare(a.b.UpdatedAt), strings.Compare(a.key, b.key))
	})
}

// Local reports whether b is held by this node: its flow ends here, so
// only this node can send to it, ping it or tell it about messages.
func (s *Service) Local(b store.Binding) bool { return b.Node == "" || b.Node == s.opt.Node }

// Refresh reads an AOR's bindings from the store and takes over those
// other nodes of a cluster hold (store.Binding.Node), replacing what
// memory had of theirs; bindings of this node stay as memory has them
// (memory is authoritative for them), except one the store shows re-
// registered on another node since (the phone moved there). Call it when
// another node says it wrote the AOR. OnChange is told when the live
// bindings changed.
func (s *Service) Refresh(ctx context.Context, tenantID int64, number string) error {
	stored, err := s.st.ListAOR(ctx, tenantID, number)
	if err != nil {
		return fmt.Errorf("refresh %s@%d: %w", number, tenantID, err)
	}
	s.takeOver(tenantID, number, stored)
	return nil
}

// RefreshAll is Refresh of every AOR: after a node missed notices.
func (s *Service) RefreshAll(ctx context.Context) error {
	stored, err := s.st.List(ctx, 0)
	if err != nil {
		return fmt.Errorf("refresh all bindings: %w", err)
	}
	byAOR := map[aorKey][]store.Binding{}
	for _, b := range stored {
		k := aorKey{b.TenantID, b.Number}
		byAOR[k] = append(byAOR[k], b)
	}
	// AORs memory holds others' bindings of that the store no longer has.
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for k, es := range sh.aors {
			if _, ok := byAOR[k]; !ok && slices.ContainsFunc(es, func(e entry) bool { return !s.Local(e.b) }) {
				byAOR[k] = nil
			}
		}
		sh.mu.Unlock()
	}
	for k, bs := range byAOR {
		s.takeOver(k.tenant, k.number, bs)
	}
	return nil
}

// takeOver is Refresh with the AOR's stored bindings read.
func (s *Service) takeOver(tenantID int64, number string, stored []store.Binding) {
	now := s.now()
	theirs := make(map[string]store.Binding, len(stored))
	for _, b := range stored {
		if b.Expires.After(now) && !s.Local(b) {
			theirs[store.BindingKey(b)] = b
		}
	}
	k := aorKey{tenantID, number}
	sh := s.shard(k)
	sh.mu.Lock()
	before := live(sh.aors[k], now)
	var next []entry
	for _, e := range sh.aors[k] {
		if !s.Local(e.b) {
			continue // theirs: replaced by the store's copy below
		}
		if o, ok := theirs[e.key]; ok && o.UpdatedAt.After(e.b.UpdatedAt) {
			// Moved: forget ours without writing, or the next flush
			// would delete the other node's row.
			if p := sh.dirty[k]; p != nil {
				delete(p.keys, e.key)
			}
			delete(sh.lazy[k], e.key)
			continue
		}
		delete(theirs, e.key) // ours is newer
		next = append(next, e)
	}
	for key, b := range theirs {
		next = append(next, entry{key: key, b: b, stored: b.Expires})
	}
	sortEntries(next)
	if len(next) == 0 {
		delete(sh.aors, k)
	} else {
		sh.aors[k] = next
	}
	after := live(next, now)
	sh.mu.Unlock()
	if !sameBindings(before, after) {
		s.changed(tenantID, number, after)
	}
}

// sameBindings reports whether two live sets (in location order) hold
// the same bindings with the same expiry and node.
func sameBindings(a, b []store.Binding) bool {
	return slices.EqualFunc(a, b, func(x, y store.Binding) bool {
		return store.BindingKey(x) == store.BindingKey(y) && x.Node == y.Node && x.Expires.Equal(y.Expires) && x.Contact == y.Contact
	})
}
