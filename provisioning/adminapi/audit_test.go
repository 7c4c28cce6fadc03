package adminapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/audit"
	"github.com/sentralpbx/sentral/store"
	"github.com/sentralpbx/sentral/store/backend"
	"github.com/sentralpbx/sentral/store/catalog"
)

type fakeRecorder = audit.Memory

func TestActionName(t *testing.T) {
	for _, tt := range []struct{ method, pattern, want string }{
		{"POST", "POST /api/v1/tenants", "tenant.create"},
		{"POST", "POST /api/v1/tenants/{tenant}/extensions", "extension.create"},
		{"PUT", "PUT /api/v1/tenants/{tenant}/extensions/{number}", "extension.update"},
		{"PATCH", "/api/v1/tenants/{tenant}/extensions/{number}", "extension.update"},
		{"DELETE", "DELETE /api/v1/tenants/{tenant}/extensions/{number}", "extension.delete"},
		{"POST", "POST /api/v1/tenants/{tenant}/extensions/{number}", "extension.update"},
		{"POST", "POST /api/v1/operators/{name}/unlock", "operator.unlock"},
		{"POST", "POST /api/v1/tenants/{tenant}/import", "tenant.import"},
		{"DELETE", "DELETE /api/v1/sip/bans/{addr}", "ban.delete"},
		{"POST", "POST /api/v1/tenants/{tenant}/dect-gateways", "dect-gateway.create"},
		{"POST", "POST /api/v1/tenants/{tenant}/policies", "policy.create"},
		{"POST", "POST /api/v1/addresses", "address.create"},
		{"POST", "", "request.post"},
		{"DELETE", "DELETE /", "request.delete"},
	} {
		if got := actionName(tt.method, tt.pattern); got != tt.want {
			t.Errorf("actionName(%s, %q) = %q, want %q", tt.method, tt.pattern, got, tt.want)
		}
	}
}

func TestAuditMiddleware(t *testing.T) {
	ctx := context.Background()
	st, err := backend.Open(ctx, filepath.Join(t.TempDir(), "audit.db"), backend.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tn := store.Tenant{Name: "fjordvik", Domain: "fjordvik.test", Ranges: []store.NumberRange{{Kind: store.RangeExtension, First: "2000", Last: "2999"}}}
	if err := st.Tenants().Create(ctx, &tn); err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Load(ctx, st, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	rec := &fakeRecorder{}
	a := New(st, cat, zap.NewNop()).WithAudit(rec)
	// The API has only reads today; the middleware must name and judge
	// the writes that will come, so test it over a mux of such routes.
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/tenants/{tenant}/extensions", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusCreated, map[string]string{"number": "2001"})
	})
	mux.HandleFunc("DELETE /api/v1/tenants/{tenant}/extensions/{number}", func(w http.ResponseWriter, r *http.Request) {
		notFound(w, "no such extension")
	})
	mux.HandleFunc("PUT /api/v1/tenants/{tenant}/extensions/{number}", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
	})
	mux.HandleFunc("POST /api/v1/operators/{name}/unlock", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("{}")) // an implicit 200
	})
	mux.HandleFunc("GET /api/v1/tenants", func(w http.ResponseWriter, r *http.Request) {})
	srv := httptest.NewServer(a.audited(mux))
	defer srv.Close()

	do := func(method, path, body string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	do("GET", "/api/v1/tenants", "")
	do("POST", "/api/v1/tenants/fjordvik/extensions", `{"number":"2001","password":"Hemmelig-Passord-1"}`)
	do("DELETE", "/api/v1/tenants/fjordvik/extensions/2999", "")
	do("PUT", "/api/v1/tenants/nowhere/extensions/2001", "")
	do("POST", "/api/v1/operators/kari/unlock", "")
	do("POST", "/api/v1/nothing/here", "")

	got := rec.Take()
	want := []struct {
		action, target, outcome, status string
		tenant                          int64
	}{
		{"extension.create", "/api/v1/tenants/fjordvik/extensions", "ok", "201", tn.ID},
		{"extension.delete", "/api/v1/tenants/fjordvik/extensions/2999", "error", "404", tn.ID},
		{"extension.update", "/api/v1/tenants/nowhere/extensions/2001", "denied", "403", 0},
		{"operator.unlock", "/api/v1/operators/kari/unlock", "ok", "200", 0},
		{"request.post", "/api/v1/nothing/here", "error", "404", 0},
	}
	if len(got) != len(want) {
		t.Fatalf("recorded %d entries, want %d (the GET is not recorded): %+v", len(got), len(want), got)
	}
	for i, w := range want {
		e := got[i]
		var d map[string]string
		_ = json.Unmarshal([]byte(e.Detail), &d)
		if e.Action != w.action || e.Target != w.target || e.Outcome != w.outcome || d["status"] != w.status || e.TenantID != w.tenant {
			t.Errorf("entry %d = %+v; want %s %s %s status %s tenant %d", i, e, w.action, w.target, w.outcome, w.status, w.tenant)
		}
		if e.Actor != "admin-api" || e.Role != store.AuditRoleAdmin || !strings.HasPrefix(e.Source, "127.0.0.1:") {
			t.Errorf("entry %d: actor %q role %q source %q; want admin-api, admin, 127.0.0.1:port", i, e.Actor, e.Role, e.Source)
		}
		if strings.Contains(e.Detail, "Hemmelig") {
			t.Errorf("entry %d records the request body: %s", i, e.Detail)
		}
	}

	// The real handler: reads pass through unrecorded.
	real := httptest.NewServer(a.Handler())
	defer real.Close()
	resp, err := http.Get(real.URL + "/api/v1/tenants")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if es := rec.Take(); len(es) != 0 || resp.StatusCode != 200 {
		t.Errorf("GET through Handler: %d, recorded %+v", resp.StatusCode, es)
	}
}
