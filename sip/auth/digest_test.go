package auth

import (
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/icholy/digest"
)

// responseHex is the test view of the response computation.
func responseHex(alg algo, ha1, method, uri, nonce, nc, cnonce, qop string) string {
	return hex.EncodeToString((&scratch{}).response(alg, ha1, method, uri, nonce, nc, cnonce, qop))
}

func mustHA1(t testing.TB, alg, user, realm, pass string) string {
	t.Helper()
	h, err := HA1(alg, user, realm, pass)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestResponseVectors(t *testing.T) {
	const (
		user, pass = "Mufasa", "Circle of Life"
		realm      = "http-auth@example.org"
		uri        = "/dir/index.html"
		nonce      = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
		cnonce     = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
	)
	// RFC 2617 §3.5 example (password "Circle Of Life", as printed there).
	const (
		realm2617 = "testrealm@host.com"
		nonce2617 = "dcd98b7102dd2f0e8b11d0f600bfb0c093"
	)
	tests := []struct {
		name                              string
		alg                               algo
		ha1, nonce, nc, cnonce, qop, want string
	}{
		{"RFC 7616 §3.9.1 MD5", algoMD5, mustHA1(t, MD5, user, realm, pass), nonce, "00000001", cnonce, "auth",
			"8ca523f5e9506fed4657c9700eebdbec"},
		{"RFC 7616 §3.9.1 SHA-256", algoSHA256, mustHA1(t, SHA256, user, realm, pass), nonce, "00000001", cnonce, "auth",
			"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"},
		{"RFC 7616 MD5, upper-case stored HA1", algoMD5, strings.ToUpper(mustHA1(t, MD5, user, realm, pass)), nonce, "00000001", cnonce, "auth",
			"8ca523f5e9506fed4657c9700eebdbec"},
		{"RFC 2617 §3.5", algoMD5, mustHA1(t, MD5, user, realm2617, "Circle Of Life"), nonce2617, "00000001", "0a4f113b", "auth",
			"6629fae49393a05397450978507c4ef1"},
		// RFC 2069 style, no qop. Computed independently with Python hashlib:
		// the example response printed in RFC 2069 is known to be wrong.
		{"no qop", algoMD5, mustHA1(t, MD5, user, realm2617, "Circle Of Life"), nonce2617, "", "", "",
			"670fd8c2df070c60b045671b8b24ff02"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := responseHex(tt.alg, tt.ha1, "GET", uri, tt.nonce, tt.nc, tt.cnonce, tt.qop)
			if got != tt.want {
				t.Errorf("response = %s, want %s", got, tt.want)
			}
		})
	}
}

const (
	testRealm = "fjordvik.example"
	testUser  = "2001"
	testPass  = "S3cret-pass"
	testURI   = "sip:fjordvik.example"
)

// fixture is an Authenticator on a settable clock with one user.
type fixture struct {
	a     *Authenticator
	mu    sync.Mutex
	now   time.Time
	creds Credentials
}

