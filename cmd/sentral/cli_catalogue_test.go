package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/sentralpbx/sentral/provisioning"
	"github.com/sentralpbx/sentral/store"
)

const catalogueCSV = `given_name,family_name,title,department_code,department_name,site,email,mobile,extension,did,visibility,notes
Kari,Ødegård,Rådgiver,1100,Sentraladministrasjonen,Rådhuset,kari.odegard@fjordvik.kommune.no,912 34 567,2001,55550101,,
Per,Åsen,Sjukepleiar,1200,Helse og omsorg,Fjordheimen,,48012345,2003,,intern,Nattvakt
Ola,Nordmann,Rektor,1400,Oppvekst,Skulen,ola.nordmann@fjordvik.kommune.no,,2010,,,
Ola,Nordmann,Rektor,1400,,Skulen,ola.nordmann@fjordvik.kommune.no,,2011,,,
Mari,Solberg,Konsulent,1200,,Rådhuset,mari.solberg@fjordvik.kommune.no,41234567,2020,,hemmelig,
,,Vaktrom,1100,,Rådhuset,,,2050,55550150,,
`

// summaryLine finds the "people  C  U  N" row of the summary table.
func summaryLine(t *testing.T, out, kind string) []string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^\s*` + kind + `\s+(\d+)\s+(\d+)\s+(\d+)\s*$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no %s line in:\n%s", kind, out)
	}
	return m[1:]
}

func TestImportCatalogueCommand(t *testing.T) {
	c := withTenant(t)
	file := writeCSV(t, catalogueCSV)

	// Dry run: reports, changes nothing.
	n, last := c.snapshot()
	out := c.ok("import", "catalogue", file, "--tenant", "fjordvik", "--dry-run")
	for _, w := range []string{"dry run: nothing was changed", "row 2: department 1100 would be created", "row 7: extension 2050 would be created", "would create 16 and update 0"} {
		if !strings.Contains(out, w) {
			t.Errorf("dry run output lacks %q:\n%s", w, out)
		}
	}
	if n2, last2 := c.snapshot(); n2 != n || last2 != last {
		t.Errorf("dry run changed the store: %d→%d extensions, change %d→%d", n, n2, last, last2)
	}

	out, errs, code := c.run("import", "catalogue", file, "--tenant", "fjordvik")
	if code != exitOK {
		t.Fatalf("import: exit %d\n%s", code, errs)
	}
	if got := summaryLine(t, out, "people"); strings.Join(got, " ") != "4 0 0" {
		t.Errorf("people created/updated/unchanged = %v\n%s", got, out)
	}
	if got := summaryLine(t, out, "extensions"); strings.Join(got, " ") != "6 0 0" {
		t.Errorf("extensions = %v\n%s", got, out)
	}
	if !strings.Contains(errs, "6 new extension(s) have no SIP password") || !strings.Contains(errs, "sentral ext passwd") {
		t.Errorf("no password note on stderr:\n%s", errs)
	}
	e := parseJSON[provisioning.ExtensionView](t, c.ok("ext", "show", "2003", "--tenant", "fjordvik", "-o", "json"))
	if e.DisplayName != "Per Åsen" || e.COS != store.DefaultCOS || e.Department != "1200" || e.Site != "Fjordheimen" {
		t.Errorf("2003 = %+v", e)
	}

	// Again: nothing changes, and the output says so.
	_, last = c.snapshot()
	out = c.ok("import", "catalogue", file, "--tenant", "fjordvik")
	if !strings.Contains(out, "nothing to change") || strings.Contains(out, "row ") {
		t.Errorf("second import printed:\n%s", out)
	}
	if _, last2 := c.snapshot(); last2 != last {
		t.Errorf("second import wrote: change %d→%d", last, last2)
	}

	// A corrected file on stdin, with Norwegian Excel's ';' and BOM, JSON out.
	semi := strings.ReplaceAll(strings.Replace(catalogueCSV, "Rådgiver", "Seniorrådgiver", 1), ",", ";")
	stdout, stderr, code := c.runIn("\ufeff"+semi, "import", "catalogue", "-", "--tenant", "fjordvik", "-o", "json")
	if code != exitOK {
		t.Fatalf("import from stdin: exit %d\n%s", code, stderr)
	}
	res := parseJSON[provisioning.CatalogueResult](t, stdout)
	if res.People != (provisioning.CatalogueCounts{Updated: 1, Unchanged: 3}) || res.Extensions.Updated != 0 || len(res.Changes) != 1 ||
		res.Changes[0].Key != "kari.odegard@fjordvik.kommune.no" || res.Changes[0].Fields[0] != "title" {
		t.Errorf("corrected import = %+v", res)
	}

	// CSV output lists the changes.
	out = c.ok("import", "catalogue", writeCSV(t, strings.Replace(catalogueCSV, "Rektor,1400,Oppvekst", "Rektor,1400,Oppvekst og kultur", 1)), "--tenant", "fjordvik", "-o", "csv")
	if !strings.Contains(out, "row,kind,key,action,fields\n") || !strings.Contains(out, "2,person,kari.odegard@fjordvik.kommune.no,updated,title\n") ||
		!strings.Contains(out, "4,department,1400,updated,name\n") {
		t.Errorf("csv output:\n%s", out)
	}
}

func TestImportCatalogueCommandRefusals(t *testing.T) {
	c := withTenant(t)
	n, last := c.snapshot()
	file := writeCSV(t, `given_name,family_name,department_code,email,mobile,extension,visibility
Kari,Ødegård,1100,kari@fjordvik.no,,2001,kanskje
Ola,Nordmann,,ola@fjordvik.no,55550000,2002,
Per,Hansen,,per@fjordvik.no,,3001,
,,,,,2050,
`)
	errs := c.fail(exitUser, "import", "catalogue", file, "--tenant", "fjordvik")
	for _, w := range []string{
		"import refused, nothing was imported: 5 problem(s) in 4 row(s)",
		"row 2, column visibility:", "row 2, column department_code:", "row 3, column mobile:", "row 4, column extension:", "row 5, column title:",
		"fix: correct these rows",
	} {
		if !strings.Contains(errs, w) {
			t.Errorf("stderr lacks %q:\n%s", w, errs)
		}
	}
	if n2, last2 := c.snapshot(); n2 != n || last2 != last {
		t.Errorf("refused import changed the store: %d→%d extensions, change %d→%d", n, n2, last, last2)
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"import", "catalogue", "--tenant", "fjordvik"}, "give exactly one FILE argument"},
		{[]string{"import", "catalogue", "/nonexistent.csv", "--tenant", "fjordvik"}, "fix: check the path"},
		{[]string{"import", "catalogue", file}, "--tenant: is required"},
		{[]string{"import", "catalogue", file, "--tenant", "bergvik"}, "no such tenant"},
		{[]string{"import", "catalogue", writeCSV(t, "navn,telefon\n"), "--tenant", "fjordvik"}, "row 1, column navn: unknown column"},
	} {
		if errs := c.fail(exitUser, tt.args...); !strings.Contains(errs, tt.want) {
			t.Errorf("sentral %s: stderr lacks %q:\n%s", strings.Join(tt.args, " "), tt.want, errs)
		}
	}
}
