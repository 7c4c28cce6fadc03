// Package events is Sentral's in-process event bus: the SIP layer publishes
// what happens (registrations, dialog states) and consumers such as the
// operators' console subscribe to it.
//
// The bus is lossy by design. Publishers sit on the call path (the
// registrar answering a REGISTER, the proxy relaying a 180), so Publish
// never waits for a subscriber: each subscription has a bounded buffer,
// and when a slow consumer (a console behind a congested WebSocket) lets
// it fill up, the oldest buffered event is dropped to make room and the
// subscription's dropped counter goes up. A slow console then shows a gap,
// which it can detect with Dropped and repair by re-reading the current
// state; it never stalls SIP. Events are therefore notifications of change,
// not a log to rebuild state from.
package events

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
)

// DefaultBuffer is the buffer of a subscription that asks for none.
const DefaultBuffer = 256

// Options tune a Bus. Zero values take the defaults.
type Options struct {
	// DefaultBuffer is the buffer given to Subscribe calls with buffer <= 0
	// (DefaultBuffer).
	DefaultBuffer int
}

// Bus fans events of type T out to its subscribers. Its methods are safe
// for concurrent use; the zero value is not usable, call NewBus.
type Bus[T any] struct {
	opt Options
	// subs is an immutable snapshot, replaced on every (un)subscribe, so
	// Publish reads it with one atomic load and takes no bus-wide lock:
	// publishers on different goroutines never contend with each other
	// unless they feed the same subscriber.
	subs    atomic.Pointer[[]*subscriber[T]]
	mu      sync.Mutex // serialises snapshot replacement
	dropped atomic.Uint64
}

// subscriber is one subscription. mu makes "drop the oldest, then send"
// one step with respect to other publishers, and orders sends against
// close, so a publisher never sends on a closed channel.
type subscriber[T any] struct {
	mu      sync.Mutex
	ch      chan T
	closed  bool
	dropped atomic.Uint64
}

// NewBus returns a bus with no subscribers.
func NewBus[T any](opt Options) *Bus[T] {
	if opt.DefaultBuffer <= 0 {
		opt.DefaultBuffer = DefaultBuffer
	}
	b := &Bus[T]{opt: opt}
	b.subs.Store(new([]*subscriber[T]))
	return b
}

// Publish delivers ev to every current subscriber without blocking: a
// subscriber whose buffer is full loses its oldest buffered event (see the
// package comment). It starts no goroutine and, with no subscribers, only
// loads a pointer.
func (b *Bus[T]) Publish(ev T) {
	for _, s := range *b.subs.Load() {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			continue
		}
		select {
		case s.ch <- ev:
		default:
			// Full. Only publishers send, and they hold s.mu, so after
			// taking one event out there is room; the consumer may have
			// emptied it meanwhile, which also leaves room.
			select {
			case <-s.ch:
				s.dropped.Add(1)
				b.dropped.Add(1)
			default:
			}
			s.ch <- ev
		}
		s.mu.Unlock()
	}
}

// Subscribe returns a channel that receives every event published from
// now on, in the order each publisher published them, until ctx ends;
// then the subscription is removed and the channel closed (events still
// buffered can be read first). buffer bounds how many undelivered events
// are kept (<= 0: Options.DefaultBuffer).
func (b *Bus[T]) Subscribe(ctx context.Context, buffer int) <-chan T {
	if buffer <= 0 {
		buffer = b.opt.DefaultBuffer
	}
	s := &subscriber[T]{ch: make(chan T, buffer)}
	b.mu.Lock()
	next := append(slices.Clone(*b.subs.Load()), s)
	b.subs.Store(&next)
	b.mu.Unlock()
	// AfterFunc, not a goroutine waiting on ctx: a subscription costs no
	// goroutine while it lives, and the cleanup is owned by ctx.
	context.AfterFunc(ctx, func() { b.unsubscribe(s) })
	return s.ch
}

func (b *Bus[T]) unsubscribe(s *subscriber[T]) {
	b.mu.Lock()
	cur := *b.subs.Load()
	if i := slices.Index(cur, s); i >= 0 {
		next := slices.Delete(slices.Clone(cur), i, i+1)
		b.subs.Store(&next)
	}
	b.mu.Unlock()
	// A publisher holding an old snapshot may still reach s; closed tells
	// it to skip.
	s.mu.Lock()
	s.closed = true
	close(s.ch)
	s.mu.Unlock()
}

// Subscribers returns how many subscriptions are active.
func (b *Bus[T]) Subscribers() int {
	return len(*b.subs.Load())
}

// Dropped returns how many events the subscription receiving on ch has
// lost to a full buffer so far; 0 when ch is not an active subscription.
// A consumer that sees it grow has missed events and should re-read the
// state it mirrors.
func (b *Bus[T]) Dropped(ch <-chan T) uint64 {
	for _, s := range *b.subs.Load() {
		if (<-chan T)(s.ch) == ch {
			return s.dropped.Load()
		}
	}
	return 0
}

// DroppedTotal returns how many events all subscriptions, past and
// present, have lost to full buffers (for metrics).
func (b *Bus[T]) DroppedTotal() uint64 {
	return b.dropped.Load()
}
