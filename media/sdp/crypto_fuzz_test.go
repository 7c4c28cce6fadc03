package sdp

import (
	"bytes"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// FuzzCrypto feeds junk to ParseCrypto: it must not panic, must fail only
// with ErrCrypto or ErrCryptoUnsupported, and what it accepts must write
// back to an attribute that parses to the same keying. The value is also
// put in an RTP/SAVP offer: answering it must not panic, and an SRTP answer
// must carry our key under the offered tag, and be read back by
// AcceptSecure.
func FuzzCrypto(f *testing.F) {
	for _, s := range []string{
		"1 AES_CM_128_HMAC_SHA1_80 inline:" + key30b64,
		"2 AES_CM_128_HMAC_SHA1_32 inline:" + key30b64 + "|2^31",
		"1 AES_CM_128_HMAC_SHA1_80 inline:" + key30b64 + "|2^20|1:4",
		"1 AES_CM_128_HMAC_SHA1_80 inline:" + key30b64 + "|1:4;inline:" + key30b64 + "|2:4",
		"1 AES_CM_128_HMAC_SHA1_80 inline:" + key30b64 + " KDR=0 WSH=64 FEC_ORDER=SRTP_FEC",
		"1 AES_256_CM_HMAC_SHA1_80 inline:" + key30b64 + key30b64,
		"1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz",
		"", "1", "1 x y", "1 AES_CM_128_HMAC_SHA1_80 inline:", "1 AES_CM_128_HMAC_SHA1_80 inline:|",
	} {
		f.Add(s)
	}
	local := Local{Addr: netip.MustParseAddr("198.51.100.1"), Port: 20000, SRTPKey: ourKey}
	f.Fuzz(func(t *testing.T, v string) {
		c, err := ParseCrypto(v)
		if err != nil {
			if !errors.Is(err, ErrCrypto) && !errors.Is(err, ErrCryptoUnsupported) {
				t.Fatalf("ParseCrypto(%q): untyped error %v", v, err)
			}
		} else {
			if !SupportedSuite(c.Suite) || len(c.Key) != KeyLen {
				t.Fatalf("ParseCrypto(%q) accepted %+v", v, c)
			}
			back, err := ParseCrypto(c.String())
			if err != nil || !back.Same(c) || back.Tag != c.Tag || back.Lifetime != c.Lifetime {
				t.Fatalf("ParseCrypto(%q) = %+v writes %q, which reads %+v, %v", v, c, c.String(), back, err)
			}
		}
		if strings.ContainsAny(v, "\r\n") {
			return // not one attribute line
		}
		o, err := Parse(offerSDP("RTP/SAVP", "crypto:"+v))
		if err != nil {
			return
		}
		ans, ch, err := fixedSession().Answer(o, local, supported)
		if err != nil {
			if !errors.Is(err, ErrNotAcceptable) {
				t.Fatalf("Answer: %v", err)
			}
			return
		}
		if ch.SRTP == nil {
			t.Fatalf("RTP/SAVP answered without SRTP:\n%s", ans)
		}
		back, err := Parse(ans)
		if err != nil {
			t.Fatalf("our answer does not parse: %v\n%q", err, ans)
		}
		acc, err := AcceptSecure(back, supported, ch.SRTP.Remote)
		if err != nil || !bytes.Equal(acc.SRTP.Remote.Key, ourKey) {
			t.Fatalf("AcceptSecure(our answer) = %+v, %v\n%s", acc.SRTP, err, ans)
		}
	})
}
