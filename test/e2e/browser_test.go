package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sentralpbx/sentral/test/phone"
)

// The browser tests drive Sentral's softphone page in headless Chromium
// through test/e2e/browser/softphone.mjs (Node, playwright-core; see the
// comment at its top for actions and output). Each softphone.mjs process
// is one browser phone. They need node, npm and /usr/bin/chromium (Debian:
// apt-get install nodejs npm chromium); npm ci installs playwright-core
// into test/e2e/browser/node_modules once per test run. Without them the
// tests skip, loudly, except under CI=true, where they fail.

const browserDir = "browser"

// browserSetup is the once-per-process npm ci.
var browserSetup struct {
	once sync.Once
	err  error
	took time.Duration
}

// chromiumPath is the browser softphone.mjs starts.
func chromiumPath() string {
	if p := os.Getenv("SOFTPHONE_CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

// browserHarness skips (or under CI=true fails) the test unless node, npm
// and Chromium are installed, and installs the harness's node_modules.
// It returns the node binary.
func browserHarness(t *testing.T) string {
	t.Helper()
	missing := func(what string) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s and CI=true: the browser tests must run in CI", what)
		}
		t.Skipf("*** browser test SKIPPED: %s ***", what)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not installed (apt-get install nodejs npm)")
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		missing("npm is not installed (apt-get install npm)")
	}
	if st, err := os.Stat(chromiumPath()); err != nil || st.IsDir() {
		missing(chromiumPath() + " is missing (apt-get install chromium)")
	}
	browserSetup.once.Do(func() {
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error")
		cmd.Dir = browserDir
		out, err := cmd.CombinedOutput()
		if err != nil {
			browserSetup.err = fmt.Errorf("npm ci in test/e2e/browser: %v\n%s", err, lastBytes(string(out), 3000))
		}
		browserSetup.took = time.Since(start)
	})
	if browserSetup.err != nil {
		missing(browserSetup.err.Error())
	}
	return node
}

// softphoneURL is the softphone page of the server, from the console URL
// in its ready line (the page lives at /softphone/ on that listener).
func (s *server) softphoneURL(t *testing.T) string {
	t.Helper()
	for _, line := range strings.Split(s.logText(), "\n") {
		var rec struct {
			Msg     string `json:"msg"`
			Console string `json:"console"`
		}
		if json.Unmarshal([]byte(line), &rec) != nil || rec.Msg != "sentral ready" || rec.Console == "" {
			continue
		}
		u, err := url.Parse(rec.Console)
		if err != nil || u.Host == "" {
			t.Fatalf("console URL %q in the ready line: %v", rec.Console, err)
		}
		u.Path, u.RawQuery, u.Fragment = "/softphone/", "", ""
		return u.String()
	}
	t.Fatalf("no console URL in the ready line (console.listen):\n%s", s.logText())
	return ""
}

// softphoneSpec is one softphone.mjs run.
type softphoneSpec struct {
	name                        string // for messages; default the extension
	url, ext, password, domain  string
	actions                     []string
	timeout                     time.Duration // the script's own deadline; default 90 s
	lang                        string        // en (default) or nb
	screenshot, sipTrace, audio string        // optional files
}

// softphoneResult is softphone.mjs's JSON answer.
type softphoneResult struct {
	OK         bool              `json:"ok"`
	Error      string            `json:"error"`
	Registered bool              `json:"registered"`
	Steps      []json.RawMessage `json:"steps"`
	State      softphoneState    `json:"state"`
	RTP        rtpCounts         `json:"rtp"`
	LastError  *struct {
		What       string `json:"what"`
		Cause      string `json:"cause"`
		StatusCode int    `json:"status_code"`
		Reason     string `json:"reason"`
	} `json:"last_error"`
	History []struct {
		Direction string `json:"direction"`
		Number    string `json:"number"`
		Answered  bool   `json:"answered"`
		Duration  int    `json:"duration"`
	} `json:"history"`
	PageErrors []string `json:"page_errors"`
}

