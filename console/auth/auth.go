// Package auth logs operators in to the switchboard console: password
// checks against the operator accounts in the store, lock-out of accounts
// and throttling of addresses that guess, server-side sessions, the CSRF
// token bound to each session, and the HTTP endpoints and middleware of
// docs/console-api.md ("Authentication").
//
// Sessions live in this process's memory: the console runs on one node,
// and a restart only asks operators to log in again. Only the SHA-256 of a
// session token is kept, so a memory dump does not hand out sessions. The
// lock-out state of accounts lives in the store (a restart does not
// forgive an attack); the throttling of addresses and the lock-out of
// usernames that do not exist live in memory.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"runtime"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/store"
	"github.com/sentralpbx/sentral/store/passhash"
)

// Store is what Auth needs of the store; store.Store has it.
type Store interface {
	Operators() store.OperatorStore
	Tenants() store.Repo[store.Tenant]
}

// User is the logged-in operator as the console API shows it
// (docs/console-api.md). ID and TenantID are for the server's own use.
type User struct {
	ID        int64              `json:"-"`
	TenantID  int64              `json:"-"`
	Username  string             `json:"username"`
	Name      string             `json:"name"`
	Role      store.OperatorRole `json:"role"`
	Tenant    string             `json:"tenant"` // the tenant's name, e.g. "fjordvik"
	Extension string             `json:"extension"`
	Locale    string             `json:"locale"`
}

// Admin reports whether the user may change the switchboard's settings.
func (u User) Admin() bool { return u.Role == store.RoleAdmin }

// CookieSecurity says when the session cookie carries the Secure flag.
type CookieSecurity int

// Cookie security modes. SecureAuto sets Secure when the request came
// over TLS: the console serves plain HTTP only on loopback, where there
// is nobody on the wire and a browser may refuse a Secure cookie set over
// http://. Behind a TLS-terminating proxy use SecureAlways.
const (
	SecureAuto CookieSecurity = iota
	SecureAlways
	SecureNever
)

// Defaults of Options.
const (
	DefaultIdleTimeout        = 8 * time.Hour
	DefaultAbsoluteTimeout    = 12 * time.Hour
	DefaultAddrMaxFailures    = 20
	DefaultAddrWindow         = 15 * time.Minute
	DefaultMaxSessionsPerUser = 20
)

// Options tune Auth; zero values take the defaults.
type Options struct {
	// Now is the clock (tests inject one); default time.Now.
	Now func() time.Time
	// Lockout locks an account after failed logins; default
	// store.DefaultLockout (5 failures in 15 minutes lock it for 15).
	Lockout store.LockoutPolicy
	// AddrMaxFailures failed logins from one address (an IPv4 address or
	// an IPv6 /64) within AddrWindow make it wait out the window (429).
	AddrMaxFailures int
	AddrWindow      time.Duration
	// IdleTimeout ends a session not used for that long; AbsoluteTimeout
	// ends it that long after the login whatever happens.
	IdleTimeout     time.Duration
	AbsoluteTimeout time.Duration
	// MaxSessionsPerUser bounds one account's sessions; a new login beyond
	// it ends that account's oldest session.
	MaxSessionsPerUser int
	// Cookie says when the session cookie is Secure; default SecureAuto.
	Cookie CookieSecurity
	// Hash is the argon2id cost of new password hashes and of the dummy
	// hash checked for unknown usernames (so they take as long as known
	// ones); default passhash.DefaultArgon2id.
	Hash passhash.Argon2id
	// ClientAddr returns the address a request came from, for throttling
	// and logs; default the host of r.RemoteAddr. Set it only behind a
	// reverse proxy that overwrites the header it reads.
	ClientAddr func(r *http.Request) string
	// Log receives login and lock-out events (never passwords or tokens).
	Log *zap.Logger
	// Audit, when set, records logins (ok and failed, with the username
	// tried), lock-outs and logouts in the audit log (audit.go).
	Audit Recorder
}

