package rtp

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pion/rtp"
)

// pkt makes a 20 ms PCMU packet whose timestamp follows its sequence
// number, so interpolated gaps are checkable.
func pkt(ssrc uint32, seq uint16) *rtp.Packet {
	return &rtp.Packet{Header: rtp.Header{Version: 2, SSRC: ssrc, SequenceNumber: seq, Timestamp: 1000 + uint32(seq)*160},
		Payload: make([]byte, 160)}
}

func frames(fs []Frame) string {
	var s []string
	for _, f := range fs {
		if f.Missing {
			s = append(s, fmt.Sprintf("_%d@%d", f.Seq, f.Timestamp))
		} else {
			s = append(s, fmt.Sprint(f.Seq))
		}
	}
	return strings.Join(s, " ")
}

func TestJitterBuffer(t *testing.T) {
	const A, B = 0xaaaa, 0xbbbb
	type in struct {
		ssrc uint32
		seq  uint16
	}
	seqs := func(ssrc uint32, s ...uint16) []in {
		out := make([]in, len(s))
		for i, q := range s {
			out[i] = in{ssrc, q}
		}
		return out
	}
	tests := []struct {
		name  string
		depth int
		input []in
		// beforeFlush is what Pop yields during the pushes; all is
		// everything including Flush.
		beforeFlush, all string
		stats            JitterStats
	}{
		{"in order", 2, seqs(A, 1, 2, 3, 4, 5), "1 2 3 4 5", "1 2 3 4 5",
			JitterStats{Pushed: 5, Released: 5}},
		{"swapped pair", 2, seqs(A, 1, 3, 2, 4, 5), "1 2 3 4 5", "1 2 3 4 5",
			JitterStats{Pushed: 5, Released: 5}},
		{"duplicates buffered and released", 2, seqs(A, 1, 2, 2, 3, 1, 3), "1 2 3", "1 2 3",
			JitterStats{Pushed: 6, Released: 3, Duplicates: 1, Late: 2}},
		{"loss filled after depth", 2, seqs(A, 1, 2, 4, 5, 6), "1 2 _3@1480 4 5 6", "1 2 _3@1480 4 5 6",
			JitterStats{Pushed: 5, Released: 5, Missing: 1}},
		{"too late after gap released", 2, seqs(A, 1, 2, 4, 5, 6, 3), "1 2 _3@1480 4 5 6", "1 2 _3@1480 4 5 6",
			JitterStats{Pushed: 6, Released: 5, Missing: 1, Late: 1}},
		{"reorder within depth is repaired", 3, seqs(A, 1, 2, 3, 4, 7, 5, 6, 8), "1 2 3 4 5 6 7 8", "1 2 3 4 5 6 7 8",
			JitterStats{Pushed: 8, Released: 8}},
		{"depth 0 releases gaps at once", 0, seqs(A, 1, 3, 2, 4), "1 _2@1320 3 4", "1 _2@1320 3 4",
			JitterStats{Pushed: 4, Released: 3, Missing: 1, Late: 1}},
		{"first packets swapped", 3, seqs(A, 3, 1, 2, 4, 5), "1 2 3 4 5", "1 2 3 4 5",
			JitterStats{Pushed: 5, Released: 5}},
		{"sequence wraps", 2, seqs(A, 65534, 65535, 1, 0, 2, 3), "65534 65535 0 1 2 3", "65534 65535 0 1 2 3",
			JitterStats{Pushed: 6, Released: 6}},
		{"burst loss", 1, seqs(A, 10, 11, 15, 16), "10 11 _12@2920 _13@3080 _14@3240 15 16", "10 11 _12@2920 _13@3080 _14@3240 15 16",
			JitterStats{Pushed: 4, Released: 4, Missing: 3}},
		{"start waits for depth", 3, seqs(A, 1, 2, 3), "", "1 2 3",
			JitterStats{Pushed: 3, Released: 3}},
		{"flush fills gaps", 5, seqs(A, 1, 3, 5), "", "1 _2@1320 3 _4@1640 5",
			JitterStats{Pushed: 3, Released: 3, Missing: 2}},
		{"new ssrc resyncs", 2, append(seqs(A, 1, 2, 3), seqs(B, 100, 101, 102, 103)...), "1 2 3 100 101 102 103", "1 2 3 100 101 102 103",
			JitterStats{Pushed: 7, Released: 7, Resyncs: 1}},
		{"sequence jump resyncs", 1, seqs(A, 1, 2, 3, 9000, 9001, 9002), "1 2 3 9000 9001 9002", "1 2 3 9000 9001 9002",
			JitterStats{Pushed: 6, Released: 6, Resyncs: 1}},
		{"sequence restart backwards resyncs", 1, seqs(A, 5000, 5001, 5002, 7, 8, 9), "5000 5001 5002 7 8 9", "5000 5001 5002 7 8 9",
			JitterStats{Pushed: 6, Released: 6, Resyncs: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := NewJitterBuffer(tt.depth)
			var got []Frame
			for _, p := range tt.input {
				j.Push(pkt(p.ssrc, p.seq))
				for f, ok := j.Pop(); ok; f, ok = j.Pop() {
					got = append(got, f)
				}
				s := j.Stats()
				if s.Pushed != s.Released+s.Duplicates+s.Late+uint64(j.Len()) {
					t.Fatalf("counts do not add up: %+v, %d buffered", s, j.Len())
				}
			}
			if g := frames(got); g != tt.beforeFlush {
				t.Errorf("before flush: got %q, want %q", g, tt.beforeFlush)
			}
			got = append(got, j.Flush()...)
			if g := frames(got); g != tt.all {
				t.Errorf("all: got %q, want %q", g, tt.all)
			}
			if s := j.Stats(); s != tt.stats {
				t.Errorf("stats %+v, want %+v", s, tt.stats)
			}
			if _, ok := j.Pop(); ok || j.Len() != 0 {
				t.Error("frames left after Flush")
			}
		})
	}
}
