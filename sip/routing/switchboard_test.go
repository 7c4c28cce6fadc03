package routing

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/sentralpbx/sentral/store"
)

// mediaPlan is a number plan with a media server.
type mediaPlan struct {
	planState
	ms string
}

func (m mediaPlan) MediaServer() string { return m.ms }

// TestSwitchboardAndSystemCalls: calls to the switchboard go to the
// operators' queue at the media server; calls the media server places are
// routed in the number plan without credentials.
func TestSwitchboardAndSystemCalls(t *testing.T) {
	pub := store.Tenant{Meta: store.Meta{ID: 1}, Name: "fjordvik", DisplayName: "Fjordvik kommune", Domain: "fjordvik.test",
		OutsidePrefix: "0", SwitchboardNumber: "+4723000100",
		Ranges: []store.NumberRange{{Kind: store.RangeExtension, First: "100", Last: "199"},
			{Kind: store.RangeDID, First: "+4723000100", Last: "+4723000199"}}}
	intl := store.Tenant{Meta: store.Meta{ID: 2}, Name: "oslo", Domain: "oslo.test", SwitchboardNumber: "200",
		Ranges: []store.NumberRange{{Kind: store.RangeExtension, First: "200", Last: "299"}}}
	trunk := store.Trunk{Meta: store.Meta{ID: 11}, TenantID: 1, Name: "telenor", Host: "sip.telenor.test", Port: 5060,
		Transport: "udp", Priority: 1, Enabled: true, Routes: []string{"+"}}
	b101 := store.Binding{TenantID: 1, Number: "101", Contact: "sip:101@10.0.0.2", Q: 1, Source: "198.51.100.2:5060", Transport: "udp"}
	ps := planState{
		fakeState: fakeState{tenants: []store.Tenant{pub, intl}, bindings: []store.Binding{b101}, exts: []store.Extension{
			{TenantID: 1, Number: "101", Enabled: true, COS: store.COSInternal},
			{TenantID: 2, Number: "201", Enabled: true, COS: store.COSInternal},
		}},
		dids: map[string]DIDTarget{"+4723000100": {TenantID: 1, Kind: DIDSwitchboard, Number: "+4723000100"},
			"+4722000200": {TenantID: 2, Kind: DIDSwitchboard, Number: "+4722000200"}},
		trunks: []store.Trunk{trunk},
		peers:  map[netip.Addr]store.Trunk{netip.MustParseAddr("198.51.100.200"): trunk},
	}
	st := mediaPlan{planState: ps, ms: "127.0.0.1:40000"}
	phone := func(tenant, ext, dialled string) Request {
		return Request{Method: "INVITE", URIUser: dialled, URIHost: tenant, URI: "sip:" + dialled + "@" + tenant,
			FromUser: ext, FromHost: tenant, ToUser: dialled, ToHost: tenant, MaxForwards: 70,
			Authenticated: true, AuthTenantID: map[string]int64{"fjordvik.test": 1, "oslo.test": 2}[tenant], AuthExt: ext,
			Source: netip.MustParseAddr("198.51.100.1")}
	}
	media := func(dialled, from string) Request {
		return Request{Method: "INVITE", URIUser: dialled, URIHost: "fjordvik.test", URI: "sip:" + dialled + "@fjordvik.test",
			FromUser: from, FromHost: "fjordvik.test", ToUser: dialled, ToHost: "fjordvik.test", MaxForwards: 70,
			Source: netip.MustParseAddr("127.0.0.1"), FromMedia: true}
	}
	inboundCall := Request{Method: "INVITE", URIUser: "+4723000100", URIHost: "192.0.2.1", URI: "sip:+4723000100@192.0.2.1",
		FromUser: "+4791234567", FromHost: "op.test", ToUser: "+4723000100", ToHost: "op.test", MaxForwards: 70,
		Source: netip.MustParseAddr("198.51.100.200")}

	for _, tc := range []struct {
		name    string
		st      State
		req     Request
		kind    Kind
		code    int
		dir     string
		target  string // prefix of the first target's URI
		trunkTo bool   // the first target leaves through a trunk
	}{
		{"inbound call to the public switchboard number queues", st, inboundCall, Fork, 0, DirInbound,
			"sip:switchboard@127.0.0.1:40000;tenant=1;dialled=+4723000100", false},
		{"internal call to the public switchboard number queues", st, phone("fjordvik.test", "101", "+4723000100"), Fork, 0, DirInternal,
			"sip:switchboard@127.0.0.1:40000;tenant=1", false},
		{"an internal switchboard number that is no extension or group queues", st, phone("oslo.test", "201", "200"), Fork, 0, DirInternal,
			"sip:switchboard@127.0.0.1:40000;tenant=2", false},
		{"without a media server the switchboard is unavailable", ps, inboundCall, Reject, StatusTemporarilyUnavail, DirInbound, "", false},
		{"the media server rings an extension without credentials", st, media("101", "+4791234567"), Fork, 0, DirInternal,
			"sip:101@10.0.0.2", false},
		{"the media server dials out with the outside-line prefix", st, media("091234567", "101"), Fork, 0, DirOutbound,
			"sip:+4791234567@sip.telenor.test", true},
		{"the media server's night target is another tenant's switchboard: that tenant's queue", st, media("+4722000200", "+4791234567"),
			Fork, 0, DirInternal, "sip:switchboard@127.0.0.1:40000;tenant=2", false},
		{"the media server dials an unknown domain", st, func() Request { r := media("101", "x"); r.URIHost = "nowhere.test"; return r }(),
			Reject, StatusNotFound, DirInternal, "", false},
		{"the same request not from the media server is challenged", st, func() Request { r := media("101", "x"); r.FromMedia = false; return r }(),
			Challenge, 0, "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Decide(tc.req, tc.st)
			if d.Kind != tc.kind || (tc.code != 0 && d.Code != tc.code) {
				t.Fatalf("decision %v %d (%s), want %v %d", d.Kind, d.Code, d.Why, tc.kind, tc.code)
			}
			if tc.dir != "" && d.Direction != tc.dir {
				t.Errorf("direction %q, want %q", d.Direction, tc.dir)
			}
			if tc.target == "" {
				return
			}
			if len(d.Targets) == 0 || !strings.HasPrefix(d.Targets[0].URI, tc.target) {
				t.Fatalf("targets %+v, want first %s", d.Targets, tc.target)
			}
			if got := d.Targets[0].Outbound != nil; got != tc.trunkTo {
				t.Errorf("first target through a trunk: %v, want %v", got, tc.trunkTo)
			}
			if tc.trunkTo && d.Targets[0].Outbound.From != "sip:+4723000100@sip.telenor.test" {
				t.Errorf("dialling out presents %q, want the public switchboard number", d.Targets[0].Outbound.From)
			}
		})
	}
}

