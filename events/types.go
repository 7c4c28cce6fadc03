package events

import "time"

// RegistrationEvent says that an address of record's bindings changed
// (registered, refreshed with other contacts, unregistered, expired or
// removed as unreachable). It carries the state after the change.
type RegistrationEvent struct {
	TenantID int64     `json:"tenant_id"`
	Number   string    `json:"number"`   // extension number, the AOR's user part
	Bindings int       `json:"bindings"` // unexpired bindings now; 0: not registered
	Contacts []string  `json:"contacts"` // their Contact URIs, in location order
	At       time.Time `json:"at"`
}

// Dialog states of DialogEvent.State. They map onto RFC 4235 dialog-info
// states for BLF: trying and confirmed and terminated are the same there,
// ringing is "early" (a 180/183 with a To tag).
const (
	DialogTrying     = "trying"
	DialogRinging    = "ringing"
	DialogConfirmed  = "confirmed"
	DialogTerminated = "terminated"
)

// Directions of DialogEvent.Direction, seen from Ext.
const (
	DirectionInbound  = "inbound"  // Ext is called
	DirectionOutbound = "outbound" // Ext is calling
)

// DialogEvent is a state change of one extension's side of a call. The
// fields are strings, not enums, so the console can forward them as they
// are; use the Dialog* and Direction* constants.
type DialogEvent struct {
	TenantID  int64     `json:"tenant_id"`
	Ext       string    `json:"ext"`
	CallID    string    `json:"call_id"`
	State     string    `json:"state"`     // DialogTrying, DialogRinging, DialogConfirmed, DialogTerminated
	Direction string    `json:"direction"` // DirectionInbound, DirectionOutbound
	Peer      string    `json:"peer"`      // the other party: a number or a URI
	At        time.Time `json:"at"`
	// Node is the cluster node the event happened on; empty on this one.
	Node string `json:"node,omitempty"`
}

// Actions of VoicemailEvent.Action.
const (
	VoicemailNew      = "new"      // a message was recorded
	VoicemailSaved    = "saved"    // a message was heard and kept (moved to saved)
	VoicemailDeleted  = "deleted"  // a message was deleted
	VoicemailGreeting = "greeting" // the mailbox's greeting changed; MessageID is 0
)

// VoicemailEvent says that a mailbox changed. New and Saved are the
// mailbox's counts after the change, so a consumer (the console's lamp, a
// message-waiting notifier on another node) needs no store read to show
// them.
type VoicemailEvent struct {
	TenantID  int64     `json:"tenant_id"`
	Mailbox   string    `json:"mailbox"`              // extension number
	MessageID int64     `json:"message_id,omitempty"` // 0 for greeting changes
	Action    string    `json:"action"`               // VoicemailNew, VoicemailSaved, VoicemailDeleted, VoicemailGreeting
	Caller    string    `json:"caller,omitempty"`     // who left the message, as presented; empty when withheld
	New       int       `json:"new"`
	Saved     int       `json:"saved"`
	At        time.Time `json:"at"`
	// Node is the cluster node the change happened on; empty on this one.
	Node string `json:"node,omitempty"`
}

// Hub bundles the buses serve creates once and hands to publishers (the
// SIP layer) and consumers (console, presence, billing).
type Hub struct {
	Registrations *Bus[RegistrationEvent]
	Dialogs       *Bus[DialogEvent]
	Voicemail     *Bus[VoicemailEvent]
}

// NewHub returns a hub whose buses all use opt.
func NewHub(opt Options) *Hub {
	return &Hub{
		Registrations: NewBus[RegistrationEvent](opt),
		Dialogs:       NewBus[DialogEvent](opt),
		Voicemail:     NewBus[VoicemailEvent](opt),
	}
}
