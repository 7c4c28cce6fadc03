package phones

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/sentralpbx/sentral/directory/search"
)

const (
	fjordvikID = 1
	dalbyID    = 2
)

// memDirectory is an httpapi.Directory over real search indexes, one per
// tenant.
type memDirectory struct {
	ids   map[string]int64
	books map[int64]*search.Index
}

func (d *memDirectory) TenantByName(name string) (int64, bool) {
	id, ok := d.ids[name]
	return id, ok
}

func (d *memDirectory) Search(tenantID int64, q search.Query) ([]search.Hit, int) {
	ix, ok := d.books[tenantID]
	if !ok {
		return nil, 0
	}
	return ix.Search(q)
}

func testDirectory() *memDirectory {
	return &memDirectory{
		ids: map[string]int64{"fjordvik": fjordvikID, "dalby": dalbyID},
		books: map[int64]*search.Index{
			fjordvikID: search.NewIndex([]search.Entry{
				{ID: 1, Kind: "person", Name: "Kari Ødegård-Hansen", GivenName: "Kari", FamilyName: "Ødegård-Hansen",
					Numbers: []string{"2101", "+4791234567"}, Mobile: "+4791234567", Visibility: search.VisibilityListed},
				{ID: 2, Kind: "person", Name: "Per Aasen", GivenName: "Per", FamilyName: "Aasen",
					Numbers: []string{"2104"}, Visibility: search.VisibilityInternal},
				{ID: 3, Kind: "person", Name: "Lise Østby", GivenName: "Lise", FamilyName: "Østby",
					Numbers: []string{"2105"}, Visibility: search.VisibilitySecret},
			}),
			dalbyID: search.NewIndex([]search.Entry{
				{ID: 101, Kind: "person", Name: "Dagny Dalbakken", GivenName: "Dagny", FamilyName: "Dalbakken",
					Numbers: []string{"5001"}, Visibility: search.VisibilityListed},
			}),
		},
	}
}

func yealinkBook(tenant, mac string) string {
	return "/phonebook/" + tenant + "/yealink.xml?mac=" + mac
}

func TestPhonebookOwnTenant(t *testing.T) {
	f := newFixture(t, defaultOptions())
	for _, tt := range []struct {
		name, path, user, pass, alg string
		want, notWant               []string
	}{
		{"yealink, whole book", yealinkBook("fjordvik", yealinkMAC), "ph" + yealinkMAC, yealinkSecret, "SHA-256",
			[]string{"<YealinkIPPhoneDirectory>", "Kari Ødegård-Hansen", ">2101<", "Per Aasen"}, nil},
		{"snom, MD5", "/phonebook/fjordvik/snom.xml?mac=" + snomMAC, "ph" + snomMAC, snomSecret, "MD5",
			[]string{"<SnomIPPhoneDirectory>", "Kari Ødegård-Hansen", "Per Aasen"}, nil},
		// The digest uri carries the query, percent-escapes and all, and the
		// MAC may be written as phones and people write it.
		{"search, escaped query, MAC with colons", "/phonebook/fjordvik/yealink.xml?mac=00:15:65:AA:BB:CC&q=%C3%B8deg%C3%A5rd&lang=nb",
			"ph" + yealinkMAC, yealinkSecret, "SHA-256", []string{"Kari Ødegård-Hansen"}, []string{"Per Aasen"}},
		{"another tenant's phone, its own book", yealinkBook("dalby", dalbyMAC), "ph" + dalbyMAC, dalbySecret, "MD5",
			[]string{"Dagny Dalbakken"}, []string{"Kari", "Per Aasen"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := f.fetchAuth(t, tt.path, tt.user, tt.pass, tt.alg)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "text/xml; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q", cc)
			}
			s := string(body)
			for _, w := range tt.want {
				if !strings.Contains(s, w) {
					t.Errorf("missing %q in\n%s", w, s)
				}
			}
			// Secret entries never, and nothing of another tenant.
			for _, w := range append(tt.notWant, "Østby", "Dagny") {
				if w == "Dagny" && strings.Contains(tt.path, "/dalby/") {
					continue
				}
				if strings.Contains(s, w) {
					t.Errorf("%q in\n%s", w, s)
				}
			}
		})
	}

	// A client talking through a proxy puts the absolute URI in the
	// digest; it names the same target.
	path := yealinkBook("fjordvik", yealinkMAC) + "&q=kari"
	resp, _ := f.get(t, path, "")
	ch := pick(t, parseChallenges(t, resp), "MD5")
	resp, body := f.get(t, path, answer(t, ch, http.MethodGet, f.srv.URL+path, "ph"+yealinkMAC, yealinkSecret))
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "Kari") {
		t.Errorf("absolute digest uri: %d\n%s", resp.StatusCode, body)
	}
}

