package presence

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Subscription-State reasons (RFC 6665 §4.1.3) that Remove is given.
const (
	ReasonTimeout     = "timeout"     // expired, or the subscriber unsubscribed
	ReasonDeactivated = "deactivated" // we ended it; the subscriber may re-subscribe at once
	ReasonNoResource  = "noresource"  // the mailbox is gone
	ReasonRejected    = "rejected"    // policy no longer allows it
	ReasonGiveUp      = "giveup"      // we stop trying; the subscriber may retry later
)

// Default expiry bounds. RFC 3842 §4 sets the default duration of a
// message-summary subscription to an hour; the minimum keeps a phone from
// making us notify it every few seconds, and the maximum bounds how long a
// subscription of a phone that vanished lingers when no NOTIFY fails.
const (
	DefaultMinExpires = 60 * time.Second
	DefaultExpires    = time.Hour
	DefaultMaxExpires = 2 * time.Hour
)

// NoExpires is what Add and Refresh take when the SUBSCRIBE carried no
// Expires header: the registry's default applies.
const NoExpires time.Duration = -1

// ErrNoSubscription reports a refresh or removal of a subscription the
// registry does not hold; a SUBSCRIBE handler answers it with 481.
var ErrNoSubscription = errors.New("presence: no such subscription")

// IntervalTooBriefError refuses an expiry below the minimum; a SUBSCRIBE
// handler answers it with 423 Interval Too Brief and Min-Expires.
type IntervalTooBriefError struct {
	Requested, MinExpires time.Duration
}

// Error says what was asked and what the minimum is.
func (e *IntervalTooBriefError) Error() string {
	return fmt.Sprintf("presence: expires %s below the minimum %s", e.Requested, e.MinExpires)
}

// MinExpiresHeader returns the Min-Expires header for the 423 response.
func (e *IntervalTooBriefError) MinExpiresHeader() sip.Header {
	return sip.NewHeader("Min-Expires", strconv.Itoa(seconds(e.MinExpires)))
}

// Key names a mailbox: the subscriptions of one tenant's mailbox number.
type Key struct {
	Tenant  int64
	Mailbox string
}

// DialogID identifies a subscription: the SUBSCRIBE's dialog and the Event
// header's id parameter (RFC 6665 §4.1.2). FromTag is the subscriber's tag,
// ToTag the one we put in our 2xx.
type DialogID struct {
	CallID, FromTag, ToTag, EventID string
}

// Subscription is what a message-summary subscription needs to be
// notified: the dialog as the SUBSCRIBE and our 2xx made it, and where the
// SUBSCRIBE came from. FromSubscribe fills it from a request.
type Subscription struct {
	Key
	DialogID
	Subscriber sip.Uri   // the SUBSCRIBE's From address: the NOTIFY's To
	Resource   sip.Uri   // the SUBSCRIBE's To address: the NOTIFY's From
	Target     sip.Uri   // the SUBSCRIBE's Contact: the NOTIFY's request-URI
	RouteSet   []sip.Uri // the SUBSCRIBE's Record-Route, in order (RFC 3261 §12.1.1)
	Contact    sip.Uri   // our Contact in the 2xx; zero to leave it out of NOTIFY
	// Transport and Source are where the SUBSCRIBE came from (e.g. "UDP",
	// "203.0.113.7:5060"). NOTIFY goes back there: behind NAT and for
	// browsers with .invalid Contact hosts the Contact is unreachable.
	Transport, Source string
}

// Notice is what the NOTIFY sender needs for one NOTIFY: the subscription,
// the CSeq to use and the Subscription-State value.
type Notice struct {
	Subscription
	CSeq  uint32
	State string // Subscription-State, e.g. "active;expires=3600", "terminated;reason=timeout"
	// Expires is what remains of the subscription (zero once terminated):
	// after Add or Refresh, the value for the 2xx's Expires header.
	Expires time.Duration
}

// Terminated reports whether the NOTIFY ends the subscription.
func (n Notice) Terminated() bool { return strings.HasPrefix(n.State, "terminated") }

// Option configures a Subscriptions registry.
type Option func(*Subscriptions)

