// Package phone is a SIP phone for end-to-end tests: it registers, places
// and answers calls, and moves real G.711 audio and DTMF over RTP, so a test
// can check that what it sent is what a server stored and that what a
// server played is what it received.
//
// It is built on sipgo (signalling, transactions, dialogs) and Sentral's own
// media packages (media/sdp, media/rtp, media/codec, media/dtmf). Each phone
// has one UDP socket for SIP, which is also its Contact, so proxies and
// peers reach it there for incoming calls and in-dialog requests. RTP ports
// come from a small random range per phone, so phones of parallel tests do
// not collide.
//
// The phone sends RTP only while SendAudio or SendDTMF runs (no comfort
// noise in between), so a call left silent for longer than a server's
// dead-media timeout (Sentral's default is 30 s) may be ended by the server.
// It answers REFER with 501: it does not perform transfers.
//
// Everything a Phone starts stops with Close or with the context given to
// New. Calls end with Hangup, with the peer's BYE, or when the phone closes.
package phone

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/sentralpbx/sentral/media/codec"
	"github.com/sentralpbx/sentral/media/rtp"
	"github.com/sentralpbx/sentral/sip/server"
)

// Options configure a Phone.
type Options struct {
	// User, Password and Domain give the address of record sip:User@Domain
	// and the digest credentials. Domain may carry a port ("host:port").
	User, Password, Domain string
	// Proxy is where every out-of-dialog request goes (host:port, UDP):
	// the server, or for tests without one the peer phone's Addr. Empty
	// is allowed for a phone that only receives calls.
	Proxy string
	// Listen is the local SIP UDP address; "127.0.0.1:0" by default, or
	// "[::1]:0" when Proxy is IPv6. RTP binds to the same IP, so it must
	// not be unspecified.
	Listen string
	// Codecs are offered and accepted in this order of preference;
	// default PCMU then PCMA.
	Codecs []string
	// Log receives the phone's and sipgo's logs (optional).
	Log *zap.Logger
}

// StatusError is a final SIP response other than 2xx to a request the
// phone made.
type StatusError struct {
	Code   int
	Reason string
}

func (e StatusError) Error() string { return fmt.Sprintf("SIP %d %s", e.Code, e.Reason) }

// Phone is one SIP user agent with its own socket. Safe for concurrent use.
type Phone struct {
	opt     Options
	log     *zap.Logger
	gate    *logGate
	aor     sip.Uri
	proxy   string // host:port, "" when none
	addr    netip.AddrPort
	contact sip.ContactHeader
	codecs  []string

	ctx    context.Context // the phone's life; cancelled by Close
	cancel context.CancelFunc
	conn   *net.UDPConn
	ua     *sipgo.UserAgent
	srv    *sipgo.Server
	client *sipgo.Client
	dua    *sipgo.DialogUA
	wg     sync.WaitGroup // goroutines of calls and the SIP server

	incoming chan *Call
	notifies chan *sip.Request

	portsMu sync.Mutex
	ports   *rtp.Ports

	mu    sync.Mutex
	calls map[string]*Call // by sipgo dialog ID (Call-ID, UAS tag, UAC tag)
	all   map[*Call]bool   // every live call, answered or not, for Close

	regMu   sync.Mutex // one REGISTER at a time keeps the CSeq in order
	regCall string
	regSeq  uint32

	subMu sync.Mutex
	subs  map[string]*subscription // by event package

	closing   chan struct{}
	closeOnce sync.Once
}

type subscription struct {
	callID, fromTag, toTag string
	seq                    uint32
	target                 sip.Uri
	routes                 []string
}

// Queue sizes: a test that does not read Incoming or Notifies loses what
// overflows (an incoming call is then answered 486), but never blocks the
// SIP server.
const (
	incomingQueue = 16
	notifyQueue   = 256
)