func TestPhonebookRefused(t *testing.T) {
	f := newFixture(t, defaultOptions())
	path := yealinkBook("fjordvik", yealinkMAC)

	// No credentials: the same challenges as for the phone's file.
	resp, body := f.get(t, path, "")
	chs := parseChallenges(t, resp)
	if resp.StatusCode != http.StatusUnauthorized || len(chs) != 2 || chs[0]["algorithm"] != "SHA-256" ||
		chs[0]["realm"] != "fjordvik.sentral.test" || chs[0]["qop"] != "auth" {
		t.Fatalf("no credentials: %d %v", resp.StatusCode, chs)
	}
	if strings.Contains(string(body), "Kari") {
		t.Fatal("the book before authentication")
	}
	for _, h := range []string{"Cache-Control", "X-Content-Type-Options"} {
		if resp.Header.Get(h) == "" {
			t.Errorf("401 without %s", h)
		}
	}

	cases := []struct {
		name, uri, user, pass, alg string
	}{
		{"wrong password", path, "ph" + yealinkMAC, "wrong-password-1234", "SHA-256"},
		{"wrong password MD5", path, "ph" + yealinkMAC, "wrong-password-1234", "MD5"},
		{"another phone's credentials", path, "ph" + otherMAC, otherSecret, "SHA-256"},
		{"another tenant's phone's credentials", path, "ph" + dalbyMAC, dalbySecret, "MD5"},
		// The query is part of the target: an answer for another search or
		// another phone's MAC does not open this one.
		{"digest uri with another query", path + "&q=per", "ph" + yealinkMAC, yealinkSecret, "SHA-256"},
		{"digest uri without the query", "/phonebook/fjordvik/yealink.xml", "ph" + yealinkMAC, yealinkSecret, "SHA-256"},
		{"digest uri of the config file", "/prov/" + yealinkMAC + ".cfg", "ph" + yealinkMAC, yealinkSecret, "MD5"},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			resp, _ := f.get(t, path, "")
			h := answer(t, pick(t, parseChallenges(t, resp), tt.alg), http.MethodGet, tt.uri, tt.user, tt.pass)
			resp, body := f.get(t, path, h)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401: %s", resp.StatusCode, body)
			}
			if len(parseChallenges(t, resp)) == 0 {
				t.Error("401 without a challenge")
			}
			if strings.Contains(string(body), "Kari") {
				t.Error("refused response carries the book")
			}
		})
	}
	if n := len(f.logs.FilterMessage("phone book: authentication failed").All()); n != len(cases) {
		t.Errorf("%d authentication failures logged, want %d", n, len(cases))
	}
}

