package queue

import (
	"context"
	"sync"
)

// Change says that part of a tenant's switchboard changed; Kind is one of
// the Kind constants. Read the new state with Snapshot.
type Change struct {
	TenantID int64
	Kind     string
}

// subscriber holds changes not yet delivered. Changes that are already
// pending are not queued twice, so a slow reader gets every kind that
// changed, once, and a call never waits for it.
type subscriber struct {
	mu      sync.Mutex
	pending []Change
	wake    chan struct{} // capacity 1
}

// Subscribe returns the changes from now on, until ctx ends, when the
// channel is closed. Delivery never blocks the engine: while a reader is
// behind, repeated changes of the same kind and tenant coalesce into one.
func (s *Switchboard) Subscribe(ctx context.Context) <-chan Change {
	sub := &subscriber{wake: make(chan struct{}, 1)}
	out := make(chan Change)
	s.subMu.Lock()
	s.subs[sub] = struct{}{}
	s.subMu.Unlock()
	go func() {
		defer close(out)
		defer func() {
			s.subMu.Lock()
			delete(s.subs, sub)
			s.subMu.Unlock()
		}()
		for {
			select {
			case <-ctx.Done():
				return
			case <-sub.wake:
			}
			sub.mu.Lock()
			batch := sub.pending
			sub.pending = nil
			sub.mu.Unlock()
			for _, ch := range batch {
				select {
				case out <- ch:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out
}

// publish tells every subscriber about changes; it never blocks.
func (s *Switchboard) publish(tenantID int64, kinds ...string) {
	s.subMu.Lock()
	defer s.subMu.Unlock()
	for sub := range s.subs {
		sub.mu.Lock()
	next:
		for _, k := range kinds {
			ch := Change{TenantID: tenantID, Kind: k}
			for _, p := range sub.pending {
				if p == ch {
					continue next
				}
			}
			sub.pending = append(sub.pending, ch)
		}
		sub.mu.Unlock()
		select {
		case sub.wake <- struct{}{}:
		default:
		}
	}
}