// RTP port ranges: a random base per phone within 30000-60000, 200 ports
// (100 calls) wide. Ports skips ports another process holds; when the
// whole range is taken, the phone moves to another random range.
const (
	rtpLow, rtpHigh = 30000, 60000
	rtpSpan         = 200
	rtpRetries      = 5
)

// New starts a phone: it binds its SIP socket and serves it until ctx ends
// or Close is called.
func New(ctx context.Context, opt Options) (*Phone, error) {
	if opt.User == "" || opt.Domain == "" {
		return nil, errors.New("phone: User and Domain are required")
	}
	p := &Phone{
		opt:      opt,
		gate:     &logGate{},
		incoming: make(chan *Call, incomingQueue),
		notifies: make(chan *sip.Request, notifyQueue),
		calls:    map[string]*Call{},
		all:      map[*Call]bool{},
		subs:     map[string]*subscription{},
		closing:  make(chan struct{}),
		regCall:  sip.GenerateTagN(24),
		regSeq:   uint32(rand.IntN(10000)),
	}
	log := opt.Log
	if log == nil {
		log = zap.NewNop()
	}
	// A test's logger must not be written to once the test is over, and
	// sipgo keeps transaction timers running after its UA is closed.
	p.log = zap.New(gatedCore{Core: log.Core(), gate: p.gate}).With(zap.String("ext", opt.User))

	host, port, err := splitDomain(opt.Domain)
	if err != nil {
		return nil, err
	}
	p.aor = sip.Uri{Scheme: "sip", User: opt.User, Host: host, Port: port}

	p.codecs = opt.Codecs
	if len(p.codecs) == 0 {
		p.codecs = []string{"PCMU", "PCMA"}
	}
	for _, name := range p.codecs {
		if _, ok := codec.ByName(name); !ok {
			return nil, fmt.Errorf("phone: codec %q is not G.711", name)
		}
	}

	ipv6 := false
	if opt.Proxy != "" {
		ua, err := net.ResolveUDPAddr("udp", opt.Proxy)
		if err != nil {
			return nil, fmt.Errorf("phone: proxy %q: %w", opt.Proxy, err)
		}
		ap := ua.AddrPort()
		ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		p.proxy = ap.String()
		ipv6 = ap.Addr().Is6()
	}
	listen := opt.Listen
	if listen == "" {
		listen = "127.0.0.1:0"
		if ipv6 {
			listen = "[::1]:0"
		}
	}
	la, err := net.ResolveUDPAddr("udp", listen)
	if err != nil {
		return nil, fmt.Errorf("phone: listen %q: %w", listen, err)
	}
	if la.IP == nil || la.IP.IsUnspecified() {
		return nil, fmt.Errorf("phone: listen %q: need a specific IP for Contact and RTP", listen)
	}
	p.conn, err = net.ListenUDP("udp", la)
	if err != nil {
		return nil, fmt.Errorf("phone: %w", err)
	}
	ap := p.conn.LocalAddr().(*net.UDPAddr).AddrPort()
	p.addr = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	p.contact = sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: opt.User,
		Host: p.addr.Addr().String(), Port: int(p.addr.Port())}}
	p.log = p.log.With(zap.Stringer("phone", p.addr))

	if err := p.start(); err != nil {
		p.conn.Close()
		return nil, err
	}
	go func() {
		select {
		case <-ctx.Done():
			p.Close()
		case <-p.closing:
		}
	}()
	return p, nil
}

func splitDomain(d string) (string, int, error) {
	if h, ps, err := net.SplitHostPort(d); err == nil {
		port, err := strconv.Atoi(ps)
		if err != nil || port <= 0 || port > 65535 {
			return "", 0, fmt.Errorf("phone: domain %q: bad port", d)
		}
		return h, port, nil
	}
	return strings.Trim(d, "[]"), 0, nil
}

