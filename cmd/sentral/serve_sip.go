package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/sip/auth"
	"github.com/sentralpbx/sentral/sip/location"
	"github.com/sentralpbx/sentral/sip/proxy"
	"github.com/sentralpbx/sentral/sip/registrar"
	"github.com/sentralpbx/sentral/sip/server"
	"github.com/sentralpbx/sentral/store"
	"github.com/sentralpbx/sentral/store/catalog"
)

// guardPruneEvery is how often idle sources are dropped from the guard,
// which starts no goroutine of its own.
const guardPruneEvery = time.Minute

// sipStack is the SIP front end serve runs: listeners, registrar and the
// state they share. Its parts run under serve's context.
type sipStack struct {
	srv   *server.Server
	loc   *location.Service
	guard *auth.Guard
	proxy *proxy.Proxy
	log   *zap.Logger
}

// newSIP builds the SIP front end and binds its listeners, so a busy port
// is reported before serve says it is ready. It returns nil when
// sip.listen is empty.
func newSIP(ctx context.Context, cfg Config, st store.Store, cat *catalog.Catalog, log *zap.Logger) (*sipStack, error) {
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

	node, _ := os.Hostname()
	loc := location.New(st.Bindings(), log.Named("location"), location.Options{Node: node})
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
	reg, err := registrar.New(cat, authn, guard, loc, log.Named("registrar"),
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
	px, err := newProxy(srv, cat, loc, authn, guard, cfg.SIP.Advertise, algs, log.Named("proxy"))
	if err != nil {
		_ = srv.Close()
		return nil, err
	}
	return &sipStack{srv: srv, loc: loc, guard: guard, proxy: px, log: log}, nil
}

// proxyMethods are the methods the proxy routes; REGISTER stays with the
// registrar and OPTIONS with the server (keep-alive pings).
func proxyMethods() []sip.RequestMethod {
	return []sip.RequestMethod{sip.INVITE, sip.ACK, sip.CANCEL, sip.BYE, sip.INFO, sip.UPDATE, sip.REFER,
		sip.PRACK, sip.NOTIFY, sip.MESSAGE, sip.SUBSCRIBE}
}

// newProxy builds the stateful proxy over the server's transports and
// registers it for proxyMethods.
func newProxy(srv *server.Server, cat *catalog.Catalog, loc *location.Service, authn *auth.Authenticator, guard *auth.Guard,
	advertise string, algs []string, log *zap.Logger) (*proxy.Proxy, error) {
	client, err := srv.Client()
	if err != nil {
		return nil, fmt.Errorf("sip proxy: %w", err)
	}
	var ls []proxy.Listener
	for _, l := range srv.Listeners() {
		ls = append(ls, proxy.Listener{Network: l.Network, Addr: l.Addr})
	}
	if advertise == "" {
		advertise = outboundIP()
	}
	px, err := proxy.New(cat, loc, authn, guard, client, log, proxy.Options{Listeners: ls, Host: advertise, Algorithms: algs})
	if err != nil {
		return nil, usageError{fmt.Errorf("config sip: %w", err)}
	}
	for _, m := range proxyMethods() {
		srv.Handle(m, px.ServeSIP)
	}
	return px, nil
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

// run starts the stack's long-running parts through spawn, which runs each
// in a goroutine under serve's context and reports its error.
func (s *sipStack) run(spawn func(name string, f func(context.Context) error)) {
	spawn("sip server", s.srv.Serve)
	spawn("location", s.loc.Run)
	spawn("sip proxy", s.proxy.Run)
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
