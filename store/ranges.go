package store

import (
	"fmt"
	"strconv"
	"strings"
)

// Length limits of numbers. Internal numbers in Norwegian municipal networks
// are 2 to 6 digits (MD110 plans use 4 or 5); DIDs are E.164 with up to 15 digits.
const (
	MinExtensionDigits = 2
	MaxExtensionDigits = 8
	MinDIDDigits       = 8
	MaxDIDDigits       = 15
)

// ParseRange reads "2000-2999" or a single number "2000". DIDs are given in
// E.164 (+4755550000) or as 8-digit Norwegian national numbers, and are kept
// in E.164.
func ParseRange(kind RangeKind, s string) (NumberRange, error) {
	s = strings.TrimSpace(s)
	first, last, found := strings.Cut(s, "-")
	if !found {
		last = first
	}
	r := NumberRange{Kind: kind, First: strings.TrimSpace(first), Last: strings.TrimSpace(last)}
	if kind == RangeDID {
		r.First, r.Last = NormalizeDID(r.First), NormalizeDID(r.Last)
	}
	return r, r.Validate()
}

// NormalizeDID turns 0047xxxxxxxx and 8-digit national numbers into E.164
// (+47xxxxxxxx). Anything else is returned trimmed, for Validate to judge.
func NormalizeDID(s string) string {
	s = strings.TrimSpace(s)
	switch {
	case strings.HasPrefix(s, "00"):
		return "+" + s[2:]
	case len(s) == 8 && isDigits(s):
		return "+47" + s
	}
	return s
}

// String renders the range the way the CLI accepts it.
func (r NumberRange) String() string {
	if r.First == r.Last {
		return r.First
	}
	return r.First + "-" + r.Last
}

// Validate checks the range is well formed: digits only (DIDs with a leading
// +), both ends of equal length within the kind's limits, first <= last.
func (r NumberRange) Validate() error {
	lo, hi := r.digits()
	min, max := MinExtensionDigits, MaxExtensionDigits
	switch r.Kind {
	case RangeExtension:
	case RangeDID:
		min, max = MinDIDDigits, MaxDIDDigits
		if !strings.HasPrefix(r.First, "+") || !strings.HasPrefix(r.Last, "+") {
			return fmt.Errorf("DID range %s: numbers must be E.164 (+47...) or 8-digit national numbers", r)
		}
	default:
		return fmt.Errorf("range kind %q: must be %q or %q", r.Kind, RangeExtension, RangeDID)
	}
	if !isDigits(lo) || !isDigits(hi) {
		return fmt.Errorf("range %s: numbers may only contain digits", r)
	}
	if len(lo) != len(hi) {
		return fmt.Errorf("range %s: both ends must have the same number of digits", r)
	}
	if len(lo) < min || len(lo) > max {
		return fmt.Errorf("range %s: numbers must have %d to %d digits", r, min, max)
	}
	if lo > hi {
		return fmt.Errorf("range %s: first number is greater than the last", r)
	}
	return nil
}

// Contains reports whether number lies in the range.
func (r NumberRange) Contains(number string) bool {
	lo, hi := r.digits()
	n := strings.TrimPrefix(number, "+")
	if r.Kind == RangeDID && !strings.HasPrefix(number, "+") {
		return false
	}
	return len(n) == len(lo) && isDigits(n) && n >= lo && n <= hi
}

// Size is the count of numbers in the range.
func (r NumberRange) Size() int64 {
	lo, hi := r.digits()
	a, _ := strconv.ParseInt(lo, 10, 64)
	b, _ := strconv.ParseInt(hi, 10, 64)
	return b - a + 1
}

// Conflicts reports whether two ranges of the same kind cannot coexist in
// one numbering plan. DIDs conflict when they overlap. Extension ranges also
// conflict when a number of one is a prefix of a number of the other
// (2000-2999 against 20000-20999): a phone dialling 2000 could never reach
// 20001, since the switch cannot know whether more digits will follow.
func (r NumberRange) Conflicts(o NumberRange) bool {
	if r.Kind != o.Kind {
		return false
	}
	a1, a2 := r.digits()
	b1, b2 := o.digits()
	if r.Kind == RangeDID && len(a1) != len(b1) {
		return false
	}
	if len(a1) > len(b1) {
		a1, a2, b1, b2 = b1, b2, a1, a2
	}
	// Truncating the longer range to the shorter length keeps it contiguous,
	// so the prefix question becomes an interval overlap.
	n := len(a1)
	b1, b2 = b1[:n], b2[:n]
	return a1 <= b2 && b1 <= a2
}

func (r NumberRange) digits() (string, string) {
	return strings.TrimPrefix(r.First, "+"), strings.TrimPrefix(r.Last, "+")
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// InRanges reports whether number lies in one of the ranges of the kind.
func InRanges(ranges []NumberRange, kind RangeKind, number string) bool {
	for _, r := range ranges {
		if r.Kind == kind && r.Contains(number) {
			return true
		}
	}
	return false
}

// FormatRanges renders the ranges of one kind, comma separated.
func FormatRanges(ranges []NumberRange, kind RangeKind) string {
	var parts []string
	for _, r := range ranges {
		if r.Kind == kind {
			parts = append(parts, r.String())
		}
	}
	return strings.Join(parts, ",")
}
