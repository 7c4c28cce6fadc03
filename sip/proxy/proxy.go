// Package proxy is Sentral's stateful SIP proxy (RFC 3261 §16). It turns
// each request into a routing.Request, asks routing.Decide where it goes,
// and executes the decision with sipgo transactions: digest challenges
// (407), parallel forking with CANCEL of the losing branches, best-response
// selection, and forwarding of in-dialog requests along the Record-Route it
// inserted.
//
// Choices:
//   - Out of dialog only INVITE is routed; MESSAGE, SUBSCRIBE, OPTIONS to a
//     user and the rest are answered 501 until presence and messaging exist
//     (OPTIONS without a user is still answered by sip/server).
//   - Callers authenticate with Proxy-Authorization against their tenant's
//     domain, and the username must be the From user. In-dialog requests
//     are not challenged (many phones cannot answer a 407 to a BYE); they
//     are forwarded only along our own Route and only to a registered
//     contact, so the proxy relays nothing it did not set up.
//   - Requests go to where a binding came from (source address, or the
//     connection it registered on), never to the Contact host.
//   - Every 2xx is forwarded upstream (§16.7 step 5); the first one cancels
//     the other branches.
package proxy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/sip/auth"
	"github.com/sentralpbx/sentral/sip/callrecord"
	"github.com/sentralpbx/sentral/sip/routing"
	"github.com/sentralpbx/sentral/sip/self"
	"github.com/sentralpbx/sentral/store"
)

// Catalog answers who owns a domain and which extensions exist
// (*catalog.Catalog).
type Catalog interface {
	TenantByDomain(domain string) (store.Tenant, bool)
	Extension(tenantID int64, number string) (store.Extension, bool)
}

// DeviceAuth, when the Catalog also implements it, lets a desk phone call
// from any extension on its line keys with its own credentials (as it
// registers them; see registrar.DeviceAuth).
type DeviceAuth = auth.DeviceAuth

// Locations gives the bindings of an AOR (*location.Service).
type Locations interface {
	Bindings(tenantID int64, number string) []store.Binding
}

// Authenticator builds digest challenges and verifies answers
// (*auth.Authenticator).
type Authenticator interface {
	Challenge(realm string, stale bool, algorithms ...string) []string
	Verify(method, header, realm string, lookup func(user string) (auth.Credentials, bool)) auth.Result
}

// Guard is told the outcome of digest checks (*auth.Guard).
type Guard interface {
	Failed(ip netip.Addr) (banned bool)
	Succeeded(ip netip.Addr)
}

// Sender sends requests through the SIP stack (*sipgo.Client).
type Sender interface {
	TransactionRequest(ctx context.Context, req *sip.Request, options ...sipgo.ClientRequestOption) (sip.ClientTransaction, error)
	WriteRequest(req *sip.Request, options ...sipgo.ClientRequestOption) error
}

// Features applies a feature code's setting to an extension (the
// provisioning service, through the store, so the change is kept and
// every node sees it).
type Features interface {
	Apply(ctx context.Context, tenantID int64, ext string, op routing.FeatureOp) error
}

// Listener is one of our bound SIP listeners.
type Listener = self.Listener

// Defaults for Options.
const (
	DefaultRingTimeout = 120 * time.Second
	// DefaultCancelWait bounds how long a cancelled branch may take to
	// answer 487 before it is abandoned (64*T1, Timer B's value).
	DefaultCancelWait = 32 * time.Second
	// DefaultInDialogTimeout bounds a forwarded in-dialog transaction.
	DefaultInDialogTimeout = 40 * time.Second
)

// Options tune the proxy.
type Options struct {
	// FlowAlive, if set, reports whether the connection a target registered
	// over (tcp, tls, ws, wss) is still open. A target whose flow is gone
	// fails at once instead of sipgo dialling its old source address, which
	// a phone behind NAT or a browser can never accept (RFC 5626 §5.3).
	FlowAlive func(network, addr string) bool
	// Listeners are our addresses: they go into Via and Record-Route and
	// tell which Route entries and Via headers are ours.
	Listeners []Listener
	// Host is advertised in Via and Record-Route when a listener is bound
	// to an unspecified address (0.0.0.0, ::).
	Host string
	// Algorithms orders and filters the digest challenges offered, like the
	// registrar's option of the same name (sip.registrar.digest_algorithms).
	Algorithms []string
	// RingTimeout ends an unanswered call with 408 (default 2 minutes).
	RingTimeout time.Duration
	// CancelWait and InDialogTimeout override the defaults above.
	CancelWait, InDialogTimeout time.Duration
	// OnDialogState, if set, is told of dialog state changes. It is called
	// on the call's goroutine and must not block.
	OnDialogState func(DialogEvent)
	// Features, if set, applies the settings phones change with feature
	// codes (forwards, do-not-disturb). Without it those codes play the
	// failure announcement.
	Features Features
	// Anchor, if set, bridges calls between a browser (WebRTC) and a
	// phone (plain RTP); without it their SDP passes unchanged.
	Anchor Anchor
	// Cluster, if set, makes this proxy one node of a cluster: bindings
	// other nodes hold are reached through them, requests they relay are
	// carried to our phones, and in-dialog requests pass on to them.
	Cluster Cluster
	// Records, if set, gets a call detail record of every INVITE that is
	// routed (forked or sent to trunks): opened before the first branch
	// is sent, answered with the first 2xx, ended with the final answer
	// or the BYE.
	Records *callrecord.Recorder
}

