// Package backend opens the store a DSN names: a postgres:// URL selects
// PostgreSQL, anything else is a SQLite file path.
package backend

import (
	"context"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/store"
	"github.com/sentralpbx/sentral/store/postgres"
	"github.com/sentralpbx/sentral/store/sqlite"
	"github.com/sentralpbx/sentral/store/sqlstore"
)

// Options tune an opened store.
type Options struct {
	Logger *zap.Logger
	// PollInterval is how often Watch polls the change log (SQLite always;
	// PostgreSQL as a safety net besides LISTEN/NOTIFY). Zero means 250ms.
	PollInterval time.Duration
}

// Open opens and migrates the store named by dsn.
func Open(ctx context.Context, dsn string, opt Options) (store.Store, error) {
	o := sqlstore.Options{Logger: opt.Logger, PollInterval: opt.PollInterval}
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return postgres.Open(ctx, dsn, o)
	}
	return sqlite.Open(ctx, dsn, o)
}
