// Package mwi is the message-waiting notifier (RFC 3842 over RFC 6665):
// it answers message-summary SUBSCRIBEs, keeps the subscriptions in a
// presence.Subscriptions registry, and NOTIFYs subscribers, and phones
// that only register, when a mailbox changes.
//
// Choices, so that phones and operators see one behaviour:
//   - Authentication follows the registrar: a domain no tenant owns gets
//     403; an unknown mailbox and a wrong password are both challenged
//     again (401), so a scanner cannot tell which mailboxes exist; the
//     username is the mailbox's extension, or the AuthUser of a desk phone
//     carrying it on a line key. Only initial SUBSCRIBEs are challenged: a
//     refresh is accepted when it names a dialog we hold and comes from
//     the transport and address that dialog was created from; anything
//     else gets 481 and the phone subscribes (and authenticates) afresh.
//   - NOTIFYs go where the SUBSCRIBE came from (its source address, or
//     the connection it came on), and unsolicited NOTIFYs where the
//     REGISTER came from, with its Path as Route: behind NAT, and for
//     browsers with .invalid Contact hosts, the Contact is unreachable.
//   - A NOTIFY that fails (error response, timeout, closed connection)
//     ends its subscription at once, as RFC 6665 §4.2.2 asks; the phone's
//     next refresh gets 481 and it subscribes again.
//   - NOTIFYs of one dialog are sent one at a time, in CSeq order; when
//     states pile up behind a slow phone only the newest is sent. The same
//     holds for the unsolicited NOTIFYs of one binding.
//   - Phones that register but do not subscribe get unsolicited NOTIFYs:
//     on every change of their mailbox, and after registering while it
//     holds new messages (a rebooted phone lights its lamp). A binding is
//     told each state once; a refresh of the same registration (same
//     Call-ID, source and contact) sends nothing.
//   - Counts are cached in memory (warmed per tenant with CountsAll, kept
//     current by Changed), so registrations cost no store read. Every
//     writer of voicemail messages must therefore call Changed.
//   - Subscriptions live in memory only. After a restart the phones'
//     refreshes get 481 and they subscribe again; until then they count
//     as unsubscribed and get unsolicited NOTIFYs.
package mwi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/events"
	"github.com/sentralpbx/sentral/sip/auth"
	"github.com/sentralpbx/sentral/sip/presence"
	"github.com/sentralpbx/sentral/sip/self"
	"github.com/sentralpbx/sentral/store"
)

// Notifier is the message-summary notifier. Its methods are safe for
// concurrent use.
type Notifier struct {
	d    Deps
	opt  Options
	log  *zap.Logger
	self self.Addrs
	subs *presence.Subscriptions

	// changeMu orders the reads of counts with the NOTIFYs built from
	// them: of two changes of one mailbox, the later read is sent last.
	changeMu sync.Mutex

	mu      sync.Mutex
	peers   map[presence.DialogID]*peer
	byKey   map[presence.Key]map[presence.DialogID]*peer
	cache   map[int64]*tenantCounts
	told    map[presence.Key]map[string]store.VoicemailCounts
	lanes   map[string]*lane
	stopped bool

	queue       chan presence.Key
	dropped     atomic.Uint64
	lastDropLog atomic.Int64
	running     atomic.Bool

	life  context.Context
	end   context.CancelFunc
	sends sync.WaitGroup
}

// peer is what the notifier knows of a live subscription beyond the
// registry: where it came from, to match refreshes and bindings, and the
// newest CSeq queued, so an older NOTIFY is never sent after a newer one.
type peer struct {
	key        presence.Key
	transport  string // lower case
	source     string
	contact    string // the SUBSCRIBE's Contact, canonical
	lastQueued uint32
}

// tenantCounts caches one tenant's counts. When warm, a mailbox missing
// from byMailbox has no messages.
type tenantCounts struct {
	warm      bool
	retryAt   time.Time
	byMailbox map[string]store.VoicemailCounts
}

