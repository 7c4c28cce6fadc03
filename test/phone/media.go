package phone

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	prtp "github.com/pion/rtp"

	"github.com/sentralpbx/sentral/media/codec"
	"github.com/sentralpbx/sentral/media/dtmf"
	"github.com/sentralpbx/sentral/media/rtp"
	"github.com/sentralpbx/sentral/media/sdp"
)

// ErrNotSending is returned by SendAudio and SendDTMF while the negotiated
// direction does not let this phone send (the peer holds it), as a real
// phone would stay silent.
var ErrNotSending = errors.New("phone: media direction does not allow sending")

// ErrNoTelephoneEvent is returned by SendDTMF when the peer did not
// negotiate RFC 4733 telephone-events; use SendINFO then.
var ErrNoTelephoneEvent = errors.New("phone: telephone-event not negotiated")

// DTMF timing of SendDTMF and SendINFO: 100 ms keys, 80 ms apart, refreshed
// every 20 ms.
const (
	dtmfDuration = 100 * time.Millisecond
	dtmfGap      = 80 * time.Millisecond
	dtmfStep     = 20 * time.Millisecond
	dtmfVolume   = 10
	samplesPerMs = codec.ClockRate / 1000
)

// maxFill bounds the silence put in for a sequence gap: a larger jump is a
// sender restarting, not loss.
const maxFill = 500

// media is a call's RTP side and the state the Call's mutex guards.
type media struct {
	mu             sync.Mutex
	state          callState
	held           bool // we put the peer on hold
	awaitAckAnswer bool // we offered in a 2xx; the ACK carries the answer
	sess           *sdp.Session
	ep             *rtp.Endpoint
	consumed       chan struct{} // closed when the packet reader is done
	have           bool          // a choice was negotiated
	choice         sdp.Choice
	codec          codec.Codec
	eventPT        int   // telephone-event PT to send, -1 when not negotiated
	rxEventPT      uint8 // telephone-event PT expected inbound
	recv, sent     []int16
	digits         []rune
	rx             struct {
		started bool
		ssrc    uint32
		seq     uint16
	}
	det dtmf.Detector

	sendMu  sync.Mutex // one sender at a time; owns pending
	pending uint32     // timestamp advance for the next packet we send
}

func (m *media) init() {
	m.sess = sdp.NewSession()
	m.sess.Username = "phone"
	m.eventPT = -1
	m.rxEventPT = sdp.DefaultEventPT
}

// local is our side of the SDP. Called with mu held.
func (c *Call) local(dir sdp.Direction) sdp.Local {
	a := c.ep.LocalAddr()
	return sdp.Local{Addr: a.Addr(), Port: int(a.Port()), Direction: dir}
}

func (c *Call) startMedia(ep *rtp.Endpoint) {
	c.mu.Lock()
	c.ep = ep
	c.consumed = make(chan struct{})
	c.mu.Unlock()
	c.p.wg.Add(1)
	go func() {
		defer c.p.wg.Done()
		defer close(c.consumed)
		for pkt := range ep.Packets() {
			c.onPacket(pkt)
		}
		c.mu.Lock()
		c.addPresses(c.det.Flush(nil))
		c.mu.Unlock()
	}()
}

// stopMedia closes the endpoint and waits for the reader, so Received is
// complete once Done is closed.
func (c *Call) stopMedia() {
	c.mu.Lock()
	ep, consumed := c.ep, c.consumed
	c.mu.Unlock()
	if ep == nil {
		return
	}
	_ = ep.Close()
	<-consumed
}

func (c *Call) applyChoice(ch sdp.Choice) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.choice, c.have = ch, true
	// Accept and Answer spell the codec as in our list, which New checked.
	c.codec, _ = codec.ByName(ch.Codec.Name)
	c.eventPT = -1
	if ch.Event != nil {
		c.eventPT = int(ch.Event.PT)
		c.rxEventPT = ch.Event.PT
	}
	if c.ep != nil {
		c.ep.SetRemote(ch.Remote, ch.RemoteRTCP)
		c.ep.SetHold(ch.Hold)
	}
}

// onPacket decodes audio and detects DTMF. Telephone-events share the
// sequence space with audio, so a gap is counted across both kinds.
func (c *Call) onPacket(pkt *prtp.Packet) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h := pkt.Header
	missing := 0
	if !c.rx.started || h.SSRC != c.rx.ssrc {
		c.rx.started, c.rx.ssrc, c.rx.seq = true, h.SSRC, h.SequenceNumber
		c.det.Reset()
	} else {
		d := h.SequenceNumber - c.rx.seq
		if d == 0 || d >= 1<<15 {
			return // duplicate or late: its slot was filled already
		}
		missing = int(d) - 1
		c.rx.seq = h.SequenceNumber
	}
	if h.PayloadType == c.rxEventPT {
		var ev dtmf.Event
		if ev.Unmarshal(pkt.Payload) == nil {
			c.addPresses(c.det.Push(nil, h.Timestamp, h.Marker, ev))
		}
		return
	}
	cdc, ok := codec.ByPayloadType(h.PayloadType)
	if !ok {
		return // comfort noise and the like
	}
	if missing > 0 && missing <= maxFill {
		c.recv = append(c.recv, make([]int16, missing*len(pkt.Payload))...)
	}
	c.recv = cdc.Decode(pkt.Payload, c.recv)
	c.addPresses(c.det.Advance(nil, h.Timestamp))
}

// addPresses records detected keys. Called with mu held.
func (c *Call) addPresses(ps []dtmf.Press) {
	for _, p := range ps {
		if p.Digit != 0 {
			c.digits = append(c.digits, p.Digit)
		}
	}
}

func (c *Call) addDigit(d rune) {
	c.mu.Lock()
	c.digits = append(c.digits, d)
	c.mu.Unlock()
}