// WithExpiryBounds sets the minimum, default and maximum subscription
// duration; a zero value keeps its default. The default is clamped into
// [min, max].
func WithExpiryBounds(minimum, def, maximum time.Duration) Option {
	return func(s *Subscriptions) {
		if minimum > 0 {
			s.min = minimum
		}
		if def > 0 {
			s.def = def
		}
		if maximum > 0 {
			s.max = maximum
		}
	}
}

// Subscriptions holds the message-summary subscriptions of every mailbox.
// It is safe for concurrent use, runs no goroutines and reads no clock: the
// caller passes now, so expiry is driven and tested from outside.
type Subscriptions struct {
	min, def, max time.Duration

	mu     sync.Mutex
	byID   map[DialogID]*entry
	byKey  map[Key]map[DialogID]*entry
	serial uint64 // orders For's answer by age
}

type entry struct {
	sub     Subscription
	expires time.Time
	cseq    uint32 // of the last NOTIFY handed out
	serial  uint64
}

// NewSubscriptions returns an empty registry.
func NewSubscriptions(opts ...Option) *Subscriptions {
	s := &Subscriptions{min: DefaultMinExpires, def: DefaultExpires, max: DefaultMaxExpires,
		byID: map[DialogID]*entry{}, byKey: map[Key]map[DialogID]*entry{}}
	for _, o := range opts {
		o(s)
	}
	if s.max < s.min {
		s.max = s.min
	}
	s.def = min(max(s.def, s.min), s.max)
	return s
}

// MinExpires returns the shortest duration the registry grants.
func (s *Subscriptions) MinExpires() time.Duration { return s.min }

// grant decides the duration for a requested one: the default when none
// was asked, the maximum when more was, a 423 when less than the minimum.
// Zero stays zero: a fetch or an unsubscribe (RFC 6665 §4.2.1.4).
func (s *Subscriptions) grant(requested time.Duration) (time.Duration, error) {
	switch {
	case requested < 0:
		return s.def, nil
	case requested == 0:
		return 0, nil
	case requested < s.min:
		return 0, &IntervalTooBriefError{Requested: requested, MinExpires: s.min}
	default:
		return min(requested, s.max), nil
	}
}

// Add records a new subscription from an initial SUBSCRIBE asking for
// expires (NoExpires when it had no Expires header) and returns the notice
// for the NOTIFY that must follow the 2xx at once (RFC 6665 §4.2.1.1).
// Expires 0 is a fetch: nothing is stored and the notice terminates. A
// SUBSCRIBE repeating a held dialog replaces it, keeping its CSeq.
func (s *Subscriptions) Add(sub Subscription, expires time.Duration, now time.Time) (Notice, error) {
	if sub.CallID == "" || sub.FromTag == "" || sub.ToTag == "" {
		return Notice{}, errors.New("presence: subscription without Call-ID, From tag or To tag")
	}
	granted, err := s.grant(expires)
	if err != nil {
		return Notice{}, err
	}
	sub = cloneSubscription(sub)
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.byID[sub.DialogID]
	if e == nil {
		s.serial++
		e = &entry{serial: s.serial}
	} else if e.sub.Key != sub.Key {
		s.unlink(e)
	}
	e.sub = sub
	if granted == 0 {
		s.unlink(e)
		return e.notice(terminated(ReasonTimeout), 0), nil
	}
	e.expires = now.Add(granted)
	s.link(e)
	return e.notice(active(granted), granted), nil
}

