// Package nat keeps the NAT bindings of UDP phones open and notices when
// such a phone has gone away.
//
// A phone behind NAT registers a Contact with its private address; the
// registrar records the address the REGISTER really came from (Source).
// Requests to the phone must go to Source, through the pinhole its NAT
// opened, and many NATs close a UDP pinhole after 30-60 s of silence, long
// before the registration expires. The Keeper sends each such binding an
// OPTIONS every Interval, from the SIP listener's own socket, which keeps
// the pinhole open. A phone that stops answering (unplugged, moved,
// pinhole lost) would otherwise keep a binding that swallows calls until
// it expires, up to an hour later; after MaxMisses unanswered pings in a
// row the Keeper removes it, so calls fork only to reachable devices.
//
// Connection transports (TCP, TLS, WS) need none of this: the phone keeps
// its own connection alive (RFC 5626 CRLF pings, which sipgo answers) and
// a closed connection is noticed by the transport.
package nat

import (
	"context"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/store"
)

// Sender sends one OPTIONS. *SipgoSender is the real one.
type Sender interface {
	// Ping sends an OPTIONS with request-URI target over UDP to addr
	// (ip:port) and waits for the final response or ctx. Any response, of
	// any status, means the peer is reachable and returns nil.
	Ping(ctx context.Context, target, addr string) error
}

// Locations is what the Keeper needs from the location service;
// *location.Service provides it.
type Locations interface {
	// All returns the unexpired bindings of a tenant (0: every tenant).
	All(tenantID int64) []store.Binding
	// Bindings returns the unexpired bindings of one AOR.
	Bindings(tenantID int64, number string) []store.Binding
	// Update changes an AOR's bindings; the Keeper uses only remove.
	Update(tenantID int64, number string, add []store.Binding, remove []string) ([]store.Binding, error)
}

// Options tune a Keeper. Zero values take the defaults.
type Options struct {
	// Interval between two pings of a binding (30s). It must be shorter
	// than the NAT's UDP timeout; 30 s suits most consumer routers.
	Interval time.Duration
	// Timeout is how long one ping waits for a response (5s).
	Timeout time.Duration
	// MaxMisses is how many unanswered pings in a row remove a binding
	// (3): one lost datagram must not cost a phone its registration.
	MaxMisses int
	// MaxInFlight bounds the pings outstanding at once (100), so a round
	// over thousands of phones is not a burst of thousands of datagrams
	// and goroutines.
	MaxInFlight int
	// Node, when set, restricts the Keeper to bindings held by this node
	// (Binding.Node empty or equal): a pinhole opened towards another node
	// can neither be kept open nor probed from here.
	Node string
	// Now is the clock (time.Now); tests replace it.
	Now func() time.Time
}

// Defaults for Options.
const (
	DefaultInterval    = 30 * time.Second
	DefaultTimeout     = 5 * time.Second
	DefaultMaxMisses   = 3
	DefaultMaxInFlight = 100
)

// bindingID identifies a binding across rounds.
type bindingID struct {
	tenant int64
	number string
	key    string // store.BindingKey
}

// health is what the Keeper remembers about a binding between rounds.
type health struct {
	updated   time.Time // the binding's UpdatedAt when the misses began
	misses    int       // consecutive unanswered pings
	firstMiss time.Time
}

// Keeper pings UDP bindings behind NAT and removes the dead ones. Only
// Run's goroutine touches its state.
type Keeper struct {
	send Sender
	loc  Locations
	log  *zap.Logger
	opt  Options
	seen map[bindingID]*health
}

// New returns a Keeper; call Run to start it.
func New(client Sender, loc Locations, log *zap.Logger, opt Options) *Keeper {
	if log == nil {
		log = zap.NewNop()
	}
	if opt.Interval <= 0 {
		opt.Interval = DefaultInterval
	}
	if opt.Timeout <= 0 {
		opt.Timeout = DefaultTimeout
	}
	if opt.MaxMisses <= 0 {
		opt.MaxMisses = DefaultMaxMisses
	}
	if opt.MaxInFlight <= 0 {
		opt.MaxInFlight = DefaultMaxInFlight
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Keeper{send: client, loc: loc, log: log.With(zap.String("svc", "nat")), opt: opt,
		seen: map[bindingID]*health{}}
}

// Run pings every Interval until ctx ends and returns nil then. A round
// that takes longer than Interval (many dead phones) delays the next one
// rather than overlapping it.
func (k *Keeper) Run(ctx context.Context) error {
	t := time.NewTicker(k.opt.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			k.round(ctx)
		}
	}
}

