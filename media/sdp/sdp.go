// Package sdp reads the SDP bodies of SIP offers and answers and writes
// Sentral's own, per the offer/answer model of RFC 3264, for the one thing
// the media layer does: a single G.711 audio stream with RFC 4733
// telephone-events.
//
// Parsing is done by pion/sdp; this package only normalises what real
// phones send before handing it over (line endings, a missing t=, media
// types pion does not know such as T.38's m=image) and reduces the result
// to the few facts a call needs: where to send RTP, which payload types
// mean what, packetisation and direction.
package sdp

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	psdp "github.com/pion/sdp/v3"
)

// ErrMalformed marks a body that is not usable SDP; the SIP layer answers
// 400 Bad Request.
var ErrMalformed = errors.New("malformed SDP")

// ErrNotAcceptable marks an offer with no stream we can take; the SIP layer
// answers 488 Not Acceptable Here.
var ErrNotAcceptable = errors.New("488 Not Acceptable Here")

// MaxSize bounds the bodies Parse reads. A SIP message over UDP is at most
// 64 KiB and a real audio offer is a few hundred bytes; the bound keeps a
// hostile body from costing more than that.
const MaxSize = 64 << 10

// Direction is an a=sendrecv/sendonly/recvonly/inactive attribute, from
// the point of view of the side that wrote it.
type Direction int

// The four directions of RFC 3264 §5.1; the zero value is the default.
const (
	SendRecv Direction = iota
	SendOnly
	RecvOnly
	Inactive
)

// String returns the attribute name.
func (d Direction) String() string {
	switch d {
	case SendOnly:
		return "sendonly"
	case RecvOnly:
		return "recvonly"
	case Inactive:
		return "inactive"
	default:
		return "sendrecv"
	}
}

// Sends reports whether the writer of d sends media.
func (d Direction) Sends() bool { return d == SendRecv || d == SendOnly }

// Receives reports whether the writer of d receives media.
func (d Direction) Receives() bool { return d == SendRecv || d == RecvOnly }

// direction builds a Direction from the two capabilities.
func direction(send, recv bool) Direction {
	switch {
	case send && recv:
		return SendRecv
	case send:
		return SendOnly
	case recv:
		return RecvOnly
	default:
		return Inactive
	}
}

// Codec is one RTP payload format of a media line.
type Codec struct {
	PT        uint8
	Name      string // encoding name as written ("PCMU", "pcmu", "telephone-event")
	ClockRate uint32
	Channels  int    // 1 unless the rtpmap says otherwise
	Fmtp      string // a=fmtp parameters, "" if none
}

// Is reports whether c is the named codec at 8 kHz mono, the only form
// Sentral handles; names compare case-insensitively (RFC 4855 §3).
func (c Codec) Is(name string) bool {
	return strings.EqualFold(c.Name, name) && c.ClockRate == 8000 && c.Channels == 1
}

// staticCodecs are the RFC 3551 static payload types we may meet without
// an rtpmap; the others are not ours to use.
var staticCodecs = map[uint8]Codec{
	0: {PT: 0, Name: "PCMU", ClockRate: 8000, Channels: 1},
	8: {PT: 8, Name: "PCMA", ClockRate: 8000, Channels: 1},
}

// Origin is the o= line.
type Origin struct {
	Username  string
	SessionID uint64
	Version   uint64
	Address   string // as written; not used for routing
}

// Media is one m= section of a parsed description.
type Media struct {
	Type    string   // "audio", "video", "image", ...
	Port    int      // 0: the stream is disabled or rejected
	Proto   string   // "RTP/AVP", "RTP/SAVP", "udptl", ...
	Formats []string // the m= line's formats, in the writer's order of preference
	// Addr is the media-level c= address, else the session-level one; the
	// zero Addr when neither is given (only allowed on disabled streams).
	Addr netip.Addr
	// RTCPPort and RTCPAddr come from a=rtcp (RFC 3605); zero when absent,
	// meaning Port+1 on Addr.
	RTCPPort int
	RTCPAddr netip.Addr
	// Codecs are the RTP formats resolved through rtpmap/fmtp (static
	// types 0 and 8 without rtpmap included), in Formats order.
	Codecs    []Codec
	Ptime     int // a=ptime in ms, 0 when absent
	MaxPtime  int // a=maxptime in ms, 0 when absent
	Direction Direction
	// Crypto are the a=crypto attributes (SDES, RFC 4568) we could use, in
	// the writer's order; CryptoSkipped says why each other one could not
	// be (an unusable crypto line is not an SDP error).
	Crypto        []Crypto
	CryptoSkipped []string
}

