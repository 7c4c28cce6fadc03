package location

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/store"
)

// nopStore accepts every write at no cost, so the benchmark measures the
// registrar-facing path plus the flusher's work on the shared locks.
type nopStore struct{ saved atomic.Int64 }

func (n *nopStore) Save(_ context.Context, bs []store.Binding) error {
	n.saved.Add(int64(len(bs)))
	return nil
}
func (*nopStore) Delete(context.Context, int64, string, []string) error { return nil }
func (*nopStore) DeleteAOR(context.Context, int64, string) error        { return nil }
func (*nopStore) List(context.Context, int64) ([]store.Binding, error)  { return nil, nil }
func (*nopStore) ListAOR(context.Context, int64, string) ([]store.Binding, error) {
	return nil, nil
}
func (*nopStore) Purge(context.Context, time.Time) (int, error) { return 0, nil }

// BenchmarkUpdate refreshes the one binding of 10,000 distinct AORs from
// parallel goroutines, as a registrar under load would, with Run flushing
// in the background.
func BenchmarkUpdate(b *testing.B) {
	const aors = 10000
	st := &nopStore{}
	s := New(st, zap.NewNop(), Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	numbers := make([]string, aors)
	contacts := make([]string, aors)
	for i := range numbers {
		numbers[i] = fmt.Sprint(100000 + i)
		contacts[i] = "sip:" + numbers[i] + "@192.0.2.1:5060"
	}
	var next, workers atomic.Int64
	expires := time.Now().Add(time.Hour)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		// One Call-ID per goroutine with its own rising CSeq: different
		// Call-IDs replace each other freely, so no update is refused.
		callID := fmt.Sprintf("bench-%d", workers.Add(1))
		var cseq uint32
		for pb.Next() {
			i := int(next.Add(1) % aors)
			cseq++
			add := []store.Binding{{Contact: contacts[i], CallID: callID, CSeq: cseq, Q: 1, Expires: expires,
				Source: "192.0.2.1:5060", Transport: "udp"}}
			if _, err := s.Update(1, numbers[i], add, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.StopTimer()
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	if n := s.Count(); n != aors && b.N >= aors {
		b.Fatalf("Count() = %d, want %d", n, aors)
	}
}
