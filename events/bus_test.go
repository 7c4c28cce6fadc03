package events

import (
	"context"
	"sync"
	"testing"
	"time"
)

// recv reads one event or fails after a generous bound.
func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v, ok := <-ch:
		if !ok {
			t.Fatal("channel closed")
		}
		return v
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5s")
	}
	var zero T
	return zero
}

func TestOrderPerSubscriber(t *testing.T) {
	b := NewBus[int](Options{})
	ch := b.Subscribe(t.Context(), 1000)
	for i := range 1000 {
		b.Publish(i)
	}
	for i := range 1000 {
		if got := recv(t, ch); got != i {
			t.Fatalf("event %d: got %d", i, got)
		}
	}
	if d := b.Dropped(ch); d != 0 {
		t.Fatalf("dropped %d, want 0", d)
	}
}

func TestFanOut(t *testing.T) {
	b := NewBus[RegistrationEvent](Options{})
	var chs []<-chan RegistrationEvent
	for range 3 {
		chs = append(chs, b.Subscribe(t.Context(), 8))
	}
	if n := b.Subscribers(); n != 3 {
		t.Fatalf("Subscribers = %d, want 3", n)
	}
	ev := RegistrationEvent{TenantID: 1, Number: "2001", Bindings: 1, Contacts: []string{"sip:2001@10.0.0.5"}}
	b.Publish(ev)
	for i, ch := range chs {
		if got := recv(t, ch); got.Number != "2001" || got.Bindings != 1 {
			t.Fatalf("subscriber %d got %+v", i, got)
		}
	}
}

// A subscriber that does not read must neither block the publisher nor
// keep stale events: it ends up with the newest `buffer` events and a
// count of the rest.
func TestDropOldestUnderSlowSubscriber(t *testing.T) {
	b := NewBus[int](Options{})
	slow := b.Subscribe(t.Context(), 4)
	fast := b.Subscribe(t.Context(), 100)

	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 10 {
			b.Publish(i)
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Publish blocked on a slow subscriber")
	}

	for want := 6; want < 10; want++ {
		if got := recv(t, slow); got != want {
			t.Fatalf("slow subscriber: got %d, want %d (oldest dropped first)", got, want)
		}
	}
	if d := b.Dropped(slow); d != 6 {
		t.Fatalf("Dropped(slow) = %d, want 6", d)
	}
	if d := b.Dropped(fast); d != 0 {
		t.Fatalf("Dropped(fast) = %d, want 0: one slow subscriber must not cost another", d)
	}
	if d := b.DroppedTotal(); d != 6 {
		t.Fatalf("DroppedTotal = %d, want 6", d)
	}
	for want := range 10 {
		if got := recv(t, fast); got != want {
			t.Fatalf("fast subscriber: got %d, want %d", got, want)
		}
	}
}

func TestUnsubscribeOnCancelClosesChannel(t *testing.T) {
	b := NewBus[int](Options{})
	ctx, cancel := context.WithCancel(t.Context())
	ch := b.Subscribe(ctx, 4)
	keep := b.Subscribe(t.Context(), 4)
	b.Publish(1)
	cancel()

	// Buffered events stay readable, then the channel closes.
	deadline := time.After(5 * time.Second)
	var got []int
	for open := true; open; {
		select {
		case v, ok := <-ch:
			if ok {
				got = append(got, v)
			}
			open = ok
		case <-deadline:
			t.Fatal("channel not closed within 5s of cancel")
		}
	}
	if len(got) != 1 || got[0] != 1 {
		t.Fatalf("read %v before close, want [1]", got)
	}
	if n := b.Subscribers(); n != 1 {
		t.Fatalf("Subscribers = %d after cancel, want 1", n)
	}
	b.Publish(2) // must not panic on the closed channel
	recv(t, keep)
	if got := recv(t, keep); got != 2 {
		t.Fatalf("remaining subscriber got %d, want 2", got)
	}
}

// Several publishers, subscribers coming and going: run with -race. Each
// publisher's events reach a subscriber in the order that publisher sent
// them.
func TestConcurrentPublishers(t *testing.T) {
	type ev struct{ pub, seq int }
	b := NewBus[ev](Options{})
	const pubs, per = 8, 1000
	ch := b.Subscribe(t.Context(), pubs*per)

	ctx, cancel := context.WithCancel(t.Context())
	var churn sync.WaitGroup
	churn.Go(func() {
		// Subscriptions that come and go while events flow, some never
		// read: exercises snapshot replacement and close against Publish.
		for ctx.Err() == nil {
			c, stop := context.WithCancel(ctx)
			sub := b.Subscribe(c, 2)
			b.Dropped(sub)
			stop()
		}
	})

	var wg sync.WaitGroup
	for p := range pubs {
		wg.Go(func() {
			for i := range per {
				b.Publish(ev{p, i})
			}
		})
	}
	wg.Wait()
	cancel()
	churn.Wait()

	next := make([]int, pubs)
	for range pubs * per {
		e := recv(t, ch)
		if e.seq != next[e.pub] {
			t.Fatalf("publisher %d: got seq %d, want %d", e.pub, e.seq, next[e.pub])
		}
		next[e.pub]++
	}
	if d := b.Dropped(ch); d != 0 {
		t.Fatalf("dropped %d with a buffer large enough for all", d)
	}
}

func TestHubDefaultBuffer(t *testing.T) {
	h := NewHub(Options{DefaultBuffer: 2})
	ch := h.Dialogs.Subscribe(t.Context(), 0)
	for _, id := range []string{"a", "b", "c"} {
		h.Dialogs.Publish(DialogEvent{Ext: "2001", CallID: id, State: DialogRinging, Direction: DirectionInbound})
	}
	if got := recv(t, ch).CallID; got != "b" {
		t.Fatalf("first buffered event %q, want b (buffer of 2, oldest dropped)", got)
	}
	if d := h.Dialogs.Dropped(ch); d != 1 {
		t.Fatalf("dropped %d, want 1", d)
	}
	if n := h.Registrations.Subscribers(); n != 0 {
		t.Fatalf("registration subscribers %d, want 0", n)
	}
}

// BenchmarkPublishNoSubscribers is the cost the call path pays when no
// console is watching.
func BenchmarkPublishNoSubscribers(b *testing.B) {
	bus := NewBus[DialogEvent](Options{})
	ev := DialogEvent{TenantID: 1, Ext: "2001", CallID: "x", State: DialogRinging}
	b.ReportAllocs()
	for b.Loop() {
		bus.Publish(ev)
	}
}

// BenchmarkPublishOneSubscriber is the cost with one reading subscriber.
func BenchmarkPublishOneSubscriber(b *testing.B) {
	bus := NewBus[DialogEvent](Options{})
	ch := bus.Subscribe(b.Context(), 1024)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range ch {
		}
	}()
	b.Cleanup(func() { <-done }) // b.Context ends before cleanups run
	ev := DialogEvent{TenantID: 1, Ext: "2001", CallID: "x", State: DialogRinging}
	b.ReportAllocs()
	for b.Loop() {
		bus.Publish(ev)
	}
}

// BenchmarkPublishFullSubscriber is the cost when a subscriber stopped
// reading and every Publish drops its oldest event.
func BenchmarkPublishFullSubscriber(b *testing.B) {
	bus := NewBus[DialogEvent](Options{})
	bus.Subscribe(b.Context(), 16)
	ev := DialogEvent{TenantID: 1, Ext: "2001", CallID: "x", State: DialogRinging}
	b.ReportAllocs()
	for b.Loop() {
		bus.Publish(ev)
	}
}
