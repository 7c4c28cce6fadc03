package billing

import (
	"bytes"
	"encoding/csv"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/sentralpbx/sentral/store"
)

// rated rates every record with the test tariff, as the rater would.
func rated(t testing.TB, cdrs []store.CDR) []store.CDR {
	tr := loadTariff(t)
	for i := range cdrs {
		r, err := tr.Rate(cdrs[i])
		if err != nil {
			continue // stays unrated, like the rater leaves it
		}
		cdrs[i].PriceOre = ptr(r.PriceOre)
		cdrs[i].TariffID = ptr(int64(7))
	}
	return cdrs
}

func sampleCDRs(t testing.TB) []store.CDR {
	day := time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)
	withDept := func(c store.CDR, code string) store.CDR { c.DepartmentCode = code; return c }
	in := call(10, "+4799999999", "2001", day, 300)
	in.Direction = store.DirectionInbound
	internal := call(11, "2001", "2002", day, 300)
	internal.Direction = store.DirectionInternal
	emerg := call(12, "2003", "+47112", day, 120)
	emerg.Direction = store.DirectionEmergency
	emerg.DepartmentCode = "HELSE"
	open := call(13, "2001", "+4791234567", day, 0)
	open.State, open.AnswerTime, open.EndTime = store.CDROpen, nil, nil
	noAnswer := call(14, "2001", "+4791234567", day, 0)
	noAnswer.AnswerTime = nil
	return rated(t, []store.CDR{
		withDept(call(1, "2001", "+4791234567", day, 100), "OPPV"),   // 88
		withDept(call(2, "2001", "+4722334455", day, 61), "OPPV"),    // 77
		withDept(call(3, "2002", "+4741234567", day, 61), "OPPV"),    // 69
		withDept(call(4, "2003", "+4782912345", day, 150), "HELSE"),  // 600
		withDept(call(5, "2004", "+46812345678", day, 59), ""),       // 68
		withDept(call(6, "+4790000000", "+4791234567", day, 10), ""), // forwarded call: 44
		in, internal, emerg, open, noAnswer,
	})
}

func TestMonthly(t *testing.T) {
	r := Monthly(sampleCDRs(t), ReportOptions{
		Tenant: "Nordvik kommune", Period: "2026-11", MaskDigits: 3, TopN: 2,
		DepartmentNames: map[string]string{"OPPV": "Oppvekst", "HELSE": "Helse og omsorg"},
	})
	want := Totals{Calls: 7, BillableSeconds: 100 + 61 + 61 + 150 + 59 + 10 + 120, Ore: 88 + 77 + 69 + 600 + 68 + 44}
	if r.Total != want {
		t.Errorf("Total = %+v, want %+v", r.Total, want)
	}
	if r.Unrated != 1 {
		t.Errorf("Unrated = %d, want 1 (the open call)", r.Unrated)
	}
	var codes []string
	for _, d := range r.Departments {
		codes = append(codes, d.Code+"="+d.Name)
	}
	if got := strings.Join(codes, ","); got != "HELSE=Helse og omsorg,OPPV=Oppvekst,=(uten avdeling)" {
		t.Errorf("departments = %s", got)
	}
	if r.Departments[0].Totals != (Totals{Calls: 2, BillableSeconds: 270, Ore: 600}) {
		t.Errorf("HELSE = %+v", r.Departments[0].Totals)
	}
	var exts []string
	for _, e := range r.Extensions {
		exts = append(exts, e.Extension)
	}
	if got := strings.Join(exts, ","); got != "2001,2002,2003,2004,+4790000xxx" {
		t.Errorf("extensions = %s (the forwarded caller must be masked)", got)
	}
	if len(r.Top) != 2 || r.Top[0].Extension != "2003" || r.Top[1].Extension != "2001" {
		t.Errorf("top = %+v", r.Top)
	}
	checkSums(t, r)
}

// checkSums asserts the report's central promise: departments and
// extensions each add up exactly to the tenant total.
func checkSums(t *testing.T, r Report) {
	t.Helper()
	var d, e Totals
	for _, x := range r.Departments {
		d.Calls, d.BillableSeconds, d.Ore = d.Calls+x.Calls, d.BillableSeconds+x.BillableSeconds, d.Ore+x.Ore
	}
	for _, x := range r.Extensions {
		e.Calls, e.BillableSeconds, e.Ore = e.Calls+x.Calls, e.BillableSeconds+x.BillableSeconds, e.Ore+x.Ore
	}
	if d != r.Total || e != r.Total {
		t.Fatalf("sums differ: departments %+v, extensions %+v, total %+v", d, e, r.Total)
	}
}

