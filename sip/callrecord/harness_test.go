package callrecord

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/sentralpbx/sentral/store"
	"github.com/sentralpbx/sentral/store/backend"
	"github.com/sentralpbx/sentral/store/pgtest"
)

// The PostgreSQL half needs a server it may CREATE DATABASE on. Without
// one it is skipped loudly, and under CI it fails instead (the convention
// of store/postgres).
const pgSkipMsg = "*** callrecord PostgreSQL half SKIPPED: SENTRAL_TEST_PG is not set " +
	"(eval \"$(bash scripts/pg-test.sh start)\" to include it) ***"

func TestMain(m *testing.M) {
	if os.Getenv("SENTRAL_TEST_PG") == "" {
		fmt.Fprintln(os.Stderr, pgSkipMsg)
		if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
			fmt.Fprintln(tty, pgSkipMsg)
			tty.Close()
		}
	}
	os.Exit(m.Run())
}

// eachBackend runs fn against a fresh SQLite file and a fresh PostgreSQL
// database; dsn opens further handles on the same data.
func eachBackend(t *testing.T, fn func(t *testing.T, dsn string)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, filepath.Join(t.TempDir(), "sentral.db")) })
	t.Run("postgres", func(t *testing.T) { fn(t, pgtest.DSN(t, "callrecord_test")) })
}

// openStore opens one more handle on dsn, closed when the test ends.
func openStore(tb testing.TB, dsn string) store.Store {
	tb.Helper()
	st, err := backend.Open(context.Background(), dsn, backend.Options{})
	if err != nil {
		tb.Fatalf("open store %s: %v", dsn, err)
	}
	tb.Cleanup(func() { st.Close() })
	return st
}

// running is a Recorder with Run going; stop ends Run and returns its error.
type running struct {
	*Recorder
	cancel context.CancelFunc
	done   chan struct{} // closed when Run has returned
	err    error         // Run's error, once done is closed
}

func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case <-r.done:
		return r.err
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after its context ended")
		return nil
	}
}

func startRecorder(t *testing.T, st Store, opt Options) *running {
	t.Helper()
	rec := New(st, zaptest.NewLogger(t), opt)
	return runRecorder(t, rec)
}

func runRecorder(t *testing.T, rec *Recorder) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Recorder: rec, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.err = rec.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	return r
}

// cdr is a call of tenant 1 from caller to callee at start.
func cdr(callID, caller, callee string, start time.Time) store.CDR {
	return store.CDR{TenantID: 1, CallID: callID, Direction: store.DirectionInternal,
		Caller: caller, Callee: callee, Dialled: callee, Normalised: callee, StartTime: start}
}

// waitFor polls cond until it holds or 20 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 20s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func get(t *testing.T, st store.Store, id int64) store.CDR {
	t.Helper()
	c, err := st.CDRs().Get(context.Background(), id)
	if err != nil {
		t.Fatalf("Get %d: %v", id, err)
	}
	return c
}

func list(t *testing.T, st store.Store) []store.CDR {
	t.Helper()
	cs, err := st.CDRs().List(context.Background(), store.CDRFilter{})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	return cs
}

// base has microseconds only, so times read back compare exactly.
var base = time.Date(2026, 3, 2, 9, 30, 0, 123456000, time.UTC)

func ptr[T any](v T) *T { return &v }
