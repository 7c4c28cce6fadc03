// Package dialplan turns what a user dialled into a classified, normalised
// number and decides whether a class of service may call it. It is pure
// decision logic: no I/O and no package state, so routing can call it for
// every INVITE and every rule can be listed in a table test.
//
// The rules, in the order they are applied (docs/dialplan.md has the
// admin's version with examples):
//  1. Cleaning: parameters after ';' (phone-context and the like) are
//     dropped, URL escapes are decoded, visual separators (space - . ( ))
//     are removed. Anything else that is not a digit, or a '+' anywhere but
//     at the start or straight after the outside-line prefix, is an error.
//  2. Emergency: 110, 112 and 113, also as +47/0047 and behind the plan's
//     outside-line prefix or a "0", are Emergency before anything else is
//     looked at, internal numbers included.
//  3. Internal: Plan.Internal decides, on the cleaned string.
//  4. Outside-line prefix: when the plan has one, digit strings must start
//     with it and it is stripped; numbers starting with '+' are accepted
//     without it because they cannot be mistaken for an extension.
//  5. External: "+" or "00" starts an international number (+47 and 0047
//     lead back to the Norwegian rules); otherwise the Norwegian plan
//     applies: 8-digit numbers by series, and the short service numbers.
package dialplan

import (
	"fmt"
	"net/url"
	"strings"
	"unicode"
)

// Kind is the class of a dialled number; class of service is decided on it.
type Kind int

// Kinds, in no particular order of privilege (see Allowed for that).
const (
	// Invalid is only returned together with an error.
	Invalid Kind = iota
	// Internal numbers are the tenant's own extensions, groups and
	// switchboard, as Plan.Internal says; they never leave the PBX.
	Internal
	// Emergency numbers (110 fire, 112 police, 113 ambulance) are always
	// allowed and always win over every other reading of the digits.
	Emergency
	// Short numbers are Norwegian service numbers: 1xx, 1xxx (e.g. 1881),
	// 116xxx (harmonised European services) and 0xxxx (e.g. 02800).
	Short
	// National numbers are 8-digit Norwegian numbers starting with 2, 3,
	// 5, 6 or 7 (the former landline series).
	National
	// Mobile numbers are 8-digit Norwegian numbers starting with 4 or 9.
	Mobile
	// Freephone numbers are the 800 series, free to the caller.
	Freephone
	// SharedCost numbers are the 810 and 815 series: the caller pays about
	// a normal call.
	SharedCost
	// Premium numbers are the 820-829 premium-rate (content) series and
	// every other 8xx series we do not know: unknown special-rate numbers
	// may cost anything, so they need the widest class of service.
	Premium
	// International numbers are everything outside +47.
	International
)

// String gives the lower-case name used in logs and call records.
func (k Kind) String() string {
	switch k {
	case Internal:
		return "internal"
	case Emergency:
		return "emergency"
	case Short:
		return "short"
	case National:
		return "national"
	case Mobile:
		return "mobile"
	case Freephone:
		return "freephone"
	case SharedCost:
		return "shared-cost"
	case Premium:
		return "premium"
	case International:
		return "international"
	}
	return "invalid"
}

// External reports whether a call to this kind leaves the PBX, so routing
// knows to pick a trunk.
func (k Kind) External() bool { return k != Invalid && k != Internal }

// Plan is one tenant's dialling rules, built by the caller from store data
// so this package never needs the store.
type Plan struct {
	// OutsidePrefix is the digit string dialled before external numbers
	// ("0" on the old Ericsson MD110 switchboards), or "" when anything
	// that is not internal is external. Digits only, at most 4.
	OutsidePrefix string
	// Internal reports whether a cleaned number (digits, possibly with a
	// leading '+') is one of the tenant's extensions, groups or its
	// switchboard. It may also claim the tenant's own DIDs so they stay
	// on the PBX. Nil means nothing is internal. It must be pure and
	// cheap: it is called once per Classify.
	Internal func(number string) bool
}

