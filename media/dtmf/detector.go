package dtmf

// DefaultTimeout is the Detector timeout used when Detector.Timeout is zero:
// one second at the usual 8 kHz telephone-event clock. Senders refresh an
// event every 50 ms or so, so a second of silence means its end packets are
// lost, not late.
const DefaultTimeout = 8000

// Press is one key press reported by a Detector.
type Press struct {
	Code  byte // event code (see Digit)
	Digit rune // the key, or 0 for a non-DTMF event code
	// Start is the RTP timestamp of the event start, which identifies the
	// press across its retransmitted packets.
	Start uint32
	// Duration is the longest duration seen, in RTP timestamp units, summed
	// over the segments of a long event.
	Duration uint32
	// Ended is true when an end packet arrived; false when the press was
	// reported because a newer event began, the timeout passed, or Flush.
	Ended bool
}

// Detector turns the packet stream of one RTP source's telephone-events into
// key presses, each reported exactly once. RFC 4733 senders repeat the start
// packet, refresh the event while the key is held, and send the end packet
// three times, all with the RTP timestamp of the event start; the detector
// keys on that timestamp. Reporting on the end packet (not the start) is
// what gives an accurate duration and lets long presses be told apart.
//
// A Detector is not safe for concurrent use; it belongs to the goroutine
// reading the RTP stream. The zero value is ready to use.
type Detector struct {
	// Timeout is how long, in RTP timestamp units after the last known
	// moment of an unfinished event, Advance waits before reporting it
	// without an end packet. Zero means DefaultTimeout. Packets more than
	// four timeouts older than the current event are taken as a restarted
	// sender clock rather than as late echoes.
	Timeout uint32

	active   bool   // the fields below describe an event (reported or not)
	reported bool   // it has been reported; later packets for it are echoes
	code     byte   // its event code
	start    uint32 // timestamp of its first segment
	seg      uint32 // timestamp of its current segment (long events)
	segDur   uint16 // longest duration seen in the current segment
	prevDur  uint32 // total duration of finished segments

	// The event reported before the current one, so that its echoes are
	// still recognised when a broken sender reuses its timestamp.
	hasPrev  bool
	prevSeg  uint32
	prevCode byte
}

// after reports whether RTP timestamp a is later than b, with wrap-around
// (RFC 3550 timestamps are modulo 2^32).
func after(a, b uint32) bool { return int32(a-b) > 0 }

// Push feeds one telephone-event packet: its RTP timestamp, marker bit and
// decoded payload. Presses it completes are appended to dst, which is
// returned; at most two (an unfinished previous event and this one).
func (d *Detector) Push(dst []Press, ts uint32, marker bool, ev Event) []Press {
	if d.active {
		switch {
		case ts == d.seg && ev.Code == d.code:
			// The same event again: a retransmitted start, a refresh, or one
			// of the redundant ends.
			if d.reported {
				return dst
			}
			d.segDur = max(d.segDur, ev.Duration)
			if ev.End {
				dst = d.report(dst, true)
			}
			return dst
		case d.hasPrev && ts == d.prevSeg && ev.Code == d.prevCode:
			return dst // an echo of the event before
		case after(d.seg, ts) && d.seg-ts <= d.staleWindow():
			// Older than the event in hand: a late echo of an event already
			// dealt with. Reporting it now would report a key twice or out
			// of order. (Much older means the sender's clock jumped; that is
			// a new event, handled below.)
			return dst
		case d.continues(ts, marker, ev):
			// RFC 4733 section 2.5.1.3: an event longer than the duration
			// field can hold goes on in a new segment, timestamped where
			// the last one stopped, without the marker bit.
			d.prevDur += uint32(ts - d.seg)
			d.seg = ts
			d.segDur = ev.Duration
			if ev.End {
				dst = d.report(dst, true)
			}
			return dst
		}
		if !d.reported {
			dst = d.report(dst, false)
		}
	}
	*d = Detector{
		Timeout:  d.Timeout,
		active:   true,
		code:     ev.Code,
		start:    ts,
		seg:      ts,
		segDur:   ev.Duration,
		hasPrev:  d.active,
		prevSeg:  d.seg,
		prevCode: d.code,
	}
	if ev.End {
		// Start and refresh packets were lost; the end alone is enough.
		dst = d.report(dst, true)
	}
	return dst
}

func (d *Detector) timeout() uint32 {
	if d.Timeout == 0 {
		return DefaultTimeout
	}
	return d.Timeout
}

// staleWindow is how far back a timestamp may lie and still be taken for a
// late packet. Echoes trail by a few hundred milliseconds at most; a
// timestamp further back means the sender restarted its clock (some keep
// the SSRC across a re-INVITE), and refusing it would mute the keypad for
// the rest of the call.
func (d *Detector) staleWindow() uint32 {
	return uint32(min(4*uint64(d.timeout()), 1<<31-1))
}

// continues reports whether a packet with a new timestamp is the next
// segment of the current long event rather than a new press.
func (d *Detector) continues(ts uint32, marker bool, ev Event) bool {
	if marker || d.reported || ev.Code != d.code {
		return false
	}
	step := ts - d.seg
	// The RFC's segment length is the full 0xFFFF; some senders cut
	// segments shorter and step the timestamp by the duration they reached.
	return step == 0xFFFF || (d.segDur > 0 && step == uint32(d.segDur))
}

// Advance tells the detector the stream has reached RTP timestamp ts (for
// example from an audio packet of the same source) and reports the current
// event if it has gone unfinished for longer than the timeout.
func (d *Detector) Advance(dst []Press, ts uint32) []Press {
	if !d.active || d.reported {
		return dst
	}
	if after(ts, d.seg+uint32(d.segDur)+d.timeout()) {
		dst = d.report(dst, false)
	}
	return dst
}

// Flush reports the current event if it has not been reported, for when the
// stream stops (hang-up, re-INVITE, a wall-clock timer).
func (d *Detector) Flush(dst []Press) []Press {
	if d.active && !d.reported {
		dst = d.report(dst, false)
	}
	return dst
}

// Reset forgets all state, for a new SSRC whose timestamps are unrelated.
func (d *Detector) Reset() { *d = Detector{Timeout: d.Timeout} }

func (d *Detector) report(dst []Press, ended bool) []Press {
	d.reported = true
	return append(dst, Press{
		Code:     d.code,
		Digit:    Digit(d.code),
		Start:    d.start,
		Duration: d.prevDur + uint32(d.segDur),
		Ended:    ended,
	})
}