// New builds a notifier; zero options take the defaults.
func New(deps Deps, opt Options) (*Notifier, error) {
	switch {
	case deps.Catalog == nil, deps.Auth == nil, deps.Guard == nil, deps.Locations == nil, deps.Counts == nil, deps.Sender == nil:
		return nil, errors.New("mwi: Catalog, Auth, Guard, Locations, Counts and Sender are required")
	case len(opt.Listeners) == 0:
		return nil, errors.New("mwi: no listeners")
	}
	if err := auth.CheckAlgorithms(opt.Algorithms); err != nil {
		return nil, fmt.Errorf("mwi: %w", err)
	}
	if opt.MaxPerMailbox <= 0 {
		opt.MaxPerMailbox = DefaultMaxPerMailbox
	}
	if opt.QueueSize <= 0 {
		opt.QueueSize = DefaultQueueSize
	}
	if opt.NotifyTimeout <= 0 {
		opt.NotifyTimeout = DefaultNotifyTimeout
	}
	if opt.SweepInterval <= 0 {
		opt.SweepInterval = DefaultSweepInterval
	}
	if opt.CountsRetry <= 0 {
		opt.CountsRetry = DefaultCountsRetry
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if deps.Log == nil {
		deps.Log = zap.NewNop()
	}
	n := &Notifier{d: deps, opt: opt, log: deps.Log,
		subs:  presence.NewSubscriptions(presence.WithExpiryBounds(opt.MinExpires, opt.DefaultExpires, opt.MaxExpires)),
		peers: map[presence.DialogID]*peer{}, byKey: map[presence.Key]map[presence.DialogID]*peer{},
		cache: map[int64]*tenantCounts{}, told: map[presence.Key]map[string]store.VoicemailCounts{},
		lanes: map[string]*lane{}, queue: make(chan presence.Key, opt.QueueSize)}
	addrs, err := self.Parse(opt.Listeners, opt.Host)
	if err != nil {
		return nil, fmt.Errorf("mwi: %w", err)
	}
	n.self = addrs
	n.life, n.end = context.WithCancel(context.Background())
	return n, nil
}

// Run sweeps expired subscriptions (each gets a NOTIFY terminating it
// with reason timeout) and works through the registrations Registered
// queued. It returns when ctx ends, after the NOTIFYs in flight gave up.
func (n *Notifier) Run(ctx context.Context) error {
	if !n.running.CompareAndSwap(false, true) {
		return errors.New("mwi: Run called twice")
	}
	defer n.stop()
	t := time.NewTicker(n.opt.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			n.expire()
		case k := <-n.queue:
			n.registered(ctx, k)
		}
	}
}

func (n *Notifier) stop() {
	n.mu.Lock()
	n.stopped = true
	n.mu.Unlock()
	n.end()
	n.sends.Wait()
}

// Registered tells the notifier that an extension's bindings changed. It
// only queues the event (dropping it when the queue is full): it is called
// for every REGISTER, and the registrar must not wait for us.
func (n *Notifier) Registered(ev events.RegistrationEvent) {
	if ev.Bindings == 0 {
		return
	}
	select {
	case n.queue <- presence.Key{Tenant: ev.TenantID, Mailbox: ev.Number}:
	default:
		d := n.dropped.Add(1)
		now := time.Now().UnixNano()
		last := n.lastDropLog.Load()
		// At most one line a second: a flood of REGISTERs must not become
		// a flood of log lines.
		if now-last >= int64(time.Second) && n.lastDropLog.CompareAndSwap(last, now) {
			n.log.Warn("mwi: registration queue full, event dropped",
				zap.Int64("tenant", ev.TenantID), zap.String("ext", ev.Number), zap.Uint64("dropped_total", d))
		}
	}
}

// Dropped returns how many registration events were dropped because the
// queue was full, for metrics.
func (n *Notifier) Dropped() uint64 { return n.dropped.Load() }

// Changed re-reads the counts of a mailbox and NOTIFYs every subscription
// to it, and every binding of its extension that has none (unsolicited).
// Call it after every change of the mailbox's messages.
func (n *Notifier) Changed(ctx context.Context, tenantID int64, mailbox string) error {
	n.changeMu.Lock()
	defer n.changeMu.Unlock()
	nw, sv, err := n.d.Counts.Counts(ctx, tenantID, mailbox)
	if err != nil {
		return fmt.Errorf("mwi: counts of mailbox %s of tenant %d: %w", mailbox, tenantID, err)
	}
	c := store.VoicemailCounts{New: nw, Saved: sv}
	tenant, ok := n.d.Catalog.Tenant(tenantID)
	if !ok {
		return fmt.Errorf("mwi: mailbox %s: tenant %d: %w", mailbox, tenantID, store.ErrNotFound)
	}
	bindings := n.d.Locations.Bindings(tenantID, mailbox)
	now := n.opt.Now()
	k := presence.Key{Tenant: tenantID, Mailbox: mailbox}

	n.mu.Lock()
	defer n.mu.Unlock()
	tc := n.tenantLocked(tenantID)
	tc.byMailbox[mailbox] = c
	summary := summaryOf(tenant, mailbox, c)
	for _, nt := range n.subs.For(tenantID, mailbox, now) {
		n.queueNoticeLocked(nt, &summary)
	}
	told := map[string]store.VoicemailCounts{}
	for _, b := range bindings {
		if n.subscribedLocked(k, b) {
			continue
		}
		id := identity(b)
		if n.queueUnsolicitedLocked(tenant, b, c, id) {
			told[id] = c
		}
	}
	n.setToldLocked(k, told)
	return nil
}

