package webrtc

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/sentralpbx/sentral/media/sdp"
)

// seeds adds the SDP bodies of testdata and a few odd ones.
func seeds(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.sdp")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{
		"", "m=", "m=audio 9 UDP/TLS/RTP/SAVPF", "a=fingerprint:\na=ice-ufrag:",
		"v=0\no=- 1 1 IN IP4 0.0.0.0\ns=-\nt=0 0\nm=audio 9 UDP/TLS/RTP/SAVPF 0 126\nc=IN IP4 0.0.0.0\na=rtpmap:126 telephone-event/8000\n",
		"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=inactive\r\nm=audio 9 UDP/TLS/RTP/SAVPF 8\r\nm=audio 7 RTP/AVP 0\r\n",
	} {
		f.Add([]byte(s))
	}
}

// FuzzIsWebRTC: no panic, and every body that parses as a browser SDP
// with a DTLS-SRTP audio stream is recognised.
func FuzzIsWebRTC(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		got := IsWebRTC(body)
		if b, err := parseBrowser(body); err == nil && dtlsProto(b.proto) && !got {
			t.Fatalf("browser SDP with %s not recognised", b.proto)
		}
	})
}

// FuzzBrowserSDP reads a browser body and runs every rewrite of it: the
// direction for pion and for the browser must read back as set, going
// back to the original direction must give the original body when it
// had one attribute, and the phone offer written from it must parse and
// be answerable by media/sdp with a codec the browser has.
func FuzzBrowserSDP(f *testing.F) {
	seeds(f)
	local := sdp.Local{Addr: netip.MustParseAddr("198.51.100.1"), Port: 20000}
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := parseBrowser(body)
		if err != nil {
			return
		}
		for _, d := range []sdp.Direction{sdp.SendRecv, sdp.SendOnly, sdp.RecvOnly, sdp.Inactive} {
			out := setDirection(body, d)
			back, err := parseBrowser(out)
			if err != nil {
				t.Fatalf("%s rewrite does not parse: %v\n%q", d, err, out)
			}
			if back.dir != d || back.index != b.index || len(back.codecs) != len(b.codecs) {
				t.Fatalf("%s rewrite reads back as %+v, was %+v\n%q", d, back, b, out)
			}
			if again := setDirection(out, d); !bytes.Equal(again, out) {
				t.Fatalf("%s rewrite is not idempotent\n%q\n%q", d, out, again)
			}
		}
		names := b.g711(nil)
		if len(names) == 0 {
			return
		}
		l := local
		l.EventPT = eventPTFor(b)
		offer, err := phoneOfferFor(&sdp.Session{Username: "sentral", ID: 1, Version: 1}, l, b, names)
		if err != nil {
			t.Fatalf("phone offer: %v", err)
		}
		o, err := sdp.Parse(offer)
		if err != nil {
			t.Fatalf("phone offer does not parse: %v\n%q", err, offer)
		}
		_, ch, err := sdp.NewSession().Answer(o, sdp.Local{Addr: netip.MustParseAddr("192.0.2.1"), Port: 4000}, []string{"PCMA", "PCMU"})
		if err != nil {
			t.Fatalf("phone offer not answerable: %v\n%q", err, offer)
		}
		if _, ok := b.find(ch.Codec.Name); !ok {
			t.Fatalf("phone answered %s, which the browser lacks", ch.Codec.Name)
		}
		if _, hasTE := b.event(); (ch.Event != nil) != hasTE {
			t.Fatalf("telephone-event in phone offer %v, in browser offer %v\n%q", ch.Event != nil, hasTE, offer)
		}
	})
}

// FuzzStripFormat strips telephone-event 101 from phone SDP: what parsed
// before parses after, with the same streams and no 101 left in an audio
// stream that had other formats.
func FuzzStripFormat(f *testing.F) {
	seeds(f)
	f.Add([]byte("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		before, err := sdp.Parse(body)
		out := stripFormat(body, 101)
		if err != nil {
			return
		}
		after, err := sdp.Parse(out)
		if err != nil {
			t.Fatalf("stripped SDP does not parse: %v\n%q", err, out)
		}
		if len(after.Media) != len(before.Media) {
			t.Fatalf("%d streams, was %d", len(after.Media), len(before.Media))
		}
		for i, m := range after.Media {
			if m.Type == "audio" && m.Port != 0 && len(before.Media[i].Formats) > 1 {
				if _, ok := m.Codec(101); ok {
					t.Fatalf("stream %d still has 101\n%q", i, out)
				}
			}
		}
	})
}
