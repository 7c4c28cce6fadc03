package presence

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// subscribeText is an initial SUBSCRIBE as a Yealink sends it through a
// record-routing edge proxy.
const subscribeText = "SUBSCRIBE sip:2101@fjordvik.test SIP/2.0\r\n" +
	"Via: SIP/2.0/UDP 198.51.100.2:5060;branch=z9hG4bK-edge-1\r\n" +
	"Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-phone-1;rport\r\n" +
	"Record-Route: <sip:198.51.100.2;lr;ftag=ph1>, <sip:10.0.0.2;lr>\r\n" +
	"From: \"Kari\" <sip:2101@fjordvik.test>;tag=ph1\r\n" +
	"To: <sip:2101@fjordvik.test>\r\n" +
	"Call-ID: 0a1b2c3d@192.0.2.10\r\n" +
	"CSeq: 7 SUBSCRIBE\r\n" +
	"Contact: <sip:2101@192.0.2.10:5062;transport=udp>\r\n" +
	"Max-Forwards: 69\r\n" +
	"Event: message-summary;id=mwi1\r\n" +
	"Accept: application/simple-message-summary\r\n" +
	"Expires: 3600\r\n" +
	"Content-Length: 0\r\n\r\n"

func parseRequest(t *testing.T, text string) *sip.Request {
	t.Helper()
	msg, err := sip.NewParser().ParseSIP([]byte(text))
	if err != nil {
		t.Fatalf("parse:\n%s\n%v", text, err)
	}
	req, ok := msg.(*sip.Request)
	if !ok {
		t.Fatalf("not a request: %T", msg)
	}
	return req
}

func header(t *testing.T, req *sip.Request, name string) string {
	t.Helper()
	h := req.GetHeader(name)
	if h == nil {
		t.Fatalf("no %s header in\n%s", name, req)
	}
	return h.Value()
}

func TestFromSubscribeAndNotify(t *testing.T) {
	sub := parseRequest(t, subscribeText)
	sub.SetSource("198.51.100.2:5060")
	sub.SetTransport("UDP")
	local := sip.Uri{Scheme: "sip", Host: "pbx.fjordvik.test", Port: 5060}
	s, err := FromSubscribe(sub, "pbx9", local)
	if err != nil {
		t.Fatal(err)
	}
	s.Key = Key{Tenant: 7, Mailbox: "2101"}
	if s.DialogID != (DialogID{CallID: "0a1b2c3d@192.0.2.10", FromTag: "ph1", ToTag: "pbx9", EventID: "mwi1"}) {
		t.Fatalf("dialog = %+v", s.DialogID)
	}
	if len(s.RouteSet) != 2 || s.RouteSet[0].Host != "198.51.100.2" || s.RouteSet[1].Host != "10.0.0.2" {
		t.Fatalf("route set = %v", s.RouteSet)
	}

	reg := NewSubscriptions()
	n, err := reg.Add(s, 3600*time.Second, t0)
	if err != nil {
		t.Fatal(err)
	}
	n = reg.For(7, "2101", t0.Add(100*time.Second))[0] // the second NOTIFY
	ms := MessageSummary{Waiting: true, Account: "sip:2101@fjordvik.test", Voice: Counts{2, 8, 0, 2}}
	req, err := NotifyRequest(n, &ms)
	if err != nil {
		t.Fatal(err)
	}
	if req.Destination() != "198.51.100.2:5060" || req.Transport() != "UDP" {
		t.Errorf("sent to %s over %s, want the SUBSCRIBE's source", req.Destination(), req.Transport())
	}

	// Render and parse back, as the phone will.
	got := parseRequest(t, req.String())
	if got.Method != sip.NOTIFY || got.Recipient.String() != "sip:2101@192.0.2.10:5062;transport=udp" {
		t.Errorf("start line: %s", got.StartLine())
	}
	routes := got.GetHeaders("Route")
	if len(routes) != 2 || routes[0].Value() != "<sip:198.51.100.2;lr;ftag=ph1>" || routes[1].Value() != "<sip:10.0.0.2;lr>" {
		t.Errorf("routes = %v", routes)
	}
	// We are the notifier: From is the SUBSCRIBE's To with our tag, To is
	// its From with the phone's tag.
	if tag, _ := got.From().Params.Get("tag"); tag != "pbx9" || got.From().Address.User != "2101" {
		t.Errorf("From = %s", got.From().Value())
	}
	if tag, _ := got.To().Params.Get("tag"); tag != "ph1" {
		t.Errorf("To = %s", got.To().Value())
	}
	if got.CallID().Value() != "0a1b2c3d@192.0.2.10" {
		t.Errorf("Call-ID = %s", got.CallID().Value())
	}
	if cs := got.CSeq(); cs.SeqNo != 2 || cs.MethodName != sip.NOTIFY {
		t.Errorf("CSeq = %s", cs.Value())
	}
	if c := got.Contact(); c == nil || c.Address.Host != "pbx.fjordvik.test" {
		t.Errorf("Contact = %v", c)
	}
	for name, want := range map[string]string{
		"Event":              "message-summary;id=mwi1",
		"Subscription-State": "active;expires=3500",
		"Content-Type":       ContentType,
		"Max-Forwards":       "70",
		"Content-Length":     strconv.Itoa(len(ms.Marshal())),
	} {
		if v := header(t, got, name); v != want {
			t.Errorf("%s = %q, want %q", name, v, want)
		}
	}
	if got.Via() != nil {
		t.Error("Via set: the transaction layer adds it")
	}
	body, err := ParseMessageSummary(got.Body())
	if err != nil || body.Account != ms.Account || body.Voice != ms.Voice || !body.Waiting {
		t.Errorf("body %q: %+v %v", got.Body(), body, err)
	}
	if string(got.Body()) != "Messages-Waiting: yes\r\nMessage-Account: sip:2101@fjordvik.test\r\nVoice-Message: 2/8 (0/2)\r\n" {
		t.Errorf("body = %q", got.Body())
	}
}

