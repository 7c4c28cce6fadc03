package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/cluster"
	"github.com/sentralpbx/sentral/console/api"
	"github.com/sentralpbx/sentral/console/web"
	"github.com/sentralpbx/sentral/events"
	"github.com/sentralpbx/sentral/sip/location"
	"github.com/sentralpbx/sentral/sip/mwi"
	"github.com/sentralpbx/sentral/store"
)

// ClusterConfig makes this node one of several that share one PostgreSQL
// database (docs/cluster.md): phones registered on any node are reachable
// from calls entering any other, and presence and message-waiting follow.
type ClusterConfig struct {
	// Enabled joins the cluster; it needs db to be a postgres:// URL.
	Enabled bool `yaml:"enabled"`
	// Node names this node, unique in the cluster; empty: the host name.
	// Bindings and call records carry it, so keep it stable.
	Node string `yaml:"node"`
	// SIPAddress is where the other nodes reach this node's SIP UDP
	// listener (ip:port); empty: the UDP listener's own address, which
	// must then name one address (not 0.0.0.0).
	SIPAddress string `yaml:"sip_address"`
	// ConsoleURL is this node's operators' console as operators reach it,
	// shown on the other nodes' consoles when this node holds the
	// switchboard queues; empty: the console listener's address.
	ConsoleURL string `yaml:"console_url"`
	// Heartbeat is how often the node shows it is alive; DeadAfter how
	// long the others wait before they stop relaying calls to a silent
	// node (its phones then re-register elsewhere).
	Heartbeat time.Duration `yaml:"heartbeat"`
	DeadAfter time.Duration `yaml:"dead_after"`
	// OrphanAfter is how long a node must have been dead before another
	// closes the call records it left open (the calls it carried cannot
	// be going on); a node that comes back closes its own at start.
	OrphanAfter time.Duration `yaml:"orphan_after"`
}

// DefaultOrphanAfter is cluster.orphan_after's default.
const DefaultOrphanAfter = 2 * time.Minute

var nodeNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

func (c ClusterConfig) validate() error {
	if c.Node != "" && !nodeNameRE.MatchString(c.Node) {
		return fmt.Errorf("config cluster.node %q: use letters, digits, '.', '_' and '-' (at most 63)", c.Node)
	}
	if c.Heartbeat <= 0 || c.DeadAfter < 2*c.Heartbeat {
		return fmt.Errorf("config cluster.heartbeat %s and cluster.dead_after %s: heartbeat must be positive and dead_after at least twice it", c.Heartbeat, c.DeadAfter)
	}
	if c.OrphanAfter < c.DeadAfter {
		return fmt.Errorf("config cluster.orphan_after %s: must be at least cluster.dead_after (%s)", c.OrphanAfter, c.DeadAfter)
	}
	if c.SIPAddress != "" {
		if ap, err := netip.ParseAddrPort(c.SIPAddress); err != nil || ap.Addr().IsUnspecified() {
			return fmt.Errorf("config cluster.sip_address %q: give ip:port of this node's SIP UDP listener as the other nodes reach it", c.SIPAddress)
		}
	}
	return nil
}

