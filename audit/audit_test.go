package audit_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sentralpbx/sentral/audit"
	"github.com/sentralpbx/sentral/store"
)

// memStore is an AuditStore in memory that can be made to fail or block.
type memStore struct {
	mu      sync.Mutex
	entries []store.AuditEntry
	purged  []time.Time
	fail    error
	gate    chan struct{} // when set, Append waits for it
}

func (m *memStore) Audit() store.AuditStore { return m }

func (m *memStore) Append(_ context.Context, e store.AuditEntry) error {
	if m.gate != nil {
		<-m.gate
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	m.entries = append(m.entries, e)
	return nil
}

func (m *memStore) List(context.Context, store.AuditFilter) ([]store.AuditEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]store.AuditEntry(nil), m.entries...), nil
}

func (m *memStore) Purge(_ context.Context, before time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.purged = append(m.purged, before)
	return 0, nil
}

func (m *memStore) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}

func entry(action string) store.AuditEntry {
	return store.AuditEntry{Actor: "operator:kari", Role: store.AuditRoleOperator, Action: action, Outcome: store.AuditOK}
}

func TestRecordWithoutRunWritesWhenTheBufferIsFull(t *testing.T) {
	m := &memStore{}
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	r := audit.New(m, audit.Options{Buffer: 2, Now: func() time.Time { return now }})
	for i := 0; i < 5; i++ {
		r.Record(entry("call.answer"))
	}
	// Two wait in the buffer; the other three were written at once rather than dropped.
	if n := m.count(); n != 3 {
		t.Fatalf("%d entries written before Run, want 3", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := r.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if n := m.count(); n != 5 {
		t.Errorf("after Run ended: %d entries, want all 5", n)
	}
	es, _ := m.List(context.Background(), store.AuditFilter{})
	if !es[0].At.Equal(now) {
		t.Errorf("At = %v, want the time of Record %v", es[0].At, now)
	}
	// After Run: written at once.
	r.Record(entry("call.park"))
	if n := m.count(); n != 6 {
		t.Errorf("after Run: %d entries, want 6", n)
	}
}

func TestRunWritesInTheBackgroundAndFlushesOnEnd(t *testing.T) {
	m := &memStore{gate: make(chan struct{})}
	r := audit.New(m, audit.Options{Buffer: 100})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	start := time.Now()
	for i := 0; i < 50; i++ {
		r.Record(entry("call.transfer")) // must not wait for the blocked store
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Record waited %v for a blocked store", d)
	}
	cancel()
	close(m.gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := m.count(); n != 50 {
		t.Errorf("%d entries written, want 50", n)
	}
}

func TestConcurrentRecordDuringShutdownLosesNothing(t *testing.T) {
	m := &memStore{}
	r := audit.New(m, audit.Options{Buffer: 4})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				r.Record(entry("call.hangup"))
				if g == 0 && i == 25 {
					cancel()
				}
			}
		}()
	}
	wg.Wait()
	<-done
	if n := m.count(); n != 400 {
		t.Errorf("%d entries written, want 400", n)
	}
}

func TestFailuresAreLoggedAndRetentionPurged(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	m := &memStore{fail: errors.New("disk full")}
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	r := audit.New(m, audit.Options{Buffer: 1, Log: zap.New(core), Retention: 400 * 24 * time.Hour, Now: func() time.Time { return now }})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r.Record(entry("operator.login_failed"))
	_ = r.Run(ctx)
	got := logs.FilterMessage("audit entry not written").All()
	if len(got) != 1 || got[0].ContextMap()["action"] != "operator.login_failed" {
		t.Errorf("logged %+v, want one failure naming the action", logs.All())
	}
	if len(m.purged) != 1 || !m.purged[0].Equal(now.Add(-400*24*time.Hour)) {
		t.Errorf("purged before %v, want once before %v", m.purged, now.Add(-400*24*time.Hour))
	}
	var nilRec *audit.Recorder
	nilRec.Record(entry("x")) // a nil recorder records nothing, without panicking
}

func TestDetail(t *testing.T) {
	if got := audit.Detail("to", "2001", "reason"); got != `{"reason":"","to":"2001"}` {
		t.Errorf("Detail = %s", got)
	}
	if got := audit.Detail(); got != "" {
		t.Errorf("Detail() = %q", got)
	}
}
