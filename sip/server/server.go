// Package server sets up Sentral's SIP transports on top of sipgo: it binds
// the listeners named in the listen spec (UDP, TCP, TLS, WS, WSS), bounds
// message sizes, answers OPTIONS pings, keeps a handler panic from taking
// the process down, and ties every listener and connection to one context.
//
// What sipgo already does, so this package does not repeat it (v1.7.2):
//   - CRLF keep-alives: a bare CRLF/CRLFCRLF datagram on UDP is ignored;
//     on TCP/TLS a double CRLF ping is answered with a single CRLF pong
//     (RFC 5626 §3.5.1), WS frames likewise.
//   - Unparseable bytes are dropped (UDP) or close the connection (stream
//     transports, where no message boundary is left to resync on); a request
//     that parses but lacks Via/CSeq gets a stateless 400.
//   - Size: Parser.MaxMessageLength bounds a message on every transport
//     (stream transports count buffered bytes, so a peer cannot grow memory
//     by never finishing a line). UDP reads use a 32 KiB buffer, so a larger
//     datagram is truncated and then fails to parse.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/sip/zapslog"
)

// udpReadBuffer is the receive buffer asked for on UDP listeners.
const udpReadBuffer = 4 << 20

// DefaultMaxMessageBytes is the largest SIP message accepted by default,
// the largest a UDP datagram can carry.
const DefaultMaxMessageBytes = 65535

// Options configures a Server.
type Options struct {
	Listen []Listener
	// TLSCert and TLSKey are PEM files for tls/wss listeners. When both are
	// empty and a secure listener is asked for, a self-signed certificate is
	// generated (for development only; a warning is logged).
	TLSCert, TLSKey string
	// MaxMessageBytes bounds one SIP message (0: DefaultMaxMessageBytes).
	MaxMessageBytes int
	// Name goes into the User-Agent of requests sipgo originates.
	Name string
	// Guard, when set, is asked about every request's source before any
	// handler runs; a refused source gets no response at all.
	Guard Admitter
	Log   *zap.Logger
}

// Admitter decides whether a source may be served (bans, rate limits);
// *auth.Guard is one.
type Admitter interface {
	Allow(ip netip.Addr) (bool, string)
}

// Server is a running set of SIP listeners over one sipgo user agent.
type Server struct {
	log    *zap.Logger
	admit  Admitter
	ua     *sipgo.UserAgent
	srv    *sipgo.Server
	lns    []*bound
	parser *sip.Parser
	fast   stateless
	reqs   requestCounts // requests received, by method (Requests)

	mu       sync.Mutex
	serving  bool
	closed   bool
	handlers sync.WaitGroup // requests inside a handler; Add only while !closed
	quiet    *zapslog.Gate  // closed once stopped: sipgo's leftovers log nothing
}

type bound struct {
	Listener
	addr  string // the address actually bound (port 0 resolved)
	close func() error
	serve func() error
}

// New binds every listener (so a busy port fails here, before anything
// runs) and prepares the sipgo stack. Register handlers with Handle, then
// call Serve.
func New(opts Options) (*Server, error) {
	log := opts.Log
	if log == nil {
		log = zap.NewNop()
	}
	if len(opts.Listen) == 0 {
		return nil, errors.New("sip server: no listeners")
	}
	maxBytes := opts.MaxMessageBytes
	if maxBytes <= 0 {
		maxBytes = DefaultMaxMessageBytes
	}
	var tlsConf *tls.Config
	for _, l := range opts.Listen {
		if l.Secure() && tlsConf == nil {
			c, err := loadTLS(opts.TLSCert, opts.TLSKey, log)
			if err != nil {
				return nil, err
			}
			tlsConf = c
		}
	}

	parser := sip.NewParser()
	parser.MaxMessageLength = maxBytes
	quiet := new(zapslog.Gate)
	s := &Server{log: log, admit: opts.Guard, quiet: quiet, parser: parser}
	s.fast.init()
	slogger := zapslog.New(log.Named("sipgo"), zapslog.WithGate(quiet))
	name := opts.Name
	if name == "" {
		name = "Sentral"
	}
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgent(name),
		sipgo.WithUserAgentParser(parser),
		sipgo.WithUserAgenTLSConfig(tlsConf),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(slogger),
			sip.WithTransportLayerReadFilter(s.readFilter)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(slogger)),
	)
	if err != nil {
		return nil, fmt.Errorf("sip server: user agent: %w", err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(slogger))
	if err != nil {
		_ = ua.Close()
		return nil, fmt.Errorf("sip server: %w", err)
	}
	s.ua, s.srv = ua, srv
	for _, l := range opts.Listen {
		b, err := s.bind(l, tlsConf)
		if err != nil {
			_ = s.Close()
			return nil, err
		}
		s.lns = append(s.lns, b)
	}
	s.Handle(sip.OPTIONS, s.options)
	srv.OnNoRoute(s.guard(s.noRoute))
	return s, nil
}

