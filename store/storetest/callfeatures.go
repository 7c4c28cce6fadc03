package storetest

import (
	"testing"
	"time"

	"github.com/sentralpbx/sentral/store"
)

// testCallFeatures covers forwarding, DND, voicemail settings and group
// overflow: what a writer that leaves them out gets, and which values the
// store refuses. (The CRUD tests round-trip every field.)
func testCallFeatures(t *testing.T, h Harness) {
	ctx, st, reopen := open(t, h)
	f := newFixture(t, ctx, st)

	// An extension created without call features has none: no forwards,
	// DND and voicemail off, the default no-answer time and language.
	e, err := st.Extensions().Get(ctx, f.ext1[0].ID)
	if err != nil {
		t.Fatalf("Get extension: %v", err)
	}
	if e.ForwardAlways != "" || e.ForwardBusy != "" || e.ForwardNoAnswer != "" || e.NoAnswerSeconds != 0 ||
		e.DND || e.Voicemail || e.VoicemailAskPIN || e.Language != "" {
		t.Errorf("new extension has call features %+v, want none", e)
	}
	if got := e.NoAnswerAfter(); got != store.DefaultNoAnswerSeconds*time.Second {
		t.Errorf("NoAnswerAfter of a new extension = %s, want %ds", got, store.DefaultNoAnswerSeconds)
	}
	g := store.Group{TenantID: f.t1.ID, Number: "2500", Name: "Servicetorget", Strategy: store.GroupHunt, RingSeconds: 20,
		Members: []int64{f.ext1[0].ID, f.ext1[1].ID}}
	mustCreate(t, ctx, st.Groups(), &g)
	if got, err := st.Groups().Get(ctx, g.ID); err != nil || got.Overflow != "" {
		t.Errorf("new group: overflow %q, %v; want none", got.Overflow, err)
	}

	// Targets are stored trimmed; a mailbox or number that does not exist
	// (yet) is not refused: it is routed when a call comes.
	e.ForwardAlways, e.ForwardBusy, e.ForwardNoAnswer = " 2002 ", "voicemail:2999", " voicemail"
	e.NoAnswerSeconds, e.DND, e.Voicemail, e.Language = store.MinNoAnswerSeconds, true, true, " en "
	mustUpdate(t, ctx, st.Extensions(), &e)
	want := e
	want.ForwardAlways, want.ForwardNoAnswer, want.Language = "2002", store.ForwardVoicemail, "en"
	if got, err := reopen(t).Extensions().Get(ctx, e.ID); err != nil {
		t.Errorf("Get through a second handle: %v", err)
	} else {
		sameEntity(t, "extension with call features read through a second handle", got, want)
		if got.NoAnswerAfter() != store.MinNoAnswerSeconds*time.Second {
			t.Errorf("NoAnswerAfter = %s, want %ds", got.NoAnswerAfter(), store.MinNoAnswerSeconds)
		}
	}
	e = want
	e.NoAnswerSeconds = store.MaxNoAnswerSeconds
	mustUpdate(t, ctx, st.Extensions(), &e)

	// An update of another field keeps the call features.
	e.DisplayName = "Kari Nordmann"
	mustUpdate(t, ctx, st.Extensions(), &e)
	if got, err := st.Extensions().Get(ctx, e.ID); err != nil || got.ForwardBusy != "voicemail:2999" || !got.DND || got.NoAnswerSeconds != store.MaxNoAnswerSeconds {
		t.Errorf("after renaming: %+v, %v; want the call features kept", got, err)
	}

	g.Overflow = "voicemail:2001"
	mustUpdate(t, ctx, st.Groups(), &g)
	g.Overflow = " +4791234567 "
	mustUpdate(t, ctx, st.Groups(), &g)
	if got, err := st.Groups().Get(ctx, g.ID); err != nil || got.Overflow != "+4791234567" {
		t.Errorf("group overflow read back as %q, %v; want +4791234567", got.Overflow, err)
	}

	// Refusals, on create and on update. Each names the field and leaves
	// the row and the change log as they were.
	extCase := func(mut func(*store.Extension)) func(create bool) error {
		return func(create bool) error {
			if create {
				x := store.Extension{TenantID: f.t1.ID, Number: "2050", DisplayName: "Ny", COS: store.COSInternal}
				mut(&x)
				return st.Extensions().Create(ctx, &x)
			}
			x, err := st.Extensions().Get(ctx, f.ext1[1].ID)
			if err != nil {
				return err
			}
			mut(&x)
			return st.Extensions().Update(ctx, &x)
		}
	}
	groupCase := func(overflow string) func(create bool) error {
		return func(create bool) error {
			if create {
				x := store.Group{TenantID: f.t1.ID, Number: "2550", Name: "Ny", Strategy: store.GroupSimultaneous, RingSeconds: 20, Overflow: overflow}
				return st.Groups().Create(ctx, &x)
			}
			x, err := st.Groups().Get(ctx, g.ID)
			if err != nil {
				return err
			}
			x.Overflow = overflow
			return st.Groups().Update(ctx, &x)
		}
	}
	for _, c := range []struct {
		name  string
		field string
		do    func(create bool) error
	}{
		{"forward to a name", "forward_always", extCase(func(x *store.Extension) { x.ForwardAlways = "resepsjonen" })},
		{"forward to a SIP URI", "forward_busy", extCase(func(x *store.Extension) { x.ForwardBusy = "sip:2001@fjordvik.example.net" })},
		{"forward to a lone +", "forward_no_answer", extCase(func(x *store.Extension) { x.ForwardNoAnswer = "+" })},
		{"forward to a number of 21 characters", "forward_always", extCase(func(x *store.Extension) { x.ForwardAlways = "+12345678901234567890" })},
		{"forward to a mailbox without a number", "forward_busy", extCase(func(x *store.Extension) { x.ForwardBusy = "voicemail:" })},
		{"forward to a mailbox of a name", "forward_no_answer", extCase(func(x *store.Extension) { x.ForwardNoAnswer = "voicemail:kari" })},
		{"forward to the extension itself", "forward_no_answer", extCase(func(x *store.Extension) { x.ForwardNoAnswer = x.Number })},
		{"no-answer time below the minimum", "no_answer_seconds", extCase(func(x *store.Extension) { x.NoAnswerSeconds = store.MinNoAnswerSeconds - 1 })},
		{"no-answer time above the maximum", "no_answer_seconds", extCase(func(x *store.Extension) { x.NoAnswerSeconds = store.MaxNoAnswerSeconds + 1 })},
		{"negative no-answer time", "no_answer_seconds", extCase(func(x *store.Extension) { x.NoAnswerSeconds = -1 })},
		{"unknown language", "language", extCase(func(x *store.Extension) { x.Language = "nn" })},
		{"group overflow to its own mailbox", "overflow", groupCase(store.ForwardVoicemail)},
		{"group overflow to a number with spaces", "overflow", groupCase("91 23 45 67")},
		{"group overflow to itself", "overflow", func(create bool) error {
			if create {
				x := store.Group{TenantID: f.t1.ID, Number: "2550", Name: "Ny", Strategy: store.GroupHunt, RingSeconds: 20, Overflow: "2550"}
				return st.Groups().Create(ctx, &x)
			}
			return groupCase(g.Number)(false)
		}},
	} {
		for _, create := range []bool{true, false} {
			what := c.name + " (update)"
			if create {
				what = c.name + " (create)"
			}
			before, err := st.Extensions().Get(ctx, f.ext1[1].ID)
			if err != nil {
				t.Fatalf("Get extension: %v", err)
			}
			seq := lastChange(t, ctx, st)
			wantErr(t, what, c.do(create), kinds(store.ErrInvalid), c.field)
			if cs := changesSince(t, ctx, st, seq); len(cs) != 0 {
				t.Errorf("%s: the refused write logged changes %+v", what, cs)
			}
			if after, err := st.Extensions().Get(ctx, f.ext1[1].ID); err != nil {
				t.Errorf("%s: Get extension: %v", what, err)
			} else {
				sameEntity(t, what+": extension after the refused write", after, before)
			}
		}
	}
	if _, err := st.Extensions().Find(ctx, f.t1.ID, "2050"); err == nil {
		t.Errorf("a refused create left extension 2050 behind")
	}

	// A forward may name another extension's mailbox or number, and a
	// group may overflow to a member or a mailbox: allowed on create too.
	ctl := store.Extension{TenantID: f.t1.ID, Number: "2050", DisplayName: "Kontroll", COS: store.COSInternal,
		ForwardAlways: "voicemail:2001", ForwardBusy: "2001", ForwardNoAnswer: "+4791234567", NoAnswerSeconds: 30, Voicemail: true, Language: "nb"}
	mustCreate(t, ctx, st.Extensions(), &ctl)
	ctlG := store.Group{TenantID: f.t1.ID, Number: "2550", Name: "Kontroll", Strategy: store.GroupSimultaneous, RingSeconds: 20, Overflow: f.ext1[2].Number}
	mustCreate(t, ctx, st.Groups(), &ctlG)
	if got, err := st.Groups().Find(ctx, f.t1.ID, "2550"); err != nil {
		t.Errorf("Find group 2550: %v", err)
	} else {
		sameEntity(t, "group with an overflow", got, ctlG)
	}
}
