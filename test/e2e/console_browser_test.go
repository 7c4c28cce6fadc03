package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sentralpbx/sentral/test/phone"
)

// The console tests drive the operators' switchboard console (/console/)
// in headless Chromium through test/e2e/browser/console.mjs (see the
// comment at its top), one process per operator, next to test/phone desk
// phones and the real binary. Like the softphone tests they need node, npm
// and /usr/bin/chromium, and skip loudly without them (fail under CI=true).
// They run on SQLite only: the store halves of operators and call records
// are covered elsewhere.
//
// Screenshots of the main screens are kept as artifacts in
// $SENTRAL_E2E_ARTIFACTS/<test>/, or test/e2e/artifacts/<test>/ (git-ignored).

const (
	consoleDomain = "fjordvik.test"
	// operatorPassword is every operator's console password.
	operatorPassword = "Fjord-Utsikt-7431"
)

// consolePBX is a server with tenant fjordvik (switchboard 2000,
// extensions 2001-2005 with password e2ePassword) and the operators
// kari (2001) and per (2003).
type consolePBX struct {
	*server
	page string // the console page's URL
}

func startConsolePBX(t *testing.T) *consolePBX {
	t.Helper()
	browserHarness(t)
	dir := t.TempDir()
	ws := freeAddr(t)
	s := startServerSIP(t, dir, filepath.Join(dir, "pbx.db"), fmt.Sprintf("udp:127.0.0.1:%d,ws:%s", port4(t), ws))
	s.mustCLI("tenant", "add", "fjordvik", "--display-name", "Fjordvik kommune", "--domain", consoleDomain,
		"--ext-range", "2000-2999", "--switchboard", "2000")
	for _, e := range []struct{ n, name string }{
		{"2001", "Kari Nordmann"}, {"2002", "Ola Saksbehandler"}, {"2003", "Per Hansen"}, {"2005", "Innbygger Test"},
	} {
		s.mustCLI("ext", "add", e.n, "--tenant", "fjordvik", "--name", e.name, "--password", e2ePassword, "--voicemail=false")
	}
	for _, o := range []struct{ user, name, ext string }{{"kari", "Kari Nordmann", "2001"}, {"per", "Per Hansen", "2003"}} {
		if _, errs, code := s.cliStdin(operatorPassword+"\n", "operator", "add", o.user, "--tenant", "fjordvik", "--name", o.name,
			"--extension", o.ext, "--password-stdin"); code != 0 {
			t.Fatalf("operator add %s: exit %d\n%s", o.user, code, errs)
		}
	}
	s.synced()
	page := strings.TrimSuffix(s.softphoneURL(t), "/softphone/") + "/console/"
	return &consolePBX{server: s, page: page}
}

// consolePhone registers a test/phone (UDP, G.711) as ext of fjordvik.
func consolePhone(ctx context.Context, t *testing.T, s *server, ext string) *phone.Phone {
	t.Helper()
	ph, err := phone.New(ctx, phone.Options{User: ext, Password: e2ePassword, Domain: consoleDomain, Proxy: s.sipAddr(t, "udp")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ph.Close() })
	if err := ph.Register(ctx, time.Hour); err != nil {
		t.Fatalf("desk phone %s register: %v", ext, err)
	}
	return ph
}

// artifactsDir is where a test's screenshots stay after the run.
func artifactsDir(t *testing.T) string {
	t.Helper()
	base := os.Getenv("SENTRAL_E2E_ARTIFACTS")
	if base == "" {
		base = "artifacts" // test/e2e/artifacts: the tests run in test/e2e
	}
	dir, err := filepath.Abs(filepath.Join(base, t.Name()))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", dir)
	return dir
}

// consoleSpec is one console.mjs run: one operator in its own browser.
type consoleSpec struct {
	url, user, sipPassword, shots string
	actions                       []string
	timeout                       time.Duration // default 60 s
}

