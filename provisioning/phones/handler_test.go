package phones

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sentralpbx/sentral/directory/httpapi"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const (
	yealinkMAC    = "001565aabbcc"
	yealinkSecret = "Yk3mPq7RtV9wXz2AbCdE"
	snomMAC       = "000413aabbcc"
	snomSecret    = "Sn9kLm4PqR7tUvWx2yZa"
	otherMAC      = "001565000001"
	otherSecret   = "Ot7hErPh0neSecret42x"
	dalbyMAC      = "001565dddddd"
	dalbySecret   = "DaLbyPh0neSecret77qz"
)

// fakeSource is a Source over a map; lookups are counted so tests can see
// that unknown files never reach the store.
type fakeSource struct {
	mu      sync.Mutex
	devices map[string]Device
	err     error
	lookups int
}

func (f *fakeSource) DeviceByMAC(_ context.Context, mac string) (Device, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lookups++
	if f.err != nil {
		return Device{}, false, f.err
	}
	d, ok := f.devices[mac]
	return d, ok, nil
}

func testDevices() map[string]Device {
	return map[string]Device{
		yealinkMAC: {
			MAC: yealinkMAC, Model: "Yealink T54W", AuthUser: "ph" + yealinkMAC, Secret: yealinkSecret,
			Tenant: "fjordvik", TenantID: fjordvikID, Domain: "fjordvik.sentral.test",
			Lines: []Line{
				// Out of order on purpose: the file lists keys in order.
				{Key: 2, Number: "2102", DisplayName: "Resepsjon\nRådhuset\u2028#x", Enabled: true},
				{Key: 1, Number: "2101", DisplayName: "Kari Nordmann", Enabled: true},
			},
		},
		snomMAC: {
			MAC: snomMAC, Model: "snom D785", AuthUser: "ph" + snomMAC, Secret: snomSecret,
			Tenant: "fjordvik", TenantID: fjordvikID, Domain: "fjordvik.sentral.test",
			Lines: []Line{{Key: 1, Number: "2201", DisplayName: `Ås & Ø <kontor> "B"`, Enabled: true}},
		},
		otherMAC: {
			MAC: otherMAC, Model: "yealink-t46u", AuthUser: "ph" + otherMAC, Secret: otherSecret,
			Tenant: "fjordvik", TenantID: fjordvikID, Domain: "fjordvik.sentral.test",
			Lines: []Line{{Key: 1, Number: "2103", DisplayName: "Ola", Enabled: false}},
		},
		// A phone of another tenant, for the phone book's tenant check.
		dalbyMAC: {
			MAC: dalbyMAC, Model: "Yealink T54W", AuthUser: "ph" + dalbyMAC, Secret: dalbySecret,
			Tenant: "dalby", TenantID: dalbyID, Domain: "dalby.sentral.test",
			Lines: []Line{{Key: 1, Number: "5001", DisplayName: "Kari Dalby", Enabled: true}},
		},
	}
}

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	srv   *httptest.Server
	src   *fakeSource
	clock *clock
	logs  *observer.ObservedLogs
}

func newFixture(t *testing.T, opts Options) *fixture {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	f := &fixture{
		src:   &fakeSource{devices: testDevices()},
		clock: &clock{t: time.Date(2026, 11, 3, 8, 0, 0, 0, time.UTC)},
		logs:  logs,
	}
	opts.Now = f.clock.Now
	opts.Log = zap.New(core)
	h, err := NewHandler(f.src, opts)
	if err != nil {
		t.Fatal(err)
	}
	// Mounted as on the phones' listener: the files, and the phone book
	// behind the same authentication.
	mux := http.NewServeMux()
	mux.Handle(PathPrefix, h)
	mux.Handle(httpapi.PhonebookPrefix, h.PhonebookAuth(httpapi.NewPhonebook(testDirectory(), zap.New(core))))
	f.srv = httptest.NewServer(mux) // listens on 127.0.0.1
	t.Cleanup(f.srv.Close)
	t.Cleanup(func() { checkNoSecretsLogged(t, logs) })
	return f
}

func defaultOptions() Options {
	return Options{
		SIPServer:    "sip.sentral.test",
		PhonebookURL: "https://sentral.test/phonebook/{tenant}/{vendor}.xml?mac={mac}&lang=nb",
	}
}

