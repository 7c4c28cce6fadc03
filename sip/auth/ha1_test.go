package auth

import "testing"

func TestHA1(t *testing.T) {
	// RFC 7616 §3.9.1 credentials; the expected values were computed
	// independently with md5sum and sha256sum over
	// "Mufasa:http-auth@example.org:Circle of Life".
	tests := []struct {
		alg, user, realm, pass, want string
	}{
		{"MD5", "Mufasa", "http-auth@example.org", "Circle of Life", "3d78807defe7de2157e2b0b6573a855f"},
		{"md5", "Mufasa", "http-auth@example.org", "Circle of Life", "3d78807defe7de2157e2b0b6573a855f"},
		{"SHA-256", "Mufasa", "http-auth@example.org", "Circle of Life", "7987c64c30e25f1b74be53f966b49b90f2808aa92faf9a00262392d7b4794232"},
		{"MD5", "2001", "fjordvik.example", "S3cret-pass", "d6e8705b1959c8e38a08d22b347a31c7"},
	}
	for _, tt := range tests {
		got, err := HA1(tt.alg, tt.user, tt.realm, tt.pass)
		if err != nil {
			t.Fatalf("HA1(%s): %v", tt.alg, err)
		}
		if got != tt.want {
			t.Errorf("HA1(%s, %s, %s) = %s, want %s", tt.alg, tt.user, tt.realm, got, tt.want)
		}
	}
}

func TestHA1UnknownAlgorithm(t *testing.T) {
	if _, err := HA1("SHA-512-256", "u", "r", "p"); err == nil {
		t.Fatal("HA1 accepted an algorithm it does not implement")
	}
}
