package trunk

import (
	"context"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/sentralpbx/sentral/sip/server"
	"github.com/sentralpbx/sentral/store"
	"github.com/sentralpbx/sentral/test/testrun"
)

// fast are timings that let a test see refreshes and retries in well
// under a second.
var fast = Options{MinRefresh: 100 * time.Millisecond, RetryMin: 100 * time.Millisecond,
	RetryMax: 400 * time.Millisecond, Timeout: 2 * time.Second, UnregisterTimeout: time.Second}

const (
	opRealm    = "operator.test"
	opUser     = "4722000000"
	opPassword = "Trunk-Passord-9"
)

// sentral is Sentral's SIP side: sip/server on a loopback UDP port, as
// serve runs it, with its client and the contacts of its listeners.
type sentral struct {
	srv     *server.Server
	client  *sipgo.Client
	contact ContactFunc
}

func startSentral(t *testing.T) *sentral {
	t.Helper()
	srv, err := server.New(server.Options{Listen: []server.Listener{{Network: "udp", Addr: "127.0.0.1:0"}},
		Log: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)).Named("sip")})
	if err != nil {
		t.Fatal(err)
	}
	client, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	var ls []Listener
	for _, l := range srv.Listeners() {
		ls = append(ls, Listener{Network: l.Network, Addr: l.Addr})
	}
	testrun.Start(t, srv.Serve)
	waitServing(t, srv.Addr("udp"))
	return &sentral{srv: srv, client: client, contact: ListenerContacts(ls, "")}
}

// waitServing returns once the UDP listener at addr answers OPTIONS:
// only then is its socket in sipgo's pool for REGISTERs to leave from.
func waitServing(t *testing.T, addr string) {
	t.Helper()
	conn, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	local := conn.LocalAddr().String()
	buf := make([]byte, 4096)
	for i := 0; i < 50; i++ {
		msg := "OPTIONS sip:" + addr + " SIP/2.0\r\nVia: SIP/2.0/UDP " + local + ";branch=z9hG4bKw" + strconv.Itoa(i) +
			"\r\nFrom: <sip:probe@127.0.0.1>;tag=p\r\nTo: <sip:" + addr + ">\r\nCall-ID: probe" + strconv.Itoa(i) +
			"\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
		if _, err := conn.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if n, err := conn.Read(buf); err == nil && strings.HasPrefix(string(buf[:n]), "SIP/2.0 ") {
			return
		}
	}
	t.Fatalf("SIP server at %s does not answer OPTIONS", addr)
}

// operator is a scripted registrar on a loopback UDP port.
type operator struct {
	addr string
	mu   sync.Mutex
	reqs []*sip.Request
	got  chan struct{} // a token per request
}

// answerFunc answers the n-th REGISTER (from 1); nil sends nothing.
type answerFunc func(n int, req *sip.Request) *sip.Response

func startOperator(t *testing.T, answer answerFunc) *operator {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("operator"),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(quiet)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(quiet)))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	op := &operator{got: make(chan struct{}, 100)}
	srv.OnRegister(func(req *sip.Request, tx sip.ServerTransaction) {
		op.mu.Lock()
		op.reqs = append(op.reqs, req)
		n := len(op.reqs)
		op.mu.Unlock()
		if res := answer(n, req); res != nil {
			_ = tx.Respond(res)
		}
		op.got <- struct{}{}
	})
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { _ = srv.ServeUDP(pc) })
	t.Cleanup(func() {
		_ = pc.Close()
		_ = ua.Close()
		wg.Wait()
	})
	op.addr = pc.LocalAddr().String()
	return op
}

// wait returns the first n requests, failing the test if they do not
// arrive within d.
func (op *operator) wait(t *testing.T, n int, d time.Duration) []*sip.Request {
	t.Helper()
	deadline := time.After(d)
	for {
		op.mu.Lock()
		if len(op.reqs) >= n {
			out := append([]*sip.Request(nil), op.reqs[:n]...)
			op.mu.Unlock()
			return out
		}
		have := len(op.reqs)
		op.mu.Unlock()
		select {
		case <-op.got:
		case <-deadline:
			t.Fatalf("operator received %d REGISTERs within %s, want %d", have, d, n)
		}
	}
}

