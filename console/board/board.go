// Package board is the operators' extension board: the live state of
// every extension of a tenant (idle, ringing, in a call, do not disturb,
// forwarded, unregistered) with its name, department and site. It follows
// the store for the extensions and their settings, and the SIP layer's
// registration and dialog events for what phones are doing, and tells
// subscribers about every entry that changes.
package board

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/events"
	"github.com/sentralpbx/sentral/store"
)

// States of an entry, in the order they win: a phone in a call is in a
// call whatever its settings.
const (
	StateInCall       = "in-call"
	StateRinging      = "ringing"
	StateDND          = "dnd"
	StateForwarded    = "forwarded"
	StateUnregistered = "unregistered"
	StateIdle         = "idle"
)

// Entry is one extension on the board.
type Entry struct {
	Number     string `json:"number"`
	Name       string `json:"name"`
	Department string `json:"department"`
	Site       string `json:"site"`
	State      string `json:"state"`
	Forward    string `json:"forward"` // the always-forward target when State is forwarded
}

// Update is one changed entry.
type Update struct {
	TenantID int64
	Entry    Entry
}

// Registrations tells how many live bindings an extension has now (the
// location service), for the state at start.
type Registrations interface {
	All(tenantID int64) []store.Binding
}

// Names gives the phone book's name of a number ("" when unknown).
type Names func(tenantID int64, number string) (string, bool)

// Board is the live board of every tenant. Its methods are safe for
// concurrent use.
type Board struct {
	st    store.Store
	regs  Registrations
	names Names
	log   *zap.Logger
	now   func() time.Time

	mu    sync.Mutex
	exts  map[int64]map[string]ext // tenant -> number -> what the store says
	bound map[key]int              // live bindings
	calls map[key]map[string]call  // dialogs by Call-ID
	seq   int64                    // newest store change applied
	subs  map[chan Update]struct{}
}

type key struct {
	tenant int64
	number string
}

// ext is what the store says about an extension.
type ext struct {
	name, department, site string
	dnd                    bool
	forward                string
}

// call is one dialog of an extension.
type call struct {
	state   string // events.Dialog*
	inbound bool
}

// New returns an empty board; call Load, then Run.
func New(st store.Store, regs Registrations, names Names, log *zap.Logger) *Board {
	return &Board{st: st, regs: regs, names: names, log: log, now: time.Now,
		exts: map[int64]map[string]ext{}, bound: map[key]int{}, calls: map[key]map[string]call{}, subs: map[chan Update]struct{}{}}
}

// Load reads the extensions from the store and the registrations from the
// location service.
func (b *Board) Load(ctx context.Context) error {
	seq, err := b.st.LastChange(ctx)
	if err != nil {
		return fmt.Errorf("board: %w", err)
	}
	exts, err := b.read(ctx)
	if err != nil {
		return err
	}
	bound := map[key]int{}
	if b.regs != nil {
		now := b.now()
		for tenant := range exts {
			for _, bd := range b.regs.All(tenant) {
				if bd.Expires.After(now) {
					bound[key{tenant, bd.Number}]++
				}
			}
		}
	}
	b.mu.Lock()
	b.exts, b.bound, b.seq = exts, bound, seq
	b.mu.Unlock()
	return nil
}

// read loads every tenant's extensions with their department and site
// names.
func (b *Board) read(ctx context.Context) (map[int64]map[string]ext, error) {
	all := store.ListOptions{}
	xs, err := b.st.Extensions().List(ctx, all)
	if err != nil {
		return nil, fmt.Errorf("board: list extensions: %w", err)
	}
	deps, err := b.st.Departments().List(ctx, all)
	if err != nil {
		return nil, fmt.Errorf("board: list departments: %w", err)
	}
	sites, err := b.st.Sites().List(ctx, all)
	if err != nil {
		return nil, fmt.Errorf("board: list sites: %w", err)
	}
	depName, siteName := map[int64]string{}, map[int64]string{}
	for _, d := range deps {
		depName[d.ID] = d.Name
	}
	for _, s := range sites {
		siteName[s.ID] = s.Name
	}
	of := func(m map[int64]string, id *int64) string {
		if id == nil {
			return ""
		}
		return m[*id]
	}
	out := map[int64]map[string]ext{}
	for _, x := range xs {
		if !x.Enabled {
			continue
		}
		if out[x.TenantID] == nil {
			out[x.TenantID] = map[string]ext{}
		}
		name := x.DisplayName
		if b.names != nil {
			if n, ok := b.names(x.TenantID, x.Number); ok && n != "" {
				name = n
			}
		}
		out[x.TenantID][x.Number] = ext{name: name, department: of(depName, x.DepartmentID), site: of(siteName, x.SiteID),
			dnd: x.DND, forward: x.ForwardAlways}
	}
	return out, nil
}

// Run follows registrations, dialogs and the store until ctx ends. It is
// meant to run in its own goroutine, owned by whoever owns ctx.
func (b *Board) Run(ctx context.Context, hub *events.Hub) error {
	regs := hub.Registrations.Subscribe(ctx, 0)
	dialogs := hub.Dialogs.Subscribe(ctx, 0)
	b.mu.Lock()
	after := b.seq
	b.mu.Unlock()
	changes := b.st.Watch(ctx, after)
	// Store changes come in bursts (imports); the board re-reads once the
	// burst is over.
	var reload <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev, ok := <-regs:
			if !ok {
				return ctx.Err()
			}
			b.registered(ev)
		case ev, ok := <-dialogs:
			if !ok {
				return ctx.Err()
			}
			b.dialog(ev)
		case ch, ok := <-changes:
			if !ok {
				return ctx.Err()
			}
			switch ch.Entity {
			case store.EntityExtension, store.EntityDepartment, store.EntitySite, store.EntityPerson, store.EntityTenant:
				if reload == nil {
					reload = time.After(200 * time.Millisecond)
				}
			}
		case <-reload:
			reload = nil
			if err := b.refresh(ctx); err != nil && ctx.Err() == nil {
				// The board keeps what it had; the next change retries.
				b.log.Error("board: reload extensions", zap.Error(err))
			}
		}
	}
}

