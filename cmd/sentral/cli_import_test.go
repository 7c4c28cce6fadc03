package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sentralpbx/sentral/provisioning"
	"github.com/sentralpbx/sentral/store"
)

func writeCSV(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ext.csv")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// snapshot is what an import must leave untouched when it is refused.
func (c *cli) snapshot() (exts int, last int64) {
	c.t.Helper()
	st := c.openStore()
	ctx := context.Background()
	es, err := st.Extensions().List(ctx, store.ListOptions{})
	if err != nil {
		c.t.Fatal(err)
	}
	last, err = st.LastChange(ctx)
	if err != nil {
		c.t.Fatal(err)
	}
	return len(es), last
}

const goodImport = `Number,Name,Department,Site,COS,Password,PIN,Email,Enabled
2001,Kari Nordmann,4100,Rådhuset,national,Fjord-Kaffe-77,4711,,ja
2002,Ola Nordmann,4100,,,,,,
2003,"Hansen, Per",,Rådhuset,international,Tr0ll-Fjord-9,90210,,nei
`

func TestImportGoodFile(t *testing.T) {
	c := withTenant(t)
	c.ok("dept", "add", "4100", "--tenant", "fjordvik", "--name", "Helse")
	c.ok("site", "add", "Rådhuset", "--tenant", "fjordvik")
	file := writeCSV(t, goodImport)

	out := c.ok("import", "extensions", file, "--tenant", "fjordvik")
	if !regexp.MustCompile(`imported 3 extensions in \d`).MatchString(out) {
		t.Errorf("import printed:\n%s", out)
	}
	exts := parseJSON[[]provisioning.ExtensionView](t, c.ok("ext", "list", "--tenant", "fjordvik", "-o", "json"))
	got := map[string]provisioning.ExtensionView{}
	for _, e := range exts {
		got[e.Number] = e
	}
	if e := got["2001"]; e.DisplayName != "Kari Nordmann" || e.Department != "4100" || e.Site != "Rådhuset" || e.COS != store.COSNational ||
		!e.Credentials || !e.VoicemailPIN || !e.Enabled {
		t.Errorf("2001 = %+v", e)
	}
	if e := got["2002"]; e.Credentials || e.VoicemailPIN || !e.Enabled || e.COS != provisioning.DefaultCOS {
		t.Errorf("2002 = %+v", e)
	}
	if e := got["2003"]; e.DisplayName != "Hansen, Per" || e.Enabled || e.COS != store.COSInternational {
		t.Errorf("2003 = %+v", e)
	}

	// The same file again: every number already exists, nothing changes.
	n, last := c.snapshot()
	errs := c.fail(exitUser, "import", "extensions", file, "--tenant", "fjordvik")
	for _, row := range []int{2, 3, 4} {
		if want := fmt.Sprintf("row %d, column number:", row); !strings.Contains(errs, want) {
			t.Errorf("second import: no %q in:\n%s", want, errs)
		}
	}
	if !strings.Contains(errs, "already exists") {
		t.Errorf("second import does not say the numbers exist:\n%s", errs)
	}
	if n2, last2 := c.snapshot(); n2 != n || last2 != last {
		t.Errorf("refused import changed the store: %d→%d extensions, change %d→%d", n, n2, last, last2)
	}
}

func TestImportReportsEveryBadRow(t *testing.T) {
	c := withTenant(t)
	c.ok("ext", "add", "2100", "--tenant", "fjordvik", "--name", "Existing")
	file := writeCSV(t, `number,name,cos
2001,Kari Nordmann,national
3001,Utanfor Rekkjevidd,national
2002,Ola Nordmann,vip
2003,Per Hansen,
2001,Kari Igjen,internal
`)
	n, last := c.snapshot()
	out, errs, code := c.run("import", "extensions", file, "--tenant", "fjordvik")
	if code != exitUser {
		t.Fatalf("exit %d, want 1\n%s%s", code, out, errs)
	}
	want := []string{"row 3, column number:", "row 4, column cos:", "row 6, column number:"}
	for _, w := range want {
		if !strings.Contains(errs, w) {
			t.Errorf("stderr lacks %q:\n%s", w, errs)
		}
	}
	if got := len(regexp.MustCompile(`(?m)^  row \d+`).FindAllString(errs, -1)); got != 3 {
		t.Errorf("%d rows reported, want exactly 3:\n%s", got, errs)
	}
	for _, w := range []string{"outside", "unknown class of service", "duplicates row 2", "fix:"} {
		if !strings.Contains(errs, w) {
			t.Errorf("stderr lacks the reason %q:\n%s", w, errs)
		}
	}
	if n2, last2 := c.snapshot(); n2 != n || last2 != last {
		t.Errorf("refused import changed the store: %d→%d extensions, change %d→%d", n, n2, last, last2)
	}
}

func TestImportFileShape(t *testing.T) {
	c := withTenant(t)
	for body, want := range map[string]string{
		"number,name,phone\n2001,Kari,123\n": "row 1, column phone: unknown column",
		"name\nKari\n":                       "row 1, column number: required column is missing",
		"number,name\n2001,Kari,extra\n":     "row 2: has 3 fields",
		"":                                   "row 1: the file is empty",
		"number,name,pin,password\n2001,Kari,1234,kort\n": "row 2, column pin:",
	} {
		errs := c.fail(exitUser, "import", "extensions", writeCSV(t, body), "--tenant", "fjordvik")
		if !strings.Contains(errs, want) {
			t.Errorf("import of %q: stderr lacks %q:\n%s", body, want, errs)
		}
	}
	// Norwegian Excel: semicolons and a byte-order mark.
	out := c.ok("import", "extensions", writeCSV(t, "\ufeffNumber;Name;Enabled\n2001;Kari Nordmann;Ja\n"), "--tenant", "fjordvik")
	if !strings.Contains(out, "imported 1 extensions") {
		t.Errorf("semicolon file:\n%s", out)
	}
}

func TestImportDryRun(t *testing.T) {
	c := withTenant(t)
	file := writeCSV(t, "number,name,department,department_name,site\n2001,Kari Nordmann,4100,Helse,Rådhuset\n")
	n, last := c.snapshot()
	out := c.ok("import", "extensions", file, "--tenant", "fjordvik", "--dry-run", "--create-missing")
	for _, w := range []string{"dry run", "would create department 4100", "would create site Rådhuset", "would import 1 extensions"} {
		if !strings.Contains(out, w) {
			t.Errorf("dry run output lacks %q:\n%s", w, out)
		}
	}
	if n2, last2 := c.snapshot(); n2 != n || last2 != last {
		t.Errorf("dry run changed the store: %d→%d extensions, change %d→%d", n, n2, last, last2)
	}
	// Without --create-missing, the unknown department and site are refused.
	errs := c.fail(exitUser, "import", "extensions", file, "--tenant", "fjordvik", "--dry-run")
	if !strings.Contains(errs, "row 2, column department:") || !strings.Contains(errs, "row 2, column site:") || !strings.Contains(errs, "--create-missing") {
		t.Errorf("dry run without --create-missing:\n%s", errs)
	}
}

func TestImportCreateMissing(t *testing.T) {
	c := withTenant(t)
	file := writeCSV(t, `number,name,department,department_name,site,email
2001,Kari Nordmann,4100,Helse og omsorg,Rådhuset,kari@fjordvik.no
2002,Ola Nordmann,4100,,Skulen,
2003,Per Hansen,4200,,,
`)
	res := parseJSON[provisioning.ImportResult](t, c.ok("import", "extensions", file, "--tenant", "fjordvik", "--create-missing", "-o", "json"))
	if len(res.Extensions) != 3 || strings.Join(res.CreatedDepartments, ",") != "4100,4200" || strings.Join(res.CreatedSites, ",") != "Rådhuset,Skulen" {
		t.Errorf("result = %+v", res)
	}
	d := parseJSON[store.Department](t, c.ok("dept", "show", "4100", "--tenant", "fjordvik", "-o", "json"))
	if d.Name != "Helse og omsorg" {
		t.Errorf("department 4100 = %+v", d)
	}
	if d := parseJSON[store.Department](t, c.ok("dept", "show", "4200", "--tenant", "fjordvik", "-o", "json")); d.Name != "4200" {
		t.Errorf("department 4200 without a name = %+v", d)
	}
	c.ok("site", "show", "Skulen", "--tenant", "fjordvik")
	p := parseJSON[provisioning.PersonView](t, c.ok("person", "show", "kari@fjordvik.no", "--tenant", "fjordvik", "-o", "json"))
	if p.GivenName != "Kari" || p.FamilyName != "Nordmann" {
		t.Errorf("person = %+v", p)
	}
	e := parseJSON[provisioning.ExtensionView](t, c.ok("ext", "show", "2001", "--tenant", "fjordvik", "-o", "json"))
	if e.Department != "4100" || e.Site != "Rådhuset" || e.Person != "kari@fjordvik.no" {
		t.Errorf("2001 = %+v", e)
	}
}

// TestImportLarge imports 900 rows that all carry passwords and PINs (the
// parallel hashing path) and logs the time; speed itself is measured in bench/.
func TestImportLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("hashes 900 PINs")
	}
	c := newCLI(t)
	c.ok("tenant", "add", "fjordvik", "--domain", "sip.fjordvik.no", "--ext-range", "20000-20999")
	var b strings.Builder
	b.WriteString("number,name,password,pin\n")
	for i := range 900 {
		fmt.Fprintf(&b, "%d,Tilsett %d,Fjord-Kaffe-%03dx,%d\n", 20000+i, i, i, 470100+i)
	}
	start := time.Now()
	out := c.ok("import", "extensions", writeCSV(t, b.String()), "--tenant", "fjordvik")
	if !strings.Contains(out, "imported 900 extensions in") {
		t.Errorf("import printed:\n%s", out[max(0, len(out)-300):])
	}
	t.Logf("900 rows in %s: %s", time.Since(start), out[strings.LastIndex(out[:len(out)-1], "\n")+1:])
	if n, _ := c.snapshot(); n != 900 {
		t.Errorf("%d extensions, want 900", n)
	}
}