// Validate reports a plan that cannot work, so provisioning can refuse it
// when it is saved rather than on the first call.
func (p Plan) Validate() error {
	if len(p.OutsidePrefix) > maxPrefix {
		return fmt.Errorf("dialplan: outside-line prefix %q is longer than %d digits", p.OutsidePrefix, maxPrefix)
	}
	for _, c := range p.OutsidePrefix {
		if c < '0' || c > '9' {
			return fmt.Errorf("dialplan: outside-line prefix %q is not all digits", p.OutsidePrefix)
		}
	}
	return nil
}

// Number is a classified dialled number.
type Number struct {
	// Dialled is the string as received, for logs and call records.
	Dialled string
	Kind    Kind
	// Normalised is the bare cleaned number for Internal, and E.164 with
	// '+' for every other kind. Short and emergency numbers are "+47"
	// followed by the short number ("+47112", "+471881", "+4702800"),
	// which is how Norwegian SIP trunks commonly take them; Domestic gives
	// the plain short form for trunks that want that.
	Normalised string
}

// Domestic gives the number as a phone in Norway would dial it without an
// outside-line prefix, for trunks that want national format: 8 digits for
// Norwegian numbers, the short number for Short and Emergency, 00 and the
// country code for International, and the number itself for Internal.
func (n Number) Domestic() string {
	switch n.Kind {
	case Internal:
		return n.Normalised
	case International:
		return "00" + strings.TrimPrefix(n.Normalised, "+")
	case Invalid:
		return ""
	}
	return strings.TrimPrefix(n.Normalised, "+47")
}

// Problem says why a dialled string was refused, so routing can choose a
// SIP response (484 for Incomplete, 404 or 604 for the rest) without
// parsing text.
type Problem int

// Problems.
const (
	// Empty: nothing but separators or parameters.
	Empty Problem = iota + 1
	// Junk: characters that are neither digits nor visual separators, a
	// misplaced '+', a broken URL escape, or a plan that does not validate.
	Junk
	// Incomplete: too few digits for any rule; more digits could make a
	// valid number (overlap dialling answers 484).
	Incomplete
	// TooLong: more digits than any rule allows (15 for E.164, 8 for a
	// Norwegian number).
	TooLong
	// Unassigned: the length is plausible but no number series matches,
	// e.g. an 8-digit number starting with 0 or 1.
	Unassigned
	// PrefixRequired: not internal, and the plan wants the outside-line
	// prefix before external numbers.
	PrefixRequired
)

// String names the problem for logs.
func (p Problem) String() string {
	switch p {
	case Empty:
		return "empty"
	case Junk:
		return "junk"
	case Incomplete:
		return "incomplete"
	case TooLong:
		return "too long"
	case Unassigned:
		return "unassigned"
	case PrefixRequired:
		return "prefix required"
	}
	return "unknown"
}

// Error is returned by Classify; Detail is written for an admin reading the
// log, Problem for code choosing a response.
type Error struct {
	Dialled string
	Problem Problem
	Detail  string
}

func (e *Error) Error() string {
	d := e.Dialled
	if len(d) > maxEcho {
		d = d[:maxEcho] + "..."
	}
	return fmt.Sprintf("dialplan: %q: %s", d, e.Detail)
}

const (
	maxPrefix = 4
	// maxDialled bounds the raw input (parameters included) so nobody can
	// make us clean megabytes.
	maxDialled = 256
	// maxCleaned bounds what Plan.Internal is asked about; no extension,
	// prefix plus E.164 number comes near it.
	maxCleaned = 32
	maxEcho    = 64
	// maxE164 is the ITU-T E.164 limit, country code included.
	maxE164 = 15
	// minInternational is the shortest assigned international number,
	// country code included (Niue, Tokelau: 3-digit code, 4-digit number).
	minInternational = 7
	nationalLen      = 8
)

