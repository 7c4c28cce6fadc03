package httpapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/icholy/digest"
	"go.uber.org/zap/zaptest"

	"github.com/sentralpbx/sentral/sip/auth"
	"github.com/sentralpbx/sentral/store"
	"github.com/sentralpbx/sentral/store/sqlite"
)

const (
	testDomain   = "fjordvik.test"
	testPassword = "Korrekt-Hest-42"
)

type fakeCatalog struct {
	tenants []store.Tenant
	exts    []store.Extension
}

func (c *fakeCatalog) TenantByDomain(d string) (store.Tenant, bool) {
	for _, t := range c.tenants {
		if t.Domain == d {
			return t, true
		}
	}
	return store.Tenant{}, false
}

func (c *fakeCatalog) Extension(tid int64, n string) (store.Extension, bool) {
	for _, e := range c.exts {
		if e.TenantID == tid && e.Number == n {
			return e, true
		}
	}
	return store.Extension{}, false
}

func newCatalog() *fakeCatalog {
	c := &fakeCatalog{tenants: []store.Tenant{{Meta: store.Meta{ID: 1}, Name: "fjordvik", Domain: testDomain},
		{Meta: store.Meta{ID: 2}, Name: "other", Domain: "other.test"}}}
	for _, e := range []struct {
		tenant int64
		domain string
		number string
	}{{1, testDomain, "2101"}, {1, testDomain, "2102"}, {2, "other.test", "2101"}} {
		md5, _ := auth.HA1(auth.MD5, e.number, e.domain, testPassword)
		sha, _ := auth.HA1(auth.SHA256, e.number, e.domain, testPassword)
		c.exts = append(c.exts, store.Extension{TenantID: e.tenant, Number: e.number, HA1MD5: md5, HA1SHA256: sha, Enabled: true})
	}
	return c
}

type changes struct {
	mu   sync.Mutex
	seen []string
}

func (c *changes) record(tenantID int64, mailbox string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen = append(c.seen, fmt.Sprint(tenantID, "/", mailbox))
}

func (c *changes) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.seen
	c.seen = nil
	return out
}

// env is an HTTP server with the handler over a fresh SQLite store and a
// voicemail directory holding the messages' files.
type env struct {
	url     string
	h       *Handler
	dir     string
	st      store.Store
	changes *changes
	files   map[int64][]byte // message id -> file content
	ids     map[string]int64 // name -> message id
}

