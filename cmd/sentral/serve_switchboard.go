package main

import (
	"context"
	"errors"
	"net/netip"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/media/mediaserver"
	"github.com/sentralpbx/sentral/media/queue"
	"github.com/sentralpbx/sentral/media/voicemail"
	"github.com/sentralpbx/sentral/sip/server"
	"github.com/sentralpbx/sentral/store"
	"github.com/sentralpbx/sentral/store/catalog"
)

// switchboardApp is the media server application for calls to a
// switchboard number; the engine is set once the media server exists
// (the engine dials through it).
type switchboardApp struct {
	sb  *queue.Switchboard
	log *zap.Logger
}

// Serve puts the caller into the tenant's queue.
func (a *switchboardApp) Serve(ctx context.Context, s *mediaserver.Session) {
	tenantID, err := strconv.ParseInt(s.Param("tenant"), 10, 64)
	if err != nil || a.sb == nil {
		a.log.Warn("switchboard call without a tenant", zap.String("call_id", s.CallID()), zap.String("tenant", s.Param("tenant")))
		return
	}
	a.sb.Serve(ctx, tenantID, s.Param("dialled"), s)
}

// queueMedia shows the media server to the queue engine.
type queueMedia struct {
	ms  *mediaserver.Server
	cat *catalog.Catalog
	vm  *voicemail.App
	loc interface {
		Bindings(tenantID int64, number string) []store.Binding
	}
}

// Dial calls number in the tenant's number plan through the proxy.
func (m queueMedia) Dial(ctx context.Context, tenantID int64, number, from, fromName string, ring time.Duration, headers map[string]string) (queue.Leg, error) {
	t, ok := m.cat.Tenant(tenantID)
	if !ok {
		return nil, errors.New("switchboard: unknown tenant " + strconv.FormatInt(tenantID, 10))
	}
	if from == "" {
		from = "anonymous"
	}
	spec := mediaserver.DialSpec{To: "sip:" + number + "@" + t.Domain, From: "sip:" + from + "@" + t.Domain,
		FromName: fromName, Headers: headers, Ring: ring}
	if m.loc != nil {
		// An extension's phone gets media in the family it registered in.
		for _, b := range m.loc.Bindings(tenantID, number) {
			if ap, err := netip.ParseAddrPort(b.Source); err == nil {
				spec.Near = ap.Addr().Unmap()
				break
			}
		}
	}
	s, err := m.ms.Dial(ctx, spec)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Bridge relays audio between two legs.
func (m queueMedia) Bridge(ctx context.Context, a, b queue.Leg) (queue.Leg, error) {
	sa, okA := a.(*mediaserver.Session)
	sb, okB := b.(*mediaserver.Session)
	if !okA || !okB {
		return nil, errors.New("switchboard: bridge of a leg that is not a media server session")
	}
	ended, err := mediaserver.Bridge(ctx, sa, sb)
	if ended == nil {
		return nil, err
	}
	return ended, err
}

// Voicemail runs the deposit for mailbox on the caller's leg.
func (m queueMedia) Voicemail(ctx context.Context, caller queue.Leg, tenantID int64, mailbox string) error {
	s, ok := caller.(*mediaserver.Session)
	if !ok {
		return errors.New("switchboard: voicemail for a leg that is not a media server session")
	}
	m.vm.Deposit(ctx, depositCall{Session: s, params: map[string]string{"tenant": strconv.FormatInt(tenantID, 10), "mailbox": mailbox}})
	return nil
}

// depositCall is a switchboard caller as the voicemail deposit sees it:
// the mailbox comes from the operator, not from the request-URI.
type depositCall struct {
	*mediaserver.Session
	params map[string]string
}

// Param returns the deposit's parameters.
func (d depositCall) Param(name string) string { return d.params[name] }

// switchboardSettings reads each tenant's switchboard from the catalog.
type switchboardSettings struct {
	cat *catalog.Catalog
	log *zap.Logger
}

// Switchboard returns the tenant's opening hours, night target and
// switchboard number.
func (s switchboardSettings) Switchboard(tenantID int64) (queue.Config, bool) {
	t, ok := s.cat.Tenant(tenantID)
	if !ok {
		return queue.Config{}, false
	}
	h, err := queue.ParseHours(t.SwitchboardHours)
	if err != nil {
		// Provisioning validates the hours; a stored value this version
		// cannot read keeps the switchboard open rather than closed.
		s.log.Warn("switchboard hours unreadable; treating as always open", zap.String("tenant", t.Name), zap.Error(err))
	}
	return queue.Config{Hours: h, NightTarget: t.NightTarget, Domain: t.Domain, Number: t.SwitchboardNumber}, true
}

// mediaProxy is where the media server sends the calls it places: the
// first UDP listener, over loopback when it listens on every address.
func mediaProxy(udp []server.Listener) string {
	for _, l := range udp {
		ap, err := netip.ParseAddrPort(l.Addr)
		if err != nil {
			continue
		}
		ip := ap.Addr().Unmap()
		if ip.IsUnspecified() {
			// The media server listens on 127.0.0.1 then (mediaListen),
			// and a wildcard socket of either family takes IPv4.
			ip = netip.AddrFrom4([4]byte{127, 0, 0, 1})
		}
		return netip.AddrPortFrom(ip, ap.Port()).String()
	}
	return ""
}
