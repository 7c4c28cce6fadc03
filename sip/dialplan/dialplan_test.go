package dialplan

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

// internalSet builds a Plan.Internal from a list, the way routing will from
// the tenant's extensions, groups and switchboard.
func internalSet(nums ...string) func(string) bool {
	m := make(map[string]bool, len(nums))
	for _, n := range nums {
		m[n] = true
	}
	return func(s string) bool { return m[s] }
}

var (
	// Fjordvik: extensions 100, 101, 2000-2999 in the list below, a group
	// 4000, and two numbers that collide with public ones on purpose.
	fjordvikExt = internalSet("100", "101", "2000", "2345", "4000", "1881", "0112", "55550000")
	open        = Plan{Internal: fjordvikExt}
	md110       = Plan{OutsidePrefix: "0", Internal: fjordvikExt}
	// A switchboard reached on "0", as many municipalities had it, with
	// the outside line on "9".
	nine = Plan{OutsidePrefix: "9", Internal: internalSet("0", "100")}
	none = Plan{}
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name    string
		plan    Plan
		dialled string
		kind    Kind
		norm    string
		problem Problem
	}{
		// National (landline) numbers.
		{"landline 2", open, "22334455", National, "+4722334455", 0},
		{"landline 3", open, "33445566", National, "+4733445566", 0},
		{"landline 5", open, "55555555", National, "+4755555555", 0},
		{"landline 6", open, "61234567", National, "+4761234567", 0},
		{"landline 7", open, "73500000", National, "+4773500000", 0},
		{"svalbard", open, "79021234", National, "+4779021234", 0},
		{"landline +47", open, "+4722334455", National, "+4722334455", 0},
		{"landline 0047", open, "004722334455", National, "+4722334455", 0},
		{"landline nil internal", none, "22334455", National, "+4722334455", 0},

		// Mobile.
		{"mobile 4", open, "41234567", Mobile, "+4741234567", 0},
		{"mobile 9", open, "91234567", Mobile, "+4791234567", 0},
		{"mobile +47 4", open, "+4747123456", Mobile, "+4747123456", 0},
		{"mobile 0047 9", open, "004798765432", Mobile, "+4798765432", 0},
		{"mobile with prefix", md110, "091234567", Mobile, "+4791234567", 0},

		// Special-rate series.
		{"freephone", open, "80012345", Freephone, "+4780012345", 0},
		{"freephone +47", open, "+4780030050", Freephone, "+4780030050", 0},
		{"shared cost 810", open, "81012345", SharedCost, "+4781012345", 0},
		{"shared cost 815", open, "81549300", SharedCost, "+4781549300", 0},
		{"premium 820", open, "82012345", Premium, "+4782012345", 0},
		{"premium 829", open, "82912345", Premium, "+4782912345", 0},
		{"premium 825", open, "82512345", Premium, "+4782512345", 0},
		{"unknown 8xx fails closed", open, "85012345", Premium, "+4785012345", 0},
		{"unknown 801 fails closed", open, "80112345", Premium, "+4780112345", 0},

		// International.
		{"00 sweden", open, "00468123456", International, "+468123456", 0},
		{"+ sweden", open, "+468123456", International, "+468123456", 0},
		{"00 uk", open, "00442079460000", International, "+442079460000", 0},
		{"+1 nanp", open, "+12025550123", International, "+12025550123", 0},
		{"00 with prefix", md110, "000468123456", International, "+468123456", 0},
		{"+ without prefix accepted", md110, "+468123456", International, "+468123456", 0},
		{"+47 without prefix accepted", md110, "+4722334455", National, "+4722334455", 0},
		{"prefix then +", md110, "0+468123456", International, "+468123456", 0},
		{"prefix then +47", md110, "0 +47 22 33 44 55", National, "+4722334455", 0},
		{"15 digits", open, "+123456789012345", International, "+123456789012345", 0},
		{"niue 7 digits", open, "+6831234", International, "+6831234", 0},
		{"16 digits", open, "+1234567890123456", Invalid, "", TooLong},
		{"16 digits 00", open, "001234567890123456", Invalid, "", TooLong},
		{"6 digits", open, "+683123", Invalid, "", Incomplete},
		{"country code 0", open, "+0123456789", Invalid, "", Unassigned},
		{"000", open, "000123456789", Invalid, "", Unassigned},
		{"just +", open, "+", Invalid, "", Incomplete},
		{"just 00", open, "00", Invalid, "", Incomplete},
		{"+47 alone", open, "+47", Invalid, "", Incomplete},
		{"+47 too long", open, "+47223344556", Invalid, "", TooLong},
		{"+47 too short", open, "+472233445", Invalid, "", Incomplete},
		{"0047 then 0", open, "0047022334455", Invalid, "", Unassigned},

		// Short numbers, presented as +47 + the short number.
		{"1xx", open, "120", Short, "+47120", 0},
		{"1881", none, "1881", Short, "+471881", 0},
		{"1850", open, "1850", Short, "+471850", 0},
		{"116117", open, "116117", Short, "+47116117", 0},
		{"116000", open, "116 000", Short, "+47116000", 0},
		{"0xxxx", open, "02800", Short, "+4702800", 0},
		{"0xxxx separators", open, "02-800", Short, "+4702800", 0},
		{"short +47", open, "+471881", Short, "+471881", 0},
		{"short 0047", open, "0047116117", Short, "+47116117", 0},
		{"short with prefix", md110, "0116117", Short, "+47116117", 0},
		{"0xxxx with prefix", md110, "002800", Short, "+4702800", 0},
		{"1881 with prefix", md110, "01881", Short, "+471881", 0},
		{"116 alone", open, "116", Invalid, "", Incomplete},
		{"116 5 digits", open, "11611", Invalid, "", Incomplete},
		{"11", open, "11", Invalid, "", Incomplete},
		{"1", open, "1", Invalid, "", Incomplete},
		{"1xxxx", open, "12345", Invalid, "", Unassigned},
		{"1xxxxx", open, "123456", Invalid, "", Unassigned},
		{"0xxx", open, "0280", Invalid, "", Incomplete},
		{"00xxx is not short", md110, "000280", Invalid, "", Incomplete},

		// Emergency in every form.
		{"110", open, "110", Emergency, "+47110", 0},
		{"112", open, "112", Emergency, "+47112", 0},
		{"113", open, "113", Emergency, "+47113", 0},
		{"+47112", open, "+47112", Emergency, "+47112", 0},
		{"0047112", open, "0047112", Emergency, "+47112", 0},
		{"0047110 separators", open, "00 47 110", Emergency, "+47110", 0},
		{"112 no internal", none, "112", Emergency, "+47112", 0},
		{"112 md110 without prefix", md110, "112", Emergency, "+47112", 0},
		{"0112 md110", md110, "0112", Emergency, "+47112", 0},
		{"0113 md110", md110, "0 113", Emergency, "+47113", 0},
		{"0+47112 md110", md110, "0+47112", Emergency, "+47112", 0},
		{"00047112 md110", md110, "00047112", Emergency, "+47112", 0},
		{"+47110 md110", md110, "+47110", Emergency, "+47110", 0},
		{"9112 nine", nine, "9112", Emergency, "+47112", 0},
		{"0112 nine", nine, "0112", Emergency, "+47112", 0},
		{"0112 without prefix plan", open, "0112", Emergency, "+47112", 0},
		{"emergency beats internal", open, "0112", Emergency, "+47112", 0},
		{"emergency with params", open, "112;phone-context=+47", Emergency, "+47112", 0},
		{"emergency escaped", open, "%2B47112", Emergency, "+47112", 0},
		{"emergency dotted", open, "1.1.2", Emergency, "+47112", 0},
		{"emergency parens", open, "(+47) 113", Emergency, "+47113", 0},
		{"111 is short", open, "111", Short, "+47111", 0},
		{"1120 is short", open, "1120", Short, "+471120", 0},

		// Internal numbers.
		{"extension", open, "101", Internal, "101", 0},
		{"extension range", open, "2345", Internal, "2345", 0},
		{"group", open, "4000", Internal, "4000", 0},
		{"internal beats short", open, "1881", Internal, "1881", 0},
		{"internal DID", open, "55550000", Internal, "55550000", 0},
		{"extension md110", md110, "101", Internal, "101", 0},
		{"extension separators", md110, "2-345", Internal, "2345", 0},
		{"switchboard 0", nine, "0", Internal, "0", 0},
		{"extension nine", nine, "100", Internal, "100", 0},
		{"external nine", nine, "922334455", National, "+4722334455", 0},
		{"unknown extension", open, "102", Short, "+47102", 0},

		// Outside-line prefix.
		{"prefix national", md110, "022334455", National, "+4722334455", 0},
		{"prefix 0047", md110, "0004722334455", National, "+4722334455", 0},
		{"prefix required", md110, "22334455", Invalid, "", PrefixRequired},
		{"prefix required mobile", md110, "91234567", Invalid, "", PrefixRequired},
		{"prefix required short", md110, "116117", Invalid, "", PrefixRequired},
		{"prefix required unknown ext", md110, "102", Invalid, "", PrefixRequired},
		{"prefix required 00 style", nine, "0046812345", Invalid, "", PrefixRequired},
		{"prefix alone", md110, "0", Invalid, "", Incomplete},
		{"prefix and 0047 forgotten", md110, "004722334455", Invalid, "", Unassigned},
		{"no prefix plan, MD110 habit", open, "022334455", Invalid, "", Unassigned},

		// Separators and SIP user-part forms.
		{"spaces", open, "22 33 44 55", National, "+4722334455", 0},
		{"dashes", open, "223-34-455", National, "+4722334455", 0},
		{"dots", open, "22.33.44.55", National, "+4722334455", 0},
		{"parens", open, "(+47) 22 33 44 55", National, "+4722334455", 0},
		{"phone-context", open, "22334455;phone-context=+47", National, "+4722334455", 0},
		{"phone-context +", open, "+4722334455;phone-context=example.com", National, "+4722334455", 0},
		{"escaped plus", open, "%2B4722334455", National, "+4722334455", 0},
		{"escaped space", open, "22%2033%2044%2055", National, "+4722334455", 0},
		{"escaped semicolon is junk", open, "22334455%3Bx", Invalid, "", Junk},
		{"broken escape", open, "22%2", Invalid, "", Junk},
		{"broken escape hex", open, "22%zz", Invalid, "", Junk},

		// Junk.
		{"letters", open, "22a34455", Invalid, "", Junk},
		{"sip scheme", open, "sip:22334455", Invalid, "", Junk},
		{"star code", open, "*21*101", Invalid, "", Junk},
		{"hash", open, "22334455#", Invalid, "", Junk},
		{"plus inside", open, "22+334455", Invalid, "", Junk},
		{"double plus", open, "++4722334455", Invalid, "", Junk},
		{"plus after wrong prefix", nine, "0+4722334455", Invalid, "", Junk},
		{"nul", open, "22\x003344", Invalid, "", Junk},
		{"newline", open, "112\r\n", Invalid, "", Junk},
		{"tab", open, "22\t334455", Invalid, "", Junk},
		{"unicode digit", open, "２２334455", Invalid, "", Junk},
		{"empty", open, "", Invalid, "", Empty},
		{"only separators", open, " - . ( ) ", Invalid, "", Empty},
		{"only params", open, ";phone-context=+47", Invalid, "", Empty},

		// Lengths.
		{"7 digits", open, "2233445", Invalid, "", Incomplete},
		{"9 digits", open, "223344556", Invalid, "", TooLong},
		{"10 digits 47 without prefix", open, "4722334455", Invalid, "", TooLong},
		{"10 digits internal", Plan{Internal: internalSet("4722334455")}, "4722334455", Internal, "4722334455", 0},
		{"8 digits starting 0", open, "01234567", Invalid, "", Unassigned},
		{"8 digits starting 1", open, "12345678", Invalid, "", Unassigned},
		{"1 then 9 digits", open, "1234567890", Invalid, "", TooLong},
		{"over 32 digits", open, strings.Repeat("2", 33), Invalid, "", TooLong},
		{"over 256 chars", open, strings.Repeat(" ", 255) + "12", Invalid, "", TooLong},
		{"256 chars ok", open, strings.Repeat(" ", 253) + "112", Emergency, "+47112", 0},

		// Broken plan.
		{"bad prefix", Plan{OutsidePrefix: "x"}, "022334455", Invalid, "", Junk},
		{"long prefix", Plan{OutsidePrefix: "00000"}, "22334455", Invalid, "", Junk},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		if seen[tt.name] {
			t.Fatalf("duplicate test name %q", tt.name)
		}
		seen[tt.name] = true
		t.Run(tt.name, func(t *testing.T) {
			n, err := Classify(tt.plan, tt.dialled)
			if tt.problem != 0 {
				var de *Error
				if !errors.As(err, &de) {
					t.Fatalf("Classify(%q) = %+v, %v; want *Error %v", tt.dialled, n, err, tt.problem)
				}
				if de.Problem != tt.problem {
					t.Fatalf("Classify(%q) problem = %v (%v); want %v", tt.dialled, de.Problem, err, tt.problem)
				}
				if n != (Number{}) {
					t.Errorf("Classify(%q) returned %+v with an error", tt.dialled, n)
				}
				if !strings.HasPrefix(err.Error(), "dialplan: ") || strings.ContainsAny(err.Error(), "\r\n") {
					t.Errorf("error text %q", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Classify(%q): %v", tt.dialled, err)
			}
			want := Number{Dialled: tt.dialled, Kind: tt.kind, Normalised: tt.norm}
			if n != want {
				t.Fatalf("Classify(%q) = %+v; want %+v", tt.dialled, n, want)
			}
		})
	}
}

func TestErrorText(t *testing.T) {
	_, err := Classify(md110, "22334455")
	if got, want := err.Error(), `dialplan: "22334455": not an internal number; dial 0 before external numbers`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	_, err = Classify(open, "22a34455")
	if got, want := err.Error(), `dialplan: "22a34455": letter 'a' is not allowed in a number`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	_, err = Classify(open, "22#")
	if got, want := err.Error(), `dialplan: "22#": character '#' is not allowed in a number`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	_, err = Classify(open, strings.Repeat("9", 100))
	if got := err.Error(); len(got) > 120 || !strings.Contains(got, `..."`) {
		t.Errorf("long input not shortened in error: %q", got)
	}
}

func TestDomestic(t *testing.T) {
	tests := []struct{ dialled, want string }{
		{"+4722334455", "22334455"},
		{"91234567", "91234567"},
		{"+471881", "1881"},
		{"0047112", "112"},
		{"02800", "02800"},
		{"+468123456", "00468123456"},
		{"101", "101"},
	}
	for _, tt := range tests {
		n, err := Classify(open, tt.dialled)
		if err != nil {
			t.Fatal(err)
		}
		if got := n.Domestic(); got != tt.want {
			t.Errorf("Domestic(%q) = %q, want %q", tt.dialled, got, tt.want)
		}
	}
	if got := (Number{}).Domestic(); got != "" {
		t.Errorf("zero Number Domestic = %q", got)
	}
}

func TestPlanValidate(t *testing.T) {
	for _, p := range []string{"", "0", "9", "00", "0000"} {
		if err := (Plan{OutsidePrefix: p}).Validate(); err != nil {
			t.Errorf("prefix %q: %v", p, err)
		}
	}
	for _, p := range []string{"x", "+", "0 ", "00000", "٠"} {
		if err := (Plan{OutsidePrefix: p}).Validate(); err == nil {
			t.Errorf("prefix %q accepted", p)
		}
	}
}

func TestKindStrings(t *testing.T) {
	for k := Invalid; k <= International+1; k++ {
		if k.String() == "" {
			t.Errorf("Kind(%d) has no name", k)
		}
	}
	if Internal.External() || Invalid.External() || !Emergency.External() || !International.External() {
		t.Error("External wrong")
	}
	for p := Problem(0); p <= PrefixRequired+1; p++ {
		if p.String() == "" {
			t.Errorf("Problem(%d) has no name", p)
		}
	}
}

var allKinds = []Kind{Internal, Emergency, Short, National, Mobile, Freephone, SharedCost, Premium, International}

func TestAllowed(t *testing.T) {
	// y: allowed; every row lists the kinds in allKinds order.
	matrix := map[string]string{
		//                int emg sho nat mob fre sha pre intl
		"internal":      "y   y   .   .   .   .   .   .   .",
		"national":      "y   y   y   y   .   y   y   .   .",
		"mobile":        "y   y   y   y   y   y   y   .   .",
		"international": "y   y   y   y   y   y   y   y   y",
		// Unknown classes fail closed to internal.
		"":              "y   y   .   .   .   .   .   .   .",
		"International": "y   y   .   .   .   .   .   .   .",
		"all":           "y   y   .   .   .   .   .   .   .",
	}
	for cos, row := range matrix {
		cells := strings.Fields(row)
		if len(cells) != len(allKinds) {
			t.Fatalf("row %q has %d cells", cos, len(cells))
		}
		for i, k := range allKinds {
			ok, reason := Allowed(cos, k)
			want := cells[i] == "y"
			if ok != want {
				t.Errorf("Allowed(%q, %v) = %v (%q), want %v", cos, k, ok, reason, want)
			}
			if ok && reason != "" {
				t.Errorf("Allowed(%q, %v) allowed with reason %q", cos, k, reason)
			}
			if !ok {
				checkReason(t, reason)
			}
		}
	}
	ok, reason := Allowed("international", Invalid)
	if ok {
		t.Error("Invalid kind allowed")
	}
	checkReason(t, reason)
	if _, reason := Allowed("mobile", International); reason != "Class of service does not allow international calls" {
		t.Errorf("reason %q", reason)
	}
	if _, reason := Allowed("bogus", National); reason != "Unknown class of service" {
		t.Errorf("reason %q", reason)
	}
}

// TestEmergencyFromInternalOnly walks the whole path routing will take for
// the one call that must never fail.
func TestEmergencyFromInternalOnly(t *testing.T) {
	for _, plan := range []Plan{open, md110, nine, none} {
		for _, d := range []string{"112", "0112", "+47 112", "0047 113", "110"} {
			n, err := Classify(plan, d)
			if err != nil || n.Kind != Emergency {
				t.Fatalf("Classify(%+v, %q) = %+v, %v", plan.OutsidePrefix, d, n, err)
			}
			if ok, reason := Allowed("internal", n.Kind); !ok {
				t.Fatalf("emergency refused: %s", reason)
			}
		}
	}
}

var reasonRE = regexp.MustCompile(`^[A-Za-z][ -~]{0,63}$`)

func checkReason(t *testing.T, reason string) {
	t.Helper()
	if !reasonRE.MatchString(reason) {
		t.Errorf("reason %q is not a short ASCII reason phrase", reason)
	}
}

// TestDocExamples keeps the examples table in docs/dialplan.md honest.
func TestDocExamples(t *testing.T) {
	ext := func(s string) bool {
		return len(s) == 3 && s >= "100" && s <= "199" || len(s) == 4 && s >= "2000" && s <= "2999"
	}
	prefixed := Plan{OutsidePrefix: "0", Internal: ext}
	tests := []struct {
		plan          Plan
		dialled, norm string
		kind          Kind
	}{
		{prefixed, "112", "+47112", Emergency},
		{prefixed, "0112", "+47112", Emergency},
		{prefixed, "+47 113", "+47113", Emergency},
		{prefixed, "0047110", "+47110", Emergency},
		{prefixed, "2345", "2345", Internal},
		{prefixed, "0 22 33 44 55", "+4722334455", National},
		{prefixed, "22334455", "", Invalid},
		{prefixed, "091234567", "+4791234567", Mobile},
		{prefixed, "080012345", "+4780012345", Freephone},
		{prefixed, "082912345", "+4782912345", Premium},
		{prefixed, "01881", "+471881", Short},
		{prefixed, "0116117", "+47116117", Short},
		{prefixed, "002800", "+4702800", Short},
		{prefixed, "000468123456", "+468123456", International},
		{prefixed, "+46 8 123 456", "+468123456", International},
		{prefixed, "0+4722334455", "+4722334455", National},
		{prefixed, "22a34455", "", Invalid},
		{Plan{Internal: ext}, "22334455", "+4722334455", National},
		{Plan{Internal: ext}, "00468123456", "+468123456", International},
		{Plan{Internal: ext}, "1881", "+471881", Short},
		{Plan{Internal: ext}, "022334455", "", Invalid},
	}
	for _, tt := range tests {
		n, err := Classify(tt.plan, tt.dialled)
		if (err != nil) != (tt.kind == Invalid) || n.Kind != tt.kind || n.Normalised != tt.norm {
			t.Errorf("%q (prefix %q): got %+v, %v; doc says %v %q", tt.dialled, tt.plan.OutsidePrefix, n, err, tt.kind, tt.norm)
		}
	}
}
