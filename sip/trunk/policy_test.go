package trunk

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

func TestRefreshAfter(t *testing.T) {
	const floor = 5 * time.Second
	for _, tc := range []struct {
		granted, want time.Duration
	}{
		{time.Hour, 48 * time.Minute},                                        // 80% is earlier than expiry-30s
		{600 * time.Second, 480 * time.Second},                               // still 80%
		{150 * time.Second, 120 * time.Second},                               // 80% and expiry-30s meet
		{120 * time.Second, 90 * time.Second},                                // expiry-30s is earlier
		{60 * time.Second, 30 * time.Second},                                 // expiry-30s is half-time
		{40 * time.Second, 20 * time.Second},                                 // short: half-time, not 10s
		{20 * time.Second, 10 * time.Second},                                 // half-time
		{8 * time.Second, floor},                                             // never below the floor
		{2 * time.Second, floor},                                             // even past the expiry
		{0, floor},                                                           // nonsense in, floor out
		{math.MaxUint32 * time.Second, math.MaxUint32 * time.Second / 5 * 4}, // saturated expiry
	} {
		if got := refreshAfter(tc.granted, floor); got != tc.want {
			t.Errorf("refreshAfter(%s) = %s, want %s", tc.granted, got, tc.want)
		}
	}
	if got := refreshAfter(2*time.Second, 200*time.Millisecond); got != time.Second {
		t.Errorf("test floor: refreshAfter(2s) = %s, want 1s", got)
	}
}

func TestBackoff(t *testing.T) {
	const base, limit = 2 * time.Second, 5 * time.Minute
	for _, tc := range []struct {
		n      int
		jitter float64
		want   time.Duration
	}{
		{1, 0, 2 * time.Second},
		{2, 0, 4 * time.Second},
		{3, 0, 8 * time.Second},
		{4, 0, 16 * time.Second},
		{8, 0, 256 * time.Second},
		{9, 0, limit}, // 512 s capped
		{50, 0, limit},
		{1 << 30, 0, limit}, // no overflow however long the outage
		{1, 0.999999, 1500*time.Millisecond + 500*time.Nanosecond},
		{1, 0.5, 1750 * time.Millisecond},
		{9, 0.5, limit - limit/8},
		{3, -1, 8 * time.Second}, // out-of-range draws are clamped
		{3, 2, 6 * time.Second},
	} {
		if got := backoff(tc.n, base, limit, tc.jitter); got != tc.want {
			t.Errorf("backoff(%d, jitter %v) = %s, want %s", tc.n, tc.jitter, got, tc.want)
		}
	}
	// Jitter only shortens: the schedule stays within [75%, 100%].
	for n := 1; n < 20; n++ {
		hi := backoff(n, base, limit, 0)
		for _, j := range []float64{0.1, 0.5, 0.9} {
			if got := backoff(n, base, limit, j); got > hi || got < hi*3/4 {
				t.Errorf("backoff(%d, %v) = %s outside [%s, %s]", n, j, got, hi*3/4, hi)
			}
		}
	}
}

