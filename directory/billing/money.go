package billing

import (
	"fmt"
	"strconv"
	"strings"
)

// Amount is a sum of money in units of 1/100 øre (0.0001 NOK). Tariff
// prices need four decimals (0.0049 NOK per second is common), and integers
// keep every sum exact.
type Amount int64

// Units per NOK and per øre.
const (
	unitsPerNOK = 10000
	unitsPerOre = 100
	// maxAmount bounds a single price or connection fee (10 000 NOK) so
	// that price × seconds cannot overflow for any plausible call; Rate
	// still checks, because BillableSeconds comes from outside.
	maxAmount   Amount = 10000 * unitsPerNOK
	maxDecimals        = 4
)

// ParseAmount reads a NOK amount written as a plain decimal with a dot and
// at most four decimals ("0.49", "0.0049", "12"). Admins write tariffs by
// hand, so the errors say what to write instead.
func ParseAmount(s string) (Amount, error) {
	t := strings.TrimSpace(s)
	switch {
	case t == "":
		return 0, fmt.Errorf("empty; write an amount in NOK, e.g. 0.49")
	case strings.Contains(t, ","):
		return 0, fmt.Errorf("use a dot as the decimal mark, e.g. %s", strings.ReplaceAll(t, ",", "."))
	case strings.HasPrefix(t, "-"):
		return 0, fmt.Errorf("negative amounts are not allowed")
	case strings.HasPrefix(t, "+"):
		t = t[1:]
	}
	intPart, frac, hasDot := strings.Cut(t, ".")
	if hasDot && intPart == "" && frac != "" {
		intPart = "0" // ".49" is what people mean by 0.49
	}
	if intPart == "" || !allDigits(intPart) || (hasDot && !allDigits(frac)) {
		return 0, fmt.Errorf("not a plain decimal amount in NOK; write e.g. 0.49 (no currency, spaces or exponents)")
	}
	if len(frac) > maxDecimals {
		return 0, fmt.Errorf("at most %d decimals (1/100 øre); round it, e.g. %s", maxDecimals, intPart+"."+frac[:maxDecimals])
	}
	intPart = strings.TrimLeft(intPart, "0")
	if len(intPart) > 5 {
		return 0, fmt.Errorf("more than %s NOK; no telephone price is that high", maxAmount.NOK())
	}
	var n int64
	if intPart != "" {
		n, _ = strconv.ParseInt(intPart, 10, 64) // at most 5 digits: cannot fail
	}
	f := int64(0)
	if frac != "" {
		f, _ = strconv.ParseInt(frac+strings.Repeat("0", maxDecimals-len(frac)), 10, 64)
	}
	a := Amount(n*unitsPerNOK + f)
	if a > maxAmount {
		return 0, fmt.Errorf("more than %s NOK; no telephone price is that high", maxAmount.NOK())
	}
	return a, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// NOK formats the amount in canonical form: a dot, at least two and at
// most four decimals ("0.49", "0.0049", "1.00").
func (a Amount) NOK() string {
	sign := ""
	u := int64(a)
	if u < 0 {
		sign, u = "-", -u
	}
	frac := fmt.Sprintf("%04d", u%unitsPerNOK)
	frac = strings.TrimRight(frac, "0")
	for len(frac) < 2 {
		frac += "0"
	}
	return fmt.Sprintf("%s%d.%s", sign, u/unitsPerNOK, frac)
}

// Ore rounds to whole øre, half up (0.5 øre becomes 1 øre). It is the only
// rounding in rating, done once per call.
func (a Amount) Ore() int64 {
	if a < 0 {
		return -((-int64(a) + unitsPerOre/2) / unitsPerOre)
	}
	return (int64(a) + unitsPerOre/2) / unitsPerOre
}

// FormatOre writes øre as NOK with a dot and two decimals ("123.45"), the
// form the CSV and finance exports use.
func FormatOre(ore int64) string {
	sign := ""
	if ore < 0 {
		sign, ore = "-", -ore
	}
	return fmt.Sprintf("%s%d.%02d", sign, ore/100, ore%100)
}
