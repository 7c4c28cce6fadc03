package mediaserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/media/codec"
	"github.com/sentralpbx/sentral/media/rtp"
	"github.com/sentralpbx/sentral/media/sdp"
)

// DefaultRing is how long Dial lets a call ring when DialSpec.Ring is 0.
const DefaultRing = 30 * time.Second

var (
	// ErrNoProxy is returned by Dial when Config.Proxy is empty.
	ErrNoProxy = errors.New("mediaserver: dial: no proxy configured")
	// ErrNotRunning is returned by Dial before Run or once it is stopping.
	ErrNotRunning  = errors.New("mediaserver: dial: server not running")
	errRingTimeout = errors.New("ring timeout")
	errDialAborted = errors.New("dial context ended")
	errShutdown    = errors.New("server stopping")
)

// DialSpec describes an outbound call.
type DialSpec struct {
	// To is the request-URI and the To URI, e.g. "sip:2001@fjordvik.test".
	To string
	// From is the From URI: the caller presented, e.g.
	// "sip:+4791234567@fjordvik.test". Empty: sip:media@<our address>.
	From string
	// FromName is From's display name.
	FromName string
	// Headers are added to the INVITE as they are, e.g.
	// "X-Sentral-Console": "<call id>". Headers the dialog needs (Via,
	// From, To, Call-ID, CSeq, Contact, Route, Content-*) cannot be
	// replaced this way and are refused.
	Headers map[string]string
	// Ring is how long to wait for the answer before giving up with
	// CANCEL (0: DefaultRing).
	Ring time.Duration
	// OnRinging, if set, is called once, on the first 180 or 183, on the
	// goroutine running Dial.
	OnRinging func()
	// Near is an address of the called party (where its phone registered
	// from), when known: the offer's media takes its family, so an IPv6
	// phone gets an IPv6 address to send to. Zero: the proxy's family.
	Near netip.Addr
}

// DialError is the outcome of a Dial that was not answered: the final
// non-2xx response, or 408 when Ring passed (or no response came at all)
// and 487 when Dial's context ended first.
type DialError struct {
	Code   int
	Reason string
}

func (e *DialError) Error() string {
	return "mediaserver: dial: " + strconv.Itoa(e.Code) + " " + e.Reason
}

// reservedHeaders may not come from DialSpec.Headers.
var reservedHeaders = map[string]bool{
	"via": true, "from": true, "to": true, "call-id": true, "cseq": true, "contact": true,
	"route": true, "record-route": true, "content-type": true, "content-length": true,
	"max-forwards": true, "f": true, "t": true, "i": true, "m": true, "v": true, "c": true, "l": true,
}

