package sqlstore_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sentralpbx/sentral/store"
	"github.com/sentralpbx/sentral/store/pgtest"
	"github.com/sentralpbx/sentral/store/postgres"
	"github.com/sentralpbx/sentral/store/sqlite"
)

// v5 builds a database at schema version 5 (before call features) with
// the back end's own migration files, and fills it with a tenant, two
// extensions (one with a voicemail PIN, as installed switches have) and a
// hunt group.
func v5(t *testing.T, driver, dsn, dir, migrationsDDL string) {
	t.Helper()
	ctx := context.Background()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, migrationsDDL); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	for v, name := range []string{"0001_init.sql", "0002_bindings.sql", "0003_cdrs.sql", "0004_numberplan.sql", "0005_voicemail.sql"} {
		body, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, string(body)); err != nil {
			t.Fatalf("apply %s: %v", name, err)
		}
		if _, err := db.ExecContext(ctx, "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)", v+1, now); err != nil {
			t.Fatal(err)
		}
	}
	insert := func(q string, args ...any) int64 {
		t.Helper()
		var id int64
		if err := db.QueryRowContext(ctx, q+" RETURNING id", args...).Scan(&id); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return id
	}
	tid := insert("INSERT INTO tenants (version, created_at, updated_at, name, display_name, domain) VALUES (1, $1, $1, 'fjordvik', 'Fjordvik', 'fjordvik.example.no')", now)
	if _, err := db.ExecContext(ctx, "INSERT INTO tenant_ranges (tenant_id, position, kind, first_number, last_number) VALUES ($1, 0, 'ext', '2000', '2999')", tid); err != nil {
		t.Fatal(err)
	}
	e1 := insert("INSERT INTO extensions (version, created_at, updated_at, tenant_id, number, display_name, cos, enabled, voicemail_pin) VALUES (1, $1, $1, $2, '2001', 'Kari', 'mobile', $3, '$pbkdf2-sha256$i=10000$c2FsdA$aGFzaA')", now, tid, true)
	insert("INSERT INTO extensions (version, created_at, updated_at, tenant_id, number, display_name, cos, enabled) VALUES (1, $1, $1, $2, '2002', 'Ola', 'mobile', $3)", now, tid, true)
	gid := insert("INSERT INTO ring_groups (version, created_at, updated_at, tenant_id, number, name, strategy, ring_seconds) VALUES (1, $1, $1, $2, '2900', 'Sentralbord', 'hunt', 20)", now, tid)
	if _, err := db.ExecContext(ctx, "INSERT INTO group_members (group_id, position, extension_id) VALUES ($1, 0, $2)", gid, e1); err != nil {
		t.Fatal(err)
	}
}

// checkUpgradedV5 checks what migration 6 gave the rows of v5, and that
// the store reads and writes the new fields on them.
func checkUpgradedV5(t *testing.T, st store.Store) {
	t.Helper()
	ctx := context.Background()
	tn, err := st.Tenants().Find(ctx, 0, "fjordvik")
	if err != nil {
		t.Fatalf("tenant after upgrade: %v", err)
	}
	for _, n := range []string{"2001", "2002"} {
		e, err := st.Extensions().Find(ctx, tn.ID, n)
		if err != nil {
			t.Fatalf("extension %s after upgrade: %v", n, err)
		}
		// Voicemail stays off: an upgrade must not start sending callers
		// to mailboxes nobody set up.
		if e.ForwardAlways != "" || e.ForwardBusy != "" || e.ForwardNoAnswer != "" || e.NoAnswerSeconds != 0 ||
			e.DND || e.Voicemail || e.VoicemailAskPIN || e.Language != "" {
			t.Errorf("extension %s after upgrade: %+v; want no call features", n, e)
		}
		if e.NoAnswerAfter() != store.DefaultNoAnswerSeconds*time.Second {
			t.Errorf("extension %s after upgrade: NoAnswerAfter %s", n, e.NoAnswerAfter())
		}
	}
	g, err := st.Groups().Find(ctx, tn.ID, "2900")
	if err != nil || g.Overflow != "" || len(g.Members) != 1 {
		t.Errorf("group after upgrade: %+v, %v; want no overflow and its member", g, err)
	}

	e, _ := st.Extensions().Find(ctx, tn.ID, "2001")
	pin := e.VoicemailPIN
	e.Voicemail, e.DND, e.ForwardBusy, e.ForwardNoAnswer, e.NoAnswerSeconds, e.Language = true, true, "2002", "voicemail", 25, "en"
	if err := st.Extensions().Update(ctx, &e); err != nil {
		t.Fatalf("give the upgraded extension call features: %v", err)
	}
	got, err := st.Extensions().Get(ctx, e.ID)
	if err != nil || !got.Voicemail || !got.DND || got.ForwardBusy != "2002" || got.ForwardNoAnswer != "voicemail" ||
		got.NoAnswerSeconds != 25 || got.Language != "en" || got.VoicemailPIN != pin {
		t.Errorf("upgraded extension read back: %+v, %v", got, err)
	}
	g.Overflow = "voicemail:2001"
	if err := st.Groups().Update(ctx, &g); err != nil {
		t.Errorf("give the upgraded group an overflow: %v", err)
	}
	if got, err := st.Groups().Get(ctx, g.ID); err != nil || got.Overflow != "voicemail:2001" {
		t.Errorf("upgraded group read back: %+v, %v", got, err)
	}
}

func TestUpgradeFromV5SQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	v5(t, "sqlite", "file:"+path+"?_pragma=foreign_keys(1)&_time_format=sqlite", "../sqlite/migrations",
		`CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMP NOT NULL)`)
	st, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	if err != nil {
		t.Fatalf("open the version 5 database: %v", err)
	}
	defer st.Close()
	checkUpgradedV5(t, st)
}

func TestUpgradeFromV5Postgres(t *testing.T) {
	dsn := pgtest.DSN(t, "sqlstore_test")
	v5(t, "pgx", dsn, "../postgres/migrations",
		`CREATE TABLE IF NOT EXISTS schema_migrations (version bigint PRIMARY KEY, applied_at timestamptz NOT NULL)`)
	st, err := postgres.Open(context.Background(), dsn, postgres.Options{})
	if err != nil {
		t.Fatalf("open the version 5 database: %v", err)
	}
	defer st.Close()
	checkUpgradedV5(t, st)
}
