package events

import (
	"encoding/json"
	"testing"
	"time"
)

// TestVoicemailEventJSON pins the wire names the console reads.
func TestVoicemailEventJSON(t *testing.T) {
	ev := VoicemailEvent{TenantID: 3, Mailbox: "2101", MessageID: 17, Action: VoicemailNew, Caller: "+4755512345",
		New: 2, Saved: 1, At: time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"tenant_id":3,"mailbox":"2101","message_id":17,"action":"new","caller":"+4755512345","new":2,"saved":1,"at":"2025-03-04T05:06:07Z"}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	var back VoicemailEvent
	if err := json.Unmarshal(b, &back); err != nil || back != ev {
		t.Fatalf("round trip: %+v, %v", back, err)
	}
}

func TestHubVoicemailBus(t *testing.T) {
	h := NewHub(Options{})
	ch := h.Voicemail.Subscribe(t.Context(), 0)
	h.Voicemail.Publish(VoicemailEvent{TenantID: 1, Mailbox: "2001", Action: VoicemailDeleted, MessageID: 9})
	select {
	case ev := <-ch:
		if ev.Action != VoicemailDeleted || ev.MessageID != 9 {
			t.Fatalf("got %+v", ev)
		}
	case <-time.After(time.Second):
		t.Fatal("no voicemail event")
	}
}
