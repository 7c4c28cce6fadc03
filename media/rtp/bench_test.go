//go:build unix

package rtp

import (
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkEndpointsLoopback runs N pairs of endpoints on loopback, each
// endpoint sending a 160-byte PCMU frame every 20 ms (paced, as a phone
// does) and draining what it receives through Packets. One op is one
// 20 ms tick. The figure that matters is cpu-us/stream-s: process CPU
// (user+sys, receivers and GC included) per endpoint per second of audio;
// 1% of a core is 10000.
func BenchmarkEndpointsLoopback(b *testing.B) {
	for _, pairs := range []int{1, 10, 50, 100} {
		b.Run(fmt.Sprintf("streams=%d", 2*pairs), func(b *testing.B) {
			ports := testPorts(b, 44000, 44999)
			var eps []*Endpoint
			for range 2 * pairs {
				eps = append(eps, open(b, ports, Config{RTCPInterval: time.Second}))
			}
			var received atomic.Int64
			var wg sync.WaitGroup
			for i := 0; i < len(eps); i += 2 {
				eps[i].SetRemote(eps[i+1].LocalAddr(), netip.AddrPort{})
				eps[i+1].SetRemote(eps[i].LocalAddr(), netip.AddrPort{})
			}
			for _, e := range eps {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range e.Packets() {
						received.Add(1)
					}
				}()
			}
			payload := make([]byte, 160)
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			cpu0, wall0 := cpuTime(), time.Now()
			b.ResetTimer()
			for range b.N {
				<-tick.C
				for _, e := range eps {
					if err := e.Send(payload, 160, false); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.StopTimer()
			cpu, wall := cpuTime()-cpu0, time.Since(wall0)
			time.Sleep(50 * time.Millisecond) // the last packets in flight
			for _, e := range eps {
				_ = e.Close()
			}
			wg.Wait()
			streamSeconds := float64(len(eps)) * wall.Seconds()
			b.ReportMetric(float64(cpu.Microseconds())/streamSeconds, "cpu-us/stream-s")
			sent := int64(b.N * len(eps))
			b.ReportMetric(100*float64(sent-received.Load())/float64(sent), "%loss")
		})
	}
}
