package server

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"
)

// StatelessHandler decides a request without a server transaction and
// returns the response to send (nil: send nothing). It must be safe to
// call again for a retransmission of the same request: nothing absorbs
// retransmissions on this path.
type StatelessHandler func(req *sip.Request) *sip.Response

// statelessQueue is how many UDP requests may wait for a stateless worker;
// further ones are dropped, as a full socket buffer would drop them, and
// the client retransmits. (Handing them to sipgo's transaction path
// instead was tried: a retransmission could then be answered by both
// paths with different nonces, which clients take as a new challenge.)
const statelessQueue = 4096

// stateless is the UDP fast path: requests of the methods in handlers are
// taken from sipgo's UDP readers before parsing (a transport read filter)
// and answered by a fixed pool of workers, without a transaction.
//
// Why: sipgo keeps every completed non-INVITE server transaction over UDP
// for Timer J (32 s) with its request and response, and runs each request
// in a new goroutine. At 10,000 REGISTERs a second that is 640,000 live
// transactions, gigabytes of heap, and most of the registrar's CPU in
// allocation, page faults and garbage collection. A registrar may answer
// statelessly (RFC 3261 §8.2.7, as Kamailio and OpenSIPS do); the
// registrar makes retransmissions safe (see registrar.Respond), and
// answers are kept for a short window to be resent to retransmissions.
type stateless struct {
	handlers map[string]StatelessHandler // by method; fixed once serving
	conns    map[string]net.PacketConn   // UDP listeners by local address
	jobs     chan statelessJob
	bufs     sync.Pool // *bytes.Buffer for responses
	recent   recentAnswers
	overflow atomic.Int64 // requests dropped on a full queue
}

type statelessJob struct {
	data []byte // a copy: sipgo reuses its read buffer
	src  net.Addr
	pc   net.PacketConn
}

func (f *stateless) init() {
	f.handlers = map[string]StatelessHandler{}
	f.conns = map[string]net.PacketConn{}
	f.jobs = make(chan statelessJob, statelessQueue)
	f.bufs.New = func() any { return new(bytes.Buffer) }
	f.recent.init(retransmitWindow, time.Now)
}

// HandleStateless registers h for requests of method that arrive over
// UDP; over the other transports the method goes to the handler given to
// Handle, which must therefore be registered too. When the workers fall
// 4,096 requests behind, further ones are dropped (see StatelessDropped). Banned sources are dropped as for Handle.
// Call it before Serve.
func (s *Server) HandleStateless(method sip.RequestMethod, h StatelessHandler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.serving {
		panic("sip server: HandleStateless after Serve")
	}
	s.fast.handlers[string(method)] = h
}

// StatelessDropped is how many requests the stateless path dropped because
// its workers were too far behind: a sign of overload.
func (s *Server) StatelessDropped() int64 { return s.fast.overflow.Load() }

// readFilter runs on sipgo's reader goroutine for every datagram or
// stream chunk; it must be quick and must never return an error (that
// would stop the reader).
func (s *Server) readFilter(p sip.TransportReadProps, data []byte) ([]byte, error) {
	if len(s.fast.handlers) == 0 || p.Transport != "UDP" {
		return data, nil
	}
	sp := bytes.IndexByte(data[:min(len(data), 20)], ' ')
	if sp <= 0 {
		return data, nil
	}
	if _, ok := s.fast.handlers[string(data[:sp])]; !ok {
		return data, nil
	}
	pc := s.fast.conns[p.LocalAddr.String()]
	if pc == nil {
		return data, nil
	}
	select {
	case s.fast.jobs <- statelessJob{data: bytes.Clone(data), src: p.RemoteAddr, pc: pc}:
	default:
		s.fast.overflow.Add(1)
	}
	return nil, nil // ours either way: sipgo skips an empty result
}

// startStateless runs the workers until ctx ends.
func (s *Server) startStateless(ctx context.Context, wg *sync.WaitGroup) {
	if len(s.fast.handlers) == 0 || len(s.fast.conns) == 0 {
		return
	}
	// Handlers do not block on I/O (the registrar writes behind), so a
	// few workers per core keep both cores busy without sipgo's
	// goroutine per request.
	n := max(4, 4*runtime.GOMAXPROCS(0))
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case j := <-s.fast.jobs:
					s.serveStateless(j)
				}
			}
		}()
	}
}

func (s *Server) serveStateless(j statelessJob) {
	msg, err := s.parser.ParseSIP(j.data)
	if err != nil {
		// As sipgo does for UDP: no message boundary is in doubt, but
		// answering garbage would make us a reflector.
		s.log.Debug("sip: unparseable datagram dropped", zap.String("src", j.src.String()), zap.Error(err))
		return
	}
	req, ok := msg.(*sip.Request)
	if !ok {
		return
	}
	src := j.src.String()
	req.SetTransport("UDP")
	req.SetSource(src)
	h := s.fast.handlers[string(req.Method)]
	if h == nil {
		return // the method token was not the parsed method
	}
	if !s.enter() {
		return
	}
	defer s.handlers.Done()
	s.reqs.add(req.Method)
	if s.admit != nil {
		ap, err := netip.ParseAddrPort(src)
		if err != nil {
			return
		}
		if ok, why := s.admit.Allow(ap.Addr().Unmap()); !ok {
			s.log.Debug("sip request dropped", zap.String("reason", why), zap.String("src", src),
				zap.String("method", req.Method.String()), zap.String("call_id", callID(req)))
			return
		}
	}
	if !answerable(req) {
		// Nothing sensible can be said back (no SIP/2.0, no Via, CSeq or
		// Call-ID, or headers that would not survive being copied into
		// the answer): drop it, as unparseable datagrams are, rather than
		// reflect junk to a source nobody verified.
		s.log.Debug("sip: unanswerable request dropped", zap.String("src", src))
		return
	}
	var res *sip.Response
	key := ""
	{
		key = answerKey(req, src)
		out, busy := s.fast.recent.claim(key)
		switch {
		case out != nil:
			s.send(j, out, req)
			return
		case busy:
			// Another worker is deciding this request: like a transaction
			// in its Trying state, drop the copy; the next one gets the
			// kept answer. Deciding both could answer one request twice
			// with different nonces.
			return
		}
		res = s.callStateless(h, req)
	}
	if res == nil {
		return
	}
	buf := s.fast.bufs.Get().(*bytes.Buffer)
	defer s.fast.bufs.Put(buf)
	buf.Reset()
	res.StringWrite(buf)
	if key != "" {
		s.fast.recent.put(key, bytes.Clone(buf.Bytes()))
	}
	s.send(j, buf.Bytes(), req)
}

