package trunk

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/store"
)

// Within one attempt: how many challenges we answer (the first, then a
// stale nonce) and how many times a 423 may raise our Expires.
const (
	maxChallenges = 3
	maxTooBrief   = 2
)

// Registration keeps one trunk registered. Run's goroutine owns the
// protocol state; Status may be called from anywhere.
type Registration struct {
	client  *sipgo.Client
	trunk   store.Trunk
	contact ContactFunc
	log     *zap.Logger
	opt     Options

	ruri      sip.Uri // sip:host:port;transport=x
	aor       sip.Uri // sip:username@host
	dest      string  // host:port
	transport string  // UDP, TCP, TLS as sipgo spells them

	// Owned by Run's goroutine.
	callID   string // one per registration (RFC 3261 §10.2.4)
	fromTag  string
	cseq     uint32
	expires  time.Duration // what we ask for; a 423 raises it
	auth     *authState
	local    *Contact
	self     sip.Uri // our Contact URI
	laddr    sip.Addr
	failures int

	started atomic.Bool

	mu     sync.Mutex
	status Status
}

// NewRegistration prepares the registration of a register-mode trunk
// through client; contact says where the operator should reach us. Call
// Run to start it.
func NewRegistration(client *sipgo.Client, t store.Trunk, contact ContactFunc, log *zap.Logger, opt Options) (*Registration, error) {
	if client == nil {
		return nil, errors.New("trunk: nil sipgo client")
	}
	if contact == nil {
		return nil, errors.New("trunk: nil contact func")
	}
	if t.Host == "" || t.Username == "" {
		return nil, fmt.Errorf("trunk %s: a registering trunk needs a host and a username", t.Name)
	}
	network := transportOf(t)
	switch network {
	case "udp", "tcp", "tls":
	default:
		return nil, fmt.Errorf("trunk %s: transport %q: want udp, tcp or tls", t.Name, t.Transport)
	}
	if log == nil {
		log = zap.NewNop()
	}
	port := portOf(t)
	r := &Registration{
		client:    client,
		trunk:     t,
		contact:   contact,
		opt:       opt.withDefaults(),
		ruri:      sip.Uri{Scheme: "sip", Host: t.Host, Port: port, UriParams: sip.HeaderParams{{K: "transport", V: network}}},
		aor:       sip.Uri{Scheme: "sip", User: t.Username, Host: t.Host},
		dest:      net.JoinHostPort(t.Host, strconv.Itoa(port)),
		transport: strings.ToUpper(network),
		callID:    sip.GenerateTagN(24) + "@sentral",
		fromTag:   sip.GenerateTagN(16),
		status:    Status{State: StateRegistering},
	}
	r.expires = r.opt.Expires
	r.log = log.With(zap.String("trunk", t.Name), zap.Int64("tenant", t.TenantID),
		zap.String("aor", r.aor.String()), zap.String("registrar", r.registrar()), zap.String("call_id", r.callID))
	return r, nil
}

// registrar names where we register, for logs and status.
func (r *Registration) registrar() string {
	return r.ruri.String()[len("sip:"):]
}

// Status returns a snapshot of the registration's state.
func (r *Registration) Status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status
}

func (r *Registration) update(f func(*Status)) {
	r.mu.Lock()
	f(&r.status)
	r.mu.Unlock()
}