func newEnv(t *testing.T, tune func(*Options, *auth.GuardOptions)) *env {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "sentral.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{dir: t.TempDir(), st: st, changes: &changes{}, files: map[int64][]byte{}, ids: map[string]int64{}}
	base := time.Date(2026, 11, 3, 8, 15, 2, 0, time.UTC)
	for i, m := range []struct {
		name, mailbox string
		tenant        int64
		folder        store.VoicemailFolder
	}{
		{"kari1", "2101", 1, store.VoicemailNew},
		{"kari2", "2101", 1, store.VoicemailSaved},
		{"ola1", "2102", 1, store.VoicemailNew},
		{"other1", "2101", 2, store.VoicemailNew},
	} {
		body := make([]byte, 4096+i)
		rand.Read(body)
		rel := fmt.Sprintf("%d/%s/%s.wav", m.tenant, m.mailbox, m.name)
		if err := os.MkdirAll(filepath.Join(e.dir, filepath.Dir(rel)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(e.dir, rel), body, 0o644); err != nil {
			t.Fatal(err)
		}
		id, err := st.Voicemail().Add(ctx, store.VoicemailMessage{TenantID: m.tenant, Mailbox: m.mailbox,
			CallerNumber: "+4791234567", CallerName: "Ola Nordmann", CallID: m.name + "@test",
			ReceivedAt: base.Add(time.Duration(i) * time.Minute), DurationMillis: 4200, Folder: m.folder, Path: rel,
			SizeBytes: int64(len(body)), Urgent: i == 1})
		if err != nil {
			t.Fatal(err)
		}
		e.files[id] = body
		e.ids[m.name] = id
	}
	opt := Options{Dir: e.dir, OnChange: e.changes.record}
	gopt := auth.GuardOptions{MaxFailures: 100}
	if tune != nil {
		tune(&opt, &gopt)
	}
	h, err := New(Deps{Catalog: newCatalog(), Auth: auth.NewAuthenticator(auth.Options{}), Guard: auth.NewGuard(gopt),
		Messages: st.Voicemail(), Log: zaptest.NewLogger(t)}, opt)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(PathPrefix, h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	e.url = srv.URL
	e.h = h
	return e
}

// client authenticates as user with password by digest.
func client(user, password string) *http.Client {
	return &http.Client{Transport: &digest.Transport{Username: user, Password: password}}
}

func (e *env) do(t *testing.T, c *http.Client, method, path string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, e.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, body
}

func (e *env) msgPath(mailbox string, id int64, suffix string) string {
	return fmt.Sprintf("/voicemail/%s/%s/messages/%d%s", testDomain, mailbox, id, suffix)
}

func TestListAndDownload(t *testing.T) {
	for _, alg := range []string{auth.SHA256, auth.MD5} {
		t.Run(alg, func(t *testing.T) {
			e := newEnv(t, func(o *Options, _ *auth.GuardOptions) { o.Algorithms = []string{alg} })
			kari := client("2101", testPassword)
			res, body := e.do(t, kari, "GET", "/voicemail/"+testDomain+"/2101/messages")
			if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("list: %d %s %s", res.StatusCode, res.Header.Get("Content-Type"), body)
			}
			var got []map[string]any
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 {
				t.Fatalf("list has %d messages, want kari's 2: %s", len(got), body)
			}
			first := got[0]
			want := map[string]any{"id": float64(e.ids["kari1"]), "folder": "new", "caller_number": "+4791234567",
				"caller_name": "Ola Nordmann", "received_at": "2026-11-03T08:15:02Z", "duration_ms": float64(4200),
				"urgent": false, "url": e.msgPath("2101", e.ids["kari1"], ".wav")}
			for k, v := range want {
				if first[k] != v {
					t.Errorf("%s = %v, want %v", k, first[k], v)
				}
			}
			if len(first) != len(want) {
				t.Errorf("fields %v, want exactly %v", first, want)
			}
			if got[1]["folder"] != "saved" || got[1]["urgent"] != true {
				t.Errorf("second message %v", got[1])
			}

			id := e.ids["kari1"]
			res, body = e.do(t, kari, "GET", e.msgPath("2101", id, ".wav"))
			if res.StatusCode != 200 || !bytes.Equal(body, e.files[id]) {
				t.Fatalf("download: %d, %d bytes (want %d equal to the file)", res.StatusCode, len(body), len(e.files[id]))
			}
			if ct := res.Header.Get("Content-Type"); ct != "audio/wav" {
				t.Errorf("Content-Type %q", ct)
			}
			if cd := res.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") || !strings.Contains(cd, ".wav") {
				t.Errorf("Content-Disposition %q", cd)
			}

			res, body = e.do(t, kari, "GET", e.msgPath("2101", id, ".wav"), "Range", "bytes=100-199")
			if res.StatusCode != http.StatusPartialContent || !bytes.Equal(body, e.files[id][100:200]) {
				t.Fatalf("range: %d, %d bytes", res.StatusCode, len(body))
			}
			if cr := res.Header.Get("Content-Range"); cr != fmt.Sprintf("bytes 100-199/%d", len(e.files[id])) {
				t.Errorf("Content-Range %q", cr)
			}

			res, body = e.do(t, kari, "HEAD", "/voicemail/"+testDomain+"/2101/messages")
			if res.StatusCode != 200 || len(body) != 0 || res.ContentLength <= 0 {
				t.Errorf("HEAD list: %d, %d bytes, length %d", res.StatusCode, len(body), res.ContentLength)
			}
		})
	}
}

