package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sentralpbx/sentral/store"
)

// seedCDRs writes two tenants and their call records straight into the
// CLI's store, as a running server would, and returns the record ids by
// name.
func seedCDRs(t *testing.T, c *cli) map[string]int64 {
	t.Helper()
	ctx := context.Background()
	st := c.openStore()
	fj := store.Tenant{Name: "fjordvik", Domain: "fjordvik.test", Ranges: []store.NumberRange{{Kind: store.RangeExtension, First: "2000", Last: "2999"}}}
	bv := store.Tenant{Name: "bergvik", Domain: "bergvik.test", Ranges: []store.NumberRange{{Kind: store.RangeExtension, First: "3000", Last: "3999"}}}
	for _, tn := range []*store.Tenant{&fj, &bv} {
		if err := st.Tenants().Create(ctx, tn); err != nil {
			t.Fatal(err)
		}
	}
	dep := store.Department{TenantID: fj.ID, Code: "1300", Name: "IKT"}
	if err := st.Departments().Create(ctx, &dep); err != nil {
		t.Fatal(err)
	}
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	ids := map[string]int64{}
	for _, r := range []struct {
		name           string
		tenant         int64
		dir            store.CallDirection
		caller, callee string
		start          string // UTC; Oslo is UTC+1 in November
		answer         time.Duration
		end            time.Duration // 0: still open
		disp           store.Disposition
		code           int
	}{
		// 00:30 on 1 November in Oslo, still October in UTC.
		{"first", fj.ID, store.DirectionOutbound, "2001", "+4791234567", "2026-10-31T23:30:00.5Z", 4 * time.Second, 64*time.Second + 700*time.Millisecond, store.DispositionAnswered, 200},
		{"internal", fj.ID, store.DirectionInternal, "2002", "2001", "2026-11-10T09:00:00Z", -1, 20 * time.Second, store.DispositionNoAnswer, 480},
		{"busy", fj.ID, store.DirectionInbound, "+4722225555", "2003", "2026-11-12T13:45:10Z", -1, 2 * time.Second, store.DispositionBusy, 486},
		{"open", fj.ID, store.DirectionInternal, "2003", "2002", "2026-11-30T22:59:59.999999Z", 0, 0, "", 0},
		// 00:30 on 1 December in Oslo, still November in UTC.
		{"december", fj.ID, store.DirectionInternal, "2001", "2002", "2026-11-30T23:30:00Z", -1, time.Second, store.DispositionCancelled, 487},
		{"other tenant", bv.ID, store.DirectionInternal, "3001", "2001", "2026-11-10T09:00:00Z", -1, time.Second, store.DispositionCancelled, 487},
	} {
		start := utc(r.start)
		c := store.CDR{TenantID: r.tenant, CallID: r.name + "@test", Node: "node-a", Direction: r.dir,
			Caller: r.caller, Callee: r.callee, Dialled: r.callee, Normalised: r.callee, StartTime: start}
		if r.dir == store.DirectionOutbound {
			c.Trunk, c.DepartmentID = "centrex", &dep.ID
		}
		id, err := st.CDRs().Open(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		ids[r.name] = id
		if r.answer >= 0 && r.end > 0 {
			if err := st.CDRs().Answer(ctx, id, start.Add(r.answer)); err != nil {
				t.Fatal(err)
			}
		}
		if r.end > 0 {
			if err := st.CDRs().Close(ctx, id, start.Add(r.end), r.disp, r.code, "seeded"); err != nil {
				t.Fatal(err)
			}
		}
	}
	return ids
}

// cdrIDs lists `cdr list` as JSON and returns the record ids in order.
func cdrIDs(t *testing.T, c *cli, args ...string) []int64 {
	t.Helper()
	var rows []store.CDR
	out := c.ok(append([]string{"cdr", "list", "-o", "json"}, args...)...)
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("cdr list %v -o json: %v\n%s", args, err, out)
	}
	ids := []int64{}
	for _, r := range rows {
		ids = append(ids, r.ID)
	}
	return ids
}

func wantIDs(t *testing.T, what string, got []int64, ids map[string]int64, names ...string) {
	t.Helper()
	want := []int64{}
	for _, n := range names {
		want = append(want, ids[n])
	}
	if len(got) != len(want) {
		t.Errorf("%s: ids %v, want %v (%v)", what, got, want, names)
		return
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("%s: ids %v, want %v (%v)", what, got, want, names)
			return
		}
	}
}

