package routing

import (
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/sentralpbx/sentral/sip/dialplan"
	"github.com/sentralpbx/sentral/store"
)

// Defaults of the call features.
const (
	// DefaultNoAnswer is how long an extension rings before its no-answer
	// forward (or voicemail) takes the call (store.DefaultNoAnswerSeconds).
	DefaultNoAnswer = 20 * time.Second
	// DefaultHuntRing is how long each member of a hunt group rings when
	// the group names no time.
	DefaultHuntRing = 15 * time.Second
	// maxForwardHops bounds chains of unconditional forwards (101 to 102
	// to 103 ...); a loop ends there too.
	maxForwardHops = 5
)

// Greetings a deposit plays (the media server's greeting parameter).
const (
	GreetingUnavailable = "unavailable"
	GreetingBusy        = "busy"
)

// Diversion reasons (RFC 5806).
const (
	reasonUnconditional = "unconditional"
	reasonBusy          = "user-busy"
	reasonNoAnswer      = "no-answer"
	reasonUnavailable   = "unavailable"
	reasonDND           = "do-not-disturb"
)

// mediaServer is the media server's address, "" without one.
func mediaServer(st State) string {
	if mf, ok := st.(MediaFinder); ok {
		return mf.MediaServer()
	}
	return ""
}

// MediaTarget is a request to an application of the media server at addr
// (host:port): the request-URI user names the application and its
// parameters say what to do (see media/mediaserver).
func MediaTarget(addr, app string, params ...string) Target {
	var b strings.Builder
	b.WriteString("sip:" + app + "@" + addr)
	for i := 0; i+1 < len(params); i += 2 {
		if params[i+1] == "" {
			continue
		}
		b.WriteString(";" + params[i] + "=" + params[i+1])
	}
	return Target{URI: b.String(), Transport: "udp", Destination: addr, Media: true}
}

// Announce is the media server target that plays prompt (a media/prompts
// name) in lang and hangs up.
func Announce(addr, prompt, lang string) Target {
	return MediaTarget(addr, "announce", "prompt", prompt, "lang", lang)
}

// depositTarget leaves a message in tenant's mailbox.
func depositTarget(addr string, tenantID int64, mailbox, greeting, lang string) Target {
	t := MediaTarget(addr, "deposit", "tenant", strconv.FormatInt(tenantID, 10), "mailbox", mailbox,
		"greeting", greeting, "lang", lang)
	t.Number = mailbox
	return t
}

// mediaDialog forwards in-dialog requests to the media server: the
// request-URI is its contact.
func mediaDialog(req Request, st State) (Decision, bool) {
	ms := mediaServer(st)
	if ms == "" || !sameHostPort(req.URIHostPort, ms) {
		return Decision{}, false
	}
	return Decision{Kind: Forward, Why: "media server",
		Targets: []Target{{URI: req.URI, Transport: "udp", Destination: ms, Media: true}}}, true
}

// sameHostPort compares two host:port strings as addresses ([::1]:5 and
// [0:0::1]:5 are the same).
func sameHostPort(a, b string) bool {
	pa, errA := netip.ParseAddrPort(a)
	pb, errB := netip.ParseAddrPort(b)
	if errA != nil || errB != nil {
		return strings.EqualFold(a, b)
	}
	return pa.Addr().Unmap() == pb.Addr().Unmap() && pa.Port() == pb.Port()
}

