// Package sipp runs the sipp scenarios in this directory against a SIP
// server started in-process over a throwaway SQLite store, wired the way
// `sentral serve` wires it: catalog, digest authenticator, guard, location
// service and registrar.
package sipp

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sentralpbx/sentral/sip/auth"
	"github.com/sentralpbx/sentral/test/siptest"
)

const (
	domain   = "fjordvik.test"
	password = "Korrekt-Hest-42"
)

// runSipp runs one scenario for one call and returns sipp's exit code;
// sipp's error trace is logged when it fails.
// startStack provisions tenant fjordvik with extensions 100-102 and runs the
// SIP stack on loopback UDP and TCP, with MD5 challenges (sipp 3.6 knows no
// SHA-256) and a loose guard (the wrong-password scenario must not ban the
// next one).
func startStack(t *testing.T) *siptest.Stack {
	return siptest.Start(t, siptest.Options{Domain: domain, Password: password, Range: [2]string{"100", "199"},
		Numbers: []string{"100", "101", "102"}, Networks: []string{"udp", "tcp"}, Algorithms: []string{auth.MD5}, MaxFailures: 100})
}

func runSipp(t *testing.T, s *siptest.Stack, network, scenario, user, pass string, extra ...string) int {
	t.Helper()
	bin := siptest.Tool(t, "sipp", "sip-tester")
	scen, err := filepath.Abs(scenario)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tflag := map[string]string{"udp": "u1", "tcp": "t1"}[network]
	args := []string{s.Server.Addr(network),
		"-sf", scen, "-t", tflag,
		"-i", "127.0.0.1", "-p", strconv.Itoa(siptest.FreePort(t, network)),
		"-s", user, "-au", user, "-ap", pass, "-key", "domain", domain,
		"-m", "1", "-timeout", "15s", "-timeout_error", "-recv_timeout", "5000",
		"-trace_err", "-nostdin",
	}
	// Later flags win in sipp, so extra may override -au and add -key.
	args = append(args, extra...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run sipp: %v", err)
	}
	if code != 0 {
		t.Logf("sipp %s exited %d\n%s", strings.Join(args, " "), code, siptest.Tail(string(out), 3000))
		logs, _ := filepath.Glob(filepath.Join(dir, "*errors.log"))
		for _, l := range logs {
			b, _ := os.ReadFile(l)
			t.Logf("%s:\n%s", filepath.Base(l), siptest.Tail(string(b), 4000))
		}
	}
	return code
}

func TestSippScenarios(t *testing.T) {
	siptest.Tool(t, "sipp", "sip-tester")
	s := startStack(t)
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			if code := runSipp(t, s, network, "register_auth.xml", "100", password); code != 0 {
				t.Fatalf("register_auth.xml: sipp exit %d, want 0", code)
			}
			if b := s.Loc.Bindings(s.Tenant.ID, "100"); len(b) != 1 || b[0].Transport != network || b[0].UserAgent != "sipp register_auth" {
				t.Fatalf("bindings after register_auth: %+v", b)
			}
			if code := runSipp(t, s, network, "register_wrong_password.xml", "101", "not-the-password"); code != 0 {
				t.Fatalf("register_wrong_password.xml: sipp exit %d, want 0", code)
			}
			if b := s.Loc.Bindings(s.Tenant.ID, "101"); len(b) != 0 {
				t.Fatalf("wrong password registered: %+v", b)
			}
			if code := runSipp(t, s, network, "register_wrong_password.xml", "199", "no-such-user"); code != 0 {
				t.Fatalf("register_wrong_password.xml for an unknown user: sipp exit %d, want 0", code)
			}
			if code := runSipp(t, s, network, "unregister.xml", "100", password); code != 0 {
				t.Fatalf("unregister.xml: sipp exit %d, want 0", code)
			}
			if b := s.Loc.Bindings(s.Tenant.ID, "100"); len(b) != 0 {
				t.Fatalf("bindings left after unregister: %+v", b)
			}
		})
	}
	// The location service writes behind; the store must catch up.
	deadline := time.Now().Add(5 * time.Second)
	for {
		bs, err := s.Store.Bindings().List(context.Background(), s.Tenant.ID)
		if err != nil {
			t.Fatal(err)
		}
		live := 0
		for _, b := range bs {
			if b.Expires.After(time.Now()) {
				live++
			}
		}
		if live == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("store still holds %d live bindings: %s", live, fmt.Sprint(bs))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