// Dial places a call through the proxy (Config.Proxy) and waits for the
// answer. On 2xx it ACKs, applies the SDP answer and returns the call's
// Session: it plays prompts, reads key presses (RFC 4733 and SIP INFO),
// follows re-INVITEs (hold) from the far end, ends on the far end's BYE or
// dead media, and can be bridged (Bridge). Nothing runs an App for it: the
// caller of Dial owns it and ends it with Hangup (the server also hangs it
// up when it stops). ctx bounds only the ringing: when it ends before the
// answer, Dial sends CANCEL and returns a *DialError with Code 487; after
// the answer, it has no effect on the call.
//
// A refusal is a *DialError with the final response's code; other errors
// are local failures (no ports, no proxy, the transport).
func (s *Server) Dial(ctx context.Context, d DialSpec) (*Session, error) {
	if s.cfg.Proxy == "" {
		return nil, ErrNoProxy
	}
	proxyURI, proxyIP, err := proxyRoute(s.cfg.Proxy)
	if err != nil {
		return nil, fmt.Errorf("mediaserver: dial: proxy %q: %w", s.cfg.Proxy, err)
	}
	var to sip.Uri
	if err := sip.ParseUri(d.To, &to); err != nil {
		return nil, fmt.Errorf("mediaserver: dial: To %q: %w", d.To, err)
	}
	from := sip.Uri{Scheme: "sip", User: contactUser, Host: s.laddr.Hostname}
	if d.From != "" {
		if err := sip.ParseUri(d.From, &from); err != nil {
			return nil, fmt.Errorf("mediaserver: dial: From %q: %w", d.From, err)
		}
	}
	for k := range d.Headers {
		if reservedHeaders[strings.ToLower(strings.TrimSpace(k))] || strings.ContainsAny(k, ": \r\n") {
			return nil, fmt.Errorf("mediaserver: dial: header %q may not be set", k)
		}
	}
	for _, v := range d.Headers {
		if strings.ContainsAny(v, "\r\n") {
			return nil, errors.New("mediaserver: dial: header value with a line break")
		}
	}
	ring := d.Ring
	if ring <= 0 {
		ring = DefaultRing
	}

	s.mu.Lock()
	parent := s.runCtx
	s.mu.Unlock()
	if parent == nil {
		return nil, ErrNotRunning
	}
	if code, reason := s.admit(); code != 0 {
		if reason == "Shutting Down" {
			return nil, ErrNotRunning
		}
		return nil, fmt.Errorf("mediaserver: dial: %s", reason)
	}
	handedOver := false
	defer func() {
		if !handedOver {
			s.release()
		}
	}()

	ports, adv := s.media(proxyIP)
	if d.Near.IsValid() {
		if p, a := s.media(d.Near); p != nil {
			ports, adv = p, a
		}
	}
	if ports == nil {
		return nil, fmt.Errorf("mediaserver: dial: no RTP ports for the proxy's address family (%s)", proxyIP)
	}
	first, _ := codec.ByName(s.codecs[0])
	callID := sip.CallIDHeader(newCallID())
	log := s.log.With(zap.String("call_id", string(callID)), zap.String("to", d.To))
	cctx, cancel := context.WithCancelCause(parent)
	ep, err := rtp.Open(cctx, ports, rtp.Config{
		CallID: string(callID), Log: s.log, PayloadType: first.PayloadType(),
		DeadMediaTimeout: s.cfg.DeadMediaTimeout,
	})
	if err != nil {
		cancel(err)
		return nil, fmt.Errorf("mediaserver: dial: rtp: %w", err)
	}
	// No media is due while it rings: the dead-media clock starts with
	// the answer (applying it resumes the endpoint).
	ep.SetHold(true)
	fail := func(err error) (*Session, error) {
		cancel(err)
		_ = ep.Close()
		return nil, err
	}
	sess := sdp.NewSession()
	// Plain RTP/AVP, by choice: a phone set to mandatory SRTP refuses it
	// (488), one with optional SRTP takes it; offering RTP/SAVP would
	// lose every phone without SRTP, and offering both (two m-lines or
	// RFC 5939 capabilities) is not worth the state for the switchboard's
	// calls, which run between our own loopback media server and desk
	// phones on the LAN. Without Local.SRTPKey, re-INVITEs on a dialled
	// call stay plain too.
	local := sdp.Local{Addr: adv, Port: int(ep.LocalAddr().Port())}
	offer, err := sess.Offer(local, s.codecs)
	if err != nil {
		return fail(fmt.Errorf("mediaserver: dial: offer: %w", err))
	}

	req := sip.NewRequest(sip.INVITE, to)
	req.SetTransport("UDP")
	req.Laddr = s.laddr
	fromHdr := &sip.FromHeader{DisplayName: d.FromName, Address: from, Params: sip.NewParams()}
	fromHdr.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(fromHdr)
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: to.Scheme, User: to.User, Host: to.Host, Port: to.Port}, Params: sip.NewParams()})
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.RouteHeader{Address: proxyURI})
	req.AppendHeader(sip.HeaderClone(&s.dua.ContactHDR))
	req.AppendHeader(sip.NewHeader("Allow", allowed))
	for k, v := range d.Headers {
		req.AppendHeader(sip.NewHeader(k, v))
	}
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(offer)

	dlg, err := s.dua.WriteInvite(ctx, req)
	if err != nil {
		return fail(fmt.Errorf("mediaserver: dial: INVITE: %w", err))
	}
	log.Debug("INVITE sent", zap.String("proxy", s.cfg.Proxy))
	res, err := s.waitAnswer(ctx, parent, dlg, ring, d.OnRinging)
	if err != nil {
		var de *DialError
		if errors.As(err, &de) {
			log.Info("dial not answered", zap.Int("code", de.Code), zap.String("reason", de.Reason))
		} else {
			log.Info("dial failed", zap.Error(err))
		}
		return fail(err)
	}

	// Answered: from here a failure must end the dialog with BYE.
	if err := dlg.Ack(context.WithoutCancel(ctx)); err != nil {
		return fail(fmt.Errorf("mediaserver: dial: ACK: %w", err))
	}
	byeFail := func(err error) (*Session, error) {
		bctx, bcancel := context.WithTimeout(context.WithoutCancel(ctx), byeTimeout)
		defer bcancel()
		if berr := dlg.WriteBye(bctx, byeRequest(dlg, s.laddr)); berr != nil {
			log.Debug("BYE", zap.Error(berr))
		}
		return fail(err)
	}
	if ct := res.ContentType(); len(res.Body()) == 0 || (ct != nil && !isSDP(ct.Value())) {
		return byeFail(errors.New("mediaserver: dial: answer without SDP"))
	}
	ans, err := sdp.Parse(res.Body())
	if err != nil {
		return byeFail(fmt.Errorf("mediaserver: dial: answer: %w", err))
	}
	choice, err := sdp.Accept(ans, s.codecs)
	if err != nil {
		return byeFail(fmt.Errorf("mediaserver: dial: answer: %w", err))
	}
	cd, ok := codec.ByName(choice.Codec.Name)
	if !ok {
		return byeFail(fmt.Errorf("mediaserver: dial: answer chose %s", choice.Codec.Name))
	}
	toTag, _ := res.To().Params.Get("tag")
	fromTag, _ := fromHdr.Params.Get("tag")
	number, display := calleeOf(res)
	c := newCall(s, callInit{
		log: log, out: dlg, req: req, ctx: cctx, cancel: cancel, ep: ep,
		key:    sip.DialogIDMake(string(callID), fromTag, toTag),
		number: number, display: display,
		codec: cd, sdp: sess, local: local, choice: choice,
	})
	s.register(c)
	go c.readMedia()
	handedOver = true
	go s.runDialled(c)
	log.Info("dialled call answered", zap.String("callee", number), zap.String("callee_name", display),
		zap.Stringer("codec", cd), zap.Stringer("rtp", ep.LocalAddr()))
	return c.session, nil
}

