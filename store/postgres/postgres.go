// Package postgres is Sentral's PostgreSQL store, for clusters: several
// sentral processes share one database and follow its change log through
// LISTEN/NOTIFY.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/sentralpbx/sentral/store"
	"github.com/sentralpbx/sentral/store/sqlstore"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Options tune the opened store.
type Options = sqlstore.Options

// Advisory lock keys ("Sentral" in ASCII, plus one). Every write
// transaction takes writeLock so invariant checks never race; migrations
// hold migrateLock for the whole run.
const (
	writeLock   int64 = 0x53656e7472616c
	migrateLock int64 = 0x53656e7472616d
)

// channel is the NOTIFY channel carrying new change sequence numbers.
const channel = "sentral_changes"

// Open connects to the database named by dsn (a postgres:// URL or a
// key=value string) and migrates it.
func Open(ctx context.Context, dsn string, opt Options) (*sqlstore.Store, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres store: parse DSN: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(4)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open postgres store %s@%s/%s: %w", cfg.User, cfg.Host, cfg.Database, err)
	}
	migrations, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open postgres store: %w", err)
	}
	s, err := sqlstore.Open(ctx, db, &dialect{cfg: cfg}, migrations, opt)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open postgres store %s@%s/%s: %w", cfg.User, cfg.Host, cfg.Database, err)
	}
	return s, nil
}

// dialect is PostgreSQL's side of sqlstore.Dialect.
type dialect struct {
	cfg *pgx.ConnConfig // for the dedicated LISTEN connection
}

func (*dialect) Name() string { return "postgres" }

func (*dialect) BeginWrite(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", writeLock)
	return err
}

// AfterChange queues a notification; PostgreSQL delivers it on commit and
// drops it on rollback, which is exactly when listeners should wake.
func (*dialect) AfterChange(ctx context.Context, tx *sql.Tx, seq int64) error {
	_, err := tx.ExecContext(ctx, "SELECT pg_notify($1, $2)", channel, strconv.FormatInt(seq, 10))
	return err
}

func (*dialect) Classify(err error) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return nil
	}
	switch pe.Code {
	case "23505":
		return store.ErrExists
	case "23503":
		return store.ErrInUse
	}
	return nil
}

// Listen keeps a dedicated connection LISTENing, reconnecting after
// failures, and wakes the watchers on every notification and reconnect
// (a reconnect may have missed notifications).
func (d *dialect) Listen(ctx context.Context, wake func(), warn func(error)) {
	for {
		err := d.listenOnce(ctx, wake)
		if ctx.Err() != nil {
			return
		}
		warn(err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

func (d *dialect) listenOnce(ctx context.Context, wake func()) error {
	conn, err := pgx.ConnectConfig(ctx, d.cfg)
	if err != nil {
		return fmt.Errorf("listen: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+channel); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	wake()
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return fmt.Errorf("listen: wait: %w", err)
		}
		wake()
	}
}

func (*dialect) LockMigrations(ctx context.Context, conn *sql.Conn) (func(), error) {
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", migrateLock); err != nil {
		return nil, err
	}
	return func() {
		// A session lock outlives errors: release it explicitly, even if
		// ctx has ended, before the connection returns to the pool.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_, _ = conn.ExecContext(ctx, "SELECT pg_advisory_unlock($1)", migrateLock)
	}, nil
}

func (*dialect) MigrationsTableDDL() string {
	return `CREATE TABLE IF NOT EXISTS schema_migrations (version bigint PRIMARY KEY, applied_at timestamptz NOT NULL)`
}

// DefaultPoll is the safety-net poll besides LISTEN/NOTIFY.
func (*dialect) DefaultPoll() time.Duration { return time.Second }
