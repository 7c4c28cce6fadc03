package softphone

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func newTestHandler(t *testing.T, opt Options) http.Handler {
	t.Helper()
	if opt.WSURL == nil {
		opt.WSURL = func(r *http.Request) string {
			host, _, _ := strings.Cut(r.Host, ":")
			return "wss://" + host + ":8089/"
		}
	}
	h, err := Handler(opt)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func get(t *testing.T, h http.Handler, method, target string, hdr map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func TestServesThePageAndItsAssets(t *testing.T) {
	h := newTestHandler(t, Options{})
	for _, tc := range []struct{ path, ctype, contains string }{
		{"/softphone/", "text/html; charset=utf-8", `<script type="module" src="app.js"></script>`},
		{"/softphone/index.html", "text/html; charset=utf-8", `id="keypad"`},
		{"/softphone/app.js", "text/javascript; charset=utf-8", "window.sentralSoftphone"},
		{"/softphone/i18n.js", "text/javascript; charset=utf-8", "export function pickLanguage"},
		{"/softphone/style.css", "text/css; charset=utf-8", ":focus-visible"},
		{"/softphone/jssip.js", "text/javascript; charset=utf-8", "WebSocketInterface"},
		{"/softphone/licenses.txt", "text/plain; charset=utf-8", "jssip"},
	} {
		res := get(t, h, "GET", tc.path, nil)
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d", tc.path, res.StatusCode)
			continue
		}
		if got := res.Header.Get("Content-Type"); got != tc.ctype {
			t.Errorf("GET %s: Content-Type %q, want %q", tc.path, got, tc.ctype)
		}
		if !strings.Contains(string(body), tc.contains) {
			t.Errorf("GET %s: body lacks %q", tc.path, tc.contains)
		}
		for k, want := range map[string]string{
			"X-Content-Type-Options": "nosniff",
			"Referrer-Policy":        "no-referrer",
			"Cache-Control":          "no-cache",
			"X-Frame-Options":        "DENY",
		} {
			if got := res.Header.Get(k); got != want {
				t.Errorf("GET %s: %s %q, want %q", tc.path, k, got, want)
			}
		}
		if res.Header.Get("ETag") == "" {
			t.Errorf("GET %s: no ETag", tc.path)
		}
	}
}

// The page is fully self-contained: nothing is loaded from elsewhere, and
// no script or style is inline (the CSP forbids both).
func TestPageIsSelfContained(t *testing.T) {
	h := newTestHandler(t, Options{})
	for _, p := range []string{"/softphone/", "/softphone/app.js", "/softphone/i18n.js", "/softphone/style.css"} {
		body, _ := io.ReadAll(get(t, h, "GET", p, nil).Body)
		s := string(body)
		for _, bad := range []string{"http://", "https://", "//cdn", "@import"} {
			if strings.Contains(s, bad) {
				t.Errorf("%s mentions %q", p, bad)
			}
		}
		if strings.HasSuffix(p, "/") {
			if regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]`).MatchString(s) || strings.Contains(s, "<style") ||
				regexp.MustCompile(`\son[a-z]+=`).MatchString(s) || regexp.MustCompile(`\sstyle=`).MatchString(s) {
				t.Errorf("%s has inline script or style", p)
			}
		}
	}
}

func TestContentSecurityPolicy(t *testing.T) {
	h := newTestHandler(t, Options{})
	res := get(t, h, "GET", "http://pbx.example.no:8443/softphone/", nil)
	c := res.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'",
		"connect-src 'self' wss://pbx.example.no:8089", "frame-ancestors 'none'", "base-uri 'none'"} {
		if !strings.Contains(c, want) {
			t.Errorf("CSP lacks %q: %s", want, c)
		}
	}
	if strings.Contains(c, "unsafe-inline") || strings.Contains(c, "unsafe-eval") || strings.Contains(c, "*") {
		t.Errorf("CSP is not strict: %s", c)
	}
}

func TestCSPForIPv6AndMissingWebSocket(t *testing.T) {
	for _, tc := range []struct{ ws, want, wantNot string }{
		{"ws://[::1]:8088/", "connect-src 'self' ws:;", "[::1]"},
		{"", "connect-src 'self';", "ws"},
		// A hostile Host header must not reach the header or the page.
		{"ws://evil; script-src *:8088/", "connect-src 'self';", "evil"},
		{"ws://user:pw@host:8088/", "connect-src 'self';", "host"},
		{"http://host:8088/", "connect-src 'self';", "host"},
		{"ws://host:8088/?x=1", "connect-src 'self';", "host"},
	} {
		h := newTestHandler(t, Options{WSURL: func(*http.Request) string { return tc.ws }})
		res := get(t, h, "GET", "/softphone/config.json", nil)
		c := res.Header.Get("Content-Security-Policy")
		if !strings.Contains(c+";", tc.want) || strings.Contains(c, tc.wantNot) {
			t.Errorf("ws %q: CSP %q, want %q and not %q", tc.ws, c, tc.want, tc.wantNot)
		}
		var cfg config
		if err := json.NewDecoder(res.Body).Decode(&cfg); err != nil {
			t.Fatal(err)
		}
		if tc.ws != "ws://[::1]:8088/" && cfg.WSURL != "" {
			t.Errorf("ws %q: config ws_url %q, want empty", tc.ws, cfg.WSURL)
		}
	}
}

func TestConfigJSON(t *testing.T) {
	h := newTestHandler(t, Options{
		WSURL: func(r *http.Request) string { return "ws://127.0.0.1:8088" },
		ICEServers: []ICEServer{
			{URLs: []string{"stun:stun.example.no:3478"}},
			{URLs: []string{"turn:turn.example.no:3478?transport=udp", "turns:turn.example.no:5349"}, Username: "u", Credential: "c"},
		},
		DomainHint: func(r *http.Request) string { return "firma.sentral.test" },
	})
	res := get(t, h, "GET", "/softphone/config.json", nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("config.json: %d", res.StatusCode)
	}
	if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("config.json Cache-Control %q, want no-store", cc)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("config.json Content-Type %q", ct)
	}
	var raw map[string]any
	if err := json.NewDecoder(res.Body).Decode(&raw); err != nil {
		t.Fatal(err)
	}
	want := `{"domain_hint":"firma.sentral.test","ice_servers":[{"urls":["stun:stun.example.no:3478"]},{"credential":"c","urls":["turn:turn.example.no:3478?transport=udp","turns:turn.example.no:5349"],"username":"u"}],"ws_url":"ws://127.0.0.1:8088"}`
	if got, _ := json.Marshal(raw); string(got) != want {
		t.Errorf("config.json\n got %s\nwant %s", got, want)
	}

	// No ICE servers: an empty list, not null; no hint: "".
	h = newTestHandler(t, Options{})
	body, _ := io.ReadAll(get(t, h, "GET", "http://10.0.0.5/softphone/config.json", nil).Body)
	if want := `{"ws_url":"wss://10.0.0.5:8089/","domain_hint":"","ice_servers":[]}` + "\n"; string(body) != want {
		t.Errorf("config.json %s, want %s", body, want)
	}
}

func TestNotFoundRedirectAndMethods(t *testing.T) {
	h := newTestHandler(t, Options{})
	if res := get(t, h, "GET", "/softphone/package.json", nil); res.StatusCode != http.StatusNotFound {
		t.Errorf("package.json: %d, want 404", res.StatusCode)
	}
	if res := get(t, h, "GET", "/softphone/../go.mod", nil); res.StatusCode != http.StatusNotFound {
		t.Errorf("../go.mod: %d, want 404", res.StatusCode)
	}
	if res := get(t, h, "GET", "/softphone", nil); res.StatusCode != http.StatusMovedPermanently || res.Header.Get("Location") != PathPrefix {
		t.Errorf("/softphone: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	res := get(t, h, "POST", "/softphone/config.json", nil)
	if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d Allow %q", res.StatusCode, res.Header.Get("Allow"))
	}
	res = get(t, h, "HEAD", "/softphone/jssip.js", nil)
	if body, _ := io.ReadAll(res.Body); res.StatusCode != http.StatusOK || len(body) != 0 {
		t.Errorf("HEAD: %d with %d bytes", res.StatusCode, len(body))
	}
}

func TestETagRevalidation(t *testing.T) {
	h := newTestHandler(t, Options{})
	etag := get(t, h, "GET", "/softphone/jssip.js", nil).Header.Get("ETag")
	if res := get(t, h, "GET", "/softphone/jssip.js", map[string]string{"If-None-Match": etag}); res.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: %d, want 304", res.StatusCode)
	}
}

func TestOptionsAreChecked(t *testing.T) {
	if _, err := Handler(Options{}); err == nil {
		t.Error("no WSURL: no error")
	}
	ws := func(*http.Request) string { return "" }
	for _, bad := range [][]ICEServer{
		{{}},
		{{URLs: []string{"http://stun.example.no"}}},
		{{URLs: []string{"stun:"}}},
		{{URLs: []string{`turn:x" onerror="`}}},
	} {
		if _, err := Handler(Options{WSURL: ws, ICEServers: bad}); err == nil {
			t.Errorf("ICE servers %+v: no error", bad)
		}
	}
}

// Every key the page uses exists in both languages.
func TestStringsInBothLanguages(t *testing.T) {
	src, err := files.ReadFile("web/i18n.js")
	if err != nil {
		t.Fatal(err)
	}
	s := string(src)
	_, s, _ = strings.Cut(s, "\n  nb: {")
	nb, en, ok := strings.Cut(s, "\n  en: {")
	if !ok {
		t.Fatal("i18n.js: no nb/en blocks")
	}
	key := regexp.MustCompile(`(?m)^\s+'?([A-Za-z:][A-Za-z: ]*)'?:`)
	keys := func(block string) map[string]bool {
		m := map[string]bool{}
		for _, k := range key.FindAllStringSubmatch(block, -1) {
			m[k[1]] = true
		}
		return m
	}
	kn, ke := keys(nb), keys(en)
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
	for _, f := range []string{"web/index.html", "web/app.js"} {
		b, _ := files.ReadFile(f)
		for _, m := range regexp.MustCompile(`data-i18n(?:-label|-title|-placeholder)?="([^"]+)"|\b(?:t|status)\('([A-Za-z]+)'`).FindAllStringSubmatch(string(b), -1) {
			used = append(used, m[1]+m[2])
		}
	}
	if len(used) < 20 {
		t.Fatalf("found only %d string uses", len(used))
	}
	for _, k := range used {
		if !kn[k] || !ke[k] {
			t.Errorf("string %q is used but not defined in both languages", k)
		}
	}
}