func (s *Server) bind(l Listener, tlsConf *tls.Config) (*bound, error) {
	b := &bound{Listener: l}
	switch l.Network {
	case "udp":
		pc, err := net.ListenPacket("udp", l.Addr)
		if err != nil {
			return nil, fmt.Errorf("sip listen %s: %w", l, err)
		}
		if uc, ok := pc.(*net.UDPConn); ok {
			// sipgo reads each UDP socket from one goroutine; under a burst
			// (every phone re-registering after an outage) the kernel's
			// default buffer of about 200 KiB overflows and each lost
			// datagram costs the phone a 500 ms retransmission. The kernel
			// caps this at net.core.rmem_max (see docs/operations.md).
			if err := uc.SetReadBuffer(udpReadBuffer); err != nil {
				s.log.Warn("sip: cannot enlarge UDP receive buffer", zap.String("listen", l.String()), zap.Error(err))
			}
		}
		b.addr, b.close = pc.LocalAddr().String(), pc.Close
		b.serve = func() error { return s.srv.ServeUDP(pc) }
		s.fast.conns[b.addr] = pc
	default:
		ln, err := net.Listen("tcp", l.Addr)
		if err != nil {
			return nil, fmt.Errorf("sip listen %s: %w", l, err)
		}
		b.addr, b.close = ln.Addr().String(), ln.Close
		if l.Secure() {
			ln = tls.NewListener(ln, tlsConf)
		}
		switch l.Network {
		case "tcp":
			b.serve = func() error { return s.srv.ServeTCP(ln) }
		case "tls":
			b.serve = func() error { return s.srv.ServeTLS(ln) }
		case "ws":
			b.serve = func() error { return s.srv.ServeWS(ln) }
		case "wss":
			b.serve = func() error { return s.srv.ServeWSS(ln) }
		}
	}
	return b, nil
}

// Addr is the bound address of the first listener of a transport ("" if none).
func (s *Server) Addr(network string) string {
	for _, b := range s.lns {
		if b.Network == strings.ToLower(network) {
			return b.addr
		}
	}
	return ""
}

// Client returns a sipgo client on the server's user agent, so requests
// Sentral originates or forwards leave through the same transports and
// connections its listeners accepted (a phone behind NAT is reachable only
// over the flow it opened).
func (s *Server) Client(opts ...sipgo.ClientOption) (*sipgo.Client, error) {
	c, err := sipgo.NewClient(s.ua, opts...)
	if err != nil {
		return nil, fmt.Errorf("sip client: %w", err)
	}
	return c, nil
}

// Listeners lists what is bound, with resolved ports.
func (s *Server) Listeners() []Listener {
	out := make([]Listener, len(s.lns))
	for i, b := range s.lns {
		out[i] = Listener{Network: b.Network, Addr: b.addr}
	}
	return out
}

// Handle registers the handler for a method. Requests from sources the
// guard refuses never reach it. A panic inside it is caught, logged and
// answered with 500, so one bad request cannot end the process (sipgo runs
// handlers in its own goroutines without recovering). Call it before Serve.
func (s *Server) Handle(method sip.RequestMethod, h sipgo.RequestHandler) {
	s.srv.OnRequest(method, s.guard(h))
}

func (s *Server) guard(h sipgo.RequestHandler) sipgo.RequestHandler {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		if !s.enter() {
			return // shutting down
		}
		defer s.handlers.Done()
		s.reqs.add(req.Method)
		defer func() {
			if r := recover(); r != nil {
				s.log.Error("sip handler panic", zap.Any("panic", r), zap.String("method", req.Method.String()),
					zap.String("call_id", callID(req)), zap.String("src", req.Source()))
				_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusInternalServerError, "Server Internal Error", nil))
			}
		}()
		if s.admit != nil {
			ap, err := netip.ParseAddrPort(req.Source())
			if err != nil {
				s.log.Debug("sip request without a usable source dropped", zap.String("src", req.Source()))
				return
			}
			if ok, why := s.admit.Allow(ap.Addr().Unmap()); !ok {
				// Debug, not info: a flood would otherwise become a log flood.
				s.log.Debug("sip request dropped", zap.String("reason", why), zap.String("src", req.Source()),
					zap.String("method", req.Method.String()), zap.String("call_id", callID(req)))
				return
			}
		}
		h(req, tx)
	}
}

