package webrtc

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"

	psdp "github.com/pion/sdp/v3"

	"github.com/sentralpbx/sentral/media/sdp"
)

// g711 lists the codecs the bridge passes through, in the default order
// of preference (PCMU first, as in North America and in every browser's
// offer; PCMA is what European phones often prefer).
var g711 = []string{"PCMU", "PCMA"}

// IsWebRTC reports whether body is an offer or answer from a browser: an
// m-line with a DTLS-SRTP profile (UDP/TLS/RTP/SAVP, UDP/TLS/RTP/SAVPF and
// their TCP/DTLS forms, RFC 5764 and RFC 7850), or an a=fingerprint
// together with an a=ice-ufrag (older browsers wrote RTP/SAVPF with both).
// A phone's SDES-SRTP offer (RTP/SAVP with a=crypto) is not WebRTC. It
// reads lines without parsing the body, so that the proxy can route on it
// before deciding whether the body is worth parsing.
func IsWebRTC(body []byte) bool {
	if len(body) > sdp.MaxSize {
		body = body[:sdp.MaxSize]
	}
	var fingerprint, ufrag bool
	for len(body) > 0 {
		var line []byte
		line, body, _ = bytes.Cut(body, []byte{'\n'})
		line = bytes.TrimSpace(line)
		switch {
		case bytes.HasPrefix(line, []byte("m=")):
			f := bytes.Fields(line[2:])
			if len(f) >= 3 && dtlsProto(string(f[2])) {
				return true
			}
		case bytes.HasPrefix(line, []byte("a=fingerprint:")):
			fingerprint = true
		case bytes.HasPrefix(line, []byte("a=ice-ufrag:")):
			ufrag = true
		}
	}
	return fingerprint && ufrag
}

// dtlsProto reports whether an m-line transport is one of the DTLS-SRTP
// profiles.
func dtlsProto(proto string) bool {
	p := strings.ToUpper(proto)
	for _, prefix := range []string{"UDP/TLS/RTP/SAVP", "TCP/DTLS/RTP/SAVP", "TCP/TLS/RTP/SAVP"} {
		if p == prefix || p == prefix+"F" {
			return true
		}
	}
	return false
}

// browserSDP is what the bridge needs from a browser's offer or answer:
// its audio stream's codecs and direction. media/sdp reads only plain
// RTP/AVP streams, so browser bodies are read here.
type browserSDP struct {
	index  int         // the audio m-line's index
	proto  string      // e.g. UDP/TLS/RTP/SAVPF
	codecs []sdp.Codec // in the writer's order of preference
	dir    sdp.Direction
}

