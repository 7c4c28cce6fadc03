package billing

import (
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