// softphoneState is window.sentralSoftphone.state().
type softphoneState struct {
	User          string `json:"user"`
	Transport     string `json:"transport"`
	Registration  string `json:"registration"`
	Registered    bool   `json:"registered"`
	Call          string `json:"call"`
	DTMF          string `json:"dtmf"`
	DTMFTransport string `json:"dtmf_transport"`
	Status        string `json:"status"`
	LastCall      *struct {
		Direction     string    `json:"direction"`
		Number        string    `json:"number"`
		Answered      bool      `json:"answered"`
		Duration      int       `json:"duration"`
		Cause         string    `json:"cause"`
		Originator    string    `json:"originator"`
		DTMF          string    `json:"dtmf"`
		DTMFTransport string    `json:"dtmf_transport"`
		Stats         rtpCounts `json:"stats"`
	} `json:"last_call"`
}

type rtpCounts struct {
	Inbound  int    `json:"inbound"`
	Outbound int    `json:"outbound"`
	Codec    string `json:"codec"`
}

// step decodes the result of the i-th action.
func (r softphoneResult) step(t *testing.T, i int, v any) {
	t.Helper()
	if i >= len(r.Steps) {
		t.Fatalf("softphone ran %d steps, want step %d", len(r.Steps), i)
	}
	if err := json.Unmarshal(r.Steps[i], v); err != nil {
		t.Fatalf("step %d: %v in %s", i, err, r.Steps[i])
	}
}

// softphoneRun is one running softphone.mjs.
type softphoneRun struct {
	name   string
	args   []string
	stdin  io.WriteCloser
	stdout bytes.Buffer
	mu     sync.Mutex
	stderr bytes.Buffer
	events []map[string]any
	done   chan struct{}
	err    error
}

// startSoftphone starts a browser phone in the background; wait collects
// its result, the test's cleanup kills it if still running.
func startSoftphone(t *testing.T, sp softphoneSpec) *softphoneRun {
	t.Helper()
	if sp.timeout == 0 {
		sp.timeout = 90 * time.Second
	}
	if sp.name == "" {
		sp.name = "softphone " + sp.ext
	}
	args := []string{"softphone.mjs", "--url", sp.url, "--ext", sp.ext, "--password", sp.password, "--domain", sp.domain,
		"--timeout", fmt.Sprint(int(sp.timeout.Seconds())), "--chromium", chromiumPath()}
	if sp.lang != "" {
		args = append(args, "--lang", sp.lang)
	}
	trace := sp.sipTrace
	if trace == "" {
		trace = filepath.Join(t.TempDir(), "sip-trace.txt")
	}
	args = append(args, "--sip-trace", trace)
	if sp.screenshot != "" {
		args = append(args, "--screenshot", sp.screenshot)
	}
	if sp.audio != "" {
		args = append(args, "--audio-file", sp.audio)
	}
	args = append(args, sp.actions...)
	return startNode(t, sp.name, args, sp.timeout, func(r *softphoneRun) string {
		return fmt.Sprintf("stderr:\n%s\nSIP trace:\n%s", lastBytes(r.stderrText(), 3000), lastBytes(readFileString(trace), 6000))
	})
}

// startNode runs a Playwright script (args[0], in browser/) in the
// background: JSON lines on its stderr become events, its stdout the
// result. The test's cleanup stops it if still running and, when the test
// failed, logs the command and what failLog says of the run.
func startNode(t *testing.T, name string, args []string, timeout time.Duration, failLog func(r *softphoneRun) string) *softphoneRun {
	t.Helper()
	node := browserHarness(t)
	r := &softphoneRun{name: name, args: args, done: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.Background(), timeout+30*time.Second)
	cmd := exec.CommandContext(ctx, node, args...)
	// Stopped early, the script closes Chromium and removes its profile.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	cmd.Dir = browserDir
	cmd.Stdout = &r.stdout
	stdin, err := cmd.StdinPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	r.stdin = stdin
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			line := sc.Text()
			r.mu.Lock()
			r.stderr.WriteString(line + "\n")
			var ev map[string]any
			if json.Unmarshal([]byte(line), &ev) == nil && ev["event"] != nil {
				r.events = append(r.events, ev)
			}
			r.mu.Unlock()
		}
	}()
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start %s: %v", r.name, err)
	}
	go func() {
		defer cancel()
		r.err = cmd.Wait()
		pw.Close()
		close(r.done)
	}()
	t.Cleanup(func() {
		r.stdin.Close()
		cancel()
		<-r.done
		if t.Failed() {
			t.Logf("%s: node %s\n%s", r.name, strings.Join(r.args, " "), failLog(r))
		}
	})
	return r
}

