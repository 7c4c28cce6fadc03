// Package routing decides where a SIP request goes. Decide is a pure
// function of a small request summary and the state it reads (tenants,
// extensions, bindings); the proxy parses the message, calls Decide and
// executes the decision. Keeping the decision apart from the execution
// lets every rule be listed in a table test.
//
// The rules, in the order they are applied:
//  1. Max-Forwards 0: 483 Too Many Hops. A request we already forwarded
//     coming back unchanged (our own Via with the same branch key): 482.
//  2. In-dialog requests (To tag present) are forwarded only along a
//     Route we put there (Record-Route): to a registered contact of the
//     tenant, reached over the flow it registered from, or to a trunk's
//     operator; requests from a trunk reach the phone of its tenant the
//     dialog names. Anything else in a dialog gets 404: Sentral relays no
//     dialog it did not set up.
//  3. Out of dialog, only INVITE is routed for now; MESSAGE, SUBSCRIBE,
//     OPTIONS to a user and the rest get 501 until presence and messaging
//     arrive. A CANCEL that matched no transaction gets 481.
//  4. An INVITE from a trunk's address is an inbound call: its
//     request-URI names one of the trunk tenant's public numbers (plan.go).
//  5. A request-URI domain no tenant owns gets 403 (no relay), after the
//     caller has proved to be one of our extensions (407 first) when its
//     From domain is ours.
//  6. The caller must be authenticated (407) as the extension in From, in
//     the tenant of the From domain.
//  7. What the extension dialled is classified by the tenant's number plan
//     (sip/dialplan): emergency numbers go out through the trunks whatever
//     the class of service, emergency trunks first; internal numbers ring
//     extensions (all bindings in parallel, or a static DECT gateway),
//     groups or the switchboard; the tenant's own public numbers ring here;
//     other numbers go out through the trunks whose routes match, one after
//     another, if the extension's class of service allows (else 403).
//     Unknown or disabled numbers get 404; a known extension without
//     bindings is Unavailable (480 today, voicemail later).
package routing

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sentralpbx/sentral/store"
)

// Request is what Decide needs to know about a SIP request.
type Request struct {
	Method string // INVITE, BYE, ...
	// URIUser, URIHost and URI are the request-URI's user part, host (lower
	// case) and the whole URI in the canonical form the registrar stores
	// contacts in (lower-case scheme and host).
	URIUser, URIHost, URI string
	// URIHostPort is the request-URI's host:port (default port filled in);
	// URITransport its transport parameter (lower case, "" when absent).
	URIHostPort, URITransport string
	// URIIsUs: the request-URI host is one of our own listener addresses
	// (phones that dial sip:101@192.0.2.10 instead of the domain).
	URIIsUs               bool
	FromUser, FromHost    string
	ToUser, ToHost, ToTag string
	MaxForwards           int  // -1 when the header is absent
	Loop                  bool // our own Via carries this request's branch key
	RouteToUs             bool // the topmost Route named us (already popped)
	MoreRoutes            bool // Route entries remain after ours
	Authenticated         bool // Proxy-Authorization verified
	AuthTenantID          int64
	AuthExt               string // extension number the credentials belong to
	AuthStale             bool   // the answer was right but its nonce stale
	// Source is the address the request came from: requests from a
	// trunk's peer addresses are inbound calls.
	Source netip.Addr
	// FromMedia: the request came from our own media server's socket (the
	// switchboard calling an operator or a transfer target). It is trusted
	// like an authenticated caller of the request-URI's tenant.
	FromMedia bool
	// DialogNumbers are the extension numbers the proxy recorded for this
	// dialog (caller, callee, the group member that answered), which the
	// request itself may not name (a call to a DID or a group).
	DialogNumbers []string
	// DialogTenant is the tenant of the extension the proxy recorded for
	// this dialog (0: none), for dialogs whose URIs name no tenant domain
	// (a call relayed from another node of the cluster).
	DialogTenant int64
	// DialogCaller is where the proxy saw this dialog's caller: its
	// Contact at the address its INVITE came from (nil: unknown).
	// Requests to the caller go there even when it has no binding.
	DialogCaller *Target
	// FromPeer: the request came from another node of the cluster (see
	// Peers). RelayTenant and RelayNumber are the AOR such a node asked
	// us to deliver a new call to (the X-Sentral-Relay header), honoured
	// only from peers.
	FromPeer    bool
	RelayTenant int64
	RelayNumber string
	// NextRoutePeer is the host:port of the Route entry after ours when it
	// names another node of the cluster: in-dialog requests of a call that
	// went through both nodes travel on to it.
	NextRoutePeer string
}

