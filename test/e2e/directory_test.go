package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // Europe/Oslo for a rated call's band, whatever the machine has
)

// The directory tests run tenant fjordvik's phone book end to end: the
// real ldapsearch against directory.ldap_listen, the JSON search on the
// admin listener, caller names on calls (sipp on both sides as in
// trunk_test.go: the operator on 127.0.0.1, the phones on ::1), and the
// server's background rating of a call with the report and finance
// export built from it.

const (
	fjDomain     = "fjordvik.test"
	fjBookPass   = "Telefonkatalog-Fjord-7" // fjordvik's phone-book (LDAP bind) password
	nvBookPass   = "Telefonkatalog-Nord-9"  // nordvik's
	fjKari       = "Kari Ødegård-Hansen"
	fjKariEmail  = "kari.odegard-hansen@fjordvik.kommune.no"
	fjKariExt    = "2711"
	fjKariDID    = "+4755550711"
	fjKariMobile = "+4795512345"
	fjPer        = "Per Aasen"
	fjPerExt     = "2712"
	fjPerDID     = "+4755550712"
	fjOla        = "Ola Åsen"
	fjOlaExt     = "2713"
	// The secret person: in no phone book, by name or by number.
	fjSecret       = "Sigrid Hemmelighaug"
	fjSecretExt    = "2714"
	fjSecretMobile = "+4790011223"
	// Extensions that belong to nobody are services in the book.
	fjReception = "Resepsjon Rådhuset"
	fjGuard     = "Vaktrom"
	// nordvik, the other tenant, has a Kari too.
	nvKarianne = "Karianne Nordvik"
	// A caller the phone book does not know (a landline in Oslo).
	unknownCLI = "+4722998877"
)

// provisionFjordvik creates tenants fjordvik (extensions 2700-2799, public
// numbers +4755550700-799, outside prefix 0, department OKO Økonomi) with
// its people and services, and nordvik with its own Kari; both get their
// phone-book password. Every fjordvik extension has e2ePassword and no
// voicemail (unanswered calls end in SIP answers, not a mailbox).
func provisionFjordvik(s *server) {
	s.t.Helper()
	s.mustCLI("tenant", "add", "fjordvik", "--domain", fjDomain, "--display-name", "Fjordvik kommune",
		"--ext-range", "2700-2799", "--did-range", "55550700-55550799", "--outside-prefix", "0")
	s.mustCLI("dept", "add", "OKO", "--tenant", "fjordvik", "--name", "Økonomi")
	person := func(given, family, email, mobile, visibility string, more ...string) {
		s.t.Helper()
		args := []string{"person", "add", "--tenant", "fjordvik", "--given", given, "--family", family,
			"--email", email, "--visibility", visibility}
		if mobile != "" {
			args = append(args, "--mobile", mobile)
		}
		s.mustCLI(append(args, more...)...)
	}
	person("Kari", "Ødegård-Hansen", fjKariEmail, fjKariMobile, "listed", "--title", "Rådgiver", "--dept", "OKO")
	person("Per", "Aasen", "per.aasen@fjordvik.kommune.no", "", "listed")
	person("Ola", "Åsen", "ola.asen@fjordvik.kommune.no", "", "internal")
	person("Sigrid", "Hemmelighaug", "sigrid@fjordvik.kommune.no", fjSecretMobile, "secret", "--notes", "Adressesperre")
	ext := func(number, name string, more ...string) {
		s.t.Helper()
		s.mustCLI(append([]string{"ext", "add", number, "--tenant", "fjordvik", "--name", name,
			"--password", e2ePassword, "--voicemail=false"}, more...)...)
	}
	// The extensions' own names differ from the people's: a caller's name
	// on a call must come from the phone book, not from the extension.
	ext(fjKariExt, "Økonomi 1", "--person", fjKariEmail, "--did", fjKariDID, "--cos", "mobile", "--dept", "OKO")
	ext(fjPerExt, "Kontor 2", "--person", "per.aasen@fjordvik.kommune.no", "--did", fjPerDID)
	ext(fjOlaExt, "Kontor 3", "--person", "ola.asen@fjordvik.kommune.no")
	ext(fjSecretExt, "Kontor 4", "--person", "sigrid@fjordvik.kommune.no")
	ext("2790", fjReception)
	ext("2791", fjGuard)
	setBookPassword(s, "fjordvik", fjBookPass)

	s.mustCLI("tenant", "add", "nordvik", "--domain", "nordvik.test", "--ext-range", "3000-3099")
	s.mustCLI("person", "add", "--tenant", "nordvik", "--given", "Karianne", "--family", "Nordvik",
		"--email", "karianne@nordvik.kommune.no", "--visibility", "listed")
	setBookPassword(s, "nordvik", nvBookPass)
}

