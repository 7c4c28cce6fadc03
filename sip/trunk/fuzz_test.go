package trunk

import (
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzParseRetryAfter checks the delta-seconds readers used for
// Retry-After, Expires, Min-Expires and the Contact expires parameter:
// no panic, never negative, saturation at 2^32-1 s, and agreement with
// strconv on plain numbers. Seeds are in testdata/fuzz.
func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"120", "18000;duration=3600", "120 (maintenance)", "", " 7 ", "99999999999999999999", "-1", "1e3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := parseRetryAfter(s)
		if !ok {
			if d != 0 {
				t.Fatalf("parseRetryAfter(%q) = %s with ok=false", s, d)
			}
			return
		}
		if d < 0 || d > math.MaxUint32*time.Second || d%time.Second != 0 {
			t.Fatalf("parseRetryAfter(%q) = %s out of range", s, d)
		}
		// The delta is the leading token; what follows cannot change it.
		lead := strings.TrimSpace(s)
		if i := strings.IndexAny(lead, "(; \t"); i >= 0 {
			lead = lead[:i]
		}
		d2, ok2 := parseDeltaSeconds(lead)
		if !ok2 || d2 != d {
			t.Fatalf("parseRetryAfter(%q) = %s but its delta %q reads %s, %v", s, d, lead, d2, ok2)
		}
		if n, err := strconv.ParseUint(lead, 10, 64); err == nil && n <= math.MaxUint32 && time.Duration(n)*time.Second != d {
			t.Fatalf("parseRetryAfter(%q) = %s, strconv says %d s", s, d, n)
		}
	})
}
