package queue

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/sentralpbx/sentral/media/prompts"
)

var errEnded = errors.New("fake: call ended")

// fakeLeg is a call leg whose Play takes a thousandth of the real time
// and records the prompts it played by name.
type fakeLeg struct {
	id, number, display string
	labels              map[*int16]string

	done chan struct{}
	once sync.Once

	mu     sync.Mutex
	played []string // prompt names; "music" once per run of music
	nMusic int      // Play calls with music
	hungUp bool
}

func (l *fakeLeg) CallID() string                   { return l.id }
func (l *fakeLeg) Caller() (number, display string) { return l.number, l.display }
func (l *fakeLeg) Done() <-chan struct{}            { return l.done }

func (l *fakeLeg) Hangup() {
	l.mu.Lock()
	l.hungUp = true
	l.mu.Unlock()
	l.end()
}

// end is the remote party hanging up.
func (l *fakeLeg) end() { l.once.Do(func() { close(l.done) }) }

func (l *fakeLeg) ended() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

func (l *fakeLeg) Play(ctx context.Context, samples []int16, _ bool) (rune, error) {
	if len(samples) > 0 {
		name := l.labels[&samples[0]]
		if name == "" {
			name = "music"
		}
		l.mu.Lock()
		if name == "music" {
			l.nMusic++
		}
		if name != "music" || len(l.played) == 0 || l.played[len(l.played)-1] != "music" {
			l.played = append(l.played, name)
		}
		l.mu.Unlock()
	}
	timer := time.NewTimer(time.Duration(len(samples)) * time.Second / sampleRate / 1000)
	defer timer.Stop()
	select {
	case <-timer.C:
		return 0, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-l.done:
		return 0, errEnded
	}
}

func (l *fakeLeg) prompts() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.played)
}

func (l *fakeLeg) musicPlays() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.nMusic
}

func (l *fakeLeg) wasHungUp() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.hungUp
}

// dial is one Media.Dial waiting for the test to answer it.
type dial struct {
	number, from, fromName string
	result                 chan dialResult
}

type dialResult struct {
	leg Leg
	err error
}

// fakeMedia hands every Dial to the test (dials) and keeps track of the
// bridges running.
type fakeMedia struct {
	env   *env
	dials chan *dial

	mu         sync.Mutex
	bridges    map[[2]Leg]bool
	voicemails []string // "callID>mailbox"
}

func (m *fakeMedia) Dial(ctx context.Context, tenantID int64, number, from, fromName string, ring time.Duration, headers map[string]string) (Leg, error) {
	d := &dial{number: number, from: from, fromName: fromName, result: make(chan dialResult, 1)}
	select {
	case m.dials <- d:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case r := <-d.result:
		return r.leg, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (m *fakeMedia) Bridge(ctx context.Context, a, b Leg) (Leg, error) {
	key := [2]Leg{a, b}
	m.mu.Lock()
	m.bridges[key] = true
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		delete(m.bridges, key)
		m.mu.Unlock()
	}()
	select {
	case <-ctx.Done():
		return nil, nil
	case <-a.Done():
		return a, nil
	case <-b.Done():
		return b, nil
	}
}

func (m *fakeMedia) Voicemail(ctx context.Context, caller Leg, tenantID int64, mailbox string) error {
	m.mu.Lock()
	m.voicemails = append(m.voicemails, caller.CallID()+">"+mailbox)
	m.mu.Unlock()
	return nil
}

func (m *fakeMedia) bridged(a, b Leg) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.bridges[[2]Leg{a, b}] || m.bridges[[2]Leg{b, a}]
}

func (m *fakeMedia) nBridges() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.bridges)
}

func (m *fakeMedia) voicemailed() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.voicemails)
}

// settings is a fixed Settings.
type settings map[int64]Config

func (s settings) Switchboard(id int64) (Config, bool) { c, ok := s[id]; return c, ok }

const tid = 7 // the tenant of the tests

var (
	kari = Operator{Username: "kari", Name: "Kari Nordmann", Extension: "201"}
	ola  = Operator{Username: "ola", Name: "Ola Hansen", Extension: "202"}
)