// Peers, when the State implements it, places the bindings other nodes
// of a cluster hold (store.Binding.Node). A binding of this node is sent
// to as it is; one of another live node is relayed through that node,
// which alone holds the phone's flow; one of a node that stopped
// heartbeating is skipped (the phone is expected to re-register on a
// live node).
type Peers interface {
	// Peer returns how to reach the node named: local for this node (and
	// for ""), otherwise its SIP address (host:port, UDP) and whether it
	// is alive.
	Peer(node string) (addr string, local, alive bool)
}

// RelayHeader carries, on a call one node relays to another, the AOR
// (tenant id and extension number) whose binding the request-URI is.
const RelayHeader = "X-Sentral-Relay"

// State is what Decide reads; the catalog (tenants, extensions) and the
// location service (bindings) provide it together.
type State interface {
	TenantByDomain(domain string) (store.Tenant, bool)
	Extension(tenantID int64, number string) (store.Extension, bool)
	Bindings(tenantID int64, number string) []store.Binding
}

// TrunkFinder tells which trunk a source address belongs to. A State that
// also implements PlanState and TrunkFinder gets number-plan routing:
// dialling with normalisation and class of service, trunks, public
// numbers, groups and static DECT (plan.go).
type TrunkFinder interface {
	TrunkFrom(addr netip.Addr) (store.Trunk, bool)
}

// MediaFinder, when the State implements it, names Sentral's media server
// (host:port): voicemail and announcements are routed there. Without it,
// or with "", nothing goes to voicemail.
type MediaFinder interface {
	MediaServer() string
}

// GroupFinder, when the State implements it, lists the groups an
// extension belongs to: group call pickup picks up calls ringing at the
// other members.
type GroupFinder interface {
	GroupsOf(tenantID int64, number string) []store.Group
}

// Kind says what the proxy does with a request.
type Kind int

// Decision kinds.
const (
	// Reject: answer Code and Reason, route nowhere.
	Reject Kind = iota + 1
	// Challenge: answer 407 with a digest challenge for Realm.
	Challenge
	// Fork: send the request to every target in parallel.
	Fork
	// Forward: send an in-dialog request to its one target (Targets[0]).
	Forward
	// Unavailable: the extension exists but nothing is registered and
	// nothing takes its calls: the proxy answers Code (480).
	Unavailable
	// Feature: the caller dialled a feature code that changes a setting
	// (Feature); the proxy applies it and connects the caller to
	// Targets, the announcement of the outcome (see Announce).
	Feature
	// Pickup: the caller dialled the pickup code; the proxy looks for a
	// call ringing at one of PickupFrom and sends it to Targets (the
	// caller's phones).
	Pickup
)

func (k Kind) String() string {
	switch k {
	case Reject:
		return "reject"
	case Challenge:
		return "challenge"
	case Fork:
		return "fork"
	case Forward:
		return "forward"
	case Unavailable:
		return "unavailable"
	case Feature:
		return "feature"
	case Pickup:
		return "pickup"
	}
	return "unknown"
}

// Target is one place a request is sent to.
type Target struct {
	// URI becomes the request-URI: the binding's Contact.
	URI string
	// Transport is udp, tcp, tls, ws or wss.
	Transport string
	// Destination is the ip:port the request is sent to: where the binding
	// came from, never the Contact host (browsers put .invalid there and
	// phones behind NAT their private address). On connection transports
	// it names the registered connection.
	Destination string
	// Route lists the binding's Path (RFC 3327), to be sent as Route headers.
	Route []string
	// Number is the extension the target belongs to; Q its binding's q.
	Number string
	Q      float64
	// Outbound is set on trunk targets: how the call presents itself.
	Outbound *Outbound
	// Media is set on targets at Sentral's media server (voicemail,
	// announcements): the proxy reaches it over loopback.
	Media bool
	// Diversion, when set, is sent as a Diversion header (RFC 5806): the
	// call was forwarded by this extension, for the reason given.
	Diversion string
	// Relay, when set, is the RelayHeader value for a target reached
	// through another node of the cluster.
	Relay string
	// CallerName and CallerIdentity, when set, present the caller to
	// the callee by the phone book: the From display name and a
	// P-Asserted-Identity (RFC 3325) with this name and URI. Only on
	// targets inside the PBX; trunks get Outbound instead.
	CallerName, CallerIdentity string
}