func TestRetryDelay(t *testing.T) {
	for _, tc := range []struct {
		backoff, retryAfter, want time.Duration
	}{
		{2 * time.Second, 0, 2 * time.Second},
		{2 * time.Second, 30 * time.Second, 30 * time.Second}, // operator asks for longer
		{time.Minute, 10 * time.Second, time.Minute},          // never shorter than backoff
		{2 * time.Second, 24 * time.Hour, maxRetryAfter},      // bounded
	} {
		if got := retryDelay(tc.backoff, tc.retryAfter); got != tc.want {
			t.Errorf("retryDelay(%s, %s) = %s, want %s", tc.backoff, tc.retryAfter, got, tc.want)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"120", 120 * time.Second, true},
		{" 5 ", 5 * time.Second, true},
		{"18000;duration=3600", 18000 * time.Second, true},
		{"120 (I'm in a meeting)", 120 * time.Second, true},
		{"120(maintenance)", 120 * time.Second, true},
		{"0", 0, true},
		{"99999999999999999999", math.MaxUint32 * time.Second, true},
		{"", 0, false},
		{"soon", 0, false},
		{"-5", 0, false},
		{"1.5", 0, false},
		{"Fri, 31 Dec 1999 23:59:59 GMT", 0, false}, // HTTP dates are not SIP
	} {
		got, ok := parseRetryAfter(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseRetryAfter(%q) = %s, %v; want %s, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestParseDeltaSeconds(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"3600", time.Hour, true},
		{"0", 0, true},
		{"007", 7 * time.Second, true},
		{"4294967295", math.MaxUint32 * time.Second, true},
		{"4294967296", math.MaxUint32 * time.Second, true},
		{"3600;x", 0, false},
		{"+5", 0, false},
		{" ", 0, false},
	} {
		got, ok := parseDeltaSeconds(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseDeltaSeconds(%q) = %s, %v; want %s, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestGrantedExpiry(t *testing.T) {
	self := sip.Uri{Scheme: "sip", User: "trunk", Host: "192.0.2.10", Port: 5060,
		UriParams: sip.HeaderParams{{K: "transport", V: "udp"}}}
	const asked = time.Hour
	for _, tc := range []struct {
		name    string
		headers []string // "Name: value"
		want    time.Duration
	}{
		{"our contact's param", []string{
			"Contact: <sip:other@198.51.100.1:5060>;expires=900",
			"Contact: <sip:trunk@192.0.2.10:5060;transport=udp>;expires=300",
			"Expires: 600",
		}, 300 * time.Second},
		{"param name in capitals", []string{"Contact: <sip:trunk@192.0.2.10:5060>;EXPIRES=120"}, 120 * time.Second},
		{"rewritten single contact", []string{"Contact: <sip:trunk@203.0.113.5:40000>;expires=60"}, time.Minute},
		{"several others: Expires header", []string{
			"Contact: <sip:a@198.51.100.1>;expires=1",
			"Contact: <sip:b@198.51.100.2>;expires=2",
			"Expires: 1800",
		}, 1800 * time.Second},
		{"Expires header only", []string{"Expires: 1200"}, 1200 * time.Second},
		{"nothing: what we asked", nil, asked},
		{"garbage param falls through", []string{"Contact: <sip:trunk@192.0.2.10:5060>;expires=soon", "Expires: 90"}, 90 * time.Second},
		{"zero", []string{"Contact: <sip:trunk@192.0.2.10:5060>;expires=0"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := parseResponse(t, tc.headers)
			if got := grantedExpiry(res, self, asked); got != tc.want {
				t.Errorf("granted = %s, want %s", got, tc.want)
			}
		})
	}
}

// parseResponse parses a 200 to a REGISTER carrying headers.
func parseResponse(t *testing.T, headers []string) *sip.Response {
	t.Helper()
	raw := "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK1\r\n" +
		"From: <sip:trunk@operator.test>;tag=a\r\nTo: <sip:trunk@operator.test>;tag=b\r\n" +
		"Call-ID: x@sentral\r\nCSeq: 2 REGISTER\r\n"
	for _, h := range headers {
		raw += h + "\r\n"
	}
	raw += "Content-Length: 0\r\n\r\n"
	msg, err := sip.NewParser().ParseSIP([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	return msg.(*sip.Response)
}

func TestPickChallenge(t *testing.T) {
	const (
		md5     = `Digest realm="operator.test", nonce="n1", algorithm=MD5, qop="auth"`
		sha     = `Digest realm="operator.test", nonce="n2", algorithm=SHA-256, qop="auth"`
		plain   = `Digest realm="operator.test", nonce="n3"`
		other   = `Digest realm="elsewhere.test", nonce="n4", algorithm=MD5`
		sess    = `Digest realm="operator.test", nonce="n5", algorithm=MD5-sess, qop="auth"`
		intOnly = `Digest realm="operator.test", nonce="n6", qop="auth-int"`
		spaced  = `Digest realm="operator.test", nonce="n7", qop="auth-int, auth"`
		tokenQ  = `Digest realm="operator.test", nonce="n8", qop="other"`
	)
	for _, tc := range []struct {
		name      string
		values    []string
		realm     string
		wantNonce string
		wantErr   error
	}{
		{"first usable in the registrar's order", []string{sha, md5}, "", "n2", nil},
		{"md5 first", []string{md5, sha}, "", "n1", nil},
		{"no algorithm means MD5, no qop is RFC 2069", []string{plain}, "", "n3", nil},
		{"unsupported algorithm skipped", []string{sess, md5}, "", "n1", nil},
		{"only unsupported", []string{sess}, "", "", errNoChallenge},
		{"auth-int only is answerable", []string{intOnly}, "", "n6", nil},
		{"spaces in the qop list", []string{spaced}, "", "n7", nil},
		{"unknown qop skipped", []string{tokenQ}, "", "", errNoChallenge},
		{"realm matches", []string{md5}, "operator.test", "n1", nil},
		{"realm differs: refuse", []string{other}, "operator.test", "", errRealmMismatch},
		{"realm: skip the foreign one", []string{other, md5}, "operator.test", "n1", nil},
		{"realm is case-sensitive", []string{md5}, "Operator.test", "", errRealmMismatch},
		{"no realm configured: any", []string{other}, "", "n4", nil},
		{"not digest", []string{`Basic realm="x"`}, "", "", errNoChallenge},
		{"nothing", nil, "", "", errNoChallenge},
		{"no nonce", []string{`Digest realm="operator.test"`}, "", "", errNoChallenge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := pickChallenge(tc.values, tc.realm)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				if tc.wantErr == errRealmMismatch && !strings.Contains(err.Error(), "elsewhere.test") && !strings.Contains(err.Error(), "operator.test") {
					t.Errorf("realm error does not name the realms: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Nonce != tc.wantNonce {
				t.Errorf("picked nonce %q, want %q", c.Nonce, tc.wantNonce)
			}
		})
	}
}

func TestBackoffHugeCap(t *testing.T) {
	const limit = time.Duration(math.MaxInt64)
	if got := backoff(100, time.Second, limit, 0); got != limit {
		t.Errorf("backoff with an unbounded cap = %s, want the cap", got)
	}
}