// parseBrowser reads a browser's SDP. Errors wrap sdp.ErrMalformed for a
// body that does not parse and sdp.ErrNotAcceptable for one without an
// audio stream.
func parseBrowser(body []byte) (*browserSDP, error) {
	if len(body) > sdp.MaxSize {
		return nil, fmt.Errorf("%w: %d bytes", sdp.ErrMalformed, len(body))
	}
	// pion lets a stray last line without "=" pass, and takes a lone CR
	// for a line break; such bodies are not ones a rewrite, which reads
	// lines as RFC 4566 does, can keep valid.
	for _, l := range splitLines(body) {
		if l.text != "" && (len(l.text) < 2 || l.text[1] != '=') || strings.ContainsRune(l.text, '\r') {
			return nil, fmt.Errorf("%w: browser SDP line %q", sdp.ErrMalformed, trunc(l.text))
		}
	}
	var sd psdp.SessionDescription
	if err := sd.UnmarshalString(string(body)); err != nil {
		return nil, fmt.Errorf("%w: browser SDP: %v", sdp.ErrMalformed, err)
	}
	sessDir := sdp.SendRecv
	for _, a := range sd.Attributes {
		if d, ok := sdp.ParseDirection(a.Key); ok {
			sessDir = d
		}
	}
	for i, md := range sd.MediaDescriptions {
		if md.MediaName.Media != "audio" || md.MediaName.Port.Value == 0 {
			continue
		}
		b := &browserSDP{index: i, proto: strings.Join(md.MediaName.Protos, "/"), dir: sessDir}
		rtpmap := map[uint8]sdp.Codec{}
		fmtp := map[uint8]string{}
		for _, a := range md.Attributes {
			if d, ok := sdp.ParseDirection(a.Key); ok {
				b.dir = d
				continue
			}
			switch a.Key {
			case "rtpmap":
				if c, ok := sdp.ParseRtpmap(a.Value); ok {
					rtpmap[c.PT] = c
				}
			case "fmtp":
				pt, params, _ := strings.Cut(a.Value, " ")
				if n, err := strconv.ParseUint(pt, 10, 7); err == nil {
					fmtp[uint8(n)] = strings.TrimSpace(params)
				}
			}
		}
		for _, f := range md.MediaName.Formats {
			n, err := strconv.ParseUint(f, 10, 7)
			if err != nil {
				continue
			}
			c, ok := rtpmap[uint8(n)]
			if !ok {
				// RFC 3551 static types may come without rtpmap.
				switch n {
				case 0:
					c, ok = sdp.Codec{PT: 0, Name: "PCMU", ClockRate: 8000, Channels: 1}, true
				case 8:
					c, ok = sdp.Codec{PT: 8, Name: "PCMA", ClockRate: 8000, Channels: 1}, true
				}
			}
			if ok {
				c.Fmtp = fmtp[c.PT]
				b.codecs = append(b.codecs, c)
			}
		}
		return b, nil
	}
	return nil, fmt.Errorf("%w: browser SDP has no audio stream", sdp.ErrNotAcceptable)
}

// find returns the first codec named name (8 kHz mono).
func (b *browserSDP) find(name string) (sdp.Codec, bool) {
	for _, c := range b.codecs {
		if c.Is(name) {
			return c, true
		}
	}
	return sdp.Codec{}, false
}

// event returns the telephone-event/8000 format; browsers also offer
// telephone-event/48000 for Opus, which is of no use here.
func (b *browserSDP) event() (sdp.Codec, bool) { return b.find("telephone-event") }

// g711 returns the G.711 codec names of the stream in its order, among
// allowed (all of g711 when nil).
func (b *browserSDP) g711(allowed []string) []string {
	if allowed == nil {
		allowed = g711
	}
	var names []string
	for _, c := range b.codecs {
		for _, name := range allowed {
			if c.Is(name) && !slices.Contains(names, name) {
				names = append(names, name)
			}
		}
	}
	return names
}

// names lists the stream's codecs for error messages.
func (b *browserSDP) names() string {
	n := make([]string, len(b.codecs))
	for i, c := range b.codecs {
		n[i] = fmt.Sprintf("%s/%d", c.Name, c.ClockRate)
	}
	return strings.Join(n, " ")
}

// sdpLine is one line of a body, without and with its line ending.
type sdpLine struct {
	text string // without "\r\n" or "\n"
	raw  string // as in the body
}

// splitLines splits a body into lines, keeping each line's ending so a
// rewrite changes nothing it does not mean to.
func splitLines(body []byte) []sdpLine {
	var lines []sdpLine
	s := string(body)
	for s != "" {
		i := strings.IndexByte(s, '\n')
		raw := s
		if i >= 0 {
			raw = s[:i+1]
		}
		s = s[len(raw):]
		lines = append(lines, sdpLine{text: strings.TrimRight(raw, "\r\n"), raw: raw})
	}
	return lines
}

// eol is the line ending a body uses, for lines we add.
func eol(lines []sdpLine) string {
	if len(lines) > 0 && !strings.HasSuffix(lines[0].raw, "\r\n") && strings.HasSuffix(lines[0].raw, "\n") {
		return "\n"
	}
	return "\r\n"
}

// enabledAudio reports whether an m-line (without "m=") opens an audio
// stream that is not disabled.
func enabledAudio(mline string) bool {
	f := strings.Fields(mline)
	return len(f) >= 2 && f[0] == "audio" && f[1] != "0"
}

