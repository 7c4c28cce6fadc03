package passhash

import (
	"bytes"
	"fmt"
	"testing"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"$pbkdf2-sha256$i=100000$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U",
		"$pbkdf2-sha256$i=0$$", "$pbkdf2-sha256$i=-1$YQ$YQ", "$bcrypt$x", "", "$$$$", "$pbkdf2-sha256$i=99999999999999999999$YQ$YQ",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		iter, salt, key, ok := Parse(s)
		if !ok {
			return
		}
		if iter < 1 || iter > maxIterations || len(key) == 0 {
			t.Fatalf("%q accepted with iter=%d key=%d bytes", s, iter, len(key))
		}
		// What parses must re-encode to something that parses to the same.
		again := fmt.Sprintf("$%s$i=%d$%s$%s", scheme, iter, b64.EncodeToString(salt), b64.EncodeToString(key))
		i2, s2, k2, ok2 := Parse(again)
		if !ok2 || i2 != iter || !bytes.Equal(s2, salt) || !bytes.Equal(k2, key) {
			t.Fatalf("%q does not round-trip via %q", s, again)
		}
	})
}
