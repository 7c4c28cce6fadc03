package trunk

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/sentralpbx/sentral/store"
	"github.com/sentralpbx/sentral/test/siptest"
)

// The sipp scenarios in testdata play the operator's registrar; sipp
// checks the digest itself (verifyauth), so these tests prove the
// credentials against an implementation other than the one that made
// them. Like test/sipp, they skip when sipp is missing, unless CI=true.

const (
	sippUser     = "sentral-trunk"
	sippPassword = "Trunk-Hemmelig-42"
)

// sippStack runs Sentral's SIP stack (sip/server on loopback UDP, as
// serve wires it) and returns it with a client on its user agent, so the
// REGISTERs leave through its listener.
func sippStack(t *testing.T) (*siptest.Stack, ContactFunc) {
	t.Helper()
	siptest.Tool(t, "sipp", "sip-tester")
	s := siptest.Start(t, siptest.Options{Domain: "fjordvik.test", Password: "unused-Pw-1", Range: [2]string{"100", "199"},
		Networks: []string{"udp"}, MaxFailures: 100})
	var ls []Listener
	for _, l := range s.Server.Listeners() {
		ls = append(ls, Listener{Network: l.Network, Addr: l.Addr})
	}
	return s, ListenerContacts(ls, "")
}

func sippTrunk(name string, port int, password string) store.Trunk {
	return store.Trunk{Meta: store.Meta{ID: 7}, TenantID: 1, Name: name, Mode: store.TrunkRegister, Host: "127.0.0.1",
		Port: port, Transport: "udp", Username: sippUser, Password: password, Realm: "operator.test", Enabled: true}
}

// runManager runs m until the returned stop is called; stop waits for Run
// (which unregisters) within a bound.
func runManager(t *testing.T, m *Manager) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Manager.Run did not return within 5s of cancel")
		}
	}
	t.Cleanup(stop)
	return stop
}

