package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sentralpbx/sentral/store"
)

// testCDRs checks the call detail record store: exact round trips, the
// open/answer/close life cycle and its duration arithmetic, refusals,
// closing a crashed node's orphans, the List filters, tenant isolation,
// history surviving admin changes, transactions and concurrent writers.
func testCDRs(t *testing.T, h Harness) {
	// base has microseconds, so exact comparison tests the store's
	// precision rather than the clock.
	base := time.Date(2026, 11, 3, 8, 15, 2, 718281000, time.UTC)
	oslo := time.FixedZone("CET", 3600)
	call := func(tenant int64, caller, callee string, start time.Time) store.CDR {
		return store.CDR{TenantID: tenant, CallID: fmt.Sprintf("%s-%s-%d@test", caller, callee, start.UnixMicro()),
			Node: "node-a", Direction: store.DirectionInternal, Caller: caller, Callee: callee,
			Dialled: callee, Normalised: callee, StartTime: start}
	}
	open1 := func(t *testing.T, ctx context.Context, st store.Store, c store.CDR) int64 {
		t.Helper()
		id, err := st.CDRs().Open(ctx, c)
		if err != nil {
			t.Fatalf("Open %s: %v", c.CallID, err)
		}
		if id <= 0 {
			t.Fatalf("Open %s: id %d, want > 0", c.CallID, id)
		}
		return id
	}

	t.Run("batch commits its writes together or not at all", func(t *testing.T) {
		ctx, st, _ := open(t, h)
		f := newFixture(t, ctx, st)
		var id int64
		err := st.CDRs().Batch(ctx, func(cdrs store.CDRStore) error {
			var err error
			if id, err = cdrs.Open(ctx, call(f.t1.ID, f.ext1[0].Number, "2001", base)); err != nil {
				return err
			}
			return cdrs.Answer(ctx, id, base.Add(time.Second))
		})
		if err != nil {
			t.Fatalf("Batch: %v", err)
		}
		if got, err := st.CDRs().Get(ctx, id); err != nil || got.AnswerTime == nil {
			t.Fatalf("after Batch: %+v, %v; want it answered", got, err)
		}
		boom := errors.New("boom")
		var lost int64
		err = st.CDRs().Batch(ctx, func(cdrs store.CDRStore) error {
			lost, _ = cdrs.Open(ctx, call(f.t1.ID, f.ext1[0].Number, "2002", base))
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("failing Batch: %v, want its error", err)
		}
		if _, err := st.CDRs().Get(ctx, lost); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("record of a rolled-back Batch: %v, want ErrNotFound", err)
		}
	})

	t.Run("route records the trunk that carries the call, only while open", func(t *testing.T) {
		ctx, st, _ := open(t, h)
		f := newFixture(t, ctx, st)
		first, second := int64(11), int64(12)
		c := call(f.t1.ID, f.ext1[0].Number, "+4722334455", base)
		c.Direction, c.TrunkID, c.Trunk = store.DirectionOutbound, &first, "primary"
		id := open1(t, ctx, st, c)
		if err := st.CDRs().Route(ctx, id, &second, "backup"); err != nil {
			t.Fatalf("Route: %v", err)
		}
		got, err := st.CDRs().Get(ctx, id)
		if err != nil || got.Trunk != "backup" || got.TrunkID == nil || *got.TrunkID != second {
			t.Fatalf("after Route: %+v, %v; want trunk backup (%d)", got, err, second)
		}
		if err := st.CDRs().Close(ctx, id, base.Add(time.Minute), store.DispositionFailed, 503, "Service Unavailable"); err != nil {
			t.Fatal(err)
		}
		if err := st.CDRs().Route(ctx, id, &first, "primary"); !errors.Is(err, store.ErrConflict) {
			t.Errorf("Route on a closed record: %v, want ErrConflict", err)
		}
		if err := st.CDRs().Route(ctx, id+1000, &first, "primary"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Route on an unknown record: %v, want ErrNotFound", err)
		}
	})

	t.Run("open, answer, close round trip keeps every field", func(t *testing.T) {
		ctx, st, _ := open(t, h)
		f := newFixture(t, ctx, st)
		trunk := store.Trunk{TenantID: f.t1.ID, Name: "centrex", Mode: store.TrunkPeer, Host: "sip.operator.example", Port: 5061, Transport: "tls", Enabled: true, PeerAddresses: []string{"192.0.2.1"}}
		mustCreate(t, ctx, st.Trunks(), &trunk)
		seq := lastChange(t, ctx, st)
		want := store.CDR{
			TenantID: f.t1.ID, CallID: "a84b4c76e66710@pc33.fjordvik.example.net", Node: "node-a",
			State: store.CDRClosed, Direction: store.DirectionOutbound, // State is ignored by Open
			Caller: f.ext1[0].Number, Callee: "+4791234567", Dialled: "912 34 567", Normalised: "+4791234567",
			TrunkID: &trunk.ID, Trunk: "centrex «Ærlig»", DepartmentID: &f.dep1.ID, DepartmentCode: "1000-snapshot",
			StartTime:       base.In(oslo),
			AnswerTime:      ptr(base), // ignored by Open
			DurationSeconds: 99, Disposition: store.DispositionBusy, SIPCode: 486, Reason: "ignored",
			PriceOre: ptr(int64(1234)), TariffID: ptr(int64(7)),
		}
		id := open1(t, ctx, st, want)
		want.ID, want.State, want.StartTime = id, store.CDROpen, base
		want.AnswerTime, want.DurationSeconds, want.Disposition, want.SIPCode, want.Reason = nil, 0, "", 0, ""
		sameCDR(t, "after Open", mustGetCDR(t, ctx, st, id), want)

		answer := base.Add(7*time.Second + 250*time.Millisecond + time.Microsecond)
		if err := st.CDRs().Answer(ctx, id, answer.In(oslo)); err != nil {
			t.Fatalf("Answer: %v", err)
		}
		want.AnswerTime = &answer
		sameCDR(t, "after Answer", mustGetCDR(t, ctx, st, id), want)

		end := answer.Add(2*time.Minute + 59*time.Second + 999999*time.Microsecond)
		if err := st.CDRs().Close(ctx, id, end.In(oslo), store.DispositionAnswered, 200, "BYE from callee"); err != nil {
			t.Fatalf("Close: %v", err)
		}
		want.State, want.EndTime = store.CDRClosed, &end
		want.Disposition, want.SIPCode, want.Reason = store.DispositionAnswered, 200, "BYE from callee"
		want.DurationSeconds = 187 // 7.250001 + 179.999999 = 187.25 s
		want.BillableSeconds = 179 // 179.999999 s, rounded down
		sameCDR(t, "after Close", mustGetCDR(t, ctx, st, id), want)

		got := mustListCDRs(t, st, store.CDRFilter{TenantID: f.t1.ID})
		if len(got) != 1 {
			t.Fatalf("List: %d records, want 1", len(got))
		}
		sameCDR(t, "listed", got[0], want)
		if after := lastChange(t, ctx, st); after != seq {
			t.Errorf("call records wrote to the change log: LastChange %d -> %d", seq, after)
		}
	})

	t.Run("duration and billable seconds", func(t *testing.T) {
		ctx, st, _ := open(t, h)
		f := newFixture(t, ctx, st)
		ms := time.Millisecond
		for _, c := range []struct {
			name               string
			answer             time.Duration // from start; <0: not answered
			end                time.Duration // from start
			disp               store.Disposition
			code               int
			duration, billable int64
		}{
			{"answered", 5500 * ms, 65700 * ms, store.DispositionAnswered, 200, 65, 60},
			{"whole seconds", 10 * time.Second, 70 * time.Second, store.DispositionAnswered, 200, 70, 60},
			{"a microsecond short of a second", 0, time.Second - time.Microsecond, store.DispositionAnswered, 200, 0, 0},
			{"answered at start", 0, 3 * time.Second, store.DispositionAnswered, 200, 3, 3},
			{"busy", -1, 1200 * ms, store.DispositionBusy, 486, 1, 0},
			{"no answer", -1, 30 * time.Second, store.DispositionNoAnswer, 408, 30, 0},
			{"cancelled", -1, 4900 * ms, store.DispositionCancelled, 487, 4, 0},
			{"failed without a response", -1, 0, store.DispositionFailed, 0, 0, 0},
			{"clock stepped back", 2 * time.Second, -3 * time.Second, store.DispositionAnswered, 200, 0, 0},
			{"clock stepped back after answer", 5 * time.Second, 3 * time.Second, store.DispositionAnswered, 200, 3, 0},
		} {
			start := base.Add(time.Duration(len(c.name)) * time.Hour)
			id := open1(t, ctx, st, call(f.t1.ID, f.ext1[0].Number, f.ext1[1].Number, start))
			if c.answer >= 0 {
				if err := st.CDRs().Answer(ctx, id, start.Add(c.answer)); err != nil {
					t.Fatalf("%s: Answer: %v", c.name, err)
				}
			}
			if err := st.CDRs().Close(ctx, id, start.Add(c.end), c.disp, c.code, c.name); err != nil {
				t.Fatalf("%s: Close: %v", c.name, err)
			}
			got := mustGetCDR(t, ctx, st, id)
			if got.DurationSeconds != c.duration || got.BillableSeconds != c.billable {
				t.Errorf("%s: duration %d s, billable %d s; want %d, %d", c.name, got.DurationSeconds, got.BillableSeconds, c.duration, c.billable)
			}
			if got.State != store.CDRClosed || got.Disposition != c.disp || got.SIPCode != c.code || got.EndTime == nil || !got.EndTime.Equal(start.Add(c.end)) {
				t.Errorf("%s: state %s disposition %s code %d end %v; want closed %s %d %s", c.name, got.State, got.Disposition, got.SIPCode, got.EndTime, c.disp, c.code, start.Add(c.end))
			}
		}
	})

	t.Run("refusals", func(t *testing.T) {
		ctx, st, _ := open(t, h)
		f := newFixture(t, ctx, st)
		good := call(f.t1.ID, f.ext1[0].Number, f.ext1[1].Number, base)
		for _, c := range []struct {
			field string
			edit  func(*store.CDR)
		}{
			{"tenant_id", func(c *store.CDR) { c.TenantID = 0 }},
			{"direction", func(c *store.CDR) { c.Direction = "sideways" }},
			{"direction", func(c *store.CDR) { c.Direction = "" }},
			{"start_time", func(c *store.CDR) { c.StartTime = time.Time{} }},
		} {
			bad := good
			c.edit(&bad)
			_, err := st.CDRs().Open(ctx, bad)
			wantErr(t, "Open with a bad "+c.field, err, kinds(store.ErrInvalid), c.field)
		}
		if got := mustListCDRs(t, st, store.CDRFilter{}); len(got) != 0 {
			t.Errorf("refused Opens stored %d records", len(got))
		}

		const unknown = 987654321
		wantErr(t, "Answer of an unknown id", st.CDRs().Answer(ctx, unknown, base), kinds(store.ErrNotFound), "id")
		wantErr(t, "Close of an unknown id", st.CDRs().Close(ctx, unknown, base, store.DispositionFailed, 503, "x"), kinds(store.ErrNotFound), "id")
		_, err := st.CDRs().Get(ctx, unknown)
		wantErr(t, "Get of an unknown id", err, kinds(store.ErrNotFound), "id")

		id := open1(t, ctx, st, good)
		wantErr(t, "Close with a bad disposition", st.CDRs().Close(ctx, id, base, "hung-up", 200, ""), kinds(store.ErrInvalid), "disposition")
		wantErr(t, "Close with a bad SIP code", st.CDRs().Close(ctx, id, base, store.DispositionFailed, 42, ""), kinds(store.ErrInvalid), "sip_code")
		wantErr(t, "Close without an end time", st.CDRs().Close(ctx, id, time.Time{}, store.DispositionFailed, 0, ""), kinds(store.ErrInvalid), "end_time")
		wantErr(t, "Answer without a time", st.CDRs().Answer(ctx, id, time.Time{}), kinds(store.ErrInvalid), "answer_time")
		if got := mustGetCDR(t, ctx, st, id); got.State != store.CDROpen || got.AnswerTime != nil {
			t.Errorf("refused writes changed the record: %+v", got)
		}

		// A second answer keeps the first; a closed record takes no more.
		if err := st.CDRs().Answer(ctx, id, base.Add(time.Second)); err != nil {
			t.Fatalf("Answer: %v", err)
		}
		if err := st.CDRs().Answer(ctx, id, base.Add(2*time.Second)); err != nil {
			t.Errorf("second Answer: %v, want nil (the first stands)", err)
		}
		if got := mustGetCDR(t, ctx, st, id); got.AnswerTime == nil || !got.AnswerTime.Equal(base.Add(time.Second)) {
			t.Errorf("after two answers: AnswerTime %v, want the first, %s", got.AnswerTime, base.Add(time.Second))
		}
		if err := st.CDRs().Close(ctx, id, base.Add(10*time.Second), store.DispositionAnswered, 200, ""); err != nil {
			t.Fatalf("Close: %v", err)
		}
		wantErr(t, "second Close", st.CDRs().Close(ctx, id, base.Add(20*time.Second), store.DispositionFailed, 500, ""), kinds(store.ErrConflict), "state")
		wantErr(t, "Answer after Close", st.CDRs().Answer(ctx, id, base.Add(5*time.Second)), kinds(store.ErrConflict), "state")
		if got := mustGetCDR(t, ctx, st, id); got.DurationSeconds != 10 || got.BillableSeconds != 9 || got.Disposition != store.DispositionAnswered {
			t.Errorf("refused writes changed the closed record: %+v", got)
		}
	})

	t.Run("CloseOrphans closes only that node's calls started before the restart", func(t *testing.T) {
		ctx, st, _ := open(t, h)
		f := newFixture(t, ctx, st)
		restart := base.Add(time.Hour)
		on := func(node string, start time.Time) store.CDR {
			c := call(f.t1.ID, f.ext1[0].Number, f.ext1[1].Number, start)
			c.Node = node
			return c
		}
		ringing := open1(t, ctx, st, on("node-a", base))
		talking := open1(t, ctx, st, on("node-a", base.Add(time.Minute)))
		if err := st.CDRs().Answer(ctx, talking, base.Add(time.Minute+12*time.Second+500*time.Millisecond)); err != nil {
			t.Fatalf("Answer: %v", err)
		}
		ended := open1(t, ctx, st, on("node-a", base.Add(2*time.Minute)))
		if err := st.CDRs().Close(ctx, ended, base.Add(3*time.Minute), store.DispositionNoAnswer, 480, "Temporarily Unavailable"); err != nil {
			t.Fatalf("Close: %v", err)
		}
		otherNode := open1(t, ctx, st, on("node-b", base))
		noNode := open1(t, ctx, st, on("", base))
		afterRestart := open1(t, ctx, st, on("node-a", restart)) // the new process's call
		before := map[int64]store.CDR{}
		for _, id := range []int64{ended, otherNode, noNode, afterRestart} {
			before[id] = mustGetCDR(t, ctx, st, id)
		}

		n, err := st.CDRs().CloseOrphans(ctx, "node-a", restart.In(oslo))
		if err != nil || n != 2 {
			t.Fatalf("CloseOrphans(node-a) = %d, %v; want 2, nil", n, err)
		}
		r := mustGetCDR(t, ctx, st, ringing)
		if r.State != store.CDRClosed || r.Disposition != store.DispositionFailed || r.SIPCode != 0 || r.Reason != store.OrphanReason ||
			r.EndTime == nil || !r.EndTime.Equal(base) || r.DurationSeconds != 0 || r.BillableSeconds != 0 {
			t.Errorf("unanswered orphan: %+v; want closed, failed, code 0, %q, ending at its start", r, store.OrphanReason)
		}
		a := mustGetCDR(t, ctx, st, talking)
		if a.State != store.CDRClosed || a.Disposition != store.DispositionAnswered || a.SIPCode != 200 || a.Reason != store.OrphanReason ||
			a.EndTime == nil || !a.EndTime.Equal(*a.AnswerTime) || a.DurationSeconds != 12 || a.BillableSeconds != 0 {
			t.Errorf("answered orphan: %+v; want closed, answered, code 200, %q, ending at its answer (12 s, 0 billable)", a, store.OrphanReason)
		}
		for id, want := range before {
			sameCDR(t, fmt.Sprintf("record %d, not node-a's orphan", id), mustGetCDR(t, ctx, st, id), want)
		}

		if n, err := st.CDRs().CloseOrphans(ctx, "node-a", restart); err != nil || n != 0 {
			t.Errorf("second CloseOrphans(node-a) = %d, %v; want 0, nil", n, err)
		}
		if n, err := st.CDRs().CloseOrphans(ctx, "", restart); err != nil || n != 1 {
			t.Errorf("CloseOrphans of the unnamed node = %d, %v; want 1, nil", n, err)
		}
		if got := mustGetCDR(t, ctx, st, otherNode); got.State != store.CDROpen {
			t.Errorf("node-b's call was closed by another node's restart: %+v", got)
		}
		// The new process's call goes on and closes normally.
		if err := st.CDRs().Close(ctx, afterRestart, restart.Add(time.Second), store.DispositionCancelled, 487, ""); err != nil {
			t.Errorf("Close of a call started after the restart: %v", err)
		}
	})

	t.Run("List filters by tenant, time range and extension, in start order", func(t *testing.T) {
		ctx, st, _ := open(t, h)
		f := newFixture(t, ctx, st)
		a, b, c := f.ext1[0].Number, f.ext1[1].Number, f.ext1[2].Number
		from, to := base, base.Add(24*time.Hour)
		type rec struct {
			name string
			cdr  store.CDR
		}
		recs := []rec{ // inserted out of start order on purpose
			{"late", call(f.t1.ID, b, a, to.Add(-time.Microsecond))},
			{"at from", call(f.t1.ID, a, b, from)},
			{"before from", call(f.t1.ID, a, b, from.Add(-time.Microsecond))},
			{"at to", call(f.t1.ID, a, b, to)},
			{"mid, b to c", call(f.t1.ID, b, c, from.Add(time.Hour))},
			{"mid, inbound to a", call(f.t1.ID, "+4722225555", a, from.Add(2*time.Hour))},
			{"mid, a outbound", call(f.t1.ID, a, "+4791234567", from.Add(2*time.Hour))}, // same start: id order
			{"other tenant", call(f.t2.ID, f.ext2[0].Number, a, from.Add(time.Hour))},
		}
		ids := map[string]int64{}
		names := map[int64]string{}
		for _, r := range recs {
			id := open1(t, ctx, st, r.cdr)
			ids[r.name], names[id] = id, r.name
		}
		// Close one: List shows open and closed records alike.
		if err := st.CDRs().Close(ctx, ids["mid, b to c"], from.Add(time.Hour+time.Minute), store.DispositionNoAnswer, 480, ""); err != nil {
			t.Fatalf("Close: %v", err)
		}
		list := func(what string, f store.CDRFilter, want ...string) {
			t.Helper()
			var got []string
			for _, v := range mustListCDRs(t, st, f) {
				got = append(got, names[v.ID])
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s: %q, want %q", what, got, want)
			}
		}
		all1 := []string{"before from", "at from", "mid, b to c", "mid, inbound to a", "mid, a outbound", "late", "at to"}
		list("tenant 1", store.CDRFilter{TenantID: f.t1.ID}, all1...)
		list("tenant 2", store.CDRFilter{TenantID: f.t2.ID}, "other tenant")
		list("all tenants", store.CDRFilter{}, "before from", "at from", "mid, b to c", "other tenant", "mid, inbound to a", "mid, a outbound", "late", "at to")
		list("[from, to)", store.CDRFilter{TenantID: f.t1.ID, From: from.In(oslo), To: to.In(oslo)},
			"at from", "mid, b to c", "mid, inbound to a", "mid, a outbound", "late")
		list("from only", store.CDRFilter{TenantID: f.t1.ID, From: to}, "at to")
		list("to only", store.CDRFilter{TenantID: f.t1.ID, To: from}, "before from")
		list("ext a (caller or callee)", store.CDRFilter{TenantID: f.t1.ID, From: from, To: to, Ext: a},
			"at from", "mid, inbound to a", "mid, a outbound", "late")
		list("ext c", store.CDRFilter{TenantID: f.t1.ID, Ext: c}, "mid, b to c")
		list("ext a in tenant 2", store.CDRFilter{TenantID: f.t2.ID, Ext: a}, "other tenant")
		list("external number", store.CDRFilter{TenantID: f.t1.ID, Ext: "+4722225555"}, "mid, inbound to a")
		list("no such ext", store.CDRFilter{TenantID: f.t1.ID, Ext: "2999"})
		list("limit", store.CDRFilter{TenantID: f.t1.ID, Limit: 2}, all1[:2]...)
		list("limit and offset", store.CDRFilter{TenantID: f.t1.ID, Limit: 2, Offset: 3}, all1[3:5]...)
		list("offset only", store.CDRFilter{TenantID: f.t1.ID, Offset: 5}, all1[5:]...)
		list("empty range", store.CDRFilter{TenantID: f.t1.ID, From: to, To: from})
	})

	t.Run("history survives renames, moves and deletions", func(t *testing.T) {
		ctx, st, _ := open(t, h)
		f := newFixture(t, ctx, st)
		e := f.ext1[0]
		e.DepartmentID = &f.dep1.ID
		mustUpdate(t, ctx, st.Extensions(), &e)
		c := call(f.t1.ID, e.Number, f.ext1[1].Number, base)
		c.DepartmentID = &f.dep1.ID // code left empty: the store takes the current one
		id := open1(t, ctx, st, c)
		if got := mustGetCDR(t, ctx, st, id); got.DepartmentCode != f.dep1.Code || got.DepartmentID == nil || *got.DepartmentID != f.dep1.ID {
			t.Fatalf("department snapshot: id %v code %q, want %d %q", got.DepartmentID, got.DepartmentCode, f.dep1.ID, f.dep1.Code)
		}
		// A department of another tenant gives no code.
		stray := call(f.t1.ID, e.Number, f.ext1[1].Number, base)
		stray.DepartmentID = &f.dep2.ID
		if got := mustGetCDR(t, ctx, st, open1(t, ctx, st, stray)); got.DepartmentCode != "" {
			t.Errorf("department of another tenant: code %q recorded, want none", got.DepartmentCode)
		}
		if err := st.CDRs().Close(ctx, id, base.Add(time.Minute), store.DispositionNoAnswer, 408, ""); err != nil {
			t.Fatalf("Close: %v", err)
		}
		want := mustGetCDR(t, ctx, st, id)

		d := f.dep1
		d.Code = "2000"
		mustUpdate(t, ctx, st.Departments(), &d)
		e.DepartmentID, e.Number = nil, "2998"
		mustUpdate(t, ctx, st.Extensions(), &e)
		if err := st.Departments().Delete(ctx, d.ID); err != nil {
			t.Fatalf("delete a department named by a call record: %v", err)
		}
		sameCDR(t, "after renaming and deleting the department and renumbering the extension", mustGetCDR(t, ctx, st, id), want)
		if err := st.Tenants().Delete(ctx, f.t1.ID); err != nil {
			t.Fatalf("delete a tenant with call records: %v", err)
		}
		sameCDR(t, "after deleting the tenant", mustGetCDR(t, ctx, st, id), want)
		if got := mustListCDRs(t, st, store.CDRFilter{TenantID: f.t1.ID}); len(got) != 2 {
			t.Errorf("deleted tenant's records: %d listed, want 2", len(got))
		}
	})

	t.Run("CDRs inside InTx join the transaction", func(t *testing.T) {
		ctx, st, _ := open(t, h)
		f := newFixture(t, ctx, st)
		kept := open1(t, ctx, st, call(f.t1.ID, f.ext1[0].Number, f.ext1[1].Number, base))
		boom := errors.New("roll back")
		err := st.InTx(ctx, func(tx store.Store) error {
			id, err := tx.CDRs().Open(ctx, call(f.t1.ID, f.ext1[1].Number, f.ext1[0].Number, base))
			if err != nil {
				return err
			}
			if err := tx.CDRs().Close(ctx, kept, base.Add(time.Second), store.DispositionCancelled, 487, ""); err != nil {
				return err
			}
			if n, err := tx.CDRs().CloseOrphans(ctx, "node-a", base.Add(time.Hour)); err != nil || n != 1 {
				t.Errorf("CloseOrphans inside the transaction = %d, %v; want 1 (the record opened in it)", n, err)
			}
			if got, err := tx.CDRs().Get(ctx, id); err != nil || got.State != store.CDRClosed {
				t.Errorf("Get inside the transaction: %+v, %v; want it closed", got, err)
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx: %v, want the function's error", err)
		}
		got := mustListCDRs(t, st, store.CDRFilter{})
		if len(got) != 1 || got[0].ID != kept || got[0].State != store.CDROpen {
			t.Errorf("after the rolled-back transaction: %+v; want only record %d, still open", got, kept)
		}
	})

	t.Run("concurrent calls on two handles lose nothing", func(t *testing.T) {
		ctx, st, reopen := open(t, h)
		f := newFixture(t, ctx, st)
		handles := []store.Store{st, reopen(t)}
		const perHandle = 25
		var wg sync.WaitGroup
		errs := make(chan error, 2*perHandle*len(handles))
		idCh := make(chan int64, perHandle*len(handles))
		for hi, s := range handles {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range perHandle {
					start := base.Add(time.Duration(hi*perHandle+i) * time.Second)
					id, err := s.CDRs().Open(ctx, call(f.t1.ID, f.ext1[hi].Number, f.ext1[2].Number, start))
					if err != nil {
						errs <- fmt.Errorf("handle %d: Open: %w", hi+1, err)
						continue
					}
					idCh <- id
					// The other handle answers while this one closes:
					// whichever wins, the record stays consistent.
					var inner sync.WaitGroup
					inner.Add(1)
					go func() {
						defer inner.Done()
						if err := handles[1-hi].CDRs().Answer(ctx, id, start.Add(time.Second)); err != nil && !errors.Is(err, store.ErrConflict) {
							errs <- fmt.Errorf("handle %d: Answer: %w", 2-hi, err)
						}
					}()
					if err := s.CDRs().Close(ctx, id, start.Add(3*time.Second), store.DispositionAnswered, 200, ""); err != nil {
						errs <- fmt.Errorf("handle %d: Close: %w", hi+1, err)
					}
					inner.Wait()
				}
			}()
		}
		wg.Wait()
		close(errs)
		close(idCh)
		for err := range errs {
			t.Error(err)
		}
		seen := map[int64]bool{}
		for id := range idCh {
			if seen[id] {
				t.Errorf("id %d handed out twice", id)
			}
			seen[id] = true
		}
		got := mustListCDRs(t, st, store.CDRFilter{TenantID: f.t1.ID})
		if len(got) != perHandle*len(handles) {
			t.Errorf("after concurrent calls: %d records, want %d", len(got), perHandle*len(handles))
		}
		for _, v := range got {
			wantBillable := int64(0)
			if v.AnswerTime != nil {
				wantBillable = 2
			}
			if v.State != store.CDRClosed || v.DurationSeconds != 3 || v.BillableSeconds != wantBillable {
				t.Errorf("record %d: state %s, duration %d, billable %d, answered %v; want closed, 3, %d",
					v.ID, v.State, v.DurationSeconds, v.BillableSeconds, v.AnswerTime, wantBillable)
			}
		}
	})
}

func mustGetCDR(t *testing.T, ctx context.Context, st store.Store, id int64) store.CDR {
	t.Helper()
	c, err := st.CDRs().Get(ctx, id)
	if err != nil {
		t.Fatalf("Get call record %d: %v", id, err)
	}
	return c
}

func mustListCDRs(t *testing.T, st store.Store, f store.CDRFilter) []store.CDR {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	cs, err := st.CDRs().List(ctx, f)
	if err != nil {
		t.Fatalf("List call records %+v: %v", f, err)
	}
	return cs
}

// sameCDR compares exactly: times must survive to the microsecond and come
// back in UTC.
func sameCDR(t *testing.T, what string, got, want store.CDR) {
	t.Helper()
	times := func(c *store.CDR) []*time.Time { return []*time.Time{&c.StartTime, c.AnswerTime, c.EndTime} }
	for i, name := range []string{"StartTime", "AnswerTime", "EndTime"} {
		g, w := times(&got)[i], times(&want)[i]
		switch {
		case g == nil && w == nil:
		case g == nil || w == nil:
			t.Errorf("%s: %s %v, want %v", what, name, g, w)
		case !g.Equal(*w) || g.Location() != time.UTC:
			t.Errorf("%s: %s %s, want %s in UTC", what, name, g, w.UTC())
		}
	}
	// Compared above; diffValue would allow them timeSlack.
	checked := time.Unix(1, 0)
	got.StartTime, got.AnswerTime, got.EndTime = checked, nil, nil
	want.StartTime, want.AnswerTime, want.EndTime = checked, nil, nil
	if diffs := diffValue("", reflect.ValueOf(got), reflect.ValueOf(want)); len(diffs) > 0 {
		t.Errorf("%s:\n\t%v", what, diffs)
	}
}
