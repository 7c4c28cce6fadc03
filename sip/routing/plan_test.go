package routing

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/sentralpbx/sentral/store"
)

// planState adds the number plan to fakeState.
type planState struct {
	fakeState
	groups map[string][]string // "tenant/number" -> member numbers
	dids   map[string]DIDTarget
	trunks []store.Trunk
	sites  map[int64]store.Site
	dect   map[string]string // "tenant/number" -> gateway address
	peers  map[netip.Addr]store.Trunk
}

func key(tid int64, n string) string { return string(rune('0'+tid)) + "/" + n }

func (p planState) Tenant(id int64) (store.Tenant, bool) {
	for _, t := range p.tenants {
		if t.ID == id {
			return t, true
		}
	}
	return store.Tenant{}, false
}

func (p planState) Group(tid int64, n string) (store.Group, []string, bool) {
	m, ok := p.groups[key(tid, n)]
	return store.Group{TenantID: tid, Number: n}, m, ok
}

func (p planState) DID(e164 string) (DIDTarget, bool) { t, ok := p.dids[e164]; return t, ok }

func (p planState) Trunks(tid int64) []store.Trunk {
	var out []store.Trunk
	for _, t := range p.trunks {
		if t.TenantID == tid {
			out = append(out, t)
		}
	}
	return out
}

func (p planState) Site(id int64) (store.Site, bool) { s, ok := p.sites[id]; return s, ok }

func (p planState) StaticDECT(tid int64, n string) (string, bool) {
	a, ok := p.dect[key(tid, n)]
	return a, ok
}

func (p planState) TrunkFrom(a netip.Addr) (store.Trunk, bool) { t, ok := p.peers[a]; return t, ok }

