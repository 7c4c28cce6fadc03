package rtp

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"go.uber.org/zap"
)

// ErrClosed is returned by Send after Close.
var ErrClosed = errors.New("rtp: endpoint closed")

// Defaults for Config.
const (
	DefaultClockRate        = 8000
	DefaultRTCPInterval     = 5 * time.Second
	DefaultDeadMediaTimeout = 30 * time.Second
	DefaultQueueLen         = 64 // 1.28 s of 20 ms frames
)

// maxPacket bounds received datagrams. Audio packets are a few hundred
// bytes; anything near this size is not ours.
const maxPacket = 2048

// Config describes one call leg's endpoint. Zero values take the defaults.
type Config struct {
	// CallID is logged with every line, to tie them to the SIP dialog.
	CallID string
	Log    *zap.Logger
	// PayloadType is the negotiated codec's PT, used by Send and for the
	// jitter estimate (other PTs, such as telephone-event whose packets
	// repeat a timestamp, would distort it).
	PayloadType uint8
	// ClockRate of the codec (8000 for G.711 and telephone-event).
	ClockRate uint32
	// AcceptPT lists the payload types accepted inbound (the negotiated
	// codec, telephone-event, maybe comfort noise 13). Nil accepts any.
	AcceptPT []uint8
	// Remote and RemoteRTCP are the peer's addresses from its SDP; they
	// may be set later with SetRemote. A zero RemoteRTCP means the RTP
	// port + 1.
	Remote, RemoteRTCP netip.AddrPort
	// RTCPInterval is the mean time between our reports (5 s, RFC 3550
	// §6.2); each wait is randomised between 0.5 and 1.5 times it.
	RTCPInterval time.Duration
	// DeadMediaTimeout ends a call whose peer sends nothing for this long
	// (30 s); negative disables the timer.
	DeadMediaTimeout time.Duration
	// QueueLen is the capacity of the Packets channel (64). A consumer
	// that falls behind loses packets rather than building a backlog of
	// stale audio.
	QueueLen int
	// OnPacket, if set, receives every accepted packet on the reading
	// goroutine instead of the Packets channel (for bridges that forward
	// at once). It must not block.
	OnPacket func(*rtp.Packet)
	// CNAME for RTCP SDES (required in every compound packet); default
	// "sentral-<ssrc>".
	CNAME string
	// SRTP, if set, protects the stream (RFC 3711): every RTP and RTCP
	// packet sent is encrypted and authenticated with our key, and every
	// one received must authenticate with the peer's or is dropped (before
	// it can latch). SetSRTP changes it during the call.
	SRTP *SRTP
	// Now is the clock (time.Now); tests replace it.
	Now func() time.Time
}

// Endpoint is the RTP/RTCP termination of one call leg. Its goroutines
// (RTP reader, RTCP reader, timers) live until Close or until the context
// given to Open ends.
type Endpoint struct {
	cfg    Config
	log    *zap.Logger
	pair   *Pair
	cancel context.CancelFunc
	wg     sync.WaitGroup
	pkts   chan *rtp.Packet
	dead   chan struct{}
	epoch  time.Time // origin of the arrival clock for jitter
	accept [128]bool // AcceptPT as a set; all true when nil
	srtp   atomic.Pointer[SRTP]

	mu sync.Mutex
	// sending
	ssrc, ts     uint32
	seq          uint16
	sent         bool // any packet sent yet
	sentSince    bool // a packet sent since the last report: SR instead of RR
	lastSentTS   uint32
	lastSentAt   time.Time
	pktsSent     uint64
	octetsSent   uint64
	sendBuf      []byte
	srtpBuf      []byte // SRTP output of Send, reused
	lastSRMid    uint32 // middle 32 bits of our last SR's NTP time, for RTT
	lastSRSentAt time.Time
	// receiving
	sdpRemote, sdpRTCP netip.AddrPort
	latched            netip.AddrPort // source of the peer's RTP, once seen
	latchedRTCP        netip.AddrPort // source of the peer's RTCP, once seen
	remoteSSRC         uint32
	rx                 rxStats
	pktsRecv           uint64
	octetsRecv         uint64
	rejected           uint64
	overflow           uint64
	lastRx             time.Time
	armed              bool // the dead-media clock runs (a remote is known)
	held               bool
	isDead             bool
	srsSent, rrsSent   int
	lastSR             SenderInfo
	lastReport         ReportInfo
	rtt                time.Duration
	bye                bool
	rejectLogged       bool
	srtpRejected       uint64
	srtpLogged         bool
}