// registered is the worker's half of Registered: unsolicited NOTIFYs to
// the unsubscribed bindings of an extension whose mailbox has new
// messages, unless they were told these counts already.
func (n *Notifier) registered(ctx context.Context, k presence.Key) {
	if !n.warm(ctx, k) {
		return
	}
	n.mu.Lock()
	c, _ := n.cachedLocked(k)
	n.mu.Unlock()
	if c.New == 0 {
		// Most registrations: nothing to light, and a lamp that is off
		// after a reboot is right. Not even the bindings are read.
		return
	}
	tenant, ok := n.d.Catalog.Tenant(k.Tenant)
	if !ok {
		return
	}
	bindings := n.d.Locations.Bindings(k.Tenant, k.Mailbox)
	n.mu.Lock()
	defer n.mu.Unlock()
	c, _ = n.cachedLocked(k) // again: Changed may have run meanwhile
	prev := n.told[k]
	told := map[string]store.VoicemailCounts{}
	for _, b := range bindings {
		id := identity(b)
		if was, ok := prev[id]; ok {
			told[id] = was
		}
		if c.New == 0 || n.subscribedLocked(k, b) {
			continue
		}
		if was, ok := prev[id]; ok && was == c {
			continue
		}
		if n.queueUnsolicitedLocked(tenant, b, c, id) {
			told[id] = c
		}
	}
	n.setToldLocked(k, told)
}

// warm makes sure the cache can answer for k without a store read per
// registration: the mailbox is cached, or its tenant's counts are loaded
// (with CountsAll, retried no sooner than CountsRetry after a failure).
func (n *Notifier) warm(ctx context.Context, k presence.Key) bool {
	now := n.opt.Now()
	n.mu.Lock()
	tc := n.tenantLocked(k.Tenant)
	_, have := tc.byMailbox[k.Mailbox]
	if tc.warm || have {
		n.mu.Unlock()
		return true
	}
	if now.Before(tc.retryAt) {
		n.mu.Unlock()
		return false
	}
	n.mu.Unlock()
	all, err := n.d.Counts.CountsAll(ctx, k.Tenant)
	n.mu.Lock()
	defer n.mu.Unlock()
	if err != nil {
		tc.retryAt = now.Add(n.opt.CountsRetry)
		n.log.Warn("mwi: reading the tenant's message counts failed; registrations do not light lamps until it works",
			zap.Int64("tenant", k.Tenant), zap.Error(err))
		return false
	}
	// Entries already present were set by Changed or a SUBSCRIBE while
	// CountsAll ran, and are at least as new.
	for mb, c := range all {
		if _, ok := tc.byMailbox[mb]; !ok {
			tc.byMailbox[mb] = c
		}
	}
	tc.warm = true
	return true
}

func (n *Notifier) tenantLocked(id int64) *tenantCounts {
	tc := n.cache[id]
	if tc == nil {
		tc = &tenantCounts{byMailbox: map[string]store.VoicemailCounts{}}
		n.cache[id] = tc
	}
	return tc
}

func (n *Notifier) cachedLocked(k presence.Key) (store.VoicemailCounts, bool) {
	tc := n.cache[k.Tenant]
	if tc == nil {
		return store.VoicemailCounts{}, false
	}
	c, ok := tc.byMailbox[k.Mailbox]
	return c, ok || tc.warm
}

