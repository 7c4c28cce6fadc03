package nat

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/sentralpbx/sentral/sip/location"
	"github.com/sentralpbx/sentral/store"
)

func TestBehindNAT(t *testing.T) {
	udp := func(contact, source string) store.Binding {
		return store.Binding{Contact: contact, Source: source, Transport: "udp"}
	}
	cases := []struct {
		name string
		b    store.Binding
		want bool
	}{
		{"private contact, public source", udp("sip:2001@192.168.1.10:5060", "203.0.113.7:40123"), true},
		{"same address", udp("sip:2001@203.0.113.7:5060", "203.0.113.7:5060"), false},
		{"same host, NAT rewrote the port", udp("sip:2001@203.0.113.7:5060", "203.0.113.7:1024"), true},
		{"no port means 5060", udp("sip:2001@203.0.113.7", "203.0.113.7:5060"), false},
		{"no port, source not 5060", udp("sip:2001@203.0.113.7", "203.0.113.7:5062"), true},
		{"sips default port 5061", udp("sips:2001@203.0.113.7", "203.0.113.7:5061"), false},
		{"uri params ignored", udp("sip:2001@203.0.113.7:5060;transport=udp;ob", "203.0.113.7:5060"), false},
		{"ipv6 same", udp("sip:2001@[2001:db8::1]:5060", "[2001:db8::1]:5060"), false},
		{"ipv6 differs", udp("sip:2001@[fd00::1]:5060", "[2001:db8::1]:5060"), true},
		{"v4-mapped source", udp("sip:2001@203.0.113.7:5060", "[::ffff:203.0.113.7]:5060"), false},
		{"host name contact", udp("sip:2001@phone.local:5060", "203.0.113.7:5060"), true},
		{".invalid contact", udp("sip:abc@xyz.invalid", "203.0.113.7:5060"), true},
		{"transport case", store.Binding{Contact: "sip:2001@10.0.0.5", Source: "203.0.113.7:5060", Transport: "UDP"}, true},
		{"tcp never", store.Binding{Contact: "sip:2001@10.0.0.5", Source: "203.0.113.7:5060", Transport: "tcp", Flow: "tcp:203.0.113.7:5060"}, false},
		{"ws never", store.Binding{Contact: "sip:abc@xyz.invalid;transport=ws", Source: "203.0.113.7:5060", Transport: "ws"}, false},
		{"behind an edge proxy (Path)", store.Binding{Contact: "sip:2001@10.0.0.5", Source: "198.51.100.1:5060", Transport: "udp", Path: []string{"<sip:edge.example;lr>"}}, false},
		{"unusable source", udp("sip:2001@10.0.0.5", "nonsense"), false},
	}
	for _, c := range cases {
		if got := BehindNAT(c.b); got != c.want {
			t.Errorf("%s: BehindNAT(%s from %s over %s) = %v, want %v", c.name, c.b.Contact, c.b.Source, c.b.Transport, got, c.want)
		}
	}
}

// fakeSender answers pings by destination: an address in dead gets an
// error, every other one a response.
type fakeSender struct {
	mu       sync.Mutex
	dead     map[string]bool
	pings    map[string]int
	inFlight atomic.Int32
	maxSeen  atomic.Int32
	delay    time.Duration
}

func newFakeSender() *fakeSender {
	return &fakeSender{dead: map[string]bool{}, pings: map[string]int{}}
}

