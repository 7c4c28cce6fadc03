// Package mediaserver is the SIP user agent that terminates the calls the
// proxy hands to the media layer (voicemail deposit and retrieval,
// announcements) and runs an application per call. It answers INVITEs with
// a G.711 SDP answer, owns the call's RTP endpoint, turns RFC 4733 events
// and SIP INFO bodies into one stream of key presses, and ends the dialog
// with BYE when the application is done.
//
// It listens on a loopback UDP address of its own: only the proxy talks to
// it, over the proxy's record-routed dialogs, so it needs no registrar, no
// authentication and no TCP.
//
// # Outbound calls and bridging
//
// For the switchboard it is also a back-to-back user agent. Server.Dial
// places a call through the proxy (Config.Proxy): an INVITE with our G.711
// offer (Config.Codecs order, plus telephone-event 101), sent from our
// listening socket with a preloaded loose Route naming the proxy, CANCELed
// when the dial's context ends or DialSpec.Ring passes. It needs no
// credentials: the proxy trusts INVITEs from the media server's socket.
// In-dialog requests (ACK, BYE) follow the route set of the answer's
// Record-Route; requests from the far end (BYE, re-INVITE, INFO) reach the
// same handlers as those of answered calls. The answered call is a
// *Session like an App's: Play, ReadDigits, Record, hold by re-INVITE,
// dead-media timeout; its owner ends it with Hangup.
//
// Bridge relays audio between two sessions, answered or dialled, until a
// context ends or a leg hangs up, transcoding PCMU↔PCMA and passing RFC
// 4733 key presses through; afterwards each session can Play again or be
// bridged to another. Session.Done and Session.Ended tell when and why a
// call ended.
package mediaserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/media/codec"
	"github.com/sentralpbx/sentral/media/rtp"
	"github.com/sentralpbx/sentral/media/sdp"
	"github.com/sentralpbx/sentral/sip/zapslog"
)

// Defaults for Config.
const (
	DefaultMaxCalls = 256
	// byeTimeout bounds the BYE at the end of a call: a proxy that does not
	// answer within it is gone, and the call is over for us either way.
	byeTimeout = 4 * time.Second
	// contactUser is the user part of our Contact; the proxy never routes on it.
	contactUser = "media"
)

// App runs one call: Serve returns when the application is done with it
// (the server then hangs up) or when ctx ends (the caller hung up, media
// died, the server is stopping).
type App interface {
	Serve(ctx context.Context, s *Session)
}

// AppFunc adapts a function to App.
type AppFunc func(ctx context.Context, s *Session)

// Serve calls f.
func (f AppFunc) Serve(ctx context.Context, s *Session) { f(ctx, s) }

// Config configures a Server.
type Config struct {
	// Listen is the UDP address to bind, e.g. "127.0.0.1:0" or "[::1]:0".
	Listen string
	// Trusted says whether a request's source may use the server; others
	// get 403. Nil trusts loopback sources only, which is right when the
	// proxy runs in the same process and Listen is a loopback address.
	Trusted func(src netip.AddrPort) bool
	// Ports4 and Ports6 allocate RTP ports for IPv4 and IPv6 offers; an
	// offer in a family without ports is refused with 488.
	Ports4, Ports6 *rtp.Ports
	// Advertise4 and Advertise6 go in our SDP's c= line; the zero value
	// advertises the port allocator's own address.
	Advertise4, Advertise6 netip.Addr
	// Codecs lists the SDP encoding names we accept, in our preference
	// order (the offerer's order decides among them); default PCMU, PCMA.
	Codecs []string
	// Apps maps the request-URI user part to the application run for it.
	Apps map[string]App
	// Proxy is the host:port of the proxy's UDP listener: Dial sends its
	// INVITEs there (as a preloaded loose Route), and its RTP offer uses
	// the address family of the proxy's address. Empty disables Dial.
	Proxy string
	Log   *zap.Logger
	// MaxCalls bounds concurrent calls; INVITEs beyond it get 503.
	MaxCalls int
	// DeadMediaTimeout ends a call whose caller sends no RTP for this long
	// (media/rtp's default, 30 s, when zero; negative disables).
	DeadMediaTimeout time.Duration
	// UserAgent is the User-Agent/Server header value ("Sentral media").
	UserAgent string
}