func newFixture(t testing.TB, opts Options) *fixture {
	f := &fixture{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	opts.Now = f.clock
	f.a = NewAuthenticator(opts)
	f.creds = Credentials{
		HA1MD5:    mustHA1(t, MD5, testUser, testRealm, testPass),
		HA1SHA256: mustHA1(t, SHA256, testUser, testRealm, testPass),
	}
	return f
}

func (f *fixture) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

func (f *fixture) lookup(user string) (Credentials, bool) {
	if user == testUser {
		return f.creds, true
	}
	return Credentials{}, false
}

func (f *fixture) verify(method, header string) Result {
	return f.a.Verify(method, header, testRealm, f.lookup)
}

// challenges returns our challenges parsed by icholy/digest, as a client
// would see them: SHA-256 first, then MD5.
func (f *fixture) challenges(t testing.TB, realm string, stale bool) []*digest.Challenge {
	t.Helper()
	var out []*digest.Challenge
	for _, h := range f.a.Challenge(realm, stale) {
		c, err := digest.ParseChallenge(h)
		if err != nil {
			t.Fatalf("client cannot parse challenge %q: %v", h, err)
		}
		out = append(out, c)
	}
	return out
}

// sign answers chal as a client with icholy/digest (an implementation
// independent of ours), letting mutate alter the credentials before the
// header is formatted.
func sign(t testing.TB, chal *digest.Challenge, user, pass, method string, nc int, mutate func(*digest.Credentials)) string {
	t.Helper()
	cred, err := digest.Digest(chal, digest.Options{
		Method: method, URI: testURI, Username: user, Password: pass, Count: nc,
	})
	if err != nil {
		t.Fatal(err)
	}
	if mutate != nil {
		mutate(cred)
	}
	return cred.String()
}

func TestChallengeFormat(t *testing.T) {
	f := newFixture(t, Options{})
	got := f.a.Challenge(`Fjordvik "HQ"`, false)
	if len(got) != 2 {
		t.Fatalf("got %d challenges, want 2", len(got))
	}
	for i, alg := range []string{SHA256, MD5} {
		c, err := digest.ParseChallenge(got[i])
		if err != nil {
			t.Fatalf("parse %q: %v", got[i], err)
		}
		if c.Algorithm != alg || c.Realm != `Fjordvik "HQ"` || !c.SupportsQOP("auth") || c.Stale || len(c.Nonce) != nonceLen {
			t.Errorf("challenge %d = %+v", i, c)
		}
	}
	if !strings.HasPrefix(got[0], `Digest realm="Fjordvik \"HQ\"", nonce="`) {
		t.Errorf("challenge = %s", got[0])
	}
	for _, h := range f.a.Challenge(testRealm, true) {
		if !strings.HasSuffix(h, ", stale=true") {
			t.Errorf("stale challenge = %s", h)
		}
	}
	if a, b := f.a.Challenge(testRealm, false), f.a.Challenge(testRealm, false); a[0] == b[0] {
		t.Error("two challenges share a nonce")
	}
}

func TestVerifyRoundTrip(t *testing.T) {
	f := newFixture(t, Options{})
	tests := []struct {
		name string
		alg  int // index into Challenge's answer: 0 SHA-256, 1 MD5
		chal func(*digest.Challenge)
		mut  func(*digest.Credentials)
	}{
		{"SHA-256", 0, nil, nil},
		{"MD5", 1, nil, nil},
		{"MD5 no qop (RFC 2069)", 1, func(c *digest.Challenge) { c.QOP = nil }, nil},
		{"algorithm absent means MD5", 1, func(c *digest.Challenge) { c.Algorithm = "" }, nil},
		{"algorithm lower case", 0, func(c *digest.Challenge) { c.Algorithm = "sha-256" }, nil},
		{"opaque echoed", 1, nil, func(c *digest.Credentials) { c.Opaque = "x" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chal := f.challenges(t, testRealm, false)[tt.alg]
			if tt.chal != nil {
				tt.chal(chal)
			}
			h := sign(t, chal, testUser, testPass, "REGISTER", 1, tt.mut)
			res := f.verify("REGISTER", h)
			if !res.OK || res.User != testUser || res.Stale || res.Reason != "" {
				t.Fatalf("Verify(%s) = %+v", h, res)
			}
		})
	}
}

func TestVerifyFailures(t *testing.T) {
	f := newFixture(t, Options{NonceTTL: time.Minute})
	chals := f.challenges(t, testRealm, false)
	sha, md := chals[0], chals[1]
	other := f.challenges(t, "other.example", false)[1]
	good := sign(t, md, testUser, testPass, "REGISTER", 1, nil)

	tampered := []byte(md.Nonce)
	tampered[5] ^= 1
	if tampered[5] == '-' || tampered[5] == '_' {
		tampered[5] = 'A'
	}

	tests := []struct {
		name   string
		header string
		method string
		reason string
		user   string
	}{
		{"wrong password", sign(t, md, testUser, "guess", "REGISTER", 1, nil), "", reasonResponse, testUser},
		{"unknown user", sign(t, md, "9999", testPass, "REGISTER", 1, nil), "", reasonUnknownUser, "9999"},
		{"wrong method", good, "INVITE", reasonResponse, testUser},
		{"wrong realm", sign(t, other, testUser, testPass, "REGISTER", 1, nil), "", reasonRealm, testUser},
		{"realm edited", strings.Replace(good, testRealm, "other.example", 1), "", reasonRealm, testUser},
		{"tampered nonce", strings.Replace(good, md.Nonce, string(tampered), 1), "", reasonNonce, testUser},
		{"nonce of other realm", sign(t, &digest.Challenge{Realm: testRealm, Nonce: other.Nonce, Algorithm: MD5, QOP: []string{"auth"}}, testUser, testPass, "REGISTER", 1, nil), "", reasonNonce, testUser},
		{"foreign nonce", sign(t, &digest.Challenge{Realm: testRealm, Nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093", Algorithm: MD5, QOP: []string{"auth"}}, testUser, testPass, "REGISTER", 1, nil), "", reasonNonce, testUser},
		{"uri edited", strings.Replace(good, testURI, "sip:evil.example", 1), "", reasonResponse, testUser},
		{"response edited", good[:len(good)-2] + map[bool]string{true: "1", false: "0"}[good[len(good)-2] == '0'] + `"`, "", reasonResponse, testUser},
		{"MD5 response labelled SHA-256", sign(t, md, testUser, testPass, "REGISTER", 1, func(c *digest.Credentials) { c.Algorithm = SHA256 }), "", reasonMalformed, testUser},
		{"MD5-sess", sign(t, md, testUser, testPass, "REGISTER", 1, func(c *digest.Credentials) { c.Algorithm = "MD5-sess" }), "", reasonAlgorithm, testUser},
		{"SHA-512-256", strings.Replace(good, "algorithm=MD5", "algorithm=SHA-512-256", 1), "", reasonAlgorithm, testUser},
		{"auth-int", strings.Replace(good, "qop=auth", "qop=auth-int", 1), "", reasonQOP, testUser},
		{"userhash", sign(t, md, testUser, testPass, "REGISTER", 1, func(c *digest.Credentials) { c.Userhash = true }), "", reasonUserhash, testUser},
		{"qop without nc", strings.Replace(good, "nc=00000001", "foo=1", 1), "", reasonMalformed, testUser},
		{"nc zero", sign(t, md, testUser, testPass, "REGISTER", 1, func(c *digest.Credentials) { c.Nc = 0 }), "", reasonMalformed, testUser},
		{"nc too long", strings.Replace(good, "nc=00000001", "nc=000000001", 1), "", reasonMalformed, testUser},
		{"nc not hex", strings.Replace(good, "nc=00000001", "nc=0000000g", 1), "", reasonMalformed, testUser},
		{"qop without cnonce", sign(t, md, testUser, testPass, "REGISTER", 1, func(c *digest.Credentials) { c.Cnonce = "" }), "", reasonMalformed, testUser},
		{"SHA-256 with no stored HA1", sign(t, sha, "2002", testPass, "REGISTER", 1, nil), "", reasonNoHA1, "2002"},
		{"bad stored HA1", sign(t, md, "2003", testPass, "REGISTER", 1, nil), "", reasonBadHA1, "2003"},
		{"basic", "Basic MjAwMTpTM2NyZXQ=", "", reasonScheme, ""},
		{"empty", "", "", reasonMalformed, ""},
		{"scheme only", "Digest", "", reasonMalformed, ""},
		{"scheme glued", `Digestusername="2001"`, "", reasonScheme, ""},
		{"garbage", "\x00\xff\"\\,,==", "", reasonMalformed, ""},
		{"missing response", strings.Split(good, ", response=")[0], "", reasonMalformed, testUser},
		{"missing nonce", strings.Replace(good, "nonce=", "xnonce=", 1), "", reasonMalformed, testUser},
		{"missing username", strings.Replace(good, "username=", "xusername=", 1), "", reasonMalformed, ""},
		{"duplicate username", strings.Replace(good, "Digest ", `Digest username="2002", `, 1), "", reasonMalformed, "2002"},
		{"unterminated quote", good[:len(good)-1], "", reasonMalformed, testUser},
		{"no equals", `Digest username "2001"`, "", reasonMalformed, ""},
		{"empty value", `Digest username=, realm="x"`, "", reasonMalformed, ""},
		{"trailing junk", good + ` x`, "", reasonMalformed, testUser},
		{"too long", good + ", x=\"" + strings.Repeat("a", maxHeader) + "\"", "", reasonMalformed, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = "REGISTER"
			}
			res := f.a.Verify(method, tt.header, testRealm, func(user string) (Credentials, bool) {
				switch user {
				case "2002":
					return Credentials{HA1MD5: f.creds.HA1MD5}, true
				case "2003":
					return Credentials{HA1MD5: "zz" + f.creds.HA1MD5[2:]}, true
				}
				return f.lookup(user)
			})
			want := Result{User: tt.user, Reason: tt.reason}
			if res != want {
				t.Errorf("Verify(%q) = %+v, want %+v", tt.header, res, want)
			}
		})
	}
	// The header none of the failures consumed is still good.
	if res := f.verify("REGISTER", good); !res.OK {
		t.Errorf("good header after failures: %+v", res)
	}
}

// TestVerifyIndistinguishable: what the caller sees (all but Reason) is the
// same for an unknown user, a wrong password and a missing HA1.
func TestVerifyIndistinguishable(t *testing.T) {
	f := newFixture(t, Options{})
	md := f.challenges(t, testRealm, false)[1]
	sha := f.challenges(t, testRealm, false)[0]
	lookups := map[string]func(string) (Credentials, bool){
		"unknown user":   func(string) (Credentials, bool) { return Credentials{}, false },
		"wrong password": f.lookup,
		"no SHA-256 HA1": func(string) (Credentials, bool) { return Credentials{HA1MD5: f.creds.HA1MD5}, true },
	}
	for _, chal := range []*digest.Challenge{md, sha} {
		var first *Result
		for name, lookup := range lookups {
			pass := "wrong"
			if name == "no SHA-256 HA1" && chal == sha {
				pass = testPass
			}
			h := sign(t, chal, testUser, pass, "REGISTER", 1, nil)
			res := f.a.Verify("REGISTER", h, testRealm, lookup)
			res.Reason = ""
			if first == nil {
				first = &res
			} else if res != *first {
				t.Errorf("%s %s: %+v differs from %+v", chal.Algorithm, name, res, *first)
			}
		}
	}
}

func TestVerifyStale(t *testing.T) {
	f := newFixture(t, Options{NonceTTL: time.Minute})
	md := f.challenges(t, testRealm, false)[1]
	f.advance(time.Minute) // exactly the TTL: still fresh
	if res := f.verify("REGISTER", sign(t, md, testUser, testPass, "REGISTER", 1, nil)); !res.OK {
		t.Fatalf("at TTL: %+v", res)
	}
	f.advance(time.Second)
	res := f.verify("REGISTER", sign(t, md, testUser, testPass, "REGISTER", 2, nil))
	if want := (Result{User: testUser, Stale: true, Reason: reasonExpired}); res != want {
		t.Errorf("expired nonce, right password: %+v, want %+v", res, want)
	}
	// Stale is only for clients that know the password.
	res = f.verify("REGISTER", sign(t, md, testUser, "wrong", "REGISTER", 3, nil))
	if want := (Result{User: testUser, Reason: reasonResponse}); res != want {
		t.Errorf("expired nonce, wrong password: %+v, want %+v", res, want)
	}
	res = f.verify("REGISTER", sign(t, md, "9999", "wrong", "REGISTER", 3, nil))
	if want := (Result{User: "9999", Reason: reasonUnknownUser}); res != want {
		t.Errorf("expired nonce, unknown user: %+v, want %+v", res, want)
	}
	// The client's retry with a fresh nonce works.
	md = f.challenges(t, testRealm, true)[1]
	if !md.Stale {
		t.Error("challenge lost stale=true")
	}
	if res := f.verify("REGISTER", sign(t, md, testUser, testPass, "REGISTER", 1, nil)); !res.OK {
		t.Errorf("after stale: %+v", res)
	}
	// A nonce from a clock far ahead (a peer node, or ours stepped back).
	md = f.challenges(t, testRealm, false)[1]
	f.advance(-2 * time.Minute)
	res = f.verify("REGISTER", sign(t, md, testUser, testPass, "REGISTER", 1, nil))
	if !res.Stale || res.OK {
		t.Errorf("nonce from the future: %+v", res)
	}
}

func TestVerifyReplay(t *testing.T) {
	f := newFixture(t, Options{})
	sha := f.challenges(t, testRealm, false)[0]
	// Repeating the newest count exactly is a retransmission or a replay
	// of that request: stale (ask for a new nonce), not a failure. An
	// older count is a replay.
	steps := []struct {
		nc              int
		ok, stale, rept bool
		reason          string
	}{
		{1, true, false, false, ""},
		{1, false, true, true, reasonRepeated},
		{5, true, false, false, ""},
		{3, false, false, false, reasonReplay},
		{5, false, true, true, reasonRepeated},
		{4, false, false, false, reasonReplay},
		{6, true, false, false, ""},
	}
	for _, s := range steps {
		res := f.verify("REGISTER", sign(t, sha, testUser, testPass, "REGISTER", s.nc, nil))
		if res.OK != s.ok || res.Reason != s.reason || res.Stale != s.stale || res.Repeated != s.rept {
			t.Errorf("nc=%d: %+v, want ok=%v stale=%v repeated=%v reason=%q", s.nc, res, s.ok, s.stale, s.rept, s.reason)
		}
	}
	// A wrong response with a repeated count is a failure, not a repeat.
	if res := f.verify("REGISTER", sign(t, sha, testUser, "wrong password", "REGISTER", 6, nil)); res.OK || res.Stale || res.Repeated {
		t.Errorf("wrong password, repeated count: %+v", res)
	}
	// Without qop there is no count: a second use asks for a new nonce.
	md := *f.challenges(t, testRealm, false)[1]
	md.QOP = nil
	h := sign(t, &md, testUser, testPass, "REGISTER", 0, nil)
	if res := f.verify("REGISTER", h); !res.OK {
		t.Fatalf("no qop, first use: %+v", res)
	}
	if res := f.verify("REGISTER", h); res.OK || !res.Stale || res.Reason != reasonReused {
		t.Errorf("no qop, second use: %+v", res)
	}
}

func TestSharedSecret(t *testing.T) {
	secret := []byte("cluster secret, at least 32 bytes long")
	n1 := newFixture(t, Options{Secret: secret})
	n2 := newFixture(t, Options{Secret: secret})
	n3 := newFixture(t, Options{Secret: []byte("another secret")})
	h := sign(t, n1.challenges(t, testRealm, false)[0], testUser, testPass, "REGISTER", 1, nil)
	if res := n2.verify("REGISTER", h); !res.OK {
		t.Errorf("node sharing the secret: %+v", res)
	}
	if res := n3.verify("REGISTER", h); res.OK || res.Reason != reasonNonce {
		t.Errorf("node with another secret: %+v", res)
	}
	secret[0] ^= 1 // the Authenticator keeps its own copy
	h = sign(t, n1.challenges(t, testRealm, false)[0], testUser, testPass, "REGISTER", 1, nil)
	if res := n1.verify("REGISTER", h); !res.OK {
		t.Errorf("after caller changed its slice: %+v", res)
	}
}

// TestReplayTableBounded: a full table forgets the oldest nonces, and a
// forgotten nonce is reported stale, never accepted again.
func TestReplayTableBounded(t *testing.T) {
	f := newFixture(t, Options{MaxNonces: 8})
	var headers []string
	for i := 0; i < 20; i++ {
		h := sign(t, f.challenges(t, testRealm, false)[1], testUser, testPass, "REGISTER", 1, nil)
		headers = append(headers, h)
		f.advance(time.Second)
	}
	for i, h := range headers {
		if res := f.verify("REGISTER", h); !res.OK {
			t.Fatalf("header %d: %+v", i, res)
		}
		if n := len(f.a.nc.m); n > 8 {
			t.Fatalf("table holds %d entries, max 8", n)
		}
	}
	for i, h := range headers {
		if res := f.verify("REGISTER", h); res.OK {
			t.Errorf("header %d accepted twice", i)
		} else if res.Reason != reasonRepeated && !(res.Stale && res.Reason == reasonForgotten) {
			t.Errorf("header %d replay: %+v", i, res)
		}
	}
	// Expired entries go with the periodic sweep.
	f.advance(10 * time.Minute)
	f.verify("REGISTER", sign(t, f.challenges(t, testRealm, false)[1], testUser, testPass, "REGISTER", 1, nil))
	if n := len(f.a.nc.m); n != 1 {
		t.Errorf("after expiry the table holds %d entries, want 1", n)
	}
}

func TestParseParams(t *testing.T) {
	tests := []struct {
		header string
		want   authParams
	}{
		{"  digest\tUserName = \"a\\\"b\" ,REALM=r, nonce=\"n\",uri=\"sip:x\",RESPONSE=\"00\", QOP=\"auth\", NC=00000001, cnonce=c, ,",
			authParams{username: `a"b`, realm: "r", nonce: "n", uri: "sip:x", response: "00", qop: "auth", nc: "00000001", cnonce: "c",
				has: hasRequired | hasQOP | hasNC | hasCnonce}},
		{"Digest username=\"\",realm=\"\",nonce=\"\",uri=\"\",response=\"\",x-ext=\"y\"",
			authParams{has: hasRequired}},
	}
	for _, tt := range tests {
		var p authParams
		if reason := p.parse(tt.header); reason != "" {
			t.Errorf("parse(%q): %s", tt.header, reason)
			continue
		}
		if p != tt.want {
			t.Errorf("parse(%q) = %+v, want %+v", tt.header, p, tt.want)
		}
	}
}

func TestVerifyConcurrent(t *testing.T) {
	f := newFixture(t, Options{MaxNonces: 64})
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			chals := f.challenges(t, testRealm, false)
			for i := 1; i <= 50; i++ {
				h := sign(t, chals[i%2], testUser, testPass, "REGISTER", i, nil)
				if res := f.verify("REGISTER", h); !res.OK && !res.Stale {
					t.Errorf("goroutine %d nc %d: %+v", g, i, res)
					return
				}
				if res := f.verify("REGISTER", h); res.OK {
					t.Errorf("goroutine %d nc %d accepted twice", g, i)
					return
				}
				if i%10 == 0 {
					f.advance(time.Second)
				}
			}
		}()
	}
	wg.Wait()
}

