package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/sentralpbx/sentral/audit"
	"github.com/sentralpbx/sentral/console/board"
	"github.com/sentralpbx/sentral/directory/search"
	"github.com/sentralpbx/sentral/media/queue"
)

type recorder = audit.Memory

// TestAuditActions: every action an operator takes is recorded, with its
// target, details, source and outcome; reads are not.
func TestAuditActions(t *testing.T) {
	rec := &recorder{}
	sb := queue.New(noMedia{}, settings{}, nil, zaptest.NewLogger(t))
	t.Cleanup(sb.Close)
	brd := board.New(nil, nil, nil, zaptest.NewLogger(t))
	h := New(Deps{Queue: sb, Board: brd, Directory: book{search.NewIndex(nil)}, Log: zaptest.NewLogger(t), Ping: time.Second,
		Settings: &fakeSettings{}, Audit: rec,
		User: func(r *http.Request) (User, bool) {
			name := r.Header.Get("X-Test-User")
			return User{Username: name, TenantID: 7, Tenant: "fjordvik", Extension: "2001", Admin: name == "admin"}, name != ""
		}})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	for _, c := range []struct {
		user, path, body                        string
		action, target, role, outcome, inDetail string
	}{
		{"kari", "available", `{"available": true}`, "operator.available", "", "operator", "ok", `"available":"true"`},
		{"kari", "queue/c1/answer", ``, "call.answer", "c1", "operator", "error", `"status":"404"`},
		{"kari", "calls/c2/transfer", `{"target": "2002"}`, "call.transfer", "c2", "operator", "error", `"to":"2002"`},
		{"kari", "calls/c2/transfer", `{}`, "call.transfer", "c2", "operator", "error", `"error":"target is required"`},
		{"kari", "calls/c3/park", ``, "call.park", "c3", "operator", "error", `"status":"404"`},
		{"kari", "calls/c3/hangup", ``, "call.hangup", "c3", "operator", "error", `"status":"404"`},
		{"kari", "calls/c3/fly", ``, "call.unknown", "c3", "operator", "error", `unknown action`},
		{"kari", "parked/3/retrieve", ``, "call.retrieve", "slot 3", "operator", "error", `"status":"404"`},
		{"kari", "switchboard", `{"hours": "mon-fri 08:00-15:30"}`, "switchboard.update", "", "operator", "denied", `"status":"403"`},
		{"admin", "switchboard", `{"hours": "mon-fri 08:00-15:30", "night_target": "voicemail:2001"}`, "switchboard.update", "", "admin", "ok", `"night_target":"voicemail:2001"`},
	} {
		do(t, srv, "POST", Prefix+c.path, c.body, c.user)
		es := rec.Take()
		if len(es) != 1 {
			t.Errorf("POST %s: recorded %+v, want one entry", c.path, es)
			continue
		}
		e := es[0]
		if e.Action != c.action || e.Target != c.target || e.Role != c.role || e.Outcome != c.outcome || e.Actor != "operator:"+c.user ||
			e.TenantID != 7 || !strings.HasPrefix(e.Source, "127.0.0.1:") || !strings.Contains(e.Detail, c.inDetail) {
			t.Errorf("POST %s %s by %s: %+v\nwant %s on %q by operator:%s (%s), %s, detail with %s, from 127.0.0.1:port",
				c.path, c.body, c.user, e, c.action, c.target, c.user, c.role, c.outcome, c.inDetail)
		}
	}
	// Reads and requests without a user are not actions.
	do(t, srv, "GET", Prefix+"switchboard", "", "kari")
	do(t, srv, "POST", Prefix+"available", `{"available": true}`, "")
	if es := rec.Take(); len(es) != 0 {
		t.Errorf("recorded %+v for a read and an unauthenticated request", es)
	}
}
