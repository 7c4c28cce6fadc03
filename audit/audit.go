// Package audit records who did what, when and from where: every admin
// and operator action, in the store's audit log (store.AuditStore).
//
// A Recorder takes entries from request handlers without making them
// wait for the database: Record queues an entry for Run's goroutine, and
// writes it itself when the queue is full or Run has ended, so an entry
// is never dropped for want of room. Run also purges entries older than
// the retention, hourly.
package audit

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/store"
)

// Store is what a Recorder needs of the store; store.Store has it.
type Store interface {
	Audit() store.AuditStore
}

// Defaults of Options.
const (
	DefaultBuffer     = 1024
	DefaultPurgeEvery = time.Hour
	// writeTimeout bounds one write; a store that hangs longer has the
	// failure logged rather than holding a request or the shutdown.
	writeTimeout = 5 * time.Second
)

// Options tune a Recorder; zero values take the defaults.
type Options struct {
	// Retention is how long entries are kept; Run purges older ones
	// every PurgeEvery. Zero or negative keeps them forever.
	Retention  time.Duration
	PurgeEvery time.Duration
	// Buffer is how many entries may wait for Run's goroutine.
	Buffer int
	// Log receives write and purge failures.
	Log *zap.Logger
	// Now is the clock (tests inject one); default time.Now.
	Now func() time.Time
}

// Recorder writes audit entries. It is safe for concurrent use; a nil
// *Recorder records nothing.
type Recorder struct {
	st  Store
	opt Options
	ch  chan store.AuditEntry

	mu      sync.RWMutex
	stopped bool
}

// New returns a Recorder over st. Start Run to write entries in the
// background; until then (and after it) Record writes them itself once
// the buffer is full.
func New(st Store, opt Options) *Recorder {
	if opt.Buffer <= 0 {
		opt.Buffer = DefaultBuffer
	}
	if opt.PurgeEvery <= 0 {
		opt.PurgeEvery = DefaultPurgeEvery
	}
	if opt.Log == nil {
		opt.Log = zap.NewNop()
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Recorder{st: st, opt: opt, ch: make(chan store.AuditEntry, opt.Buffer)}
}

// Record stores e: a zero e.At is set to now (the time of the action,
// not of the write). It queues e for Run, or writes it before returning
// when the queue is full or Run has ended.
func (r *Recorder) Record(e store.AuditEntry) {
	if r == nil {
		return
	}
	if e.At.IsZero() {
		e.At = r.opt.Now().UTC()
	}
	r.mu.RLock()
	if !r.stopped {
		select {
		case r.ch <- e:
			r.mu.RUnlock()
			return
		default:
		}
	}
	r.mu.RUnlock()
	r.write(e)
}

// Run writes queued entries and purges old ones until ctx ends, then
// writes what is still queued and returns nil. Entries recorded after
// that are written by Record itself.
func (r *Recorder) Run(ctx context.Context) error {
	purge := time.NewTicker(r.opt.PurgeEvery)
	defer purge.Stop()
	r.purge()
	for {
		select {
		case e := <-r.ch:
			r.write(e)
		case <-purge.C:
			r.purge()
		case <-ctx.Done():
			r.mu.Lock()
			r.stopped = true
			r.mu.Unlock()
			// No sender holds the read lock now, so nothing more arrives.
			for {
				select {
				case e := <-r.ch:
					r.write(e)
				default:
					return nil
				}
			}
		}
	}
}

func (r *Recorder) write(e store.AuditEntry) {
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	if err := r.st.Audit().Append(ctx, e); err != nil {
		r.opt.Log.Error("audit entry not written", zap.Error(err), zap.String("action", e.Action),
			zap.String("actor", e.Actor), zap.String("target", e.Target), zap.String("src", e.Source),
			zap.String("outcome", e.Outcome), zap.Time("at", e.At))
	}
}

func (r *Recorder) purge() {
	if r.opt.Retention <= 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	before := r.opt.Now().Add(-r.opt.Retention)
	n, err := r.st.Audit().Purge(ctx, before)
	switch {
	case err != nil:
		r.opt.Log.Error("audit log purge failed", zap.Error(err))
	case n > 0:
		r.opt.Log.Info("purged audit log", zap.Int("entries", n), zap.Time("before", before))
	}
}

// Operator is the actor of an operator's actions: "operator:kari".
func Operator(username string) string { return "operator:" + username }

// CLI is the actor of an admin command run as a Unix user: "cli:root".
func CLI(user string) string { return "cli:" + user }

// AdminAPI is the actor of admin API requests (the API is unauthenticated,
// on loopback: whoever can reach it is an admin of this host).
const AdminAPI = "admin-api"

// Local is the source of actions taken on the server's host (the CLI).
const Local = "local"

// Detail renders a small JSON object of key, value pairs (an odd last
// key gets an empty value). Never pass a password or secret.
func Detail(kv ...string) string {
	if len(kv) == 0 {
		return ""
	}
	m := make(map[string]string, (len(kv)+1)/2)
	for i := 0; i < len(kv); i += 2 {
		v := ""
		if i+1 < len(kv) {
			v = kv[i+1]
		}
		m[kv[i]] = v
	}
	b, _ := json.Marshal(m) // a map of strings always marshals
	return string(b)
}
