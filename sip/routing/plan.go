package routing

import (
	"cmp"
	"errors"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/sentralpbx/sentral/sip/dialplan"
	"github.com/sentralpbx/sentral/store"
)

// Call directions of Decision.Direction; the same words as the call
// records' (store.CallDirection).
const (
	DirInternal  = "internal"
	DirInbound   = "inbound"
	DirOutbound  = "outbound"
	DirEmergency = "emergency"
)

// DIDTarget is what an inbound public number rings.
type DIDTarget struct {
	TenantID int64
	Kind     string // DIDExtension, DIDGroup or DIDSwitchboard
	Number   string // the extension's or group's number; the switchboard number
}

// Kinds of DIDTarget.
const (
	DIDExtension   = "extension"
	DIDGroup       = "group"
	DIDSwitchboard = "switchboard"
)

// PlanState is what number-plan routing reads beyond State: groups, public
// numbers, trunks, sites and static DECT gateways (the catalog).
type PlanState interface {
	Tenant(id int64) (store.Tenant, bool)
	// Group returns a group and its members' extension numbers, in order.
	Group(tenantID int64, number string) (store.Group, []string, bool)
	// DID finds what an E.164 number rings.
	DID(e164 string) (DIDTarget, bool)
	// Trunks lists a tenant's trunks.
	Trunks(tenantID int64) []store.Trunk
	Site(id int64) (store.Site, bool)
	// StaticDECT returns the address of the static-mode DECT gateway that
	// serves an extension's handset, if any.
	StaticDECT(tenantID int64, number string) (addr string, ok bool)
}

// EmergencyHeader carries the calling site to the operator on emergency
// calls (the caller ID is the site's number); documented in docs/dialplan.md.
const EmergencyHeader = "X-Sentral-Location"

// Outbound is how a request leaves through a trunk; set on trunk targets.
type Outbound struct {
	TrunkID   int64
	Trunk     string // name, for logs and call records
	From      string // From URI to present ("sip:+4722334455@host")
	Display   string // From display name ("" keeps none)
	Identity  string // P-Asserted-Identity URI; "" sends none
	Private   bool   // withhold: anonymous From and Privacy: id
	Emergency string // value of EmergencyHeader; "" sends none
}

// planContext is what the number plan knows about the caller.
type planContext struct {
	st     State
	ps     PlanState
	tenant store.Tenant
	caller store.Extension
}

// dial routes a call from an authenticated extension in tenant to what it
// dialled (the request-URI user).
func dial(req Request, st State, ps PlanState, d Decision) Decision {
	tenant := d.CallerTenant
	caller, _ := st.Extension(tenant.ID, req.FromUser)
	pc := planContext{st: st, ps: ps, tenant: tenant, caller: caller}
	if code := dialledCode(req.URIUser); isFeatureCode(code) {
		return pc.feature(req, d, code)
	}
	plan := dialplan.Plan{OutsidePrefix: tenant.OutsidePrefix, Internal: pc.internal}
	n, err := dialplan.Classify(plan, req.URIUser)
	d.Dialled = req.URIUser
	if err != nil {
		var de *dialplan.Error
		if errors.As(err, &de) && de.Problem == dialplan.Incomplete {
			return d.reject(StatusAddressIncomplete, "Address Incomplete", err.Error())
		}
		return d.reject(StatusNotFound, "Not Found", err.Error())
	}
	d.Normalised = n.Normalised
	switch n.Kind {
	case dialplan.Internal:
		d.Direction = DirInternal
		d.Normalised = n.Normalised
		return pc.internalTarget(req, d, n.Normalised)
	case dialplan.Emergency:
		d.Direction = DirEmergency
		return pc.outbound(d, n, true)
	}
	if ps != nil {
		if t, ok := ps.DID(n.Normalised); ok && t.TenantID == tenant.ID {
			// Our own public number: ring it here rather than out and back
			// in through the operator (which costs and needs a trunk).
			d.Direction = DirInternal
			if t.Kind == DIDSwitchboard {
				return switchboard(st, ps, tenant, d)
			}
			return ringNumber(st, ps, tenant, t.Number, d, 0)
		}
	}
	d.Direction = DirOutbound
	if ok, reason := dialplan.Allowed(string(caller.COS), n.Kind); !ok {
		return d.reject(StatusForbidden, reason, "class of service "+string(caller.COS)+" refuses "+n.Kind.String())
	}
	return pc.outbound(d, n, false)
}

