package e2e

import (
	"encoding/json"
	"testing"
	"time"
)

// cdrView is what these tests read of `sentral cdr list -o json`.
type cdrView struct {
	CallID      string     `json:"call_id"`
	Trunk       string     `json:"trunk"`
	Normalised  string     `json:"normalised"`
	State       string     `json:"state"`
	Direction   string     `json:"direction"`
	Caller      string     `json:"caller"`
	Callee      string     `json:"callee"`
	Dialled     string     `json:"dialled"`
	AnswerTime  *time.Time `json:"answer_time"`
	EndTime     *time.Time `json:"end_time"`
	Disposition string     `json:"disposition"`
	SIPCode     int        `json:"sip_code"`
	Reason      string     `json:"reason"`
}

func (s *server) cdrs(t *testing.T, tenant string) []cdrView {
	t.Helper()
	var out []cdrView
	from := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	if err := json.Unmarshal([]byte(s.mustCLI("cdr", "list", "--tenant", tenant, "--from", from, "-o", "json")), &out); err != nil {
		t.Fatalf("cdr list: %v", err)
	}
	return out
}

// waitCDRs waits until tenant callco has n records that all satisfy ok.
func (s *server) waitCDRs(t *testing.T, what string, n int, ok func(cdrView) bool) []cdrView {
	t.Helper()
	return s.waitTenantCDRs(t, "callco", what, n, ok)
}

// waitTenantCDRs waits until tenant has n records, all closed and all
// satisfying ok.
func (s *server) waitTenantCDRs(t *testing.T, tenant, what string, n int, ok func(cdrView) bool) []cdrView {
	t.Helper()
	var got []cdrView
	s.waitFor(what, func() bool {
		got = s.cdrs(t, tenant)
		if len(got) != n {
			return false
		}
		for _, c := range got {
			if !ok(c) {
				return false
			}
		}
		return true
	})
	return got
}

// TestCallRecordsThroughServe: an answered call and a busy call through
// the real binary each leave one closed record with the right parties,
// times, disposition and SIP code.
func TestCallRecordsThroughServe(t *testing.T) {
	s, uasPort := callSetup(t, t.TempDir())

	uas := startSipp(t, s, "uas_answer.xml", uasPort)
	time.Sleep(300 * time.Millisecond)
	uac := startSipp(t, s, "uac_call.xml", port4(t), "-s", "2002", "-key", "caller", "2001",
		"-au", "2001", "-ap", callPassword, "-recv_timeout", "10000")
	uac.wait(t, s)
	uas.wait(t, s)
	recs := s.waitCDRs(t, "the answered call's record", 1, func(c cdrView) bool { return c.State == "closed" })
	c := recs[0]
	if c.Direction != "internal" || c.Caller != "2001" || c.Callee != "2002" || c.Dialled != "2002" ||
		c.Disposition != "answered" || c.SIPCode != 200 || c.AnswerTime == nil || c.EndTime == nil ||
		c.EndTime.Before(*c.AnswerTime) || c.CallID == "" {
		t.Fatalf("answered call's record: %+v", c)
	}

	uas = startSipp(t, s, "uas_busy.xml", uasPort)
	time.Sleep(300 * time.Millisecond)
	uac = startSipp(t, s, "uac_busy.xml", port4(t), "-s", "2002", "-key", "caller", "2001",
		"-au", "2001", "-ap", callPassword, "-recv_timeout", "10000")
	uac.wait(t, s)
	uas.wait(t, s)
	recs = s.waitCDRs(t, "the busy call's record", 2, func(c cdrView) bool { return c.State == "closed" })
	c = recs[1]
	if c.Disposition != "busy" || c.SIPCode != 486 || c.AnswerTime != nil || c.Caller != "2001" || c.Callee != "2002" {
		t.Fatalf("busy call's record: %+v", c)
	}
}

// TestCallRecordSurvivesCrash: a server killed (SIGKILL) while a call
// rings leaves its record open; the next start closes it, and nothing is
// billed for it.
func TestCallRecordSurvivesCrash(t *testing.T) {
	dir := t.TempDir()
	s, uasPort := callSetup(t, dir)
	// The callee rings and never answers; the caller waits. Neither is
	// waited for: they fail once the server is gone, and the test's
	// cleanup ends them.
	startSipp(t, s, "uas_noanswer.xml", uasPort)
	time.Sleep(300 * time.Millisecond)
	startSipp(t, s, "uac_call.xml", port4(t), "-s", "2002", "-key", "caller", "2001",
		"-au", "2001", "-ap", callPassword, "-recv_timeout", "15000")
	s.waitCDRs(t, "the ringing call's open record", 1, func(c cdrView) bool { return c.State == "open" })

	if err := s.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-s.done // Wait has set ProcessState: cleanup's stop leaves it alone
	restarted := startServer(t, dir, s.dsn)
	recs := restarted.waitCDRs(t, "the record closed at restart", 1, func(c cdrView) bool { return c.State == "closed" })
	c := recs[0]
	if c.Disposition != "failed" || c.Reason != "interrupted by restart" || c.AnswerTime != nil {
		t.Fatalf("record after the crash: %+v", c)
	}
}
