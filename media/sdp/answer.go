package sdp

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
)

// Defaults for Local.
const (
	DefaultPtime   = 20  // ms: what every desk phone sends and the recorder expects
	DefaultEventPT = 101 // the dynamic PT most phones use for telephone-event
)

// SupportedEvents is the telephone-event range Sentral understands: the
// sixteen DTMF keys and flash (RFC 4733 §3.2).
const SupportedEvents = "0-16"

// Local is Sentral's side of one media stream.
type Local struct {
	Addr netip.Addr // address in c= and o=; the RTP endpoint's bind address
	Port int        // the RTP endpoint's port (RTCP is Port+1)
	// Ptime is the packetisation we ask the peer to send (DefaultPtime).
	Ptime int
	// Direction is what we want: SendRecv normally, SendOnly to put the
	// peer on hold with music, Inactive to hold without.
	Direction Direction
	// EventPT is the telephone-event PT in offers we make (DefaultEventPT);
	// in answers the offerer's number is kept.
	EventPT uint8
	// SRTPKey, when set (KeyLen bytes from NewKey), enables SDES-keyed
	// SRTP: Answer takes RTP/SAVP offers, and RTP/AVP offers carrying
	// a=crypto, answering with this key. Without it RTP/SAVP is refused
	// and a=crypto ignored, as before SRTP support.
	SRTPKey []byte
	// SRTPSuite, with SRTPKey, makes Offer offer RTP/SAVP with this suite
	// (tag 1); empty offers plain RTP/AVP.
	SRTPSuite string
}

// Choice is what an offer/answer exchange settled for the audio stream:
// everything the RTP endpoint needs.
type Choice struct {
	Index      int            // the audio m-line's index
	Codec      Codec          // the codec to send and expect, with the offerer's PT
	Event      *Codec         // telephone-event format, nil when DTMF must go by SIP INFO
	Ptime      int            // packetisation to send, ms
	Remote     netip.AddrPort // where to send RTP; unspecified address on RFC 2543 hold
	RemoteRTCP netip.AddrPort // where to send RTCP
	Direction  Direction      // our direction
	// Hold is true when the stream is not sendrecv: RTP may stop for good
	// reasons, so the dead-media timer must not run.
	Hold bool
	// SRTP is the keying of an SRTP stream; nil for plain RTP.
	SRTP *SRTP
}

// Session is Sentral's SDP identity within one dialog: its o= line stays
// the same across every offer and answer we send, and its version goes up
// by one each time our SDP changes (RFC 3264 §8). Not safe for concurrent
// use; it belongs to the call's owner.
type Session struct {
	Username string // o= username ("sentral")
	ID       uint64
	Version  uint64
	last     string // our previous SDP without its o= line
	used     bool
}

// NewSession returns a Session with a random ID. The version starts at
// the ID, as RFC 4566 §5.2 suggests using one clock for both.
func NewSession() *Session {
	// 62 bits keeps the value positive for parsers that use int64.
	id := rand.Uint64() >> 2
	return &Session{Username: "sentral", ID: id, Version: id}
}

