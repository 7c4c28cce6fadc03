package provisioning

import (
	"strings"
	"testing"
)

func TestParseImport(t *testing.T) {
	rows, errs := parseImport(strings.NewReader("\ufeffNUMBER;Name;Password;Enabled\n2001;\"Nordmann; Kari\"; pass word ;nei\n\n2002;Ola;;\n"))
	if len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
	if len(rows) != 2 {
		t.Fatalf("%d rows, want 2", len(rows))
	}
	r := rows[0]
	if r.line != 2 || r.number != "2001" || r.name != "Nordmann; Kari" || r.password != " pass word " || r.enabledRaw != "nei" {
		t.Errorf("row 1 = %+v", *r)
	}
	if rows[1].line != 4 {
		t.Errorf("second data row is on line %d, want 4 (blank line 3 skipped)", rows[1].line)
	}
}

func TestParseImportHeaderErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "row 1: the file is empty"},
		{"number,name,Telefon\n", "row 1, column Telefon: unknown column"},
		{"number,name,Number\n", "row 1, column Number: column given twice"},
		{"name,site\n", "row 1, column number: required column is missing"},
		{"number,name\n2001,Kari,x\n2002,Ola\n2003\n", "row 2: has 3 fields"},
		{"number,name\n2001,\"Kari\n", "row 2:"},
	}
	for _, tt := range tests {
		_, errs := parseImport(strings.NewReader(tt.in))
		var got []string
		for _, e := range errs {
			got = append(got, e.String())
		}
		if !strings.Contains(strings.Join(got, "\n"), tt.want) {
			t.Errorf("parseImport(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	// Every bad row is reported, not only the first.
	_, errs := parseImport(strings.NewReader("number,name\n2001,Kari,x\n2002,Ola\n2003\n"))
	if len(errs) != 2 || errs[0].Row != 2 || errs[1].Row != 4 {
		t.Errorf("errors = %v, want rows 2 and 4", errs)
	}
}

func TestImportErrorFormat(t *testing.T) {
	e := &ImportError{Rows: []RowError{{Row: 3, Column: "number", Reason: `"3001" is outside`}, {Row: 5, Reason: "has 3 fields"}}}
	msg := e.Error()
	for _, want := range []string{"\n  row 3, column number: \"3001\" is outside", "\n  row 5: has 3 fields", "fix:", "nothing was imported"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	if !IsUserError(e) {
		t.Error("an import refusal is not a user error")
	}
}
