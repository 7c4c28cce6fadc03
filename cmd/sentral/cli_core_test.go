package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"

	"github.com/sentralpbx/sentral/provisioning"
	"github.com/sentralpbx/sentral/sip/auth"
	"github.com/sentralpbx/sentral/store"
	"github.com/sentralpbx/sentral/store/backend"
)

// openStore opens the test's database directly, to check what the CLI
// wrote through a path other than the CLI itself.
func (c *cli) openStore() store.Store {
	c.t.Helper()
	st, err := backend.Open(context.Background(), c.db, backend.Options{})
	if err != nil {
		c.t.Fatalf("open store: %v", err)
	}
	c.t.Cleanup(func() { _ = st.Close() })
	return st
}

// refused runs a command that must be refused as a user error (exit 1) and
// checks stderr names want and carries a fix.
func (c *cli) refused(want string, args ...string) string {
	c.t.Helper()
	errs := c.fail(exitUser, args...)
	if !strings.Contains(errs, want) {
		c.t.Errorf("sentral %s: stderr does not name %q:\n%s", strings.Join(args, " "), want, errs)
	}
	if !strings.Contains(errs, "fix:") {
		c.t.Errorf("sentral %s: stderr has no fix:\n%s", strings.Join(args, " "), errs)
	}
	return errs
}

func parseCSV(t *testing.T, out string) []map[string]string {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatalf("parse csv %q: %v", out, err)
	}
	if len(recs) == 0 {
		t.Fatalf("csv output has no header: %q", out)
	}
	var rows []map[string]string
	for _, r := range recs[1:] {
		m := map[string]string{}
		for i, h := range recs[0] {
			m[h] = r[i]
		}
		rows = append(rows, m)
	}
	return rows
}

func parseJSON[T any](t *testing.T, out string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("parse json %q: %v", out, err)
	}
	return v
}

// withTenant gives a CLI with tenant fjordvik (2000-2999, sip.fjordvik.no).
func withTenant(t *testing.T) *cli {
	c := newCLI(t)
	c.ok("tenant", "add", "fjordvik", "--domain", "sip.fjordvik.no", "--ext-range", "2000-2999", "--did-range", "55550000-55550999")
	return c
}

