package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sentralpbx/sentral/store/pgtest"
)

// TestSoak is the soak benchmark: the real `sentral serve` under steady
// mixed load from sipp for SENTRAL_SOAK_DURATION (default 10m):
//
//   - re-registrations with digest authentication (bench/sipp/register.xml)
//     of the "phones" 2000-2299, round-robin, SENTRAL_SOAK_REG_RATE per second (20);
//   - calls from those extensions to 2300-2339, registered from the port of
//     a sipp UAS that answers them (bench/sipp/uas_answer.xml, -rtp_echo):
//     PCMU played and echoed, BYE after SENTRAL_SOAK_HOLD (5s),
//     SENTRAL_SOAK_CALL_RATE per second (2) (bench/soak/uac_call.xml);
//   - voicemail deposits from 2460-2479 (registered from their sipp's port,
//     so the media server's BYE reaches them) to 2400-2459, whose phones
//     are not registered: the greeting (SENTRAL_SOAK_GREETING, 7s, waited
//     for), 8 s of PCMU, '#', "message saved", the server's BYE,
//     SENTRAL_SOAK_VM_PER_MIN per minute (10) (bench/soak/uac_voicemail.xml).
//
// Every 10 s it reads the admin listener's /metrics (goroutines, resident
// memory, heap, registrations, media calls, call record queue and losses)
// into soak.csv. At the end: every call and deposit sipp completed has
// exactly one call record with its Call-ID, every deposit one voicemail
// message in the right mailbox, and goroutines and heap are flat: the mean
// of the last third of the load (after a warm-up of a minute, or a third
// of a shorter run) against the first third. Verdict bounds (of this
// benchmark, not unit-test thresholds): goroutines (mean of a third) may
// grow by 10 % + 20, the heap (lowest sample of a third: the floor after a
// collection) by 25 %. The work directory (server log, sipp files, CSV,
// summary) is kept and its path logged.
//
//	SENTRAL_BENCH=soak SENTRAL_SOAK_DURATION=90s go test -count=1 -run '^TestSoak$' -v -timeout 30m ./bench/
//
// SQLite always; PostgreSQL too when SENTRAL_TEST_PG is set (see
// scripts/pg-test.sh); SENTRAL_SOAK_STORE=sqlite or postgres runs one.
func TestSoak(t *testing.T) {
	if os.Getenv("SENTRAL_BENCH") != "soak" {
		t.Skip("soak benchmark: set SENTRAL_BENCH=soak (SENTRAL_SOAK_DURATION, default 10m; run with -timeout 30m)")
	}
	if _, err := exec.LookPath("sipp"); err != nil {
		t.Fatal("sipp is not installed (Debian package sip-tester)")
	}
	dur := 10 * time.Minute
	if v := os.Getenv("SENTRAL_SOAK_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 30*time.Second {
			t.Fatalf("SENTRAL_SOAK_DURATION=%q: want a duration of at least 30s", v)
		}
		dur = d
	}
	if dl, ok := t.Deadline(); ok && time.Until(dl) < dur*2+3*time.Minute {
		t.Fatalf("go test -timeout leaves %v: the soak needs about %v; pass -timeout", time.Until(dl).Round(time.Second), dur*2+3*time.Minute)
	}
	work, err := os.MkdirTemp("", "sentral-soak-")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("work directory (kept): %s", work)
	bin := filepath.Join(work, "sentral")
	build := exec.Command("go", "build", "-o", bin, "../cmd/sentral")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	which := os.Getenv("SENTRAL_SOAK_STORE")
	if which == "" || which == "sqlite" {
		t.Run("sqlite", func(t *testing.T) {
			dir := filepath.Join(work, "sqlite")
			runSoak(t, bin, dir, filepath.Join(dir, "sentral.db"), dur)
		})
	}
	if which == "" || which == "postgres" {
		t.Run("postgres", func(t *testing.T) {
			dsn := pgtest.DSN(t, "sentral_soak")
			runSoak(t, bin, filepath.Join(work, "postgres"), dsn, dur)
		})
	}
}

// soakLoad is the offered load.
type soakLoad struct {
	regPerSec, callsPerSec, vmPerMin float64
	hold, greeting                   time.Duration
}

