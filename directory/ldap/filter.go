package ldap

import (
	"fmt"
	"strings"

	ber "github.com/go-asn1-ber/asn1-ber"

	"github.com/sentralpbx/sentral/directory/search"
)

// Filter limits: phones send a handful of terms; anything much larger is an
// attack on the evaluator.
const (
	maxFilterDepth = 32
	maxFilterNodes = 512
)

// Filter choice tags (context class, RFC 4511 section 4.5.1.7).
const (
	filterAnd        ber.Tag = 0
	filterOr         ber.Tag = 1
	filterNot        ber.Tag = 2
	filterEquality   ber.Tag = 3
	filterSubstrings ber.Tag = 4
	filterGE         ber.Tag = 5
	filterLE         ber.Tag = 6
	filterPresent    ber.Tag = 7
	filterApprox     ber.Tag = 8
	filterExtensible ber.Tag = 9
)

// filter is a parsed search filter. Assertion values are normalised once at
// parse time: folded for text, reduced to digit forms for numbers.
type filter struct {
	op   ber.Tag
	attr string   // canonical attribute
	sub  []filter // and, or, not
	// equality, approx, ge, le, extensible: the value as sent and its key.
	value string
	key   string
	forms []string // number forms of value (number attributes)
	// substrings: keys of the pieces; initial/final "" when absent.
	initial, final string
	any            []string
}

// tri is the three-valued result of a filter: LDAP filters are TRUE, FALSE
// or Undefined, and NOT Undefined stays Undefined.
type tri int8

const (
	triFalse tri = iota
	triTrue
	triUndefined
)

// parseFilter decodes a BER Filter.
func parseFilter(p *ber.Packet) (*filter, error) {
	nodes := 0
	f, err := decodeFilter(p, 0, &nodes)
	if err != nil {
		return nil, err
	}
	return &f, nil
}

func decodeFilter(p *ber.Packet, depth int, nodes *int) (filter, error) {
	*nodes++
	if depth > maxFilterDepth || *nodes > maxFilterNodes {
		return filter{}, fmt.Errorf("filter too complex: %w", errMalformed)
	}
	if p == nil || p.ClassType != ber.ClassContext {
		return filter{}, fmt.Errorf("filter: %w", errMalformed)
	}
	f := filter{op: p.Tag}
	switch p.Tag {
	case filterAnd, filterOr, filterNot:
		if p.TagType != ber.TypeConstructed || (p.Tag == filterNot && len(p.Children) != 1) {
			return f, fmt.Errorf("filter set: %w", errMalformed)
		}
		for _, c := range p.Children {
			sf, err := decodeFilter(c, depth+1, nodes)
			if err != nil {
				return f, err
			}
			f.sub = append(f.sub, sf)
		}
	case filterEquality, filterGE, filterLE, filterApprox:
		if p.TagType != ber.TypeConstructed || len(p.Children) != 2 {
			return f, fmt.Errorf("filter assertion: %w", errMalformed)
		}
		desc, err := octetString(p.Children[0])
		if err != nil {
			return f, err
		}
		v, err := octetString(p.Children[1])
		if err != nil {
			return f, err
		}
		f.setAssertion(desc, v)
	case filterSubstrings:
		if err := f.decodeSubstrings(p); err != nil {
			return f, err
		}
	case filterPresent:
		if p.TagType != ber.TypePrimitive {
			return f, fmt.Errorf("filter present: %w", errMalformed)
		}
		f.attr = canonicalAttr(p.Data.String())
	case filterExtensible:
		// MatchingRuleAssertion: [1] rule, [2] type, [3] value, [4] dnAttributes.
		// We honour the type and value as an equality match and ignore
		// the rule; without a type the result is Undefined.
		var desc, v string
		for _, c := range p.Children {
			if c.ClassType != ber.ClassContext {
				return f, fmt.Errorf("filter extensible: %w", errMalformed)
			}
			switch c.Tag {
			case 2:
				desc = c.Data.String()
			case 3:
				v = c.Data.String()
			}
		}
		f.setAssertion(desc, v)
	default:
		return f, fmt.Errorf("filter choice %d: %w", p.Tag, errMalformed)
	}
	return f, nil
}

func (f *filter) setAssertion(desc, v string) {
	f.attr = canonicalAttr(desc)
	f.value = v
	if isNumberAttr(f.attr) {
		f.forms = numberForms(v)
		if len(f.forms) > 0 {
			f.key = f.forms[0]
		}
		return
	}
	f.key = search.Fold(v)
}

