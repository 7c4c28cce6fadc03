package main

import (
	"context"
	"fmt"
	"github.com/sentralpbx/sentral/directory"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/cluster"
	"github.com/sentralpbx/sentral/events"
	"github.com/sentralpbx/sentral/media/webrtc"
	"github.com/sentralpbx/sentral/provisioning"
	"github.com/sentralpbx/sentral/sip/auth"
	"github.com/sentralpbx/sentral/sip/callrecord"
	"github.com/sentralpbx/sentral/sip/location"
	"github.com/sentralpbx/sentral/sip/nat"
	"github.com/sentralpbx/sentral/sip/proxy"
	"github.com/sentralpbx/sentral/sip/registrar"
	"github.com/sentralpbx/sentral/sip/server"
	"github.com/sentralpbx/sentral/sip/trunk"
	"github.com/sentralpbx/sentral/store"
	"github.com/sentralpbx/sentral/store/catalog"
)

// guardPruneEvery is how often idle sources are dropped from the guard,
// which starts no goroutine of its own.
const guardPruneEvery = time.Minute

// sipStack is the SIP front end serve runs: listeners, registrar and the
// state they share. Its parts run under serve's context.
type sipStack struct {
	srv *server.Server
	reg *registrar.Registrar
	// cluster is this node's membership; nil outside a cluster. Its
	// link closes the records of dead nodes (cdrs, orphanAfter).
	cluster     *cluster.Cluster
	cdrs        store.CDRStore
	orphanAfter time.Duration
	loc         *location.Service
	guard       *auth.Guard
	proxy       *proxy.Proxy
	nat         *nat.Keeper // nil without a UDP listener
	// trunks keeps register-mode trunks registered; hosts resolves trunk
	// host names for recognising inbound calls.
	trunks       *trunk.Manager
	hosts        *trunkHosts
	cat          *catalog.Catalog
	trunkChanged chan struct{}
	// records writes a call detail record of every routed call.
	records *callrecord.Recorder
	// hub carries registration and dialog events to presence and the
	// console (their consumers arrive with those features).
	hub *events.Hub
	// media is the media server with voicemail, MWI and the voicemail
	// HTTP API; nil when disabled.
	media *mediaStack
	// webrtc is the browser media gateway; nil without media or a
	// WebSocket listener.
	webrtc *webrtc.Gateway
	log    *zap.Logger
}

