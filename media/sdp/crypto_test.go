package sdp

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

// key30 is a fixed 30-byte key for readable tests: 0x01 0x02 ... 0x1e.
var key30 = func() []byte {
	k := make([]byte, KeyLen)
	for i := range k {
		k[i] = byte(i + 1)
	}
	return k
}()

var key30b64 = base64.StdEncoding.EncodeToString(key30)

// ourKey is the answerer's key in these tests: 0xa0 0xa1 ...
var ourKey = func() []byte {
	k := make([]byte, KeyLen)
	for i := range k {
		k[i] = byte(0xa0 + i)
	}
	return k
}()

func TestParseCrypto(t *testing.T) {
	ok := []struct {
		in       string
		tag      uint32
		suite    string
		lifetime uint64
		params   int
	}{
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + key30b64, 1, SuiteAES80, 0, 0},
		{"2 AES_CM_128_HMAC_SHA1_32 inline:" + key30b64, 2, SuiteAES32, 0, 0},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + key30b64 + "|2^31", 1, SuiteAES80, 1 << 31, 0},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + key30b64 + "|2^20", 1, SuiteAES80, 1 << 20, 0},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + key30b64 + "|1048576", 1, SuiteAES80, 1 << 20, 0},
		{"999999999 AES_CM_128_HMAC_SHA1_80 INLINE:" + key30b64, 999999999, SuiteAES80, 0, 0},
		{"3 AES_CM_128_HMAC_SHA1_80 inline:" + key30b64 + " KDR=0 WSH=128 FEC_ORDER=FEC_SRTP", 3, SuiteAES80, 0, 3},
		{"  1   AES_CM_128_HMAC_SHA1_80\tinline:" + key30b64 + "  ", 1, SuiteAES80, 0, 0},
	}
	for _, c := range ok {
		got, err := ParseCrypto(c.in)
		if err != nil {
			t.Errorf("ParseCrypto(%q): %v", c.in, err)
			continue
		}
		if got.Tag != c.tag || got.Suite != c.suite || got.Lifetime != c.lifetime || len(got.Params) != c.params ||
			!bytes.Equal(got.Key, key30) {
			t.Errorf("ParseCrypto(%q) = %+v", c.in, got)
		}
		if !bytes.Equal(got.MasterKey(), key30[:16]) || !bytes.Equal(got.MasterSalt(), key30[16:]) {
			t.Errorf("key split of %q: %x %x", c.in, got.MasterKey(), got.MasterSalt())
		}
		// What we write reads back the same.
		back, err := ParseCrypto(got.String())
		if err != nil || !back.Same(got) || back.Tag != got.Tag || back.Lifetime != got.Lifetime ||
			strings.Join(back.Params, " ") != strings.Join(got.Params, " ") {
			t.Errorf("round trip of %q: %q -> %+v, %v", c.in, got.String(), back, err)
		}
	}

	short := base64.StdEncoding.EncodeToString(key30[:29])
	long := base64.StdEncoding.EncodeToString(append(bytes.Clone(key30), 0))
	bad := []struct {
		in   string
		want error
		says string
	}{
		{"", ErrCrypto, "want <tag>"},
		{"1 AES_CM_128_HMAC_SHA1_80", ErrCrypto, "want <tag>"},
		{"x AES_CM_128_HMAC_SHA1_80 inline:" + key30b64, ErrCrypto, "tag"},
		{"-1 AES_CM_128_HMAC_SHA1_80 inline:" + key30b64, ErrCrypto, "tag"},
		{"1234567890 AES_CM_128_HMAC_SHA1_80 inline:" + key30b64, ErrCrypto, "tag"},
		{"1 F8_128_HMAC_SHA1_80 inline:" + key30b64, ErrCryptoUnsupported, "suite"},
		{"1 AES_256_CM_HMAC_SHA1_80 inline:" + key30b64 + key30b64, ErrCryptoUnsupported, "suite"},
		{"1 AEAD_AES_128_GCM inline:" + key30b64, ErrCryptoUnsupported, "suite"},
		{"1 aes_cm_128_hmac_sha1_80 inline:" + key30b64, ErrCryptoUnsupported, "suite"},
		{"1 AES_CM_128_HMAC_SHA1_80 " + key30b64, ErrCrypto, "no method"},
		{"1 AES_CM_128_HMAC_SHA1_80 uri:" + key30b64, ErrCryptoUnsupported, "key method"},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + key30b64[:39] + "!", ErrCrypto, "base64"},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + key30b64[:38], ErrCrypto, "base64"},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + short, ErrCrypto, "29 bytes"},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + long, ErrCrypto, "31 bytes"},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + key30b64 + "|1:4", ErrCryptoUnsupported, "MKI"},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + key30b64 + "|2^31|1:4", ErrCryptoUnsupported, "MKI"},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + key30b64 + "|2^31|x", ErrCrypto, "MKI"},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + key30b64 + "|2^31|1:4|x", ErrCrypto, "fields"},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + key30b64 + "|2^31|1:4;inline:" + key30b64 + "|2^31|2:4", ErrCryptoUnsupported, "more than one key"},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + key30b64 + "|2^10", ErrCryptoUnsupported, "lifetime"},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + key30b64 + "|1000", ErrCryptoUnsupported, "lifetime"},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + key30b64 + "|2^64", ErrCrypto, "lifetime"},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + key30b64 + "|2^+3", ErrCrypto, "lifetime"},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + key30b64 + "|", ErrCrypto, "lifetime"},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + key30b64 + " KDR=24", ErrCryptoUnsupported, "key derivation rate"},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + key30b64 + " UNENCRYPTED_SRTP", ErrCryptoUnsupported, "UNENCRYPTED_SRTP"},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + key30b64 + " UNAUTHENTICATED_SRTP", ErrCryptoUnsupported, "UNAUTH"},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + key30b64 + " FEC_KEY=inline:" + key30b64, ErrCryptoUnsupported, "FEC_KEY"},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + key30b64 + " WSH=x", ErrCrypto, "WSH"},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + key30b64 + " FOO=1", ErrCryptoUnsupported, "FOO"},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + strings.Repeat("A", 2000), ErrCrypto, "bytes"},
	}
	for _, c := range bad {
		_, err := ParseCrypto(c.in)
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("ParseCrypto(%.60q) = %v, want %v saying %q", c.in, err, c.want, c.says)
		}
		if err != nil && strings.Contains(err.Error(), key30b64) {
			t.Errorf("error for %.60q shows the key: %v", c.in, err)
		}
	}
}

