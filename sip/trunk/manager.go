package trunk

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/emiago/sipgo"
	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/store"
)

// Manager runs one Registration per enabled register-mode trunk and
// follows the trunk list it is given. Every goroutine it starts belongs to
// Run's context and has ended when Run returns.
type Manager struct {
	client  *sipgo.Client
	contact ContactFunc
	log     *zap.Logger
	opt     Options

	mu      sync.Mutex
	ctx     context.Context // Run's; nil before Run
	closed  bool            // Run has returned or is returning
	desired []store.Trunk
	running map[trunkKey]*running
	// leaving holds the done channel of a registration being stopped, by
	// trunk, so its replacement starts only after the old binding has
	// been removed: an unregister arriving after the new REGISTER would
	// remove the new binding (same Contact).
	leaving map[trunkKey]chan struct{}
	wg      sync.WaitGroup
}

// trunkKey identifies a trunk: names are unique per tenant.
type trunkKey struct {
	tenant int64
	name   string
}

type running struct {
	trunk  store.Trunk
	reg    *Registration
	cancel context.CancelFunc
	done   chan struct{}
}

// NewManager returns a Manager sending through client, which should be
// the SIP server's (server.Server.Client()) so REGISTERs leave through
// Sentral's listeners. contact gives each trunk's Contact (see
// ListenerContacts). Call Update with the trunks and Run to start.
func NewManager(client *sipgo.Client, contact ContactFunc, log *zap.Logger, opt Options) *Manager {
	if log == nil {
		log = zap.NewNop()
	}
	return &Manager{client: client, contact: contact, log: log, opt: opt.withDefaults(),
		running: map[trunkKey]*running{}, leaving: map[trunkKey]chan struct{}{}}
}

// Update sets the trunks to register with: registrations start for
// enabled register-mode trunks, stop (unregistering) for trunks removed,
// disabled or turned into peers, and restart for trunks whose address,
// transport, username, password or realm changed. Before Run it only
// records the list. Safe to call at any time, from any goroutine.
func (m *Manager) Update(trunks []store.Trunk) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.desired = append([]store.Trunk(nil), trunks...)
	if m.ctx != nil && !m.closed {
		m.reconcileLocked()
	}
}

// Run runs the registrations until ctx ends, then unregisters them all
// (in parallel, each within UnregisterTimeout) and returns. Run must end
// before the SIP server's user agent is closed, or the unregistrations
// cannot be sent.
func (m *Manager) Run(ctx context.Context) error {
	m.mu.Lock()
	if m.ctx != nil {
		m.mu.Unlock()
		return errors.New("trunk: Manager.Run called twice")
	}
	m.ctx = ctx
	m.reconcileLocked()
	m.mu.Unlock()

	<-ctx.Done()

	m.mu.Lock()
	m.closed = true
	for k, r := range m.running {
		r.cancel()
		delete(m.running, k)
	}
	m.mu.Unlock()
	m.wg.Wait()
	return nil
}

// Status lists the running registrations, sorted by trunk name.
func (m *Manager) Status() []TrunkStatus {
	m.mu.Lock()
	rs := make([]*running, 0, len(m.running))
	for _, r := range m.running {
		rs = append(rs, r)
	}
	m.mu.Unlock()
	out := make([]TrunkStatus, 0, len(rs))
	for _, r := range rs {
		out = append(out, TrunkStatus{TenantID: r.trunk.TenantID, Name: r.trunk.Name,
			AOR: r.reg.aor.String(), Registrar: r.reg.registrar(), Status: r.reg.Status()})
	}
	slices.SortFunc(out, func(a, b TrunkStatus) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.TenantID, b.TenantID))
	})
	return out
}

func (m *Manager) reconcileLocked() {
	for k, done := range m.leaving {
		select {
		case <-done:
			delete(m.leaving, k)
		default:
		}
	}
	want := map[trunkKey]store.Trunk{}
	for _, t := range m.desired {
		if t.Mode == store.TrunkRegister && t.Enabled {
			want[trunkKey{t.TenantID, t.Name}] = t
		}
	}
	for k, r := range m.running {
		t, ok := want[k]
		switch {
		case !ok:
			m.log.Info("trunk registration stopping: trunk removed or disabled", zap.String("trunk", k.name), zap.Int64("tenant", k.tenant))
		case connectionChanged(r.trunk, t):
			m.log.Info("trunk registration restarting: connection or credentials changed", zap.String("trunk", k.name), zap.Int64("tenant", k.tenant))
		default:
			r.trunk = t // priority and the like: nothing to redo
			continue
		}
		r.cancel()
		delete(m.running, k)
		m.leaving[k] = r.done
	}
	for k, t := range want {
		if _, ok := m.running[k]; ok {
			continue
		}
		m.startLocked(k, t)
	}
}

// connectionChanged reports a change that needs a new registration.
func connectionChanged(a, b store.Trunk) bool {
	return a.Host != b.Host || portOf(a) != portOf(b) || transportOf(a) != transportOf(b) ||
		a.Username != b.Username || a.Password != b.Password || a.Realm != b.Realm
}

func (m *Manager) startLocked(k trunkKey, t store.Trunk) {
	reg, err := NewRegistration(m.client, t, m.contact, m.log, m.opt)
	if err != nil {
		m.log.Error("trunk registration not started", zap.String("trunk", t.Name), zap.Int64("tenant", t.TenantID), zap.Error(err))
		return
	}
	ctx, cancel := context.WithCancel(m.ctx)
	r := &running{trunk: t, reg: reg, cancel: cancel, done: make(chan struct{})}
	prev := m.leaving[k]
	delete(m.leaving, k)
	m.running[k] = r
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer close(r.done)
		defer cancel()
		if prev != nil {
			// Even when cancelled meanwhile: a successor waits on our
			// done, and must not start before prev's unregister is over.
			// prev is cancelled, so this is bounded by its unregister.
			<-prev
		}
		_ = reg.Run(ctx)
	}()
}
