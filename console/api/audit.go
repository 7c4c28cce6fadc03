package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/sentralpbx/sentral/audit"
	"github.com/sentralpbx/sentral/store"
)

// Recorder takes audit entries (*audit.Recorder).
type Recorder interface {
	Record(e store.AuditEntry)
}

// callActions are the actions of POST calls/{id}/{action}; any other
// name is recorded as call.unknown (the path is the operator's to type).
var callActions = map[string]bool{"hold": true, "resume": true, "hangup": true, "transfer": true, "consult": true,
	"connect": true, "return": true, "voicemail": true, "park": true}

// auditAction names the action of a request by its route:
//
//	POST available                 operator.available
//	POST queue/{id}/answer         call.answer
//	POST calls/{id}/{action}       call.<action> (hold, transfer, park, ...)
//	POST parked/{slot}/retrieve    call.retrieve
//	POST dial                      call.dial
//	POST switchboard               switchboard.update
//
// and its target: the call id, the parking slot or the number dialled.
func auditAction(r *http.Request) (action, target string) {
	switch r.Pattern {
	case "POST " + Prefix + "available":
		return "operator.available", ""
	case "POST " + Prefix + "queue/{id}/answer":
		return "call.answer", r.PathValue("id")
	case "POST " + Prefix + "calls/{id}/{action}":
		act := r.PathValue("action")
		if !callActions[act] {
			act = "unknown"
		}
		return "call." + act, r.PathValue("id")
	case "POST " + Prefix + "parked/{slot}/retrieve":
		return "call.retrieve", "slot " + r.PathValue("slot")
	case "POST " + Prefix + "dial":
		return "call.dial", ""
	case "POST " + Prefix + "switchboard":
		return "switchboard.update", ""
	}
	return "console.request", r.URL.Path
}

// auditNote is where a handler leaves the details of its action.
type auditNote struct{ kv []string }

type noteKey struct{}

// noteDetail adds key, value pairs to the request's audit entry (never a
// secret).
func noteDetail(r *http.Request, kv ...string) {
	if n, ok := r.Context().Value(noteKey{}).(*auditNote); ok {
		n.kv = append(n.kv, kv...)
	}
}

// audited records the action h takes in the audit log: who (the
// operator, with the role of an admin or an operator), what (the route's
// action and target, and the details h noted), from where
// (r.RemoteAddr) and the outcome by status code: ok, denied (401, 403)
// or error, with the error the operator was shown.
func (a *api) audited(h handler) handler {
	if a.Audit == nil {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request, u User) {
		n := &auditNote{}
		r = r.WithContext(context.WithValue(r.Context(), noteKey{}, n))
		sw := audit.NewStatusWriter(w)
		h(sw, r, u)
		action, target := auditAction(r)
		code := sw.Status()
		kv := n.kv
		e := store.AuditEntry{Actor: audit.Operator(u.Username), Role: store.AuditRoleOperator, Action: action,
			Target: target, Source: r.RemoteAddr, TenantID: u.TenantID, Outcome: store.AuditOK}
		if u.Admin {
			e.Role = store.AuditRoleAdmin
		}
		if code >= 400 {
			e.Outcome = audit.Outcome(code)
			kv = append(kv, "status", strconv.Itoa(code))
			var eb ErrorBody
			if json.Unmarshal(sw.ErrorBody(), &eb) == nil && eb.Error != "" {
				kv = append(kv, "error", eb.Error)
			}
		}
		if action == "call.dial" && target == "" {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == "to" {
					e.Target = kv[i+1]
				}
			}
		}
		e.Detail = audit.Detail(kv...)
		a.Audit.Record(e)
	}
}
