package provisioning

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"

	"github.com/sentralpbx/sentral/store"
)

// NormalizeMAC accepts a MAC address as printed on a phone's label or in a
// switch's table (00:15:65:AA:BB:CC, 00-15-65-aa-bb-cc, 0015.65aa.bbcc,
// 001565aabbcc) and returns the store's form: 12 lower-case hex digits.
func NormalizeMAC(field, s string) (string, error) {
	raw := strings.TrimSpace(s)
	var b strings.Builder
	for _, r := range raw {
		switch {
		case r == ':' || r == '-' || r == '.':
		case r >= '0' && r <= '9', r >= 'a' && r <= 'f':
			b.WriteRune(r)
		case r >= 'A' && r <= 'F':
			b.WriteRune(r + ('a' - 'A'))
		default:
			return "", Invalid(field, s, fmt.Sprintf("%q is not a hexadecimal digit", r), "give the 12 hex digits from the phone's label, e.g. 00:15:65:AA:BB:CC")
		}
	}
	if b.Len() != 12 {
		return "", Invalid(field, s, fmt.Sprintf("a MAC address has 12 hex digits, this has %d", b.Len()), "give the 12 hex digits from the phone's label, e.g. 00:15:65:AA:BB:CC")
	}
	return b.String(), nil
}

// NormalizeIPUI accepts a DECT handset's IPUI (as shown in the handset's
// menu, with or without spaces or dashes) and returns 10 upper-case hex digits.
func NormalizeIPUI(field, s string) (string, error) {
	var b strings.Builder
	for _, r := range strings.TrimSpace(s) {
		switch {
		case r == ' ' || r == '-' || r == ':':
		case r >= '0' && r <= '9', r >= 'A' && r <= 'F':
			b.WriteRune(r)
		case r >= 'a' && r <= 'f':
			b.WriteRune(r - ('a' - 'A'))
		default:
			return "", Invalid(field, s, fmt.Sprintf("%q is not a hexadecimal digit", r), "give the 10 hex digits of the IPUI from the handset's menu, e.g. 0077A1B2C3")
		}
	}
	if b.Len() != 10 {
		return "", Invalid(field, s, fmt.Sprintf("an IPUI has 10 hex digits, this has %d", b.Len()), "give the 10 hex digits of the IPUI from the handset's menu, e.g. 0077A1B2C3")
	}
	return b.String(), nil
}

// CheckNumber checks the syntax of an internal number (extension or group).
func CheckNumber(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", Invalid(field, s, "is required", fmt.Sprintf("give an internal number of %d to %d digits, e.g. 2001", store.MinExtensionDigits, store.MaxExtensionDigits))
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return "", Invalid(field, s, "may only contain digits", "give an internal number such as 2001 (no spaces, + or letters)")
		}
	}
	if len(s) < store.MinExtensionDigits || len(s) > store.MaxExtensionDigits {
		return "", Invalid(field, s, fmt.Sprintf("must have %d to %d digits", store.MinExtensionDigits, store.MaxExtensionDigits), "give an internal number such as 2001")
	}
	return s, nil
}

// checkInRange refuses an internal number outside the tenant's extension
// ranges, naming the ranges and how to widen them. The store enforces the
// same rule; checking first gives the better message.
func checkInRange(field, number string, t store.Tenant) error {
	if store.InRanges(t.Ranges, store.RangeExtension, number) {
		return nil
	}
	ranges := store.FormatRanges(t.Ranges, store.RangeExtension)
	if ranges == "" {
		ranges = "none"
	}
	return &Error{Field: field, Value: number, Problem: fmt.Sprintf("is outside tenant %s's extension ranges (%s)", t.Name, ranges),
		Fix: fmt.Sprintf("use a number in %s, or widen the ranges with `sentral tenant update %s --ext-range ...`", ranges, t.Name), Err: store.ErrInvalid}
}

// ParseCOS reads a class of service.
func ParseCOS(field, s string) (store.ClassOfService, error) {
	switch c := store.ClassOfService(strings.ToLower(strings.TrimSpace(s))); c {
	case store.COSInternal, store.COSNational, store.COSMobile, store.COSInternational:
		return c, nil
	}
	return "", Invalid(field, s, "unknown class of service", "use internal, national, mobile or international")
}

// DefaultCOS is the class of service of extensions created without one.
const DefaultCOS = store.DefaultCOS

// ParseBool reads a yes/no value the way Norwegian admins write it in a
// spreadsheet: true/false, yes/no, ja/nei, 1/0 (case-insensitive).
func ParseBool(field, s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "yes", "ja", "1", "y", "j":
		return true, nil
	case "false", "no", "nei", "0", "n":
		return false, nil
	}
	return false, Invalid(field, s, "is not a yes/no value", "use true/false, yes/no, ja/nei or 1/0")
}

// CheckSlug checks a short CLI name (tenant names): lower-case letters,
// digits and hyphens, starting with a letter, so it is safe in file names,
// URLs and shell commands without quoting.
func CheckSlug(field, s string) (string, error) {
	fix := "use lower-case letters, digits and hyphens, starting with a letter, e.g. fjordvik"
	if s == "" {
		return "", Invalid(field, s, "is required", fix)
	}
	if len(s) > 63 {
		return "", Invalid(field, s, "is longer than 63 characters", fix)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || i > 0 && (c >= '0' && c <= '9' || c == '-')
		if !ok {
			return "", Invalid(field, s, "is not a valid name", fix)
		}
	}
	return s, nil
}

