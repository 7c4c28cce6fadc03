package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"github.com/sentralpbx/sentral/store/pgtest"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The trunk, emergency and DECT tests run Sentral with two SIP listeners,
// udp on 127.0.0.1 and on [::1], because trunks are recognised by source
// address: the operator (sipp) must come from another address than the
// phones (sipp). All processes bind loopback only.

// e2ePassword is the SIP password of the extensions in these tests.
const e2ePassword = "Korrekt-Hest-42"

// pbx is a `sentral serve` listening for SIP on udp 127.0.0.1 (v4) and
// udp [::1] (v6), with the digest order sipp 3.6 needs (MD5 first).
type pbx struct {
	*server
	v4, v6 string // "127.0.0.1:PORT", "[::1]:PORT"
}

// startPBX starts the server; env adds SENTRAL_* settings. startServer
// always listens on loopbackSIP, so this variant passes its own
// --sip-listen and reuses the rest of server.
func startPBX(t *testing.T, env ...string) *pbx {
	t.Helper()
	return startPBXOn(t, "", env...)
}

// eachStore runs a scenario on SQLite and on PostgreSQL (skipped loudly
// without SENTRAL_TEST_PG, failed under CI=true): calls and their records
// go through whichever store the server runs on.
func eachStore(t *testing.T, scenario func(t *testing.T, dsn string)) {
	t.Run("sqlite", func(t *testing.T) { scenario(t, "") })
	t.Run("postgres", func(t *testing.T) { scenario(t, pgtest.DSN(t, "sentral_e2e")) })
}

// startPBXOn is startPBX on the store dsn ("" for a fresh SQLite file).
func startPBXOn(t *testing.T, dsn string, env ...string) *pbx {
	t.Helper()
	sippBinary(t)
	dir := t.TempDir()
	if dsn == "" {
		dsn = filepath.Join(dir, "pbx.db")
	}
	p := &pbx{v4: fmt.Sprintf("127.0.0.1:%d", port4(t)), v6: fmt.Sprintf("[::1]:%d", port6(t))}
	p.server = startServerSIP(t, dir, dsn, "udp:"+p.v4+",udp:"+p.v6,
		append([]string{"SENTRAL_SIP_REGISTRAR_DIGEST_ALGORITHMS=MD5,SHA-256"}, env...)...)
	return p
}

// synced waits until the running server's catalog reflects every change
// the CLI made to the store.
func (s *server) synced() {
	s.t.Helper()
	var h struct {
		ChangeSeq  int64 `json:"change_seq"`
		AppliedSeq int64 `json:"applied_seq"`
	}
	s.waitFor("catalog catches up with the CLI", func() bool {
		s.get("/healthz", &h)
		return h.AppliedSeq == h.ChangeSeq && h.ChangeSeq > 0
	})
}

// handedOut records the UDP ports the helpers below have handed out in
// this test process. The kernel hands a freed port out again, and sipp
// binds ports beside its media port (video two above audio), so a port
// chosen for one sipp but not bound yet (a phone's port between its
// REGISTER and its UAS) could otherwise be taken by another.
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// udpPort returns a free UDP port on ip (127.0.0.1 or ::1) such that the
// span ports from it are free and none was handed out before.
func udpPort(t *testing.T, ip string, span int) int {
	t.Helper()
	network := "udp4"
	if strings.Contains(ip, ":") {
		network = "udp6"
	}
	handedOut.Lock()
	defer handedOut.Unlock()
	for range 100 {
		first, err := net.ListenPacket(network, net.JoinHostPort(ip, "0"))
		if err != nil {
			t.Fatalf("%s on %s unusable (these tests need 127.0.0.1 and ::1): %v", network, ip, err)
		}
		base := first.LocalAddr().(*net.UDPAddr).Port
		held, ok := []net.PacketConn{first}, base+span-1 <= 65535
		for k := 0; ok && k < span; k++ {
			if handedOut.ports[base+k] {
				ok = false
			} else if k > 0 {
				pc, err := net.ListenPacket(network, net.JoinHostPort(ip, strconv.Itoa(base+k)))
				if ok = err == nil; ok {
					held = append(held, pc)
				}
			}
		}
		for _, pc := range held {
			pc.Close()
		}
		if ok {
			for k := range span {
				handedOut.ports[base+k] = true
			}
			return base
		}
	}
	t.Fatalf("no free run of %d UDP ports on %s", span, ip)
	return 0
}