func TestTenantCommands(t *testing.T) {
	c := newCLI(t)

	out := c.ok("tenant", "add", "fjordvik", "--domain", "SIP.Fjordvik.no", "--ext-range", "2000-2999", "--did-range", "55550000-55550999",
		"--display-name", "Fjordvik kommune", "--switchboard", "55550000")
	if !strings.Contains(out, "added tenant fjordvik") || !strings.Contains(out, "sip.fjordvik.no") {
		t.Errorf("tenant add (table) printed:\n%s", out)
	}
	js := parseJSON[store.Tenant](t, c.ok("tenant", "add", "strandby", "--domain", "sip.strandby.no", "--ext-range", "3000-3999", "-o", "json"))
	if js.Name != "strandby" || js.ID == 0 || store.FormatRanges(js.Ranges, store.RangeExtension) != "3000-3999" {
		t.Errorf("tenant add -o json = %+v", js)
	}
	rows := parseCSV(t, c.ok("tenant", "add", "bakkeby", "--domain", "sip.bakkeby.no", "--ext-range", "4000-4099", "--ext-range", "4500-4599", "-o", "csv"))
	if len(rows) != 1 || rows[0]["name"] != "bakkeby" || rows[0]["ext_ranges"] != "4000-4099,4500-4599" {
		t.Errorf("tenant add -o csv = %v", rows)
	}

	// list in all three formats
	table := c.ok("tenant", "list")
	if !strings.Contains(table, "NAME") || !strings.Contains(table, "fjordvik") || !strings.Contains(table, "strandby") {
		t.Errorf("tenant list:\n%s", table)
	}
	list := parseJSON[[]store.Tenant](t, c.ok("tenant", "list", "-o", "json"))
	if len(list) != 3 {
		t.Fatalf("tenant list -o json: %d tenants", len(list))
	}
	byName := map[string]store.Tenant{}
	for _, tn := range list {
		byName[tn.Name] = tn
	}
	if f := byName["fjordvik"]; f.Domain != "sip.fjordvik.no" || f.SwitchboardNumber != "+4755550000" || f.DisplayName != "Fjordvik kommune" {
		t.Errorf("fjordvik as listed: %+v", f)
	}
	csvRows := parseCSV(t, c.ok("tenant", "list", "--output", "csv"))
	if len(csvRows) != len(list) {
		t.Errorf("csv lists %d tenants, json %d", len(csvRows), len(list))
	}

	// show
	show := parseJSON[store.Tenant](t, c.ok("tenant", "show", "fjordvik", "-o", "json"))
	if store.FormatRanges(show.Ranges, store.RangeDID) != "+4755550000-+4755550999" {
		t.Errorf("DID ranges = %v", show.Ranges)
	}
	if out := c.ok("tenant", "show", "fjordvik"); !strings.Contains(out, "ext_ranges:") || !strings.Contains(out, "2000-2999") {
		t.Errorf("tenant show (table):\n%s", out)
	}
	c.refused("NAME", "tenant", "show", "nowhere")

	// update: only what is given changes; --ext-range replaces
	up := parseJSON[store.Tenant](t, c.ok("tenant", "update", "fjordvik", "--ext-range", "2000-2999", "--ext-range", "5000-5099", "-o", "json"))
	if store.FormatRanges(up.Ranges, store.RangeExtension) != "2000-2999,5000-5099" || up.Domain != "sip.fjordvik.no" || up.DisplayName != "Fjordvik kommune" {
		t.Errorf("after update: %+v", up)
	}
	if store.FormatRanges(up.Ranges, store.RangeDID) == "" {
		t.Errorf("update of --ext-range dropped the DID ranges: %+v", up.Ranges)
	}
	c.refused("--domain", "tenant", "update", "fjordvik", "--domain", "not a domain")

	// remove: refused while extensions exist, unless --force
	c.ok("ext", "add", "2001", "--tenant", "fjordvik", "--name", "Kari Nordmann")
	c.refused("--force", "tenant", "remove", "fjordvik")
	if out := c.ok("tenant", "remove", "fjordvik", "--force"); !strings.Contains(out, "removed tenant fjordvik") {
		t.Errorf("tenant remove printed:\n%s", out)
	}
	c.refused("NAME", "tenant", "show", "fjordvik")
	rm := parseCSV(t, c.ok("tenant", "remove", "strandby", "-o", "csv"))
	if len(rm) != 1 || rm[0]["name"] != "strandby" {
		t.Errorf("tenant remove -o csv = %v", rm)
	}
}

func TestTenantRefusals(t *testing.T) {
	c := withTenant(t)
	c.refused("--ext-range", "tenant", "add", "strandby", "--domain", "sip.strandby.no", "--ext-range", "2500-2599")
	c.refused("--ext-range", "tenant", "add", "strandby", "--domain", "sip.strandby.no", "--ext-range", "20000-20999") // prefix clash
	c.refused("--ext-range", "tenant", "add", "strandby", "--domain", "sip.strandby.no")
	c.refused("--ext-range", "tenant", "add", "strandby", "--domain", "sip.strandby.no", "--ext-range", "3000-399")
	c.refused("--domain", "tenant", "add", "strandby", "--ext-range", "3000-3999")
	c.refused("NAME", "tenant", "add", "Strand By", "--domain", "sip.strandby.no", "--ext-range", "3000-3999")
	c.refused("NAME", "tenant", "add", "fjordvik", "--domain", "sip.other.no", "--ext-range", "3000-3999")
	c.refused("--domain", "tenant", "add", "strandby", "--domain", "sip.fjordvik.no", "--ext-range", "3000-3999")
	c.refused("--switchboard", "tenant", "add", "strandby", "--domain", "sip.strandby.no", "--ext-range", "3000-3999", "--switchboard", "9999")
	if _, _, code := c.run("tenant", "list", "-o", "yaml"); code != exitUser {
		t.Errorf("--output yaml: exit %d, want 1", code)
	}
}

func TestTenantDomainChangeClearsCredentials(t *testing.T) {
	c := withTenant(t)
	c.runIn("Tr0ll-Fjord-1\n", "ext", "add", "2001", "--tenant", "fjordvik", "--name", "Kari", "--password-stdin")
	c.refused("--domain", "tenant", "update", "fjordvik", "--domain", "sip2.fjordvik.no")
	c.ok("tenant", "update", "fjordvik", "--domain", "sip2.fjordvik.no", "--force")
	e := parseJSON[provisioning.ExtensionView](t, c.ok("ext", "show", "2001", "--tenant", "fjordvik", "-o", "json"))
	if e.Credentials {
		t.Error("credentials hashed with the old realm survived the domain change")
	}
}