const (
	soakDomain  = "soak.test"
	soakTenant  = "soak"
	phonesFrom  = 2000 // re-registering phones and callers: 2000-2299
	phonesN     = 300
	calleesFrom = 2300 // registered at the UAS: 2300-2339
	calleesN    = 40
	mboxFrom    = 2400 // voicemail, never registered: 2400-2459
	mboxN       = 60
	depositFrom = 2460 // callers of the deposits, registered at their sipp: 2460-2479
	depositN    = 20
	sampleEvery = 10 * time.Second
	audioSecs   = 4 // PCMU seconds per call
	vmSecs      = 8 // PCMU seconds per deposit, from the end of -d
)

func soakPassword(n int) string {
	var b strings.Builder
	for _, d := range strconv.Itoa(n) {
		b.WriteByte(byte('a' + d - '0'))
	}
	return "Soak-" + b.String() + "-7Z"
}

func authField(n int) string {
	return fmt.Sprintf("%d;%s;[authentication username=%d password=%s]", n, soakPassword(n), n, soakPassword(n))
}

// sippProc is one running sipp.
type sippProc struct {
	name, dir string
	cmd       *exec.Cmd
	done      chan error
	err       error
}

func startSipp(t *testing.T, name, dir string, args ...string) *sippProc {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(filepath.Join(dir, "sipp.out"))
	if err != nil {
		t.Fatal(err)
	}
	p := &sippProc{name: name, dir: dir, done: make(chan error, 1)}
	p.cmd = exec.Command("sipp", args...)
	p.cmd.Dir = dir
	p.cmd.Stdout, p.cmd.Stderr = out, out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start sipp %s: %v", name, err)
	}
	go func() { p.done <- p.cmd.Wait(); out.Close() }()
	t.Cleanup(func() { p.stop(syscall.SIGKILL, time.Second) })
	return p
}

// wait waits up to d for sipp to exit on its own.
func (p *sippProc) wait(d time.Duration) error {
	select {
	case p.err = <-p.done:
		p.done <- p.err
		return p.err
	case <-time.After(d):
		return fmt.Errorf("sipp %s still running after %v", p.name, d)
	}
}

// stop signals sipp (SIGUSR1 is its graceful quit, which writes the final
// statistics) and waits up to d, then kills it.
func (p *sippProc) stop(sig syscall.Signal, d time.Duration) {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(sig)
	if p.wait(d) != nil {
		_ = p.cmd.Process.Kill()
		_ = p.wait(5 * time.Second)
	}
}

