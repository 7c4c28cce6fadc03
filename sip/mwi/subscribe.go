package mwi

import (
	"context"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/sentralpbx/sentral/sip/auth"
	"github.com/sentralpbx/sentral/sip/presence"
	"github.com/sentralpbx/sentral/store"
)

// reply is the one decision a SUBSCRIBE ends in.
type reply struct {
	drop    bool // send nothing (the source address is unusable)
	code    int
	reason  string
	toTag   string // ours, on a 2xx
	headers []sip.Header
	// then is the NOTIFY to queue once the response is sent.
	then func()
	// for the log line
	tenant, ext, why string
	authFail         bool
}

func (rep reply) with(code int, reason, why string) reply {
	rep.code, rep.reason, rep.why = code, reason, why
	return rep
}

// ServeSIP handles one SUBSCRIBE transaction; its signature fits
// sipgo.RequestHandler.
func (n *Notifier) ServeSIP(req *sip.Request, tx sip.ServerTransaction) {
	rep := n.decide(req)
	if rep.drop {
		n.logf(zap.DebugLevel, "subscribe dropped", req, rep)
		return
	}
	res := sip.NewResponseFromRequest(req, rep.code, rep.reason, nil)
	if rep.toTag != "" {
		if to := res.To(); to != nil {
			to.Params.Add("tag", rep.toTag)
		}
	}
	for _, h := range rep.headers {
		res.AppendHeader(h)
	}
	switch {
	case rep.code >= 200 && rep.code < 300:
		n.logf(zap.DebugLevel, "subscribe", req, rep, zap.Int("status", rep.code))
	case rep.authFail || rep.code >= 400 && rep.code != sip.StatusUnauthorized:
		n.logf(zap.InfoLevel, "subscribe refused", req, rep, zap.Int("status", rep.code), zap.String("reason", rep.why))
	default:
		n.logf(zap.DebugLevel, "subscribe challenged", req, rep, zap.Int("status", rep.code), zap.String("reason", rep.why))
	}
	if err := tx.Respond(res); err != nil {
		n.logf(zap.WarnLevel, "subscribe: respond", req, rep, zap.Error(err))
	}
	// After the 2xx is on its way: the first NOTIFY must not overtake it.
	if rep.then != nil {
		rep.then()
	}
}

func (n *Notifier) logf(lvl zapcore.Level, msg string, req *sip.Request, rep reply, extra ...zap.Field) {
	ce := n.log.Check(lvl, "mwi: "+msg)
	if ce == nil {
		return
	}
	ce.Write(append([]zap.Field{
		zap.String("call_id", callID(req)), zap.String("src", req.Source()),
		zap.String("tenant", rep.tenant), zap.String("ext", rep.ext),
	}, extra...)...)
}

// decide is the single place a SUBSCRIBE's response is chosen. It sends
// nothing; the NOTIFY it implies is in the reply's then.
func (n *Notifier) decide(req *sip.Request) reply {
	src, err := sourceIP(req.Source())
	if err != nil {
		return reply{drop: true, why: "unparseable source address"}
	}
	if req.Method != sip.SUBSCRIBE {
		return reply{code: sip.StatusMethodNotAllowed, reason: "Method Not Allowed", why: "not a SUBSCRIBE",
			headers: []sip.Header{sip.NewHeader("Allow", "SUBSCRIBE")}}
	}
	to, from := req.To(), req.From()
	if to == nil || from == nil || req.CallID() == nil || req.CSeq() == nil {
		return reply{code: sip.StatusBadRequest, reason: "Bad Request", why: "missing To, From, Call-ID or CSeq"}
	}
	ev := req.GetHeader("Event")
	if ev == nil {
		return reply{code: sip.StatusBadRequest, reason: "Missing Event", why: "no Event header"}
	}
	pkg, eventID := parseEvent(ev.Value())
	if !strings.EqualFold(pkg, presence.EventMessageSummary) {
		return reply{code: 489, reason: "Bad Event", why: "event package " + strconv.Quote(clip(pkg)),
			headers: []sip.Header{sip.NewHeader("Allow-Events", presence.EventMessageSummary)}}
	}
	expires := presence.NoExpires
	if h := req.GetHeader("Expires"); h != nil {
		v, err := strconv.ParseUint(strings.TrimSpace(h.Value()), 10, 32)
		if err != nil {
			return reply{code: sip.StatusBadRequest, reason: "Bad Expires", why: "expires " + strconv.Quote(clip(h.Value()))}
		}
		expires = time.Duration(v) * time.Second
	}
	fromTag, _ := from.Params.Get("tag")
	if toTag, _ := to.Params.Get("tag"); toTag != "" {
		id := presence.DialogID{CallID: req.CallID().Value(), FromTag: fromTag, ToTag: toTag, EventID: eventID}
		return n.refresh(req, id, expires)
	}

	domain := strings.ToLower(to.Address.Host)
	tenant, ok := n.d.Catalog.TenantByDomain(domain)
	if !ok {
		return reply{code: sip.StatusForbidden, reason: "Domain Not Served", why: "unknown domain " + strconv.Quote(clip(domain))}
	}
	mailbox := to.Address.User
	rep := reply{tenant: tenant.Name, ext: mailbox}
	if ruri := strings.ToLower(req.Recipient.Host); ruri != domain {
		if _, other := n.d.Catalog.TenantByDomain(ruri); other {
			return rep.with(sip.StatusForbidden, "Forbidden", "request-uri and to name different tenants")
		}
	}
	if u := req.Recipient.User; u != "" && u != mailbox {
		return rep.with(sip.StatusBadRequest, "Bad Request", "request-uri and to name different mailboxes")
	}
	if !acceptsSummary(req) {
		rep.headers = []sip.Header{sip.NewHeader("Accept", presence.ContentType)}
		return rep.with(sip.StatusNotAcceptable, "Not Acceptable", "accept does not include "+presence.ContentType)
	}

	if r, ok := n.authenticate(req, src, tenant, mailbox, &rep); !ok {
		return r
	}
	return n.accept(req, tenant, mailbox, expires, rep)
}

