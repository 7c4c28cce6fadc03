package webrtc

// SDES-keyed SRTP (RFC 4568, RFC 3711) on the phone side.
//
// The browser side is always DTLS-SRTP (pion's business); the phone side
// is plain RTP unless the phone asks for SRTP with a=crypto keys, which
// the leg's RTP endpoint then applies (media/rtp's SRTP layer). The rules
// are the media server's (media/mediaserver/srtp.go):
//
//   - Every leg holds a fresh random master key of its own. A phone offer
//     whose audio is RTP/SAVP, or RTP/AVP carrying a=crypto ("best
//     effort"), is answered with the same profile, the offer's tag and
//     suite (AES_CM_128_HMAC_SHA1_80 preferred, _32 accepted: see
//     sdp.Session.Answer) and our key. RTP/SAVP without an a=crypto we
//     support is refused with an error wrapping ErrNoUsableCrypto, which
//     wraps sdp.ErrNotAcceptable (488).
//   - Offers we make to the phone are plain RTP/AVP, unless SRTP is on
//     (re-offers repeat our suite and key in the profile in use, with tag
//     1) or Config.OfferSDES is set (RTP/AVP with one a=crypto, tag 1,
//     AES_CM_128_HMAC_SHA1_80: the phone may answer with or without it).
//     An answer in RTP/SAVP to an RTP/AVP offer is refused, and an
//     answer's a=crypto is ignored unless we offered one.
//   - A re-offer may rekey: a new phone key replaces the receiving
//     context only; a changed suite, or SRTP turned on again after it was
//     off, gets a fresh key of ours too, so that one master key never
//     drives two send contexts. A re-offer may turn SRTP off (plain
//     RTP/AVP).

import (
	"fmt"
	"strings"

	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/media/rtp"
	"github.com/sentralpbx/sentral/media/sdp"
)

// ErrNoUsableCrypto marks a phone's RTP/SAVP offer without an a=crypto
// the gateway supports; it wraps sdp.ErrNotAcceptable, so the proxy
// answers 488.
var ErrNoUsableCrypto = fmt.Errorf("webrtc: RTP/SAVP without a usable a=crypto: %w", sdp.ErrNotAcceptable)

const (
	protoAVP  = "RTP/AVP"
	protoSAVP = "RTP/SAVP"
)

// checkCrypto refuses a phone stream in RTP/SAVP that has no a=crypto we
// could answer (the parser keeps only the supported ones in m.Crypto).
func checkCrypto(m *sdp.Media) error {
	if m.Proto != protoSAVP || len(m.Crypto) > 0 {
		return nil
	}
	if len(m.CryptoSkipped) > 0 {
		return fmt.Errorf("%w (%s)", ErrNoUsableCrypto, strings.Join(m.CryptoSkipped, "; "))
	}
	return fmt.Errorf("%w (none given)", ErrNoUsableCrypto)
}

// answerKey sets local.SRTPKey for answering phone offer po with codecs
// names: our current key when the answer keeps the suite in use, our
// unused key when SRTP starts, a fresh one when a used key would
// otherwise drive a new send context.
func (l *Leg) answerKey(local *sdp.Local, po *sdp.Offer, names []string) error {
	_, pre, err := sdp.NewSession().Answer(po, *local, names)
	if err != nil || pre.SRTP == nil {
		return nil // the real answer says so, or SRTP is off
	}
	switch {
	case l.srtp != nil && l.srtp.Suite() == pre.SRTP.Suite():
		local.SRTPKey = l.srtp.Local.Key
	case l.keyUsed:
		key, err := sdp.NewKey()
		if err != nil {
			return err
		}
		local.SRTPKey = key
	}
	return nil
}

