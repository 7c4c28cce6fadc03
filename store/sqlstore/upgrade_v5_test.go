package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/sentralpbx/sentral/store"
)

// v5 fills a database at schema version 5 (before call features) with a
// tenant, two
// extensions (one with a voicemail PIN, as installed switches have) and a
// hunt group.
func v5(l *legacy) {
	insert, now := l.insert, l.now
	tid := insert("INSERT INTO tenants (version, created_at, updated_at, name, display_name, domain) VALUES (1, $1, $1, 'fjordvik', 'Fjordvik', 'fjordvik.example.no')", now)
	l.exec("INSERT INTO tenant_ranges (tenant_id, position, kind, first_number, last_number) VALUES ($1, 0, 'ext', '2000', '2999')", tid)
	e1 := insert("INSERT INTO extensions (version, created_at, updated_at, tenant_id, number, display_name, cos, enabled, voicemail_pin) VALUES (1, $1, $1, $2, '2001', 'Kari', 'mobile', $3, '$pbkdf2-sha256$i=10000$c2FsdA$aGFzaA')", now, tid, true)
	insert("INSERT INTO extensions (version, created_at, updated_at, tenant_id, number, display_name, cos, enabled) VALUES (1, $1, $1, $2, '2002', 'Ola', 'mobile', $3)", now, tid, true)
	gid := insert("INSERT INTO ring_groups (version, created_at, updated_at, tenant_id, number, name, strategy, ring_seconds) VALUES (1, $1, $1, $2, '2900', 'Sentralbord', 'hunt', 20)", now, tid)
	l.exec("INSERT INTO group_members (group_id, position, extension_id) VALUES ($1, 0, $2)", gid, e1)
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

func TestUpgradeFromV5(t *testing.T) {
	for _, be := range backends {
		t.Run(be, func(t *testing.T) { upgradeFrom(t, be, 5, v5, checkUpgradedV5) })
	}
}
