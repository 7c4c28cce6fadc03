package voicemail_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/sentralpbx/sentral/media/codec"
	"github.com/sentralpbx/sentral/media/mediaserver"
	mst "github.com/sentralpbx/sentral/media/mediaserver/mediaservertest"
	"github.com/sentralpbx/sentral/media/rtp"
	"github.com/sentralpbx/sentral/media/voicemail"
	"github.com/sentralpbx/sentral/media/wav"
	"github.com/sentralpbx/sentral/store"
	"github.com/sentralpbx/sentral/store/sqlite"
)

const tenant = 1

var loopback = netip.MustParseAddr("127.0.0.1")

// fakePrompts makes every prompt 40 ms of silence except the beep, a loud
// tone the phone can find; it logs what was asked for, to follow the menus.
type fakePrompts struct {
	mu    sync.Mutex
	log   []string
	langs map[string]bool
}

func (p *fakePrompts) Samples(lang, name string) ([]int16, bool) {
	p.mu.Lock()
	p.log = append(p.log, name)
	p.langs[lang] = true
	p.mu.Unlock()
	if name == "beep" {
		return tone(200*time.Millisecond, 1000, 8000), true
	}
	return make([]int16, 320), true
}

func (p *fakePrompts) Number(lang string, n int) []string { return []string{"num-" + strconv.Itoa(n)} }

func (p *fakePrompts) Digits(s string) []string {
	var out []string
	for _, r := range s {
		if r >= '0' && r <= '9' {
			out = append(out, "num-"+string(r))
		}
	}
	return out
}

// played returns the prompts asked for so far.
func (p *fakePrompts) played() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.log...)
}

// waitPrompt waits until prompt name is asked for after the first from.
func (p *fakePrompts) waitPrompt(t *testing.T, ctx context.Context, name string, from int) int {
	t.Helper()
	for {
		log := p.played()
		for i := from; i < len(log); i++ {
			if log[i] == name {
				return i + 1
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("prompt %s never played; played %v", name, log[from:])
		case <-time.After(5 * time.Millisecond):
		}
	}
}

type fakeMailboxes struct {
	mu    sync.Mutex
	boxes map[string]voicemail.Mailbox
	pins  map[string]string
}

func (m *fakeMailboxes) Mailbox(_ context.Context, tenantID int64, number string) (voicemail.Mailbox, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mb, ok := m.boxes[fmt.Sprint(tenantID, "/", number)]
	if !ok {
		return voicemail.Mailbox{}, voicemail.ErrNoMailbox
	}
	return mb, nil
}

func (m *fakeMailboxes) SetPIN(_ context.Context, tenantID int64, number, hash string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := fmt.Sprint(tenantID, "/", number)
	mb := m.boxes[key]
	mb.PINHash = hash
	m.boxes[key] = mb
	m.pins[key] = hash
	return nil
}

type change struct {
	tenant  int64
	mailbox string
}

type env struct {
	srv     *mediaserver.Server
	phone   *mst.Phone
	st      store.VoicemailStore
	dir     string
	prompts *fakePrompts
	boxes   *fakeMailboxes
	mu      sync.Mutex
	changes []change
}

func (e *env) changed() []change {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]change(nil), e.changes...)
}

