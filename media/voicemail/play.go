package voicemail

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"github.com/sentralpbx/sentral/media/codec"
	mrtp "github.com/sentralpbx/sentral/media/rtp"
	"github.com/sentralpbx/sentral/media/wav"
)

// Ptime is the packetisation Play sends: 20 ms, what every desk phone
// expects and what sdp.DefaultPtime asks for.
const Ptime = 20 * time.Millisecond

// maxLag is how far Play may fall behind its schedule (a stalled process)
// before it restarts the schedule instead of bursting the missed frames,
// which the phone's jitter buffer would drop anyway.
const maxLag = 3 * Ptime

// Sender sends one RTP payload of the call's negotiated codec; media/rtp's
// Endpoint is one.
type Sender interface {
	Send(payload []byte, timestampDelta uint32, marker bool) error
}

var _ Sender = (*mrtp.Endpoint)(nil)

// Play sends the WAV file read from r (PCM16 or G.711) to s encoded as c,
// in 20 ms frames paced in real time, for prompts and message playback.
// The last frame is padded with silence so phones always see whole
// frames. A file already in c's encoding is sent byte for byte. It returns
// ctx's error when ctx ends first (the caller pressed a key, hung up).
//
// The file is read whole first: a two-minute message is 1.9 MB of PCM at
// most, and reading up front keeps disk latency out of the pacing loop.
func Play(ctx context.Context, s Sender, r io.Reader, c codec.Codec) error {
	if !c.Valid() {
		return fmt.Errorf("voicemail: play: codec %d", c)
	}
	codes, err := Encode(r, c)
	if err != nil {
		return fmt.Errorf("voicemail: play: %w", err)
	}
	return PlayCodes(ctx, s, codes, c)
}

// Encode reads a WAV file and returns its audio as codes of c, ready to
// send; prompts can be converted once and cached this way.
func Encode(r io.Reader, c codec.Codec) ([]byte, error) {
	info, data, err := wav.ReadData(r)
	if err != nil {
		return nil, err
	}
	if fc, ok := info.Format.Codec(); ok {
		return fc.Transcode(c, data, make([]byte, 0, len(data))), nil
	}
	pcm := make([]int16, len(data)/2)
	for i := range pcm {
		pcm[i] = int16(binary.LittleEndian.Uint16(data[2*i:]))
	}
	return c.Encode(pcm, make([]byte, 0, len(pcm))), nil
}

// PlayCodes sends codes of c (as Encode returns them) like Play.
func PlayCodes(ctx context.Context, s Sender, codes []byte, c codec.Codec) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	frame := make([]byte, frameSamples)
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	next := time.Now()
	for i := 0; len(codes) > 0; i++ {
		if wait := time.Until(next); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-timer.C:
			}
		} else if wait < -maxLag {
			next = time.Now()
		} else if err := ctx.Err(); err != nil {
			return err
		}
		n := copy(frame, codes)
		for j := n; j < len(frame); j++ {
			frame[j] = c.Silence()
		}
		codes = codes[n:]
		// The marker starts the talkspurt (RFC 3551 §4.1), so the phone
		// resets its playout delay for the prompt.
		if err := s.Send(frame, frameSamples, i == 0); err != nil {
			return fmt.Errorf("voicemail: play: send: %w", err)
		}
		next = next.Add(Ptime)
	}
	return nil
}