// SenderInfo is the last sender report received from the peer.
type SenderInfo struct {
	At      time.Time // zero: none received
	NTPTime uint64
	RTPTime uint32
	Packets uint32
	Octets  uint32
}

// ReportInfo is the last reception report the peer sent about our stream.
type ReportInfo struct {
	At     time.Time // zero: none received
	Report rtcp.ReceptionReport
}

// Stats is a snapshot of an endpoint's counters.
type Stats struct {
	LocalSSRC, RemoteSSRC uint32
	// Remote is where RTP goes now: the latched source, else the SDP's.
	Remote          netip.AddrPort
	Latched         bool
	PacketsSent     uint64
	OctetsSent      uint64
	PacketsReceived uint64
	OctetsReceived  uint64
	// Rejected counts datagrams dropped as invalid, from a foreign source
	// or with a payload type not accepted; Overflow those accepted but
	// dropped because the consumer was behind.
	Rejected, Overflow uint64
	// Lost is the cumulative loss per RFC 3550 A.3 (negative with
	// duplicates); HighestSeq the extended highest sequence number;
	// Jitter the interarrival jitter in RTP clock units (A.8).
	Lost       int64
	HighestSeq uint32
	Jitter     uint32
	SRsSent    int
	RRsSent    int
	LastSR     SenderInfo
	LastReport ReportInfo
	// RTT is from the peer's last report on our SR (0: not known).
	RTT time.Duration
	// ByeReceived is set when the peer sent an RTCP BYE for its source.
	ByeReceived bool
	DeadMedia   bool
	// SRTP is the suite protecting the stream, "" for plain RTP;
	// SRTPRejected counts received packets (RTP or RTCP) that failed SRTP
	// authentication or replay checks (they are in Rejected too).
	SRTP         string
	SRTPRejected uint64
}

// newEndpoint prepares the state of an endpoint without sockets or
// goroutines; Open adds those. The fuzz target uses it alone.
func newEndpoint(cfg Config) *Endpoint {
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	if cfg.ClockRate == 0 {
		cfg.ClockRate = DefaultClockRate
	}
	if cfg.RTCPInterval <= 0 {
		cfg.RTCPInterval = DefaultRTCPInterval
	}
	if cfg.DeadMediaTimeout == 0 {
		cfg.DeadMediaTimeout = DefaultDeadMediaTimeout
	}
	if cfg.QueueLen <= 0 {
		cfg.QueueLen = DefaultQueueLen
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	e := &Endpoint{
		cfg:     cfg,
		log:     cfg.Log.With(zap.String("call_id", cfg.CallID)),
		pkts:    make(chan *rtp.Packet, cfg.QueueLen),
		dead:    make(chan struct{}),
		epoch:   cfg.Now(),
		ssrc:    rand.Uint32(),
		seq:     uint16(rand.Uint32()),
		ts:      rand.Uint32(),
		sendBuf: make([]byte, maxPacket),
		srtpBuf: make([]byte, 0, maxPacket+srtpOverhead),
	}
	for pt := range e.accept {
		e.accept[pt] = cfg.AcceptPT == nil || slices.Contains(cfg.AcceptPT, uint8(pt))
	}
	if e.cfg.CNAME == "" {
		e.cfg.CNAME = fmt.Sprintf("sentral-%08x", e.ssrc)
	}
	e.setRemoteLocked(cfg.Remote, cfg.RemoteRTCP)
	e.srtp.Store(cfg.SRTP)
	return e
}

// Open binds a port pair from ports and starts the endpoint. ctx bounds
// its goroutines: when it ends, the endpoint shuts down as if closed.
func Open(ctx context.Context, ports *Ports, cfg Config) (*Endpoint, error) {
	pair, err := ports.Listen()
	if err != nil {
		return nil, err
	}
	e := newEndpoint(cfg)
	e.pair = pair
	e.log = e.log.With(zap.Int("rtp_port", pair.Port()))
	ctx, e.cancel = context.WithCancel(ctx)
	e.wg.Add(3)
	go e.readRTP()
	go e.readRTCP()
	go e.control(ctx)
	return e, nil
}

// LocalAddr returns the RTP address to put in our SDP.
func (e *Endpoint) LocalAddr() netip.AddrPort { return e.pair.Addr() }

// Packets returns the accepted RTP packets, in arrival order. It is closed
// when the endpoint stops. Unused when Config.OnPacket is set.
func (e *Endpoint) Packets() <-chan *rtp.Packet { return e.pkts }

// Dead is closed when no RTP has arrived for DeadMediaTimeout while not on
// hold; the call's owner should then hang up.
func (e *Endpoint) Dead() <-chan struct{} { return e.dead }

// SetRemote sets the peer's RTP and RTCP addresses from a new SDP (zero
// rtcpAddr: RTP port + 1). An unspecified address (RFC 2543 hold) stops
// sending. A latched source is kept unless the SDP address changed, so a
// re-INVITE that keeps the media where it was costs no packets; a changed
// one (transfer to another phone) latches afresh.
func (e *Endpoint) SetRemote(rtpAddr, rtcpAddr netip.AddrPort) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.setRemoteLocked(rtpAddr, rtcpAddr)
}

