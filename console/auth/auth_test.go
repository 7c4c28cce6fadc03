package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sentralpbx/sentral/store"
	"github.com/sentralpbx/sentral/store/passhash"
	"github.com/sentralpbx/sentral/store/sqlite"
)

// cheap keeps the tests fast: the cost does not change the behaviour.
var cheap = passhash.Argon2id{Memory: 64, Time: 1, Threads: 1}

const password = "Riktig-passord-2026"

// clock is a settable time for sessions and lock-outs.
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

type env struct {
	t     *testing.T
	st    store.Store
	auth  *Auth
	clock *clock
	srv   *httptest.Server
	kari  store.Operator
}

// newEnv is a store with tenant fjordvik and operator kari, and a console
// on loopback with the auth endpoints, GET /console/api/state and POST
// /console/api/available behind Require, and GET /console/api/admin
// behind RequireAdmin.
func newEnv(t *testing.T, opt Options) *env {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "sentral.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	tn := store.Tenant{Name: "fjordvik", DisplayName: "Fjordvik", Domain: "fjordvik.test",
		Ranges: []store.NumberRange{{Kind: store.RangeExtension, First: "2000", Last: "2999"}}}
	if err := st.Tenants().Create(ctx, &tn); err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)}
	opt.Now, opt.Hash = c.Now, cheap
	a, err := New(st, opt)
	if err != nil {
		t.Fatal(err)
	}
	h, err := a.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	k := store.Operator{TenantID: tn.ID, Username: "kari", DisplayName: "Kari Nordmann", PasswordHash: h,
		Role: store.RoleOperator, Extension: "2001", Locale: "nb"}
	if err := st.Operators().Create(ctx, &k); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	a.Register(mux)
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := UserFrom(r.Context())
		if !ok {
			WriteError(w, http.StatusInternalServerError, "no user in context", "")
			return
		}
		WriteJSON(w, http.StatusOK, u)
	})
	mux.Handle("GET /console/api/state", a.Require(echo))
	mux.Handle("POST /console/api/available", a.Require(echo))
	mux.Handle("GET /console/api/admin", a.Require(RequireAdmin(echo)))
	srv := httptest.NewServer(mux) // 127.0.0.1
	t.Cleanup(srv.Close)
	return &env{t: t, st: st, auth: a, clock: c, srv: srv, kari: k}
}

type answer struct {
	status int
	header http.Header
	body   string
	cookie *http.Cookie
}

func (a answer) String() string { return fmt.Sprintf("%d %s", a.status, a.body) }

// do sends a request with the session cookie (if token is set) and the
// CSRF header (if csrf is set).
func (e *env) do(method, path, body, token, csrf string) answer {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.AddCookie(&http.Cookie{Name: CookieName, Value: token})
	}
	if csrf != "" {
		req.Header.Set(CSRFHeader, csrf)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header, body: string(b)}
	for _, c := range resp.Cookies() {
		if c.Name == CookieName {
			a.cookie = c
		}
	}
	return a
}

func (e *env) login(user, pw string) answer {
	e.t.Helper()
	b, _ := json.Marshal(map[string]string{"username": user, "password": pw})
	return e.do("POST", LoginPath, string(b), "", "")
}

// session logs kari in and returns the cookie's token and the CSRF token.
func (e *env) session() (token, csrf string) {
	e.t.Helper()
	a := e.login("kari", password)
	if a.status != http.StatusOK || a.cookie == nil {
		e.t.Fatalf("login: %s", a)
	}
	var body loginAnswer
	if err := json.Unmarshal([]byte(a.body), &body); err != nil {
		e.t.Fatal(err)
	}
	return a.cookie.Value, body.CSRF
}