// offerKey sets local's SRTP fields for an offer to the phone and returns
// the profile to offer in: the keying and profile in use when SRTP is on,
// best-effort RTP/AVP with a=crypto when Config.OfferSDES asks for it,
// plain RTP/AVP otherwise.
func (l *Leg) offerKey(local *sdp.Local) (string, error) {
	local.SRTPSuite = ""
	switch {
	case l.srtp != nil:
		local.SRTPKey, local.SRTPSuite = l.srtp.Local.Key, l.srtp.Suite()
		return l.srtpProto, nil
	case l.g.cfg.OfferSDES:
		if l.keyUsed {
			key, err := sdp.NewKey()
			if err != nil {
				return "", err
			}
			local.SRTPKey = key
		}
		local.SRTPSuite = sdp.SuiteAES80
	}
	return protoAVP, nil
}

// withProto rewrites the transport of every enabled audio m-line of body
// to proto (media/sdp writes RTP/SAVP for an offer with a=crypto; a
// best-effort offer says RTP/AVP).
func withProto(body []byte, proto string) []byte {
	var b strings.Builder
	b.Grow(len(body))
	for _, l := range splitLines(body) {
		if m, ok := strings.CutPrefix(l.text, "m="); ok && enabledAudio(m) {
			if f := strings.Fields(m); len(f) >= 3 && f[2] != proto {
				f[2] = proto
				b.WriteString("m=" + strings.Join(f, " ") + l.raw[len(l.text):])
				continue
			}
		}
		b.WriteString(l.raw)
	}
	return []byte(b.String())
}

// acceptPhone reads the phone's answer to our outstanding offer, which
// offered l.offerCrypto (nil: plain) in l.offerProto.
func (l *Leg) acceptPhone(pa *sdp.Offer, names []string) (sdp.Choice, error) {
	c := l.offerCrypto
	switch {
	case c == nil:
		return sdp.Accept(pa, names)
	case l.offerProto == protoSAVP:
		return sdp.AcceptSecure(pa, names, *c)
	}
	ch, err := sdp.Accept(pa, names)
	if err != nil {
		return ch, err
	}
	m := &pa.Media[ch.Index]
	for _, a := range m.Crypto {
		if a.Tag == c.Tag && a.Suite == c.Suite {
			ch.SRTP = &sdp.SRTP{Local: *c, Remote: a}
			return ch, nil
		}
	}
	if len(m.Crypto) > 0 || len(m.CryptoSkipped) > 0 {
		// The phone means to encrypt, but not with anything we offered.
		return sdp.Choice{}, fmt.Errorf("%w: answer has no a=crypto for our tag %d %s", sdp.ErrNotAcceptable, c.Tag, c.Suite)
	}
	return ch, nil // best effort declined: plain RTP
}

// protection returns the endpoint protection for keying k (nil: plain
// RTP), built from the current one so that an unchanged direction keeps
// its context.
func (l *Leg) protection(k *sdp.SRTP) (*rtp.SRTP, error) {
	switch {
	case k == nil:
		return nil, nil
	case k.Equal(l.srtp):
		return l.ep.SRTP(), nil
	}
	p, err := l.ep.SRTP().Rekey(k.Suite(), k.Local.Key, k.Remote.Key)
	if err != nil {
		return nil, fmt.Errorf("srtp: %w", err)
	}
	return p, nil
}

// keyPhone applies a completed exchange's keying, in profile proto, to the
// endpoint; p is protection(k).
func (l *Leg) keyPhone(k *sdp.SRTP, p *rtp.SRTP, proto string) {
	if k != nil {
		l.srtpProto = proto
	}
	if k.Equal(l.srtp) {
		return
	}
	l.ep.SetSRTP(p)
	switch {
	case k == nil:
		l.log.Info("webrtc: phone srtp off: plain RTP")
	case l.srtp != nil:
		l.log.Info("webrtc: phone srtp rekeyed", zap.String("srtp", k.Suite()))
	}
	if k != nil {
		l.local.SRTPKey, l.keyUsed = k.Local.Key, true
	}
	l.srtp = k
}

// SRTP returns the SDES-SRTP suite protecting the phone side, "" for
// plain RTP.
func (l *Leg) SRTP() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.srtp == nil {
		return ""
	}
	return l.srtp.Suite()
}
