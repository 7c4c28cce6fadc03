// Package cluster makes several Sentral nodes on one PostgreSQL database
// one switch. Each node heartbeats its row in cluster_nodes (name, SIP
// address), so every node knows which others are alive and where their
// SIP listener is; and nodes tell each other what changed (bindings,
// dialog states, mailboxes) with LISTEN/NOTIFY on one channel.
//
// The database stays the truth: a notice only says what to re-read, or
// carries an event whose loss costs a lamp or a board entry until the
// next change, never data. After the listening connection was lost, the
// node re-reads everything (Options.Resync), since notices sent meanwhile
// are gone.
package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"
)

// Channel is the NOTIFY channel every node listens on.
const Channel = "sentral_cluster"

// MaxPayload is the most bytes of one notice's JSON: PostgreSQL refuses
// NOTIFY payloads of 8000 bytes and more.
const MaxPayload = 7900

// Defaults of Options.
const (
	DefaultHeartbeat = time.Second
	DefaultDeadAfter = 5 * time.Second
)

// reconnectEvery is how long a node waits before it dials the database
// again after losing a connection.
const reconnectEvery = time.Second

// Notice is one message between nodes.
type Notice struct {
	From string          `json:"from"`
	Kind string          `json:"kind"`
	Data json.RawMessage `json:"data"`
}

// Node is one node as the heartbeat table shows it.
type Node struct {
	Name    string    `json:"name"`
	SIPAddr string    `json:"sip_addr"`              // host:port of its SIP UDP listener
	Console string    `json:"console_url,omitempty"` // its operators' console, if it serves one
	Started time.Time `json:"started_at"`
	Seen    time.Time `json:"seen_at"`
	Alive   bool      `json:"alive"`
}

// Handler takes notices of one kind, on the cluster's one dispatch
// goroutine, in the order they were sent by each node.
type Handler func(ctx context.Context, from string, data json.RawMessage)

// Options configure a Cluster.
type Options struct {
	// Node is this node's name, unique in the cluster (bindings and call
	// records carry it).
	Node string
	// SIPAddr is where the other nodes reach this node's SIP UDP listener
	// (ip:port); requests from it are trusted as this node's.
	SIPAddr string
	// ConsoleURL is this node's operators' console, shown by the consoles
	// of the other nodes when this node holds the switchboard queues.
	ConsoleURL string
	// Heartbeat is how often the node writes its row and reads the others'
	// (DefaultHeartbeat); DeadAfter how long a silent node counts as alive
	// (DefaultDeadAfter).
	Heartbeat, DeadAfter time.Duration
	// Resync, if set, runs after the node (re)started listening: what
	// other nodes said while it was not listening is lost, so it re-reads.
	Resync func(ctx context.Context)
	// OnNodes, if set, is told the node list after every heartbeat that
	// changed who is alive.
	OnNodes func(nodes []Node)
	Log     *zap.Logger
}

// Cluster is this node's membership. Peer and IsPeer are safe for
// concurrent use; Handle only before Run.
type Cluster struct {
	dsn      string
	opt      Options
	self     netip.AddrPort
	handlers map[string]Handler
	out      chan Notice
	in       chan Notice
	started  time.Time

	leaving atomic.Bool // Leave was called: no more heartbeats

	mu    sync.RWMutex
	nodes map[string]Node
	// known are the other nodes seen within rememberFor, alive or not:
	// calls through a node that has left still end through it.
	known map[string]Node
}

// rememberFor is how long a node that left or died is still trusted as a
// hop of calls that went through it.
const rememberFor = time.Hour

// New returns the membership of node opt.Node in the cluster on the
// PostgreSQL database dsn; Run joins it.
func New(dsn string, opt Options) (*Cluster, error) {
	if opt.Node == "" {
		return nil, errors.New("cluster: node name is empty")
	}
	self, err := netip.ParseAddrPort(opt.SIPAddr)
	if err != nil || self.Addr().IsUnspecified() {
		return nil, fmt.Errorf("cluster: sip address %q: want the ip:port other nodes reach this node's SIP UDP listener at", opt.SIPAddr)
	}
	if _, err := pgx.ParseConfig(dsn); err != nil {
		return nil, fmt.Errorf("cluster: database: %w", err)
	}
	if opt.Heartbeat <= 0 {
		opt.Heartbeat = DefaultHeartbeat
	}
	if opt.DeadAfter <= 0 {
		opt.DeadAfter = DefaultDeadAfter
	}
	if opt.Log == nil {
		opt.Log = zap.NewNop()
	}
	return &Cluster{dsn: dsn, opt: opt, self: unmap(self), handlers: map[string]Handler{},
		out: make(chan Notice, 4096), in: make(chan Notice, 4096), nodes: map[string]Node{}, known: map[string]Node{}}, nil
}

