package voicemail

import "testing"

func TestValidatePIN(t *testing.T) {
	for pin, ok := range map[string]bool{
		"2580": true, "13579": true, "20251224": true, "0912": true,
		"123": false, "123456789": false, "1111": false, "1234": false, "9876": false,
		"12a4": false, "": false, "01234567": false, "76543210": false,
	} {
		if err := ValidatePIN(pin); (err == nil) != ok {
			t.Errorf("ValidatePIN(%q) = %v, want ok=%v", pin, err, ok)
		}
	}
}
