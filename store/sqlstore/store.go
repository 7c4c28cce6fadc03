package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/store"
)

// changeRetention is how long the change log keeps rows; followers that
// fall further behind reload everything anyway.
const changeRetention = 7 * 24 * time.Hour

// querier is what both *sql.DB and *sql.Tx offer.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// shared is the state every Store value of one opened database shares.
type shared struct {
	db   *sql.DB
	d    Dialect
	t    *tables
	log  *zap.Logger
	poll time.Duration

	// ctx ends on Close; every goroutine of the store watches it.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	wakeCh chan struct{} // closed and replaced on every wake-up
	closed bool

	stmtMu sync.Mutex
	stmts  map[string]*sql.Stmt // prepared once for the call path's hot statements
}

// txState is the state of one write transaction.
type txState struct {
	tx      *sql.Tx
	tenants map[int64]store.Tenant // tenants read in this tx, for cheap checks
	sp      int                    // savepoint counter
	changed bool                   // a change row was appended
}

// Store implements store.Store. The zero tx is the root store; InTx hands
// fn a copy bound to one transaction.
type Store struct {
	sh *shared
	tx *txState
}

var _ store.Store = (*Store)(nil)

// Open wraps an opened database: it runs the migrations in migrations
// (files named NNNN_description.sql), prunes the change log and starts the
// dialect's wake-up listener. Close closes db.
func Open(ctx context.Context, db *sql.DB, d Dialect, migrations fs.FS, opt Options) (*Store, error) {
	log := opt.Logger
	if log == nil {
		log = zap.NewNop()
	}
	log = log.With(zap.String("store", d.Name()))
	if err := migrate(ctx, db, d, migrations, log); err != nil {
		return nil, err
	}
	poll := opt.PollInterval
	if poll <= 0 {
		poll = d.DefaultPoll()
	}
	sctx, cancel := context.WithCancel(context.Background())
	sh := &shared{db: db, d: d, t: newTables(), log: log, poll: poll, ctx: sctx, cancel: cancel, wakeCh: make(chan struct{})}
	s := &Store{sh: sh}
	if err := s.prune(ctx); err != nil {
		cancel()
		return nil, err
	}
	sh.wg.Add(1)
	go func() {
		defer sh.wg.Done()
		d.Listen(sctx, sh.wake, func(err error) {
			log.Warn("change listener failed; polling until it reconnects", zap.Error(err))
		})
	}()
	return s, nil
}

// prune drops change rows older than the retention, but never the newest:
// LastChange must survive a quiet week.
func (s *Store) prune(ctx context.Context) error {
	cutoff := now().Add(-changeRetention)
	res, err := s.sh.db.ExecContext(ctx,
		`DELETE FROM changes WHERE at < $1 AND seq < (SELECT MAX(seq) FROM changes)`, cutoff)
	if err != nil {
		return fmt.Errorf("prune change log: %w", err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		s.sh.log.Info("pruned change log", zap.Int64("rows", n))
	}
	return nil
}

func (sh *shared) wake() {
	sh.mu.Lock()
	close(sh.wakeCh)
	sh.wakeCh = make(chan struct{})
	sh.mu.Unlock()
}

func (sh *shared) wakeups() <-chan struct{} {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.wakeCh
}

// now is the store's clock: UTC, microseconds, so both back ends round-trip
// timestamps exactly.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

func (s *Store) q() querier {
	if s.tx != nil {
		return s.tx.tx
	}
	return s.sh.db
}

// prepared returns query prepared once per store and usable in s's scope
// (its transaction, if any). Preparing costs SQLite more than running
// the statement, and the call path runs a few statements per call.
func (s *Store) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	sh := s.sh
	sh.stmtMu.Lock()
	st, ok := sh.stmts[query]
	if !ok {
		var err error
		if st, err = sh.db.PrepareContext(ctx, query); err != nil {
			sh.stmtMu.Unlock()
			return nil, err
		}
		if sh.stmts == nil {
			sh.stmts = map[string]*sql.Stmt{}
		}
		sh.stmts[query] = st
	}
	sh.stmtMu.Unlock()
	if s.tx != nil {
		// Closed by database/sql when the transaction ends.
		return s.tx.tx.StmtContext(ctx, st), nil
	}
	return st, nil
}

// Backend names the implementation.
func (s *Store) Backend() string { return s.sh.d.Name() }

// Close stops the watchers and the listener, then closes the database.
func (s *Store) Close() error {
	sh := s.sh
	sh.mu.Lock()
	if sh.closed {
		sh.mu.Unlock()
		return nil
	}
	sh.closed = true
	sh.mu.Unlock()
	sh.cancel()
	sh.wg.Wait()
	sh.stmtMu.Lock()
	for _, st := range sh.stmts {
		_ = st.Close()
	}
	sh.stmts = nil
	sh.stmtMu.Unlock()
	if err := sh.db.Close(); err != nil {
		return fmt.Errorf("close %s store: %w", sh.d.Name(), err)
	}
	return nil
}

// InTx runs fn in one transaction. Nested calls join the outer transaction
// under a savepoint, so a failing inner fn undoes only its own writes.
func (s *Store) InTx(ctx context.Context, fn func(tx store.Store) error) error {
	return s.write(ctx, func(tx *Store) error { return fn(tx) })
}

