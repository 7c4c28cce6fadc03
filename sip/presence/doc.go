// Package presence holds the SUBSCRIBE/NOTIFY side of the PBX: subscription
// state and NOTIFY bodies for message-waiting indication (RFC 3842, the
// "message-summary" event package) now, dialog state (BLF) later.
//
// Everything here is pure: values, a mutex-guarded registry and request
// builders. The SIP handler that answers SUBSCRIBE and the sender that
// transmits NOTIFY live with the server wiring and call into this package.
package presence