// Node returns this node's name.
func (c *Cluster) Node() string { return c.opt.Node }

// SIPAddr returns this node's SIP address as the others reach it.
func (c *Cluster) SIPAddr() string { return c.self.String() }

// Handle registers the handler of one kind of notice. Call before Run.
func (c *Cluster) Handle(kind string, h Handler) { c.handlers[kind] = h }

// SetConsoleURL sets Options.ConsoleURL (known once the console listens).
// Call before Run.
func (c *Cluster) SetConsoleURL(u string) { c.opt.ConsoleURL = u }

// OnResync sets Options.Resync. Call before Run.
func (c *Cluster) OnResync(f func(ctx context.Context)) { c.opt.Resync = f }

// Publish sends a notice to the other nodes. It never blocks: when the
// queue is full (the database is unreachable) the notice is dropped and
// logged, which the receivers' Resync after reconnecting makes good.
func (c *Cluster) Publish(kind string, data any) {
	raw, err := json.Marshal(data)
	if err != nil {
		c.opt.Log.Error("cluster: notice not encodable", zap.String("kind", kind), zap.Error(err))
		return
	}
	n := Notice{From: c.opt.Node, Kind: kind, Data: raw}
	if b, _ := json.Marshal(n); len(b) > MaxPayload {
		c.opt.Log.Error("cluster: notice too large, not sent", zap.String("kind", kind), zap.Int("bytes", len(b)))
		return
	}
	select {
	case c.out <- n:
	default:
		c.opt.Log.Warn("cluster: send queue full, notice dropped", zap.String("kind", kind))
	}
}

// Peer places a node: local for this node (and ""), otherwise its SIP
// address and whether it heartbeats.
func (c *Cluster) Peer(node string) (addr string, local, alive bool) {
	if node == "" || node == c.opt.Node {
		return "", true, true
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	n, ok := c.nodes[node]
	if !ok {
		return "", false, false
	}
	return n.SIPAddr, false, n.Alive
}

// Leave takes this node out of the cluster while it keeps running (a
// drain): its row goes, so the others stop relaying new calls to its
// phones and another node takes the switchboard queues; calls that went
// through it still end through it, and it still hears the others.
func (c *Cluster) Leave() { c.leaving.Store(true) }

// IsPeer reports whether addr (ip:port) is the SIP address of another
// node seen within the last hour: requests from it are relays or hops of
// calls through it, even when it has left since.
func (c *Cluster) IsPeer(addr string) bool {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return false
	}
	ap = unmap(ap)
	if ap == c.self {
		return false
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, n := range c.known {
		if p, err := netip.ParseAddrPort(n.SIPAddr); err == nil && unmap(p) == ap {
			return true
		}
	}
	return false
}

// QueueNode names the node that holds the switchboard queues: the live
// node whose name sorts first (this one until the first heartbeat). One
// node holds them so that every operator sees one queue per tenant and
// answers in one order, whichever node a call enters. local says it is
// this node; otherwise addr is its SIP address.
func (c *Cluster) QueueNode() (node Node, local bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var best Node
	if !c.leaving.Load() {
		best = Node{Name: c.opt.Node, SIPAddr: c.self.String(), Console: c.opt.ConsoleURL, Alive: true}
	}
	for _, n := range c.nodes {
		if n.Alive && n.Name != c.opt.Node && (best.Name == "" || n.Name < best.Name) {
			best = n
		}
	}
	if best.Name == "" {
		// Leaving, and nobody else: we are all there is.
		best = Node{Name: c.opt.Node, SIPAddr: c.self.String(), Console: c.opt.ConsoleURL, Alive: true}
	}
	return best, best.Name == c.opt.Node
}

// QueueHome is QueueNode as routing.QueueHome asks: the SIP address.
func (c *Cluster) QueueHome() (addr string, local bool) {
	n, local := c.QueueNode()
	return n.SIPAddr, local
}

// Nodes lists the nodes of the last heartbeat, by name.
func (c *Cluster) Nodes() []Node {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]Node, 0, len(c.nodes))
	for _, n := range c.nodes {
		out = append(out, n)
	}
	slices.SortFunc(out, func(a, b Node) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	return out
}

