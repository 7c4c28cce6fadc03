// Package voicemail holds mailbox logic: the format of stored voicemail
// PINs, recording a caller's message from a call leg's RTP into a WAV file
// (ended by #, silence, a length limit or hang-up), and playing prompts
// and messages back as paced RTP; and the applications built on those
// (App: deposit, retrieval with its menus, announcements), which run on
// calls that media/mediaserver answers. Message-waiting is the wiring's,
// told of every change through AppConfig.OnChange.
package voicemail

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

// PINIterations is the PBKDF2 work factor for new PIN hashes. A PIN has at
// most a few million values, so no work factor makes an offline attack on a
// stolen hash hopeless; 100k keeps one hash around 20ms so bulk imports of
// hundreds of extensions stay quick while brute force still costs hours.
const PINIterations = 100_000

const (
	pinSaltLen = 16
	pinKeyLen  = 32
	pinScheme  = "pbkdf2-sha256"
)

var b64 = base64.RawStdEncoding

// HashPIN returns a PHC-style hash of pin:
// $pbkdf2-sha256$i=<iterations>$<salt>$<hash>, with unpadded standard base64.
func HashPIN(pin string) (string, error) {
	salt := make([]byte, pinSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash PIN: salt: %w", err)
	}
	key, err := pbkdf2.Key(sha256.New, pin, salt, PINIterations, pinKeyLen)
	if err != nil {
		return "", fmt.Errorf("hash PIN: %w", err)
	}
	return fmt.Sprintf("$%s$i=%d$%s$%s", pinScheme, PINIterations, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// VerifyPIN reports whether pin matches hash. A malformed hash never
// matches. The comparison takes constant time so the response time does not
// reveal how much of a guess was right.
func VerifyPIN(hash, pin string) bool {
	iter, salt, want, ok := parsePINHash(hash)
	if !ok {
		return false
	}
	got, err := pbkdf2.Key(sha256.New, pin, salt, iter, len(want))
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(got, want) == 1
}

// maxPINIterations bounds the work a stored hash can demand, so a corrupted
// or planted row cannot stall a voicemail login for minutes.
const maxPINIterations = 10_000_000

// parsePINHash splits "$pbkdf2-sha256$i=N$salt$key" into its parts.
func parsePINHash(hash string) (iter int, salt, key []byte, ok bool) {
	parts := strings.Split(hash, "$") // "", scheme, params, salt, key
	if len(parts) != 5 || parts[0] != "" || parts[1] != pinScheme || !strings.HasPrefix(parts[2], "i=") {
		return 0, nil, nil, false
	}
	iter, err := strconv.Atoi(parts[2][len("i="):])
	if err != nil || iter < 1 || iter > maxPINIterations {
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
