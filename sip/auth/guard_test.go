package auth

import (
	"net/netip"
	"sync"
	"testing"
	"time"
)

// clock is a settable time source for Guard tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var (
	srcA = netip.MustParseAddr("192.0.2.10")
	srcB = netip.MustParseAddr("2001:db8::1")
	srcC = netip.MustParseAddr("127.0.0.1")
)

func TestGuardBan(t *testing.T) {
	c := newClock()
	g := NewGuard(GuardOptions{Now: c.Now}) // defaults: 5 in 1 min, 15 min ban
	for i := 1; i <= 4; i++ {
		if g.Failed(srcC) {
			t.Fatalf("banned after %d failures", i)
		}
		c.Advance(time.Second)
	}
	if ok, _ := g.Allow(srcC); !ok {
		t.Fatal("refused before the ban")
	}
	if !g.Failed(srcC) {
		t.Fatal("fifth failure did not ban (loopback must not be exempt by default)")
	}
	since := c.Now()
	if g.Failed(srcC) {
		t.Error("Failed reported the same ban twice")
	}
	if ok, reason := g.Allow(srcC); ok || reason != "banned" {
		t.Errorf("Allow while banned = %v, %q", ok, reason)
	}
	if ok, _ := g.Allow(srcA); !ok {
		t.Error("another source is refused")
	}
	want := []Ban{{Addr: srcC, Since: since, Until: since.Add(15 * time.Minute), Failures: 6}}
	if got := g.Bans(); len(got) != 1 || got[0] != want[0] {
		t.Errorf("Bans() = %+v, want %+v", got, want)
	}

	c.Advance(15*time.Minute - time.Nanosecond)
	if ok, _ := g.Allow(srcC); ok {
		t.Error("ban lifted early")
	}
	c.Advance(time.Nanosecond)
	if ok, _ := g.Allow(srcC); !ok {
		t.Error("ban did not expire")
	}
	if b := g.Bans(); len(b) != 0 {
		t.Errorf("Bans() after expiry = %+v", b)
	}
	// A fresh start: one failure does not re-ban.
	if g.Failed(srcC) {
		t.Error("one failure after the ban banned again")
	}
}

func TestGuardWindow(t *testing.T) {
	tests := []struct {
		name   string
		gap    time.Duration
		n      int
		banned bool
	}{
		{"5 within the window", 14 * time.Second, 5, true},
		{"spread beyond the window", 15 * time.Second, 5, false},
		{"many spread beyond the window", 15 * time.Second, 50, false},
		{"burst after spread", 20 * time.Second, 12, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClock()
			g := NewGuard(GuardOptions{Now: c.Now, MaxFailures: 5, Window: time.Minute})
			banned := false
			for i := 0; i < tt.n; i++ {
				banned = banned || g.Failed(srcA)
				c.Advance(tt.gap)
			}
			if banned != tt.banned {
				t.Errorf("banned = %v, want %v", banned, tt.banned)
			}
		})
	}
}

func TestGuardSucceededResets(t *testing.T) {
	c := newClock()
	g := NewGuard(GuardOptions{Now: c.Now, MaxFailures: 3})
	g.Failed(srcA)
	g.Failed(srcA)
	g.Succeeded(srcA)
	g.Succeeded(srcB) // unknown source: no-op
	if g.Failed(srcA) || g.Failed(srcA) {
		t.Fatal("failures before the success still counted")
	}
	if !g.Failed(srcA) {
		t.Fatal("third failure after the success did not ban")
	}
}