// feature routes what an authenticated extension dialled when it is a
// feature code: a settings code (the proxy applies it and plays the
// outcome), pickup, or the voicemail access codes.
func (pc planContext) feature(req Request, d Decision, code string) Decision {
	ms := mediaServer(pc.st)
	d.Direction, d.Dialled, d.Normalised = DirInternal, code, code
	d.MediaServer, d.Language = ms, pc.caller.Language
	switch callCode(code) {
	case codeOwnMailbox, codeAnyMailbox:
		if ms == "" {
			return d.reject(StatusTemporarilyUnavail, "Temporarily Unavailable", "no media server for voicemail")
		}
		t := MediaTarget(ms, "retrieve", "tenant", strconv.FormatInt(pc.tenant.ID, 10), "lang", pc.caller.Language)
		if callCode(code) == codeOwnMailbox {
			// The proxy authenticated the caller as this extension: its own
			// mailbox needs no login (unless it asks for the PIN).
			t = MediaTarget(ms, "retrieve", "tenant", strconv.FormatInt(pc.tenant.ID, 10), "mailbox", pc.caller.Number,
				"lang", pc.caller.Language)
		}
		d.CalleeExt = "voicemail"
		d.Kind, d.Targets, d.Why = Fork, []Target{t}, "voicemail "+code
		return d
	case codePickup:
		d.Kind, d.Why = Pickup, "group call pickup"
		d.PickupFrom = pc.pickupFrom()
		d.Targets = extensionTargets(pc.st, pc.ps, pc.tenant.ID, pc.caller.Number)
		if len(d.Targets) == 0 {
			return d.reject(StatusTemporarilyUnavail, "Temporarily Unavailable", "the picking extension has no registered phone")
		}
		return d
	}
	op, ok := ParseFeature(code)
	if !ok {
		return d.reject(StatusNotFound, "Not Found", "unknown feature code "+strconv.Quote(code))
	}
	if ms == "" {
		// Applying a setting the phone gets no confirmation of would leave
		// the user guessing; refuse instead.
		return d.reject(StatusTemporarilyUnavail, "Temporarily Unavailable", "no media server for the confirmation")
	}
	d.Kind, d.Feature, d.Why = Feature, &op, "feature code "+code
	return d
}

// pickupFrom lists the other members of the caller's groups.
func (pc planContext) pickupFrom() []string {
	gf, ok := pc.st.(GroupFinder)
	if !ok || pc.ps == nil {
		return nil
	}
	var out []string
	for _, g := range gf.GroupsOf(pc.tenant.ID, pc.caller.Number) {
		_, members, ok := pc.ps.Group(pc.tenant.ID, g.Number)
		if !ok {
			continue
		}
		for _, m := range members {
			if m != pc.caller.Number {
				out = append(out, m)
			}
		}
	}
	return uniq(out...)
}

// ringExtension rings an enabled extension with its call features: an
// unconditional forward, do-not-disturb, then its phones, with its busy
// and no-answer forwards (or its mailbox) as later stages.
func ringExtension(st State, ps PlanState, tenant store.Tenant, ext store.Extension, d Decision) Decision {
	hops := 0
	seen := map[string]bool{ext.Number: true}
	// Unconditional forwards chain (101 to 102 to 103): the last one in
	// the chain rings, with its own features.
	for ext.ForwardAlways != "" && hops < maxForwardHops {
		next, ok := st.Extension(tenant.ID, ext.ForwardAlways)
		if !ok || !next.Enabled || seen[next.Number] {
			s, ok := forwardStage(st, ps, tenant, ext, ext.ForwardAlways, reasonUnconditional, GreetingUnavailable)
			if !ok {
				return d.reject(StatusNotFound, "Not Found", "unconditional forward of "+ext.Number+" to "+ext.ForwardAlways+" leads nowhere")
			}
			return withStage(d, s, "forwarded unconditionally by "+ext.Number)
		}
		seen[next.Number] = true
		ext, hops = next, hops+1
		d.CalleeExt = ext.Number
	}
	busyTo, noAnswerTo := ext.ForwardBusy, ext.ForwardNoAnswer
	if ext.Voicemail {
		if busyTo == "" {
			busyTo = ForwardVoicemail
		}
		if noAnswerTo == "" {
			noAnswerTo = ForwardVoicemail
		}
	}
	if ext.DND {
		if s, ok := forwardStage(st, ps, tenant, ext, busyTo, reasonDND, GreetingBusy); ok {
			return withStage(d, s, "do not disturb: "+ext.Number+" forwards")
		}
		return d.reject(StatusBusyHere, "Busy Here", "extension "+ext.Number+" is set to do not disturb")
	}
	targets := extensionTargets(st, ps, tenant.ID, ext.Number)
	if len(targets) == 0 {
		if s, ok := forwardStage(st, ps, tenant, ext, noAnswerTo, reasonUnavailable, GreetingUnavailable); ok {
			return withStage(d, s, "no bindings: "+ext.Number+" forwards")
		}
		d.Kind, d.Code, d.Reason, d.Why = Unavailable, StatusTemporarilyUnavail, "Temporarily Unavailable", "no bindings"
		return d
	}
	// Bindings come highest q first; all are tried at once. A sequential
	// search by q groups can slot in here without touching the proxy.
	d.Kind, d.Targets, d.Why = Fork, targets, "parallel fork"
	if s, ok := forwardStage(st, ps, tenant, ext, busyTo, reasonBusy, GreetingBusy); ok {
		s.When = OnBusy
		d.Next = append(d.Next, s)
	}
	if s, ok := forwardStage(st, ps, tenant, ext, noAnswerTo, reasonNoAnswer, GreetingUnavailable); ok {
		s.When = OnNoAnswer | OnFailed
		d.RingFor = noAnswerAfter(ext)
		d.Next = append(d.Next, s)
	}
	return d
}

