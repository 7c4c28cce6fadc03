package auth

import (
	"strings"
	"testing"
	"time"

	"github.com/icholy/digest"
)

// FuzzVerify feeds arbitrary Authorization headers to Verify. It must never
// panic, and it must never accept a header that does not carry a nonce this
// Authenticator issued: the secret is random per process, so nonces in the
// stored corpus (from earlier runs) are foreign and can only fail.
func FuzzVerify(f *testing.F) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	a := NewAuthenticator(Options{Now: func() time.Time { return now }})
	creds := Credentials{
		HA1MD5:    mustHA1(f, MD5, testUser, testRealm, testPass),
		HA1SHA256: mustHA1(f, SHA256, testUser, testRealm, testPass),
	}
	lookup := func(user string) (Credentials, bool) {
		if user == testUser {
			return creds, true
		}
		return Credentials{}, false
	}
	var issued []string
	for i := 0; i < 2; i++ {
		for j, h := range a.Challenge(testRealm, false) {
			chal, err := digest.ParseChallenge(h)
			if err != nil {
				f.Fatal(err)
			}
			issued = append(issued, chal.Nonce)
			f.Add(sign(f, chal, testUser, testPass, "REGISTER", j+1, nil))
			chal.QOP = nil
			f.Add(sign(f, chal, testUser, testPass, "REGISTER", 0, nil))
		}
	}
	f.Add(`Digest username="2001", realm="fjordvik.example", nonce="x", uri="sip:a", response="00"`)
	f.Add(`digest USERNAME=a\"b, realm="\\", nonce="",,, uri=x, response=0, qop="auth", nc=ffffffff, cnonce=c`)
	f.Add(`Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==`)
	f.Add(`Digest realm="fjordvik.example`)
	f.Add("Digest\t\r\nnc=1")
	f.Add("")

	f.Fuzz(func(t *testing.T, header string) {
		res := a.Verify("REGISTER", header, testRealm, lookup)
		if res.OK && res.Stale {
			t.Fatalf("OK and Stale: %+v", res)
		}
		if res.OK != (res.Reason == "") {
			t.Fatalf("OK and Reason disagree: %+v", res)
		}
		if res.OK || res.Stale {
			if res.User != testUser {
				t.Fatalf("accepted user %q we hold no credentials for", res.User)
			}
			ours := false
			for _, n := range issued {
				ours = ours || strings.Contains(header, n)
			}
			if !ours {
				t.Fatalf("accepted a nonce we did not issue: %q", header)
			}
		}
	})
}
