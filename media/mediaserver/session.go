package mediaserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	prtp "github.com/pion/rtp"
	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/media/codec"
	"github.com/sentralpbx/sentral/media/rtp"
	"github.com/sentralpbx/sentral/media/voicemail"
)

// frameSamples is one 20 ms frame at 8 kHz.
const frameSamples = codec.ClockRate / 50

// maxLag is how far playback may fall behind its schedule (a stalled
// process) before the schedule restarts instead of bursting frames the
// phone's jitter buffer would drop anyway.
const maxLag = 3 * voicemail.Ptime

// Session is the handle on one call: answered (given to App.Serve) or
// dialled (returned by Server.Dial). Play, ReadDigits, FlushDigits, Record
// and Bridge are meant for one goroutine at a time (the App's, or the
// dialled call's owner's), and a session is in at most one Play or Bridge
// at a time (ErrBusy otherwise); CallID, Caller, Codec, Done, Ended and
// Hangup may be called from anywhere.
type Session struct {
	c *call
}

var _ voicemail.Call = (*Session)(nil)

// CallID returns the SIP Call-ID (for a dialled call, the one we chose).
func (s *Session) CallID() string { return s.c.id }

// App returns the request-URI user part the call was routed by ("" for a
// dialled call).
func (s *Session) App() string { return s.c.appName }

// Param returns a request-URI parameter ("" if absent); names are
// case-insensitive, values are unescaped.
func (s *Session) Param(name string) string { return s.c.params[strings.ToLower(name)] }

// Caller returns the caller's number and display name: from
// P-Asserted-Identity when the proxy set one, else from From. The number is
// empty when withheld. For a dialled call it is the called party, from the
// answer's P-Asserted-Identity, else its To.
func (s *Session) Caller() (number, display string) { return s.c.number, s.c.display }

// Codec returns the negotiated codec.
func (s *Session) Codec() codec.Codec { return s.c.codec }

// Log returns the call's logger (with call_id).
func (s *Session) Log() *zap.Logger { return s.c.log }

// Hangup ends the call and closes Done. On an answered call the context
// given to Serve ends and the server sends BYE once Serve returns; on a
// dialled call the server sends BYE at once (Hangup does not wait for it).
// It may be called from any goroutine, more than once.
func (s *Session) Hangup() { s.c.end(errAppHangup) }

// Done is closed when the call has ended for any reason: the far end hung
// up, Hangup, dead media, a failed re-INVITE, the server stopping, or (for
// an answered call) its App returning.
func (s *Session) Done() <-chan struct{} { return s.c.ctx.Done() }

// Ended returns nil while the call is up; after Done is closed, an error
// wrapping ErrCallEnded whose text says why (for logs).
func (s *Session) Ended() error {
	if s.c.ctx.Err() == nil {
		return nil
	}
	cause := context.Cause(s.c.ctx)
	if cause == nil || errors.Is(cause, ErrCallEnded) {
		return ErrCallEnded
	}
	return fmt.Errorf("%w: %w", ErrCallEnded, cause)
}

// Dialled reports whether the call was placed by Server.Dial.
func (s *Session) Dialled() bool { return s.c.out != nil }

// FlushDigits forgets key presses not yet read, so that a key pressed
// during a prompt does not answer the next question.
func (s *Session) FlushDigits() {
	for {
		select {
		case <-s.c.digits:
		default:
			return
		}
	}
}

// alive returns the error for an ended call or context.
func (s *Session) alive(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.c.ctx.Err() != nil {
		return ErrCallEnded
	}
	return nil
}

// Play sends 8 kHz samples as paced RTP in the call's codec. When
// interruptible, a key press stops it and is returned (a key pressed
// earlier and not yet read returns at once: callers can type ahead);
// otherwise key presses wait for the next read. It returns ErrCallEnded
// or ctx's error when those end first.
func (s *Session) Play(ctx context.Context, samples []int16, interruptible bool) (rune, error) {
	c := s.c
	if err := s.alive(ctx); err != nil {
		return 0, err
	}
	var digits <-chan rune
	if interruptible {
		digits = c.digits
		select {
		case d := <-digits:
			return d, nil
		default:
		}
	}
	if len(samples) == 0 {
		return 0, nil
	}
	c.mu.Lock()
	if c.relay != nil {
		c.mu.Unlock()
		return 0, ErrBusy
	}
	c.playing++
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.playing--
		c.mu.Unlock()
	}()
	codes := c.codec.Encode(samples, make([]byte, 0, len(samples)))
	frame := make([]byte, frameSamples)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	next := time.Now()
	for off := 0; off < len(codes); off += frameSamples {
		wait := time.Until(next)
		if wait < -maxLag {
			next, wait = time.Now(), 0
		}
		var tick <-chan time.Time
		if wait > 0 {
			timer.Reset(wait)
			tick = timer.C
		}
		if d, err := s.await(ctx, digits, tick); d != 0 || err != nil {
			return d, err
		}
		n := copy(frame, codes[off:])
		for i := n; i < len(frame); i++ {
			frame[i] = c.codec.Silence()
		}
		if err := s.send(frame, off == 0); err != nil {
			return 0, err
		}
		next = next.Add(voicemail.Ptime)
	}
	return 0, nil
}