// Run joins the cluster until ctx ends: it heartbeats, listens, sends the
// published notices and dispatches the received ones, each on its own
// goroutine, reconnecting after database failures. On the way out it
// removes the node's row, so the others stop relaying to it at once.
func (c *Cluster) Run(ctx context.Context) error {
	c.started = time.Now().UTC()
	var wg sync.WaitGroup
	for _, f := range []func(context.Context){c.heartbeat, c.listen, c.send, c.dispatch} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(ctx)
		}()
	}
	wg.Wait()
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
	defer cancel()
	if conn, err := pgx.Connect(lctx, c.dsn); err == nil {
		_, err = conn.Exec(lctx, "DELETE FROM cluster_nodes WHERE name = $1", c.opt.Node)
		_ = conn.Close(lctx)
		if err != nil {
			c.opt.Log.Warn("cluster: leaving", zap.Error(err))
		}
	}
	return nil
}

// connect dials until it succeeds or ctx ends, logging failures once
// when they start and when they end.
func (c *Cluster) connect(ctx context.Context, what string) (*pgx.Conn, error) {
	failing := false
	for {
		conn, err := pgx.Connect(ctx, c.dsn)
		if err == nil {
			if failing {
				c.opt.Log.Info("cluster: database reachable again", zap.String("conn", what))
			}
			return conn, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if !failing {
			c.opt.Log.Warn("cluster: database unreachable; retrying", zap.String("conn", what), zap.Error(err))
			failing = true
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(reconnectEvery):
		}
	}
}

// heartbeat writes this node's row and reads everyone's every Heartbeat.
// Liveness is judged by the database's clock, so the nodes' clocks need
// not agree.
func (c *Cluster) heartbeat(ctx context.Context) {
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			_ = conn.Close(context.WithoutCancel(ctx))
		}
	}()
	t := time.NewTicker(c.opt.Heartbeat)
	defer t.Stop()
	for {
		if conn == nil {
			var err error
			if conn, err = c.connect(ctx, "heartbeat"); err != nil {
				return
			}
		}
		if err := c.beat(ctx, conn); err != nil {
			if ctx.Err() != nil {
				return
			}
			c.opt.Log.Warn("cluster: heartbeat failed", zap.Error(err))
			_ = conn.Close(ctx)
			conn = nil
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (c *Cluster) beat(ctx context.Context, conn *pgx.Conn) error {
	bctx, cancel := context.WithTimeout(ctx, c.opt.DeadAfter)
	defer cancel()
	if c.leaving.Load() {
		if _, err := conn.Exec(bctx, "DELETE FROM cluster_nodes WHERE name = $1", c.opt.Node); err != nil {
			return fmt.Errorf("leave: %w", err)
		}
	} else if _, err := conn.Exec(bctx, `INSERT INTO cluster_nodes (name, sip_addr, console_url, started_at, seen_at) VALUES ($1, $2, $3, $4, now())
		ON CONFLICT (name) DO UPDATE SET sip_addr = EXCLUDED.sip_addr, console_url = EXCLUDED.console_url,
		started_at = EXCLUDED.started_at, seen_at = now()`,
		c.opt.Node, c.self.String(), c.opt.ConsoleURL, c.started); err != nil {
		return fmt.Errorf("write heartbeat: %w", err)
	}
	rows, err := conn.Query(bctx, "SELECT name, sip_addr, console_url, started_at, seen_at, seen_at > now() - $1::interval FROM cluster_nodes",
		fmt.Sprintf("%d milliseconds", c.opt.DeadAfter.Milliseconds()))
	if err != nil {
		return fmt.Errorf("read nodes: %w", err)
	}
	nodes, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Node, error) {
		var n Node
		err := r.Scan(&n.Name, &n.SIPAddr, &n.Console, &n.Started, &n.Seen, &n.Alive)
		return n, err
	})
	if err != nil {
		return fmt.Errorf("read nodes: %w", err)
	}
	next := make(map[string]Node, len(nodes))
	for _, n := range nodes {
		next[n.Name] = n
	}
	c.mu.Lock()
	changed := len(next) != len(c.nodes)
	for name, n := range next {
		if o, ok := c.nodes[name]; !ok || o.Alive != n.Alive || o.SIPAddr != n.SIPAddr {
			changed = true
		}
	}
	c.nodes = next
	now := time.Now()
	for name, n := range next {
		if name != c.opt.Node {
			n.Seen = now // by our clock: only for forgetting
			c.known[name] = n
		}
	}
	for name, n := range c.known {
		if now.Sub(n.Seen) > rememberFor {
			delete(c.known, name)
		}
	}
	c.mu.Unlock()
	if changed {
		for _, n := range nodes {
			if n.Name != c.opt.Node {
				c.opt.Log.Info("cluster: node", zap.String("node", n.Name), zap.String("sip", n.SIPAddr), zap.Bool("alive", n.Alive))
			}
		}
		if c.opt.OnNodes != nil {
			c.opt.OnNodes(c.Nodes())
		}
	}
	return nil
}

