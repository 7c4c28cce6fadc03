package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"

	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/directory/search"
)

// APIPath is the route of the JSON search, for documentation and mounting.
const APIPath = "/api/v1/tenants/{tenant}/directory"

// NewAPI returns the JSON directory search for the admin listener:
//
//	GET /api/v1/tenants/{tenant}/directory?q=&limit=&offset=&switchboard=
//
// The admin listener is trusted, so the searcher is inside the tenant
// (internal entries are visible); switchboard=1 searches as the operators'
// console does (secret entries too, by name, and notes). The JSON follows
// provisioning/adminapi: application/json, no-store, {"error": ...} bodies,
// 404 for an unknown tenant.
func NewAPI(dir Directory, log *zap.Logger) http.Handler {
	if log == nil {
		log = zap.NewNop()
	}
	a := &api{dir: dir, log: log}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+APIPath, a.search)
	return mux
}

type api struct {
	dir Directory
	log *zap.Logger
}

// SearchResponse is the body of a directory search.
type SearchResponse struct {
	Tenant string `json:"tenant"`
	Query  string `json:"query"`
	Total  int    `json:"total"`
	Limit  int    `json:"limit"`
	Offset int    `json:"offset"`
	// NextOffset is the offset of the next page, nil on the last page.
	NextOffset *int        `json:"next_offset"`
	Entries    []EntryView `json:"entries"`
}

// EntryView is one hit as the API shows it.
type EntryView struct {
	ID         int64    `json:"id"`
	Kind       string   `json:"kind"`
	Name       string   `json:"name"`
	GivenName  string   `json:"given_name"`
	FamilyName string   `json:"family_name"`
	Title      string   `json:"title"`
	Department string   `json:"department"`
	Site       string   `json:"site"`
	Numbers    []string `json:"numbers"`
	Mobile     string   `json:"mobile"`
	Email      string   `json:"email"`
	// Notes are for operators: shown only to switchboard searches.
	Notes      string `json:"notes,omitempty"`
	Visibility string `json:"visibility"`
	Score      int    `json:"score"`
}

// ErrorResponse is the body of every error; Parameter names the bad query
// parameter of a 400.
type ErrorResponse struct {
	Error     string `json:"error"`
	Parameter string `json:"parameter,omitempty"`
}

func (a *api) search(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("tenant")
	p, err := parseParams(r.URL.Query())
	if err != nil {
		var pe *paramError
		if errors.As(err, &pe) {
			writeJSON(w, http.StatusBadRequest, ErrorResponse{Error: pe.Error(), Parameter: pe.param})
			return
		}
		writeJSON(w, http.StatusBadRequest, ErrorResponse{Error: err.Error()})
		return
	}
	id, ok := a.dir.TenantByName(name)
	if !ok {
		writeJSON(w, http.StatusNotFound, ErrorResponse{Error: "no such tenant"})
		return
	}
	hits, total := a.dir.Search(id, search.Query{
		Text: p.q, Limit: p.limit, Offset: p.offset,
		Internal: true, Switchboard: p.switchboard,
	})
	resp := SearchResponse{
		Tenant: name, Query: p.q, Total: total, Limit: p.limit, Offset: p.offset,
		Entries: make([]EntryView, 0, len(hits)),
	}
	if next := p.offset + p.limit; next < total {
		resp.NextOffset = &next
	}
	for _, h := range hits {
		if !p.switchboard && !insideVisible(h.Entry) {
			// The search never returns these outside the switchboard; if
			// a Directory does, it is a bug we refuse to pass on.
			a.log.Error("directory api: directory returned a secret entry outside the switchboard; left out",
				zap.String("tenant", name), zap.Int64("entry", h.Entry.ID))
			continue
		}
		resp.Entries = append(resp.Entries, entryView(h, p.switchboard))
	}
	a.log.Debug("directory api: search", zap.String("tenant", name), zap.String("src", r.RemoteAddr),
		zap.Int("total", total), zap.Int("offset", p.offset), zap.Bool("switchboard", p.switchboard))
	writeJSON(w, http.StatusOK, resp)
}

// insideVisible reports whether someone inside the tenant, not at the
// switchboard, may see e. An unknown visibility counts as secret, as in
// package search.
func insideVisible(e search.Entry) bool {
	return e.Visibility == search.VisibilityListed || e.Visibility == search.VisibilityInternal
}

func entryView(h search.Hit, switchboard bool) EntryView {
	e := h.Entry
	v := EntryView{
		ID: e.ID, Kind: e.Kind, Name: e.Name, GivenName: e.GivenName, FamilyName: e.FamilyName,
		Title: e.Title, Department: e.Department, Site: e.Site, Numbers: e.Numbers,
		Mobile: e.Mobile, Email: e.Email, Visibility: e.Visibility, Score: h.Score,
	}
	if v.Numbers == nil {
		v.Numbers = []string{} // a list in JSON, never null
	}
	if switchboard {
		v.Notes = e.Notes
	}
	return v
}

// writeJSON writes v as the adminapi does.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v) // the client went away; nothing to do
}
