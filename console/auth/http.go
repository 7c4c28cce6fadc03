package auth

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"mime"
	"net"
	"net/http"
	"strconv"

	"go.uber.org/zap"
)

// The HTTP contract (docs/console-api.md).
const (
	CookieName = "sentral_console"
	CookiePath = "/console/"
	CSRFHeader = "X-CSRF-Token"

	LoginPath  = "/console/api/login"
	LogoutPath = "/console/api/logout"
	MePath     = "/console/api/me"
)

// maxLoginBody bounds the login request: a username and a password.
const maxLoginBody = 4 << 10

// Register adds the authentication endpoints to mux:
// POST /console/api/login, POST /console/api/logout (session and CSRF
// token required) and GET /console/api/me.
func (a *Auth) Register(mux *http.ServeMux) {
	mux.Handle("POST "+LoginPath, http.HandlerFunc(a.serveLogin))
	mux.Handle("POST "+LogoutPath, a.Require(http.HandlerFunc(a.serveLogout)))
	mux.Handle("GET "+MePath, a.Require(http.HandlerFunc(a.serveMe)))
}

type ctxKey struct{}

type ctxValue struct {
	user  User
	csrf  string
	token string
}

// UserFrom returns the user Require put into the request's context.
func UserFrom(ctx context.Context) (User, bool) {
	v, ok := ctx.Value(ctxKey{}).(ctxValue)
	return v.user, ok
}

// CSRFFrom returns the CSRF token of the request's session (set by
// Require), for answers that hand it to the page.
func CSRFFrom(ctx context.Context) (string, bool) {
	v, ok := ctx.Value(ctxKey{}).(ctxValue)
	return v.csrf, ok
}

// WithUser returns ctx carrying u as UserFrom reads it: for tests of
// handlers that run behind Require.
func WithUser(ctx context.Context, u User) context.Context {
	return context.WithValue(ctx, ctxKey{}, ctxValue{user: u})
}

// Require lets a request through only with a live session: without one
// it answers 401; a request that may change something (any method but
// GET, HEAD and OPTIONS) must also carry the session's CSRF token in
// X-CSRF-Token, or it gets 403. The user is in the context (UserFrom).
func (a *Auth) Require(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var token string
		if c, err := r.Cookie(CookieName); err == nil {
			token = c.Value
		}
		u, csrf, err := a.Authenticate(r.Context(), token)
		if errors.Is(err, ErrNoSession) {
			if token != "" {
				a.clearCookie(w, r)
			}
			WriteError(w, http.StatusUnauthorized, ErrNoSession.Error(), "")
			return
		}
		if err != nil {
			a.log.Error("console session check failed", zap.Error(err))
			WriteError(w, http.StatusInternalServerError, "the server could not check the session; try again", "")
			return
		}
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
		default:
			if !equalTokens(r.Header.Get(CSRFHeader), csrf) {
				WriteError(w, http.StatusForbidden, "missing or wrong "+CSRFHeader+" header: reload the page", "")
				return
			}
		}
		ctx := context.WithValue(r.Context(), ctxKey{}, ctxValue{user: u, csrf: csrf, token: token})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// RequireAdmin answers 403 unless the user Require found is an admin;
// put it inside Require.
func RequireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := UserFrom(r.Context())
		if !ok || !u.Admin() {
			WriteError(w, http.StatusForbidden, "only the switchboard's admins may do this", "")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// loginAnswer is the body of login and me.
type loginAnswer struct {
	User User   `json:"user"`
	CSRF string `json:"csrf"`
}

func (a *Auth) serveLogin(w http.ResponseWriter, r *http.Request) {
	// JSON only: a cross-site form cannot send it without a CORS
	// preflight, so no other site can log a browser in (login CSRF).
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		WriteError(w, http.StatusBadRequest, "send the username and password as JSON (Content-Type: application/json)", "")
		return
	}
	var in struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxLoginBody))
	if err := dec.Decode(&in); err != nil {
		WriteError(w, http.StatusBadRequest, "the body must be {\"username\": \"...\", \"password\": \"...\"}", "")
		return
	}
	switch {
	case in.Username == "":
		WriteError(w, http.StatusBadRequest, "give your username", "username")
		return
	case in.Password == "":
		WriteError(w, http.StatusBadRequest, "give your password", "password")
		return
	}
	ctx := context.WithValue(r.Context(), srcKey{}, a.auditSourceOf(r))
	s, err := a.Login(ctx, in.Username, in.Password, a.clientAddr(r))
	var re *RetryError
	switch {
	case err == nil:
	case errors.Is(err, ErrBadCredentials):
		WriteError(w, http.StatusUnauthorized, ErrBadCredentials.Error(), "")
		return
	case errors.As(err, &re):
		status := http.StatusLocked
		if errors.Is(err, ErrThrottled) {
			status = http.StatusTooManyRequests
		}
		secs := math.Ceil(re.Until.Sub(a.now()).Seconds())
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(secs))))
		WriteError(w, status, re.Error(), "")
		return
	default:
		a.log.Error("console login failed", zap.Error(err))
		WriteError(w, http.StatusInternalServerError, "the server could not log you in; try again", "")
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: s.Token, Path: CookiePath,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: a.secure(r),
		// No Expires: the cookie ends with the browser (switchboard PCs are
		// shared between shifts); the server ends the session on time.
	})
	WriteJSON(w, http.StatusOK, loginAnswer{User: s.User, CSRF: s.CSRF})
}

func (a *Auth) serveLogout(w http.ResponseWriter, r *http.Request) {
	if v, ok := r.Context().Value(ctxKey{}).(ctxValue); ok {
		a.Logout(v.token)
		a.log.Info("console logout", zap.String("user", v.user.Username))
		a.recordLogout(a.auditSourceOf(r), v.user)
	}
	a.clearCookie(w, r)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

func (a *Auth) serveMe(w http.ResponseWriter, r *http.Request) {
	v, _ := r.Context().Value(ctxKey{}).(ctxValue)
	WriteJSON(w, http.StatusOK, loginAnswer{User: v.user, CSRF: v.csrf})
}

func (a *Auth) clearCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: CookiePath, MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: a.secure(r)})
}

func (a *Auth) secure(r *http.Request) bool {
	switch a.opt.Cookie {
	case SecureAlways:
		return true
	case SecureNever:
		return false
	}
	return r.TLS != nil
}

func (a *Auth) clientAddr(r *http.Request) string {
	if a.opt.ClientAddr != nil {
		return a.opt.ClientAddr(r)
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// apiError is the console API's error body.
type apiError struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

// WriteError answers with the console API's error body
// {"error": msg, "field": field} (field omitted when empty).
func WriteError(w http.ResponseWriter, status int, msg, field string) {
	WriteJSON(w, status, apiError{Error: msg, Field: field})
}

// WriteJSON answers with v as JSON, uncacheable, as every console API
// answer is.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
