package billing

// Mask hides the last digits of an external number for reports shown to
// people who should see where money went but not whom a colleague called
// (a common rule in Norwegian municipalities). digits <= 0 returns the
// number unchanged; the format is kept, so "+47 912 34 567" with 3 gives
// "+47 912 34 xxx".
//
// A number is external when it starts with '+' or "00": the store keeps
// external numbers in E.164, so that test is exact, whereas guessing by
// length would mask the 8-digit extensions some municipalities use.
// Internal numbers are never masked.
func Mask(number string, digits int) string {
	if digits <= 0 || !External(number) {
		return number
	}
	b := []byte(number)
	// Never mask the leading "+" or "00": they say the number is
	// external, and hiding them tells the reader nothing.
	start := 1
	if b[0] == '0' {
		start = 2
	}
	for i := len(b) - 1; i >= start && digits > 0; i-- {
		if b[i] >= '0' && b[i] <= '9' {
			b[i] = 'x'
			digits--
		}
	}
	return string(b)
}

// External reports whether Mask treats the number as external.
func External(number string) bool {
	return len(number) > 1 && (number[0] == '+' || (len(number) > 2 && number[0] == '0' && number[1] == '0'))
}