// get sends one GET with an optional Authorization header.
func (f *fixture) get(t *testing.T, path, authorization string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("User-Agent", "Yealink SIP-T54W 96.86.0.100 00:15:65:aa:bb:cc")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// challenge is one parsed WWW-Authenticate value. The test parses them on
// its own, not with the package's parser, so that a bug shared by both
// sides cannot hide.
type challenge map[string]string

func parseChallenges(t *testing.T, resp *http.Response) []challenge {
	t.Helper()
	var out []challenge
	for _, v := range resp.Header.Values("WWW-Authenticate") {
		rest, ok := strings.CutPrefix(v, "Digest ")
		if !ok {
			t.Fatalf("challenge %q is not Digest", v)
		}
		c := challenge{}
		for _, p := range strings.Split(rest, ", ") {
			k, val, ok := strings.Cut(p, "=")
			if !ok {
				t.Fatalf("challenge %q: bad parameter %q", v, p)
			}
			c[k] = strings.Trim(val, `"`)
		}
		out = append(out, c)
	}
	return out
}

// answer computes an RFC 7616 qop=auth Authorization header for ch.
func answer(t *testing.T, ch challenge, method, uri, user, pass string) string {
	t.Helper()
	var h func() hash.Hash
	switch ch["algorithm"] {
	case "MD5":
		h = md5.New
	case "SHA-256":
		h = sha256.New
	default:
		t.Fatalf("unexpected algorithm %q", ch["algorithm"])
	}
	hx := func(s string) string { d := h(); d.Write([]byte(s)); return hex.EncodeToString(d.Sum(nil)) }
	cb := make([]byte, 8)
	rand.Read(cb)
	cnonce := hex.EncodeToString(cb)
	const nc = "00000001"
	ha1 := hx(user + ":" + ch["realm"] + ":" + pass)
	ha2 := hx(method + ":" + uri)
	resp := hx(ha1 + ":" + ch["nonce"] + ":" + nc + ":" + cnonce + ":auth:" + ha2)
	return fmt.Sprintf(`Digest username="%s", realm="%s", nonce="%s", uri="%s", algorithm=%s, qop=auth, nc=%s, cnonce="%s", response="%s"`,
		user, ch["realm"], ch["nonce"], uri, ch["algorithm"], nc, cnonce, resp)
}

func pick(t *testing.T, chs []challenge, alg string) challenge {
	t.Helper()
	for _, c := range chs {
		if c["algorithm"] == alg {
			return c
		}
	}
	t.Fatalf("no %s challenge in %v", alg, chs)
	return nil
}

// fetchAuth does what a phone does: ask, get challenged, answer with alg.
func (f *fixture) fetchAuth(t *testing.T, path, user, pass, alg string) (*http.Response, []byte) {
	t.Helper()
	resp, _ := f.get(t, path, "")
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("GET %s without credentials: %d, want 401", path, resp.StatusCode)
	}
	ch := pick(t, parseChallenges(t, resp), alg)
	return f.get(t, path, answer(t, ch, http.MethodGet, path, user, pass))
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestGoldenFiles(t *testing.T) {
	f := newFixture(t, defaultOptions())
	tests := []struct {
		path, user, pass, alg, golden, contentType string
	}{
		{"/prov/" + yealinkMAC + ".cfg", "ph" + yealinkMAC, yealinkSecret, "SHA-256", "yealink-001565aabbcc.cfg.golden", "text/plain; charset=utf-8"},
		{"/prov/" + snomMAC + ".xml", "ph" + snomMAC, snomSecret, "MD5", "snom-000413aabbcc.xml.golden", "application/xml; charset=utf-8"},
		{"/prov/" + yealinkMAC + ".txt", "ph" + yealinkMAC, yealinkSecret, "MD5", "generic-001565aabbcc.txt.golden", "text/plain; charset=utf-8"},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			resp, body := f.fetchAuth(t, tt.path, tt.user, tt.pass, tt.alg)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != tt.contentType {
				t.Errorf("Content-Type %q, want %q", ct, tt.contentType)
			}
			if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", cc)
			}
			golden(t, tt.golden, body)
			// Deterministic: a second fetch (new nonce, new cnonce) gives
			// the same bytes.
			_, again := f.fetchAuth(t, tt.path, tt.user, tt.pass, tt.alg)
			if !bytes.Equal(body, again) {
				t.Error("two fetches differ")
			}
		})
	}
}