// waitAnswer waits for the INVITE's final response: the 2xx, or a
// *DialError. It sends CANCEL when ctx ends, ring passes or the server
// stops first.
func (s *Server) waitAnswer(ctx, parent context.Context, dlg *sipgo.DialogClientSession, ring time.Duration,
	onRinging func()) (*sip.Response, error) {
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	timer := time.AfterFunc(ring, func() { cancel(errRingTimeout) })
	defer timer.Stop()
	stop := context.AfterFunc(parent, func() { cancel(errShutdown) })
	defer stop()
	rang := false
	err := dlg.WaitAnswer(rctx, sipgo.AnswerOptions{OnResponse: func(r *sip.Response) error {
		if !rang && (r.StatusCode == sip.StatusRinging || r.StatusCode == sip.StatusSessionInProgress) {
			rang = true
			if onRinging != nil {
				onRinging()
			}
		}
		return nil
	}})
	res := dlg.InviteResponse
	if err == nil {
		return res, nil
	}
	if res != nil && res.IsSuccess() {
		// The answer crossed our CANCEL: the call is up, and is ours to
		// end (RFC 3261 §9.1: ACK it, then BYE).
		ackCtx, ackCancel := context.WithTimeout(context.WithoutCancel(ctx), byeTimeout)
		defer ackCancel()
		if aerr := dlg.Ack(ackCtx); aerr == nil {
			if berr := dlg.WriteBye(ackCtx, byeRequest(dlg, s.laddr)); berr != nil {
				s.log.Debug("dial: BYE after crossed CANCEL", zap.Error(berr))
			}
		}
	}
	var dr *sipgo.ErrDialogResponse
	if errors.As(err, &dr) {
		return nil, &DialError{Code: dr.Res.StatusCode, Reason: dr.Res.Reason}
	}
	if rctx.Err() != nil {
		switch cause := context.Cause(rctx); {
		case errors.Is(cause, errRingTimeout):
			return nil, &DialError{Code: sip.StatusRequestTimeout, Reason: "Request Timeout"}
		case errors.Is(cause, errShutdown):
			return nil, ErrNotRunning
		default:
			return nil, &DialError{Code: sip.StatusRequestTerminated, Reason: "Request Terminated"}
		}
	}
	if strings.Contains(err.Error(), "transaction terminated") {
		// No final response at all (Timer B): the proxy or the phone is
		// gone.
		return nil, &DialError{Code: sip.StatusRequestTimeout, Reason: "No Response"}
	}
	return nil, fmt.Errorf("mediaserver: dial: %w", err)
}

