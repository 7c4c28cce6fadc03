package rtp

import (
	"github.com/pion/rtp"
)

// Frame is one slot of a JitterBuffer's output, in sequence order: a
// packet, or a gap where one never came.
type Frame struct {
	Packet *rtp.Packet // nil when Missing
	Seq    uint16
	// Timestamp is the packet's; for a gap, interpolated between its
	// neighbours, so a recorder knows how much silence to write.
	Timestamp uint32
	Missing   bool
}

// JitterStats counts what a JitterBuffer did with its input.
type JitterStats struct {
	Pushed     uint64 // packets given to Push
	Released   uint64 // packets released in Frames
	Missing    uint64 // gaps released (lost, or later than the buffer waited)
	Duplicates uint64 // dropped: already buffered
	Late       uint64 // dropped: their slot had already been released
	Resyncs    uint64 // new SSRC or sequence jump: the buffer restarted
}

// JitterBuffer puts RTP packets back in sequence order for a consumer that
// needs every frame, such as the voicemail recorder. It holds up to depth
// packets while waiting for a missing one; when a further packet arrives
// the wait is over, and the missing slot is released as a gap. So depth is
// the reordering it tolerates, and its delay: depth × ptime (3 at 20 ms
// waits 60 ms). It is driven by arrivals, not a clock, which keeps it
// deterministic; Flush releases the rest when the stream ends. Not safe
// for concurrent use: it belongs to its consumer's goroutine.
type JitterBuffer struct {
	depth    int
	started  bool // a packet has been seen
	released bool // a packet has been released: next is final
	ssrc     uint32
	next     uint16 // sequence number of the next slot to release
	lastSeq  uint16 // the last released packet, for interpolation
	lastTS   uint32
	buf      []*rtp.Packet // waiting, sorted, all at or after next
	ready    []Frame
	stats    JitterStats
}

// NewJitterBuffer returns a buffer that waits for up to depth packets
// (depth 0: no reordering, every gap released at once).
func NewJitterBuffer(depth int) *JitterBuffer {
	return &JitterBuffer{depth: max(depth, 0), buf: make([]*rtp.Packet, 0, max(depth, 0)+1)}
}

// Push adds a packet and releases what it makes ready; it returns false if
// the packet was dropped as a duplicate or too late.
func (j *JitterBuffer) Push(p *rtp.Packet) bool {
	j.stats.Pushed++
	seq := p.SequenceNumber
	if !j.started {
		j.started, j.ssrc, j.next = true, p.SSRC, seq
	}
	if p.SSRC != j.ssrc {
		j.resync(p)
	}
	diff := int(int16(seq - j.next))
	switch {
	case diff < 0 && !j.released && diff >= -maxMisorder:
		// Nothing released yet: an earlier packet simply becomes the start.
		j.next = seq
	case diff < -maxMisorder || diff > maxDropout:
		// The sender restarted its sequence (RFC 3550 A.1 limits).
		j.resync(p)
	case diff < 0:
		j.stats.Late++
		return false
	}
	// Insert in order; buffers are a few packets, so a linear walk is
	// cheaper than anything cleverer.
	i := len(j.buf)
	for i > 0 {
		d := int16(seq - j.buf[i-1].SequenceNumber)
		if d == 0 {
			j.stats.Duplicates++
			return false
		}
		if d > 0 {
			break
		}
		i--
	}
	j.buf = append(j.buf, nil)
	copy(j.buf[i+1:], j.buf[i:])
	j.buf[i] = p
	// Until the first release, next is the lowest sequence number seen
	// and the buffer fills to depth first, so a stream whose first packets
	// arrive swapped does not lose the earlier one as late.
	for len(j.buf) > 0 {
		head := j.buf[0].SequenceNumber == j.next
		switch {
		case head && (j.released || len(j.buf) > j.depth):
			j.releasePacket()
		case !head && len(j.buf) > j.depth:
			j.releaseGap()
		default:
			return true
		}
	}
	return true
}

// Pop returns the next released frame, if any.
func (j *JitterBuffer) Pop() (Frame, bool) {
	if len(j.ready) == 0 {
		return Frame{}, false
	}
	f := j.ready[0]
	j.ready[0] = Frame{}
	j.ready = j.ready[1:]
	return f, true
}

// Flush releases every buffered packet, gaps between them included, and
// returns all frames not yet popped; for the end of a stream.
func (j *JitterBuffer) Flush() []Frame {
	j.drain()
	out := j.ready
	j.ready = nil
	return out
}

// Stats returns the counters.
func (j *JitterBuffer) Stats() JitterStats { return j.stats }

// Len returns how many packets wait in the buffer.
func (j *JitterBuffer) Len() int { return len(j.buf) }

func (j *JitterBuffer) drain() {
	for len(j.buf) > 0 {
		if j.buf[0].SequenceNumber == j.next {
			j.releasePacket()
		} else {
			j.releaseGap()
		}
	}
}

// resync releases the old stream and restarts at p.
func (j *JitterBuffer) resync(p *rtp.Packet) {
	j.drain()
	j.stats.Resyncs++
	j.ssrc, j.next, j.released = p.SSRC, p.SequenceNumber, false
}

func (j *JitterBuffer) releasePacket() {
	p := j.buf[0]
	copy(j.buf, j.buf[1:])
	j.buf[len(j.buf)-1] = nil
	j.buf = j.buf[:len(j.buf)-1]
	j.ready = append(j.ready, Frame{Packet: p, Seq: p.SequenceNumber, Timestamp: p.Timestamp})
	j.lastSeq, j.lastTS, j.released = p.SequenceNumber, p.Timestamp, true
	j.next = p.SequenceNumber + 1
	j.stats.Released++
}

// releaseGap releases the slot at next as missing. There is always a
// packet before it (a stream starts at a real packet) and one after it
// (buf is not empty), so its timestamp is interpolated between them.
func (j *JitterBuffer) releaseGap() {
	after := j.buf[0]
	span := uint64(uint16(after.SequenceNumber - j.lastSeq))
	k := uint64(uint16(j.next - j.lastSeq))
	ts := j.lastTS + uint32(uint64(after.Timestamp-j.lastTS)*k/span)
	j.ready = append(j.ready, Frame{Seq: j.next, Timestamp: ts, Missing: true})
	j.next++
	j.stats.Missing++
}
