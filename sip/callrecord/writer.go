package callrecord

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/store"
)

// opKind is what an operation does to a record.
type opKind int

const (
	opOpen opKind = iota
	opAnswer
	opClose
	opRoute
)

func (k opKind) String() string {
	switch k {
	case opOpen:
		return "open"
	case opAnswer:
		return "answer"
	case opClose:
		return "close"
	case opRoute:
		return "route"
	}
	return "unknown"
}

// op is one queued write.
type op struct {
	kind   opKind
	call   *Call
	cdr    store.CDR // opOpen
	at     time.Time // opAnswer, opClose
	disp   store.Disposition
	code   int
	reason string
	trunk  *int64 // opRoute; its name is in reason
}

// shard is one writer's queue. A call's operations all go to one shard,
// in the order they were made, which is what lets Answered and Ended be
// queued before the record's Open is written.
type shard struct {
	r *Recorder

	mu      sync.Mutex
	pending []op
	stopped bool // set by the final flush; later operations are dropped

	kick chan struct{} // the queue became non-empty
	full chan struct{} // the queue holds a full batch
}

// Run writes queued operations until ctx ends, then flushes what is still
// queued (for up to Options.ShutdownTimeout) and returns. Operations that
// could not be written by then are lost, logged and reported in the error.
// Run may be called only once.
func (r *Recorder) Run(ctx context.Context) error {
	if !r.running.CompareAndSwap(false, true) {
		return errors.New("callrecord: Run called twice")
	}
	// Writes do not end with ctx: the final flush needs them. They end
	// ShutdownTimeout after it, which also cuts short a batch in progress.
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	var wg sync.WaitGroup
	for _, sh := range r.shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sh.run(ctx, wctx)
		}()
	}
	<-ctx.Done()
	failedBefore := r.failed.Load()
	deadline := time.AfterFunc(r.opt.ShutdownTimeout, cancel)
	defer deadline.Stop()
	wg.Wait()
	if lost := r.failed.Load() - failedBefore; lost > 0 {
		r.log.Error("call record operations lost at shutdown", zap.Uint64("operations", lost))
		return fmt.Errorf("callrecord: %d operations could not be written at shutdown", lost)
	}
	r.log.Debug("call records flushed at shutdown")
	return nil
}

// run is one writer goroutine: it waits for work, lets a batch gather for
// FlushInterval (when batching in transactions), writes it, and on ctx's
// end flushes the rest.
func (sh *shard) run(ctx, wctx context.Context) {
	r := sh.r
	linger := r.opt.Mode == ModeTransactions && r.opt.FlushInterval > 0
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		if ctx.Err() != nil {
			sh.shutdown(wctx)
			return
		}
		if sh.len() == 0 {
			select {
			case <-sh.kick:
			case <-ctx.Done():
			}
			continue
		}
		if linger && sh.len() < r.opt.MaxBatch {
			timer.Reset(r.opt.FlushInterval)
			select {
			case <-timer.C:
			case <-sh.full:
				timer.Stop()
			case <-ctx.Done():
				timer.Stop()
			}
		}
		sh.write(wctx, sh.take())
	}
}

// shutdown stops the queue and writes everything in it.
func (sh *shard) shutdown(wctx context.Context) {
	sh.mu.Lock()
	sh.stopped = true
	sh.mu.Unlock()
	for {
		ops := sh.take()
		if len(ops) == 0 {
			return
		}
		sh.write(wctx, ops)
	}
}

func (sh *shard) len() int {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return len(sh.pending)
}

// take removes up to MaxBatch operations from the head of the queue.
func (sh *shard) take() []op {
	sh.mu.Lock()
	n := min(len(sh.pending), sh.r.opt.MaxBatch)
	ops := sh.pending[:n:n]
	sh.pending = sh.pending[n:]
	if len(sh.pending) == 0 {
		sh.pending = nil // let the array go with ops
	}
	if len(sh.pending) < sh.r.opt.MaxBatch {
		// A full signal from before this take would cut the next linger short.
		select {
		case <-sh.full:
		default:
		}
	}
	sh.mu.Unlock()
	sh.r.queued.Add(-int64(n))
	return ops
}

func (sh *shard) write(wctx context.Context, ops []op) {
	if len(ops) == 0 {
		return
	}
	if sh.r.opt.Mode == ModeTransactions {
		sh.writeTx(wctx, ops)
		return
	}
	for _, o := range ops {
		sh.writeOne(wctx, o)
	}
}

// tentative is a call's record state as written in an uncommitted
// transaction; it becomes the call's state only on commit.
type tentative struct {
	id    int64
	state callState
}

type view map[*Call]tentative

func (v view) get(c *Call) (int64, callState) {
	if t, ok := v[c]; ok {
		return t.id, t.state
	}
	return c.id, c.state
}

// apply writes o through cdrs, recording its effect in v. It reports
// whether anything was written: operations on a record that failed to open,
// or that is already closed, have nothing to act on.
func (sh *shard) apply(ctx context.Context, cdrs store.CDRStore, o op, v view) (bool, error) {
	c := o.call
	id, state := v.get(c)
	switch o.kind {
	case opOpen:
		id, err := cdrs.Open(ctx, o.cdr)
		if err != nil {
			return false, err
		}
		v[c] = tentative{id: id, state: stateOpen}
	case opAnswer:
		if state != stateOpen {
			return false, nil
		}
		if err := cdrs.Answer(ctx, id, o.at); err != nil {
			return false, err
		}
	case opRoute:
		if state != stateOpen {
			return false, nil
		}
		if err := cdrs.Route(ctx, id, o.trunk, o.reason); err != nil {
			return false, err
		}
	case opClose:
		if state != stateOpen {
			return false, nil
		}
		if err := cdrs.Close(ctx, id, o.at, o.disp, o.code, o.reason); err != nil {
			return false, err
		}
		v[c] = tentative{id: id, state: stateClosed}
	}
	return true, nil
}