// Server is a running media server. Create it with New, start it with Run.
type Server struct {
	cfg    Config
	log    *zap.Logger
	codecs []string
	conn   net.PacketConn
	addr   string
	laddr  sip.Addr // our socket, pinned on requests we originate
	ua     *sipgo.UserAgent
	srv    *sipgo.Server
	dua    *sipgo.DialogUA

	mu       sync.Mutex
	runCtx   context.Context // parent of every call; set by Run
	started  bool
	closing  bool // no new calls
	stopped  bool // no new handlers
	active   int
	calls    map[string]*call // by dialog ID
	callWG   sync.WaitGroup   // admitted calls, from INVITE to cleanup
	handleWG sync.WaitGroup   // handlers running
}

// New binds the listening socket and prepares the SIP stack; Run serves.
func New(cfg Config) (*Server, error) {
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	if cfg.Ports4 == nil && cfg.Ports6 == nil {
		return nil, errors.New("mediaserver: no RTP ports configured")
	}
	if cfg.MaxCalls <= 0 {
		cfg.MaxCalls = DefaultMaxCalls
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "Sentral media"
	}
	if cfg.Trusted == nil {
		cfg.Trusted = func(src netip.AddrPort) bool { return src.Addr().Unmap().IsLoopback() }
	}
	codecs := cfg.Codecs
	if len(codecs) == 0 {
		codecs = []string{"PCMU", "PCMA"}
	}
	for _, name := range codecs {
		if _, ok := codec.ByName(name); !ok {
			return nil, fmt.Errorf("mediaserver: unsupported codec %q", name)
		}
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	conn, err := net.ListenPacket("udp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("mediaserver: listen %s: %w", cfg.Listen, err)
	}
	s := &Server{cfg: cfg, log: cfg.Log, codecs: codecs, conn: conn, addr: conn.LocalAddr().String(),
		calls: map[string]*call{}}
	ap, err := netip.ParseAddrPort(s.addr)
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("mediaserver: bound address %s: %w", s.addr, err)
	}
	host := ap.Addr().Unmap().String()
	s.laddr = sip.Addr{IP: ap.Addr().Unmap().AsSlice(), Port: int(ap.Port()), Hostname: host}

	slogger := zapslog.New(cfg.Log.Named("sipgo"))
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgent(cfg.UserAgent),
		sipgo.WithUserAgentHostname(host),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(slogger)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(slogger)),
	)
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("mediaserver: user agent: %w", err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(slogger))
	if err != nil {
		_ = ua.Close()
		_ = conn.Close()
		return nil, fmt.Errorf("mediaserver: sip server: %w", err)
	}
	client, err := sipgo.NewClient(ua, sipgo.WithClientLogger(slogger),
		sipgo.WithClientHostname(host), sipgo.WithClientPort(int(ap.Port())),
		sipgo.WithClientConnectionAddr(s.laddr.String()))
	if err != nil {
		_ = ua.Close()
		_ = conn.Close()
		return nil, fmt.Errorf("mediaserver: sip client: %w", err)
	}
	s.ua, s.srv = ua, srv
	s.dua = &sipgo.DialogUA{Client: client, ContactHDR: sip.ContactHeader{
		Address: sip.Uri{Scheme: "sip", User: contactUser, Host: host, Port: int(ap.Port())},
	}}
	srv.OnInvite(s.guard(s.onInvite))
	srv.OnAck(s.guard(s.onAck))
	srv.OnBye(s.guard(s.onBye))
	srv.OnCancel(s.guard(s.onCancel))
	srv.OnInfo(s.guard(s.onInfo))
	srv.OnOptions(s.guard(s.onOptions))
	srv.OnNoRoute(s.guard(s.onNoRoute))
	return s, nil
}

// Addr returns the bound SIP address (host:port), for the proxy's routes.
func (s *Server) Addr() string { return s.addr }

