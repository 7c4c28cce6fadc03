// Package voicemail holds mailbox logic: the format of stored voicemail
// PINs, recording a caller's message from a call leg's RTP into a WAV file
// (ended by #, silence, a length limit or hang-up), and playing prompts
// and messages back as paced RTP; and the applications built on those
// (App: deposit, retrieval with its menus, announcements), which run on
// calls that media/mediaserver answers. Message-waiting is the wiring's,
// told of every change through AppConfig.OnChange.
package voicemail

import (
	"fmt"

	"github.com/sentralpbx/sentral/store/passhash"
)

// PINIterations is the PBKDF2 work factor for new PIN hashes. A PIN has at
// most a few million values, so no work factor makes an offline attack on a
// stolen hash hopeless; 100k keeps one hash around 20ms so bulk imports of
// hundreds of extensions stay quick while brute force still costs hours.
const PINIterations = 100_000

// HashPIN returns a PHC-style hash of pin (see store/passhash):
// $pbkdf2-sha256$i=<iterations>$<salt>$<hash>, with unpadded standard base64.
func HashPIN(pin string) (string, error) {
	h, err := passhash.Hash(pin, PINIterations)
	if err != nil {
		return "", fmt.Errorf("hash PIN: %w", err)
	}
	return h, nil
}

// VerifyPIN reports whether pin matches hash, in constant time; a
// malformed hash never matches.
func VerifyPIN(hash, pin string) bool { return passhash.Verify(hash, pin) }