func readFileString(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

func (r *softphoneRun) stderrText() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stderr.String()
}

// waitEvent waits for a progress event (registered, incoming, established,
// waiting-stdin, ...) and returns it; it fails if the script ends first.
func (r *softphoneRun) waitEvent(t *testing.T, name string, d time.Duration) map[string]any {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		r.mu.Lock()
		for _, ev := range r.events {
			if ev["event"] == name {
				r.mu.Unlock()
				return ev
			}
		}
		r.mu.Unlock()
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

// release lets a script waiting in wait-stdin go on.
func (r *softphoneRun) release() { r.stdin.Close() }

// wait returns the script's result once it has exited (any exit status:
// the result says what failed).
func (r *softphoneRun) wait(t *testing.T) softphoneResult {
	t.Helper()
	<-r.done
	var res softphoneResult
	out := bytes.TrimSpace(r.stdout.Bytes())
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("%s: no JSON result (%v, exit %v):\n%s\nstderr:\n%s", r.name, err, r.err, out, lastBytes(r.stderrText(), 3000))
	}
	var ee *exec.ExitError
	if r.err != nil && !errors.As(r.err, &ee) {
		t.Fatalf("%s: %v", r.name, r.err)
	}
	if res.OK == (r.err != nil) {
		t.Errorf("%s: ok=%v but exit %v", r.name, res.OK, r.err)
	}
	return res
}

// mustOK fails the test unless every action succeeded.
func (r *softphoneRun) mustOK(t *testing.T) softphoneResult {
	t.Helper()
	res := r.wait(t)
	if !res.OK {
		t.Fatalf("%s failed: %s\nstate %+v\npage errors %q", r.name, res.Error, res.State, res.PageErrors)
	}
	return res
}

// wsRegistration is a row of `sentral sip registrations -o json`.
type wsRegistration struct {
	AOR, Source, Transport string
	UserAgent              string `json:"user_agent"`
}

// startWebPBX starts a server with a udp and a ws SIP listener on
// loopback and tenant webco (web.test) with extensions 3001-3003
// (password e2ePassword, no voicemail), and returns it with the page URL.
func startWebPBX(t *testing.T, env ...string) (*server, string, string) {
	t.Helper()
	browserHarness(t)
	dir := t.TempDir()
	ws := freeAddr(t)
	s := startServerSIP(t, dir, filepath.Join(dir, "pbx.db"), fmt.Sprintf("udp:127.0.0.1:%d,ws:%s", port4(t), ws), env...)
	s.mustCLI("tenant", "add", "webco", "--domain", "web.test", "--ext-range", "3000-3999")
	for _, n := range []string{"3001", "3002", "3003"} {
		s.mustCLI("ext", "add", n, "--tenant", "webco", "--name", "Nett "+n, "--password", e2ePassword, "--voicemail=false")
	}
	s.synced()
	return s, s.softphoneURL(t), ws
}

func (s *server) registrations(t *testing.T, tenant string) []wsRegistration {
	t.Helper()
	var regs []wsRegistration
	if err := json.Unmarshal([]byte(s.mustCLI("sip", "registrations", "--tenant", tenant, "-o", "json")), &regs); err != nil {
		t.Fatalf("sip registrations: %v", err)
	}
	return regs
}

