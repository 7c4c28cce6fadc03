package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"github.com/sentralpbx/sentral/store/pgtest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/sentralpbx/sentral/store"
	"github.com/sentralpbx/sentral/store/postgres"
	"github.com/sentralpbx/sentral/store/sqlite"
)

// legacy is a database at an old schema version, built with the back
// end's own migration files, for the upgrade tests to fill with what an
// installed switch has.
type legacy struct {
	t   *testing.T
	ctx context.Context
	db  *sql.DB
	now time.Time
}

// insert runs an INSERT and returns the new row's id.
func (l *legacy) insert(q string, args ...any) int64 {
	l.t.Helper()
	var id int64
	if err := l.db.QueryRowContext(l.ctx, q+" RETURNING id", args...).Scan(&id); err != nil {
		l.t.Fatalf("%s: %v", q, err)
	}
	return id
}

// exec runs a statement.
func (l *legacy) exec(q string, args ...any) {
	l.t.Helper()
	if _, err := l.db.ExecContext(l.ctx, q, args...); err != nil {
		l.t.Fatalf("%s: %v", q, err)
	}
}

// upgradeFrom builds a database at schema version (on "sqlite" or
// "postgres"), lets seed fill it, opens it with the current store (which
// migrates it) and hands the store to check.
func upgradeFrom(t *testing.T, backend string, version int, seed func(*legacy), check func(*testing.T, store.Store)) {
	t.Helper()
	ctx := context.Background()
	var driver, dsn, dir, ddl string
	var open func() (store.Store, error)
	switch backend {
	case "sqlite":
		path := filepath.Join(t.TempDir(), "old.db")
		driver, dsn, dir = "sqlite", "file:"+path+"?_pragma=foreign_keys(1)&_time_format=sqlite", "../sqlite/migrations"
		ddl = `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMP NOT NULL)`
		open = func() (store.Store, error) { return sqlite.Open(ctx, path, sqlite.Options{}) }
	case "postgres":
		dsn = pgtest.DSN(t, "sqlstore_test")
		driver, dir = "pgx", "../postgres/migrations"
		ddl = `CREATE TABLE IF NOT EXISTS schema_migrations (version bigint PRIMARY KEY, applied_at timestamptz NOT NULL)`
		open = func() (store.Store, error) { return postgres.Open(ctx, dsn, postgres.Options{}) }
	default:
		t.Fatalf("unknown back end %q", backend)
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	l := &legacy{t: t, ctx: ctx, db: db, now: time.Now().UTC().Truncate(time.Microsecond)}
	l.exec(ddl)
	files, err := filepath.Glob(filepath.Join(dir, "*.sql"))
	if err != nil || len(files) < version {
		t.Fatalf("migrations in %s: %d files, %v", dir, len(files), err)
	}
	slices.Sort(files)
	for v, name := range files[:version] {
		body, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		l.exec(string(body))
		l.exec("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)", v+1, l.now)
	}
	seed(l)
	db.Close()
	st, err := open()
	if err != nil {
		t.Fatalf("open the version %d database: %v", version, err)
	}
	defer st.Close()
	check(t, st)
}

// backends are the stores the upgrade tests run on.
var backends = []string{"sqlite", "postgres"}

// v3 fills a database at schema version 3 (before the number plan) with
// what an installed switch has: a tenant, an extension, a group, a
// registering trunk, a peer trunk by IPv4 address and one by host name,
// and a desk phone.
func v3(l *legacy) {
	insert, now := l.insert, l.now
	tid := insert("INSERT INTO tenants (version, created_at, updated_at, name, display_name, domain, switchboard_number) VALUES (1, $1, $1, 'fjordvik', 'Fjordvik', 'fjordvik.example.no', '+4755550000')", now)
	for i, r := range [][3]string{{"ext", "2000", "2999"}, {"did", "+4755550000", "+4755550999"}} {
		l.exec("INSERT INTO tenant_ranges (tenant_id, position, kind, first_number, last_number) VALUES ($1, $2, $3, $4, $5)", tid, i, r[0], r[1], r[2])
	}
	insert("INSERT INTO extensions (version, created_at, updated_at, tenant_id, number, display_name, cos, enabled) VALUES (1, $1, $1, $2, '2001', 'Kari', 'mobile', $3)", now, tid, true)
	insert("INSERT INTO ring_groups (version, created_at, updated_at, tenant_id, number, name, strategy, ring_seconds) VALUES (1, $1, $1, $2, '2900', 'Sentralbord', 'hunt', 20)", now, tid)
	for _, tr := range [][3]string{{"centrex", "register", "sip.operator.example"}, {"sbc-ip", "peer", "192.0.2.10"}, {"sbc-name", "peer", "sbc.operator.example"}} {
		insert("INSERT INTO trunks (version, created_at, updated_at, tenant_id, name, mode, host, port, transport, username, password, realm, priority, enabled) VALUES (1, $1, $1, $2, $3, $4, $5, 5060, 'udp', 'u', 'p', '', 10, $6)",
			now, tid, tr[0], tr[1], tr[2], true)
	}
	insert("INSERT INTO devices (version, created_at, updated_at, tenant_id, mac, model, description) VALUES (1, $1, $1, $2, '001565aabbcc', 'yealink-t54w', '')", now, tid)
}

var hexSecret = regexp.MustCompile(`^[0-9a-f]{20}$`)

// checkUpgraded checks what migration 4 gave the rows of v3, and that the
// store works with them.
func checkUpgraded(t *testing.T, st store.Store) {
	t.Helper()
	ctx := context.Background()
	tn, err := st.Tenants().Find(ctx, 0, "fjordvik")
	if err != nil {
		t.Fatalf("tenant after upgrade: %v", err)
	}
	if tn.OutsidePrefix != "" || tn.UnknownDID != store.UnknownDIDSwitchboard {
		t.Errorf("tenant after upgrade: prefix %q, unknown DID %q; want none and switchboard", tn.OutsidePrefix, tn.UnknownDID)
	}
	e, err := st.Extensions().Find(ctx, tn.ID, "2001")
	if err != nil || e.DID != "" || e.HideCallerID {
		t.Errorf("extension after upgrade: %+v, %v; want no DID, caller ID shown", e, err)
	}
	g, err := st.Groups().Find(ctx, tn.ID, "2900")
	if err != nil || g.DID != "" {
		t.Errorf("group after upgrade: %+v, %v; want no DID", g, err)
	}
	want := map[string][]string{"centrex": nil, "sbc-ip": {"192.0.2.10"}, "sbc-name": nil}
	for name, peers := range want {
		tr, err := st.Trunks().Find(ctx, tn.ID, name)
		if err != nil {
			t.Errorf("trunk %s after upgrade: %v", name, err)
			continue
		}
		if !slices.Equal(tr.Routes, []string{"+"}) || tr.Emergency || !slices.Equal(tr.PeerAddresses, peers) {
			t.Errorf("trunk %s after upgrade: routes %v, emergency %v, peers %v; want [+], false, %v", name, tr.Routes, tr.Emergency, tr.PeerAddresses, peers)
		}
	}
	// The peer trunk known by name must be given its addresses before it
	// can be changed; once given, it saves.
	tr, _ := st.Trunks().Find(ctx, tn.ID, "sbc-name")
	tr.Priority = 20
	var fe *store.FieldError
	if err := st.Trunks().Update(ctx, &tr); !errors.As(err, &fe) || fe.Field != "peer_addresses" {
		t.Errorf("update of an upgraded peer trunk without addresses: %v, want a peer_addresses refusal", err)
	}
	tr.PeerAddresses = []string{"198.51.100.0/24"}
	if err := st.Trunks().Update(ctx, &tr); err != nil {
		t.Errorf("update of an upgraded peer trunk with addresses: %v", err)
	}
	d, err := st.Devices().Find(ctx, 0, "001565aabbcc")
	if err != nil {
		t.Fatalf("device after upgrade: %v", err)
	}
	if d.AuthUser != "ph001565aabbcc" || !hexSecret.MatchString(d.Secret) || !store.ValidSecret(d.Secret) {
		t.Errorf("device after upgrade: user %q, secret %q; want ph001565aabbcc and 20 hex digits", d.AuthUser, d.Secret)
	}
	secret := d.Secret
	d.Description = "Resepsjonen"
	d.Secret = ""
	if err := st.Devices().Update(ctx, &d); err != nil || d.Secret != secret {
		t.Errorf("update of an upgraded device: %v, secret %q; want the migrated %q kept", err, d.Secret, secret)
	}
	// New rows work beside the old ones.
	e.DID, e.HideCallerID = "+4755550001", true
	if err := st.Extensions().Update(ctx, &e); err != nil {
		t.Errorf("give the upgraded extension a DID: %v", err)
	}
}

func TestUpgradeFromV3(t *testing.T) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) { upgradeFrom(t, b, 3, v3, checkUpgraded) })
	}
}