func (p *sippProc) tail() string {
	b, _ := os.ReadFile(filepath.Join(p.dir, "sipp.out"))
	errs, _ := filepath.Glob(filepath.Join(p.dir, "*_errors.log"))
	for _, f := range errs {
		e, _ := os.ReadFile(f)
		if len(e) > 1500 {
			e = e[:1500]
		}
		b = append(b, e...)
	}
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

// soakSample is one reading of /metrics.
type soakSample struct {
	at time.Duration
	m  map[string]float64
}

var soakColumns = []string{
	"go_goroutines", "process_resident_memory_bytes", "go_memstats_heap_alloc_bytes",
	"sentral_registrations", "sentral_media_calls", "sentral_cdr_queue_length",
	"sentral_cdr_writes_total", "sentral_cdr_dropped_total", "sentral_cdr_failed_total",
	"sentral_sip_stateless_dropped_total", "sentral_events_dropped_total",
}

func runSoak(t *testing.T, bin, dir, dsn string, dur time.Duration) {
	load := soakLoad{
		regPerSec:   envFloat("SENTRAL_SOAK_REG_RATE", 20),
		callsPerSec: envFloat("SENTRAL_SOAK_CALL_RATE", 2),
		vmPerMin:    envFloat("SENTRAL_SOAK_VM_PER_MIN", 10),
		hold:        envDur("SENTRAL_SOAK_HOLD", 5*time.Second),
		greeting:    envDur("SENTRAL_SOAK_GREETING", 7*time.Second),
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cli := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"--db", dsn}, args...)...)
		cmd.Env = soakEnv()
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("sentral %s: %v\n%s", strings.Join(args, " "), err, errb.String())
		}
		return out.String()
	}

	// Provision: the tenant and 400 extensions with passwords (voicemail on,
	// as imports make them), and the sipp injection files.
	var csv strings.Builder
	csv.WriteString("number,name,password\n")
	for _, r := range [][2]int{{phonesFrom, phonesN}, {calleesFrom, calleesN}, {mboxFrom, mboxN}, {depositFrom, depositN}} {
		for n := r[0]; n < r[0]+r[1]; n++ {
			fmt.Fprintf(&csv, "%d,Soak %d,%s\n", n, n, soakPassword(n))
		}
	}
	write := func(name, body string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	extCSV := write("extensions.csv", csv.String())
	inf := func(name string, lines int, line func(i int) string) string {
		var b strings.Builder
		b.WriteString("SEQUENTIAL\n")
		for i := range lines {
			b.WriteString(line(i) + "\n")
		}
		return write(name, b.String())
	}
	phonesInf := inf("phones.csv", phonesN, func(i int) string { return authField(phonesFrom + i) })
	calleesInf := inf("callees.csv", calleesN, func(i int) string { return authField(calleesFrom + i) })
	// Calls and deposits: caller i (cycling the phones) to callee / mailbox
	// i mod N; 1,200 lines so pairs vary before the file wraps.
	callsInf := inf("calls.csv", 1200, func(i int) string {
		return authField(phonesFrom+i%phonesN) + ";" + strconv.Itoa(calleesFrom+i%calleesN)
	})
	depositorsInf := inf("depositors.csv", depositN, func(i int) string { return authField(depositFrom + i) })
	vmInf := inf("deposits.csv", 1200, func(i int) string {
		return authField(depositFrom+(i*7)%depositN) + ";" + strconv.Itoa(mboxFrom+i%mboxN)
	})
	t0 := time.Now()
	cli("tenant", "add", soakTenant, "--domain", soakDomain, "--ext-range", "2000-2999")
	cli("import", "extensions", extCSV, "--tenant", soakTenant, "-o", "json")
	t.Logf("provisioned tenant %s: %d extensions in %v", soakTenant, phonesN+calleesN+mboxN+depositN, time.Since(t0).Round(time.Millisecond))

	// The server, on 127.0.0.1 only.
	sipPort, admin := soakUDPPort(t), soakTCPAddr(t)
	vmDir := filepath.Join(dir, "voicemail")
	logf, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	srv := exec.Command(bin, "--db", dsn, "--log-format", "json", "serve",
		"--sip-listen", fmt.Sprintf("udp:127.0.0.1:%d", sipPort), "--admin-listen", admin,
		"--phones-listen", "", "--console-listen", "")
	srv.Dir = dir
	// MD5 challenges first: sipp 3.6 computes MD5 only and reads only the
	// first challenge. All load comes from 127.0.0.1, which the per-source
	// guard (50/s) would throttle.
	srv.Env = append(soakEnv(),
		"SENTRAL_SIP_REGISTRAR_DIGEST_ALGORITHMS=MD5,SHA-256",
		"SENTRAL_SIP_GUARD_RATE=5000", "SENTRAL_SIP_GUARD_BURST=5000",
		"SENTRAL_MEDIA_VOICEMAIL_DIR="+vmDir,
		"SENTRAL_MEDIA_RTP_PORTS=47000-47999")
	srv.Stdout, srv.Stderr = logf, logf
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	srvDone := make(chan error, 1)
	go func() { srvDone <- srv.Wait(); logf.Close() }()
	stopServer := func() error {
		if srv.ProcessState != nil {
			return nil
		}
		_ = srv.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-srvDone:
			srvDone <- err
			return err
		case <-time.After(90 * time.Second):
			_ = srv.Process.Kill()
			return errors.New("no exit within 90 s of SIGTERM")
		}
	}
	t.Cleanup(func() { _ = stopServer() })
	metricsURL := "http://" + admin + "/metrics"
	var m0 map[string]float64
	for deadline := time.Now().Add(30 * time.Second); ; {
		if m0, err = scrape(metricsURL); err == nil {
			break
		}
		select {
		case err := <-srvDone:
			t.Fatalf("sentral serve exited: %v\n%s", err, fileTail(filepath.Join(dir, "server.log"), 3000))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no /metrics within 30 s: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	target := fmt.Sprintf("127.0.0.1:%d", sipPort)
	common := func(port int) []string {
		return []string{"-t", "u1", "-i", "127.0.0.1", "-p", strconv.Itoa(port), "-mi", "127.0.0.1",
			"-mp", strconv.Itoa(soakUDPPort(t)), "-buff_size", "4194304", "-nostdin",
			"-key", "domain", soakDomain, "-trace_err", "-trace_stat", "-stf", "stat.csv", "-fd", "10"}
	}
	scenario := func(rel string) string {
		p, err := filepath.Abs(rel)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}

	// The callees register from the UAS's port (the proxy sends to where a
	// binding came from), for an hour, then the UAS answers there.
	uasPort := soakUDPPort(t)
	reg := startSipp(t, "register callees", filepath.Join(dir, "callees"), append([]string{target,
		"-sf", scenario("sipp/register.xml"), "-inf", calleesInf, "-m", strconv.Itoa(calleesN), "-r", "20",
		"-timeout", "30s", "-timeout_error"}, common(uasPort)...)...)
	if err := reg.wait(40 * time.Second); err != nil {
		t.Fatalf("registering the callees: %v\n%s", err, reg.tail())
	}
	// The deposits' callers register from the port their sipp calls from:
	// the media server hangs up through the proxy, which sends in-dialog
	// requests only to registered contacts.
	depositPort := soakUDPPort(t)
	dreg := startSipp(t, "register depositors", filepath.Join(dir, "depositors"), append([]string{target,
		"-sf", scenario("sipp/register.xml"), "-inf", depositorsInf, "-m", strconv.Itoa(depositN), "-r", "20",
		"-timeout", "30s", "-timeout_error"}, common(depositPort)...)...)
	if err := dreg.wait(40 * time.Second); err != nil {
		t.Fatalf("registering the depositors: %v\n%s", err, dreg.tail())
	}
	uas := startSipp(t, "uas", filepath.Join(dir, "uas"), append([]string{
		"-sf", scenario("sipp/uas_answer.xml"), "-rtp_echo", "-timeout", strconv.Itoa(int((dur + 10*time.Minute).Seconds())) + "s"},
		common(uasPort)...)...)
	time.Sleep(time.Second)
	select {
	case err := <-uas.done:
		uas.done <- err
		t.Fatalf("sipp UAS exited: %v\n%s", err, uas.tail())
	default:
	}

	// The load.
	secs := dur.Seconds()
	regN, callN, vmN := int(load.regPerSec*secs), int(load.callsPerSec*secs), int(load.vmPerMin*secs/60)
	rate := func(perSec float64) []string { // sipp -r/-rp for a rate per second
		return []string{"-r", strconv.FormatFloat(perSec*60, 'f', 0, 64), "-rp", "60000"}
	}
	callDir, vmDirSipp := filepath.Join(dir, "calls"), filepath.Join(dir, "deposits")
	for _, d := range []string{callDir, vmDirSipp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := soakPCAP(filepath.Join(callDir, "soak.pcap"), audioSecs, false); err != nil {
		t.Fatal(err)
	}
	if err := soakPCAP(filepath.Join(vmDirSipp, "soak-vm.pcap"), vmSecs, true); err != nil {
		t.Fatal(err)
	}
	sippTimeout := strconv.Itoa(int((dur + 5*time.Minute).Seconds())) + "s"
	start := time.Now()
	var samples []soakSample
	var smu sync.Mutex
	sample := func() {
		m, err := scrape(metricsURL)
		if err != nil {
			t.Logf("scrape at %v: %v", time.Since(start).Round(time.Second), err)
			return
		}
		smu.Lock()
		samples = append(samples, soakSample{at: time.Since(start), m: m})
		smu.Unlock()
	}
	sample()
	regs := startSipp(t, "registrations", filepath.Join(dir, "registrations"), append(append([]string{target,
		"-sf", scenario("sipp/register.xml"), "-inf", phonesInf, "-m", strconv.Itoa(regN), "-l", "200",
		"-recv_timeout", "10000", "-timeout", sippTimeout}, rate(load.regPerSec)...), common(soakUDPPort(t))...)...)
	calls := startSipp(t, "calls", callDir, append(append([]string{target,
		"-sf", scenario("soak/uac_call.xml"), "-inf", callsInf, "-m", strconv.Itoa(callN), "-l", "500",
		"-d", strconv.Itoa(int(load.hold.Milliseconds())), "-recv_timeout", "30000", "-timeout", sippTimeout, "-trace_logs"},
		rate(load.callsPerSec)...), common(soakUDPPort(t))...)...)
	deposits := startSipp(t, "deposits", vmDirSipp, append(append([]string{target,
		"-sf", scenario("soak/uac_voicemail.xml"), "-inf", vmInf, "-m", strconv.Itoa(vmN), "-l", "200",
		"-d", strconv.Itoa(int(load.greeting.Milliseconds())), "-recv_timeout", "40000", "-timeout", sippTimeout, "-trace_logs"},
		rate(load.vmPerMin/60)...), common(depositPort)...)...)
	t.Logf("load for %v: %.0f REGISTER/s (%d), %.1f calls/s (%d, %v each), %.0f deposits/min (%d)",
		dur, load.regPerSec, regN, load.callsPerSec, callN, load.hold, load.vmPerMin, vmN)

	// Sample every 10 s until the three load generators are done.
	uacs := []*sippProc{regs, calls, deposits}
	allDone := make(chan struct{})
	go func() {
		for _, p := range uacs {
			_ = p.wait(dur + 6*time.Minute)
		}
		close(allDone)
	}()
	tick := time.NewTicker(sampleEvery)
	lastLog := time.Now()
sampling:
	for {
		select {
		case <-tick.C:
			sample()
			if time.Since(lastLog) >= time.Minute {
				lastLog = time.Now()
				smu.Lock()
				s := samples[len(samples)-1]
				smu.Unlock()
				t.Logf("%4.0fs goroutines=%.0f rss=%.1fMB heap=%.1fMB registrations=%.0f media-calls=%.0f cdr-writes=%.0f",
					s.at.Seconds(), s.m["go_goroutines"], s.m["process_resident_memory_bytes"]/1e6,
					s.m["go_memstats_heap_alloc_bytes"]/1e6, s.m["sentral_registrations"], s.m["sentral_media_calls"],
					s.m["sentral_cdr_writes_total"])
			}
		case <-allDone:
			break sampling
		case err := <-srvDone:
			t.Fatalf("sentral serve exited during the load: %v\n%s", err, fileTail(filepath.Join(dir, "server.log"), 3000))
		}
	}
	tick.Stop()
	loadEnd := time.Since(start)
	uas.stop(syscall.SIGUSR1, 10*time.Second)

	// Drain: media calls ended and the call record queue written.
	var drained map[string]float64
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(time.Second) {
		m, err := scrape(metricsURL)
		if err == nil && m["sentral_media_calls"] == 0 && m["sentral_cdr_queue_length"] == 0 {
			drained = m
			break
		}
	}
	if drained == nil {
		t.Errorf("media calls or call record queue not drained within 60 s of the load's end")
	}
	time.Sleep(5 * time.Second)
	after, _ := scrape(metricsURL)

	// What sipp did.
	type gen struct {
		p                           *sippProc
		ok, failed, placed, retrans int
	}
	gens := []*gen{{p: regs}, {p: calls}, {p: deposits}}
	for _, g := range gens {
		st, err := sippStats(filepath.Join(g.p.dir, "stat.csv"))
		if err != nil {
			t.Errorf("sipp %s: %v\n%s", g.p.name, err, g.p.tail())
			continue
		}
		g.ok, g.failed = statInt(st, "SuccessfulCall(C)"), statInt(st, "FailedCall(C)")
		g.placed, g.retrans = statInt(st, "OutgoingCall(C)"), statInt(st, "Retransmissions(C)")
		if g.p.err != nil || g.failed > 0 {
			t.Errorf("sipp %s: exit %v, %d failed\n%s", g.p.name, g.p.err, g.failed, g.p.tail())
		}
	}
	callOK, err := sippOK(callDir)
	if err != nil {
		t.Fatal(err)
	}
	vmOK, err := sippOK(vmDirSipp)
	if err != nil {
		t.Fatal(err)
	}
	if len(callOK) != gens[1].ok || len(vmOK) != gens[2].ok {
		t.Errorf("sipp logged %d calls and %d deposits completed, its statistics say %d and %d",
			len(callOK), len(vmOK), gens[1].ok, gens[2].ok)
	}

	// Call records: exactly one per completed call and deposit, by Call-ID.
	from := t0.Add(-time.Minute).UTC().Format(time.RFC3339)
	var cdrs []struct {
		CallID      string `json:"call_id"`
		State       string `json:"state"`
		Disposition string `json:"disposition"`
		Caller      string `json:"caller"`
		Callee      string `json:"callee"`
	}
	if err := json.Unmarshal([]byte(cli("cdr", "list", "--tenant", soakTenant, "--from", from, "-o", "json")), &cdrs); err != nil {
		t.Fatalf("cdr list: %v", err)
	}
	byID := map[string]int{}
	open, answered := 0, 0
	for _, c := range cdrs {
		byID[c.CallID]++
		if c.State != "closed" {
			open++
		}
		if c.Disposition == "answered" {
			answered++
		}
	}
	var noRecord, dupRecord []string
	wrongParty := 0
	placed := map[string]bool{}
	for _, c := range append(append([][3]string{}, callOK...), vmOK...) {
		placed[c[0]] = true
		switch byID[c[0]] {
		case 1:
		case 0:
			noRecord = append(noRecord, c[0])
		default:
			dupRecord = append(dupRecord, c[0])
		}
	}
	cdrByID := map[string][2]string{}
	for _, c := range cdrs {
		cdrByID[c.CallID] = [2]string{c.Caller, c.Callee}
	}
	for _, c := range append(append([][3]string{}, callOK...), vmOK...) {
		if p, ok := cdrByID[c[0]]; ok && (p[0] != c[1] || p[1] != c[2]) {
			wrongParty++
		}
	}
	extra := 0
	for id := range byID {
		if !placed[id] {
			extra++
		}
	}
	if len(noRecord) > 0 || len(dupRecord) > 0 || open > 0 || wrongParty > 0 {
		t.Errorf("call records: %d completed calls without a record (e.g. %v), %d with more than one (e.g. %v), %d still open, %d with other caller/callee",
			len(noRecord), first(noRecord, 3), len(dupRecord), first(dupRecord, 3), open, wrongParty)
	}

	// Voicemail: one message per deposit, in its mailbox.
	var msgs []struct {
		Mailbox        string `json:"mailbox"`
		CallerNumber   string `json:"caller_number"`
		CallID         string `json:"call_id"`
		DurationMillis int64  `json:"duration_millis"`
	}
	if err := json.Unmarshal([]byte(cli("voicemail", "list", "--tenant", soakTenant, "-o", "json")), &msgs); err != nil {
		t.Fatalf("voicemail list: %v", err)
	}
	want, got := map[string]int{}, map[string]int{}
	for _, d := range vmOK {
		want[d[2]+" from "+d[1]]++
	}
	var durMin, durMax int64 = math.MaxInt64, 0
	for _, m := range msgs {
		got[m.Mailbox+" from "+m.CallerNumber]++
		durMin, durMax = min(durMin, m.DurationMillis), max(durMax, m.DurationMillis)
	}
	vmMismatch := 0
	for k, n := range want {
		if got[k] != n {
			vmMismatch++
		}
	}
	for k, n := range got {
		if want[k] != n {
			vmMismatch++
		}
	}
	if len(msgs) != len(vmOK) || vmMismatch > 0 {
		t.Errorf("voicemail: %d messages stored, %d deposits completed, %d mailbox/caller pairs differ", len(msgs), len(vmOK), vmMismatch)
	}
	if len(msgs) == 0 {
		durMin = 0
	}

	// Server stops cleanly.
	if err := stopServer(); err != nil {
		t.Errorf("sentral serve after SIGTERM: %v", err)
	}

	// The series: CSV, and the flatness verdict.
	smu.Lock()
	defer smu.Unlock()
	var b strings.Builder
	b.WriteString("elapsed_s," + strings.Join(soakColumns, ",") + "\n")
	for _, s := range samples {
		b.WriteString(strconv.FormatFloat(s.at.Seconds(), 'f', 1, 64))
		for _, c := range soakColumns {
			b.WriteString("," + strconv.FormatFloat(s.m[c], 'f', -1, 64))
		}
		b.WriteString("\n")
	}
	csvPath := write("soak.csv", b.String())
	warm := min(time.Minute, dur/3)
	pick := func(name string) series {
		var s series
		for _, x := range samples {
			if x.at >= warm && x.at <= dur+sampleEvery/2 {
				s.at = append(s.at, x.at.Seconds())
				s.v = append(s.v, x.m[name])
			}
		}
		return s
	}
	gor, rss, heap := pick("go_goroutines"), pick("process_resident_memory_bytes"), pick("go_memstats_heap_alloc_bytes")
	g1, g3 := gor.thirds()
	r1, r3 := rss.thirds()
	h1, h3 := heap.thirds()
	hf1, hf3 := heap.minFirstLast()
	gorOK := g3 <= g1*1.10+20
	// The heap is a saw-tooth at GOGC 400 (5-8 MB after a collection,
	// 17-30 MB before the next, a cycle every 30-60 s), so the mean of a
	// third moves by a third with where its samples fall; the lowest sample
	// of a third, the floor after a collection, is what tracks live memory.
	heapOK := hf3 <= hf1*1.25
	if !gorOK {
		t.Errorf("goroutines grew: first third %.0f, last third %.0f (bound: +10 %% + 20)", g1, g3)
	}
	if !heapOK {
		t.Errorf("heap grew: lowest sample of the first third %.1f MB, of the last third %.1f MB (bound: +25 %%)", hf1/1e6, hf3/1e6)
	}
	lost := func(m map[string]float64, k string) float64 { return m[k] - m0[k] }
	verdict := func(ok bool) string {
		if ok {
			return "ok"
		}
		return "FAIL"
	}
	var sum strings.Builder
	row := func(k, f string, a ...any) { fmt.Fprintf(&sum, "| %s | %s |\n", k, fmt.Sprintf(f, a...)) }
	fmt.Fprintf(&sum, "\nsoak %s: %v of load (%v with the tail), %d CPUs, %s\n\n| what | figure |\n| --- | --- |\n",
		t.Name(), dur, loadEnd.Round(time.Second), runtime.NumCPU(), dsnKind(dsn))
	row("offered", "%.0f REGISTER/s, %.1f calls/s (hold %v, %d s PCMU echoed), %.0f voicemail deposits/min (%v greeting wait, %d s PCMU + #)",
		load.regPerSec, load.callsPerSec, load.hold, audioSecs, load.vmPerMin, load.greeting, vmSecs)
	for _, g := range gens {
		row("sipp "+g.p.name, "%d placed, %d successful, %d failed, %d retransmissions", g.placed, g.ok, g.failed, g.retrans)
	}
	row("call records", "%d in the store; completed calls+deposits %d: %d without a record, %d with several, %d other parties; %d open; %d answered; %d records of calls sipp did not complete",
		len(cdrs), len(placed), len(noRecord), len(dupRecord), wrongParty, open, answered, extra)
	row("voicemail", "%d messages stored for %d deposits completed (%d pairs differ); message length %d–%d ms",
		len(msgs), len(vmOK), vmMismatch, durMin, durMax)
	gw := greetingWaits(filepath.Join(dir, "server.log"))
	if len(gw) > 0 {
		row("deposit answered → recording started (server log)", "min %v, median %v, max %v over %d deposits",
			gw[0], gw[len(gw)/2], gw[len(gw)-1], len(gw))
	}
	row("server log", "%d lines at warn or above", logLevels(filepath.Join(dir, "server.log")))
	row("goroutines (mean, first / last third)", "%.0f / %.0f, slope %+.2f/min (%s); before load %.0f, after drain %.0f",
		g1, g3, gor.slope(), verdict(gorOK), m0["go_goroutines"], after["go_goroutines"])
	row("heap alloc (lowest sample, first / last third)", "%.1f / %.1f MB (%s); mean %.1f / %.1f MB, slope %+.3f MB/min",
		hf1/1e6, hf3/1e6, verdict(heapOK), h1/1e6, h3/1e6, heap.slope()/1e6)
	row("RSS (mean, first / last third)", "%.1f / %.1f MB, slope %+.3f MB/min; before load %.1f, after drain %.1f MB",
		r1/1e6, r3/1e6, rss.slope()/1e6, m0["process_resident_memory_bytes"]/1e6, after["process_resident_memory_bytes"]/1e6)
	row("losses (counters over the run)", "cdr dropped %.0f, cdr failed %.0f, stateless REGISTERs dropped %.0f, events dropped %.0f",
		lost(after, "sentral_cdr_dropped_total"), lost(after, "sentral_cdr_failed_total"),
		lost(after, "sentral_sip_stateless_dropped_total"), lost(after, "sentral_events_dropped_total"))
	row("samples", "%d (every %v; flatness over %d from %v to %v), CSV %s", len(samples), sampleEvery, len(gor.v), warm, dur, csvPath)
	write("summary.md", sum.String())
	t.Log(sum.String())
	for _, k := range []string{"sentral_cdr_dropped_total", "sentral_cdr_failed_total"} {
		if lost(after, k) > 0 {
			t.Errorf("%s grew by %.0f: call records lost", k, lost(after, k))
		}
	}
}

func first(s []string, n int) []string { return s[:min(n, len(s))] }

func dsnKind(dsn string) string {
	if strings.HasPrefix(dsn, "postgres") {
		return "PostgreSQL"
	}
	return "SQLite"
}

// soakEnv is this process's environment without SENTRAL_* settings (the
// gate and the soak's own must not configure the server).
func soakEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SENTRAL_") {
			env = append(env, kv)
		}
	}
	return env
}