// consoleResult is console.mjs's JSON answer.
type consoleResult struct {
	OK    bool   `json:"ok"`
	Error string `json:"error"`
	Steps []struct {
		Action string `json:"action"`
		OK     bool   `json:"ok"`
		MS     int    `json:"ms"`
		Error  string `json:"error"`
	} `json:"steps"`
	State struct {
		Calls []struct {
			ID    string `json:"id"`
			State string `json:"state"`
		} `json:"calls"`
		Queue int    `json:"queue"`
		SIP   string `json:"sip"`
	} `json:"state"`
	Screenshots []string `json:"screenshots"`
	PageErrors  []string `json:"page_errors"`
}

// consoleRun is a running console.mjs (the softphone plumbing: events,
// stdin, the result).
type consoleRun struct{ *softphoneRun }

func startConsole(t *testing.T, cs consoleSpec) consoleRun {
	t.Helper()
	if cs.timeout == 0 {
		cs.timeout = 60 * time.Second
	}
	args := []string{"console.mjs", "--url", cs.url, "--user", cs.user, "--password", operatorPassword,
		"--timeout", fmt.Sprint(int(cs.timeout.Seconds())), "--chromium", chromiumPath()}
	if cs.sipPassword != "" {
		args = append(args, "--sip-password", cs.sipPassword)
	}
	if cs.shots != "" {
		args = append(args, "--screenshot-dir", cs.shots)
	}
	args = append(args, cs.actions...)
	r := startNode(t, "console "+cs.user, args, cs.timeout, func(r *softphoneRun) string {
		return fmt.Sprintf("stdout: %s\nstderr:\n%s", lastBytes(r.stdout.String(), 3000), lastBytes(r.stderrText(), 4000))
	})
	return consoleRun{r}
}

// next releases one wait-stdin.
func (r consoleRun) next(t *testing.T) {
	t.Helper()
	if _, err := io.WriteString(r.stdin, "go\n"); err != nil {
		t.Fatalf("%s: stdin: %v", r.name, err)
	}
}

// step waits for the step event of action and fails unless it succeeded;
// it returns the event (its "t" is when the step ended, ms since epoch).
func (r consoleRun) step(t *testing.T, action string, d time.Duration) map[string]any {
	t.Helper()
	return r.event(t, "step", func(ev map[string]any) bool { return ev["action"] == action }, d, func(ev map[string]any) {
		if ok, _ := ev["ok"].(bool); !ok {
			t.Fatalf("%s: %s failed: %v", r.name, action, ev["error"])
		}
	})
}

// event waits for the first progress event name that match accepts.
func (r consoleRun) event(t *testing.T, name string, match func(map[string]any) bool, d time.Duration, check func(map[string]any)) map[string]any {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		var found map[string]any
		var failed map[string]any
		r.mu.Lock()
		for _, ev := range r.events {
			if ev["event"] == name && (match == nil || match(ev)) {
				found = ev
				break
			}
			if ev["event"] == "step" && ev["ok"] == false && failed == nil {
				failed = ev
			}
		}
		r.mu.Unlock()
		if found != nil {
			if check != nil {
				check(found)
			}
			return found
		}
		if failed != nil {
			t.Fatalf("%s: %v failed while waiting for %s: %v", r.name, failed["action"], name, failed["error"])
		}
		select {
		case <-r.done:
			t.Fatalf("%s ended before %q: %v\n%s\n%s", r.name, name, r.err, r.stdout.String(), lastBytes(r.stderrText(), 3000))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no %q event within %v\n%s", r.name, name, d, lastBytes(r.stderrText(), 3000))
		}
	}
}

