package mwi

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/sentralpbx/sentral/events"
	"github.com/sentralpbx/sentral/sip/presence"
	"github.com/sentralpbx/sentral/store"
)

func summary(t *testing.T, req *sip.Request) presence.MessageSummary {
	t.Helper()
	if ct := header(t, req, "Content-Type"); ct != presence.ContentType {
		t.Fatalf("Content-Type %q", ct)
	}
	m, err := presence.ParseMessageSummary(req.Body())
	if err != nil {
		t.Fatalf("body %q: %v", req.Body(), err)
	}
	return m
}

// TestSubscribeNotifyUnsubscribe is the whole life of a subscription: a
// challenge, the authenticated SUBSCRIBE, the first NOTIFY, one on a
// change, and the terminating one on unsubscribe.
func TestSubscribeNotifyUnsubscribe(t *testing.T) {
	s := startStack(t, nil)
	ph := newPhone(t, "kari")
	d := ph.dialog("2101", "2101")

	res := d.send(s.addr, 3600, "")
	if res.StatusCode != sip.StatusUnauthorized {
		t.Fatalf("unauthenticated SUBSCRIBE: %d, want 401", res.StatusCode)
	}
	mustContain(t, "challenge", header(t, res, "WWW-Authenticate"), `realm="fjordvik.test"`)
	res = d.send(s.addr, 3600, d.answer(res))
	if res.StatusCode != sip.StatusOK {
		t.Fatalf("authenticated SUBSCRIBE: %d %s, want 200", res.StatusCode, res.Reason)
	}
	d.toTag, _ = res.To().Params.Get("tag")
	if d.toTag == "" {
		t.Fatal("200 without a To tag")
	}
	if got := header(t, res, "Expires"); got != "3600" {
		t.Fatalf("Expires %q, want 3600", got)
	}
	mustContain(t, "Contact", header(t, res, "Contact"), "sip:2101@"+s.addr)

	first := ph.notify(200)
	if ph.lastFrom != s.addr {
		t.Errorf("NOTIFY sent from %s, want the listener %s (NAT pinholes pass only that)", ph.lastFrom, s.addr)
	}
	if tag, _ := first.From().Params.Get("tag"); tag != d.toTag {
		t.Errorf("NOTIFY From tag %q, want our To tag %q", tag, d.toTag)
	}
	if tag, _ := first.To().Params.Get("tag"); tag != d.fromTag {
		t.Errorf("NOTIFY To tag %q, want the subscriber's %q", tag, d.fromTag)
	}
	if first.CallID().Value() != d.callID {
		t.Errorf("NOTIFY Call-ID %q", first.CallID().Value())
	}
	if ev := header(t, first, "Event"); ev != "message-summary" {
		t.Errorf("Event %q", ev)
	}
	mustContain(t, "Subscription-State", header(t, first, "Subscription-State"), "active;expires=")
	mustContain(t, "body", string(first.Body()), "Messages-Waiting: no\r\n")
	mustContain(t, "body", string(first.Body()), "Voice-Message: 0/0")
	if m := summary(t, first); m.Waiting || m.Voice.New != 0 || m.Voice.Old != 0 || m.Account != "sip:2101@fjordvik.test" {
		t.Errorf("first summary %+v", m)
	}

	s.counts.set(1, "2101", 2, 1)
	if err := s.n.Changed(t.Context(), 1, "2101"); err != nil {
		t.Fatal(err)
	}
	second := ph.notify(200)
	mustContain(t, "body", string(second.Body()), "Messages-Waiting: yes\r\n")
	mustContain(t, "body", string(second.Body()), "Voice-Message: 2/1")
	if second.CSeq().SeqNo <= first.CSeq().SeqNo {
		t.Errorf("CSeq %d after %d", second.CSeq().SeqNo, first.CSeq().SeqNo)
	}

	res = d.send(s.addr, 0, "")
	if res.StatusCode != sip.StatusOK {
		t.Fatalf("unsubscribe: %d %s", res.StatusCode, res.Reason)
	}
	if got := header(t, res, "Expires"); got != "0" {
		t.Errorf("unsubscribe Expires %q", got)
	}
	last := ph.notify(200)
	if st := header(t, last, "Subscription-State"); st != "terminated;reason=timeout" {
		t.Errorf("last Subscription-State %q", st)
	}
	if m := summary(t, last); !m.Waiting || m.Voice.New != 2 || m.Voice.Old != 1 {
		t.Errorf("last summary %+v", m)
	}
	eventually(t, "subscription gone", func() bool { return s.n.subs.Len() == 0 })

	// The dialog is gone: refreshing it is refused.
	if res := d.send(s.addr, 3600, ""); res.StatusCode != sip.StatusCallTransactionDoesNotExists {
		t.Fatalf("refresh after unsubscribe: %d, want 481", res.StatusCode)
	}
}