// DialogState is the state of one party's dialog (RFC 4235 terms).
type DialogState string

// Dialog states reported to OnDialogState.
const (
	StateTrying     DialogState = "trying"
	StateRinging    DialogState = "ringing"
	StateConfirmed  DialogState = "confirmed"
	StateTerminated DialogState = "terminated"
)

// Directions of a dialog from the reported extension's point of view.
const (
	DirectionInitiator = "initiator"
	DirectionRecipient = "recipient"
)

// DialogEvent is one observation of an extension's dialog.
type DialogEvent struct {
	TenantID  int64
	Ext       string
	CallID    string
	State     DialogState
	Direction string // DirectionInitiator or DirectionRecipient
	Peer      string // the other party's extension number
}

// Proxy is the stateful proxy. Its ServeSIP fits sipgo.RequestHandler.
type Proxy struct {
	st    routing.State
	cat   Catalog
	authn Authenticator
	grd   Guard
	send  Sender
	log   *zap.Logger
	opt   Options
	self  self.Addrs

	mu       sync.Mutex
	stopped  bool
	draining atomic.Bool     // new calls are refused; calls in progress go on
	life     context.Context // ends when Run's context ends; calls derive from it
	end      context.CancelFunc
	calls    sync.WaitGroup
	inflight atomic.Int64          // requests in ServeSIP (calls counts them for Run)
	outcomes outcomeCounts         // call attempts by final outcome (Outcomes)
	dialogs  map[string]dialogInfo // confirmed calls by Call-ID, for terminated events
	ringing  map[*call]ringingCall // unanswered calls, for group call pickup
}

// ringingCall is what pickup needs to know of an unanswered call: which
// extensions it rings and how to hand it the picker's phones.
type ringingCall struct {
	tenant  int64
	numbers map[string]bool
	since   time.Time
	inject  chan<- []routing.Target
}

type dialogInfo struct {
	callerTenant, calleeTenant int64
	caller, callee             string
	answeredBy                 string          // the extension whose branch answered (a group member)
	callerAt                   *routing.Target // the caller's Contact where its INVITE came from
	at                         time.Time
	record                     *callrecord.Call
	media                      *dialogMedia // nil unless the call's media is anchored
}

// maxDialogs bounds the dialog table: a dialog whose BYE never passes
// through us would otherwise stay forever. Old entries are dropped first.
const maxDialogs = 100000

type locState struct {
	Catalog
	Locations
	peers Cluster
}

// Peer places a binding's node; every binding is ours outside a cluster.
func (s locState) Peer(node string) (string, bool, bool) {
	if s.peers == nil {
		return "", true, true
	}
	return s.peers.Peer(node)
}

// QueueHome says which node holds the switchboard queues; this one
// outside a cluster.
func (s locState) QueueHome() (string, bool) {
	if s.peers == nil {
		return "", true
	}
	return s.peers.QueueHome()
}

// Cluster is what the proxy needs of the cluster it is a node of.
type Cluster interface {
	routing.Peers
	routing.QueueHome
	// IsPeer reports whether addr (ip:port) is another node's SIP
	// address: requests from it are relays, Route entries naming it are
	// hops of our calls. Nodes send over UDP from that very address.
	IsPeer(addr string) bool
}

// PlanCatalog is what a catalog provides for number-plan routing: public
// numbers, groups, trunks, sites and static DECT gateways. A Catalog that
// also implements it gets dialling with the Norwegian number plan, class
// of service, trunks and inbound calls (see routing).
type PlanCatalog interface {
	routing.PlanState
	routing.TrunkFinder
}

// planState is a locState whose catalog knows the number plan, and
// perhaps the media server, group membership and the phone book
// (routing.MediaFinder, routing.GroupFinder, routing.NameFinder), which it
// passes on.
type planState struct {
	locState
	PlanCatalog
	media  routing.MediaFinder
	groups routing.GroupFinder
	names  routing.NameFinder
}

// CallerName names a caller's number by the phone book, if the catalog has one.
func (p planState) CallerName(tenantID int64, number string) (string, bool) {
	if p.names == nil {
		return "", false
	}
	return p.names.CallerName(tenantID, number)
}

// MediaServer is the catalog's media server, "" without one.
func (p planState) MediaServer() string {
	if p.media == nil {
		return ""
	}
	return p.media.MediaServer()
}

// GroupsOf lists the groups number belongs to, if the catalog knows.
func (p planState) GroupsOf(tenantID int64, number string) []store.Group {
	if p.groups == nil {
		return nil
	}
	return p.groups.GroupsOf(tenantID, number)
}