// Run registers, keeps the registration fresh and retries after failures
// until ctx ends; then it removes the binding (Expires: 0) within
// UnregisterTimeout and returns. Failures are reported in Status and the
// log, and retried; the only error is a second call.
func (r *Registration) Run(ctx context.Context) error {
	if r.started.Swap(true) {
		return errors.New("trunk: Registration.Run called twice")
	}
	defer r.update(func(s *Status) { s.State, s.NextAttempt = StateStopped, time.Time{} })
	for ctx.Err() == nil {
		wait := r.cycle(ctx)
		if ctx.Err() != nil {
			break
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
	r.unregister()
	return nil
}

// cycle makes one attempt and returns the wait before the next one.
func (r *Registration) cycle(ctx context.Context) time.Duration {
	r.update(func(s *Status) {
		// A failed refresh leaves a live binding: "failed" says more
		// about it than "registering" while the retry runs.
		if s.State != StateRegistered && !s.RegisteredUntil.After(time.Now()) {
			s.State = StateRegistering
		}
		s.NextAttempt = time.Time{}
	})
	out := r.attempt(ctx, r.expires)
	if ctx.Err() != nil {
		return 0
	}
	now := time.Now()
	if out.err == nil {
		wait := refreshAfter(out.granted, r.opt.MinRefresh)
		var was State
		r.update(func(s *Status) {
			was = s.State
			*s = Status{State: StateRegistered, Code: out.code, Reason: out.reason,
				RegisteredUntil: now.Add(out.granted), NextAttempt: now.Add(wait), LastSuccess: now}
		})
		r.failures = 0
		if was == StateRegistered {
			r.log.Debug("trunk registration refreshed", zap.Duration("expires", out.granted), zap.Duration("refresh_in", wait))
			return wait
		}
		r.log.Info("trunk registered", zap.Duration("expires", out.granted), zap.Duration("refresh_in", wait))
		if out.granted < r.opt.MinRefresh {
			r.log.Warn("trunk: registrar granted less than the minimum refresh interval; the binding lapses between refreshes",
				zap.Duration("expires", out.granted), zap.Duration("min_refresh", r.opt.MinRefresh))
		}
		return wait
	}
	r.failures++
	wait := retryDelay(backoff(r.failures, r.opt.RetryMin, r.opt.RetryMax, rand.Float64()), out.retryAfter)
	r.update(func(s *Status) {
		s.State, s.Code, s.Reason, s.Error = StateFailed, out.code, out.reason, out.err.Error()
		s.NextAttempt, s.Attempts = now.Add(wait), r.failures
		if !s.RegisteredUntil.After(now) {
			s.RegisteredUntil = time.Time{}
		}
	})
	fields := []zap.Field{zap.Error(out.err), zap.Duration("retry_in", wait), zap.Int("attempts", r.failures)}
	if out.code != 0 {
		fields = append(fields, zap.Int("code", out.code), zap.String("reason", out.reason))
	}
	r.log.Warn("trunk registration failed", fields...)
	return wait
}

// unregister removes our binding when one may exist, within
// UnregisterTimeout: the operator should stop sending calls to a PBX
// that is going away (or to this trunk's old address or credentials)
// rather than let them fail until the binding expires.
func (r *Registration) unregister() {
	st := r.Status()
	if r.local == nil || !st.RegisteredUntil.After(time.Now()) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.opt.UnregisterTimeout)
	defer cancel()
	out := r.attempt(ctx, 0)
	if out.err != nil {
		r.log.Warn("trunk unregister failed", zap.Error(out.err), zap.Int("code", out.code))
		r.update(func(s *Status) { s.Code, s.Reason, s.Error = out.code, out.reason, "unregister: "+out.err.Error() })
		return
	}
	r.update(func(s *Status) { s.RegisteredUntil, s.Code, s.Reason = time.Time{}, out.code, out.reason })
	r.log.Info("trunk unregistered")
}

// outcome is what one attempt came to.
type outcome struct {
	code       int
	reason     string
	err        error
	granted    time.Duration // on success
	retryAfter time.Duration
}

func (o outcome) failed(err error) outcome {
	o.err = err
	return o
}

// attempt sends one REGISTER asking for expires (0: unregister) and
// follows it through challenges and 423 to a final outcome.
func (r *Registration) attempt(ctx context.Context, expires time.Duration) outcome {
	if err := r.resolveContact(ctx); err != nil {
		return outcome{err: err}
	}
	if r.auth != nil {
		r.auth.fresh = false
	}
	challenges, tooBrief := 0, 0
	for {
		req, err := r.request(expires)
		if err != nil {
			return outcome{err: err}
		}
		res, err := r.send(ctx, req)
		if err != nil {
			switch {
			case errors.Is(err, context.DeadlineExceeded):
				err = fmt.Errorf("no final response in time: %w", err)
			case errors.Is(err, syscall.EADDRINUSE) && r.laddr.IP != nil:
				// sipgo finds no listener socket at laddr in its pool and
				// tries to bind a new one there.
				err = fmt.Errorf("the UDP listener %s is not serving (yet): %w", r.local.LocalAddr, err)
			}
			return outcome{err: fmt.Errorf("register via %s: %w", r.registrar(), err)}
		}
		out := outcome{code: res.StatusCode, reason: res.Reason}
		if h := res.GetHeader("Retry-After"); h != nil {
			out.retryAfter, _ = parseRetryAfter(h.Value())
		}
		switch code := res.StatusCode; {
		case code >= 200 && code < 300:
			if expires == 0 {
				return out
			}
			out.granted = grantedExpiry(res, r.self, expires)
			if out.granted <= 0 {
				return out.failed(errors.New("the registrar accepted the REGISTER but granted no expiry"))
			}
			return out
		case code == sip.StatusUnauthorized || code == sip.StatusProxyAuthRequired:
			hdr := "WWW-Authenticate"
			if code == sip.StatusProxyAuthRequired {
				hdr = "Proxy-Authenticate"
			}
			var values []string
			for _, h := range res.GetHeaders(hdr) {
				values = append(values, h.Value())
			}
			chal, err := pickChallenge(values, r.trunk.Realm)
			if err != nil {
				return out.failed(err)
			}
			if r.auth != nil && r.auth.fresh && !chal.Stale {
				// A refused nonce is not worth reusing on the next attempt.
				r.auth = nil
				return out.failed(fmt.Errorf("%w by %s (check the trunk's username and password)", errRefused, r.registrar()))
			}
			if challenges++; challenges > maxChallenges {
				return out.failed(errors.New("too many challenges"))
			}
			r.auth = &authState{chal: chal, proxy: code == sip.StatusProxyAuthRequired, fresh: true}
		case code == sip.StatusIntervalToBrief:
			h := res.GetHeader("Min-Expires")
			if h == nil {
				return out.failed(errors.New("423 without Min-Expires"))
			}
			minExp, ok := parseDeltaSeconds(h.Value())
			if !ok || minExp <= expires || expires == 0 {
				return out.failed(fmt.Errorf("423 with unusable Min-Expires %q", h.Value()))
			}
			if tooBrief++; tooBrief > maxTooBrief {
				return out.failed(errors.New("too many 423 responses"))
			}
			r.log.Info("trunk: registrar wants a longer expiry", zap.Duration("min_expires", minExp))
			expires, r.expires = minExp, minExp
		default:
			return out.failed(fmt.Errorf("registrar answered %d %s", code, res.Reason))
		}
	}
}

// resolveContact fixes our Contact for the registration's lifetime: a
// registrar keys bindings by Contact URI, so a Contact that changed
// between refreshes would leave the old binding behind.
func (r *Registration) resolveContact(ctx context.Context) error {
	if r.local != nil {
		return nil
	}
	c, err := r.contact(ctx, r.trunk)
	if err != nil {
		return fmt.Errorf("contact: %w", err)
	}
	if c.Host == "" || c.Port <= 0 {
		return fmt.Errorf("contact: no host and port to register (got %q:%d)", c.Host, c.Port)
	}
	if r.transport == "UDP" && c.LocalAddr != "" {
		ap, err := netip.ParseAddrPort(c.LocalAddr)
		if err != nil {
			return fmt.Errorf("contact: local address %q: %w", c.LocalAddr, err)
		}
		// sipgo finds the listener socket by the address it reports
		// ("127.0.0.1:5060", "0.0.0.0:5060"), so rebuild it that way.
		r.laddr = sip.Addr{IP: net.IP(ap.Addr().AsSlice()), Port: int(ap.Port()), Hostname: ap.Addr().String()}
	}
	r.self = sip.Uri{Scheme: "sip", User: r.trunk.Username, Host: c.Host, Port: c.Port,
		UriParams: sip.HeaderParams{{K: "transport", V: strings.ToLower(r.transport)}}}
	r.local = &c
	return nil
}

// request builds the next REGISTER: every header set here, so sipgo's
// defaults (a random Call-ID and CSeq per request) cannot break the
// Call-ID/CSeq sequence the registrar orders our requests by.
func (r *Registration) request(expires time.Duration) (*sip.Request, error) {
	req := sip.NewRequest(sip.REGISTER, r.ruri)
	req.SetTransport(r.transport)
	req.SetDestination(r.dest)
	if r.laddr.IP != nil {
		r.laddr.Copy(&req.Laddr)
	}
	via := &sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: r.transport,
		Host: r.local.Host, Port: r.local.Port, Params: sip.NewParams()}
	via.Params.Add("branch", sip.GenerateBranch())
	// rport (RFC 3581): behind NAT the answer must go to where we sent from.
	via.Params.Add("rport", "")
	from := &sip.FromHeader{Address: r.aor, Params: sip.NewParams()}
	from.Params.Add("tag", r.fromTag)
	to := &sip.ToHeader{Address: r.aor, Params: sip.NewParams()}
	callID := sip.CallIDHeader(r.callID)
	r.cseq++
	cseq := &sip.CSeqHeader{SeqNo: r.cseq, MethodName: sip.REGISTER}
	maxFwd := sip.MaxForwardsHeader(70)
	contact := &sip.ContactHeader{Address: r.self, Params: sip.NewParams()}
	if r.opt.Instance != "" {
		contact.Params.Add("+sip.instance", `"<`+r.opt.Instance+`>"`)
	}
	secs := uint32(min((expires+time.Second-1)/time.Second, maxDelta))
	exp := sip.ExpiresHeader(secs)
	req.AppendHeader(via)
	req.AppendHeader(&maxFwd)
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(&callID)
	req.AppendHeader(cseq)
	req.AppendHeader(contact)
	req.AppendHeader(&exp)
	req.AppendHeader(sip.NewHeader("User-Agent", r.opt.UserAgent))
	if r.auth != nil {
		if err := r.auth.authorize(req, r.trunk.Username, r.trunk.Password); err != nil {
			return nil, err
		}
	}
	req.SetBody(nil)
	return req, nil
}

// send runs one client transaction and returns its final response.
func (r *Registration) send(ctx context.Context, req *sip.Request) (*sip.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, r.opt.Timeout)
	defer cancel()
	return r.client.Do(ctx, req, noBuild)
}

// noBuild keeps sipgo from filling in headers of a request we built.
func noBuild(*sipgo.Client, *sip.Request) error { return nil }
