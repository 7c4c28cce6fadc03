// Package webrtc anchors calls between a browser (WebRTC: ICE, DTLS-SRTP,
// UDP/TLS/RTP/SAVPF) and an RTP phone, plain or SDES-SRTP (srtp.go). The
// SIP proxy hands it the SDP of each offer and answer and sends on what it
// returns; the package owns one pion PeerConnection towards the browser
// and one media/rtp Endpoint towards the phone per call, and relays
// packets between them as they arrive.
//
// Codecs: G.711 only, passed through without transcoding. The browser
// side is negotiated to the very codec the phone side uses, in the
// caller's order of preference (PCMU before PCMA when the caller lists
// both), and RFC 4733 telephone-event passes through when both sides
// have it. An offer from a browser that has no PCMU or PCMA (Opus only),
// or from a phone that has neither, is refused with an error wrapping
// ErrNoCommonCodec (which wraps sdp.ErrNotAcceptable: the proxy answers
// 488). Every browser offers G.711, so refusing costs nothing in practice,
// while transcoding Opus would cost a decoder, an encoder and a resampler
// per call on the server and add the delay of a jitter buffer.
// Packetisation passes through unchanged too: each packet is relayed as
// it arrives, without a jitter buffer, and only its RTP header is
// rewritten: SSRC and payload type numbers each way; towards the phone
// the endpoint's own sequence numbers, with the browser's timestamp steps
// (so RFC 4733 events keep their timing); towards the browser the phone's
// sequence numbers and timestamps, rebased if the phone's SSRC changes.
//
// Signalling: non-trickle ICE. Every SDP returned carries all the
// candidates, gathering having completed before it returns, as SIP offer
// and answer need. Hold and resume are direction changes on the same
// transport; the direction a side asks for is handed on to the other side
// and enforced by the relay.
//
// Not here: browser-to-browser calls (both ends speak WebRTC and need no
// gateway: the proxy passes their SDP through), video, and data channels.
package webrtc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/logging"
	pion "github.com/pion/webrtc/v4"
	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/media/rtp"
	"github.com/sentralpbx/sentral/media/sdp"
)

// ErrNoCommonCodec marks an offer or answer without PCMU or PCMA on one
// side; it wraps sdp.ErrNotAcceptable, so the proxy answers 488.
var ErrNoCommonCodec = fmt.Errorf("webrtc: no common G.711 codec: %w", sdp.ErrNotAcceptable)

// Reasons a leg ends, as returned by Leg.Err.
var (
	// ErrClosed is the reason after Close, and the error of calls on a
	// leg that has ended.
	ErrClosed = errors.New("webrtc: leg closed")
	// ErrConnectTimeout: the browser did not complete ICE and DTLS within
	// Config.ConnectTimeout of the answer.
	ErrConnectTimeout = errors.New("webrtc: browser did not connect in time")
	// ErrICEFailed: the browser's connection failed (ICE or DTLS).
	ErrICEFailed = errors.New("webrtc: browser connection failed")
	// ErrBrowserGone: the browser closed its side (DTLS close_notify).
	ErrBrowserGone = errors.New("webrtc: browser closed the connection")
	// ErrDeadMedia: the phone sent no RTP for rtp.DefaultDeadMediaTimeout
	// while not on hold.
	ErrDeadMedia = errors.New("webrtc: no RTP from the phone")
)

// ErrState marks a call that does not fit the leg's offer/answer state,
// such as an answer with no offer outstanding: a bug in the caller.
var ErrState = errors.New("webrtc: offer/answer out of turn")

// Defaults for Config.
const (
	DefaultConnectTimeout = 30 * time.Second
	// gatherTimeout bounds ICE gathering. Host candidates take
	// milliseconds; STUN and TURN servers pion gives up on after 5 s.
	gatherTimeout = 10 * time.Second
)

