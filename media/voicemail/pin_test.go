package voicemail

import (
	"strings"
	"testing"
)

func TestHashPINRoundTrip(t *testing.T) {
	h, err := HashPIN("4711")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$pbkdf2-sha256$i=100000$") {
		t.Errorf("hash %q does not have the PHC prefix", h)
	}
	if strings.Contains(h, "4711") {
		t.Errorf("hash %q contains the PIN", h)
	}
	if !VerifyPIN(h, "4711") {
		t.Error("VerifyPIN refused the right PIN")
	}
	if VerifyPIN(h, "4712") {
		t.Error("VerifyPIN accepted a wrong PIN")
	}
	if VerifyPIN(h, "") {
		t.Error("VerifyPIN accepted an empty PIN")
	}
}

func TestHashPINSalted(t *testing.T) {
	a, _ := HashPIN("4711")
	b, _ := HashPIN("4711")
	if a == b {
		t.Error("two hashes of one PIN are equal: the salt is not random")
	}
}

func TestVerifyPINMalformed(t *testing.T) {
	good, _ := HashPIN("4711")
	parts := strings.Split(good, "$")
	for _, h := range []string{
		"",
		"4711",
		"$pbkdf2-sha1$i=1000$" + parts[3] + "$" + parts[4],
		"$pbkdf2-sha256$x=1000$" + parts[3] + "$" + parts[4],
		"$pbkdf2-sha256$i=0$" + parts[3] + "$" + parts[4],
		"$pbkdf2-sha256$i=100000$!!$" + parts[4],
		"$pbkdf2-sha256$i=100000$" + parts[3] + "$",
		good + "$extra",
	} {
		if VerifyPIN(h, "4711") {
			t.Errorf("VerifyPIN accepted malformed hash %q", h)
		}
	}
}
