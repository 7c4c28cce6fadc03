package routing

import (
	"reflect"
	"testing"

	"github.com/sentralpbx/sentral/store"
)

// clusterState is fakeState on node "a" of a cluster whose node "b" is
// alive at 127.0.0.2:5060 and node "c" has stopped heartbeating.
type clusterState struct{ fakeState }

func (clusterState) Peer(node string) (string, bool, bool) {
	switch node {
	case "", "a":
		return "", true, true
	case "b":
		return "127.0.0.2:5060", false, true
	}
	return "127.0.0.3:5060", false, false
}

func (c clusterState) Tenant(id int64) (store.Tenant, bool) {
	for _, t := range c.tenants {
		if t.ID == id {
			return t, true
		}
	}
	return store.Tenant{}, false
}

func TestClusterRouting(t *testing.T) {
	fv := store.Tenant{Meta: store.Meta{ID: 1}, Name: "fjordvik", Domain: "fjordvik.test",
		Ranges: []store.NumberRange{{Kind: store.RangeExtension, First: "100", Last: "199"}}}
	here := store.Binding{TenantID: 1, Number: "101", Contact: "sip:101@10.0.0.5:5062", Q: 1,
		Source: "198.51.100.7:40000", Transport: "udp", Node: "a"}
	onB := store.Binding{TenantID: 1, Number: "101", Contact: "sip:101@10.0.0.6:5062;transport=tcp", Q: 0.9,
		Source: "198.51.100.8:40000", Transport: "tcp", Flow: "tcp:198.51.100.8:40000", Node: "b", Path: []string{"<sip:edge;lr>"}}
	onC := store.Binding{TenantID: 1, Number: "101", Contact: "sip:101@10.0.0.7:5062", Q: 1,
		Source: "198.51.100.9:40000", Transport: "udp", Node: "c"}
	st := clusterState{fakeState{
		tenants:  []store.Tenant{fv},
		exts:     []store.Extension{{TenantID: 1, Number: "100", Enabled: true}, {TenantID: 1, Number: "101", Enabled: true}},
		bindings: []store.Binding{here, onB, onC},
	}}
	hereT := bindingTarget(here)
	viaB := Target{URI: onB.Contact, Transport: "udp", Destination: "127.0.0.2:5060", Route: []string{"<sip:127.0.0.2:5060;lr>"},
		Number: "101", Q: 0.9, Relay: "1;101"}
	call := Request{Method: "INVITE", URIUser: "101", URIHost: "fjordvik.test", URI: "sip:101@fjordvik.test",
		FromUser: "100", FromHost: "fjordvik.test", ToUser: "101", ToHost: "fjordvik.test", MaxForwards: 70,
		Authenticated: true, AuthTenantID: 1, AuthExt: "100"}
	relay := func(uri string, tenant int64, number string) Request {
		return Request{Method: "INVITE", URI: uri, URIUser: "101", URIHost: "10.0.0.5", FromUser: "+4791234567",
			FromHost: "operator.test", ToUser: "+4722000101", ToHost: "192.0.2.1", MaxForwards: 69, RouteToUs: true,
			FromPeer: true, RelayTenant: tenant, RelayNumber: number}
	}
	bye := func(mod func(*Request)) Request {
		r := Request{Method: "BYE", URI: here.Contact, URIUser: "101", URIHost: "10.0.0.5", URIHostPort: "10.0.0.5:5062",
			FromUser: "+4791234567", FromHost: "operator.test", ToUser: "+4722000101", ToHost: "192.0.2.1", ToTag: "x",
			MaxForwards: 70, RouteToUs: true}
		mod(&r)
		return r
	}
	for _, tc := range []struct {
		name    string
		req     Request
		kind    Kind
		code    int
		targets []Target
	}{
		{"a call rings our binding directly, b's through b, and skips the dead node's", call, Fork, 0, []Target{hereT, viaB}},
		{"a call b relays to one of our bindings goes to it", relay(here.Contact, 1, "101"), Fork, 0, []Target{hereT}},
		{"a relayed call to a contact that is not ours is refused, not relayed on", relay(onB.Contact, 1, "101"), Reject, StatusTemporarilyUnavail, nil},
		{"a relayed call to a contact we do not have is refused", relay("sip:101@10.9.9.9", 1, "101"), Reject, StatusTemporarilyUnavail, nil},
		{"a peer request without the relay header is refused", relay(here.Contact, 0, ""), Reject, StatusForbidden, nil},
		{"the relay header from a phone is ignored: the call is routed as usual", func() Request {
			r := call
			r.RelayTenant, r.RelayNumber = 1, "100"
			return r
		}(), Fork, 0, []Target{hereT, viaB}},
		{"in dialog, a route on to a peer is followed", bye(func(r *Request) {
			r.URI, r.URIHostPort, r.MoreRoutes, r.NextRoutePeer = "sip:caller@203.0.113.5", "203.0.113.5:5060", true, "127.0.0.2:5060"
		}), Forward, 0, []Target{{URI: "sip:caller@203.0.113.5", Transport: "udp", Destination: "127.0.0.2:5060"}}},
		{"in dialog, a route on to a stranger is refused", bye(func(r *Request) { r.MoreRoutes = true }), Reject, StatusForbidden, nil},
		{"in dialog, the recorded tenant finds the phone when the URIs name none", bye(func(r *Request) { r.DialogTenant = 1 }),
			Forward, 0, []Target{hereT}},
		{"in dialog without the recorded tenant the phone is not found", bye(func(*Request) {}), Reject, StatusNotFound, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Decide(tc.req, st)
			if d.Kind != tc.kind || d.Code != tc.code {
				t.Fatalf("kind %v code %d (%s), want %v %d", d.Kind, d.Code, d.Why, tc.kind, tc.code)
			}
			if tc.targets != nil && !reflect.DeepEqual(d.Targets, tc.targets) {
				t.Errorf("targets\n got %+v\nwant %+v", d.Targets, tc.targets)
			}
			if tc.req.FromPeer && d.Direction != "" {
				t.Errorf("a relayed call has direction %q: the relaying node records it, not us", d.Direction)
			}
		})
	}
}