func TestSnomFileNames(t *testing.T) {
	f := newFixture(t, defaultOptions())
	want, err := os.ReadFile(filepath.Join("testdata", "snom-000413aabbcc.xml.golden"))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{
		"/prov/000413AABBCC.xml",
		"/prov/snomD785-000413AABBCC.htm",
		"/prov/snomD785-000413AABBCC.xml",
		"/prov/snom-00-04-13-aa-bb-cc.xml",
		"/prov/00:04:13:AA:BB:CC.xml",
	} {
		resp, body := f.fetchAuth(t, path, "ph"+snomMAC, snomSecret, "SHA-256")
		if resp.StatusCode != http.StatusOK || !bytes.Equal(body, want) {
			t.Errorf("%s: %d, body equal to golden: %v", path, resp.StatusCode, bytes.Equal(body, want))
		}
	}
}

func TestYealinkFileNames(t *testing.T) {
	f := newFixture(t, defaultOptions())
	for _, path := range []string{"/prov/001565AABBCC.cfg", "/prov/00-15-65-aa-bb-cc.cfg", "/prov/0015.65aa.bbcc.cfg"} {
		resp, _ := f.fetchAuth(t, path, "ph"+yealinkMAC, yealinkSecret, "MD5")
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %d, want 200", path, resp.StatusCode)
		}
	}
}

func TestUnknownMAC(t *testing.T) {
	f := newFixture(t, defaultOptions())
	for _, path := range []string{"/prov/0015650000ff.cfg", "/prov/0004130000FF.xml", "/prov/0015650000ff.txt"} {
		resp, _ := f.get(t, path, "")
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", path, resp.StatusCode)
		}
		if c := resp.Header.Values("WWW-Authenticate"); len(c) != 0 {
			t.Errorf("%s: challenged an unknown MAC: %q", path, c)
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("%s: Cache-Control %q on 404", path, cc)
		}
	}
	entries := f.logs.FilterMessage("phone provisioning: unknown MAC").All()
	if len(entries) != 3 {
		t.Fatalf("%d unknown-MAC log lines, want 3", len(entries))
	}
	e := entries[0]
	fields := e.ContextMap()
	if e.Level != zapcore.InfoLevel || fields["mac"] != "0015650000ff" ||
		!strings.HasPrefix(fields["src"].(string), "127.0.0.1:") || !strings.HasPrefix(fields["user_agent"].(string), "Yealink") {
		t.Errorf("unknown-MAC log entry: %v %v", e.Level, fields)
	}
}

func TestRefused(t *testing.T) {
	f := newFixture(t, defaultOptions())
	path := "/prov/" + yealinkMAC + ".cfg"

	// No credentials: challenged, SHA-256 first, then MD5, one nonce.
	resp, _ := f.get(t, path, "")
	chs := parseChallenges(t, resp)
	if resp.StatusCode != http.StatusUnauthorized || len(chs) != 2 ||
		chs[0]["algorithm"] != "SHA-256" || chs[1]["algorithm"] != "MD5" ||
		chs[0]["nonce"] != chs[1]["nonce"] || chs[0]["qop"] != "auth" ||
		chs[0]["realm"] != "fjordvik.sentral.test" || chs[0]["stale"] != "" {
		t.Fatalf("challenge: %d %v", resp.StatusCode, chs)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q on 401", cc)
	}

	cases := []struct {
		name, user, pass, alg string
		mangle                func(string) string
	}{
		{"wrong password SHA-256", "ph" + yealinkMAC, "wrong-password-1234", "SHA-256", nil},
		{"wrong password MD5", "ph" + yealinkMAC, "wrong-password-1234", "MD5", nil},
		{"other device's credentials", "ph" + otherMAC, otherSecret, "SHA-256", nil},
		{"right password, other username", "ph" + otherMAC, yealinkSecret, "MD5", nil},
		{"uri of another file", "ph" + yealinkMAC, yealinkSecret, "SHA-256", func(h string) string {
			return strings.Replace(h, `uri="/prov/`+yealinkMAC+`.cfg"`, `uri="/prov/`+otherMAC+`.cfg"`, 1)
		}},
		{"no qop", "ph" + yealinkMAC, yealinkSecret, "MD5", func(h string) string { return strings.Replace(h, "qop=auth, ", "", 1) }},
		{"malformed", "ph" + yealinkMAC, yealinkSecret, "MD5", func(h string) string { return h[:len(h)-5] }},
		{"basic", "", "", "MD5", func(string) string { return "Basic cGgwMDE1NjVhYWJiY2M6eA==" }},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			resp, _ := f.get(t, path, "")
			h := answer(t, pick(t, parseChallenges(t, resp), tt.alg), http.MethodGet, path, tt.user, tt.pass)
			if tt.mangle != nil {
				h = tt.mangle(h)
			}
			resp, body := f.get(t, path, h)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401: %s", resp.StatusCode, body)
			}
			if bytes.Contains(body, []byte("account.")) {
				t.Fatal("refused response carries the file")
			}
			for _, c := range parseChallenges(t, resp) {
				if c["stale"] != "" {
					t.Errorf("stale=%s on a wrong answer", c["stale"])
				}
			}
		})
	}

	// A nonce issued for the other phone's file does not open this one,
	// even with this phone's credentials.
	resp, _ = f.get(t, "/prov/"+otherMAC+".cfg", "")
	ch := pick(t, parseChallenges(t, resp), "MD5")
	resp, _ = f.get(t, path, answer(t, ch, http.MethodGet, path, "ph"+yealinkMAC, yealinkSecret))
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("nonce of another device: %d, want 401", resp.StatusCode)
	}

	if n := len(f.logs.FilterMessage("phone provisioning: authentication failed").All()); n < len(cases) {
		t.Errorf("%d authentication failures logged, want at least %d", n, len(cases))
	}
}