// Calls returns the number of calls in progress.
func (s *Server) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.active
}

// Run serves until ctx ends, then ends every call (each application's
// context is canceled and the server sends BYE) and returns once all calls
// and request handlers are finished and the socket is closed.
func (s *Server) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return errors.New("mediaserver: Run called twice")
	}
	s.started = true
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.runCtx = runCtx
	s.mu.Unlock()

	served := make(chan error, 1)
	go func() { served <- s.srv.ServeUDP(s.conn) }()
	s.log.Info("media server listening", zap.String("listen", s.addr))

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-served:
		served = nil
	}
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	cancel()
	// Calls end first: their BYEs need the transport still running.
	s.callWG.Wait()
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	s.handleWG.Wait()
	_ = s.ua.Close()
	_ = s.conn.Close()
	if served != nil {
		<-served
	}
	if serveErr != nil && !errors.Is(serveErr, net.ErrClosed) {
		return fmt.Errorf("mediaserver: serve: %w", serveErr)
	}
	return nil
}

// Close releases the socket of a server whose Run was never called; after
// Run has started it does nothing (Run's context stops the server).
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return nil
	}
	s.started, s.stopped = true, true
	_ = s.ua.Close()
	return s.conn.Close()
}

// guard wraps every handler: it counts it for Run's shutdown, recovers
// panics (sipgo runs handlers in its own goroutines without recovering),
// and answers 403 to sources that are not trusted.
func (s *Server) guard(h sipgo.RequestHandler) sipgo.RequestHandler {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		s.mu.Lock()
		if s.stopped || !s.started {
			s.mu.Unlock()
			return
		}
		s.handleWG.Add(1)
		s.mu.Unlock()
		defer s.handleWG.Done()
		defer func() {
			if r := recover(); r != nil {
				s.log.Error("mediaserver: handler panic", zap.Any("panic", r), zap.String("call_id", callID(req)),
					zap.String("method", req.Method.String()), zap.String("src", req.Source()))
				respond(s.log, req, tx, sip.StatusInternalServerError, "Server Internal Error")
			}
		}()
		src, err := netip.ParseAddrPort(req.Source())
		if err != nil || !s.cfg.Trusted(netip.AddrPortFrom(src.Addr().Unmap(), src.Port())) {
			s.log.Debug("request from an untrusted source refused", zap.String("src", req.Source()),
				zap.String("method", req.Method.String()), zap.String("call_id", callID(req)))
			respond(s.log, req, tx, sip.StatusForbidden, "Forbidden")
			return
		}
		h(req, tx)
	}
}

// respond sends a response without a body; ACKs and a nil transaction get
// nothing, as no response to them is possible.
func respond(log *zap.Logger, req *sip.Request, tx sip.ServerTransaction, code int, reason string, hdrs ...sip.Header) {
	if req.IsAck() || tx == nil {
		return
	}
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	if err := tx.Respond(res); err != nil {
		log.Debug("respond", zap.Int("code", code), zap.String("call_id", callID(req)), zap.Error(err))
	}
}

func callID(req *sip.Request) string {
	if h := req.CallID(); h != nil {
		return h.Value()
	}
	return ""
}

const allowed = "INVITE, ACK, BYE, CANCEL, INFO, OPTIONS"

func (s *Server) onOptions(req *sip.Request, tx sip.ServerTransaction) {
	respond(s.log, req, tx, sip.StatusOK, "OK", sip.NewHeader("Allow", allowed),
		sip.NewHeader("Accept", "application/sdp, application/dtmf-relay, application/dtmf"))
}

func (s *Server) onNoRoute(req *sip.Request, tx sip.ServerTransaction) {
	respond(s.log, req, tx, sip.StatusMethodNotAllowed, "Method Not Allowed", sip.NewHeader("Allow", allowed))
}