// stateOf combines the catalog and the location service into routing's
// view, with the number plan when the catalog has it.
func stateOf(cat Catalog, loc Locations, peers Cluster) routing.State {
	ls := locState{cat, loc, peers}
	if pc, ok := cat.(PlanCatalog); ok {
		ps := planState{locState: ls, PlanCatalog: pc}
		ps.media, _ = cat.(routing.MediaFinder)
		ps.groups, _ = cat.(routing.GroupFinder)
		ps.names, _ = cat.(routing.NameFinder)
		return ps
	}
	return ls
}

// New builds a proxy.
func New(cat Catalog, loc Locations, a Authenticator, g Guard, send Sender, log *zap.Logger, opt Options) (*Proxy, error) {
	if log == nil {
		log = zap.NewNop()
	}
	if opt.RingTimeout <= 0 {
		opt.RingTimeout = DefaultRingTimeout
	}
	if opt.CancelWait <= 0 {
		opt.CancelWait = DefaultCancelWait
	}
	if opt.InDialogTimeout <= 0 {
		opt.InDialogTimeout = DefaultInDialogTimeout
	}
	if err := auth.CheckAlgorithms(opt.Algorithms); err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	if len(opt.Listeners) == 0 {
		return nil, errors.New("proxy: no listeners")
	}
	p := &Proxy{st: stateOf(cat, loc, opt.Cluster), cat: cat, authn: a, grd: g, send: send, log: log, opt: opt,
		dialogs: map[string]dialogInfo{}, ringing: map[*call]ringingCall{}}
	p.life, p.end = context.WithCancel(context.Background())
	addrs, err := self.Parse(opt.Listeners, opt.Host)
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	p.self = addrs
	return p, nil
}

// Run waits for ctx to end, then makes every call in progress give up and
// returns once they have. Serve it under the same context as the SIP server.
func (p *Proxy) Run(ctx context.Context) error {
	<-ctx.Done()
	p.mu.Lock()
	if !p.stopped {
		p.stopped = true
		p.end()
	}
	p.mu.Unlock()
	p.calls.Wait()
	// Calls still up when the node stops lose their proxy: their records
	// end now (the next start would close them as orphans, later and with
	// a wrong end time) and presence sees them end.
	p.mu.Lock()
	ids := make([]string, 0, len(p.dialogs))
	for id := range p.dialogs {
		ids = append(ids, id)
	}
	p.mu.Unlock()
	for _, id := range ids {
		p.dialogEnded(id, "node stopped")
	}
	if len(ids) > 0 {
		p.log.Warn("calls still up at shutdown ended in the records", zap.Int("calls", len(ids)))
	}
	return nil
}

// RetryAfterDrain is the Retry-After (seconds) of the 503 a draining
// proxy answers new calls with.
const RetryAfterDrain = 30

// Drain refuses new calls from phones and trunks with 503 and a
// Retry-After (they try the next server of their DNS SRV set) while calls
// in progress, and the switchboard's own calls for them, go on.
func (p *Proxy) Drain() { p.draining.Store(true) }

// Active counts requests being routed and calls established through this
// proxy: a draining node waits for both to reach zero.
func (p *Proxy) Active() (routing, dialogs int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return int(p.inflight.Load()), len(p.dialogs)
}

func (p *Proxy) enter() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return false
	}
	p.calls.Add(1)
	p.inflight.Add(1)
	return true
}

func (p *Proxy) leave() {
	p.inflight.Add(-1)
	p.calls.Done()
}

