// Package auth holds SIP digest authentication: the stored HA1 digests,
// challenges and their verification.
package auth

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"
)

// Digest algorithms Sentral stores HA1 digests for. Phones that predate
// RFC 8760 only speak MD5, so both are kept for every extension.
const (
	MD5    = "MD5"
	SHA256 = "SHA-256"
)

// HA1 returns the lower-case hex of H(username ":" realm ":" password) as
// defined by RFC 7616 §3.4.2 for the named algorithm ("MD5" or "SHA-256",
// case-insensitive). Storing HA1 instead of the password means a leaked
// database does not reveal passwords, yet digest challenges can still be
// verified.
func HA1(algorithm, username, realm, password string) (string, error) {
	var h hash.Hash
	switch strings.ToUpper(algorithm) {
	case MD5:
		h = md5.New()
	case SHA256:
		h = sha256.New()
	default:
		return "", fmt.Errorf("digest algorithm %q: use %s or %s", algorithm, MD5, SHA256)
	}
	h.Write([]byte(username + ":" + realm + ":" + password))
	return hex.EncodeToString(h.Sum(nil)), nil
}
