package ldap

import (
	"slices"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/sentralpbx/sentral/directory/search"
)

// compile turns an RFC 4515 filter string into our filter via go-ldap's
// BER encoder, the same bytes a client sends.
func compile(t testing.TB, s string) *filter {
	t.Helper()
	p, err := goldap.CompileFilter(s)
	if err != nil {
		t.Fatalf("CompileFilter(%q): %v", s, err)
	}
	f, err := parseFilter(p)
	if err != nil {
		t.Fatalf("parseFilter(%q): %v", s, err)
	}
	return f
}

func TestFilterThreeValued(t *testing.T) {
	e := search.Entry{ID: 1, Kind: "person", Name: "Ola Åsen", FamilyName: "Åsen", Visibility: "listed"}
	n := &node{kind: nodeEntry, tenant: "t", e: &e}
	tests := []struct {
		f    string
		want tri
	}{
		{"(foo=x)", triUndefined},
		{"(!(foo=x))", triUndefined},
		{"(|(foo=x)(cn=ola*))", triTrue},
		{"(&(foo=x)(cn=ola*))", triUndefined},
		{"(&(foo=x)(cn=per*))", triFalse},
		{"(foo=*)", triFalse},
		{"(mobile=*)", triFalse},
		{"(!(mobile=*))", triTrue},
		{"(&)", triTrue},
		{"(|)", triFalse},
		{"(sn=aasen)", triTrue},
		{"(cn:=ola åsen)", triTrue},
		{"(:caseExactMatch:=x)", triUndefined},
	}
	for _, tc := range tests {
		if got := compile(t, tc.f).match(n); got != tc.want {
			t.Errorf("%s = %d, want %d", tc.f, got, tc.want)
		}
	}
}

func TestNumberForms(t *testing.T) {
	tests := map[string][]string{
		"+47 22 33 44 55": {"22334455", "4722334455"},
		"0047 22334455":   {"22334455", "4722334455"},
		"22334455":        {"22334455", "4722334455"},
		"22-33-44-55":     {"22334455", "4722334455"},
		"4711":            {"4711"},
		"+46 8 123 456":   {"468123456"},
		"abc":             nil,
	}
	for in, want := range tests {
		if got := numberForms(in); !slices.Equal(got, want) {
			t.Errorf("numberForms(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFilterLimits(t *testing.T) {
	deep := ""
	for range maxFilterDepth + 2 {
		deep += "(!"
	}
	deep += "(cn=x)"
	for range maxFilterDepth + 2 {
		deep += ")"
	}
	p, err := goldap.CompileFilter(deep)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parseFilter(p); err == nil {
		t.Error("over-deep filter accepted")
	}
}
