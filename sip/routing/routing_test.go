package routing

import (
	"reflect"
	"testing"

	"github.com/sentralpbx/sentral/store"
)

type fakeState struct {
	tenants  []store.Tenant
	exts     []store.Extension
	bindings []store.Binding
}

func (f fakeState) TenantByDomain(d string) (store.Tenant, bool) {
	for _, t := range f.tenants {
		if t.Domain == d {
			return t, true
		}
	}
	return store.Tenant{}, false
}

func (f fakeState) Extension(tid int64, n string) (store.Extension, bool) {
	for _, e := range f.exts {
		if e.TenantID == tid && e.Number == n {
			return e, true
		}
	}
	return store.Extension{}, false
}

func (f fakeState) Bindings(tid int64, n string) []store.Binding {
	var out []store.Binding
	for _, b := range f.bindings {
		if b.TenantID == tid && b.Number == n {
			out = append(out, b)
		}
	}
	return out
}

func TestDecide(t *testing.T) {
	fv := store.Tenant{Meta: store.Meta{ID: 1}, Name: "fjordvik", Domain: "fjordvik.test",
		Ranges: []store.NumberRange{{Kind: store.RangeExtension, First: "100", Last: "199"}}}
	os := store.Tenant{Meta: store.Meta{ID: 2}, Name: "oslo", Domain: "oslo.test"}
	desk := store.Binding{TenantID: 1, Number: "101", Contact: "sip:101@10.0.0.5:5062", Q: 1,
		Source: "198.51.100.7:40000", Transport: "udp"}
	browser := store.Binding{TenantID: 1, Number: "101", Contact: "sip:k3j2@df7a.invalid;transport=ws", Q: 0.5,
		Source: "198.51.100.8:51000", Transport: "ws", Flow: "ws:198.51.100.8:51000", Path: []string{"<sip:edge.test;lr>"}}
	callerPhone := store.Binding{TenantID: 1, Number: "100", Contact: "sip:100@10.0.0.4:5060", Q: 1,
		Source: "198.51.100.9:5060", Transport: "tcp", Flow: "tcp:198.51.100.9:33000"}
	st := fakeState{
		tenants: []store.Tenant{fv, os},
		exts: []store.Extension{
			{TenantID: 1, Number: "100", Enabled: true},
			{TenantID: 1, Number: "101", Enabled: true},
			{TenantID: 1, Number: "102", Enabled: true},
			{TenantID: 1, Number: "103", Enabled: false},
		},
		bindings: []store.Binding{desk, browser, callerPhone},
	}
	invite := func(mod func(*Request)) Request {
		r := Request{Method: "INVITE", URIUser: "101", URIHost: "fjordvik.test", URI: "sip:101@fjordvik.test",
			FromUser: "100", FromHost: "fjordvik.test", ToUser: "101", ToHost: "fjordvik.test", MaxForwards: 70,
			Authenticated: true, AuthTenantID: 1, AuthExt: "100"}
		if mod != nil {
			mod(&r)
		}
		return r
	}
	deskT := Target{URI: desk.Contact, Transport: "udp", Destination: "198.51.100.7:40000", Number: "101", Q: 1}
	browserT := Target{URI: browser.Contact, Transport: "ws", Destination: "198.51.100.8:51000",
		Route: []string{"<sip:edge.test;lr>"}, Number: "101", Q: 0.5}
	callerT := Target{URI: callerPhone.Contact, Transport: "tcp", Destination: "198.51.100.9:33000", Number: "100", Q: 1}

	tests := []struct {
		name string
		req  Request
		want Decision // compared on Kind, Code, Realm, Stale, Targets
	}{
		{"fork to every binding, source not contact", invite(nil), Decision{Kind: Fork, Targets: []Target{deskT, browserT}}},
		{"request-uri host is our address", invite(func(r *Request) { r.URIHost, r.URIIsUs = "127.0.0.1", true }),
			Decision{Kind: Fork, Targets: []Target{deskT, browserT}}},
		{"max-forwards 0", invite(func(r *Request) { r.MaxForwards = 0 }), Decision{Kind: Reject, Code: 483}},
		{"max-forwards 0 beats everything", invite(func(r *Request) { r.MaxForwards, r.FromHost = 0, "evil.test" }),
			Decision{Kind: Reject, Code: 483}},
		{"no max-forwards header", invite(func(r *Request) { r.MaxForwards = -1 }), Decision{Kind: Fork, Targets: []Target{deskT, browserT}}},
		{"loop", invite(func(r *Request) { r.Loop = true }), Decision{Kind: Reject, Code: 482}},
		{"unauthenticated extension", invite(func(r *Request) { r.Authenticated = false }),
			Decision{Kind: Challenge, Realm: "fjordvik.test"}},
		{"stale nonce", invite(func(r *Request) { r.Authenticated, r.AuthStale = false, true }),
			Decision{Kind: Challenge, Realm: "fjordvik.test", Stale: true}},
		{"challenged in the caller's tenant", invite(func(r *Request) { r.Authenticated, r.FromHost = false, "oslo.test" }),
			Decision{Kind: Challenge, Realm: "oslo.test"}},
		{"credentials of another extension", invite(func(r *Request) { r.AuthExt = "102" }), Decision{Kind: Reject, Code: 403}},
		{"credentials of another tenant", invite(func(r *Request) { r.AuthTenantID = 2 }), Decision{Kind: Reject, Code: 403}},
		{"foreign domain from unauthenticated foreign source",
			invite(func(r *Request) { r.Authenticated, r.URIHost, r.FromHost = false, "example.com", "example.org" }),
			Decision{Kind: Reject, Code: 403}},
		{"foreign caller to our extension", invite(func(r *Request) { r.Authenticated, r.FromHost = false, "example.org" }),
			Decision{Kind: Reject, Code: 403}},
		{"foreign domain, our caller: prove it first", invite(func(r *Request) { r.Authenticated, r.URIHost = false, "example.com" }),
			Decision{Kind: Challenge, Realm: "fjordvik.test"}},
		{"foreign domain, authenticated: no trunks yet", invite(func(r *Request) { r.URIHost = "example.com" }),
			Decision{Kind: Reject, Code: 403}},
		{"unknown number", invite(func(r *Request) { r.URIUser = "199" }), Decision{Kind: Reject, Code: 404}},
		{"disabled extension", invite(func(r *Request) { r.URIUser = "103" }), Decision{Kind: Reject, Code: 404}},
		{"known extension without binding", invite(func(r *Request) { r.URIUser = "102" }),
			Decision{Kind: Unavailable, Code: 480}},
		{"preloaded route beyond us", invite(func(r *Request) { r.RouteToUs, r.MoreRoutes = true, true }),
			Decision{Kind: Reject, Code: 403}},
		{"message not routed yet", invite(func(r *Request) { r.Method = "MESSAGE" }), Decision{Kind: Reject, Code: 501}},
		{"subscribe not routed yet", invite(func(r *Request) { r.Method = "SUBSCRIBE" }), Decision{Kind: Reject, Code: 501}},
		{"unmatched cancel", invite(func(r *Request) { r.Method = "CANCEL" }), Decision{Kind: Reject, Code: 481}},
		{"bye to callee through our route", Request{Method: "BYE", URIUser: "101", URIHost: "10.0.0.5", URI: desk.Contact,
			FromUser: "100", FromHost: "fjordvik.test", ToUser: "101", ToHost: "fjordvik.test", ToTag: "t1",
			MaxForwards: 70, RouteToUs: true}, Decision{Kind: Forward, Targets: []Target{deskT}}},
		{"bye to caller (from/to swapped), flow of its connection", Request{Method: "BYE", URIUser: "100", URIHost: "10.0.0.4",
			URI: callerPhone.Contact, FromUser: "101", FromHost: "fjordvik.test", ToUser: "100", ToHost: "fjordvik.test",
			ToTag: "t1", MaxForwards: 70, RouteToUs: true}, Decision{Kind: Forward, Targets: []Target{callerT}}},
		{"ack to a browser with a random contact user", Request{Method: "ACK", URIUser: "k3j2", URIHost: "df7a.invalid",
			URI: browser.Contact, FromUser: "100", FromHost: "fjordvik.test", ToUser: "101", ToHost: "fjordvik.test",
			ToTag: "t1", MaxForwards: 70, RouteToUs: true}, Decision{Kind: Forward, Targets: []Target{browserT}}},
		{"answered with another contact at the registered source", Request{Method: "BYE", URIUser: "x", URIHost: "198.51.100.7",
			URI: "sip:x@198.51.100.7:40000", URIHostPort: "198.51.100.7:40000", FromUser: "100", FromHost: "fjordvik.test",
			ToUser: "101", ToHost: "fjordvik.test", ToTag: "t1", MaxForwards: 70, RouteToUs: true},
			Decision{Kind: Forward, Targets: []Target{deskT}}},
		{"in dialog without our route", Request{Method: "BYE", URI: desk.Contact, URIUser: "101", FromUser: "100",
			FromHost: "fjordvik.test", ToUser: "101", ToHost: "fjordvik.test", ToTag: "t1", MaxForwards: 70},
			Decision{Kind: Reject, Code: 404}},
		{"in dialog to an unregistered target", Request{Method: "BYE", URI: "sip:x@203.0.113.1", URIUser: "x", FromUser: "100",
			FromHost: "fjordvik.test", ToUser: "101", ToHost: "fjordvik.test", ToTag: "t1", MaxForwards: 70, RouteToUs: true},
			Decision{Kind: Reject, Code: 404}},
		{"in dialog max-forwards 0", Request{Method: "BYE", URI: desk.Contact, ToTag: "t1", MaxForwards: 0, RouteToUs: true},
			Decision{Kind: Reject, Code: 483}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Decide(tc.req, st)
			if got.Kind != tc.want.Kind || got.Code != tc.want.Code || got.Realm != tc.want.Realm || got.Stale != tc.want.Stale ||
				!reflect.DeepEqual(got.Targets, tc.want.Targets) {
				t.Fatalf("Decide = %s %d realm=%q stale=%v targets=%+v (%s)\nwant %s %d realm=%q stale=%v targets=%+v",
					got.Kind, got.Code, got.Realm, got.Stale, got.Targets, got.Why,
					tc.want.Kind, tc.want.Code, tc.want.Realm, tc.want.Stale, tc.want.Targets)
			}
			if got.Kind == Reject && (got.Reason == "" || got.Why == "") {
				t.Fatalf("reject without reason or why: %+v", got)
			}
		})
	}
}

