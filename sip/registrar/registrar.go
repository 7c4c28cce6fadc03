// Package registrar handles REGISTER (RFC 3261 §10.3) for every tenant:
// it finds the tenant by the To domain, authenticates the extension with
// digest, applies the expiry rules and hands the bindings to the location
// service.
//
// Choices, so that operators and phones see one behaviour:
//   - A domain no tenant owns gets 403 Forbidden: Sentral is no open relay
//     and never forwards a REGISTER (§10.3 step 1 would proxy it).
//   - An unknown, disabled or credential-less extension is challenged and
//     refused exactly like a wrong password (401 with a fresh challenge),
//     so a scanner cannot tell which extensions exist.
//   - A source the guard has banned, or that is over its rate, gets no
//     response at all: answering would tell a scanner it found a SIP
//     server and cost us a packet per attempt (UDP amplification). The
//     SIP server applies this to every method before the registrar runs;
//     the registrar reports each digest failure and success to the guard.
//   - Only the failure itself counts towards a ban: the first unauthenticated
//     REGISTER of a normal exchange and a stale nonce are not failures.
//   - The digest username must be the AOR's user (extension 100 cannot
//     register a contact for 101 with its own password), or the AuthUser of
//     a desk phone that carries the AOR on a line key, with that phone's
//     own secret (per-device credentials, written into its provisioned
//     configuration).
package registrar

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/sentralpbx/sentral/sip/auth"
	"github.com/sentralpbx/sentral/sip/location"
	"github.com/sentralpbx/sentral/store"
)

// Defaults for Options.
const (
	DefaultMinExpires     = 60
	DefaultMaxExpires     = 3600
	DefaultDefaultExpires = 3600
)

// Options tunes the registrar.
type Options struct {
	MinExpires     int    // shorter non-zero expiries get 423 Interval Too Brief
	MaxExpires     int    // longer expiries are shortened to this
	DefaultExpires int    // used when neither Expires header nor parameter is given
	Node           string // this node's name, stored on bindings
	// Algorithms orders and filters the digest challenges offered, e.g.
	// ["MD5"] for phones that read only the first challenge and know no
	// SHA-256 (sipp 3.6 is one). Empty offers what the authenticator gives,
	// strongest first.
	Algorithms []string
	// Now returns the current time (tests substitute a clock).
	Now func() time.Time
}

// Registrar is the REGISTER handler.
type Registrar struct {
	cat   Catalog
	authn Authenticator
	grd   Guard
	loc   Locations
	log   *zap.Logger
	opt   Options
	// draining: the node is stopping; phones are sent elsewhere (503).
	draining atomic.Bool
}

// RetryAfterDrain is the Retry-After (seconds) of the 503 a draining node
// answers: long enough that a phone with one server does not hammer it,
// while phones with a DNS SRV set move to the next server at once.
const RetryAfterDrain = 30

// Drain makes every later REGISTER fail with 503 Service Unavailable and
// a Retry-After, so phones register with another node (RFC 3263 failover)
// while this one lets its calls finish. Bindings already held stay.
func (r *Registrar) Drain() { r.draining.Store(true) }