func TestNotifyTerminated(t *testing.T) {
	reg := NewSubscriptions()
	sub := testSub("a", "2101")
	sub.RouteSet = nil
	reg.Add(sub, 60*time.Second, t0)
	ns := reg.Expire(t0.Add(time.Minute))
	req, err := NotifyRequest(ns[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	got := parseRequest(t, req.String())
	if v := header(t, got, "Subscription-State"); v != "terminated;reason=timeout" {
		t.Errorf("Subscription-State = %q", v)
	}
	if got.GetHeader("Route") != nil || got.ContentType() != nil || len(got.Body()) != 0 {
		t.Errorf("unexpected route, content type or body:\n%s", got)
	}
	if v := header(t, got, "Event"); v != "message-summary" {
		t.Errorf("Event = %q", v)
	}
	if got.Recipient.Host != "192.0.2.10" || got.CSeq().SeqNo != 2 {
		t.Errorf("start line %s, CSeq %d", got.StartLine(), got.CSeq().SeqNo)
	}
}

// TestNotifyStrictRoute: a first hop without ;lr is a strict router (RFC
// 3261 §12.2.1.1); it gets the request-URI and the target goes last.
func TestNotifyStrictRoute(t *testing.T) {
	reg := NewSubscriptions()
	sub := testSub("a", "2101")
	sub.RouteSet = []sip.Uri{{Scheme: "sip", Host: "old-proxy.test"}, {Scheme: "sip", Host: "p2.test", UriParams: sip.HeaderParams{{K: "lr", V: ""}}}}
	n, _ := reg.Add(sub, NoExpires, t0)
	req, err := NotifyRequest(n, &MessageSummary{})
	if err != nil {
		t.Fatal(err)
	}
	got := parseRequest(t, req.String())
	if got.Recipient.Host != "old-proxy.test" {
		t.Errorf("request-URI = %s", got.Recipient.String())
	}
	rs := got.GetHeaders("Route")
	if len(rs) != 2 || rs[0].Value() != "<sip:p2.test;lr>" || rs[1].Value() != "<sip:2101@192.0.2.10:5062>" {
		t.Errorf("routes = %v", rs)
	}
}

func TestNotifyRequestRefuses(t *testing.T) {
	good, _ := NewSubscriptions().Add(testSub("a", "2101"), NoExpires, t0)
	for name, mut := range map[string]func(*Notice){
		"no target":  func(n *Notice) { n.Target = sip.Uri{} },
		"no to tag":  func(n *Notice) { n.ToTag = "" },
		"no cseq":    func(n *Notice) { n.CSeq = 0 },
		"no state":   func(n *Notice) { n.State = "" },
		"no call-id": func(n *Notice) { n.CallID = "" },
	} {
		n := good
		mut(&n)
		if _, err := NotifyRequest(n, nil); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestFromSubscribeRefuses(t *testing.T) {
	local := sip.Uri{Scheme: "sip", Host: "pbx.fjordvik.test"}
	for name, edit := range map[string][2]string{
		"presence event": {"Event: message-summary;id=mwi1", "Event: presence"},
		"no event":       {"Event: message-summary;id=mwi1\r\n", ""},
		"no from tag":    {";tag=ph1", ""},
		"no contact":     {"Contact: <sip:2101@192.0.2.10:5062;transport=udp>\r\n", ""},
	} {
		req := parseRequest(t, strings.Replace(subscribeText, edit[0], edit[1], 1))
		if _, err := FromSubscribe(req, "pbx9", local); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := FromSubscribe(parseRequest(t, subscribeText), "", local); err == nil {
		t.Error("empty To tag accepted")
	}
	// Event names are case-insensitive tokens.
	req := parseRequest(t, strings.Replace(subscribeText, "Event: message-summary;id=mwi1", "Event: Message-Summary", 1))
	if s, err := FromSubscribe(req, "pbx9", local); err != nil || s.EventID != "" {
		t.Errorf("Message-Summary: %+v %v", s.DialogID, err)
	}
}

func TestUnsolicitedNotify(t *testing.T) {
	u := Unsolicited{
		Contact:     sip.Uri{Scheme: "sip", User: "2101", Host: "k3x9.invalid", UriParams: sip.HeaderParams{{K: "transport", V: "ws"}}},
		AOR:         sip.Uri{Scheme: "sip", User: "2101", Host: "fjordvik.test"},
		Mailbox:     sip.Uri{Scheme: "sip", User: "2101", Host: "fjordvik.test"},
		Path:        []sip.Uri{{Scheme: "sip", Host: "edge.fjordvik.test", UriParams: sip.HeaderParams{{K: "lr", V: ""}}}},
		Local:       sip.Uri{Scheme: "sip", Host: "pbx.fjordvik.test"},
		Transport:   "ws",
		Destination: "203.0.113.7:49152",
	}
	req, err := UnsolicitedNotify(u, NewSummary("", Counts{New: 1, Old: 3}))
	if err != nil {
		t.Fatal(err)
	}
	if req.Destination() != "203.0.113.7:49152" || req.Transport() != "WS" {
		t.Errorf("sent to %s over %s", req.Destination(), req.Transport())
	}
	got := parseRequest(t, req.String())
	if got.Recipient.String() != "sip:2101@k3x9.invalid;transport=ws" {
		t.Errorf("request-URI = %s", got.Recipient.String())
	}
	if r := got.GetHeaders("Route"); len(r) != 1 || r[0].Value() != "<sip:edge.fjordvik.test;lr>" {
		t.Errorf("routes = %v", r)
	}
	if tag, _ := got.From().Params.Get("tag"); tag == "" || got.From().Address.String() != "sip:2101@fjordvik.test" {
		t.Errorf("From = %s", got.From().Value())
	}
	if got.To().Params.Has("tag") || got.To().Address.String() != "sip:2101@fjordvik.test" {
		t.Errorf("To = %s", got.To().Value())
	}
	if got.CSeq().SeqNo != 1 || got.CSeq().MethodName != sip.NOTIFY || got.CallID().Value() == "" {
		t.Errorf("CSeq %s Call-ID %s", got.CSeq().Value(), got.CallID().Value())
	}
	for name, want := range map[string]string{
		"Event":              "message-summary",
		"Subscription-State": "active",
		"Content-Type":       ContentType,
	} {
		if v := header(t, got, name); v != want {
			t.Errorf("%s = %q, want %q", name, v, want)
		}
	}
	ms, err := ParseMessageSummary(got.Body())
	if err != nil || !ms.Waiting || ms.Account != "sip:2101@fjordvik.test" || ms.Voice != (Counts{New: 1, Old: 3}) {
		t.Errorf("body %q: %+v %v", got.Body(), ms, err)
	}
	// Each unsolicited NOTIFY is a fresh transaction of its own.
	again, _ := UnsolicitedNotify(u, MessageSummary{})
	if again.CallID().Value() == req.CallID().Value() {
		t.Error("Call-ID reused")
	}
	if _, err := UnsolicitedNotify(Unsolicited{AOR: u.AOR, Mailbox: u.Mailbox}, MessageSummary{}); err == nil {
		t.Error("no contact accepted")
	}
}
