package sdp

// SDES key exchange for SRTP: the a=crypto attribute of RFC 4568.
//
// What Sentral takes, and why the rest is refused:
//
//   - Suites AES_CM_128_HMAC_SHA1_80 and AES_CM_128_HMAC_SHA1_32 (RFC 4568
//     §6.2), the two every SRTP desk phone offers. F8, the AES-256 suites of
//     RFC 6188 and the AEAD suites of RFC 7714 are refused as unsupported.
//   - Exactly one key parameter, "inline:" master key || master salt in
//     base64 (30 bytes for both suites), optionally with a lifetime. More
//     than one key (several MKIs) or any MKI field is refused: keys are
//     never changed in the middle of a stream, so the MKI would only cost
//     bytes in every packet and code paths no phone exercises.
//   - A lifetime, if given, of at least 2^20 packets (5.8 hours of 20 ms
//     audio): we do not rekey within a call, so a shorter lifetime is a
//     promise we could break.
//   - Session parameters that do not change the transform: WSH (the replay
//     window hint), FEC_ORDER and KDR=0 are accepted and ignored. Other KDR
//     values, UNENCRYPTED_SRTP, UNENCRYPTED_SRTCP, UNAUTHENTICATED_SRTP,
//     FEC_KEY and anything unknown are refused: they change the transform
//     in ways we do not implement (or might), so keying a stream by that
//     line could leave the two ends disagreeing about every packet.
//
// An attribute that fails these rules is not an SDP error: the stream
// just cannot use that line (Media.CryptoSkipped says why).

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The crypto suites Sentral answers with, in its order of preference.
const (
	SuiteAES80 = "AES_CM_128_HMAC_SHA1_80"
	SuiteAES32 = "AES_CM_128_HMAC_SHA1_32"
)

// Suites lists the supported suites, preferred first.
var Suites = []string{SuiteAES80, SuiteAES32}

// KeyLen is the length of an inline key of the supported suites: a 128-bit
// master key followed by a 112-bit master salt (RFC 4568 §6.2.1).
const (
	KeyLen    = 30
	MasterLen = 16 // the master key's part of it; the rest is the salt
)

// minLifetime is the least key lifetime (in packets) we accept: 2^20.
const minLifetime = 1 << 20

// maxCryptoLen bounds the attribute value we look at; a real one is about
// 70 characters.
const maxCryptoLen = 1024

// ErrCrypto marks a malformed a=crypto attribute; ErrCryptoUnsupported one
// that is well formed but asks for something we do not do (another suite,
// an MKI, a transform-changing session parameter).
var (
	ErrCrypto            = errors.New("malformed a=crypto")
	ErrCryptoUnsupported = errors.New("unsupported a=crypto")
)

// Crypto is one a=crypto attribute.
type Crypto struct {
	Tag   uint32 // 1 to 999999999 (RFC 4568 §9.1: 1*9DIGIT)
	Suite string // as in Suites
	// Key is the master key followed by the master salt, KeyLen bytes.
	Key []byte
	// Lifetime is the key's lifetime in packets, 0 when not given.
	Lifetime uint64
	// Params are the accepted session parameters, as written.
	Params []string
}

// MasterKey and MasterSalt split Key.
func (c Crypto) MasterKey() []byte  { return c.Key[:MasterLen] }
func (c Crypto) MasterSalt() []byte { return c.Key[MasterLen:] }

// Same reports whether c and o carry the same suite and key (the tag and
// parameters aside): whether a stream keyed by one needs rekeying for the
// other.
func (c Crypto) Same(o Crypto) bool {
	return c.Suite == o.Suite && string(c.Key) == string(o.Key)
}

