package main

import (
	"context"
	"errors"
	"testing"

	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/events"
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
