package dialplan

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

var (
	e164RE  = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)
	shortRE = regexp.MustCompile(`^(1[0-9]{2,3}|116[0-9]{3}|0[1-9][0-9]{3})$`)
	// fuzzPlans covers no prefix, the MD110 "0", a "9" with the
	// switchboard on "0", and a plan with nothing internal.
	fuzzPlans = []Plan{open, md110, nine, none}
)

func FuzzClassify(f *testing.F) {
	for _, s := range []string{
		"22334455", "+4791234567", "004741234567", "00468123456", "+12025550123",
		"112", "0112", "+47 113", "0047110", "1881", "116117", "02800", "101",
		"80012345", "82912345", "(+47) 22-33.44 55", "%2B47112", "112;phone-context=+47",
		"22a34455", "", "+", "0+468123456", "+1234567890123456", "9112",
	} {
		for i := range fuzzPlans {
			f.Add(s, uint8(i))
		}
	}
	f.Fuzz(func(t *testing.T, dialled string, sel uint8) {
		p := fuzzPlans[int(sel)%len(fuzzPlans)]
		n, err := Classify(p, dialled)
		if err != nil {
			var de *Error
			if !errors.As(err, &de) || de.Problem < Empty || de.Problem > PrefixRequired {
				t.Fatalf("Classify(%q): error %#v is not a dialplan *Error with a Problem", dialled, err)
			}
			if n != (Number{}) {
				t.Fatalf("Classify(%q) = %+v with error %v", dialled, n, err)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "dialplan: ") || strings.ContainsAny(msg, "\r\n") {
				t.Fatalf("error text %q", msg)
			}
		} else {
			checkNumber(t, p, dialled, n)
		}

		// Separators never change the outcome (parameters and escapes
		// would be split by them, so only plain input is spread out).
		if len(dialled) <= 64 && !strings.ContainsAny(dialled, "%;") {
			for _, sep := range []string{" ", "-", ".", "(", ")"} {
				spread := spreadOut(dialled, sep)
				m, err2 := Classify(p, spread)
				if m.Kind != n.Kind || m.Normalised != n.Normalised || problemOf(err) != problemOf(err2) {
					t.Fatalf("separators changed the outcome:\n %q -> %+v, %v\n %q -> %+v, %v", dialled, n, err, spread, m, err2)
				}
			}
		}
	})
}

// checkNumber asserts what every successful classification promises.
func checkNumber(t *testing.T, p Plan, dialled string, n Number) {
	t.Helper()
	if n.Dialled != dialled {
		t.Fatalf("Dialled %q, want %q", n.Dialled, dialled)
	}
	switch {
	case n.Kind == Internal:
		if p.Internal == nil || !p.Internal(n.Normalised) {
			t.Fatalf("Classify(%q) = %+v: not internal by the plan", dialled, n)
		}
		return
	case !n.Kind.External():
		t.Fatalf("Classify(%q) = %+v without error", dialled, n)
	}
	if !e164RE.MatchString(n.Normalised) {
		t.Fatalf("Classify(%q) = %+v: not E.164", dialled, n)
	}
	d := n.Domestic()
	switch n.Kind {
	case Emergency:
		if !isEmergency(d) || n.Normalised != "+47"+d {
			t.Fatalf("Classify(%q) = %+v: emergency form", dialled, n)
		}
	case Short:
		if !shortRE.MatchString(d) || n.Normalised != "+47"+d {
			t.Fatalf("Classify(%q) = %+v: short form %q", dialled, n, d)
		}
	case International:
		if strings.HasPrefix(n.Normalised, "+47") {
			t.Fatalf("Classify(%q) = %+v: +47 is not international", dialled, n)
		}
	default:
		if len(d) != 8 || n.Normalised != "+47"+d {
			t.Fatalf("Classify(%q) = %+v: national form %q", dialled, n, d)
		}
	}
	// Both forms we hand to trunks read back as the same number.
	for _, again := range []struct {
		p Plan
		s string
	}{{p, n.Normalised}, {none, d}} {
		m, err := Classify(again.p, again.s)
		if err != nil || m.Kind != n.Kind || m.Normalised != n.Normalised {
			t.Fatalf("Classify(%q) = %+v, but %q reads back as %+v, %v", dialled, n, again.s, m, err)
		}
	}
}

func spreadOut(s, sep string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteString(sep)
		b.WriteRune(r)
	}
	return b.String()
}

func problemOf(err error) Problem {
	var de *Error
	if errors.As(err, &de) {
		return de.Problem
	}
	return 0
}