// Classify cleans, classifies and normalises a dialled string (a SIP
// request-URI user part, or a tel: number) under a tenant's plan.
func Classify(p Plan, dialled string) (Number, error) {
	fail := func(pr Problem, format string, args ...any) (Number, error) {
		return Number{}, &Error{Dialled: dialled, Problem: pr, Detail: fmt.Sprintf(format, args...)}
	}
	if err := p.Validate(); err != nil {
		return fail(Junk, "plan: %v", err)
	}
	if len(dialled) > maxDialled {
		return fail(TooLong, "longer than %d characters", maxDialled)
	}
	s, pr, detail := clean(p, dialled)
	if pr != 0 {
		return fail(pr, "%s", detail)
	}
	if e, ok := emergency(p, s); ok {
		return Number{Dialled: dialled, Kind: Emergency, Normalised: "+47" + e}, nil
	}
	if len(s) > maxCleaned {
		return fail(TooLong, "more than %d digits", maxCleaned)
	}
	if p.Internal != nil && p.Internal(s) {
		return Number{Dialled: dialled, Kind: Internal, Normalised: s}, nil
	}
	rest := s
	if pre := p.OutsidePrefix; pre != "" {
		switch {
		case strings.HasPrefix(s, pre):
			rest = s[len(pre):]
			if rest == "" {
				return fail(Incomplete, "only the outside-line prefix %s was dialled", pre)
			}
		case s[0] == '+':
			// E.164 from a directory or click-to-dial: cannot be an
			// extension, so the prefix would add nothing.
		default:
			return fail(PrefixRequired, "not an internal number; dial %s before external numbers", pre)
		}
	}
	k, norm, pr, detail := external(rest)
	if pr != 0 {
		return fail(pr, "%s", detail)
	}
	return Number{Dialled: dialled, Kind: k, Normalised: norm}, nil
}

// clean drops parameters, decodes escapes and removes visual separators. A
// '+' is kept only where it can mean "international": first, or right after
// the outside-line prefix (phones that put the prefix before every stored
// number).
func clean(p Plan, dialled string) (string, Problem, string) {
	s := dialled
	if i := strings.IndexByte(s, ';'); i >= 0 {
		// Cut before unescaping: an escaped %3B is data, not a parameter
		// separator, and will be refused as junk below.
		s = s[:i]
	}
	if strings.IndexByte(s, '%') >= 0 {
		u, err := url.PathUnescape(s)
		if err != nil {
			return "", Junk, "broken URL escape"
		}
		s = u
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9':
			b.WriteRune(c)
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')':
		case c == '+':
			sofar := b.String()
			if sofar != "" && (p.OutsidePrefix == "" || sofar != p.OutsidePrefix) {
				return "", Junk, "'+' is only allowed at the start of a number"
			}
			b.WriteRune(c)
		case unicode.IsLetter(c):
			return "", Junk, fmt.Sprintf("letter %q is not allowed in a number", c)
		default:
			return "", Junk, fmt.Sprintf("character %q is not allowed in a number", c)
		}
	}
	out := b.String()
	if out == "" {
		return "", Empty, "no digits"
	}
	if strings.HasSuffix(out, "+") {
		return "", Incomplete, "nothing after '+'"
	}
	return out, 0, ""
}

// emergency finds 110, 112 or 113 behind any of the prefixes a caller in a
// hurry might use. "0" is accepted even when the plan's prefix is another
// or none: people carry MD110 habits from switchboard to switchboard, and
// 0110-0113 mean nothing else in the Norwegian plan.
func emergency(p Plan, s string) (string, bool) {
	for _, pre := range [...]string{"", p.OutsidePrefix, "0"} {
		if !strings.HasPrefix(s, pre) {
			continue
		}
		r := s[len(pre):]
		for _, cc := range [...]string{"", "+47", "0047"} {
			if !strings.HasPrefix(r, cc) {
				continue
			}
			if n := r[len(cc):]; isEmergency(n) {
				return n, true
			}
		}
	}
	return "", false
}

func isEmergency(n string) bool { return n == "110" || n == "112" || n == "113" }

// external classifies a number with any outside-line prefix already gone.
func external(s string) (Kind, string, Problem, string) {
	var intl string
	switch {
	case strings.HasPrefix(s, "+"):
		intl = s[1:]
	case strings.HasPrefix(s, "00"):
		intl = s[2:]
	default:
		return norwegian(s, "")
	}
	switch {
	case intl == "":
		return Invalid, "", Incomplete, "country code missing"
	case intl[0] == '0':
		return Invalid, "", Unassigned, "country codes never start with 0"
	case strings.HasPrefix(intl, "47"):
		return norwegian(intl[2:], "after +47 ")
	case len(intl) > maxE164:
		return Invalid, "", TooLong, fmt.Sprintf("%d digits; international numbers have at most %d", len(intl), maxE164)
	case len(intl) < minInternational:
		return Invalid, "", Incomplete, fmt.Sprintf("%d digits; international numbers have at least %d", len(intl), minInternational)
	}
	return International, "+" + intl, 0, ""
}

