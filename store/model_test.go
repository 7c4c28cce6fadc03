package store

import (
	"net/netip"
	"strings"
	"testing"
)

func TestValidRoute(t *testing.T) {
	for s, want := range map[string]bool{
		"+": true, "+47": true, "+4781": true, "+123456789012345": true,
		"": false, "47": false, "+1234567890123456": false, "+47 81": false, "++47": false, "+4a": false, "0047": false,
	} {
		if got := ValidRoute(s); got != want {
			t.Errorf("ValidRoute(%q) = %v, want %v", s, got, want)
		}
	}
	if !RouteMatches("+47", "+4722334455") || !RouteMatches("+", "+468123456") || RouteMatches("+46", "+4722334455") || RouteMatches("47", "4722") {
		t.Error("RouteMatches disagrees with prefix matching")
	}
}

func TestCanonicalPeer(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.10":           "192.0.2.10",
		" 198.51.100.0/24 ":    "198.51.100.0/24",
		"2001:DB8::1":          "2001:db8::1",
		"2001:db8:0::/48":      "2001:db8::/48",
		"::ffff:192.0.2.10":    "192.0.2.10",
		"::ffff:192.0.2.0/120": "192.0.2.0/24",
		"0.0.0.0/0":            "0.0.0.0/0",
		"198.51.100.7/24":      "",
		"sbc.operator.no":      "",
		"192.0.2.300":          "",
		"fe80::1%eth0":         "",
		"::ffff:0.0.0.0/90":    "",
		"":                     "",
	} {
		got, err := CanonicalPeer(in)
		if want == "" {
			if err == nil {
				t.Errorf("CanonicalPeer(%q) = %q, want a refusal", in, got)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("CanonicalPeer(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if p, ok := PeerPrefix("192.0.2.10"); !ok || p != netip.MustParsePrefix("192.0.2.10/32") {
		t.Errorf("PeerPrefix(192.0.2.10) = %v, %v", p, ok)
	}
}

func TestPrefixConflicts(t *testing.T) {
	ext := func(a, b string) NumberRange { return NumberRange{Kind: RangeExtension, First: a, Last: b} }
	for _, c := range []struct {
		prefix string
		r      NumberRange
		want   bool
	}{
		{"0", ext("0100", "0199"), true},
		{"0", ext("2000", "2999"), false},
		{"9", ext("2000", "2999"), false},
		{"20", ext("1950", "2050"), true},
		{"200", ext("20", "29"), true},
		{"300", ext("20", "29"), false},
		{"", ext("0100", "0199"), false},
		{"0", NumberRange{Kind: RangeDID, First: "+4755550000", Last: "+4755550999"}, false},
	} {
		if got := PrefixConflicts(c.prefix, c.r); got != c.want {
			t.Errorf("PrefixConflicts(%q, %s) = %v, want %v", c.prefix, c.r, got, c.want)
		}
	}
	for p, want := range map[string]bool{"": true, "0": true, "9999": true, "00000": false, "0a": false, " 0": false} {
		if got := ValidOutsidePrefix(p); got != want {
			t.Errorf("ValidOutsidePrefix(%q) = %v, want %v", p, got, want)
		}
	}
}

func TestDeviceCredentialHelpers(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		s, err := NewDeviceSecret()
		if err != nil {
			t.Fatal(err)
		}
		if len(s) != DeviceSecretLength || !ValidSecret(s) || strings.ContainsAny(s, "0O1lI") || seen[s] {
			t.Fatalf("NewDeviceSecret() = %q", s)
		}
		seen[s] = true
	}
	if u := DefaultAuthUser("001565aabbcc"); u != "ph001565aabbcc" || !ValidAuthUser(u) {
		t.Errorf("DefaultAuthUser = %q", u)
	}
	for u, want := range map[string]bool{"resepsjon-1": true, "a.b_c": true, "ab": false, "2001": false, "Ph1234": false, "ph 1": false} {
		if got := ValidAuthUser(u); got != want {
			t.Errorf("ValidAuthUser(%q) = %v, want %v", u, got, want)
		}
	}
}

// FuzzCanonicalPeer: whatever is accepted is canonical (a second pass
// changes nothing) and reads back as a network.
func FuzzCanonicalPeer(f *testing.F) {
	for _, s := range []string{"192.0.2.10", "198.51.100.0/24", "2001:db8::/32", "::ffff:192.0.2.1", "1.2.3.4/33", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := CanonicalPeer(s)
		if err != nil {
			return
		}
		again, err := CanonicalPeer(c)
		if err != nil || again != c {
			t.Fatalf("CanonicalPeer(%q) = %q, then %q, %v", s, c, again, err)
		}
		if _, ok := PeerPrefix(c); !ok {
			t.Fatalf("PeerPrefix(%q) failed", c)
		}
	})
}