func TestNumberPlan(t *testing.T) {
	site := int64(7)
	fv := store.Tenant{Meta: store.Meta{ID: 1}, Name: "fjordvik", DisplayName: "Fjordvik kommune", Domain: "fjordvik.test",
		OutsidePrefix: "0", SwitchboardNumber: "100", UnknownDID: store.UnknownDIDSwitchboard,
		Ranges: []store.NumberRange{{Kind: store.RangeExtension, First: "100", Last: "199"},
			{Kind: store.RangeDID, First: "+4723000100", Last: "+4723000199"}}}
	os := store.Tenant{Meta: store.Meta{ID: 2}, Name: "oslo", Domain: "oslo.test", UnknownDID: store.UnknownDIDReject,
		Ranges: []store.NumberRange{{Kind: store.RangeExtension, First: "200", Last: "299"},
			{Kind: store.RangeDID, First: "+4722000200", Last: "+4722000299"}}}
	b100 := store.Binding{TenantID: 1, Number: "100", Contact: "sip:100@10.0.0.1", Q: 1, Source: "198.51.100.1:5060", Transport: "udp"}
	b101 := store.Binding{TenantID: 1, Number: "101", Contact: "sip:101@10.0.0.2", Q: 1, Source: "198.51.100.2:5060", Transport: "udp"}
	b102 := store.Binding{TenantID: 1, Number: "102", Contact: "sip:102@10.0.0.3", Q: 1, Source: "198.51.100.3:5060", Transport: "udp"}
	primary := store.Trunk{Meta: store.Meta{ID: 11}, TenantID: 1, Name: "telenor", Host: "sip.telenor.test", Port: 5060,
		Transport: "udp", Priority: 1, Enabled: true, Routes: []string{"+47"}}
	backup := store.Trunk{Meta: store.Meta{ID: 12}, TenantID: 1, Name: "backup", Host: "203.0.113.9", Port: 5080,
		Transport: "tcp", Priority: 2, Enabled: true, Routes: []string{"+"}}
	sos := store.Trunk{Meta: store.Meta{ID: 13}, TenantID: 1, Name: "nodnett", Host: "sos.test", Priority: 9, Enabled: true,
		Emergency: true}
	off := store.Trunk{Meta: store.Meta{ID: 14}, TenantID: 1, Name: "off", Host: "off.test", Priority: 0, Enabled: false,
		Routes: []string{"+"}}
	osTrunk := store.Trunk{Meta: store.Meta{ID: 21}, TenantID: 2, Name: "oslo-trunk", Host: "oslo-op.test", Enabled: true,
		Routes: []string{"+"}}
	exts := []store.Extension{
		{TenantID: 1, Number: "100", Enabled: true, COS: store.COSNational},
		{TenantID: 1, Number: "101", Enabled: true, COS: store.COSMobile, DID: "+4723000101", DisplayName: "Kari Nordmann",
			SiteID: &site},
		{TenantID: 1, Number: "102", Enabled: true, COS: store.COSInternal, SiteID: &site},
		{TenantID: 1, Number: "103", Enabled: true, COS: store.COSInternational, HideCallerID: true, DID: "+4723000103"},
		{TenantID: 1, Number: "150", Enabled: true, COS: store.COSInternal}, // DECT handset, static gateway
		{TenantID: 2, Number: "200", Enabled: true},
	}
	st := planState{
		fakeState: fakeState{tenants: []store.Tenant{fv, os}, exts: exts, bindings: []store.Binding{b100, b101, b102}},
		groups:    map[string][]string{key(1, "190"): {"101", "102"}},
		dids: map[string]DIDTarget{
			"+4723000101": {TenantID: 1, Kind: DIDExtension, Number: "101"},
			"+4723000190": {TenantID: 1, Kind: DIDGroup, Number: "190"},
			"+4723000100": {TenantID: 1, Kind: DIDSwitchboard, Number: "100"},
			"+4722000200": {TenantID: 2, Kind: DIDExtension, Number: "200"},
		},
		trunks: []store.Trunk{backup, primary, sos, off, osTrunk},
		sites:  map[int64]store.Site{7: {Meta: store.Meta{ID: 7}, TenantID: 1, Name: "Rådhuset", Address: "Storgata 1", DID: "+4723000150"}},
		dect:   map[string]string{key(1, "150"): "10.9.0.2:5060"},
		peers: map[netip.Addr]store.Trunk{netip.MustParseAddr("198.51.100.200"): primary,
			netip.MustParseAddr("198.51.100.222"): osTrunk},
	}
	from := func(ext, dialled string) Request {
		return Request{Method: "INVITE", URIUser: dialled, URIHost: "fjordvik.test", URI: "sip:" + dialled + "@fjordvik.test",
			FromUser: ext, FromHost: "fjordvik.test", ToUser: dialled, ToHost: "fjordvik.test", MaxForwards: 70,
			Authenticated: true, AuthTenantID: 1, AuthExt: ext, Source: netip.MustParseAddr("198.51.100.1")}
	}
	trunkCall := func(src, user string) Request {
		return Request{Method: "INVITE", URIUser: user, URIHost: "192.0.2.1", URI: "sip:" + user + "@192.0.2.1",
			FromUser: "+4791234567", FromHost: "operator.test", ToUser: user, ToHost: "operator.test", MaxForwards: 70,
			Source: netip.MustParseAddr(src)}
	}
	tgt := func(b store.Binding) Target { return bindingTarget(b) }
	out := func(tr store.Trunk, user, uri, cid string) Target {
		o := &Outbound{TrunkID: tr.ID, Trunk: tr.Name}
		if cid != "" {
			o.From, o.Identity = "sip:"+cid+"@"+tr.Host, "sip:"+cid+"@"+tr.Host
		}
		return Target{URI: uri, Transport: transportOf(tr), Destination: hostPort(tr), Outbound: o}
	}
	natl := func(tr store.Trunk, cid string) Target {
		return out(tr, "+4722334455", "sip:+4722334455@"+hostPort(tr)+";user=phone"+transportSuffix(tr), cid)
	}

	type want struct {
		kind      Kind
		code      int
		dir       string
		serial    bool
		targets   []Target
		reason    string // substring of the reason phrase
		normalise string
	}
	tests := []struct {
		name string
		req  Request
		want want
		mod  func(*Decision) // adjust targets' details not worth spelling out
	}{
		{"national via trunks in priority order, caller id the DID", from("101", "022334455"),
			want{kind: Fork, dir: DirOutbound, serial: true, normalise: "+4722334455",
				targets: []Target{natl(primary, "+4723000101"), natl(backup, "+4723000101")}}, nil},
		{"separators as phones send them", from("101", "0 22 33 44 55"),
			want{kind: Fork, dir: DirOutbound, serial: true, normalise: "+4722334455",
				targets: []Target{natl(primary, "+4723000101"), natl(backup, "+4723000101")}}, nil},
		{"outside prefix required", from("101", "22334455"), want{kind: Reject, code: 404}, nil},
		{"incomplete number", from("101", "02233"), want{kind: Reject, code: 484}, nil},
		{"unassigned number in the extension range stays inside", from("101", "177"), want{kind: Reject, code: 404, dir: DirInternal}, nil},
		{"internal-only extension may not call out", from("102", "022334455"),
			want{kind: Reject, code: 403, dir: DirOutbound, reason: "Class of service"}, nil},
		{"national class may not call mobiles", from("100", "091234567"), want{kind: Reject, code: 403, dir: DirOutbound, reason: "mobile"}, nil},
		{"mobile class calls mobiles", from("101", "091234567"),
			want{kind: Fork, dir: DirOutbound, serial: true, normalise: "+4791234567",
				targets: []Target{out(primary, "", "sip:+4791234567@sip.telenor.test:5060;user=phone", "+4723000101"),
					out(backup, "", "sip:+4791234567@203.0.113.9:5080;user=phone;transport=tcp", "+4723000101")}}, nil},
		{"international needs the international class", from("101", "000468123456"), want{kind: Reject, code: 403, dir: DirOutbound}, nil},
		{"international only over the trunk routing +; caller id withheld on request", from("103", "000468123456"),
			want{kind: Fork, dir: DirOutbound, serial: true, normalise: "+468123456",
				targets: []Target{out(backup, "", "sip:+468123456@203.0.113.9:5080;user=phone;transport=tcp", "+4723000103")}},
			func(d *Decision) {
				if !d.Targets[0].Outbound.Private {
					panic("caller id not withheld for an extension that hides it")
				}
				d.Targets[0].Outbound.Private = false
			}},
		{"emergency from an internal-only extension: emergency trunk first, site number and location", from("102", "112"),
			want{kind: Fork, dir: DirEmergency, serial: true, normalise: "+47112",
				targets: []Target{out(sos, "", "sip:112@sos.test:5060;user=phone", "+4723000150"),
					out(primary, "", "sip:112@sip.telenor.test:5060;user=phone", "+4723000150"),
					out(backup, "", "sip:112@203.0.113.9:5080;user=phone;transport=tcp", "+4723000150")}},
			func(d *Decision) {
				for _, t := range d.Targets {
					if !strings.Contains(t.Outbound.Emergency, `site="Rådhuset"`) || !strings.Contains(t.Outbound.Emergency, `address="Storgata 1"`) {
						panic("emergency location missing: " + t.Outbound.Emergency)
					}
					t.Outbound.Emergency = ""
				}
			}},
		{"emergency behind the outside prefix, never withheld", from("103", "0113"),
			want{kind: Fork, dir: DirEmergency, serial: true, normalise: "+47113",
				targets: []Target{out(sos, "", "sip:113@sos.test:5060;user=phone", "+4723000103"),
					out(primary, "", "sip:113@sip.telenor.test:5060;user=phone", "+4723000103"),
					out(backup, "", "sip:113@203.0.113.9:5080;user=phone;transport=tcp", "+4723000103")}},
			func(d *Decision) {
				for _, t := range d.Targets {
					if t.Outbound.Private {
						panic("emergency call withheld")
					}
					t.Outbound.Emergency = ""
				}
			}},
		{"short service number leaves as dialled", from("100", "01881"),
			want{kind: Fork, dir: DirOutbound, serial: true, normalise: "+471881",
				targets: []Target{out(primary, "", "sip:1881@sip.telenor.test:5060;user=phone", ""),
					out(backup, "", "sip:1881@203.0.113.9:5080;user=phone;transport=tcp", "")}}, nil},
		{"our own public number rings here", from("100", "023000101"),
			want{kind: Fork, dir: DirInternal, targets: []Target{tgt(b101)}}, nil},
		{"group rings every member", from("100", "190"),
			want{kind: Fork, dir: DirInternal, targets: []Target{tgt(b101), tgt(b102)}}, nil},
		{"static DECT handset rings at its gateway", from("100", "150"),
			want{kind: Fork, dir: DirInternal, targets: []Target{{URI: "sip:150@10.9.0.2:5060", Transport: "udp",
				Destination: "10.9.0.2:5060", Number: "150", Q: 1}}}, nil},
		{"another tenant's extension by its domain", func() Request {
			r := from("100", "200")
			r.URIHost = "oslo.test"
			return r
		}(), want{kind: Unavailable, code: 480, dir: DirInternal}, nil},

		{"inbound DID to an extension", trunkCall("198.51.100.200", "+4723000101"),
			want{kind: Fork, dir: DirInbound, normalise: "+4723000101", targets: []Target{tgt(b101)}}, nil},
		{"inbound DID in national form", trunkCall("198.51.100.200", "23000101"),
			want{kind: Fork, dir: DirInbound, normalise: "+4723000101", targets: []Target{tgt(b101)}}, nil},
		{"inbound DID as 0047", trunkCall("198.51.100.200", "004723000101"),
			want{kind: Fork, dir: DirInbound, normalise: "+4723000101", targets: []Target{tgt(b101)}}, nil},
		{"inbound to our registered contact, the number in To", func() Request {
			r := trunkCall("198.51.100.200", "sentral-trunk")
			r.ToUser = "+4723000101"
			return r
		}(), want{kind: Fork, dir: DirInbound, normalise: "+4723000101", targets: []Target{tgt(b101)}}, nil},
		{"inbound DID of a group", trunkCall("198.51.100.200", "+4723000190"),
			want{kind: Fork, dir: DirInbound, targets: []Target{tgt(b101), tgt(b102)}}, nil},
		{"inbound main number rings the switchboard", trunkCall("198.51.100.200", "+4723000100"),
			want{kind: Fork, dir: DirInbound, targets: []Target{tgt(b100)}}, nil},
		{"inbound unassigned DID goes to the switchboard", trunkCall("198.51.100.200", "+4723000177"),
			want{kind: Fork, dir: DirInbound, targets: []Target{tgt(b100)}}, nil},
		{"inbound unassigned DID rejected by policy", trunkCall("198.51.100.222", "+4722000277"),
			want{kind: Reject, code: 404, dir: DirInbound}, nil},
		{"inbound number outside the tenant's ranges", trunkCall("198.51.100.200", "+4799999999"),
			want{kind: Reject, code: 404, dir: DirInbound}, nil},
		{"inbound to another tenant's DID", trunkCall("198.51.100.200", "+4722000200"),
			want{kind: Reject, code: 404, dir: DirInbound}, nil},
		{"inbound to no number at all", trunkCall("198.51.100.200", "hello"), want{kind: Reject, code: 404, dir: DirInbound}, nil},
		{"a stranger is no trunk", trunkCall("198.51.100.77", "+4723000101"), want{kind: Reject, code: 403}, nil},

		{"bye from a phone to the operator's contact", Request{Method: "BYE", URI: "sip:+4722334455@198.51.100.200:5060",
			URIUser: "+4722334455", URIHost: "198.51.100.200", URIHostPort: "198.51.100.200:5060", FromUser: "101",
			FromHost: "fjordvik.test", ToUser: "+4722334455", ToHost: "sip.telenor.test", ToTag: "x", MaxForwards: 70,
			RouteToUs: true, Source: netip.MustParseAddr("198.51.100.2")},
			want{kind: Forward, targets: []Target{{URI: "sip:+4722334455@198.51.100.200:5060", Transport: "udp",
				Destination: "198.51.100.200:5060"}}}, nil},
		{"bye from a phone to the operator by host name, its transport", Request{Method: "BYE",
			URI: "sip:gw@sip.telenor.test:5070;transport=tcp", URIUser: "gw", URIHost: "sip.telenor.test",
			URIHostPort: "sip.telenor.test:5070", URITransport: "tcp", FromUser: "101", FromHost: "fjordvik.test",
			ToUser: "+4722334455", ToHost: "fjordvik.test", ToTag: "x", MaxForwards: 70, RouteToUs: true},
			want{kind: Forward, targets: []Target{{URI: "sip:gw@sip.telenor.test:5070;transport=tcp", Transport: "tcp",
				Destination: "sip.telenor.test:5070"}}}, nil},
		{"bye from the operator to the phone it called", Request{Method: "BYE", URI: b101.Contact, URIUser: "zz",
			URIHost: "10.0.0.2", URIHostPort: "10.0.0.2:5060", FromUser: "+4791234567", FromHost: "operator.test",
			ToUser: "+4723000101", ToHost: "operator.test", ToTag: "x", MaxForwards: 70, RouteToUs: true,
			Source: netip.MustParseAddr("198.51.100.200")},
			want{kind: Forward, targets: []Target{tgt(b101)}}, nil},
		{"bye to a static DECT gateway", Request{Method: "BYE", URI: "sip:10.9.0.2:5060", URIHost: "10.9.0.2",
			URIHostPort: "10.9.0.2:5060", FromUser: "100", FromHost: "fjordvik.test", ToUser: "150", ToHost: "fjordvik.test",
			ToTag: "x", MaxForwards: 70, RouteToUs: true},
			want{kind: Forward, targets: []Target{{URI: "sip:10.9.0.2:5060", Transport: "udp", Destination: "10.9.0.2:5060", Number: "150"}}}, nil},
		{"bye from the operator to the group member that answered", Request{Method: "BYE", URI: b102.Contact, URIUser: "zz",
			URIHost: "10.0.0.3", URIHostPort: "10.0.0.3:5060", FromUser: "+4791234567", FromHost: "operator.test",
			ToUser: "+4723000190", ToHost: "operator.test", ToTag: "x", MaxForwards: 70, RouteToUs: true,
			Source: netip.MustParseAddr("198.51.100.200"), DialogNumbers: []string{"", "190", "102"}},
			want{kind: Forward, targets: []Target{tgt(b102)}}, nil},
		{"bye from a stranger to a phone", Request{Method: "BYE", URI: b101.Contact, URIUser: "zz",
			URIHost: "10.0.0.2", URIHostPort: "10.0.0.2:5060", FromUser: "+4791234567", FromHost: "operator.test",
			ToUser: "+4723000101", ToHost: "operator.test", ToTag: "x", MaxForwards: 70, RouteToUs: true,
			Source: netip.MustParseAddr("198.51.100.77")},
			want{kind: Reject, code: 404}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Decide(tc.req, st)
			if tc.mod != nil {
				tc.mod(&got)
			}
			for _, tg := range got.Targets {
				if o := tg.Outbound; o != nil {
					if tc.req.FromUser == "101" && o.Display != "Kari Nordmann" {
						t.Errorf("display name %q, want the extension's", o.Display)
					}
					o.Display = ""
				}
			}
			w := tc.want
			if got.Kind != w.kind || got.Code != w.code || got.Serial != w.serial || got.Direction != w.dir ||
				!reflect.DeepEqual(got.Targets, w.targets) {
				t.Fatalf("Decide = %s %d %q serial=%v dir=%q (%s)\n targets %s\nwant %s %d serial=%v dir=%q\n targets %s",
					got.Kind, got.Code, got.Reason, got.Serial, got.Direction, got.Why, show(got.Targets),
					w.kind, w.code, w.serial, w.dir, show(w.targets))
			}
			if w.reason != "" && !strings.Contains(got.Reason, w.reason) {
				t.Errorf("reason %q, want it to mention %q", got.Reason, w.reason)
			}
			if w.normalise != "" && got.Normalised != w.normalise {
				t.Errorf("normalised %q, want %q", got.Normalised, w.normalise)
			}
			if strings.ContainsAny(got.Reason, "\r\n") {
				t.Errorf("reason phrase with a line break: %q", got.Reason)
			}
		})
	}
}

func show(ts []Target) string {
	var b strings.Builder
	for _, t := range ts {
		b.WriteString("\n  " + t.URI + " -> " + t.Destination + " " + t.Transport)
		if o := t.Outbound; o != nil {
			b.WriteString(" [" + o.Trunk + " from=" + o.From + " pai=" + o.Identity)
			if o.Private {
				b.WriteString(" private")
			}
			if o.Emergency != "" {
				b.WriteString(" loc=" + o.Emergency)
			}
			b.WriteString("]")
		}
	}
	return b.String()
}
