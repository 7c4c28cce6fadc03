package mediaserver

// SRTP with SDES keys (RFC 4568, RFC 3711) for the calls we answer.
//
// Every answered call gets a fresh random master key before its offer is
// answered (sdp.Local.SRTPKey). An offer whose audio is RTP/SAVP, or
// RTP/AVP carrying a=crypto, is answered with the same profile, the
// offer's tag and suite (AES_CM_128_HMAC_SHA1_80 preferred, _32 accepted)
// and our key; the call's endpoint then encrypts what it sends with our
// key and authenticates and decrypts what it receives with the phone's,
// RTP and RTCP. RTP/SAVP with no crypto we support is refused with 488.
// Plain RTP/AVP offers are answered as before.
//
// A re-INVITE may rekey: a new phone key replaces the receiving context
// only; a changed suite, or SRTP turned on again, gets a fresh key of
// ours too, so that one master key never drives two contexts (whose
// rollover counters would disagree). A re-INVITE may also turn SRTP off,
// as the phone may choose plain RTP in any offer. Our own offers in
// offerless re-INVITEs repeat our current suite and key as RTP/SAVP.
//
// Bridges need nothing of their own: each leg's endpoint protects its own
// side, so an SRTP caller bridged to a plain-RTP leg hears and is heard.
// Calls we place (Dial) offer plain RTP/AVP: see Dial.

import (
	"fmt"

	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/media/rtp"
	"github.com/sentralpbx/sentral/media/sdp"
)

// SRTP returns the SRTP suite protecting the call's media, "" for plain
// RTP.
func (s *Session) SRTP() string {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.srtp == nil {
		return ""
	}
	return c.srtp.Suite()
}

// MediaStats returns the counters of the call's RTP endpoint.
func (s *Session) MediaStats() rtp.Stats { return s.c.ep.Stats() }

// newSRTP builds the endpoint protection for a negotiated keying.
func newSRTP(cur *rtp.SRTP, k *sdp.SRTP) (*rtp.SRTP, error) {
	return cur.Rekey(k.Suite(), k.Local.Key, k.Remote.Key)
}

// keyLocked applies the keying of a negotiated stream to the endpoint
// when it changed.
func (c *call) keyLocked(ch sdp.Choice) error {
	if ch.SRTP.Equal(c.srtp) {
		return nil
	}
	if ch.SRTP == nil {
		c.log.Info("srtp off: the peer chose plain RTP")
		c.ep.SetSRTP(nil)
		c.srtp, c.local.SRTPSuite = nil, ""
		return nil
	}
	next, err := newSRTP(c.ep.SRTP(), ch.SRTP)
	if err != nil {
		return fmt.Errorf("srtp: %w", err)
	}
	c.ep.SetSRTP(next)
	if c.srtp != nil {
		c.log.Info("srtp rekeyed", zap.String("srtp", ch.SRTP.Suite()))
	}
	c.srtp, c.local.SRTPSuite = ch.SRTP, ch.SRTP.Suite()
	return nil
}

// freshKeyLocked decides, before a re-INVITE's offer is answered, whether
// our key must change for it: when the answer would turn SRTP on or change
// the suite (see the package comment at the top of this file).
func (c *call) freshKeyLocked(offer *sdp.Offer, codecs []string) error {
	if len(c.local.SRTPKey) == 0 {
		return nil // SRTP is not offered to this call (a dialled one)
	}
	_, pre, err := sdp.NewSession().Answer(offer, c.local, codecs)
	if err != nil || pre.SRTP == nil {
		return nil // the real answer will say so
	}
	if c.srtp != nil && c.srtp.Suite() == pre.SRTP.Suite() {
		return nil
	}
	key, err := sdp.NewKey()
	if err != nil {
		return err
	}
	c.local.SRTPKey = key
	return nil
}
