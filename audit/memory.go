package audit

import (
	"sync"

	"github.com/sentralpbx/sentral/store"
)

// Memory keeps recorded entries in memory, for tests of code that
// records actions.
type Memory struct {
	mu sync.Mutex
	es []store.AuditEntry
}

// Record keeps e.
func (m *Memory) Record(e store.AuditEntry) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.es = append(m.es, e)
}

// Take returns the entries recorded since the last Take.
func (m *Memory) Take() []store.AuditEntry {
	m.mu.Lock()
	defer m.mu.Unlock()
	es := m.es
	m.es = nil
	return es
}