// Refusals of Login, matched with errors.Is. ErrLocked and ErrThrottled
// come wrapped in a *RetryError that says when to try again.
var (
	ErrBadCredentials = errors.New("wrong username or password")
	ErrLocked         = errors.New("the account is locked after too many failed logins")
	ErrThrottled      = errors.New("too many failed logins from this address")
	ErrNoSession      = errors.New("not logged in, or the session has expired")
)

// RetryError is a refusal that lifts at Until.
type RetryError struct {
	Err   error
	Until time.Time
}

func (e *RetryError) Error() string {
	return fmt.Sprintf("%v; try again after %s", e.Err, e.Until.UTC().Format("15:04 UTC"))
}

// Unwrap lets errors.Is match ErrLocked or ErrThrottled.
func (e *RetryError) Unwrap() error { return e.Err }

// Session is what a successful login hands the browser: the session token
// (the cookie's value) and the CSRF token the page sends with every POST.
type Session struct {
	Token string
	CSRF  string
	User  User
}

// session is the server's record of one login.
type session struct {
	userID  int64
	csrf    string
	pwPrint [32]byte // SHA-256 of the password hash at login: a new password ends the session
	created time.Time
	seen    time.Time
}

// failures counts failed logins of one unknown username or one address.
type failures struct {
	count  int
	since  time.Time
	locked time.Time // unknown usernames: locked until
}

// Bounds of the in-memory failure tables; beyond them the oldest
// expired entries are dropped, and if none has expired new keys are not
// tracked (the account lock-out in the store still holds).
const (
	maxUnknownNames = 10000
	maxAddrs        = 100000
)

// Auth authenticates operators and keeps their sessions. It is safe for
// concurrent use.
type Auth struct {
	st    Store
	opt   Options
	now   func() time.Time
	log   *zap.Logger
	dummy string        // argon2id hash of a random password
	sem   chan struct{} // bounds concurrent hashing (64 MiB each by default)

	mu       sync.Mutex
	sessions map[[32]byte]*session
	unknown  map[string]*failures
	addrs    map[string]*failures
}

// New returns an Auth over st.
func New(st Store, opt Options) (*Auth, error) {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Lockout == (store.LockoutPolicy{}) {
		opt.Lockout = store.DefaultLockout
	}
	if err := opt.Lockout.Validate(); err != nil {
		return nil, fmt.Errorf("console auth: %w", err)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&opt.AddrWindow, DefaultAddrWindow)
	def(&opt.IdleTimeout, DefaultIdleTimeout)
	def(&opt.AbsoluteTimeout, DefaultAbsoluteTimeout)
	if opt.AddrMaxFailures <= 0 {
		opt.AddrMaxFailures = DefaultAddrMaxFailures
	}
	if opt.MaxSessionsPerUser <= 0 {
		opt.MaxSessionsPerUser = DefaultMaxSessionsPerUser
	}
	if opt.Hash == (passhash.Argon2id{}) {
		opt.Hash = passhash.DefaultArgon2id
	}
	if opt.Log == nil {
		opt.Log = zap.NewNop()
	}
	pw, err := randomToken()
	if err != nil {
		return nil, err
	}
	dummy, err := passhash.HashArgon2id(pw, opt.Hash)
	if err != nil {
		return nil, fmt.Errorf("console auth: %w", err)
	}
	n := max(2, runtime.GOMAXPROCS(0))
	return &Auth{
		st: st, opt: opt, now: opt.Now, log: opt.Log, dummy: dummy, sem: make(chan struct{}, n),
		sessions: map[[32]byte]*session{}, unknown: map[string]*failures{}, addrs: map[string]*failures{},
	}, nil
}

// HashPassword hashes a new password with the configured cost.
func (a *Auth) HashPassword(password string) (string, error) {
	return passhash.HashArgon2id(password, a.opt.Hash)
}