// Outcome is how a stage of a call ended without an answer.
type Outcome uint8

// Outcomes of a stage, combined in Stage.When.
const (
	// OnNoAnswer: the stage rang for its RingFor without an answer.
	OnNoAnswer Outcome = 1 << iota
	// OnBusy: a target answered busy (486, 600) or declined (603).
	OnBusy
	// OnFailed: every target failed otherwise (480, 404, 408, 5xx, ...).
	OnFailed
	// OnAny is every way a stage ends unanswered.
	OnAny = OnNoAnswer | OnBusy | OnFailed
)

// Stage is a later step of a call's search for someone to answer: a
// forward on busy or no answer, the next member of a hunt group, a group's
// overflow. Stage 0 is the decision's own Targets.
type Stage struct {
	Targets []Target
	Serial  bool
	// RingFor ends the stage unanswered after this long (OnNoAnswer); 0
	// leaves only the proxy's ring timeout.
	RingFor time.Duration
	// After is the stage this one follows (0: the decision's Targets, k:
	// Next[k-1]); When the outcomes of that stage that lead here. The
	// first stage in Next that matches is taken.
	After int
	When  Outcome
	Why   string
}

// Decision is the outcome of Decide.
type Decision struct {
	Kind   Kind
	Code   int    // Reject, Unavailable
	Reason string // Reject, Unavailable: reason phrase
	Realm  string // Challenge: the caller tenant's domain
	Stale  bool   // Challenge: the nonce was stale, not the password wrong
	// Caller and Callee are the tenants and extensions involved, when known.
	CallerTenant, CalleeTenant store.Tenant
	CallerExt, CalleeExt       string
	Targets                    []Target
	// Serial: try Targets one after another, the next when one fails
	// with 408, 5xx or no answer at all (trunk failover); otherwise all at
	// once.
	Serial bool
	// RingFor ends the first stage (Targets) unanswered after this long,
	// so Next can take over; 0 rings until the proxy's ring timeout.
	RingFor time.Duration
	// Next are the stages tried when the first ends unanswered.
	Next []Stage
	// Feature is the setting a feature code changes (Kind Feature).
	Feature *FeatureOp
	// PickupFrom are the extensions whose ringing calls the caller may
	// pick up (Kind Pickup).
	PickupFrom []string
	// MediaServer is the media server's address (host:port), when the
	// proxy has to build an announcement itself (Kind Feature, Pickup).
	MediaServer string
	// Language of the caller's prompts ("" for the default).
	Language string
	// For call records: Direction (Dir*), what was dialled and its
	// normalised form, the external party's number (Caller on inbound
	// calls, Callee on outbound ones) and the trunk an inbound call came
	// over.
	Direction, Dialled, Normalised string
	Caller, Callee                 string
	InboundTrunk                   *Outbound
	// Why explains the decision for logs; never sent to the peer.
	Why string
}

// SIP status codes used in decisions.
const (
	StatusForbidden            = 403
	StatusNotFound             = 404
	StatusTemporarilyUnavail   = 480
	StatusTransactionNotExists = 481
	StatusLoopDetected         = 482
	StatusTooManyHops          = 483
	StatusAddressIncomplete    = 484
	StatusBusyHere             = 486
	StatusNotImplemented       = 501
	StatusServiceUnavailable   = 503
)

func reject(code int, reason, why string) Decision {
	return Decision{Kind: Reject, Code: code, Reason: reason, Why: why}
}

// NameFinder, when the State implements it, names the numbers calls come
// from (the phone book): internal and inbound calls then present the
// caller's directory name to the callee.
type NameFinder interface {
	CallerName(tenantID int64, number string) (string, bool)
}