// nodeName is this node's name: cluster.node, else the host name.
func nodeName(cfg Config) string {
	if cfg.Cluster.Node != "" {
		return cfg.Cluster.Node
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "sentral"
}

// Notice kinds between nodes.
const (
	noticeAORs      = "aors"      // []aorNotice: bindings written; Refresh them
	noticeDialog    = "dialog"    // events.DialogEvent
	noticeVoicemail = "voicemail" // events.VoicemailEvent
)

// aorNotice is one AOR in an aors notice, kept short: many fit one notice.
type aorNotice struct {
	T int64  `json:"t"`
	N string `json:"n"`
}

// aorsPerNotice keeps an aors notice under cluster.MaxPayload even with
// long numbers.
const aorsPerNotice = 100

// newCluster joins the cluster when cluster.enabled, with the SIP UDP
// address the other nodes relay calls to; nil otherwise.
func newCluster(cfg Config, node, udpAddr string, log *zap.Logger) (*cluster.Cluster, error) {
	if !cfg.Cluster.Enabled {
		return nil, nil
	}
	// Checked here, not in Validate: --db is applied after the file.
	if !isPostgres(cfg.DB) {
		return nil, usageError{fmt.Errorf("config cluster.enabled: the nodes of a cluster share one PostgreSQL database; set db (--db) to a postgres:// URL")}
	}
	addr := cfg.Cluster.SIPAddress
	if addr == "" {
		addr = udpAddr
	}
	if ap, err := netip.ParseAddrPort(addr); err != nil || ap.Addr().IsUnspecified() {
		return nil, usageError{fmt.Errorf("cluster: the other nodes need this node's SIP UDP address, and sip.listen's udp listener %q names none: set cluster.sip_address", udpAddr)}
	}
	cl, err := cluster.New(cfg.DB, cluster.Options{Node: node, SIPAddr: addr, Heartbeat: cfg.Cluster.Heartbeat,
		DeadAfter: cfg.Cluster.DeadAfter, Log: log})
	if err != nil {
		return nil, usageError{err}
	}
	return cl, nil
}

// publishAORs tells the other nodes which AORs' bindings this node wrote.
func publishAORs(cl *cluster.Cluster, aors []location.AOR) {
	for len(aors) > 0 {
		n := min(len(aors), aorsPerNotice)
		batch := make([]aorNotice, n)
		for i, a := range aors[:n] {
			batch[i] = aorNotice{a.TenantID, a.Number}
		}
		cl.Publish(noticeAORs, batch)
		aors = aors[n:]
	}
}

// clusterLink connects a node's SIP stack to the cluster: bindings other
// nodes wrote are taken over, their dialog and mailbox events are
// published on this node's hub (console board, message-waiting lamps),
// and this node's events go out to them.
type clusterLink struct {
	cl  *cluster.Cluster
	loc *location.Service
	hub *events.Hub
	mwi *mwi.Notifier // nil without a media server
	// cdrs and orphanAfter close the records of dead nodes.
	cdrs        store.CDRStore
	orphanAfter time.Duration
	log         *zap.Logger
}

// closeOrphans closes the call records of nodes dead for orphanAfter,
// until ctx ends. Only the node holding the switchboard queues does it,
// so one node acts; it is idempotent anyway (only open records close).
// The records end as at a restart (store.CDRStore.CloseOrphans): at
// their last recorded event, billing nothing that cannot be proven.
func (l clusterLink) closeOrphans(ctx context.Context) error {
	t := time.NewTicker(min(30*time.Second, max(time.Second, l.orphanAfter/4)))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if _, leader := l.cl.QueueNode(); !leader {
			continue
		}
		for _, n := range l.cl.Nodes() {
			if n.Alive || n.Name == l.cl.Node() || time.Since(n.Seen) < l.orphanAfter {
				continue
			}
			// Every record it left open is an orphan, also one started
			// after its last heartbeat: the cut-off is now. (A node that
			// came back would be alive again.)
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			closed, err := l.cdrs.CloseOrphans(cctx, n.Name, time.Now())
			cancel()
			switch {
			case err != nil:
				l.log.Warn("cluster: close the records of a dead node", zap.String("node", n.Name), zap.Error(err))
			case closed > 0:
				l.log.Warn("cluster: closed the call records a dead node left open", zap.String("node", n.Name),
					zap.Int("records", closed), zap.Time("last_seen", n.Seen))
			}
		}
	}
}

// wire registers the handlers; call before the cluster runs.
func (l clusterLink) wire() {
	l.cl.OnResync(l.resync)
	l.cl.Handle(noticeAORs, func(ctx context.Context, from string, data json.RawMessage) {
		var aors []aorNotice
		if err := json.Unmarshal(data, &aors); err != nil {
			l.log.Warn("cluster: bad aors notice", zap.String("from", from), zap.Error(err))
			return
		}
		for _, a := range aors {
			if err := l.loc.Refresh(ctx, a.T, a.N); err != nil {
				l.log.Warn("cluster: refresh bindings", zap.String("from", from), zap.String("ext", a.N), zap.Error(err))
			}
		}
	})
	l.cl.Handle(noticeDialog, func(_ context.Context, from string, data json.RawMessage) {
		var ev events.DialogEvent
		if err := json.Unmarshal(data, &ev); err != nil {
			l.log.Warn("cluster: bad dialog notice", zap.String("from", from), zap.Error(err))
			return
		}
		ev.Node = from
		l.hub.Dialogs.Publish(ev)
	})
	l.cl.Handle(noticeVoicemail, func(ctx context.Context, from string, data json.RawMessage) {
		var ev events.VoicemailEvent
		if err := json.Unmarshal(data, &ev); err != nil {
			l.log.Warn("cluster: bad voicemail notice", zap.String("from", from), zap.Error(err))
			return
		}
		ev.Node = from
		l.hub.Voicemail.Publish(ev)
		if l.mwi != nil {
			// Our phones' lamps: NOTIFYs go out only from the node that
			// holds their subscriptions and flows.
			if err := l.mwi.Changed(ctx, ev.TenantID, ev.Mailbox); err != nil {
				l.log.Warn("cluster: message waiting", zap.String("from", from), zap.String("mailbox", ev.Mailbox), zap.Error(err))
			}
		}
	})
}

