// Package sqlstore is the one implementation of store.Store over
// database/sql. The SQLite and PostgreSQL back ends share its SQL text
// ($n placeholders, RETURNING) and differ only through a Dialect.
package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"go.uber.org/zap"
)

// Dialect is what a back end tells the shared store about its database.
type Dialect interface {
	// Name is the value of Store.Backend: "sqlite" or "postgres".
	Name() string
	// BeginWrite runs first in every write transaction. It must serialize
	// writers so invariant checks cannot race (SQLite already holds the
	// write lock from BEGIN IMMEDIATE; PostgreSQL takes an advisory lock).
	BeginWrite(ctx context.Context, tx *sql.Tx) error
	// AfterChange runs in the transaction that appended change seq, so
	// listeners in other processes can be woken on commit.
	AfterChange(ctx context.Context, tx *sql.Tx, seq int64) error
	// Classify maps a driver error to store.ErrExists (unique violation)
	// or store.ErrInUse (foreign-key violation); nil when it is neither.
	Classify(err error) error
	// Listen blocks until ctx ends, calling wake whenever other writers may
	// have committed changes (and after every reconnect), and warn when the
	// wake-up source fails (polling covers the gap). Dialects without a
	// wake-up source return at once and rely on polling.
	Listen(ctx context.Context, wake func(), warn func(error))
	// LockMigrations takes the cross-process migration lock on conn and
	// returns its release. Migrations then run in transactions on conn.
	LockMigrations(ctx context.Context, conn *sql.Conn) (release func(), err error)
	// MigrationsTableDDL creates schema_migrations if it is missing.
	MigrationsTableDDL() string
	// DefaultPoll is the change-log poll period when Options leaves it zero.
	DefaultPoll() time.Duration
}

// Options tune an opened store.
type Options struct {
	Logger *zap.Logger
	// PollInterval is how often Watch polls the change log. Zero means the
	// dialect's default (250ms for SQLite; a safety net besides
	// LISTEN/NOTIFY for PostgreSQL).
	PollInterval time.Duration
}
