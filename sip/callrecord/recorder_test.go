package callrecord

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sentralpbx/sentral/store"
)

// modes are the ways of writing; each back end uses one by default
// (transactions on SQLite, statements on PostgreSQL) but both must be
// correct on both.
func modes() []struct {
	name string
	mode Mode
} {
	return []struct {
		name string
		mode Mode
	}{{"auto", ModeAuto}, {"tx", ModeTransactions}, {"statements", ModeStatements}}
}

func TestLifeCycle(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		for _, m := range modes() {
			t.Run(m.name, func(t *testing.T) {
				testLifeCycle(t, dsn, m.mode)
			})
		}
	})
}

// testLifeCycle: the open record is durable (visible to another handle)
// when Start returns; Answered and Ended land with every field.
func testLifeCycle(t *testing.T, dsn string, m Mode) {
	st, other := openStore(t, dsn), openStore(t, dsn)
	rec := startRecorder(t, st, Options{Node: "node-a", Mode: m})
	ctx := context.Background()

	in := cdr(fmt.Sprintf("life-%d@test", m), "2001", "+4791234567", base)
	in.Direction, in.TrunkID, in.Trunk = store.DirectionOutbound, ptr(int64(7)), "centrex"
	in.DepartmentID, in.DepartmentCode = ptr(int64(3)), "1000"
	call, err := rec.Start(ctx, in)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	if call.ID() <= 0 {
		t.Fatalf("ID after Start = %d", call.ID())
	}
	// Read back at once through another handle: no waiting allowed.
	got := get(t, other, call.ID())
	want := in
	want.ID, want.Node, want.State = call.ID(), "node-a", store.CDROpen
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("after Start:\n got %+v\nwant %+v", got, want)
	}

	answer, end := base.Add(4*time.Second), base.Add(65*time.Second+500*time.Millisecond)
	rec.Answered(call, answer)
	rec.Ended(call, end, store.DispositionAnswered, 200, "BYE from caller")
	waitFor(t, "record closed", func() bool { return get(t, other, call.ID()).State == store.CDRClosed })
	got = get(t, other, call.ID())
	want.State, want.AnswerTime, want.EndTime = store.CDRClosed, &answer, &end
	want.DurationSeconds, want.BillableSeconds = 65, 61
	want.Disposition, want.SIPCode, want.Reason = store.DispositionAnswered, 200, "BYE from caller"
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("after Ended:\n got %+v\nwant %+v", got, want)
	}
	if err := rec.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if s := rec.Stats(); s.Written != 3 || s.Dropped != 0 || s.Failed != 0 || s.Queued != 0 {
		t.Fatalf("Stats = %+v", s)
	}
}

// Answered and Ended may come before the open record is durable (Start
// gave up waiting): the writer keeps the call's order. Repeats are ignored.
func TestEventsBeforeOpenIsWritten(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		st := openStore(t, dsn)
		rec := New(st, nil, Options{Node: "n"}) // not running yet: nothing is written
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		call, err := rec.Start(ctx, cdr("early@test", "2001", "2002", base))
		if !errors.Is(err, context.DeadlineExceeded) || call == nil {
			t.Fatalf("Start before Run = %v, %v; want a Call and DeadlineExceeded", call, err)
		}
		if call.ID() != 0 {
			t.Fatalf("ID of an unwritten record = %d", call.ID())
		}
		rec.Answered(call, base.Add(time.Second))
		rec.Answered(call, base.Add(2*time.Second)) // ignored: answered once
		rec.Ended(call, base.Add(10*time.Second), store.DispositionAnswered, 200, "first")
		rec.Ended(call, base.Add(20*time.Second), store.DispositionFailed, 500, "second") // ignored
		rec.Answered(call, base.Add(3*time.Second))                                       // ignored: after Ended
		if s := rec.Stats(); s.Queued != 3 {
			t.Fatalf("queued = %d, want 3 (open, answer, close)", s.Queued)
		}
		r := runRecorder(t, rec)
		waitFor(t, "record durable", func() bool { return call.ID() != 0 })
		waitFor(t, "record closed", func() bool { return get(t, st, call.ID()).State == store.CDRClosed })
		got := get(t, st, call.ID())
		if *got.AnswerTime != base.Add(time.Second) || *got.EndTime != base.Add(10*time.Second) ||
			got.Reason != "first" || got.SIPCode != 200 || got.BillableSeconds != 9 {
			t.Fatalf("record = %+v", got)
		}
		if err := r.stop(t); err != nil {
			t.Fatal(err)
		}
		if n := len(list(t, st)); n != 1 {
			t.Fatalf("%d records, want 1", n)
		}
	})
}

