package routing

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/sentralpbx/sentral/store"
)

func TestParseFeature(t *testing.T) {
	tests := []struct {
		code string
		want FeatureOp
		ok   bool
	}{
		{"*21*102#", FeatureOp{Kind: FeatureForward, Forward: ForwardAlways, Target: "102"}, true},
		{"*21*102%23", FeatureOp{Kind: FeatureForward, Forward: ForwardAlways, Target: "102"}, true},
		{"*21*+4791234567#", FeatureOp{Kind: FeatureForward, Forward: ForwardAlways, Target: "+4791234567"}, true},
		{"*21#", FeatureOp{Kind: FeatureForward, Forward: ForwardAlways, Target: ForwardVoicemail}, true},
		{"#21#", FeatureOp{Kind: FeatureForward, Forward: ForwardAlways}, true},
		{"*67*91234567#", FeatureOp{Kind: FeatureForward, Forward: ForwardBusy, Target: "91234567"}, true},
		{"#67#", FeatureOp{Kind: FeatureForward, Forward: ForwardBusy}, true},
		{"*61*102*30#", FeatureOp{Kind: FeatureForward, Forward: ForwardNoAnswer, Target: "102", Seconds: 30}, true},
		{"*61*102#", FeatureOp{Kind: FeatureForward, Forward: ForwardNoAnswer, Target: "102"}, true},
		{"*61#", FeatureOp{Kind: FeatureForward, Forward: ForwardNoAnswer, Target: ForwardVoicemail}, true},
		{"#002#", FeatureOp{Kind: FeatureForward, Forward: ForwardAll}, true},
		{"*26#", FeatureOp{Kind: FeatureDND, On: true}, true},
		{"*26", FeatureOp{Kind: FeatureDND, On: true}, true},
		{"#26#", FeatureOp{Kind: FeatureDND}, true},
		{"*61*102*2#", FeatureOp{}, false},   // below 5 s
		{"*61*102*999#", FeatureOp{}, false}, // above 180 s
		{"*21*102*30#", FeatureOp{}, false},  // seconds only for no answer
		{"*21*abc#", FeatureOp{}, false},
		{"*21*1#", FeatureOp{}, false}, // too short to be a number
		{"*21**98#", FeatureOp{}, false},
		{"*8", FeatureOp{}, false}, // a call code, not a setting
		{"*98", FeatureOp{}, false},
		{"*55#", FeatureOp{}, false},
		{"", FeatureOp{}, false},
		{"101", FeatureOp{}, false},
	}
	for _, tc := range tests {
		got, ok := ParseFeature(tc.code)
		if ok != tc.ok || got != tc.want {
			t.Errorf("ParseFeature(%q) = %+v, %v; want %+v, %v", tc.code, got, ok, tc.want, tc.ok)
		}
	}
	for code, want := range map[string]string{"*8": "*8", "*8#": "*8", "*98": "*98", "*98%23": "*98", "*99#": "*99", "*21#": "", "8": ""} {
		if got := callCode(code); got != want {
			t.Errorf("callCode(%q) = %q, want %q", code, got, want)
		}
	}
}

// featState is a planState whose groups carry their settings, with a
// media server and group membership for pickup.
type featState struct {
	planState
	groupDefs map[string]store.Group
	ms        string
}

func (f featState) Group(tid int64, n string) (store.Group, []string, bool) {
	g, ok := f.groupDefs[key(tid, n)]
	if !ok {
		return store.Group{}, nil, false
	}
	return g, f.groups[key(tid, n)], true
}

func (f featState) MediaServer() string { return f.ms }

func (f featState) GroupsOf(tid int64, n string) []store.Group {
	var out []store.Group
	for k, members := range f.groups {
		for _, m := range members {
			if m == n {
				out = append(out, f.groupDefs[k])
			}
		}
	}
	return out
}

