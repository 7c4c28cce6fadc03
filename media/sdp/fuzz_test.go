package sdp

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds junk to Parse and, when it parses, to Answer: neither may
// panic, and any answer we write must parse back with the same number of
// m-lines and be accepted by Accept.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.sdp")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{
		"", "v=0", "v=0\r\no=\r\n", "m=audio 1 RTP/AVP 0",
		"v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nc=IN IP4 1.2.3.4\nm=audio 65535 RTP/AVP 0 101\na=fmtp:101 0-255\na=rtpmap:101 telephone-event/8000\n",
		"v=0\no=- 1 1 IN IP6 ::1\ns=-\nc=IN IP6 ::ffff:1.2.3.4\nt=0 0\nm=audio 4000/2 RTP/AVP 0\na=rtcp:65535 IN IP6 ::1\n",
	} {
		f.Add([]byte(s))
	}
	local := Local{Addr: netip.MustParseAddr("198.51.100.1"), Port: 20000}
	f.Fuzz(func(t *testing.T, body []byte) {
		o, err := Parse(body)
		if err != nil {
			return
		}
		_ = o.SameVersion(o)
		for i := range o.Media {
			m := &o.Media[i]
			_, _ = m.TelephoneEvent()
			_ = m.Effective()
		}
		ans, ch, err := fixedSession().Answer(o, local, supported)
		if err != nil {
			return
		}
		back, err := Parse(ans)
		if err != nil {
			t.Fatalf("our answer does not parse: %v\n%q", err, ans)
		}
		if len(back.Media) != len(o.Media) {
			t.Fatalf("answer has %d m-lines, offer %d", len(back.Media), len(o.Media))
		}
		acc, err := Accept(back, supported)
		if err != nil || acc.Codec.PT != ch.Codec.PT || acc.Index != ch.Index {
			t.Fatalf("Accept(own answer) = %+v, %v; chose %+v", acc, err, ch)
		}
	})
}