// Many concurrent calls are each recorded exactly once, with their own
// fields, and share transactions.
func TestConcurrentCalls(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		const workers, perWorker = 50, 40 // 2,000 calls
		st, other := openStore(t, dsn), openStore(t, dsn)
		rec := startRecorder(t, st, Options{Node: "node-a"})
		ctx := context.Background()
		disps := []struct {
			d    store.Disposition
			code int
		}{{store.DispositionAnswered, 200}, {store.DispositionBusy, 486}, {store.DispositionNoAnswer, 408},
			{store.DispositionCancelled, 487}, {store.DispositionFailed, 404}}
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range perWorker {
					n := w*perWorker + i
					start := base.Add(time.Duration(n) * time.Millisecond)
					call, err := rec.Start(ctx, cdr(fmt.Sprintf("c%d@test", n), fmt.Sprint(2000+w), fmt.Sprint(3000+i), start))
					if err != nil {
						errs <- err
						return
					}
					dp := disps[n%len(disps)]
					if dp.d == store.DispositionAnswered {
						rec.Answered(call, start.Add(time.Duration(n%7)*time.Second))
					}
					rec.Ended(call, start.Add(time.Duration(n%7+n%11)*time.Second), dp.d, dp.code, fmt.Sprintf("r%d", n))
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("Start: %v", err)
		}
		if err := rec.stop(t); err != nil {
			t.Fatalf("Run: %v", err)
		}
		all := list(t, other)
		if len(all) != workers*perWorker {
			t.Fatalf("%d records, want %d", len(all), workers*perWorker)
		}
		seen := map[string]bool{}
		for _, c := range all {
			var n int
			if _, err := fmt.Sscanf(c.CallID, "c%d@test", &n); err != nil || seen[c.CallID] {
				t.Fatalf("unexpected or repeated record %+v", c)
			}
			seen[c.CallID] = true
			w, i := n/perWorker, n%perWorker
			start := base.Add(time.Duration(n) * time.Millisecond)
			dp := disps[n%len(disps)]
			end := start.Add(time.Duration(n%7+n%11) * time.Second)
			if c.State != store.CDRClosed || c.Node != "node-a" || c.Caller != fmt.Sprint(2000+w) ||
				c.Callee != fmt.Sprint(3000+i) || !c.StartTime.Equal(start) || c.EndTime == nil || !c.EndTime.Equal(end) ||
				c.Disposition != dp.d || c.SIPCode != dp.code || c.Reason != fmt.Sprintf("r%d", n) ||
				c.DurationSeconds != int64(n%7+n%11) {
				t.Fatalf("call %d: record %+v", n, c)
			}
			answered := dp.d == store.DispositionAnswered
			if answered != (c.AnswerTime != nil) ||
				(answered && (!c.AnswerTime.Equal(start.Add(time.Duration(n%7)*time.Second)) || c.BillableSeconds != int64(n%11))) {
				t.Fatalf("call %d: answer %v billable %d", n, c.AnswerTime, c.BillableSeconds)
			}
		}
		s := rec.Stats()
		if wantOps := uint64(workers*perWorker*2 + workers*perWorker/len(disps)); s.Written != wantOps || s.Dropped != 0 || s.Failed != 0 {
			t.Fatalf("Stats = %+v, want %d written and nothing lost", s, wantOps)
		}
		t.Logf("%s: %d operations in %d commits", st.Backend(), s.Written, s.Batches)
		if st.Backend() == "sqlite" && s.Batches >= s.Written/2 {
			t.Errorf("%d commits for %d operations: group commit is not grouping", s.Batches, s.Written)
		}
	})
}

// Run's shutdown writes what is still queued, Ended included.
func TestShutdownFlushesQueue(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		st, other := openStore(t, dsn), openStore(t, dsn)
		// A long linger keeps the Ended operations queued until the stop.
		rec := startRecorder(t, st, Options{Node: "n", FlushInterval: time.Hour, MaxBatch: 20, Writers: 1, Mode: ModeTransactions})
		const n = 20 // one full batch opens them all at once
		calls := make([]*Call, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := rec.Start(context.Background(), cdr(fmt.Sprintf("s%d@test", i), "2001", "2002", base))
				if err != nil {
					t.Errorf("Start: %v", err)
				}
				calls[i] = c
			}()
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		// Half of them end: fewer than MaxBatch, so they wait for the linger.
		for _, c := range calls[:n/2] {
			rec.Ended(c, base.Add(3*time.Second), store.DispositionNoAnswer, 480, "gone")
		}
		if q := rec.Stats().Queued; q != n/2 {
			t.Fatalf("queued before the stop = %d, want %d", q, n/2)
		}
		if err := rec.stop(t); err != nil {
			t.Fatalf("Run: %v", err)
		}
		for i, c := range calls {
			got := get(t, other, c.ID())
			if ended := i < n/2; ended != (got.State == store.CDRClosed) || ended && got.Disposition != store.DispositionNoAnswer {
				t.Fatalf("call %d after shutdown: %+v", i, got)
			}
		}
		// Stopped: Start refuses, events are counted as dropped.
		if _, err := rec.Start(context.Background(), cdr("late@test", "1", "2", base)); !errors.Is(err, ErrStopped) {
			t.Fatalf("Start after Run = %v, want ErrStopped", err)
		}
		rec.Ended(calls[0], time.Time{}, store.DispositionFailed, 0, "") // already ended: ignored
		if s := rec.Stats(); s.Dropped != 1 || s.Failed != 0 || s.Queued != 0 {
			t.Fatalf("Stats = %+v", s)
		}
	})
}

