package queue

import (
	"strings"
	"testing"
	"time"
)

// osloTime builds a time in Europe/Oslo. 2026-03-02 is a Monday.
func osloTime(day, hh, mm int) time.Time {
	return time.Date(2026, 3, 1+day, hh, mm, 0, 0, oslo) // day 1 = Monday
}

func TestParseHours(t *testing.T) {
	type at struct {
		day, hh, mm int
		open        bool
	}
	tests := []struct {
		in     string
		str    string // canonical String()
		checks []at
	}{
		{"", "", []at{{1, 3, 0, true}, {7, 23, 59, true}}},
		{"  ; \n", "", []at{{3, 12, 0, true}}},
		{"mon-fri 08:00-15:30; sat 10:00-14:00",
			"mon 08:00-15:30; tue 08:00-15:30; wed 08:00-15:30; thu 08:00-15:30; fri 08:00-15:30; sat 10:00-14:00",
			[]at{
				{1, 7, 59, false}, {1, 8, 0, true}, {1, 15, 29, true}, {1, 15, 30, false},
				{5, 12, 0, true}, {6, 10, 0, true}, {6, 14, 0, false}, {7, 12, 0, false},
			}},
		{"Man-Fre 8:00-11:30, 12:00-15:30", // Norwegian, lunch closed, spaces
			"mon 08:00-11:30,12:00-15:30; tue 08:00-11:30,12:00-15:30; wed 08:00-11:30,12:00-15:30; thu 08:00-11:30,12:00-15:30; fri 08:00-11:30,12:00-15:30",
			[]at{{2, 11, 45, false}, {2, 12, 0, true}, {2, 9, 0, true}}},
		{"fri-mon 22:00-24:00", // wraps the week
			"mon 22:00-24:00; fri 22:00-24:00; sat 22:00-24:00; sun 22:00-24:00",
			[]at{{1, 23, 59, true}, {2, 23, 0, false}, {7, 22, 0, true}, {5, 21, 59, false}}},
		{"daily 00:00-24:00", "mon 00:00-24:00; tue 00:00-24:00; wed 00:00-24:00; thu 00:00-24:00; fri 00:00-24:00; sat 00:00-24:00; sun 00:00-24:00",
			[]at{{4, 0, 0, true}, {7, 23, 59, true}}},
		{"mon 08:00-10:00; mon 09:00-12:00,12:00-13:00", "mon 08:00-13:00", // merged
			[]at{{1, 12, 30, true}, {1, 13, 0, false}}},
		{"mon,wed 09:00-10:00\nlør 10:00-11:00", "mon 09:00-10:00; wed 09:00-10:00; sat 10:00-11:00",
			[]at{{3, 9, 30, true}, {2, 9, 30, false}, {6, 10, 30, true}}},
	}
	for _, tt := range tests {
		h, err := ParseHours(tt.in)
		if err != nil {
			t.Errorf("ParseHours(%q): %v", tt.in, err)
			continue
		}
		if got := h.String(); got != tt.str {
			t.Errorf("ParseHours(%q).String() = %q, want %q", tt.in, got, tt.str)
		}
		for _, c := range tt.checks {
			tm := osloTime(c.day, c.hh, c.mm)
			if got := h.Open(tm); got != c.open {
				t.Errorf("ParseHours(%q).Open(%s) = %v, want %v", tt.in, tm.Format("Mon 15:04"), got, c.open)
			}
			// the same instant in another zone gives the same answer
			if got := h.Open(tm.UTC()); got != c.open {
				t.Errorf("ParseHours(%q).Open(%s UTC) = %v, want %v", tt.in, tm.UTC().Format("Mon 15:04"), got, c.open)
			}
		}
	}
}

func TestParseHoursDST(t *testing.T) {
	h, err := ParseHours("mon-fri 08:00-15:30")
	if err != nil {
		t.Fatal(err)
	}
	// 07:30 UTC is 08:30 in winter (CET) and 09:30 in summer (CEST);
	// 06:30 UTC is 07:30 in winter (closed) and 08:30 in summer (open).
	winter := time.Date(2026, 1, 12, 6, 30, 0, 0, time.UTC)
	summer := time.Date(2026, 6, 15, 6, 30, 0, 0, time.UTC)
	if h.Open(winter) {
		t.Error("open at 07:30 CET")
	}
	if !h.Open(summer) {
		t.Error("closed at 08:30 CEST")
	}
}

func TestParseHoursErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"mon-fri", "want days and times"},
		{"08:00-15:30", "want days and times"},
		{"mandag 08:00-15:30", `unknown day "mandag"`},
		{"mon-fry 08:00-15:30", `unknown day "fry"`},
		{"mon 08:00", `times "08:00": want HH:MM-HH:MM`},
		{"mon 8-15", `time "8": want HH:MM`},
		{"mon 08:60-09:00", `time "08:60"`},
		{"mon 25:00-26:00", `time "25:00"`},
		{"mon 24:30-24:00", `time "24:30"`},
		{"mon +8:00-09:00", `time "+8:00"`},
		{"mon 22:00-06:00", "past midnight write 22:00-24:00"},
		{"mon 10:00-10:00", "end must be after the start"},
		{"mon 08:00-12:00,", `times ""`},
		{"mon-fri 08:00-15:30; sat", "want days and times"},
	}
	for _, tt := range tests {
		_, err := ParseHours(tt.in)
		if err == nil {
			t.Errorf("ParseHours(%q): no error, want %q", tt.in, tt.want)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseHours(%q) = %q, want it to contain %q", tt.in, err, tt.want)
		}
	}
}

func FuzzParseHours(f *testing.F) {
	f.Add("mon-fri 08:00-15:30; sat 10:00-14:00")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseHours(s)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		str := h.String()
		h2, err := ParseHours(str)
		if err != nil {
			t.Fatalf("ParseHours(%q) ok, but its String %q does not parse: %v", s, str, err)
		}
		if !equalHours(h, h2) {
			t.Fatalf("round trip of %q via %q changed the hours", s, str)
		}
		for _, tm := range []time.Time{osloTime(1, 0, 0), osloTime(3, 12, 0), osloTime(7, 23, 59)} {
			if h.Open(tm) != h2.Open(tm) {
				t.Fatalf("round trip of %q changed Open(%v)", s, tm)
			}
		}
	})
}

func equalHours(a, b Hours) bool {
	if a.set != b.set {
		return false
	}
	for d := range a.days {
		if len(a.days[d]) != len(b.days[d]) {
			return false
		}
		for i := range a.days[d] {
			if a.days[d][i] != b.days[d][i] {
				return false
			}
		}
	}
	return true
}