func (f *fakeSender) Ping(ctx context.Context, target, addr string) error {
	n := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for {
		m := f.maxSeen.Load()
		if n <= m || f.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	if f.delay > 0 {
		select {
		case <-time.After(f.delay):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pings[addr]++
	if f.dead[addr] {
		return errors.New("timeout")
	}
	return nil
}

func (f *fakeSender) setDead(addr string, dead bool) {
	f.mu.Lock()
	f.dead[addr] = dead
	f.mu.Unlock()
}

func (f *fakeSender) count(addr string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pings[addr]
}

// nopStore is a location.BindingStore that keeps nothing: these tests use
// only the service's memory.
type nopStore struct{}

func (nopStore) Save(context.Context, []store.Binding) error           { return nil }
func (nopStore) Delete(context.Context, int64, string, []string) error { return nil }
func (nopStore) DeleteAOR(context.Context, int64, string) error        { return nil }
func (nopStore) List(context.Context, int64) ([]store.Binding, error)  { return nil, nil }
func (nopStore) ListAOR(context.Context, int64, string) ([]store.Binding, error) {
	return nil, nil
}
func (nopStore) Purge(context.Context, time.Time) (int, error) { return 0, nil }

// register adds a binding to loc as the registrar would.
func register(t *testing.T, loc *location.Service, number, contact, source, transport string, cseq uint32) {
	t.Helper()
	b := store.Binding{Contact: contact, Source: source, Transport: transport, Q: 1,
		Expires: time.Now().Add(time.Hour), CallID: "reg-" + number + "-" + source, CSeq: cseq}
	if _, err := loc.Update(1, number, []store.Binding{b}, nil); err != nil {
		t.Fatal(err)
	}
}

func contacts(loc *location.Service, number string) []string {
	var out []string
	for _, b := range loc.Bindings(1, number) {
		out = append(out, b.Contact)
	}
	return out
}

func TestMissesRemoveAfterMaxMisses(t *testing.T) {
	loc := location.New(nopStore{}, nil, location.Options{})
	register(t, loc, "2001", "sip:2001@192.168.1.10:5060", "203.0.113.7:40001", "udp", 1) // alive
	register(t, loc, "2002", "sip:2002@192.168.1.11:5060", "203.0.113.8:40002", "udp", 1) // dead
	register(t, loc, "2003", "sip:2003@203.0.113.9:5060", "203.0.113.9:5060", "udp", 1)   // not behind NAT
	register(t, loc, "2004", "sip:2004@10.0.0.4:5060", "203.0.113.10:40004", "tcp", 1)    // connection transport

	f := newFakeSender()
	f.setDead("203.0.113.8:40002", true)
	f.setDead("203.0.113.9:5060", true)
	f.setDead("203.0.113.10:40004", true)
	k := New(f, loc, zaptest.NewLogger(t), Options{MaxMisses: 3})

	for round := 1; round <= 2; round++ {
		k.round(t.Context())
		if got := contacts(loc, "2002"); len(got) != 1 {
			t.Fatalf("round %d: binding of 2002 removed after %d misses, MaxMisses is 3", round, round)
		}
	}
	k.round(t.Context())
	if got := contacts(loc, "2002"); len(got) != 0 {
		t.Fatalf("after 3 misses 2002 still has %v", got)
	}
	if got := contacts(loc, "2001"); len(got) != 1 {
		t.Fatalf("answering binding of 2001 removed: %v", got)
	}
	for _, n := range []string{"2003", "2004"} {
		if got := contacts(loc, n); len(got) != 1 {
			t.Fatalf("binding of %s (not behind NAT) removed", n)
		}
	}
	if n := f.count("203.0.113.9:5060") + f.count("203.0.113.10:40004"); n != 0 {
		t.Fatalf("pinged bindings that are not behind NAT %d times", n)
	}
	if n := f.count("203.0.113.7:40001"); n != 3 {
		t.Fatalf("2001 pinged %d times in 3 rounds", n)
	}
	if len(k.seen) != 0 {
		t.Fatalf("health kept for %d bindings that are gone or healthy", len(k.seen))
	}
}

// Misses must be consecutive: an answer in between starts the count anew.
func TestAnswerResetsMisses(t *testing.T) {
	loc := location.New(nopStore{}, nil, location.Options{})
	register(t, loc, "2001", "sip:2001@192.168.1.10:5060", "203.0.113.7:40001", "udp", 1)
	f := newFakeSender()
	k := New(f, loc, zaptest.NewLogger(t), Options{MaxMisses: 3})

	for _, dead := range []bool{true, true, false, true, true} {
		f.setDead("203.0.113.7:40001", dead)
		k.round(t.Context())
	}
	if got := contacts(loc, "2001"); len(got) != 1 {
		t.Fatal("removed after 2+2 misses with an answer between")
	}
	k.round(t.Context())
	if got := contacts(loc, "2001"); len(got) != 0 {
		t.Fatal("not removed after 3 consecutive misses")
	}
}

// A phone that registers again proves it is reachable: its misses so far
// do not count.
func TestReRegisterResetsMisses(t *testing.T) {
	loc := location.New(nopStore{}, nil, location.Options{})
	register(t, loc, "2001", "sip:2001@192.168.1.10:5060", "203.0.113.7:40001", "udp", 1)
	f := newFakeSender()
	f.setDead("203.0.113.7:40001", true)
	k := New(f, loc, zaptest.NewLogger(t), Options{MaxMisses: 2})

	k.round(t.Context())
	time.Sleep(time.Millisecond) // UpdatedAt has microsecond resolution
	register(t, loc, "2001", "sip:2001@192.168.1.10:5060", "203.0.113.7:40001", "udp", 2)
	k.round(t.Context())
	if got := contacts(loc, "2001"); len(got) != 1 {
		t.Fatal("removed although it registered again between the misses")
	}
	k.round(t.Context())
	if got := contacts(loc, "2001"); len(got) != 0 {
		t.Fatal("not removed after 2 misses since its last REGISTER")
	}
}

// Only the binding that stopped answering goes; the AOR's other devices
// stay.
func TestRemovesOnlyTheDeadBinding(t *testing.T) {
	loc := location.New(nopStore{}, nil, location.Options{})
	register(t, loc, "2001", "sip:2001@192.168.1.10:5060", "203.0.113.7:40001", "udp", 1)
	register(t, loc, "2001", "sip:2001@192.168.1.20:5060", "203.0.113.7:40002", "udp", 1)
	f := newFakeSender()
	f.setDead("203.0.113.7:40002", true)
	k := New(f, loc, zaptest.NewLogger(t), Options{MaxMisses: 1})
	k.round(t.Context())
	if got := contacts(loc, "2001"); !slices.Equal(got, []string{"sip:2001@192.168.1.10:5060"}) {
		t.Fatalf("bindings left %v", got)
	}
}

func TestNodeFilter(t *testing.T) {
	loc := location.New(nopStore{}, nil, location.Options{Node: "b"})
	register(t, loc, "2001", "sip:2001@192.168.1.10:5060", "203.0.113.7:40001", "udp", 1)
	f := newFakeSender()
	New(f, loc, zaptest.NewLogger(t), Options{Node: "a"}).round(t.Context())
	if n := f.count("203.0.113.7:40001"); n != 0 {
		t.Fatalf("node a pinged a binding held by node b %d times", n)
	}
	New(f, loc, zaptest.NewLogger(t), Options{Node: "b"}).round(t.Context())
	if n := f.count("203.0.113.7:40001"); n != 1 {
		t.Fatalf("node b pinged its own binding %d times, want 1", n)
	}
}

func TestBoundedConcurrency(t *testing.T) {
	loc := location.New(nopStore{}, nil, location.Options{MaxContacts: 1000})
	for i := range 300 {
		register(t, loc, fmt.Sprint(3000+i), fmt.Sprintf("sip:%d@10.0.0.1:5060", 3000+i), fmt.Sprintf("203.0.113.7:%d", 20000+i), "udp", 1)
	}
	f := newFakeSender()
	f.delay = 5 * time.Millisecond
	k := New(f, loc, zaptest.NewLogger(t), Options{MaxInFlight: 20})
	k.round(t.Context())
	if m := f.maxSeen.Load(); m > 20 || m < 2 {
		t.Fatalf("at most %d pings in flight, want 2..20", m)
	}
	for i := range 300 {
		if n := f.count(fmt.Sprintf("203.0.113.7:%d", 20000+i)); n != 1 {
			t.Fatalf("binding %d pinged %d times", i, n)
		}
	}
}

// A round cut short by shutdown counts no misses.
func TestCancelIsNotAMiss(t *testing.T) {
	loc := location.New(nopStore{}, nil, location.Options{})
	register(t, loc, "2001", "sip:2001@192.168.1.10:5060", "203.0.113.7:40001", "udp", 1)
	f := newFakeSender()
	f.delay = time.Hour
	k := New(f, loc, zaptest.NewLogger(t), Options{MaxMisses: 1})
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(20*time.Millisecond, cancel)
	k.round(ctx)
	if got := contacts(loc, "2001"); len(got) != 1 {
		t.Fatal("binding removed because shutdown cancelled its ping")
	}
}

func TestRunStopsWithContext(t *testing.T) {
	loc := location.New(nopStore{}, nil, location.Options{})
	register(t, loc, "2001", "sip:2001@192.168.1.10:5060", "203.0.113.7:40001", "udp", 1)
	f := newFakeSender()
	k := New(f, loc, zaptest.NewLogger(t), Options{Interval: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- k.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for f.count("203.0.113.7:40001") < 2 {
		if time.Now().After(deadline) {
			t.Fatal("Run did not ping twice within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}