// start builds the sipgo stack and serves the socket.
func (p *Phone) start() error {
	slogger := server.Slog(p.log.Named("sipgo"))
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgent(p.opt.User),
		sipgo.WithUserAgentHostname(p.aor.Host),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(slogger)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(slogger)),
	)
	if err != nil {
		return fmt.Errorf("phone: %w", err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(slogger))
	if err != nil {
		ua.Close()
		return fmt.Errorf("phone: %w", err)
	}
	// Every request leaves from the listening socket, so that Via, the
	// source address a proxy sees and Contact all agree; without this
	// sipgo may open an ephemeral socket per destination.
	client, err := sipgo.NewClient(ua, sipgo.WithClientLogger(slogger),
		sipgo.WithClientConnectionAddr(p.addr.String()))
	if err != nil {
		ua.Close()
		return fmt.Errorf("phone: %w", err)
	}
	p.ua, p.srv, p.client = ua, srv, client
	p.dua = &sipgo.DialogUA{Client: client, ContactHDR: p.contact}
	p.ctx, p.cancel = context.WithCancel(context.Background())

	srv.OnInvite(p.onInvite)
	srv.OnAck(p.onAck)
	srv.OnBye(p.onBye)
	srv.OnCancel(p.onCancel)
	srv.OnInfo(p.onInfo)
	srv.OnNotify(p.onNotify)
	srv.OnRefer(p.onRefer)
	srv.OnOptions(p.onOptions)

	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		_ = srv.ServeUDP(p.conn)
	}()
	// ServeUDP registers the socket with the transport in its goroutine;
	// a request sent before that would try to bind the same address again.
	tp := ua.TransportLayer()
	for i := 0; ; i++ {
		if c, err := tp.GetConnection("udp", p.addr.String()); err == nil {
			c.TryClose()
			return nil
		}
		if i == 200 {
			p.cancel()
			p.conn.Close()
			ua.Close()
			p.wg.Wait()
			return errors.New("phone: SIP listener did not start")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Addr returns the phone's SIP address (its Contact), for peers that call
// it directly and as Options.Proxy of such a peer.
func (p *Phone) Addr() netip.AddrPort { return p.addr }

// AOR returns sip:User@Domain.
func (p *Phone) AOR() string { return p.aor.String() }

// Incoming delivers calls to this phone, ringing (180 sent); answer or
// reject each.
func (p *Phone) Incoming() <-chan *Call { return p.incoming }

// Notifies delivers the NOTIFY requests the phone received (MWI, presence,
// REFER progress); each has already been answered 200.
func (p *Phone) Notifies() <-chan *sip.Request { return p.notifies }

// Close hangs up the phone's calls (best effort, a second at most), then
// stops its goroutines and releases its sockets. Safe to call twice.
func (p *Phone) Close() error {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		calls := make([]*Call, 0, len(p.all))
		for c := range p.all {
			calls = append(calls, c)
		}
		p.mu.Unlock()
		var wg sync.WaitGroup
		for _, c := range calls {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				c.closeForShutdown(ctx)
			}()
		}
		wg.Wait()
		close(p.closing)
		p.cancel()
		p.conn.Close()
		p.ua.Close()
		p.wg.Wait()
		p.gate.close()
	})
	return nil
}