// New builds a registrar; zero options take the defaults.
func New(cat Catalog, a Authenticator, g Guard, loc Locations, log *zap.Logger, opt Options) (*Registrar, error) {
	if opt.MinExpires <= 0 {
		opt.MinExpires = DefaultMinExpires
	}
	if opt.MaxExpires <= 0 {
		opt.MaxExpires = DefaultMaxExpires
	}
	if opt.DefaultExpires <= 0 {
		opt.DefaultExpires = DefaultDefaultExpires
	}
	if opt.MinExpires > opt.MaxExpires {
		return nil, fmt.Errorf("registrar: min_expires %d is above max_expires %d", opt.MinExpires, opt.MaxExpires)
	}
	if opt.DefaultExpires < opt.MinExpires || opt.DefaultExpires > opt.MaxExpires {
		return nil, fmt.Errorf("registrar: default_expires %d is outside min_expires %d .. max_expires %d",
			opt.DefaultExpires, opt.MinExpires, opt.MaxExpires)
	}
	if err := auth.CheckAlgorithms(opt.Algorithms); err != nil {
		return nil, fmt.Errorf("registrar: %w", err)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &Registrar{cat: cat, authn: a, grd: g, loc: loc, log: log, opt: opt}, nil
}

// reply is the one decision a REGISTER ends in.
type reply struct {
	drop    bool // send nothing (the source address is unusable)
	code    int
	reason  string
	headers []sip.Header
	// for the log line
	tenant, ext, why string
	authFail         bool
}

// ServeSIP handles one REGISTER transaction; its signature fits
// sipgo.RequestHandler.
func (r *Registrar) ServeSIP(req *sip.Request, tx sip.ServerTransaction) {
	res := r.Respond(req)
	if res == nil {
		return
	}
	if err := tx.Respond(res); err != nil {
		r.log.Warn("register: respond", zap.String("call_id", callID(req)), zap.String("src", req.Source()), zap.Error(err))
	}
}

// Respond decides one REGISTER and returns the response to send, or nil
// when nothing is to be sent. It keeps no transaction state, so the SIP
// server may call it for REGISTERs over UDP without a transaction (see
// docs/architecture.md): a retransmission is decided again, and one whose
// change was already applied gets the same answer (see Result.Repeated).
func (r *Registrar) Respond(req *sip.Request) *sip.Response {
	rep := r.decide(req)
	if rep.drop {
		r.logf(zap.DebugLevel, "register dropped", req, rep, zap.String("reason", rep.why))
		return nil
	}
	res := sip.NewResponseFromRequest(req, rep.code, rep.reason, nil)
	for _, h := range rep.headers {
		res.AppendHeader(h)
	}
	switch {
	case rep.code == sip.StatusOK:
		// Every phone refreshes every few minutes: at info level that is
		// noise and, measured, 2% of the registrar's CPU. Refusals stay at warn.
		r.logf(zap.DebugLevel, "register", req, rep, zap.Int("status", rep.code))
	case rep.authFail || rep.code >= 400 && rep.code != sip.StatusUnauthorized:
		r.logf(zap.WarnLevel, "register refused", req, rep, zap.Int("status", rep.code), zap.String("reason", rep.why))
	default:
		r.logf(zap.DebugLevel, "register challenged", req, rep, zap.Int("status", rep.code), zap.String("reason", rep.why))
	}
	return res
}

// logf logs one REGISTER outcome, building the fields only when the level
// is enabled: at thousands of REGISTERs a second the unused fields of
// debug lines were measurable garbage.
func (r *Registrar) logf(lvl zapcore.Level, msg string, req *sip.Request, rep reply, extra ...zap.Field) {
	ce := r.log.Check(lvl, msg)
	if ce == nil {
		return
	}
	ce.Write(append([]zap.Field{
		zap.String("call_id", callID(req)), zap.String("src", req.Source()),
		zap.String("tenant", rep.tenant), zap.String("ext", rep.ext),
	}, extra...)...)
}

// decide is the single place a REGISTER's response is chosen.
func (r *Registrar) decide(req *sip.Request) reply {
	src, err := sourceIP(req.Source())
	if err != nil {
		return reply{drop: true, why: "unparseable source address"}
	}
	to := req.To()
	if to == nil || req.From() == nil || req.CallID() == nil || req.CSeq() == nil {
		return reply{code: sip.StatusBadRequest, reason: "Bad Request", why: "missing To, From, Call-ID or CSeq"}
	}
	if r.draining.Load() {
		return reply{code: sip.StatusServiceUnavailable, reason: "Service Unavailable (node stopping)", why: "draining",
			headers: []sip.Header{sip.NewHeader("Retry-After", strconv.Itoa(RetryAfterDrain))}}
	}
	domain := strings.ToLower(to.Address.Host)
	tenant, ok := r.cat.TenantByDomain(domain)
	if !ok {
		return reply{code: sip.StatusForbidden, reason: "Domain Not Served", why: "unknown domain " + domain}
	}
	rep := reply{tenant: tenant.Name, ext: to.Address.User}
	if ruri := strings.ToLower(req.Recipient.Host); ruri != domain {
		if _, other := r.cat.TenantByDomain(ruri); other {
			// A request for one tenant's registrar naming another's AOR.
			return rep.with(sip.StatusForbidden, "Forbidden", "request-uri and to name different tenants")
		}
	}
	number := to.Address.User
	ext, found := r.cat.Extension(tenant.ID, number)

	authz := req.GetHeader("Authorization")
	if authz == nil {
		rep.headers = r.challenge(tenant.Domain, false, req.Transport())
		return rep.with(sip.StatusUnauthorized, "Unauthorized", "no credentials")
	}
	devices, _ := r.cat.(DeviceAuth)
	res := r.authn.Verify(string(req.Method), authz.Value(), tenant.Domain, auth.LookupExtension(tenant, number, ext, found, devices))
	switch {
	case res.Repeated && r.applied(req, tenant, ext, &rep):
		// The retransmission of a REGISTER already applied (its answer
		// was lost): answer it again, changing nothing.
		return r.ok(rep, r.loc.Bindings(tenant.ID, ext.Number), r.opt.Now())
	case res.Stale:
		rep.headers = r.challenge(tenant.Domain, true, req.Transport())
		return rep.with(sip.StatusUnauthorized, "Unauthorized", "stale nonce: "+res.Reason)
	case !res.OK:
		r.grd.Failed(src)
		rep.authFail = true
		rep.headers = r.challenge(tenant.Domain, false, req.Transport())
		return rep.with(sip.StatusUnauthorized, "Unauthorized", "authentication failed: "+res.Reason)
	}
	r.grd.Succeeded(src)
	return r.bind(req, tenant, ext, rep)
}

func (rep reply) with(code int, reason, why string) reply {
	rep.code, rep.reason, rep.why = code, reason, why
	return rep
}

func (r *Registrar) challenge(realm string, stale bool, transport string) []sip.Header {
	vs := r.authn.Challenge(realm, stale, auth.ForTransport(r.opt.Algorithms, transport)...)
	hs := make([]sip.Header, len(vs))
	for i, v := range vs {
		hs[i] = sip.NewHeader("WWW-Authenticate", v)
	}
	return hs
}

// bind applies the Contact headers of an authenticated REGISTER.
func (r *Registrar) bind(req *sip.Request, tenant store.Tenant, ext store.Extension, rep reply) reply {
	now := r.opt.Now()
	var (
		expiresHdr = -1
		paths      []string
	)
	if h := req.GetHeader("Expires"); h != nil {
		n, err := strconv.ParseUint(strings.TrimSpace(h.Value()), 10, 32)
		if err != nil {
			return rep.with(sip.StatusBadRequest, "Bad Expires", "expires header "+strconv.Quote(h.Value()))
		}
		expiresHdr = clampInt(n)
	}
	for _, h := range req.GetHeaders("Path") {
		for _, v := range splitList(h.Value()) {
			paths = append(paths, v)
		}
	}
	// RFC 3327 §5.3: the registrar returns the Path it stored.
	rep.headers = append(rep.headers, pathHeaders(paths)...)

	var contacts []*sip.ContactHeader
	for _, h := range req.GetHeaders("Contact") {
		c, ok := h.(*sip.ContactHeader)
		if !ok {
			return rep.with(sip.StatusBadRequest, "Bad Contact", "unparsed contact header")
		}
		contacts = append(contacts, c)
	}

	var current []store.Binding
	var err error
	switch {
	case len(contacts) == 0:
		// A query: list the current bindings.
		current = r.loc.Bindings(tenant.ID, ext.Number)
	case hasWildcard(contacts):
		if len(contacts) != 1 || expiresHdr != 0 {
			return rep.with(sip.StatusBadRequest, "Bad Request", "contact * needs to be alone and have Expires: 0")
		}
		// RFC 3261 §10.3 step 6: remove all, unless the request is older
		// than a binding it would remove.
		err = r.loc.Unregister(tenant.ID, ext.Number, callID(req), req.CSeq().SeqNo)
	default:
		var add []store.Binding
		for _, c := range contacts {
			b, exp, bad := r.binding(req, c, expiresHdr, tenant, ext, paths, now)
			if bad != "" {
				return rep.with(sip.StatusBadRequest, "Bad Contact", bad)
			}
			if exp == 0 {
				// A zero Expires tells the location service to remove the
				// binding, with the Call-ID/CSeq ordering check.
				b.Expires = time.Time{}
				add = append(add, b)
				continue
			}
			if exp < r.opt.MinExpires {
				rep.headers = append(rep.headers, sip.NewHeader("Min-Expires", strconv.Itoa(r.opt.MinExpires)))
				return rep.with(sip.StatusIntervalToBrief, "Interval Too Brief", "expires "+strconv.Itoa(exp))
			}
			add = append(add, b)
		}
		current, err = r.loc.Update(tenant.ID, ext.Number, add, nil)
	}
	if err != nil {
		code, reason := locationError(err)
		return rep.with(code, reason, err.Error())
	}
	return r.ok(rep, current, now)
}

// applied reports whether the AOR holds a binding made by this very
// request (same Call-ID and CSeq): then a repeated request is the
// retransmission of one already applied. Anything else that repeats a
// nonce count, including a removal whose binding is gone, gets a new
// nonce instead and is applied afresh.
// The Path it stored is echoed as bind does.
func (r *Registrar) applied(req *sip.Request, tenant store.Tenant, ext store.Extension, rep *reply) bool {
	id, seq := callID(req), req.CSeq().SeqNo
	for _, b := range r.loc.Bindings(tenant.ID, ext.Number) {
		if b.CallID == id && b.CSeq == seq {
			rep.headers = append(rep.headers, pathHeaders(b.Path)...)
			return true
		}
	}
	return false
}

// pathHeaders are the Supported and Path headers echoing a stored Path
// (RFC 3327 §5.3).
func pathHeaders(paths []string) []sip.Header {
	if len(paths) == 0 {
		return nil
	}
	hs := []sip.Header{sip.NewHeader("Supported", "path")}
	for _, p := range paths {
		hs = append(hs, sip.NewHeader("Path", p))
	}
	return hs
}

// ok is the 200 listing the AOR's current bindings.
func (r *Registrar) ok(rep reply, current []store.Binding, now time.Time) reply {
	for _, b := range current {
		left := int(b.Expires.Sub(now).Round(time.Second) / time.Second)
		if left <= 0 {
			continue
		}
		rep.headers = append(rep.headers, contactHeader(b, left))
	}
	rep.headers = append(rep.headers, sip.NewHeader("Date", now.UTC().Format(time.RFC1123)))
	return rep.with(sip.StatusOK, "OK", "")
}

// binding turns one Contact into a binding; exp is the granted expiry in
// seconds (0: remove). bad explains a malformed contact.
func (r *Registrar) binding(req *sip.Request, c *sip.ContactHeader, expiresHdr int, tenant store.Tenant, ext store.Extension,
	paths []string, now time.Time) (b store.Binding, exp int, bad string) {
	switch strings.ToLower(c.Address.Scheme) {
	case "sip", "sips":
	default:
		return b, 0, "contact scheme " + strconv.Quote(c.Address.Scheme)
	}
	if c.Address.Host == "" {
		return b, 0, "contact without host"
	}
	exp = r.opt.DefaultExpires
	if expiresHdr >= 0 {
		exp = expiresHdr
	}
	if v, ok := c.Params.Get("expires"); ok {
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
		if err != nil {
			return b, 0, "contact expires " + strconv.Quote(v)
		}
		exp = clampInt(n)
	}
	if exp > r.opt.MaxExpires {
		exp = r.opt.MaxExpires
	}
	q := 1.0
	if v, ok := c.Params.Get("q"); ok {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || f > 1 {
			return b, 0, "contact q " + strconv.Quote(v)
		}
		q = f
	}
	regID := 0
	if v, ok := c.Params.Get("reg-id"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return b, 0, "contact reg-id " + strconv.Quote(v)
		}
		regID = n
	}
	instance, _ := c.Params.Get("+sip.instance")
	instance = strings.Trim(instance, `"`)
	transport := strings.ToLower(req.Transport())
	flow := ""
	if transport != "udp" {
		// A connection is identified by its transport and the peer's
		// address for as long as it is open; requests to this contact must
		// go back over it (clients behind NAT and browsers with .invalid
		// contacts cannot be reached otherwise).
		flow = transport + ":" + req.Source()
	}
	ua := ""
	if h := req.GetHeader("User-Agent"); h != nil {
		ua = h.Value()
	}
	b = store.Binding{
		TenantID:  tenant.ID,
		Number:    ext.Number,
		Contact:   canonicalURI(c.Address),
		Instance:  instance,
		RegID:     regID,
		Q:         q,
		Expires:   now.Add(time.Duration(exp) * time.Second).UTC(),
		CallID:    callID(req),
		CSeq:      req.CSeq().SeqNo,
		UserAgent: ua,
		Source:    req.Source(),
		Transport: transport,
		Flow:      flow,
		Path:      paths,
		Node:      r.opt.Node,
		UpdatedAt: now.UTC(),
	}
	return b, exp, ""
}