func (op *operator) count() int {
	op.mu.Lock()
	defer op.mu.Unlock()
	return len(op.reqs)
}

func (op *operator) trunk(name string) store.Trunk {
	host, port, _ := net.SplitHostPort(op.addr)
	p, _ := strconv.Atoi(port)
	return store.Trunk{Meta: store.Meta{ID: 1}, TenantID: 1, Name: name, Mode: store.TrunkRegister, Host: host, Port: p,
		Transport: "udp", Username: opUser, Password: opPassword, Realm: opRealm, Enabled: true}
}

// challenge is a 401 with the given WWW-Authenticate values.
func challenge(req *sip.Request, values ...string) *sip.Response {
	res := sip.NewResponseFromRequest(req, sip.StatusUnauthorized, "Unauthorized", nil)
	for _, v := range values {
		res.AppendHeader(sip.NewHeader("WWW-Authenticate", v))
	}
	return res
}

// ok is a 200 listing the request's Contact with expires seconds.
func ok(req *sip.Request, expires int) *sip.Response {
	res := sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil)
	if c := req.Contact(); c != nil {
		c = c.Clone()
		c.Params.Add("expires", strconv.Itoa(expires))
		res.AppendHeader(c)
	}
	return res
}

func status(req *sip.Request, code int, reason string, headers ...string) *sip.Response {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ":")
		res.AppendHeader(sip.NewHeader(name, strings.TrimSpace(value)))
	}
	return res
}

// verify recomputes the request's digest with the password and reports
// whether it matches, as the operator's registrar would.
func verify(req *sip.Request, password string) (*digest.Credentials, bool) {
	h := req.GetHeader("Authorization")
	if h == nil {
		return nil, false
	}
	cred, err := digest.ParseCredentials(h.Value())
	if err != nil {
		return nil, false
	}
	chal := &digest.Challenge{Realm: cred.Realm, Nonce: cred.Nonce, Algorithm: cred.Algorithm, Opaque: cred.Opaque}
	if cred.QOP != "" {
		chal.QOP = []string{cred.QOP}
	}
	want, err := digest.Digest(chal, digest.Options{Method: string(req.Method), URI: cred.URI,
		Username: cred.Username, Password: password, Cnonce: cred.Cnonce, Count: cred.Nc})
	if err != nil {
		return cred, false
	}
	return cred, want.Response == cred.Response && cred.URI == req.Recipient.String()
}

