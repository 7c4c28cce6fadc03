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
	"embed"
	"io/fs"
	"net/http"
	"strings"

	"github.com/sentralpbx/sentral/console/static"
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

type handler struct {
	page   static.Asset
	assets map[string]static.Asset // by name below AssetPrefix
}

// Handler returns the handler for PathPrefix.
func Handler() http.Handler {
	h := &handler{assets: map[string]static.Asset{}}
	err := fs.WalkDir(files, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		a := static.NewAsset(p, body)
		name := strings.TrimPrefix(p, "static/")
		if name == "index.html" {
			h.page = a
		} else {
			h.assets[name] = a
		}
		return nil
	})
	if err != nil || h.page.Body == nil {
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
	var a static.Asset
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
	static.SecureHeaders(w.Header(), ContentSecurityPolicy)
	a.Serve(w, r)
}
