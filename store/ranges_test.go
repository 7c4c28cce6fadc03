package store

import "testing"

func TestParseRange(t *testing.T) {
	tests := []struct {
		kind    RangeKind
		in      string
		want    NumberRange
		wantErr bool
	}{
		{RangeExtension, "2000-2999", NumberRange{RangeExtension, "2000", "2999"}, false},
		{RangeExtension, " 2000 - 2999 ", NumberRange{RangeExtension, "2000", "2999"}, false},
		{RangeExtension, "2000", NumberRange{RangeExtension, "2000", "2000"}, false},
		{RangeExtension, "2999-2000", NumberRange{}, true},
		{RangeExtension, "200-2999", NumberRange{}, true},
		{RangeExtension, "2a00-2999", NumberRange{}, true},
		{RangeExtension, "1", NumberRange{}, true},
		{RangeExtension, "123456789", NumberRange{}, true},
		{RangeExtension, "", NumberRange{}, true},
		{RangeExtension, "-", NumberRange{}, true},
		{RangeDID, "+4755550000-+4755550999", NumberRange{RangeDID, "+4755550000", "+4755550999"}, false},
		{RangeDID, "55550000-55550999", NumberRange{RangeDID, "+4755550000", "+4755550999"}, false},
		{RangeDID, "004755550000-004755550999", NumberRange{RangeDID, "+4755550000", "+4755550999"}, false},
		{RangeDID, "5555-5556", NumberRange{}, true},
		{RangeDID, "+47-+48", NumberRange{}, true},
		{"bogus", "2000", NumberRange{}, true},
	}
	for _, tt := range tests {
		got, err := ParseRange(tt.kind, tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseRange(%s, %q) error = %v, wantErr %v", tt.kind, tt.in, err, tt.wantErr)
			continue
		}
		if err == nil && got != tt.want {
			t.Errorf("ParseRange(%s, %q) = %+v, want %+v", tt.kind, tt.in, got, tt.want)
		}
	}
}

func TestContains(t *testing.T) {
	ext := NumberRange{RangeExtension, "2000", "2999"}
	did := NumberRange{RangeDID, "+4755550000", "+4755550999"}
	tests := []struct {
		r    NumberRange
		n    string
		want bool
	}{
		{ext, "2000", true}, {ext, "2999", true}, {ext, "2500", true},
		{ext, "1999", false}, {ext, "3000", false}, {ext, "20000", false}, {ext, "200", false},
		{ext, "2x00", false}, {ext, "", false},
		{did, "+4755550123", true}, {did, "4755550123", false}, {did, "+4755551000", false},
	}
	for _, tt := range tests {
		if got := tt.r.Contains(tt.n); got != tt.want {
			t.Errorf("%s.Contains(%q) = %v, want %v", tt.r, tt.n, got, tt.want)
		}
	}
}

func TestConflicts(t *testing.T) {
	e := func(a, b string) NumberRange { return NumberRange{RangeExtension, a, b} }
	d := func(a, b string) NumberRange { return NumberRange{RangeDID, a, b} }
	tests := []struct {
		a, b NumberRange
		want bool
	}{
		{e("2000", "2999"), e("3000", "3999"), false},
		{e("2000", "2999"), e("2999", "3999"), true},
		{e("2000", "2999"), e("2500", "2600"), true},
		{e("2000", "2999"), e("20000", "20999"), true}, // 2000 is a prefix of 20001
		{e("20000", "20999"), e("2000", "2999"), true}, // symmetric
		{e("2000", "2999"), e("30000", "39999"), false},
		{e("2000", "2099"), e("21000", "21999"), false}, // prefixes 2100-2199 miss 2000-2099
		{e("2000", "2099"), e("20990", "21000"), true},  // prefix 2099
		{e("20", "29"), e("2000", "2999"), true},
		{d("+4755550000", "+4755550999"), d("+4755550500", "+4755551500"), true},
		{d("+4755550000", "+4755550999"), d("+4755551000", "+4755551999"), false},
		{d("+4755550000", "+4755550999"), d("+475555000000", "+475555099999"), false},
		{e("2000", "2999"), NumberRange{RangeDID, "2000", "2999"}, false},
	}
	for _, tt := range tests {
		if got := tt.a.Conflicts(tt.b); got != tt.want {
			t.Errorf("%s conflicts %s = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestSizeAndFormat(t *testing.T) {
	rs := []NumberRange{{RangeExtension, "2000", "2999"}, {RangeDID, "+4755550000", "+4755550099"}, {RangeExtension, "4000", "4000"}}
	if got := rs[0].Size(); got != 1000 {
		t.Errorf("Size = %d, want 1000", got)
	}
	if got := FormatRanges(rs, RangeExtension); got != "2000-2999,4000" {
		t.Errorf("FormatRanges = %q", got)
	}
	if !InRanges(rs, RangeDID, "+4755550042") || InRanges(rs, RangeExtension, "+4755550042") {
		t.Error("InRanges mixes kinds")
	}
}

func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"2000-2999", "+4755550000-+4755550999", "55550000", "0047-", "-", "9-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, k := range []RangeKind{RangeExtension, RangeDID} {
			r, err := ParseRange(k, s)
			if err != nil {
				continue
			}
			if !r.Contains(r.First) || !r.Contains(r.Last) {
				t.Fatalf("%q: range %s does not contain its ends", s, r)
			}
			if !r.Conflicts(r) || r.Size() < 1 {
				t.Fatalf("%q: range %s does not conflict with itself or is empty", s, r)
			}
			again, err := ParseRange(k, r.String())
			if err != nil || again != r {
				t.Fatalf("%q: round trip %s -> %+v, %v", s, r, again, err)
			}
		}
	})
}