// resync re-reads every binding: notices sent while this node was not
// listening are lost.
func (l clusterLink) resync(ctx context.Context) {
	if err := l.loc.RefreshAll(ctx); err != nil {
		l.log.Warn("cluster: resync bindings", zap.Error(err))
	}
}

// forward sends this node's own dialog and mailbox events to the others
// until ctx ends.
func (l clusterLink) forward(ctx context.Context) error {
	dialogs := l.hub.Dialogs.Subscribe(ctx, 4096)
	mailboxes := l.hub.Voicemail.Subscribe(ctx, 1024)
	for {
		select {
		case ev, ok := <-dialogs:
			if !ok {
				return nil
			}
			if ev.Node == "" {
				l.cl.Publish(noticeDialog, ev)
			}
		case ev, ok := <-mailboxes:
			if !ok {
				return nil
			}
			if ev.Node == "" {
				l.cl.Publish(noticeVoicemail, ev)
			}
		}
	}
}

// localBindings shows only the bindings this node holds: only the node
// with a phone's flow may send it message-waiting NOTIFYs.
type localBindings struct{ loc *location.Service }

func (l localBindings) Bindings(tenantID int64, number string) []store.Binding {
	bs := l.loc.Bindings(tenantID, number)
	out := bs[:0:0]
	for _, b := range bs {
		if l.loc.Local(b) {
			out = append(out, b)
		}
	}
	return out
}

// clusterNodeCols are the columns of `cluster status`.
var clusterNodeCols = []column[cluster.Node]{
	{"node", func(n cluster.Node) string { return n.Name }},
	{"sip", func(n cluster.Node) string { return n.SIPAddr }},
	{"alive", func(n cluster.Node) string { return strconv.FormatBool(n.Alive) }},
	{"started_at", func(n cluster.Node) string { return stamp(n.Started) }},
	{"seen_at", func(n cluster.Node) string { return stamp(n.Seen) }},
}

// clusterNodesPath is the admin API's view of the cluster's nodes.
const clusterNodesPath = "/api/v1/cluster/nodes"

// clusterCmd is `sentral cluster status`: the nodes as the running
// server's last heartbeat saw them.
func (a *app) clusterCmd() *cobra.Command {
	c := &cobra.Command{Use: "cluster", Short: "Nodes of a cluster on one PostgreSQL database (docs/cluster.md)"}
	c.AddCommand(serverListCmd(a, "status [--server URL]",
		"Show the cluster's nodes, their SIP addresses and whether they are alive (from the running server's admin API)",
		clusterNodesPath, clusterNodeCols))
	return c
}

// mountCluster serves the node list on the admin API; outside a cluster
// it lists nothing.
func mountCluster(mux *http.ServeMux, s *sipStack) {
	mux.HandleFunc("GET "+clusterNodesPath, func(w http.ResponseWriter, _ *http.Request) {
		nodes := []cluster.Node{}
		if s != nil && s.cluster != nil {
			nodes = s.cluster.Nodes()
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(nodes)
	})
}

// queueHome tells the console which node holds the switchboard queues;
// nil outside a cluster.
func queueHome(s *sipStack) func() api.Home {
	if s == nil || s.cluster == nil {
		return nil
	}
	return func() api.Home {
		n, local := s.cluster.QueueNode()
		return api.Home{Node: n.Name, URL: n.Console, Here: local}
	}
}

// consoleURLOf is the console address the other nodes' consoles show:
// cluster.console_url, else the console listener's, with this node's
// cluster SIP address when the listener names no address.
func consoleURLOf(cfg Config, cs *consoleServer, sipAddr string) string {
	if cfg.Cluster.ConsoleURL != "" || cs == nil {
		return cfg.Cluster.ConsoleURL
	}
	scheme := "http"
	if cs.tls {
		scheme = "https"
	}
	ap, err := netip.ParseAddrPort(cs.ln.Addr().String())
	if err != nil {
		return ""
	}
	host := ap.Addr()
	if host.IsUnspecified() {
		if sa, err := netip.ParseAddrPort(sipAddr); err == nil {
			host = sa.Addr()
		}
	}
	return scheme + "://" + netip.AddrPortFrom(host, ap.Port()).String() + web.PathPrefix
}
