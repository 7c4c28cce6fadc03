package main

import (
	"strings"
	"testing"

	"github.com/sentralpbx/sentral/provisioning"
	"github.com/sentralpbx/sentral/store"
)

// crudCase drives one inventory noun through add, list, show, update and
// remove, plus one refusal.
type crudCase struct {
	noun      []string // command path: "site" or "dect gateway"
	key       string   // as typed on add
	shownKey  string   // as the CLI prints it (normalised)
	add       []string
	update    []string
	updated   string   // text the show after update must contain
	refuse    []string // a full command that must be refused
	refuseFor string   // the field the refusal names
}

func TestInventoryCommands(t *testing.T) {
	c := withTenant(t)
	c.ok("ext", "add", "2001", "--tenant", "fjordvik", "--name", "Kari Nordmann")
	c.ok("ext", "add", "2002", "--tenant", "fjordvik", "--name", "Ola Nordmann")
	c.ok("site", "add", "Sjukeheimen", "--tenant", "fjordvik")
	c.ok("dect", "gateway", "add", "dect-sjukeheim", "--tenant", "fjordvik", "--model", "ascom", "--site", "Sjukeheimen")

	cases := []crudCase{
		{noun: []string{"site"}, key: "Rådhuset", shownKey: "Rådhuset",
			add: []string{"--address", "Storgata 1", "--did", "55550100"}, update: []string{"--address", "Storgata 2"}, updated: "Storgata 2",
			refuse: []string{"site", "add", "Skulen", "--did", "12ab"}, refuseFor: "--did"},
		{noun: []string{"dept"}, key: "4100", shownKey: "4100",
			add: []string{"--name", "Helse"}, update: []string{"--name", "Helse og omsorg"}, updated: "Helse og omsorg",
			refuse: []string{"dept", "add", "4200"}, refuseFor: "--name"},
		{noun: []string{"person"}, key: "", shownKey: "kari.nordmann@fjordvik.no",
			add:    []string{"--given", "Kari", "--family", "Nordmann", "--email", "Kari.Nordmann@fjordvik.no", "--site", "Sjukeheimen", "--title", "Sjukepleiar"},
			update: []string{"--mobile", "91234567", "--visibility", "listed"}, updated: "+4791234567",
			refuse: []string{"person", "add", "--given", "Ola", "--visibility", "public"}, refuseFor: "--visibility"},
		{noun: []string{"device"}, key: "00:15:65:AA:BB:CC", shownKey: "001565aabbcc",
			add: []string{"--model", "yealink-t54w", "--line", "1=2001", "--line", "2=2002"}, update: []string{"--line", "1=2002"}, updated: "1=2002",
			refuse: []string{"device", "add", "00:15:65:AA:BB:CD", "--model", "yealink-t54w", "--line", "1=2999"}, refuseFor: "--line"},
		{noun: []string{"dect", "gateway"}, key: "dect-radhus", shownKey: "dect-radhus",
			add: []string{"--model", "ascom-ipbs", "--address", "10.0.0.5", "--site", "Sjukeheimen"}, update: []string{"--mode", "static"}, updated: "static",
			refuse: []string{"dect", "gateway", "add", "dect-x", "--mode", "cordless"}, refuseFor: "--mode"},
		{noun: []string{"dect", "handset"}, key: "0077a1b2c3", shownKey: "0077A1B2C3",
			add: []string{"--gateway", "dect-sjukeheim", "--ext", "2001"}, update: []string{"--ext", "2002"}, updated: "2002",
			refuse: []string{"dect", "handset", "add", "0077A1B2C4", "--gateway", "nowhere", "--ext", "2001"}, refuseFor: "--gateway"},
		{noun: []string{"trunk"}, key: "telenor", shownKey: "telenor",
			add:    []string{"--mode", "register", "--host", "sip.operator.no", "--username", "4755550000", "--password", "op-secret"},
			update: []string{"--priority", "5", "--transport", "tls"}, updated: "5061",
			refuse: []string{"trunk", "add", "ice", "--host", "sip.ice.no", "--mode", "register"}, refuseFor: "--username"},
		{noun: []string{"group"}, key: "2900", shownKey: "2900",
			add: []string{"--name", "Sentralbord", "--strategy", "hunt", "--member", "2002", "--member", "2001"}, update: []string{"--ring-seconds", "45"}, updated: "45",
			refuse: []string{"group", "add", "3900", "--name", "Utanfor"}, refuseFor: "NUMBER"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.noun, "_"), func(t *testing.T) {
			c.t = t
			defer func() { c.t = nil }()
			cmd := func(verb string, rest ...string) []string {
				args := append(append([]string{}, tc.noun...), verb)
				return append(append(args, rest...), "--tenant", "fjordvik")
			}
			addArgs := tc.add
			if tc.key != "" {
				addArgs = append([]string{tc.key}, addArgs...)
			}
			out := c.ok(cmd("add", addArgs...)...)
			if !strings.Contains(out, "added") || !strings.Contains(out, tc.shownKey) {
				t.Errorf("add printed:\n%s", out)
			}
			rows := parseCSV(t, c.ok(cmd("list", "-o", "csv")...))
			found := false
			for _, r := range rows {
				for _, v := range r {
					found = found || v == tc.shownKey
				}
			}
			if !found {
				t.Errorf("list -o csv does not show %s: %v", tc.shownKey, rows)
			}
			js := parseJSON[map[string]any](t, c.ok(cmd("show", tc.shownKey, "-o", "json")...))
			if js["id"] == nil {
				t.Errorf("show -o json has no id: %v", js)
			}
			c.ok(cmd("update", append([]string{tc.shownKey}, tc.update...)...)...)
			if show := c.ok(cmd("show", tc.shownKey)...); !strings.Contains(show, tc.updated) {
				t.Errorf("after update, show lacks %q:\n%s", tc.updated, show)
			}
			c.refused(tc.refuseFor, append(tc.refuse, "--tenant", "fjordvik")...)
		})
	}
	c.t = t

	// Group members keep their order; the device's lines name extensions.
	g := parseJSON[provisioning.GroupView](t, c.ok("group", "show", "2900", "--tenant", "fjordvik", "-o", "json"))
	if strings.Join(g.MemberNumbers, ",") != "2002,2001" || g.Strategy != store.GroupHunt {
		t.Errorf("group = %+v", g)
	}
	// An extension still on a phone, a handset or in a group is not removed silently.
	c.refused("NUMBER", "ext", "remove", "2002", "--tenant", "fjordvik")
	// The trunk password never appears in output.
	if out := c.ok("trunk", "show", "telenor", "--tenant", "fjordvik", "-o", "json"); strings.Contains(out, "op-secret") {
		t.Errorf("trunk show leaks the password:\n%s", out)
	}

	// remove everything, in dependency order
	for _, rm := range [][]string{
		{"group", "remove", "2900"}, {"dect", "handset", "remove", "0077-A1B2-C3"}, {"dect", "gateway", "remove", "dect-radhus"},
		{"device", "remove", "00-15-65-aa-bb-cc"}, {"person", "remove", "kari.nordmann@fjordvik.no"}, {"dept", "remove", "4100"},
		{"site", "remove", "Rådhuset"}, {"trunk", "remove", "telenor"},
	} {
		if out := c.ok(append(rm, "--tenant", "fjordvik")...); !strings.Contains(out, "removed") {
			t.Errorf("sentral %s printed:\n%s", strings.Join(rm, " "), out)
		}
		show := append(append([]string{}, rm...), "--tenant", "fjordvik")
		show[len(rm)-2] = "show"
		c.fail(exitUser, show...)
	}
	// A site still in use is refused.
	c.refused("NAME", "site", "remove", "Sjukeheimen", "--tenant", "fjordvik")
}

