package voicemail

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/pion/rtp"
	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/media/codec"
	"github.com/sentralpbx/sentral/media/dtmf"
	mrtp "github.com/sentralpbx/sentral/media/rtp"
	"github.com/sentralpbx/sentral/media/wav"
)

// Defaults for RecordOptions fields left zero.
const (
	DefaultMaxLength      = 120 * time.Second
	DefaultSilenceTimeout = 5 * time.Second
	// DefaultSilenceThreshold is the mean absolute amplitude of a 20 ms
	// frame of 16-bit linear PCM under which the frame counts as silence:
	// 128 of 32767, about -48 dBov (a noise RMS near -46 dBov). It is
	// Asterisk's voicemail.conf default and measured the same way (mean of
	// |sample|), so admins coming from Asterisk recognise the number; it
	// sits above a quiet line's noise floor (-55 dBov and lower) and well
	// below speech (-30..-15 dBov active level).
	DefaultSilenceThreshold = 128
	DefaultMinLength        = time.Second
	// DefaultJitterDepth is 60 ms of reordering at 20 ms packets: enough
	// for a LAN or a decent trunk, and the recorder is not interactive, so
	// the delay costs nothing.
	DefaultJitterDepth = 3
	DefaultStopKey     = '#'
)

// frameSamples is one 20 ms frame at 8 kHz, the unit of silence trimming.
const frameSamples = codec.ClockRate / 50

// holdback is how many recorded samples stay out of the file even when
// they are speech (200 ms): if the first packets of the stop key are lost,
// the key's start timestamp arrives later with the refresh packets (every
// 50 ms or so), and the audio after it can still be cut.
const holdback = codec.ClockRate / 5

// commitChunk batches writes to the file: pending audio beyond what must
// be held back goes out once there is 100 ms of it.
const commitChunk = codec.ClockRate / 10

// maxBackJump is how far a packet's timestamp may fall behind what is
// recorded before it is taken as the sender restarting its clock (same
// SSRC) rather than as an overlapping packet.
const maxBackJump = codec.ClockRate

// Source delivers the received RTP packets of one call leg, in arrival
// order, and closes the channel when the leg ends. media/rtp's Endpoint is
// one.
type Source interface {
	Packets() <-chan *rtp.Packet
}

var _ Source = (*mrtp.Endpoint)(nil)

// RecordOptions configures Record. Zero values take the defaults.
type RecordOptions struct {
	// Codec is the negotiated audio codec, PCMU (zero value) or PCMA.
	Codec codec.Codec
	// PayloadType is the codec's payload type in this call (from the SDP
	// answer). Below 96 it must be the codec's static type, which is what
	// catches a PCMA call configured with PCMU's 0.
	PayloadType uint8
	// EventPT is the telephone-event payload type (RFC 4733); 0 means the
	// call has none and only SIP INFO could carry the stop key.
	EventPT uint8
	// Format is the file's format; zero stores G.711 as received (ULaw for
	// PCMU, ALaw for PCMA). wav.PCM writes 16-bit linear.
	Format wav.Format
	// MaxLength bounds the message (120 s).
	MaxLength time.Duration
	// SilenceTimeout ends the message after this much continuous silence,
	// or this long without any packet (5 s); negative disables both.
	SilenceTimeout time.Duration
	// SilenceThreshold is the mean |sample| of a frame under which it is
	// silence (DefaultSilenceThreshold).
	SilenceThreshold int
	// MinLength is the kept length under which Result.Empty is set (1 s).
	MinLength time.Duration
	// JitterDepth is the reordering the jitter buffer waits for, in
	// packets (3); negative means none.
	JitterDepth int
	// StopKey ends the message ('#'); other keys are ignored.
	StopKey rune
	// Log receives one debug line per recording; nil logs nothing.
	Log *zap.Logger
}

// Reason says why a recording ended.
type Reason int

// The reasons a recording ends.
const (
	ReasonHangup    Reason = iota + 1 // the packet channel closed
	ReasonKey                         // the caller pressed the stop key
	ReasonSilence                     // silence, or no packets, for SilenceTimeout
	ReasonMaxLength                   // MaxLength reached
	ReasonCanceled                    // the context ended
)

// String names the reason for logs.
func (r Reason) String() string {
	switch r {
	case ReasonHangup:
		return "hangup"
	case ReasonKey:
		return "key"
	case ReasonSilence:
		return "silence"
	case ReasonMaxLength:
		return "max-length"
	case ReasonCanceled:
		return "canceled"
	}
	return fmt.Sprintf("Reason(%d)", int(r))
}