// Answer answers an offer per RFC 3264 §6: one audio stream is accepted
// with the first codec of the offer that is in codecs (offerer's
// preference, offerer's payload type numbers), every other stream is
// rejected with port 0. With no acceptable audio it returns an error
// wrapping ErrNotAcceptable and no body.
//
// With local.SRTPKey set, an RTP/SAVP stream is acceptable when it has an
// a=crypto we support (SuiteAES80 preferred over SuiteAES32, else the
// offerer's order), and so is an RTP/AVP stream that carries one ("best
// effort" SRTP); the answer keeps the offered profile and tag, gives our
// key, and Choice.SRTP holds both keys (RFC 4568 §7.1.2).
func (s *Session) Answer(offer *Offer, local Local, codecs []string) ([]byte, Choice, error) {
	local = local.withDefaults()
	if err := local.check(); err != nil {
		return nil, Choice{}, err
	}
	idx, codec, why := -1, Codec{}, "no audio stream"
	var sec *SRTP
	for i := range offer.Media {
		m := &offer.Media[i]
		if m.Type != "audio" || m.Port == 0 {
			continue
		}
		if m.Proto != "RTP/AVP" && m.Proto != "RTP/SAVP" {
			why = fmt.Sprintf("audio transport %s", m.Proto)
			continue
		}
		srtp, whyNot, ok := secure(m, local.SRTPKey)
		if !ok {
			why = whyNot
			continue
		}
		if c, ok := pick(m, codecs); ok {
			idx, codec, sec = i, c, srtp
			break
		}
		why = fmt.Sprintf("no common codec (offered %s, supported %s)", names(m), strings.Join(codecs, " "))
	}
	if idx < 0 {
		return nil, Choice{}, fmt.Errorf("%w: %s", ErrNotAcceptable, why)
	}
	m := &offer.Media[idx]
	eff := m.Effective()
	ch := Choice{
		Index: idx, Codec: codec, Ptime: m.Ptime,
		Direction: direction(eff.Receives() && local.Direction.Sends(), eff.Sends() && local.Direction.Receives()),
		SRTP:      sec,
	}
	if ch.Ptime == 0 {
		ch.Ptime = DefaultPtime
	}
	ch.Hold = ch.Direction != SendRecv
	ch.Remote, ch.RemoteRTCP = remotes(m)
	var eventsFmtp string
	if te, ok := m.TelephoneEvent(); ok {
		te.Name = "telephone-event"
		if ev := intersectEvents(te.Fmtp, SupportedEvents); ev != "" {
			te.Fmtp, eventsFmtp = ev, ev
			ch.Event = &te
		}
	}

	var b strings.Builder
	writeHead(&b, local)
	for i := range offer.Media {
		om := &offer.Media[i]
		if i != idx {
			writeRejected(&b, om)
			continue
		}
		fmts := []string{strconv.Itoa(int(codec.PT))}
		if ch.Event != nil {
			fmts = append(fmts, strconv.Itoa(int(ch.Event.PT)))
		}
		fmt.Fprintf(&b, "m=audio %d %s %s\r\n", local.Port, om.Proto, strings.Join(fmts, " "))
		writeRtpmap(&b, codec)
		if ch.Event != nil {
			writeRtpmap(&b, *ch.Event)
			fmt.Fprintf(&b, "a=fmtp:%d %s\r\n", ch.Event.PT, eventsFmtp)
		}
		fmt.Fprintf(&b, "a=ptime:%d\r\na=%s\r\n", local.Ptime, ch.Direction)
		if sec != nil {
			fmt.Fprintf(&b, "a=crypto:%s\r\n", sec.Local)
		}
	}
	return s.seal(local, b.String()), ch, nil
}

// Offer writes an offer for a call Sentral originates: one audio stream
// with codecs in our order of preference and telephone-event.
func (s *Session) Offer(local Local, codecs []string) ([]byte, error) {
	local = local.withDefaults()
	if err := local.check(); err != nil {
		return nil, err
	}
	if len(codecs) == 0 {
		return nil, fmt.Errorf("sdp offer: no codecs")
	}
	var list []Codec
	fmts := make([]string, 0, len(codecs)+1)
	for _, name := range codecs {
		c, ok := codecByName(name)
		if !ok {
			return nil, fmt.Errorf("sdp offer: unsupported codec %q", name)
		}
		if c.PT == local.EventPT {
			return nil, fmt.Errorf("sdp offer: telephone-event PT %d clashes with %s", local.EventPT, name)
		}
		list = append(list, c)
		fmts = append(fmts, strconv.Itoa(int(c.PT)))
	}
	fmts = append(fmts, strconv.Itoa(int(local.EventPT)))
	proto, crypto := "RTP/AVP", local.OfferCrypto()
	if crypto != nil {
		proto = "RTP/SAVP"
	}
	var b strings.Builder
	writeHead(&b, local)
	fmt.Fprintf(&b, "m=audio %d %s %s\r\n", local.Port, proto, strings.Join(fmts, " "))
	for _, c := range list {
		writeRtpmap(&b, c)
	}
	fmt.Fprintf(&b, "a=rtpmap:%d telephone-event/8000\r\na=fmtp:%d %s\r\n", local.EventPT, local.EventPT, SupportedEvents)
	fmt.Fprintf(&b, "a=ptime:%d\r\na=%s\r\n", local.Ptime, local.Direction)
	if crypto != nil {
		fmt.Fprintf(&b, "a=crypto:%s\r\n", crypto)
	}
	return s.seal(local, b.String()), nil
}

