package sdp

import (
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var supported = []string{"PCMU", "PCMA"}

// summary renders a Choice compactly for table comparison.
func summary(c Choice) string {
	ev := "-"
	if c.Event != nil {
		ev = fmt.Sprintf("%d(%s)", c.Event.PT, c.Event.Fmtp)
	}
	return fmt.Sprintf("m%d %s/%d ev=%s ptime=%d rtp=%s rtcp=%s %s hold=%v",
		c.Index, c.Codec.Name, c.Codec.PT, ev, c.Ptime, c.Remote, c.RemoteRTCP, c.Direction, c.Hold)
}

// golden compares got (CRLF SDP) with testdata/name, stored with LF for
// readable diffs, and checks every line of got ends in CRLF.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	s := string(got)
	if !strings.HasSuffix(s, "\r\n") || strings.Count(s, "\n") != strings.Count(s, "\r\n") {
		t.Errorf("%s: lines not CRLF-terminated: %q", name, s)
	}
	lf := strings.ReplaceAll(s, "\r\n", "\n")
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(lf), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if lf != string(want) {
		t.Errorf("%s differs:\n--- got\n%s--- want\n%s", name, lf, want)
	}
}

func fixedSession() *Session { return &Session{Username: "sentral", ID: 4242, Version: 4242} }

func TestAnswerGolden(t *testing.T) {
	want := map[string]string{
		"basic":            "m0 PCMU/0 ev=101(0-15) ptime=20 rtp=192.168.1.20:11800 rtcp=192.168.1.20:11801 sendrecv hold=false",
		"pcma_first":       "m0 PCMA/8 ev=101(0-16) ptime=20 rtp=10.0.0.5:30000 rtcp=10.0.0.5:30001 sendrecv hold=false",
		"video_rejected":   "m0 PCMU/0 ev=101(0-15) ptime=20 rtp=192.0.2.7:7078 rtcp=192.0.2.7:7079 sendrecv hold=false",
		"te96":             "m0 PCMA/8 ev=96(0-15) ptime=30 rtp=203.0.113.9:16384 rtcp=203.0.113.9:16385 sendrecv hold=false",
		"ipv6_media_c":     "m0 PCMU/0 ev=- ptime=20 rtp=[2001:db8::10]:5004 rtcp=[2001:db8::10]:5005 sendrecv hold=false",
		"hold_sendonly":    "m0 PCMU/0 ev=101(0-15) ptime=20 rtp=192.168.1.20:11800 rtcp=192.168.1.20:11801 recvonly hold=true",
		"hold_zero":        "m0 PCMU/0 ev=- ptime=20 rtp=0.0.0.0:4000 rtcp=0.0.0.0:4001 recvonly hold=true",
		"inactive":         "m0 PCMA/8 ev=- ptime=20 rtp=192.168.1.31:4000 rtcp=192.168.1.31:4001 inactive hold=true",
		"case_and_order":   "m0 PCMU/0 ev=101(0-15) ptime=20 rtp=192.168.1.32:4002 rtcp=192.168.1.32:4003 sendrecv hold=false",
		"t38_image":        "m0 PCMA/8 ev=- ptime=20 rtp=192.168.1.40:4000 rtcp=192.168.1.40:4001 sendrecv hold=false",
		"savp_then_avp":    "m1 PCMU/0 ev=101(0-15) ptime=20 rtp=192.168.1.41:4002 rtcp=192.168.1.41:4005 sendrecv hold=false",
		"te_wideband_only": "m0 PCMU/0 ev=- ptime=20 rtp=192.168.1.42:4000 rtcp=192.168.1.42:4001 sendrecv hold=false",
	}
	files, err := filepath.Glob("testdata/*.offer.sdp")
	if err != nil || len(files) == 0 {
		t.Fatalf("no offers: %v", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".offer.sdp")
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			offer, err := Parse(body)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			local := Local{Addr: netip.MustParseAddr("198.51.100.1"), Port: 20000}
			if strings.Contains(name, "ipv6") {
				local.Addr = netip.MustParseAddr("2001:db8::1")
			}
			ans, ch, err := fixedSession().Answer(offer, local, supported)
			if err != nil {
				t.Fatalf("Answer: %v", err)
			}
			if got := summary(ch); got != want[name] {
				t.Errorf("choice\n got %s\nwant %s", got, want[name])
			}
			golden(t, name+".answer.sdp", ans)
			// What we write must read back as the same decision.
			back, err := Parse(ans)
			if err != nil {
				t.Fatalf("answer does not parse: %v", err)
			}
			if len(back.Media) != len(offer.Media) {
				t.Fatalf("answer has %d m-lines, offer %d", len(back.Media), len(offer.Media))
			}
			for i, m := range back.Media {
				if m.Type != offer.Media[i].Type || (i != ch.Index) != (m.Port == 0) {
					t.Errorf("m-line %d: %s port %d", i, m.Type, m.Port)
				}
			}
			acc, err := Accept(back, supported)
			if err != nil {
				t.Fatalf("Accept(own answer): %v", err)
			}
			if acc.Codec.PT != ch.Codec.PT || (acc.Event == nil) != (ch.Event == nil) {
				t.Errorf("Accept(own answer) = %s", summary(acc))
			}
		})
	}
}