// listen receives notices into the dispatch queue, re-listening (and
// asking for a resync) after a lost connection.
func (c *Cluster) listen(ctx context.Context) {
	for ctx.Err() == nil {
		conn, err := c.connect(ctx, "listen")
		if err != nil {
			return
		}
		if _, err := conn.Exec(ctx, "LISTEN "+Channel); err != nil {
			c.opt.Log.Warn("cluster: listen", zap.Error(err))
			_ = conn.Close(context.WithoutCancel(ctx))
			continue
		}
		// Notices sent before LISTEN took effect are lost: catch up.
		c.enqueue(ctx, Notice{Kind: kindResync})
		for {
			n, err := conn.WaitForNotification(ctx)
			if err != nil {
				if ctx.Err() == nil {
					c.opt.Log.Warn("cluster: listening connection lost", zap.Error(err))
				}
				break
			}
			var nt Notice
			if err := json.Unmarshal([]byte(n.Payload), &nt); err != nil || nt.Kind == "" || nt.Kind == kindResync {
				c.opt.Log.Warn("cluster: malformed notice ignored", zap.String("payload", truncate(n.Payload, 200)))
				continue
			}
			if nt.From == c.opt.Node {
				continue // our own
			}
			c.enqueue(ctx, nt)
		}
		_ = conn.Close(context.WithoutCancel(ctx))
	}
}

// kindResync is the dispatch queue's marker for Options.Resync; it never
// travels between nodes.
const kindResync = "\x00resync"

func (c *Cluster) enqueue(ctx context.Context, n Notice) {
	select {
	case c.in <- n:
	case <-ctx.Done():
	}
}

// dispatch hands received notices to their handlers, one at a time.
func (c *Cluster) dispatch(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case n := <-c.in:
			if n.Kind == kindResync {
				if c.opt.Resync != nil {
					c.opt.Resync(ctx)
				}
				continue
			}
			if h := c.handlers[n.Kind]; h != nil {
				h(ctx, n.From, n.Data)
			}
		}
	}
}

// send writes published notices with pg_notify, which delivers them to
// every listening node when the statement commits.
func (c *Cluster) send(ctx context.Context) {
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			_ = conn.Close(context.WithoutCancel(ctx))
		}
	}()
	for {
		var n Notice
		select {
		case <-ctx.Done():
			return
		case n = <-c.out:
		}
		payload, _ := json.Marshal(n)
		for ctx.Err() == nil {
			if conn == nil {
				var err error
				if conn, err = c.connect(ctx, "send"); err != nil {
					return
				}
			}
			sctx, cancel := context.WithTimeout(ctx, c.opt.DeadAfter)
			_, err := conn.Exec(sctx, "SELECT pg_notify($1, $2)", Channel, string(payload))
			cancel()
			if err == nil {
				break
			}
			c.opt.Log.Warn("cluster: notify failed; reconnecting", zap.String("kind", n.Kind), zap.Error(err))
			_ = conn.Close(context.WithoutCancel(ctx))
			conn = nil
		}
	}
}

func unmap(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
