package bench

// Voicemail deposits through the real media server: SIP and RTP on
// loopback, the voicemail application with its built-in prompts, a SQLite
// store and message files on disk. The phones run in a second process (this
// test binary again), so the server's CPU time is measured apart from
// theirs. Each phone hears the whole greeting and beep, and starts talking
// vmSpeakAfter after the server's recorder started: the server tells the
// phones so over the helper's stdin, because a phone process short of CPU
// on a busy machine can take a gap in its own reading for the end of the
// beep and talk before the recorder listens. Both tests skip unless asked
// for, so `go test ./...` stays fast:
//
//	SENTRAL_BENCH=1 go test -count=1 -run '^TestVoicemailDeposits$' -v -timeout 5m ./bench/
//
// SENTRAL_BENCH_CALLS (200) and SENTRAL_BENCH_SECONDS (20) change the
// load; SENTRAL_BENCH_CPUPROFILE=FILE writes the server's CPU profile over
// the measured window.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/media/codec"
	"github.com/sentralpbx/sentral/media/mediaserver"
	mst "github.com/sentralpbx/sentral/media/mediaserver/mediaservertest"
	"github.com/sentralpbx/sentral/media/prompts"
	"github.com/sentralpbx/sentral/media/rtp"
	"github.com/sentralpbx/sentral/media/voicemail"
	"github.com/sentralpbx/sentral/media/wav"
	"github.com/sentralpbx/sentral/store"
	"github.com/sentralpbx/sentral/store/sqlite"
)

const (
	// vmPhonesEnv carries the phones' configuration to the helper process.
	vmPhonesEnv = "SENTRAL_BENCH_VOICEMAIL_PHONES"
	// vmFirstMailbox is the first mailbox number; the rest follow.
	vmFirstMailbox = 100
	// vmRamp spreads the calls' INVITEs.
	vmRamp = 2 * time.Second
	// vmSettle passes between the last recording starting and the window.
	vmSettle = time.Second
	// vmMaxWindow is the measured window when the audio is long enough.
	vmMaxWindow = 12 * time.Second
	// vmSpeakAfter is how long after the recorder starts a phone talks.
	vmSpeakAfter = 100 * time.Millisecond
)

var vmLoopback = netip.MustParseAddr("127.0.0.1")

// vmPhonesConfig tells the helper process what to call.
type vmPhonesConfig struct {
	Addr    string // the media server's SIP address
	Tenant  int64
	Calls   int
	Seconds int    // audio per call
	Report  string // JSON file the helper writes its vmPhoneResults to
}

// vmPhoneResult is one phone's view of its call.
type vmPhoneResult struct {
	Mailbox string
	CallID  string
	// Greeting is the samples received before speaking, of Want, the
	// greeting's length. RxLost, RxOverflow and RxRejected are the phone
	// endpoint's counts by then: sequence gaps, packets dropped because
	// the phone was behind reading them, packets refused.
	Greeting, Want         int
	RxLost                 int64
	RxOverflow, RxRejected uint64
	Sent                   int // audio packets sent
	ServerBye              bool
	Err                    string
}

// vmSignal is mailbox index i's message: a tone of its own frequency, loud
// in every 20 ms frame, so no silence is trimmed and a file holding
// another call's audio is caught.
func vmSignal(i, seconds int) []int16 {
	pcm := make([]int16, seconds*codec.ClockRate)
	hz := 300 + 7*float64(i)
	for k := range pcm {
		pcm[k] = int16(6000 * math.Sin(2*math.Pi*hz*float64(k)/codec.ClockRate))
	}
	return pcm
}

func vmMailbox(i int) string { return strconv.Itoa(vmFirstMailbox + i) }

// vmRecordings follows the recordings the server runs.
type vmRecordings struct {
	n   int
	mu  sync.Mutex
	cue io.Writer // the phones' stdin: Call-IDs of started recordings
	cur int
	all chan struct{} // closed when n recordings run at once
	res map[string]vmRecorded
}

type vmRecorded struct {
	res voicemail.Result
	err error
}

func (r *vmRecordings) started(callID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, _ = io.WriteString(r.cue, callID+"\n")
	r.cur++
	if r.cur == r.n {
		close(r.all)
	}
}

func (r *vmRecordings) finished(callID string, res voicemail.Result, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cur--
	r.res[callID] = vmRecorded{res, err}
}