// norwegian classifies a national significant number: what follows +47,
// or what a Norwegian phone dials without 00. where prefixes the error
// detail so the admin sees which reading failed.
func norwegian(n, where string) (Kind, string, Problem, string) {
	bad := func(pr Problem, detail string) (Kind, string, Problem, string) {
		return Invalid, "", pr, where + detail
	}
	if n == "" {
		return bad(Incomplete, "no digits")
	}
	e164 := "+47" + n
	if isEmergency(n) {
		return Emergency, e164, 0, ""
	}
	switch n[0] {
	case '0':
		switch {
		case len(n) < 5:
			return bad(Incomplete, "0xxxx service numbers have 5 digits")
		case len(n) == 5 && n[1] != '0':
			return Short, e164, 0, ""
		}
		return bad(Unassigned, "no Norwegian number starts with 0 except 5-digit 0xxxx service numbers; international numbers start with 00")
	case '1':
		switch {
		case strings.HasPrefix(n, "116") && len(n) < 6:
			return bad(Incomplete, "116xxx service numbers have 6 digits")
		case len(n) < 3:
			return bad(Incomplete, "service numbers have at least 3 digits")
		case len(n) == 3, len(n) == 4, len(n) == 6 && strings.HasPrefix(n, "116"):
			return Short, e164, 0, ""
		case len(n) > nationalLen:
			return bad(TooLong, fmt.Sprintf("%d digits; Norwegian numbers have 8 (international numbers need 00 or +)", len(n)))
		}
		return bad(Unassigned, "no Norwegian number series matches (service numbers starting with 1 are 1xx, 1xxx or 116xxx)")
	}
	switch {
	case len(n) < nationalLen:
		return bad(Incomplete, fmt.Sprintf("%d digits; Norwegian numbers have 8", len(n)))
	case len(n) > nationalLen:
		return bad(TooLong, fmt.Sprintf("%d digits; Norwegian numbers have 8 (international numbers need 00 or +)", len(n)))
	}
	switch n[0] {
	case '4', '9':
		return Mobile, e164, 0, ""
	case '2', '3', '5', '6', '7':
		return National, e164, 0, ""
	}
	// 8xxxxxxx
	switch {
	case strings.HasPrefix(n, "800"):
		return Freephone, e164, 0, ""
	case strings.HasPrefix(n, "810"), strings.HasPrefix(n, "815"):
		return SharedCost, e164, 0, ""
	}
	return Premium, e164, 0, ""
}

// cosRank orders the store.ClassOfService values, narrowest first.
func cosRank(cos string) (int, bool) {
	switch cos {
	case "internal":
		return 0, true
	case "national":
		return 1, true
	case "mobile":
		return 2, true
	case "international":
		return 3, true
	}
	return 0, false
}

// Allowed decides whether an extension with class of service cos (a
// store.ClassOfService value) may call a number of this kind. The reason is
// fit for a SIP 403 reason phrase. An unknown class is treated as
// "internal", the narrowest: a typo in the store must not open toll fraud.
func Allowed(cos string, kind Kind) (ok bool, reason string) {
	var need int
	var denied string
	switch kind {
	case Emergency:
		return true, ""
	case Internal:
		return true, ""
	case Short:
		need, denied = 1, "Class of service does not allow service numbers"
	case National:
		need, denied = 1, "Class of service does not allow national calls"
	case Freephone:
		need, denied = 1, "Class of service does not allow freephone calls"
	case SharedCost:
		need, denied = 1, "Class of service does not allow shared-cost calls"
	case Mobile:
		need, denied = 2, "Class of service does not allow mobile calls"
	case Premium:
		need, denied = 3, "Class of service does not allow premium-rate calls"
	case International:
		need, denied = 3, "Class of service does not allow international calls"
	default:
		return false, "Invalid number"
	}
	have, known := cosRank(cos)
	if !known {
		return false, "Unknown class of service"
	}
	if have < need {
		return false, denied
	}
	return true, ""
}
