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
