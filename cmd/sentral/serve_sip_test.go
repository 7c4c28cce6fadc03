package main

import (
	"context"
	"testing"
	"time"

	"github.com/sentralpbx/sentral/events"
	"github.com/sentralpbx/sentral/sip/proxy"
	"github.com/sentralpbx/sentral/store"
)

func TestSIPEventsReachTheBus(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	hub := events.NewHub(events.Options{})
	regs := hub.Registrations.Subscribe(ctx, 4)
	dialogs := hub.Dialogs.Subscribe(ctx, 4)

	publishRegistrations(hub)(7, "2101", []store.Binding{{Contact: "sip:2101@10.0.0.5:5060"}, {Contact: "sip:2101@x.invalid;transport=ws"}})
	select {
	case r := <-regs:
		if r.TenantID != 7 || r.Number != "2101" || r.Bindings != 2 || r.Contacts[1] != "sip:2101@x.invalid;transport=ws" {
			t.Errorf("registration event %+v", r)
		}
	case <-ctx.Done():
		t.Fatal("no registration event")
	}

	pub := publishDialogs(hub)
	pub(proxy.DialogEvent{TenantID: 7, Ext: "2101", CallID: "c1", State: proxy.StateRinging, Direction: proxy.DirectionInitiator, Peer: "2102"})
	pub(proxy.DialogEvent{TenantID: 7, Ext: "2102", CallID: "c1", State: proxy.StateRinging, Direction: proxy.DirectionRecipient, Peer: "2101"})
	for _, want := range []struct{ ext, dir string }{{"2101", events.DirectionOutbound}, {"2102", events.DirectionInbound}} {
		select {
		case d := <-dialogs:
			if d.Ext != want.ext || d.Direction != want.dir || d.State != events.DialogRinging || d.CallID != "c1" {
				t.Errorf("dialog event %+v, want ext %s direction %s", d, want.ext, want.dir)
			}
		case <-ctx.Done():
			t.Fatal("no dialog event")
		}
	}
}
