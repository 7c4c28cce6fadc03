package main

import (
	"context"
	"errors"
	"net/netip"
	"testing"

	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/events"
	"github.com/sentralpbx/sentral/sip/server"
)

type fakeCounts struct{ nw, saved int }

func (f *fakeCounts) Counts(context.Context, int64, string) (int, int, error) {
	return f.nw, f.saved, nil
}

// TestMailboxChanges: every change notifies MWI and publishes a voicemail
// event whose action follows how the counts moved.
func TestMailboxChanges(t *testing.T) {
	hub := events.NewHub(events.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sub := hub.Voicemail.Subscribe(ctx, 16)
	counts := &fakeCounts{}
	notified := 0
	c := &mailboxChanges{notify: func(context.Context, int64, string) error { notified++; return errors.New("phone gone") },
		st: counts, hub: hub, log: zap.NewNop(), last: map[mailboxKey][2]int{}}
	steps := []struct {
		nw, saved int
		action    string
	}{
		{1, 0, events.VoicemailNew},      // first message
		{2, 0, events.VoicemailNew},      // another
		{1, 1, events.VoicemailSaved},    // one heard
		{1, 0, events.VoicemailDeleted},  // a saved one deleted
		{1, 0, events.VoicemailGreeting}, // counts unchanged: greeting or PIN
	}
	for i, s := range steps {
		counts.nw, counts.saved = s.nw, s.saved
		c.changed(7, "101")
		ev := <-sub
		if ev.Action != s.action || ev.New != s.nw || ev.Saved != s.saved || ev.TenantID != 7 || ev.Mailbox != "101" {
			t.Errorf("step %d: %+v, want %s %d/%d", i, ev, s.action, s.nw, s.saved)
		}
	}
	if notified != len(steps) {
		t.Errorf("MWI told %d times, want %d (a failed NOTIFY does not stop the event)", notified, len(steps))
	}
}

// TestRTPAddrsDualStackWildcard: sip.listen udp:0.0.0.0:5060 is reported
// by the bound socket as [::]:5060 (dual stack); with an IPv4 address to
// advertise, RTP must bind 0.0.0.0 and advertise it rather than find no
// address at all (`make run` on a host with only IPv4).
func TestRTPAddrsDualStackWildcard(t *testing.T) {
	v4, v6 := rtpAddrs(DefaultConfig(), []server.Listener{{Network: "udp", Addr: "[::]:5060"}}, "192.0.2.2")
	if v4 == nil || v4.bind != netip.IPv4Unspecified() || v4.advertise != netip.MustParseAddr("192.0.2.2") {
		t.Fatalf("v4 = %+v, want bind 0.0.0.0 advertising 192.0.2.2", v4)
	}
	if v6 != nil {
		t.Errorf("v6 = %+v, want none without an IPv6 address to advertise", v6)
	}
}
