package billing

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"strconv"
	"strings"
)

//go:embed report.html
var reportHTML string

// WriteHTML writes the report as one self-contained, printable page in
// Norwegian Bokmål: CSS is inline, there are no scripts, fonts or images,
// and html/template escapes every value (department names and numbers come
// from admins and callers).
func WriteHTML(w io.Writer, r Report) error {
	// Parsed per call rather than kept in a package variable: reports are
	// rare, and the package holds no state.
	t, err := template.New("report").Funcs(template.FuncMap{
		"kr":       kronerNO,
		"duration": duration,
		"dept":     func(code string) string { return cmpOr(code, NoDepartment) },
		"depts": func(codes []string) string {
			out := make([]string, len(codes))
			for i, c := range codes {
				out[i] = cmpOr(c, NoDepartment)
			}
			return strings.Join(out, ", ")
		},
		"inc":   func(i int) int { return i + 1 },
		"class": classNO,
	}).Parse(reportHTML)
	if err != nil {
		return fmt.Errorf("write html: template: %w", err)
	}
	if err := t.Execute(w, r); err != nil {
		return fmt.Errorf("write html: %w", err)
	}
	return nil
}

// classNO names a class in Bokmål for the printed call listing; the CSV
// keeps the English class names, which are stable identifiers.
func classNO(class string) string {
	switch class {
	case ClassInternal:
		return "internt"
	case ClassInbound:
		return "innkommende"
	case ClassEmergency:
		return "nødnummer"
	case ClassNational:
		return "fasttelefon"
	case ClassMobile:
		return "mobil"
	case ClassFreephone:
		return "grønt nummer"
	case ClassSharedCost:
		return "delt kostnad"
	case ClassPremium:
		return "spesialnummer"
	case ClassShort:
		return "kortnummer"
	case ClassInternational:
		return "utland"
	}
	return class
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// kronerNO formats øre the Norwegian way: space between thousands and a
// decimal comma, "1 234,56". The space is a no-break space so that a
// printed column never splits an amount.
func kronerNO(ore int64) string {
	sign := ""
	if ore < 0 {
		sign, ore = "−", -ore
	}
	kr := strconv.FormatInt(ore/100, 10)
	var b strings.Builder
	for i, c := range kr {
		if i > 0 && (len(kr)-i)%3 == 0 {
			b.WriteRune('\u00a0')
		}
		b.WriteRune(c)
	}
	return fmt.Sprintf("%s%s,%02d", sign, b.String(), ore%100)
}

// duration formats seconds as t:mm:ss, which reads well for both a short
// call and a department's month.
func duration(s int64) string {
	return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
}