// Register sends REGISTER for the AOR with this phone's Contact, answering
// a digest challenge (401 or 407) once. expires 0 removes the binding. It
// does not refresh by itself.
func (p *Phone) Register(ctx context.Context, expires time.Duration) error {
	if p.proxy == "" {
		return errors.New("register: no Proxy")
	}
	p.regMu.Lock()
	defer p.regMu.Unlock()
	registrar := sip.Uri{Scheme: "sip", Host: p.aor.Host, Port: p.aor.Port}
	req := sip.NewRequest(sip.REGISTER, registrar)
	from := sip.FromHeader{Address: p.aor, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(&from)
	req.AppendHeader(&sip.ToHeader{Address: p.aor})
	callID := sip.CallIDHeader(p.regCall)
	req.AppendHeader(&callID)
	p.regSeq++
	req.AppendHeader(&sip.CSeqHeader{SeqNo: p.regSeq, MethodName: sip.REGISTER})
	req.AppendHeader(sip.HeaderClone(&p.contact))
	exp := sip.ExpiresHeader(uint32(expires / time.Second))
	req.AppendHeader(&exp)
	req.AppendHeader(sip.NewHeader("User-Agent", userAgent))
	res, err := p.send(ctx, req)
	// The retry went out with the next CSeq: keep counting from there.
	p.regSeq = req.CSeq().SeqNo
	if err != nil {
		return fmt.Errorf("register %s: %w", p.aor.String(), err)
	}
	if !res.IsSuccess() {
		return fmt.Errorf("register %s: %w", p.aor.String(), StatusError{res.StatusCode, res.Reason})
	}
	return nil
}

// Subscribe subscribes to event (e.g. "message-summary") for the phone's
// own AOR, answering a digest challenge once. NOTIFYs arrive on Notifies.
// Calling it again for the same event refreshes the subscription within
// its dialog; expires 0 ends it.
func (p *Phone) Subscribe(ctx context.Context, event string, expires time.Duration) error {
	if p.proxy == "" {
		return errors.New("subscribe: no Proxy")
	}
	p.subMu.Lock()
	defer p.subMu.Unlock()
	_, refresh := p.subs[event]
	res, err := p.subscribe(ctx, event, expires)
	if err == nil && refresh && res.StatusCode == sip.StatusCallTransactionDoesNotExists {
		// The server forgot the dialog of a refresh: start a new one.
		delete(p.subs, event)
		res, err = p.subscribe(ctx, event, expires)
	}
	if err != nil {
		return fmt.Errorf("subscribe %s: %w", event, err)
	}
	if !res.IsSuccess() {
		return fmt.Errorf("subscribe %s: %w", event, StatusError{res.StatusCode, res.Reason})
	}
	return nil
}

// subscribe sends one SUBSCRIBE, in the event's dialog if there is one,
// and keeps or drops the dialog according to the outcome.
func (p *Phone) subscribe(ctx context.Context, event string, expires time.Duration) (*sip.Response, error) {
	sub := p.subs[event]
	fresh := sub == nil
	if fresh {
		sub = &subscription{callID: sip.GenerateTagN(24), fromTag: sip.GenerateTagN(16),
			seq: uint32(rand.IntN(10000)), target: p.aor}
	}
	sub.seq++
	req := sip.NewRequest(sip.SUBSCRIBE, *sub.target.Clone())
	for _, r := range sub.routes {
		req.AppendHeader(sip.NewHeader("Route", r))
	}
	from := sip.FromHeader{Address: p.aor, Params: sip.NewParams()}
	from.Params.Add("tag", sub.fromTag)
	req.AppendHeader(&from)
	to := sip.ToHeader{Address: p.aor, Params: sip.NewParams()}
	if sub.toTag != "" {
		to.Params.Add("tag", sub.toTag)
	}
	req.AppendHeader(&to)
	callID := sip.CallIDHeader(sub.callID)
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: sub.seq, MethodName: sip.SUBSCRIBE})
	req.AppendHeader(sip.HeaderClone(&p.contact))
	req.AppendHeader(sip.NewHeader("Event", event))
	if a := acceptFor(event); a != "" {
		req.AppendHeader(sip.NewHeader("Accept", a))
	}
	exp := sip.ExpiresHeader(uint32(expires / time.Second))
	req.AppendHeader(&exp)
	req.AppendHeader(sip.NewHeader("User-Agent", userAgent))
	res, err := p.send(ctx, req)
	sub.seq = req.CSeq().SeqNo
	if err != nil || !res.IsSuccess() || expires == 0 {
		if !fresh && (err != nil || expires == 0 || res.StatusCode >= 400) {
			delete(p.subs, event)
		}
		return res, err
	}
	if fresh {
		if tag, ok := res.To().Params.Get("tag"); ok {
			sub.toTag = tag
		}
		if c := res.Contact(); c != nil {
			sub.target = *c.Address.Clone()
		}
		rrs := res.GetHeaders("Record-Route")
		for i := len(rrs) - 1; i >= 0; i-- {
			sub.routes = append(sub.routes, rrs[i].Value())
		}
		p.subs[event] = sub
	}
	return res, nil
}

