package e2e

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sentralpbx/sentral/media/wav"
	"github.com/sentralpbx/sentral/test/siptest"
)

// TestConsoleSippCallerBaresipExtension is the switchboard's attended
// transfer with outside equipment at both ends, as the issue asks: kari
// logs in to the console (Chromium, console.mjs) and answers in the
// browser; a sipp UAC from the operator's network (the peer trunk on
// 127.0.0.2) calls the switchboard number, streaming an A-law WAV, and
// shows up in the queue with a ticking wait time; kari answers it,
// consults 2002 (baresip, the Debian package, registered as 2002, which
// answers by itself and plays a WAV) and connects. The media server's
// bridge between the caller's leg and 2002's leg must relay RTP both ways
// (its "bridge ended" log line counts the packets); 2002 hangs up after
// ~3 s, sipp gets the BYE and exits 0; the call records are the caller's
// inbound call to the switchboard number and the media server's legs to
// 2001 and (from 2001, the consultation) to 2002, all answered. SQLite
// only, like the other console tests.
func TestConsoleSippCallerBaresipExtension(t *testing.T) {
	begin := time.Now()
	sippBinary(t)
	browserHarness(t)
	baresipBinary(t) // before the server starts: skip early without it

	// The server: udp for sipp and baresip, ws for the browser; MD5-only
	// digest challenges (baresip 1.0.0 fails on any other algorithm in a
	// challenge, see test/baresip; sipp 3.6 reads only the first).
	dir := t.TempDir()
	s := startServerSIP(t, dir, filepath.Join(dir, "pbx.db"), fmt.Sprintf("udp:127.0.0.1:%d,ws:%s", port4(t), freeAddr(t)),
		"SENTRAL_SIP_REGISTRAR_DIGEST_ALGORITHMS=MD5")
	t.Cleanup(func() {
		if d := os.Getenv("SENTRAL_E2E_LOGDIR"); d != "" {
			_ = os.WriteFile(filepath.Join(d, t.Name()+".log"), []byte(s.logText()), 0o644)
		}
	})
	s.mustCLI("tenant", "add", sbTenant, "--display-name", "Fjordvik kommune", "--domain", sbDomain, "--ext-range", "2000-2999",
		"--did-range", "55550000-55550999", "--outside-prefix", "0", "--switchboard", "55550000")
	for _, e := range []struct{ n, name string }{{"2001", "Kari Nordmann"}, {"2002", "Ola Saksbehandler"}} {
		s.mustCLI("ext", "add", e.n, "--tenant", sbTenant, "--name", e.name, "--password", e2ePassword, "--voicemail=false")
	}
	s.mustCLI("trunk", "add", "telco", "--tenant", sbTenant, "--mode", "peer", "--host", sbTrunkIP,
		"--port", "5060", "--transport", "udp", "--peer", sbTrunkIP, "--route", "+47")
	if _, errs, code := s.cliStdin(operatorPassword+"\n", "operator", "add", "kari", "--tenant", sbTenant, "--name", "Kari Nordmann",
		"--extension", "2001", "--password-stdin"); code != 0 {
		t.Fatalf("operator add kari: exit %d\n%s", code, errs)
	}
	s.synced()
	cp := &consolePBX{server: s, page: strings.TrimSuffix(s.softphoneURL(t), "/softphone/") + "/console/"}
	sipAddr := s.sipAddr(t, "udp")
	shots := artifactsDir(t)

	// The audio: the caller streams 697 Hz (A-law, as sipp sends the file's
	// bytes), 2002 plays 1633 Hz (16-bit PCM, which baresip's aufile reads).
	media := t.TempDir()
	callerWAV := writeToneWAV(t, filepath.Join(media, "caller.wav"), wav.ALaw, hzCaller, 2)
	extWAV := writeToneWAV(t, filepath.Join(media, "ext2002.wav"), wav.PCM, hzTarget, 60)
	scenario := consoleScenario(t, "testdata/console_caller.xml", media, map[string]string{"CONSOLE_CALLER_WAV": callerWAV})

	// 2002: baresip, auto-answering, registered before anything rings.
	ext := siptest.StartBaresip(t, siptest.BaresipOptions{Ext: "2002", Password: e2ePassword, Domain: sbDomain, Proxy: sipAddr,
		Audio: "aufile," + extWAV, AutoAnswer: true, Lifetime: 75 * time.Second})
	regWait := s.waitFor("baresip registered as 2002", func() bool {
		for _, r := range s.registrations(t, sbTenant) {
			if strings.Contains(r.AOR, "2002@") && strings.Contains(strings.ToLower(r.UserAgent), "baresip") {
				return true
			}
		}
		return false
	})
	t.Logf("baresip registered as 2002 after %s", regWait.Round(time.Millisecond))

	const caller = sbCaller // as the queue shows it
	op := startConsole(t, consoleSpec{url: cp.page, user: "kari", sipPassword: e2ePassword, shots: shots, actions: []string{
		"login", "available", "browser-phone",
		"wait-queue:" + caller, "wait-ticks:" + caller, "screenshot:01-queue",
		"answer:" + caller, "browser-answer", "wait-call:talking",
		"consult:2002", "wait-consult:talking", "wait-call:consulting", "screenshot:02-consulting",
		"connect", "wait-no-call", "board:2002:in-call", "screenshot:03-board",
		"wait-stdin", "board:2002:idle",
	}})
	op.step(t, "browser-phone", 45*time.Second)
	t.Logf("console logged in, available, browser registered after %s", time.Since(begin).Round(time.Millisecond))
	op.checkDay(t)

	// The caller: sipp on the trunk's address.
	called := time.Now()
	uac := runSipp(t, s, sippSpec{scenario: scenario, ip: sbTrunkIP, port: udpPort(t, sbTrunkIP, 1), target: sipAddr,
		extra: []string{"-s", sbNumber, "-key", "to", sbNumber, "-key", "caller", sbCaller, "-timeout", "35s"}})

	q := op.step(t, "wait-queue:"+caller, 20*time.Second)
	row := op.event(t, "queue-row", nil, time.Second, nil)
	t.Logf("the sipp call is in the queue %s after sipp started (dialled %v, waiting %v)", evTime(q).Sub(called).Round(time.Millisecond),
		row["dialled"], row["wait"])
	op.step(t, "wait-ticks:"+caller, 10*time.Second) // the wait time read twice, 2 s apart, increased
	ans := op.event(t, "answered", nil, 30*time.Second, nil)
	if h, _ := ans["header"].(bool); !h {
		t.Errorf("the operator's browser rang as for an outside call: the INVITE to 2001 had no X-Sentral-Console header")
	}
	op.step(t, "wait-call:talking", 20*time.Second)
	consulting := op.step(t, "wait-consult:talking", 30*time.Second)
	ext.WaitEvent(t, "CALL_ESTABLISHED", 5*time.Second, "CALL_CLOSED")
	t.Logf("baresip (2002) answered the consultation %s after the call", evTime(consulting).Sub(called).Round(time.Millisecond))
	connected := op.step(t, "connect", 10*time.Second)
	op.step(t, "wait-no-call", 15*time.Second)
	t.Logf("answered, consulted and connected %s after the call", evTime(connected).Sub(called).Round(time.Millisecond))
	op.step(t, "board:2002:in-call", 10*time.Second)

	// Caller and 2002 talk for ~3 s; then 2002 hangs up, and the server
	// hangs up the caller (sipp's BYE).
	time.Sleep(3 * time.Second)
	hungUp := time.Now()
	ext.Command(t, "hangup", "")
	ext.WaitEvent(t, "CALL_CLOSED", 10*time.Second)
	uac.wait(t, s)
	t.Logf("sipp got the BYE and exited 0 %s after 2002 hung up", time.Since(hungUp).Round(time.Millisecond))
	var callID string
	for _, m := range uac.messages(t) {
		if m.Sent && m.Method() == "INVITE" {
			callID = m.First("Call-ID")
			break
		}
	}
	if callID == "" {
		t.Fatalf("no INVITE in sipp's trace:\n%s", lastBytes(uac.messagesText(), 3000))
	}

	op.event(t, "waiting-stdin", nil, 10*time.Second, nil)
	op.next(t)
	op.step(t, "board:2002:idle", 15*time.Second)
	if res := op.result(t); len(res.Screenshots) != 3 {
		t.Errorf("screenshots %q, want 3", res.Screenshots)
	}

	// The call records: the caller's inbound call to the switchboard
	// number over telco, the media server's legs to the operator 2001 and
	// (the consultation, from 2001) to 2002; all closed and answered.
	recs := cp.closedCDRs(t, func(rs []cdrFull) bool { return len(rs) >= 3 })
	trunks := map[string]string{}
	for _, r := range s.cdrs(t, sbTenant) {
		trunks[r.CallID] = r.Trunk
	}
	for _, r := range recs {
		t.Logf("cdr %d: %s %s -> %s (dialled %s) %s %d s, call id %s, trunk %q", r.ID, r.Direction, r.Caller, r.Callee, r.Dialled,
			r.Disposition, r.Duration, r.CallID, trunks[r.CallID])
	}
	checkCDRs(t, recs, begin)
	var inbound, to2001, to2002 int
	var leg2002 string
	for _, r := range recs {
		switch {
		case r.CallID == callID:
			inbound++
			if r.Direction != "inbound" || r.Callee != sbNumber || trunks[r.CallID] != "telco" ||
				!strings.Contains(r.Caller, strings.TrimPrefix(sbCaller, "+")) {
				t.Errorf("the caller's record: %+v (trunk %q), want inbound from %s to %s over telco", r, trunks[r.CallID], sbCaller, sbNumber)
			}
			if r.Duration < 3 {
				t.Errorf("the caller's record lasted %d s, want the whole call (queue, operator, 2002)", r.Duration)
			}
		case r.Callee == "2001":
			to2001++
			if !strings.Contains(r.Caller, strings.TrimPrefix(sbCaller, "+")) {
				t.Errorf("the leg to the operator 2001: caller %q, want the outside caller %s", r.Caller, sbCaller)
			}
		case r.Callee == "2002":
			to2002++
			leg2002 = r.CallID
			if r.Caller != "2001" {
				t.Errorf("the consultation leg to 2002: caller %q, want the operator's 2001", r.Caller)
			}
			if r.Duration < 3 {
				t.Errorf("the leg to 2002 lasted %d s, want the consultation and the ~3 s connected", r.Duration)
			}
		default:
			t.Errorf("unexpected record %+v", r)
		}
	}
	if inbound != 1 || to2001 != 1 || to2002 != 1 {
		t.Errorf("records: %d of the caller (call id %s), %d to 2001, %d to 2002; want one each", inbound, callID, to2001, to2002)
	}

	// RTP both ways between the caller's leg and 2002's, by the media
	// server's count when their bridge ended.
	var br *bridgeEnded
	s.waitFor("the media server logs the end of the caller <-> 2002 bridge", func() bool {
		for _, b := range bridgesEnded(s.logText()) {
			if b.between(callID, leg2002) {
				br = &b
				return true
			}
		}
		return false
	})
	toExt, fromExt := br.ToPeer, br.FromPeer
	if br.CallID != callID {
		toExt, fromExt = fromExt, toExt
	}
	t.Logf("bridge caller %s <-> 2002 %s: %d packets caller -> 2002, %d packets 2002 -> caller", callID, leg2002, toExt, fromExt)
	if toExt < 100 || fromExt < 100 {
		t.Errorf("the bridge between the caller and 2002 relayed %d packets to 2002 and %d to the caller, want >= 100 each way",
			toExt, fromExt)
	}
	for _, b := range bridgesEnded(s.logText()) {
		t.Logf("bridge ended: %s <-> %s: %d / %d packets", b.CallID, b.PeerCallID, b.ToPeer, b.FromPeer)
	}
	t.Logf("scenario took %s", time.Since(begin).Round(time.Millisecond))
}