func TestNewKey(t *testing.T) {
	a, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewKey()
	if len(a) != KeyLen || bytes.Equal(a, b) {
		t.Errorf("NewKey: %x, %x", a, b)
	}
}

// offerSDP is a desk phone's offer with the given proto and attribute lines
// in its audio section.
func offerSDP(proto string, attrs ...string) []byte {
	var b strings.Builder
	b.WriteString("v=0\r\no=- 7 7 IN IP4 192.168.1.50\r\ns=-\r\nc=IN IP4 192.168.1.50\r\nt=0 0\r\n")
	fmt.Fprintf(&b, "m=audio 4000 %s 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n", proto)
	for _, a := range attrs {
		b.WriteString("a=" + a + "\r\n")
	}
	return []byte(b.String())
}

func crypto(tag int, suite string) string {
	return fmt.Sprintf("crypto:%d %s inline:%s", tag, suite, key30b64)
}

func TestAnswerSRTP(t *testing.T) {
	local := Local{Addr: netip.MustParseAddr("198.51.100.1"), Port: 20000, SRTPKey: ourKey}
	plain := Local{Addr: local.Addr, Port: local.Port}
	cases := []struct {
		name  string
		offer []byte
		local Local
		// want: "" refused; else "<proto> <tag> <suite>" or "<proto> plain"
		want string
		why  string
	}{
		{"savp 80", offerSDP("RTP/SAVP", crypto(1, SuiteAES80)), local, "RTP/SAVP 1 " + SuiteAES80, ""},
		{"savp 32", offerSDP("RTP/SAVP", crypto(1, SuiteAES32)), local, "RTP/SAVP 1 " + SuiteAES32, ""},
		{"savp 80 preferred", offerSDP("RTP/SAVP", crypto(1, SuiteAES32), crypto(2, SuiteAES80)), local,
			"RTP/SAVP 2 " + SuiteAES80, ""},
		{"savp unsupported first", offerSDP("RTP/SAVP", "crypto:1 AES_256_CM_HMAC_SHA1_80 inline:"+key30b64+key30b64,
			crypto(5, SuiteAES32)), local, "RTP/SAVP 5 " + SuiteAES32, ""},
		{"avp with crypto", offerSDP("RTP/AVP", crypto(1, SuiteAES80)), local, "RTP/AVP 1 " + SuiteAES80, ""},
		{"avp with bad crypto", offerSDP("RTP/AVP", "crypto:1 AES_CM_128_HMAC_SHA1_80 inline:short"), local, "RTP/AVP plain", ""},
		{"avp plain", offerSDP("RTP/AVP"), local, "RTP/AVP plain", ""},
		{"avp with crypto, srtp off", offerSDP("RTP/AVP", crypto(1, SuiteAES80)), plain, "RTP/AVP plain", ""},
		{"savp no crypto", offerSDP("RTP/SAVP"), local, "", "RTP/SAVP without a=crypto"},
		{"savp only unsupported", offerSDP("RTP/SAVP", "crypto:1 F8_128_HMAC_SHA1_80 inline:"+key30b64,
			"crypto:2 AES_CM_128_HMAC_SHA1_80 inline:"+key30b64+"|2^31|1:4"), local, "",
			`without a usable a=crypto (unsupported a=crypto: suite "F8_128_HMAC_SHA1_80"; unsupported a=crypto: MKI "1:4")`},
		{"savp, srtp off", offerSDP("RTP/SAVP", crypto(1, SuiteAES80)), plain, "", "SRTP not enabled"},
		{"savpf refused", offerSDP("RTP/SAVPF", crypto(1, SuiteAES80)), local, "", "audio transport RTP/SAVPF"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o, err := Parse(c.offer)
			if err != nil {
				t.Fatal(err)
			}
			ans, ch, err := fixedSession().Answer(o, c.local, supported)
			if c.want == "" {
				if !errors.Is(err, ErrNotAcceptable) || !strings.Contains(err.Error(), c.why) {
					t.Fatalf("Answer = %v, want ErrNotAcceptable saying %q", err, c.why)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			back, err := Parse(ans)
			if err != nil {
				t.Fatalf("answer does not parse: %v\n%s", err, ans)
			}
			m, _ := back.Audio()
			got := m.Proto + " plain"
			if ch.SRTP != nil {
				got = fmt.Sprintf("%s %d %s", m.Proto, ch.SRTP.Local.Tag, ch.SRTP.Suite())
				if len(m.Crypto) != 1 || m.Crypto[0].Tag != ch.SRTP.Local.Tag || m.Crypto[0].Suite != ch.SRTP.Suite() ||
					!bytes.Equal(m.Crypto[0].Key, ourKey) {
					t.Errorf("answer's crypto %+v, want tag %d with our key", m.Crypto, ch.SRTP.Local.Tag)
				}
				if !bytes.Equal(ch.SRTP.Remote.Key, key30) || !bytes.Equal(ch.SRTP.Local.Key, ourKey) {
					t.Errorf("choice keys: local %x remote %x", ch.SRTP.Local.Key, ch.SRTP.Remote.Key)
				}
				if ch.SRTP.Local.Tag != ch.SRTP.Remote.Tag || ch.SRTP.Local.Suite != ch.SRTP.Remote.Suite {
					t.Errorf("choice %+v: tags or suites differ", ch.SRTP)
				}
			} else if len(m.Crypto) != 0 || strings.Contains(string(ans), "crypto") {
				t.Errorf("plain answer carries crypto:\n%s", ans)
			}
			if got != c.want {
				t.Errorf("answer %s, want %s\n%s", got, c.want, ans)
			}
		})
	}
}

// TestSRTPGolden pins the bytes of an SRTP answer, and of the offer of an
// offerless re-INVITE on an SRTP call, and checks the offerer's side
// (AcceptSecure) reads them.
func TestSRTPGolden(t *testing.T) {
	local := Local{Addr: netip.MustParseAddr("198.51.100.1"), Port: 20000, SRTPKey: ourKey}
	o, err := Parse(offerSDP("RTP/SAVP", crypto(1, SuiteAES32), crypto(2, SuiteAES80)+"|2^31"))
	if err != nil {
		t.Fatal(err)
	}
	ans, ch, err := fixedSession().Answer(o, local, supported)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "srtp/savp.answer.sdp", ans)

	// The phone's view: our answer to its tag 2.
	back, err := Parse(ans)
	if err != nil {
		t.Fatal(err)
	}
	acc, err := AcceptSecure(back, supported, o.Media[0].Crypto[1])
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(acc.SRTP.Remote.Key, ourKey) || acc.SRTP.Suite() != SuiteAES80 || acc.Codec.PT != ch.Codec.PT {
		t.Errorf("AcceptSecure(our answer) = %+v", acc.SRTP)
	}
	if _, err := AcceptSecure(back, supported, o.Media[0].Crypto[0]); !errors.Is(err, ErrNotAcceptable) {
		t.Errorf("AcceptSecure for the tag not answered = %v", err)
	}
	if _, err := Accept(back, supported); !errors.Is(err, ErrNotAcceptable) {
		t.Errorf("Accept (plain) of an RTP/SAVP answer = %v", err)
	}

	// Our offer on an SRTP call repeats our key as RTP/SAVP, tag 1.
	local.SRTPSuite = SuiteAES80
	offer, err := fixedSession().Offer(local, supported)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "srtp/savp.offer.sdp", offer)
	po, err := Parse(offer)
	if err != nil {
		t.Fatal(err)
	}
	// A phone answers it with its own key; we read that back.
	phone := Local{Addr: netip.MustParseAddr("192.168.1.50"), Port: 4000, SRTPKey: key30}
	pans, _, err := fixedSession().Answer(po, phone, supported)
	if err != nil {
		t.Fatal(err)
	}
	pa, _ := Parse(pans)
	acc, err = AcceptSecure(pa, supported, *local.OfferCrypto())
	if err != nil || !bytes.Equal(acc.SRTP.Remote.Key, key30) || !bytes.Equal(acc.SRTP.Local.Key, ourKey) {
		t.Fatalf("AcceptSecure(phone's answer) = %+v, %v", acc.SRTP, err)
	}

	if _, err := fixedSession().Offer(Local{Addr: local.Addr, Port: 1, SRTPKey: ourKey[:16]}, supported); err == nil {
		t.Error("Offer with a short SRTP key succeeded")
	}
	if _, err := fixedSession().Offer(Local{Addr: local.Addr, Port: 1, SRTPKey: ourKey, SRTPSuite: "NULL"}, supported); err == nil {
		t.Error("Offer with an unsupported suite succeeded")
	}
}

func TestSRTPEqual(t *testing.T) {
	a := &SRTP{Local: Crypto{Tag: 1, Suite: SuiteAES80, Key: ourKey}, Remote: Crypto{Tag: 1, Suite: SuiteAES80, Key: key30}}
	b := &SRTP{Local: Crypto{Tag: 2, Suite: SuiteAES80, Key: ourKey}, Remote: Crypto{Tag: 2, Suite: SuiteAES80, Key: key30}}
	c := &SRTP{Local: a.Local, Remote: Crypto{Tag: 1, Suite: SuiteAES80, Key: ourKey}}
	var none *SRTP
	if !a.Equal(b) || a.Equal(c) || a.Equal(nil) || !none.Equal(nil) || none.Equal(a) {
		t.Error("SRTP.Equal")
	}
}