// counts returns a mailbox's counts from the cache, reading the store on
// a miss.
func (n *Notifier) counts(ctx context.Context, k presence.Key) (store.VoicemailCounts, error) {
	n.mu.Lock()
	c, ok := n.cachedLocked(k)
	n.mu.Unlock()
	if ok {
		return c, nil
	}
	nw, sv, err := n.d.Counts.Counts(ctx, k.Tenant, k.Mailbox)
	if err != nil {
		return c, fmt.Errorf("counts of mailbox %s of tenant %d: %w", k.Mailbox, k.Tenant, err)
	}
	c = store.VoicemailCounts{New: nw, Saved: sv}
	n.mu.Lock()
	tc := n.tenantLocked(k.Tenant)
	if cur, ok := tc.byMailbox[k.Mailbox]; ok {
		c = cur // set by Changed meanwhile: newer
	} else {
		tc.byMailbox[k.Mailbox] = c
	}
	n.mu.Unlock()
	return c, nil
}

func (n *Notifier) setToldLocked(k presence.Key, told map[string]store.VoicemailCounts) {
	if len(told) == 0 {
		delete(n.told, k)
		return
	}
	n.told[k] = told
}

// forgetTold drops what a binding was told after its NOTIFY failed, so
// its next registration tries again.
func (n *Notifier) forgetTold(k presence.Key, id string, c store.VoicemailCounts) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if m := n.told[k]; m != nil && m[id] == c {
		delete(m, id)
		if len(m) == 0 {
			delete(n.told, k)
		}
	}
}

// subscribedLocked reports whether binding b has a subscription to k's
// mailbox: one made from the same transport and address, or with the same
// Contact. Such a phone gets its NOTIFYs in the dialog, not unsolicited.
func (n *Notifier) subscribedLocked(k presence.Key, b store.Binding) bool {
	_, dest := bindingDestination(b)
	for _, p := range n.byKey[k] {
		if strings.EqualFold(p.transport, b.Transport) && p.source == dest {
			return true
		}
		if p.contact != "" && strings.EqualFold(p.contact, b.Contact) {
			return true
		}
	}
	return false
}

// identity names one registration of a binding: a phone that reboots
// registers with a new Call-ID (or from a new address) and is told again.
func identity(b store.Binding) string {
	return store.BindingKey(b) + "\x00" + b.CallID + "\x00" + strings.ToLower(b.Transport) + "\x00" + b.Source + "\x00" + b.Flow
}

// bindingDestination is where requests to b go: the connection it
// registered on, or the address it registered from; never its Contact.
func bindingDestination(b store.Binding) (network, dest string) {
	network = strings.ToLower(b.Transport)
	if network == "" {
		network = "udp"
	}
	dest = b.Source
	if b.Flow != "" {
		if _, addr, ok := strings.Cut(b.Flow, ":"); ok {
			dest = addr
		}
	}
	return network, dest
}

func summaryOf(t store.Tenant, mailbox string, c store.VoicemailCounts) presence.MessageSummary {
	u := mailboxURI(t, mailbox)
	return presence.NewSummary(u.String(), presence.Counts{New: c.New, Old: c.Saved})
}

func mailboxURI(t store.Tenant, mailbox string) sip.Uri {
	return sip.Uri{Scheme: "sip", User: mailbox, Host: strings.ToLower(t.Domain)}
}

// expire ends the subscriptions whose time ran out.
func (n *Notifier) expire() {
	n.mu.Lock()
	notices := n.subs.Expire(n.opt.Now())
	for _, nt := range notices {
		n.unindexLocked(nt.DialogID)
	}
	n.mu.Unlock()
	for _, nt := range notices {
		n.log.Debug("mwi: subscription expired", zap.String("call_id", nt.CallID),
			zap.Int64("tenant", nt.Tenant), zap.String("ext", nt.Mailbox), zap.String("src", nt.Source))
		n.queueFinal(nt)
	}
}

// queueFinal queues the NOTIFY terminating a subscription, carrying the
// mailbox's state when it is known.
func (n *Notifier) queueFinal(nt presence.Notice) {
	var summary *presence.MessageSummary
	ctx, cancel := context.WithTimeout(n.life, 5*time.Second)
	c, err := n.counts(ctx, nt.Key)
	cancel()
	if t, ok := n.d.Catalog.Tenant(nt.Tenant); ok && err == nil {
		s := summaryOf(t, nt.Mailbox, c)
		summary = &s
	}
	n.mu.Lock()
	n.queueNoticeLocked(nt, summary)
	n.mu.Unlock()
}

func (n *Notifier) indexLocked(id presence.DialogID, p *peer) {
	n.peers[id] = p
	m := n.byKey[p.key]
	if m == nil {
		m = map[presence.DialogID]*peer{}
		n.byKey[p.key] = m
	}
	m[id] = p
}