// newSIP builds the SIP front end and binds its listeners, so a busy port
// is reported before serve says it is ready. It returns nil when
// sip.listen is empty.
func newSIP(ctx context.Context, cfg Config, st store.Store, cat *catalog.Catalog, names *directory.Directory, log *zap.Logger) (*sipStack, error) {
	if cfg.SIP.Listen == "" {
		log.Info("sip disabled (sip.listen is empty)")
		return nil, nil
	}
	listeners, err := server.ParseListen(cfg.SIP.Listen)
	if err != nil {
		return nil, usageError{err}
	}
	exempt, err := cfg.SIP.Guard.ExemptPrefixes()
	if err != nil {
		return nil, usageError{err}
	}
	// sipgo logs a few things through its package default; route them to
	// zap like the rest (once, before any sipgo use).
	sip.SetDefaultLogger(server.Slog(log.Named("sipgo")))

	node := nodeName(cfg)
	hub := events.NewHub(events.Options{})
	var cl *cluster.Cluster // set once the SIP listeners are bound, before anything runs
	loc := location.New(st.Bindings(), log.Named("location"), location.Options{Node: node, OnChange: publishRegistrations(hub),
		OnFlushed: func(aors []location.AOR) {
			if cl != nil {
				publishAORs(cl, aors)
			}
		}})
	if err := loc.Load(ctx); err != nil {
		return nil, fmt.Errorf("sip: load bindings: %w", err)
	}
	g := cfg.SIP.Guard
	guard := auth.NewGuard(auth.GuardOptions{MaxFailures: g.MaxFailures, Window: g.Window, BanFor: g.BanFor,
		Rate: float64(g.Rate), Burst: g.Burst, Exempt: exempt})
	r := cfg.SIP.Registrar
	algs, err := r.Algorithms()
	if err != nil {
		return nil, usageError{err}
	}
	// One authenticator for registrar and proxy: one nonce table, and a
	// phone may reuse its REGISTER nonce for an INVITE.
	authn := auth.NewAuthenticator(auth.Options{})
	hosts := &trunkHosts{}
	plan := planCatalog{Catalog: cat, hosts: hosts, names: names}
	records := callrecord.New(st, log.Named("cdr"), callrecord.Options{Node: node})
	// Records a crash left open are closed before this process opens any:
	// they belong to calls that cannot be going on any more.
	if n, err := records.CloseOrphans(ctx, node, time.Now()); err != nil {
		return nil, fmt.Errorf("sip: close call records left open: %w", err)
	} else if n > 0 {
		log.Warn("closed call records left open by an earlier run", zap.Int("records", n))
	}
	reg, err := registrar.New(plan, authn, guard, loc, log.Named("registrar"),
		registrar.Options{MinExpires: r.MinExpires, MaxExpires: r.MaxExpires, DefaultExpires: r.DefaultExpires, Node: node, Algorithms: algs})
	if err != nil {
		return nil, usageError{fmt.Errorf("config sip.registrar: %w", err)}
	}
	srv, err := server.New(server.Options{Listen: listeners, TLSCert: cfg.SIP.TLS.Cert, TLSKey: cfg.SIP.TLS.Key,
		MaxMessageBytes: cfg.SIP.MaxMessageBytes, Guard: guard, Log: log.Named("sip")})
	if err != nil {
		return nil, usageError{fmt.Errorf("%w (choose free addresses with --sip-listen, or --sip-listen '' to run without SIP)", err)}
	}
	srv.Handle(sip.REGISTER, reg.ServeSIP)
	// Over UDP without a transaction: see sip/server/stateless.go.
	srv.HandleStateless(sip.REGISTER, reg.Respond)
	if cl, err = newCluster(cfg, node, srv.Addr("udp"), log.Named("cluster")); err != nil {
		_ = srv.Close()
		return nil, err
	}
	var peers proxy.Cluster
	if cl != nil {
		peers = cl
	}
	advertise := cfg.SIP.Advertise
	if advertise == "" {
		advertise = outboundIP()
	}
	media, err := newMedia(cfg, st, cat, plan, srv, loc, authn, guard, advertise, algs, hub, log)
	if err != nil {
		_ = srv.Close()
		return nil, err
	}
	proxyPlan := plan
	if media != nil {
		// Only the proxy routes to voicemail; the registrar and MWI need
		// no media server.
		proxyPlan.media = media.srv.Addr()
	}
	var anchor proxy.Anchor
	if media != nil {
		if anchor, err = newWebRTC(cfg, srv.Listeners(), media.ports4, media.ports6, media.adv4, media.adv6, log.Named("webrtc")); err != nil {
			_ = srv.Close()
			return nil, err
		}
	}
	features := featureApplier{prov: provisioning.New(st, provisioning.Policies{Password: cfg.Security.Password, PIN: cfg.Security.PIN}),
		cat: cat}
	px, err := newProxy(srv, proxyPlan, loc, authn, guard, advertise, algs, publishDialogs(hub), records, features, anchor, peers, log.Named("proxy"))
	if err != nil {
		_ = srv.Close()
		return nil, err
	}
	if media != nil {
		srv.Handle(sip.SUBSCRIBE, media.mwi.ServeSIP)
	}
	keeper, err := newNATKeeper(srv, loc, node, log.Named("nat"))
	if err != nil {
		_ = srv.Close()
		return nil, err
	}
	trunks, err := newTrunks(srv, cfg.SIP.Advertise, log.Named("trunk"))
	if err != nil {
		_ = srv.Close()
		return nil, err
	}
	s := &sipStack{srv: srv, reg: reg, cluster: cl, cdrs: st.CDRs(), orphanAfter: cfg.Cluster.OrphanAfter, loc: loc, guard: guard, proxy: px, nat: keeper, hub: hub, log: log, media: media,
		trunks: trunks, hosts: hosts, cat: cat, trunkChanged: make(chan struct{}, 1), records: records}
	if a, ok := anchor.(webrtcAnchor); ok {
		s.webrtc = a.g
	}
	cat.OnTrunksChanged(func(ts []store.Trunk) {
		trunks.Update(ts)
		select {
		case s.trunkChanged <- struct{}{}:
		default:
		}
	})
	return s, nil
}

