package ldap

import (
	"net/netip"
	"sync"
	"time"
)

// maxTrackedPeers bounds the lock-out table. When a distributed attack fills
// it, new peers are simply not tracked (the failure delay still applies).
const maxTrackedPeers = 65536

// bindGuard counts failed binds per peer address in fixed windows and locks
// a peer out for the rest of its window once it reaches the maximum.
type bindGuard struct {
	max    int
	window time.Duration
	now    func() time.Time

	mu    sync.Mutex
	peers map[netip.Addr]failures
}

type failures struct {
	start time.Time
	n     int
}

func newBindGuard(max int, window time.Duration, now func() time.Time) *bindGuard {
	return &bindGuard{max: max, window: window, now: now, peers: map[netip.Addr]failures{}}
}

// locked reports whether peer has used up its failed binds for now.
func (g *bindGuard) locked(peer netip.Addr) bool {
	if g.max <= 0 {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	f, ok := g.peers[peer]
	return ok && g.now().Sub(f.start) < g.window && f.n >= g.max
}

// fail records a failed bind from peer.
func (g *bindGuard) fail(peer netip.Addr) {
	if g.max <= 0 {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	f, ok := g.peers[peer]
	if !ok || now.Sub(f.start) >= g.window {
		if !ok && len(g.peers) >= maxTrackedPeers {
			g.sweep(now)
			if len(g.peers) >= maxTrackedPeers {
				return
			}
		}
		f = failures{start: now}
	}
	f.n++
	g.peers[peer] = f
}

// sweep drops expired windows; the caller holds mu.
func (g *bindGuard) sweep(now time.Time) {
	for p, f := range g.peers {
		if now.Sub(f.start) >= g.window {
			delete(g.peers, p)
		}
	}
}
