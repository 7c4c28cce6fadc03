package adminapi

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/sentralpbx/sentral/audit"
	"github.com/sentralpbx/sentral/store"
)

// Recorder takes audit entries (*audit.Recorder).
type Recorder interface {
	Record(e store.AuditEntry)
}

// WithAudit records every request that may change something (POST, PUT,
// PATCH, DELETE) in the audit log: actor "admin-api" (the API listens on
// loopback without authentication, so whoever reaches it acts as an
// admin of this host), the action named after the route
// ("extension.create"), the path as target, the client's ip:port as
// source and the outcome by status code. Request bodies are not recorded
// (they may hold passwords). Call it before Handler.
func (a *API) WithAudit(r Recorder) *API {
	a.audit = r
	return a
}

// audited wraps the API's mux with the audit middleware (none without
// WithAudit).
func (a *API) audited(next http.Handler) http.Handler {
	if a.audit == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		default:
			next.ServeHTTP(w, r)
			return
		}
		sw := audit.NewStatusWriter(w)
		next.ServeHTTP(sw, r)
		// The mux has set r.Pattern and the path values on r.
		e := store.AuditEntry{
			Actor:   audit.AdminAPI,
			Role:    store.AuditRoleAdmin,
			Action:  actionName(r.Method, r.Pattern),
			Target:  r.URL.Path,
			Source:  r.RemoteAddr,
			Detail:  audit.Detail("method", r.Method, "status", strconv.Itoa(sw.Status())),
			Outcome: audit.Outcome(sw.Status()),
		}
		if name := r.PathValue("tenant"); name != "" && a.cat != nil {
			if t, ok := a.cat.TenantByName(name); ok {
				e.TenantID = t.ID
			}
		}
		a.audit.Record(e)
	})
}

// actionName names the action of a request by its method and the route
// pattern it matched ("POST /api/v1/tenants/{tenant}/extensions"):
//
//	POST to a collection                     extension.create
//	PUT or PATCH to an item (or collection)  extension.update
//	DELETE of an item (or collection)        extension.delete
//	POST to an item                          extension.update
//	POST to a verb after an item             operator.unlock (.../operators/{name}/unlock)
//
// A request that matched no route (pattern "") is "request.<method>".
func actionName(method, pattern string) string {
	m := strings.ToLower(method)
	if _, path, ok := strings.Cut(pattern, " "); ok {
		pattern = path
	}
	if pattern == "" {
		return "request." + m
	}
	segs := strings.Split(strings.Trim(pattern, "/"), "/")
	if len(segs) > 0 && segs[0] == "api" {
		segs = segs[1:]
	}
	if len(segs) > 0 && len(segs[0]) > 1 && segs[0][0] == 'v' && isDigits(segs[0][1:]) {
		segs = segs[1:]
	}
	wild := func(s string) bool { return strings.HasPrefix(s, "{") }
	var lits []string
	for _, s := range segs {
		if !wild(s) && s != "" {
			lits = append(lits, s)
		}
	}
	if len(lits) == 0 {
		return "request." + m
	}
	last := lits[len(lits)-1]
	endsWild := wild(segs[len(segs)-1])
	verb := map[string]string{"post": "create", "put": "update", "patch": "update", "delete": "delete"}[m]
	switch {
	case endsWild && m == "post":
		return singular(last) + ".update"
	case endsWild:
		return singular(last) + "." + verb
	case len(segs) >= 2 && wild(segs[len(segs)-2]) && len(lits) >= 2 && !strings.HasSuffix(last, "s"):
		// A verb on the item before it: /operators/{name}/unlock.
		return singular(lits[len(lits)-2]) + "." + last
	}
	return singular(last) + "." + verb
}

// singular turns a collection's name into its entity's: extensions ->
// extension, policies -> policy, addresses -> address.
func singular(s string) string {
	switch {
	case strings.HasSuffix(s, "ies"):
		return s[:len(s)-3] + "y"
	case strings.HasSuffix(s, "sses"), strings.HasSuffix(s, "xes"):
		return s[:len(s)-2]
	case strings.HasSuffix(s, "s") && !strings.HasSuffix(s, "ss") && !strings.HasSuffix(s, "us"):
		return s[:len(s)-1]
	}
	return s
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}
