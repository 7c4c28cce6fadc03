package httpapi

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/directory/search"
)

// PhonebookPrefix is where NewPhonebook serves: mount the (wrapped) handler
// with mux.Handle(httpapi.PhonebookPrefix, h).
const PhonebookPrefix = "/phonebook/"

// MaxPhonebookEntries bounds a phone book: phones keep remote books in
// memory and page through them on a small screen; a search narrows it.
const MaxPhonebookEntries = 2000

// NewPhonebook returns the desk phones' phone book:
//
//	GET /phonebook/{tenant}/yealink.xml?q=   Yealink remote phone book
//	GET /phonebook/{tenant}/snom.xml?q=      Snom XML minibrowser directory
//
// q is optional; empty, or the unreplaced Yealink placeholder "#SEARCH",
// returns the whole book (up to MaxPhonebookEntries). Phones are inside the
// tenant: listed and internal entries, never secret ones. Other query
// parameters (the provisioning URL's mac=, say) are ignored.
//
// The handler does not authenticate: it must be wrapped by a handler that
// authenticates the phone and calls WithTenant with the phone's tenant. A
// request without one gets 401; one for a tenant other than the
// context's, or for an unknown tenant, gets 403 (so that a phone learns
// nothing about other tenants); an unknown vendor gets 404.
func NewPhonebook(dir Directory, log *zap.Logger) http.Handler {
	if log == nil {
		log = zap.NewNop()
	}
	p := &phonebook{dir: dir, log: log}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+PhonebookPrefix+"{tenant}/{file}", p.serve)
	return mux
}

type phonebook struct {
	dir Directory
	log *zap.Logger
}

func (p *phonebook) serve(w http.ResponseWriter, r *http.Request) {
	// A phone book is one tenant's, fetched by one phone: keep it out of
	// shared caches, and never let a browser guess its type.
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	name, file := r.PathValue("tenant"), r.PathValue("file")
	log := p.log.With(zap.String("tenant", truncate(name, 64)), zap.String("src", r.RemoteAddr),
		zap.String("file", truncate(file, 64)))

	authed, ok := TenantFromContext(r.Context())
	if !ok {
		// The wrapper answers unauthenticated phones itself (with a
		// digest challenge); reaching here without a tenant is a wiring
		// mistake, so it is logged loudly.
		log.Warn("phone book: no authenticated tenant in the request context (is the handler wrapped?)")
		http.Error(w, "authentication required", http.StatusUnauthorized)
		return
	}
	id, found := p.dir.TenantByName(name)
	if !found || id != authed {
		log.Info("phone book: refused, the phone belongs to another tenant",
			zap.Int64("phone_tenant_id", authed), zap.Bool("url_tenant_known", found))
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	vendor, ok := vendorOf(file)
	if !ok {
		log.Info("phone book: no such format")
		http.NotFound(w, r)
		return
	}
	q, err := phonebookQuery(r.URL.Query())
	if err != nil {
		var pe *paramError
		if errors.As(err, &pe) {
			http.Error(w, pe.Error(), http.StatusBadRequest)
			return
		}
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}

	entries, total := p.collect(id, q)
	if total > len(entries) {
		log.Info("phone book: cut short", zap.Int("total", total), zap.Int("served", len(entries)))
	}
	var body []byte
	switch vendor {
	case VendorYealink:
		body, err = renderYealink(entries)
	case VendorSnom:
		body, err = renderSnom(entries)
	}
	if err != nil {
		log.Error("phone book: render failed", zap.Error(err))
		http.Error(w, "render failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body) // the phone went away; it will ask again
	log.Debug("phone book: served", zap.String("vendor", string(vendor)), zap.Int("entries", len(entries)))
}

// collect pages through the search with the largest page until it has
// MaxPhonebookEntries or every hit. It returns the entries a phone may
// see and the total number of hits.
func (p *phonebook) collect(tenantID int64, q string) ([]search.Entry, int) {
	var out []search.Entry
	total := 0
	for offset := 0; len(out) < MaxPhonebookEntries; {
		hits, t := p.dir.Search(tenantID, search.Query{
			Text: q, Limit: search.MaxLimit, Offset: offset, Internal: true,
		})
		total = t
		if len(hits) == 0 {
			break
		}
		for _, h := range hits {
			if !insideVisible(h.Entry) {
				// Never from package search for a phone's query; a
				// Directory that returns one has a bug we do not pass on.
				p.log.Error("phone book: directory returned a secret entry; left out",
					zap.Int64("tenant_id", tenantID), zap.Int64("entry", h.Entry.ID))
				continue
			}
			out = append(out, h.Entry)
		}
		offset += len(hits)
		if offset >= t {
			break
		}
	}
	if len(out) > MaxPhonebookEntries {
		out = out[:MaxPhonebookEntries]
	}
	return out, total
}

// vendorOf reads "yealink.xml" or "snom.xml", in any case.
func vendorOf(file string) (Vendor, bool) {
	base, ok := strings.CutSuffix(strings.ToLower(file), ".xml")
	if !ok {
		return "", false
	}
	switch v := Vendor(base); v {
	case VendorYealink, VendorSnom:
		return v, true
	}
	return "", false
}

// truncate cuts s to at most n bytes, for logs of client input.
func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
