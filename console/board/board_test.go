package board

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/sentralpbx/sentral/events"
	"github.com/sentralpbx/sentral/store"
	"github.com/sentralpbx/sentral/store/pgtest"
)

type regs []store.Binding

func (r regs) All(tenantID int64) []store.Binding {
	var out []store.Binding
	for _, b := range r {
		if b.TenantID == tenantID {
			out = append(out, b)
		}
	}
	return out
}

func onBothStores(t *testing.T, fn func(t *testing.T, ctx context.Context, st store.Store)) {
	pgtest.EachStore(t, "board_test", time.Minute, fn)
}

// TestBoardFollowsPhonesAndSettings: the board shows registration, ringing,
// talking, DND and forwarding, and announces each change.
func TestBoardFollowsPhonesAndSettings(t *testing.T) {
	onBothStores(t, func(t *testing.T, ctx context.Context, st store.Store) {
		tn := store.Tenant{Name: "fjordvik", Domain: "fjordvik.test", Ranges: []store.NumberRange{{Kind: store.RangeExtension, First: "2000", Last: "2999"}}}
		if err := st.Tenants().Create(ctx, &tn); err != nil {
			t.Fatal(err)
		}
		dep := store.Department{TenantID: tn.ID, Code: "1200", Name: "Økonomi"}
		if err := st.Departments().Create(ctx, &dep); err != nil {
			t.Fatal(err)
		}
		site := store.Site{TenantID: tn.ID, Name: "Rådhuset"}
		if err := st.Sites().Create(ctx, &site); err != nil {
			t.Fatal(err)
		}
		mk := func(e store.Extension) store.Extension {
			e.TenantID, e.COS, e.Enabled = tn.ID, store.COSNational, true
			if err := st.Extensions().Create(ctx, &e); err != nil {
				t.Fatal(err)
			}
			return e
		}
		kari := mk(store.Extension{Number: "2001", DisplayName: "Kari", DepartmentID: &dep.ID, SiteID: &site.ID})
		mk(store.Extension{Number: "2002", DisplayName: "Per", DND: true})
		mk(store.Extension{Number: "2003", DisplayName: "Ola", ForwardAlways: "2001"})
		mk(store.Extension{Number: "2004", DisplayName: "Av"})
		names := func(_ int64, n string) (string, bool) {
			return map[string]string{"2001": "Kari Ødegård-Hansen"}[n], n == "2001"
		}
		r := regs{{TenantID: tn.ID, Number: "2002", Expires: time.Now().Add(time.Hour)}}
		b := New(st, r, names, zaptest.NewLogger(t))
		if err := b.Load(ctx); err != nil {
			t.Fatal(err)
		}
		want := map[string]Entry{
			"2001": {Number: "2001", Name: "Kari Ødegård-Hansen", Department: "Økonomi", Site: "Rådhuset", State: StateUnregistered},
			"2002": {Number: "2002", Name: "Per", State: StateDND},
			"2003": {Number: "2003", Name: "Ola", State: StateForwarded, Forward: "2001"},
			"2004": {Number: "2004", Name: "Av", State: StateUnregistered},
		}
		snap := b.Snapshot(tn.ID)
		if len(snap) != 4 {
			t.Fatalf("board %+v", snap)
		}
		for _, e := range snap {
			if e != want[e.Number] {
				t.Errorf("entry %+v, want %+v", e, want[e.Number])
			}
		}

		hub := events.NewHub(events.Options{})
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		updates := b.Subscribe(runCtx)
		go func() { done <- b.Run(runCtx, hub) }()
		defer func() {
			cancel()
			<-done
		}()
		next := func(what string) Entry {
			t.Helper()
			select {
			case u := <-updates:
				return u.Entry
			case <-time.After(10 * time.Second):
				t.Fatalf("%s: no update within 10 s", what)
				return Entry{}
			}
		}
		// Run subscribes to the hub in its goroutine: publish until seen.
		deadline := time.Now().Add(10 * time.Second)
		for hub.Registrations.Subscribers() == 0 || hub.Dialogs.Subscribers() == 0 {
			if time.Now().After(deadline) {
				t.Fatal("Run did not subscribe")
			}
			time.Sleep(5 * time.Millisecond)
		}
		hub.Registrations.Publish(events.RegistrationEvent{TenantID: tn.ID, Number: "2001", Bindings: 1})
		if e := next("register"); e.Number != "2001" || e.State != StateIdle {
			t.Errorf("after register: %+v", e)
		}
		for _, step := range []struct {
			state, dir, want string
		}{
			{events.DialogRinging, events.DirectionInbound, StateRinging},
			{events.DialogConfirmed, events.DirectionInbound, StateInCall},
			{events.DialogTerminated, events.DirectionInbound, StateIdle},
			{events.DialogTrying, events.DirectionOutbound, StateInCall},
			{events.DialogTerminated, events.DirectionOutbound, StateIdle},
		} {
			hub.Dialogs.Publish(events.DialogEvent{TenantID: tn.ID, Ext: "2001", CallID: "c-" + step.dir, State: step.state, Direction: step.dir})
			if e := next(step.state); e.State != step.want {
				t.Errorf("dialog %s %s: state %q, want %q", step.dir, step.state, e.State, step.want)
			}
		}
		if s := b.State(tn.ID, "2001"); s != StateIdle {
			t.Errorf("State(2001) = %q", s)
		}
		// A setting changed in the store reaches the board.
		kari.DND = true
		if err := st.Extensions().Update(ctx, &kari); err != nil {
			t.Fatal(err)
		}
		if e := next("dnd"); e.Number != "2001" || e.State != StateDND {
			t.Errorf("after DND in the store: %+v", e)
		}
		if b.State(tn.ID, "9999") != "" {
			t.Error("State of an unknown number is not empty")
		}
	})
}
