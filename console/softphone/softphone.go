// Package softphone serves the WebRTC softphone page: a static page (HTML,
// CSS, an ES module and the JsSIP bundle, all embedded in the binary) that
// registers an extension over SIP-over-WebSocket and calls with WebRTC
// audio, and config.json, which tells the page where the server's SIP
// WebSocket listener is and which ICE servers to use.
//
// The JsSIP bundle (assets/jssip.js) is built from pinned npm versions by
// scripts/softphone.sh and committed, so building Sentral needs no npm.
package softphone

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/sentralpbx/sentral/console/static"
)

// PathPrefix is where the handler serves: mount it with
// mux.Handle(softphone.PathPrefix, h).
const PathPrefix = "/softphone/"

//go:embed web/index.html web/app.js web/i18n.js web/style.css assets/jssip.js assets/THIRD-PARTY-LICENSES.txt
var files embed.FS

// ICEServer is one entry of the page's RTCPeerConnection iceServers: a
// STUN or TURN server. Username and Credential are for TURN; they are
// handed to every browser that loads config.json.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// Options configure the handler.
type Options struct {
	// WSURL returns the SIP WebSocket URL (ws:// or wss://) the page
	// registers at, for the request that loads the page: the server knows
	// its ws/wss listeners, the request's Host which name the browser
	// used. "" means no WebSocket listener: the page says so. A URL that
	// is not a plain ws/wss URL (no user info, query or fragment) counts
	// as "". Required.
	WSURL func(r *http.Request) string
	// ICEServers for the page's peer connections; none is fine on a LAN
	// (host candidates only).
	ICEServers []ICEServer
	// DomainHint optionally returns the SIP domain to pre-fill in the
	// login form (e.g. the tenant whose domain the request's host is).
	DomainHint func(r *http.Request) string
}

// config is the body of config.json.
type config struct {
	WSURL      string      `json:"ws_url"`
	DomainHint string      `json:"domain_hint"`
	ICEServers []ICEServer `json:"ice_servers"`
}

type handler struct {
	opt    Options
	assets map[string]static.Asset // by path below PathPrefix ("" is the page)
}

// Handler returns the handler for PathPrefix.
func Handler(opt Options) (http.Handler, error) {
	if opt.WSURL == nil {
		return nil, errors.New("softphone: Options.WSURL is required")
	}
	for i, s := range opt.ICEServers {
		if len(s.URLs) == 0 {
			return nil, fmt.Errorf("softphone: ICE server %d has no URL", i+1)
		}
		for _, u := range s.URLs {
			if err := checkICEURL(u); err != nil {
				return nil, fmt.Errorf("softphone: ICE server %d: %w", i+1, err)
			}
		}
	}
	h := &handler{opt: opt, assets: map[string]static.Asset{}}
	for name, file := range map[string]string{
		"":             "web/index.html",
		"index.html":   "web/index.html",
		"app.js":       "web/app.js",
		"i18n.js":      "web/i18n.js",
		"style.css":    "web/style.css",
		"jssip.js":     "assets/jssip.js",
		"licenses.txt": "assets/THIRD-PARTY-LICENSES.txt",
	} {
		body, err := files.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("softphone: embedded %s: %w", file, err)
		}
		h.assets[name] = static.NewAsset(file, body)
	}
	return h, nil
}

// checkICEURL accepts stun:, stuns:, turn: and turns: URLs (RFC 7064, 7065).
func checkICEURL(u string) error {
	scheme, rest, ok := strings.Cut(u, ":")
	switch strings.ToLower(scheme) {
	case "stun", "stuns", "turn", "turns":
	default:
		return fmt.Errorf("%q: want a stun:, stuns:, turn: or turns: URL", u)
	}
	if !ok || rest == "" || strings.ContainsAny(rest, " \t\r\n\"'<>") {
		return fmt.Errorf("%q: no host", u)
	}
	return nil
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutPrefix(r.URL.Path, PathPrefix)
	if !ok {
		if r.URL.Path+"/" == PathPrefix {
			http.Redirect(w, r, PathPrefix, http.StatusMovedPermanently)
			return
		}
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	wsURL := cleanWSURL(h.opt.WSURL(r))
	static.SecureHeaders(w.Header(), csp(wsURL))

	if name == "config.json" {
		h.serveConfig(w, r, wsURL)
		return
	}
	a, ok := h.assets[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	a.Serve(w, r)
}

func (h *handler) serveConfig(w http.ResponseWriter, r *http.Request, wsURL string) {
	c := config{WSURL: wsURL, ICEServers: h.opt.ICEServers}
	if c.ICEServers == nil {
		c.ICEServers = []ICEServer{}
	}
	if h.opt.DomainHint != nil {
		c.DomainHint = h.opt.DomainHint(r)
	}
	body, err := json.Marshal(c)
	if err != nil {
		http.Error(w, "config: "+err.Error(), http.StatusInternalServerError)
		return
	}
	hdr := w.Header()
	// It may carry TURN credentials and depends on the request's host.
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Vary", "Host")
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(append(body, '\n'))
}

// cleanWSURL returns u when it is a ws:// or wss:// URL whose parts are
// safe to put into a header, else "".
func cleanWSURL(u string) string {
	if u == "" || len(u) > 512 {
		return ""
	}
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "ws" && p.Scheme != "wss") || p.Host == "" || p.User != nil ||
		p.RawQuery != "" || p.Fragment != "" || p.Opaque != "" || strings.Contains(u, "#") {
		return ""
	}
	for _, c := range p.Host + p.EscapedPath() {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune(".-_~:[]/%", c)) {
			return ""
		}
	}
	return u
}

// csp is the page's Content-Security-Policy: its own files only, no
// inline script or style, connections to itself and to the SIP WebSocket.
func csp(wsURL string) string {
	connect := "'self'"
	if src := wsSource(wsURL); src != "" {
		connect += " " + src
	}
	return strings.Join([]string{
		"default-src 'none'",
		"script-src 'self'",
		"style-src 'self'",
		"img-src 'self' data:",
		"media-src 'self' blob: mediastream:",
		"connect-src " + connect,
		"base-uri 'none'",
		"form-action 'none'",
		"frame-ancestors 'none'",
	}, "; ")
}

// wsSource is the CSP source expression for the WebSocket URL: its
// scheme, host and port. CSP host sources cannot name an IPv6 literal, so
// for one only the scheme (ws: or wss:) is allowed.
func wsSource(wsURL string) string {
	if wsURL == "" {
		return ""
	}
	p, err := url.Parse(wsURL)
	if err != nil {
		return ""
	}
	if strings.HasPrefix(p.Host, "[") {
		return p.Scheme + ":"
	}
	return p.Scheme + "://" + p.Host
}
