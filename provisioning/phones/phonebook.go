package phones

import (
	"net/http"
	"net/url"
	"strings"

	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/directory/httpapi"
)

// PhonebookAuth wraps next, the desk phones' phone book
// (httpapi.NewPhonebook), in the authentication of the configuration
// files: the phone named by the mac query parameter must answer the digest
// challenge with its own AuthUser and Secret, exactly as for its file (same
// realm, nonces, answers and logging). next then sees the request with the
// phone's tenant in its context (httpapi.WithTenant) and decides whether
// the book asked for is that tenant's. Mount it on the phones' listener:
//
//	mux.Handle(httpapi.PhonebookPrefix, h.PhonebookAuth(httpapi.NewPhonebook(dir, log)))
//
// A request without a single well-formed mac, or with one no device has,
// gets 404 without a challenge; a method other than GET or HEAD gets 405
// before the store is asked. Every answer carries Cache-Control: no-store.
func (h *Handler) PhonebookAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// As for the files: every answer, a refusal too, is about one
		// phone at one moment and must not be cached or sniffed.
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		// The query (what the user typed into the phone) stays out of the
		// log; the path names the tenant and the format.
		log := h.log.With(zap.String("src", r.RemoteAddr), zap.String("path", truncate(r.URL.Path, 100)),
			zap.String("user_agent", truncate(r.UserAgent(), 200)))
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			// The phone book is read-only; refusing here keeps junk
			// requests away from the store, as the file mux does.
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		mac, ok := phonebookMAC(r.URL)
		if !ok {
			log.Info("phone book: no or malformed mac parameter")
			http.NotFound(w, r)
			return
		}
		d, log, ok := h.authorize(w, r, mac, "phone book", log)
		if !ok {
			return
		}
		if d.TenantID <= 0 {
			// A Source that does not fill TenantID: the phone book would
			// refuse every phone with 403, which looks like the phone's
			// fault. Say whose it is.
			log.Error("phone book: the device source gave the device no tenant ID")
			http.Error(w, "device has no tenant", http.StatusInternalServerError)
			return
		}
		log.Debug("phone book: phone authenticated", zap.Int64("tenant_id", d.TenantID))
		next.ServeHTTP(w, r.WithContext(httpapi.WithTenant(r.Context(), d.TenantID)))
	})
}

// phonebookMAC returns the normalized MAC of the request's mac parameter.
// Exactly one is accepted: with two, the device whose credentials are
// checked and the one a log or proxy shows could differ.
func phonebookMAC(u *url.URL) (string, bool) {
	vs := u.Query()["mac"]
	if len(vs) != 1 {
		return "", false
	}
	return normalizeMAC(vs[0])
}

// withCredentials returns the http(s) URL raw with user and password as its
// userinfo (https://user:password@host/...), for phones that answer a
// digest challenge only with credentials from the URL. Both are escaped
// down to RFC 3986 unreserved characters, so a phone's URL parser cannot
// mistake a character of the secret for a delimiter. raw is returned
// unchanged when it is not an absolute http(s) URL, when it already
// carries userinfo (the admin's choice), or when there is no user.
func withCredentials(raw, user, password string) string {
	if user == "" {
		return raw
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return raw
	}
	// Spliced into the string rather than set on u and re-encoded, so that
	// the rest of the URL stays byte for byte what was configured.
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return raw
	}
	return scheme + "://" + escapeUserinfo(user) + ":" + escapeUserinfo(password) + "@" + rest
}

// escapeUserinfo percent-encodes every byte of s but the RFC 3986
// unreserved characters (letters, digits, "-._~").
func escapeUserinfo(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '.', c == '_', c == '~':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}
