package billing

import (
	"encoding/csv"
	"os"
	"testing"
	"time"

	"github.com/sentralpbx/sentral/store"
)

func loadTariff(t testing.TB) *Tariff {
	t.Helper()
	b, err := os.ReadFile("testdata/tariff.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tr, err := ParseTariff(b)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// call builds a closed outbound CDR answered at the given UTC time.
func call(id int64, caller, number string, answer time.Time, secs int64) store.CDR {
	a := answer
	end := a.Add(time.Duration(secs) * time.Second)
	return store.CDR{
		ID: id, TenantID: 1, State: store.CDRClosed, Direction: store.DirectionOutbound,
		Caller: caller, Callee: number, Dialled: number, Normalised: number,
		StartTime: a.Add(-5 * time.Second), AnswerTime: &a, EndTime: &end,
		DurationSeconds: secs + 5, BillableSeconds: secs, Disposition: store.DispositionAnswered, SIPCode: 200,
	}
}

func ptr[T any](v T) *T { return &v }

// goldenRows reads testdata/rating_golden.csv: one getter per call, which
// returns a column of that call's row by name.
func goldenRows(t testing.TB) []func(column string) string {
	t.Helper()
	f, err := os.Open("testdata/rating_golden.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.Comma = ';'
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	var out []func(string) string
	for _, row := range rows[1:] {
		out = append(out, func(name string) string {
			i, ok := col[name]
			if !ok {
				t.Fatalf("golden file has no column %q", name)
			}
			return row[i]
		})
	}
	if len(out) != 100 {
		t.Fatalf("golden file has %d calls, want 100", len(out))
	}
	return out
}
