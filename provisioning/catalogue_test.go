package provisioning

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sentralpbx/sentral/store"
)

// catalogueTenant gives the onBothStores tenant a DID block and a ring
// group on 2100, which the store (not the row checks) keeps extensions off.
func catalogueTenant(t *testing.T, ctx context.Context, svc *Service) {
	t.Helper()
	if _, err := svc.UpdateTenant(ctx, "fjordvik", TenantInput{DIDRanges: &[]string{"55550000-55550999"}}); err != nil {
		t.Fatalf("add DID range: %v", err)
	}
	if _, err := svc.AddGroup(ctx, "fjordvik", "2100", GroupInput{Name: ptr("Sentralbord")}); err != nil {
		t.Fatalf("add group: %v", err)
	}
}

func importFile(t *testing.T, ctx context.Context, svc *Service, name string, dry bool) (CatalogueResult, error) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return svc.ImportCatalogue(ctx, "fjordvik", f, CatalogueOptions{DryRun: dry})
}

func mustImport(t *testing.T, ctx context.Context, svc *Service, name string) CatalogueResult {
	t.Helper()
	res, err := importFile(t, ctx, svc, name, false)
	if err != nil {
		t.Fatalf("import %s: %v", name, err)
	}
	return res
}

func wantCounts(t *testing.T, what string, got, want CatalogueCounts) {
	t.Helper()
	if got != want {
		t.Errorf("%s: %+v, want %+v", what, got, want)
	}
}