func TestStaleNonce(t *testing.T) {
	f := newFixture(t, Options{NonceTTL: time.Minute})
	path := "/prov/" + snomMAC + ".xml"
	for _, alg := range []string{"SHA-256", "MD5"} {
		resp, _ := f.get(t, path, "")
		ch := pick(t, parseChallenges(t, resp), alg)
		f.clock.Add(61 * time.Second)

		// Wrong password with an expired nonce: plain 401, no stale.
		resp, _ = f.get(t, path, answer(t, ch, http.MethodGet, path, "ph"+snomMAC, "not-the-secret-123"))
		if resp.StatusCode != http.StatusUnauthorized || parseChallenges(t, resp)[0]["stale"] != "" {
			t.Fatalf("%s: wrong password, expired nonce: %d %v", alg, resp.StatusCode, parseChallenges(t, resp))
		}
		// Right password with an expired nonce: 401 stale=true.
		resp, _ = f.get(t, path, answer(t, ch, http.MethodGet, path, "ph"+snomMAC, snomSecret))
		fresh := parseChallenges(t, resp)
		if resp.StatusCode != http.StatusUnauthorized || len(fresh) != 2 || fresh[0]["stale"] != "true" || fresh[1]["stale"] != "true" {
			t.Fatalf("%s: expired nonce: %d %v, want 401 stale=true", alg, resp.StatusCode, fresh)
		}
		// The phone answers the new nonce without asking anyone.
		resp, _ = f.get(t, path, answer(t, pick(t, fresh, alg), http.MethodGet, path, "ph"+snomMAC, snomSecret))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: after stale: %d, want 200", alg, resp.StatusCode)
		}
	}
	// A nonce from the future (beyond the skew allowance) is refused.
	resp, _ := f.get(t, path, "")
	ch := pick(t, parseChallenges(t, resp), "MD5")
	f.clock.Add(-2 * time.Minute)
	resp, _ = f.get(t, path, answer(t, ch, http.MethodGet, path, "ph"+snomMAC, snomSecret))
	if resp.StatusCode != http.StatusUnauthorized || parseChallenges(t, resp)[0]["stale"] != "" {
		t.Errorf("future nonce: %d, want 401 without stale", resp.StatusCode)
	}
}

func TestWrongVendorAndVendorWideFiles(t *testing.T) {
	f := newFixture(t, defaultOptions())
	// A Yealink asking for a Snom file: authenticated, then 404.
	resp, _ := f.fetchAuth(t, "/prov/"+yealinkMAC+".xml", "ph"+yealinkMAC, yealinkSecret, "MD5")
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("Snom file for a Yealink: %d, want 404", resp.StatusCode)
	}
	resp, _ = f.fetchAuth(t, "/prov/"+snomMAC+".cfg", "ph"+snomMAC, snomSecret, "MD5")
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("Yealink file for a Snom: %d, want 404", resp.StatusCode)
	}
	before := f.src.lookups
	for _, path := range []string{
		"/prov/y000000000000.cfg", "/prov/y000000000096.cfg", "/prov/y000000000000.boot",
		"/prov/" + yealinkMAC + ".boot", "/prov/snomD785.htm", "/prov/snomD785.xml",
		"/prov/passwd", "/prov/" + yealinkMAC + ".cfg.bak", "/prov/../" + yealinkMAC + ".cfg",
		"/prov/sub/" + yealinkMAC + ".cfg", "/prov/0015650000.cfg", "/prov/index.htm",
	} {
		resp, _ := f.get(t, path, "")
		if resp.StatusCode != http.StatusNotFound || resp.Header.Get("WWW-Authenticate") != "" {
			t.Errorf("%s: %d %q, want 404 without challenge", path, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	}
	if f.src.lookups != before {
		t.Errorf("file names that carry no MAC reached the source (%d lookups)", f.src.lookups-before)
	}
	resp, _ = f.get(t, "/prov/"+yealinkMAC+".cfg", "")
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("sanity: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/prov/"+yealinkMAC+".cfg", nil)
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d, want 405", resp.StatusCode)
	}
}

