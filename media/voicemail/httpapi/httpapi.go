// Package httpapi lets mailbox owners list, download, delete and save
// their voicemail messages over HTTP, on the server that provisions the
// desk phones:
//
//	GET    /voicemail/{domain}/{mailbox}/messages            JSON list
//	GET    /voicemail/{domain}/{mailbox}/messages/{id}.wav   the recording
//	DELETE /voicemail/{domain}/{mailbox}/messages/{id}       delete it
//	POST   /voicemail/{domain}/{mailbox}/messages/{id}/save  mark it heard
//
// Choices:
//   - Authentication is HTTP Digest (RFC 7616, SHA-256 or MD5, qop=auth)
//     with realm the tenant's domain and username the mailbox's number,
//     verified by sip/auth against the extension's stored HA1s: those are
//     H(number:domain:password), exactly what HTTP digest with that realm
//     computes, so the SIP password opens the mailbox. Only the owner may:
//     device credentials (desk phones' own) are not accepted here.
//   - An unknown domain, an unknown mailbox and a wrong password all get
//     the same fresh 401 challenge, and a message of another mailbox is
//     404 like one that does not exist: nothing tells what exists.
//   - Failures count towards the guard's ban of the source address; a
//     banned or flooding source gets 429 before anything is looked up.
//   - sip/auth's nonce-count table makes every Authorization usable once,
//     which is what binds an answer to its request here: sip/auth does not
//     expose the digest's uri to compare with the request (see the
//     package's report). A count older than one already used (parallel
//     range requests of an audio player can arrive out of order) is
//     answered with a stale challenge, which clients retry silently.
//   - Files are opened through an os.Root on the voicemail directory, so
//     a stored path can never leave it, not even through a symbolic link;
//     paths are also checked with io/fs.ValidPath first.
//   - Unsafe cross-origin requests from browsers are refused
//     (http.CrossOriginProtection): a browser that has cached the digest
//     would otherwise let any web page delete messages.
package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/sip/auth"
	"github.com/sentralpbx/sentral/store"
)

// Catalog answers who owns a domain and which extensions exist
// (*catalog.Catalog).
type Catalog interface {
	TenantByDomain(domain string) (store.Tenant, bool)
	Extension(tenantID int64, number string) (store.Extension, bool)
}

// Authenticator builds digest challenges and verifies answers
// (*auth.Authenticator).
type Authenticator interface {
	Challenge(realm string, stale bool, algorithms ...string) []string
	Verify(method, header, realm string, lookup func(user string) (auth.Credentials, bool)) auth.Result
}

// Guard admits sources and bans those that fail too often (*auth.Guard).
type Guard interface {
	Allow(ip netip.Addr) (ok bool, reason string)
	Failed(ip netip.Addr) (banned bool)
	Succeeded(ip netip.Addr)
}

// Messages is the part of store.VoicemailStore the handler uses.
type Messages interface {
	Get(ctx context.Context, id int64) (store.VoicemailMessage, error)
	List(ctx context.Context, tenantID int64, mailbox string, folder store.VoicemailFolder) ([]store.VoicemailMessage, error)
	Move(ctx context.Context, id int64, folder store.VoicemailFolder) error
	Delete(ctx context.Context, id int64) (store.VoicemailMessage, error)
}

// Deps are the handler's collaborators; all but Log are required.
type Deps struct {
	Catalog  Catalog
	Auth     Authenticator
	Guard    Guard
	Messages Messages
	Log      *zap.Logger
}

// Options configure the handler.
type Options struct {
	// Dir is the voicemail directory the messages' paths are relative to.
	Dir string
	// Algorithms orders and filters the digest challenges (default
	// SHA-256, then MD5).
	Algorithms []string
	// OnChange, if set, is told after a message was deleted or saved, on
	// the request's goroutine before the response is written (the wiring
	// sends message-waiting NOTIFYs from there).
	OnChange func(tenantID int64, mailbox string)
}

// Handler serves the routes under PathPrefix. It is safe for concurrent
// use.
type Handler struct {
	d   Deps
	opt Options
	log *zap.Logger
	cop *http.CrossOriginProtection
}

