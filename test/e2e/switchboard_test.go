package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sentralpbx/sentral/test/phone"
)

// The switchboard tests drive the operators' console API
// (docs/console-api.md) over HTTP as the page does, with test/phone
// desk phones for the operators' extensions and the transfer targets
// (registered from 127.0.0.1) and a test/phone on 127.0.0.2 as the
// operator's network (a peer trunk, recognised by that source address)
// calling the switchboard number. Not the trunk tests' layout (phones on
// ::1): the media server offers RTP in the family of the proxy's first
// UDP listener (127.0.0.1), which a desk phone on ::1 cannot reach. The queue, the
// calls to the operators and the bridges are the media server's
// (media/queue); RTP is checked by packet counts and by tones: each
// party sends its own frequency, so who hears whom is measured, not
// assumed.

const (
	sbTenant   = "fjordvik"
	sbDomain   = "fjordvik.test"
	sbNumber   = "+4755550000" // the switchboard's public number
	sbCaller   = "+4791234567" // the outside caller
	sbPassword = "Blaabaer-Vakt-7391x"
	// sbTrunkIP is the operator's network: the trunk's peer address.
	sbTrunkIP = "127.0.0.2"
)

// Each party's tone, Hz: far from each other and from the 440 Hz of
// tone() and the hold music's chords.
const (
	hzCaller = 697.0
	hzKari   = 1209.0
	hzTarget = 1633.0
)

// sbPBX is a server with tenant fjordvik: DIDs 55550000-55550999, the
// switchboard on 55550000, extensions 2001-2004 and a peer trunk from
// 127.0.0.1 (where the caller phone sends from).
type sbPBX struct {
	*pbx
	console string // http://host:port of the console listener
}

func startSwitchboard(t *testing.T, dsn string, env ...string) *sbPBX {
	t.Helper()
	p := startPBXOn(t, dsn, env...)
	p.mustCLI("tenant", "add", sbTenant, "--domain", sbDomain, "--ext-range", "2000-2999",
		"--did-range", "55550000-55550999", "--outside-prefix", "0", "--switchboard", "55550000")
	for _, e := range []struct{ n, name string }{{"2001", "Kari Nordmann"}, {"2002", "Ola Hansen"}, {"2003", "Per Olsen"}, {"2004", "Lise Berg"}} {
		p.mustCLI("ext", "add", e.n, "--tenant", sbTenant, "--name", e.name, "--password", e2ePassword)
	}
	p.mustCLI("trunk", "add", "telco", "--tenant", sbTenant, "--mode", "peer", "--host", sbTrunkIP,
		"--port", "5060", "--transport", "udp", "--peer", sbTrunkIP, "--route", "+47")
	u, err := url.Parse(p.softphoneURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if dir := os.Getenv("SENTRAL_E2E_LOGDIR"); dir != "" {
			_ = os.WriteFile(filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_")+".log"), []byte(p.logText()), 0o644)
		}
	})
	return &sbPBX{pbx: p, console: "http://" + u.Host}
}

// addOperator runs `sentral operator add` with the password on stdin.
func (p *sbPBX) addOperator(t *testing.T, user, name, ext string) {
	t.Helper()
	cmd := exec.Command(binary, "--db", p.dsn, "operator", "add", user, "--tenant", sbTenant, "--name", name,
		"--extension", ext, "--password-stdin")
	cmd.Dir, cmd.Env = p.dir, cleanEnv()
	cmd.Stdin = strings.NewReader(sbPassword + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("operator add %s: %v\n%s", user, err, out)
	}
}

// deskPhone registers a test/phone for ext from 127.0.0.1.
func (p *sbPBX) deskPhone(ctx context.Context, t *testing.T, ext string) *phone.Phone {
	t.Helper()
	ph, err := phone.New(ctx, phone.Options{User: ext, Password: e2ePassword, Domain: sbDomain, Proxy: p.v4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ph.Close() })
	if err := ph.Register(ctx, time.Hour); err != nil {
		t.Fatalf("%s register: %v", ext, err)
	}
	return ph
}

