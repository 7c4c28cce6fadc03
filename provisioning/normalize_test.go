package provisioning

import (
	"errors"
	"strings"
	"testing"

	"github.com/sentralpbx/sentral/store"
)

// fieldOf returns the field a refusal names, or fails the test.
func fieldOf(t *testing.T, err error) string {
	t.Helper()
	var pe *Error
	if !errors.As(err, &pe) {
		t.Fatalf("error %v is not a *provisioning.Error", err)
	}
	if pe.Fix == "" {
		t.Errorf("error %v has no fix", err)
	}
	return pe.Field
}

func TestNormalizeMAC(t *testing.T) {
	tests := []struct{ in, want string }{
		{"00:15:65:AA:BB:CC", "001565aabbcc"},
		{"00-15-65-aa-bb-cc", "001565aabbcc"},
		{"001565aabbcc", "001565aabbcc"},
		{"0015.65aa.bbcc", "001565aabbcc"},
		{" 00:15:65:Aa:bB:cc ", "001565aabbcc"},
		{"00:15:65:AA:BB", ""},       // too short
		{"00:15:65:AA:BB:CC:DD", ""}, // too long
		{"00:15:65:AA:BB:CG", ""},    // not hex
		{"", ""},
	}
	for _, tt := range tests {
		got, err := NormalizeMAC("MAC", tt.in)
		if tt.want == "" {
			if err == nil {
				t.Errorf("NormalizeMAC(%q) = %q, want an error", tt.in, got)
			} else if f := fieldOf(t, err); f != "MAC" {
				t.Errorf("NormalizeMAC(%q) names %q, want MAC", tt.in, f)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("NormalizeMAC(%q) = %q, %v, want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestNormalizeIPUI(t *testing.T) {
	tests := []struct{ in, want string }{
		{"0077a1b2c3", "0077A1B2C3"},
		{"0077A1B2C3", "0077A1B2C3"},
		{"00 77 A1 B2 C3", "0077A1B2C3"},
		{"0077-a1b2-c3", "0077A1B2C3"},
		{"0077A1B2C", ""},
		{"0077A1B2C3D", ""},
		{"0077A1B2CX", ""},
	}
	for _, tt := range tests {
		got, err := NormalizeIPUI("IPUI", tt.in)
		if tt.want == "" {
			if err == nil {
				t.Errorf("NormalizeIPUI(%q) = %q, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("NormalizeIPUI(%q) = %q, %v, want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestParseBool(t *testing.T) {
	for in, want := range map[string]bool{"true": true, "Yes": true, "JA": true, "1": true, "false": false, "no": false, "Nei": false, "0": false} {
		got, err := ParseBool("enabled", in)
		if err != nil || got != want {
			t.Errorf("ParseBool(%q) = %v, %v, want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "kanskje", "2", "on"} {
		if _, err := ParseBool("enabled", in); err == nil {
			t.Errorf("ParseBool(%q) accepted it", in)
		}
	}
}

func TestParseCOS(t *testing.T) {
	for _, in := range []string{"internal", "National", "MOBILE", " international "} {
		if _, err := ParseCOS("--cos", in); err != nil {
			t.Errorf("ParseCOS(%q): %v", in, err)
		}
	}
	for _, in := range []string{"", "vip", "premium"} {
		_, err := ParseCOS("--cos", in)
		if err == nil {
			t.Errorf("ParseCOS(%q) accepted it", in)
		} else if f := fieldOf(t, err); f != "--cos" {
			t.Errorf("ParseCOS(%q) names %q", in, f)
		}
	}
}

func TestCheckNumber(t *testing.T) {
	for in, ok := range map[string]bool{"2001": true, "20": true, "12345678": true, "2": false, "123456789": false, "20a1": false, "+2001": false, "": false} {
		_, err := CheckNumber("NUMBER", in)
		if (err == nil) != ok {
			t.Errorf("CheckNumber(%q) = %v, want ok=%v", in, err, ok)
		}
	}
}

func TestCheckSlugDomainEmail(t *testing.T) {
	slugs := map[string]bool{"fjordvik": true, "fjord-vik2": true, "Fjordvik": false, "2fjord": false, "fjord vik": false, "": false, "fjørdvik": false}
	for in, ok := range slugs {
		if _, err := CheckSlug("NAME", in); (err == nil) != ok {
			t.Errorf("CheckSlug(%q) = %v, want ok=%v", in, err, ok)
		}
	}
	domains := map[string]string{"sip.fjordvik.kommune.no": "sip.fjordvik.kommune.no", "SIP.Fjordvik.NO.": "sip.fjordvik.no", "fjord_vik.no": "", "-a.no": "", "a..no": "", "": ""}
	for in, want := range domains {
		got, err := CheckDomain("--domain", in)
		if want == "" && err == nil || want != "" && (err != nil || got != want) {
			t.Errorf("CheckDomain(%q) = %q, %v, want %q", in, got, err, want)
		}
	}
	emails := map[string]string{"Kari.Nordmann@Fjordvik.Kommune.no": "kari.nordmann@fjordvik.kommune.no", "": "", "kari": "!", "kari@localhost": "!", "Kari <kari@x.no>": "!"}
	for in, want := range emails {
		got, err := CheckEmail("--email", in)
		if want == "!" {
			if err == nil {
				t.Errorf("CheckEmail(%q) accepted it as %q", in, got)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("CheckEmail(%q) = %q, %v, want %q", in, got, err, want)
		}
	}
}

func TestParseRanges(t *testing.T) {
	rs, err := ParseRanges("--ext-range", store.RangeExtension, []string{"2000-2999", "3000-3099,4000"})
	if err != nil || len(rs) != 3 || rs[2].First != "4000" || rs[2].Last != "4000" {
		t.Fatalf("ParseRanges = %v, %v", rs, err)
	}
	for _, bad := range [][]string{{"2000-299"}, {"2999-2000"}, {"2000-2999", "2500-2600"}, {"2000-2999", "20000-20999"}, {"abc"}} {
		_, err := ParseRanges("--ext-range", store.RangeExtension, bad)
		if err == nil {
			t.Errorf("ParseRanges(%v) accepted it", bad)
		} else if f := fieldOf(t, err); f != "--ext-range" {
			t.Errorf("ParseRanges(%v) names %q", bad, f)
		}
	}
	dids, err := ParseRanges("--did-range", store.RangeDID, []string{"55550000-55550999"})
	if err != nil || dids[0].First != "+4755550000" {
		t.Errorf("DID range = %v, %v; want E.164", dids, err)
	}
}

func TestCheckInRange(t *testing.T) {
	tn := store.Tenant{Name: "fjordvik", Ranges: []store.NumberRange{{Kind: store.RangeExtension, First: "2000", Last: "2999"}}}
	if err := checkInRange("NUMBER", "2001", tn); err != nil {
		t.Errorf("2001: %v", err)
	}
	err := checkInRange("NUMBER", "3001", tn)
	if err == nil {
		t.Fatal("3001 accepted outside 2000-2999")
	}
	if !strings.Contains(err.Error(), "--ext-range") || !strings.Contains(err.Error(), "2000-2999") {
		t.Errorf("refusal %q does not name the ranges and --ext-range", err)
	}
	if !errors.Is(err, store.ErrInvalid) || !IsUserError(err) {
		t.Errorf("refusal %v is not a user error", err)
	}
}

func TestSplitName(t *testing.T) {
	for in, want := range map[string][2]string{"Kari Nordmann": {"Kari", "Nordmann"}, "Ola Johan Hansen": {"Ola Johan", "Hansen"}, "Sentralbord": {"", "Sentralbord"}} {
		g, f := splitName(in)
		if g != want[0] || f != want[1] {
			t.Errorf("splitName(%q) = %q, %q", in, g, f)
		}
	}
}