// canonicalURI renders a contact URI in one form (scheme and host in lower
// case), because bindings are matched by comparing these strings.
func canonicalURI(u sip.Uri) string {
	u.Scheme = strings.ToLower(u.Scheme)
	u.Host = strings.ToLower(u.Host)
	return u.String()
}

func contactHeader(b store.Binding, left int) sip.Header {
	v := "<" + b.Contact + ">;expires=" + strconv.Itoa(left)
	if b.Q != 1 {
		v += ";q=" + strconv.FormatFloat(b.Q, 'f', -1, 64)
	}
	if b.Instance != "" {
		v += `;+sip.instance="` + b.Instance + `"`
	}
	if b.RegID != 0 {
		v += ";reg-id=" + strconv.Itoa(b.RegID)
	}
	return sip.NewHeader("Contact", v)
}

func hasWildcard(cs []*sip.ContactHeader) bool {
	for _, c := range cs {
		if c.Address.Wildcard {
			return true
		}
	}
	return false
}

// splitList splits a comma-separated header value outside <> and quotes.
func splitList(v string) []string {
	var out []string
	depth, quoted, start := 0, false, 0
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '"':
			quoted = !quoted
		case '<':
			if !quoted {
				depth++
			}
		case '>':
			if !quoted && depth > 0 {
				depth--
			}
		case ',':
			if !quoted && depth == 0 {
				if s := strings.TrimSpace(v[start:i]); s != "" {
					out = append(out, s)
				}
				start = i + 1
			}
		}
	}
	if s := strings.TrimSpace(v[start:]); s != "" {
		out = append(out, s)
	}
	return out
}

func clampInt(n uint64) int {
	if n > 1<<31-1 {
		return 1<<31 - 1
	}
	return int(n)
}

func sourceIP(src string) (netip.Addr, error) {
	ap, err := netip.ParseAddrPort(src)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("source %q: %w", src, err)
	}
	return ap.Addr().Unmap(), nil
}

func callID(req *sip.Request) string {
	if h := req.CallID(); h != nil {
		return h.Value()
	}
	return ""
}

// locationError maps the location service's refusals to responses.
func locationError(err error) (int, string) {
	switch {
	case errors.Is(err, location.ErrTooManyContacts):
		return sip.StatusForbidden, "Too Many Contacts"
	case errors.Is(err, location.ErrOutOfOrder):
		// §10.3 step 8 leaves the code open; 500 is what step 7 implies.
		return sip.StatusInternalServerError, "Out Of Order"
	case errors.Is(err, location.ErrInvalidBinding):
		return sip.StatusBadRequest, "Bad Contact"
	}
	return sip.StatusInternalServerError, "Server Internal Error"
}
