package sipp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/sentralpbx/sentral/store"
)

// uas is a sipp instance answering one call on its own UDP port.
type uas struct {
	port   int
	code   int           // exit code, valid once exited is closed
	exited chan struct{} // closed when sipp has ended
	out    *bytes.Buffer
	dir    string
}

// startUAS runs a UAS scenario in the background for one call; its exit
// code arrives on done. The test's cleanup kills it if it is still running.
func startUAS(t *testing.T, s *stack, scenario string) *uas {
	t.Helper()
	return startUASOn(t, s, scenario, freePort(t, "udp"))
}

// startUASOn is startUAS on a given UDP port, the one a sipp REGISTER
// came from, so calls follow a real registration.
func startUASOn(t *testing.T, s *stack, scenario string, port int) *uas {
	t.Helper()
	bin := sippPath(t)
	scen, err := filepath.Abs(scenario)
	if err != nil {
		t.Fatal(err)
	}
	u := &uas{port: port, exited: make(chan struct{}), out: new(bytes.Buffer), dir: t.TempDir()}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	cmd := exec.CommandContext(ctx, bin, s.srv.Addr("udp"), "-sf", scen, "-t", "u1",
		"-i", "127.0.0.1", "-p", strconv.Itoa(u.port), "-m", "1", "-timeout", "25s", "-timeout_error",
		"-trace_err", "-nostdin")
	cmd.Dir, cmd.Stdout, cmd.Stderr = u.dir, u.out, u.out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start sipp: %v", err)
	}
	go func() {
		defer cancel()
		err := cmd.Wait()
		var ee *exec.ExitError
		switch {
		case errors.As(err, &ee):
			u.code = ee.ExitCode()
		case err != nil:
			u.code = -1
		}
		close(u.exited)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-u.exited:
		case <-time.After(5 * time.Second):
		}
	})
	// sipp needs a moment to bind its socket before the INVITE arrives.
	time.Sleep(300 * time.Millisecond)
	return u
}

// wait checks the UAS ended with exit code 0.
func (u *uas) wait(t *testing.T, name string) {
	t.Helper()
	select {
	case <-u.exited:
		if code := u.code; code != 0 {
			logs, _ := filepath.Glob(filepath.Join(u.dir, "*errors.log"))
			for _, l := range logs {
				b, _ := os.ReadFile(l)
				t.Logf("%s:\n%s", filepath.Base(l), tail(string(b), 4000))
			}
			t.Fatalf("%s: sipp exit %d\n%s", name, code, tail(u.out.String(), 3000))
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("%s: sipp still running after 30s", name)
	}
}

// bindUAS points an extension at a sipp UAS, as a REGISTER from its port
// would.
func bindUAS(t *testing.T, s *stack, number string, u *uas, q float64) {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", u.port)
	b := store.Binding{Contact: "sip:" + number + "@" + addr, Q: q, Expires: time.Now().Add(time.Hour),
		CallID: fmt.Sprintf("sipp-%d", u.port), CSeq: 1, Source: addr, Transport: "udp"}
	if _, err := s.loc.Update(s.ten.ID, number, []store.Binding{b}, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.loc.RemoveAll(s.ten.ID, number) })
}

// registerFrom registers number with sipp's register_auth.xml from a UDP
// port, leaving a real binding whose source is that port.
func registerFrom(t *testing.T, s *stack, number string, port int) {
	t.Helper()
	if code := runSipp(t, s, "udp", "register_auth.xml", number, password, "-p", strconv.Itoa(port)); code != 0 {
		t.Fatalf("register_auth.xml for %s from port %d: sipp exit %d", number, port, code)
	}
	t.Cleanup(func() { s.loc.RemoveAll(s.ten.ID, number) })
}

// runUAC runs a caller scenario as extension 100 calling callee.
func runUAC(t *testing.T, s *stack, scenario, callee string) int {
	t.Helper()
	return runSipp(t, s, "udp", scenario, callee, password, "-key", "caller", "100", "-au", "100")
}

func TestSippProxy(t *testing.T) {
	sippPath(t)
	s := startStack(t)
	t.Run("call", func(t *testing.T) {
		a := startUAS(t, s, "uas_answer.xml")
		bindUAS(t, s, "101", a, 1)
		if code := runUAC(t, s, "uac_call.xml", "101"); code != 0 {
			t.Fatalf("uac_call.xml: sipp exit %d", code)
		}
		a.wait(t, "uas_answer.xml")
	})
	t.Run("busy", func(t *testing.T) {
		b := startUAS(t, s, "uas_busy.xml")
		bindUAS(t, s, "102", b, 1)
		if code := runUAC(t, s, "uac_busy.xml", "102"); code != 0 {
			t.Fatalf("uac_busy.xml: sipp exit %d", code)
		}
		b.wait(t, "uas_busy.xml")
	})
	t.Run("cancel", func(t *testing.T) {
		n := startUAS(t, s, "uas_noanswer.xml")
		bindUAS(t, s, "102", n, 1)
		if code := runUAC(t, s, "uac_cancel.xml", "102"); code != 0 {
			t.Fatalf("uac_cancel.xml: sipp exit %d", code)
		}
		n.wait(t, "uas_noanswer.xml")
	})
	t.Run("fork", func(t *testing.T) {
		// Two phones register the same extension (two contacts on one
		// AOR); a call forks to both, one answers, the other sees CANCEL.
		pa, pn := freePort(t, "udp"), freePort(t, "udp")
		registerFrom(t, s, "101", pa)
		registerFrom(t, s, "101", pn)
		if b := s.loc.Bindings(s.ten.ID, "101"); len(b) != 2 {
			t.Fatalf("after two REGISTERs, 101 has %d bindings, want 2: %+v", len(b), b)
		}
		a := startUASOn(t, s, "uas_answer.xml", pa)
		n := startUASOn(t, s, "uas_noanswer.xml", pn)
		if code := runUAC(t, s, "uac_call.xml", "101"); code != 0 {
			t.Fatalf("uac_call.xml: sipp exit %d", code)
		}
		a.wait(t, "uas_answer.xml")
		n.wait(t, "uas_noanswer.xml")
	})
}
