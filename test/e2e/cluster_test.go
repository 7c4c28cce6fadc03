package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sentralpbx/sentral/store/pgtest"
	"github.com/sentralpbx/sentral/test/phone"
)

// The cluster tests run two `sentral serve` nodes, "a" on 127.0.0.1 and
// "b" on 127.0.0.2, over one PostgreSQL database and one voicemail
// directory (docs/cluster.md), with test/phone desk phones on 127.0.0.1
// registered at one node or the other.

const (
	clTenant = "fjordvik"
	clDomain = "fjordvik.test"
)

// clusterNode is one node of the cluster under test.
type clusterNode struct {
	*server
	name, sip string // sip: its UDP listener, ip:port
}

func startClusterNode(t *testing.T, dsn, name, ip, vmDir string, env ...string) *clusterNode {
	t.Helper()
	sip := fmt.Sprintf("%s:%d", ip, udpPort(t, ip, 1))
	s := startServerSIP(t, t.TempDir(), dsn, "udp:"+sip, append([]string{"SENTRAL_SIP_REGISTRAR_DIGEST_ALGORITHMS=MD5,SHA-256",
		"SENTRAL_CLUSTER_ENABLED=true", "SENTRAL_CLUSTER_NODE=" + name,
		"SENTRAL_CLUSTER_HEARTBEAT=200ms", "SENTRAL_CLUSTER_DEAD_AFTER=1500ms", "SENTRAL_CLUSTER_ORPHAN_AFTER=3s",
		"SENTRAL_MEDIA_VOICEMAIL_DIR=" + vmDir}, env...)...)
	return &clusterNode{server: s, name: name, sip: sip}
}

// peers returns which nodes this node sees alive.
func (n *clusterNode) alive() map[string]bool {
	var nodes []struct {
		Name  string `json:"name"`
		Alive bool   `json:"alive"`
	}
	n.get("/api/v1/cluster/nodes", &nodes)
	out := map[string]bool{}
	for _, x := range nodes {
		out[x.Name] = x.Alive
	}
	return out
}

// deskPhone registers ext at node n from 127.0.0.1.
func (n *clusterNode) deskPhone(ctx context.Context, t *testing.T, ext string) *phone.Phone {
	t.Helper()
	ph, err := phone.New(ctx, phone.Options{User: ext, Password: e2ePassword, Domain: clDomain, Proxy: n.sip})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ph.Close() })
	if err := ph.Register(ctx, time.Hour); err != nil {
		t.Fatalf("%s register at node %s: %v\n%s", ext, n.name, err, lastBytes(n.logText(), 3000))
	}
	return ph
}

// consoleLogin logs operator user in on node n's console, as the
// switchboard tests do.
func (n *clusterNode) consoleLogin(t *testing.T, user string) *consoleClient {
	t.Helper()
	return (&sbPBX{console: strings.TrimSuffix(n.softphoneURL(t), "/softphone/")}).login(t, user)
}