// verify checks password against hash, at most a few at a time.
func (a *Auth) verify(ctx context.Context, hash, password string) (bool, error) {
	select {
	case a.sem <- struct{}{}:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	defer func() { <-a.sem }()
	return passhash.VerifyArgon2id(hash, password), nil
}

// Login checks a username and password typed at addr (the client's
// address, for throttling; "" skips it) and opens a session. Unknown
// usernames and wrong passwords give the same ErrBadCredentials after the
// same work; both count towards the lock-out of the name and the
// throttling of the address.
func (a *Auth) Login(ctx context.Context, username, password, addr string) (Session, error) {
	now := a.now()
	key := addrKey(addr)
	name := store.NormalizeUsername(username)
	src := auditSource(ctx, addr)
	if until, ok := a.throttled(key, now); ok {
		a.recordLogin(src, name, store.Operator{}, store.AuditDenied, "too many failed logins from this address")
		return Session{}, &RetryError{Err: ErrThrottled, Until: until}
	}
	log := a.log.With(zap.String("user", name), zap.String("src", addr))
	o, err := a.st.Operators().Find(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return Session{}, a.unknownFailure(ctx, name, password, key, now, log, src)
	}
	if err != nil {
		a.recordLogin(src, name, store.Operator{}, store.AuditError, "the store failed")
		return Session{}, fmt.Errorf("log in %s: %w", name, err)
	}
	if o.Locked(now) {
		a.addrFailure(key, now)
		log.Info("console login refused: account locked", zap.Time("until", *o.LockedUntil))
		a.recordLogin(src, name, o, store.AuditDenied, "account locked")
		return Session{}, &RetryError{Err: ErrLocked, Until: *o.LockedUntil}
	}
	ok, err := a.verify(ctx, o.PasswordHash, password)
	if err != nil {
		return Session{}, err
	}
	if !ok {
		a.addrFailure(key, now)
		lo, err := a.st.Operators().LoginFailed(ctx, o.ID, now, a.opt.Lockout)
		if err != nil {
			a.recordLogin(src, name, o, store.AuditError, "the store failed")
			return Session{}, fmt.Errorf("log in %s: %w", name, err)
		}
		a.recordLogin(src, name, o, store.AuditDenied, "wrong password")
		if lo.Locked(now) {
			log.Warn("console account locked after failed logins", zap.Time("until", *lo.LockedUntil))
			a.recordLockout(src, name, o.TenantID, *lo.LockedUntil)
			return Session{}, &RetryError{Err: ErrLocked, Until: *lo.LockedUntil}
		}
		log.Info("console login failed: wrong password", zap.Int("failures", lo.FailedCount))
		return Session{}, ErrBadCredentials
	}
	if err := a.st.Operators().LoginSucceeded(ctx, o.ID, now); err != nil {
		a.recordLogin(src, name, o, store.AuditError, "the store failed")
		return Session{}, fmt.Errorf("log in %s: %w", name, err)
	}
	u, err := a.user(ctx, o)
	if err != nil {
		a.recordLogin(src, name, o, store.AuditError, "the store failed")
		return Session{}, err
	}
	s, err := a.open(o, now)
	if err != nil {
		a.recordLogin(src, name, o, store.AuditError, "no session could be opened")
		return Session{}, err
	}
	s.User = u
	log.Info("console login", zap.String("tenant", u.Tenant), zap.String("ext", u.Extension))
	a.recordLogin(src, name, o, store.AuditOK, "")
	return s, nil
}

// unknownFailure answers a login with a username nobody has exactly as
// one with a wrong password: it checks the dummy hash (the same work) and
// keeps the same lock-out count for the name, in memory.
func (a *Auth) unknownFailure(ctx context.Context, name, password, key string, now time.Time, log *zap.Logger, src string) error {
	a.addrFailure(key, now)
	if until, locked := a.unknownLocked(name, now); locked {
		a.recordLogin(src, name, store.Operator{}, store.AuditDenied, "unknown username, locked")
		return &RetryError{Err: ErrLocked, Until: until}
	}
	if _, err := a.verify(ctx, a.dummy, password); err != nil {
		return err
	}
	a.recordLogin(src, name, store.Operator{}, store.AuditDenied, "unknown username")
	if until, locked := a.unknownFailed(name, now); locked {
		a.recordLockout(src, name, 0, until)
		return &RetryError{Err: ErrLocked, Until: until}
	}
	log.Info("console login failed: unknown username")
	return ErrBadCredentials
}

func (a *Auth) unknownLocked(name string, now time.Time) (time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if f := a.unknown[name]; f != nil && now.Before(f.locked) {
		return f.locked, true
	}
	return time.Time{}, false
}

// unknownFailed counts a failure of an unknown name with the store's rule
// (see store.OperatorStore.LoginFailed).
func (a *Auth) unknownFailed(name string, now time.Time) (time.Time, bool) {
	p := a.opt.Lockout
	a.mu.Lock()
	defer a.mu.Unlock()
	f := a.unknown[name]
	if f == nil {
		if len(a.unknown) >= maxUnknownNames {
			prune(a.unknown, func(f *failures) bool { return !now.Before(f.locked) && !now.Before(f.since.Add(p.Window)) })
		}
		if len(a.unknown) >= maxUnknownNames {
			return time.Time{}, false
		}
		f = &failures{}
		a.unknown[name] = f
	}
	if f.count > 0 && now.Sub(f.since) < p.Window {
		f.count++
	} else {
		f.count, f.since = 1, now
	}
	if f.count >= p.MaxFailures {
		f.count, f.since, f.locked = 0, time.Time{}, now.Add(p.LockFor)
		return f.locked, true
	}
	return time.Time{}, false
}

// throttled reports whether the address has failed too often in its
// window, and until when.
func (a *Auth) throttled(key string, now time.Time) (time.Time, bool) {
	if key == "" {
		return time.Time{}, false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	f := a.addrs[key]
	if f == nil || f.count < a.opt.AddrMaxFailures {
		return time.Time{}, false
	}
	until := f.since.Add(a.opt.AddrWindow)
	if !now.Before(until) {
		delete(a.addrs, key)
		return time.Time{}, false
	}
	return until, true
}

func (a *Auth) addrFailure(key string, now time.Time) {
	if key == "" {
		return
	}
	w := a.opt.AddrWindow
	a.mu.Lock()
	defer a.mu.Unlock()
	f := a.addrs[key]
	if f == nil {
		if len(a.addrs) >= maxAddrs {
			prune(a.addrs, func(f *failures) bool { return !now.Before(f.since.Add(w)) })
		}
		if len(a.addrs) >= maxAddrs {
			return
		}
		f = &failures{}
		a.addrs[key] = f
	}
	if f.count > 0 && now.Sub(f.since) < w {
		f.count++
	} else {
		f.count, f.since = 1, now
	}
}

func prune(m map[string]*failures, expired func(*failures) bool) {
	for k, f := range m {
		if expired(f) {
			delete(m, k)
		}
	}
}

// addrKey is the throttling key of a client address: the IPv4 address,
// or the /64 of an IPv6 address (one host usually has a whole /64).
func addrKey(addr string) string {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	ip = ip.Unmap()
	if ip.Is4() {
		return ip.String()
	}
	p, _ := ip.Prefix(64)
	return p.String()
}

// user builds the API's view of an account.
func (a *Auth) user(ctx context.Context, o store.Operator) (User, error) {
	t, err := a.st.Tenants().Get(ctx, o.TenantID)
	if err != nil {
		return User{}, fmt.Errorf("read tenant of operator %s: %w", o.Username, err)
	}
	return User{ID: o.ID, TenantID: o.TenantID, Username: o.Username, Name: o.DisplayName, Role: o.Role,
		Tenant: t.Name, Extension: o.Extension, Locale: o.Locale}, nil
}

// open starts a session for o.
func (a *Auth) open(o store.Operator, now time.Time) (Session, error) {
	tok, err := randomToken()
	if err != nil {
		return Session{}, err
	}
	csrf, err := randomToken()
	if err != nil {
		return Session{}, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.sweep(now)
	var mine []*session
	var keys [][32]byte
	for k, s := range a.sessions {
		if s.userID == o.ID {
			mine, keys = append(mine, s), append(keys, k)
		}
	}
	for len(mine) >= a.opt.MaxSessionsPerUser {
		oldest := 0
		for i, s := range mine {
			if s.created.Before(mine[oldest].created) {
				oldest = i
			}
		}
		delete(a.sessions, keys[oldest])
		mine, keys = append(mine[:oldest], mine[oldest+1:]...), append(keys[:oldest], keys[oldest+1:]...)
	}
	a.sessions[tokenKey(tok)] = &session{userID: o.ID, csrf: csrf, pwPrint: sha256.Sum256([]byte(o.PasswordHash)), created: now, seen: now}
	return Session{Token: tok, CSRF: csrf}, nil
}

// sweep drops expired sessions; a.mu is held.
func (a *Auth) sweep(now time.Time) {
	for k, s := range a.sessions {
		if a.expired(s, now) {
			delete(a.sessions, k)
		}
	}
}

func (a *Auth) expired(s *session, now time.Time) bool {
	return now.Sub(s.seen) >= a.opt.IdleTimeout || now.Sub(s.created) >= a.opt.AbsoluteTimeout
}

// Authenticate finds the session of token, checks it has not expired and
// that its account still exists with the password it logged in with, and
// marks it used. It returns the user and the session's CSRF token, or
// ErrNoSession.
func (a *Auth) Authenticate(ctx context.Context, token string) (User, string, error) {
	if token == "" {
		return User{}, "", ErrNoSession
	}
	k := tokenKey(token)
	now := a.now()
	a.mu.Lock()
	s := a.sessions[k]
	if s != nil && a.expired(s, now) {
		delete(a.sessions, k)
		s = nil
	}
	var cp session
	if s != nil {
		cp = *s
	}
	a.mu.Unlock()
	if s == nil {
		return User{}, "", ErrNoSession
	}
	o, err := a.st.Operators().Get(ctx, cp.userID)
	if errors.Is(err, store.ErrNotFound) || err == nil && sha256.Sum256([]byte(o.PasswordHash)) != cp.pwPrint {
		// Removed, or given a new password: every session of it ends.
		a.RevokeUser(cp.userID)
		return User{}, "", ErrNoSession
	}
	if err != nil {
		return User{}, "", fmt.Errorf("read operator %d: %w", cp.userID, err)
	}
	u, err := a.user(ctx, o)
	if err != nil {
		return User{}, "", err
	}
	a.mu.Lock()
	if s := a.sessions[k]; s != nil {
		s.seen = now
	}
	a.mu.Unlock()
	return u, cp.csrf, nil
}

// Logout ends the session of token; an unknown token is ignored.
func (a *Auth) Logout(token string) {
	a.mu.Lock()
	delete(a.sessions, tokenKey(token))
	a.mu.Unlock()
}

// RevokeUser ends every session of an account (after it was removed or
// given a new password in this process; Authenticate notices changes made
// by other processes itself) and returns how many it ended.
func (a *Auth) RevokeUser(id int64) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for k, s := range a.sessions {
		if s.userID == id {
			delete(a.sessions, k)
			n++
		}
	}
	return n
}

// randomToken is 256 random bits, base64url without padding (43 characters).
func randomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("console auth: random token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func tokenKey(token string) [32]byte { return sha256.Sum256([]byte(token)) }

// equalTokens compares two tokens in constant time.
func equalTokens(a, b string) bool {
	return len(a) == len(b) && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