// OfferCrypto is the a=crypto Offer writes for l: tag 1, l.SRTPSuite and
// l.SRTPKey; nil when l offers plain RTP.
func (l Local) OfferCrypto() *Crypto {
	if len(l.SRTPKey) == 0 || l.SRTPSuite == "" {
		return nil
	}
	return &Crypto{Tag: 1, Suite: l.SRTPSuite, Key: l.SRTPKey}
}

// Accept reads the answer to an offer we made with codecs: the codec is
// the first format of the answer's audio stream that we offered (RFC 3264
// §7: the answerer may list several; we send the first). Errors wrap
// ErrNotAcceptable when the answer rejected or changed the stream.
func Accept(answer *Offer, codecs []string) (Choice, error) {
	return accept(answer, codecs, nil)
}

// AcceptSecure is Accept for an offer of RTP/SAVP with the attribute
// offered (Local.OfferCrypto): the answer must keep the profile and
// answer that tag with the same suite and a key of its own (RFC 4568
// §7.1.3); Choice.SRTP holds both keys.
func AcceptSecure(answer *Offer, codecs []string, offered Crypto) (Choice, error) {
	return accept(answer, codecs, &offered)
}

func accept(answer *Offer, codecs []string, offered *Crypto) (Choice, error) {
	m, idx := answer.Audio()
	if m == nil {
		return Choice{}, fmt.Errorf("%w: answer rejected the audio stream", ErrNotAcceptable)
	}
	want := "RTP/AVP"
	if offered != nil {
		want = "RTP/SAVP"
	}
	if m.Proto != want {
		return Choice{}, fmt.Errorf("%w: answer transport %s", ErrNotAcceptable, m.Proto)
	}
	var sec *SRTP
	if offered != nil {
		for _, c := range m.Crypto {
			if c.Tag == offered.Tag && c.Suite == offered.Suite {
				sec = &SRTP{Local: *offered, Remote: c}
				break
			}
		}
		if sec == nil {
			return Choice{}, fmt.Errorf("%w: answer has no a=crypto for our tag %d %s", ErrNotAcceptable,
				offered.Tag, offered.Suite)
		}
	}
	c, ok := pick(m, codecs)
	if !ok {
		return Choice{}, fmt.Errorf("%w: answer has no codec we offered (%s)", ErrNotAcceptable, names(m))
	}
	eff := m.Effective()
	ch := Choice{Index: idx, Codec: c, Ptime: m.Ptime, Direction: direction(eff.Receives(), eff.Sends()), SRTP: sec}
	if ch.Ptime == 0 {
		ch.Ptime = DefaultPtime
	}
	ch.Hold = ch.Direction != SendRecv
	ch.Remote, ch.RemoteRTCP = remotes(m)
	if te, ok := m.TelephoneEvent(); ok {
		te.Name = "telephone-event"
		ch.Event = &te
	}
	return ch, nil
}

// pick returns the first codec of m (the writer's preference) named in
// codecs, spelt as in codecs so that owners can compare names exactly and
// picky peers see the canonical case in our answer.
func pick(m *Media, codecs []string) (Codec, bool) {
	for _, c := range m.Codecs {
		for _, name := range codecs {
			if c.Is(name) {
				c.Name = name
				return c, true
			}
		}
	}
	return Codec{}, false
}

// codecByName returns the static form of a codec we can offer.
func codecByName(name string) (Codec, bool) {
	for _, c := range staticCodecs {
		if strings.EqualFold(c.Name, name) {
			return c, true
		}
	}
	return Codec{}, false
}

func names(m *Media) string {
	if len(m.Codecs) == 0 {
		return strings.Join(m.Formats, " ")
	}
	n := make([]string, len(m.Codecs))
	for i, c := range m.Codecs {
		n[i] = c.Name
	}
	return strings.Join(n, " ")
}

// remotes returns the RTP and RTCP destinations of a stream.
func remotes(m *Media) (rtp, rtcp netip.AddrPort) {
	rtp = netip.AddrPortFrom(m.Addr, uint16(m.Port))
	rtcp = netip.AddrPortFrom(m.Addr, uint16(m.Port+1))
	if m.RTCPPort != 0 {
		a := m.RTCPAddr
		if !a.IsValid() {
			a = m.Addr
		}
		rtcp = netip.AddrPortFrom(a, uint16(m.RTCPPort))
	}
	return rtp, rtcp
}

