package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// stage orders how serve's long-running parts stop: a later stage stops
// before an earlier one, so each part still has what it uses while it
// winds down. The media server's BYEs and the trunks' un-REGISTERs go out
// through the proxy and the SIP transport; the proxy ends the records of
// calls still up, which the record writer then flushes; the SIP transport
// closes last.
type stage int

const (
	// stageTransport: the SIP server (listeners, transactions).
	stageTransport stage = iota
	// stageState: stores written behind (call records, bindings), the
	// catalog and phone book, and the cluster link.
	stageState
	// stageProxy: the SIP proxy.
	stageProxy
	// stageApps: everything that places or ends calls or sends requests of
	// its own (media server, switchboard, trunks, NAT keep-alive, MWI),
	// and the rest (console board, LDAP, billing).
	stageApps
	nStages
)

// lifecycle runs goroutines in stages under one parent context. Every
// goroutine has an owner here: stop cancels and waits for each stage in
// turn, latest first.
type lifecycle struct {
	ctx    [nStages]context.Context
	cancel [nStages]context.CancelFunc
	wg     [nStages]sync.WaitGroup
	errs   chan error
}

// newLifecycle derives every stage's context from parent. Errors of parts
// that fail (not those that end with their context) arrive on errs.
func newLifecycle(parent context.Context) *lifecycle {
	l := &lifecycle{errs: make(chan error, 32)}
	for s := range nStages {
		// A stage's context outlives parent: stop ends the stages one by
		// one after parent (the signal) is done.
		l.ctx[s], l.cancel[s] = context.WithCancel(context.WithoutCancel(parent))
	}
	return l
}

// start runs f in stage s; f must return soon after its context ends.
func (l *lifecycle) start(s stage, name string, f func(context.Context) error) {
	l.wg[s].Add(1)
	go func() {
		defer l.wg[s].Done()
		if err := f(l.ctx[s]); err != nil && !errors.Is(err, context.Canceled) {
			select {
			case l.errs <- fmt.Errorf("%s: %w", name, err):
			default: // serve is already stopping for an earlier failure
			}
		}
	}()
}

// in returns a starter bound to stage s, for code that starts its parts
// through a func(name, f) (sipStack.run, mediaStack.run, ...).
func (l *lifecycle) in(s stage) func(string, func(context.Context) error) {
	return func(name string, f func(context.Context) error) { l.start(s, name, f) }
}

// stop ends the stages from the last to the first, each after the later
// ones have returned. after, if set, runs once a stage has stopped.
func (l *lifecycle) stop(after func(stage)) {
	for s := nStages - 1; s >= 0; s-- {
		l.cancel[s]()
		l.wg[s].Wait()
		if after != nil {
			after(s)
		}
	}
}