func TestRefreshAndInterval(t *testing.T) {
	s := startStack(t, nil)
	ph := newPhone(t, "ola")
	d := ph.dialog("2101", "2101")
	if res := d.subscribe(s.addr, 10); res.StatusCode != sip.StatusIntervalToBrief {
		t.Fatalf("expires 10: %d, want 423", res.StatusCode)
	} else if got := header(t, res, "Min-Expires"); got != "60" {
		t.Fatalf("Min-Expires %q", got)
	}
	d = ph.dialog("2101", "2101")
	if res := d.subscribe(s.addr, 99999); res.StatusCode != sip.StatusOK {
		t.Fatalf("subscribe: %d", res.StatusCode)
	} else if got := header(t, res, "Expires"); got != "7200" {
		t.Fatalf("Expires %q, want the maximum 7200", got)
	}
	ph.notify(200)
	res := d.send(s.addr, 600, "")
	if res.StatusCode != sip.StatusOK || header(t, res, "Expires") != "600" {
		t.Fatalf("refresh: %d Expires %q", res.StatusCode, header(t, res, "Expires"))
	}
	if tag, _ := res.To().Params.Get("tag"); tag != d.toTag {
		t.Fatalf("refresh To tag %q, want %q", tag, d.toTag)
	}
	n := ph.notify(200)
	mustContain(t, "refresh state", header(t, n, "Subscription-State"), "active;expires=600")

	// The same dialog from another address is not the subscriber.
	other := newPhone(t, "mallory")
	d.p = other
	if res := d.send(s.addr, 600, ""); res.StatusCode != sip.StatusCallTransactionDoesNotExists {
		t.Fatalf("refresh from another source: %d, want 481", res.StatusCode)
	}
}

// TestRefusals: the same answer for a wrong password and an unknown
// mailbox (the registrar's choice), 403 for a foreign domain, 489 for
// another event package, 481 for an unknown dialog.
func TestRefusals(t *testing.T) {
	s := startStack(t, nil)
	ph := newPhone(t, "eve")

	wrong := ph.dialog("2101", "2101")
	wrong.pass = "feil"
	res := wrong.subscribe(s.addr, 3600)
	unknown := ph.dialog("2199", "2199")
	res2 := unknown.subscribe(s.addr, 3600)
	for _, r := range []*sip.Response{res, res2} {
		if r.StatusCode != sip.StatusUnauthorized || r.Reason != "Unauthorized" || r.GetHeader("WWW-Authenticate") == nil {
			t.Fatalf("refused credentials: %d %s, want a fresh 401 challenge", r.StatusCode, r.Reason)
		}
		if strings.Contains(header(t, r, "WWW-Authenticate"), "stale") {
			t.Fatal("refusal marked stale")
		}
	}

	// Another extension's mailbox with one's own password.
	nosy := ph.dialog("2102", "2101")
	if res := nosy.subscribe(s.addr, 3600); res.StatusCode != sip.StatusUnauthorized {
		t.Fatalf("2102 for mailbox 2101: %d, want 401", res.StatusCode)
	}

	foreign := ph.dialog("2101", "2101")
	foreign.domain = "nowhere.test"
	if res := foreign.send(s.addr, 3600, ""); res.StatusCode != sip.StatusForbidden {
		t.Fatalf("unknown domain: %d, want 403", res.StatusCode)
	}

	blf := ph.dialog("2101", "2101")
	blf.event = "dialog"
	res = blf.send(s.addr, 3600, "")
	if res.StatusCode != 489 || header(t, res, "Allow-Events") != "message-summary" {
		t.Fatalf("Event: dialog: %d Allow-Events %v, want 489 message-summary", res.StatusCode, res.GetHeader("Allow-Events"))
	}

	ghost := ph.dialog("2101", "2101")
	ghost.toTag = "never-issued"
	if res := ghost.send(s.addr, 3600, ""); res.StatusCode != sip.StatusCallTransactionDoesNotExists {
		t.Fatalf("unknown dialog: %d, want 481", res.StatusCode)
	}
	if s.n.subs.Len() != 0 {
		t.Fatalf("%d subscriptions after refusals", s.n.subs.Len())
	}
}