// ServeSIP handles one request; register it for INVITE, ACK, CANCEL, BYE
// and the other methods the proxy routes.
func (p *Proxy) ServeSIP(req *sip.Request, tx sip.ServerTransaction) {
	if !p.enter() {
		return // shutting down: the caller retries elsewhere
	}
	defer p.leave()
	in, pop := p.summarize(req)
	if p.draining.Load() && req.IsInvite() && in.ToTag == "" && !in.FromMedia && !in.FromPeer {
		log := p.log.With(zap.String("call_id", callID(req)), zap.String("src", req.Source()))
		log.Info("proxy refused new call: draining")
		p.respond(req, tx, sip.StatusServiceUnavailable, "Service Unavailable (node stopping)",
			[]sip.Header{sip.NewHeader("Retry-After", strconv.Itoa(RetryAfterDrain))}, log)
		return
	}
	d := routing.Decide(in, p.st)
	log := p.log.With(zap.String("call_id", callID(req)), zap.String("src", req.Source()),
		zap.String("method", req.Method.String()), zap.String("tenant", d.CallerTenant.Name), zap.String("ext", in.FromUser))
	switch d.Kind {
	case routing.Reject, routing.Unavailable:
		if req.IsAck() {
			// An ACK is never answered; one for a response sipgo sent
			// itself (487 after CANCEL) may miss its transaction and
			// land here, which is harmless.
			log.Debug("proxy dropped ack", zap.String("reason", d.Why))
			return
		}
		log.Info("proxy refused", zap.Int("status", d.Code), zap.String("reason", d.Why))
		p.recordRefused(req, d, log)
		p.respond(req, tx, d.Code, d.Reason, nil, log)
	case routing.Challenge:
		log.Debug("proxy challenged", zap.String("reason", d.Why))
		p.respond(req, tx, sip.StatusProxyAuthRequired, "Proxy Authentication Required", p.challenge(d.Realm, d.Stale, req.Transport()), log)
	case routing.Fork:
		if d.Direction == routing.DirOutbound && wantsPrivacy(req) {
			// The caller asked for this call to be anonymous (RFC 3323;
			// phones send it for "withhold number"). Never for emergency
			// calls, which are DirEmergency.
			for _, t := range d.Targets {
				if t.Outbound != nil {
					t.Outbound.Private = true
				}
			}
		}
		if d.Direction != routing.DirInbound {
			// Only a trunk may assert who is calling (RFC 3325 trust
			// domain); a phone's claim is dropped, ours goes to trunks.
			for req.RemoveHeader("P-Asserted-Identity") {
			}
			for req.RemoveHeader("P-Preferred-Identity") {
			}
		}
		c := newCall(p, req, tx, d, pop, log)
		c.run()
	case routing.Forward:
		p.forward(req, tx, d, pop, log)
	case routing.Feature:
		d = p.applyFeature(d, log)
		newCall(p, req, tx, d, pop, log).run()
	case routing.Pickup:
		if inject := p.pickupCall(d.CallerTenant.ID, d.PickupFrom); inject != nil {
			// The picker's phones get the call with auto-answer; this
			// INVITE itself ends here, first, so the phone is idle when
			// the call arrives (see docs/features.md).
			log.Info("proxy: pickup", zap.Strings("from", d.PickupFrom))
			p.respond(req, tx, sip.StatusTemporarilyUnavailable, "Call Picked Up", nil, log)
			inject <- d.Targets
			return
		}
		log.Info("proxy: nothing to pick up", zap.Strings("from", d.PickupFrom))
		if d.MediaServer == "" {
			p.respond(req, tx, sip.StatusNotFound, "Nothing To Pick Up", nil, log)
			return
		}
		d.Kind, d.Targets = routing.Fork, []routing.Target{routing.Announce(d.MediaServer, routing.PromptPickupNone, d.Language)}
		newCall(p, req, tx, d, pop, log).run()
	}
}

// featureTimeout bounds writing a feature code's setting.
const featureTimeout = 5 * time.Second

// applyFeature applies a settings feature code and turns the decision
// into a call to the announcement of the outcome.
func (p *Proxy) applyFeature(d routing.Decision, log *zap.Logger) routing.Decision {
	op := *d.Feature
	prompt := routing.PromptFeatureOff
	if op.On || op.Target != "" {
		prompt = routing.PromptFeatureOn
	}
	if p.opt.Features == nil {
		prompt = routing.PromptFeatureFailed
	} else {
		ctx, cancel := context.WithTimeout(p.life, featureTimeout)
		err := p.opt.Features.Apply(ctx, d.CallerTenant.ID, d.CallerExt, op)
		cancel()
		if err != nil {
			log.Warn("proxy: feature code", zap.String("code", d.Dialled), zap.Error(err))
			prompt = routing.PromptFeatureFailed
		} else {
			log.Info("proxy: feature code applied", zap.String("code", d.Dialled), zap.String("kind", op.Kind),
				zap.String("forward", op.Forward), zap.String("target", op.Target), zap.Bool("on", op.On))
		}
	}
	d.Kind, d.Targets = routing.Fork, []routing.Target{routing.Announce(d.MediaServer, prompt, d.Language)}
	d.CalleeExt = "feature"
	return d
}

// ringingAdd registers an unanswered call for pickup.
func (p *Proxy) ringingAdd(c *call) {
	rc := ringingCall{tenant: c.d.CalleeTenant.ID, numbers: map[string]bool{c.d.CalleeExt: true}, since: time.Now(),
		inject: c.inject}
	for _, t := range c.d.Targets {
		rc.numbers[t.Number] = true
	}
	for _, s := range c.d.Next {
		for _, t := range s.Targets {
			rc.numbers[t.Number] = true
		}
	}
	delete(rc.numbers, "")
	p.mu.Lock()
	p.ringing[c] = rc
	p.mu.Unlock()
}

// ringingRemove forgets a call once answered or over.
func (p *Proxy) ringingRemove(c *call) {
	p.mu.Lock()
	delete(p.ringing, c)
	p.mu.Unlock()
}

// pickupCall claims the longest-ringing call of tenant that rings one of
// numbers and returns where to send the picker's targets (a buffered
// channel only the claimer writes to); nil when there is none.
func (p *Proxy) pickupCall(tenant int64, numbers []string) chan<- []routing.Target {
	p.mu.Lock()
	defer p.mu.Unlock()
	var best *call
	for c, rc := range p.ringing {
		if rc.tenant != tenant || best != nil && !rc.since.Before(p.ringing[best].since) {
			continue
		}
		for _, n := range numbers {
			if rc.numbers[n] {
				best = c
				break
			}
		}
	}
	if best == nil {
		return nil
	}
	inject := p.ringing[best].inject
	delete(p.ringing, best)
	return inject
}

