package presence

import (
	"errors"
	"fmt"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// maxForwards is what every request we originate starts with (RFC 3261
// §8.1.1.6).
const maxForwards = 70

// FromSubscribe reads the dialog of an initial message-summary SUBSCRIBE
// that we accept with toTag in our 2xx and contact as our Contact. Tenant
// and mailbox are the caller's to fill: they come from routing, not from
// the request. It fails on a request a notifier cannot build a dialog
// from (RFC 6665 §4.2.1): another event package, no From tag, no Contact.
func FromSubscribe(req *sip.Request, toTag string, contact sip.Uri) (Subscription, error) {
	var s Subscription
	if req == nil || req.Method != sip.SUBSCRIBE {
		return s, errors.New("presence: not a SUBSCRIBE")
	}
	ev := req.GetHeader("Event")
	if ev == nil {
		return s, errors.New("presence: SUBSCRIBE without Event")
	}
	pkg, id := parseEvent(ev.Value())
	if !strings.EqualFold(pkg, EventMessageSummary) {
		return s, fmt.Errorf("presence: event package %q is not %s", pkg, EventMessageSummary)
	}
	callID, from, to, ct := req.CallID(), req.From(), req.To(), req.Contact()
	if callID == nil || from == nil || to == nil {
		return s, errors.New("presence: SUBSCRIBE without Call-ID, From or To")
	}
	fromTag, _ := from.Params.Get("tag")
	if fromTag == "" {
		return s, errors.New("presence: SUBSCRIBE without a From tag")
	}
	if ct == nil || ct.Address.Wildcard || ct.Address.Host == "" {
		return s, errors.New("presence: SUBSCRIBE without a usable Contact")
	}
	if toTag == "" {
		return s, errors.New("presence: empty To tag")
	}
	s.DialogID = DialogID{CallID: callID.Value(), FromTag: fromTag, ToTag: toTag, EventID: id}
	s.Subscriber = *from.Address.Clone()
	s.Resource = *to.Address.Clone()
	s.Target = *ct.Address.Clone()
	// The UAS keeps the Record-Route values in the order received (RFC
	// 3261 §12.1.1); sipgo gives one header per value.
	for _, h := range req.GetHeaders("Record-Route") {
		if rr, ok := h.(*sip.RecordRouteHeader); ok {
			s.RouteSet = append(s.RouteSet, *rr.Address.Clone())
		}
	}
	s.Contact = *contact.Clone()
	s.Transport = req.Transport()
	s.Source = req.Source()
	return s, nil
}

// parseEvent splits an Event header value into the package and its id
// parameter (RFC 6665 §8.2.1), ignoring other parameters.
func parseEvent(v string) (pkg, id string) {
	parts := strings.Split(v, ";")
	pkg = strings.TrimSpace(parts[0])
	for _, p := range parts[1:] {
		k, val, _ := strings.Cut(p, "=")
		if strings.EqualFold(strings.TrimSpace(k), "id") {
			id = strings.Trim(strings.TrimSpace(val), `"`)
		}
	}
	return pkg, id
}

// NotifyRequest builds the in-dialog NOTIFY for notice, carrying summary
// (nil for none, e.g. on a terminating NOTIFY). We are the UAS of the
// SUBSCRIBE, so From is its To with our tag and To is its From with the
// subscriber's tag. There is no Via: the transaction layer adds it (sipgo's
// client does) with the branch it tracks.
func NotifyRequest(n Notice, summary *MessageSummary) (*sip.Request, error) {
	if n.Target.Host == "" {
		return nil, errors.New("presence: subscription without a remote target")
	}
	if n.CallID == "" || n.FromTag == "" || n.ToTag == "" {
		return nil, errors.New("presence: subscription without Call-ID, From tag or To tag")
	}
	if n.CSeq == 0 || n.State == "" {
		return nil, errors.New("presence: notice without CSeq or state")
	}
	ruri, routes := requestTarget(n.Target, n.RouteSet)
	req := sip.NewRequest(sip.NOTIFY, ruri)
	for i := range routes {
		req.AppendHeader(&sip.RouteHeader{Address: routes[i]})
	}
	mf := sip.MaxForwardsHeader(maxForwards)
	req.AppendHeader(&mf)
	from := &sip.FromHeader{Address: *n.Resource.Clone(), Params: sip.NewParams()}
	from.Params.Add("tag", n.ToTag)
	to := &sip.ToHeader{Address: *n.Subscriber.Clone(), Params: sip.NewParams()}
	to.Params.Add("tag", n.FromTag)
	req.AppendHeader(from)
	req.AppendHeader(to)
	callID := sip.CallIDHeader(n.CallID)
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: n.CSeq, MethodName: sip.NOTIFY})
	if n.Contact.Host != "" {
		req.AppendHeader(&sip.ContactHeader{Address: *n.Contact.Clone()})
	}
	event := EventMessageSummary
	if n.EventID != "" {
		event += ";id=" + n.EventID
	}
	req.AppendHeader(sip.NewHeader("Event", event))
	req.AppendHeader(sip.NewHeader("Subscription-State", n.State))
	setBody(req, summary)
	if n.Transport != "" {
		req.SetTransport(strings.ToUpper(n.Transport))
	}
	// Back where the SUBSCRIBE came from, as a response would go: the
	// Contact of a phone behind NAT or of a browser (.invalid) is not
	// reachable, the address and connection it subscribed from are.
	if n.Source != "" {
		req.SetDestination(n.Source)
	}
	return req, nil
}