// TestVerifyAllocs guards the allocation budget: a replayed header does all
// the work of a good one (parse, nonce MAC, response) without the insert.
func TestVerifyAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race")
	}
	f := newFixture(t, Options{})
	for i, chal := range f.challenges(t, testRealm, false) {
		h := sign(t, chal, testUser, testPass, "REGISTER", i+1, nil) // the two share a nonce
		if res := f.verify("REGISTER", h); !res.OK {
			t.Fatal(res)
		}
		allocs := testing.AllocsPerRun(100, func() { f.verify("REGISTER", h) })
		if allocs != 0 {
			t.Errorf("challenge %d: %v allocs per Verify, want 0", i, allocs)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	for alg, name := range []string{SHA256, MD5} { // Challenge's order
		b.Run(name, func(b *testing.B) {
			f := newFixture(b, Options{})
			// Each REGISTER answers a fresh nonce with nc=1, as phones do
			// after a 401; headers are made outside the timer in chunks.
			const chunk = 1024
			headers := make([]string, chunk)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i += chunk {
				b.StopTimer()
				n := min(chunk, b.N-i)
				for j := 0; j < n; j++ {
					headers[j] = sign(b, f.challenges(b, testRealm, false)[alg], testUser, testPass, "REGISTER", 1, nil)
					// 2000 REGISTERs a second: over the 5-minute TTL the
					// replay table fills, sweeps and evicts as in production.
					f.advance(500 * time.Microsecond)
				}
				b.StartTimer()
				for j := 0; j < n; j++ {
					if res := f.verify("REGISTER", headers[j]); !res.OK {
						b.Fatal(res)
					}
				}
			}
		})
	}
}

// BenchmarkVerifyReplayed measures the whole computation (parse, nonce
// MAC, response) without the client-side set-up of BenchmarkVerify, whose
// garbage the collector cleans while the timer runs: a replayed header is
// refused only at the replay-table lookup, after all the hashing.
func BenchmarkVerifyReplayed(b *testing.B) {
	for alg, name := range []string{SHA256, MD5} {
		b.Run(name, func(b *testing.B) {
			f := newFixture(b, Options{})
			h := sign(b, f.challenges(b, testRealm, false)[alg], testUser, testPass, "REGISTER", 1, nil)
			if res := f.verify("REGISTER", h); !res.OK {
				b.Fatal(res)
			}
			b.ReportAllocs()
			for b.Loop() {
				if res := f.verify("REGISTER", h); res.Reason != reasonRepeated {
					b.Fatal(res)
				}
			}
		})
	}
}

func BenchmarkChallenge(b *testing.B) {
	a := NewAuthenticator(Options{})
	b.ReportAllocs()
	for b.Loop() {
		a.Challenge(testRealm, false)
	}
}

func ExampleAuthenticator() {
	a := NewAuthenticator(Options{})
	for _, h := range a.Challenge("fjordvik.example", false) {
		fmt.Println(h[:len(`Digest realm="fjordvik.example", nonce=`)], "...", h[strings.Index(h, "algorithm"):])
	}
	// Output:
	// Digest realm="fjordvik.example", nonce= ... algorithm=SHA-256, qop="auth"
	// Digest realm="fjordvik.example", nonce= ... algorithm=MD5, qop="auth"
}

func TestForTransport(t *testing.T) {
	for _, tc := range []struct {
		algs      []string
		transport string
		want      []string
	}{
		{[]string{SHA256, MD5}, "UDP", []string{SHA256, MD5}},
		{[]string{SHA256, MD5}, "WSS", []string{MD5, SHA256}},
		{[]string{SHA256}, "ws", []string{SHA256}},
		{nil, "ws", []string{MD5, SHA256}},
		{nil, "tcp", nil},
		{[]string{MD5, SHA256}, "ws", []string{MD5, SHA256}},
	} {
		if got := ForTransport(tc.algs, tc.transport); strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("ForTransport(%v, %s) = %v, want %v", tc.algs, tc.transport, got, tc.want)
		}
	}
}