// summarize reads what routing needs from the request, verifying
// Proxy-Authorization on out-of-dialog requests. pop is the number of
// topmost Route entries that name us.
func (p *Proxy) summarize(req *sip.Request) (in routing.Request, pop int) {
	in = routing.Request{Method: req.Method.String(), MaxForwards: -1}
	if mf := req.MaxForwards(); mf != nil {
		in.MaxForwards = int(mf.Val())
	}
	u := req.Recipient
	in.URIUser, in.URIHost, in.URI = u.User, strings.ToLower(u.Host), canonicalURI(u)
	in.URIIsUs = p.self.IsUs(u.Host, u.Port, "")
	port := u.Port
	if port == 0 {
		port = self.DefaultPort(transportParam(u))
	}
	in.URIHostPort = net.JoinHostPort(strings.Trim(u.Host, "[]"), strconv.Itoa(port))
	in.URITransport = transportParam(u)
	if f := req.From(); f != nil {
		in.FromUser, in.FromHost = f.Address.User, strings.ToLower(f.Address.Host)
	}
	if t := req.To(); t != nil {
		in.ToUser, in.ToHost = t.Address.User, strings.ToLower(t.Address.Host)
		in.ToTag, _ = t.Params.Get("tag")
	}
	routes := req.GetHeaders("Route")
	for _, h := range routes {
		r, ok := h.(*sip.RouteHeader)
		if !ok || !p.self.IsUs(r.Address.Host, r.Address.Port, transportParam(r.Address)) {
			break
		}
		pop++
	}
	in.RouteToUs, in.MoreRoutes = pop > 0, len(routes) > pop
	in.Loop = p.looped(req)
	if src, err := sourceIP(req.Source()); err == nil {
		in.Source = src
	}
	in.FromMedia = p.fromMedia(req.Source())
	if cl := p.opt.Cluster; cl != nil {
		in.FromPeer = !in.FromMedia && cl.IsPeer(req.Source())
		if in.FromPeer {
			if h := req.GetHeader(routing.RelayHeader); h != nil {
				in.RelayTenant, in.RelayNumber = parseRelay(h.Value())
			}
		}
		if in.MoreRoutes {
			if r, ok := routes[pop].(*sip.RouteHeader); ok {
				port := r.Address.Port
				if port == 0 {
					port = self.DefaultPort(transportParam(r.Address))
				}
				if hp := net.JoinHostPort(strings.Trim(r.Address.Host, "[]"), strconv.Itoa(port)); cl.IsPeer(hp) {
					in.NextRoutePeer = hp
				}
			}
		}
	}
	if in.ToTag != "" {
		in.DialogNumbers, in.DialogTenant, in.DialogCaller = p.dialogOf(callID(req))
	}
	if in.ToTag == "" && req.IsInvite() {
		p.authenticate(req, &in)
	}
	return in, pop
}

// fromMedia reports whether src (ip:port) is our media server's socket.
// Only loopback can carry such a source (the media server listens there),
// so the switchboard's calls need no credentials.
func (p *Proxy) fromMedia(src string) bool {
	mf, ok := p.cat.(routing.MediaFinder)
	if !ok {
		return false
	}
	ms, err := netip.ParseAddrPort(mf.MediaServer())
	if err != nil || !ms.Addr().IsLoopback() {
		return false
	}
	ap, err := netip.ParseAddrPort(src)
	return err == nil && ap.Addr().Unmap() == ms.Addr().Unmap() && ap.Port() == ms.Port()
}

// authenticate verifies Proxy-Authorization against the From tenant.
func (p *Proxy) authenticate(req *sip.Request, in *routing.Request) {
	h := req.GetHeader("Proxy-Authorization")
	if h == nil {
		return
	}
	tenant, ok := p.cat.TenantByDomain(in.FromHost)
	if !ok {
		return
	}
	ext, found := p.cat.Extension(tenant.ID, in.FromUser)
	// A desk phone calls from any of its lines with its own credentials.
	devices, _ := p.cat.(DeviceAuth)
	res := p.authn.Verify(req.Method.String(), h.Value(), tenant.Domain, auth.LookupExtension(tenant, in.FromUser, ext, found, devices))
	src, srcErr := sourceIP(req.Source())
	switch {
	case res.OK:
		in.Authenticated, in.AuthTenantID, in.AuthExt = true, tenant.ID, ext.Number
		if srcErr == nil {
			p.grd.Succeeded(src)
		}
	case res.Stale:
		in.AuthStale = true
	default:
		p.log.Warn("proxy authentication failed", zap.String("call_id", callID(req)), zap.String("src", req.Source()),
			zap.String("tenant", tenant.Name), zap.String("ext", in.FromUser), zap.String("reason", res.Reason))
		if srcErr == nil {
			p.grd.Failed(src)
		}
	}
}

func (p *Proxy) challenge(realm string, stale bool, transport string) []sip.Header {
	vs := p.authn.Challenge(realm, stale, auth.ForTransport(p.opt.Algorithms, transport)...)
	hs := make([]sip.Header, len(vs))
	for i, v := range vs {
		hs[i] = sip.NewHeader("Proxy-Authenticate", v)
	}
	return hs
}