func envFloat(name string, def float64) float64 {
	if v, err := strconv.ParseFloat(os.Getenv(name), 64); err == nil && v > 0 {
		return v
	}
	return def
}

func envDur(name string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func fileTail(name string, n int) string {
	b, _ := os.ReadFile(name)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// greetingWaits reads, from the server's JSON log, how long each deposit
// took from the media server's answer to the start of the recording (the
// time in the message file's name): the greeting and the tone, plus any
// delay before them. Sorted.
func greetingWaits(logFile string) []time.Duration {
	raw, err := os.ReadFile(logFile)
	if err != nil {
		return nil
	}
	answered := map[string]time.Time{}
	var out []time.Duration
	for line := range strings.Lines(string(raw)) {
		var l struct {
			TS     time.Time `json:"ts"`
			Msg    string    `json:"msg"`
			CallID string    `json:"call_id"`
			App    string    `json:"app"`
			Path   string    `json:"path"`
		}
		if json.Unmarshal([]byte(line), &l) != nil {
			continue
		}
		switch {
		case l.Msg == "call answered" && l.App == "deposit":
			answered[l.CallID] = l.TS
		case strings.HasPrefix(l.Msg, "voicemail: ") && strings.Contains(l.Path, "/msg-"):
			name := l.Path[strings.LastIndex(l.Path, "/msg-")+5:]
			ns, err := strconv.ParseInt(name[:max(strings.IndexByte(name, '-'), 0)], 10, 64)
			if a, ok := answered[l.CallID]; ok && err == nil {
				out = append(out, time.Unix(0, ns).Sub(a).Round(10*time.Millisecond))
			}
		}
	}
	slices.Sort(out)
	return out
}

// logLevels counts the server's log lines at warn or above.
func logLevels(logFile string) int {
	raw, _ := os.ReadFile(logFile)
	n := 0
	for line := range strings.Lines(string(raw)) {
		for _, l := range []string{`"level":"warn"`, `"level":"error"`, `"level":"fatal"`, `"level":"panic"`, `"level":"dpanic"`} {
			if strings.Contains(line, l) {
				n++
			}
		}
	}
	return n
}