func (e *Endpoint) setRemoteLocked(rtpAddr, rtcpAddr netip.AddrPort) {
	rtpAddr = unmap(rtpAddr)
	rtcpAddr = unmap(rtcpAddr)
	if !rtcpAddr.IsValid() && rtpAddr.IsValid() {
		rtcpAddr = netip.AddrPortFrom(rtpAddr.Addr(), rtpAddr.Port()+1)
	}
	if rtpAddr != e.sdpRemote {
		e.latched, e.latchedRTCP = netip.AddrPort{}, netip.AddrPort{}
	}
	e.sdpRemote, e.sdpRTCP = rtpAddr, rtcpAddr
	if rtpAddr.IsValid() && !e.armed {
		e.armed = true
		e.lastRx = e.cfg.Now()
	}
}

// SetHold suspends (true) or resumes the dead-media timer: on hold the
// peer may rightly send nothing. Resuming restarts the clock.
func (e *Endpoint) SetHold(held bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.held && !held {
		e.lastRx = e.cfg.Now()
	}
	e.held = held
}

// Send sends payload with the configured payload type.
func (e *Endpoint) Send(payload []byte, timestampDelta uint32, marker bool) error {
	return e.SendPT(e.cfg.PayloadType, payload, timestampDelta, marker)
}

// SendPT sends one RTP packet. Its timestamp is the previous packet's plus
// timestampDelta (160 for each 20 ms G.711 frame; 0 for the repeated
// packets of one RFC 4733 event). With no usable remote address (no SDP
// yet, or RFC 2543 hold) nothing is sent, but the timestamp still
// advances so the peer sees the gap in time when sending resumes.
func (e *Endpoint) SendPT(pt uint8, payload []byte, timestampDelta uint32, marker bool) error {
	if pt > 127 {
		return fmt.Errorf("rtp send: payload type %d", pt)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.isClosed() {
		return ErrClosed
	}
	e.ts += timestampDelta
	dst := e.destLocked()
	if !usable(dst) {
		return nil
	}
	h := rtp.Header{Version: 2, Marker: marker, PayloadType: pt, SequenceNumber: e.seq, Timestamp: e.ts, SSRC: e.ssrc}
	n, err := h.MarshalTo(e.sendBuf)
	if err != nil {
		return fmt.Errorf("rtp send: %w", err)
	}
	if n+len(payload) > len(e.sendBuf) {
		return fmt.Errorf("rtp send: payload of %d bytes too large", len(payload))
	}
	n += copy(e.sendBuf[n:], payload)
	out := e.sendBuf[:n]
	if s := e.srtp.Load(); s != nil {
		if out, err = s.protectRTP(e.srtpBuf[:0], out); err != nil {
			return fmt.Errorf("rtp send: %w", err)
		}
		e.srtpBuf = out[:0]
	}
	if _, err := e.pair.RTP.WriteToUDPAddrPort(out, dst); err != nil {
		return fmt.Errorf("rtp send to %s: %w", dst, err)
	}
	e.seq++
	e.sent, e.sentSince = true, true
	e.lastSentTS, e.lastSentAt = e.ts, e.cfg.Now()
	e.pktsSent++
	e.octetsSent += uint64(len(payload))
	return nil
}

// Stats returns a snapshot of the counters.
func (e *Endpoint) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	lost, ext := e.rx.cumulative()
	suite := ""
	if s := e.srtp.Load(); s != nil {
		suite = s.Suite()
	}
	return Stats{
		SRTP: suite, SRTPRejected: e.srtpRejected,
		LocalSSRC: e.ssrc, RemoteSSRC: e.remoteSSRC,
		Remote: e.destLocked(), Latched: e.latched.IsValid(),
		PacketsSent: e.pktsSent, OctetsSent: e.octetsSent,
		PacketsReceived: e.pktsRecv, OctetsReceived: e.octetsRecv,
		Rejected: e.rejected, Overflow: e.overflow,
		Lost: lost, HighestSeq: ext, Jitter: e.rx.jitter >> 4,
		SRsSent: e.srsSent, RRsSent: e.rrsSent,
		LastSR: e.lastSR, LastReport: e.lastReport, RTT: e.rtt,
		ByeReceived: e.bye, DeadMedia: e.isDead,
	}
}

