// Package e2e drives the real sentral binary: a server process and CLI
// processes sharing one store, exactly as an admin uses them.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/sentralpbx/sentral/store/pgtest"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var binary string

// loopbackSIP makes every test server listen for SIP on free loopback ports.
const loopbackSIP = "udp:127.0.0.1:0,tcp:127.0.0.1:0"

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sentral-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	binary = filepath.Join(dir, "sentral")
	build := exec.Command("go", "build", "-o", binary, "../../cmd/sentral")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build sentral:", err)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is a running `sentral serve` process.
type server struct {
	cmd  *exec.Cmd
	base string
	mu   sync.Mutex
	logs bytes.Buffer
	done chan error
	dsn  string
	dir  string
	t    *testing.T
}

type syncWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// startServer runs `sentral serve` in dir; dsn "" means the built-in
// default; env adds SENTRAL_* settings (e.g. MD5-first challenges for sipp).
func startServer(t *testing.T, dir, dsn string, env ...string) *server {
	t.Helper()
	return startServerSIP(t, dir, dsn, loopbackSIP, env...)
}

// startServerSIP is startServer with the given SIP listeners.
func startServerSIP(t *testing.T, dir, dsn, sipListen string, env ...string) *server {
	t.Helper()
	addr := freeAddr(t)
	args := []string{"--log-format", "json"}
	if dsn != "" {
		args = append(args, "--db", dsn)
	}
	// SIP on kernel-chosen loopback ports: the default 5060 would collide
	// between servers and with anything else on the machine.
	args = append(args, "serve", "--admin-listen", addr, "--sip-listen", sipListen, "--phones-listen", "127.0.0.1:0", "--console-listen", "127.0.0.1:0")
	s := &server{base: "http://" + addr, done: make(chan error, 1), dsn: dsn, dir: dir, t: t}
	s.cmd = exec.Command(binary, args...)
	s.cmd.Dir = dir
	// Calls a test leaves up would hold a stopping server for the default
	// minute; a test of draining passes its own drain timeout after this.
	s.cmd.Env = append(append(cleanEnv(), "SENTRAL_RUNTIME_DRAIN_TIMEOUT=3s"), env...)
	s.cmd.Stderr = syncWriter{&s.mu, &s.logs}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	t.Cleanup(func() { s.stop(t) })
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-s.done:
			t.Fatalf("server exited early: %v\n%s", err, s.logText())
		default:
		}
		if resp, err := http.Get(s.base + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("server not healthy within 20s\n%s", s.logText())
	return nil
}

func (s *server) logText() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logs.String()
}

// stop sends SIGTERM and waits for a clean exit.
func (s *server) stop(t *testing.T) {
	if s.cmd.ProcessState != nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("server exit after SIGTERM: %v\n%s", err, s.logText())
		}
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		t.Errorf("server did not stop within 15s of SIGTERM\n%s", s.logText())
	}
}

// cleanEnv keeps the caller's PATH and HOME but no SENTRAL_* settings.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SENTRAL_") {
			env = append(env, kv)
		}
	}
	return env
}