func TestTrunkRoutesAndPeers(t *testing.T) {
	c := withTenant(t)
	errs := c.refused("--peer", "trunk", "add", "sbc", "--tenant", "fjordvik", "--mode", "peer", "--host", "sbc.operator.no")
	if !strings.Contains(errs, "--peer 192.0.2.10") {
		t.Errorf("peer trunk without addresses: no example in the fix:\n%s", errs)
	}
	c.refused("--peer", "trunk", "add", "sbc", "--tenant", "fjordvik", "--mode", "peer", "--host", "sbc.operator.no", "--peer", "sbc.operator.no")
	c.refused("--peer", "trunk", "add", "sbc", "--tenant", "fjordvik", "--mode", "peer", "--host", "sbc.operator.no", "--peer", "198.51.100.7/24")
	c.refused("--peer", "trunk", "add", "sbc", "--tenant", "fjordvik", "--mode", "peer", "--host", "sbc.operator.no", "--peer", "192.0.2.10", "--peer", "192.0.2.10")
	c.refused("--route", "trunk", "add", "sbc", "--tenant", "fjordvik", "--mode", "peer", "--host", "sbc.operator.no", "--peer", "192.0.2.10", "--route", "47")
	c.refused("--route", "trunk", "add", "sbc", "--tenant", "fjordvik", "--mode", "peer", "--host", "sbc.operator.no", "--peer", "192.0.2.10", "--route", "+4712345678901234")

	tr := parseJSON[store.Trunk](t, c.ok("trunk", "add", "sbc", "--tenant", "fjordvik", "--mode", "peer", "--host", "sbc.operator.no",
		"--route", "+47", "--route", "0046,+", "--emergency", "--peer", "192.0.2.10", "--peer", "198.51.100.0/24", "--peer", "2001:DB8::1", "-o", "json"))
	if strings.Join(tr.Routes, " ") != "+47 +46 +" || !tr.Emergency || strings.Join(tr.PeerAddresses, " ") != "192.0.2.10 198.51.100.0/24 2001:db8::1" {
		t.Errorf("trunk add = routes %v, emergency %v, peers %v", tr.Routes, tr.Emergency, tr.PeerAddresses)
	}
	rows := parseCSV(t, c.ok("trunk", "list", "--tenant", "fjordvik", "-o", "csv"))
	if len(rows) != 1 || rows[0]["routes"] != "+47 +46 +" || rows[0]["emergency"] != "true" || rows[0]["peers"] != "192.0.2.10 198.51.100.0/24 2001:db8::1" {
		t.Errorf("trunk list -o csv = %v", rows)
	}

	// Updates replace the lists given and keep the rest; no routes is
	// inbound only, and says so.
	out, errs, code := c.run("trunk", "update", "sbc", "--tenant", "fjordvik", "--route", "", "--emergency=false", "-o", "json")
	if code != exitOK || !strings.Contains(errs, "inbound only") {
		t.Fatalf("trunk update --route \"\": exit %d\n%s", code, errs)
	}
	tr = parseJSON[store.Trunk](t, out)
	if len(tr.Routes) != 0 || tr.Emergency || len(tr.PeerAddresses) != 3 {
		t.Errorf("after --route \"\": %+v", tr)
	}
	c.refused("--peer", "trunk", "update", "sbc", "--tenant", "fjordvik", "--peer", "")
	// A register trunk needs no peers.
	c.runIn("op-secret\n", "trunk", "add", "centrex", "--tenant", "fjordvik", "--host", "sip.operator.no", "--username", "4755550000", "--password-stdin", "--route", "+")
	if got := parseJSON[store.Trunk](t, c.ok("trunk", "show", "centrex", "--tenant", "fjordvik", "-o", "json")); len(got.PeerAddresses) != 0 || strings.Join(got.Routes, ",") != "+" {
		t.Errorf("register trunk = %+v", got)
	}
}

