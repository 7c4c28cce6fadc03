package routing

import (
	"regexp"
	"testing"
)

var e164 = regexp.MustCompile(`^\+[0-9]{3,15}$`)

// FuzzInboundNumber: what an operator sends in a request-URI or To user
// becomes an E.164 number or nothing, and an E.164 number stays itself.
func FuzzInboundNumber(f *testing.F) {
	for _, s := range []string{"+4755550101", "004755550101", "4755550101", "55550101", "sentral-trunk", "+47;user=phone", "", "+", "00", "+4755550101;x=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, user string) {
		n := inboundNumber(user)
		if n == "" {
			return
		}
		if !e164.MatchString(n) {
			t.Fatalf("inboundNumber(%q) = %q: not E.164", user, n)
		}
		if again := inboundNumber(n); again != n {
			t.Fatalf("inboundNumber(%q) = %q, but of that %q", user, n, again)
		}
	})
}