// internal reports whether a number is one of the tenant's own: a number
// in its extension ranges (assigned or not: such a number never leaves
// the switch), an extension, a group or the switchboard number.
func (pc planContext) internal(number string) bool {
	if store.InRanges(pc.tenant.Ranges, store.RangeExtension, number) {
		return true
	}
	if _, ok := pc.st.Extension(pc.tenant.ID, number); ok {
		return true
	}
	if pc.ps != nil {
		if _, _, ok := pc.ps.Group(pc.tenant.ID, number); ok {
			return true
		}
	}
	return number == pc.tenant.SwitchboardNumber
}

// internalTarget rings an extension, a group or the switchboard number.
func (pc planContext) internalTarget(req Request, d Decision, number string) Decision {
	d.CalleeTenant, d.CalleeExt = pc.tenant, number
	return ringNumber(pc.st, pc.ps, pc.tenant, number, d, 0)
}

// ringNumber rings an internal number of tenant: an extension (with its
// call features), a group, or the switchboard number's own target. depth
// stops a switchboard number that names itself.
func ringNumber(st State, ps PlanState, tenant store.Tenant, number string, d Decision, depth int) Decision {
	d.CalleeTenant, d.CalleeExt = tenant, number
	if ext, ok := st.Extension(tenant.ID, number); ok {
		if !ext.Enabled {
			return d.reject(StatusNotFound, "Not Found", "extension "+number+" is disabled")
		}
		return ringExtension(st, ps, tenant, ext, d)
	}
	if ps != nil {
		if g, members, ok := ps.Group(tenant.ID, number); ok {
			return ringGroup(st, ps, tenant, g, members, d)
		}
	}
	if number == tenant.SwitchboardNumber {
		// A switchboard number that is neither an extension nor a group
		// is the operators' queue.
		return queueTarget(st, tenant, d)
	}
	return d.reject(StatusNotFound, "Not Found", "no extension or group "+number)
}

// extensionTargets are where an extension rings: its bindings, or the
// static DECT gateway that serves its handset.
func extensionTargets(st State, ps PlanState, tenantID int64, number string) []Target {
	var ts []Target
	for _, b := range st.Bindings(tenantID, number) {
		if t, ok := targetOf(st, b); ok {
			ts = append(ts, t)
		}
	}
	if len(ts) == 0 && ps != nil {
		if addr, ok := ps.StaticDECT(tenantID, number); ok {
			ts = append(ts, Target{URI: "sip:" + number + "@" + addr, Transport: "udp", Destination: addr, Number: number, Q: 1})
		}
	}
	return ts
}

// outbound sends a call to the tenant's trunks, in order, each tried when
// the one before fails (Serial).
func (pc planContext) outbound(d Decision, n dialplan.Number, emergency bool) Decision {
	if pc.ps == nil {
		return d.reject(StatusForbidden, "No Route", "no trunks")
	}
	trunks := chooseTrunks(pc.ps.Trunks(pc.tenant.ID), n.Normalised, emergency)
	if len(trunks) == 0 {
		return d.reject(StatusServiceUnavailable, "No Route to Destination", "no enabled trunk routes "+n.Normalised)
	}
	// Short and emergency numbers leave as dialled in Norway (112, 1881):
	// operators route them by the bare digits, not as +47 numbers.
	user := n.Normalised
	if n.Kind == dialplan.Emergency || n.Kind == dialplan.Short {
		user = n.Domestic()
	}
	d.Callee = user
	cid, display := pc.callerID(emergency)
	for _, t := range trunks {
		host := hostPort(t)
		o := &Outbound{TrunkID: t.ID, Trunk: t.Name, Display: display}
		if cid != "" {
			o.From = "sip:" + cid + "@" + uriHost(t.Host)
			o.Identity = o.From
		}
		if emergency {
			o.Emergency = pc.location()
		} else {
			o.Private = pc.caller.HideCallerID
		}
		d.Targets = append(d.Targets, Target{
			URI:         "sip:" + user + "@" + host + ";user=phone" + transportSuffix(t),
			Transport:   transportOf(t),
			Destination: host,
			Outbound:    o,
		})
	}
	d.Kind, d.Serial = Fork, true
	d.Why = "trunks " + trunkNames(trunks)
	return d
}

