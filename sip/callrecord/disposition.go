package callrecord

import "github.com/sentralpbx/sentral/store"

// DispositionFor decides how a call attempt ended from the final status
// sent to the caller for its INVITE (0 if none was sent) and whether the
// caller had sent CANCEL.
//
// A 2xx means answered even when a CANCEL crossed it: the call was set up
// (the caller then hangs up with BYE). A CANCEL explains a 487 (or no final
// status at all); a final response that beat the CANCEL still says what
// happened. The proxy's ring timeout answers 408, so it counts as no
// answer like 480 (the callee's phone is not reachable or not answering).
// 603 Decline and 487 without the caller's CANCEL fall under failed with
// every other status: the SIP code is kept in the record for finer reports.
func DispositionFor(status int, callerCancelled bool) store.Disposition {
	switch {
	case status >= 200 && status < 300:
		return store.DispositionAnswered
	case callerCancelled && (status == 487 || status == 0):
		return store.DispositionCancelled
	}
	switch status {
	case 486, 600:
		return store.DispositionBusy
	case 408, 480:
		return store.DispositionNoAnswer
	}
	return store.DispositionFailed
}
