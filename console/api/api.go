// Package api is the operators' console API (docs/console-api.md) over the
// switchboard engine (media/queue), the extension board (console/board)
// and the phone book: the state the page shows, a Server-Sent Events
// stream of changes, directory search, and the operator actions. Login,
// sessions and CSRF are console/auth's; this package is mounted behind
// its middleware and reads the operator from the request.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/console/board"
	"github.com/sentralpbx/sentral/directory/search"
	"github.com/sentralpbx/sentral/media/queue"
)

// Prefix is where the API is mounted.
const Prefix = "/console/api/"

// User is the logged-in operator.
type User struct {
	Username  string
	Name      string
	TenantID  int64
	Tenant    string // the tenant's name
	Extension string
	Admin     bool // may change the switchboard's settings
}

// Settings are the tenant's switchboard settings (provisioning), which
// admins change from the console as from the CLI.
type Settings interface {
	Switchboard(ctx context.Context, tenant string) (SwitchboardSettings, error)
	SetSwitchboard(ctx context.Context, tenant string, hours, nightTarget *string) (SwitchboardSettings, error)
}

// SwitchboardSettings are the opening hours and the night target.
type SwitchboardSettings struct {
	Number      string `json:"switchboard_number"`
	Hours       string `json:"hours"`
	NightTarget string `json:"night_target"`
}

// Directory is the phone book as the switchboard searches it.
type Directory interface {
	Search(tenantID int64, q search.Query) ([]search.Hit, int)
}

// Softphone is what the page needs to answer calls in the browser.
type Softphone struct {
	WSURL      string `json:"ws_url"`
	Domain     string `json:"domain"`
	ICEServers any    `json:"ice_servers"`
}

// Home says where the switchboard queues are: in a cluster one node
// holds them (docs/cluster.md), and operators answer them on its console.
type Home struct {
	Node string `json:"node"`
	URL  string `json:"url,omitempty"` // that node's console
	Here bool   `json:"here"`          // this node holds them
}

// Deps are the API's collaborators.
type Deps struct {
	// Home, when set (a cluster), tells the page where the queues are.
	Home      func() Home
	Queue     *queue.Switchboard
	Board     *board.Board
	Directory Directory
	// User returns the request's operator (set by console/auth's
	// middleware); false answers 401.
	User func(r *http.Request) (User, bool)
	// Softphone describes the SIP WebSocket for the page.
	Softphone func(r *http.Request, tenantID int64) Softphone
	// Settings, when set, lets every operator read and admins change the
	// opening hours and night target.
	Settings Settings
	Log      *zap.Logger
	// Audit, when set, records every operator action and settings change
	// in the audit log (audit.go).
	Audit Recorder
	// Ping is the SSE keep-alive period (15 s when zero).
	Ping time.Duration
}

type api struct{ Deps }

// New returns the API handler; mount it at Prefix behind the session
// middleware.
func New(d Deps) http.Handler {
	if d.Log == nil {
		d.Log = zap.NewNop()
	}
	if d.Ping <= 0 {
		d.Ping = 15 * time.Second
	}
	a := &api{d}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+Prefix+"state", a.user(a.state))
	mux.HandleFunc("GET "+Prefix+"events", a.user(a.events))
	mux.HandleFunc("GET "+Prefix+"directory", a.user(a.directory))
	// Every POST is an action the audit log records.
	mux.HandleFunc("POST "+Prefix+"available", a.user(a.audited(a.available)))
	mux.HandleFunc("POST "+Prefix+"queue/{id}/answer", a.user(a.audited(a.answer)))
	mux.HandleFunc("POST "+Prefix+"calls/{id}/{action}", a.user(a.audited(a.action)))
	mux.HandleFunc("POST "+Prefix+"parked/{slot}/retrieve", a.user(a.audited(a.retrieve)))
	mux.HandleFunc("POST "+Prefix+"dial", a.user(a.audited(a.dial)))
	if d.Settings != nil {
		mux.HandleFunc("GET "+Prefix+"switchboard", a.user(a.settings))
		mux.HandleFunc("POST "+Prefix+"switchboard", a.user(a.audited(a.setSettings)))
	}
	return mux
}

type handler func(w http.ResponseWriter, r *http.Request, u User)

func (a *api) user(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, ok := a.User(r)
		if !ok {
			writeError(w, http.StatusUnauthorized, "log in first", "")
			return
		}
		h(w, r, u)
	}
}

func op(u User) queue.Operator {
	return queue.Operator{Username: u.Username, Name: u.Name, Extension: u.Extension}
}

