package proxy

import (
	"sync/atomic"

	"github.com/emiago/sipgo/sip"

	"github.com/sentralpbx/sentral/sip/routing"
	"github.com/sentralpbx/sentral/store"
)

// dispositions are the outcomes Outcomes reports, in store order.
var dispositions = [...]store.Disposition{store.DispositionAnswered, store.DispositionBusy, store.DispositionNoAnswer,
	store.DispositionFailed, store.DispositionCancelled}

// outcomeCounts counts call attempts by final outcome, one slot per
// dispositions entry.
type outcomeCounts [len(dispositions)]atomic.Uint64

// add counts one attempt; an unknown disposition counts as failed.
func (c *outcomeCounts) add(d store.Disposition) {
	for i, k := range dispositions {
		if d == k {
			c[i].Add(1)
			return
		}
	}
	c.add(store.DispositionFailed)
}

func (c *outcomeCounts) snapshot() map[string]uint64 {
	out := make(map[string]uint64, len(c))
	for i, k := range dispositions {
		out[string(k)] = c[i].Load()
	}
	return out
}

// countOutcome counts a call attempt's final outcome: an INVITE starting
// a call that routing gave a direction, which is what gets a call record
// (whether or not a recorder is configured).
func (p *Proxy) countOutcome(req *sip.Request, d routing.Decision, o store.Disposition) {
	if d.Direction == "" || !req.IsInvite() {
		return
	}
	p.outcomes.add(o)
}

// Outcomes is how many call attempts ended with each outcome since the
// proxy was made, keyed by store.Disposition (every one present): answered
// when a branch answered (counted at the answer), else busy, no-answer,
// failed or cancelled when the caller got its final response, including
// calls routing refused (unknown number, class of service, nobody
// registered). Authentication challenges and in-dialog requests are not
// attempts.
func (p *Proxy) Outcomes() map[string]uint64 { return p.outcomes.snapshot() }

// Draining reports whether Drain was called: new calls are refused.
func (p *Proxy) Draining() bool { return p.draining.Load() }