// Config describes the gateway's two sides.
type Config struct {
	// Ports4 and Ports6 hand out the phone-side RTP ports for each
	// address family; at least one is required. Calls from browsers offer
	// the phone IPv4 when Ports4 is set.
	Ports4, Ports6 *rtp.Ports
	// Advertise4 and Advertise6 are the phone-side c= addresses; zero
	// means the port allocator's IP.
	Advertise4, Advertise6 netip.Addr
	// PublicIPs replace the addresses of the browser-side ICE host
	// candidates, for a server behind 1:1 NAT (a cloud VM's private
	// address mapped to a public one).
	PublicIPs []string
	// ICEServers are STUN/TURN servers for the browser side. A server
	// with a public address needs none; a TURN relay helps when it has
	// not.
	ICEServers []pion.ICEServer
	// ICEAddrs, when set, limits browser-side ICE host candidates to these
	// local addresses, so container bridges and the like are not offered
	// to browsers (nor bound for each call).
	ICEAddrs []netip.Addr
	// LoopbackCandidates includes loopback host candidates (tests,
	// single-host set-ups); pion leaves them out otherwise.
	LoopbackCandidates bool
	// UDPPortMin and UDPPortMax bound the browser-side ICE UDP ports, for
	// firewalls; 0 means any.
	UDPPortMin, UDPPortMax uint16
	// ConnectTimeout ends a leg whose browser has not connected this long
	// after the answer (DefaultConnectTimeout).
	ConnectTimeout time.Duration
	// OfferSDES makes offers to phones carry an a=crypto line (tag 1,
	// AES_CM_128_HMAC_SHA1_80, a fresh key) in RTP/AVP: RFC 4568 "best
	// effort" SRTP, which a phone with SRTP takes and one without ignores.
	// Off, the gateway offers phones plain RTP/AVP; phones' SRTP offers
	// are answered either way.
	OfferSDES bool
	// Log receives the gateway's lines, each with the call's call_id.
	Log *zap.Logger
}

// Gateway creates bridged legs. It holds only configuration and a count
// of live legs; each leg owns its own pion API and sockets. Safe for
// concurrent use.
type Gateway struct {
	cfg  Config
	log  *zap.Logger
	legs atomic.Int64
}

