// Package mediaservertest is a scripted SIP phone for tests of the media
// server and the applications on it: it calls with a G.711 offer over real
// loopback sockets, sends RTP audio and key presses (RFC 4733 or SIP INFO),
// records the audio it receives, and answers BYE. It also takes calls
// (the media server's Dial): SetPlan says whether it rings, answers or
// refuses, and NextIncoming hands each INVITE to the test.
package mediaservertest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/media/codec"
	"github.com/sentralpbx/sentral/media/dtmf"
	"github.com/sentralpbx/sentral/media/rtp"
	"github.com/sentralpbx/sentral/media/sdp"
	"github.com/sentralpbx/sentral/media/voicemail"
)

// Phone is a SIP user agent on a loopback UDP socket.
type Phone struct {
	ctx    context.Context
	cancel context.CancelFunc
	log    *zap.Logger
	conn   net.PacketConn
	addr   netip.AddrPort
	ua     *sipgo.UserAgent
	cli    *sipgo.Client
	dua    *sipgo.DialogUA
	ports  *rtp.Ports
	served chan struct{}

	incoming chan *Incoming

	mu       sync.Mutex
	calls    map[string]*Call     // by Call-ID
	answered map[string]*Incoming // by Call-ID
	plan     Plan
}

// NewPhone starts a phone whose RTP ports come from ports. Close stops it.
func NewPhone(ports *rtp.Ports, log *zap.Logger) (*Phone, error) {
	if log == nil {
		log = zap.NewNop()
	}
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("phone: listen: %w", err)
	}
	ap := netip.MustParseAddrPort(conn.LocalAddr().String())
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("test-phone"), sipgo.WithUserAgentHostname("127.0.0.1"))
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("phone: %w", err)
	}
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		_ = ua.Close()
		_ = conn.Close()
		return nil, fmt.Errorf("phone: %w", err)
	}
	cli, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientPort(int(ap.Port())),
		sipgo.WithClientConnectionAddr(ap.String()))
	if err != nil {
		_ = ua.Close()
		_ = conn.Close()
		return nil, fmt.Errorf("phone: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Phone{
		ctx: ctx, cancel: cancel, log: log, conn: conn, addr: ap, ua: ua, cli: cli, ports: ports,
		served: make(chan struct{}), calls: map[string]*Call{}, answered: map[string]*Incoming{},
		incoming: make(chan *Incoming, 16),
		dua: &sipgo.DialogUA{Client: cli, ContactHDR: sip.ContactHeader{
			Address: sip.Uri{Scheme: "sip", User: "phone", Host: "127.0.0.1", Port: int(ap.Port())},
		}},
	}
	srv.OnBye(p.onBye)
	srv.OnAck(p.onAck)
	srv.OnInvite(p.onInvite)
	go func() {
		defer close(p.served)
		_ = srv.ServeUDP(conn)
	}()
	// Requests leave from the listening socket once sipgo has it in its
	// pool; before that the client would try to bind the address itself.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		if c, err := ua.TransportLayer().GetConnection("udp", ap.String()); err == nil && c != nil {
			break
		}
		if time.Now().After(deadline) {
			p.Close()
			return nil, errors.New("phone: listener not ready")
		}
	}
	return p, nil
}

// Addr returns the phone's SIP address.
func (p *Phone) Addr() netip.AddrPort { return p.addr }

// Client returns the phone's SIP client, for requests outside a call.
func (p *Phone) Client() *sipgo.Client { return p.cli }

// Close hangs nothing up; it closes every call's media and the socket.
func (p *Phone) Close() {
	p.mu.Lock()
	calls := make([]*Call, 0, len(p.calls))
	for _, c := range p.calls {
		calls = append(calls, c)
	}
	ins := make([]*Incoming, 0, len(p.answered))
	for _, in := range p.answered {
		ins = append(ins, in)
	}
	p.mu.Unlock()
	for _, c := range calls {
		c.Close()
	}
	for _, in := range ins {
		in.Close()
	}
	p.cancel()
	_ = p.ua.Close()
	_ = p.conn.Close()
	<-p.served
}

