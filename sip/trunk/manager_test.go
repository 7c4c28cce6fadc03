package trunk

import (
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap/zaptest"

	"github.com/sentralpbx/sentral/store"
)

// seen is one REGISTER as the operator saw it.
type seen struct {
	user, callID, expires string
}

func (op *operator) seen() []seen {
	op.mu.Lock()
	defer op.mu.Unlock()
	out := make([]seen, len(op.reqs))
	for i, r := range op.reqs {
		out[i] = seen{r.From().Address.User, r.CallID().Value(), header(r, "Expires")}
	}
	return out
}

// waitSeen polls the operator's requests until cond holds, for up to d.
func waitSeen(t *testing.T, op *operator, d time.Duration, what string, cond func([]seen) bool) []seen {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		s := op.seen()
		if cond(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("operator never saw %s within %s: %+v", what, d, s)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func waitManager(t *testing.T, m *Manager, d time.Duration, what string, cond func([]TrunkStatus) bool) []TrunkStatus {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		sts := m.Status()
		if cond(sts) {
			return sts
		}
		if time.Now().After(deadline) {
			t.Fatalf("manager status never %s within %s: %+v", what, d, sts)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func allRegistered(n int) func([]TrunkStatus) bool {
	return func(sts []TrunkStatus) bool {
		if len(sts) != n {
			return false
		}
		for _, s := range sts {
			if s.State != StateRegistered {
				return false
			}
		}
		return true
	}
}

// unregisteredBeforeNew reports whether user's registration with callID sent
// its Expires: 0 before any REGISTER of user on another Call-ID.
func unregisteredBeforeNew(s []seen, user, callID string) (unregistered, newFirst bool) {
	for _, r := range s {
		if r.user != user {
			continue
		}
		if r.callID == callID && r.expires == "0" {
			return true, false
		}
		if r.callID != callID {
			return false, true
		}
	}
	return false, false
}

// TestManagerUpdate follows a trunk list through its changes: only
// enabled register-mode trunks register; a changed password restarts the
// registration (the old binding removed first, then a new Call-ID); a
// priority change restarts nothing; a removed trunk unregisters; Run's
// end unregisters the rest and leaves no goroutine behind.
func TestManagerUpdate(t *testing.T) {
	s := startSentral(t)
	op := startOperator(t, func(n int, req *sip.Request) *sip.Response { return ok(req, 60) })
	mk := func(name, user string) store.Trunk {
		tr := op.trunk(name)
		tr.Username = user
		return tr
	}
	alpha, beta := mk("alpha", "a-user"), mk("beta", "b-user")
	peer := mk("gamma", "g-user")
	peer.Mode = store.TrunkPeer
	off := mk("delta", "d-user")
	off.Enabled = false
	otherTenant := mk("alpha", "a2-user")
	otherTenant.TenantID = 2

	m := NewManager(s.client, s.contact, zaptest.NewLogger(t), fast)
	m.Update([]store.Trunk{beta, peer, otherTenant, off, alpha})
	if sts := m.Status(); len(sts) != 0 {
		t.Fatalf("registrations before Run: %+v", sts)
	}
	stop := runManager(t, m)
	sts := waitManager(t, m, 3*time.Second, "three registered", allRegistered(3))
	for i, want := range []struct {
		name   string
		tenant int64
	}{{"alpha", 1}, {"alpha", 2}, {"beta", 1}} {
		if sts[i].Name != want.name || sts[i].TenantID != want.tenant {
			t.Errorf("status %d is %s/%d, want %s/%d (sorted by name)", i, sts[i].Name, sts[i].TenantID, want.name, want.tenant)
		}
	}
	for _, r := range op.seen() {
		if r.user == "g-user" || r.user == "d-user" {
			t.Fatalf("%s registered: peers and disabled trunks must not", r.user)
		}
	}
	callOf := func(user string) string {
		for _, r := range op.seen() {
			if r.user == user {
				return r.callID
			}
		}
		return ""
	}
	alphaCall, betaCall := callOf("a-user"), callOf("b-user")
	betaCount := func() int {
		n := 0
		for _, r := range op.seen() {
			if r.user == "b-user" {
				n++
			}
		}
		return n
	}
	betaBefore := betaCount()

	// New password for alpha twice in a row, a new priority for beta.
	alpha2, alpha3, beta2 := alpha, alpha, beta
	alpha2.Password, alpha3.Password, beta2.Priority = "changed-1", "changed-2", 5
	m.Update([]store.Trunk{alpha2, beta2, otherTenant})
	m.Update([]store.Trunk{alpha3, beta2, otherTenant})
	got := waitSeen(t, op, 3*time.Second, "alpha re-registered", func(s []seen) bool {
		for _, r := range s {
			if r.user == "a-user" && r.callID != alphaCall && r.expires != "0" {
				return true
			}
		}
		return false
	})
	if unreg, newFirst := unregisteredBeforeNew(got, "a-user", alphaCall); !unreg || newFirst {
		t.Fatalf("alpha's new registration did not wait for the old one's removal: %+v", got)
	}
	waitManager(t, m, 3*time.Second, "three registered again", allRegistered(3))
	if n := betaCount(); n != betaBefore {
		t.Errorf("beta sent %d more REGISTERs after a priority change", n-betaBefore)
	}

	// Beta removed: it unregisters, alpha stays.
	m.Update([]store.Trunk{alpha3, otherTenant})
	waitSeen(t, op, 3*time.Second, "beta unregistered", func(s []seen) bool {
		for _, r := range s {
			if r.user == "b-user" && r.callID == betaCall && r.expires == "0" {
				return true
			}
		}
		return false
	})
	waitManager(t, m, time.Second, "two left", func(sts []TrunkStatus) bool { return len(sts) == 2 })

	before := len(op.seen())
	stop()
	after := op.seen()[before:]
	if len(after) != 2 || after[0].expires != "0" || after[1].expires != "0" {
		t.Errorf("on stop, want one unregister per trunk, got %+v", after)
	}
	if sts := m.Status(); len(sts) != 0 {
		t.Errorf("status after Run: %+v", sts)
	}
	m.Update([]store.Trunk{alpha}) // after Run: recorded, nothing starts
	if sts := m.Status(); len(sts) != 0 {
		t.Errorf("Update after Run started %+v", sts)
	}
}