// Close sends an RTCP BYE, stops the goroutines and returns the ports.
// It is safe to call more than once.
func (e *Endpoint) Close() error {
	e.cancel()
	e.wg.Wait()
	return nil
}

func (e *Endpoint) isClosed() bool { return e.pair == nil || e.pair.closed() }

// destLocked is where RTP goes: the latched source (symmetric RTP, RFC
// 4961) or, before any packet came, the SDP address.
func (e *Endpoint) destLocked() netip.AddrPort {
	if e.latched.IsValid() {
		return e.latched
	}
	return e.sdpRemote
}

// rtcpDestLocked is where RTCP goes: the peer's RTCP source once seen;
// behind NAT before that, our best guess is the RTP source's port + 1.
func (e *Endpoint) rtcpDestLocked() netip.AddrPort {
	switch {
	case e.latchedRTCP.IsValid():
		return e.latchedRTCP
	case e.latched.IsValid() && e.latched != e.sdpRemote && e.latched.Port() < 65535:
		return netip.AddrPortFrom(e.latched.Addr(), e.latched.Port()+1)
	}
	return e.sdpRTCP
}

func usable(a netip.AddrPort) bool {
	return a.IsValid() && !a.Addr().IsUnspecified() && a.Port() != 0
}

func unmap(a netip.AddrPort) netip.AddrPort {
	if !a.IsValid() {
		return a
	}
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}

// readRTP is the RTP socket's reader goroutine.
func (e *Endpoint) readRTP() {
	defer e.wg.Done()
	defer close(e.pkts)
	buf := make([]byte, maxPacket)
	for {
		n, from, err := e.pair.RTP.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// ICMP errors surface here on some systems; they are not fatal.
			e.log.Debug("rtp read", zap.Error(err))
			continue
		}
		p := e.handleRTP(buf[:n], from)
		if p == nil {
			continue
		}
		if e.cfg.OnPacket != nil {
			e.cfg.OnPacket(p)
			continue
		}
		select {
		case e.pkts <- p:
		default:
			e.mu.Lock()
			e.overflow++
			e.mu.Unlock()
		}
	}
}

// readRTCP is the RTCP socket's reader goroutine.
func (e *Endpoint) readRTCP() {
	defer e.wg.Done()
	buf := make([]byte, maxPacket)
	for {
		n, from, err := e.pair.RTCP.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			e.log.Debug("rtcp read", zap.Error(err))
			continue
		}
		e.handleRTCP(buf[:n], from)
	}
}

// control runs the RTCP report and dead-media timers, and shuts the
// endpoint down when ctx ends.
func (e *Endpoint) control(ctx context.Context) {
	defer e.wg.Done()
	report := time.NewTimer(e.interval() / 2) // RFC 3550 §6.2: the first report comes early
	defer report.Stop()
	deadline := time.NewTimer(e.deadCheckIn())
	defer deadline.Stop()
	for {
		select {
		case <-ctx.Done():
			e.sendRTCP(true)
			_ = e.pair.Close()
			return
		case <-report.C:
			e.sendRTCP(false)
			report.Reset(e.interval())
		case <-deadline.C:
			deadline.Reset(e.checkDead())
		}
	}
}

// interval is the randomised RTCP interval: a fixed period would let many
// endpoints started together report in bursts (RFC 3550 §6.3.1).
func (e *Endpoint) interval() time.Duration {
	iv := e.cfg.RTCPInterval
	return iv/2 + rand.N(iv)
}

// deadCheckIn is how long until the dead-media timer needs a look.
func (e *Endpoint) deadCheckIn() time.Duration {
	if e.cfg.DeadMediaTimeout < 0 {
		return time.Duration(1<<63 - 1)
	}
	return e.cfg.DeadMediaTimeout
}

// checkDead reports dead media if its time has come and returns when to
// look again. The timer fires once per timeout rather than ticking, so an
// endpoint with flowing media costs nothing here.
func (e *Endpoint) checkDead() time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	timeout := e.cfg.DeadMediaTimeout
	if timeout < 0 || e.isDead {
		return time.Duration(1<<63 - 1)
	}
	if !e.armed || e.held {
		return timeout
	}
	idle := e.cfg.Now().Sub(e.lastRx)
	if idle < timeout {
		return timeout - idle
	}
	e.isDead = true
	close(e.dead)
	e.log.Info("dead media: no RTP received", zap.Duration("idle", idle), zap.Stringer("src", e.destLocked()))
	return time.Duration(1<<63 - 1)
}