// TestSoftphoneRegisters: the server serves the softphone page (with its
// CSP naming the ws listener, and config.json pointing there); Chromium
// loads it, logs in as 3001 and registers over the WebSocket;
// `sentral sip registrations` shows the ws binding; logging out removes
// it; a wrong password shows as a failed registration with 401, in
// Norwegian on a Norwegian browser.
func TestSoftphoneRegisters(t *testing.T) {
	s, page, ws := startWebPBX(t)

	res, err := http.Get(page)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(res.Header.Get("Content-Security-Policy"), "connect-src 'self' ws://"+ws) {
		t.Fatalf("GET %s: %d, CSP %q (want connect-src to ws://%s)", page, res.StatusCode, res.Header.Get("Content-Security-Policy"), ws)
	}
	res, err = http.Get(page + "config.json")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		WSURL string `json:"ws_url"`
	}
	err = json.NewDecoder(res.Body).Decode(&cfg)
	res.Body.Close()
	if err != nil || cfg.WSURL != "ws://"+ws {
		t.Fatalf("config.json ws_url %q (%v), want ws://%s", cfg.WSURL, err, ws)
	}

	shot := filepath.Join(t.TempDir(), "registered.png")
	sp := startSoftphone(t, softphoneSpec{url: page, ext: "3001", password: e2ePassword, domain: "web.test",
		actions: []string{"register", "wait-stdin", "logout"}, screenshot: shot})
	start := time.Now()
	sp.waitEvent(t, "waiting-stdin", 60*time.Second)
	t.Logf("Chromium started, loaded the page and registered in %s (npm ci took %s)", time.Since(start).Round(time.Millisecond), browserSetup.took.Round(time.Millisecond))

	var regs []wsRegistration
	s.waitFor("the browser's ws binding", func() bool {
		regs = s.registrations(t, "webco")
		return len(regs) == 1
	})
	if r := regs[0]; r.AOR != "3001@web.test" || r.Transport != "ws" || !strings.HasPrefix(r.Source, "127.0.0.1:") ||
		!strings.Contains(r.UserAgent, "Sentral softphone") {
		t.Errorf("registration %+v, want 3001@web.test over ws from 127.0.0.1 by the Sentral softphone", r)
	}

	// Logging out unregisters (closing the tab tries to, but a browser
	// tearing the page down may drop the message: the binding then expires).
	sp.release()
	got := sp.mustOK(t)
	if !got.Registered || got.State.Registration != "idle" || got.State.User != "" || got.LastError != nil {
		t.Errorf("page state after logging out %+v, last error %+v", got.State, got.LastError)
	}
	if n := len(s.registrations(t, "webco")); n != 0 {
		t.Errorf("%d registrations left after logging out", n)
	}
	if len(got.PageErrors) > 0 {
		t.Errorf("page errors: %q", got.PageErrors)
	}
	if st, err := os.Stat(shot); err != nil || st.Size() == 0 {
		t.Errorf("no screenshot: %v", err)
	}

	bad := startSoftphone(t, softphoneSpec{url: page, ext: "3002", password: "Feil-Passord-1", domain: "web.test",
		actions: []string{"register"}, lang: "nb"}).wait(t)
	if bad.OK || bad.Registered || bad.LastError == nil || bad.LastError.StatusCode != 401 || bad.State.Registration != "failed" {
		t.Errorf("wrong password: ok=%v registered=%v state %+v last error %+v", bad.OK, bad.Registered, bad.State, bad.LastError)
	}
	if !strings.Contains(bad.State.Status, "Registrering feilet") {
		t.Errorf("status line in Norwegian %q, want it to say Registrering feilet", bad.State.Status)
	}
	if n := len(s.registrations(t, "webco")); n != 0 {
		t.Errorf("%d registrations after a wrong password", n)
	}
}