// await waits for tick, or returns at once with nil tick, unless a key
// from digits or the end of ctx or the call comes first.
func (s *Session) await(ctx context.Context, digits <-chan rune, tick <-chan time.Time) (rune, error) {
	if tick == nil {
		select {
		case d := <-digits:
			return d, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-s.c.ctx.Done():
			return 0, ErrCallEnded
		default:
			return 0, nil
		}
	}
	select {
	case d := <-digits:
		return d, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-s.c.ctx.Done():
		return 0, ErrCallEnded
	case <-tick:
		return 0, nil
	}
}

// send sends one frame; the first of a talkspurt carries the marker and a
// timestamp step covering the silence since the last one.
func (s *Session) send(frame []byte, first bool) error {
	_, err := s.c.transmit(s.c.pt, frame, frameSamples, first, first)
	return err
}

// transmit sends one packet into the call's outgoing stream. With resync
// (the first packet of a prompt or of a bridge) the timestamp steps by at
// least the wall-clock time since the last packet, so the stream stays one
// timeline across prompts and bridges; otherwise by delta. It reports
// false when nothing was sent because the far end holds us (time is kept:
// the next resync covers the gap).
func (c *call) transmit(pt uint8, payload []byte, delta uint32, marker, resync bool) (bool, error) {
	c.txMu.Lock()
	defer c.txMu.Unlock()
	return c.transmitLocked(pt, payload, delta, marker, resync)
}

// transmitLocked is transmit with txMu held.
func (c *call) transmitLocked(pt uint8, payload []byte, delta uint32, marker, resync bool) (bool, error) {
	c.mu.Lock()
	sending := c.sending
	c.mu.Unlock()
	if !sending {
		return false, nil // held by the far end: keep time, send nothing
	}
	now := time.Now()
	if resync && !c.lastSent.IsZero() {
		gap := uint32(now.Sub(c.lastSent) * codec.ClockRate / time.Second)
		delta = max(delta, gap)
	}
	if err := c.ep.SendPT(pt, payload, delta, marker); err != nil {
		if errors.Is(err, rtp.ErrClosed) {
			return false, ErrCallEnded
		}
		c.log.Debug("rtp send", zap.Error(err))
	}
	c.lastSent = now
	return true, nil
}

// ReadDigits collects up to max key presses (0: no limit), ending early
// on terminator (not included; 0 for none) or when timeout passes without
// a key (the wait restarts with each key). Keys typed ahead count. A
// timeout is not an error: the keys so far, perhaps none, are returned.
func (s *Session) ReadDigits(ctx context.Context, max int, timeout time.Duration, terminator rune) (string, error) {
	c := s.c
	if err := s.alive(ctx); err != nil {
		return "", err
	}
	var b strings.Builder
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case d := <-c.digits:
			if terminator != 0 && d == terminator {
				return b.String(), nil
			}
			b.WriteRune(d)
			if max > 0 && b.Len() >= max {
				return b.String(), nil
			}
			timer.Reset(timeout)
		case <-timer.C:
			return b.String(), nil
		case <-ctx.Done():
			return b.String(), ctx.Err()
		case <-c.ctx.Done():
			return b.String(), ErrCallEnded
		}
	}
}

// Record records the caller into w as a WAV file with voicemail.Record,
// filling in the call's codec and payload types. The stop key ends it
// whether it comes by RFC 4733 or SIP INFO (then Reason is ReasonKey);
// a hang-up ends it with ReasonHangup, the file complete. Other keys are
// ignored while recording.
func (s *Session) Record(ctx context.Context, w io.WriteSeeker, opts voicemail.RecordOptions) (voicemail.Result, error) {
	c := s.c
	if err := s.alive(ctx); err != nil {
		return voicemail.Result{}, err
	}
	opts.Codec, opts.PayloadType = c.codec, c.pt
	c.mu.Lock()
	opts.EventPT = c.eventPT
	c.mu.Unlock()
	if opts.StopKey == 0 {
		opts.StopKey = voicemail.DefaultStopKey
	}
	if opts.Log == nil {
		opts.Log = c.log
	}
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(c.ctx, func() { cancel(ErrCallEnded) })
	defer stop()
	rec := &recording{ch: make(chan *prtp.Packet, recordQueue), stopKey: opts.StopKey, stop: cancel}
	c.mu.Lock()
	if c.relay != nil {
		c.mu.Unlock()
		return voicemail.Result{}, ErrBusy
	}
	if c.rec != nil {
		c.mu.Unlock()
		return voicemail.Result{}, errors.New("mediaserver: record: a recording is already running")
	}
	c.rec = rec
	if c.mediaEnded {
		close(rec.ch)
		rec.closed = true
	}
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.rec = nil
		c.mu.Unlock()
	}()
	res, err := voicemail.Record(rctx, rec, w, opts)
	if res.Reason == voicemail.ReasonCanceled {
		switch cause := context.Cause(rctx); {
		case errors.Is(cause, errStopKey):
			res.Reason = voicemail.ReasonKey
		case c.ctx.Err() != nil:
			res.Reason = voicemail.ReasonHangup
		}
	}
	if err != nil {
		return res, fmt.Errorf("mediaserver: %w", err)
	}
	return res, nil
}