// New checks cfg and returns a Gateway.
func New(cfg Config) (*Gateway, error) {
	if cfg.Ports4 == nil && cfg.Ports6 == nil {
		return nil, errors.New("webrtc gateway: no RTP ports for the phone side")
	}
	if cfg.Ports4 != nil && !cfg.Ports4.IP().Is4() {
		return nil, fmt.Errorf("webrtc gateway: Ports4 on %s", cfg.Ports4.IP())
	}
	if cfg.Ports6 != nil && !cfg.Ports6.IP().Is6() {
		return nil, fmt.Errorf("webrtc gateway: Ports6 on %s", cfg.Ports6.IP())
	}
	for _, ip := range cfg.PublicIPs {
		if _, err := netip.ParseAddr(ip); err != nil {
			return nil, fmt.Errorf("webrtc gateway: public IP %q: %w", ip, err)
		}
	}
	if (cfg.UDPPortMin == 0) != (cfg.UDPPortMax == 0) || cfg.UDPPortMin > cfg.UDPPortMax {
		return nil, fmt.Errorf("webrtc gateway: ICE UDP port range %d-%d", cfg.UDPPortMin, cfg.UDPPortMax)
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	g := &Gateway{cfg: cfg, log: cfg.Log}
	// Build one API now so that a setting pion refuses fails here rather
	// than on the first call.
	if _, err := g.api(g.log); err != nil {
		return nil, fmt.Errorf("webrtc gateway: %w", err)
	}
	return g, nil
}

// Legs returns how many legs are live (created and not yet ended).
func (g *Gateway) Legs() int { return int(g.legs.Load()) }

// codecs are the browser-side formats the pion MediaEngine knows, with
// the payload types used when the gateway offers. Channels 0 is pion's
// spelling of the default (mono).
var (
	pcmu  = pion.RTPCodecParameters{RTPCodecCapability: pion.RTPCodecCapability{MimeType: pion.MimeTypePCMU, ClockRate: 8000}, PayloadType: 0}
	pcma  = pion.RTPCodecParameters{RTPCodecCapability: pion.RTPCodecCapability{MimeType: pion.MimeTypePCMA, ClockRate: 8000}, PayloadType: 8}
	event = pion.RTPCodecParameters{RTPCodecCapability: pion.RTPCodecCapability{MimeType: "audio/telephone-event", ClockRate: 8000, SDPFmtpLine: sdp.SupportedEvents}, PayloadType: sdp.DefaultEventPT}
)

// pionCodec returns the MediaEngine entry for a codec name.
func pionCodec(name string) pion.RTPCodecParameters {
	switch name {
	case "PCMA":
		return pcma
	case "telephone-event":
		return event
	}
	return pcmu
}

// api builds a pion API for one leg: its own MediaEngine (so that nothing
// negotiated for one call leaks into another), RTCP sender and receiver
// reports (the browser's stack expects them; NACK and congestion control
// are left out, they do nothing for G.711 audio), and pion's log lines
// going to log.
func (g *Gateway) api(log *zap.Logger) (*pion.API, error) {
	me := &pion.MediaEngine{}
	for _, c := range []pion.RTPCodecParameters{pcmu, pcma, event} {
		if err := me.RegisterCodec(c, pion.RTPCodecTypeAudio); err != nil {
			return nil, fmt.Errorf("register %s: %w", c.MimeType, err)
		}
	}
	ir := &interceptor.Registry{}
	if err := pion.ConfigureRTCPReports(ir); err != nil {
		return nil, fmt.Errorf("rtcp reports: %w", err)
	}
	se := pion.SettingEngine{LoggerFactory: pionLogs{log.Sugar()}}
	se.DisableMediaEngineCopy(true) // the engine is this leg's alone
	se.SetNetworkTypes([]pion.NetworkType{pion.NetworkTypeUDP4, pion.NetworkTypeUDP6})
	// Browsers hide their host addresses behind mDNS names; the server
	// does not need to resolve them (the browser's checks reach it and
	// make peer-reflexive candidates), and answering mDNS would cost a
	// multicast socket per call.
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetIncludeLoopbackCandidate(g.cfg.LoopbackCandidates)
	if g.cfg.UDPPortMin != 0 {
		if err := se.SetEphemeralUDPPortRange(g.cfg.UDPPortMin, g.cfg.UDPPortMax); err != nil {
			return nil, fmt.Errorf("ICE UDP port range: %w", err)
		}
	}
	if len(g.cfg.PublicIPs) > 0 {
		err := se.SetICEAddressRewriteRules(pion.ICEAddressRewriteRule{
			External: g.cfg.PublicIPs, AsCandidateType: pion.ICECandidateTypeHost, Mode: pion.ICEAddressRewriteReplace,
		})
		if err != nil {
			return nil, fmt.Errorf("public IPs: %w", err)
		}
	}
	if len(g.cfg.ICEAddrs) > 0 {
		allowed := g.cfg.ICEAddrs
		se.SetIPFilter(func(ip net.IP) bool {
			a, ok := netip.AddrFromSlice(ip)
			if !ok {
				return false
			}
			for _, b := range allowed {
				if a.Unmap() == b.Unmap() {
					return true
				}
			}
			return false
		})
	}
	return pion.NewAPI(pion.WithMediaEngine(me), pion.WithInterceptorRegistry(ir), pion.WithSettingEngine(se)), nil
}

// ports returns the phone-side port allocator and c= address for a
// family: IPv6 when want is an IPv6 address and Ports6 is set, IPv4
// otherwise when Ports4 is set.
func (g *Gateway) ports(want netip.Addr) (*rtp.Ports, netip.Addr, error) {
	v6 := want.IsValid() && want.Is6() && !want.Is4In6()
	switch {
	case v6 && g.cfg.Ports6 != nil, !v6 && g.cfg.Ports4 == nil && !want.IsValid():
		return g.cfg.Ports6, advertised(g.cfg.Advertise6, g.cfg.Ports6), nil
	case !v6 && g.cfg.Ports4 != nil:
		return g.cfg.Ports4, advertised(g.cfg.Advertise4, g.cfg.Ports4), nil
	}
	return nil, netip.Addr{}, fmt.Errorf("%w: no RTP ports for the phone's address %s", sdp.ErrNotAcceptable, want)
}

func advertised(a netip.Addr, p *rtp.Ports) netip.Addr {
	if a.IsValid() {
		return a
	}
	return p.IP()
}

// FromBrowser starts a call from a browser to a phone: it takes the
// browser's offer and returns the plain RTP offer to send the phone, with
// the browser's G.711 codecs in the browser's order and telephone-event if
// the browser has it. ctx bounds the leg's whole life, not just this call:
// when it ends, the leg closes. Finish with PhoneAnswer.
func (g *Gateway) FromBrowser(ctx context.Context, callID string, browserOffer []byte) (*Leg, []byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("browser offer: %w", err)
	}
	bo, err := parseBrowser(browserOffer)
	if err != nil {
		return nil, nil, fmt.Errorf("browser offer: %w", err)
	}
	names := bo.g711(nil)
	if len(names) == 0 {
		return nil, nil, fmt.Errorf("browser offer (%s): %w", bo.names(), ErrNoCommonCodec)
	}
	ports, adv, err := g.ports(netip.Addr{})
	if err != nil {
		return nil, nil, fmt.Errorf("browser offer: %w", err)
	}
	eventPT := eventPTFor(bo)
	l, err := g.newLeg(ctx, callID, ports, adv, uint8(pionCodec(names[0]).PayloadType))
	if err != nil {
		return nil, nil, err
	}
	l.mu.Lock()
	l.eventPT = eventPT
	offer, err := l.browserOffered(bo, browserOffer, names)
	l.mu.Unlock()
	if err != nil {
		_ = l.Close()
		return nil, nil, err
	}
	l.log.Debug("browser offer rewritten for the phone", zap.Strings("codecs", names))
	return l, offer, nil
}