func (p *Phone) onBye(req *sip.Request, tx sip.ServerTransaction) {
	id := ""
	if h := req.CallID(); h != nil {
		id = h.Value()
	}
	p.mu.Lock()
	c := p.calls[id]
	p.mu.Unlock()
	if c == nil {
		if p.byeIncoming(id, req, tx) {
			return
		}
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusCallTransactionDoesNotExists, "No Such Call", nil))
		return
	}
	if err := c.Dialog.ReadBye(req, tx); err != nil {
		p.log.Debug("phone: BYE", zap.Error(err))
	}
	c.byeOnce.Do(func() {
		c.bye = req.Clone()
		close(c.ended)
	})
}

// DialOptions shape the INVITE.
type DialOptions struct {
	// Codecs offered, in order (PCMU, PCMA); ignored when SDP is set.
	Codecs []string
	// SDP replaces the offer (nil: built from Codecs).
	SDP []byte
	// FromUser and FromName go in From.
	FromUser, FromName string
	// Headers are added to the INVITE (P-Asserted-Identity, Record-Route).
	Headers []sip.Header
	// KeepRoute keeps the answer's Record-Route for the phone's own
	// requests; by default they go straight to the server's Contact, so a
	// Record-Route naming the phone tests only the server's side of it.
	KeepRoute bool
}

// ResponseError is a final non-2xx response to the INVITE.
type ResponseError struct{ Res *sip.Response }

func (e *ResponseError) Error() string { return "phone: INVITE answered " + e.Res.StartLine() }

// Call is one call the phone made.
type Call struct {
	Phone  *Phone
	Dialog *sipgo.DialogClientSession
	// Answer is the server's SDP answer.
	Answer *sdp.Offer
	Stream

	ended   chan struct{}
	byeOnce sync.Once
	bye     *sip.Request
	closed  sync.Once
}

// Stream is the media of a call, made or answered: it sends audio and
// keys and records what arrives.
type Stream struct {
	EP     *rtp.Endpoint
	Choice sdp.Choice
	Codec  codec.Codec

	rxDone chan struct{}

	mu      sync.Mutex
	pcm     []int16
	lastRx  time.Time
	packets int
	ssrcs   []uint32
	events  []RTPEvent
	seqGaps int
	lastSeq uint16
	lastTS  uint32
	tsBack  int
}

// RTPEvent is a received RFC 4733 packet.
type RTPEvent struct {
	Code   uint8
	End    bool
	Marker bool
}

// Dial calls target (a sip: URI) and waits for the answer; a refusal is a
// *ResponseError.
func (p *Phone) Dial(ctx context.Context, target string, opts DialOptions) (*Call, error) {
	var uri sip.Uri
	if err := sip.ParseUri(target, &uri); err != nil {
		return nil, fmt.Errorf("phone: target %q: %w", target, err)
	}
	codecs := opts.Codecs
	if len(codecs) == 0 {
		codecs = []string{"PCMU", "PCMA"}
	}
	ep, err := rtp.Open(p.ctx, p.ports, rtp.Config{Log: p.log, DeadMediaTimeout: -1})
	if err != nil {
		return nil, fmt.Errorf("phone: rtp: %w", err)
	}
	offer := opts.SDP
	if offer == nil {
		offer, err = sdp.NewSession().Offer(sdp.Local{Addr: ep.LocalAddr().Addr(), Port: int(ep.LocalAddr().Port())}, codecs)
		if err != nil {
			_ = ep.Close()
			return nil, err
		}
	}
	req := sip.NewRequest(sip.INVITE, uri)
	if opts.FromUser != "" {
		from := &sip.FromHeader{DisplayName: opts.FromName,
			Address: sip.Uri{Scheme: "sip", User: opts.FromUser, Host: "127.0.0.1"}, Params: sip.NewParams()}
		from.Params.Add("tag", sip.GenerateTagN(16))
		req.AppendHeader(from)
	}
	for _, h := range opts.Headers {
		req.AppendHeader(h)
	}
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(offer)
	d, err := p.dua.WriteInvite(ctx, req)
	if err != nil {
		_ = ep.Close()
		return nil, fmt.Errorf("phone: INVITE: %w", err)
	}
	if err := d.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		_ = ep.Close()
		var dr *sipgo.ErrDialogResponse
		if errors.As(err, &dr) {
			return nil, &ResponseError{Res: dr.Res}
		}
		var dv sipgo.ErrDialogResponse
		if errors.As(err, &dv) {
			return nil, &ResponseError{Res: dv.Res}
		}
		return nil, fmt.Errorf("phone: INVITE: %w", err)
	}
	if !opts.KeepRoute {
		d.InviteResponse.RemoveHeader("Record-Route")
	}
	c := &Call{Phone: p, Dialog: d, Stream: Stream{EP: ep, rxDone: make(chan struct{})}, ended: make(chan struct{})}
	p.mu.Lock()
	p.calls[d.InviteRequest.CallID().Value()] = c
	p.mu.Unlock()
	if err := d.Ack(ctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("phone: ACK: %w", err)
	}
	ans, err := sdp.Parse(d.InviteResponse.Body())
	if err == nil {
		c.Answer = ans
		c.Choice, err = sdp.Accept(ans, codecs)
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("phone: answer: %w", err)
	}
	c.Codec, _ = codec.ByName(c.Choice.Codec.Name)
	ep.SetRemote(c.Choice.Remote, c.Choice.RemoteRTCP)
	go c.receive()
	return c, nil
}

