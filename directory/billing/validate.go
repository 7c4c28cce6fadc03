package billing

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"
)

const (
	maxNameLen      = 100
	maxPrefixDigits = 15 // E.164
)

// Validate checks what the parser cannot: required classes, free classes,
// band references and zone prefixes. Errors name the field and the fix.
func (t *Tariff) Validate() error {
	if err := t.validate(); err != nil {
		return fmt.Errorf("tariff: %w", err)
	}
	return nil
}

func (t *Tariff) validate() error {
	if t == nil {
		return errors.New("no tariff")
	}
	if err := checkName("name", t.Name); err != nil {
		return err
	}
	bands := map[string]bool{}
	for i, b := range t.Bands {
		field := fmt.Sprintf("bands[%d]", i)
		if err := checkName(field+".name", b.Name); err != nil {
			return err
		}
		if bands[b.Name] {
			return fmt.Errorf("%s.name: band %q is defined twice; give each band its own name", field, b.Name)
		}
		bands[b.Name] = true
		if len(b.Days) == 0 {
			return fmt.Errorf("%s.days: missing; list the days the band starts on, e.g. [mon, tue, wed, thu, fri]", field)
		}
		seen := map[int]bool{}
		for _, d := range b.Days {
			if d < 0 || int(d) >= len(dayNames) || seen[int(d)] {
				return fmt.Errorf("%s.days: invalid or repeated day %d", field, d)
			}
			seen[int(d)] = true
		}
		if b.From < 0 || b.From >= minutesPerDay || b.To <= 0 || b.To > minutesPerDay {
			return fmt.Errorf("%s: from must be 00:00-23:59 and to 00:01-24:00", field)
		}
		if b.From == b.To {
			return fmt.Errorf("%s: from and to are both %s; for a whole day write from: \"00:00\", to: \"24:00\"", field, b.From)
		}
	}
	for _, class := range slices.Sorted(maps.Keys(t.Rates)) {
		if !slices.Contains(Classes(), class) {
			return fmt.Errorf("rates.%s: unknown class; the classes are %s", class, strings.Join(Classes(), ", "))
		}
		r := t.Rates[class]
		field := "rates." + class
		if alwaysFree(class) && !r.free() {
			return fmt.Errorf("%s: %s calls are always free; set connect and price to 0 or leave the class out", field, class)
		}
		if err := r.validate(field, bands); err != nil {
			return err
		}
	}
	for _, class := range Classes() {
		if _, ok := t.Rates[class]; !ok && !defaultFree(class) {
			return fmt.Errorf("rates.%s: missing; every chargeable class needs a rate (write price: \"0\" to make it free)", class)
		}
	}
	zones := map[string]bool{}
	prefixes := map[string]string{}
	for i, z := range t.Zones {
		field := fmt.Sprintf("zones[%d]", i)
		if err := checkName(field+".name", z.Name); err != nil {
			return err
		}
		if zones[z.Name] {
			return fmt.Errorf("%s.name: zone %q is defined twice; give each zone its own name", field, z.Name)
		}
		zones[z.Name] = true
		field = fmt.Sprintf("zones[%d] (%s)", i, z.Name)
		if len(z.Prefixes) == 0 {
			return fmt.Errorf("%s.prefixes: missing; list the country codes, e.g. [\"+46\", \"+45\"]", field)
		}
		for _, p := range z.Prefixes {
			if err := checkPrefix(p); err != nil {
				return fmt.Errorf("%s.prefixes %q: %w", field, p, err)
			}
			if other, dup := prefixes[p]; dup {
				return fmt.Errorf("%s.prefixes %q: also in zone %q; a prefix belongs to one zone (a longer prefix may sit in another)", field, p, other)
			}
			prefixes[p] = z.Name
		}
		if err := z.Rate.validate(field, bands); err != nil {
			return err
		}
	}
	return nil
}

func checkName(field, name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return fmt.Errorf("%s: missing", field)
	case name != strings.TrimSpace(name):
		return fmt.Errorf("%s %q: remove the spaces around it", field, name)
	case !utf8.ValidString(name) || strings.ContainsFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f }):
		return fmt.Errorf("%s %q: control characters or invalid UTF-8", field, name)
	case utf8.RuneCountInString(name) > maxNameLen:
		return fmt.Errorf("%s: longer than %d characters", field, maxNameLen)
	}
	return nil
}

func checkPrefix(p string) error {
	digits, ok := strings.CutPrefix(p, "+")
	switch {
	case !ok || digits == "" || !allDigits(digits):
		return errors.New(`write "+" and the country code, e.g. "+46"`)
	case len(digits) > maxPrefixDigits:
		return fmt.Errorf("longer than %d digits", maxPrefixDigits)
	case digits[0] == '0':
		return errors.New("country codes never start with 0")
	case strings.HasPrefix(digits, "47") || digits == "4":
		// +4 would swallow +47 as well; Norwegian numbers are rated by
		// their class (national, mobile, ...), never by zone.
		if digits == "4" {
			return errors.New(`"+4" would include Norway (+47); list +45, +46, +48, +49 and so on instead`)
		}
		return errors.New("+47 numbers are rated by their Norwegian class (national, mobile, ...), not by a zone")
	}
	return nil
}

// free reports whether a rate can never charge anything.
func (r Rate) free() bool {
	if r.Connect != 0 || r.Price != 0 {
		return false
	}
	for _, b := range r.Bands {
		if (b.Connect != nil && *b.Connect != 0) || (b.Price != nil && *b.Price != 0) {
			return false
		}
	}
	return true
}

func (r Rate) validate(field string, bands map[string]bool) error {
	if err := checkAmount(field+".connect", r.Connect); err != nil {
		return err
	}
	if err := checkAmount(field+".price", r.Price); err != nil {
		return err
	}
	if err := checkUnit(field+".per", r.Per, !r.free()); err != nil {
		return err
	}
	used := map[string]bool{}
	for i, b := range r.Bands {
		bf := fmt.Sprintf("%s.bands[%d]", field, i)
		if !bands[b.Band] {
			return fmt.Errorf("%s.band %q: no such band; define it under bands: or fix the name", bf, b.Band)
		}
		if used[b.Band] {
			return fmt.Errorf("%s.band %q: overridden twice in this rate; keep one", bf, b.Band)
		}
		used[b.Band] = true
		if b.Connect == nil && b.Price == nil && b.Per == "" {
			return fmt.Errorf("%s: sets nothing; give connect, price or per for band %q", bf, b.Band)
		}
		if b.Connect != nil {
			if err := checkAmount(bf+".connect", *b.Connect); err != nil {
				return err
			}
		}
		if b.Price != nil {
			if err := checkAmount(bf+".price", *b.Price); err != nil {
				return err
			}
		}
		if b.Per != "" {
			if err := checkUnit(bf+".per", b.Per, true); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkAmount(field string, a Amount) error {
	if a < 0 || a > maxAmount {
		return fmt.Errorf("%s: %s NOK is outside 0 to %s", field, a.NOK(), maxAmount.NOK())
	}
	return nil
}

func checkUnit(field string, u Unit, required bool) error {
	switch {
	case u == PerSecond || u == PerMinute:
		return nil
	case u == "" && !required:
		return nil
	case u == "":
		return fmt.Errorf("%s: missing; write per: second or per: minute", field)
	}
	return fmt.Errorf("%s %q: write per: second or per: minute", field, u)
}