// TestSoftphoneCallsSoftphone: two browsers on one server. 3001 calls
// 3002, which answers; audio flows both ways (browser to browser: the
// media is not anchored); 3001 sends DTMF in the RTP stream (RFC 4733),
// holds and resumes, then hangs up. Both pages log the call in their
// history.
func TestSoftphoneCallsSoftphone(t *testing.T) {
	_, page, _ := startWebPBX(t)
	callee := startSoftphone(t, softphoneSpec{url: page, ext: "3002", password: e2ePassword, domain: "web.test",
		actions: []string{"register", "answer:3", "wait-end:30"}})
	callee.waitEvent(t, "registered", 60*time.Second)
	caller := startSoftphone(t, softphoneSpec{url: page, ext: "3001", password: e2ePassword, domain: "web.test",
		actions: []string{"register", "call:3002:3", "dtmf:12#", "hold", "resume", "expect-rtp:100", "hangup"}})
	in := callee.waitEvent(t, "incoming", 60*time.Second)
	if remote, _ := in["remote"].(map[string]any); remote["number"] != "3001" {
		t.Errorf("3002 sees a call from %v, want 3001", in["remote"])
	}

	cr := caller.mustOK(t)
	ce := callee.mustOK(t)
	for _, r := range []softphoneResult{cr, ce} {
		if len(r.PageErrors) > 0 {
			t.Errorf("%s: page errors %q", r.State.User, r.PageErrors)
		}
	}
	var call struct {
		Samples []rtpCounts `json:"samples"`
	}
	cr.step(t, 1, &call)
	if len(call.Samples) != 3 || call.Samples[0].Inbound == 0 || call.Samples[2].Inbound <= call.Samples[0].Inbound ||
		call.Samples[2].Outbound <= call.Samples[0].Outbound {
		t.Errorf("caller's RTP per second %+v: want both counters growing", call.Samples)
	}
	var dtmf struct{ Transport string }
	cr.step(t, 2, &dtmf)
	if dtmf.Transport != "RFC2833" {
		t.Errorf("DTMF went by %q, want RFC2833 (RFC 4733 events)", dtmf.Transport)
	}
	lc := cr.State.LastCall
	if lc == nil || lc.Direction != "out" || lc.Number != "3002" || !lc.Answered || lc.Originator != "local" || lc.DTMF != "12#" ||
		lc.Stats.Inbound < 100 || lc.Stats.Outbound < 100 {
		t.Errorf("caller's last call %+v", lc)
	}
	if lc := ce.State.LastCall; lc == nil || lc.Direction != "in" || lc.Number != "3001" || !lc.Answered || lc.Originator != "remote" ||
		lc.Stats.Inbound < 100 || lc.Stats.Outbound < 100 {
		t.Errorf("callee's last call %+v", lc)
	}
	if len(cr.History) != 1 || cr.History[0].Number != "3002" || cr.History[0].Direction != "out" || !cr.History[0].Answered {
		t.Errorf("caller's history %+v", cr.History)
	}
	if len(ce.History) != 1 || ce.History[0].Number != "3001" || ce.History[0].Direction != "in" || !ce.History[0].Answered {
		t.Errorf("callee's history %+v", ce.History)
	}
}

// The scenarios below need the WebRTC gateway (browser <-> desk phone
// media through Sentral). They are written in full; enable each by
// renaming it to Test... once calls between browsers and phones work.

// deskPhone registers a test/phone (UDP, G.711) as ext on the server.
func deskPhone(ctx context.Context, t *testing.T, s *server, ext string) *phone.Phone {
	t.Helper()
	ph, err := phone.New(ctx, phone.Options{User: ext, Password: e2ePassword, Domain: "web.test", Proxy: s.sipAddr(t, "udp")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ph.Close() })
	if err := ph.Register(ctx, time.Hour); err != nil {
		t.Fatalf("desk phone %s register: %v", ext, err)
	}
	return ph
}

// tone is seconds of a 440 Hz tone at 8 kHz.
func tone(seconds float64) []int16 {
	out := make([]int16, int(seconds*8000))
	for i := range out {
		out[i] = int16(8000 * math.Sin(2*math.Pi*440*float64(i)/8000))
	}
	return out
}