// setBookPassword sets a tenant's phone-book password the way an admin
// does it from a script: on standard input, never on the command line.
func setBookPassword(s *server, tenant, password string) {
	s.t.Helper()
	if _, errs, code := s.cliStdin(password+"\n", "tenant", "update", tenant, "--phonebook-password"); code != 0 {
		s.t.Fatalf("tenant update %s --phonebook-password: exit %d\n%s", tenant, code, errs)
	}
}

// cliStdin is server.cli with standard input.
func (s *server) cliStdin(stdin string, args ...string) (string, string, int) {
	s.t.Helper()
	full := args
	if s.dsn != "" {
		full = append([]string{"--db", s.dsn}, args...)
	}
	cmd := exec.Command(binary, full...)
	cmd.Dir, cmd.Env, cmd.Stdin = s.dir, cleanEnv(), strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return out.String(), errb.String(), ee.ExitCode()
	case err != nil:
		s.t.Fatalf("run sentral %v: %v", args, err)
	}
	return out.String(), errb.String(), 0
}

// dirPage is one page of the directory API.
type dirPage struct {
	Tenant     string     `json:"tenant"`
	Query      string     `json:"query"`
	Total      int        `json:"total"`
	Limit      int        `json:"limit"`
	Offset     int        `json:"offset"`
	NextOffset *int       `json:"next_offset"`
	Entries    []dirEntry `json:"entries"`
}

type dirEntry struct {
	ID         int64    `json:"id"`
	Kind       string   `json:"kind"`
	Name       string   `json:"name"`
	Title      string   `json:"title"`
	Department string   `json:"department"`
	Numbers    []string `json:"numbers"`
	Mobile     string   `json:"mobile"`
	Email      string   `json:"email"`
	Visibility string   `json:"visibility"`
	Notes      string   `json:"notes"`
}

func dirURL(tenant string, params ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(params); i += 2 {
		v.Set(params[i], params[i+1])
	}
	return "/api/v1/tenants/" + tenant + "/directory?" + v.Encode()
}

// search runs the directory API, failing on anything but 200.
func (s *server) search(tenant string, params ...string) dirPage {
	s.t.Helper()
	var pg dirPage
	u := dirURL(tenant, params...)
	if code := s.get(u, &pg); code != http.StatusOK {
		s.t.Fatalf("GET %s: %d", u, code)
	}
	return pg
}

func names(es []dirEntry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Name)
	}
	return out
}

// waitBook waits until the running server's phone book of fjordvik shows
// everything provisionFjordvik made: the directory follows the store on
// its own schedule, not the catalog's (server.synced).
func (s *server) waitBook() {
	s.t.Helper()
	lat := s.waitFor("fjordvik's phone book", func() bool {
		var pg dirPage
		if s.get(dirURL("fjordvik", "q", "odegard"), &pg) != http.StatusOK || len(pg.Entries) != 1 {
			return false
		}
		var all dirPage
		if s.get(dirURL("fjordvik", "limit", "100"), &all) != http.StatusOK {
			return false
		}
		var nv dirPage
		return slices.Equal(pg.Entries[0].Numbers, []string{fjKariExt, fjKariDID, fjKariMobile}) &&
			all.Total == 5 && s.get(dirURL("nordvik"), &nv) == http.StatusOK && nv.Total == 1
	})
	s.t.Logf("phone books complete %s after provisioning", lat)
}

// ldapsearchBinary finds ldapsearch, skipping the test when it is missing
// unless CI=true.
func ldapsearchBinary(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("ldapsearch")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("ldapsearch is not installed (Debian package ldap-utils) and CI=true")
		}
		t.Skip("*** ldapsearch SKIPPED: not installed (apt-get install ldap-utils) ***")
	}
	return p
}

// ldapEntry is one entry of ldapsearch's LDIF: lower-case attribute
// name ("dn" too) -> values, base64 (attr::) decoded.
type ldapEntry map[string][]string