// TestDeviceCredentials: a desk phone subscribes to a line's mailbox with
// its own AuthUser, as it registers it.
func TestDeviceCredentials(t *testing.T) {
	s := startStack(t, nil)
	ph := newPhone(t, "desk")
	d := ph.dialog("yealink-0001", "2102")
	d.pass = "device-secret"
	if res := d.subscribe(s.addr, 3600); res.StatusCode != sip.StatusOK {
		t.Fatalf("device subscribe: %d", res.StatusCode)
	}
	ph.notify(200)
	d = ph.dialog("yealink-0001", "2103") // not on its line keys
	d.pass = "device-secret"
	if res := d.subscribe(s.addr, 3600); res.StatusCode != sip.StatusUnauthorized {
		t.Fatalf("device for a mailbox not on it: %d, want 401", res.StatusCode)
	}
}

// TestFetch: Expires 0 on an initial SUBSCRIBE gets the state once.
func TestFetch(t *testing.T) {
	s := startStack(t, nil)
	s.counts.set(1, "2101", 1, 0)
	ph := newPhone(t, "fetch")
	d := ph.dialog("2101", "2101")
	if res := d.subscribe(s.addr, 0); res.StatusCode != sip.StatusOK || header(t, res, "Expires") != "0" {
		t.Fatalf("fetch: %d", res.StatusCode)
	}
	n := ph.notify(200)
	if st := header(t, n, "Subscription-State"); !strings.HasPrefix(st, "terminated") {
		t.Fatalf("fetch state %q", st)
	}
	if m := summary(t, n); !m.Waiting || m.Voice.New != 1 {
		t.Fatalf("fetch summary %+v", m)
	}
	if s.n.subs.Len() != 0 {
		t.Fatal("fetch left a subscription")
	}
}

// TestNotifyFailureEndsSubscription: a 481 to a NOTIFY removes it.
func TestNotifyFailureEndsSubscription(t *testing.T) {
	s := startStack(t, nil)
	ph := newPhone(t, "gone")
	d := ph.dialog("2101", "2101")
	if res := d.subscribe(s.addr, 3600); res.StatusCode != sip.StatusOK {
		t.Fatalf("subscribe: %d", res.StatusCode)
	}
	ph.notify(sip.StatusCallTransactionDoesNotExists)
	eventually(t, "subscription ended", func() bool { return s.n.subs.Len() == 0 })
	s.counts.set(1, "2101", 1, 0)
	if err := s.n.Changed(t.Context(), 1, "2101"); err != nil {
		t.Fatal(err)
	}
	ph.quiet(200 * time.Millisecond)
}

// TestExpiry: a subscription not refreshed ends with reason timeout.
func TestExpiry(t *testing.T) {
	s := startStack(t, nil)
	ph := newPhone(t, "sleepy")
	d := ph.dialog("2101", "2101")
	if res := d.subscribe(s.addr, 60); res.StatusCode != sip.StatusOK {
		t.Fatalf("subscribe: %d", res.StatusCode)
	}
	ph.notify(200)
	s.clk.advance(61 * time.Second)
	n := ph.notify(200)
	if st := header(t, n, "Subscription-State"); st != "terminated;reason=timeout" {
		t.Fatalf("state %q", st)
	}
	eventually(t, "subscription swept", func() bool { return s.n.subs.Len() == 0 })
}

func binding(number string, ph *phone, callID string) store.Binding {
	return store.Binding{TenantID: 1, Number: number, Contact: "sip:" + number + "@" + ph.name + ".invalid;transport=udp",
		Q: 1, Expires: time.Now().Add(time.Hour), CallID: callID, CSeq: 1, Source: ph.addr(), Transport: "udp"}
}