// requestTarget applies RFC 3261 §12.2.1.1: with a loose-routing first
// hop (;lr) the request goes to the remote target through the route set;
// a strict router takes the request-URI itself and the remote target
// becomes the last Route.
func requestTarget(target sip.Uri, routeSet []sip.Uri) (sip.Uri, []sip.Uri) {
	routes := make([]sip.Uri, len(routeSet))
	for i := range routeSet {
		routes[i] = *routeSet[i].Clone()
	}
	if len(routes) == 0 || routes[0].UriParams.Has("lr") {
		return *target.Clone(), routes
	}
	ruri := routes[0]
	ruri.Headers = nil
	return ruri, append(routes[1:], *target.Clone())
}

func setBody(req *sip.Request, summary *MessageSummary) {
	if summary == nil {
		req.SetBody(nil)
		return
	}
	ct := sip.ContentTypeHeader(ContentType)
	req.AppendHeader(&ct)
	req.SetBody(summary.Marshal())
}

// Unsolicited describes a phone that gets MWI without subscribing: many
// desk phones are configured that way, and some (older Cisco, Panasonic)
// cannot subscribe at all. It is one registered contact of the phone.
type Unsolicited struct {
	Contact sip.Uri   // the registered Contact: the request-URI
	AOR     sip.Uri   // the phone's address of record: To
	Mailbox sip.Uri   // the mailbox's address of record: From
	Path    []sip.Uri // the registration's Path (RFC 3327), sent as Route
	// Local is our Contact; zero to leave it out.
	Local sip.Uri
	// Transport and Destination are where the registration came from
	// (store.Binding's Transport and Source): as for NotifyRequest, the
	// registered Contact may be unreachable behind NAT.
	Transport, Destination string
}

// UnsolicitedNotify builds an out-of-dialog NOTIFY carrying summary to one
// registered contact. Choices, made to match what phones accept from
// Asterisk and other PBXs:
//   - a fresh Call-ID and From tag, CSeq 1 and no To tag: each NOTIFY is a
//     transaction of its own, there is no dialog to keep;
//   - From is the mailbox's AOR, so a phone with several lines can tell
//     which mailbox the lamp belongs to; Message-Account defaults to it;
//   - Subscription-State "active" without expires: RFC 6665 requires the
//     header, and "active" is what Asterisk's unsolicited MWI sends, so it
//     is what phones have been tested against;
//   - the registration's Path becomes the Route set, as RFC 3327 asks of
//     requests sent to a registered contact.
func UnsolicitedNotify(u Unsolicited, summary MessageSummary) (*sip.Request, error) {
	if u.Contact.Host == "" {
		return nil, errors.New("presence: unsolicited NOTIFY without a contact")
	}
	if u.AOR.Host == "" || u.Mailbox.Host == "" {
		return nil, errors.New("presence: unsolicited NOTIFY without the phone's or the mailbox's AOR")
	}
	if summary.Account == "" {
		summary.Account = u.Mailbox.String()
	}
	ruri, routes := requestTarget(u.Contact, u.Path)
	req := sip.NewRequest(sip.NOTIFY, ruri)
	for i := range routes {
		req.AppendHeader(&sip.RouteHeader{Address: routes[i]})
	}
	mf := sip.MaxForwardsHeader(maxForwards)
	req.AppendHeader(&mf)
	from := &sip.FromHeader{Address: *u.Mailbox.Clone(), Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: *u.AOR.Clone()})
	callID := sip.CallIDHeader(sip.GenerateTagN(24) + "@sentral")
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.NOTIFY})
	if u.Local.Host != "" {
		req.AppendHeader(&sip.ContactHeader{Address: *u.Local.Clone()})
	}
	req.AppendHeader(sip.NewHeader("Event", EventMessageSummary))
	req.AppendHeader(sip.NewHeader("Subscription-State", "active"))
	setBody(req, &summary)
	if u.Transport != "" {
		req.SetTransport(strings.ToUpper(u.Transport))
	}
	if u.Destination != "" {
		req.SetDestination(u.Destination)
	}
	return req, nil
}