// callerID is the number a call presents: for emergency calls the site's
// (it tells the emergency centre where the caller is), otherwise the
// extension's own DID; then the tenant's switchboard number if public.
func (pc planContext) callerID(emergency bool) (number, display string) {
	display = pc.caller.DisplayName
	if emergency && pc.caller.SiteID != nil {
		if s, ok := pc.ps.Site(*pc.caller.SiteID); ok && s.DID != "" {
			return s.DID, display
		}
	}
	if pc.caller.DID != "" {
		return pc.caller.DID, display
	}
	if strings.HasPrefix(pc.tenant.SwitchboardNumber, "+") {
		return pc.tenant.SwitchboardNumber, pc.tenant.DisplayName
	}
	return "", display
}

// location describes the caller's site for EmergencyHeader.
func (pc planContext) location() string {
	parts := []string{"tenant=" + quote(pc.tenant.Name), "ext=" + quote(pc.caller.Number)}
	if pc.caller.SiteID != nil {
		if s, ok := pc.ps.Site(*pc.caller.SiteID); ok {
			parts = append(parts, "site="+quote(s.Name))
			if s.Address != "" {
				parts = append(parts, "address="+quote(s.Address))
			}
			if s.DID != "" {
				parts = append(parts, "did="+quote(s.DID))
			}
		}
	}
	return strings.Join(parts, ";")
}

// quote makes a header parameter value of s: quoted, with quotes,
// backslashes and control characters dropped (names come from admins).
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		if r == '"' || r == '\\' || r < 0x20 || r == 0x7f {
			continue
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}

// chooseTrunks lists the enabled trunks that route e164, in the order to
// try them: for emergency calls trunks marked for emergency first (they
// need no matching route); then by priority (lower first), the longer
// matching route first among equal priorities, then by name.
func chooseTrunks(all []store.Trunk, e164 string, emergency bool) []store.Trunk {
	type cand struct {
		t     store.Trunk
		match int // length of the longest matching route; -1 none
	}
	var cs []cand
	for _, t := range all {
		if !t.Enabled {
			continue
		}
		m := -1
		for _, r := range t.Routes {
			if store.RouteMatches(r, e164) && len(r) > m {
				m = len(r)
			}
		}
		if m < 0 && !(emergency && t.Emergency) {
			continue
		}
		cs = append(cs, cand{t, m})
	}
	slices.SortStableFunc(cs, func(a, b cand) int {
		if emergency && a.t.Emergency != b.t.Emergency {
			if a.t.Emergency {
				return -1
			}
			return 1
		}
		return cmp.Or(cmp.Compare(a.t.Priority, b.t.Priority), cmp.Compare(b.match, a.match), strings.Compare(a.t.Name, b.t.Name))
	})
	out := make([]store.Trunk, len(cs))
	for i, c := range cs {
		out[i] = c.t
	}
	return out
}

// uriHost is host as it goes into a SIP URI: IPv6 literals in brackets.
func uriHost(host string) string {
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		return "[" + host + "]"
	}
	return host
}

func trunkNames(ts []store.Trunk) string {
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.Name
	}
	return strings.Join(names, ",")
}

func transportOf(t store.Trunk) string {
	if t.Transport == "" {
		return "udp"
	}
	return strings.ToLower(t.Transport)
}

func transportSuffix(t store.Trunk) string {
	if tr := transportOf(t); tr != "udp" {
		return ";transport=" + tr
	}
	return ""
}

