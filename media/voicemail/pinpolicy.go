package voicemail

import (
	"errors"
	"fmt"
)

// PIN length limits: four digits is what every phone user expects; eight
// is as many as anyone types on a keypad.
const (
	minPINLen = 4
	maxPINLen = 8
)

// ErrWeakPIN marks a PIN ValidatePIN refuses.
var ErrWeakPIN = errors.New("voicemail: PIN not allowed")

// ValidatePIN checks a new PIN: 4-8 digits, not one digit repeated
// (1111) and not a run up or down (1234, 9876): those are the first
// guesses of anyone trying mailboxes.
func ValidatePIN(pin string) error {
	if len(pin) < minPINLen || len(pin) > maxPINLen {
		return fmt.Errorf("%w: %d digits, want %d-%d", ErrWeakPIN, len(pin), minPINLen, maxPINLen)
	}
	for i := 0; i < len(pin); i++ {
		if pin[i] < '0' || pin[i] > '9' {
			return fmt.Errorf("%w: not all digits", ErrWeakPIN)
		}
	}
	same, up, down := true, true, true
	for i := 1; i < len(pin); i++ {
		d := int(pin[i]) - int(pin[i-1])
		same = same && d == 0
		up = up && d == 1
		down = down && d == -1
	}
	if same || up || down {
		return fmt.Errorf("%w: a repeated digit or a simple run", ErrWeakPIN)
	}
	return nil
}
