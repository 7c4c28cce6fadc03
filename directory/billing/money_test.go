package billing

import (
	"strings"
	"testing"
)

func TestParseAmount(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Amount
		err  string
	}{
		{"0.49", 4900, ""},
		{"0.0049", 49, ""},
		{"12", 120000, ""},
		{".5", 5000, ""},
		{"0", 0, ""},
		{"10000", 100000000, ""},
		{" 1.10 ", 11000, ""},
		{"0,49", 0, "use a dot as the decimal mark, e.g. 0.49"},
		{"0.00001", 0, "at most 4 decimals"},
		{"-1", 0, "negative"},
		{"1e3", 0, "not a plain decimal"},
		{"kr 1", 0, "not a plain decimal"},
		{"", 0, "empty"},
		{"10000.0001", 0, "more than 10000.00 NOK"},
		{"999999999999999999999", 0, "more than"},
		{"1.", 10000, ""},
		{".", 0, "not a plain decimal"},
	} {
		got, err := ParseAmount(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseAmount(%q) err = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseAmount(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}

func TestAmountFormatAndRound(t *testing.T) {
	for _, tc := range []struct {
		a   Amount
		nok string
		ore int64
	}{
		{0, "0.00", 0},
		{49, "0.0049", 0},  // 0.49 øre rounds down
		{50, "0.005", 1},   // 0.5 øre rounds up
		{149, "0.0149", 1}, // 1.49 øre
		{150, "0.015", 2},  // 1.5 øre
		{6889, "0.6889", 69},
		{10000, "1.00", 100},
		{4900, "0.49", 49},
		{4950, "0.495", 50},
	} {
		if got := tc.a.NOK(); got != tc.nok {
			t.Errorf("Amount(%d).NOK() = %q, want %q", tc.a, got, tc.nok)
		}
		if got := tc.a.Ore(); got != tc.ore {
			t.Errorf("Amount(%d).Ore() = %d, want %d", tc.a, got, tc.ore)
		}
	}
	for ore, want := range map[int64]string{0: "0.00", 5: "0.05", 12345: "123.45", 100: "1.00"} {
		if got := FormatOre(ore); got != want {
			t.Errorf("FormatOre(%d) = %q, want %q", ore, got, want)
		}
	}
}