// newTrunks builds the manager of trunk registrations, sending through the
// server's listeners.
func newTrunks(srv *server.Server, advertise string, log *zap.Logger) (*trunk.Manager, error) {
	client, err := srv.Client()
	if err != nil {
		return nil, fmt.Errorf("sip trunks: %w", err)
	}
	var ls []trunk.Listener
	for _, l := range srv.Listeners() {
		ls = append(ls, trunk.Listener{Network: l.Network, Addr: l.Addr})
	}
	return trunk.NewManager(client, trunk.ListenerContacts(ls, advertise), log, trunk.Options{}), nil
}

// proxyMethods are the methods the proxy routes; REGISTER stays with the
// registrar and OPTIONS with the server (keep-alive pings).
func proxyMethods() []sip.RequestMethod {
	// SUBSCRIBE goes to the MWI notifier when the media server runs (the
	// proxy answers the rest 501).
	return []sip.RequestMethod{sip.INVITE, sip.ACK, sip.CANCEL, sip.BYE, sip.INFO, sip.UPDATE, sip.REFER,
		sip.PRACK, sip.NOTIFY, sip.MESSAGE, sip.SUBSCRIBE}
}

// newProxy builds the stateful proxy over the server's transports and
// registers it for proxyMethods.
func newProxy(srv *server.Server, cat proxy.Catalog, loc *location.Service, authn *auth.Authenticator, guard *auth.Guard,
	advertise string, algs []string, onDialog func(proxy.DialogEvent), records *callrecord.Recorder, features proxy.Features,
	anchor proxy.Anchor, peers proxy.Cluster, log *zap.Logger) (*proxy.Proxy, error) {
	client, err := srv.Client()
	if err != nil {
		return nil, fmt.Errorf("sip proxy: %w", err)
	}
	var ls []proxy.Listener
	for _, l := range srv.Listeners() {
		ls = append(ls, proxy.Listener{Network: l.Network, Addr: l.Addr})
	}
	px, err := proxy.New(cat, loc, authn, guard, client, log, proxy.Options{Listeners: ls, Host: advertise, Algorithms: algs, OnDialogState: onDialog, FlowAlive: srv.FlowAlive,
		Records: records, Features: features, Anchor: anchor, Cluster: peers})
	if err != nil {
		return nil, usageError{fmt.Errorf("config sip: %w", err)}
	}
	for _, m := range proxyMethods() {
		srv.Handle(m, px.ServeSIP)
	}
	return px, nil
}

// newNATKeeper pings UDP contacts behind NAT from the UDP listener's own
// socket (only its datagrams refresh the phone's pinhole). It returns nil
// when there is no UDP listener.
func newNATKeeper(srv *server.Server, loc *location.Service, node string, log *zap.Logger) (*nat.Keeper, error) {
	udp := srv.Addr("udp")
	if udp == "" {
		return nil, nil
	}
	client, err := srv.Client()
	if err != nil {
		return nil, fmt.Errorf("sip nat keep-alive: %w", err)
	}
	sender, err := nat.NewSipgoSender(client, nat.SipgoOptions{LocalAddr: udp})
	if err != nil {
		return nil, fmt.Errorf("sip nat keep-alive: %w", err)
	}
	return nat.New(sender, loc, log, nat.Options{Node: node}), nil
}

// publishRegistrations turns location changes into bus events for
// presence and the console.
func publishRegistrations(hub *events.Hub) func(int64, string, []store.Binding) {
	return func(tenantID int64, number string, bs []store.Binding) {
		contacts := make([]string, len(bs))
		for i, b := range bs {
			contacts[i] = b.Contact
		}
		hub.Registrations.Publish(events.RegistrationEvent{TenantID: tenantID, Number: number,
			Bindings: len(bs), Contacts: contacts, At: time.Now()})
	}
}

// publishDialogs turns the proxy's dialog observations into bus events.
// The proxy speaks RFC 4235 (initiator/recipient); the bus speaks of the
// extension's point of view (outbound/inbound).
func publishDialogs(hub *events.Hub) func(proxy.DialogEvent) {
	return func(e proxy.DialogEvent) {
		dir := events.DirectionInbound
		if e.Direction == proxy.DirectionInitiator {
			dir = events.DirectionOutbound
		}
		hub.Dialogs.Publish(events.DialogEvent{TenantID: e.TenantID, Ext: e.Ext, CallID: e.CallID,
			State: string(e.State), Direction: dir, Peer: e.Peer, At: time.Now()})
	}
}

