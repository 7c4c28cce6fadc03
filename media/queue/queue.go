// Package queue is the switchboard engine behind the operators' web
// console (docs/console-api.md): calls to a tenant's switchboard number
// wait in a queue with hold music and position announcements, and
// operators answer, hold, transfer (blind and announced), park, send to
// voicemail and hang up.
//
// # Ownership
//
// Each call is owned by one goroutine, the one running Serve on the
// caller's leg (or, for a call-back, one started by DialOut). Operator
// actions are requests sent to that goroutine, which checks them against
// the call's state, answers at once and then does the slow media work
// (dialling, bridging, music) in child goroutines it starts, cancels and
// waits for. So two operators answering the same call are ordered by the
// call itself: one gets the call, the other ErrConflict. What the console
// shows (Snapshot) is a copy the owners keep under one mutex.
//
// # Night service
//
// A new call overflows to the tenant's night target when the switchboard
// is closed by its hours or when no operator is available (logged in to
// the queue). Calls already waiting when the last operator logs out stay
// in the queue, hearing music: the operator who logs out may still be
// finishing a call, and a caller who has waited should not be thrown out
// to voicemail. They are visible in every console and can be answered by
// any operator, available or not.
//
// # Media
//
// The engine needs three things of the media server (Media: dial, bridge,
// voicemail) and of a call leg (Leg); both are small interfaces declared
// here and adapted to media/mediaserver by the wiring.
package queue