func (e ldapEntry) first(attr string) string {
	if v := e[strings.ToLower(attr)]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// ldapRun is one ldapsearch: its exit code (the LDAP result code), the
// entries it printed and its raw output.
type ldapRun struct {
	code    int
	entries []ldapEntry
	out     string
}

// cns lists the cn of the people and services found (uid=... entries;
// a sub search of (objectClass=*) also returns the phone book's own
// ou=phonebook entry), sorted.
func (r ldapRun) cns() []string {
	var out []string
	for _, e := range r.entries {
		if strings.HasPrefix(strings.ToLower(e.first("dn")), "uid=") {
			out = append(out, e.first("cn"))
		}
	}
	slices.Sort(out)
	return out
}

// ldapSearch binds as cn=phonebook,o=TENANT with password and searches
// base with filter, asking for attrs (all when none).
func ldapSearch(t *testing.T, addr, tenant, password, base, filter string, attrs ...string) ldapRun {
	t.Helper()
	bin := ldapsearchBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	args := append([]string{"-x", "-LLL", "-o", "ldif_wrap=no", "-o", "nettimeout=5", "-l", "5",
		"-H", "ldap://" + addr, "-D", "cn=phonebook,o=" + tenant, "-w", password, "-b", base, filter}, attrs...)
	cmd := exec.CommandContext(ctx, bin, args...)
	// LDAPNOINIT: no ldap.conf or ~/.ldaprc from the machine.
	cmd.Env = append(cleanEnv(), "LDAPNOINIT=1")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := ldapRun{out: out.String() + errb.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("ldapsearch %s: %v", filter, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("ldapsearch %s did not finish within 15s:\n%s", filter, r.out)
	}
	r.entries = parseLDIF(t, out.String())
	return r
}

// parseLDIF reads ldapsearch -LLL output (RFC 2849, folded lines and
// base64 values included).
func parseLDIF(t *testing.T, text string) []ldapEntry {
	t.Helper()
	var lines []string
	for _, l := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		if strings.HasPrefix(l, " ") && len(lines) > 0 && lines[len(lines)-1] != "" {
			lines[len(lines)-1] += l[1:]
			continue
		}
		lines = append(lines, l)
	}
	var out []ldapEntry
	var cur ldapEntry
	for _, l := range append(lines, "") {
		if strings.TrimSpace(l) == "" {
			if cur != nil {
				out = append(out, cur)
				cur = nil
			}
			continue
		}
		if strings.HasPrefix(l, "#") {
			continue
		}
		name, val, ok := strings.Cut(l, ":")
		if !ok {
			t.Fatalf("ldapsearch printed a line that is no LDIF: %q\n%s", l, text)
		}
		if b64, isB64 := strings.CutPrefix(val, ":"); isB64 {
			raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
			if err != nil {
				t.Fatalf("LDIF %s:: %q: %v", name, b64, err)
			}
			val = string(raw)
		} else {
			val = strings.TrimPrefix(val, " ")
		}
		if cur == nil {
			cur = ldapEntry{}
		}
		cur[strings.ToLower(name)] = append(cur[strings.ToLower(name)], val)
	}
	return out
}

// TestLDAPPhonebook: the real ldapsearch binds to Sentral's LDAP phone
// book with the tenant's phone-book password and searches it by name
// (Norwegian letters, Aasen = Åsen) and by number; the secret person is
// never there; a wrong password is 49; the other tenant is out of reach;
// people added and hidden with the CLI while the server runs show up and
// disappear within a bounded wait.
func TestLDAPPhonebook(t *testing.T) { eachStore(t, testLDAPPhonebook) }

func testLDAPPhonebook(t *testing.T, dsn string) {
	ldapsearchBinary(t)
	dir := t.TempDir()
	if dsn == "" {
		dsn = filepath.Join(dir, "pbx.db")
	}
	// Provisioned before the server starts: its first load must have it.
	provisionFjordvik(&server{dsn: dsn, dir: dir, t: t})
	ldapAddr := freeAddr(t)
	s := startServer(t, dir, dsn, "SENTRAL_DIRECTORY_LDAP_LISTEN="+ldapAddr)
	const base = "ou=phonebook,o=fjordvik"
	find := func(filter string, attrs ...string) ldapRun {
		t.Helper()
		r := ldapSearch(t, ldapAddr, "fjordvik", fjBookPass, base, filter, attrs...)
		if r.code != 0 {
			t.Fatalf("ldapsearch %s: exit %d\n%s\nserver log:\n%s", filter, r.code, r.out, lastBytes(s.logText(), 3000))
		}
		return r
	}

	start := time.Now()
	r := find("(cn=Kar*)", "cn", "telephoneNumber", "mobile")
	t.Logf("first ldapsearch (bind + search) took %s", time.Since(start))
	if len(r.entries) != 1 {
		t.Fatalf("(cn=Kar*): %d entries %v, want only %s (not nordvik's %s)\n%s", len(r.entries), r.cns(), fjKari, nvKarianne, r.out)
	}
	kari := r.entries[0]
	if kari.first("cn") != fjKari || !slices.Equal(kari["telephonenumber"], []string{fjKariExt, fjKariDID}) ||
		!slices.Equal(kari["mobile"], []string{fjKariMobile}) {
		t.Errorf("(cn=Kar*) cn telephoneNumber mobile: %v, want cn %q, telephoneNumber [%s %s], mobile %s", kari, fjKari, fjKariExt, fjKariDID, fjKariMobile)
	}
	if dn := strings.ToLower(kari.first("dn")); !strings.HasPrefix(dn, "uid=person-") || !strings.HasSuffix(dn, ","+base) {
		t.Errorf("Kari's DN %q, want uid=person-N,%s", kari.first("dn"), base)
	}
	if _, ok := kari["title"]; ok {
		t.Errorf("attributes not asked for were sent: %v", kari)
	}

	// By number: the extension, the public number as phones dial it, the
	// mobile in national form.
	for _, f := range []string{"(telephoneNumber=" + fjKariExt + ")", "(telephoneNumber=*0711)", "(mobile=95512345)", "(|(telephoneNumber=+47 955 12 345)(mobile=+47 955 12 345))"} {
		if r := find(f, "cn"); !slices.Equal(r.cns(), []string{fjKari}) {
			t.Errorf("%s: %v, want [%s]\n%s", f, r.cns(), fjKari, r.out)
		}
	}
	// Every attribute of an entry, and Norwegian folding in names.
	r = find("(sn=ødegård-hansen)")
	if len(r.entries) != 1 {
		t.Fatalf("(sn=ødegård-hansen): %v", r.cns())
	}
	if e := r.entries[0]; e.first("givenName") != "Kari" || e.first("sn") != "Ødegård-Hansen" || e.first("title") != "Rådgiver" ||
		e.first("ou") != "Økonomi" || e.first("mail") != fjKariEmail || !slices.Contains(e["objectclass"], "inetOrgPerson") {
		t.Errorf("Kari with every attribute: %v", e)
	}
	if r := find("(sn=Aasen)", "cn"); !slices.Equal(r.cns(), []string{fjOla, fjPer}) {
		t.Errorf("(sn=Aasen): %v, want both %s and %s", r.cns(), fjPer, fjOla)
	}

	// The secret person is in no answer, however she is looked for; her
	// extension is no service either.
	all := find("(objectClass=*)")
	wantAll := []string{fjKari, fjOla, fjPer, fjReception, fjGuard}
	slices.Sort(wantAll)
	if got := all.cns(); !slices.Equal(got, wantAll) || len(all.entries) != len(wantAll)+1 {
		t.Errorf("(objectClass=*): %v, want %v and the phone book's own entry\n%s", got, wantAll, all.out)
	}
	for _, f := range []string{"(objectClass=*)", "(cn=Sigrid*)", "(sn=Hemmelighaug)", "(mobile=" + fjSecretMobile + ")",
		"(telephoneNumber=" + fjSecretExt + ")", "(|(cn=*)(telephoneNumber=*))"} {
		r := find(f)
		for _, bad := range []string{"Sigrid", "Hemmelighaug", "90011223", fjSecretExt, "Adressesperre"} {
			if strings.Contains(r.out, bad) || strings.Contains(fmt.Sprint(r.entries), bad) {
				t.Errorf("%s reveals the secret person (%q):\n%s", f, bad, r.out)
			}
		}
	}

	// Wrong password: 49. The other tenant's base with this tenant's bind:
	// 32, as if it did not exist; its own bind finds its own Kari only.
	if r := ldapSearch(t, ldapAddr, "fjordvik", "feil-passord", base, "(cn=Kar*)"); r.code != 49 || len(r.entries) != 0 {
		t.Errorf("wrong password: exit %d with %d entries, want 49 (invalid credentials)\n%s", r.code, len(r.entries), r.out)
	}
	if r := ldapSearch(t, ldapAddr, "fjordvik", fjBookPass, "ou=phonebook,o=nordvik", "(cn=Kar*)"); r.code != 32 || len(r.entries) != 0 {
		t.Errorf("fjordvik's bind, nordvik's base: exit %d with %v, want 32 (noSuchObject)\n%s", r.code, r.cns(), r.out)
	}
	if r := ldapSearch(t, ldapAddr, "nordvik", nvBookPass, "o=nordvik", "(cn=Kar*)", "cn"); r.code != 0 || !slices.Equal(r.cns(), []string{nvKarianne}) {
		t.Errorf("nordvik's own search: exit %d %v, want [%s]\n%s", r.code, r.cns(), nvKarianne, r.out)
	}

	// The directory follows the store: a person added with the CLI, and
	// a person made secret, while the server runs.
	s.mustCLI("person", "add", "--tenant", "fjordvik", "--given", "Åse", "--family", "Bråten",
		"--email", "ase.braten@fjordvik.kommune.no", "--mobile", "+4790055566", "--visibility", "listed")
	start = time.Now()
	s.waitFor("Åse Bråten in the LDAP phone book", func() bool {
		return slices.Equal(find("(sn=Bråten)", "cn").cns(), []string{"Åse Bråten"})
	})
	t.Logf("new person searchable over LDAP %s after person add", time.Since(start))
	if r := find("(mobile=90055566)", "cn", "mobile"); len(r.entries) != 1 || r.entries[0].first("mobile") != "+4790055566" {
		t.Errorf("(mobile=90055566): %v", r.entries)
	}
	s.mustCLI("person", "update", "per.aasen@fjordvik.kommune.no", "--tenant", "fjordvik", "--visibility", "secret")
	start = time.Now()
	s.waitFor("Per Aasen made secret leaves the LDAP phone book", func() bool {
		return slices.Equal(find("(sn=Aasen)", "cn").cns(), []string{fjOla})
	})
	t.Logf("person made secret gone from LDAP %s after person update", time.Since(start))
	if r := find("(telephoneNumber="+fjPerExt+")", "cn"); len(r.entries) != 0 {
		t.Errorf("Per Aasen, now secret, still found by his extension: %v", r.cns())
	}
}

// TestDirectoryAPI: the JSON search on the admin listener walks a
// tenant's phone book page by page (next_offset), searches it the
// Norwegian way, never shows the secret person, and refuses bad
// parameters with 400 naming the parameter.
func TestDirectoryAPI(t *testing.T) { eachStore(t, testDirectoryAPI) }

func testDirectoryAPI(t *testing.T, dsn string) {
	dir := t.TempDir()
	if dsn == "" {
		dsn = filepath.Join(dir, "pbx.db")
	}
	s := startServer(t, dir, dsn)
	provisionFjordvik(s)
	s.waitBook()

	// Every visible entry, two at a time.
	var got []string
	off, pages := 0, 0
	for {
		pg := s.search("fjordvik", "limit", "2", "offset", strconv.Itoa(off))
		pages++
		if pg.Tenant != "fjordvik" || pg.Total != 5 || pg.Limit != 2 || pg.Offset != off || len(pg.Entries) > 2 {
			t.Fatalf("page at offset %d: %+v", off, pg)
		}
		got = append(got, names(pg.Entries)...)
		if pg.NextOffset == nil {
			if off+len(pg.Entries) != pg.Total {
				t.Errorf("last page at offset %d has %d entries of %d", off, len(pg.Entries), pg.Total)
			}
			break
		}
		if *pg.NextOffset != off+2 || len(pg.Entries) != 2 {
			t.Fatalf("page at offset %d: next_offset %d with %d entries, want %d", off, *pg.NextOffset, len(pg.Entries), off+2)
		}
		off = *pg.NextOffset
		if pages > 10 {
			t.Fatal("next_offset never ends")
		}
	}
	want := []string{fjKari, fjOla, fjPer, fjReception, fjGuard}
	sorted := slices.Clone(got)
	slices.Sort(sorted)
	slices.Sort(want)
	if pages != 3 || !slices.Equal(sorted, want) {
		t.Errorf("walked %d pages: %q, want each of %q exactly once in 3 pages", pages, got, want)
	}

	if pg := s.search("fjordvik", "q", "aasen", "limit", "2", "offset", "0"); pg.NextOffset != nil || !slices.Equal(sortedNames(pg.Entries), []string{fjOla, fjPer}) {
		t.Errorf("q=aasen: %+v, want %s and %s on one page", pg, fjPer, fjOla)
	}
	pg := s.search("fjordvik", "q", "odegard")
	if len(pg.Entries) != 1 {
		t.Fatalf("q=odegard: %+v", pg)
	}
	if k := pg.Entries[0]; k.Name != fjKari || k.Kind != "person" || k.Department != "Økonomi" || k.Title != "Rådgiver" ||
		!slices.Equal(k.Numbers, []string{fjKariExt, fjKariDID, fjKariMobile}) || k.Mobile != fjKariMobile || k.Visibility != "listed" {
		t.Errorf("q=odegard: %+v", k)
	}
	if pg := s.search("fjordvik", "q", "95512345"); !slices.Equal(names(pg.Entries), []string{fjKari}) {
		t.Errorf("q=95512345 (Kari's mobile): %q", names(pg.Entries))
	}
	for _, q := range []string{"Hemmelighaug", "sigrid", fjSecretMobile, fjSecretExt} {
		if pg := s.search("fjordvik", "q", q); len(pg.Entries) != 0 || pg.Total != 0 {
			t.Errorf("q=%s shows the secret person: %+v", q, pg)
		}
	}
	// The switchboard sees her by name, with notes, never by number.
	if pg := s.search("fjordvik", "q", "Hemmelighaug", "switchboard", "1"); len(pg.Entries) != 1 || pg.Entries[0].Notes != "Adressesperre" {
		t.Errorf("q=Hemmelighaug&switchboard=1: %+v", pg)
	}
	if pg := s.search("fjordvik", "q", fjSecretMobile, "switchboard", "1"); len(pg.Entries) != 0 {
		t.Errorf("switchboard search by the secret mobile: %+v", pg)
	}
	if pg := s.search("nordvik", "q", "kar"); !slices.Equal(names(pg.Entries), []string{nvKarianne}) {
		t.Errorf("nordvik q=kar: %q", names(pg.Entries))
	}

	// Bad parameters: 400 with a JSON body naming the parameter.
	for _, c := range []struct{ query, param string }{
		{"limit=5000", "limit"}, {"limit=0", "limit"}, {"limit=abc", "limit"}, {"limit=-1", "limit"},
		{"offset=-1", "offset"}, {"offset=x", "offset"}, {"limit=2&limit=3", "limit"},
		{"q=" + strings.Repeat("a", 201), "q"}, {"switchboard=kanskje", "switchboard"},
	} {
		resp, err := http.Get(s.base + "/api/v1/tenants/fjordvik/directory?" + c.query)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var e struct{ Error, Parameter string }
		if resp.StatusCode != http.StatusBadRequest || json.Unmarshal(body, &e) != nil || e.Parameter != c.param || e.Error == "" {
			t.Errorf("?%.40s: %d %s, want 400 naming %q", c.query, resp.StatusCode, body, c.param)
		}
	}
	if code := s.get(dirURL("ingenstad", "q", "kari"), nil); code != http.StatusNotFound {
		t.Errorf("unknown tenant: %d, want 404", code)
	}
}

func sortedNames(es []dirEntry) []string {
	n := names(es)
	slices.Sort(n)
	return n
}

// fjordvikPBX starts a server with SIP on 127.0.0.1 and ::1 (startPBXOn),
// provisions fjordvik with a peer trunk to an operator on 127.0.0.1:port
// routing +47, and waits for catalog and phone book.
func fjordvikPBX(t *testing.T, dsn string, env ...string) (*pbx, int) {
	t.Helper()
	p := startPBXOn(t, dsn, env...)
	provisionFjordvik(p.server)
	opPort := port4(t)
	p.mustCLI("trunk", "add", "telco", "--tenant", "fjordvik", "--mode", "peer", "--host", operatorIP,
		"--port", strconv.Itoa(opPort), "--transport", "udp", "--peer", operatorIP, "--route", "+47")
	p.synced()
	p.waitBook()
	return p, opPort
}

// fjDial runs a fjordvik extension's authenticated call from ::1 with
// scenario and extra sipp options, waiting for sipp to end.
func fjDial(t *testing.T, p *pbx, scenario, ext, dialled string, extra ...string) *sippRun {
	t.Helper()
	r := runSipp(t, p.server, sippSpec{scenario: scenario, ip: phoneIP, port: port6(t), target: p.v6,
		extra: append([]string{"-s", dialled, "-key", "caller", ext, "-key", "domain", fjDomain, "-au", ext, "-ap", e2ePassword,
			"-recv_timeout", "10000"}, extra...)})
	r.wait(t, p.server)
	return r
}

// fromDisplay is the display name of a From (or any name-addr) value,
// "" when there is none.
func fromDisplay(v string) string {
	v = strings.TrimSpace(v)
	if strings.HasPrefix(v, `"`) {
		if end := strings.Index(v[1:], `"`); end >= 0 {
			return v[1 : end+1]
		}
	}
	if i := strings.Index(v, "<"); i > 0 {
		return strings.TrimSpace(v[:i])
	}
	return ""
}

// TestCallerNameFromDirectory: the callee sees the caller's name from
// the phone book (From display name and P-Asserted-Identity): on an
// inbound call from the trunk whose caller is a person's mobile, and on an
// internal call from a person's extension. A caller the book does not
// know gets no name.
func TestCallerNameFromDirectory(t *testing.T) { eachStore(t, testCallerNameFromDirectory) }

func testCallerNameFromDirectory(t *testing.T, dsn string) {
	p, _ := fjordvikPBX(t, dsn)
	perPort := port6(t)
	register(t, p.server, p.v6, fjDomain, fjPerExt, phoneIP, perPort)
	per := phoneUAS(t, p, perPort, 3)

	inbound := func(caller string) {
		t.Helper()
		runSipp(t, p.server, sippSpec{scenario: "testdata/operator_call.xml", ip: operatorIP, port: port4(t), target: p.v4,
			extra: []string{"-s", fjPerDID, "-key", "to", fjPerDID, "-key", "caller", caller, "-recv_timeout", "10000"}}).wait(t, p.server)
	}
	start := time.Now()
	inbound(fjKariMobile)
	inbound(unknownCLI)
	fjDial(t, p, "../sipp/uac_call.xml", fjKariExt, fjPerExt)
	per.wait(t, p.server)
	t.Logf("three calls to %s in %s", fjPerExt, time.Since(start))
	ins := per.received(t, "INVITE")
	if len(ins) != 3 {
		t.Fatalf("%s received %d INVITEs, want 3", fjPerExt, len(ins))
	}

	// 1. Inbound from Kari's mobile.
	in := ins[0]
	wantHeader(t, in, "From", fjKariMobile)
	if d := fromDisplay(in.First("From")); d != fjKari {
		t.Errorf("inbound call from %s: From display name %q, want %q\n%s", fjKariMobile, d, fjKari, in.Raw)
	}
	pai := in.First("P-Asserted-Identity")
	if fromDisplay(pai) != fjKari || !strings.Contains(pai, "sip:"+fjKariMobile+"@") {
		t.Errorf("inbound call from %s: P-Asserted-Identity %q, want %q <sip:%s@...>", fjKariMobile, pai, fjKari, fjKariMobile)
	}
	if n := len(in.Header("P-Asserted-Identity")); n != 1 {
		t.Errorf("inbound call: %d P-Asserted-Identity headers, want 1", n)
	}

	// 2. Inbound from a number nobody in the book has.
	in = ins[1]
	wantHeader(t, in, "From", unknownCLI)
	if d := fromDisplay(in.First("From")); d != "" {
		t.Errorf("inbound call from unknown %s: From display name %q, want none\n%s", unknownCLI, d, in.Raw)
	}
	for _, v := range in.Header("P-Asserted-Identity") {
		if d := fromDisplay(v); d != "" {
			t.Errorf("inbound call from unknown %s: P-Asserted-Identity with a name: %q", unknownCLI, v)
		}
	}

	// 3. Internal, from Kari's extension (its own name is "Økonomi 1").
	in = ins[2]
	wantHeader(t, in, "From", "sip:"+fjKariExt+"@")
	if d := fromDisplay(in.First("From")); d != fjKari {
		t.Errorf("internal call from %s: From display name %q, want %q\n%s", fjKariExt, d, fjKari, in.Raw)
	}
	pai = in.First("P-Asserted-Identity")
	if fromDisplay(pai) != fjKari || !strings.Contains(pai, "sip:"+fjKariExt+"@"+fjDomain) {
		t.Errorf("internal call from %s: P-Asserted-Identity %q, want %q <sip:%s@%s>", fjKariExt, pai, fjKari, fjKariExt, fjDomain)
	}
}

// fjCDR is what TestCallsAreRated reads of `sentral cdr list -o json`.
type fjCDR struct {
	cdrView
	StartTime       time.Time `json:"start_time"`
	BillableSeconds int64     `json:"billable_seconds"`
	DepartmentCode  string    `json:"department_code"`
	PriceOre        *int64    `json:"price_ore"`
	TariffID        *int64    `json:"tariff_id"`
}

// mobileOre prices a mobile call by configs/tariff.example.yaml, worked
// out here independently of directory/billing: the band is decided by the
// answer time in Oslo, overrides tried in order (evening, then weekend);
// amounts in 1/100 øre, rounded half up to øre once.
func mobileOre(t *testing.T, answer time.Time, seconds int64) (int64, string) {
	t.Helper()
	oslo, err := time.LoadLocation("Europe/Oslo")
	if err != nil {
		t.Fatal(err)
	}
	a := answer.In(oslo)
	minute := a.Hour()*60 + a.Minute()
	weekday := func(d time.Weekday) bool { return d >= time.Monday && d <= time.Friday }
	// evening: starts 17:00 on Mon-Fri, runs to 08:00 the next day.
	evening := (weekday(a.Weekday()) && minute >= 17*60) || (weekday(a.AddDate(0, 0, -1).Weekday()) && minute < 8*60)
	weekend := a.Weekday() == time.Saturday || a.Weekday() == time.Sunday
	connect, price, band := int64(3900), int64(49), "" // 0.39 NOK + 0.0049 NOK/s
	switch {
	case evening:
		price, band = 25, "evening"
	case weekend:
		connect, price, band = 1900, 25, "weekend"
	}
	return (connect + seconds*price + 50) / 100, band
}

// TestCallsAreRated: with a tariff set, an answered outbound call to a
// Norwegian mobile through the trunk is priced by the server's rater
// (billing.rate_interval 1s) as the tariff says; re-rating gives the same
// price; the report masks the number; the finance export has the
// department's line with the amount.
func TestCallsAreRated(t *testing.T) { eachStore(t, testCallsAreRated) }

func testCallsAreRated(t *testing.T, dsn string) {
	p, opPort := fjordvikPBX(t, dsn, "SENTRAL_BILLING_RATE_INTERVAL=1s")
	tariff, err := filepath.Abs("../../configs/tariff.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p.mustCLI("tariff", "set", "--tenant", "fjordvik", "--file", tariff)
	p.mustCLI("tenant", "update", "fjordvik", "--report-mask-digits", "3")

	op := operatorUAS(t, p, "../sipp/uas_answer.xml", opPort, 1)
	uac := fjDial(t, p, "testdata/directory_uac_call.xml", fjKariExt, "041234567", "-d", "2200")
	op.wait(t, p.server)
	if code, _ := uac.finalStatus(t); code != 200 {
		t.Fatalf("caller's final answer %d, want 200", code)
	}
	if u := op.invite(t).RURIUser(); u != "+4741234567" {
		t.Errorf("operator's request-URI user %q, want +4741234567", u)
	}

	var rec fjCDR
	start := time.Now()
	p.waitFor("the call's record priced by the server", func() bool {
		var recs []fjCDR
		from := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
		if err := json.Unmarshal([]byte(p.mustCLI("cdr", "list", "--tenant", "fjordvik", "--from", from, "-o", "json")), &recs); err != nil {
			t.Fatalf("cdr list: %v", err)
		}
		if len(recs) != 1 {
			return false
		}
		rec = recs[0]
		return rec.State == "closed" && rec.PriceOre != nil
	})
	t.Logf("record priced %s after the call ended: %+v, price %d øre", time.Since(start), rec.cdrView, *rec.PriceOre)
	if rec.Direction != "outbound" || rec.Caller != fjKariExt || rec.Normalised != "+4741234567" || rec.Trunk != "telco" ||
		rec.Disposition != "answered" || rec.AnswerTime == nil || rec.DepartmentCode != "OKO" || rec.TariffID == nil {
		t.Fatalf("outbound call record: %+v department %q tariff %v", rec.cdrView, rec.DepartmentCode, rec.TariffID)
	}
	// 2.2 s of talk: 2 whole seconds, 3 on a slow machine.
	if rec.BillableSeconds < 2 || rec.BillableSeconds > 4 {
		t.Fatalf("billable seconds %d, want about 2 (the caller talks 2.2 s)", rec.BillableSeconds)
	}
	wantOre, band := mobileOre(t, *rec.AnswerTime, rec.BillableSeconds)
	if *rec.PriceOre != wantOre {
		t.Errorf("price %d øre for a mobile call of %d s answered %s (band %q), want %d",
			*rec.PriceOre, rec.BillableSeconds, rec.AnswerTime.Format(time.RFC3339), band, wantOre)
	}

	// Re-rating the period with the same tariff prices the call the same.
	var res struct {
		Tenants int   `json:"tenants"`
		Rated   int64 `json:"rated"`
		Failed  int64 `json:"failed"`
		Ore     int64 `json:"ore"`
	}
	out := p.mustCLI("billing", "rerate", "--tenant", "fjordvik", "--from", rec.StartTime.Add(-time.Minute).Format(time.RFC3339),
		"--to", rec.StartTime.Add(time.Minute).Format(time.RFC3339), "-o", "json")
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Rated != 1 || res.Failed != 0 || res.Ore != wantOre {
		t.Errorf("billing rerate: %s (%v), want 1 call rated to %d øre", out, err, wantOre)
	}

	oslo, err := time.LoadLocation("Europe/Oslo")
	if err != nil {
		t.Fatal(err)
	}
	month := rec.StartTime.In(oslo).Format("2006-01")
	nok := fmt.Sprintf("%d.%02d", wantOre/100, wantOre%100)

	// The per-call report masks the called number (--report-mask-digits 3).
	calls := p.mustCLI("billing", "report", "--tenant", "fjordvik", "--month", month, "--section", "calls")
	if !strings.Contains(calls, "+4741234xxx") || strings.Contains(calls, "41234567") {
		t.Errorf("report calls section does not mask the number as +4741234xxx:\n%s", calls)
	}

	cmd := []string{"billing", "export", "--tenant", "fjordvik", "--month", month}
	exp, errs, code := p.cli(cmd...)
	if code != 0 {
		t.Fatalf("billing export: exit %d: %s", code, errs)
	}
	if strings.TrimSpace(errs) != "" {
		t.Errorf("billing export warns: %s", errs)
	}
	r := csv.NewReader(strings.NewReader(exp))
	r.Comma = ';'
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatalf("finance export is no ;-separated CSV: %v\n%s", err, exp)
	}
	wantHead := []string{"period", "tenant", "department_code", "department_name", "calls", "billable_seconds", "amount_ore", "amount_nok"}
	wantRow := []string{month, "fjordvik", "OKO", "Økonomi", "1", strconv.FormatInt(rec.BillableSeconds, 10), strconv.FormatInt(wantOre, 10), nok}
	if len(rows) != 2 || !slices.Equal(rows[0], wantHead) || !slices.Equal(rows[1], wantRow) {
		t.Errorf("finance export:\n%s\nwant the header and one line %q", exp, strings.Join(wantRow, ";"))
	}
}