func TestSaveAndDelete(t *testing.T) {
	e := newEnv(t, nil)
	kari := client("2101", testPassword)
	ctx := context.Background()
	id := e.ids["kari1"]

	res, _ := e.do(t, kari, "POST", e.msgPath("2101", id, "/save"))
	if res.StatusCode != http.StatusNoContent {
		t.Fatalf("save: %d", res.StatusCode)
	}
	if m, _ := e.st.Voicemail().Get(ctx, id); m.Folder != store.VoicemailSaved {
		t.Fatalf("folder after save: %q", m.Folder)
	}
	if got := e.changes.take(); len(got) != 1 || got[0] != "1/2101" {
		t.Fatalf("OnChange after save: %v", got)
	}
	res, _ = e.do(t, kari, "POST", e.msgPath("2101", id, "/save"))
	if res.StatusCode != http.StatusNoContent {
		t.Fatalf("second save: %d", res.StatusCode)
	}
	if got := e.changes.take(); len(got) != 0 {
		t.Fatalf("OnChange after saving a saved message: %v", got)
	}

	res, _ = e.do(t, kari, "DELETE", e.msgPath("2101", id, ""))
	if res.StatusCode != http.StatusNoContent {
		t.Fatalf("delete: %d", res.StatusCode)
	}
	if _, err := e.st.Voicemail().Get(ctx, id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("row after delete: %v", err)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "1/2101/kari1.wav")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("file after delete: %v", err)
	}
	if got := e.changes.take(); len(got) != 1 || got[0] != "1/2101" {
		t.Fatalf("OnChange after delete: %v", got)
	}
	for _, p := range []string{e.msgPath("2101", id, ""), e.msgPath("2101", id, ".wav")} {
		method := "DELETE"
		if strings.HasSuffix(p, ".wav") {
			method = "GET"
		}
		if res, _ := e.do(t, kari, method, p); res.StatusCode != http.StatusNotFound {
			t.Fatalf("%s %s after delete: %d", method, p, res.StatusCode)
		}
	}
}

// TestRefusedCredentials: wrong password, unknown mailbox, unknown domain
// and another extension's password all get the same fresh challenge.
func TestRefusedCredentials(t *testing.T) {
	e := newEnv(t, nil)
	cases := []struct {
		name, user, pass, path string
	}{
		{"wrong password", "2101", "feil", "/voicemail/" + testDomain + "/2101/messages"},
		{"unknown mailbox", "2199", testPassword, "/voicemail/" + testDomain + "/2199/messages"},
		{"unknown domain", "2101", testPassword, "/voicemail/nowhere.test/2101/messages"},
		{"another extension's password", "2102", testPassword, "/voicemail/" + testDomain + "/2101/messages"},
		{"no credentials", "", "", "/voicemail/" + testDomain + "/2101/messages"},
	}
	var first []byte
	for _, c := range cases {
		cl := http.DefaultClient
		if c.user != "" {
			cl = client(c.user, c.pass)
		}
		res, body := e.do(t, cl, "GET", c.path)
		if res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%s: %d, want 401", c.name, res.StatusCode)
		}
		ch := res.Header.Values("WWW-Authenticate")
		if len(ch) == 0 || strings.Contains(strings.Join(ch, " "), "stale") {
			t.Fatalf("%s: challenge %v", c.name, ch)
		}
		if first == nil {
			first = body
		} else if !bytes.Equal(body, first) {
			t.Fatalf("%s: body %q differs from %q", c.name, body, first)
		}
	}
}

// TestOtherMailbox: a message of another mailbox is 404 exactly like one
// that does not exist, and is left alone.
func TestOtherMailbox(t *testing.T) {
	e := newEnv(t, nil)
	kari := client("2101", testPassword)
	ola := e.ids["ola1"]
	otherTenant := e.ids["other1"]
	_, missing := e.do(t, kari, "GET", e.msgPath("2101", 999999, ".wav"))
	for _, c := range []struct{ method, path string }{
		{"GET", e.msgPath("2101", ola, ".wav")},
		{"DELETE", e.msgPath("2101", ola, "")},
		{"POST", e.msgPath("2101", ola, "/save")},
		{"GET", e.msgPath("2101", otherTenant, ".wav")}, // same number, other tenant
		{"DELETE", e.msgPath("2101", otherTenant, "")},
	} {
		res, body := e.do(t, kari, c.method, c.path)
		if res.StatusCode != http.StatusNotFound || !bytes.Equal(body, missing) {
			t.Fatalf("%s %s: %d %q, want 404 %q", c.method, c.path, res.StatusCode, body, missing)
		}
	}
	ctx := context.Background()
	for _, id := range []int64{ola, otherTenant} {
		m, err := e.st.Voicemail().Get(ctx, id)
		if err != nil || m.Folder != store.VoicemailNew {
			t.Fatalf("message %d touched: %+v %v", id, m, err)
		}
	}
	// Another mailbox's owner does not get in with their own password.
	res, _ := e.do(t, client("2102", testPassword), "GET", e.msgPath("2101", e.ids["kari1"], ".wav"))
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("2102 reading 2101: %d", res.StatusCode)
	}
	if got := e.changes.take(); len(got) != 0 {
		t.Fatalf("OnChange for refused requests: %v", got)
	}
}

