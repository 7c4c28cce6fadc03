package main

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/cluster"
	"github.com/sentralpbx/sentral/events"
	"github.com/sentralpbx/sentral/media/queue"
	"github.com/sentralpbx/sentral/media/webrtc"
	"github.com/sentralpbx/sentral/provisioning"
	"github.com/sentralpbx/sentral/sip/auth"
	"github.com/sentralpbx/sentral/sip/callrecord"
	"github.com/sentralpbx/sentral/sip/location"
	"github.com/sentralpbx/sentral/sip/server"
	"github.com/sentralpbx/sentral/sip/trunk"
	"github.com/sentralpbx/sentral/store"
	"github.com/sentralpbx/sentral/store/catalog"
	"github.com/sentralpbx/sentral/store/sqlite"
	"github.com/sentralpbx/sentral/test/testrun"
)

type fakeTrunks []trunk.TrunkStatus

func (f fakeTrunks) Status() []trunk.TrunkStatus { return f }

// fakeSIPServer is a real server with a made-up stateless drop count.
type fakeSIPServer struct {
	*server.Server
	dropped int64
}

func (f fakeSIPServer) StatelessDropped() int64 { return f.dropped }

type fakeProxy struct {
	routing, dialogs int
	outcomes         map[string]uint64
	draining         bool
}

func (f fakeProxy) Active() (int, int)          { return f.routing, f.dialogs }
func (f fakeProxy) Outcomes() map[string]uint64 { return f.outcomes }
func (f fakeProxy) Draining() bool              { return f.draining }

type fakeLegs int

func (f fakeLegs) Legs() int { return int(f) }

type fakeCluster []cluster.Node

func (f fakeCluster) Nodes() []cluster.Node { return f }