func TestPhonebookOtherTenant(t *testing.T) {
	f := newFixture(t, defaultOptions())
	// Without credentials, a phone learns nothing about the tenant it
	// names: the challenge is the phone's own.
	resp, _ := f.get(t, yealinkBook("dalby", yealinkMAC), "")
	if chs := parseChallenges(t, resp); resp.StatusCode != http.StatusUnauthorized || len(chs) == 0 || chs[0]["realm"] != "fjordvik.sentral.test" {
		t.Fatalf("unauthenticated, other tenant: %d %v", resp.StatusCode, chs)
	}
	for _, tt := range []struct{ name, path, user, pass string }{
		{"fjordvik phone, dalby book", yealinkBook("dalby", yealinkMAC), "ph" + yealinkMAC, yealinkSecret},
		{"dalby phone, fjordvik book", "/phonebook/fjordvik/snom.xml?mac=" + dalbyMAC, "ph" + dalbyMAC, dalbySecret},
		{"unknown tenant", yealinkBook("nowhere", yealinkMAC), "ph" + yealinkMAC, yealinkSecret},
	} {
		resp, body := f.fetchAuth(t, tt.path, tt.user, tt.pass, "SHA-256")
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: %d, want 403: %s", tt.name, resp.StatusCode, body)
		}
		if s := string(body); strings.Contains(s, "Kari") || strings.Contains(s, "Dagny") {
			t.Errorf("%s: 403 carries a book: %s", tt.name, s)
		}
	}
}

func TestPhonebookNoOrUnknownMAC(t *testing.T) {
	f := newFixture(t, defaultOptions())
	before := f.src.lookups
	for _, path := range []string{
		"/phonebook/fjordvik/yealink.xml",
		"/phonebook/fjordvik/yealink.xml?q=kari",
		"/phonebook/fjordvik/yealink.xml?mac=",
		"/phonebook/fjordvik/yealink.xml?mac=001565aabb",
		"/phonebook/fjordvik/yealink.xml?mac=001565aabbcg",
		"/phonebook/fjordvik/yealink.xml?mac=" + yealinkMAC + "&mac=" + otherMAC,
	} {
		resp, _ := f.get(t, path, "")
		if resp.StatusCode != http.StatusNotFound || resp.Header.Get("WWW-Authenticate") != "" {
			t.Errorf("%s: %d %q, want 404 without a challenge", path, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("%s: Cache-Control %q on 404", path, cc)
		}
	}
	if f.src.lookups != before {
		t.Errorf("requests without a usable mac reached the source (%d lookups)", f.src.lookups-before)
	}

	resp, _ := f.get(t, yealinkBook("fjordvik", "0015650000ff"), "")
	if resp.StatusCode != http.StatusNotFound || resp.Header.Get("WWW-Authenticate") != "" {
		t.Errorf("unknown MAC: %d %q, want 404 without a challenge", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	entries := f.logs.FilterMessage("phone book: unknown MAC").All()
	if len(entries) != 1 || entries[0].ContextMap()["mac"] != "0015650000ff" {
		t.Errorf("unknown-MAC log: %v", entries)
	}

	// Other methods: 405 before the store is asked.
	before = f.src.lookups
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+yealinkBook("fjordvik", yealinkMAC), nil)
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" || f.src.lookups != before {
		t.Errorf("POST: %d, Allow %q, %d lookups", resp.StatusCode, resp.Header.Get("Allow"), f.src.lookups-before)
	}
}

func TestPhonebookSourceFailures(t *testing.T) {
	f := newFixture(t, defaultOptions())
	f.src.err = errors.New("database is locked")
	resp, _ := f.get(t, yealinkBook("fjordvik", yealinkMAC), "")
	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("source error: %d, want 500", resp.StatusCode)
	}
	f.src.err = nil

	// A Source that leaves TenantID unset is a server fault, not a 403
	// the phone could be blamed for.
	d := f.src.devices[yealinkMAC]
	d.TenantID = 0
	f.src.devices[yealinkMAC] = d
	resp, _ = f.fetchAuth(t, yealinkBook("fjordvik", yealinkMAC), "ph"+yealinkMAC, yealinkSecret, "MD5")
	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("device without tenant ID: %d, want 500", resp.StatusCode)
	}
}