func TestExtCommands(t *testing.T) {
	c := withTenant(t)
	c.ok("dept", "add", "4100", "--tenant", "fjordvik", "--name", "Helse")
	c.ok("site", "add", "Rådhuset", "--tenant", "fjordvik")

	_, errs, code := c.run("ext", "add", "2001", "--tenant", "fjordvik", "--name", "Kari Nordmann", "--dept", "4100", "--site", "Rådhuset", "--pin", "4711")
	if code != exitOK {
		t.Fatalf("ext add: exit %d: %s", code, errs)
	}
	if !strings.Contains(errs, "cannot register") || !strings.Contains(errs, "ext passwd") {
		t.Errorf("ext add without password: no note about registering:\n%s", errs)
	}
	e := parseJSON[provisioning.ExtensionView](t, c.ok("ext", "show", "2001", "--tenant", "fjordvik", "-o", "json"))
	if e.DisplayName != "Kari Nordmann" || e.Department != "4100" || e.Site != "Rådhuset" || !e.VoicemailPIN || e.Credentials || !e.Enabled || e.COS != provisioning.DefaultCOS {
		t.Errorf("ext show = %+v", e)
	}
	if strings.Contains(c.ok("ext", "show", "2001", "--tenant", "fjordvik", "-o", "json"), "pbkdf2") {
		t.Error("ext show leaks the PIN hash")
	}

	// outside the range, duplicate, bad input
	errs = c.refused("NUMBER", "ext", "add", "3001", "--tenant", "fjordvik", "--name", "Ola")
	if !strings.Contains(errs, "--ext-range") {
		t.Errorf("out-of-range refusal does not say how to widen the range:\n%s", errs)
	}
	c.refused("NUMBER", "ext", "add", "2001", "--tenant", "fjordvik", "--name", "Ola")
	c.refused("--password", "ext", "add", "2002", "--tenant", "fjordvik", "--name", "Ola", "--password", "sommer2001")
	c.refused("--cos", "ext", "add", "2002", "--tenant", "fjordvik", "--name", "Ola", "--cos", "vip")
	c.refused("--dept", "ext", "add", "2002", "--tenant", "fjordvik", "--name", "Ola", "--dept", "9999")
	c.refused("--pin", "ext", "add", "2002", "--tenant", "fjordvik", "--name", "Ola", "--pin", "1234")
	c.refused("--name", "ext", "add", "2002", "--tenant", "fjordvik")
	c.refused("--tenant", "ext", "add", "2002", "--name", "Ola")
	c.refused("--tenant", "ext", "add", "2002", "--name", "Ola", "--tenant", "nowhere")

	// generated password is shown once and works
	out, errs, code := c.run("ext", "add", "2002", "--tenant", "fjordvik", "--name", "Ola Nordmann", "--generate-password", "--cos", "international")
	if code != exitOK || !strings.Contains(out, "generated password:") || strings.Contains(errs, "cannot register") {
		t.Errorf("ext add --generate-password: exit %d\n%s\n%s", code, out, errs)
	}

	// update changes only the flags given
	up := parseJSON[provisioning.ExtensionView](t, c.ok("ext", "update", "2001", "--tenant", "fjordvik", "--cos", "national", "--disabled", "-o", "json"))
	if up.COS != store.COSNational || up.Enabled || up.DisplayName != "Kari Nordmann" || up.Department != "4100" || !up.VoicemailPIN {
		t.Errorf("after update: %+v", up)
	}
	up = parseJSON[provisioning.ExtensionView](t, c.ok("ext", "update", "2001", "--tenant", "fjordvik", "--dept", "", "--disabled=false", "-o", "json"))
	if up.Department != "" || !up.Enabled || up.COS != store.COSNational {
		t.Errorf("after clearing --dept: %+v", up)
	}
	c.refused("NUMBER", "ext", "update", "2999", "--tenant", "fjordvik", "--name", "X")

	// list, with filters
	all := parseJSON[[]provisioning.ExtensionView](t, c.ok("ext", "list", "--tenant", "fjordvik", "-o", "json"))
	if len(all) != 2 {
		t.Errorf("ext list: %d extensions, want 2", len(all))
	}
	c.ok("ext", "update", "2002", "--tenant", "fjordvik", "--dept", "4100")
	rows := parseCSV(t, c.ok("ext", "list", "--tenant", "fjordvik", "--dept", "4100", "-o", "csv"))
	if len(rows) != 1 || rows[0]["number"] != "2002" {
		t.Errorf("ext list --dept 4100 = %v", rows)
	}
	if out := c.ok("ext", "list", "--tenant", "fjordvik"); !strings.Contains(out, "Kari Nordmann") || !strings.Contains(out, "NUMBER") {
		t.Errorf("ext list (table):\n%s", out)
	}
	c.refused("--site", "ext", "list", "--tenant", "fjordvik", "--site", "Nowhere")

	// remove
	if out := c.ok("ext", "remove", "2002", "--tenant", "fjordvik"); !strings.Contains(out, "removed extension 2002") {
		t.Errorf("ext remove printed:\n%s", out)
	}
	c.refused("NUMBER", "ext", "remove", "2002", "--tenant", "fjordvik")
}