func lastChange(t *testing.T, ctx context.Context, st store.Store) int64 {
	t.Helper()
	n, err := st.LastChange(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestImportCatalogue(t *testing.T) {
	onBothStores(t, func(t *testing.T, ctx context.Context, svc *Service, st store.Store) {
		catalogueTenant(t, ctx, svc)

		// A dry run does all the work and keeps none of it.
		before := lastChange(t, ctx, st)
		dry, err := importFile(t, ctx, svc, "catalogue.csv", true)
		if err != nil {
			t.Fatalf("dry run: %v", err)
		}
		if after := lastChange(t, ctx, st); after != before {
			t.Errorf("dry run changed the store: change %d -> %d", before, after)
		}
		if people, _ := svc.People(ctx, "fjordvik"); len(people) != 0 {
			t.Errorf("dry run left %d people", len(people))
		}

		res := mustImport(t, ctx, svc, "catalogue.csv")
		wantCounts(t, "departments", res.Departments, CatalogueCounts{Created: 5})
		wantCounts(t, "sites", res.Sites, CatalogueCounts{Created: 5})
		wantCounts(t, "people", res.People, CatalogueCounts{Created: 16})
		// 2001 and 2002 existed (onBothStores): they get their people.
		wantCounts(t, "extensions", res.Extensions, CatalogueCounts{Created: 17, Updated: 2})
		if dry.Departments != res.Departments || dry.People != res.People || dry.Extensions != res.Extensions || !dry.DryRun {
			t.Errorf("dry run predicted %+v, the import did %+v", dry, res)
		}
		if len(res.NoPassword) != 17 || slices.Contains(res.NoPassword, "2001") {
			t.Errorf("no password: %v, want the 17 new extensions", res.NoPassword)
		}

		people, err := svc.People(ctx, "fjordvik")
		if err != nil {
			t.Fatal(err)
		}
		byName := map[string]PersonView{}
		for _, p := range people {
			byName[p.GivenName+" "+p.FamilyName] = p
		}
		if p := byName["Kari Ødegård"]; p.Email != "kari.odegard@fjordvik.kommune.no" || p.Mobile != "+4791234567" || p.Title != "Rådgiver" ||
			p.Department != "1100" || p.Site != "Rådhuset" || p.Visibility != store.VisibilityListed {
			t.Errorf("Kari = %+v", p)
		}
		// Aasen and Åsen are two people, however a search folds them.
		if a, b := byName["Per Aasen"], byName["Per Åsen"]; a.ID == 0 || b.ID == 0 || a.ID == b.ID ||
			a.Visibility != store.VisibilityListed || b.Visibility != store.VisibilityInternal || b.Notes != "Nattvakt" {
			t.Errorf("Per Aasen = %+v, Per Åsen = %+v", a, b)
		}
		if p := byName["Mari Solberg"]; p.Visibility != store.VisibilitySecret || p.Mobile != "+4741234567" {
			t.Errorf("secret Mari = %+v", p)
		}
		if p := byName["Siri Kvåle"]; p.Mobile != "+46701234567" || p.Visibility != store.VisibilityInternal {
			t.Errorf("Siri (Swedish mobile, INTERNAL) = %+v", p)
		}
		if p := byName["Lars Ødegård-Lie"]; p.Mobile != "+4791122334" {
			t.Errorf("Lars (mobile as Excel writes +47...) = %+v", p)
		}
		if p := byName["Jon Are Hansen"]; p.Mobile != "+4790011223" {
			t.Errorf("Jon Are (0047) = %+v", p)
		}
		if p, ok := byName["Eirik Dahl"]; !ok || p.Site != "" || p.Department != "1100" {
			t.Errorf("Eirik (no extension) = %+v", p)
		}

		ext := func(n string) ExtensionView {
			t.Helper()
			v, err := svc.Extension(ctx, "fjordvik", n)
			if err != nil {
				t.Fatalf("extension %s: %v", n, err)
			}
			return v
		}
		if e := ext("2001"); e.DisplayName != "Kari Ødegård" || e.Person != "kari.odegard@fjordvik.kommune.no" || e.DID != "+4755550101" ||
			e.Department != "1100" || e.Site != "Rådhuset" {
			t.Errorf("2001 = %+v", e)
		}
		// Created extensions: enabled, national, voicemail, no password.
		if e := ext("2003"); e.DisplayName != "Per Åsen" || e.Person == "" || e.COS != store.DefaultCOS || !e.Enabled || !e.Voicemail || e.Credentials {
			t.Errorf("2003 = %+v", e)
		}
		if a, b := ext("2010"), ext("2011"); a.Person != "ola.nordmann@fjordvik.kommune.no" || b.Person != a.Person || b.DID != "" {
			t.Errorf("Ola's two extensions: %+v, %+v", a, b)
		}
		// Service lines: no person, named by title or department.
		if e := ext("2050"); e.DisplayName != "Vaktrom" || e.Person != "" || e.DID != "+4755550150" || e.Department != "1300" {
			t.Errorf("service 2050 = %+v", e)
		}
		if e := ext("2000"); e.DisplayName != "Sentraladministrasjonen" || e.Person != "" {
			t.Errorf("service 2000 = %+v", e)
		}
		if d, err := svc.Department(ctx, "fjordvik", "1500"); err != nil || d.Name != "Brann og redning" {
			t.Errorf("department 1500 = %+v, %v", d, err)
		}

		// The same file again changes nothing, not even versions.
		before = lastChange(t, ctx, st)
		again := mustImport(t, ctx, svc, "catalogue.csv")
		for what, c := range map[string]CatalogueCounts{"departments": again.Departments, "sites": again.Sites, "people": again.People, "extensions": again.Extensions} {
			if c.Created != 0 || c.Updated != 0 {
				t.Errorf("second import: %s %+v, want nothing created or updated", what, c)
			}
		}
		wantCounts(t, "second import, people", again.People, CatalogueCounts{Unchanged: 16})
		wantCounts(t, "second import, extensions", again.Extensions, CatalogueCounts{Unchanged: 19})
		if again.Changed() || len(again.NoPassword) != 0 {
			t.Errorf("second import changed %+v", again.Changes)
		}
		if after := lastChange(t, ctx, st); after != before {
			t.Errorf("second import wrote to the store: change %d -> %d", before, after)
		}

		// Norwegian Excel's export of the same catalogue (BOM, ';', CRLF)
		// is the same catalogue.
		if semi := mustImport(t, ctx, svc, "catalogue_semicolon.csv"); semi.Changed() || semi.People.Unchanged != 16 {
			t.Errorf("semicolon export of the same file: %+v", semi)
		}

		// A corrected file: Kari's title, Åsen's department.
		changed := mustImport(t, ctx, svc, "catalogue_changed.csv")
		wantCounts(t, "corrected file, people", changed.People, CatalogueCounts{Updated: 2, Unchanged: 14})
		wantCounts(t, "corrected file, extensions", changed.Extensions, CatalogueCounts{Updated: 1, Unchanged: 18})
		wantCounts(t, "corrected file, departments", changed.Departments, CatalogueCounts{Unchanged: 5})
		var got []string
		for _, c := range changed.Changes {
			got = append(got, c.Kind+" "+c.Key+" "+c.Action+" "+strings.Join(c.Fields, "+"))
		}
		want := []string{"person kari.odegard@fjordvik.kommune.no updated title", "person Per Åsen updated department", "extension 2003 updated department"}
		if !slices.Equal(got, want) {
			t.Errorf("changes = %q, want %q", got, want)
		}
		if p, _ := svc.Person(ctx, "fjordvik", "kari.odegard@fjordvik.kommune.no"); p.Title != "Seniorrådgiver" {
			t.Errorf("Kari after correction = %+v", p)
		}
		if e := ext("2003"); e.Department != "1300" {
			t.Errorf("2003 after correction = %+v", e)
		}
		if again := mustImport(t, ctx, svc, "catalogue_changed.csv"); again.Changed() {
			t.Errorf("corrected file twice: %+v", again.Changes)
		}
	})
}

func TestImportCatalogueBadRows(t *testing.T) {
	onBothStores(t, func(t *testing.T, ctx context.Context, svc *Service, st store.Store) {
		catalogueTenant(t, ctx, svc)
		for _, dry := range []bool{true, false} {
			before := lastChange(t, ctx, st)
			_, err := importFile(t, ctx, svc, "catalogue_bad.csv", dry)
			var ie *ImportError
			if !errors.As(err, &ie) || !IsUserError(err) {
				t.Fatalf("dry=%v: %v, want an import refusal", dry, err)
			}
			var got []string
			for _, r := range ie.Rows {
				got = append(got, r.String())
			}
			want := []string{
				`row 3, column visibility: "kanskje": unknown visibility`,
				`row 5, column mobile: "55 55 01 23": is a Norwegian landline number`,
				`row 7, column department_code: "1600": is not a department of tenant fjordvik, and no row gives its name`,
				`row 9, column extension: "2100": number 2100 is already used by group "Sentralbord"`, // refused by the store
			}
			if len(got) != len(want) {
				t.Fatalf("dry=%v: %d problems, want %d:\n%s", dry, len(got), len(want), strings.Join(got, "\n"))
			}
			for i := range want {
				if !strings.HasPrefix(got[i], want[i]) || !strings.Contains(got[i], "; fix: ") {
					t.Errorf("dry=%v: problem %d = %q, want %q...; fix: ...", dry, i, got[i], want[i])
				}
			}
			if after := lastChange(t, ctx, st); after != before {
				t.Errorf("dry=%v: refused import changed the store: change %d -> %d", dry, before, after)
			}
			if people, _ := svc.People(ctx, "fjordvik"); len(people) != 0 {
				t.Errorf("dry=%v: refused import left %d people", dry, len(people))
			}
		}
	})
}

func TestImportCatalogueKeys(t *testing.T) {
	onBothStores(t, func(t *testing.T, ctx context.Context, svc *Service, st store.Store) {
		catalogueTenant(t, ctx, svc)
		run := func(body string) (CatalogueResult, error) {
			return svc.ImportCatalogue(ctx, "fjordvik", strings.NewReader(body), CatalogueOptions{})
		}
		if _, err := run("given_name,family_name,extension,did\nKari,Nordmann,2001,55550001\nOla,Nordmann,2002,55550002\n"); err != nil {
			t.Fatal(err)
		}
		// Without e-mails, the person linked to the extension is the one
		// the row describes: a spelling correction renames them.
		res, err := run("given_name,family_name,extension,did\nKari,Nordman,2001,55550001\nOla,Nordmann,2002,55550002\n")
		if err != nil {
			t.Fatal(err)
		}
		wantCounts(t, "rename", res.People, CatalogueCounts{Updated: 1, Unchanged: 1})
		// The file gains e-mails: people without one adopt it by name.
		res, err = run("given_name,family_name,email,extension\nKari,Nordman,kari@fjordvik.no,2001\nOla,Nordmann,,2002\n")
		if err != nil {
			t.Fatal(err)
		}
		wantCounts(t, "adopt email", res.People, CatalogueCounts{Updated: 1, Unchanged: 1})
		if p, err := svc.Person(ctx, "fjordvik", "kari@fjordvik.no"); err != nil || p.FamilyName != "Nordman" {
			t.Errorf("Kari after adopting her e-mail: %+v, %v", p, err)
		}
		// Direct numbers swap between two extensions of the file, in
		// either order; the did column absent leaves them alone.
		res, err = run("given_name,family_name,extension,did\nKari,Nordman,2001,55550002\nOla,Nordmann,2002,55550001\n")
		if err != nil {
			t.Fatalf("swap DIDs: %v", err)
		}
		wantCounts(t, "swap", res.Extensions, CatalogueCounts{Updated: 2})
		if e, _ := svc.Extension(ctx, "fjordvik", "2001"); e.DID != "+4755550002" {
			t.Errorf("2001 after the swap: %+v", e.Extension)
		}
		if res, err := run("given_name,family_name,extension\nKari,Nordman,2001\nOla,Nordmann,2002\n"); err != nil || res.Changed() {
			t.Errorf("without the did column: %+v, %v", res, err)
		}
		// An empty visibility never makes a secret person public.
		if _, err := run("given_name,family_name,extension,visibility\nKari,Nordman,2001,hemmelig\n"); err != nil {
			t.Fatal(err)
		}
		if res, err := run("given_name,family_name,extension,visibility\nKari,Nordman,2001,\n"); err != nil || res.Changed() {
			t.Errorf("empty visibility: %+v, %v", res.Changes, err)
		}
		// Two people of one name without e-mail cannot be told apart.
		if _, err := svc.AddPerson(ctx, "fjordvik", PersonInput{Given: ptr("Per"), Family: ptr("Hansen")}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.AddPerson(ctx, "fjordvik", PersonInput{Given: ptr("Per"), Family: ptr("Hansen"), Email: ptr("per.h@fjordvik.no")}); err != nil {
			t.Fatal(err)
		}
		_, err = run("given_name,family_name,extension\nPer,Hansen,2003\n")
		if err == nil || !strings.Contains(err.Error(), "row 2, column email: 2 people of tenant fjordvik are called Per Hansen") {
			t.Errorf("ambiguous name: %v", err)
		}
	})
}

func TestImportCatalogueRowChecks(t *testing.T) {
	onBothStores(t, func(t *testing.T, ctx context.Context, svc *Service, st store.Store) {
		catalogueTenant(t, ctx, svc)
		tests := []struct{ body, want string }{
			{"given_name,family_name,telefon\nKari,Nordmann,2001\n", "row 1, column telefon: unknown column"},
			{"given_name,Given_Name\n", "row 1, column Given_Name: column given twice"},
			{"", "row 1: the file is empty"},
			{"given_name,family_name,extension\nKari,,2001\n", "row 2, column family_name: is required for a person"},
			{"given_name,family_name,title\n,,Vaktrom\n", "row 2: names neither a person nor an extension"},
			{"given_name,family_name,extension\n,,2050\n", "row 2, column title: is required for a service line"},
			{"extension,title,mobile\n2050,Vaktrom,91234567\n", "row 2, column mobile: \"91234567\": belongs to a person"},
			{"given_name,family_name,extension\nKari,Nordmann,3001\n", "row 2, column extension: \"3001\": is outside tenant fjordvik's extension ranges"},
			{"given_name,family_name,extension\nKari,Nordmann,2001\nOla,Nordmann,2001\n", "row 3, column extension: \"2001\": duplicates row 2"},
			{"given_name,family_name,extension,did\nKari,Nordmann,2001,55550001\nOla,Nordmann,2002,+4755550001\n", "row 3, column did: \"+4755550001\": duplicates row 2"},
			{"given_name,family_name,extension,did\nKari,Nordmann,2001,22334455\n", "row 2, column did: \"+4722334455\": is outside tenant fjordvik's DID ranges"},
			{"given_name,family_name,did\nKari,Nordmann,55550001\n", "row 2, column did: \"55550001\": a direct number rings an extension"},
			{"given_name,family_name,mobile\nKari,Nordmann,112\n", "row 2, column mobile: \"112\": is a emergency number"},
			{"given_name,family_name,email\nKari,Nordmann,kari@\n", "row 2, column email: \"kari@\": is not an e-mail address"},
			{"given_name,family_name,department_name\nKari,Nordmann,Helse\n", "row 2, column department_name: \"Helse\": is given without department_code"},
			{"given_name,family_name,department_code,department_name\nKari,Nordmann,41/00,Helse\n", "row 2, column department_code: \"41/00\": must be 1 to 32 letters"},
			{"given_name,family_name,department_code,department_name\nKari,Nordmann,4100,Helse\nOla,Nordmann,4100,Omsorg\n", "row 3, column department_name: \"Omsorg\": differs from row 2"},
			{"given_name,family_name,email,title,extension\nKari,Nordmann,kari@fjordvik.no,Rådgiver,2001\nKari,Nordmann,kari@fjordvik.no,Leiar,2002\n", "row 3, column title: \"Leiar\": differs from row 2"},
			{"given_name,family_name,extension\nKari,Nordmann,2001,x\n", "row 2: has 4 fields, the header has 3"},
			{"given_name,family_name,\nKari,Nordmann,x\n", "row 2, column #3: \"x\" is in a column without a name"},
		}
		for _, tt := range tests {
			_, err := svc.ImportCatalogue(ctx, "fjordvik", strings.NewReader(tt.body), CatalogueOptions{})
			if err == nil || !strings.Contains(err.Error(), tt.want) || !IsUserError(err) {
				t.Errorf("import of %q: %v\nwant %q", tt.body, err, tt.want)
			}
		}
		// Excel's trailing empty columns and ";;;" rows are not errors.
		res, err := svc.ImportCatalogue(ctx, "fjordvik", strings.NewReader("given_name;family_name;;\r\nKari;Nordmann;;\r\n;;;\r\n"), CatalogueOptions{})
		if err != nil || res.People.Created != 1 {
			t.Errorf("Excel padding: %+v, %v", res, err)
		}
	})
}

func TestReadCatalogueSeparators(t *testing.T) {
	for _, body := range []string{
		"\ufeffgiven_name;family_name;notes\nKari;Ødegård;\"Ring, ikkje send e-post\"\n",
		"Given_Name,FAMILY_NAME,Notes\r\nKari,Ødegård,\"Ring, ikkje send e-post\"\r\n",
	} {
		rows, has, errs := readCatalogue(strings.NewReader(body))
		if len(errs) != 0 || len(rows) != 1 || !has["notes"] || has["extension"] {
			t.Fatalf("%q: rows %v, has %v, errors %v", body, rows, has, errs)
		}
		if r := rows[0]; r.given != "Kari" || r.family != "Ødegård" || r.notes != "Ring, ikkje send e-post" || r.line != 2 {
			t.Errorf("%q: row = %+v", body, *r)
		}
	}
}

func TestNormalizeMobile(t *testing.T) {
	for in, want := range map[string]string{
		"912 34 567": "+4791234567", "+47 912 34 567": "+4791234567", "0047 41234567": "+4741234567",
		"4791234567": "+4791234567", "+46 70 123 45 67": "+46701234567", "": "",
	} {
		if got, err := NormalizeMobile("mobile", in); err != nil || got != want {
			t.Errorf("NormalizeMobile(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"55550000", "22 33 44 55", "112", "820 12 345", "9123", "mobil", "4755550000"} {
		if got, err := NormalizeMobile("mobile", in); err == nil {
			t.Errorf("NormalizeMobile(%q) = %q, want a refusal", in, got)
		}
	}
}

func TestParseCatalogueVisibility(t *testing.T) {
	for in, want := range map[string]store.Visibility{"listed": store.VisibilityListed, "Offentlig": store.VisibilityListed,
		"intern": store.VisibilityInternal, "INTERNAL": store.VisibilityInternal, " hemmelig ": store.VisibilitySecret, "secret": store.VisibilitySecret} {
		if got, err := ParseCatalogueVisibility("visibility", in); err != nil || got != want {
			t.Errorf("%q = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseCatalogueVisibility("visibility", "unlisted"); err == nil {
		t.Error("unlisted accepted")
	}
}

// Whatever the file holds, the catalogue reader returns rows or located
// errors, never panics, and never locates anything outside the file.
func FuzzReadCatalogue(f *testing.F) {
	for _, name := range []string{"catalogue.csv", "catalogue_semicolon.csv", "catalogue_bad.csv"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("given_name,family_name\nKari,\"unterminated\n"))
	f.Add([]byte("\ufeff"))
	f.Add([]byte("given_name;;\n;;x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, has, errs := readCatalogue(bytes.NewReader(data))
		lines := bytes.Count(data, []byte("\n")) + 1
		for _, e := range errs {
			if e.Row < 1 || e.Row > lines+1 || e.Reason == "" {
				t.Fatalf("error %+v outside a %d-line file", e, lines)
			}
		}
		if rows == nil && len(errs) == 0 {
			t.Fatal("no rows and no errors")
		}
		for _, r := range rows {
			if r.line < 2 || r.line > lines+1 {
				t.Fatalf("row at line %d of a %d-line file", r.line, lines)
			}
		}
		for c := range has {
			if !slices.Contains(CatalogueColumns, c) {
				t.Fatalf("unknown column %q accepted", c)
			}
		}
		// Every row's checks end in a verdict, not a panic.
		tn := store.Tenant{Name: "fjordvik", Ranges: []store.NumberRange{{Kind: store.RangeExtension, First: "2000", Last: "2999"},
			{Kind: store.RangeDID, First: "+4755550000", Last: "+4755550999"}}}
		for _, e := range checkCatalogueRows(rows, has, tn) {
			if e.Row < 2 || e.Reason == "" {
				t.Fatalf("row check error %+v", e)
			}
		}
	})
}

func TestReadCatalogueNotUTF8(t *testing.T) {
	// "Ødegård" as Excel's plain CSV (Windows-1252) writes it.
	_, _, errs := readCatalogue(strings.NewReader("given_name;family_name\nKari;\xd8deg\xe5rd\n"))
	if len(errs) != 1 || errs[0].String() != "row 2, column family_name: "+notUTF8 {
		t.Errorf("errors = %v", errs)
	}
	if _, _, errs := readCatalogue(strings.NewReader("given_name;\xd8\n")); len(errs) != 1 || errs[0].Row != 1 {
		t.Errorf("header errors = %v", errs)
	}
}
