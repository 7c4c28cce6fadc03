package trunk

import (
	"math"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
)

// refreshMargin is how long before expiry a long registration is renewed:
// enough for a REGISTER, its challenge and one retransmission round of
// Timer E on a lossy path to complete before the binding lapses.
const refreshMargin = 30 * time.Second

// maxRetryAfter bounds the operator's Retry-After: honouring a typo of
// "86400" would keep the trunk down for a day.
const maxRetryAfter = time.Hour

// maxDelta is the largest delta-seconds RFC 3261 §20.19 lets us keep:
// larger values mean 2^32-1.
const maxDelta = math.MaxUint32

// refreshAfter is how long after a successful REGISTER the next one goes
// out, for a binding the registrar granted for granted. The earlier of 80%
// of the expiry and expiry-30 s, except that short expiries (under a
// minute, where expiry-30 s would come before half-time) refresh at half
// their life; never sooner than floor, so a registrar granting a few
// seconds cannot make us send a REGISTER in a tight loop.
func refreshAfter(granted, floor time.Duration) time.Duration {
	r := min(granted/5*4, max(granted-refreshMargin, granted/2))
	return max(r, floor)
}

// backoff is the wait before the next attempt after n failures in a row
// (n >= 1): base doubling per failure, capped at limit, then shortened by
// up to a quarter by jitter (a draw in [0, 1)) so that trunks failing
// together (an operator outage) do not retry in lockstep. Jitter only ever
// shortens, so the cap holds.
func backoff(n int, base, limit time.Duration, jitter float64) time.Duration {
	if base <= 0 {
		return 0
	}
	d := base
	for i := 1; i < n && d < limit; i++ {
		if d > limit/2 {
			d = limit // doubling would pass the cap (or overflow)
			break
		}
		d *= 2
	}
	d = min(d, limit)
	jitter = min(max(jitter, 0), 1)
	return d - time.Duration(jitter*float64(d)/4)
}

// retryDelay combines the backoff with the registrar's Retry-After: the
// operator may ask for longer than our schedule, never for shorter.
func retryDelay(backoff, retryAfter time.Duration) time.Duration {
	return max(backoff, min(retryAfter, maxRetryAfter))
}

// parseDeltaSeconds reads delta-seconds (1*DIGIT, RFC 3261 §25.1) with
// surrounding whitespace; values beyond 2^32-1 saturate there (§20.19).
func parseDeltaSeconds(s string) (time.Duration, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if n <= maxDelta {
			n = n*10 + uint64(c-'0')
		}
	}
	n = min(n, maxDelta)
	return time.Duration(n) * time.Second, true
}

// parseRetryAfter reads a Retry-After value (RFC 3261 §20.33):
// delta-seconds, then an optional comment and ;params, which are ignored.
func parseRetryAfter(s string) (time.Duration, bool) {
	s = strings.TrimSpace(s)
	end := strings.IndexAny(s, "(; \t")
	if end >= 0 {
		s = s[:end]
	}
	return parseDeltaSeconds(s)
}

// grantedExpiry is how long the registrar keeps our binding, from a 2xx
// to a REGISTER for contact: the expires parameter of our Contact in the
// response (RFC 3261 §10.2.4), else of the only Contact when the
// registrar rewrote ours (NAT fix-ups), else the Expires header, else
// what we asked for.
func grantedExpiry(res *sip.Response, contact sip.Uri, requested time.Duration) time.Duration {
	var contacts []*sip.ContactHeader
	for _, h := range res.GetHeaders("Contact") {
		if c, ok := h.(*sip.ContactHeader); ok {
			contacts = append(contacts, c)
		}
	}
	for _, c := range contacts {
		if sameContact(c.Address, contact) {
			if d, ok := contactExpires(c); ok {
				return d
			}
		}
	}
	if len(contacts) == 1 {
		if d, ok := contactExpires(contacts[0]); ok {
			return d
		}
	}
	if h := res.GetHeader("Expires"); h != nil {
		if d, ok := parseDeltaSeconds(h.Value()); ok {
			return d
		}
	}
	return requested
}

func contactExpires(c *sip.ContactHeader) (time.Duration, bool) {
	for _, kv := range c.Params {
		if strings.EqualFold(kv.K, "expires") {
			return parseDeltaSeconds(strings.Trim(kv.V, `"`))
		}
	}
	return 0, false
}

// sameContact compares the parts of a Contact URI a registrar keeps
// (RFC 3261 §19.1.4 in spirit: scheme, user, host, port).
func sameContact(a, b sip.Uri) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && a.User == b.User &&
		strings.EqualFold(a.Host, b.Host) && a.Port == b.Port
}