// onCancel sees only CANCELs that match no INVITE transaction: sipgo's
// transaction layer answers the others and ends their INVITE with 487.
func (s *Server) onCancel(req *sip.Request, tx sip.ServerTransaction) {
	respond(s.log, req, tx, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
}

// admit reserves a call slot; the caller must release it.
func (s *Server) admit() (int, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closing:
		return sip.StatusServiceUnavailable, "Shutting Down"
	case s.active >= s.cfg.MaxCalls:
		return sip.StatusServiceUnavailable, "Too Many Calls"
	}
	s.active++
	s.callWG.Add(1)
	return 0, ""
}

func (s *Server) release() {
	s.mu.Lock()
	s.active--
	s.mu.Unlock()
	s.callWG.Done()
}

func (s *Server) register(c *call) {
	s.mu.Lock()
	s.calls[c.key] = c
	s.mu.Unlock()
}

func (s *Server) unregister(c *call) {
	s.mu.Lock()
	if s.calls[c.key] == c {
		delete(s.calls, c.key)
	}
	s.mu.Unlock()
}

// lookup finds the call an in-dialog request belongs to.
func (s *Server) lookup(req *sip.Request) *call {
	id, err := sip.DialogIDFromRequestUAS(req)
	if err != nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[id]
}

// media returns the port allocator and advertised address for an offer's
// address family.
func (s *Server) media(remote netip.Addr) (*rtp.Ports, netip.Addr) {
	ports, adv := s.cfg.Ports4, s.cfg.Advertise4
	if remote.Is6() && !remote.Is4In6() {
		ports, adv = s.cfg.Ports6, s.cfg.Advertise6
	}
	if ports == nil {
		return nil, netip.Addr{}
	}
	if !adv.IsValid() {
		adv = ports.IP()
	}
	return ports, adv
}