// run starts reg until the returned stop is called; stop waits for Run.
func run(t *testing.T, reg *Registration) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = reg.Run(ctx)
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Error("Run did not return within 5s of cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// waitState polls the status until cond holds, for up to d.
func waitState(t *testing.T, reg *Registration, d time.Duration, what string, cond func(Status) bool) Status {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		st := reg.Status()
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("status never became %s within %s: %+v", what, d, st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func header(req *sip.Request, name string) string {
	if h := req.GetHeader(name); h != nil {
		return h.Value()
	}
	return ""
}

// TestRegisterSHA256 walks a registration's life against a registrar
// challenging with SHA-256 and qop=auth: challenge, 200 with a short
// expiry, an authenticated refresh reusing the nonce with the next nonce
// count, then the unregister on stop. It checks what RFC 3261 §10.2
// wants of the requests and that they leave from the listener socket.
func TestRegisterSHA256(t *testing.T) {
	s := startSentral(t)
	const nonce = "sha-nonce-1"
	op := startOperator(t, func(n int, req *sip.Request) *sip.Response {
		if n == 1 {
			return challenge(req, `Digest realm="operator.test", nonce="`+nonce+`", algorithm=SHA-256, qop="auth", opaque="op1"`)
		}
		if _, good := verify(req, opPassword); !good {
			return status(req, sip.StatusForbidden, "Forbidden")
		}
		return ok(req, 1)
	})
	reg, err := NewRegistration(s.client, op.trunk("centrex"), s.contact, zaptest.NewLogger(t), fast)
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, reg)
	st := waitState(t, reg, 3*time.Second, "registered", func(s Status) bool { return s.State == StateRegistered })
	if st.Code != 200 || st.Attempts != 0 || st.Error != "" || st.LastSuccess.IsZero() {
		t.Errorf("status after success: %+v", st)
	}
	if left := time.Until(st.RegisteredUntil); left <= 0 || left > time.Second {
		t.Errorf("registered until %s from now, want within the granted 1s", left)
	}
	if next := st.NextAttempt.Sub(st.LastSuccess); next != 500*time.Millisecond {
		t.Errorf("refresh scheduled %s after success, want half of the 1s expiry", next)
	}
	reqs := op.wait(t, 3, 3*time.Second) // challenge, answer, refresh
	stop()
	reqs = op.wait(t, op.count(), time.Second)
	last := reqs[len(reqs)-1]
	if got := header(last, "Expires"); got != "0" {
		t.Fatalf("last request has Expires %q, want the unregister's 0", got)
	}
	if st := reg.Status(); st.State != StateStopped || !st.RegisteredUntil.IsZero() {
		t.Errorf("status after stop: %+v", st)
	}

	listener := s.srv.Addr("udp")
	_, lport, _ := net.SplitHostPort(listener)
	wantRURI := "sip:" + op.addr + ";transport=udp"
	for i, req := range reqs {
		if req.Source() != listener {
			t.Errorf("request %d came from %s, not the listener %s", i+1, req.Source(), listener)
		}
		if req.Recipient.String() != wantRURI {
			t.Errorf("request %d: Request-URI %s, want %s", i+1, req.Recipient.String(), wantRURI)
		}
		if got := req.CallID().Value(); got != reqs[0].CallID().Value() {
			t.Errorf("request %d: Call-ID %s, want the registration's %s", i+1, got, reqs[0].CallID().Value())
		}
		if got := req.CSeq().SeqNo; got != uint32(i+1) {
			t.Errorf("request %d: CSeq %d, want %d", i+1, got, i+1)
		}
		if got := req.From().Params.GetOr("tag", ""); got == "" || got != reqs[0].From().Params.GetOr("tag", "") {
			t.Errorf("request %d: From tag %q", i+1, got)
		}
		aor := "sip:" + opUser + "@127.0.0.1"
		if req.From().Address.String() != aor || req.To().Address.String() != aor {
			t.Errorf("request %d: From %s To %s, want the AOR %s", i+1, req.From().Address.String(), req.To().Address.String(), aor)
		}
		if got, want := req.Contact().Address.String(), "sip:"+opUser+"@127.0.0.1:"+lport+";transport=udp"; got != want {
			t.Errorf("request %d: Contact %s, want %s", i+1, got, want)
		}
		if i > 0 && i < len(reqs)-1 && header(req, "Expires") != "3600" {
			t.Errorf("request %d: Expires %q, want the default 3600", i+1, header(req, "Expires"))
		}
	}
	if reqs[0].GetHeader("Authorization") != nil {
		t.Error("first REGISTER carried credentials before any challenge")
	}
	for i, req := range reqs[1:] {
		cred, good := verify(req, opPassword)
		if !good {
			t.Fatalf("request %d: credentials do not verify: %v", i+2, header(req, "Authorization"))
		}
		if cred.Nonce != nonce || cred.Nc != i+1 || cred.Algorithm != "SHA-256" || cred.QOP != "auth" || cred.Opaque != "op1" {
			t.Errorf("request %d: nonce %q nc %d alg %s qop %s opaque %q; want the same nonce with nc %d",
				i+2, cred.Nonce, cred.Nc, cred.Algorithm, cred.QOP, cred.Opaque, i+1)
		}
	}
}

// TestRealmMismatch: with a realm configured, a challenge from another
// realm gets no credentials at all.
func TestRealmMismatch(t *testing.T) {
	s := startSentral(t)
	op := startOperator(t, func(n int, req *sip.Request) *sip.Response {
		return challenge(req, `Digest realm="elsewhere.test", nonce="x", algorithm=MD5, qop="auth"`)
	})
	o := fast
	o.RetryMin, o.RetryMax = 5*time.Second, 5*time.Second // one attempt in this test
	reg, err := NewRegistration(s.client, op.trunk("centrex"), s.contact, zaptest.NewLogger(t), o)
	if err != nil {
		t.Fatal(err)
	}
	run(t, reg)
	st := waitState(t, reg, 3*time.Second, "failed", func(s Status) bool { return s.State == StateFailed })
	if st.Code != 401 || !strings.Contains(st.Error, "elsewhere.test") || !strings.Contains(st.Error, opRealm) || st.Attempts != 1 {
		t.Errorf("status: %+v", st)
	}
	if wait := time.Until(st.NextAttempt); wait < 3*time.Second || wait > 5*time.Second {
		t.Errorf("next attempt in %s, want the backoff of 3.75-5s", wait)
	}
	time.Sleep(200 * time.Millisecond)
	if n := op.count(); n != 1 {
		t.Fatalf("operator received %d requests, want just the first", n)
	}
	if op.wait(t, 1, 0)[0].GetHeader("Authorization") != nil {
		t.Fatal("credentials sent")
	}
}

// TestIntervalTooBrief: a 423 raises the expiry we ask for, at once and
// for the refreshes after it; the grant comes in the Expires header.
func TestIntervalTooBrief(t *testing.T) {
	s := startSentral(t)
	op := startOperator(t, func(n int, req *sip.Request) *sip.Response {
		exp, _ := strconv.Atoi(header(req, "Expires"))
		if exp < 120 {
			return status(req, sip.StatusIntervalToBrief, "Interval Too Brief", "Min-Expires: 120")
		}
		return status(req, sip.StatusOK, "OK", "Expires: 120")
	})
	o := fast
	o.Expires = time.Minute
	reg, err := NewRegistration(s.client, op.trunk("centrex"), s.contact, zaptest.NewLogger(t), o)
	if err != nil {
		t.Fatal(err)
	}
	run(t, reg)
	st := waitState(t, reg, 3*time.Second, "registered", func(s Status) bool { return s.State == StateRegistered })
	if left := time.Until(st.RegisteredUntil); left < 110*time.Second || left > 120*time.Second {
		t.Errorf("registered for %s, want the 120s granted", left)
	}
	if got := st.NextAttempt.Sub(st.LastSuccess); got != 90*time.Second {
		t.Errorf("refresh in %s, want expiry-30s = 90s", got)
	}
	reqs := op.wait(t, 2, time.Second)
	if header(reqs[0], "Expires") != "60" || header(reqs[1], "Expires") != "120" || reqs[1].CSeq().SeqNo != 2 {
		t.Errorf("Expires %q then %q (CSeq %d)", header(reqs[0], "Expires"), header(reqs[1], "Expires"), reqs[1].CSeq().SeqNo)
	}
}

// TestCredentialsRefused: a registrar that challenges the credentials it
// was just given (wrong password) ends the attempt rather than loop.
func TestCredentialsRefused(t *testing.T) {
	s := startSentral(t)
	op := startOperator(t, func(n int, req *sip.Request) *sip.Response {
		return challenge(req, `Digest realm="operator.test", nonce="same", algorithm=MD5, qop="auth"`)
	})
	o := fast
	o.RetryMin, o.RetryMax = 5*time.Second, 5*time.Second
	reg, err := NewRegistration(s.client, op.trunk("centrex"), s.contact, zaptest.NewLogger(t), o)
	if err != nil {
		t.Fatal(err)
	}
	run(t, reg)
	st := waitState(t, reg, 3*time.Second, "failed", func(s Status) bool { return s.State == StateFailed })
	if st.Code != 401 || !strings.Contains(st.Error, "refused") {
		t.Errorf("status: %+v", st)
	}
	time.Sleep(200 * time.Millisecond)
	if n := op.count(); n != 2 {
		t.Fatalf("operator received %d requests, want 2 (no loop)", n)
	}
}

// TestStaleNonce: when the registrar expires the nonce a refresh used
// (stale=true), the new nonce is answered from nonce count 1.
func TestStaleNonce(t *testing.T) {
	s := startSentral(t)
	op := startOperator(t, func(n int, req *sip.Request) *sip.Response {
		cred, good := verify(req, opPassword)
		switch {
		case n == 1:
			return challenge(req, `Digest realm="operator.test", nonce="old", algorithm=MD5, qop="auth"`)
		case cred != nil && cred.Nonce == "old" && n > 2:
			return challenge(req, `Digest realm="operator.test", nonce="new", algorithm=MD5, qop="auth", stale=true`)
		case good:
			return ok(req, 1)
		}
		return status(req, sip.StatusForbidden, "Forbidden")
	})
	reg, err := NewRegistration(s.client, op.trunk("centrex"), s.contact, zaptest.NewLogger(t), fast)
	if err != nil {
		t.Fatal(err)
	}
	run(t, reg)
	reqs := op.wait(t, 5, 3*time.Second) // 401, 200, stale 401, 200, refresh
	want := []struct {
		nonce string
		nc    int
	}{{"", 0}, {"old", 1}, {"old", 2}, {"new", 1}, {"new", 2}}
	for i, w := range want {
		cred, _ := verify(reqs[i], opPassword)
		switch {
		case w.nonce == "" && cred != nil:
			t.Errorf("request %d carried credentials", i+1)
		case w.nonce != "" && (cred == nil || cred.Nonce != w.nonce || cred.Nc != w.nc):
			t.Errorf("request %d: credentials %+v, want nonce %s nc %d", i+1, cred, w.nonce, w.nc)
		}
	}
	if st := reg.Status(); st.State != StateRegistered {
		t.Errorf("status: %+v", st)
	}
}

// TestTimeout: a registrar that never answers fails the attempt after
// Timeout, with no status code.
func TestTimeout(t *testing.T) {
	s := startSentral(t)
	op := startOperator(t, func(int, *sip.Request) *sip.Response { return nil })
	o := fast
	o.Timeout, o.RetryMin, o.RetryMax = 300*time.Millisecond, 5*time.Second, 5*time.Second
	reg, err := NewRegistration(s.client, op.trunk("centrex"), s.contact, zaptest.NewLogger(t), o)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	stop := run(t, reg)
	st := waitState(t, reg, 3*time.Second, "failed", func(s Status) bool { return s.State == StateFailed })
	if took := time.Since(start); took < 300*time.Millisecond {
		t.Errorf("failed after %s, before the timeout", took)
	}
	if st.Code != 0 || !strings.Contains(st.Error, "no final response") || st.Attempts != 1 {
		t.Errorf("status: %+v", st)
	}
	// Never registered: nothing to unregister, so stopping is immediate.
	n := op.count()
	begin := time.Now()
	stop()
	if took := time.Since(begin); took > 500*time.Millisecond {
		t.Errorf("stop took %s", took)
	}
	if op.count() != n {
		t.Error("an unregister was sent for a registration that never succeeded")
	}
}

// TestRetryAfter: a 503's Retry-After pushes the next attempt past the
// backoff; the attempts counter and status line are reported.
func TestRetryAfter(t *testing.T) {
	s := startSentral(t)
	op := startOperator(t, func(n int, req *sip.Request) *sip.Response {
		return status(req, sip.StatusServiceUnavailable, "Service Unavailable", "Retry-After: 7 (maintenance)")
	})
	reg, err := NewRegistration(s.client, op.trunk("centrex"), s.contact, zaptest.NewLogger(t), fast)
	if err != nil {
		t.Fatal(err)
	}
	run(t, reg)
	st := waitState(t, reg, 3*time.Second, "failed", func(s Status) bool { return s.State == StateFailed })
	if st.Code != 503 || st.Reason != "Service Unavailable" || st.Attempts != 1 || !st.RegisteredUntil.IsZero() {
		t.Errorf("status: %+v", st)
	}
	if wait := time.Until(st.NextAttempt); wait < 6*time.Second || wait > 7*time.Second {
		t.Errorf("next attempt in %s, want Retry-After's 7s", wait)
	}
}

// TestBackoffSchedule: consecutive failures space out attempts by the
// doubling schedule, and a success resets it.
func TestBackoffSchedule(t *testing.T) {
	s := startSentral(t)
	var mu sync.Mutex
	var at []time.Time
	op := startOperator(t, func(n int, req *sip.Request) *sip.Response {
		mu.Lock()
		at = append(at, time.Now())
		mu.Unlock()
		if n == 4 {
			return ok(req, 60)
		}
		return status(req, sip.StatusForbidden, "Forbidden")
	})
	o := fast
	o.RetryMin, o.RetryMax = 100*time.Millisecond, 200*time.Millisecond
	reg, err := NewRegistration(s.client, op.trunk("centrex"), s.contact, zaptest.NewLogger(t), o)
	if err != nil {
		t.Fatal(err)
	}
	run(t, reg)
	op.wait(t, 3, 3*time.Second)
	st := waitState(t, reg, 3*time.Second, "registered", func(s Status) bool { return s.State == StateRegistered })
	if st.Attempts != 0 || st.Code != 200 {
		t.Errorf("status after recovery: %+v", st)
	}
	mu.Lock()
	defer mu.Unlock()
	// Waits: 100ms, 200ms, 200ms (capped), each shortened by jitter up
	// to a quarter; allow scheduling slack on a busy machine above.
	for i, want := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 200 * time.Millisecond} {
		if gap := at[i+1].Sub(at[i]); gap < want*3/4 || gap > want+time.Second {
			t.Errorf("gap %d = %s, want about %s", i+1, gap, want)
		}
	}
}

func TestNewRegistrationRefuses(t *testing.T) {
	s := startSentral(t)
	good := store.Trunk{Name: "x", Mode: store.TrunkRegister, Host: "192.0.2.1", Port: 5060, Transport: "udp", Username: "u"}
	for name, mut := range map[string]func(*store.Trunk){
		"no host":       func(t *store.Trunk) { t.Host = "" },
		"no username":   func(t *store.Trunk) { t.Username = "" },
		"bad transport": func(t *store.Trunk) { t.Transport = "sctp" },
	} {
		tr := good
		mut(&tr)
		if _, err := NewRegistration(s.client, tr, s.contact, nil, Options{}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := NewRegistration(nil, good, s.contact, nil, Options{}); err == nil {
		t.Error("nil client accepted")
	}
}

func TestListenerContacts(t *testing.T) {
	ls := []Listener{{"udp", "0.0.0.0:5060"}, {"tcp", "192.0.2.7:5070"}, {"udp", "192.0.2.7:5080"}}
	tr := func(transport string) store.Trunk {
		return store.Trunk{Name: "t", Host: "127.0.0.1", Port: 5060, Transport: transport}
	}
	ctx := context.Background()
	for _, tc := range []struct {
		advertise, transport string
		want                 Contact
	}{
		// A wildcard listener: the address towards the trunk's host.
		{"", "udp", Contact{Host: "127.0.0.1", Port: 5060, LocalAddr: "0.0.0.0:5060"}},
		{"pbx.example.no", "udp", Contact{Host: "pbx.example.no", Port: 5060, LocalAddr: "0.0.0.0:5060"}},
		{"", "tcp", Contact{Host: "192.0.2.7", Port: 5070}},
		{"", "", Contact{Host: "127.0.0.1", Port: 5060, LocalAddr: "0.0.0.0:5060"}}, // udp by default
	} {
		got, err := ListenerContacts(ls, tc.advertise)(ctx, tr(tc.transport))
		if err != nil || got != tc.want {
			t.Errorf("advertise %q transport %q: %+v, %v; want %+v", tc.advertise, tc.transport, got, err, tc.want)
		}
	}
	if _, err := ListenerContacts(ls, "")(ctx, tr("tls")); err == nil {
		t.Error("tls trunk without a tls listener accepted")
	}
	// An IPv6 operator is reached from the IPv6 listener, an IPv4 one from
	// the IPv4 listener, whatever the order of the listeners.
	dual := []Listener{{"udp", "127.0.0.1:5060"}, {"udp", "[::1]:5062"}}
	v6 := store.Trunk{Name: "v6", Host: "::1", Port: 5060, Transport: "udp"}
	if got, err := ListenerContacts(dual, "")(ctx, v6); err != nil || got != (Contact{Host: "::1", Port: 5062, LocalAddr: "[::1]:5062"}) {
		t.Errorf("IPv6 trunk: %+v, %v", got, err)
	}
	v4 := store.Trunk{Name: "v4", Host: "127.0.0.1", Port: 5060, Transport: "udp"}
	if got, err := ListenerContacts([]Listener{dual[1], dual[0]}, "")(ctx, v4); err != nil || got.LocalAddr != "127.0.0.1:5060" {
		t.Errorf("IPv4 trunk: %+v, %v", got, err)
	}
}

// Every REGISTER we make must be one sipgo does not touch: check our
// builder alone yields a complete request (RFC 3261 §8.1.1).
func TestRequestComplete(t *testing.T) {
	reg, err := NewRegistration(&sipgo.Client{}, store.Trunk{Name: "t", Host: "sip.operator.test", Port: 5060, Transport: "tcp",
		Username: "u1", Password: "p"}, func(context.Context, store.Trunk) (Contact, error) {
		return Contact{Host: "192.0.2.7", Port: 5070}, nil
	}, nil, Options{Instance: "urn:uuid:00000000-0000-0000-0000-000000000001"})
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.resolveContact(context.Background()); err != nil {
		t.Fatal(err)
	}
	req, err := reg.request(time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"Via", "From", "To", "Call-ID", "CSeq", "Max-Forwards", "Contact", "Expires", "Content-Length"} {
		if req.GetHeader(h) == nil {
			t.Errorf("no %s header", h)
		}
	}
	want := "REGISTER sip:sip.operator.test:5060;transport=tcp SIP/2.0"
	if got := req.StartLine(); got != want {
		t.Errorf("start line %q, want %q", got, want)
	}
	if got := header(req, "Contact"); got != `<sip:u1@192.0.2.7:5070;transport=tcp>;+sip.instance="<urn:uuid:00000000-0000-0000-0000-000000000001>"` {
		t.Errorf("Contact %s", got)
	}
	if got := header(req, "Via"); !strings.HasPrefix(got, "SIP/2.0/TCP 192.0.2.7:5070;branch=z9hG4bK") || !strings.Contains(got, "rport") {
		t.Errorf("Via %s", got)
	}
	if req.Transport() != "TCP" || req.Destination() != "sip.operator.test:5060" || req.Laddr.IP != nil {
		t.Errorf("transport %s destination %s laddr %v", req.Transport(), req.Destination(), req.Laddr)
	}
}

// TestListenerNotServing: until sip/server serves its UDP listener, sipgo
// cannot send from it (it tries to bind the port again); the attempt
// fails with a message that says so and is retried.
func TestListenerNotServing(t *testing.T) {
	srv, err := server.New(server.Options{Listen: []server.Listener{{Network: "udp", Addr: "127.0.0.1:0"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	client, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	op := startOperator(t, func(n int, req *sip.Request) *sip.Response { return ok(req, 60) })
	o := fast
	o.RetryMin, o.RetryMax = 5*time.Second, 5*time.Second
	reg, err := NewRegistration(client, op.trunk("centrex"), ListenerContacts([]Listener{{"udp", srv.Addr("udp")}}, ""), zaptest.NewLogger(t), o)
	if err != nil {
		t.Fatal(err)
	}
	run(t, reg)
	st := waitState(t, reg, 3*time.Second, "failed", func(s Status) bool { return s.State == StateFailed })
	if !strings.Contains(st.Error, "not serving") || !strings.Contains(st.Error, srv.Addr("udp")) {
		t.Errorf("error %q does not name the idle listener", st.Error)
	}
	if err := reg.Run(context.Background()); err == nil {
		t.Error("second Run accepted")
	}
}