func TestGuardRate(t *testing.T) {
	c := newClock()
	g := NewGuard(GuardOptions{Now: c.Now, Rate: 2, Burst: 3})
	allow := func() bool { ok, _ := g.Allow(srcB); return ok }
	for i := 0; i < 3; i++ {
		if !allow() {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	if ok, reason := g.Allow(srcB); ok || reason != "rate limited" {
		t.Fatalf("over the burst: %v, %q", ok, reason)
	}
	c.Advance(500 * time.Millisecond) // one token at 2/s
	if !allow() {
		t.Error("token not refilled")
	}
	if allow() {
		t.Error("more than one token refilled")
	}
	c.Advance(time.Hour) // refill caps at Burst
	n := 0
	for allow() {
		n++
	}
	if n != 3 {
		t.Errorf("after a long pause %d requests allowed, want Burst 3", n)
	}
}

func TestGuardUnban(t *testing.T) {
	c := newClock()
	g := NewGuard(GuardOptions{Now: c.Now, MaxFailures: 1})
	if g.Unban(srcA) {
		t.Error("Unban of an unknown source returned true")
	}
	if !g.Failed(srcA) {
		t.Fatal("no ban")
	}
	if !g.Unban(srcA) {
		t.Fatal("Unban returned false for a banned source")
	}
	if ok, _ := g.Allow(srcA); !ok {
		t.Error("still refused after Unban")
	}
	if g.Unban(srcA) {
		t.Error("second Unban returned true")
	}
	if len(g.Bans()) != 0 {
		t.Error("Bans() not empty after Unban")
	}
}

func TestGuardAddressForms(t *testing.T) {
	c := newClock()
	g := NewGuard(GuardOptions{Now: c.Now, MaxFailures: 1})
	g.Failed(netip.MustParseAddr("::ffff:192.0.2.10"))
	if ok, _ := g.Allow(srcA); ok {
		t.Error("IPv4-mapped and plain IPv4 are different sources")
	}
	g.Failed(netip.MustParseAddr("fe80::1%eth0"))
	if ok, _ := g.Allow(netip.MustParseAddr("fe80::1")); ok {
		t.Error("the zone split a source")
	}
	got := g.Bans()
	if len(got) != 2 || got[0].Addr != srcA || got[1].Addr != netip.MustParseAddr("fe80::1") {
		t.Errorf("Bans() = %+v, want sorted by address", got)
	}
	if !g.Unban(netip.MustParseAddr("::ffff:192.0.2.10")) {
		t.Error("Unban with the mapped form failed")
	}
}

func TestGuardExempt(t *testing.T) {
	c := newClock()
	g := NewGuard(GuardOptions{Now: c.Now, MaxFailures: 1, Burst: 1,
		Exempt: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}})
	for i := 0; i < 100; i++ {
		if g.Failed(srcC) || g.Failed(srcB) {
			t.Fatal("exempt source banned")
		}
		if ok, _ := g.Allow(srcC); !ok {
			t.Fatal("exempt source rate limited")
		}
	}
	if g.Len() != 0 {
		t.Errorf("exempt sources tracked: %d", g.Len())
	}
	if !g.Failed(srcA) {
		t.Error("non-exempt source not banned")
	}
}

func TestGuardPrune(t *testing.T) {
	c := newClock()
	g := NewGuard(GuardOptions{Now: c.Now, MaxFailures: 2, Rate: 10, Burst: 10})
	for i := 0; i < 1000; i++ {
		g.Allow(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}))
	}
	g.Failed(srcA)
	g.Failed(srcA) // banned
	g.Failed(srcB) // one recent failure
	if n := g.Len(); n != 1002 {
		t.Fatalf("Len = %d, want 1002", n)
	}
	if n := g.Prune(); n != 0 {
		t.Errorf("Prune removed %d sources whose buckets are not full yet", n)
	}
	c.Advance(time.Minute) // buckets full, srcB's failure out of the window
	if n := g.Prune(); n != 1001 {
		t.Errorf("Prune removed %d, want 1001", n)
	}
	if got := g.Bans(); len(got) != 1 || got[0].Addr != srcA {
		t.Errorf("the ban did not survive Prune: %+v", got)
	}
	c.Advance(15 * time.Minute)
	g.Prune()
	if n := g.Len(); n != 0 {
		t.Errorf("Len after the ban expired = %d", n)
	}
}

// TestGuardMaxSources: a flood from many (spoofed) addresses cannot grow the
// table past MaxSources, and bans are kept over idle sources.
func TestGuardMaxSources(t *testing.T) {
	c := newClock()
	g := NewGuard(GuardOptions{Now: c.Now, MaxFailures: 1, MaxSources: 100})
	g.Failed(srcA)
	for i := 0; i < 10000; i++ {
		g.Allow(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}))
		if n := g.Len(); n > 100 {
			t.Fatalf("Len = %d after %d sources", n, i+1)
		}
		if i%1000 == 0 {
			c.Advance(time.Second)
		}
	}
	if ok, _ := g.Allow(srcA); ok {
		t.Error("the ban was evicted by the flood")
	}
	// A table full of bans serves new sources rather than refusing them.
	g = NewGuard(GuardOptions{Now: c.Now, MaxFailures: 1, MaxSources: 2})
	g.Failed(srcA)
	g.Failed(srcB)
	if ok, _ := g.Allow(srcC); !ok || g.Len() != 2 {
		t.Errorf("full of bans: Allow = %v, Len = %d", ok, g.Len())
	}
}

func TestGuardConcurrent(t *testing.T) {
	g := NewGuard(GuardOptions{MaxSources: 50})
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				a := netip.AddrFrom4([4]byte{10, 0, byte(w), byte(i)})
				g.Allow(a)
				if i%3 == 0 {
					g.Failed(a)
				} else {
					g.Succeeded(a)
				}
				if i%100 == 0 {
					g.Prune()
					g.Bans()
					g.Unban(a)
				}
			}
		}()
	}
	wg.Wait()
}

func BenchmarkGuardAllow(b *testing.B) {
	g := NewGuard(GuardOptions{Rate: 1e9, Burst: 1 << 30})
	b.ReportAllocs()
	for b.Loop() {
		g.Allow(srcA)
	}
}

// Failures counts every failure reported: before, during and without a
// ban, and from exempt sources (for sentral_sip_auth_failures_total).
func TestGuardFailures(t *testing.T) {
	g := NewGuard(GuardOptions{MaxFailures: 2, Exempt: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	if n := g.Failures(); n != 0 {
		t.Fatalf("Failures() = %d before any", n)
	}
	g.Failed(srcA)
	g.Failed(srcA) // bans
	g.Failed(srcA) // while banned
	g.Failed(srcB)
	g.Failed(srcC) // exempt
	if n := g.Failures(); n != 5 {
		t.Errorf("Failures() = %d, want 5", n)
	}
}
