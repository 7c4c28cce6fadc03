package location

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/store"
)

// warnEvery limits how often a store that keeps failing is logged.
const warnEvery = 10 * time.Second

// Run writes changes to the store every FlushInterval and purges expired
// bindings every PurgeInterval until ctx ends, then flushes once more (for
// up to 10 s) so a clean shutdown loses nothing. A failed write is logged
// and retried on the next tick; callers never wait for it. Run returns
// the final flush's error, if any; it may be called only once.
func (s *Service) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("location: Run called twice")
	}
	flushT := time.NewTicker(s.opt.FlushInterval)
	defer flushT.Stop()
	purgeT := time.NewTicker(s.opt.PurgeInterval)
	defer purgeT.Stop()
	refreshT := time.NewTicker(s.opt.RefreshInterval)
	defer refreshT.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finalFlushTimeout)
			defer cancel()
			if err := s.flush(fctx, true); err != nil {
				s.log.Error("final flush failed: registrations since the last flush are lost", zap.Error(err))
				return fmt.Errorf("location: final flush: %w", err)
			}
			return nil
		case <-flushT.C:
			s.report(s.flush(ctx, false))
		case <-refreshT.C:
			s.report(s.flush(ctx, true))
		case <-purgeT.C:
			s.purge(ctx)
		}
	}
}

// report logs flush failures once when they start, then at most every
// warnEvery, and once when the store recovers.
func (s *Service) report(err error) {
	now := time.Now()
	switch {
	case err == nil && !s.failingSince.IsZero():
		s.log.Info("store writes recovered", zap.Duration("failed_for", now.Sub(s.failingSince)))
		s.failingSince = time.Time{}
	case err == nil:
	case s.failingSince.IsZero() || now.Sub(s.lastWarn) >= warnEvery:
		if s.failingSince.IsZero() {
			s.failingSince = now
		}
		s.lastWarn = now
		s.log.Warn("writing bindings failed; retrying every flush interval",
			zap.Error(err), zap.Duration("failing_for", now.Sub(s.failingSince)))
	}
}

// op is one pending write, as taken from the dirty set.
type op struct {
	k    aorKey
	wipe bool
	save []store.Binding // current values of present keys
	del  []string        // keys no longer in memory
}

// take empties the dirty sets (and, with refreshes, the refreshed sets)
// and returns what to write, each AOR's current state read under its
// shard's lock.
func (s *Service) take(refreshes bool) []op {
	var ops []op
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		if len(sh.dirty) == 0 && (!refreshes || len(sh.lazy) == 0) {
			sh.mu.Unlock()
			continue
		}
		collect := func(k aorKey, o *op, keys map[string]struct{}) {
			es := sh.aors[k]
			for key := range keys {
				if j := index(es, key); j >= 0 {
					o.save = append(o.save, es[j].b)
					es[j].stored = es[j].b.Expires
				} else {
					o.del = append(o.del, key)
				}
			}
		}
		for k, p := range sh.dirty {
			o := op{k: k, wipe: p.wipe}
			collect(k, &o, p.keys)
			if refreshes {
				if lz := sh.lazy[k]; lz != nil {
					for key := range p.keys {
						delete(lz, key) // already taken
					}
					collect(k, &o, lz)
					delete(sh.lazy, k)
				}
			}
			ops = append(ops, o)
		}
		if refreshes {
			for k, lz := range sh.lazy {
				o := op{k: k}
				collect(k, &o, lz)
				ops = append(ops, o)
			}
			sh.lazy = make(map[aorKey]map[string]struct{}, len(sh.lazy))
		}
		sh.dirty = make(map[aorKey]*pending, len(sh.dirty))
		sh.mu.Unlock()
	}
	return ops
}