// onInvite answers a new call, or a re-INVITE within one.
func (s *Server) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if to := req.To(); to != nil && to.Params.Has("tag") {
		s.onReinvite(req, tx)
		return
	}
	log := s.log.With(zap.String("call_id", callID(req)), zap.String("src", req.Source()))
	user := unescape(req.Recipient.User)
	app, ok := s.cfg.Apps[user]
	if !ok {
		log.Info("call for an unknown application refused", zap.String("app", user))
		respond(log, req, tx, sip.StatusNotFound, "Not Found")
		return
	}
	if code, reason := s.admit(); code != 0 {
		log.Info("call refused", zap.Int("code", code), zap.String("reason", reason))
		respond(log, req, tx, code, reason, sip.NewHeader("Retry-After", "5"))
		return
	}
	handedOver := false
	defer func() {
		if !handedOver {
			s.release()
		}
	}()

	offer, code, why := readOffer(req)
	if code != 0 {
		log.Info("call refused", zap.Int("code", code), zap.String("reason", why))
		hdrs := []sip.Header{sip.NewHeader("Warning", `399 sentral "`+quoteSafe(why)+`"`)}
		if code == sip.StatusUnsupportedMediaType {
			hdrs = append(hdrs, sip.NewHeader("Accept", "application/sdp"))
		}
		respond(log, req, tx, code, reasonFor(code), hdrs...)
		return
	}
	audio, _ := offer.Audio()
	ports, adv := s.media(audio.Addr)
	if ports == nil {
		log.Info("call refused: no RTP ports for the offer's address family", zap.Stringer("addr", audio.Addr))
		respond(log, req, tx, sip.StatusNotAcceptableHere, "Not Acceptable Here")
		return
	}
	// Our SRTP key, used if the offer asks for SRTP (see srtp.go).
	srtpKey, err := sdp.NewKey()
	if err != nil {
		log.Error("SRTP key", zap.Error(err))
		respond(log, req, tx, sip.StatusInternalServerError, "Server Internal Error")
		return
	}
	// A dry run settles the codec before an endpoint exists: the endpoint
	// needs the payload type (and SRTP keys), the real answer needs the
	// endpoint's port.
	_, choice, err := sdp.NewSession().Answer(offer, sdp.Local{Addr: adv, Port: 2, SRTPKey: srtpKey}, s.codecs)
	if err != nil {
		log.Info("call refused", zap.Error(err))
		code := sip.StatusNotAcceptableHere
		var hdrs []sip.Header
		if errors.Is(err, sdp.ErrNotAcceptable) {
			why := strings.TrimPrefix(strings.TrimPrefix(err.Error(), sdp.ErrNotAcceptable.Error()), ": ")
			hdrs = append(hdrs, sip.NewHeader("Warning", `399 sentral "`+quoteSafe(why)+`"`))
		} else {
			code = sip.StatusInternalServerError
		}
		respond(log, req, tx, code, reasonFor(code), hdrs...)
		return
	}
	cd, ok := codec.ByName(choice.Codec.Name)
	if !ok {
		respond(log, req, tx, sip.StatusNotAcceptableHere, "Not Acceptable Here")
		return
	}
	var protect *rtp.SRTP
	if choice.SRTP != nil {
		// Keyed from the start, so that no unauthenticated packet can
		// latch the endpoint.
		if protect, err = newSRTP(nil, choice.SRTP); err != nil {
			log.Error("SRTP context", zap.Error(err))
			respond(log, req, tx, sip.StatusInternalServerError, "Server Internal Error")
			return
		}
	}
	dialog, err := s.dua.ReadInvite(req, tx)
	if err != nil {
		log.Info("bad INVITE", zap.Error(err))
		respond(log, req, tx, sip.StatusBadRequest, "Bad Request")
		return
	}
	if err := dialog.Respond(sip.StatusTrying, "Trying", nil); err != nil {
		log.Debug("100 Trying", zap.Error(err))
	}

	s.mu.Lock()
	parent := s.runCtx
	s.mu.Unlock()
	ctx, cancel := context.WithCancelCause(parent)
	ep, err := rtp.Open(ctx, ports, rtp.Config{
		CallID: callID(req), Log: s.log, PayloadType: choice.Codec.PT,
		Remote: choice.Remote, RemoteRTCP: choice.RemoteRTCP, DeadMediaTimeout: s.cfg.DeadMediaTimeout,
		SRTP: protect,
	})
	if err != nil {
		cancel(err)
		log.Warn("call refused: no RTP endpoint", zap.Error(err))
		code := sip.StatusInternalServerError
		if errors.Is(err, rtp.ErrPortsExhausted) {
			code = sip.StatusServiceUnavailable
		}
		if err := dialog.Respond(code, reasonFor(code), nil); err != nil {
			log.Debug("respond", zap.Error(err))
		}
		return
	}
	sess := sdp.NewSession()
	local := sdp.Local{Addr: adv, Port: int(ep.LocalAddr().Port()), SRTPKey: srtpKey}
	answer, choice, err := sess.Answer(offer, local, []string{choice.Codec.Name})
	if err != nil {
		cancel(err)
		_ = ep.Close()
		log.Error("SDP answer", zap.Error(err))
		if err := dialog.Respond(sip.StatusInternalServerError, "Server Internal Error", nil); err != nil {
			log.Debug("respond", zap.Error(err))
		}
		return
	}
	c := newCall(s, callInit{
		log: log, dialog: dialog, app: app, req: req, ctx: ctx, cancel: cancel, ep: ep,
		codec: cd, sdp: sess, local: local, choice: choice,
	})
	s.register(c)
	go c.readMedia()
	// CANCEL, or a BYE before the ACK, ends the dialog; so does shutdown
	// while we wait for the ACK, by terminating the transaction.
	stopTx := context.AfterFunc(ctx, func() { tx.Terminate() })
	err = dialog.RespondSDP(answer)
	stopTx()
	if err == nil && ctx.Err() == nil {
		handedOver = true
		go s.runCall(c)
		return
	}
	if err == nil {
		err = context.Cause(ctx)
	}
	log.Info("call not established", zap.Error(err))
	c.end(errNotEstablished)
	if dialog.LoadState() == sip.DialogStateEstablished || dialog.LoadState() == sip.DialogStateConfirmed {
		c.bye()
	}
	c.cleanup()
}