// BehindNAT reports whether a binding is a UDP binding whose Contact
// address differs from the address its REGISTER came from, i.e. requests
// to it must go to Source and a NAT pinhole must be kept open. A Contact
// without a port means the transport's default port (5060 for sip:, 5061
// for sips:); a Contact host that is a name rather than an IP (including
// the ".invalid" hosts of some clients) cannot equal an address and counts
// as behind NAT. Bindings with a Path are reached through the edge proxy
// that added it, which keeps its own pinholes, so they are not behind NAT
// as far as this server is concerned.
func BehindNAT(b store.Binding) bool {
	if !strings.EqualFold(b.Transport, "udp") || len(b.Path) > 0 {
		return false
	}
	src, err := netip.ParseAddrPort(b.Source)
	if err != nil {
		return false // no address to ping
	}
	var u sip.Uri
	if err := sip.ParseUri(b.Contact, &u); err != nil {
		return true
	}
	ip, err := netip.ParseAddr(strings.Trim(u.Host, "[]"))
	if err != nil {
		return true
	}
	port := u.Port
	if port == 0 {
		port = 5060
		if u.IsEncrypted() {
			port = 5061
		}
	}
	return ip.Unmap() != src.Addr().Unmap() || uint16(port) != src.Port()
}

// watched reports whether the Keeper pings b.
func (k *Keeper) watched(b store.Binding) bool {
	if k.opt.Node != "" && b.Node != "" && b.Node != k.opt.Node {
		return false
	}
	return BehindNAT(b)
}

// result is one ping's outcome.
type result struct {
	b   store.Binding
	id  bindingID
	err error
}

// round pings every watched binding once, at most MaxInFlight at a time,
// waits for all of them, then counts misses and removes dead bindings.
// Results are applied on the calling goroutine, so the health map needs
// no lock.
func (k *Keeper) round(ctx context.Context) {
	all := k.loc.All(0)
	results := make([]result, 0, len(all))
	for _, b := range all {
		if k.watched(b) {
			results = append(results, result{b: b, id: bindingID{b.TenantID, b.Number, store.BindingKey(b)}})
		}
	}
	sem := make(chan struct{}, k.opt.MaxInFlight)
	var wg sync.WaitGroup
	for i := range results {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return // shutting down: a cancelled ping is not a miss
		}
		wg.Go(func() {
			defer func() { <-sem }()
			r := &results[i]
			pctx, cancel := context.WithTimeout(ctx, k.opt.Timeout)
			defer cancel()
			r.err = k.send.Ping(pctx, r.b.Contact, r.b.Source)
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return
	}

	now := k.opt.Now()
	live := make(map[bindingID]struct{}, len(results))
	for _, r := range results {
		live[r.id] = struct{}{}
		h := k.seen[r.id]
		if r.err == nil {
			delete(k.seen, r.id)
			continue
		}
		if h == nil || !h.updated.Equal(r.b.UpdatedAt) {
			// First miss, or the phone registered again since the last
			// miss, which proves it was reachable then: start counting anew.
			h = &health{updated: r.b.UpdatedAt, firstMiss: now}
			k.seen[r.id] = h
		}
		h.misses++
		k.log.Debug("nat ping unanswered", zap.Int64("tenant", r.b.TenantID), zap.String("ext", r.b.Number),
			zap.String("src", r.b.Source), zap.Int("misses", h.misses), zap.Error(r.err))
		if h.misses >= k.opt.MaxMisses {
			k.remove(r.b, r.id, h, now)
		}
	}
	// Forget bindings that are gone (expired, unregistered, removed).
	for id := range k.seen {
		if _, ok := live[id]; !ok {
			delete(k.seen, id)
		}
	}
}

// remove drops a binding that missed MaxMisses pings, unless it was
// registered again meanwhile. The check and the removal are two steps, so
// a REGISTER landing between them is lost; the phone's next refresh
// restores it, and the window is microseconds against a refresh interval
// of minutes.
func (k *Keeper) remove(b store.Binding, id bindingID, h *health, now time.Time) {
	delete(k.seen, id)
	for _, cur := range k.loc.Bindings(b.TenantID, b.Number) {
		if store.BindingKey(cur) != id.key {
			continue
		}
		if !cur.UpdatedAt.Equal(h.updated) {
			return // re-registered after the pings went out: alive
		}
		if _, err := k.loc.Update(b.TenantID, b.Number, nil, []string{id.key}); err != nil {
			k.log.Warn("nat: remove unreachable binding", zap.Int64("tenant", b.TenantID), zap.String("ext", b.Number),
				zap.String("contact", b.Contact), zap.Error(err))
			return
		}
		k.log.Info("removed unreachable binding", zap.Int64("tenant", b.TenantID), zap.String("ext", b.Number),
			zap.String("contact", b.Contact), zap.String("src", b.Source), zap.Int("misses", h.misses),
			zap.Duration("silent_for", now.Sub(h.firstMiss)))
		return
	}
}
