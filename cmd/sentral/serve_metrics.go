package main

import (
	"context"
	"net/http"
	"os"
	"runtime"
	rtmetrics "runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/cluster"
	"github.com/sentralpbx/sentral/events"
	"github.com/sentralpbx/sentral/media/queue"
	"github.com/sentralpbx/sentral/metrics"
	"github.com/sentralpbx/sentral/sip/auth"
	"github.com/sentralpbx/sentral/sip/callrecord"
	"github.com/sentralpbx/sentral/sip/trunk"
	"github.com/sentralpbx/sentral/store"
	"github.com/sentralpbx/sentral/store/catalog"
)

// storeProbeTimeout bounds the store round trip of /readyz and /metrics.
const storeProbeTimeout = 2 * time.Second

// storeProbeTTL is how long a store probe's result serves /metrics, so
// that the two store gauges of one scrape (and scrapes from several
// Prometheus servers) share one round trip.
const storeProbeTTL = time.Second

// metricsSources is what /metrics reads at scrape time: read-only
// accessors of the parts serve runs. A nil field is a part that is not
// running (no SIP, no media server); its families are written without
// samples.
type metricsSources struct {
	store interface {
		LastChange(ctx context.Context) (int64, error)
	}
	catalog interface {
		Tenants() []store.Tenant
		Seq() int64
		Counts() (tenants, extensions int)
	}
	bindings interface{ Count() int }
	guard    interface {
		Bans() []auth.Ban
		Len() int
		Failures() uint64
	}
	trunks      interface{ Status() []trunk.TrunkStatus }
	records     interface{ Stats() callrecord.Stats }
	media       interface{ Calls() int }
	switchboard interface {
		Snapshot(tenantID int64) queue.State
	}
	sipServer interface {
		StatelessDropped() int64
		Requests() map[string]uint64
	}
	proxy interface {
		Active() (routing, dialogs int)
		Outcomes() map[string]uint64
		Draining() bool
	}
	webrtc  interface{ Legs() int }
	cluster interface{ Nodes() []cluster.Node }
	hub     *events.Hub
}

// sourcesOf picks the accessors out of what serve built (sip may be nil).
// Fields are set only from non-nil pointers: a nil pointer in an
// interface would not compare equal to nil.
func sourcesOf(st store.Store, cat *catalog.Catalog, sip *sipStack) metricsSources {
	src := metricsSources{store: st, catalog: cat}
	if sip == nil {
		return src
	}
	src.bindings, src.guard, src.trunks, src.records, src.hub = sip.loc, sip.guard, sip.trunks, sip.records, sip.hub
	if sip.srv != nil {
		src.sipServer = sip.srv
	}
	if sip.proxy != nil {
		src.proxy = sip.proxy
	}
	if sip.webrtc != nil {
		src.webrtc = sip.webrtc
	}
	if sip.cluster != nil {
		src.cluster = sip.cluster
	}
	if sip.media != nil {
		src.media = sip.media.srv
		if sip.media.switchboard != nil {
			src.switchboard = sip.media.switchboard
		}
	}
	return src
}

// mountMetrics adds GET /metrics and GET /readyz to the admin mux. The
// returned flag is the "serve is running" half of readiness: serve sets it
// once every part has started and clears it when shutting down.
func mountMetrics(mux *http.ServeMux, st store.Store, cat *catalog.Catalog, sip *sipStack, log *zap.Logger) *atomic.Bool {
	running := new(atomic.Bool)
	mux.Handle("GET /metrics", newMetricsRegistry(sourcesOf(st, cat, sip), time.Now()).Handler())
	mux.Handle("GET /readyz", readyHandler(running, st, log))
	return running
}

// readyHandler answers 200 once serve runs and the store answers within
// storeProbeTimeout, 503 otherwise: for load balancers and orchestrators
// that should send traffic only to a node that can serve it. /healthz
// (adminapi) stays the liveness view with details.
func readyHandler(running *atomic.Bool, st interface {
	LastChange(ctx context.Context) (int64, error)
}, log *zap.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if !running.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("not ready: starting or stopping\n"))
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), storeProbeTimeout)
		defer cancel()
		if _, err := st.LastChange(ctx); err != nil {
			log.Warn("readiness: store unreachable", zap.Error(err))
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("not ready: store unreachable\n"))
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
}

// storeProbe times LastChange, remembering the result for storeProbeTTL.
type storeProbe struct {
	st interface {
		LastChange(ctx context.Context) (int64, error)
	}
	mu      sync.Mutex
	at      time.Time
	seq     int64
	ok      bool
	latency time.Duration
}