// Codec returns the media's codec with payload type pt.
func (m *Media) Codec(pt uint8) (Codec, bool) {
	for _, c := range m.Codecs {
		if c.PT == pt {
			return c, true
		}
	}
	return Codec{}, false
}

// TelephoneEvent returns the first telephone-event/8000 format (RFC 4733),
// the one whose PT marks DTMF packets in this stream.
func (m *Media) TelephoneEvent() (Codec, bool) {
	for _, c := range m.Codecs {
		if c.Is("telephone-event") {
			return c, true
		}
	}
	return Codec{}, false
}

// Effective returns the direction the writer means, with the RFC 2543 hold
// (c=0.0.0.0) folded in: that address says "do not send to me", as
// sendonly would, even when the attribute still says sendrecv.
func (m *Media) Effective() Direction {
	if m.Addr.IsValid() && m.Addr.IsUnspecified() {
		return direction(m.Direction.Sends(), false)
	}
	return m.Direction
}

// Offer is a parsed SDP body: an offer from a phone or trunk, or the answer
// to an offer Sentral made (the same facts are needed from both).
type Offer struct {
	Origin Origin
	Addr   netip.Addr // session-level c=, zero if absent
	Media  []Media
}

// Audio returns the first audio stream with a non-zero port and its index,
// or nil and -1.
func (o *Offer) Audio() (*Media, int) {
	for i := range o.Media {
		if o.Media[i].Type == "audio" && o.Media[i].Port != 0 {
			return &o.Media[i], i
		}
	}
	return nil, -1
}

// SameVersion reports whether o repeats prev's o= identity and version.
// RFC 3264 §8 lets a re-offer keep the version only if the SDP is
// unchanged, so the owner may skip renegotiation (a session refresh).
func (o *Offer) SameVersion(prev *Offer) bool {
	return prev != nil && o.Origin == prev.Origin
}

// pionMedia and pionProtos are what pion's parser accepts in an m= line;
// other lines are swapped for a placeholder so that one exotic stream
// (T.38 fax: "m=image 0 udptl t38") cannot fail a whole offer.
var (
	pionMedia  = []string{"audio", "video", "text", "application", "message"}
	pionProtos = []string{"UDP", "RTP", "AVP", "SAVP", "SAVPF", "TLS", "DTLS", "SCTP", "AVPF", "TCP",
		"MSRP", "BFCP", "UDT", "IX", "MRCPv2", "FEC"}
)

// mline is an m= line as tokenised by us.
type mline struct {
	media, proto string
	port         int
	formats      []string
}

// Parse reads an SDP body. Errors wrap ErrMalformed.
func Parse(body []byte) (*Offer, error) {
	if len(body) > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrMalformed, len(body))
	}
	text, swapped, err := normalise(string(body))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	var sd psdp.SessionDescription
	if err := sd.UnmarshalString(text); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	o := &Offer{Origin: Origin{
		Username: sd.Origin.Username, SessionID: sd.Origin.SessionID,
		Version: sd.Origin.SessionVersion, Address: sd.Origin.UnicastAddress,
	}}
	if sd.ConnectionInformation != nil {
		if o.Addr, err = connAddr(sd.ConnectionInformation); err != nil {
			return nil, fmt.Errorf("%w: session c=: %v", ErrMalformed, err)
		}
	}
	sessDir, sessPtime := SendRecv, 0
	for _, a := range sd.Attributes {
		if d, ok := ParseDirection(a.Key); ok {
			sessDir = d
		}
		if a.Key == "ptime" {
			sessPtime = atoiMs(a.Value)
		}
	}
	for i, md := range sd.MediaDescriptions {
		m := Media{
			Type: md.MediaName.Media, Port: md.MediaName.Port.Value,
			Proto: strings.Join(md.MediaName.Protos, "/"), Formats: md.MediaName.Formats,
			Addr: o.Addr, Direction: sessDir, Ptime: sessPtime,
		}
		if ml, ok := swapped[i]; ok {
			m.Type, m.Port, m.Proto, m.Formats = ml.media, ml.port, ml.proto, ml.formats
		}
		if md.ConnectionInformation != nil {
			if m.Addr, err = connAddr(md.ConnectionInformation); err != nil {
				return nil, fmt.Errorf("%w: m-line %d c=: %v", ErrMalformed, i, err)
			}
		}
		if m.Type == "audio" && m.Port != 0 && !m.Addr.IsValid() {
			// RFC 4566 §5.7: c= at session level or in every media section.
			return nil, fmt.Errorf("%w: audio m-line %d has no c= address", ErrMalformed, i)
		}
		if err := m.readAttributes(md.Attributes); err != nil {
			return nil, fmt.Errorf("%w: m-line %d: %v", ErrMalformed, i, err)
		}
		o.Media = append(o.Media, m)
	}
	return o, nil
}