// TestTraversal: paths that try to leave the tree are not routes, and a
// stored file that is a symbolic link out of the directory is not served.
func TestTraversal(t *testing.T) {
	e := newEnv(t, nil)
	kari := client("2101", testPassword)
	for _, p := range []string{
		"/voicemail/../etc/passwd",
		"/voicemail/" + testDomain + "/2101/messages/..%2f..%2fetc%2fpasswd.wav",
		"/voicemail/" + testDomain + "/2101/messages/%2e%2e.wav",
		"/voicemail/" + testDomain + "/2101/messages/1.wav/..",
		"/voicemail/" + testDomain + "/2101/messages/./1.wav",
		"/voicemail/" + testDomain + "/..%2f2102/messages",
		"/voicemail/" + testDomain + "/2101/messages/1%2e.wav",
		"/voicemail/" + testDomain + "/2101/messages/%31.wav",
		"/voicemail/..%2f..%2f/2101/messages",
		"/voicemail/" + testDomain + "/2101//messages",
		"/voicemail/" + testDomain + "/2101/messages/",
		"/voicemail/" + testDomain + "/2101/messages/01.wav",
		"/voicemail/" + testDomain + "/2101/messages/-1.wav",
		"/voicemail/" + testDomain + "%00/2101/messages",
		"/voicemail/fjordvik.test./2101/messages",
	} {
		// Straight to the handler: a ServeMux in front would answer
		// unclean paths with a redirect to the cleaned one before we
		// see them, which is safe but hides what the parser does.
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, httptest.NewRequest("GET", p, nil))
		if w.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, w.Code)
		}
	}

	// A message whose stored path is a link out of the directory.
	secret := filepath.Join(t.TempDir(), "secret.wav")
	if err := os.WriteFile(secret, []byte("not yours"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(e.dir, "evil.wav")); err != nil {
		t.Fatal(err)
	}
	id, err := e.st.Voicemail().Add(context.Background(), store.VoicemailMessage{TenantID: 1, Mailbox: "2101",
		ReceivedAt: time.Now(), Path: "evil.wav"})
	if err != nil {
		t.Fatal(err)
	}
	res, body := e.do(t, kari, "GET", e.msgPath("2101", id, ".wav"))
	if res.StatusCode == http.StatusOK || bytes.Contains(body, []byte("not yours")) {
		t.Fatalf("link out of the directory served: %d %q", res.StatusCode, body)
	}
	res, _ = e.do(t, kari, "DELETE", e.msgPath("2101", id, ""))
	if res.StatusCode != http.StatusNoContent {
		t.Fatalf("delete of the linked message: %d", res.StatusCode)
	}
	if _, err := os.Stat(secret); err != nil {
		t.Fatalf("file outside the directory touched: %v", err)
	}
}

func TestCheckPath(t *testing.T) {
	for _, p := range []string{"", ".", "..", "../x.wav", "/etc/passwd", "a/../b.wav", "a//b.wav", `a\..\b.wav`, "a/./b.wav"} {
		if _, err := checkPath(p); err == nil {
			t.Errorf("checkPath(%q) accepted", p)
		}
	}
	for _, p := range []string{"x.wav", "1/2101/2026/11/abc.wav"} {
		if _, err := checkPath(p); err != nil {
			t.Errorf("checkPath(%q): %v", p, err)
		}
	}
}

// TestBan: repeated failures ban the source, which then gets 429 even
// with the right password.
func TestBan(t *testing.T) {
	e := newEnv(t, func(_ *Options, g *auth.GuardOptions) { g.MaxFailures = 3 })
	for i := range 3 {
		// A fresh client each time: one failure per attempt.
		if res, _ := e.do(t, client("2101", "feil"), "GET", "/voicemail/"+testDomain+"/2101/messages"); res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i, res.StatusCode)
		}
	}
	if res, _ := e.do(t, client("2101", testPassword), "GET", "/voicemail/"+testDomain+"/2101/messages"); res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("banned source: %d, want 429", res.StatusCode)
	}
}