func (r *vmRecordings) active() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cur
}

// vmDepositCall is the server's Session with its recordings counted: the
// benchmark's only addition to the production path.
type vmDepositCall struct {
	*mediaserver.Session
	rec *vmRecordings
}

func (c vmDepositCall) Record(ctx context.Context, w io.WriteSeeker, opts voicemail.RecordOptions) (voicemail.Result, error) {
	c.rec.started(c.CallID())
	res, err := c.Session.Record(ctx, w, opts)
	c.rec.finished(c.CallID(), res, err)
	return res, err
}

// TestVoicemailDeposits runs SENTRAL_BENCH_CALLS simultaneous voicemail
// deposits (200) of SENTRAL_BENCH_SECONDS of audio (20) against one media
// server and prints the server's CPU per stream and heap per call over the
// window where every call is recording, with the phones' CPU apart; then
// it checks that every message was stored whole.
func TestVoicemailDeposits(t *testing.T) {
	n, seconds, window := benchLoad(t, "about 35 s", 200, 20, vmMaxWindow, vmRamp+vmSettle+5*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "sentral.db"), sqlite.Options{Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tn := store.Tenant{Name: "bench", Domain: "bench.example.net", Ranges: []store.NumberRange{{
		Kind: store.RangeExtension, First: vmMailbox(0), Last: vmMailbox(max(n, 200) - 1)}}}
	if err := st.Tenants().Create(ctx, &tn); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		e := store.Extension{TenantID: tn.ID, Number: vmMailbox(i), Enabled: true, Voicemail: true}
		if err := st.Extensions().Create(ctx, &e); err != nil {
			t.Fatal(err)
		}
	}
	vmDir := filepath.Join(dir, "voicemail")
	app, err := voicemail.NewApp(voicemail.AppConfig{Dir: vmDir, Messages: st.Voicemail(),
		Mailboxes: voicemail.ExtensionMailboxes{Extensions: st.Extensions()}})
	if err != nil {
		t.Fatal(err)
	}
	// cue is the phones' stdin, set before they start.
	rec := &vmRecordings{n: n, all: make(chan struct{}), res: map[string]vmRecorded{}}
	apps := mediaserver.VoicemailApps(app)
	apps[mediaserver.AppDeposit] = mediaserver.AppFunc(func(ctx context.Context, s *mediaserver.Session) {
		app.Deposit(ctx, vmDepositCall{s, rec})
	})
	ports, err := rtp.NewPorts(vmLoopback, 42000, 42999)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := mediaserver.New(mediaserver.Config{Listen: "127.0.0.1:0", Ports4: ports, Apps: apps,
		MaxCalls: n + 16})
	if err != nil {
		t.Fatal(err)
	}
	srvCtx, stopSrv := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- srv.Run(srvCtx) }()
	defer func() {
		stopSrv()
		select {
		case err := <-served:
			if err != nil {
				t.Error(err)
			}
		case <-time.After(15 * time.Second):
			t.Error("media server did not stop")
		}
	}()

	// The prompts decode once per process; do it before the baseline.
	for _, name := range prompts.Names() {
		prompts.Samples(prompts.Default, name)
	}
	heap0, rss0, gor0 := heapInuse(), rssBytes(), runtime.NumGoroutine()
	udp0 := udpRcvbufErrors()

	report := filepath.Join(dir, "phones.json")
	h, err := newHelper(ctx, "TestVoicemailPhones", vmPhonesEnv,
		vmPhonesConfig{Addr: srv.Addr(), Tenant: tn.ID, Calls: n, Seconds: seconds, Report: report})
	if err != nil {
		t.Fatal(err)
	}
	if rec.cue, err = h.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := h.start(); err != nil {
		t.Fatal(err)
	}
	exited, out := h.exited, h.out

	// The window: every call recording, after the last one settled.
	select {
	case <-rec.all:
	case err := <-exited:
		t.Fatalf("phones exited before all %d calls recorded (%v); %d recording:\n%s", n, err, rec.active(), out.String())
	case <-time.After(vmRamp + 60*time.Second):
		t.Fatalf("only %d of %d calls recording at once:\n%s", rec.active(), n, out.String())
	}
	time.Sleep(vmSettle)
	stopProfile := cpuProfile(t)
	cpu := measure(window, h.cmd.Process.Pid)
	wall := cpu.wall
	steady := rec.active()
	heap1, rss1, gor1 := heapInuse(), rssBytes(), runtime.NumGoroutine()
	stopProfile()
	if steady != n {
		t.Errorf("%d of %d calls still recording at the end of the window: not steady", steady, n)
	}

	if err := <-exited; err != nil {
		t.Fatalf("phones: %v\n%s", err, out.String())
	}
	var phones []vmPhoneResult
	if b, err := os.ReadFile(report); err != nil {
		t.Fatalf("phones' report: %v\n%s", err, out.String())
	} else if err := json.Unmarshal(b, &phones); err != nil {
		t.Fatal(err)
	}

	// Every message stored whole: one row per mailbox, its file holding
	// exactly the samples sent, byte for byte.
	wantSamples := seconds * codec.ClockRate
	var rows, byKey, lost, missing, badWAV, serverBye, phoneErrs, short int
	var rxLost int64
	var rxOverflow uint64
	for i, ph := range phones {
		short += max(0, ph.Want-ph.Greeting) / 160
		rxLost += ph.RxLost
		rxOverflow += ph.RxOverflow + ph.RxRejected
		if ph.Err != "" {
			phoneErrs++
			t.Errorf("phone %s: %s", ph.Mailbox, ph.Err)
		}
		if ph.ServerBye {
			serverBye++
		}
		r, ok := rec.res[ph.CallID]
		switch {
		case !ok:
			t.Errorf("mailbox %s: no recording for call %q", ph.Mailbox, ph.CallID)
			lost += ph.Sent
			continue
		case r.err != nil:
			t.Errorf("mailbox %s: record: %v", ph.Mailbox, r.err)
		}
		if r.res.Reason == voicemail.ReasonKey {
			byKey++
		}
		lost += ph.Sent - r.res.Packets
		missing += r.res.Missing
		msgs, err := st.Voicemail().List(ctx, tn.ID, ph.Mailbox, "")
		if err != nil {
			t.Fatal(err)
		}
		rows += len(msgs)
		if len(msgs) != 1 || msgs[0].CallID != ph.CallID {
			t.Errorf("mailbox %s: %d rows %+v", ph.Mailbox, len(msgs), msgs)
			badWAV++
			continue
		}
		f, err := os.Open(filepath.Join(vmDir, filepath.FromSlash(msgs[0].Path)))
		if err != nil {
			t.Fatal(err)
		}
		info, data, err := wav.ReadData(f)
		_ = f.Close()
		want := codec.PCMU.Encode(vmSignal(i, seconds), nil)
		if err != nil || info.Format != wav.ULaw || !bytes.Equal(data, want) {
			badWAV++
			t.Errorf("mailbox %s: file %s: %v, %v, %d samples of %d sent, equal %v (result %+v)",
				ph.Mailbox, msgs[0].Path, err, info.Format, len(data), wantSamples, bytes.Equal(data, want), r.res)
		}
	}
	if len(phones) != n || rows != n || byKey != n || lost != 0 || missing != 0 || badWAV != 0 {
		t.Errorf("%d phones, %d rows, %d ended by '#', %d packets lost, %d frames missing, %d files wrong",
			len(phones), rows, byKey, lost, missing, badWAV)
	}

	const kb = 1024
	perStream := func(d time.Duration) float64 { return 100 * d.Seconds() / wall.Seconds() / float64(n) }
	line := fmt.Sprintf("voicemail-deposit calls=%d audio=%ds window=%.1fs server-cpu=%.3f%%core/stream "+
		"phones-cpu=%.3f%%core/stream heap=%.1fKB/call rss=%.1fKB/call goroutines=%.1f/call "+
		"rows=%d by-key=%d lost-pkts=%d missing-frames=%d bad-files=%d server-bye=%d phone-errors=%d "+
		"greeting-unheard-frames=%d greeting-rx-lost=%d greeting-rx-dropped=%d udp-rcvbuf-errors=%d",
		n, seconds, wall.Seconds(), perStream(cpu.self), perStream(cpu.peer),
		float64(int64(heap1)-int64(heap0))/kb/float64(n), float64(rss1-rss0)/kb/float64(n),
		float64(gor1-gor0)/float64(n), rows, byKey, lost, missing, badWAV, serverBye, phoneErrs,
		short, rxLost, rxOverflow, udpRcvbufErrors()-udp0)
	fmt.Println(line)
}

