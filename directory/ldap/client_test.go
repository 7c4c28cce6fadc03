package ldap

import (
	"errors"
	"slices"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
)

func dial(t *testing.T, addr string) *goldap.Conn {
	t.Helper()
	c, err := goldap.DialURL("ldap://"+addr, goldap.DialWithDialer(nil))
	if err != nil {
		t.Fatal(err)
	}
	c.SetTimeout(5 * time.Second)
	t.Cleanup(func() { c.Close() })
	return c
}

func bound(t *testing.T, addr, tenant, password string) *goldap.Conn {
	t.Helper()
	c := dial(t, addr)
	if err := c.Bind("cn=phonebook,o="+tenant, password); err != nil {
		t.Fatalf("bind %s: %v", tenant, err)
	}
	return c
}

func resultCode(err error) uint16 {
	var le *goldap.Error
	if errors.As(err, &le) {
		return le.ResultCode
	}
	return 0xffff
}

func dns(res *goldap.SearchResult) []string {
	var out []string
	for _, e := range res.Entries {
		out = append(out, e.DN)
	}
	return out
}

func TestSearchFilters(t *testing.T) {
	_, addr := startServer(t, Options{})
	c := bound(t, addr, "fjordvik", "secret")
	const base = "ou=phonebook,o=fjordvik"
	kari := "uid=person-10,ou=phonebook,o=fjordvik"
	per := "uid=person-11,ou=phonebook,o=fjordvik"
	ola := "uid=person-12,ou=phonebook,o=fjordvik"
	bjorn := "uid=person-13,ou=phonebook,o=fjordvik"
	sentral := "uid=service-1,ou=phonebook,o=fjordvik"
	tests := []struct {
		filter string
		want   []string
	}{
		{"(cn=Kar*)", []string{kari}},
		{"(|(cn=kar*)(sn=kar*)(givenName=kar*)(telephoneNumber=*4711*))", []string{kari}},
		{"(cn=ødegård*)", nil},
		{"(sn=ØDEGÅRD-HANSEN)", []string{kari}},
		{"(sn=ødegård-hansen)", []string{kari}},
		{"(cn=*ødegård*)", []string{kari}},
		{"(sn=Aasen)", []string{per, ola}}, // "aa" is the old spelling of "å"
		{"(sn=odegard*)", []string{kari}},  // handsets without ø and å
		{"(cn=*bjorn*)", []string{bjorn}},
		{"(givenName=bjorn)", []string{bjorn}},
		{"(givenName=bjørn)", []string{bjorn}},
		{"(telephoneNumber=4711)", []string{kari}},
		{"(telephoneNumber=22334455)", []string{kari}},
		{"(telephoneNumber=+47 22 33 44 55)", []string{kari}},
		{"(telephoneNumber=*22334455)", []string{kari}},
		{"(telephoneNumber=2233*)", []string{per, kari, sentral}},
		{"(|(telephoneNumber=22334455)(mobile=+4791234567))", []string{kari, bjorn}},
		{"(mobile=91234567)", []string{bjorn}},
		{"(telephoneNumber=91234567)", nil}, // the mobile is not a telephoneNumber
		{"(&(objectClass=person)(|(cn=*)(telephoneNumber=*)))", []string{per, ola, bjorn, kari, sentral}},
		{"(&(objectClass=inetOrgPerson)(!(mobile=*)))", []string{per, ola, sentral}},
		{"(cn=Sentralbord)", []string{sentral}},
		{"(sn=sentralbord)", []string{sentral}},
		{"(cn~=kari ødegård hansen)", []string{kari}},
		{"(title>=S)", nil},
		{"(title<=S)", []string{bjorn, kari}},
		{"(hemmelig=*)", nil},
		{"(cn=Hemmelig*)", nil},
		{"(telephoneNumber=4799)", nil},
		{"(description=*NOTE*)", nil},
		{"(!(noSuchAttr=x))", nil}, // NOT Undefined is Undefined
		{"(cn=Karin*)", nil},       // the other tenant
		{"(ou=rådmannens kontor)", []string{kari}},
		{"(l=Rådhuset)", []string{kari}},
		{"(mail=KARI.ODEGARD-HANSEN@fjordvik.kommune.no)", []string{kari}},
		{"(uid=person-10)", []string{kari}},
	}
	for _, tc := range tests {
		res, err := c.Search(goldap.NewSearchRequest(base, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases,
			0, 0, false, tc.filter, []string{"cn", "telephoneNumber"}, nil))
		if err != nil {
			t.Errorf("%s: %v", tc.filter, err)
			continue
		}
		got := dns(res)
		slices.Sort(got)
		slices.Sort(tc.want)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.filter, got, tc.want)
		}
	}
}