// requeue marks failed writes dirty again. Keys mean "write what memory
// holds then", so later changes of the same keys merge in correctly.
func (s *Service) requeue(ops []op) {
	for _, o := range ops {
		keys := make([]string, 0, len(o.save)+len(o.del))
		for _, b := range o.save {
			keys = append(keys, store.BindingKey(b))
		}
		keys = append(keys, o.del...)
		sh := s.shard(o.k)
		sh.mu.Lock()
		sh.markLocked(o.k, o.wipe, keys)
		sh.mu.Unlock()
	}
}

// flush writes every pending change (with refreshes, also the collected
// refreshes): per AOR the wipe and the deletions
// first (they happened before the current state), then the saves in
// batches of MaxBatch. On the first failure it puts back what was not
// written and returns the error.
func (s *Service) flush(ctx context.Context, refreshes bool) error {
	ops := s.take(refreshes)
	if len(ops) == 0 {
		return nil
	}
	for i, o := range ops {
		var err error
		if o.wipe {
			err = s.st.DeleteAOR(ctx, o.k.tenant, o.k.number)
		}
		if err == nil && len(o.del) > 0 {
			err = s.st.Delete(ctx, o.k.tenant, o.k.number, o.del)
		}
		if err != nil {
			// ops[:i] had their deletions written; their saves are pending.
			s.requeue(ops)
			return fmt.Errorf("delete bindings of %s@%d: %w", o.k.number, o.k.tenant, err)
		}
		ops[i].wipe, ops[i].del = false, nil
	}
	var batch []store.Binding
	var batchOps []op // what batch came from, to requeue on failure
	saved := 0
	write := func(rest []op) error {
		if len(batch) == 0 {
			return nil
		}
		if err := s.st.Save(ctx, batch); err != nil {
			s.requeue(append(batchOps, rest...))
			return fmt.Errorf("save %d bindings: %w", len(batch), err)
		}
		saved += len(batch)
		batch, batchOps = batch[:0], batchOps[:0]
		return nil
	}
	for i, o := range ops {
		for len(o.save) > 0 {
			n := min(len(o.save), s.opt.MaxBatch-len(batch))
			batch = append(batch, o.save[:n]...)
			batchOps = append(batchOps, op{k: o.k, save: o.save[:n]})
			o.save = o.save[n:]
			if len(batch) >= s.opt.MaxBatch {
				rest := append([]op{{k: o.k, save: o.save}}, ops[i+1:]...)
				if err := write(rest); err != nil {
					return err
				}
			}
		}
	}
	if err := write(nil); err != nil {
		return err
	}
	if saved > 0 {
		s.log.Debug("flushed bindings", zap.Int("saved", saved), zap.Int("aors", len(ops)))
	}
	if s.opt.OnFlushed != nil {
		aors := make([]AOR, len(ops))
		for i, o := range ops {
			aors[i] = AOR{o.k.tenant, o.k.number}
		}
		s.opt.OnFlushed(aors)
	}
	return nil
}

// purge drops expired bindings from memory, telling OnChange, and deletes
// expired rows from the store (including ones memory never held).
func (s *Service) purge(ctx context.Context) {
	now := s.now()
	type change struct {
		k  aorKey
		bs []store.Binding
	}
	var changes []change
	dropped := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for k, es := range sh.aors {
			keep := es[:0]
			for _, e := range es {
				if e.b.Expires.After(now) {
					keep = append(keep, e)
				}
			}
			if len(keep) == len(es) {
				continue
			}
			dropped += len(es) - len(keep)
			clear(es[len(keep):]) // let the dropped Paths be collected
			if len(keep) == 0 {
				delete(sh.aors, k)
			} else {
				sh.aors[k] = keep
			}
			changes = append(changes, change{k, live(keep, now)})
		}
		sh.mu.Unlock()
	}
	for _, c := range changes {
		s.changed(c.k.tenant, c.k.number, c.bs)
	}
	n, err := s.st.Purge(ctx, now)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("purging expired bindings from the store failed; retrying at the next purge", zap.Error(err))
		}
		return
	}
	if dropped > 0 || n > 0 {
		s.log.Info("purged expired bindings", zap.Int("memory", dropped), zap.Int("store", n))
	}
}