// result waits for the script's end and fails unless every action passed.
func (r consoleRun) result(t *testing.T) consoleResult {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(90 * time.Second):
		t.Fatalf("%s did not end", r.name)
	}
	var res consoleResult
	out := bytes.TrimSpace(r.stdout.Bytes())
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("%s: no JSON result (%v, exit %v):\n%s\nstderr:\n%s", r.name, err, r.err, out, lastBytes(r.stderrText(), 3000))
	}
	var ee *exec.ExitError
	if r.err != nil && !errors.As(r.err, &ee) {
		t.Fatalf("%s: %v", r.name, r.err)
	}
	if !res.OK {
		t.Fatalf("%s failed: %s\nstate %+v\npage errors %q", r.name, res.Error, res.State, res.PageErrors)
	}
	if len(res.PageErrors) > 0 {
		t.Errorf("%s: page errors %q", r.name, res.PageErrors)
	}
	return res
}

// checkDay: once the operator is available the page must not show the
// night service ("no operator") any more.
func (r consoleRun) checkDay(t *testing.T) {
	t.Helper()
	ev := r.event(t, "available", nil, 30*time.Second, nil)
	if b, _ := ev["night_banner"].(string); b != "" {
		t.Errorf("%s: available, yet the page still shows the night service: %q (no night event reached it; see media/queue checkNight)", r.name, b)
	}
}

func evTime(ev map[string]any) time.Time {
	ms, _ := ev["t"].(float64)
	return time.UnixMilli(int64(ms))
}

// toneAt is seconds of a hz tone at 8 kHz.
func toneAt(hz, seconds float64) []int16 {
	out := make([]int16, int(seconds*8000))
	for i := range out {
		out[i] = int16(8000 * math.Sin(2*math.Pi*hz*float64(i)/8000))
	}
	return out
}

// power is the Goertzel power of hz in samples (8 kHz), normalised.
func power(samples []int16, hz float64) float64 {
	if len(samples) == 0 {
		return 0
	}
	coeff := 2 * math.Cos(2*math.Pi*hz/8000)
	var s1, s2 float64
	for _, x := range samples {
		s := float64(x) + coeff*s1 - s2
		s2, s1 = s1, s
	}
	return (s1*s1 + s2*s2 - coeff*s1*s2) / float64(len(samples)*len(samples))
}

// answerAll answers every call ringing on ph (a desk phone that picks
// up by itself) and sends a tone in it until ctx ends.
func answerAll(ctx context.Context, t *testing.T, ph *phone.Phone, hz float64, calls chan<- *phone.Call) {
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case c := <-ph.Incoming():
				if err := c.Answer(ctx); err != nil {
					if ctx.Err() == nil {
						t.Errorf("%s: answer: %v", ph.AOR(), err)
					}
					continue
				}
				go func() { _ = c.SendAudio(ctx, toneAt(hz, 60)) }()
				if calls != nil {
					select {
					case calls <- c:
					default:
					}
				}
			}
		}
	}()
}

