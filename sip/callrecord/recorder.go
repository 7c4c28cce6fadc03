// Package callrecord writes the call detail records of the SIP proxy: one
// record per call attempt, written open when the call starts (durably,
// before Start returns) and closed when it ends, so that a crash loses no
// call; the records a crash leaves open are closed on restart
// (CloseOrphans).
//
// Writes go through queues owned by Run's writer goroutines; callers never
// wait for I/O except in Start. One transaction (CDRStore.Batch, which
// takes no admin lock, so records never wait for an import or for another
// node) carries every operation a writer took within FlushInterval: group
// commit, one fsync for many calls. SQLite has one writer; PostgreSQL
// several, committing in parallel.
package callrecord

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/store"
)

// Store is what the recorder needs of store.Store.
type Store interface {
	CDRs() store.CDRStore
	Backend() string
}

// Options tune a Recorder. Zero values take the defaults.
type Options struct {
	// Node is stamped on records whose Node is empty; CloseOrphans finds a
	// crashed node's records by it.
	Node string
	// FlushInterval is how long a transaction-batching writer waits after
	// the first queued operation for more to share its commit; negative:
	// commit as soon as the writer is free. Default DefaultFlushInterval.
	FlushInterval time.Duration
	// MaxBatch caps the operations in one transaction; a full batch is
	// written at once. Default DefaultMaxBatch.
	MaxBatch int
	// QueueSize caps the operations waiting to be written; beyond it
	// operations are dropped and counted rather than blocking the call
	// path. Default DefaultQueueSize.
	QueueSize int
	// Writers is the number of writer goroutines. Default 1 on SQLite
	// (one writer at a time anyway) and DefaultPostgresWriters on PostgreSQL.
	Writers int
	// MaxRetries bounds how often a write that failed for a reason other
	// than the store refusing it is retried. Default DefaultMaxRetries;
	// negative: never.
	MaxRetries int
	// RetryBackoff is the pause before the first retry; it doubles for each
	// further one. Default DefaultRetryBackoff.
	RetryBackoff time.Duration
	// WriteTimeout bounds one transaction or statement, so a hung
	// connection cannot stall a writer for good. Default DefaultWriteTimeout.
	WriteTimeout time.Duration
	// ShutdownTimeout bounds the final flush after Run's context ends.
	// Default DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
	// Mode says how queued operations are written; ModeAuto picks by the
	// store's back end.
	Mode Mode
}

// Defaults for Options. At 1,000 calls/s on SQLite a 1 ms FlushInterval
// still puts about ten operations in each commit while keeping Start
// around 3 ms; under heavier load batches fill to MaxBatch anyway (see
// BenchmarkRecorderPaced).
const (
	DefaultFlushInterval   = time.Millisecond
	DefaultMaxBatch        = 256
	DefaultQueueSize       = 1 << 16
	DefaultPostgresWriters = 8
	DefaultMaxRetries      = 5
	DefaultRetryBackoff    = 50 * time.Millisecond
	DefaultWriteTimeout    = 10 * time.Second
	DefaultShutdownTimeout = 5 * time.Second
)

// Mode says how writers apply the operations they take from the queue.
type Mode int

// Modes. Transactions give group commit (one commit, one fsync, for a whole
// batch) through CDRStore.Batch, which takes no admin lock. Statements
// commit one by one, for comparison.
const (
	ModeAuto         Mode = iota // ModeTransactions
	ModeTransactions             // one transaction per batch
	ModeStatements               // each operation in its own statement, on Writers connections
)

var (
	// ErrStopped is returned by Start once Run has returned.
	ErrStopped = errors.New("callrecord: recorder stopped")
	// ErrQueueFull is returned by Start when the write queue is full.
	ErrQueueFull = errors.New("callrecord: write queue full")
)

// warnEvery limits how often repeated drops are logged.
const warnEvery = 10 * time.Second

// Recorder writes call detail records. Its methods are safe for concurrent
// use; Run must be running for anything to be written.
type Recorder struct {
	st     Store
	log    *zap.Logger
	opt    Options
	shards []*shard
	next   atomic.Uint64 // round-robin shard choice

	running atomic.Bool
	queued  atomic.Int64 // operations in all shards' queues

	written, batches, dropped, failed atomic.Uint64

	warnMu   sync.Mutex
	lastWarn time.Time
	unwarned uint64 // drops since the last warning
}