// waitTrunk polls the Manager's one status until cond holds, for up to d;
// on failure it shows what sipp saw.
func waitTrunk(t *testing.T, m *Manager, uas *siptest.UAS, d time.Duration, what string, cond func(TrunkStatus) bool) TrunkStatus {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		sts := m.Status()
		if len(sts) == 1 && cond(sts[0]) {
			return sts[0]
		}
		if time.Now().After(deadline) {
			uas.LogFailure(t)
			t.Fatalf("trunk never %s within %s: %+v", what, d, sts)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSippRegisterRefresh: the Manager registers the one enabled
// register-mode trunk with sipp as the operator, answers its MD5
// challenge, refreshes on the granted 2 s expiry with the nonce reused
// (nc 2), answers a stale-nonce challenge on the next refresh, and
// unregisters when stopped. sipp verifies every step (see the scenario).
func TestSippRegisterRefresh(t *testing.T) {
	stack, contact := sippStack(t)
	port := siptest.FreePort(t, "udp")
	uas := stack.StartUAS(t, "testdata/register_refresh.xml", port)
	client, err := stack.Server.Client()
	if err != nil {
		t.Fatal(err)
	}
	m := NewManager(client, contact, zaptest.NewLogger(t), Options{MinRefresh: 200 * time.Millisecond,
		RetryMin: 3 * time.Second, Timeout: 3 * time.Second, UnregisterTimeout: 2 * time.Second})
	peer := sippTrunk("a-peer", port, "")
	peer.Mode = store.TrunkPeer
	off := sippTrunk("b-disabled", port, sippPassword)
	off.Enabled = false
	m.Update([]store.Trunk{off, sippTrunk("centrex", port, sippPassword), peer})
	stop := runManager(t, m)

	start := time.Now()
	first := waitTrunk(t, m, uas, 3*time.Second, "registered", func(s TrunkStatus) bool { return s.State == StateRegistered })
	if first.Name != "centrex" || first.AOR != "sip:sentral-trunk@127.0.0.1" || !strings.HasSuffix(first.Registrar, ";transport=udp") {
		t.Errorf("status names %+v", first)
	}
	if got := first.RegisteredUntil.Sub(first.LastSuccess); got != 2*time.Second {
		t.Errorf("first grant %s, want sipp's expires=2", got)
	}
	// The 60 s grant comes after two refreshes (1 s each: half of 2 s).
	last := waitTrunk(t, m, uas, 6*time.Second, "granted 60s", func(s TrunkStatus) bool {
		return s.State == StateRegistered && s.RegisteredUntil.Sub(s.LastSuccess) == time.Minute
	})
	if took := last.LastSuccess.Sub(first.LastSuccess); took < 1500*time.Millisecond {
		t.Errorf("two refreshes took %s; each should wait half the 2s expiry", took)
	}
	stop()
	uas.Wait(t, "register_refresh")
	if sts := m.Status(); len(sts) != 0 {
		t.Errorf("status after Run: %+v", sts)
	}
	t.Logf("registered, refreshed twice and unregistered in %s", time.Since(start).Round(time.Millisecond))
}

// TestSippUnavailable: a 503 with Retry-After holds the retry back for
// the time it names; the 403 after it leaves the trunk failed with the
// status line and a retry scheduled by the backoff.
func TestSippUnavailable(t *testing.T) {
	stack, contact := sippStack(t)
	port := siptest.FreePort(t, "udp")
	uas := stack.StartUAS(t, "testdata/register_unavailable.xml", port)
	client, err := stack.Server.Client()
	if err != nil {
		t.Fatal(err)
	}
	m := NewManager(client, contact, zaptest.NewLogger(t), Options{RetryMin: time.Second, RetryMax: 4 * time.Second,
		Timeout: 3 * time.Second})
	m.Update([]store.Trunk{sippTrunk("centrex", port, sippPassword)})
	stop := runManager(t, m)

	st := waitTrunk(t, m, uas, 3*time.Second, "503", func(s TrunkStatus) bool { return s.Code == 503 })
	if st.State != StateFailed || st.Reason != "Service Unavailable" || st.Attempts != 1 || st.Error == "" {
		t.Errorf("after 503: %+v", st)
	}
	// Retry-After: 2 beats the first backoff step (0.75-1 s).
	// (The lower bounds leave a busy machine time between the status
	// change and this poll.)
	if wait := time.Until(st.NextAttempt); wait < time.Second || wait > 2*time.Second {
		t.Errorf("retry in %s, want Retry-After's 2s", wait)
	}
	retryAt := st.NextAttempt
	st = waitTrunk(t, m, uas, 4*time.Second, "403", func(s TrunkStatus) bool { return s.Code == 403 })
	now := time.Now()
	if st.State != StateFailed || st.Reason != "Forbidden" || st.Attempts != 2 || !strings.Contains(st.Error, "403") {
		t.Errorf("after 403: %+v", st)
	}
	if now.Before(retryAt) {
		t.Errorf("retried %s before Retry-After allowed", retryAt.Sub(now))
	}
	// Second failure: 2 s doubled from RetryMin, less up to a quarter.
	if wait := time.Until(st.NextAttempt); wait < time.Second || wait > 2*time.Second {
		t.Errorf("next retry in %s, want the backoff's 1.5-2s", wait)
	}
	stop() // never registered: nothing to unregister
	uas.Wait(t, "register_unavailable")
}

// TestSippWrongPassword: sipp's verifyauth refuses our digest made with
// the wrong password and answers 403; the trunk shows failed.
func TestSippWrongPassword(t *testing.T) {
	stack, contact := sippStack(t)
	port := siptest.FreePort(t, "udp")
	uas := stack.StartUAS(t, "testdata/register_wrong_password.xml", port)
	client, err := stack.Server.Client()
	if err != nil {
		t.Fatal(err)
	}
	m := NewManager(client, contact, zaptest.NewLogger(t), Options{RetryMin: 3 * time.Second, Timeout: 3 * time.Second})
	m.Update([]store.Trunk{sippTrunk("centrex", port, "Feil-Passord-1")})
	stop := runManager(t, m)
	st := waitTrunk(t, m, uas, 3*time.Second, "failed", func(s TrunkStatus) bool { return s.State == StateFailed })
	if st.Code != 403 || st.Reason != "Forbidden" || st.Attempts != 1 || !st.RegisteredUntil.IsZero() || !st.LastSuccess.IsZero() {
		t.Errorf("status: %+v", st)
	}
	if strings.Contains(st.Error, "Feil-Passord-1") {
		t.Error("the password leaked into the status")
	}
	stop()
	uas.Wait(t, "register_wrong_password")
}