// TestConsoleAttendedTransfer: 2005 calls the switchboard (2000); kari,
// logged in and available in the console, answering in the browser,
// sees the call queued with a ticking wait time, answers it (the page's
// softphone picks up the console's call), consults 2002 (a desk phone
// that answers), and connects: 2005 and 2002 then talk to each other (RTP
// both ways, each hearing the other's tone). 2005 hangs up; every call
// record is closed and answered.
func TestConsoleAttendedTransfer(t *testing.T) {
	s := startConsolePBX(t)
	shots := artifactsDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 80*time.Second)
	defer cancel()
	caller := consolePhone(ctx, t, s.server, "2005")
	target := consolePhone(ctx, t, s.server, "2002")
	targetCalls := make(chan *phone.Call, 1)
	answerAll(ctx, t, target, 1000, targetCalls)

	start := time.Now()
	op := startConsole(t, consoleSpec{url: s.page, user: "kari", sipPassword: e2ePassword, shots: shots, actions: []string{
		"screenshot:01-login", "login", "available", "browser-phone",
		"wait-queue:2005", "wait-ticks:2005", "screenshot:02-queue",
		"answer:2005", "browser-answer", "wait-call:talking",
		"consult:2002", "wait-consult:talking", "wait-call:consulting", "screenshot:03-consulting",
		"connect", "wait-no-call", "board:2002:in-call", "screenshot:04-board",
		"wait-stdin", "board:2002:idle",
	}})
	op.step(t, "browser-phone", 45*time.Second)
	t.Logf("console logged in, available, browser registered after %s", time.Since(start).Round(time.Millisecond))
	op.checkDay(t)

	type placed struct {
		call *phone.Call
		err  error
	}
	ch := make(chan placed, 1)
	called := time.Now()
	go func() {
		c, err := caller.Call(ctx, "2000")
		ch <- placed{c, err}
	}()
	var in placed
	select {
	case in = <-ch:
	case <-time.After(15 * time.Second):
		t.Fatalf("the switchboard did not answer 2005\n%s", lastBytes(s.logText(), 3000))
	}
	if in.err != nil {
		t.Fatalf("2005 calls 2000: %v\n%s", in.err, lastBytes(s.logText(), 3000))
	}
	call := in.call
	go func() { _ = call.SendAudio(ctx, toneAt(440, 60)) }()

	op.step(t, "wait-queue:2005", 20*time.Second)
	op.step(t, "wait-ticks:2005", 10*time.Second)
	ans := op.event(t, "answered", nil, 30*time.Second, nil)
	if h, _ := ans["header"].(bool); !h {
		t.Errorf("the operator's browser rang as for an outside call: the INVITE to 2001 had no X-Sentral-Console header (answered with #sip-answer instead)")
	}
	op.step(t, "wait-call:talking", 20*time.Second)
	op.step(t, "wait-consult:talking", 30*time.Second)
	var tc *phone.Call
	select {
	case tc = <-targetCalls:
	case <-time.After(5 * time.Second):
		t.Fatal("2002 was never rung for the consultation")
	}
	if from := tc.Invite().From(); from == nil || from.Address.User != "2001" && from.Address.User != "2005" {
		t.Logf("the consultation call to 2002 is from %v", from)
	}
	connected := op.step(t, "connect", 10*time.Second)
	op.step(t, "wait-no-call", 15*time.Second)
	t.Logf("answered, consulted and connected %s after the call", evTime(connected).Sub(called).Round(time.Millisecond))

	// Caller and target talk: count over 3 s (150 packets at 20 ms), after
	// the bridge settled; 100 leaves room for a loaded machine.
	time.Sleep(500 * time.Millisecond)
	cs0, cr0 := call.Packets()
	ts0, tr0 := tc.Packets()
	crecv0, trecv0 := len(call.Received()), len(tc.Received())
	time.Sleep(3 * time.Second)
	cs1, cr1 := call.Packets()
	ts1, tr1 := tc.Packets()
	t.Logf("in 3 s after connect: 2005 sent %d received %d; 2002 sent %d received %d", cs1-cs0, cr1-cr0, ts1-ts0, tr1-tr0)
	for _, c := range []struct {
		who  string
		n    int
		what string
	}{{"2005", cs1 - cs0, "sent"}, {"2005", cr1 - cr0, "received"}, {"2002", ts1 - ts0, "sent"}, {"2002", tr1 - tr0, "received"}} {
		if c.n < 100 {
			t.Errorf("%s %s %d RTP packets in 3 s after connect, want >= 100", c.who, c.what, c.n)
		}
	}
	// Each hears the other: 2005 sends 440 Hz, 2002 sends 1000 Hz.
	heard := call.Received()[crecv0:]
	heard2 := tc.Received()[trecv0:]
	if p440, p1k := power(heard, 440), power(heard, 1000); p1k <= 10*p440 {
		t.Errorf("2005 does not hear 2002's 1000 Hz tone after connect (power 1000 Hz %.3g, 440 Hz %.3g)", p1k, p440)
	}
	if p440, p1k := power(heard2, 440), power(heard2, 1000); p440 <= 10*p1k {
		t.Errorf("2002 does not hear 2005's 440 Hz tone after connect (power 440 Hz %.3g, 1000 Hz %.3g)", p440, p1k)
	}

	op.step(t, "board:2002:in-call", 10*time.Second)
	op.event(t, "waiting-stdin", nil, 10*time.Second, nil)
	if err := call.Hangup(ctx); err != nil {
		t.Errorf("2005 hangup: %v", err)
	}
	select {
	case <-tc.Done():
	case <-time.After(10 * time.Second):
		t.Error("2002's call did not end when 2005 hung up")
	}
	op.next(t)
	op.step(t, "board:2002:idle", 15*time.Second)
	res := op.result(t)
	if len(res.Screenshots) != 4 {
		t.Errorf("screenshots %q, want 4", res.Screenshots)
	}

	// Call records: every one closed; 2005's call to the switchboard and
	// the legs the switchboard placed (to the operator 2001, to 2002)
	// answered, with consistent times.
	recs := s.closedCDRs(t, func(rs []cdrFull) bool {
		n := 0
		for _, r := range rs {
			if r.Caller == "2005" && r.Dialled == "2000" {
				n++
			}
		}
		return n == 1 && len(rs) >= 3
	})
	for _, r := range recs {
		t.Logf("cdr %+v", r)
	}
	checkCDRs(t, recs, start)
	var sb, opLeg, tgLeg int
	for _, r := range recs {
		switch {
		case r.Caller == "2005" && r.Dialled == "2000":
			sb++
			if r.Disposition != "answered" || r.Direction != "internal" {
				t.Errorf("2005's call to the switchboard: %+v, want internal, answered", r)
			}
			if r.Duration < 3 {
				t.Errorf("2005's call to the switchboard lasted %d s, want the whole call (queue, operator, 2002)", r.Duration)
			}
		case r.Callee == "2001":
			opLeg++
		case r.Callee == "2002":
			tgLeg++
		}
	}
	if sb != 1 || opLeg != 1 || tgLeg != 1 {
		t.Errorf("records: %d of 2005 to 2000, %d to the operator 2001, %d to 2002; want one each", sb, opLeg, tgLeg)
	}
}

