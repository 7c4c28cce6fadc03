package provisioning

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"strings"
	"unicode"
)

// PasswordPolicy is what a SIP password must satisfy. SIP scanners on the
// internet try the extension number, short digit strings and a handful of
// favourites first; the defaults refuse all of those.
type PasswordPolicy struct {
	MinLength  int `yaml:"min_length"`  // characters
	MinClasses int `yaml:"min_classes"` // of lower case, upper case, digits, symbols
}

// DefaultPasswordPolicy is 10 characters from at least 3 classes.
func DefaultPasswordPolicy() PasswordPolicy { return PasswordPolicy{MinLength: 10, MinClasses: 3} }

// Validate checks the policy itself is sane.
func (p PasswordPolicy) Validate() error {
	if p.MinLength < 8 || p.MinLength > 128 {
		return fmt.Errorf("min_length %d: use 8 to 128", p.MinLength)
	}
	if p.MinClasses < 1 || p.MinClasses > 4 {
		return fmt.Errorf("min_classes %d: use 1 to 4", p.MinClasses)
	}
	return nil
}

// common are passwords SIP scanners try first; refused whatever the policy.
var common = []string{"password", "passord", "sommer", "vinter", "qwerty", "123456", "admin", "sentral", "welcome", "velkommen"}

// Check returns why password is too weak for the extension, or nil.
func (p PasswordPolicy) Check(password, extension string) error {
	if len([]rune(password)) < p.MinLength {
		return fmt.Errorf("password is too short: use at least %d characters", p.MinLength)
	}
	if n := classes(password); n < p.MinClasses {
		return fmt.Errorf("password uses %d kinds of characters: mix at least %d of lower case, upper case, digits and symbols", n, p.MinClasses)
	}
	lower := strings.ToLower(password)
	if extension != "" && strings.Contains(lower, extension) {
		return fmt.Errorf("password contains the extension number")
	}
	for _, c := range common {
		if strings.Contains(lower, c) {
			return fmt.Errorf("password contains the commonly guessed word %q", c)
		}
	}
	return nil
}

func classes(s string) int {
	var lo, up, dig, sym int
	for _, r := range s {
		switch {
		case unicode.IsLower(r):
			lo = 1
		case unicode.IsUpper(r):
			up = 1
		case unicode.IsDigit(r):
			dig = 1
		default:
			sym = 1
		}
	}
	return lo + up + dig + sym
}

// GeneratePassword returns a random password that satisfies any policy up
// to 16 characters and 4 classes, from an alphabet without look-alikes
// (0/O, 1/l/I) so it can be typed into a phone's web page from a printout.
func GeneratePassword() (string, error) {
	sets := []string{"abcdefghijkmnpqrstuvwxyz", "ABCDEFGHJKLMNPQRSTUVWXYZ", "23456789", "-_.+"}
	all := strings.Join(sets, "")
	out := make([]byte, 0, 16)
	pick := func(set string) error {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(set))))
		if err != nil {
			return fmt.Errorf("generate password: %w", err)
		}
		out = append(out, set[n.Int64()])
		return nil
	}
	for _, s := range sets {
		if err := pick(s); err != nil {
			return "", err
		}
	}
	for len(out) < 16 {
		if err := pick(all); err != nil {
			return "", err
		}
	}
	// Shuffle so the class order does not leak.
	for i := len(out) - 1; i > 0; i-- {
		j, err := rand.Int(rand.Reader, big.NewInt(int64(i+1)))
		if err != nil {
			return "", fmt.Errorf("generate password: %w", err)
		}
		out[i], out[j.Int64()] = out[j.Int64()], out[i]
	}
	return string(out), nil
}

// PINPolicy is what a voicemail PIN must satisfy.
type PINPolicy struct {
	MinLength int `yaml:"min_length"`
	MaxLength int `yaml:"max_length"`
}

// DefaultPINPolicy is 4 to 8 digits.
func DefaultPINPolicy() PINPolicy { return PINPolicy{MinLength: 4, MaxLength: 8} }

// Validate checks the policy itself is sane.
func (p PINPolicy) Validate() error {
	if p.MinLength < 4 || p.MaxLength > 16 || p.MinLength > p.MaxLength {
		return fmt.Errorf("pin lengths %d-%d: use a minimum of at least 4 and a maximum of at most 16", p.MinLength, p.MaxLength)
	}
	return nil
}

// Check returns why pin is unacceptable for the extension, or nil.
func (p PINPolicy) Check(pin, extension string) error {
	if len(pin) < p.MinLength || len(pin) > p.MaxLength {
		return fmt.Errorf("PIN must have %d to %d digits", p.MinLength, p.MaxLength)
	}
	up, down, same := true, true, true
	for i := 0; i < len(pin); i++ {
		if pin[i] < '0' || pin[i] > '9' {
			return fmt.Errorf("PIN may only contain digits (it is typed on a phone keypad)")
		}
		if i > 0 {
			up = up && pin[i] == pin[i-1]+1
			down = down && pin[i] == pin[i-1]-1
			same = same && pin[i] == pin[i-1]
		}
	}
	if up || down || same {
		return fmt.Errorf("PIN is a run or a repeated digit, the first thing anyone tries")
	}
	if pin == extension {
		return fmt.Errorf("PIN equals the extension number")
	}
	return nil
}
