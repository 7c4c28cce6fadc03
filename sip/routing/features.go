package routing

import (
	"net/url"
	"strconv"
	"strings"
)

// Feature codes dialled from a phone (documented in docs/features.md).
// They follow the GSM supplementary-service codes phones and users know:
// *NN*number# sets a service, #NN# clears it, and *NN# alone points a
// forward at the extension's own mailbox.
const (
	codeForwardAlways   = "21"
	codeForwardBusy     = "67"
	codeForwardNoAnswer = "61"
	codeForwardAllOff   = "002"
	codeDND             = "26"
	codePickup          = "*8"
	codeOwnMailbox      = "*98"
	codeAnyMailbox      = "*99"
)

// Feature kinds of FeatureOp.Kind.
const (
	FeatureForward = "forward"
	FeatureDND     = "dnd"
)

// Forward kinds of FeatureOp.Forward; the same words as the provisioning
// service's (provisioning.ForwardKind).
const (
	ForwardAlways   = "always"
	ForwardBusy     = "busy"
	ForwardNoAnswer = "no-answer"
	ForwardAll      = "all" // only when clearing
)

// ForwardVoicemail is the forward target that means the extension's own
// mailbox (store.ForwardVoicemail).
const ForwardVoicemail = "voicemail"

// FeatureOp is a setting a feature code changes.
type FeatureOp struct {
	Kind    string // FeatureForward or FeatureDND
	Forward string // FeatureForward: which forward
	// Target is the forward target: a number, ForwardVoicemail, or "" to
	// clear the forward.
	Target string
	// Seconds is the no-answer time given with *61*number*seconds#; 0 keeps
	// the extension's.
	Seconds int
	On      bool // FeatureDND
}

// Announcement prompts the media server plays after a feature code.
const (
	PromptFeatureOn     = "feature-on"
	PromptFeatureOff    = "feature-off"
	PromptFeatureFailed = "feature-failed"
	PromptPickupNone    = "pickup-none"
)

// dialledCode unescapes a dialled string: phones send # as %23 in the
// request-URI (it is not allowed there), some send it raw.
func dialledCode(user string) string {
	user, _, _ = strings.Cut(user, ";")
	if strings.Contains(user, "%") {
		if u, err := url.PathUnescape(user); err == nil {
			user = u
		}
	}
	return user
}

// isFeatureCode reports whether a dialled string is meant as a feature
// code: it starts with * or #. Extension numbers are digits, so nothing
// else can collide with one.
func isFeatureCode(s string) bool {
	return strings.HasPrefix(s, "*") || strings.HasPrefix(s, "#")
}

// ParseFeature reads a settings feature code (forwards, do-not-disturb).
// ok is false for anything else, including the call codes (*8, *98, *99)
// and malformed settings codes.
func ParseFeature(code string) (op FeatureOp, ok bool) {
	code = strings.TrimSuffix(dialledCode(code), "#")
	switch {
	case code == "#"+codeForwardAllOff:
		return FeatureOp{Kind: FeatureForward, Forward: ForwardAll}, true
	case code == "*"+codeDND:
		return FeatureOp{Kind: FeatureDND, On: true}, true
	case code == "#"+codeDND:
		return FeatureOp{Kind: FeatureDND}, true
	}
	for _, f := range []struct{ code, kind string }{
		{codeForwardAlways, ForwardAlways}, {codeForwardBusy, ForwardBusy}, {codeForwardNoAnswer, ForwardNoAnswer},
	} {
		if code == "#"+f.code {
			return FeatureOp{Kind: FeatureForward, Forward: f.kind}, true
		}
		if code == "*"+f.code {
			return FeatureOp{Kind: FeatureForward, Forward: f.kind, Target: ForwardVoicemail}, true
		}
		rest, found := strings.CutPrefix(code, "*"+f.code+"*")
		if !found {
			continue
		}
		target, secs, hasSecs := strings.Cut(rest, "*")
		if !digitsPlus(target) || hasSecs && f.kind != ForwardNoAnswer {
			return FeatureOp{}, false
		}
		op := FeatureOp{Kind: FeatureForward, Forward: f.kind, Target: target}
		if hasSecs {
			n, err := strconv.Atoi(secs)
			if err != nil || n < 5 || n > 180 {
				return FeatureOp{}, false
			}
			op.Seconds = n
		}
		return op, true
	}
	return FeatureOp{}, false
}

// digitsPlus reports whether s is a dialable number: digits, optionally
// after a leading +, 2 to 20 characters (store.ValidateForwardTarget's
// rule).
func digitsPlus(s string) bool {
	d := strings.TrimPrefix(s, "+")
	if len(s) < 2 || len(s) > 20 || d == "" {
		return false
	}
	for _, c := range d {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// callCode reports which call code a dialled string is (*8, *98, *99),
// with or without a trailing #.
func callCode(code string) string {
	switch c := strings.TrimSuffix(dialledCode(code), "#"); c {
	case codePickup, codeOwnMailbox, codeAnyMailbox:
		return c
	}
	return ""
}