func hostPort(t store.Trunk) string {
	port := t.Port
	if port == 0 {
		port = 5060
		if transportOf(t) == "tls" {
			port = 5061
		}
	}
	return net.JoinHostPort(t.Host, strconv.Itoa(port))
}

// inbound routes a call a trunk delivers: the request-URI user is one of
// the trunk tenant's public numbers.
func inbound(req Request, st State, ps PlanState, trunk store.Trunk) Decision {
	d := Decision{Direction: DirInbound, Dialled: req.URIUser, Caller: req.FromUser,
		InboundTrunk: &Outbound{TrunkID: trunk.ID, Trunk: trunk.Name}}
	tenant, ok := ps.Tenant(trunk.TenantID)
	if !ok {
		return d.reject(StatusNotFound, "Not Found", "trunk "+trunk.Name+" has no tenant")
	}
	d.CallerTenant, d.CalleeTenant = tenant, tenant
	did := inboundNumber(req.URIUser)
	if did == "" {
		// A registering trunk sends calls to the Contact we registered
		// (sip:sentral-trunk@...); the number called is in To.
		did = inboundNumber(req.ToUser)
		d.Dialled = req.ToUser
	}
	d.Normalised = did
	if did == "" {
		return d.reject(StatusNotFound, "Not Found", "request-uri user "+strconv.Quote(req.URIUser)+" is no public number")
	}
	if t, ok := ps.DID(did); ok && t.TenantID == tenant.ID {
		switch t.Kind {
		case DIDSwitchboard:
			return switchboard(st, ps, tenant, d)
		default:
			return ringNumber(st, ps, tenant, t.Number, d, 0)
		}
	}
	if !store.InRanges(tenant.Ranges, store.RangeDID, did) {
		return d.reject(StatusNotFound, "Not Found", did+" is not a number of tenant "+tenant.Name)
	}
	if tenant.UnknownDID == store.UnknownDIDReject {
		return d.reject(StatusNotFound, "Not Found", did+" is unassigned (unknown DIDs are rejected)")
	}
	return switchboard(st, ps, tenant, d)
}

// switchboard rings the tenant's switchboard number.
func switchboard(st State, ps PlanState, tenant store.Tenant, d Decision) Decision {
	sb := tenant.SwitchboardNumber
	if sb == "" {
		return d.reject(StatusNotFound, "Not Found", "tenant "+tenant.Name+" has no switchboard")
	}
	if strings.HasPrefix(sb, "+") {
		// A public switchboard number rings the operators' queue.
		d.CalleeExt = sb
		return queueTarget(st, tenant, d)
	}
	return ringNumber(st, ps, tenant, sb, d, 1)
}

// AppSwitchboard is the media server application of the operators' queue.
const AppSwitchboard = "switchboard"

// queueTarget puts a call to the switchboard into the operators' queue at
// the media server (media/queue decides night service and overflow).
func queueTarget(st State, tenant store.Tenant, d Decision) Decision {
	if qh, ok := st.(QueueHome); ok {
		if addr, local := qh.QueueHome(); !local {
			// One node holds the queues of a cluster: the call goes to
			// its media server through it (recorded here, where it
			// entered).
			d.Kind, d.Why = Fork, "switchboard queue of "+tenant.Name+" on node "+addr
			d.Targets = []Target{{URI: "sip:" + cmp.Or(d.Dialled, tenant.SwitchboardNumber) + "@" + tenant.Domain, Transport: "udp", Destination: addr,
				Route: []string{"<sip:" + addr + ";lr>"}, Number: tenant.SwitchboardNumber,
				Relay: strconv.FormatInt(tenant.ID, 10) + ";" + RelaySwitchboard}}
			return d
		}
	}
	return localQueueTarget(st, tenant, d)
}

// QueueHome, when the State implements it, says which node of a cluster
// holds the switchboard queues: calls to a switchboard number entering
// another node are relayed to it (addr, its SIP address).
type QueueHome interface {
	QueueHome() (addr string, local bool)
}