// String writes the attribute value: "<tag> <suite> inline:<key>[|lifetime]
// [params]".
func (c Crypto) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s inline:%s", c.Tag, c.Suite, base64.StdEncoding.EncodeToString(c.Key))
	if c.Lifetime != 0 {
		b.WriteString("|")
		if c.Lifetime&(c.Lifetime-1) == 0 && c.Lifetime > 1 {
			fmt.Fprintf(&b, "2^%d", bitLen(c.Lifetime)-1)
		} else {
			b.WriteString(strconv.FormatUint(c.Lifetime, 10))
		}
	}
	for _, p := range c.Params {
		b.WriteString(" ")
		b.WriteString(p)
	}
	return b.String()
}

func bitLen(v uint64) int {
	n := 0
	for ; v != 0; v >>= 1 {
		n++
	}
	return n
}

// NewKey returns a fresh random master key and salt, KeyLen bytes.
func NewKey() ([]byte, error) {
	k := make([]byte, KeyLen)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("srtp key: %w", err)
	}
	return k, nil
}

// SupportedSuite reports whether suite is one of Suites.
func SupportedSuite(suite string) bool {
	for _, s := range Suites {
		if s == suite {
			return true
		}
	}
	return false
}

// ParseCrypto reads an a=crypto value (RFC 4568 §9.1). Errors wrap
// ErrCrypto or ErrCryptoUnsupported.
func ParseCrypto(v string) (Crypto, error) {
	if len(v) > maxCryptoLen {
		return Crypto{}, fmt.Errorf("%w: %d bytes", ErrCrypto, len(v))
	}
	f := strings.Fields(v)
	if len(f) < 3 {
		return Crypto{}, fmt.Errorf("%w: want <tag> <suite> <key-params>, got %q", ErrCrypto, trunc(v))
	}
	var c Crypto
	if len(f[0]) > 9 || !allDigits(f[0]) {
		return Crypto{}, fmt.Errorf("%w: tag %q", ErrCrypto, trunc(f[0]))
	}
	tag, _ := strconv.ParseUint(f[0], 10, 32)
	c.Tag = uint32(tag)
	c.Suite = f[1]
	if !SupportedSuite(c.Suite) {
		return Crypto{}, fmt.Errorf("%w: suite %q", ErrCryptoUnsupported, trunc(c.Suite))
	}
	if strings.Contains(f[2], ";") {
		return Crypto{}, fmt.Errorf("%w: more than one key (MKI keys are not supported)", ErrCryptoUnsupported)
	}
	method, info, ok := strings.Cut(f[2], ":")
	if !ok {
		// Not quoted: it may be a key.
		return Crypto{}, fmt.Errorf("%w: key parameter has no method (want inline:)", ErrCrypto)
	}
	if !strings.EqualFold(method, "inline") {
		return Crypto{}, fmt.Errorf("%w: key method %q", ErrCryptoUnsupported, trunc(method))
	}
	parts := strings.Split(info, "|")
	key, err := base64.StdEncoding.Strict().DecodeString(parts[0])
	if err != nil {
		return Crypto{}, fmt.Errorf("%w: key is not base64: %v", ErrCrypto, err)
	}
	if len(key) != KeyLen {
		return Crypto{}, fmt.Errorf("%w: key and salt of %d bytes, want %d", ErrCrypto, len(key), KeyLen)
	}
	c.Key = key
	switch len(parts) {
	case 1:
	case 2:
		// The one optional field is a lifetime or an MKI (which has a colon).
		if strings.Contains(parts[1], ":") {
			return Crypto{}, fmt.Errorf("%w: MKI %q", ErrCryptoUnsupported, trunc(parts[1]))
		}
		if c.Lifetime, err = parseLifetime(parts[1]); err != nil {
			return Crypto{}, err
		}
	case 3:
		if c.Lifetime, err = parseLifetime(parts[1]); err != nil {
			return Crypto{}, err
		}
		if _, _, ok := strings.Cut(parts[2], ":"); !ok {
			return Crypto{}, fmt.Errorf("%w: MKI %q", ErrCrypto, trunc(parts[2]))
		}
		return Crypto{}, fmt.Errorf("%w: MKI %q", ErrCryptoUnsupported, trunc(parts[2]))
	default:
		return Crypto{}, fmt.Errorf("%w: key parameter has %d fields", ErrCrypto, len(parts))
	}
	for _, p := range f[3:] {
		if err := checkSessionParam(p); err != nil {
			return Crypto{}, err
		}
		c.Params = append(c.Params, p)
	}
	return c, nil
}