func TestExtPasswd(t *testing.T) {
	c := withTenant(t)
	c.ok("ext", "add", "2001", "--tenant", "fjordvik", "--name", "Kari Nordmann")

	const pw = "Fjord-Kaffe-77"
	_, errs, code := c.runIn(pw+"\n", "ext", "passwd", "2001", "--tenant", "fjordvik", "--password-stdin")
	if code != exitOK {
		t.Fatalf("ext passwd: exit %d: %s", code, errs)
	}
	st := c.openStore()
	ctx := context.Background()
	tn, err := st.Tenants().Find(ctx, 0, "fjordvik")
	if err != nil {
		t.Fatal(err)
	}
	e, err := st.Extensions().Find(ctx, tn.ID, "2001")
	if err != nil {
		t.Fatal(err)
	}
	wantMD5, _ := auth.HA1("MD5", "2001", "sip.fjordvik.no", pw)
	wantSHA, _ := auth.HA1("SHA-256", "2001", "sip.fjordvik.no", pw)
	if e.HA1MD5 != wantMD5 || e.HA1SHA256 != wantSHA {
		t.Errorf("stored HA1 = %s / %s, want %s / %s", e.HA1MD5, e.HA1SHA256, wantMD5, wantSHA)
	}

	// A weak password is refused naming the policy, and changes nothing.
	errs = c.fail(exitUser, "ext", "passwd", "2001", "--tenant", "fjordvik", "--password-stdin")
	if !strings.Contains(errs, "--password-stdin") {
		t.Errorf("empty stdin refusal:\n%s", errs)
	}
	_, errs, code = c.runIn("kort\n", "ext", "passwd", "2001", "--tenant", "fjordvik", "--password-stdin")
	if code != exitUser || !strings.Contains(errs, "password policy") || !strings.Contains(errs, "fix:") {
		t.Errorf("weak password: exit %d\n%s", code, errs)
	}
	after, _ := st.Extensions().Find(ctx, tn.ID, "2001")
	if after.HA1MD5 != wantMD5 {
		t.Error("a refused password changed the stored HA1")
	}

	// --generate prints the password once; it is the one stored.
	out := c.ok("ext", "passwd", "2001", "--tenant", "fjordvik", "--generate")
	_, gen, ok := strings.Cut(out, "generated password: ")
	gen, _, _ = strings.Cut(gen, "\n")
	if !ok || gen == "" {
		t.Fatalf("ext passwd --generate printed:\n%s", out)
	}
	after, _ = st.Extensions().Find(ctx, tn.ID, "2001")
	if want, _ := auth.HA1("MD5", "2001", "sip.fjordvik.no", gen); after.HA1MD5 != want {
		t.Error("stored HA1 does not match the generated password")
	}

	// Without a terminal and without a flag there is nothing to read.
	c.fail(exitUser, "ext", "passwd", "2001", "--tenant", "fjordvik")
}

