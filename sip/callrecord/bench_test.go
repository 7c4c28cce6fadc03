package callrecord

import (
	"context"
	"fmt"
	"github.com/sentralpbx/sentral/store/pgtest"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/store"
)

// BenchmarkRecorder measures calls per second through Start, Answered and
// Ended, including the final flush, with many calls in flight as on a busy
// proxy (Start waits for a commit, so throughput needs concurrency). It
// also reports Start's latency, which is what a caller's INVITE waits.
//
//	go test -run '^$' -bench 'Recorder$' -benchtime 20000x ./sip/callrecord/
func BenchmarkRecorder(b *testing.B) {
	sqlite := func(b *testing.B) string { return filepath.Join(b.TempDir(), "bench.db") }
	b.Run("sqlite", func(b *testing.B) { benchRecorder(b, sqlite(b), Options{}) })
	// The baseline group commit is measured against: one transaction per operation.
	b.Run("sqlite-unbatched", func(b *testing.B) { benchRecorder(b, sqlite(b), Options{Writers: 1, Mode: ModeStatements}) })
	b.Run("postgres", func(b *testing.B) { benchRecorder(b, pgtest.DSN(b, "callrecord_bench"), Options{}) })
	// Each operation its own statement, on as many connections.
	b.Run("postgres-statements", func(b *testing.B) {
		benchRecorder(b, pgtest.DSN(b, "callrecord_bench"), Options{Mode: ModeStatements})
	})
}

// BenchmarkRecorderPaced offers calls at a steady 1,000 calls/s (the
// target load) instead of as fast as possible, to show Start's latency at
// that load for several FlushIntervals.
func BenchmarkRecorderPaced(b *testing.B) {
	for _, fi := range []time.Duration{5 * time.Millisecond, time.Millisecond, -1} {
		name := fmt.Sprintf("sqlite-flush-%v", fi)
		if fi < 0 {
			name = "sqlite-flush-none"
		}
		b.Run(name, func(b *testing.B) {
			benchPaced(b, filepath.Join(b.TempDir(), "bench.db"), Options{FlushInterval: fi}, 1000)
		})
	}
}

func benchRecorder(b *testing.B, dsn string, opt Options) {
	st := openStore(b, dsn)
	rec := New(st, zap.NewNop(), opt)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- rec.Run(ctx) }()

	var seq atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	b.SetParallelism(64) // 64 × GOMAXPROCS callers
	b.ResetTimer()
	began := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			n := seq.Add(1)
			t0 := time.Now()
			call, err := rec.Start(ctx, store.CDR{TenantID: 1, CallID: fmt.Sprintf("b%d@bench", n), Node: "bench",
				Direction: store.DirectionInternal, Caller: "2001", Callee: "2002", Dialled: "2002", StartTime: t0})
			mine = append(mine, time.Since(t0))
			if err != nil {
				b.Error(err)
				return
			}
			rec.Answered(call, time.Time{})
			rec.Ended(call, time.Time{}, store.DispositionAnswered, 200, "BYE")
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	cancel()
	if err := <-done; err != nil { // the final flush writes the last Ended: part of the cost
		b.Fatal(err)
	}
	elapsed := time.Since(began)
	b.StopTimer()
	if s := rec.Stats(); s.Written != uint64(3*b.N) || s.Failed != 0 || s.Dropped != 0 {
		b.Fatalf("Stats = %+v, want %d written", s, 3*b.N)
	}
	slices.Sort(lat)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "calls/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "start-p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "start-p99-ms")
	b.ReportMetric(float64(rec.Stats().Written)/float64(rec.Stats().Batches), "ops/commit")
}

func benchPaced(b *testing.B, dsn string, opt Options, rate int) {
	st := openStore(b, dsn)
	rec := New(st, zap.NewNop(), opt)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- rec.Run(ctx) }()

	lat := make([]time.Duration, b.N)
	var wg sync.WaitGroup
	b.ResetTimer()
	began := time.Now()
	for i := range b.N {
		if d := time.Until(began.Add(time.Duration(i) * time.Second / time.Duration(rate))); d > 0 {
			time.Sleep(d)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			t0 := time.Now()
			call, err := rec.Start(ctx, store.CDR{TenantID: 1, CallID: fmt.Sprintf("p%d@bench", i), Node: "bench",
				Direction: store.DirectionInternal, Caller: "2001", Callee: "2002", Dialled: "2002", StartTime: t0})
			lat[i] = time.Since(t0)
			if err != nil {
				b.Error(err)
				return
			}
			rec.Answered(call, time.Time{})
			rec.Ended(call, time.Time{}, store.DispositionAnswered, 200, "BYE")
		}()
	}
	wg.Wait()
	elapsed := time.Since(began)
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "calls/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "start-p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "start-p99-ms")
	b.ReportMetric(float64(rec.Stats().Written)/float64(rec.Stats().Batches), "ops/commit")
}