// callerPhone is the outside caller, arriving over the peer trunk (its
// source 127.0.0.2 is the trunk's peer address).
func (p *sbPBX) callerPhone(ctx context.Context, t *testing.T) *phone.Phone {
	t.Helper()
	ph, err := phone.New(ctx, phone.Options{User: sbCaller, Domain: p.v4, Proxy: p.v4, Listen: sbTrunkIP + ":0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ph.Close() })
	return ph
}

// placeCall calls number in the background (the switchboard answers at
// once; a night target may take a while).
func placeCall(ctx context.Context, ph *phone.Phone, number string) <-chan placedCall {
	ch := make(chan placedCall, 1)
	go func() {
		c, err := ph.Call(ctx, number)
		ch <- placedCall{c, err}
	}()
	return ch
}

type placedCall struct {
	call *phone.Call
	err  error
}

func waitPlaced(t *testing.T, p *sbPBX, ch <-chan placedCall, what string) *phone.Call {
	t.Helper()
	select {
	case pc := <-ch:
		if pc.err != nil {
			t.Fatalf("%s: %v\n%s", what, pc.err, lastBytes(p.logText(), 4000))
		}
		return pc.call
	case <-time.After(15 * time.Second):
		t.Fatalf("%s: not answered within 15 s\n%s", what, lastBytes(p.logText(), 4000))
	}
	return nil
}

// ringing waits for an incoming call on ph.
func ringing(t *testing.T, p *sbPBX, ph *phone.Phone, who string, d time.Duration) *phone.Call {
	t.Helper()
	select {
	case c := <-ph.Incoming():
		return c
	case <-time.After(d):
		t.Fatalf("%s never rang within %s\n%s", who, d, lastBytes(p.logText(), 4000))
	}
	return nil
}

// talk sends f Hz from c until ctx ends (a call ending ends it too).
func talk(ctx context.Context, c *phone.Call, f float64) {
	go func() {
		buf := make([]int16, 8000) // 1 s per SendAudio keeps the timestamps running on
		for i := range buf {
			buf[i] = int16(7000 * math.Sin(2*math.Pi*f*float64(i)/8000))
		}
		for ctx.Err() == nil {
			if err := c.SendAudio(ctx, buf); err != nil {
				select {
				case <-c.Done():
					return
				case <-ctx.Done():
					return
				case <-time.After(100 * time.Millisecond): // e.g. held: try again
				}
			}
		}
	}()
}

// hears reports whether the last d of c's received audio holds f Hz.
func hears(c *phone.Call, f float64, d time.Duration) bool {
	rx := c.Received()
	n := int(d.Seconds() * 8000)
	if len(rx) > n {
		rx = rx[len(rx)-n:]
	}
	return hasTone(rx, f)
}

// rtpGrows measures for d how many packets a and b receive, failing
// below min each, and returns the counts.
func rtpGrows(t *testing.T, what string, d time.Duration, min int, calls map[string]*phone.Call) map[string]int {
	t.Helper()
	before := map[string]int{}
	for n, c := range calls {
		_, before[n] = c.Packets()
	}
	time.Sleep(d)
	got := map[string]int{}
	for n, c := range calls {
		_, rx := c.Packets()
		got[n] = rx - before[n]
		if got[n] < min {
			t.Errorf("%s: %s received %d RTP packets in %s, want >= %d", what, n, got[n], d, min)
		}
	}
	return got
}

// consoleClient is one operator's browser: a cookie jar, the CSRF token.
type consoleClient struct {
	t    *testing.T
	base string
	hc   *http.Client
	csrf string
	user string
}

type sbState struct {
	// SwitchboardHome: in a cluster, the node holding the queues.
	SwitchboardHome *struct {
		Node string `json:"node"`
		URL  string `json:"url"`
		Here bool   `json:"here"`
	} `json:"switchboard_home"`
	Queue []struct {
		ID         string    `json:"id"`
		Caller     string    `json:"caller"`
		CallerName string    `json:"caller_name"`
		Dialled    string    `json:"dialled"`
		Since      time.Time `json:"since"`
		Position   int       `json:"position"`
	} `json:"queue"`
	Calls []struct {
		ID      string    `json:"id"`
		Caller  string    `json:"caller"`
		State   string    `json:"state"`
		Since   time.Time `json:"since"`
		Consult *struct {
			Target string `json:"target"`
			Name   string `json:"name"`
			State  string `json:"state"`
		} `json:"consult"`
	} `json:"calls"`
	Parked []struct {
		Slot int    `json:"slot"`
		ID   string `json:"id"`
	} `json:"parked"`
	Board []struct {
		Number string `json:"number"`
		Name   string `json:"name"`
		State  string `json:"state"`
	} `json:"board"`
	Recent []struct {
		ID       string `json:"id"`
		Caller   string `json:"caller"`
		Dialled  string `json:"dialled"`
		Outcome  string `json:"outcome"`
		Operator string `json:"operator"`
		To       string `json:"to"`
	} `json:"recent"`
	Operators []struct {
		Username  string `json:"username"`
		Available bool   `json:"available"`
		Busy      bool   `json:"busy"`
	} `json:"operators"`
	Night struct {
		Active bool   `json:"active"`
		Reason string `json:"reason"`
		Target string `json:"target"`
	} `json:"night"`
	Me struct {
		Available bool `json:"available"`
	} `json:"me"`
}

func (s sbState) boardState(number string) string {
	for _, e := range s.Board {
		if e.Number == number {
			return e.State
		}
	}
	return "(not on the board)"
}

func (p *sbPBX) login(t *testing.T, user string) *consoleClient {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &consoleClient{t: t, base: p.console, hc: &http.Client{Jar: jar, Timeout: 10 * time.Second}, user: user}
	b, _ := json.Marshal(map[string]string{"username": user, "password": sbPassword})
	res, err := c.hc.Post(c.base+"/console/api/login", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	var out struct {
		User struct {
			Username, Tenant, Extension string
		} `json:"user"`
		CSRF string `json:"csrf"`
	}
	if res.StatusCode != http.StatusOK || json.Unmarshal(body, &out) != nil || out.CSRF == "" {
		t.Fatalf("login %s: %d %s", user, res.StatusCode, body)
	}
	if out.User.Username != user {
		t.Errorf("login %s: user %+v", user, out.User)
	}
	c.csrf = out.CSRF
	return c
}

func (c *consoleClient) post(path string, v any) (int, string) {
	c.t.Helper()
	var b []byte
	if v != nil {
		b, _ = json.Marshal(v)
	}
	req, _ := http.NewRequest(http.MethodPost, c.base+"/console/api/"+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", c.csrf)
	res, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("POST %s: %v", path, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

func (c *consoleClient) mustPost(path string, v any) {
	c.t.Helper()
	if code, body := c.post(path, v); code != http.StatusNoContent && code != http.StatusOK {
		c.t.Fatalf("%s: POST %s: %d %s", c.user, path, code, body)
	}
}

func (c *consoleClient) state() sbState {
	c.t.Helper()
	res, err := c.hc.Get(c.base + "/console/api/state")
	if err != nil {
		c.t.Fatalf("GET state: %v", err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	var st sbState
	if res.StatusCode != http.StatusOK || json.Unmarshal(body, &st) != nil {
		c.t.Fatalf("%s: GET state: %d %s", c.user, res.StatusCode, body)
	}
	return st
}

// waitState polls /state until cond holds (10 s), returning the state
// and how long it took.
func (c *consoleClient) waitState(p *sbPBX, what string, cond func(sbState) bool) (sbState, time.Duration) {
	c.t.Helper()
	start := time.Now()
	var st sbState
	for time.Since(start) < 10*time.Second {
		if st = c.state(); cond(st) {
			return st, time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	js, _ := json.MarshalIndent(st, "", " ")
	c.t.Fatalf("%s (%s): not within 10 s; last state:\n%s\nserver log:\n%s", what, c.user, js, lastBytes(p.logText(), 4000))
	return st, 0
}

// sseEvent is one Server-Sent Event.
type sseEvent struct{ name, data string }

// events opens the SSE stream; events arrive on the channel until the
// test ends.
func (c *consoleClient) events(ctx context.Context) <-chan sseEvent {
	c.t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/console/api/events", nil)
	hc := &http.Client{Jar: c.hc.Jar}
	res, err := hc.Do(req)
	if err != nil || res.StatusCode != http.StatusOK {
		c.t.Fatalf("GET events: %v %v", err, res)
	}
	ch := make(chan sseEvent, 256)
	go func() {
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		var ev sseEvent
		for sc.Scan() {
			l := sc.Text()
			switch {
			case strings.HasPrefix(l, "event: "):
				ev.name = strings.TrimPrefix(l, "event: ")
			case strings.HasPrefix(l, "data: "):
				ev.data += strings.TrimPrefix(l, "data: ")
			case l == "":
				if ev.name != "" {
					select {
					case ch <- ev:
					default:
					}
				}
				ev = sseEvent{}
			}
		}
	}()
	return ch
}

// cdrRaw reads the tenant's records as `cdr list -o json` prints them.
func (p *sbPBX) cdrRaw(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	today := time.Now().Format("2006-01-02")
	if err := json.Unmarshal([]byte(p.mustCLI("cdr", "list", "--tenant", sbTenant, "--from", today, "-o", "json")), &out); err != nil {
		t.Fatalf("cdr list: %v", err)
	}
	return out
}

// TestSwitchboardAttendedTransfer: the outside caller (over the peer
// trunk) calls the switchboard number and waits in the queue, hearing the
// greeting and music; Kari (operator, extension 2001) answers it in the
// console, her desk phone rings and she talks to the caller; she consults
// 2002 (the caller hears music), then connects them: her phone is hung
// up, the caller and 2002 talk. Every leg leaves one closed record.
func TestSwitchboardAttendedTransfer(t *testing.T) { eachStore(t, testSwitchboardAttendedTransfer) }

func testSwitchboardAttendedTransfer(t *testing.T, dsn string) {
	begin := time.Now()
	p := startSwitchboard(t, dsn)
	p.addOperator(t, "kari", "Kari Nordmann", "2001")
	p.synced()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	kariPhone := p.deskPhone(ctx, t, "2001")
	olaPhone := p.deskPhone(ctx, t, "2002")
	caller := p.callerPhone(ctx, t)

	kari := p.login(t, "kari")
	kari.mustPost("available", map[string]bool{"available": true})

	start := time.Now()
	in := waitPlaced(t, p, placeCall(ctx, caller, sbNumber), "call to the switchboard")
	t.Logf("switchboard answered the caller after %s", time.Since(start))
	talk(ctx, in, hzCaller)
	st, lat := kari.waitState(p, "the call in the queue", func(s sbState) bool { return len(s.Queue) == 1 })
	t.Logf("queue shows the call %s after the answer", lat)
	q := st.Queue[0]
	if q.Position != 1 || !strings.Contains(q.Caller, strings.TrimPrefix(sbCaller, "+")) || q.Since.IsZero() ||
		time.Since(q.Since) > time.Minute || q.ID == "" {
		t.Errorf("queued call %+v, want position 1 from %s with since", q, sbCaller)
	}
	waitUntil(t, 5*time.Second, "the caller hears the greeting/music", func() bool { _, rx := in.Packets(); return rx >= 50 })

	kari.mustPost("queue/"+url.PathEscape(q.ID)+"/answer", struct{}{})
	opLeg := ringing(t, p, kariPhone, "2001", 10*time.Second)
	if h := opLeg.Invite().GetHeader("X-Sentral-Console"); h == nil || h.Value() != q.ID {
		t.Errorf("the call to 2001 carries X-Sentral-Console %v, want %q", h, q.ID)
	}
	if from := opLeg.Invite().From(); from == nil || from.Address.User != sbCaller {
		t.Errorf("2001 rings with From %v, want the caller %s", from, sbCaller)
	}
	if err := opLeg.Answer(ctx); err != nil {
		t.Fatalf("2001 answer: %v", err)
	}
	talk(ctx, opLeg, hzKari)
	kari.waitState(p, "the call talking at kari", func(s sbState) bool {
		return len(s.Queue) == 0 && len(s.Calls) == 1 && s.Calls[0].State == "talking" && s.Calls[0].ID == q.ID
	})
	n := rtpGrows(t, "caller <-> 2001", 2*time.Second, 75, map[string]*phone.Call{"caller": in, "2001": opLeg})
	t.Logf("caller <-> 2001, packets received in 2 s: %v", n)
	if !hears(in, hzKari, time.Second) || !hears(opLeg, hzCaller, time.Second) {
		t.Errorf("caller hears kari: %v; kari hears the caller: %v", hears(in, hzKari, time.Second), hears(opLeg, hzCaller, time.Second))
	}

	kari.mustPost("calls/"+url.PathEscape(q.ID)+"/consult", map[string]string{"target": "2002"})
	tgtLeg := ringing(t, p, olaPhone, "2002", 10*time.Second)
	if from := tgtLeg.Invite().From(); from == nil || from.Address.User != "2001" {
		t.Errorf("2002 rings for the consultation with From %v, want the operator's 2001", from)
	}
	if err := tgtLeg.Answer(ctx); err != nil {
		t.Fatalf("2002 answer: %v", err)
	}
	talk(ctx, tgtLeg, hzTarget)
	kari.waitState(p, "consulting 2002, talking", func(s sbState) bool {
		return len(s.Calls) == 1 && s.Calls[0].Consult != nil && s.Calls[0].Consult.Target == "2002" && s.Calls[0].Consult.State == "talking"
	})
	time.Sleep(1500 * time.Millisecond)
	if !hears(opLeg, hzTarget, time.Second) || !hears(tgtLeg, hzKari, time.Second) {
		t.Errorf("consult: kari hears 2002: %v; 2002 hears kari: %v", hears(opLeg, hzTarget, time.Second), hears(tgtLeg, hzKari, time.Second))
	}
	if hears(in, hzKari, time.Second) || hears(in, hzTarget, time.Second) {
		t.Errorf("consult: the caller (on hold) hears kari or 2002")
	}

	kari.mustPost("calls/"+url.PathEscape(q.ID)+"/connect", struct{}{})
	select {
	case <-opLeg.Done():
	case <-time.After(5 * time.Second):
		t.Errorf("2001's call did not end (BYE) on connect")
	}
	kari.waitState(p, "kari free after connect", func(s sbState) bool { return len(s.Calls) == 0 })
	time.Sleep(500 * time.Millisecond)
	n = rtpGrows(t, "caller <-> 2002", 2*time.Second, 75, map[string]*phone.Call{"caller": in, "2002": tgtLeg})
	t.Logf("caller <-> 2002, packets received in 2 s: %v", n)
	if !hears(in, hzTarget, time.Second) || !hears(tgtLeg, hzCaller, time.Second) {
		t.Errorf("connected: caller hears 2002: %v; 2002 hears the caller: %v", hears(in, hzTarget, time.Second), hears(tgtLeg, hzCaller, time.Second))
	}
	st, _ = kari.waitState(p, "recent shows the transfer", func(s sbState) bool { return len(s.Recent) >= 1 })
	if r := st.Recent[0]; r.ID != q.ID || r.Outcome != "transferred" || r.Operator != "kari" || r.To != "2002" {
		t.Errorf("recent %+v, want transferred by kari to 2002", r)
	}

	if err := in.Hangup(ctx); err != nil {
		t.Errorf("caller hangup: %v", err)
	}
	select {
	case <-tgtLeg.Done():
	case <-time.After(5 * time.Second):
		t.Errorf("2002's call did not end when the caller hung up")
	}

	// The records: one per leg, all closed.
	var raw []map[string]any
	recs := p.waitTenantCDRsSB(t, "three closed records", func(c []cdrView) bool {
		if len(c) < 3 {
			return false
		}
		for _, r := range c {
			if r.State != "closed" {
				return false
			}
		}
		return true
	})
	raw = p.cdrRaw(t)
	js, _ := json.MarshalIndent(raw, "", "  ")
	t.Logf("records:\n%s", js)
	if len(recs) != 3 {
		t.Errorf("%d records, want 3 (the caller's, the media server's calls to 2001 and 2002)", len(recs))
	}
	var inbound, to2001, to2002 int
	for _, c := range recs {
		if c.EndTime == nil || (c.AnswerTime != nil && c.EndTime.Before(*c.AnswerTime)) {
			t.Errorf("record with no end or ending before its answer: %+v", c)
		}
		switch {
		case c.Direction == "inbound":
			inbound++
			if c.Disposition != "answered" || c.Callee != sbNumber || c.Trunk != "telco" || !strings.Contains(c.Caller, strings.TrimPrefix(sbCaller, "+")) {
				t.Errorf("caller's record: %+v, want answered from %s to %s over telco", c, sbCaller, sbNumber)
			}
		case c.Callee == "2001":
			to2001++
			if c.Disposition != "answered" {
				t.Errorf("record of the call to 2001: %+v", c)
			}
		case c.Callee == "2002":
			to2002++
			if c.Disposition != "answered" {
				t.Errorf("record of the call to 2002: %+v", c)
			}
		}
	}
	if inbound != 1 || to2001 != 1 || to2002 != 1 {
		t.Errorf("records: %d inbound, %d to 2001, %d to 2002; want one each", inbound, to2001, to2002)
	}
	for _, r := range raw {
		d, okD := r["duration_seconds"].(float64)
		b, okB := r["billable_seconds"].(float64)
		if !okD || !okB || d < 0 || b < 0 || b > d {
			t.Errorf("record %v: duration_seconds %v, billable_seconds %v; want 0 <= billable <= duration", r["call_id"], r["duration_seconds"], r["billable_seconds"])
		}
	}
	t.Logf("scenario took %s", time.Since(begin))
}

// waitTenantCDRsSB waits until the tenant's records satisfy ok (10 s).
func (p *sbPBX) waitTenantCDRsSB(t *testing.T, what string, ok func([]cdrView) bool) []cdrView {
	t.Helper()
	var got []cdrView
	p.waitFor(what, func() bool {
		got = p.cdrs(t, sbTenant)
		return ok(got)
	})
	return got
}

// TestSwitchboardTwoOperators: kari and per are both available and both
// see the one waiting call; kari answers it; it leaves the queue for per
// too (his /state and a queue event with [] on his stream), and per's
// answer of the same call gets 409.
func TestSwitchboardTwoOperators(t *testing.T) { eachStore(t, testSwitchboardTwoOperators) }

func testSwitchboardTwoOperators(t *testing.T, dsn string) {
	begin := time.Now()
	p := startSwitchboard(t, dsn)
	p.addOperator(t, "kari", "Kari Nordmann", "2001")
	p.addOperator(t, "per", "Per Olsen", "2003")
	p.synced()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	kariPhone := p.deskPhone(ctx, t, "2001")
	perPhone := p.deskPhone(ctx, t, "2003")
	caller := p.callerPhone(ctx, t)

	kari, per := p.login(t, "kari"), p.login(t, "per")
	kari.mustPost("available", map[string]bool{"available": true})
	per.mustPost("available", map[string]bool{"available": true})
	perEvents := per.events(ctx)

	in := waitPlaced(t, p, placeCall(ctx, caller, sbNumber), "call to the switchboard")
	var id string
	for _, c := range []*consoleClient{kari, per} {
		st, _ := c.waitState(p, "the call in the queue", func(s sbState) bool { return len(s.Queue) == 1 })
		if id == "" {
			id = st.Queue[0].ID
		} else if st.Queue[0].ID != id {
			t.Errorf("kari and per see different calls: %q, %q", id, st.Queue[0].ID)
		}
		if len(st.Operators) != 2 || !st.Operators[0].Available || !st.Operators[1].Available {
			t.Errorf("%s sees operators %+v, want both available", c.user, st.Operators)
		}
	}
	// Per's stream has shown the queue with the call.
	sawQueue := func(want func([]json.RawMessage) bool, what string) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case ev := <-perEvents:
				if ev.name != "queue" {
					continue
				}
				var q []json.RawMessage
				if err := json.Unmarshal([]byte(ev.data), &q); err != nil {
					t.Errorf("queue event %q: %v", ev.data, err)
					continue
				}
				if want(q) {
					return
				}
			case <-deadline:
				t.Fatalf("per's event stream: no queue event with %s within 10 s", what)
			}
		}
	}
	sawQueue(func(q []json.RawMessage) bool { return len(q) == 1 }, "the call")

	kari.mustPost("queue/"+url.PathEscape(id)+"/answer", struct{}{})
	sawQueue(func(q []json.RawMessage) bool { return len(q) == 0 }, "[]")
	per.waitState(p, "the queue empty for per", func(s sbState) bool { return len(s.Queue) == 0 })
	if code, body := per.post("queue/"+url.PathEscape(id)+"/answer", struct{}{}); code != http.StatusConflict {
		t.Errorf("per answering kari's call: %d %s, want 409", code, body)
	}
	if st := per.state(); len(st.Calls) != 0 {
		t.Errorf("per has calls %+v after the 409", st.Calls)
	}
	leg := ringing(t, p, kariPhone, "2001", 10*time.Second)
	if err := leg.Answer(ctx); err != nil {
		t.Fatal(err)
	}
	kari.waitState(p, "talking at kari", func(s sbState) bool { return len(s.Calls) == 1 && s.Calls[0].State == "talking" })
	per.waitState(p, "per sees kari busy", func(s sbState) bool {
		for _, o := range s.Operators {
			if o.Username == "kari" {
				return o.Busy
			}
		}
		return false
	})
	select {
	case c := <-perPhone.Incoming():
		t.Errorf("per's phone rang: %s", c.Invite().StartLine())
	default:
	}
	_ = in.Hangup(ctx)
	select {
	case <-leg.Done():
	case <-time.After(5 * time.Second):
		t.Error("kari's call did not end when the caller hung up")
	}
	st, _ := kari.waitState(p, "recent answered", func(s sbState) bool { return len(s.Recent) == 1 && len(s.Calls) == 0 })
	if r := st.Recent[0]; r.Outcome != "answered" || r.Operator != "kari" {
		t.Errorf("recent %+v, want answered by kari", r)
	}
	t.Logf("scenario took %s", time.Since(begin))
}

// TestSwitchboardPresence: the board shows 2002 idle when registered,
// ringing and in a call while it calls 2003, idle again after; 2004,
// never registered, is unregistered.
func TestSwitchboardPresence(t *testing.T) { eachStore(t, testSwitchboardPresence) }

func testSwitchboardPresence(t *testing.T, dsn string) {
	begin := time.Now()
	p := startSwitchboard(t, dsn)
	p.addOperator(t, "kari", "Kari Nordmann", "2001")
	p.synced()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	kari := p.login(t, "kari")
	st := kari.state()
	if s := st.boardState("2002"); s != "unregistered" {
		t.Errorf("2002 before registering: %q, want unregistered", s)
	}
	ola := p.deskPhone(ctx, t, "2002")
	per := p.deskPhone(ctx, t, "2003")
	_, lat := kari.waitState(p, "2002 and 2003 idle", func(s sbState) bool {
		return s.boardState("2002") == "idle" && s.boardState("2003") == "idle"
	})
	t.Logf("registrations on the board after %s", lat)
	if s := kari.state().boardState("2004"); s != "unregistered" {
		t.Errorf("2004 (never registered): %q, want unregistered", s)
	}

	placed := placeCall(ctx, ola, "2003")
	leg := ringing(t, p, per, "2003", 10*time.Second)
	st, _ = kari.waitState(p, "2003 ringing", func(s sbState) bool { return s.boardState("2003") == "ringing" })
	if s := st.boardState("2002"); s != "ringing" && s != "in-call" {
		t.Errorf("2002 calling 2003 (ringing): board %q, want ringing or in-call", s)
	}
	t.Logf("while ringing: 2002 %q, 2003 %q", st.boardState("2002"), st.boardState("2003"))
	if err := leg.Answer(ctx); err != nil {
		t.Fatal(err)
	}
	out := waitPlaced(t, p, placed, "2002 -> 2003")
	kari.waitState(p, "both in-call", func(s sbState) bool {
		return s.boardState("2002") == "in-call" && s.boardState("2003") == "in-call"
	})
	if err := out.Hangup(ctx); err != nil {
		t.Errorf("hangup: %v", err)
	}
	kari.waitState(p, "both idle after hangup", func(s sbState) bool {
		return s.boardState("2002") == "idle" && s.boardState("2003") == "idle"
	})
	if err := ola.Register(ctx, 0); err != nil {
		t.Errorf("2002 unregister: %v", err)
	}
	kari.waitState(p, "2002 unregistered", func(s sbState) bool { return s.boardState("2002") == "unregistered" })
	t.Logf("scenario took %s", time.Since(begin))
}

// TestSwitchboardNightService: nobody is available, so a call to the
// switchboard goes to the night target voicemail:2002: the caller hears
// the greeting, leaves a message, and /state's recent says overflow.
func TestSwitchboardNightService(t *testing.T) { eachStore(t, testSwitchboardNightService) }

func testSwitchboardNightService(t *testing.T, dsn string) {
	begin := time.Now()
	vmDir := t.TempDir()
	p := startSwitchboard(t, dsn, "SENTRAL_MEDIA_VOICEMAIL_DIR="+vmDir)
	p.addOperator(t, "kari", "Kari Nordmann", "2001")
	p.mustCLI("switchboard", "set", sbTenant, "--hours", "", "--night-target", "voicemail:2002")
	p.synced()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	kari := p.login(t, "kari") // logged in, not available
	st, _ := kari.waitState(p, "night service active", func(s sbState) bool { return s.Night.Active })
	if st.Night.Reason != "no-operator" || st.Night.Target != "voicemail:2002" || st.Me.Available {
		t.Errorf("night %+v, me %+v; want no-operator to voicemail:2002", st.Night, st.Me)
	}
	caller := p.callerPhone(ctx, t)
	start := time.Now()
	in := waitPlaced(t, p, placeCall(ctx, caller, sbNumber), "call to the switchboard at night")
	t.Logf("night service answered after %s", time.Since(start))
	waitUntil(t, 20*time.Second, "the greeting's beep", func() bool { return hasTone(in.Received(), 1000) })
	t.Logf("the greeting's beep heard %s after the answer", time.Since(start))
	if _, rx := in.Packets(); rx < 50 {
		t.Errorf("caller received %d RTP packets of the greeting", rx)
	}
	time.Sleep(400 * time.Millisecond)
	if err := in.SendAudio(ctx, knownAudio()); err != nil {
		t.Fatal(err)
	}
	_ = in.Hangup(ctx)
	var msgs []vmView
	p.waitFor("the message in 2002's mailbox", func() bool {
		out := p.mustCLI("voicemail", "list", "--tenant", sbTenant, "--mailbox", "2002", "--output", "json")
		msgs = nil
		return json.Unmarshal([]byte(out), &msgs) == nil && len(msgs) == 1
	})
	if !strings.Contains(msgs[0].CallerNumber, strings.TrimPrefix(sbCaller, "+")) {
		t.Errorf("message %+v, want it from %s", msgs[0], sbCaller)
	}
	st, _ = kari.waitState(p, "recent overflow", func(s sbState) bool { return len(s.Recent) == 1 })
	if r := st.Recent[0]; r.Outcome != "overflow" || r.To != "voicemail:2002" || !strings.Contains(r.Caller, strings.TrimPrefix(sbCaller, "+")) {
		t.Errorf("recent %+v, want overflow to voicemail:2002", r)
	}
	if len(st.Queue) != 0 {
		t.Errorf("queue %+v at night", st.Queue)
	}
	t.Logf("scenario took %s", time.Since(begin))
}

// TestSwitchboardIPv6Operator: an operator whose desk phone registered
// over IPv6 gets the switchboard's call with IPv6 media, and talks to an
// IPv4 caller (the media server relays between the families).
func TestSwitchboardIPv6Operator(t *testing.T) {
	p := startSwitchboard(t, "")
	p.addOperator(t, "kari", "Kari Nordmann", "2001")
	p.synced()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	kariPhone, err := phone.New(ctx, phone.Options{User: "2001", Password: e2ePassword, Domain: sbDomain, Proxy: p.v6})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kariPhone.Close() })
	if err := kariPhone.Register(ctx, time.Hour); err != nil {
		t.Fatalf("2001 register over IPv6: %v", err)
	}
	caller := p.callerPhone(ctx, t)
	kari := p.login(t, "kari")
	kari.mustPost("available", map[string]bool{"available": true})
	in := waitPlaced(t, p, placeCall(ctx, caller, sbNumber), "call to the switchboard")
	talk(ctx, in, hzCaller)
	st, _ := kari.waitState(p, "the call in the queue", func(s sbState) bool { return len(s.Queue) == 1 })
	kari.mustPost("queue/"+url.PathEscape(st.Queue[0].ID)+"/answer", struct{}{})
	opLeg := ringing(t, p, kariPhone, "2001 on ::1", 10*time.Second)
	if body := string(opLeg.Invite().Body()); !strings.Contains(body, "c=IN IP6 ") {
		t.Errorf("the IPv6 phone was offered media outside its family:\n%s", body)
	}
	if err := opLeg.Answer(ctx); err != nil {
		t.Fatalf("2001 answer: %v", err)
	}
	talk(ctx, opLeg, hzKari)
	rtpGrows(t, "IPv4 caller <-> IPv6 operator", 2*time.Second, 75, map[string]*phone.Call{"caller": in, "2001": opLeg})
	if !hears(in, hzKari, time.Second) || !hears(opLeg, hzCaller, time.Second) {
		t.Errorf("caller hears kari: %v; kari hears the caller: %v", hears(in, hzKari, time.Second), hears(opLeg, hzCaller, time.Second))
	}
}

// TestSwitchboardHoldParkBlindTransfer: the operator holds and resumes a
// caller (who hears music while held), parks the call and retrieves it
// (the operator's phone rings again), then puts it through without
// announcing it; the caller then talks to the target.
func TestSwitchboardHoldParkBlindTransfer(t *testing.T) {
	p := startSwitchboard(t, "")
	p.addOperator(t, "kari", "Kari Nordmann", "2001")
	p.synced()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	kariPhone := p.deskPhone(ctx, t, "2001")
	olaPhone := p.deskPhone(ctx, t, "2002")
	caller := p.callerPhone(ctx, t)
	kari := p.login(t, "kari")
	kari.mustPost("available", map[string]bool{"available": true})

	in := waitPlaced(t, p, placeCall(ctx, caller, sbNumber), "call to the switchboard")
	talk(ctx, in, hzCaller)
	st, _ := kari.waitState(p, "the call in the queue", func(s sbState) bool { return len(s.Queue) == 1 })
	id := st.Queue[0].ID
	answer := func(what string) *phone.Call {
		t.Helper()
		leg := ringing(t, p, kariPhone, what, 10*time.Second)
		if err := leg.Answer(ctx); err != nil {
			t.Fatalf("%s: answer: %v", what, err)
		}
		talk(ctx, leg, hzKari)
		kari.waitState(p, what+": talking", func(s sbState) bool { return len(s.Calls) == 1 && s.Calls[0].State == "talking" })
		return leg
	}
	kari.mustPost("queue/"+url.PathEscape(id)+"/answer", struct{}{})
	opLeg := answer("2001 answering")
	waitUntil(t, 5*time.Second, "the caller hears kari", func() bool { return hears(in, hzKari, 500*time.Millisecond) })

	kari.mustPost("calls/"+url.PathEscape(id)+"/hold", struct{}{})
	kari.waitState(p, "held", func(s sbState) bool { return len(s.Calls) == 1 && s.Calls[0].State == "held" })
	rtpGrows(t, "the held caller hears music", time.Second, 30, map[string]*phone.Call{"caller": in})
	if hears(in, hzKari, 500*time.Millisecond) {
		t.Error("the held caller still hears the operator")
	}
	kari.mustPost("calls/"+url.PathEscape(id)+"/resume", struct{}{})
	kari.waitState(p, "resumed", func(s sbState) bool { return len(s.Calls) == 1 && s.Calls[0].State == "talking" })
	waitUntil(t, 5*time.Second, "the caller hears kari again", func() bool { return hears(in, hzKari, 500*time.Millisecond) })

	code, body := kari.post("calls/"+url.PathEscape(id)+"/park", struct{}{})
	if code != http.StatusOK || !strings.Contains(body, `"slot":1`) {
		t.Fatalf("park: %d %s", code, body)
	}
	select {
	case <-opLeg.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("parking did not end the operator's call")
	}
	kari.waitState(p, "parked in slot 1", func(s sbState) bool { return len(s.Calls) == 0 && len(s.Parked) == 1 && s.Parked[0].Slot == 1 })
	rtpGrows(t, "the parked caller hears music", time.Second, 30, map[string]*phone.Call{"caller": in})
	kari.mustPost("parked/1/retrieve", struct{}{})
	answer("2001 retrieving")
	if st := kari.state(); len(st.Parked) != 0 {
		t.Errorf("still parked after retrieve: %+v", st.Parked)
	}

	kari.mustPost("calls/"+url.PathEscape(id)+"/transfer", map[string]string{"target": "2002"})
	tgt := ringing(t, p, olaPhone, "2002", 10*time.Second)
	kari.waitState(p, "kari is free after a blind transfer", func(s sbState) bool { return len(s.Calls) == 0 })
	if err := tgt.Answer(ctx); err != nil {
		t.Fatalf("2002 answer: %v", err)
	}
	talk(ctx, tgt, hzTarget)
	rtpGrows(t, "caller <-> 2002 after the blind transfer", 2*time.Second, 75, map[string]*phone.Call{"caller": in, "2002": tgt})
	if !hears(in, hzTarget, time.Second) || !hears(tgt, hzCaller, time.Second) {
		t.Errorf("caller hears 2002: %v; 2002 hears the caller: %v", hears(in, hzTarget, time.Second), hears(tgt, hzCaller, time.Second))
	}
	kari.waitState(p, "recent: transferred", func(s sbState) bool {
		return len(s.Recent) > 0 && s.Recent[0].Outcome == "transferred" && s.Recent[0].To == "2002"
	})
	if err := in.Hangup(ctx); err != nil {
		t.Fatalf("caller hangup: %v", err)
	}
	select {
	case <-tgt.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("2002's call did not end with the caller's")
	}
}