// New checks the options and returns the handler.
func New(deps Deps, opt Options) (*Handler, error) {
	if deps.Catalog == nil || deps.Auth == nil || deps.Guard == nil || deps.Messages == nil {
		return nil, errors.New("voicemail http: Catalog, Auth, Guard and Messages are required")
	}
	if opt.Dir == "" {
		return nil, errors.New("voicemail http: no voicemail directory")
	}
	if err := auth.CheckAlgorithms(opt.Algorithms); err != nil {
		return nil, fmt.Errorf("voicemail http: %w", err)
	}
	if deps.Log == nil {
		deps.Log = zap.NewNop()
	}
	return &Handler{d: deps, opt: opt, log: deps.Log, cop: http.NewCrossOriginProtection()}, nil
}

// ServeHTTP serves one request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Every answer is about one person's messages at one moment.
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if err := h.cop.Check(r); err != nil {
		h.log.Info("voicemail http: cross-origin request refused", zap.String("src", r.RemoteAddr),
			zap.String("method", r.Method), zap.String("path", clip(r.URL.EscapedPath())))
		http.Error(w, "cross-origin request refused", http.StatusForbidden)
		return
	}
	src, err := remoteIP(r.RemoteAddr)
	if err != nil {
		http.Error(w, "bad remote address", http.StatusBadRequest)
		return
	}
	if ok, why := h.d.Guard.Allow(src); !ok {
		h.log.Debug("voicemail http: source refused", zap.String("src", r.RemoteAddr), zap.String("reason", why))
		http.Error(w, "too many requests", http.StatusTooManyRequests)
		return
	}
	rt, found, methodOK := parseRoute(r.Method, r.URL.EscapedPath())
	if !found {
		http.NotFound(w, r)
		return
	}
	if !methodOK {
		w.Header().Set("Allow", strings.Join(allowed[rt.action], ", "))
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	log := h.log.With(zap.String("src", r.RemoteAddr), zap.String("tenant", rt.domain), zap.String("ext", rt.mailbox))
	tenant, ok := h.authenticate(w, r, src, rt, log)
	if !ok {
		return
	}
	if rt.id != 0 {
		log = log.With(zap.Int64("id", rt.id))
	}
	switch rt.action {
	case actList:
		h.list(w, r, tenant, rt, log)
	case actDownload:
		h.download(w, r, tenant, rt, log)
	case actDelete:
		h.delete(w, r, tenant, rt, log)
	case actSave:
		h.save(w, r, tenant, rt, log)
	}
}

// reasonReplayed is sip/auth's Result.Reason for a nonce count below one
// already used with that nonce (TestOutOfOrderCountIsStale pins it).
const reasonReplayed = "nonce count replayed"

// authenticate answers the request with a challenge unless it carries the
// mailbox owner's credentials; true with the tenant when it does.
func (h *Handler) authenticate(w http.ResponseWriter, r *http.Request, src netip.Addr, rt route, log *zap.Logger) (store.Tenant, bool) {
	tenant, known := h.d.Catalog.TenantByDomain(rt.domain)
	realm := rt.domain
	if known {
		realm = tenant.Domain
	}
	hdr := r.Header.Get("Authorization")
	if hdr == "" {
		h.challenge(w, realm, false)
		return tenant, false
	}
	var ext store.Extension
	if known {
		ext, known = h.d.Catalog.Extension(tenant.ID, rt.mailbox)
	}
	res := h.d.Auth.Verify(r.Method, hdr, realm, func(user string) (auth.Credentials, bool) {
		if !known || user != rt.mailbox || !ext.Enabled || !ext.HasCredentials() {
			return auth.Credentials{}, false
		}
		return auth.Credentials{HA1MD5: ext.HA1MD5, HA1SHA256: ext.HA1SHA256}, true
	})
	switch {
	case res.OK:
		h.d.Guard.Succeeded(src)
		return tenant, true
	case res.Stale || res.Reason == reasonReplayed:
		// The password was right; only the nonce or its count was not.
		log.Debug("voicemail http: stale nonce", zap.String("reason", res.Reason))
		h.challenge(w, realm, true)
		return tenant, false
	}
	// The claimed username is not secret; digests and passwords are
	// never logged.
	log.Info("voicemail http: authentication failed", zap.String("reason", res.Reason), zap.String("user", clip(res.User)))
	if h.d.Guard.Failed(src) {
		log.Warn("voicemail http: source banned after repeated failures")
	}
	h.challenge(w, realm, false)
	return tenant, false
}

