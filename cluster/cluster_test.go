package cluster_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap/zaptest"

	"github.com/sentralpbx/sentral/cluster"
	"github.com/sentralpbx/sentral/store/pgtest"
	"github.com/sentralpbx/sentral/store/postgres"
)

// migrated returns a fresh PostgreSQL database with Sentral's schema.
func migrated(t *testing.T) string {
	t.Helper()
	dsn := pgtest.DSN(t, "sentral_cluster")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := postgres.Open(ctx, dsn, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_ = st.Close()
	return dsn
}

type inbox struct {
	mu      sync.Mutex
	got     []string
	resyncs int
}

func (b *inbox) add(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.got = append(b.got, s)
}

func (b *inbox) snapshot() ([]string, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.got...), b.resyncs
}

// join starts a node and returns it with what it receives and a stop.
func join(t *testing.T, dsn, name, sip string) (*cluster.Cluster, *inbox, func()) {
	t.Helper()
	box := &inbox{}
	c, err := cluster.New(dsn, cluster.Options{Node: name, SIPAddr: sip, Heartbeat: 100 * time.Millisecond,
		DeadAfter: 600 * time.Millisecond, Log: zaptest.NewLogger(t).Named(name),
		Resync: func(context.Context) { box.mu.Lock(); box.resyncs++; box.mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	c.Handle("hello", func(_ context.Context, from string, data json.RawMessage) {
		var s string
		_ = json.Unmarshal(data, &s)
		box.add(from + ":" + s)
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = c.Run(ctx)
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Errorf("node %s did not stop", name)
			}
		})
	}
	t.Cleanup(stop)
	return c, box, stop
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestTwoNodes: two nodes find each other by heartbeat, trust each
// other's SIP address and nobody else's, exchange notices (not their own),
// resync on joining, and a node that leaves stops being a peer at once.
func TestTwoNodes(t *testing.T) {
	dsn := migrated(t)
	a, boxA, _ := join(t, dsn, "a", "127.0.0.1:5060")
	b, boxB, stopB := join(t, dsn, "b", "127.0.0.2:5062")
	eventually(t, "both nodes see each other alive", func() bool {
		_, la, aliveA := b.Peer("a")
		_, lb, aliveB := a.Peer("b")
		return aliveA && aliveB && !la && !lb
	})
	if addr, _, _ := a.Peer("b"); addr != "127.0.0.2:5062" {
		t.Errorf("a places b at %q", addr)
	}
	if _, local, _ := a.Peer("a"); !local {
		t.Error("a is not local to itself")
	}
	if _, local, alive := a.Peer("z"); local || alive {
		t.Error("an unknown node is local or alive")
	}
	for addr, want := range map[string]bool{"127.0.0.2:5062": true, "127.0.0.2:5063": false, "127.0.0.1:5060": false,
		"[::ffff:127.0.0.2]:5062": true, "garbage": false} {
		if got := a.IsPeer(addr); got != want {
			t.Errorf("a.IsPeer(%s) = %v, want %v", addr, got, want)
		}
	}
	eventually(t, "both resynced after listening", func() bool {
		_, ra := boxA.snapshot()
		_, rb := boxB.snapshot()
		return ra >= 1 && rb >= 1
	})

	a.Publish("hello", "from-a")
	b.Publish("hello", "from-b")
	a.Publish("unknown-kind", 1)
	eventually(t, "notices cross", func() bool {
		ga, _ := boxA.snapshot()
		gb, _ := boxB.snapshot()
		return len(ga) == 1 && len(gb) == 1
	})
	ga, _ := boxA.snapshot()
	gb, _ := boxB.snapshot()
	if ga[0] != "b:from-b" || gb[0] != "a:from-a" {
		t.Errorf("a got %q, b got %q", ga, gb)
	}
	// Ordered per sender.
	for i := range 50 {
		a.Publish("hello", string(rune('A'+i%26)))
	}
	eventually(t, "50 more notices", func() bool { g, _ := boxB.snapshot(); return len(g) == 51 })
	gb, _ = boxB.snapshot()
	for i := range 50 {
		if want := "a:" + string(rune('A'+i%26)); gb[i+1] != want {
			t.Fatalf("notice %d is %q, want %q", i, gb[i+1], want)
		}
	}

	stopB()
	if _, _, alive := a.Peer("b"); !alive {
		t.Log("b already gone")
	}
	eventually(t, "a sees b gone after it left", func() bool {
		_, _, alive := a.Peer("b")
		return !alive
	})
	if !a.IsPeer("127.0.0.2:5062") {
		t.Error("a no longer trusts b's address: calls through b could not end through it")
	}
}

// TestLeave: a node that leaves (drains) stops being alive for the others
// and hands the switchboard queues to the next node, while both still
// trust each other's addresses and exchange notices.
func TestLeave(t *testing.T) {
	dsn := migrated(t)
	a, boxA, _ := join(t, dsn, "a", "127.0.0.1:5060")
	b, _, _ := join(t, dsn, "b", "127.0.0.2:5062")
	eventually(t, "both alive", func() bool {
		_, _, x := a.Peer("b")
		_, _, y := b.Peer("a")
		return x && y
	})
	if n, local := b.QueueNode(); n.Name != "a" || local {
		t.Errorf("queues on %q (local %v), want a", n.Name, local)
	}
	if n, local := a.QueueNode(); n.Name != "a" || !local {
		t.Errorf("a: queues on %q (local %v), want a, local", n.Name, local)
	}
	a.Leave()
	eventually(t, "b sees a gone", func() bool { _, _, alive := b.Peer("a"); return !alive })
	if n, local := b.QueueNode(); n.Name != "b" || !local {
		t.Errorf("b after a left: queues on %q (local %v), want b", n.Name, local)
	}
	if n, local := a.QueueNode(); n.Name != "b" || local || n.SIPAddr != "127.0.0.2:5062" {
		t.Errorf("a after leaving: queues on %+v (local %v), want b", n, local)
	}
	if !b.IsPeer("127.0.0.1:5060") || !a.IsPeer("127.0.0.2:5062") {
		t.Error("a node that left is no longer a trusted hop")
	}
	b.Publish("hello", "still-listening")
	eventually(t, "a still hears b", func() bool { g, _ := boxA.snapshot(); return len(g) == 1 })
}

// TestDeadNode: a node that stops heartbeating without leaving (killed)
// counts as dead after DeadAfter.
func TestDeadNode(t *testing.T) {
	dsn := migrated(t)
	a, _, _ := join(t, dsn, "a", "127.0.0.1:5060")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	// A row as a killed node leaves it: seen a while ago.
	if _, err := conn.Exec(ctx, `INSERT INTO cluster_nodes (name, sip_addr, started_at, seen_at)
		VALUES ('k', '127.0.0.3:5060', now() - interval '1 hour', now() - interval '10 seconds')`); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a knows k", func() bool { addr, _, _ := a.Peer("k"); return addr != "" })
	if _, _, alive := a.Peer("k"); alive {
		t.Error("a node silent for 10 s counts as alive")
	}
}

// TestBadOptions: errors name what is wrong.
func TestBadOptions(t *testing.T) {
	for _, o := range []cluster.Options{{SIPAddr: "127.0.0.1:5060"}, {Node: "a", SIPAddr: "0.0.0.0:5060"}, {Node: "a", SIPAddr: "host"}} {
		if _, err := cluster.New("postgres://x@127.0.0.1/db", o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
}