// cli runs the sentral binary as a separate process against the server's store.
func (s *server) cli(args ...string) (string, string, int) {
	s.t.Helper()
	full := args
	if s.dsn != "" {
		full = append([]string{"--db", s.dsn}, args...)
	}
	cmd := exec.Command(binary, full...)
	cmd.Dir = s.dir
	cmd.Env = cleanEnv()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		s.t.Fatalf("run sentral %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

func (s *server) mustCLI(args ...string) string {
	s.t.Helper()
	out, errs, code := s.cli(args...)
	if code != 0 {
		s.t.Fatalf("sentral %s: exit %d\n%s", strings.Join(args, " "), code, errs)
	}
	return out
}

func (s *server) get(path string, v any) int {
	s.t.Helper()
	resp, err := http.Get(s.base + path)
	if err != nil {
		s.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if v != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, v); err != nil {
			s.t.Fatalf("GET %s: %v in %s", path, err, body)
		}
	}
	return resp.StatusCode
}

// waitFor polls the API until cond holds, returning how long it took. The
// bound is generous so a loaded machine does not fail the test; the latency
// itself is logged and measured in bench/.
func (s *server) waitFor(what string, cond func() bool) time.Duration {
	s.t.Helper()
	start := time.Now()
	for time.Since(start) < 10*time.Second {
		if cond() {
			return time.Since(start)
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.t.Fatalf("%s: not seen by the running server within 10s\n%s", what, s.logText())
	return 0
}

type extView struct {
	Number         string `json:"number"`
	DisplayName    string `json:"display_name"`
	HasCredentials bool   `json:"has_credentials"`
}

// changesReachServer is the scenario both stores must pass: every CLI write
// becomes visible in the running server without a restart.
func changesReachServer(t *testing.T, s *server) {
	s.mustCLI("tenant", "add", "fjordvik", "--domain", "fjordvik.sentral.test", "--ext-range", "2000-2999")
	lat := s.waitFor("tenant add", func() bool { return s.get("/api/v1/tenants/fjordvik", nil) == http.StatusOK })
	t.Logf("tenant add visible after %s", lat)

	s.mustCLI("ext", "add", "2101", "--tenant", "fjordvik", "--name", "Kari Nordmann")
	var e extView
	lat = s.waitFor("ext add", func() bool { return s.get("/api/v1/tenants/fjordvik/extensions/2101", &e) == http.StatusOK })
	t.Logf("ext add visible after %s", lat)
	if e.DisplayName != "Kari Nordmann" || e.HasCredentials {
		t.Errorf("extension as served: %+v", e)
	}

	out, errs, code := s.cli("ext", "passwd", "2101", "--tenant", "fjordvik", "--generate")
	if code != 0 {
		t.Fatalf("ext passwd: exit %d: %s", code, errs)
	}
	if strings.TrimSpace(out) == "" {
		t.Error("ext passwd --generate printed no password")
	}
	lat = s.waitFor("ext passwd", func() bool {
		s.get("/api/v1/tenants/fjordvik/extensions/2101", &e)
		return e.HasCredentials
	})
	t.Logf("ext passwd visible after %s", lat)

	s.mustCLI("ext", "update", "2101", "--tenant", "fjordvik", "--name", "Kari Ødegård")
	lat = s.waitFor("ext update", func() bool {
		s.get("/api/v1/tenants/fjordvik/extensions/2101", &e)
		return e.DisplayName == "Kari Ødegård"
	})
	t.Logf("ext update visible after %s", lat)

	s.mustCLI("ext", "remove", "2101", "--tenant", "fjordvik")
	lat = s.waitFor("ext remove", func() bool { return s.get("/api/v1/tenants/fjordvik/extensions/2101", nil) == http.StatusNotFound })
	t.Logf("ext remove visible after %s", lat)

	var h struct {
		Status     string `json:"status"`
		ChangeSeq  int64  `json:"change_seq"`
		AppliedSeq int64  `json:"applied_seq"`
	}
	s.waitFor("applied_seq catches up", func() bool {
		s.get("/healthz", &h)
		return h.AppliedSeq == h.ChangeSeq && h.ChangeSeq > 0
	})
	if h.Status != "ok" {
		t.Errorf("health status %q", h.Status)
	}
}

func TestDefaultStoreIsCreatedOnFirstStart(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir, "")
	if _, err := os.Stat(filepath.Join(dir, "var", "sentral.db")); err != nil {
		t.Fatalf("default store ./var/sentral.db not created: %v", err)
	}
	var h struct{ Store string }
	if s.get("/healthz", &h) != http.StatusOK || h.Store != "sqlite" {
		t.Fatalf("healthz store = %q", h.Store)
	}
	s.stop(t)
	if !strings.Contains(s.logText(), `"stopped"`) {
		t.Errorf("no clean-stop log line:\n%s", s.logText())
	}
	// A second start on the same file migrates nothing and keeps the data.
	startServer(t, dir, "")
}

func TestCLIChangesReachServerSQLite(t *testing.T) {
	dir := t.TempDir()
	changesReachServer(t, startServer(t, dir, filepath.Join(dir, "pbx.db")))
}

func TestCLIChangesReachServerPostgres(t *testing.T) {
	changesReachServer(t, startServer(t, t.TempDir(), pgtest.DSN(t, "sentral_e2e")))
}

func TestAdminAddressInUseIsAUserError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "--db", filepath.Join(dir, "x.db"), "serve", "--admin-listen", ln.Addr().String(), "--sip-listen", loopbackSIP, "--phones-listen", "127.0.0.1:0", "--console-listen", "127.0.0.1:0")
	cmd.Env = cleanEnv()
	out, err := cmd.CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), "--admin-listen") {
		t.Fatalf("want exit 1 naming --admin-listen, got %v:\n%s", err, out)
	}
}
