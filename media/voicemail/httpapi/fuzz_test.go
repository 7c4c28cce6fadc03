package httpapi

import (
	"strings"
	"testing"
)

// FuzzParseRoute checks that no path panics the route parser, that what
// it accepts is in the narrow form (no escapes, dot or empty segments),
// and that the route it reads is the one its canonical path reads back
// to. Seeds are in testdata/fuzz/FuzzParseRoute and below.
func FuzzParseRoute(f *testing.F) {
	for _, s := range []struct{ method, path string }{
		{"GET", "/voicemail/fjordvik.test/2101/messages"},
		{"GET", "/voicemail/Fjordvik.TEST/2101/messages/17.wav"},
		{"DELETE", "/voicemail/fjordvik.test/2101/messages/17"},
		{"POST", "/voicemail/fjordvik.test/2101/messages/17/save"},
		{"GET", "/voicemail/fjordvik.test/2101/messages/..%2f17.wav"},
		{"PUT", "/voicemail/a-b.c/12345678/messages/9223372036854775807.wav"},
	} {
		f.Add(s.method, s.path)
	}
	f.Fuzz(func(t *testing.T, method, path string) {
		rt, found, methodOK := parseRoute(method, path)
		if !found {
			if methodOK {
				t.Fatalf("%s %q: method accepted on an unknown path", method, path)
			}
			return
		}
		if strings.ContainsAny(path, "%\\\x00") || strings.Contains(path, "//") || strings.Contains(path, "/./") ||
			strings.Contains(path, "/../") || strings.HasSuffix(path, "/..") || strings.HasSuffix(path, "/.") {
			t.Fatalf("accepted unclean path %q as %+v", path, rt)
		}
		if !validMailbox(rt.mailbox) || rt.domain != strings.ToLower(rt.domain) {
			t.Fatalf("%q: route %+v", path, rt)
		}
		if rt.action != actList && rt.id <= 0 {
			t.Fatalf("%q: id %d", path, rt.id)
		}
		canon := rt.path()
		if !strings.EqualFold(canon, path) {
			t.Fatalf("%q reads as %+v, whose path is %q", path, rt, canon)
		}
		again, found2, _ := parseRoute(method, canon)
		if !found2 || again != rt {
			t.Fatalf("%q: %+v, its path %q reads as %+v", path, rt, canon, again)
		}
		wantOK := false
		for _, m := range allowed[rt.action] {
			wantOK = wantOK || m == method
		}
		if methodOK != wantOK {
			t.Fatalf("%s %q: methodOK %v", method, path, methodOK)
		}
	})
}