// receive decodes the audio that arrives, in arrival order, and notes
// the stream's SSRCs, sequence gaps and RFC 4733 events.
func (c *Stream) receive() {
	defer close(c.rxDone)
	for p := range c.EP.Packets() {
		c.mu.Lock()
		if n := len(c.ssrcs); n == 0 || c.ssrcs[n-1] != p.SSRC {
			c.ssrcs = append(c.ssrcs, p.SSRC)
		} else {
			if p.SequenceNumber != c.lastSeq+1 {
				c.seqGaps++
			}
			if int32(p.Timestamp-c.lastTS) < 0 {
				c.tsBack++
			}
		}
		c.lastSeq, c.lastTS = p.SequenceNumber, p.Timestamp
		switch {
		case p.PayloadType == c.Choice.Codec.PT:
			c.pcm = c.Codec.Decode(p.Payload, c.pcm)
			c.lastRx = time.Now()
			c.packets++
		case c.Choice.Event != nil && p.PayloadType == c.Choice.Event.PT:
			var ev dtmf.Event
			if ev.Unmarshal(p.Payload) == nil {
				c.events = append(c.events, RTPEvent{Code: ev.Code, End: ev.End, Marker: p.Marker})
			}
		}
		c.mu.Unlock()
	}
}

// Received returns a copy of the audio received so far.
func (c *Stream) Received() []int16 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int16(nil), c.pcm...)
}

// Events returns the RFC 4733 packets received so far.
func (c *Stream) Events() []RTPEvent {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]RTPEvent(nil), c.events...)
}

// Continuity reports how the received stream held together: the SSRCs
// seen in turn, sequence numbers that did not follow their predecessor
// within one SSRC, and timestamps that went backwards.
func (c *Stream) Continuity() (ssrcs []uint32, seqGaps, tsBack int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]uint32(nil), c.ssrcs...), c.seqGaps, c.tsBack
}

// Idle returns how long since the last audio packet, and whether any came.
func (c *Stream) Idle() (time.Duration, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Since(c.lastRx), c.packets > 0
}

// Ended is closed when the server hangs up.
func (c *Call) Ended() <-chan struct{} { return c.ended }

// Bye returns the BYE the server sent, once Ended is closed.
func (c *Call) Bye() *sip.Request {
	<-c.ended
	return c.bye
}

// Close closes the call's media (it sends no BYE).
func (c *Call) Close() {
	c.closed.Do(func() {
		_ = c.EP.Close()
		select {
		case <-c.rxDone:
		case <-time.After(time.Second):
		}
		c.Phone.mu.Lock()
		delete(c.Phone.calls, c.Dialog.InviteRequest.CallID().Value())
		c.Phone.mu.Unlock()
	})
}

// Hangup sends BYE and closes the media.
func (c *Call) Hangup(ctx context.Context) error {
	defer c.Close()
	if err := c.Dialog.Bye(ctx); err != nil {
		return fmt.Errorf("phone: BYE: %w", err)
	}
	return nil
}

