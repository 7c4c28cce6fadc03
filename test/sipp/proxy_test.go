package sipp

import (
	"strconv"
	"testing"

	"github.com/sentralpbx/sentral/test/siptest"
)

// registerFrom registers number with sipp's register_auth.xml from a UDP
// port, leaving a real binding whose source is that port.
func registerFrom(t *testing.T, s *siptest.Stack, number string, port int) {
	t.Helper()
	if code := runSipp(t, s, "udp", "register_auth.xml", number, password, "-p", strconv.Itoa(port)); code != 0 {
		t.Fatalf("register_auth.xml for %s from port %d: sipp exit %d", number, port, code)
	}
	t.Cleanup(func() { s.Loc.RemoveAll(s.Tenant.ID, number) })
}

// runUAC runs a caller scenario as extension 100 calling callee.
func runUAC(t *testing.T, s *siptest.Stack, scenario, callee string) int {
	t.Helper()
	return runSipp(t, s, "udp", scenario, callee, password, "-key", "caller", "100", "-au", "100")
}

func TestSippProxy(t *testing.T) {
	siptest.Tool(t, "sipp", "sip-tester")
	s := startStack(t)
	t.Run("call", func(t *testing.T) {
		a := s.StartUAS(t, "uas_answer.xml", siptest.FreePort(t, "udp"))
		s.Bind(t, "101", a.Port, 1)
		if code := runUAC(t, s, "uac_call.xml", "101"); code != 0 {
			t.Fatalf("uac_call.xml: sipp exit %d", code)
		}
		a.Wait(t, "uas_answer.xml")
	})
	t.Run("busy", func(t *testing.T) {
		b := s.StartUAS(t, "uas_busy.xml", siptest.FreePort(t, "udp"))
		s.Bind(t, "102", b.Port, 1)
		if code := runUAC(t, s, "uac_busy.xml", "102"); code != 0 {
			t.Fatalf("uac_busy.xml: sipp exit %d", code)
		}
		b.Wait(t, "uas_busy.xml")
	})
	t.Run("cancel", func(t *testing.T) {
		n := s.StartUAS(t, "uas_noanswer.xml", siptest.FreePort(t, "udp"))
		s.Bind(t, "102", n.Port, 1)
		if code := runUAC(t, s, "uac_cancel.xml", "102"); code != 0 {
			t.Fatalf("uac_cancel.xml: sipp exit %d", code)
		}
		n.Wait(t, "uas_noanswer.xml")
	})
	t.Run("fork", func(t *testing.T) {
		// Two phones register the same extension (two contacts on one
		// AOR); a call forks to both, one answers, the other sees CANCEL.
		pa, pn := siptest.FreePort(t, "udp"), siptest.FreePort(t, "udp")
		registerFrom(t, s, "101", pa)
		registerFrom(t, s, "101", pn)
		if b := s.Loc.Bindings(s.Tenant.ID, "101"); len(b) != 2 {
			t.Fatalf("after two REGISTERs, 101 has %d bindings, want 2: %+v", len(b), b)
		}
		a := s.StartUAS(t, "uas_answer.xml", pa)
		n := s.StartUAS(t, "uas_noanswer.xml", pn)
		if code := runUAC(t, s, "uac_call.xml", "101"); code != 0 {
			t.Fatalf("uac_call.xml: sipp exit %d", code)
		}
		a.Wait(t, "uas_answer.xml")
		n.Wait(t, "uas_noanswer.xml")
	})
}
