package billing

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/sentralpbx/sentral/store"
)

// TestRatingGolden rates the 100 calls of testdata/rating_golden.csv,
// whose prices testdata/golden.py computed with Python's decimal module
// from the rules restated there, not from this package.
//
// Ten of them worked by hand (tariff: testdata/tariff.yaml; 1 NOK = 100 øre):
//
//	national 59 s:   1 started minute:  0.39 + 1 × 0.19 = 0.58 NOK → 58 øre
//	national 61 s:   2 started minutes: 0.39 + 2 × 0.19 = 0.77 NOK → 77 øre
//	national 121 s:  3 started minutes: 0.39 + 3 × 0.19 = 0.96 NOK → 96 øre
//	mobile day 61 s: 0.39 + 61 × 0.0049 = 0.6889 NOK → 68.89 øre → 69 øre
//	mobile day 50 s: 0.39 + 50 × 0.0049 = 0.6350 NOK → 63.5 øre → 64 øre (half up)
//	mobile Tue 07:59:59 Oslo: Monday's evening band runs to 08:00, so
//	                 0.39 + 2 × 0.0025 = 0.3950 NOK → 39.5 øre → 40 øre (half up)
//	mobile Sat 08:00 Oslo, weekend band (connect 0.19):
//	                 0.19 + 45 × 0.0025 = 0.3025 NOK → 30.25 øre → 30 øre
//	premium 150 s:   1.00 + 150 × 0.0333 = 5.9950 NOK → 599.5 øre → 600 øre
//	+358 (Finland) matches nordic "+358", not europe "+35"; 120 s = 2 minutes:
//	                 0.39 + 2 × 0.29 = 0.97 NOK → 97 øre
//	+1876 (Jamaica) matches caribbean "+1876", not world "+1"; 59 s = 1 minute:
//	                 0.99 + 1 × 3.90 = 4.89 NOK → 489 øre
//	unanswered, or answered with 0 billable seconds: 0 øre, no connection fee.
//	emergency 112 for 300 s: 0 øre whatever the tariff says.
func TestRatingGolden(t *testing.T) {
	tr := loadTariff(t)
	for i, get := range goldenRows(t) {
		t.Run(get("case"), func(t *testing.T) {
			secs, err := strconv.ParseInt(get("billable_seconds"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			want, err := strconv.ParseInt(get("price_ore"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)
			c := store.CDR{
				ID: int64(i + 1), State: store.CDRClosed, Direction: store.CallDirection(get("direction")),
				Caller: "2001", StartTime: start, BillableSeconds: secs,
			}
			if get("field") == "callee" {
				c.Callee = get("number")
			} else {
				c.Normalised = get("number")
				c.Callee = "must-not-be-used"
			}
			if s := get("answer_utc"); s != "" {
				a, err := time.Parse(time.RFC3339, s)
				if err != nil {
					t.Fatal(err)
				}
				c.AnswerTime, c.StartTime = &a, a
				c.Disposition = store.DispositionAnswered
			} else {
				c.Disposition = store.DispositionNoAnswer
			}
			got, err := tr.Rate(c)
			if err != nil {
				t.Fatalf("Rate: %v", err)
			}
			exp := Rating{Class: get("class"), Zone: get("zone"), Band: get("band"), PriceOre: want}
			if got != exp {
				t.Errorf("Rate = %+v, want %+v (%s)", got, exp, get("working"))
			}
		})
	}
}

func TestRateErrors(t *testing.T) {
	tr := loadTariff(t)
	at := time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)

	open := call(1, "2001", "+4791234567", at, 60)
	open.State = store.CDROpen
	if _, err := tr.Rate(open); !errors.Is(err, ErrNotClosed) {
		t.Errorf("open record: err = %v, want ErrNotClosed", err)
	}
	bad := call(2, "2001", "12ab", at, 60)
	if _, err := tr.Rate(bad); !errors.Is(err, ErrUnknownNumber) {
		t.Errorf("answered junk number: err = %v, want ErrUnknownNumber", err)
	}
	dir := call(3, "2001", "+4791234567", at, 60)
	dir.Direction = "sideways"
	if _, err := tr.Rate(dir); !errors.Is(err, ErrUnknownDirection) {
		t.Errorf("bad direction: err = %v, want ErrUnknownDirection", err)
	}
	huge := call(4, "2001", "+4791234567", at, 1<<62)
	if _, err := tr.Rate(huge); !errors.Is(err, ErrNoRate) {
		t.Errorf("absurd duration: err = %v, want ErrNoRate", err)
	}
}

// A class left out of the tariff is free only for the classes that may
// default to free; Rate on an unvalidated tariff must not rate 0 silently.
func TestRateMissingClass(t *testing.T) {
	tr := loadTariff(t)
	delete(tr.Rates, ClassFreephone)
	delete(tr.Rates, ClassMobile)
	at := time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)
	if r, err := tr.Rate(call(1, "2001", "+4780012345", at, 60)); err != nil || r.PriceOre != 0 {
		t.Errorf("freephone without rate = %+v, %v; want free", r, err)
	}
	if _, err := tr.Rate(call(2, "2001", "+4791234567", at, 60)); !errors.Is(err, ErrNoRate) {
		t.Errorf("mobile without rate: err = %v, want ErrNoRate", err)
	}
}

// TestRerate rates a set, changes the mobile day price, and checks that
// re-rating moves the total by exactly the difference worked out by hand.
func TestRerate(t *testing.T) {
	tr := loadTariff(t)
	day := time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC) // Tue 10:00 Oslo
	eve := time.Date(2026, 11, 3, 19, 0, 0, 0, time.UTC)
	cdrs := []store.CDR{
		call(1, "2001", "+4791234567", day, 100), // 0.39 + 100 × 0.0049 = 0.88   → 88
		call(2, "2001", "+4741234567", day, 61),  // 0.39 + 61 × 0.0049 = 0.6889 → 69
		call(3, "2002", "+4722334455", day, 61),  // national: 0.39 + 2 × 0.19    → 77
		call(4, "2002", "+4791234567", eve, 100), // evening: 0.39 + 100 × 0.0025 → 64
	}
	total := func(tr *Tariff) int64 {
		var sum int64
		for _, c := range cdrs {
			r, err := tr.Rate(c)
			if err != nil {
				t.Fatal(err)
			}
			sum += r.PriceOre
		}
		return sum
	}
	if got := total(tr); got != 88+69+77+64 {
		t.Fatalf("before: total %d, want %d", got, 88+69+77+64)
	}
	// 0.0049 → 0.0059 per second: call 1 0.39 + 0.59 = 0.98 → 98 (+10);
	// call 2 0.39 + 61 × 0.0059 = 0.7499 → 75 (+6); national and the
	// evening call keep their price.
	m := tr.Rates[ClassMobile]
	m.Price = 59
	tr.Rates[ClassMobile] = m
	if err := tr.Validate(); err != nil {
		t.Fatal(err)
	}
	if got, want := total(tr), int64(88+69+77+64+10+6); got != want {
		t.Errorf("after: total %d, want %d", got, want)
	}
}