func TestLoginAndMe(t *testing.T) {
	e := newEnv(t, Options{})
	a := e.login("  Kari ", password) // typed with capitals and spaces
	if a.status != http.StatusOK {
		t.Fatalf("login: %s", a)
	}
	if ct, cc := a.header.Get("Content-Type"), a.header.Get("Cache-Control"); ct != "application/json; charset=utf-8" || cc != "no-store" {
		t.Errorf("login answer Content-Type %q, Cache-Control %q", ct, cc)
	}
	var got struct {
		User map[string]any `json:"user"`
		CSRF string         `json:"csrf"`
	}
	if err := json.Unmarshal([]byte(a.body), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"username": "kari", "name": "Kari Nordmann", "role": "operator", "tenant": "fjordvik", "extension": "2001", "locale": "nb"}
	if fmt.Sprint(got.User) != fmt.Sprint(want) {
		t.Errorf("user = %v, want %v", got.User, want)
	}
	if len(got.CSRF) != 43 {
		t.Errorf("csrf %q is not 256 bits in base64url", got.CSRF)
	}
	c := a.cookie
	if c == nil {
		t.Fatal("no session cookie")
	}
	if len(c.Value) != 43 || c.Value == got.CSRF || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/console/" || c.Secure || c.MaxAge != 0 || !c.Expires.IsZero() {
		t.Errorf("cookie %+v: want a 43-character HttpOnly SameSite=Strict Path=/console/ session cookie, not Secure over plain HTTP", c)
	}
	if raw := a.header.Get("Set-Cookie"); !strings.Contains(raw, "HttpOnly") || !strings.Contains(raw, "SameSite=Strict") {
		t.Errorf("Set-Cookie: %s", raw)
	}
	me := e.do("GET", MePath, "", c.Value, "")
	if me.status != http.StatusOK || me.body != a.body || me.header.Get("Cache-Control") != "no-store" {
		t.Errorf("me = %s, want the login's answer %s", me, a.body)
	}
	if got := e.do("GET", MePath, "", "", ""); got.status != http.StatusUnauthorized || !strings.Contains(got.body, `"error"`) {
		t.Errorf("me without a session: %s", got)
	}
	if got := e.do("GET", MePath, "", "not-a-session", ""); got.status != http.StatusUnauthorized || got.cookie == nil || got.cookie.MaxAge >= 0 {
		t.Errorf("me with a made-up session: %s, cookie %+v; want 401 clearing the cookie", got, got.cookie)
	}
	// The login is recorded.
	k, _ := e.st.Operators().Find(context.Background(), "kari")
	if k.LastLoginAt == nil || !k.LastLoginAt.Equal(e.clock.Now()) {
		t.Errorf("last login %v", k.LastLoginAt)
	}
	// A second login is a second session with its own CSRF token.
	tok2, csrf2 := e.session()
	if tok2 == c.Value || csrf2 == got.CSRF {
		t.Error("two logins share a session or CSRF token")
	}
}

func TestWrongPasswordAndUnknownUserLookAlike(t *testing.T) {
	e := newEnv(t, Options{})
	wrong := e.login("kari", "Feil-passord-2026")
	unknown := e.login("ola", "Feil-passord-2026")
	for _, a := range []answer{wrong, unknown} {
		if a.status != http.StatusUnauthorized || a.cookie != nil {
			t.Errorf("bad login: %s, cookie %v", a, a.cookie)
		}
	}
	if wrong.body != unknown.body || wrong.body != `{"error":"wrong username or password"}`+"\n" {
		t.Errorf("wrong password %q, unknown user %q: want the same answer", wrong.body, unknown.body)
	}
	for _, h := range []string{"Content-Type", "Cache-Control", "Content-Length", "Retry-After"} {
		if wrong.header.Get(h) != unknown.header.Get(h) {
			t.Errorf("header %s: %q vs %q", h, wrong.header.Get(h), unknown.header.Get(h))
		}
	}
	for _, c := range []struct{ body, ct, field string }{
		{`{"username":"kari","password":""}`, "application/json", "password"},
		{`{"username":"","password":"x"}`, "application/json", "username"},
		{`kari:` + password, "application/json", ""},
		{`{"username":"kari","password":"` + password + `"}`, "application/x-www-form-urlencoded", ""},
	} {
		req, _ := http.NewRequest("POST", e.srv.URL+LoginPath, strings.NewReader(c.body))
		req.Header.Set("Content-Type", c.ct)
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), `"field":"`+c.field+`"`) && c.field != "" {
			t.Errorf("login %s (%s): %d %s, want 400 naming %q", c.body, c.ct, resp.StatusCode, b, c.field)
		}
	}
}

