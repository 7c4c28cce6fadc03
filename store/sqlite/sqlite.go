// Package sqlite is Sentral's embedded store: one SQLite file, opened with
// the pure-Go modernc.org/sqlite driver (no cgo).
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/sentralpbx/sentral/store"
	"github.com/sentralpbx/sentral/store/sqlstore"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Options tune the opened store.
type Options = sqlstore.Options

// pragmas: busy_timeout makes writers of several processes queue instead
// of failing, and comes first so that even switching a fresh file to WAL
// waits for a concurrent opener; WAL lets readers run beside the writer;
// _txlock=immediate takes the write lock at BEGIN, which is what
// serializes invariant checks.
const pragmas = "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_txlock=immediate&_time_format=sqlite"

// Open opens (creating it and its directory if needed) and migrates the
// SQLite database at path.
func Open(ctx context.Context, path string, opt Options) (*sqlstore.Store, error) {
	path = strings.TrimPrefix(path, "sqlite://")
	path = strings.TrimPrefix(path, "file:")
	memory := path == ":memory:" || path == ""
	if !memory {
		if dir := filepath.Dir(path); dir != "" {
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return nil, fmt.Errorf("open sqlite store: create directory: %w", err)
			}
		}
	}
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + pragmas
	if memory {
		dsn = "file::memory:?" + pragmas
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	if memory {
		// Every connection to :memory: is a database of its own.
		db.SetMaxOpenConns(1)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	migrations, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite store: %w", err)
	}
	s, err := sqlstore.Open(ctx, db, dialect{}, migrations, opt)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	return s, nil
}

// dialect is SQLite's side of sqlstore.Dialect.
type dialect struct{}

func (dialect) Name() string { return "sqlite" }

// BeginWrite has nothing to do: _txlock=immediate took the write lock.
func (dialect) BeginWrite(context.Context, *sql.Tx) error { return nil }

func (dialect) AfterChange(context.Context, *sql.Tx, int64) error { return nil }

func (dialect) Classify(err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return nil
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return store.ErrExists
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return store.ErrInUse
	}
	return nil
}

// Listen has no wake-up source: watchers poll.
func (dialect) Listen(context.Context, func(), func(error)) {}

// LockMigrations needs no extra lock: each migration transaction is
// BEGIN IMMEDIATE, and re-reads the applied versions once it holds it.
func (dialect) LockMigrations(context.Context, *sql.Conn) (func(), error) { return func() {}, nil }

func (dialect) MigrationsTableDDL() string {
	return `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMP NOT NULL)`
}

func (dialect) DefaultPoll() time.Duration { return 250 * time.Millisecond }