func TestHEAD(t *testing.T) {
	f := newFixture(t, defaultOptions())
	path := "/prov/" + yealinkMAC + ".cfg"
	resp, _ := f.get(t, path, "")
	ch := pick(t, parseChallenges(t, resp), "SHA-256")
	req, _ := http.NewRequest(http.MethodHead, f.srv.URL+path, nil)
	req.Header.Set("Authorization", answer(t, ch, http.MethodHead, path, "ph"+yealinkMAC, yealinkSecret))
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.ContentLength <= 0 {
		t.Errorf("HEAD: %d, length %d", resp.StatusCode, resp.ContentLength)
	}
}

func TestSourceError(t *testing.T) {
	f := newFixture(t, defaultOptions())
	f.src.err = errors.New("database is locked")
	resp, _ := f.get(t, "/prov/"+yealinkMAC+".cfg", "")
	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("status %d, want 500", resp.StatusCode)
	}
}

func TestAlgorithmsOption(t *testing.T) {
	f := newFixture(t, Options{Algorithms: []string{"md5"}})
	path := "/prov/" + yealinkMAC + ".cfg"
	resp, _ := f.get(t, path, "")
	chs := parseChallenges(t, resp)
	if len(chs) != 1 || chs[0]["algorithm"] != "MD5" {
		t.Fatalf("challenges %v, want MD5 only", chs)
	}
	// An answer with an algorithm not offered is refused even if correct.
	sha := challenge{"realm": chs[0]["realm"], "nonce": chs[0]["nonce"], "algorithm": "SHA-256"}
	resp, _ = f.get(t, path, answer(t, sha, http.MethodGet, path, "ph"+yealinkMAC, yealinkSecret))
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("SHA-256 answer when only MD5 is offered: %d, want 401", resp.StatusCode)
	}
	resp, _ = f.get(t, path, answer(t, chs[0], http.MethodGet, path, "ph"+yealinkMAC, yealinkSecret))
	if resp.StatusCode != http.StatusOK {
		t.Errorf("MD5 answer: %d, want 200", resp.StatusCode)
	}
}

// checkNoSecretsLogged fails if any log line carries a device secret or a
// digest response.
func checkNoSecretsLogged(t *testing.T, logs *observer.ObservedLogs) {
	for _, e := range logs.All() {
		text := e.Message + fmt.Sprint(e.ContextMap())
		for _, s := range []string{yealinkSecret, snomSecret, otherSecret, dalbySecret, "response="} {
			if strings.Contains(text, s) {
				t.Errorf("log line carries %q: %s", s, text)
			}
		}
	}
}

func TestNewHandlerOptions(t *testing.T) {
	src := &fakeSource{}
	bad := []Options{
		{Transport: "sctp"},
		{SIPPort: 70000},
		{SIPServer: "sip server"},
		{SIPServer: "sip.example:5060"},
		{TimeZone: "Mars/Olympus_Mons"},
		{PhonebookURL: "ftp://x.example/pb"},
		{PhonebookURL: "https://x.example/{user}.xml"},
		{PhonebookURL: "/phonebook.xml"},
		{Algorithms: []string{"SHA-512-256"}},
	}
	for _, o := range bad {
		if _, err := NewHandler(src, o); err == nil {
			t.Errorf("NewHandler(%+v) accepted", o)
		}
	}
	if _, err := NewHandler(nil, Options{}); err == nil {
		t.Error("NewHandler(nil source) accepted")
	}
	h, err := NewHandler(src, Options{Transport: "TLS", SIPServer: "2001:db8::5"})
	if err != nil {
		t.Fatal(err)
	}
	if h.opts.SIPPort != 5061 || h.opts.Transport != "tls" || h.opts.TimeZone != "Europe/Oslo" {
		t.Errorf("defaults: %+v", h.opts)
	}
}
