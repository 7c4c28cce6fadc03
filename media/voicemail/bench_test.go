package voicemail

import (
	"context"
	"runtime"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/media/codec"
	"github.com/sentralpbx/sentral/media/dtmf"
	mrtp "github.com/sentralpbx/sentral/media/rtp"
)

// BenchmarkConcurrentRecordings records n messages at once on loopback:
// n phone endpoints send 2 s of paced 20 ms PCMU frames and then '#' to n
// recorder endpoints, all in this process. It reports lost packets (must
// be 0), CPU per stream (both ends, as a fraction of a core) and heap per
// call (both endpoints and the recorder).
func BenchmarkConcurrentRecordings(b *testing.B) {
	const n, frames = 200, 100
	c := codec.PCMU
	payload := c.Encode(sine(frameSamples, 400, 8000), nil)
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		serverPorts, err := mrtp.NewPorts(loopback, 43000, 43999)
		if err != nil {
			b.Fatal(err)
		}
		phonePorts, err := mrtp.NewPorts(loopback, 44000, 44999)
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		var base, mid runtime.MemStats
		runtime.ReadMemStats(&base)
		open := func(p *mrtp.Ports, remote mrtp.Config) *mrtp.Endpoint {
			remote.Log, remote.PayloadType, remote.AcceptPT = zap.NewNop(), 0, []uint8{0, eventPT}
			e, err := mrtp.Open(ctx, p, remote)
			if err != nil {
				b.Fatal(err)
			}
			return e
		}
		phones := make([]*mrtp.Endpoint, n)
		servers := make([]*mrtp.Endpoint, n)
		results := make(chan Result, n)
		for i := range n {
			servers[i] = open(serverPorts, mrtp.Config{})
			phones[i] = open(phonePorts, mrtp.Config{Remote: servers[i].LocalAddr()})
			go func(src Source) {
				res, err := Record(ctx, src, &memFile{}, RecordOptions{PayloadType: 0, EventPT: eventPT})
				if err != nil {
					b.Error(err)
				}
				results <- res
			}(servers[i])
		}
		var ru0 syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
		start := time.Now()
		next := start
		goroutines := 0
		tick := func() {
			next = next.Add(Ptime)
			time.Sleep(time.Until(next))
		}
		for k := range frames {
			for _, p := range phones {
				if err := p.Send(payload, frameSamples, k == 0); err != nil {
					b.Fatal(err)
				}
			}
			if k == frames/2 {
				runtime.ReadMemStats(&mid)
				goroutines = runtime.NumGoroutine()
			}
			tick()
		}
		for k := range 7 {
			ev := dtmf.Event{Code: 11, Duration: uint16(160 * min(k+1, 4)), End: k >= 4}
			pl, _ := ev.Marshal()
			delta := uint32(0)
			if k == 0 {
				delta = frameSamples
			}
			for _, p := range phones {
				_ = p.SendPT(eventPT, pl, delta, k == 0)
			}
			if k < 4 {
				tick()
			}
		}
		received, missing, keyed := 0, 0, 0
		for range n {
			res := <-results
			received += res.Packets
			missing += res.Missing
			if res.Reason == ReasonKey {
				keyed++
			}
		}
		wall := time.Since(start)
		var ru1 syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
		cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
		overflow := uint64(0)
		for i := range n {
			overflow += servers[i].Stats().Overflow
			_ = servers[i].Close()
			_ = phones[i].Close()
		}
		cancel()
		if keyed != n {
			b.Errorf("%d of %d recordings ended by '#'", keyed, n)
		}
		lost := n*frames - received
		b.ReportMetric(float64(lost), "lost-pkts")
		b.ReportMetric(float64(missing), "missing-frames")
		b.ReportMetric(float64(overflow), "overflow-pkts")
		b.ReportMetric(100*cpu.Seconds()/n/wall.Seconds(), "%core/stream")
		b.ReportMetric(float64(int64(mid.HeapInuse)-int64(base.HeapInuse))/n, "heap-B/call")
		b.ReportMetric(float64(goroutines), "goroutines")
		if lost != 0 {
			b.Errorf("%d packets lost", lost)
		}
	}
}