import (
	"context"
	"errors"
	"sort"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Leg is one call leg (in production a *mediaserver.Session).
type Leg interface {
	CallID() string
	// Caller returns the remote party's number ("" when withheld) and name.
	Caller() (number, display string)
	// Play plays paced 8 kHz audio; it returns an error when the leg has
	// ended or ctx is done.
	Play(ctx context.Context, samples []int16, interruptible bool) (rune, error)
	// Done is closed when the leg's call has ended.
	Done() <-chan struct{}
	// Hangup ends the leg; it may be called more than once.
	Hangup()
}

// ConsoleHeader marks the calls the engine places to an operator's own
// extension (answering, retrieving, calling back); its value is the
// call's id. The console page answers such calls by itself.
const ConsoleHeader = "X-Sentral-Console"

// Media is what the engine needs of the media server.
type Media interface {
	// Dial calls number (what a phone of the tenant would dial) from the
	// media server, presenting from/fromName, and returns the answered
	// leg, or an error when not answered within ring, busy or failed.
	Dial(ctx context.Context, tenantID int64, number, from, fromName string, ring time.Duration, headers map[string]string) (Leg, error)
	// Bridge relays audio between a and b until ctx ends (nil, nil) or
	// one leg ends (that leg).
	Bridge(ctx context.Context, a, b Leg) (ended Leg, err error)
	// Voicemail runs the voicemail deposit for mailbox on the caller's
	// leg and returns when done.
	Voicemail(ctx context.Context, caller Leg, tenantID int64, mailbox string) error
}

// Config is a tenant's switchboard configuration.
type Config struct {
	// Hours are the opening hours; the zero value is always open.
	Hours Hours
	// NightTarget takes calls when the switchboard is closed or no
	// operator is available: "" (a closed message, then hang up),
	// "voicemail:MAILBOX", or a number to dial.
	NightTarget string
	// Domain is the tenant's SIP domain (for the wiring; unused here).
	Domain string
	// Lang is the prompt language for callers ("nb", "en"; "" is nb).
	Lang string
	// Number is the switchboard's own number, presented to the called
	// party of a call-back (DialOut); "" presents the operator's extension.
	Number string
	// ParkSlots is how many parking slots the tenant has (0: DefaultParkSlots).
	ParkSlots int
}

// Settings looks up a tenant's switchboard; false when the tenant has none.
type Settings interface {
	Switchboard(tenantID int64) (Config, bool)
}

// Operator is a console user taking calls.
type Operator struct {
	Username  string
	Name      string
	Extension string // rung when the operator answers
}

// Errors of the actions; the console maps them to HTTP statuses. Returned
// errors wrap one of them with a reason for people.
var (
	ErrNotFound = errors.New("no such call")                                // 404
	ErrConflict = errors.New("the call is not in a state that allows this") // 409
	ErrInvalid  = errors.New("invalid request")                             // 400
)

// Defaults for the Switchboard's tunables.
const (
	DefaultAnnounceEvery = 30 * time.Second
	DefaultRingTime      = 30 * time.Second
	DefaultParkSlots     = 10
	// RecentMax is how many finished calls Snapshot keeps.
	RecentMax = 50
)

// Outcomes of a call in Recent.
const (
	OutcomeAnswered    = "answered"
	OutcomeTransferred = "transferred"
	OutcomeVoicemail   = "voicemail"
	OutcomeAbandoned   = "abandoned"
	OutcomeOverflow    = "overflow"
)

// Night-service reasons.
const (
	NightClosed     = "closed"      // outside the opening hours
	NightNoOperator = "no-operator" // nobody available
)

// Kinds of Change, named like the console's events.
const (
	KindQueue     = "queue"
	KindCalls     = "calls"
	KindParked    = "parked"
	KindOperators = "operators"
	KindNight     = "night"
	KindRecent    = "recent"
)

// Voicemail night targets are written "voicemail:MAILBOX".
const voicemailPrefix = "voicemail:"

// Switchboard is the queue engine for every tenant. Set the exported
// fields before the first call; Close stops it.
type Switchboard struct {
	// Now is the clock for opening hours and the times shown.
	Now func() time.Time
	// AnnounceEvery is how often a waiting caller hears the position.
	AnnounceEvery time.Duration
	// RingTime is how long an operator, transfer or consult target rings.
	RingTime time.Duration

	media    Media
	settings Settings
	names    func(tenantID int64, number string) (string, bool)
	log      *zap.Logger
	music    []int16 // hold music, one loop; read-only
	ring     []int16 // ring-back tone, one cycle; read-only

	// ctx is the engine's lifetime: it bounds call-backs and the night
	// watcher; wg counts them.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	tenants map[int64]*tenant
	seq     uint64 // call-back ids

	subMu sync.Mutex
	subs  map[*subscriber]struct{}
}

// tenant is one tenant's switchboard, guarded by Switchboard.mu.
type tenant struct {
	ops    map[string]*opInfo
	queue  []*call
	calls  map[string]*call // every call the switchboard holds, by id
	recent []RecentCall     // newest first
	night  Night            // as last published
	// nightKnown: night has been published once. Until then any state is
	// news: pages may have read the live state (Snapshot) before it.
	nightKnown bool
}

type opInfo struct {
	op        Operator
	available bool
}

// New returns a switchboard. names looks up the phone book's name for a
// number (nil: none). It starts a watcher that publishes night-service
// changes when the opening hours begin or end; Close stops it.
func New(media Media, settings Settings, names func(tenantID int64, number string) (string, bool), log *zap.Logger) *Switchboard {
	if log == nil {
		log = zap.NewNop()
	}
	if names == nil {
		names = func(int64, string) (string, bool) { return "", false }
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Switchboard{
		Now:           time.Now,
		AnnounceEvery: DefaultAnnounceEvery,
		RingTime:      DefaultRingTime,
		media:         media,
		settings:      settings,
		names:         names,
		log:           log,
		music:         holdMusic(),
		ring:          ringback(),
		ctx:           ctx,
		cancel:        cancel,
		tenants:       make(map[int64]*tenant),
		subs:          make(map[*subscriber]struct{}),
	}
	s.wg.Add(1)
	go s.watchNight(ctx)
	return s
}

// Close stops the night watcher and ends call-backs, and waits for them.
// Calls served by Serve end with their own contexts.
func (s *Switchboard) Close() {
	s.mu.Lock()
	s.cancel()
	s.mu.Unlock()
	s.wg.Wait()
}

// tenantLocked returns (creating) a tenant's state; s.mu must be held.
func (s *Switchboard) tenantLocked(id int64) *tenant {
	t := s.tenants[id]
	if t == nil {
		t = &tenant{ops: make(map[string]*opInfo), calls: make(map[string]*call)}
		s.tenants[id] = t
	}
	return t
}

func (s *Switchboard) name(tenantID int64, number string) string {
	if number == "" {
		return ""
	}
	if n, ok := s.names(tenantID, number); ok {
		return n
	}
	return ""
}

// SetAvailable logs an operator in to (true) or out of the queue. With
// nobody available new calls get the night service; calls already
// waiting stay (see the package comment).
func (s *Switchboard) SetAvailable(tenantID int64, op Operator, available bool) {
	if op.Username == "" {
		return
	}
	s.mu.Lock()
	t := s.tenantLocked(tenantID)
	o := t.ops[op.Username]
	if o == nil {
		o = &opInfo{}
		t.ops[op.Username] = o
	}
	o.op, o.available = op, available
	s.mu.Unlock()
	s.publish(tenantID, KindOperators)
	s.checkNight(tenantID)
}

// night works out the night service for a tenant.
func (s *Switchboard) night(tenantID int64, cfg Config) Night {
	n := Night{Target: cfg.NightTarget}
	switch {
	case !cfg.Hours.Open(s.Now()):
		n.Active, n.Reason = true, NightClosed
	case !s.anyAvailable(tenantID):
		n.Active, n.Reason = true, NightNoOperator
	}
	if !n.Active {
		n.Target = ""
	}
	return n
}

func (s *Switchboard) anyAvailable(tenantID int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.tenants[tenantID]; t != nil {
		for _, o := range t.ops {
			if o.available {
				return true
			}
		}
	}
	return false
}

// checkNight publishes KindNight when a tenant's night service changed.
func (s *Switchboard) checkNight(tenantID int64) {
	cfg, ok := s.settings.Switchboard(tenantID)
	if !ok {
		return
	}
	n := s.night(tenantID, cfg)
	s.mu.Lock()
	t := s.tenantLocked(tenantID)
	changed := !t.nightKnown || t.night != n
	t.night, t.nightKnown = n, true
	s.mu.Unlock()
	if changed {
		s.publish(tenantID, KindNight)
	}
}

// watchNight notices opening hours beginning and ending, once a minute.
func (s *Switchboard) watchNight(ctx context.Context) {
	defer s.wg.Done()
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		s.mu.Lock()
		ids := make([]int64, 0, len(s.tenants))
		for id := range s.tenants {
			ids = append(ids, id)
		}
		s.mu.Unlock()
		for _, id := range ids {
			s.checkNight(id)
		}
	}
}

// State is what the console shows of a tenant's switchboard.
type State struct {
	Queue     []QueueCall     `json:"queue"`
	Calls     []OperatorCall  `json:"calls"` // every operator's; see CallsOf
	Parked    []ParkedCall    `json:"parked"`
	Operators []OperatorState `json:"operators"`
	Night     Night           `json:"night"`
	Recent    []RecentCall    `json:"recent"`
}

// QueueCall is a waiting call.
type QueueCall struct {
	ID         string    `json:"id"`
	Caller     string    `json:"caller"`
	CallerName string    `json:"caller_name"`
	Dialled    string    `json:"dialled"`
	Since      time.Time `json:"since"`    // entered the queue (first time)
	Position   int       `json:"position"` // 1-based
	// Returned is set on a call that came back after a transfer the
	// target did not answer, or whose operator hung up while holding it.
	Returned bool `json:"returned,omitempty"`
}

// OperatorCall is a call an operator has.
type OperatorCall struct {
	ID         string    `json:"id"`
	Operator   string    `json:"operator"` // username
	Caller     string    `json:"caller"`
	CallerName string    `json:"caller_name"`
	Dialled    string    `json:"dialled"`
	State      string    `json:"state"` // ringing, talking, held, consulting
	Since      time.Time `json:"since"` // became this operator's
	Consult    *Consult  `json:"consult"`
}

// Consult is the target of an announced transfer.
type Consult struct {
	Target string `json:"target"`
	Name   string `json:"name"`
	State  string `json:"state"` // ringing, talking
}

// ParkedCall is a parked call.
type ParkedCall struct {
	Slot       int       `json:"slot"`
	ID         string    `json:"id"`
	Caller     string    `json:"caller"`
	CallerName string    `json:"caller_name"`
	Since      time.Time `json:"since"`
	By         string    `json:"by"` // username
}

// OperatorState is an operator as others see them.
type OperatorState struct {
	Username  string `json:"username"`
	Name      string `json:"name"`
	Available bool   `json:"available"`
	Busy      bool   `json:"busy"` // has a call (ringing, talking, held, consulting)
}

// Night is the night service: Active when new calls overflow, Reason
// NightClosed or NightNoOperator, Target the night target ("" when none
// or not active).
type Night struct {
	Active bool   `json:"active"`
	Reason string `json:"reason"`
	Target string `json:"target"`
}

// RecentCall is a call that left the switchboard. A call is listed once,
// when its outcome is known: overflow on arrival, transferred when the
// target answers, voicemail when sent there, and answered or abandoned
// when it ends. Call-backs (DialOut) are not listed.
type RecentCall struct {
	ID         string    `json:"id"`
	At         time.Time `json:"at"`
	Caller     string    `json:"caller"`
	CallerName string    `json:"caller_name"`
	Dialled    string    `json:"dialled"`
	Outcome    string    `json:"outcome"`
	Operator   string    `json:"operator"` // username, "" when none
	To         string    `json:"to"`       // transfer target, mailbox, night target
}

// CallsOf returns the calls of one operator.
func (st State) CallsOf(username string) []OperatorCall {
	out := []OperatorCall{}
	for _, c := range st.Calls {
		if c.Operator == username {
			out = append(out, c)
		}
	}
	return out
}

// Snapshot returns a tenant's switchboard as the console shows it. The
// slices are never nil (JSON [] rather than null).
func (s *Switchboard) Snapshot(tenantID int64) State {
	var night Night
	if cfg, ok := s.settings.Switchboard(tenantID); ok {
		night = s.night(tenantID, cfg)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := State{
		Queue: []QueueCall{}, Calls: []OperatorCall{}, Parked: []ParkedCall{},
		Operators: []OperatorState{}, Night: night, Recent: []RecentCall{},
	}
	t := s.tenants[tenantID]
	if t == nil {
		return st
	}
	for i, c := range t.queue {
		st.Queue = append(st.Queue, QueueCall{
			ID: c.id, Caller: c.caller, CallerName: c.callerName, Dialled: c.dialled,
			Since: c.since, Position: i + 1, Returned: c.returned,
		})
	}
	busy := map[string]bool{}
	for _, c := range t.calls {
		if vs := c.visibleState(); vs != "" {
			oc := OperatorCall{
				ID: c.id, Operator: c.op.Username, Caller: c.caller, CallerName: c.callerName,
				Dialled: c.dialled, State: vs, Since: c.opSince,
			}
			if c.consult != nil {
				cc := *c.consult
				oc.Consult = &cc
			}
			st.Calls = append(st.Calls, oc)
			busy[c.op.Username] = true
		}
		if c.state == stParked {
			st.Parked = append(st.Parked, ParkedCall{
				Slot: c.slot, ID: c.id, Caller: c.caller, CallerName: c.callerName,
				Since: c.parkedAt, By: c.parkedBy,
			})
		}
	}
	sort.Slice(st.Calls, func(i, j int) bool {
		a, b := st.Calls[i], st.Calls[j]
		if !a.Since.Equal(b.Since) {
			return a.Since.Before(b.Since)
		}
		return a.ID < b.ID
	})
	sort.Slice(st.Parked, func(i, j int) bool { return st.Parked[i].Slot < st.Parked[j].Slot })
	for u, o := range t.ops {
		st.Operators = append(st.Operators, OperatorState{
			Username: u, Name: o.op.Name, Available: o.available, Busy: busy[u],
		})
	}
	sort.Slice(st.Operators, func(i, j int) bool {
		a, b := st.Operators[i], st.Operators[j]
		if x, y := strings.ToLower(a.Name), strings.ToLower(b.Name); x != y {
			return x < y
		}
		return a.Username < b.Username
	})
	st.Recent = append(st.Recent, t.recent...)
	return st
}

// record adds a finished call to Recent.
func (s *Switchboard) record(tenantID int64, r RecentCall) {
	s.mu.Lock()
	t := s.tenantLocked(tenantID)
	t.recent = append([]RecentCall{r}, t.recent...)
	if len(t.recent) > RecentMax {
		t.recent = t.recent[:RecentMax]
	}
	s.mu.Unlock()
	s.publish(tenantID, KindRecent)
}
