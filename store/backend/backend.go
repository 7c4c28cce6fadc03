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
	// PollInterval is how often Watch polls a SQLite change log; zero means
	// 250ms. PostgreSQL is woken by LISTEN/NOTIFY and keeps its own
	// once-a-second safety-net poll, so a fast poll there would only add load.
	PollInterval time.Duration
}

// Open opens and migrates the store named by dsn.
func Open(ctx context.Context, dsn string, opt Options) (store.Store, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return postgres.Open(ctx, dsn, sqlstore.Options{Logger: opt.Logger})
	}
	return sqlite.Open(ctx, dsn, sqlstore.Options{Logger: opt.Logger, PollInterval: opt.PollInterval})
}
