package mwi

import (
	"context"
	"strconv"
	"testing"

	"github.com/sentralpbx/sentral/events"
	"github.com/sentralpbx/sentral/sip/presence"
)

// BenchmarkRegistered is what the registrar's path pays per REGISTER when
// Registered is wired to registration events: a non-blocking queue send,
// with the worker draining it (mailboxes without messages, the common
// case, cost the worker a map lookup and no store read).
func BenchmarkRegistered(b *testing.B) {
	n, err := New(Deps{Catalog: newFakeCatalog(), Auth: stubAuth{}, Guard: stubGuard{}, Locations: &fakeLocations{},
		Counts: &fakeCounts{}, Sender: stubSender{}}, Options{Listeners: []Listener{{Network: "udp", Addr: "127.0.0.1:5060"}}})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- n.Run(ctx) }()
	defer func() { cancel(); <-done }()
	evs := make([]events.RegistrationEvent, 1000)
	for i := range evs {
		evs[i] = events.RegistrationEvent{TenantID: 1, Number: strconv.Itoa(2000 + i), Bindings: 1}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		n.Registered(evs[i%len(evs)])
		i++
	}
	// The loop offers millions of events a second, far beyond any
	// registrar, so most are dropped here; BenchmarkWorker shows what
	// the worker keeps up with.
}

// BenchmarkWorker is the worker's cost per registration of an extension
// whose mailbox has no new messages, once its tenant's counts are cached.
func BenchmarkWorker(b *testing.B) {
	counts := &fakeCounts{}
	counts.set(1, "2001", 0, 3)
	n, err := New(Deps{Catalog: newFakeCatalog(), Auth: stubAuth{}, Guard: stubGuard{}, Locations: &fakeLocations{},
		Counts: counts, Sender: stubSender{}}, Options{Listeners: []Listener{{Network: "udp", Addr: "127.0.0.1:5060"}}})
	if err != nil {
		b.Fatal(err)
	}
	keys := make([]presence.Key, 1000)
	for i := range keys {
		keys[i] = presence.Key{Tenant: 1, Mailbox: strconv.Itoa(2000 + i)}
	}
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		n.registered(ctx, keys[i%len(keys)])
		i++
	}
}