// TestUnsolicited: on a change, a phone that registered but did not
// subscribe gets an out-of-dialog NOTIFY at its source (its Contact host
// is unreachable on purpose), with its Path as Route; the subscribed
// phone gets only its in-dialog NOTIFY.
func TestUnsolicited(t *testing.T) {
	s := startStack(t, nil)
	sub := newPhone(t, "subscriber")
	plain := newPhone(t, "plain")
	d := sub.dialog("2101", "2101")
	if res := d.subscribe(s.addr, 3600); res.StatusCode != sip.StatusOK {
		t.Fatalf("subscribe: %d", res.StatusCode)
	}
	sub.notify(200)
	pb := binding("2101", plain, "reg-plain")
	pb.Path = []string{"<sip:edge.fjordvik.test;lr>"}
	s.loc.set(1, "2101", binding("2101", sub, "reg-sub"), pb)

	s.counts.set(1, "2101", 3, 0)
	if err := s.n.Changed(t.Context(), 1, "2101"); err != nil {
		t.Fatal(err)
	}
	n := plain.notify(200)
	if tag, _ := n.To().Params.Get("tag"); tag != "" {
		t.Errorf("unsolicited NOTIFY has a To tag %q", tag)
	}
	if n.Recipient.Host != "plain.invalid" {
		t.Errorf("request-URI %s, want the registered contact", n.Recipient.String())
	}
	if got := header(t, n, "Route"); got != "<sip:edge.fjordvik.test;lr>" {
		t.Errorf("Route %q, want the binding's Path", got)
	}
	if n.From().Address.User != "2101" || n.From().Address.Host != testDomain {
		t.Errorf("From %s", n.From().Address.String())
	}
	mustContain(t, "Subscription-State", header(t, n, "Subscription-State"), "active")
	if m := summary(t, n); !m.Waiting || m.Voice.New != 3 {
		t.Errorf("unsolicited summary %+v", m)
	}
	in := sub.notify(200)
	if tag, _ := in.To().Params.Get("tag"); tag != d.fromTag {
		t.Errorf("subscriber got a NOTIFY outside its dialog:\n%s", in)
	}
	sub.quiet(200 * time.Millisecond)
}

// TestRegistered: a registration while the mailbox holds new messages
// lights the lamp once per registration, not on every refresh; no new
// messages, nothing.
func TestRegistered(t *testing.T) {
	s := startStack(t, nil)
	ph := newPhone(t, "rebooted")
	s.counts.set(1, "2102", 1, 4)
	b := binding("2102", ph, "boot-1")
	s.loc.set(1, "2102", b)
	s.n.Registered(events.RegistrationEvent{TenantID: 1, Number: "2102", Bindings: 1})
	n := ph.notify(200)
	if m := summary(t, n); !m.Waiting || m.Voice.New != 1 || m.Voice.Old != 4 {
		t.Fatalf("summary %+v", m)
	}
	// A refresh of the same registration.
	b.CSeq++
	s.loc.set(1, "2102", b)
	s.n.Registered(events.RegistrationEvent{TenantID: 1, Number: "2102", Bindings: 1})
	ph.quiet(200 * time.Millisecond)
	// A reboot: a new Call-ID.
	s.loc.set(1, "2102", binding("2102", ph, "boot-2"))
	s.n.Registered(events.RegistrationEvent{TenantID: 1, Number: "2102", Bindings: 1})
	ph.notify(200)

	// A mailbox without new messages: nothing, and the store is read
	// once per tenant, not per registration.
	other := newPhone(t, "nomail")
	s.loc.set(1, "2103", binding("2103", other, "x"))
	for range 5 {
		s.n.Registered(events.RegistrationEvent{TenantID: 1, Number: "2103", Bindings: 1})
	}
	other.quiet(200 * time.Millisecond)
	s.counts.mu.Lock()
	reads, all := s.counts.reads, s.counts.allReads
	s.counts.mu.Unlock()
	if reads != 0 || all != 1 {
		t.Fatalf("store reads: %d Counts, %d CountsAll; want 0 and 1", reads, all)
	}
}

// TestRegisteredCountsFailure: a store that fails is not read again for
// every registration.
func TestRegisteredCountsFailure(t *testing.T) {
	s := startStack(t, func(o *Options) { o.CountsRetry = time.Hour })
	s.counts.fail = errors.New("database is gone")
	ph := newPhone(t, "p")
	s.loc.set(1, "2101", binding("2101", ph, "c"))
	for range 3 {
		s.n.Registered(events.RegistrationEvent{TenantID: 1, Number: "2101", Bindings: 1})
	}
	ph.quiet(200 * time.Millisecond)
	s.counts.mu.Lock()
	defer s.counts.mu.Unlock()
	if s.counts.allReads != 1 {
		t.Fatalf("CountsAll read %d times, want 1", s.counts.allReads)
	}
}

