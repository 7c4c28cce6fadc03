package routing

import (
	"net/netip"
	"testing"

	"github.com/sentralpbx/sentral/store"
)

// namedState is a number plan with a phone book.
type namedState struct {
	planState
	book map[string]string // "tenant/number" -> name
}

func (n namedState) CallerName(tid int64, number string) (string, bool) {
	s, ok := n.book[key(tid, number)]
	return s, ok
}

func TestCallerNames(t *testing.T) {
	fv := store.Tenant{Meta: store.Meta{ID: 1}, Name: "fjordvik", Domain: "fjordvik.test", OutsidePrefix: "0",
		Ranges: []store.NumberRange{{Kind: store.RangeExtension, First: "100", Last: "199"},
			{Kind: store.RangeDID, First: "+4723000100", Last: "+4723000199"}}}
	trunk := store.Trunk{Meta: store.Meta{ID: 11}, TenantID: 1, Name: "telenor", Host: "sip.telenor.test", Port: 5060,
		Transport: "udp", Priority: 1, Enabled: true, Routes: []string{"+"}}
	b101 := store.Binding{TenantID: 1, Number: "101", Contact: "sip:101@10.0.0.2", Q: 1, Source: "198.51.100.2:5060", Transport: "udp"}
	b102 := store.Binding{TenantID: 1, Number: "102", Contact: "sip:102@10.0.0.3", Q: 1, Source: "198.51.100.3:5060", Transport: "udp"}
	ps := planState{
		fakeState: fakeState{tenants: []store.Tenant{fv}, bindings: []store.Binding{b101, b102}, exts: []store.Extension{
			{TenantID: 1, Number: "101", Enabled: true, COS: store.COSInternational, DisplayName: "101"},
			{TenantID: 1, Number: "102", Enabled: true, COS: store.COSInternational, DID: "+4723000102"},
			{TenantID: 1, Number: "103", Enabled: true, COS: store.COSInternational},
		}},
		dids:   map[string]DIDTarget{"+4723000102": {TenantID: 1, Kind: DIDExtension, Number: "102"}},
		trunks: []store.Trunk{trunk},
		peers:  map[netip.Addr]store.Trunk{netip.MustParseAddr("198.51.100.200"): trunk},
	}
	st := namedState{planState: ps, book: map[string]string{
		key(1, "101"):         "Kari Ødegård-Hansen",
		key(1, "+4791234567"): "Per \"Vaktmester\" Aasen\r\n",
	}}
	from := func(ext, dialled string) Request {
		return Request{Method: "INVITE", URIUser: dialled, URIHost: "fjordvik.test", URI: "sip:" + dialled + "@fjordvik.test",
			FromUser: ext, FromHost: "fjordvik.test", ToUser: dialled, ToHost: "fjordvik.test", MaxForwards: 70,
			Authenticated: true, AuthTenantID: 1, AuthExt: ext, Source: netip.MustParseAddr("198.51.100.1")}
	}
	trunkCall := func(caller, user string) Request {
		return Request{Method: "INVITE", URIUser: user, URIHost: "192.0.2.1", URI: "sip:" + user + "@192.0.2.1",
			FromUser: caller, FromHost: "operator.test", ToUser: user, ToHost: "operator.test", MaxForwards: 70,
			Source: netip.MustParseAddr("198.51.100.200")}
	}
	tests := []struct {
		name         string
		st           State
		req          Request
		wantName     string
		wantIdentity string
	}{
		{"internal call from a known extension", st, from("101", "102"), "Kari Ødegård-Hansen", "sip:101@fjordvik.test"},
		{"internal call from an extension the book does not know", st, from("103", "102"), "", ""},
		{"inbound call from a known mobile, quotes and line breaks dropped", st, trunkCall("+4791234567", "+4723000102"),
			"Per Vaktmester Aasen", "sip:+4791234567@fjordvik.test;user=phone"},
		{"inbound call from an unknown number", st, trunkCall("+4799999999", "+4723000102"), "", ""},
		{"a number plan without a phone book names nobody", ps, from("101", "102"), "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := Decide(tc.req, tc.st)
			if d.Kind != Fork || len(d.Targets) == 0 {
				t.Fatalf("decision %v with %d targets (%s), want a fork", d.Kind, len(d.Targets), d.Why)
			}
			for _, tg := range d.Targets {
				if tg.CallerName != tc.wantName || tg.CallerIdentity != tc.wantIdentity {
					t.Errorf("target %s: name %q identity %q, want %q %q", tg.URI, tg.CallerName, tg.CallerIdentity, tc.wantName, tc.wantIdentity)
				}
			}
		})
	}

	t.Run("outbound calls are presented by the trunk's rules, not by name", func(t *testing.T) {
		d := Decide(from("101", "022334455"), st)
		if d.Kind != Fork || len(d.Targets) != 1 || d.Targets[0].Outbound == nil {
			t.Fatalf("decision %v targets %+v (%s)", d.Kind, d.Targets, d.Why)
		}
		if d.Targets[0].CallerName != "" {
			t.Errorf("trunk target got caller name %q", d.Targets[0].CallerName)
		}
	})
}
