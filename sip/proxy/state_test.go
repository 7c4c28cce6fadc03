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