// authenticate checks the digest of an initial SUBSCRIBE like the
// registrar does a REGISTER's; false with the reply to send when it fails.
func (n *Notifier) authenticate(req *sip.Request, src netip.Addr, tenant store.Tenant, mailbox string, rep *reply) (reply, bool) {
	ext, found := n.d.Catalog.Extension(tenant.ID, mailbox)
	authz := req.GetHeader("Authorization")
	if authz == nil {
		rep.headers = n.challenge(tenant.Domain, false)
		return rep.with(sip.StatusUnauthorized, "Unauthorized", "no credentials"), false
	}
	devices, _ := n.d.Catalog.(DeviceAuth)
	res := n.d.Auth.Verify(string(req.Method), authz.Value(), tenant.Domain, auth.LookupExtension(tenant, mailbox, ext, found, devices))
	switch {
	case res.Stale:
		// Right password, old or repeated nonce: the phone retries
		// silently. Not a failure.
		rep.headers = n.challenge(tenant.Domain, true)
		return rep.with(sip.StatusUnauthorized, "Unauthorized", "stale nonce: "+res.Reason), false
	case !res.OK:
		n.d.Guard.Failed(src)
		rep.authFail = true
		rep.headers = n.challenge(tenant.Domain, false)
		return rep.with(sip.StatusUnauthorized, "Unauthorized", "authentication failed: "+res.Reason), false
	}
	n.d.Guard.Succeeded(src)
	return *rep, true
}

func (n *Notifier) challenge(realm string, stale bool) []sip.Header {
	vs := n.d.Auth.Challenge(realm, stale, n.opt.Algorithms...)
	hs := make([]sip.Header, len(vs))
	for i, v := range vs {
		hs[i] = sip.NewHeader("WWW-Authenticate", v)
	}
	return hs
}

// accept creates the subscription of an authenticated initial SUBSCRIBE.
func (n *Notifier) accept(req *sip.Request, tenant store.Tenant, mailbox string, expires time.Duration, rep reply) reply {
	k := presence.Key{Tenant: tenant.ID, Mailbox: mailbox}
	l, ok := n.self.For(req.Transport(), req.Source())
	if !ok {
		return rep.with(sip.StatusInternalServerError, "Server Internal Error", "no listener for transport "+req.Transport())
	}
	contact := l.Contact(mailbox)
	toTag := sip.GenerateTagN(16)
	sub, err := presence.FromSubscribe(req, toTag, contact)
	if err != nil {
		return rep.with(sip.StatusBadRequest, "Bad Request", err.Error())
	}
	sub.Key = k

	n.changeMu.Lock()
	defer n.changeMu.Unlock()
	n.mu.Lock()
	if expires != 0 && len(n.byKey[k]) >= n.opt.MaxPerMailbox {
		n.mu.Unlock()
		return rep.with(sip.StatusForbidden, "Too Many Subscriptions", "mailbox has "+strconv.Itoa(n.opt.MaxPerMailbox)+" subscriptions")
	}
	notice, err := n.subs.Add(sub, expires, n.opt.Now())
	if err != nil {
		n.mu.Unlock()
		return n.addError(rep, err)
	}
	if !notice.Terminated() {
		n.indexLocked(sub.DialogID, &peer{key: k, transport: strings.ToLower(sub.Transport), source: sub.Source,
			contact: canonicalURI(sub.Target)})
	}
	n.mu.Unlock()
	// Under changeMu: a Changed after this reads newer counts and queues
	// a NOTIFY with a higher CSeq, which the one queued here cannot pass.
	rep.then = n.firstNotify(notice, tenant)
	rep.toTag = toTag
	rep.headers = append(rep.headers, sip.NewHeader("Expires", strconv.Itoa(seconds(notice.Expires))),
		&sip.ContactHeader{Address: contact})
	return rep.with(sip.StatusOK, "OK", "")
}