// respond answers a request with a response of our own making. An ACK is
// never answered.
func (p *Proxy) respond(req *sip.Request, tx sip.ServerTransaction, code int, reason string, hs []sip.Header, log *zap.Logger) {
	if req.IsAck() {
		return
	}
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	for _, h := range hs {
		res.AppendHeader(h)
	}
	if err := tx.Respond(res); err != nil {
		log.Debug("proxy: respond", zap.Int("status", code), zap.Error(err))
	}
}

// loopKey hashes what identifies a request's routing (RFC 3261 §16.6 step
// 8 without the parts that change hop by hop), so the same request coming
// back to us is recognised by our own Via.
func loopKey(req *sip.Request) string {
	h := sha256.New()
	h.Write([]byte(canonicalURI(req.Recipient)))
	h.Write([]byte{0})
	h.Write([]byte(callID(req)))
	if f := req.From(); f != nil {
		t, _ := f.Params.Get("tag")
		h.Write([]byte{0})
		h.Write([]byte(t))
	}
	if t := req.To(); t != nil {
		tag, _ := t.Params.Get("tag")
		h.Write([]byte{0})
		h.Write([]byte(tag))
	}
	if c := req.CSeq(); c != nil {
		h.Write([]byte{0})
		h.Write([]byte(strconv.FormatUint(uint64(c.SeqNo), 10)))
	}
	return hex.EncodeToString(h.Sum(nil)[:6])
}

const branchPrefix = sip.RFC3261BranchMagicCookie + "sntl"

// branchFor returns a fresh branch carrying the request's loop key.
func branchFor(key string) string {
	return branchPrefix + key + "." + sip.GenerateTagN(10)
}

// looped reports whether the request already passed through us with the
// same routing key: one of its Via headers is ours and carries the key.
func (p *Proxy) looped(req *sip.Request) bool {
	prefix := branchPrefix + loopKey(req) + "."
	for _, h := range req.GetHeaders("Via") {
		v, ok := h.(*sip.ViaHeader)
		if !ok {
			continue
		}
		b, _ := v.Params.Get("branch")
		if strings.HasPrefix(b, prefix) && p.self.IsUs(v.Host, v.Port, v.Transport) {
			return true
		}
	}
	return false
}

// prepare builds the request sent to one target (RFC 3261 §16.6): new
// request-URI, our Route entries popped and the target's Path pushed,
// Max-Forwards decremented, our Via on top and, for dialog-creating
// requests, Record-Route.
func (p *Proxy) prepare(req *sip.Request, t routing.Target, pop int, recordRoute bool) (*sip.Request, error) {
	out := req.Clone()
	if t.URI != "" {
		var u sip.Uri
		if err := sip.ParseUri(t.URI, &u); err != nil {
			return nil, fmt.Errorf("target uri %q: %w", t.URI, err)
		}
		out.Recipient = u
	}
	for range pop {
		out.RemoveHeader("Route")
	}
	for i := len(t.Route) - 1; i >= 0; i-- {
		var u sip.Uri
		if err := sip.ParseUri(strings.Trim(strings.TrimSpace(t.Route[i]), "<>"), &u); err != nil {
			return nil, fmt.Errorf("path %q: %w", t.Route[i], err)
		}
		out.PrependHeader(&sip.RouteHeader{Address: u})
	}
	if mf := out.MaxForwards(); mf != nil {
		mf.Dec()
	} else {
		v := sip.MaxForwardsHeader(70)
		out.AppendHeader(&v)
	}
	// Phones only ever answer our challenges, so every Proxy-Authorization
	// they send is for our realm (some, like baresip, repeat it on ACK and
	// BYE). Forwarding it would hand the callee a digest to attack offline.
	for out.RemoveHeader("Proxy-Authorization") {
	}
	// Only we say which binding a relayed call is for, and only to the
	// node that holds it.
	for out.RemoveHeader(routing.RelayHeader) {
	}
	if t.Relay != "" {
		out.AppendHeader(sip.NewHeader(routing.RelayHeader, t.Relay))
	}
	if t.Outbound != nil {
		presentAs(out, t.Outbound)
	} else if t.CallerName != "" {
		presentName(out, t.CallerName, t.CallerIdentity)
	}
	if t.Diversion != "" {
		// RFC 5806: who forwarded the call and why, for the callee's
		// display and for operators that bill forwarded calls.
		out.AppendHeader(sip.NewHeader("Diversion", t.Diversion))
	}
	// RFC 3581 §4 / RFC 3261 §18.2.1: note where the previous hop really
	// is, so responses find it through NAT.
	if via := out.Via(); via != nil {
		if host, port, err := net.SplitHostPort(req.Source()); err == nil {
			if via.Params.Has("rport") {
				via.Params.Add("rport", port)
			}
			if via.Host != host {
				via.Params.Add("received", host)
			}
		}
	}
	network := strings.ToLower(firstNonEmpty(t.Transport, "udp"))
	outL, ok := p.self.For(network, t.Destination)
	if !ok {
		return nil, fmt.Errorf("no %s listener to reach %s", network, t.Destination)
	}
	via := outL.Via()
	via.Params.Add("branch", branchFor(loopKey(out)))
	out.PrependHeader(via)
	if recordRoute {
		inL, ok := p.self.For(req.Transport(), req.Source())
		if ok && (inL.Network != outL.Network || inL.Host != outL.Host || inL.Port != outL.Port) {
			// RFC 5658 double record-routing: each side reaches us over
			// its own transport and address (IPv4 phones, an IPv6 trunk).
			out.PrependHeader(recordRouteTo(inL))
		}
		out.PrependHeader(recordRouteTo(outL))
	}
	out.SetTransport(strings.ToUpper(network))
	if t.Destination != "" {
		out.SetDestination(t.Destination)
	}
	if network == "udp" {
		// Send from the listener socket: NAT bindings and firewalls only
		// pass what comes from the address the phone registered with.
		out.Laddr = sip.Addr{IP: net.ParseIP(outL.Bound), Port: outL.Port}
		if outL.Bound == "" || out.Laddr.IP.IsUnspecified() {
			out.Laddr = sip.Addr{}
		}
	} else {
		out.Laddr = sip.Addr{}
	}
	return out, nil
}

