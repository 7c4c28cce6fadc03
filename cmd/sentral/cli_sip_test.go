package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/provisioning/adminapi"
	"github.com/sentralpbx/sentral/sip/auth"
	"github.com/sentralpbx/sentral/store"
	"github.com/sentralpbx/sentral/store/backend"
	"github.com/sentralpbx/sentral/store/catalog"
)

// seedBindings writes a tenant, an extension and two bindings (one
// expired) straight into the CLI's store, as a running server would.
func seedBindings(t *testing.T, c *cli) {
	t.Helper()
	ctx := context.Background()
	st, err := backend.Open(ctx, c.db, backend.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ten := store.Tenant{Name: "fjordvik", Domain: "fjordvik.test", Ranges: []store.NumberRange{{Kind: store.RangeExtension, First: "100", Last: "199"}}}
	if err := st.Tenants().Create(ctx, &ten); err != nil {
		t.Fatal(err)
	}
	e := store.Extension{TenantID: ten.ID, Number: "100", DisplayName: "Resepsjon", COS: store.COSInternal, Enabled: true}
	if err := st.Extensions().Create(ctx, &e); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	err = st.Bindings().Save(ctx, []store.Binding{
		{TenantID: ten.ID, Number: "100", Contact: "sip:100@192.0.2.10:5060", Q: 1, Expires: now.Add(time.Hour), CallID: "a",
			CSeq: 1, UserAgent: "Yealink T54W", Source: "192.0.2.10:5060", Transport: "udp", UpdatedAt: now},
		{TenantID: ten.ID, Number: "100", Contact: "sip:100@192.0.2.11:5060", Q: 1, Expires: now.Add(-time.Minute), CallID: "b",
			CSeq: 1, Source: "192.0.2.11:5060", Transport: "tcp", UpdatedAt: now},
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestSIPRegistrations(t *testing.T) {
	c := newCLI(t)
	seedBindings(t, c)
	out := c.ok("sip", "registrations", "--tenant", "fjordvik")
	if !strings.Contains(out, "100@fjordvik.test") || !strings.Contains(out, "Yealink T54W") || strings.Contains(out, "192.0.2.11") {
		t.Fatalf("table:\n%s", out)
	}
	var rows []registration
	if err := json.Unmarshal([]byte(c.ok("sip", "registrations", "-o", "json")), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Source != "192.0.2.10:5060" || rows[0].Transport != "udp" || rows[0].ExpiresIn < 3500 {
		t.Fatalf("json rows %+v", rows)
	}
	csv := c.ok("sip", "registrations", "-o", "csv")
	if !strings.HasPrefix(csv, "tenant,aor,contact,source,transport,user_agent,expires_in\n") {
		t.Fatalf("csv:\n%s", csv)
	}
	c.fail(exitUser, "sip", "registrations", "--tenant", "nope")
}

type bansFake []auth.Ban

func (b bansFake) Bans() []auth.Ban { return b }

func TestSIPBans(t *testing.T) {
	c := newCLI(t)
	ctx := context.Background()
	st, err := backend.Open(ctx, c.db, backend.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cat, err := catalog.Load(ctx, st, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	api := adminapi.New(st, cat, zap.NewNop()).WithSIPBans(bansFake{
		{Addr: netip.MustParseAddr("203.0.113.7"), Since: now, Until: now.Add(15 * time.Minute), Failures: 5},
	})
	srv := httptest.NewServer(api.Handler())
	defer srv.Close()
	out := c.ok("sip", "bans", "--server", srv.URL)
	if !strings.Contains(out, "203.0.113.7") || !strings.Contains(out, "FAILURES") {
		t.Fatalf("bans table:\n%s", out)
	}
	var bans []adminapi.Ban
	if err := json.Unmarshal([]byte(c.ok("sip", "bans", "--server", srv.URL, "-o", "json")), &bans); err != nil || len(bans) != 1 || bans[0].Failures != 5 {
		t.Fatalf("bans json %+v %v", bans, err)
	}

	// A server without SIP says so; the CLI reports it as a failure.
	noSIP := httptest.NewServer(adminapi.New(st, cat, zap.NewNop()).Handler())
	defer noSIP.Close()
	if errs := c.fail(exitInternal, "sip", "bans", "--server", noSIP.URL); !strings.Contains(errs, "SIP is not running") {
		t.Fatalf("stderr: %s", errs)
	}
}