// baresipBinary finds baresip and its aufile module, skipping (failing
// under CI=true) without them.
func baresipBinary(t *testing.T) string {
	t.Helper()
	p := siptest.Tool(t, "baresip", "baresip")
	if _, err := os.Stat("/usr/lib/baresip/modules/aufile.so"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("baresip has no aufile module and CI=true: %v", err)
		}
		t.Skipf("*** baresip SKIPPED: no aufile module: %v ***", err)
	}
	return p
}

// writeToneWAV writes seconds of hz at 8 kHz in format f to path.
func writeToneWAV(t *testing.T, path string, f wav.Format, hz, seconds float64) string {
	t.Helper()
	pcm := make([]int16, int(seconds*8000))
	for i := range pcm {
		pcm[i] = int16(7000 * math.Sin(2*math.Pi*hz*float64(i)/8000))
	}
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := wav.Write(out, f, pcm); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// consoleScenario copies a sipp scenario into dir with its placeholders
// replaced, returning the copy's path.
func consoleScenario(t *testing.T, src, dir string, repl map[string]string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for k, v := range repl {
		if !strings.Contains(text, k) {
			t.Fatalf("%s has no %s", src, k)
		}
		text = strings.ReplaceAll(text, k, v)
	}
	dst := filepath.Join(dir, filepath.Base(src))
	if err := os.WriteFile(dst, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

// bridgeEnded is the media server's "bridge ended" log line.
type bridgeEnded struct {
	CallID     string `json:"call_id"`
	PeerCallID string `json:"peer_call_id"`
	ToPeer     int64  `json:"packets_to_peer"`
	FromPeer   int64  `json:"packets_from_peer"`
}

func (b bridgeEnded) between(x, y string) bool {
	return x != "" && y != "" && (b.CallID == x && b.PeerCallID == y || b.CallID == y && b.PeerCallID == x)
}

func bridgesEnded(log string) []bridgeEnded {
	var out []bridgeEnded
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, `"bridge ended"`) {
			continue
		}
		var b bridgeEnded
		if json.Unmarshal([]byte(line), &b) == nil {
			out = append(out, b)
		}
	}
	return out
}