func TestTenantNumberPlan(t *testing.T) {
	c := newCLI(t)
	tn := parseJSON[store.Tenant](t, c.ok("tenant", "add", "fjordvik", "--domain", "sip.fjordvik.no", "--ext-range", "2000-2999",
		"--did-range", "55550000-55550999", "--outside-prefix", "0", "--unknown-did", "reject", "-o", "json"))
	if tn.OutsidePrefix != "0" || tn.UnknownDID != store.UnknownDIDReject {
		t.Errorf("tenant add: prefix %q, unknown DID %q", tn.OutsidePrefix, tn.UnknownDID)
	}
	rows := parseCSV(t, c.ok("tenant", "list", "-o", "csv"))
	if len(rows) != 1 || rows[0]["outside_prefix"] != "0" || rows[0]["unknown_did"] != "reject" {
		t.Errorf("tenant list -o csv = %v", rows)
	}
	if out := c.ok("tenant", "show", "fjordvik"); !strings.Contains(out, "outside_prefix:") || !strings.Contains(out, "unknown_did:") {
		t.Errorf("tenant show (table):\n%s", out)
	}
	// Without --unknown-did a tenant sends unknown DIDs to the switchboard.
	st := parseJSON[store.Tenant](t, c.ok("tenant", "add", "strandby", "--domain", "sip.strandby.no", "--ext-range", "3000-3999", "-o", "json"))
	if st.UnknownDID != store.UnknownDIDSwitchboard || st.OutsidePrefix != "" {
		t.Errorf("tenant add without the flags: prefix %q, unknown DID %q", st.OutsidePrefix, st.UnknownDID)
	}

	// Refusals name the flag and say what to do.
	errs := c.refused("--outside-prefix", "tenant", "update", "fjordvik", "--outside-prefix", "2")
	if !strings.Contains(errs, "2000-2999") {
		t.Errorf("prefix clash does not name the range:\n%s", errs)
	}
	c.refused("--outside-prefix", "tenant", "update", "fjordvik", "--outside-prefix", "0a")
	c.refused("--outside-prefix", "tenant", "update", "fjordvik", "--outside-prefix", "00000")
	c.refused("--outside-prefix", "tenant", "update", "strandby", "--outside-prefix", "2") // fjordvik's 2000-2999
	c.refused("--unknown-did", "tenant", "update", "fjordvik", "--unknown-did", "voicemail")
	errs = c.refused("--ext-range", "tenant", "update", "fjordvik", "--ext-range", "2000-2999", "--ext-range", "0100-0199")
	if !strings.Contains(errs, "outside-line prefix") {
		t.Errorf("range clash with the own prefix:\n%s", errs)
	}
	errs = c.refused("--ext-range", "tenant", "add", "bakkeby", "--domain", "sip.bakkeby.no", "--ext-range", "0400-0499")
	if !strings.Contains(errs, "fjordvik") || !strings.Contains(errs, "outside-line prefix") {
		t.Errorf("range clash with another tenant's prefix:\n%s", errs)
	}

	// The prefix can be changed and removed; only the flags given change.
	up := parseJSON[store.Tenant](t, c.ok("tenant", "update", "fjordvik", "--outside-prefix", "9", "-o", "json"))
	if up.OutsidePrefix != "9" || up.UnknownDID != store.UnknownDIDReject {
		t.Errorf("after --outside-prefix 9: %+v", up)
	}
	up = parseJSON[store.Tenant](t, c.ok("tenant", "update", "fjordvik", "--outside-prefix", "", "--unknown-did", "SWITCHBOARD", "-o", "json"))
	if up.OutsidePrefix != "" || up.UnknownDID != store.UnknownDIDSwitchboard {
		t.Errorf("after clearing the prefix: %+v", up)
	}
	c.ok("tenant", "add", "bakkeby", "--domain", "sip.bakkeby.no", "--ext-range", "0400-0499")
}