// boardUntil polls a console's board until cond holds (10 s).
func boardUntil(t *testing.T, c *consoleClient, n *clusterNode, what string, cond func(sbState) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var st sbState
	for time.Now().Before(deadline) {
		if st = c.state(); cond(st) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("board on node %s: %s not within 10 s; board %+v\n%s", n.name, what, st.Board, lastBytes(n.logText(), 3000))
}

// call places a call and returns the caller's side once answered.
func call(ctx context.Context, t *testing.T, from *phone.Phone, to string, answer func() *phone.Call, n *clusterNode) (out, in *phone.Call) {
	t.Helper()
	placed := make(chan placedCall, 1)
	go func() {
		c, err := from.Call(ctx, to)
		placed <- placedCall{c, err}
	}()
	in = answer()
	select {
	case pc := <-placed:
		if pc.err != nil {
			t.Fatalf("call %s: %v\n%s", to, pc.err, lastBytes(n.logText(), 4000))
		}
		return pc.call, in
	case <-time.After(15 * time.Second):
		t.Fatalf("call %s not answered within 15 s\n%s", to, lastBytes(n.logText(), 4000))
	}
	return nil, nil
}

// incoming waits for a call to ring at ph and answers it.
func incoming(ctx context.Context, t *testing.T, ph *phone.Phone, who string, logs ...*clusterNode) *phone.Call {
	t.Helper()
	select {
	case c := <-ph.Incoming():
		if err := c.Answer(ctx); err != nil {
			t.Fatalf("%s answer: %v", who, err)
		}
		return c
	case <-time.After(10 * time.Second):
		var l string
		for _, n := range logs {
			l += "\n--- node " + n.name + ":\n" + lastBytes(n.logText(), 3000)
		}
		t.Fatalf("%s never rang%s", who, l)
	}
	return nil
}

// talking checks that audio flows both ways: each side sends its own
// tone and hears the other's.
func talking(ctx context.Context, t *testing.T, what string, a, b *phone.Call) {
	t.Helper()
	tctx, cancel := context.WithCancel(ctx)
	defer cancel()
	talk(tctx, a, hzCaller)
	talk(tctx, b, hzTarget)
	waitUntil(t, 10*time.Second, what+": each side hears the other", func() bool {
		return hears(a, hzTarget, time.Second) && hears(b, hzCaller, time.Second)
	})
}

// recordsOf returns the tenant's call records with this Call-ID.
func recordsOf(t *testing.T, n *clusterNode, callID string) []map[string]any {
	t.Helper()
	var all []map[string]any
	today := time.Now().UTC().Format("2006-01-02")
	if err := json.Unmarshal([]byte(n.mustCLI("cdr", "list", "--tenant", clTenant, "--from", today, "-o", "json")), &all); err != nil {
		t.Fatalf("cdr list: %v", err)
	}
	var out []map[string]any
	for _, r := range all {
		if r["call_id"] == callID {
			out = append(out, r)
		}
	}
	return out
}

// TestClusterTwoNodes: a phone registered on node a is reachable from a
// call that enters node b, with audio both ways and exactly one call
// record; node a's console board shows the call b handled and the phone
// registered on b; a message left through b lights the lamp of a phone
// subscribed on a; and when node a is killed, its phone re-registers on
// b and is called there, with the records and the message still there.
func TestClusterTwoNodes(t *testing.T) {
	dsn := pgtest.DSN(t, "sentral_e2e")
	vmDir := t.TempDir()
	a := startClusterNode(t, dsn, "a", "127.0.0.1", vmDir)
	b := startClusterNode(t, dsn, "b", "127.0.0.2", vmDir)
	a.mustCLI("tenant", "add", clTenant, "--domain", clDomain, "--ext-range", "2000-2999", "--switchboard", "2000")
	for _, e := range []struct{ n, name string }{{"2001", "Kari Nordmann"}, {"2002", "Ola Hansen"}, {"2003", "Per Olsen"}} {
		a.mustCLI("ext", "add", e.n, "--tenant", clTenant, "--name", e.name, "--password", e2ePassword, "--no-answer-seconds", "5")
	}
	cmd := exec.Command(binary, "--db", dsn, "operator", "add", "kari", "--tenant", clTenant, "--name", "Kari Nordmann",
		"--extension", "2001", "--password-stdin")
	cmd.Dir, cmd.Env, cmd.Stdin = a.dir, cleanEnv(), strings.NewReader(sbPassword+"\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("operator add: %v\n%s", err, out)
	}
	a.synced()
	b.synced()
	waitUntil(t, 10*time.Second, "the nodes see each other", func() bool {
		return a.alive()["b"] && b.alive()["a"]
	})

	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	kari := a.deskPhone(ctx, t, "2001")
	per := a.deskPhone(ctx, t, "2003")
	ola := b.deskPhone(ctx, t, "2002")
	if err := per.Subscribe(ctx, "message-summary", time.Hour); err != nil {
		t.Fatalf("2003 subscribe at a: %v", err)
	}
	waitNotify(t, per, "Voice-Message: 0/0")

	// Presence: a's board shows 2002, registered on b.
	board := a.consoleLogin(t, "kari")
	boardUntil(t, board, a, "2002 (registered on b) idle", func(s sbState) bool { return s.boardState("2002") == "idle" })

	// A cross-node call: 2002 on b calls 2001 on a.
	out, in := call(ctx, t, ola, "2001", func() *phone.Call { return incoming(ctx, t, kari, "2001 on a", a, b) }, b)
	boardUntil(t, board, a, "2001 and 2002 in a call b routed", func(s sbState) bool {
		return s.boardState("2001") == "in-call" && s.boardState("2002") == "in-call"
	})
	talking(ctx, t, "2002 (b) <-> 2001 (a)", out, in)
	if err := out.Hangup(ctx); err != nil {
		t.Fatalf("hangup: %v", err)
	}
	waitUntil(t, 5*time.Second, "2001's side ends with the BYE through both nodes", func() bool {
		select {
		case <-in.Done():
			return true
		default:
			return false
		}
	})
	boardUntil(t, board, a, "both idle again", func(s sbState) bool {
		return s.boardState("2001") == "idle" && s.boardState("2002") == "idle"
	})
	firstID := out.Invite().CallID().Value()
	var recs []map[string]any
	waitUntil(t, 10*time.Second, "the call's record closed", func() bool {
		recs = recordsOf(t, a, firstID)
		return len(recs) == 1 && recs[0]["end_time"] != nil && recs[0]["end_time"] != ""
	})
	if recs[0]["disposition"] != "answered" || recs[0]["caller"] != "2002" || recs[0]["callee"] != "2001" {
		t.Errorf("record of the cross-node call: %v", recs[0])
	}

	// Message waiting: 2002 (b) calls 2003 (a), which does not answer;
	// b's voicemail takes the message; 2003's lamp on a lights.
	placed := make(chan placedCall, 1)
	go func() {
		c, err := ola.Call(ctx, "2003")
		placed <- placedCall{c, err}
	}()
	select {
	case <-per.Incoming(): // rings through a, unanswered
	case <-time.After(10 * time.Second):
		t.Fatalf("2003 on a never rang\n%s", lastBytes(b.logText(), 3000))
	}
	var vm *phone.Call
	select {
	case pc := <-placed:
		if pc.err != nil {
			t.Fatalf("call 2003: %v\n%s", pc.err, lastBytes(b.logText(), 3000))
		}
		vm = pc.call
	case <-time.After(20 * time.Second):
		t.Fatal("voicemail did not answer")
	}
	waitUntil(t, 20*time.Second, "the greeting's beep", func() bool { return hasTone(vm.Received(), 1000) })
	time.Sleep(400 * time.Millisecond)
	if err := vm.SendAudio(ctx, knownAudio()); err != nil {
		t.Fatal(err)
	}
	if err := vm.SendDTMF(ctx, "#"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-vm.Done():
	case <-time.After(15 * time.Second):
		_ = vm.Hangup(ctx)
	}
	waitNotify(t, per, "Voice-Message: 1/0")

	// The switchboard: one queue, on node a (its name sorts first),
	// whichever node a call enters. 2002 on b calls the switchboard
	// number; kari's console on a shows the call, the console on b points
	// to a; kari answers on her desk phone and talks to 2002.
	board.mustPost("available", map[string]bool{"available": true})
	toQueue := make(chan placedCall, 1)
	go func() {
		c, err := ola.Call(ctx, "2000")
		toQueue <- placedCall{c, err}
	}()
	var queued sbState
	deadline := time.Now().Add(10 * time.Second)
	for queued = board.state(); len(queued.Queue) != 1 && time.Now().Before(deadline); queued = board.state() {
		time.Sleep(50 * time.Millisecond)
	}
	if len(queued.Queue) != 1 || queued.Queue[0].Caller != "2002" {
		t.Fatalf("queue on a's console: %+v\n--- a:\n%s\n--- b:\n%s", queued.Queue, lastBytes(a.logText(), 3000), lastBytes(b.logText(), 3000))
	}
	if h := queued.SwitchboardHome; h == nil || !h.Here || h.Node != "a" {
		t.Errorf("a's console: switchboard home %+v, want here (a)", h)
	}
	onB := b.consoleLogin(t, "kari").state()
	if h := onB.SwitchboardHome; h == nil || h.Here || h.Node != "a" || !strings.HasPrefix(h.URL, "http://127.0.0.1:") {
		t.Errorf("b's console: switchboard home %+v, want node a with its console URL", h)
	}
	if len(onB.Queue) != 0 {
		t.Errorf("b's own queue holds %+v: the queue is a's", onB.Queue)
	}
	var caller *phone.Call
	select {
	case pc := <-toQueue:
		if pc.err != nil {
			t.Fatalf("call to the switchboard: %v", pc.err)
		}
		caller = pc.call
	case <-time.After(10 * time.Second):
		t.Fatal("the switchboard did not answer")
	}
	board.mustPost("queue/"+queued.Queue[0].ID+"/answer", struct{}{})
	op := incoming(ctx, t, kari, "kari's desk phone (operator)", a, b)
	talking(ctx, t, "2002 (b) <-> operator 2001 (a) through a's switchboard", caller, op)
	if err := caller.Hangup(ctx); err != nil {
		t.Fatalf("hangup: %v", err)
	}

	// Node a dies with a call up that entered it (2001 on a calls 2002
	// on b: a holds its record). 2001 re-registers on b (as a phone with
	// b next in its DNS SRV set would) and is reachable there; nothing
	// is lost, and b closes the record a left open.
	cut, cutIn := call(ctx, t, kari, "2002", func() *phone.Call { return incoming(ctx, t, ola, "2002 on b", a, b) }, a)
	talking(ctx, t, "2001 (a) <-> 2002 (b), entered at a", cut, cutIn)
	cutID := cut.Invite().CallID().Value()
	if err := a.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-a.done
	kari2 := b.deskPhone(ctx, t, "2001")
	waitUntil(t, 10*time.Second, "b sees a dead", func() bool { return !b.alive()["a"] })
	out2, in2 := call(ctx, t, ola, "2001", func() *phone.Call { return incoming(ctx, t, kari2, "2001 re-registered on b", b) }, b)
	talking(ctx, t, "2002 <-> 2001, both on b", out2, in2)
	if err := out2.Hangup(ctx); err != nil {
		t.Fatalf("hangup: %v", err)
	}
	select {
	case <-kari.Incoming():
		t.Error("the phone still registered on the dead node was rung")
	default:
	}
	waitUntil(t, 10*time.Second, "the second call's record closed", func() bool {
		r := recordsOf(t, b, out2.Invite().CallID().Value())
		return len(r) == 1 && r[0]["disposition"] == "answered" && r[0]["end_time"] != nil && r[0]["end_time"] != ""
	})
	if r := recordsOf(t, b, firstID); len(r) != 1 {
		t.Errorf("the first call's record after node a died: %d records", len(r))
	}
	var cutRec []map[string]any
	deadline = time.Now().Add(20 * time.Second)
	for cutRec = recordsOf(t, b, cutID); !(len(cutRec) == 1 && cutRec[0]["state"] == "closed") && time.Now().Before(deadline); cutRec = recordsOf(t, b, cutID) {
		time.Sleep(100 * time.Millisecond)
	}
	if len(cutRec) != 1 || cutRec[0]["state"] != "closed" || cutRec[0]["disposition"] != "answered" {
		t.Errorf("the record of the call node a carried when it died: %v\n%s", cutRec, grepLines(b.logText(), "cluster"))
	}
	var msgs []vmView
	if err := json.Unmarshal([]byte(b.mustCLI("voicemail", "list", "--tenant", clTenant, "--mailbox", "2003", "--output", "json")), &msgs); err != nil || len(msgs) != 1 {
		t.Errorf("2003's messages after node a died: %d (%v)", len(msgs), err)
	}
}

// grepLines keeps the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
