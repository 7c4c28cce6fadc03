package provisioning

import (
	"strings"
	"testing"
)

func TestPasswordPolicy(t *testing.T) {
	p := DefaultPasswordPolicy()
	tests := []struct {
		pw, ext string
		ok      bool
	}{
		{"Tr0ll-Fjord", "2001", true},
		{"kort1A", "2001", false},              // too short
		{"alllowercaseletters", "2001", false}, // one class
		{"Abcdefghij1", "2001", true},
		{"Xy-2001-abcd", "2001", false}, // contains the number
		{"Passord-123x", "2001", false}, // common word, any case
		{"Sommer2025!!", "2001", false},
	}
	for _, tt := range tests {
		err := p.Check(tt.pw, tt.ext)
		if (err == nil) != tt.ok {
			t.Errorf("Check(%q, %q) = %v, want ok=%v", tt.pw, tt.ext, err, tt.ok)
		}
	}
}

func TestGeneratePasswordPassesPolicy(t *testing.T) {
	p := PasswordPolicy{MinLength: 16, MinClasses: 4}
	for range 200 {
		pw, err := GeneratePassword()
		if err != nil {
			t.Fatal(err)
		}
		// A random password may by chance contain a common word or an
		// extension number; those are the only refusals tolerated here.
		if err := p.Check(pw, ""); err != nil && !strings.Contains(err.Error(), "commonly guessed") {
			t.Fatalf("generated %q fails the strictest policy: %v", pw, err)
		}
	}
}

func TestPINPolicy(t *testing.T) {
	p := DefaultPINPolicy()
	tests := []struct {
		pin, ext string
		ok       bool
	}{
		{"4711", "2001", true},
		{"123", "2001", false},       // too short
		{"123456789", "2001", false}, // too long
		{"1234", "2001", false},      // run up
		{"4321", "2001", false},      // run down
		{"0000", "2001", false},      // repeated
		{"2001", "2001", false},      // the number
		{"12a4", "2001", false},      // not digits
		{"90210", "2001", true},
	}
	for _, tt := range tests {
		err := p.Check(tt.pin, tt.ext)
		if (err == nil) != tt.ok {
			t.Errorf("Check(%q, %q) = %v, want ok=%v", tt.pin, tt.ext, err, tt.ok)
		}
	}
}

func TestCheckPasswordNamesFieldAndPolicy(t *testing.T) {
	s := New(nil, Policies{Password: DefaultPasswordPolicy(), PIN: DefaultPINPolicy()})
	err := s.checkPassword("--password", "2001", "secret")
	if err == nil {
		t.Fatal("weak password accepted")
	}
	if f := fieldOf(t, err); f != "--password" {
		t.Errorf("field = %q", f)
	}
	if !strings.Contains(err.Error(), "password policy") || strings.Contains(err.Error(), "secret") {
		t.Errorf("refusal %q should name the policy and not echo the password", err)
	}
}