// Decide routes one request.
func Decide(req Request, st State) Decision {
	d := decide(req, st)
	if nf, ok := st.(NameFinder); ok {
		present(&d, nf)
	}
	return d
}

// present names the caller on the targets of a new internal or inbound
// call, when the phone book knows the number. A name the phone or the
// operator sent stays when the book has none.
func present(d *Decision, nf NameFinder) {
	if d.Kind != Fork && d.Kind != Feature {
		return
	}
	var tenant store.Tenant
	var number, uri string
	switch d.Direction {
	case DirInternal:
		tenant, number = d.CallerTenant, d.CallerExt
		uri = "sip:" + number + "@" + tenant.Domain
	case DirInbound:
		tenant, number = d.CalleeTenant, d.Caller
		uri = "sip:" + number + "@" + tenant.Domain + ";user=phone"
	default:
		return
	}
	if tenant.ID == 0 || number == "" || strings.ContainsAny(number, `@;<>" \`) {
		return
	}
	name, ok := nf.CallerName(tenant.ID, number)
	// Names come from admins: nothing in them may break the header.
	name = strings.TrimSpace(strings.Map(func(r rune) rune {
		if r == '"' || r == '\\' || r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, name))
	if !ok || name == "" {
		return
	}
	set := func(ts []Target) {
		for i := range ts {
			if ts[i].Outbound == nil {
				ts[i].CallerName, ts[i].CallerIdentity = name, uri
			}
		}
	}
	set(d.Targets)
	for i := range d.Next {
		set(d.Next[i].Targets)
	}
}

// decide routes one request; Decide adds the caller's name.
func decide(req Request, st State) Decision {
	if req.MaxForwards == 0 {
		return reject(StatusTooManyHops, "Too Many Hops", "max-forwards reached 0")
	}
	if req.Loop {
		return reject(StatusLoopDetected, "Loop Detected", "our via with this request's branch key")
	}
	if req.Method == "CANCEL" {
		// The transaction layer answers CANCELs that match an INVITE; one
		// reaching routing matched nothing.
		return reject(StatusTransactionNotExists, "Call/Transaction Does Not Exist", "cancel matched no transaction")
	}
	if req.ToTag != "" {
		return inDialog(req, st)
	}
	if req.Method != "INVITE" {
		return reject(StatusNotImplemented, "Not Implemented", "out-of-dialog "+req.Method+" is not routed yet")
	}
	if req.MoreRoutes {
		// A preloaded route beyond us would make us relay to wherever the
		// client says.
		return reject(StatusForbidden, "No Relay", "route beyond us out of dialog")
	}

	if req.FromPeer {
		return relayed(req, st)
	}
	ps, _ := st.(PlanState)
	if req.FromMedia && ps != nil {
		return system(req, st, ps)
	}
	if tf, ok := st.(TrunkFinder); ok && ps != nil && req.Source.IsValid() {
		if trunk, ok := tf.TrunkFrom(req.Source); ok {
			return inbound(req, st, ps, trunk)
		}
	}

	callerTenant, callerOurs := st.TenantByDomain(req.FromHost)
	calleeDomain := req.URIHost
	if req.URIIsUs {
		calleeDomain = req.FromHost
	}
	calleeTenant, calleeOurs := st.TenantByDomain(calleeDomain)

	if !callerOurs {
		// Nobody we could authenticate: a stranger may neither relay
		// through us nor call our extensions (trunks are recognised by
		// their addresses above).
		if !calleeOurs {
			return reject(StatusForbidden, "No Relay", "foreign request-uri domain "+calleeDomain+" from foreign caller")
		}
		return reject(StatusForbidden, "Forbidden", "caller domain "+req.FromHost+" is not served")
	}
	d := Decision{CallerTenant: callerTenant, CallerExt: req.FromUser, CalleeTenant: calleeTenant, CalleeExt: req.URIUser}
	if !req.Authenticated {
		d.Kind, d.Realm, d.Stale = Challenge, callerTenant.Domain, req.AuthStale
		d.Why = "caller not authenticated"
		return d
	}
	if req.AuthTenantID != callerTenant.ID || req.AuthExt != req.FromUser {
		return d.reject(StatusForbidden, "Forbidden", "credentials of "+req.AuthExt+" used for from "+req.FromUser)
	}
	if !calleeOurs {
		// Public numbers are dialled at our own domain; a foreign SIP
		// domain would make us an open relay.
		return d.reject(StatusForbidden, "No Relay", "foreign request-uri domain "+calleeDomain)
	}
	if calleeTenant.ID != callerTenant.ID {
		// Another tenant of this centre, by its domain: only its internal
		// numbers, never its trunks.
		d.Direction, d.Dialled, d.Normalised = DirInternal, req.URIUser, req.URIUser
		return ringNumber(st, ps, calleeTenant, req.URIUser, d, 1)
	}
	return dial(req, st, ps, d)
}

func (d Decision) reject(code int, reason, why string) Decision {
	d.Kind, d.Code, d.Reason, d.Why = Reject, code, reason, why
	d.Targets = nil
	return d
}

// inDialog routes a request inside a dialog we record-routed.
func inDialog(req Request, st State) Decision {
	if !req.RouteToUs {
		return reject(StatusNotFound, "Not Found", "in-dialog request without our route")
	}
	if req.MoreRoutes {
		if req.NextRoutePeer != "" {
			// The call went through another node of the cluster too:
			// the request goes on to it, Route and all.
			return Decision{Kind: Forward, Why: "next hop: cluster peer " + req.NextRoutePeer,
				Targets: []Target{{URI: req.URI, Transport: "udp", Destination: req.NextRoutePeer}}}
		}
		return reject(StatusForbidden, "No Relay", "route beyond us in dialog")
	}
	if d, ok := mediaDialog(req, st); ok {
		return d
	}
	// The request-URI is the remote target: a contact one of the two
	// parties registered. Look for it among the bindings of the numbers the
	// dialog names (browsers' contacts carry random users, so the
	// request-URI user alone does not find them).
	for _, t := range dialogTenants(req, st) {
		for _, n := range uniq(append([]string{req.URIUser, req.ToUser, req.FromUser}, req.DialogNumbers...)...) {
			for _, b := range st.Bindings(t.ID, n) {
				// A phone may answer with another Contact than it
				// registered (a different user part, say); its address is
				// still the source of a binding.
				if sameURI(b.Contact, req.URI) || req.URIHostPort != "" && req.URIHostPort == b.Source {
					if tg, ok := targetOf(st, b); ok {
						return Decision{Kind: Forward, Why: "registered contact", CalleeTenant: t, CalleeExt: n,
							Targets: []Target{tg}}
					}
				}
			}
		}
	}
	if c := req.DialogCaller; c != nil && (sameURI(c.URI, req.URI) || req.URIHostPort != "" && req.URIHostPort == c.Destination) {
		return Decision{Kind: Forward, Why: "the dialog's caller", Targets: []Target{*c}}
	}
	if d, ok := trunkDialog(req, st); ok {
		return d
	}
	if d, ok := staticDECTDialog(req, st); ok {
		return d
	}
	return reject(StatusNotFound, "Not Found", "in-dialog target "+req.URI+" is no registered contact")
}

// trunkDialog routes in-dialog requests of calls through trunks: towards
// the operator (the request-URI is a trunk's address) and from it (the
// phone is found in the trunk's tenant, by its number or by the public
// number the dialog names).
func trunkDialog(req Request, st State) (Decision, bool) {
	ps, _ := st.(PlanState)
	tf, _ := st.(TrunkFinder)
	if ps == nil || tf == nil {
		return Decision{}, false
	}
	if tr, ok := trunkOfURI(req, st, ps, tf); ok {
		tp := req.URITransport
		if tp == "" {
			tp = transportOf(tr)
		}
		return Decision{Kind: Forward, Why: "trunk " + tr.Name,
			Targets: []Target{{URI: req.URI, Transport: tp, Destination: req.URIHostPort}}}, true
	}
	if !req.Source.IsValid() {
		return Decision{}, false
	}
	tr, ok := tf.TrunkFrom(req.Source)
	if !ok {
		return Decision{}, false
	}
	tenant, ok := ps.Tenant(tr.TenantID)
	if !ok {
		return Decision{}, false
	}
	numbers := uniq(append([]string{req.URIUser, req.ToUser, req.FromUser}, req.DialogNumbers...)...)
	for _, n := range []string{req.ToUser, req.FromUser} {
		if t, ok := ps.DID(inboundNumber(n)); ok && t.TenantID == tenant.ID && t.Kind == DIDExtension {
			numbers = append(numbers, t.Number)
		}
	}
	for _, n := range uniq(numbers...) {
		for _, b := range st.Bindings(tenant.ID, n) {
			if sameURI(b.Contact, req.URI) || req.URIHostPort != "" && req.URIHostPort == b.Source {
				if tg, ok := targetOf(st, b); ok {
					return Decision{Kind: Forward, Why: "registered contact, from trunk " + tr.Name, CalleeTenant: tenant,
						CalleeExt: n, Targets: []Target{tg}}, true
				}
			}
		}
	}
	return Decision{}, false
}

// staticDECTDialog forwards in-dialog requests to a static-mode DECT
// gateway: the request-URI is the gateway's address, and a number the
// dialog names is a handset it serves.
func staticDECTDialog(req Request, st State) (Decision, bool) {
	ps, _ := st.(PlanState)
	if ps == nil || req.URIHostPort == "" {
		return Decision{}, false
	}
	for _, host := range uniq(req.ToHost, req.FromHost) {
		t, ok := st.TenantByDomain(host)
		if !ok {
			continue
		}
		for _, n := range uniq(req.URIUser, req.ToUser, req.FromUser) {
			if addr, ok := ps.StaticDECT(t.ID, n); ok && addr == req.URIHostPort {
				return Decision{Kind: Forward, Why: "static DECT gateway of " + n, CalleeTenant: t, CalleeExt: n,
					Targets: []Target{{URI: req.URI, Transport: "udp", Destination: addr, Number: n}}}, true
			}
		}
	}
	return Decision{}, false
}

// trunkOfURI finds the trunk whose operator the request-URI names: by
// address, or by host name among the trunks of the dialog's tenants.
func trunkOfURI(req Request, st State, ps PlanState, tf TrunkFinder) (store.Trunk, bool) {
	if ap, err := netip.ParseAddrPort(req.URIHostPort); err == nil {
		if tr, ok := tf.TrunkFrom(ap.Addr().Unmap()); ok {
			return tr, true
		}
	}
	for _, host := range uniq(req.ToHost, req.FromHost) {
		t, ok := st.TenantByDomain(host)
		if !ok {
			continue
		}
		for _, tr := range ps.Trunks(t.ID) {
			if strings.EqualFold(tr.Host, req.URIHost) {
				return tr, true
			}
		}
	}
	return store.Trunk{}, false
}

// targetOf is where a binding is reached: at its source, or through the
// node of the cluster that holds it. ok is false for a binding of a node
// that is gone.
func targetOf(st State, b store.Binding) (Target, bool) {
	if ps, isCluster := st.(Peers); isCluster {
		addr, local, alive := ps.Peer(b.Node)
		if !local {
			if !alive {
				return Target{}, false
			}
			// The other node pops its Route, finds the binding by the
			// request-URI and sends it on over the phone's flow.
			return Target{URI: b.Contact, Transport: "udp", Destination: addr, Route: []string{"<sip:" + addr + ";lr>"},
				Number: b.Number, Q: b.Q, Relay: strconv.FormatInt(b.TenantID, 10) + ";" + b.Number}, true
		}
	}
	return bindingTarget(b), true
}

// bindingTarget is where a binding of this node is sent to.
func bindingTarget(b store.Binding) Target {
	dest := b.Source
	if b.Flow != "" {
		// "tcp:192.0.2.7:50312": the connection the phone registered on.
		if _, addr, ok := strings.Cut(b.Flow, ":"); ok {
			dest = addr
		}
	}
	return Target{URI: b.Contact, Transport: b.Transport, Destination: dest, Route: b.Path, Number: b.Number, Q: b.Q}
}

// sameURI compares a stored contact with a request-URI. Both are in the
// registrar's canonical form and most phones repeat their Contact
// verbatim, so equal strings (ignoring case: some phones change the case
// of the host between REGISTER and INVITE) decide at once. Otherwise the
// URIs are compared as RFC 3261 §19.1.4 says: the same scheme, user, host
// and port, and every parameter present in both equal; a user, ttl,
// method or maddr parameter in only one never matches; other parameters
// in only one are ignored. JsSIP, for one, adds ;ob to the Contact of its
// INVITEs but not of its REGISTERs.
func sameURI(a, b string) bool {
	if strings.EqualFold(a, b) {
		return true
	}
	baseA, paramsA, _ := strings.Cut(a, ";")
	baseB, paramsB, _ := strings.Cut(b, ";")
	if !strings.EqualFold(baseA, baseB) {
		return false
	}
	pa, pb := uriParams(paramsA), uriParams(paramsB)
	for k, va := range pa {
		vb, ok := pb[k]
		if ok && !strings.EqualFold(va, vb) {
			return false
		}
		if !ok && strictParam(k) {
			return false
		}
	}
	for k := range pb {
		if _, ok := pa[k]; !ok && strictParam(k) {
			return false
		}
	}
	return true
}

// strictParam: a URI parameter that must be in both URIs to match.
func strictParam(name string) bool {
	return name == "user" || name == "ttl" || name == "method" || name == "maddr"
}

// uriParams reads ";a=b;c" (headers after ? dropped) into lower-case names.
func uriParams(s string) map[string]string {
	s, _, _ = strings.Cut(s, "?")
	m := map[string]string{}
	for _, p := range strings.Split(s, ";") {
		if p == "" {
			continue
		}
		k, v, _ := strings.Cut(p, "=")
		m[strings.ToLower(k)] = v
	}
	return m
}

func uniq(vs ...string) []string {
	out := vs[:0:0]
	for _, v := range vs {
		if v == "" {
			continue
		}
		dup := false
		for _, o := range out {
			if o == v {
				dup = true
			}
		}
		if !dup {
			out = append(out, v)
		}
	}
	return out
}

// tenantByID finds a tenant by id (PlanState has it).
type tenantByID interface {
	Tenant(id int64) (store.Tenant, bool)
}

// dialogTenants are the tenants an in-dialog request may belong to: those
// of its To and From domains, and the one the proxy recorded.
func dialogTenants(req Request, st State) []store.Tenant {
	var ts []store.Tenant
	for _, host := range uniq(req.ToHost, req.FromHost) {
		if t, ok := st.TenantByDomain(host); ok {
			ts = append(ts, t)
		}
	}
	if ps, ok := st.(tenantByID); ok && req.DialogTenant != 0 {
		if t, ok := ps.Tenant(req.DialogTenant); ok && !slices.ContainsFunc(ts, func(x store.Tenant) bool { return x.ID == t.ID }) {
			ts = append(ts, t)
		}
	}
	return ts
}

// relayed routes a new call another node of the cluster relays to one of
// our bindings: the node decided the call (and records it); we only
// carry it over the phone's flow, to the binding the request-URI names.
func relayed(req Request, st State) Decision {
	if req.Method != "INVITE" {
		return reject(StatusNotImplemented, "Not Implemented", "out-of-dialog "+req.Method+" from a peer")
	}
	if req.RelayNumber == "" {
		return reject(StatusForbidden, "Forbidden", "peer request without "+RelayHeader)
	}
	var tenant store.Tenant
	if ps, ok := st.(tenantByID); ok {
		tenant, _ = ps.Tenant(req.RelayTenant)
	}
	if req.RelayNumber == RelaySwitchboard {
		if tenant.ID == 0 {
			return reject(StatusNotFound, "Not Found", "relayed switchboard call for an unknown tenant")
		}
		return localQueueTarget(st, tenant, Decision{CalleeTenant: tenant, Dialled: req.URIUser})
	}
	for _, b := range st.Bindings(req.RelayTenant, req.RelayNumber) {
		if !sameURI(b.Contact, req.URI) {
			continue
		}
		tg, ok := targetOf(st, b)
		if !ok || tg.Relay != "" {
			// Not ours (any more): relaying on could loop between nodes.
			break
		}
		return Decision{Kind: Fork, Why: "relayed by a cluster peer", CalleeTenant: tenant, Targets: []Target{tg}}
	}
	return reject(StatusTemporarilyUnavail, "Temporarily Unavailable", "relayed contact "+req.URI+" is not registered here")
}
