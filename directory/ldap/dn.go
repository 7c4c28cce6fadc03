package ldap

import (
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxDNLength bounds the DNs we parse; phone-book DNs are a few dozen bytes.
const maxDNLength = 1024

var errDNSyntax = errors.New("invalid DN syntax")

// ava is one attribute=value pair of a DN; typ is canonical (see attrAlias).
type ava struct {
	typ, val string
}

// rdn is a relative distinguished name: usually one ava, several with '+'.
type rdn []ava

// dn is a parsed distinguished name, leaf first as written.
type dn []rdn

// parseDN parses an RFC 4514 DN. It is lenient where phones are sloppy:
// spaces around ',', '+' and '=' are ignored, ';' separates RDNs like ','
// (RFC 1779), and quoted values are accepted. Attribute types are mapped to
// their canonical short names so that "O=x" and "organizationName=x" match.
func parseDN(s string) (dn, error) {
	if len(s) > maxDNLength {
		return nil, errDNSyntax
	}
	var out dn
	var cur rdn
	i := skipSpaces(s, 0)
	if i == len(s) {
		return nil, nil // the empty DN: the root
	}
	for {
		// Attribute type.
		start := i
		for i < len(s) && isTypeChar(s[i]) {
			i++
		}
		typ := s[start:i]
		i = skipSpaces(s, i)
		if typ == "" || i == len(s) || s[i] != '=' {
			return nil, errDNSyntax
		}
		i = skipSpaces(s, i+1)
		val, next, err := parseDNValue(s, i)
		if err != nil {
			return nil, err
		}
		i = next
		cur = append(cur, ava{typ: canonicalAttr(typ), val: val})
		if i == len(s) {
			out = append(out, cur)
			return out, nil
		}
		switch s[i] {
		case '+':
		case ',', ';':
			out = append(out, cur)
			cur = nil
		default:
			return nil, errDNSyntax
		}
		i = skipSpaces(s, i+1)
		if i == len(s) {
			return nil, errDNSyntax // trailing separator
		}
	}
}

func skipSpaces(s string, i int) int {
	for i < len(s) && s[i] == ' ' {
		i++
	}
	return i
}

func isTypeChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.'
}

// parseDNValue reads one attribute value starting at i and returns it with
// the index of the separator (or len(s)) after any trailing spaces.
func parseDNValue(s string, i int) (string, int, error) {
	var b strings.Builder
	switch {
	case i < len(s) && s[i] == '"':
		i++
		for {
			if i == len(s) {
				return "", 0, errDNSyntax
			}
			c := s[i]
			if c == '"' {
				i++
				break
			}
			if c == '\\' {
				n, r, err := unescape(s, i)
				if err != nil {
					return "", 0, err
				}
				b.WriteString(r)
				i = n
				continue
			}
			b.WriteByte(c)
			i++
		}
		i = skipSpaces(s, i)
	case i < len(s) && s[i] == '#':
		// A hex-encoded BER value: we keep it as written; it never names
		// one of our objects.
		start := i
		i++
		for i < len(s) && isHex(s[i]) {
			i++
		}
		if (i-start-1)%2 != 0 || i == start+1 {
			return "", 0, errDNSyntax
		}
		b.WriteString(s[start:i])
		i = skipSpaces(s, i)
	default:
		keep := 0 // length of b up to the last character that is not an unescaped space
		for i < len(s) && s[i] != ',' && s[i] != '+' && s[i] != ';' {
			c := s[i]
			switch c {
			case '\\':
				n, r, err := unescape(s, i)
				if err != nil {
					return "", 0, err
				}
				b.WriteString(r)
				i = n
				keep = b.Len()
				continue
			case '"', '=', '<', '>':
				return "", 0, errDNSyntax
			}
			b.WriteByte(c)
			i++
			if c != ' ' {
				keep = b.Len()
			}
		}
		v := b.String()[:keep]
		if !utf8.ValidString(v) {
			return "", 0, errDNSyntax
		}
		return v, i, nil
	}
	v := b.String()
	if !utf8.ValidString(v) {
		return "", 0, errDNSyntax
	}
	return v, i, nil
}

// unescape decodes the escape at s[i] == '\\': either "\c" for a special
// character or "\hh" for one byte. It returns the index after it.
func unescape(s string, i int) (int, string, error) {
	if i+1 >= len(s) {
		return 0, "", errDNSyntax
	}
	if i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
		v, _ := strconv.ParseUint(s[i+1:i+3], 16, 8)
		return i + 3, string([]byte{byte(v)}), nil
	}
	switch c := s[i+1]; c {
	case ' ', '"', '#', '+', ',', ';', '<', '=', '>', '\\':
		return i + 2, string(c), nil
	}
	return 0, "", errDNSyntax
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// escapeDNValue escapes a value for use in a DN string (RFC 4514 section 2.4).
func escapeDNValue(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == ',' || c == '+' || c == '"' || c == '\\' || c == '<' || c == '>' || c == ';' || c == '=':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == 0:
			b.WriteString(`\00`)
		case (c == ' ' || c == '#') && i == 0, c == ' ' && i == len(v)-1:
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// single returns the only ava of r, or false when r is multi-valued.
func (r rdn) single() (ava, bool) {
	if len(r) != 1 {
		return ava{}, false
	}
	return r[0], true
}

// is reports whether r is exactly typ=val, the value compared without case.
func (r rdn) is(typ, val string) bool {
	a, ok := r.single()
	return ok && a.typ == typ && strings.EqualFold(a.val, val)
}