var nextRange atomic.Int32

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlite.Open(t.Context(), filepath.Join(dir, "sentral.db"), sqlite.Options{Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	pin, err := voicemail.HashPIN("2468")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{
		st: st.Voicemail(), dir: filepath.Join(dir, "voicemail"),
		prompts: &fakePrompts{langs: map[string]bool{}},
		boxes: &fakeMailboxes{pins: map[string]string{}, boxes: map[string]voicemail.Mailbox{
			"1/2001": {Enabled: true, PINHash: pin},
			"1/2002": {Enabled: false, PINHash: pin},
		}},
	}
	log := zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel))
	app, err := voicemail.NewApp(voicemail.AppConfig{
		Dir: e.dir, Messages: e.st, Mailboxes: e.boxes, Prompts: e.prompts, Log: log,
		DigitTimeout: 3 * time.Second, Silence: 3 * time.Second,
		OnChange: func(tenantID int64, mailbox string) {
			e.mu.Lock()
			e.changes = append(e.changes, change{tenantID, mailbox})
			e.mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	base := 46000 + 40*int(nextRange.Add(1))
	sp, err := rtp.NewPorts(loopback, base, base+19)
	if err != nil {
		t.Fatal(err)
	}
	pp, err := rtp.NewPorts(loopback, base+20, base+39)
	if err != nil {
		t.Fatal(err)
	}
	e.srv, err = mediaserver.New(mediaserver.Config{Ports4: sp, Log: log, Apps: mediaserver.VoicemailApps(app)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.srv.Run(ctx) }()
	e.phone, err = mst.NewPhone(pp, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		e.phone.Close()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Error(err)
			}
		case <-time.After(15 * time.Second):
			t.Error("media server did not stop")
		}
	})
	return e
}

func testCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func tone(d time.Duration, hz, amp float64) []int16 {
	s := make([]int16, int(d.Seconds()*8000))
	for i := range s {
		s[i] = int16(amp * math.Sin(2*math.Pi*hz*float64(i)/8000))
	}
	return s
}

// chirp sweeps 300-3000 Hz: its autocorrelation has one sharp peak, so
// the alignment found by correlation is unambiguous.
func chirp(d time.Duration) []int16 {
	n := int(d.Seconds() * 8000)
	s := make([]int16, n)
	f0, f1, T := 300.0, 3000.0, d.Seconds()
	for i := range s {
		tt := float64(i) / 8000
		s[i] = int16(6000 * math.Sin(2*math.Pi*(f0*tt+(f1-f0)*tt*tt/(2*T))))
	}
	return s
}

// roundTrip is what a PCMU call does to samples.
func roundTrip(s []int16) []int16 {
	return codec.PCMU.Decode(codec.PCMU.Encode(s, nil), nil)
}

// correlate finds the lag of b within a (a[i+lag] ~ b[i]) in [lo, hi]
// with the best normalised correlation over the overlap.
func correlate(a, b []int16, lo, hi int) (best float64, at int) {
	best = -2
	for lag := lo; lag <= hi; lag++ {
		var ab, aa, bb float64
		for i := range b {
			j := i + lag
			if j < 0 || j >= len(a) {
				continue
			}
			x, y := float64(a[j]), float64(b[i])
			ab += x * y
			aa += x * x
			bb += y * y
		}
		if aa == 0 || bb == 0 {
			continue
		}
		if c := ab / math.Sqrt(aa*bb); c > best {
			best, at = c, lag
		}
	}
	return best, at
}