// Result describes a finished recording.
type Result struct {
	Reason   Reason
	Format   wav.Format
	Samples  int           // samples kept in the file (8000 a second)
	Duration time.Duration // playing time of the file
	// Packets counts the audio packets received; Missing the frames the
	// jitter buffer gave up on (lost or too late), written as silence.
	Packets int
	Missing int
	// Trimmed is the trailing silence left out of the file, in samples.
	Trimmed int
	// Empty is set when the message is shorter than MinLength: the caller
	// said nothing worth keeping and the file should be discarded.
	Empty bool
}

// ErrBadOptions marks RecordOptions that cannot describe a call.
var ErrBadOptions = errors.New("voicemail: bad record options")

func (o RecordOptions) withDefaults() (RecordOptions, error) {
	if !o.Codec.Valid() {
		return o, fmt.Errorf("%w: codec %d", ErrBadOptions, o.Codec)
	}
	if o.PayloadType > 127 || (o.PayloadType < 96 && o.PayloadType != o.Codec.PayloadType()) {
		return o, fmt.Errorf("%w: payload type %d is not %s's", ErrBadOptions, o.PayloadType, o.Codec)
	}
	if o.EventPT != 0 && (o.EventPT == o.PayloadType || o.EventPT > 127) {
		return o, fmt.Errorf("%w: event payload type %d", ErrBadOptions, o.EventPT)
	}
	if o.Format == 0 {
		o.Format = wav.ULaw
		if o.Codec == codec.PCMA {
			o.Format = wav.ALaw
		}
	}
	if !o.Format.Valid() {
		return o, fmt.Errorf("%w: format %d", ErrBadOptions, o.Format)
	}
	if o.MaxLength <= 0 {
		o.MaxLength = DefaultMaxLength
	}
	if o.SilenceTimeout == 0 {
		o.SilenceTimeout = DefaultSilenceTimeout
	}
	if o.SilenceThreshold <= 0 {
		o.SilenceThreshold = DefaultSilenceThreshold
	}
	if o.MinLength == 0 {
		o.MinLength = DefaultMinLength
	}
	if o.JitterDepth == 0 {
		o.JitterDepth = DefaultJitterDepth
	}
	if o.StopKey == 0 {
		o.StopKey = DefaultStopKey
	}
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	return o, nil
}

func samplesOf(d time.Duration) int64 { return int64(d) * codec.ClockRate / int64(time.Second) }

// Record records one voicemail message: it reads src's packets through a
// jitter buffer, keeps the audio of opts.PayloadType, writes it to w as an
// 8 kHz WAV file, and stops on the stop key, MaxLength, silence, the
// channel closing or ctx ending. Gaps in the stream (lost packets, or a
// phone that sends nothing while its caller is silent) are written as
// silence so the message keeps its timing; trailing silence is left out,
// whatever ended the message.
//
// The file is completed (sizes patched) in every case, including a
// canceled ctx: a call torn down mid-message still leaves the message, and
// Result.Reason says what happened. The error is for bad options and for
// failures writing w, after which the file is not usable.
func Record(ctx context.Context, src Source, w io.WriteSeeker, opts RecordOptions) (Result, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return Result{}, err
	}
	ww, err := wav.NewWriter(w, o.Format)
	if err != nil {
		return Result{}, fmt.Errorf("voicemail: record: %w", err)
	}
	r := &recorder{
		o:          o,
		w:          ww,
		raw:        fileCodec(o.Format) == o.Codec,
		jb:         mrtp.NewJitterBuffer(max(o.JitterDepth, 0)),
		maxSamples: samplesOf(o.MaxLength),
		cutAt:      -1,
	}
	if o.SilenceTimeout > 0 {
		r.silenceSamples = samplesOf(o.SilenceTimeout)
	}
	reason := r.run(ctx, src.Packets())
	res, err := r.finish(reason)
	o.Log.Debug("voicemail recorded", zap.Stringer("reason", res.Reason), zap.Duration("duration", res.Duration),
		zap.Int("packets", res.Packets), zap.Int("missing", res.Missing), zap.Bool("empty", res.Empty), zap.Error(err))
	return res, err
}

// fileCodec is the codec whose codes a G.711 file holds (-1: PCM).
func fileCodec(f wav.Format) codec.Codec {
	if c, ok := f.Codec(); ok {
		return c
	}
	return codec.Codec(255)
}

