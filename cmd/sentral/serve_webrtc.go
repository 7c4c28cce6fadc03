package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"

	pion "github.com/pion/webrtc/v4"
	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/media/rtp"
	"github.com/sentralpbx/sentral/media/sdp"
	"github.com/sentralpbx/sentral/media/webrtc"
	"github.com/sentralpbx/sentral/sip/proxy"
	"github.com/sentralpbx/sentral/sip/server"
)

// webrtcAnchor shows the media gateway to the proxy (proxy.Anchor).
type webrtcAnchor struct{ g *webrtc.Gateway }

// newWebRTC builds the gateway on the media server's RTP ports (one
// allocator per family for every RTP endpoint of the process). It returns
// nil when there is no WebSocket listener: no browser can register.
func newWebRTC(cfg Config, listeners []server.Listener, ports4, ports6 *rtp.Ports, adv4, adv6 netip.Addr, log *zap.Logger) (proxy.Anchor, error) {
	var ws []netip.Addr
	loopback := false
	for _, l := range listeners {
		if l.Network != "ws" && l.Network != "wss" {
			continue
		}
		host, _, err := net.SplitHostPort(l.Addr)
		if err != nil {
			continue
		}
		ip, err := netip.ParseAddr(host)
		if err != nil {
			continue
		}
		loopback = loopback || ip.IsLoopback()
		if !ip.IsUnspecified() {
			ws = append(ws, ip.Unmap())
		}
	}
	if !loopback && len(ws) == 0 && !hasWS(listeners) {
		return nil, nil
	}
	if ports4 == nil && ports6 == nil {
		return nil, errors.New("webrtc: the gateway needs the media server's RTP ports (media.enabled)")
	}
	wc := webrtc.Config{Ports4: ports4, Ports6: ports6, Advertise4: adv4, Advertise6: adv6, ICEAddrs: ws,
		LoopbackCandidates: loopback, OfferSDES: cfg.WebRTC.OfferSDES, Log: log}
	if cfg.WebRTC.PublicIP != "" {
		wc.PublicIPs = []string{cfg.WebRTC.PublicIP}
	}
	if cfg.WebRTC.UDPPorts != "" {
		first, last, _ := portRange(cfg.WebRTC.UDPPorts) // checked by Validate
		wc.UDPPortMin, wc.UDPPortMax = uint16(first), uint16(last)
	}
	if cfg.WebRTC.TURN != "" {
		wc.ICEServers = append(wc.ICEServers, pion.ICEServer{URLs: []string{cfg.WebRTC.TURN},
			Username: cfg.WebRTC.TURNUser, Credential: cfg.WebRTC.TURNPassword})
	}
	g, err := webrtc.New(wc)
	if err != nil {
		return nil, fmt.Errorf("webrtc gateway: %w", err)
	}
	return webrtcAnchor{g}, nil
}

func hasWS(ls []server.Listener) bool {
	for _, l := range ls {
		if l.Network == "ws" || l.Network == "wss" {
			return true
		}
	}
	return false
}

func (a webrtcAnchor) IsWebRTC(body []byte) bool { return webrtc.IsWebRTC(body) }

func (a webrtcAnchor) FromBrowser(ctx context.Context, callID string, offer []byte) (proxy.AnchorLeg, []byte, error) {
	l, o, err := a.g.FromBrowser(ctx, callID, offer)
	if err != nil {
		return nil, nil, anchorErr(err)
	}
	return fromBrowserLeg{l}, o, nil
}

func (a webrtcAnchor) ToBrowser(ctx context.Context, callID string, offer []byte) (proxy.AnchorLeg, []byte, error) {
	l, o, err := a.g.ToBrowser(ctx, callID, offer)
	if err != nil {
		return nil, nil, anchorErr(err)
	}
	return toBrowserLeg{l}, o, nil
}

// anchorErr marks offers the gateway cannot bridge for the proxy's 488.
func anchorErr(err error) error {
	if errors.Is(err, sdp.ErrNotAcceptable) {
		return fmt.Errorf("%w: %w", proxy.ErrNotAcceptable, err)
	}
	return err
}

// fromBrowserLeg answers with the phone's answer; toBrowserLeg with the
// browser's.
type fromBrowserLeg struct{ *webrtc.Leg }

func (l fromBrowserLeg) Answer(ans []byte) ([]byte, error) { return l.PhoneAnswer(ans) }

type toBrowserLeg struct{ *webrtc.Leg }

func (l toBrowserLeg) Answer(ans []byte) ([]byte, error) { return l.BrowserAnswer(ans) }