func TestDeviceCredentials(t *testing.T) {
	c := withTenant(t)
	c.ok("ext", "add", "2001", "--tenant", "fjordvik", "--name", "Kari")
	d := parseJSON[provisioning.DeviceView](t, c.ok("device", "add", "00:15:65:AA:BB:CC", "--tenant", "fjordvik", "--model", "yealink-t54w", "--line", "1=2001", "-o", "json"))
	if d.AuthUser != "ph001565aabbcc" {
		t.Errorf("device add: auth_user %q, want ph001565aabbcc", d.AuthUser)
	}
	sec := parseJSON[provisioning.DeviceSecretView](t, c.ok("device", "secret", "00-15-65-aa-bb-cc", "--tenant", "fjordvik", "-o", "json"))
	if sec.AuthUser != "ph001565aabbcc" || len(sec.Secret) != store.DeviceSecretLength || !store.ValidSecret(sec.Secret) || sec.Rotated {
		t.Fatalf("device secret = %+v", sec)
	}
	// Nothing else ever prints the secret.
	for _, args := range [][]string{
		{"device", "show", "001565aabbcc"}, {"device", "show", "001565aabbcc", "-o", "json"}, {"device", "show", "001565aabbcc", "-o", "csv"},
		{"device", "list"}, {"device", "list", "-o", "json"}, {"device", "list", "-o", "csv"},
		{"device", "update", "001565aabbcc", "--description", "Resepsjonen", "-o", "json"},
	} {
		if out := c.ok(append(args, "--tenant", "fjordvik")...); strings.Contains(out, sec.Secret) {
			t.Errorf("sentral %s prints the device secret:\n%s", strings.Join(args, " "), out)
		}
	}
	if out := c.ok("device", "secret", "001565aabbcc", "--tenant", "fjordvik"); !strings.Contains(out, sec.Secret) || !strings.Contains(out, "auth_user:") {
		t.Errorf("device secret (table):\n%s", out)
	}
	// The update above kept the secret; --rotate replaces it, once per call.
	out, errs, code := c.run("device", "secret", "001565aabbcc", "--tenant", "fjordvik", "--rotate", "-o", "csv")
	rows := parseCSV(t, out)
	if code != exitOK || len(rows) != 1 || rows[0]["secret"] == sec.Secret || rows[0]["rotated"] != "true" || !strings.Contains(errs, "new configuration") {
		t.Fatalf("device secret --rotate: exit %d, %v\n%s", code, rows, errs)
	}
	if again := parseJSON[provisioning.DeviceSecretView](t, c.ok("device", "secret", "001565aabbcc", "--tenant", "fjordvik", "-o", "json")); again.Secret != rows[0]["secret"] {
		t.Errorf("secret after rotation %q, rotation printed %q", again.Secret, rows[0]["secret"])
	}

	// Usernames: chosen, unique across tenants, restored by "".
	d = parseJSON[provisioning.DeviceView](t, c.ok("device", "update", "001565aabbcc", "--tenant", "fjordvik", "--auth-user", "resepsjon-1", "-o", "json"))
	if d.AuthUser != "resepsjon-1" {
		t.Errorf("device update --auth-user = %q", d.AuthUser)
	}
	c.refused("--auth-user", "device", "add", "001565aabbcd", "--tenant", "fjordvik", "--model", "yealink-t54w", "--auth-user", "2001")
	c.ok("tenant", "add", "strandby", "--domain", "sip.strandby.no", "--ext-range", "3000-3999")
	errs = c.refused("--auth-user", "device", "add", "001565aabbcd", "--tenant", "strandby", "--model", "yealink-t54w", "--auth-user", "resepsjon-1")
	if !strings.Contains(errs, "001565aabbcc") {
		t.Errorf("username in use: refusal does not name the device:\n%s", errs)
	}
	d = parseJSON[provisioning.DeviceView](t, c.ok("device", "update", "001565aabbcc", "--tenant", "fjordvik", "--auth-user", "", "-o", "json"))
	if d.AuthUser != "ph001565aabbcc" {
		t.Errorf("device update --auth-user \"\" = %q", d.AuthUser)
	}
	c.refused("MAC", "device", "secret", "001565aabbcc", "--tenant", "strandby")
	c.refused("MAC", "device", "secret", "0015", "--tenant", "fjordvik")
}
