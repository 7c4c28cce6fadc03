package billing

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"
)

// base is a minimal valid tariff; the error cases below change one thing.
const base = `name: test
rates:
  national: {connect: "0.39", price: "0.19", per: minute}
  mobile: {price: "0.0049", per: second}
  shared-cost: {price: "0.25", per: minute}
  premium: {price: "1", per: minute}
  short: {price: "0.99", per: minute}
  international: {price: "2.49", per: minute}
`

func TestParseTariffErrors(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"comma decimal", strings.Replace(base, `"0.0049"`, `"0,49"`, 1),
			`tariff: rates.mobile.price "0,49": use a dot as the decimal mark, e.g. 0.49`},
		{"unquoted comma decimal", strings.Replace(base, `  mobile: {price: "0.0049", per: second}`, "  mobile:\n    price: 0,49\n    per: second", 1),
			`rates.mobile.price "0,49": use a dot as the decimal mark`},
		{"emergency priced", base + "  emergency: {price: \"0.10\", per: minute}\n",
			`tariff: rates.emergency: emergency calls are always free`},
		{"internal connect", base + "  internal: {connect: \"0.39\", price: \"0\"}\n", `rates.internal: internal calls are always free`},
		{"inbound priced", base + "  inbound: {price: \"0.01\", per: second}\n", `rates.inbound: inbound calls are always free`},
		{"missing class", strings.Replace(base, "  premium: {price: \"1\", per: minute}\n", "", 1),
			`rates.premium: missing; every chargeable class needs a rate`},
		{"unknown class", base + "  mobil: {price: \"1\", per: minute}\n", `rates.mobil: unknown class`},
		{"unknown field", strings.Replace(base, "connect:", "conect:", 1), `field conect not found`},
		{"bad per", strings.Replace(base, "per: second", "per: sekund", 1), `rates.mobile.per "sekund": write per: second or per: minute`},
		{"missing per", strings.Replace(base, ", per: second", "", 1), `rates.mobile.per: missing`},
		{"too many decimals", strings.Replace(base, `"0.0049"`, `"0.00049"`, 1), `rates.mobile.price "0.00049": at most 4 decimals`},
		{"no name", strings.Replace(base, "name: test", "name: ''", 1), `tariff: name: missing`},
		{"empty", "", "empty"},
		{"only a comment", "# nothing yet\n", "empty"},
		{"two documents", base + "---\nname: other\n", "more than one YAML document"},
		{"unknown band", strings.Replace(base, "per: second}", "per: second, bands: [{band: kveld, price: \"0.001\"}]}", 1),
			`rates.mobile.bands[0].band "kveld": no such band`},
		{"empty override", "bands: [{name: day, days: [mon], from: \"08:00\", to: \"17:00\"}]\n" +
			strings.Replace(base, "per: second}", "per: second, bands: [{band: day}]}", 1), `sets nothing`},
		{"bad day", "bands: [{name: day, days: [man], from: \"08:00\", to: \"17:00\"}]\n" + base, `bands[0].days: "man" is not a day`},
		{"bad time", "bands: [{name: day, days: [mon], from: \"8\", to: \"17:00\"}]\n" + base, `bands[0].from "8": write the time as HH:MM`},
		{"24:00 start", "bands: [{name: day, days: [mon], from: \"24:00\", to: \"17:00\"}]\n" + base, `24:00 is only allowed as the end`},
		{"empty band", "bands: [{name: day, days: [mon], from: \"08:00\", to: \"08:00\"}]\n" + base, `from and to are both 08:00`},
		{"dup band", "bands: [{name: d, days: [mon], from: \"08:00\", to: \"09:00\"}, {name: d, days: [tue], from: \"08:00\", to: \"09:00\"}]\n" + base, `defined twice`},
		{"zone +47", base + "zones: [{name: no, prefixes: [\"+47\"], price: \"1\", per: minute}]\n", `+47 numbers are rated by their Norwegian class`},
		{"zone +4", base + "zones: [{name: eu, prefixes: [\"+4\"], price: \"1\", per: minute}]\n", `would include Norway`},
		{"zone prefix format", base + "zones: [{name: eu, prefixes: [\"0046\"], price: \"1\", per: minute}]\n", `write "+" and the country code`},
		{"zone dup prefix", base + "zones: [{name: a, prefixes: [\"+46\"], price: \"1\", per: minute}, {name: b, prefixes: [\"+46\"], price: \"1\", per: minute}]\n", `also in zone "a"`},
		{"zone no prefixes", base + "zones: [{name: a, price: \"1\", per: minute}]\n", `zones[0] (a).prefixes: missing`},
		{"zone comma", base + "zones: [{name: eu, prefixes: [\"+46\"], price: \"0,29\", per: minute}]\n", `zones[0] (eu).price "0,29": use a dot`},
		{"null rate", base + "  freephone:\n", `rates.freephone: empty`},
		{"list for price", strings.Replace(base, `"0.0049"`, `[1]`, 1), `cannot unmarshal`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseTariff([]byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v\nwant it to contain %q", err, tc.want)
			}
		})
	}
}

