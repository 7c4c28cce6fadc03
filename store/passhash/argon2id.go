package passhash

import (
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2id is the work factor of an argon2id hash (RFC 9106): Memory in
// KiB, Time passes, Threads lanes. People's passwords (console operators)
// are hashed with it: unlike PBKDF2 it makes guessing on graphics cards
// costly, which matters for passwords people choose and remember.
type Argon2id struct {
	Memory  uint32
	Time    uint32
	Threads uint8
}

// DefaultArgon2id is 64 MiB, 3 passes, 2 lanes: RFC 9106's second
// recommendation with fewer lanes (about 0.2 s on a two-core server; a
// login pays it once a shift).
var DefaultArgon2id = Argon2id{Memory: 64 * 1024, Time: 3, Threads: 2}

const (
	argonScheme  = "argon2id"
	argonVersion = argon2.Version // 0x13 = 19
	argonSaltLen = 16
	argonKeyLen  = 32
	// Bounds of what a stored hash may demand, so a corrupted or planted
	// row cannot make one login take a gigabyte or a minute.
	maxArgonMemory  = 1024 * 1024 // KiB: 1 GiB
	maxArgonTime    = 64
	maxArgonThreads = 64
	maxArgonKeyLen  = 128
)

// Check reports whether the parameters are within the accepted bounds.
func (p Argon2id) Check() error {
	if p.Memory < 8*uint32(p.Threads) || p.Memory > maxArgonMemory || p.Time < 1 || p.Time > maxArgonTime || p.Threads < 1 || p.Threads > maxArgonThreads {
		return fmt.Errorf("argon2id m=%d,t=%d,p=%d: want 1..%d passes, 1..%d lanes and 8×lanes..%d KiB",
			p.Memory, p.Time, p.Threads, maxArgonTime, maxArgonThreads, maxArgonMemory)
	}
	return nil
}

// HashArgon2id returns a salted argon2id hash of password as a PHC string:
// $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<key>, unpadded
// standard base64 (the format of the reference implementation, so other
// tools can verify it).
func HashArgon2id(password string, p Argon2id) (string, error) {
	if err := p.Check(); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, argonKeyLen)
	return fmt.Sprintf("$%s$v=%d$m=%d,t=%d,p=%d$%s$%s", argonScheme, argonVersion, p.Memory, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// VerifyArgon2id reports whether password matches an argon2id PHC hash.
// A malformed hash, or one demanding more than the bounds allow, never
// matches. The comparison takes constant time.
func VerifyArgon2id(hash, password string) bool {
	p, salt, want, ok := ParseArgon2id(hash)
	if !ok {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// NeedsRehash reports whether hash is not an argon2id hash with exactly
// the parameters p (so a login may store a new hash after verifying).
func NeedsRehash(hash string, p Argon2id) bool {
	got, _, _, ok := ParseArgon2id(hash)
	return !ok || got != p
}

// ParseArgon2id splits "$argon2id$v=19$m=M,t=T,p=P$salt$key" into its
// parts; ok is false for anything else, another version, or parameters
// out of bounds.
func ParseArgon2id(hash string) (p Argon2id, salt, key []byte, ok bool) {
	parts := strings.Split(hash, "$") // "", scheme, version, params, salt, key
	if len(parts) != 6 || parts[0] != "" || parts[1] != argonScheme || parts[2] != "v="+strconv.Itoa(argonVersion) {
		return p, nil, nil, false
	}
	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return p, nil, nil, false
	}
	num := func(s, name string, max uint64) (uint64, bool) {
		v, found := strings.CutPrefix(s, name+"=")
		if !found || v == "" || (len(v) > 1 && v[0] == '0') {
			return 0, false
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || n > max {
			return 0, false
		}
		return n, true
	}
	m, ok1 := num(params[0], "m", maxArgonMemory)
	t, ok2 := num(params[1], "t", maxArgonTime)
	th, ok3 := num(params[2], "p", maxArgonThreads)
	if !ok1 || !ok2 || !ok3 {
		return p, nil, nil, false
	}
	p = Argon2id{Memory: uint32(m), Time: uint32(t), Threads: uint8(th)}
	if p.Check() != nil {
		return Argon2id{}, nil, nil, false
	}
	var err error
	if salt, err = b64.DecodeString(parts[4]); err != nil || len(salt) < 8 {
		return Argon2id{}, nil, nil, false
	}
	if key, err = b64.DecodeString(parts[5]); err != nil || len(key) < 16 || len(key) > maxArgonKeyLen {
		return Argon2id{}, nil, nil, false
	}
	return p, salt, key, true
}