// cdrFull is a row of `sentral cdr list -o json` with its times.
type cdrFull struct {
	ID          int64      `json:"id"`
	CallID      string     `json:"call_id"`
	State       string     `json:"state"`
	Direction   string     `json:"direction"`
	Caller      string     `json:"caller"`
	Callee      string     `json:"callee"`
	Dialled     string     `json:"dialled"`
	StartTime   time.Time  `json:"start_time"`
	AnswerTime  *time.Time `json:"answer_time"`
	EndTime     *time.Time `json:"end_time"`
	Duration    int        `json:"duration_seconds"`
	Billable    int        `json:"billable_seconds"`
	Disposition string     `json:"disposition"`
	SIPCode     int        `json:"sip_code"`
	Reason      string     `json:"reason"`
}

// closedCDRs waits until fjordvik's records are all closed and ok holds.
func (s *consolePBX) closedCDRs(t *testing.T, ok func([]cdrFull) bool) []cdrFull {
	t.Helper()
	var got []cdrFull
	from := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	s.waitFor("closed call records", func() bool {
		got = nil
		if err := json.Unmarshal([]byte(s.mustCLI("cdr", "list", "--tenant", "fjordvik", "--from", from, "-o", "json")), &got); err != nil {
			t.Fatalf("cdr list: %v", err)
		}
		for _, r := range got {
			if r.State != "closed" {
				return false
			}
		}
		return ok(got)
	})
	return got
}