// TestSoftphoneCallsDeskPhone: the browser (3001) calls a desk phone
// (3002), which answers and talks; both sides get RTP for at least 3 s
// (the browser checks every second; the desk phone counts packets).
func TestSoftphoneCallsDeskPhone(t *testing.T) {
	s, page, _ := startWebPBX(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	desk := deskPhone(ctx, t, s, "3002")
	s.waitFor("the desk phone's binding", func() bool { return len(s.registrations(t, "webco")) == 1 })

	sp := startSoftphone(t, softphoneSpec{url: page, ext: "3001", password: e2ePassword, domain: "web.test",
		actions: []string{"scenario:call-desk-phone:3002:5"}})
	var call *phone.Call
	select {
	case call = <-desk.Incoming():
	case <-time.After(45 * time.Second):
		t.Fatalf("the desk phone never rang\n%s", lastBytes(s.logText(), 3000))
	}
	if err := call.Answer(ctx); err != nil {
		t.Fatalf("desk phone answer: %v", err)
	}
	talk, stop := context.WithCancel(ctx)
	defer stop()
	go func() { _ = call.SendAudio(talk, tone(12)) }()
	res := sp.mustOK(t)
	stop()
	sent, received := call.Packets()
	if received < 150 || sent < 150 {
		t.Errorf("desk phone sent %d and received %d RTP packets, want >= 150 each (3 s)", sent, received)
	}
	if res.RTP.Inbound < 150 || res.RTP.Outbound < 150 {
		t.Errorf("browser RTP %+v, want >= 150 each way", res.RTP)
	}
	select {
	case <-call.Done():
	case <-time.After(10 * time.Second):
		t.Error("the desk phone's call did not end when the browser hung up")
	}
}

// TestDeskPhoneCallsSoftphone: a desk phone (3002) calls the browser
// (3001), which answers; both sides get RTP for at least 3 s; the desk
// phone hangs up and the browser sees the call end.
func TestDeskPhoneCallsSoftphone(t *testing.T) {
	s, page, _ := startWebPBX(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	sp := startSoftphone(t, softphoneSpec{url: page, ext: "3001", password: e2ePassword, domain: "web.test",
		actions: []string{"scenario:answer-desk-phone:5"}})
	sp.waitEvent(t, "registered", 60*time.Second)
	desk := deskPhone(ctx, t, s, "3002")

	type placed struct {
		call *phone.Call
		err  error
	}
	ch := make(chan placed, 1)
	go func() {
		c, err := desk.Call(ctx, "3001")
		ch <- placed{c, err}
	}()
	sp.waitEvent(t, "incoming", 30*time.Second)
	var p placed
	select {
	case p = <-ch:
	case <-time.After(30 * time.Second):
		t.Fatal("the browser's answer did not reach the desk phone")
	}
	if p.err != nil {
		t.Fatalf("desk phone call: %v\n%s", p.err, lastBytes(s.logText(), 3000))
	}
	talk, stop := context.WithCancel(ctx)
	defer stop()
	go func() { _ = p.call.SendAudio(talk, tone(12)) }()
	sp.waitEvent(t, "established", 10*time.Second)
	time.Sleep(6 * time.Second) // the browser talks 5 s
	stop()
	sent, received := p.call.Packets()
	if err := p.call.Hangup(ctx); err != nil {
		t.Errorf("desk phone hangup: %v", err)
	}
	res := sp.mustOK(t)
	if received < 150 || sent < 150 {
		t.Errorf("desk phone sent %d and received %d RTP packets, want >= 150 each (3 s)", sent, received)
	}
	if lc := res.State.LastCall; lc == nil || lc.Number != "3002" || lc.Direction != "in" || !lc.Answered || lc.Originator != "remote" {
		t.Errorf("browser's last call %+v, want answered from 3002, ended by it", lc)
	}
}

// TestSoftphoneLeavesVoicemail: the browser (3001) calls 3003, whose
// phone is not registered, so its mailbox answers; the browser speaks
// 12 s (Chromium's fake microphone: the greeting, the tone, then at
// least 5 s of message) and hangs up; the message is stored,
// from 3001.
func TestSoftphoneLeavesVoicemail(t *testing.T) {
	vmDir := t.TempDir()
	s, page, _ := startWebPBX(t, "SENTRAL_MEDIA_VOICEMAIL_DIR="+vmDir)
	s.mustCLI("ext", "update", "3003", "--tenant", "webco", "--voicemail=true")
	s.synced()
	res := startSoftphone(t, softphoneSpec{url: page, ext: "3001", password: e2ePassword, domain: "web.test",
		actions: []string{"scenario:voicemail:3003:12"}, timeout: 90 * time.Second}).mustOK(t)
	if res.RTP.Outbound < 150 || res.RTP.Inbound == 0 {
		t.Errorf("browser RTP %+v: want >= 150 out (the message) and the greeting in", res.RTP)
	}
	var msgs []vmView
	s.waitFor("the message in the store", func() bool {
		out := s.mustCLI("voicemail", "list", "--tenant", "webco", "--mailbox", "3003", "--output", "json")
		msgs = nil
		return json.Unmarshal([]byte(out), &msgs) == nil && len(msgs) == 1
	})
	if msgs[0].CallerNumber != "3001" {
		t.Errorf("message %+v, want it from 3001", msgs[0])
	}
}

// TestSoftphoneCalleeTransfers: 3001 calls 3002; 3002, the callee,
// transfers the caller to 3003 (REFER) and leaves; 3003 answers 3001 and
// hangs up. It needs in-dialog requests towards a browser caller: JsSIP's
// dialog Contact carries ";ob" (RFC 5626), which its REGISTER Contact
// lacks; routing compares the two as RFC 3261 §19.1.4 says.
func TestSoftphoneCalleeTransfers(t *testing.T) {
	_, page, _ := startWebPBX(t)
	target := startSoftphone(t, softphoneSpec{url: page, ext: "3003", password: e2ePassword, domain: "web.test",
		actions: []string{"register", "answer:2", "hangup"}})
	callee := startSoftphone(t, softphoneSpec{url: page, ext: "3002", password: e2ePassword, domain: "web.test",
		actions: []string{"register", "answer:2", "transfer:3003"}})
	target.waitEvent(t, "registered", 60*time.Second)
	callee.waitEvent(t, "registered", 60*time.Second)
	caller := startSoftphone(t, softphoneSpec{url: page, ext: "3001", password: e2ePassword, domain: "web.test",
		actions: []string{"register", "call:3002:1", "wait:12"}})
	ce := callee.mustOK(t)
	if lc := ce.State.LastCall; lc == nil || lc.Number != "3001" || !lc.Answered {
		t.Errorf("3002's last call %+v, want the answered call from 3001", lc)
	}
	tg := target.mustOK(t)
	if lc := tg.State.LastCall; lc == nil || lc.Number != "3001" || !lc.Answered || lc.Stats.Inbound < 50 || lc.Stats.Outbound < 50 {
		t.Errorf("3003's last call %+v, want 3001 put through, with audio", lc)
	}
	cr := caller.mustOK(t)
	var numbers []string
	for _, h := range cr.History {
		numbers = append(numbers, h.Direction+":"+h.Number)
	}
	if strings.Join(numbers, ",") != "out:3003,out:3002" {
		t.Errorf("caller's history %q, want out:3003 (the transfer) after out:3002", numbers)
	}
}

// TestSoftphoneCallsSippPhone: the browser (3001) calls a sipp desk phone
// (3002) that echoes RTP (-rtp_echo). The phone gets a plain RTP offer,
// and the browser hears its own audio back through the gateway for its
// 5 s of talking: media crossed the gateway both ways.
func TestSoftphoneCallsSippPhone(t *testing.T) {
	// sipp 3.6 answers only the first challenge, and only MD5.
	s, page, _ := startWebPBX(t, "SENTRAL_SIP_REGISTRAR_DIGEST_ALGORITHMS=MD5,SHA-256")
	target := s.sipAddr(t, "udp")
	port := port4(t)
	register(t, s, target, "web.test", "3002", "127.0.0.1", port)
	uas := startUAS(t, s, sippSpec{scenario: "../sipp/uas_answer.xml", ip: "127.0.0.1", port: port, target: target,
		extra: []string{"-rtp_echo", "-recv_timeout", "30000"}})
	res := startSoftphone(t, softphoneSpec{url: page, ext: "3001", password: e2ePassword, domain: "web.test",
		actions: []string{"scenario:call-desk-phone:3002:5"}}).mustOK(t)
	uas.wait(t, s)
	in := uas.invite(t)
	if strings.Contains(in.Raw, "SAVPF") || !strings.Contains(in.Raw, "RTP/AVP") || strings.Contains(in.Raw, "a=fingerprint") {
		t.Errorf("the sipp phone got no plain RTP offer:\n%s", in.Raw)
	}
	if res.RTP.Inbound < 150 || res.RTP.Outbound < 150 {
		t.Errorf("browser RTP %+v, want >= 150 packets each way (its own audio echoed by the phone)", res.RTP)
	}
}

// TestSoftphoneOverWSS: with only a wss listener (Sentral's generated
// certificate), the page points the browser at wss, the browser registers
// over it (RFC 7118, a wss binding) and calls a sipp phone that echoes
// RTP, hearing itself back through the gateway.
func TestSoftphoneOverWSS(t *testing.T) {
	browserHarness(t)
	dir := t.TempDir()
	wss := freeAddr(t)
	s := startServerSIP(t, dir, filepath.Join(dir, "pbx.db"), fmt.Sprintf("udp:127.0.0.1:%d,wss:%s", port4(t), wss),
		"SENTRAL_SIP_REGISTRAR_DIGEST_ALGORITHMS=MD5,SHA-256")
	s.mustCLI("tenant", "add", "webco", "--domain", "web.test", "--ext-range", "3000-3999")
	for _, n := range []string{"3001", "3002"} {
		s.mustCLI("ext", "add", n, "--tenant", "webco", "--name", "Nett "+n, "--password", e2ePassword, "--voicemail=false")
	}
	s.synced()
	page := s.softphoneURL(t)
	res, err := http.Get(page + "config.json")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		WSURL string `json:"ws_url"`
	}
	err = json.NewDecoder(res.Body).Decode(&cfg)
	res.Body.Close()
	if err != nil || cfg.WSURL != "wss://"+wss {
		t.Fatalf("config.json ws_url %q (%v), want wss://%s", cfg.WSURL, err, wss)
	}
	target := s.sipAddr(t, "udp")
	port := port4(t)
	register(t, s, target, "web.test", "3002", "127.0.0.1", port)
	uas := startUAS(t, s, sippSpec{scenario: "../sipp/uas_answer.xml", ip: "127.0.0.1", port: port, target: target,
		extra: []string{"-rtp_echo", "-recv_timeout", "30000"}})
	sp := startSoftphone(t, softphoneSpec{url: page, ext: "3001", password: e2ePassword, domain: "web.test",
		actions: []string{"scenario:call-desk-phone:3002:5"}})
	sp.waitEvent(t, "registered", 60*time.Second)
	var regs []wsRegistration
	s.waitFor("the browser's binding", func() bool {
		regs = nil
		for _, r := range s.registrations(t, "webco") {
			if r.AOR == "3001@web.test" {
				regs = append(regs, r)
			}
		}
		return len(regs) == 1
	})
	if regs[0].Transport != "wss" {
		t.Errorf("browser registered over %q, want wss", regs[0].Transport)
	}
	got := sp.mustOK(t)
	uas.wait(t, s)
	if got.RTP.Inbound < 150 || got.RTP.Outbound < 150 {
		t.Errorf("browser RTP over wss signalling %+v, want >= 150 packets each way", got.RTP)
	}
}