// env is a switchboard with fakes around it.
type env struct {
	t      *testing.T
	sb     *Switchboard
	media  *fakeMedia
	ctx    context.Context
	labels map[*int16]string
	wg     sync.WaitGroup
	now    time.Time
	nowMu  sync.Mutex
	nLegs  int
}

func newEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	e := &env{t: t, labels: map[*int16]string{}}
	// Monday 2026-03-02 10:00 in Oslo
	e.now = time.Date(2026, 3, 2, 10, 0, 0, 0, oslo)
	for _, lang := range []string{"nb", "en"} {
		for _, n := range prompts.Names() {
			if pcm, ok := prompts.Samples(lang, n); ok && len(pcm) > 0 {
				e.labels[&pcm[0]] = n
			}
		}
	}
	e.media = &fakeMedia{env: e, dials: make(chan *dial), bridges: map[[2]Leg]bool{}}
	names := func(tenantID int64, number string) (string, bool) {
		switch number {
		case "91234567":
			return "Per Persen", true
		case "2001":
			return "Bygg og eiendom", true
		}
		return "", false
	}
	e.sb = New(e.media, settings{tid: cfg}, names, zaptest.NewLogger(t))
	e.sb.Now = func() time.Time {
		e.nowMu.Lock()
		defer e.nowMu.Unlock()
		return e.now
	}
	e.sb.AnnounceEvery = 30 * time.Second // 30 ms with the fake's pace
	ctx, cancel := context.WithCancel(context.Background())
	e.ctx = ctx
	t.Cleanup(func() {
		cancel()
		e.wg.Wait()
		e.sb.Close()
	})
	return e
}

func (e *env) setNow(t time.Time) {
	e.nowMu.Lock()
	e.now = t
	e.nowMu.Unlock()
}

func (e *env) leg(number string) *fakeLeg {
	e.nLegs++
	return &fakeLeg{
		id: fmt.Sprintf("leg-%d-%s", e.nLegs, number), number: number,
		labels: e.labels, done: make(chan struct{}),
	}
}

// call starts Serve for a new caller; done is closed when Serve returns.
func (e *env) call(number string) (leg *fakeLeg, done chan struct{}) {
	leg = e.leg(number)
	done = make(chan struct{})
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer close(done)
		e.sb.Serve(e.ctx, tid, "100", leg)
	}()
	return leg, done
}

// queued starts a call and waits until it is in the queue.
func (e *env) queued(number string) (*fakeLeg, chan struct{}) {
	e.t.Helper()
	leg, done := e.call(number)
	e.eventually("call queued", func(st State) bool {
		return slices.ContainsFunc(st.Queue, func(q QueueCall) bool { return q.ID == leg.id })
	})
	return leg, done
}

// expectDial waits for the engine to dial number.
func (e *env) expectDial(number string) *dial {
	e.t.Helper()
	select {
	case d := <-e.media.dials:
		if d.number != number {
			e.t.Fatalf("dialled %q, want %q", d.number, number)
		}
		return d
	case <-time.After(5 * time.Second):
		e.t.Fatalf("no dial of %s", number)
	}
	return nil
}

// answer answers a dial with a new leg.
func (e *env) answer(d *dial) *fakeLeg {
	l := e.leg(d.number)
	d.result <- dialResult{leg: l}
	return l
}

func (d *dial) reject() { d.result <- dialResult{err: errors.New("fake: no answer")} }

// eventually waits until cond holds for the tenant's snapshot.
func (e *env) eventually(what string, cond func(State) bool) State {
	e.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		st := e.sb.Snapshot(tid)
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for %s; state %+v", what, st)
		}
		time.Sleep(time.Millisecond)
	}
}

// until waits for cond (not about the snapshot).
func (e *env) until(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func (e *env) waitDone(done chan struct{}) {
	e.t.Helper()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		e.t.Fatal("Serve did not return")
	}
}

// callState returns the state of id at the operator, "" when not there.
func callState(st State, id string) string {
	for _, c := range st.Calls {
		if c.ID == id {
			return c.State
		}
	}
	return ""
}

func queueIDs(st State) []string {
	var ids []string
	for _, q := range st.Queue {
		ids = append(ids, q.ID)
	}
	return ids
}

func lastRecent(st State) RecentCall {
	if len(st.Recent) == 0 {
		return RecentCall{}
	}
	return st.Recent[0]
}