func TestOfferGoldenAndVersions(t *testing.T) {
	s := fixedSession()
	local := Local{Addr: netip.MustParseAddr("198.51.100.1"), Port: 20000}
	first, err := s.Offer(local, supported)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "offer.sdp", first)

	// A session refresh with nothing changed keeps the version (RFC 3264 §8).
	again, _ := s.Offer(local, supported)
	if string(again) != string(first) || s.Version != 4242 {
		t.Errorf("unchanged re-offer changed: version %d", s.Version)
	}
	// Putting the peer on hold changes the SDP: version +1, same ID.
	local.Direction = SendOnly
	hold, _ := s.Offer(local, supported)
	golden(t, "offer_hold.sdp", hold)
	p, err := Parse(hold)
	if err != nil {
		t.Fatal(err)
	}
	if p.Origin.SessionID != 4242 || p.Origin.Version != 4243 {
		t.Errorf("o= after change: %+v", p.Origin)
	}
	// The answer we give in the same dialog continues the same numbering.
	off, _ := Parse([]byte("v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nc=IN IP4 192.0.2.1\nt=0 0\nm=audio 4000 RTP/AVP 0\n"))
	_, _, err = s.Answer(off, Local{Addr: local.Addr, Port: 20000}, supported)
	if err != nil || s.Version != 4244 {
		t.Errorf("answer after offer: version %d, %v", s.Version, err)
	}

	if _, err := s.Offer(local, []string{"G729"}); err == nil {
		t.Error("offer with unknown codec accepted")
	}
	if _, err := s.Offer(Local{Addr: local.Addr}, supported); err == nil {
		t.Error("offer without port accepted")
	}

	// A fresh session gets a random, positive-as-int64 identity.
	n := NewSession()
	if n.ID == 0 || n.ID>>62 != 0 || n.Version != n.ID {
		t.Errorf("NewSession: %+v", n)
	}
}