// State is the body of GET state.
type State struct {
	Queue     []queue.QueueCall     `json:"queue"`
	Calls     []queue.OperatorCall  `json:"calls"`
	Parked    []queue.ParkedCall    `json:"parked"`
	Board     []board.Entry         `json:"board"`
	Recent    []queue.RecentCall    `json:"recent"`
	Operators []queue.OperatorState `json:"operators"`
	Night     queue.Night           `json:"night"`
	Me        Me                    `json:"me"`
	Softphone Softphone             `json:"softphone"`
	// SwitchboardHome is set in a cluster: the page points operators at
	// the node holding the queues when it is not this one.
	SwitchboardHome *Home `json:"switchboard_home,omitempty"`
}

// Me is the operator's own status.
type Me struct {
	Available bool `json:"available"`
}

func (a *api) snapshot(r *http.Request, u User) State {
	qs := a.Queue.Snapshot(u.TenantID)
	st := State{Queue: qs.Queue, Calls: qs.CallsOf(u.Username), Parked: qs.Parked, Board: a.Board.Snapshot(u.TenantID),
		Recent: qs.Recent, Operators: qs.Operators, Night: qs.Night}
	for _, o := range qs.Operators {
		if o.Username == u.Username {
			st.Me.Available = o.Available
		}
	}
	if a.Softphone != nil {
		st.Softphone = a.Softphone(r, u.TenantID)
	}
	if a.Home != nil {
		h := a.Home()
		st.SwitchboardHome = &h
	}
	return st
}

func (a *api) state(w http.ResponseWriter, r *http.Request, u User) {
	writeJSON(w, http.StatusOK, a.snapshot(r, u))
}

// events streams changes as Server-Sent Events until the client goes.
func (a *api) events(w http.ResponseWriter, r *http.Request, u User) {
	fl, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, "streaming unsupported", "")
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	changes := a.Queue.Subscribe(ctx)
	entries := a.Board.Subscribe(ctx)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, ": connected\n\n")
	fl.Flush()
	send := func(event string, v any) bool {
		b, err := json.Marshal(v)
		if err != nil {
			return false
		}
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b); err != nil {
			return false
		}
		fl.Flush()
		return true
	}
	ping := time.NewTicker(a.Ping)
	defer ping.Stop()
	lastRecent := ""
	for {
		select {
		case <-ctx.Done():
			return
		case <-ping.C:
			if _, err := fmt.Fprint(w, ": ping\n\n"); err != nil {
				return
			}
			fl.Flush()
		case up, ok := <-entries:
			if !ok {
				return
			}
			if up.TenantID == u.TenantID && !send("board", up.Entry) {
				return
			}
		case ch, ok := <-changes:
			if !ok {
				return
			}
			if ch.TenantID != u.TenantID {
				continue
			}
			qs := a.Queue.Snapshot(u.TenantID)
			var ok2 bool
			switch ch.Kind {
			case "queue":
				ok2 = send("queue", qs.Queue)
			case "calls":
				ok2 = send("calls", qs.CallsOf(u.Username))
			case "parked":
				ok2 = send("parked", qs.Parked)
			case "operators":
				ok2 = send("operators", qs.Operators)
			case "night":
				ok2 = send("night", qs.Night)
			case "recent":
				ok2 = true
				// One event per new entry, oldest first, as the page
				// prepends them.
				var fresh []queue.RecentCall
				for _, rc := range qs.Recent {
					if rc.ID+rc.Outcome == lastRecent {
						break
					}
					fresh = append(fresh, rc)
				}
				for i := len(fresh) - 1; i >= 0 && ok2; i-- {
					ok2 = send("recent", fresh[i])
				}
				if len(qs.Recent) > 0 {
					lastRecent = qs.Recent[0].ID + qs.Recent[0].Outcome
				}
			default:
				ok2 = true
			}
			if !ok2 {
				return
			}
		}
	}
}

// DirEntry is one directory hit with the extension's board state.
type DirEntry struct {
	ID         int64    `json:"id"`
	Kind       string   `json:"kind"`
	Name       string   `json:"name"`
	Title      string   `json:"title"`
	Department string   `json:"department"`
	Site       string   `json:"site"`
	Numbers    []string `json:"numbers"`
	Mobile     string   `json:"mobile"`
	Notes      string   `json:"notes"`
	State      string   `json:"state"`
}

