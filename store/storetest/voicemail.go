package storetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sentralpbx/sentral/store"
)

// testVoicemail checks the voicemail message store: exact round trips,
// list order and folder filter, moving between folders, the counts for
// message-waiting (per mailbox and per tenant, which must agree), delete
// returning the row, refusals, transactions, messages outliving their
// extension, and concurrent writers on two handles.
func testVoicemail(t *testing.T, h Harness) {
	// base has microseconds, so exact comparison tests the store's
	// precision rather than the clock.
	base := time.Date(2026, 11, 3, 8, 15, 2, 718281000, time.UTC)
	oslo := time.FixedZone("CET", 3600)
	msg := func(tenant int64, mailbox, path string, at time.Time) store.VoicemailMessage {
		return store.VoicemailMessage{TenantID: tenant, Mailbox: mailbox, CallerNumber: "+4791234567",
			CallID: path + "@test", ReceivedAt: at, DurationMillis: 4200, Path: path, SizeBytes: 67244}
	}
	add := func(t *testing.T, ctx context.Context, st store.Store, m store.VoicemailMessage) int64 {
		t.Helper()
		id, err := st.Voicemail().Add(ctx, m)
		if err != nil {
			t.Fatalf("Add %s: %v", m.Path, err)
		}
		if id <= 0 {
			t.Fatalf("Add %s: id %d, want > 0", m.Path, id)
		}
		return id
	}
	get := func(t *testing.T, ctx context.Context, st store.Store, id int64) store.VoicemailMessage {
		t.Helper()
		m, err := st.Voicemail().Get(ctx, id)
		if err != nil {
			t.Fatalf("Get voicemail message %d: %v", id, err)
		}
		return m
	}
	list := func(t *testing.T, ctx context.Context, st store.Store, tenant int64, mailbox string, folder store.VoicemailFolder) []store.VoicemailMessage {
		t.Helper()
		ms, err := st.Voicemail().List(ctx, tenant, mailbox, folder)
		if err != nil {
			t.Fatalf("List voicemail %d/%s/%q: %v", tenant, mailbox, folder, err)
		}
		return ms
	}
	// counts checks Counts of a mailbox, and that CountsAll of its tenant
	// says the same.
	counts := func(t *testing.T, ctx context.Context, st store.Store, tenant int64, mailbox string, wantNew, wantSaved int) {
		t.Helper()
		n, s, err := st.Voicemail().Counts(ctx, tenant, mailbox)
		if err != nil || n != wantNew || s != wantSaved {
			t.Errorf("Counts(%d, %s) = %d new, %d saved, %v; want %d, %d", tenant, mailbox, n, s, err, wantNew, wantSaved)
		}
		all, err := st.Voicemail().CountsAll(ctx, tenant)
		if err != nil {
			t.Fatalf("CountsAll(%d): %v", tenant, err)
		}
		c, ok := all[mailbox]
		if wantNew == 0 && wantSaved == 0 {
			if ok {
				t.Errorf("CountsAll(%d) lists mailbox %s with %+v, want it absent (no messages)", tenant, mailbox, c)
			}
		} else if c != (store.VoicemailCounts{New: wantNew, Saved: wantSaved}) {
			t.Errorf("CountsAll(%d)[%s] = %+v (present %v), want %d new, %d saved", tenant, mailbox, c, ok, wantNew, wantSaved)
		}
	}

	t.Run("round trip keeps every field", func(t *testing.T) {
		ctx, st, _ := open(t, h)
		f := newFixture(t, ctx, st)
		seq := lastChange(t, ctx, st)
		want := store.VoicemailMessage{
			ID: 999, TenantID: f.t1.ID, Mailbox: f.ext1[0].Number, // ID is ignored by Add
			CallerNumber: "+4755123456", CallerName: "Åse Ødegård «Kontoret»", CallID: "a84b4c76e66710@pc33.fjordvik.example.net",
			ReceivedAt: base.Add(345 * time.Nanosecond).In(oslo), DurationMillis: 93_517, Folder: store.VoicemailSaved,
			Path: "1/2001/2026-11-03T081502.718281Z-a84b4c76.wav", SizeBytes: 1_496_316, Urgent: true,
		}
		id := add(t, ctx, st, want)
		want.ID, want.ReceivedAt = id, base // UTC, truncated to the microsecond
		sameVoicemail(t, "Get", get(t, ctx, st, id), want)
		got := list(t, ctx, st, f.t1.ID, want.Mailbox, "")
		if len(got) != 1 {
			t.Fatalf("List: %d messages, want 1", len(got))
		}
		sameVoicemail(t, "listed", got[0], want)

		// Zero values survive too, and an empty folder means new.
		bare := store.VoicemailMessage{TenantID: f.t1.ID, Mailbox: want.Mailbox, ReceivedAt: base.Add(time.Second), Path: "bare.wav"}
		bare.ID = add(t, ctx, st, bare)
		bare.Folder = store.VoicemailNew
		sameVoicemail(t, "message with only the required fields", get(t, ctx, st, bare.ID), bare)

		if after := lastChange(t, ctx, st); after != seq {
			t.Errorf("voicemail wrote to the change log: LastChange %d -> %d", seq, after)
		}
	})

	t.Run("List is oldest first, per mailbox and tenant, filtered by folder", func(t *testing.T) {
		ctx, st, _ := open(t, h)
		f := newFixture(t, ctx, st)
		a, b := f.ext1[0].Number, f.ext1[1].Number
		type rec struct {
			name string
			m    store.VoicemailMessage
			fold store.VoicemailFolder
		}
		recs := []rec{ // added out of time order on purpose
			{"late", msg(f.t1.ID, a, "a/late.wav", base.Add(time.Hour)), store.VoicemailNew},
			{"first", msg(f.t1.ID, a, "a/first.wav", base.Add(-time.Microsecond)), store.VoicemailSaved},
			{"mid", msg(f.t1.ID, a, "a/mid.wav", base), store.VoicemailNew},
			{"mid too", msg(f.t1.ID, a, "a/mid-too.wav", base.In(oslo)), store.VoicemailSaved}, // same time: id order
			{"next", msg(f.t1.ID, a, "a/next.wav", base.Add(time.Microsecond)), store.VoicemailNew},
			{"other mailbox", msg(f.t1.ID, b, "b/1.wav", base), store.VoicemailNew},
			{"other tenant", msg(f.t2.ID, a, "t2/a/1.wav", base), store.VoicemailNew}, // same number, other tenant
		}
		names := map[int64]string{}
		for _, r := range recs {
			r.m.Folder = r.fold
			names[add(t, ctx, st, r.m)] = r.name
		}
		check := func(what string, tenant int64, mailbox string, folder store.VoicemailFolder, want ...string) {
			t.Helper()
			var got []string
			for _, m := range list(t, ctx, st, tenant, mailbox, folder) {
				got = append(got, names[m.ID])
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s: %q, want %q", what, got, want)
			}
		}
		check("all of a", f.t1.ID, a, "", "first", "mid", "mid too", "next", "late")
		check("new of a", f.t1.ID, a, store.VoicemailNew, "mid", "next", "late")
		check("saved of a", f.t1.ID, a, store.VoicemailSaved, "first", "mid too")
		check("b", f.t1.ID, b, "", "other mailbox")
		check("a of tenant 2", f.t2.ID, a, "", "other tenant")
		check("saved of b", f.t1.ID, b, store.VoicemailSaved)
		check("empty mailbox", f.t1.ID, f.ext1[2].Number, "")
		check("unknown tenant", 987654321, a, "")
	})

	t.Run("Move between folders and the counts follow", func(t *testing.T) {
		ctx, st, _ := open(t, h)
		f := newFixture(t, ctx, st)
		a, b := f.ext1[0].Number, f.ext1[1].Number
		counts(t, ctx, st, f.t1.ID, a, 0, 0)
		if all, err := st.Voicemail().CountsAll(ctx, f.t1.ID); err != nil || len(all) != 0 {
			t.Errorf("CountsAll of a tenant without voicemail = %v, %v; want an empty map", all, err)
		}
		var ids []int64
		for i := range 3 {
			ids = append(ids, add(t, ctx, st, msg(f.t1.ID, a, fmt.Sprintf("a/%d.wav", i), base.Add(time.Duration(i)*time.Minute))))
		}
		add(t, ctx, st, msg(f.t1.ID, b, "b/0.wav", base))
		add(t, ctx, st, msg(f.t2.ID, a, "t2/a/0.wav", base))
		counts(t, ctx, st, f.t1.ID, a, 3, 0)
		counts(t, ctx, st, f.t1.ID, b, 1, 0)
		counts(t, ctx, st, f.t2.ID, a, 1, 0)

		// Heard: new -> saved.
		if err := st.Voicemail().Move(ctx, ids[1], store.VoicemailSaved); err != nil {
			t.Fatalf("Move to saved: %v", err)
		}
		if m := get(t, ctx, st, ids[1]); m.Folder != store.VoicemailSaved {
			t.Errorf("after Move: folder %q, want saved", m.Folder)
		}
		counts(t, ctx, st, f.t1.ID, a, 2, 1)
		// Moving to the folder it is in changes nothing.
		if err := st.Voicemail().Move(ctx, ids[1], store.VoicemailSaved); err != nil {
			t.Errorf("second Move to saved: %v, want nil", err)
		}
		counts(t, ctx, st, f.t1.ID, a, 2, 1)
		for _, id := range ids {
			if err := st.Voicemail().Move(ctx, id, store.VoicemailSaved); err != nil {
				t.Fatalf("Move %d to saved: %v", id, err)
			}
		}
		counts(t, ctx, st, f.t1.ID, a, 0, 3)
		// Marked unheard again: saved -> new.
		if err := st.Voicemail().Move(ctx, ids[0], store.VoicemailNew); err != nil {
			t.Fatalf("Move back to new: %v", err)
		}
		counts(t, ctx, st, f.t1.ID, a, 1, 2)
		counts(t, ctx, st, f.t1.ID, b, 1, 0) // untouched
		counts(t, ctx, st, f.t2.ID, a, 1, 0)
		wantAll := map[string]store.VoicemailCounts{a: {New: 1, Saved: 2}, b: {New: 1}}
		if all, err := st.Voicemail().CountsAll(ctx, f.t1.ID); err != nil || !maps.Equal(all, wantAll) {
			t.Errorf("CountsAll(tenant 1) = %v, %v; want %v", all, err, wantAll)
		}

		wantErr(t, "Move to a bad folder", st.Voicemail().Move(ctx, ids[0], "trash"), kinds(store.ErrInvalid), "folder")
		wantErr(t, "Move to no folder", st.Voicemail().Move(ctx, ids[0], ""), kinds(store.ErrInvalid), "folder")
		wantErr(t, "Move of an unknown id", st.Voicemail().Move(ctx, 987654321, store.VoicemailSaved), kinds(store.ErrNotFound), "id")
		counts(t, ctx, st, f.t1.ID, a, 1, 2)
	})

	t.Run("Delete returns the deleted message", func(t *testing.T) {
		ctx, st, _ := open(t, h)
		f := newFixture(t, ctx, st)
		m := msg(f.t1.ID, f.ext1[0].Number, "a/gone.wav", base)
		m.CallerName, m.Urgent, m.Folder = "Kari Nordmann", true, store.VoicemailSaved
		m.ID = add(t, ctx, st, m)
		kept := add(t, ctx, st, msg(f.t1.ID, f.ext1[0].Number, "a/kept.wav", base))
		counts(t, ctx, st, f.t1.ID, m.Mailbox, 1, 1)

		got, err := st.Voicemail().Delete(ctx, m.ID)
		if err != nil {
			t.Fatalf("Delete: %v", err)
		}
		sameVoicemail(t, "deleted message", got, m)
		_, err = st.Voicemail().Get(ctx, m.ID)
		wantErr(t, "Get of a deleted message", err, kinds(store.ErrNotFound), "id")
		_, err = st.Voicemail().Delete(ctx, m.ID)
		wantErr(t, "second Delete", err, kinds(store.ErrNotFound), "id")
		counts(t, ctx, st, f.t1.ID, m.Mailbox, 1, 0)
		if ms := list(t, ctx, st, f.t1.ID, m.Mailbox, ""); len(ms) != 1 || ms[0].ID != kept {
			t.Errorf("after Delete: %+v, want only message %d", ms, kept)
		}
		// The path is free again.
		if _, err := st.Voicemail().Add(ctx, m); err != nil {
			t.Errorf("Add with a deleted message's path: %v", err)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		ctx, st, _ := open(t, h)
		f := newFixture(t, ctx, st)
		good := msg(f.t1.ID, f.ext1[0].Number, "a/good.wav", base)
		for _, c := range []struct {
			field string
			edit  func(*store.VoicemailMessage)
		}{
			{"tenant_id", func(m *store.VoicemailMessage) { m.TenantID = 0 }},
			{"mailbox", func(m *store.VoicemailMessage) { m.Mailbox = "" }},
			{"received_at", func(m *store.VoicemailMessage) { m.ReceivedAt = time.Time{} }},
			{"folder", func(m *store.VoicemailMessage) { m.Folder = "inbox" }},
			{"folder", func(m *store.VoicemailMessage) { m.Folder = "New" }},
			{"path", func(m *store.VoicemailMessage) { m.Path = "" }},
			{"path", func(m *store.VoicemailMessage) { m.Path = "/var/spool/sentral/vm/a.wav" }},
			{"path", func(m *store.VoicemailMessage) { m.Path = "../../etc/passwd" }},
			{"path", func(m *store.VoicemailMessage) { m.Path = "a/../../b.wav" }},
			{"path", func(m *store.VoicemailMessage) { m.Path = "a//b.wav" }},
			{"path", func(m *store.VoicemailMessage) { m.Path = "." }},
			{"duration_millis", func(m *store.VoicemailMessage) { m.DurationMillis = -1 }},
			{"size_bytes", func(m *store.VoicemailMessage) { m.SizeBytes = -1 }},
		} {
			bad := good
			c.edit(&bad)
			_, err := st.Voicemail().Add(ctx, bad)
			wantErr(t, fmt.Sprintf("Add with a bad %s (%+v)", c.field, bad), err, kinds(store.ErrInvalid), c.field)
		}
		if all, err := st.Voicemail().CountsAll(ctx, f.t1.ID); err != nil || len(all) != 0 {
			t.Errorf("refused Adds stored messages: %v, %v", all, err)
		}

		id := add(t, ctx, st, good)
		dup := msg(f.t2.ID, f.ext2[0].Number, good.Path, base) // unique across tenants
		_, err := st.Voicemail().Add(ctx, dup)
		wantErr(t, "Add with a path already in use", err, kinds(store.ErrExists), "path")
		counts(t, ctx, st, f.t2.ID, dup.Mailbox, 0, 0)
		sameVoicemail(t, "holder of the path after the refusal", get(t, ctx, st, id), func() store.VoicemailMessage {
			g := good
			g.ID, g.Folder = id, store.VoicemailNew
			return g
		}())

		const unknown = 987654321
		_, err = st.Voicemail().Get(ctx, unknown)
		wantErr(t, "Get of an unknown id", err, kinds(store.ErrNotFound), "id")
		_, err = st.Voicemail().Delete(ctx, unknown)
		wantErr(t, "Delete of an unknown id", err, kinds(store.ErrNotFound), "id")
		_, err = st.Voicemail().List(ctx, f.t1.ID, good.Mailbox, "old")
		wantErr(t, "List of a bad folder", err, kinds(store.ErrInvalid), "folder")
		_, err = st.Voicemail().List(ctx, f.t1.ID, "", "")
		wantErr(t, "List without a mailbox", err, kinds(store.ErrInvalid), "mailbox")
		_, _, err = st.Voicemail().Counts(ctx, f.t1.ID, "")
		wantErr(t, "Counts without a mailbox", err, kinds(store.ErrInvalid), "mailbox")
	})

	t.Run("voicemail inside InTx joins the transaction", func(t *testing.T) {
		ctx, st, _ := open(t, h)
		f := newFixture(t, ctx, st)
		mb := f.ext1[0].Number
		kept := add(t, ctx, st, msg(f.t1.ID, mb, "a/kept.wav", base))
		boom := errors.New("roll back")
		err := st.InTx(ctx, func(tx store.Store) error {
			id, err := tx.Voicemail().Add(ctx, msg(f.t1.ID, mb, "a/in-tx.wav", base.Add(time.Second)))
			if err != nil {
				return err
			}
			if err := tx.Voicemail().Move(ctx, kept, store.VoicemailSaved); err != nil {
				return err
			}
			// A refusal inside the transaction leaves it usable (on
			// PostgreSQL a failed statement would abort it).
			_, err = tx.Voicemail().Add(ctx, msg(f.t1.ID, mb, "a/kept.wav", base))
			wantErr(t, "duplicate path inside InTx", err, kinds(store.ErrExists), "path")
			if n, s, err := tx.Voicemail().Counts(ctx, f.t1.ID, mb); err != nil || n != 1 || s != 1 {
				t.Errorf("Counts inside the transaction = %d, %d, %v; want 1 new (added in it), 1 saved", n, s, err)
			}
			if got, err := tx.Voicemail().Get(ctx, id); err != nil || got.Path != "a/in-tx.wav" {
				t.Errorf("Get inside the transaction: %+v, %v", got, err)
			}
			if _, err := tx.Voicemail().Delete(ctx, id); err != nil {
				t.Errorf("Delete inside the transaction: %v", err)
			}
			if _, err := tx.Voicemail().Add(ctx, msg(f.t1.ID, mb, "a/in-tx-2.wav", base)); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx: %v, want the function's error", err)
		}
		got := list(t, ctx, st, f.t1.ID, mb, "")
		if len(got) != 1 || got[0].ID != kept || got[0].Folder != store.VoicemailNew {
			t.Errorf("after the rolled-back transaction: %+v; want only message %d, still new", got, kept)
		}

		err = st.InTx(ctx, func(tx store.Store) error {
			if _, err := tx.Voicemail().Add(ctx, msg(f.t1.ID, mb, "a/committed.wav", base.Add(time.Minute))); err != nil {
				return err
			}
			return tx.Voicemail().Move(ctx, kept, store.VoicemailSaved)
		})
		if err != nil {
			t.Fatalf("InTx: %v", err)
		}
		counts(t, ctx, st, f.t1.ID, mb, 1, 1)
	})

	t.Run("messages outlive their extension and tenant", func(t *testing.T) {
		ctx, st, _ := open(t, h)
		f := newFixture(t, ctx, st)
		e := f.ext1[0]
		id := add(t, ctx, st, msg(f.t1.ID, e.Number, "a/1.wav", base))
		want := get(t, ctx, st, id)
		e.Number = "2998"
		mustUpdate(t, ctx, st.Extensions(), &e)
		if err := st.Extensions().Delete(ctx, e.ID); err != nil {
			t.Fatalf("delete an extension with voicemail: %v", err)
		}
		if err := st.Tenants().Delete(ctx, f.t1.ID); err != nil {
			t.Fatalf("delete a tenant with voicemail: %v", err)
		}
		sameVoicemail(t, "after renumbering and deleting the extension and its tenant", get(t, ctx, st, id), want)
		counts(t, ctx, st, f.t1.ID, want.Mailbox, 1, 0)
	})

	t.Run("concurrent adds on two handles lose nothing", func(t *testing.T) {
		ctx, st, reopen := open(t, h)
		f := newFixture(t, ctx, st)
		handles := []store.Store{st, reopen(t)}
		a, b := f.ext1[0].Number, f.ext1[1].Number
		const perHandle = 20
		var wg sync.WaitGroup
		errs := make(chan error, 4*perHandle*len(handles))
		type added struct {
			id   int64
			path string
		}
		addedCh := make(chan added, 2*perHandle*len(handles))
		for hi, s := range handles {
			wg.Go(func() {
				for i := range perHandle {
					// Its own message, in mailbox a or b...
					mb := []string{a, b}[i%2]
					m := msg(f.t1.ID, mb, fmt.Sprintf("h%d/%s/%d.wav", hi, mb, i), base.Add(time.Duration(i)*time.Second))
					id, err := s.Voicemail().Add(ctx, m)
					if err != nil {
						errs <- fmt.Errorf("handle %d: Add %s: %w", hi+1, m.Path, err)
						continue
					}
					addedCh <- added{id, m.Path}
					// ...heard at once when i%4 == 0 (5 of a's 10)...
					if i%4 == 0 {
						if err := s.Voicemail().Move(ctx, id, store.VoicemailSaved); err != nil {
							errs <- fmt.Errorf("handle %d: Move %d: %w", hi+1, id, err)
						}
					}
					// ...and a path both handles race for: one wins.
					race := msg(f.t1.ID, a, fmt.Sprintf("race/%d.wav", i), base)
					if id, err := s.Voicemail().Add(ctx, race); err == nil {
						addedCh <- added{id, race.Path}
					} else if !errors.Is(err, store.ErrExists) {
						errs <- fmt.Errorf("handle %d: Add %s: %w", hi+1, race.Path, err)
					}
					// Reads meanwhile must not fail.
					if _, _, err := s.Voicemail().Counts(ctx, f.t1.ID, a); err != nil {
						errs <- fmt.Errorf("handle %d: Counts: %w", hi+1, err)
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		close(addedCh)
		for err := range errs {
			t.Error(err)
		}
		ids, paths := map[int64]bool{}, map[string]int{}
		for x := range addedCh {
			if ids[x.id] {
				t.Errorf("id %d handed out twice", x.id)
			}
			ids[x.id] = true
			paths[x.path]++
		}
		for i := range perHandle {
			if n := paths[fmt.Sprintf("race/%d.wav", i)]; n != 1 {
				t.Errorf("race/%d.wav added %d times, want exactly once", i, n)
			}
		}
		if len(ids) != 3*perHandle {
			t.Errorf("%d messages added, want %d", len(ids), 3*perHandle)
		}
		// Per handle: 10 in a (5 of them saved), 10 in b (none saved), plus
		// 20 race winners in a, all new.
		counts(t, ctx, st, f.t1.ID, a, 2*5+perHandle, 2*5)
		counts(t, ctx, st, f.t1.ID, b, 2*10, 0)
		counts(t, ctx, handles[1], f.t1.ID, a, 2*5+perHandle, 2*5)
		if got, want := len(list(t, ctx, handles[1], f.t1.ID, a, "")), len(handles)*perHandle/2+perHandle; got != want {
			t.Errorf("List of a: %d messages, want %d", got, want)
		}
	})
}

// sameVoicemail compares exactly: ReceivedAt must survive to the
// microsecond and come back in UTC.
func sameVoicemail(t *testing.T, what string, got, want store.VoicemailMessage) {
	t.Helper()
	if !got.ReceivedAt.Equal(want.ReceivedAt) || got.ReceivedAt.Location() != time.UTC {
		t.Errorf("%s: ReceivedAt %s, want %s in UTC", what, got.ReceivedAt, want.ReceivedAt.UTC())
	}
	got.ReceivedAt, want.ReceivedAt = time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n\tgot  %+v\n\twant %+v", what, got, want)
	}
}
