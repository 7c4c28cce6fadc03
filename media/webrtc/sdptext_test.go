package webrtc

import (
	"bytes"
	"errors"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sentralpbx/sentral/media/sdp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// golden compares got with testdata/name, or writes it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestIsWebRTC(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string
		want bool
	}{
		{"chrome", string(readFile(t, "chrome.offer.sdp")), true},
		{"firefox", string(readFile(t, "firefox.offer.sdp")), true},
		{"pion", string(readFile(t, "pion.answer.sdp")), true},
		{"phone", string(readFile(t, "chrome.offer.phone.sdp")), false},
		{"LF endings", "v=0\nm=audio 9 UDP/TLS/RTP/SAVPF 0\n", true},
		{"SAVP", "m=audio 9 UDP/TLS/RTP/SAVP 0\r\n", true},
		{"TCP", "m=audio 9 TCP/DTLS/RTP/SAVPF 0\r\n", true},
		{"lower case", "m=audio 9 udp/tls/rtp/savpf 0\r\n", true},
		{"old Chrome", "m=audio 1 RTP/SAVPF 0\r\na=ice-ufrag:x\r\na=fingerprint:sha-256 AA\r\n", true},
		{"SDES phone", "m=audio 1 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:x\r\n", false},
		{"fingerprint alone", "m=audio 1 RTP/AVP 0\r\na=fingerprint:sha-256 AA\r\n", false},
		{"SAVPFF", "m=audio 9 UDP/TLS/RTP/SAVPFF 0\r\n", false},
		{"empty", "", false},
	} {
		if got := IsWebRTC([]byte(tc.body)); got != tc.want {
			t.Errorf("%s: IsWebRTC = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestParseBrowser(t *testing.T) {
	for _, tc := range []struct {
		file  string
		g711  string
		event int // telephone-event/8000 PT, -1 none
		dir   sdp.Direction
	}{
		{"chrome.offer.sdp", "PCMU PCMA", 126, sdp.SendRecv},
		{"chrome_hold.offer.sdp", "PCMU PCMA", 126, sdp.SendOnly},
		{"firefox.offer.sdp", "PCMU PCMA", 101, sdp.SendRecv},
		{"pcma_no_events.offer.sdp", "PCMA PCMU", -1, sdp.SendRecv},
		{"opus_only.offer.sdp", "", -1, sdp.SendRecv},
		{"pion.answer.sdp", "PCMU", 126, sdp.SendRecv},
		{"pion.offer.sdp", "PCMA PCMU", 101, sdp.SendRecv},
	} {
		b, err := parseBrowser(readFile(t, tc.file))
		if err != nil {
			t.Errorf("%s: %v", tc.file, err)
			continue
		}
		ev := -1
		if c, ok := b.event(); ok {
			ev = int(c.PT)
		}
		if g := strings.Join(b.g711(nil), " "); g != tc.g711 || ev != tc.event || b.dir != tc.dir {
			t.Errorf("%s: G.711 %q event %d dir %v; want %q %d %v", tc.file, g, ev, b.dir, tc.g711, tc.event, tc.dir)
		}
	}
	for _, body := range []string{"", "v=0\r\n", "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n"} {
		_, err := parseBrowser([]byte(body))
		if !errors.Is(err, sdp.ErrMalformed) && !errors.Is(err, sdp.ErrNotAcceptable) {
			t.Errorf("parseBrowser(%q) = %v", body, err)
		}
	}
}

// TestGoldenPhoneOffers rewrites each browser offer in testdata into the
// offer for the phone (a fixed o= line, 198.51.100.1:20000), and the
// body pion is given (direction made sendrecv).
func TestGoldenPhoneOffers(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.offer.sdp")
	local := sdp.Local{Addr: netip.MustParseAddr("198.51.100.1"), Port: 20000}
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".sdp")
		if strings.HasPrefix(name, "pion.") {
			continue
		}
		body := readFile(t, filepath.Base(path))
		bo, err := parseBrowser(body)
		if err != nil {
			t.Fatal(err)
		}
		golden(t, name+".pion.sdp", setDirection(body, sdp.SendRecv))
		names := bo.g711(nil)
		if len(names) == 0 {
			continue
		}
		l := local
		l.EventPT = eventPTFor(bo)
		sess := &sdp.Session{Username: "sentral", ID: 4242, Version: 4242}
		offer, err := phoneOfferFor(sess, l, bo, names)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sdp.Parse(offer); err != nil {
			t.Errorf("%s: phone offer does not parse: %v", name, err)
		}
		golden(t, name+".phone.sdp", offer)
	}
}