// A crash leaves records open; the next run closes them, and only them.
func TestCloseOrphansAfterCrash(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		st1 := openStore(t, dsn)
		rec1 := startRecorder(t, st1, Options{Node: "node-a"})
		t0 := time.Now().UTC().Truncate(time.Microsecond).Add(-time.Minute)
		ringing, err := rec1.Start(ctx, cdr("ringing@test", "2001", "2002", t0))
		if err != nil {
			t.Fatal(err)
		}
		talking, err := rec1.Start(ctx, cdr("talking@test", "2003", "2004", t0.Add(time.Second)))
		if err != nil {
			t.Fatal(err)
		}
		rec1.Answered(talking, t0.Add(5*time.Second))
		done, err := rec1.Start(ctx, cdr("done@test", "2005", "2006", t0.Add(2*time.Second)))
		if err != nil {
			t.Fatal(err)
		}
		rec1.Ended(done, t0.Add(9*time.Second), store.DispositionBusy, 486, "busy")
		other := cdr("other-node@test", "2007", "2008", t0)
		other.Node = "node-b"
		otherCall, err := rec1.Start(ctx, other)
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "answer written", func() bool { return get(t, st1, talking.ID()).AnswerTime != nil })
		waitFor(t, "close written", func() bool { return get(t, st1, done.ID()).State == store.CDRClosed })
		// The crash: the process is gone without ending its calls.
		if err := rec1.stop(t); err != nil {
			t.Fatal(err)
		}
		st1.Close()

		restart := time.Now()
		st2 := openStore(t, dsn)
		rec2 := startRecorder(t, st2, Options{Node: "node-a"})
		n, err := rec2.CloseOrphans(ctx, "node-a", restart)
		if err != nil || n != 2 {
			t.Fatalf("CloseOrphans = %d, %v; want 2", n, err)
		}
		fresh, err := rec2.Start(ctx, cdr("fresh@test", "2001", "2009", time.Time{})) // StartTime: now
		if err != nil {
			t.Fatal(err)
		}
		if n, err := rec2.CloseOrphans(ctx, "node-a", restart); err != nil || n != 0 {
			t.Fatalf("second CloseOrphans = %d, %v; want 0", n, err)
		}

		r := get(t, st2, ringing.ID())
		if r.State != store.CDRClosed || r.Disposition != store.DispositionFailed || !r.EndTime.Equal(r.StartTime) ||
			r.Reason != store.OrphanReason || r.SIPCode != 0 {
			t.Fatalf("ringing call after restart: %+v", r)
		}
		a := get(t, st2, talking.ID())
		if a.State != store.CDRClosed || a.Disposition != store.DispositionAnswered || !a.EndTime.Equal(t0.Add(5*time.Second)) ||
			a.SIPCode != 200 || a.BillableSeconds != 0 || a.Reason != store.OrphanReason {
			t.Fatalf("answered call after restart: %+v", a)
		}
		if d := get(t, st2, done.ID()); d.Reason != "busy" || d.SIPCode != 486 {
			t.Fatalf("ended call changed by restart: %+v", d)
		}
		if o := get(t, st2, otherCall.ID()); o.State != store.CDROpen {
			t.Fatalf("another node's call closed: %+v", o)
		}
		if f := get(t, st2, fresh.ID()); f.State != store.CDROpen || f.Node != "node-a" {
			t.Fatalf("the new run's call: %+v", f)
		}
	})
}