func (a *api) directory(w http.ResponseWriter, r *http.Request, u User) {
	q := r.URL.Query()
	limit, err := intParam(q.Get("limit"), 20, 1, search.MaxLimit)
	if err != nil {
		writeError(w, http.StatusBadRequest, "limit: "+err.Error(), "limit")
		return
	}
	offset, err := intParam(q.Get("offset"), 0, 0, 1<<30)
	if err != nil {
		writeError(w, http.StatusBadRequest, "offset: "+err.Error(), "offset")
		return
	}
	hits, total := a.Directory.Search(u.TenantID, search.Query{Text: q.Get("q"), Limit: limit, Offset: offset, Switchboard: true})
	out := struct {
		Total   int        `json:"total"`
		Entries []DirEntry `json:"entries"`
	}{Total: total, Entries: []DirEntry{}}
	for _, h := range hits {
		e := h.Entry
		d := DirEntry{ID: e.ID, Kind: e.Kind, Name: e.Name, Title: e.Title, Department: e.Department, Site: e.Site,
			Numbers: e.Numbers, Mobile: e.Mobile, Notes: e.Notes}
		if d.Numbers == nil {
			d.Numbers = []string{}
		}
		for _, n := range e.Numbers {
			if s := a.Board.State(u.TenantID, n); s != "" {
				d.State = s
				break
			}
		}
		out.Entries = append(out.Entries, d)
	}
	writeJSON(w, http.StatusOK, out)
}

func intParam(s string, def, lo, hi int) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("must be a whole number from %d to %d", lo, hi)
	}
	return n, nil
}

