package adminapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/provisioning/adminapi"
	"github.com/sentralpbx/sentral/sip/auth"
	"github.com/sentralpbx/sentral/store"
	"github.com/sentralpbx/sentral/store/backend"
	"github.com/sentralpbx/sentral/store/catalog"
)

func TestAPI(t *testing.T) {
	ctx := context.Background()
	st, err := backend.Open(ctx, filepath.Join(t.TempDir(), "api.db"), backend.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tn := store.Tenant{Name: "fjordvik", Domain: "fjordvik.test", Ranges: []store.NumberRange{{Kind: store.RangeExtension, First: "2000", Last: "2999"}}}
	if err := st.Tenants().Create(ctx, &tn); err != nil {
		t.Fatal(err)
	}
	md5, _ := auth.HA1("MD5", "2001", tn.Domain, "Hemmelig-Passord-1")
	sha, _ := auth.HA1("SHA-256", "2001", tn.Domain, "Hemmelig-Passord-1")
	e := store.Extension{TenantID: tn.ID, Number: "2001", DisplayName: "Åse Ødegård", HA1MD5: md5, HA1SHA256: sha, Enabled: true}
	if err := st.Extensions().Create(ctx, &e); err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Load(ctx, st, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(adminapi.New(st, cat, zap.NewNop()).Handler())
	defer srv.Close()

	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("%s: content type %q", path, ct)
		}
		return resp.StatusCode, string(body)
	}

	tests := []struct {
		path     string
		code     int
		contains string
	}{
		{"/healthz", 200, `"store":"sqlite"`},
		{"/api/v1/tenants", 200, `"domain":"fjordvik.test"`},
		{"/api/v1/tenants/fjordvik", 200, `"name":"fjordvik"`},
		{"/api/v1/tenants/nowhere", 404, "no such tenant"},
		{"/api/v1/tenants/fjordvik/extensions", 200, "Åse Ødegård"},
		{"/api/v1/tenants/fjordvik/extensions/2001", 200, `"has_credentials":true`},
		{"/api/v1/tenants/fjordvik/extensions/2999", 404, "no such extension"},
		{"/api/v1/tenants/nowhere/extensions/2001", 404, "no such tenant"},
	}
	for _, tt := range tests {
		code, body := get(tt.path)
		if code != tt.code || !strings.Contains(body, tt.contains) {
			t.Errorf("GET %s = %d %s; want %d containing %q", tt.path, code, body, tt.code, tt.contains)
		}
		// Digests are password equivalents for SIP: they must never leave the server.
		if strings.Contains(body, md5) || strings.Contains(body, sha) {
			t.Errorf("GET %s leaks an HA1 digest: %s", tt.path, body)
		}
	}

	var h adminapi.Health
	_, body := get("/healthz")
	if err := json.Unmarshal([]byte(body), &h); err != nil {
		t.Fatal(err)
	}
	if h.Status != "ok" || h.Tenants != 1 || h.Extensions != 1 || h.ChangeSeq != h.AppliedSeq || h.ChangeSeq == 0 {
		t.Errorf("health = %+v", h)
	}

	// A store that is gone makes the server unhealthy, not silently "ok".
	st.Close()
	if code, body := get("/healthz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "unavailable") {
		t.Errorf("healthz with a closed store = %d %s", code, body)
	}
}
