package store

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"
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

func TestValidateForwardTarget(t *testing.T) {
	for _, c := range []struct {
		target    string
		ext, grp  bool // valid for an extension, for a group
		wantField string
	}{
		{"", true, true, ""},
		{"voicemail", true, false, ""},
		{"voicemail:2001", true, true, ""},
		{"voicemail:12345678", true, true, ""},
		{"voicemail:123456789", false, false, ""},
		{"voicemail:2", false, false, ""},
		{"voicemail:", false, false, ""},
		{"voicemail:+4791234567", false, false, ""},
		{"Voicemail", false, false, ""},
		{"2001", true, true, ""},
		{"20", true, true, ""},
		{"+1", true, true, ""},
		{"+4791234567", true, true, ""},
		{"12345678901234567890", true, true, ""},
		{"123456789012345678901", false, false, ""},
		{"2", false, false, ""},
		{"+", false, false, ""},
		{"++4791234567", false, false, ""},
		{"2001 ", false, false, ""},
		{"91 23 45 67", false, false, ""},
		{"sip:2001@example.no", false, false, ""},
	} {
		for _, group := range []bool{false, true} {
			want := c.ext
			field := "forward"
			if group {
				want, field = c.grp, "overflow"
			}
			err := ValidateForwardTarget(c.target, group)
			if (err == nil) != want {
				t.Errorf("ValidateForwardTarget(%q, group %v) = %v, want valid %v", c.target, group, err, want)
				continue
			}
			if err == nil {
				continue
			}
			var fe *FieldError
			if !errors.As(err, &fe) || !errors.Is(err, ErrInvalid) || fe.Field != field || fe.Value != c.target || fe.Reason == "" {
				t.Errorf("ValidateForwardTarget(%q, group %v) = %#v, want an ErrInvalid *FieldError on %s with a reason", c.target, group, err, field)
			}
		}
	}
}

func TestNoAnswerAfter(t *testing.T) {
	for secs, want := range map[int]time.Duration{0: 20 * time.Second, 5: 5 * time.Second, 180: 3 * time.Minute} {
		if got := (Extension{NoAnswerSeconds: secs}).NoAnswerAfter(); got != want {
			t.Errorf("NoAnswerAfter with %d seconds = %s, want %s", secs, got, want)
		}
	}
	if got := (Extension{}).PromptLanguage(); got != "nb" {
		t.Errorf("PromptLanguage default = %q, want nb", got)
	}
	if got := (Extension{Language: "en"}).PromptLanguage(); got != "en" {
		t.Errorf("PromptLanguage en = %q", got)
	}
	for l, want := range map[string]bool{"": true, "nb": true, "en": true, "nn": false, "NB": false, "no": false} {
		if ValidLanguage(l) != want {
			t.Errorf("ValidLanguage(%q) = %v, want %v", l, !want, want)
		}
	}
}