// body decodes a small JSON body into v; an empty body is {}.
func body(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 16<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

func (a *api) available(w http.ResponseWriter, r *http.Request, u User) {
	var in struct {
		Available *bool `json:"available"`
	}
	if err := body(r, &in); err != nil || in.Available == nil {
		writeError(w, http.StatusBadRequest, `give {"available": true} or false`, "available")
		return
	}
	noteDetail(r, "available", strconv.FormatBool(*in.Available))
	a.Queue.SetAvailable(u.TenantID, op(u), *in.Available)
	a.Log.Info("console: availability", zap.String("operator", u.Username), zap.Bool("available", *in.Available))
	w.WriteHeader(http.StatusNoContent)
}

func (a *api) answer(w http.ResponseWriter, r *http.Request, u User) {
	if u.Extension == "" {
		writeError(w, http.StatusBadRequest, "your account has no extension to ring; ask an admin to set one (sentral operator update --extension)", "extension")
		return
	}
	a.done(w, u, "answer", r.PathValue("id"), a.Queue.Answer(r.Context(), u.TenantID, op(u), r.PathValue("id")))
}

type targetBody struct {
	Target  string `json:"target"`
	Mailbox string `json:"mailbox"`
}

func (a *api) action(w http.ResponseWriter, r *http.Request, u User) {
	id, act := r.PathValue("id"), r.PathValue("action")
	var in targetBody
	if err := body(r, &in); err != nil {
		writeError(w, http.StatusBadRequest, "the body must be JSON such as {\"target\": \"2001\"}", "")
		return
	}
	ctx, o := r.Context(), op(u)
	needTarget := func(s, field string) bool {
		if strings.TrimSpace(s) == "" {
			writeError(w, http.StatusBadRequest, field+" is required", field)
			return false
		}
		return true
	}
	var err error
	switch act {
	case "hold":
		err = a.Queue.Hold(ctx, u.TenantID, o, id)
	case "resume":
		err = a.Queue.Resume(ctx, u.TenantID, o, id)
	case "hangup":
		err = a.Queue.Hangup(ctx, u.TenantID, o, id)
	case "transfer":
		if !needTarget(in.Target, "target") {
			return
		}
		noteDetail(r, "to", strings.TrimSpace(in.Target))
		err = a.Queue.Transfer(ctx, u.TenantID, o, id, strings.TrimSpace(in.Target))
	case "consult":
		if !needTarget(in.Target, "target") {
			return
		}
		noteDetail(r, "to", strings.TrimSpace(in.Target))
		err = a.Queue.Consult(ctx, u.TenantID, o, id, strings.TrimSpace(in.Target))
	case "connect":
		err = a.Queue.Connect(ctx, u.TenantID, o, id)
	case "return":
		err = a.Queue.Return(ctx, u.TenantID, o, id)
	case "voicemail":
		mb := in.Mailbox
		if mb == "" {
			mb = in.Target
		}
		if !needTarget(mb, "mailbox") {
			return
		}
		noteDetail(r, "mailbox", strings.TrimSpace(mb))
		err = a.Queue.ToVoicemail(ctx, u.TenantID, o, id, strings.TrimSpace(mb))
	case "park":
		slot, perr := a.Queue.Park(ctx, u.TenantID, o, id)
		if perr == nil {
			noteDetail(r, "slot", strconv.Itoa(slot))
			a.Log.Info("console: park", zap.String("operator", u.Username), zap.String("call_id", id), zap.Int("slot", slot))
			writeJSON(w, http.StatusOK, map[string]int{"slot": slot})
			return
		}
		err = perr
	default:
		writeError(w, http.StatusNotFound, "unknown action "+strconv.Quote(act), "")
		return
	}
	a.done(w, u, act, id, err)
}

func (a *api) retrieve(w http.ResponseWriter, r *http.Request, u User) {
	slot, err := strconv.Atoi(r.PathValue("slot"))
	if err != nil || slot < 1 {
		writeError(w, http.StatusNotFound, "no such parking slot", "slot")
		return
	}
	a.done(w, u, "retrieve", r.PathValue("slot"), a.Queue.Retrieve(r.Context(), u.TenantID, op(u), slot))
}

func (a *api) dial(w http.ResponseWriter, r *http.Request, u User) {
	var in targetBody
	if err := body(r, &in); err != nil || strings.TrimSpace(in.Target) == "" {
		writeError(w, http.StatusBadRequest, `give {"target": "NUMBER"}`, "target")
		return
	}
	// The call outlives the request: it is the engine's.
	id, err := a.Queue.DialOut(context.WithoutCancel(r.Context()), u.TenantID, op(u), strings.TrimSpace(in.Target))
	noteDetail(r, "to", strings.TrimSpace(in.Target), "call_id", id)
	if err != nil {
		a.done(w, u, "dial", in.Target, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"id": id})
}

func (a *api) settings(w http.ResponseWriter, r *http.Request, u User) {
	v, err := a.Settings.Switchboard(r.Context(), u.Tenant)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "reading the switchboard's settings failed", "")
		a.Log.Error("console: switchboard settings", zap.Error(err))
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// SettingsError is a refusal of new settings that names the field; the
// provisioning layer's errors satisfy it.
type SettingsError interface {
	error
	FieldName() string
}

func (a *api) setSettings(w http.ResponseWriter, r *http.Request, u User) {
	if !u.Admin {
		writeError(w, http.StatusForbidden, "only the switchboard's admins may change its settings", "")
		return
	}
	var in struct {
		Hours       *string `json:"hours"`
		NightTarget *string `json:"night_target"`
	}
	if err := body(r, &in); err != nil || (in.Hours == nil && in.NightTarget == nil) {
		writeError(w, http.StatusBadRequest, `give {"hours": "mon-fri 08:00-15:30", "night_target": "voicemail:2000"} (either or both)`, "")
		return
	}
	if in.Hours != nil {
		noteDetail(r, "hours", *in.Hours)
	}
	if in.NightTarget != nil {
		noteDetail(r, "night_target", *in.NightTarget)
	}
	v, err := a.Settings.SetSwitchboard(r.Context(), u.Tenant, in.Hours, in.NightTarget)
	if err != nil {
		field := ""
		var se SettingsError
		if errors.As(err, &se) {
			field = se.FieldName()
		}
		writeError(w, http.StatusBadRequest, err.Error(), field)
		return
	}
	a.Log.Info("console: switchboard settings changed", zap.String("operator", u.Username), zap.String("tenant", u.Tenant),
		zap.String("hours", v.Hours), zap.String("night_target", v.NightTarget))
	writeJSON(w, http.StatusOK, v)
}

// done answers an action: 204, or the engine's error as its status.
func (a *api) done(w http.ResponseWriter, u User, act, id string, err error) {
	log := a.Log.With(zap.String("operator", u.Username), zap.String("action", act), zap.String("call_id", id))
	switch {
	case err == nil:
		log.Info("console: action")
		w.WriteHeader(http.StatusNoContent)
	case errors.Is(err, queue.ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error(), "")
	case errors.Is(err, queue.ErrConflict):
		writeError(w, http.StatusConflict, err.Error(), "")
	case errors.Is(err, queue.ErrInvalid):
		writeError(w, http.StatusBadRequest, err.Error(), "target")
	default:
		log.Error("console: action failed", zap.Error(err))
		writeError(w, http.StatusInternalServerError, "the action failed: "+err.Error(), "")
	}
}

// ErrorBody is every error's body.
type ErrorBody struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

func writeError(w http.ResponseWriter, code int, msg, field string) {
	writeJSON(w, code, ErrorBody{Error: msg, Field: field})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
