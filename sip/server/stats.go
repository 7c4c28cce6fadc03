package server

import (
	"sync/atomic"

	"github.com/emiago/sipgo/sip"
)

// countedMethods are the methods Requests reports by name; every other
// method is counted as "other", so a flood of made-up methods cannot grow
// the set of series.
var countedMethods = [...]sip.RequestMethod{sip.INVITE, sip.ACK, sip.BYE, sip.CANCEL, sip.REGISTER, sip.OPTIONS,
	sip.SUBSCRIBE, sip.NOTIFY, sip.PUBLISH, sip.INFO, sip.UPDATE, sip.REFER, sip.PRACK, sip.MESSAGE}

// otherMethod is the Requests key of the methods not in countedMethods.
const otherMethod = "other"

// requestCounts counts requests received per method: one slot per
// countedMethods entry, then one for the rest.
type requestCounts [len(countedMethods) + 1]atomic.Uint64

func (c *requestCounts) add(m sip.RequestMethod) {
	for i, cm := range countedMethods {
		if m == cm {
			c[i].Add(1)
			return
		}
	}
	c[len(countedMethods)].Add(1)
}

// Requests is how many requests reached the server's dispatch since it
// was made, by method (every counted method is present, zero or not; the
// rest under "other"). Requests that sources the guard refuses are
// counted too, and retransmissions that reach a handler: over UDP the
// stateless fast path (REGISTER) sees every retransmission, while sipgo's
// transactions absorb those of the other methods.
func (s *Server) Requests() map[string]uint64 {
	out := make(map[string]uint64, len(s.reqs))
	for i, m := range countedMethods {
		out[string(m)] = s.reqs[i].Load()
	}
	out[otherMethod] = s.reqs[len(countedMethods)].Load()
	return out
}