// readAttributes fills codecs, ptime, direction and rtcp from a= lines.
func (m *Media) readAttributes(attrs []psdp.Attribute) error {
	rtpmap := map[uint8]Codec{}
	fmtp := map[uint8]string{}
	for _, a := range attrs {
		if d, ok := ParseDirection(a.Key); ok {
			m.Direction = d
			continue
		}
		switch a.Key {
		case "rtpmap":
			if c, ok := ParseRtpmap(a.Value); ok {
				rtpmap[c.PT] = c
			}
		case "fmtp":
			pt, params, ok := strings.Cut(a.Value, " ")
			if n, err := strconv.ParseUint(pt, 10, 8); ok && err == nil {
				fmtp[uint8(n)] = strings.TrimSpace(params)
			}
		case "ptime":
			m.Ptime = atoiMs(a.Value)
		case "maxptime":
			m.MaxPtime = atoiMs(a.Value)
		case "rtcp":
			if err := m.parseRTCP(a.Value); err != nil {
				return err
			}
		case "crypto":
			if c, err := ParseCrypto(a.Value); err == nil {
				m.Crypto = append(m.Crypto, c)
			} else if len(m.CryptoSkipped) < 8 {
				m.CryptoSkipped = append(m.CryptoSkipped, err.Error())
			}
		}
	}
	if !strings.HasPrefix(m.Proto, "RTP/") {
		return nil
	}
	for _, f := range m.Formats {
		n, err := strconv.ParseUint(f, 10, 8)
		if err != nil || n > 127 {
			continue // not an RTP payload type; the stream will be rejected if it matters
		}
		pt := uint8(n)
		c, ok := rtpmap[pt]
		if !ok {
			if c, ok = staticCodecs[pt]; !ok {
				continue
			}
		}
		c.Fmtp = fmtp[pt]
		m.Codecs = append(m.Codecs, c)
	}
	return nil
}

// parseRTCP reads "a=rtcp:port [IN IP4 addr]".
func (m *Media) parseRTCP(v string) error {
	f := strings.Fields(v)
	if len(f) == 0 {
		return errors.New("empty a=rtcp")
	}
	p, err := strconv.Atoi(f[0])
	if err != nil || p <= 0 || p > 65535 {
		return fmt.Errorf("a=rtcp port %q", f[0])
	}
	m.RTCPPort = p
	if len(f) >= 4 {
		a, err := parseAddr(f[2], f[3])
		if err != nil {
			return fmt.Errorf("a=rtcp: %v", err)
		}
		m.RTCPAddr = a
	}
	return nil
}