// Refresh extends the subscription id by expires (NoExpires for the
// default) and returns the notice for the NOTIFY a refresh triggers
// (RFC 6665 §4.2.1.2). Expires 0 unsubscribes: the subscription is removed
// and the notice terminates it with reason timeout. Unknown or already
// expired subscriptions give ErrNoSubscription.
func (s *Subscriptions) Refresh(id DialogID, expires time.Duration, now time.Time) (Notice, error) {
	granted, err := s.grant(expires)
	if err != nil {
		return Notice{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.byID[id]
	if e == nil || !now.Before(e.expires) {
		return Notice{}, ErrNoSubscription
	}
	if granted == 0 {
		s.unlink(e)
		return e.notice(terminated(ReasonTimeout), 0), nil
	}
	e.expires = now.Add(granted)
	return e.notice(active(granted), granted), nil
}

// Remove ends the subscription id for reason (one of the Reason constants)
// and returns the notice for the terminating NOTIFY. After a NOTIFY failed
// with 481 or a timeout, remove it and send nothing.
func (s *Subscriptions) Remove(id DialogID, reason string) (Notice, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.byID[id]
	if e == nil {
		return Notice{}, ErrNoSubscription
	}
	s.unlink(e)
	return e.notice(terminated(reason), 0), nil
}

// Expire removes every subscription that has expired by now and returns
// the notices for their terminating NOTIFYs (reason timeout, RFC 6665
// §4.2.2), oldest first.
func (s *Subscriptions) Expire(now time.Time) []Notice {
	s.mu.Lock()
	defer s.mu.Unlock()
	var gone []*entry
	for _, e := range s.byID {
		if !now.Before(e.expires) {
			gone = append(gone, e)
		}
	}
	sortEntries(gone)
	out := make([]Notice, 0, len(gone))
	for _, e := range gone {
		s.unlink(e)
		out = append(out, e.notice(terminated(ReasonTimeout), 0))
	}
	return out
}

// For returns the notices for notifying every live subscription to the
// mailbox of tenant, oldest first, e.g. after a message arrived. Each
// takes the dialog's next CSeq, so send every notice returned. Expired
// subscriptions not yet swept by Expire are left out.
func (s *Subscriptions) For(tenant int64, mailbox string, now time.Time) []Notice {
	s.mu.Lock()
	defer s.mu.Unlock()
	var live []*entry
	for _, e := range s.byKey[Key{tenant, mailbox}] {
		if now.Before(e.expires) {
			live = append(live, e)
		}
	}
	sortEntries(live)
	out := make([]Notice, 0, len(live))
	for _, e := range live {
		left := e.expires.Sub(now)
		out = append(out, e.notice(active(left), left))
	}
	return out
}

// Len returns how many subscriptions the registry holds, expired or not.
func (s *Subscriptions) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byID)
}

func (s *Subscriptions) link(e *entry) {
	s.byID[e.sub.DialogID] = e
	m := s.byKey[e.sub.Key]
	if m == nil {
		m = map[DialogID]*entry{}
		s.byKey[e.sub.Key] = m
	}
	m[e.sub.DialogID] = e
}

func (s *Subscriptions) unlink(e *entry) {
	delete(s.byID, e.sub.DialogID)
	if m := s.byKey[e.sub.Key]; m != nil {
		delete(m, e.sub.DialogID)
		if len(m) == 0 {
			delete(s.byKey, e.sub.Key)
		}
	}
}

// notice takes the next CSeq of e's dialog and describes the NOTIFY. The
// copy it returns shares nothing with the registry.
func (e *entry) notice(state string, left time.Duration) Notice {
	e.cseq++
	return Notice{Subscription: cloneSubscription(e.sub), CSeq: e.cseq, State: state, Expires: left}
}

func sortEntries(es []*entry) {
	slices.SortFunc(es, func(a, b *entry) int { return cmp.Compare(a.serial, b.serial) })
}

func active(left time.Duration) string {
	return "active;expires=" + strconv.Itoa(seconds(left))
}

func terminated(reason string) string {
	if reason == "" {
		return "terminated"
	}
	return "terminated;reason=" + reason
}

// seconds rounds up, so a subscription with 0.4 s left is not announced as
// already expired.
func seconds(d time.Duration) int {
	return int((d + time.Second - 1) / time.Second)
}

func cloneSubscription(s Subscription) Subscription {
	s.Subscriber = *s.Subscriber.Clone()
	s.Resource = *s.Resource.Clone()
	s.Target = *s.Target.Clone()
	s.Contact = *s.Contact.Clone()
	if s.RouteSet != nil {
		rs := make([]sip.Uri, len(s.RouteSet))
		for i := range s.RouteSet {
			rs[i] = *s.RouteSet[i].Clone()
		}
		s.RouteSet = rs
	}
	return s
}