// TestMonthlySumsProperty builds random months of calls and checks that
// every way of summing gives the same total, and that the total is the
// sum of the rated prices of the counted records.
func TestMonthlySumsProperty(t *testing.T) {
	tr := loadTariff(t)
	numbers := []string{"+4791234567", "+4722334455", "+4782012345", "+471881", "+46812345678", "+18765551234", "+27211234567", "+4780012345", "+47112", "12ab"}
	depts := []string{"", "OPPV", "HELSE", "TEKN", "<b>"}
	dirs := []store.CallDirection{store.DirectionOutbound, store.DirectionOutbound, store.DirectionOutbound, store.DirectionInbound, store.DirectionInternal, store.DirectionEmergency}
	month := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 42))
		n := rng.IntN(300)
		cdrs := make([]store.CDR, n)
		var wantOre int64
		for i := range cdrs {
			at := month.Add(time.Duration(rng.Int64N(30*24*3600)) * time.Second)
			c := call(int64(i+1), "20"+string(rune('0'+rng.IntN(10))), numbers[rng.IntN(len(numbers))], at, rng.Int64N(4000))
			c.Direction = dirs[rng.IntN(len(dirs))]
			c.DepartmentCode = depts[rng.IntN(len(depts))]
			if rng.IntN(10) == 0 {
				c.AnswerTime, c.BillableSeconds = nil, 0
			}
			if r, err := tr.Rate(c); err == nil && rng.IntN(20) != 0 { // some stay unrated
				c.PriceOre = ptr(r.PriceOre)
				if Counted(c) {
					wantOre += r.PriceOre
				}
			}
			cdrs[i] = c
		}
		r := Monthly(cdrs, ReportOptions{MaskDigits: int(seed % 4), Calls: seed%2 == 0})
		checkSums(t, r)
		if r.Total.Ore != wantOre {
			t.Fatalf("seed %d: total %d øre, want %d", seed, r.Total.Ore, wantOre)
		}
		if r.CallsIncluded && int64(len(r.Calls)) != r.Total.Calls {
			t.Fatalf("seed %d: %d call rows for %d calls", seed, len(r.Calls), r.Total.Calls)
		}
	}
}

func TestWriteCSV(t *testing.T) {
	cdrs := sampleCDRs(t)
	cdrs[0].DepartmentCode = "=CMD()" // formula injection attempt
	r := Monthly(cdrs, ReportOptions{Tenant: "Nordvik kommune", Period: "2026-11", MaskDigits: 3, Calls: true,
		DepartmentNames: map[string]string{"OPPV": "Oppvekst; skole", "HELSE": "Helse og omsorg"}})
	for _, section := range Sections() {
		var b bytes.Buffer
		if err := WriteCSV(&b, r, section); err != nil {
			t.Fatalf("%s: %v", section, err)
		}
		cr := csv.NewReader(&b)
		cr.Comma = ';'
		rows, err := cr.ReadAll()
		if err != nil {
			t.Fatalf("%s: not valid CSV: %v", section, err)
		}
		if len(rows) < 2 || rows[0][len(rows[0])-1] != "amount_nok" || rows[0][len(rows[0])-2] != "amount_ore" {
			t.Errorf("%s: header %v", section, rows[0])
		}
		all := b.String()
		if strings.Contains(all, "+4791234567") {
			t.Errorf("%s: unmasked number in output", section)
		}
		t.Logf("%s:\n%v", section, rows)
	}
	var b bytes.Buffer
	if err := WriteFinanceExport(&b, r); err != nil {
		t.Fatal(err)
	}
	want := "period;tenant;department_code;department_name;calls;billable_seconds;amount_ore;amount_nok\n" +
		"2026-11;Nordvik kommune;'=CMD();;1;100;88;0.88\n" +
		"2026-11;Nordvik kommune;HELSE;Helse og omsorg;2;270;600;6.00\n" +
		"2026-11;Nordvik kommune;OPPV;\"Oppvekst; skole\";2;122;146;1.46\n" +
		"2026-11;Nordvik kommune;;(uten avdeling);2;69;112;1.12\n"
	if b.String() != want {
		t.Errorf("finance export:\n%s\nwant:\n%s", b.String(), want)
	}
	if err := WriteCSV(&b, r, "avdelinger"); err == nil {
		t.Error("unknown section accepted")
	}
	r.CallsIncluded = false
	if err := WriteCSV(&b, r, SectionCalls); !errors.Is(err, ErrNoCalls) {
		t.Errorf("calls section without calls: %v", err)
	}
}

func TestWriteHTML(t *testing.T) {
	cdrs := sampleCDRs(t)
	cdrs[0].DepartmentCode = `<script>alert("x")</script>`
	r := Monthly(cdrs, ReportOptions{Tenant: `Nordvik & "Sør" kommune`, Period: "2026-11", MaskDigits: 3, Calls: true,
		DepartmentNames: map[string]string{"HELSE": `<img src=x onerror=alert(1)>`}})
	var b bytes.Buffer
	if err := WriteHTML(&b, r); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, bad := range []string{"<script>", "<img", "+4791234567", "http://", "https://", "<link"} {
		if strings.Contains(page, bad) {
			t.Errorf("HTML contains %q", bad)
		}
	}
	for _, want := range []string{"&lt;script&gt;", "&lt;img src=x onerror=alert(1)&gt;", "Nordvik &amp; &#34;Sør&#34; kommune",
		"@media print", "(uten avdeling)", "Per avdeling", "&#43;4791234xxx", "6,00", `lang="nb"`, "nødnummer", "mobil", "1 utgående samtaler er ikke priset"} {
		if !strings.Contains(page, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
}

func TestKronerNO(t *testing.T) {
	for ore, want := range map[int64]string{0: "0,00", 5: "0,05", 123456: "1\u00a0234,56", 100000000: "1\u00a0000\u00a0000,00"} {
		if got := kronerNO(ore); got != want {
			t.Errorf("kronerNO(%d) = %q, want %q", ore, got, want)
		}
	}
}