// CheckDomain checks a SIP domain (a DNS name) and returns it in lower case.
func CheckDomain(field, s string) (string, error) {
	d := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(s), "."))
	fix := "give the tenant's SIP domain, a DNS name such as sip.fjordvik.kommune.no"
	if d == "" {
		return "", Invalid(field, s, "is required", fix)
	}
	if len(d) > 253 {
		return "", Invalid(field, s, "is longer than 253 characters", fix)
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return "", Invalid(field, s, "is not a valid DNS name", fix)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return "", Invalid(field, s, fmt.Sprintf("contains %q, not allowed in a DNS name", c), fix)
			}
		}
	}
	return d, nil
}

// CheckEmail checks an e-mail address and returns it trimmed and in lower
// case (people are found by e-mail, and case differences must not create
// two people).
func CheckEmail(field, s string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(s))
	if e == "" {
		return "", nil
	}
	a, err := mail.ParseAddress(e)
	if err != nil || a.Address != e || !strings.Contains(e[strings.LastIndex(e, "@")+1:], ".") {
		return "", Invalid(field, s, "is not an e-mail address", "give a plain address such as kari.nordmann@fjordvik.kommune.no")
	}
	return e, nil
}

// CheckDID normalises a public number to E.164; empty stays empty.
func CheckDID(field, s string) (string, error) {
	if strings.TrimSpace(s) == "" {
		return "", nil
	}
	d := store.NormalizeDID(s)
	r := store.NumberRange{Kind: store.RangeDID, First: d, Last: d}
	if err := r.Validate(); err != nil {
		return "", Invalid(field, s, "is not a public number", "give an E.164 number (+4755550000) or an 8-digit Norwegian number (55550000)")
	}
	return d, nil
}

// checkOwnDID reads a direct public number for an extension or a group:
// empty (none), or E.164 inside the tenant's DID ranges. The store makes
// the same check; checking first gives the better message.
func checkOwnDID(field, s string, t store.Tenant) (string, error) {
	d, err := CheckDID(field, s)
	if err != nil || d == "" {
		return d, err
	}
	if !store.InRanges(t.Ranges, store.RangeDID, d) {
		ranges := store.FormatRanges(t.Ranges, store.RangeDID)
		if ranges == "" {
			return "", &Error{Field: field, Value: d, Problem: fmt.Sprintf("tenant %s has no DID ranges", t.Name),
				Fix: fmt.Sprintf("give the tenant its block of public numbers first: `sentral tenant update %s --did-range ...`", t.Name), Err: store.ErrInvalid}
		}
		return "", &Error{Field: field, Value: d, Problem: fmt.Sprintf("is outside tenant %s's DID ranges (%s)", t.Name, ranges),
			Fix: fmt.Sprintf("use a number in %s, or widen the ranges with `sentral tenant update %s --did-range ...`", ranges, t.Name), Err: store.ErrInvalid}
	}
	return d, nil
}

// explainDID explains a store refusal like Explain, with a fix that says
// how to free a direct number already in use.
func explainDID(err error, noun string, fields map[string]string) error {
	e := Explain(err, noun, fields)
	if pe, ok := e.(*Error); ok && errors.Is(err, store.ErrExists) && pe.Field == "--did" {
		pe.Fix = "choose another number, or first take it from its holder (`sentral ext update NUMBER --did \"\"`, `sentral group update NUMBER --did \"\"`, or `sentral tenant update NAME --switchboard ...` for a switchboard)"
	}
	return e
}

// ParseRanges reads --ext-range / --did-range values (each may hold a
// comma-separated list) and checks they do not conflict with each other.
func ParseRanges(field string, kind store.RangeKind, values []string) ([]store.NumberRange, error) {
	var out []store.NumberRange
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			if strings.TrimSpace(part) == "" {
				continue
			}
			r, err := store.ParseRange(kind, part)
			if err != nil {
				fix := "write a range as FIRST-LAST with equally long numbers, e.g. 2000-2999"
				if kind == store.RangeDID {
					fix = "write a DID range as FIRST-LAST, e.g. 55550000-55550999 or +4755550000-+4755550999"
				}
				return nil, &Error{Field: field, Value: part, Problem: err.Error(), Fix: fix, Err: store.ErrInvalid}
			}
			for _, o := range out {
				if r.Conflicts(o) {
					return nil, Invalid(field, part, fmt.Sprintf("overlaps %s given in the same command", o), "give each block of numbers once")
				}
			}
			out = append(out, r)
		}
	}
	return out, nil
}

// ParseVisibility reads a phone-book visibility.
func ParseVisibility(field, s string) (store.Visibility, error) {
	switch v := store.Visibility(strings.ToLower(strings.TrimSpace(s))); v {
	case store.VisibilityListed, store.VisibilityInternal, store.VisibilitySecret:
		return v, nil
	}
	return "", Invalid(field, s, "unknown visibility", "use listed (public phone book), internal (employees only) or secret (switchboard only)")
}
