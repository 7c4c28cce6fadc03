package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/sentralpbx/sentral/directory/billing"
)

// TestBillingCLI walks an admin through a month: set a tariff, price the
// calls, report and export them, change the tariff and re-rate. The one
// priced call is the seeded mobile call answered on Sunday 1 November
// 00:30 in Oslo for 60 s: weekend rate 0.19 + 60 × 0.0025 = 0.34 NOK.
func TestBillingCLI(t *testing.T) {
	c := newCLI(t)
	seedCDRs(t, c)

	var res billing.Result
	decode := func(out string) billing.Result {
		t.Helper()
		var r billing.Result
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		return r
	}
	if res = decode(c.ok("billing", "rate", "-o", "json")); res.Rated != 0 || res.Skipped != 2 {
		t.Fatalf("rate without tariffs: %+v, want both tenants skipped", res)
	}
	out := c.ok("tariff", "set", "--tenant", "fjordvik", "--file", "../../configs/tariff.example.yaml")
	if !strings.Contains(out, "revision") || !strings.Contains(out, "billing rerate") {
		t.Errorf("tariff set said:\n%s", out)
	}
	if res = decode(c.ok("billing", "rate", "-o", "json")); res.Rated != 4 || res.Ore != 34 || res.Skipped != 1 {
		t.Fatalf("rate: %+v, want fjordvik's 4 finished calls priced, 34 øre", res)
	}
	if res = decode(c.ok("billing", "rate", "-o", "json")); res.Scanned != 0 {
		t.Errorf("second rate scanned %d records, want none left", res.Scanned)
	}

	deps := c.ok("billing", "report", "--tenant", "fjordvik", "--month", "2026-11")
	if !strings.Contains(deps, "1300;IKT;1;60;34;0.34") {
		t.Errorf("department report:\n%s", deps)
	}
	export := c.ok("billing", "export", "--tenant", "fjordvik", "--month", "2026-11")
	if !strings.Contains(export, "2026-11;fjordvik;1300;IKT;1;60;34;0.34") {
		t.Errorf("finance export:\n%s", export)
	}
	if oct := c.ok("billing", "export", "--tenant", "fjordvik", "--month", "2026-10"); strings.Contains(oct, "1300") {
		t.Errorf("October export has November's Oslo call:\n%s", oct)
	}
	html := c.ok("billing", "report", "--tenant", "fjordvik", "--month", "2026-11", "--format", "html")
	if !strings.Contains(html, "<html") || !strings.Contains(html, "IKT") || !strings.Contains(html, "0,34") {
		t.Errorf("HTML report lacks the department or its amount:\n%.2000s", html)
	}

	// Masking by tenant setting.
	c.ok("tenant", "update", "fjordvik", "--report-mask-digits", "3")
	calls := c.ok("billing", "report", "--tenant", "fjordvik", "--month", "2026-11", "--section", "calls")
	if !strings.Contains(calls, "+4791234xxx") || strings.Contains(calls, "+4791234567") {
		t.Errorf("calls section not masked:\n%s", calls)
	}

	// A dearer weekend connection fee, then re-rating November.
	data, err := os.ReadFile("../../configs/tariff.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dearer := strings.Replace(string(data), `connect: "0.19"`, `connect: "0.29"`, 1)
	if _, errs, code := c.runIn(dearer, "tariff", "set", "--tenant", "fjordvik", "--file", "-"); code != exitOK {
		t.Fatalf("tariff set from stdin: %d %s", code, errs)
	}
	var revs []tariffRevision
	if err := json.Unmarshal([]byte(c.ok("tariff", "list", "--tenant", "fjordvik", "-o", "json")), &revs); err != nil || len(revs) != 2 || !revs[0].Current {
		t.Fatalf("tariff list: %+v, %v", revs, err)
	}
	if !strings.Contains(c.ok("tariff", "show", "--tenant", "fjordvik"), `"0.29"`) {
		t.Error("tariff show does not show the current revision")
	}
	if res = decode(c.ok("billing", "rerate", "--tenant", "fjordvik", "--from", "2026-11-01", "--to", "2026-12-01", "-o", "json")); res.Ore != 44 {
		t.Errorf("rerate: %+v, want 44 øre", res)
	}
	if !strings.Contains(c.ok("billing", "export", "--tenant", "fjordvik", "--month", "2026-11"), ";44;0.44") {
		t.Error("export after rerate does not show the new price")
	}

	// Errors name the flag and the fix.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"billing", "report", "--tenant", "fjordvik", "--month", "11-2026"}, "--month"},
		{[]string{"billing", "report", "--tenant", "fjordvik", "--month", "2026-11", "--format", "pdf"}, "--format"},
		{[]string{"billing", "report", "--month", "2026-11"}, "--tenant"},
		{[]string{"tariff", "set", "--tenant", "fjordvik"}, "--file"},
		{[]string{"billing", "rerate", "--tenant", "fjordvik", "--from", "2026-12-01", "--to", "2026-11-01"}, "--to"},
		{[]string{"tenant", "update", "fjordvik", "--cdr-retention-days", "-5"}, "--cdr-retention-days"},
	} {
		_, errs, code := c.run(tc.args...)
		if code == exitOK || !strings.Contains(errs, tc.want) {
			t.Errorf("sentral %s: exit %d, stderr %q; want a failure naming %s", strings.Join(tc.args, " "), code, errs, tc.want)
		}
	}
	_, errs, code := c.runIn("name: x\nrates:\n  mobile: {price: \"0,49\"}\n", "tariff", "set", "--tenant", "fjordvik", "--file", "-")
	if code == exitOK || !strings.Contains(errs, "0,49") {
		t.Errorf("bad tariff: exit %d, %s", code, errs)
	}
}

// TestTenantPhonebookPassword: the phone-book password is read from stdin
// and stored hashed; too short ones are refused.
func TestTenantPhonebookPassword(t *testing.T) {
	c := newCLI(t)
	c.ok("tenant", "add", "fjordvik", "--domain", "fjordvik.test", "--ext-range", "2000-2999")
	if _, errs, code := c.runIn("kort\n", "tenant", "update", "fjordvik", "--phonebook-password"); code == exitOK || !strings.Contains(errs, "--phonebook-password") {
		t.Errorf("short password: exit %d, %s", code, errs)
	}
	if _, errs, code := c.runIn("katalog-fjordvik-2026\n", "tenant", "update", "fjordvik", "--phonebook-password"); code != exitOK {
		t.Fatalf("set password: exit %d, %s", code, errs)
	}
	out := c.ok("tenant", "show", "fjordvik", "-o", "json")
	if strings.Contains(out, "katalog") || strings.Contains(out, "pbkdf2") {
		t.Errorf("tenant show leaks the phone-book password:\n%s", out)
	}
	if !strings.Contains(c.ok("tenant", "show", "fjordvik"), "true") {
		t.Error("tenant show does not say a phone-book password is set")
	}
}
