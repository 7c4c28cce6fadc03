package auth

import (
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// GuardOptions configure a Guard; zero fields take the defaults.
type GuardOptions struct {
	// MaxFailures authentication failures within Window ban a source. Default 5.
	MaxFailures int
	// Window is the sliding window failures are counted in. Default 1 minute.
	Window time.Duration
	// BanFor is how long a ban lasts. Default 15 minutes.
	BanFor time.Duration
	// Rate is the sustained requests per second allowed per source. Default 50.
	Rate float64
	// Burst is how many requests a source may send at once. Default 100.
	Burst int
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Exempt sources are never rate limited or banned (e.g. trunk providers).
	// Loopback is not exempt unless listed here.
	Exempt []netip.Prefix
	// MaxSources bounds the number of sources tracked, so that a flood from
	// spoofed addresses cannot exhaust memory. Default 100000.
	MaxSources int
}

// Ban describes one banned source.
type Ban struct {
	Addr     netip.Addr
	Since    time.Time
	Until    time.Time
	Failures int // failures counted when the ban started plus those during it
}

// Guard protects against password guessing and request floods per source
// address. It is safe for concurrent use and starts no goroutines: the owner
// calls Prune periodically.
type Guard struct {
	opts GuardOptions

	mu        sync.Mutex
	sources   map[netip.Addr]*source
	lastPrune time.Time

	failures atomic.Uint64 // Failed calls, for Failures
}

type source struct {
	tokens float64
	refill time.Time   // when tokens was last brought up to date
	fails  []time.Time // recent failures, oldest first, at most MaxFailures
	since  time.Time   // ban start; zero when not banned
	until  time.Time
	banned int // Ban.Failures
}

// NewGuard returns a Guard configured by opts.
func NewGuard(opts GuardOptions) *Guard {
	if opts.MaxFailures <= 0 {
		opts.MaxFailures = 5
	}
	if opts.Window <= 0 {
		opts.Window = time.Minute
	}
	if opts.BanFor <= 0 {
		opts.BanFor = 15 * time.Minute
	}
	if opts.Rate <= 0 {
		opts.Rate = 50
	}
	if opts.Burst <= 0 {
		opts.Burst = 100
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxSources <= 0 {
		opts.MaxSources = 100000
	}
	opts.Exempt = slices.Clone(opts.Exempt)
	return &Guard{opts: opts, sources: make(map[netip.Addr]*source)}
}

// key normalises src so that an IPv4 peer seen on a dual-stack socket
// (::ffff:a.b.c.d) and with a zone are the same source.
func key(src netip.Addr) netip.Addr { return src.Unmap().WithZone("") }

func (g *Guard) exempt(src netip.Addr) bool {
	for _, p := range g.opts.Exempt {
		if p.Contains(src) {
			return true
		}
	}
	return false
}

// Allow reports whether a request from src may be processed: false while
// src is banned or over its rate. reason is for logs.
func (g *Guard) Allow(src netip.Addr) (ok bool, reason string) {
	src = key(src)
	if g.exempt(src) {
		return true, ""
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.opts.Now()
	s := g.get(src, now)
	if s == nil {
		// Table full of bans: serve rather than refuse everyone new.
		return true, ""
	}
	if g.banned(s, now) {
		return false, "banned"
	}
	g.refill(s, now)
	if s.tokens < 1 {
		return false, "rate limited"
	}
	s.tokens--
	return true, ""
}

// Failed records an authentication failure from src and reports whether it
// started a ban, true only once per ban so the caller logs it once.
func (g *Guard) Failed(src netip.Addr) (banned bool) {
	g.failures.Add(1)
	src = key(src)
	if g.exempt(src) {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.opts.Now()
	s := g.get(src, now)
	if s == nil {
		return false
	}
	if g.banned(s, now) {
		s.banned++
		return false
	}
	// fails stays below MaxFailures: reaching it starts a ban and clears it.
	s.fails = append(g.recent(s.fails, now), now)
	if len(s.fails) < g.opts.MaxFailures {
		return false
	}
	s.since, s.until, s.banned = now, now.Add(g.opts.BanFor), len(s.fails)
	s.fails = s.fails[:0]
	return true
}

// Failures is how many authentication failures Failed has recorded since
// the Guard was made, from every source (exempt and banned ones too).
func (g *Guard) Failures() uint64 { return g.failures.Load() }

// Succeeded records a successful authentication from src, forgiving its
// earlier failures: a phone that mistyped once should not carry that.
func (g *Guard) Succeeded(src netip.Addr) {
	src = key(src)
	g.mu.Lock()
	defer g.mu.Unlock()
	if s, ok := g.sources[src]; ok {
		s.fails = s.fails[:0]
	}
}

// Bans returns the active bans ordered by address.
func (g *Guard) Bans() []Ban {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.opts.Now()
	var bans []Ban
	for a, s := range g.sources {
		if g.banned(s, now) {
			bans = append(bans, Ban{Addr: a, Since: s.since, Until: s.until, Failures: s.banned})
		}
	}
	slices.SortFunc(bans, func(x, y Ban) int { return x.Addr.Compare(y.Addr) })
	return bans
}

// Unban lifts the ban on addr and forgets its failures; false if it was not
// banned.
func (g *Guard) Unban(addr netip.Addr) bool {
	addr = key(addr)
	g.mu.Lock()
	defer g.mu.Unlock()
	s, ok := g.sources[addr]
	if !ok || !g.banned(s, g.opts.Now()) {
		return false
	}
	s.since, s.until, s.banned = time.Time{}, time.Time{}, 0
	s.fails = s.fails[:0]
	return true
}

// Prune forgets sources that carry no state worth keeping (no ban, no recent
// failure, a full token bucket) and returns how many it removed. Forgetting
// them changes no decision. The owner calls it periodically, e.g. every
// minute.
func (g *Guard) Prune() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.prune(g.opts.Now())
}

// Len returns the number of sources tracked, for metrics.
func (g *Guard) Len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.sources)
}

func (g *Guard) prune(now time.Time) int {
	g.lastPrune = now
	n := 0
	for a, s := range g.sources {
		if g.idle(s, now) {
			delete(g.sources, a)
			n++
		}
	}
	return n
}

func (g *Guard) idle(s *source, now time.Time) bool {
	if g.banned(s, now) {
		return false
	}
	if len(s.fails) > 0 && now.Sub(s.fails[len(s.fails)-1]) < g.opts.Window {
		return false
	}
	g.refill(s, now)
	return s.tokens >= float64(g.opts.Burst)
}

// get returns the state of src, creating it if needed. When the table is
// full it prunes (at most once a second, as pruning scans it all), then
// evicts an arbitrary unbanned source; nil if all are banned.
func (g *Guard) get(src netip.Addr, now time.Time) *source {
	if s, ok := g.sources[src]; ok {
		return s
	}
	if len(g.sources) >= g.opts.MaxSources {
		if now.Sub(g.lastPrune) >= time.Second || now.Before(g.lastPrune) {
			g.prune(now)
		}
		if len(g.sources) >= g.opts.MaxSources && !g.evictOne(now) {
			return nil
		}
	}
	s := &source{tokens: float64(g.opts.Burst), refill: now}
	g.sources[src] = s
	return s
}

// evictOne drops one unbanned source, looking at a bounded number of
// entries; map iteration starts at a random point, so this is a random pick.
// Losing a flooding source's bucket or failures only lets it restart from a
// fresh state, which a full table of other sources already makes cheap.
func (g *Guard) evictOne(now time.Time) bool {
	tries := 0
	for a, s := range g.sources {
		if !g.banned(s, now) {
			delete(g.sources, a)
			return true
		}
		if tries++; tries == 64 {
			break
		}
	}
	return false
}

// banned reports whether s is banned at now, clearing an expired ban.
func (g *Guard) banned(s *source, now time.Time) bool {
	if s.since.IsZero() {
		return false
	}
	if now.Before(s.until) {
		return true
	}
	s.since, s.until, s.banned = time.Time{}, time.Time{}, 0
	return false
}

// recent drops failures older than Window.
func (g *Guard) recent(fails []time.Time, now time.Time) []time.Time {
	i := 0
	for i < len(fails) && now.Sub(fails[i]) >= g.opts.Window {
		i++
	}
	if i == 0 {
		return fails
	}
	return append(fails[:0], fails[i:]...)
}

// refill brings the token bucket of s up to now.
func (g *Guard) refill(s *source, now time.Time) {
	if dt := now.Sub(s.refill); dt > 0 {
		s.tokens = min(float64(g.opts.Burst), s.tokens+dt.Seconds()*g.opts.Rate)
	}
	s.refill = now
}
