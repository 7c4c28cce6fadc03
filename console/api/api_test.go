package api

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/sentralpbx/sentral/console/board"
	"github.com/sentralpbx/sentral/directory/search"
	"github.com/sentralpbx/sentral/events"
	"github.com/sentralpbx/sentral/media/queue"
	"github.com/sentralpbx/sentral/store"
	"github.com/sentralpbx/sentral/store/backend"
)

// noMedia refuses every call: the API tests need the engine's state and
// errors, not calls.
type noMedia struct{}

func (noMedia) Dial(context.Context, int64, string, string, string, time.Duration, map[string]string) (queue.Leg, error) {
	return nil, errors.New("no media in this test")
}
func (noMedia) Bridge(context.Context, queue.Leg, queue.Leg) (queue.Leg, error) {
	return nil, errors.New("no media")
}
func (noMedia) Voicemail(context.Context, queue.Leg, int64, string) error {
	return errors.New("no media")
}

type settings struct{}

func (settings) Switchboard(int64) (queue.Config, bool) { return queue.Config{}, true }

type book struct{ ix *search.Index }

func (b book) Search(_ int64, q search.Query) ([]search.Hit, int) { return b.ix.Search(q) }

// fixture is the API over a real engine and board, with one operator.
func fixture(t *testing.T) (*httptest.Server, *events.Hub, int64) {
	t.Helper()
	ctx := context.Background()
	st, err := backend.Open(ctx, filepath.Join(t.TempDir(), "s.db"), backend.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	tn := store.Tenant{Name: "fjordvik", Domain: "fjordvik.test", Ranges: []store.NumberRange{{Kind: store.RangeExtension, First: "2000", Last: "2999"}}}
	if err := st.Tenants().Create(ctx, &tn); err != nil {
		t.Fatal(err)
	}
	x := store.Extension{TenantID: tn.ID, Number: "2001", DisplayName: "Kari", COS: store.COSNational, Enabled: true}
	if err := st.Extensions().Create(ctx, &x); err != nil {
		t.Fatal(err)
	}
	brd := board.New(st, nil, nil, zaptest.NewLogger(t))
	if err := brd.Load(ctx); err != nil {
		t.Fatal(err)
	}
	hub := events.NewHub(events.Options{})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = brd.Run(runCtx, hub); close(done) }()
	sb := queue.New(noMedia{}, settings{}, nil, zaptest.NewLogger(t))
	t.Cleanup(func() { cancel(); <-done; sb.Close() })
	ix := search.NewIndex([]search.Entry{{ID: 1, Kind: "person", Name: "Kari Ødegård", FamilyName: "Ødegård", GivenName: "Kari",
		Numbers: []string{"2001"}, Notes: "Permisjon", Visibility: "secret"}})
	h := New(Deps{Queue: sb, Board: brd, Directory: book{ix}, Log: zaptest.NewLogger(t), Ping: 50 * time.Millisecond,
		Settings: &fakeSettings{},
		User: func(r *http.Request) (User, bool) {
			name := r.Header.Get("X-Test-User")
			if name == "" {
				return User{}, false
			}
			return User{Username: name, Name: "Op", TenantID: tn.ID, Tenant: "fjordvik", Extension: "2001", Admin: name == "admin"}, true
		}})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, hub, tn.ID
}

func do(t *testing.T, srv *httptest.Server, method, path, body string, user string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if user != "" {
		req.Header.Set("X-Test-User", user)
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b strings.Builder
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		b.WriteString(sc.Text())
	}
	return res, b.String()
}