// presentName shows the callee who is calling by the phone book: the From
// display name, and a P-Asserted-Identity with name and URI that replaces
// any other (RFC 3325: inside our trust domain we assert identities; what
// phones claim was dropped on the way in). A withheld caller (Privacy: id)
// stays anonymous.
func presentName(out *sip.Request, name, identity string) {
	if wantsPrivacy(out) {
		return
	}
	if from := out.From(); from != nil {
		from.DisplayName = name
	}
	if identity == "" {
		return
	}
	for out.RemoveHeader("P-Asserted-Identity") {
	}
	out.AppendHeader(sip.NewHeader("P-Asserted-Identity", nameAddr(name, identity)))
}

// presentAs makes a request leaving through a trunk show the caller as the
// number plan decided: From and P-Asserted-Identity (RFC 3325) with the
// caller's public number, an anonymous From with Privacy: id when the
// number is withheld (RFC 3323; the operator still sees the identity, as
// the law requires for tracing and emergency calls), and the calling
// site on emergency calls. The From tag stays: it identifies the dialog.
func presentAs(out *sip.Request, o *routing.Outbound) {
	for out.RemoveHeader("P-Asserted-Identity") {
	}
	for out.RemoveHeader("P-Preferred-Identity") {
	}
	for out.RemoveHeader("Privacy") {
	}
	from := out.From()
	if from != nil && o.From != "" {
		var u sip.Uri
		if err := sip.ParseUri(o.From, &u); err == nil {
			from.Address = u
			from.DisplayName = o.Display
		}
	}
	if o.Identity != "" {
		out.AppendHeader(sip.NewHeader("P-Asserted-Identity", nameAddr(o.Display, o.Identity)))
	}
	if o.Private && from != nil {
		from.DisplayName = "Anonymous"
		from.Address = sip.Uri{Scheme: "sip", User: "anonymous", Host: "anonymous.invalid"}
		out.AppendHeader(sip.NewHeader("Privacy", "id"))
	}
	if o.Emergency != "" {
		out.AppendHeader(sip.NewHeader(routing.EmergencyHeader, o.Emergency))
	}
}

// wantsPrivacy reports whether a caller's request asks to withhold its
// identity: a Privacy header with id, user or header (RFC 3323 §4.2).
func wantsPrivacy(req *sip.Request) bool {
	for _, h := range req.GetHeaders("Privacy") {
		for _, v := range strings.FieldsFunc(h.Value(), func(r rune) bool { return r == ';' || r == ',' || r == ' ' }) {
			switch strings.ToLower(v) {
			case "id", "user", "header":
				return true
			}
		}
	}
	return false
}

// nameAddr formats a name-addr, quoting the display name.
func nameAddr(display, uri string) string {
	if display == "" {
		return "<" + uri + ">"
	}
	return strconv.Quote(display) + " <" + uri + ">"
}

func recordRouteTo(s self.Addr) *sip.RecordRouteHeader {
	params := sip.NewParams()
	params.Add("transport", s.Network)
	params.Add("lr", "")
	return &sip.RecordRouteHeader{Address: sip.Uri{Scheme: "sip", Host: s.Host, Port: s.Port, UriParams: params}}
}

// relay sends a downstream response upstream through the server
// transaction: our Via removed, everything else as received.
func relay(req *sip.Request, tx sip.ServerTransaction, res *sip.Response) error {
	out := sip.NewResponse(res.StatusCode, res.Reason)
	out.SipVersion = res.SipVersion
	viaSkipped := false
	for _, h := range res.CloneHeaders() {
		if !viaSkipped && h.Name() == "Via" {
			viaSkipped = true
			continue
		}
		out.AppendHeader(h)
	}
	out.SetBody(res.Body())
	out.SetTransport(req.Transport())
	// Back to where the request came from (symmetric response routing,
	// which NAT needs); on connection transports the transaction's
	// connection is used anyway.
	out.SetDestination(req.Source())
	if err := tx.Respond(out); err != nil {
		return fmt.Errorf("relay %d: %w", res.StatusCode, err)
	}
	return nil
}