func acceptFor(event string) string {
	switch event {
	case "message-summary":
		return "application/simple-message-summary"
	case "presence":
		return "application/pidf+xml"
	case "dialog":
		return "application/dialog-info+xml"
	}
	return ""
}

const userAgent = "sentral-test-phone"

// send sends an out-of-dialog request to the proxy and waits for its final
// response, answering one digest challenge with sipgo's DoDigestAuth (which
// bumps the CSeq and replaces the Via).
func (p *Phone) send(ctx context.Context, req *sip.Request) (*sip.Response, error) {
	req.SetDestination(p.proxy)
	res, err := p.client.Do(ctx, req)
	if err != nil {
		return nil, err
	}
	if res.StatusCode == sip.StatusUnauthorized || res.StatusCode == sip.StatusProxyAuthRequired {
		res, err = p.client.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: p.opt.User, Password: p.opt.Password})
	}
	return res, err
}

// authorize adds credentials for a challenge to a request that is about to
// be sent again; for in-dialog requests, which sipgo's digest helpers do
// not cover.
func (p *Phone) authorize(req *sip.Request, res *sip.Response) error {
	name, hdr := "WWW-Authenticate", "Authorization"
	if res.StatusCode == sip.StatusProxyAuthRequired {
		name, hdr = "Proxy-Authenticate", "Proxy-Authorization"
	}
	h := res.GetHeader(name)
	if h == nil {
		return fmt.Errorf("%d without %s", res.StatusCode, name)
	}
	chal, err := digest.ParseChallenge(h.Value())
	if err != nil {
		return fmt.Errorf("challenge: %w", err)
	}
	chal.Algorithm = strings.ToUpper(chal.Algorithm)
	cred, err := digest.Digest(chal, digest.Options{Method: string(req.Method), URI: req.Recipient.Addr(),
		Username: p.opt.User, Password: p.opt.Password})
	if err != nil {
		return fmt.Errorf("digest: %w", err)
	}
	req.RemoveHeader(hdr)
	req.AppendHeader(sip.NewHeader(hdr, cred.String()))
	return nil
}

// laddr pins a request to the listening socket (see start); sipgo's
// dialogs build in-dialog requests without it.
func (p *Phone) laddr() sip.Addr {
	return sip.Addr{IP: net.IP(p.addr.Addr().AsSlice()), Port: int(p.addr.Port()), Hostname: p.addr.Addr().String()}
}

// openEndpoint opens an RTP endpoint from the phone's range.
func (p *Phone) openEndpoint(cfg rtp.Config) (*rtp.Endpoint, error) {
	p.portsMu.Lock()
	defer p.portsMu.Unlock()
	var lastErr error
	for range rtpRetries {
		if p.ports == nil {
			base := rtpLow + 2*rand.IntN((rtpHigh-rtpLow-rtpSpan)/2)
			ports, err := rtp.NewPorts(p.addr.Addr(), base, base+rtpSpan-1)
			if err != nil {
				return nil, err
			}
			p.ports = ports
		}
		ep, err := rtp.Open(p.ctx, p.ports, cfg)
		if err == nil {
			return ep, nil
		}
		lastErr = err
		if !errors.Is(err, rtp.ErrPortsExhausted) {
			return nil, err
		}
		if p.ports.InUse() == 0 {
			// Nothing of ours is in the range: move, so the pairs we hold
			// elsewhere are not mixed up. Otherwise keep it and fail.
			p.ports = nil
			continue
		}
		break
	}
	return nil, lastErr
}

// track adds a live call; dialogs are keyed once their ID is known.
func (p *Phone) track(c *Call) {
	p.mu.Lock()
	p.all[c] = true
	p.mu.Unlock()
}