// checkCDRs checks what holds for every record of these tests: closed,
// started after the test began, answered ones with start <= answer <=
// end, a 200, and a duration that matches the times.
func checkCDRs(t *testing.T, recs []cdrFull, since time.Time) {
	t.Helper()
	for _, r := range recs {
		if r.CallID == "" || r.EndTime == nil || r.StartTime.Before(since.Add(-2*time.Second)) || r.EndTime.Before(r.StartTime) {
			t.Errorf("record %d: %+v: want a call id, start after the test began, end after start", r.ID, r)
			continue
		}
		if r.Disposition != "answered" {
			t.Errorf("record %d (%s -> %s): disposition %q, want answered", r.ID, r.Caller, r.Callee, r.Disposition)
			continue
		}
		if r.AnswerTime == nil || r.AnswerTime.Before(r.StartTime) || r.EndTime.Before(*r.AnswerTime) || r.SIPCode != 200 {
			t.Errorf("record %d: answered but times/code %+v", r.ID, r)
			continue
		}
		if d := r.EndTime.Sub(*r.AnswerTime).Seconds(); math.Abs(d-float64(r.Duration)) > 1.5 {
			t.Errorf("record %d: duration %d s, but answered to end is %.1f s", r.ID, r.Duration, d)
		}
	}
}