// TestGoldenDirections rewrites pion's answer and offer to each
// direction, as the browser receives them on hold.
func TestGoldenDirections(t *testing.T) {
	for _, f := range []string{"pion.answer", "pion.offer"} {
		body := readFile(t, f+".sdp")
		for _, d := range []sdp.Direction{sdp.SendOnly, sdp.RecvOnly, sdp.Inactive} {
			out := setDirection(body, d)
			golden(t, f+"."+d.String()+".sdp", out)
			b, err := parseBrowser(out)
			if err != nil || b.dir != d {
				t.Errorf("%s to %s: reads back as %v, %v", f, d, b, err)
			}
			if back := setDirection(out, sdp.SendRecv); !bytes.Equal(back, body) {
				t.Errorf("%s to %s and back is not the original", f, d)
			}
		}
	}
}

func TestSetDirection(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"none: before the first a=",
			"v=0\r\nm=audio 9 RTP/AVP 0\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:0 PCMU/8000\r\n",
			"v=0\r\nm=audio 9 RTP/AVP 0\r\nc=IN IP4 0.0.0.0\r\na=inactive\r\na=rtpmap:0 PCMU/8000\r\n"},
		{"none and no a=: at the end",
			"v=0\nm=audio 9 RTP/AVP 0\nc=IN IP4 0.0.0.0",
			"v=0\nm=audio 9 RTP/AVP 0\nc=IN IP4 0.0.0.0\na=inactive\n"},
		{"session level kept, media level set; two lines become one",
			"v=0\r\na=sendonly\r\nm=audio 9 RTP/AVP 0\r\na=sendrecv\r\na=recvonly\r\nm=video 0 RTP/AVP 96\r\na=sendrecv\r\n",
			"v=0\r\na=sendonly\r\nm=audio 9 RTP/AVP 0\r\na=inactive\r\nm=video 0 RTP/AVP 96\r\na=sendrecv\r\n"},
		{"a disabled audio stream is left alone",
			"v=0\r\nm=audio 0 RTP/AVP 0\r\na=sendrecv\r\n",
			"v=0\r\nm=audio 0 RTP/AVP 0\r\na=sendrecv\r\n"},
		{"audio section ending at the next m-line",
			"m=audio 9 RTP/AVP 0\r\nm=audio 8 RTP/AVP 0\r\n",
			"m=audio 9 RTP/AVP 0\r\na=inactive\r\nm=audio 8 RTP/AVP 0\r\na=inactive\r\n"},
	} {
		if got := string(setDirection([]byte(tc.in), sdp.Inactive)); got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
}

func TestStripFormat(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"events out",
			"v=0\r\nm=audio 20000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\n",
			"v=0\r\nm=audio 20000 RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20\r\n"},
		{"the only format stays",
			"m=audio 20000 RTP/AVP 101\r\na=rtpmap:101 telephone-event/8000\r\n",
			"m=audio 20000 RTP/AVP 101\r\na=rtpmap:101 telephone-event/8000\r\n"},
		{"other streams untouched",
			"m=video 9 RTP/AVP 96 101\r\na=rtpmap:101 x/90000\r\nm=audio 1 RTP/AVP 0 101\r\na=fmtp:1010 x\r\na=fmtp:101 0-15\r\n",
			"m=video 9 RTP/AVP 96 101\r\na=rtpmap:101 x/90000\r\nm=audio 1 RTP/AVP 0\r\na=fmtp:1010 x\r\n"},
	} {
		if got := string(stripFormat([]byte(tc.in), 101)); got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
}
