package proxy

import (
	"testing"

	"github.com/sentralpbx/sentral/sip/routing"
)

// bookCatalog is a number-plan catalog with a phone book; only CallerName
// is ever called.
type bookCatalog struct {
	Catalog
	routing.PlanState
	routing.TrunkFinder
}

func (bookCatalog) CallerName(_ int64, number string) (string, bool) {
	return "Kari Ødegård-Hansen", number == "2001"
}

// TestStateOfPassesThePhoneBook: routing only names callers when the
// state it gets answers routing.NameFinder, so the proxy's wrapper must
// pass the catalog's phone book on.
func TestStateOfPassesThePhoneBook(t *testing.T) {
	st := stateOf(bookCatalog{}, nil)
	nf, ok := st.(routing.NameFinder)
	if !ok {
		t.Fatal("the routing state hides the catalog's phone book")
	}
	if n, ok := nf.CallerName(1, "2001"); !ok || n != "Kari Ødegård-Hansen" {
		t.Errorf("CallerName(2001) = %q, %v", n, ok)
	}
	if _, ok := nf.CallerName(1, "2002"); ok {
		t.Error("CallerName(2002) found a name")
	}
}

// mediaCatalog is a catalog that names the media server.
type mediaCatalog struct {
	Catalog
	ms string
}

func (m mediaCatalog) MediaServer() string { return m.ms }

// TestFromMedia: only the media server's own socket is trusted, and only
// on loopback.
func TestFromMedia(t *testing.T) {
	p := &Proxy{cat: mediaCatalog{ms: "127.0.0.1:40000"}}
	for src, want := range map[string]bool{
		"127.0.0.1:40000": true, "127.0.0.1:40001": false, "192.0.2.1:40000": false, "": false, "[::ffff:127.0.0.1]:40000": true,
	} {
		if got := p.fromMedia(src); got != want {
			t.Errorf("fromMedia(%q) = %v, want %v", src, got, want)
		}
	}
	if (&Proxy{cat: mediaCatalog{ms: "192.0.2.9:40000"}}).fromMedia("192.0.2.9:40000") {
		t.Error("a media server off loopback is trusted")
	}
	if (&Proxy{cat: bookCatalog{}}).fromMedia("127.0.0.1:40000") {
		t.Error("a catalog without a media server trusts a source")
	}
}