func (p *Phone) setDialog(id string, c *Call) {
	p.mu.Lock()
	p.calls[id] = c
	p.mu.Unlock()
}

func (p *Phone) forget(c *Call) {
	p.mu.Lock()
	delete(p.all, c)
	if c.id != "" && p.calls[c.id] == c {
		delete(p.calls, c.id)
	}
	p.mu.Unlock()
}

// lookup finds the call an in-dialog request belongs to. The phone may be
// either side of the dialog, and sipgo keys both as (Call-ID, UAS tag, UAC
// tag), which the request gives one way round or the other.
func (p *Phone) lookup(req *sip.Request) *Call {
	p.mu.Lock()
	defer p.mu.Unlock()
	if id, err := sip.DialogIDFromRequestUAS(req); err == nil {
		if c := p.calls[id]; c != nil {
			return c
		}
	}
	if id, err := sip.DialogIDFromRequestUAC(req); err == nil {
		if c := p.calls[id]; c != nil {
			return c
		}
	}
	return nil
}

func (p *Phone) respond(req *sip.Request, tx sip.ServerTransaction, code int, reason string, hdrs ...sip.Header) {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	if err := tx.Respond(res); err != nil {
		p.log.Debug("respond", zap.Int("code", code), zap.Stringer("method", req.Method), zap.Error(err))
	}
}

func (p *Phone) onAck(req *sip.Request, tx sip.ServerTransaction) {
	if c := p.lookup(req); c != nil {
		c.readAck(req, tx)
	}
}

func (p *Phone) onBye(req *sip.Request, tx sip.ServerTransaction) {
	c := p.lookup(req)
	if c == nil {
		p.respond(req, tx, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
		return
	}
	c.readBye(req, tx)
}

// onCancel sees only CANCELs that matched no INVITE transaction: sipgo
// answers the others itself.
func (p *Phone) onCancel(req *sip.Request, tx sip.ServerTransaction) {
	p.respond(req, tx, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
}

func (p *Phone) onInfo(req *sip.Request, tx sip.ServerTransaction) {
	c := p.lookup(req)
	if c == nil {
		p.respond(req, tx, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
		return
	}
	c.readInfo(req, tx)
}

func (p *Phone) onNotify(req *sip.Request, tx sip.ServerTransaction) {
	p.respond(req, tx, sip.StatusOK, "OK")
	select {
	case p.notifies <- req:
	default:
		p.log.Warn("NOTIFY dropped: Notifies not read", zap.String("call_id", callID(req)))
	}
}

// onRefer: the phone does not perform transfers itself; it answers so a
// test sees the REFER reached the right dialog.
func (p *Phone) onRefer(req *sip.Request, tx sip.ServerTransaction) {
	if p.lookup(req) == nil {
		p.respond(req, tx, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
		return
	}
	p.respond(req, tx, sip.StatusNotImplemented, "Transfer Not Implemented")
}

func (p *Phone) onOptions(req *sip.Request, tx sip.ServerTransaction) {
	p.respond(req, tx, sip.StatusOK, "OK",
		sip.NewHeader("Allow", "INVITE, ACK, CANCEL, BYE, INFO, NOTIFY, REFER, OPTIONS"))
}

func callID(m sip.Message) string {
	if h := m.CallID(); h != nil {
		return string(*h)
	}
	return ""
}

// logGate turns the phone's logging off for good: a record being written
// holds the read lock, so once close returns none is in flight.
type logGate struct {
	mu     sync.RWMutex
	closed bool
}

func (g *logGate) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}

type gatedCore struct {
	zapcore.Core
	gate *logGate
}

func (c gatedCore) With(f []zapcore.Field) zapcore.Core {
	return gatedCore{Core: c.Core.With(f), gate: c.gate}
}

func (c gatedCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c gatedCore) Write(e zapcore.Entry, f []zapcore.Field) error {
	c.gate.mu.RLock()
	defer c.gate.mu.RUnlock()
	if c.gate.closed {
		return nil
	}
	return c.Core.Write(e, f)
}