// TestVoicemailPhones is TestVoicemailDeposits' phones, in their own
// process; it runs only when that test starts it.
func TestVoicemailPhones(t *testing.T) {
	raw := os.Getenv(vmPhonesEnv)
	if raw == "" {
		t.Skip("helper process of TestVoicemailDeposits")
	}
	var cfg vmPhonesConfig
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	ports, err := rtp.NewPorts(vmLoopback, 40000, 40999)
	if err != nil {
		t.Fatal(err)
	}
	cues := &vmCues{ch: map[string]chan struct{}{}}
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			close(cues.get(sc.Text()))
		}
	}()
	results := make([]vmPhoneResult, cfg.Calls)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range cfg.Calls {
		wg.Go(func() {
			time.Sleep(time.Until(start.Add(vmRamp * time.Duration(i) / time.Duration(cfg.Calls))))
			results[i] = vmPhone(ctx, cfg, ports, cues, i)
		})
	}
	wg.Wait()
	b, err := json.Marshal(results)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg.Report, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// vmGreeting is how many samples the deposit application plays before
// recording a mailbox without a recorded greeting: the spoken default,
// vm-leave-message and the beep, each padded to whole frames.
func vmGreeting(mailbox string) int {
	frames := func(names ...string) int {
		n := 0
		for _, name := range names {
			s, _ := prompts.Samples(prompts.Default, name)
			n += len(s)
		}
		return (n + 159) / 160 * 160
	}
	spoken := append(append([]string{"vm-extension"}, prompts.Digits(mailbox)...), "vm-is-unavailable")
	return frames(spoken...) + frames("vm-leave-message") + frames("beep")
}