// setDirection rewrites the direction attribute of every enabled audio
// m-section of body to dir: in place of the old one (a second one goes)
// or, when the section had none, before its first a= line (RFC 4566 §5
// wants a= last) or at its end. Every other byte is kept. The gateway
// uses it both ways: what pion sees is always sendrecv, so that a hold
// never stops pion's transceiver (pion stops one on a remote a=inactive)
// and resuming needs no new track; what the browser sees carries the
// direction the phone asked for.
func setDirection(body []byte, dir sdp.Direction) []byte {
	lines := splitLines(body)
	// hasDir[i] for the m-line at i: its section has a direction line.
	hasDir := map[int]bool{}
	for i, m := -1, 0; m < len(lines); m++ {
		if strings.HasPrefix(lines[m].text, "m=") {
			i = m
		} else if i >= 0 && isDirection(lines[m].text) {
			hasDir[i] = true
		}
	}
	nl := eol(lines)
	want := "a=" + dir.String() + nl
	var b strings.Builder
	b.Grow(len(body) + len(want))
	audio, found, done := false, false, false // in an enabled audio section; it has a direction; written
	flush := func() {
		if audio && !done {
			b.WriteString(want)
			done = true
		}
	}
	for i, l := range lines {
		if m, ok := strings.CutPrefix(l.text, "m="); ok {
			flush()
			audio, found, done = enabledAudio(m), hasDir[i], false
			b.WriteString(withEOL(l.raw, nl))
			continue
		}
		switch {
		case !audio:
			b.WriteString(l.raw)
			continue
		case isDirection(l.text):
			flush()
			continue
		case !found && strings.HasPrefix(l.text, "a="):
			flush()
		}
		b.WriteString(withEOL(l.raw, nl))
	}
	flush()
	return []byte(b.String())
}

// isDirection reports whether a line is a direction attribute.
func isDirection(text string) bool {
	a, ok := strings.CutPrefix(text, "a=")
	if !ok {
		return false
	}
	key, _, _ := strings.Cut(a, ":") // as parsers read it: "a=sendonly:" is sendonly
	_, dir := sdp.ParseDirection(key)
	return dir
}

// withEOL gives a last line that lacks one a line ending, so that a line
// written after it does not run on.
func withEOL(raw, nl string) string {
	if strings.HasSuffix(raw, "\n") {
		return raw
	}
	return raw + nl
}

// stripFormat removes payload type pt from every enabled audio m-line of
// body with its rtpmap, fmtp and rtcp-fb lines, unless it is the line's
// only format (an m-line must keep one). The bridge uses it to take
// telephone-event out of an SDP media/sdp wrote when the browser side
// cannot carry it, so that the phone sends DTMF some way that arrives
// rather than as events we would have to drop.
func stripFormat(body []byte, pt uint8) []byte {
	ptStr := strconv.Itoa(int(pt))
	var b strings.Builder
	b.Grow(len(body))
	strip := false // inside a section whose m-line lost pt
	for _, l := range splitLines(body) {
		if m, ok := strings.CutPrefix(l.text, "m="); ok {
			strip = false
			f := strings.Fields(m)
			if enabledAudio(m) && len(f) > 4 && slices.Contains(f[3:], ptStr) {
				kept := slices.DeleteFunc(slices.Clone(f[3:]), func(s string) bool { return s == ptStr })
				b.WriteString("m=" + strings.Join(append(f[:3:3], kept...), " ") + l.raw[len(l.text):])
				strip = true
				continue
			}
		} else if strip && formatLine(l.text, ptStr) {
			continue
		}
		b.WriteString(l.raw)
	}
	return []byte(b.String())
}

// formatLine reports whether an attribute line is about payload type pt.
func formatLine(text, pt string) bool {
	for _, key := range []string{"a=rtpmap:", "a=fmtp:", "a=rtcp-fb:"} {
		if v, ok := strings.CutPrefix(text, key); ok {
			f, _, _ := strings.Cut(v, " ")
			return f == pt
		}
	}
	return false
}

func trunc(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
