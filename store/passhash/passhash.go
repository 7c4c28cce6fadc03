// Package passhash is the at-rest format of the short secrets Sentral
// stores hashed (voicemail PINs, phone-book passwords): PHC-style
// PBKDF2-SHA256, $pbkdf2-sha256$i=<iterations>$<salt>$<key> with unpadded
// standard base64.
package passhash

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

const (
	saltLen = 16
	keyLen  = 32
	scheme  = "pbkdf2-sha256"
	// maxIterations bounds the work a stored hash can demand, so a
	// corrupted or planted row cannot stall a login for minutes.
	maxIterations = 10_000_000
)

var b64 = base64.RawStdEncoding

// Hash returns a salted hash of secret with the given work factor.
func Hash(secret string, iterations int) (string, error) {
	if iterations < 1 || iterations > maxIterations {
		return "", fmt.Errorf("hash secret: %d iterations is out of range 1..%d", iterations, maxIterations)
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash secret: salt: %w", err)
	}
	key, err := pbkdf2.Key(sha256.New, secret, salt, iterations, keyLen)
	if err != nil {
		return "", fmt.Errorf("hash secret: %w", err)
	}
	return fmt.Sprintf("$%s$i=%d$%s$%s", scheme, iterations, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// Verify reports whether secret matches hash. A malformed hash never
// matches. The comparison takes constant time so the response time does
// not reveal how much of a guess was right.
func Verify(hash, secret string) bool {
	iter, salt, want, ok := Parse(hash)
	if !ok {
		return false
	}
	got, err := pbkdf2.Key(sha256.New, secret, salt, iter, len(want))
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(got, want) == 1
}

// Parse splits "$pbkdf2-sha256$i=N$salt$key" into its parts; ok is false
// for anything else.
func Parse(hash string) (iter int, salt, key []byte, ok bool) {
	parts := strings.Split(hash, "$") // "", scheme, params, salt, key
	if len(parts) != 5 || parts[0] != "" || parts[1] != scheme || !strings.HasPrefix(parts[2], "i=") {
		return 0, nil, nil, false
	}
	iter, err := strconv.Atoi(parts[2][len("i="):])
	if err != nil || iter < 1 || iter > maxIterations {
		return 0, nil, nil, false
	}
	if salt, err = b64.DecodeString(parts[3]); err != nil {
		return 0, nil, nil, false
	}
	if key, err = b64.DecodeString(parts[4]); err != nil || len(key) == 0 {
		return 0, nil, nil, false
	}
	return iter, salt, key, true
}
