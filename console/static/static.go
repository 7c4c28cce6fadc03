// Package static serves the console listener's embedded pages (the
// softphone, the operators' console) the same way: content types, ETags
// with revalidation, and one set of security headers.
package static

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"path"
	"time"
)

// Asset is one embedded file as served.
type Asset struct {
	Body        []byte
	ContentType string
	ETag        string
}

// NewAsset prepares body, named name (its extension gives the type).
func NewAsset(name string, body []byte) Asset {
	sum := sha256.Sum256(body)
	return Asset{Body: body, ContentType: ContentType(name), ETag: `"` + hex.EncodeToString(sum[:12]) + `"`}
}

// ContentType is the type of a file by its extension.
func ContentType(name string) string {
	switch path.Ext(name) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js", ".mjs":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	case ".json":
		return "application/json"
	default:
		return "text/plain; charset=utf-8"
	}
}

// SecureHeaders sets the headers every page and asset gets: csp, no
// sniffing, no referrer, no framing, same-origin isolation, and only the
// microphone among the powerful features.
func SecureHeaders(h http.Header, csp string) {
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Permissions-Policy", "microphone=(self), camera=(), geolocation=(), payment=(), usb=()")
}

// Serve writes a (GET or HEAD) with its type and ETag, answering 304 to a
// matching If-None-Match. It is revalidated every time: a stale script
// next to a newer server is worse than one round trip.
func (a Asset) Serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-cache")
	h.Set("Content-Type", a.ContentType)
	h.Set("ETag", a.ETag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.Body))
}
