package httpapi

import (
	"bytes"
	"encoding/xml"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// fetch GETs path from the phone book server as a phone of tenant (0: no
// authenticated tenant).
func fetch(t *testing.T, base, path string, tenant int64) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tenant != 0 {
		req.Header.Set(testTenantHeader, strconv.FormatInt(tenant, 10))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, body
}

// Parsed back with encoding/xml, independently of the writer's types.
type parsedYealink struct {
	XMLName xml.Name `xml:"YealinkIPPhoneDirectory"`
	Entries []struct {
		Name      string `xml:"Name"`
		Telephone []struct {
			Label  string `xml:"label,attr"`
			Number string `xml:",chardata"`
		} `xml:"Telephone"`
	} `xml:"DirectoryEntry"`
}

type parsedSnom struct {
	XMLName xml.Name `xml:"SnomIPPhoneDirectory"`
	Title   string   `xml:"Title"`
	Prompt  string   `xml:"Prompt"`
	Entries []struct {
		Name      string `xml:"Name"`
		Telephone string `xml:"Telephone"`
	} `xml:"DirectoryEntry"`
}

// wellFormed checks the declaration, the headers, and that the whole body
// is one well-formed document, then decodes it into v.
func wellFormed(t *testing.T, hdr http.Header, body []byte, v any) {
	t.Helper()
	if ct := hdr.Get("Content-Type"); ct != "text/xml; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if hdr.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", hdr.Get("Cache-Control"))
	}
	if !bytes.HasPrefix(body, []byte(`<?xml version="1.0" encoding="UTF-8"?>`+"\n")) {
		t.Errorf("no XML declaration: %.80s", body)
	}
	d := xml.NewDecoder(bytes.NewReader(body))
	depth, roots := 0, 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed: %v\n%s", err, body)
		}
		switch tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
			}
			depth++
		case xml.EndElement:
			depth--
		}
	}
	if roots != 1 || depth != 0 {
		t.Fatalf("%d root elements, depth %d at the end", roots, depth)
	}
	if err := xml.Unmarshal(body, v); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
}

func TestPhonebookYealink(t *testing.T) {
	_, pb := servers(t, newDirectory())
	code, hdr, body := fetch(t, pb.URL, "/phonebook/fjordvik/yealink.xml", fjordvikID)
	if code != http.StatusOK {
		t.Fatalf("status %d: %s", code, body)
	}
	var d parsedYealink
	wellFormed(t, hdr, body, &d)

	byName := map[string]int{}
	for i, e := range d.Entries {
		byName[e.Name] = i
		if len(e.Telephone) == 0 {
			t.Errorf("%q: no number", e.Name)
		}
	}
	kari, ok := byName["Kari Ødegård-Hansen"]
	if !ok {
		t.Fatalf("Kari missing: %s", body)
	}
	type tel struct{ label, number string }
	var got []tel
	for _, n := range d.Entries[kari].Telephone {
		got = append(got, tel{n.Label, n.Number})
	}
	want := []tel{{"Internt", "4711"}, {"Direkte", "+4722334455"}, {"Mobil", "+4791234567"}}
	if len(got) != len(want) {
		t.Fatalf("Kari's numbers %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Kari's numbers %v, want %v", got, want)
		}
	}

	// Escaping: the name survives the round trip, and the raw text has
	// no bare & or < from it.
	if _, ok := byName[`Berg & Sønn <Vakt> "døgn"`]; !ok {
		t.Errorf("escaped name not read back: %v", byName)
	}
	if !bytes.Contains(body, []byte("Berg &amp; Sønn &lt;Vakt&gt;")) {
		t.Errorf("name not escaped: %s", body)
	}

	// Phones are inside: internal yes; secret, unknown visibility and
	// entries without a number never; other tenants never.
	if _, ok := byName["Eva Ærø"]; !ok {
		t.Error("internal entry missing")
	}
	for _, n := range []string{"Lise Østby", "Ukjent Synlighet", "Jan Uten Nummer", "Kari Dalby"} {
		if _, ok := byName[n]; ok {
			t.Errorf("%q in the phone book", n)
		}
	}
	for _, s := range []string{"Østby", "4717", "93000001", "Hemmelig", "Permisjon"} {
		if bytes.Contains(body, []byte(s)) {
			t.Errorf("phone book contains %q", s)
		}
	}
	// Whole book: every visible entry with a number (12 fixed entries
	// less secret, bogus and numberless; 40 generated, a third secret).
	if want := 9 + 27; len(d.Entries) != want {
		t.Errorf("%d entries, want %d", len(d.Entries), want)
	}
}