func TestEntryAttributes(t *testing.T) {
	_, addr := startServer(t, Options{})
	c := bound(t, addr, "fjordvik", "secret")
	res, err := c.Search(goldap.NewSearchRequest("uid=person-10,ou=phonebook,o=fjordvik", goldap.ScopeBaseObject,
		goldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Entries) != 1 {
		t.Fatalf("got %d entries", len(res.Entries))
	}
	e := res.Entries[0]
	want := map[string][]string{
		"objectClass":     {"top", "person", "organizationalPerson", "inetOrgPerson"},
		"uid":             {"person-10"},
		"cn":              {"Kari Ødegård-Hansen"},
		"displayName":     {"Kari Ødegård-Hansen"},
		"sn":              {"Ødegård-Hansen"},
		"givenName":       {"Kari"},
		"telephoneNumber": {"4711", "+4722334455"},
		"mobile":          {"+4790000001"},
		"mail":            {"kari.odegard-hansen@fjordvik.kommune.no"},
		"ou":              {"Rådmannens kontor"},
		"title":           {"Rådmann"},
		"l":               {"Rådhuset"},
	}
	if len(e.Attributes) != len(want) {
		t.Errorf("got %d attributes, want %d", len(e.Attributes), len(want))
	}
	for name, vals := range want {
		if got := e.GetAttributeValues(name); !slices.Equal(got, vals) {
			t.Errorf("%s = %q, want %q", name, got, vals)
		}
	}

	// Requested attributes only, "1.1" for none, typesOnly.
	res, err = c.Search(goldap.NewSearchRequest("ou=phonebook,o=fjordvik", goldap.ScopeSingleLevel,
		goldap.NeverDerefAliases, 0, 0, false, "(cn=Sentralbord)", []string{"CN", "sn", "mobile"}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("service: %v %v", res, err)
	}
	if a := res.Entries[0].Attributes; len(a) != 2 || a[0].Name != "cn" || a[1].Name != "sn" || a[1].Values[0] != "Sentralbord" {
		t.Errorf("service attributes: %+v", a)
	}
	res, err = c.Search(goldap.NewSearchRequest("ou=phonebook,o=fjordvik", goldap.ScopeSingleLevel,
		goldap.NeverDerefAliases, 0, 0, false, "(cn=Sentralbord)", []string{"1.1"}, nil))
	if err != nil || len(res.Entries) != 1 || len(res.Entries[0].Attributes) != 0 {
		t.Errorf("1.1: %v %v", res, err)
	}
	res, err = c.Search(goldap.NewSearchRequest("ou=phonebook,o=fjordvik", goldap.ScopeSingleLevel,
		goldap.NeverDerefAliases, 0, 0, true, "(cn=Sentralbord)", []string{"cn"}, nil))
	if err != nil || len(res.Entries) != 1 || len(res.Entries[0].Attributes[0].Values) != 0 {
		t.Errorf("typesOnly: %v %v", res, err)
	}
}

func TestScopesAndBases(t *testing.T) {
	_, addr := startServer(t, Options{})
	c := bound(t, addr, "fjordvik", "secret")
	count := func(base string, scope int) (int, uint16) {
		res, err := c.Search(goldap.NewSearchRequest(base, scope, goldap.NeverDerefAliases, 0, 0, false,
			"(objectClass=*)", []string{"1.1"}, nil))
		if err != nil {
			return -1, resultCode(err)
		}
		return len(res.Entries), 0
	}
	tests := []struct {
		base  string
		scope int
		n     int
		code  uint16
	}{
		{"o=fjordvik", goldap.ScopeWholeSubtree, 2 + 5, 0},
		{"O=Fjordvik", goldap.ScopeBaseObject, 1, 0},
		{"o=fjordvik", goldap.ScopeSingleLevel, 1, 0},
		{"ou=phonebook, o=fjordvik", goldap.ScopeSingleLevel, 5, 0},
		{"ou=phonebook,o=fjordvik", goldap.ScopeWholeSubtree, 6, 0},
		{"uid=person-10,ou=phonebook,o=fjordvik", goldap.ScopeBaseObject, 1, 0},
		{"uid=person-10,ou=phonebook,o=fjordvik", goldap.ScopeSingleLevel, 0, 0},
		{"uid=person-14,ou=phonebook,o=fjordvik", goldap.ScopeBaseObject, -1, 32}, // secret
		{"uid=person-21,ou=phonebook,o=havdal", goldap.ScopeBaseObject, -1, 32},   // other tenant
		{"ou=phonebook,o=havdal", goldap.ScopeWholeSubtree, -1, 32},
		{"o=nosuch", goldap.ScopeWholeSubtree, -1, 32},
		{"ou=people,o=fjordvik", goldap.ScopeWholeSubtree, -1, 32},
		{"", goldap.ScopeBaseObject, 1, 0}, // root DSE
		{"o=fjordvik,", goldap.ScopeBaseObject, -1, 34},
	}
	for _, tc := range tests {
		n, code := count(tc.base, tc.scope)
		if n != tc.n || code != tc.code {
			t.Errorf("%q scope %d: got %d entries code %d, want %d code %d", tc.base, tc.scope, n, code, tc.n, tc.code)
		}
	}
}

func TestSizeLimit(t *testing.T) {
	_, addr := startServer(t, Options{MaxResults: 3})
	c := bound(t, addr, "fjordvik", "secret")
	search := func(limit int) (*goldap.SearchResult, error) {
		return c.Search(goldap.NewSearchRequest("ou=phonebook,o=fjordvik", goldap.ScopeSingleLevel,
			goldap.NeverDerefAliases, limit, 0, false, "(objectClass=person)", []string{"cn"}, nil))
	}
	res, err := search(2)
	if resultCode(err) != goldap.LDAPResultSizeLimitExceeded || res == nil || len(res.Entries) != 2 {
		t.Errorf("client limit 2: %v, %v", res, err)
	}
	res, err = search(0)
	if resultCode(err) != goldap.LDAPResultSizeLimitExceeded || res == nil || len(res.Entries) != 3 {
		t.Errorf("server limit 3: %v, %v", res, err)
	}
	res, err = search(5)
	if resultCode(err) != goldap.LDAPResultSizeLimitExceeded || res == nil || len(res.Entries) != 3 {
		t.Errorf("client 5 over server 3: %v, %v", res, err)
	}
}

func TestAccessControl(t *testing.T) {
	_, addr := startServer(t, Options{})
	search := func(c *goldap.Conn, base string) error {
		_, err := c.Search(goldap.NewSearchRequest(base, goldap.ScopeWholeSubtree,
			goldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", nil, nil))
		return err
	}

	// Anonymous: connects, binds, but may not search.
	c := dial(t, addr)
	if err := search(c, "ou=phonebook,o=fjordvik"); resultCode(err) != goldap.LDAPResultInsufficientAccessRights {
		t.Errorf("search without bind: %v", err)
	}
	if err := c.UnauthenticatedBind(""); err != nil {
		t.Errorf("anonymous bind: %v", err)
	}
	if err := search(c, "ou=phonebook,o=fjordvik"); resultCode(err) != goldap.LDAPResultInsufficientAccessRights {
		t.Errorf("anonymous search: %v", err)
	}

	// Wrong password, unknown tenant, odd bind DNs: the same answer.
	var msgs []string
	for _, b := range []struct{ dn, pw string }{
		{"cn=phonebook,o=fjordvik", "wrong"},
		{"cn=phonebook,o=nosuch", "secret"},
		{"cn=phonebook,o=havdal", "secret"},
		{"cn=admin,o=fjordvik", "secret"},
		{"uid=x", "secret"},
	} {
		err := c.Bind(b.dn, b.pw)
		if resultCode(err) != goldap.LDAPResultInvalidCredentials {
			t.Errorf("bind %s: %v", b.dn, err)
		}
		var le *goldap.Error
		if errors.As(err, &le) {
			msgs = append(msgs, le.Err.Error())
		}
	}
	for _, m := range msgs {
		if m != msgs[0] {
			t.Errorf("bind failure messages differ: %q", msgs)
		}
	}
	if err := c.Bind("cn=phonebook,o=fjordvik", ""); err == nil {
		t.Error("unauthenticated bind with a name succeeded")
	}

	// After a failed bind the connection is anonymous again.
	c2 := bound(t, addr, "fjordvik", "secret")
	_ = c2.Bind("cn=phonebook,o=fjordvik", "wrong")
	if err := search(c2, "ou=phonebook,o=fjordvik"); resultCode(err) != goldap.LDAPResultInsufficientAccessRights {
		t.Errorf("search after failed rebind: %v", err)
	}

	// Writes are refused.
	c3 := bound(t, addr, "fjordvik", "secret")
	mod := goldap.NewModifyRequest("uid=person-10,ou=phonebook,o=fjordvik", nil)
	mod.Replace("cn", []string{"x"})
	if err := c3.Modify(mod); resultCode(err) != goldap.LDAPResultUnwillingToPerform {
		t.Errorf("modify: %v", err)
	}
	add := goldap.NewAddRequest("uid=person-99,ou=phonebook,o=fjordvik", nil)
	add.Attribute("cn", []string{"x"})
	if err := c3.Add(add); resultCode(err) != goldap.LDAPResultUnwillingToPerform {
		t.Errorf("add: %v", err)
	}
	if err := c3.Del(goldap.NewDelRequest("uid=person-10,ou=phonebook,o=fjordvik", nil)); resultCode(err) != goldap.LDAPResultUnwillingToPerform {
		t.Errorf("delete: %v", err)
	}
	if err := c3.ModifyDN(goldap.NewModifyDNRequest("uid=person-10,ou=phonebook,o=fjordvik", "uid=x", true, "")); resultCode(err) != goldap.LDAPResultUnwillingToPerform {
		t.Errorf("modrdn: %v", err)
	}
	if _, err := c3.Compare("uid=person-10,ou=phonebook,o=fjordvik", "cn", "x"); resultCode(err) != goldap.LDAPResultUnwillingToPerform {
		t.Errorf("compare: %v", err)
	}
	// The connection still works after the refusals.
	if err := search(c3, "o=fjordvik"); err != nil {
		t.Errorf("search after refusals: %v", err)
	}
}

func TestBindLockout(t *testing.T) {
	srv, addr := startServer(t, Options{MaxBindFailures: 3, FailureWindow: time.Hour})
	c := dial(t, addr)
	for range 3 {
		if err := c.Bind("cn=phonebook,o=fjordvik", "wrong"); resultCode(err) != goldap.LDAPResultInvalidCredentials {
			t.Fatalf("wrong password: %v", err)
		}
	}
	// Locked out: even the right password fails, with the same answer.
	if err := c.Bind("cn=phonebook,o=fjordvik", "secret"); resultCode(err) != goldap.LDAPResultInvalidCredentials {
		t.Errorf("bind while locked out: %v", err)
	}
	// The window ends.
	srv.now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	if err := c.Bind("cn=phonebook,o=fjordvik", "secret"); err != nil {
		t.Errorf("bind after the window: %v", err)
	}
}

func TestFailedBindTiming(t *testing.T) {
	_, addr := startServer(t, Options{FailureDelay: 100 * time.Millisecond, MaxBindFailures: -1})
	c := dial(t, addr)
	timeBind := func(dn string) time.Duration {
		start := time.Now()
		_ = c.Bind(dn, "wrong")
		return time.Since(start)
	}
	for range 3 {
		known, unknown := timeBind("cn=phonebook,o=fjordvik"), timeBind("cn=phonebook,o=nosuch")
		if known < 100*time.Millisecond || unknown < 100*time.Millisecond {
			t.Errorf("failed binds faster than the delay: known %v, unknown %v", known, unknown)
		}
	}
}

func TestShutdownClosesIdleConnections(t *testing.T) {
	srv, err := New(newFakeDir(), nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := contextWithCancel()
	done := make(chan error, 1)
	ln := listen(t)
	go func() { done <- srv.Serve(ctx, ln) }()
	c := bound(t, ln.Addr().String(), "fjordvik", "secret") // stays idle
	_ = c
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Serve did not return with an idle client connected")
	}
}

func TestConnectionLimit(t *testing.T) {
	_, addr := startServer(t, Options{MaxConns: 1})
	c1 := bound(t, addr, "fjordvik", "secret")
	c2, err := goldap.DialURL("ldap://" + addr)
	if err == nil {
		c2.SetTimeout(2 * time.Second)
		if err := c2.Bind("cn=phonebook,o=fjordvik", "secret"); err == nil {
			t.Error("second connection served over MaxConns=1")
		}
		c2.Close()
	}
	if _, err := c1.Search(goldap.NewSearchRequest("o=fjordvik", goldap.ScopeBaseObject,
		goldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", nil, nil)); err != nil {
		t.Errorf("first connection: %v", err)
	}
}