// ToBrowser starts a call from a phone to a browser: it takes the phone's
// offer and returns the WebRTC offer to send the browser, with the phone's
// G.711 codecs in the phone's order and telephone-event if the phone has
// it. An SDES-SRTP offer (RTP/SAVP, or RTP/AVP with a=crypto) gets an
// SRTP answer; RTP/SAVP without a usable a=crypto fails with
// ErrNoUsableCrypto. ctx bounds the leg's whole life. Finish with
// BrowserAnswer.
func (g *Gateway) ToBrowser(ctx context.Context, callID string, phoneOffer []byte) (*Leg, []byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("phone offer: %w", err)
	}
	po, err := sdp.Parse(phoneOffer)
	if err != nil {
		return nil, nil, fmt.Errorf("phone offer: %w", err)
	}
	m, err := phoneAudio(po)
	if err != nil {
		return nil, nil, fmt.Errorf("phone offer: %w", err)
	}
	names := phoneG711(m, nil)
	if len(names) == 0 {
		return nil, nil, fmt.Errorf("phone offer (%s): %w", codecList(m), ErrNoCommonCodec)
	}
	ports, adv, err := g.ports(m.Addr)
	if err != nil {
		return nil, nil, fmt.Errorf("phone offer: %w", err)
	}
	var pt uint8 // the phone's first G.711 codec, likely the one it will send
	for _, c := range m.Codecs {
		if c.Is(names[0]) {
			pt = c.PT
			break
		}
	}
	l, err := g.newLeg(ctx, callID, ports, adv, pt)
	if err != nil {
		return nil, nil, err
	}
	l.mu.Lock()
	offer, err := l.phoneOffered(po, m, names)
	l.mu.Unlock()
	if err != nil {
		_ = l.Close()
		return nil, nil, err
	}
	l.log.Debug("phone offer rewritten for the browser", zap.Strings("codecs", names))
	return l, offer, nil
}

// phoneAudio returns a phone SDP's audio stream, which must be RTP/AVP,
// or RTP/SAVP with an a=crypto we support.
func phoneAudio(o *sdp.Offer) (*sdp.Media, error) {
	m, _ := o.Audio()
	if m == nil {
		return nil, fmt.Errorf("%w: no audio stream", sdp.ErrNotAcceptable)
	}
	if m.Proto != protoAVP && m.Proto != protoSAVP {
		return nil, fmt.Errorf("%w: audio transport %s", sdp.ErrNotAcceptable, m.Proto)
	}
	if err := checkCrypto(m); err != nil {
		return nil, err
	}
	return m, nil
}

// phoneG711 returns the G.711 codec names of a phone's stream in its
// order, among allowed (all of g711 when nil).
func phoneG711(m *sdp.Media, allowed []string) []string {
	b := browserSDP{codecs: m.Codecs}
	return b.g711(allowed)
}

// codecList lists a stream's formats for error messages.
func codecList(m *sdp.Media) string {
	b := browserSDP{codecs: m.Codecs}
	if len(m.Codecs) == 0 {
		return fmt.Sprint(m.Formats)
	}
	return b.names()
}

// pionLogs sends pion's log lines to zap, lowered: pion logs at Info
// what a server logs at Debug (every ICE state change), and at Warn the
// ordinary ends of a call ("stream is already closed", "failed to ping
// without candidate pairs" before the answer). Its errors become
// warnings: the leg's own lines say what the call lost.
type pionLogs struct{ s *zap.SugaredLogger }

// NewLogger implements logging.LoggerFactory.
func (p pionLogs) NewLogger(scope string) logging.LeveledLogger {
	return pionLogger{p.s.With(zap.String("pion", scope))}
}

type pionLogger struct{ s *zap.SugaredLogger }

func (l pionLogger) Trace(string)              {}
func (l pionLogger) Tracef(string, ...any)     {}
func (l pionLogger) Debug(msg string)          { l.s.Debug(msg) }
func (l pionLogger) Debugf(f string, a ...any) { l.s.Debugf(f, a...) }
func (l pionLogger) Info(msg string)           { l.s.Debug(msg) }
func (l pionLogger) Infof(f string, a ...any)  { l.s.Debugf(f, a...) }
func (l pionLogger) Warn(msg string)           { l.s.Debug(msg) }
func (l pionLogger) Warnf(f string, a ...any)  { l.s.Debugf(f, a...) }
func (l pionLogger) Error(msg string)          { l.s.Warn(msg) }
func (l pionLogger) Errorf(f string, a ...any) { l.s.Warnf(f, a...) }