// parseLifetime reads "2^n" or a decimal count of packets.
func parseLifetime(s string) (uint64, error) {
	var n uint64
	if exp, ok := strings.CutPrefix(s, "2^"); ok {
		e, err := strconv.ParseUint(exp, 10, 8)
		if err != nil || !allDigits(exp) || e > 63 {
			return 0, fmt.Errorf("%w: lifetime %q", ErrCrypto, trunc(s))
		}
		n = 1 << e
	} else {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil || !allDigits(s) {
			return 0, fmt.Errorf("%w: lifetime %q", ErrCrypto, trunc(s))
		}
		n = v
	}
	if n < minLifetime {
		return 0, fmt.Errorf("%w: key lifetime %s packets is under 2^20 (we do not rekey within a call)",
			ErrCryptoUnsupported, trunc(s))
	}
	return n, nil
}

// checkSessionParam accepts the session parameters that leave the SRTP
// transform as pion/srtp implements it.
func checkSessionParam(p string) error {
	name, val, _ := strings.Cut(p, "=")
	switch {
	case name == "WSH" && allDigits(val) && val != "":
		return nil
	case name == "FEC_ORDER" && (val == "FEC_SRTP" || val == "SRTP_FEC"):
		return nil
	case name == "KDR":
		if val == "0" {
			return nil
		}
		return fmt.Errorf("%w: key derivation rate %q", ErrCryptoUnsupported, trunc(val))
	case name == "WSH", name == "FEC_ORDER":
		return fmt.Errorf("%w: session parameter %q", ErrCrypto, trunc(p))
	}
	return fmt.Errorf("%w: session parameter %q", ErrCryptoUnsupported, trunc(p))
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// SRTP is what an exchange settled for protecting a stream.
type SRTP struct {
	// Local is our attribute: our key, with which we send.
	Local Crypto
	// Remote is the peer's: its key, with which we receive.
	Remote Crypto
}

// Suite returns the negotiated suite.
func (s *SRTP) Suite() string { return s.Local.Suite }

// Equal reports whether s and o key a stream the same way (both may be nil).
func (s *SRTP) Equal(o *SRTP) bool {
	if s == nil || o == nil {
		return s == o
	}
	return s.Local.Same(o.Local) && s.Remote.Same(o.Remote)
}

// pickCrypto returns the offer's attribute we answer: the first with
// the most preferred suite (RFC 4568 §7.1.1 lets the answerer choose any).
func pickCrypto(m *Media) (Crypto, bool) {
	for _, suite := range Suites {
		for _, c := range m.Crypto {
			if c.Suite == suite {
				return c, true
			}
		}
	}
	return Crypto{}, false
}

// secure returns the SRTP answer for m with our key, or nil when the stream
// is plain. ok is false for an RTP/SAVP stream we cannot key (refused).
func secure(m *Media, key []byte) (s *SRTP, why string, ok bool) {
	savp := m.Proto == "RTP/SAVP"
	if len(key) == 0 {
		// SRTP not enabled for this Local: RTP/AVP's crypto is ignored.
		return nil, "RTP/SAVP (SRTP not enabled)", !savp
	}
	c, found := pickCrypto(m)
	if !found {
		why := "RTP/SAVP without a=crypto"
		if len(m.CryptoSkipped) > 0 {
			why = "RTP/SAVP without a usable a=crypto (" + strings.Join(m.CryptoSkipped, "; ") + ")"
		}
		return nil, why, !savp
	}
	return &SRTP{
		Local:  Crypto{Tag: c.Tag, Suite: c.Suite, Key: key},
		Remote: c,
	}, "", true
}
