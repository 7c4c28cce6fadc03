package ldap

import "testing"

func TestParseDN(t *testing.T) {
	tests := []struct {
		in   string
		want string // rendered as typ=val|typ=val,... ; "!" for an error
	}{
		{"", ""},
		{"o=fjordvik", "o=fjordvik"},
		{"ou=phonebook,o=fjordvik", "ou=phonebook,o=fjordvik"},
		{" OU = phonebook ; O=Fjordvik ", "ou=phonebook,o=Fjordvik"},
		{"organizationName=fjordvik", "o=fjordvik"},
		{"2.5.4.10=fjordvik", "o=fjordvik"},
		{`cn=Ødegård\, Kari,o=x`, "cn=Ødegård, Kari,o=x"},
		{`cn=\C3\98degård,o=x`, "cn=Ødegård,o=x"},
		{`cn="Hansen, Per",o=x`, "cn=Hansen, Per,o=x"},
		{`cn=a\ ,o=x`, "cn=a ,o=x"},
		{"cn=a+sn=b,o=x", "cn=a|sn=b,o=x"},
		{"cn=#04024869,o=x", "cn=#04024869,o=x"},
		{"o=x,", "!"},
		{"=x", "!"},
		{"o", "!"},
		{"o=x,,o=y", "!"},
		{`o=\`, "!"},
		{`o=\zz`, "!"},
		{`o=\ff`, "!"}, // not UTF-8
		{`o="x`, "!"},
		{"cn=#123,o=x", "!"},
		{"o=a=b", "!"},
	}
	for _, tc := range tests {
		d, err := parseDN(tc.in)
		got := "!"
		if err == nil {
			got = renderDN(d)
		}
		if got != tc.want {
			t.Errorf("parseDN(%q) = %q, want %q (err %v)", tc.in, got, tc.want, err)
		}
	}
}

func renderDN(d dn) string {
	s := ""
	for i, r := range d {
		if i > 0 {
			s += ","
		}
		for j, a := range r {
			if j > 0 {
				s += "|"
			}
			s += a.typ + "=" + a.val
		}
	}
	return s
}

func TestEscapeDNValueRoundTrip(t *testing.T) {
	for _, v := range []string{"fjordvik", "a,b", " lead", "trail ", "#x", `q"u\o+t;e<>=`, "Ødegård"} {
		d, err := parseDN("o=" + escapeDNValue(v))
		if err != nil || len(d) != 1 || d[0][0].val != v {
			t.Errorf("round trip %q: %v %v", v, d, err)
		}
	}
}

func TestBindTenantName(t *testing.T) {
	tests := map[string]string{
		"cn=phonebook,o=fjordvik":   "fjordvik",
		"CN=Phonebook, O=FjordVik":  "fjordvik",
		"cn=phonebook,o=":           "",
		"cn=admin,o=fjordvik":       "",
		"cn=phonebook,ou=x,o=y":     "",
		"cn=phonebook+sn=x,o=y":     "",
		"cn=phonebook,o=a+o=b":      "",
		"uid=phonebook,o=fjordvik":  "",
		"cn=phonebook,dc=fjordvik":  "",
		"not a dn":                  "",
		"cn=phonebook,o=fjordvik,,": "",
	}
	for in, want := range tests {
		if got := bindTenantName(in); got != want {
			t.Errorf("bindTenantName(%q) = %q, want %q", in, got, want)
		}
	}
}