// refresh handles a SUBSCRIBE inside a dialog: a refresh or, with
// Expires 0, an unsubscribe. It must come from where the dialog was made.
func (n *Notifier) refresh(req *sip.Request, id presence.DialogID, expires time.Duration) reply {
	n.changeMu.Lock()
	defer n.changeMu.Unlock()
	n.mu.Lock()
	p := n.peers[id]
	if p == nil || !strings.EqualFold(p.transport, req.Transport()) || p.source != req.Source() {
		n.mu.Unlock()
		return reply{code: sip.StatusCallTransactionDoesNotExists, reason: "Subscription Does Not Exist", why: "unknown dialog or other source"}
	}
	rep := reply{ext: p.key.Mailbox, tenant: strconv.FormatInt(p.key.Tenant, 10)}
	notice, err := n.subs.Refresh(id, expires, n.opt.Now())
	if err != nil {
		if errors.Is(err, presence.ErrNoSubscription) {
			n.unindexLocked(id) // expired, not swept yet
		}
		n.mu.Unlock()
		return n.addError(rep, err)
	}
	if notice.Terminated() {
		n.unindexLocked(id)
	}
	n.mu.Unlock()
	tenant, ok := n.d.Catalog.Tenant(p.key.Tenant)
	if !ok {
		tenant = store.Tenant{Meta: store.Meta{ID: p.key.Tenant}}
	} else {
		rep.tenant = tenant.Name
	}
	rep.then = n.firstNotify(notice, tenant)
	rep.toTag = id.ToTag
	rep.headers = append(rep.headers, sip.NewHeader("Expires", strconv.Itoa(seconds(notice.Expires))))
	if notice.Contact.Host != "" {
		rep.headers = append(rep.headers, &sip.ContactHeader{Address: notice.Contact})
	}
	return rep.with(sip.StatusOK, "OK", "")
}

// addError maps the registry's refusals of Add and Refresh.
func (n *Notifier) addError(rep reply, err error) reply {
	var brief *presence.IntervalTooBriefError
	switch {
	case errors.As(err, &brief):
		rep.headers = append(rep.headers, brief.MinExpiresHeader())
		return rep.with(sip.StatusIntervalToBrief, "Interval Too Brief", err.Error())
	case errors.Is(err, presence.ErrNoSubscription):
		return rep.with(sip.StatusCallTransactionDoesNotExists, "Subscription Does Not Exist", err.Error())
	}
	return rep.with(sip.StatusBadRequest, "Bad Request", err.Error())
}

// firstNotify reads the mailbox's counts now (the caller holds changeMu)
// and returns what queues the NOTIFY a SUBSCRIBE triggers (RFC 6665
// §4.2.1.1, §4.2.1.2), to run once the 2xx is sent. When the counts
// cannot be read the NOTIFY goes without a body: it must still be sent,
// and a wrong lamp would be worse than none.
func (n *Notifier) firstNotify(notice presence.Notice, tenant store.Tenant) func() {
	var summary *presence.MessageSummary
	ctx, cancel := context.WithTimeout(n.life, 5*time.Second)
	c, err := n.counts(ctx, notice.Key)
	cancel()
	if err != nil {
		n.log.Warn("mwi: counts for notify", zap.String("call_id", notice.CallID), zap.Int64("tenant", notice.Tenant),
			zap.String("ext", notice.Mailbox), zap.Error(err))
	} else if tenant.Domain != "" {
		s := summaryOf(tenant, notice.Mailbox, c)
		summary = &s
	}
	return func() {
		n.mu.Lock()
		n.queueNoticeLocked(notice, summary)
		n.mu.Unlock()
	}
}

// parseEvent splits an Event header value into the package and its id
// parameter (RFC 6665 §8.2.1), ignoring other parameters.
func parseEvent(v string) (pkg, id string) {
	pkg, params, _ := strings.Cut(v, ";")
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		k, val, _ := strings.Cut(p, "=")
		if strings.EqualFold(strings.TrimSpace(k), "id") {
			id = strings.Trim(strings.TrimSpace(val), `"`)
		}
	}
	return strings.TrimSpace(pkg), id
}

// acceptsSummary reports whether the SUBSCRIBE's Accept headers, if any,
// admit message-summary bodies (RFC 3842 §4: the subscriber must accept
// them; one that cannot gets 406).
func acceptsSummary(req *sip.Request) bool {
	hs := req.GetHeaders("Accept")
	if len(hs) == 0 {
		return true
	}
	listed := false
	for _, h := range hs {
		for _, r := range strings.Split(h.Value(), ",") {
			mt, _, _ := strings.Cut(r, ";")
			mt = strings.ToLower(strings.TrimSpace(mt))
			if mt == "" {
				continue
			}
			listed = true
			switch mt {
			case presence.ContentType, "application/*", "*/*":
				return true
			}
		}
	}
	// An empty Accept would refuse every body; phones that send one mean
	// no preference.
	return !listed
}

func seconds(d time.Duration) int {
	return int((d + time.Second - 1) / time.Second)
}

func sourceIP(src string) (netip.Addr, error) {
	ap, err := netip.ParseAddrPort(src)
	if err != nil {
		return netip.Addr{}, err
	}
	return ap.Addr().Unmap(), nil
}

func callID(req *sip.Request) string {
	if h := req.CallID(); h != nil {
		return h.Value()
	}
	return ""
}

// clip shortens what a log line quotes from a request.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