func (h *Handler) challenge(w http.ResponseWriter, realm string, stale bool) {
	for _, c := range h.d.Auth.Challenge(realm, stale, h.opt.Algorithms...) {
		w.Header().Add("WWW-Authenticate", c)
	}
	http.Error(w, "authentication required", http.StatusUnauthorized)
}

// messageJSON is one message in the list.
type messageJSON struct {
	ID           int64  `json:"id"`
	Folder       string `json:"folder"`
	CallerNumber string `json:"caller_number"`
	CallerName   string `json:"caller_name"`
	ReceivedAt   string `json:"received_at"` // RFC 3339, UTC
	DurationMS   int64  `json:"duration_ms"`
	Urgent       bool   `json:"urgent"`
	URL          string `json:"url"` // the recording, absolute path on this server
}

func (h *Handler) list(w http.ResponseWriter, r *http.Request, tenant store.Tenant, rt route, log *zap.Logger) {
	ms, err := h.d.Messages.List(r.Context(), tenant.ID, rt.mailbox, "")
	if err != nil {
		log.Error("voicemail http: list", zap.Error(err))
		http.Error(w, "listing failed", http.StatusInternalServerError)
		return
	}
	out := make([]messageJSON, 0, len(ms))
	for _, m := range ms {
		file := route{action: actDownload, domain: rt.domain, mailbox: rt.mailbox, id: m.ID}
		out = append(out, messageJSON{ID: m.ID, Folder: string(m.Folder), CallerNumber: m.CallerNumber, CallerName: m.CallerName,
			ReceivedAt: m.ReceivedAt.UTC().Format(time.RFC3339), DurationMS: m.DurationMillis, Urgent: m.Urgent, URL: file.path()})
	}
	var b bytes.Buffer
	if err := json.NewEncoder(&b).Encode(out); err != nil {
		log.Error("voicemail http: encode list", zap.Error(err))
		http.Error(w, "listing failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(b.Bytes())
	}
	log.Debug("voicemail http: listed", zap.Int("messages", len(out)))
}

// owned returns the message rt names if it belongs to rt's mailbox;
// otherwise it answers 404 (or 500) and returns false. Another mailbox's
// message is 404 like a missing one: ids are sequential, and telling them
// apart would reveal how many messages others have.
func (h *Handler) owned(w http.ResponseWriter, r *http.Request, tenant store.Tenant, rt route, log *zap.Logger) (store.VoicemailMessage, bool) {
	m, err := h.d.Messages.Get(r.Context(), rt.id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		http.NotFound(w, r)
		return m, false
	case err != nil:
		log.Error("voicemail http: get message", zap.Error(err))
		http.Error(w, "lookup failed", http.StatusInternalServerError)
		return m, false
	case m.TenantID != tenant.ID || m.Mailbox != rt.mailbox:
		log.Info("voicemail http: message of another mailbox asked for")
		http.NotFound(w, r)
		return m, false
	}
	return m, true
}

func (h *Handler) download(w http.ResponseWriter, r *http.Request, tenant store.Tenant, rt route, log *zap.Logger) {
	m, ok := h.owned(w, r, tenant, rt, log)
	if !ok {
		return
	}
	f, err := h.open(m.Path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			log.Warn("voicemail http: message without its file", zap.String("path", m.Path))
			http.NotFound(w, r)
			return
		}
		log.Error("voicemail http: open message", zap.String("path", m.Path), zap.Error(err))
		http.Error(w, "message unavailable", http.StatusInternalServerError)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		log.Error("voicemail http: message file is not a regular file", zap.String("path", m.Path), zap.Error(err))
		http.Error(w, "message unavailable", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "audio/wav")
	w.Header().Set("Content-Disposition", `attachment; filename="voicemail-`+rt.mailbox+"-"+strconv.FormatInt(m.ID, 10)+`.wav"`)
	// Ranges, HEAD and If-Modified-Since; the name is empty so the type
	// set above stands.
	http.ServeContent(w, r, "", fi.ModTime(), f)
	log.Debug("voicemail http: message served", zap.String("range", clip(r.Header.Get("Range"))))
}

func (h *Handler) delete(w http.ResponseWriter, r *http.Request, tenant store.Tenant, rt route, log *zap.Logger) {
	if _, ok := h.owned(w, r, tenant, rt, log); !ok {
		return
	}
	m, err := h.d.Messages.Delete(r.Context(), rt.id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		http.NotFound(w, r) // deleted meanwhile
		return
	case err != nil:
		log.Error("voicemail http: delete message", zap.Error(err))
		http.Error(w, "delete failed", http.StatusInternalServerError)
		return
	}
	// The row is gone, so the message is; a file left behind is only
	// disk space, and is logged for the operator.
	if err := h.remove(m.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		log.Error("voicemail http: message deleted but its file was not", zap.String("path", m.Path), zap.Error(err))
	}
	h.changed(tenant.ID, rt.mailbox)
	log.Info("voicemail http: message deleted", zap.String("folder", string(m.Folder)))
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) save(w http.ResponseWriter, r *http.Request, tenant store.Tenant, rt route, log *zap.Logger) {
	m, ok := h.owned(w, r, tenant, rt, log)
	if !ok {
		return
	}
	if m.Folder != store.VoicemailSaved {
		err := h.d.Messages.Move(r.Context(), rt.id, store.VoicemailSaved)
		switch {
		case errors.Is(err, store.ErrNotFound):
			http.NotFound(w, r)
			return
		case err != nil:
			log.Error("voicemail http: save message", zap.Error(err))
			http.Error(w, "save failed", http.StatusInternalServerError)
			return
		}
		h.changed(tenant.ID, rt.mailbox)
		log.Info("voicemail http: message saved")
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) changed(tenantID int64, mailbox string) {
	if h.opt.OnChange != nil {
		h.opt.OnChange(tenantID, mailbox)
	}
}

// errBadPath is a stored path that could leave the voicemail directory.
var errBadPath = errors.New("stored path is not a relative path inside the voicemail directory")

// checkPath refuses a stored path that is not a plain relative path (the
// store refuses them too; this does not trust it to).
func checkPath(p string) (string, error) {
	if p == "." || !fs.ValidPath(p) || strings.Contains(p, `\`) {
		return "", fmt.Errorf("%q: %w", clip(p), errBadPath)
	}
	local, err := filepath.Localize(p)
	if err != nil {
		return "", fmt.Errorf("%q: %w", clip(p), errBadPath)
	}
	return local, nil
}

// open opens a stored path under Dir; the os.Root refuses anything that
// would resolve outside it, symbolic links included.
func (h *Handler) open(p string) (*os.File, error) {
	local, err := checkPath(p)
	if err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(h.opt.Dir)
	if err != nil {
		return nil, fmt.Errorf("voicemail directory: %w", err)
	}
	defer root.Close()
	f, err := root.Open(local)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", p, err)
	}
	return f, nil
}

func (h *Handler) remove(p string) error {
	local, err := checkPath(p)
	if err != nil {
		return err
	}
	root, err := os.OpenRoot(h.opt.Dir)
	if err != nil {
		return fmt.Errorf("voicemail directory: %w", err)
	}
	defer root.Close()
	if err := root.Remove(local); err != nil {
		return fmt.Errorf("remove %s: %w", p, err)
	}
	return nil
}

func remoteIP(addr string) (netip.Addr, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("remote address %q: %w", addr, err)
	}
	return ap.Addr().Unmap(), nil
}

// clip bounds what a log line quotes from a request.
func clip(s string) string {
	if len(s) > 100 {
		return s[:100] + "..."
	}
	return s
}