// Stats are the recorder's counters, for metrics.
type Stats struct {
	Queued  int    // operations waiting to be written
	Written uint64 // operations written
	Batches uint64 // transactions committed (with ModeStatements: statements)
	Dropped uint64 // operations refused: queue full, or the recorder stopped
	Failed  uint64 // operations the store refused or that failed every retry
}

// Call is the handle of one recorded call attempt. A nil *Call is valid and
// ignored by Answered and Ended, so a call whose record could not be
// started can go on without special cases.
type Call struct {
	callID string
	tenant int64
	sh     *shard

	opened  chan struct{} // closed when the open record is durable or failed for good
	openErr error         // why it failed; set before opened closes
	id      int64         // the record's id; set before opened closes

	answered, ended atomic.Bool // Answered and Ended queue once

	// state is owned by the shard's writer goroutine.
	state callState
}

// callState is where a call's record stands in the store, as its writer knows it.
type callState int

const (
	statePending callState = iota // Open not written yet
	stateOpen
	stateClosed
	stateFailed // Open failed for good: later operations have nothing to act on
)

// ID returns the record's id once it is durable, else 0.
func (c *Call) ID() int64 {
	if c == nil {
		return 0
	}
	select {
	case <-c.opened:
		return c.id
	default:
		return 0
	}
}

// CallID returns the SIP Call-ID the record was started with.
func (c *Call) CallID() string {
	if c == nil {
		return ""
	}
	return c.callID
}

// New returns a Recorder writing to st. Nothing is written until Run runs.
func New(st Store, log *zap.Logger, opt Options) *Recorder {
	if log == nil {
		log = zap.NewNop()
	}
	if opt.FlushInterval == 0 {
		opt.FlushInterval = DefaultFlushInterval
	}
	if opt.MaxBatch <= 0 {
		opt.MaxBatch = DefaultMaxBatch
	}
	if opt.QueueSize <= 0 {
		opt.QueueSize = DefaultQueueSize
	}
	if opt.MaxRetries < 0 {
		opt.MaxRetries = 0
	} else if opt.MaxRetries == 0 {
		opt.MaxRetries = DefaultMaxRetries
	}
	if opt.RetryBackoff <= 0 {
		opt.RetryBackoff = DefaultRetryBackoff
	}
	if opt.WriteTimeout <= 0 {
		opt.WriteTimeout = DefaultWriteTimeout
	}
	if opt.ShutdownTimeout <= 0 {
		opt.ShutdownTimeout = DefaultShutdownTimeout
	}
	if opt.Mode == ModeAuto {
		opt.Mode = ModeTransactions
	}
	if opt.Writers <= 0 {
		// SQLite has one writer at a time anyway; PostgreSQL commits
		// batches in parallel.
		opt.Writers = 1
		if opt.Mode == ModeStatements || st.Backend() == "postgres" {
			opt.Writers = DefaultPostgresWriters
		}
	}
	r := &Recorder{st: st, log: log.With(zap.String("component", "callrecord")), opt: opt}
	r.shards = make([]*shard, opt.Writers)
	for i := range r.shards {
		r.shards[i] = &shard{r: r, kick: make(chan struct{}, 1), full: make(chan struct{}, 1)}
	}
	return r
}

// Stats returns the current counters.
func (r *Recorder) Stats() Stats {
	return Stats{
		Queued:  int(r.queued.Load()),
		Written: r.written.Load(),
		Batches: r.batches.Load(),
		Dropped: r.dropped.Load(),
		Failed:  r.failed.Load(),
	}
}

// Start records the start of a call and returns once the open record is
// durable, so a crash after the INVITE is forwarded cannot lose the call.
// Node (when empty) and StartTime (when zero: now) are filled in.
//
// When ctx ends first, Start returns the Call together with ctx's error:
// the record is still queued and will be written, and the Call may be used
// as usual; whether to go on with the call is the caller's choice (an
// emergency call must not be refused for book-keeping). Any other error
// comes with a nil Call: the store refused the record, the queue was full
// (ErrQueueFull) or the recorder has stopped (ErrStopped).
func (r *Recorder) Start(ctx context.Context, c store.CDR) (*Call, error) {
	if c.Node == "" {
		c.Node = r.opt.Node
	}
	if c.StartTime.IsZero() {
		c.StartTime = time.Now()
	}
	call := &Call{callID: c.CallID, tenant: c.TenantID, opened: make(chan struct{})}
	call.sh = r.shards[r.next.Add(1)%uint64(len(r.shards))]
	if err := r.enqueue(op{kind: opOpen, call: call, cdr: c}); err != nil {
		return nil, fmt.Errorf("start call record %s: %w", c.CallID, err)
	}
	select {
	case <-call.opened:
		if call.openErr != nil {
			return nil, call.openErr
		}
		return call, nil
	case <-ctx.Done():
		return call, fmt.Errorf("start call record %s: queued but not yet durable: %w", c.CallID, context.Cause(ctx))
	}
}