// loudAt returns the first sample index from `from` that starts a loud
// 20 ms frame, or -1.
func loudAt(pcm []int16, from int) int {
	for i := from; i+160 <= len(pcm); i += 160 {
		var sum int
		for _, x := range pcm[i : i+160] {
			sum += abs(int(x))
		}
		if sum/160 > 1000 {
			return i
		}
	}
	return -1
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// waitLoudThenQuiet waits for loud audio at or after sample from, then for
// the stream to pause; it returns where the loud part began.
func waitLoudThenQuiet(t *testing.T, ctx context.Context, c *mst.Call, from int) int {
	t.Helper()
	for {
		if i := loudAt(c.Received(), from); i >= 0 {
			if err := c.WaitQuiet(ctx, 150*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			return i
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no loud audio after sample %d (%d received)", from, len(c.Received()))
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func keys(t *testing.T, c *mst.Call, s string) {
	t.Helper()
	for _, k := range s {
		if err := c.SendKey(k); err != nil {
			t.Fatalf("key %c: %v", k, err)
		}
	}
}

func waitEnded(t *testing.T, c *mst.Call) {
	t.Helper()
	select {
	case <-c.Ended():
	case <-time.After(10 * time.Second):
		t.Fatal("server did not hang up")
	}
	c.Close()
}

var msgPath = regexp.MustCompile(`^1/2001/msg-[0-9]+-[0-9a-f]{8}\.wav$`)

func readWAV(t *testing.T, name string) []int16 {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, pcm, err := wav.Read(f)
	if err != nil {
		t.Fatal(err)
	}
	if info.Format != wav.ULaw || info.Unfinished {
		t.Errorf("file %s: %+v", name, info)
	}
	return pcm
}

// deposit leaves the signal in mailbox 2001 and returns the stored row.
func deposit(t *testing.T, ctx context.Context, e *env, signal []int16) store.VoicemailMessage {
	t.Helper()
	pai := sip.NewHeader("P-Asserted-Identity", `"Ola Nordmann" <sip:22334455@pbx.example>`)
	c, err := e.phone.Dial(ctx, mst.URI(e.srv.Addr(), "deposit", "tenant", "1", "mailbox", "2001", "greeting", "busy", "lang", "en"),
		mst.DialOptions{FromUser: "22334455", Headers: []sip.Header{pai}})
	if err != nil {
		t.Fatal(err)
	}
	waitLoudThenQuiet(t, ctx, c, 0) // the beep
	if err := c.SendAudio(ctx, signal); err != nil {
		t.Fatal(err)
	}
	keys(t, c, "#")
	waitEnded(t, c)
	played := e.prompts.played()
	want := []string{"vm-extension", "num-2", "num-0", "num-0", "num-1", "vm-is-busy", "vm-leave-message", "beep", "vm-message-saved"}
	if fmt.Sprint(played) != fmt.Sprint(want) {
		t.Errorf("prompts %v, want %v", played, want)
	}
	if !e.prompts.langs["en"] || len(e.prompts.langs) != 1 {
		t.Errorf("languages %v, want en", e.prompts.langs)
	}
	msgs, err := e.st.List(ctx, tenant, "2001", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 {
		t.Fatalf("%d messages stored", len(msgs))
	}
	m := msgs[0]
	if m.CallerNumber != "22334455" || m.CallerName != "Ola Nordmann" || m.Folder != store.VoicemailNew ||
		m.CallID != c.Dialog.InviteRequest.CallID().Value() || !msgPath.MatchString(m.Path) {
		t.Errorf("stored %+v", m)
	}
	if d := m.DurationMillis; d < 2800 || d > 3050 {
		t.Errorf("duration %d ms, want about 3000", d)
	}
	name := filepath.Join(e.dir, filepath.FromSlash(m.Path))
	st, err := os.Stat(name)
	if err != nil || st.Size() != m.SizeBytes {
		t.Errorf("file %v size %v, row says %d", err, st, m.SizeBytes)
	}
	got := readWAV(t, name)
	ref := roundTrip(signal)
	corr, lag := correlate(got, ref, -800, 800)
	t.Logf("deposit: %d samples stored of %d sent; correlation %.4f at lag %d", len(got), len(ref), corr, lag)
	if corr < 0.99 || len(got) < len(ref)-800 || len(got) > len(ref) {
		t.Errorf("stored audio does not match what was sent: correlation %.4f at lag %d, %d samples of %d",
			corr, lag, len(got), len(ref))
	}
	if ch := e.changed(); len(ch) != 1 || ch[0] != (change{1, "2001"}) {
		t.Errorf("OnChange calls %v", ch)
	}
	return m
}

func TestDepositThenRetrieveAndDelete(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t, 60*time.Second)
	signal := chirp(3 * time.Second)
	m := deposit(t, ctx, e, signal)

	// The owner calls from elsewhere: mailbox and PIN by DTMF, a wrong PIN
	// first.
	c, err := e.phone.Dial(ctx, mst.URI(e.srv.Addr(), "retrieve", "tenant", "1"), mst.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	from := len(e.prompts.played())
	keys(t, c, "2001#1111#")
	from = e.prompts.waitPrompt(t, ctx, "vm-login-incorrect", from)
	keys(t, c, "2001#2468#")
	from = e.prompts.waitPrompt(t, ctx, "vm-main-menu", from)
	mark := len(c.Received())
	keys(t, c, "1")
	start := waitLoudThenQuiet(t, ctx, c, mark)
	rx := c.Received()
	corr, lag := correlate(rx, roundTrip(signal), start-800, start+800)
	t.Logf("retrieve: message heard at sample %d; correlation %.4f at lag %d", start, corr, lag)
	if corr < 0.95 {
		t.Errorf("played message does not match the deposit: correlation %.4f", corr)
	}
	played := e.prompts.played()[from:]
	if want := []string{"vm-message", "num-1", "vm-from", "num-2", "num-2", "num-3", "num-3"}; fmt.Sprint(played[:len(want)]) != fmt.Sprint(want) {
		t.Errorf("message header %v", played)
	}
	keys(t, c, "7")
	deadline := time.Now().Add(5 * time.Second)
	for {
		msgs, err := e.st.List(ctx, tenant, "2001", "")
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("message not deleted: %+v", msgs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := os.Stat(filepath.Join(e.dir, filepath.FromSlash(m.Path))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("message file still there: %v", err)
	}
	from = e.prompts.waitPrompt(t, ctx, "vm-deleted", from)
	from = e.prompts.waitPrompt(t, ctx, "vm-no-more-messages", from)
	e.prompts.waitPrompt(t, ctx, "vm-main-menu", from)
	keys(t, c, "*")
	waitEnded(t, c)
	if ch := e.changed(); len(ch) != 2 || ch[1] != (change{1, "2001"}) {
		t.Errorf("OnChange calls %v", ch)
	}
}

func TestOptionsGreetingAndPIN(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t, 60*time.Second)
	// From the owner's phone no PIN is asked (AskPIN is off).
	c, err := e.phone.Dial(ctx, mst.URI(e.srv.Addr(), "retrieve", "tenant", "1", "mailbox", "2001"), mst.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	from := e.prompts.waitPrompt(t, ctx, "vm-main-menu", 0)
	if p := e.prompts.played(); p[0] != "vm-no-messages" {
		t.Errorf("summary %v", p)
	}
	// 0 options, 5 new PIN: a run is refused, then 2580 is taken.
	keys(t, c, "05")
	from = e.prompts.waitPrompt(t, ctx, "vm-new-pin", from)
	keys(t, c, "1234#")
	from = e.prompts.waitPrompt(t, ctx, "vm-pin-invalid", from)
	keys(t, c, "2580#")
	from = e.prompts.waitPrompt(t, ctx, "vm-pin-changed", from)
	e.boxes.mu.Lock()
	hash := e.boxes.pins["1/2001"]
	e.boxes.mu.Unlock()
	if !voicemail.VerifyPIN(hash, "2580") {
		t.Errorf("stored PIN hash %q does not verify 2580", hash)
	}
	// 4 temporary greeting, 1 record it.
	e.prompts.waitPrompt(t, ctx, "vm-options-menu", from)
	mark := len(c.Received())
	keys(t, c, "41")
	waitLoudThenQuiet(t, ctx, c, mark)
	greeting := tone(1500*time.Millisecond, 440, 7000)
	if err := c.SendAudio(ctx, greeting); err != nil {
		t.Fatal(err)
	}
	keys(t, c, "#")
	from = e.prompts.waitPrompt(t, ctx, "vm-greeting-saved", from)
	from = e.prompts.waitPrompt(t, ctx, "vm-options-menu", from)
	keys(t, c, "*")
	e.prompts.waitPrompt(t, ctx, "vm-main-menu", from)
	keys(t, c, "*")
	waitEnded(t, c)
	file := filepath.Join(e.dir, "1", "2001", "greeting-temporary.wav")
	got := readWAV(t, file)
	if corr, _ := correlate(got, roundTrip(greeting), -800, 800); corr < 0.99 {
		t.Errorf("greeting correlation %.4f", corr)
	}
	if len(e.changed()) != 2 {
		t.Errorf("OnChange calls %v, want PIN and greeting", e.changed())
	}

	// A caller now hears the temporary greeting, skips it with #, speaks
	// and hangs up without #: the message is kept.
	before := len(e.prompts.played())
	d, err := e.phone.Dial(ctx, mst.URI(e.srv.Addr(), "deposit", "tenant", "1", "mailbox", "2001"), mst.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for loudAt(d.Received(), 0) < 0 {
		select {
		case <-ctx.Done():
			t.Fatal("greeting not heard")
		case <-time.After(10 * time.Millisecond):
		}
	}
	keys(t, d, "#")
	e.prompts.waitPrompt(t, ctx, "beep", before)
	if err := d.WaitQuiet(ctx, 150*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := d.SendAudio(ctx, chirp(1500*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if err := d.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	if p := e.prompts.played()[before:]; len(p) != 1 || p[0] != "beep" {
		t.Errorf("after the greeting was skipped: %v, want only the beep", p)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		msgs, err := e.st.List(ctx, tenant, "2001", store.VoicemailNew)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) == 1 {
			if ms := msgs[0].DurationMillis; ms < 1300 || ms > 1550 {
				t.Errorf("message of %d ms kept, want about 1500", ms)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("message left by hang-up not stored: %+v", msgs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestDepositRefusals(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t, 30*time.Second)
	for _, tc := range []struct{ name, tenant, mailbox string }{
		{"voicemail off", "1", "2002"},
		{"unknown mailbox", "1", "2999"},
		{"path in mailbox", "1", "..%2F..%2Fetc"},
		{"bad tenant", "x", "2001"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(e.prompts.played())
			c, err := e.phone.Dial(ctx, mst.URI(e.srv.Addr(), "deposit", "tenant", tc.tenant, "mailbox", tc.mailbox), mst.DialOptions{})
			if err != nil {
				t.Fatal(err)
			}
			waitEnded(t, c)
			if p := e.prompts.played()[before:]; fmt.Sprint(p) != "[vm-person-unavailable vm-goodbye]" {
				t.Errorf("prompts %v", p)
			}
		})
	}
	entries, _ := os.ReadDir(e.dir)
	if len(entries) != 0 {
		t.Errorf("files written for refused deposits: %v", entries)
	}
}

func TestRetrieveLockout(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t, 30*time.Second)
	c, err := e.phone.Dial(ctx, mst.URI(e.srv.Addr(), "retrieve", "tenant", "1"), mst.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// An unknown mailbox and a disabled one fail like a wrong PIN.
	keys(t, c, "2999#2468#2002#2468#2001#0000#")
	waitEnded(t, c)
	p := e.prompts.played()
	n := 0
	for _, name := range p {
		if name == "vm-login-incorrect" {
			n++
		}
		if name == "vm-main-menu" {
			t.Fatalf("logged in: %v", p)
		}
	}
	if n != 3 || p[len(p)-1] != "vm-goodbye" {
		t.Errorf("prompts %v", p)
	}
}

func TestAnnounce(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t, 30*time.Second)
	c, err := e.phone.Dial(ctx, mst.URI(e.srv.Addr(), "announce", "prompt", "feature-on,vm-goodbye", "lang", "nb"), mst.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitEnded(t, c)
	if p := e.prompts.played(); fmt.Sprint(p) != "[feature-on vm-goodbye]" || !e.prompts.langs["nb"] {
		t.Errorf("prompts %v in %v", p, e.prompts.langs)
	}
}