// withStage makes s the decision's first stage.
func withStage(d Decision, s Stage, why string) Decision {
	d.Kind, d.Targets, d.Serial, d.RingFor, d.Why = Fork, s.Targets, s.Serial, s.RingFor, why
	return d
}

func noAnswerAfter(ext store.Extension) time.Duration {
	if ext.NoAnswerSeconds > 0 {
		return time.Duration(ext.NoAnswerSeconds) * time.Second
	}
	return DefaultNoAnswer
}

// forwardStage is where ext's calls go when forwarded to target (a
// forward or overflow setting): its mailbox or another's, an internal
// number's phones, or an external number through the trunks if ext's
// class of service allows. ok is false when target is empty or leads
// nowhere now (no media server, nobody registered, no trunk).
func forwardStage(st State, ps PlanState, tenant store.Tenant, ext store.Extension, target, reason, greeting string) (Stage, bool) {
	if target == "" {
		return Stage{}, false
	}
	ms := mediaServer(st)
	if target == ForwardVoicemail || strings.HasPrefix(target, ForwardVoicemail+":") {
		mailbox := ext.Number
		if _, m, ok := strings.Cut(target, ":"); ok {
			mailbox = m
		}
		owner, ok := st.Extension(tenant.ID, mailbox)
		if ms == "" || !ok {
			return Stage{}, false
		}
		t := depositTarget(ms, tenant.ID, mailbox, greeting, owner.Language)
		return Stage{Targets: []Target{t}, Why: "voicemail " + mailbox}, true
	}
	pc := planContext{st: st, ps: ps, tenant: tenant, caller: ext}
	plan := dialplan.Plan{OutsidePrefix: tenant.OutsidePrefix, Internal: pc.internal}
	n, err := dialplan.Classify(plan, target)
	if err != nil && tenant.OutsidePrefix != "" {
		// Forward targets are often written without the outside prefix
		// (91234567, not 091234567): try it with the prefix too.
		n, err = dialplan.Classify(plan, tenant.OutsidePrefix+target)
	}
	if err != nil {
		return Stage{}, false
	}
	diversion := "<sip:" + ext.Number + "@" + tenant.Domain + ">;reason=" + reason
	if n.Kind == dialplan.Internal {
		var ts []Target
		if _, ok := st.Extension(tenant.ID, n.Normalised); ok {
			ts = extensionTargets(st, ps, tenant.ID, n.Normalised)
		} else if ps != nil {
			if _, members, ok := ps.Group(tenant.ID, n.Normalised); ok {
				for _, m := range members {
					if e, ok := st.Extension(tenant.ID, m); ok && e.Enabled && !e.DND {
						ts = append(ts, extensionTargets(st, ps, tenant.ID, m)...)
					}
				}
			}
		}
		for i := range ts {
			ts[i].Diversion = diversion
		}
		return Stage{Targets: ts, Why: "forward to " + n.Normalised}, len(ts) > 0
	}
	if ps != nil && n.Kind != dialplan.Emergency {
		if t, ok := ps.DID(n.Normalised); ok && t.TenantID == tenant.ID && t.Kind != DIDSwitchboard {
			// One of our own public numbers: ring it here.
			return forwardStage(st, ps, tenant, ext, t.Number, reason, greeting)
		}
	}
	if ok, _ := dialplan.Allowed(string(ext.COS), n.Kind); !ok && n.Kind != dialplan.Emergency {
		return Stage{}, false
	}
	out := pc.outbound(Decision{}, n, n.Kind == dialplan.Emergency)
	if out.Kind != Fork {
		return Stage{}, false
	}
	for i := range out.Targets {
		out.Targets[i].Diversion = diversion
	}
	return Stage{Targets: out.Targets, Serial: true, Why: "forward out to " + n.Normalised}, true
}

