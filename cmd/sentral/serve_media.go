package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/sentralpbx/sentral/media/queue"
	"github.com/sentralpbx/sentral/sip/routing"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/events"
	"github.com/sentralpbx/sentral/media/mediaserver"
	"github.com/sentralpbx/sentral/media/rtp"
	"github.com/sentralpbx/sentral/media/voicemail"
	"github.com/sentralpbx/sentral/media/voicemail/httpapi"
	"github.com/sentralpbx/sentral/sip/auth"
	"github.com/sentralpbx/sentral/sip/location"
	"github.com/sentralpbx/sentral/sip/mwi"
	"github.com/sentralpbx/sentral/sip/server"
	"github.com/sentralpbx/sentral/store"
	"github.com/sentralpbx/sentral/store/catalog"
)

// mediaStack is the media server (voicemail, announcements) with what
// hangs off it: message-waiting notifications and the owners' HTTP API.
type mediaStack struct {
	srv *mediaserver.Server
	// switchboard is the operators' queue engine.
	switchboard *queue.Switchboard
	mwi         *mwi.Notifier
	http        *httpapi.Handler
	dir         string
	log         *zap.Logger
	// The RTP port allocators and advertised addresses, shared with the
	// WebRTC gateway: one allocator per family for the whole process.
	ports4, ports6 *rtp.Ports
	adv4, adv6     netip.Addr
}

// voicemailDir is media.voicemail_dir, or "voicemail" beside the SQLite
// file, or ./var/voicemail with PostgreSQL.
func voicemailDir(cfg Config) string {
	if cfg.Media.VoicemailDir != "" {
		return cfg.Media.VoicemailDir
	}
	if isPostgres(cfg.DB) {
		return filepath.Join("var", "voicemail")
	}
	return filepath.Join(filepath.Dir(cfg.DB), "voicemail")
}

func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// mediaAddrs are the RTP addresses per family: bind is what the sockets
// bind, advertise what goes into SDP.
type mediaAddr struct{ bind, advertise netip.Addr }

// rtpAddrs picks the RTP addresses: media.address if set, else the SIP
// listeners' addresses (advertise for listeners on all addresses).
func rtpAddrs(cfg Config, listeners []server.Listener, advertise string) (v4, v6 *mediaAddr) {
	set := func(bind, adv netip.Addr) {
		if bind.Is4() && v4 == nil {
			v4 = &mediaAddr{bind, adv}
		} else if bind.Is6() && v6 == nil {
			v6 = &mediaAddr{bind, adv}
		}
	}
	for _, a := range cfg.Media.Addresses() {
		ip := netip.MustParseAddr(a) // checked by Validate
		set(ip, ip)
	}
	if v4 != nil || v6 != nil {
		return v4, v6
	}
	adv, _ := netip.ParseAddr(advertise)
	for _, l := range listeners {
		host, _, err := net.SplitHostPort(l.Addr)
		if err != nil {
			continue
		}
		ip, err := netip.ParseAddr(host)
		if err != nil {
			continue
		}
		ip = ip.Unmap()
		if ip.IsUnspecified() {
			switch {
			case !adv.IsValid():
			case adv.Is4() == ip.Is4():
				set(ip, adv)
			case ip.Is6() && adv.Is4():
				// "0.0.0.0:5060" comes back from the listener as a
				// dual-stack [::]:5060, which takes IPv4 as well.
				set(netip.IPv4Unspecified(), adv)
			}
			continue
		}
		set(ip, ip)
	}
	return v4, v6
}

