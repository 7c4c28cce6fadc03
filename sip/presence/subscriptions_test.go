package presence

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

var t0 = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)

func testSub(callID string, mailbox string) Subscription {
	return Subscription{
		Key:        Key{Tenant: 7, Mailbox: mailbox},
		DialogID:   DialogID{CallID: callID, FromTag: "ft-" + callID, ToTag: "tt-" + callID},
		Subscriber: sip.Uri{Scheme: "sip", User: mailbox, Host: "fjordvik.test"},
		Resource:   sip.Uri{Scheme: "sip", User: mailbox, Host: "fjordvik.test"},
		Target:     sip.Uri{Scheme: "sip", User: mailbox, Host: "192.0.2.10", Port: 5062},
		RouteSet:   []sip.Uri{{Scheme: "sip", Host: "edge.fjordvik.test", UriParams: sip.HeaderParams{{K: "lr", V: ""}}}},
		Transport:  "UDP",
		Source:     "192.0.2.10:5062",
	}
}

func TestAddGrants(t *testing.T) {
	tests := []struct {
		name      string
		requested time.Duration
		wantErr   bool
		wantState string
		wantExp   time.Duration
		wantLen   int
	}{
		{"no Expires: default", NoExpires, false, "active;expires=3600", time.Hour, 1},
		{"within bounds", 1800 * time.Second, false, "active;expires=1800", 1800 * time.Second, 1},
		{"at the minimum", 60 * time.Second, false, "active;expires=60", 60 * time.Second, 1},
		{"above the maximum: clamped", 86400 * time.Second, false, "active;expires=7200", 7200 * time.Second, 1},
		{"too brief: 423", 30 * time.Second, true, "", 0, 0},
		{"zero: fetch", 0, false, "terminated;reason=timeout", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewSubscriptions()
			n, err := s.Add(testSub("a", "2101"), tt.requested, t0)
			if tt.wantErr {
				var tb *IntervalTooBriefError
				if !errors.As(err, &tb) {
					t.Fatalf("err = %v, want IntervalTooBriefError", err)
				}
				if tb.MinExpires != time.Minute {
					t.Errorf("MinExpires = %s, want 1m", tb.MinExpires)
				}
				if h := tb.MinExpiresHeader(); h.Name() != "Min-Expires" || h.Value() != "60" {
					t.Errorf("header = %s: %s, want Min-Expires: 60", h.Name(), h.Value())
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if n.State != tt.wantState || n.Expires != tt.wantExp {
				t.Errorf("notice state %q expires %s, want %q %s", n.State, n.Expires, tt.wantState, tt.wantExp)
			}
			if !tt.wantErr && n.CSeq != 1 {
				t.Errorf("CSeq = %d, want 1", n.CSeq)
			}
			if s.Len() != tt.wantLen {
				t.Errorf("Len = %d, want %d", s.Len(), tt.wantLen)
			}
		})
	}
}

func TestExpiryBoundsOption(t *testing.T) {
	s := NewSubscriptions(WithExpiryBounds(120*time.Second, 600*time.Second, 900*time.Second))
	if s.MinExpires() != 2*time.Minute {
		t.Errorf("MinExpires = %s", s.MinExpires())
	}
	if _, err := s.Add(testSub("a", "2101"), 90*time.Second, t0); err == nil {
		t.Error("90 s accepted below a 120 s minimum")
	}
	n, _ := s.Add(testSub("b", "2101"), NoExpires, t0)
	if n.State != "active;expires=600" {
		t.Errorf("default: %q", n.State)
	}
	n, _ = s.Add(testSub("c", "2101"), time.Hour, t0)
	if n.State != "active;expires=900" {
		t.Errorf("max: %q", n.State)
	}
	// A default outside the bounds is pulled in.
	s = NewSubscriptions(WithExpiryBounds(0, 10*time.Hour, 0))
	if n, _ := s.Add(testSub("a", "2101"), NoExpires, t0); n.State != "active;expires=7200" {
		t.Errorf("clamped default: %q", n.State)
	}
}

func TestAddRefuses(t *testing.T) {
	s := NewSubscriptions()
	sub := testSub("a", "2101")
	sub.ToTag = ""
	if _, err := s.Add(sub, NoExpires, t0); err == nil {
		t.Error("subscription without To tag accepted")
	}
}

// TestLifecycle walks one mailbox's subscriptions through a fake clock.
func TestLifecycle(t *testing.T) {
	s := NewSubscriptions()
	a, b, other := testSub("a", "2101"), testSub("b", "2101"), testSub("c", "2102")
	steps := []struct {
		name string
		at   time.Duration // since t0
		do   func(now time.Time) ([]Notice, error)
		want []string // "callID cseq state" per notice
		err  error
	}{
		{"add a", 0, one(func(now time.Time) (Notice, error) { return s.Add(a, 600*time.Second, now) }),
			[]string{"a 1 active;expires=600"}, nil},
		{"add b", 10 * time.Second, one(func(now time.Time) (Notice, error) { return s.Add(b, 300*time.Second, now) }),
			[]string{"b 1 active;expires=300"}, nil},
		{"add other mailbox", 10 * time.Second, one(func(now time.Time) (Notice, error) { return s.Add(other, NoExpires, now) }),
			[]string{"c 1 active;expires=3600"}, nil},
		{"message arrives", 100 * time.Second, func(now time.Time) ([]Notice, error) { return s.For(7, "2101", now), nil },
			[]string{"a 2 active;expires=500", "b 2 active;expires=210"}, nil},
		{"other tenant has none", 100 * time.Second, func(now time.Time) ([]Notice, error) { return s.For(8, "2101", now), nil },
			nil, nil},
		{"nothing expired yet", 299 * time.Second, func(now time.Time) ([]Notice, error) { return s.Expire(now), nil },
			nil, nil},
		{"refresh a", 299*time.Second + 500*time.Millisecond, one(func(now time.Time) (Notice, error) { return s.Refresh(a.DialogID, 600*time.Second, now) }),
			[]string{"a 3 active;expires=600"}, nil},
		{"refresh too brief", 300 * time.Second, one(func(now time.Time) (Notice, error) { return s.Refresh(a.DialogID, 5*time.Second, now) }),
			nil, &IntervalTooBriefError{}},
		{"b expires", 310 * time.Second, func(now time.Time) ([]Notice, error) { return s.Expire(now), nil },
			[]string{"b 3 terminated;reason=timeout"}, nil},
		{"refresh of expired b", 311 * time.Second, one(func(now time.Time) (Notice, error) { return s.Refresh(b.DialogID, NoExpires, now) }),
			nil, ErrNoSubscription},
		{"only a left", 400 * time.Second, func(now time.Time) ([]Notice, error) { return s.For(7, "2101", now), nil },
			[]string{"a 4 active;expires=500"}, nil},
		{"a unsubscribes", 401 * time.Second, one(func(now time.Time) (Notice, error) { return s.Refresh(a.DialogID, 0, now) }),
			[]string{"a 5 terminated;reason=timeout"}, nil},
		{"mailbox empty", 402 * time.Second, func(now time.Time) ([]Notice, error) { return s.For(7, "2101", now), nil },
			nil, nil},
		{"mailbox removed", 403 * time.Second, one(func(time.Time) (Notice, error) { return s.Remove(other.DialogID, ReasonNoResource) }),
			[]string{"c 2 terminated;reason=noresource"}, nil},
		{"remove twice", 404 * time.Second, one(func(time.Time) (Notice, error) { return s.Remove(other.DialogID, ReasonNoResource) }),
			nil, ErrNoSubscription},
	}
	for _, st := range steps {
		ns, err := st.do(t0.Add(st.at))
		switch {
		case st.err == nil && err != nil:
			t.Fatalf("%s: %v", st.name, err)
		case st.err != nil && (err == nil || !(errors.Is(err, st.err) || errors.As(err, new(*IntervalTooBriefError)))):
			t.Fatalf("%s: err = %v, want %v", st.name, err, st.err)
		}
		var got []string
		for _, n := range ns {
			got = append(got, fmt.Sprintf("%s %d %s", n.CallID, n.CSeq, n.State))
		}
		if fmt.Sprint(got) != fmt.Sprint(st.want) {
			t.Fatalf("%s: got %q, want %q", st.name, got, st.want)
		}
	}
	if s.Len() != 0 {
		t.Errorf("Len = %d at the end", s.Len())
	}
}

func one(f func(time.Time) (Notice, error)) func(time.Time) ([]Notice, error) {
	return func(now time.Time) ([]Notice, error) {
		n, err := f(now)
		if err != nil {
			return nil, err
		}
		return []Notice{n}, nil
	}
}

func TestForSkipsUnsweptExpired(t *testing.T) {
	s := NewSubscriptions()
	s.Add(testSub("a", "2101"), 60*time.Second, t0)
	if ns := s.For(7, "2101", t0.Add(60*time.Second)); len(ns) != 0 {
		t.Fatalf("For after expiry: %+v", ns)
	}
	if s.Len() != 1 {
		t.Fatal("For swept the subscription; that is Expire's job")
	}
	if ns := s.Expire(t0.Add(60 * time.Second)); len(ns) != 1 || !ns[0].Terminated() {
		t.Fatalf("Expire: %+v", ns)
	}
}

func TestAddReplacesSameDialog(t *testing.T) {
	s := NewSubscriptions()
	sub := testSub("a", "2101")
	s.Add(sub, NoExpires, t0)
	sub.Mailbox = "2102" // the phone re-subscribed the same dialog elsewhere
	n, err := s.Add(sub, NoExpires, t0.Add(time.Second))
	if err != nil || n.CSeq != 2 {
		t.Fatalf("re-add: %+v %v; want CSeq 2 kept from the dialog", n, err)
	}
	if len(s.For(7, "2101", t0.Add(2*time.Second))) != 0 || len(s.For(7, "2102", t0.Add(2*time.Second))) != 1 {
		t.Fatal("dialog not moved to the new mailbox")
	}
	if s.Len() != 1 {
		t.Fatalf("Len = %d", s.Len())
	}
}

func TestEventIDSeparatesSubscriptions(t *testing.T) {
	s := NewSubscriptions()
	a1, a2 := testSub("a", "2101"), testSub("a", "2101")
	a2.EventID = "2"
	s.Add(a1, NoExpires, t0)
	s.Add(a2, NoExpires, t0)
	if s.Len() != 2 {
		t.Fatalf("Len = %d, want 2 subscriptions in one dialog", s.Len())
	}
}

// TestNoticeIsACopy checks that a notice shares no memory with the
// registry: the sender may change what it got.
func TestNoticeIsACopy(t *testing.T) {
	s := NewSubscriptions()
	sub := testSub("a", "2101")
	n, _ := s.Add(sub, NoExpires, t0)
	sub.RouteSet[0].Host = "changed.by.caller" // the caller's value after Add
	n.RouteSet[0].Host = "changed.by.sender"
	n.RouteSet[0].UriParams.Add("x", "1")
	got := s.For(7, "2101", t0.Add(time.Second))[0]
	if h := got.RouteSet[0].Host; h != "edge.fjordvik.test" {
		t.Fatalf("route host = %q", h)
	}
	if got.RouteSet[0].UriParams.Has("x") {
		t.Fatal("params shared with a notice")
	}
}

// TestConcurrent runs with -race: the registry is shared by the SUBSCRIBE
// handler, the MWI sender and the expiry sweep.
func TestConcurrent(t *testing.T) {
	s := NewSubscriptions()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				sub := testSub(fmt.Sprintf("%d-%d", g, i), "2101")
				now := t0.Add(time.Duration(i) * time.Second)
				s.Add(sub, NoExpires, now) // outlives every goroutine's clock
				s.For(7, "2101", now)
				s.Refresh(sub.DialogID, NoExpires, now)
				s.Expire(now)
				if i%2 == 0 {
					s.Remove(sub.DialogID, ReasonDeactivated)
				}
			}
		}()
	}
	wg.Wait()
	if s.Len() != 400 {
		t.Fatalf("Len = %d, want 400", s.Len())
	}
	s.Expire(t0.Add(24 * time.Hour))
	if s.Len() != 0 {
		t.Fatalf("Len = %d after the final sweep", s.Len())
	}
}