func (p *storeProbe) get() (ok bool, latency time.Duration, seq int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.at.IsZero() || time.Since(p.at) >= storeProbeTTL {
		ctx, cancel := context.WithTimeout(context.Background(), storeProbeTimeout)
		start := time.Now()
		seq, err := p.st.LastChange(ctx)
		p.latency = time.Since(start)
		cancel()
		p.ok, p.seq, p.at = err == nil, seq, time.Now()
	}
	return p.ok, p.latency, p.seq
}

// newMetricsRegistry registers every family; docs/metrics.md lists them.
func newMetricsRegistry(src metricsSources, started time.Time) *metrics.Registry {
	r := &metrics.Registry{}
	one := metrics.One
	none := func() []metrics.Sample { return nil }
	b2f := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}

	// Store and catalog.
	probe := &storeProbe{st: src.store}
	r.Gauge("sentral_store_up", "Whether the store answered a LastChange query within 2 s (1) or not (0).", nil,
		func() []metrics.Sample { ok, _, _ := probe.get(); return one(b2f(ok)) })
	r.Gauge("sentral_store_latency_seconds", "How long the store's LastChange query took at this scrape (up to the 2 s timeout when it failed).", nil,
		func() []metrics.Sample { _, d, _ := probe.get(); return one(d.Seconds()) })
	r.Gauge("sentral_store_change_seq", "Newest change sequence number in the store (0 when the store is unreachable).", nil,
		func() []metrics.Sample { _, _, seq := probe.get(); return one(float64(seq)) })
	r.Gauge("sentral_catalog_applied_seq", "Newest store change the running catalog reflects; lagging sentral_store_change_seq means configuration not yet applied.", nil,
		func() []metrics.Sample { return one(float64(src.catalog.Seq())) })
	r.Gauge("sentral_tenants", "Tenants in the running catalog.", nil,
		func() []metrics.Sample { t, _ := src.catalog.Counts(); return one(float64(t)) })
	r.Gauge("sentral_extensions", "Extensions in the running catalog.", nil,
		func() []metrics.Sample { _, e := src.catalog.Counts(); return one(float64(e)) })

	// SIP.
	tenantNames := func() map[int64]string {
		m := map[int64]string{}
		for _, t := range src.catalog.Tenants() {
			m[t.ID] = t.Name
		}
		return m
	}
	nameOf := func(names map[int64]string, id int64) string {
		if n, ok := names[id]; ok {
			return n
		}
		return strconv.FormatInt(id, 10)
	}
	regs := none
	if src.bindings != nil {
		regs = func() []metrics.Sample { return one(float64(src.bindings.Count())) }
	}
	r.Gauge("sentral_registrations", "Unexpired SIP registration bindings held by the location service.", nil, regs)
	guardBans, guardSources := none, none
	if src.guard != nil {
		guardBans = func() []metrics.Sample { return one(float64(len(src.guard.Bans()))) }
		guardSources = func() []metrics.Sample { return one(float64(src.guard.Len())) }
	}
	r.Gauge("sentral_sip_bans", "Source addresses currently banned by the SIP abuse guard.", nil, guardBans)
	r.Gauge("sentral_sip_guard_sources", "Source addresses the SIP abuse guard is tracking.", nil, guardSources)
	authFailures := none
	if src.guard != nil {
		authFailures = func() []metrics.Sample { return one(float64(src.guard.Failures())) }
	}
	r.Counter("sentral_sip_auth_failures_total", "Failed digest authentications (wrong password, unknown user) reported to the SIP abuse guard.", nil, authFailures)
	statelessDropped, requests := none, none
	if src.sipServer != nil {
		statelessDropped = func() []metrics.Sample { return one(float64(src.sipServer.StatelessDropped())) }
		requests = func() []metrics.Sample { return keyed(src.sipServer.Requests()) }
	}
	r.Counter("sentral_sip_stateless_dropped_total", "UDP REGISTERs the stateless fast path dropped because its workers were behind (overload).", nil, statelessDropped)
	r.Counter("sentral_sip_requests_total", "SIP requests received, by method (methods not listed count as other).", []string{"method"}, requests)
	proxyCalls, proxyRouting, outcomes, draining := none, none, none, none
	if src.proxy != nil {
		proxyCalls = func() []metrics.Sample { _, d := src.proxy.Active(); return one(float64(d)) }
		proxyRouting = func() []metrics.Sample { n, _ := src.proxy.Active(); return one(float64(n)) }
		outcomes = func() []metrics.Sample { return keyed(src.proxy.Outcomes()) }
		draining = func() []metrics.Sample { return one(b2f(src.proxy.Draining())) }
	}
	r.Gauge("sentral_proxy_calls", "Answered calls established through the SIP proxy.", nil, proxyCalls)
	r.Gauge("sentral_proxy_routing", "SIP requests the proxy is routing right now (unanswered calls included).", nil, proxyRouting)
	r.Counter("sentral_calls_total", "Call attempts through the SIP proxy by final outcome (answered, busy, no-answer, failed, cancelled).", []string{"outcome"}, outcomes)
	r.Gauge("sentral_draining", "Whether this node is draining (1): new calls are refused, calls in progress go on.", nil, draining)
	clusterNodes := none
	if src.cluster != nil {
		clusterNodes = func() []metrics.Sample {
			alive, dead := 0, 0
			for _, n := range src.cluster.Nodes() {
				if n.Alive {
					alive++
				} else {
					dead++
				}
			}
			return []metrics.Sample{{Labels: []string{"alive"}, Value: float64(alive)}, {Labels: []string{"dead"}, Value: float64(dead)}}
		}
	}
	r.Gauge("sentral_cluster_nodes", "Nodes of the cluster by state at the last heartbeat (this one included).", []string{"state"}, clusterNodes)
	trunkUp, trunkFails := none, none
	if src.trunks != nil {
		trunkSamples := func(v func(trunk.TrunkStatus) float64) []metrics.Sample {
			names := tenantNames()
			var out []metrics.Sample
			for _, s := range src.trunks.Status() {
				out = append(out, metrics.Sample{Labels: []string{nameOf(names, s.TenantID), s.Name}, Value: v(s)})
			}
			return out
		}
		trunkUp = func() []metrics.Sample {
			return trunkSamples(func(s trunk.TrunkStatus) float64 { return b2f(s.State == trunk.StateRegistered) })
		}
		trunkFails = func() []metrics.Sample {
			return trunkSamples(func(s trunk.TrunkStatus) float64 { return float64(s.Attempts) })
		}
	}
	r.Gauge("sentral_trunk_up", "Whether a register-mode trunk's registration is accepted (1) or not (0: registering, failed, stopped).", []string{"tenant", "trunk"}, trunkUp)
	r.Gauge("sentral_trunk_failed_attempts", "Failed REGISTER attempts of a trunk since its last success.", []string{"tenant", "trunk"}, trunkFails)

	// Call records.
	cdr := func(v func(callrecord.Stats) float64) func() []metrics.Sample {
		if src.records == nil {
			return none
		}
		return func() []metrics.Sample { return one(v(src.records.Stats())) }
	}
	r.Gauge("sentral_cdr_queue_length", "Call record operations waiting to be written to the store.", nil,
		cdr(func(s callrecord.Stats) float64 { return float64(s.Queued) }))
	r.Counter("sentral_cdr_writes_total", "Call record operations written to the store.", nil,
		cdr(func(s callrecord.Stats) float64 { return float64(s.Written) }))
	r.Counter("sentral_cdr_dropped_total", "Call record operations refused (queue full or recorder stopped).", nil,
		cdr(func(s callrecord.Stats) float64 { return float64(s.Dropped) }))
	r.Counter("sentral_cdr_failed_total", "Call record operations the store refused or that failed every retry.", nil,
		cdr(func(s callrecord.Stats) float64 { return float64(s.Failed) }))

	// Media and switchboard.
	mediaCalls := none
	if src.media != nil {
		mediaCalls = func() []metrics.Sample { return one(float64(src.media.Calls())) }
	}
	r.Gauge("sentral_media_calls", "Calls in progress on the media server (voicemail, switchboard queue, announcements).", nil, mediaCalls)
	webrtcLegs := none
	if src.webrtc != nil {
		webrtcLegs = func() []metrics.Sample { return one(float64(src.webrtc.Legs())) }
	}
	r.Gauge("sentral_webrtc_legs", "Browser calls bridged by the WebRTC gateway (DTLS-SRTP to RTP).", nil, webrtcLegs)
	rtpStreams := none
	if src.media != nil || src.webrtc != nil {
		rtpStreams = func() []metrics.Sample {
			n := 0
			if src.media != nil {
				n += src.media.Calls()
			}
			if src.webrtc != nil {
				n += src.webrtc.Legs()
			}
			return one(float64(n))
		}
	}
	r.Gauge("sentral_rtp_streams", "RTP streams this process terminates: media server calls plus WebRTC gateway legs (phone-to-phone RTP does not pass through).", nil, rtpStreams)
	board := func(v func(queue.State) float64) func() []metrics.Sample {
		if src.switchboard == nil {
			return none
		}
		return func() []metrics.Sample {
			var out []metrics.Sample
			for _, t := range src.catalog.Tenants() {
				if t.SwitchboardNumber == "" {
					continue
				}
				out = append(out, metrics.Sample{Labels: []string{t.Name}, Value: v(src.switchboard.Snapshot(t.ID))})
			}
			return out
		}
	}
	r.Gauge("sentral_switchboard_queue_length", "Callers waiting in a tenant's switchboard queue.", []string{"tenant"},
		board(func(s queue.State) float64 { return float64(len(s.Queue)) }))
	r.Gauge("sentral_switchboard_operators_available", "Operators signed in and marked available (busy or not).", []string{"tenant"},
		board(func(s queue.State) float64 {
			n := 0
			for _, o := range s.Operators {
				if o.Available {
					n++
				}
			}
			return float64(n)
		}))
	r.Gauge("sentral_switchboard_operators_busy", "Operators with a call (ringing, talking, held, consulting).", []string{"tenant"},
		board(func(s queue.State) float64 {
			n := 0
			for _, o := range s.Operators {
				if o.Busy {
					n++
				}
			}
			return float64(n)
		}))
	r.Gauge("sentral_switchboard_parked_calls", "Calls parked on a tenant's switchboard.", []string{"tenant"},
		board(func(s queue.State) float64 { return float64(len(s.Parked)) }))

	// Event bus.
	type bus struct {
		name               string
		dropped, listeners func() float64
	}
	var buses []bus
	if h := src.hub; h != nil {
		buses = []bus{
			{"dialogs", func() float64 { return float64(h.Dialogs.DroppedTotal()) }, func() float64 { return float64(h.Dialogs.Subscribers()) }},
			{"registrations", func() float64 { return float64(h.Registrations.DroppedTotal()) }, func() float64 { return float64(h.Registrations.Subscribers()) }},
			{"voicemail", func() float64 { return float64(h.Voicemail.DroppedTotal()) }, func() float64 { return float64(h.Voicemail.Subscribers()) }},
		}
	}
	r.Counter("sentral_events_dropped_total", "Events lost to full subscriber buffers, per bus (consumers then re-read state).", []string{"bus"},
		func() []metrics.Sample {
			var out []metrics.Sample
			for _, b := range buses {
				out = append(out, metrics.Sample{Labels: []string{b.name}, Value: b.dropped()})
			}
			return out
		})
	r.Gauge("sentral_events_subscribers", "Active subscriptions per event bus.", []string{"bus"},
		func() []metrics.Sample {
			var out []metrics.Sample
			for _, b := range buses {
				out = append(out, metrics.Sample{Labels: []string{b.name}, Value: b.listeners()})
			}
			return out
		})

	// Process and Go runtime.
	r.Gauge("go_goroutines", "Number of goroutines that currently exist.", nil,
		func() []metrics.Sample { return one(float64(runtime.NumGoroutine())) })
	r.Gauge("go_memstats_heap_alloc_bytes", "Bytes of allocated heap objects.", nil,
		func() []metrics.Sample {
			// runtime/metrics reads this without stopping the world.
			s := []rtmetrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
			rtmetrics.Read(s)
			if s[0].Value.Kind() != rtmetrics.KindUint64 {
				return nil
			}
			return one(float64(s[0].Value.Uint64()))
		})
	r.Gauge("process_resident_memory_bytes", "Resident memory size in bytes (Linux /proc/self/statm).", nil,
		func() []metrics.Sample {
			rss, ok := residentBytes()
			if !ok {
				return nil
			}
			return one(float64(rss))
		})
	r.Gauge("process_start_time_seconds", "Start time of serve since the Unix epoch in seconds.", nil,
		func() []metrics.Sample { return one(float64(started.UnixNano()) / 1e9) })
	return r
}

// keyed turns per-key counts into samples labelled by key, in key order.
func keyed(m map[string]uint64) []metrics.Sample {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]metrics.Sample, 0, len(keys))
	for _, k := range keys {
		out = append(out, metrics.Sample{Labels: []string{k}, Value: float64(m[k])})
	}
	return out
}

// residentBytes reads the resident set size from /proc/self/statm (its
// second field, in pages); false where there is no procfs.
func residentBytes() (uint64, bool) {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, false
	}
	pages, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		return 0, false
	}
	return pages * uint64(os.Getpagesize()), true
}
