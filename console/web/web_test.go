package web

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/sentralpbx/sentral/console/softphone"
)

func get(t *testing.T, h http.Handler, method, target string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

// staticFiles lists the embedded files (below static/).
func staticFiles(t *testing.T) []string {
	t.Helper()
	var names []string
	err := fs.WalkDir(files, "static", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, strings.TrimPrefix(p, "static/"))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	return names
}

func staticFile(t *testing.T, name string) string {
	t.Helper()
	b, err := files.ReadFile("static/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const wantCSP = "default-src 'self'; connect-src 'self' ws: wss:; media-src 'self' blob:; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'"

func TestServesThePageAndEveryAsset(t *testing.T) {
	h := Handler()
	type tc struct{ path, ctype, contains string }
	cases := []tc{{"/console/", "text/html; charset=utf-8", `<script type="module" src="assets/app.js"></script>`}}
	ctypes := map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
	for _, name := range staticFiles(t) {
		if name == "index.html" {
			continue
		}
		ct, ok := ctypes[name[strings.LastIndex(name, "."):]]
		if !ok {
			t.Fatalf("%s: no expected content type in the test", name)
		}
		cases = append(cases, tc{"/console/assets/" + name, ct, ""})
	}
	if len(cases) < 4 {
		t.Fatalf("only %d files", len(cases))
	}
	for _, c := range cases {
		for _, method := range []string{"GET", "HEAD"} {
			res, body := get(t, h, method, c.path, nil)
			if res.StatusCode != http.StatusOK {
				t.Errorf("%s %s: %d", method, c.path, res.StatusCode)
				continue
			}
			if method == "HEAD" {
				if body != "" {
					t.Errorf("HEAD %s: %d bytes of body", c.path, len(body))
				}
				continue
			}
			if !strings.Contains(body, c.contains) {
				t.Errorf("GET %s: body lacks %q", c.path, c.contains)
			}
			for k, want := range map[string]string{
				"Content-Type":            c.ctype,
				"Content-Security-Policy": wantCSP,
				"X-Content-Type-Options":  "nosniff",
				"Referrer-Policy":         "no-referrer",
				"Cache-Control":           "no-cache",
				"X-Frame-Options":         "DENY",
			} {
				if got := res.Header.Get(k); got != want {
					t.Errorf("GET %s: %s %q, want %q", c.path, k, got, want)
				}
			}
			etag := res.Header.Get("ETag")
			if !regexp.MustCompile(`^"[0-9a-f]{24}"$`).MatchString(etag) {
				t.Errorf("GET %s: ETag %q", c.path, etag)
				continue
			}
			if res, _ := get(t, h, "GET", c.path, map[string]string{"If-None-Match": etag}); res.StatusCode != http.StatusNotModified {
				t.Errorf("GET %s with If-None-Match: %d, want 304", c.path, res.StatusCode)
			}
		}
	}
}

func TestNotFoundRedirectAndMethods(t *testing.T) {
	h := Handler()
	for _, p := range []string{
		"/console/api/", "/console/api", "/console/api/state", "/console/api/events", "/console/api/login",
		"/console/nope", "/console/index.html", "/console/app.js", "/console/assets/", "/console/assets/nope.js",
		"/console/assets/../web.go", "/console/assets/static/app.js", "/console/web.go", "/softphone/", "/",
	} {
		for _, method := range []string{"GET", "POST"} {
			if res, _ := get(t, h, method, p, nil); res.StatusCode != http.StatusNotFound {
				t.Errorf("%s %s: %d, want 404", method, p, res.StatusCode)
			}
		}
	}
	if res, _ := get(t, h, "GET", "/console", nil); res.StatusCode != http.StatusMovedPermanently || res.Header.Get("Location") != PathPrefix {
		t.Errorf("/console: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	res, _ := get(t, h, "POST", "/console/assets/app.js", nil)
	if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST app.js: %d Allow %q", res.StatusCode, res.Header.Get("Allow"))
	}
}

// Every file index.html and the modules refer to is served; the JsSIP
// bundle comes from the softphone package's handler.
func TestReferencedFilesExist(t *testing.T) {
	h := Handler()
	page := staticFile(t, "index.html")
	refs := regexp.MustCompile(`\s(?:src|href)="([^"]*)"`).FindAllStringSubmatch(page, -1)
	if len(refs) < 3 {
		t.Fatalf("index.html: only %d references", len(refs))
	}
	base, _ := url.Parse("http://pbx.test" + PathPrefix)
	seen := map[string]bool{}
	check := func(from *url.URL, ref string) {
		if ref == "" || strings.HasPrefix(ref, "data:") || strings.HasPrefix(ref, "#") {
			return
		}
		u, err := from.Parse(ref)
		if err != nil || u.Host != "pbx.test" {
			t.Errorf("reference %q is not to this server", ref)
			return
		}
		seen[u.Path] = true
		if res, _ := get(t, h, "GET", u.Path, nil); res.StatusCode != http.StatusOK {
			t.Errorf("reference %q (%s): %d", ref, u.Path, res.StatusCode)
		}
	}
	for _, m := range refs {
		check(base, m[1])
	}
	// Static imports between the modules.
	assets, _ := url.Parse("http://pbx.test" + AssetPrefix)
	imp := regexp.MustCompile(`(?m)^import\s[^'"]*['"]([^'"]+)['"]`)
	for _, name := range staticFiles(t) {
		if !strings.HasSuffix(name, ".js") {
			continue
		}
		for _, m := range imp.FindAllStringSubmatch(staticFile(t, name), -1) {
			check(assets, m[1])
		}
	}
	for _, want := range []string{"/console/assets/app.js", "/console/assets/style.css", "/console/assets/i18n.js"} {
		if !seen[want] {
			t.Errorf("%s is not referenced", want)
		}
	}
	// The JsSIP bundle: the path app.js loads is what the softphone
	// package serves.
	app := staticFile(t, "app.js")
	m := regexp.MustCompile(`const JSSIP_URL = '([^']+)'`).FindStringSubmatch(app)
	if m == nil || m[1] != softphone.PathPrefix+"jssip.js" {
		t.Fatalf("app.js JSSIP_URL %v, want %q", m, softphone.PathPrefix+"jssip.js")
	}
	sp, err := softphone.Handler(softphone.Options{WSURL: func(*http.Request) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	if res, body := get(t, sp, "GET", m[1], nil); res.StatusCode != http.StatusOK || !strings.Contains(body, "WebSocketInterface") {
		t.Errorf("softphone %s: %d", m[1], res.StatusCode)
	}
}

// The CSP allows no inline script or style, and nothing from elsewhere.
func TestNoInlineScriptOrStyle(t *testing.T) {
	page := staticFile(t, "index.html")
	for re, what := range map[string]string{
		`<script(?:\s[^>]*)?>\s*[^<\s]`: "inline script",
		`<script(?:\s[^>]*)?>`:          "",
		`(?i)<style`:                    "style element",
		`(?i)\sstyle\s*=`:               "style attribute",
		`(?i)\son[a-z]+\s*=`:            "event handler attribute",
		`(?i)javascript:`:               "javascript: URL",
	} {
		if what == "" {
			for _, tag := range regexp.MustCompile(re).FindAllString(page, -1) {
				if !strings.Contains(tag, ` src="`) || !strings.Contains(tag, `type="module"`) {
					t.Errorf("index.html: script without src or not a module: %s", tag)
				}
			}
			continue
		}
		if regexp.MustCompile(re).MatchString(page) {
			t.Errorf("index.html has an %s", what)
		}
	}
	for _, name := range staticFiles(t) {
		s := staticFile(t, name)
		for _, bad := range []string{"http://", "https://", "//cdn", "@import", "innerHTML", "outerHTML", "insertAdjacentHTML",
			"document.write", "eval(", "new Function", "setAttribute('style'", ".style.", "unsafe-inline"} {
			if strings.Contains(s, bad) {
				t.Errorf("%s contains %q", name, bad)
			}
		}
	}
}

// Every string key the page uses exists in both languages, and the two
// languages have the same keys.
func TestStringsInBothLanguages(t *testing.T) {
	s := staticFile(t, "i18n.js")
	_, s, _ = strings.Cut(s, "\n  nb: {")
	nb, en, ok := strings.Cut(s, "\n  en: {")
	if !ok {
		t.Fatal("i18n.js: no nb/en blocks")
	}
	en, _, _ = strings.Cut(en, "\n  },")
	key := regexp.MustCompile(`(?m)^\s+'?([A-Za-z][\w:.-]*)'?:\s`)
	keys := func(block string) map[string]bool {
		m := map[string]bool{}
		for _, k := range key.FindAllStringSubmatch(block, -1) {
			m[k[1]] = true
		}
		return m
	}
	kn, ke := keys(nb), keys(en)
	if len(kn) < 100 {
		t.Fatalf("only %d nb strings", len(kn))
	}
	for k := range kn {
		if !ke[k] {
			t.Errorf("%q in nb, not in en", k)
		}
	}
	for k := range ke {
		if !kn[k] {
			t.Errorf("%q in en, not in nb", k)
		}
	}
	var used []string
	for _, m := range regexp.MustCompile(`data-i18n(?:-label|-title|-placeholder)?="([^"]+)"`).FindAllStringSubmatch(staticFile(t, "index.html"), -1) {
		used = append(used, m[1])
	}
	n := len(used)
	for _, m := range regexp.MustCompile(`\b(?:t|fail|announce|sessionEnded)\(\s*'([^']+)'`).FindAllStringSubmatch(staticFile(t, "app.js"), -1) {
		used = append(used, m[1])
	}
	if n < 30 || len(used)-n < 100 {
		t.Fatalf("found only %d uses in index.html and %d in app.js", n, len(used)-n)
	}
	for _, k := range used {
		if !kn[k] || !ke[k] {
			t.Errorf("string %q is used but not defined in both languages", k)
		}
	}
	// A key passed through a variable escapes the check above: only the
	// helpers the regexp covers (announce, fail, sessionEnded) may pass
	// one on, as t(key, ...).
	for _, m := range regexp.MustCompile(`\bt\(([a-z][\w.]*)`).FindAllStringSubmatch(staticFile(t, "app.js"), -1) {
		if m[1] != "key" {
			t.Errorf("app.js: t(%s ...) with a computed key", m[1])
		}
	}
}

// The hooks the end-to-end tests use are there, and every shortcut is in
// the table the help dialog shows.
func TestTestHooksAndShortcuts(t *testing.T) {
	page, app := staticFile(t, "index.html"), staticFile(t, "app.js")
	for _, id := range []string{"login-username", "login-password", "login-submit", "login-error", "available", "target",
		"logout", "help-dialog", "sip-dialog", "sip-password", "announcer", "night-banner", "queue-body", "calls-list",
		"parked-body", "board-body", "board-dept", "board-site", "board-filter", "dir-search", "recent-body", "lang", "main"} {
		if !strings.Contains(page, ` id="`+id+`"`) {
			t.Errorf("index.html: no #%s", id)
		}
	}
	if !strings.Contains(page, `id="announcer" class="visually-hidden" aria-live="polite"`) {
		t.Error("index.html: the announcer is not a polite live region")
	}
	for _, tid := range []string{"queue-row", "answer", "wait", "my-call", "board-row", "parked-row", "retrieve",
		"dir-row", "dir-call", "dir-transfer", "recent-row", "call-back", "operator-row", "board-state"} {
		if !strings.Contains(app, `'`+tid+`'`) {
			t.Errorf("app.js: no data-testid %q", tid)
		}
		if !strings.Contains(app, tid) || !regexp.MustCompile(`(?m)^//.*\b`+regexp.QuoteMeta(tid)+`\b`).MatchString(app) {
			t.Errorf("app.js: data-testid %q is not documented in the header comment", tid)
		}
	}
	actions := regexp.MustCompile(`return \[('[a-z]+'(?:, '[a-z]+')*)\];`).FindAllStringSubmatch(app, -1)
	all := map[string]bool{}
	for _, m := range actions {
		for _, a := range strings.Split(m[1], ", ") {
			all[strings.Trim(a, "'")] = true
		}
	}
	for _, a := range []string{"hold", "resume", "transfer", "consult", "connect", "return", "voicemail", "park", "hangup"} {
		if !all[a] {
			t.Errorf("no %s button in actionsFor", a)
		}
	}
	for _, k := range []string{"A", "H", "T", "K", "C", "R", "V", "P", "U", "X", "/", "L", "?", "Esc"} {
		if !strings.Contains(app, `{ key: '`+k+`', label: () => t('sc`) {
			t.Errorf("shortcut %s is not in SHORTCUTS", k)
		}
	}
}