func (f *filter) decodeSubstrings(p *ber.Packet) error {
	if p.TagType != ber.TypeConstructed || len(p.Children) != 2 {
		return fmt.Errorf("filter substrings: %w", errMalformed)
	}
	desc, err := octetString(p.Children[0])
	if err != nil {
		return err
	}
	f.attr = canonicalAttr(desc)
	pieces := p.Children[1].Children
	if len(pieces) == 0 {
		return fmt.Errorf("filter substrings: %w", errMalformed)
	}
	for i, c := range pieces {
		if c.ClassType != ber.ClassContext || c.TagType != ber.TypePrimitive {
			return fmt.Errorf("filter substring: %w", errMalformed)
		}
		k := f.pieceKey(c.Data.String(), c.Tag == 0)
		switch {
		case c.Tag == 0 && i == 0:
			f.initial = k
		case c.Tag == 1:
			if k != "" {
				f.any = append(f.any, k)
			}
		case c.Tag == 2 && i == len(pieces)-1:
			f.final = k
		default:
			return fmt.Errorf("filter substring order: %w", errMalformed)
		}
	}
	return nil
}

// pieceKey normalises one substring piece like the values it is matched
// against. Only an initial piece can carry an international prefix.
func (f *filter) pieceKey(s string, initial bool) string {
	if !isNumberAttr(f.attr) {
		return search.Fold(s)
	}
	if initial {
		d, _ := digits(s)
		return d
	}
	return rawDigits(s)
}

// match evaluates f against n.
func (f *filter) match(n *node) tri {
	switch f.op {
	case filterAnd:
		res := triTrue
		for i := range f.sub {
			switch f.sub[i].match(n) {
			case triFalse:
				return triFalse
			case triUndefined:
				res = triUndefined
			}
		}
		return res
	case filterOr:
		res := triFalse
		for i := range f.sub {
			switch f.sub[i].match(n) {
			case triTrue:
				return triTrue
			case triUndefined:
				res = triUndefined
			}
		}
		return res
	case filterNot:
		switch f.sub[0].match(n) {
		case triTrue:
			return triFalse
		case triFalse:
			return triTrue
		}
		return triUndefined
	case filterPresent:
		if len(n.values(f.attr)) > 0 {
			return triTrue
		}
		return triFalse
	}
	if !knownAttr(f.attr) {
		return triUndefined
	}
	for _, v := range n.values(f.attr) {
		if f.matchValue(v) {
			return triTrue
		}
	}
	return triFalse
}

// matchValue compares one stored value with the assertion.
func (f *filter) matchValue(v string) bool {
	number := isNumberAttr(f.attr)
	switch f.op {
	case filterEquality, filterApprox, filterExtensible:
		if number {
			return sameNumber(f.forms, numberForms(v))
		}
		if f.key == "" {
			return strings.TrimSpace(f.value) == strings.TrimSpace(v)
		}
		fv := search.Fold(v)
		// Handsets without æ, ø and å type o and a: "odegard" is Ødegård.
		return fv == f.key || search.Loose(fv) == search.Loose(f.key)
	case filterSubstrings:
		if number {
			for _, form := range numberForms(v) {
				if substringMatch(form, f.initial, f.any, f.final) {
					return true
				}
			}
			return false
		}
		fv := search.Fold(v)
		if substringMatch(fv, f.initial, f.any, f.final) {
			return true
		}
		loose := make([]string, len(f.any))
		for i, a := range f.any {
			loose[i] = search.Loose(a)
		}
		return substringMatch(search.Loose(fv), search.Loose(f.initial), loose, search.Loose(f.final))
	case filterGE, filterLE:
		var c int
		if number {
			forms := numberForms(v)
			if len(forms) == 0 {
				return false
			}
			c = strings.Compare(forms[0], f.key)
		} else {
			c = search.Compare(v, f.value)
		}
		if f.op == filterGE {
			return c >= 0
		}
		return c <= 0
	}
	return false
}

// substringMatch reports whether s is initial*any...*final, pieces in
// order and not overlapping.
func substringMatch(s, initial string, any []string, final string) bool {
	if !strings.HasPrefix(s, initial) {
		return false
	}
	s = s[len(initial):]
	for _, a := range any {
		i := strings.Index(s, a)
		if i < 0 {
			return false
		}
		s = s[i+len(a):]
	}
	return strings.HasSuffix(s, final)
}

// digits returns the digits of a number as typed, with an international
// prefix ("+" or "00") removed, and whether there was one.
func digits(s string) (string, bool) {
	intl := strings.HasPrefix(strings.TrimSpace(s), "+")
	d := rawDigits(s)
	if !intl && strings.HasPrefix(d, "00") {
		d, intl = d[2:], true
	}
	return d, intl
}

// rawDigits returns the digits of s.
func rawDigits(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= '0' && c <= '9' {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// numberForms returns the digit strings a telephone number matches as,
// the phone book's own rule (search.NumberKeys): the national number first
// and, for a Norwegian number, also with the country code, so that "+47"
// is optional both in the filter and in the data.
func numberForms(s string) []string { return search.NumberKeys(s) }

// sameNumber reports whether two numbers share a form.
func sameNumber(a, b []string) bool {
	for _, x := range a {
		for _, y := range b {
			if x == y {
				return true
			}
		}
	}
	return false
}