// newMedia starts the media server on a loopback UDP port the proxy can
// reach (only the proxy's listeners are trusted), with the voicemail
// applications, and builds the MWI notifier and the HTTP API. It returns
// nil when media is disabled or there is no UDP listener to reach it.
func newMedia(cfg Config, st store.Store, cat *catalog.Catalog, plan planCatalog, srv *server.Server, loc *location.Service,
	authn *auth.Authenticator, guard *auth.Guard, advertise string, algs []string, hub *events.Hub, log *zap.Logger) (*mediaStack, error) {
	if !cfg.Media.Enabled {
		log.Info("media server disabled (media.enabled is false): no voicemail")
		return nil, nil
	}
	var udp []server.Listener
	for _, l := range srv.Listeners() {
		if l.Network == "udp" {
			udp = append(udp, l)
		}
	}
	if len(udp) == 0 {
		log.Warn("media server disabled: the proxy reaches it over UDP and sip.listen has no udp listener")
		return nil, nil
	}
	listen, trusted := mediaListen(udp)
	dir := voicemailDir(cfg)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("media: voicemail directory: %w", err)
	}
	first, last, _ := cfg.Media.Ports()
	v4, v6 := rtpAddrs(cfg, srv.Listeners(), advertise)
	mcfg := mediaserver.Config{Listen: listen, Trusted: trusted, Log: log.Named("media")}
	if v4 != nil {
		p, err := rtp.NewPorts(v4.bind, first, last)
		if err != nil {
			return nil, usageError{fmt.Errorf("media.rtp_ports on %s: %w", v4.bind, err)}
		}
		mcfg.Ports4, mcfg.Advertise4 = p, v4.advertise
	}
	if v6 != nil {
		p, err := rtp.NewPorts(v6.bind, first, last)
		if err != nil {
			return nil, usageError{fmt.Errorf("media.rtp_ports on %s: %w", v6.bind, err)}
		}
		mcfg.Ports6, mcfg.Advertise6 = p, v6.advertise
	}
	if v4 == nil && v6 == nil {
		return nil, usageError{errors.New("media: no address for RTP; set media.address (or sip.advertise)")}
	}

	client, err := srv.Client()
	if err != nil {
		return nil, fmt.Errorf("media: %w", err)
	}
	var ls []mwi.Listener
	for _, l := range srv.Listeners() {
		ls = append(ls, mwi.Listener{Network: l.Network, Addr: l.Addr})
	}
	notifier, err := mwi.New(mwi.Deps{Catalog: plan, Auth: authn, Guard: guard, Locations: localBindings{loc}, Counts: st.Voicemail(),
		Sender: client, Log: log.Named("mwi")},
		mwi.Options{Listeners: ls, Host: advertise, Algorithms: algs, FlowAlive: srv.FlowAlive})
	if err != nil {
		return nil, fmt.Errorf("media: mwi: %w", err)
	}
	changes := &mailboxChanges{notify: notifier.Changed, st: st.Voicemail(), hub: hub, log: log.Named("voicemail"),
		last: map[mailboxKey][2]int{}}
	app, err := voicemail.NewApp(voicemail.AppConfig{Dir: dir, Messages: st.Voicemail(), Mailboxes: mailboxes{cat: cat, st: st},
		OnChange: changes.changed, Log: log.Named("voicemail"), MaxMessage: time.Duration(cfg.Media.MaxMessageSeconds) * time.Second})
	if err != nil {
		return nil, fmt.Errorf("media: voicemail: %w", err)
	}
	mcfg.Apps = mediaserver.VoicemailApps(app)
	sbApp := &switchboardApp{log: log.Named("switchboard")}
	mcfg.Apps[routing.AppSwitchboard] = sbApp
	mcfg.Proxy = mediaProxy(udp)
	ms, err := mediaserver.New(mcfg)
	if err != nil {
		return nil, fmt.Errorf("media server: %w", err)
	}
	sbApp.sb = queue.New(queueMedia{ms: ms, cat: cat, vm: app, loc: loc}, switchboardSettings{cat: cat, log: log.Named("switchboard")},
		plan.CallerName, log.Named("switchboard"))
	h, err := httpapi.New(httpapi.Deps{Catalog: cat, Auth: authn, Guard: guard, Messages: st.Voicemail(), Log: log.Named("voicemail-http")},
		httpapi.Options{Dir: dir, Algorithms: algs, OnChange: changes.changed})
	if err != nil {
		_ = ms.Close()
		return nil, fmt.Errorf("media: voicemail http: %w", err)
	}
	log.Info("media server", zap.String("sip", ms.Addr()), zap.String("voicemail_dir", dir), zap.String("rtp_ports", cfg.Media.RTPPorts))
	return &mediaStack{srv: ms, mwi: notifier, http: h, dir: dir, log: log, switchboard: sbApp.sb,
		ports4: mcfg.Ports4, ports6: mcfg.Ports6, adv4: mcfg.Advertise4, adv6: mcfg.Advertise6}, nil
}

// mediaListen chooses the media server's SIP address: loopback of the
// family of the first UDP listener (the proxy sends from it), and trusts
// only requests from the proxy's UDP listeners.
func mediaListen(udp []server.Listener) (string, func(netip.AddrPort) bool) {
	listen := "127.0.0.1:0"
	var own []netip.AddrPort
	for i, l := range udp {
		ap, err := netip.ParseAddrPort(l.Addr)
		if err != nil {
			continue
		}
		if i == 0 && ap.Addr().Is6() && !ap.Addr().IsUnspecified() {
			listen = "[::1]:0"
		}
		own = append(own, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()))
	}
	return listen, func(src netip.AddrPort) bool {
		ip := src.Addr().Unmap()
		for _, l := range own {
			// A listener bound to one address sends from it; one bound
			// to all addresses sends to loopback from loopback.
			if src.Port() == l.Port() && (ip == l.Addr() || l.Addr().IsUnspecified() && ip.IsLoopback()) {
				return true
			}
		}
		return false
	}
}