// TestUnknownUserDoesTheWork: an unknown username costs a password check
// too, so the answer's timing does not tell which usernames exist.
func TestUnknownUserDoesTheWork(t *testing.T) {
	e := newEnv(t, Options{AddrMaxFailures: 1000, Lockout: store.LockoutPolicy{MaxFailures: 1000, Window: time.Minute, LockFor: time.Minute}})
	slow := passhash.Argon2id{Memory: 16 * 1024, Time: 2, Threads: 1}
	a, err := New(e.st, Options{Now: e.clock.Now, Hash: slow, AddrMaxFailures: 1000, Lockout: store.LockoutPolicy{MaxFailures: 1000, Window: time.Minute, LockFor: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	h, _ := a.HashPassword(password)
	k := e.kari
	k.PasswordHash = h
	if err := e.st.Operators().Update(context.Background(), &k); err != nil {
		t.Fatal(err)
	}
	fastest := func(user string) time.Duration {
		best := time.Hour
		for range 3 {
			start := time.Now()
			if _, err := a.Login(context.Background(), user, "Feil-passord-2026", "192.0.2.1"); !errors.Is(err, ErrBadCredentials) {
				t.Fatalf("login %s: %v", user, err)
			}
			best = min(best, time.Since(start))
		}
		return best
	}
	known, unknown := fastest("kari"), fastest("ola")
	if unknown < known/4 {
		t.Errorf("unknown user answered in %v, known user with a wrong password in %v: the difference tells who exists", unknown, known)
	}
}

func TestLockout(t *testing.T) {
	e := newEnv(t, Options{})
	// kari and the unknown ola fail side by side and must look alike.
	for i := 1; i <= 4; i++ {
		k, o := e.login("kari", "feil"), e.login("ola", "feil")
		if k.status != http.StatusUnauthorized || k.body != o.body {
			t.Fatalf("failure %d: kari %s, ola %s", i, k, o)
		}
		e.clock.Add(time.Minute)
	}
	k, o := e.login("kari", "feil"), e.login("ola", "feil")
	if k.status != http.StatusLocked || k.body != o.body || k.header.Get("Retry-After") != "900" || o.header.Get("Retry-After") != "900" {
		t.Fatalf("fifth failure: kari %s (Retry-After %s), ola %s; want the same 423", k, k.header.Get("Retry-After"), o)
	}
	if !strings.Contains(k.body, "locked") || !strings.Contains(k.body, "08:19 UTC") {
		t.Errorf("locked answer does not say until when: %s", k.body)
	}
	// Locked: even the right password is refused, without counting.
	e.clock.Add(14 * time.Minute)
	if a := e.login("kari", password); a.status != http.StatusLocked || a.cookie != nil || a.header.Get("Retry-After") != "60" {
		t.Fatalf("right password while locked: %s (Retry-After %s)", a, a.header.Get("Retry-After"))
	}
	// The lock is in the store: a new Auth (a restart) keeps it.
	a2, err := New(e.st, Options{Now: e.clock.Now, Hash: cheap})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a2.Login(context.Background(), "kari", password, "198.51.100.7"); !errors.Is(err, ErrLocked) {
		t.Errorf("after a restart: %v, want ErrLocked", err)
	}
	// After the window it opens again.
	e.clock.Add(time.Minute)
	if a := e.login("kari", password); a.status != http.StatusOK {
		t.Fatalf("after the lock: %s", a)
	}
	if a := e.login("ola", "feil"); a.status != http.StatusUnauthorized {
		t.Errorf("unknown user after the lock: %s", a)
	}
	// Unlock (the CLI's operator unlock) lifts a lock at once.
	for range 5 {
		e.login("kari", "feil")
	}
	if a := e.login("kari", password); a.status != http.StatusLocked {
		t.Fatalf("locked again: %s", a)
	}
	if err := e.st.Operators().Unlock(context.Background(), e.kari.ID); err != nil {
		t.Fatal(err)
	}
	if a := e.login("kari", password); a.status != http.StatusOK {
		t.Errorf("after unlock: %s", a)
	}
}

func TestAddressThrottling(t *testing.T) {
	e := newEnv(t, Options{AddrMaxFailures: 3, AddrWindow: 10 * time.Minute})
	for i, u := range []string{"kari", "ola", "per"} { // different names: no account locks
		if a := e.login(u, "feil"); a.status != http.StatusUnauthorized {
			t.Fatalf("failure %d: %s", i+1, a)
		}
	}
	a := e.login("kari", password)
	if a.status != http.StatusTooManyRequests || a.cookie != nil || a.header.Get("Retry-After") != "600" {
		t.Fatalf("after 3 failures from one address: %s (Retry-After %s), want 429", a, a.header.Get("Retry-After"))
	}
	// Another address is not affected.
	if _, err := e.auth.Login(context.Background(), "kari", password, "2001:db8:1:2::5"); err != nil {
		t.Errorf("login from another address: %v", err)
	}
	// One IPv6 host's /64 is one address.
	for _, ip := range []string{"2001:db8:9:9::1", "2001:db8:9:9::2", "2001:db8:9:9:ffff::3"} {
		e.auth.Login(context.Background(), "nobody", "feil", ip)
	}
	if _, err := e.auth.Login(context.Background(), "kari", password, "2001:db8:9:9::4"); !errors.Is(err, ErrThrottled) {
		t.Errorf("fourth login from one /64: %v, want ErrThrottled", err)
	}
	e.clock.Add(10 * time.Minute)
	if a := e.login("kari", password); a.status != http.StatusOK {
		t.Errorf("after the window: %s", a)
	}
}

func TestCSRFAndRequire(t *testing.T) {
	e := newEnv(t, Options{})
	tok, csrf := e.session()
	if a := e.do("POST", "/console/api/available", `{"available":true}`, "", csrf); a.status != http.StatusUnauthorized {
		t.Errorf("POST without a session: %s", a)
	}
	if a := e.do("POST", "/console/api/available", `{"available":true}`, tok, ""); a.status != http.StatusForbidden || !strings.Contains(a.body, CSRFHeader) {
		t.Errorf("POST without the CSRF token: %s", a)
	}
	if a := e.do("POST", "/console/api/available", `{"available":true}`, tok, csrf[:42]+"x"); a.status != http.StatusForbidden {
		t.Errorf("POST with a wrong CSRF token: %s", a)
	}
	// Another session's token is wrong too: the token is bound to its session.
	_, other := e.session()
	if a := e.do("POST", "/console/api/available", `{"available":true}`, tok, other); a.status != http.StatusForbidden {
		t.Errorf("POST with another session's CSRF token: %s", a)
	}
	a := e.do("POST", "/console/api/available", `{"available":true}`, tok, csrf)
	if a.status != http.StatusOK || !strings.Contains(a.body, `"username":"kari"`) {
		t.Errorf("POST with the CSRF token: %s", a)
	}
	if a := e.do("GET", "/console/api/state", "", tok, ""); a.status != http.StatusOK || !strings.Contains(a.body, `"extension":"2001"`) {
		t.Errorf("GET needs no CSRF token: %s", a)
	}
	if a := e.do("GET", "/console/api/admin", "", tok, ""); a.status != http.StatusForbidden {
		t.Errorf("operator on an admin endpoint: %s", a)
	}
	k := e.kari
	k.Role = store.RoleAdmin
	if err := e.st.Operators().Update(context.Background(), &k); err != nil {
		t.Fatal(err)
	}
	if a := e.do("GET", "/console/api/admin", "", tok, ""); a.status != http.StatusOK || !strings.Contains(a.body, `"role":"admin"`) {
		t.Errorf("admin on an admin endpoint (role changed while logged in): %s", a)
	}
}

func TestLogout(t *testing.T) {
	e := newEnv(t, Options{})
	tok, csrf := e.session()
	tok2, _ := e.session()
	if a := e.do("POST", LogoutPath, "", tok, ""); a.status != http.StatusForbidden {
		t.Errorf("logout without the CSRF token: %s", a)
	}
	a := e.do("POST", LogoutPath, "", tok, csrf)
	if a.status != http.StatusNoContent || a.cookie == nil || a.cookie.MaxAge >= 0 || a.cookie.Path != CookiePath {
		t.Fatalf("logout: %s, cookie %+v; want 204 clearing the cookie", a, a.cookie)
	}
	if a := e.do("GET", MePath, "", tok, ""); a.status != http.StatusUnauthorized {
		t.Errorf("me after logout: %s", a)
	}
	if a := e.do("POST", LogoutPath, "", tok, csrf); a.status != http.StatusUnauthorized {
		t.Errorf("second logout: %s", a)
	}
	if a := e.do("GET", MePath, "", tok2, ""); a.status != http.StatusOK {
		t.Errorf("the other session ended with this one: %s", a)
	}
}

func TestSessionExpiry(t *testing.T) {
	e := newEnv(t, Options{})
	// Idle: a request just before 8 idle hours keeps the session; 8 idle hours end it.
	tok, _ := e.session()
	e.clock.Add(4 * time.Hour)
	if a := e.do("GET", MePath, "", tok, ""); a.status != http.StatusOK {
		t.Fatalf("me after 4 hours: %s", a)
	}
	e.clock.Add(8*time.Hour - time.Second)
	if a := e.do("GET", MePath, "", tok, ""); a.status != http.StatusOK {
		t.Fatalf("me 7:59:59 after the last request: %s", a)
	}
	tok2, _ := e.session()
	e.clock.Add(8 * time.Hour)
	if a := e.do("GET", MePath, "", tok2, ""); a.status != http.StatusUnauthorized {
		t.Fatalf("me after 8 idle hours: %s", a)
	}

	// Absolute: used every hour, the session still ends 12 hours after login.
	tok, _ = e.session()
	for h := 1; h < 12; h++ {
		e.clock.Add(time.Hour)
		if a := e.do("GET", "/console/api/state", "", tok, ""); a.status != http.StatusOK {
			t.Fatalf("hour %d: %s", h, a)
		}
	}
	e.clock.Add(time.Hour)
	if a := e.do("GET", "/console/api/state", "", tok, ""); a.status != http.StatusUnauthorized {
		t.Fatalf("12 hours after login: %s", a)
	}
}

func TestPasswordChangeAndRemovalEndSessions(t *testing.T) {
	e := newEnv(t, Options{})
	ctx := context.Background()
	tok, _ := e.session()
	k := e.kari
	k.DisplayName = "Kari N." // a profile change keeps the session
	if err := e.st.Operators().Update(ctx, &k); err != nil {
		t.Fatal(err)
	}
	if a := e.do("GET", MePath, "", tok, ""); a.status != http.StatusOK || !strings.Contains(a.body, "Kari N.") {
		t.Fatalf("me after a profile change: %s", a)
	}
	h, _ := e.auth.HashPassword("Nytt-passord-2027")
	k.PasswordHash = h
	if err := e.st.Operators().Update(ctx, &k); err != nil {
		t.Fatal(err)
	}
	if a := e.do("GET", MePath, "", tok, ""); a.status != http.StatusUnauthorized {
		t.Fatalf("me after a password change: %s", a)
	}
	a := e.login("kari", "Nytt-passord-2027")
	if a.status != http.StatusOK || a.cookie == nil {
		t.Fatalf("login with the new password: %s", a)
	}
	tok = a.cookie.Value
	if err := e.st.Operators().Delete(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	if a := e.do("GET", MePath, "", tok, ""); a.status != http.StatusUnauthorized {
		t.Errorf("me after removal: %s", a)
	}
	if a := e.login("kari", "Nytt-passord-2027"); a.status != http.StatusUnauthorized {
		t.Errorf("login after removal: %s", a)
	}
}

func TestSessionsPerUserAreBounded(t *testing.T) {
	e := newEnv(t, Options{MaxSessionsPerUser: 2})
	first, _ := e.session()
	e.clock.Add(time.Second)
	second, _ := e.session()
	e.clock.Add(time.Second)
	third, _ := e.session()
	if a := e.do("GET", MePath, "", first, ""); a.status != http.StatusUnauthorized {
		t.Errorf("oldest session survived a third login: %s", a)
	}
	for _, tok := range []string{second, third} {
		if a := e.do("GET", MePath, "", tok, ""); a.status != http.StatusOK {
			t.Errorf("newer session: %s", a)
		}
	}
	if n := e.auth.RevokeUser(e.kari.ID); n != 2 {
		t.Errorf("RevokeUser ended %d sessions, want 2", n)
	}
}

func TestSecureCookie(t *testing.T) {
	e := newEnv(t, Options{Cookie: SecureAlways})
	if a := e.login("kari", password); a.cookie == nil || !a.cookie.Secure {
		t.Errorf("SecureAlways over plain HTTP: cookie %+v", a.cookie)
	}
	// SecureAuto over TLS sets it.
	e2 := newEnv(t, Options{})
	mux := http.NewServeMux()
	e2.auth.Register(mux)
	srv := httptest.NewTLSServer(mux)
	defer srv.Close()
	resp, err := srv.Client().Post(srv.URL+LoginPath, "application/json", bytes.NewBufferString(`{"username":"kari","password":"`+password+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var c *http.Cookie
	for _, x := range resp.Cookies() {
		if x.Name == CookieName {
			c = x
		}
	}
	if resp.StatusCode != http.StatusOK || c == nil || !c.Secure {
		t.Errorf("SecureAuto over HTTPS: %d, cookie %+v", resp.StatusCode, c)
	}
}