func (s *Server) send(j statelessJob, out []byte, req *sip.Request) {
	// RFC 3581: answer from the socket the request came in on, to the
	// address and port it came from (the phone may be behind NAT).
	if _, err := j.pc.WriteTo(out, j.src); err != nil {
		s.log.Debug("sip: stateless response not sent", zap.String("src", req.Source()), zap.String("call_id", callID(req)), zap.Error(err))
	}
}

// answerable reports whether a response to req would be well-formed: its
// version is SIP/2.0 and its top Via (copied into the response) names a
// transport and a host.
func answerable(req *sip.Request) bool {
	if req.SipVersion != "SIP/2.0" || req.CSeq() == nil || req.CallID() == nil {
		return false
	}
	v := req.Via()
	if v == nil || v.ProtocolName != "SIP" || v.ProtocolVersion != "2.0" || v.Transport == "" || v.Host == "" {
		return false
	}
	// From and To are copied into the answer as sipgo renders them; a
	// lenient parse of junk can render as something no parser accepts.
	for _, u := range []*sip.Uri{addrOf(req.From()), addrOf(req.To())} {
		if u == nil {
			continue
		}
		var back sip.Uri
		if err := sip.ParseUri(u.String(), &back); err != nil {
			return false
		}
	}
	return true
}

func addrOf(h interface{ Value() string }) *sip.Uri {
	switch h := h.(type) {
	case *sip.FromHeader:
		if h != nil {
			return &h.Address
		}
	case *sip.ToHeader:
		if h != nil {
			return &h.Address
		}
	}
	return nil
}

// callStateless runs h, turning a panic into a logged 500 as guard does.
func (s *Server) callStateless(h StatelessHandler, req *sip.Request) (res *sip.Response) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("sip handler panic", zap.Any("panic", r), zap.String("method", req.Method.String()),
				zap.String("call_id", callID(req)), zap.String("src", req.Source()))
			res = sip.NewResponseFromRequest(req, sip.StatusInternalServerError, "Server Internal Error", nil)
		}
	}()
	return h(req)
}

// retransmitWindow is how long a stateless answer is kept to be resent,
// byte for byte, to a retransmission of its request. A UDP client
// retransmits after 0.5, 1.5 and 3.5 s (RFC 3261 Timer E); within that
// the copy gets exactly what a transaction would have sent (the same
// nonce and To tag, which some clients, sipp among them, insist on).
// Later copies are decided again, which the handler must allow for.
// Kept answers cost about 1 KiB each: 20 MB at 10,000 requests a second.
const retransmitWindow = 4 * time.Second

// recentAnswers holds the serialised answers of the last one to two
// windows in two generations, so expiry is one map swap, not a scan. A
// nil answer marks a request still being decided.
type recentAnswers struct {
	mu       sync.Mutex
	cur, old map[string][]byte
	since    time.Time // when cur was started
	window   time.Duration
	now      func() time.Time
}

func (r *recentAnswers) init(window time.Duration, now func() time.Time) {
	r.cur, r.old, r.window, r.now, r.since = map[string][]byte{}, map[string][]byte{}, window, now, now()
}

// rotateLocked starts a new generation once cur is a window old; answers
// older than two windows are then gone.
func (r *recentAnswers) rotateLocked() {
	now := r.now()
	switch d := now.Sub(r.since); {
	case d >= 2*r.window:
		clear(r.old)
		r.cur, r.old = map[string][]byte{}, map[string][]byte{}
		r.since = now
	case d >= r.window:
		r.old, r.cur = r.cur, make(map[string][]byte, len(r.cur))
		r.since = now
	}
}

// claim returns the kept answer of key, or reports that the request is
// being decided (busy); otherwise it marks key as being decided, and the
// caller must put its answer (or leave copies dropped for the window, if
// it sends none).
func (r *recentAnswers) claim(key string) (answer []byte, busy bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rotateLocked()
	b, ok := r.cur[key]
	if !ok {
		b, ok = r.old[key]
	}
	if ok {
		return b, b == nil
	}
	r.cur[key] = nil
	return nil, false
}

func (r *recentAnswers) put(key string, b []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rotateLocked()
	r.cur[key] = b
}

// answerKey identifies a request as RFC 3261 §17.2.3 matches server
// transactions (top Via branch and sent-by, method), plus the source
// address, Call-ID and CSeq so that clients with weak branches (RFC 2543)
// cannot collide.
func answerKey(req *sip.Request, src string) string {
	via := req.Via()
	branch, _ := via.Params.Get("branch")
	cseq := req.CSeq()
	return branch + "\x00" + via.Host + ":" + strconv.Itoa(via.Port) + "\x00" + src + "\x00" +
		req.CallID().Value() + "\x00" + strconv.FormatUint(uint64(cseq.SeqNo), 10) + " " + string(req.Method)
}