// sendSetup returns what a sender needs, or why it cannot send.
func (c *Call) sendSetup() (*rtp.Endpoint, sdp.Choice, codec.Codec, int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.state != established:
		return nil, sdp.Choice{}, 0, 0, errors.New("call not established")
	case c.ep == nil || !c.have:
		return nil, sdp.Choice{}, 0, 0, errors.New("no media negotiated")
	case !c.choice.Direction.Sends():
		return nil, sdp.Choice{}, 0, 0, ErrNotSending
	}
	return c.ep, c.choice, c.codec, c.eventPT, nil
}

// SendAudio sends 8 kHz linear samples with the negotiated codec, one
// packet per ptime (20 ms normally) paced in real time, and returns after
// the last packet's time has passed, so consecutive calls stay in time. A
// short last frame is padded with silence. Timestamps run on from the
// previous packet we sent, so bursts with pauses between them reach the
// peer as one continuous stream.
func (c *Call) SendAudio(ctx context.Context, samples []int16) error {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	ep, ch, cdc, _, err := c.sendSetup()
	if err != nil {
		return fmt.Errorf("send audio: %w", err)
	}
	ptime := time.Duration(ch.Ptime) * time.Millisecond
	frame := ch.Ptime * samplesPerMs
	buf := make([]byte, 0, frame)
	pcm := make([]int16, frame)
	start := time.Now()
	for i := 0; i*frame < len(samples); i++ {
		if err := c.sleepUntil(ctx, start.Add(time.Duration(i)*ptime)); err != nil {
			return fmt.Errorf("send audio: %w", err)
		}
		n := copy(pcm, samples[i*frame:])
		clear(pcm[n:])
		buf = cdc.Encode(pcm, buf[:0])
		if err := ep.SendPT(ch.Codec.PT, buf, c.pending, i == 0); err != nil {
			return fmt.Errorf("send audio: %w", err)
		}
		c.pending = uint32(frame)
		c.mu.Lock()
		c.sent = cdc.Decode(buf, c.sent)
		c.mu.Unlock()
	}
	n := (len(samples) + frame - 1) / frame
	if err := c.sleepUntil(ctx, start.Add(time.Duration(n)*ptime)); err != nil {
		return fmt.Errorf("send audio: %w", err)
	}
	return nil
}

// SendDTMF sends keys as RFC 4733 telephone-events: each key 100 ms long,
// refreshed every 20 ms, the first packet marked, then three end packets;
// 80 ms between keys.
func (c *Call) SendDTMF(ctx context.Context, digits string) error {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	ep, _, _, pt, err := c.sendSetup()
	if err != nil {
		return fmt.Errorf("send dtmf: %w", err)
	}
	if pt < 0 {
		return fmt.Errorf("send dtmf: %w", ErrNoTelephoneEvent)
	}
	steps := int(dtmfDuration / dtmfStep)
	step := uint16(dtmfStep.Milliseconds()) * samplesPerMs
	for _, r := range digits {
		code, ok := dtmf.CodeOf(r)
		if !ok {
			return fmt.Errorf("send dtmf: %q is not a DTMF key", r)
		}
		start := time.Now()
		for k := 1; k <= steps; k++ {
			if err := c.sleepUntil(ctx, start.Add(time.Duration(k-1)*dtmfStep)); err != nil {
				return fmt.Errorf("send dtmf: %w", err)
			}
			payload, _ := dtmf.Event{Code: code, Volume: dtmfVolume, Duration: uint16(k) * step}.Marshal()
			delta := uint32(0) // every packet of an event carries its start time
			if k == 1 {
				delta = c.pending
			}
			if err := ep.SendPT(uint8(pt), payload, delta, k == 1); err != nil {
				return fmt.Errorf("send dtmf: %w", err)
			}
		}
		if err := c.sleepUntil(ctx, start.Add(time.Duration(steps)*dtmfStep)); err != nil {
			return fmt.Errorf("send dtmf: %w", err)
		}
		end, _ := dtmf.Event{Code: code, End: true, Volume: dtmfVolume, Duration: uint16(steps) * step}.Marshal()
		for range 3 {
			if err := ep.SendPT(uint8(pt), end, 0, false); err != nil {
				return fmt.Errorf("send dtmf: %w", err)
			}
		}
		gap := uint32(dtmfGap.Milliseconds()) * samplesPerMs
		c.pending = uint32(steps)*uint32(step) + gap
		if err := c.sleepUntil(ctx, time.Now().Add(dtmfGap)); err != nil {
			return fmt.Errorf("send dtmf: %w", err)
		}
	}
	return nil
}

func (c *Call) sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-c.done:
		return errors.New("call ended")
	}
}

// Received returns a copy of the audio received so far, decoded, in
// sequence order; packets missing from the sequence are silence.
func (c *Call) Received() []int16 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int16(nil), c.recv...)
}

// Sent returns a copy of the audio sent so far as the peer decodes it:
// the G.711 round trip of what SendAudio was given, padding included.
func (c *Call) Sent() []int16 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int16(nil), c.sent...)
}

// Digits returns the DTMF keys received so far, by RFC 4733 and by INFO,
// in order of arrival.
func (c *Call) Digits() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.digits)
}

// Packets returns how many RTP packets the call sent and received (audio
// and telephone-events).
func (c *Call) Packets() (sent, received int) {
	c.mu.Lock()
	ep := c.ep
	c.mu.Unlock()
	if ep == nil {
		return 0, 0
	}
	st := ep.Stats()
	return int(st.PacketsSent), int(st.PacketsReceived)
}

// Codec returns the negotiated codec (PCMU until an answer says otherwise).
func (c *Call) Codec() codec.Codec {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.codec
}
