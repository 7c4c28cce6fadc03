// Package testrun runs a test's long-lived components (servers, followers)
// under one context and stops them when the test ends, failing the test if
// one returns an error or does not stop in time. It exists so every test
// stack shuts down the same bounded way.
package testrun

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// StopWithin bounds how long the components may take to stop.
const StopWithin = 10 * time.Second

// Start runs each component in its own goroutine until the test ends.
func Start(t testing.TB, components ...func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, run := range components {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(ctx); err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("component: %v", err)
			}
		}()
	}
	t.Cleanup(func() {
		cancel()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(StopWithin):
			t.Errorf("components did not stop within %s", StopWithin)
		}
	})
}