// Answered records when the call was answered (zero at: now). It queues
// the write and returns at once; only the first answer of a call counts,
// and none after Ended.
func (r *Recorder) Answered(c *Call, at time.Time) {
	if c == nil || c.ended.Load() || !c.answered.CompareAndSwap(false, true) {
		return
	}
	if at.IsZero() {
		at = time.Now()
	}
	_ = r.enqueue(op{kind: opAnswer, call: c, at: at})
}

// Routed records the trunk the call now goes out through (a failover to
// the next trunk). It queues the write and returns at once; it is ignored
// once the call ended.
func (r *Recorder) Routed(c *Call, trunkID int64, trunk string) {
	if c == nil || c.ended.Load() {
		return
	}
	id := trunkID
	_ = r.enqueue(op{kind: opRoute, call: c, trunk: &id, reason: trunk})
}

// Ended closes the call's record (zero at: now) with the disposition, the
// SIP status of the final response to the INVITE (0 if none was seen) and
// why it ended. It queues the write and returns at once; calls after the
// first are ignored.
func (r *Recorder) Ended(c *Call, at time.Time, d store.Disposition, sipCode int, reason string) {
	if c == nil || !c.ended.CompareAndSwap(false, true) {
		return
	}
	if at.IsZero() {
		at = time.Now()
	}
	_ = r.enqueue(op{kind: opClose, call: c, at: at, disp: d, code: sipCode, reason: reason})
}

// CloseOrphans closes the records node left open before startedAt, the
// calls a crash interrupted, and logs how many. Call it once at start-up
// with the time the process started, before any Start.
func (r *Recorder) CloseOrphans(ctx context.Context, node string, startedAt time.Time) (int, error) {
	n, err := r.st.CDRs().CloseOrphans(ctx, node, startedAt)
	if err != nil {
		return 0, fmt.Errorf("close orphaned call records of node %q: %w", node, err)
	}
	if n > 0 {
		r.log.Warn("closed call records left open by an earlier run", zap.String("node", node), zap.Int("records", n))
	} else {
		r.log.Info("no call records left open by an earlier run", zap.String("node", node))
	}
	return n, nil
}

// enqueue adds o to its call's shard, or counts it dropped when the queue
// is full or the shard has stopped. It never blocks on I/O.
func (r *Recorder) enqueue(o op) error {
	if r.queued.Add(1) > int64(r.opt.QueueSize) {
		r.queued.Add(-1)
		r.drop(o, ErrQueueFull)
		return ErrQueueFull
	}
	sh := o.call.sh
	sh.mu.Lock()
	if sh.stopped {
		sh.mu.Unlock()
		r.queued.Add(-1)
		r.drop(o, ErrStopped)
		return ErrStopped
	}
	sh.pending = append(sh.pending, o)
	n := len(sh.pending)
	sh.mu.Unlock()
	// Signals are level-like (buffer of one): a stale one costs the writer
	// a spare loop at most.
	if n == 1 {
		signal(sh.kick)
	}
	if n >= r.opt.MaxBatch {
		signal(sh.full)
	}
	return nil
}

// drop counts and logs an operation that will not be written: the first
// drop at once, then at most every warnEvery (a full queue would otherwise
// flood the log at the call rate).
func (r *Recorder) drop(o op, why error) {
	r.dropped.Add(1)
	r.warnMu.Lock()
	r.unwarned++
	now := time.Now()
	if now.Sub(r.lastWarn) < warnEvery {
		r.warnMu.Unlock()
		return
	}
	n := r.unwarned
	r.unwarned, r.lastWarn = 0, now
	r.warnMu.Unlock()
	r.log.Warn("call record operation dropped", zap.String("call_id", o.call.callID), zap.Int64("tenant", o.call.tenant),
		zap.String("op", o.kind.String()), zap.Error(why), zap.Uint64("dropped_since_last_warning", n))
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