func TestExtDID(t *testing.T) {
	c := withTenant(t)
	e := parseJSON[provisioning.ExtensionView](t, c.ok("ext", "add", "2001", "--tenant", "fjordvik", "--name", "Kari", "--did", "55550001", "--hide-caller-id", "-o", "json"))
	if e.DID != "+4755550001" || !e.HideCallerID {
		t.Errorf("ext add --did --hide-caller-id = %+v", e)
	}
	rows := parseCSV(t, c.ok("ext", "list", "--tenant", "fjordvik", "-o", "csv"))
	if len(rows) != 1 || rows[0]["did"] != "+4755550001" || rows[0]["hide_caller_id"] != "true" {
		t.Errorf("ext list -o csv = %v", rows)
	}
	if out := c.ok("ext", "show", "2001", "--tenant", "fjordvik"); !strings.Contains(out, "+4755550001") {
		t.Errorf("ext show (table) lacks the DID:\n%s", out)
	}

	errs := c.refused("--did", "ext", "add", "2002", "--tenant", "fjordvik", "--name", "Ola", "--did", "+4755550001")
	if !strings.Contains(errs, "extension 2001") {
		t.Errorf("DID in use: refusal does not name the holder:\n%s", errs)
	}
	errs = c.refused("--did", "ext", "add", "2002", "--tenant", "fjordvik", "--name", "Ola", "--did", "+4722334455")
	if !strings.Contains(errs, "--did-range") {
		t.Errorf("DID outside the ranges: refusal does not say how to widen them:\n%s", errs)
	}
	c.refused("--did", "ext", "add", "2002", "--tenant", "fjordvik", "--name", "Ola", "--did", "55x")
	c.refused("--did", "group", "add", "2900", "--tenant", "fjordvik", "--name", "Sentralbord", "--did", "55550001")
	c.ok("tenant", "update", "fjordvik", "--switchboard", "55550000")
	c.refused("--did", "ext", "add", "2002", "--tenant", "fjordvik", "--name", "Ola", "--did", "55550000")
	c.refused("--switchboard", "tenant", "update", "fjordvik", "--switchboard", "55550001")
	c.refused("--did-range", "tenant", "update", "fjordvik", "--did-range", "55550500-55550999")

	// --did "" frees the number; the group can then take it.
	up := parseJSON[provisioning.ExtensionView](t, c.ok("ext", "update", "2001", "--tenant", "fjordvik", "--did", "", "--hide-caller-id=false", "-o", "json"))
	if up.DID != "" || up.HideCallerID || up.DisplayName != "Kari" {
		t.Errorf("after --did \"\": %+v", up)
	}
	g := parseJSON[provisioning.GroupView](t, c.ok("group", "add", "2900", "--tenant", "fjordvik", "--name", "Sentralbord", "--did", "55550001", "-o", "json"))
	if g.DID != "+4755550001" {
		t.Errorf("group add --did = %+v", g)
	}
	if rows := parseCSV(t, c.ok("group", "list", "--tenant", "fjordvik", "-o", "csv")); len(rows) != 1 || rows[0]["did"] != "+4755550001" {
		t.Errorf("group list -o csv = %v", rows)
	}
	c.refused("--did", "ext", "update", "2001", "--tenant", "fjordvik", "--did", "+4755550001")
	g = parseJSON[provisioning.GroupView](t, c.ok("group", "update", "2900", "--tenant", "fjordvik", "--did", "", "-o", "json"))
	if g.DID != "" {
		t.Errorf("group update --did \"\" = %+v", g)
	}
}

func TestImportDIDColumn(t *testing.T) {
	c := withTenant(t)
	c.ok("ext", "add", "2009", "--tenant", "fjordvik", "--name", "Eldre", "--did", "55550009")
	file := writeCSV(t, "number,name,did\n2001,Kari,55550001\n2002,Ola,\n2003,Per,+4755550003\n")
	res := parseJSON[provisioning.ImportResult](t, c.ok("import", "extensions", file, "--tenant", "fjordvik", "-o", "json"))
	if len(res.Extensions) != 3 || res.Extensions[0].DID != "+4755550001" || res.Extensions[1].DID != "" {
		t.Errorf("import result = %+v", res.Extensions)
	}
	e := parseJSON[provisioning.ExtensionView](t, c.ok("ext", "show", "2003", "--tenant", "fjordvik", "-o", "json"))
	if e.DID != "+4755550003" {
		t.Errorf("imported extension 2003 has DID %q", e.DID)
	}

	bad := writeCSV(t, "number,name,did\n2101,A,+4722334455\n2102,B,55550101\n2103,C,55550101\n2104,D,55550009\n2105,E,tull\n")
	exts, last := c.snapshot()
	errs := c.fail(exitUser, "import", "extensions", bad, "--tenant", "fjordvik")
	for _, want := range []string{
		"row 2, column did: \"+4722334455\": is outside tenant fjordvik's DID ranges",
		"row 4, column did: \"+4755550101\": duplicates row 3",
		"row 5, column did: \"+4755550009\": is already the direct number of extension 2009",
		"row 6, column did:",
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("import refusal lacks %q:\n%s", want, errs)
		}
	}
	if n, l := c.snapshot(); n != exts || l != last {
		t.Errorf("a refused import changed the store: %d extensions (was %d), last change %d (was %d)", n, exts, l, last)
	}
}