// TestConsoleTwoOperators: kari and per, each in their own browser, both
// available and answering on their desk phones (which pick up by
// themselves), see 2005's call queued; kari answers it; it leaves per's
// queue within a few seconds (the event stream) while kari's call
// appears, ringing her desk phone 2001 and then talking. Per's phone
// never rings.
func TestConsoleTwoOperators(t *testing.T) {
	s := startConsolePBX(t)
	shots := artifactsDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	caller := consolePhone(ctx, t, s.server, "2005")
	kariDesk := consolePhone(ctx, t, s.server, "2001")
	perDesk := consolePhone(ctx, t, s.server, "2003")
	kariCalls := make(chan *phone.Call, 1)
	answerAll(ctx, t, kariDesk, 1000, kariCalls)

	kari := startConsole(t, consoleSpec{url: s.page, user: "kari", shots: shots, actions: []string{
		"login", "available", "wait-queue:2005", "wait-stdin",
		"answer:2005", "wait-call:talking", "screenshot:kari-talking", "wait-stdin", "hangup", "wait-no-call",
	}})
	per := startConsole(t, consoleSpec{url: s.page, user: "per", shots: shots, actions: []string{
		"login", "available", "wait-queue:2005", "screenshot:per-queue", "wait-queue-gone:2005:10", "screenshot:per-after", "wait-stdin",
	}})
	kari.step(t, "available", 45*time.Second)
	per.step(t, "available", 45*time.Second)

	ch := make(chan error, 1)
	var call *phone.Call
	go func() {
		c, err := caller.Call(ctx, "2000")
		call = c
		ch <- err
	}()
	select {
	case err := <-ch:
		if err != nil {
			t.Fatalf("2005 calls 2000: %v\n%s", err, lastBytes(s.logText(), 3000))
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the switchboard did not answer 2005")
	}
	defer call.Hangup(context.Background())
	qk := kari.event(t, "queue-row", nil, 15*time.Second, nil)
	qp := per.event(t, "queue-row", nil, 15*time.Second, nil)
	if qk["id"] != qp["id"] || qk["id"] == nil {
		t.Errorf("kari sees call %v, per sees %v: want the same queued call", qk["id"], qp["id"])
	}

	kari.next(t)
	pressed := kari.event(t, "answer-pressed", nil, 10*time.Second, nil)
	gone := per.step(t, "wait-queue-gone:2005:10", 15*time.Second)
	lag := evTime(gone).Sub(evTime(pressed))
	t.Logf("the row left per's queue %s after kari pressed Answer", lag.Round(time.Millisecond))
	if lag > 3*time.Second {
		t.Errorf("the answered call stayed in per's queue for %s, want < 3 s", lag)
	}
	talking := kari.step(t, "wait-call:talking", 20*time.Second)
	t.Logf("kari talking %s after pressing Answer", evTime(talking).Sub(evTime(pressed)).Round(time.Millisecond))
	var kc *phone.Call
	select {
	case kc = <-kariCalls:
	case <-time.After(5 * time.Second):
		t.Fatal("kari's desk phone 2001 never rang")
	}
	if h := kc.Invite().GetHeader("X-Sentral-Console"); h == nil || h.Value() != qk["id"] {
		t.Errorf("the INVITE to kari's desk phone has X-Sentral-Console %v, want the call id %v", h, qk["id"])
	}
	select {
	case c := <-perDesk.Incoming():
		t.Errorf("per's desk phone 2003 rang (%v)", c.Invite().From())
	default:
	}
	kari.step(t, "screenshot:kari-talking", 10*time.Second)
	per.step(t, "screenshot:per-after", 10*time.Second)
	per.next(t)
	pr := per.result(t)
	if len(pr.State.Calls) != 0 || pr.State.Queue != 0 {
		t.Errorf("per's page at the end: calls %+v, queue %d; want none", pr.State.Calls, pr.State.Queue)
	}

	kari.next(t)
	kari.result(t)
	select {
	case <-kc.Done():
	case <-time.After(10 * time.Second):
		t.Error("kari's desk phone call did not end when she hung up in the console")
	}
	select {
	case <-call.Done():
	case <-time.After(10 * time.Second):
		t.Error("2005's call did not end when kari hung up in the console")
	}
}

// TestConsoleBoardPresence: the board row of 2002 is idle, turns ringing
// while 2005's desk phone call to it rings, in-call when answered, and
// idle again when it ends.
func TestConsoleBoardPresence(t *testing.T) {
	s := startConsolePBX(t)
	shots := artifactsDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a := consolePhone(ctx, t, s.server, "2005")
	b := consolePhone(ctx, t, s.server, "2002")

	op := startConsole(t, consoleSpec{url: s.page, user: "kari", shots: shots, actions: []string{
		// (board:2002:idle:20 at first: a step is found by its action.)
		"login", "board:2002:idle:20", "board:2005:idle", "wait-stdin",
		"board:2002:ringing", "wait-stdin",
		"board:2002:in-call", "board:2005:in-call", "screenshot:board-in-call", "wait-stdin",
		"board:2002:idle", "board:2005:idle", "screenshot:board-idle",
	}})
	op.step(t, "board:2005:idle", 45*time.Second)

	type placed struct {
		call *phone.Call
		err  error
	}
	ch := make(chan placed, 1)
	go func() {
		c, err := a.Call(ctx, "2002")
		ch <- placed{c, err}
	}()
	var in *phone.Call
	select {
	case in = <-b.Incoming():
	case <-time.After(10 * time.Second):
		t.Fatal("2002 never rang")
	}
	op.next(t)
	op.step(t, "board:2002:ringing", 10*time.Second)
	if err := in.Answer(ctx); err != nil {
		t.Fatalf("2002 answers: %v", err)
	}
	p := <-ch
	if p.err != nil {
		t.Fatalf("2005 calls 2002: %v", p.err)
	}
	answered := time.Now()
	op.next(t)
	inCall := op.step(t, "board:2002:in-call", 10*time.Second)
	t.Logf("board shows 2002 in a call %s after the answer", evTime(inCall).Sub(answered).Round(time.Millisecond))
	op.step(t, "board:2005:in-call", 10*time.Second)
	op.event(t, "waiting-stdin", func(ev map[string]any) bool { return evTime(ev).After(evTime(inCall)) }, 10*time.Second, nil)
	hungUp := time.Now()
	if err := p.call.Hangup(ctx); err != nil {
		t.Errorf("2005 hangs up: %v", err)
	}
	op.next(t)
	idle := op.step(t, "board:2002:idle", 10*time.Second)
	t.Logf("board shows 2002 idle %s after the hangup", evTime(idle).Sub(hungUp).Round(time.Millisecond))
	op.result(t)
}
