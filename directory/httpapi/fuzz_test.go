package httpapi

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sentralpbx/sentral/directory/search"
)

// FuzzParams checks the query parameter parsing of both handlers: no
// panic; an error always names a known parameter; accepted values are in
// range and survive a round trip through a URL.
func FuzzParams(f *testing.F) {
	for _, s := range []string{
		"", "q=kari", "q=%C3%B8degard&limit=5&offset=10", "limit=-1", "limit=1001", "offset=x",
		"switchboard=1", "q=a&q=b", "q=%23SEARCH", "q=%ff", "limit=+5", "offset=007", "limit=1_000",
		"q=" + strings.Repeat("å", MaxQueryLength), "%zz=1&limit=2",
	} {
		f.Add(s)
	}
	known := map[string]bool{"q": true, "limit": true, "offset": true, "switchboard": true}
	f.Fuzz(func(t *testing.T, raw string) {
		v, _ := url.ParseQuery(raw) // a bad pair is dropped, as net/http does
		p, err := parseParams(v)
		if err != nil {
			var pe *paramError
			if !errors.As(err, &pe) || !known[pe.param] || !strings.HasPrefix(err.Error(), pe.param+": ") {
				t.Fatalf("%q: error %v does not name a known parameter", raw, err)
			}
		} else {
			if p.limit < 1 || p.limit > search.MaxLimit || p.offset < 0 || p.offset > MaxOffset {
				t.Fatalf("%q: out of range: %+v", raw, p)
			}
			if !utf8.ValidString(p.q) || utf8.RuneCountInString(p.q) > MaxQueryLength {
				t.Fatalf("%q: bad q %q", raw, p.q)
			}
			back := url.Values{"q": {p.q}, "limit": {strconv.Itoa(p.limit)}, "offset": {strconv.Itoa(p.offset)}}
			if p.switchboard {
				back.Set("switchboard", "1")
			}
			p2, err := parseParams(back)
			if err != nil || p2 != p {
				t.Fatalf("%q: round trip %+v -> %q -> %+v, %v", raw, p, back.Encode(), p2, err)
			}
		}

		q, err := phonebookQuery(v)
		if err != nil {
			var pe *paramError
			if !errors.As(err, &pe) || pe.param != "q" {
				t.Fatalf("%q: phone book error %v does not name q", raw, err)
			}
			return
		}
		if q == YealinkSearchPlaceholder || !utf8.ValidString(q) || utf8.RuneCountInString(q) > MaxQueryLength {
			t.Fatalf("%q: phone book q %q", raw, q)
		}
	})
}
