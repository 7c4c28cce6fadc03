// Package web serves the operators' switchboard console page: a static
// app (index.html, an ES module, its strings and a style sheet, embedded
// in the binary; no build step) that does everything through the console
// API under /console/api/ (docs/console-api.md), which the server mounts
// itself. Answering calls in the browser uses the softphone package's
// JsSIP bundle (/softphone/jssip.js on the same listener).
//
// Mount it with mux.Handle(web.PathPrefix, web.Handler()) next to the API
// handler for APIPrefix (the longer pattern wins in http.ServeMux).
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

const (
	// PathPrefix is where the page is: GET /console/ is the page, its
	// files are under /console/assets/.
	PathPrefix = "/console/"
	// APIPrefix is the API's; this handler answers 404 there.
	APIPrefix = PathPrefix + "api/"
	// AssetPrefix is where the page's files are.
	AssetPrefix = PathPrefix + "assets/"
)

// ContentSecurityPolicy is the page's policy: its own files only, no
// inline script or style; connections to itself (API, events) and to the
// SIP WebSocket listener (ws:/wss:, which may be on another port).
const ContentSecurityPolicy = "default-src 'self'; connect-src 'self' ws: wss:; media-src 'self' blob:; " +
	"img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'"

//go:embed static
var files embed.FS

// asset is one embedded file as served.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

type handler struct {
	page   asset
	assets map[string]asset // by name below AssetPrefix
}

// Handler returns the handler for PathPrefix.
func Handler() http.Handler {
	h := &handler{assets: map[string]asset{}}
	err := fs.WalkDir(files, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		a := asset{body: body, contentType: contentType(p), etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		name := strings.TrimPrefix(p, "static/")
		if name == "index.html" {
			h.page = a
		} else {
			h.assets[name] = a
		}
		return nil
	})
	if err != nil || h.page.body == nil {
		// The files are compiled in: this cannot happen in a built binary.
		panic("console/web: embedded files: " + errString(err))
	}
	return h
}

func errString(err error) string {
	if err == nil {
		return "no index.html"
	}
	return err.Error()
}

func contentType(name string) string {
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

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if p+"/" == PathPrefix {
		http.Redirect(w, r, PathPrefix, http.StatusMovedPermanently)
		return
	}
	if !strings.HasPrefix(p, PathPrefix) || strings.HasPrefix(p, APIPrefix) || p+"/" == APIPrefix {
		http.NotFound(w, r)
		return
	}
	var a asset
	var ok bool
	switch {
	case p == PathPrefix:
		a, ok = h.page, true
	case strings.HasPrefix(p, AssetPrefix):
		a, ok = h.assets[strings.TrimPrefix(p, AssetPrefix)]
	}
	if !ok {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", ContentSecurityPolicy)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("Cross-Origin-Opener-Policy", "same-origin")
	hdr.Set("Cross-Origin-Resource-Policy", "same-origin")
	hdr.Set("Permissions-Policy", "microphone=(self), camera=(), geolocation=(), payment=(), usb=()")
	// Revalidate every time: a stale app.js next to a newer API is worse
	// than one round trip (the ETag makes it a 304).
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("Content-Type", a.contentType)
	hdr.Set("ETag", a.etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}