// options answers OPTIONS pings (phones and trunks use them as keep-alive
// and health checks). Every OPTIONS is answered here for now; routing one
// with a user part to that user is left to the proxy once it routes
// out-of-dialog requests other than INVITE.
func (s *Server) options(req *sip.Request, tx sip.ServerTransaction) {
	res := sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil)
	res.AppendHeader(sip.NewHeader("Allow", s.allow()))
	res.AppendHeader(sip.NewHeader("Accept", "application/sdp"))
	res.AppendHeader(sip.NewHeader("Supported", "path, outbound"))
	if err := tx.Respond(res); err != nil {
		s.log.Debug("options: respond", zap.Error(err), zap.String("src", req.Source()))
	}
}

func (s *Server) noRoute(req *sip.Request, tx sip.ServerTransaction) {
	if req.IsAck() {
		return // an ACK is never answered
	}
	res := sip.NewResponseFromRequest(req, sip.StatusMethodNotAllowed, "Method Not Allowed", nil)
	res.AppendHeader(sip.NewHeader("Allow", s.allow()))
	if err := tx.Respond(res); err != nil {
		s.log.Debug("respond 405", zap.Error(err), zap.String("src", req.Source()))
	}
}

// enter admits a request into a handler unless the server is stopping, so
// that Serve can wait for every handler before it returns.
func (s *Server) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.handlers.Add(1)
	return true
}

func (s *Server) allow() string {
	return strings.Join(s.srv.RegisteredMethods(), ", ")
}

// Serve runs every listener until ctx ends, then closes listeners and
// connections and returns once all of them have stopped. A listener that
// fails on its own ends Serve with its error.
func (s *Server) Serve(ctx context.Context) error {
	s.mu.Lock()
	if s.serving || s.closed {
		s.mu.Unlock()
		return errors.New("sip server: Serve called twice or after Close")
	}
	s.serving = true
	s.mu.Unlock()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	s.startStateless(ctx, &wg)
	errs := make(chan error, len(s.lns))
	for _, b := range s.lns {
		wg.Add(1)
		go func(b *bound) {
			defer wg.Done()
			err := b.serve()
			if ctx.Err() == nil {
				if err == nil {
					err = io.EOF
				}
				errs <- fmt.Errorf("sip listener %s: %w", b.Listener, err)
				cancel()
			}
		}(b)
		s.log.Info("sip listening", zap.String("transport", b.Network), zap.String("addr", b.addr))
	}
	<-ctx.Done()
	s.closeAll()
	wg.Wait()
	s.handlers.Wait()
	// sipgo's per-connection readers and transaction timers have no join
	// point; closing the user agent makes them exit on their own, and from
	// here on they may not log (the logger may belong to a finished test).
	s.quiet.Close()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// Close releases the listeners of a server that is not serving. Serve
// closes them itself when its context ends.
func (s *Server) Close() error {
	s.mu.Lock()
	serving := s.serving
	s.mu.Unlock()
	if serving {
		return nil
	}
	s.closeAll()
	s.quiet.Close()
	return nil
}

func (s *Server) closeAll() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.mu.Unlock()
	for _, b := range s.lns {
		if err := b.close(); err != nil && !errors.Is(err, net.ErrClosed) {
			s.log.Warn("sip listener close", zap.String("listener", b.Listener.String()), zap.Error(err))
		}
	}
	// Closing the user agent closes every accepted connection and stops
	// the transaction layer's timers.
	if err := s.ua.Close(); err != nil {
		s.log.Debug("sip user agent close", zap.Error(err))
	}
}

func callID(req *sip.Request) string {
	if h := req.CallID(); h != nil {
		return h.Value()
	}
	return ""
}

// FlowAlive reports whether the connection a phone registered over is
// still open (network tcp, tls, ws or wss; addr its remote address). A
// phone behind NAT or a browser cannot accept a new connection, so the
// proxy must never dial its old source address; this is how it knows not
// to. UDP has no connection: its flow is the address, always "alive".
func (s *Server) FlowAlive(network, addr string) bool {
	network = strings.ToLower(network)
	if network == "" || network == "udp" {
		return true
	}
	pool := s.ua.TransportLayer().Pool(network)
	if pool == nil {
		return false
	}
	c := pool.Get(addr)
	if c == nil {
		return false
	}
	c.Ref(-1) // Get took a reference we do not keep
	return true
}