// TestPhonebookWithProvisionedCredentials fetches each phone's file and
// then the phone book the way the phone would, with the URL and the
// credentials the file gives it.
func TestPhonebookWithProvisionedCredentials(t *testing.T) {
	f := newFixture(t, defaultOptions())
	// Points the configured https://sentral.test at the test server.
	local := func(raw string) (path string, u *url.URL) {
		t.Helper()
		u, err := url.Parse(raw)
		if err != nil || u.Host != "sentral.test" {
			t.Fatalf("phone book URL %q: %v", raw, err)
		}
		return u.RequestURI(), u
	}

	// Yealink: the URL without credentials, and username/password settings.
	_, body := f.fetchAuth(t, "/prov/"+yealinkMAC+".cfg", "ph"+yealinkMAC, yealinkSecret, "MD5")
	settings := map[string]string{}
	for _, line := range strings.Split(string(body), "\n") {
		if k, v, ok := strings.Cut(line, " = "); ok {
			settings[k] = v
		}
	}
	path, u := local(settings["remote_phonebook.data.1.url"])
	if u.User != nil {
		t.Errorf("Yealink URL carries credentials: %s", u)
	}
	resp, book := f.fetchAuth(t, path, settings["remote_phonebook.data.1.username"], settings["remote_phonebook.data.1.password"], "SHA-256")
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(book), "<YealinkIPPhoneDirectory>") {
		t.Errorf("Yealink phone book with the provisioned credentials: %d\n%s", resp.StatusCode, book)
	}

	// Snom: credentials in the directory key's URL.
	_, body = f.fetchAuth(t, "/prov/"+snomMAC+".xml", "ph"+snomMAC, snomSecret, "MD5")
	_, dkey, ok := strings.Cut(string(body), `<dkey_directory perm="R">url `)
	if !ok {
		t.Fatalf("no dkey_directory in\n%s", body)
	}
	dkey, _, _ = strings.Cut(dkey, "</dkey_directory>")
	path, u = local(strings.ReplaceAll(dkey, "&amp;", "&"))
	pass, _ := u.User.Password()
	resp, book = f.fetchAuth(t, path, u.User.Username(), pass, "MD5")
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(book), "<SnomIPPhoneDirectory>") {
		t.Errorf("Snom phone book with the provisioned credentials: %d\n%s", resp.StatusCode, book)
	}
}

func TestWithCredentials(t *testing.T) {
	for _, tt := range []struct{ raw, user, pass, want string }{
		{"https://pb.example/pb/snom.xml?mac=x&a=1", "ph1", "s3cret", "https://ph1:s3cret@pb.example/pb/snom.xml?mac=x&a=1"},
		{"http://pb.example:8081/x", "ph1", "s3cret", "http://ph1:s3cret@pb.example:8081/x"},
		{"HTTPS://pb.example/x", "ph1", "s", "HTTPS://ph1:s@pb.example/x"},
		// Every delimiter a parser could trip over is escaped.
		{"https://pb.example/x", "a@b:c", "p:w@/?#%&= +é", "https://a%40b%3Ac:p%3Aw%40%2F%3F%23%25%26%3D%20%2B%C3%A9@pb.example/x"},
		{"https://pb.example/x", "a.b_c-d~", "-._~", "https://a.b_c-d~:-._~@pb.example/x"},
		// Left alone: credentials already set, no user, not http(s).
		{"https://admin:pw@pb.example/x", "ph1", "s", "https://admin:pw@pb.example/x"},
		{"https://pb.example/x", "", "s", "https://pb.example/x"},
		{"ftp://pb.example/x", "ph1", "s", "ftp://pb.example/x"},
		{"", "ph1", "s", ""},
		{"/relative", "ph1", "s", "/relative"},
	} {
		got := withCredentials(tt.raw, tt.user, tt.pass)
		if got != tt.want {
			t.Errorf("withCredentials(%q, %q, %q) = %q, want %q", tt.raw, tt.user, tt.pass, got, tt.want)
			continue
		}
		if got == tt.raw {
			continue
		}
		// What a phone's URL parser reads back.
		u, err := url.Parse(got)
		if err != nil {
			t.Errorf("%q: %v", got, err)
			continue
		}
		if p, _ := u.User.Password(); u.User.Username() != tt.user || p != tt.pass {
			t.Errorf("%q reads back as %q:%q", got, u.User.Username(), p)
		}
	}
}