// target is the server's Contact, the request-URI of in-dialog requests.
func (c *Call) target() sip.Uri {
	return *c.Dialog.InviteResponse.Contact().Address.Clone()
}

// Request sends an in-dialog request and returns the final response.
func (c *Call) Request(ctx context.Context, method sip.RequestMethod, contentType string, body []byte) (*sip.Response, error) {
	req := sip.NewRequest(method, c.target())
	if contentType != "" {
		req.AppendHeader(sip.NewHeader("Content-Type", contentType))
	}
	req.SetBody(body)
	res, err := c.Dialog.Do(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("phone: %s: %w", method, err)
	}
	return res, nil
}

// Ack sends the ACK for a 2xx to a re-INVITE sent with Request.
func (c *Call) Ack(body []byte) error {
	req := sip.NewRequest(sip.ACK, c.target())
	if body != nil {
		req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	}
	req.SetBody(body)
	return c.Dialog.WriteRequest(req)
}

// SendINFO sends a key press as application/dtmf-relay.
func (c *Call) SendINFO(ctx context.Context, key rune) error {
	body := "Signal=" + string(key) + "\r\nDuration=160\r\n"
	res, err := c.Request(ctx, sip.INFO, dtmf.ContentTypeRelay, []byte(body))
	if err != nil {
		return err
	}
	if res.StatusCode != sip.StatusOK {
		return fmt.Errorf("phone: INFO answered %d", res.StatusCode)
	}
	return nil
}

// SendKey sends a key press by RFC 4733 the way phones do: a marked start
// packet, refreshes every 20 ms, three end packets, all with the start
// timestamp; then it pauses 100 ms.
func (c *Stream) SendKey(key rune) error {
	if c.Choice.Event == nil {
		return errors.New("phone: no telephone-event negotiated")
	}
	code, ok := dtmf.CodeOf(key)
	if !ok {
		return fmt.Errorf("phone: key %q", key)
	}
	pt := c.Choice.Event.PT
	for i, dur := range []uint16{160, 320, 480, 640, 640, 640} {
		b, err := dtmf.Event{Code: code, Volume: 10, Duration: dur, End: i >= 3}.Marshal()
		if err != nil {
			return err
		}
		delta := uint32(0)
		if i == 0 {
			delta = 160
		}
		if err := c.EP.SendPT(pt, b, delta, i == 0); err != nil {
			return err
		}
		if i < 3 {
			time.Sleep(20 * time.Millisecond)
		}
	}
	// The next packet's timestamp goes past the event.
	if err := c.EP.SendPT(c.Choice.Codec.PT, silence(c.Codec), 640, false); err != nil {
		return err
	}
	// A person does not press keys faster; and a key sent next by SIP INFO
	// travels another path that must not overtake this one.
	time.Sleep(100 * time.Millisecond)
	return nil
}

func silence(c codec.Codec) []byte {
	b := make([]byte, 160)
	for i := range b {
		b[i] = c.Silence()
	}
	return b
}

// ptSender sends with the negotiated payload type, which the endpoint was
// opened without.
type ptSender struct{ c *Stream }

func (s ptSender) Send(payload []byte, delta uint32, marker bool) error {
	return s.c.EP.SendPT(s.c.Choice.Codec.PT, payload, delta, marker)
}

// SendAudio sends 8 kHz samples as paced RTP in the call's codec.
func (c *Stream) SendAudio(ctx context.Context, pcm []int16) error {
	return voicemail.PlayCodes(ctx, ptSender{c}, c.Codec.Encode(pcm, nil), c.Codec)
}

// WaitQuiet waits until audio has been received and then none for quiet,
// or ctx ends.
func (c *Stream) WaitQuiet(ctx context.Context, quiet time.Duration) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		if idle, any := c.Idle(); any && idle >= quiet {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// URI builds a sip: URI for app at addr with parameters in order
// ("tenant", "1", "mailbox", "2001").
func URI(addr, app string, params ...string) string {
	u := "sip:" + app + "@" + addr
	for i := 0; i+1 < len(params); i += 2 {
		u += ";" + params[i] + "=" + params[i+1]
	}
	return u
}

// Itoa is strconv.Itoa, for URI parameters.
func Itoa(n int64) string { return strconv.FormatInt(n, 10) }
