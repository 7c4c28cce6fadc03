package billing

import "testing"

func TestMask(t *testing.T) {
	for _, tc := range []struct {
		in     string
		digits int
		want   string
	}{
		{"+4791234567", 3, "+4791234xxx"},
		{"+4791234567", 0, "+4791234567"},
		{"+4791234567", -2, "+4791234567"},
		{"+47 912 34 567", 4, "+47 912 3x xxx"}, // format kept, separators skipped
		{"+4722334455", 10, "+xxxxxxxxxx"},      // never the '+'
		{"+4722334455", 99, "+xxxxxxxxxx"},
		{"004622123456", 2, "0046221234xx"},
		{"0046", 9, "00xx"},         // never the "00"
		{"2001", 3, "2001"},         // extension: never masked
		{"91234567", 3, "91234567"}, // no '+': an 8-digit extension, not masked
		{"", 3, ""},
		{"+", 3, "+"},
		{"+47112", 3, "+47xxx"},
	} {
		if got := Mask(tc.in, tc.digits); got != tc.want {
			t.Errorf("Mask(%q, %d) = %q, want %q", tc.in, tc.digits, got, tc.want)
		}
	}
}