// ParseRtpmap reads an a=rtpmap value: "<pt> <name>/<rate>[/<channels>]".
func ParseRtpmap(v string) (Codec, bool) {
	pt, enc, ok := strings.Cut(strings.TrimSpace(v), " ")
	if !ok {
		return Codec{}, false
	}
	n, err := strconv.ParseUint(pt, 10, 8)
	if err != nil || n > 127 {
		return Codec{}, false
	}
	parts := strings.Split(strings.TrimSpace(enc), "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" {
		return Codec{}, false
	}
	rate, err := strconv.ParseUint(parts[1], 10, 32)
	if err != nil {
		return Codec{}, false
	}
	c := Codec{PT: uint8(n), Name: parts[0], ClockRate: uint32(rate), Channels: 1}
	if len(parts) == 3 {
		ch, err := strconv.Atoi(parts[2])
		if err != nil || ch < 1 {
			return Codec{}, false
		}
		c.Channels = ch
	}
	return c, true
}

// ParseDirection reads a direction attribute name (sendrecv, sendonly,
// recvonly, inactive).
func ParseDirection(key string) (Direction, bool) {
	switch key {
	case "sendrecv":
		return SendRecv, true
	case "sendonly":
		return SendOnly, true
	case "recvonly":
		return RecvOnly, true
	case "inactive":
		return Inactive, true
	}
	return 0, false
}

// atoiMs reads a millisecond attribute; junk or out-of-range values count
// as absent rather than failing the call over a cosmetic attribute.
func atoiMs(v string) int {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n <= 0 || n > 1000 {
		return 0
	}
	return n
}

// connAddr reads a c= line's address, dropping a multicast /ttl suffix.
func connAddr(ci *psdp.ConnectionInformation) (netip.Addr, error) {
	if ci.Address == nil {
		return netip.Addr{}, errors.New("no address")
	}
	return parseAddr(ci.AddressType, ci.Address.Address)
}

// parseAddr checks an address against its IP4/IP6 type. Host names are
// refused: media does no DNS, and phones never send them.
func parseAddr(typ, s string) (netip.Addr, error) {
	s, _, _ = strings.Cut(s, "/")
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("address %q is not an IP literal", s)
	}
	if a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("address %q has a zone", s)
	}
	switch {
	case typ == "IP4" && a.Is4():
	case typ == "IP6" && a.Is6() && !a.Is4In6():
	default:
		return netip.Addr{}, fmt.Errorf("address %q is not %s", s, typ)
	}
	return a, nil
}

// normalise rewrites a body into what pion's strict parser takes: CRLF
// lines without trailing blanks or empty lines, a t= line (some gateways
// omit it), and placeholders for m= lines pion does not know, whose real
// tokens are returned by m-line index.
func normalise(s string) (string, map[int]mline, error) {
	var b strings.Builder
	b.Grow(len(s) + 16)
	swapped := map[int]mline{}
	media, sawT := -1, false
	for line := range strings.SplitSeq(s, "\n") {
		line = strings.TrimRight(line, " \t\r")
		if line == "" {
			continue
		}
		if len(line) < 2 || line[1] != '=' {
			return "", nil, fmt.Errorf("line %q is not <type>=<value>", trunc(line))
		}
		switch line[0] {
		case 't':
			sawT = true
		case 'm', 'z', 'k', 'a':
			if !sawT && media < 0 {
				// t= is mandatory and comes before these; supply it.
				b.WriteString("t=0 0\r\n")
				sawT = true
			}
		}
		if line[0] == 'm' {
			media++
			ml, known, err := splitMline(line[2:])
			if err != nil {
				return "", nil, fmt.Errorf("m-line %d: %v", media, err)
			}
			if !known {
				swapped[media] = ml
				line = "m=application 0 UDP -"
			}
		}
		b.WriteString(line)
		b.WriteString("\r\n")
	}
	if !sawT {
		b.WriteString("t=0 0\r\n")
	}
	return b.String(), swapped, nil
}

// splitMline tokenises "<media> <port>[/<n>] <proto> <fmt>..." and says
// whether pion will parse it.
func splitMline(v string) (mline, bool, error) {
	f := strings.Fields(v)
	if len(f) < 3 {
		return mline{}, false, fmt.Errorf("%q has too few fields", trunc(v))
	}
	port, _, _ := strings.Cut(f[1], "/")
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return mline{}, false, fmt.Errorf("bad port %q", trunc(f[1]))
	}
	ml := mline{media: f[0], port: p, proto: f[2], formats: f[3:]}
	known := slices.Contains(pionMedia, f[0])
	for pr := range strings.SplitSeq(f[2], "/") {
		known = known && slices.Contains(pionProtos, pr)
	}
	return ml, known, nil
}

func trunc(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