// writeTx writes ops in one transaction (group commit). An operation the
// store refuses is dropped and the rest written again without it (on
// PostgreSQL the refusal has aborted the transaction); any other failure
// retries the whole batch, in order, up to MaxRetries times.
func (sh *shard) writeTx(wctx context.Context, ops []op) {
	r := sh.r
	settled := make([]bool, len(ops)) // refused: not part of the batch any more
	wrote := make([]bool, len(ops))
	attempt := 0
	for {
		v := view{}
		bad := -1
		ctx, cancel := context.WithTimeout(wctx, r.opt.WriteTimeout)
		err := r.st.CDRs().Batch(ctx, func(cdrs store.CDRStore) error {
			clear(v)
			for i, o := range ops {
				if settled[i] {
					continue
				}
				w, err := sh.apply(ctx, cdrs, o, v)
				if err != nil {
					bad = i
					return fmt.Errorf("%s call record %s: %w", o.kind, o.call.callID, err)
				}
				wrote[i] = w
			}
			return nil
		})
		cancel()
		if err == nil {
			r.batches.Add(1)
			sh.commit(v, ops, settled, wrote)
			return
		}
		if bad >= 0 && refused(err) {
			settled[bad] = true
			sh.fail(wctx, ops[bad], err)
			continue
		}
		attempt++
		if attempt > r.opt.MaxRetries || wctx.Err() != nil {
			for i, o := range ops {
				if !settled[i] {
					sh.fail(wctx, o, fmt.Errorf("gave up after %d attempts: %w", attempt, err))
				}
			}
			return
		}
		r.log.Warn("writing call records failed; retrying", zap.Int("operations", len(ops)),
			zap.Int("attempt", attempt), zap.Error(err))
		// Should the deadline pass meanwhile, the next attempt fails at
		// once and gives up.
		sleep(wctx, r.opt.RetryBackoff<<(attempt-1))
	}
}

// writeOne writes one operation on its own (PostgreSQL: no store-wide
// lock), retrying failures other than refusals up to MaxRetries times.
func (sh *shard) writeOne(wctx context.Context, o op) {
	r := sh.r
	for attempt := 0; ; {
		v := view{}
		ctx, cancel := context.WithTimeout(wctx, r.opt.WriteTimeout)
		w, err := sh.apply(ctx, r.st.CDRs(), o, v)
		cancel()
		if err != nil && attempt > 0 && o.kind == opClose && errors.Is(err, store.ErrConflict) {
			// The previous attempt closed it but its answer was lost.
			w, err = true, nil
			v[o.call] = tentative{id: o.call.id, state: stateClosed}
		}
		if err == nil {
			r.batches.Add(1)
			sh.commit(v, []op{o}, nil, []bool{w})
			return
		}
		err = fmt.Errorf("%s call record %s: %w", o.kind, o.call.callID, err)
		if refused(err) {
			sh.fail(wctx, o, err)
			return
		}
		attempt++
		if attempt > r.opt.MaxRetries || wctx.Err() != nil {
			sh.fail(wctx, o, fmt.Errorf("gave up after %d attempts: %w", attempt, err))
			return
		}
		r.log.Warn("writing a call record failed; retrying", zap.String("call_id", o.call.callID),
			zap.Int("attempt", attempt), zap.Error(err))
		sleep(wctx, r.opt.RetryBackoff<<(attempt-1))
	}
}

// commit makes a committed write's effects the calls' state and wakes the
// Start calls waiting for it.
func (sh *shard) commit(v view, ops []op, settled, wrote []bool) {
	for c, t := range v {
		if c.id != t.id {
			c.id = t.id // only before opened closes: ID reads it after
		}
		c.state = t.state
	}
	for i, o := range ops {
		if settled != nil && settled[i] {
			continue
		}
		if wrote[i] {
			sh.r.written.Add(1)
		}
		if o.kind == opOpen {
			close(o.call.opened)
		}
	}
}

// fail gives up on o: counted, logged, and for an Open the call's later
// operations are skipped and Start is told. Once the shutdown deadline has
// passed, Run logs the total instead of each operation.
func (sh *shard) fail(wctx context.Context, o op, err error) {
	sh.r.failed.Add(1)
	if wctx.Err() == nil {
		sh.r.log.Error("call record operation failed", zap.String("call_id", o.call.callID),
			zap.Int64("tenant", o.call.tenant), zap.String("op", o.kind.String()), zap.Error(err))
	}
	if o.kind == opOpen {
		o.call.state = stateFailed
		o.call.openErr = fmt.Errorf("start call record %s: %w", o.call.callID, err)
		close(o.call.opened)
	}
}

// refused says whether the store refused a write for its content, which no
// retry can change.
func refused(err error) bool {
	for _, kind := range []error{store.ErrInvalid, store.ErrNotFound, store.ErrConflict, store.ErrExists, store.ErrInUse} {
		if errors.Is(err, kind) {
			return true
		}
	}
	return false
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