// runDialled waits for a dialled call to end and hangs it up.
func (s *Server) runDialled(c *call) {
	defer s.release()
	defer c.cleanup()
	<-c.ctx.Done()
	if c.state() != sip.DialogStateEnded {
		c.bye()
	}
	c.log.Info("dialled call ended", zap.NamedError("cause", context.Cause(c.ctx)))
}

// byeOut sends BYE on a dialled call, along the route set the answer's
// Record-Route made.
func (c *call) byeOut(ctx context.Context) {
	if err := c.out.WriteBye(ctx, byeRequest(c.out, c.srv.laddr)); err != nil {
		c.log.Info("BYE failed", zap.Error(err))
	}
}

// byeRequest is a BYE to the far end's Contact, leaving from our listening
// socket; the dialog adds From, To, Call-ID, CSeq and Route.
func byeRequest(dlg *sipgo.DialogClientSession, laddr sip.Addr) *sip.Request {
	target := dlg.InviteRequest.Recipient
	if cont := dlg.InviteResponse.Contact(); cont != nil {
		target = cont.Address
	}
	bye := sip.NewRequest(sip.BYE, *target.Clone())
	bye.SetTransport(dlg.InviteRequest.Transport())
	bye.Laddr = laddr
	return bye
}

// calleeOf returns the answering party's number and display name: from
// the answer's P-Asserted-Identity when the proxy set one, else To.
func calleeOf(res *sip.Response) (number, display string) {
	for _, h := range res.GetHeaders("P-Asserted-Identity") {
		if n, d, ok := parseIdentity(h.Value()); ok {
			return n, cleanDisplay(d)
		}
	}
	if t := res.To(); t != nil {
		return uriNumber(&t.Address), cleanDisplay(t.DisplayName)
	}
	return "", ""
}

// newCallID returns a random Call-ID.
func newCallID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:]) + "@sentral-media"
}

// proxyRoute turns Config.Proxy into a loose Route URI and the address
// whose family the RTP offer takes (a host name: IPv4).
func proxyRoute(hostport string) (sip.Uri, netip.Addr, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return sip.Uri{}, netip.Addr{}, err
	}
	p, err := strconv.Atoi(port)
	if err != nil || p <= 0 || p > 65535 {
		return sip.Uri{}, netip.Addr{}, fmt.Errorf("port %q", port)
	}
	ip := netip.IPv4Unspecified()
	if a, err := netip.ParseAddr(host); err == nil {
		ip = a.Unmap()
		host = ip.String() // sipgo brackets IPv6 hosts itself
	}
	params := sip.NewParams()
	params.Add("lr", "")
	return sip.Uri{Scheme: "sip", Host: host, Port: p, UriParams: params}, ip, nil
}