func (n *Notifier) unindexLocked(id presence.DialogID) {
	p := n.peers[id]
	if p == nil {
		return
	}
	delete(n.peers, id)
	if m := n.byKey[p.key]; m != nil {
		delete(m, id)
		if len(m) == 0 {
			delete(n.byKey, p.key)
		}
	}
}

// endSubscription removes a subscription whose NOTIFY failed; nothing is
// sent (RFC 6665 §4.2.2: the subscriber is unreachable or has forgotten
// the dialog).
func (n *Notifier) endSubscription(id presence.DialogID) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.unindexLocked(id)
	_, _ = n.subs.Remove(id, presence.ReasonGiveUp)
}

// job is one NOTIFY to send.
type job struct {
	lane     string
	req      *sip.Request
	network  string // lower case
	dest     string
	dialog   *presence.DialogID // an in-dialog NOTIFY: its failure ends the subscription
	terminal bool
	// unsolicited: what the binding is told, forgotten if it fails
	key  presence.Key
	tell string
	c    store.VoicemailCounts
}

// lane serialises the NOTIFYs of one dialog (or one binding): one in
// flight, and only the newest of those waiting.
type lane struct {
	pending *job
}

// queueNoticeLocked queues the NOTIFY for a registry notice. NOTIFYs of a
// dialog older than one already queued are dropped: the newer carries a
// newer state, and a phone refuses a lower CSeq (RFC 3261 §12.2.2).
func (n *Notifier) queueNoticeLocked(nt presence.Notice, summary *presence.MessageSummary) {
	terminal := nt.Terminated()
	if !terminal {
		p := n.peers[nt.DialogID]
		if p == nil || nt.CSeq <= p.lastQueued {
			return
		}
		p.lastQueued = nt.CSeq
	}
	req, err := presence.NotifyRequest(nt, summary)
	if err != nil {
		n.log.Warn("mwi: build notify", zap.String("call_id", nt.CallID), zap.Error(err))
		return
	}
	id := nt.DialogID
	network := strings.ToLower(nt.Transport)
	if network == "" {
		network = "udp"
	}
	n.queueLocked(&job{lane: "s\x00" + id.CallID + "\x00" + id.FromTag + "\x00" + id.ToTag + "\x00" + id.EventID,
		req: req, network: network, dest: nt.Source, dialog: &id, terminal: terminal, key: nt.Key})
}

// queueUnsolicitedLocked queues an unsolicited NOTIFY of c to binding b;
// false when none could be built.
func (n *Notifier) queueUnsolicitedLocked(t store.Tenant, b store.Binding, c store.VoicemailCounts, id string) bool {
	network, dest := bindingDestination(b)
	var u presence.Unsolicited
	if err := sip.ParseUri(b.Contact, &u.Contact); err != nil {
		n.log.Debug("mwi: binding contact unusable", zap.String("call_id", b.CallID), zap.String("contact", b.Contact), zap.Error(err))
		return false
	}
	for _, p := range b.Path {
		var r sip.Uri
		if err := sip.ParseUri(nameAddrURI(p), &r); err != nil {
			n.log.Debug("mwi: binding path unusable", zap.String("call_id", b.CallID), zap.String("path", p), zap.Error(err))
			return false
		}
		u.Path = append(u.Path, r)
	}
	u.AOR = mailboxURI(t, b.Number)
	u.Mailbox = u.AOR
	u.Transport, u.Destination = network, dest
	if l, ok := n.self.For(network, dest); ok {
		u.Local = l.Contact(b.Number)
	}
	req, err := presence.UnsolicitedNotify(u, summaryOf(t, b.Number, c))
	if err != nil {
		n.log.Debug("mwi: build unsolicited notify", zap.String("call_id", b.CallID), zap.Error(err))
		return false
	}
	k := presence.Key{Tenant: t.ID, Mailbox: b.Number}
	n.queueLocked(&job{lane: "u\x00" + strconv.FormatInt(t.ID, 10) + "\x00" + b.Number + "\x00" + id,
		req: req, network: network, dest: dest, key: k, tell: id, c: c})
	return true
}

// queueLocked puts j on its lane, starting the lane's sender if idle.
func (n *Notifier) queueLocked(j *job) {
	if n.stopped {
		return
	}
	if l := n.lanes[j.lane]; l != nil {
		l.pending = j
		return
	}
	l := &lane{}
	n.lanes[j.lane] = l
	n.sends.Add(1)
	go n.runLane(l, j)
}