// recorder is one Record call's state, owned by its goroutine.
type recorder struct {
	o   RecordOptions
	w   *wav.Writer
	raw bool // the file stores the call's codec: codes go in unchanged
	jb  *mrtp.JitterBuffer
	det dtmf.Detector

	maxSamples     int64
	silenceSamples int64 // 0: no silence timeout

	// Positions are in samples from the start of the message. written
	// samples are in the file; pending holds the ones after them, as codes
	// of the call's codec, until they are surely kept.
	written   int64
	pending   []byte
	silentRun int64 // trailing silent samples
	cutAt     int64 // start of a stop key press under way, or -1

	anchored bool // a packet has set the clock mapping below
	ssrc     uint32
	tsBase   uint32 // an RTP timestamp of the current source ...
	posBase  int64  // ... and the position it maps to

	packets, missing int
	presses          []dtmf.Press
	pcm              []int16 // decode scratch
	err              error   // first write error
}

func (r *recorder) end() int64 { return r.written + int64(len(r.pending)) }

// run consumes packets until the message ends and returns why.
func (r *recorder) run(ctx context.Context, pkts <-chan *rtp.Packet) Reason {
	var idle <-chan time.Time
	var timer *time.Timer
	if r.silenceSamples > 0 {
		// A phone using voice activity detection sends nothing at all
		// while its caller is silent, so silence is also measured in wall
		// time between packets.
		timer = time.NewTimer(r.o.SilenceTimeout)
		defer timer.Stop()
		idle = timer.C
	}
	for {
		select {
		case <-ctx.Done():
			return r.drain(ReasonCanceled)
		case <-idle:
			return r.drain(ReasonSilence)
		case p, ok := <-pkts:
			if !ok {
				return r.drain(ReasonHangup)
			}
			if timer != nil {
				timer.Reset(r.o.SilenceTimeout)
			}
			r.jb.Push(p)
			for {
				f, ok := r.jb.Pop()
				if !ok {
					break
				}
				if why := r.frame(f); why != 0 {
					return why
				}
			}
			if r.err != nil {
				// The file is broken; finish reports the error, and
				// the reason matters no more.
				return ReasonCanceled
			}
		}
	}
}

// drain processes what the jitter buffer still holds (it all arrived
// before the end) and the detector's unfinished press, then returns the
// reason: a stop key found there wins over why.
func (r *recorder) drain(why Reason) Reason {
	for _, f := range r.jb.Flush() {
		if got := r.frame(f); got != 0 {
			return got
		}
	}
	r.presses = r.det.Flush(r.presses[:0])
	if r.stopPressed() {
		return ReasonKey
	}
	return why
}

// frame handles one jitter buffer slot; non-zero means the message ended.
func (r *recorder) frame(f mrtp.Frame) Reason {
	switch {
	case f.Missing:
		// The silence is written when the next packet shows, by its
		// timestamp, how long the gap was.
		r.missing++
		return 0
	case f.Packet.PayloadType == r.o.PayloadType:
		return r.audio(f.Packet)
	case r.o.EventPT != 0 && f.Packet.PayloadType == r.o.EventPT:
		return r.event(f.Packet)
	}
	// Comfort noise and anything else: its time is filled as silence by
	// the next audio packet's timestamp.
	return 0
}

// pos maps p's timestamp to a position in the message. A new SSRC (the
// phone restarted its sender after hold) starts a new clock, anchored at
// the end of what is recorded, so no bogus gap is filled.
func (r *recorder) pos(p *rtp.Packet) int64 {
	if !r.anchored || p.SSRC != r.ssrc {
		r.anchored, r.ssrc, r.tsBase, r.posBase = true, p.SSRC, p.Timestamp, r.end()
		r.det.Reset()
	}
	return r.posBase + int64(int32(p.Timestamp-r.tsBase))
}

func (r *recorder) audio(p *rtp.Packet) Reason {
	r.packets++
	pos := r.pos(p)
	end := r.end()
	if end-pos > maxBackJump {
		// Same SSRC, timestamps restarted: continue from here.
		r.tsBase, r.posBase, pos = p.Timestamp, end, end
	}
	r.presses = r.det.Advance(r.presses[:0], p.Timestamp)
	if r.stopPressed() {
		return ReasonKey
	}
	if pos > end {
		if why := r.fill(pos - end); why != 0 {
			return why
		}
	}
	payload := p.Payload
	if skip := r.end() - pos; skip > 0 {
		// Overlaps what is recorded (a sender that re-sent or shifted).
		if skip >= int64(len(payload)) {
			return 0
		}
		payload = payload[skip:]
	}
	return r.add(payload, r.silent(payload))
}

// fill appends n samples of silence, for lost frames and unsent ones.
func (r *recorder) fill(n int64) Reason {
	s := r.o.Codec.Silence()
	for n > 0 {
		k := min(n, frameSamples)
		var buf [frameSamples]byte
		for i := range buf[:k] {
			buf[i] = s
		}
		if why := r.add(buf[:k], true); why != 0 {
			return why
		}
		n -= k
	}
	return 0
}