// RelaySwitchboard is the number of a relayed call to the switchboard
// queue in RelayHeader.
const RelaySwitchboard = "@switchboard"

// localQueueTarget sends the call to this node's switchboard queue.
func localQueueTarget(st State, tenant store.Tenant, d Decision) Decision {
	ms := mediaServer(st)
	if ms == "" {
		return d.reject(StatusTemporarilyUnavail, "Temporarily Unavailable", "no media server for the switchboard queue")
	}
	t := MediaTarget(ms, AppSwitchboard, "tenant", strconv.FormatInt(tenant.ID, 10), "dialled", d.Dialled)
	t.Number = tenant.SwitchboardNumber
	d.Kind, d.Targets = Fork, []Target{t}
	d.Why = "switchboard queue of " + tenant.Name
	return d
}

// system routes a call our media server places (the switchboard ringing
// an operator, putting a caller through, calling back): trusted without
// credentials, dialled in the request-URI tenant's number plan as a phone
// of the tenant would dial it. The caller shown is the media server's
// From (the original caller, so the callee sees who is put through);
// external numbers go out with the tenant's public switchboard identity.
func system(req Request, st State, ps PlanState) Decision {
	d := Decision{Direction: DirInternal, Dialled: req.URIUser, Caller: req.FromUser}
	tenant, ok := st.TenantByDomain(req.URIHost)
	if !ok {
		return d.reject(StatusNotFound, "Not Found", "media server call to unknown domain "+req.URIHost)
	}
	d.CallerTenant, d.CalleeTenant = tenant, tenant
	// The switchboard acts for the tenant: it may reach mobiles and
	// national numbers, like the default class of service.
	caller := store.Extension{TenantID: tenant.ID, COS: store.DefaultCOS, DisplayName: tenant.DisplayName}
	pc := planContext{st: st, ps: ps, tenant: tenant, caller: caller}
	n, err := dialplan.Classify(dialplan.Plan{OutsidePrefix: tenant.OutsidePrefix, Internal: pc.internal}, req.URIUser)
	if err != nil {
		return d.reject(StatusNotFound, "Not Found", err.Error())
	}
	d.Normalised = n.Normalised
	switch n.Kind {
	case dialplan.Internal:
		return pc.internalTarget(req, d, n.Normalised)
	case dialplan.Emergency:
		d.Direction = DirEmergency
		return pc.outbound(d, n, true)
	}
	if t, ok := ps.DID(n.Normalised); ok {
		// A public number of this centre stays here: the tenant's own
		// extensions and groups, or another tenant's (a night target in a
		// shared centre), including that tenant's switchboard queue.
		owner, known := tenant, true
		if t.TenantID != tenant.ID {
			owner, known = ps.Tenant(t.TenantID)
		}
		switch {
		case !known:
		case t.Kind != DIDSwitchboard:
			return ringNumber(st, ps, owner, t.Number, d, 0)
		case owner.ID != tenant.ID:
			d.CalleeTenant, d.CalleeExt = owner, t.Number
			return queueTarget(st, owner, d)
		}
	}
	d.Direction = DirOutbound
	if ok, reason := dialplan.Allowed(string(caller.COS), n.Kind); !ok {
		return d.reject(StatusForbidden, reason, "the switchboard's class of service refuses "+n.Kind.String())
	}
	return pc.outbound(d, n, false)
}

// inboundNumber turns the user part an operator sends into E.164: +47...,
// 0047..., 47 and 8 digits, or 8 national digits. Anything else is "".
func inboundNumber(user string) string {
	user, _, _ = strings.Cut(user, ";")
	switch {
	case strings.HasPrefix(user, "+"):
	case strings.HasPrefix(user, "00"):
		user = "+" + user[2:]
	case len(user) == 10 && strings.HasPrefix(user, "47"):
		user = "+" + user
	case len(user) == 8:
		user = "+47" + user
	default:
		return ""
	}
	if len(user) < 4 || len(user) > 16 {
		return ""
	}
	for _, c := range user[1:] {
		if c < '0' || c > '9' {
			return ""
		}
	}
	return user
}