func (n *Notifier) runLane(l *lane, j *job) {
	defer n.sends.Done()
	for {
		n.deliver(j)
		n.mu.Lock()
		next := l.pending
		l.pending = nil
		if next == nil || n.stopped {
			delete(n.lanes, j.lane)
			n.mu.Unlock()
			return
		}
		n.mu.Unlock()
		j = next
	}
}

// errFlowGone is a NOTIFY for a connection that has closed.
var errFlowGone = errors.New("the connection the phone used has closed")

// deliver sends one NOTIFY and waits for its final response.
func (n *Notifier) deliver(j *job) {
	callID := ""
	if h := j.req.CallID(); h != nil {
		callID = h.Value()
	}
	log := n.log.With(zap.String("call_id", callID), zap.Int64("tenant", j.key.Tenant), zap.String("ext", j.key.Mailbox),
		zap.String("dst", j.dest), zap.String("transport", j.network))
	err := n.send(j)
	switch {
	case err == nil:
		log.Debug("mwi: notify delivered", zap.Bool("unsolicited", j.dialog == nil), zap.Bool("terminal", j.terminal))
	case j.dialog != nil:
		if !j.terminal {
			n.endSubscription(*j.dialog)
		}
		log.Info("mwi: notify failed, subscription ended", zap.Error(err))
	default:
		n.forgetTold(j.key, j.tell, j.c)
		log.Info("mwi: unsolicited notify failed", zap.Error(err))
	}
}

// statusError is a final non-2xx response to a NOTIFY.
type statusError struct {
	code   int
	reason string
}

func (e *statusError) Error() string { return "answered " + strconv.Itoa(e.code) + " " + e.reason }

func (n *Notifier) send(j *job) error {
	if j.network != "udp" && n.opt.FlowAlive != nil && !n.opt.FlowAlive(j.network, j.dest) {
		return errFlowGone
	}
	if err := n.prepare(j.req, j.network, j.dest); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(n.life, n.opt.NotifyTimeout)
	defer cancel()
	tx, err := n.d.Sender.TransactionRequest(ctx, j.req, noBuild)
	if err != nil {
		return fmt.Errorf("send: %w", err)
	}
	defer tx.Terminate()
	for {
		select {
		case res := <-tx.Responses():
			switch {
			case res.StatusCode < 200:
				continue
			case res.StatusCode < 300:
				return nil
			}
			return &statusError{code: res.StatusCode, reason: res.Reason}
		case <-tx.Done():
			if err := tx.Err(); err != nil {
				return fmt.Errorf("transaction: %w", err)
			}
			return errors.New("transaction ended without a final response")
		case <-ctx.Done():
			return fmt.Errorf("no final response: %w", ctx.Err())
		}
	}
}

// prepare adds our Via, from the listener of the destination's transport
// and address family, and for UDP sends from that listener's socket: NAT
// bindings and firewalls pass only what comes from the address the phone
// talked to.
func (n *Notifier) prepare(req *sip.Request, network, dest string) error {
	l, ok := n.self.For(network, dest)
	if !ok {
		return fmt.Errorf("no %s listener to reach %s", network, dest)
	}
	via := l.Via()
	via.Params.Add("branch", sip.GenerateBranchN(16))
	req.PrependHeader(via)
	req.Laddr = sip.Addr{}
	if network == "udp" {
		if ip := net.ParseIP(l.Bound); ip != nil && !ip.IsUnspecified() {
			req.Laddr = sip.Addr{IP: ip, Port: l.Port}
		}
	}
	return nil
}

// noBuild keeps sipgo from filling in headers of a request we built.
func noBuild(*sipgo.Client, *sip.Request) error { return nil }

// nameAddrURI takes the URI out of a Path value: "<sip:edge;lr>;ob" or a
// bare URI.
func nameAddrURI(v string) string {
	v = strings.TrimSpace(v)
	if rest, ok := strings.CutPrefix(v, "<"); ok {
		if i := strings.IndexByte(rest, '>'); i >= 0 {
			return rest[:i]
		}
		return rest
	}
	return v
}

// canonicalURI renders a URI the way the registrar stores contacts, so
// they compare as strings.
func canonicalURI(u sip.Uri) string {
	u.Scheme = strings.ToLower(u.Scheme)
	u.Host = strings.ToLower(u.Host)
	return (&u).String()
}
