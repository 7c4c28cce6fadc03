package auth

import (
	"strings"
	"testing"
)

func TestChallengeOrder(t *testing.T) {
	a := NewAuthenticator(Options{})
	tests := []struct {
		algs []string
		want []string
	}{
		{nil, []string{SHA256, MD5}},
		{[]string{MD5}, []string{MD5}},
		{[]string{"md5", "sha-256"}, []string{MD5, SHA256}},
		{[]string{SHA256, "bogus"}, []string{SHA256}},
	}
	for _, tt := range tests {
		got := a.Challenge("fjordvik.test", false, tt.algs...)
		if len(got) != len(tt.want) {
			t.Fatalf("Challenge(%v) = %d values, want %d: %q", tt.algs, len(got), len(tt.want), got)
		}
		nonce := ""
		for i, v := range got {
			if !strings.Contains(v, "algorithm="+tt.want[i]+",") {
				t.Errorf("Challenge(%v)[%d] = %q, want algorithm %s", tt.algs, i, v, tt.want[i])
			}
			// All values must share one nonce, or a client answering the
			// second would be checked against a nonce it never saw.
			n := v[strings.Index(v, `nonce="`):]
			if nonce != "" && n[:40] != nonce {
				t.Errorf("values carry different nonces: %q", got)
			}
			nonce = n[:40]
		}
	}
	if err := CheckAlgorithms([]string{"SHA-256", "md5"}); err != nil {
		t.Error(err)
	}
	if err := CheckAlgorithms([]string{"SHA-512-256"}); err == nil || !strings.Contains(err.Error(), "SHA-512-256") {
		t.Errorf("CheckAlgorithms accepted an unknown algorithm: %v", err)
	}
}