// readOffer checks an initial INVITE's body; a non-zero code refuses it.
func readOffer(req *sip.Request) (*sdp.Offer, int, string) {
	body := req.Body()
	if len(body) == 0 {
		// A late offer would need us to offer and the ACK to answer; the
		// proxy always forwards the caller's offer, so this is not a case
		// worth the states.
		return nil, sip.StatusNotAcceptableHere, "no SDP offer"
	}
	if ct := req.ContentType(); ct != nil && !isSDP(ct.Value()) {
		return nil, sip.StatusUnsupportedMediaType, "body is not application/sdp"
	}
	offer, err := sdp.Parse(body)
	if err != nil {
		return nil, sip.StatusBadRequest, err.Error()
	}
	if m, _ := offer.Audio(); m == nil {
		return nil, sip.StatusNotAcceptableHere, "no audio stream"
	}
	return offer, 0, ""
}

func isSDP(contentType string) bool {
	mt, _, _ := strings.Cut(contentType, ";")
	return strings.EqualFold(strings.TrimSpace(mt), "application/sdp")
}

func reasonFor(code int) string {
	switch code {
	case sip.StatusBadRequest:
		return "Bad Request"
	case sip.StatusUnsupportedMediaType:
		return "Unsupported Media Type"
	case sip.StatusNotAcceptableHere:
		return "Not Acceptable Here"
	case sip.StatusServiceUnavailable:
		return "Service Unavailable"
	case sip.StatusInternalServerError:
		return "Server Internal Error"
	}
	return "Error " + strconv.Itoa(code)
}

// quoteSafe makes text fit a quoted-string of a Warning header.
func quoteSafe(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '"' || r == '\\' || r < 0x20 || r > 0x7e {
			return '\''
		}
		return r
	}, s)
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}

// runCall runs the application of an answered call and hangs up after.
func (s *Server) runCall(c *call) {
	defer s.release()
	defer c.cleanup()
	number, name := c.Caller()
	c.log.Info("call answered", zap.String("app", c.appName), zap.String("caller", number),
		zap.String("caller_name", name), zap.Stringer("codec", c.codec), zap.Stringer("rtp", c.ep.LocalAddr()),
		zap.String("srtp", c.session.SRTP()))
	func() {
		defer func() {
			if r := recover(); r != nil {
				c.log.Error("mediaserver: application panic", zap.Any("panic", r))
			}
		}()
		c.app.Serve(c.ctx, c.session)
	}()
	c.end(errAppDone)
	if c.state() != sip.DialogStateEnded {
		c.bye()
	}
	c.log.Info("call ended", zap.NamedError("cause", context.Cause(c.ctx)))
}

func (s *Server) onAck(req *sip.Request, tx sip.ServerTransaction) {
	if c := s.lookup(req); c != nil {
		c.onAck(req, tx)
	}
}

func (s *Server) onBye(req *sip.Request, tx sip.ServerTransaction) {
	c := s.lookup(req)
	if c == nil {
		respond(s.log, req, tx, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
		return
	}
	if err := c.readBye(req, tx); err != nil {
		c.log.Debug("BYE", zap.Error(err))
		respond(c.log, req, tx, sip.StatusBadRequest, "Bad Request")
		return
	}
	if c.out != nil {
		c.end(errCalleeBye)
	} else {
		c.end(errCallerBye)
	}
}

func (s *Server) onInfo(req *sip.Request, tx sip.ServerTransaction) {
	c := s.lookup(req)
	if c == nil {
		respond(s.log, req, tx, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
		return
	}
	ct := ""
	if h := req.ContentType(); h != nil {
		ct = h.Value()
	}
	code, digit, why := infoDigit(ct, req.Body())
	if code != sip.StatusOK {
		c.log.Debug("INFO refused", zap.Int("code", code), zap.String("reason", why))
		var hdrs []sip.Header
		if code == sip.StatusUnsupportedMediaType {
			hdrs = append(hdrs, sip.NewHeader("Accept", "application/dtmf-relay, application/dtmf"))
		}
		respond(c.log, req, tx, code, reasonFor(code), hdrs...)
		return
	}
	respond(c.log, req, tx, sip.StatusOK, "OK")
	if digit != 0 {
		c.infoDigit(digit)
	}
}