func TestSameURI(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"sip:101@10.0.0.1:5060", "sip:101@10.0.0.1:5060", true},
		{"sip:101@Phone.Example:5060", "sip:101@phone.example:5060", true},
		{"sip:k3j2@df7a.invalid;transport=ws", "sip:k3j2@df7a.invalid;transport=ws;ob", true},
		{"sip:k3j2@df7a.invalid;transport=ws", "sip:k3j2@df7a.invalid", true}, // transport in one only: ignored
		{"sip:k3j2@df7a.invalid;transport=ws", "sip:k3j2@df7a.invalid;transport=udp", false},
		{"sip:101@10.0.0.1", "sip:101@10.0.0.1;user=phone", false},
		{"sip:101@10.0.0.1;maddr=10.0.0.9", "sip:101@10.0.0.1", false},
		{"sip:101@10.0.0.1", "sip:102@10.0.0.1", false},
		{"sip:101@10.0.0.1:5060", "sip:101@10.0.0.1:5062", false},
		{"sip:101@10.0.0.1;ob?x=y", "sip:101@10.0.0.1", true},
	} {
		if got := sameURI(tc.a, tc.b); got != tc.want {
			t.Errorf("sameURI(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

// TestInDialogToTheCaller: a request towards a dialog's caller that has
// no binding at its Contact (it authenticated the call without
// registering from there) goes where the proxy saw its INVITE come from;
// without that record it is refused as before.
func TestInDialogToTheCaller(t *testing.T) {
	fv := store.Tenant{Meta: store.Meta{ID: 1}, Name: "fjordvik", Domain: "fjordvik.test"}
	st := fakeState{tenants: []store.Tenant{fv}}
	caller := &Target{URI: "sip:2021@127.0.0.1:45670;transport=udp", Transport: "udp", Destination: "127.0.0.1:45670"}
	bye := Request{Method: "BYE", URI: "sip:2021@127.0.0.1:45670;transport=udp", URIUser: "2021", URIHost: "127.0.0.1",
		URIHostPort: "127.0.0.1:45670", FromUser: "2003", FromHost: "fjordvik.test", ToUser: "2021", ToHost: "fjordvik.test",
		ToTag: "x", MaxForwards: 70, RouteToUs: true}
	if d := Decide(bye, st); d.Kind != Reject || d.Code != StatusNotFound {
		t.Fatalf("without the dialog's caller: %v %d %s, want 404", d.Kind, d.Code, d.Why)
	}
	bye.DialogCaller = caller
	d := Decide(bye, st)
	if d.Kind != Forward || len(d.Targets) != 1 || !reflect.DeepEqual(d.Targets[0], *caller) {
		t.Fatalf("with the dialog's caller: %v %s %+v", d.Kind, d.Why, d.Targets)
	}
	other := bye
	other.URI, other.URIHostPort = "sip:evil@203.0.113.9:5060", "203.0.113.9:5060"
	if d := Decide(other, st); d.Kind != Reject {
		t.Errorf("a request to another URI in the dialog went %v to %+v", d.Kind, d.Targets)
	}
}