// port4 and port6 hand out a SIP port on 127.0.0.1 and ::1.
func port4(t *testing.T) int { return udpPort(t, "127.0.0.1", 1) }
func port6(t *testing.T) int { return udpPort(t, "::1", 1) }

// sippSpec is one sipp process: scenario (relative to test/e2e), the
// address it binds (ip, port), the target, how many calls, extra options.
type sippSpec struct {
	scenario string
	ip       string // 127.0.0.1 or ::1
	port     int
	target   string // Sentral's listener, host:port
	calls    int    // -m; 0 means 1
	extra    []string
}

// runSipp starts sipp with its message trace (-trace_msg) in its own
// directory, on any address and scenario (startSipp is the short form for
// the callco tests). wait fails the test unless sipp exits 0.
func runSipp(t *testing.T, s *server, sp sippSpec) *sippRun {
	t.Helper()
	bin := sippBinary(t)
	scen, err := filepath.Abs(sp.scenario)
	if err != nil {
		t.Fatal(err)
	}
	if sp.calls == 0 {
		sp.calls = 1
	}
	r := &sippRun{name: fmt.Sprintf("%s on %s port %d", filepath.Base(sp.scenario), sp.ip, sp.port), dir: t.TempDir(), done: make(chan struct{})}
	r.args = append([]string{sp.target, "-sf", scen, "-t", "u1",
		"-i", sp.ip, "-p", strconv.Itoa(sp.port), "-mi", sp.ip, "-mp", strconv.Itoa(udpPort(t, sp.ip, 4)), "-cp", strconv.Itoa(port4(t)),
		"-m", strconv.Itoa(sp.calls), "-timeout", "20s", "-timeout_error", "-trace_err", "-trace_msg", "-nostdin"}, sp.extra...)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	cmd := exec.CommandContext(ctx, bin, r.args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = r.dir, &r.out, &r.out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start sipp: %v", err)
	}
	go func() {
		defer cancel()
		defer close(r.done)
		err := cmd.Wait()
		var ee *exec.ExitError
		switch {
		case errors.As(err, &ee):
			r.code = ee.ExitCode()
		case err != nil:
			r.code = -1
		}
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(5 * time.Second):
		}
	})
	return r
}

// startUAS starts a sipp UAS and waits until it has bound its port, so a
// request sent next finds it.
func startUAS(t *testing.T, s *server, sp sippSpec) *sippRun {
	t.Helper()
	r := runSipp(t, s, sp)
	waitUDPBound(t, sp.ip, sp.port, r)
	return r
}

