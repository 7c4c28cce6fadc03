package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"go.uber.org/zap"
)

// migration is one versioned schema step.
type migration struct {
	version int64
	name    string
	sql     string
}

func loadMigrations(fsys fs.FS) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var ms []migration
	for _, e := range entries {
		if e.IsDir() || path.Ext(e.Name()) != ".sql" {
			continue
		}
		num, _, _ := strings.Cut(e.Name(), "_")
		v, err := strconv.ParseInt(num, 10, 64)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must start with a positive version number", e.Name())
		}
		body, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("migrations %s and %s share version %d", ms[i-1].name, ms[i].name, ms[i].version)
		}
	}
	return ms, nil
}

// migrate brings the schema up to date. Every migration runs in its own
// transaction under the dialect's cross-process lock, and re-reads the
// applied versions inside it, so two processes opening a fresh database at
// once apply each step exactly once.
func migrate(ctx context.Context, db *sql.DB, d Dialect, fsys fs.FS, log *zap.Logger) error {
	ms, err := loadMigrations(fsys)
	if err != nil {
		return err
	}
	var known int64
	if len(ms) > 0 {
		known = ms[len(ms)-1].version
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migrate: connect: %w", err)
	}
	defer conn.Close()
	release, err := d.LockMigrations(ctx, conn)
	if err != nil {
		return fmt.Errorf("migrate: take lock: %w", err)
	}
	defer release()

	step := func(m *migration) error {
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("migrate: begin: %w", err)
		}
		defer tx.Rollback() //nolint:errcheck // after Commit this is a no-op
		if err := d.BeginWrite(ctx, tx); err != nil {
			return fmt.Errorf("migrate: lock: %w", err)
		}
		if _, err := tx.ExecContext(ctx, d.MigrationsTableDDL()); err != nil {
			return fmt.Errorf("migrate: create schema_migrations: %w", err)
		}
		var cur sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&cur); err != nil {
			return fmt.Errorf("migrate: read schema version: %w", err)
		}
		if cur.Int64 > known {
			return fmt.Errorf("database schema version %d is newer than this build of sentral supports (%d): upgrade sentral or use another database", cur.Int64, known)
		}
		if m == nil {
			return tx.Commit()
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = $1`, m.version).Scan(&n); err != nil {
			return fmt.Errorf("migrate: read schema version: %w", err)
		}
		if n > 0 {
			return nil
		}
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return fmt.Errorf("migrate: apply %s: %w", m.name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`, m.version, now()); err != nil {
			return fmt.Errorf("migrate: record %s: %w", m.name, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migrate: commit %s: %w", m.name, err)
		}
		log.Info("applied migration", zap.String("migration", m.name))
		return nil
	}
	// A first pass with no migration refuses a too-new schema before
	// anything is applied.
	if err := step(nil); err != nil {
		return err
	}
	for i := range ms {
		if err := step(&ms[i]); err != nil {
			return err
		}
	}
	return nil
}
