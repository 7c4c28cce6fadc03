package proxy

import (
	"strings"
	"testing"

	"github.com/sentralpbx/sentral/sip/routing"
	"github.com/sentralpbx/sentral/store"
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
	st := stateOf(bookCatalog{}, nil, nil)
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

// extCatalog knows one extension, 2001 in department 7.
type extCatalog struct{ Catalog }

func (extCatalog) Extension(tenantID int64, number string) (store.Extension, bool) {
	dep := int64(7)
	return store.Extension{TenantID: tenantID, Number: number, DepartmentID: &dep}, number == "2001"
}

// TestCDRForSwitchboardCalls: a call the media server places is recorded
// with the party it puts through as caller, and the operator's
// department when the operator is the caller.
func TestCDRForSwitchboardCalls(t *testing.T) {
	p := &Proxy{cat: extCatalog{}}
	tn := store.Tenant{Meta: store.Meta{ID: 1}}
	req := parseReq(t, strings.Replace(phoneInvite, "%s\n", "", 1))
	put := p.cdrFor(req, routing.Decision{Direction: routing.DirInternal, CallerTenant: tn, Caller: "+4791234567", CalleeExt: "2002"})
	if put.Caller != "+4791234567" || put.Callee != "2002" || put.DepartmentID != nil {
		t.Errorf("put-through leg: %+v", put)
	}
	consult := p.cdrFor(req, routing.Decision{Direction: routing.DirInternal, CallerTenant: tn, Caller: "2001", CalleeExt: "2002"})
	if consult.Caller != "2001" || consult.DepartmentID == nil || *consult.DepartmentID != 7 {
		t.Errorf("operator's consult leg: %+v", consult)
	}
	phone := p.cdrFor(req, routing.Decision{Direction: routing.DirInternal, CallerTenant: tn, CallerExt: "2001", CalleeExt: "2002"})
	if phone.Caller != "2001" {
		t.Errorf("ordinary internal call: %+v", phone)
	}
}