// noBuild keeps sipgo from filling in headers of a request we built.
func noBuild(*sipgo.Client, *sip.Request) error { return nil }

// errFlowGone is a target whose registered connection has closed.
var errFlowGone = errors.New("the connection the target registered over has closed")

// flowGone reports whether t must be reached over a connection that no
// longer exists.
func (p *Proxy) flowGone(t routing.Target) bool {
	return p.opt.FlowAlive != nil && !p.opt.FlowAlive(t.Transport, t.Destination)
}

// forward sends an in-dialog request to its target and relays the answers.
func (p *Proxy) forward(req *sip.Request, tx sip.ServerTransaction, d routing.Decision, pop int, log *zap.Logger) {
	if p.flowGone(d.Targets[0]) {
		log.Info("proxy: flow gone", zap.String("dst", d.Targets[0].Destination))
		if !req.IsAck() {
			p.respond(req, tx, 430, "Flow Failed", nil, log)
		}
		return
	}
	out, err := p.prepare(req, d.Targets[0], pop, false)
	if err != nil {
		log.Warn("proxy: forward", zap.Error(err))
		p.respond(req, tx, sip.StatusInternalServerError, "Server Internal Error", nil, log)
		return
	}
	media, err := p.reoffer(req, out)
	if err != nil {
		log.Info("proxy: anchored re-offer refused", zap.Error(err))
		p.respond(req, tx, sip.StatusNotAcceptableHere, "Not Acceptable Here", nil, log)
		return
	}
	if req.IsAck() {
		// An ACK for a 2xx is its own transaction and gets no response.
		if err := p.send.WriteRequest(out, noBuild); err != nil {
			log.Warn("proxy: forward ack", zap.Error(err))
		}
		return
	}
	ctx, cancel := p.callContext(p.opt.InDialogTimeout)
	defer cancel()
	btx, err := p.send.TransactionRequest(ctx, out, noBuild)
	if err != nil {
		log.Warn("proxy: forward", zap.Error(err))
		p.respond(req, tx, sip.StatusServiceUnavailable, "Service Unavailable", nil, log)
		return
	}
	defer btx.Terminate()
	for {
		select {
		case res := <-btx.Responses():
			if res.StatusCode == sip.StatusTrying {
				continue
			}
			if req.Method == sip.BYE && res.StatusCode >= 200 && res.StatusCode < 300 {
				// Reported before the 200 goes on, so an observer never
				// sees the caller done while the dialog is still up.
				p.dialogEnded(callID(req), "BYE")
			}
			if err := relay(req, tx, reanswer(media, res, log)); err != nil {
				log.Debug("proxy: relay", zap.Error(err))
			}
			if res.StatusCode >= 200 {
				return
			}
		case <-btx.Done():
			if media != nil {
				_, _ = media.leg.Reanswer(nil)
			}
			code, reason := branchFailure(btx.Err())
			p.respond(req, tx, code, reason, nil, log)
			return
		case <-ctx.Done():
			p.respond(req, tx, sip.StatusRequestTimeout, "Request Timeout", nil, log)
			return
		}
	}
}

// callContext is a context that ends after d or when the proxy stops.
func (p *Proxy) callContext(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(p.life, d)
}

// branchFailure maps a transaction that ended without a final response to
// the response it stands for (RFC 3261 §16.7 step 2 and §16.8).
func branchFailure(err error) (int, string) {
	if errors.Is(err, sip.ErrTransactionTimeout) {
		return sip.StatusRequestTimeout, "Request Timeout"
	}
	return sip.StatusServiceUnavailable, "Service Unavailable"
}

func callID(req *sip.Request) string {
	if h := req.CallID(); h != nil {
		return h.Value()
	}
	return ""
}

// canonicalURI renders a URI the way the registrar stores contacts
// (scheme and host in lower case), so they compare as strings.
func canonicalURI(u sip.Uri) string {
	u.Scheme = strings.ToLower(u.Scheme)
	u.Host = strings.ToLower(u.Host)
	return u.String()
}

func transportParam(u sip.Uri) string {
	if u.UriParams == nil {
		return ""
	}
	v, _ := u.UriParams.Get("transport")
	return strings.ToLower(v)
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

func sourceIP(src string) (netip.Addr, error) {
	ap, err := netip.ParseAddrPort(src)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("source %q: %w", src, err)
	}
	return ap.Addr().Unmap(), nil
}

// parseRelay reads a RelayHeader value, "tenant-id;number"; zero values
// when malformed (routing then refuses the request).
func parseRelay(v string) (int64, string) {
	t, n, ok := strings.Cut(strings.TrimSpace(v), ";")
	id, err := strconv.ParseInt(t, 10, 64)
	if !ok || err != nil || id <= 0 || n == "" || len(n) > 64 {
		return 0, ""
	}
	return id, n
}