// vmCues are the server's word that a call's recorder has started.
type vmCues struct {
	mu sync.Mutex
	ch map[string]chan struct{} // by Call-ID; closed at the cue
}

func (c *vmCues) get(callID string) chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch, ok := c.ch[callID]
	if !ok {
		ch = make(chan struct{})
		c.ch[callID] = ch
	}
	return ch
}

// vmPhone calls mailbox index i, listens to the greeting and the beep,
// speaks once the recorder is on, presses '#' and waits for the server to
// hang up.
func vmPhone(ctx context.Context, cfg vmPhonesConfig, ports *rtp.Ports, cues *vmCues, i int) (r vmPhoneResult) {
	r.Mailbox = vmMailbox(i)
	fail := func(format string, args ...any) vmPhoneResult {
		r.Err = fmt.Sprintf(format, args...)
		return r
	}
	p, err := mst.NewPhone(ports, nil)
	if err != nil {
		return fail("%v", err)
	}
	defer p.Close()
	c, err := p.Dial(ctx, mst.URI(cfg.Addr, "deposit", "tenant", mst.Itoa(cfg.Tenant), "mailbox", r.Mailbox),
		mst.DialOptions{FromUser: "4722" + r.Mailbox, Codecs: []string{"PCMU"}})
	if err != nil {
		return fail("dial: %v", err)
	}
	r.CallID = c.Dialog.InviteRequest.CallID().Value()
	select {
	case <-cues.get(r.CallID):
	case <-c.Ended():
		return fail("server hung up before recording (%d samples heard)", len(c.Received()))
	case <-ctx.Done():
		return fail("no recording: %v (%d samples heard)", ctx.Err(), len(c.Received()))
	}
	time.Sleep(vmSpeakAfter)
	r.Greeting, r.Want = len(c.Received()), vmGreeting(r.Mailbox)
	st := c.EP.Stats()
	r.RxLost, r.RxOverflow, r.RxRejected = st.Lost, st.Overflow, st.Rejected
	pcm := vmSignal(i, cfg.Seconds)
	if err := c.SendAudio(ctx, pcm); err != nil {
		return fail("audio: %v", err)
	}
	r.Sent = len(pcm) / 160
	if err := c.SendKey('#'); err != nil {
		return fail("key: %v", err)
	}
	select {
	case <-c.Ended():
		r.ServerBye = true
	case <-time.After(15 * time.Second):
		if err := c.Hangup(ctx); err != nil {
			return fail("no BYE from the server; hang up: %v", err)
		}
	}
	return r
}