// optionsOverUDP starts a SIP server on loopback and sends it n OPTIONS
// pings, waiting for each answer.
func optionsOverUDP(t *testing.T, n int) *server.Server {
	t.Helper()
	srv, err := server.New(server.Options{Listen: []server.Listener{{Network: "udp", Addr: "127.0.0.1:0"}}, Log: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	testrun.Start(t, srv.Serve)
	conn, err := net.Dial("udp", srv.Addr("udp"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	local := conn.LocalAddr().String()
	for i := range n {
		branch := "z9hG4bK-m" + strconv.Itoa(i)
		msg := "OPTIONS sip:fjordvik.test SIP/2.0\r\nVia: SIP/2.0/UDP " + local + ";branch=" + branch + "\r\n" +
			"From: <sip:probe@fjordvik.test>;tag=p1\r\nTo: <sip:fjordvik.test>\r\nCall-ID: " + branch + "\r\n" +
			"CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
		if _, err := conn.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(3 * time.Second))
		if _, err := conn.Read(make([]byte, 4096)); err != nil {
			t.Fatalf("OPTIONS %d: %v", i, err)
		}
	}
	return srv
}

type fakeMedia int

func (f fakeMedia) Calls() int { return int(f) }

type fakeBoard map[int64]queue.State

func (f fakeBoard) Snapshot(id int64) queue.State { return f[id] }

type fakeRecords callrecord.Stats

func (f fakeRecords) Stats() callrecord.Stats { return callrecord.Stats(f) }

// metricsLine is a sample line of the text format: name, optional labels
// (each value a quoted string with \\, \" and \n escapes), value.
var metricsLine = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\[\\"n]|[^\\"\n])*")(,[a-zA-Z_][a-zA-Z0-9_]*="(\\[\\"n]|[^\\"\n])*")*\})? (NaN|[+-]Inf|[-+0-9.eE]+)$`)

func parseExposition(t *testing.T, body string) map[string][]string {
	t.Helper()
	samples := map[string][]string{}
	if !strings.HasSuffix(body, "\n") {
		t.Error("output does not end in a newline")
	}
	for _, l := range strings.Split(strings.TrimSuffix(body, "\n"), "\n") {
		switch {
		case strings.HasPrefix(l, "# HELP ") || strings.HasPrefix(l, "# TYPE "):
			if f := strings.Fields(l); len(f) < 3 {
				t.Errorf("short comment line %q", l)
			}
		case strings.HasPrefix(l, "#"):
		case metricsLine.MatchString(l):
			name := l[:strings.IndexAny(l, "{ ")]
			samples[name] = append(samples[name], l)
		default:
			t.Errorf("line does not parse: %q", l)
		}
	}
	return samples
}

func openMetricsStore(t *testing.T) (*catalog.Catalog, store.Store, func() error) {
	t.Helper()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "sentral.db"), sqlite.Options{Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	prov := provisioning.New(st, provisioning.Policies{})
	dom, ranges, sb := "sip.fjordvik.test", []string{"2000-2999"}, "2000"
	if _, err := prov.AddTenant(ctx, "fjordvik", provisioning.TenantInput{Domain: &dom, ExtRanges: &ranges, Switchboard: &sb}); err != nil {
		t.Fatal(err)
	}
	dom2, ranges2 := "sip.nordby.test", []string{"3000-3999"}
	if _, err := prov.AddTenant(ctx, "nordby", provisioning.TenantInput{Domain: &dom2, ExtRanges: &ranges2}); err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Load(ctx, st, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	return cat, st, st.Close
}

func scrape(t *testing.T, h http.Handler, path string) (int, string, http.Header) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	b, _ := io.ReadAll(rec.Body)
	return rec.Code, string(b), rec.Header()
}

func TestMetricsOverSQLite(t *testing.T) {
	cat, st, _ := openMetricsStore(t)
	fjordvik, _ := cat.TenantByName("fjordvik")

	loc := location.New(st.Bindings(), zap.NewNop(), location.Options{Node: "test"})
	if _, err := loc.Update(fjordvik.ID, "2101", []store.Binding{{Contact: "sip:2101@10.0.0.5:5060", CallID: "c1", CSeq: 1,
		Expires: time.Now().Add(time.Hour)}}, nil); err != nil {
		t.Fatal(err)
	}
	guard := auth.NewGuard(auth.GuardOptions{MaxFailures: 1})
	guard.Failed(netip.MustParseAddr("192.0.2.7"))
	hub := events.NewHub(events.Options{})
	src := sourcesOf(st, cat, nil)
	src.bindings, src.guard, src.hub = loc, guard, hub
	src.trunks = fakeTrunks{
		{TenantID: fjordvik.ID, Name: `centrex "main"`, Status: trunk.Status{State: trunk.StateRegistered}},
		{TenantID: fjordvik.ID, Name: "backup", Status: trunk.Status{State: trunk.StateFailed, Attempts: 3}},
	}
	src.media = fakeMedia(2)
	src.sipServer = fakeSIPServer{Server: optionsOverUDP(t, 2), dropped: 5}
	src.proxy = fakeProxy{routing: 3, dialogs: 4, outcomes: map[string]uint64{"busy": 2, "answered": 7}, draining: true}
	src.webrtc = fakeLegs(1)
	src.cluster = fakeCluster{{Name: "pbx1", Alive: true}, {Name: "pbx2", Alive: true}, {Name: "pbx3"}}
	src.records = fakeRecords{Queued: 1, Written: 40, Dropped: 0, Failed: 2}
	src.switchboard = fakeBoard{fjordvik.ID: {
		Queue:     []queue.QueueCall{{ID: "a"}, {ID: "b"}, {ID: "c"}},
		Operators: []queue.OperatorState{{Username: "kari", Available: true, Busy: true}, {Username: "ola", Available: true}, {Username: "per"}},
	}}

	mux := http.NewServeMux()
	mux.Handle("GET /metrics", newMetricsRegistry(src, time.Now()).Handler())
	code, body, hdr := scrape(t, mux, "/metrics")
	if code != http.StatusOK || hdr.Get("Content-Type") != "text/plain; version=0.0.4; charset=utf-8" {
		t.Fatalf("GET /metrics = %d %q", code, hdr.Get("Content-Type"))
	}
	got := parseExposition(t, body)
	for _, want := range []string{
		"sentral_store_up 1",
		"sentral_registrations 1",
		"sentral_sip_bans 1",
		"sentral_tenants 2",
		`sentral_trunk_up{tenant="fjordvik",trunk="backup"} 0`,
		`sentral_trunk_up{tenant="fjordvik",trunk="centrex \"main\""} 1`,
		`sentral_trunk_failed_attempts{tenant="fjordvik",trunk="backup"} 3`,
		`sentral_switchboard_queue_length{tenant="fjordvik"} 3`,
		`sentral_switchboard_operators_available{tenant="fjordvik"} 2`,
		`sentral_switchboard_operators_busy{tenant="fjordvik"} 1`,
		"sentral_media_calls 2",
		"sentral_sip_stateless_dropped_total 5",
		"sentral_sip_auth_failures_total 1",
		`sentral_sip_requests_total{method="OPTIONS"} 2`,
		`sentral_sip_requests_total{method="INVITE"} 0`,
		`sentral_sip_requests_total{method="other"} 0`,
		"sentral_proxy_calls 4",
		"sentral_proxy_routing 3",
		`sentral_calls_total{outcome="answered"} 7`,
		`sentral_calls_total{outcome="busy"} 2`,
		"sentral_draining 1",
		"sentral_webrtc_legs 1",
		"sentral_rtp_streams 3",
		`sentral_cluster_nodes{state="alive"} 2`,
		`sentral_cluster_nodes{state="dead"} 1`,
		"sentral_cdr_writes_total 40",
		"sentral_cdr_failed_total 2",
		`sentral_events_dropped_total{bus="registrations"} 0`,
	} {
		if !strings.Contains(body, "\n"+want+"\n") {
			t.Errorf("missing %q", want)
		}
	}
	// Only tenants with a switchboard number get switchboard samples.
	if strings.Contains(body, `sentral_switchboard_queue_length{tenant="nordby"}`) {
		t.Error("switchboard sample for a tenant without a switchboard")
	}
	for _, name := range []string{"sentral_store_latency_seconds", "sentral_store_change_seq", "sentral_catalog_applied_seq",
		"sentral_extensions", "sentral_sip_guard_sources", "sentral_cdr_queue_length", "sentral_events_subscribers",
		"go_goroutines", "go_memstats_heap_alloc_bytes", "process_resident_memory_bytes", "process_start_time_seconds"} {
		if len(got[name]) == 0 {
			t.Errorf("no sample of %s", name)
		}
	}
	for _, typ := range []string{"sentral_events_dropped_total counter", "sentral_registrations gauge",
		"sentral_sip_requests_total counter", "sentral_calls_total counter", "sentral_sip_auth_failures_total counter",
		"sentral_proxy_calls gauge", "sentral_cluster_nodes gauge", "sentral_draining gauge"} {
		if !strings.Contains(body, "# TYPE "+typ+"\n") {
			t.Errorf("TYPE line %q missing", typ)
		}
	}
}

// Without SIP (sip.listen empty) the SIP families are present but empty,
// and /readyz follows serve's state and the store.
func TestMetricsWithoutSIPAndReadiness(t *testing.T) {
	cat, st, closeStore := openMetricsStore(t)
	mux := http.NewServeMux()
	running := mountMetrics(mux, st, cat, nil, zap.NewNop())

	code, body, _ := scrape(t, mux, "/metrics")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics = %d", code)
	}
	got := parseExposition(t, body)
	for _, name := range []string{"sentral_registrations", "sentral_sip_bans", "sentral_trunk_up", "sentral_media_calls",
		"sentral_proxy_calls", "sentral_draining", "sentral_webrtc_legs", "sentral_rtp_streams", "sentral_cluster_nodes"} {
		if len(got[name]) != 0 || !strings.Contains(body, "# TYPE "+name+" gauge\n") {
			t.Errorf("%s: samples %q without SIP", name, got[name])
		}
	}
	if len(got["sentral_store_up"]) != 1 || got["sentral_store_up"][0] != "sentral_store_up 1" {
		t.Errorf("store_up %q", got["sentral_store_up"])
	}

	if code, body, _ := scrape(t, mux, "/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("readyz before serve runs = %d %s", code, body)
	}
	running.Store(true)
	if code, body, _ := scrape(t, mux, "/readyz"); code != http.StatusOK || body != "ready\n" {
		t.Errorf("readyz while running = %d %s", code, body)
	}
	if err := closeStore(); err != nil {
		t.Fatal(err)
	}
	if code, body, _ := scrape(t, mux, "/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "store") {
		t.Errorf("readyz with a closed store = %d %s", code, body)
	}
	// The cached probe expires, and then the store gauge says so too.
	time.Sleep(storeProbeTTL)
	if _, body, _ := scrape(t, mux, "/metrics"); !strings.Contains(body, "\nsentral_store_up 0\n") {
		t.Errorf("store_up after close:\n%s", body)
	}
}

// sourcesOf leaves the parts a sipStack lacks nil (not a nil pointer in
// an interface), so their families have no samples, and picks the ones it
// has.
func TestSourcesOfParts(t *testing.T) {
	src := sourcesOf(nil, nil, &sipStack{})
	if src.proxy != nil || src.webrtc != nil || src.cluster != nil || src.sipServer != nil || src.media != nil {
		t.Errorf("missing parts not nil: %+v", src)
	}
	g := &webrtc.Gateway{}
	src = sourcesOf(nil, nil, &sipStack{webrtc: g, cluster: &cluster.Cluster{}})
	if src.webrtc != g || src.cluster == nil {
		t.Errorf("parts not picked: %+v", src)
	}
}
