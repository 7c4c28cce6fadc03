package passhash

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// cheap keeps the tests fast; the format does not depend on the cost.
var cheap = Argon2id{Memory: 64, Time: 1, Threads: 1}

func TestArgon2id(t *testing.T) {
	h, err := HashArgon2id("Fjordvik-sentralbord-1", cheap)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Errorf("hash %q is not a PHC argon2id string", h)
	}
	if !VerifyArgon2id(h, "Fjordvik-sentralbord-1") {
		t.Error("the right password does not verify")
	}
	for _, wrong := range []string{"", "fjordvik-sentralbord-1", "Fjordvik-sentralbord-1 "} {
		if VerifyArgon2id(h, wrong) {
			t.Errorf("%q verifies", wrong)
		}
	}
	if h2, _ := HashArgon2id("Fjordvik-sentralbord-1", cheap); h2 == h {
		t.Error("two hashes of one password are equal: no salt")
	}
	if NeedsRehash(h, cheap) || !NeedsRehash(h, DefaultArgon2id) || !NeedsRehash("$pbkdf2-sha256$i=1$YQ$YQ", cheap) {
		t.Error("NeedsRehash is wrong")
	}
	if _, err := HashArgon2id("x", Argon2id{Memory: 2 * maxArgonMemory, Time: 1, Threads: 1}); err == nil {
		t.Error("a 2 GiB hash was made")
	}
	if err := DefaultArgon2id.Check(); err != nil {
		t.Errorf("default parameters: %v", err)
	}
	for _, bad := range []string{
		"", "$argon2id$", h + "$", strings.Replace(h, "v=19", "v=16", 1), strings.Replace(h, "argon2id", "argon2i", 1),
		strings.Replace(h, "m=64", "m=99999999", 1), strings.Replace(h, "t=1", "t=0", 1), strings.Replace(h, "t=1", "t=01", 1),
		strings.Replace(h, "p=1", "p=1,x=2", 1), "$argon2id$v=19$m=64,t=1,p=1$YQ$YWJjZGVmZ2hpamtsbW5vcA",
	} {
		if _, _, _, ok := ParseArgon2id(bad); ok {
			t.Errorf("ParseArgon2id(%q) accepted", bad)
		}
		if VerifyArgon2id(bad, "Fjordvik-sentralbord-1") {
			t.Errorf("malformed %q verifies", bad)
		}
	}
}

func FuzzParseArgon2id(f *testing.F) {
	for _, s := range []string{
		"$argon2id$v=19$m=65536,t=3,p=2$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U",
		"$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2U", "$argon2id$v=19$m=,t=,p=$$", "$$$$$",
		"$argon2id$v=19$m=4294967295,t=1,p=1$YQ$YQ",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, salt, key, ok := ParseArgon2id(s)
		if !ok {
			return
		}
		if p.Check() != nil || len(salt) < 8 || len(key) < 16 || len(key) > maxArgonKeyLen {
			t.Fatalf("%q accepted with %+v, salt %d, key %d bytes", s, p, len(salt), len(key))
		}
		again := fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
		p2, s2, k2, ok2 := ParseArgon2id(again)
		if !ok2 || p2 != p || !bytes.Equal(s2, salt) || !bytes.Equal(k2, key) {
			t.Fatalf("%q does not round-trip via %q", s, again)
		}
	})
}