// add appends codes at the end of the message, within the stop key cut and
// the maximum length, and commits what no longer needs holding back.
func (r *recorder) add(codes []byte, silent bool) Reason {
	end := r.end()
	if r.cutAt >= 0 {
		// The stop key is down: what follows its start is not kept.
		codes = codes[:max(0, min(int64(len(codes)), r.cutAt-end))]
	}
	full := false
	if room := r.maxSamples - end; int64(len(codes)) >= room {
		codes, full = codes[:room], true
	}
	r.pending = append(r.pending, codes...)
	if silent {
		r.silentRun += int64(len(codes))
	} else if len(codes) > 0 {
		r.silentRun = 0
	}
	if full {
		return ReasonMaxLength
	}
	if r.silenceSamples > 0 && r.silentRun >= r.silenceSamples {
		return ReasonSilence
	}
	keep := max(r.silentRun, holdback)
	if n := int64(len(r.pending)) - keep; n >= commitChunk {
		r.commit(int(n))
	}
	return 0
}

func (r *recorder) event(p *rtp.Packet) Reason {
	var ev dtmf.Event
	if ev.Unmarshal(p.Payload) != nil {
		return 0
	}
	pos := r.pos(p)
	if dtmf.Digit(ev.Code) == r.o.StopKey && r.cutAt < 0 {
		// Stop keeping audio at once: the press is reported only when the
		// key is released, and phones may send audio meanwhile.
		r.cutAt = max(pos, r.written)
	}
	r.presses = r.det.Push(r.presses[:0], p.Timestamp, p.Marker, ev)
	if r.stopPressed() {
		return ReasonKey
	}
	return 0
}

// stopPressed reports whether r.presses holds the stop key and, if so, cuts
// the message at its start.
func (r *recorder) stopPressed() bool {
	for _, pr := range r.presses {
		if pr.Digit != r.o.StopKey {
			continue
		}
		cut := r.posBase + int64(int32(pr.Start-r.tsBase))
		if r.cutAt >= 0 {
			cut = min(cut, r.cutAt)
		}
		// Audio already in the file stays (only possible when the key's
		// packets came more than holdback late).
		if keep := max(cut-r.written, 0); keep < int64(len(r.pending)) {
			r.pending = r.pending[:keep]
		}
		return true
	}
	return false
}

// silent classifies a frame by its mean absolute amplitude.
func (r *recorder) silent(codes []byte) bool {
	if len(codes) == 0 {
		return true
	}
	r.pcm = r.o.Codec.Decode(codes, r.pcm[:0])
	var sum int64
	for _, x := range r.pcm {
		if x < 0 {
			sum -= int64(x)
		} else {
			sum += int64(x)
		}
	}
	return sum < int64(r.o.SilenceThreshold)*int64(len(r.pcm))
}

// commit writes the first n pending samples to the file.
func (r *recorder) commit(n int) {
	if n <= 0 || r.err != nil {
		return
	}
	codes := r.pending[:n]
	if r.raw {
		_, r.err = r.w.Write(codes)
	} else {
		r.pcm = r.o.Codec.Decode(codes, r.pcm[:0])
		r.err = r.w.WriteSamples(r.pcm)
	}
	r.written += int64(n)
	r.pending = r.pending[:copy(r.pending, r.pending[n:])]
}

// finish trims trailing silence, writes the rest and completes the file.
func (r *recorder) finish(reason Reason) (Result, error) {
	// Trailing silence is found again frame by frame from the end rather
	// than taken from silentRun, because a stop key cut may have moved the
	// end into earlier audio.
	trimmed := 0
	for len(r.pending) > 0 {
		k := min(len(r.pending), frameSamples)
		if !r.silent(r.pending[len(r.pending)-k:]) {
			break
		}
		r.pending = r.pending[:len(r.pending)-k]
		trimmed += k
	}
	r.commit(len(r.pending))
	if err := r.w.Close(); err != nil && r.err == nil {
		r.err = err
	}
	n := r.w.Samples()
	res := Result{
		Reason:   reason,
		Format:   r.o.Format,
		Samples:  n,
		Duration: time.Duration(n) * time.Second / codec.ClockRate,
		Packets:  r.packets,
		Missing:  r.missing,
		Trimmed:  trimmed,
		Empty:    int64(n) < samplesOf(r.o.MinLength),
	}
	if r.err != nil {
		return res, fmt.Errorf("voicemail: record: %w", r.err)
	}
	return res, nil
}