// TestQueueFull: Registered never blocks; what does not fit is dropped
// and counted.
func TestQueueFull(t *testing.T) {
	n, err := New(Deps{Catalog: newFakeCatalog(), Auth: stubAuth{}, Guard: stubGuard{}, Locations: &fakeLocations{},
		Counts: &fakeCounts{}, Sender: stubSender{}}, Options{Listeners: []Listener{{Network: "udp", Addr: "127.0.0.1:5060"}}, QueueSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		n.Registered(events.RegistrationEvent{TenantID: 1, Number: "2101", Bindings: 1})
	}
	n.Registered(events.RegistrationEvent{TenantID: 1, Number: "2101"}) // unregistered: ignored
	if d := n.Dropped(); d != 3 {
		t.Fatalf("dropped %d, want 3", d)
	}
}

func TestNewChecks(t *testing.T) {
	deps := Deps{Catalog: newFakeCatalog(), Auth: stubAuth{}, Guard: stubGuard{}, Locations: &fakeLocations{},
		Counts: &fakeCounts{}, Sender: stubSender{}}
	if _, err := New(deps, Options{}); err == nil {
		t.Error("no listeners accepted")
	}
	if _, err := New(deps, Options{Listeners: []Listener{{Network: "udp", Addr: "0.0.0.0:5060"}}}); err == nil {
		t.Error("unspecified listener without Host accepted")
	}
	if _, err := New(deps, Options{Listeners: []Listener{{Network: "udp", Addr: "127.0.0.1:5060"}}, Algorithms: []string{"SHA-512"}}); err == nil {
		t.Error("unknown algorithm accepted")
	}
	deps.Sender = nil
	if _, err := New(deps, Options{Listeners: []Listener{{Network: "udp", Addr: "127.0.0.1:5060"}}}); err == nil {
		t.Error("missing sender accepted")
	}
}

func TestParseEvent(t *testing.T) {
	for _, c := range []struct{ in, pkg, id string }{
		{"message-summary", "message-summary", ""},
		{" Message-Summary ;id=7", "Message-Summary", "7"},
		{`message-summary; foo=bar; ID="a b"`, "message-summary", "a b"},
		{"dialog;id", "dialog", ""},
		{"", "", ""},
	} {
		pkg, id := parseEvent(c.in)
		if pkg != c.pkg || id != c.id {
			t.Errorf("parseEvent(%q) = %q, %q; want %q, %q", c.in, pkg, id, c.pkg, c.id)
		}
	}
}

// TestTCPFlow: a phone subscribed over TCP gets its NOTIFYs over the same
// connection; once it has closed, a NOTIFY fails at once (no new
// connection is dialled to a phone that cannot accept one) and ends the
// subscription.
func TestTCPFlow(t *testing.T) {
	s := startStack(t, nil)
	ph := newTCPPhone(t, "tcp", s.tcpAddr)
	d := ph.dialog("2101", "2101")
	res := d.subscribe(s.tcpAddr, 3600)
	if res.StatusCode != sip.StatusOK {
		t.Fatalf("subscribe over tcp: %d", res.StatusCode)
	}
	mustContain(t, "Contact", header(t, res, "Contact"), ";transport=tcp")
	n := ph.notify(200)
	if v := n.Via(); v == nil || v.Transport != "TCP" {
		t.Fatalf("NOTIFY Via %v", n.Via())
	}
	s.counts.set(1, "2101", 1, 0)
	if err := s.n.Changed(t.Context(), 1, "2101"); err != nil {
		t.Fatal(err)
	}
	if m := summary(t, ph.notify(200)); !m.Waiting {
		t.Fatalf("second NOTIFY %+v", m)
	}
	ph.tcp.Close()
	eventually(t, "connection seen closed", func() bool { return !s.flowAlive("tcp", ph.addr()) })
	s.counts.set(1, "2101", 0, 1)
	if err := s.n.Changed(t.Context(), 1, "2101"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "subscription ended", func() bool { return s.n.subs.Len() == 0 })
}