func (l Local) withDefaults() Local {
	if l.Ptime <= 0 {
		l.Ptime = DefaultPtime
	}
	if l.EventPT == 0 {
		l.EventPT = DefaultEventPT
	}
	return l
}

func (l Local) check() error {
	if !l.Addr.IsValid() || l.Addr.Zone() != "" {
		return fmt.Errorf("sdp: local address %v unusable", l.Addr)
	}
	if l.Port <= 0 || l.Port > 65534 {
		return fmt.Errorf("sdp: local port %d out of range", l.Port)
	}
	if l.EventPT < 96 || l.EventPT > 127 {
		return fmt.Errorf("sdp: telephone-event PT %d is not dynamic (96-127)", l.EventPT)
	}
	if len(l.SRTPKey) != 0 && len(l.SRTPKey) != KeyLen {
		return fmt.Errorf("sdp: SRTP key of %d bytes, want %d", len(l.SRTPKey), KeyLen)
	}
	if l.SRTPSuite != "" && !SupportedSuite(l.SRTPSuite) {
		return fmt.Errorf("sdp: SRTP suite %q not supported", l.SRTPSuite)
	}
	return nil
}

func addrType(a netip.Addr) string {
	if a.Is4() || a.Is4In6() {
		return "IP4"
	}
	return "IP6"
}

// writeHead writes the session section after o=.
func writeHead(b *strings.Builder, l Local) {
	a := l.Addr.Unmap()
	fmt.Fprintf(b, "s=sentral\r\nc=IN %s %s\r\nt=0 0\r\n", addrType(a), a)
}

// writeRejected writes a refused stream: port 0 and the offered formats
// (RFC 3264 §6: at least one format must be listed).
func writeRejected(b *strings.Builder, m *Media) {
	f := m.Formats
	if len(f) == 0 {
		f = []string{"0"}
	}
	fmt.Fprintf(b, "m=%s 0 %s %s\r\n", m.Type, m.Proto, strings.Join(f, " "))
}

func writeRtpmap(b *strings.Builder, c Codec) {
	if c.Channels > 1 {
		fmt.Fprintf(b, "a=rtpmap:%d %s/%d/%d\r\n", c.PT, c.Name, c.ClockRate, c.Channels)
		return
	}
	fmt.Fprintf(b, "a=rtpmap:%d %s/%d\r\n", c.PT, c.Name, c.ClockRate)
}

// seal prefixes v= and o= to a body, bumping the version if the body
// differs from the last one this Session produced.
func (s *Session) seal(l Local, rest string) []byte {
	switch {
	case !s.used:
		s.used = true
	case rest != s.last:
		s.Version++
	}
	s.last = rest
	user := s.Username
	if user == "" {
		user = "-"
	}
	a := l.Addr.Unmap()
	return fmt.Appendf(nil, "v=0\r\no=%s %d %d IN %s %s\r\n%s", user, s.ID, s.Version, addrType(a), a, rest)
}

// intersectEvents returns the telephone-event ranges (RFC 4733 §2.4.1)
// present in both offered and ours, as an fmtp value, or "" if none. An
// offer without fmtp means 0-15.
func intersectEvents(offered, ours string) string {
	if strings.TrimSpace(offered) == "" {
		offered = "0-15"
	}
	a, ok1 := parseEvents(offered)
	b, ok2 := parseEvents(ours)
	if !ok1 || !ok2 {
		return ""
	}
	var both [256]bool
	for i := range both {
		both[i] = a[i] && b[i]
	}
	return formatEvents(both)
}

// parseEvents reads "0-15,66,70" into a set.
func parseEvents(s string) ([256]bool, bool) {
	var set [256]bool
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		if !isRange {
			hi = lo
		}
		l, err1 := strconv.ParseUint(strings.TrimSpace(lo), 10, 8)
		h, err2 := strconv.ParseUint(strings.TrimSpace(hi), 10, 8)
		if err1 != nil || err2 != nil || l > h {
			return set, false
		}
		for e := l; e <= h; e++ {
			set[e] = true
		}
	}
	return set, true
}

func formatEvents(set [256]bool) string {
	var parts []string
	for i := 0; i < len(set); {
		if !set[i] {
			i++
			continue
		}
		j := i
		for j+1 < len(set) && set[j+1] {
			j++
		}
		if i == j {
			parts = append(parts, strconv.Itoa(i))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", i, j))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}