// outboundIP is the address of the interface the default route leaves by
// (a UDP "connect" sends nothing), or 127.0.0.1 on a host without one.
func outboundIP() string {
	c, err := net.Dial("udp", "192.0.2.1:9")
	if err != nil {
		return "127.0.0.1"
	}
	defer c.Close()
	if a, ok := c.LocalAddr().(*net.UDPAddr); ok {
		return a.IP.String()
	}
	return "127.0.0.1"
}

// run starts the stack's long-running parts in their lifecycle stages:
// the transport outlives the proxy, which outlives the media server and
// the trunks whose requests it carries (see lifecycle.go).
func (s *sipStack) run(life *lifecycle) {
	life.start(stageTransport, "sip server", s.srv.Serve)
	life.start(stageState, "call records", s.records.Run)
	life.start(stageState, "location", s.loc.Run)
	life.start(stageProxy, "sip proxy", s.proxy.Run)
	if s.cluster != nil {
		link := clusterLink{cl: s.cluster, loc: s.loc, hub: s.hub, cdrs: s.cdrs, orphanAfter: s.orphanAfter, log: s.log.Named("cluster")}
		if s.media != nil {
			link.mwi = s.media.mwi
		}
		link.wire()
		life.start(stageState, "cluster", s.cluster.Run)
		life.start(stageState, "cluster events", link.forward)
		life.start(stageState, "cluster orphans", link.closeOrphans)
	}
	spawn := life.in(stageApps)
	if s.media != nil {
		s.media.run(spawn, s.hub)
	}
	if s.nat != nil {
		spawn("sip nat keep-alive", s.nat.Run)
	}
	spawn("sip trunks", func(ctx context.Context) error {
		// The first REGISTERs go out once the listeners serve: sipgo
		// cannot send from a UDP socket it does not serve yet.
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(200 * time.Millisecond):
		}
		s.trunks.Update(s.cat.Trunks())
		return s.trunks.Run(ctx)
	})
	spawn("sip trunk hosts", func(ctx context.Context) error {
		return s.hosts.run(ctx, s.cat, s.trunkChanged, s.log.Named("trunk"))
	})
	spawn("sip guard", func(ctx context.Context) error {
		t := time.NewTicker(guardPruneEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
				s.guard.Prune()
			}
		}
	})
}

// sipAddrs lists the bound listeners for the ready log line.
func sipAddrs(s *sipStack) []string {
	if s == nil {
		return nil
	}
	var out []string
	for _, l := range s.srv.Listeners() {
		out = append(out, l.String())
	}
	return out
}

// drainPoll is how often drain looks whether the calls have ended.
const drainPoll = 100 * time.Millisecond

// drain stops the node taking new calls and registrations (503 with
// Retry-After, so phones and trunks move to another node) and waits up to
// timeout for the calls in progress to end. A second SIGINT or SIGTERM
// ends the wait at once.
func (s *sipStack) drain(timeout time.Duration) {
	s.reg.Drain()
	s.proxy.Drain()
	if s.cluster != nil {
		// The others stop relaying new calls here and take the queues.
		s.cluster.Leave()
	}
	active := func() (int, int) {
		routing, dialogs := s.proxy.Active()
		if s.media != nil {
			dialogs = max(dialogs, s.media.srv.Calls())
		}
		return routing, dialogs
	}
	if r, d := active(); r == 0 && d == 0 {
		return
	}
	again := make(chan os.Signal, 1)
	signal.Notify(again, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(again)
	start := time.Now()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(drainPoll)
	defer tick.Stop()
	lastLog := time.Time{}
	for {
		r, d := active()
		if r == 0 && d == 0 {
			s.log.Info("drained: every call has ended", zap.Duration("after", time.Since(start)))
			return
		}
		if time.Since(lastLog) >= 5*time.Second {
			lastLog = time.Now()
			s.log.Info("draining: waiting for calls to end", zap.Int("calls", d), zap.Int("requests", r),
				zap.Duration("left", timeout-time.Since(start)))
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			s.log.Warn("drain timeout: ending the calls still up", zap.Int("calls", d), zap.Duration("timeout", timeout))
			return
		case <-again:
			s.log.Warn("second signal: ending the calls still up", zap.Int("calls", d))
			return
		}
	}
}