// refresh re-reads the extensions and announces the entries that changed.
func (b *Board) refresh(ctx context.Context) error {
	exts, err := b.read(ctx)
	if err != nil {
		return err
	}
	b.mu.Lock()
	old := b.exts
	b.exts = exts
	var changed []Update
	for tenant, m := range exts {
		for number := range m {
			before, had := old[tenant][number]
			if !had || before != m[number] {
				changed = append(changed, Update{tenant, b.entryLocked(tenant, number)})
			}
		}
	}
	for tenant, m := range old {
		for number := range m {
			if _, ok := exts[tenant][number]; !ok {
				// Gone from the board: announce it as unregistered and
				// nameless so pages drop it.
				changed = append(changed, Update{tenant, Entry{Number: number, State: StateUnregistered}})
			}
		}
	}
	b.mu.Unlock()
	for _, u := range changed {
		b.publish(u)
	}
	return nil
}

func (b *Board) registered(ev events.RegistrationEvent) {
	k := key{ev.TenantID, ev.Number}
	b.mu.Lock()
	before := b.stateLocked(k)
	if ev.Bindings > 0 {
		b.bound[k] = ev.Bindings
	} else {
		delete(b.bound, k)
	}
	u, changed := b.changedLocked(k, before)
	b.mu.Unlock()
	if changed {
		b.publish(u)
	}
}

func (b *Board) dialog(ev events.DialogEvent) {
	k := key{ev.TenantID, ev.Ext}
	b.mu.Lock()
	before := b.stateLocked(k)
	if ev.State == events.DialogTerminated {
		delete(b.calls[k], ev.CallID)
		if len(b.calls[k]) == 0 {
			delete(b.calls, k)
		}
	} else {
		if b.calls[k] == nil {
			b.calls[k] = map[string]call{}
		}
		b.calls[k][ev.CallID] = call{state: ev.State, inbound: ev.Direction == events.DirectionInbound}
	}
	u, changed := b.changedLocked(k, before)
	b.mu.Unlock()
	if changed {
		b.publish(u)
	}
}

func (b *Board) changedLocked(k key, before string) (Update, bool) {
	if _, known := b.exts[k.tenant][k.number]; !known {
		return Update{}, false
	}
	if b.stateLocked(k) == before {
		return Update{}, false
	}
	return Update{k.tenant, b.entryLocked(k.tenant, k.number)}, true
}

// stateLocked decides an extension's state.
func (b *Board) stateLocked(k key) string {
	ringing := false
	for _, c := range b.calls[k] {
		switch {
		case c.state == events.DialogConfirmed, !c.inbound:
			// Talking, or dialling out: busy either way.
			return StateInCall
		case c.state == events.DialogRinging || c.state == events.DialogTrying:
			ringing = true
		}
	}
	if ringing {
		return StateRinging
	}
	x := b.exts[k.tenant][k.number]
	switch {
	case x.dnd:
		return StateDND
	case x.forward != "":
		return StateForwarded
	case b.bound[k] == 0:
		return StateUnregistered
	}
	return StateIdle
}

func (b *Board) entryLocked(tenant int64, number string) Entry {
	x := b.exts[tenant][number]
	e := Entry{Number: number, Name: x.name, Department: x.department, Site: x.site, State: b.stateLocked(key{tenant, number})}
	if e.State == StateForwarded {
		e.Forward = x.forward
	}
	return e
}

// Snapshot returns a tenant's board, ordered by extension number (shorter
// numbers first).
func (b *Board) Snapshot(tenantID int64) []Entry {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Entry, 0, len(b.exts[tenantID]))
	for number := range b.exts[tenantID] {
		out = append(out, b.entryLocked(tenantID, number))
	}
	sort.Slice(out, func(i, j int) bool {
		if len(out[i].Number) != len(out[j].Number) {
			return len(out[i].Number) < len(out[j].Number)
		}
		return out[i].Number < out[j].Number
	})
	return out
}

// State returns one extension's state ("" when it is not on the board).
func (b *Board) State(tenantID int64, number string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.exts[tenantID][strings.TrimSpace(number)]; !ok {
		return ""
	}
	return b.stateLocked(key{tenantID, strings.TrimSpace(number)})
}

// subBuffer is a subscriber's buffer; a subscriber that falls this far
// behind misses updates (it re-reads the snapshot when it notices).
const subBuffer = 256

// Subscribe delivers every changed entry until ctx ends, when the channel
// is closed. A slow subscriber loses updates rather than slowing the board.
func (b *Board) Subscribe(ctx context.Context) <-chan Update {
	ch := make(chan Update, subBuffer)
	b.mu.Lock()
	b.subs[ch] = struct{}{}
	b.mu.Unlock()
	go func() {
		<-ctx.Done()
		b.mu.Lock()
		delete(b.subs, ch)
		close(ch)
		b.mu.Unlock()
	}()
	return ch
}

func (b *Board) publish(u Update) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.subs {
		select {
		case ch <- u:
		default:
		}
	}
}