func TestCDRList(t *testing.T) {
	c := newCLI(t)
	ids := seedCDRs(t, c)
	november := []string{"--tenant", "fjordvik", "--from", "2026-11-01", "--to", "2026-12-01"}

	// Plain dates are Oslo days: the 00:30 calls fall in the month they
	// were made in Norway, not in UTC's.
	wantIDs(t, "November", cdrIDs(t, c, november...), ids, "first", "internal", "busy", "open")
	wantIDs(t, "November in UTC days", cdrIDs(t, c, append(november, "--tz", "UTC")...), ids, "internal", "busy", "open", "december")
	wantIDs(t, "RFC 3339 bounds", cdrIDs(t, c, "--tenant", "fjordvik", "--from", "2026-11-10T10:00:00+01:00", "--to", "2026-11-12T13:45:10.000001Z"), ids, "internal", "busy")
	wantIDs(t, "no --to", cdrIDs(t, c, "--tenant", "fjordvik", "--from", "2026-11-12"), ids, "busy", "open", "december")
	wantIDs(t, "--ext as caller or callee", cdrIDs(t, c, append(november, "--ext", "2001")...), ids, "first", "internal")
	wantIDs(t, "--ext of an external number", cdrIDs(t, c, append(november, "--ext", "+4722225555")...), ids, "busy")
	wantIDs(t, "--limit", cdrIDs(t, c, append(november, "--limit", "2")...), ids, "first", "internal")
	wantIDs(t, "other tenant", cdrIDs(t, c, "--tenant", "bergvik", "--from", "2026-01-01"), ids, "other tenant")

	// JSON carries every field, times in UTC.
	var rows []store.CDR
	if err := json.Unmarshal([]byte(c.ok(append([]string{"cdr", "list", "-o", "json"}, november...)...)), &rows); err != nil {
		t.Fatal(err)
	}
	first := rows[0]
	if first.Direction != store.DirectionOutbound || first.Caller != "2001" || first.Trunk != "centrex" || first.DepartmentCode != "1300" ||
		first.DurationSeconds != 64 || first.BillableSeconds != 60 || first.Disposition != store.DispositionAnswered || first.SIPCode != 200 ||
		first.StartTime.Format(time.RFC3339Nano) != "2026-10-31T23:30:00.5Z" || first.State != store.CDRClosed {
		t.Errorf("first record as JSON: %+v", first)
	}
	if rows[3].State != store.CDROpen || rows[3].EndTime != nil {
		t.Errorf("open record as JSON: %+v", rows[3])
	}
	if out := c.ok("cdr", "list", "--tenant", "fjordvik", "--from", "2030-01-01", "-o", "json"); strings.TrimSpace(out) != "[]" {
		t.Errorf("no records as JSON: %q, want []", out)
	}

	// CSV: a header row naming every column, times in Oslo with offsets.
	csvOut := c.ok(append([]string{"cdr", "list", "-o", "csv"}, november...)...)
	const header = "id,call_id,node,state,direction,caller,callee,dialled,normalised,trunk_id,trunk,department_id,department_code," +
		"start_time,answer_time,end_time,duration_seconds,billable_seconds,disposition,sip_code,reason,price_ore,tariff_id\n"
	if !strings.HasPrefix(csvOut, header) {
		t.Fatalf("csv header:\n%s", csvOut)
	}
	recs := parseCSV(t, csvOut)
	if len(recs) != 4 {
		t.Fatalf("csv: %d rows, want 4:\n%s", len(recs), csvOut)
	}
	r := recs[0]
	for col, want := range map[string]string{
		"call_id": "first@test", "state": "closed", "direction": "outbound", "caller": "2001", "callee": "+4791234567",
		"trunk": "centrex", "department_code": "1300", "start_time": "2026-11-01T00:30:00+01:00",
		"answer_time": "2026-11-01T00:30:04+01:00", "end_time": "2026-11-01T00:31:05+01:00",
		"duration_seconds": "64", "billable_seconds": "60", "disposition": "answered", "sip_code": "200",
		"reason": "seeded", "price_ore": "", "tariff_id": "", "trunk_id": "",
	} {
		if r[col] != want {
			t.Errorf("csv first row, column %s: %q, want %q", col, r[col], want)
		}
	}
	if o := recs[3]; o["state"] != "open" || o["end_time"] != "" || o["sip_code"] != "" || o["disposition"] != "" {
		t.Errorf("csv open row: %v", o)
	}

	// The table, for people: Oslo times, one line per call.
	table := c.ok(append([]string{"cdr", "list"}, november...)...)
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "START") || !strings.Contains(lines[0], "BILLABLE") ||
		!strings.HasPrefix(lines[1], "2026-11-01 00:30:00") || !strings.Contains(lines[1], "+4791234567") || !strings.Contains(lines[4], "open") {
		t.Errorf("table:\n%s", table)
	}
}

func TestCDRListRefusals(t *testing.T) {
	c := newCLI(t)
	seedCDRs(t, c)
	for _, bad := range []string{"2026-13-01", "01.11.2026", "2026-11-01 08:00", "yesterday"} {
		errs := c.refused("--from", "cdr", "list", "--tenant", "fjordvik", "--from", bad)
		if !strings.Contains(errs, bad) || !strings.Contains(errs, "YYYY-MM-DD") {
			t.Errorf("--from %q: stderr does not quote the value and the format:\n%s", bad, errs)
		}
	}
	c.refused("--to", "cdr", "list", "--tenant", "fjordvik", "--from", "2026-11-01", "--to", "30.11.2026")
	c.refused("--from", "cdr", "list", "--tenant", "fjordvik")
	c.refused("--to", "cdr", "list", "--tenant", "fjordvik", "--from", "2026-12-01", "--to", "2026-11-01")
	c.refused("--to", "cdr", "list", "--tenant", "fjordvik", "--from", "2026-12-01", "--to", "2026-12-01")
	c.refused("--tz", "cdr", "list", "--tenant", "fjordvik", "--from", "2026-12-01", "--tz", "Europe/Fjordvik")
	c.refused("--limit", "cdr", "list", "--tenant", "fjordvik", "--from", "2026-12-01", "--limit", "-1")
	c.refused("--tenant", "cdr", "list", "--tenant", "nowhere", "--from", "2026-11-01")
	c.refused("--tenant", "cdr", "list", "--from", "2026-11-01")
	c.refused("takes no arguments", "cdr", "list", "fjordvik", "--from", "2026-11-01")
	c.fail(exitUser, "cdr", "list", "--tenant", "fjordvik", "--from", "2026-11-01", "-o", "xml")
}
