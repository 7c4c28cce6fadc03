// Package adminapi is the admin HTTP API: health for supervisors and load
// balancers, and a read API over the live catalog the switch runs on. It
// answers from the catalog rather than the store on purpose: what it shows
// is what the running server uses to authenticate and route.
package adminapi

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/store"
	"github.com/sentralpbx/sentral/store/catalog"
)

// API serves the admin endpoints.
type API struct {
	st      store.Store
	cat     *catalog.Catalog
	log     *zap.Logger
	started time.Time
	bans    SIPBans     // nil when SIP is not running
	trunks  TrunkStatus // nil when SIP is not running
	audit   Recorder    // nil: requests are not audited (audit.go)
}

// New builds the API over a store (for health checks) and a catalog (for reads).
func New(st store.Store, cat *catalog.Catalog, log *zap.Logger) *API {
	return &API{st: st, cat: cat, log: log, started: time.Now()}
}

// Handler routes the API.
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", a.health)
	mux.HandleFunc("GET /api/v1/tenants", a.tenants)
	mux.HandleFunc("GET /api/v1/tenants/{tenant}", a.tenant)
	mux.HandleFunc("GET /api/v1/tenants/{tenant}/extensions", a.extensions)
	mux.HandleFunc("GET /api/v1/tenants/{tenant}/extensions/{number}", a.extension)
	mux.HandleFunc("GET /api/v1/sip/bans", a.sipBans)
	mux.HandleFunc("GET /api/v1/trunks/status", a.trunkStatus)
	return a.audited(mux)
}

// Health is the /healthz body.
type Health struct {
	Status     string `json:"status"`
	Store      string `json:"store"`
	ChangeSeq  int64  `json:"change_seq"`  // newest change in the store
	AppliedSeq int64  `json:"applied_seq"` // newest change the catalog reflects
	Tenants    int    `json:"tenants"`
	Extensions int    `json:"extensions"`
	UptimeSec  int64  `json:"uptime_seconds"`
	Error      string `json:"error,omitempty"`
}

func (a *API) health(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	tenants, exts := a.cat.Counts()
	h := Health{Status: "ok", Store: a.st.Backend(), AppliedSeq: a.cat.Seq(), Tenants: tenants, Extensions: exts,
		UptimeSec: int64(time.Since(a.started).Seconds())}
	seq, err := a.st.LastChange(ctx)
	h.ChangeSeq = seq
	code := http.StatusOK
	if err != nil {
		h.Status, h.Error, code = "unavailable", "store unreachable", http.StatusServiceUnavailable
		a.log.Warn("health check: store unreachable", zap.Error(err))
	}
	writeJSON(w, code, h)
}

func (a *API) tenants(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, a.cat.Tenants())
}

func (a *API) tenant(w http.ResponseWriter, r *http.Request) {
	t, ok := a.cat.TenantByName(r.PathValue("tenant"))
	if !ok {
		notFound(w, "no such tenant")
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (a *API) extensions(w http.ResponseWriter, r *http.Request) {
	t, ok := a.cat.TenantByName(r.PathValue("tenant"))
	if !ok {
		notFound(w, "no such tenant")
		return
	}
	writeJSON(w, http.StatusOK, a.cat.Extensions(t.ID))
}

// extensionView adds what the hidden credential fields imply, without them.
type extensionView struct {
	store.Extension
	HasCredentials bool `json:"has_credentials"`
}

func (a *API) extension(w http.ResponseWriter, r *http.Request) {
	t, ok := a.cat.TenantByName(r.PathValue("tenant"))
	if !ok {
		notFound(w, "no such tenant")
		return
	}
	e, ok := a.cat.Extension(t.ID, r.PathValue("number"))
	if !ok {
		notFound(w, "no such extension")
		return
	}
	writeJSON(w, http.StatusOK, extensionView{Extension: e, HasCredentials: e.HasCredentials()})
}

func notFound(w http.ResponseWriter, msg string) {
	writeJSON(w, http.StatusNotFound, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v) // the client went away; nothing to do
}