func TestPhonebookSnom(t *testing.T) {
	_, pb := servers(t, newDirectory())
	code, hdr, body := fetch(t, pb.URL, "/phonebook/fjordvik/snom.xml?q=kari", fjordvikID)
	if code != http.StatusOK {
		t.Fatalf("status %d: %s", code, body)
	}
	var d parsedSnom
	wellFormed(t, hdr, body, &d)
	if d.Title != "Telefonkatalog" || d.Prompt != "Prompt" {
		t.Errorf("title %q prompt %q", d.Title, d.Prompt)
	}
	type entry struct{ name, tel string }
	var got []entry
	for _, e := range d.Entries {
		got = append(got, entry{e.Name, e.Telephone})
	}
	want := []entry{
		{"Kari Ødegård-Hansen", "4711"},
		{"Kari Ødegård-Hansen (direkte)", "+4722334455"},
		{"Kari Ødegård-Hansen (mobil)", "+4791234567"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	// Numbers sit right inside their element: Snom dials white space.
	if !bytes.Contains(body, []byte("<Telephone>4711</Telephone>")) {
		t.Errorf("number not tight in its element: %s", body)
	}

	// Escaping in the Snom format too.
	_, _, body = fetch(t, pb.URL, "/phonebook/fjordvik/snom.xml?q=s%C3%B8nn", fjordvikID)
	var v parsedSnom
	if err := xml.Unmarshal(body, &v); err != nil || len(v.Entries) != 1 || v.Entries[0].Name != `Berg & Sønn <Vakt> "døgn"` {
		t.Fatalf("escaping: %v %+v\n%s", err, v, body)
	}
}

func TestPhonebookSearch(t *testing.T) {
	_, pb := servers(t, newDirectory())
	count := func(path string) int {
		t.Helper()
		code, hdr, body := fetch(t, pb.URL, path, fjordvikID)
		if code != http.StatusOK {
			t.Fatalf("%s: status %d: %s", path, code, body)
		}
		var d parsedYealink
		wellFormed(t, hdr, body, &d)
		return len(d.Entries)
	}
	whole := count("/phonebook/fjordvik/yealink.xml")
	for _, p := range []string{
		"/phonebook/fjordvik/yealink.xml?q=",
		"/phonebook/fjordvik/yealink.xml?q=%23SEARCH", // the placeholder, unreplaced
		"/phonebook/fjordvik/yealink.xml?q=#SEARCH",   // a fragment: never sent
		"/phonebook/fjordvik/yealink.xml?mac=001565aabbcc&lang=nb",
		"/phonebook/fjordvik/YEALINK.XML",
	} {
		if n := count(p); n != whole {
			t.Errorf("%s: %d entries, want the whole book (%d)", p, n, whole)
		}
	}
	if n := count("/phonebook/fjordvik/yealink.xml?q=bjorn"); n != 2 {
		t.Errorf("q=bjorn: %d entries, want Bjørn and Bjørnar", n)
	}
	if n := count("/phonebook/fjordvik/yealink.xml?q=ostby"); n != 0 {
		t.Errorf("q=ostby found the secret entry")
	}
	code, _, body := fetch(t, pb.URL, "/phonebook/fjordvik/yealink.xml?q="+strings.Repeat("x", MaxQueryLength+1), fjordvikID)
	if code != http.StatusBadRequest || !strings.Contains(string(body), "q:") {
		t.Errorf("long q: %d %s", code, body)
	}
}

func TestPhonebookAuthorization(t *testing.T) {
	_, pb := servers(t, newDirectory())
	tests := []struct {
		path   string
		tenant int64
		want   int
	}{
		{"/phonebook/fjordvik/yealink.xml", 0, http.StatusUnauthorized},
		{"/phonebook/fjordvik/yealink.xml", dalbyID, http.StatusForbidden},
		{"/phonebook/fjordvik/snom.xml", dalbyID, http.StatusForbidden},
		{"/phonebook/nowhere/yealink.xml", dalbyID, http.StatusForbidden},
		{"/phonebook/nowhere/yealink.xml", 0, http.StatusUnauthorized},
		{"/phonebook/fjordvik/polycom.xml", fjordvikID, http.StatusNotFound},
		{"/phonebook/fjordvik/yealink.cfg", fjordvikID, http.StatusNotFound},
		{"/phonebook/fjordvik/yealink.xml", fjordvikID, http.StatusOK},
		{"/phonebook/dalby/snom.xml", dalbyID, http.StatusOK},
	}
	for _, tc := range tests {
		code, _, body := fetch(t, pb.URL, tc.path, tc.tenant)
		if code != tc.want {
			t.Errorf("%s as tenant %d: status %d, want %d: %s", tc.path, tc.tenant, code, tc.want, body)
		}
		if code != http.StatusOK && bytes.Contains(body, []byte("Kari")) {
			t.Errorf("%s as tenant %d: refused but leaked: %s", tc.path, tc.tenant, body)
		}
	}
	// A method other than GET/HEAD is not served.
	req, _ := http.NewRequest(http.MethodPost, pb.URL+"/phonebook/fjordvik/yealink.xml", nil)
	req.Header.Set(testTenantHeader, "1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", resp.StatusCode)
	}
}

func TestPhonebookPagesAndCaps(t *testing.T) {
	dir := &countingDirectory{Directory: newDirectory()}
	_, pb := servers(t, dir)
	code, hdr, body := fetch(t, pb.URL, "/phonebook/storby/yealink.xml", storbyID)
	if code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	var d parsedYealink
	wellFormed(t, hdr, body, &d)
	if len(d.Entries) != MaxPhonebookEntries {
		t.Fatalf("%d entries, want %d", len(d.Entries), MaxPhonebookEntries)
	}
	// In order, each once: Person 00000 .. Person 01999.
	for i, e := range d.Entries {
		if want := "Person " + leftPad(i); e.Name != want {
			t.Fatalf("entry %d is %q, want %q", i, e.Name, want)
		}
	}
	if len(dir.limits) != 2 || dir.limits[0] != 1000 || dir.limits[1] != 1000 {
		t.Fatalf("search calls with limits %v, want two pages of 1000", dir.limits)
	}
}

func leftPad(i int) string {
	s := strconv.Itoa(i)
	return strings.Repeat("0", 5-len(s)) + s
}

func TestPhonebookRefusesSecretFromBrokenDirectory(t *testing.T) {
	_, pb := servers(t, &leakyDirectory{*newDirectory()})
	for _, v := range []string{"yealink", "snom"} {
		code, _, body := fetch(t, pb.URL, "/phonebook/fjordvik/"+v+".xml", fjordvikID)
		if code != http.StatusOK || bytes.Contains(body, []byte("Østby")) || bytes.Contains(body, []byte("4799")) {
			t.Fatalf("%s: %d, secret passed on: %s", v, code, body)
		}
	}
}