// waitUDPBound polls /proc/net/udp{,6} until a socket is bound to port
// (it never binds the port itself, which would race with sipp). Without
// /proc it sleeps as the other sipp tests do.
func waitUDPBound(t *testing.T, ip string, port int, r *sippRun) {
	t.Helper()
	file := "/proc/net/udp"
	if strings.Contains(ip, ":") {
		file = "/proc/net/udp6"
	}
	want := fmt.Sprintf(":%04X ", port)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(file)
		if err != nil {
			time.Sleep(300 * time.Millisecond)
			return
		}
		sc := bufio.NewScanner(strings.NewReader(string(b)))
		for sc.Scan() {
			if f := strings.Fields(sc.Text()); len(f) > 1 && strings.HasSuffix(f[1]+" ", want) {
				return
			}
		}
		select {
		case <-r.done:
			t.Fatalf("%s exited (%d) before binding its port:\n%s", r.name, r.code, lastBytes(r.out.String(), 2000))
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("%s has not bound %s port %d within 5s", r.name, ip, port)
}

// register registers an extension from ip:port with test/sipp's digest
// REGISTER scenario (the port a UAS answers on next: Sentral sends to where
// a binding came from), waiting for sipp to exit so the port is free.
func register(t *testing.T, s *server, target, domain, ext, ip string, port int) {
	t.Helper()
	runSipp(t, s, sippSpec{scenario: "../sipp/register_auth.xml", ip: ip, port: port, target: target,
		extra: []string{"-s", ext, "-au", ext, "-ap", e2ePassword, "-key", "domain", domain, "-recv_timeout", "5000"}}).wait(t, s)
}

// sippMsg is one message from sipp's -trace_msg log.
type sippMsg struct {
	Sent  bool   // sent by sipp, else received
	Start string // request or status line
	Hdrs  []string
	Raw   string
}

// Header returns the values of a header (case-insensitive name).
func (m sippMsg) Header(name string) []string {
	var out []string
	for _, h := range m.Hdrs {
		n, v, ok := strings.Cut(h, ":")
		if ok && strings.EqualFold(strings.TrimSpace(n), name) {
			out = append(out, strings.TrimSpace(v))
		}
	}
	return out
}

// First returns a header's first value, "" when absent.
func (m sippMsg) First(name string) string {
	if v := m.Header(name); len(v) > 0 {
		return v[0]
	}
	return ""
}

// Method is the request's method, "" for responses.
func (m sippMsg) Method() string {
	if strings.HasPrefix(m.Start, "SIP/2.0 ") {
		return ""
	}
	method, _, _ := strings.Cut(m.Start, " ")
	return method
}

// Status is the response's code and reason, 0 for requests.
func (m sippMsg) Status() (int, string) {
	rest, ok := strings.CutPrefix(m.Start, "SIP/2.0 ")
	if !ok {
		return 0, ""
	}
	c, reason, _ := strings.Cut(rest, " ")
	code, _ := strconv.Atoi(c)
	return code, reason
}

var uriUser = regexp.MustCompile(`^[A-Z]+ sips?:([^@;> ]+)@`)

// RURIUser is the request-URI's user part.
func (m sippMsg) RURIUser() string {
	if mm := uriUser.FindStringSubmatch(m.Start); mm != nil {
		return mm[1]
	}
	return ""
}

// messages parses sipp's message trace (sent and received, in order).
func (r *sippRun) messages(t *testing.T) []sippMsg {
	t.Helper()
	logs, _ := filepath.Glob(filepath.Join(r.dir, "*messages.log"))
	var out []sippMsg
	for _, l := range logs {
		b, err := os.ReadFile(l)
		if err != nil {
			t.Fatal(err)
		}
		for _, block := range strings.Split(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n-----------------------------------------------") {
			var m sippMsg
			lines := strings.Split(block, "\n")
			i := 0
			for ; i < len(lines); i++ {
				l := lines[i]
				if strings.Contains(l, "message sent") || strings.Contains(l, "message received") {
					m.Sent = strings.Contains(l, "message sent")
					break
				}
			}
			if i == len(lines) {
				continue
			}
			for i++; i < len(lines) && strings.TrimSpace(lines[i]) == ""; i++ {
			}
			if i == len(lines) {
				continue
			}
			m.Start = strings.TrimSpace(lines[i])
			for i++; i < len(lines) && strings.TrimSpace(lines[i]) != ""; i++ {
				m.Hdrs = append(m.Hdrs, lines[i])
			}
			m.Raw = strings.Join(lines, "\n")
			out = append(out, m)
		}
	}
	return out
}

// received lists what sipp received, requests of method (responses when
// method is "").
func (r *sippRun) received(t *testing.T, method string) []sippMsg {
	t.Helper()
	var out []sippMsg
	for _, m := range r.messages(t) {
		if !m.Sent && m.Method() == method {
			out = append(out, m)
		}
	}
	return out
}

// finalStatus is the last final (>= 200) response sipp received to an
// INVITE.
func (r *sippRun) finalStatus(t *testing.T) (int, string) {
	t.Helper()
	code, reason := 0, ""
	for _, m := range r.received(t, "") {
		if c, rs := m.Status(); c >= 200 && strings.HasSuffix(m.First("CSeq"), "INVITE") {
			code, reason = c, rs
		}
	}
	return code, reason
}

// invite returns the one INVITE a UAS received, failing unless there was
// exactly one.
func (r *sippRun) invite(t *testing.T) sippMsg {
	t.Helper()
	ins := r.received(t, "INVITE")
	if len(ins) != 1 {
		t.Fatalf("%s received %d INVITEs, want 1:\n%s", r.name, len(ins), lastBytes(r.messagesText(), 4000))
	}
	return ins[0]
}

func (r *sippRun) messagesText() string {
	logs, _ := filepath.Glob(filepath.Join(r.dir, "*messages.log"))
	var sb strings.Builder
	for _, l := range logs {
		b, _ := os.ReadFile(l)
		sb.Write(b)
	}
	return sb.String()
}

// noLeaks fails the test if sipp received credentials meant for Sentral.
func noLeaks(t *testing.T, r *sippRun) {
	t.Helper()
	for _, m := range r.messages(t) {
		if m.Sent {
			continue
		}
		for _, h := range []string{"Proxy-Authorization", "Authorization"} {
			if v := m.Header(h); len(v) > 0 {
				t.Errorf("%s received %s with %s: %s", r.name, m.Start, h, v[0])
			}
		}
	}
}