func TestAPI(t *testing.T) {
	srv, _, _ := fixture(t)
	if res, _ := do(t, srv, "GET", Prefix+"state", "", ""); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("state without a user: %d", res.StatusCode)
	}
	res, body := do(t, srv, "GET", Prefix+"state", "", "kari")
	var st State
	if res.StatusCode != 200 || json.Unmarshal([]byte(body), &st) != nil {
		t.Fatalf("state: %d %s", res.StatusCode, body)
	}
	if len(st.Board) != 1 || st.Board[0].Number != "2001" || st.Board[0].State != board.StateUnregistered || st.Queue == nil || st.Me.Available {
		t.Errorf("state %+v", st)
	}
	if res, body := do(t, srv, "POST", Prefix+"available", `{"available": true}`, "kari"); res.StatusCode != http.StatusNoContent {
		t.Errorf("available: %d %s", res.StatusCode, body)
	}
	_, body = do(t, srv, "GET", Prefix+"state", "", "kari")
	if json.Unmarshal([]byte(body), &st) != nil || !st.Me.Available || len(st.Operators) != 1 {
		t.Errorf("after available: %s", body)
	}
	for _, c := range []struct {
		method, path, body string
		want               int
	}{
		{"POST", Prefix + "available", `{}`, 400},
		{"POST", Prefix + "available", `{"available": "ja"}`, 400},
		{"POST", Prefix + "queue/nope/answer", `{}`, 404},
		{"POST", Prefix + "calls/nope/hold", ``, 404},
		{"POST", Prefix + "calls/nope/transfer", `{}`, 400},
		{"POST", Prefix + "calls/nope/transfer", `{"target": "2002"}`, 404},
		{"POST", Prefix + "calls/nope/fly", `{}`, 404},
		{"POST", Prefix + "parked/0/retrieve", `{}`, 404},
		{"POST", Prefix + "parked/3/retrieve", `{}`, 404},
		{"POST", Prefix + "dial", `{}`, 400},
		{"GET", Prefix + "directory?limit=0", ``, 400},
	} {
		if res, body := do(t, srv, c.method, c.path, c.body, "kari"); res.StatusCode != c.want {
			t.Errorf("%s %s %s: %d %s, want %d", c.method, c.path, c.body, res.StatusCode, body, c.want)
		}
	}
	_, body = do(t, srv, "GET", Prefix+"directory?q=odegard", "", "kari")
	if !strings.Contains(body, `"name":"Kari Ødegård"`) || !strings.Contains(body, `"notes":"Permisjon"`) || !strings.Contains(body, `"state":"unregistered"`) {
		t.Errorf("directory as the switchboard: %s", body)
	}
}

// TestEvents: the stream carries board changes of the operator's tenant.
func TestEvents(t *testing.T) {
	srv, hub, tenant := fixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+Prefix+"events", nil)
	req.Header.Set("X-Test-User", "kari")
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	sc := bufio.NewScanner(res.Body)
	sc.Scan() // ": connected"
	go func() {
		for ctx.Err() == nil {
			hub.Registrations.Publish(events.RegistrationEvent{TenantID: tenant + 1, Number: "2001", Bindings: 1})
			hub.Registrations.Publish(events.RegistrationEvent{TenantID: tenant, Number: "2001", Bindings: 1})
			time.Sleep(50 * time.Millisecond)
		}
	}()
	var event string
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "event: ") {
			event = strings.TrimPrefix(line, "event: ")
		}
		if strings.HasPrefix(line, "data: ") && event == "board" {
			var e board.Entry
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &e); err != nil || e.Number != "2001" || e.State != board.StateIdle {
				t.Fatalf("board event %s: %v", line, err)
			}
			return
		}
	}
	t.Fatalf("no board event: %v", sc.Err())
}

// fakeSettings keeps the settings in memory and refuses hours "bad".
type fakeSettings struct{ v SwitchboardSettings }

type fieldErr struct{ error }

func (fieldErr) FieldName() string { return "hours" }

func (f *fakeSettings) Switchboard(context.Context, string) (SwitchboardSettings, error) {
	return f.v, nil
}
func (f *fakeSettings) SetSwitchboard(_ context.Context, _ string, hours, night *string) (SwitchboardSettings, error) {
	if hours != nil && *hours == "bad" {
		return f.v, fieldErr{errors.New("--hours \"bad\": not opening hours")}
	}
	if hours != nil {
		f.v.Hours = *hours
	}
	if night != nil {
		f.v.NightTarget = *night
	}
	return f.v, nil
}

// TestSettings: every operator reads the switchboard's settings; only
// admins change them, and refusals name the field.
func TestSettings(t *testing.T) {
	srv, _, _ := fixture(t)
	if res, body := do(t, srv, "POST", Prefix+"switchboard", `{"hours": "mon-fri 08:00-15:30"}`, "kari"); res.StatusCode != http.StatusForbidden {
		t.Errorf("operator changes settings: %d %s", res.StatusCode, body)
	}
	if res, body := do(t, srv, "POST", Prefix+"switchboard", `{"hours": "mon-fri 08:00-15:30", "night_target": "voicemail:2001"}`, "admin"); res.StatusCode != 200 ||
		!strings.Contains(body, `"hours":"mon-fri 08:00-15:30"`) {
		t.Errorf("admin changes settings: %d %s", res.StatusCode, body)
	}
	if res, body := do(t, srv, "POST", Prefix+"switchboard", `{"hours": "bad"}`, "admin"); res.StatusCode != 400 || !strings.Contains(body, `"field":"hours"`) {
		t.Errorf("bad hours: %d %s", res.StatusCode, body)
	}
	if res, body := do(t, srv, "POST", Prefix+"switchboard", `{}`, "admin"); res.StatusCode != 400 {
		t.Errorf("nothing to change: %d %s", res.StatusCode, body)
	}
	if res, body := do(t, srv, "GET", Prefix+"switchboard", "", "kari"); res.StatusCode != 200 || !strings.Contains(body, `"night_target":"voicemail:2001"`) {
		t.Errorf("operator reads settings: %d %s", res.StatusCode, body)
	}
}