// homeElsewhere is mediaPlan on a node of a cluster whose switchboard
// queues another node holds (at home).
type homeElsewhere struct {
	mediaPlan
	home string
}

func (h homeElsewhere) QueueHome() (string, bool) { return h.home, h.home == "" }

// TestSwitchboardQueueHome: in a cluster, a call to the switchboard that
// enters a node other than the queues' home is relayed there (and
// recorded here, inbound); the home node puts a relayed switchboard call
// in its own queue.
func TestSwitchboardQueueHome(t *testing.T) {
	pub := store.Tenant{Meta: store.Meta{ID: 1}, Name: "fjordvik", Domain: "fjordvik.test", OutsidePrefix: "0",
		SwitchboardNumber: "+4723000100",
		Ranges: []store.NumberRange{{Kind: store.RangeExtension, First: "100", Last: "199"},
			{Kind: store.RangeDID, First: "+4723000100", Last: "+4723000199"}}}
	trunk := store.Trunk{Meta: store.Meta{ID: 11}, TenantID: 1, Name: "telenor", Host: "sip.telenor.test", Port: 5060,
		Transport: "udp", Priority: 1, Enabled: true, Routes: []string{"+"}}
	ps := planState{
		fakeState: fakeState{tenants: []store.Tenant{pub}},
		dids:      map[string]DIDTarget{"+4723000100": {TenantID: 1, Kind: DIDSwitchboard, Number: "+4723000100"}},
		trunks:    []store.Trunk{trunk},
		peers:     map[netip.Addr]store.Trunk{netip.MustParseAddr("198.51.100.200"): trunk},
	}
	inbound := Request{Method: "INVITE", URIUser: "+4723000100", URIHost: "192.0.2.1", URI: "sip:+4723000100@192.0.2.1",
		FromUser: "+4791234567", FromHost: "op.test", ToUser: "+4723000100", ToHost: "op.test", MaxForwards: 70,
		Source: netip.MustParseAddr("198.51.100.200")}

	away := homeElsewhere{mediaPlan{ps, "127.0.0.1:40000"}, "127.0.0.2:5060"}
	d := Decide(inbound, away)
	want := Target{URI: "sip:+4723000100@fjordvik.test", Transport: "udp", Destination: "127.0.0.2:5060",
		Route: []string{"<sip:127.0.0.2:5060;lr>"}, Number: "+4723000100", Relay: "1;" + RelaySwitchboard}
	if d.Kind != Fork || len(d.Targets) != 1 || d.Direction != DirInbound {
		t.Fatalf("entering a node away from the queues: %v %s %+v", d.Kind, d.Why, d.Targets)
	}
	got := d.Targets[0]
	got.CallerName, got.CallerIdentity = "", ""
	if !reflect.DeepEqual(got, want) {
		t.Errorf("relay target\n got %+v\nwant %+v", got, want)
	}

	home := homeElsewhere{mediaPlan{ps, "127.0.0.1:40000"}, ""}
	d = Decide(inbound, home)
	if d.Kind != Fork || len(d.Targets) != 1 || !d.Targets[0].Media || !strings.Contains(d.Targets[0].URI, AppSwitchboard) {
		t.Fatalf("entering the queues' home: %v %s %+v", d.Kind, d.Why, d.Targets)
	}
	relayed := Request{Method: "INVITE", URIUser: "+4723000100", URIHost: "fjordvik.test", URI: "sip:+4723000100@fjordvik.test",
		FromUser: "+4791234567", FromHost: "op.test", ToUser: "+4723000100", ToHost: "op.test", MaxForwards: 69,
		RouteToUs: true, FromPeer: true, RelayTenant: 1, RelayNumber: RelaySwitchboard}
	d = Decide(relayed, home)
	if d.Kind != Fork || len(d.Targets) != 1 || !d.Targets[0].Media || !strings.Contains(d.Targets[0].URI, "tenant=1") ||
		d.Direction != "" {
		t.Fatalf("a relayed switchboard call at home: %v %s dir %q %+v", d.Kind, d.Why, d.Direction, d.Targets)
	}
	relayed.RelayTenant = 9
	if d = Decide(relayed, home); d.Kind != Reject {
		t.Errorf("a relayed switchboard call for an unknown tenant: %v %s", d.Kind, d.Why)
	}
}