// write runs fn in a write transaction: a new one on the root store, a
// savepoint of the current one on a tx-bound store (so a failed operation
// inside InTx leaves the transaction usable and undoes only itself).
func (s *Store) write(ctx context.Context, fn func(tx *Store) error) (err error) {
	if s.tx != nil {
		return s.savepoint(ctx, fn)
	}
	tx, err := s.sh.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			_ = tx.Rollback()
		}
	}()
	if err := s.sh.d.BeginWrite(ctx, tx); err != nil {
		return fmt.Errorf("take write lock: %w", err)
	}
	txs := &Store{sh: s.sh, tx: &txState{tx: tx, tenants: map[int64]store.Tenant{}}}
	if err := fn(txs); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", s.classify(err))
	}
	committed = true
	if txs.tx.changed {
		// Local watchers need not wait for the next poll.
		s.sh.wake()
	}
	return nil
}

func (s *Store) savepoint(ctx context.Context, fn func(tx *Store) error) error {
	s.tx.sp++
	name := fmt.Sprintf("sentral_sp%d", s.tx.sp)
	if _, err := s.tx.tx.ExecContext(ctx, "SAVEPOINT "+name); err != nil {
		return fmt.Errorf("savepoint: %w", err)
	}
	// The tenant cache may hold rows written under the savepoint.
	saved := make(map[int64]store.Tenant, len(s.tx.tenants))
	for k, v := range s.tx.tenants {
		saved[k] = v
	}
	if err := fn(s); err != nil {
		s.tx.tenants = saved
		if _, rerr := s.tx.tx.ExecContext(context.WithoutCancel(ctx), "ROLLBACK TO SAVEPOINT "+name); rerr != nil {
			return errors.Join(err, fmt.Errorf("roll back savepoint: %w", rerr))
		}
		_, _ = s.tx.tx.ExecContext(context.WithoutCancel(ctx), "RELEASE SAVEPOINT "+name)
		return err
	}
	if _, err := s.tx.tx.ExecContext(ctx, "RELEASE SAVEPOINT "+name); err != nil {
		return fmt.Errorf("release savepoint: %w", err)
	}
	return nil
}

// classify turns a constraint violation the explicit checks missed into a
// store error kind; other errors pass through.
func (s *Store) classify(err error) error {
	if err == nil {
		return nil
	}
	if kind := s.sh.d.Classify(err); kind != nil {
		return fmt.Errorf("%w: %w", kind, err)
	}
	return err
}

// appendChange records one committed write in the change log.
func (s *Store) appendChange(ctx context.Context, e store.Entity, tenantID, id int64, key string, op store.Op) error {
	var seq int64
	err := s.tx.tx.QueryRowContext(ctx,
		`INSERT INTO changes (entity, tenant_id, entity_id, key, op, at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING seq`,
		string(e), tenantID, id, key, string(op), now()).Scan(&seq)
	if err != nil {
		return fmt.Errorf("append change: %w", err)
	}
	if err := s.sh.d.AfterChange(ctx, s.tx.tx, seq); err != nil {
		return fmt.Errorf("announce change: %w", err)
	}
	s.tx.changed = true
	return nil
}

// Changes returns up to limit changes with Seq > after, oldest first.
func (s *Store) Changes(ctx context.Context, after int64, limit int) ([]store.Change, error) {
	if limit <= 0 {
		limit = 1000
	}
	rows, err := s.q().QueryContext(ctx,
		`SELECT seq, entity, tenant_id, entity_id, key, op, at FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2`,
		after, limit)
	if err != nil {
		return nil, fmt.Errorf("read changes: %w", err)
	}
	defer rows.Close()
	var out []store.Change
	for rows.Next() {
		var c store.Change
		var ent, op string
		if err := rows.Scan(&c.Seq, &ent, &c.TenantID, &c.EntityID, &c.Key, &op, &c.At); err != nil {
			return nil, fmt.Errorf("read changes: %w", err)
		}
		c.Entity, c.Op, c.At = store.Entity(ent), store.Op(op), c.At.UTC()
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read changes: %w", err)
	}
	return out, nil
}

// LastChange returns the newest Seq, 0 when the log is empty.
func (s *Store) LastChange(ctx context.Context) (int64, error) {
	var seq sql.NullInt64
	if err := s.q().QueryRowContext(ctx, `SELECT MAX(seq) FROM changes`).Scan(&seq); err != nil {
		return 0, fmt.Errorf("read last change: %w", err)
	}
	return seq.Int64, nil
}

// Watch delivers every change with Seq > after in order. The goroutine it
// starts ends, closing the channel, when ctx ends or the store closes.
func (s *Store) Watch(ctx context.Context, after int64) <-chan store.Change {
	out := make(chan store.Change, 64)
	sh := s.sh
	sh.mu.Lock()
	if sh.closed {
		sh.mu.Unlock()
		close(out)
		return out
	}
	sh.wg.Add(1)
	sh.mu.Unlock()
	go func() {
		defer sh.wg.Done()
		defer close(out)
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		stop := context.AfterFunc(sh.ctx, cancel)
		defer stop()
		root := &Store{sh: sh}
		tick := time.NewTicker(sh.poll)
		defer tick.Stop()
		last := after
		for {
			// Take the wake-up channel before reading, so a notification
			// arriving during the read is not lost.
			woken := sh.wakeups()
			for {
				batch, err := root.Changes(ctx, last, 500)
				if err != nil {
					if ctx.Err() == nil {
						sh.log.Warn("watch: read change log", zap.Error(err))
					}
					break
				}
				for _, c := range batch {
					select {
					case out <- c:
						last = c.Seq
					case <-ctx.Done():
						return
					}
				}
				if len(batch) < 500 {
					break
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-woken:
			case <-tick.C:
			}
		}
	}()
	return out
}

// TenantByDomain finds the tenant owning a SIP domain.
func (s *Store) TenantByDomain(ctx context.Context, domain string) (store.Tenant, error) {
	return s.sh.t.tenants.findBy(ctx, s, "domain", domain)
}