// mailboxes shows extensions to the voicemail applications as mailboxes.
type mailboxes struct {
	cat *catalog.Catalog
	st  store.Store
}

// Mailbox is the extension number's mailbox: every enabled extension has
// one; routing decides whether calls go there (store.Extension.Voicemail).
func (m mailboxes) Mailbox(_ context.Context, tenantID int64, number string) (voicemail.Mailbox, error) {
	e, ok := m.cat.Extension(tenantID, number)
	if !ok {
		return voicemail.Mailbox{}, voicemail.ErrNoMailbox
	}
	return voicemail.Mailbox{TenantID: tenantID, Number: e.Number, Enabled: e.Enabled, PINHash: e.VoicemailPIN,
		AskPIN: e.VoicemailAskPIN, Language: e.Language}, nil
}

// SetPIN stores a PIN hash the caller chose from the phone.
func (m mailboxes) SetPIN(ctx context.Context, tenantID int64, number, hash string) error {
	e, ok := m.cat.Extension(tenantID, number)
	if !ok {
		return voicemail.ErrNoMailbox
	}
	cur, err := m.st.Extensions().Get(ctx, e.ID)
	if err != nil {
		return fmt.Errorf("set pin: %w", err)
	}
	cur.VoicemailPIN = hash
	if err := m.st.Extensions().Update(ctx, &cur); err != nil {
		return fmt.Errorf("set pin: %w", err)
	}
	return nil
}

// voicemailCounter reads a mailbox's counts (store.VoicemailStore).
type voicemailCounter interface {
	Counts(ctx context.Context, tenantID int64, mailbox string) (newCount, savedCount int, err error)
}

type mailboxKey struct {
	tenant  int64
	mailbox string
}

// mailboxChanges tells MWI and the event bus that a mailbox changed. The
// applications only say which mailbox; the action is told from how the
// counts moved.
type mailboxChanges struct {
	// notify sends the message-waiting NOTIFYs (mwi.Notifier.Changed).
	notify func(ctx context.Context, tenantID int64, mailbox string) error
	st     voicemailCounter
	hub    *events.Hub
	log    *zap.Logger

	mu   sync.Mutex
	last map[mailboxKey][2]int // new, saved after the previous change
}

// changeTimeout bounds the NOTIFYs and the count read of one change; it
// runs on the caller's goroutine after the call's work is done.
const changeTimeout = 5 * time.Second

func (c *mailboxChanges) changed(tenantID int64, mailbox string) {
	ctx, cancel := context.WithTimeout(context.Background(), changeTimeout)
	defer cancel()
	if err := c.notify(ctx, tenantID, mailbox); err != nil {
		c.log.Warn("message waiting", zap.Int64("tenant", tenantID), zap.String("mailbox", mailbox), zap.Error(err))
	}
	nw, saved, err := c.st.Counts(ctx, tenantID, mailbox)
	if err != nil {
		c.log.Warn("voicemail counts", zap.Int64("tenant", tenantID), zap.String("mailbox", mailbox), zap.Error(err))
		return
	}
	k := mailboxKey{tenantID, mailbox}
	c.mu.Lock()
	prev, known := c.last[k]
	c.last[k] = [2]int{nw, saved}
	c.mu.Unlock()
	action := events.VoicemailGreeting
	switch {
	case !known && nw > 0, nw > prev[0]:
		action = events.VoicemailNew
	case saved > prev[1]:
		action = events.VoicemailSaved
	case nw+saved < prev[0]+prev[1]:
		action = events.VoicemailDeleted
	}
	c.hub.Voicemail.Publish(events.VoicemailEvent{TenantID: tenantID, Mailbox: mailbox, Action: action, New: nw, Saved: saved,
		At: time.Now()})
}

// run starts the media server, the notifier and the feed of registrations
// to it.
func (m *mediaStack) run(spawn func(name string, f func(context.Context) error), hub *events.Hub) {
	spawn("media server", m.srv.Run)
	spawn("switchboard", func(ctx context.Context) error {
		// The engine's own calls (call-backs, its clock) end with serve.
		<-ctx.Done()
		m.switchboard.Close()
		return nil
	})
	spawn("mwi", m.mwi.Run)
	spawn("mwi registrations", func(ctx context.Context) error {
		regs := hub.Registrations.Subscribe(ctx, 1024)
		for ev := range regs {
			m.mwi.Registered(ev)
		}
		return nil
	})
}