func TestAcceptAnswer(t *testing.T) {
	ans, err := Parse([]byte("v=0\r\no=- 9 9 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n" +
		"m=audio 6000 RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=ptime:20\r\na=recvonly\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	ch, err := Accept(ans, supported)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := summary(ch), "m0 PCMA/8 ev=101() ptime=20 rtp=192.0.2.9:6000 rtcp=192.0.2.9:6001 sendonly hold=true"; got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
	rejected, _ := Parse([]byte("v=0\no=- 9 10 IN IP4 192.0.2.9\ns=-\nc=IN IP4 192.0.2.9\nt=0 0\nm=audio 0 RTP/AVP 0\n"))
	if _, err := Accept(rejected, supported); !errors.Is(err, ErrNotAcceptable) {
		t.Errorf("rejected stream: %v", err)
	}
	if rejected.SameVersion(ans) || !rejected.SameVersion(rejected) || rejected.SameVersion(nil) {
		t.Error("SameVersion")
	}
}

func TestNotAcceptable(t *testing.T) {
	head := "v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nc=IN IP4 192.0.2.1\nt=0 0\n"
	for name, body := range map[string]string{
		"g729 only":       "m=audio 4000 RTP/AVP 18\na=rtpmap:18 G729/8000\n",
		"wideband pcmu":   "m=audio 4000 RTP/AVP 96\na=rtpmap:96 PCMU/16000\n",
		"srtp only":       "m=audio 4000 RTP/SAVP 0\n",
		"video only":      "m=video 4000 RTP/AVP 31\n",
		"audio disabled":  "m=audio 0 RTP/AVP 0\n",
		"no media":        "",
		"dynamic no map":  "m=audio 4000 RTP/AVP 97\n",
		"stereo pcmu":     "m=audio 4000 RTP/AVP 97\na=rtpmap:97 PCMU/8000/2\n",
		"te but no codec": "m=audio 4000 RTP/AVP 101\na=rtpmap:101 telephone-event/8000\n",
	} {
		t.Run(name, func(t *testing.T) {
			o, err := Parse([]byte(head + body))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			ans, _, err := fixedSession().Answer(o, Local{Addr: netip.MustParseAddr("198.51.100.1"), Port: 20000}, supported)
			if !errors.Is(err, ErrNotAcceptable) || ans != nil {
				t.Fatalf("got %q, %v; want 488", ans, err)
			}
			if !strings.Contains(err.Error(), "488 Not Acceptable Here") {
				t.Errorf("error %q does not say 488", err)
			}
		})
	}
}

func TestParseEdges(t *testing.T) {
	const head = "v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\n"
	type want struct {
		media     int
		addr      string // first audio's Addr
		ptime     int
		dir       Direction
		eff       Direction
		codecs    string // "pt:name/rate" ...
		event     string // "pt fmtp" or ""
		rtcp      int
		malformed bool
	}
	codecs := func(m *Media) string {
		var s []string
		for _, c := range m.Codecs {
			s = append(s, fmt.Sprintf("%d:%s/%d", c.PT, c.Name, c.ClockRate))
		}
		return strings.Join(s, " ")
	}
	tests := []struct {
		name, body string
		want       want
	}{
		{"session c", head + "c=IN IP4 192.0.2.1\nt=0 0\nm=audio 4000 RTP/AVP 0\n",
			want{media: 1, addr: "192.0.2.1", codecs: "0:PCMU/8000"}},
		{"media c overrides session", head + "c=IN IP4 192.0.2.1\nt=0 0\nm=audio 4000 RTP/AVP 8\nc=IN IP4 192.0.2.99\n",
			want{media: 1, addr: "192.0.2.99", codecs: "8:PCMA/8000"}},
		{"missing c", head + "t=0 0\nm=audio 4000 RTP/AVP 0\n", want{malformed: true}},
		{"missing c on disabled stream", head + "t=0 0\nm=audio 0 RTP/AVP 0\n", want{media: 1, addr: "invalid IP", codecs: "0:PCMU/8000"}},
		{"missing t", head + "c=IN IP4 192.0.2.1\nm=audio 4000 RTP/AVP 0\n", want{media: 1, addr: "192.0.2.1", codecs: "0:PCMU/8000"}},
		{"LF, blank lines, trailing blanks, no final newline", head + "c=IN IP4 192.0.2.1 \n\nt=0 0\nm=audio 4000 RTP/AVP 0\na=ptime:20",
			want{media: 1, addr: "192.0.2.1", ptime: 20, codecs: "0:PCMU/8000"}},
		{"ttl suffix", head + "c=IN IP4 192.0.2.1/127\nt=0 0\nm=audio 4000 RTP/AVP 0\n", want{media: 1, addr: "192.0.2.1", codecs: "0:PCMU/8000"}},
		{"ipv6", head + "c=IN IP6 2001:db8::5\nt=0 0\nm=audio 4000 RTP/AVP 0\n", want{media: 1, addr: "2001:db8::5", codecs: "0:PCMU/8000"}},
		{"ipv6 address as IP4", head + "c=IN IP4 2001:db8::5\nt=0 0\nm=audio 4000 RTP/AVP 0\n", want{malformed: true}},
		{"hostname", head + "c=IN IP4 pbx.example.com\nt=0 0\nm=audio 4000 RTP/AVP 0\n", want{malformed: true}},
		{"hold 0.0.0.0", head + "c=IN IP4 0.0.0.0\nt=0 0\nm=audio 4000 RTP/AVP 0\n",
			want{media: 1, addr: "0.0.0.0", eff: SendOnly, codecs: "0:PCMU/8000"}},
		{"hold 0.0.0.0 recvonly", head + "c=IN IP4 0.0.0.0\nt=0 0\nm=audio 4000 RTP/AVP 0\na=recvonly\n",
			want{media: 1, addr: "0.0.0.0", dir: RecvOnly, eff: Inactive, codecs: "0:PCMU/8000"}},
		{"session direction", head + "c=IN IP4 192.0.2.1\nt=0 0\na=sendonly\nm=audio 4000 RTP/AVP 0\n",
			want{media: 1, addr: "192.0.2.1", dir: SendOnly, eff: SendOnly, codecs: "0:PCMU/8000"}},
		{"media direction wins", head + "c=IN IP4 192.0.2.1\nt=0 0\na=sendonly\nm=audio 4000 RTP/AVP 0\na=inactive\n",
			want{media: 1, addr: "192.0.2.1", dir: Inactive, eff: Inactive, codecs: "0:PCMU/8000"}},
		{"te 101", head + "c=IN IP4 192.0.2.1\nt=0 0\nm=audio 4000 RTP/AVP 0 101\na=rtpmap:101 telephone-event/8000\na=fmtp:101 0-16\n",
			want{media: 1, addr: "192.0.2.1", codecs: "0:PCMU/8000 101:telephone-event/8000", event: "101 0-16"}},
		{"te 96", head + "c=IN IP4 192.0.2.1\nt=0 0\nm=audio 4000 RTP/AVP 8 96\na=rtpmap:96 telephone-event/8000\na=fmtp:96 0-15\n",
			want{media: 1, addr: "192.0.2.1", codecs: "8:PCMA/8000 96:telephone-event/8000", event: "96 0-15"}},
		{"te without fmtp", head + "c=IN IP4 192.0.2.1\nt=0 0\nm=audio 4000 RTP/AVP 8 100\na=rtpmap:100 Telephone-Event/8000\n",
			want{media: 1, addr: "192.0.2.1", codecs: "8:PCMA/8000 100:Telephone-Event/8000", event: "100 "}},
		{"rtpmap case kept", head + "c=IN IP4 192.0.2.1\nt=0 0\nm=audio 4000 RTP/AVP 0\na=rtpmap:0 pcmu/8000\n",
			want{media: 1, addr: "192.0.2.1", codecs: "0:pcmu/8000"}},
		{"rtpmap overrides static", head + "c=IN IP4 192.0.2.1\nt=0 0\nm=audio 4000 RTP/AVP 0\na=rtpmap:0 PCMA/8000\n",
			want{media: 1, addr: "192.0.2.1", codecs: "0:PCMA/8000"}},
		{"junk rtpmap ignored", head + "c=IN IP4 192.0.2.1\nt=0 0\nm=audio 4000 RTP/AVP 0 97\na=rtpmap:97 x\na=rtpmap:foo PCMU/8000\n",
			want{media: 1, addr: "192.0.2.1", codecs: "0:PCMU/8000"}},
		{"ptime 30 and junk maxptime", head + "c=IN IP4 192.0.2.1\nt=0 0\nm=audio 4000 RTP/AVP 0\na=ptime:30\na=maxptime:x\n",
			want{media: 1, addr: "192.0.2.1", ptime: 30, codecs: "0:PCMU/8000"}},
		{"ptime junk", head + "c=IN IP4 192.0.2.1\nt=0 0\nm=audio 4000 RTP/AVP 0\na=ptime:-5\n",
			want{media: 1, addr: "192.0.2.1", codecs: "0:PCMU/8000"}},
		{"session ptime", head + "c=IN IP4 192.0.2.1\nt=0 0\na=ptime:40\nm=audio 4000 RTP/AVP 0\n",
			want{media: 1, addr: "192.0.2.1", ptime: 40, codecs: "0:PCMU/8000"}},
		{"rtcp attribute", head + "c=IN IP4 192.0.2.1\nt=0 0\nm=audio 4000 RTP/AVP 0\na=rtcp:4011 IN IP4 192.0.2.2\n",
			want{media: 1, addr: "192.0.2.1", codecs: "0:PCMU/8000", rtcp: 4011}},
		{"bad rtcp", head + "c=IN IP4 192.0.2.1\nt=0 0\nm=audio 4000 RTP/AVP 0\na=rtcp:x\n", want{malformed: true}},
		{"audio and video", head + "c=IN IP4 192.0.2.1\nt=0 0\nm=audio 4000 RTP/AVP 0\nm=video 4002 RTP/AVP 96\na=rtpmap:96 H264/90000\n",
			want{media: 2, addr: "192.0.2.1", codecs: "0:PCMU/8000"}},
		{"image line kept", head + "c=IN IP4 192.0.2.1\nt=0 0\nm=image 4002 udptl t38\nm=audio 4000 RTP/AVP 8\n",
			want{media: 2, addr: "192.0.2.1", codecs: "8:PCMA/8000"}},
		{"bad port", head + "c=IN IP4 192.0.2.1\nt=0 0\nm=audio 99999 RTP/AVP 0\n", want{malformed: true}},
		{"short m line", head + "c=IN IP4 192.0.2.1\nt=0 0\nm=audio 4000\n", want{malformed: true}},
		{"not sdp", "hello world\n", want{malformed: true}},
		{"empty", "", want{malformed: true}},
		{"out of order", "o=- 1 1 IN IP4 192.0.2.1\nv=0\ns=-\nt=0 0\n", want{malformed: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := Parse([]byte(tt.body))
			if tt.want.malformed {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("got %v, want ErrMalformed", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if len(o.Media) != tt.want.media {
				t.Fatalf("%d media, want %d", len(o.Media), tt.want.media)
			}
			var m *Media
			for i := range o.Media {
				if o.Media[i].Type == "audio" {
					m = &o.Media[i]
					break
				}
			}
			if got := m.Addr.String(); got != tt.want.addr {
				t.Errorf("addr %s, want %s", got, tt.want.addr)
			}
			if m.Ptime != tt.want.ptime || m.Direction != tt.want.dir || m.Effective() != tt.want.eff || m.RTCPPort != tt.want.rtcp {
				t.Errorf("ptime %d dir %s eff %s rtcp %d", m.Ptime, m.Direction, m.Effective(), m.RTCPPort)
			}
			if got := codecs(m); got != tt.want.codecs {
				t.Errorf("codecs %q, want %q", got, tt.want.codecs)
			}
			ev := ""
			if te, ok := m.TelephoneEvent(); ok {
				ev = fmt.Sprintf("%d %s", te.PT, te.Fmtp)
			}
			if ev != tt.want.event {
				t.Errorf("event %q, want %q", ev, tt.want.event)
			}
		})
	}
}

func TestEvents(t *testing.T) {
	for _, tt := range []struct{ offered, want string }{
		{"0-15", "0-15"},
		{"0-16", "0-16"},
		{"", "0-15"},
		{"0-15,66,70", "0-15"},
		{"0-255", "0-16"},
		{"16", "16"},
		{"5,3,4", "3-5"},
		{"66", ""},
		{"15-0", ""},
		{"x", ""},
		{"0-300", ""},
	} {
		if got := intersectEvents(tt.offered, SupportedEvents); got != tt.want {
			t.Errorf("intersectEvents(%q) = %q, want %q", tt.offered, got, tt.want)
		}
	}
}

func TestDirection(t *testing.T) {
	for _, d := range []Direction{SendRecv, SendOnly, RecvOnly, Inactive} {
		if got := direction(d.Sends(), d.Receives()); got != d {
			t.Errorf("%s round trip: %s", d, got)
		}
		if p, ok := ParseDirection(d.String()); !ok || p != d {
			t.Errorf("parse %s", d)
		}
	}
}

// A local wish to hold (sendonly) combines with the offer's direction.
func TestAnswerLocalDirection(t *testing.T) {
	o, _ := Parse([]byte("v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nc=IN IP4 192.0.2.1\nt=0 0\nm=audio 4000 RTP/AVP 0\na=recvonly\n"))
	l := Local{Addr: netip.MustParseAddr("198.51.100.1"), Port: 20000, Direction: SendOnly}
	_, ch, err := fixedSession().Answer(o, l, supported)
	if err != nil || ch.Direction != SendOnly || !ch.Hold {
		t.Errorf("recvonly offer, sendonly local: %s %v", ch.Direction, err)
	}
	l.Direction = RecvOnly
	_, ch, _ = fixedSession().Answer(o, l, supported)
	if ch.Direction != Inactive {
		t.Errorf("recvonly offer, recvonly local: %s", ch.Direction)
	}
}