// TestOutOfOrderCountIsStale: an audio player's parallel requests may
// reach us with nonce counts out of order; the late one gets a stale
// challenge, not a failure that would count towards a ban.
func TestOutOfOrderCountIsStale(t *testing.T) {
	e := newEnv(t, func(_ *Options, g *auth.GuardOptions) { g.MaxFailures = 1 })
	path := "/voicemail/" + testDomain + "/2101/messages"
	res, _ := e.do(t, http.DefaultClient, "GET", path)
	chal, err := digest.ParseChallenge(res.Header.Get("WWW-Authenticate"))
	if err != nil {
		t.Fatal(err)
	}
	authz := func(count int) string {
		cred, err := digest.Digest(chal, digest.Options{Method: "GET", URI: path, Username: "2101", Password: testPassword, Count: count})
		if err != nil {
			t.Fatal(err)
		}
		return cred.String()
	}
	if res, _ := e.do(t, http.DefaultClient, "GET", path, "Authorization", authz(2)); res.StatusCode != 200 {
		t.Fatalf("nc 2: %d", res.StatusCode)
	}
	for _, nc := range []int{1, 2} {
		res, _ := e.do(t, http.DefaultClient, "GET", path, "Authorization", authz(nc))
		if res.StatusCode != http.StatusUnauthorized || !strings.Contains(res.Header.Get("WWW-Authenticate"), "stale=true") {
			t.Fatalf("nc %d after 2: %d %q, want a stale challenge", nc, res.StatusCode, res.Header.Get("WWW-Authenticate"))
		}
	}
	if res, _ := e.do(t, client("2101", testPassword), "GET", path); res.StatusCode != 200 {
		t.Fatalf("after the stale answers: %d (counted as failures?)", res.StatusCode)
	}
}

func TestCrossOriginAndMethods(t *testing.T) {
	e := newEnv(t, nil)
	kari := client("2101", testPassword)
	id := e.ids["kari1"]
	res, _ := e.do(t, kari, "POST", e.msgPath("2101", id, "/save"), "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site POST: %d, want 403", res.StatusCode)
	}
	if m, _ := e.st.Voicemail().Get(context.Background(), id); m.Folder != store.VoicemailNew {
		t.Fatal("cross-site POST saved the message")
	}
	res, _ = e.do(t, kari, "PUT", "/voicemail/"+testDomain+"/2101/messages")
	if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != "GET, HEAD" {
		t.Fatalf("PUT list: %d Allow %q", res.StatusCode, res.Header.Get("Allow"))
	}
	res, _ = e.do(t, kari, "GET", e.msgPath("2101", id, ""))
	if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != "DELETE" {
		t.Fatalf("GET message: %d Allow %q", res.StatusCode, res.Header.Get("Allow"))
	}
}

func TestNewChecks(t *testing.T) {
	deps := Deps{Catalog: newCatalog(), Auth: auth.NewAuthenticator(auth.Options{}), Guard: auth.NewGuard(auth.GuardOptions{}),
		Messages: nopMessages{}}
	if _, err := New(deps, Options{}); err == nil {
		t.Error("no directory accepted")
	}
	if _, err := New(deps, Options{Dir: "/tmp", Algorithms: []string{"SHA-512"}}); err == nil {
		t.Error("unknown algorithm accepted")
	}
	deps.Messages = nil
	if _, err := New(deps, Options{Dir: "/tmp"}); err == nil {
		t.Error("no messages accepted")
	}
}

type nopMessages struct{}

func (nopMessages) Get(context.Context, int64) (store.VoicemailMessage, error) {
	return store.VoicemailMessage{}, store.ErrNotFound
}

func (nopMessages) List(context.Context, int64, string, store.VoicemailFolder) ([]store.VoicemailMessage, error) {
	return nil, nil
}
func (nopMessages) Move(context.Context, int64, store.VoicemailFolder) error { return nil }
func (nopMessages) Delete(context.Context, int64) (store.VoicemailMessage, error) {
	return store.VoicemailMessage{}, store.ErrNotFound
}