func TestParseTariffDefaults(t *testing.T) {
	tr, err := ParseTariff([]byte(base))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)
	// Freephone is left out of base, so it defaults to free.
	if r, err := tr.Rate(call(1, "2001", "+4780012345", at, 600)); err != nil || r.PriceOre != 0 || r.Class != ClassFreephone {
		t.Errorf("freephone = %+v, %v", r, err)
	}
	// Zero rates for the always-free classes are accepted.
	if _, err := ParseTariff([]byte(base + "  emergency: {price: \"0\"}\n  internal: {connect: \"0.00\", price: \"0.0000\", per: minute}\n")); err != nil {
		t.Errorf("zero rates for free classes: %v", err)
	}
	// Unquoted numbers are read from their text, never via float.
	tr, err = ParseTariff([]byte(strings.Replace(base, `"0.0049"`, `0.0049`, 1)))
	if err != nil || tr.Rates[ClassMobile].Price != 49 {
		t.Errorf("unquoted price: %v, %+v", err, tr)
	}
}

// The canonical JSON reads back to the same bytes, and the YAML and JSON
// forms of one tariff are equal.
func TestTariffJSONRoundTrip(t *testing.T) {
	tr := loadTariff(t)
	j1, err := tr.JSON()
	if err != nil {
		t.Fatal(err)
	}
	tr2, err := ParseTariff(j1)
	if err != nil {
		t.Fatalf("parse canonical JSON: %v\n%s", err, j1)
	}
	j2, err := tr2.JSON()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(j1, j2) {
		t.Errorf("JSON not stable:\n%s\n---\n%s", j1, j2)
	}
	for _, want := range []string{`"price": "0.0049"`, `"connect": "0.39"`, `"days": [`, `"to": "24:00"`} {
		if !strings.Contains(string(j1), want) {
			t.Errorf("canonical JSON lacks %s", want)
		}
	}
	// Days and prefixes in any order give the same bytes.
	y, _ := os.ReadFile("testdata/tariff.yaml")
	shuffled := strings.Replace(string(y), "[mon, tue, wed, thu, fri]", "[fri, thu, wed, tue, mon]", 1)
	shuffled = strings.Replace(shuffled, `["+45", "+46", "+354", "+358"]`, `["+358", "+354", "+46", "+45"]`, 1)
	tr3, err := ParseTariff([]byte(shuffled))
	if err != nil {
		t.Fatal(err)
	}
	if j3, _ := tr3.JSON(); !bytes.Equal(j1, j3) {
		t.Errorf("order of days or prefixes changed the canonical form")
	}
}

func TestBandContains(t *testing.T) {
	oslo, err := time.LoadLocation("Europe/Oslo")
	if err != nil {
		t.Fatal(err)
	}
	night := Band{Name: "n", Days: []time.Weekday{time.Friday}, From: 22 * 60, To: 6 * 60}
	whole := Band{Name: "w", Days: []time.Weekday{time.Sunday}, From: 0, To: 24 * 60}
	at := func(d, h, m int) time.Time { return time.Date(2026, 11, d, h, m, 0, 0, oslo) }
	for _, tc := range []struct {
		b    Band
		t    time.Time
		want bool
	}{
		{night, at(6, 21, 59), false},
		{night, at(6, 22, 0), true},  // Friday 22:00
		{night, at(7, 5, 59), true},  // Saturday morning belongs to Friday
		{night, at(7, 6, 0), false},  // end is exclusive
		{night, at(7, 22, 0), false}, // Saturday starts no night
		{night, at(5, 23, 0), false}, // Thursday
		{whole, at(8, 0, 0), true},
		{whole, at(8, 23, 59), true},
		{whole, at(9, 0, 0), false},
	} {
		if got := tc.b.Contains(tc.t); got != tc.want {
			t.Errorf("%s.Contains(%s) = %v, want %v", tc.b.Name, tc.t.Format("Mon 15:04"), got, tc.want)
		}
	}
}
