package billing

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/sentralpbx/sentral/sip/dialplan"
	"github.com/sentralpbx/sentral/store"
)

// Rating is the outcome of rating one call.
type Rating struct {
	// Class is the tariff class used (see Classes); "" only for an
	// unanswered outbound call to a number that does not classify.
	Class string
	// Zone is the international zone whose rate was used, "" for none.
	Zone string
	// Band is the band whose override was used, "" for the default rate.
	Band     string
	PriceOre int64
}

// Errors the rater counts with errors.Is.
var (
	// ErrNotClosed: the call is still in progress (or its node died and
	// CloseOrphans has not run yet); it is rated when it is closed.
	ErrNotClosed = errors.New("call record is not closed")
	// ErrUnknownNumber: an answered outbound call to a number that does
	// not classify; someone must look at it rather than bill it as 0.
	ErrUnknownNumber = errors.New("number does not classify")
	// ErrUnknownDirection: a direction this version does not know.
	ErrUnknownDirection = errors.New("unknown call direction")
	// ErrNoRate: the tariff has no rate for the class (only possible for
	// a Tariff that was never validated) or the price overflows.
	ErrNoRate = errors.New("no usable rate")
)

// Rate prices one call record. The rules, in docs/billing.md:
//   - only closed records are rated (ErrNotClosed otherwise);
//   - internal, inbound and emergency calls are free, whatever the tariff;
//   - a call costs nothing, connection fee included, unless it has an
//     answer time and BillableSeconds > 0;
//   - outbound calls are classified from Normalised (or Callee when empty)
//     with dialplan.Classify; international numbers take the zone with the
//     longest matching prefix, or the international class;
//   - the band is decided by the answer time in Europe/Oslo, and the whole
//     call is priced in that band;
//   - per second: connect + seconds × price; per minute: connect + started
//     minutes × price; the sum is in 1/100 øre and is rounded half up to
//     whole øre once.
func (t *Tariff) Rate(c store.CDR) (Rating, error) {
	if c.State != store.CDRClosed {
		return Rating{}, fmt.Errorf("rate call %d: %w", c.ID, ErrNotClosed)
	}
	answered := c.AnswerTime != nil && c.BillableSeconds > 0
	var r Rating
	switch c.Direction {
	case store.DirectionInternal:
		return Rating{Class: ClassInternal}, nil
	case store.DirectionInbound:
		return Rating{Class: ClassInbound}, nil
	case store.DirectionEmergency:
		return Rating{Class: ClassEmergency}, nil
	case store.DirectionOutbound:
		number := c.Normalised
		if number == "" {
			number = c.Callee
		}
		n, err := dialplan.Classify(dialplan.Plan{}, number)
		if err != nil {
			if !answered {
				// A misdialled number that never connected costs
				// nothing; it is not worth an admin's attention.
				return Rating{}, nil
			}
			return Rating{}, fmt.Errorf("rate call %d to %q: %w: %w", c.ID, number, ErrUnknownNumber, err)
		}
		r.Class = n.Kind.String()
		if n.Kind == dialplan.International {
			r.Zone = t.zoneOf(n.Normalised)
		}
	default:
		return Rating{}, fmt.Errorf("rate call %d: %w %q", c.ID, ErrUnknownDirection, c.Direction)
	}
	if alwaysFree(r.Class) || !answered {
		return r, nil
	}
	rate, ok := t.rateFor(r.Class, r.Zone)
	if !ok {
		if defaultFree(r.Class) {
			return r, nil
		}
		return Rating{}, fmt.Errorf("rate call %d: class %s: %w", c.ID, r.Class, ErrNoRate)
	}
	local, err := OsloTime(*c.AnswerTime)
	if err != nil {
		return Rating{}, fmt.Errorf("rate call %d: %w", c.ID, err)
	}
	connect, price, per, band := t.effective(rate, local)
	r.Band = band
	total, ok := charge(connect, price, per, c.BillableSeconds)
	if !ok {
		return Rating{}, fmt.Errorf("rate call %d: %d seconds at %s NOK per %s: %w (overflow)", c.ID, c.BillableSeconds, price.NOK(), per, ErrNoRate)
	}
	r.PriceOre = total.Ore()
	return r, nil
}

// rateFor finds the rate of a class, or of an international zone.
func (t *Tariff) rateFor(class, zone string) (Rate, bool) {
	if zone != "" {
		for _, z := range t.Zones {
			if z.Name == zone {
				return z.Rate, true
			}
		}
	}
	r, ok := t.Rates[class]
	return r, ok
}

// zoneOf returns the zone with the longest prefix of the E.164 number.
// Validation keeps prefixes unique, so there are no ties.
func (t *Tariff) zoneOf(e164 string) string {
	best, bestLen := "", 0
	for _, z := range t.Zones {
		for _, p := range z.Prefixes {
			if len(p) > bestLen && strings.HasPrefix(e164, p) {
				best, bestLen = z.Name, len(p)
			}
		}
	}
	return best
}

// effective applies the first band override whose band contains the
// Oslo answer time; fields the override leaves out keep the default.
func (t *Tariff) effective(r Rate, local time.Time) (connect, price Amount, per Unit, band string) {
	connect, price, per = r.Connect, r.Price, r.Per
	for _, o := range r.Bands {
		b, ok := t.band(o.Band)
		if !ok || !b.Contains(local) {
			continue
		}
		if o.Connect != nil {
			connect = *o.Connect
		}
		if o.Price != nil {
			price = *o.Price
		}
		if o.Per != "" {
			per = o.Per
		}
		return connect, price, per, o.Band
	}
	return connect, price, per, ""
}

func (t *Tariff) band(name string) (Band, bool) {
	for _, b := range t.Bands {
		if b.Name == name {
			return b, true
		}
	}
	return Band{}, false
}

// maxBillableSeconds is far beyond any real call (about 3 years) and keeps
// the started-minute arithmetic below from overflowing.
const maxBillableSeconds = 100_000_000

// charge computes connect + units × price in 1/100 øre; ok is false on
// overflow or an unknown unit, which validation rules out for sane input.
func charge(connect, price Amount, per Unit, seconds int64) (Amount, bool) {
	if seconds < 0 || seconds > maxBillableSeconds {
		return 0, false
	}
	var units int64
	switch per {
	case PerSecond:
		units = seconds
	case PerMinute:
		// Every started minute is charged in full: 61 s is 2 minutes.
		units = (seconds + 59) / 60
	default:
		if price == 0 {
			return connect, true
		}
		return 0, false
	}
	if price != 0 && units > (math.MaxInt64-int64(connect))/int64(price) {
		return 0, false
	}
	return connect + Amount(units)*price, true
}