func TestCallFeatures(t *testing.T) {
	fv := store.Tenant{Meta: store.Meta{ID: 1}, Name: "fjordvik", Domain: "fjordvik.test", OutsidePrefix: "0",
		Ranges: []store.NumberRange{{Kind: store.RangeExtension, First: "100", Last: "199"}}}
	b := func(n, src string) store.Binding {
		return store.Binding{TenantID: 1, Number: n, Contact: "sip:" + n + "@10.0.0.1", Q: 1, Source: src, Transport: "udp"}
	}
	b101, b102, b103 := b("101", "198.51.100.1:5060"), b("102", "198.51.100.2:5060"), b("103", "198.51.100.3:5060")
	trunk := store.Trunk{Meta: store.Meta{ID: 11}, TenantID: 1, Name: "telenor", Host: "sip.telenor.test", Port: 5060,
		Transport: "udp", Priority: 1, Enabled: true, Routes: []string{"+47"}}
	ext := func(n string, mod func(*store.Extension)) store.Extension {
		e := store.Extension{TenantID: 1, Number: n, Enabled: true, COS: store.COSMobile}
		if mod != nil {
			mod(&e)
		}
		return e
	}
	const ms = "127.0.0.1:5070"
	state := func(exts ...store.Extension) featState {
		return featState{
			planState: planState{
				fakeState: fakeState{tenants: []store.Tenant{fv}, exts: append(exts, ext("100", nil)),
					bindings: []store.Binding{b101, b102, b103}},
				groups: map[string][]string{key(1, "190"): {"101", "102", "103"}, key(1, "191"): {"101", "102"},
					key(1, "192"): {"104"}},
				trunks: []store.Trunk{trunk},
			},
			groupDefs: map[string]store.Group{
				key(1, "190"): {TenantID: 1, Number: "190", Strategy: store.GroupHunt, RingSeconds: 10, Overflow: "voicemail:101"},
				key(1, "191"): {TenantID: 1, Number: "191", Strategy: store.GroupSimultaneous, RingSeconds: 25, Overflow: "103"},
				key(1, "192"): {TenantID: 1, Number: "192", Strategy: store.GroupHunt, Overflow: "voicemail:101"},
			},
			ms: ms,
		}
	}
	call := func(dialled string) Request {
		return Request{Method: "INVITE", URIUser: dialled, URIHost: "fjordvik.test", URI: "sip:" + dialled + "@fjordvik.test",
			FromUser: "100", FromHost: "fjordvik.test", ToUser: dialled, ToHost: "fjordvik.test", MaxForwards: 70,
			Authenticated: true, AuthTenantID: 1, AuthExt: "100", Source: netip.MustParseAddr("198.51.100.9")}
	}
	deposit := func(mailbox, greeting string) Target {
		return depositTarget(ms, 1, mailbox, greeting, "")
	}
	div := func(tg Target, from, reason string) Target {
		tg.Diversion = "<sip:" + from + "@fjordvik.test>;reason=" + reason
		return tg
	}
	vm := func(e *store.Extension) { e.Voicemail = true }
	tests := []struct {
		name    string
		st      featState
		req     Request
		kind    Kind
		code    int
		targets []Target
		ringFor time.Duration
		next    []Stage
	}{
		{name: "plain extension rings until the ring timeout", st: state(ext("101", nil)), req: call("101"),
			kind: Fork, targets: []Target{bindingTarget(b101)}},
		{name: "voicemail on: busy and no answer go to the mailbox", st: state(ext("101", vm)), req: call("101"),
			kind: Fork, targets: []Target{bindingTarget(b101)}, ringFor: DefaultNoAnswer,
			next: []Stage{{Targets: []Target{deposit("101", GreetingBusy)}, When: OnBusy, Why: "voicemail 101"},
				{Targets: []Target{deposit("101", GreetingUnavailable)}, When: OnNoAnswer | OnFailed, Why: "voicemail 101"}}},
		{name: "unregistered with voicemail goes straight to the mailbox", st: state(ext("104", vm)), req: call("104"),
			kind: Fork, targets: []Target{deposit("104", GreetingUnavailable)}},
		{name: "unregistered without voicemail is unavailable", st: state(ext("104", nil)), req: call("104"),
			kind: Unavailable, code: 480},
		{name: "do not disturb without a forward is busy", st: state(ext("101", func(e *store.Extension) { e.DND = true })),
			req: call("101"), kind: Reject, code: 486},
		{name: "do not disturb with voicemail plays the busy greeting",
			st: state(ext("101", func(e *store.Extension) { e.DND, e.Voicemail = true, true })), req: call("101"),
			kind: Fork, targets: []Target{deposit("101", GreetingBusy)}},
		{name: "unconditional forward rings the target's phones",
			st: state(ext("101", func(e *store.Extension) { e.ForwardAlways = "102" }), ext("102", nil)), req: call("101"),
			kind: Fork, targets: []Target{bindingTarget(b102)}},
		{name: "forward chain follows the last extension's own features",
			st: state(ext("101", func(e *store.Extension) { e.ForwardAlways = "102" }),
				ext("102", func(e *store.Extension) { e.ForwardAlways = "103" }),
				ext("103", func(e *store.Extension) { e.ForwardNoAnswer, e.NoAnswerSeconds = "102", 8 })), req: call("101"),
			kind: Fork, targets: []Target{bindingTarget(b103)}, ringFor: 8 * time.Second,
			next: []Stage{{Targets: []Target{div(bindingTarget(b102), "103", reasonNoAnswer)}, When: OnNoAnswer | OnFailed,
				Why: "forward to 102"}}},
		{name: "forward loop ends ringing a phone of the loop",
			st: state(ext("101", func(e *store.Extension) { e.ForwardAlways = "102" }),
				ext("102", func(e *store.Extension) { e.ForwardAlways = "101" })), req: call("101"),
			kind: Fork, targets: []Target{div(bindingTarget(b101), "102", reasonUnconditional)}},
		{name: "unconditional forward to an external number goes out with Diversion",
			st: state(ext("101", func(e *store.Extension) { e.ForwardAlways = "91234567" })), req: call("101"),
			kind: Fork, targets: []Target{div(Target{URI: "sip:+4791234567@sip.telenor.test:5060;user=phone", Transport: "udp",
				Destination: "sip.telenor.test:5060", Outbound: &Outbound{TrunkID: 11, Trunk: "telenor"}}, "101", reasonUnconditional)}},
		{name: "external forward refused by the class of service leads nowhere",
			st:  state(ext("101", func(e *store.Extension) { e.ForwardAlways, e.COS = "91234567", store.COSInternal })),
			req: call("101"), kind: Reject, code: 404},
		{name: "busy forward to a colleague, no-answer to voicemail",
			st: state(ext("101", func(e *store.Extension) { e.ForwardBusy, e.Voicemail, e.NoAnswerSeconds = "102", true, 12 }),
				ext("102", nil)), req: call("101"),
			kind: Fork, targets: []Target{bindingTarget(b101)}, ringFor: 12 * time.Second,
			next: []Stage{{Targets: []Target{div(bindingTarget(b102), "101", reasonBusy)}, When: OnBusy, Why: "forward to 102"},
				{Targets: []Target{deposit("101", GreetingUnavailable)}, When: OnNoAnswer | OnFailed, Why: "voicemail 101"}}},
		{name: "hunt group rings members in order, then overflows",
			st: state(ext("101", nil), ext("102", vm), ext("103", nil)), req: call("190"),
			kind: Fork, targets: []Target{bindingTarget(b101)}, ringFor: 10 * time.Second,
			next: []Stage{
				{Targets: []Target{bindingTarget(b102)}, RingFor: 10 * time.Second, After: 0, When: OnAny, Why: "hunt group 190 member 2"},
				{Targets: []Target{bindingTarget(b103)}, RingFor: 10 * time.Second, After: 1, When: OnAny, Why: "hunt group 190 member 3"},
				{Targets: []Target{deposit("101", GreetingUnavailable)}, After: 2, When: OnAny, Why: "overflow of group 190"}}},
		{name: "hunt group skips members on do not disturb",
			st: state(ext("101", nil), ext("102", func(e *store.Extension) { e.DND = true }), ext("103", nil)), req: call("190"),
			kind: Fork, targets: []Target{bindingTarget(b101)}, ringFor: 10 * time.Second,
			next: []Stage{
				{Targets: []Target{bindingTarget(b103)}, RingFor: 10 * time.Second, After: 0, When: OnAny, Why: "hunt group 190 member 2"},
				{Targets: []Target{deposit("101", GreetingUnavailable)}, After: 1, When: OnAny, Why: "overflow of group 190"}}},
		{name: "simultaneous group with overflow to an extension",
			st: state(ext("101", nil), ext("102", nil), ext("103", nil)), req: call("191"),
			kind: Fork, targets: []Target{bindingTarget(b101), bindingTarget(b102)}, ringFor: 25 * time.Second,
			next: []Stage{{Targets: []Target{div(bindingTarget(b103), "191", reasonNoAnswer)}, When: OnAny, Why: "overflow of group 191"}}},
		{name: "group with nobody registered overflows at once",
			st: state(ext("101", nil), ext("104", nil)), req: call("192"),
			kind: Fork, targets: []Target{deposit("101", GreetingUnavailable)}},
		{name: "own mailbox", st: state(ext("101", nil)), req: call("*98"),
			kind: Fork, targets: []Target{MediaTarget(ms, "retrieve", "tenant", "1", "mailbox", "100")}},
		{name: "any mailbox asks for one", st: state(ext("101", nil)), req: call("*99%23"),
			kind: Fork, targets: []Target{MediaTarget(ms, "retrieve", "tenant", "1")}},
		{name: "settings code", st: state(ext("101", nil)), req: call("*21*101%23"), kind: Feature},
		{name: "unknown code", st: state(ext("101", nil)), req: call("*55#"), kind: Reject, code: 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := Decide(tc.req, tc.st)
			if d.Kind != tc.kind || d.Code != tc.code {
				t.Fatalf("got %v %d (%s), want %v %d", d.Kind, d.Code, d.Why, tc.kind, tc.code)
			}
			if d.Kind == Feature {
				if d.Feature == nil || d.Feature.Target != "101" || d.MediaServer != ms {
					t.Fatalf("feature %+v media %q", d.Feature, d.MediaServer)
				}
				return
			}
			if !reflect.DeepEqual(d.Targets, tc.targets) {
				t.Errorf("targets\n got %+v\nwant %+v", d.Targets, tc.targets)
			}
			if d.RingFor != tc.ringFor {
				t.Errorf("ring for %v, want %v", d.RingFor, tc.ringFor)
			}
			if !reflect.DeepEqual(d.Next, tc.next) {
				t.Errorf("next\n got %+v\nwant %+v", d.Next, tc.next)
			}
		})
	}

	t.Run("no media server: no voicemail, feature codes refused", func(t *testing.T) {
		st := state(ext("101", vm), ext("104", vm))
		st.ms = ""
		if d := Decide(call("104"), st); d.Kind != Unavailable {
			t.Errorf("unregistered with voicemail but no media server: %v %d", d.Kind, d.Code)
		}
		if d := Decide(call("101"), st); d.Kind != Fork || len(d.Next) != 0 || d.RingFor != 0 {
			t.Errorf("registered: %v next %v ring %v", d.Kind, d.Next, d.RingFor)
		}
		for _, code := range []string{"*98", "*21*102#"} {
			if d := Decide(call(code), st); d.Kind != Reject || d.Code != 480 {
				t.Errorf("%s: %v %d", code, d.Kind, d.Code)
			}
		}
	})
	t.Run("pickup lists the other members of the caller's groups", func(t *testing.T) {
		st := state(ext("101", nil), ext("102", nil), ext("103", nil))
		req := call("*8")
		req.FromUser, req.AuthExt = "101", "101"
		d := Decide(req, st)
		if d.Kind != Pickup || !reflect.DeepEqual(d.Targets, []Target{bindingTarget(b101)}) {
			t.Fatalf("%v %+v", d.Kind, d.Targets)
		}
		got := map[string]bool{}
		for _, n := range d.PickupFrom {
			got[n] = true
		}
		if !reflect.DeepEqual(got, map[string]bool{"102": true, "103": true}) {
			t.Errorf("pickup from %v", d.PickupFrom)
		}
	})
	t.Run("in-dialog requests reach the media server", func(t *testing.T) {
		req := Request{Method: "BYE", URIUser: "deposit", URIHost: "127.0.0.1", URI: "sip:deposit@127.0.0.1:5070",
			URIHostPort: "127.0.0.1:5070", ToTag: "x", RouteToUs: true, MaxForwards: 70, FromHost: "fjordvik.test", ToHost: "fjordvik.test"}
		d := Decide(req, state())
		if d.Kind != Forward || !d.Targets[0].Media || d.Targets[0].Destination != ms {
			t.Fatalf("%+v", d)
		}
	})
}