// ringGroup rings a group's members: all at once, or one after another
// (hunt) in the group's order, each for the group's ring time; members on
// do-not-disturb or without a phone are skipped. The overflow takes the
// call when nobody answered. Members' own forwards do not apply to group
// calls.
func ringGroup(st State, ps PlanState, tenant store.Tenant, g store.Group, members []string, d Decision) Decision {
	var perMember [][]Target
	for _, m := range members {
		ext, ok := st.Extension(tenant.ID, m)
		if !ok || !ext.Enabled || ext.DND {
			continue
		}
		if ts := extensionTargets(st, ps, tenant.ID, m); len(ts) > 0 {
			perMember = append(perMember, ts)
		}
	}
	ring := time.Duration(g.RingSeconds) * time.Second
	overflow, hasOverflow := Stage{}, false
	if g.Overflow != "" {
		overflow, hasOverflow = forwardStage(st, ps, tenant, store.Extension{Number: g.Number, COS: store.COSInternational,
			Enabled: true}, g.Overflow, reasonNoAnswer, GreetingUnavailable)
		if hasOverflow {
			overflow.Why = "overflow of group " + g.Number
		}
	}
	if len(perMember) == 0 {
		if hasOverflow {
			return withStage(d, overflow, "group "+g.Number+": nobody reachable, overflow")
		}
		d.Kind, d.Code, d.Reason, d.Why = Unavailable, StatusTemporarilyUnavail, "Temporarily Unavailable",
			"no member of group "+g.Number+" is registered"
		return d
	}
	d.Kind = Fork
	if g.Strategy == store.GroupHunt {
		if ring <= 0 {
			ring = DefaultHuntRing
		}
		d.Targets, d.RingFor, d.Why = perMember[0], ring, "hunt group "+g.Number
		for i, ts := range perMember[1:] {
			d.Next = append(d.Next, Stage{Targets: ts, RingFor: ring, After: i, When: OnAny,
				Why: "hunt group " + g.Number + " member " + strconv.Itoa(i+2)})
		}
		if hasOverflow {
			overflow.After, overflow.When = len(perMember)-1, OnAny
			d.Next = append(d.Next, overflow)
		}
		return d
	}
	for _, ts := range perMember {
		d.Targets = append(d.Targets, ts...)
	}
	d.Why = "group " + g.Number
	if hasOverflow {
		if ring <= 0 {
			ring = DefaultHuntRing
		}
		d.RingFor = ring
		overflow.When = OnAny
		d.Next = append(d.Next, overflow)
	}
	return d
}
