package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// What the load benchmarks (voicemail_test.go, webrtc_test.go) share: the
// gate and load settings, the helper process that runs the far ends (so
// the server's CPU is measured apart from theirs), the CPU profile and the
// readings of CPU, memory and drops.

// benchLoad skips the test unless SENTRAL_BENCH is set and reads
// SENTRAL_BENCH_CALLS and SENTRAL_BENCH_SECONDS (defaults calls, seconds).
// The measuring window is the audio time less overhead (ramp, settling,
// tail), at most maxWindow and at least a second. GOGC is set to what
// `sentral serve` runs with unless the environment names one.
func benchLoad(t *testing.T, about string, calls, seconds int, maxWindow, overhead time.Duration) (n, secs int, window time.Duration) {
	t.Helper()
	if os.Getenv("SENTRAL_BENCH") == "" {
		t.Skip("benchmark: set SENTRAL_BENCH=1 (" + about + ")")
	}
	n = envInt("SENTRAL_BENCH_CALLS", calls)
	secs = envInt("SENTRAL_BENCH_SECONDS", seconds)
	window = max(min(maxWindow, time.Duration(secs)*time.Second-overhead), time.Second)
	if os.Getenv("GOGC") == "" {
		old := debug.SetGCPercent(400) // runtime.gc_percent's default
		t.Cleanup(func() { debug.SetGCPercent(old) })
	}
	return n, secs, window
}

// helper is the test binary run again as the far ends of a benchmark.
type helper struct {
	cmd    *exec.Cmd
	out    *vmOutput
	exited chan error
}

// newHelper prepares the test binary to run test with cfg (JSON) in the
// environment variable env; start it with start.
func newHelper(ctx context.Context, test, env string, cfg any) (*helper, error) {
	raw, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("helper config: %w", err)
	}
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run", "^"+test+"$", "-test.v", "-test.timeout", "3m")
	cmd.Env = append(os.Environ(), env+"="+string(raw))
	h := &helper{cmd: cmd, out: &vmOutput{}, exited: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = h.out, h.out
	cmd.WaitDelay = 5 * time.Second
	return h, nil
}

func (h *helper) start() error {
	if err := h.cmd.Start(); err != nil {
		return fmt.Errorf("start helper: %w", err)
	}
	go func() { h.exited <- h.cmd.Wait() }()
	return nil
}

// cpuProfile profiles this process into SENTRAL_BENCH_CPUPROFILE, if set,
// until the returned function is called (safe to call twice).
func cpuProfile(t *testing.T) (stop func()) {
	t.Helper()
	f := os.Getenv("SENTRAL_BENCH_CPUPROFILE")
	if f == "" {
		return func() {}
	}
	pf, err := os.Create(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := pprof.StartCPUProfile(pf); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			pprof.StopCPUProfile()
			_ = pf.Close()
		})
	}
	t.Cleanup(stop)
	return stop
}

// windowCPU is the CPU this process and the helper used over a window.
type windowCPU struct{ self, peer, wall time.Duration }

// measure sleeps for window and reads both processes' CPU around it.
func measure(window time.Duration, peerPID int) windowCPU {
	s0, p0 := selfCPU(), must(procTicks(peerPID))
	w0 := time.Now()
	time.Sleep(window)
	s1, p1 := selfCPU(), must(procTicks(peerPID))
	return windowCPU{self: s1 - s0, peer: p1 - p0, wall: time.Since(w0)}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// procTicks returns a process's user+system CPU time from /proc.
func procTicks(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]) // after "pid (comm) "
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	const clkTck = 100 // USER_HZ on Linux
	return time.Duration(u+st) * time.Second / clkTck, nil
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rssBytes is this process's resident set.
func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

// udpRcvbufErrors is the kernel's count of UDP datagrams dropped for a full
// socket buffer, all sockets of the machine (like bench/lib.sh's udp_drops).
func udpRcvbufErrors() int64 {
	b, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return 0
	}
	var head []string
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "Udp:" {
			continue
		}
		if head == nil {
			head = f
			continue
		}
		for i, name := range head {
			if name == "RcvbufErrors" && i < len(f) {
				v, _ := strconv.ParseInt(f[i], 10, 64)
				return v
			}
		}
	}
	return 0
}

func heapInuse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// vmOutput collects the helper's output for error messages.
type vmOutput struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *vmOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

func (o *vmOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