// A record the store refuses fails its own Start only; the batch it
// shared is written.
func TestRefusedRecordFailsAlone(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		for _, m := range modes() {
			t.Run(m.name, func(t *testing.T) {
				st := openStore(t, dsn)
				rec := startRecorder(t, st, Options{FlushInterval: 50 * time.Millisecond, Mode: m.mode})
				var wg sync.WaitGroup
				var bad, good error
				var goodCall *Call
				wg.Add(2)
				go func() {
					defer wg.Done()
					c := cdr("bad@test", "1", "2", base)
					c.TenantID = 0
					var call *Call
					call, bad = rec.Start(context.Background(), c)
					if call != nil {
						t.Errorf("refused Start returned a Call")
					}
					rec.Ended(call, base, store.DispositionFailed, 0, "") // nil Call: ignored
				}()
				go func() {
					defer wg.Done()
					goodCall, good = rec.Start(context.Background(), cdr("good-"+m.name+"@test", "1", "2", base))
				}()
				wg.Wait()
				if !errors.Is(bad, store.ErrInvalid) {
					t.Fatalf("Start of a record without tenant = %v, want ErrInvalid", bad)
				}
				if good != nil {
					t.Fatalf("Start beside a refused record: %v", good)
				}
				rec.Ended(goodCall, base.Add(time.Second), store.DispositionFailed, 503, "")
				if err := rec.stop(t); err != nil {
					t.Fatal(err)
				}
				if got := get(t, st, goodCall.ID()); got.State != store.CDRClosed || got.SIPCode != 503 {
					t.Fatalf("good record: %+v", got)
				}
				if s := rec.Stats(); s.Failed != 1 || s.Written != 2 {
					t.Fatalf("Stats = %+v", s)
				}
			})
		}
	})
}

// flaky fails its first `fails` transactions and Opens with an error the
// store would give for a lost connection.
type flaky struct {
	store.Store
	fails *atomic.Int32
}

var errFlaky = errors.New("connection reset by peer")

func (f flaky) CDRs() store.CDRStore { return flakyCDRs{f.Store.CDRs(), f.fails} }

type flakyCDRs struct {
	store.CDRStore
	fails *atomic.Int32
}

// Batch fails a whole transaction (the batched mode); Open a single
// statement (the statement mode).
func (f flakyCDRs) Batch(ctx context.Context, fn func(store.CDRStore) error) error {
	if f.fails.Add(-1) >= 0 {
		return errFlaky
	}
	return f.CDRStore.Batch(ctx, fn)
}

func (f flakyCDRs) Open(ctx context.Context, c store.CDR) (int64, error) {
	if f.fails.Add(-1) >= 0 {
		return 0, errFlaky
	}
	return f.CDRStore.Open(ctx, c)
}

// Failed writes are retried a bounded number of times; callers only wait
// in Start.
func TestRetries(t *testing.T) {
	for _, m := range modes()[1:] {
		t.Run(m.name, func(t *testing.T) {
			st := openStore(t, t.TempDir()+"/sentral.db")
			fails := &atomic.Int32{}
			fails.Store(2)
			rec := startRecorder(t, flaky{st, fails}, Options{RetryBackoff: time.Millisecond, MaxRetries: 2, Mode: m.mode})
			call, err := rec.Start(context.Background(), cdr("retried@test", "1", "2", base))
			if err != nil {
				t.Fatalf("Start after two failures: %v", err)
			}
			if get(t, st, call.ID()).CallID != "retried@test" {
				t.Fatal("record not written")
			}
			fails.Store(3) // one more than MaxRetries allows
			_, err = rec.Start(context.Background(), cdr("lost@test", "1", "2", base))
			if !errors.Is(err, errFlaky) {
				t.Fatalf("Start after three failures = %v, want the store's error", err)
			}
			if err := rec.stop(t); err != nil {
				t.Fatal(err)
			}
			if s := rec.Stats(); s.Failed != 1 || s.Written != 1 {
				t.Fatalf("Stats = %+v", s)
			}
		})
	}
}

// A full queue drops operations and counts them instead of blocking.
func TestQueueFull(t *testing.T) {
	st := openStore(t, t.TempDir()+"/sentral.db")
	rec := New(st, nil, Options{QueueSize: 2}) // not running: the queue only fills
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c1, err := rec.Start(ctx, cdr("q1@test", "1", "2", base))
	if c1 == nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("first Start = %v, %v", c1, err)
	}
	rec.Answered(c1, base)
	if _, err := rec.Start(ctx, cdr("q2@test", "1", "2", base)); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("Start on a full queue = %v, want ErrQueueFull", err)
	}
	rec.Ended(c1, base, store.DispositionFailed, 0, "")
	if s := rec.Stats(); s.Dropped != 2 || s.Queued != 2 {
		t.Fatalf("Stats = %+v", s)
	}
	r := runRecorder(t, rec)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	if got := list(t, st); len(got) != 1 || got[0].AnswerTime == nil || got[0].State != store.CDROpen {
		t.Fatalf("records = %+v", got)
	}
}

func TestRunTwice(t *testing.T) {
	rec := New(openStore(t, t.TempDir()+"/sentral.db"), nil, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := rec.Run(ctx); err != nil {
		t.Fatalf("Run with nothing queued: %v", err)
	}
	if err := rec.Run(ctx); err == nil {
		t.Fatal("second Run did not fail")
	}
}
